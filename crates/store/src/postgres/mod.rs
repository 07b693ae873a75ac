//! The PostgreSQL store, for several relay nodes sharing one database.
//!
//! **Connections.** Reads and writes take a connection from a pool (`deadpool-postgres`, up to
//! `MAX_CONNECTIONS`; a request that waits longer than `WAIT` for one, or whose connection
//! breaks, fails with `StoreError::Unavailable`). Statements are prepared once per connection
//! and cached. No TLS to the database yet.
//!
//! **Writes and `date_added`.** SQLite has one writer thread; here any node may write, so every
//! writing transaction (posts, deletes, changes with their audit entry, findings, the
//! bootstrap) first takes one transaction-scoped advisory lock (`WRITE_LOCK`). Writers are
//! thereby serialised across processes exactly as SQLite's writer serialises them in one: each
//! reads what every earlier writer committed, and checks made before an insert (a name taken,
//! a finding id reserved) still hold at the insert. A post assigns each object
//! `max(now, last + 1µs)` under that lock and commits before releasing it (PostgreSQL releases
//! transaction locks after the commit is visible), so `date_added` is strictly increasing
//! across all feeds and nodes, and a reader paging by `added_after` never skips an object that
//! commits later. Single-statement writes whose outcome depends on nothing read before
//! (appending an audit entry, logging a delivery, moving a cursor forward, taking a lease) run
//! without the lock.
//!
//! **Posts in a fixed number of statements.** `objects::add` reads the state a post depends
//! on in a few array queries, decides everything in memory in SQLite's order, and writes it
//! with `unnest` arrays: never a round trip per object.
//!
//! **Live tail across nodes.** A post also runs `pg_notify('relay_commits', <origin>)`, which
//! PostgreSQL delivers when (and only if) it commits. Each store keeps one dedicated
//! connection that `LISTEN`s on that channel and wakes `commit_signal()`'s waiters for every
//! notification from another store; if that connection drops it reconnects with a short
//! backoff and wakes the waiters once more, since commits made meanwhile sent notifications no
//! one heard. Deletes notify nothing: the tail (`committed_since`) reads only versions added.
//!
//! **Leases.** `lease` is one atomic upsert on `leases`: a background job (webhooks,
//! federation, the NOTICE publisher) runs on the node that holds its lease.
//!
//! **Streaming reads.** `export_scan` and `first_reports` read one REPEATABLE READ, read-only
//! snapshot and hand rows on as they arrive (portals fetched a batch at a time, or the row
//! stream), so a large export or a month of first reports is never held in memory.
//!
//! **Errors.** A broken or refused connection, a pool timeout, or PostgreSQL shutting down is
//! `Unavailable`; a unique violation is `Conflict` (the checks SQLite makes first are made
//! here too, under the lock); anything else is `Internal`, its text logged, never shown.

mod accounts;
mod audit;
mod exports;
mod federation;
mod feeds;
mod metrics;
mod migrations;
mod notice;
mod objects;
mod sql;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, Transaction,
};
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
use stix::Timestamp;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, IsolationLevel, NoTls};

use sql::{Col, unsigned};

/// How many connections the pool opens at most.
const MAX_CONNECTIONS: usize = 16;
/// How long a request waits for a free connection before it is `Unavailable`.
const WAIT: Duration = Duration::from_secs(30);
/// How long opening a connection may take.
const CONNECT: Duration = Duration::from_secs(10);
/// The advisory lock every writing transaction takes (a constant no other code uses).
const WRITE_LOCK: i64 = 0x7265_6c61_795f_7731; // "relay_w1"
/// The channel commits are announced on.
pub(crate) const COMMITS_CHANNEL: &str = "relay_commits";
/// The listener's wait before reconnecting, doubled after each failure up to the longest.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));

