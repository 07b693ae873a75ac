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
    v.extend(upload_cases());
    v.extend(setting_cases());
    v
}

/// A request to the JSON API with a JSON body.
fn api(method: Method, path: &str, body: &str, status: StatusCode) -> Case {
    with_type(method, path, "application/json", body.as_bytes(), status)
}

/// A request with a body of its own media type, answered in JSON.
fn with_type(
    method: Method,
    path: &str,
    content_type: &'static str,
    body: &[u8],
    status: StatusCode,
) -> Case {
    Case {
        content_type: Some(content_type),
        accept: "application/json",
        ..case(method, path, body, status)
    }
}

/// Uploads refused whole: applied block lists (text, CSV, STIX), owner-routing results, finding
/// status updates, the allowlist and an organisation's own assets.
fn upload_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let applied = "/api/v1/applied/C2";
    for (ct, body) in [
        ("text/plain", &b"garbage line here"[..]),
        ("text/plain", b"198.51.100.7\n999.1.1.1\n"),
        ("text/plain", b"198.51.100.7\nexample..com\n"),
        ("text/plain", b"\xff\xfe\x00\x01"),
        ("text/csv", b"value,kind\n198.51.100.7,bogus\n"),
        ("text/csv", b"value,kind\n198.51.100.7,domain\n"),
        ("text/csv", b"value\n\"unterminated\n"),
        ("application/stix+json", b"{\"objects\": [}"),
        ("application/stix+json", b"[]"),
        (
            "application/stix+json",
            b"{\"type\": \"bundle\", \"objects\": [{\"type\": \"indicator\", \"pattern\": \"[\"}]}",
        ),
    ] {
        v.push(with_type(
            Method::PUT,
            applied,
            ct,
            body,
            StatusCode::BAD_REQUEST,
        ));
    }
    v.push(with_type(
        Method::PUT,
        "/api/v1/applied/no-such-feed",
        "text/plain",
        b"198.51.100.7",
        StatusCode::NOT_FOUND,
    ));
    let results = "/api/v1/campaigns/c1/results";
    for (path, ct, body) in [
        (
            format!("{results}?format=xml"),
            "text/csv",
            &b"198.51.100.7"[..],
        ),
        (format!("{results}?format="), "text/csv", b"198.51.100.7"),
        (
            results.to_owned(),
            "application/stix+json",
            b"{\"objects\": [}",
        ),
        (results.to_owned(), "application/stix+json", b"42"),
    ] {
        v.push(with_type(
            Method::POST,
            &path,
            ct,
            body,
            StatusCode::BAD_REQUEST,
        ));
    }
    v.push(with_type(
        Method::POST,
        "/api/v1/campaigns/no-such-campaign/results",
        "text/csv",
        b"198.51.100.7",
        StatusCode::NOT_FOUND,
    ));
    let status = "/api/v1/findings/status";
    for (ct, body) in [
        ("text/csv", &b"id,status\n1,bogus\n"[..]),
        ("text/csv", b"id,status\nx,notified\n"),
        ("text/csv", b"\xff"),
        ("application/json", b"garbage"),
        (
            "application/json",
            b"[{\"id\": 1, \"status\": \"resolved\"}]",
        ),
        ("application/json", b"{\"id\": 1}"),
    ] {
        v.push(with_type(
            Method::POST,
            status,
            ct,
            body,
            StatusCode::BAD_REQUEST,
        ));
    }
    for (path, body) in [
        ("/api/v1/allowlist", &b"x"[..]),
        ("/api/v1/allowlist", b"{}"),
        ("/api/v1/allowlist", b"{\"value\": \"198.51.100.7\"}"),
        (
            "/api/v1/allowlist",
            b"{\"value\": \"not a value\", \"reason\": \"r\"}",
        ),
        ("/api/v1/orgs/ISAC/assets", b"{}"),
        ("/api/v1/orgs/ISAC/assets", b"{\"value\": \"999.1.1.1\"}"),
    ] {
        v.push(with_type(
            Method::POST,
            path,
            "application/json",
            body,
            StatusCode::BAD_REQUEST,
        ));
    }
    v
}

