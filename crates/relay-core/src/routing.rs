//! Title routing: which feed an object posted to an inbox (the aggregate `Default`, or a feed
//! marked as an inbox) lands in. Posters of the previous system named the feed in the
//! Indicator's title — `C2: ...` or `[BKMW_ATTACK] ...` — and administrators add rules on the
//! title, labels or markings. Objects that travel with a routed one (its relationships and
//! sightings, and what it refers to) follow it. Every decision carries a reason, which the
//! poster reads in the status resource.

use std::collections::HashMap;

use serde_json::Value;

use crate::feed::{Feed, FeedKind};

/// What a routing rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleField {
    /// The object's `name` (the legacy title).
    Title,
    /// One of the object's `labels`.
    Label,
    /// One of the object's `object_marking_refs`.
    Marking,
}

impl RuleField {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleField::Title => "title",
            RuleField::Label => "label",
            RuleField::Marking => "marking",
        }
    }

    /// How a rule on this field compares when the administrator does not say: titles by
    /// prefix (the legacy convention), labels and markings exactly.
    pub fn default_match(self) -> RuleMatch {
        match self {
            RuleField::Title => RuleMatch::Prefix,
            RuleField::Label | RuleField::Marking => RuleMatch::Equals,
        }
    }

    pub fn parse(s: &str) -> Result<RuleField, String> {
        match s {
            "title" => Ok(RuleField::Title),
            "label" => Ok(RuleField::Label),
            "marking" => Ok(RuleField::Marking),
            _ => Err(format!(
                "unknown rule field '{s}': expected title, label or marking"
            )),
        }
    }
}

/// How a rule compares; always ignoring ASCII case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleMatch {
    Equals,
    Prefix,
    Contains,
}

impl RuleMatch {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleMatch::Equals => "equals",
            RuleMatch::Prefix => "prefix",
            RuleMatch::Contains => "contains",
        }
    }

    pub fn parse(s: &str) -> Result<RuleMatch, String> {
        match s {
            "equals" => Ok(RuleMatch::Equals),
            "prefix" => Ok(RuleMatch::Prefix),
            "contains" => Ok(RuleMatch::Contains),
            _ => Err(format!(
                "unknown rule match '{s}': expected equals, prefix or contains"
            )),
        }
    }

    fn test(self, candidate: &str, value: &str) -> bool {
        let (c, v) = (candidate.to_ascii_lowercase(), value.to_ascii_lowercase());
        match self {
            RuleMatch::Equals => c == v,
            RuleMatch::Prefix => c.starts_with(&v),
            RuleMatch::Contains => c.contains(&v),
        }
    }
}

/// An administrator's routing rule. Rules are tried in `id` order, after the title convention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingRule {
    pub id: i64,
    pub field: RuleField,
    pub matching: RuleMatch,
    pub value: String,
    /// The target feed's name.
    pub feed: String,
}

impl RoutingRule {
    pub fn describe(&self) -> String {
        format!(
            "rule {}: {} {} '{}' -> {}",
            self.id,
            self.field.as_str(),
            self.matching.as_str(),
            self.value,
            self.feed
        )
    }

    fn matches(&self, obj: &Value) -> bool {
        let strings = |prop: &str| -> Vec<&str> {
            match obj.get(prop) {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            }
        };
        let candidates = match self.field {
            RuleField::Title => title(obj).into_iter().collect(),
            RuleField::Label => strings("labels"),
            RuleField::Marking => strings("object_marking_refs"),
        };
        candidates
            .iter()
            .any(|c| self.matching.test(c, &self.value))
    }
}

/// Where one object goes, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// The target feed's name.
    pub feed: String,
    pub reason: String,
}

/// The object's title: its `name` (STIX 2.1), or `title` as legacy converters write it.
fn title(obj: &Value) -> Option<&str> {
    obj.get("name")
        .or_else(|| obj.get("title"))
        .and_then(Value::as_str)
}

