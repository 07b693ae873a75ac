//! The web form's pasted lists and CSV files from arbitrary text: no panic; every line read
//! carries a number within the text; every accepted value's pattern parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_core::register::{Choices, read_lines};
use relay_core::tlp::Tlp;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let choices = Choices {
        tlp: Tlp::Green,
        severity: None,
        confidence: None,
        valid_until: None,
        description: None,
    };
    let now = stix::Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    if let Ok(lines) = read_lines(text, &choices, now) {
        let count = text.lines().count();
        for l in lines {
            assert!(l.number >= 1 && l.number <= count, "line {} of {count}", l.number);
            if let Ok(d) = l.result {
                stix::pattern::parse(&d.pattern)
                    .unwrap_or_else(|e| panic!("{}: {e}", d.pattern));
            }
        }
    }
});
