//! Exports in SQLite: keeping `export_entries` (the blockable observables of current versions)
//! and the change log current inside the writer's transactions, the consistent ordered scan an
//! export reads, applied lists, the allowlist and members' own networks and domains.

use relay_core::Tlp;
use relay_core::exchange::{
    AllowEntry, AppliedList, AppliedSource, AppliedUpload, AssetKind, EXPORTED_TYPES, ExportGroup,
    ExportScan, ExportSink, ExportSource, ExportVersion, OrgAsset,
};
use relay_core::policy::Visibility;
use relay_core::store::StoreError;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use std::collections::{BTreeSet, HashMap};
use std::iter::Peekable;
use std::sync::LazyLock;
use stix::Timestamp;

use super::accounts::{feed_seq, org_id};
use super::internal;
use super::objects::push_visibility;

/// Rows per batch sent to the exporter.
const BATCH: usize = 2048;

/// The insert of an object's current version into `export_entries`: its observables of an
/// exported kind, when it is of an exported type.
static INSERT_ENTRIES: LazyLock<String> = LazyLock::new(|| {
    let types = EXPORTED_TYPES
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT OR IGNORE INTO export_entries
            (kind, value, seq, collection, stix_type, tlp, poster_org, confidence, corroboration,
             date_added, valid_until, revoked)
         SELECT ob.kind, ob.value, o.seq, o.collection, o.stix_type, o.tlp, o.poster_org,
                o.confidence,
                (SELECT count(*) FROM reports r WHERE r.kind = ob.kind AND r.value = ob.value),
                o.date_added, o.valid_until, o.revoked
           FROM objects o JOIN observables ob ON ob.object_seq = o.seq
          WHERE o.collection = ?1 AND o.stix_id = ?2 AND o.is_last = 1
            AND o.stix_type IN ({types})
            AND (ob.kind IN ('ipv4', 'ipv6', 'domain', 'url') OR ob.kind LIKE 'hash:%')"
    )
});

/// Re-derives the export entries of one object (by feed and id) after its versions changed:
/// what its former current version exported is logged and removed, what its current version
/// exports (if it is of an exported type) is inserted and logged.
pub fn refresh_object(
    conn: &Connection,
    collection: i64,
    stix_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    forget_object(conn, collection, stix_id, now)?;
    conn.prepare_cached(&INSERT_ENTRIES)
        .map_err(internal)?
        .execute(params![collection, stix_id])
        .map_err(internal)?;
    log_object(conn, collection, stix_id, now)?;
    Ok(())
}

/// What every export entry of one newly current object version shares.
pub struct EntryVersion<'a> {
    pub seq: i64,
    pub collection: i64,
    pub stix_type: &'a str,
    pub tlp: i64,
    pub poster_org: i64,
    pub confidence: Option<u8>,
    pub date_added: i64,
    pub valid_until: Option<i64>,
    pub revoked: bool,
}

/// Adds one observable of a newly inserted current version to the export entries and logs it,
/// from what the insert already knows (no re-read of the object). The former current version's
/// entries must have been forgotten first.
pub fn add_entry(
    conn: &Connection,
    v: &EntryVersion<'_>,
    kind: &str,
    value: &str,
    corroboration: i64,
    now: i64,
) -> Result<(), StoreError> {
    let added = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO export_entries
                (kind, value, seq, collection, stix_type, tlp, poster_org, confidence,
                 corroboration, date_added, valid_until, revoked)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .map_err(internal)?
        .execute(params![
            kind,
            value,
            v.seq,
            v.collection,
            v.stix_type,
            v.tlp,
            v.poster_org,
            v.confidence,
            corroboration,
            v.date_added,
            v.valid_until,
            v.revoked
        ])
        .map_err(internal)?;
    if added > 0 {
        log_change(conn, kind, value, now)?;
    }
    Ok(())
}

/// Logs the observables every version of one object exports; returns how many.
fn log_object(
    conn: &Connection,
    collection: i64,
    stix_id: &str,
    now: i64,
) -> Result<usize, StoreError> {
    conn.prepare_cached(
        "INSERT INTO export_changes (at, kind, value)
         SELECT ?3, e.kind, e.value FROM export_entries e
          WHERE e.seq IN (SELECT seq FROM objects WHERE collection = ?1 AND stix_id = ?2)",
    )
    .map_err(internal)?
    .execute(params![collection, stix_id, now])
    .map_err(internal)
}

