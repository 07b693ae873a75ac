//! Owner routing in PostgreSQL: campaigns and their range snapshots, findings in blocks (see
//! `crate::codec`, shared with SQLite) with what changed of them since, per-member counts for
//! reports, upload records.
//!
//! Where SQLite runs a statement per merge or per status update (cheap in process), this
//! engine sends each kind of change once per batch, as arrays, since every statement is a round
//! trip. Blocks are read a few at a time, so a page of findings never loads a campaign.

use std::collections::{BTreeMap, HashMap, HashSet};

use deadpool_postgres::GenericClient;
use relay_core::notice::{
    Campaign, CampaignKind, Finding, FindingCount, FindingQuery, FindingsAdded, FindingsBatch,
    NewCampaign, StatusUpdate, Unpublished, UploadRecord,
};
use relay_core::store::StoreError;
use stix::Timestamp;
use tokio_postgres::Row;

use super::accounts::{exec, row_one, rows};
use super::sql::{Args, Col, big, unsigned};
use crate::codec;

/// Blocks read per statement when paging through them.
const BLOCKS_PER_READ: i64 = 8;

fn corrupt(what: String) -> StoreError {
    StoreError::Internal(what.into())
}

pub async fn create_campaign<C: GenericClient>(
    c: &C,
    campaign: &NewCampaign,
) -> Result<i64, StoreError> {
    let taken = rows(
        c,
        "SELECT id FROM campaigns WHERE name = $1",
        &[&campaign.name],
    )
    .await?;
    if !taken.is_empty() {
        return Err(StoreError::Conflict(format!(
            "a campaign named '{}' exists",
            campaign.name
        )));
    }
    let at = campaign.at.as_micros();
    let id: i64 = row_one(
        c,
        "INSERT INTO campaigns (name, kind, schedule, created) VALUES ($1, $2, $3, $4)
         RETURNING id",
        &[
            &campaign.name,
            &campaign.kind.as_str(),
            &campaign.schedule,
            &at,
        ],
    )
    .await?
    .col(0)?;
    // The snapshot: every network registered and valid at the campaign's start.
    exec(
        c,
        "INSERT INTO campaign_ranges (campaign, net, org)
         SELECT $1, value, org FROM org_assets
          WHERE kind = 'cidr' AND (removed IS NULL OR removed > $2)
            AND (valid_from IS NULL OR valid_from <= $2)
            AND (valid_until IS NULL OR valid_until > $2)
         ON CONFLICT DO NOTHING",
        &[&id, &at],
    )
    .await?;
    Ok(id)
}

pub async fn campaigns<C: GenericClient>(c: &C) -> Result<Vec<Campaign>, StoreError> {
    campaign_rows(c, None).await
}

pub async fn campaign<C: GenericClient>(c: &C, name: &str) -> Result<Option<Campaign>, StoreError> {
    Ok(campaign_rows(c, Some(name)).await?.pop())
}

/// Every campaign, or the one named.
async fn campaign_rows<C: GenericClient>(
    c: &C,
    name: Option<&str>,
) -> Result<Vec<Campaign>, StoreError> {
    rows(
        c,
        "SELECT c.id, c.name, c.kind, c.schedule, c.created,
                (SELECT count(*) FROM campaign_ranges r WHERE r.campaign = c.id), c.cursor
           FROM campaigns c WHERE $1::text IS NULL OR c.name = $1 ORDER BY c.id",
        &[&name],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Campaign {
            id: r.col(0)?,
            name: r.col(1)?,
            kind: CampaignKind::parse(r.col(2)?).map_err(corrupt)?,
            schedule: r.col(3)?,
            created: Timestamp::from_micros(r.col(4)?),
            ranges: usize::try_from(r.col::<i64>(5)?).unwrap_or(0),
            cursor: r.col::<Option<i64>>(6)?.map(Timestamp::from_micros),
        })
    })
    .collect()
}

