//! Bounds on what one request may make the relay hold or parse: objects per envelope, the
//! length of any string in an object, the length of a pattern. Checked before the STIX rules,
//! so that a hostile object costs at most one walk of its JSON. Pure: no IO.

use serde_json::Value;

/// The bounds, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Objects in one posted envelope.
    pub max_objects: usize,
    /// Bytes in any one string of an object (a name, a description, a payload).
    pub max_string_bytes: usize,
    /// Bytes in an indicator's pattern.
    pub max_pattern_bytes: usize,
    /// Terms in an indicator's pattern (`stix::pattern::terms`: comparisons, set members,
    /// observations).
    pub max_pattern_terms: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_objects: 10_000,
            max_string_bytes: 1024 * 1024,
            max_pattern_bytes: 64 * 1024,
            max_pattern_terms: 1_000,
        }
    }
}

impl Bounds {
    /// Why an object is out of bounds, naming the property's path; `Ok` when it is not.
    pub fn check_object(&self, object: &Value) -> Result<(), String> {
        if let Some(p) = object.get("pattern").and_then(Value::as_str)
            && p.len() > self.max_pattern_bytes
        {
            return Err(format!(
                "pattern: {} bytes, more than the {} this relay accepts",
                p.len(),
                self.max_pattern_bytes
            ));
        }
        // A pattern that does not parse is left to the STIX rules, which say where it fails.
        if let Some(p) = object.get("pattern").and_then(Value::as_str)
            && let Ok(tree) = stix::pattern::parse(p)
        {
            let terms = stix::pattern::terms(&tree);
            if terms > self.max_pattern_terms {
                return Err(format!(
                    "pattern: {terms} terms (comparisons, set members, observations), more than the {} this relay accepts",
                    self.max_pattern_terms
                ));
            }
        }
        self.walk(object, &mut String::new())
    }

    fn walk(&self, v: &Value, path: &mut String) -> Result<(), String> {
        match v {
            Value::String(s) if s.len() > self.max_string_bytes => Err(format!(
                "{}: a string of {} bytes, more than the {} this relay accepts",
                if path.is_empty() {
                    "object"
                } else {
                    path.as_str()
                },
                s.len(),
                self.max_string_bytes
            )),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    self.walk(item, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            Value::Object(map) => {
                // Property names are bounded by the STIX rules (250 characters).
                for (k, item) in map {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    self.walk(item, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_strings_and_patterns_are_named_by_path() {
        let b = Bounds {
            max_objects: 10,
            max_string_bytes: 8,
            max_pattern_bytes: 20,
            max_pattern_terms: 3,
        };
        assert!(b.check_object(&json!({"name": "short"})).is_ok());
        let e = b
            .check_object(&json!({"external_references": [{"source_name": "x"}, {"url": "http://far-too-long"}]}))
            .unwrap_err();
        assert!(e.starts_with("external_references[1].url:"), "{e}");
        let e = b
            .check_object(&json!({"pattern": "[ipv4-addr:value = '1.2.3.4']"}))
            .unwrap_err();
        assert!(e.starts_with("pattern:"), "{e}");
        let wide = Bounds {
            max_string_bytes: 1000,
            max_pattern_bytes: 1000,
            ..b
        };
        // One observation with two comparisons: 3 terms, at the bound.
        assert!(
            wide.check_object(&json!({"pattern": "[a:b = 1 OR a:b = 2]"}))
                .is_ok()
        );
        let e = wide
            .check_object(&json!({"pattern": "[a:b IN (1, 2, 3)]"}))
            .unwrap_err();
        assert!(e.starts_with("pattern: 4 terms"), "{e}");
        let e = wide
            .check_object(&json!({"pattern": "[a:b = 1] AND [a:b = 2]"}))
            .unwrap_err();
        assert!(e.starts_with("pattern: 4 terms"), "{e}");
    }
}
