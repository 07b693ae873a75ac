//! Reading the block list a member applies: plain text (one value a line, `#` comments), CSV
//! with a header row naming a `value` column (and optionally `kind`), or STIX 2.1 (a bundle,
//! a TAXII envelope, or one object). Every bad line is reported with its number.

use serde_json::Value;
use stix::observable::{self, Kind};

use relay_core::exchange::exported_kind;

/// What kind of body an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadFormat {
    Text,
    Csv,
    Stix,
}

impl UploadFormat {
    /// From a Content-Type: `text/csv`, a JSON type, else text.
    pub fn from_content_type(ct: Option<&str>) -> UploadFormat {
        let ct = ct.unwrap_or("").to_ascii_lowercase();
        if ct.starts_with("text/csv") {
            UploadFormat::Csv
        } else if ct.contains("json") {
            UploadFormat::Stix
        } else {
            UploadFormat::Text
        }
    }
}

/// A value as a block-list entry: its stored kind and normal form. The kind is told by the
/// form: address or network, URL (has a scheme), hex of a hash's length, else a domain name.
pub fn classify(raw: &str) -> Result<(String, String), String> {
    let v = raw.trim();
    if v.is_empty() {
        return Err("an empty value".into());
    }
    if let Some((kind, value)) = observable::normalize_ip(v) {
        return Ok((kind.to_string(), value));
    }
    if v.contains("://") {
        return observable::normalize_url(v)
            .map(|u| ("url".to_owned(), u))
            .ok_or_else(|| format!("'{v}' is not a valid URL"));
    }
    if v.bytes().all(|b| b.is_ascii_hexdigit()) {
        let alg = match v.len() {
            32 => "MD5",
            40 => "SHA-1",
            64 => "SHA-256",
            128 => "SHA-512",
            _ => {
                return Err(format!(
                    "'{v}' is hex but not the length of an MD5, SHA-1, SHA-256 or SHA-512 hash"
                ));
            }
        };
        return Ok((format!("hash:{alg}"), v.to_ascii_lowercase()));
    }
    match observable::normalize_domain(v) {
        Some(d) if d.contains('.') => Ok(("domain".to_owned(), d)),
        _ => Err(format!(
            "'{v}' is not an IP address or network, URL, hash or domain name"
        )),
    }
}

/// A value with an explicit kind (a CSV `kind` column).
fn classify_as(kind: &str, raw: &str) -> Result<(String, String), String> {
    let (k, v) = classify(raw)?;
    let wanted = kind.trim().to_ascii_lowercase();
    let same = match wanted.as_str() {
        "ip" => k == "ipv4" || k == "ipv6",
        "hash" => k.starts_with("hash:"),
        w => k == w || observable::hash_algorithm(w).is_some_and(|a| k == format!("hash:{a}")),
    };
    if same {
        Ok((k, v))
    } else {
        Err(format!("'{raw}' is not of kind '{kind}'"))
    }
}

