//! The embedded SQLite store.
//!
//! One writer thread owns the only read-write connection and commits in groups: it takes every
//! write waiting in its queue, runs each in its own savepoint inside one transaction, commits
//! once (WAL, `synchronous=FULL`: the commit is fsync'd) and only then answers each caller. So
//! an acknowledged write is on disk, and concurrent posters share one fsync instead of paying
//! one each. Being the only writer also makes `date_added` strictly increasing across feeds, in
//! commit order.
//!
//! Reads run on a small pool of read-only connections on blocking threads; WAL lets them read
//! a consistent snapshot while the writer commits.
//!
//! Checkpoints (copying the write-ahead log back into the database file, with its own fsync)
//! run on a thread of their own four times a second, so that the writer only ever waits for its
//! log's fsync. The writer's automatic checkpoint stays as a backstop at 256 MB of log.

mod accounts;
mod audit;
mod exports;
mod federation;
mod feeds;
mod metrics;
mod migrations;
mod notice;
mod objects;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use relay_core::exchange::{
    AllowEntry, AppliedList, ExportScan, ExportSink, ExportVersion, OrgAsset,
};
use relay_core::notice::{
    Campaign, Finding, FindingCount, FindingQuery, FindingsAdded, FindingsBatch, SnapshotRange,
    Unpublished, UploadRecord,
};
use relay_core::policy::Visibility;
use relay_core::principal::{Principal, UserInfo};
use relay_core::profile::Profile;
use relay_core::query::{ObjectPage, ObjectQuery, StoredObject};
use relay_core::routing::RoutingRule;
use relay_core::status::Status;
use relay_core::store::{
    AddObjects, Change, CommittedObject, DeleteObject, Delivery, Login, ObservableHit,
    ObservableQuery, Reporters, Store, StoreError, TokenInfo, Webhook,
};
use relay_core::token::{TokenHash, generate_key};
use relay_core::{AuditEntry, AuditQuery, AuditRecord, Feed, Org, TrustGroup};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use stix::Timestamp;
use tokio::sync::{Semaphore, oneshot};

/// The database file inside a data directory.
pub const DB_FILE: &str = "relay.db";

/// How many writes the writer folds into one transaction at most.
const MAX_GROUP: usize = 256;
/// How many read connections may be busy at once.
const MAX_READERS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum StoreOpenError {
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the database {path} was written by a newer isac-relay (schema {found}, this one knows up to {known}); refusing to downgrade"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("cannot migrate the database {path}: {source}")]
    Migrate {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

fn internal(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Unavailable("the database is busy".into())
        }
        other => StoreError::Internal(Box::new(other)),
    }
}

fn closed() -> StoreError {
    StoreError::Closed
}

/// The result a write job hands back after the group commit, with the commit's outcome.
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A write: runs on the writer's connection inside a savepoint; returns whether it succeeded
/// (a failed job's savepoint is rolled back) and how to answer its caller.
type WriteJob = Box<dyn FnOnce(&Connection) -> (bool, Completion) + Send>;

struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Readers {
    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(c) = self.idle.lock().map_err(|_| closed())?.pop() {
            return Ok(c);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(internal)?;
        conn.execute_batch(
            "PRAGMA busy_timeout = 5000; PRAGMA cache_size = -16384; PRAGMA query_only = 1;",
        )
        .map_err(internal)?;
        Ok(conn)
    }

    fn put(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }
}

pub struct SqliteStore {
    writer: Mutex<Option<(mpsc::Sender<WriteJob>, JoinHandle<()>)>>,
    checkpointer: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
    readers: Arc<Readers>,
    token_key: Vec<u8>,
}

impl SqliteStore {
    /// The schema version this build writes (a database at it needs no migration).
    pub fn schema_version() -> i64 {
        migrations::STEPS.len() as i64
    }

