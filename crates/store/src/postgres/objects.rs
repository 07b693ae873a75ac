//! Object versions in PostgreSQL: the insert path (versioning, `date_added`, reports,
//! corroboration, metrics and export entries), the paged query, deletion, search and the live
//! tail. Each object version is one row; `is_first` / `is_last` are kept current on every
//! change so that the default `match[version]=last` is an indexed filter.
//!
//! A POST is stored with a fixed number of statements whatever its size. SQLite walks the
//! objects one by one with a statement or more each (cheap in process); here every statement
//! is a round trip, so the walk happens in memory instead: the state it reads (the versions of
//! the objects named, the reports of the observables mentioned, the current versions that
//! sightings refer to) is fetched first in a few array queries, the walk decides everything
//! in the same order and by the same rules as SQLite's (an object sees what the objects before
//! it in the same POST did), and the outcome is written as arrays (`unnest`). The caller's
//! transaction holds the write lock, so nothing changes between the reads and the writes.

use std::collections::{BTreeSet, HashMap, HashSet};

use deadpool_postgres::GenericClient;
use futures_util::future::try_join_all;
use relay_core::Tlp;
use relay_core::exchange::{EXPORTED_TYPES, exported_kind};
use relay_core::policy::Visibility;
use relay_core::query::{ObjectPage, ObjectQuery, StoredObject, VersionFilter};
use relay_core::status::{Outcome, Status};
use relay_core::store::{
    AddObjects, CommittedObject, DeleteObject, NewObject, ObservableHit, ObservableQuery,
    Reporters, StoreError,
};
use stix::Timestamp;
use tokio_postgres::Row;

use super::accounts::{exec, row_one, rows};
use super::exports::{self, Key, NewEntry};
use super::metrics::{self, Figures};
use super::sql::{self, Args, Col, big};
use super::{COMMITS_CHANNEL, audit};

/// How long incremental exports can be brought up to date: the change log's retention.
const CHANGE_LOG_RETENTION_MICROS: i64 = 30 * 24 * 3600 * 1_000_000;

/// The collections of the given feed ids; `NotFound` names the first (in the order given)
/// that does not exist.
async fn collections<C: GenericClient>(
    c: &C,
    feed_ids: &[&str],
) -> Result<HashMap<String, i64>, StoreError> {
    let wanted: Vec<&str> = feed_ids.to_vec();
    let found: HashMap<String, i64> = rows(
        c,
        "SELECT id, seq FROM collections WHERE id = ANY($1)",
        &[&wanted],
    )
    .await?
    .iter()
    .map(|r| Ok((r.col(0)?, r.col(1)?)))
    .collect::<Result<_, StoreError>>()?;
    if let Some(missing) = feed_ids.iter().find(|f| !found.contains_key(**f)) {
        return Err(StoreError::NotFound(format!("no collection '{missing}'")));
    }
    Ok(found)
}

/// The versions of one object as the walk knows them.
#[derive(Default)]
struct Versions {
    count: i64,
    min: Option<i64>,
    max: Option<i64>,
    /// The versions of interest that exist: those posted in this request.
    known: HashSet<i64>,
}

/// A version the walk accepted, to be inserted.
struct Pending {
    obj: NewObject,
    coll: i64,
    date_added: i64,
    version: i64,
    is_first: bool,
    is_last: bool,
    /// Whether it became the current version when it came (later rows of the same request may
    /// supersede it: then `is_last` is cleared, this stays).
    last_when_added: bool,
    /// Whether the object had a version before it.
    had_versions: bool,
    /// What its own observables' reporters number, in order, and the largest.
    reported: Vec<i64>,
    corroboration: i64,
    seq: i64,
}

/// One report of an observable, as stored or as the walk will store it.
struct Report {
    org: i64,
    first_at: Option<i64>,
    lead_from: Option<i64>,
    /// Stored before this request (else inserted by it).
    stored: bool,
    /// A stored report the request changed.
    changed: bool,
}

/// An organisation's first counted report of an observable, for the metrics.
struct Counted {
    key: Key,
    at: i64,
    others: Vec<i64>,
}

/// A stored version: (collection, object id, version).
type VersionRef = (i64, String, i64);

fn key_of(o: &stix::observable::Observable) -> Key {
    (o.kind.to_string(), o.value.clone())
}

