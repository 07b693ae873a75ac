//! Metrics in PostgreSQL, the same figures as SQLite's (see `sqlite::metrics`):
//! `reports.first_at` says when each organisation first reported each observable where
//! metrics look, `reports.lead_from` when the earliest earlier report it could read was made.
//! The writer keeps the derived figures current with each post (computed in memory from the
//! post's reports, then written as a few array statements), and `recompute` rebuilds them from
//! `reports` in one streamed pass over its key order.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use futures_util::{StreamExt, pin_mut};
use relay_core::metrics::{
    Category, Coverage, FirstReport, LeadTimes, ObservableReport, OrgCoverage, PairCoverage,
};
use relay_core::policy::Visibility;
use relay_core::store::StoreError;
use stix::Timestamp;

use super::accounts::{exec, rows};
use super::pg;
use super::sql::{self, Args, Col, unsigned};

/// Rows per insert when writing rebuilt figures.
const CHUNK: usize = 10_000;

/// For each observable, when the earliest object naming it that another organisation than
/// `org` posted before `before`, in the feeds of `scope` and visible there as each feed's
/// `Visibility` says, was added: whether the relay held it before `org` reported it.
pub async fn earliest_readable<C: GenericClient>(
    c: &C,
    scope: &[(String, Visibility)],
    keys: &[(String, String)],
    org: i64,
    before: i64,
) -> Result<HashMap<(String, String), i64>, StoreError> {
    if scope.is_empty() || keys.is_empty() {
        return Ok(HashMap::new());
    }
    let mut args = Args::default();
    let kinds = args.add(keys.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>());
    let values = args.add(keys.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>());
    let poster = args.add(org);
    let before = args.add(before);
    let mut alternatives = Vec::with_capacity(scope.len());
    for (feed, v) in scope {
        let f = args.add(feed.clone());
        let vis = sql::visibility(&mut args, "o", v);
        alternatives.push(format!(
            "(o.collection = (SELECT seq FROM collections WHERE id = {f}){vis})"
        ));
    }
    let sql = format!(
        "SELECT k.kind, k.value, min(o.date_added)
           FROM unnest({kinds}::text[], {values}::text[]) AS k(kind, value)
           JOIN observables ob ON ob.kind = k.kind AND ob.value = k.value
           JOIN objects o ON o.seq = ob.object_seq
          WHERE o.poster_org <> {poster} AND o.date_added < {before} AND ({})
          GROUP BY k.kind, k.value",
        alternatives.join(" OR ")
    );
    rows(c, &sql, &args.refs())
        .await?
        .iter()
        .map(|r| Ok(((r.col(0)?, r.col(1)?), r.col(2)?)))
        .collect()
}

/// Changes to the figures, gathered in memory while a post is stored and written together.
#[derive(Default)]
pub struct Figures {
    /// Per (organisation, kind): reported, unique, preceded.
    pub orgs: HashMap<(i64, String), [i64; 3]>,
    /// Per (kind, a, b) with a < b: observables both reported.
    pub pairs: HashMap<(String, i64, i64), i64>,
    /// (organisation, kind, lead).
    pub leads: Vec<(i64, String, i64)>,
    /// First reports of C2 servers and phishing sites: (kind, value, at, org, collection,
    /// category), the first of each observable only.
    pub firsts: Vec<(String, String, i64, i64, i64, Category)>,
}

impl Figures {
    /// An organisation's first report of an observable, made at `at`; `others` are the
    /// organisations that reported it before where metrics look, `lead_from` the earliest
    /// earlier report it could read.
    pub fn counted(
        &mut self,
        (kind, org, at): (&str, i64, i64),
        others: &[i64],
        lead_from: Option<i64>,
    ) {
        let alone = others.is_empty();
        self.bump_org(
            org,
            kind,
            [1, i64::from(alone), i64::from(lead_from.is_some())],
        );
        if let [only] = others {
            // It was the only one to have it.
            self.bump_org(*only, kind, [0, -1, 0]);
        }
        for other in others {
            let (a, b) = if org < *other {
                (org, *other)
            } else {
                (*other, org)
            };
            *self.pairs.entry((kind.to_owned(), a, b)).or_default() += 1;
        }
        if let Some(from) = lead_from {
            self.leads.push((org, kind.to_owned(), at - from));
        }
    }

