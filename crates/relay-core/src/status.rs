//! TAXII status resources: the outcome of one POST of objects, kept for later reads.

use serde::{Deserialize, Serialize};

/// One object's outcome in a status resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDetail {
    pub id: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A TAXII 2.1 status resource (section 4.3.1). The relay commits every accepted object before
/// it answers, so a status it returns is always `complete` with no pendings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub id: String,
    pub status: String,
    pub request_timestamp: String,
    pub total_count: u64,
    pub success_count: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub successes: Vec<StatusDetail>,
    pub failure_count: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<StatusDetail>,
    pub pending_count: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pendings: Vec<StatusDetail>,
}

/// What became of one valid object in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored; with the validator's warnings and a note (where routing sent it), which the
    /// status keeps.
    Added {
        id: String,
        version: String,
        warnings: Vec<String>,
        note: Option<String>,
    },
    /// The same id and version was already in the feed; nothing new was stored.
    AlreadyPresent { id: String, version: String },
}

/// A status resource before the store has written the valid objects.
#[derive(Debug, Clone)]
pub struct StatusDraft {
    pub id: String,
    pub request_timestamp: String,
    pub total_count: u64,
    pub failures: Vec<StatusDetail>,
}

impl StatusDraft {
    /// The finished status resource, given what the store did with each valid object.
    pub fn complete(self, outcomes: Vec<Outcome>) -> Status {
        let successes: Vec<StatusDetail> = outcomes
            .into_iter()
            .map(|o| match o {
                Outcome::Added {
                    id,
                    version,
                    warnings,
                    note,
                } => {
                    let warned = (!warnings.is_empty())
                        .then(|| format!("accepted with warnings: {}", warnings.join("; ")));
                    let message = match (note, warned) {
                        (Some(n), Some(w)) => Some(format!("{n}; {w}")),
                        (n, w) => n.or(w),
                    };
                    StatusDetail {
                        id,
                        version,
                        message,
                    }
                }
                Outcome::AlreadyPresent { id, version } => StatusDetail {
                    id,
                    version,
                    message: Some(
                        "this version of the object was already in the collection".into(),
                    ),
                },
            })
            .collect();
        Status {
            id: self.id,
            status: "complete".into(),
            request_timestamp: self.request_timestamp,
            total_count: self.total_count,
            success_count: successes.len() as u64,
            successes,
            failure_count: self.failures.len() as u64,
            failures: self.failures,
            pending_count: 0,
            pendings: Vec::new(),
        }
    }
}