/// Inserts the objects of one POST and records its status resource, inside the caller's
/// writing transaction (which holds the write lock), then signals the commit to other
/// processes (delivered by PostgreSQL when the transaction commits).
pub async fn add<C: GenericClient>(
    c: &C,
    request: AddObjects,
    origin: &str,
) -> Result<Status, StoreError> {
    let AddObjects {
        owner_user_id,
        poster_org: poster,
        objects,
        status,
        audit: audit_entry,
        read_scope,
    } = request;
    // The export change log's clock, and its retention.
    let wall = Timestamp::now().as_micros();
    exports::prune_changes(c, wall - CHANGE_LOG_RETENTION_MICROS).await?;
    let last = last_added(c).await?;
    // Strictly increasing across all feeds and close to the wall clock: the clock, unless an
    // earlier object already took that microsecond (or the clock went back). The write lock
    // orders every writer, in this process or another, so commits land in `date_added` order
    // and a reader that sees an object also sees every earlier one.
    let mut next_added = Timestamp::now()
        .as_micros()
        .max(last.map_or(i64::MIN, |t| t + 1));
    let first_added = next_added;

    let mut feed_ids: Vec<&str> = Vec::new();
    for o in &objects {
        if !feed_ids.contains(&o.feed_id.as_str()) {
            feed_ids.push(&o.feed_id);
        }
    }
    let colls = collections(c, &feed_ids).await?;

    // The versions already stored of every object named.
    let mut versions: HashMap<(i64, String), Versions> = HashMap::new();
    if !objects.is_empty() {
        let key_colls: Vec<i64> = objects.iter().map(|o| colls[&o.feed_id]).collect();
        let key_ids: Vec<&str> = objects.iter().map(|o| o.id.as_str()).collect();
        let probes: Vec<i64> = objects
            .iter()
            .filter_map(|o| o.version.map(Timestamp::as_micros))
            .collect();
        for r in rows(
            c,
            "SELECT o.collection, o.stix_id, count(*), min(o.version), max(o.version),
                    array_agg(o.version) FILTER (WHERE o.version = ANY($3))
               FROM objects o
               JOIN (SELECT DISTINCT k.collection, k.stix_id
                       FROM unnest($1::bigint[], $2::text[]) AS k(collection, stix_id)) k
                 ON o.collection = k.collection AND o.stix_id = k.stix_id
              GROUP BY o.collection, o.stix_id",
            &[&key_colls, &key_ids, &probes],
        )
        .await?
        {
            let known: Option<Vec<i64>> = r.col(5)?;
            versions.insert(
                (r.col(0)?, r.col(1)?),
                Versions {
                    count: r.col(2)?,
                    min: r.col(3)?,
                    max: r.col(4)?,
                    known: known.unwrap_or_default().into_iter().collect(),
                },
            );
        }
    }

    // The walk over versions: duplicates, `date_added`, first and last.
    let mut outcomes = Vec::with_capacity(objects.len());
    let mut pending: Vec<Pending> = Vec::new();
    let mut pending_at: HashMap<(i64, String, i64), usize> = HashMap::new();
    let mut clear_first: Vec<VersionRef> = Vec::new();
    let mut clear_last: Vec<VersionRef> = Vec::new();
    for mut obj in objects {
        let coll = colls[&obj.feed_id];
        let st = versions.entry((coll, obj.id.clone())).or_default();
        // Objects without `modified`/`created` (most SCOs) are immutable: a second post of
        // the same id is the same object.
        let existing = match obj.version {
            Some(v) if st.known.contains(&v.as_micros()) => Some(v.as_micros()),
            None if st.count > 0 => st.max,
            _ => None,
        };
        if let Some(v) = existing {
            outcomes.push(Outcome::AlreadyPresent {
                id: obj.id,
                version: Timestamp::from_micros(v).to_string(),
            });
            continue;
        }
        let date_added = next_added;
        next_added += 1;
        let version = obj.version.map_or(date_added, Timestamp::as_micros);
        let is_first = st.min.is_none_or(|m| version < m);
        let is_last = st.max.is_none_or(|m| version > m);
        if let (true, Some(m)) = (is_first, st.min) {
            match pending_at.get(&(coll, obj.id.clone(), m)) {
                Some(&i) => pending[i].is_first = false,
                None => clear_first.push((coll, obj.id.clone(), m)),
            }
        }
        if let (true, Some(m)) = (is_last, st.max) {
            match pending_at.get(&(coll, obj.id.clone(), m)) {
                Some(&i) => pending[i].is_last = false,
                None => clear_last.push((coll, obj.id.clone(), m)),
            }
        }
        let had_versions = st.max.is_some();
        st.count += 1;
        st.min = Some(st.min.map_or(version, |m| m.min(version)));
        st.max = Some(st.max.map_or(version, |m| m.max(version)));
        st.known.insert(version);
        outcomes.push(Outcome::Added {
            id: obj.id.clone(),
            version: Timestamp::from_micros(version).to_string(),
            warnings: std::mem::take(&mut obj.warnings),
            note: obj.note.take(),
        });
        pending_at.insert((coll, obj.id.clone(), version), pending.len());
        pending.push(Pending {
            obj,
            coll,
            date_added,
            version,
            is_first,
            is_last,
            last_when_added: is_last,
            had_versions,
            reported: Vec::new(),
            corroboration: 0,
            seq: 0,
        });
    }

    if !pending.is_empty() {
        store_pending(
            c,
            &mut pending,
            (&clear_first, &clear_last),
            (poster, &read_scope),
            wall,
            origin,
        )
        .await?;
    }
    if next_added > first_added {
        exec(
            c,
            "INSERT INTO added_mark (id, last) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET last = greatest(added_mark.last, excluded.last)",
            &[&(next_added - 1)],
        )
        .await?;
    }

    let status = status.complete(outcomes);
    let body = serde_json::to_string(&status).map_err(|e| StoreError::Internal(Box::new(e)))?;
    exec(
        c,
        "INSERT INTO statuses (id, owner, created, body) VALUES ($1, $2, $3, $4)",
        &[
            &status.id,
            &owner_user_id,
            &Timestamp::now().as_micros(),
            &body,
        ],
    )
    .await?;
    audit::append(c, &audit_entry).await?;
    Ok(status)
}

/// The observables of the objects that sightings in the request report by reference: for
/// each referenced id, its current version in each feed of `scope` when visible there, as
/// stored before this request. Keyed by (feed id, object id).
async fn referenced_before<C: GenericClient>(
    c: &C,
    ids: Vec<String>,
    scope: &[(String, Visibility)],
) -> Result<HashMap<(String, String), Vec<Key>>, StoreError> {
    let mut out: HashMap<(String, String), Vec<Key>> = HashMap::new();
    if ids.is_empty() || scope.is_empty() {
        return Ok(out);
    }
    let mut args = Args::default();
    let ids = args.add(ids);
    let mut alternatives = Vec::with_capacity(scope.len());
    for (feed, v) in scope {
        let f = args.add(feed.clone());
        let vis = sql::visibility(&mut args, "o", v);
        alternatives.push(format!("(c.id = {f}{vis})"));
    }
    let sql = format!(
        "SELECT c.id, o.stix_id, ob.kind, ob.value
           FROM objects o
           JOIN collections c ON c.seq = o.collection
           JOIN observables ob ON ob.object_seq = o.seq
          WHERE o.stix_id = ANY({ids}) AND o.is_last = 1 AND ({})",
        alternatives.join(" OR ")
    );
    for r in rows(c, &sql, &args.refs()).await? {
        let pair: Key = (r.col(2)?, r.col(3)?);
        let list = out.entry((r.col(0)?, r.col(1)?)).or_default();
        if !list.contains(&pair) {
            list.push(pair);
        }
    }
    Ok(out)
}