    fn bump_org(&mut self, org: i64, kind: &str, by: [i64; 3]) {
        let c = self.orgs.entry((org, kind.to_owned())).or_default();
        for (c, by) in c.iter_mut().zip(by) {
            *c += by;
        }
    }

    /// Writes the changes: counters added to those stored, lead rows, and first reports
    /// where none is stored yet.
    pub async fn write<C: GenericClient>(self, c: &C) -> Result<(), StoreError> {
        if !self.orgs.is_empty() {
            let mut org = Vec::new();
            let mut kind = Vec::new();
            let mut by = [Vec::new(), Vec::new(), Vec::new()];
            for ((o, k), n) in self.orgs {
                org.push(o);
                kind.push(k);
                for (col, n) in by.iter_mut().zip(n) {
                    col.push(n);
                }
            }
            exec(
                c,
                "INSERT INTO metric_orgs (org, kind, reported, uniq, preceded)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[],
                                      $5::bigint[])
                 ON CONFLICT (org, kind) DO UPDATE SET
                    reported = metric_orgs.reported + excluded.reported,
                    uniq = metric_orgs.uniq + excluded.uniq,
                    preceded = metric_orgs.preceded + excluded.preceded",
                &[&org, &kind, &by[0], &by[1], &by[2]],
            )
            .await?;
        }
        if !self.pairs.is_empty() {
            let mut kind = Vec::new();
            let (mut a, mut b, mut n) = (Vec::new(), Vec::new(), Vec::new());
            for ((k, x, y), shared) in self.pairs {
                kind.push(k);
                a.push(x);
                b.push(y);
                n.push(shared);
            }
            exec(
                c,
                "INSERT INTO metric_pairs (kind, a, b, shared)
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])
                 ON CONFLICT (kind, a, b) DO UPDATE SET
                    shared = metric_pairs.shared + excluded.shared",
                &[&kind, &a, &b, &n],
            )
            .await?;
        }
        insert_leads(c, &self.leads).await?;
        if !self.firsts.is_empty() {
            let (mut kind, mut value, mut at) = (Vec::new(), Vec::new(), Vec::new());
            let (mut org, mut coll, mut category) = (Vec::new(), Vec::new(), Vec::new());
            for (k, v, t, o, c, cat) in self.firsts {
                kind.push(k);
                value.push(v);
                at.push(t);
                org.push(o);
                coll.push(c);
                category.push(cat.as_str());
            }
            exec(
                c,
                "INSERT INTO metric_firsts (kind, value, first_at, org, collection, category)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[],
                                      $5::bigint[], $6::text[])
                 ON CONFLICT DO NOTHING",
                &[&kind, &value, &at, &org, &coll, &category],
            )
            .await?;
        }
        Ok(())
    }
}

/// Inserts lead rows (organisation, kind, lead), a chunk per statement.
async fn insert_leads<C: GenericClient>(
    c: &C,
    leads: &[(i64, String, i64)],
) -> Result<(), StoreError> {
    for chunk in leads.chunks(CHUNK) {
        let org: Vec<i64> = chunk.iter().map(|l| l.0).collect();
        let kind: Vec<&str> = chunk.iter().map(|l| l.1.as_str()).collect();
        let lead: Vec<i64> = chunk.iter().map(|l| l.2).collect();
        exec(
            c,
            "INSERT INTO metric_leads (org, kind, lead)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])",
            &[&org, &kind, &lead],
        )
        .await?;
    }
    Ok(())
}

