//! Owner routing in SQLite: campaigns and their range snapshots, findings in blocks (see
//! `crate::codec`) with what changed of them since, per-member counts for reports, upload
//! records.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use relay_core::notice::{
    Campaign, CampaignKind, Finding, FindingBlock, FindingCount, FindingKind, FindingQuery,
    FindingsAdded, FindingsBatch, NewCampaign, NewFinding, SnapshotRange, StatusUpdate,
    Unpublished, UploadRecord,
};
use relay_core::store::StoreError;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use stix::Timestamp;

use super::internal;
use crate::codec;

fn corrupt(what: String) -> StoreError {
    StoreError::Internal(what.into())
}

pub fn create_campaign(conn: &Connection, c: &NewCampaign) -> Result<i64, StoreError> {
    let taken: Option<i64> = conn
        .prepare_cached("SELECT id FROM campaigns WHERE name = ?1")
        .map_err(internal)?
        .query_row(params![c.name], |r| r.get(0))
        .optional()
        .map_err(internal)?;
    if taken.is_some() {
        return Err(StoreError::Conflict(format!(
            "a campaign named '{}' exists",
            c.name
        )));
    }
    let at = c.at.as_micros();
    conn.execute(
        "INSERT INTO campaigns (name, kind, schedule, created) VALUES (?1, ?2, ?3, ?4)",
        params![c.name, c.kind.as_str(), c.schedule, at],
    )
    .map_err(internal)?;
    let id = conn.last_insert_rowid();
    // The snapshot: every network registered and valid at the campaign's start.
    conn.execute(
        "INSERT OR IGNORE INTO campaign_ranges (campaign, net, org)
         SELECT ?1, value, org FROM org_assets
          WHERE kind = 'cidr' AND (removed IS NULL OR removed > ?2)
            AND (valid_from IS NULL OR valid_from <= ?2)
            AND (valid_until IS NULL OR valid_until > ?2)",
        params![id, at],
    )
    .map_err(internal)?;
    Ok(id)
}

pub fn campaigns(conn: &Connection) -> Result<Vec<Campaign>, StoreError> {
    campaign_rows(conn, None)
}

pub fn campaign(conn: &Connection, name: &str) -> Result<Option<Campaign>, StoreError> {
    Ok(campaign_rows(conn, Some(name))?.pop())
}

/// Every campaign, or the one named.
fn campaign_rows(conn: &Connection, name: Option<&str>) -> Result<Vec<Campaign>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT c.id, c.name, c.kind, c.schedule, c.created,
                    (SELECT count(*) FROM campaign_ranges r WHERE r.campaign = c.id), c.cursor
               FROM campaigns c WHERE ?1 IS NULL OR c.name = ?1 ORDER BY c.id",
        )
        .map_err(internal)?;
    let rows = stmt
        .query_map(params![name], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, Option<i64>>(6)?,
            ))
        })
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    rows.into_iter()
        .map(|(id, name, kind, schedule, created, ranges, cursor)| {
            Ok(Campaign {
                id,
                name,
                kind: CampaignKind::parse(&kind).map_err(corrupt)?,
                schedule,
                created: Timestamp::from_micros(created),
                ranges: usize::try_from(ranges).unwrap_or(0),
                cursor: cursor.map(Timestamp::from_micros),
            })
        })
        .collect()
}

pub fn campaign_ranges(conn: &Connection, campaign: i64) -> Result<Vec<SnapshotRange>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT net, org FROM campaign_ranges WHERE campaign = ?1 ORDER BY net")
        .map_err(internal)?;
    stmt.query_map(params![campaign], |r| {
        Ok(SnapshotRange {
            net: r.get(0)?,
            org: r.get(1)?,
        })
    })
    .map_err(internal)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(internal)
}

pub fn set_campaign_cursor(
    conn: &Connection,
    campaign: i64,
    cursor: Timestamp,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE campaigns SET cursor = ?2 WHERE id = ?1",
        params![campaign, cursor.as_micros()],
    )
    .map_err(internal)?;
    Ok(())
}

pub fn last_finding_id(conn: &Connection) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "SELECT coalesce((SELECT first_id + count - 1 FROM finding_blocks
                            ORDER BY first_id DESC LIMIT 1), 0)",
    )
    .map_err(internal)?
    .query_row([], |r| r.get(0))
    .map_err(internal)
}

/// The block holding a finding, found by the id it starts at.
struct BlockRef {
    first_id: i64,
    campaign: i64,
    org: i64,
    min_first: i64,
}