/// Everything a request's accepted versions change, decided in memory and written as arrays.
async fn store_pending<C: GenericClient>(
    c: &C,
    pending: &mut [Pending],
    (clear_first, clear_last): (&[VersionRef], &[VersionRef]),
    (poster, scope): (i64, &[(String, Visibility)]),
    wall: i64,
    origin: &str,
) -> Result<(), StoreError> {
    // What sightings report by reference: the current version of the object named, in each
    // feed the poster reads and visible there. A version earlier in this request counts as
    // SQLite's one-by-one walk would see it.
    let ref_ids: Vec<String> = pending
        .iter()
        .filter_map(|p| p.obj.metrics.as_ref())
        .flat_map(|m| m.reported_refs.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let stored_refs = referenced_before(c, ref_ids, scope).await?;
    let mut became_current: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, p) in pending.iter().enumerate() {
        if p.last_when_added {
            became_current
                .entry((p.obj.feed_id.as_str(), p.obj.id.as_str()))
                .or_default()
                .push(i);
        }
    }
    let by_reference: Vec<Vec<Key>> = pending
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let mut all = Vec::new();
            for id in p.obj.metrics.iter().flat_map(|m| &m.reported_refs) {
                let mut out: Vec<Key> = Vec::new();
                for (feed, v) in scope {
                    let earlier = became_current
                        .get(&(feed.as_str(), id.as_str()))
                        .and_then(|rows| rows.iter().rev().find(|j| **j < k));
                    let pairs: Vec<Key> = match earlier {
                        Some(&j) => {
                            let o = &pending[j].obj;
                            if v.permits(o.tlp, poster, &o.recipients) {
                                o.observables.iter().map(key_of).collect()
                            } else {
                                Vec::new()
                            }
                        }
                        None => stored_refs
                            .get(&(feed.clone(), id.clone()))
                            .cloned()
                            .unwrap_or_default(),
                    };
                    for pair in pairs {
                        if !out.contains(&pair) {
                            out.push(pair);
                        }
                    }
                }
                all.extend(out);
            }
            all
        })
        .collect();

    // The reports of every observable the request mentions or reports.
    let mut keys: BTreeSet<Key> = BTreeSet::new();
    for (p, refs) in pending.iter().zip(&by_reference) {
        keys.extend(p.obj.observables.iter().map(key_of));
        keys.extend(refs.iter().cloned());
    }
    let mut reports: HashMap<Key, Vec<Report>> = HashMap::new();
    if !keys.is_empty() {
        let kinds: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        let values: Vec<&str> = keys.iter().map(|(_, v)| v.as_str()).collect();
        for r in rows(
            c,
            "SELECT r.kind, r.value, r.org, r.first_at, r.lead_from
               FROM reports r
               JOIN unnest($1::text[], $2::text[]) AS k(kind, value)
                 ON r.kind = k.kind AND r.value = k.value",
            &[&kinds, &values],
        )
        .await?
        {
            reports
                .entry((r.col(0)?, r.col(1)?))
                .or_default()
                .push(Report {
                    org: r.col(2)?,
                    first_at: r.col(3)?,
                    lead_from: r.col(4)?,
                    stored: true,
                    changed: false,
                });
        }
    }

    // The walk over reports, in request order, as SQLite's: a first report by the poster
    // raises the corroboration of everything mentioning the observable; one where metrics
    // look is counted.
    let mut counted: Vec<Counted> = Vec::new();
    let mut figures = Figures::default();
    let mut firsts_seen: HashSet<Key> = HashSet::new();
    let mut bumps: HashMap<Key, i64> = HashMap::new();
    for (p, refs) in pending.iter_mut().zip(by_reference) {
        let metrics_at = p.obj.metrics.as_ref().map(|_| p.date_added);
        let direct = p.obj.observables.len();
        let mut corroboration = 0;
        let mut reported = Vec::with_capacity(direct);
        let mentioned = p.obj.observables.iter().map(key_of);
        for (i, key) in mentioned.chain(refs).enumerate() {
            let entry = reports.entry(key.clone()).or_default();
            let first_by_poster = !entry.iter().any(|r| r.org == poster);
            if first_by_poster {
                entry.push(Report {
                    org: poster,
                    first_at: metrics_at,
                    lead_from: None,
                    stored: false,
                    changed: false,
                });
            }
            if let Some(m) = &p.obj.metrics {
                // A report first made where metrics do not look, now made where they do.
                let counted_now = first_by_poster
                    || entry
                        .iter_mut()
                        .find(|r| r.org == poster && r.first_at.is_none())
                        .map(|r| {
                            r.first_at = Some(p.date_added);
                            r.changed = true;
                        })
                        .is_some();
                if counted_now {
                    let others = entry
                        .iter()
                        .filter(|r| r.org != poster && r.first_at.is_some())
                        .map(|r| r.org)
                        .collect();
                    counted.push(Counted {
                        key: key.clone(),
                        at: p.date_added,
                        others,
                    });
                }
                if let Some(category) = m.category
                    && firsts_seen.insert(key.clone())
                {
                    figures.firsts.push((
                        key.0.clone(),
                        key.1.clone(),
                        p.date_added,
                        poster,
                        p.coll,
                        category,
                    ));
                }
            }
            let n = big(entry.len());
            if first_by_poster && n > 1 {
                bumps.insert(key, n);
            }
            if i >= direct {
                // Reported by reference: a report, not the object's own observable.
                continue;
            }
            corroboration = corroboration.max(n);
            reported.push(n);
        }
        p.corroboration = corroboration;
        p.reported = reported;
    }

    // Lead times: the earliest report by another organisation the poster could read. Only
    // objects stored before this request can be such (the request is all the poster's).
    let contested: Vec<Key> = counted
        .iter()
        .filter(|e| !e.others.is_empty())
        .map(|e| e.key.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let earliest =
        metrics::earliest_readable(c, scope, &contested, poster, pending[0].date_added).await?;
    for e in &counted {
        let lead_from = if e.others.is_empty() {
            None
        } else {
            earliest.get(&e.key).copied()
        };
        figures.counted((&e.key.0, poster, e.at), &e.others, lead_from);
        if let Some(from) = lead_from
            && let Some(r) = reports
                .get_mut(&e.key)
                .and_then(|list| list.iter_mut().find(|r| r.org == poster))
        {
            r.lead_from = Some(from);
            r.changed = true;
        }
    }

    write_versions(c, pending, clear_first, clear_last, poster).await?;
    write_reports(c, &reports).await?;
    write_corroboration(c, &bumps).await?;
    write_exports(c, pending, &bumps, poster, wall).await?;
    figures.write(c).await?;
    // Delivered to listeners when (and only if) the transaction commits.
    exec(c, "SELECT pg_notify($1, $2)", &[&COMMITS_CHANNEL, &origin]).await?;
    Ok(())
}

