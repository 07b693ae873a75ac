//! The Traffic Light Protocol as STIX carries it: TLP 2.0 and the older TLP 1.0 marking
//! definitions referenced from `object_marking_refs` (and `granular_markings`), and the relay's
//! property extension that names the recipients of a TLP:RED object.
//!
//! This module only reads markings; who may see what is decided in `policy`.

use serde_json::Value;

/// TLP levels, ordered from the least to the most restrictive. TLP 1.0's WHITE is CLEAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tlp {
    Clear,
    Green,
    Amber,
    AmberStrict,
    Red,
}

/// The STIX extension with which a poster names the organisations (their identity objects)
/// that may read a TLP:RED object: `extensions.<this id>.recipient_refs`.
pub const RECIPIENTS_EXTENSION: &str = "extension-definition--b8bd769d-49d5-460a-94f5-6557001016af";

/// The property of that extension that lists the recipients.
pub const RECIPIENTS_PROPERTY: &str = "recipient_refs";

/// The marking definitions of TLP 2.0 (FIRST, as published by OASIS) and TLP 1.0 (STIX 2.1
/// section 7.2.1.4).
const MARKINGS: [(&str, Tlp); 9] = [
    (
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Clear,
    ),
    (
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Green,
    ),
    (
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::Amber,
    ),
    (
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::AmberStrict,
    ),
    (
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        Tlp::Red,
    ),
    (
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        Tlp::Clear,
    ),
    (
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        Tlp::Green,
    ),
    (
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        Tlp::Amber,
    ),
    (
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        Tlp::Red,
    ),
];

impl Tlp {
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// Reads a level as people write it: `amber`, `TLP:AMBER+STRICT`, `white` (TLP 1.0).
    pub fn parse(s: &str) -> Option<Tlp> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix("tlp:").unwrap_or(&s);
        match s {
            "clear" | "white" => Some(Tlp::Clear),
            "green" => Some(Tlp::Green),
            "amber" => Some(Tlp::Amber),
            "amber+strict" | "amber-strict" => Some(Tlp::AmberStrict),
            "red" => Some(Tlp::Red),
            _ => None,
        }
    }

    /// A small integer that keeps the order, for storage.
    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn from_code(code: i64) -> Option<Tlp> {
        Tlp::ALL.get(usize::try_from(code).ok()?).copied()
    }

    /// The TLP 2.0 marking definition of this level.
    pub fn marking_ref(self) -> &'static str {
        MARKINGS
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(id, _)| *id)
            .unwrap_or_default()
    }

    /// The level a marking definition id stands for, when it is a TLP one.
    pub fn from_marking_ref(id: &str) -> Option<Tlp> {
        MARKINGS
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(id))
            .map(|(_, t)| *t)
    }
}

impl std::fmt::Display for Tlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TLP:{}", self.as_str().to_ascii_uppercase())
    }
}

/// What an object's markings say about its distribution.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Marking {
    /// The object's TLP; `None` when it carries none (the feed's default applies).
    pub tlp: Option<Tlp>,
    /// For TLP:RED, the identities of the organisations the poster names as recipients.
    pub recipients: Vec<String>,
}