fn block_of(conn: &Connection, id: i64) -> Result<Option<BlockRef>, StoreError> {
    conn.prepare_cached(
        "SELECT first_id, campaign, org, min_first, count FROM finding_blocks
          WHERE first_id <= ?1 ORDER BY first_id DESC LIMIT 1",
    )
    .map_err(internal)?
    .query_row(params![id], |r| {
        Ok((
            BlockRef {
                first_id: r.get(0)?,
                campaign: r.get(1)?,
                org: r.get(2)?,
                min_first: r.get(3)?,
            },
            r.get::<_, i64>(4)?,
        ))
    })
    .optional()
    .map_err(internal)
    .map(|b| {
        b.filter(|(b, count)| id < b.first_id + count)
            .map(|(b, _)| b)
    })
}

pub fn add_findings(
    conn: &Connection,
    campaign: i64,
    batch: &FindingsBatch,
) -> Result<FindingsAdded, StoreError> {
    let mut top = last_finding_id(conn)?;
    let mut out = FindingsAdded::default();
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO finding_blocks (first_id, campaign, org, count, min_first, max_first, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(internal)?;
    for b in batch.blocks.iter().filter(|b| !b.findings.is_empty()) {
        if b.first_id <= top {
            return Err(StoreError::Conflict(format!(
                "finding id {} is taken: findings were stored meanwhile by another writer",
                b.first_id
            )));
        }
        let count = i64::try_from(b.findings.len()).unwrap_or(i64::MAX);
        let e = codec::encode(b)?;
        insert
            .execute(params![
                b.first_id,
                campaign,
                b.org,
                count,
                e.min_first.as_micros(),
                e.max_first.as_micros(),
                e.data
            ])
            .map_err(internal)?;
        top = b.first_id + count - 1;
        out.added += b.findings.len();
        out.merged += b
            .findings
            .iter()
            .map(|f| f.times_seen.saturating_sub(1) as usize)
            .sum::<usize>();
    }
    for m in &batch.merges {
        let block = block_of(conn, m.into)?
            .filter(|b| b.campaign == campaign && b.org == m.org)
            .ok_or_else(|| {
                StoreError::Conflict(format!(
                    "finding {} is not one of this campaign's findings of organisation {}",
                    m.into, m.org
                ))
            })?;
        let at = m.observed.as_micros();
        // One-row statements: neither needs a statement journal.
        let seen = conn
            .prepare_cached(
                "UPDATE finding_state SET
                    seen_more = seen_more + 1,
                    first_observed = min(coalesce(first_observed, ?2), ?2),
                    last_observed = max(coalesce(last_observed, ?2), ?2),
                    detail = coalesce(?3, detail),
                    changes = changes + 1
                  WHERE id = ?1",
            )
            .map_err(internal)?
            .execute(params![m.into, at, m.detail])
            .map_err(internal)?;
        if seen == 0 {
            conn.prepare_cached(
                "INSERT INTO finding_state (id, seen_more, first_observed, last_observed, detail,
                                            changes)
                 VALUES (?1, 1, ?2, ?2, ?3, 1)",
            )
            .map_err(internal)?
            .execute(params![m.into, at, m.detail])
            .map_err(internal)?;
        }
        if at < block.min_first {
            conn.prepare_cached("UPDATE finding_blocks SET min_first = ?2 WHERE first_id = ?1")
                .map_err(internal)?
                .execute(params![block.first_id, at])
                .map_err(internal)?;
        }
        enqueue(conn, m.into)?;
        out.merged += 1;
    }
    Ok(out)
}

/// The changed findings among ids `from..=to`.
fn states(
    conn: &Connection,
    from: i64,
    to: i64,
) -> Result<HashMap<i64, codec::FindingState>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, seen_more, first_observed, last_observed, detail, status, status_at,
                    status_note, changes
               FROM finding_state WHERE id BETWEEN ?1 AND ?2",
        )
        .map_err(internal)?;
    let rows = stmt
        .query_map(params![from, to], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                codec::FindingState {
                    seen_more: r.get(1)?,
                    first_observed: r.get(2)?,
                    last_observed: r.get(3)?,
                    detail: r.get(4)?,
                    status: r.get(5)?,
                    status_at: r.get(6)?,
                    status_note: r.get(7)?,
                    changes: r.get(8)?,
                },
            ))
        })
        .map_err(internal)?;
    rows.collect::<Result<HashMap<_, _>, _>>().map_err(internal)
}

