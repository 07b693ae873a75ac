//! Writing entries in each format, whole or as a diff (`since`). Writers append to a buffer the
//! exporter flushes in chunks, so that a large export streams. Output depends only on the
//! entries and the context, never on the clock, so that equal exports are equal bytes (the
//! strong ETag promises it).

use ipnet::IpNet;
use relay_core::feed::Severity;
use sha2::Digest as _;
use std::io::Write as _;

use super::entry::Entry;
use super::request::{ExportRequest, Format, RpzAction};
use super::warning::parse_net;

/// What every writer may need besides the entries.
#[derive(Debug, Clone)]
pub struct Context {
    /// The export's feeds, by name, indexed like `Entry::feeds`.
    pub feed_names: Vec<String>,
    /// A stable number that grows with the export state (the RPZ serial).
    pub serial: u32,
    /// An id unique to this content (the bundle id).
    pub content_id: String,
}

/// A format's writer.
pub trait Writer: Send {
    fn begin(&mut self, _out: &mut Vec<u8>) {}
    fn entry(&mut self, e: &Entry, out: &mut Vec<u8>);
    /// A diff: an entry present now.
    fn added(&mut self, e: &Entry, out: &mut Vec<u8>);
    /// A diff: an entry gone since.
    fn removed(&mut self, kind: &str, value: &str, out: &mut Vec<u8>);
    fn end(&mut self, _out: &mut Vec<u8>) {}
}

/// The writer of the request's format; `diff`: it writes a diff (`since`).
pub fn writer(req: &ExportRequest, ctx: Context, diff: bool) -> Box<dyn Writer> {
    match req.format {
        Format::Ip => Box::new(IpList {
            aggregate: req.options.aggregate,
            nets: Vec::new(),
        }),
        Format::Domain | Format::Url | Format::Hash => Box::new(Lines),
        Format::Rpz => Box::new(Rpz {
            zone: req.options.zone.clone(),
            ttl: req.options.ttl,
            target: match &req.options.action {
                RpzAction::NxDomain => ".".to_owned(),
                RpzAction::NoData => "*.".to_owned(),
                RpzAction::Garden(host) => format!("{host}."),
            },
            serial: ctx.serial,
            diff,
            updates: 0,
        }),
        Format::Suricata => Box::new(Suricata {
            sid: req.options.sid_base,
            ctx,
            day: (0, String::new()),
        }),
        Format::Nftables => Box::new(Nftables {
            table: req.options.table.clone(),
            set: req.options.set.clone(),
            nets: Vec::new(),
        }),
        Format::Ipset => Box::new(Ipset {
            set: req.options.set.clone(),
            v4: Vec::new(),
            v6: Vec::new(),
            diff,
        }),
        Format::Csv => Box::new(Csv { ctx, diff }),
        Format::Stix => Box::new(Stix { ctx, first: true }),
    }
}

fn line(out: &mut Vec<u8>, args: std::fmt::Arguments<'_>) {
    // Writing into a Vec cannot fail.
    let _ = std::io::Write::write_fmt(out, args);
    out.push(b'\n');
}

/// An address as its bare form when it is a single host, else as CIDR.
fn show(n: &IpNet) -> String {
    if n.prefix_len() == n.max_prefix_len() {
        n.addr().to_string()
    } else {
        n.to_string()
    }
}

/// One value a line (`domain`, `url`, `hash`, and `ip` unaggregated). Diffs are `+value` and
/// `-value` lines.
struct Lines;

impl Writer for Lines {
    fn entry(&mut self, e: &Entry, out: &mut Vec<u8>) {
        out.extend_from_slice(e.value.as_bytes());
        out.push(b'\n');
    }
    fn added(&mut self, e: &Entry, out: &mut Vec<u8>) {
        line(out, format_args!("+{}", e.value));
    }
    fn removed(&mut self, _kind: &str, value: &str, out: &mut Vec<u8>) {
        line(out, format_args!("-{value}"));
    }
}

/// Addresses and networks, IPv4 then IPv6, aggregated to the fewest CIDRs.
struct IpList {
    aggregate: bool,
    nets: Vec<IpNet>,
}

