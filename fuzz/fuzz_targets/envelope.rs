//! A posted envelope, read and checked as the relay does (routing by title included): no
//! panic, and each object is either stored in one feed or refused by its index, never both
//! nor neither.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bounds = relay_core::bounds::Bounds {
        max_objects: 64,
        max_string_bytes: 4096,
        max_pattern_bytes: 1024,
        max_pattern_terms: 32,
    };
    if let Ok(c) = relay_core::service::check_envelope(data, Default::default(), bounds) {
        let stored: usize = c.stored.values().sum();
        assert_eq!(stored + c.refused.len(), c.total);
        assert!(c.total <= bounds.max_objects);
        for (n, m) in c.refused.iter().enumerate() {
            assert!(m.starts_with("objects["), "refusal {n} names no index: {m}");
        }
    }
});
