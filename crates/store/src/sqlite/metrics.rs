//! Metrics in SQLite. `reports.first_at` says when each organisation first reported each
//! observable where metrics look, and `reports.lead_from` when the earliest earlier report it
//! could read was made (the relay preceded it only where it could look). The writer keeps the
//! figures derived from them current with each new report (a few one-row statements: the
//! other reporters of the observable, the earliest readable object naming it, the
//! organisation's and pairs' counters, a lead-time row), and `recompute` rebuilds them from
//! `reports` in one pass over its key order.

use std::collections::HashMap;

use relay_core::metrics::{
    Category, Coverage, FirstReport, LeadTimes, ObservableReport, OrgCoverage, PairCoverage,
};
use relay_core::policy::Visibility;
use relay_core::store::StoreError;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params, params_from_iter};
use stix::Timestamp;

use super::internal;
use super::objects::push_visibility;

/// The objects a poster could read (its `read_scope`), and the query for the earliest of them
/// naming an observable, built once per post.
pub struct Readable {
    /// `None`: the poster reads nothing.
    sql: Option<String>,
    args: Vec<SqlValue>,
}

impl Readable {
    pub fn new(scope: &[(String, Visibility)]) -> Readable {
        if scope.is_empty() {
            return Readable {
                sql: None,
                args: Vec::new(),
            };
        }
        // From the observable's few index entries to their objects, never the other way round:
        // CROSS JOIN fixes the order, and the unary `+` keeps the planner off the objects'
        // (collection, date_added) index, a range of millions.
        let mut sql = "SELECT min(o.date_added)
               FROM observables ob CROSS JOIN objects o ON o.seq = ob.object_seq
              WHERE ob.kind = ? AND ob.value = ? AND o.poster_org != ? AND +o.date_added < ?
                AND ("
            .to_owned();
        let mut args = Vec::new();
        for (i, (feed, v)) in scope.iter().enumerate() {
            sql.push_str(if i == 0 { "(" } else { " OR (" });
            sql.push_str("+o.collection = (SELECT seq FROM collections WHERE id = ?)");
            args.push(SqlValue::Text(feed.clone()));
            push_visibility(&mut sql, &mut args, "o", v);
            sql.push(')');
        }
        sql.push(')');
        Readable {
            sql: Some(sql),
            args,
        }
    }

    /// When the earliest object another organisation posted before `at`, naming the
    /// observable, that the poster could read, was added.
    fn earliest(
        &self,
        conn: &Connection,
        (kind, value): (&str, &str),
        org: i64,
        at: i64,
    ) -> Result<Option<i64>, StoreError> {
        let Some(sql) = &self.sql else {
            return Ok(None);
        };
        let mut args = vec![
            SqlValue::Text(kind.to_owned()),
            SqlValue::Text(value.to_owned()),
            SqlValue::Integer(org),
            SqlValue::Integer(at),
        ];
        args.extend(self.args.iter().cloned());
        conn.prepare_cached(sql)
            .map_err(internal)?
            .query_row(params_from_iter(args), |r| r.get(0))
            .map_err(internal)
    }
}

/// Counts an organisation's first report of an observable, made at `at` (after every report
/// stored before it): its counters, the pairs it now shares and, when an earlier report was
/// where it could read it, the lead the relay had on it.
pub fn counted(
    conn: &Connection,
    kind: &str,
    value: &str,
    org: i64,
    at: i64,
    readable: &Readable,
) -> Result<(), StoreError> {
    let others: Vec<(i64, i64)> = conn
        .prepare_cached(
            "SELECT org, first_at FROM reports
              WHERE kind = ?1 AND value = ?2 AND org != ?3 AND first_at IS NOT NULL",
        )
        .map_err(internal)?
        .query_map(params![kind, value, org], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    let alone = others.is_empty();
    let lead_from = if alone {
        None
    } else {
        readable.earliest(conn, (kind, value), org, at)?
    };
    bump_org(
        conn,
        org,
        kind,
        [1, i64::from(alone), i64::from(lead_from.is_some())],
    )?;
    if let [(only, _)] = others.as_slice() {
        // It was the only one to have it.
        bump_org(conn, *only, kind, [0, -1, 0])?;
    }
    for (other, _) in &others {
        let (a, b) = if org < *other {
            (org, *other)
        } else {
            (*other, org)
        };
        let n = conn
            .prepare_cached(
                "UPDATE metric_pairs SET shared = shared + 1 WHERE kind = ?1 AND a = ?2 AND b = ?3",
            )
            .map_err(internal)?
            .execute(params![kind, a, b])
            .map_err(internal)?;
        if n == 0 {
            conn.prepare_cached(
                "INSERT INTO metric_pairs (kind, a, b, shared) VALUES (?1, ?2, ?3, 1)",
            )
            .map_err(internal)?
            .execute(params![kind, a, b])
            .map_err(internal)?;
        }
    }
    if let Some(from) = lead_from {
        conn.prepare_cached("INSERT INTO metric_leads (org, kind, lead) VALUES (?1, ?2, ?3)")
            .map_err(internal)?
            .execute(params![org, kind, at - from])
            .map_err(internal)?;
        conn.prepare_cached(
            "UPDATE reports SET lead_from = ?4 WHERE kind = ?1 AND value = ?2 AND org = ?3",
        )
        .map_err(internal)?
        .execute(params![kind, value, org, from])
        .map_err(internal)?;
    }
    Ok(())
}

fn bump_org(conn: &Connection, org: i64, kind: &str, by: [i64; 3]) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE metric_orgs SET reported = reported + ?3, uniq = uniq + ?4,
                    preceded = preceded + ?5
              WHERE org = ?1 AND kind = ?2",
        )
        .map_err(internal)?
        .execute(params![org, kind, by[0], by[1], by[2]])
        .map_err(internal)?;
    if n == 0 {
        conn.prepare_cached(
            "INSERT INTO metric_orgs (org, kind, reported, uniq, preceded)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(internal)?
        .execute(params![org, kind, by[0], by[1], by[2]])
        .map_err(internal)?;
    }
    Ok(())
}

/// An object posted at `at` by `org` to `collection` calls an observable a C2 server or
/// phishing site: that is its first report as such, unless an earlier one was recorded. (Only
/// the categorising object's own report counts: an earlier report of the same value elsewhere
/// may sit where this poster cannot look.)
pub fn categorized(
    conn: &Connection,
    kind: &str,
    value: &str,
    (at, org, collection): (i64, i64, i64),
    category: Category,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO metric_firsts (kind, value, first_at, org, collection, category)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .map_err(internal)?
    .execute(params![kind, value, at, org, collection, category.as_str()])
    .map_err(internal)?;
    Ok(())
}

/// Rebuilds coverage and lead times from `reports`, in one pass over its key order (kind,
/// value, organisation): each observable's reporters are consecutive rows.
/// Returns how many reports it went through.
pub fn recompute(conn: &Connection) -> Result<u64, StoreError> {
    conn.execute_batch(
        "DELETE FROM metric_orgs; DELETE FROM metric_pairs; DELETE FROM metric_leads;
         DROP INDEX metric_leads_org;",
    )
    .map_err(internal)?;
    let mut kinds: Vec<String> = Vec::new();
    let mut orgs: HashMap<(i64, usize), [i64; 3]> = HashMap::new();
    let mut pairs: HashMap<(usize, i64, i64), i64> = HashMap::new();
    let mut reports = 0u64;
    {
        let mut lead = conn
            .prepare_cached("INSERT INTO metric_leads (org, kind, lead) VALUES (?1, ?2, ?3)")
            .map_err(internal)?;
        let mut stmt = conn
            .prepare(
                "SELECT kind, value, org, first_at, lead_from FROM reports
                  WHERE first_at IS NOT NULL ORDER BY kind, value, org",
            )
            .map_err(internal)?;
        let mut rows = stmt.query([]).map_err(internal)?;
        // The observable being gathered: (kind index, value) and its reporters.
        let mut current: Option<(usize, String)> = None;
        // (organisation, first report, the earlier report it could read).
        let mut group: Vec<(i64, i64, Option<i64>)> = Vec::new();
        let mut flush = |kind: usize,
                         name: &str,
                         group: &mut Vec<(i64, i64, Option<i64>)>|
         -> Result<(), StoreError> {
            for (i, (org, at, from)) in group.iter().enumerate() {
                let c = orgs.entry((*org, kind)).or_default();
                c[0] += 1;
                if group.len() == 1 {
                    c[1] += 1;
                }
                if let Some(from) = from {
                    c[2] += 1;
                    lead.execute(params![org, name, at - from])
                        .map_err(internal)?;
                }
                for (other, _, _) in &group[i + 1..] {
                    let (a, b) = if org < other {
                        (*org, *other)
                    } else {
                        (*other, *org)
                    };
                    *pairs.entry((kind, a, b)).or_default() += 1;
                }
            }
            group.clear();
            Ok(())
        };
        while let Some(r) = rows.next().map_err(internal)? {
            let kind = r
                .get_ref(0)
                .map_err(internal)?
                .as_str()
                .map_err(|e| internal(e.into()))?;
            let value = r
                .get_ref(1)
                .map_err(internal)?
                .as_str()
                .map_err(|e| internal(e.into()))?;
            let same = current
                .as_ref()
                .is_some_and(|(k, v)| kinds[*k] == kind && v == value);
            if !same {
                if let Some((k, _)) = current.take() {
                    flush(k, &kinds[k], &mut group)?;
                }
                let k = match kinds.iter().position(|k| k == kind) {
                    Some(k) => k,
                    None => {
                        kinds.push(kind.to_owned());
                        kinds.len() - 1
                    }
                };
                current = Some((k, value.to_owned()));
            }
            group.push((
                r.get(2).map_err(internal)?,
                r.get(3).map_err(internal)?,
                r.get(4).map_err(internal)?,
            ));
            reports += 1;
        }
        if let Some((k, _)) = current.take() {
            flush(k, &kinds[k], &mut group)?;
        }
    }
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO metric_orgs (org, kind, reported, uniq, preceded)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(internal)?;
    for ((org, kind), c) in &orgs {
        insert
            .execute(params![org, kinds[*kind], c[0], c[1], c[2]])
            .map_err(internal)?;
    }
    let mut insert = conn
        .prepare_cached("INSERT INTO metric_pairs (kind, a, b, shared) VALUES (?1, ?2, ?3, ?4)")
        .map_err(internal)?;
    for ((kind, a, b), n) in &pairs {
        insert
            .execute(params![kinds[*kind], a, b, n])
            .map_err(internal)?;
    }
    // Built once from the rows, sorted, rather than kept up while they went in.
    conn.execute_batch("CREATE INDEX metric_leads_org ON metric_leads(org, kind, lead);")
        .map_err(internal)?;
    Ok(reports)
}

/// Migration 0008: the figures from the reports it dated.
pub fn rebuild_in_migration(conn: &Connection) -> rusqlite::Result<()> {
    recompute(conn)
        .map(|_| ())
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

fn count(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0))
}

