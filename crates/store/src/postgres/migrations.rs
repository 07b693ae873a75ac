//! Schema migrations for PostgreSQL: numbered SQL files, embedded in the binary, applied in
//! order, each in its own transaction, recorded in `schema_version` (one row per step). Step N
//! brings the schema to the same version as SQLite's step N, so a database of either engine at
//! version N has the same tables and columns.
//!
//! Several relay nodes may start at once against one database: each step's transaction first
//! takes a transaction-scoped advisory lock and re-reads the version under it, so every step
//! runs exactly once and the others find it done. A database written by a newer release is
//! refused rather than guessed at.

use tokio_postgres::Client;

use super::PgOpenError;

/// Every step, in order; step N brings the schema to version N.
pub const STEPS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        "0002_observables",
        include_str!("../../migrations/postgres/0002_observables.sql"),
    ),
    (
        "0003_members",
        include_str!("../../migrations/postgres/0003_members.sql"),
    ),
    (
        "0004_feeds",
        include_str!("../../migrations/postgres/0004_feeds.sql"),
    ),
    (
        "0005_exports",
        include_str!("../../migrations/postgres/0005_exports.sql"),
    ),
    (
        "0006_notice",
        include_str!("../../migrations/postgres/0006_notice.sql"),
    ),
    (
        "0007_finding_blocks",
        include_str!("../../migrations/postgres/0007_finding_blocks.sql"),
    ),
    (
        "0008_metrics",
        include_str!("../../migrations/postgres/0008_metrics.sql"),
    ),
    (
        "0009_object_refs",
        include_str!("../../migrations/postgres/0009_object_refs.sql"),
    ),
    (
        "0010_federation",
        include_str!("../../migrations/postgres/0010_federation.sql"),
    ),
    (
        "0011_observable_ranges",
        include_str!("../../migrations/postgres/0011_observable_ranges.sql"),
    ),
    (
        "0012_leases",
        include_str!("../../migrations/postgres/0012_leases.sql"),
    ),
    (
        "0013_added_mark",
        include_str!("../../migrations/postgres/0013_added_mark.sql"),
    ),
];

/// The advisory lock migrations run under (any constant the relay uses for nothing else).
const MIGRATE_LOCK: i64 = 0x7265_6c61_795f_6d31; // "relay_m1"

/// The version table: PostgreSQL has no `user_version`. Not part of the copied schema.
const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version BIGINT PRIMARY KEY,
    name    TEXT NOT NULL,
    applied BIGINT NOT NULL
)";

/// Brings the database to the newest known schema; `target` names it in errors.
pub async fn run(client: &mut Client, target: &str) -> Result<(), PgOpenError> {
    let known = STEPS.len() as i64;
    loop {
        let err = |step: &str, source| PgOpenError::Migrate {
            target: target.to_owned(),
            step: step.to_owned(),
            source,
        };
        let tx = client.transaction().await.map_err(|e| err("(begin)", e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
            .await
            .map_err(|e| err("(lock)", e))?;
        tx.batch_execute(VERSION_TABLE)
            .await
            .map_err(|e| err("(version table)", e))?;
        let current: i64 = tx
            .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| err("(version)", e))?;
        if current > known {
            return Err(PgOpenError::TooNew {
                target: target.to_owned(),
                found: current,
                known,
            });
        }
        let Some((name, sql)) = STEPS.get(current as usize) else {
            tx.commit().await.map_err(|e| err("(commit)", e))?;
            return Ok(());
        };
        tracing::info!(step = name, "migrating the PostgreSQL schema");
        tx.batch_execute(sql).await.map_err(|e| err(name, e))?;
        tx.execute(
            "INSERT INTO schema_version (version, name, applied)
             VALUES ($1, $2, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)",
            &[&(current + 1), name],
        )
        .await
        .map_err(|e| err(name, e))?;
        tx.commit().await.map_err(|e| err(name, e))?;
    }
}
