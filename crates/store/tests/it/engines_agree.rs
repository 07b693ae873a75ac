//! One busy history played on both engines, every answer compared: the PostgreSQL store decides
//! in memory what SQLite's writer decides object by object (several versions of one object in
//! one POST, a sighting of an object posted with it, duplicates, reports first made where
//! metrics do not look, TLP:RED recipients, deletes), so the two must not drift apart. Times are
//! compared by their order (each engine assigns its own `date_added`).

use std::collections::BTreeMap;
use std::sync::Arc;

use relay_core::exchange::{AppliedUpload, ExportClock, ExportScan, ExportSink};
use relay_core::metrics::{Category, MetricsInput};
use relay_core::policy::Visibility;
use relay_core::query::{ObjectQuery, VersionFilter};
use relay_core::status::StatusDraft;
use relay_core::store::{AddObjects, Change, DeleteObject, NewObject, ObservableQuery};
use relay_core::{AuditEntry, Feed, Store, Tlp};
use stix::Timestamp;
use stix::observable::{Kind, Observable};

use crate::postgres::{Database, server_url};

const X: &str = "indicator--10000000-0000-4000-8000-000000000001";
const S: &str = "ipv4-addr--20000000-0000-5000-8000-000000000002";
const Y: &str = "sighting--30000000-0000-4000-8000-000000000003";
const Z: &str = "indicator--40000000-0000-4000-8000-000000000004";
const R: &str = "indicator--50000000-0000-4000-8000-000000000005";
const V: &str = "indicator--60000000-0000-4000-8000-000000000006";
const W: &str = "indicator--70000000-0000-4000-8000-000000000007";
const U: &str = "indicator--80000000-0000-4000-8000-000000000008";
const IPS: [&str; 7] = [
    "198.51.100.1",
    "198.51.100.2",
    "198.51.100.3",
    "198.51.100.4",
    "198.51.100.5",
    "198.51.100.6",
    "198.51.100.9",
];
const DOMAINS: [&str; 3] = ["evil.example", "red.example", "bad.example"];

