//! Owner routing in SQLite: campaigns and their range snapshots, findings (merged on their
//! natural key by an upsert), their status, per-member counts for reports, upload records.

use relay_core::notice::{
    Campaign, CampaignKind, Finding, FindingCount, FindingQuery, FindingStatus, FindingsAdded,
    NewCampaign, RoutedFinding, SnapshotRange, StatusUpdate, Unpublished, UploadRecord,
};
use relay_core::store::StoreError;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use stix::Timestamp;

use super::internal;

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
    conn.prepare_cached("SELECT coalesce(max(id), 0) FROM findings")
        .map_err(internal)?
        .query_row([], |r| r.get(0))
        .map_err(internal)
}

pub fn add_findings(
    conn: &Connection,
    campaign: i64,
    findings: &[RoutedFinding],
) -> Result<FindingsAdded, StoreError> {
    // One-row statements only: neither needs a statement journal.
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO findings
                (id, campaign, org, prefix, ip, port, protocol, finding, first_observed,
                 last_observed, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)",
        )
        .map_err(internal)?;
    // The merge names its target and checks that it has the same key.
    let mut merge = conn
        .prepare_cached(
            "UPDATE findings SET
                times_seen = times_seen + 1,
                version = version + 1,
                first_observed = min(first_observed, ?2),
                last_observed = max(last_observed, ?2),
                detail = coalesce(?3, detail)
              WHERE id = ?1 AND campaign = ?4 AND ip = ?5 AND port = ?6 AND protocol = ?7
                AND finding = ?8",
        )
        .map_err(internal)?;
    let mut out = FindingsAdded::default();
    for f in findings {
        let observed = f.observed.as_micros();
        if let Some(target) = f.merge_into {
            let merged = merge
                .execute(params![
                    target, observed, f.detail, campaign, f.ip, f.port, f.protocol, f.finding
                ])
                .map_err(internal)?;
            if merged == 1 {
                enqueue(conn, target)?;
                out.merged += 1;
                continue;
            }
        }
        insert
            .execute(params![
                f.id, campaign, f.org, f.prefix, f.ip, f.port, f.protocol, f.finding, observed,
                f.detail
            ])
            .map_err(internal)?;
        out.added += 1;
    }
    Ok(out)
}

/// The columns `finding_row` reads, joined with the campaign's and organisation's names.
const SELECT_FINDING: &str =
    "SELECT f.id, c.name, f.org, o.name, f.prefix, f.ip, f.port, f.protocol,
        f.finding, f.first_observed, f.last_observed, f.times_seen, f.detail, f.status,
        f.status_at, f.status_note, f.version
   FROM findings f JOIN campaigns c ON c.id = f.campaign JOIN orgs o ON o.id = f.org";

fn finding_row(r: &rusqlite::Row<'_>) -> Result<Finding, StoreError> {
    let status: String = r.get(13).map_err(internal)?;
    Ok(Finding {
        id: r.get(0).map_err(internal)?,
        campaign: r.get(1).map_err(internal)?,
        org: r.get(2).map_err(internal)?,
        org_name: r.get(3).map_err(internal)?,
        prefix: r.get(4).map_err(internal)?,
        ip: r.get(5).map_err(internal)?,
        port: r.get(6).map_err(internal)?,
        protocol: r.get(7).map_err(internal)?,
        finding: r.get(8).map_err(internal)?,
        first_observed: Timestamp::from_micros(r.get(9).map_err(internal)?),
        last_observed: Timestamp::from_micros(r.get(10).map_err(internal)?),
        times_seen: r.get(11).map_err(internal)?,
        detail: r.get(12).map_err(internal)?,
        status: FindingStatus::parse(&status).map_err(corrupt)?,
        status_at: r
            .get::<_, Option<i64>>(14)
            .map_err(internal)?
            .map(Timestamp::from_micros),
        status_note: r.get(15).map_err(internal)?,
        version: r.get(16).map_err(internal)?,
    })
}