#[derive(Debug, thiserror::Error)]
pub enum PgOpenError {
    #[error("the PostgreSQL URL is not valid: {0}")]
    Url(#[source] tokio_postgres::Error),
    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(
        "the PostgreSQL database {target} was written by a newer isac-relay (schema {found}, this one knows up to {known}); refusing to downgrade"
    )]
    TooNew {
        target: String,
        found: i64,
        known: i64,
    },
    #[error("cannot migrate the PostgreSQL database {target} (step {step}): {source}")]
    Migrate {
        target: String,
        step: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("cannot read the token key from the PostgreSQL database {target}: {source}")]
    TokenKey {
        target: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("cannot set up the connection pool for {target}: {reason}")]
    Pool { target: String, reason: String },
}

/// Where a configuration points, for messages: hosts, ports and database, never the password.
fn describe(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "{}:{}/{}",
        hosts.join(","),
        if ports.is_empty() {
            "5432".to_owned()
        } else {
            ports.join(",")
        },
        config.get_dbname().unwrap_or("")
    )
}

/// A PostgreSQL error as the store reports it. Engine text stays in `Internal` (logged by the
/// caller, never shown) or in the log.
pub(crate) fn pg(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            return StoreError::Conflict("that already exists".into());
        }
        let class = &code.code()[..2];
        // Connection exceptions, insufficient resources, an operator or crash shutdown, a
        // server not accepting connections, a standby refusing writes, serialisation and
        // deadlock failures: all pass, and the caller may try again.
        let transient = matches!(class, "08" | "53" | "57" | "40" | "28")
            || *code == SqlState::READ_ONLY_SQL_TRANSACTION
            || *code == SqlState::LOCK_NOT_AVAILABLE;
        if transient {
            tracing::warn!(error = %e, "PostgreSQL refused the request");
            return StoreError::Unavailable("the database is unavailable".into());
        }
        return StoreError::Internal(Box::new(e));
    }
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if e.is_closed() || io {
        tracing::warn!(error = %e, "the connection to PostgreSQL failed");
        return StoreError::Unavailable("the database is unreachable".into());
    }
    StoreError::Internal(Box::new(e))
}

fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Closed => closed(),
        PoolError::Backend(e) => pg(e),
        PoolError::Timeout(kind) => {
            tracing::warn!(?kind, "no PostgreSQL connection in time");
            StoreError::Unavailable("no database connection became free in time".into())
        }
        other => StoreError::Internal(Box::new(other)),
    }
}

fn closed() -> StoreError {
    StoreError::Closed
}

pub struct PgStore {
    pool: Pool,
    token_key: Vec<u8>,
    /// This store's mark on the commits it announces, so that its listener skips its own.
    origin: String,
    signal: Arc<Notify>,
    listener: Mutex<Option<JoinHandle<()>>>,
    /// Objects posted through this store since it last refreshed the planner's statistics.
    grown: std::sync::atomic::AtomicUsize,
}

/// Objects posted through one store between two refreshes of the planner's statistics.
const ANALYZE_EVERY: usize = 10_000;

impl PgStore {
    /// The schema version this build writes (the same numbering as SQLite's).
    pub fn schema_version() -> i64 {
        migrations::STEPS.len() as i64
    }

