//! Feeds: what the ISAC carries, grouped by purpose. Each feed is served as one TAXII
//! collection, and is read and written by the organisations and trust groups granted to it.

use crate::tlp::Tlp;

/// Who a grant is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    Org { id: i64, name: String },
    Group { id: i64, name: String },
}

impl Grantee {
    pub fn kind(&self) -> &'static str {
        match self {
            Grantee::Org { .. } => "org",
            Grantee::Group { .. } => "group",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Grantee::Org { name, .. } | Grantee::Group { name, .. } => name,
        }
    }
}

/// A grantee named by an administrator, before it is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GranteeName {
    Org(String),
    Group(String),
}

/// Rights on one feed given to an organisation or a trust group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub grantee: Grantee,
    pub read: bool,
    pub write: bool,
}

/// How urgently a feed's entries should be acted on. Ordered: `Informational < Important <
/// Urgent`; consumer profiles keep feeds at or above a minimum, and capped polls serve the most
/// severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Informational,
    Important,
    Urgent,
}

impl Severity {
    pub const ALL: [Severity; 3] = [
        Severity::Urgent,
        Severity::Important,
        Severity::Informational,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Important => "important",
            Severity::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Result<Severity, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                format!("unknown severity '{s}': expected urgent, important or informational")
            })
    }

    /// The stored code: 0 informational, 1 important, 2 urgent.
    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn from_code(code: i64) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.code() == code)
    }
}

/// How many entries a feed is expected to carry: a hint for members sizing what they pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Volume {
    Few,
    Medium,
    Many,
}

impl Volume {
    pub const ALL: [Volume; 3] = [Volume::Many, Volume::Medium, Volume::Few];

    pub fn as_str(self) -> &'static str {
        match self {
            Volume::Few => "few",
            Volume::Medium => "medium",
            Volume::Many => "many",
        }
    }

    pub fn parse(s: &str) -> Result<Volume, String> {
        Volume::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown volume '{s}': expected many, medium or few"))
    }
}

/// What kind of collection a feed is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedKind {
    /// Holds objects; what members post and pull.
    Regular,
    /// Holds nothing itself: reading it gives what the caller may read across regular feeds,
    /// posting to it routes each object to its feed. The catalogue's `Default`.
    Aggregate,
    /// For trying things out: never in the aggregate, never exported, never federated.
    Test,
    /// Notifications to the member that owns an address (owner routing): written by the relay
    /// alone, each object TLP:RED naming its one recipient; never in the aggregate, never
    /// exported, never a routing target.
    Notice,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Regular => "regular",
            FeedKind::Aggregate => "aggregate",
            FeedKind::Test => "test",
            FeedKind::Notice => "notice",
        }
    }

    pub fn parse(s: &str) -> Result<FeedKind, String> {
        [
            FeedKind::Regular,
            FeedKind::Aggregate,
            FeedKind::Test,
            FeedKind::Notice,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| {
            format!("unknown feed kind '{s}': expected regular, aggregate, test or notice")
        })
    }
}

/// A feed as stored. `id` is the TAXII collection id (a UUID); `name` is its title, which
/// legacy clients also use to address it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The TLP of an object posted without one.
    pub default_tlp: Tlp,
    pub severity: Severity,
    pub volume: Volume,
    pub kind: FeedKind,
    /// Objects posted here are routed to the feed their title or the routing rules name (an
    /// aggregate feed is always an inbox).
    pub inbox: bool,
    /// A retired feed takes no new objects and is no routing target; what it holds stays
    /// readable.
    pub retired: bool,
    pub grants: Vec<Grant>,
}

impl Feed {
    /// Whether posts to this feed are routed by title and rules.
    pub fn routes(&self) -> bool {
        self.inbox || self.kind == FeedKind::Aggregate
    }

    /// Whether the feed holds objects that the aggregate feed serves.
    pub fn in_aggregate(&self) -> bool {
        self.kind == FeedKind::Regular
    }
}

/// What an administrator gives to create a feed.
#[derive(Debug, Clone)]
pub struct NewFeed {
    pub name: String,
    pub description: Option<String>,
    pub default_tlp: Tlp,
    pub severity: Severity,
    pub volume: Volume,
    pub kind: FeedKind,
    pub inbox: bool,
}

impl NewFeed {
    /// A regular feed with the usual settings: TLP:GREEN, important, medium volume.
    pub fn regular(name: &str) -> NewFeed {
        NewFeed {
            name: name.to_owned(),
            description: None,
            default_tlp: Tlp::Green,
            severity: Severity::Important,
            volume: Volume::Medium,
            kind: FeedKind::Regular,
            inbox: false,
        }
    }
}

/// A change to a feed's settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedSettings {
    pub description: Option<String>,
    pub default_tlp: Option<Tlp>,
    pub severity: Option<Severity>,
    pub volume: Option<Volume>,
    pub inbox: Option<bool>,
    pub retired: Option<bool>,
}

impl FeedSettings {
    pub fn is_empty(&self) -> bool {
        *self == FeedSettings::default()
    }

    /// The feed with these settings applied.
    pub fn applied_to(&self, feed: &Feed) -> Feed {
        let mut f = feed.clone();
        if let Some(d) = &self.description {
            f.description = (!d.is_empty()).then(|| d.clone());
        }
        f.default_tlp = self.default_tlp.unwrap_or(f.default_tlp);
        f.severity = self.severity.unwrap_or(f.severity);
        f.volume = self.volume.unwrap_or(f.volume);
        f.inbox = self.inbox.unwrap_or(f.inbox);
        f.retired = self.retired.unwrap_or(f.retired);
        f
    }

    /// A short account of the change, for the audit log.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(d) = &self.description {
            parts.push(format!("description={d:?}"));
        }
        if let Some(t) = self.default_tlp {
            parts.push(format!("default_tlp={}", t.as_str()));
        }
        if let Some(s) = self.severity {
            parts.push(format!("severity={}", s.as_str()));
        }
        if let Some(v) = self.volume {
            parts.push(format!("volume={}", v.as_str()));
        }
        if let Some(i) = self.inbox {
            parts.push(format!("inbox={i}"));
        }
        if let Some(r) = self.retired {
            parts.push(format!("retired={r}"));
        }
        parts.join(" ")
    }
}

/// Feed names are short identifiers (`C2`, `BKMW_CONFIG`), so that posters can name them in a
/// title and readers can name them in a URL.
pub fn check_feed_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "feed name '{name}' must be 1-64 characters of letters, digits, '_', '-' or '.'"
        ))
    }
}
