//! The ISAC's feed catalogue: the feeds a fresh relay ships with, grouped by purpose, so that
//! members pull what they can use (a bank the banking-malware feeds, a small member only the
//! urgent ones). Administrators change, retire and add to them afterwards.

use crate::feed::{FeedKind, NewFeed, Severity, Volume};
use crate::tlp::Tlp;

/// The name of the aggregate feed.
pub const DEFAULT_FEED: &str = "Default";
/// The name of the owner-routing notification feed.
pub const NOTICE_FEED: &str = "NOTICE";

struct Entry {
    name: &'static str,
    description: &'static str,
    severity: Severity,
    volume: Volume,
    tlp: Tlp,
    kind: FeedKind,
}

const CATALOGUE: &[Entry] = &[
    Entry {
        name: DEFAULT_FEED,
        description: "Everything you may read, across feeds. Objects posted here go to the feed \
                      their title names ('C2: ...', '[BKMW_ATTACK] ...') or a routing rule picks.",
        severity: Severity::Informational,
        volume: Volume::Many,
        tlp: Tlp::Green,
        kind: FeedKind::Aggregate,
    },
    Entry {
        name: "C2",
        description: "Malicious connection destinations (IP, domain, URL) detected by members' \
                      dynamic-analysis systems: C2 in the broad sense, downloader sites included.",
        severity: Severity::Urgent,
        volume: Volume::Many,
        tlp: Tlp::Green,
        kind: FeedKind::Regular,
    },
    Entry {
        name: "CX",
        description: "Malicious destinations extracted by a connection-analysis system.",
        severity: Severity::Important,
        volume: Volume::Many,
        tlp: Tlp::Green,
        kind: FeedKind::Regular,
    },
    Entry {
        name: "CY",
        description: "Reserved for subdividing C2.",
        severity: Severity::Important,
        volume: Volume::Medium,
        tlp: Tlp::Green,
        kind: FeedKind::Regular,
    },
    Entry {
        name: "CZ",
        description: "Reserved for subdividing C2.",
        severity: Severity::Important,
        volume: Volume::Medium,
        tlp: Tlp::Green,
        kind: FeedKind::Regular,
    },
    Entry {
        name: "BKMW_CONFIG",
        description: "Banking malware: sites distributing its configuration files.",
        severity: Severity::Urgent,
        volume: Volume::Few,
        tlp: Tlp::Green,
        kind: FeedKind::Regular,
    },
    Entry {
        name: "BKMW_ATTACK",
        description: "Banking malware: the financial institutions' sites it targets.",
        severity: Severity::Important,
        volume: Volume::Few,
        tlp: Tlp::Amber,
        kind: FeedKind::Regular,
    },
    Entry {
        name: "BKMW_MANIP",
        description: "Banking malware: its manipulation (web-inject) servers.",
        severity: Severity::Urgent,
        volume: Volume::Few,
        tlp: Tlp::Green,
        kind: FeedKind::Regular,
    },
    Entry {
        name: "TEST",
        description: "For trying things out; never exported, never federated.",
        severity: Severity::Informational,
        volume: Volume::Few,
        tlp: Tlp::Green,
        kind: FeedKind::Test,
    },
    Entry {
        name: NOTICE_FEED,
        description: "Notifications for your networks only: scan findings and infected or \
                      malicious hosts in the address ranges you registered, each visible to you \
                      alone (TLP:RED naming you). Written by the relay.",
        severity: Severity::Urgent,
        volume: Volume::Few,
        tlp: Tlp::Red,
        kind: FeedKind::Notice,
    },
];

/// The shipped feeds, in catalogue order.
pub fn shipped_feeds() -> Vec<NewFeed> {
    CATALOGUE
        .iter()
        .map(|e| NewFeed {
            name: e.name.to_owned(),
            description: Some(e.description.to_owned()),
            default_tlp: e.tlp,
            severity: e.severity,
            volume: e.volume,
            kind: e.kind,
            inbox: e.kind == FeedKind::Aggregate,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::check_feed_name;

    #[test]
    fn catalogue_names_are_valid_and_unique() {
        let feeds = shipped_feeds();
        let mut names: Vec<&str> = feeds.iter().map(|f| f.name.as_str()).collect();
        for n in &names {
            check_feed_name(n).unwrap();
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), feeds.len());
        assert_eq!(
            feeds
                .iter()
                .filter(|f| f.kind == FeedKind::Aggregate)
                .count(),
            1
        );
    }
}
