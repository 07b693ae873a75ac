//! Replays the corpora of the `query` and `register` fuzz targets (`fuzz/corpus/`) with the
//! targets' properties, so CI checks every input the fuzzers found interesting.

use std::path::PathBuf;

use relay_core::query::{Endpoint, PageLimits, parse_filters};
use relay_core::register::{Choices, read_lines};
use relay_core::tlp::Tlp;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn query_corpus_stays_within_the_page_limit() {
    let inputs = corpus("query");
    assert!(inputs.len() > 100, "the query corpus is missing");
    let limits = PageLimits {
        default: 100,
        max: 1000,
    };
    for (path, data) in inputs {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(&data).into_owned().collect();
        for endpoint in [
            Endpoint::Objects,
            Endpoint::Manifest,
            Endpoint::Object,
            Endpoint::Versions,
            Endpoint::Delete,
        ] {
            if let Ok(q) = parse_filters(&pairs, endpoint, limits) {
                assert!((1..=limits.max).contains(&q.limit), "{}", path.display());
            }
        }
    }
}

#[test]
fn register_corpus_numbers_lines_and_makes_valid_patterns() {
    let inputs = corpus("register");
    assert!(inputs.len() > 100, "the register corpus is missing");
    let choices = Choices {
        tlp: Tlp::Green,
        severity: None,
        confidence: None,
        valid_until: None,
        description: None,
    };
    let now = stix::Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    for (path, data) in inputs {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        let Ok(lines) = read_lines(text, &choices, now) else {
            continue;
        };
        let count = text.lines().count();
        for l in lines {
            assert!((1..=count).contains(&l.number), "{}", path.display());
            if let Ok(d) = l.result {
                stix::pattern::parse(&d.pattern)
                    .unwrap_or_else(|e| panic!("{}: {}: {e}", path.display(), d.pattern));
            }
        }
    }
}

#[test]
fn envelope_corpus_stores_or_refuses_each_object_once() {
    let inputs = corpus("envelope");
    assert!(inputs.len() > 50, "the envelope corpus is missing");
    let bounds = relay_core::bounds::Bounds {
        max_objects: 64,
        max_string_bytes: 4096,
        max_pattern_bytes: 1024,
        max_pattern_terms: 32,
    };
    let mut checked = 0;
    for (path, data) in inputs {
        let Ok(c) = relay_core::service::check_envelope(&data, Default::default(), bounds) else {
            continue;
        };
        checked += 1;
        let stored: usize = c.stored.values().sum();
        assert_eq!(stored + c.refused.len(), c.total, "{}", path.display());
        assert!(
            c.refused.iter().all(|m| m.starts_with("objects[")),
            "{}: {:?}",
            path.display(),
            c.refused
        );
    }
    assert!(checked > 10, "only {checked} inputs were envelopes at all");
}
