//! The access matrix: five organisations (one a partner) in two trust groups, three feeds with
//! different grants, objects of every TLP (2.0 and 1.0, and none) posted by three organisations;
//! then every read path × every organisation × every role is compared with an independent model
//! of the rules. Any object seen where it must not be (LEAK) or missing where it must be (MISS)
//! fails the test, which prints the whole matrix.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TAXII, TestApp, json_api, new_id, spawn_app};

const CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
const WHITE: &str = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
const GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const AMBER1: &str = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
const AMBER_STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
const RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
pub const RECIPIENTS: &str = "extension-definition--b8bd769d-49d5-460a-94f5-6557001016af";

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Level {
    Clear,
    Green,
    Amber,
    AmberStrict,
    Red,
}

/// An organisation of the scenario.
struct OrgSpec {
    name: &'static str,
    partner: bool,
    groups: &'static [&'static str],
}

const ORGS: &[OrgSpec] = &[
    OrgSpec {
        name: "TelcoA",
        partner: false,
        groups: &["telecom-wg"],
    },
    OrgSpec {
        name: "TelcoB",
        partner: false,
        groups: &["telecom-wg", "finance-coop"],
    },
    OrgSpec {
        name: "BcastC",
        partner: false,
        groups: &["finance-coop"],
    },
    OrgSpec {
        name: "BankD",
        partner: true,
        groups: &["finance-coop"],
    },
    OrgSpec {
        name: "VendorE",
        partner: false,
        groups: &[],
    },
    OrgSpec {
        name: "CertF",
        partner: true,
        groups: &[],
    },
];

/// Grants: feed, grantee kind, grantee, read, write.
const GRANTS: &[(&str, &str, &str, bool, bool)] = &[
    ("C2", "group", "telecom-wg", true, true),
    ("C2", "group", "finance-coop", true, false),
    ("C2", "org", "VendorE", true, false),
    ("CX", "group", "finance-coop", true, true),
    ("CX", "org", "TelcoA", true, false),
    ("CX", "org", "CertF", true, false),
    ("TEST", "org", "BankD", true, true),
];

/// What each poster posts where, with the feed's default TLP.
const POSTS: &[(&str, &str)] = &[
    ("TelcoA", "C2"),
    ("TelcoB", "C2"),
    ("BcastC", "CX"),
    ("BankD", "TEST"),
];

const FEEDS: &[(&str, &str)] = &[("C2", "amber"), ("CX", "green"), ("TEST", "clear")];

const ROLES: &[&str] = &["org-admin", "analyst", "reader"];

/// One posted object and what the model needs to know of it.
struct Obj {
    id: String,
    domain: String,
    feed: &'static str,
    poster: &'static str,
    level: Level,
    recipients: Vec<&'static str>,
    label: String,
}

struct Viewer {
    label: String,
    org: &'static str,
    isac_admin: bool,
    token: String,
}

fn level_of(s: &str) -> Level {
    match s {
        "clear" => Level::Clear,
        "green" => Level::Green,
        "amber" => Level::Amber,
        _ => unreachable!("{s}"),
    }
}

fn in_group_reading(org: &str, feed: &str) -> bool {
    let groups = ORGS
        .iter()
        .find(|o| o.name == org)
        .map_or(&[][..], |o| o.groups);
    GRANTS
        .iter()
        .any(|(f, kind, g, read, _)| *f == feed && *kind == "group" && *read && groups.contains(g))
}

fn can_read_feed(org: &str, feed: &str) -> bool {
    org == "ISAC"
        || in_group_reading(org, feed)
        || GRANTS
            .iter()
            .any(|(f, kind, o, read, _)| *f == feed && *kind == "org" && *o == org && *read)
}

fn can_write_feed(org: &str, feed: &str) -> bool {
    let groups = ORGS
        .iter()
        .find(|o| o.name == org)
        .map_or(&[][..], |o| o.groups);
    org == "ISAC"
        || GRANTS.iter().any(|(f, kind, g, _, write)| {
            *f == feed
                && *write
                && ((*kind == "group" && groups.contains(g)) || (*kind == "org" && *g == org))
        })
}

