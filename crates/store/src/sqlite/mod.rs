//! The embedded SQLite store.
//!
//! One writer thread owns the only read-write connection and commits in groups: it takes every
//! write waiting in its queue, runs each in its own savepoint inside one transaction, commits
//! once (WAL, `synchronous=FULL`: the commit is fsync'd) and only then answers each caller. So
//! an acknowledged write is on disk, and concurrent posters share one fsync instead of paying
//! one each. Being the only writer also makes `date_added` strictly increasing per collection.
//!
//! Reads run on a small pool of read-only connections on blocking threads; WAL lets them read
//! a consistent snapshot while the writer commits.
//!
//! Checkpoints (copying the write-ahead log back into the database file, with its own fsync)
//! run on a thread of their own four times a second, so that the writer only ever waits for its
//! log's fsync. The writer's automatic checkpoint stays as a backstop at 256 MB of log.

mod migrations;
mod objects;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use relay_core::Feed;
use relay_core::principal::{Principal, Role};
use relay_core::query::{ObjectPage, ObjectQuery, VersionFilter};
use relay_core::status::Status;
use relay_core::store::{
    AddObjects, NewToken, ObservableHit, ObservableQuery, Store, StoreError, TokenInfo,
};
use relay_core::token::{TokenHash, generate_key};
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
    StoreError::Unavailable("the store is closed".into())
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

fn feed_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Feed> {
    Ok(Feed {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
    })
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
        self.write(move |conn| {
            let users: i64 = conn
                .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
                .map_err(internal)?;
            if users > 0 {
                return Ok(false);
            }
            let now = Timestamp::now().as_micros();
            conn.execute(
                "INSERT INTO users (name, role, created) VALUES (?1, ?2, ?3)",
                params![user_name, Role::IsacAdmin.as_str(), now],
            )
            .map_err(internal)?;
            let user_id = conn.last_insert_rowid();
            conn.execute(
                "INSERT INTO tokens (user_id, name, hash, created) VALUES (?1, 'bootstrap', ?2, ?3)",
                params![user_id, token_hash.as_slice(), now],
            )
            .map_err(internal)?;
            Ok(true)
        })
        .await
    }

    async fn principal_for_token(
        &self,
        token_hash: TokenHash,
        now: Timestamp,
    ) -> Result<Option<Principal>, StoreError> {
        self.read(move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT t.id, u.id, u.name, u.role, t.read_only
                       FROM tokens t JOIN users u ON u.id = t.user_id
                      WHERE t.hash = ?1 AND t.revoked IS NULL
                        AND (t.expires IS NULL OR t.expires > ?2)",
                )
                .map_err(internal)?
                .query_row(params![token_hash.as_slice(), now.as_micros()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, bool>(4)?,
                    ))
                })
                .optional()
                .map_err(internal)?;
            let Some((token_id, user_id, user_name, role, read_only)) = row else {
                return Ok(None);
            };
            let role = Role::parse(&role).ok_or_else(|| {
                StoreError::Internal(format!("unknown role '{role}' for user {user_id}").into())
            })?;
            Ok(Some(Principal {
                user_id,
                user_name,
                role,
                token_id,
                read_only,
            }))
        })
        .await
    }

    async fn create_token(&self, token: NewToken) -> Result<i64, StoreError> {
        self.write(move |conn| {
            let user_id: Option<i64> = conn
                .query_row("SELECT id FROM users WHERE name = ?1", params![token.user_name], |r| r.get(0))
                .optional()
                .map_err(internal)?;
            let user_id = user_id.ok_or_else(|| StoreError::NotFound(format!("no user '{}'", token.user_name)))?;
            conn.execute(
                "INSERT INTO tokens (user_id, name, hash, read_only, created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    user_id,
                    token.name,
                    token.hash.as_slice(),
                    token.read_only,
                    Timestamp::now().as_micros(),
                    token.expires.map(Timestamp::as_micros)
                ],
            )
            .map_err(internal)?;
            Ok(conn.last_insert_rowid())
        })
        .await
    }

    async fn revoke_token(&self, id: i64, at: Timestamp) -> Result<(), StoreError> {
        self.write(move |conn| {
            let revoked: Option<Option<i64>> = conn
                .query_row(
                    "SELECT revoked FROM tokens WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(internal)?;
            match revoked {
                None => Err(StoreError::NotFound(format!("no token {id}"))),
                Some(Some(_)) => Err(StoreError::Conflict(format!(
                    "token {id} is revoked already"
                ))),
                Some(None) => {
                    conn.execute(
                        "UPDATE tokens SET revoked = ?2 WHERE id = ?1",
                        params![id, at.as_micros()],
                    )
                    .map_err(internal)?;
                    Ok(())
                }
            }
        })
        .await
    }

    async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT t.id, u.name, t.name, t.read_only, t.created, t.expires, t.revoked
                       FROM tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id",
                )
                .map_err(internal)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(TokenInfo {
                        id: r.get(0)?,
                        user_name: r.get(1)?,
                        name: r.get(2)?,
                        read_only: r.get(3)?,
                        created: Timestamp::from_micros(r.get(4)?),
                        expires: r.get::<_, Option<i64>>(5)?.map(Timestamp::from_micros),
                        revoked: r.get::<_, Option<i64>>(6)?.map(Timestamp::from_micros),
                    })
                })
                .map_err(internal)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(internal)?;
            Ok(rows)
        })
        .await
    }

    async fn create_feed(&self, feed: &Feed) -> Result<(), StoreError> {
        let feed = feed.clone();
        self.write(move |conn| {
            let taken: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM collections WHERE name = ?1 OR id = ?2)",
                    params![feed.name, feed.id],
                    |r| r.get(0),
                )
                .map_err(internal)?;
            if taken {
                return Err(StoreError::Conflict(format!(
                    "a feed named '{}' already exists",
                    feed.name
                )));
            }
            conn.execute(
                "INSERT INTO collections (id, name, description, created) VALUES (?1, ?2, ?3, ?4)",
                params![
                    feed.id,
                    feed.name,
                    feed.description,
                    Timestamp::now().as_micros()
                ],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn list_feeds(&self) -> Result<Vec<Feed>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT id, name, description FROM collections ORDER BY name")
                .map_err(internal)?;
            let feeds = stmt
                .query_map([], feed_from_row)
                .map_err(internal)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(internal)?;
            Ok(feeds)
        })
        .await
    }

    async fn find_feed(&self, key: &str) -> Result<Option<Feed>, StoreError> {
        let key = key.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT id, name, description FROM collections WHERE id = ?1
                 UNION ALL
                 SELECT id, name, description FROM collections WHERE name = ?1
                 LIMIT 1",
            )
            .map_err(internal)?
            .query_row(params![key], feed_from_row)
            .optional()
            .map_err(internal)
        })
        .await
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
        feed_id: &str,
        query: &ObjectQuery,
    ) -> Result<ObjectPage, StoreError> {
        let (feed_id, query) = (feed_id.to_owned(), query.clone());
        self.read(move |conn| objects::query(conn, &feed_id, &query))
            .await
    }

    async fn delete_object(
        &self,
        feed_id: &str,
        object_id: &str,
        versions: &VersionFilter,
        spec_versions: &[String],
    ) -> Result<usize, StoreError> {
        let (feed_id, object_id) = (feed_id.to_owned(), object_id.to_owned());
        let (versions, spec_versions) = (versions.clone(), spec_versions.to_vec());
        self.write(move |conn| {
            objects::delete(conn, &feed_id, &object_id, &versions, &spec_versions)
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