/// The routing of posts, given the feeds and the rules.
pub struct Routing<'a> {
    /// Feeds an object may be routed to: not retired, not an aggregate.
    targets: Vec<&'a Feed>,
    rules: &'a [RoutingRule],
}

impl<'a> Routing<'a> {
    pub fn new(feeds: &'a [Feed], rules: &'a [RoutingRule]) -> Routing<'a> {
        Routing {
            targets: feeds
                .iter()
                .filter(|f| !f.retired && matches!(f.kind, FeedKind::Regular | FeedKind::Test))
                .collect(),
            rules,
        }
    }

    fn target(&self, name: &str) -> Option<&'a Feed> {
        self.targets
            .iter()
            .copied()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The feed the title names, as `NAME: ...` or `[NAME] ...`.
    fn by_title(&self, obj: &Value) -> Option<Routed> {
        let t = title(obj)?.trim_start();
        let named = if let Some(rest) = t.strip_prefix('[') {
            rest.split_once(']').map(|(n, _)| n)
        } else {
            t.split_once(':').map(|(n, _)| n)
        }?;
        let feed = self.target(named.trim())?;
        Some(Routed {
            feed: feed.name.clone(),
            reason: format!("routed to {} by its title", feed.name),
        })
    }

    /// Where one object goes on its own: the title convention, then the rules in order.
    pub fn route_one(&self, obj: &Value) -> Option<Routed> {
        self.by_title(obj).or_else(|| {
            self.rules.iter().filter(|r| r.matches(obj)).find_map(|r| {
                let feed = self.target(&r.feed)?;
                Some(Routed {
                    feed: feed.name.clone(),
                    reason: format!("routed to {} by {}", feed.name, r.describe()),
                })
            })
        })
    }

    /// Routes every object of an envelope. An object no title or rule routes follows the
    /// object it travels with: a relationship its source (else its target), a sighting what it
    /// sights, and any object a routed object refers to (its identity, markings, the malware
    /// an indicator indicates) that object's feed. `None`: nothing routes it.
    pub fn route_envelope(&self, items: &[Value]) -> Vec<Option<Routed>> {
        let mut routes: Vec<Option<Routed>> = items.iter().map(|o| self.route_one(o)).collect();
        let id_of = |o: &Value| o.get("id").and_then(Value::as_str).map(str::to_owned);
        let follow = |routes: &[Option<Routed>], target: &str| -> Option<Routed> {
            let i = items
                .iter()
                .position(|o| id_of(o).as_deref() == Some(target))?;
            let r = routes[i].as_ref()?;
            Some(Routed {
                feed: r.feed.clone(),
                reason: format!("routed to {} with {target}", r.feed),
            })
        };
        // Relationships and sightings follow what they connect.
        for (i, obj) in items.iter().enumerate() {
            if routes[i].is_some() {
                continue;
            }
            let refs: &[&str] = match obj.get("type").and_then(Value::as_str) {
                Some("relationship") => &["source_ref", "target_ref"],
                Some("sighting") => &["sighting_of_ref"],
                _ => &[],
            };
            routes[i] = refs
                .iter()
                .filter_map(|p| obj.get(*p).and_then(Value::as_str))
                .find_map(|t| follow(&routes, t));
        }
        // What a routed object refers to follows it.
        let mut referred: HashMap<String, Routed> = HashMap::new();
        for (obj, route) in items.iter().zip(&routes) {
            let (Some(r), Some(id)) = (route, id_of(obj)) else {
                continue;
            };
            let mut targets = Vec::new();
            collect_refs(obj, &mut targets);
            for t in targets {
                referred.entry(t).or_insert_with(|| Routed {
                    feed: r.feed.clone(),
                    reason: format!("routed to {} with {id}, which refers to it", r.feed),
                });
            }
        }
        for (obj, route) in items.iter().zip(routes.iter_mut()) {
            if route.is_none() {
                *route = id_of(obj).and_then(|id| referred.get(&id).cloned());
            }
        }
        routes
    }

    /// Why an object was refused: no title or rule named a feed. Names the feeds there are.
    pub fn refusal(&self) -> String {
        let names: Vec<&str> = self.targets.iter().map(|f| f.name.as_str()).collect();
        format!(
            "no feed is named in the title and no routing rule matches; name one as \
             'FEED: ...' or '[FEED] ...'; feeds: {}",
            names.join(", ")
        )
    }
}

