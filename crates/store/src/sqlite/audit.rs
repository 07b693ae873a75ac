//! The audit log in SQLite: appended inside the writer's transactions, never updated or deleted
//! (triggers refuse both), read oldest first.

use relay_core::store::StoreError;
use relay_core::{AuditEntry, AuditQuery, AuditRecord};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params, params_from_iter};
use stix::Timestamp;

use super::internal;

pub fn append(conn: &Connection, e: &AuditEntry) -> Result<(), StoreError> {
    let ids = (!e.ids.is_empty()).then(|| serde_json::Value::from(e.ids.clone()).to_string());
    conn.prepare_cached(
        "INSERT INTO audit (at, actor, org, source, action, feed, count, ids, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .map_err(internal)?
    .execute(params![
        e.at.as_micros(),
        e.actor,
        e.org,
        e.source,
        e.action,
        e.feed,
        e.count.map(|c| i64::try_from(c).unwrap_or(i64::MAX)),
        ids,
        e.detail
    ])
    .map_err(internal)?;
    Ok(())
}

pub fn query(conn: &Connection, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
    let mut sql = "SELECT seq, at, actor, org, source, action, feed, count, ids, detail
                     FROM audit WHERE 1 = 1"
        .to_owned();
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(t) = q.since {
        sql.push_str(" AND at >= ?");
        args.push(SqlValue::Integer(t.as_micros()));
    }
    if let Some(s) = q.after_seq {
        sql.push_str(" AND seq > ?");
        args.push(SqlValue::Integer(s));
    }
    match q.action.as_deref() {
        Some(a) if a.ends_with('.') => {
            sql.push_str(" AND substr(action, 1, ?) = ?");
            args.push(SqlValue::Integer(a.len() as i64));
            args.push(SqlValue::Text(a.to_owned()));
        }
        Some(a) => {
            sql.push_str(" AND action = ?");
            args.push(SqlValue::Text(a.to_owned()));
        }
        None => {}
    }
    sql.push_str(" ORDER BY seq LIMIT ?");
    args.push(SqlValue::Integer(
        i64::try_from(q.limit).unwrap_or(i64::MAX),
    ));
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let rows = stmt
        .query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                AuditEntry {
                    at: Timestamp::from_micros(r.get(1)?),
                    actor: r.get(2)?,
                    org: r.get(3)?,
                    source: r.get(4)?,
                    action: r.get(5)?,
                    feed: r.get(6)?,
                    count: r.get::<_, Option<i64>>(7)?.map(|c| c.max(0) as u64),
                    ids: Vec::new(),
                    detail: r.get(9)?,
                },
                r.get::<_, Option<String>>(8)?,
            ))
        })
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    rows.into_iter()
        .map(|(seq, mut entry, ids)| {
            if let Some(ids) = ids {
                entry.ids =
                    serde_json::from_str(&ids).map_err(|e| StoreError::Internal(Box::new(e)))?;
            }
            Ok(AuditRecord { seq, entry })
        })
        .collect()
}
