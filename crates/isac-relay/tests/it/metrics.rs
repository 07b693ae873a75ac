//! Metrics over HTTP and on the command line, from a history with known answers: four
//! members post and sight C2 indicators; coverage, lead times and daily counts (with a
//! country database) as the ISAC administrator sees them and as a member does (its own
//! figures and aggregates only), CSV and SVG forms, recomputation, and the Prometheus
//! endpoint checked by `promtool`.

use std::io::Write;
use std::process::{Command, Stdio};

use relay_core::RelayConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cli::ok;
use crate::helpers::{
    TOKEN, TestApp, grant, json_api, new_id, org, post, spawn_app_configured, user,
};

fn c2(id: &str, ip: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
        "name": "C2 server", "pattern": format!("[ipv4-addr:value = '{ip}']"),
        "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z"
    })
}

fn sighting(of: &str) -> Value {
    json!({
        "type": "sighting", "spec_version": "2.1", "id": new_id("sighting"),
        "created": "2026-11-02T00:00:00.000Z", "modified": "2026-11-02T00:00:00.000Z",
        "sighting_of_ref": of
    })
}

struct History {
    app: TestApp,
    tokens: Vec<String>,
    _geo: tempfile::TempDir,
}

/// O1 posts ip1 and ip2; O2 posts ip1; O3 posts ip1 and ip3; O4 posts ip4 and sights O1's
/// ip2 indicator. ip1 and ip2 are in Japan, ip3 in the US, ip4 nowhere known.
async fn history() -> History {
    let geo = tempfile::tempdir().unwrap();
    let db = geo.path().join("geo.csv");
    std::fs::write(
        &db,
        "network,country,asn\n198.51.100.0/25,JP,64500\n198.51.100.128/25,us,\n",
    )
    .unwrap();
    let app = spawn_app_configured(
        RelayConfig::default(),
        server::ServerConfig {
            geo_db: Some(db),
            ..server::ServerConfig::default()
        },
    )
    .await;
    let mut tokens = Vec::new();
    for i in 1..=4 {
        let name = format!("O{i}");
        org(&app, &name, false).await;
        grant(&app, "C2", "org", &name, true, true).await;
        tokens.push(user(&app, &name, &format!("o{i}-analyst"), "analyst").await);
    }
    let ip2_indicator = new_id("indicator");
    let posts: Vec<(usize, Vec<Value>)> = vec![
        (
            0,
            vec![
                c2(&new_id("indicator"), "198.51.100.1"),
                c2(&ip2_indicator, "198.51.100.2"),
            ],
        ),
        (1, vec![c2(&new_id("indicator"), "198.51.100.1")]),
        (
            2,
            vec![
                c2(&new_id("indicator"), "198.51.100.1"),
                c2(&new_id("indicator"), "198.51.100.200"),
            ],
        ),
        (
            3,
            vec![
                c2(&new_id("indicator"), "203.0.113.9"),
                sighting(&ip2_indicator),
            ],
        ),
    ];
    for (who, objects) in posts {
        let (s, v) = post(&app, &tokens[who], "C2", &objects).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        assert_eq!(v["success_count"], objects.len(), "{v}");
    }
    History {
        app,
        tokens,
        _geo: geo,
    }
}

