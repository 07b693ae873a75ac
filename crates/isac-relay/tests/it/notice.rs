//! Owner routing over HTTP and on the command line: a campaign's snapshot and aggregated
//! ranges, a scanner that reaches nothing else, results routed to the member owning each
//! address (the longest registered network) and to it alone on every path, merged duplicates,
//! unreadable lines reported by number, the findings' lifecycle with bulk updates, reports.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cli::run_cli;
use crate::helpers::{TOKEN, TestApp, admin, json_api, org, spawn_app, taxii, user};

async fn register(app: &TestApp, org: &str, value: &str) {
    let (s, v) = admin(
        app,
        Method::POST,
        &format!("/api/v1/orgs/{org}/assets"),
        Some(json!({ "value": value })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{org} {value}: {v}");
}

async fn upload(
    app: &TestApp,
    token: &str,
    campaign: &str,
    ct: &str,
    body: String,
) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(&format!("/api/v1/campaigns/{campaign}/results")))
        .bearer_auth(token)
        .header("Content-Type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap())
}

/// The addresses of the findings a caller sees (following `next`).
async fn seen(app: &TestApp, token: &str, query: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut after = 0;
    loop {
        let (s, v) = json_api(
            app,
            token,
            Method::GET,
            &format!("/api/v1/findings?limit=2&after={after}{query}"),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for f in v["findings"].as_array().unwrap() {
            out.insert(f["ip"].as_str().unwrap().to_owned());
        }
        match v["next"].as_i64() {
            Some(n) => after = n,
            None => return out,
        }
    }
}

/// (address, status) of the notifications a caller reads in the NOTICE collection over TAXII,
/// following `next`.
async fn notifications(app: &TestApp, token: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut next: Option<String> = None;
    loop {
        let mut path = "/taxii2/isac/collections/NOTICE/objects/?limit=2".to_owned();
        if let Some(n) = &next {
            path.push_str(&format!("&next={n}"));
        }
        let r = taxii(app, token, Method::GET, &path).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        for o in v["objects"].as_array().into_iter().flatten() {
            assert_eq!(o["type"], "observed-data", "{o}");
            out.insert((
                o["objects"]["0"]["value"].as_str().unwrap().to_owned(),
                o["x_isac_status"].as_str().unwrap().to_owned(),
            ));
        }
        match v["next"].as_str() {
            Some(n) if v["more"] == true => next = Some(n.to_owned()),
            _ => return out,
        }
    }
}

/// Waits (up to 10 s) until the publisher has caught up: what `token` reads stops changing
/// and equals `want`.
async fn notified(app: &TestApp, token: &str, want: &[(&str, &str)]) {
    let want: BTreeSet<(String, String)> = want
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    let mut got = BTreeSet::new();
    for _ in 0..100 {
        got = notifications(app, token).await;
        if got == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(got, want);
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn findings_reach_the_owner_and_nobody_else() {
    let app = spawn_app().await;
    for name in ["IspA", "IspB", "CustC", "Other1", "Other2", "ScanCo"] {
        org(&app, name, false).await;
    }
    let a = user(&app, "IspA", "a-analyst", "analyst").await;
    let b = user(&app, "IspB", "b-analyst", "analyst").await;
    let c = user(&app, "CustC", "c-analyst", "analyst").await;
    let scanner = user(&app, "ScanCo", "scanner", "scanner").await;
    // Only the ISAC appoints scanners: a member's administrator cannot.
    let a_admin = user(&app, "IspA", "a-admin", "org-admin").await;
    let (s, v) = json_api(
        &app,
        &a_admin,
        Method::POST,
        "/api/v1/users",
        Some(json!({"org": "IspA", "name": "a-scanner", "role": "scanner"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    register(&app, "IspA", "198.18.0.0/15").await;
    // A customer of IspA with its own membership: its /24 is inside IspA's block.
    register(&app, "CustC", "198.18.5.0/24").await;
    register(&app, "IspB", "192.0.2.0/24").await;
    register(&app, "IspB", "2001:db8:b::/48").await;
    register(&app, "IspB", "AS64500").await;
    // Both claim this one: findings there go to neither.
    register(&app, "IspA", "100.64.0.0/24").await;
    register(&app, "IspB", "100.64.0.0/24").await;
    // Registered after the campaign starts: not in its snapshot.
    let (s, v) = admin(
        &app,
        Method::POST,
        "/api/v1/campaigns",
        Some(json!({"name": "2026-11", "kind": "monthly", "schedule": "ranges on the 1st, results by the 20th"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["ranges"], 6, "{v}");
    register(&app, "IspB", "203.0.113.0/24").await;

    // Members cannot start campaigns; names are checked.
    let (s, _) = json_api(
        &app,
        &a,
        Method::POST,
        "/api/v1/campaigns",
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = admin(
        &app,
        Method::POST,
        "/api/v1/campaigns",
        Some(json!({"name": "bad name"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

    // The scanner downloads the aggregated list: no owners, nested networks folded away.
    let r = app
        .client
        .get(app.url("/api/v1/campaigns/2026-11/ranges"))
        .bearer_auth(&scanner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ranges = r.text().await.unwrap();
    assert_eq!(
        ranges.lines().collect::<Vec<_>>(),
        [
            "100.64.0.0/24",
            "192.0.2.0/24",
            "198.18.0.0/15",
            "2001:db8:b::/48"
        ]
    );
    // ... and reaches nothing else of anyone.
    for (method, path) in [
        (Method::GET, "/api/v1/findings"),
        (Method::GET, "/api/v1/directory"),
        (Method::GET, "/api/v1/orgs"),
        (Method::GET, "/api/v1/me"),
        (Method::GET, "/api/v1/reports/monthly?month=2026-11"),
        (Method::GET, "/api/v1/campaigns/2026-11/uploads"),
        (Method::GET, "/api/v1/exports/ip"),
    ] {
        let (s, v) = json_api(&app, &scanner, method.clone(), path, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}: {v}");
    }
    for path in ["/taxii2/isac/collections/", "/taxii2/"] {
        let r = taxii(&app, &scanner, Method::GET, path)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // Members may not fetch the ranges.
    let (s, _) = json_api(
        &app,
        &a,
        Method::GET,
        "/api/v1/campaigns/2026-11/ranges",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let csv = "ip,port,protocol,finding,observed_at,detail\n\
               198.18.0.10,23,tcp,telnet-login-prompt,2026-11-20T01:00:00Z,busybox\n\
               198.18.200.1,23,tcp,telnet-login-prompt,2026-11-20T01:00:00Z,\n\
               198.18.5.77,2323,tcp,logged-in,2026-11-20T02:00:00Z,\n\
               192.0.2.44,23,tcp,telnet-login-prompt,2026-11-20T03:00:00Z,\n\
               2001:db8:b::9,,udp,open-resolver,2026-11-20\n\
               198.18.0.10,23,tcp,telnet-login-prompt,2026-11-21T01:00:00Z,\n\
               100.64.0.5,23,tcp,telnet-login-prompt,2026-11-20\n\
               203.0.113.5,23,tcp,telnet-login-prompt,2026-11-20\n\
               8.8.8.8,53,udp,open-resolver,2026-11-20\n\
               not-an-address,23,tcp,x,2026-11-20\n\
               192.0.2.45,23,tcp,telnet-login-prompt,yesterday\n";
    let (s, rec) = upload(&app, &scanner, "2026-11", "text/csv", csv.into()).await;
    assert_eq!(s, StatusCode::OK, "{rec}");
    assert_eq!(rec["lines"], 11, "{rec}");
    assert_eq!(rec["added"], 5, "{rec}");
    assert_eq!(rec["merged"], 1, "{rec}");
    // Contested, registered after the snapshot, and nobody's.
    assert_eq!(rec["unmatched"], 3, "{rec}");
    assert_eq!(rec["malformed"], 2, "{rec}");
    let errors: Vec<&str> = rec["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(errors[0].starts_with("line 11:"), "{errors:?}");
    assert!(
        errors[1].starts_with("line 12:") && errors[1].contains("observed_at"),
        "{errors:?}"
    );

    // JSON lines are read the same way; a second upload merges into the first.
    let jsonl = "{\"ip\":\"192.0.2.44\",\"port\":23,\"protocol\":\"tcp\",\"finding\":\"telnet-login-prompt\",\"observed_at\":\"2026-11-22T00:00:00Z\"}\n\
                 {\"ip\":\"192.0.2.46\",\"finding\":\"open-resolver\",\"observed_at\":\"2026-11-22T00:00:00Z\"}\n";
    let (s, rec) = upload(
        &app,
        &scanner,
        "2026-11",
        "application/x-ndjson",
        jsonl.into(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{rec}");
    assert_eq!(
        (rec["added"].as_u64(), rec["merged"].as_u64()),
        (Some(1), Some(1)),
        "{rec}"
    );
    // Members cannot upload results; an unknown campaign is 404.
    let (s, _) = upload(&app, &a, "2026-11", "text/csv", csv.into()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = upload(&app, &scanner, "2026-12", "text/csv", csv.into()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Each member sees its own findings only, whatever it asks.
    assert_eq!(
        seen(&app, &a, "").await,
        set(&["198.18.0.10", "198.18.200.1"])
    );
    assert_eq!(seen(&app, &c, "").await, set(&["198.18.5.77"]));
    assert_eq!(
        seen(&app, &b, "").await,
        set(&["192.0.2.44", "192.0.2.46", "2001:db8:b::9"])
    );
    assert_eq!(seen(&app, &b, "&campaign=2026-11&org=IspB").await.len(), 3);
    for q in ["/api/v1/findings?org=IspA", "/api/v1/findings?org=CustC"] {
        let (s, _) = json_api(&app, &b, Method::GET, q, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{q}");
    }
    assert_eq!(seen(&app, TOKEN, "").await.len(), 6);
    // Merged: one finding, seen twice, its period widened.
    let (_, v) = json_api(&app, &a, Method::GET, "/api/v1/findings?status=new", None).await;
    let merged = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["ip"] == "198.18.0.10")
        .unwrap()
        .clone();
    assert_eq!(merged["times_seen"], 2);
    assert_eq!(merged["detail"], "busybox");
    assert_eq!(merged["last_observed"], "2026-11-21T01:00:00.000000Z");
    // CSV, with a header row and the address in `ip`.
    let r = app
        .client
        .get(app.url("/api/v1/findings?format=csv"))
        .bearer_auth(&c)
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = r.text().await.unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header = rows.headers().unwrap().clone();
    let ip = header.iter().position(|h| h == "ip").unwrap();
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 1);
    assert_eq!(&records[0][ip], "198.18.5.77");

    // Lifecycle: new -> notified -> remediated; another member's id is not found, and a bad
    // update changes nothing.
    let id_of = |ip: &str, v: &Value| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["ip"] == ip)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (_, all) = admin(&app, Method::GET, "/api/v1/findings", None).await;
    let a1 = id_of("198.18.0.10", &all);
    let a2 = id_of("198.18.200.1", &all);
    let b1 = id_of("192.0.2.44", &all);
    let status = |token: &str, body: Value| {
        let token = token.to_owned();
        let app = &app;
        async move {
            json_api(
                app,
                &token,
                Method::POST,
                "/api/v1/findings/status",
                Some(body),
            )
            .await
        }
    };
    let (s, v) = status(&a, json!([{"id": a1, "status": "notified", "note": "mailed the customer"}, {"id": b1, "status": "notified"}])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v.to_string().contains(&format!("finding {b1}: not found")),
        "{v}"
    );
    let (_, again) = admin(&app, Method::GET, "/api/v1/findings", None).await;
    assert!(
        again["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] == "new"),
        "{again}"
    );
    let (s, v) = status(
        &a,
        json!([{"id": a1, "status": "notified", "note": "mailed the customer"}]),
    )
    .await;
    assert_eq!((s, v["changed"].as_u64()), (StatusCode::OK, Some(1)), "{v}");
    let (s, _) = status(&a, json!([{"id": a1, "status": "remediated"}])).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = status(&a, json!([{"id": a1, "status": "unreachable"}])).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "remediated cannot become unreachable: {v}"
    );
    let (s, v) = status(&a, json!([{"id": a1, "status": "done"}])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // Bulk by CSV.
    let r = app
        .client
        .post(app.url("/api/v1/findings/status"))
        .bearer_auth(&a)
        .header("Content-Type", "text/csv")
        .body(format!("id,status,note\n{a2},unreachable,no answer\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, mine) = json_api(&app, &a, Method::GET, "/api/v1/findings", None).await;
    let statuses: BTreeSet<(i64, String)> = mine["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_i64().unwrap(),
                f["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (a1, "remediated".to_owned()),
            (a2, "unreachable".to_owned())
        ]
        .into_iter()
        .collect()
    );
    // A reader may look but not update.
    let reader = user(&app, "IspA", "a-reader", "reader").await;
    let (s, _) = status(&reader, json!([{"id": a2, "status": "notified"}])).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Over TAXII: the NOTICE collection shows each member its own notifications, as they
    // change; nobody else's, and never in Default or in block lists.
    notified(
        &app,
        &a,
        &[
            ("198.18.0.10", "remediated"),
            ("198.18.200.1", "unreachable"),
        ],
    )
    .await;
    notified(&app, &c, &[("198.18.5.77", "new")]).await;
    notified(
        &app,
        &b,
        &[
            ("192.0.2.44", "new"),
            ("192.0.2.46", "new"),
            ("2001:db8:b::9", "new"),
        ],
    )
    .await;
    assert_eq!(notifications(&app, TOKEN).await.len(), 6);
    let r = taxii(
        &app,
        &scanner,
        Method::GET,
        "/taxii2/isac/collections/NOTICE/objects/",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = taxii(
        &app,
        &a,
        Method::GET,
        "/taxii2/isac/collections/Default/objects/",
    )
    .send()
    .await
    .unwrap();
    let default: Value = r.json().await.unwrap();
    assert!(default.get("objects").is_none(), "{default}");
    let (s, v) = json_api(
        &app,
        &a,
        Method::GET,
        "/api/v1/exports/ip?feed=NOTICE",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // Members cannot write to it.
    let r = taxii(
        &app,
        &a,
        Method::POST,
        "/taxii2/isac/collections/NOTICE/objects/",
    )
    .header("Content-Type", crate::helpers::TAXII)
    .body(json!({"objects": []}).to_string())
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Reports: a member's own counts exact; ISAC-wide, small counts suppressed.
    let (s, r) = json_api(
        &app,
        &a,
        Method::GET,
        "/api/v1/reports/monthly?month=2026-11&org=IspA",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let row = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["finding"] == "telnet-login-prompt")
        .unwrap();
    assert_eq!(
        (
            row["findings"].as_u64(),
            row["notified"].as_u64(),
            row["remediated"].as_u64(),
            row["unreachable"].as_u64()
        ),
        (Some(2), Some(1), Some(1), Some(1))
    );
    let (s, _) = json_api(
        &app,
        &a,
        Method::GET,
        "/api/v1/reports/monthly?month=2026-11&org=IspB",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, r) = json_api(
        &app,
        &b,
        Method::GET,
        "/api/v1/reports/monthly?month=2026-11",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["members"], 3);
    assert_eq!(r["suppressed"], true);
    assert!(!r.to_string().contains("198.18"), "{r}");
    let row = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["finding"] == "telnet-login-prompt")
        .unwrap();
    assert!(
        row["findings"].is_null(),
        "3 findings from two members must not show: {row}"
    );
    let (s, _) = json_api(
        &app,
        &b,
        Method::GET,
        "/api/v1/reports/monthly?month=2026-13",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The ISAC sees the overlap and the upload records.
    let (s, o) = admin(&app, Method::GET, "/api/v1/ranges/overlaps", None).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let pairs: Vec<(String, String, String)> = o["overlaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["net"].as_str().unwrap().to_owned(),
                x["org"].as_str().unwrap().to_owned(),
                x["other_org"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        pairs.contains(&("100.64.0.0/24".into(), "IspA".into(), "IspB".into())),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&("198.18.5.0/24".into(), "CustC".into(), "IspA".into())),
        "{pairs:?}"
    );
    let (s, _) = json_api(&app, &a, Method::GET, "/api/v1/ranges/overlaps", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, u) = admin(&app, Method::GET, "/api/v1/campaigns/2026-11/uploads", None).await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["uploads"].as_array().unwrap().len(), 2);
    assert_eq!(u["uploads"][0]["unmatched"], 3);
}

#[tokio::test]
async fn stix_results_route_like_csv() {
    let app = spawn_app().await;
    org(&app, "IspA", false).await;
    org(&app, "ScanCo", false).await;
    let a = user(&app, "IspA", "a-analyst", "analyst").await;
    let scanner = user(&app, "ScanCo", "scanner", "scanner").await;
    register(&app, "IspA", "198.51.100.0/24").await;
    let (s, _) = admin(
        &app,
        Method::POST,
        "/api/v1/campaigns",
        Some(json!({"name": "infected", "kind": "standing"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let bundle = json!({"type": "bundle", "id": "bundle--6b9a8d36-9b0f-4c3c-9d07-1b7f0b7a2a01", "objects": [
        {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--5a3a5b51-0d5b-5a4e-9b62-0c5d1d1b1f01", "value": "198.51.100.7"},
        {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--5a3a5b51-0d5b-5a4e-9b62-0c5d1d1b1f02", "value": "192.0.2.1"},
        {"type": "observed-data", "spec_version": "2.1", "id": "observed-data--1a2b3c4d-0000-4000-8000-000000000001",
         "created": "2026-11-20T00:00:00.000Z", "modified": "2026-11-20T00:00:00.000Z",
         "first_observed": "2026-11-20T00:00:00Z", "last_observed": "2026-11-20T00:00:00Z", "number_observed": 1,
         "object_refs": ["ipv4-addr--5a3a5b51-0d5b-5a4e-9b62-0c5d1d1b1f01", "ipv4-addr--5a3a5b51-0d5b-5a4e-9b62-0c5d1d1b1f02"],
         "x_isac_finding": "c2-server"}
    ]});
    let (s, rec) = upload(
        &app,
        &scanner,
        "infected",
        "application/stix+json;version=2.1",
        bundle.to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{rec}");
    assert_eq!(
        (rec["added"].as_u64(), rec["unmatched"].as_u64()),
        (Some(1), Some(1)),
        "{rec}"
    );
    let (_, v) = json_api(&app, &a, Method::GET, "/api/v1/findings", None).await;
    assert_eq!(v["findings"][0]["finding"], "c2-server");
    assert_eq!(v["findings"][0]["ip"], "198.51.100.7");
    assert_eq!(v["findings"][0]["campaign"], "infected");
}

#[test]
fn the_cli_runs_a_campaign_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .map(|s| (*s).to_owned())
            .chain(["--data".to_owned(), d.to_owned()])
            .collect()
    };
    let ok =
        |args: &[&str]| crate::cli::ok(&with(args).iter().map(String::as_str).collect::<Vec<_>>());
    for name in ["IspA", "IspB"] {
        ok(&["org", "add", name, "--sector", "telecom", "--country", "JP"]);
    }
    ok(&[
        "ranges",
        "add",
        "IspA",
        "198.18.0.0/16",
        "2001:db8:a::/48",
        "AS64501",
    ]);
    ok(&["ranges", "add", "IspB", "198.19.0.0/16"]);
    // Expired before the campaign: not in its snapshot.
    ok(&[
        "ranges",
        "add",
        "IspB",
        "203.0.113.0/24",
        "--from",
        "2020-01-01T00:00:00Z",
        "--until",
        "2021-01-01T00:00:00Z",
    ]);
    let bad = run_cli(
        &with(&["ranges", "add", "IspB", "10.0.0.0/8", "--until", "soon"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--until"),
        "{:?}",
        bad
    );
    let listed = ok(&["ranges", "list", "--org", "IspA"]);
    assert!(
        listed.contains("AS64501") && listed.contains("2001:db8:a::/48"),
        "{listed}"
    );

    assert!(ok(&["campaign", "create", "2026-11"]).contains("3 networks"));
    assert_eq!(
        ok(&["campaign", "ranges", "2026-11"]),
        "198.18.0.0/15\n2001:db8:a::/48\n"
    );

    let file = dir.path().join("results.csv");
    let mut body = String::from("ip,port,protocol,finding,observed_at\n");
    for i in 0..3000 {
        body.push_str(&format!(
            "198.18.{}.{},23,tcp,telnet-login-prompt,2026-11-20T00:00:00Z\n",
            i / 250,
            i % 250
        ));
    }
    body.push_str("198.19.0.1,23,tcp,telnet-login-prompt,2026-11-20T00:00:00Z\n");
    body.push_str("198.19.0.1,23,tcp,telnet-login-prompt,2026-11-21T00:00:00Z\n");
    body.push_str("203.0.113.9,23,tcp,telnet-login-prompt,2026-11-20T00:00:00Z\n");
    body.push_str("bad line\n");
    std::fs::write(&file, body).unwrap();
    let out = run_cli(
        &with(&["campaign", "upload", "2026-11", file.to_str().unwrap()])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(said.contains("3004 lines: 3001 new findings, 1 merged into earlier ones, 1 in no member's network, 1 unreadable"), "{said}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 3005:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let csv_b = ok(&["findings", "list", "--org", "IspB"]);
    let mut lines = csv_b.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[3], "ip");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "{csv_b}");
    assert!(
        rows[0].contains("198.19.0.1") && !csv_b.contains("198.18."),
        "{csv_b}"
    );
    let id = rows[0].split(',').next().unwrap();
    assert_eq!(
        ok(&["findings", "list", "--org", "IspA"]).lines().count(),
        3001
    );

    let updates = dir.path().join("updates.csv");
    std::fs::write(
        &updates,
        format!("id,status,note\n{id},notified,called them\n"),
    )
    .unwrap();
    assert!(ok(&["findings", "update", updates.to_str().unwrap()]).contains("updated 1 findings"));
    std::fs::write(&updates, format!("{id},bogus\n")).unwrap();
    let bad = run_cli(
        &with(&["findings", "update", updates.to_str().unwrap()])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("line 1: unknown status"),
        "{bad:?}"
    );

    let report = ok(&["report", "monthly", "--month", "2026-11", "--org", "IspB"]);
    assert!(
        report.contains("telnet-login-prompt: 1 findings; 1 notified"),
        "{report}"
    );
    let wide = ok(&["report", "monthly", "--month", "2026-11"]);
    assert!(wide.contains("2 members with findings"), "{wide}");
    assert!(wide.contains("suppressed"), "{wide}");
    let overlaps = ok(&["ranges", "overlaps"]);
    assert!(overlaps.contains("no overlapping claims"), "{overlaps}");
}

fn indicator_for(ip: &str, marking: Option<&str>) -> Value {
    let mut v = json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--{}", uuid::Uuid::new_v4()),
        "created": "2026-11-20T00:00:00.000Z", "modified": "2026-11-20T00:00:00.000Z",
        "name": format!("C2: {ip}"), "pattern": format!("[ipv4-addr:value = '{ip}']"),
        "pattern_type": "stix", "valid_from": "2026-11-20T00:00:00Z"
    });
    if let Some(m) = marking {
        v["object_marking_refs"] = json!([m]);
    }
    v
}

#[tokio::test]
async fn shared_objects_notify_the_owner_within_its_rights() {
    const AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
    let app = spawn_app().await;
    for name in ["IspA", "Poster"] {
        org(&app, name, false).await;
    }
    let a = user(&app, "IspA", "a-analyst", "analyst").await;
    let p = user(&app, "Poster", "p-analyst", "analyst").await;
    register(&app, "IspA", "198.18.0.0/15").await;
    register(&app, "Poster", "192.0.2.0/24").await;
    crate::helpers::grant(&app, "C2", "org", "IspA", true, false).await;
    crate::helpers::grant(&app, "C2", "org", "Poster", true, true).await;
    crate::helpers::grant(&app, "TEST", "org", "Poster", true, true).await;
    let post = |feed: &'static str, objects: Vec<Value>| {
        let app = &app;
        let p = p.clone();
        async move {
            let (s, v) = crate::helpers::post(app, &p, feed, &objects).await;
            assert_eq!(s, StatusCode::ACCEPTED, "{v}");
            assert_eq!(v["failure_count"], 0, "{v}");
        }
    };
    post(
        "C2",
        vec![
            // In IspA's network, GREEN in a feed IspA reads: IspA is told.
            indicator_for("198.18.7.7", None),
            // AMBER, and IspA is in no trust group of C2: it may not read it, nor be told.
            indicator_for("198.18.8.8", Some(AMBER)),
            // In the poster's own network: it knows.
            indicator_for("192.0.2.9", None),
            // Nobody's.
            indicator_for("203.0.113.1", None),
        ],
    )
    .await;
    post("TEST", vec![indicator_for("198.18.9.9", None)]).await;
    notified(&app, &a, &[("198.18.7.7", "new")]).await;
    assert!(notifications(&app, &p).await.is_empty());
    let (_, v) = json_api(
        &app,
        &a,
        Method::GET,
        "/api/v1/findings?campaign=shared-objects",
        None,
    )
    .await;
    let f = &v["findings"][0];
    assert_eq!(f["finding"], "listed-malicious-host", "{v}");
    assert!(
        f["detail"]
            .as_str()
            .unwrap()
            .contains("in C2: C2: 198.18.7.7"),
        "{v}"
    );
    assert_eq!(v["findings"].as_array().unwrap().len(), 1, "{v}");
    // The same host listed again merges into the finding.
    post("C2", vec![indicator_for("198.18.7.7", None)]).await;
    for _ in 0..100 {
        let (_, v) = json_api(&app, &a, Method::GET, "/api/v1/findings", None).await;
        if v["findings"][0]["times_seen"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, v) = json_api(&app, &a, Method::GET, "/api/v1/findings", None).await;
    assert_eq!(v["findings"][0]["times_seen"], 2, "{v}");
    // A sighting of the listed server by a host in IspA's network, through observed data that
    // refers to the host's SCO.
    let host = "ipv4-addr--6b1c3d4e-5f60-5718-8a9b-0c1d2e3f4a5b";
    let od = "observed-data--7c2d4e5f-6071-4829-9bac-1d2e3f4a5b6c";
    post(
        "C2",
        vec![
            json!({"type": "ipv4-addr", "spec_version": "2.1", "id": host, "value": "198.18.10.10"}),
            json!({"type": "observed-data", "spec_version": "2.1", "id": od,
                   "created": "2026-11-21T00:00:00.000Z", "modified": "2026-11-21T00:00:00.000Z",
                   "first_observed": "2026-11-21T00:00:00Z", "last_observed": "2026-11-21T00:00:00Z",
                   "number_observed": 1, "object_refs": [host]}),
            json!({"type": "sighting", "spec_version": "2.1",
                   "id": "sighting--8d3e5f60-7182-4930-8cbd-2e3f4a5b6c7d",
                   "created": "2026-11-21T00:00:00.000Z", "modified": "2026-11-21T00:00:00.000Z",
                   "sighting_of_ref": "indicator--9e4f6071-8293-4a41-9dce-3f4a5b6c7d8e",
                   "observed_data_refs": [od]}),
        ],
    )
    .await;
    let mut kinds = BTreeSet::new();
    for _ in 0..100 {
        let (_, v) = json_api(&app, &a, Method::GET, "/api/v1/findings", None).await;
        kinds = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["ip"] == "198.18.10.10")
            .map(|f| f["finding"].as_str().unwrap().to_owned())
            .collect();
        if kinds.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(kinds, set(&["observed-host", "sighted-host"]));

    // Nobody uploads into it.
    let scanner_org = org(&app, "ScanCo", false).await;
    assert!(scanner_org.starts_with("identity--"));
    let scanner = user(&app, "ScanCo", "scanner", "scanner").await;
    let (s, v) = upload(
        &app,
        &scanner,
        "shared-objects",
        "text/csv",
        "192.0.2.1,23,tcp,x,2026-11-20\n".into(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}
