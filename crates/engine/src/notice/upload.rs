//! Reading scan results as a stream: CSV (`ip,port,protocol,finding,observed_at[,detail]`, with
//! or without that header row), JSON lines with the same keys, or a STIX 2.1 bundle of
//! observed-data and sightings. A line that cannot be read is reported by its number and
//! skipped; the rest load.

use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::net::IpAddr;

use serde_json::Value;
use stix::Timestamp;

/// The formats results come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    Csv,
    JsonLines,
    Stix,
}

impl ResultFormat {
    pub fn parse(s: &str) -> Result<ResultFormat, String> {
        match s {
            "csv" => Ok(ResultFormat::Csv),
            "jsonl" | "ndjson" | "json-lines" => Ok(ResultFormat::JsonLines),
            "stix" => Ok(ResultFormat::Stix),
            _ => Err(format!(
                "unknown results format '{s}': expected csv, jsonl or stix"
            )),
        }
    }

    /// From a media type: `text/csv`, `application/x-ndjson` / `application/jsonl`, a STIX or
    /// plain JSON type; `None` when it says nothing.
    pub fn from_content_type(ct: &str) -> Option<ResultFormat> {
        let ct = ct.to_ascii_lowercase();
        if ct.starts_with("text/csv") {
            Some(ResultFormat::Csv)
        } else if ct.contains("ndjson") || ct.contains("jsonl") || ct.contains("json-seq") {
            Some(ResultFormat::JsonLines)
        } else if ct.contains("json") {
            Some(ResultFormat::Stix)
        } else {
            None
        }
    }

    /// From the first bytes: `{"type": "bundle"` is STIX, another `{` JSON lines, else CSV.
    pub fn sniff(head: &[u8]) -> ResultFormat {
        let text = String::from_utf8_lossy(head);
        let t = text.trim_start_matches('\u{feff}').trim_start();
        if !t.starts_with('{') {
            return ResultFormat::Csv;
        }
        let first_line = t.lines().next().unwrap_or("");
        let compact: String = first_line.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.starts_with("{\"type\":\"bundle\"")
            || (compact == "{" && t.contains("\"bundle\""))
        {
            ResultFormat::Stix
        } else {
            ResultFormat::JsonLines
        }
    }
}

/// One finding as read, before routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFinding {
    pub ip: IpAddr,
    pub port: u16,
    pub protocol: String,
    pub finding: String,
    pub observed: Timestamp,
    pub detail: Option<String>,
}

/// A line (or, in a STIX bundle, an object) that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// What one input unit gave: a finding, a line to skip, or nothing (a blank or header line).
pub type Item = Result<RawFinding, LineError>;

fn field_ip(s: &str) -> Result<IpAddr, String> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .map_err(|_| format!("'{s}' is not an IP address"))
}

fn field_port(s: &str) -> Result<u16, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    s.parse::<u16>()
        .map_err(|_| format!("port '{s}' is not a number from 0 to 65535"))
}

fn field_protocol(s: &str) -> Result<String, String> {
    let s = s.trim().to_ascii_lowercase();
    if s.len() > 32
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        return Err(format!("protocol '{s}' is not a protocol name"));
    }
    Ok(s)
}

fn field_finding(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("the finding is empty".into());
    }
    if s.len() > 128 || s.chars().any(char::is_control) {
        return Err("the finding is longer than 128 characters or holds control characters".into());
    }
    Ok(s.to_owned())
}

fn field_time(s: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(t) = Timestamp::parse(s) {
        return Ok(t);
    }
    // A date alone, or seconds since the epoch, as scanners often write them.
    if let Ok(t) = Timestamp::parse(&format!("{s}T00:00:00Z")) {
        return Ok(t);
    }
    if let Ok(secs) = s.parse::<i64>()
        && (0..=253_402_300_799).contains(&secs)
    {
        return Ok(Timestamp::from_micros(secs * 1_000_000));
    }
    Err(format!(
        "observed_at '{s}' is not an RFC 3339 time, a date or epoch seconds"
    ))
}

fn field_detail(s: Option<&str>) -> Result<Option<String>, String> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(d) if d.len() > 1024 => Err("the detail is longer than 1024 bytes".into()),
        Some(d) => Ok(Some(d.to_owned())),
    }
}

const COLUMNS: [&str; 6] = ["ip", "port", "protocol", "finding", "observed_at", "detail"];

/// Reads CSV records one at a time. Fields are trimmed by the checks of each column, not by
/// the reader (trimming every field of every record took 5% of an upload's profile samples).
pub struct CsvFindings<R: BufRead> {
    reader: csv::Reader<R>,
    record: csv::ByteRecord,
    /// Where each of `COLUMNS` sits in a record.
    columns: [Option<usize>; 6],
    started: bool,
    /// Reading failed: nothing more comes.
    stopped: bool,
}