impl Writer for IpList {
    fn entry(&mut self, e: &Entry, out: &mut Vec<u8>) {
        if self.aggregate {
            self.nets.extend(parse_net(&e.value));
        } else {
            Lines.entry(e, out);
        }
    }
    fn added(&mut self, e: &Entry, out: &mut Vec<u8>) {
        Lines.added(e, out);
    }
    fn removed(&mut self, kind: &str, value: &str, out: &mut Vec<u8>) {
        Lines.removed(kind, value, out);
    }
    fn end(&mut self, out: &mut Vec<u8>) {
        for n in aggregate(std::mem::take(&mut self.nets)) {
            line(out, format_args!("{}", show(&n)));
        }
    }
}

/// The fewest CIDRs covering the same addresses, IPv4 first.
fn aggregate(nets: Vec<IpNet>) -> Vec<IpNet> {
    let mut merged = IpNet::aggregate(&nets);
    merged.sort_by_key(|n| (matches!(n, IpNet::V6(_)), n.network(), n.prefix_len()));
    merged
}

/// A response-policy zone: QNAME triggers for each domain and its subdomains, IP triggers
/// (`rpz-ip`) for answers in the listed networks.
struct Rpz {
    zone: String,
    ttl: u32,
    target: String,
    serial: u32,
    diff: bool,
    updates: usize,
}

impl Rpz {
    fn owner(kind: &str, value: &str) -> Vec<String> {
        match kind {
            "domain" => vec![value.to_owned(), format!("*.{value}")],
            _ => parse_net(value)
                .map(|n| vec![rpz_ip(&n)])
                .unwrap_or_default(),
        }
    }
}

/// The RPZ IP-trigger owner name: prefix length, then the address reversed.
fn rpz_ip(n: &IpNet) -> String {
    match n {
        IpNet::V4(v4) => {
            let o = v4.network().octets();
            format!(
                "{}.{}.{}.{}.{}.rpz-ip",
                v4.prefix_len(),
                o[3],
                o[2],
                o[1],
                o[0]
            )
        }
        IpNet::V6(v6) => {
            let groups = v6.network().segments();
            // The longest run of zero groups (two or more) is written `zz`.
            let (mut best, mut run) = ((0usize, 0usize), (0usize, 0usize));
            for (i, g) in groups.iter().enumerate() {
                if *g == 0 {
                    if run.1 == 0 {
                        run.0 = i;
                    }
                    run.1 += 1;
                    if run.1 > best.1 {
                        best = run;
                    }
                } else {
                    run.1 = 0;
                }
            }
            let mut labels: Vec<String> = Vec::new();
            let mut i = 0;
            while i < 8 {
                if best.1 >= 2 && i == best.0 {
                    labels.push("zz".into());
                    i += best.1;
                } else {
                    labels.push(format!("{:x}", groups[i]));
                    i += 1;
                }
            }
            labels.reverse();
            format!("{}.{}.rpz-ip", v6.prefix_len(), labels.join("."))
        }
    }
}

impl Writer for Rpz {
    fn begin(&mut self, out: &mut Vec<u8>) {
        if self.diff {
            return;
        }
        line(
            out,
            format_args!("; isac-relay response-policy zone {}", self.zone),
        );
        line(out, format_args!("$TTL {}", self.ttl));
        line(
            out,
            format_args!(
                "@ IN SOA localhost. hostmaster.localhost. ({} 3600 600 86400 {})",
                self.serial, self.ttl
            ),
        );
        line(out, format_args!("@ IN NS localhost."));
    }
    fn entry(&mut self, e: &Entry, out: &mut Vec<u8>) {
        for owner in Rpz::owner(&e.kind, &e.value) {
            line(out, format_args!("{owner} CNAME {}", self.target));
        }
    }
    // Diffs are an nsupdate script for a dynamic RPZ zone.
    fn added(&mut self, e: &Entry, out: &mut Vec<u8>) {
        for owner in Rpz::owner(&e.kind, &e.value) {
            self.updates += 1;
            line(
                out,
                format_args!(
                    "update add {owner}.{}. {} CNAME {}",
                    self.zone, self.ttl, self.target
                ),
            );
        }
    }
    fn removed(&mut self, kind: &str, value: &str, out: &mut Vec<u8>) {
        for owner in Rpz::owner(kind, value) {
            self.updates += 1;
            line(
                out,
                format_args!("update delete {owner}.{}. CNAME", self.zone),
            );
        }
    }
    fn end(&mut self, out: &mut Vec<u8>) {
        // Only a diff has updates to send; a zone file ends after its records.
        if self.updates > 0 {
            line(out, format_args!("send"));
        }
    }
}

