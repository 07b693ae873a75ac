//! The property rules of STIX 2.1 beyond the common ones of `object`: each type's required
//! properties, timestamps and reference targets, and the MUSTs that tie properties together
//! (`valid_until` after `valid_from`, `last_seen` not before `first_seen`, ranges, closed
//! enumerations, kill-chain phases, external references, granular-marking selectors, custom
//! property names). Errors stop the object; warnings are returned for the caller to keep.

use serde_json::{Map, Value};

use crate::id::StixId;
use crate::object::{ObjectError, SCO_TYPES};
use crate::timestamp::Timestamp;

/// How strictly to judge what STIX allows but discourages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidationOptions {
    /// Refuse properties STIX does not define (custom properties without an extension), which
    /// the specification allows and the relay otherwise accepts with a warning.
    pub strict_custom_properties: bool,
}

/// Rules of one STIX 2.1 object type.
struct TypeRules {
    name: &'static str,
    required: &'static [&'static str],
    timestamps: &'static [&'static str],
    /// Reference properties (`*_ref` or `*_refs`) and the object types they may point to;
    /// an empty list allows any type.
    refs: &'static [(&'static str, &'static [&'static str])],
}

const ANY: &[&str] = &[];
/// The STIX 2.1 domain object types.
pub const SDO_TYPES: &[&str] = &[
    "attack-pattern",
    "campaign",
    "course-of-action",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "location",
    "malware",
    "malware-analysis",
    "note",
    "observed-data",
    "opinion",
    "report",
    "threat-actor",
    "tool",
    "vulnerability",
];

const RULES: &[TypeRules] = &[
    TypeRules {
        name: "attack-pattern",
        required: &["name"],
        timestamps: &[],
        refs: &[],
    },
    TypeRules {
        name: "campaign",
        required: &["name"],
        timestamps: &["first_seen", "last_seen"],
        refs: &[],
    },
    TypeRules {
        name: "course-of-action",
        required: &["name"],
        timestamps: &[],
        refs: &[],
    },
    TypeRules {
        name: "grouping",
        required: &["context", "object_refs"],
        timestamps: &[],
        refs: &[("object_refs", ANY)],
    },
    TypeRules {
        name: "identity",
        required: &["name"],
        timestamps: &[],
        refs: &[],
    },
    TypeRules {
        name: "incident",
        required: &["name"],
        timestamps: &[],
        refs: &[],
    },
    TypeRules {
        name: "indicator",
        required: &["pattern", "pattern_type", "valid_from"],
        timestamps: &["valid_from", "valid_until"],
        refs: &[],
    },
    TypeRules {
        name: "infrastructure",
        required: &["name"],
        timestamps: &["first_seen", "last_seen"],
        refs: &[],
    },
    TypeRules {
        name: "intrusion-set",
        required: &["name"],
        timestamps: &["first_seen", "last_seen"],
        refs: &[],
    },
    TypeRules {
        name: "location",
        required: &[],
        timestamps: &[],
        refs: &[],
    },
    TypeRules {
        name: "malware",
        required: &["is_family"],
        timestamps: &["first_seen", "last_seen"],
        refs: &[
            ("operating_system_refs", &["software"]),
            ("sample_refs", &["file", "artifact"]),
        ],
    },
    TypeRules {
        name: "malware-analysis",
        required: &["product"],
        timestamps: &["submitted", "analysis_started", "analysis_ended"],
        refs: &[
            ("host_vm_ref", &["software"]),
            ("operating_system_ref", &["software"]),
            ("installed_software_refs", &["software"]),
            ("sample_ref", &["file", "network-traffic", "artifact"]),
            ("analysis_sco_refs", ANY),
        ],
    },
    TypeRules {
        name: "note",
        required: &["content", "object_refs"],
        timestamps: &[],
        refs: &[("object_refs", ANY)],
    },
    TypeRules {
        name: "observed-data",
        required: &["first_observed", "last_observed", "number_observed"],
        timestamps: &["first_observed", "last_observed"],
        refs: &[("object_refs", ANY)],
    },
    TypeRules {
        name: "opinion",
        required: &["opinion", "object_refs"],
        timestamps: &[],
        refs: &[("object_refs", ANY)],
    },
    TypeRules {
        name: "report",
        required: &["name", "published", "object_refs"],
        timestamps: &["published"],
        refs: &[("object_refs", ANY)],
    },
    TypeRules {
        name: "threat-actor",
        required: &["name"],
        timestamps: &["first_seen", "last_seen"],
        refs: &[],
    },
    TypeRules {
        name: "tool",
        required: &["name"],
        timestamps: &[],
        refs: &[],
    },
    TypeRules {
        name: "vulnerability",
        required: &["name"],
        timestamps: &[],
        refs: &[],
    },
    TypeRules {
        name: "relationship",
        required: &["relationship_type", "source_ref", "target_ref"],
        timestamps: &["start_time", "stop_time"],
        refs: &[("source_ref", ANY), ("target_ref", ANY)],
    },
    TypeRules {
        name: "sighting",
        required: &["sighting_of_ref"],
        timestamps: &["first_seen", "last_seen"],
        refs: &[
            ("sighting_of_ref", ANY),
            ("observed_data_refs", &["observed-data"]),
            ("where_sighted_refs", &["identity", "location"]),
        ],
    },
    TypeRules {
        name: "language-content",
        required: &["object_ref", "contents"],
        timestamps: &["object_modified"],
        refs: &[("object_ref", ANY)],
    },
    TypeRules {
        name: "marking-definition",
        required: &[],
        timestamps: &[],
        refs: &[],
    },
    TypeRules {
        name: "extension-definition",
        required: &[
            "name",
            "schema",
            "version",
            "extension_types",
            "created_by_ref",
        ],
        timestamps: &[],
        refs: &[],
    },
];

fn err(path: impl Into<String>, message: impl Into<String>) -> ObjectError {
    ObjectError {
        path: path.into(),
        message: message.into(),
    }
}

fn timestamp_at(obj: &Map<String, Value>, name: &str) -> Result<Option<Timestamp>, ObjectError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Timestamp::parse(s)
            .map(Some)
            .map_err(|e| err(format!("$.{name}"), e.to_string())),
        Some(_) => Err(err(format!("$.{name}"), "must be a timestamp string")),
    }
}

