//! Exports in PostgreSQL: keeping `export_entries` (the blockable observables of current
//! versions) and the change log current inside writing transactions, the consistent ordered
//! scan an export reads, applied lists, the allowlist and members' own networks and domains.
//!
//! The scan runs in one REPEATABLE READ, read-only transaction (one snapshot: the version it
//! reports and every row it sends agree) and streams: the sources and the applied lists are
//! two portals of that transaction, fetched a batch at a time and merged by (kind, value), so
//! an export of millions of entries never sits in memory whole.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::LazyLock;

use deadpool_postgres::{GenericClient, Transaction};
use relay_core::Tlp;
use relay_core::exchange::{
    AllowEntry, AppliedList, AppliedSource, AppliedUpload, AssetKind, EXPORTED_TYPES, ExportGroup,
    ExportScan, ExportSink, ExportSource, ExportVersion, OrgAsset,
};
use relay_core::policy::Visibility;
use relay_core::store::StoreError;
use stix::Timestamp;
use tokio_postgres::{Portal, Row};

use super::accounts::{exec, feed_seq, org_id, row_one, row_opt, rows};
use super::pg;
use super::sql::{self, Args, Col, big};

/// Groups per batch sent to the exporter.
const BATCH: usize = 2048;
/// Rows fetched from a portal at a time.
const FETCH: i32 = 4096;

/// An observable as exports key it: (kind, value).
pub type Key = (String, String);

/// The observables of an exported kind (the SQL twin of `exchange::exported_kind`).
fn exported_kinds(column: &str) -> String {
    format!("({column} IN ('ipv4', 'ipv6', 'domain', 'url') OR {column} LIKE 'hash:%')")
}

/// The insert of an object's current version into `export_entries`: its observables of an
/// exported kind, when it is of an exported type; returns the entries added.
static INSERT_ENTRIES: LazyLock<String> = LazyLock::new(|| {
    let types = EXPORTED_TYPES
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO export_entries
            (kind, value, seq, collection, stix_type, tlp, poster_org, confidence, corroboration,
             date_added, valid_until, revoked)
         SELECT ob.kind, ob.value, o.seq, o.collection, o.stix_type, o.tlp, o.poster_org,
                o.confidence,
                (SELECT count(*) FROM reports r WHERE r.kind = ob.kind AND r.value = ob.value),
                o.date_added, o.valid_until, o.revoked
           FROM objects o JOIN observables ob ON ob.object_seq = o.seq
          WHERE o.collection = $1 AND o.stix_id = $2 AND o.is_last = 1
            AND o.stix_type IN ({types}) AND {}
         ON CONFLICT DO NOTHING
         RETURNING kind, value",
        exported_kinds("ob.kind")
    )
});

fn keys_of(rows: &[Row]) -> Result<Vec<Key>, StoreError> {
    rows.iter().map(|r| Ok((r.col(0)?, r.col(1)?))).collect()
}

/// Re-derives the export entries of one object (by feed and id) after its versions changed:
/// what its former versions exported is logged and removed, what its current version exports
/// (if it is of an exported type) is inserted and logged.
pub async fn refresh_object<C: GenericClient>(
    c: &C,
    collection: i64,
    stix_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    forget_object(c, collection, stix_id, now).await?;
    let added = rows(c, &INSERT_ENTRIES, &[&collection, &stix_id]).await?;
    log_changes(c, &keys_of(&added)?, now).await
}

/// Logs and removes the export entries of every version of one object.
pub async fn forget_object<C: GenericClient>(
    c: &C,
    collection: i64,
    stix_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    exec(
        c,
        "WITH gone AS (
            DELETE FROM export_entries
             WHERE seq IN (SELECT seq FROM objects WHERE collection = $1 AND stix_id = $2)
            RETURNING kind, value)
         INSERT INTO export_changes (at, kind, value) SELECT $3, kind, value FROM gone",
        &[&collection, &stix_id, &now],
    )
    .await?;
    Ok(())
}

