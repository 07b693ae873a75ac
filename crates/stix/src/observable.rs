//! Observable extraction: the atomic values an object speaks of (addresses, networks, domains,
//! URLs, e-mail addresses, file hashes, ports, autonomous systems), normalised so that equal
//! values compare equal whoever posted them.
//!
//! Sources: an indicator's STIX pattern (`=` and `IN` in positive context, that is not under
//! `NOT`; `ISSUBSET` for networks), SCOs themselves, and the SCOs embedded in observed-data's
//! deprecated `objects`. Values that do not normalise (an address that is not one) are not
//! extracted: validation reports them, extraction only yields what is usable.
//!
//! Normal forms: IPv4/IPv6 in their canonical text, a network as its truncated CIDR and a /32
//! or /128 as the plain address; domains lower-case, IDNA (punycode) and without a trailing
//! dot; URLs serialised by the WHATWG URL rules; e-mail addresses with a lower-case domain;
//! hashes lower-case hex under the algorithm's canonical name.

use std::fmt;
use std::net::IpAddr;

use serde_json::Value;

use crate::pattern::{CompOp, ComparisonExpr, Literal, ObservationExpr, PathComponent, PropTest};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// An IPv4 address or network.
    Ipv4,
    /// An IPv6 address or network.
    Ipv6,
    Domain,
    Url,
    Email,
    /// A file hash; the algorithm's canonical name (`MD5`, `SHA-1`, `SHA-256`, ...).
    Hash(String),
    Port,
    /// An autonomous system number.
    Asn,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Ipv4 => f.write_str("ipv4"),
            Kind::Ipv6 => f.write_str("ipv6"),
            Kind::Domain => f.write_str("domain"),
            Kind::Url => f.write_str("url"),
            Kind::Email => f.write_str("email"),
            Kind::Hash(alg) => write!(f, "hash:{alg}"),
            Kind::Port => f.write_str("port"),
            Kind::Asn => f.write_str("asn"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Observable {
    pub kind: Kind,
    pub value: String,
}

/// The canonical name of a hash algorithm (STIX hashing-algorithm-ov), for any usual spelling.
pub fn hash_algorithm(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_uppercase().replace('_', "-").as_str() {
        "MD5" => "MD5",
        "SHA-1" | "SHA1" => "SHA-1",
        "SHA-256" | "SHA256" => "SHA-256",
        "SHA-512" | "SHA512" => "SHA-512",
        "SHA3-256" => "SHA3-256",
        "SHA3-512" => "SHA3-512",
        "SSDEEP" => "SSDEEP",
        "TLSH" => "TLSH",
        _ => return None,
    })
}

/// An address or network in normal form, and whether it is IPv6.
pub fn normalize_ip(s: &str) -> Option<(Kind, String)> {
    let s = s.trim();
    if let Ok(addr) = s.parse::<IpAddr>() {
        let kind = if addr.is_ipv4() {
            Kind::Ipv4
        } else {
            Kind::Ipv6
        };
        return Some((kind, addr.to_string()));
    }
    let net: ipnet::IpNet = s.parse().ok()?;
    let net = net.trunc();
    let kind = match net {
        ipnet::IpNet::V4(_) => Kind::Ipv4,
        ipnet::IpNet::V6(_) => Kind::Ipv6,
    };
    let value = if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    };
    Some((kind, value))
}

/// The first and last address of an address or network in normal form, as big-endian bytes
/// (4 for IPv4, 16 for IPv6), with its kind: what a search for addresses inside a network
/// compares.
pub fn ip_range(value: &str) -> Option<(Kind, Vec<u8>, Vec<u8>)> {
    let net: ipnet::IpNet = value
        .parse()
        .or_else(|_| value.parse::<IpAddr>().map(ipnet::IpNet::from))
        .ok()?;
    Some(match net {
        ipnet::IpNet::V4(n) => (
            Kind::Ipv4,
            n.network().octets().to_vec(),
            n.broadcast().octets().to_vec(),
        ),
        ipnet::IpNet::V6(n) => (
            Kind::Ipv6,
            n.network().octets().to_vec(),
            n.broadcast().octets().to_vec(),
        ),
    })
}

/// A domain name in the form the index keeps: lower case, IDNA (punycode) labels, no final
/// dot. Only a name DNS can hold: labels of 1 to 63 letters, digits, hyphens or underscores, 253
/// characters at most (what a resolver's RPZ zone or a firewall will load).
pub fn normalize_domain(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches('.');
    if s.is_empty() || s.parse::<IpAddr>().is_ok() {
        return None;
    }
    match url::Host::parse(s).ok()? {
        url::Host::Domain(d) if is_dns_name(&d) => Some(d),
        _ => None,
    }
}

