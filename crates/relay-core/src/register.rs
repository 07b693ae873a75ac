//! Indicators from plain values, for people who do not write STIX: a value's kind told by its
//! form, the STIX pattern that matches it, a pasted list or CSV read line by line with each
//! line's error, and the indicator built from a value and the form's choices. Pure: the
//! service (`service::register`) posts what this builds through the TAXII write path.

use serde_json::{Map, Value, json};
use stix::Timestamp;
use stix::observable::{Kind, Observable};

use crate::feed::Severity;
use crate::tlp::Tlp;

/// The most values one registration takes: a preview shows them all on one page.
pub const MAX_LINES: usize = 5_000;

/// What the form sets for every value (a CSV column may override some per line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choices {
    pub tlp: Tlp,
    pub severity: Option<Severity>,
    pub confidence: Option<u8>,
    pub valid_until: Option<Timestamp>,
    pub description: Option<String>,
}

/// One value ready to become an indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub observable: Observable,
    pub pattern: String,
    pub confidence: Option<u8>,
    pub valid_until: Option<Timestamp>,
    pub description: Option<String>,
}

/// One line of the input: its number (from 1) and text, and the draft or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub number: usize,
    pub input: String,
    pub result: Result<Draft, String>,
}

/// Reads one value: its kind is told by its form (address or network, URL, e-mail address,
/// hash by its length, else a domain name), and it is put in the form the index keeps.
pub fn detect(value: &str) -> Result<Observable, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err("empty value".into());
    }
    if let Some((kind, value)) = stix::observable::normalize_ip(v) {
        return Ok(Observable { kind, value });
    }
    if v.contains("://") {
        return stix::observable::normalize("url", v);
    }
    if v.contains('@') {
        return stix::observable::normalize("email", v);
    }
    if v.bytes().all(|b| b.is_ascii_hexdigit()) {
        let alg = match v.len() {
            32 => Some("MD5"),
            40 => Some("SHA-1"),
            64 => Some("SHA-256"),
            128 => Some("SHA-512"),
            _ => None,
        };
        if let Some(alg) = alg {
            return stix::observable::normalize(&format!("hash:{alg}"), v);
        }
        if v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "'{v}' is a number, not an address, domain, URL or hash"
            ));
        }
    }
    stix::observable::normalize_domain(v)
        .filter(|d| d.contains('.'))
        .map(|value| Observable {
            kind: Kind::Domain,
            value,
        })
        .ok_or_else(|| {
            format!("'{v}' is not an IP address or network, domain, URL, e-mail address or hash")
        })
}

/// The STIX pattern that matches the observable.
pub fn pattern(o: &Observable) -> Result<String, String> {
    let path = match &o.kind {
        Kind::Ipv4 => "ipv4-addr:value".to_owned(),
        Kind::Ipv6 => "ipv6-addr:value".to_owned(),
        Kind::Domain => "domain-name:value".to_owned(),
        Kind::Url => "url:value".to_owned(),
        Kind::Email => "email-addr:value".to_owned(),
        Kind::Hash(alg) => format!("file:hashes.'{alg}'"),
        Kind::Port | Kind::Asn => {
            return Err(format!(
                "a {} alone cannot be registered as an indicator",
                o.kind
            ));
        }
    };
    let literal = o.value.replace('\\', "\\\\").replace('\'', "\\'");
    Ok(format!("[{path} = '{literal}']"))
}

/// Reads a pasted list or an uploaded CSV. Plain text: one value per line. CSV: a first row
/// naming the columns (`value` required; `kind`, `confidence`, `valid_until`, `description`
/// optional), or rows of a value and an optional description. Blank lines and lines starting
/// with `#` are skipped. Every other line comes back with its draft or its error.
pub fn read_lines(text: &str, choices: &Choices, now: Timestamp) -> Result<Vec<Line>, String> {
    let mut columns: Option<Vec<Column>> = None;
    let mut lines = Vec::new();
    let mut first = true;
    // Line by line, so that every error names the line a person sees in an editor (a CSV
    // reader's record count skips blank lines). A quoted field cannot span lines here: an
    // unclosed quote takes the rest of its line, whose value then fails its check.
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let record = match one_record(trimmed) {
            Ok(r) => r,
            Err(e) => {
                first = false;
                lines.push(Line {
                    number,
                    input: trimmed.to_owned(),
                    result: Err(e),
                });
                continue;
            }
        };
        if first
            && record
                .get(0)
                .is_some_and(|f| f.eq_ignore_ascii_case("value"))
        {
            first = false;
            columns = Some(
                record
                    .iter()
                    .map(Column::named)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("line {number}: {e}"))?,
            );
            continue;
        }
        first = false;
        let result = match &columns {
            Some(cols) => draft_from(cols, &record, choices, now),
            None => draft_from(&[Column::Value, Column::Description], &record, choices, now),
        };
        lines.push(Line {
            number,
            input: trimmed.to_owned(),
            result,
        });
        if lines.len() > MAX_LINES {
            return Err(format!("more than {MAX_LINES} values: split the list"));
        }
    }
    Ok(lines)
}

