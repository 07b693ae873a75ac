//! Routing an address to the member that owns it: the longest registered network holding it
//! wins (a member's customer network inside an ISP's block is the customer's). A network two
//! organisations both claim routes to neither: sending a finding to the wrong member is the one
//! thing this must never do, so it is counted as unmatched and the overlap shown to the ISAC.

use std::net::IpAddr;

use ipnet::IpNet;
use relay_core::notice::SnapshotRange;

use crate::netmap::NetMap;

/// Where an address goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Owner {
        org: i64,
        prefix: IpNet,
    },
    /// No registered network holds it.
    Unowned,
    /// Its longest match is claimed by several organisations.
    Contested(IpNet),
}

/// A campaign's snapshot, ready for lookups.
#[derive(Debug, Clone, Default)]
pub struct Router {
    /// Each network with its claimants (one, unless contested).
    nets: NetMap<Vec<i64>>,
}

impl Router {
    pub fn new(ranges: &[SnapshotRange]) -> Router {
        let mut nets: NetMap<Vec<i64>> = NetMap::new();
        for r in ranges {
            let Ok(net) = r.net.parse::<IpNet>() else {
                continue;
            };
            let owners = nets.entry_or_default(net);
            if !owners.contains(&r.org) {
                owners.push(r.org);
            }
        }
        Router { nets }
    }

    pub fn len(&self) -> usize {
        self.nets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    pub fn route(&self, ip: IpAddr) -> Route {
        let host = IpNet::from(ip.to_canonical());
        match self.nets.longest_match(&host) {
            None => Route::Unowned,
            Some((prefix, owners)) => match owners.as_slice() {
                [org] => Route::Owner { org: *org, prefix },
                _ => Route::Contested(prefix),
            },
        }
    }
}

/// The reference the trie is checked against (tests) and measured beside (benchmark): every
/// range examined for every address.
pub fn naive_route(ranges: &[(IpNet, i64)], ip: IpAddr) -> Route {
    let ip = ip.to_canonical();
    let mut best: Option<(IpNet, Vec<i64>)> = None;
    for (net, org) in ranges {
        if !net.contains(&ip) {
            continue;
        }
        let net = net.trunc();
        match &mut best {
            Some((b, owners)) if *b == net => {
                if !owners.contains(org) {
                    owners.push(*org);
                }
            }
            Some((b, _)) if b.prefix_len() >= net.prefix_len() => {}
            _ => best = Some((net, vec![*org])),
        }
    }
    match best {
        None => Route::Unowned,
        Some((prefix, owners)) if owners.len() == 1 => Route::Owner {
            org: owners[0],
            prefix,
        },
        Some((prefix, _)) => Route::Contested(prefix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// A small deterministic generator (xorshift), so that a failure can be replayed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Random ranges nested inside each other: children carved out of earlier networks, so
    /// that longest-prefix match matters, plus some claimed twice.
    fn nested(rng: &mut Rng, v6: bool, n: usize) -> Vec<(IpNet, i64)> {
        let mut out: Vec<(IpNet, i64)> = Vec::new();
        for i in 0..n {
            let org = 1 + rng.below(12) as i64;
            let net = if !out.is_empty() && rng.below(3) > 0 {
                // Inside an earlier one.
                let (parent, _) = out[rng.below(out.len() as u64) as usize];
                let max = parent.max_prefix_len();
                let len = (parent.prefix_len() + 1 + rng.below(8) as u8).min(max);
                let addr = random_in(rng, &parent);
                IpNet::new(addr, len).unwrap().trunc()
            } else if v6 {
                let a = Ipv6Addr::from(((0x2001_0db8u128) << 96) | (rng.next() as u128) << 32);
                IpNet::new(IpAddr::V6(a), 32 + rng.below(33) as u8)
                    .unwrap()
                    .trunc()
            } else {
                let a = Ipv4Addr::from(rng.next() as u32);
                IpNet::new(IpAddr::V4(a), 8 + rng.below(17) as u8)
                    .unwrap()
                    .trunc()
            };
            out.push((net, org));
            if i % 17 == 0 {
                out.push((net, org + 100));
            }
        }
        out
    }

    fn random_in(rng: &mut Rng, net: &IpNet) -> IpAddr {
        match net {
            IpNet::V4(n) => {
                let host = (rng.next() as u32) & !u32::from(n.netmask());
                IpAddr::V4(Ipv4Addr::from(u32::from(n.network()) | host))
            }
            IpNet::V6(n) => {
                let r = (rng.next() as u128) << 64 | rng.next() as u128;
                let host = r & !u128::from(n.netmask());
                IpAddr::V6(Ipv6Addr::from(u128::from(n.network()) | host))
            }
        }
    }

    #[test]
    fn trie_agrees_with_brute_force_on_random_nested_ranges() {
        for (seed, v6) in [(7u64, false), (11, true), (13, false), (17, true)] {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let ranges = nested(&mut rng, v6, 400);
            let snapshot: Vec<SnapshotRange> = ranges
                .iter()
                .map(|(n, o)| SnapshotRange {
                    net: n.to_string(),
                    org: *o,
                })
                .collect();
            let router = Router::new(&snapshot);
            let mut owned = 0;
            for _ in 0..20_000 {
                // Half the addresses inside some range, half anywhere.
                let ip = if rng.below(2) == 0 {
                    let (n, _) = ranges[rng.below(ranges.len() as u64) as usize];
                    random_in(&mut rng, &n)
                } else if v6 {
                    IpAddr::V6(Ipv6Addr::from(
                        (0x2001_0db8u128 << 96) | (rng.next() as u128) << 32 | rng.next() as u128,
                    ))
                } else {
                    IpAddr::V4(Ipv4Addr::from(rng.next() as u32))
                };
                let expected = naive_route(&ranges, ip);
                if matches!(expected, Route::Owner { .. }) {
                    owned += 1;
                }
                assert_eq!(router.route(ip), expected, "seed {seed}, address {ip}");
            }
            assert!(owned > 5_000, "seed {seed}: only {owned} addresses routed");
        }
    }

    #[test]
    fn mapped_addresses_route_as_ipv4() {
        let router = Router::new(&[SnapshotRange {
            net: "192.0.2.0/24".into(),
            org: 5,
        }]);
        let mapped: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        assert!(matches!(router.route(mapped), Route::Owner { org: 5, .. }));
    }
}
