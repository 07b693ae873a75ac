//! Gathering a campaign's routed findings into blocks, one member at a time, and merging
//! repeats exactly: the same (address, port, protocol, finding) is one finding, seen once more.
//!
//! The table of keys holds every finding of the campaign: stored ones (loaded before an
//! upload) by id, pending ones by their place in their member's stream. An IPv4 key packs
//! into 64 bits (address, port, kind number), so ten million keys fit in a few hundred
//! megabytes and compare exactly; other keys are kept whole. The table is split in shards
//! that grow one at a time: a single table doubling near its end holds the old and the new
//! copy at once, and sized up front it is sized for the worst case. A repeat of a pending
//! finding is merged in memory; a repeat of a stored one becomes a `Merge` for the store.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use relay_core::notice::{Finding, FindingBlock, FindingKind, FindingsBatch, Merge, NewFinding};
use stix::Timestamp;

type Fast = foldhash::fast::RandomState;

/// A shard of the key table. Its memory comes from the system allocator, not the process's:
/// the tables are large, grow by doubling and are freed whole, and the system allocator hands
/// each freed one back to the operating system (mimalloc kept them: 10,000,000 findings
/// peaked at 583 MB against 415 MB).
type Shard<K> = hashbrown::HashMap<K, u64, Fast, allocator_api2::alloc::System>;

fn shard_table<K>() -> Shard<K> {
    hashbrown::HashMap::with_hasher_in(Fast::default(), allocator_api2::alloc::System)
}

/// A value of the key table: the member's slot in the low 16 bits; above, a stored id or, with
/// `PENDING`, the finding's place in its member's stream.
const PENDING: u64 = 1 << 63;
const SLOT_BITS: u32 = 16;
/// No value: slots go up to `u16::MAX - 1`.
const VACANT: u64 = u64::MAX;
/// Ids and places must fit beside the slot.
const MAX_HIGH: u64 = (1 << (63 - SLOT_BITS)) - 1;
/// Shards of the key table (a power of two).
const SHARDS: usize = 256;

/// The shard of a key, from its bits mixed (the shards' own hashing is independent).
fn shard(bits: u64) -> usize {
    (bits.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize & (SHARDS - 1)
}

/// A finding routed to its member, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub org: i64,
    /// Canonical (an IPv4-mapped IPv6 address is IPv4).
    pub ip: IpAddr,
    pub prefix_len: u8,
    pub port: u16,
    /// From `Collector::kind`.
    pub kind: u32,
    pub observed: Timestamp,
    pub detail: Option<String>,
}

/// One member's findings not yet handed on, and where its earlier ones went.
struct Stream {
    org: i64,
    pending: Vec<NewFinding>,
    /// The place of `pending[0]` in the stream.
    start: u64,
    /// (place of the first finding, its id) of each block handed on, in order.
    handed: Vec<(u64, i64)>,
}

pub struct Collector {
    kinds: Vec<FindingKind>,
    kind_ids: HashMap<String, HashMap<String, u32, Fast>, Fast>,
    /// `kinds` as blocks share it; renewed when a kind is added.
    shared_kinds: Arc<[FindingKind]>,
    narrow: Vec<Shard<u64>>,
    wide: Vec<Shard<(IpAddr, u16, u32)>>,
    streams: Vec<Stream>,
    slots: HashMap<i64, u16, Fast>,
    block_size: usize,
}

/// What became of a finding added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    New,
    Merged,
}

enum Key {
    Narrow(u64),
    Wide((IpAddr, u16, u32)),
}

fn key(ip: IpAddr, port: u16, kind: u32) -> Key {
    match ip {
        IpAddr::V4(a) if kind <= u32::from(u16::MAX) => {
            Key::Narrow((u64::from(a.to_bits()) << 32) | (u64::from(port) << 16) | u64::from(kind))
        }
        _ => Key::Wide((ip, port, kind)),
    }
}

impl Collector {
    /// `block_size`: findings per block, at most.
    pub fn new(block_size: usize) -> Collector {
        Collector {
            kinds: Vec::new(),
            kind_ids: HashMap::default(),
            shared_kinds: Arc::from(Vec::new()),
            narrow: (0..SHARDS).map(|_| shard_table()).collect(),
            wide: (0..SHARDS).map(|_| shard_table()).collect(),
            streams: Vec::new(),
            slots: HashMap::default(),
            block_size: block_size.max(1),
        }
    }