/// Suricata rules: traffic to and from listed networks; DNS queries, TLS SNI and HTTP hosts of
/// listed domains and their subdomains; HTTP requests for listed URLs.
struct Suricata {
    sid: u32,
    ctx: Context,
    day: (i64, String),
}

/// A content string with every byte that could end or confuse it written as hex.
fn content(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut hex = Vec::new();
    let flush = |hex: &mut Vec<u8>, out: &mut String| {
        if !hex.is_empty() {
            out.push('|');
            out.push_str(
                &hex.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            out.push('|');
            hex.clear();
        }
    };
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
            flush(&mut hex, &mut out);
            out.push(b as char);
        } else {
            hex.push(b);
        }
    }
    flush(&mut hex, &mut out);
    out
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Urgent => "Major",
        Severity::Important => "Minor",
        Severity::Informational => "Informational",
    }
}

/// `created_at` (YYYY_MM_DD) of a time, formatted once per day met: `last` keeps the day.
fn rule_day(last: &mut (i64, String), t: stix::Timestamp) -> &str {
    const DAY: i64 = 86_400_000_000;
    let day = t.as_micros().div_euclid(DAY);
    if last.0 != day || last.1.is_empty() {
        let text = stix::Timestamp::from_micros(day * DAY).to_string();
        *last = (day, text.get(..10).unwrap_or("").replace('-', "_"));
    }
    &last.1
}

impl Suricata {
    /// What every rule of one entry shares: the feed named in `msg`, and the metadata.
    fn shared(&mut self, e: &Entry) -> (String, String) {
        let feeds: Vec<&str> = e
            .feeds
            .iter()
            .filter_map(|i| self.ctx.feed_names.get(*i).map(String::as_str))
            .collect();
        let metadata = format!(
            "metadata:isac_feed {}, signature_severity {}, applied_by {}, corroboration {}, \
             created_at {};",
            feeds.join("_"),
            severity_word(e.severity),
            e.applied_by,
            e.corroboration,
            rule_day(&mut self.day, e.first_seen),
        );
        (
            feeds.first().copied().unwrap_or("feed").to_owned(),
            metadata,
        )
    }

    fn rule(
        &mut self,
        out: &mut Vec<u8>,
        (feed, metadata): &(String, String),
        header: &str,
        what: std::fmt::Arguments<'_>,
        detection: std::fmt::Arguments<'_>,
    ) {
        line(
            out,
            format_args!(
                "alert {header} (msg:\"ISAC-RELAY {feed} {what}\"; {detection}\
                 classtype:trojan-activity; sid:{}; rev:1; {metadata})",
                self.sid,
            ),
        );
        self.sid = self.sid.wrapping_add(1);
    }
}

