//! Sets of IPv4 and IPv6 networks with values, for prefix questions asked millions of times: the
//! longest registered prefix holding an address or network, and whether any registered network
//! overlaps one. A binary trie per family (the `prefix-trie` crate), so each question costs
//! the prefix length, not the number of networks.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;

/// Networks (host bits ignored) with one value each.
#[derive(Debug, Clone)]
pub struct NetMap<T> {
    v4: PrefixMap<Ipv4Net, T>,
    v6: PrefixMap<Ipv6Net, T>,
}

impl<T> Default for NetMap<T> {
    fn default() -> Self {
        NetMap {
            v4: PrefixMap::new(),
            v6: PrefixMap::new(),
        }
    }
}

impl<T> NetMap<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets a network's value; returns the value it replaces.
    pub fn insert(&mut self, net: IpNet, value: T) -> Option<T> {
        match net.trunc() {
            IpNet::V4(n) => self.v4.insert(n, value),
            IpNet::V6(n) => self.v6.insert(n, value),
        }
    }

    /// The network's own value, when it is registered exactly.
    pub fn get(&self, net: &IpNet) -> Option<&T> {
        match net.trunc() {
            IpNet::V4(n) => self.v4.get(&n),
            IpNet::V6(n) => self.v6.get(&n),
        }
    }

    /// The network's value, inserted as `T::default()` when it is not registered yet.
    pub fn entry_or_default(&mut self, net: IpNet) -> &mut T
    where
        T: Default,
    {
        match net.trunc() {
            IpNet::V4(n) => self.v4.entry(n).or_default(),
            IpNet::V6(n) => self.v6.entry(n).or_default(),
        }
    }

    /// The most specific registered network that holds `net` whole (an address is its /32 or
    /// /128), with its value.
    pub fn longest_match(&self, net: &IpNet) -> Option<(IpNet, &T)> {
        match net {
            IpNet::V4(n) => self.v4.get_lpm(n).map(|(p, v)| (IpNet::V4(p), v)),
            IpNet::V6(n) => self.v6.get_lpm(n).map(|(p, v)| (IpNet::V6(p), v)),
        }
    }

    /// A registered network inside `net` (or equal to it), the first in address order.
    pub fn first_within(&self, net: &IpNet) -> Option<(IpNet, &T)> {
        match net.trunc() {
            IpNet::V4(n) => self.v4.children(&n).next().map(|(p, v)| (IpNet::V4(p), v)),
            IpNet::V6(n) => self.v6.children(&n).next().map(|(p, v)| (IpNet::V6(p), v)),
        }
    }

    /// Every registered network that holds `net` whole (itself included), broadest first.
    pub fn covering(&self, net: &IpNet) -> Vec<(IpNet, &T)> {
        match net.trunc() {
            IpNet::V4(n) => self.v4.cover(&n).map(|(p, v)| (IpNet::V4(p), v)).collect(),
            IpNet::V6(n) => self.v6.cover(&n).map(|(p, v)| (IpNet::V6(p), v)).collect(),
        }
    }

    /// A registered network that shares an address with `net`: one holding it, else one inside it.
    pub fn overlapping(&self, net: &IpNet) -> Option<(IpNet, &T)> {
        self.longest_match(net).or_else(|| self.first_within(net))
    }

    /// Every registered network, IPv4 first, each family in address order.
    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &T)> {
        let v4 = self.v4.iter().map(|(p, v)| (IpNet::V4(p), v));
        v4.chain(self.v6.iter().map(|(p, v)| (IpNet::V6(p), v)))
    }
}

impl<T> FromIterator<(IpNet, T)> for NetMap<T> {
    fn from_iter<I: IntoIterator<Item = (IpNet, T)>>(iter: I) -> Self {
        let mut map = NetMap::new();
        for (net, value) in iter {
            map.insert(net, value);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn longest_match_prefers_the_most_specific() {
        let m: NetMap<&str> = [
            (net("10.0.0.0/8"), "a"),
            (net("10.1.0.0/16"), "b"),
            (net("10.1.2.0/24"), "c"),
            (net("2001:db8::/32"), "v6"),
        ]
        .into_iter()
        .collect();
        let lpm = |s: &str| m.longest_match(&net(s)).map(|(p, v)| (p.to_string(), *v));
        assert_eq!(lpm("10.1.2.3/32"), Some(("10.1.2.0/24".into(), "c")));
        assert_eq!(lpm("10.1.3.3/32"), Some(("10.1.0.0/16".into(), "b")));
        assert_eq!(lpm("10.2.0.0/16"), Some(("10.0.0.0/8".into(), "a")));
        assert_eq!(lpm("10.0.0.0/7"), None);
        assert_eq!(lpm("11.0.0.1/32"), None);
        assert_eq!(lpm("2001:db8::1/128"), Some(("2001:db8::/32".into(), "v6")));
    }

    #[test]
    fn overlap_finds_holders_and_networks_inside() {
        let m: NetMap<()> = [(net("192.0.2.0/24"), ()), (net("10.1.0.0/16"), ())]
            .into_iter()
            .collect();
        assert!(m.overlapping(&net("192.0.2.7/32")).is_some());
        assert!(m.overlapping(&net("10.0.0.0/8")).is_some());
        assert!(m.overlapping(&net("10.2.0.0/16")).is_none());
        assert!(m.overlapping(&net("2001:db8::/32")).is_none());
        assert_eq!(
            m.first_within(&net("10.0.0.0/8")).map(|(p, _)| p),
            Some(net("10.1.0.0/16"))
        );
        // Host bits of a stored network are ignored.
        let mut m = NetMap::new();
        m.insert(net("198.51.100.9/24"), 1);
        assert_eq!(m.get(&net("198.51.100.0/24")), Some(&1));
    }
}
