//! The IP-to-country/ASN database an administrator supplies (none is shipped; without one,
//! addresses have no country): a MaxMind-format `.mmdb` (GeoLite2/GeoIP2 Country or City,
//! or an ASN database), or a CSV of ranges, one a line: `network,country[,asn]` or
//! `first,last,country[,asn]` (a header row and `#` comments are skipped).

use std::net::IpAddr;
use std::path::Path;

use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use maxminddb::{PathElement, Reader};

use crate::netmap::NetMap;

/// Where an address is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub asn: Option<u32>,
}

pub enum GeoDb {
    Mmdb(Reader<Vec<u8>>),
    Ranges(Box<NetMap<Place>>),
}

impl GeoDb {
    /// Opens a database by its file name's extension: `.mmdb`, else CSV.
    pub fn open(path: &Path) -> Result<GeoDb, String> {
        let shown = path.display();
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("mmdb"))
        {
            let r = Reader::open_readfile(path)
                .map_err(|e| format!("{shown} is not a MaxMind database: {e}"))?;
            return Ok(GeoDb::Mmdb(r));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
        GeoDb::from_csv(&text).map_err(|e| format!("{shown}: {e}"))
    }

    pub fn from_csv(text: &str) -> Result<GeoDb, String> {
        let mut nets = NetMap::new();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        for (i, record) in reader.records().enumerate() {
            let line = i + 1;
            let r = record.map_err(|e| format!("line {line}: {e}"))?;
            let f: Vec<&str> = r.iter().collect();
            if f.iter().all(|s| s.is_empty()) {
                continue;
            }
            // A range given by its first and last address, or a network.
            let (nets_of_line, rest): (Vec<IpNet>, &[&str]) = match f.as_slice() {
                [first, last, rest @ ..] if first.parse::<IpAddr>().is_ok() => (
                    range(first, last).map_err(|e| format!("line {line}: {e}"))?,
                    rest,
                ),
                [net, rest @ ..] => match net.parse::<IpNet>() {
                    Ok(n) => (vec![n.trunc()], rest),
                    Err(_) if line == 1 => continue, // a header row
                    Err(_) => {
                        return Err(format!("line {line}: '{net}' is not a network or address"));
                    }
                },
                [] => continue,
            };
            let country = rest
                .first()
                .filter(|c| !c.is_empty())
                .map(|c| {
                    if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()) {
                        Ok(c.to_ascii_uppercase())
                    } else {
                        Err(format!(
                            "line {line}: '{c}' is not a two-letter country code"
                        ))
                    }
                })
                .transpose()?;
            let asn = rest
                .get(1)
                .filter(|a| !a.is_empty())
                .map(|a| {
                    a.trim_start_matches(['A', 'S', 'a', 's'])
                        .parse::<u32>()
                        .map_err(|_| format!("line {line}: '{a}' is not an AS number"))
                })
                .transpose()?;
            for n in nets_of_line {
                nets.insert(
                    n,
                    Place {
                        country: country.clone(),
                        asn,
                    },
                );
            }
        }
        Ok(GeoDb::Ranges(Box::new(nets)))
    }

    /// Where `ip` is; nothing known when the database does not say.
    pub fn lookup(&self, ip: IpAddr) -> Place {
        let ip = ip.to_canonical();
        match self {
            GeoDb::Ranges(nets) => nets
                .longest_match(&IpNet::from(ip))
                .map(|(_, p)| p.clone())
                .unwrap_or_default(),
            GeoDb::Mmdb(r) => {
                let Ok(found) = r.lookup(ip) else {
                    return Place::default();
                };
                let text =
                    |path: &[PathElement<'_>]| found.decode_path::<String>(path).ok().flatten();
                Place {
                    country: text(&[PathElement::Key("country"), PathElement::Key("iso_code")])
                        .or_else(|| {
                            text(&[
                                PathElement::Key("registered_country"),
                                PathElement::Key("iso_code"),
                            ])
                        }),
                    asn: found
                        .decode_path::<u32>(&[PathElement::Key("autonomous_system_number")])
                        .ok()
                        .flatten(),
                }
            }
        }
    }
}

