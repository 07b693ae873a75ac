//! One exported entry: what the scan found for an observable, narrowed by the request's and the
//! profile's filters, and its rank when the export is capped.

use std::cmp::Ordering;

use relay_core::exchange::ExportGroup;
use relay_core::feed::{Feed, Severity};
use relay_core::profile::Profile;
use relay_core::tlp::Tlp;
use stix::Timestamp;

use super::request::ExportRequest;

/// An observable as exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: String,
    pub value: String,
    /// Indexes of the feeds it came from (into the export's feed list), ascending.
    pub feeds: Vec<usize>,
    /// The highest severity of those feeds.
    pub severity: Severity,
    /// The highest confidence of its objects.
    pub confidence: Option<u8>,
    /// How many organisations reported it.
    pub corroboration: u32,
    /// How many members apply it (in lists the caller may see).
    pub applied_by: u32,
    /// The least restrictive TLP it is visible under: where the caller learnt it.
    pub tlp: Tlp,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// When its last source stops being valid; `None`: some source has no end.
    pub valid_until: Option<Timestamp>,
}

impl Entry {
    /// Ranking for capped exports: applied by more members, more severe, more corroborated,
    /// more confident, fresher; the value breaks ties.
    pub fn rank_cmp(&self, other: &Entry) -> Ordering {
        (
            other.applied_by,
            other.severity,
            other.corroboration,
            other.confidence.unwrap_or(0),
            other.last_seen,
        )
            .cmp(&(
                self.applied_by,
                self.severity,
                self.corroboration,
                self.confidence.unwrap_or(0),
                self.last_seen,
            ))
            .then_with(|| (&self.kind, &self.value).cmp(&(&other.kind, &other.value)))
    }
}

/// The filters an entry passes, from the request and the caller's profile.
#[derive(Debug, Clone)]
pub struct Filter {
    pub min_severity: Option<Severity>,
    pub min_confidence: Option<u8>,
    pub types: Vec<String>,
    pub min_corroboration: u32,
    pub min_applied_by: u32,
}

impl Filter {
    pub fn new(req: &ExportRequest, profile: &Profile) -> Filter {
        Filter {
            min_severity: req.min_severity.max(profile.min_severity),
            min_confidence: req.min_confidence.max(profile.min_confidence),
            types: profile.types.clone(),
            min_corroboration: req.min_corroboration.unwrap_or(0),
            min_applied_by: req.min_applied_by.unwrap_or(0),
        }
    }

