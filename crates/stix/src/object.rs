//! The checks every STIX 2.1 object passes before the relay stores it: a JSON object with a
//! valid `type`, an `id` of that type, `spec_version` 2.1, and the timestamps its kind requires
//! in STIX format. Each failure names the JSON path and the rule it broke.

use serde_json::{Map, Value};

use crate::id::{StixId, is_type_name};
use crate::timestamp::Timestamp;

/// The STIX Cyber-observable Object types of STIX 2.1 (section 6). They carry no `created` or
/// `modified`, and `spec_version` is optional for them.
pub const SCO_TYPES: &[&str] = &[
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
];

/// Why an object was refused: the JSON path of the offending value and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ObjectError {
    pub path: String,
    pub message: String,
}

impl ObjectError {
    fn new(path: &str, message: impl Into<String>) -> Self {
        ObjectError {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

/// The objects of a STIX document, whatever its form (a bundle, a TAXII envelope, a JSON array
/// of objects, or one object), each with the JSON path where it stands.
pub fn document_objects(doc: &Value) -> Vec<(String, &Value)> {
    fn listed<'a>(items: &'a [Value], prefix: &str) -> Vec<(String, &'a Value)> {
        items
            .iter()
            .enumerate()
            .map(|(i, o)| (format!("{prefix}[{i}]"), o))
            .collect()
    }
    match doc {
        Value::Array(items) => listed(items, "$"),
        Value::Object(map) => match map.get("objects") {
            Some(Value::Array(items)) if map.get("type").is_none_or(|t| t == "bundle") => {
                listed(items, "$.objects")
            }
            _ => vec![("$".to_owned(), doc)],
        },
        other => vec![("$".to_owned(), other)],
    }
}

impl ObjectError {
    /// The error with its path placed under `prefix` (the object's own path in a document).
    pub fn under(&self, prefix: &str) -> String {
        format!(
            "{}{}: {}",
            prefix,
            self.path.trim_start_matches('$'),
            self.message
        )
    }
}

/// What the relay indexes of an accepted object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectMeta {
    pub id: StixId,
    pub object_type: String,
    pub spec_version: String,
    pub created: Option<Timestamp>,
    pub modified: Option<Timestamp>,
    /// What is allowed but doubtful, each as `JSON-PATH: message`.
    pub warnings: Vec<String>,
    /// An indicator's parsed STIX pattern, so that callers need not parse it again.
    pub pattern: Option<crate::pattern::ObservationExpr>,
}

impl ObjectMeta {
    /// The observables of the object (see `observable::extract`), reusing the parsed pattern.
    pub fn observables(&self, object: &Value) -> Vec<crate::observable::Observable> {
        match &self.pattern {
            Some(tree) => crate::observable::from_pattern(tree),
            None => crate::observable::extract(object),
        }
    }
}

impl ObjectMeta {
    /// The object's version as TAXII defines it: `modified`, else `created`; objects with
    /// neither (most SCOs) are versioned by the time the server added them.
    pub fn version(&self) -> Option<Timestamp> {
        self.modified.or(self.created)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Observable,
    MarkingDefinition,
    Other,
}

fn kind_of(object_type: &str) -> Kind {
    if SCO_TYPES.contains(&object_type) {
        Kind::Observable
    } else if object_type == "marking-definition" {
        Kind::MarkingDefinition
    } else {
        Kind::Other
    }
}

fn string_prop<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, ObjectError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ObjectError::new(&format!("$.{name}"), "must be a string")),
    }
}

fn timestamp_prop(
    obj: &Map<String, Value>,
    name: &str,
    required: bool,
) -> Result<Option<Timestamp>, ObjectError> {
    let path = format!("$.{name}");
    match string_prop(obj, name)? {
        None if required => Err(ObjectError::new(&path, "is required for this object type")),
        None => Ok(None),
        Some(s) => Timestamp::parse(s)
            .map(Some)
            .map_err(|e| ObjectError::new(&path, e.to_string())),
    }
}

/// An indicator whose `pattern_type` is `stix` must carry a pattern in the STIX patterning
/// language; other pattern languages are stored without parsing.
fn check_pattern(
    obj: &Map<String, Value>,
) -> Result<Option<crate::pattern::ObservationExpr>, ObjectError> {
    if string_prop(obj, "pattern_type")? != Some("stix") {
        return Ok(None);
    }
    let pattern = string_prop(obj, "pattern")?
        .ok_or_else(|| ObjectError::new("$.pattern", "is required for an indicator"))?;
    crate::pattern::parse(pattern)
        .map(Some)
        .map_err(|e| ObjectError::new("$.pattern", format!("not a valid STIX pattern: {e}")))
}

/// Checks one object, as the specification judges it, and returns what the store indexes of it.
pub fn check_object(value: &Value) -> Result<ObjectMeta, ObjectError> {
    check_object_with(value, crate::rules::ValidationOptions::default())
}