/// The rules, written out independently of the relay's policy code.
fn expected(v: &Viewer, o: &Obj) -> bool {
    if v.isac_admin {
        return true;
    }
    if !can_read_feed(v.org, o.feed) {
        return false;
    }
    if v.org == o.poster {
        return true;
    }
    let partner = ORGS.iter().any(|x| x.name == v.org && x.partner);
    match o.level {
        Level::Clear => true,
        Level::Green => v.org == "ISAC" || !partner || in_group_reading(v.org, o.feed),
        Level::Amber => v.org == "ISAC" || in_group_reading(v.org, o.feed),
        Level::AmberStrict => v.org == "ISAC",
        Level::Red => o.recipients.contains(&v.org),
    }
}

async fn api(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, v) = json_api(app, crate::helpers::TOKEN, method.clone(), path, body).await;
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v
}

/// Sets up the scenario through the admin HTTP API; returns the viewers (one per organisation
/// and role, plus the ISAC's administrator and an ISAC analyst) and the identities by name.
async fn scenario(app: &TestApp) -> (Vec<Viewer>, BTreeMap<String, String>) {
    let mut identities = BTreeMap::new();
    for o in ORGS {
        let org = api(
            app,
            Method::POST,
            "/api/v1/orgs",
            Some(
                json!({"name": o.name, "sector": "telecom", "country": "jp", "partner": o.partner}),
            ),
        )
        .await;
        identities.insert(
            o.name.to_owned(),
            org["identity"]["id"].as_str().unwrap().to_owned(),
        );
    }
    for g in ["telecom-wg", "finance-coop"] {
        api(
            app,
            Method::POST,
            "/api/v1/groups",
            Some(json!({"name": g})),
        )
        .await;
    }
    for o in ORGS {
        for g in o.groups {
            api(
                app,
                Method::PUT,
                &format!("/api/v1/groups/{g}/members/{}", o.name),
                None,
            )
            .await;
        }
    }
    for (feed, tlp) in FEEDS {
        if *feed != "TEST" {
            // The catalogue ships C2 and CX; the scenario sets their default TLP.
            api(
                app,
                Method::PATCH,
                &format!("/api/v1/feeds/{feed}"),
                Some(json!({"default_tlp": tlp})),
            )
            .await;
        }
    }
    for (feed, kind, name, read, write) in GRANTS {
        api(
            app,
            Method::PUT,
            &format!("/api/v1/feeds/{feed}/grants/{kind}/{name}"),
            Some(json!({"read": read, "write": write})),
        )
        .await;
    }
    let mut viewers = vec![Viewer {
        label: "ISAC/isac-admin".into(),
        org: "ISAC",
        isac_admin: true,
        token: crate::helpers::TOKEN.into(),
    }];
    let mut users: Vec<(&'static str, &'static str)> = vec![("ISAC", "analyst")];
    for o in ORGS {
        for r in ROLES {
            users.push((o.name, r));
        }
    }
    for (org, role) in users {
        let name = format!("{org}-{role}");
        api(
            app,
            Method::POST,
            "/api/v1/users",
            Some(json!({"org": org, "name": name, "role": role})),
        )
        .await;
        let t = api(
            app,
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"user": name, "name": "matrix"})),
        )
        .await;
        viewers.push(Viewer {
            label: format!("{org}/{role}"),
            org,
            isac_admin: false,
            token: t["token"].as_str().unwrap().to_owned(),
        });
    }
    (viewers, identities)
}

fn indicator(id: &str, domain: &str, marking: Option<&str>) -> Value {
    let mut o = json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": id,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "pattern": format!("[domain-name:value = '{domain}']"),
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
    });
    if let Some(m) = marking {
        o["object_marking_refs"] = json!([m]);
    }
    o
}

fn send(app: &TestApp, token: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("Accept", TAXII)
}