impl Writer for Suricata {
    fn begin(&mut self, out: &mut Vec<u8>) {
        line(out, format_args!("# isac-relay Suricata rules"));
    }
    fn entry(&mut self, e: &Entry, out: &mut Vec<u8>) {
        let shared = self.shared(e);
        let s = &shared;
        match e.kind.as_str() {
            "ipv4" | "ipv6" => {
                let Some(n) = parse_net(&e.value) else { return };
                let addr = show(&n);
                self.rule(
                    out,
                    s,
                    &format!("ip $HOME_NET any -> {addr} any"),
                    format_args!("traffic to listed address {addr}"),
                    format_args!(""),
                );
                self.rule(
                    out,
                    s,
                    &format!("ip {addr} any -> $HOME_NET any"),
                    format_args!("traffic from listed address {addr}"),
                    format_args!(""),
                );
            }
            "domain" => {
                let c = content(&format!(".{}", e.value));
                let shown = e.value.replace('.', "[.]");
                for (header, what, buffer, nocase) in [
                    (
                        "dns $HOME_NET any -> any any",
                        "DNS query for",
                        "dns.query",
                        "nocase; ",
                    ),
                    (
                        "tls $HOME_NET any -> any any",
                        "TLS SNI of",
                        "tls.sni",
                        "nocase; ",
                    ),
                    (
                        "http $HOME_NET any -> any any",
                        "HTTP host of",
                        "http.host",
                        "",
                    ),
                ] {
                    self.rule(
                        out,
                        s,
                        header,
                        format_args!("{what} listed domain {shown}"),
                        format_args!("{buffer}; dotprefix; content:\"{c}\"; {nocase}endswith; "),
                    );
                }
            }
            "url" => {
                let Ok(u) = url::Url::parse(&e.value) else {
                    return;
                };
                let Some(host) = u.host_str() else { return };
                let mut path = u.path().to_owned();
                if let Some(q) = u.query() {
                    path.push('?');
                    path.push_str(q);
                }
                self.rule(
                    out,
                    s,
                    "http $HOME_NET any -> any any",
                    format_args!("request for a listed URL on {}", host.replace('.', "[.]")),
                    format_args!(
                        "http.host; content:\"{}\"; startswith; endswith; http.uri.raw; \
                         content:\"{}\"; startswith; endswith; ",
                        content(&host.to_ascii_lowercase()),
                        content(&path)
                    ),
                );
            }
            _ => {}
        }
    }
    fn added(&mut self, e: &Entry, out: &mut Vec<u8>) {
        self.entry(e, out);
    }
    fn removed(&mut self, _kind: &str, _value: &str, _out: &mut Vec<u8>) {}
}

/// An nftables script: declares the table and its two interval sets, empties them and fills
/// them, in one transaction when loaded with `nft -f`.
struct Nftables {
    table: String,
    set: String,
    nets: Vec<IpNet>,
}

impl Writer for Nftables {
    fn entry(&mut self, e: &Entry, _out: &mut Vec<u8>) {
        self.nets.extend(parse_net(&e.value));
    }
    fn added(&mut self, e: &Entry, out: &mut Vec<u8>) {
        self.entry(e, out);
    }
    fn removed(&mut self, _kind: &str, _value: &str, _out: &mut Vec<u8>) {}
    fn end(&mut self, out: &mut Vec<u8>) {
        let (t, s) = (&self.table, &self.set);
        line(out, format_args!("#!/usr/sbin/nft -f"));
        line(
            out,
            format_args!("# isac-relay block list: load with nft -f"),
        );
        line(out, format_args!("table inet {t} {{"));
        line(
            out,
            format_args!("\tset {s}_v4 {{ type ipv4_addr; flags interval; }}"),
        );
        line(
            out,
            format_args!("\tset {s}_v6 {{ type ipv6_addr; flags interval; }}"),
        );
        line(out, format_args!("}}"));
        line(out, format_args!("flush set inet {t} {s}_v4"));
        line(out, format_args!("flush set inet {t} {s}_v6"));
        let nets = aggregate(std::mem::take(&mut self.nets));
        for (family, v6) in [("v4", false), ("v6", true)] {
            let members: Vec<String> = nets
                .iter()
                .filter(|n| matches!(n, IpNet::V6(_)) == v6)
                .map(show)
                .collect();
            for chunk in members.chunks(4096) {
                line(
                    out,
                    format_args!(
                        "add element inet {t} {s}_{family} {{ {} }}",
                        chunk.join(", ")
                    ),
                );
            }
        }
    }
}

/// An `ipset restore` file: new sets filled under temporary names, then swapped in atomically.
/// Diffs are `add`/`del` lines with `-exist`.
struct Ipset {
    set: String,
    v4: Vec<String>,
    v6: Vec<String>,
    diff: bool,
}

impl Ipset {
    fn name(&self, kind: &str) -> String {
        format!("{}-{}", self.set, if kind == "ipv6" { "v6" } else { "v4" })
    }
}

