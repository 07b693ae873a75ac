//! Consumer profiles: what an organisation (or one of its tokens) wants to receive and how
//! much it can take. A small member can apply only a short list of the most urgent entries; a
//! large one with an analysis team wants everything. The same profile applies on TAXII, the
//! live streams, webhooks and exports.
//!
//! A token's profile, when it has one, replaces its organisation's; without either, nothing is
//! filtered and nothing capped.

use serde::{Deserialize, Serialize};

use crate::feed::{Feed, Severity};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Only these feeds (by name); empty: every feed the caller may read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<String>,
    /// Only feeds at least this severe.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "severity_opt"
    )]
    pub min_severity: Option<Severity>,
    /// Only objects whose `confidence` is at least this (objects without one are left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_confidence: Option<u8>,
    /// Only these object types; empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// At most this many objects per poll: the most severe, then the freshest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_poll: Option<u32>,
    /// At most this many objects per UTC day, over all polls; selected as per poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_day: Option<u32>,
    /// Rate limit: requests per second per token (429 beyond it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<u32>,
    /// Rate limit: objects served per UTC day per token (429 once reached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects_per_day: Option<u64>,
}

mod severity_opt {
    use super::Severity;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Severity>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(sev) => s.serialize_str(sev.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Severity>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| Severity::parse(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl Profile {
    /// Checks values a client gave, naming the first problem.
    pub fn check(&self, known_feeds: &[Feed]) -> Result<(), String> {
        for name in &self.feeds {
            if !known_feeds.iter().any(|f| f.name == *name) {
                return Err(format!("profile names an unknown feed '{name}'"));
            }
        }
        if self.min_confidence.is_some_and(|c| c > 100) {
            return Err("min_confidence must be between 0 and 100".into());
        }
        for t in &self.types {
            if !stix::id::is_type_name(t) {
                return Err(format!(
                    "profile names '{t}', which is not a STIX type name"
                ));
            }
        }
        for (name, v) in [
            ("max_per_poll", self.max_per_poll.map(u64::from)),
            ("max_per_day", self.max_per_day.map(u64::from)),
            (
                "requests_per_second",
                self.requests_per_second.map(u64::from),
            ),
            ("objects_per_day", self.objects_per_day),
        ] {
            if v == Some(0) {
                return Err(format!(
                    "{name} must be at least 1 (leave it out for no limit)"
                ));
            }
        }
        Ok(())
    }

    /// Whether the profile takes objects of this feed at all.
    pub fn wants_feed(&self, feed: &Feed) -> bool {
        (self.feeds.is_empty() || self.feeds.contains(&feed.name))
            && self.min_severity.is_none_or(|m| feed.severity >= m)
    }

    /// Whether the profile takes an object of this type and confidence.
    pub fn wants_object(&self, object_type: &str, confidence: Option<u8>) -> bool {
        (self.types.is_empty() || self.types.iter().any(|t| t == object_type))
            && self
                .min_confidence
                .is_none_or(|m| confidence.is_some_and(|c| c >= m))
    }

    /// Whether polls are capped (and so ranked) at all.
    pub fn caps(&self) -> bool {
        self.max_per_poll.is_some() || self.max_per_day.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_json_and_checks_values() {
        let p: Profile = serde_json::from_str(
            r#"{"min_severity": "urgent", "max_per_poll": 1000, "types": ["indicator"]}"#,
        )
        .unwrap();
        assert_eq!(p.min_severity, Some(Severity::Urgent));
        let back = serde_json::to_value(&p).unwrap();
        assert_eq!(back["min_severity"], "urgent");
        assert!(back.get("feeds").is_none());
        assert!(serde_json::from_str::<Profile>(r#"{"max_per_pol": 3}"#).is_err());
        assert!(serde_json::from_str::<Profile>(r#"{"min_severity": "high"}"#).is_err());
        let zero = Profile {
            max_per_poll: Some(0),
            ..Profile::default()
        };
        assert!(zero.check(&[]).unwrap_err().contains("max_per_poll"));
    }

    #[test]
    fn confidence_filter_leaves_out_unrated_objects() {
        let p = Profile {
            min_confidence: Some(50),
            ..Profile::default()
        };
        assert!(p.wants_object("indicator", Some(50)));
        assert!(!p.wants_object("indicator", Some(49)));
        assert!(!p.wants_object("indicator", None));
        assert!(Profile::default().wants_object("indicator", None));
    }
}