/// Removes the export entries of every version of the given objects (by collection and id);
/// returns the observables they exported, for the change log.
pub async fn forget_objects<C: GenericClient>(
    c: &C,
    objects: &[(i64, String)],
) -> Result<Vec<Key>, StoreError> {
    if objects.is_empty() {
        return Ok(Vec::new());
    }
    let (colls, ids): (Vec<i64>, Vec<String>) = objects.iter().cloned().unzip();
    let gone = rows(
        c,
        "DELETE FROM export_entries e
          USING objects o, unnest($1::bigint[], $2::text[]) AS k(collection, stix_id)
          WHERE e.seq = o.seq AND o.collection = k.collection AND o.stix_id = k.stix_id
         RETURNING e.kind, e.value",
        &[&colls, &ids],
    )
    .await?;
    keys_of(&gone)
}

/// One export entry of a newly current object version.
pub struct NewEntry {
    pub kind: String,
    pub value: String,
    pub seq: i64,
    pub collection: i64,
    pub stix_type: String,
    pub tlp: i64,
    pub poster_org: i64,
    pub confidence: Option<i64>,
    pub corroboration: i64,
    pub date_added: i64,
    pub valid_until: Option<i64>,
    pub revoked: bool,
}

/// Inserts export entries in one statement (an entry already there is left alone); returns
/// the observables of those inserted.
pub async fn insert_entries<C: GenericClient>(
    c: &C,
    entries: Vec<NewEntry>,
) -> Result<Vec<Key>, StoreError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let n = entries.len();
    let mut kind = Vec::with_capacity(n);
    let mut value = Vec::with_capacity(n);
    let mut seq = Vec::with_capacity(n);
    let mut collection = Vec::with_capacity(n);
    let mut stix_type = Vec::with_capacity(n);
    let mut tlp = Vec::with_capacity(n);
    let mut poster = Vec::with_capacity(n);
    let mut confidence = Vec::with_capacity(n);
    let mut corroboration = Vec::with_capacity(n);
    let mut date_added = Vec::with_capacity(n);
    let mut valid_until = Vec::with_capacity(n);
    let mut revoked = Vec::with_capacity(n);
    for e in entries {
        kind.push(e.kind);
        value.push(e.value);
        seq.push(e.seq);
        collection.push(e.collection);
        stix_type.push(e.stix_type);
        tlp.push(e.tlp);
        poster.push(e.poster_org);
        confidence.push(e.confidence);
        corroboration.push(e.corroboration);
        date_added.push(e.date_added);
        valid_until.push(e.valid_until);
        revoked.push(i64::from(e.revoked));
    }
    let added = rows(
        c,
        "INSERT INTO export_entries
            (kind, value, seq, collection, stix_type, tlp, poster_org, confidence,
             corroboration, date_added, valid_until, revoked)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[],
                              $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],
                              $10::bigint[], $11::bigint[], $12::bigint[])
         ON CONFLICT DO NOTHING
         RETURNING kind, value",
        &[
            &kind,
            &value,
            &seq,
            &collection,
            &stix_type,
            &tlp,
            &poster,
            &confidence,
            &corroboration,
            &date_added,
            &valid_until,
            &revoked,
        ],
    )
    .await?;
    keys_of(&added)
}

/// New organisations reported these observables: their entries' corroboration rises to the
/// count given (never falls). Returns the observables whose entries changed.
pub async fn corroborated<C: GenericClient>(
    c: &C,
    counts: &[(Key, i64)],
) -> Result<Vec<Key>, StoreError> {
    if counts.is_empty() {
        return Ok(Vec::new());
    }
    let kinds: Vec<&str> = counts.iter().map(|((k, _), _)| k.as_str()).collect();
    let values: Vec<&str> = counts.iter().map(|((_, v), _)| v.as_str()).collect();
    let ns: Vec<i64> = counts.iter().map(|(_, n)| *n).collect();
    let changed = rows(
        c,
        "UPDATE export_entries e SET corroboration = k.n
           FROM unnest($1::text[], $2::text[], $3::bigint[]) AS k(kind, value, n)
          WHERE e.kind = k.kind AND e.value = k.value AND e.corroboration < k.n
         RETURNING e.kind, e.value",
        &[&kinds, &values, &ns],
    )
    .await?;
    keys_of(&changed)
}