/// Settings refused: webhooks, routing rules, tokens, trust groups, grants, profiles, passwords,
/// campaigns, feeds, organisations, deletions of ids that are not ids.
fn setting_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (path, body) in [
        ("/api/v1/webhooks", "{}"),
        (
            "/api/v1/webhooks",
            "{\"feed\": \"C2\", \"url\": \"ftp://x\"}",
        ),
        (
            "/api/v1/webhooks",
            "{\"feed\": \"C2\", \"url\": \"not a url\"}",
        ),
        ("/api/v1/routing-rules", "{}"),
        (
            "/api/v1/routing-rules",
            "{\"field\": \"colour\", \"match\": \"prefix\", \"value\": \"x\", \"feed\": \"C2\"}",
        ),
        ("/api/v1/tokens", "{\"name\": \"t\", \"expires_days\": -3}"),
        ("/api/v1/tokens", "{\"expires\": \"yesterday\"}"),
        ("/api/v1/groups", "{}"),
        ("/api/v1/groups", "{\"name\": \"\"}"),
        ("/api/v1/campaigns", "{}"),
        (
            "/api/v1/campaigns",
            "{\"name\": \"c2\", \"kind\": \"weekly\"}",
        ),
    ] {
        v.push(api(Method::POST, path, body, StatusCode::BAD_REQUEST));
    }
    v.push(api(
        Method::POST,
        "/api/v1/webhooks",
        "{\"feed\": \"no-such-feed\", \"url\": \"https://example.org/h\"}",
        StatusCode::NOT_FOUND,
    ));
    for (path, body) in [
        ("/api/v1/orgs/ISAC/profile", "{\"min_severity\": \"x\"}"),
        ("/api/v1/orgs/ISAC/profile", "{\"max_objects\": -1}"),
        ("/api/v1/users/admin/password", "{}"),
        ("/api/v1/users/admin/password", "{\"password\": \"short\"}"),
        ("/api/v1/feeds/C2/grants/org/ISAC", ""),
    ] {
        v.push(api(Method::PUT, path, body, StatusCode::BAD_REQUEST));
    }
    for path in [
        "/api/v1/feeds/C2/grants/bogus/ISAC",
        "/api/v1/feeds/C2/grants/org/no-such-org",
        "/api/v1/feeds/no-such-feed/grants/org/ISAC",
    ] {
        v.push(api(
            Method::PUT,
            path,
            "{\"read\": true}",
            StatusCode::NOT_FOUND,
        ));
    }
    for (path, body) in [
        ("/api/v1/feeds/C2", "{\"severity\": \"x\"}"),
        ("/api/v1/orgs/ISAC", "{\"sector\": \"bakery\"}"),
    ] {
        v.push(api(Method::PATCH, path, body, StatusCode::BAD_REQUEST));
    }
    for path in [
        "/api/v1/allowlist/abc",
        "/api/v1/tokens/abc",
        "/api/v1/webhooks/abc",
        "/api/v1/routing-rules/abc",
        "/api/v1/assets/abc",
    ] {
        v.push(api(Method::DELETE, path, "", StatusCode::NOT_FOUND));
    }
    v
}

/// Sends a body of its own media type to the JSON API as the administrator.
async fn upload(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (StatusCode, Value) {
    let r = app
        .client
        .request(method, app.url(path))
        .bearer_auth(TOKEN)
        .header("Accept", "application/json")
        .header("Content-Type", content_type)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// What the JSON API shows of the relay's settings and data besides objects (error ids, which
/// differ per answer, left out).
async fn settings(app: &TestApp) -> Vec<(String, StatusCode, Value)> {
    let mut out = Vec::new();
    for path in [
        "/api/v1/orgs",
        "/api/v1/users",
        "/api/v1/tokens",
        "/api/v1/groups",
        "/api/v1/feeds",
        "/api/v1/routing-rules",
        "/api/v1/webhooks",
        "/api/v1/allowlist",
        "/api/v1/orgs/ISAC/assets",
        "/api/v1/orgs/ISAC/profile",
        "/api/v1/applied/C2",
        "/api/v1/campaigns",
        "/api/v1/campaigns/c1/uploads",
        "/api/v1/findings",
        "/api/v1/federation/peers",
    ] {
        let (status, mut body) = admin(app, Method::GET, path, None).await;
        if let Some(o) = body.as_object_mut() {
            o.remove("error_id");
        }
        out.push((path.to_owned(), status, body));
    }
    out
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
    // Something for uploads and settings to land on (or not).
    let (s, _) = admin(
        &app,
        Method::POST,
        "/api/v1/campaigns",
        Some(json!({"name": "c1"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = upload(
        &app,
        Method::PUT,
        "/api/v1/applied/C2",
        "text/plain",
        b"192.0.2.1\n",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let before = versions_stored(&app).await;
    let settings_before = settings(&app).await;
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
    for (was, now) in settings_before.iter().zip(settings(&app).await) {
        assert_eq!(*was, now, "a malformed request changed {}", was.0);
    }
    // Result uploads are read line by line: a file of which no line can be read stores no
    // finding, and the answer names every line.
    for (ct, body, lines) in [
        ("text/csv", &b"garbage\n"[..], 1),
        (
            "text/csv",
            b"ip,port\n999.1.1.1,80\n198.51.100.7,99999\n",
            2,
        ),
        ("text/csv", b"\xff\xfe garbage\n", 1),
        ("application/x-ndjson", b"{\"ip\": 1}\nnot json\n", 2),
    ] {
        let (s, u) = upload(&app, Method::POST, "/api/v1/campaigns/c1/results", ct, body).await;
        assert_eq!(s, StatusCode::OK, "{u}");
        assert_eq!(u["added"], 0, "{u}");
        assert_eq!(u["malformed"], lines, "{u}");
        let errors = u["errors"].as_array().unwrap();
        assert_eq!(errors.len(), lines, "{u}");
        for e in errors {
            assert!(e.as_str().unwrap().starts_with("line "), "{e}");
        }
    }
    let (_, findings) = admin(&app, Method::GET, "/api/v1/findings", None).await;
    assert_eq!(findings["findings"], json!([]));
    // And the server goes on.
    let ok = app.get_json("collections/").await;
    assert!(ok["collections"].is_array());
}