/// Logs and removes the export entries of every version of one object.
pub fn forget_object(
    conn: &Connection,
    collection: i64,
    stix_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    if log_object(conn, collection, stix_id, now)? > 0 {
        conn.prepare_cached(
            "DELETE FROM export_entries
              WHERE seq IN (SELECT seq FROM objects WHERE collection = ?1 AND stix_id = ?2)",
        )
        .map_err(internal)?
        .execute(params![collection, stix_id])
        .map_err(internal)?;
    }
    Ok(())
}

/// A new organisation reported an observable: its entries' corroboration rises.
pub fn corroborated(
    conn: &Connection,
    kind: &str,
    value: &str,
    count: i64,
    now: i64,
) -> Result<(), StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE export_entries SET corroboration = ?3
              WHERE kind = ?1 AND value = ?2 AND corroboration < ?3",
        )
        .map_err(internal)?
        .execute(params![kind, value, count])
        .map_err(internal)?;
    if changed > 0 {
        log_change(conn, kind, value, now)?;
    }
    Ok(())
}

fn log_change(conn: &Connection, kind: &str, value: &str, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO export_changes (at, kind, value) VALUES (?1, ?2, ?3)")
        .map_err(internal)?
        .execute(params![now, kind, value])
        .map_err(internal)?;
    Ok(())
}

/// Drops change-log entries older than `before` (µs) and records how far it went.
pub fn prune_changes(conn: &Connection, before: i64) -> Result<(), StoreError> {
    let last: Option<i64> = conn
        // By the `at` index: only the rows about to go are read (left to itself, the planner
        // walks the whole log backwards from the newest seq).
        .prepare_cached(
            "SELECT max(seq) FROM export_changes INDEXED BY export_changes_at WHERE at < ?1",
        )
        .map_err(internal)?
        .query_row(params![before], |r| r.get(0))
        .map_err(internal)?;
    if let Some(last) = last {
        conn.execute("DELETE FROM export_changes WHERE seq <= ?1", params![last])
            .map_err(internal)?;
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'export_changes_pruned'",
            params![last],
        )
        .map_err(internal)?;
    }
    Ok(())
}

pub fn version(conn: &Connection, now: i64) -> Result<ExportVersion, StoreError> {
    conn.prepare_cached(
        "SELECT coalesce((SELECT max(seq) FROM export_changes), 0),
                max(coalesce((SELECT max(valid_until) FROM export_entries
                               WHERE valid_until IS NOT NULL AND valid_until <= ?1), 0),
                    coalesce((SELECT max(expires) FROM applied_lists WHERE expires <= ?1), 0)),
                (SELECT value FROM meta WHERE key = 'export_changes_pruned')",
    )
    .map_err(internal)?
    .query_row(params![now], |r| {
        Ok(ExportVersion {
            change: r.get(0)?,
            expired: r.get(1)?,
            pruned_through: r.get(2)?,
        })
    })
    .map_err(internal)
}

/// ` AND ((collection = ? AND <visible>) OR ...)` over the scan's feeds, for the table or
/// alias `t` (which has the columns `objects::push_visibility` reads).
fn push_scope(
    sql: &mut String,
    args: &mut Vec<SqlValue>,
    t: &str,
    seqs: &[i64],
    feeds: &[(String, Visibility)],
) {
    let mut alternatives = Vec::with_capacity(seqs.len());
    for (seq, (_, v)) in seqs.iter().zip(feeds) {
        let mut clause = format!("{t}.collection = ?");
        args.push(SqlValue::Integer(*seq));
        push_visibility(&mut clause, args, t, v);
        alternatives.push(format!("({clause})"));
    }
    if alternatives.is_empty() {
        sql.push_str(" AND 0");
    } else {
        sql.push_str(&format!(" AND ({})", alternatives.join(" OR ")));
    }
}

fn push_kinds(sql: &mut String, args: &mut Vec<SqlValue>, column: &str, kinds: &[String]) {
    if kinds.is_empty() {
        sql.push_str(&format!(
            " AND ({column} IN ('ipv4', 'ipv6', 'domain', 'url') OR {column} LIKE 'hash:%')"
        ));
    } else {
        let marks = vec!["?"; kinds.len()].join(", ");
        sql.push_str(&format!(" AND {column} IN ({marks})"));
        args.extend(kinds.iter().cloned().map(SqlValue::Text));
    }
}