async fn post_all(app: &TestApp, viewers: &[Viewer], ids: &BTreeMap<String, String>) -> Vec<Obj> {
    let markings: [(&str, Option<&str>, Option<Level>); 7] = [
        ("clear", Some(CLEAR), Some(Level::Clear)),
        ("white1", Some(WHITE), Some(Level::Clear)),
        ("green", Some(GREEN), Some(Level::Green)),
        ("amber1", Some(AMBER1), Some(Level::Amber)),
        ("amber+strict", Some(AMBER_STRICT), Some(Level::AmberStrict)),
        ("red", Some(RED), Some(Level::Red)),
        ("default", None, None),
    ];
    let mut objects = Vec::new();
    let mut n = 0;
    for (poster, feed) in POSTS {
        let analyst = viewers
            .iter()
            .find(|v| v.label == format!("{poster}/analyst"))
            .unwrap();
        let default = level_of(FEEDS.iter().find(|(f, _)| f == feed).unwrap().1);
        let mut envelope = Vec::new();
        for (label, marking, level) in markings {
            n += 1;
            let id = new_id("indicator");
            let domain = format!("o{n}.matrix.example");
            let mut obj = indicator(&id, &domain, marking);
            // RED names TelcoB (and, for BcastC's, the partner BankD).
            let recipients: Vec<&'static str> = if level == Some(Level::Red) {
                if *poster == "BcastC" {
                    vec!["TelcoB", "BankD"]
                } else {
                    vec!["TelcoB"]
                }
            } else {
                Vec::new()
            };
            if !recipients.is_empty() {
                let refs: Vec<&String> = recipients.iter().map(|r| &ids[*r]).collect();
                obj["extensions"] = json!({RECIPIENTS: {"extension_type": "property-extension", "recipient_refs": refs}});
            }
            envelope.push(obj);
            objects.push(Obj {
                label: format!("{poster}>{feed}:{label}"),
                id,
                domain,
                feed,
                poster,
                level: level.unwrap_or(default),
                recipients,
            });
        }
        let r = send(
            app,
            &analyst.token,
            Method::POST,
            &format!("collections/{feed}/objects/"),
        )
        .header("Content-Type", TAXII)
        .body(json!({"objects": envelope}).to_string())
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let status: Value = r.json().await.unwrap();
        assert_eq!(status["success_count"], 7, "{status}");
    }
    objects
}

/// What one viewer sees of each object through one read path.
async fn seen(app: &TestApp, v: &Viewer, path: &str, objects: &[Obj]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    match path {
        "default" => {
            // The aggregate feed: every feed at once, through one cursor.
            let mut next: Option<String> = None;
            loop {
                let mut url = "collections/Default/objects/?limit=7".to_owned();
                if let Some(n) = &next {
                    url.push_str(&format!("&next={n}"));
                }
                let r = send(app, &v.token, Method::GET, &url).send().await.unwrap();
                assert_eq!(r.status(), StatusCode::OK, "{} {url}", v.label);
                let body: Value = r.json().await.unwrap();
                for o in body["objects"].as_array().into_iter().flatten() {
                    found.insert(o["id"].as_str().unwrap().to_owned());
                }
                match body["next"].as_str() {
                    Some(n) if body["more"] == true => next = Some(n.to_owned()),
                    _ => break,
                }
            }
        }
        "objects" | "manifest" => {
            for (feed, _) in FEEDS {
                let r = send(
                    app,
                    &v.token,
                    Method::GET,
                    &format!("collections/{feed}/{path}/"),
                )
                .send()
                .await
                .unwrap();
                if r.status() == StatusCode::NOT_FOUND {
                    continue;
                }
                assert_eq!(r.status(), StatusCode::OK, "{} {path} {feed}", v.label);
                let body: Value = r.json().await.unwrap();
                for o in body["objects"].as_array().into_iter().flatten() {
                    found.insert(o["id"].as_str().unwrap().to_owned());
                }
            }
        }
        "object" | "versions" => {
            for o in objects {
                let suffix = if path == "versions" { "versions/" } else { "" };
                let r = send(
                    app,
                    &v.token,
                    Method::GET,
                    &format!("collections/{}/objects/{}/{suffix}", o.feed, o.id),
                )
                .send()
                .await
                .unwrap();
                match r.status() {
                    StatusCode::OK => {
                        let body: Value = r.json().await.unwrap();
                        let key = if path == "versions" {
                            "versions"
                        } else {
                            "objects"
                        };
                        if body[key].as_array().is_some_and(|a| !a.is_empty()) {
                            found.insert(o.id.clone());
                        }
                    }
                    StatusCode::NOT_FOUND => {}
                    s => panic!("{} {path} {}: {s}", v.label, o.id),
                }
            }
        }
        "search" => {
            for o in objects {
                let r = send(
                    app,
                    &v.token,
                    Method::GET,
                    &format!("/api/v1/search?q={}", o.domain),
                )
                .header("Accept", "application/json")
                .send()
                .await
                .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                let body: Value = r.json().await.unwrap();
                for h in body["results"].as_array().unwrap() {
                    found.insert(h["object_id"].as_str().unwrap().to_owned());
                }
            }
        }
        _ => unreachable!(),
    }
    found
}

