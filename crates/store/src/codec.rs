//! The stored form of a block of findings, the same for every storage engine: one postcard
//! value (varints; addresses as 4 or 16 bytes; protocol and kind named once per block; times
//! relative to the block's earliest). Millions of findings become thousands of rows, which is
//! what lets an upload of tens of millions of lines store at the speed it is read.

use std::borrow::Cow;
use std::net::IpAddr;

use relay_core::notice::{FindingBlock, FindingKind};
use relay_core::store::StoreError;
use serde::{Deserialize, Serialize};
use stix::Timestamp;

/// Bumped if the layout ever changes; blocks say which layout they use.
const LAYOUT: u8 = 1;

#[derive(Serialize, Deserialize)]
struct Block<'a> {
    layout: u8,
    /// The earliest first observation, in microseconds; records count from it.
    base: i64,
    #[serde(borrow)]
    kinds: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    #[serde(borrow)]
    findings: Vec<Record<'a>>,
}

/// One finding of a block; its id is the block's first id plus its position.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub ip: IpAddr,
    pub prefix_len: u8,
    pub port: u16,
    /// Index into the block's kinds.
    pub kind: u32,
    /// Microseconds after the block's base.
    first: u64,
    /// Microseconds from the first observation to the last.
    spread: u64,
    pub times_seen: u32,
    #[serde(borrow)]
    pub detail: Option<Cow<'a, str>>,
}

/// A block as read back: borrowed from the stored bytes.
pub struct Decoded<'a> {
    base: i64,
    pub kinds: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub findings: Vec<Record<'a>>,
}

impl Decoded<'_> {
    pub fn first_observed(&self, r: &Record<'_>) -> Timestamp {
        Timestamp::from_micros(self.base.saturating_add_unsigned(r.first))
    }

    pub fn last_observed(&self, r: &Record<'_>) -> Timestamp {
        Timestamp::from_micros(
            self.base
                .saturating_add_unsigned(r.first.saturating_add(r.spread)),
        )
    }

    /// The (protocol, finding) a record names.
    pub fn kind(&self, r: &Record<'_>) -> Result<(&str, &str), StoreError> {
        self.kinds
            .get(r.kind as usize)
            .map(|(p, f)| (p.as_ref(), f.as_ref()))
            .ok_or_else(|| StoreError::Internal("a stored finding names no kind".into()))
    }
}

/// What a block holds besides its bytes: the range of its first observations.
pub struct Encoded {
    pub data: Vec<u8>,
    pub min_first: Timestamp,
    pub max_first: Timestamp,
}

pub fn encode(block: &FindingBlock) -> Result<Encoded, StoreError> {
    let firsts = block.findings.iter().map(|f| f.first_observed.as_micros());
    let base = firsts.clone().min().unwrap_or(0);
    let top = firsts.max().unwrap_or(0);
    // Only the kinds the block uses, renumbered.
    let mut used: Vec<Option<u32>> = vec![None; block.kinds.len()];
    let mut kinds: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    let mut findings = Vec::with_capacity(block.findings.len());
    for f in &block.findings {
        let i = f.kind as usize;
        let FindingKind { protocol, finding } = block
            .kinds
            .get(i)
            .ok_or_else(|| StoreError::Conflict(format!("a finding names kind {i} of none")))?;
        let kind = match used[i] {
            Some(k) => k,
            None => {
                let k = u32::try_from(kinds.len()).unwrap_or(u32::MAX);
                kinds.push((Cow::Borrowed(protocol), Cow::Borrowed(finding)));
                used[i] = Some(k);
                k
            }
        };
        let first = f.first_observed.as_micros();
        findings.push(Record {
            ip: f.ip,
            prefix_len: f.prefix_len,
            port: f.port,
            kind,
            first: first.abs_diff(base),
            spread: u64::try_from(f.last_observed.as_micros().saturating_sub(first)).unwrap_or(0),
            times_seen: f.times_seen.max(1),
            detail: f.detail.as_deref().map(Cow::Borrowed),
        });
    }
    let data = postcard::to_allocvec(&Block {
        layout: LAYOUT,
        base,
        kinds,
        findings,
    })
    .map_err(|e| StoreError::Internal(e.into()))?;
    Ok(Encoded {
        data,
        min_first: Timestamp::from_micros(base),
        max_first: Timestamp::from_micros(top),
    })
}