/// A block's row as the queries below read it.
const SELECT_BLOCK: &str = "SELECT b.first_id, c.name, b.org, o.name, b.data
   FROM finding_blocks b JOIN campaigns c ON c.id = b.campaign JOIN orgs o ON o.id = b.org";

pub fn findings(conn: &Connection, q: &FindingQuery) -> Result<Vec<Finding>, StoreError> {
    let mut out = Vec::new();
    if q.limit == 0 {
        return Ok(out);
    }
    let mut sql = format!("{SELECT_BLOCK} WHERE ");
    let mut args = Vec::new();
    let mut wanted = HashSet::new();
    if q.ids.is_empty() {
        // The block that may hold the next id, and those after it.
        let start: i64 = conn
            .prepare_cached(
                "SELECT coalesce(max(first_id), 0) FROM finding_blocks WHERE first_id <= ?1",
            )
            .map_err(internal)?
            .query_row(params![q.after], |r| r.get(0))
            .map_err(internal)?;
        sql.push_str("b.first_id >= ?");
        args.push(SqlValue::Integer(start));
    } else {
        let mut blocks = Vec::new();
        for id in q.ids.iter().filter(|id| **id > q.after) {
            if let Some(b) = block_of(conn, *id)? {
                wanted.insert(*id);
                blocks.push(b.first_id);
            }
        }
        blocks.sort_unstable();
        blocks.dedup();
        if blocks.is_empty() {
            return Ok(out);
        }
        sql.push_str("b.first_id IN (");
        for (i, b) in blocks.into_iter().enumerate() {
            sql.push_str(if i == 0 { "?" } else { ", ?" });
            args.push(SqlValue::Integer(b));
        }
        sql.push(')');
    }
    if let Some(org) = q.org {
        sql.push_str(" AND b.org = ?");
        args.push(SqlValue::Integer(org));
    }
    if let Some(c) = q.campaign {
        sql.push_str(" AND b.campaign = ?");
        args.push(SqlValue::Integer(c));
    }
    sql.push_str(" ORDER BY b.first_id");
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let mut rows = stmt.query(params_from_iter(args)).map_err(internal)?;
    while let Some(row) = rows.next().map_err(internal)? {
        let first_id: i64 = row.get(0).map_err(internal)?;
        let campaign: String = row.get(1).map_err(internal)?;
        let org: i64 = row.get(2).map_err(internal)?;
        let org_name: String = row.get(3).map_err(internal)?;
        let data = row.get_ref(4).map_err(internal)?;
        let block = codec::decode(data.as_blob().map_err(|e| internal(e.into()))?)?;
        let last = first_id + i64::try_from(block.findings.len()).unwrap_or(i64::MAX) - 1;
        let changed = states(conn, first_id.max(q.after + 1), last)?;
        for (id, r) in (first_id..).zip(&block.findings) {
            if id <= q.after || (!wanted.is_empty() && !wanted.contains(&id)) {
                continue;
            }
            let state = changed.get(&id);
            let status = codec::status_of(state)?;
            if q.status.is_some_and(|s| s != status) {
                continue;
            }
            let owner = codec::BlockOwner {
                campaign: &campaign,
                org,
                org_name: &org_name,
            };
            out.push(codec::finding(id, &owner, &block, r, state, status)?);
            if out.len() >= q.limit {
                return Ok(out);
            }
        }
    }
    Ok(out)
}

pub fn update_findings(
    conn: &Connection,
    org: Option<i64>,
    updates: &[StatusUpdate],
    at: Timestamp,
) -> Result<i64, StoreError> {
    let mut changed = 0;
    for u in updates {
        let Some(_) = block_of(conn, u.id)?.filter(|b| org.is_none_or(|o| o == b.org)) else {
            continue;
        };
        let args = params![u.id, u.status.as_str(), at.as_micros(), u.note];
        let n = conn
            .prepare_cached(
                "UPDATE finding_state SET status = ?2, status_at = ?3,
                        status_note = coalesce(?4, status_note), changes = changes + 1
                  WHERE id = ?1",
            )
            .map_err(internal)?
            .execute(args)
            .map_err(internal)?;
        if n == 0 {
            conn.prepare_cached(
                "INSERT INTO finding_state (id, status, status_at, status_note, changes)
                 VALUES (?1, ?2, ?3, ?4, 1)",
            )
            .map_err(internal)?
            .execute(args)
            .map_err(internal)?;
        }
        enqueue(conn, u.id)?;
        changed += 1;
    }
    Ok(changed)
}

