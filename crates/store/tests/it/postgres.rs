//! The conformance suite on PostgreSQL, each test on a database of its own, and what only this
//! engine has: several stores (relay nodes) on one database, its schema version table, the
//! commit signal.
//!
//! `DATABASE_URL` names a database on a server where its user may create databases (
//! `scripts/test-all.sh` starts a throwaway cluster and sets it); each test creates
//! `relay_t_<random>` there and drops it afterwards. Without `DATABASE_URL` these tests fail,
//! saying how to get one, unless `ISAC_RELAY_NO_POSTGRES=1` skips them on purpose.

use std::sync::Arc;
use std::time::Duration;

use relay_core::Store;
use store::{PgOpenError, PgStore};
use tokio_postgres::NoTls;

/// The URL of the server's maintenance database, or `None` when PostgreSQL tests are skipped.
pub fn server_url() -> Option<String> {
    if std::env::var("ISAC_RELAY_NO_POSTGRES").as_deref() == Ok("1") {
        eprintln!("skipped: ISAC_RELAY_NO_POSTGRES=1");
        return None;
    }
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => panic!(
            "DATABASE_URL is not set: the PostgreSQL store tests need a server where they may \
             CREATE DATABASE. Run scripts/test-all.sh (it starts a throwaway cluster), or start \
             one as in shared/DEPENDENCIES.md (\"A throwaway PostgreSQL cluster for tests\") and \
             export DATABASE_URL=postgres://postgres@127.0.0.1:PORT/postgres; \
             ISAC_RELAY_NO_POSTGRES=1 skips these tests."
        ),
    }
}

/// `url` with its database replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let host = match base[authority..].find('/') {
        Some(i) => &base[..authority + i],
        None => base,
    };
    format!("{host}/{name}{query}")
}

/// Runs one statement on the server's database given by `url`.
async fn run(url: &str, sql: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    let driver = tokio::spawn(connection);
    let result = client.batch_execute(sql).await;
    drop(client);
    let _ = driver.await;
    result
}

/// An empty database of its own on the test server, dropped (with whatever still uses it)
/// when this goes, even after a failed test.
pub struct Database {
    server: String,
    name: String,
    pub url: String,
}

impl Database {
    pub async fn create(server: &str) -> Database {
        let name = format!("relay_t_{}", uuid::Uuid::new_v4().simple());
        run(server, &format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create a test database on DATABASE_URL: {e}"));
        Database {
            server: server.to_owned(),
            url: with_database(server, &name),
            name,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop cannot wait on the test's runtime: a thread with one of its own does it.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime
                .block_on(run(
                    &server,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ))
                .ok()
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// Posts one indicator, numbered `n`, to `feed`.
async fn post_one(store: &Arc<dyn Store>, feed: &relay_core::Feed, n: u32) {
    use relay_core::status::StatusDraft;
    use relay_core::store::{AddObjects, NewObject};
    let id = format!("indicator--00000000-0000-4000-8000-{n:012}");
    let object = NewObject {
        feed_id: feed.id.clone(),
        id: id.clone(),
        object_type: "indicator".into(),
        spec_version: "2.1".into(),
        version: Some(stix::Timestamp::parse("2024-01-01T00:00:00Z").unwrap()),
        body: format!("{{\"id\":\"{id}\"}}"),
        observables: Vec::new(),
        warnings: Vec::new(),
        tlp: relay_core::Tlp::Green,
        recipients: Vec::new(),
        original_body: None,
        confidence: None,
        note: None,
        revoked: false,
        valid_until: None,
        metrics: None,
        refs: Vec::new(),
        source_peer: None,
    };
    store
        .add_objects(AddObjects {
            owner_user_id: 1,
            poster_org: 1,
            objects: vec![object],
            status: StatusDraft {
                id: uuid::Uuid::new_v4().to_string(),
                request_timestamp: stix::Timestamp::now().to_string(),
                total_count: 1,
                failures: Vec::new(),
            },
            audit: relay_core::AuditEntry {
                at: stix::Timestamp::now(),
                actor: "test".into(),
                org: None,
                source: None,
                action: "objects.add".into(),
                feed: None,
                count: None,
                ids: Vec::new(),
                detail: None,
            },
            read_scope: Vec::new(),
        })
        .await
        .unwrap();
}

/// A fresh PostgreSQL store on a database of its own.
pub struct Fresh {
    pub store: Arc<dyn Store>,
    pub db: Database,
}

pub async fn fresh() -> Option<Fresh> {
    let server = server_url()?;
    let db = Database::create(&server).await;
    let store = PgStore::connect(&db.url).await.unwrap();
    Some(Fresh {
        store: Arc::new(store),
        db,
    })
}

macro_rules! on_postgres {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some(f) = fresh().await else { return };
            crate::suite::$name(f.store.clone()).await;
            f.store.close().await;
        }
    )*};
}

crate::suite_tests!(on_postgres);

/// The URL handling the tests rely on.
#[test]
fn database_urls_are_rewritten() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgresql://h", "x"), "postgresql://h/x");
}

