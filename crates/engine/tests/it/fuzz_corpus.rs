//! Replays the corpus of the `results` fuzz target (`fuzz/corpus/results`): owner-routing
//! uploads in every format read without panicking, errors numbered in order.

use std::path::PathBuf;

use engine::notice::upload::{CsvFindings, JsonFindings, stix_findings};

fn increasing(path: &std::path::Path, lines: impl Iterator<Item = u64>) {
    let mut last = 0;
    for l in lines {
        assert!(l >= last, "{}: line {l} after {last}", path.display());
        last = l;
    }
}

#[test]
fn results_corpus_reads_in_every_format() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/results");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() > 100, "the results corpus is missing");
    for path in files {
        let data = std::fs::read(&path).unwrap();
        increasing(
            &path,
            CsvFindings::new(&data[..])
                .take(10_000)
                .filter_map(|r| r.err().map(|e| e.line)),
        );
        increasing(
            &path,
            JsonFindings::new(&data[..])
                .take(10_000)
                .filter_map(|r| r.err().map(|e| e.line)),
        );
        let _ = stix_findings(&mut &data[..], 10_000);
    }
}