fn tlp(code: i64) -> Result<Tlp, StoreError> {
    Tlp::from_code(code)
        .ok_or_else(|| StoreError::Internal(format!("stored TLP code {code}").into()))
}

type Key = (String, String);

/// The observables whose export state may have changed since `clock`, sorted.
fn candidates(
    conn: &Connection,
    scan: &ExportScan,
    change: i64,
    at: i64,
    now: i64,
) -> Result<Vec<Key>, StoreError> {
    let mut keys = BTreeSet::new();
    let mut collect = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<(), StoreError> {
        let mut stmt = conn.prepare_cached(sql).map_err(internal)?;
        let rows = stmt
            .query_map(args, |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(internal)?;
        for row in rows {
            keys.insert(row.map_err(internal)?);
        }
        Ok(())
    };
    collect(
        "SELECT kind, value FROM export_changes WHERE seq > ?1",
        &[&change],
    )?;
    // Expiry is not logged: what expired between the two exports is found by time.
    collect(
        "SELECT kind, value FROM export_entries
          WHERE valid_until IS NOT NULL AND valid_until > ?1 AND valid_until <= ?2",
        &[&at, &now],
    )?;
    collect(
        "SELECT a.kind, a.value FROM applied_entries a JOIN applied_lists l ON l.id = a.list
          WHERE l.expires > ?1 AND l.expires <= ?2",
        &[&at, &now],
    )?;
    let wanted = |kind: &str| {
        if scan.kinds.is_empty() {
            relay_core::exchange::exported_kind(kind)
        } else {
            scan.kinds.iter().any(|k| k == kind)
        }
    };
    Ok(keys.into_iter().filter(|(k, _)| wanted(k)).collect())
}

struct Queries {
    sources: String,
    source_args: Vec<SqlValue>,
    applied: String,
    applied_args: Vec<SqlValue>,
}

fn queries(scan: &ExportScan, seqs: &[i64], now: i64, by_key: bool) -> Queries {
    let mut sources = "SELECT e.kind, e.value, e.collection, e.stix_type, e.tlp, e.confidence,
                              e.corroboration, e.date_added, e.valid_until
                         FROM export_entries e WHERE 1 = 1"
        .to_owned();
    let mut source_args = Vec::new();
    if by_key {
        sources.push_str(" AND e.kind = ? AND e.value = ?");
        source_args.extend([SqlValue::Null, SqlValue::Null]);
    } else {
        push_kinds(&mut sources, &mut source_args, "e.kind", &scan.kinds);
    }
    if scan.active_only {
        sources.push_str(" AND e.revoked = 0 AND (e.valid_until IS NULL OR e.valid_until > ?)");
        source_args.push(SqlValue::Integer(now));
    }
    push_scope(&mut sources, &mut source_args, "e", seqs, &scan.feeds);
    sources.push_str(" ORDER BY e.kind, e.value");

    let mut applied = "SELECT a.kind, a.value, l.collection, l.poster_org, l.tlp, l.uploaded,
                              l.expires
                         FROM applied_entries a
                         JOIN (SELECT id AS seq, collection, org AS poster_org, tlp, uploaded,
                                      expires
                                 FROM applied_lists) l ON l.seq = a.list
                        WHERE 1 = 1"
        .to_owned();
    let mut applied_args = Vec::new();
    if by_key {
        applied.push_str(" AND a.kind = ? AND a.value = ?");
        applied_args.extend([SqlValue::Null, SqlValue::Null]);
    } else {
        push_kinds(&mut applied, &mut applied_args, "a.kind", &scan.kinds);
    }
    if scan.active_only {
        applied.push_str(" AND l.expires > ?");
        applied_args.push(SqlValue::Integer(now));
    }
    push_scope(&mut applied, &mut applied_args, "l", seqs, &scan.feeds);
    applied.push_str(" ORDER BY a.kind, a.value");
    Queries {
        sources,
        source_args,
        applied,
        applied_args,
    }
}

/// A stored type as one of `EXPORTED_TYPES` (no allocation per row).
fn exported_type(v: rusqlite::types::ValueRef<'_>) -> rusqlite::Result<&'static str> {
    let s = v.as_str()?;
    EXPORTED_TYPES
        .iter()
        .copied()
        .find(|t| *t == s)
        .ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                3,
                rusqlite::types::Type::Text,
                format!("'{s}' is not an exported type").into(),
            )
        })
}

