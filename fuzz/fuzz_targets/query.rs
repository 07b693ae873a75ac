//! TAXII filters from an arbitrary query string, for every endpoint: no panic, and an accepted
//! query never asks for more than the largest page.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_core::query::{Endpoint, PageLimits, parse_filters};

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    let limits = PageLimits {
        default: 100,
        max: 1000,
    };
    for endpoint in [
        Endpoint::Objects,
        Endpoint::Manifest,
        Endpoint::Object,
        Endpoint::Versions,
        Endpoint::Delete,
    ] {
        if let Ok(q) = parse_filters(&pairs, endpoint, limits) {
            assert!(q.limit <= limits.max && q.limit >= 1, "limit {}", q.limit);
        }
    }
});