pub fn coverage(conn: &Connection) -> Result<Coverage, StoreError> {
    let orgs = conn
        .prepare_cached(
            "SELECT m.org, o.name, m.kind, m.reported, m.uniq, m.preceded
               FROM metric_orgs m JOIN orgs o ON o.id = m.org
              WHERE m.reported > 0 ORDER BY o.name, m.kind",
        )
        .map_err(internal)?
        .query_map([], |r| {
            Ok(OrgCoverage {
                org: r.get(0)?,
                org_name: r.get(1)?,
                kind: r.get(2)?,
                reported: count(r, 3)?,
                unique: count(r, 4)?,
                preceded: count(r, 5)?,
            })
        })
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    let pairs = conn
        .prepare_cached(
            "SELECT p.kind, p.a, oa.name, p.b, ob.name, p.shared
               FROM metric_pairs p JOIN orgs oa ON oa.id = p.a JOIN orgs ob ON ob.id = p.b
              WHERE p.shared > 0 ORDER BY p.kind, oa.name, ob.name",
        )
        .map_err(internal)?
        .query_map([], |r| {
            Ok(PairCoverage {
                kind: r.get(0)?,
                a: r.get(1)?,
                a_name: r.get(2)?,
                b: r.get(3)?,
                b_name: r.get(4)?,
                shared: count(r, 5)?,
            })
        })
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    Ok(Coverage { orgs, pairs })
}

