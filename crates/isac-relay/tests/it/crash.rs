//! Durability: posts in a loop, `kill -9` mid-stream, restart on the same data directory;
//! every object whose POST was acknowledged must be there.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::{client, get_json, start};
use crate::helpers::{TAXII, indicator, new_id};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let token = "isr_crash-test-token-0123456789";
    for round in 0..3 {
        let mut server = start(dir.path(), Some(token), &[], &[]);
        let url = format!("{}/taxii2/isac/collections/TEST/objects/", server.base);
        // Four posters; each records the ids of envelopes the server acknowledged.
        let posters: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move {
                    let http = client();
                    let mut acked = Vec::new();
                    loop {
                        let ids: Vec<String> = (0..50).map(|_| new_id("indicator")).collect();
                        let objs: Vec<Value> = ids
                            .iter()
                            .map(|id| indicator(id, "2024-01-01T00:00:00.000Z"))
                            .collect();
                        let sent = http
                            .post(&url)
                            .bearer_auth(token)
                            .header("Accept", TAXII)
                            .header("Content-Type", TAXII)
                            .body(json!({ "objects": objs }).to_string())
                            .send()
                            .await;
                        match sent {
                            Ok(r) if r.status() == 202 => match r.json::<Value>().await {
                                Ok(status) if status["success_count"] == 50 => acked.extend(ids),
                                _ => break,
                            },
                            _ => break,
                        }
                    }
                    acked
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(400 + 150 * round)).await;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        let mut acknowledged = HashSet::new();
        for p in posters {
            acknowledged.extend(p.await.unwrap());
        }
        assert!(
            !acknowledged.is_empty(),
            "some posts were acknowledged before the kill"
        );

        let server = start(dir.path(), None, &[], &[]);
        let mut present = HashSet::new();
        let mut next: Option<String> = None;
        loop {
            let mut u = format!(
                "{}/taxii2/isac/collections/TEST/manifest/?limit=10000",
                server.base
            );
            if let Some(n) = &next {
                u.push_str(&format!("&next={n}"));
            }
            let m: Value = get_json(&u, token).await;
            for r in m["objects"].as_array().into_iter().flatten() {
                present.insert(r["id"].as_str().unwrap().to_owned());
            }
            match m["next"].as_str() {
                Some(n) => next = Some(n.to_owned()),
                None => break,
            }
        }
        let lost: Vec<_> = acknowledged.difference(&present).collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} acknowledged objects lost",
            lost.len()
        );
    }
}