fn trimmed(field: &[u8]) -> &[u8] {
    field.trim_ascii()
}

impl<R: BufRead> CsvFindings<R> {
    pub fn new(input: R) -> Self {
        CsvFindings {
            reader: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(input),
            record: csv::ByteRecord::new(),
            columns: [Some(0), Some(1), Some(2), Some(3), Some(4), Some(5)],
            started: false,
            stopped: false,
        }
    }

    fn parse(&self, line: u64) -> Item {
        let r = &self.record;
        let err = |reason: String| LineError { line, reason };
        let get = |i: usize| -> Result<Option<&str>, LineError> {
            match self.columns[i].and_then(|c| r.get(c)) {
                None => Ok(None),
                Some(b) => std::str::from_utf8(b)
                    .map(Some)
                    .map_err(|_| err(format!("the {} is not UTF-8", COLUMNS[i]))),
            }
        };
        let required = |i: usize| {
            get(i)?.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                err(format!(
                    "no {} (columns: {})",
                    COLUMNS[i],
                    COLUMNS.join(",")
                ))
            })
        };
        Ok(RawFinding {
            ip: field_ip(required(0)?).map_err(err)?,
            port: field_port(get(1)?.unwrap_or("")).map_err(err)?,
            protocol: field_protocol(get(2)?.unwrap_or("")).map_err(err)?,
            finding: field_finding(required(3)?).map_err(err)?,
            observed: field_time(required(4)?).map_err(err)?,
            detail: field_detail(get(5)?).map_err(err)?,
        })
    }
}

impl<R: BufRead> Iterator for CsvFindings<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if self.stopped {
            return None;
        }
        loop {
            let line = self.reader.position().line();
            match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => return None,
                Err(e) => {
                    let line = e.position().map_or(line, |p| p.line());
                    // An I/O error ends the stream; a malformed record is skipped.
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        self.stopped = true;
                        return Some(Err(LineError {
                            line,
                            reason: format!("reading stopped: {e}"),
                        }));
                    }
                    return Some(Err(LineError {
                        line,
                        reason: "not CSV".into(),
                    }));
                }
                Ok(true) => {}
            }
            let line = self.record.position().map_or(line, |p| p.line());
            if self.record.iter().all(|f| trimmed(f).is_empty())
                || self
                    .record
                    .get(0)
                    .is_some_and(|f| trimmed(f).starts_with(b"#"))
            {
                continue;
            }
            if !self.started {
                self.started = true;
                if self
                    .record
                    .iter()
                    .any(|f| trimmed(f).eq_ignore_ascii_case(b"ip"))
                {
                    // A header row names the columns, in any order.
                    for (i, c) in COLUMNS.iter().enumerate() {
                        self.columns[i] = self
                            .record
                            .iter()
                            .position(|f| trimmed(f).eq_ignore_ascii_case(c.as_bytes()));
                    }
                    continue;
                }
            }
            return Some(self.parse(line));
        }
    }
}

/// Reads JSON lines, one object a line with the CSV's keys.
pub struct JsonFindings<R: BufRead> {
    input: R,
    line: u64,
    buf: String,
    stopped: bool,
}

impl<R: BufRead> JsonFindings<R> {
    pub fn new(input: R) -> Self {
        JsonFindings {
            input,
            line: 0,
            buf: String::new(),
            stopped: false,
        }
    }
}

fn json_text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn json_finding(v: &Value) -> Result<RawFinding, String> {
    if !v.is_object() {
        return Err("not a JSON object".into());
    }
    let need = |k: &str| json_text(v, k).ok_or_else(|| format!("no {k}"));
    Ok(RawFinding {
        ip: field_ip(&need("ip")?)?,
        port: field_port(&json_text(v, "port").unwrap_or_default())?,
        protocol: field_protocol(&json_text(v, "protocol").unwrap_or_default())?,
        finding: field_finding(&need("finding")?)?,
        observed: field_time(&need("observed_at")?)?,
        detail: field_detail(json_text(v, "detail").as_deref())?,
    })
}

impl<R: BufRead> Iterator for JsonFindings<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if self.stopped {
            return None;
        }
        loop {
            self.buf.clear();
            self.line += 1;
            let line = self.line;
            match self.input.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    self.stopped = true;
                    return Some(Err(LineError {
                        line,
                        reason: format!("reading stopped: {e}"),
                    }));
                }
            }
            let text = self.buf.trim();
            if text.is_empty() {
                continue;
            }
            let parsed = serde_json::from_str::<Value>(text)
                .map_err(|e| format!("not JSON: {e}"))
                .and_then(|v| json_finding(&v));
            return Some(parsed.map_err(|reason| LineError { line, reason }));
        }
    }
}