    /// The entry for a scanned observable, or `None` when nothing of it passes. Objects pass on
    /// their feed's severity, their type and their confidence (an object without one fails a
    /// minimum); applied lists on their feed's severity: members applying an entry is its own
    /// measure of trust.
    pub fn entry(&self, group: ExportGroup, feeds: &[Feed]) -> Option<Entry> {
        let severe = |feed: usize| {
            self.min_severity
                .is_none_or(|m| feeds.get(feed).is_some_and(|f| f.severity >= m))
        };
        let mut entry = Entry {
            kind: group.kind,
            value: group.value,
            feeds: Vec::new(),
            severity: Severity::Informational,
            confidence: None,
            corroboration: 0,
            applied_by: 0,
            tlp: Tlp::Red,
            first_seen: Timestamp::from_micros(i64::MAX),
            last_seen: Timestamp::from_micros(i64::MIN),
            valid_until: Some(Timestamp::from_micros(i64::MIN)),
        };
        let mut any = false;
        let mut note = |e: &mut Entry, feed: usize, tlp: Tlp, seen: Timestamp, until| {
            any = true;
            e.feeds.push(feed);
            if let Some(f) = feeds.get(feed) {
                e.severity = e.severity.max(f.severity);
            }
            e.tlp = e.tlp.min(tlp);
            e.first_seen = e.first_seen.min(seen);
            e.last_seen = e.last_seen.max(seen);
            e.valid_until = match (e.valid_until, until) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        };
        for s in &group.sources {
            let typed = self.types.is_empty() || self.types.iter().any(|t| t == s.object_type);
            let confident = self
                .min_confidence
                .is_none_or(|m| s.confidence.is_some_and(|c| c >= m));
            if !(severe(s.feed) && typed && confident) {
                continue;
            }
            note(&mut entry, s.feed, s.tlp, s.date_added, s.valid_until);
            entry.confidence = entry.confidence.max(s.confidence);
            entry.corroboration = entry.corroboration.max(s.corroboration);
        }
        let mut orgs: Vec<i64> = Vec::new();
        for a in &group.applied {
            if !severe(a.feed) {
                continue;
            }
            note(&mut entry, a.feed, a.tlp, a.uploaded, Some(a.expires));
            orgs.push(a.org);
        }
        if !any {
            return None;
        }
        orgs.sort_unstable();
        orgs.dedup();
        entry.applied_by = u32::try_from(orgs.len()).unwrap_or(u32::MAX);
        entry.feeds.sort_unstable();
        entry.feeds.dedup();
        (entry.corroboration >= self.min_corroboration && entry.applied_by >= self.min_applied_by)
            .then_some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay_core::exchange::{AppliedSource, ExportSource};
    use relay_core::feed::{FeedKind, Volume};

    fn feed(name: &str, severity: Severity) -> Feed {
        Feed {
            id: format!("id-{name}"),
            name: name.to_owned(),
            description: None,
            default_tlp: Tlp::Green,
            severity,
            volume: Volume::Medium,
            kind: FeedKind::Regular,
            inbox: false,
            retired: false,
            grants: Vec::new(),
        }
    }

    fn source(feed: usize, confidence: Option<u8>, tlp: Tlp, added: i64) -> ExportSource {
        ExportSource {
            feed,
            object_type: "indicator",
            tlp,
            confidence,
            corroboration: 2,
            date_added: Timestamp::from_micros(added),
            valid_until: None,
        }
    }

    fn filter() -> Filter {
        Filter {
            min_severity: None,
            min_confidence: None,
            types: Vec::new(),
            min_corroboration: 0,
            min_applied_by: 0,
        }
    }

    #[test]
    fn entry_merges_sources_and_lists() {
        let feeds = [
            feed("C2", Severity::Urgent),
            feed("CX", Severity::Informational),
        ];
        let group = ExportGroup {
            kind: "ipv4".into(),
            value: "203.0.113.9".into(),
            sources: vec![
                source(1, Some(40), Tlp::Amber, 5),
                source(0, Some(80), Tlp::Green, 9),
            ],
            applied: vec![
                AppliedSource {
                    feed: 1,
                    org: 7,
                    tlp: Tlp::Clear,
                    uploaded: Timestamp::from_micros(3),
                    expires: Timestamp::from_micros(100),
                },
                AppliedSource {
                    feed: 0,
                    org: 7,
                    tlp: Tlp::Green,
                    uploaded: Timestamp::from_micros(4),
                    expires: Timestamp::from_micros(100),
                },
            ],
        };
        let e = filter().entry(group.clone(), &feeds).unwrap();
        assert_eq!(e.feeds, [0, 1]);
        assert_eq!(e.severity, Severity::Urgent);
        assert_eq!(e.confidence, Some(80));
        assert_eq!(e.applied_by, 1, "one organisation, two lists");
        assert_eq!(e.tlp, Tlp::Clear);
        assert_eq!(e.first_seen, Timestamp::from_micros(3));
        assert_eq!(e.valid_until, None, "an object without an end");

        let mut f = filter();
        f.min_confidence = Some(50);
        f.min_severity = Some(Severity::Urgent);
        let e = f.entry(group.clone(), &feeds).unwrap();
        assert_eq!(e.feeds, [0]);
        assert_eq!(e.confidence, Some(80));
        f.min_applied_by = 2;
        assert!(f.entry(group, &feeds).is_none());
    }
}