/// Appends the observables to the change log, each once, at `now`.
pub async fn log_changes<C: GenericClient>(
    c: &C,
    keys: &[Key],
    now: i64,
) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    let distinct: BTreeSet<&Key> = keys.iter().collect();
    let kinds: Vec<&str> = distinct.iter().map(|(k, _)| k.as_str()).collect();
    let values: Vec<&str> = distinct.iter().map(|(_, v)| v.as_str()).collect();
    exec(
        c,
        "INSERT INTO export_changes (at, kind, value)
         SELECT $1, k.kind, k.value FROM unnest($2::text[], $3::text[]) AS k(kind, value)",
        &[&now, &kinds, &values],
    )
    .await?;
    Ok(())
}

/// Drops change-log entries older than `before` (µs) and records how far it went.
pub async fn prune_changes<C: GenericClient>(c: &C, before: i64) -> Result<(), StoreError> {
    let last: Option<i64> = row_one(
        c,
        "SELECT max(seq) FROM export_changes WHERE at < $1",
        &[&before],
    )
    .await?
    .col(0)?;
    if let Some(last) = last {
        exec(c, "DELETE FROM export_changes WHERE seq <= $1", &[&last]).await?;
        exec(
            c,
            "UPDATE meta SET value = convert_to($1, 'UTF8') WHERE key = 'export_changes_pruned'",
            &[&last.to_string()],
        )
        .await?;
    }
    Ok(())
}

pub async fn version<C: GenericClient>(c: &C, now: i64) -> Result<ExportVersion, StoreError> {
    let r = row_one(
        c,
        "SELECT coalesce((SELECT max(seq) FROM export_changes), 0),
                greatest(coalesce((SELECT max(valid_until) FROM export_entries
                                    WHERE valid_until IS NOT NULL AND valid_until <= $1), 0),
                         coalesce((SELECT max(expires) FROM applied_lists WHERE expires <= $1), 0)),
                (SELECT convert_from(value, 'UTF8')::bigint FROM meta
                  WHERE key = 'export_changes_pruned')",
        &[&now],
    )
    .await?;
    Ok(ExportVersion {
        change: r.col(0)?,
        expired: r.col(1)?,
        pruned_through: r.col::<Option<i64>>(2)?.unwrap_or(0),
    })
}

/// ` AND ((collection = $ AND <visible>) OR ...)` over the scan's feeds, for the table or
/// alias `t` (which has the columns `sql::visibility` reads).
fn scope(args: &mut Args, t: &str, seqs: &[i64], feeds: &[(String, Visibility)]) -> String {
    let mut alternatives = Vec::with_capacity(seqs.len());
    for (seq, (_, v)) in seqs.iter().zip(feeds) {
        let p = args.add(*seq);
        let vis = sql::visibility(args, t, v);
        alternatives.push(format!("({t}.collection = {p}{vis})"));
    }
    if alternatives.is_empty() {
        " AND false".to_owned()
    } else {
        format!(" AND ({})", alternatives.join(" OR "))
    }
}

fn kinds_filter(args: &mut Args, column: &str, kinds: &[String]) -> String {
    if kinds.is_empty() {
        format!(" AND {}", exported_kinds(column))
    } else {
        format!(" AND {column} = ANY({})", args.add(kinds.to_vec()))
    }
}

fn tlp(code: i64) -> Result<Tlp, StoreError> {
    Tlp::from_code(code)
        .ok_or_else(|| StoreError::Internal(format!("stored TLP code {code}").into()))
}

