//! Federation in a mesh of three relays on loopback: pull, push, loop prevention, a run cut in
//! the middle that resumes without loss or duplicates, and TLP:AMBER and RED never pushed.

use std::sync::Arc;
use std::time::Duration;

use federation::{Federation, Options};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::*;

/// Fast retries: a test must not wait a minute on a failure.
fn options(page: usize) -> Options {
    Options {
        page,
        attempts: 3,
        retry_first: Duration::from_millis(50),
        retry_max: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(2),
    }
}

/// An account of a partner organisation at `app`, for a peer relay: reads (and writes) C2 as a
/// member of the trust group `Peers`; returns its token.
async fn peer_account(app: &TestApp, org_name: &str, write: bool) -> String {
    let (s, v) = admin(
        app,
        Method::POST,
        "/api/v1/orgs",
        Some(json!({"name": org_name, "sector": "other", "country": "JP", "partner": true})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let _ = admin(
        app,
        Method::POST,
        "/api/v1/groups",
        Some(json!({"name": "Peers"})),
    )
    .await;
    let (s, v) = admin(
        app,
        Method::PUT,
        &format!("/api/v1/groups/Peers/members/{org_name}"),
        None,
    )
    .await;
    assert!(s.is_success(), "{v}");
    grant(app, "C2", "group", "Peers", true, false).await;
    if write {
        grant(app, "C2", "org", org_name, true, true).await;
    }
    let name = format!("{}-relay", org_name.to_lowercase());
    user(app, org_name, &name, "analyst").await
}

async fn add_peer(app: &TestApp, body: Value) -> (StatusCode, Value) {
    admin(app, Method::POST, "/api/v1/federation/peers", Some(body)).await
}

/// Every (id, modified) in a relay's C2, as the administrator sees it.
async fn versions(app: &TestApp) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut path = "collections/C2/manifest/?match[version]=all&limit=500".to_owned();
        if let Some(n) = &next {
            path.push_str(&format!("&next={n}"));
        }
        let v = app.get_json(&path).await;
        for o in v["objects"].as_array().into_iter().flatten() {
            out.push((
                o["id"].as_str().unwrap().to_owned(),
                o["version"].as_str().unwrap().to_owned(),
            ));
        }
        match v["next"].as_str() {
            Some(n) if v["more"] == true => next = Some(n.to_owned()),
            _ => break,
        }
    }
    out.sort();
    out
}

fn marked(ip: &str, tlp: relay_core::Tlp) -> Value {
    let mut o = indicator(&new_id("indicator"), "2026-03-01T00:00:00.000Z");
    o["name"] = json!(ip);
    o["pattern"] = json!(format!("[ipv4-addr:value = '{ip}']"));
    o["object_marking_refs"] = json!([tlp.marking_ref()]);
    o
}