/// Records what was published: new findings up to `through`, and each of `done` at its
/// version (dequeued unless it changed again meanwhile).
pub fn mark_published(
    conn: &Connection,
    through: i64,
    done: &[(i64, u32)],
) -> Result<i64, StoreError> {
    conn.execute(
        "UPDATE meta SET value = max(CAST(value AS INTEGER), ?1)
          WHERE key = 'notice_published_through'",
        params![through],
    )
    .map_err(internal)?;
    let mut dequeue = conn
        .prepare_cached(
            "DELETE FROM notice_queue
              WHERE id = ?1
                AND 1 + coalesce((SELECT changes FROM finding_state WHERE id = ?1), 0) <= ?2",
        )
        .map_err(internal)?;
    for (id, version) in done {
        dequeue.execute(params![id, version]).map_err(internal)?;
    }
    Ok(i64::try_from(done.len()).unwrap_or(i64::MAX))
}

/// A finding changed after it was inserted: it waits to be published again.
fn enqueue(conn: &Connection, id: i64) -> Result<(), StoreError> {
    // OR IGNORE on one row: no statement journal.
    conn.prepare_cached("INSERT OR IGNORE INTO notice_queue (id) VALUES (?1)")
        .map_err(internal)?
        .execute(params![id])
        .map_err(internal)?;
    Ok(())
}

