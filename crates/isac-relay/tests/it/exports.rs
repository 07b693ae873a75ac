//! Exports and the block-list exchange over HTTP: every format loaded by the real tool that
//! consumes it (named-checkzone, nft -c, suricata-check), ETag / If-None-Match, `since` diffs,
//! warning-list drops, applied-by counts, and that test feeds and what the caller may not read
//! never appear.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TOKEN, TestApp, admin, grant, json_api, new_id, org, post, spawn_app, user};

/// An indicator with a STIX pattern and extra properties.
fn ind(title: &str, pattern: &str, extra: Value) -> Value {
    let mut v = json!({
        "type": "indicator", "spec_version": "2.1", "id": new_id("indicator"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": title, "pattern": pattern, "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z"
    });
    if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    v
}

async fn post_ok(app: &TestApp, token: &str, feed: &str, objects: &[Value]) {
    let (s, status) = post(app, token, feed, objects).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{status}");
    assert_eq!(status["failure_count"], 0, "{status}");
}

struct Export {
    status: StatusCode,
    etag: Option<String>,
    token: Option<String>,
    content_type: Option<String>,
    body: String,
}

async fn export(app: &TestApp, token: &str, query: &str, if_none_match: Option<&str>) -> Export {
    let mut req = app
        .client
        .get(app.url(&format!("/api/v1/exports/{query}")))
        .bearer_auth(token);
    if let Some(e) = if_none_match {
        req = req.header("If-None-Match", e);
    }
    let r = req.send().await.unwrap();
    let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
    Export {
        status: r.status(),
        etag: h("etag"),
        token: h("x-export-token"),
        content_type: h("content-type"),
        body: r.text().await.unwrap(),
    }
}

async fn body_ok(app: &TestApp, token: &str, query: &str) -> String {
    let e = export(app, token, query, None).await;
    assert_eq!(e.status, StatusCode::OK, "{query}: {}", e.body);
    e.body
}

fn lines(body: &str) -> BTreeSet<String> {
    body.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The sample feed: public addresses, networks, domains, URLs and hashes, and what the
/// warning lists must drop.
async fn seed(app: &TestApp) {
    post_ok(
        app,
        TOKEN,
        "C2",
        &[
            ind("C2 pair", "[ipv4-addr:value = '45.9.8.6'] OR [ipv4-addr:value = '45.9.8.7']", json!({"confidence": 80})),
            ind("C2 net", "[ipv4-addr:value = '91.200.12.0/24']", json!({})),
            ind("C2 v6", "[ipv6-addr:value = '2a0b:4140::1']", json!({})),
            ind("C2 host", "[domain-name:value = 'evil-c2.xyz']", json!({})),
            ind("C2 gate", "[url:value = 'http://evil-c2.xyz/gate.php?id=1;x=\"2\"']", json!({})),
            ind("dropper", "[file:hashes.'SHA-256' = '5d41402abc4b2a76b9719d911017c592aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']", json!({})),
            ind("private", "[ipv4-addr:value = '10.1.2.3']", json!({})),
            ind("resolver", "[ipv4-addr:value = '8.8.8.8']", json!({})),
            ind("top site", "[domain-name:value = 'google.com']", json!({})),
        ],
    )
    .await;
}

fn tool(name: &str) -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../.venv-interop/bin")
        .join(name);
    if venv.exists() {
        return venv;
    }
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.exists());
    found.unwrap_or_else(|| {
        panic!("{name} is missing: scripts/test-all.sh installs it (bind9-utils, nftables, suricata-check)")
    })
}

fn check(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} refused the export:\n{text}");
    text
}