pub fn decode(data: &[u8]) -> Result<Decoded<'_>, StoreError> {
    let b: Block<'_> = postcard::from_bytes(data)
        .map_err(|e| StoreError::Internal(format!("a stored block of findings: {e}").into()))?;
    if b.layout != LAYOUT {
        return Err(StoreError::Internal(
            format!("a stored block of findings has layout {}", b.layout).into(),
        ));
    }
    Ok(Decoded {
        base: b.base,
        kinds: b.kinds,
        findings: b.findings,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use relay_core::notice::NewFinding;

    use super::*;

    #[test]
    fn blocks_round_trip() {
        let t = |s: &str| Timestamp::parse(s).unwrap();
        let kinds: Arc<[FindingKind]> = vec![
            FindingKind {
                protocol: "tcp".into(),
                finding: "unused".into(),
            },
            FindingKind {
                protocol: "tcp".into(),
                finding: "telnet-login".into(),
            },
            FindingKind {
                protocol: String::new(),
                finding: "c2".into(),
            },
        ]
        .into();
        let block = FindingBlock {
            org: 3,
            first_id: 10,
            kinds,
            findings: vec![
                NewFinding {
                    ip: "198.51.100.7".parse().unwrap(),
                    prefix_len: 24,
                    port: 23,
                    kind: 1,
                    first_observed: t("2026-11-20T10:00:00Z"),
                    last_observed: t("2026-11-21T10:00:00.5Z"),
                    times_seen: 3,
                    detail: Some("banner: BusyBox".into()),
                },
                NewFinding {
                    ip: "2001:db8::1".parse().unwrap(),
                    prefix_len: 32,
                    port: 0,
                    kind: 2,
                    first_observed: t("2026-11-19T00:00:00Z"),
                    last_observed: t("2026-11-19T00:00:00Z"),
                    times_seen: 1,
                    detail: None,
                },
            ],
        };
        let e = encode(&block).unwrap();
        assert_eq!(e.min_first, t("2026-11-19T00:00:00Z"));
        assert_eq!(e.max_first, t("2026-11-20T10:00:00Z"));
        let d = decode(&e.data).unwrap();
        assert_eq!(d.kinds.len(), 2, "only the kinds used are stored");
        let back: Vec<_> = d
            .findings
            .iter()
            .map(|r| {
                let (p, f) = d.kind(r).unwrap();
                (
                    r.ip,
                    r.prefix_len,
                    r.port,
                    p.to_owned(),
                    f.to_owned(),
                    d.first_observed(r),
                    d.last_observed(r),
                    r.times_seen,
                    r.detail.as_deref().map(str::to_owned),
                )
            })
            .collect();
        let want: Vec<_> = block
            .findings
            .iter()
            .map(|f| {
                let k = &block.kinds[f.kind as usize];
                (
                    f.ip,
                    f.prefix_len,
                    f.port,
                    k.protocol.clone(),
                    k.finding.clone(),
                    f.first_observed,
                    f.last_observed,
                    f.times_seen,
                    f.detail.clone(),
                )
            })
            .collect();
        assert_eq!(back, want);
        // Two findings, their kinds and a detail in under 100 bytes: addresses and times
        // are binary, not text.
        assert!(e.data.len() < 100, "{} bytes", e.data.len());
        assert!(decode(&e.data[..e.data.len() - 3]).is_err());
    }
}

/// What changed of a finding after it was stored (`finding_state`), as both engines read it.
#[derive(Debug, Default)]
pub struct FindingState {
    pub seen_more: u32,
    pub first_observed: Option<i64>,
    pub last_observed: Option<i64>,
    pub detail: Option<String>,
    pub status: Option<String>,
    pub status_at: Option<i64>,
    pub status_note: Option<String>,
    pub changes: u32,
}

/// A finding's status: `new` until a state row says otherwise.
pub fn status_of(
    state: Option<&FindingState>,
) -> Result<relay_core::notice::FindingStatus, StoreError> {
    match state.and_then(|s| s.status.as_deref()) {
        None => Ok(relay_core::notice::FindingStatus::New),
        Some(s) => {
            relay_core::notice::FindingStatus::parse(s).map_err(|e| StoreError::Internal(e.into()))
        }
    }
}

/// The network a finding matched: its address cut to the prefix length.
pub fn prefix_text(r: &Record<'_>) -> String {
    ipnet::IpNet::new(r.ip, r.prefix_len)
        .map(|n| n.trunc().to_string())
        .unwrap_or_else(|_| r.ip.to_string())
}

/// Where a stored finding belongs: the block's campaign and organisation.
pub struct BlockOwner<'a> {
    pub campaign: &'a str,
    pub org: i64,
    pub org_name: &'a str,
}

