//! Replays the fuzzers' corpora (`fuzz/corpus/`, grown by `cargo fuzz run` and minimised with
//! `cargo fuzz cmin`) as ordinary tests, so CI checks every input the fuzzers found
//! interesting with the same properties the fuzz targets assert.

use std::path::PathBuf;

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
fn pattern_corpus_parses_or_fails_cleanly_and_round_trips() {
    let inputs = corpus("pattern");
    assert!(inputs.len() > 100, "the pattern corpus is missing");
    for (path, data) in inputs {
        let Ok(src) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Ok(tree) = stix::pattern::parse(src) {
            let printed = tree.to_string();
            let again = stix::pattern::parse(&printed)
                .unwrap_or_else(|e| panic!("{}: reprint {printed} fails: {e}", path.display()));
            assert_eq!(
                again.without_spans(),
                tree.without_spans(),
                "{}",
                path.display()
            );
        }
    }
}

#[test]
fn object_corpus_never_panics() {
    let inputs = corpus("object");
    assert!(inputs.len() > 100, "the object corpus is missing");
    for (_, data) in inputs {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&data) {
            for (_, obj) in stix::object::document_objects(&v) {
                let _ = stix::check_object(obj);
                let _ = stix::observable::extract(obj);
            }
        }
    }
}
