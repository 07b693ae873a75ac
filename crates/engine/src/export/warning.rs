//! Warning lists: what an export never carries because loading it would break the Internet or
//! the member. Special-purpose address ranges (RFC 6890 and its registries) and over-broad
//! prefixes, public resolvers and the most used sites (lists shipped with the relay), special-use
//! domain names (RFC 6761), the ISAC administrator's allowlist, and the member's own networks
//! and domains. Each drop names its reason.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use relay_core::exchange::{AllowEntry, AssetKind, OrgAsset};

use crate::netmap::NetMap;

const RESOLVERS: &str = include_str!("lists/resolvers.txt");
const TOP_SITES: &str = include_str!("lists/top_sites.txt");

/// IANA special-purpose ranges: never routed on the Internet, or shared by everyone.
const RESERVED: &[(&str, &str)] = &[
    ("0.0.0.0/8", "this network (RFC 791)"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "shared address space (RFC 6598)"),
    ("127.0.0.0/8", "loopback (RFC 1122)"),
    ("169.254.0.0/16", "link-local (RFC 3927)"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
    ("192.0.2.0/24", "documentation (RFC 5737)"),
    ("192.88.99.0/24", "6to4 relay anycast (RFC 7526)"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("198.51.100.0/24", "documentation (RFC 5737)"),
    ("203.0.113.0/24", "documentation (RFC 5737)"),
    ("224.0.0.0/4", "multicast (RFC 5771)"),
    ("240.0.0.0/4", "reserved (RFC 1112)"),
    ("::/127", "unspecified and loopback (RFC 4291)"),
    ("::ffff:0:0/96", "IPv4-mapped (RFC 4291)"),
    ("64:ff9b::/96", "IPv4/IPv6 translation (RFC 6052)"),
    ("64:ff9b:1::/48", "local IPv4/IPv6 translation (RFC 8215)"),
    ("100::/64", "discard-only (RFC 6666)"),
    ("2001::/23", "IETF protocol assignments (RFC 2928)"),
    ("2001:db8::/32", "documentation (RFC 3849)"),
    ("2002::/16", "6to4 (RFC 3056)"),
    ("3fff::/20", "documentation (RFC 9637)"),
    ("fc00::/7", "unique local (RFC 4193)"),
    ("fe80::/10", "link-local (RFC 4291)"),
    ("ff00::/8", "multicast (RFC 4291)"),
];

/// Special-use domain names (RFC 6761 and later): the name and every name under it.
const SPECIAL_NAMES: &[&str] = &[
    "localhost",
    "local",
    "test",
    "example",
    "invalid",
    "onion",
    "arpa",
    "home.arpa",
    "internal",
    "example.com",
    "example.net",
    "example.org",
];

/// Prefixes broader than these block whole providers.
const MIN_PREFIX_V4: u8 = 16;
const MIN_PREFIX_V6: u8 = 32;

/// Why an entry was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropReason {
    /// A stable code: `reserved`, `too-broad`, `resolver`, `top-site`, `special-use-name`,
    /// `top-level-domain`, `allowlist`, `own-network`, `own-domain`, `not-dns-name`.
    pub code: &'static str,
    pub detail: String,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

fn reason(code: &'static str, detail: impl Into<String>) -> Option<DropReason> {
    Some(DropReason {
        code,
        detail: detail.into(),
    })
}

/// An address or network as a network (an address is its /32 or /128).
pub(super) fn parse_net(value: &str) -> Option<IpNet> {
    value
        .parse::<IpNet>()
        .ok()
        .or_else(|| value.parse::<IpAddr>().ok().map(IpNet::from))
}

/// A domain and each of its parents: `a.b.example` → `a.b.example`, `b.example`, `example`.
fn suffixes(domain: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(domain), |d| d.split_once('.').map(|(_, rest)| rest))
}

/// Domains protected two ways: `exact_or_parent` holds every protected name and its parents
/// (an entry found there would block a protected name); `subtree` holds names whose whole
/// subtree is protected.
#[derive(Debug, Default)]
struct DomainSet {
    exact_or_parent: HashSet<String>,
    subtree: HashSet<String>,
}

impl DomainSet {
    fn protect(&mut self, domain: &str, whole_subtree: bool) {
        for s in suffixes(domain) {
            self.exact_or_parent.insert(s.to_owned());
        }
        if whole_subtree {
            self.subtree.insert(domain.to_owned());
        }
    }

    /// The protected name this domain hits, if any.
    fn hit<'a>(&self, domain: &'a str) -> Option<&'a str> {
        if self.exact_or_parent.contains(domain) {
            return Some(domain);
        }
        suffixes(domain).find(|s| self.subtree.contains(*s))
    }
}

