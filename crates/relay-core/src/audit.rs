//! The audit log: who did what, when, from where. Entries are appended by the services (every
//! authentication failure, write, read and change of accounts or rights) and never changed;
//! only the ISAC administrator reads them.

use serde_json::{Value, json};
use stix::Timestamp;

use crate::principal::Principal;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Timestamp,
    /// The user name, or what was presented when authentication failed.
    pub actor: String,
    pub org: Option<String>,
    /// The client's address, for requests over the network.
    pub source: Option<String>,
    /// What happened, as `area.verb` (`objects.add`, `auth.failure`, `feed.grant`).
    pub action: String,
    pub feed: Option<String>,
    /// How many objects were read or written.
    pub count: Option<u64>,
    /// The ids of the objects written or deleted.
    pub ids: Vec<String>,
    /// Anything else worth knowing (the account changed, the grant given, why it failed).
    pub detail: Option<String>,
}

impl AuditEntry {
    /// An entry for an act of an authenticated principal.
    pub fn by(who: &Principal, action: &str) -> AuditEntry {
        AuditEntry {
            at: Timestamp::now(),
            actor: who.user_name.clone(),
            org: Some(who.org_name.clone()),
            source: who.source.clone(),
            action: action.to_owned(),
            feed: None,
            count: None,
            ids: Vec::new(),
            detail: None,
        }
    }

    pub fn feed(mut self, feed: &str) -> Self {
        self.feed = Some(feed.to_owned());
        self
    }

    pub fn count(mut self, n: usize) -> Self {
        self.count = Some(n as u64);
        self
    }

    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }

    pub fn source(mut self, s: Option<String>) -> Self {
        self.source = s;
        self
    }
}

/// A stored entry with its position in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    pub entry: AuditEntry,
}

impl AuditRecord {
    /// The record as one line of the JSON-lines export.
    pub fn to_json(&self) -> Value {
        let e = &self.entry;
        let mut v = json!({
            "seq": self.seq,
            "at": e.at.to_string(),
            "actor": e.actor,
            "action": e.action,
        });
        let put = |v: &mut Value, k: &str, x: Option<Value>| {
            if let Some(x) = x {
                v[k] = x;
            }
        };
        put(&mut v, "org", e.org.clone().map(Value::String));
        put(&mut v, "source", e.source.clone().map(Value::String));
        put(&mut v, "feed", e.feed.clone().map(Value::String));
        put(&mut v, "count", e.count.map(Value::from));
        if !e.ids.is_empty() {
            v["ids"] = json!(e.ids);
        }
        put(&mut v, "detail", e.detail.clone().map(Value::String));
        v
    }
}

/// Which entries to read, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Entries at or after this time.
    pub since: Option<Timestamp>,
    /// Entries after this position (paging).
    pub after_seq: Option<i64>,
    /// Only this action, or actions under this area when it ends with `.` (`auth.`).
    pub action: Option<String>,
    pub limit: usize,
}