/// Both engines have the same migration steps, so a database of either at version N has the
/// same tables (a copy from one to the other goes table by table).
#[test]
fn both_engines_have_the_same_steps() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let steps = |engine: &str| {
        let mut names: Vec<String> = std::fs::read_dir(dir.join(engine))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(steps("sqlite"), steps("postgres"));
    assert_eq!(
        store::SqliteStore::schema_version(),
        PgStore::schema_version()
    );
}

/// The audit table refuses updates and deletes (and TRUNCATE), whoever connects.
#[tokio::test]
async fn the_audit_log_is_append_only() {
    let Some(f) = fresh().await else { return };
    crate::suite::seed(&f.store).await;
    f.store.close().await;
    let (client, connection) = tokio_postgres::connect(&f.db.url, NoTls).await.unwrap();
    tokio::spawn(connection);
    let n: i64 = client
        .query_one("SELECT count(*) FROM audit", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    for sql in [
        "UPDATE audit SET actor = 'x'",
        "DELETE FROM audit",
        "TRUNCATE audit",
    ] {
        let err = client.batch_execute(sql).await.unwrap_err();
        let text = err.as_db_error().map(|e| e.message().to_owned());
        assert_eq!(
            text.as_deref(),
            Some("the audit log is append-only"),
            "{sql}"
        );
    }
}

#[tokio::test]
async fn reconnecting_keeps_data_and_token_key() {
    let Some(f) = fresh().await else { return };
    let key = f.store.token_key().await.unwrap();
    crate::suite::seed(&f.store).await;
    f.store.close().await;
    let again: Arc<dyn Store> = Arc::new(PgStore::connect(&f.db.url).await.unwrap());
    assert_eq!(again.token_key().await.unwrap(), key);
    assert!(again.find_feed("TEST").await.unwrap().is_some());
    again.close().await;
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let Some(server) = server_url() else { return };
    let db = Database::create(&server).await;
    PgStore::connect(&db.url).await.unwrap().close().await;
    run(
        &db.url,
        "INSERT INTO schema_version (version, name, applied) VALUES (999, 'future', 0)",
    )
    .await
    .unwrap();
    let err = PgStore::connect(&db.url).await.err().expect("refused");
    assert!(
        matches!(err, PgOpenError::TooNew { found: 999, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("newer"), "{err}");
}

#[tokio::test]
async fn a_server_that_is_not_there_is_named() {
    let err = PgStore::connect("postgres://nobody:secret@127.0.0.1:1/relay")
        .await
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(matches!(err, PgOpenError::Connect { .. }), "{text}");
    assert!(text.contains("127.0.0.1:1/relay"), "{text}");
    assert!(
        !text.contains("secret"),
        "the password is never printed: {text}"
    );
}

/// Nodes starting together on a new database: each step runs once, all of them connect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_migrate_once() {
    let Some(server) = server_url() else { return };
    let db = Database::create(&server).await;
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { PgStore::connect(&url).await })
        })
        .collect();
    let mut keys = Vec::new();
    for s in starts {
        let store = s.await.unwrap().unwrap();
        keys.push(store.token_key().await.unwrap());
        store.close().await;
    }
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "one token key");
    let (client, connection) = tokio_postgres::connect(&db.url, NoTls).await.unwrap();
    tokio::spawn(connection);
    let rows = client
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .await
        .unwrap();
    let versions: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        versions,
        (1..=PgStore::schema_version()).collect::<Vec<_>>()
    );
}

