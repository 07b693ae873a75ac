//! Malformed input across the endpoints, as a table: each case is answered with the status it
//! must get and a TAXII error object naming the problem (a status resource with failures, for
//! envelopes whose objects are refused one by one); nothing is stored by any case; and the
//! server answers the next request.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::*;

/// One request and the status it must get.
struct Case {
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    accept: &'static str,
    body: Vec<u8>,
    status: StatusCode,
}

fn case(method: Method, path: &str, body: &[u8], status: StatusCode) -> Case {
    Case {
        method,
        path: path.to_owned(),
        content_type: Some(TAXII),
        accept: TAXII,
        body: body.to_vec(),
        status,
    }
}

fn get(path: &str, status: StatusCode) -> Case {
    case(Method::GET, path, b"", status)
}

/// Envelopes that are not envelopes: 400 before any object is looked at.
const BAD_ENVELOPES: &[&[u8]] = &[
    b"",
    b" ",
    b"{",
    b"}",
    b"[]",
    b"[{\"objects\": []}]",
    b"null",
    b"true",
    b"42",
    b"\"objects\"",
    b"{\"objects\": 1}",
    b"{\"objects\": \"x\"}",
    b"{\"objects\": {}}",
    b"{\"objects\": true}",
    b"{\"objects\": [}",
    b"{\"objects\": [1,]}",
    b"{\"objects\": [{\"type\": \"indicator\"]}",
    b"{'objects': []}",
    b"{\"objects\": [NaN]}",
    b"{\"objects\": [Infinity]}",
    b"{\"objects\": [] } trailing",
    b"\xff\xfe{\"objects\": []}",
    b"{\"objects\": [\"\xff\"]}",
    b"{\"objects\": [{\"type\": \"indicator\", \"name\": \"\\ud800\"}]}",
    b"{\"objects\": [] , \"objects\": 1}",
    b"<envelope/>",
    b"objects=[]",
    b"{\"objects\": [1e999999]}",
];

/// Envelopes whose objects are each refused: 202 with every object a failure.
fn refused_objects() -> Vec<Value> {
    let ind = indicator(&new_id("indicator"), "2026-01-01T00:00:00.000Z");
    let with = |k: &str, v: Value| {
        let mut o = ind.clone();
        o[k] = v;
        o
    };
    let without = |k: &str| {
        let mut o = ind.clone();
        o.as_object_mut().unwrap().remove(k);
        o
    };
    vec![
        json!(1),
        json!(null),
        json!("indicator"),
        json!([]),
        json!({}),
        json!({"type": "indicator"}),
        without("id"),
        without("type"),
        without("spec_version"),
        without("created"),
        without("pattern"),
        with("id", json!("indicator--not-a-uuid")),
        with("id", json!("malware--4f6d7c66-2c4d-4c41-8f0d-7d8f3c1f4b2a")),
        with("spec_version", json!("2.0")),
        with("created", json!("yesterday")),
        with("modified", json!("2020-01-01T00:00:00Z")),
        with("pattern", json!("[ipv4-addr:value = ")),
        with("pattern", json!("ipv4-addr:value = '1.2.3.4'")),
        with("pattern", json!(42)),
        with("pattern_type", json!(null)),
        with("valid_from", json!("2026-13-01T00:00:00Z")),
        with("confidence", json!(101)),
        with("confidence", json!(-1)),
        with("object_marking_refs", json!(["marking-definition--nope"])),
        with(
            "created_by_ref",
            json!("indicator--4f6d7c66-2c4d-4c41-8f0d-7d8f3c1f4b2a"),
        ),
        with("labels", json!("not-a-list")),
        with("external_references", json!([{}])),
        with("x", json!(1)),
    ]
}