/// The flags of versions stored before, then the new versions with what refers to them.
async fn write_versions<C: GenericClient>(
    c: &C,
    pending: &mut [Pending],
    clear_first: &[VersionRef],
    clear_last: &[VersionRef],
    poster: i64,
) -> Result<(), StoreError> {
    for (column, rows) in [("is_first", clear_first), ("is_last", clear_last)] {
        if rows.is_empty() {
            continue;
        }
        let colls: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let ids: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        let versions: Vec<i64> = rows.iter().map(|r| r.2).collect();
        exec(
            c,
            &format!(
                "UPDATE objects o SET {column} = 0
                   FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS k(collection, stix_id, version)
                  WHERE o.collection = k.collection AND o.stix_id = k.stix_id
                    AND o.version = k.version"
            ),
            &[&colls, &ids, &versions],
        )
        .await?;
    }

    let n = pending.len();
    let mut coll = Vec::with_capacity(n);
    let mut stix_id = Vec::with_capacity(n);
    let mut stix_type = Vec::with_capacity(n);
    let mut version = Vec::with_capacity(n);
    let mut spec_version = Vec::with_capacity(n);
    let mut date_added = Vec::with_capacity(n);
    let mut is_first = Vec::with_capacity(n);
    let mut is_last = Vec::with_capacity(n);
    let mut body = Vec::with_capacity(n);
    let mut tlp = Vec::with_capacity(n);
    let mut original_body = Vec::with_capacity(n);
    let mut confidence = Vec::with_capacity(n);
    let mut corroboration = Vec::with_capacity(n);
    let mut revoked = Vec::with_capacity(n);
    let mut valid_until = Vec::with_capacity(n);
    let mut source_peer = Vec::with_capacity(n);
    for p in pending.iter_mut() {
        coll.push(p.coll);
        stix_id.push(p.obj.id.clone());
        stix_type.push(p.obj.object_type.clone());
        version.push(p.version);
        spec_version.push(p.obj.spec_version.clone());
        date_added.push(p.date_added);
        is_first.push(i64::from(p.is_first));
        is_last.push(i64::from(p.is_last));
        // The bodies are not needed after this: moved, not copied.
        body.push(std::mem::take(&mut p.obj.body));
        tlp.push(p.obj.tlp.code());
        original_body.push(p.obj.original_body.take());
        confidence.push(p.obj.confidence.map(i64::from));
        corroboration.push(p.corroboration);
        revoked.push(i64::from(p.obj.revoked));
        valid_until.push(p.obj.valid_until.map(Timestamp::as_micros));
        source_peer.push(p.obj.source_peer);
    }
    let inserted = rows(
        c,
        "INSERT INTO objects
           (collection, stix_id, stix_type, version, spec_version, date_added, is_first, is_last,
            body, tlp, poster_org, original_body, confidence, corroboration, revoked,
            valid_until, source_peer)
         SELECT k.collection, k.stix_id, k.stix_type, k.version, k.spec_version, k.date_added,
                k.is_first, k.is_last, k.body, k.tlp, $17, k.original_body, k.confidence,
                k.corroboration, k.revoked, k.valid_until, k.source_peer
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[],
                       $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::bigint[],
                       $11::text[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[],
                       $16::bigint[])
                AS k(collection, stix_id, stix_type, version, spec_version, date_added,
                     is_first, is_last, body, tlp, original_body, confidence, corroboration,
                     revoked, valid_until, source_peer)
          ORDER BY k.date_added
         RETURNING date_added, seq",
        &[
            &coll,
            &stix_id,
            &stix_type,
            &version,
            &spec_version,
            &date_added,
            &is_first,
            &is_last,
            &body,
            &tlp,
            &original_body,
            &confidence,
            &corroboration,
            &revoked,
            &valid_until,
            &source_peer,
            &poster,
        ],
    )
    .await?;
    // `date_added` is unique: it says which row got which seq.
    let by_added: HashMap<i64, i64> = inserted
        .iter()
        .map(|r| Ok((r.col(0)?, r.col(1)?)))
        .collect::<Result<_, StoreError>>()?;
    for p in pending.iter_mut() {
        p.seq = *by_added
            .get(&p.date_added)
            .ok_or_else(|| StoreError::Internal("an inserted version has no seq".into()))?;
    }

    let mut recipients: BTreeSet<(i64, i64)> = BTreeSet::new();
    let (mut ob_seq, mut ob_kind, mut ob_value) = (Vec::new(), Vec::new(), Vec::new());
    let (mut range_seq, mut range_kind, mut range_value) = (Vec::new(), Vec::new(), Vec::new());
    let (mut range_lo, mut range_hi) = (Vec::new(), Vec::new());
    let mut refs: BTreeSet<(&str, i64)> = BTreeSet::new();
    for p in pending.iter() {
        recipients.extend(p.obj.recipients.iter().map(|org| (p.seq, *org)));
        for o in &p.obj.observables {
            let kind = o.kind.to_string();
            if let Some((lo, hi)) = address_range(&o.kind, &o.value) {
                range_seq.push(p.seq);
                range_kind.push(kind.clone());
                range_value.push(o.value.as_str());
                range_lo.push(lo);
                range_hi.push(hi);
            }
            ob_seq.push(p.seq);
            ob_kind.push(kind);
            ob_value.push(o.value.as_str());
        }
        refs.extend(p.obj.refs.iter().map(|r| (r.as_str(), p.seq)));
    }
    if !recipients.is_empty() {
        let (seqs, orgs): (Vec<i64>, Vec<i64>) = recipients.into_iter().unzip();
        exec(
            c,
            "INSERT INTO object_recipients (object_seq, org)
             SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING",
            &[&seqs, &orgs],
        )
        .await?;
    }
    if !ob_seq.is_empty() {
        exec(
            c,
            "INSERT INTO observables (object_seq, kind, value)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[])",
            &[&ob_seq, &ob_kind, &ob_value],
        )
        .await?;
    }
    if !range_seq.is_empty() {
        exec(
            c,
            "INSERT INTO observable_ranges (object_seq, kind, value, lo, hi)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::bytea[])",
            &[&range_seq, &range_kind, &range_value, &range_lo, &range_hi],
        )
        .await?;
    }
    if !refs.is_empty() {
        let (ids, seqs): (Vec<&str>, Vec<i64>) = refs.into_iter().unzip();
        exec(
            c,
            "INSERT INTO object_refs (ref_id, object_seq)
             SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING",
            &[&ids, &seqs],
        )
        .await?;
    }
    Ok(())
}

