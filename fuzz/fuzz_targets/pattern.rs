//! The STIX pattern parser on arbitrary text: it must never panic, and whatever it accepts
//! must print to text that parses back to the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(src) = std::str::from_utf8(data) {
        if let Ok(tree) = stix::pattern::parse(src) {
            let printed = tree.to_string();
            let again = stix::pattern::parse(&printed).expect("a printed pattern parses");
            assert_eq!(again.without_spans(), tree.without_spans(), "{printed}");
        }
    }
});
