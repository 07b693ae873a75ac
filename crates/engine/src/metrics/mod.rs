//! The relay's figures for the ISAC and its members: coverage (how much of what members
//! report overlaps, and what only one had), lead time (how long the relay held an observable
//! before an organisation reported it), and daily counts of new C2 servers and phishing
//! sites by feed, kind, country and reporting sector. The store keeps the raw figures current
//! as reports arrive (see `relay_core::metrics`); this module shapes them for a caller.
//!
//! The ISAC administrators see everything. A member sees its own organisation's figures and
//! aggregates over at least `MIN_MEMBERS` organisations besides itself (so that it cannot
//! subtract its own share to get another's): never a pair naming another member, no daily
//! count made by fewer (such cells are left out without a trace), no counts of feeds it
//! cannot read. Lead times are measured only against earlier reports the member could read
//! (the store's `reports.lead_from`), so they date nothing it could not see.

pub mod chart;
pub mod geo;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use relay_core::metrics::{Category, FirstReport};
use relay_core::{AuditEntry, Change, Error, Principal, Role, Store, policy};
use serde::Serialize;
use stix::Timestamp;

pub use geo::{GeoDb, Place};

use relay_core::policy::MIN_MEMBERS_IN_AGGREGATE as MIN_MEMBERS;
/// The longest period a daily query covers.
const MAX_DAYS: i64 = 366;
const DAY: i64 = 86_400_000_000;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrgFigures {
    pub org: String,
    pub kind: String,
    pub reported: u64,
    pub unique: u64,
    pub preceded: u64,
    /// `preceded / reported`: the share of its reports the relay already held.
    pub preceded_share: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PairFigures {
    pub kind: String,
    pub a: String,
    pub b: String,
    pub shared: u64,
    /// |A∩B| / |A∪B|.
    pub jaccard: f64,
}

/// All organisations together, per kind.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KindFigures {
    pub kind: String,
    pub organisations: usize,
    pub reports: u64,
    /// Reports of observables nobody else reported.
    pub unique: u64,
    /// Reports the relay had from another organisation first.
    pub preceded: u64,
    /// Over every pair of organisations that reported this kind.
    pub mean_jaccard: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct CoverageReport {
    pub orgs: Vec<OrgFigures>,
    /// Administrators only.
    pub pairs: Vec<PairFigures>,
    /// Kinds reported by fewer than `MIN_MEMBERS` organisations are left out for members.
    pub totals: Vec<KindFigures>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LeadFigures {
    pub org: String,
    pub kind: String,
    /// Reports the relay preceded.
    pub preceded: u64,
    pub median_seconds: f64,
    pub p90_seconds: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct DailyCount {
    pub day: String,
    pub category: &'static str,
    pub feed: String,
    pub kind: String,
    pub country: Option<String>,
    pub sector: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct DailyReport {
    pub from: String,
    pub to: String,
    pub counts: Vec<DailyCount>,
}

/// The country of an IP observable, from the database the administrator supplied.
fn country_of(geo: Option<&GeoDb>, kind: &str, value: &str) -> Option<String> {
    let geo = geo?;
    if !matches!(kind, "ipv4" | "ipv6") {
        return None;
    }
    let ip: IpAddr = value.split('/').next()?.parse().ok()?;
    geo.lookup(ip).country
}

/// A daily count's key: day, category, feed, kind, country, sector.
type Cell = (String, Category, String, String, Option<String>, String);
/// Each cell's count and the organisations whose first reports it counts.
type Cells = BTreeMap<Cell, (u64, BTreeSet<i64>)>;

/// Who first reported an observable, and when.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ObservableFigures {
    pub kind: String,
    pub value: String,
    /// The first report by anyone (for a member: only if it was its own).
    pub first: Option<String>,
    /// Each organisation's first report, earliest first (for a member: its own).
    pub reports: Vec<FirstSeen>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FirstSeen {
    pub org: String,
    pub at: String,
}

#[derive(Clone)]
pub struct Metrics {
    store: Arc<dyn Store>,
    geo: Option<Arc<GeoDb>>,
}

fn require_member(who: &Principal) -> Result<(), Error> {
    if who.role == Role::Scanner {
        return Err(Error::Forbidden("metrics are for members".into()));
    }
    Ok(())
}

fn seconds(micros: i64) -> f64 {
    micros as f64 / 1e6
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

impl Metrics {
    pub fn new(store: Arc<dyn Store>, geo: Option<Arc<GeoDb>>) -> Metrics {
        Metrics { store, geo }
    }

    pub async fn coverage(&self, who: &Principal) -> Result<CoverageReport, Error> {
        require_member(who)?;
        let cov = self.store.metric_coverage().await?;
        let admin = who.is_isac_admin();
        // |A| per (org, kind), for Jaccard.
        let sizes: HashMap<(i64, &str), u64> = cov
            .orgs
            .iter()
            .map(|o| ((o.org, o.kind.as_str()), o.reported))
            .collect();
        let jaccard = |kind: &str, a: i64, b: i64, shared: u64| {
            let union = sizes.get(&(a, kind)).copied().unwrap_or(0)
                + sizes.get(&(b, kind)).copied().unwrap_or(0)
                - shared;
            ratio(shared, union)
        };
        let mut report = CoverageReport::default();
        let mut by_kind: BTreeMap<&str, (Vec<i64>, u64, u64, u64)> = BTreeMap::new();
        for o in &cov.orgs {
            let k = by_kind.entry(o.kind.as_str()).or_default();
            k.0.push(o.org);
            k.1 += o.reported;
            k.2 += o.unique;
            k.3 += o.preceded;
            if admin || o.org == who.org_id {
                report.orgs.push(OrgFigures {
                    org: o.org_name.clone(),
                    kind: o.kind.clone(),
                    reported: o.reported,
                    unique: o.unique,
                    preceded: o.preceded,
                    preceded_share: ratio(o.preceded, o.reported),
                });
            }
        }
        let mut jaccard_sums: HashMap<&str, f64> = HashMap::new();
        for p in &cov.pairs {
            let j = jaccard(&p.kind, p.a, p.b, p.shared);
            *jaccard_sums.entry(p.kind.as_str()).or_default() += j;
            if admin {
                report.pairs.push(PairFigures {
                    kind: p.kind.clone(),
                    a: p.a_name.clone(),
                    b: p.b_name.clone(),
                    shared: p.shared,
                    jaccard: j,
                });
            }
        }
        for (kind, (orgs, reports, unique, preceded)) in by_kind {
            let n = orgs.len();
            let others = orgs.iter().filter(|o| **o != who.org_id).count();
            if !admin && others < MIN_MEMBERS {
                continue;
            }
            // Pairs that share nothing count as 0.
            let pairs = n * n.saturating_sub(1) / 2;
            let sum = jaccard_sums.get(kind).copied().unwrap_or(0.0);
            report.totals.push(KindFigures {
                kind: kind.to_owned(),
                organisations: n,
                reports,
                unique,
                preceded,
                mean_jaccard: if pairs == 0 { 0.0 } else { sum / pairs as f64 },
            });
        }
        Ok(report)
    }

    pub async fn lead_times(&self, who: &Principal) -> Result<Vec<LeadFigures>, Error> {
        require_member(who)?;
        let org = (!who.is_isac_admin()).then_some(who.org_id);
        Ok(self
            .store
            .metric_leads(org)
            .await?
            .into_iter()
            .map(|l| LeadFigures {
                org: l.org_name,
                kind: l.kind,
                preceded: l.count,
                median_seconds: seconds(l.p50_micros),
                p90_seconds: seconds(l.p90_micros),
            })
            .collect())
    }

    /// New C2 servers and phishing sites per day (UTC) in `[from, to)`.
    pub async fn daily(
        &self,
        who: &Principal,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<DailyReport, Error> {
        require_member(who)?;
        // Whole days: a period cut to the microsecond would date single reports.
        let from = from.as_micros().div_euclid(DAY) * DAY;
        let to = (to.as_micros() + DAY - 1).div_euclid(DAY) * DAY;
        if to <= from {
            return Err(Error::Invalid("'to' must be after 'from'".into()));
        }
        if to - from > MAX_DAYS * DAY {
            return Err(Error::Invalid(format!(
                "daily counts cover {MAX_DAYS} days at most"
            )));
        }
        let admin = who.is_isac_admin();
        let readable: Option<BTreeSet<String>> = if admin {
            None
        } else {
            Some(
                self.store
                    .list_feeds()
                    .await?
                    .into_iter()
                    .filter(|f| policy::feed_rights(who, f).read)
                    .map(|f| f.name)
                    .collect(),
            )
        };
        // Each cell's count and the organisations that made it, gathered as the store reads.
        let cells: Arc<Mutex<Cells>> = Arc::default();
        let gather = {
            let cells = cells.clone();
            let geo = self.geo.clone();
            move |f: FirstReport| {
                if readable.as_ref().is_some_and(|r| !r.contains(&f.feed)) {
                    return;
                }
                let country = country_of(geo.as_deref(), &f.kind, &f.value);
                let day =
                    Timestamp::from_micros(f.at.as_micros().div_euclid(DAY) * DAY).to_string();
                if let Ok(mut cells) = cells.lock() {
                    let cell = cells
                        .entry((
                            day[..10].to_owned(),
                            f.category,
                            f.feed,
                            f.kind,
                            country,
                            f.sector,
                        ))
                        .or_default();
                    cell.0 += 1;
                    cell.1.insert(f.org);
                }
            }
        };
        self.store
            .first_reports(
                Timestamp::from_micros(from),
                Timestamp::from_micros(to),
                Box::new(gather),
            )
            .await?;
        let cells = std::mem::take(
            &mut *cells
                .lock()
                .map_err(|_| Error::Unavailable("daily counts were interrupted".into()))?,
        );
        let mut report = DailyReport {
            from: Timestamp::from_micros(from).to_string(),
            to: Timestamp::from_micros(to).to_string(),
            ..DailyReport::default()
        };
        for ((day, category, feed, kind, country, sector), (count, orgs)) in cells {
            let others = orgs.iter().filter(|o| **o != who.org_id).count();
            if !admin && others < MIN_MEMBERS {
                continue;
            }
            report.counts.push(DailyCount {
                day,
                category: category.as_str(),
                feed,
                kind,
                country,
                sector,
                count,
            });
        }
        Ok(report)
    }

    /// When each organisation first reported an observable, and when anyone did. A member
    /// sees only its own report (and so the first, when it was the first).
    pub async fn observable(
        &self,
        who: &Principal,
        kind: &str,
        value: &str,
    ) -> Result<ObservableFigures, Error> {
        require_member(who)?;
        if kind.trim().is_empty() || value.trim().is_empty() {
            return Err(Error::Invalid(
                "give the observable's kind and value".into(),
            ));
        }
        let o = stix::observable::normalize(kind, value).map_err(Error::Invalid)?;
        let (kind, value) = (o.kind.to_string(), o.value);
        let all = self.store.observable_reports(&kind, &value).await?;
        let admin = who.is_isac_admin();
        Ok(ObservableFigures {
            // Another member's earlier report may sit in an object this one cannot read: a
            // member learns of it only through its lead-time distribution.
            first: all
                .first()
                .filter(|r| admin || r.org == who.org_id)
                .map(|r| r.at.to_string()),
            reports: all
                .iter()
                .filter(|r| admin || r.org == who.org_id)
                .map(|r| FirstSeen {
                    org: r.org_name.clone(),
                    at: r.at.to_string(),
                })
                .collect(),
            kind,
            value,
        })
    }

    /// Rebuilds coverage and lead times from the first reports (ISAC administrators).
    pub async fn recompute(&self, who: &Principal) -> Result<u64, Error> {
        crate::require_admin(who, "recomputing metrics")?;
        let n = self
            .store
            .apply(
                Change::RecomputeMetrics,
                AuditEntry::by(who, "metrics.recompute"),
            )
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// A day (`YYYY-MM-DD`, UTC) or an RFC 3339 time; `end`: a day means its end.
pub fn parse_time(s: &str, end: bool) -> Result<Timestamp, Error> {
    if let Ok(t) = Timestamp::parse(s) {
        return Ok(t);
    }
    let day = Timestamp::parse(&format!("{s}T00:00:00Z"))
        .map_err(|_| Error::Invalid(format!("'{s}' is not a day (YYYY-MM-DD) or a time")))?;
    Ok(if end {
        Timestamp::from_micros(day.as_micros() + DAY)
    } else {
        day
    })
}

/// The period of a daily query: `from` and `to` as given, else the 30 days up to today.
pub fn period(from: Option<&str>, to: Option<&str>) -> Result<(Timestamp, Timestamp), Error> {
    let to = match to {
        Some(t) => parse_time(t, true)?,
        None => Timestamp::from_micros((Timestamp::now().as_micros().div_euclid(DAY) + 1) * DAY),
    };
    let from = match from {
        Some(f) => parse_time(f, false)?,
        None => Timestamp::from_micros(to.as_micros() - 30 * DAY),
    };
    Ok((from, to))
}

fn csv_text(write: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> csv::Result<()>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory fails only on a bug in the writer.
    let _ = write(&mut w);
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Coverage as one CSV table: `table` says what a row is (`org`, `pair` or `total`).
pub fn coverage_csv(r: &CoverageReport) -> String {
    csv_text(|w| {
        w.write_record([
            "table",
            "kind",
            "org",
            "other",
            "organisations",
            "reported",
            "unique",
            "preceded",
            "shared",
            "share",
        ])?;
        for o in &r.orgs {
            w.write_record([
                "org",
                &o.kind,
                &o.org,
                "",
                "",
                &o.reported.to_string(),
                &o.unique.to_string(),
                &o.preceded.to_string(),
                "",
                &format!("{:.4}", o.preceded_share),
            ])?;
        }
        for p in &r.pairs {
            w.write_record([
                "pair",
                &p.kind,
                &p.a,
                &p.b,
                "",
                "",
                "",
                "",
                &p.shared.to_string(),
                &format!("{:.4}", p.jaccard),
            ])?;
        }
        for t in &r.totals {
            w.write_record([
                "total",
                &t.kind,
                "",
                "",
                &t.organisations.to_string(),
                &t.reports.to_string(),
                &t.unique.to_string(),
                &t.preceded.to_string(),
                "",
                &format!("{:.4}", t.mean_jaccard),
            ])?;
        }
        Ok(())
    })
}

pub fn leads_csv(leads: &[LeadFigures]) -> String {
    csv_text(|w| {
        w.write_record(["org", "kind", "preceded", "median_seconds", "p90_seconds"])?;
        for l in leads {
            w.write_record([
                &l.org,
                &l.kind,
                &l.preceded.to_string(),
                &format!("{:.3}", l.median_seconds),
                &format!("{:.3}", l.p90_seconds),
            ])?;
        }
        Ok(())
    })
}

pub fn daily_csv(r: &DailyReport) -> String {
    csv_text(|w| {
        w.write_record([
            "day", "category", "feed", "kind", "country", "sector", "count",
        ])?;
        for c in &r.counts {
            w.write_record([
                &c.day,
                c.category,
                &c.feed,
                &c.kind,
                c.country.as_deref().unwrap_or(""),
                &c.sector,
                &c.count.to_string(),
            ])?;
        }
        Ok(())
    })
}