/// A finding as a member sees it: its record in a block, merged with what changed of it since.
pub fn finding(
    id: i64,
    owner: &BlockOwner<'_>,
    block: &Decoded<'_>,
    r: &Record<'_>,
    state: Option<&FindingState>,
    status: relay_core::notice::FindingStatus,
) -> Result<relay_core::notice::Finding, StoreError> {
    let (protocol, finding) = block.kind(r)?;
    let (mut first, mut last) = (block.first_observed(r), block.last_observed(r));
    if let Some(s) = state {
        first = first.min(s.first_observed.map_or(first, Timestamp::from_micros));
        last = last.max(s.last_observed.map_or(last, Timestamp::from_micros));
    }
    Ok(relay_core::notice::Finding {
        id,
        campaign: owner.campaign.to_owned(),
        org: owner.org,
        org_name: owner.org_name.to_owned(),
        prefix: prefix_text(r),
        ip: r.ip.to_string(),
        port: r.port,
        protocol: protocol.to_owned(),
        finding: finding.to_owned(),
        first_observed: first,
        last_observed: last,
        times_seen: r.times_seen + state.map_or(0, |s| s.seen_more),
        detail: state
            .and_then(|s| s.detail.clone())
            .or_else(|| r.detail.as_deref().map(str::to_owned)),
        status,
        status_at: state.and_then(|s| s.status_at).map(Timestamp::from_micros),
        status_note: state.and_then(|s| s.status_note.clone()),
        version: 1 + state.map_or(0, |s| s.changes),
    })
}

/// A federation peer's credentials as stored (a JSON text column in both engines).
pub fn auth_json(a: &relay_core::federation::PeerAuth) -> String {
    use relay_core::federation::PeerAuth;
    match a {
        PeerAuth::None => serde_json::json!({"kind": "none"}),
        PeerAuth::Basic { user, password } => {
            serde_json::json!({"kind": "basic", "user": user, "password": password})
        }
        PeerAuth::Bearer(t) => serde_json::json!({"kind": "bearer", "token": t}),
    }
    .to_string()
}

pub fn auth_from(text: &str) -> relay_core::federation::PeerAuth {
    use relay_core::federation::PeerAuth;
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
    let s = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    match v.get("kind").and_then(serde_json::Value::as_str) {
        Some("basic") => PeerAuth::Basic {
            user: s("user"),
            password: s("password"),
        },
        Some("bearer") => PeerAuth::Bearer(s("token")),
        _ => PeerAuth::None,
    }
}

/// A list of strings stored as a JSON array.
pub fn list_json(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

pub fn list_from(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// Findings first observed in a period, counted by organisation, kind and status, as blocks are
/// read (a month's report never holds the findings themselves).
pub struct FindingTally {
    from: i64,
    to: i64,
    counts:
        std::collections::BTreeMap<(String, i64, String, relay_core::notice::FindingStatus), u64>,
}

impl FindingTally {
    /// Counts findings first observed in `[from, to)`.
    pub fn new(from: Timestamp, to: Timestamp) -> Self {
        Self {
            from: from.as_micros(),
            to: to.as_micros(),
            counts: std::collections::BTreeMap::new(),
        }
    }

    /// Adds a block's findings, with what changed of them (`changed`, by finding id).
    pub fn add(
        &mut self,
        first_id: i64,
        owner: (i64, &str),
        block: &Decoded<'_>,
        changed: &std::collections::HashMap<i64, FindingState>,
    ) -> Result<(), StoreError> {
        let (org, org_name) = owner;
        for (id, r) in (first_id..).zip(&block.findings) {
            let state = changed.get(&id);
            let mut first = block.first_observed(r).as_micros();
            if let Some(earlier) = state.and_then(|s| s.first_observed) {
                first = first.min(earlier);
            }
            if !(self.from..self.to).contains(&first) {
                continue;
            }
            let (_, finding) = block.kind(r)?;
            *self
                .counts
                .entry((
                    org_name.to_owned(),
                    org,
                    finding.to_owned(),
                    status_of(state)?,
                ))
                .or_default() += 1;
        }
        Ok(())
    }

    /// The counts, by organisation name, then kind and status.
    pub fn counts(self) -> Vec<relay_core::notice::FindingCount> {
        self.counts
            .into_iter()
            .map(
                |((org_name, org, finding, status), count)| relay_core::notice::FindingCount {
                    org,
                    org_name,
                    finding,
                    status,
                    count,
                },
            )
            .collect()
    }
}
