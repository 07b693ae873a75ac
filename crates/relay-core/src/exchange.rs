//! The storage vocabulary of exports and of the block-list exchange: which observables are
//! exported, what a store scan yields for them, the lists members apply, the ISAC's allowlist and
//! members' own networks and domains. The export logic itself (filters, warning lists, formats)
//! lives in the `engine` crate; this module only names what crosses the `Store` trait.

use stix::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::policy::Visibility;
use crate::tlp::Tlp;

/// Object types whose observables are exported: indicators and the observable objects a feed
/// carries on their own. Observed data and sightings describe what was seen (victims too), not
/// what to block.
pub const EXPORTED_TYPES: &[&str] = &[
    "indicator",
    "ipv4-addr",
    "ipv6-addr",
    "domain-name",
    "url",
    "file",
];

/// Whether observables of this stored kind (`ipv4`, `domain`, `hash:SHA-256`, ...) are
/// exported. Ports, e-mail addresses and AS numbers are not block-list entries.
pub fn exported_kind(kind: &str) -> bool {
    matches!(kind, "ipv4" | "ipv6" | "domain" | "url") || kind.starts_with("hash:")
}

/// Where the export state stands: the newest change logged and the newest expiry passed.
/// Two exports of the same request at the same version are identical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportVersion {
    /// The newest entry of the change log (0: none).
    pub change: i64,
    /// The newest `valid_until` or list expiry that has passed (µs; 0: none).
    pub expired: i64,
    /// Changes up to this one were pruned: an export older cannot be brought up to date.
    pub pruned_through: i64,
}

/// A point an incremental export starts from: a change and the time of the earlier export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportClock {
    pub change: i64,
    pub at: Timestamp,
}

/// What an export reads.
#[derive(Debug, Clone)]
pub struct ExportScan {
    /// The feeds read, each by id with what the caller may see in it.
    pub feeds: Vec<(String, Visibility)>,
    /// Stored kinds wanted; empty: every exported kind.
    pub kinds: Vec<String>,
    pub now: Timestamp,
    /// Leave out revoked and expired sources and expired lists.
    pub active_only: bool,
    /// Only the observables whose state may have changed since this point; each is yielded
    /// even when nothing of it is left, so that the caller can report it removed.
    pub since: Option<ExportClock>,
}

/// One object version that exports an observable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSource {
    /// Index into `ExportScan::feeds`.
    pub feed: usize,
    /// One of `EXPORTED_TYPES`.
    pub object_type: &'static str,
    pub tlp: Tlp,
    pub confidence: Option<u8>,
    /// How many organisations reported the observable.
    pub corroboration: u32,
    pub date_added: Timestamp,
    pub valid_until: Option<Timestamp>,
}

/// One member's applied list that holds an observable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedSource {
    /// Index into `ExportScan::feeds`.
    pub feed: usize,
    pub org: i64,
    pub tlp: Tlp,
    pub uploaded: Timestamp,
    pub expires: Timestamp,
}

/// Everything the scan found for one observable, visible to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportGroup {
    pub kind: String,
    pub value: String,
    pub sources: Vec<ExportSource>,
    pub applied: Vec<AppliedSource>,
}

/// Where a scan sends its result: the version it read at first, then groups in batches,
/// ordered by (kind, value) as byte strings.
#[derive(Debug)]
pub struct ExportSink {
    pub version: oneshot::Sender<ExportVersion>,
    pub groups: mpsc::Sender<Vec<ExportGroup>>,
}

/// A member's upload of the list it applies to one feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedUpload {
    pub org: i64,
    pub feed_id: String,
    pub tlp: Tlp,
    pub expires: Timestamp,
    /// (kind, value), normalised, without duplicates.
    pub entries: Vec<(String, String)>,
}

/// A member's applied list as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedList {
    pub org: i64,
    pub feed_id: String,
    pub tlp: Tlp,
    pub uploaded: Timestamp,
    pub expires: Timestamp,
    /// (kind, value), in order.
    pub entries: Vec<(String, String)>,
}

/// What the allowlist and members' assets hold: an address or network, a domain (and its
/// subdomains), a URL or a hash; members also register their AS numbers (`AS64500`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AssetKind {
    Cidr,
    Domain,
    Url,
    Hash,
    Asn,
}

impl AssetKind {
    pub fn code(self) -> &'static str {
        match self {
            AssetKind::Cidr => "cidr",
            AssetKind::Domain => "domain",
            AssetKind::Url => "url",
            AssetKind::Hash => "hash",
            AssetKind::Asn => "asn",
        }
    }

    pub fn from_code(code: &str) -> Option<AssetKind> {
        Some(match code {
            "cidr" => AssetKind::Cidr,
            "domain" => AssetKind::Domain,
            "url" => AssetKind::Url,
            "hash" => AssetKind::Hash,
            "asn" => AssetKind::Asn,
            _ => return None,
        })
    }
}

/// An allowlist entry: never exported, whoever posted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    pub id: i64,
    pub kind: AssetKind,
    pub value: String,
    pub reason: String,
    pub created: Timestamp,
}

/// A member's own network or domain: never exported to that member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAsset {
    pub id: i64,
    pub org: i64,
    pub org_name: String,
    pub kind: AssetKind,
    pub value: String,
    pub added: Timestamp,
    pub removed: Option<Timestamp>,
    /// When the registration holds: from (`None`: since it was added) until (`None`: open).
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
}

impl OrgAsset {
    /// Whether the registration holds at `at`.
    pub fn holds_at(&self, at: Timestamp) -> bool {
        self.removed.is_none_or(|r| r > at)
            && self.valid_from.is_none_or(|f| f <= at)
            && self.valid_until.is_none_or(|u| u > at)
    }
}