/// Findings waiting for the NOTICE feed: queued (changed) ones first, then new ones.
pub fn unpublished(conn: &Connection, limit: usize) -> Result<Unpublished, StoreError> {
    let through: i64 = conn
        .prepare_cached(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'notice_published_through'",
        )
        .map_err(internal)?
        .query_row([], |r| r.get(0))
        .map_err(internal)?;
    let queued: Vec<i64> = conn
        .prepare_cached("SELECT id FROM notice_queue WHERE id <= ?1 ORDER BY id LIMIT ?2")
        .map_err(internal)?
        .query_map(
            params![through, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| r.get(0),
        )
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    let query = |after: i64, limit: usize, ids: Vec<i64>| FindingQuery {
        org: None,
        campaign: None,
        status: None,
        after,
        limit,
        ids,
    };
    let mut out = Unpublished {
        findings: Vec::new(),
        through,
    };
    if !queued.is_empty() {
        out.findings = findings(conn, &query(0, queued.len(), queued))?;
    }
    let room = limit.saturating_sub(out.findings.len());
    if room > 0 {
        let new = findings(conn, &query(through, room, Vec::new()))?;
        if let Some(last) = new.last() {
            out.through = last.id;
        }
        out.findings.extend(new);
    }
    Ok(out)
}

pub fn finding_counts(
    conn: &Connection,
    from: Timestamp,
    to: Timestamp,
    org: Option<i64>,
) -> Result<Vec<FindingCount>, StoreError> {
    let mut tally = codec::FindingTally::new(from, to);
    let (from, to) = (from.as_micros(), to.as_micros());
    // Only blocks whose range of first observations meets the period.
    let mut stmt = conn
        .prepare_cached(
            "SELECT b.first_id, b.org, o.name, b.data
               FROM finding_blocks b JOIN orgs o ON o.id = b.org
              WHERE b.min_first < ?2 AND b.max_first >= ?1 AND (?3 IS NULL OR b.org = ?3)",
        )
        .map_err(internal)?;
    let mut rows = stmt.query(params![from, to, org]).map_err(internal)?;
    while let Some(row) = rows.next().map_err(internal)? {
        let first_id: i64 = row.get(0).map_err(internal)?;
        let org: i64 = row.get(1).map_err(internal)?;
        let org_name: String = row.get(2).map_err(internal)?;
        let data = row.get_ref(3).map_err(internal)?;
        let block = codec::decode(data.as_blob().map_err(|e| internal(e.into()))?)?;
        let last = first_id + i64::try_from(block.findings.len()).unwrap_or(i64::MAX) - 1;
        let changed = states(conn, first_id, last)?;
        tally.add(first_id, (org, &org_name), &block, &changed)?;
    }
    Ok(tally.counts())
}

/// Migration 0007: the rows of 0006's findings table become blocks (runs of consecutive ids
/// of one campaign and organisation), their status and version rows of `finding_state`.
pub fn carry_over_0006(conn: &Connection) -> rusqlite::Result<()> {
    let fail = |e: StoreError| rusqlite::Error::ToSqlConversionFailure(e.into());
    type Run = (
        i64,
        i64,
        FindingBlock,
        Vec<(i64, String, Option<i64>, Option<String>, u32)>,
    );
    let flush = |run: Run| -> rusqlite::Result<()> {
        let (campaign, _, block, states) = run;
        let e = codec::encode(&block).map_err(fail)?;
        conn.execute(
            "INSERT INTO finding_blocks (first_id, campaign, org, count, min_first, max_first, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                block.first_id,
                campaign,
                block.org,
                block.findings.len() as i64,
                e.min_first.as_micros(),
                e.max_first.as_micros(),
                e.data
            ],
        )?;
        for (id, status, at, note, changes) in states {
            conn.execute(
                "INSERT INTO finding_state (id, status, status_at, status_note, changes)
                 VALUES (?1, nullif(?2, 'new'), ?3, ?4, ?5)",
                params![id, status, at, note, changes],
            )?;
        }
        Ok(())
    };
    let mut stmt = conn.prepare(
        "SELECT id, campaign, org, prefix, ip, port, protocol, finding, first_observed,
                last_observed, times_seen, detail, status, status_at, status_note, version
           FROM findings_0006 ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut run: Option<Run> = None;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let campaign: i64 = r.get(1)?;
        let org: i64 = r.get(2)?;
        let prefix: String = r.get(3)?;
        let ip: String = r.get(4)?;
        let kind = FindingKind {
            protocol: r.get(6)?,
            finding: r.get(7)?,
        };
        let bad = |what: &str| fail(corrupt(format!("finding {id}: {what}")));
        let ip: IpAddr = ip.parse().map_err(|_| bad("no address"))?;
        let prefix_len = prefix
            .parse::<IpNet>()
            .map_err(|_| bad("no network"))?
            .prefix_len();
        let continues = run
            .as_ref()
            .is_some_and(|(c, next, b, _)| *c == campaign && *next == id && b.org == org);
        if !continues && let Some(done) = run.take() {
            flush(done)?;
        }
        let (_, next, block, states) = run.get_or_insert_with(|| {
            (
                campaign,
                id,
                FindingBlock {
                    org,
                    first_id: id,
                    kinds: Arc::from(Vec::new()),
                    findings: Vec::new(),
                },
                Vec::new(),
            )
        });
        *next = id + 1;
        let k = match block.kinds.iter().position(|k| *k == kind) {
            Some(k) => k,
            None => {
                let mut kinds = block.kinds.to_vec();
                kinds.push(kind);
                block.kinds = kinds.into();
                block.kinds.len() - 1
            }
        };
        block.findings.push(NewFinding {
            ip,
            prefix_len,
            port: r.get(5)?,
            kind: u32::try_from(k).unwrap_or(u32::MAX),
            first_observed: Timestamp::from_micros(r.get(8)?),
            last_observed: Timestamp::from_micros(r.get(9)?),
            times_seen: r.get(10)?,
            detail: r.get(11)?,
        });
        let status: String = r.get(12)?;
        let version: u32 = r.get(15)?;
        if status != "new" || version > 1 {
            states.push((id, status, r.get(13)?, r.get(14)?, version - 1));
        }
    }
    if let Some(done) = run {
        flush(done)?;
    }
    drop(rows);
    drop(stmt);
    conn.execute_batch("DROP TABLE findings_0006;")
}

pub fn record_upload(conn: &Connection, u: &UploadRecord) -> Result<i64, StoreError> {
    let errors = serde_json::to_string(&u.errors).map_err(|e| StoreError::Internal(e.into()))?;
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    conn.execute(
        "INSERT INTO finding_uploads
            (campaign, uploader, at, lines, added, merged, unmatched, malformed, errors)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            u.campaign,
            u.uploader,
            u.at.unwrap_or_else(Timestamp::now).as_micros(),
            count(u.lines),
            count(u.added),
            count(u.merged),
            count(u.unmatched),
            count(u.malformed),
            errors
        ],
    )
    .map_err(internal)?;
    Ok(conn.last_insert_rowid())
}

