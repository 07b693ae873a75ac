//! Live push: Server-Sent Events (delivery, resumption with Last-Event-ID, rights) and
//! webhooks (signed deliveries to a loopback receiver, retry after a failure, the delivery
//! log, rights).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;
use hmac::{Hmac, Mac};
use relay_core::{RelayConfig, RetryConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::feeds::{id, ioc};
use crate::helpers::{
    TOKEN, TestApp, admin, grant, json_api, org, post, spawn_app, spawn_app_with, user,
};

/// An open event stream and what has been read of it.
struct Stream {
    body: futures::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buf: String,
}

/// One Server-Sent Event: its id, type and data.
#[derive(Debug)]
struct Event {
    id: String,
    event: String,
    data: Value,
}

async fn open(app: &TestApp, token: &str, feed: &str, last: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .get(app.url(&format!("/api/v1/feeds/{feed}/events")))
        .bearer_auth(token)
        .header("Accept", "text/event-stream");
    if let Some(l) = last {
        req = req.header("Last-Event-ID", l);
    }
    req.send().await.unwrap()
}

async fn subscribe(app: &TestApp, token: &str, feed: &str, last: Option<&str>) -> Stream {
    let r = open(app, token, feed, last).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    Stream {
        body: r.bytes_stream().boxed(),
        buf: String::new(),
    }
}

impl Stream {
    /// The next event (comments and keep-alives skipped), or `None` within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return Some(Event {
                    id,
                    event,
                    data: serde_json::from_str(&data).unwrap(),
                });
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next()).await;
            match chunk {
                Ok(Some(Ok(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn sse_delivers_posts_and_resumes_after_a_disconnect_without_loss() {
    let app = spawn_app().await;
    org(&app, "Watcher", false).await;
    let w = user(&app, "Watcher", "wendy", "reader").await;
    grant(&app, "C2", "org", "Watcher", true, false).await;

    let mut s = subscribe(&app, &w, "Default", None).await;
    let first = ioc("C2: first", "192.0.2.1", json!({}));
    post(&app, TOKEN, "C2", std::slice::from_ref(&first)).await;
    let e = s.next(WAIT).await.expect("the post arrives");
    assert_eq!(e.event, "object");
    assert_eq!(e.data["feed"], "C2");
    assert_eq!(e.data["object"]["id"], first["id"]);
    assert_eq!(e.data["object"], first, "served as posted");
    let resume_from = e.id.clone();
    drop(s);

    // While disconnected: two C2 objects, and one in CX, which the watcher may not read.
    let second = ioc("C2: second", "192.0.2.2", json!({}));
    let hidden = ioc("CX: hidden", "192.0.2.3", json!({}));
    let third = ioc("C2: third", "192.0.2.4", json!({}));
    post(&app, TOKEN, "C2", std::slice::from_ref(&second)).await;
    post(&app, TOKEN, "CX", std::slice::from_ref(&hidden)).await;
    post(&app, TOKEN, "C2", std::slice::from_ref(&third)).await;

    let mut s = subscribe(&app, &w, "Default", Some(&resume_from)).await;
    let fourth = ioc("C2: fourth", "192.0.2.5", json!({}));
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(s.next(WAIT).await.expect("the missed ones are replayed"));
    }
    post(&app, TOKEN, "C2", std::slice::from_ref(&fourth)).await;
    got.push(s.next(WAIT).await.expect("then live again"));
    let ids: Vec<String> = got.iter().map(|e| id(&e.data["object"])).collect();
    assert_eq!(ids, [id(&second), id(&third), id(&fourth)]);
    assert!(got.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    assert!(
        s.next(Duration::from_millis(500)).await.is_none(),
        "nothing else"
    );

    // No rights on CX: its stream does not exist for the watcher; bad resumption ids are 400.
    assert_eq!(
        open(&app, &w, "CX", None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        open(&app, &w, "C2", Some("not-an-id")).await.status(),
        StatusCode::BAD_REQUEST
    );
}

/// What the loopback receiver saw: headers of interest and the body.
#[derive(Debug, Clone)]
struct Received {
    timestamp: String,
    signature: String,
    body: String,
}

/// A webhook receiver on 127.0.0.1 that fails its first delivery with 500.
async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    use axum::http::HeaderMap;
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let state = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let state = state.clone();
            async move {
                let h = |n: &str| headers[n].to_str().unwrap().to_owned();
                let mut seen = state.lock().unwrap();
                seen.push(Received {
                    timestamp: h("x-isac-timestamp"),
                    signature: h("x-isac-signature"),
                    body,
                });
                if seen.len() == 1 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn webhooks_deliver_signed_batches_and_retry_after_a_failure() {
    let app = spawn_app_with(RelayConfig {
        webhook_retry: RetryConfig {
            first: Duration::from_millis(100),
            max: Duration::from_millis(400),
            batch: 100,
        },
        ..RelayConfig::default()
    })
    .await;
    org(&app, "BankW", false).await;
    let boss = user(&app, "BankW", "bob", "org-admin").await;
    let clerk = user(&app, "BankW", "carl", "analyst").await;
    grant(&app, "C2", "org", "BankW", true, false).await;
    org(&app, "Other", false).await;
    let other = user(&app, "Other", "olga", "org-admin").await;
    let (url, seen) = receiver().await;

    for (token, body, status) in [
        (
            &clerk,
            json!({"feed": "Default", "url": url}),
            StatusCode::FORBIDDEN,
        ),
        (
            &boss,
            json!({"feed": "Default", "url": "http://example.net/hook"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            &boss,
            json!({"feed": "CX", "url": url}),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (s, v) = json_api(&app, token, Method::POST, "/api/v1/webhooks", Some(body)).await;
        assert_eq!(s, status, "{v}");
    }
    // HTTPS anywhere is accepted (and removed again before anything is posted).
    let (s, remote) = json_api(
        &app,
        &boss,
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({"feed": "C2", "url": "https://hooks.example.net/isac"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{remote}");
    let (s, _) = json_api(
        &app,
        &boss,
        Method::DELETE,
        &format!("/api/v1/webhooks/{}", remote["id"]),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, hook) = json_api(
        &app,
        &boss,
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({"feed": "Default", "url": url})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_owned();

    let c2 = ioc("C2: for the bank", "198.51.100.77", json!({}));
    let cx = ioc("CX: not for the bank", "198.51.100.78", json!({}));
    post(&app, TOKEN, "CX", std::slice::from_ref(&cx)).await;
    post(&app, TOKEN, "C2", std::slice::from_ref(&c2)).await;

    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.lock().unwrap().len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "a failed delivery, then its retry: {got:#?}");
    for r in &got {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{}.{}", r.timestamp, r.body).as_bytes());
        let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(r.signature, want, "signed with the webhook's secret");
        let envelope: Value = serde_json::from_str(&r.body).unwrap();
        let ids: Vec<String> = envelope["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect();
        assert_eq!(ids, [id(&c2)], "only what the bank may read");
    }

    let log_path = format!("/api/v1/webhooks/{}/deliveries", hook["id"]);
    let (s, log) = json_api(&app, &boss, Method::GET, &log_path, None).await;
    assert_eq!(s, StatusCode::OK);
    let summary: Vec<(Value, Value, Value)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["attempt"].clone(),
                d["http_status"].clone(),
                d["delivered"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (json!(2), json!(204), json!(true)),
            (json!(1), json!(500), json!(false))
        ]
    );
    let (s, _) = json_api(&app, &other, Method::GET, &log_path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another organisation's webhook");
    let (_, listed) = json_api(&app, &other, Method::GET, "/api/v1/webhooks", None).await;
    assert_eq!(listed, json!([]));

    // Removed: nothing more is delivered.
    let (s, _) = json_api(
        &app,
        &boss,
        Method::DELETE,
        &format!("/api/v1/webhooks/{}", hook["id"]),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    post(
        &app,
        TOKEN,
        "C2",
        &[ioc("C2: after", "198.51.100.79", json!({}))],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(seen.lock().unwrap().len(), 2);
    let (_, audit) = admin(&app, Method::GET, "/api/v1/audit?action=webhook.", None).await;
    assert_eq!(audit.to_string().matches("webhook.").count(), 4, "{audit}");
}

#[tokio::test]
async fn a_reader_without_rights_gets_nothing_live() {
    let app = spawn_app().await;
    org(&app, "Outsider", false).await;
    let o = user(&app, "Outsider", "oscar", "reader").await;
    let mut s = subscribe(&app, &o, "Default", None).await;
    post(&app, TOKEN, "C2", &[ioc("C2: x", "192.0.2.9", json!({}))]).await;
    post(
        &app,
        TOKEN,
        "TEST",
        &[ioc("TEST: x", "192.0.2.10", json!({}))],
    )
    .await;
    assert!(s.next(Duration::from_secs(1)).await.is_none());
    assert_eq!(
        open(&app, &o, "C2", None).await.status(),
        StatusCode::NOT_FOUND
    );
}

/// An open stream follows its reader's rights: withdrawn rights or a revoked token end it
/// (within `stream_recheck`), and nothing posted afterwards reaches it.
#[tokio::test]
async fn a_stream_ends_when_its_readers_rights_do() {
    let app = spawn_app_with(RelayConfig {
        stream_recheck: Duration::from_millis(200),
        ..RelayConfig::default()
    })
    .await;
    org(&app, "Watcher", false).await;
    let w = user(&app, "Watcher", "wendy", "reader").await;
    let v = user(&app, "Watcher", "victor", "reader").await;
    grant(&app, "C2", "org", "Watcher", true, false).await;

    // Rights on the feed withdrawn.
    let mut on_c2 = subscribe(&app, &w, "C2", None).await;
    let before = ioc("C2: before", "192.0.2.21", json!({}));
    post(&app, TOKEN, "C2", std::slice::from_ref(&before)).await;
    assert_eq!(
        on_c2
            .next(WAIT)
            .await
            .expect("delivered while readable")
            .data["object"]["id"],
        before["id"]
    );
    let (s, _) = admin(
        &app,
        Method::DELETE,
        "/api/v1/feeds/C2/grants/org/Watcher",
        None,
    )
    .await;
    assert!(s.is_success(), "{s}");
    // Victor's stream of the aggregate outlives the grant (Default stays readable) but no
    // longer carries C2.
    let mut aggregate = subscribe(&app, &v, "Default", None).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after = ioc("C2: after", "192.0.2.22", json!({}));
    post(&app, TOKEN, "C2", std::slice::from_ref(&after)).await;
    assert!(
        on_c2.next(Duration::from_secs(2)).await.is_none(),
        "the stream ended and carried nothing more"
    );
    assert!(aggregate.next(Duration::from_millis(500)).await.is_none());

    // A revoked token.
    grant(&app, "C2", "org", "Watcher", true, false).await;
    let mut s2 = subscribe(&app, &v, "C2", None).await;
    let (_, tokens) = admin(&app, Method::GET, "/api/v1/tokens", None).await;
    let victor = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["user"] == "victor")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (s, _) = admin(
        &app,
        Method::DELETE,
        &format!("/api/v1/tokens/{victor}"),
        None,
    )
    .await;
    assert!(s.is_success(), "{s}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    post(
        &app,
        TOKEN,
        "C2",
        &[ioc("C2: later", "192.0.2.23", json!({}))],
    )
    .await;
    assert!(
        s2.next(Duration::from_secs(2)).await.is_none(),
        "a revoked token's stream ended"
    );
    let (_, audit) = admin(&app, Method::GET, "/api/v1/audit?action=stream.close", None).await;
    // Wendy's stream of C2; Victor's two, the aggregate's too, with his token.
    let mut closed: Vec<(String, String)> = audit
        .as_str()
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["feed"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    closed.sort();
    assert_eq!(
        closed,
        [("victor", "C2"), ("victor", "Default"), ("wendy", "C2")]
            .map(|(a, f)| (a.to_owned(), f.to_owned()))
    );
}