fn is_dns_name(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// An observable named by its kind (as `Kind` displays it: `ipv4`, `domain`, `hash:SHA-256`,
/// `port`...) and value, in the normal form the index keeps.
pub fn normalize(kind: &str, value: &str) -> Result<Observable, String> {
    let kind = kind.trim();
    let bad = || format!("'{value}' is not a valid {kind}");
    let lower = kind.to_ascii_lowercase();
    let (k, v) = match lower.as_str() {
        "ipv4" | "ipv6" => {
            let (k, v) = normalize_ip(value).ok_or_else(bad)?;
            if k.to_string() != lower {
                return Err(bad());
            }
            (k, v)
        }
        "domain" => (Kind::Domain, normalize_domain(value).ok_or_else(bad)?),
        "url" => (Kind::Url, normalize_url(value).ok_or_else(bad)?),
        "email" => (Kind::Email, normalize_email(value).ok_or_else(bad)?),
        "port" => (
            Kind::Port,
            value.trim().parse::<u16>().map_err(|_| bad())?.to_string(),
        ),
        "asn" => {
            let n = value.trim().trim_start_matches(['A', 'S', 'a', 's']);
            (Kind::Asn, n.parse::<u32>().map_err(|_| bad())?.to_string())
        }
        _ => match lower.strip_prefix("hash:") {
            Some(alg) => return normalize_hash(alg, value).ok_or_else(bad),
            None => {
                return Err(format!(
                    "unknown kind '{kind}': expected ipv4, ipv6, domain, url, email, port, asn or hash:ALGORITHM"
                ));
            }
        },
    };
    Ok(Observable { kind: k, value: v })
}

pub fn normalize_url(s: &str) -> Option<String> {
    let u = url::Url::parse(s.trim()).ok()?;
    u.has_host().then(|| u.to_string())
}

pub fn normalize_email(s: &str) -> Option<String> {
    let (local, domain) = s.trim().rsplit_once('@')?;
    if local.is_empty() {
        return None;
    }
    Some(format!("{local}@{}", normalize_domain(domain)?))
}

fn normalize_hash(alg: &str, value: &str) -> Option<Observable> {
    let alg = hash_algorithm(alg)?;
    let value = value.trim();
    let hex_len = match alg {
        "MD5" => Some(32),
        "SHA-1" => Some(40),
        "SHA-256" | "SHA3-256" => Some(64),
        "SHA-512" | "SHA3-512" => Some(128),
        _ => None,
    };
    if let Some(n) = hex_len
        && (value.len() != n || !value.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return None;
    }
    if value.is_empty() {
        return None;
    }
    let value = if hex_len.is_some() {
        value.to_ascii_lowercase()
    } else {
        value.to_owned()
    };
    Some(Observable {
        kind: Kind::Hash(alg.to_owned()),
        value,
    })
}

/// The observable a property of an object type holds, given its value.
fn from_property(object_type: &str, path: &[&str], value: &Value) -> Option<Observable> {
    let text = value.as_str();
    let obs = |kind: Kind, value: String| Some(Observable { kind, value });
    match (object_type, path) {
        ("ipv4-addr" | "ipv6-addr", ["value"]) => {
            let (kind, value) = normalize_ip(text?)?;
            obs(kind, value)
        }
        ("domain-name", ["value"]) => obs(Kind::Domain, normalize_domain(text?)?),
        ("url", ["value"]) => obs(Kind::Url, normalize_url(text?)?),
        ("email-addr", ["value"]) => obs(Kind::Email, normalize_email(text?)?),
        ("email-message", [_, "value"]) => obs(Kind::Email, normalize_email(text?)?),
        ("network-traffic", ["src_port" | "dst_port"]) => {
            let port = value.as_i64().filter(|p| (0..=65535).contains(p))?;
            obs(Kind::Port, port.to_string())
        }
        ("network-traffic", ["src_ref" | "dst_ref", "value"]) => {
            let text = text?;
            match normalize_ip(text) {
                Some((kind, value)) => obs(kind, value),
                None => obs(Kind::Domain, normalize_domain(text)?),
            }
        }
        ("autonomous-system", ["number"]) => {
            let n = value.as_i64().filter(|n| *n >= 0)?;
            obs(Kind::Asn, n.to_string())
        }
        (_, [.., "hashes", alg]) => normalize_hash(alg, text?),
        _ => None,
    }
}

fn literal_json(l: &Literal) -> Option<Value> {
    match l {
        Literal::Str(s) => Some(Value::String(s.clone())),
        Literal::Int(i) => Some(Value::from(*i)),
        _ => None,
    }
}

/// The observables of a parsed pattern.
pub fn from_pattern(tree: &ObservationExpr) -> Vec<Observable> {
    let mut out = Vec::new();
    walk_observation(tree, &mut out);
    out.sort();
    out.dedup();
    out
}

fn walk_observation(e: &ObservationExpr, out: &mut Vec<Observable>) {
    match e {
        ObservationExpr::Observation { comparison, .. } => walk_comparison(comparison, out),
        ObservationExpr::Group { inner, .. } => walk_observation(inner, out),
        ObservationExpr::Qualified { expr, .. } => walk_observation(expr, out),
        ObservationExpr::Binary { left, right, .. } => {
            walk_observation(left, out);
            walk_observation(right, out);
        }
    }
}

fn walk_comparison(c: &ComparisonExpr, out: &mut Vec<Observable>) {
    match c {
        ComparisonExpr::Binary { left, right, .. } => {
            walk_comparison(left, out);
            walk_comparison(right, out);
        }
        ComparisonExpr::Group { inner, .. } => walk_comparison(inner, out),
        ComparisonExpr::Exists { .. } => {}
        ComparisonExpr::Test(t) => from_test(t, out),
    }
}

fn from_test(t: &PropTest, out: &mut Vec<Observable>) {
    if t.negated {
        return;
    }
    // Index steps (`to_refs[*]`) do not change what a value is.
    let path: Vec<&str> = t
        .path
        .components
        .iter()
        .filter_map(|c| match c {
            PathComponent::Property(p) => Some(p.as_str()),
            _ => None,
        })
        .collect();
    let values: Vec<&Literal> = match (&t.op, &t.value) {
        (CompOp::Eq, v) => vec![v],
        (CompOp::In, Literal::Set(items)) => items.iter().collect(),
        (CompOp::IsSubset, v)
            if matches!(t.path.object_type.as_str(), "ipv4-addr" | "ipv6-addr") =>
        {
            vec![v]
        }
        _ => return,
    };
    for v in values {
        if let Some(json) = literal_json(v)
            && let Some(o) = from_property(&t.path.object_type, &path, &json)
        {
            out.push(o);
        }
    }
}

/// What to look up in an observable index to find the objects that mention `q`: the kinds and
/// normalised values. An address or network also matches every network that contains it (a
/// CIDR is stored in normal form, so those are exact lookups: 33 for IPv4, 129 for IPv6). The
/// kind is told by the value's form: address or network, URL (has a scheme), e-mail address,
/// hex of a hash's length (every algorithm of that length), a number (port or AS), else a
/// domain name.
pub fn search_terms(q: &str) -> Result<(Vec<Kind>, Vec<String>), String> {
    let q = q.trim();
    if q.is_empty() {
        return Err("give a value to search for: an IP address or CIDR, domain, URL, e-mail address or hash".into());
    }
    if let Some((kind, value)) = normalize_ip(q) {
        let net: ipnet::IpNet = value
            .parse()
            .or_else(|_| value.parse::<IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| format!("'{q}' is not an address"))?;
        let values = (0..=net.prefix_len())
            .rev()
            .filter_map(|len| ipnet::IpNet::new(net.addr(), len).ok())
            .map(|n| {
                let n = n.trunc();
                if n.prefix_len() == n.max_prefix_len() {
                    n.addr().to_string()
                } else {
                    n.to_string()
                }
            })
            .collect();
        return Ok((vec![kind], values));
    }
    if q.contains("://") {
        let u = normalize_url(q).ok_or_else(|| format!("'{q}' is not a URL"))?;
        return Ok((vec![Kind::Url], vec![u]));
    }
    if q.contains('@') {
        let e = normalize_email(q).ok_or_else(|| format!("'{q}' is not an e-mail address"))?;
        return Ok((vec![Kind::Email], vec![e]));
    }
    if q.bytes().all(|b| b.is_ascii_hexdigit()) {
        let algs: &[&str] = match q.len() {
            32 => &["MD5"],
            40 => &["SHA-1"],
            64 => &["SHA-256", "SHA3-256"],
            128 => &["SHA-512", "SHA3-512"],
            _ => &[],
        };
        if !algs.is_empty() {
            let kinds = algs.iter().map(|a| Kind::Hash((*a).to_owned())).collect();
            return Ok((kinds, vec![q.to_ascii_lowercase()]));
        }
    }
    if let Ok(n) = q.parse::<u32>() {
        return Ok((vec![Kind::Port, Kind::Asn], vec![n.to_string()]));
    }
    let d = normalize_domain(q).ok_or_else(|| {
        format!("'{q}' is not an address, URL, e-mail address, hash or domain name")
    })?;
    Ok((vec![Kind::Domain], vec![d]))
}

/// The observables an SCO itself carries.
fn from_sco(obj: &serde_json::Map<String, Value>, out: &mut Vec<Observable>) {
    let Some(ty) = obj.get("type").and_then(Value::as_str) else {
        return;
    };
    for (name, value) in obj {
        match (name.as_str(), value) {
            ("hashes", Value::Object(hashes)) => {
                for (alg, v) in hashes {
                    out.extend(from_property(ty, &["hashes", alg], v));
                }
            }
            (name, v) => out.extend(from_property(ty, &[name], v)),
        }
    }
}

/// The observables of one STIX object: an indicator's pattern, an SCO's values, or the SCOs
/// embedded in observed-data. Sorted, without duplicates.
pub fn extract(object: &Value) -> Vec<Observable> {
    let Some(obj) = object.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    match obj.get("type").and_then(Value::as_str) {
        Some("indicator") => {
            let stix_pattern = obj.get("pattern_type").and_then(Value::as_str) == Some("stix");
            if let (true, Some(src)) = (stix_pattern, obj.get("pattern").and_then(Value::as_str))
                && let Ok(tree) = crate::pattern::parse(src)
            {
                out = from_pattern(&tree);
            }
        }
        Some("observed-data") => {
            if let Some(Value::Object(embedded)) = obj.get("objects") {
                for sco in embedded.values().filter_map(Value::as_object) {
                    from_sco(sco, &mut out);
                }
            }
        }
        Some(t) if crate::object::SCO_TYPES.contains(&t) => from_sco(obj, &mut out),
        _ => {}
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn domains_are_names_dns_can_hold() {
        assert_eq!(
            normalize_domain("WWW.Example.COM.").as_deref(),
            Some("www.example.com")
        );
        assert_eq!(
            normalize_domain("例え.テスト").as_deref(),
            Some("xn--r8jz45g.xn--zckzah")
        );
        assert_eq!(
            normalize_domain("_dmarc.example.com").as_deref(),
            Some("_dmarc.example.com")
        );
        let long_label = format!("{}.com", "a".repeat(64));
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        for bad in [
            "example..com",
            ".example.com",
            "*.example.com",
            "exa mple.com",
            "exa!mple.com",
            long_label.as_str(),
            long_name.as_str(),
            "",
            "...",
        ] {
            assert_eq!(normalize_domain(bad), None, "{bad}");
        }
    }

    fn of_pattern(p: &str) -> Vec<String> {
        let ind = json!({"type": "indicator", "pattern_type": "stix", "pattern": p});
        extract(&ind)
            .into_iter()
            .map(|o| format!("{}\t{}", o.kind, o.value))
            .collect()
    }

    #[test]
    fn pattern_table() {
        let table: &[(&str, &[&str])] = &[
            (
                "[ipv4-addr:value = '198.51.100.7']",
                &["ipv4\t198.51.100.7"],
            ),
            (
                "[ipv4-addr:value = '198.51.100.7/32']",
                &["ipv4\t198.51.100.7"],
            ),
            (
                "[ipv4-addr:value ISSUBSET '198.51.100.9/24']",
                &["ipv4\t198.51.100.0/24"],
            ),
            (
                "[ipv6-addr:value = '2001:DB8:0:0::1']",
                &["ipv6\t2001:db8::1"],
            ),
            (
                "[domain-name:value = 'Evil.EXAMPLE.']",
                &["domain\tevil.example"],
            ),
            (
                "[domain-name:value = 'bücher.example']",
                &["domain\txn--bcher-kva.example"],
            ),
            (
                "[url:value = 'HTTP://Evil.example:80/a/../b?q=1']",
                &["url\thttp://evil.example/b?q=1"],
            ),
            (
                "[email-addr:value = 'Phish@Evil.Example']",
                &["email\tPhish@evil.example"],
            ),
            (
                "[file:hashes.'SHA-256' = 'AEC070645FE53EE3B3763059376134F058CC337247C978ADD178B6CCDFB0019F']",
                &["hash:SHA-256\taec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"],
            ),
            (
                "[file:hashes.md5 = 'd41d8cd98f00b204e9800998ecf8427e']",
                &["hash:MD5\td41d8cd98f00b204e9800998ecf8427e"],
            ),
            (
                "[network-traffic:dst_port IN (443, 8443)]",
                &["port\t443", "port\t8443"],
            ),
            (
                "[network-traffic:dst_ref.value = '203.0.113.5']",
                &["ipv4\t203.0.113.5"],
            ),
            ("[autonomous-system:number = 64496]", &["asn\t64496"]),
            (
                "[email-message:to_refs[*].value = 'a@b.example']",
                &["email\ta@b.example"],
            ),
            (
                "[ipv4-addr:value = '198.51.100.1' OR domain-name:value = 'c2.example'] FOLLOWEDBY [url:value = 'http://x.example/']",
                &[
                    "ipv4\t198.51.100.1",
                    "domain\tc2.example",
                    "url\thttp://x.example/",
                ],
            ),
            // Negative context and non-equality operators name nothing to block.
            ("[ipv4-addr:value != '198.51.100.7']", &[]),
            ("[ipv4-addr:value NOT = '198.51.100.7']", &[]),
            ("[url:value LIKE 'http://%']", &[]),
            ("[domain-name:value MATCHES '^evil']", &[]),
            // Values that are not what their type says are not extracted.
            ("[ipv4-addr:value = 'not-an-ip']", &[]),
            ("[x-acme:value = '198.51.100.7']", &[]),
        ];
        for (p, want) in table {
            let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
            let mut got = of_pattern(p);
            want.sort();
            got.sort();
            assert_eq!(got, want, "{p}");
        }
    }

    #[test]
    fn search_terms_by_form() {
        let (k, v) = search_terms("198.51.100.7").unwrap();
        assert_eq!(k, [Kind::Ipv4]);
        assert_eq!(v.len(), 33);
        assert_eq!(v[0], "198.51.100.7");
        assert!(v.contains(&"198.51.100.0/24".to_owned()) && v.contains(&"0.0.0.0/0".to_owned()));
        let (_, v) = search_terms("2001:db8::1").unwrap();
        assert_eq!(v.len(), 129);
        let (_, v) = search_terms("198.51.100.0/24").unwrap();
        assert_eq!(v.len(), 25);
        assert_eq!(
            search_terms("Evil.Example.").unwrap(),
            (vec![Kind::Domain], vec!["evil.example".into()])
        );
        assert_eq!(
            search_terms("HTTP://Evil.Example/x").unwrap().1,
            ["http://evil.example/x"]
        );
        assert_eq!(search_terms("a@B.example").unwrap().1, ["a@b.example"]);
        let (k, v) = search_terms(&"AB".repeat(32)).unwrap();
        assert_eq!(
            k,
            [Kind::Hash("SHA-256".into()), Kind::Hash("SHA3-256".into())]
        );
        assert_eq!(v, ["ab".repeat(32)]);
        assert_eq!(search_terms("443").unwrap().0, [Kind::Port, Kind::Asn]);
        assert!(search_terms("  ").is_err());
        assert!(search_terms("not a domain!").is_err());
    }

    #[test]
    fn scos_and_observed_data() {
        let file = json!({"type": "file", "id": "file--1", "hashes": {"SHA-1": "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", "x-custom": "zz"}, "name": "a.exe"});
        let got: Vec<String> = extract(&file)
            .iter()
            .map(|o| format!("{}={}", o.kind, o.value))
            .collect();
        assert_eq!(got, ["hash:SHA-1=da39a3ee5e6b4b0d3255bfef95601890afd80709"]);
        let od = json!({"type": "observed-data", "objects": {
            "0": {"type": "ipv4-addr", "value": "198.51.100.3"},
            "1": {"type": "domain-name", "value": "example.com"},
            "2": {"type": "network-traffic", "dst_port": 80, "src_port": 70000}
        }});
        let got: Vec<String> = extract(&od)
            .iter()
            .map(|o| format!("{}={}", o.kind, o.value))
            .collect();
        assert_eq!(got, ["ipv4=198.51.100.3", "domain=example.com", "port=80"]);
        assert!(extract(&json!({"type": "malware", "name": "x"})).is_empty());
        let snort = json!({"type": "indicator", "pattern_type": "snort", "pattern": "[ipv4-addr:value = '1.2.3.4']"});
        assert!(extract(&snort).is_empty());
    }
}