/// The reports the walk added or changed.
async fn write_reports<C: GenericClient>(
    c: &C,
    reports: &HashMap<Key, Vec<Report>>,
) -> Result<(), StoreError> {
    type Columns<'a> = (
        Vec<&'a str>,
        Vec<&'a str>,
        Vec<i64>,
        Vec<Option<i64>>,
        Vec<Option<i64>>,
    );
    let (mut new, mut changed): (Columns<'_>, Columns<'_>) = Default::default();
    for ((kind, value), list) in reports {
        for r in list {
            let into = if !r.stored {
                &mut new
            } else if r.changed {
                &mut changed
            } else {
                continue;
            };
            into.0.push(kind);
            into.1.push(value);
            into.2.push(r.org);
            into.3.push(r.first_at);
            into.4.push(r.lead_from);
        }
    }
    if !new.0.is_empty() {
        exec(
            c,
            "INSERT INTO reports (kind, value, org, first_at, lead_from)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
             ON CONFLICT DO NOTHING",
            &[&new.0, &new.1, &new.2, &new.3, &new.4],
        )
        .await?;
    }
    if !changed.0.is_empty() {
        exec(
            c,
            "UPDATE reports r SET first_at = k.first_at, lead_from = k.lead_from
               FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
                    AS k(kind, value, org, first_at, lead_from)
              WHERE r.kind = k.kind AND r.value = k.value AND r.org = k.org",
            &[&changed.0, &changed.1, &changed.2, &changed.3, &changed.4],
        )
        .await?;
    }
    Ok(())
}

/// Raises the corroboration of every object version mentioning an observable that gained a
/// reporter (to the new count; never lowers it).
async fn write_corroboration<C: GenericClient>(
    c: &C,
    bumps: &HashMap<Key, i64>,
) -> Result<(), StoreError> {
    if bumps.is_empty() {
        return Ok(());
    }
    let kinds: Vec<&str> = bumps.keys().map(|(k, _)| k.as_str()).collect();
    let values: Vec<&str> = bumps.keys().map(|(_, v)| v.as_str()).collect();
    let ns: Vec<i64> = bumps.values().copied().collect();
    exec(
        c,
        "UPDATE objects o SET corroboration = x.n
           FROM (SELECT ob.object_seq, max(k.n) AS n
                   FROM unnest($1::text[], $2::text[], $3::bigint[]) AS k(kind, value, n)
                   JOIN observables ob ON ob.kind = k.kind AND ob.value = k.value
                  GROUP BY ob.object_seq) x
          WHERE o.seq = x.object_seq AND o.corroboration < x.n",
        &[&kinds, &values, &ns],
    )
    .await?;
    Ok(())
}

/// The export entries of the objects whose current version changed, and the change log: what
/// SQLite's walk logs (every entry added, removed or re-corroborated), each observable once.
async fn write_exports<C: GenericClient>(
    c: &C,
    pending: &[Pending],
    bumps: &HashMap<Key, i64>,
    poster: i64,
    wall: i64,
) -> Result<(), StoreError> {
    let mut logged: Vec<Key> = Vec::new();
    let counts: Vec<(Key, i64)> = bumps.iter().map(|(k, n)| (k.clone(), *n)).collect();
    logged.extend(exports::corroborated(c, &counts).await?);

    let exported = |p: &Pending| -> Vec<(Key, i64)> {
        p.obj
            .observables
            .iter()
            .zip(&p.reported)
            .map(|(o, n)| (key_of(o), *n))
            .filter(|((kind, _), _)| exported_kind(kind))
            .collect()
    };
    // Which request version's entries each object ends with: a version that became current
    // replaces the former current version's entries (stored or from earlier in the request).
    let mut forget: Vec<(i64, String)> = Vec::new();
    let mut current: HashMap<(i64, &str), usize> = HashMap::new();
    for (k, p) in pending.iter().enumerate() {
        if !p.last_when_added || !EXPORTED_TYPES.contains(&p.obj.object_type.as_str()) {
            continue;
        }
        let object = (p.coll, p.obj.id.as_str());
        if p.had_versions {
            if !forget.iter().any(|(c, id)| (*c, id.as_str()) == object) {
                forget.push((p.coll, p.obj.id.clone()));
            }
            if let Some(j) = current.remove(&object) {
                // Added, then withdrawn, within the request: logged all the same.
                logged.extend(exported(&pending[j]).into_iter().map(|(key, _)| key));
            }
        }
        current.insert(object, k);
    }
    logged.extend(exports::forget_objects(c, &forget).await?);

    let mut entries = Vec::new();
    let mut seen: HashSet<(Key, i64)> = HashSet::new();
    let mut finals: Vec<usize> = current.into_values().collect();
    finals.sort_unstable();
    for k in finals {
        let p = &pending[k];
        for (key, n) in exported(p) {
            if !seen.insert((key.clone(), p.seq)) {
                continue;
            }
            entries.push(NewEntry {
                kind: key.0,
                value: key.1,
                seq: p.seq,
                collection: p.coll,
                stix_type: p.obj.object_type.clone(),
                tlp: p.obj.tlp.code(),
                poster_org: poster,
                confidence: p.obj.confidence.map(i64::from),
                corroboration: n,
                date_added: p.date_added,
                valid_until: p.obj.valid_until.map(Timestamp::as_micros),
                revoked: p.obj.revoked,
            });
        }
    }
    logged.extend(exports::insert_entries(c, entries).await?);
    exports::log_changes(c, &logged, wall).await
}

