//! Schema migrations: numbered SQL files, embedded in the binary, applied in order, each in its
//! own transaction, recorded in `PRAGMA user_version`. A database from a newer release is
//! refused rather than guessed at.

use std::path::Path;

use rusqlite::Connection;

use super::StoreOpenError;

/// Code that finishes a step, in its transaction, after its SQL.
type Finish = fn(&Connection) -> rusqlite::Result<()>;

/// Every step, in order; step N brings the schema to version N.
pub const STEPS: &[(&str, &str, Option<Finish>)] = &[
    (
        "0001_init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
        None,
    ),
    (
        "0002_observables",
        include_str!("../../migrations/sqlite/0002_observables.sql"),
        None,
    ),
    (
        "0003_members",
        include_str!("../../migrations/sqlite/0003_members.sql"),
        None,
    ),
    (
        "0004_feeds",
        include_str!("../../migrations/sqlite/0004_feeds.sql"),
        None,
    ),
    (
        "0005_exports",
        include_str!("../../migrations/sqlite/0005_exports.sql"),
        None,
    ),
    (
        "0006_notice",
        include_str!("../../migrations/sqlite/0006_notice.sql"),
        None,
    ),
    (
        "0007_finding_blocks",
        include_str!("../../migrations/sqlite/0007_finding_blocks.sql"),
        Some(super::notice::carry_over_0006),
    ),
    (
        "0008_metrics",
        include_str!("../../migrations/sqlite/0008_metrics.sql"),
        Some(super::metrics::rebuild_in_migration),
    ),
    (
        "0009_object_refs",
        include_str!("../../migrations/sqlite/0009_object_refs.sql"),
        None,
    ),
    (
        "0010_federation",
        include_str!("../../migrations/sqlite/0010_federation.sql"),
        None,
    ),
    (
        "0011_observable_ranges",
        include_str!("../../migrations/sqlite/0011_observable_ranges.sql"),
        Some(super::objects::fill_ranges),
    ),
    (
        "0012_leases",
        include_str!("../../migrations/sqlite/0012_leases.sql"),
        None,
    ),
    (
        "0013_added_mark",
        include_str!("../../migrations/sqlite/0013_added_mark.sql"),
        None,
    ),
];

pub fn run(conn: &Connection, path: &Path) -> Result<(), StoreOpenError> {
    run_to(conn, path, STEPS.len() as i64)
}

/// Applies the steps up to `target` (no further), as the release whose last step it was did.
pub fn run_to(conn: &Connection, path: &Path, target: i64) -> Result<(), StoreOpenError> {
    let err = |source| StoreOpenError::Migrate {
        path: path.to_owned(),
        source,
    };
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    let known = STEPS.len() as i64;
    if current > known {
        return Err(StoreOpenError::TooNew {
            path: path.to_owned(),
            found: current,
            known,
        });
    }
    let steps = STEPS.iter().take(target.clamp(0, known) as usize);
    for (i, (name, sql, finish)) in steps.enumerate().skip(current as usize) {
        let version = i as i64 + 1;
        tracing::info!(step = name, "migrating the database schema");
        let step = || -> rusqlite::Result<()> {
            conn.execute_batch(&format!("BEGIN IMMEDIATE;\n{sql}"))?;
            if let Some(finish) = finish {
                finish(conn)?;
            }
            conn.execute_batch(&format!("PRAGMA user_version = {version};\nCOMMIT;"))
        };
        step().map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            err(e)
        })?;
    }
    Ok(())
}
