//! What an export asks for: the format, its options, and the filters, parsed from query pairs
//! (the HTTP query string or the command line's flags) with a clear message for anything
//! unknown or malformed.

use relay_core::feed::Severity;
use stix::observable::hash_algorithm;

/// The formats exports are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One address or network a line, aggregated to the fewest CIDRs.
    Ip,
    Domain,
    Url,
    /// One hash of one algorithm a line.
    Hash,
    /// A DNS response-policy zone.
    Rpz,
    Suricata,
    /// An nftables script that fills two interval sets.
    Nftables,
    /// An `ipset restore` file that swaps in new sets atomically.
    Ipset,
    Csv,
    /// A STIX 2.1 bundle of indicators.
    Stix,
}

pub const FORMATS: &[&str] = &[
    "ip", "domain", "url", "hash", "rpz", "suricata", "nftables", "ipset", "csv", "stix",
];

/// Every hash algorithm the relay indexes, as stored kinds.
const HASH_KINDS: &[&str] = &[
    "hash:MD5",
    "hash:SHA-1",
    "hash:SHA-256",
    "hash:SHA-512",
    "hash:SHA3-256",
    "hash:SHA3-512",
    "hash:SSDEEP",
    "hash:TLSH",
];

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
        Ok(match s {
            "ip" => Format::Ip,
            "domain" => Format::Domain,
            "url" => Format::Url,
            "hash" => Format::Hash,
            "rpz" => Format::Rpz,
            "suricata" => Format::Suricata,
            "nftables" => Format::Nftables,
            "ipset" => Format::Ipset,
            "csv" => Format::Csv,
            "stix" => Format::Stix,
            other => {
                return Err(format!(
                    "unknown export format '{other}'; one of: {}",
                    FORMATS.join(", ")
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Ip => "ip",
            Format::Domain => "domain",
            Format::Url => "url",
            Format::Hash => "hash",
            Format::Rpz => "rpz",
            Format::Suricata => "suricata",
            Format::Nftables => "nftables",
            Format::Ipset => "ipset",
            Format::Csv => "csv",
            Format::Stix => "stix",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Stix => "application/stix+json;version=2.1",
            _ => "text/plain; charset=utf-8",
        }
    }

    /// The stored kinds this format can carry.
    fn carries(self, kind: &str) -> bool {
        let ip = matches!(kind, "ipv4" | "ipv6");
        match self {
            Format::Ip | Format::Nftables | Format::Ipset => ip,
            Format::Domain => kind == "domain",
            Format::Url => kind == "url",
            Format::Hash => kind.starts_with("hash:"),
            Format::Rpz => ip || kind == "domain",
            Format::Suricata => ip || matches!(kind, "domain" | "url"),
            Format::Csv | Format::Stix => true,
        }
    }
}

/// What the DNS resolver answers for a listed name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpzAction {
    NxDomain,
    NoData,
    /// A CNAME to this host (a walled garden that explains the block).
    Garden(String),
}

/// Options of particular formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatOptions {
    /// `ip`: aggregate to the fewest CIDRs.
    pub aggregate: bool,
    /// `rpz`: the zone's origin, its records' TTL and the action.
    pub zone: String,
    pub ttl: u32,
    pub action: RpzAction,
    /// `nftables`: the table; `nftables`, `ipset`: the set name (`_v4`/`_v6` or `-v4`/`-v6`
    /// appended).
    pub table: String,
    pub set: String,
    /// `suricata`: the first rule's `sid`.
    pub sid_base: u32,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            aggregate: true,
            zone: "rpz.isac-relay".into(),
            ttl: 300,
            action: RpzAction::NxDomain,
            table: "isac_relay".into(),
            set: "blocklist".into(),
            sid_base: 1_000_000,
        }
    }
}

/// An export request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    pub format: Format,
    /// Feed names or ids; empty: every feed the caller may read.
    pub feeds: Vec<String>,
    pub min_severity: Option<Severity>,
    pub min_confidence: Option<u8>,
    pub min_corroboration: Option<u32>,
    pub min_applied_by: Option<u32>,
    /// Stored kinds exported, already narrowed to what the format carries.
    pub kinds: Vec<String>,
    /// Leave out revoked objects, passed `valid_until` and expired lists (the default).
    pub active_only: bool,
    /// At most this many entries, the highest ranked.
    pub max: Option<usize>,
    /// The token of an earlier export: answer only what was added and removed since.
    pub since: Option<String>,
    pub options: FormatOptions,
}

fn number<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("'{name}' must be a non-negative integer, not '{v}'"))
}

fn boolean(name: &str, v: &str) -> Result<bool, String> {
    match v {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("'{name}' must be true or false, not '{v}'")),
    }
}

