//! TAXII 2.1 filtering and paging (sections 3.4-3.6), in domain terms: what a query for objects
//! asks, what a page of answers holds, and the parsing of the URL parameters that express them.

use stix::{StixId, Timestamp};

use crate::error::Error;

/// Which versions of each object a query returns (`match[version]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionFilter {
    All,
    /// Versions that are the first, the last, or one of the given versions; at least one is set.
    Select {
        first: bool,
        last: bool,
        at: Vec<Timestamp>,
    },
}

impl VersionFilter {
    pub const LAST: VersionFilter = VersionFilter::Select {
        first: false,
        last: true,
        at: Vec::new(),
    };
}

/// A query for objects of one collection. The store answers it in `date_added` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectQuery {
    /// Only objects added strictly after this time (`added_after`, or the `next` cursor).
    pub added_after: Option<Timestamp>,
    /// Only objects added strictly before this time (the web pages' "older" link).
    pub added_before: Option<Timestamp>,
    pub limit: usize,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: VersionFilter,
    pub spec_versions: Vec<String>,
    /// Whether the caller needs the objects themselves or only their manifest entries.
    pub with_body: bool,
    /// Only objects whose `confidence` is at least this.
    pub min_confidence: Option<u8>,
    /// Only objects whose observables at least this many organisations reported.
    pub min_corroboration: Option<u32>,
    /// Newest first (for capped polls), instead of oldest first.
    pub newest_first: bool,
    /// Not objects pulled from these federation peers (a push never sends them back).
    pub exclude_sources: Vec<i64>,
    /// Not objects these organisations posted (a peer that pushes here as one; anonymous
    /// members, whose objects never leave the ISAC).
    pub exclude_posters: Vec<i64>,
    /// Objects pulled from a peer only up to this TLP (TLP:AMBER from one community is not
    /// passed on to another).
    pub pulled_up_to: Option<crate::tlp::Tlp>,
}

impl ObjectQuery {
    /// Every version of every object added after `added_after`, with bodies, oldest first: the
    /// query of live catch-ups and existence probes, which callers then narrow.
    pub fn all_versions(added_after: Option<Timestamp>, limit: usize) -> ObjectQuery {
        ObjectQuery {
            added_after,
            added_before: None,
            limit,
            ids: Vec::new(),
            types: Vec::new(),
            versions: VersionFilter::All,
            spec_versions: Vec::new(),
            with_body: true,
            min_confidence: None,
            min_corroboration: None,
            newest_first: false,
            exclude_sources: Vec::new(),
            exclude_posters: Vec::new(),
            pulled_up_to: None,
        }
    }
}

/// One object version as the store returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The feed (collection id) the version is in.
    pub feed_id: String,
    pub id: String,
    pub date_added: Timestamp,
    pub version: Timestamp,
    pub spec_version: String,
    /// The object's JSON text, when the query asked for it.
    pub body: Option<String>,
    /// How many distinct organisations reported an observable the object mentions (0: it
    /// mentions none); served as `x_isac_corroboration`.
    pub corroboration: u32,
    /// The federation peer it was pulled from.
    pub source_peer: Option<i64>,
    /// Its TLP as stored: its marking, else the default applied when it was posted.
    pub tlp: crate::tlp::Tlp,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectPage {
    pub objects: Vec<StoredObject>,
    /// More objects match beyond this page.
    pub more: bool,
    /// For a capped poll: the newest `date_added` considered, served or not, so that the next
    /// poll starts after what this one passed over.
    pub considered_through: Option<Timestamp>,
}

impl ObjectPage {
    /// The `next` value that continues after this page, when there is more.
    pub fn next(&self) -> Option<String> {
        match (self.more, self.objects.last()) {
            (true, Some(last)) => Some(encode_cursor(last.date_added)),
            _ => None,
        }
    }
}

/// `next` is opaque to clients. The relay's is the `date_added` of the last object served, which
/// is unique and strictly increasing within a collection, so continuing from it never skips or
/// repeats an object, however many were posted in between.
pub fn encode_cursor(t: Timestamp) -> String {
    format!("{:x}", t.as_micros())
}

pub fn decode_cursor(s: &str) -> Option<Timestamp> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    i64::from_str_radix(s, 16).ok().map(Timestamp::from_micros)
}

/// The endpoint a filter set is for; each supports a different set of parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Objects,
    Manifest,
    Object,
    Versions,
    Delete,
}

/// Server-wide paging limits.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    pub default: usize,
    pub max: usize,
}

fn split_values(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim)
}

fn bad(param: &str, value: &str, why: &str) -> Error {
    Error::Invalid(format!("invalid {param} value '{value}': {why}"))
}

