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