/// Checks one object with the given strictness.
pub fn check_object_with(
    value: &Value,
    options: crate::rules::ValidationOptions,
) -> Result<ObjectMeta, ObjectError> {
    let Value::Object(obj) = value else {
        return Err(ObjectError::new("$", "a STIX object must be a JSON object"));
    };
    let object_type =
        string_prop(obj, "type")?.ok_or_else(|| ObjectError::new("$.type", "is required"))?;
    if !is_type_name(object_type) {
        return Err(ObjectError::new(
            "$.type",
            format!("'{object_type}' is not a valid STIX type name"),
        ));
    }
    let id_str = string_prop(obj, "id")?.ok_or_else(|| ObjectError::new("$.id", "is required"))?;
    let id = StixId::parse(id_str).map_err(|e| ObjectError::new("$.id", e.to_string()))?;
    if id.object_type() != object_type {
        return Err(ObjectError::new(
            "$.id",
            format!("the identifier's prefix must be the object's type '{object_type}'"),
        ));
    }
    let kind = kind_of(object_type);
    let spec_version = match string_prop(obj, "spec_version")? {
        Some("2.1") => "2.1",
        Some(other) => {
            return Err(ObjectError::new(
                "$.spec_version",
                format!("must be \"2.1\", not \"{other}\""),
            ));
        }
        None if kind == Kind::Observable => "2.1",
        None => return Err(ObjectError::new("$.spec_version", "is required")),
    };
    let (created, modified) = match kind {
        Kind::Observable => (None, None),
        Kind::MarkingDefinition => (timestamp_prop(obj, "created", true)?, None),
        Kind::Other => (
            timestamp_prop(obj, "created", true)?,
            timestamp_prop(obj, "modified", true)?,
        ),
    };
    if let (Some(c), Some(m)) = (created, modified)
        && m < c
    {
        return Err(ObjectError::new(
            "$.modified",
            "must be later than or equal to created",
        ));
    }
    let pattern = if object_type == "indicator" {
        check_pattern(obj)?
    } else {
        None
    };
    let mut warnings: Vec<String> = pattern
        .iter()
        .flat_map(crate::pattern::path_warnings)
        .map(|w| format!("$.pattern: {w}"))
        .collect();
    warnings.extend(crate::rules::check(object_type, obj, options)?);
    Ok(ObjectMeta {
        id,
        object_type: object_type.to_owned(),
        spec_version: spec_version.to_owned(),
        created,
        modified,
        warnings,
        pattern,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn indicator() -> Value {
        json!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2016-04-06T20:03:48.000Z",
            "modified": "2016-04-06T20:03:48.000Z",
            "pattern": "[ipv4-addr:value = '198.51.100.7']",
            "pattern_type": "stix",
            "valid_from": "2016-01-01T00:00:00Z"
        })
    }

    fn failing_path(v: Value) -> String {
        check_object(&v).unwrap_err().path
    }

    #[test]
    fn accepts_a_valid_indicator() {
        let meta = check_object(&indicator()).unwrap();
        assert_eq!(meta.object_type, "indicator");
        assert_eq!(meta.version(), meta.modified);
    }

    #[test]
    fn accepts_an_sco_without_timestamps_or_spec_version() {
        let v = json!({"type": "ipv4-addr", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.3"});
        let meta = check_object(&v).unwrap();
        assert_eq!(meta.version(), None);
    }

    #[test]
    fn names_the_path_of_each_failure() {
        let mut v = indicator();
        v.as_object_mut().unwrap().remove("modified");
        assert_eq!(failing_path(v), "$.modified");

        let mut v = indicator();
        v["created"] = json!("2016-04-06");
        assert_eq!(failing_path(v), "$.created");

        let mut v = indicator();
        v["spec_version"] = json!("2.0");
        assert_eq!(failing_path(v), "$.spec_version");

        let mut v = indicator();
        v["id"] = json!("malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
        assert_eq!(failing_path(v), "$.id");

        let mut v = indicator();
        v["modified"] = json!("2015-01-01T00:00:00Z");
        assert_eq!(failing_path(v), "$.modified");

        let mut v = indicator();
        v["pattern"] = json!("[ipv4-addr:value = '198.51.100.7'");
        let e = check_object(&v).unwrap_err();
        assert_eq!(e.path, "$.pattern");
        assert!(e.message.contains("at character 33"), "{e}");

        let mut v = indicator();
        v["pattern_type"] = json!("snort");
        v["pattern"] = json!("alert tcp any any -> any any");
        assert!(
            check_object(&v).is_ok(),
            "other pattern languages are not parsed"
        );

        assert_eq!(failing_path(json!([1, 2])), "$");
        assert_eq!(failing_path(json!({"id": "x"})), "$.type");
    }
}