    /// Connects to the database at `url` (`postgres://user:password@host:port/database`),
    /// migrating its schema, and starts listening for other nodes' commits. Several nodes may
    /// connect to one new database at once: the schema is created once.
    pub async fn connect(url: &str) -> Result<PgStore, PgOpenError> {
        let config: tokio_postgres::Config = url.parse().map_err(PgOpenError::Url)?;
        let target = describe(&config);
        let (mut client, connection) =
            config
                .connect(NoTls)
                .await
                .map_err(|source| PgOpenError::Connect {
                    target: target.clone(),
                    source,
                })?;
        let driver = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "the PostgreSQL setup connection failed");
            }
        });
        migrations::run(&mut client, &target).await?;
        let token_key =
            ensure_token_key(&client)
                .await
                .map_err(|source| PgOpenError::TokenKey {
                    target: target.clone(),
                    source,
                })?;
        drop(client);
        let _ = driver.await;

        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(MAX_CONNECTIONS)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(WAIT))
            .create_timeout(Some(CONNECT))
            .recycle_timeout(Some(CONNECT))
            .build()
            .map_err(|e| PgOpenError::Pool {
                target: target.clone(),
                reason: e.to_string(),
            })?;
        let origin = format!(
            "{}-{}-{:p}",
            std::process::id(),
            Timestamp::now().as_micros(),
            &pool
        );
        let signal = Arc::new(Notify::new());
        let listener = tokio::spawn(listen(config, origin.clone(), signal.clone()));
        Ok(PgStore {
            pool,
            token_key,
            origin,
            signal,
            listener: Mutex::new(Some(listener)),
            grown: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Refreshes the planner's statistics of the tables posts grow, in the background, every
    /// `ANALYZE_EVERY` objects posted here. Without them (autovacuum analyses only after a
    /// while) PostgreSQL takes a freshly filled feed for a few rows and pages it by sorting
    /// the whole feed for each page: measured 20 to 60 times slower right after a bulk post
    /// (bench/pg.sh). ANALYZE samples a bounded number of rows, whatever the table's size.
    fn note_growth(&self, objects: usize) {
        use std::sync::atomic::Ordering;
        let before = self.grown.fetch_add(objects, Ordering::Relaxed);
        if before / ANALYZE_EVERY == (before + objects) / ANALYZE_EVERY {
            return;
        }
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let analysed = async {
                let client = pool.get().await.map_err(|e| e.to_string())?;
                client
                    .batch_execute(
                        "ANALYZE objects, observables, observable_ranges, object_refs, export_entries",
                    )
                    .await
                    .map_err(|e| e.to_string())
            };
            if let Err(e) = analysed.await {
                tracing::warn!(error = %e, "cannot refresh the planner's statistics");
            }
        });
    }

    /// A pooled connection; `Closed` once the store is closed.
    async fn client(&self) -> Result<Object, StoreError> {
        if self.pool.is_closed() {
            return Err(closed());
        }
        self.pool.get().await.map_err(pool_error)
    }

    /// Runs a read-only, REPEATABLE READ transaction: one snapshot for everything it reads.
    async fn snapshot(client: &mut Object) -> Result<Transaction<'_>, StoreError> {
        client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg)
    }
}

/// Begins a writing transaction holding the write lock (see the module doc).
async fn begin_write(client: &mut Object) -> Result<Transaction<'_>, StoreError> {
    let tx = client.transaction().await.map_err(pg)?;
    let lock = tx
        .prepare_cached("SELECT pg_advisory_xact_lock($1)")
        .await
        .map_err(pg)?;
    tx.execute(&lock, &[&WRITE_LOCK]).await.map_err(pg)?;
    Ok(tx)
}

/// The token key, created with the database (by whichever node gets there first).
async fn ensure_token_key(
    client: &tokio_postgres::Client,
) -> Result<Vec<u8>, tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO meta (key, value) VALUES ('token_key', $1) ON CONFLICT (key) DO NOTHING",
            &[&generate_key()],
        )
        .await?;
    client
        .query_one("SELECT value FROM meta WHERE key = 'token_key'", &[])
        .await?
        .try_get(0)
}

/// Listens for commits announced by other stores on the database and wakes `signal`'s
/// waiters for each; reconnects after a failure, waking the waiters once connected again.
/// Runs until aborted.
async fn listen(config: tokio_postgres::Config, origin: String, signal: Arc<Notify>) {
    let mut backoff = BACKOFF.0;
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let statement = format!("LISTEN {COMMITS_CHANNEL}");
                let subscribe = client.batch_execute(&statement);
                tokio::pin!(subscribe);
                let mut listening = false;
                loop {
                    tokio::select! {
                        done = &mut subscribe, if !listening => match done {
                            Ok(()) => {
                                listening = true;
                                backoff = BACKOFF.0;
                                // Commits made while no one listened announced themselves to
                                // no one: wake the waiters so that they look.
                                signal.notify_waiters();
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot listen for commits");
                                break;
                            }
                        },
                        message = std::future::poll_fn(|cx| connection.poll_message(cx)) => {
                            match message {
                                Some(Ok(AsyncMessage::Notification(n))) => {
                                    if n.payload() != origin {
                                        signal.notify_waiters();
                                    }
                                }
                                Some(Ok(_)) => {}
                                Some(Err(e)) => {
                                    tracing::warn!(error = %e, "the commit listener lost its connection");
                                    break;
                                }
                                None => break,
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "the commit listener cannot connect"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF.1);
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.lock().ok().and_then(|mut l| l.take()) {
            listener.abort();
        }
    }
}

/// Runs `$body` with `$tx`, a writing transaction holding the write lock, and commits.
macro_rules! write {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let mut client = $self.client().await?;
        let $tx = begin_write(&mut client).await?;
        let out = $body;
        $tx.commit().await.map_err(pg)?;
        Ok(out)
    }};
}