/// (org, kind, reported, unique, preceded) of a coverage answer.
fn org_rows(v: &Value) -> Vec<(String, String, u64, u64, u64)> {
    v["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["org"].as_str().unwrap().to_owned(),
                o["kind"].as_str().unwrap().to_owned(),
                o["reported"].as_u64().unwrap(),
                o["unique"].as_u64().unwrap(),
                o["preceded"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn row(org: &str, reported: u64, unique: u64, preceded: u64) -> (String, String, u64, u64, u64) {
    (org.into(), "ipv4".into(), reported, unique, preceded)
}

#[tokio::test]
async fn coverage_and_lead_times_by_who_asks() {
    let h = history().await;
    let app = &h.app;
    let (s, all) = json_api(app, TOKEN, Method::GET, "/api/v1/metrics/coverage", None).await;
    assert_eq!(s, StatusCode::OK, "{all}");
    assert_eq!(
        org_rows(&all),
        [
            row("O1", 2, 0, 0),
            row("O2", 1, 0, 1),
            row("O3", 2, 1, 1),
            row("O4", 2, 1, 1)
        ]
    );
    let pairs: Vec<(String, String, u64, f64)> = all["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["a"].as_str().unwrap().to_owned(),
                p["b"].as_str().unwrap().to_owned(),
                p["shared"].as_u64().unwrap(),
                p["jaccard"].as_f64().unwrap(),
            )
        })
        .collect();
    let pair = |a: &str, b: &str, shared, j| (a.to_owned(), b.to_owned(), shared, j);
    assert_eq!(
        pairs,
        [
            pair("O1", "O2", 1, 0.5),
            pair("O1", "O3", 1, 1.0 / 3.0),
            pair("O1", "O4", 1, 1.0 / 3.0),
            pair("O2", "O3", 1, 0.5),
        ]
    );
    let total = &all["totals"][0];
    assert_eq!(
        (total["organisations"].as_u64(), total["reports"].as_u64()),
        (Some(4), Some(7))
    );
    // Six pairs of four organisations; two share nothing.
    let mean = (0.5 + 1.0 / 3.0 + 1.0 / 3.0 + 0.5) / 6.0;
    assert!(
        (total["mean_jaccard"].as_f64().unwrap() - mean).abs() < 1e-9,
        "{total}"
    );

    // A member: its own row, no pairs, the aggregate over four organisations.
    let (s, mine) = json_api(
        app,
        &h.tokens[1],
        Method::GET,
        "/api/v1/metrics/coverage",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    assert_eq!(org_rows(&mine), [row("O2", 1, 0, 1)]);
    assert_eq!(mine["pairs"], json!([]));
    assert_eq!(mine["totals"], all["totals"]);
    let text = mine.to_string();
    for other in ["O1", "O3", "O4"] {
        assert!(
            !text.contains(&format!("\"{other}\"")),
            "{other} leaks: {text}"
        );
    }

    // Lead times: positive, the member's own only.
    let (_, leads) = json_api(app, TOKEN, Method::GET, "/api/v1/metrics/leadtime", None).await;
    let who: Vec<&str> = leads["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["org"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["O2", "O3", "O4"]);
    for l in leads["leads"].as_array().unwrap() {
        assert_eq!(l["preceded"], 1);
        let (m, p90) = (
            l["median_seconds"].as_f64().unwrap(),
            l["p90_seconds"].as_f64().unwrap(),
        );
        assert!(m > 0.0 && m == p90, "{l}");
    }
    let o2 = &leads["leads"][0];
    let o4 = &leads["leads"][2];
    assert!(
        o4["median_seconds"].as_f64() > o2["median_seconds"].as_f64(),
        "O4 reported later than O2: {leads}"
    );
    let (_, own) = json_api(
        app,
        &h.tokens[1],
        Method::GET,
        "/api/v1/metrics/leadtime",
        None,
    )
    .await;
    assert_eq!(own["leads"], json!([leads["leads"][0]]));

    // CSV, and a format nobody offers.
    let r = app
        .client
        .get(app.url("/api/v1/metrics/coverage?format=csv"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = r.text().await.unwrap();
    assert!(
        csv.starts_with(
            "table,kind,org,other,organisations,reported,unique,preceded,shared,share\n"
        )
    );
    assert!(csv.contains("\npair,ipv4,O1,O2,,,,,1,0.5000\n"), "{csv}");
    let (s, v) = json_api(
        app,
        TOKEN,
        Method::GET,
        "/api/v1/metrics/leadtime?format=xml",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

    // One observable: who first reported it, when; a member sees its own report only (the
    // first, when it was the first).
    let path = "/api/v1/metrics/observable?kind=ipv4&value=198.51.100.1";
    let (s, v) = json_api(app, TOKEN, Method::GET, path, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let orgs: Vec<&str> = v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["org"].as_str().unwrap())
        .collect();
    assert_eq!(orgs, ["O1", "O2", "O3"]);
    assert_eq!(v["first"], v["reports"][0]["at"]);
    let (_, o2) = json_api(app, &h.tokens[1], Method::GET, path, None).await;
    assert_eq!(o2["reports"], json!([v["reports"][1]]));
    assert_eq!(o2["first"], Value::Null);
    let (_, o1) = json_api(app, &h.tokens[0], Method::GET, path, None).await;
    assert_eq!(
        (o1["reports"].as_array().unwrap().len(), &o1["first"]),
        (1, &v["first"])
    );
    let (_, o4) = json_api(app, &h.tokens[3], Method::GET, path, None).await;
    assert_eq!(
        (o4["reports"].clone(), o4["first"].clone()),
        (json!([]), Value::Null)
    );
    let (_, sighted) = json_api(
        app,
        &h.tokens[3],
        Method::GET,
        "/api/v1/metrics/observable?kind=ipv4&value=198.51.100.2",
        None,
    )
    .await;
    assert_eq!(
        sighted["reports"][0]["org"], "O4",
        "a sighting reports what it refers to: {sighted}"
    );
    let (s, _) = json_api(
        app,
        TOKEN,
        Method::GET,
        "/api/v1/metrics/observable?value=x",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let get = |path: &'static str| json_api(app, TOKEN, Method::GET, path, None);
    let (s, bad) = get("/api/v1/metrics/observable?kind=colour&value=x").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(bad.to_string().contains("colour"), "{bad}");
    let (s, bad) = get("/api/v1/metrics/observable?kind=ipv4&value=2001:db8::1").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    // Values are read in their normal form.
    let (_, same) = get("/api/v1/metrics/observable?kind=IPv4&value=%20198.51.100.1").await;
    assert_eq!(same, v);

    // Rebuilt from the reports: the same figures; members may not rebuild.
    let (s, _) = json_api(
        app,
        &h.tokens[0],
        Method::POST,
        "/api/v1/metrics/recompute",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = json_api(app, TOKEN, Method::POST, "/api/v1/metrics/recompute", None).await;
    assert_eq!((s, &v["reports"]), (StatusCode::OK, &json!(7)), "{v}");
    let (_, again) = json_api(app, TOKEN, Method::GET, "/api/v1/metrics/coverage", None).await;
    assert_eq!(again, all);

    // The command line reads the same data directory.
    let dir = app.data_dir().to_str().unwrap().to_owned();
    let out = ok(&["metrics", "coverage", "--format", "csv", "--data", &dir]);
    assert_eq!(out.trim_end(), csv.trim_end());
    let out = ok(&["metrics", "leadtime", "--data", &dir]);
    let cli: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cli["leads"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn daily_counts_with_countries_and_suppression() {
    let h = history().await;
    let app = &h.app;
    let today = &stix::Timestamp::now().to_string()[..10];
    let (s, all) = json_api(app, TOKEN, Method::GET, "/api/v1/metrics/daily", None).await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let cells: Vec<(String, String, String, Value, String, u64)> = all["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["day"].as_str().unwrap().to_owned(),
                c["category"].as_str().unwrap().to_owned(),
                c["feed"].as_str().unwrap().to_owned(),
                c["country"].clone(),
                c["sector"].as_str().unwrap().to_owned(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    let cell = |country: Value, n| {
        (
            today.to_owned(),
            "c2".into(),
            "C2".into(),
            country,
            "broadcast".into(),
            n,
        )
    };
    assert_eq!(
        cells,
        [
            cell(Value::Null, 1),
            cell(json!("JP"), 2),
            cell(json!("US"), 1)
        ],
        "ip1 and ip2 first by O1 (JP), ip3 by O3 (US), ip4 by O4 (unknown)"
    );
    // A member: every cell comes from fewer than three other organisations, and leaves no
    // trace.
    let (_, mine) = json_api(
        app,
        &h.tokens[0],
        Method::GET,
        "/api/v1/metrics/daily",
        None,
    )
    .await;
    assert_eq!(mine["counts"], json!([]));
    assert!(mine.get("suppressed").is_none(), "{mine}");
    // Another period: nothing; a period backwards: an error naming it.
    let (_, old) = json_api(
        app,
        TOKEN,
        Method::GET,
        "/api/v1/metrics/daily?from=2020-01-01&to=2020-01-31",
        None,
    )
    .await;
    assert_eq!(old["counts"], json!([]));
    let (s, bad) = json_api(
        app,
        TOKEN,
        Method::GET,
        "/api/v1/metrics/daily?from=2026-02-01&to=2026-01-01",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    let (s, bad) = json_api(
        app,
        TOKEN,
        Method::GET,
        "/api/v1/metrics/daily?from=yesterday",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(bad.to_string().contains("yesterday"), "{bad}");

    // Charts.
    for path in ["/api/v1/metrics/daily.svg", "/api/v1/metrics/leadtime.svg"] {
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["content-type"], "image/svg+xml");
        let svg = r.text().await.unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{path}"
        );
    }
    let r = app
        .client
        .get(app.url("/api/v1/metrics/daily.svg"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let svg = r.text().await.unwrap();
    assert!(
        svg.contains("c2") && svg.contains("phishing") && svg.contains("<polyline"),
        "{svg}"
    );

    // The command line, with the database given on it.
    let dir = app.data_dir().to_str().unwrap().to_owned();
    let geo = h._geo.path().join("geo.csv");
    let out = ok(&[
        "metrics",
        "daily",
        "--format",
        "csv",
        "--geo-db",
        geo.to_str().unwrap(),
        "--data",
        &dir,
    ]);
    assert_eq!(
        out.trim_end(),
        format!(
            "day,category,feed,kind,country,sector,count\n\
             {today},c2,C2,ipv4,,broadcast,1\n\
             {today},c2,C2,ipv4,JP,broadcast,2\n\
             {today},c2,C2,ipv4,US,broadcast,1"
        )
    );
    let bad = crate::cli::run_cli(&[
        "metrics",
        "daily",
        "--geo-db",
        "/nonexistent.mmdb",
        "--data",
        &dir,
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent.mmdb"));
}

#[tokio::test]
async fn prometheus_endpoint_passes_promtool_and_is_for_administrators() {
    let h = history().await;
    let app = &h.app;
    json_api(app, TOKEN, Method::GET, "/api/v1/metrics/coverage", None).await;
    let r = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&h.tokens[0])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text().await.unwrap();
    for needle in [
        "relay_http_requests_total{route=\"/api/v1/metrics/coverage\",method=\"GET\",status=\"200\"}",
        "relay_http_request_duration_seconds_bucket{route=\"/taxii2/isac/collections/{cid}/objects/\",method=\"POST\",le=\"0.005\"}",
        "relay_objects_ingested_total",
        "relay_feed_objects{feed=\"C2\"} 7",
        "relay_stream_subscribers 0",
        "relay_store_bytes",
        "# HELP relay_objects_ingested_total",
    ] {
        assert!(text.contains(needle), "no {needle} in:\n{text}");
    }
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; scripts/test-all.sh installs it)");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