/// The observables whose export state may have changed since the clock, sorted.
async fn candidates<C: GenericClient>(
    c: &C,
    scan: &ExportScan,
    change: i64,
    at: i64,
    now: i64,
) -> Result<Vec<Key>, StoreError> {
    let mut keys: BTreeSet<Key> = BTreeSet::new();
    for r in rows(
        c,
        "SELECT kind, value FROM export_changes WHERE seq > $1",
        &[&change],
    )
    .await?
    {
        keys.insert((r.col(0)?, r.col(1)?));
    }
    // Expiry is not logged: what expired between the two exports is found by time.
    for r in rows(
        c,
        "SELECT kind, value FROM export_entries
          WHERE valid_until IS NOT NULL AND valid_until > $1 AND valid_until <= $2",
        &[&at, &now],
    )
    .await?
    {
        keys.insert((r.col(0)?, r.col(1)?));
    }
    for r in rows(
        c,
        "SELECT a.kind, a.value FROM applied_entries a JOIN applied_lists l ON l.id = a.list
          WHERE l.expires > $1 AND l.expires <= $2",
        &[&at, &now],
    )
    .await?
    {
        keys.insert((r.col(0)?, r.col(1)?));
    }
    let wanted = |kind: &str| {
        if scan.kinds.is_empty() {
            relay_core::exchange::exported_kind(kind)
        } else {
            scan.kinds.iter().any(|k| k == kind)
        }
    };
    Ok(keys.into_iter().filter(|(k, _)| wanted(k)).collect())
}

/// The two statements of a scan: the visible sources and the visible applied lists, each in
/// (kind, value) order; over every observable, or only over `keys`.
fn statements(
    scan: &ExportScan,
    seqs: &[i64],
    now: i64,
    keys: Option<&[Key]>,
) -> [(String, Args); 2] {
    let mut sources = Args::default();
    let mut s = "SELECT e.kind, e.value, e.collection, e.stix_type, e.tlp, e.confidence,
                        e.corroboration, e.date_added, e.valid_until
                   FROM export_entries e"
        .to_owned();
    let mut applied = Args::default();
    let mut a = "SELECT a.kind, a.value, l.collection, l.poster_org, l.tlp, l.uploaded, l.expires
                   FROM applied_entries a
                   JOIN (SELECT id AS seq, collection, org AS poster_org, tlp, uploaded, expires
                           FROM applied_lists) l ON l.seq = a.list"
        .to_owned();
    match keys {
        Some(keys) => {
            let kinds: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
            let values: Vec<String> = keys.iter().map(|(_, v)| v.clone()).collect();
            for (sql, args, t) in [(&mut s, &mut sources, "e"), (&mut a, &mut applied, "a")] {
                let (k, v) = (args.add(kinds.clone()), args.add(values.clone()));
                sql.push_str(&format!(
                    " JOIN unnest({k}::text[], {v}::text[]) AS k(kind, value)
                        ON {t}.kind = k.kind AND {t}.value = k.value WHERE true"
                ));
            }
        }
        None => {
            s.push_str(" WHERE true");
            s.push_str(&kinds_filter(&mut sources, "e.kind", &scan.kinds));
            a.push_str(" WHERE true");
            a.push_str(&kinds_filter(&mut applied, "a.kind", &scan.kinds));
        }
    }
    if scan.active_only {
        let p = sources.add(now);
        s.push_str(&format!(
            " AND e.revoked = 0 AND (e.valid_until IS NULL OR e.valid_until > {p})"
        ));
        let p = applied.add(now);
        a.push_str(&format!(" AND l.expires > {p}"));
    }
    s.push_str(&scope(&mut sources, "e", seqs, &scan.feeds));
    s.push_str(" ORDER BY e.kind, e.value, e.seq");
    a.push_str(&scope(&mut applied, "l", seqs, &scan.feeds));
    a.push_str(" ORDER BY a.kind, a.value, a.list");
    [(s, sources), (a, applied)]
}