fn cases(feed: &str) -> Vec<Case> {
    let objects = format!("collections/{feed}/objects/");
    let manifest = format!("collections/{feed}/manifest/");
    let one =
        format!("collections/{feed}/objects/indicator--4f6d7c66-2c4d-4c41-8f0d-7d8f3c1f4b2a/");
    let versions = format!("{one}versions/");
    let mut v = Vec::new();

    for body in BAD_ENVELOPES {
        v.push(case(Method::POST, &objects, body, StatusCode::BAD_REQUEST));
    }
    for ct in [
        None,
        Some("text/plain"),
        Some("application/json"),
        Some("application/taxii+json;version=2.0"),
        Some("application/stix+json;version=2.1"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
    ] {
        v.push(Case {
            content_type: ct,
            ..case(
                Method::POST,
                &objects,
                b"{\"objects\": []}",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            )
        });
    }
    for accept in [
        "application/xml",
        "text/html",
        "application/taxii+json;version=2.0",
        "application/taxii+json;version=3.0",
        "image/png",
    ] {
        for path in [
            "/taxii2/".to_owned(),
            "".to_owned(),
            "collections/".to_owned(),
            objects.clone(),
            manifest.clone(),
        ] {
            v.push(Case {
                accept,
                ..get(&path, StatusCode::NOT_ACCEPTABLE)
            });
        }
    }
    let bad_params = [
        "added_after=garbage",
        "added_after=2026-01-01",
        "added_after=2026-01-01T25:00:00Z",
        "added_after=",
        "limit=-1",
        "limit=0",
        "limit=abc",
        "limit=1.5",
        "limit=",
        "next=garbage",
        "next=",
        "match[spec_version]=bogus",
        "limit=1&limit=2",
        "added_after=2026-01-01T00:00:00+09:00",
        "added_after=1700000000",
    ];
    for p in bad_params {
        for base in [&objects, &manifest, &versions] {
            v.push(get(&format!("{base}?{p}"), StatusCode::BAD_REQUEST));
        }
    }
    for p in [
        "match[version]=bogus",
        "match[version]=2026-01-01",
        "match[version]=first,bogus",
        "match[id]=not-an-id",
        "match[id]=indicator--zzz",
        "match[type]=Bad_Type",
        "match[type]=a,,b",
        "min_corroboration=0",
        "min_corroboration=x",
    ] {
        for base in [&objects, &manifest] {
            v.push(get(&format!("{base}?{p}"), StatusCode::BAD_REQUEST));
        }
    }
    for id in [
        "not-an-id",
        "indicator--zzz",
        "indicator--4f6d7c66",
        "--4f6d7c66-2c4d-4c41-8f0d-7d8f3c1f4b2a",
    ] {
        let path = format!("collections/{feed}/objects/{id}/");
        v.push(get(&path, StatusCode::BAD_REQUEST));
        v.push(get(&format!("{path}versions/"), StatusCode::BAD_REQUEST));
        v.push(case(Method::DELETE, &path, b"", StatusCode::BAD_REQUEST));
    }
    for path in [
        "collections/no-such-feed/objects/".to_owned(),
        "collections/no-such-feed/manifest/".to_owned(),
        "collections/no-such-feed/".to_owned(),
        "status/no-such-status/".to_owned(),
        "/taxii2/no-such-root/".to_owned(),
        one.clone(),
        versions.clone(),
    ] {
        v.push(get(&path, StatusCode::NOT_FOUND));
    }
    v.push(case(
        Method::POST,
        "collections/no-such-feed/objects/",
        b"{\"objects\": []}",
        StatusCode::NOT_FOUND,
    ));
    v.push(case(
        Method::PUT,
        &objects,
        b"{}",
        StatusCode::METHOD_NOT_ALLOWED,
    ));
    v.push(case(
        Method::PATCH,
        &one,
        b"{}",
        StatusCode::METHOD_NOT_ALLOWED,
    ));

    // The relay's JSON API.
    let api = |method: Method, path: &str, body: &str, status: StatusCode| Case {
        content_type: Some("application/json"),
        accept: "application/json",
        ..case(method, path, body.as_bytes(), status)
    };
    for body in [
        "",
        "{",
        "[]",
        "{}",
        "{\"name\": 1}",
        "{\"name\": \"X\", \"sector\": \"bakery\", \"country\": \"JP\"}",
        "{\"name\": \"X\", \"sector\": \"telecom\", \"country\": \"Japan\"}",
        "{\"name\": \" padded\", \"sector\": \"telecom\", \"country\": \"JP\"}",
        "{\"name\": \"X\", \"sector\": \"telecom\", \"country\": \"JP\", \"extra\": 1}",
    ] {
        v.push(api(
            Method::POST,
            "/api/v1/orgs",
            body,
            StatusCode::BAD_REQUEST,
        ));
    }
    for body in [
        "{\"org\": \"ISAC\", \"name\": \"u1\", \"role\": \"king\"}",
        "{\"org\": \"ISAC\", \"name\": \"\", \"role\": \"reader\"}",
        "{\"org\": \"ISAC\"}",
    ] {
        v.push(api(
            Method::POST,
            "/api/v1/users",
            body,
            StatusCode::BAD_REQUEST,
        ));
    }
    for body in [
        "{\"name\": \"F1\", \"default_tlp\": \"purple\"}",
        "{\"name\": \"F1\", \"severity\": \"apocalyptic\"}",
        "{\"name\": \"bad name!\"}",
        "{\"name\": \"F1\", \"kind\": \"aggregate\"}",
    ] {
        v.push(api(
            Method::POST,
            "/api/v1/feeds",
            body,
            StatusCode::BAD_REQUEST,
        ));
    }
    for (path, status) in [
        ("/api/v1/search?q=", StatusCode::BAD_REQUEST),
        ("/api/v1/search?q=%20", StatusCode::BAD_REQUEST),
        ("/api/v1/exports/nonsense", StatusCode::BAD_REQUEST),
        (
            "/api/v1/exports/ip?feed=no-such-feed",
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/exports/domain?since=garbage",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/exports/ip?kind=bogus", StatusCode::BAD_REQUEST),
        (
            "/api/v1/metrics/daily?from=yesterday",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/metrics/coverage?format=xml",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/audit?since=garbage", StatusCode::BAD_REQUEST),
        (
            "/api/v1/campaigns/no-such-campaign/uploads",
            StatusCode::NOT_FOUND,
        ),
    ] {
        v.push(api(Method::GET, path, "", status));
    }
    v.push(api(
        Method::POST,
        "/api/v1/federation/peers",
        "{\"name\": \"p\"}",
        StatusCode::BAD_REQUEST,
    ));
    v
}

/// Versions stored in every feed the aggregate covers, and in the TEST feed (which it does
/// not).
async fn versions_stored(app: &TestApp) -> usize {
    let mut n = 0;
    for feed in ["Default", app.test_feed.as_str()] {
        n += app
            .get_json(&format!(
                "collections/{feed}/manifest/?match[version]=all&limit=10000"
            ))
            .await["objects"]
            .as_array()
            .map_or(0, Vec::len);
    }
    n
}

#[tokio::test]
async fn malformed_requests_get_their_error_and_change_nothing() {
    let app = spawn_app().await;
    let feed = "C2";
    let before = versions_stored(&app).await;
    let all = cases(feed);
    let mut failures = Vec::new();
    for c in &all {
        let mut req = app
            .client
            .request(c.method.clone(), app.url(&c.path))
            .bearer_auth(TOKEN)
            .header("Accept", c.accept)
            .body(c.body.clone());
        if let Some(ct) = c.content_type {
            req = req.header("Content-Type", ct);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let media = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let described = body["title"].is_string()
            && body["http_status"].as_str() == Some(status.as_str())
            && body.get("description").is_none_or(Value::is_string);
        if status != c.status || !described || !media.contains("json") {
            failures.push(format!(
                "{} {} ({:?}, accept {}): {status} {body}, expected {}",
                c.method,
                c.path,
                String::from_utf8_lossy(&c.body)
                    .chars()
                    .take(60)
                    .collect::<String>(),
                c.accept,
                c.status
            ));
        }
    }
    // Envelopes of objects each refused: 202, every object a failure, nothing stored.
    let bad = refused_objects();
    for o in &bad {
        let status = app.post_ok(std::slice::from_ref(o)).await;
        if status["success_count"] != 0 || status["failure_count"] != 1 {
            failures.push(format!("{o}: {status}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len() + bad.len(),
        failures.join("\n")
    );
    assert!(
        all.len() + bad.len() >= 200,
        "{} cases",
        all.len() + bad.len()
    );
    assert_eq!(
        versions_stored(&app).await,
        before,
        "a malformed request stored something"
    );
    // And the server goes on.
    let ok = app.get_json("collections/").await;
    assert!(ok["collections"].is_array());
}