pub async fn campaign_ranges<C: GenericClient>(
    c: &C,
    campaign: i64,
) -> Result<Vec<relay_core::notice::SnapshotRange>, StoreError> {
    rows(
        c,
        "SELECT net, org FROM campaign_ranges WHERE campaign = $1 ORDER BY net",
        &[&campaign],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(relay_core::notice::SnapshotRange {
            net: r.col(0)?,
            org: r.col(1)?,
        })
    })
    .collect()
}

pub async fn set_campaign_cursor<C: GenericClient>(
    c: &C,
    campaign: i64,
    cursor: Timestamp,
) -> Result<(), StoreError> {
    exec(
        c,
        "UPDATE campaigns SET cursor = $2 WHERE id = $1",
        &[&campaign, &cursor.as_micros()],
    )
    .await?;
    Ok(())
}

pub async fn last_finding_id<C: GenericClient>(c: &C) -> Result<i64, StoreError> {
    row_one(
        c,
        "SELECT coalesce((SELECT first_id + count - 1 FROM finding_blocks
                            ORDER BY first_id DESC LIMIT 1), 0)",
        &[],
    )
    .await?
    .col(0)
}

/// The block holding a finding, found by the id it starts at.
#[derive(Clone, Copy)]
struct BlockRef {
    first_id: i64,
    campaign: i64,
    org: i64,
    min_first: i64,
}

/// The block holding each of `ids` (in one statement), for those that lie in one.
async fn blocks_of<C: GenericClient>(
    c: &C,
    ids: &[i64],
) -> Result<HashMap<i64, BlockRef>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut wanted: Vec<i64> = ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let rows = rows(
        c,
        "SELECT k.id, b.first_id, b.campaign, b.org, b.min_first
           FROM unnest($1::bigint[]) AS k(id)
           JOIN LATERAL (SELECT first_id, campaign, org, min_first, count FROM finding_blocks
                          WHERE first_id <= k.id ORDER BY first_id DESC LIMIT 1) b
             ON k.id < b.first_id + b.count",
        &[&wanted],
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.col(0)?,
                BlockRef {
                    first_id: r.col(1)?,
                    campaign: r.col(2)?,
                    org: r.col(3)?,
                    min_first: r.col(4)?,
                },
            ))
        })
        .collect()
}