/// Reads an object's TLP and, for TLP:RED, its recipients.
///
/// An object may carry one TLP level in `object_marking_refs`; two different ones are a
/// contradiction the poster must resolve. A TLP in `granular_markings` marks a part of the
/// object; the relay does not redact parts, so the whole object takes the most restrictive
/// level found, so that no part reaches a reader it was not meant for.
pub fn read_marking(obj: &Value) -> Result<Marking, String> {
    let mut object_level: Option<Tlp> = None;
    if let Some(refs) = obj.get("object_marking_refs").and_then(Value::as_array) {
        for r in refs.iter().filter_map(Value::as_str) {
            let Some(t) = Tlp::from_marking_ref(r) else {
                continue;
            };
            match object_level {
                Some(prev) if prev != t => {
                    return Err(format!(
                        "object_marking_refs carries two TLP levels, {prev} and {t}; an object has one"
                    ));
                }
                _ => object_level = Some(t),
            }
        }
    }
    let granular = obj
        .get("granular_markings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("marking_ref").and_then(Value::as_str))
        .filter_map(Tlp::from_marking_ref)
        .max();
    let tlp = match (object_level, granular) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let recipients = read_recipients(obj)?;
    if !recipients.is_empty() && tlp != Some(Tlp::Red) {
        return Err(format!(
            "extensions.{RECIPIENTS_EXTENSION}.{RECIPIENTS_PROPERTY} names recipients, which only a TLP:RED object may have"
        ));
    }
    Ok(Marking { tlp, recipients })
}

fn read_recipients(obj: &Value) -> Result<Vec<String>, String> {
    let Some(ext) = obj
        .get("extensions")
        .and_then(|e| e.get(RECIPIENTS_EXTENSION))
    else {
        return Ok(Vec::new());
    };
    let path = format!("extensions.{RECIPIENTS_EXTENSION}.{RECIPIENTS_PROPERTY}");
    let list = ext
        .get(RECIPIENTS_PROPERTY)
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| format!("{path} must be a non-empty list of identity ids"))?;
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let id = v
            .as_str()
            .and_then(|s| stix::StixId::parse(s).ok())
            .filter(|id| id.object_type() == "identity")
            .ok_or_else(|| format!("{path}[{i}] must be an identity id"))?;
        let id = id.as_str().to_ascii_lowercase();
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RED1: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
    const AMBER2: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
    const WHITE1: &str = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
    const ORG: &str = "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(Tlp::parse("TLP:AMBER+STRICT"), Some(Tlp::AmberStrict));
        assert_eq!(Tlp::parse("white"), Some(Tlp::Clear));
        assert_eq!(Tlp::parse("purple"), None);
        assert!(Tlp::Clear < Tlp::Green && Tlp::AmberStrict < Tlp::Red);
        for t in Tlp::ALL {
            assert_eq!(Tlp::from_code(t.code()), Some(t));
            assert_eq!(Tlp::from_marking_ref(t.marking_ref()), Some(t));
        }
        assert_eq!(Tlp::from_code(5), None);
    }

    #[test]
    fn markings_of_both_tlp_versions_are_read() {
        let table = [
            (json!({}), None),
            (json!({"object_marking_refs": [WHITE1]}), Some(Tlp::Clear)),
            (json!({"object_marking_refs": [RED1]}), Some(Tlp::Red)),
            // Another (non-TLP) marking beside a TLP one.
            (
                json!({"object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41dd", AMBER2]}),
                Some(Tlp::Amber),
            ),
            // The same level twice (TLP 1.0 and 2.0 spellings of AMBER) is no contradiction.
            (
                json!({"object_marking_refs": [AMBER2, "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]}),
                Some(Tlp::Amber),
            ),
            // A granular RED makes the whole object RED.
            (
                json!({"object_marking_refs": [WHITE1], "granular_markings": [{"marking_ref": RED1, "selectors": ["description"]}]}),
                Some(Tlp::Red),
            ),
        ];
        for (obj, want) in table {
            assert_eq!(read_marking(&obj).map(|m| m.tlp), Ok(want), "{obj}");
        }
    }

    #[test]
    fn contradictions_and_misplaced_recipients_are_refused() {
        let two = json!({"object_marking_refs": [WHITE1, RED1]});
        assert!(read_marking(&two).unwrap_err().contains("two TLP levels"));
        let ext = |tlp: &str, refs: Value| json!({"object_marking_refs": [tlp], "extensions": {RECIPIENTS_EXTENSION: {"extension_type": "property-extension", "recipient_refs": refs}}});
        assert_eq!(
            read_marking(&ext(
                RED1,
                json!([ORG, ORG.to_uppercase().replace("IDENTITY", "identity")])
            )),
            Ok(Marking {
                tlp: Some(Tlp::Red),
                recipients: vec![ORG.into()]
            })
        );
        assert!(
            read_marking(&ext(AMBER2, json!([ORG])))
                .unwrap_err()
                .contains("only a TLP:RED")
        );
        assert!(
            read_marking(&ext(RED1, json!([])))
                .unwrap_err()
                .contains("non-empty")
        );
        assert!(
            read_marking(&ext(
                RED1,
                json!(["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"])
            ))
            .unwrap_err()
            .contains("[0] must be an identity id")
        );
    }
}
