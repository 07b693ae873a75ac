//! Federation peers in PostgreSQL: their definitions and where each stands; and the leases
//! that keep a background job on one relay node at a time.

use deadpool_postgres::GenericClient;
use relay_core::federation::{Direction, NewPeer, Peer, PeerProgress};
use relay_core::store::StoreError;
use relay_core::{Severity, Tlp};
use stix::Timestamp;

use super::accounts::{exec, row_one, row_opt, rows};
use super::sql::{Col, unsigned};

use crate::codec::{auth_from, auth_json, list_from, list_json};

pub async fn add_peer<C: GenericClient>(c: &C, p: &NewPeer) -> Result<i64, StoreError> {
    let taken = row_opt(
        c,
        "SELECT id FROM peers WHERE name = $1 AND removed IS NULL",
        &[&p.name],
    )
    .await?;
    if taken.is_some() {
        return Err(StoreError::Conflict(format!(
            "a peer named '{}' exists",
            p.name
        )));
    }
    row_one(
        c,
        "INSERT INTO peers (name, direction, api_root, collection, auth, client_cert, feeds,
                            default_tlp, max_tlp, types, min_severity, peer_org, interval_secs,
                            created)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        &[
            &p.name,
            &p.direction.as_str(),
            &p.api_root,
            &p.collection,
            &auth_json(&p.auth),
            &p.client_cert,
            &list_json(&p.feeds),
            &p.default_tlp.map(Tlp::code),
            &p.max_tlp.code(),
            &list_json(&p.types),
            &p.min_severity.map(Severity::code),
            &p.peer_org,
            &i64::try_from(p.interval_secs).unwrap_or(i64::MAX),
            &Timestamp::now().as_micros(),
        ],
    )
    .await?
    .col(0)
}

pub async fn remove_peer<C: GenericClient>(c: &C, name: &str) -> Result<i64, StoreError> {
    // Kept as a tombstone under a name no one can take: what came from it stays attributed
    // and is still never pushed back to its remote.
    let n = exec(
        c,
        "UPDATE peers SET removed = $2, name = name || ' (removed ' || id || ')'
          WHERE name = $1 AND removed IS NULL",
        &[&name, &Timestamp::now().as_micros()],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no peer '{name}'")));
    }
    Ok(0)
}

pub async fn peers<C: GenericClient>(c: &C) -> Result<Vec<Peer>, StoreError> {
    let ts = |v: Option<i64>| v.map(Timestamp::from_micros);
    rows(
        c,
        "SELECT id, name, direction, api_root, collection, auth, client_cert, feeds,
                default_tlp, max_tlp, types, min_severity, peer_org, interval_secs, cursor,
                last_run, last_success, last_error, transferred, created, removed
           FROM peers ORDER BY id",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Peer {
            id: r.col(0)?,
            spec: NewPeer {
                name: r.col(1)?,
                direction: Direction::parse(r.col(2)?).unwrap_or(Direction::Pull),
                api_root: r.col(3)?,
                collection: r.col(4)?,
                auth: auth_from(r.col(5)?),
                client_cert: r.col(6)?,
                feeds: list_from(r.col(7)?),
                default_tlp: r.col::<Option<i64>>(8)?.and_then(Tlp::from_code),
                max_tlp: Tlp::from_code(r.col(9)?).unwrap_or(Tlp::Green),
                types: list_from(r.col(10)?),
                min_severity: r.col::<Option<i64>>(11)?.and_then(Severity::from_code),
                peer_org: r.col(12)?,
                interval_secs: unsigned(r.col(13)?),
            },
            cursor: ts(r.col(14)?),
            last_run: ts(r.col(15)?),
            last_success: ts(r.col(16)?),
            last_error: r.col(17)?,
            transferred: unsigned(r.col(18)?),
            created: Timestamp::from_micros(r.col(19)?),
            removed: ts(r.col(20)?),
        })
    })
    .collect()
}

/// One statement: the cursor only moves forward whatever runs beside it.
pub async fn record_progress<C: GenericClient>(
    c: &C,
    peer: i64,
    p: &PeerProgress,
) -> Result<(), StoreError> {
    let n = exec(
        c,
        "UPDATE peers SET
            cursor = CASE WHEN $2::bigint IS NOT NULL AND (cursor IS NULL OR cursor < $2)
                          THEN $2 ELSE cursor END,
            last_run = $3,
            last_success = CASE WHEN $4::text IS NULL THEN $3 ELSE last_success END,
            last_error = $4,
            transferred = transferred + $5
          WHERE id = $1",
        &[
            &peer,
            &p.cursor.map(Timestamp::as_micros),
            &p.at.as_micros(),
            &p.error,
            &i64::try_from(p.transferred).unwrap_or(i64::MAX),
        ],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no peer {peer}")));
    }
    Ok(())
}

/// Takes or renews `job`'s lease for `holder` when it is free, expired at `now`, or already
/// `holder`'s; returns whether `holder` holds it now. One statement, atomic under concurrent
/// nodes: the row is inserted, or updated only where the condition allows.
pub async fn lease<C: GenericClient>(
    c: &C,
    job: &str,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool, StoreError> {
    let held = row_opt(
        c,
        "INSERT INTO leases (job, holder, until) VALUES ($1, $2, $4)
         ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, until = excluded.until
           WHERE leases.until <= $3 OR leases.holder = excluded.holder
         RETURNING holder",
        &[&job, &holder, &now.as_micros(), &until.as_micros()],
    )
    .await?;
    Ok(match held {
        Some(r) => r.col::<String>(0)? == holder,
        None => false,
    })
}
