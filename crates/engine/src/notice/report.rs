//! Monthly reports: per member, what was found in its networks and how far notification went;
//! ISAC-wide, the same summed over members, where a cell that could point at one member (a
//! count under `MIN_COUNT`, or one fed by fewer than `MIN_MEMBERS` members) is suppressed.
//! Reports are counts only: an address never appears in one.

use std::collections::{BTreeMap, BTreeSet};

use relay_core::notice::{FindingCount, FindingStatus};
use serde::Serialize;
use stix::Timestamp;

/// Counts below this are suppressed in ISAC-wide reports.
pub const MIN_COUNT: u64 = 5;
/// Cells fed by fewer members than this are suppressed in ISAC-wide reports.
pub use relay_core::policy::MIN_MEMBERS_IN_AGGREGATE as MIN_MEMBERS;

/// One kind of finding. A count is `None` where suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    pub finding: String,
    pub findings: Option<u64>,
    /// Notified so far (notified or remediated).
    pub notified: Option<u64>,
    pub remediated: Option<u64>,
    pub unreachable: Option<u64>,
    pub false_positive: Option<u64>,
    /// Not yet acted on.
    pub open: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthlyReport {
    pub month: String,
    /// The member reported on; `None`: ISAC-wide.
    pub org: Option<String>,
    /// ISAC-wide: how many members had findings.
    pub members: Option<usize>,
    pub rows: Vec<ReportRow>,
    pub suppressed: bool,
}

/// `YYYY-MM` as [first day, first day of the next month).
pub fn month_bounds(month: &str) -> Result<(Timestamp, Timestamp), String> {
    let bad = || format!("month '{month}' is not YYYY-MM");
    let (y, m) = month.split_once('-').ok_or_else(bad)?;
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(1970..=9998).contains(&y) || !(1..=12).contains(&m) || month.len() != 7 {
        return Err(bad());
    }
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let at = |y: i32, m: u32| {
        Timestamp::parse(&format!("{y:04}-{m:02}-01T00:00:00Z")).map_err(|_| bad())
    };
    Ok((at(y, m)?, at(ny, nm)?))
}

/// Per-status sums of one kind of finding, with the members that fed each.
#[derive(Default)]
struct Cell {
    by_status: BTreeMap<FindingStatus, (u64, BTreeSet<i64>)>,
}

impl Cell {
    fn add(&mut self, c: &FindingCount) {
        let e = self.by_status.entry(c.status).or_default();
        e.0 += c.count;
        e.1.insert(c.org);
    }

    /// The sum over some statuses, and the members behind it.
    fn sum(&self, statuses: &[FindingStatus]) -> (u64, usize) {
        let mut n = 0;
        let mut orgs: BTreeSet<i64> = BTreeSet::new();
        for s in statuses {
            if let Some((c, o)) = self.by_status.get(s) {
                n += c;
                orgs.extend(o);
            }
        }
        (n, orgs.len())
    }
}

const ALL: [FindingStatus; 5] = FindingStatus::ALL;

fn rows(counts: &[FindingCount], suppress: bool) -> (Vec<ReportRow>, bool) {
    let mut cells: BTreeMap<&str, Cell> = BTreeMap::new();
    for c in counts {
        cells.entry(c.finding.as_str()).or_default().add(c);
    }
    let mut any_suppressed = false;
    let mut show = |(n, members): (u64, usize)| {
        if suppress && n > 0 && (n < MIN_COUNT || members < MIN_MEMBERS) {
            any_suppressed = true;
            None
        } else {
            Some(n)
        }
    };
    let rows = cells
        .into_iter()
        .map(|(finding, cell)| {
            use FindingStatus::*;
            ReportRow {
                finding: finding.to_owned(),
                findings: show(cell.sum(&ALL)),
                notified: show(cell.sum(&[Notified, Remediated])),
                remediated: show(cell.sum(&[Remediated])),
                unreachable: show(cell.sum(&[Unreachable])),
                false_positive: show(cell.sum(&[FalsePositive])),
                open: show(cell.sum(&[New])),
            }
        })
        .collect();
    (rows, any_suppressed)
}

