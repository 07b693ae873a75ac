//! Connection limits, over raw TCP as a hostile or broken client would use it: one connection
//! over `max_connections` gets 503 and a TAXII error; a client that never finishes its headers,
//! or sits idle, is disconnected; a body that does not arrive gets 408; a live stream with
//! nothing to say for longer than the idle time is not cut.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::helpers::*;

fn tight() -> server::ServerConfig {
    server::ServerConfig {
        connections: server::ConnLimits {
            max_connections: 4,
            header_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
        },
        request_timeout: Duration::from_secs(1),
        ..server::ServerConfig::default()
    }
}

/// Reads until the server closes the connection (or `limit` passes); what it sent.
async fn read_to_close(s: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

fn get_request(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {TOKEN}\r\nAccept: application/taxii+json;version=2.1\r\n\r\n"
    )
}

#[tokio::test]
async fn one_connection_too_many_gets_503_and_the_slots_come_back() {
    let app = spawn_app_configured(
        relay_core::RelayConfig::default(),
        server::ServerConfig {
            connections: server::ConnLimits {
                max_connections: 4,
                header_timeout: Duration::from_secs(30),
                idle_timeout: Duration::from_secs(30),
            },
            ..server::ServerConfig::default()
        },
    )
    .await;
    // The test client's pooled connection is one of the four; three more fill the relay.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(app.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(app.addr).await.unwrap();
    extra
        .write_all(get_request("/taxii2/").as_bytes())
        .await
        .unwrap();
    let answer = read_to_close(&mut extra, Duration::from_secs(5))
        .await
        .expect("the refusal closes the connection");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    let body: Value =
        serde_json::from_str(&answer[answer.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(body["http_status"], "503");
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .contains("4 connections open"),
        "{body}"
    );

    // The held connections close: their slots are free again.
    drop(held);
    let mut ok = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = app
            .req(reqwest::Method::GET, "collections/")
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::OK {
            ok = true;
            break;
        }
    }
    assert!(ok, "the freed slots were not given back");
}

#[tokio::test]
async fn slow_and_idle_clients_are_disconnected() {
    let app = spawn_app_configured(relay_core::RelayConfig::default(), tight()).await;

    // Headers that never end.
    let started = Instant::now();
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET /taxii2/ HTTP/1.1\r\nHost: relay\r\n")
        .await
        .unwrap();
    read_to_close(&mut slow, Duration::from_secs(5))
        .await
        .expect("a client that never finishes its headers is disconnected");
    assert!(started.elapsed() >= Duration::from_millis(900));

    // A connection that said nothing at all.
    let mut mute = TcpStream::connect(app.addr).await.unwrap();
    read_to_close(&mut mute, Duration::from_secs(5))
        .await
        .expect("a silent connection is closed");

    // A keep-alive connection, idle after one answer.
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(get_request("/taxii2/").as_bytes())
        .await
        .unwrap();
    let sent = read_to_close(&mut idle, Duration::from_secs(5))
        .await
        .expect("an idle keep-alive connection is closed");
    assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");

    // A body that does not arrive: 408 and a TAXII error, nothing stored.
    let mut body = TcpStream::connect(app.addr).await.unwrap();
    let path = format!("/taxii2/isac/collections/{}/objects/", app.test_feed);
    body.write_all(
        format!(
            "POST {path} HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/taxii+json;version=2.1\r\nAccept: application/taxii+json;version=2.1\r\nContent-Length: 5000\r\n\r\n{{\"objects\": ["
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let answer = read_to_close(&mut body, Duration::from_secs(5))
        .await
        .expect("a request whose body never arrives is answered and closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"http_status\":\"408\""), "{answer}");
    let manifest = app
        .get_json(&format!("collections/{}/manifest/", app.test_feed))
        .await;
    assert!(manifest.get("objects").is_none(), "{manifest}");
}

#[tokio::test]
async fn a_quiet_live_stream_outlives_the_idle_timeout() {
    let app = spawn_app_configured(relay_core::RelayConfig::default(), tight()).await;
    let r = app
        .client
        .get(app.url(&format!("/api/v1/feeds/{}/events", app.test_feed)))
        .bearer_auth(TOKEN)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut body = r.bytes_stream();
    // Three idle timeouts with nothing to send.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let id = new_id("indicator");
    app.post_ok(&[indicator(&id, "2026-01-01T00:00:00.000Z")])
        .await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains(&id) {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!(
                "the stream ended or stalled before the object came: {other:?}; read {seen:?}"
            ),
        }
    }
}

/// A client that asks for a large answer and stops reading it is cut once the relay's writes
/// have waited `idle_timeout`: it holds no connection slot (nor the reads behind the answer)
/// for ever.
#[tokio::test]
async fn a_client_that_stops_reading_is_cut() {
    let app = spawn_app_configured(relay_core::RelayConfig::default(), tight()).await;
    // About 8 MB of objects: more than loopback's socket buffers hold.
    let padding = "x".repeat(4_000);
    for _ in 0..20 {
        let objects: Vec<Value> = (0..100)
            .map(|_| {
                let mut o = indicator(&new_id("indicator"), "2026-01-01T00:00:00.000Z");
                o["description"] = Value::String(padding.clone());
                o
            })
            .collect();
        app.post_ok(&objects).await;
    }
    let path = format!(
        "/taxii2/isac/collections/{}/objects/?limit=10000",
        app.test_feed
    );
    let full = app.get(&path).await.bytes().await.unwrap().len();
    assert!(full > 8_000_000, "{full}");

    let mut stalled = TcpStream::connect(app.addr).await.unwrap();
    stalled
        .write_all(get_request(&path).as_bytes())
        .await
        .unwrap();
    // Not reading for three idle timeouts, then reading what is left.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, stalled.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got += n,
            Err(_) => panic!("the connection is still open after {got} bytes"),
        }
    }
    assert!(
        got < full,
        "the whole answer ({got} bytes) waited for the client"
    );
    // And the relay serves on.
    assert!(app.get("/taxii2/").await.status().is_success());
}

/// HTTP/2 PINGs (or any bytes without a request) keep no connection open.
#[tokio::test]
async fn http2_pings_without_requests_do_not_hold_a_connection() {
    let app = spawn_app_configured(relay_core::RelayConfig::default(), tight()).await;
    let s = TcpStream::connect(app.addr).await.unwrap();
    let (mut read, mut write) = s.into_split();
    // The client preface and an empty SETTINGS frame, then a PING every 200 ms.
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    write.write_all(&hello).await.unwrap();
    let pinger = tokio::spawn(async move {
        let ping = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        while write.write_all(&ping).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    loop {
        match tokio::time::timeout_at(deadline, read.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => {}
            Err(_) => panic!("a connection kept open by PINGs alone"),
        }
    }
    pinger.abort();
}
