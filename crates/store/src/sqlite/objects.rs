//! Object versions in SQLite: the insert path (versioning, `date_added`), the paged query, and
//! deletion. Each object version is one row; `is_first` / `is_last` are kept current on every
//! change so that the default `match[version]=last` is an indexed filter, not a group-by.

use relay_core::Tlp;
use relay_core::exchange::{EXPORTED_TYPES, exported_kind};
use relay_core::policy::Visibility;
use relay_core::query::{ObjectPage, ObjectQuery, StoredObject, VersionFilter};
use relay_core::status::{Outcome, Status};
use relay_core::store::{
    AddObjects, CommittedObject, DeleteObject, ObservableHit, ObservableQuery, Reporters,
    StoreError,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use std::collections::HashMap;
use stix::Timestamp;

use super::{audit, exports, internal, metrics};

/// How long incremental exports can be brought up to date: the change log's retention.
const CHANGE_LOG_RETENTION_MICROS: i64 = 30 * 24 * 3600 * 1_000_000;

fn collection_seq(conn: &Connection, feed_id: &str) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT seq FROM collections WHERE id = ?1")
        .map_err(internal)?
        .query_row(params![feed_id], |r| r.get(0))
        .optional()
        .map_err(internal)?
        .ok_or_else(|| StoreError::NotFound(format!("no collection '{feed_id}'")))
}