fn ids(objects: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = objects
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

fn held(versions: &[(String, String)]) -> Vec<String> {
    let mut v: Vec<String> = versions.iter().map(|(id, _)| id.clone()).collect();
    v.dedup();
    v
}

#[tokio::test]
async fn a_mesh_of_three_pulls_pushes_and_never_loops() {
    let (a, b, c) = (spawn_app().await, spawn_app().await, spawn_app().await);
    use relay_core::Tlp::*;
    let (clear, green, amber) = (
        marked("192.0.2.1", Clear),
        marked("192.0.2.2", Green),
        marked("192.0.2.3", Amber),
    );
    let strict = marked("192.0.2.4", AmberStrict);
    let mut red = marked("192.0.2.5", Red);
    red["extensions"] = json!({relay_core::tlp::RECIPIENTS_EXTENSION: {
        "extension_type": "property-extension",
        "recipient_refs": ["identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}});
    // TLP:RED needs a recipient that exists here.
    let member_identity = org(&a, "MemberA", false).await;
    red["extensions"][relay_core::tlp::RECIPIENTS_EXTENSION]["recipient_refs"] =
        json!([member_identity]);
    // Unmarked: GREEN here, C2's default.
    let mut plain = marked("192.0.2.6", Green);
    plain.as_object_mut().unwrap().remove("object_marking_refs");
    let posted = [
        clear.clone(),
        green.clone(),
        amber.clone(),
        strict.clone(),
        red.clone(),
        plain.clone(),
    ];
    let (s, v) = post(&a, TOKEN, "C2", &posted).await;
    assert_eq!(v["success_count"], 6, "{s} {v}");
    let at_a = versions(&a).await;

    // B pulls A's C2 as a partner in A's trust group: what that partner may read at A.
    let b_reads_a = peer_account(&a, "RelayB", false).await;
    let (s, v) = add_peer(
        &b,
        json!({"name": "a", "direction": "pull", "api_root": a.root,
        "collection": "C2", "feeds": ["C2"], "token": b_reads_a, "interval_secs": 60}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["auth"], "bearer");
    assert!(
        !v.to_string().contains(&b_reads_a),
        "credentials never come out"
    );
    let fb = Federation::new(b.relay.clone(), options(2));
    let report = fb.sync("a", &|_| {}).await.unwrap();
    assert_eq!(report.transferred, 4, "{report:?}");
    assert_eq!(
        held(&versions(&b).await),
        ids(&[clear.clone(), green.clone(), amber.clone(), plain.clone()]),
        "B holds what its account at A may read: CLEAR, GREEN and AMBER (a trust group's)"
    );
    // The object's page at B says where it came from.
    let session = super::web::Session::open(&b, "admin", TOKEN).await;
    let (_, page) = session
        .page(&format!("/objects/{}", green["id"].as_str().unwrap()))
        .await;
    assert!(page.contains("<td>a</td></tr>"), "{page}");
    // Pulled again: nothing new, nothing twice.
    let again = fb.sync("a", &|_| {}).await.unwrap();
    assert_eq!(again.transferred, 0, "{again:?}");

    // B pushes C2 back to A and on to C. Nothing returns to A, where it came from; C gets
    // CLEAR and GREEN, never AMBER.
    let b_writes_a = peer_account(&a, "RelayB2", true).await;
    let (s, v) = add_peer(
        &b,
        json!({"name": "a-out", "direction": "push", "api_root": a.root,
        "collection": "C2", "feeds": ["C2"], "token": b_writes_a, "max_tlp": "amber"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let b_writes_c = peer_account(&c, "RelayB", true).await;
    let (s, v) = add_peer(
        &b,
        json!({"name": "c-out", "direction": "push", "api_root": c.root,
        "collection": "C2", "feeds": ["C2"], "token": b_writes_c, "max_tlp": "amber"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let back = fb.sync("a-out", &|_| {}).await.unwrap();
    assert_eq!(
        back.transferred + back.skipped,
        0,
        "nothing goes back to A: {back:?}"
    );
    assert_eq!(versions(&a).await, at_a);
    // B's own AMBER object goes to C (its max is AMBER); the AMBER object B got from A does
    // not (AMBER from one community is not passed on); identities never leave.
    let b_amber = marked("198.51.100.7", Amber);
    let identity = json!({"type": "identity", "spec_version": "2.1", "id": new_id("identity"),
        "created": "2026-03-01T00:00:00.000Z", "modified": "2026-03-01T00:00:00.000Z",
        "name": "A member", "identity_class": "organization"});
    let (_, v) = post(&b, TOKEN, "C2", &[b_amber.clone(), identity.clone()]).await;
    assert_eq!(v["success_count"], 2, "{v}");
    let on = fb.sync("c-out", &|_| {}).await.unwrap();
    assert_eq!(on.transferred, 4, "{on:?}");
    assert_eq!(
        held(&versions(&c).await),
        ids(&[clear.clone(), green.clone(), plain.clone(), b_amber.clone()])
    );
    // The unmarked object carries the TLP it had at B, so C does not apply its own default.
    let at_c = c
        .get_json(&format!(
            "collections/C2/objects/{}/",
            plain["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        at_c["objects"][0]["object_marking_refs"],
        json!([Green.marking_ref()])
    );

    // A pulls C: the ring A → B → C → A closes on objects A already holds, which store
    // nothing; only B's own object (new to A) is taken in.
    let a_reads_c = peer_account(&c, "RelayA", false).await;
    let (s, v) = add_peer(
        &a,
        json!({"name": "c", "direction": "pull", "api_root": c.root,
        "collection": "C2", "feeds": ["C2"], "token": a_reads_c}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let fa = Federation::new(a.relay.clone(), options(100));
    let ring = fa.sync("c", &|_| {}).await.unwrap();
    assert_eq!((ring.transferred, ring.skipped), (1, 3), "{ring:?}");
    let mut with_b_amber = at_a.clone();
    with_b_amber.extend(
        versions(&b)
            .await
            .into_iter()
            .filter(|(id, _)| id == b_amber["id"].as_str().unwrap()),
    );
    with_b_amber.sort();
    assert_eq!(versions(&a).await, with_b_amber);

    // A new object at B reaches A by B's push; the status shows where each peer stands.
    let fresh = marked("198.51.100.9", Green);
    let (_, v) = post(&b, TOKEN, "C2", std::slice::from_ref(&fresh)).await;
    assert_eq!(v["success_count"], 1);
    let pushed = fb.sync("a-out", &|_| {}).await.unwrap();
    assert_eq!(
        pushed.transferred, 2,
        "B's AMBER and GREEN objects: {pushed:?}"
    );
    assert!(held(&versions(&a).await).contains(&fresh["id"].as_str().unwrap().to_owned()));
    let (s, peers) = admin(&b, Method::GET, "/api/v1/federation/peers", None).await;
    assert_eq!(s, StatusCode::OK);
    let a_out = peers["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "a-out")
        .unwrap();
    assert_eq!(a_out["transferred"], 2, "{a_out}");
    assert!(
        a_out["last_success"].is_string() && a_out["last_error"].is_null(),
        "{a_out}"
    );
    assert!(
        !peers.to_string().contains(&b_writes_a),
        "no credential in the status"
    );
    let (s, page) = session.page("/admin/peers").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("<td>a-out</td>") && page.contains("<td>c-out</td>"),
        "{page}"
    );
    assert!(
        !page.contains(&b_writes_a) && !page.contains(&b_reads_a),
        "no credential on the page"
    );

    // A removed pull peer still keeps its objects from going back: a new push to A from the
    // start sends only B's own objects.
    let (s, _) = admin(&b, Method::DELETE, "/api/v1/federation/peers/a", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = add_peer(
        &b,
        json!({"name": "a-again", "direction": "push", "api_root": a.root,
        "collection": "C2", "feeds": ["C2"], "token": b_writes_a, "max_tlp": "amber"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let again = fb.sync("a-again", &|_| {}).await.unwrap();
    assert_eq!(again.transferred, 2, "only B's own two: {again:?}");
}

#[tokio::test]
async fn a_pull_cut_in_the_middle_resumes_without_loss_or_duplicates() {
    let (a, b) = (spawn_app().await, spawn_app().await);
    let objects: Vec<Value> = (0..9)
        .map(|i| marked(&format!("203.0.113.{i}"), relay_core::Tlp::Green))
        .collect();
    for chunk in objects.chunks(3) {
        let (_, v) = post(&a, TOKEN, "C2", chunk).await;
        assert_eq!(v["success_count"], 3);
    }
    let token = peer_account(&a, "RelayB", false).await;
    let (s, v) = add_peer(
        &b,
        json!({"name": "a", "direction": "pull", "api_root": a.root,
        "collection": "C2", "feeds": ["C2"], "token": token}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // The first run is stopped after its first page (2 objects) is stored.
    let first_page = Arc::new(tokio::sync::Notify::new());
    let signal = first_page.clone();
    let fed = Federation::new(b.relay.clone(), options(2));
    let run = tokio::spawn(async move {
        let _ = fed
            .sync("a", &move |n| {
                if n > 0 {
                    signal.notify_one();
                }
            })
            .await;
    });
    first_page.notified().await;
    run.abort();
    let _ = run.await;
    let partial = held(&versions(&b).await).len();
    assert!((2..9).contains(&partial), "stopped part-way: {partial}");

    // A new process state resumes from the bookmark.
    let report = Federation::new(b.relay.clone(), options(2))
        .sync("a", &|_| {})
        .await
        .unwrap();
    let at_b = versions(&b).await;
    assert_eq!(held(&at_b), ids(&objects), "nothing lost");
    assert_eq!(at_b.len(), 9, "nothing stored twice");
    assert!(report.transferred as usize <= 9 - partial + 2, "{report:?}");
}

#[tokio::test]
async fn peers_are_checked_and_failures_recorded() {
    let app = spawn_app().await;
    for (body, why) in [
        (
            json!({"name": "x", "direction": "push", "api_root": "http://127.0.0.1:9/taxii2/r/",
            "collection": "C2", "feeds": ["NOTICE"]}),
            "NOTICE",
        ),
        (
            json!({"name": "x", "direction": "push", "api_root": "http://127.0.0.1:9/taxii2/r/",
            "collection": "C2", "feeds": ["C2"], "max_tlp": "red"}),
            "never leaves",
        ),
        (
            json!({"name": "x", "direction": "push", "api_root": "http://127.0.0.1:9/taxii2/r/",
            "collection": "C2", "feeds": ["C2"], "max_tlp": "amber+strict"}),
            "never leaves",
        ),
        (
            json!({"name": "x", "direction": "pull", "api_root": "http://127.0.0.1:9/taxii2/r/",
            "collection": "C2", "feeds": ["C2", "CX"]}),
            "exactly one feed",
        ),
        (
            json!({"name": "x", "direction": "pull", "api_root": "ftp://example/",
            "collection": "C2", "feeds": ["C2"]}),
            "http or https",
        ),
        (
            json!({"name": "x", "direction": "pull", "api_root": "http://127.0.0.1:9/taxii2/r/",
            "collection": "C2", "feeds": ["Default"]}),
            "aggregate",
        ),
        (
            json!({"name": "x", "direction": "pull",
            "api_root": "http://relay:s3cret@127.0.0.1:9/taxii2/r/",
            "collection": "C2", "feeds": ["C2"]}),
            "plain URL",
        ),
    ] {
        let (s, v) = add_peer(&app, body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert!(
            v["description"].as_str().unwrap().contains(why),
            "{why}: {v}"
        );
    }
    let (s, v) = add_peer(
        &app,
        json!({"name": "x", "direction": "push", "api_root": "http://127.0.0.1:9/taxii2/r/",
            "collection": "C2", "feeds": ["C2"], "peer_org": "NoSuchOrg"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (_, v) = admin(&app, Method::GET, "/api/v1/federation/peers", None).await;
    assert_eq!(v["peers"], json!([]), "nothing was added");

    // A peer that cannot be reached: the run fails after its retries, and says why.
    let (s, _) = add_peer(
        &app,
        json!({"name": "down", "direction": "pull",
        "api_root": "http://127.0.0.1:9/taxii2/r/", "collection": "C2", "feeds": ["C2"]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let err = Federation::new(app.relay.clone(), options(10))
        .sync("down", &|_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot reach"), "{err}");
    let (_, v) = admin(&app, Method::GET, "/api/v1/federation/peers", None).await;
    let down = &v["peers"][0];
    assert!(
        down["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{down}"
    );
    assert!(down["last_success"].is_null());
    // A member may not see or add peers.
    let token = {
        org(&app, "MemberX", false).await;
        user(&app, "MemberX", "mx", "org-admin").await
    };
    let (s, _) = json_api(&app, &token, Method::GET, "/api/v1/federation/peers", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// An upstream that asks to wait (429 with Retry-After) is waited for, then read.
#[tokio::test]
async fn a_peer_that_asks_to_wait_is_waited_for() {
    use axum::http::{HeaderMap, HeaderValue};
    use axum::response::IntoResponse;
    use std::sync::Mutex;
    use std::time::Instant;

    let object = marked("192.0.2.200", relay_core::Tlp::Green);
    let calls: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = calls.clone();
    let served = object.clone();
    let upstream = axum::Router::new().route(
        "/api/collections/c1/objects/",
        axum::routing::get(move || {
            let seen = seen.clone();
            let served = served.clone();
            async move {
                let first = {
                    let mut c = seen.lock().unwrap();
                    c.push(Instant::now());
                    c.len() == 1
                };
                let mut h = HeaderMap::new();
                h.insert(
                    "content-type",
                    HeaderValue::from_static("application/taxii+json;version=2.1"),
                );
                if first {
                    h.insert("retry-after", HeaderValue::from_static("1"));
                    return (StatusCode::TOO_MANY_REQUESTS, h, "{}".to_owned()).into_response();
                }
                h.insert(
                    "x-taxii-date-added-first",
                    HeaderValue::from_static("2026-03-01T00:00:00.000000Z"),
                );
                h.insert(
                    "x-taxii-date-added-last",
                    HeaderValue::from_static("2026-03-01T00:00:00.000000Z"),
                );
                (
                    StatusCode::OK,
                    h,
                    json!({"more": false, "objects": [served]}).to_string(),
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, upstream).await });

    let app = spawn_app().await;
    let (s, v) = add_peer(
        &app,
        json!({"name": "busy", "direction": "pull",
        "api_root": format!("http://{addr}/api/"), "collection": "c1", "feeds": ["C2"]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let report = Federation::new(app.relay.clone(), options(10))
        .sync("busy", &|_| {})
        .await
        .unwrap();
    assert_eq!(report.transferred, 1);
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert!(
        calls[1] - calls[0] >= Duration::from_millis(950),
        "asked again after {:?}, not after the second it asked for",
        calls[1] - calls[0]
    );
    let (_, peers) = admin(&app, Method::GET, "/api/v1/federation/peers", None).await;
    assert_eq!(peers["peers"][0]["cursor"], "2026-03-01T00:00:00.000000Z");
}