/// `later` must not be before `earlier` (or strictly after it, when `strict`).
fn ordered(
    obj: &Map<String, Value>,
    earlier: &str,
    later: &str,
    strict: bool,
) -> Result<(), ObjectError> {
    if let (Some(a), Some(b)) = (timestamp_at(obj, earlier)?, timestamp_at(obj, later)?) {
        let bad = if strict { b <= a } else { b < a };
        if bad {
            let rel = if strict {
                "later than"
            } else {
                "later than or equal to"
            };
            return Err(err(
                format!("$.{later}"),
                format!("must be {rel} {earlier}"),
            ));
        }
    }
    Ok(())
}

fn integer_in(obj: &Map<String, Value>, name: &str, lo: i64, hi: i64) -> Result<(), ObjectError> {
    match obj.get(name) {
        None => Ok(()),
        Some(v) => match v.as_i64() {
            Some(n) if (lo..=hi).contains(&n) && !v.is_f64() => Ok(()),
            _ => Err(err(
                format!("$.{name}"),
                format!("must be an integer from {lo} to {hi}"),
            )),
        },
    }
}

/// Checks an identifier a reference holds, and the type it points to.
fn check_ref(path: &str, v: &Value, allowed: &[&str]) -> Result<(), ObjectError> {
    let s = v
        .as_str()
        .ok_or_else(|| err(path, "must be an identifier string"))?;
    let id = StixId::parse(s).map_err(|e| err(path, e.to_string()))?;
    if !allowed.is_empty() && !allowed.contains(&id.object_type()) {
        return Err(err(
            path,
            format!(
                "must refer to {}, not {}",
                allowed.join(" or "),
                id.object_type()
            ),
        ));
    }
    Ok(())
}

fn check_ref_prop(
    obj: &Map<String, Value>,
    name: &str,
    allowed: &[&str],
) -> Result<(), ObjectError> {
    let Some(v) = obj.get(name) else {
        return Ok(());
    };
    let path = format!("$.{name}");
    if name.ends_with("_refs") {
        let items = v
            .as_array()
            .ok_or_else(|| err(&path, "must be a list of identifiers"))?;
        if items.is_empty() {
            return Err(err(&path, "must not be empty"));
        }
        for (i, item) in items.iter().enumerate() {
            check_ref(&format!("{path}[{i}]"), item, allowed)?;
        }
        Ok(())
    } else {
        check_ref(&path, v, allowed)
    }
}

fn string_list(obj: &Map<String, Value>, name: &str) -> Result<(), ObjectError> {
    match obj.get(name) {
        None => Ok(()),
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_string) => {
            Ok(())
        }
        Some(_) => Err(err(
            format!("$.{name}"),
            "must be a non-empty list of strings",
        )),
    }
}