/// A stored type as one of `EXPORTED_TYPES` (no allocation per row).
fn exported_type(s: &str) -> Result<&'static str, StoreError> {
    EXPORTED_TYPES
        .iter()
        .copied()
        .find(|t| *t == s)
        .ok_or_else(|| StoreError::Internal(format!("'{s}' is not an exported type").into()))
}

fn source_row(r: &Row, feed_of: &HashMap<i64, usize>) -> Result<ExportSource, StoreError> {
    let collection: i64 = r.col(2)?;
    Ok(ExportSource {
        feed: feed_of.get(&collection).copied().unwrap_or(0),
        object_type: exported_type(r.col(3)?)?,
        tlp: tlp(r.col(4)?)?,
        confidence: r.col::<Option<i64>>(5)?.and_then(|n| u8::try_from(n).ok()),
        corroboration: u32::try_from(r.col::<i64>(6)?).unwrap_or(0),
        date_added: Timestamp::from_micros(r.col(7)?),
        valid_until: r.col::<Option<i64>>(8)?.map(Timestamp::from_micros),
    })
}

fn applied_row(r: &Row, feed_of: &HashMap<i64, usize>) -> Result<AppliedSource, StoreError> {
    let collection: i64 = r.col(2)?;
    Ok(AppliedSource {
        feed: feed_of.get(&collection).copied().unwrap_or(0),
        org: r.col(3)?,
        tlp: tlp(r.col(4)?)?,
        uploaded: Timestamp::from_micros(r.col(5)?),
        expires: Timestamp::from_micros(r.col(6)?),
    })
}

/// The rows of one portal, fetched a batch at a time as they are consumed.
struct Rows<'t, 'c> {
    tx: &'t Transaction<'c>,
    portal: Portal,
    buffer: VecDeque<Row>,
    exhausted: bool,
}

impl<'t, 'c> Rows<'t, 'c> {
    async fn open(tx: &'t Transaction<'c>, sql: &str, args: &Args) -> Result<Self, StoreError> {
        let stmt = tx.prepare_cached(sql).await.map_err(pg)?;
        let portal = tx.bind(&stmt, &args.refs()).await.map_err(pg)?;
        Ok(Rows {
            tx,
            portal,
            buffer: VecDeque::new(),
            exhausted: false,
        })
    }

    /// The next row's (kind, value), fetching the next batch when needed.
    async fn peek(&mut self) -> Result<Option<(&str, &str)>, StoreError> {
        if self.buffer.is_empty() && !self.exhausted {
            let batch = self
                .tx
                .query_portal(&self.portal, FETCH)
                .await
                .map_err(pg)?;
            self.exhausted = batch.len() < FETCH as usize;
            self.buffer.extend(batch);
        }
        match self.buffer.front() {
            Some(r) => Ok(Some((r.col(0)?, r.col(1)?))),
            None => Ok(None),
        }
    }

    fn next(&mut self) -> Option<Row> {
        self.buffer.pop_front()
    }

    /// Takes the rows of `key` (skipping any before it), converted by `each`.
    async fn take_key<T>(
        &mut self,
        key: (&str, &str),
        each: impl Fn(&Row) -> Result<T, StoreError>,
        into: &mut Vec<T>,
    ) -> Result<(), StoreError> {
        while let Some(head) = self.peek().await? {
            if head > key {
                break;
            }
            let same = head == key;
            if let Some(r) = self.next()
                && same
            {
                into.push(each(&r)?);
            }
        }
        Ok(())
    }
}

/// Sends groups to the exporter in batches.
struct Batcher {
    batch: Vec<ExportGroup>,
    groups: tokio::sync::mpsc::Sender<Vec<ExportGroup>>,
}

impl Batcher {
    /// Queues a group; false once the exporter stopped listening.
    async fn push(&mut self, group: ExportGroup) -> bool {
        self.batch.push(group);
        if self.batch.len() >= BATCH {
            let full = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            return self.groups.send(full).await.is_ok();
        }
        true
    }

