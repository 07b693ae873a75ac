//! Replays the corpus of the `config` fuzz target (`fuzz/corpus/config/`) with the target's
//! properties: whatever a configuration file holds, reading it does not panic, and a file that
//! passes the checks gives settings the checks promised.

use std::path::PathBuf;

#[test]
fn config_corpus_reads_without_panic_and_keeps_its_promises() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/config");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() > 50, "the config corpus is missing");
    let mut accepted = 0;
    for path in files {
        let Ok(text) = String::from_utf8(std::fs::read(&path).unwrap()) else {
            continue;
        };
        let Ok(config) = isac_relay::config::from_toml(&text) else {
            continue;
        };
        accepted += 1;
        let (relay, server) = (config.relay(), config.server());
        let p = path.display();
        assert!(relay.page_limits.default >= 1, "{p}");
        assert!(relay.page_limits.default <= relay.page_limits.max, "{p}");
        assert!(!server.request_timeout.is_zero(), "{p}");
        assert!(server.connections.max_connections >= 1, "{p}");
        assert_eq!(server.tls.is_some(), config.tls.cert.is_some(), "{p}");
    }
    assert!(
        accepted > 0,
        "no file of the corpus is a valid configuration"
    );
}