impl Writer for Ipset {
    fn entry(&mut self, e: &Entry, _out: &mut Vec<u8>) {
        if e.kind == "ipv6" {
            self.v6.push(e.value.clone());
        } else {
            self.v4.push(e.value.clone());
        }
    }
    fn added(&mut self, e: &Entry, out: &mut Vec<u8>) {
        line(
            out,
            format_args!("add {} {} -exist", self.name(&e.kind), e.value),
        );
    }
    fn removed(&mut self, kind: &str, value: &str, out: &mut Vec<u8>) {
        line(out, format_args!("del {} {value} -exist", self.name(kind)));
    }
    fn end(&mut self, out: &mut Vec<u8>) {
        if self.diff {
            return;
        }
        for (family, kind, members) in [
            ("inet", "ipv4", std::mem::take(&mut self.v4)),
            ("inet6", "ipv6", std::mem::take(&mut self.v6)),
        ] {
            let name = self.name(kind);
            let max = members.len().max(65_536).next_power_of_two();
            line(
                out,
                format_args!("create {name} hash:net family {family} maxelem {max} -exist"),
            );
            line(
                out,
                format_args!("create {name}-new hash:net family {family} maxelem {max} -exist"),
            );
            line(out, format_args!("flush {name}-new"));
            for m in members {
                line(out, format_args!("add {name}-new {m}"));
            }
            line(out, format_args!("swap {name}-new {name}"));
            line(out, format_args!("destroy {name}-new"));
        }
    }
}

/// CSV with a header row; diffs have an `action` column first (`add`, `remove`).
struct Csv {
    ctx: Context,
    diff: bool,
}

const CSV_HEADER: &[&str] = &[
    "kind",
    "value",
    "feeds",
    "severity",
    "confidence",
    "corroboration",
    "applied_by",
    "tlp",
    "first_seen",
    "last_seen",
    "valid_until",
];

/// Writes one record, quoted by the csv crate, at the end of `out`.
fn csv_row<'a>(out: &mut Vec<u8>, fields: impl IntoIterator<Item = &'a str>) {
    // A small buffer: a row is a few hundred bytes, and the writer is made per row.
    let mut w = csv::WriterBuilder::new()
        .buffer_capacity(1024)
        .from_writer(out);
    // Into a Vec, neither can fail.
    let _ = w.write_record(fields);
    let _ = w.flush();
}

impl Csv {
    fn fields(&self, e: &Entry) -> Vec<String> {
        let feeds: Vec<&str> = e
            .feeds
            .iter()
            .filter_map(|i| self.ctx.feed_names.get(*i).map(String::as_str))
            .collect();
        vec![
            e.kind.clone(),
            e.value.clone(),
            feeds.join(";"),
            e.severity.as_str().to_owned(),
            e.confidence.map(|c| c.to_string()).unwrap_or_default(),
            e.corroboration.to_string(),
            e.applied_by.to_string(),
            e.tlp.as_str().to_owned(),
            e.first_seen.to_string(),
            e.last_seen.to_string(),
            e.valid_until.map(|t| t.to_string()).unwrap_or_default(),
        ]
    }
}

impl Writer for Csv {
    fn begin(&mut self, out: &mut Vec<u8>) {
        let action = self.diff.then_some("action");
        csv_row(out, action.into_iter().chain(CSV_HEADER.iter().copied()));
    }
    fn entry(&mut self, e: &Entry, out: &mut Vec<u8>) {
        let f = self.fields(e);
        csv_row(out, f.iter().map(String::as_str));
    }
    fn added(&mut self, e: &Entry, out: &mut Vec<u8>) {
        let f = self.fields(e);
        csv_row(
            out,
            std::iter::once("add").chain(f.iter().map(String::as_str)),
        );
    }
    fn removed(&mut self, kind: &str, value: &str, out: &mut Vec<u8>) {
        let blanks = std::iter::repeat_n("", CSV_HEADER.len() - 2);
        csv_row(out, ["remove", kind, value].into_iter().chain(blanks));
    }
}