    async fn finish(self) {
        if !self.batch.is_empty() {
            let _ = self.groups.send(self.batch).await;
        }
    }
}

/// The whole scan, inside the caller's REPEATABLE READ read-only transaction.
pub async fn scan(
    tx: &Transaction<'_>,
    scan: &ExportScan,
    sink: ExportSink,
) -> Result<(), StoreError> {
    let now = scan.now.as_micros();
    let version = version(tx, now).await?;
    if sink.version.send(version).is_err() {
        return Ok(());
    }
    let mut seqs = Vec::with_capacity(scan.feeds.len());
    for (id, _) in &scan.feeds {
        seqs.push(feed_seq(tx, id).await?);
    }
    let feed_of: HashMap<i64, usize> = seqs.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    let mut out = Batcher {
        batch: Vec::with_capacity(BATCH),
        groups: sink.groups,
    };
    let keys = match scan.since {
        None => None,
        Some(clock) => Some(candidates(tx, scan, clock.change, clock.at.as_micros(), now).await?),
    };
    let [(s_sql, s_args), (a_sql, a_args)] = statements(scan, &seqs, now, keys.as_deref());
    let mut sources = Rows::open(tx, &s_sql, &s_args).await?;
    let mut applied = Rows::open(tx, &a_sql, &a_args).await?;
    let source = |r: &Row| source_row(r, &feed_of);
    let list = |r: &Row| applied_row(r, &feed_of);
    match keys {
        // Every candidate is answered, present or not: absent now means removed.
        Some(keys) => {
            for (kind, value) in keys {
                let mut group = ExportGroup {
                    kind,
                    value,
                    sources: Vec::new(),
                    applied: Vec::new(),
                };
                let key = (group.kind.as_str(), group.value.as_str());
                sources.take_key(key, source, &mut group.sources).await?;
                applied.take_key(key, list, &mut group.applied).await?;
                if !out.push(group).await {
                    return Ok(());
                }
            }
        }
        None => loop {
            // The smaller key of the two streams' next rows starts the next group.
            let next = match (sources.peek().await?, applied.peek().await?) {
                (None, None) => break,
                (Some(s), Some(a)) => {
                    let k = s.min(a);
                    (k.0.to_owned(), k.1.to_owned())
                }
                (Some(k), None) | (None, Some(k)) => (k.0.to_owned(), k.1.to_owned()),
            };
            let mut group = ExportGroup {
                kind: next.0,
                value: next.1,
                sources: Vec::new(),
                applied: Vec::new(),
            };
            let key = (group.kind.as_str(), group.value.as_str());
            sources.take_key(key, source, &mut group.sources).await?;
            applied.take_key(key, list, &mut group.applied).await?;
            if !out.push(group).await {
                return Ok(());
            }
        },
    }
    out.finish().await;
    Ok(())
}

