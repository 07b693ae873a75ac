//! The storage vocabulary of owner routing: scan campaigns (a monthly NOTICE-style cycle, or a
//! standing one) with the snapshot of members' ranges taken when they start, the findings
//! routed to the member owning each address, their lifecycle, and the record of each upload.
//! Parsing, routing and reports live in the `engine` crate.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use stix::Timestamp;

/// How a campaign runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignKind {
    /// One cycle: ranges early in the month, results around the 20th, reports the month after.
    Monthly,
    /// Open-ended: results arrive any day (infected hosts, C2 servers in members' networks).
    Standing,
}

impl CampaignKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignKind::Monthly => "monthly",
            CampaignKind::Standing => "standing",
        }
    }

    pub fn parse(s: &str) -> Result<CampaignKind, String> {
        match s {
            "monthly" => Ok(CampaignKind::Monthly),
            "standing" => Ok(CampaignKind::Standing),
            _ => Err(format!(
                "unknown campaign kind '{s}': expected monthly or standing"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub kind: CampaignKind,
    /// The cycle's dates in words (e.g. "ranges on the 1st, results by the 20th").
    pub schedule: Option<String>,
    pub created: Timestamp,
    /// Networks in the range snapshot.
    pub ranges: usize,
    /// For the campaign fed by shared objects: the last object examined.
    pub cursor: Option<Timestamp>,
}

/// A new campaign; the store snapshots the ranges valid at `at` in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCampaign {
    pub name: String,
    pub kind: CampaignKind,
    pub schedule: Option<String>,
    pub at: Timestamp,
}

/// One network of a campaign's snapshot and the organisation it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRange {
    pub net: String,
    pub org: i64,
}

/// A finding's progress at the member that owns the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingStatus {
    New,
    Notified,
    Remediated,
    Unreachable,
    FalsePositive,
}

impl FindingStatus {
    pub const ALL: [FindingStatus; 5] = [
        FindingStatus::New,
        FindingStatus::Notified,
        FindingStatus::Remediated,
        FindingStatus::Unreachable,
        FindingStatus::FalsePositive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::New => "new",
            FindingStatus::Notified => "notified",
            FindingStatus::Remediated => "remediated",
            FindingStatus::Unreachable => "unreachable",
            FindingStatus::FalsePositive => "false-positive",
        }
    }

    pub fn parse(s: &str) -> Result<FindingStatus, String> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        FindingStatus::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown status '{s}': expected new, notified, remediated, unreachable or \
                     false-positive"
                )
            })
    }

    /// Where a finding may go from here: forward through the lifecycle, or back to `new` to
    /// correct a mistake. A closed finding (remediated, unreachable, false positive) may be
    /// reopened as notified.
    pub fn may_become(self, next: FindingStatus) -> bool {
        use FindingStatus::*;
        match (self, next) {
            (a, b) if a == b => true,
            (_, New) => true,
            (New, _) => true,
            (Notified, _) => true,
            (Remediated | Unreachable | FalsePositive, Notified) => true,
            _ => false,
        }
    }
}

impl fmt::Display for FindingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The protocol and kind of a finding (`tcp`, `telnet-login-prompt`): few distinct ones in a
/// campaign, so findings name them by their index in a table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FindingKind {
    /// Lower case; empty when none was given.
    pub protocol: String,
    pub finding: String,
}

/// A finding routed to its owner, not yet stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFinding {
    /// The address, canonical (an IPv4-mapped IPv6 address is IPv4).
    pub ip: IpAddr,
    /// The length of the snapshot network it matched (the longest); the network is the address
    /// cut to it.
    pub prefix_len: u8,
    /// 0 when the finding names no port.
    pub port: u16,
    /// Index into its block's `kinds`.
    pub kind: u32,
    pub first_observed: Timestamp,
    pub last_observed: Timestamp,
    /// More than 1 when the same finding came again before it was stored.
    pub times_seen: u32,
    pub detail: Option<String>,
}

/// New findings of one member in one campaign, under the consecutive ids `first_id ..
/// first_id + findings.len()`: the unit the store writes (millions of findings are thousands
/// of writes, not millions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingBlock {
    pub org: i64,
    pub first_id: i64,
    /// What each finding's `kind` indexes (may hold kinds none of them uses).
    pub kinds: Arc<[FindingKind]>,
    pub findings: Vec<NewFinding>,
}

/// A stored finding of a campaign seen again (same address, port, protocol and kind): seen
/// once more, its observation period widened, its detail replaced when this one has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    pub into: i64,
    /// The organisation `into` belongs to (the store refuses a merge across organisations).
    pub org: i64,
    pub observed: Timestamp,
    pub detail: Option<String>,
}

/// What one write of routed findings holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FindingsBatch {
    pub blocks: Vec<FindingBlock>,
    pub merges: Vec<Merge>,
}

impl FindingsBatch {
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty() && self.merges.is_empty()
    }
}

/// What the writer did with a batch: stored new, or merged into a finding already stored for
/// the same address, port, protocol and kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FindingsAdded {
    pub added: usize,
    pub merged: usize,
}

/// A stored finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: i64,
    pub campaign: String,
    pub org: i64,
    pub org_name: String,
    pub prefix: String,
    pub ip: String,
    pub port: u16,
    pub protocol: String,
    pub finding: String,
    pub first_observed: Timestamp,
    pub last_observed: Timestamp,
    pub times_seen: u32,
    pub detail: Option<String>,
    pub status: FindingStatus,
    pub status_at: Option<Timestamp>,
    pub status_note: Option<String>,
    /// Rises with every merge and status change.
    pub version: u32,
}

/// A page of findings, by id. `org` scopes the query to one member: the ISAC administrator
/// alone asks without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingQuery {
    pub org: Option<i64>,
    pub campaign: Option<i64>,
    pub status: Option<FindingStatus>,
    /// Findings with an id above this one.
    pub after: i64,
    pub limit: usize,
    /// Only these findings (empty: any).
    pub ids: Vec<i64>,
}

/// Findings waiting to be published to the NOTICE feed: changed ones first, then new ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unpublished {
    pub findings: Vec<Finding>,
    /// Where the new ones end: publishing them moves the feed's cursor here.
    pub through: i64,
}

/// One status change of a bulk update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub id: i64,
    pub status: FindingStatus,
    pub note: Option<String>,
}

/// The record of one result upload, kept for the ISAC: what was routed, merged, unmatched
/// (no member owns the address) and malformed (with the first errors by line number).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UploadRecord {
    pub campaign: i64,
    pub uploader: String,
    pub at: Option<Timestamp>,
    pub lines: u64,
    pub added: u64,
    pub merged: u64,
    pub unmatched: u64,
    pub malformed: u64,
    pub errors: Vec<String>,
}

/// How many findings one member has of one kind in one status (for reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingCount {
    pub org: i64,
    pub org_name: String,
    pub finding: String,
    pub status: FindingStatus,
    pub count: u64,
}