/// One member's report: exact counts of its own findings.
pub fn member(month: &str, org: &str, counts: &[FindingCount]) -> MonthlyReport {
    let (rows, _) = rows(counts, false);
    MonthlyReport {
        month: month.to_owned(),
        org: Some(org.to_owned()),
        members: None,
        rows,
        suppressed: false,
    }
}

/// The ISAC-wide report: sums over members, small cells suppressed.
pub fn isac_wide(month: &str, counts: &[FindingCount]) -> MonthlyReport {
    let members = counts.iter().map(|c| c.org).collect::<BTreeSet<_>>().len();
    let (rows, suppressed) = rows(counts, true);
    MonthlyReport {
        month: month.to_owned(),
        org: None,
        members: Some(members),
        rows,
        suppressed,
    }
}

impl MonthlyReport {
    /// The report as sentences, the way the ISAC publishes it.
    pub fn text(&self) -> String {
        let n =
            |v: Option<u64>| v.map_or("fewer than 5 (suppressed)".to_owned(), |v| format!("{v}"));
        let mut out = match (&self.org, self.members) {
            (Some(org), _) => format!("{org}, {}\n", self.month),
            (None, Some(m)) => format!("ISAC-wide, {}: {m} members with findings\n", self.month),
            (None, None) => format!("ISAC-wide, {}\n", self.month),
        };
        if self.rows.is_empty() {
            out.push_str("no findings\n");
        }
        for r in &self.rows {
            out.push_str(&format!(
                "{}: {} findings; {} notified, {} remediated, {} unreachable, {} false positives, {} open\n",
                r.finding,
                n(r.findings),
                n(r.notified),
                n(r.remediated),
                n(r.unreachable),
                n(r.false_positive),
                n(r.open)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(org: i64, finding: &str, status: FindingStatus, count: u64) -> FindingCount {
        FindingCount {
            org,
            org_name: format!("org{org}"),
            finding: finding.into(),
            status,
            count,
        }
    }

    #[test]
    fn isac_wide_suppresses_what_could_name_a_member() {
        use FindingStatus::*;
        let counts = [
            count(1, "login-prompt", New, 40_000),
            count(2, "login-prompt", Notified, 30_000),
            count(3, "login-prompt", Remediated, 28_000),
            // Only one member could log in to devices: its figures are its own.
            count(1, "logged-in", Notified, 505),
            // Three members, but a count of 3 is small.
            count(1, "default-creds", New, 1),
            count(2, "default-creds", New, 1),
            count(3, "default-creds", New, 1),
        ];
        let r = isac_wide("2026-11", &counts);
        assert_eq!(r.members, Some(3));
        assert!(r.suppressed);
        let row = |f: &str| r.rows.iter().find(|x| x.finding == f).unwrap().clone();
        let login = row("login-prompt");
        assert_eq!(login.findings, Some(98_000));
        // 58,000 notified counts two members only: suppressed.
        assert_eq!(login.notified, None);
        // 40,000 open findings are one member's.
        assert_eq!(login.open, None);
        assert_eq!(row("logged-in").findings, None);
        assert_eq!(row("default-creds").findings, None);
        assert_eq!(login.unreachable, Some(0));
        let m = member("2026-11", "org1", &counts[..1]);
        assert_eq!(m.rows[0].findings, Some(40_000));
        assert!(r.text().contains("98000 findings"));
    }

    #[test]
    fn months() {
        let (a, b) = month_bounds("2026-12").unwrap();
        assert_eq!(a.to_string(), "2026-12-01T00:00:00.000000Z");
        assert_eq!(b.to_string(), "2027-01-01T00:00:00.000000Z");
        for bad in ["2026-13", "2026-1", "26-01", "x"] {
            assert!(month_bounds(bad).is_err(), "{bad}");
        }
    }
}
