//! The OpenAPI document: regenerated and diffed with `docs/openapi.json` (set
//! `UPDATE_OPENAPI=1` to rewrite it), served as generated, and every operation it documents
//! answers on a live server (no "no such endpoint", no 405).

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TOKEN, spawn_app};

#[test]
fn the_committed_document_is_the_generated_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let generated = serde_json::to_string_pretty(&server::openapi_document()).unwrap() + "\n";
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is stale: run UPDATE_OPENAPI=1 cargo test -p isac-relay openapi"
    );
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let app = spawn_app().await;
    let served: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, server::openapi_document());
    let paths = served["paths"].as_object().unwrap();
    let operations: usize = paths
        .values()
        .map(|ops| ops.as_object().unwrap().len())
        .sum();
    assert!(operations >= 20, "{operations} operations documented");
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let url = path
                .replace("{name}", "ISAC")
                .replace("{org}", "ISAC")
                .replace("{group}", "no-such-group")
                .replace("{feed}", "TEST")
                .replace("{format}", "ip")
                .replace("{kind}", "org")
                .replace("{id}", "999999");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut req = app
                .client
                .request(method.clone(), app.url(&url))
                .bearer_auth(TOKEN);
            if op.get("requestBody").is_some() {
                req = req.header("Content-Type", "application/json").body("{}");
            }
            let r = req.send().await.unwrap();
            let status = r.status();
            if r.headers()
                .get("content-type")
                .is_some_and(|v| v == "text/event-stream")
            {
                // A stream stays open: that it answered 200 is the point.
                assert_eq!(status, StatusCode::OK, "{method} {url}");
                continue;
            }
            let body = r.text().await.unwrap();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {url}");
            assert!(
                !body.contains("no such TAXII endpoint"),
                "{method} {url} is not routed: {body}"
            );
            assert!(status.as_u16() < 500, "{method} {url}: {status} {body}");
        }
    }
}