fn source_row(
    r: &rusqlite::Row<'_>,
    feed_of: &HashMap<i64, usize>,
) -> rusqlite::Result<(Key, i64, ExportSource, i64)> {
    let collection: i64 = r.get(2)?;
    Ok((
        (r.get(0)?, r.get(1)?),
        collection,
        ExportSource {
            feed: feed_of.get(&collection).copied().unwrap_or(0),
            object_type: exported_type(r.get_ref(3)?)?,
            tlp: Tlp::Clear,
            confidence: r
                .get::<_, Option<i64>>(5)?
                .and_then(|c| u8::try_from(c).ok()),
            corroboration: u32::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
            date_added: Timestamp::from_micros(r.get(7)?),
            valid_until: r.get::<_, Option<i64>>(8)?.map(Timestamp::from_micros),
        },
        r.get(4)?,
    ))
}

fn applied_row(
    r: &rusqlite::Row<'_>,
    feed_of: &HashMap<i64, usize>,
) -> rusqlite::Result<(Key, AppliedSource, i64)> {
    let collection: i64 = r.get(2)?;
    Ok((
        (r.get(0)?, r.get(1)?),
        AppliedSource {
            feed: feed_of.get(&collection).copied().unwrap_or(0),
            org: r.get(3)?,
            tlp: Tlp::Clear,
            uploaded: Timestamp::from_micros(r.get(5)?),
            expires: Timestamp::from_micros(r.get(6)?),
        },
        r.get(4)?,
    ))
}

/// Merges two (kind, value)-ordered row streams into groups.
fn merge_into<S, A>(
    sources: &mut Peekable<S>,
    applied: &mut Peekable<A>,
    emit: &mut dyn FnMut(ExportGroup) -> Result<bool, StoreError>,
) -> Result<(), StoreError>
where
    S: Iterator<Item = Result<(Key, ExportSource), StoreError>>,
    A: Iterator<Item = Result<(Key, AppliedSource), StoreError>>,
{
    loop {
        let failed = || StoreError::Internal("the export scan failed".into());
        if let Some(Err(_)) = sources.peek() {
            return Err(sources.next().and_then(Result::err).unwrap_or_else(failed));
        }
        if let Some(Err(_)) = applied.peek() {
            return Err(applied.next().and_then(Result::err).unwrap_or_else(failed));
        }
        // Which stream holds the smaller key; the group takes that row's key (moved, not
        // copied: a million rows make a million groups).
        let source_first = match (sources.peek(), applied.peek()) {
            (None, None) => return Ok(()),
            (Some(Ok((s, _))), Some(Ok((a, _)))) => s <= a,
            (Some(_), _) => true,
            (None, Some(_)) => false,
        };
        let mut group = ExportGroup {
            kind: String::new(),
            value: String::new(),
            sources: Vec::new(),
            applied: Vec::new(),
        };
        if source_first {
            if let Some(Ok(((kind, value), s))) = sources.next() {
                (group.kind, group.value) = (kind, value);
                group.sources.push(s);
            }
        } else if let Some(Ok(((kind, value), a))) = applied.next() {
            (group.kind, group.value) = (kind, value);
            group.applied.push(a);
        }
        let same = |k: &Key, g: &ExportGroup| k.0 == g.kind && k.1 == g.value;
        while let Some(Ok((k, _))) = sources.peek() {
            if !same(k, &group) {
                break;
            }
            if let Some(Ok((_, s))) = sources.next() {
                group.sources.push(s);
            }
        }
        while let Some(Ok((k, _))) = applied.peek() {
            if !same(k, &group) {
                break;
            }
            if let Some(Ok((_, a))) = applied.next() {
                group.applied.push(a);
            }
        }
        if !emit(group)? {
            return Ok(());
        }
    }
}

/// The whole scan, run on a read-only connection inside one read transaction.
pub fn scan(conn: &Connection, scan: &ExportScan, sink: ExportSink) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN").map_err(internal)?;
    let result = scan_in_transaction(conn, scan, sink);
    let _ = conn.execute_batch("COMMIT");
    result
}

