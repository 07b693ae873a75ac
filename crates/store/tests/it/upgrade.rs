//! Schema upgrades from every earlier release. For each earlier schema version N, a database
//! is left at N as that release left it, holding what releases up to N wrote, each written at
//! the schema of its own release (a token and objects at 1, observables at 2, a member, its
//! group and grant at 3, findings at 6, ...). Opening it with this release migrates it; every
//! piece must then read back through the `Store` trait, including what later migrations
//! derive from it (reference rows at 9, address ranges at 11) and convert (findings into
//! blocks at 7).

use std::sync::Arc;

use relay_core::Store;
use relay_core::notice::FindingQuery;
use relay_core::policy::Visibility;
use relay_core::query::ObjectQuery;
use relay_core::store::ObservableQuery;
use relay_core::tlp::Tlp;
use relay_core::token::TokenHasher;
use rusqlite::{Connection, params};
use stix::Timestamp;
use store::{DB_FILE, SqliteStore};

const SECRET: &str = "isr_upgrade-test-token-0123456789abcdef";
const FEED_ID: &str = "5f1d1a2c-8e1b-4c53-9d3c-1f2e3d4c5b6a";
const INDICATOR: &str = "indicator--0b7a5f3e-3b1c-4d4e-8f9a-1a2b3c4d5e6f";
const RELATIONSHIP: &str = "relationship--6c5b4a39-2817-4f60-9e8d-7c6b5a493827";
const MALWARE: &str = "malware--9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a";

fn us(s: &str) -> i64 {
    Timestamp::parse(s).unwrap().as_micros()
}

fn indicator(modified: &str) -> String {
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"{INDICATOR}","created":"2025-01-01T00:00:00.000Z","modified":"{modified}","name":"C2: 198.51.100.7","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2025-01-01T00:00:00Z"}}"#
    )
}

fn relationship() -> String {
    format!(
        r#"{{"type":"relationship","spec_version":"2.1","id":"{RELATIONSHIP}","created":"2025-01-02T00:00:00.000Z","modified":"2025-01-02T00:00:00.000Z","relationship_type":"indicates","source_ref":"{INDICATOR}","target_ref":"{MALWARE}"}}"#
    )
}

/// What the release at schema `version` wrote, in its own schema.
fn seed(conn: &Connection, version: i64) {
    match version {
        1 => {
            let key: Vec<u8> = conn
                .query_row("SELECT value FROM meta WHERE key = 'token_key'", [], |r| {
                    r.get(0)
                })
                .unwrap();
            let hash = TokenHasher::new(key).hash(SECRET);
            conn.execute_batch(&format!(
                "INSERT INTO users (id, name, role, created) VALUES (1, 'admin', 'isac-admin', {t});
                 INSERT INTO collections (seq, id, name, description, created)
                   VALUES (1, '{FEED_ID}', 'LEGACY', 'from the first release', {t});",
                t = us("2025-01-01T00:00:00Z")
            ))
            .unwrap();
            conn.execute(
                "INSERT INTO tokens (id, user_id, name, hash, created) VALUES (1, 1, 'first', ?1, ?2)",
                params![hash.to_vec(), us("2025-01-01T00:00:00Z")],
            )
            .unwrap();
            let rows = [
                (1, INDICATOR, "indicator", "2025-01-01T00:00:00.000Z", 1, 0),
                (2, INDICATOR, "indicator", "2025-02-01T00:00:00.000Z", 0, 1),
                (3, RELATIONSHIP, "relationship", "2025-01-02T00:00:00.000Z", 1, 1),
            ];
            for (seq, id, ty, modified, first, last) in rows {
                let body = if ty == "indicator" {
                    indicator(modified)
                } else {
                    relationship()
                };
                conn.execute(
                    "INSERT INTO objects (seq, collection, stix_id, stix_type, version, spec_version,
                                          date_added, is_first, is_last, body)
                     VALUES (?1, 1, ?2, ?3, ?4, '2.1', ?5, ?6, ?7, ?8)",
                    params![
                        seq,
                        id,
                        ty,
                        us(modified),
                        us("2025-03-01T00:00:00Z") + seq,
                        first,
                        last,
                        body
                    ],
                )
                .unwrap();
            }
        }
        2 => conn
            .execute_batch(
                "INSERT INTO observables (object_seq, kind, value)
                 VALUES (1, 'ipv4', '198.51.100.7'), (2, 'ipv4', '198.51.100.7');",
            )
            .unwrap(),
        3 => conn
            .execute_batch(&format!(
                "INSERT INTO orgs (id, name, kind, sector, country, identity, created)
                   VALUES (2, 'TelcoA', 'member', 'telecom', 'JP',
                           'identity--1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f', {t});
                 INSERT INTO trust_groups (id, name, created) VALUES (1, 'telecom-wg', {t});
                 INSERT INTO group_members (grp, org) VALUES (1, 2);
                 INSERT INTO grants (collection, org, grp, can_read, can_write)
                   VALUES (1, NULL, 1, 1, 0);",
                t = us("2025-04-01T00:00:00Z")
            ))
            .unwrap(),
        6 => conn
            .execute_batch(&format!(
                "INSERT INTO campaigns (id, name, kind, created) VALUES (1, 'scan-2025-05', 'monthly', {t});
                 INSERT INTO campaign_ranges (campaign, net, org) VALUES (1, '203.0.113.0/24', 2);
                 INSERT INTO findings (id, campaign, org, prefix, ip, port, protocol, finding,
                                       first_observed, last_observed, times_seen, status)
                   VALUES (1, 1, 2, '203.0.113.0/24', '203.0.113.9', 23, 'tcp', 'open-telnet', {t}, {t}, 1, 'new'),
                          (2, 1, 2, '203.0.113.0/24', '203.0.113.10', 0, '', 'mirai', {t}, {t2}, 3, 'notified');",
                t = us("2025-05-01T00:00:00Z"),
                t2 = us("2025-05-03T00:00:00Z")
            ))
            .unwrap(),
        _ => {}
    }
}