/// Two nodes posting at once to one database: every `date_added` is unique and a reader sees
/// them in commit order; each node is woken by the other's commits, never by its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_clock_and_wake_each_other() {
    let Some(f) = fresh().await else { return };
    let other: Arc<dyn Store> = Arc::new(PgStore::connect(&f.db.url).await.unwrap());
    let feed = crate::suite::seed(&f.store).await;
    let signal = other.commit_signal().expect("PostgreSQL signals commits");
    // The listener may still be connecting: wait until a commit by the first node wakes the
    // second.
    let mut woken = false;
    for i in 0..50 {
        let wake = signal.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        post_one(&f.store, &feed, i).await;
        if tokio::time::timeout(Duration::from_millis(200), wake)
            .await
            .is_ok()
        {
            woken = true;
            break;
        }
    }
    assert!(woken, "the other node heard the commit");
    // Its own commit does not wake it.
    let own = f.store.commit_signal().unwrap();
    let wake = own.notified();
    tokio::pin!(wake);
    wake.as_mut().enable();
    post_one(&f.store, &feed, 100).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), wake)
            .await
            .is_err(),
        "a node is not woken by its own commits"
    );

    let posts: Vec<_> = [f.store.clone(), other.clone()]
        .into_iter()
        .enumerate()
        .map(|(n, store)| {
            let feed = feed.clone();
            tokio::spawn(async move {
                for i in 0..20 {
                    post_one(&store, &feed, 1000 * (n as u32 + 1) + i).await;
                }
            })
        })
        .collect();
    for p in posts {
        p.await.unwrap();
    }
    let tail = other
        .committed_since(stix::Timestamp::from_micros(i64::MIN), 10_000)
        .await
        .unwrap();
    assert!(tail.len() >= 41, "{}", tail.len());
    assert!(
        tail.windows(2).all(|w| w[0].date_added < w[1].date_added),
        "unique and increasing across nodes"
    );
    other.close().await;
    f.store.close().await;
}

/// A closed store refuses backups like everything else; an open one says to use pg_dump.
#[tokio::test]
async fn backups_are_left_to_pg_dump() {
    let Some(f) = fresh().await else { return };
    let err = f
        .store
        .backup(std::env::temp_dir().join("never-written.db"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pg_dump"), "{err}");
    assert!(f.store.storage_bytes().await.unwrap() > 0);
    f.store.close().await;
}

/// A relay moved to PostgreSQL goes on numbering export changes after the highest number
/// SQLite ever gave, even when the oldest changes were pruned away: clients hold those
/// numbers as `since` tokens, and an RPZ zone's serial follows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrated_export_changes_keep_rising() {
    use crate::suite::{add, obj, seed};
    let Some(server) = server_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> = Arc::new(store::SqliteStore::open(dir.path()).unwrap());
    let feed = seed(&sqlite).await;
    let post = |n: u32| {
        let mut o = obj(
            &format!("indicator--00000000-0000-4000-8000-{n:012}"),
            "indicator",
            Some("2024-01-01T00:00:00Z"),
        );
        o.observables = vec![stix::observable::Observable {
            kind: stix::observable::Kind::Ipv4,
            value: format!("198.51.100.{n}"),
        }];
        add(&feed, vec![o])
    };
    for n in 1..=5 {
        sqlite.add_objects(post(n)).await.unwrap();
    }
    let now = stix::Timestamp::now();
    let given = sqlite.export_version(now).await.unwrap().change;
    assert!(given >= 5, "{given}");
    sqlite.close().await;
    // The oldest changes pruned: here, all of them.
    rusqlite::Connection::open(dir.path().join(store::DB_FILE))
        .unwrap()
        .execute("DELETE FROM export_changes", [])
        .unwrap();

    let db = Database::create(&server).await;
    drop(PgStore::connect(&db.url).await.unwrap());
    store::migrate::sqlite_to_postgres(dir.path(), &db.url, |_| {})
        .await
        .unwrap();
    let pg: Arc<dyn Store> = Arc::new(PgStore::connect(&db.url).await.unwrap());
    pg.add_objects(post(6)).await.unwrap();
    let next = pg.export_version(now).await.unwrap().change;
    assert!(next > given, "change {next} after {given}");
    pg.close().await;
}
