//! Corroboration: when several organisations post the same observable (the same C2 address,
//! say), the relay counts how many distinct organisations reported it. A served object that
//! mentions an observable at least two organisations reported carries the highest such count as
//! the custom property `x_isac_corroboration` (an integer). Without it, only the poster reported
//! what the object mentions: objects nobody corroborated are served exactly as posted, so they
//! round-trip unchanged and parse in strict STIX libraries. Who the reporters are is shown to
//! the ISAC administrator only.
//!
//! The relay owns the property: a value a poster sets is dropped on the way in.

/// The served property.
pub const PROPERTY: &str = "x_isac_corroboration";

/// Appends the object's JSON text to `out`, with the corroboration count as its last property
/// when at least two organisations reported what it mentions. Stored bodies are compact JSON objects, so the
/// property goes before the final `}` without re-parsing.
pub fn write_annotated(out: &mut String, body: &str, count: u32) {
    match body.strip_suffix('}') {
        Some(head) if count >= 2 => {
            out.push_str(head);
            out.push_str(",\"");
            out.push_str(PROPERTY);
            out.push_str("\":");
            out.push_str(&count.to_string());
            out.push('}');
        }
        _ => out.push_str(body),
    }
}

/// The object's JSON text as served.
pub fn annotated(body: &str, count: u32) -> String {
    let mut out = String::with_capacity(body.len() + 32);
    write_annotated(&mut out, body, count);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotates_only_corroborated_objects() {
        let body = r#"{"type":"indicator","id":"indicator--1"}"#;
        let v: serde_json::Value = serde_json::from_str(&annotated(body, 3)).unwrap();
        assert_eq!(v[PROPERTY], 3);
        assert_eq!(v["type"], "indicator");
        assert_eq!(annotated(body, 1), body, "only its poster: as posted");
        assert_eq!(annotated(body, 0), body, "no observables");
    }
}