fn all() -> Visibility {
    Visibility {
        everything: true,
        open_up_to: Some(Tlp::Red),
        org: 1,
    }
}

/// Reads back everything seeded up to `from`, after the upgrade.
async fn check(store: Arc<dyn Store>, from: i64) {
    let who = store
        .principal_for_token(
            TokenHasher::new(store.token_key().await.unwrap()).hash(SECRET),
            Timestamp::now(),
        )
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("from {from}: the first release's token no longer works"));
    assert_eq!(who.user_name, "admin");
    let feed = store
        .find_feed("LEGACY")
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("from {from}: the feed is gone"));
    assert_eq!(feed.id, FEED_ID);
    let feeds = [(FEED_ID.to_owned(), all())];
    let page = store
        .query_objects(&feeds, &ObjectQuery::all_versions(None, 100))
        .await
        .unwrap();
    assert_eq!(page.objects.len(), 3, "from {from}");
    let latest = store
        .query_objects(
            &feeds,
            &ObjectQuery {
                versions: relay_core::query::VersionFilter::Select {
                    first: false,
                    last: true,
                    at: Vec::new(),
                },
                ..ObjectQuery::all_versions(None, 100)
            },
        )
        .await
        .unwrap();
    let mut ids: Vec<&str> = latest.objects.iter().map(|o| o.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [INDICATOR, RELATIONSHIP], "from {from}");

    // Derived by migration 9 from stored bodies: who refers to the indicator.
    let refs = store.referencing(&feeds, INDICATOR, 10).await.unwrap();
    assert_eq!(refs.len(), 1, "from {from}: references");
    assert_eq!(refs[0].id, RELATIONSHIP);

    if from >= 2 {
        // Filled by migration 11 from the observables: the address is inside its network.
        let (_, lo, hi) = stix::observable::ip_range("198.51.100.0/24").unwrap();
        let hits = store
            .search_observables(&ObservableQuery {
                feeds: feeds.to_vec(),
                kinds: vec![],
                values: vec![],
                within: Some(("ipv4".into(), lo, hi)),
                limit: 10,
            })
            .await
            .unwrap();
        assert!(
            hits.iter()
                .any(|h| h.object_id == INDICATOR && h.value == "198.51.100.7"),
            "from {from}: {hits:?}"
        );
    }
    if from >= 3 {
        let org = store.find_org("TelcoA").await.unwrap().unwrap();
        let groups = store.list_groups().await.unwrap();
        let wg = groups.iter().find(|g| g.name == "telecom-wg").unwrap();
        assert!(wg.members.contains(&org.name), "from {from}: {wg:?}");
        assert!(
            feed.grants.iter().any(|g| g.read && !g.write),
            "from {from}: {:?}",
            feed.grants
        );
    }
    if from >= 6 {
        // Migration 7 moved the findings into blocks: both read back as they were.
        let found = store
            .findings(&FindingQuery {
                org: None,
                campaign: None,
                status: None,
                after: 0,
                limit: 10,
                ids: vec![],
            })
            .await
            .unwrap();
        let seen: Vec<(&str, u16, u32)> = found
            .iter()
            .map(|f| (f.ip.as_str(), f.port, f.times_seen))
            .collect();
        assert_eq!(
            seen,
            [("203.0.113.9", 23, 1), ("203.0.113.10", 0, 3)],
            "from {from}"
        );
        assert_eq!(found[1].status.to_string(), "notified");
        assert_eq!(found[0].org_name, "TelcoA");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_earlier_schema_upgrades_with_its_data() {
    let current = SqliteStore::schema_version();
    assert!(current >= 12);
    for from in 1..current {
        let dir = tempfile::tempdir().unwrap();
        for version in 1..=from {
            SqliteStore::create_at_version(dir.path(), version).unwrap();
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            seed(&conn, version);
        }
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        check(store.clone(), from).await;
        store.close().await;
        // And the upgraded file opens again as it is.
        let again: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        check(again.clone(), from).await;
        again.close().await;
    }
}