#[tokio::test]
async fn every_read_path_org_and_role_sees_exactly_what_tlp_and_grants_allow() {
    let app = spawn_app().await;
    let (viewers, identities) = scenario(&app).await;
    let objects = post_all(&app, &viewers, &identities).await;
    let paths = [
        "objects", "manifest", "object", "versions", "search", "default",
    ];

    let mut report = String::new();
    let mut errors = Vec::new();
    report.push_str(&format!("{:<30}", "viewer \\ object"));
    for (i, _) in objects.iter().enumerate() {
        report.push_str(&format!("{:>3}", i + 1));
    }
    report.push('\n');
    for v in &viewers {
        // TAXII collections: exactly the feeds the viewer may read, with its rights.
        let r = send(&app, &v.token, Method::GET, "collections/")
            .send()
            .await
            .unwrap();
        let cols: Value = r.json().await.unwrap();
        let default = cols["collections"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["title"] == "Default")
            .map(|c| (c["can_read"] == true, c["can_write"] == true));
        let role_writes = !v.label.ends_with("/reader");
        if default != Some((true, role_writes || v.isac_admin)) {
            errors.push(format!("{}: Default listed as {default:?}", v.label));
        }
        let listed: BTreeMap<String, (bool, bool)> = cols["collections"]
            .as_array()
            .into_iter()
            .flatten()
            // Feeds of the catalogue that the scenario leaves ungranted are seen by the ISAC
            // only; the scenario's feeds are compared.
            .filter(|c| FEEDS.iter().any(|(f, _)| c["title"] == *f))
            .map(|c| {
                (
                    c["title"].as_str().unwrap().to_owned(),
                    (c["can_read"] == true, c["can_write"] == true),
                )
            })
            .collect();
        let want: BTreeMap<String, (bool, bool)> = FEEDS
            .iter()
            .filter(|(f, _)| v.isac_admin || can_read_feed(v.org, f))
            .map(|(f, _)| {
                let write = v.isac_admin || (role_writes && can_write_feed(v.org, f));
                ((*f).to_owned(), (true, write))
            })
            .collect();
        if listed != want {
            errors.push(format!(
                "{}: collections {listed:?}, expected {want:?}",
                v.label
            ));
        }

        for path in paths {
            let got = seen(&app, v, path, &objects).await;
            report.push_str(&format!("{:<30}", format!("{} {path}", v.label)));
            for o in &objects {
                // The aggregate leaves test feeds out.
                let want = expected(v, o) && !(path == "default" && o.feed == "TEST");
                let (want, have) = (want, got.contains(&o.id));
                let cell = match (want, have) {
                    (true, true) => "  +",
                    (false, false) => "  .",
                    (false, true) => {
                        errors.push(format!("LEAK: {} sees {} via {path}", v.label, o.label));
                        "  L"
                    }
                    (true, false) => {
                        errors.push(format!("MISS: {} lacks {} via {path}", v.label, o.label));
                        "  M"
                    }
                };
                report.push_str(cell);
            }
            report.push('\n');
        }
    }
    report.push_str("objects: ");
    for (i, o) in objects.iter().enumerate() {
        report.push_str(&format!("{}={} ", i + 1, o.label));
    }
    eprintln!("{report}");
    assert!(
        errors.is_empty(),
        "{} errors:\n{}",
        errors.len(),
        errors.join("\n")
    );

    // The matrix is not trivial: every level above CLEAR is hidden from some reader of its
    // feed, and every level but AMBER+STRICT reaches some reader other than its poster and the
    // ISAC.
    for level in [
        Level::Clear,
        Level::Green,
        Level::Amber,
        Level::AmberStrict,
        Level::Red,
    ] {
        let verdicts: Vec<bool> = objects
            .iter()
            .filter(|o| o.level == level)
            .flat_map(|o| {
                viewers
                    .iter()
                    .filter(|v| {
                        v.org != o.poster && v.org != "ISAC" && can_read_feed(v.org, o.feed)
                    })
                    .map(|v| expected(v, o))
            })
            .collect();
        if level != Level::AmberStrict {
            assert!(verdicts.contains(&true), "{level:?} reaches another reader");
        }
        if level > Level::Clear {
            assert!(
                verdicts.contains(&false),
                "{level:?} is hidden from some reader"
            );
        }
    }
}