pub async fn add_findings<C: GenericClient>(
    c: &C,
    campaign: i64,
    batch: &FindingsBatch,
) -> Result<FindingsAdded, StoreError> {
    let mut top = last_finding_id(c).await?;
    let mut out = FindingsAdded::default();
    let mut first_ids = Vec::new();
    let mut orgs = Vec::new();
    let mut counts = Vec::new();
    let mut min_firsts = Vec::new();
    let mut max_firsts = Vec::new();
    let mut data = Vec::new();
    for b in batch.blocks.iter().filter(|b| !b.findings.is_empty()) {
        if b.first_id <= top {
            return Err(StoreError::Conflict(format!(
                "finding id {} is taken: findings were stored meanwhile by another writer",
                b.first_id
            )));
        }
        let count = big(b.findings.len());
        let e = codec::encode(b)?;
        first_ids.push(b.first_id);
        orgs.push(b.org);
        counts.push(count);
        min_firsts.push(e.min_first.as_micros());
        max_firsts.push(e.max_first.as_micros());
        data.push(e.data);
        top = b.first_id + count - 1;
        out.added += b.findings.len();
        out.merged += b
            .findings
            .iter()
            .map(|f| f.times_seen.saturating_sub(1) as usize)
            .sum::<usize>();
    }
    if !first_ids.is_empty() {
        exec(
            c,
            "INSERT INTO finding_blocks (first_id, campaign, org, count, min_first, max_first, data)
             SELECT k.first_id, $1, k.org, k.count, k.min_first, k.max_first, k.data
               FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
                           $7::bytea[]) AS k(first_id, org, count, min_first, max_first, data)",
            &[
                &campaign,
                &first_ids,
                &orgs,
                &counts,
                &min_firsts,
                &max_firsts,
                &data,
            ],
        )
        .await?;
    }
    if batch.merges.is_empty() {
        return Ok(out);
    }
    // Every merge must name a finding of this campaign and organisation (blocks stored just
    // above included); the first that does not refuses the whole batch.
    let targets: Vec<i64> = batch.merges.iter().map(|m| m.into).collect();
    let blocks = blocks_of(c, &targets).await?;
    /// What the merges into one finding add up to.
    struct Seen {
        times: i64,
        first: i64,
        last: i64,
        detail: Option<String>,
    }
    let mut seen: BTreeMap<i64, Seen> = BTreeMap::new();
    let mut lowest: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for m in &batch.merges {
        let block = blocks
            .get(&m.into)
            .filter(|b| b.campaign == campaign && b.org == m.org)
            .ok_or_else(|| {
                StoreError::Conflict(format!(
                    "finding {} is not one of this campaign's findings of organisation {}",
                    m.into, m.org
                ))
            })?;
        let at = m.observed.as_micros();
        let s = seen.entry(m.into).or_insert(Seen {
            times: 0,
            first: at,
            last: at,
            detail: None,
        });
        s.times += 1;
        s.first = s.first.min(at);
        s.last = s.last.max(at);
        if let Some(d) = &m.detail {
            s.detail = Some(d.clone());
        }
        let low = lowest
            .entry(block.first_id)
            .or_insert((block.min_first, block.min_first));
        low.1 = low.1.min(at);
        out.merged += 1;
    }
    let mut ids = Vec::with_capacity(seen.len());
    let mut times = Vec::with_capacity(seen.len());
    let mut firsts = Vec::with_capacity(seen.len());
    let mut lasts = Vec::with_capacity(seen.len());
    let mut details = Vec::with_capacity(seen.len());
    for (id, s) in seen {
        ids.push(id);
        times.push(s.times);
        firsts.push(s.first);
        lasts.push(s.last);
        details.push(s.detail);
    }
    exec(
        c,
        "INSERT INTO finding_state (id, seen_more, first_observed, last_observed, detail, changes)
         SELECT k.id, k.times, k.first, k.last, k.detail, k.times
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[])
                AS k(id, times, first, last, detail)
         ON CONFLICT (id) DO UPDATE SET
            seen_more = finding_state.seen_more + excluded.seen_more,
            first_observed = least(coalesce(finding_state.first_observed, excluded.first_observed),
                                   excluded.first_observed),
            last_observed = greatest(coalesce(finding_state.last_observed, excluded.last_observed),
                                     excluded.last_observed),
            detail = coalesce(excluded.detail, finding_state.detail),
            changes = finding_state.changes + excluded.changes",
        &[&ids, &times, &firsts, &lasts, &details],
    )
    .await?;
    let (lowered, mins): (Vec<i64>, Vec<i64>) = lowest
        .into_iter()
        .filter(|(_, (was, now))| now < was)
        .map(|(first_id, (_, now))| (first_id, now))
        .unzip();
    if !lowered.is_empty() {
        exec(
            c,
            "UPDATE finding_blocks b SET min_first = k.min_first
               FROM unnest($1::bigint[], $2::bigint[]) AS k(first_id, min_first)
              WHERE b.first_id = k.first_id",
            &[&lowered, &mins],
        )
        .await?;
    }
    enqueue(c, &ids).await?;
    Ok(out)
}

/// The changed findings among the id ranges `lo..=hi` given, in one statement.
async fn states<C: GenericClient>(
    c: &C,
    ranges: &[(i64, i64)],
) -> Result<HashMap<i64, codec::FindingState>, StoreError> {
    if ranges.is_empty() {
        return Ok(HashMap::new());
    }
    let (los, his): (Vec<i64>, Vec<i64>) = ranges.iter().copied().unzip();
    let rows = rows(
        c,
        "SELECT s.id, s.seen_more, s.first_observed, s.last_observed, s.detail, s.status,
                s.status_at, s.status_note, s.changes
           FROM unnest($1::bigint[], $2::bigint[]) AS k(lo, hi)
           JOIN finding_state s ON s.id BETWEEN k.lo AND k.hi",
        &[&los, &his],
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.col(0)?,
                codec::FindingState {
                    seen_more: u32::try_from(r.col::<i64>(1)?).unwrap_or(u32::MAX),
                    first_observed: r.col(2)?,
                    last_observed: r.col(3)?,
                    detail: r.col(4)?,
                    status: r.col(5)?,
                    status_at: r.col(6)?,
                    status_note: r.col(7)?,
                    changes: u32::try_from(r.col::<i64>(8)?).unwrap_or(u32::MAX),
                },
            ))
        })
        .collect()
}