/// Replaces a member's applied list for a feed, logging what it adds and withdraws.
pub async fn replace_applied<C: GenericClient>(
    c: &C,
    upload: &AppliedUpload,
) -> Result<i64, StoreError> {
    let now = Timestamp::now().as_micros();
    let collection = feed_seq(c, &upload.feed_id).await?;
    let existing: Option<i64> = match row_opt(
        c,
        "SELECT id FROM applied_lists WHERE org = $1 AND collection = $2",
        &[&upload.org, &collection],
    )
    .await?
    {
        Some(r) => Some(r.col(0)?),
        None => None,
    };
    let old: BTreeSet<Key> = match existing {
        Some(id) => entries_of(c, id).await?.into_iter().collect(),
        None => BTreeSet::new(),
    };
    let new: BTreeSet<Key> = upload.entries.iter().cloned().collect();
    let id: i64 = match existing {
        Some(id) => {
            exec(
                c,
                "UPDATE applied_lists SET tlp = $2, uploaded = $3, expires = $4, entries = $5
                  WHERE id = $1",
                &[
                    &id,
                    &upload.tlp.code(),
                    &now,
                    &upload.expires.as_micros(),
                    &big(new.len()),
                ],
            )
            .await?;
            id
        }
        None => row_one(
            c,
            "INSERT INTO applied_lists (org, collection, tlp, uploaded, expires, entries)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &upload.org,
                &collection,
                &upload.tlp.code(),
                &now,
                &upload.expires.as_micros(),
                &big(new.len()),
            ],
        )
        .await?
        .col(0)?,
    };
    let split =
        |keys: Vec<&Key>| -> (Vec<String>, Vec<String>) { keys.into_iter().cloned().unzip() };
    let (gone_kinds, gone_values) = split(old.difference(&new).collect());
    if !gone_kinds.is_empty() {
        exec(
            c,
            "DELETE FROM applied_entries a
              USING unnest($1::text[], $2::text[]) AS k(kind, value)
              WHERE a.list = $3 AND a.kind = k.kind AND a.value = k.value",
            &[&gone_kinds, &gone_values, &id],
        )
        .await?;
    }
    let (new_kinds, new_values) = split(new.difference(&old).collect());
    if !new_kinds.is_empty() {
        exec(
            c,
            "INSERT INTO applied_entries (kind, value, list)
             SELECT k.kind, k.value, $3 FROM unnest($1::text[], $2::text[]) AS k(kind, value)",
            &[&new_kinds, &new_values, &id],
        )
        .await?;
    }
    // A list's TLP, expiry or feed change what others see of every entry: a replaced list
    // logs all its entries, a new one those it adds.
    let logged: Vec<Key> = if existing.is_some() {
        old.union(&new).cloned().collect()
    } else {
        new.into_iter().collect()
    };
    log_changes(c, &logged, now).await?;
    Ok(id)
}

pub async fn remove_applied<C: GenericClient>(
    c: &C,
    org: i64,
    feed_id: &str,
) -> Result<i64, StoreError> {
    let now = Timestamp::now().as_micros();
    let collection = feed_seq(c, feed_id).await?;
    let id: i64 = row_opt(
        c,
        "SELECT id FROM applied_lists WHERE org = $1 AND collection = $2",
        &[&org, &collection],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound("no applied list for this feed".into()))?
    .col(0)?;
    let gone = rows(
        c,
        "DELETE FROM applied_entries WHERE list = $1 RETURNING kind, value",
        &[&id],
    )
    .await?;
    log_changes(c, &keys_of(&gone)?, now).await?;
    exec(c, "DELETE FROM applied_lists WHERE id = $1", &[&id]).await?;
    Ok(id)
}

async fn entries_of<C: GenericClient>(c: &C, list: i64) -> Result<Vec<Key>, StoreError> {
    let rows = rows(
        c,
        "SELECT kind, value FROM applied_entries WHERE list = $1 ORDER BY kind, value",
        &[&list],
    )
    .await?;
    keys_of(&rows)
}

pub async fn applied_list<C: GenericClient>(
    c: &C,
    org: i64,
    feed_id: &str,
) -> Result<Option<AppliedList>, StoreError> {
    let Some(r) = row_opt(
        c,
        "SELECT l.id, l.tlp, l.uploaded, l.expires FROM applied_lists l
           JOIN collections c ON c.seq = l.collection
          WHERE l.org = $1 AND c.id = $2",
        &[&org, &feed_id],
    )
    .await?
    else {
        return Ok(None);
    };
    let id: i64 = r.col(0)?;
    Ok(Some(AppliedList {
        org,
        feed_id: feed_id.to_owned(),
        tlp: tlp(r.col(1)?)?,
        uploaded: Timestamp::from_micros(r.col(2)?),
        expires: Timestamp::from_micros(r.col(3)?),
        entries: entries_of(c, id).await?,
    }))
}

fn asset_kind(code: &str) -> Result<AssetKind, StoreError> {
    AssetKind::from_code(code)
        .ok_or_else(|| StoreError::Internal(format!("stored asset kind '{code}'").into()))
}