/// An address or network observable as a byte range.
fn address_range(kind: &stix::observable::Kind, value: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    use stix::observable::Kind;
    if !matches!(kind, Kind::Ipv4 | Kind::Ipv6) {
        return None;
    }
    stix::observable::ip_range(value).map(|(_, lo, hi)| (lo, hi))
}

/// ` AND (is_first = 1 OR is_last = 1 OR version = ANY($n))`, as the filter asks.
fn version_filter(args: &mut Args, versions: &VersionFilter) -> String {
    let VersionFilter::Select { first, last, at } = versions else {
        return String::new();
    };
    let mut alternatives = Vec::new();
    if *first {
        alternatives.push("is_first = 1".to_owned());
    }
    if *last {
        alternatives.push("is_last = 1".to_owned());
    }
    if !at.is_empty() {
        let list: Vec<i64> = at.iter().map(|t| t.as_micros()).collect();
        alternatives.push(format!("version = ANY({})", args.add(list)));
    }
    format!(" AND ({})", alternatives.join(" OR "))
}

/// A row of (stix_id, date_added, version, spec_version, body, corroboration, source_peer,
/// tlp) in `feed_id`.
fn stored_row(feed_id: &str, r: &Row) -> Result<StoredObject, StoreError> {
    Ok(StoredObject {
        feed_id: feed_id.to_owned(),
        id: r.col(0)?,
        date_added: Timestamp::from_micros(r.col(1)?),
        version: Timestamp::from_micros(r.col(2)?),
        spec_version: r.col(3)?,
        body: r.col(4)?,
        corroboration: u32::try_from(r.col::<i64>(5)?).unwrap_or(u32::MAX),
        source_peer: r.col(6)?,
        tlp: Tlp::from_code(r.col(7)?).unwrap_or(Tlp::Red),
    })
}

/// Answers an object query, in `date_added` order, reading one row more than asked to know
/// whether there is more. Every walk is a statement over an index already in `date_added`
/// order ((collection, date_added), or (collection, type, date_added) per type); several walks
/// (feeds, types) are sent together, pipelined on one connection, and merged.
pub async fn query<C: GenericClient>(
    c: &C,
    feeds: &[(String, Visibility)],
    q: &ObjectQuery,
) -> Result<ObjectPage, StoreError> {
    let fetch = q.limit.saturating_add(1);
    let feed_ids: Vec<&str> = feeds.iter().map(|(f, _)| f.as_str()).collect();
    let mut walks = Vec::new();
    for (feed_id, v) in feeds {
        if crate::walks::per_type(q) {
            for t in &q.types {
                walks.push(run_query(c, feed_id, q, v, Some(t), fetch));
            }
        } else {
            walks.push(run_query(
                c,
                feed_id,
                q,
                v,
                q.types.first().map(String::as_str),
                fetch,
            ));
        }
    }
    let count = walks.len();
    let (_, pages) =
        futures_util::future::try_join(collections(c, &feed_ids), try_join_all(walks)).await?;
    let rows: Vec<StoredObject> = pages.into_iter().flatten().collect();
    Ok(crate::walks::page(rows, count, q))
}

