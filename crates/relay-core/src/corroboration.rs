//! Corroboration: when several organisations post the same observable (the same C2 address,
//! say), the relay counts how many distinct organisations reported it. Each served object that
//! mentions observables carries the highest such count among them as the custom property
//! `x_isac_corroboration` (an integer, 1 when only its poster reported it). Who the reporters
//! are is shown to the ISAC administrator only.
//!
//! The relay owns the property: a value a poster sets is dropped on the way in.

/// The served property.
pub const PROPERTY: &str = "x_isac_corroboration";

/// Appends the object's JSON text to `out`, with the corroboration count as its last property
/// when it mentions observables (`count > 0`). Stored bodies are compact JSON objects, so the
/// property goes before the final `}` without re-parsing.
pub fn write_annotated(out: &mut String, body: &str, count: u32) {
    match body.strip_suffix('}') {
        Some(head) if count > 0 => {
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
    fn annotates_only_objects_with_observables() {
        let body = r#"{"type":"indicator","id":"indicator--1"}"#;
        let v: serde_json::Value = serde_json::from_str(&annotated(body, 3)).unwrap();
        assert_eq!(v[PROPERTY], 3);
        assert_eq!(v["type"], "indicator");
        assert_eq!(annotated(body, 0), body);
    }
}