/// The warning lists for one export: the shipped ones, the allowlist, the caller's own assets.
#[derive(Debug)]
pub struct WarningLists {
    reserved: NetMap<&'static str>,
    resolvers: NetMap<()>,
    top_sites: DomainSet,
    special: DomainSet,
    allow_nets: NetMap<String>,
    allow_domains: DomainSet,
    allow_exact: HashSet<(AssetKind, String)>,
    allow_reasons: std::collections::HashMap<String, String>,
    own_nets: NetMap<()>,
    own_domains: DomainSet,
}

fn list_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

impl WarningLists {
    /// The shipped lists with the allowlist and the assets of the organisation exported to.
    pub fn new(allowlist: &[AllowEntry], own: &[OrgAsset]) -> WarningLists {
        let mut lists = WarningLists {
            reserved: RESERVED
                .iter()
                .filter_map(|(net, why)| Some((net.parse().ok()?, *why)))
                .collect(),
            resolvers: list_lines(RESOLVERS)
                .filter_map(parse_net)
                .map(|n| (n, ()))
                .collect(),
            top_sites: DomainSet::default(),
            special: DomainSet::default(),
            allow_nets: NetMap::new(),
            allow_domains: DomainSet::default(),
            allow_exact: HashSet::new(),
            allow_reasons: Default::default(),
            own_nets: NetMap::new(),
            own_domains: DomainSet::default(),
        };
        for d in list_lines(TOP_SITES) {
            lists.top_sites.protect(d, false);
        }
        for d in SPECIAL_NAMES {
            lists.special.subtree.insert((*d).to_owned());
        }
        for a in allowlist {
            match a.kind {
                AssetKind::Cidr => {
                    if let Some(net) = parse_net(&a.value) {
                        lists.allow_nets.insert(net, a.reason.clone());
                    }
                }
                AssetKind::Domain => {
                    lists.allow_domains.protect(&a.value, true);
                    lists
                        .allow_reasons
                        .insert(a.value.clone(), a.reason.clone());
                }
                AssetKind::Asn => {}
                AssetKind::Url | AssetKind::Hash => {
                    lists
                        .allow_exact
                        .insert((a.kind, a.value.to_ascii_lowercase()));
                    lists
                        .allow_reasons
                        .insert(a.value.to_ascii_lowercase(), a.reason.clone());
                }
            }
        }
        for a in own {
            match a.kind {
                AssetKind::Cidr => {
                    if let Some(net) = parse_net(&a.value) {
                        lists.own_nets.insert(net, ());
                    }
                }
                AssetKind::Domain => lists.own_domains.protect(&a.value, true),
                AssetKind::Url | AssetKind::Hash | AssetKind::Asn => {}
            }
        }
        lists
    }

    /// Why this entry must not be exported, if it must not.
    pub fn check(&self, kind: &str, value: &str) -> Option<DropReason> {
        match kind {
            "ipv4" | "ipv6" => {
                let net = parse_net(value)?;
                self.check_net(&net, true)
            }
            "domain" => self.check_domain(value, true),
            "url" => {
                if self
                    .allow_exact
                    .contains(&(AssetKind::Url, value.to_ascii_lowercase()))
                {
                    return reason("allowlist", self.allow_reason(value));
                }
                let host = url::Url::parse(value).ok()?.host()?.to_owned();
                match host {
                    url::Host::Domain(d) => self.check_domain(&d, false),
                    url::Host::Ipv4(a) => self.check_net(&IpNet::from(IpAddr::V4(a)), false),
                    url::Host::Ipv6(a) => self.check_net(&IpNet::from(IpAddr::V6(a)), false),
                }
            }
            k if k.starts_with("hash:") => self
                .allow_exact
                .contains(&(AssetKind::Hash, value.to_ascii_lowercase()))
                .then(|| DropReason {
                    code: "allowlist",
                    detail: self.allow_reason(value),
                }),
            _ => None,
        }
    }