pub fn uploads(conn: &Connection, campaign: i64) -> Result<Vec<UploadRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT uploader, at, lines, added, merged, unmatched, malformed, errors
               FROM finding_uploads WHERE campaign = ?1 ORDER BY id",
        )
        .map_err(internal)?;
    let rows = stmt
        .query_map(params![campaign], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                [
                    r.get::<_, i64>(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ],
                r.get::<_, String>(7)?,
            ))
        })
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    rows.into_iter()
        .map(|(uploader, at, n, errors)| {
            let n = n.map(|x| u64::try_from(x).unwrap_or(0));
            Ok(UploadRecord {
                campaign,
                uploader,
                at: Some(Timestamp::from_micros(at)),
                lines: n[0],
                added: n[1],
                merged: n[2],
                unmatched: n[3],
                malformed: n[4],
                errors: serde_json::from_str(&errors)
                    .map_err(|e| StoreError::Internal(e.into()))?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::migrations::STEPS;

    /// Findings stored by schema 6, a row each, come through migration 7 as they were: ids,
    /// merges, statuses and versions.
    #[test]
    fn rows_of_schema_6_become_blocks() {
        let conn = Connection::open_in_memory().unwrap();
        for (_, sql, finish) in &STEPS[..6] {
            assert!(finish.is_none());
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO orgs (id, name, kind, sector, country, identity, created)
             VALUES (2, 'IspA', 'member', 'telecom', 'JP', 'identity--a', 0),
                    (3, 'IspB', 'member', 'telecom', 'JP', 'identity--b', 0);
             INSERT INTO campaigns (id, name, kind, created) VALUES (1, '2026-11', 'monthly', 0);
             INSERT INTO findings (id, campaign, org, prefix, ip, port, protocol, finding,
                                   first_observed, last_observed, times_seen, detail, status,
                                   status_at, status_note, version)
             VALUES (1, 1, 2, '198.18.0.0/16', '198.18.0.1', 23, 'tcp', 'telnet', 10, 20, 2,
                     'BusyBox', 'notified', 30, 'called', 3),
                    (2, 1, 2, '198.18.0.0/16', '198.18.0.2', 0, '', 'c2', 10, 10, 1,
                     NULL, 'new', NULL, NULL, 1),
                    (3, 1, 3, '2001:db8::/32', '2001:db8::1', 23, 'tcp', 'telnet', 5, 5, 1,
                     NULL, 'new', NULL, NULL, 1),
                    (5, 1, 2, '198.18.0.0/16', '198.18.0.5', 23, 'tcp', 'telnet', 40, 40, 1,
                     NULL, 'new', NULL, NULL, 1);",
        )
        .unwrap();
        let before = findings_of(&conn, "findings");
        let (_, sql, finish) = &STEPS[6];
        conn.execute_batch(sql).unwrap();
        finish.unwrap()(&conn).unwrap();
        let blocks: Vec<(i64, i64, i64)> = conn
            .prepare("SELECT first_id, org, count FROM finding_blocks ORDER BY first_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            blocks,
            [(1, 2, 2), (3, 3, 1), (5, 2, 1)],
            "runs of consecutive ids"
        );
        let after: Vec<String> = findings(
            &conn,
            &FindingQuery {
                org: None,
                campaign: None,
                status: None,
                after: 0,
                limit: 10,
                ids: Vec::new(),
            },
        )
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {} {} {} {} {} {} {} {:?} {} {:?} {:?} {}",
                f.id,
                f.org,
                f.prefix,
                f.ip,
                f.port,
                f.protocol,
                f.finding,
                f.first_observed.as_micros(),
                f.last_observed.as_micros(),
                f.times_seen,
                f.detail,
                f.status,
                f.status_at.map(|t| t.as_micros()),
                f.status_note,
                f.version
            )
        })
        .collect();
        assert_eq!(after, before);
        let old: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'findings_0006'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0);
    }

    /// The rows of schema 6's table, formatted as `rows_of_schema_6_become_blocks` compares.
    fn findings_of(conn: &Connection, table: &str) -> Vec<String> {
        conn.prepare(&format!(
            "SELECT id, org, prefix, ip, port, protocol, finding, first_observed, last_observed,
                    times_seen, detail, status, status_at, status_note, version
               FROM {table} ORDER BY id"
        ))
        .unwrap()
        .query_map([], |r| {
            Ok(format!(
                "{} {} {} {} {} {} {} {} {} {} {:?} {} {:?} {:?} {}",
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, i64>(9)?,
                r.get::<_, Option<String>>(10)?,
                r.get::<_, String>(11)?,
                r.get::<_, Option<i64>>(12)?,
                r.get::<_, Option<String>>(13)?,
                r.get::<_, i64>(14)?
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }
}