/// The observables of the current versions of the object `id` in the feeds of `scope`, where
/// visible as each feed's `Visibility` says.
fn referenced_observables(
    conn: &Connection,
    id: &str,
    scope: &[(String, Visibility)],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    for (feed, v) in scope {
        let mut sql = "SELECT DISTINCT ob.kind, ob.value
               FROM objects o JOIN observables ob ON ob.object_seq = o.seq
              WHERE o.collection = (SELECT seq FROM collections WHERE id = ?)
                AND o.stix_id = ? AND o.is_last = 1"
            .to_owned();
        let mut args = vec![SqlValue::Text(feed.clone()), SqlValue::Text(id.to_owned())];
        push_visibility(&mut sql, &mut args, "o", v);
        let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
        let rows = stmt
            .query_map(params_from_iter(args), |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(internal)?;
        for r in rows {
            let pair: (String, String) = r.map_err(internal)?;
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    Ok(out)
}

/// Inserts the objects of one POST and records its status resource. Runs inside the writer's
/// transaction, so everything here becomes durable together or not at all.
pub fn add(conn: &Connection, request: AddObjects) -> Result<Status, StoreError> {
    let last_added = last_added(conn)?;
    // Strictly increasing across all feeds and close to the wall clock: the clock, unless an
    // earlier object already took that microsecond (or the clock went back). One writer
    // assigns them in order, so a reader that sees an object also sees every earlier one.
    let mut next_added = Timestamp::now()
        .as_micros()
        .max(last_added.map_or(i64::MIN, |t| t + 1));
    let first_added = next_added;

    let mut summary = conn
        .prepare_cached(
            "SELECT COUNT(*), MIN(version), MAX(version), COALESCE(SUM(version = ?3), 0)
               FROM objects WHERE collection = ?1 AND stix_id = ?2",
        )
        .map_err(internal)?;
    let mut clear_first = conn
        .prepare_cached(
            "UPDATE objects SET is_first = 0 WHERE collection = ?1 AND stix_id = ?2 AND version = ?3",
        )
        .map_err(internal)?;
    let mut clear_last = conn
        .prepare_cached(
            "UPDATE objects SET is_last = 0 WHERE collection = ?1 AND stix_id = ?2 AND version = ?3",
        )
        .map_err(internal)?;
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO objects
               (collection, stix_id, stix_type, version, spec_version, date_added, is_first, is_last,
                body, tlp, poster_org, original_body, confidence, corroboration, revoked,
                valid_until, source_peer)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )
        .map_err(internal)?;
    let mut report = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO reports (kind, value, org, first_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(internal)?;
    // A report first made where metrics do not look, now made where they do.
    let mut date_report = conn
        .prepare_cached(
            "UPDATE reports SET first_at = ?4
              WHERE kind = ?1 AND value = ?2 AND org = ?3 AND first_at IS NULL",
        )
        .map_err(internal)?;
    let mut reporters = conn
        .prepare_cached("SELECT COUNT(*) FROM reports WHERE kind = ?1 AND value = ?2")
        .map_err(internal)?;
    let mut bump = conn
        .prepare_cached(
            "UPDATE objects SET corroboration = ?3
              WHERE corroboration < ?3
                AND seq IN (SELECT object_seq FROM observables WHERE kind = ?1 AND value = ?2)",
        )
        .map_err(internal)?;
    let mut colls: HashMap<String, i64> = HashMap::new();
    let mut recipient = conn
        .prepare_cached("INSERT OR IGNORE INTO object_recipients (object_seq, org) VALUES (?1, ?2)")
        .map_err(internal)?;

    let mut observe = conn
        .prepare_cached("INSERT INTO observables (object_seq, kind, value) VALUES (?1, ?2, ?3)")
        .map_err(internal)?;
    let mut range = conn
        .prepare_cached(
            "INSERT INTO observable_ranges (object_seq, kind, value, lo, hi) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(internal)?;
    let mut refer = conn
        .prepare_cached("INSERT OR IGNORE INTO object_refs (ref_id, object_seq) VALUES (?1, ?2)")
        .map_err(internal)?;

    // Where an earlier report must be for the relay to have preceded this poster.
    let readable = metrics::Readable::new(&request.read_scope);
    // The export change log's clock, and its retention.
    let wall = Timestamp::now().as_micros();
    exports::prune_changes(conn, wall - CHANGE_LOG_RETENTION_MICROS)?;
    let mut outcomes = Vec::with_capacity(request.objects.len());
    for obj in request.objects {
        let coll = match colls.get(&obj.feed_id) {
            Some(c) => *c,
            None => {
                let c = collection_seq(conn, &obj.feed_id)?;
                colls.insert(obj.feed_id.clone(), c);
                c
            }
        };
        let probe = obj.version.map_or(i64::MIN, Timestamp::as_micros);
        let (count, min, max, same): (i64, Option<i64>, Option<i64>, i64) = summary
            .query_row(params![coll, obj.id, probe], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(internal)?;
        // Objects without `modified`/`created` (most SCOs) are immutable: a second post of the
        // same id is the same object.
        let existing = match obj.version {
            Some(v) if same > 0 => Some(v.as_micros()),
            None if count > 0 => max,
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
        let is_first = min.is_none_or(|m| version < m);
        let is_last = max.is_none_or(|m| version > m);
        if let (true, Some(m)) = (is_first, min) {
            clear_first
                .execute(params![coll, obj.id, m])
                .map_err(internal)?;
        }
        if let (true, Some(m)) = (is_last, max) {
            clear_last
                .execute(params![coll, obj.id, m])
                .map_err(internal)?;
        }
        // Corroboration: how many distinct organisations reported what this object mentions.
        // A first report by another organisation raises the count of every object mentioning it.
        let mut corroboration: i64 = 0;
        let mut reported = Vec::with_capacity(obj.observables.len());
        let metrics_at = obj.metrics.as_ref().map(|_| date_added);
        // What a sighting reports by reference: the observables of the objects it names.
        let mut by_reference = Vec::new();
        for id in obj.metrics.iter().flat_map(|m| &m.reported_refs) {
            by_reference.extend(referenced_observables(conn, id, &request.read_scope)?);
        }
        let mentioned = obj
            .observables
            .iter()
            .map(|o| (o.kind.to_string(), o.value.as_str()));
        let by_reference = by_reference.iter().map(|(k, v)| (k.clone(), v.as_str()));
        for (i, (kind, value)) in mentioned.chain(by_reference).enumerate() {
            let first_by_poster = report
                .execute(params![kind, value, request.poster_org, metrics_at])
                .map_err(internal)?
                == 1;
            if let Some(m) = &obj.metrics {
                let counted_now = first_by_poster
                    || date_report
                        .execute(params![kind, value, request.poster_org, date_added])
                        .map_err(internal)?
                        == 1;
                if counted_now {
                    metrics::counted(
                        conn,
                        &kind,
                        value,
                        request.poster_org,
                        date_added,
                        &readable,
                    )?;
                }
                if let Some(c) = m.category {
                    let first = (date_added, request.poster_org, coll);
                    metrics::categorized(conn, &kind, value, first, c)?;
                }
            }
            let n: i64 = reporters
                .query_row(params![kind, value], |r| r.get(0))
                .map_err(internal)?;
            if first_by_poster && n > 1 {
                bump.execute(params![kind, value, n]).map_err(internal)?;
                exports::corroborated(conn, &kind, value, n, wall)?;
            }
            if i >= obj.observables.len() {
                // Reported by reference: a report, not the object's own observable.
                continue;
            }
            corroboration = corroboration.max(n);
            reported.push(n);
        }
        insert
            .execute(params![
                coll,
                obj.id,
                obj.object_type,
                version,
                obj.spec_version,
                date_added,
                is_first,
                is_last,
                obj.body,
                obj.tlp.code(),
                request.poster_org,
                obj.original_body,
                obj.confidence,
                corroboration,
                obj.revoked,
                obj.valid_until.map(Timestamp::as_micros),
                obj.source_peer
            ])
            .map_err(internal)?;
        let seq = conn.last_insert_rowid();
        for org in &obj.recipients {
            recipient.execute(params![seq, org]).map_err(internal)?;
        }
        for o in &obj.observables {
            let kind = o.kind.to_string();
            observe
                .execute(params![seq, kind, o.value])
                .map_err(internal)?;
            if let Some((_, lo, hi)) = address_range(&o.kind, &o.value) {
                range
                    .execute(params![seq, kind, o.value, lo, hi])
                    .map_err(internal)?;
            }
        }
        for r in &obj.refs {
            refer.execute(params![r, seq]).map_err(internal)?;
        }
        if is_last && EXPORTED_TYPES.contains(&obj.object_type.as_str()) {
            // The former current version's entries give way to this one's.
            if max.is_some() {
                exports::forget_object(conn, coll, &obj.id, wall)?;
            }
            let entry = exports::EntryVersion {
                seq,
                collection: coll,
                stix_type: &obj.object_type,
                tlp: obj.tlp.code(),
                poster_org: request.poster_org,
                confidence: obj.confidence,
                date_added,
                valid_until: obj.valid_until.map(Timestamp::as_micros),
                revoked: obj.revoked,
            };
            for (o, n) in obj.observables.iter().zip(&reported) {
                let kind = o.kind.to_string();
                if exported_kind(&kind) {
                    exports::add_entry(conn, &entry, &kind, &o.value, *n, wall)?;
                }
            }
        }
        outcomes.push(Outcome::Added {
            id: obj.id,
            version: Timestamp::from_micros(version).to_string(),
            warnings: obj.warnings,
            note: obj.note,
        });
    }

    if next_added > first_added {
        conn.prepare_cached(
            "INSERT INTO added_mark (id, last) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET last = max(last, excluded.last)",
        )
        .map_err(internal)?
        .execute([next_added - 1])
        .map_err(internal)?;
    }
    let status = request.status.complete(outcomes);
    let body = serde_json::to_string(&status).map_err(|e| StoreError::Internal(Box::new(e)))?;
    conn.prepare_cached("INSERT INTO statuses (id, owner, created, body) VALUES (?1, ?2, ?3, ?4)")
        .map_err(internal)?
        .execute(params![
            status.id,
            request.owner_user_id,
            Timestamp::now().as_micros(),
            body
        ])
        .map_err(internal)?;
    audit::append(conn, &request.audit)?;
    Ok(status)
}

/// Appends ` AND (<visible>)` for objects of the table or alias `t`: the clause `Visibility::permits`
/// describes, so that invisible objects are never read, counted or paged over.
pub(super) fn push_visibility(sql: &mut String, args: &mut Vec<SqlValue>, t: &str, v: &Visibility) {
    if v.everything {
        return;
    }
    sql.push_str(&format!(
        " AND ({t}.tlp <= ? OR {t}.poster_org = ? OR ({t}.tlp = ? AND EXISTS
             (SELECT 1 FROM object_recipients r WHERE r.object_seq = {t}.seq AND r.org = ?)))"
    ));
    args.push(SqlValue::Integer(v.open_up_to.map_or(-1, Tlp::code)));
    args.push(SqlValue::Integer(v.org));
    args.push(SqlValue::Integer(Tlp::Red.code()));
    args.push(SqlValue::Integer(v.org));
}

/// The body column served: the original for those who may see the real submitter, else the
/// redistributed form.
fn body_column(args: &mut Vec<SqlValue>, t: &str, v: &Visibility) -> String {
    if v.everything {
        format!("coalesce({t}.original_body, {t}.body)")
    } else {
        args.push(SqlValue::Integer(v.org));
        format!(
            "CASE WHEN {t}.poster_org = ? THEN coalesce({t}.original_body, {t}.body) ELSE {t}.body END"
        )
    }
}

/// Appends ` AND column IN (?, ?, ...)` and its values.
fn push_in(
    sql: &mut String,
    args: &mut Vec<SqlValue>,
    column: &str,
    values: impl IntoIterator<Item = SqlValue>,
) {
    let start = args.len();
    args.extend(values);
    let marks = vec!["?"; args.len() - start].join(", ");
    sql.push_str(&format!(" AND {column} IN ({marks})"));
}

fn push_version_filter(sql: &mut String, args: &mut Vec<SqlValue>, versions: &VersionFilter) {
    let VersionFilter::Select { first, last, at } = versions else {
        return;
    };
    let mut alternatives = Vec::new();
    if *first {
        alternatives.push("is_first = 1".to_owned());
    }
    if *last {
        alternatives.push("is_last = 1".to_owned());
    }
    if !at.is_empty() {
        args.extend(at.iter().map(|t| SqlValue::Integer(t.as_micros())));
        alternatives.push(format!("version IN ({})", vec!["?"; at.len()].join(", ")));
    }
    sql.push_str(&format!(" AND ({})", alternatives.join(" OR ")));
}

/// Answers an object query, in `date_added` order, reading one row more than asked to know
/// whether there is more.
///
/// The index is chosen explicitly so that every plan walks an index already in `date_added`
/// order (or, for an id filter, the few versions of those ids) and never sorts a collection:
/// one type walks `objects_type`; several types run one such walk each and merge; otherwise
/// `objects_added`.
pub fn query(
    conn: &Connection,
    feeds: &[(String, Visibility)],
    q: &ObjectQuery,
) -> Result<ObjectPage, StoreError> {
    let fetch = q.limit.saturating_add(1);
    let mut rows = Vec::new();
    let mut walks = 0;
    for (feed_id, v) in feeds {
        let coll = collection_seq(conn, feed_id)?;
        if crate::walks::per_type(q) {
            for t in &q.types {
                rows.extend(run_query(conn, feed_id, coll, q, v, Some(t), fetch)?);
                walks += 1;
            }
        } else {
            rows.extend(run_query(
                conn,
                feed_id,
                coll,
                q,
                v,
                q.types.first().map(String::as_str),
                fetch,
            )?);
            walks += 1;
        }
    }
    Ok(crate::walks::page(rows, walks, q))
}

fn run_query(
    conn: &Connection,
    feed_id: &str,
    coll: i64,
    q: &ObjectQuery,
    v: &Visibility,
    one_type: Option<&str>,
    fetch: usize,
) -> Result<Vec<StoredObject>, StoreError> {
    let index = if !q.ids.is_empty() {
        "objects_version"
    } else if one_type.is_some() {
        "objects_type"
    } else {
        "objects_added"
    };
    let mut args: Vec<SqlValue> = Vec::new();
    let body = if q.with_body {
        body_column(&mut args, "objects", v)
    } else {
        "NULL".to_owned()
    };
    let mut sql = format!(
        "SELECT stix_id, date_added, version, spec_version, {body}, corroboration, source_peer,
                tlp
           FROM objects INDEXED BY {index}
          WHERE collection = ? AND date_added > ?"
    );
    args.push(SqlValue::Integer(coll));
    args.push(SqlValue::Integer(
        q.added_after.map_or(i64::MIN, Timestamp::as_micros),
    ));
    if let Some(before) = q.added_before {
        sql.push_str(" AND date_added < ?");
        args.push(SqlValue::Integer(before.as_micros()));
    }
    push_visibility(&mut sql, &mut args, "objects", v);
    if !q.ids.is_empty() {
        push_in(
            &mut sql,
            &mut args,
            "stix_id",
            q.ids.iter().cloned().map(SqlValue::Text),
        );
        if !q.types.is_empty() {
            push_in(
                &mut sql,
                &mut args,
                "stix_type",
                q.types.iter().cloned().map(SqlValue::Text),
            );
        }
    } else if let Some(t) = one_type {
        sql.push_str(" AND stix_type = ?");
        args.push(SqlValue::Text(t.to_owned()));
    }
    if !q.spec_versions.is_empty() {
        push_in(
            &mut sql,
            &mut args,
            "spec_version",
            q.spec_versions.iter().cloned().map(SqlValue::Text),
        );
    }
    push_version_filter(&mut sql, &mut args, &q.versions);
    if let Some(c) = q.min_confidence {
        sql.push_str(" AND confidence >= ?");
        args.push(SqlValue::Integer(i64::from(c)));
    }
    if let Some(c) = q.min_corroboration {
        sql.push_str(" AND corroboration >= ?");
        args.push(SqlValue::Integer(i64::from(c)));
    }
    if !q.exclude_sources.is_empty() {
        let marks = vec!["?"; q.exclude_sources.len()].join(", ");
        sql.push_str(&format!(
            " AND (source_peer IS NULL OR source_peer NOT IN ({marks}))"
        ));
        args.extend(q.exclude_sources.iter().map(|p| SqlValue::Integer(*p)));
    }
    if !q.exclude_posters.is_empty() {
        let marks = vec!["?"; q.exclude_posters.len()].join(", ");
        sql.push_str(&format!(" AND poster_org NOT IN ({marks})"));
        args.extend(q.exclude_posters.iter().map(|o| SqlValue::Integer(*o)));
    }
    if let Some(t) = q.pulled_up_to {
        sql.push_str(" AND (source_peer IS NULL OR tlp <= ?)");
        args.push(SqlValue::Integer(t.code()));
    }
    sql.push_str(if q.newest_first {
        " ORDER BY date_added DESC LIMIT ?"
    } else {
        " ORDER BY date_added LIMIT ?"
    });
    args.push(SqlValue::Integer(i64::try_from(fetch).unwrap_or(i64::MAX)));

    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let rows = stmt
        .query_map(params_from_iter(args), |r| stored_row(feed_id, r))
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    Ok(rows)
}

/// A row of (stix_id, date_added, version, spec_version, body, corroboration, source_peer, tlp)
/// in `feed_id`.
fn stored_row(feed_id: &str, r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredObject> {
    Ok(StoredObject {
        feed_id: feed_id.to_owned(),
        id: r.get(0)?,
        date_added: Timestamp::from_micros(r.get(1)?),
        version: Timestamp::from_micros(r.get(2)?),
        spec_version: r.get(3)?,
        body: r.get(4)?,
        corroboration: r.get(5)?,
        source_peer: r.get(6)?,
        tlp: Tlp::from_code(r.get(7)?).unwrap_or(Tlp::Red),
    })
}

/// Deletes the matching versions of one object (only its poster's, when asked) and re-marks
/// its first and last versions.
pub fn delete(conn: &Connection, d: &DeleteObject) -> Result<usize, StoreError> {
    let (object_id, versions, spec_versions) = (&d.object_id, &d.versions, &d.spec_versions);
    let coll = collection_seq(conn, &d.feed_id)?;
    let mut sql = "DELETE FROM objects WHERE collection = ? AND stix_id = ?".to_owned();
    let mut args = vec![
        SqlValue::Integer(coll),
        SqlValue::Text(object_id.to_owned()),
    ];
    if !spec_versions.is_empty() {
        push_in(
            &mut sql,
            &mut args,
            "spec_version",
            spec_versions.iter().cloned().map(SqlValue::Text),
        );
    }
    push_version_filter(&mut sql, &mut args, versions);
    if let Some(org) = d.poster_org {
        sql.push_str(" AND poster_org = ?");
        args.push(SqlValue::Integer(org));
    }
    let wall = Timestamp::now().as_micros();
    exports::forget_object(conn, coll, object_id, wall)?;
    let deleted = conn
        .execute(&sql, params_from_iter(args))
        .map_err(internal)?;
    if deleted > 0 {
        conn.execute(
            "UPDATE objects SET
                is_first = (version = (SELECT MIN(version) FROM objects WHERE collection = ?1 AND stix_id = ?2)),
                is_last  = (version = (SELECT MAX(version) FROM objects WHERE collection = ?1 AND stix_id = ?2))
              WHERE collection = ?1 AND stix_id = ?2",
            params![coll, object_id],
        )
        .map_err(internal)?;
    }
    exports::refresh_object(conn, coll, object_id, wall)?;
    Ok(deleted)
}

/// Current versions, in the given feeds and visible there, of the objects that name `id` in a
/// reference property; newest first, up to `limit`.
pub fn referencing(
    conn: &Connection,
    feeds: &[(String, Visibility)],
    id: &str,
    limit: usize,
) -> Result<Vec<StoredObject>, StoreError> {
    let mut out = Vec::new();
    for (feed_id, v) in feeds {
        let coll = collection_seq(conn, feed_id)?;
        let mut args = Vec::new();
        let body = body_column(&mut args, "o", v);
        let mut sql = format!(
            "SELECT o.stix_id, o.date_added, o.version, o.spec_version, {body}, o.corroboration,
                    o.source_peer, o.tlp
               FROM object_refs r JOIN objects o ON o.seq = r.object_seq
              WHERE r.ref_id = ? AND o.collection = ? AND o.is_last = 1"
        );
        args.push(SqlValue::Text(id.to_owned()));
        args.push(SqlValue::Integer(coll));
        push_visibility(&mut sql, &mut args, "o", v);
        sql.push_str(" ORDER BY o.date_added DESC LIMIT ?");
        args.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
        let rows = stmt
            .query_map(params_from_iter(args), |r| stored_row(feed_id, r))
            .map_err(internal)?;
        for row in rows {
            out.push(row.map_err(internal)?);
        }
    }
    out.sort_by_key(|o| std::cmp::Reverse(o.date_added));
    out.truncate(limit);
    Ok(out)
}

/// An address or network observable as a byte range.
fn address_range(kind: &stix::observable::Kind, value: &str) -> Option<(String, Vec<u8>, Vec<u8>)> {
    use stix::observable::Kind;
    if !matches!(kind, Kind::Ipv4 | Kind::Ipv6) {
        return None;
    }
    stix::observable::ip_range(value).map(|(k, lo, hi)| (k.to_string(), lo, hi))
}

/// Migration 0011's finish: the ranges of the address and network observables already stored.
pub fn fill_ranges(conn: &Connection) -> rusqlite::Result<()> {
    let mut read = conn.prepare(
        "SELECT object_seq, kind, value FROM observables WHERE kind IN ('ipv4', 'ipv6')",
    )?;
    let mut write = conn.prepare(
        "INSERT INTO observable_ranges (object_seq, kind, value, lo, hi) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut rows = read.query([])?;
    while let Some(r) = rows.next()? {
        let (seq, kind, value): (i64, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        if let Some((_, lo, hi)) = stix::observable::ip_range(&value) {
            write.execute(params![seq, kind, value, lo, hi])?;
        }
    }
    Ok(())
}

/// Current versions that mention any of the observables, in the given feeds, newest first.
pub fn search(conn: &Connection, q: &ObservableQuery) -> Result<Vec<ObservableHit>, StoreError> {
    if q.feeds.is_empty() {
        return Ok(Vec::new());
    }
    let mut hits = Vec::new();
    if !q.kinds.is_empty() && !q.values.is_empty() {
        let mut sql = SEARCH_SELECT.replace("{source}", "observables ob");
        sql.push_str(" WHERE o.is_last = 1");
        let mut args = Vec::new();
        push_in(
            &mut sql,
            &mut args,
            "ob.kind",
            q.kinds.iter().cloned().map(SqlValue::Text),
        );
        push_in(
            &mut sql,
            &mut args,
            "ob.value",
            q.values.iter().cloned().map(SqlValue::Text),
        );
        hits.extend(search_rows(conn, q, sql, args)?);
    }
    if let Some((kind, lo, hi)) = &q.within {
        // Inside the network: starts in it (index range on lo) and ends in it.
        let mut sql = SEARCH_SELECT.replace("{source}", "observable_ranges ob");
        sql.push_str(
            " WHERE o.is_last = 1 AND ob.kind = ? AND ob.lo >= ? AND ob.lo <= ? AND ob.hi <= ?",
        );
        let args = vec![
            SqlValue::Text(kind.clone()),
            SqlValue::Blob(lo.clone()),
            SqlValue::Blob(hi.clone()),
            SqlValue::Blob(hi.clone()),
        ];
        let mut seen: std::collections::HashSet<(String, String, String)> = hits
            .iter()
            .map(|h| (h.feed_id.clone(), h.object_id.clone(), h.value.clone()))
            .collect();
        for h in search_rows(conn, q, sql, args)? {
            if seen.insert((h.feed_id.clone(), h.object_id.clone(), h.value.clone())) {
                hits.push(h);
            }
        }
        hits.sort_by_key(|h| std::cmp::Reverse(h.date_added));
        hits.truncate(q.limit);
    }
    Ok(hits)
}

const SEARCH_SELECT: &str =
    "SELECT c.id, o.stix_id, o.stix_type, o.version, o.date_added, ob.kind, ob.value,
                          o.corroboration
                     FROM {source}
                     JOIN objects o ON o.seq = ob.object_seq
                     JOIN collections c ON c.seq = o.collection";

/// Runs a search's SQL (which ends in its own conditions) with the feeds' visibility, newest
/// first, up to the limit.
fn search_rows(
    conn: &Connection,
    q: &ObservableQuery,
    mut sql: String,
    mut args: Vec<SqlValue>,
) -> Result<Vec<ObservableHit>, StoreError> {
    let mut alternatives = Vec::with_capacity(q.feeds.len());
    for (feed_id, v) in &q.feeds {
        let mut clause = "c.id = ?".to_owned();
        args.push(SqlValue::Text(feed_id.clone()));
        push_visibility(&mut clause, &mut args, "o", v);
        alternatives.push(format!("({clause})"));
    }
    sql.push_str(&format!(" AND ({})", alternatives.join(" OR ")));
    sql.push_str(" ORDER BY o.date_added DESC LIMIT ?");
    args.push(SqlValue::Integer(
        i64::try_from(q.limit).unwrap_or(i64::MAX),
    ));
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let hits = stmt
        .query_map(params_from_iter(args), |r| {
            Ok(ObservableHit {
                feed_id: r.get(0)?,
                object_id: r.get(1)?,
                object_type: r.get(2)?,
                version: Timestamp::from_micros(r.get(3)?),
                date_added: Timestamp::from_micros(r.get(4)?),
                kind: r.get(5)?,
                value: r.get(6)?,
                corroboration: r.get(7)?,
            })
        })
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    Ok(hits)
}

/// The newest `date_added` ever given (the object that had it may be deleted since).
pub fn last_added(conn: &Connection) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT max(last) FROM added_mark")
        .map_err(internal)?
        .query_row([], |r| r.get(0))
        .map_err(internal)
}

/// Object versions committed after `after`, in every feed, oldest first.
pub fn committed_since(
    conn: &Connection,
    after: Timestamp,
    limit: usize,
) -> Result<Vec<CommittedObject>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT c.id, o.stix_id, o.stix_type, o.date_added, o.version, o.spec_version, o.tlp,
                    o.poster_org,
                    (SELECT group_concat(r.org) FROM object_recipients r WHERE r.object_seq = o.seq),
                    o.confidence, o.corroboration, o.body, o.original_body
               FROM objects o INDEXED BY objects_added_all
               JOIN collections c ON c.seq = o.collection
              WHERE o.date_added > ?1
              ORDER BY o.date_added
              LIMIT ?2",
        )
        .map_err(internal)?;
    let rows = stmt
        .query_map(
            params![after.as_micros(), i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                let recipients: Option<String> = r.get(8)?;
                Ok((
                    CommittedObject {
                        feed_id: r.get(0)?,
                        id: r.get(1)?,
                        object_type: r.get(2)?,
                        date_added: Timestamp::from_micros(r.get(3)?),
                        version: Timestamp::from_micros(r.get(4)?),
                        spec_version: r.get(5)?,
                        tlp: Tlp::Clear,
                        poster_org: r.get(7)?,
                        recipients: recipients
                            .unwrap_or_default()
                            .split(',')
                            .filter_map(|o| o.parse().ok())
                            .collect(),
                        confidence: r.get(9)?,
                        corroboration: r.get(10)?,
                        body: r.get(11)?,
                        original_body: r.get(12)?,
                    },
                    r.get::<_, i64>(6)?,
                ))
            },
        )
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    rows.into_iter()
        .map(|(mut o, tlp)| {
            o.tlp = Tlp::from_code(tlp).ok_or_else(|| {
                StoreError::Internal(format!("object {} has TLP code {tlp}", o.id).into())
            })?;
            Ok(o)
        })
        .collect()
}

/// Which organisations reported each of the observables.
pub fn reporters(
    conn: &Connection,
    kinds: &[String],
    values: &[String],
) -> Result<Vec<Reporters>, StoreError> {
    if kinds.is_empty() || values.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = "SELECT r.kind, r.value, o.name FROM reports r JOIN orgs o ON o.id = r.org
                    WHERE 1 = 1"
        .to_owned();
    let mut args = Vec::new();
    push_in(
        &mut sql,
        &mut args,
        "r.kind",
        kinds.iter().cloned().map(SqlValue::Text),
    );
    push_in(
        &mut sql,
        &mut args,
        "r.value",
        values.iter().cloned().map(SqlValue::Text),
    );
    sql.push_str(" ORDER BY r.kind, r.value, o.name");
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let rows = stmt
        .query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    let mut out: Vec<Reporters> = Vec::new();
    for (kind, value, org) in rows {
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

#[cfg(test)]
mod range_tests {
    use rusqlite::Connection;

    /// Migration 0011 ranges the address observables stored before it, and nothing else.
    #[test]
    fn ranges_of_earlier_observables_are_filled() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE objects (seq INTEGER PRIMARY KEY);
             CREATE TABLE observables (object_seq INTEGER, kind TEXT, value TEXT);
             INSERT INTO observables VALUES (1, 'ipv4', '192.0.2.0/24'), (2, 'ipv6', '2001:db8::1'),
                                            (3, 'domain', 'evil.example'), (4, 'ipv4', 'bogus');",
        )
        .unwrap();
        conn.execute_batch(include_str!(
            "../../migrations/sqlite/0011_observable_ranges.sql"
        ))
        .unwrap();
        super::fill_ranges(&conn).unwrap();
        let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = conn
            .prepare("SELECT object_seq, lo, hi FROM observable_ranges ORDER BY object_seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], (1, vec![192, 0, 2, 0], vec![192, 0, 2, 255]));
        assert_eq!(rows[1].0, 2);
        assert_eq!(rows[1].1.len(), 16);
    }
}
