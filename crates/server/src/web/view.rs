//! What the pages show of domain values: rows of objects, TLP labels, times. Read from the
//! stored JSON the services return; nothing here decides what may be shown.

use relay_core::{Feed, StoredObject, Tlp};
use serde_json::Value;
use stix::Timestamp;

use super::i18n::Text;

/// A time as people read it, to the minute, in UTC.
pub fn when(t: Timestamp) -> String {
    let s = t.to_string();
    // `2026-11-23T10:42:07.123Z` → `2026-11-23 10:42 UTC`
    match (s.get(..10), s.get(11..16)) {
        (Some(d), Some(hm)) => format!("{d} {hm} UTC"),
        _ => s,
    }
}

pub fn tlp_label(t: Tlp) -> String {
    format!("TLP:{}", t.as_str().to_ascii_uppercase())
}

pub fn tlp_class(t: Tlp) -> &'static str {
    match t {
        Tlp::Clear => "clear",
        Tlp::Green => "green",
        Tlp::Amber => "amber",
        Tlp::AmberStrict => "amber-strict",
        Tlp::Red => "red",
    }
}

pub fn tlp_meaning(t: &'static Text, tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => t.tlp_clear,
        Tlp::Green => t.tlp_green,
        Tlp::Amber => t.tlp_amber,
        Tlp::AmberStrict => t.tlp_amber_strict,
        Tlp::Red => t.tlp_red,
    }
}

/// What names an object in a list: its name, else its pattern or value, else its id.
pub fn title_of(body: &Value, id: &str) -> String {
    let text = ["name", "pattern", "value", "relationship_type", "opinion"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str))
        .unwrap_or(id);
    let mut s: String = text.chars().take(120).collect();
    if text.chars().count() > 120 {
        s.push('…');
    }
    s
}

/// One object in a list.
pub struct ObjRow {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub tlp: String,
    pub tlp_class: &'static str,
    pub feed: String,
    pub confidence: String,
    pub corroboration: String,
    pub added: String,
}

impl ObjRow {
    pub fn new(feed: &Feed, o: &StoredObject) -> ObjRow {
        let body: Value = o
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        let tlp = o.tlp;
        ObjRow {
            kind: o.id.split_once("--").map_or("", |(t, _)| t).to_owned(),
            title: title_of(&body, &o.id),
            tlp: tlp_label(tlp),
            tlp_class: tlp_class(tlp),
            feed: feed.name.clone(),
            confidence: body
                .get("confidence")
                .and_then(Value::as_u64)
                .map(|c| c.to_string())
                .unwrap_or_default(),
            corroboration: o.corroboration.to_string(),
            added: when(o.date_added),
            id: o.id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_to_the_minute() {
        let t = Timestamp::parse("2026-11-23T10:42:07.123Z").unwrap();
        assert_eq!(when(t), "2026-11-23 10:42 UTC");
    }

    #[test]
    fn long_titles_are_cut() {
        let body = serde_json::json!({ "name": "x".repeat(300) });
        assert_eq!(title_of(&body, "indicator--1").chars().count(), 121);
        assert_eq!(
            title_of(&serde_json::json!({}), "indicator--1"),
            "indicator--1"
        );
    }
}