/// One line read as one CSV record.
fn one_record(line: &str) -> Result<csv::StringRecord, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(line.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => Ok(record),
        Ok(false) => Err("empty line".into()),
        Err(e) => Err(format!("unreadable CSV: {e}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Value,
    Kind,
    Confidence,
    ValidUntil,
    Description,
}

impl Column {
    fn named(name: &str) -> Result<Column, String> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "value" => Column::Value,
            "kind" => Column::Kind,
            "confidence" => Column::Confidence,
            "valid_until" => Column::ValidUntil,
            "description" => Column::Description,
            other => {
                return Err(format!(
                    "unknown column '{other}': expected value, kind, confidence, valid_until, description"
                ));
            }
        })
    }
}

fn draft_from(
    columns: &[Column],
    record: &csv::StringRecord,
    choices: &Choices,
    now: Timestamp,
) -> Result<Draft, String> {
    if record.len() > columns.len() {
        return Err(format!(
            "{} fields, {} expected",
            record.len(),
            columns.len()
        ));
    }
    let mut value = None;
    let mut kind = None;
    let mut confidence = choices.confidence;
    let mut valid_until = choices.valid_until;
    let mut description = choices.description.clone();
    for (col, field) in columns.iter().zip(record.iter()) {
        if field.is_empty() {
            continue;
        }
        match col {
            Column::Value => value = Some(field),
            Column::Kind => kind = Some(field),
            Column::Confidence => confidence = Some(parse_confidence(field)?),
            Column::ValidUntil => valid_until = Some(parse_until(field)?),
            Column::Description => description = Some(field.to_owned()),
        }
    }
    let value = value.ok_or("no value")?;
    let observable = match kind {
        Some(k) => stix::observable::normalize(k, value)?,
        None => detect(value)?,
    };
    if let Some(until) = valid_until
        && until <= now
    {
        return Err(format!("valid until {until} is not in the future"));
    }
    Ok(Draft {
        pattern: pattern(&observable)?,
        observable,
        confidence,
        valid_until,
        description,
    })
}

/// A confidence from 0 to 100.
pub fn parse_confidence(s: &str) -> Result<u8, String> {
    s.trim()
        .parse::<u8>()
        .ok()
        .filter(|c| *c <= 100)
        .ok_or_else(|| format!("confidence '{s}' is not a whole number from 0 to 100"))
}

/// A time limit: a STIX timestamp, or a date (the end of that day, UTC).
pub fn parse_until(s: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(t) = Timestamp::parse(s) {
        return Ok(t);
    }
    let date: jiff::civil::Date = s
        .parse()
        .map_err(|_| format!("'{s}' is not a date (YYYY-MM-DD) or a STIX timestamp"))?;
    let end = date
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| e.to_string())?
        .timestamp()
        .as_microsecond()
        + 86_400_000_000
        - 1;
    Ok(Timestamp::from_micros(end))
}