/// The id range of a block row (its first id in column 0, its count in column `count`).
fn block_range(r: &Row, count: usize) -> Result<(i64, i64), StoreError> {
    let first_id: i64 = r.col(0)?;
    Ok((first_id, first_id + r.col::<i64>(count)? - 1))
}

/// A block's row as the queries below read it.
const SELECT_BLOCK: &str = "SELECT b.first_id, c.name, b.org, o.name, b.data, b.count
   FROM finding_blocks b JOIN campaigns c ON c.id = b.campaign JOIN orgs o ON o.id = b.org";

pub async fn findings<C: GenericClient>(
    c: &C,
    q: &FindingQuery,
) -> Result<Vec<Finding>, StoreError> {
    let mut out = Vec::new();
    if q.limit == 0 {
        return Ok(out);
    }
    let mut args = Args::default();
    let mut sql = format!("{SELECT_BLOCK} WHERE b.first_id >= $1");
    // The block that may hold the next id, and those after it; or the blocks of the ids named.
    let mut wanted = HashSet::new();
    let start: i64 = if q.ids.is_empty() {
        row_one(
            c,
            "SELECT coalesce(max(first_id), 0) FROM finding_blocks WHERE first_id <= $1",
            &[&q.after],
        )
        .await?
        .col(0)?
    } else {
        let named: Vec<i64> = q.ids.iter().copied().filter(|id| *id > q.after).collect();
        let blocks = blocks_of(c, &named).await?;
        let mut firsts: Vec<i64> = Vec::new();
        for id in named {
            if let Some(b) = blocks.get(&id) {
                wanted.insert(id);
                firsts.push(b.first_id);
            }
        }
        if firsts.is_empty() {
            return Ok(out);
        }
        firsts.sort_unstable();
        firsts.dedup();
        let start = firsts[0];
        // $1 is the paging start; the list is added after it.
        args.add(start);
        sql.push_str(&format!(" AND b.first_id = ANY({})", args.add(firsts)));
        start
    };
    if q.ids.is_empty() {
        args.add(start);
    }
    if let Some(org) = q.org {
        sql.push_str(&format!(" AND b.org = {}", args.add(org)));
    }
    if let Some(campaign) = q.campaign {
        sql.push_str(&format!(" AND b.campaign = {}", args.add(campaign)));
    }
    sql.push_str(&format!(" ORDER BY b.first_id LIMIT {BLOCKS_PER_READ}"));
    let stmt = c.prepare_cached(&sql).await.map_err(super::pg)?;
    let mut from = start;
    loop {
        let mut params = args.refs();
        params[0] = &from;
        let blocks = c.query(&stmt, &params).await.map_err(super::pg)?;
        let Some(last) = blocks.last() else {
            return Ok(out);
        };
        from = last.col::<i64>(0)? + 1;
        let ranges = blocks
            .iter()
            .map(|r| block_range(r, 5).map(|(lo, hi)| (lo.max(q.after + 1), hi)))
            .collect::<Result<Vec<_>, _>>()?;
        let changed = states(c, &ranges).await?;
        for row in &blocks {
            let first_id: i64 = row.col(0)?;
            let campaign: String = row.col(1)?;
            let org: i64 = row.col(2)?;
            let org_name: String = row.col(3)?;
            let block = codec::decode(row.col(4)?)?;
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
        if blocks.len() < BLOCKS_PER_READ as usize {
            return Ok(out);
        }
    }
}

pub async fn update_findings<C: GenericClient>(
    c: &C,
    org: Option<i64>,
    updates: &[StatusUpdate],
    at: Timestamp,
) -> Result<i64, StoreError> {
    let ids: Vec<i64> = updates.iter().map(|u| u.id).collect();
    let blocks = blocks_of(c, &ids).await?;
    /// What the updates of one finding add up to (applied in order, as one).
    struct Change {
        status: String,
        note: Option<String>,
        times: i64,
    }
    let mut changes: BTreeMap<i64, Change> = BTreeMap::new();
    let mut changed = 0;
    for u in updates {
        if blocks
            .get(&u.id)
            .is_none_or(|b| org.is_some_and(|o| o != b.org))
        {
            continue;
        }
        let ch = changes.entry(u.id).or_insert(Change {
            status: String::new(),
            note: None,
            times: 0,
        });
        ch.status = u.status.as_str().to_owned();
        if u.note.is_some() {
            ch.note = u.note.clone();
        }
        ch.times += 1;
        changed += 1;
    }
    if changes.is_empty() {
        return Ok(0);
    }
    let mut ids = Vec::with_capacity(changes.len());
    let mut statuses = Vec::with_capacity(changes.len());
    let mut notes = Vec::with_capacity(changes.len());
    let mut times = Vec::with_capacity(changes.len());
    for (id, ch) in changes {
        ids.push(id);
        statuses.push(ch.status);
        notes.push(ch.note);
        times.push(ch.times);
    }
    exec(
        c,
        "INSERT INTO finding_state (id, status, status_at, status_note, changes)
         SELECT k.id, k.status, $1, k.note, k.times
           FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[])
                AS k(id, status, note, times)
         ON CONFLICT (id) DO UPDATE SET
            status = excluded.status,
            status_at = excluded.status_at,
            status_note = coalesce(excluded.status_note, finding_state.status_note),
            changes = finding_state.changes + excluded.changes",
        &[&at.as_micros(), &ids, &statuses, &notes, &times],
    )
    .await?;
    enqueue(c, &ids).await?;
    Ok(changed)
}

