//! The object validator and the observable extraction on arbitrary JSON: they must never
//! panic, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        for (_, obj) in stix::object::document_objects(&v) {
            let _ = stix::check_object(obj);
            let _ = stix::observable::extract(obj);
        }
    }
});