async fn run_query<C: GenericClient>(
    c: &C,
    feed_id: &str,
    q: &ObjectQuery,
    v: &Visibility,
    one_type: Option<&str>,
    fetch: usize,
) -> Result<Vec<StoredObject>, StoreError> {
    let mut args = Args::default();
    let body = if q.with_body {
        sql::body_column(&mut args, "objects", v)
    } else {
        "NULL::text".to_owned()
    };
    let feed = args.add(feed_id.to_owned());
    let coll = format!("(SELECT seq FROM collections WHERE id = {feed})");
    let after = args.add(q.added_after.map_or(i64::MIN, Timestamp::as_micros));
    let mut sql = format!(
        "SELECT stix_id, date_added, version, spec_version, {body}, corroboration, source_peer,
                tlp
           FROM objects WHERE "
    );
    // The walk is pinned to its index (SQLite says INDEXED BY): a range over the index's own
    // columns, in its order, is something only that index can serve without sorting, so a
    // small feed is never found by walking every feed's objects along `date_added`.
    let order = if !q.ids.is_empty() {
        // The few versions of the ids named, by (collection, stix_id, version).
        sql.push_str(&format!(
            "collection = {coll} AND date_added > {after} AND stix_id = ANY({})",
            args.add(q.ids.clone())
        ));
        if let Some(before) = q.added_before {
            sql.push_str(&format!(
                " AND date_added < {}",
                args.add(before.as_micros())
            ));
        }
        if !q.types.is_empty() {
            sql.push_str(&format!(
                " AND stix_type = ANY({})",
                args.add(q.types.clone())
            ));
        }
        "date_added"
    } else {
        let before = args.add(q.added_before.map_or(i64::MAX, Timestamp::as_micros));
        match one_type {
            Some(t) => {
                let t = args.add(t.to_owned());
                sql.push_str(&format!(
                    "(collection, stix_type, date_added) > ({coll}, {t}, {after})
                     AND (collection, stix_type, date_added) < ({coll}, {t}, {before})"
                ));
                "collection, stix_type, date_added"
            }
            None => {
                sql.push_str(&format!(
                    "(collection, date_added) > ({coll}, {after})
                     AND (collection, date_added) < ({coll}, {before})"
                ));
                "collection, date_added"
            }
        }
    };
    sql.push_str(&sql::visibility(&mut args, "objects", v));
    if !q.spec_versions.is_empty() {
        sql.push_str(&format!(
            " AND spec_version = ANY({})",
            args.add(q.spec_versions.clone())
        ));
    }
    sql.push_str(&version_filter(&mut args, &q.versions));
    if let Some(n) = q.min_confidence {
        sql.push_str(&format!(" AND confidence >= {}", args.add(i64::from(n))));
    }
    if let Some(n) = q.min_corroboration {
        sql.push_str(&format!(" AND corroboration >= {}", args.add(i64::from(n))));
    }
    if !q.exclude_sources.is_empty() {
        sql.push_str(&format!(
            " AND (source_peer IS NULL OR NOT source_peer = ANY({}))",
            args.add(q.exclude_sources.clone())
        ));
    }
    if !q.exclude_posters.is_empty() {
        sql.push_str(&format!(
            " AND NOT poster_org = ANY({})",
            args.add(q.exclude_posters.clone())
        ));
    }
    if let Some(t) = q.pulled_up_to {
        sql.push_str(&format!(
            " AND (source_peer IS NULL OR tlp <= {})",
            args.add(t.code())
        ));
    }
    let limit = args.add(big(fetch));
    let order = if q.newest_first {
        order.replace(',', " DESC,") + " DESC"
    } else {
        order.to_owned()
    };
    sql.push_str(&format!(" ORDER BY {order} LIMIT {limit}"));
    rows(c, &sql, &args.refs())
        .await?
        .iter()
        .map(|r| stored_row(feed_id, r))
        .collect()
}

/// Deletes the matching versions of one object (only its poster's, when asked) and re-marks
/// its first and last versions, inside the caller's writing transaction.
pub async fn delete<C: GenericClient>(c: &C, d: &DeleteObject) -> Result<usize, StoreError> {
    let coll = collections(c, &[d.feed_id.as_str()]).await?[&d.feed_id];
    let mut args = Args::default();
    let mut sql = format!(
        "DELETE FROM objects WHERE collection = {} AND stix_id = {}",
        args.add(coll),
        args.add(d.object_id.clone())
    );
    if !d.spec_versions.is_empty() {
        sql.push_str(&format!(
            " AND spec_version = ANY({})",
            args.add(d.spec_versions.clone())
        ));
    }
    sql.push_str(&version_filter(&mut args, &d.versions));
    if let Some(org) = d.poster_org {
        sql.push_str(&format!(" AND poster_org = {}", args.add(org)));
    }
    let wall = Timestamp::now().as_micros();
    exports::forget_object(c, coll, &d.object_id, wall).await?;
    let deleted = exec(c, &sql, &args.refs()).await?;
    if deleted > 0 {
        exec(
            c,
            "UPDATE objects SET
                is_first = CASE WHEN version = (SELECT min(version) FROM objects
                                                 WHERE collection = $1 AND stix_id = $2)
                           THEN 1 ELSE 0 END,
                is_last  = CASE WHEN version = (SELECT max(version) FROM objects
                                                 WHERE collection = $1 AND stix_id = $2)
                           THEN 1 ELSE 0 END
              WHERE collection = $1 AND stix_id = $2",
            &[&coll, &d.object_id],
        )
        .await?;
    }
    exports::refresh_object(c, coll, &d.object_id, wall).await?;
    Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
}

/// Current versions, in the given feeds and visible there, of the objects that name `id` in a
/// reference property; newest first, up to `limit`.
pub async fn referencing<C: GenericClient>(
    c: &C,
    feeds: &[(String, Visibility)],
    id: &str,
    limit: usize,
) -> Result<Vec<StoredObject>, StoreError> {
    let feed_ids: Vec<&str> = feeds.iter().map(|(f, _)| f.as_str()).collect();
    let walks = feeds.iter().map(|(feed_id, v)| async move {
        let mut args = Args::default();
        let body = sql::body_column(&mut args, "o", v);
        let sql = format!(
            "SELECT o.stix_id, o.date_added, o.version, o.spec_version, {body}, o.corroboration,
                    o.source_peer, o.tlp
               FROM object_refs r JOIN objects o ON o.seq = r.object_seq
              WHERE r.ref_id = {} AND o.collection = (SELECT seq FROM collections WHERE id = {})
                AND o.is_last = 1{} ORDER BY o.date_added DESC LIMIT {}",
            args.add(id.to_owned()),
            args.add(feed_id.clone()),
            sql::visibility(&mut args, "o", v),
            args.add(big(limit)),
        );
        rows(c, &sql, &args.refs())
            .await?
            .iter()
            .map(|r| stored_row(feed_id, r))
            .collect::<Result<Vec<_>, _>>()
    });
    let (_, found) =
        futures_util::future::try_join(collections(c, &feed_ids), try_join_all(walks)).await?;
    let mut out: Vec<StoredObject> = found.into_iter().flatten().collect();
    out.sort_by_key(|o| std::cmp::Reverse(o.date_added));
    out.truncate(limit);
    Ok(out)
}