/// Records what was published: new findings up to `through`, and each of `done` at its
/// version (dequeued unless it changed again meanwhile).
pub async fn mark_published<C: GenericClient>(
    c: &C,
    through: i64,
    done: &[(i64, u32)],
) -> Result<i64, StoreError> {
    exec(
        c,
        "UPDATE meta
            SET value = convert_to(greatest(convert_from(value, 'UTF8')::bigint, $1)::text, 'UTF8')
          WHERE key = 'notice_published_through'",
        &[&through],
    )
    .await?;
    if !done.is_empty() {
        let ids: Vec<i64> = done.iter().map(|(id, _)| *id).collect();
        let versions: Vec<i64> = done.iter().map(|(_, v)| i64::from(*v)).collect();
        exec(
            c,
            "DELETE FROM notice_queue q
              USING unnest($1::bigint[], $2::bigint[]) AS d(id, version)
              WHERE q.id = d.id
                AND 1 + coalesce((SELECT s.changes FROM finding_state s WHERE s.id = d.id), 0)
                    <= d.version",
            &[&ids, &versions],
        )
        .await?;
    }
    Ok(big(done.len()))
}

/// Findings changed after they were inserted: they wait to be published again.
async fn enqueue<C: GenericClient>(c: &C, ids: &[i64]) -> Result<(), StoreError> {
    exec(
        c,
        "INSERT INTO notice_queue (id) SELECT DISTINCT unnest($1::bigint[]) ON CONFLICT DO NOTHING",
        &[&ids],
    )
    .await?;
    Ok(())
}

