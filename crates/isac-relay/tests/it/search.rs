//! The observable search API: indexed on ingest, found by normalised value, containing
//! networks included, current versions only, authenticated.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

fn with_pattern(id: &str, modified: &str, pattern: &str) -> Value {
    let mut o = indicator(id, modified);
    o["pattern"] = json!(pattern);
    o
}

async fn search(app: &TestApp, q: &str) -> Value {
    let r = app
        .client
        .get(app.url("/api/v1/search"))
        .query(&[("q", q)])
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{q}");
    assert_eq!(r.headers()["content-type"], "application/json");
    r.json().await.unwrap()
}

fn found(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["object_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn values_are_found_in_normal_form_and_networks_contain_addresses() {
    let app = spawn_app().await;
    let (ip, net, dom, hash, url) = (
        new_id("indicator"),
        new_id("indicator"),
        new_id("indicator"),
        new_id("indicator"),
        new_id("indicator"),
    );
    let sha = "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f";
    app.post_ok(&[
        with_pattern(&ip, "2024-01-01T00:00:00.000Z", "[ipv4-addr:value = '198.51.100.7']"),
        with_pattern(&net, "2024-01-01T00:00:00.000Z", "[ipv4-addr:value ISSUBSET '198.51.100.0/24']"),
        with_pattern(&dom, "2024-01-01T00:00:00.000Z", "[domain-name:value = 'C2.Evil.Example']"),
        with_pattern(&hash, "2024-01-01T00:00:00.000Z", &format!("[file:hashes.'SHA-256' = '{sha}']")),
        with_pattern(&url, "2024-01-01T00:00:00.000Z", "[url:value = 'http://evil.example/a/../gate.php']"),
        json!({"type": "ipv4-addr", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.7"}),
    ])
    .await;

    let r = search(&app, "198.51.100.7").await;
    let mut ids = found(&r);
    ids.sort();
    let mut want = vec![
        ip.clone(),
        net.clone(),
        "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd".to_owned(),
    ];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(r["query"]["kinds"], json!(["ipv4"]));
    let hit = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["object_id"] == net)
        .unwrap();
    assert_eq!(hit["value"], "198.51.100.0/24");
    assert_eq!(hit["feed"], "TEST");
    assert_eq!(hit["collection_id"], app.test_feed);
    // Another address of the network finds only the network.
    assert_eq!(
        found(&search(&app, "198.51.100.200").await),
        vec![net.clone()]
    );
    assert!(found(&search(&app, "203.0.113.1").await).is_empty());

    assert_eq!(
        found(&search(&app, "c2.evil.example.").await),
        vec![dom.clone()]
    );
    assert_eq!(
        found(&search(&app, &sha.to_uppercase()).await),
        vec![hash.clone()]
    );
    assert_eq!(
        found(&search(&app, "HTTP://EVIL.example/gate.php").await),
        vec![url.clone()]
    );
}

#[tokio::test]
async fn only_current_versions_are_found_and_deleted_objects_vanish() {
    let app = spawn_app().await;
    let id = new_id("indicator");
    app.post_ok(&[with_pattern(
        &id,
        "2024-01-01T00:00:00.000Z",
        "[domain-name:value = 'old.example']",
    )])
    .await;
    assert_eq!(found(&search(&app, "old.example").await), vec![id.clone()]);
    app.post_ok(&[with_pattern(
        &id,
        "2024-02-01T00:00:00.000Z",
        "[domain-name:value = 'new.example']",
    )])
    .await;
    assert!(
        found(&search(&app, "old.example").await).is_empty(),
        "superseded versions are not current"
    );
    let r = search(&app, "new.example").await;
    assert_eq!(found(&r), vec![id.clone()]);
    assert_eq!(r["results"][0]["version"], "2024-02-01T00:00:00.000000Z");

    let del = app
        .req(Method::DELETE, &format!("{}{id}/", app.objects_path()))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::OK);
    assert!(found(&search(&app, "new.example").await).is_empty());
}

#[tokio::test]
async fn bad_searches_are_400_and_anonymous_ones_401() {
    let app = spawn_app().await;
    for q in [
        "/api/v1/search",
        "/api/v1/search?q=",
        "/api/v1/search?q=not%20a%20domain!",
        "/api/v1/search?q=evil.example&limit=0",
        "/api/v1/search?q=evil.example&limit=x",
    ] {
        let r = app
            .client
            .get(app.url(q))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(r.headers()["content-type"], "application/json");
        let e: Value = r.json().await.unwrap();
        assert!(e["description"].is_string(), "{q}: {e}");
    }
    let r = app
        .client
        .get(app.url("/api/v1/search?q=evil.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
