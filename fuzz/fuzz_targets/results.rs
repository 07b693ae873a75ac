//! Owner-routing result uploads (CSV, JSON lines, STIX) from arbitrary bytes: no panic, and
//! line numbers of errors only ever increase.
#![no_main]

use engine::notice::upload::{CsvFindings, JsonFindings, stix_findings};
use libfuzzer_sys::fuzz_target;

fn increasing(lines: impl Iterator<Item = u64>) {
    let mut last = 0;
    for l in lines {
        assert!(l >= last, "line {l} after {last}");
        last = l;
    }
}

fuzz_target!(|data: &[u8]| {
    increasing(
        CsvFindings::new(data)
            .take(10_000)
            .filter_map(|r| r.err().map(|e| e.line)),
    );
    increasing(
        JsonFindings::new(data)
            .take(10_000)
            .filter_map(|r| r.err().map(|e| e.line)),
    );
    let _ = stix_findings(&mut &data[..], 10_000);
});