    /// The schema version of a database file, read without migrating it.
    pub fn file_schema(db_file: &Path) -> Result<i64, StoreOpenError> {
        let conn = Connection::open_with_flags(db_file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|source| StoreOpenError::Open {
                path: db_file.to_owned(),
                source,
            })?;
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|source| StoreOpenError::Open {
                path: db_file.to_owned(),
                source,
            })
    }

    /// Opens (creating if needed) the store in a data directory, migrating its schema.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreOpenError> {
        let path = data_dir.join(DB_FILE);
        let open_err = |source| StoreOpenError::Open {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(open_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000;
             PRAGMA cache_size = -65536;
             PRAGMA wal_autocheckpoint = 65536;
             PRAGMA temp_store = MEMORY;
             PRAGMA journal_size_limit = 67108864;",
        )
        .map_err(open_err)?;
        migrations::run(&conn, &path)?;
        let token_key = ensure_token_key(&conn).map_err(open_err)?;

        let checkpointer = spawn_checkpointer(&path).map_err(|source| StoreOpenError::Open {
            path: path.clone(),
            source,
        })?;
        let (tx, rx) = mpsc::channel::<WriteJob>();
        let handle = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreOpenError::Open {
                path: path.clone(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        Ok(SqliteStore {
            writer: Mutex::new(Some((tx, handle))),
            checkpointer: Mutex::new(Some(checkpointer)),
            readers: Arc::new(Readers {
                path,
                idle: Mutex::new(Vec::new()),
                permits: Semaphore::new(MAX_READERS),
            }),
            token_key,
        })
    }

    /// Leaves the database in `data_dir` at schema `version`, as the release whose last
    /// migration that was left it (token key included), and closes it. For the tests of
    /// upgrades from every earlier release: they write that release's data into it, then open
    /// it with `open`.
    #[doc(hidden)]
    pub fn create_at_version(data_dir: &Path, version: i64) -> Result<(), StoreOpenError> {
        let path = data_dir.join(DB_FILE);
        let conn = Connection::open(&path).map_err(|source| StoreOpenError::Open {
            path: path.clone(),
            source,
        })?;
        migrations::run_to(&conn, &path, version)?;
        ensure_token_key(&conn).map_err(|source| StoreOpenError::Open { path, source })?;
        Ok(())
    }

    /// Runs `f` in the writer's next group commit and returns its result once committed.
    async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<R, StoreError>>();
        let job: WriteJob = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let complete: Completion = Box::new(move |commit| {
                let answer = match commit {
                    Ok(()) => result,
                    Err(msg) => Err(StoreError::Internal(msg.into())),
                };
                let _ = tx.send(answer);
            });
            (ok, complete)
        });
        {
            let guard = self.writer.lock().map_err(|_| closed())?;
            let (sender, _) = guard.as_ref().ok_or_else(closed)?;
            sender.send(job).map_err(|_| closed())?;
        }
        rx.await.map_err(|_| {
            StoreError::Unavailable("the write could not be carried out; nothing was stored".into())
        })?
    }

    /// Queues `f` for the writer's next group commit without waiting for it. A failure is
    /// logged by the writer; the caller only learns whether the store still takes writes.
    fn write_detached<F>(&self, f: F) -> Result<(), StoreError>
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    {
        let job: WriteJob = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let complete: Completion = Box::new(move |commit| {
                if let Err(e) = result {
                    tracing::error!(error = %e, "a queued write failed");
                } else if let Err(msg) = commit {
                    tracing::error!(error = %msg, "a queued write was not committed");
                }
            });
            (ok, complete)
        });
        let guard = self.writer.lock().map_err(|_| closed())?;
        let (sender, _) = guard.as_ref().ok_or_else(closed)?;
        sender.send(job).map_err(|_| closed())
    }

    /// Runs `f` on a read-only connection on a blocking thread.
    async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        if self.writer.lock().map_err(|_| closed())?.is_none() {
            return Err(closed());
        }
        let _permit = self.readers.permits.acquire().await.map_err(|_| closed())?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers.take()?;
            let result = f(&conn);
            readers.put(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Internal(Box::new(e)))?
    }
}

/// Starts the thread that checkpoints the write-ahead log in the background; it stops when its
/// sender is dropped.
fn spawn_checkpointer(path: &Path) -> rusqlite::Result<(mpsc::Sender<()>, JoinHandle<()>)> {
    let conn = Connection::open(path)?;
    conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
    let (tx, rx) = mpsc::channel::<()>();
    let handle = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                rx.recv_timeout(std::time::Duration::from_millis(250))
            {
                // PASSIVE never blocks the writer or readers; what it cannot copy now it copies
                // next time.
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::warn!(error = %e, "background checkpoint failed");
                }
            }
        })
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    Ok((tx, handle))
}

