//! The vocabulary of the relay's metrics: when each organisation first reported each
//! observable (by posting an object that names it, or a sighting of one), and the figures
//! kept from that: coverage (who reported what, alone or with whom), lead time (how long the
//! relay held an observable before an organisation reported it), and the first reports of C2
//! servers and phishing sites, for daily counts. Computing the figures for a caller, and who
//! may see which, is the `engine` crate's.

use serde_json::Value;
use stix::Timestamp;

/// What a first report says the observable is, for daily counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// A command-and-control server.
    C2,
    Phishing,
}

impl Category {
    pub const ALL: [Category; 2] = [Category::C2, Category::Phishing];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::C2 => "c2",
            Category::Phishing => "phishing",
        }
    }

    pub fn parse(s: &str) -> Result<Category, String> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown category '{s}': expected c2 or phishing"))
    }
}

/// Words that, in a label, a type vocabulary or a feed's name, make an object a C2 server's.
const C2_WORDS: [&str; 4] = ["c2", "command-and-control", "c&c", "botnet-c2"];

/// What an object says its observables are: C2 when posted to a feed named C2, or when its
/// `infrastructure_types`, `indicator_types`, `malware_types` or `labels` say
/// command-and-control; phishing when they say phishing.
pub fn classify(body: &Value, feed_name: &str) -> Option<Category> {
    let words: Vec<String> = ["infrastructure_types", "indicator_types", "labels"]
        .iter()
        .filter_map(|k| body.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_ascii_lowercase)
        .collect();
    let feed = feed_name.to_ascii_lowercase();
    if C2_WORDS.contains(&feed.as_str()) || words.iter().any(|w| C2_WORDS.contains(&w.as_str())) {
        Some(Category::C2)
    } else if feed.contains("phish") || words.iter().any(|w| w.contains("phish")) {
        Some(Category::Phishing)
    } else {
        None
    }
}

/// What one stored object adds to the metrics (objects of test feeds and of the relay's own
/// NOTICE feed add nothing, and carry none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsInput {
    pub category: Option<Category>,
    /// Objects it reports by reference (a sighting's `sighting_of_ref` and
    /// `observed_data_refs`): their observables count as reported by the poster too.
    pub reported_refs: Vec<String>,
}

impl MetricsInput {
    /// From a checked object's body, posted to the feed named `feed_name`.
    pub fn of(body: &Value, feed_name: &str) -> MetricsInput {
        let mut reported_refs = Vec::new();
        if body.get("type").and_then(Value::as_str) == Some("sighting") {
            if let Some(r) = body.get("sighting_of_ref").and_then(Value::as_str) {
                reported_refs.push(r.to_owned());
            }
            if let Some(refs) = body.get("observed_data_refs").and_then(Value::as_array) {
                reported_refs.extend(refs.iter().filter_map(Value::as_str).map(str::to_owned));
            }
        }
        MetricsInput {
            category: classify(body, feed_name),
            reported_refs,
        }
    }
}

/// One organisation's reports of one kind of observable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgCoverage {
    pub org: i64,
    pub org_name: String,
    pub kind: String,
    /// Distinct observables it reported.
    pub reported: u64,
    /// Of those, the ones no other organisation reported.
    pub unique: u64,
    /// Of those, the ones the relay held (from another organisation) before it reported them.
    pub preceded: u64,
}

/// Observables of one kind two organisations both reported (`a` < `b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairCoverage {
    pub kind: String,
    pub a: i64,
    pub a_name: String,
    pub b: i64,
    pub b_name: String,
    pub shared: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Coverage {
    pub orgs: Vec<OrgCoverage>,
    pub pairs: Vec<PairCoverage>,
}

/// How long before an organisation's first report of observables of one kind the relay
/// already held them: over the `count` it was preceded on, the median and 90th percentile
/// (nearest rank), in microseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadTimes {
    pub org: i64,
    pub org_name: String,
    pub kind: String,
    pub count: u64,
    pub p50_micros: i64,
    pub p90_micros: i64,
}

/// An organisation's first report of an observable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservableReport {
    pub org: i64,
    pub org_name: String,
    pub at: Timestamp,
}

/// The first report of a C2 server or phishing site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstReport {
    pub kind: String,
    pub value: String,
    pub at: Timestamp,
    pub org: i64,
    pub sector: String,
    /// The feed (by name) it was first reported in.
    pub feed: String,
    pub category: Category,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn classified_by_feed_and_vocabulary() {
        let plain = json!({"type": "indicator", "indicator_types": ["malicious-activity"]});
        assert_eq!(classify(&plain, "C2"), Some(Category::C2));
        assert_eq!(classify(&plain, "CX"), None);
        let infra =
            json!({"type": "infrastructure", "infrastructure_types": ["command-and-control"]});
        assert_eq!(classify(&infra, "CX"), Some(Category::C2));
        let phish = json!({"type": "indicator", "labels": ["Phishing-Kit"]});
        assert_eq!(classify(&phish, "CX"), Some(Category::Phishing));
        let sighting = json!({"type": "sighting", "sighting_of_ref": "indicator--a",
                              "observed_data_refs": ["observed-data--b"]});
        assert_eq!(
            MetricsInput::of(&sighting, "CX").reported_refs,
            ["indicator--a", "observed-data--b"]
        );
    }
}