/// The entries of an upload, sorted and without duplicates, or every bad line (line number
/// and why; at most 50 reported).
pub fn parse(format: UploadFormat, body: &[u8]) -> Result<Vec<(String, String)>, Vec<String>> {
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) => return Err(vec![format!("the body is not UTF-8 text: {e}")]),
    };
    match format {
        UploadFormat::Text => {
            for (i, l) in text.lines().enumerate() {
                let l = l.split('#').next().unwrap_or("").trim();
                if l.is_empty() {
                    continue;
                }
                match classify(l) {
                    Ok(e) => entries.push(e),
                    Err(e) => errors.push(format!("line {}: {e}", i + 1)),
                }
            }
        }
        UploadFormat::Csv => {
            let mut r = csv::ReaderBuilder::new()
                .flexible(true)
                .comment(Some(b'#'))
                .from_reader(text.as_bytes());
            let header = match r.headers() {
                Ok(h) => h.clone(),
                Err(e) => return Err(vec![format!("line 1: unreadable header: {e}")]),
            };
            let col = |name: &str| {
                header
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(name))
            };
            let Some(value_col) = col("value") else {
                return Err(vec![
                    "line 1: the header row must name a 'value' column (and may name 'kind')"
                        .into(),
                ]);
            };
            let kind_col = col("kind");
            for record in r.records() {
                match record {
                    Ok(rec) => {
                        let line = rec.position().map_or(0, |p| p.line());
                        let Some(v) = rec.get(value_col) else {
                            errors.push(format!("line {line}: no value column"));
                            continue;
                        };
                        let parsed = match kind_col
                            .and_then(|k| rec.get(k))
                            .filter(|k| !k.trim().is_empty())
                        {
                            Some(k) => classify_as(k, v),
                            None => classify(v),
                        };
                        match parsed {
                            Ok(e) => entries.push(e),
                            Err(e) => errors.push(format!("line {line}: {e}")),
                        }
                    }
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        errors.push(format!("line {line}: {e}"));
                    }
                }
            }
        }
        UploadFormat::Stix => {
            let doc: Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => return Err(vec![format!("line {}: not JSON: {e}", e.line())]),
            };
            let objects: Vec<&Value> = match doc.get("objects").and_then(Value::as_array) {
                Some(objs) => objs.iter().collect(),
                None if doc.get("type").is_some() => vec![&doc],
                None => {
                    return Err(vec![
                        "a STIX upload is a bundle, a TAXII envelope or one object".into(),
                    ]);
                }
            };
            for (i, obj) in objects.iter().enumerate() {
                let found: Vec<_> = observable::extract(obj)
                    .into_iter()
                    .filter(|o| exported_kind(&o.kind.to_string()) && o.kind != Kind::Port)
                    .collect();
                let id = obj.get("id").and_then(Value::as_str).unwrap_or("?");
                let carries = matches!(
                    obj.get("type").and_then(Value::as_str),
                    Some("indicator" | "ipv4-addr" | "ipv6-addr" | "domain-name" | "url" | "file")
                );
                if carries && found.is_empty() {
                    errors.push(format!(
                        "object {} ({id}): no address, domain, URL or hash in it",
                        i + 1
                    ));
                }
                entries.extend(found.into_iter().map(|o| (o.kind.to_string(), o.value)));
            }
        }
    }
    if !errors.is_empty() {
        let n = errors.len();
        errors.truncate(50);
        if n > 50 {
            errors.push(format!("... and {} more", n - 50));
        }
        return Err(errors);
    }
    entries.sort();
    entries.dedup();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lists_report_bad_lines_by_number() {
        let body = b"# applied at the border\n45.9.8.7\n\nevil-c2.xyz  # seen twice\nnot a value\n2a01:db8::/48\n";
        let err = parse(UploadFormat::Text, body).unwrap_err();
        assert_eq!(err.len(), 1);
        assert!(err[0].starts_with("line 5:"), "{err:?}");
        let ok = parse(UploadFormat::Text, b"45.9.8.7\nEVIL-C2.xyz\n45.9.8.7\n").unwrap();
        assert_eq!(
            ok,
            [
                ("domain".to_owned(), "evil-c2.xyz".to_owned()),
                ("ipv4".to_owned(), "45.9.8.7".to_owned())
            ]
        );
    }

    #[test]
    fn csv_needs_a_value_column_and_checks_kinds() {
        let err = parse(UploadFormat::Csv, b"ip\n1.2.3.4\n").unwrap_err();
        assert!(err[0].contains("'value'"), "{err:?}");
        let err = parse(
            UploadFormat::Csv,
            b"kind,value\nip,45.9.8.7\ndomain,45.9.8.8\n",
        )
        .unwrap_err();
        assert!(err[0].starts_with("line 3:"), "{err:?}");
        let ok = parse(UploadFormat::Csv, b"value,kind\nhttp://evil-c2.xyz/a,url\n").unwrap();
        assert_eq!(ok[0].0, "url");
    }

    #[test]
    fn stix_bundles_give_their_observables() {
        let body = br#"{"type":"bundle","id":"bundle--1","objects":[
            {"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
             "created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z",
             "pattern":"[ipv4-addr:value = '45.9.8.7'] OR [domain-name:value = 'evil-c2.xyz']",
             "pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}"#;
        let ok = parse(UploadFormat::Stix, body).unwrap();
        assert_eq!(ok.len(), 2);
    }
}