fn entry(action: &str) -> AuditEntry {
    AuditEntry {
        at: Timestamp::now(),
        actor: "agree".into(),
        org: None,
        source: None,
        action: action.into(),
        feed: None,
        count: None,
        ids: Vec::new(),
        detail: None,
    }
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn everything() -> Visibility {
    Visibility {
        everything: true,
        open_up_to: Some(Tlp::Red),
        org: 1,
    }
}

fn member(org: i64, open: Tlp) -> Visibility {
    Visibility {
        everything: false,
        open_up_to: Some(open),
        org,
    }
}

fn ip(v: &str) -> Observable {
    Observable {
        kind: Kind::Ipv4,
        value: v.into(),
    }
}

fn domain(v: &str) -> Observable {
    Observable {
        kind: Kind::Domain,
        value: v.into(),
    }
}

/// An object of `feed`; `version` "-" for none.
fn obj(feed: &Feed, id: &str, ty: &str, version: &str, observables: Vec<Observable>) -> NewObject {
    NewObject {
        feed_id: feed.id.clone(),
        id: id.to_owned(),
        object_type: ty.to_owned(),
        spec_version: "2.1".into(),
        version: (version != "-").then(|| ts(version)),
        body: format!("{{\"id\":\"{id}\",\"v\":\"{version}\"}}"),
        observables,
        warnings: Vec::new(),
        tlp: Tlp::Green,
        recipients: Vec::new(),
        original_body: None,
        confidence: None,
        note: None,
        revoked: false,
        valid_until: None,
        metrics: None,
        refs: Vec::new(),
        source_peer: None,
    }
}

fn counted(mut o: NewObject, category: Option<Category>, refs: &[&str]) -> NewObject {
    o.metrics = Some(MetricsInput {
        category,
        reported_refs: refs.iter().map(|r| (*r).to_owned()).collect(),
    });
    o.refs = refs.iter().map(|r| (*r).to_owned()).collect();
    o
}

/// The order of every `date_added` an engine assigned: what answers are compared by.
#[derive(Default)]
struct Clock(BTreeMap<i64, usize>);

impl Clock {
    async fn learn(&mut self, store: &Arc<dyn Store>) {
        let after = self
            .0
            .keys()
            .next_back()
            .copied()
            .map_or(Timestamp::from_micros(i64::MIN), Timestamp::from_micros);
        for o in store.committed_since(after, 10_000).await.unwrap() {
            let n = self.0.len();
            self.0.insert(o.date_added.as_micros(), n);
        }
    }

    /// A time as `#n` when it is a `date_added`, else as itself.
    fn at(&self, t: Timestamp) -> String {
        match self.0.get(&t.as_micros()) {
            Some(n) => format!("#{n}"),
            None => t.to_string(),
        }
    }

    /// A lead (a difference of two `date_added`) as the pairs of `#n` it can be.
    fn lead(&self, micros: i64) -> String {
        let mut pairs = Vec::new();
        for (a, i) in &self.0 {
            if let Some(j) = self.0.get(&(a + micros)) {
                pairs.push(format!("#{i}->#{j}"));
            }
        }
        pairs.join("|")
    }
}

/// Everything the store answers about the history so far, as text.
async fn answers(
    store: &Arc<dyn Store>,
    clock: &Clock,
    feeds: &[Feed],
    since: Option<i64>,
) -> Vec<String> {
    let mut out = Vec::new();
    for feed in feeds {
        for (label, versions) in [
            ("all", VersionFilter::All),
            (
                "first",
                VersionFilter::Select {
                    first: true,
                    last: false,
                    at: Vec::new(),
                },
            ),
            (
                "last",
                VersionFilter::Select {
                    first: false,
                    last: true,
                    at: Vec::new(),
                },
            ),
        ] {
            for v in [everything(), member(3, Tlp::Green), member(4, Tlp::Clear)] {
                let q = ObjectQuery {
                    versions: versions.clone(),
                    ..ObjectQuery::all_versions(None, 1000)
                };
                let page = store
                    .query_objects(&[(feed.id.clone(), v.clone())], &q)
                    .await
                    .unwrap();
                for o in page.objects {
                    out.push(format!(
                        "{} {label} {:?}: {} {} {} {:?} c{} {:?}",
                        feed.name,
                        v.org,
                        o.id,
                        clock.at(o.version),
                        clock.at(o.date_added),
                        o.body,
                        o.corroboration,
                        o.tlp
                    ));
                }
            }
        }
        for id in [X, R] {
            for o in store
                .referencing(&[(feed.id.clone(), everything())], id, 10)
                .await
                .unwrap()
            {
                out.push(format!("refers to {id}: {} {}", o.id, clock.at(o.version)));
            }
        }
    }
    for o in store
        .committed_since(Timestamp::from_micros(i64::MIN), 10_000)
        .await
        .unwrap()
    {
        out.push(format!(
            "tail {} {} {} {:?} {} {:?} {:?} c{} {:?}",
            o.id,
            clock.at(o.date_added),
            clock.at(o.version),
            o.tlp,
            o.poster_org,
            o.recipients,
            o.confidence,
            o.corroboration,
            o.original_body
        ));
    }
    let all_feeds: Vec<(String, Visibility)> =
        feeds.iter().map(|f| (f.id.clone(), everything())).collect();
    let values: Vec<String> = IPS
        .iter()
        .chain(&DOMAINS)
        .map(|v| (*v).to_owned())
        .collect();
    let kinds = vec!["ipv4".to_owned(), "domain".to_owned()];
    let mut hits: Vec<String> = store
        .search_observables(&ObservableQuery {
            feeds: all_feeds.clone(),
            kinds: kinds.clone(),
            values: values.clone(),
            within: stix::observable::ip_range("198.51.100.0/24")
                .map(|(k, lo, hi)| (k.to_string(), lo, hi)),
            limit: 1000,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|h| {
            format!(
                "hit {} {} {} {} {} c{} {}",
                h.object_id,
                h.object_type,
                h.kind,
                h.value,
                clock.at(h.version),
                h.corroboration,
                clock.at(h.date_added)
            )
        })
        .collect();
    hits.sort();
    out.extend(hits);
    out.push(format!(
        "reporters {:?}",
        store.reporters(&kinds, &values).await.unwrap()
    ));
    out.push(format!(
        "coverage {:?}",
        store.metric_coverage().await.unwrap()
    ));
    for l in store.metric_leads(None).await.unwrap() {
        out.push(format!(
            "lead {} {} n{} p50 {} p90 {}",
            l.org_name,
            l.kind,
            l.count,
            clock.lead(l.p50_micros),
            clock.lead(l.p90_micros)
        ));
    }
    for (kind, value) in IPS
        .iter()
        .map(|v| ("ipv4", *v))
        .chain(DOMAINS.iter().map(|v| ("domain", *v)))
    {
        let mut reports: Vec<String> = store
            .observable_reports(kind, value)
            .await
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r.org_name, clock.at(r.at)))
            .collect();
        reports.sort();
        out.push(format!("reports {kind} {value}: {reports:?}"));
    }
    let firsts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let into = firsts.clone();
    store
        .first_reports(
            Timestamp::from_micros(0),
            Timestamp::now(),
            Box::new(move |f| into.lock().unwrap().push(f)),
        )
        .await
        .unwrap();
    let mut firsts: Vec<String> = std::mem::take(&mut *firsts.lock().unwrap())
        .into_iter()
        .map(|f| {
            format!(
                "first {} {} {} {} {} {} {:?}",
                f.kind,
                f.value,
                clock.at(f.at),
                f.org,
                f.sector,
                f.feed,
                f.category
            )
        })
        .collect();
    firsts.sort();
    out.extend(firsts);
    let scopes = [
        all_feeds.clone(),
        feeds
            .iter()
            .map(|f| (f.id.clone(), member(4, Tlp::Amber)))
            .collect(),
    ];
    for feeds in scopes {
        for active_only in [true, false] {
            let scan = ExportScan {
                feeds: feeds.clone(),
                kinds: Vec::new(),
                now: Timestamp::now(),
                active_only,
                since: since.map(|change| ExportClock {
                    change,
                    at: Timestamp::now(),
                }),
            };
            for g in scan_all(store, scan).await {
                let sources: Vec<String> = g
                    .sources
                    .iter()
                    .map(|s| {
                        format!(
                            "{} {} {:?} {:?} c{} {} {:?}",
                            s.feed,
                            s.object_type,
                            s.tlp,
                            s.confidence,
                            s.corroboration,
                            clock.at(s.date_added),
                            s.valid_until
                        )
                    })
                    .collect();
                let applied: Vec<String> = g
                    .applied
                    .iter()
                    .map(|a| format!("{} {} {:?} {}", a.feed, a.org, a.tlp, a.expires))
                    .collect();
                out.push(format!(
                    "export {active_only} {} {} {sources:?} {applied:?}",
                    g.kind, g.value
                ));
            }
        }
    }
    out.push(format!("sizes {:?}", store.feed_sizes().await.unwrap()));
    out
}