/// Builds a query from URL parameters (already percent-decoded), for one endpoint. A parameter
/// may appear once (TAXII 2.1 section 3.4), with comma-separated values that are ORed;
/// parameters the endpoint does not define are ignored, as TAXII allows for unknown ones.
pub fn parse_filters(
    params: &[(String, String)],
    endpoint: Endpoint,
    limits: PageLimits,
) -> Result<ObjectQuery, Error> {
    let supports = |name: &str| -> bool {
        use Endpoint::*;
        match name {
            "added_after" | "limit" | "next" => endpoint != Delete,
            "match[id]" | "match[type]" => matches!(endpoint, Objects | Manifest),
            "match[version]" => endpoint != Versions,
            "match[spec_version]" => true,
            "min_corroboration" => matches!(endpoint, Objects | Manifest),
            _ => false,
        }
    };
    let mut q = ObjectQuery {
        added_after: None,
        added_before: None,
        limit: limits.default,
        ids: Vec::new(),
        types: Vec::new(),
        versions: match endpoint {
            Endpoint::Versions => VersionFilter::All,
            // DELETE without match[version] removes every version (section 5.7).
            Endpoint::Delete => VersionFilter::All,
            _ => VersionFilter::LAST,
        },
        spec_versions: Vec::new(),
        with_body: matches!(endpoint, Endpoint::Objects | Endpoint::Object),
        min_confidence: None,
        min_corroboration: None,
        newest_first: false,
        exclude_sources: Vec::new(),
        exclude_posters: Vec::new(),
        pulled_up_to: None,
    };
    let mut version_values: Vec<&str> = Vec::new();
    let mut cursor: Option<Timestamp> = None;
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in params {
        let name = name.as_str();
        if !supports(name) {
            continue;
        }
        if seen.contains(&name) {
            return Err(Error::Invalid(format!(
                "the parameter {name} may appear only once; separate several values with commas"
            )));
        }
        seen.push(name);
        match name {
            "added_after" => {
                let t =
                    Timestamp::parse(value.trim()).map_err(|e| bad(name, value, &e.to_string()))?;
                q.added_after = Some(t);
            }
            "limit" => {
                let digits = value.trim();
                let positive = !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && digits.bytes().any(|b| b != b'0');
                if !positive {
                    return Err(bad(name, value, "expected a positive integer"));
                }
                // Any positive integer is a valid limit; one past the server's maximum (even
                // past what a machine word holds) is served as the maximum.
                q.limit = digits
                    .parse::<usize>()
                    .unwrap_or(usize::MAX)
                    .min(limits.max);
            }
            "next" => {
                cursor = Some(
                    decode_cursor(value.trim())
                        .ok_or_else(|| bad(name, value, "not a value this server issued"))?,
                );
            }
            "min_corroboration" => {
                let n = value
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| bad(name, value, "expected a positive integer"))?;
                q.min_corroboration = Some(n);
            }
            "match[id]" => {
                for v in split_values(value) {
                    StixId::parse(v).map_err(|e| bad(name, v, &e.to_string()))?;
                    q.ids.push(v.to_owned());
                }
            }
            "match[type]" => {
                for v in split_values(value) {
                    if !stix::id::is_type_name(v) {
                        return Err(bad(name, v, "not a STIX object type name"));
                    }
                    q.types.push(v.to_owned());
                }
            }
            "match[version]" => version_values.extend(split_values(value)),
            "match[spec_version]" => {
                for v in split_values(value) {
                    if !is_spec_version(v) {
                        return Err(bad(name, v, "expected a STIX version such as 2.1"));
                    }
                    q.spec_versions.push(v.to_owned());
                }
            }
            _ => {}
        }
    }
    if let Some(c) = cursor {
        q.added_after = Some(q.added_after.map_or(c, |a| a.max(c)));
    }
    if !version_values.is_empty() {
        q.versions = parse_versions(&version_values)?;
    }
    q.ids.dedup();
    q.types.sort();
    q.types.dedup();
    Ok(q)
}

