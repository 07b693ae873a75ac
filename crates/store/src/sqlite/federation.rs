//! Federation peers in SQLite: their definitions and where each stands.

use relay_core::federation::{Direction, NewPeer, Peer, PeerProgress};
use relay_core::store::StoreError;
use relay_core::{Severity, Tlp};
use rusqlite::{Connection, OptionalExtension, params};
use stix::Timestamp;

use super::internal;

use crate::codec::{auth_from, auth_json, list_from, list_json};

pub fn add_peer(conn: &Connection, p: &NewPeer) -> Result<i64, StoreError> {
    let taken: Option<i64> = conn
        .query_row(
            "SELECT id FROM peers WHERE name = ?1 AND removed IS NULL",
            params![p.name],
            |r| r.get(0),
        )
        .optional()
        .map_err(internal)?;
    if taken.is_some() {
        return Err(StoreError::Conflict(format!(
            "a peer named '{}' exists",
            p.name
        )));
    }
    conn.execute(
        "INSERT INTO peers (name, direction, api_root, collection, auth, client_cert, feeds,
                            default_tlp, max_tlp, types, min_severity, peer_org, interval_secs,
                            created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            p.name,
            p.direction.as_str(),
            p.api_root,
            p.collection,
            auth_json(&p.auth),
            p.client_cert,
            list_json(&p.feeds),
            p.default_tlp.map(Tlp::code),
            p.max_tlp.code(),
            list_json(&p.types),
            p.min_severity.map(Severity::code),
            p.peer_org,
            i64::try_from(p.interval_secs).unwrap_or(i64::MAX),
            Timestamp::now().as_micros(),
        ],
    )
    .map_err(internal)?;
    Ok(conn.last_insert_rowid())
}

pub fn remove_peer(conn: &Connection, name: &str) -> Result<i64, StoreError> {
    // Kept as a tombstone under a name no one can take: what came from it stays attributed
    // and is still never pushed back to its remote.
    let n = conn
        .execute(
            "UPDATE peers SET removed = ?2, name = name || ' (removed ' || id || ')'
              WHERE name = ?1 AND removed IS NULL",
            params![name, Timestamp::now().as_micros()],
        )
        .map_err(internal)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no peer '{name}'")));
    }
    Ok(0)
}

pub fn peers(conn: &Connection) -> Result<Vec<Peer>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, name, direction, api_root, collection, auth, client_cert, feeds,
                    default_tlp, max_tlp, types, min_severity, peer_org, interval_secs, cursor,
                    last_run, last_success, last_error, transferred, created, removed
               FROM peers ORDER BY id",
        )
        .map_err(internal)?;
    let ts = |v: Option<i64>| v.map(Timestamp::from_micros);
    let rows = stmt
        .query_map([], |r| {
            let direction: String = r.get(2)?;
            let auth: String = r.get(5)?;
            let feeds: String = r.get(7)?;
            let types: String = r.get(10)?;
            Ok(Peer {
                id: r.get(0)?,
                spec: NewPeer {
                    name: r.get(1)?,
                    direction: Direction::parse(&direction).unwrap_or(Direction::Pull),
                    api_root: r.get(3)?,
                    collection: r.get(4)?,
                    auth: auth_from(&auth),
                    client_cert: r.get(6)?,
                    feeds: list_from(&feeds),
                    default_tlp: r.get::<_, Option<i64>>(8)?.and_then(Tlp::from_code),
                    max_tlp: Tlp::from_code(r.get(9)?).unwrap_or(Tlp::Green),
                    types: list_from(&types),
                    min_severity: r.get::<_, Option<i64>>(11)?.and_then(Severity::from_code),
                    peer_org: r.get(12)?,
                    interval_secs: u64::try_from(r.get::<_, i64>(13)?).unwrap_or(0),
                },
                cursor: ts(r.get(14)?),
                last_run: ts(r.get(15)?),
                last_success: ts(r.get(16)?),
                last_error: r.get(17)?,
                transferred: u64::try_from(r.get::<_, i64>(18)?).unwrap_or(0),
                created: Timestamp::from_micros(r.get(19)?),
                removed: ts(r.get(20)?),
            })
        })
        .map_err(internal)?;
    rows.collect::<Result<_, _>>().map_err(internal)
}

pub fn record_progress(conn: &Connection, peer: i64, p: &PeerProgress) -> Result<(), StoreError> {
    let n = conn
        .execute(
            "UPDATE peers SET
                cursor = CASE WHEN ?2 IS NOT NULL AND (cursor IS NULL OR cursor < ?2)
                              THEN ?2 ELSE cursor END,
                last_run = ?3,
                last_success = CASE WHEN ?4 IS NULL THEN ?3 ELSE last_success END,
                last_error = ?4,
                transferred = transferred + ?5
              WHERE id = ?1",
            params![
                peer,
                p.cursor.map(Timestamp::as_micros),
                p.at.as_micros(),
                p.error,
                i64::try_from(p.transferred).unwrap_or(i64::MAX),
            ],
        )
        .map_err(internal)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no peer {peer}")));
    }
    Ok(())
}

/// Takes or renews `job`'s lease for `holder` when it is free, expired at `now`, or already
/// `holder`'s; returns whether `holder` holds it now.
pub fn lease(
    conn: &Connection,
    job: &str,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool, StoreError> {
    let held: Option<String> = conn
        .prepare_cached(
            "INSERT INTO leases (job, holder, until) VALUES (?1, ?2, ?4)
             ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, until = excluded.until
               WHERE leases.until <= ?3 OR leases.holder = excluded.holder
             RETURNING holder",
        )
        .map_err(internal)?
        .query_row(
            params![job, holder, now.as_micros(), until.as_micros()],
            |r| r.get(0),
        )
        .optional()
        .map_err(internal)?;
    Ok(held.as_deref() == Some(holder))
}