/// A STIX 2.1 bundle: one indicator per entry, its id derived from the entry so that it stays
/// the same across exports.
struct Stix {
    ctx: Context,
    first: bool,
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

pub fn pattern(kind: &str, value: &str) -> String {
    match kind {
        "ipv4" => format!("[ipv4-addr:value = '{}']", quote(value)),
        "ipv6" => format!("[ipv6-addr:value = '{}']", quote(value)),
        "domain" => format!("[domain-name:value = '{}']", quote(value)),
        "url" => format!("[url:value = '{}']", quote(value)),
        _ => {
            let alg = kind.trim_start_matches("hash:");
            format!("[file:hashes.'{alg}' = '{}']", quote(value))
        }
    }
}

impl Writer for Stix {
    fn begin(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(
            format!(
                "{{\"type\":\"bundle\",\"id\":\"bundle--{}\",\"objects\":[",
                self.ctx.content_id
            )
            .as_bytes(),
        );
    }
    fn entry(&mut self, e: &Entry, out: &mut Vec<u8>) {
        // STIX wants version-4 UUIDs for SDOs; one derived from the entry keeps the id stable
        // across exports, so consumers update rather than duplicate.
        let digest = sha2::Sha256::digest(format!("isac-relay entry|{}|{}", e.kind, e.value));
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        let feeds: Vec<&str> = e
            .feeds
            .iter()
            .filter_map(|i| self.ctx.feed_names.get(*i).map(String::as_str))
            .collect();
        // Written directly rather than through a JSON tree: a million entries a second.
        let text = |v: &str| serde_json::to_string(v).unwrap_or_default();
        let created = e.first_seen.to_string();
        let modified = e.last_seen.max(e.first_seen).to_string();
        if !self.first {
            out.push(b',');
        }
        self.first = false;
        let _ = write!(
            out,
            "{{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--{id}\",\
             \"created\":\"{created}\",\"modified\":\"{modified}\",\"name\":{},\
             \"indicator_types\":[\"malicious-activity\"],\"pattern\":{},\"pattern_type\":\"stix\",\
             \"valid_from\":\"{created}\",\"labels\":{},\"object_marking_refs\":[\"{}\"],\
             \"x_isac_corroboration\":{},\"x_isac_applied_by\":{}",
            text(&e.value),
            text(&pattern(&e.kind, &e.value)),
            serde_json::to_string(&feeds).unwrap_or_default(),
            e.tlp.marking_ref(),
            e.corroboration,
            e.applied_by,
        );
        if let Some(c) = e.confidence {
            let _ = write!(out, ",\"confidence\":{c}");
        }
        if let Some(v) = e.valid_until.filter(|v| *v > e.first_seen) {
            let _ = write!(out, ",\"valid_until\":\"{v}\"");
        }
        out.push(b'}');
    }
    fn added(&mut self, e: &Entry, out: &mut Vec<u8>) {
        self.entry(e, out);
    }
    fn removed(&mut self, _kind: &str, _value: &str, _out: &mut Vec<u8>) {}
    fn end(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"]}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpz_ip_triggers() {
        let n = |s: &str| parse_net(s).unwrap();
        assert_eq!(rpz_ip(&n("45.9.8.7")), "32.7.8.9.45.rpz-ip");
        assert_eq!(rpz_ip(&n("45.9.8.0/24")), "24.0.8.9.45.rpz-ip");
        assert_eq!(rpz_ip(&n("2a01:db8::1")), "128.1.zz.db8.2a01.rpz-ip");
        assert_eq!(rpz_ip(&n("2a01:db8:0:1::/64")), "64.zz.1.0.db8.2a01.rpz-ip");
    }

    #[test]
    fn aggregation_is_minimal() {
        let nets = [
            "45.9.8.0",
            "45.9.8.1",
            "45.9.8.2/31",
            "45.9.8.0/30",
            "2a01::1",
        ]
        .iter()
        .map(|s| parse_net(s).unwrap())
        .collect();
        let got: Vec<String> = aggregate(nets).iter().map(show).collect();
        assert_eq!(got, ["45.9.8.0/30", "2a01::1"]);
    }

    #[test]
    fn suricata_content_escapes() {
        assert_eq!(
            content("/a;b\"c|d e"),
            "/a|3b|b|22|c|7c|d|20|e".replace("/a", "|2f|a")
        );
        assert_eq!(content(".evil-c2.xyz"), ".evil-c2.xyz");
    }
}
