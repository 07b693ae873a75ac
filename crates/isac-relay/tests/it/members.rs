//! Members and trust over HTTP: submitter anonymity, the audit log (one entry per operation),
//! brute-force limits (429 with Retry-After), malformed TLP, role and token rules, and bad
//! administrative input that changes nothing.

use std::time::Duration;

use base64::Engine as _;
use relay_core::RelayConfig;
use relay_core::throttle::ThrottleConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::access::RECIPIENTS;
use crate::helpers::{
    TestApp, admin, assert_taxii_error, grant, json_api as call, new_id, org, post, spawn_app,
    spawn_app_with, taxii, user,
};

fn report(id: &str, created_by: &str) -> Value {
    json!({
        "type": "report", "spec_version": "2.1", "id": id,
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": "C2 servers seen this week", "published": "2026-01-01T00:00:00Z",
        "report_types": ["indicator"], "object_refs": [new_id("indicator")],
        "created_by_ref": created_by,
    })
}

#[tokio::test]
async fn anonymous_submitters_are_hidden_from_readers_but_not_from_the_isac() {
    let app = spawn_app().await;
    let anon_identity = org(&app, "ShyTV", true).await;
    org(&app, "OtherTV", false).await;
    let poster = user(&app, "ShyTV", "shy", "analyst").await;
    let colleague = user(&app, "ShyTV", "shy2", "reader").await;
    let reader = user(&app, "OtherTV", "other", "reader").await;
    for o in ["ShyTV", "OtherTV"] {
        grant(&app, "TEST", "org", o, true, true).await;
    }
    let (_, isac) = admin(&app, Method::GET, "/api/v1/orgs/ISAC", None).await;
    let isac_identity = isac["identity"]["id"].as_str().unwrap().to_owned();

    let id = new_id("report");
    let (s, status) = post(&app, &poster, "TEST", &[report(&id, &anon_identity)]).await;
    assert_eq!(
        (s, status["success_count"].as_u64()),
        (StatusCode::ACCEPTED, Some(1))
    );

    let created_by = |token: String, path: String| {
        let req = taxii(&app, &token, Method::GET, &path);
        async move {
            let body: Value = req.send().await.unwrap().json().await.unwrap();
            body["objects"][0]["created_by_ref"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let paths = [
        "collections/TEST/objects/".to_owned(),
        format!("collections/TEST/objects/{id}/"),
    ];
    for path in &paths {
        assert_eq!(
            created_by(reader.clone(), path.clone()).await,
            isac_identity,
            "{path}"
        );
        assert_eq!(
            created_by(crate::helpers::TOKEN.into(), path.clone()).await,
            anon_identity
        );
        assert_eq!(
            created_by(colleague.clone(), path.clone()).await,
            anon_identity
        );
    }
    // Nothing else in what the reader gets names the submitter.
    let text = taxii(&app, &reader, Method::GET, "collections/TEST/objects/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains(&anon_identity) && !text.contains("ShyTV"));

    // Once the organisation stops being anonymous, its new posts carry its identity.
    let (s, v) = admin(
        &app,
        Method::PATCH,
        "/api/v1/orgs/ShyTV",
        Some(json!({"anonymous": false})),
    )
    .await;
    assert_eq!((s, v["anonymous"].as_bool()), (StatusCode::OK, Some(false)));
    let named = new_id("report");
    post(&app, &poster, "TEST", &[report(&named, &anon_identity)]).await;
    assert_eq!(
        created_by(reader.clone(), format!("collections/TEST/objects/{named}/")).await,
        anon_identity
    );
}

async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app
        .client
        .get(app.url(&format!("/api/v1/audit?{query}")))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    r.text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn every_operation_leaves_one_audit_entry() {
    let app = spawn_app().await;
    let start = audit(&app, "").await.len();
    org(&app, "Carrier", false).await;
    let token = user(&app, "Carrier", "noc", "analyst").await;
    grant(&app, "TEST", "org", "Carrier", true, true).await;
    let ids = [new_id("indicator"), new_id("indicator")];
    let objs: Vec<Value> = ids
        .iter()
        .map(|id| crate::helpers::indicator(id, "2026-01-01T00:00:00.000Z"))
        .collect();
    assert_eq!(
        post(&app, &token, "TEST", &objs).await.0,
        StatusCode::ACCEPTED
    );
    let r = taxii(&app, &token, Method::GET, "collections/TEST/objects/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = taxii(
        &app,
        "isr_wrong-token-000000000000000",
        Method::GET,
        "collections/",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = taxii(
        &app,
        &token,
        Method::DELETE,
        &format!("collections/TEST/objects/{}/", ids[0]),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let log = audit(&app, "").await.split_off(start);
    let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "audit.read",
            "org.create",
            "user.create",
            "token.create",
            "feed.grant",
            "objects.add",
            "objects.read",
            "auth.failure",
            "object.delete"
        ],
        "{log:#?}"
    );
    let by = |a: &str| log.iter().find(|e| e["action"] == a).unwrap();
    let add = by("objects.add");
    assert_eq!(
        (add["actor"].as_str(), add["org"].as_str()),
        (Some("noc"), Some("Carrier"))
    );
    assert_eq!(
        (add["feed"].as_str(), add["count"].as_u64()),
        (Some("TEST"), Some(2))
    );
    assert_eq!(add["ids"], json!(ids));
    assert_eq!(add["source"], "127.0.0.1");
    assert_eq!(by("objects.read")["count"], 2);
    assert_eq!(by("object.delete")["ids"], json!([ids[0]]));
    assert_eq!(by("auth.failure")["source"], "127.0.0.1");
    assert!(
        by("feed.grant")["detail"]
            .as_str()
            .unwrap()
            .contains("Carrier")
    );

    // Filters: an area, and a time after everything.
    let auth = audit(&app, "action=auth.").await.len();
    assert_eq!(auth, 1);
    assert!(audit(&app, "since=2999-01-01T00:00:00Z").await.is_empty());
    // Only the ISAC administrator reads the log.
    let (s, _) = call(&app, &token, Method::GET, "/api/v1/audit", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[tokio::test]
async fn repeated_login_failures_get_429_with_retry_after() {
    let app = spawn_app_with(RelayConfig {
        throttle: ThrottleConfig {
            per_account: 3,
            per_source: 5,
            window: Duration::from_secs(600),
        },
        ..RelayConfig::default()
    })
    .await;
    org(&app, "Bank", false).await;
    let (s, _) = admin(
        &app,
        Method::POST,
        "/api/v1/users",
        Some(json!({"org": "Bank", "name": "teller", "role": "reader", "password": "correct horse battery"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let login = |user: &'static str, pw: &'static str| {
        app.client
            .get(app.url("/api/v1/me"))
            .header("Authorization", basic(user, pw))
            .send()
    };
    let r = login("teller", "correct horse battery").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "a password login works");
    for _ in 0..3 {
        let r = login("teller", "wrong guess 123").await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    for pw in ["wrong guess 123", "correct horse battery"] {
        let r = login("teller", pw).await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "even the right password"
        );
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(wait > 0 && wait <= 600, "{wait}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["http_status"], "429", "{body}");
    }
    // Another account from the same address: two more failures reach the address's limit,
    // after which even valid tokens from this address wait.
    for _ in 0..2 {
        let r = login("nobody", "whatever at all").await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = taxii(&app, crate::helpers::TOKEN, Method::GET, "collections/")
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_taxii_error(r, StatusCode::TOO_MANY_REQUESTS).await;
}

#[tokio::test]
async fn malformed_tlp_is_refused_per_object_and_stores_nothing() {
    let app = spawn_app().await;
    let red = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
    let white = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
    let amber = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
    let mk = |extra: Value| {
        let mut o = crate::helpers::indicator(&new_id("indicator"), "2026-01-01T00:00:00.000Z");
        for (k, v) in extra.as_object().unwrap() {
            o[k] = v.clone();
        }
        o
    };
    let cases = [
        (
            mk(json!({"object_marking_refs": [white, red]})),
            "two TLP levels",
        ),
        (
            mk(
                json!({"object_marking_refs": [red], "extensions": {RECIPIENTS: {"extension_type": "property-extension", "recipient_refs": ["identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}}}),
            ),
            "not the identity of an organisation",
        ),
        (
            mk(
                json!({"object_marking_refs": [amber], "extensions": {RECIPIENTS: {"extension_type": "property-extension", "recipient_refs": ["identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}}}),
            ),
            "only a TLP:RED",
        ),
        (
            mk(
                json!({"object_marking_refs": [red], "extensions": {RECIPIENTS: {"extension_type": "property-extension", "recipient_refs": []}}}),
            ),
            "non-empty list",
        ),
    ];
    for (obj, why) in cases {
        let status = app.post_ok(&[obj]).await;
        assert_eq!(status["success_count"], 0, "{status}");
        let msg = status["failures"][0]["message"].as_str().unwrap();
        assert!(msg.contains(why), "{msg} should say {why}");
    }
    assert!(app.manifest_all().await.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn roles_and_tokens_bound_what_members_may_do() {
    let app = spawn_app().await;
    org(&app, "Isp", false).await;
    org(&app, "Rival", false).await;
    let boss = user(&app, "Isp", "boss", "org-admin").await;
    let reader = user(&app, "Isp", "eyes", "reader").await;
    let rival = user(&app, "Rival", "rival", "analyst").await;
    grant(&app, "TEST", "org", "Isp", true, true).await;
    grant(&app, "TEST", "org", "Rival", true, true).await;

    // A reader never writes, even on a feed its organisation may write.
    let obj = crate::helpers::indicator(&new_id("indicator"), "2026-01-01T00:00:00.000Z");
    let (s, _) = post(&app, &reader, "TEST", std::slice::from_ref(&obj)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // An organisation admin manages its own users, not another organisation's, and makes no
    // ISAC administrators.
    let (s, _) = call(
        &app,
        &boss,
        Method::POST,
        "/api/v1/users",
        Some(json!({"org": "Isp", "name": "new", "role": "analyst"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    for (path, body) in [
        (
            "/api/v1/users",
            json!({"org": "Rival", "name": "mole", "role": "analyst"}),
        ),
        (
            "/api/v1/users",
            json!({"org": "ISAC", "name": "root2", "role": "isac-admin"}),
        ),
        (
            "/api/v1/orgs",
            json!({"name": "X", "sector": "other", "country": "JP"}),
        ),
    ] {
        let (s, _) = call(&app, &boss, Method::POST, path, Some(body.clone())).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    }
    // It sees its organisation's tokens, not the rival's, and cannot revoke those.
    let (_, tokens) = call(&app, &boss, Method::GET, "/api/v1/tokens", None).await;
    let orgs: Vec<&str> = tokens
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["org"].as_str().unwrap())
        .collect();
    assert!(
        !orgs.is_empty() && orgs.iter().all(|o| *o == "Isp"),
        "{orgs:?}"
    );
    let (_, all) = admin(&app, Method::GET, "/api/v1/tokens", None).await;
    let rival_token = all
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["user"] == "rival")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (s, _) = call(
        &app,
        &boss,
        Method::DELETE,
        &format!("/api/v1/tokens/{rival_token}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The rival cannot delete what Isp posted, even in a feed both write.
    let (s, _) = post(&app, &boss, "TEST", std::slice::from_ref(&obj)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let id = obj["id"].as_str().unwrap();
    let r = taxii(
        &app,
        &rival,
        Method::DELETE,
        &format!("collections/TEST/objects/{id}/"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = taxii(
        &app,
        &boss,
        Method::DELETE,
        &format!("collections/TEST/objects/{id}/"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A feed an organisation has no rights on does not exist for it.
    let (s, _) = admin(
        &app,
        Method::DELETE,
        "/api/v1/feeds/TEST/grants/org/Rival",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let r = taxii(&app, &rival, Method::GET, "collections/TEST/")
        .send()
        .await
        .unwrap();
    assert_taxii_error(r, StatusCode::NOT_FOUND).await;
    // A revoked token is refused at once.
    let (s, _) = admin(
        &app,
        Method::DELETE,
        &format!("/api/v1/tokens/{rival_token}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let r = taxii(&app, &rival, Method::GET, "collections/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// Organisations, users, groups and feeds as the ISAC administrator sees them.
async fn snapshot(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    for path in [
        "/api/v1/orgs",
        "/api/v1/users",
        "/api/v1/groups",
        "/api/v1/feeds",
    ] {
        all.push(admin(app, Method::GET, path, None).await.1);
    }
    all
}

/// Bad administrative input gets a clear error and changes nothing.
#[tokio::test]
async fn bad_admin_input_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    org(&app, "Known", false).await;
    admin(
        &app,
        Method::POST,
        "/api/v1/groups",
        Some(json!({"name": "wg"})),
    )
    .await;
    let before = snapshot(&app).await;
    let cases: Vec<(Method, &str, Option<Value>, StatusCode, &str)> = vec![
        (
            Method::POST,
            "/api/v1/orgs",
            Some(json!({"name": "Known", "sector": "other", "country": "JP"})),
            StatusCode::CONFLICT,
            "already exists",
        ),
        (
            Method::POST,
            "/api/v1/orgs",
            Some(json!({"name": "New", "sector": "bank", "country": "JP"})),
            StatusCode::BAD_REQUEST,
            "unknown sector",
        ),
        (
            Method::POST,
            "/api/v1/orgs",
            Some(json!({"name": "New", "sector": "other", "country": "Japan"})),
            StatusCode::BAD_REQUEST,
            "two-letter",
        ),
        (
            Method::POST,
            "/api/v1/orgs",
            Some(json!({"name": "New", "sector": "other", "country": "JP", "colour": 1})),
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
        (
            Method::POST,
            "/api/v1/users",
            Some(json!({"org": "Nowhere", "name": "u", "role": "reader"})),
            StatusCode::NOT_FOUND,
            "no organisation 'Nowhere'",
        ),
        (
            Method::POST,
            "/api/v1/users",
            Some(json!({"org": "Known", "name": "u", "role": "king"})),
            StatusCode::BAD_REQUEST,
            "unknown role",
        ),
        (
            Method::POST,
            "/api/v1/users",
            Some(json!({"org": "Known", "name": "u", "role": "isac-admin"})),
            StatusCode::BAD_REQUEST,
            "operator",
        ),
        (
            Method::POST,
            "/api/v1/users",
            Some(json!({"org": "Known", "name": "admin", "role": "reader"})),
            StatusCode::CONFLICT,
            "already exists",
        ),
        (
            Method::POST,
            "/api/v1/users",
            Some(json!({"org": "Known", "name": "u", "role": "reader", "password": "short"})),
            StatusCode::BAD_REQUEST,
            "at least 12",
        ),
        (
            Method::PUT,
            "/api/v1/groups/nogroup/members/Known",
            None,
            StatusCode::NOT_FOUND,
            "no trust group 'nogroup'",
        ),
        (
            Method::PUT,
            "/api/v1/groups/wg/members/Nobody",
            None,
            StatusCode::NOT_FOUND,
            "no organisation 'Nobody'",
        ),
        (
            Method::POST,
            "/api/v1/groups",
            Some(json!({"name": "wg"})),
            StatusCode::CONFLICT,
            "already exists",
        ),
        (
            Method::PUT,
            "/api/v1/feeds/NOFEED/grants/org/Known",
            Some(json!({"read": true})),
            StatusCode::NOT_FOUND,
            "no feed 'NOFEED'",
        ),
        (
            Method::PUT,
            "/api/v1/feeds/TEST/grants/org/Known",
            Some(json!({})),
            StatusCode::BAD_REQUEST,
            "read, write or both",
        ),
        (
            Method::PUT,
            "/api/v1/feeds/TEST/grants/team/Known",
            Some(json!({"read": true})),
            StatusCode::NOT_FOUND,
            "'org' or 'group'",
        ),
        (
            Method::POST,
            "/api/v1/feeds",
            Some(json!({"name": "TEST"})),
            StatusCode::CONFLICT,
            "already exists",
        ),
        (
            Method::POST,
            "/api/v1/feeds",
            Some(json!({"name": "X", "default_tlp": "purple"})),
            StatusCode::BAD_REQUEST,
            "unknown TLP",
        ),
        (
            Method::DELETE,
            "/api/v1/feeds/TEST/grants/org/Known",
            None,
            StatusCode::NOT_FOUND,
            "no rights",
        ),
    ];
    for (method, path, body, status, why) in cases {
        let (s, v) = admin(&app, method.clone(), path, body).await;
        assert_eq!(s, status, "{method} {path}: {v}");
        let d = v["description"].as_str().unwrap_or_default();
        assert!(d.contains(why), "{method} {path}: '{d}' should say '{why}'");
    }
    assert_eq!(snapshot(&app).await, before);
}