/// The findings of a STIX 2.1 bundle: each observed-data names addresses (`ipv4-addr`,
/// `ipv6-addr`) and connections (`network-traffic`, for port and protocol); a sighting counts
/// through its `observed_data_refs`. The kind of finding is `x_isac_finding`, else the first
/// label, else the object's type. Errors are numbered by the object's place in the bundle.
pub fn stix_findings(input: &mut dyn BufRead, limit: usize) -> Result<Vec<Item>, String> {
    let mut text = String::new();
    std::io::Read::take(input, limit as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("the bundle cannot be read: {e}"))?;
    if text.len() > limit {
        return Err(format!(
            "a STIX bundle of results is read whole and may be at most {limit} bytes; send CSV \
             or JSON lines for more"
        ));
    }
    let doc: Value =
        serde_json::from_str(&text).map_err(|e| format!("the bundle is not JSON: {e}"))?;
    if doc.get("type").and_then(Value::as_str) != Some("bundle") {
        return Err("the document is not a STIX bundle".into());
    }
    let objects = doc
        .get("objects")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let by_id: HashMap<&str, &Value> = objects
        .iter()
        .filter_map(|o| Some((o.get("id")?.as_str()?, o)))
        .collect();
    let mut out = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        let n = i as u64 + 1;
        let ty = o.get("type").and_then(Value::as_str).unwrap_or("");
        let observed: Vec<&Value> = match ty {
            "observed-data" => vec![o],
            "sighting" => refs(o, "observed_data_refs")
                .filter_map(|r| by_id.get(r).copied())
                .collect(),
            _ => continue,
        };
        let err = |reason: String| LineError {
            line: n,
            reason: format!("object {n} ({ty}): {reason}"),
        };
        let kind = o
            .get("x_isac_finding")
            .and_then(Value::as_str)
            .or_else(|| o.pointer("/labels/0").and_then(Value::as_str))
            .unwrap_or(ty);
        let finding = match field_finding(kind) {
            Ok(f) => f,
            Err(e) => {
                out.push(Err(err(e)));
                continue;
            }
        };
        let time = o
            .get("last_seen")
            .or_else(|| o.get("last_observed"))
            .or_else(|| o.get("modified"))
            .and_then(Value::as_str)
            .map(field_time);
        let observed_at = match time {
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                out.push(Err(err(e)));
                continue;
            }
            None => {
                out.push(Err(err("no last_observed, last_seen or modified".into())));
                continue;
            }
        };
        let before = out.len();
        for od in observed {
            for r in refs(od, "object_refs") {
                let Some(sco) = by_id.get(r) else { continue };
                match sco.get("type").and_then(Value::as_str) {
                    Some("ipv4-addr" | "ipv6-addr") => {
                        if let Some(ip) = sco.get("value").and_then(Value::as_str) {
                            out.push(field_ip(ip).map_err(err).map(|ip| RawFinding {
                                ip,
                                port: 0,
                                protocol: String::new(),
                                finding: finding.clone(),
                                observed: observed_at,
                                detail: None,
                            }));
                        }
                    }
                    Some("network-traffic") => {
                        let Some(dst) = sco
                            .get("dst_ref")
                            .and_then(Value::as_str)
                            .and_then(|d| by_id.get(d))
                            .and_then(|d| d.get("value"))
                            .and_then(Value::as_str)
                        else {
                            continue;
                        };
                        let port = sco.get("dst_port").and_then(Value::as_u64).unwrap_or(0);
                        let protocol = sco
                            .pointer("/protocols/0")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        out.push(
                            field_ip(dst)
                                .and_then(|ip| {
                                    Ok(RawFinding {
                                        ip,
                                        port: u16::try_from(port)
                                            .map_err(|_| format!("port {port} is out of range"))?,
                                        protocol: field_protocol(protocol)?,
                                        finding: finding.clone(),
                                        observed: observed_at,
                                        detail: None,
                                    })
                                })
                                .map_err(err),
                        );
                    }
                    _ => {}
                }
            }
        }
        if out.len() == before {
            out.push(Err(err(
                "it names no address (ipv4-addr, ipv6-addr or network-traffic) in the bundle"
                    .into(),
            )));
        }
    }
    Ok(out)
}