    /// The number of a (protocol, finding) kind in this campaign.
    pub fn kind(&mut self, protocol: &str, finding: &str) -> u32 {
        if let Some(k) = self.kind_ids.get(protocol).and_then(|m| m.get(finding)) {
            return *k;
        }
        let k = u32::try_from(self.kinds.len()).unwrap_or(u32::MAX);
        self.kinds.push(FindingKind {
            protocol: protocol.to_owned(),
            finding: finding.to_owned(),
        });
        self.kind_ids
            .entry(protocol.to_owned())
            .or_default()
            .insert(finding.to_owned(), k);
        k
    }

    fn slot(&mut self, org: i64) -> Result<u16, String> {
        if let Some(s) = self.slots.get(&org) {
            return Ok(*s);
        }
        let s = u16::try_from(self.streams.len())
            .ok()
            .filter(|s| *s < u16::MAX)
            .ok_or("more than 65,534 organisations in one campaign")?;
        self.streams.push(Stream {
            org,
            pending: Vec::new(),
            start: 0,
            handed: Vec::new(),
        });
        self.slots.insert(org, s);
        Ok(s)
    }

    fn value(&mut self, k: Key) -> &mut u64 {
        match k {
            Key::Narrow(k) => self.narrow[shard(k)].entry(k).or_insert(VACANT),
            Key::Wide(k) => {
                let bits = match k.0 {
                    IpAddr::V4(a) => u64::from(a.to_bits()),
                    IpAddr::V6(a) => {
                        let b = a.to_bits();
                        (b as u64) ^ ((b >> 64) as u64)
                    }
                };
                self.wide[shard(bits ^ u64::from(k.1) ^ (u64::from(k.2) << 16))]
                    .entry(k)
                    .or_insert(VACANT)
            }
        }
    }

    /// A finding already stored, so that a repeat merges into it.
    pub fn known(&mut self, f: &Finding) -> Result<(), String> {
        let ip: IpAddr =
            f.ip.parse::<IpAddr>()
                .map_err(|_| format!("stored finding {} has no address", f.id))?
                .to_canonical();
        let id = u64::try_from(f.id)
            .ok()
            .filter(|id| *id <= MAX_HIGH)
            .ok_or_else(|| format!("finding id {} is out of range", f.id))?;
        let slot = self.slot(f.org)?;
        let kind = self.kind(&f.protocol, &f.finding);
        *self.value(key(ip, f.port, kind)) = (id << SLOT_BITS) | u64::from(slot);
        Ok(())
    }

    /// Adds a finding: pending in its member's stream (a full block of it is handed on to
    /// `out`, under ids taken from `next_id`), or merged into the finding with its key.
    pub fn add(
        &mut self,
        f: Incoming,
        out: &mut FindingsBatch,
        next_id: &mut i64,
    ) -> Result<Added, String> {
        let slot = self.slot(f.org)?;
        let kind = f.kind;
        if kind as usize >= self.kinds.len() {
            return Err(format!("kind {kind} is not one of the campaign's"));
        }
        let k = key(f.ip, f.port, kind);
        let stream_len = {
            let s = &self.streams[usize::from(slot)];
            s.start + s.pending.len() as u64
        };
        let value = self.value(k);
        let existing = *value;
        // A key of another member's finding (the registry changed) starts a new finding.
        if existing != VACANT && existing & 0xffff == u64::from(slot) {
            let high = (existing & !PENDING) >> SLOT_BITS;
            let s = &mut self.streams[usize::from(slot)];
            if existing & PENDING == 0 {
                out.merges.push(merge(high as i64, f));
            } else if high >= s.start {
                let p = &mut s.pending[(high - s.start) as usize];
                p.times_seen = p.times_seen.saturating_add(1);
                p.first_observed = p.first_observed.min(f.observed);
                p.last_observed = p.last_observed.max(f.observed);
                if f.detail.is_some() {
                    p.detail = f.detail;
                }
            } else {
                let i = s.handed.partition_point(|(place, _)| *place <= high) - 1;
                let (place, id) = s.handed[i];
                out.merges.push(merge(id + (high - place) as i64, f));
            }
            return Ok(Added::Merged);
        }
        if stream_len > MAX_HIGH {
            return Err("more findings than one campaign can hold".into());
        }
        *value = PENDING | (stream_len << SLOT_BITS) | u64::from(slot);
        let s = &mut self.streams[usize::from(slot)];
        s.pending.push(NewFinding {
            ip: f.ip,
            prefix_len: f.prefix_len,
            port: f.port,
            kind,
            first_observed: f.observed,
            last_observed: f.observed,
            times_seen: 1,
            detail: f.detail,
        });
        if s.pending.len() >= self.block_size {
            self.hand_on(usize::from(slot), out, next_id);
        }
        Ok(Added::New)
    }