/// Current versions that mention any of the observables, in the given feeds, newest first.
pub async fn search<C: GenericClient>(
    c: &C,
    q: &ObservableQuery,
) -> Result<Vec<ObservableHit>, StoreError> {
    if q.feeds.is_empty() {
        return Ok(Vec::new());
    }
    let mut hits = Vec::new();
    if !q.kinds.is_empty() && !q.values.is_empty() {
        let mut args = Args::default();
        let condition = format!(
            "ob.kind = ANY({}) AND ob.value = ANY({})",
            args.add(q.kinds.clone()),
            args.add(q.values.clone())
        );
        hits.extend(search_rows(c, q, "observables", &condition, args).await?);
    }
    if let Some((kind, lo, hi)) = &q.within {
        // Inside the network: starts in it (index range on lo) and ends in it.
        let mut args = Args::default();
        let condition = format!(
            "ob.kind = {} AND ob.lo >= {} AND ob.lo <= {hi} AND ob.hi <= {hi}",
            args.add(kind.clone()),
            args.add(lo.clone()),
            hi = args.add(hi.clone()),
        );
        let mut seen: HashSet<(String, String, String)> = hits
            .iter()
            .map(|h| (h.feed_id.clone(), h.object_id.clone(), h.value.clone()))
            .collect();
        for h in search_rows(c, q, "observable_ranges", &condition, args).await? {
            if seen.insert((h.feed_id.clone(), h.object_id.clone(), h.value.clone())) {
                hits.push(h);
            }
        }
        hits.sort_by_key(|h| std::cmp::Reverse(h.date_added));
        hits.truncate(q.limit);
    }
    Ok(hits)
}

/// Runs a search over `source` (aliased `ob`) with its condition, the feeds' visibility,
/// newest first, up to the limit.
async fn search_rows<C: GenericClient>(
    c: &C,
    q: &ObservableQuery,
    source: &str,
    condition: &str,
    mut args: Args,
) -> Result<Vec<ObservableHit>, StoreError> {
    let mut alternatives = Vec::with_capacity(q.feeds.len());
    for (feed_id, v) in &q.feeds {
        let f = args.add(feed_id.clone());
        let vis = sql::visibility(&mut args, "o", v);
        alternatives.push(format!("(c.id = {f}{vis})"));
    }
    let sql = format!(
        "SELECT c.id, o.stix_id, o.stix_type, o.version, o.date_added, ob.kind, ob.value,
                o.corroboration
           FROM {source} ob
           JOIN objects o ON o.seq = ob.object_seq
           JOIN collections c ON c.seq = o.collection
          WHERE o.is_last = 1 AND {condition} AND ({})
          ORDER BY o.date_added DESC LIMIT {}",
        alternatives.join(" OR "),
        args.add(big(q.limit)),
    );
    rows(c, &sql, &args.refs())
        .await?
        .iter()
        .map(|r| {
            Ok(ObservableHit {
                feed_id: r.col(0)?,
                object_id: r.col(1)?,
                object_type: r.col(2)?,
                version: Timestamp::from_micros(r.col(3)?),
                date_added: Timestamp::from_micros(r.col(4)?),
                kind: r.col(5)?,
                value: r.col(6)?,
                corroboration: u32::try_from(r.col::<i64>(7)?).unwrap_or(u32::MAX),
            })
        })
        .collect()
}

/// The newest `date_added` of any object.
/// The newest `date_added` ever given (the object that had it may be deleted since).
pub async fn last_added<C: GenericClient>(c: &C) -> Result<Option<i64>, StoreError> {
    row_one(c, "SELECT max(last) FROM added_mark", &[])
        .await?
        .col(0)
}

/// Object versions committed after `after`, in every feed, oldest first.
pub async fn committed_since<C: GenericClient>(
    c: &C,
    after: Timestamp,
    limit: usize,
) -> Result<Vec<CommittedObject>, StoreError> {
    rows(
        c,
        "SELECT c.id, o.stix_id, o.stix_type, o.date_added, o.version, o.spec_version, o.tlp,
                o.poster_org,
                ARRAY(SELECT r.org FROM object_recipients r WHERE r.object_seq = o.seq
                       ORDER BY r.org),
                o.confidence, o.corroboration, o.body, o.original_body
           FROM objects o
           JOIN collections c ON c.seq = o.collection
          WHERE o.date_added > $1
          ORDER BY o.date_added
          LIMIT $2",
        &[&after.as_micros(), &big(limit)],
    )
    .await?
    .iter()
    .map(|r| {
        let id: String = r.col(1)?;
        let tlp: i64 = r.col(6)?;
        Ok(CommittedObject {
            feed_id: r.col(0)?,
            object_type: r.col(2)?,
            date_added: Timestamp::from_micros(r.col(3)?),
            version: Timestamp::from_micros(r.col(4)?),
            spec_version: r.col(5)?,
            tlp: Tlp::from_code(tlp).ok_or_else(|| {
                StoreError::Internal(format!("object {id} has TLP code {tlp}").into())
            })?,
            poster_org: r.col(7)?,
            recipients: r.col(8)?,
            confidence: r.col::<Option<i64>>(9)?.and_then(|n| u8::try_from(n).ok()),
            corroboration: u32::try_from(r.col::<i64>(10)?).unwrap_or(u32::MAX),
            body: r.col(11)?,
            original_body: r.col(12)?,
            id,
        })
    })
    .collect()
}

/// Which organisations reported each of the observables.
pub async fn reporters<C: GenericClient>(
    c: &C,
    kinds: &[String],
    values: &[String],
) -> Result<Vec<Reporters>, StoreError> {
    if kinds.is_empty() || values.is_empty() {
        return Ok(Vec::new());
    }
    let rows = rows(
        c,
        "SELECT r.kind, r.value, o.name FROM reports r JOIN orgs o ON o.id = r.org
          WHERE r.kind = ANY($1) AND r.value = ANY($2)
          ORDER BY r.kind, r.value, o.name",
        &[&kinds, &values],
    )
    .await?;
    let mut out: Vec<Reporters> = Vec::new();
    for r in &rows {
        let (kind, value, org): (String, String, String) = (r.col(0)?, r.col(1)?, r.col(2)?);
        match out.last_mut() {
            Some(last) if last.kind == kind && last.value == value => last.orgs.push(org),
            _ => out.push(Reporters {
                kind,
                value,
                orgs: vec![org],
            }),
        }
    }
    Ok(out)
}
