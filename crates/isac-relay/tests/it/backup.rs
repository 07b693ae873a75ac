//! Online backup and restore through the binary: a backup taken while a writer is posting holds
//! exactly the objects of the transactions committed before it, restores into a new data
//! directory that serves them, and a damaged backup or an occupied data directory is refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::cli::{BIN, client, fails, ok, start};
use crate::helpers::{TAXII, indicator, new_id};

const TOKEN: &str = "isr_backup-test-token-0123456789abcdef";
const ENVELOPE: usize = 50;

async fn post_envelope(base: &str) -> bool {
    let objects: Vec<Value> = (0..ENVELOPE)
        .map(|_| indicator(&new_id("indicator"), "2026-01-01T00:00:00.000Z"))
        .collect();
    let r = client()
        .post(format!("{base}/taxii2/isac/collections/C2/objects/"))
        .bearer_auth(TOKEN)
        .header("Accept", TAXII)
        .header("Content-Type", TAXII)
        .body(json!({ "objects": objects }).to_string())
        .send()
        .await
        .unwrap();
    r.status().is_success()
}

async fn count_objects(base: &str) -> usize {
    let mut n = 0;
    let mut next: Option<String> = None;
    loop {
        let mut url = format!("{base}/taxii2/isac/collections/C2/manifest/?limit=1000");
        if let Some(t) = &next {
            url.push_str(&format!("&next={t}"));
        }
        let v: Value = client()
            .get(url)
            .bearer_auth(TOKEN)
            .header("Accept", TAXII)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        n += v["objects"].as_array().map_or(0, Vec::len);
        match v["next"].as_str() {
            Some(t) if v["more"] == true => next = Some(t.to_owned()),
            _ => return n,
        }
    }
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_what_was_committed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data, Some(TOKEN), &[], &[]);
    for _ in 0..5 {
        assert!(post_envelope(&server.base).await);
    }
    // A writer keeps posting while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let posted = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, posted, base) = (stop.clone(), posted.clone(), server.base.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if post_envelope(&base).await {
                    posted.fetch_add(ENVELOPE, Ordering::Relaxed);
                }
            }
        })
    };
    let dest = dir.path().join("backup");
    let args = [
        "backup".to_owned(),
        dest.display().to_string(),
        "--data".to_owned(),
        data.display().to_string(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("sha256"));
    let during = posted.load(Ordering::Relaxed);

    // Restored into a new directory, it serves a whole number of envelopes: every object of
    // each transaction committed before the snapshot, nothing of the later ones.
    let restored_dir = dir.path().join("restored");
    let said = ok(&[
        "restore",
        dest.to_str().unwrap(),
        "--data",
        restored_dir.to_str().unwrap(),
    ]);
    assert!(said.contains("restored"), "{said}");
    let restored = start(&restored_dir, None, &[], &[]);
    let n = count_objects(&restored.base).await;
    assert_eq!(n % ENVELOPE, 0, "{n} objects: a transaction was cut");
    assert!(
        (5 * ENVELOPE..=5 * ENVELOPE + during).contains(&n),
        "{n} objects, {during} posted during the backup"
    );
    drop(restored);

    // An occupied data directory needs --force; a damaged backup restores nothing.
    let err = fails(&[
        "restore",
        dest.to_str().unwrap(),
        "--data",
        restored_dir.to_str().unwrap(),
    ]);
    assert!(err.contains("already holds"), "{err}");
    let damaged = dir.path().join("damaged");
    std::fs::create_dir(&damaged).unwrap();
    for f in ["relay.db", "MANIFEST.json"] {
        std::fs::copy(dest.join(f), damaged.join(f)).unwrap();
    }
    let mut bytes = std::fs::read(damaged.join("relay.db")).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(damaged.join("relay.db"), bytes).unwrap();
    let elsewhere = dir.path().join("elsewhere");
    let err = fails(&[
        "restore",
        damaged.to_str().unwrap(),
        "--data",
        elsewhere.to_str().unwrap(),
    ]);
    assert!(err.contains("does not match its manifest"), "{err}");
    assert!(!elsewhere.join("relay.db").exists());
    // A backup never writes over anything.
    let err = fails(&[
        "backup",
        dest.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(err.contains("not empty"), "{err}");
}