#[tokio::test]
async fn every_format_is_loaded_by_the_tool_that_consumes_it() {
    let app = spawn_app().await;
    seed(&app).await;
    let dir = tempfile::tempdir().unwrap();

    // Plain lists: aggregated, warning lists applied.
    let ip = body_ok(&app, TOKEN, "ip").await;
    assert_eq!(
        lines(&ip),
        set(&["45.9.8.6/31", "91.200.12.0/24", "2a0b:4140::1"]),
        "{ip}"
    );
    let ip = body_ok(&app, TOKEN, "ip?aggregate=false").await;
    assert_eq!(
        lines(&ip),
        set(&["45.9.8.6", "45.9.8.7", "91.200.12.0/24", "2a0b:4140::1"])
    );
    assert_eq!(
        lines(&body_ok(&app, TOKEN, "domain").await),
        set(&["evil-c2.xyz"])
    );
    assert_eq!(
        lines(&body_ok(&app, TOKEN, "url").await),
        set(&["http://evil-c2.xyz/gate.php?id=1;x=%222%22"])
    );
    assert_eq!(
        lines(&body_ok(&app, TOKEN, "hash?algorithm=sha256").await),
        set(&["5d41402abc4b2a76b9719d911017c592aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"])
    );

    // RPZ: named-checkzone loads the zone.
    let zone = body_ok(
        &app,
        TOKEN,
        "rpz?zone=rpz.example-isac.jp&action=garden:blocked.example-isac.jp",
    )
    .await;
    assert!(
        zone.contains("evil-c2.xyz CNAME blocked.example-isac.jp."),
        "{zone}"
    );
    assert!(zone.contains("*.evil-c2.xyz CNAME"), "{zone}");
    assert!(zone.contains("32.7.8.9.45.rpz-ip CNAME"), "{zone}");
    assert!(zone.contains("128.1.zz.4140.2a0b.rpz-ip CNAME"), "{zone}");
    assert!(!zone.contains("google"), "{zone}");
    let path = dir.path().join("isac.zone");
    std::fs::write(&path, &zone).unwrap();
    let out = check(
        Command::new(tool("named-checkzone"))
            .args(["rpz.example-isac.jp"])
            .arg(&path),
        "named-checkzone",
    );
    assert!(out.contains("OK"), "{out}");

    // nftables: nft checks the script (as root, without touching the ruleset).
    let nft = body_ok(&app, TOKEN, "nftables?table=isac&set=bl").await;
    assert!(
        nft.contains("add element inet isac bl_v4 { 45.9.8.6/31, 91.200.12.0/24 }"),
        "{nft}"
    );
    let path = dir.path().join("isac.nft");
    std::fs::write(&path, &nft).unwrap();
    check(
        Command::new(tool("nft")).arg("-c").arg("-f").arg(&path),
        "nft -c -f",
    );

    // Suricata: suricata-check parses every rule and finds nothing it refuses.
    let rules = body_ok(&app, TOKEN, "suricata").await;
    let n_rules = rules.lines().filter(|l| l.starts_with("alert ")).count();
    assert_eq!(
        n_rules,
        4 * 2 + 3 + 1,
        "two per address, three per domain, one per URL:\n{rules}"
    );
    let path = dir.path().join("isac.rules");
    std::fs::write(&path, &rules).unwrap();
    let out_dir = dir.path().join("suricata-check");
    check(
        Command::new(tool("suricata-check"))
            .arg("-r")
            .arg(&path)
            .arg("-o")
            .arg(&out_dir)
            .args(["--log-level", "WARNING"]),
        "suricata-check",
    );
    let log = std::fs::read_to_string(out_dir.join("suricata-check.log")).unwrap_or_default();
    assert!(!log.contains("Error parsing rule"), "{log}");
    // Suricata takes any metadata key; an unknown keyword would be a rule it cannot load.
    for l in log.lines().filter(|l| l.contains("is not recognized")) {
        assert!(l.contains("Metadata option"), "{l}");
    }
    let report = std::fs::read_to_string(out_dir.join("suricata-check.jsonl")).unwrap();
    let checked: Vec<Value> = report
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(checked.len(), n_rules, "every rule was parsed");
    for r in &checked {
        for issue in r["issues"].as_array().unwrap() {
            assert_ne!(issue["checker"], "MandatoryChecker", "{r}");
        }
    }

    // ipset: an atomic swap of filled sets.
    let ipset = body_ok(&app, TOKEN, "ipset").await;
    assert!(
        ipset.contains("create blocklist-v4 hash:net family inet maxelem 65536 -exist"),
        "{ipset}"
    );
    assert!(ipset.contains("add blocklist-v4-new 45.9.8.7\n"), "{ipset}");
    assert!(
        ipset.contains("swap blocklist-v6-new blocklist-v6"),
        "{ipset}"
    );

    // CSV and STIX carry every kind, with their attributes.
    let e = export(&app, TOKEN, "csv?kind=ip", None).await;
    assert_eq!(e.content_type.as_deref(), Some("text/csv; charset=utf-8"));
    let mut rows = e.body.lines();
    assert_eq!(
        rows.next(),
        Some(
            "kind,value,feeds,severity,confidence,corroboration,applied_by,tlp,first_seen,last_seen,valid_until"
        )
    );
    let first: Vec<&str> = rows.next().unwrap().split(',').collect();
    assert_eq!(
        &first[..8],
        ["ipv4", "45.9.8.6", "C2", "urgent", "80", "1", "0", "green"]
    );
    let bundle: Value = serde_json::from_str(&body_ok(&app, TOKEN, "stix").await).unwrap();
    assert_eq!(bundle["type"], "bundle");
    let objects = bundle["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 7, "{bundle}");
    for o in objects {
        let report = stix::check_object(o);
        assert!(report.is_ok(), "{o}: {report:?}");
    }

    // What the warning lists dropped, and why.
    let (s, v) = json_api(
        &app,
        TOKEN,
        Method::GET,
        "/api/v1/exports/csv/dropped",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let reasons: BTreeSet<(String, String)> = v["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["value"].as_str().unwrap().to_owned(),
                d["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("10.1.2.3", "reserved"),
            ("8.8.8.8", "resolver"),
            ("google.com", "top-site")
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
    );

    // Bad requests are named and answered as JSON errors.
    for (q, status, needle) in [
        ("pdf", StatusCode::BAD_REQUEST, "unknown export format"),
        ("ip?feed=NOPE", StatusCode::NOT_FOUND, "no feed 'NOPE'"),
        ("ip?feed=TEST", StatusCode::BAD_REQUEST, "test feed"),
        ("ip?since=abc", StatusCode::BAD_REQUEST, "aggregated"),
        ("domain?since=abc", StatusCode::BAD_REQUEST, "not a token"),
    ] {
        let e = export(&app, TOKEN, q, None).await;
        assert_eq!(e.status, status, "{q}: {}", e.body);
        assert_eq!(e.content_type.as_deref(), Some("application/json"), "{q}");
        assert!(e.body.contains(needle), "{q}: {}", e.body);
    }
}

#[tokio::test]
async fn unchanged_exports_are_304_and_since_returns_the_changes() {
    let app = spawn_app().await;
    let old = ind("C2 one", "[domain-name:value = 'old-c2.xyz']", json!({}));
    post_ok(
        &app,
        TOKEN,
        "C2",
        &[
            old.clone(),
            ind("C2 two", "[domain-name:value = 'kept-c2.xyz']", json!({})),
        ],
    )
    .await;

    let first = export(&app, TOKEN, "domain", None).await;
    let first_csv = export(&app, TOKEN, "csv?kind=domain", None).await;
    let first_rpz = export(&app, TOKEN, "rpz?kind=domain", None).await;
    assert_eq!(lines(&first.body), set(&["kept-c2.xyz", "old-c2.xyz"]));
    let etag = first.etag.clone().unwrap();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "a strong ETag: {etag}"
    );
    let again = export(&app, TOKEN, "domain", Some(&etag)).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.etag.as_deref(), Some(etag.as_str()));
    // Another format or filter is another representation.
    let other = export(&app, TOKEN, "rpz", Some(&etag)).await;
    assert_eq!(other.status, StatusCode::OK);

    // A posted object that exports nothing changes nothing.
    post_ok(
        &app,
        TOKEN,
        "C2",
        &[json!({
            "type": "malware", "spec_version": "2.1", "id": new_id("malware"),
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "name": "C2 family", "is_family": true
        })],
    )
    .await;
    assert_eq!(
        export(&app, TOKEN, "domain", Some(&etag)).await.status,
        StatusCode::NOT_MODIFIED
    );

    // Revoke one, add one: the ETag changes and `since` answers the difference.
    let mut revoked = old.clone();
    revoked["modified"] = json!("2026-02-01T00:00:00.000Z");
    revoked["revoked"] = json!(true);
    post_ok(
        &app,
        TOKEN,
        "C2",
        &[
            revoked,
            ind("C2 three", "[domain-name:value = 'new-c2.xyz']", json!({})),
        ],
    )
    .await;
    let changed = export(&app, TOKEN, "domain", Some(&etag)).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_ne!(changed.etag.as_deref(), Some(etag.as_str()));
    assert_eq!(lines(&changed.body), set(&["kept-c2.xyz", "new-c2.xyz"]));

    let token = first.token.unwrap();
    let diff = body_ok(&app, TOKEN, &format!("domain?since={token}")).await;
    assert_eq!(diff, "+new-c2.xyz\n-old-c2.xyz\n");
    // Applying the diff to the first export gives the current one.
    let mut patched = lines(&first.body);
    for l in diff.lines() {
        let (op, v) = l.split_at(1);
        if op == "+" {
            patched.insert(v.to_owned());
        } else {
            patched.remove(v);
        }
    }
    assert_eq!(patched, lines(&changed.body));
    let csv_token = first_csv.token.unwrap();
    let csv = body_ok(&app, TOKEN, &format!("csv?kind=domain&since={csv_token}")).await;
    assert!(csv.starts_with("action,kind,value,"), "{csv}");
    assert!(csv.contains("\nadd,domain,new-c2.xyz,C2,"), "{csv}");
    assert!(csv.contains("\nremove,domain,old-c2.xyz,"), "{csv}");
    let nsupdate = body_ok(
        &app,
        TOKEN,
        &format!("rpz?kind=domain&since={}", first_rpz.token.unwrap()),
    )
    .await;
    assert_eq!(
        nsupdate,
        "update add new-c2.xyz.rpz.isac-relay. 300 CNAME .\n\
         update add *.new-c2.xyz.rpz.isac-relay. 300 CNAME .\n\
         update delete old-c2.xyz.rpz.isac-relay. CNAME\n\
         update delete *.old-c2.xyz.rpz.isac-relay. CNAME\n\
         send\n"
    );
    let now = export(&app, TOKEN, "rpz?kind=domain", None)
        .await
        .token
        .unwrap();
    assert_eq!(
        body_ok(&app, TOKEN, &format!("rpz?kind=domain&since={now}")).await,
        "",
        "nothing changed since"
    );

    // A token from other parameters is refused as gone: fetch the whole list again.
    let e = export(&app, TOKEN, &format!("url?since={token}"), None).await;
    assert_eq!(e.status, StatusCode::GONE, "{}", e.body);
}

#[tokio::test]
async fn applied_lists_are_exchanged_and_counted() {
    let app = spawn_app().await;
    org(&app, "IspA", false).await;
    org(&app, "IspB", false).await;
    let a = user(&app, "IspA", "noc-a", "analyst").await;
    let b = user(&app, "IspB", "noc-b", "analyst").await;
    let reader = user(&app, "IspB", "reader-b", "reader").await;
    for o in ["IspA", "IspB"] {
        grant(&app, "C2", "org", o, true, true).await;
    }
    let upload = |token: String, body: &'static str, ct: &'static str| {
        let app = &app;
        async move {
            let r = app
                .client
                .put(app.url("/api/v1/applied/C2?expires=7d"))
                .bearer_auth(token)
                .header("Content-Type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            let s = r.status();
            (s, r.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = upload(
        a.clone(),
        "# border list\n45.9.8.7\nshared-c2.xyz\nonly-a.xyz\n",
        "text/plain",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["entries"].as_u64(), v["added"].as_u64()),
        (Some(3), Some(3)),
        "{v}"
    );
    let (s, v) = upload(
        b.clone(),
        "kind,value\ndomain,shared-c2.xyz\nip,45.9.8.7\n",
        "text/csv",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Every entry carries how many members apply it; the filter keeps the agreed ones.
    let csv = body_ok(&app, &reader, "csv").await;
    assert!(
        csv.contains("\nipv4,45.9.8.7,C2,urgent,,0,2,green,"),
        "{csv}"
    );
    assert!(
        csv.contains("\ndomain,only-a.xyz,C2,urgent,,0,1,green,"),
        "{csv}"
    );
    assert_eq!(
        lines(&body_ok(&app, &reader, "domain?min_applied_by=2").await),
        set(&["shared-c2.xyz"])
    );

    // A new upload replaces the list: what disappears is withdrawn.
    let (s, v) = upload(a.clone(), "45.9.8.7\nonly-a.xyz\n", "text/plain").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["added"].as_u64(), v["withdrawn"].as_u64()),
        (Some(0), Some(1)),
        "{v}"
    );
    assert_eq!(
        lines(&body_ok(&app, &reader, "domain?min_applied_by=2").await),
        BTreeSet::new()
    );
    let (s, v) = json_api(&app, &a, Method::GET, "/api/v1/applied/C2", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["entries"].as_array().unwrap().len(), 2, "{v}");

    // A bad line is reported by number and nothing changes.
    let (s, v) = upload(a.clone(), "45.9.8.7\nnot a value at all\n", "text/plain").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["description"].as_str().unwrap().contains("line 2:"),
        "{v}"
    );
    let (_, v) = json_api(&app, &a, Method::GET, "/api/v1/applied/C2", None).await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 2, "{v}");

    // Sharing a list needs the right to write the feed; test feeds take none.
    let (s, _) = upload(reader.clone(), "45.9.8.7\n", "text/plain").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let r = app
        .client
        .put(app.url("/api/v1/applied/TEST"))
        .bearer_auth(TOKEN)
        .body("45.9.8.7\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Withdrawing the list removes its entries from everyone's exports.
    let (s, _) = json_api(&app, &b, Method::DELETE, "/api/v1/applied/C2", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(
        !body_ok(&app, &reader, "domain")
            .await
            .contains("shared-c2.xyz")
    );
}

#[tokio::test]
async fn test_feeds_unreadable_feeds_and_own_networks_never_appear() {
    let app = spawn_app().await;
    org(&app, "Member", false).await;
    let m = user(&app, "Member", "soc", "reader").await;
    grant(&app, "C2", "org", "Member", true, false).await;
    post_ok(&app, TOKEN, "C2", &[
        ind("C2 a", "[domain-name:value = 'readable-c2.xyz']", json!({})),
        ind("C2 amber", "[domain-name:value = 'amber-c2.xyz']",
            json!({"object_marking_refs": ["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"]})),
        ind("C2 own", "[ipv4-addr:value = '61.100.7.7']", json!({})),
        ind("C2 other", "[ipv4-addr:value = '45.9.8.7']", json!({})),
    ]).await;
    post_ok(
        &app,
        TOKEN,
        "TEST",
        &[ind(
            "test",
            "[domain-name:value = 'test-only.xyz']",
            json!({}),
        )],
    )
    .await;
    post_ok(
        &app,
        TOKEN,
        "CX",
        &[ind("cx", "[domain-name:value = 'cx-only.xyz']", json!({}))],
    )
    .await;

    // The administrator sees every regular feed, never TEST.
    assert_eq!(
        lines(&body_ok(&app, TOKEN, "domain").await),
        set(&["amber-c2.xyz", "cx-only.xyz", "readable-c2.xyz"])
    );
    // The member sees what it may read, at the TLP it may see.
    assert_eq!(
        lines(&body_ok(&app, &m, "domain").await),
        set(&["readable-c2.xyz"])
    );
    assert_eq!(
        export(&app, &m, "domain?feed=CX", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        export(&app, &m, "domain?feed=TEST", None).await.status,
        StatusCode::NOT_FOUND
    );

    // Its own network is never exported to it; others still get the entry.
    let (s, v) = admin(
        &app,
        Method::POST,
        "/api/v1/orgs/Member/assets",
        Some(json!({"value": "61.100.0.0/16"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(lines(&body_ok(&app, &m, "ip").await), set(&["45.9.8.7"]));
    assert_eq!(
        lines(&body_ok(&app, TOKEN, "ip").await),
        set(&["45.9.8.7", "61.100.7.7"])
    );
    let (_, v) = json_api(&app, &m, Method::GET, "/api/v1/exports/ip/dropped", None).await;
    assert_eq!(v["dropped"][0]["reason"], "own-network", "{v}");

    // The allowlist is the administrator's, and applies to everyone.
    let (s, _) = json_api(
        &app,
        &m,
        Method::POST,
        "/api/v1/allowlist",
        Some(json!({"value": "x.xyz", "reason": "r"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = admin(
        &app,
        Method::POST,
        "/api/v1/allowlist",
        Some(json!({"value": "readable-c2.xyz", "reason": "sinkholed by a member"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(lines(&body_ok(&app, &m, "domain").await), BTreeSet::new());
    let (_, v) = json_api(
        &app,
        &m,
        Method::GET,
        "/api/v1/exports/domain/dropped",
        None,
    )
    .await;
    assert_eq!(v["dropped"][0]["reason"], "allowlist", "{v}");
    assert!(
        v["dropped"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("sinkholed"),
        "{v}"
    );
}