#[async_trait]
impl Store for PgStore {
    async fn token_key(&self) -> Result<Vec<u8>, StoreError> {
        Ok(self.token_key.clone())
    }

    async fn bootstrap_admin(
        &self,
        user_name: &str,
        token_hash: TokenHash,
    ) -> Result<bool, StoreError> {
        write!(self, |tx| accounts::bootstrap_admin(
            &tx,
            user_name,
            &token_hash
        )
        .await?)
    }

    async fn principal_for_token(
        &self,
        token_hash: TokenHash,
        now: Timestamp,
    ) -> Result<Option<Principal>, StoreError> {
        accounts::principal_for_token(&self.client().await?, &token_hash, now).await
    }

    async fn apply(&self, change: Change, audit: AuditEntry) -> Result<i64, StoreError> {
        write!(self, |tx| accounts::apply(&tx, change, &audit).await?)
    }

    async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        accounts::list_tokens(&self.client().await?).await
    }

    async fn list_orgs(&self) -> Result<Vec<Org>, StoreError> {
        accounts::list_orgs(&self.client().await?).await
    }

    async fn find_org(&self, name: &str) -> Result<Option<Org>, StoreError> {
        accounts::find_org(&self.client().await?, name).await
    }

    async fn list_users(&self) -> Result<Vec<UserInfo>, StoreError> {
        accounts::list_users(&self.client().await?).await
    }

    async fn login(&self, user_name: &str) -> Result<Option<Login>, StoreError> {
        accounts::login(&self.client().await?, user_name).await
    }

    async fn list_groups(&self) -> Result<Vec<TrustGroup>, StoreError> {
        accounts::list_groups(&self.client().await?).await
    }

    async fn list_feeds(&self) -> Result<Vec<Feed>, StoreError> {
        accounts::list_feeds(&self.client().await?).await
    }

    async fn find_feed(&self, key: &str) -> Result<Option<Feed>, StoreError> {
        accounts::find_feed(&self.client().await?, key).await
    }

    async fn record(&self, entry: AuditEntry) -> Result<(), StoreError> {
        // One insert, committed on its own: no other write waits for it.
        audit::append(&self.client().await?, &entry).await
    }

    async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        audit::query(&self.client().await?, query).await
    }

    async fn add_objects(&self, request: AddObjects) -> Result<Status, StoreError> {
        let count = request.objects.len();
        let status = write!(self, |tx| objects::add(&tx, request, &self.origin).await?)?;
        self.note_growth(count);
        Ok(status)
    }

    async fn status(&self, id: &str) -> Result<Option<(i64, Status)>, StoreError> {
        let client = self.client().await?;
        let row = accounts::row_opt(
            &client,
            "SELECT owner, body FROM statuses WHERE id = $1",
            &[&id],
        )
        .await?;
        row.map(|r| {
            let body: &str = r.col(1)?;
            serde_json::from_str(body)
                .map(|s| (r.col::<i64>(0).unwrap_or(0), s))
                .map_err(|e| StoreError::Internal(Box::new(e)))
        })
        .transpose()
    }

    async fn query_objects(
        &self,
        feeds: &[(String, Visibility)],
        query: &ObjectQuery,
    ) -> Result<ObjectPage, StoreError> {
        let mut client = self.client().await?;
        if crate::walks::count(feeds.len(), query) > 1 {
            let tx = Self::snapshot(&mut client).await?;
            return objects::query(&tx, feeds, query).await;
        }
        objects::query(&client, feeds, query).await
    }

    async fn peers(&self) -> Result<Vec<relay_core::federation::Peer>, StoreError> {
        federation::peers(&self.client().await?).await
    }

    async fn record_peer_progress(
        &self,
        peer: i64,
        progress: relay_core::federation::PeerProgress,
    ) -> Result<(), StoreError> {
        federation::record_progress(&self.client().await?, peer, &progress).await
    }

    async fn lease(
        &self,
        job: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        federation::lease(&self.client().await?, job, holder, now, until).await
    }

    fn commit_signal(&self) -> Option<Arc<Notify>> {
        Some(self.signal.clone())
    }

    async fn referencing(
        &self,
        feeds: &[(String, Visibility)],
        id: &str,
        limit: usize,
    ) -> Result<Vec<StoredObject>, StoreError> {
        objects::referencing(&self.client().await?, feeds, id, limit).await
    }

    async fn committed_since(
        &self,
        after: Timestamp,
        limit: usize,
    ) -> Result<Vec<CommittedObject>, StoreError> {
        objects::committed_since(&self.client().await?, after, limit).await
    }

    async fn last_added(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(objects::last_added(&self.client().await?)
            .await?
            .map(Timestamp::from_micros))
    }

    async fn delete_object(
        &self,
        request: DeleteObject,
        audit: AuditEntry,
    ) -> Result<usize, StoreError> {
        write!(self, |tx| {
            let n = objects::delete(&tx, &request).await?;
            if n > 0 {
                let mut audit = audit;
                audit.count = Some(n as u64);
                audit::append(&tx, &audit).await?;
            }
            n
        })
    }

    async fn search_observables(
        &self,
        query: &ObservableQuery,
    ) -> Result<Vec<ObservableHit>, StoreError> {
        objects::search(&self.client().await?, query).await
    }

    async fn reporters(
        &self,
        kinds: &[String],
        values: &[String],
    ) -> Result<Vec<Reporters>, StoreError> {
        objects::reporters(&self.client().await?, kinds, values).await
    }

    async fn list_rules(&self) -> Result<Vec<RoutingRule>, StoreError> {
        feeds::list_rules(&self.client().await?).await
    }

    async fn profiles(
        &self,
        org_id: i64,
        token_id: i64,
    ) -> Result<(Option<Profile>, Option<Profile>), StoreError> {
        feeds::profiles(&self.client().await?, org_id, token_id).await
    }

    async fn list_webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        feeds::list_webhooks(&self.client().await?).await
    }

    async fn record_delivery(
        &self,
        delivery: Delivery,
        cursor: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        feeds::record_delivery(&tx, &delivery, cursor).await?;
        tx.commit().await.map_err(pg)
    }

    async fn deliveries(&self, webhook: i64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        feeds::deliveries(&self.client().await?, webhook, limit).await
    }

    async fn export_version(&self, now: Timestamp) -> Result<ExportVersion, StoreError> {
        exports::version(&self.client().await?, now.as_micros()).await
    }

    async fn export_scan(&self, scan: ExportScan, sink: ExportSink) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = Self::snapshot(&mut client).await?;
        exports::scan(&tx, &scan, sink).await?;
        tx.commit().await.map_err(pg)
    }

    async fn applied_list(
        &self,
        org: i64,
        feed_id: &str,
    ) -> Result<Option<AppliedList>, StoreError> {
        exports::applied_list(&self.client().await?, org, feed_id).await
    }

    async fn list_allowlist(&self) -> Result<Vec<AllowEntry>, StoreError> {
        exports::list_allowlist(&self.client().await?).await
    }

    async fn org_assets(&self, org: Option<i64>) -> Result<Vec<OrgAsset>, StoreError> {
        exports::org_assets(&self.client().await?, org).await
    }

    async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        notice::campaigns(&self.client().await?).await
    }

    async fn campaign(&self, name: &str) -> Result<Option<Campaign>, StoreError> {
        notice::campaign(&self.client().await?, name).await
    }

    async fn campaign_ranges(&self, campaign: i64) -> Result<Vec<SnapshotRange>, StoreError> {
        notice::campaign_ranges(&self.client().await?, campaign).await
    }

    async fn unpublished_findings(&self, limit: usize) -> Result<Unpublished, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::snapshot(&mut client).await?;
        let out = notice::unpublished(&tx, limit).await?;
        tx.commit().await.map_err(pg)?;
        Ok(out)
    }

    async fn last_finding_id(&self) -> Result<i64, StoreError> {
        notice::last_finding_id(&self.client().await?).await
    }

    async fn add_findings(
        &self,
        campaign: i64,
        batch: FindingsBatch,
    ) -> Result<FindingsAdded, StoreError> {
        write!(self, |tx| notice::add_findings(&tx, campaign, &batch)
            .await?)
    }

    async fn findings(&self, query: &FindingQuery) -> Result<Vec<Finding>, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::snapshot(&mut client).await?;
        let out = notice::findings(&tx, query).await?;
        tx.commit().await.map_err(pg)?;
        Ok(out)
    }

    async fn finding_counts(
        &self,
        from: Timestamp,
        to: Timestamp,
        org: Option<i64>,
    ) -> Result<Vec<FindingCount>, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::snapshot(&mut client).await?;
        let out = notice::finding_counts(&tx, from, to, org).await?;
        tx.commit().await.map_err(pg)?;
        Ok(out)
    }

    async fn set_campaign_cursor(
        &self,
        campaign: i64,
        cursor: Timestamp,
    ) -> Result<(), StoreError> {
        notice::set_campaign_cursor(&self.client().await?, campaign, cursor).await
    }

    async fn uploads(&self, campaign: i64) -> Result<Vec<UploadRecord>, StoreError> {
        notice::uploads(&self.client().await?, campaign).await
    }

    async fn metric_coverage(&self) -> Result<relay_core::metrics::Coverage, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::snapshot(&mut client).await?;
        let out = metrics::coverage(&tx).await?;
        tx.commit().await.map_err(pg)?;
        Ok(out)
    }

    async fn metric_leads(
        &self,
        org: Option<i64>,
    ) -> Result<Vec<relay_core::metrics::LeadTimes>, StoreError> {
        metrics::leads(&self.client().await?, org).await
    }

    async fn observable_reports(
        &self,
        kind: &str,
        value: &str,
    ) -> Result<Vec<relay_core::metrics::ObservableReport>, StoreError> {
        metrics::observable_reports(&self.client().await?, kind, value).await
    }

    async fn first_reports(
        &self,
        from: Timestamp,
        to: Timestamp,
        each: Box<dyn FnMut(relay_core::metrics::FirstReport) + Send>,
    ) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::snapshot(&mut client).await?;
        let n = metrics::first_reports(&tx, from, to, each).await?;
        tx.commit().await.map_err(pg)?;
        Ok(n)
    }

    async fn feed_sizes(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let client = self.client().await?;
        accounts::rows(
            &client,
            "SELECT c.name, (SELECT count(*) FROM objects o WHERE o.collection = c.seq)
               FROM collections c ORDER BY c.name",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok((r.col(0)?, unsigned(r.col(1)?))))
        .collect()
    }

    async fn storage_bytes(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let r =
            accounts::row_one(&client, "SELECT pg_database_size(current_database())", &[]).await?;
        Ok(unsigned(r.col(0)?))
    }

    async fn backup(&self, dest: PathBuf) -> Result<(), StoreError> {
        if self.pool.is_closed() {
            return Err(closed());
        }
        Err(StoreError::Conflict(format!(
            "not written to {}: a PostgreSQL store is backed up with pg_dump (or the server's \
             own backups), not by isac-relay",
            dest.display()
        )))
    }

    async fn close(&self) {
        self.pool.close();
        if let Some(listener) = self.listener.lock().ok().and_then(|mut l| l.take()) {
            listener.abort();
        }
    }
}
