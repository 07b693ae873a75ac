//! Schema migrations: numbered SQL files, embedded in the binary, applied in order, each in its
//! own transaction, recorded in `PRAGMA user_version`. A database from a newer release is
//! refused rather than guessed at.

use std::path::Path;

use rusqlite::Connection;

use super::StoreOpenError;

/// Every step, in order; step N brings the schema to version N.
pub const STEPS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        "0002_observables",
        include_str!("../../migrations/sqlite/0002_observables.sql"),
    ),
    (
        "0003_members",
        include_str!("../../migrations/sqlite/0003_members.sql"),
    ),
    (
        "0004_feeds",
        include_str!("../../migrations/sqlite/0004_feeds.sql"),
    ),
    (
        "0005_exports",
        include_str!("../../migrations/sqlite/0005_exports.sql"),
    ),
    (
        "0006_notice",
        include_str!("../../migrations/sqlite/0006_notice.sql"),
    ),
];

pub fn run(conn: &Connection, path: &Path) -> Result<(), StoreOpenError> {
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
    for (i, (name, sql)) in STEPS.iter().enumerate().skip(current as usize) {
        let version = i as i64 + 1;
        tracing::info!(step = name, "migrating the database schema");
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
        ))
        .map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            err(e)
        })?;
    }
    Ok(())
}