/// Rebuilds coverage and lead times from `reports`, in one pass over its key order (kind,
/// value, organisation): each observable's reporters are consecutive rows. Runs in the
/// caller's writing transaction. Returns how many reports it went through.
pub async fn recompute<C: GenericClient>(c: &C) -> Result<u64, StoreError> {
    c.batch_execute(
        "DELETE FROM metric_orgs; DELETE FROM metric_pairs; DELETE FROM metric_leads;
         DROP INDEX metric_leads_org;",
    )
    .await
    .map_err(pg)?;
    let mut kinds: Vec<String> = Vec::new();
    let mut orgs: HashMap<(i64, usize), [i64; 3]> = HashMap::new();
    let mut pairs: HashMap<(usize, i64, i64), i64> = HashMap::new();
    let mut leads: Vec<(i64, usize, i64)> = Vec::new();
    let mut reports = 0u64;
    {
        // Streamed: the rows are gathered as they arrive; nothing else runs on the connection
        // until the stream ends.
        let stmt = c
            .prepare_cached(
                "SELECT kind, value, org, first_at, lead_from FROM reports
                  WHERE first_at IS NOT NULL ORDER BY kind, value, org",
            )
            .await
            .map_err(pg)?;
        let stream = c
            .query_raw(&stmt, std::iter::empty::<i64>())
            .await
            .map_err(pg)?;
        pin_mut!(stream);
        // The observable being gathered: (kind index, value) and its reporters.
        let mut current: Option<(usize, String)> = None;
        // (organisation, first report, the earlier report it could read).
        let mut group: Vec<(i64, i64, Option<i64>)> = Vec::new();
        let mut flush = |kind: usize, group: &mut Vec<(i64, i64, Option<i64>)>| {
            for (i, (org, at, from)) in group.iter().enumerate() {
                let c = orgs.entry((*org, kind)).or_default();
                c[0] += 1;
                if group.len() == 1 {
                    c[1] += 1;
                }
                if let Some(from) = from {
                    c[2] += 1;
                    leads.push((*org, kind, at - from));
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
        };
        while let Some(r) = stream.next().await {
            let r = r.map_err(pg)?;
            let kind: &str = r.col(0)?;
            let value: &str = r.col(1)?;
            let same = current
                .as_ref()
                .is_some_and(|(k, v)| kinds[*k] == kind && v == value);
            if !same {
                if let Some((k, _)) = current.take() {
                    flush(k, &mut group);
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
            group.push((r.col(2)?, r.col(3)?, r.col(4)?));
            reports += 1;
        }
        if let Some((k, _)) = current.take() {
            flush(k, &mut group);
        }
    }
    let leads: Vec<(i64, String, i64)> = leads
        .into_iter()
        .map(|(org, k, lead)| (org, kinds[k].clone(), lead))
        .collect();
    insert_leads(c, &leads).await?;
    let mut figures = Figures::default();
    for ((org, k), n) in orgs {
        figures.orgs.insert((org, kinds[k].clone()), n);
    }
    for ((k, a, b), n) in pairs {
        figures.pairs.insert((kinds[k].clone(), a, b), n);
    }
    figures.write(c).await?;
    // Built once from the rows, sorted, rather than kept up while they went in.
    c.batch_execute("CREATE INDEX metric_leads_org ON metric_leads(org, kind, lead);")
        .await
        .map_err(pg)?;
    Ok(reports)
}

pub async fn coverage<C: GenericClient>(c: &C) -> Result<Coverage, StoreError> {
    let orgs = rows(
        c,
        "SELECT m.org, o.name, m.kind, m.reported, m.uniq, m.preceded
           FROM metric_orgs m JOIN orgs o ON o.id = m.org
          WHERE m.reported > 0 ORDER BY o.name, m.kind",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(OrgCoverage {
            org: r.col(0)?,
            org_name: r.col(1)?,
            kind: r.col(2)?,
            reported: unsigned(r.col(3)?),
            unique: unsigned(r.col(4)?),
            preceded: unsigned(r.col(5)?),
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let pairs = rows(
        c,
        "SELECT p.kind, p.a, oa.name, p.b, ob.name, p.shared
           FROM metric_pairs p JOIN orgs oa ON oa.id = p.a JOIN orgs ob ON ob.id = p.b
          WHERE p.shared > 0 ORDER BY p.kind, oa.name, ob.name",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(PairCoverage {
            kind: r.col(0)?,
            a: r.col(1)?,
            a_name: r.col(2)?,
            b: r.col(3)?,
            b_name: r.col(4)?,
            shared: unsigned(r.col(5)?),
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Coverage { orgs, pairs })
}

pub async fn leads<C: GenericClient>(
    c: &C,
    org: Option<i64>,
) -> Result<Vec<LeadTimes>, StoreError> {
    // Nearest rank: the ceil(p * n)-th smallest, read by an indexed OFFSET per organisation and
    // kind, all in one statement.
    rows(
        c,
        "WITH g AS (SELECT org, kind, count(*) AS n FROM metric_leads
                     WHERE $1::bigint IS NULL OR org = $1 GROUP BY org, kind)
         SELECT g.org, o.name, g.kind, g.n,
                (SELECT l.lead FROM metric_leads l WHERE l.org = g.org AND l.kind = g.kind
                  ORDER BY l.lead OFFSET greatest((50 * g.n + 99) / 100 - 1, 0) LIMIT 1),
                (SELECT l.lead FROM metric_leads l WHERE l.org = g.org AND l.kind = g.kind
                  ORDER BY l.lead OFFSET greatest((90 * g.n + 99) / 100 - 1, 0) LIMIT 1)
           FROM g JOIN orgs o ON o.id = g.org
          ORDER BY o.name, g.kind",
        &[&org],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(LeadTimes {
            org: r.col(0)?,
            org_name: r.col(1)?,
            kind: r.col(2)?,
            count: unsigned(r.col(3)?),
            p50_micros: r.col(4)?,
            p90_micros: r.col(5)?,
        })
    })
    .collect()
}

/// Streams the first reports of `[from, to)` to `each` from the caller's REPEATABLE READ
/// read-only transaction; returns how many.
pub async fn first_reports<C: GenericClient>(
    c: &C,
    from: Timestamp,
    to: Timestamp,
    mut each: Box<dyn FnMut(FirstReport) + Send>,
) -> Result<u64, StoreError> {
    let stmt = c
        .prepare_cached(
            "SELECT f.kind, f.value, f.first_at, f.org, o.sector, c.name, f.category
               FROM metric_firsts f JOIN orgs o ON o.id = f.org
               JOIN collections c ON c.seq = f.collection
              WHERE f.first_at >= $1 AND f.first_at < $2 ORDER BY f.first_at",
        )
        .await
        .map_err(pg)?;
    let stream = c
        .query_raw(&stmt, [from.as_micros(), to.as_micros()])
        .await
        .map_err(pg)?;
    pin_mut!(stream);
    let mut n = 0;
    while let Some(r) = stream.next().await {
        let r = r.map_err(pg)?;
        let category: &str = r.col(6)?;
        each(FirstReport {
            kind: r.col(0)?,
            value: r.col(1)?,
            at: Timestamp::from_micros(r.col(2)?),
            org: r.col(3)?,
            sector: r.col(4)?,
            feed: r.col(5)?,
            category: Category::parse(category).map_err(|e| StoreError::Internal(e.into()))?,
        });
        n += 1;
    }
    Ok(n)
}

pub async fn observable_reports<C: GenericClient>(
    c: &C,
    kind: &str,
    value: &str,
) -> Result<Vec<ObservableReport>, StoreError> {
    rows(
        c,
        "SELECT r.org, o.name, r.first_at FROM reports r JOIN orgs o ON o.id = r.org
          WHERE r.kind = $1 AND r.value = $2 AND r.first_at IS NOT NULL ORDER BY r.first_at",
        &[&kind, &value],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(ObservableReport {
            org: r.col(0)?,
            org_name: r.col(1)?,
            at: Timestamp::from_micros(r.col(2)?),
        })
    })
    .collect()
}