    /// Hands on every pending finding.
    pub fn flush(&mut self, out: &mut FindingsBatch, next_id: &mut i64) {
        for slot in 0..self.streams.len() {
            self.hand_on(slot, out, next_id);
        }
    }

    fn hand_on(&mut self, slot: usize, out: &mut FindingsBatch, next_id: &mut i64) {
        if self.streams[slot].pending.is_empty() {
            return;
        }
        if self.shared_kinds.len() != self.kinds.len() {
            self.shared_kinds = Arc::from(self.kinds.clone());
        }
        let s = &mut self.streams[slot];
        let findings = std::mem::take(&mut s.pending);
        let n = findings.len();
        s.handed.push((s.start, *next_id));
        s.start += n as u64;
        out.blocks.push(FindingBlock {
            org: s.org,
            first_id: *next_id,
            kinds: self.shared_kinds.clone(),
            findings,
        });
        *next_id += n as i64;
    }
}

fn merge(into: i64, f: Incoming) -> Merge {
    Merge {
        into,
        org: f.org,
        observed: f.observed,
        detail: f.detail,
    }
}

#[cfg(test)]
mod tests {
    use relay_core::notice::FindingStatus;

    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn incoming(
        c: &mut Collector,
        org: i64,
        ip: &str,
        port: u16,
        finding: &str,
        at: &str,
    ) -> Incoming {
        Incoming {
            org,
            ip: ip.parse().unwrap(),
            prefix_len: 16,
            port,
            kind: c.kind("tcp", finding),
            observed: t(at),
            detail: None,
        }
    }

    #[test]
    fn repeats_merge_in_memory_into_blocks_handed_on_and_into_stored_findings() {
        let mut c = Collector::new(2);
        c.known(&Finding {
            id: 7,
            campaign: "c".into(),
            org: 1,
            org_name: "A".into(),
            prefix: "198.18.0.0/16".into(),
            ip: "198.18.0.9".into(),
            port: 23,
            protocol: "tcp".into(),
            finding: "telnet".into(),
            first_observed: t("2026-11-01T00:00:00Z"),
            last_observed: t("2026-11-01T00:00:00Z"),
            times_seen: 1,
            detail: None,
            status: FindingStatus::New,
            status_at: None,
            status_note: None,
            version: 1,
        })
        .unwrap();
        let mut out = FindingsBatch::default();
        let mut next = 100;
        let at = "2026-11-20T00:00:00Z";
        let later = "2026-11-21T00:00:00Z";
        let mut add = |c: &mut Collector, org, ip, port, finding, at| {
            let f = incoming(c, org, ip, port, finding, at);
            c.add(f, &mut out, &mut next).unwrap()
        };
        assert_eq!(add(&mut c, 1, "198.18.0.1", 23, "telnet", at), Added::New);
        // The same key: merged while pending.
        assert_eq!(
            add(&mut c, 1, "198.18.0.1", 23, "telnet", later),
            Added::Merged
        );
        // Another port, kind, or an IPv6 address: new.
        assert_eq!(add(&mut c, 1, "198.18.0.1", 80, "telnet", at), Added::New);
        assert_eq!(add(&mut c, 1, "198.18.0.1", 23, "http", at), Added::New);
        assert_eq!(add(&mut c, 2, "2001:db8::1", 23, "telnet", at), Added::New);
        assert_eq!(
            add(&mut c, 2, "2001:db8::1", 23, "telnet", at),
            Added::Merged
        );
        // A repeat of a block handed on, and of a stored finding.
        assert_eq!(
            add(&mut c, 1, "198.18.0.1", 80, "telnet", later),
            Added::Merged
        );
        assert_eq!(
            add(&mut c, 1, "198.18.0.9", 23, "telnet", at),
            Added::Merged
        );
        // The same key routed to another member: a finding of its own.
        assert_eq!(add(&mut c, 3, "198.18.0.9", 23, "telnet", at), Added::New);
        c.flush(&mut out, &mut next);
        let blocks: Vec<(i64, i64, usize)> = out
            .blocks
            .iter()
            .map(|b| (b.org, b.first_id, b.findings.len()))
            .collect();
        assert_eq!(blocks, [(1, 100, 2), (1, 102, 1), (2, 103, 1), (3, 104, 1)]);
        assert_eq!(next, 105);
        let first = &out.blocks[0].findings[0];
        assert_eq!(
            (first.times_seen, first.first_observed, first.last_observed),
            (2, t(at), t(later))
        );
        assert_eq!(out.blocks[2].findings[0].times_seen, 2);
        let merges: Vec<(i64, i64)> = out.merges.iter().map(|m| (m.into, m.org)).collect();
        assert_eq!(merges, [(101, 1), (7, 1)]);
    }
}