/// The ids in an object's `*_ref` and `*_refs` properties, at any depth.
fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                if k.ends_with("_ref") {
                    if let Some(s) = val.as_str() {
                        out.push(s.to_owned());
                    }
                } else if k.ends_with("_refs") {
                    if let Some(items) = val.as_array() {
                        out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                } else {
                    collect_refs(val, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::NewFeed;
    use serde_json::json;

    fn feeds() -> Vec<Feed> {
        crate::catalogue::shipped_feeds()
            .into_iter()
            .map(|n: NewFeed| Feed {
                id: n.name.clone(),
                name: n.name,
                description: None,
                default_tlp: n.default_tlp,
                severity: n.severity,
                volume: n.volume,
                kind: n.kind,
                inbox: n.inbox,
                retired: false,
                grants: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn titles_name_feeds_in_both_legacy_forms() {
        let f = feeds();
        let r = Routing::new(&f, &[]);
        let route = |t: &str| r.route_one(&json!({"name": t})).map(|r| r.feed);
        assert_eq!(route("C2: 203.0.113.5 beacon").as_deref(), Some("C2"));
        assert_eq!(
            route("[BKMW_ATTACK] bank login page").as_deref(),
            Some("BKMW_ATTACK")
        );
        assert_eq!(
            route("  bkmw_manip: inject server").as_deref(),
            Some("BKMW_MANIP")
        );
        assert_eq!(
            route("Default: anything"),
            None,
            "the aggregate is no target"
        );
        assert_eq!(route("XYZ: unknown"), None);
        assert_eq!(route("no feed here"), None);
    }

    #[test]
    fn rules_apply_in_order_after_the_title() {
        let f = feeds();
        let rules = vec![
            RoutingRule {
                id: 1,
                field: RuleField::Label,
                matching: RuleMatch::Equals,
                value: "banking".into(),
                feed: "BKMW_CONFIG".into(),
            },
            RoutingRule {
                id: 2,
                field: RuleField::Title,
                matching: RuleMatch::Contains,
                value: "beacon".into(),
                feed: "CX".into(),
            },
        ];
        let r = Routing::new(&f, &rules);
        let got = r
            .route_one(&json!({"name": "x beacon", "labels": ["Banking"]}))
            .unwrap();
        assert_eq!(got.feed, "BKMW_CONFIG");
        assert!(got.reason.contains("rule 1"), "{}", got.reason);
        assert_eq!(
            r.route_one(&json!({"name": "C2: beacon"})).unwrap().feed,
            "C2",
            "the poster's title comes first"
        );
    }

    #[test]
    fn companions_follow_and_the_rest_is_refused() {
        let f = feeds();
        let r = Routing::new(&f, &[]);
        let items = vec![
            json!({"type": "indicator", "id": "indicator--1", "name": "C2: x",
                   "created_by_ref": "identity--1"}),
            json!({"type": "relationship", "id": "relationship--1",
                   "source_ref": "indicator--1", "target_ref": "malware--1"}),
            json!({"type": "malware", "id": "malware--1", "name": "Emotet"}),
            json!({"type": "identity", "id": "identity--1", "name": "Poster"}),
            json!({"type": "note", "id": "note--1", "content": "lonely"}),
        ];
        let routes = r.route_envelope(&items);
        let feeds: Vec<Option<&str>> = routes
            .iter()
            .map(|r| r.as_ref().map(|r| r.feed.as_str()))
            .collect();
        assert_eq!(
            feeds,
            [Some("C2"), Some("C2"), Some("C2"), Some("C2"), None]
        );
        assert!(r.refusal().contains("C2, CX"), "{}", r.refusal());
        assert!(!r.refusal().contains("Default"));
    }
}
