//! Feeds by purpose over HTTP: the shipped catalogue, title and rule routing of posts to
//! Default, consumer profiles with caps, rate limits, and corroboration counts.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TOKEN, TestApp, admin, assert_taxii_error, grant, json_api, new_id, org, post, spawn_app,
    taxii, user,
};

/// An indicator of one IPv4 address, with a title (`name`) and optional extras.
pub fn ioc(title: &str, ip: &str, extra: Value) -> Value {
    let mut v = json!({
        "type": "indicator", "spec_version": "2.1", "id": new_id("indicator"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": title,
        "pattern": format!("[ipv4-addr:value = '{ip}']"), "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z"
    });
    if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    v
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// The ids of a feed's objects (one page of up to 10,000) as `token` sees them.
pub async fn ids_in(app: &TestApp, token: &str, feed: &str) -> BTreeSet<String> {
    let r = taxii(
        app,
        token,
        Method::GET,
        &format!("collections/{feed}/objects/?limit=10000"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{feed}");
    let body: Value = r.json().await.unwrap();
    body["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .map(id)
        .collect()
}

fn set(ids: &[&Value]) -> BTreeSet<String> {
    ids.iter().map(|v| id(v)).collect()
}

#[tokio::test]
async fn a_fresh_relay_ships_the_catalogue() {
    let app = spawn_app().await;
    let (s, feeds) = admin(&app, Method::GET, "/api/v1/feeds", None).await;
    assert_eq!(s, StatusCode::OK);
    let row = |name: &str| -> Value {
        feeds
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} is shipped: {feeds}"))
            .clone()
    };
    for (name, severity, volume, kind) in [
        ("Default", "informational", "many", "aggregate"),
        ("C2", "urgent", "many", "regular"),
        ("CX", "important", "many", "regular"),
        ("CY", "important", "medium", "regular"),
        ("CZ", "important", "medium", "regular"),
        ("BKMW_CONFIG", "urgent", "few", "regular"),
        ("BKMW_ATTACK", "important", "few", "regular"),
        ("BKMW_MANIP", "urgent", "few", "regular"),
        ("TEST", "informational", "few", "test"),
        ("NOTICE", "urgent", "few", "notice"),
    ] {
        let f = row(name);
        assert_eq!(
            (&f["severity"], &f["volume"], &f["kind"]),
            (&json!(severity), &json!(volume), &json!(kind)),
            "{f}"
        );
        assert!(f["description"].as_str().is_some_and(|d| d.len() > 10));
    }
    assert_eq!(row("Default")["inbox"], true);

    // Admins change and retire feeds; the aggregate cannot be retired.
    let (s, f) = admin(
        &app,
        Method::PATCH,
        "/api/v1/feeds/CY",
        Some(json!({"severity": "urgent", "description": "C2 of IoT botnets"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{f}");
    assert_eq!(
        (&f["severity"], &f["retired"]),
        (&json!("urgent"), &json!(false))
    );
    let (s, f) = admin(
        &app,
        Method::PATCH,
        "/api/v1/feeds/CZ",
        Some(json!({"retired": true})),
    )
    .await;
    assert_eq!((s, &f["retired"]), (StatusCode::OK, &json!(true)));
    let r = app
        .req(Method::POST, "collections/CZ/objects/")
        .header("Content-Type", crate::helpers::TAXII)
        .body(json!({"objects": [ioc("x", "192.0.2.1", json!({}))]}).to_string())
        .send()
        .await
        .unwrap();
    let e = assert_taxii_error(r, StatusCode::FORBIDDEN).await;
    assert!(
        e["description"].as_str().unwrap().contains("retired"),
        "{e}"
    );
    for (body, why) in [
        (json!({"retired": true}), "cannot be retired"),
        (json!({"severity": "critical"}), "unknown severity"),
        (json!({}), "nothing to change"),
        (json!({"colour": "red"}), "unknown field"),
    ] {
        let (s, e) = admin(&app, Method::PATCH, "/api/v1/feeds/Default", Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
        assert!(e["description"].as_str().unwrap().contains(why), "{e}");
    }
}

#[tokio::test]
async fn posts_to_default_are_routed_by_title_and_rules_and_the_rest_is_refused() {
    let app = spawn_app().await;
    org(&app, "TelcoA", false).await;
    let alice = user(&app, "TelcoA", "alice", "analyst").await;
    grant(&app, "C2", "org", "TelcoA", true, true).await;
    grant(&app, "CX", "org", "TelcoA", true, true).await;
    grant(&app, "BKMW_ATTACK", "org", "TelcoA", true, false).await;
    let (s, rule) = admin(
        &app,
        Method::POST,
        "/api/v1/routing-rules",
        Some(json!({"field": "label", "value": "cx-sandbox", "feed": "CX"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{rule}");
    assert_eq!(rule["match"], "equals");

    let c2 = ioc("C2: beacon of Emotet", "203.0.113.5", json!({}));
    let mal = json!({"type": "malware", "spec_version": "2.1", "id": new_id("malware"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": "Emotet", "is_family": true});
    let rel = json!({"type": "relationship", "spec_version": "2.1", "id": new_id("relationship"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "relationship_type": "indicates", "source_ref": id(&c2), "target_ref": id(&mal)});
    let cx = ioc("[CX] downloader", "203.0.113.6", json!({}));
    let labelled = ioc(
        "sandbox hit",
        "203.0.113.7",
        json!({"labels": ["cx-sandbox"]}),
    );
    let attack = ioc("[BKMW_ATTACK] bank login page", "203.0.113.8", json!({}));
    let lonely = ioc("an indicator", "203.0.113.9", json!({}));
    let (s, status) = post(
        &app,
        &alice,
        "Default",
        &[
            c2.clone(),
            rel.clone(),
            mal.clone(),
            cx.clone(),
            labelled.clone(),
            attack.clone(),
            lonely.clone(),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{status}");
    assert_eq!(
        (&status["success_count"], &status["failure_count"]),
        (&json!(5), &json!(2)),
        "{status:#}"
    );
    let message = |list: &str, obj: &Value| -> String {
        status[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == obj["id"])
            .unwrap_or_else(|| panic!("{} in {list}: {status:#}", obj["id"]))["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(message("successes", &c2), "routed to C2 by its title");
    assert!(message("successes", &rel).contains(&format!("with {}", id(&c2))));
    assert!(message("successes", &mal).starts_with("routed to C2"));
    assert_eq!(message("successes", &cx), "routed to CX by its title");
    assert!(
        message("successes", &labelled).contains("label equals 'cx-sandbox'"),
        "{status:#}"
    );
    assert!(message("failures", &attack).contains("may not write"));
    let refusal = message("failures", &lonely);
    assert!(
        refusal.contains("no feed is named") && refusal.contains("C2, CX, CY"),
        "{refusal}"
    );
    assert!(!refusal.contains("Default"), "{refusal}");

    // The poster reads the decisions later too.
    let r = taxii(
        &app,
        &alice,
        Method::GET,
        &format!("status/{}/", status["id"].as_str().unwrap()),
    )
    .send()
    .await
    .unwrap();
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["successes"], status["successes"]);

    assert_eq!(ids_in(&app, &alice, "C2").await, set(&[&c2, &rel, &mal]));
    assert_eq!(ids_in(&app, &alice, "CX").await, set(&[&cx, &labelled]));
    assert_eq!(
        ids_in(&app, &alice, "Default").await,
        set(&[&c2, &rel, &mal, &cx, &labelled])
    );
    let (_, log) = json_api(
        &app,
        TOKEN,
        Method::GET,
        "/api/v1/audit?action=objects.add",
        None,
    )
    .await;
    assert!(
        log.to_string().contains("routed: C2=3 CX=2; refused: 2"),
        "{log}"
    );

    // Posting straight to a feed that is no inbox does not route.
    let named = ioc("C2: but posted to CX", "203.0.113.10", json!({}));
    let (s, _) = post(&app, &alice, "CX", std::slice::from_ref(&named)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert!(ids_in(&app, &alice, "CX").await.contains(&id(&named)));

    // Rules are the administrator's.
    let (s, _) = json_api(
        &app,
        &alice,
        Method::POST,
        "/api/v1/routing-rules",
        Some(json!({"field": "title", "value": "x", "feed": "C2"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (body, why) in [
        (
            json!({"field": "colour", "value": "x", "feed": "C2"}),
            "unknown rule field",
        ),
        (
            json!({"field": "title", "value": "x", "feed": "NOPE"}),
            "no feed",
        ),
        (
            json!({"field": "title", "value": "x", "feed": "Default"}),
            "aggregate",
        ),
        (
            json!({"field": "title", "value": " ", "feed": "C2"}),
            "1 to 256",
        ),
    ] {
        let (s, e) = admin(&app, Method::POST, "/api/v1/routing-rules", Some(body)).await;
        assert!(s.is_client_error(), "{e}");
        assert!(e["description"].as_str().unwrap().contains(why), "{e}");
    }
    let (s, _) = admin(
        &app,
        Method::DELETE,
        &format!("/api/v1/routing-rules/{}", rule["id"]),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, rules) = admin(&app, Method::GET, "/api/v1/routing-rules", None).await;
    assert_eq!(rules, json!([]));
}

/// Sets a profile as the ISAC administrator.
async fn profile(app: &TestApp, path: &str, body: Value) {
    let (s, v) = admin(app, Method::PUT, path, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn profiles_filter_and_cap_what_a_member_polls() {
    let app = spawn_app().await;
    org(&app, "SmallISP", false).await;
    let small = user(&app, "SmallISP", "sam", "org-admin").await;
    for f in ["C2", "CX", "BKMW_CONFIG"] {
        grant(&app, f, "org", "SmallISP", true, false).await;
    }
    // Posted in this order: C2 (urgent) 4, BKMW_CONFIG (urgent) 2, CX (important) 4.
    let mk = |feed: &str, n: usize, extra: Value| -> Vec<Value> {
        (0..n)
            .map(|i| {
                ioc(
                    &format!("{feed}: {i}"),
                    &format!("198.51.100.{i}"),
                    extra.clone(),
                )
            })
            .collect()
    };
    let c2 = mk("C2", 4, json!({"confidence": 90}));
    let bk = mk("BKMW_CONFIG", 2, json!({}));
    let cx = mk("CX", 4, json!({"confidence": 40}));
    for (feed, objs) in [("C2", &c2), ("BKMW_CONFIG", &bk), ("CX", &cx)] {
        let (s, st) = post(&app, TOKEN, feed, objs).await;
        assert_eq!(
            (s, &st["success_count"]),
            (StatusCode::ACCEPTED, &json!(objs.len()))
        );
    }
    let all: BTreeSet<String> = c2.iter().chain(&bk).chain(&cx).map(id).collect();
    assert_eq!(
        ids_in(&app, &small, "Default").await,
        all,
        "no profile, no cap"
    );

    // A cap of 5: the urgent feeds first, freshest first; what it passed over is not served
    // later either.
    profile(
        &app,
        "/api/v1/orgs/SmallISP/profile",
        json!({"max_per_poll": 5}),
    )
    .await;
    let r = taxii(&app, &small, Method::GET, "collections/Default/objects/")
        .send()
        .await
        .unwrap();
    let last = r.headers()["x-taxii-date-added-last"]
        .to_str()
        .unwrap()
        .to_owned();
    let page: Value = r.json().await.unwrap();
    let got: BTreeSet<String> = page["objects"].as_array().unwrap().iter().map(id).collect();
    let want: BTreeSet<String> = bk.iter().chain(&c2[1..]).map(id).collect();
    assert_eq!(got, want, "{page:#}");
    assert_eq!(page["more"], false);
    let r = taxii(
        &app,
        &small,
        Method::GET,
        &format!("collections/Default/objects/?added_after={last}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({}), "nothing newer");

    // Minimum severity, minimum confidence, types.
    profile(
        &app,
        "/api/v1/orgs/SmallISP/profile",
        json!({"min_severity": "urgent"}),
    )
    .await;
    let urgent: BTreeSet<String> = c2.iter().chain(&bk).map(id).collect();
    assert_eq!(ids_in(&app, &small, "Default").await, urgent);
    assert!(
        ids_in(&app, &small, "CX").await.is_empty(),
        "CX is not urgent"
    );
    profile(
        &app,
        "/api/v1/orgs/SmallISP/profile",
        json!({"min_confidence": 50}),
    )
    .await;
    let confident: BTreeSet<String> = c2.iter().map(id).collect();
    assert_eq!(ids_in(&app, &small, "Default").await, confident);
    profile(
        &app,
        "/api/v1/orgs/SmallISP/profile",
        json!({"types": ["malware"], "feeds": ["C2"]}),
    )
    .await;
    assert!(ids_in(&app, &small, "Default").await.is_empty());

    // A token's profile replaces its organisation's.
    let (_, tok) = admin(
        &app,
        Method::POST,
        "/api/v1/tokens",
        Some(json!({"user": "sam", "name": "big-pipe"})),
    )
    .await;
    let big = tok["token"].as_str().unwrap();
    profile(
        &app,
        &format!("/api/v1/tokens/{}/profile", tok["id"]),
        json!({}),
    )
    .await;
    assert_eq!(ids_in(&app, big, "Default").await, all);

    // A daily cap counts what the organisation was served today, across polls.
    org(&app, "TinyISP", false).await;
    let tiny = user(&app, "TinyISP", "tim", "reader").await;
    grant(&app, "C2", "org", "TinyISP", true, false).await;
    profile(
        &app,
        "/api/v1/orgs/TinyISP/profile",
        json!({"max_per_day": 3}),
    )
    .await;
    let first = ids_in(&app, &tiny, "Default").await;
    let want: BTreeSet<String> = c2[1..].iter().map(id).collect();
    assert_eq!(first, want, "the 3 freshest");
    assert!(
        ids_in(&app, &tiny, "Default").await.is_empty(),
        "the day's 3 are served"
    );

    // The organisation's administrator manages its own profile, and nobody else's.
    let (s, _) = json_api(
        &app,
        &small,
        Method::PUT,
        "/api/v1/orgs/SmallISP/profile",
        Some(json!({"max_per_poll": 1000})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = json_api(&app, &small, Method::GET, "/api/v1/orgs/ISAC/profile", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (body, why) in [
        (json!({"max_per_poll": 0}), "max_per_poll"),
        (json!({"feeds": ["NOPE"]}), "unknown feed 'NOPE'"),
        (json!({"min_confidence": 101}), "between 0 and 100"),
        (json!({"min_severity": "high"}), "unknown severity"),
        (json!({"cap": 3}), "unknown field"),
        (json!({"types": ["Not A Type"]}), "not a STIX type"),
    ] {
        let (s, e) = admin(
            &app,
            Method::PUT,
            "/api/v1/orgs/SmallISP/profile",
            Some(body),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
        assert!(e["description"].as_str().unwrap().contains(why), "{e}");
    }
    let (_, kept) = admin(&app, Method::GET, "/api/v1/orgs/SmallISP/profile", None).await;
    assert_eq!(
        kept,
        json!({"max_per_poll": 1000}),
        "refused profiles changed nothing"
    );
    let (s, _) = admin(&app, Method::DELETE, "/api/v1/orgs/SmallISP/profile", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = admin(&app, Method::GET, "/api/v1/orgs/SmallISP/profile", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let app = spawn_app().await;
    org(&app, "Chatty", false).await;
    user(&app, "Chatty", "cat", "analyst").await;
    grant(&app, "C2", "org", "Chatty", true, false).await;
    let (_, tok) = admin(
        &app,
        Method::POST,
        "/api/v1/tokens",
        Some(json!({"user": "cat", "name": "poller"})),
    )
    .await;
    let token = tok["token"].as_str().unwrap();
    let path = format!("/api/v1/tokens/{}/profile", tok["id"]);
    profile(&app, &path, json!({"requests_per_second": 2})).await;
    let mut statuses = Vec::new();
    let mut retry = None;
    for _ in 0..3 {
        let r = taxii(&app, token, Method::GET, "collections/")
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let e = assert_taxii_error(r, StatusCode::TOO_MANY_REQUESTS).await;
            assert!(
                e["description"]
                    .as_str()
                    .unwrap()
                    .contains("2 requests per second")
            );
        }
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);

    // Objects per day: once the day's allowance is served, 429 until tomorrow.
    profile(&app, &path, json!({"objects_per_day": 3})).await;
    let objs: Vec<Value> = (0..5)
        .map(|i| ioc(&format!("C2: {i}"), &format!("192.0.2.{i}"), json!({})))
        .collect();
    post(&app, TOKEN, "C2", &objs).await;
    assert_eq!(ids_in(&app, token, "C2").await.len(), 5);
    let r = taxii(&app, token, Method::GET, "collections/C2/objects/")
        .send()
        .await
        .unwrap();
    let secs: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&secs));
    assert_taxii_error(r, StatusCode::TOO_MANY_REQUESTS).await;
}

#[tokio::test]
async fn corroboration_counts_distinct_organisations_without_naming_them() {
    let app = spawn_app().await;
    let mut tokens = Vec::new();
    for name in ["IspA", "IspB", "IspC"] {
        org(&app, name, false).await;
        tokens.push(user(&app, name, &format!("{name}-analyst"), "analyst").await);
        grant(&app, "C2", "org", name, true, true).await;
    }
    let a = ioc("C2: seen by A", "203.0.113.50", json!({}));
    let b = ioc("C2: seen by B", "203.0.113.50", json!({}));
    let b2 = ioc("C2: seen by B again", "203.0.113.50", json!({}));
    let c = ioc(
        "C2: other",
        "203.0.113.51",
        json!({"x_isac_corroboration": 99}),
    );
    post(&app, &tokens[0], "C2", std::slice::from_ref(&a)).await;
    post(&app, &tokens[1], "C2", &[b.clone(), b2.clone()]).await;
    let (_, status) = post(&app, &tokens[2], "C2", std::slice::from_ref(&c)).await;
    assert!(
        status["successes"][0]["message"]
            .as_str()
            .unwrap()
            .contains("x_isac_corroboration is set by the relay"),
        "{status}"
    );
    let r = taxii(&app, &tokens[2], Method::GET, "collections/C2/objects/")
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    let count = |o: &Value| -> Value {
        page["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == o["id"])
            .unwrap()["x_isac_corroboration"]
            .clone()
    };
    // B posting twice is still one organisation; an object only its poster reported is served
    // as posted.
    assert_eq!(
        [count(&a), count(&b), count(&b2), count(&c)],
        [json!(2), json!(2), json!(2), Value::Null]
    );
    let r = taxii(
        &app,
        &tokens[2],
        Method::GET,
        "collections/C2/objects/?min_corroboration=2",
    )
    .send()
    .await
    .unwrap();
    let corroborated: BTreeSet<String> = r.json::<Value>().await.unwrap()["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(corroborated, set(&[&a, &b, &b2]));
    let (_, found) = json_api(
        &app,
        &tokens[2],
        Method::GET,
        "/api/v1/search?q=203.0.113.50&sort=corroboration",
        None,
    )
    .await;
    assert!(
        found["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["corroboration"] == 2),
        "{found}"
    );
    // Who reported it: the ISAC administrator only.
    let (s, who) = admin(&app, Method::GET, "/api/v1/reporters?q=203.0.113.50", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(who[0]["organisations"], json!(["IspA", "IspB"]));
    let (s, _) = json_api(
        &app,
        &tokens[0],
        Method::GET,
        "/api/v1/reporters?q=203.0.113.50",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(!page.to_string().contains("IspA"), "no reporter is named");
}
