//! Bounds on one request: objects per envelope (413), string and pattern lengths (the object
//! refused in the status, the rest stored), query parameters and query length (400), JSON
//! nested too deep (400). Each answer is a TAXII error, changes nothing it should not, and
//! the server goes on serving.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::*;

fn small() -> relay_core::RelayConfig {
    relay_core::RelayConfig {
        bounds: relay_core::bounds::Bounds {
            max_objects: 10,
            max_string_bytes: 1024,
            max_pattern_bytes: 256,
            max_pattern_terms: 12,
        },
        ..relay_core::RelayConfig::default()
    }
}

async fn count(app: &TestApp) -> usize {
    app.get_json(&format!("collections/{}/manifest/", app.test_feed))
        .await["objects"]
        .as_array()
        .map_or(0, Vec::len)
}

#[tokio::test]
async fn requests_out_of_bounds_are_refused_and_change_nothing() {
    let app = spawn_app_configured(small(), server::ServerConfig::default()).await;
    let objects: Vec<Value> = (0..11)
        .map(|_| indicator(&new_id("indicator"), "2026-01-01T00:00:00.000Z"))
        .collect();
    let r = app.post_envelope(&objects).await;
    let e = assert_taxii_error(r, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(
        e["description"].as_str().unwrap().contains("at most 10"),
        "{e}"
    );
    assert_eq!(count(&app).await, 0);

    // A long string or pattern refuses its object, by path; the others are stored.
    let mut long_name = indicator(&new_id("indicator"), "2026-01-01T00:00:00.000Z");
    long_name["description"] = json!("x".repeat(2000));
    let mut long_pattern = indicator(&new_id("indicator"), "2026-01-01T00:00:00.000Z");
    let ors: Vec<String> = (0..40)
        .map(|i| format!("ipv4-addr:value = '10.0.0.{i}'"))
        .collect();
    long_pattern["pattern"] = json!(format!("[{}]", ors.join(" OR ")));
    // Short, but with more terms than the bound: 20 addresses in one set.
    let mut wide_pattern = indicator(&new_id("indicator"), "2026-01-01T00:00:00.000Z");
    let set: Vec<String> = (0..20).map(|i| format!("'10.0.1.{i}'")).collect();
    wide_pattern["pattern"] = json!(format!("[ipv4-addr:value IN ({})]", set.join(",")));
    assert!(wide_pattern["pattern"].as_str().unwrap().len() < 256);
    let fine = indicator(&new_id("indicator"), "2026-01-01T00:00:00.000Z");
    let status = app
        .post_ok(&[long_name, long_pattern, wide_pattern, fine])
        .await;
    assert_eq!(status["success_count"], 1, "{status}");
    let reasons: Vec<&str> = status["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|m| m.contains("]: description: a string of 2000 bytes")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|m| m.contains("]: pattern: ") && m.contains(" bytes")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|m| m.contains("]: pattern: 21 terms") && m.contains("than the 12")),
        "{reasons:?}"
    );
    assert_eq!(count(&app).await, 1);

    // Query strings: too many parameters, or too long.
    let many: Vec<String> = (0..65).map(|i| format!("match[id]=x{i}")).collect();
    let r = app
        .req(
            Method::GET,
            &format!("collections/{}/objects/?{}", app.test_feed, many.join("&")),
        )
        .send()
        .await
        .unwrap();
    assert_taxii_error(r, StatusCode::BAD_REQUEST).await;
    let r = app
        .req(
            Method::GET,
            &format!(
                "collections/{}/objects/?match[type]={}",
                app.test_feed,
                "a".repeat(9000)
            ),
        )
        .send()
        .await
        .unwrap();
    assert_taxii_error(r, StatusCode::BAD_REQUEST).await;

    // JSON nested deeper than the parser follows.
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let r = app
        .req(
            Method::POST,
            &format!("collections/{}/objects/", app.test_feed),
        )
        .header("Content-Type", TAXII)
        .body(format!("{{\"objects\": {deep}}}"))
        .send()
        .await
        .unwrap();
    assert_taxii_error(r, StatusCode::BAD_REQUEST).await;

    // Still serving, nothing more stored.
    assert_eq!(count(&app).await, 1);
}