fn is_spec_version(v: &str) -> bool {
    let mut parts = v.split('.');
    let ok =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

fn parse_versions(values: &[&str]) -> Result<VersionFilter, Error> {
    let (mut first, mut last, mut at) = (false, false, Vec::new());
    if values.contains(&"all") {
        if values.len() > 1 {
            return Err(Error::Invalid(
                "match[version]=all may not be combined with other versions".into(),
            ));
        }
        return Ok(VersionFilter::All);
    }
    for v in values {
        match *v {
            "first" => first = true,
            "last" => last = true,
            ts => at.push(Timestamp::parse(ts).map_err(|e| {
                bad(
                    "match[version]",
                    ts,
                    &format!("expected first, last, all or a timestamp ({e})"),
                )
            })?),
        }
    }
    Ok(VersionFilter::Select { first, last, at })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PageLimits = PageLimits {
        default: 100,
        max: 1000,
    };

    fn parse(pairs: &[(&str, &str)], e: Endpoint) -> Result<ObjectQuery, Error> {
        let params: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        parse_filters(&params, e, LIMITS)
    }

    #[test]
    fn defaults_per_endpoint() {
        let q = parse(&[], Endpoint::Objects).unwrap();
        assert_eq!(q.versions, VersionFilter::LAST);
        assert_eq!(q.limit, 100);
        assert!(q.with_body);
        assert_eq!(
            parse(&[], Endpoint::Versions).unwrap().versions,
            VersionFilter::All
        );
        assert!(!parse(&[], Endpoint::Manifest).unwrap().with_body);
    }

    #[test]
    fn comma_separated_values_combine_and_repeats_are_refused() {
        let q = parse(
            &[
                ("match[type]", "tool,indicator,malware"),
                ("match[version]", "first,2020-01-01T00:00:00Z"),
            ],
            Endpoint::Objects,
        )
        .unwrap();
        assert_eq!(q.types, ["indicator", "malware", "tool"]);
        for repeated in ["match[type]", "added_after", "limit"] {
            let v = if repeated == "match[type]" {
                "tool"
            } else if repeated == "limit" {
                "3"
            } else {
                "2020-01-01T00:00:00Z"
            };
            assert!(
                matches!(
                    parse(&[(repeated, v), (repeated, v)], Endpoint::Objects),
                    Err(Error::Invalid(_))
                ),
                "{repeated}"
            );
        }
        assert_eq!(
            q.versions,
            VersionFilter::Select {
                first: true,
                last: false,
                at: vec![Timestamp::parse("2020-01-01T00:00:00Z").unwrap()]
            }
        );
        let all = parse(&[("match[version]", "all")], Endpoint::Objects).unwrap();
        assert_eq!(all.versions, VersionFilter::All);
        assert!(parse(&[("match[version]", "last,all")], Endpoint::Objects).is_err());
    }

    #[test]
    fn limit_is_clamped_and_checked() {
        assert_eq!(
            parse(&[("limit", "5000")], Endpoint::Objects)
                .unwrap()
                .limit,
            1000
        );
        let limit = |v: &str| parse(&[("limit", v)], Endpoint::Objects).unwrap().limit;
        assert_eq!(
            limit("99999999999999999999999"),
            1000,
            "past a machine word"
        );
        assert_eq!(limit("007"), 7);
        for bad in ["-3", "0", "000", "ten", "", "+5", "1.5"] {
            assert!(matches!(
                parse(&[("limit", bad)], Endpoint::Objects),
                Err(Error::Invalid(_))
            ));
        }
    }

    #[test]
    fn malformed_values_are_invalid() {
        for (k, v) in [
            ("added_after", "yesterday"),
            ("match[id]", "indicator--nope"),
            ("match[type]", "Not A Type"),
            ("match[version]", "newest"),
            ("match[spec_version]", "two"),
            ("next", "zz"),
        ] {
            assert!(
                matches!(parse(&[(k, v)], Endpoint::Objects), Err(Error::Invalid(_))),
                "{k}={v}"
            );
        }
    }

    #[test]
    fn next_cursor_round_trips_and_combines_with_added_after() {
        let t = Timestamp::parse("2021-01-01T00:00:00.000123Z").unwrap();
        let page = ObjectPage {
            objects: vec![StoredObject {
                feed_id: "f".into(),
                id: "x".into(),
                date_added: t,
                version: t,
                spec_version: "2.1".into(),
                body: None,
                corroboration: 0,
                source_peer: None,
                tlp: crate::tlp::Tlp::Clear,
            }],
            more: true,
            considered_through: None,
        };
        let next = page.next().unwrap();
        let q = parse(
            &[("next", &next), ("added_after", "2020-01-01T00:00:00Z")],
            Endpoint::Objects,
        )
        .unwrap();
        assert_eq!(q.added_after, Some(t));
    }

    #[test]
    fn unsupported_parameters_are_ignored_per_endpoint() {
        let q = parse(&[("match[type]", "indicator")], Endpoint::Versions).unwrap();
        assert!(q.types.is_empty());
        let q = parse(&[("foo", "bar")], Endpoint::Objects).unwrap();
        assert_eq!(q, parse(&[], Endpoint::Objects).unwrap());
    }
}