/// Findings waiting for the NOTICE feed: queued (changed) ones first, then new ones.
pub async fn unpublished<C: GenericClient>(c: &C, limit: usize) -> Result<Unpublished, StoreError> {
    let through: i64 = row_one(
        c,
        "SELECT convert_from(value, 'UTF8')::bigint FROM meta
          WHERE key = 'notice_published_through'",
        &[],
    )
    .await?
    .col(0)?;
    let queued = rows(
        c,
        "SELECT id FROM notice_queue WHERE id <= $1 ORDER BY id LIMIT $2",
        &[&through, &big(limit)],
    )
    .await?
    .iter()
    .map(|r| r.col(0))
    .collect::<Result<Vec<i64>, _>>()?;
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
        out.findings = findings(c, &query(0, queued.len(), queued)).await?;
    }
    let room = limit.saturating_sub(out.findings.len());
    if room > 0 {
        let new = findings(c, &query(through, room, Vec::new())).await?;
        if let Some(last) = new.last() {
            out.through = last.id;
        }
        out.findings.extend(new);
    }
    Ok(out)
}

pub async fn finding_counts<C: GenericClient>(
    c: &C,
    from: Timestamp,
    to: Timestamp,
    org: Option<i64>,
) -> Result<Vec<FindingCount>, StoreError> {
    let mut tally = codec::FindingTally::new(from, to);
    let (from, to) = (from.as_micros(), to.as_micros());
    // Only blocks whose range of first observations meets the period, a few at a time.
    let stmt = c
        .prepare_cached(&format!(
            "SELECT b.first_id, b.org, o.name, b.data, b.count
               FROM finding_blocks b JOIN orgs o ON o.id = b.org
              WHERE b.first_id >= $4 AND b.min_first < $2 AND b.max_first >= $1
                AND ($3::bigint IS NULL OR b.org = $3)
              ORDER BY b.first_id LIMIT {BLOCKS_PER_READ}"
        ))
        .await
        .map_err(super::pg)?;
    let mut next = i64::MIN;
    loop {
        let blocks = c
            .query(&stmt, &[&from, &to, &org, &next])
            .await
            .map_err(super::pg)?;
        let Some(last) = blocks.last() else { break };
        next = last.col::<i64>(0)? + 1;
        let ranges = blocks
            .iter()
            .map(|r| block_range(r, 4))
            .collect::<Result<Vec<_>, _>>()?;
        let changed = states(c, &ranges).await?;
        for row in &blocks {
            let first_id: i64 = row.col(0)?;
            let org: i64 = row.col(1)?;
            let org_name: String = row.col(2)?;
            let block = codec::decode(row.col(3)?)?;
            tally.add(first_id, (org, &org_name), &block, &changed)?;
        }
        if blocks.len() < BLOCKS_PER_READ as usize {
            break;
        }
    }
    Ok(tally.counts())
}

pub async fn record_upload<C: GenericClient>(c: &C, u: &UploadRecord) -> Result<i64, StoreError> {
    let errors = serde_json::to_string(&u.errors).map_err(|e| StoreError::Internal(e.into()))?;
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    row_one(
        c,
        "INSERT INTO finding_uploads
            (campaign, uploader, at, lines, added, merged, unmatched, malformed, errors)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        &[
            &u.campaign,
            &u.uploader,
            &u.at.unwrap_or_else(Timestamp::now).as_micros(),
            &count(u.lines),
            &count(u.added),
            &count(u.merged),
            &count(u.unmatched),
            &count(u.malformed),
            &errors,
        ],
    )
    .await?
    .col(0)
}

pub async fn uploads<C: GenericClient>(
    c: &C,
    campaign: i64,
) -> Result<Vec<UploadRecord>, StoreError> {
    rows(
        c,
        "SELECT uploader, at, lines, added, merged, unmatched, malformed, errors
           FROM finding_uploads WHERE campaign = $1 ORDER BY id",
        &[&campaign],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(UploadRecord {
            campaign,
            uploader: r.col(0)?,
            at: Some(Timestamp::from_micros(r.col(1)?)),
            lines: unsigned(r.col(2)?),
            added: unsigned(r.col(3)?),
            merged: unsigned(r.col(4)?),
            unmatched: unsigned(r.col(5)?),
            malformed: unsigned(r.col(6)?),
            errors: serde_json::from_str(r.col(7)?).map_err(|e| StoreError::Internal(e.into()))?,
        })
    })
    .collect()
}