fn refs<'a>(o: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    o.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_and_without_header_and_bad_lines() {
        let text = "ip,port,protocol,finding,observed_at,detail\n\
                    192.0.2.1,23,tcp,telnet-login-prompt,2026-11-20T01:02:03Z,busybox\n\
                    not-an-ip,23,tcp,x,2026-11-20T00:00:00Z\n\
                    \n\
                    2001:db8::1,,udp,open-resolver,2026-11-20\n\
                    192.0.2.2,99999,tcp,x,2026-11-20\n";
        let items: Vec<Item> = CsvFindings::new(text.as_bytes()).collect();
        assert_eq!(items.len(), 4);
        let first = items[0].as_ref().unwrap();
        assert_eq!(first.port, 23);
        assert_eq!(first.detail.as_deref(), Some("busybox"));
        assert_eq!(items[1].as_ref().unwrap_err().line, 3);
        assert!(items[1].as_ref().unwrap_err().reason.contains("not an IP"));
        let v6 = items[2].as_ref().unwrap();
        assert_eq!((v6.port, v6.protocol.as_str()), (0, "udp"));
        assert_eq!(items[3].as_ref().unwrap_err().line, 6);

        // Without a header the columns are positional; a reordered header is followed.
        let plain: Vec<Item> =
            CsvFindings::new("192.0.2.9,80,tcp,web,1763600000\n".as_bytes()).collect();
        assert_eq!(
            plain[0].as_ref().unwrap().observed.as_micros(),
            1_763_600_000_000_000
        );
        let reordered: Vec<Item> =
            CsvFindings::new("finding,observed_at,ip\nweb,2026-01-01,192.0.2.10\n".as_bytes())
                .collect();
        assert_eq!(reordered[0].as_ref().unwrap().ip.to_string(), "192.0.2.10");
    }

    /// Yields its text, then fails forever (a client that went away).
    struct Broken(&'static [u8]);
    impl std::io::Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("connection reset"));
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_failing_input_ends_the_stream() {
        let csv: Vec<Item> = CsvFindings::new(std::io::BufReader::new(Broken(
            b"192.0.2.1,23,tcp,x,2026-11-20\n",
        )))
        .take(10)
        .collect();
        assert_eq!(csv.len(), 2, "{csv:?}");
        assert!(
            csv[1]
                .as_ref()
                .unwrap_err()
                .reason
                .contains("reading stopped")
        );
        let json: Vec<Item> = JsonFindings::new(std::io::BufReader::new(Broken(b"")))
            .take(10)
            .collect();
        assert_eq!(json.len(), 1, "{json:?}");
    }

    #[test]
    fn json_lines_and_sniffing() {
        let text = "{\"ip\":\"192.0.2.1\",\"port\":23,\"finding\":\"f\",\"observed_at\":\"2026-11-20\"}\n\
                    {\"ip\":\"192.0.2.1\"}\n[1]\n";
        let items: Vec<Item> = JsonFindings::new(text.as_bytes()).collect();
        assert_eq!(items[0].as_ref().unwrap().port, 23);
        assert_eq!(items[1].as_ref().unwrap_err().line, 2);
        assert_eq!(items[2].as_ref().unwrap_err().line, 3);
        assert_eq!(
            ResultFormat::sniff(text.as_bytes()),
            ResultFormat::JsonLines
        );
        assert_eq!(
            ResultFormat::sniff(b"{\"type\": \"bundle\", \"id\""),
            ResultFormat::Stix
        );
        assert_eq!(ResultFormat::sniff(b"ip,port"), ResultFormat::Csv);
    }

    #[test]
    fn stix_observed_data_and_sightings() {
        let bundle = serde_json::json!({"type": "bundle", "id": "bundle--1", "objects": [
            {"type": "ipv4-addr", "id": "ipv4-addr--a", "value": "192.0.2.5"},
            {"type": "network-traffic", "id": "network-traffic--n", "dst_ref": "ipv4-addr--a",
             "dst_port": 23, "protocols": ["tcp"]},
            {"type": "observed-data", "id": "observed-data--1", "first_observed": "2026-11-20T00:00:00Z",
             "last_observed": "2026-11-20T01:00:00Z", "number_observed": 1,
             "object_refs": ["network-traffic--n"], "x_isac_finding": "telnet-login-prompt"},
            {"type": "sighting", "id": "sighting--1", "sighting_of_ref": "indicator--x",
             "last_seen": "2026-11-21T00:00:00Z", "observed_data_refs": ["observed-data--1"],
             "labels": ["c2-server"]},
            {"type": "observed-data", "id": "observed-data--2", "last_observed": "2026-11-20T00:00:00Z",
             "object_refs": ["ipv4-addr--missing"]}
        ]});
        let text = bundle.to_string();
        let items = stix_findings(&mut text.as_bytes(), 1 << 20).unwrap();
        assert_eq!(items.len(), 3);
        let a = items[0].as_ref().unwrap();
        assert_eq!((a.port, a.finding.as_str()), (23, "telnet-login-prompt"));
        assert_eq!(items[1].as_ref().unwrap().finding, "c2-server");
        assert_eq!(items[2].as_ref().unwrap_err().line, 5);
        assert!(stix_findings(&mut text.as_bytes(), 10).is_err());
    }
}