fn scan_in_transaction(
    conn: &Connection,
    scan: &ExportScan,
    sink: ExportSink,
) -> Result<(), StoreError> {
    let now = scan.now.as_micros();
    let version = version(conn, now)?;
    if sink.version.send(version).is_err() {
        return Ok(());
    }
    let seqs = scan
        .feeds
        .iter()
        .map(|(id, _)| feed_seq(conn, id))
        .collect::<Result<Vec<_>, _>>()?;
    let feed_of: HashMap<i64, usize> = seqs.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    let mut out = Batcher {
        batch: Vec::with_capacity(BATCH),
        groups: sink.groups,
    };
    let mut emit = |group: ExportGroup| out.push(group);
    let source_tlp = |(k, _c, mut s, t): (Key, i64, ExportSource, i64)| -> Result<(Key, ExportSource), StoreError> {
        s.tlp = tlp(t)?;
        Ok((k, s))
    };
    let applied_tlp =
        |(k, mut a, t): (Key, AppliedSource, i64)| -> Result<(Key, AppliedSource), StoreError> {
            a.tlp = tlp(t)?;
            Ok((k, a))
        };
    match scan.since {
        None => {
            let q = queries(scan, &seqs, now, false);
            let mut s_stmt = conn.prepare(&q.sources).map_err(internal)?;
            let mut a_stmt = conn.prepare(&q.applied).map_err(internal)?;
            let s_rows = s_stmt
                .query_map(params_from_iter(q.source_args), |r| source_row(r, &feed_of))
                .map_err(internal)?;
            let a_rows = a_stmt
                .query_map(params_from_iter(q.applied_args), |r| {
                    applied_row(r, &feed_of)
                })
                .map_err(internal)?;
            let mut s_iter = s_rows
                .map(|r| r.map_err(internal).and_then(source_tlp))
                .peekable();
            let mut a_iter = a_rows
                .map(|r| r.map_err(internal).and_then(applied_tlp))
                .peekable();
            merge_into(&mut s_iter, &mut a_iter, &mut emit)?;
        }
        Some(clock) => {
            let keys = candidates(conn, scan, clock.change, clock.at.as_micros(), now)?;
            let q = queries(scan, &seqs, now, true);
            let mut s_stmt = conn.prepare(&q.sources).map_err(internal)?;
            let mut a_stmt = conn.prepare(&q.applied).map_err(internal)?;
            for (kind, value) in keys {
                let mut s_args = q.source_args.clone();
                s_args[0] = SqlValue::Text(kind.clone());
                s_args[1] = SqlValue::Text(value.clone());
                let mut a_args = q.applied_args.clone();
                a_args[0] = SqlValue::Text(kind.clone());
                a_args[1] = SqlValue::Text(value.clone());
                let mut group = ExportGroup {
                    kind,
                    value,
                    sources: Vec::new(),
                    applied: Vec::new(),
                };
                for row in s_stmt
                    .query_map(params_from_iter(s_args), |r| source_row(r, &feed_of))
                    .map_err(internal)?
                {
                    group.sources.push(source_tlp(row.map_err(internal)?)?.1);
                }
                for row in a_stmt
                    .query_map(params_from_iter(a_args), |r| applied_row(r, &feed_of))
                    .map_err(internal)?
                {
                    group.applied.push(applied_tlp(row.map_err(internal)?)?.1);
                }
                if !emit(group)? {
                    return Ok(());
                }
            }
        }
    }
    out.finish();
    Ok(())
}

/// Sends groups to the exporter in batches.
struct Batcher {
    batch: Vec<ExportGroup>,
    groups: tokio::sync::mpsc::Sender<Vec<ExportGroup>>,
}

impl Batcher {
    /// Queues a group; false once the exporter stopped listening.
    fn push(&mut self, group: ExportGroup) -> Result<bool, StoreError> {
        self.batch.push(group);
        if self.batch.len() >= BATCH {
            let full = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            return Ok(self.groups.blocking_send(full).is_ok());
        }
        Ok(true)
    }

    fn finish(self) {
        if !self.batch.is_empty() {
            let _ = self.groups.blocking_send(self.batch);
        }
    }
}

