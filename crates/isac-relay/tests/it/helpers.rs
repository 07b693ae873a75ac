//! Test harness: a relay on 127.0.0.1:0 with a fresh data directory, and STIX object makers.

use std::net::SocketAddr;
use std::sync::Arc;

use relay_core::{Relay, RelayConfig};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use store::SqliteStore;

pub const TOKEN: &str = "isr_test-token-0123456789abcdefghij";
pub const TAXII: &str = "application/taxii+json;version=2.1";

pub struct TestApp {
    pub addr: SocketAddr,
    /// The relay the server runs on, for jobs a test drives directly (federation runs).
    pub relay: Relay,
    pub client: reqwest::Client,
    pub root: String,
    pub test_feed: String,
    _dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(RelayConfig::default()).await
}

pub async fn spawn_app_with(config: RelayConfig) -> TestApp {
    spawn_app_configured(config, server::ServerConfig::default()).await
}

pub async fn spawn_app_configured(
    config: RelayConfig,
    server_config: server::ServerConfig,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let relay = Relay::open(store, config).await.unwrap();
    relay.ensure_default_feeds().await.unwrap();
    relay.bootstrap_admin(Some(TOKEN)).await.unwrap();
    let app = server::App::build("127.0.0.1:0".parse().unwrap(), relay.clone(), server_config)
        .await
        .unwrap();
    let addr = app.local_addr().unwrap();
    tokio::spawn(app.serve(std::future::pending()));
    let mut t = TestApp {
        addr,
        relay,
        client: reqwest::Client::new(),
        root: format!("http://{addr}/taxii2/isac/"),
        test_feed: String::new(),
        _dir: dir,
    };
    let cols = t.get_json("collections/").await;
    t.test_feed = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "TEST")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t
}

impl TestApp {
    /// The data directory the server runs on.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("http://{}{path}", self.addr)
        } else {
            format!("{}{path}", self.root)
        }
    }

    /// A request with the admin's bearer token and the TAXII Accept header.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(TOKEN)
            .header("Accept", TAXII)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    pub fn objects_path(&self) -> String {
        format!("collections/{}/objects/", self.test_feed)
    }

    pub async fn post_envelope(&self, objects: &[Value]) -> Response {
        self.req(Method::POST, &self.objects_path())
            .header("Content-Type", TAXII)
            .body(json!({ "objects": objects }).to_string())
            .send()
            .await
            .unwrap()
    }

    /// Posts and returns the status resource, asserting 202.
    pub async fn post_ok(&self, objects: &[Value]) -> Value {
        let r = self.post_envelope(objects).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        r.json().await.unwrap()
    }

    /// Every (id, version) in the TEST feed, all versions, via the manifest.
    pub async fn manifest_all(&self) -> Vec<(String, String)> {
        let m = self
            .get_json(&format!(
                "collections/{}/manifest/?match[version]=all&limit=10000",
                self.test_feed
            ))
            .await;
        m["objects"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        (
                            r["id"].as_str().unwrap().to_owned(),
                            r["version"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Asserts a TAXII error response: the status, the TAXII media type and an error body.
pub async fn assert_taxii_error(r: Response, status: StatusCode) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], TAXII);
    let body: Value = r.json().await.unwrap();
    assert!(body["title"].is_string(), "error body has a title: {body}");
    assert_eq!(body["http_status"], status.as_u16().to_string());
    body
}

/// Calls the relay's JSON API with a token; returns the status and the body (JSON, a string, or
/// null when empty).
pub async fn json_api(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("Accept", "application/json");
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, v)
}

pub fn new_id(ty: &str) -> String {
    format!("{ty}--{}", uuid::Uuid::new_v4())
}

pub fn indicator(id: &str, modified: &str) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": id,
        "created": "2024-01-01T00:00:00.000Z",
        "modified": modified,
        "name": "C2: test",
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z"
    })
}

pub fn malware(id: &str) -> Value {
    json!({
        "type": "malware",
        "spec_version": "2.1",
        "id": id,
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": "Ursnif",
        "is_family": true
    })
}

pub fn ids_of(envelope: &Value) -> Vec<String> {
    envelope["objects"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| o["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Calls the admin API as the ISAC administrator; returns the status and the JSON body.
pub async fn admin(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    json_api(app, TOKEN, method, path, body).await
}

pub async fn org(app: &TestApp, name: &str, anonymous: bool) -> String {
    let (s, v) = admin(
        app,
        Method::POST,
        "/api/v1/orgs",
        Some(json!({"name": name, "sector": "broadcast", "country": "JP", "anonymous": anonymous})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["identity"]["id"].as_str().unwrap().to_owned()
}

/// Creates a user with a token; returns the token.
pub async fn user(app: &TestApp, org: &str, name: &str, role: &str) -> String {
    let (s, v) = admin(
        app,
        Method::POST,
        "/api/v1/users",
        Some(json!({"org": org, "name": name, "role": role})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, t) = admin(
        app,
        Method::POST,
        "/api/v1/tokens",
        Some(json!({"user": name, "name": "t"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    t["token"].as_str().unwrap().to_owned()
}

pub async fn grant(app: &TestApp, feed: &str, kind: &str, name: &str, read: bool, write: bool) {
    let (s, v) = admin(
        app,
        Method::PUT,
        &format!("/api/v1/feeds/{feed}/grants/{kind}/{name}"),
        Some(json!({"read": read, "write": write})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

pub fn taxii(app: &TestApp, token: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("Accept", TAXII)
}

pub async fn post(
    app: &TestApp,
    token: &str,
    feed: &str,
    objects: &[Value],
) -> (StatusCode, Value) {
    let r = taxii(
        app,
        token,
        Method::POST,
        &format!("collections/{feed}/objects/"),
    )
    .header("Content-Type", TAXII)
    .body(json!({ "objects": objects }).to_string())
    .send()
    .await
    .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap())
}