/// Properties every SDO, SRO, language-content and marking-definition may have, and their
/// rules.
fn check_common(obj: &Map<String, Value>) -> Result<(), ObjectError> {
    check_ref_prop(obj, "created_by_ref", &["identity"])?;
    check_ref_prop(obj, "object_marking_refs", &["marking-definition"])?;
    integer_in(obj, "confidence", 0, 100)?;
    if let Some(v) = obj.get("revoked")
        && !v.is_boolean()
    {
        return Err(err("$.revoked", "must be true or false"));
    }
    string_list(obj, "labels")?;
    if let Some(refs) = obj.get("external_references") {
        let items = refs
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| err("$.external_references", "must be a non-empty list"))?;
        for (i, r) in items.iter().enumerate() {
            let path = format!("$.external_references[{i}]");
            let r = r
                .as_object()
                .ok_or_else(|| err(&path, "must be an object"))?;
            if !r.get("source_name").is_some_and(Value::is_string) {
                return Err(err(format!("{path}.source_name"), "is required"));
            }
            if !["description", "url", "external_id"]
                .iter()
                .any(|p| r.contains_key(*p))
            {
                return Err(err(
                    &path,
                    "needs a description, url or external_id besides source_name",
                ));
            }
        }
    }
    if let Some(phases) = obj.get("kill_chain_phases") {
        let items = phases
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| err("$.kill_chain_phases", "must be a non-empty list"))?;
        for (i, p) in items.iter().enumerate() {
            for field in ["kill_chain_name", "phase_name"] {
                if p.get(field)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    return Err(err(
                        format!("$.kill_chain_phases[{i}].{field}"),
                        "is required",
                    ));
                }
            }
        }
    }
    if let Some(markings) = obj.get("granular_markings") {
        let items = markings
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| err("$.granular_markings", "must be a non-empty list"))?;
        for (i, m) in items.iter().enumerate() {
            let path = format!("$.granular_markings[{i}]");
            let has_ref = m.get("marking_ref").is_some();
            let has_lang = m.get("lang").is_some();
            if has_ref == has_lang {
                return Err(err(&path, "needs exactly one of marking_ref and lang"));
            }
            if let Some(r) = m.get("marking_ref") {
                check_ref(&format!("{path}.marking_ref"), r, &["marking-definition"])?;
            }
            let selectors = m
                .get("selectors")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| err(format!("{path}.selectors"), "must be a non-empty list"))?;
            for (j, s) in selectors.iter().enumerate() {
                let s = s.as_str().unwrap_or_default();
                if !selector_resolves(obj, s) {
                    return Err(err(
                        format!("{path}.selectors[{j}]"),
                        format!("'{s}' does not select a property of this object"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `extensions`: each key is a predefined extension of the SCO type or the id of an
/// extension-definition; the latter's value says its `extension_type`. Returns whether a
/// top-level property extension is present (its properties are then defined elsewhere).
fn check_extensions(object_type: &str, obj: &Map<String, Value>) -> Result<bool, ObjectError> {
    let Some(ext) = obj.get("extensions") else {
        return Ok(false);
    };
    let map = ext
        .as_object()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| err("$.extensions", "must be a non-empty dictionary"))?;
    const TYPES: &[&str] = &[
        "new-sdo",
        "new-sco",
        "new-sro",
        "property-extension",
        "toplevel-property-extension",
    ];
    let mut toplevel = false;
    for (key, value) in map {
        let path = format!("$.extensions.{key}");
        let body = value
            .as_object()
            .ok_or_else(|| err(&path, "must be an object"))?;
        if key.starts_with("extension-definition--") {
            StixId::parse(key).map_err(|e| err(&path, e.to_string()))?;
            let t = body.get("extension_type").and_then(Value::as_str);
            match t {
                Some(t) if TYPES.contains(&t) => toplevel |= t == "toplevel-property-extension",
                Some(t) => {
                    return Err(err(
                        format!("{path}.extension_type"),
                        format!("'{t}' is not one of {}", TYPES.join(", ")),
                    ));
                }
                None => {
                    return Err(err(
                        format!("{path}.extension_type"),
                        "is required for an extension definition",
                    ));
                }
            }
        } else if !crate::vocab::predefined_extension(object_type, key) && !key.starts_with("x-") {
            return Err(err(
                &path,
                format!(
                    "'{key}' is neither an extension of {object_type} nor an extension-definition id"
                ),
            ));
        }
    }
    Ok(toplevel)
}

/// Every `*_ref` / `*_refs` property holds identifiers, whatever its type allows.
fn check_all_refs(obj: &Map<String, Value>) -> Result<(), ObjectError> {
    for name in obj.keys() {
        if name.ends_with("_ref") || name.ends_with("_refs") {
            check_ref_prop(obj, name, ANY)?;
        }
    }
    Ok(())
}

/// Properties STIX does not define: an error in strict mode, a warning otherwise (section
/// 11.1 allows them). Properties a top-level property extension defines are not judged.
fn custom_properties(
    obj: &Map<String, Value>,
    defined: &[&str],
    extended: bool,
    options: ValidationOptions,
    warnings: &mut Vec<String>,
) -> Result<(), ObjectError> {
    if extended {
        return Ok(());
    }
    for name in obj.keys() {
        let n = name.as_str();
        if defined.contains(&n) || crate::vocab::COMMON_PROPERTIES.contains(&n) {
            continue;
        }
        if options.strict_custom_properties {
            return Err(err(
                format!("$.{name}"),
                "is not a STIX 2.1 property (custom properties are refused here)",
            ));
        }
        warnings.push(format!(
            "$.{name}: a custom property; STIX 2.1 prefers an extension"
        ));
    }
    Ok(())
}

/// A granular-marking selector (`description`, `external_references.[0].source_name`) must
/// name something that exists in the object.
fn selector_resolves(obj: &Map<String, Value>, selector: &str) -> bool {
    let mut steps = selector.split('.');
    let Some(mut at) = steps.next().and_then(|first| obj.get(first)) else {
        return false;
    };
    for step in steps {
        let next = if let Some(index) = step.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            index
                .parse::<usize>()
                .ok()
                .and_then(|i| at.as_array()?.get(i))
        } else {
            at.as_object().and_then(|o| o.get(step))
        };
        match next {
            Some(v) => at = v,
            None => return false,
        }
    }
    true
}

/// A custom property name: 3-250 characters of a-z, 0-9 and `_` (STIX 2.1 section 11.1).
fn valid_property_name(name: &str) -> bool {
    (3..=250).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_specific(object_type: &str, obj: &Map<String, Value>) -> Result<(), ObjectError> {
    match object_type {
        "indicator" => ordered(obj, "valid_from", "valid_until", true)?,
        "campaign" | "intrusion-set" | "threat-actor" | "infrastructure" => {
            ordered(obj, "first_seen", "last_seen", false)?;
        }
        "observed-data" => {
            ordered(obj, "first_observed", "last_observed", false)?;
            integer_in(obj, "number_observed", 1, 999_999_999)?;
            if obj.contains_key("objects") == obj.contains_key("object_refs") {
                return Err(err(
                    "$",
                    "observed-data needs exactly one of objects and object_refs",
                ));
            }
        }
        "relationship" => ordered(obj, "start_time", "stop_time", true)?,
        "location" => {
            let has_point = obj.contains_key("latitude") && obj.contains_key("longitude");
            if !(obj.contains_key("region") || obj.contains_key("country") || has_point) {
                return Err(err(
                    "$",
                    "a location needs a region, a country, or latitude and longitude",
                ));
            }
            if obj.contains_key("latitude") != obj.contains_key("longitude") {
                return Err(err("$.latitude", "latitude and longitude go together"));
            }
            for (name, limit) in [("latitude", 90.0), ("longitude", 180.0)] {
                if let Some(v) = obj.get(name) {
                    let x = v
                        .as_f64()
                        .ok_or_else(|| err(format!("$.{name}"), "must be a number"))?;
                    if !(-limit..=limit).contains(&x) {
                        return Err(err(
                            format!("$.{name}"),
                            format!("must be from -{limit} to {limit}"),
                        ));
                    }
                }
            }
        }
        "malware" => {
            ordered(obj, "first_seen", "last_seen", false)?;
            let family = obj
                .get("is_family")
                .and_then(Value::as_bool)
                .ok_or_else(|| err("$.is_family", "must be true or false"))?;
            if family && !obj.contains_key("name") {
                return Err(err("$.name", "is required when is_family is true"));
            }
        }
        "malware-analysis"
            if !obj.contains_key("result") && !obj.contains_key("analysis_sco_refs") =>
        {
            return Err(err(
                "$",
                "a malware-analysis needs a result or analysis_sco_refs",
            ));
        }
        "opinion" => {
            const OPINIONS: &[&str] = &[
                "strongly-disagree",
                "disagree",
                "neutral",
                "agree",
                "strongly-agree",
            ];
            let o = obj
                .get("opinion")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !OPINIONS.contains(&o) {
                return Err(err(
                    "$.opinion",
                    format!("must be one of {}", OPINIONS.join(", ")),
                ));
            }
        }
        "sighting" => {
            ordered(obj, "first_seen", "last_seen", false)?;
            integer_in(obj, "count", 0, 999_999_999)?;
            if let Some(r) = obj.get("sighting_of_ref") {
                let id = r.as_str().and_then(|s| StixId::parse(s).ok());
                if let Some(id) = id
                    && (SCO_TYPES.contains(&id.object_type())
                        || ["relationship", "sighting"].contains(&id.object_type()))
                {
                    return Err(err("$.sighting_of_ref", "must refer to an SDO"));
                }
            }
        }
        "marking-definition" => {
            let has_def = obj.contains_key("definition_type") || obj.contains_key("definition");
            if !has_def && !obj.contains_key("extensions") {
                return Err(err(
                    "$",
                    "a marking definition needs definition_type and definition, or extensions",
                ));
            }
            if has_def && !(obj.contains_key("definition_type") && obj.contains_key("definition")) {
                return Err(err("$", "definition_type and definition go together"));
            }
            if obj.get("definition_type").and_then(Value::as_str) == Some("tlp") {
                let tlp = obj.pointer_str("/definition/tlp");
                if !matches!(tlp, Some("white" | "green" | "amber" | "red")) {
                    return Err(err(
                        "$.definition.tlp",
                        "must be white, green, amber or red",
                    ));
                }
            }
        }
        "language-content" => {
            let contents = obj
                .get("contents")
                .and_then(Value::as_object)
                .filter(|m| !m.is_empty())
                .ok_or_else(|| err("$.contents", "must be a non-empty dictionary of languages"))?;
            for (lang, v) in contents {
                if !v.is_object() {
                    return Err(err(
                        format!("$.contents.{lang}"),
                        "must be a dictionary of translated properties",
                    ));
                }
            }
        }
        "extension-definition" => {
            const TYPES: &[&str] = &[
                "new-sdo",
                "new-sco",
                "new-sro",
                "property-extension",
                "toplevel-property-extension",
            ];
            let items = obj
                .get("extension_types")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| err("$.extension_types", "must be a non-empty list"))?;
            for (i, t) in items.iter().enumerate() {
                if !t.as_str().is_some_and(|t| TYPES.contains(&t)) {
                    return Err(err(
                        format!("$.extension_types[{i}]"),
                        format!("must be one of {}", TYPES.join(", ")),
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

trait PointerStr {
    fn pointer_str(&self, p: &str) -> Option<&str>;
}

impl PointerStr for Map<String, Value> {
    fn pointer_str(&self, p: &str) -> Option<&str> {
        let mut parts = p.trim_start_matches('/').split('/');
        let mut at = self.get(parts.next()?)?;
        for part in parts {
            at = at.get(part)?;
        }
        at.as_str()
    }
}

fn required_str<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, ObjectError> {
    obj.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| err(format!("$.{name}"), "is required and must be a string"))
}

/// Each value of a `hashes` dictionary must be a hash of its algorithm, where the algorithm is
/// one STIX names; other keys are custom algorithms and pass.
fn check_hashes(obj: &Map<String, Value>) -> Result<(), ObjectError> {
    let Some(hashes) = obj.get("hashes") else {
        return Ok(());
    };
    let map = hashes
        .as_object()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| err("$.hashes", "must be a non-empty dictionary"))?;
    for (alg, v) in map {
        let path = format!("$.hashes.{alg}");
        let value = v.as_str().ok_or_else(|| err(&path, "must be a string"))?;
        let len = match crate::observable::hash_algorithm(alg) {
            Some("MD5") => 32,
            Some("SHA-1") => 40,
            Some("SHA-256" | "SHA3-256") => 64,
            Some("SHA-512" | "SHA3-512") => 128,
            _ => continue,
        };
        if value.len() != len || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err(path, format!("a {alg} hash is {len} hex digits")));
        }
    }
    Ok(())
}

fn port(obj: &Map<String, Value>, name: &str) -> Result<(), ObjectError> {
    integer_in(obj, name, 0, 65535)
}

/// SCO reference properties and the types they may point to (STIX 2.1 section 6).
const SCO_REFS: &[(&str, &str, &[&str])] = &[
    ("network-traffic", "src_payload_ref", &["artifact"]),
    ("network-traffic", "dst_payload_ref", &["artifact"]),
    ("network-traffic", "encapsulates_refs", &["network-traffic"]),
    (
        "network-traffic",
        "encapsulated_by_ref",
        &["network-traffic"],
    ),
    ("process", "opened_connection_refs", &["network-traffic"]),
    ("process", "creator_user_ref", &["user-account"]),
    ("process", "image_ref", &["file"]),
    ("process", "parent_ref", &["process"]),
    ("process", "child_refs", &["process"]),
    (
        "windows-registry-key",
        "creator_user_ref",
        &["user-account"],
    ),
];

/// The rules of the STIX Cyber-observable Objects (STIX 2.1 section 6).
fn check_sco(object_type: &str, obj: &Map<String, Value>) -> Result<(), ObjectError> {
    check_hashes(obj)?;
    for (ty, name, allowed) in SCO_REFS {
        if *ty == object_type {
            check_ref_prop(obj, name, allowed)?;
        }
    }
    check_ref_prop(obj, "object_marking_refs", &["marking-definition"])?;
    match object_type {
        "ipv4-addr" | "ipv6-addr" => {
            let v = required_str(obj, "value")?;
            let ok = match crate::observable::normalize_ip(v) {
                Some((crate::observable::Kind::Ipv4, _)) => object_type == "ipv4-addr",
                Some((crate::observable::Kind::Ipv6, _)) => object_type == "ipv6-addr",
                _ => false,
            };
            if !ok {
                return Err(err(
                    "$.value",
                    format!("'{v}' is not an {object_type} address or CIDR"),
                ));
            }
            check_ref_prop(obj, "resolves_to_refs", &["mac-addr"])?;
            check_ref_prop(obj, "belongs_to_refs", &["autonomous-system"])?;
        }
        "domain-name" => {
            required_str(obj, "value")?;
            check_ref_prop(
                obj,
                "resolves_to_refs",
                &["ipv4-addr", "ipv6-addr", "domain-name"],
            )?;
        }
        "url" => {
            let v = required_str(obj, "value")?;
            if url::Url::parse(v).is_err() {
                return Err(err("$.value", format!("'{v}' is not a URL")));
            }
        }
        "email-addr" => {
            let v = required_str(obj, "value")?;
            if !v.contains('@') {
                return Err(err("$.value", format!("'{v}' is not an e-mail address")));
            }
            check_ref_prop(obj, "belongs_to_ref", &["user-account"])?;
        }
        "mac-addr" => {
            let v = required_str(obj, "value")?;
            let ok = v.len() == 17
                && v.split(':').count() == 6
                && v.split(':').all(|p| {
                    p.len() == 2
                        && p.bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                });
            if !ok {
                return Err(err(
                    "$.value",
                    "a MAC address is six colon-separated lower-case hex pairs",
                ));
            }
        }
        "autonomous-system" => {
            integer_in(obj, "number", 0, i64::from(u32::MAX)).and_then(|()| {
                obj.contains_key("number")
                    .then_some(())
                    .ok_or_else(|| err("$.number", "is required"))
            })?
        }
        "artifact" => {
            const ALGORITHMS: &[&str] =
                &["AES-256-GCM", "ChaCha20-Poly1305", "mime-type-indicated"];
            if let Some(a) = obj.get("encryption_algorithm")
                && !a.as_str().is_some_and(|a| ALGORITHMS.contains(&a))
            {
                return Err(err(
                    "$.encryption_algorithm",
                    format!("must be one of {}", ALGORITHMS.join(", ")),
                ));
            }
            let (bin, url) = (obj.get("payload_bin"), obj.get("url"));
            match (bin, url) {
                (Some(_), Some(_)) => {
                    return Err(err("$", "payload_bin and url may not both be present"));
                }
                (Some(b), None) => {
                    use base64::Engine as _;
                    let text = b.as_str().unwrap_or_default();
                    if base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .is_err()
                    {
                        return Err(err("$.payload_bin", "must be base64"));
                    }
                }
                (None, Some(_)) => {
                    if !obj.contains_key("hashes") {
                        return Err(err("$.hashes", "is required when url is present"));
                    }
                }
                (None, None) => {}
            }
        }
        "file" => {
            if !obj.contains_key("hashes") && !obj.contains_key("name") {
                return Err(err("$", "a file needs hashes or a name"));
            }
            check_ref_prop(obj, "parent_directory_ref", &["directory"])?;
            check_ref_prop(obj, "contains_refs", ANY)?;
            check_ref_prop(obj, "content_ref", &["artifact"])?;
            integer_in(obj, "size", 0, i64::MAX)?;
        }
        "directory" => {
            required_str(obj, "path")?;
            check_ref_prop(obj, "contains_refs", &["file", "directory"])?;
        }
        "mutex" => {
            required_str(obj, "name")?;
        }
        "windows-registry-key" => {
            const DATA_TYPES: &[&str] = &[
                "REG_NONE",
                "REG_SZ",
                "REG_EXPAND_SZ",
                "REG_BINARY",
                "REG_DWORD",
                "REG_DWORD_BIG_ENDIAN",
                "REG_DWORD_LITTLE_ENDIAN",
                "REG_LINK",
                "REG_MULTI_SZ",
                "REG_RESOURCE_LIST",
                "REG_FULL_RESOURCE_DESCRIPTION",
                "REG_RESOURCE_REQUIREMENTS_LIST",
                "REG_QWORD",
                "REG_INVALID_TYPE",
            ];
            for (i, v) in obj
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(t) = v.get("data_type")
                    && !t.as_str().is_some_and(|t| DATA_TYPES.contains(&t))
                {
                    return Err(err(
                        format!("$.values[{i}].data_type"),
                        "is not a Windows registry data type",
                    ));
                }
            }
        }
        "software" => {
            required_str(obj, "name")?;
        }
        "email-message" => {
            if !obj.get("is_multipart").is_some_and(Value::is_boolean) {
                return Err(err(
                    "$.is_multipart",
                    "is required and must be true or false",
                ));
            }
            check_ref_prop(obj, "from_ref", &["email-addr"])?;
            check_ref_prop(obj, "sender_ref", &["email-addr"])?;
            check_ref_prop(obj, "to_refs", &["email-addr"])?;
            check_ref_prop(obj, "cc_refs", &["email-addr"])?;
            check_ref_prop(obj, "bcc_refs", &["email-addr"])?;
            check_ref_prop(obj, "raw_email_ref", &["artifact"])?;
        }
        "network-traffic" => {
            let protocols = obj.get("protocols").and_then(Value::as_array);
            if !protocols.is_some_and(|p| !p.is_empty() && p.iter().all(Value::is_string)) {
                return Err(err(
                    "$.protocols",
                    "is required: a non-empty list of protocol names",
                ));
            }
            if !obj.contains_key("src_ref") && !obj.contains_key("dst_ref") {
                return Err(err("$", "network traffic needs a src_ref or a dst_ref"));
            }
            for r in ["src_ref", "dst_ref"] {
                check_ref_prop(
                    obj,
                    r,
                    &["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"],
                )?;
            }
            port(obj, "src_port")?;
            port(obj, "dst_port")?;
            ordered(obj, "start", "end", false)?;
            if obj.get("is_active") == Some(&Value::Bool(true)) && obj.contains_key("end") {
                return Err(err("$.end", "must be absent while is_active is true"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// A value outside an open vocabulary is allowed; it is worth a warning, since consumers
/// filter on the vocabulary's values.
fn open_vocabulary_warnings(
    object_type: &str,
    obj: &Map<String, Value>,
    warnings: &mut Vec<String>,
) {
    for (types, property, values) in crate::vocab::OPEN_VOCABULARIES {
        if !types.contains(&object_type) {
            continue;
        }
        let found: Vec<&str> = match obj.get(*property) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        for v in found {
            if !values.contains(&v) {
                warnings.push(format!(
                    "$.{property}: '{v}' is not in the STIX 2.1 open vocabulary"
                ));
            }
        }
    }
}

/// The namespace of deterministic SCO identifiers (STIX 2.1 section 2.9).
const SCO_NAMESPACE: uuid::Uuid = uuid::uuid!("00abedb4-aa42-466c-9c01-fed23315a9b7");

/// The properties whose values make an SCO's deterministic identifier.
fn id_contributing(object_type: &str) -> &'static [&'static str] {
    match object_type {
        "artifact" => &["hashes", "payload_bin"],
        "autonomous-system" => &["number"],
        "directory" => &["path"],
        "domain-name" | "email-addr" | "ipv4-addr" | "ipv6-addr" | "mac-addr" | "url" => &["value"],
        "email-message" => &["from_ref", "subject", "body"],
        "file" => &["hashes", "name", "extensions", "parent_directory_ref"],
        "mutex" => &["name"],
        "network-traffic" => &[
            "start",
            "end",
            "src_ref",
            "dst_ref",
            "src_port",
            "dst_port",
            "protocols",
            "extensions",
        ],
        "software" => &["name", "cpe", "swid", "vendor", "version"],
        "user-account" => &["account_type", "user_id", "account_login"],
        "windows-registry-key" => &["key", "values"],
        "x509-certificate" => &["hashes", "serial_number"],
        _ => &[],
    }
}

/// JSON with object keys sorted at every level and no white space: the canonical form (RFC
/// 8785) for the values SCOs carry.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The deterministic identifier an SCO should have, when it has id-contributing properties.
pub fn deterministic_sco_id(object_type: &str, obj: &Map<String, Value>) -> Option<String> {
    let mut contributing = Map::new();
    for p in id_contributing(object_type) {
        let Some(v) = obj.get(*p) else { continue };
        let v = if *p == "hashes" {
            // One hash only, by preference (as the OASIS libraries choose it).
            let map = v.as_object()?;
            let key = ["MD5", "SHA-1", "SHA-256", "SHA-512"]
                .into_iter()
                .find(|k| map.contains_key(*k))
                .map(str::to_owned)
                .or_else(|| map.keys().next().cloned())?;
            let mut one = Map::new();
            one.insert(key.clone(), map[&key].clone());
            Value::Object(one)
        } else {
            v.clone()
        };
        contributing.insert((*p).to_owned(), v);
    }
    if contributing.is_empty() {
        return None;
    }
    let mut text = String::new();
    canonical(&Value::Object(contributing), &mut text);
    Some(format!(
        "{object_type}--{}",
        uuid::Uuid::new_v5(&SCO_NAMESPACE, text.as_bytes())
    ))
}

/// Checks the rules of the object's type; returns warnings for what is allowed but doubtful.
pub fn check(
    object_type: &str,
    obj: &Map<String, Value>,
    options: ValidationOptions,
) -> Result<Vec<String>, ObjectError> {
    let mut warnings = Vec::new();
    check_all_refs(obj)?;
    if SCO_TYPES.contains(&object_type) {
        check_sco(object_type, obj)?;
        let extended = check_extensions(object_type, obj)?;
        if let Some(defined) = crate::vocab::sco_properties(object_type) {
            let mut all: Vec<&str> = defined.to_vec();
            all.extend(["defanged"]);
            custom_properties(obj, &all, extended, options, &mut warnings)?;
        }
        if let (Some(want), Some(id)) = (
            deterministic_sco_id(object_type, obj),
            obj.get("id").and_then(Value::as_str),
        ) && want != id
        {
            warnings.push(format!(
                "$.id: the deterministic identifier of this {object_type} is {want}"
            ));
        }
        return Ok(warnings);
    }
    let Some(rules) = RULES.iter().find(|r| r.name == object_type) else {
        if !object_type.starts_with("x-") {
            warnings.push(format!("$.type: '{object_type}' is not a STIX 2.1 type; custom types should start with 'x-' or be defined by an extension"));
        }
        return Ok(warnings);
    };
    for p in rules.required {
        if !obj.contains_key(*p) {
            return Err(err(
                format!("$.{p}"),
                format!("is required for {object_type}"),
            ));
        }
    }
    for t in rules.timestamps {
        timestamp_at(obj, t)?;
    }
    for (name, allowed) in rules.refs {
        check_ref_prop(obj, name, allowed)?;
    }
    check_common(obj)?;
    check_specific(object_type, obj)?;
    let extended = check_extensions(object_type, obj)?;
    if let Some(defined) = crate::vocab::defined_properties(object_type) {
        custom_properties(obj, defined, extended, options, &mut warnings)?;
    }
    open_vocabulary_warnings(object_type, obj, &mut warnings);
    if SDO_TYPES.contains(&object_type) || matches!(object_type, "relationship" | "sighting") {
        let uuid = obj
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| s.split_once("--"))
            .and_then(|(_, u)| uuid::Uuid::try_parse(u).ok());
        if uuid.is_some_and(|u| u.get_version_num() != 4) {
            return Err(err(
                "$.id",
                "an SDO or SRO identifier must use a version 4 UUID",
            ));
        }
    }
    for name in obj.keys().filter(|k| k.as_str() != "id") {
        if !valid_property_name(name) {
            return Err(err(
                format!("$.{name}"),
                "a property name must be 3-250 characters of a-z, 0-9 and _",
            ));
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::check_object;

    fn base(ty: &str) -> Value {
        json!({
            "type": ty,
            "spec_version": "2.1",
            "id": format!("{ty}--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),
            "created": "2016-04-06T20:03:48.000Z",
            "modified": "2016-04-06T20:03:48.000Z"
        })
    }

    fn with(ty: &str, extra: Value) -> Value {
        let mut v = base(ty);
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    /// (object, Ok or the path of the error)
    fn cases() -> Vec<(Value, Result<(), &'static str>)> {
        let ind = |extra: Value| {
            let mut v = with(
                "indicator",
                json!({"pattern": "[url:value = 'http://x.example/']", "pattern_type": "stix", "valid_from": "2016-01-01T00:00:00Z"}),
            );
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            v
        };
        vec![
            (ind(json!({})), Ok(())),
            (
                with(
                    "indicator",
                    json!({"pattern": "x", "pattern_type": "snort"}),
                ),
                Err("$.valid_from"),
            ),
            (
                ind(json!({"valid_until": "2015-01-01T00:00:00Z"})),
                Err("$.valid_until"),
            ),
            (
                ind(json!({"valid_until": "2016-01-01T00:00:00Z"})),
                Err("$.valid_until"),
            ),
            (ind(json!({"valid_until": "2017-01-01T00:00:00Z"})), Ok(())),
            (ind(json!({"confidence": 101})), Err("$.confidence")),
            (ind(json!({"confidence": 50.5})), Err("$.confidence")),
            (ind(json!({"confidence": 100})), Ok(())),
            (
                ind(json!({"created_by_ref": "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"})),
                Err("$.created_by_ref"),
            ),
            (
                ind(
                    json!({"object_marking_refs": ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "nope"]}),
                ),
                Err("$.object_marking_refs[1]"),
            ),
            (
                ind(json!({"object_marking_refs": []})),
                Err("$.object_marking_refs"),
            ),
            (
                ind(json!({"external_references": [{"source_name": "x"}]})),
                Err("$.external_references[0]"),
            ),
            (
                ind(json!({"external_references": [{"url": "http://x"}]})),
                Err("$.external_references[0].source_name"),
            ),
            (
                ind(
                    json!({"external_references": [{"source_name": "cve", "external_id": "CVE-2016-1234"}]}),
                ),
                Ok(()),
            ),
            (
                ind(json!({"kill_chain_phases": [{"kill_chain_name": "lockheed"}]})),
                Err("$.kill_chain_phases[0].phase_name"),
            ),
            (
                ind(
                    json!({"granular_markings": [{"marking_ref": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "selectors": ["pattern"]}]}),
                ),
                Ok(()),
            ),
            (
                ind(
                    json!({"granular_markings": [{"marking_ref": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "selectors": ["description"]}]}),
                ),
                Err("$.granular_markings[0].selectors[0]"),
            ),
            (
                ind(
                    json!({"external_references": [{"source_name": "a", "url": "u"}], "granular_markings": [{"lang": "ja", "selectors": ["external_references.[0].url"]}]}),
                ),
                Ok(()),
            ),
            (ind(json!({"Bad-Name": 1})), Err("$.Bad-Name")),
            (ind(json!({"x_acme_score": 1})), Ok(())),
            (with("malware", json!({"is_family": true})), Err("$.name")),
            (with("malware", json!({"is_family": false})), Ok(())),
            (
                with(
                    "malware",
                    json!({"is_family": false, "sample_refs": ["url--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}),
                ),
                Err("$.sample_refs[0]"),
            ),
            (
                with(
                    "campaign",
                    json!({"name": "c", "first_seen": "2016-02-01T00:00:00Z", "last_seen": "2016-01-01T00:00:00Z"}),
                ),
                Err("$.last_seen"),
            ),
            (
                with(
                    "observed-data",
                    json!({"first_observed": "2016-01-01T00:00:00Z", "last_observed": "2016-01-01T00:00:00Z", "number_observed": 0, "object_refs": ["ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"]}),
                ),
                Err("$.number_observed"),
            ),
            (
                with(
                    "observed-data",
                    json!({"first_observed": "2016-01-01T00:00:00Z", "last_observed": "2016-01-01T00:00:00Z", "number_observed": 1}),
                ),
                Err("$"),
            ),
            (
                with(
                    "opinion",
                    json!({"opinion": "meh", "object_refs": ["report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}),
                ),
                Err("$.opinion"),
            ),
            (
                with(
                    "report",
                    json!({"name": "r", "published": "yesterday", "object_refs": ["malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}),
                ),
                Err("$.published"),
            ),
            (
                with("location", json!({"latitude": 91.0, "longitude": 0.0})),
                Err("$.latitude"),
            ),
            (with("location", json!({"country": "JP"})), Ok(())),
            (with("location", json!({})), Err("$")),
            (
                with(
                    "relationship",
                    json!({"relationship_type": "uses", "source_ref": "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}),
                ),
                Err("$.target_ref"),
            ),
            (
                with(
                    "sighting",
                    json!({"sighting_of_ref": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"}),
                ),
                Err("$.sighting_of_ref"),
            ),
            (
                with(
                    "sighting",
                    json!({"sighting_of_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "where_sighted_refs": ["malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}),
                ),
                Err("$.where_sighted_refs[0]"),
            ),
            (
                with(
                    "sighting",
                    json!({"sighting_of_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "count": -1}),
                ),
                Err("$.count"),
            ),
            (
                json!({"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp", "definition": {"tlp": "purple"}}),
                Err("$.definition.tlp"),
            ),
            (
                json!({"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp", "definition": {"tlp": "green"}}),
                Ok(()),
            ),
            (
                json!({"type": "ipv4-addr", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.0/24"}),
                Ok(()),
            ),
            (
                json!({"type": "ipv4-addr", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "2001:db8::1"}),
                Err("$.value"),
            ),
            (
                json!({"type": "ipv6-addr", "id": "ipv6-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"}),
                Err("$.value"),
            ),
            (
                json!({"type": "url", "id": "url--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "not a url"}),
                Err("$.value"),
            ),
            (
                json!({"type": "mac-addr", "id": "mac-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "D2:FB:49:24:37:18"}),
                Err("$.value"),
            ),
            (
                json!({"type": "mac-addr", "id": "mac-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "d2:fb:49:24:37:18"}),
                Ok(()),
            ),
            (
                json!({"type": "file", "id": "file--ff26c055-6336-5bc5-b98d-13d6226742dd", "size": 3}),
                Err("$"),
            ),
            (
                json!({"type": "file", "id": "file--ff26c055-6336-5bc5-b98d-13d6226742dd", "hashes": {"MD5": "abc"}}),
                Err("$.hashes.MD5"),
            ),
            (
                json!({"type": "file", "id": "file--ff26c055-6336-5bc5-b98d-13d6226742dd", "hashes": {"x-vendor": "abc"}}),
                Ok(()),
            ),
            (
                json!({"type": "artifact", "id": "artifact--ff26c055-6336-5bc5-b98d-13d6226742dd", "url": "http://x.example/a"}),
                Err("$.hashes"),
            ),
            (
                json!({"type": "artifact", "id": "artifact--ff26c055-6336-5bc5-b98d-13d6226742dd", "payload_bin": "aGVsbG8= ..."}),
                Err("$.payload_bin"),
            ),
            (
                json!({"type": "artifact", "id": "artifact--ff26c055-6336-5bc5-b98d-13d6226742dd", "payload_bin": "aGVsbG8=", "encryption_algorithm": "rot13"}),
                Err("$.encryption_algorithm"),
            ),
            (
                json!({"type": "network-traffic", "id": "network-traffic--ff26c055-6336-5bc5-b98d-13d6226742dd", "protocols": ["tcp"], "dst_ref": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "dst_port": 70000}),
                Err("$.dst_port"),
            ),
            (
                json!({"type": "network-traffic", "id": "network-traffic--ff26c055-6336-5bc5-b98d-13d6226742dd", "protocols": ["tcp"]}),
                Err("$"),
            ),
            (
                json!({"type": "email-message", "id": "email-message--ff26c055-6336-5bc5-b98d-13d6226742dd", "is_multipart": false, "from_ref": "url--ff26c055-6336-5bc5-b98d-13d6226742dd"}),
                Err("$.from_ref"),
            ),
            (
                json!({"type": "windows-registry-key", "id": "windows-registry-key--ff26c055-6336-5bc5-b98d-13d6226742dd", "key": "HKEY_LOCAL_MACHINE\\x", "values": [{"name": "a", "data_type": "REG_TEXT"}]}),
                Err("$.values[0].data_type"),
            ),
            (
                json!({"type": "process", "id": "process--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "image_ref": "url--ff26c055-6336-5bc5-b98d-13d6226742dd"}),
                Err("$.image_ref"),
            ),
            (
                json!({"type": "process", "id": "process--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "parent_ref": "process--ff26c055-6336-4bc5-b98d-13d6226742dd"}),
                Ok(()),
            ),
            (
                with(
                    "tool",
                    json!({"name": "t", "extensions": {"extension-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f": {"extension_type": "property-extension", "rank": 1}}}),
                ),
                Ok(()),
            ),
            (
                with(
                    "tool",
                    json!({"name": "t", "extensions": {"extension-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f": {"rank": 1}}}),
                ),
                Err(
                    "$.extensions.extension-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f.extension_type",
                ),
            ),
            (
                with("tool", json!({"name": "t", "extensions": {"ntfs-ext": {}}})),
                Err("$.extensions.ntfs-ext"),
            ),
            (
                json!({"type": "file", "id": "file--ff26c055-6336-5bc5-b98d-13d6226742dd", "name": "a", "extensions": {"ntfs-ext": {"sid": "1"}}}),
                Ok(()),
            ),
            (
                with(
                    "tool",
                    json!({"name": "t", "implemented_by_ref": "not-an-id"}),
                ),
                Err("$.implemented_by_ref"),
            ),
            (
                with(
                    "language-content",
                    json!({"object_ref": "tool--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "contents": {"ja": "x"}}),
                ),
                Err("$.contents.ja"),
            ),
            (
                with(
                    "language-content",
                    json!({"object_ref": "tool--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "contents": {"ja": {"name": "ツール"}}}),
                ),
                Ok(()),
            ),
            (
                with(
                    "extension-definition",
                    json!({"name": "e", "schema": "s", "version": "1.0", "created_by_ref": "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "extension_types": ["new-thing"]}),
                ),
                Err("$.extension_types[0]"),
            ),
        ]
    }

    #[test]
    fn rule_table() {
        for (obj, want) in cases() {
            let got = check_object(&obj).map(|_| ()).map_err(|e| e.path);
            assert_eq!(
                got.as_ref().map(|_| ()).map_err(String::as_str),
                want,
                "{obj}"
            );
        }
    }

    #[test]
    fn vocabularies_and_pattern_paths_warn() {
        let mut ind = with(
            "indicator",
            json!({"pattern": "[ipv4-addr:valu = '1.2.3.4'] AND [x-acme:thing = 1] AND [widget:a = 1]", "pattern_type": "stix", "valid_from": "2016-01-01T00:00:00Z", "indicator_types": ["malicious-activity", "evil"]}),
        );
        let w = check_object(&ind).unwrap().warnings;
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w[0].contains("at character 1: ipv4-addr has no property 'valu'"),
            "{w:?}"
        );
        assert!(
            w[1].contains("'widget' is not a STIX 2.1 cyber-observable type"),
            "{w:?}"
        );
        assert!(w[2].contains("$.indicator_types: 'evil'"), "{w:?}");
        ind["pattern"] = json!(
            "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' AND file:x_acme_tag = 'a']"
        );
        ind["indicator_types"] = json!(["malicious-activity"]);
        assert!(check_object(&ind).unwrap().warnings.is_empty());
    }

    #[test]
    fn deterministic_sco_ids() {
        // The expected id computed independently: Python's uuid.uuid5(namespace,
        // '{"value":"198.51.100.3"}').
        let ip = json!({"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", "value": "198.51.100.3"});
        assert!(check_object(&ip).unwrap().warnings.is_empty());
        // The specification's own example id is not the deterministic one: a warning only.
        let mut other = ip.clone();
        other["id"] = json!("ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd");
        let w = check_object(&other).unwrap().warnings;
        assert!(
            w.len() == 1 && w[0].starts_with("$.id: the deterministic identifier"),
            "{w:?}"
        );
        let file = json!({"type": "file", "id": "file--00000000-0000-4000-8000-000000000000", "hashes": {"SHA-256": "aa", "MD5": "d41d8cd98f00b204e9800998ecf8427e"}, "name": "a"});
        let obj = file.as_object().unwrap();
        let a = super::deterministic_sco_id("file", obj).unwrap();
        let mut reordered = obj.clone();
        reordered.remove("hashes");
        reordered.insert(
            "hashes".into(),
            json!({"MD5": "d41d8cd98f00b204e9800998ecf8427e"}),
        );
        assert_eq!(
            super::deterministic_sco_id("file", &reordered).unwrap(),
            a,
            "one hash, by preference; key order is irrelevant"
        );
        assert!(super::deterministic_sco_id("process", obj).is_none());
    }

    #[test]
    fn custom_properties_warn_or_are_refused_when_strict() {
        let tool = with("tool", json!({"name": "t", "x_acme_rank": 3}));
        let w = check_object(&tool).unwrap().warnings;
        assert!(
            w.len() == 1 && w[0].starts_with("$.x_acme_rank: a custom property"),
            "{w:?}"
        );
        let strict = crate::ValidationOptions {
            strict_custom_properties: true,
        };
        assert_eq!(
            crate::check_object_with(&tool, strict).unwrap_err().path,
            "$.x_acme_rank"
        );
        // Properties a top-level property extension defines are its business.
        let mut extended = tool.clone();
        extended["extensions"] = json!({"extension-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f": {"extension_type": "toplevel-property-extension"}});
        assert!(crate::check_object_with(&extended, strict).is_ok());
    }

    #[test]
    fn warnings_are_returned_not_refused() {
        let odd = with("x-acme-widget", json!({"size": 3}));
        assert!(
            check_object(&odd).unwrap().warnings.is_empty(),
            "custom x- types are fine"
        );
        let unknown = with("widget", json!({}));
        let w = check_object(&unknown).unwrap().warnings;
        assert!(w[0].starts_with("$.type"), "{w:?}");
        let mut v1 = with("tool", json!({"name": "t"}));
        v1["id"] = json!("tool--8e2e2d2b-17d4-1cbf-938f-98ee46b3cd3f");
        let e = check_object(&v1).unwrap_err();
        assert!(e.path == "$.id" && e.message.contains("version 4"), "{e}");
    }
}
