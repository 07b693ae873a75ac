//! Several relay nodes on one PostgreSQL database, as a hub runs them behind a load balancer:
//! two `isac-relay serve --store postgres://…` processes. An object posted through one is
//! served by the other at once and reaches the other's live streams; with writers on both,
//! a reader paging by `added_after` on one sees every acknowledged object exactly once, in
//! strictly increasing `date_added`; a webhook is delivered by one node, not by each.
//!
//! Needs `DATABASE_URL` (a server where the user may create databases; `scripts/test-all.sh`
//! starts one); `ISAC_RELAY_NO_POSTGRES=1` skips it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli::{Server, client, start};
use crate::helpers::{TAXII, indicator, new_id};

const TOKEN: &str = "isr_multinode-token-0123456789abcdef";

/// A fresh database on the test server, dropped when this goes.
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    async fn create() -> Option<Database> {
        let admin = match std::env::var("DATABASE_URL") {
            Ok(u) => u,
            Err(_) if std::env::var("ISAC_RELAY_NO_POSTGRES").is_ok_and(|v| v == "1") => {
                return None;
            }
            Err(_) => panic!(
                "DATABASE_URL is not set: the multi-node test needs a PostgreSQL server \
                 (bash scripts/test-all.sh starts a throwaway one), or ISAC_RELAY_NO_POSTGRES=1 to skip it"
            ),
        };
        let name = format!("relay_nodes_{}", uuid::Uuid::new_v4().simple());
        let (c, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let base = admin.rsplit_once('/').unwrap().0;
        Some(Database {
            url: format!("{base}/{name}"),
            admin,
            name,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Best effort, on a thread of its own: the nodes are gone by now.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((c, conn)) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

fn node(db: &Database, dir: &std::path::Path) -> Server {
    start(dir, Some(TOKEN), &["--store", &db.url], &[])
}

fn objects_url(base: &str) -> String {
    format!("{base}/taxii2/isac/collections/TEST/objects/")
}

/// Posts indicators through a node; their ids once acknowledged.
async fn post(base: &str, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|_| new_id("indicator")).collect();
    let objs: Vec<Value> = ids
        .iter()
        .map(|id| indicator(id, "2026-01-01T00:00:00.000Z"))
        .collect();
    let r = client()
        .post(objects_url(base))
        .bearer_auth(TOKEN)
        .header("Content-Type", TAXII)
        .header("Accept", TAXII)
        .body(json!({ "objects": objs }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let status: Value = r.json().await.unwrap();
    assert_eq!(status["success_count"], n, "{status}");
    ids
}

/// One page of objects after `after`; the ids and the page's `date_added` bounds.
async fn page(base: &str, after: Option<&str>) -> (Vec<String>, Option<String>, Option<String>) {
    let mut req = client()
        .get(objects_url(base))
        .bearer_auth(TOKEN)
        .header("Accept", TAXII)
        .query(&[("limit", "7")]);
    if let Some(a) = after {
        req = req.query(&[("added_after", a)]);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
    let (first, last) = (h("x-taxii-date-added-first"), h("x-taxii-date-added-last"));
    let body: Value = r.json().await.unwrap();
    let ids = body["objects"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| o["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (ids, first, last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_one_database_serve_stream_page_and_deliver_once() {
    let Some(db) = Database::create().await else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(&db, dir_a.path());

    // A webhook exists before node B starts: both nodes know it, one delivers it.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let hook_url = {
        let seen = seen.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: String| {
                let seen = seen.clone();
                async move {
                    let v: Value = serde_json::from_str(&body).unwrap();
                    let mut s = seen.lock().unwrap();
                    for o in v["objects"].as_array().into_iter().flatten() {
                        s.push(o["id"].as_str().unwrap().to_owned());
                    }
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    };
    let r = client()
        .post(format!("{}/api/v1/webhooks", a.base))
        .bearer_auth(TOKEN)
        .json(&json!({"feed": "TEST", "url": hook_url}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);

    let b = node(&db, dir_b.path());

    // Posted through A, served by B at once.
    let first = post(&a.base, 3).await;
    let (ids, _, _) = page(&b.base, None).await;
    assert_eq!(ids, first);

    // B's live stream delivers what is posted through A.
    let stream = client()
        .get(format!("{}/api/v1/feeds/TEST/events", b.base))
        .bearer_auth(TOKEN)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let mut body = stream.bytes_stream();
    let live = post(&a.base, 1).await.remove(0);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !text.contains(&live) {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("B's stream did not deliver A's post: {other:?}; read {text:?}"),
        }
    }

    // Writers on both nodes while a reader pages on B.
    let writers: Vec<_> = [&a, &b, &a, &b]
        .into_iter()
        .map(|s| {
            let base = s.base.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for _ in 0..15 {
                    acked.extend(post(&base, 5).await);
                }
                acked
            })
        })
        .collect();
    let mut order: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut writing = true;
    loop {
        let (ids, first, last) = page(&b.base, cursor.as_deref()).await;
        if let (Some(f), Some(c)) = (&first, &cursor) {
            assert!(f > c, "a page starts at {f}, not after the cursor {c}");
        }
        if ids.is_empty() {
            if !writing {
                break;
            }
            writing = !writers.iter().all(|w| w.is_finished());
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        order.extend(ids);
        cursor = last;
    }
    let mut acked: Vec<String> = first.clone();
    acked.push(live.clone());
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &order {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "paged twice: {repeated:?}");
    let missing: Vec<_> = acked
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged objects skipped",
        missing.len()
    );
    assert_eq!(order.len(), acked.len());

    // The webhook got every object once, from one of the nodes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = seen.lock().unwrap().clone();
        if got.len() >= acked.len() || tokio::time::Instant::now() > deadline {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for id in &got {
                *counts.entry(id.as_str()).or_default() += 1;
            }
            assert!(
                counts.values().all(|n| *n == 1),
                "a webhook delivery was made by both nodes"
            );
            assert_eq!(counts.len(), acked.len(), "the webhook missed objects");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_copies_a_relay_from_sqlite_to_postgresql() {
    let Some(db) = Database::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let mut v: Vec<&str> = args.to_vec();
        v.extend(["--data", d]);
        crate::cli::ok(&v)
    };
    // The first start creates the administrator with TOKEN; then members are added offline.
    let posted = {
        let s = start(dir.path(), Some(TOKEN), &[], &[]);
        let ids = post(&s.base, 20).await;
        let mut more = post(&s.base, 20).await;
        more.extend(ids);
        more
    };
    run(&[
        "org",
        "add",
        "TelcoA",
        "--sector",
        "telecom",
        "--country",
        "JP",
    ]);
    run(&["user", "add", "TelcoA", "alice", "--role", "analyst"]);
    run(&["feed", "grant", "TEST", "--org", "TelcoA", "--read"]);
    let alice = run(&["token", "create", "alice", "--name", "t"])
        .lines()
        .last()
        .unwrap()
        .to_owned();

    // Into an empty database: every table reported, checked.
    let out = crate::cli::ok(&["migrate", "--from", d, "--to", &db.url]);
    assert!(out.contains("each checked by count and checksum"), "{out}");
    let objects_line = out
        .lines()
        .find(|l| l.starts_with("objects "))
        .unwrap_or_else(|| panic!("no objects table in {out}"));
    assert!(objects_line.contains(" 40 rows"), "{objects_line}");
    // A second copy into the same database is refused, naming why.
    let again = crate::cli::run_cli(&["migrate", "--from", d, "--to", &db.url]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds relay data"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // Served from PostgreSQL: the same tokens, members, rights and objects.
    let empty = tempfile::tempdir().unwrap();
    let pg = node(&db, empty.path());
    let r = client()
        .get(objects_url(&pg.base))
        .bearer_auth(&alice)
        .header("Accept", TAXII)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let mut got: Vec<&str> = body["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = posted.iter().map(String::as_str).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    // New ids continue after the copied ones: a new organisation is created without clash.
    let r = client()
        .post(format!("{}/api/v1/orgs", pg.base))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "BankZ", "sector": "finance", "country": "SG"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
}