/// Replaces a member's applied list for a feed, logging what it adds and withdraws.
pub fn replace_applied(conn: &Connection, upload: &AppliedUpload) -> Result<i64, StoreError> {
    let now = Timestamp::now().as_micros();
    let collection = feed_seq(conn, &upload.feed_id)?;
    let existing: Option<i64> = conn
        .prepare_cached("SELECT id FROM applied_lists WHERE org = ?1 AND collection = ?2")
        .map_err(internal)?
        .query_row(params![upload.org, collection], |r| r.get(0))
        .optional()
        .map_err(internal)?;
    let old: BTreeSet<Key> = match existing {
        Some(id) => entries_of(conn, id)?.into_iter().collect(),
        None => BTreeSet::new(),
    };
    let new: BTreeSet<Key> = upload.entries.iter().cloned().collect();
    let id = match existing {
        Some(id) => {
            conn.execute(
                "UPDATE applied_lists SET tlp = ?2, uploaded = ?3, expires = ?4, entries = ?5
                  WHERE id = ?1",
                params![
                    id,
                    upload.tlp.code(),
                    now,
                    upload.expires.as_micros(),
                    new.len() as i64
                ],
            )
            .map_err(internal)?;
            id
        }
        None => {
            conn.execute(
                "INSERT INTO applied_lists (org, collection, tlp, uploaded, expires, entries)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    upload.org,
                    collection,
                    upload.tlp.code(),
                    now,
                    upload.expires.as_micros(),
                    new.len() as i64
                ],
            )
            .map_err(internal)?;
            conn.last_insert_rowid()
        }
    };
    let mut delete = conn
        .prepare_cached("DELETE FROM applied_entries WHERE kind = ?1 AND value = ?2 AND list = ?3")
        .map_err(internal)?;
    for (kind, value) in old.difference(&new) {
        delete.execute(params![kind, value, id]).map_err(internal)?;
        log_change(conn, kind, value, now)?;
    }
    let mut insert = conn
        .prepare_cached("INSERT INTO applied_entries (kind, value, list) VALUES (?1, ?2, ?3)")
        .map_err(internal)?;
    for (kind, value) in new.difference(&old) {
        insert.execute(params![kind, value, id]).map_err(internal)?;
        log_change(conn, kind, value, now)?;
    }
    // A list's TLP, expiry or feed change what others see of every entry.
    if existing.is_some() {
        for (kind, value) in old.intersection(&new) {
            log_change(conn, kind, value, now)?;
        }
    }
    Ok(id)
}

pub fn remove_applied(conn: &Connection, org: i64, feed_id: &str) -> Result<i64, StoreError> {
    let now = Timestamp::now().as_micros();
    let collection = feed_seq(conn, feed_id)?;
    let id: i64 = conn
        .prepare_cached("SELECT id FROM applied_lists WHERE org = ?1 AND collection = ?2")
        .map_err(internal)?
        .query_row(params![org, collection], |r| r.get(0))
        .optional()
        .map_err(internal)?
        .ok_or_else(|| StoreError::NotFound("no applied list for this feed".into()))?;
    for (kind, value) in entries_of(conn, id)? {
        log_change(conn, &kind, &value, now)?;
    }
    conn.execute("DELETE FROM applied_entries WHERE list = ?1", params![id])
        .map_err(internal)?;
    conn.execute("DELETE FROM applied_lists WHERE id = ?1", params![id])
        .map_err(internal)?;
    Ok(id)
}

fn entries_of(conn: &Connection, list: i64) -> Result<Vec<Key>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT kind, value FROM applied_entries WHERE list = ?1 ORDER BY kind, value",
        )
        .map_err(internal)?;
    let rows = stmt
        .query_map(params![list], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    Ok(rows)
}