    fn allow_reason(&self, key: &str) -> String {
        self.allow_reasons
            .get(&key.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    /// `whole`: the entry blocks the network itself (not one URL on it).
    fn check_net(&self, net: &IpNet, whole: bool) -> Option<DropReason> {
        if let Some((r, why)) = self.reserved.overlapping(net) {
            return reason("reserved", format!("overlaps {r}, {why}"));
        }
        if whole {
            let min = if matches!(net, IpNet::V4(_)) {
                MIN_PREFIX_V4
            } else {
                MIN_PREFIX_V6
            };
            if net.prefix_len() < min {
                return reason("too-broad", format!("a prefix broader than /{min}"));
            }
            if let Some((r, _)) = self.resolvers.first_within(net) {
                return reason(
                    "resolver",
                    format!("would block the public resolver {}", r.addr()),
                );
            }
        }
        if let Some((own, _)) = self.own_nets.overlapping(net) {
            return reason(
                "own-network",
                format!("overlaps your registered network {own}"),
            );
        }
        if let Some((a, why)) = self.allow_nets.overlapping(net) {
            return reason("allowlist", format!("overlaps {a}: {why}"));
        }
        None
    }

    /// `whole`: the entry blocks the name itself (not one URL under it).
    fn check_domain(&self, domain: &str, whole: bool) -> Option<DropReason> {
        if let Some(s) = self.special.hit(domain) {
            return reason(
                "special-use-name",
                format!("under the special-use name '{s}'"),
            );
        }
        if whole {
            if !domain.contains('.') {
                return reason("top-level-domain", "a top-level domain");
            }
            if self.top_sites.hit(domain).is_some() {
                return reason(
                    "top-site",
                    "a widely used site (or a parent of one) in the shipped warning list",
                );
            }
        }
        if let Some(own) = self.own_domains.hit(domain) {
            return reason("own-domain", format!("your registered domain '{own}'"));
        }
        if let Some(hit) = self.allow_domains.hit(domain) {
            let why = self
                .allow_domains
                .subtree
                .iter()
                .find(|a| *a == hit || a.ends_with(&format!(".{hit}")))
                .and_then(|a| self.allow_reasons.get(a))
                .cloned()
                .unwrap_or_default();
            return reason("allowlist", format!("'{hit}' is allowlisted: {why}"));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stix::Timestamp;

    fn lists() -> WarningLists {
        let allow = [
            AllowEntry {
                id: 1,
                kind: AssetKind::Domain,
                value: "partner.example.jp".into(),
                reason: "partner portal".into(),
                created: Timestamp::from_micros(0),
            },
            AllowEntry {
                id: 2,
                kind: AssetKind::Cidr,
                value: "45.10.0.0/24".into(),
                reason: "scanner of a member".into(),
                created: Timestamp::from_micros(0),
            },
        ];
        let own = [OrgAsset {
            id: 1,
            org: 5,
            org_name: "M".into(),
            kind: AssetKind::Cidr,
            value: "61.100.0.0/16".into(),
            added: Timestamp::from_micros(0),
            removed: None,
            valid_from: None,
            valid_until: None,
        }];
        WarningLists::new(&allow, &own)
    }

    #[test]
    fn drops_what_would_break_things_and_names_why() {
        let l = lists();
        for (kind, value, code) in [
            ("ipv4", "10.1.2.3", "reserved"),
            ("ipv4", "0.0.0.0/0", "reserved"),
            ("ipv6", "fe80::1", "reserved"),
            ("ipv4", "45.0.0.0/12", "too-broad"),
            ("ipv4", "8.8.8.8", "resolver"),
            ("ipv6", "2606:4700:4700::1111", "resolver"),
            ("ipv4", "61.100.7.7", "own-network"),
            ("ipv4", "61.0.0.0/15", "too-broad"),
            ("ipv4", "45.10.0.99", "allowlist"),
            ("domain", "google.com", "top-site"),
            ("domain", "co.jp", "top-site"),
            ("domain", "com", "top-level-domain"),
            ("domain", "printer.local", "special-use-name"),
            ("domain", "www.partner.example.jp", "allowlist"),
            ("domain", "example.jp", "allowlist"),
            ("url", "http://10.0.0.1/x", "reserved"),
            ("url", "https://login.partner.example.jp/a", "allowlist"),
        ] {
            let r = l.check(kind, value);
            assert_eq!(
                r.as_ref().map(|r| r.code),
                Some(code),
                "{kind} {value}: {r:?}"
            );
        }
        for (kind, value) in [
            ("ipv4", "45.9.8.7"),
            ("ipv4", "45.9.0.0/16"),
            ("domain", "evil.blogspot.com"),
            ("domain", "phish-login.xyz"),
            ("url", "https://sites.google.com/view/phish"),
            ("url", "http://8.8.8.8/x"),
            ("hash:SHA-256", "ab"),
        ] {
            assert_eq!(l.check(kind, value), None, "{kind} {value}");
        }
    }
}