pub fn findings(conn: &Connection, q: &FindingQuery) -> Result<Vec<Finding>, StoreError> {
    let mut sql = format!("{SELECT_FINDING} WHERE f.id > ?");
    let mut args = vec![SqlValue::Integer(q.after)];
    if let Some(org) = q.org {
        sql.push_str(" AND f.org = ?");
        args.push(SqlValue::Integer(org));
    }
    if let Some(c) = q.campaign {
        sql.push_str(" AND f.campaign = ?");
        args.push(SqlValue::Integer(c));
    }
    if let Some(s) = q.status {
        sql.push_str(" AND f.status = ?");
        args.push(SqlValue::Text(s.as_str().into()));
    }
    if !q.ids.is_empty() {
        sql.push_str(" AND f.id IN (");
        for (i, id) in q.ids.iter().enumerate() {
            sql.push_str(if i == 0 { "?" } else { ", ?" });
            args.push(SqlValue::Integer(*id));
        }
        sql.push(')');
    }
    sql.push_str(" ORDER BY f.id LIMIT ?");
    args.push(SqlValue::Integer(
        i64::try_from(q.limit).unwrap_or(i64::MAX),
    ));
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let mut rows = stmt.query(params_from_iter(args)).map_err(internal)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(internal)? {
        out.push(finding_row(r)?);
    }
    Ok(out)
}

pub fn update_findings(
    conn: &Connection,
    org: Option<i64>,
    updates: &[StatusUpdate],
    at: Timestamp,
) -> Result<i64, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "UPDATE findings SET status = ?2, status_at = ?3,
                    status_note = coalesce(?4, status_note), version = version + 1
              WHERE id = ?1 AND (?5 IS NULL OR org = ?5)",
        )
        .map_err(internal)?;
    let mut changed = 0;
    for u in updates {
        let n = stmt
            .execute(params![
                u.id,
                u.status.as_str(),
                at.as_micros(),
                u.note,
                org
            ])
            .map_err(internal)?;
        if n > 0 {
            enqueue(conn, u.id)?;
        }
        changed += n;
    }
    Ok(i64::try_from(changed).unwrap_or(i64::MAX))
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
              WHERE id = ?1 AND (SELECT version FROM findings WHERE id = ?1) <= ?2",
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
    let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut out = Unpublished {
        findings: Vec::new(),
        through,
    };
    {
        let sql = format!(
            "{SELECT_FINDING} WHERE f.id IN (SELECT id FROM notice_queue ORDER BY id LIMIT ?1)
              AND f.id <= ?2 ORDER BY f.id"
        );
        let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
        let mut rows = stmt.query(params![limit_sql, through]).map_err(internal)?;
        while let Some(r) = rows.next().map_err(internal)? {
            out.findings.push(finding_row(r)?);
        }
    }
    let room = limit.saturating_sub(out.findings.len());
    if room > 0 {
        let sql = format!("{SELECT_FINDING} WHERE f.id > ?1 ORDER BY f.id LIMIT ?2");
        let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
        let room = i64::try_from(room).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![through, room]).map_err(internal)?;
        while let Some(r) = rows.next().map_err(internal)? {
            let f = finding_row(r)?;
            out.through = out.through.max(f.id);
            out.findings.push(f);
        }
    }
    Ok(out)
}

pub fn finding_counts(
    conn: &Connection,
    from: Timestamp,
    to: Timestamp,
    org: Option<i64>,
) -> Result<Vec<FindingCount>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT f.org, o.name, f.finding, f.status, count(*)
               FROM findings f JOIN orgs o ON o.id = f.org
              WHERE f.first_observed >= ?1 AND f.first_observed < ?2
                AND (?3 IS NULL OR f.org = ?3)
              GROUP BY f.org, f.finding, f.status
              ORDER BY o.name, f.finding, f.status",
        )
        .map_err(internal)?;
    let rows = stmt
        .query_map(params![from.as_micros(), to.as_micros(), org], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    rows.into_iter()
        .map(|(org, org_name, finding, status, count)| {
            Ok(FindingCount {
                org,
                org_name,
                finding,
                status: FindingStatus::parse(&status).map_err(corrupt)?,
                count: u64::try_from(count).unwrap_or(0),
            })
        })
        .collect()
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