pub async fn add_allowlist<C: GenericClient>(
    c: &C,
    kind: AssetKind,
    value: &str,
    reason: &str,
) -> Result<i64, StoreError> {
    let inserted = row_opt(
        c,
        "INSERT INTO allowlist (kind, value, reason, created) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING RETURNING id",
        &[&kind.code(), &value, &reason, &Timestamp::now().as_micros()],
    )
    .await?;
    match inserted {
        Some(r) => r.col(0),
        None => Err(StoreError::Conflict(format!(
            "{} '{value}' is already on the allowlist",
            kind.code()
        ))),
    }
}

pub async fn remove_allowlist<C: GenericClient>(c: &C, id: i64) -> Result<i64, StoreError> {
    let n = exec(c, "DELETE FROM allowlist WHERE id = $1", &[&id]).await?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no allowlist entry {id}")));
    }
    Ok(id)
}

pub async fn list_allowlist<C: GenericClient>(c: &C) -> Result<Vec<AllowEntry>, StoreError> {
    rows(
        c,
        "SELECT id, kind, value, reason, created FROM allowlist ORDER BY id",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(AllowEntry {
            id: r.col(0)?,
            kind: asset_kind(r.col(1)?)?,
            value: r.col(2)?,
            reason: r.col(3)?,
            created: Timestamp::from_micros(r.col(4)?),
        })
    })
    .collect()
}

pub async fn add_asset<C: GenericClient>(
    c: &C,
    org: &str,
    kind: AssetKind,
    value: &str,
    (valid_from, valid_until): (Option<Timestamp>, Option<Timestamp>),
) -> Result<i64, StoreError> {
    let org_id = org_id(c, org).await?;
    let live: bool = row_one(
        c,
        "SELECT EXISTS (SELECT 1 FROM org_assets
          WHERE org = $1 AND kind = $2 AND value = $3 AND removed IS NULL)",
        &[&org_id, &kind.code(), &value],
    )
    .await?
    .col(0)?;
    if live {
        return Err(StoreError::Conflict(format!(
            "'{value}' is already registered to {org}"
        )));
    }
    row_one(
        c,
        "INSERT INTO org_assets (org, kind, value, added, valid_from, valid_until)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[
            &org_id,
            &kind.code(),
            &value,
            &Timestamp::now().as_micros(),
            &valid_from.map(Timestamp::as_micros),
            &valid_until.map(Timestamp::as_micros),
        ],
    )
    .await?
    .col(0)
}

pub async fn remove_asset<C: GenericClient>(
    c: &C,
    id: i64,
    at: Timestamp,
) -> Result<i64, StoreError> {
    let n = exec(
        c,
        "UPDATE org_assets SET removed = $2 WHERE id = $1 AND removed IS NULL",
        &[&id, &at.as_micros()],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound(format!(
            "no registered network or domain {id}"
        )));
    }
    Ok(id)
}

pub async fn org_assets<C: GenericClient>(
    c: &C,
    org: Option<i64>,
) -> Result<Vec<OrgAsset>, StoreError> {
    rows(
        c,
        "SELECT a.id, a.org, o.name, a.kind, a.value, a.added, a.removed, a.valid_from,
                a.valid_until
           FROM org_assets a JOIN orgs o ON o.id = a.org
          WHERE a.removed IS NULL AND ($1::bigint IS NULL OR a.org = $1)
          ORDER BY o.name, a.kind, a.value",
        &[&org],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(OrgAsset {
            id: r.col(0)?,
            org: r.col(1)?,
            org_name: r.col(2)?,
            kind: asset_kind(r.col(3)?)?,
            value: r.col(4)?,
            added: Timestamp::from_micros(r.col(5)?),
            removed: r.col::<Option<i64>>(6)?.map(Timestamp::from_micros),
            valid_from: r.col::<Option<i64>>(7)?.map(Timestamp::from_micros),
            valid_until: r.col::<Option<i64>>(8)?.map(Timestamp::from_micros),
        })
    })
    .collect()
}