pub fn applied_list(
    conn: &Connection,
    org: i64,
    feed_id: &str,
) -> Result<Option<AppliedList>, StoreError> {
    let row: Option<(i64, i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT l.id, l.tlp, l.uploaded, l.expires FROM applied_lists l
               JOIN collections c ON c.seq = l.collection
              WHERE l.org = ?1 AND c.id = ?2",
        )
        .map_err(internal)?
        .query_row(params![org, feed_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()
        .map_err(internal)?;
    let Some((id, tlp_code, uploaded, expires)) = row else {
        return Ok(None);
    };
    Ok(Some(AppliedList {
        org,
        feed_id: feed_id.to_owned(),
        tlp: tlp(tlp_code)?,
        uploaded: Timestamp::from_micros(uploaded),
        expires: Timestamp::from_micros(expires),
        entries: entries_of(conn, id)?,
    }))
}

fn asset_kind(code: String) -> Result<AssetKind, StoreError> {
    AssetKind::from_code(&code)
        .ok_or_else(|| StoreError::Internal(format!("stored asset kind '{code}'").into()))
}

pub fn add_allowlist(
    conn: &Connection,
    kind: AssetKind,
    value: &str,
    reason: &str,
) -> Result<i64, StoreError> {
    let inserted = conn
        .execute(
            "INSERT OR IGNORE INTO allowlist (kind, value, reason, created) VALUES (?1, ?2, ?3, ?4)",
            params![kind.code(), value, reason, Timestamp::now().as_micros()],
        )
        .map_err(internal)?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!(
            "{} '{value}' is already on the allowlist",
            kind.code()
        )));
    }
    Ok(conn.last_insert_rowid())
}

pub fn remove_allowlist(conn: &Connection, id: i64) -> Result<i64, StoreError> {
    let n = conn
        .execute("DELETE FROM allowlist WHERE id = ?1", params![id])
        .map_err(internal)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no allowlist entry {id}")));
    }
    Ok(id)
}

pub fn list_allowlist(conn: &Connection) -> Result<Vec<AllowEntry>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT id, kind, value, reason, created FROM allowlist ORDER BY id")
        .map_err(internal)?;
    let rows = stmt
        .query_map([], |r| {
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
        .map(|(id, kind, value, reason, created)| {
            Ok(AllowEntry {
                id,
                kind: asset_kind(kind)?,
                value,
                reason,
                created: Timestamp::from_micros(created),
            })
        })
        .collect()
}

pub fn add_asset(
    conn: &Connection,
    org: &str,
    kind: AssetKind,
    value: &str,
    (valid_from, valid_until): (Option<Timestamp>, Option<Timestamp>),
) -> Result<i64, StoreError> {
    let org_id = org_id(conn, org)?;
    let live: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM org_assets
              WHERE org = ?1 AND kind = ?2 AND value = ?3 AND removed IS NULL)",
        )
        .map_err(internal)?
        .query_row(params![org_id, kind.code(), value], |r| r.get(0))
        .map_err(internal)?;
    if live {
        return Err(StoreError::Conflict(format!(
            "'{value}' is already registered to {org}"
        )));
    }
    conn.execute(
        "INSERT INTO org_assets (org, kind, value, added, valid_from, valid_until)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            org_id,
            kind.code(),
            value,
            Timestamp::now().as_micros(),
            valid_from.map(Timestamp::as_micros),
            valid_until.map(Timestamp::as_micros)
        ],
    )
    .map_err(internal)?;
    Ok(conn.last_insert_rowid())
}

pub fn remove_asset(conn: &Connection, id: i64, at: Timestamp) -> Result<i64, StoreError> {
    let n = conn
        .execute(
            "UPDATE org_assets SET removed = ?2 WHERE id = ?1 AND removed IS NULL",
            params![id, at.as_micros()],
        )
        .map_err(internal)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!(
            "no registered network or domain {id}"
        )));
    }
    Ok(id)
}

pub fn org_assets(conn: &Connection, org: Option<i64>) -> Result<Vec<OrgAsset>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.id, a.org, o.name, a.kind, a.value, a.added, a.removed, a.valid_from,
                    a.valid_until
               FROM org_assets a JOIN orgs o ON o.id = a.org
              WHERE a.removed IS NULL AND (?1 IS NULL OR a.org = ?1)
              ORDER BY o.name, a.kind, a.value",
        )
        .map_err(internal)?;
    let rows = stmt
        .query_map(params![org], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, Option<i64>>(8)?,
            ))
        })
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    rows.into_iter()
        .map(
            |(id, org, org_name, kind, value, added, removed, from, until)| {
                Ok(OrgAsset {
                    id,
                    org,
                    org_name,
                    kind: asset_kind(kind)?,
                    value,
                    added: Timestamp::from_micros(added),
                    removed: removed.map(Timestamp::from_micros),
                    valid_from: from.map(Timestamp::from_micros),
                    valid_until: until.map(Timestamp::from_micros),
                })
            },
        )
        .collect()
}