/// The indicator for one draft, as posted. `identity` is the poster's organisation.
pub fn indicator(
    draft: &Draft,
    choices: &Choices,
    identity: Option<&str>,
    now: Timestamp,
) -> Value {
    let now = now.to_string();
    let mut o = Map::new();
    o.insert("type".into(), json!("indicator"));
    o.insert("spec_version".into(), json!("2.1"));
    o.insert(
        "id".into(),
        json!(format!("indicator--{}", uuid::Uuid::new_v4())),
    );
    if let Some(id) = identity {
        o.insert("created_by_ref".into(), json!(id));
    }
    o.insert("created".into(), json!(now));
    o.insert("modified".into(), json!(now));
    o.insert("name".into(), json!(draft.observable.value));
    if let Some(d) = &draft.description {
        o.insert("description".into(), json!(d));
    }
    o.insert("indicator_types".into(), json!(["malicious-activity"]));
    o.insert("pattern".into(), json!(draft.pattern));
    o.insert("pattern_type".into(), json!("stix"));
    o.insert("pattern_version".into(), json!("2.1"));
    o.insert("valid_from".into(), json!(now));
    if let Some(u) = draft.valid_until {
        o.insert("valid_until".into(), json!(u.to_string()));
    }
    if let Some(c) = draft.confidence {
        o.insert("confidence".into(), json!(c));
    }
    if let Some(s) = choices.severity {
        o.insert("labels".into(), json!([format!("severity:{}", s.as_str())]));
    }
    o.insert(
        "object_marking_refs".into(),
        json!([choices.tlp.marking_ref()]),
    );
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices() -> Choices {
        Choices {
            tlp: Tlp::Green,
            severity: Some(Severity::Urgent),
            confidence: Some(70),
            valid_until: None,
            description: None,
        }
    }

    fn now() -> Timestamp {
        Timestamp::parse("2026-01-01T00:00:00Z").unwrap()
    }

    #[test]
    fn kinds_are_told_by_form() {
        let cases = [
            ("192.0.2.7", "[ipv4-addr:value = '192.0.2.7']"),
            ("198.51.100.0/24", "[ipv4-addr:value = '198.51.100.0/24']"),
            ("2001:DB8::1", "[ipv6-addr:value = '2001:db8::1']"),
            (
                "Evil.Example.COM.",
                "[domain-name:value = 'evil.example.com']",
            ),
            (
                "http://evil.example/a?b=c",
                "[url:value = 'http://evil.example/a?b=c']",
            ),
            ("x@evil.example", "[email-addr:value = 'x@evil.example']"),
            (
                "D41D8CD98F00B204E9800998ECF8427E",
                "[file:hashes.'MD5' = 'd41d8cd98f00b204e9800998ecf8427e']",
            ),
            (
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
            ),
        ];
        for (input, want) in cases {
            let o = detect(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(pattern(&o).unwrap(), want, "{input}");
        }
        for bad in ["", "12345", "not a value", "localhost", "http://"] {
            assert!(detect(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn quotes_in_values_are_escaped() {
        let o = detect("http://evil.example/it's").unwrap();
        let p = pattern(&o).unwrap();
        assert!(p.contains("it\\'s"), "{p}");
        let ind = indicator(
            &Draft {
                pattern: p,
                observable: o,
                confidence: None,
                valid_until: None,
                description: None,
            },
            &choices(),
            None,
            now(),
        );
        stix::check_object_with(&ind, stix::ValidationOptions::default()).unwrap();
    }

    #[test]
    fn lines_carry_their_number_and_error() {
        let text = "value,confidence,valid_until,description\n\
                    192.0.2.1,80,2030-01-01,first\n\
                    \n\
                    not a value,,,\n\
                    evil.example,200,,\n\
                    # a comment\n\
                    evil.example,,2020-01-01,old\n\
                    http://x.example/,,,\"quoted, with comma\"\n";
        let lines = read_lines(text, &choices(), now()).unwrap();
        let summary: Vec<(usize, bool)> =
            lines.iter().map(|l| (l.number, l.result.is_ok())).collect();
        assert_eq!(
            summary,
            vec![(2, true), (4, false), (5, false), (7, false), (8, true)]
        );
        let first = lines[0].result.as_ref().unwrap();
        assert_eq!(first.confidence, Some(80));
        assert_eq!(first.description.as_deref(), Some("first"));
        assert_eq!(
            first.valid_until.unwrap().to_string(),
            "2030-01-01T23:59:59.999999Z"
        );
        assert!(lines[2].result.as_ref().unwrap_err().contains("confidence"));
        let last = lines[4].result.as_ref().unwrap();
        assert_eq!(last.description.as_deref(), Some("quoted, with comma"));
        assert_eq!(last.confidence, Some(70), "the form's confidence applies");
    }

    #[test]
    fn plain_lists_and_unknown_columns() {
        let lines = read_lines("192.0.2.1\nevil.example\n", &choices(), now()).unwrap();
        assert!(lines.iter().all(|l| l.result.is_ok()));
        let err = read_lines("value,colour\nx,y\n", &choices(), now()).unwrap_err();
        assert!(err.contains("line 1") && err.contains("colour"), "{err}");
        let lines = read_lines("value,kind\n1.2.3.4,domain\n", &choices(), now()).unwrap();
        assert!(lines[0].result.is_err(), "a forced kind is checked");
    }

    #[test]
    fn indicators_are_valid_stix() {
        let choices = Choices {
            valid_until: Some(Timestamp::parse("2030-01-01T00:00:00Z").unwrap()),
            description: Some("seen in a phishing run".into()),
            ..choices()
        };
        for line in read_lines(
            "192.0.2.1\nevil.example\nhttp://a.example/x\n",
            &choices,
            now(),
        )
        .unwrap()
        {
            let draft = line.result.unwrap();
            let ind = indicator(
                &draft,
                &choices,
                Some("identity--8f6a1ab0-8c3a-4c66-bb6b-8a3c1c3f0e2a"),
                now(),
            );
            stix::check_object_with(&ind, stix::ValidationOptions::default())
                .unwrap_or_else(|e| panic!("{ind}: {e}"));
            assert_eq!(ind["labels"][0], "severity:urgent");
            assert_eq!(ind["object_marking_refs"][0], Tlp::Green.marking_ref());
        }
    }
}