/// The networks that cover `first..=last` exactly.
fn range(first: &str, last: &str) -> Result<Vec<IpNet>, String> {
    let bad = |s: &str| format!("'{s}' is not an address");
    let a: IpAddr = first.parse().map_err(|_| bad(first))?;
    let b: IpAddr = last.parse().map_err(|_| bad(last))?;
    let nets: Vec<IpNet> = match (a.to_canonical(), b.to_canonical()) {
        (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => {
            Ipv4Subnets::new(a, b, 0).map(IpNet::V4).collect()
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => {
            Ipv6Subnets::new(a, b, 0).map(IpNet::V6).collect()
        }
        _ => return Err(format!("{first} to {last} is not a range")),
    };
    Ok(nets)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MaxMind DB encodings (the format's spec, v2.0) of what the test database holds.
    fn text(s: &str) -> Vec<u8> {
        let mut v = vec![(2 << 5) | s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        v
    }

    fn map(pairs: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut v = vec![(7 << 5) | pairs.len() as u8];
        for (k, val) in pairs {
            v.extend(text(k));
            v.extend_from_slice(val);
        }
        v
    }

    fn uint(kind: u8, n: u64, bytes: usize) -> Vec<u8> {
        let be = n.to_be_bytes();
        let mut v = if kind <= 7 {
            vec![(kind << 5) | bytes as u8]
        } else {
            vec![bytes as u8, kind - 7]
        };
        v.extend_from_slice(&be[8 - bytes..]);
        v
    }

    /// An IPv4 database holding one network, 198.51.100.0/24: Japan, AS64500.
    fn one_network_mmdb() -> Vec<u8> {
        let net: u32 = u32::from(std::net::Ipv4Addr::new(198, 51, 100, 0));
        let depth = 24u32;
        let nodes = depth;
        let mut tree = Vec::new();
        let record = |v: u32| v.to_be_bytes()[1..].to_vec();
        for i in 0..depth {
            let bit = (net >> (31 - i)) & 1;
            let next = if i + 1 == depth { nodes + 16 } else { i + 1 };
            let (left, right) = if bit == 0 {
                (next, nodes)
            } else {
                (nodes, next)
            };
            tree.extend(record(left));
            tree.extend(record(right));
        }
        let mut db = tree;
        db.extend([0u8; 16]);
        db.extend(map(&[
            ("country", map(&[("iso_code", text("JP"))])),
            ("autonomous_system_number", uint(6, 64500, 2)),
        ]));
        db.extend(b"\xAB\xCD\xEFMaxMind.com");
        db.extend(map(&[
            ("node_count", uint(6, u64::from(nodes), 4)),
            ("record_size", uint(5, 24, 1)),
            ("ip_version", uint(5, 4, 1)),
            ("database_type", text("Test-Country")),
            ("languages", vec![0, 4]),
            ("binary_format_major_version", uint(5, 2, 1)),
            ("binary_format_minor_version", uint(5, 0, 0)),
            ("build_epoch", uint(9, 1_700_000_000, 8)),
            ("description", map(&[])),
        ]));
        db
    }

    #[test]
    fn maxmind_databases_give_country_and_as() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.mmdb");
        std::fs::write(&path, one_network_mmdb()).unwrap();
        let db = GeoDb::open(&path).unwrap();
        assert_eq!(
            db.lookup("198.51.100.77".parse().unwrap()),
            Place {
                country: Some("JP".into()),
                asn: Some(64500)
            }
        );
        assert_eq!(db.lookup("198.51.101.1".parse().unwrap()), Place::default());
        let bad = dir.path().join("bad.mmdb");
        std::fs::write(&bad, b"not a database").unwrap();
        let e = GeoDb::open(&bad).err().unwrap();
        assert!(e.contains("bad.mmdb") && e.contains("MaxMind"), "{e}");
    }

    #[test]
    fn csv_ranges_by_network_or_bounds_longest_first() {
        let db = GeoDb::from_csv(
            "network,country,asn\n\
             # comment\n\
             198.51.100.0/24,jp,AS64500\n\
             198.51.100.128/25,US,\n\
             203.0.113.10,203.0.113.20,DE,64501\n\
             2001:db8::/32,FR,64502\n",
        )
        .unwrap();
        let at = |ip: &str| db.lookup(ip.parse().unwrap());
        let place = |c: &str, asn: Option<u32>| Place {
            country: Some(c.into()),
            asn,
        };
        assert_eq!(at("198.51.100.1"), place("JP", Some(64500)));
        assert_eq!(at("198.51.100.200"), place("US", None));
        assert_eq!(at("203.0.113.15"), place("DE", Some(64501)));
        assert_eq!(at("203.0.113.21"), Place::default());
        assert_eq!(at("::ffff:198.51.100.1"), place("JP", Some(64500)));
        assert_eq!(at("2001:db8::1"), place("FR", Some(64502)));
        let bad = GeoDb::from_csv("198.51.100.0/24,Japan\n").err().unwrap();
        assert!(bad.contains("line 1") && bad.contains("Japan"), "{bad}");
        let bad = GeoDb::from_csv("x\n10.0.0.0/8,JP\nnot-a-net,JP\n")
            .err()
            .unwrap();
        assert!(bad.contains("line 3"), "{bad}");
    }
}
