//! The audit log in PostgreSQL: appended inside the writing transactions of changes (or alone,
//! for `Store::record`), never updated or deleted (triggers refuse both), read oldest first.

use deadpool_postgres::GenericClient;
use relay_core::store::StoreError;
use relay_core::{AuditEntry, AuditQuery, AuditRecord};
use stix::Timestamp;

use super::accounts::{exec, rows};
use super::sql::{Args, Col, big};

pub async fn append<C: GenericClient>(c: &C, e: &AuditEntry) -> Result<(), StoreError> {
    let ids = (!e.ids.is_empty()).then(|| serde_json::Value::from(e.ids.clone()).to_string());
    exec(
        c,
        "INSERT INTO audit (at, actor, org, source, action, feed, count, ids, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &e.at.as_micros(),
            &e.actor,
            &e.org,
            &e.source,
            &e.action,
            &e.feed,
            &e.count.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
            &ids,
            &e.detail,
        ],
    )
    .await?;
    Ok(())
}

pub async fn query<C: GenericClient>(
    c: &C,
    q: &AuditQuery,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut args = Args::default();
    let mut sql = "SELECT seq, at, actor, org, source, action, feed, count, ids, detail
                     FROM audit WHERE true"
        .to_owned();
    if let Some(t) = q.since {
        sql.push_str(&format!(" AND at >= {}", args.add(t.as_micros())));
    }
    if let Some(s) = q.after_seq {
        sql.push_str(&format!(" AND seq > {}", args.add(s)));
    }
    match q.action.as_deref() {
        // A prefix ending in a dot: every action under it.
        Some(a) if a.ends_with('.') => {
            let prefix = args.add(a.to_owned());
            sql.push_str(&format!(" AND starts_with(action, {prefix})"));
        }
        Some(a) => sql.push_str(&format!(" AND action = {}", args.add(a.to_owned()))),
        None => {}
    }
    sql.push_str(&format!(" ORDER BY seq LIMIT {}", args.add(big(q.limit))));
    rows(c, &sql, &args.refs())
        .await?
        .iter()
        .map(|r| {
            let ids: Option<String> = r.col(8)?;
            let ids = match ids {
                Some(text) => {
                    serde_json::from_str(&text).map_err(|e| StoreError::Internal(Box::new(e)))?
                }
                None => Vec::new(),
            };
            Ok(AuditRecord {
                seq: r.col(0)?,
                entry: AuditEntry {
                    at: Timestamp::from_micros(r.col(1)?),
                    actor: r.col(2)?,
                    org: r.col(3)?,
                    source: r.col(4)?,
                    action: r.col(5)?,
                    feed: r.col(6)?,
                    count: r.col::<Option<i64>>(7)?.map(|n| n.max(0) as u64),
                    ids,
                    detail: r.col(9)?,
                },
            })
        })
        .collect()
}