fn ensure_token_key(conn: &Connection) -> rusqlite::Result<Vec<u8>> {
    let existing: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = 'token_key'", [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(k) = existing {
        return Ok(k);
    }
    let key = generate_key();
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('token_key', ?1)",
        params![key],
    )?;
    Ok(key)
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<WriteJob>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut completions = Vec::with_capacity(group.len());
        let begun = conn.execute_batch("BEGIN IMMEDIATE");
        if let Err(e) = begun {
            tracing::error!(error = %e, "cannot begin a write transaction");
            // Dropping the jobs unrun answers each caller that its write was not carried out.
            drop(group);
            continue;
        }
        for job in group {
            if let Err(e) = conn.execute_batch("SAVEPOINT job") {
                tracing::error!(error = %e, "cannot open a savepoint");
            }
            let (ok, complete) = job(&conn);
            let end = if ok {
                conn.execute_batch("RELEASE job")
            } else {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")
            };
            if let Err(e) = end {
                tracing::error!(error = %e, "cannot close a savepoint");
            }
            completions.push(complete);
        }
        let commit = conn.execute_batch("COMMIT").map_err(|e| {
            tracing::error!(error = %e, "group commit failed");
            let _ = conn.execute_batch("ROLLBACK");
            "the write could not be committed".to_owned()
        });
        for complete in completions {
            complete(commit.clone());
        }
    }
    // The queue is closed: fold the WAL back into the database so that the data directory is
    // one clean file.
    if let Err(e) = conn.execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "checkpoint on close failed");
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn token_key(&self) -> Result<Vec<u8>, StoreError> {
        Ok(self.token_key.clone())
    }

    async fn bootstrap_admin(
        &self,
        user_name: &str,
        token_hash: TokenHash,
    ) -> Result<bool, StoreError> {
        let user_name = user_name.to_owned();
        self.write(move |conn| accounts::bootstrap_admin(conn, &user_name, &token_hash))
            .await
    }

    async fn principal_for_token(
        &self,
        token_hash: TokenHash,
        now: Timestamp,
    ) -> Result<Option<Principal>, StoreError> {
        self.read(move |conn| accounts::principal_for_token(conn, &token_hash, now))
            .await
    }

    async fn apply(&self, change: Change, audit: AuditEntry) -> Result<i64, StoreError> {
        self.write(move |conn| accounts::apply(conn, change, &audit))
            .await
    }

    async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.read(accounts::list_tokens).await
    }

    async fn list_orgs(&self) -> Result<Vec<Org>, StoreError> {
        self.read(accounts::list_orgs).await
    }

    async fn find_org(&self, name: &str) -> Result<Option<Org>, StoreError> {
        let name = name.to_owned();
        self.read(move |conn| accounts::find_org(conn, &name)).await
    }

    async fn list_users(&self) -> Result<Vec<UserInfo>, StoreError> {
        self.read(accounts::list_users).await
    }

    async fn login(&self, user_name: &str) -> Result<Option<Login>, StoreError> {
        let name = user_name.to_owned();
        self.read(move |conn| accounts::login(conn, &name)).await
    }

    async fn list_groups(&self) -> Result<Vec<TrustGroup>, StoreError> {
        self.read(accounts::list_groups).await
    }

    async fn list_feeds(&self) -> Result<Vec<Feed>, StoreError> {
        self.read(accounts::list_feeds).await
    }

    async fn find_feed(&self, key: &str) -> Result<Option<Feed>, StoreError> {
        let key = key.to_owned();
        self.read(move |conn| accounts::find_feed(conn, &key)).await
    }

    async fn record(&self, entry: AuditEntry) -> Result<(), StoreError> {
        self.write_detached(move |conn| audit::append(conn, &entry))
    }

    async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        // The writer's queue is first in, first out: an empty write committed now means every
        // entry recorded before this call is in the log that is read next.
        self.write(|_| Ok(())).await?;
        let query = query.clone();
        self.read(move |conn| audit::query(conn, &query)).await
    }

    async fn add_objects(&self, request: AddObjects) -> Result<Status, StoreError> {
        self.write(move |conn| objects::add(conn, request)).await
    }

    async fn status(&self, id: &str) -> Result<Option<(i64, Status)>, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| {
            let row: Option<(i64, String)> = conn
                .prepare_cached("SELECT owner, body FROM statuses WHERE id = ?1")
                .map_err(internal)?
                .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(internal)?;
            row.map(|(owner, body)| {
                serde_json::from_str(&body)
                    .map(|s| (owner, s))
                    .map_err(|e| StoreError::Internal(Box::new(e)))
            })
            .transpose()
        })
        .await
    }

    async fn query_objects(
        &self,
        feeds: &[(String, Visibility)],
        query: &ObjectQuery,
    ) -> Result<ObjectPage, StoreError> {
        let (feeds, query) = (feeds.to_vec(), query.clone());
        self.read(move |conn| {
            if crate::walks::count(feeds.len(), &query) > 1 {
                // One read transaction: every walk sees the same snapshot.
                let tx = conn.unchecked_transaction().map_err(internal)?;
                let page = objects::query(&tx, &feeds, &query)?;
                tx.finish().map_err(internal)?;
                return Ok(page);
            }
            objects::query(conn, &feeds, &query)
        })
        .await
    }

    async fn referencing(
        &self,
        feeds: &[(String, Visibility)],
        id: &str,
        limit: usize,
    ) -> Result<Vec<StoredObject>, StoreError> {
        let (feeds, id) = (feeds.to_vec(), id.to_owned());
        self.read(move |conn| objects::referencing(conn, &feeds, &id, limit))
            .await
    }

    async fn committed_since(
        &self,
        after: Timestamp,
        limit: usize,
    ) -> Result<Vec<CommittedObject>, StoreError> {
        self.read(move |conn| objects::committed_since(conn, after, limit))
            .await
    }

    async fn last_added(&self) -> Result<Option<Timestamp>, StoreError> {
        self.read(|conn| Ok(objects::last_added(conn)?.map(Timestamp::from_micros)))
            .await
    }

    async fn reporters(
        &self,
        kinds: &[String],
        values: &[String],
    ) -> Result<Vec<Reporters>, StoreError> {
        let (kinds, values) = (kinds.to_vec(), values.to_vec());
        self.read(move |conn| objects::reporters(conn, &kinds, &values))
            .await
    }

    async fn list_rules(&self) -> Result<Vec<RoutingRule>, StoreError> {
        self.read(feeds::list_rules).await
    }

    async fn profiles(
        &self,
        org_id: i64,
        token_id: i64,
    ) -> Result<(Option<Profile>, Option<Profile>), StoreError> {
        self.read(move |conn| feeds::profiles(conn, org_id, token_id))
            .await
    }

    async fn peers(&self) -> Result<Vec<relay_core::federation::Peer>, StoreError> {
        self.read(federation::peers).await
    }

    async fn record_peer_progress(
        &self,
        peer: i64,
        progress: relay_core::federation::PeerProgress,
    ) -> Result<(), StoreError> {
        self.write(move |conn| federation::record_progress(conn, peer, &progress))
            .await
    }

    async fn lease(
        &self,
        job: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let (job, holder) = (job.to_owned(), holder.to_owned());
        self.write(move |conn| federation::lease(conn, &job, &holder, now, until))
            .await
    }

    async fn list_webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        self.read(feeds::list_webhooks).await
    }

    async fn record_delivery(
        &self,
        delivery: Delivery,
        cursor: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.write(move |conn| feeds::record_delivery(conn, &delivery, cursor))
            .await
    }

    async fn deliveries(&self, webhook: i64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        self.read(move |conn| feeds::deliveries(conn, webhook, limit))
            .await
    }

    async fn delete_object(
        &self,
        request: DeleteObject,
        audit: AuditEntry,
    ) -> Result<usize, StoreError> {
        self.write(move |conn| {
            let n = objects::delete(conn, &request)?;
            if n > 0 {
                let mut audit = audit;
                audit.count = Some(n as u64);
                audit::append(conn, &audit)?;
            }
            Ok(n)
        })
        .await
    }

    async fn search_observables(
        &self,
        query: &ObservableQuery,
    ) -> Result<Vec<ObservableHit>, StoreError> {
        let query = query.clone();
        self.read(move |conn| objects::search(conn, &query)).await
    }

    async fn export_version(&self, now: Timestamp) -> Result<ExportVersion, StoreError> {
        self.read(move |conn| exports::version(conn, now.as_micros()))
            .await
    }

    async fn export_scan(&self, scan: ExportScan, sink: ExportSink) -> Result<(), StoreError> {
        self.read(move |conn| exports::scan(conn, &scan, sink))
            .await
    }

    async fn applied_list(
        &self,
        org: i64,
        feed_id: &str,
    ) -> Result<Option<AppliedList>, StoreError> {
        let feed_id = feed_id.to_owned();
        self.read(move |conn| exports::applied_list(conn, org, &feed_id))
            .await
    }

    async fn list_allowlist(&self) -> Result<Vec<AllowEntry>, StoreError> {
        self.read(exports::list_allowlist).await
    }

    async fn org_assets(&self, org: Option<i64>) -> Result<Vec<OrgAsset>, StoreError> {
        self.read(move |conn| exports::org_assets(conn, org)).await
    }

    async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        self.read(notice::campaigns).await
    }

    async fn campaign(&self, name: &str) -> Result<Option<Campaign>, StoreError> {
        let name = name.to_owned();
        self.read(move |conn| notice::campaign(conn, &name)).await
    }

    async fn campaign_ranges(&self, campaign: i64) -> Result<Vec<SnapshotRange>, StoreError> {
        self.read(move |conn| notice::campaign_ranges(conn, campaign))
            .await
    }

    async fn unpublished_findings(&self, limit: usize) -> Result<Unpublished, StoreError> {
        self.read(move |conn| notice::unpublished(conn, limit))
            .await
    }

    async fn last_finding_id(&self) -> Result<i64, StoreError> {
        self.read(notice::last_finding_id).await
    }

    async fn add_findings(
        &self,
        campaign: i64,
        batch: FindingsBatch,
    ) -> Result<FindingsAdded, StoreError> {
        self.write(move |conn| notice::add_findings(conn, campaign, &batch))
            .await
    }

    async fn findings(&self, query: &FindingQuery) -> Result<Vec<Finding>, StoreError> {
        let query = query.clone();
        self.read(move |conn| notice::findings(conn, &query)).await
    }

    async fn finding_counts(
        &self,
        from: Timestamp,
        to: Timestamp,
        org: Option<i64>,
    ) -> Result<Vec<FindingCount>, StoreError> {
        self.read(move |conn| notice::finding_counts(conn, from, to, org))
            .await
    }

    async fn set_campaign_cursor(
        &self,
        campaign: i64,
        cursor: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| notice::set_campaign_cursor(conn, campaign, cursor))
            .await
    }

    async fn uploads(&self, campaign: i64) -> Result<Vec<UploadRecord>, StoreError> {
        self.read(move |conn| notice::uploads(conn, campaign)).await
    }

    async fn feed_sizes(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT c.name, (SELECT count(*) FROM objects o WHERE o.collection = c.seq)
                   FROM collections c ORDER BY c.name",
            )
            .map_err(internal)?
            .query_map([], |r| {
                Ok((r.get(0)?, u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0)))
            })
            .map_err(internal)?
            .collect::<Result<_, _>>()
            .map_err(internal)
        })
        .await
    }

    async fn backup(&self, dest: PathBuf) -> Result<(), StoreError> {
        if dest.exists() {
            return Err(StoreError::Conflict(format!(
                "{} exists: a backup is written to a new file",
                dest.display()
            )));
        }
        let target = dest
            .to_str()
            .ok_or_else(|| StoreError::Conflict(format!("{} is not UTF-8", dest.display())))?
            .to_owned();
        // VACUUM INTO copies one read transaction's snapshot, on a reader: writers go on. The
        // reader is opened read-only; `query_only` is lifted for the copy, which writes only
        // the new file, and put back whatever happens.
        self.read(move |conn| {
            conn.execute_batch("PRAGMA query_only = 0")
                .map_err(internal)?;
            let copied = conn.execute("VACUUM INTO ?1", params![target]);
            conn.execute_batch("PRAGMA query_only = 1")
                .map_err(internal)?;
            copied.map(|_| ()).map_err(internal)
        })
        .await
    }

    async fn storage_bytes(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(internal)
        })
        .await
    }

    async fn metric_coverage(&self) -> Result<relay_core::metrics::Coverage, StoreError> {
        self.read(metrics::coverage).await
    }

    async fn metric_leads(
        &self,
        org: Option<i64>,
    ) -> Result<Vec<relay_core::metrics::LeadTimes>, StoreError> {
        self.read(move |conn| metrics::leads(conn, org)).await
    }

    async fn observable_reports(
        &self,
        kind: &str,
        value: &str,
    ) -> Result<Vec<relay_core::metrics::ObservableReport>, StoreError> {
        let (kind, value) = (kind.to_owned(), value.to_owned());
        self.read(move |conn| metrics::observable_reports(conn, &kind, &value))
            .await
    }

    async fn first_reports(
        &self,
        from: Timestamp,
        to: Timestamp,
        each: Box<dyn FnMut(relay_core::metrics::FirstReport) + Send>,
    ) -> Result<u64, StoreError> {
        self.read(move |conn| metrics::first_reports(conn, from, to, each))
            .await
    }

    async fn close(&self) {
        if let Some((stop, handle)) = self.checkpointer.lock().ok().and_then(|mut c| c.take()) {
            drop(stop);
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        let taken = self.writer.lock().ok().and_then(|mut w| w.take());
        // Readers first, so that the writer's connection is the last one and its checkpoint
        // leaves one clean database file.
        if let Ok(mut idle) = self.readers.idle.lock() {
            idle.clear();
        }
        if let Some((sender, handle)) = taken {
            drop(sender);
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}