async fn scan_all(
    store: &Arc<dyn Store>,
    scan: ExportScan,
) -> Vec<relay_core::exchange::ExportGroup> {
    let (version_tx, _version_rx) = tokio::sync::oneshot::channel();
    let (groups_tx, mut groups_rx) = tokio::sync::mpsc::channel(4);
    let s = store.clone();
    let task = tokio::spawn(async move {
        s.export_scan(
            scan,
            ExportSink {
                version: version_tx,
                groups: groups_tx,
            },
        )
        .await
    });
    let mut groups = Vec::new();
    while let Some(batch) = groups_rx.recv().await {
        groups.extend(batch);
    }
    task.await.unwrap().unwrap();
    groups
}

fn post(poster: i64, scope: Vec<(String, Visibility)>, objects: Vec<NewObject>) -> AddObjects {
    AddObjects {
        owner_user_id: 1,
        poster_org: poster,
        status: StatusDraft {
            id: uuid::Uuid::new_v4().to_string(),
            request_timestamp: Timestamp::now().to_string(),
            total_count: objects.len() as u64,
            failures: Vec::new(),
        },
        objects,
        audit: entry("objects.add"),
        read_scope: scope,
    }
}

/// Plays the history on `store`; returns everything it answered along the way.
async fn play(store: Arc<dyn Store>) -> Vec<String> {
    let mut transcript = Vec::new();
    let mut clock = Clock::default();
    let mut orgs = Vec::new();
    for name in ["OrgA", "OrgB", "OrgC"] {
        let change = Change::CreateOrg {
            org: relay_core::NewOrg {
                name: name.into(),
                kind: relay_core::OrgKind::Member,
                sector: relay_core::Sector::Telecom,
                country: "JP".into(),
                contacts: Vec::new(),
                anonymous: false,
            },
            identity: format!("identity--{}", uuid::Uuid::new_v4()),
        };
        orgs.push(store.apply(change, entry("org.create")).await.unwrap());
    }
    let [a, b, c] = [orgs[0], orgs[1], orgs[2]];
    let mut feeds = Vec::new();
    for name in ["ONE", "TWO"] {
        let feed = Feed {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.into(),
            description: None,
            default_tlp: Tlp::Green,
            severity: relay_core::Severity::Important,
            volume: relay_core::Volume::Medium,
            kind: relay_core::FeedKind::Regular,
            inbox: false,
            retired: false,
            grants: Vec::new(),
        };
        store
            .apply(Change::CreateFeed(feed.clone()), entry("feed.create"))
            .await
            .unwrap();
        feeds.push(feed);
    }
    let (one, two) = (&feeds[0], &feeds[1]);
    let scope = |org: i64, open: [Tlp; 2]| {
        vec![
            (one.id.clone(), member(org, open[0])),
            (two.id.clone(), member(org, open[1])),
        ]
    };

    // A: three versions of X in one POST (the newest in the middle), an SCO twice, a sighting
    // of X (its current version then), a repeated version, a revoked, a RED and an expired one.
    let mut x2 = counted(
        obj(
            one,
            X,
            "indicator",
            "2024-02-01T00:00:00Z",
            vec![ip(IPS[0]), domain(DOMAINS[0])],
        ),
        Some(Category::C2),
        &[],
    );
    x2.confidence = Some(80);
    let x3 = counted(
        obj(
            one,
            X,
            "indicator",
            "2024-03-01T00:00:00Z",
            vec![ip(IPS[1])],
        ),
        None,
        &[],
    );
    let x1 = counted(
        obj(
            one,
            X,
            "indicator",
            "2024-01-01T00:00:00Z",
            vec![ip(IPS[2])],
        ),
        None,
        &[],
    );
    let s = counted(obj(one, S, "ipv4-addr", "-", vec![ip(IPS[3])]), None, &[]);
    let y = counted(
        obj(one, Y, "sighting", "2024-01-01T00:00:00Z", Vec::new()),
        None,
        &[X],
    );
    let mut z = obj(
        one,
        Z,
        "indicator",
        "2024-01-01T00:00:00Z",
        vec![Observable {
            kind: Kind::Hash("SHA-256".into()),
            value: "ab".repeat(32),
        }],
    );
    z.revoked = true;
    let mut r = obj(
        two,
        R,
        "indicator",
        "2024-01-01T00:00:00Z",
        vec![domain(DOMAINS[1])],
    );
    r.tlp = Tlp::Red;
    r.recipients = vec![c];
    let mut v = obj(
        two,
        V,
        "indicator",
        "2024-01-01T00:00:00Z",
        vec![ip(IPS[6])],
    );
    v.valid_until = Some(ts("2024-06-01T00:00:00Z"));
    let first = post(
        a,
        scope(a, [Tlp::Amber, Tlp::Amber]),
        vec![x2, x3.clone(), x1, s.clone(), s.clone(), y, x3, z, r, v],
    );
    let status = store.add_objects(first).await.unwrap();
    clock.learn(&store).await;
    transcript.push(status_text(&status, &clock));
    let after_first = store.export_version(Timestamp::now()).await.unwrap().change;

    // B: one object naming what A posted, a sighting of X and of R (which it may not see), a
    // report where metrics do not look.
    let w = counted(
        obj(
            one,
            W,
            "indicator",
            "2024-01-01T00:00:00Z",
            vec![ip(IPS[0]), ip(IPS[1])],
        ),
        None,
        &[],
    );
    let y2 = counted(
        obj(two, Y, "sighting", "2024-02-01T00:00:00Z", Vec::new()),
        None,
        &[X, R],
    );
    let u = obj(
        two,
        U,
        "indicator",
        "2024-01-01T00:00:00Z",
        vec![domain(DOMAINS[0])],
    );
    let status = store
        .add_objects(post(b, scope(b, [Tlp::Amber, Tlp::Green]), vec![w, y2, u]))
        .await
        .unwrap();
    clock.learn(&store).await;
    transcript.push(status_text(&status, &clock));

    // B again: the same observable where metrics look (counted now, from the second report).
    let u2 = counted(
        obj(
            one,
            U,
            "indicator",
            "2024-02-01T00:00:00Z",
            vec![domain(DOMAINS[0])],
        ),
        None,
        &[],
    );
    let status = store
        .add_objects(post(b, scope(b, [Tlp::Amber, Tlp::Green]), vec![u2]))
        .await
        .unwrap();
    clock.learn(&store).await;
    transcript.push(status_text(&status, &clock));

    // C reads only TWO: a sighting of R (it is a recipient), a phishing report of an address
    // others reported first, the SCO in another feed.
    let sighting = counted(
        obj(
            two,
            "sighting--90000000-0000-4000-8000-000000000009",
            "sighting",
            "2024-01-01T00:00:00Z",
            Vec::new(),
        ),
        None,
        &[R, X],
    );
    let phish = counted(
        obj(
            two,
            "indicator--a0000000-0000-4000-8000-00000000000a",
            "indicator",
            "2024-01-01T00:00:00Z",
            vec![ip(IPS[0])],
        ),
        Some(Category::Phishing),
        &[],
    );
    let elsewhere = obj(two, S, "ipv4-addr", "-", vec![ip(IPS[3])]);
    let status = store
        .add_objects(post(
            c,
            vec![(two.id.clone(), member(c, Tlp::Green))],
            vec![sighting, phish, elsewhere],
        ))
        .await
        .unwrap();
    clock.learn(&store).await;
    transcript.push(status_text(&status, &clock));
    transcript.extend(answers(&store, &clock, &feeds, None).await);

    // A deletes X's newest version, then posts two newer ones with a sighting between them.
    let gone = store
        .delete_object(
            DeleteObject {
                feed_id: one.id.clone(),
                object_id: X.into(),
                versions: VersionFilter::Select {
                    first: false,
                    last: true,
                    at: Vec::new(),
                },
                spec_versions: Vec::new(),
                poster_org: None,
            },
            entry("object.delete"),
        )
        .await
        .unwrap();
    transcript.push(format!("deleted {gone}"));
    let x4 = counted(
        obj(
            one,
            X,
            "indicator",
            "2024-04-01T00:00:00Z",
            vec![ip(IPS[4])],
        ),
        None,
        &[],
    );
    let y3 = counted(
        obj(one, Y, "sighting", "2024-04-01T00:00:00Z", Vec::new()),
        None,
        &[X],
    );
    let x5 = counted(
        obj(
            one,
            X,
            "indicator",
            "2024-05-01T00:00:00Z",
            vec![ip(IPS[5]), ip(IPS[0])],
        ),
        None,
        &[],
    );
    let status = store
        .add_objects(post(
            a,
            scope(a, [Tlp::Amber, Tlp::Amber]),
            vec![x4, y3, x5],
        ))
        .await
        .unwrap();
    clock.learn(&store).await;
    transcript.push(status_text(&status, &clock));
    store
        .apply(
            Change::ReplaceAppliedList(AppliedUpload {
                org: b,
                feed_id: one.id.clone(),
                tlp: Tlp::Green,
                expires: ts("2100-01-01T00:00:00Z"),
                entries: vec![
                    ("ipv4".into(), IPS[0].into()),
                    ("domain".into(), DOMAINS[2].into()),
                ],
            }),
            entry("applied.upload"),
        )
        .await
        .unwrap();
    transcript.extend(answers(&store, &clock, &feeds, None).await);
    transcript.extend(answers(&store, &clock, &feeds, Some(after_first)).await);

    // The figures rebuilt from the reports are the ones kept current.
    let reports = store
        .apply(Change::RecomputeMetrics, entry("metrics.recompute"))
        .await
        .unwrap();
    transcript.push(format!("recomputed from {reports} reports"));
    transcript.extend(answers(&store, &clock, &feeds, None).await);
    store.close().await;
    transcript
}

fn status_text(s: &relay_core::Status, clock: &Clock) -> String {
    let successes: Vec<String> = s
        .successes
        .iter()
        .map(|d| {
            let version =
                Timestamp::parse(&d.version).map_or_else(|_| d.version.clone(), |t| clock.at(t));
            format!("{} {version} {:?}", d.id, d.message)
        })
        .collect();
    format!(
        "status {}/{}/{} {successes:?}",
        s.success_count, s.failure_count, s.total_count
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_answer_alike() {
    let Some(server) = server_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> = Arc::new(store::SqliteStore::open(dir.path()).unwrap());
    let db = Database::create(&server).await;
    let postgres: Arc<dyn Store> = Arc::new(store::PgStore::connect(&db.url).await.unwrap());
    let expected = play(sqlite).await;
    let got = play(postgres).await;
    assert!(expected.len() > 100, "{}", expected.len());
    for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(e, g, "answer {i} differs");
    }
    assert_eq!(expected.len(), got.len());
}