/// The stored kinds a kind name given by a user stands for.
fn kind_names(name: &str) -> Result<Vec<String>, String> {
    let name = name.trim();
    Ok(match name.to_ascii_lowercase().as_str() {
        "ip" => vec!["ipv4".into(), "ipv6".into()],
        "ipv4" => vec!["ipv4".into()],
        "ipv6" => vec!["ipv6".into()],
        "domain" => vec!["domain".into()],
        "url" => vec!["url".into()],
        "hash" => HASH_KINDS.iter().map(|k| (*k).to_owned()).collect(),
        _ => match hash_algorithm(name) {
            Some(alg) => vec![format!("hash:{alg}")],
            None => {
                return Err(format!(
                    "unknown kind '{name}'; one of: ip, ipv4, ipv6, domain, url, hash, or a hash \
                     algorithm (md5, sha1, sha256, sha512, sha3-256, sha3-512, ssdeep, tlsh)"
                ));
            }
        },
    })
}

/// A DNS name usable as an RPZ origin or a walled garden.
fn dns_name(name: &str, v: &str) -> Result<String, String> {
    let v = v.trim().trim_end_matches('.');
    let ok = !v.is_empty()
        && v.len() <= 200
        && v.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(format!("'{name}' must be a DNS name, not '{v}'"))
    }
}

/// A name for an nftables table or set, or an ipset.
fn identifier(name: &str, v: &str) -> Result<String, String> {
    let ok = !v.is_empty()
        && v.len() <= 24
        && v.starts_with(|c: char| c.is_ascii_alphabetic())
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(v.to_owned())
    } else {
        Err(format!(
            "'{name}' must be a letter followed by up to 23 letters, digits or underscores, not '{v}'"
        ))
    }
}