pub fn leads(conn: &Connection, org: Option<i64>) -> Result<Vec<LeadTimes>, StoreError> {
    // One organisation's rows by the index; everyone's in one pass over it.
    let sql = if org.is_some() {
        "SELECT l.org, o.name, l.kind, count(*) FROM metric_leads l JOIN orgs o ON o.id = l.org
          WHERE l.org = ?1 GROUP BY l.org, l.kind ORDER BY o.name, l.kind"
    } else {
        "SELECT l.org, o.name, l.kind, count(*) FROM metric_leads l JOIN orgs o ON o.id = l.org
          WHERE ?1 IS NULL GROUP BY l.org, l.kind ORDER BY o.name, l.kind"
    };
    let groups: Vec<(i64, String, String, i64)> = conn
        .prepare_cached(sql)
        .map_err(internal)?
        .query_map(params![org], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    let mut nth = conn
        .prepare_cached(
            "SELECT lead FROM metric_leads WHERE org = ?1 AND kind = ?2
              ORDER BY lead LIMIT 1 OFFSET ?3",
        )
        .map_err(internal)?;
    let mut out = Vec::with_capacity(groups.len());
    for (org, org_name, kind, count) in groups {
        // Nearest rank: the ceil(p * n)-th smallest.
        let rank = |p: u32| ((i64::from(p) * count + 99) / 100 - 1).max(0);
        let mut at = |p: u32| -> Result<i64, StoreError> {
            nth.query_row(params![org, kind, rank(p)], |r| r.get(0))
                .map_err(internal)
        };
        let (p50, p90) = (at(50)?, at(90)?);
        out.push(LeadTimes {
            org,
            org_name,
            kind,
            count: u64::try_from(count).unwrap_or(0),
            p50_micros: p50,
            p90_micros: p90,
        });
    }
    Ok(out)
}

pub fn first_reports(
    conn: &Connection,
    from: Timestamp,
    to: Timestamp,
    mut each: Box<dyn FnMut(FirstReport) + Send>,
) -> Result<u64, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT f.kind, f.value, f.first_at, f.org, o.sector, c.name, f.category
               FROM metric_firsts f JOIN orgs o ON o.id = f.org
               JOIN collections c ON c.seq = f.collection
              WHERE f.first_at >= ?1 AND f.first_at < ?2 ORDER BY f.first_at",
        )
        .map_err(internal)?;
    let mut rows = stmt
        .query(params![from.as_micros(), to.as_micros()])
        .map_err(internal)?;
    let mut n = 0;
    while let Some(r) = rows.next().map_err(internal)? {
        let category: String = r.get(6).map_err(internal)?;
        each(FirstReport {
            kind: r.get(0).map_err(internal)?,
            value: r.get(1).map_err(internal)?,
            at: Timestamp::from_micros(r.get(2).map_err(internal)?),
            org: r.get(3).map_err(internal)?,
            sector: r.get(4).map_err(internal)?,
            feed: r.get(5).map_err(internal)?,
            category: Category::parse(&category).map_err(|e| StoreError::Internal(e.into()))?,
        });
        n += 1;
    }
    Ok(n)
}

pub fn observable_reports(
    conn: &Connection,
    kind: &str,
    value: &str,
) -> Result<Vec<ObservableReport>, StoreError> {
    conn.prepare_cached(
        "SELECT r.org, o.name, r.first_at FROM reports r JOIN orgs o ON o.id = r.org
          WHERE r.kind = ?1 AND r.value = ?2 AND r.first_at IS NOT NULL ORDER BY r.first_at",
    )
    .map_err(internal)?
    .query_map(params![kind, value], |r| {
        Ok(ObservableReport {
            org: r.get(0)?,
            org_name: r.get(1)?,
            at: Timestamp::from_micros(r.get(2)?),
        })
    })
    .map_err(internal)?
    .collect::<Result<_, _>>()
    .map_err(internal)
}