impl ExportRequest {
    /// Parses a request from query pairs. Repeated `feed` and `kind` accumulate; both also
    /// take comma-separated lists.
    pub fn from_pairs(format: &str, pairs: &[(String, String)]) -> Result<ExportRequest, String> {
        let format = Format::parse(format)?;
        let mut feeds = Vec::new();
        let mut kinds: Vec<String> = Vec::new();
        let mut algorithm = None;
        let mut req = ExportRequest {
            format,
            feeds: Vec::new(),
            min_severity: None,
            min_confidence: None,
            min_corroboration: None,
            min_applied_by: None,
            kinds: Vec::new(),
            active_only: true,
            max: None,
            since: None,
            options: FormatOptions::default(),
        };
        for (name, value) in pairs {
            let v = value.as_str();
            match name.as_str() {
                "feed" => feeds.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|f| !f.is_empty())
                        .map(str::to_owned),
                ),
                "kind" => {
                    for k in v.split(',').filter(|k| !k.trim().is_empty()) {
                        kinds.extend(kind_names(k)?);
                    }
                }
                "algorithm" => {
                    let alg = hash_algorithm(v.trim())
                        .ok_or_else(|| format!("unknown hash algorithm '{v}'"))?;
                    algorithm = Some(format!("hash:{alg}"));
                }
                "min_severity" => req.min_severity = Some(Severity::parse(v)?),
                "min_confidence" => {
                    let c: u8 = number(name, v)?;
                    if c > 100 {
                        return Err(format!("'min_confidence' is 0 to 100, not {c}"));
                    }
                    req.min_confidence = Some(c);
                }
                "min_corroboration" => req.min_corroboration = Some(number(name, v)?),
                "min_applied_by" => req.min_applied_by = Some(number(name, v)?),
                "active" => req.active_only = boolean(name, v)?,
                "max" => {
                    let n: usize = number(name, v)?;
                    if n == 0 {
                        return Err("'max' must be at least 1".into());
                    }
                    req.max = Some(n);
                }
                "since" => req.since = Some(v.to_owned()),
                "aggregate" => req.options.aggregate = boolean(name, v)?,
                "zone" => req.options.zone = dns_name(name, v)?,
                "ttl" => {
                    let ttl: u32 = number(name, v)?;
                    if ttl > 604_800 {
                        return Err(format!("'ttl' is at most 604800 seconds, not {ttl}"));
                    }
                    req.options.ttl = ttl;
                }
                "action" => {
                    req.options.action = match v {
                        "nxdomain" => RpzAction::NxDomain,
                        "nodata" => RpzAction::NoData,
                        _ => match v.strip_prefix("garden:") {
                            Some(host) => RpzAction::Garden(dns_name("action", host)?),
                            None => {
                                return Err(format!(
                                    "'action' is nxdomain, nodata or garden:HOST, not '{v}'"
                                ));
                            }
                        },
                    }
                }
                "table" => req.options.table = identifier(name, v)?,
                "set" => req.options.set = identifier(name, v)?,
                "sid_base" => req.options.sid_base = number(name, v)?,
                other => {
                    return Err(format!(
                        "unknown export parameter '{other}'; known: feed, kind, algorithm, \
                         min_severity, min_confidence, min_corroboration, min_applied_by, active, \
                         max, since, aggregate, zone, ttl, action, table, set, sid_base"
                    ));
                }
            }
        }
        feeds.sort();
        feeds.dedup();
        req.feeds = feeds;
        if format == Format::Hash {
            // A hash list holds one algorithm; SHA-256 unless another is named.
            let alg = algorithm.unwrap_or_else(|| "hash:SHA-256".into());
            if !kinds.is_empty() && !kinds.contains(&alg) {
                return Err(format!(
                    "a hash list holds one algorithm: '{}' is not among the kinds asked for",
                    alg.trim_start_matches("hash:")
                ));
            }
            kinds = vec![alg];
        } else if algorithm.is_some() {
            return Err("'algorithm' applies to the hash format only".into());
        }
        if kinds.is_empty() {
            req.kinds = ["ipv4", "ipv6", "domain", "url"]
                .iter()
                .map(|k| (*k).to_owned())
                .chain(HASH_KINDS.iter().map(|k| (*k).to_owned()))
                .filter(|k| format.carries(k))
                .collect();
        } else {
            kinds.sort();
            kinds.dedup();
            let carried: Vec<String> = kinds
                .iter()
                .filter(|k| format.carries(k))
                .cloned()
                .collect();
            if carried.is_empty() {
                return Err(format!(
                    "the {} format carries none of the kinds asked for",
                    format.as_str()
                ));
            }
            req.kinds = carried;
        }
        req.kinds.sort();
        if req.since.is_some()
            && let Some(why) = req.unpatchable()
        {
            return Err(format!("'since' is not available here: {why}"));
        }
        Ok(req)
    }

    /// Why this export cannot be answered as a diff, if it cannot.
    fn unpatchable(&self) -> Option<&'static str> {
        match self.format {
            Format::Ip if self.options.aggregate => Some(
                "an aggregated list cannot be patched; ask for aggregate=false, or fetch the \
                 whole list with If-None-Match",
            ),
            Format::Nftables => Some(
                "nftables interval sets hold aggregated prefixes, which a diff cannot patch; \
                 fetch the whole file with If-None-Match",
            ),
            Format::Suricata => {
                Some("Suricata loads rule files whole; fetch the whole file with If-None-Match")
            }
            Format::Stix => Some(
                "incremental STIX is what the TAXII API serves: poll a collection with added_after",
            ),
            _ if self.max.is_some() => Some(
                "a capped list is ranked anew on every export; fetch it whole with If-None-Match",
            ),
            _ => None,
        }
    }

    /// Everything that decides the content except `since`, in a stable form.
    pub fn canonical(&self) -> String {
        format!(
            "{}|feeds={}|sev={:?}|conf={:?}|corr={:?}|applied={:?}|kinds={}|active={}|max={:?}|{:?}",
            self.format.as_str(),
            self.feeds.join(","),
            self.min_severity.map(Severity::as_str),
            self.min_confidence,
            self.min_corroboration,
            self.min_applied_by,
            self.kinds.join(","),
            self.active_only,
            self.max,
            self.options,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn formats_carry_their_kinds() {
        let r = ExportRequest::from_pairs("rpz", &[]).unwrap();
        assert_eq!(r.kinds, ["domain", "ipv4", "ipv6"]);
        let r = ExportRequest::from_pairs("hash", &pairs(&[("algorithm", "md5")])).unwrap();
        assert_eq!(r.kinds, ["hash:MD5"]);
        let r = ExportRequest::from_pairs("hash", &[]).unwrap();
        assert_eq!(r.kinds, ["hash:SHA-256"]);
        let r = ExportRequest::from_pairs("csv", &pairs(&[("kind", "ipv4,sha1")])).unwrap();
        assert_eq!(r.kinds, ["hash:SHA-1", "ipv4"]);
    }

    #[test]
    fn bad_parameters_are_named() {
        for (format, p, needle) in [
            ("pdf", vec![], "unknown export format 'pdf'"),
            ("ip", vec![("kind", "domain")], "carries none"),
            ("ip", vec![("fed", "C2")], "unknown export parameter 'fed'"),
            ("ip", vec![("max", "0")], "at least 1"),
            ("ip", vec![("min_confidence", "101")], "0 to 100"),
            ("ip", vec![("since", "x")], "aggregated list"),
            ("nftables", vec![("since", "x")], "nftables"),
            ("domain", vec![("since", "x"), ("max", "5")], "capped"),
            ("rpz", vec![("zone", "bad zone")], "DNS name"),
            ("nftables", vec![("set", "1x")], "'set'"),
            ("url", vec![("algorithm", "md5")], "hash format only"),
        ] {
            let err = ExportRequest::from_pairs(format, &pairs(&p)).unwrap_err();
            assert!(err.contains(needle), "{format} {p:?}: {err}");
        }
    }
}
