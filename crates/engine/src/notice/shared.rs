//! Notifications from what members share: a host inside a member's network named by an
//! indicator (a C2 or other malicious server), by observed data, or by the observed data a
//! sighting points at (a host seen talking to something listed) becomes a finding of the standing campaign `SHARED_CAMPAIGN` for the member that owns
//! the address, by the live registry. Only what that member may itself read is turned into a
//! notification (its feed rights and the object's TLP), so a notification never discloses an
//! object beyond its marking; an organisation is not notified of what it posted.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use relay_core::exchange::AssetKind;
use relay_core::notice::SnapshotRange;
use relay_core::store::CommittedObject;
use relay_core::{Feed, FeedKind, Org, Principal, Role, TrustGroup, policy};
use serde_json::Value;
use stix::Timestamp;
use stix::observable::{Kind, extract};

use super::route::{Route, Router};

/// A host of a member's network that a shared object names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFinding {
    pub org: i64,
    pub ip: IpAddr,
    /// The length of the registered network it lies in.
    pub prefix_len: u8,
    pub finding: &'static str,
    /// The object's version.
    pub observed: Timestamp,
    /// Which object, in which feed.
    pub detail: String,
}

/// The standing campaign that holds notifications derived from shared objects.
pub const SHARED_CAMPAIGN: &str = "shared-objects";

/// What a shared object says a host is.
fn finding_of(object_type: &str) -> Option<&'static str> {
    match object_type {
        "indicator" => Some("listed-malicious-host"),
        "observed-data" => Some("observed-host"),
        "sighting" => Some("sighted-host"),
        _ => None,
    }
}

fn id_list<'a>(o: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    o.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// The objects a shared object points at for its hosts: a sighting's observed data, observed
/// data's referenced SCOs. Resolved from the store before routing (`SharedRouting::findings`
/// takes them).
pub fn references(object_type: &str, body: &Value) -> Vec<String> {
    let key = match object_type {
        "sighting" => "observed_data_refs",
        "observed-data" => "object_refs",
        _ => return Vec::new(),
    };
    id_list(body, key).map(str::to_owned).collect()
}

/// The hosts an object names: its own observables, and those of the objects it refers to
/// (two levels: a sighting's observed data, and that observed data's SCOs).
fn hosts(body: &Value, resolved: &HashMap<String, Value>) -> Vec<stix::observable::Observable> {
    let mut out = extract(body);
    let ty = body.get("type").and_then(Value::as_str).unwrap_or("");
    for r in references(ty, body) {
        if let Some(target) = resolved.get(&r) {
            out.extend(extract(target));
            let tty = target.get("type").and_then(Value::as_str).unwrap_or("");
            for r2 in references(tty, target) {
                if let Some(sco) = resolved.get(&r2) {
                    out.extend(extract(sco));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Everything needed to decide, for one batch, who is notified of what.
pub struct SharedRouting {
    router: Router,
    feeds: HashMap<String, Feed>,
    owners: HashMap<i64, Principal>,
}

impl SharedRouting {
    /// From the live registry (networks valid now), the feeds, organisations and trust groups.
    pub fn new(
        assets: &[relay_core::exchange::OrgAsset],
        feeds: Vec<Feed>,
        orgs: &[Org],
        groups: &[TrustGroup],
        now: Timestamp,
    ) -> SharedRouting {
        let ranges: Vec<SnapshotRange> = assets
            .iter()
            .filter(|a| a.kind == AssetKind::Cidr && a.holds_at(now))
            .map(|a| SnapshotRange {
                net: a.value.clone(),
                org: a.org,
            })
            .collect();
        let owners = orgs
            .iter()
            .map(|o| {
                // The organisation as a reader: what it may read decides what it is told.
                let principal = Principal {
                    user_id: 0,
                    user_name: format!("{} (notifications)", o.name),
                    role: Role::Reader,
                    org_id: o.id,
                    org_name: o.name.clone(),
                    org_kind: o.kind,
                    org_anonymous: o.anonymous,
                    groups: groups
                        .iter()
                        .filter(|g| g.members.contains(&o.name))
                        .map(|g| g.id)
                        .collect(),
                    token_id: 0,
                    read_only: true,
                    source: None,
                    profile: Default::default(),
                };
                (o.id, principal)
            })
            .collect();
        SharedRouting {
            router: Router::new(&ranges),
            feeds: feeds.into_iter().map(|f| (f.id.clone(), f)).collect(),
            owners,
        }
    }

    /// The hosts one committed object names; `resolved` holds the objects it
    /// refers to (see `references`).
    pub fn findings(
        &self,
        o: &CommittedObject,
        resolved: &HashMap<String, Value>,
    ) -> Vec<HostFinding> {
        let Some(finding) = finding_of(&o.object_type) else {
            return Vec::new();
        };
        let Some(feed) = self.feeds.get(&o.feed_id) else {
            return Vec::new();
        };
        // Test data notifies nobody; the NOTICE feed is the relay's own output.
        if feed.kind != FeedKind::Regular {
            return Vec::new();
        }
        let Ok(body) = serde_json::from_str::<Value>(&o.body) else {
            return Vec::new();
        };
        if body.get("revoked").and_then(Value::as_bool) == Some(true) {
            return Vec::new();
        }
        let name = body
            .get("name")
            .or_else(|| body.get("sighting_of_ref"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut out = Vec::new();
        for obs in hosts(&body, resolved) {
            if !matches!(obs.kind, Kind::Ipv4 | Kind::Ipv6) {
                continue;
            }
            // A single host: networks are not one member's host.
            let Some(ip) = host(&obs.value) else { continue };
            let Route::Owner { org, prefix } = self.router.route(ip) else {
                continue;
            };
            if org == o.poster_org {
                continue;
            }
            let Some(owner) = self.owners.get(&org) else {
                continue;
            };
            let visible = policy::feed_rights(owner, feed).read
                && policy::visibility(owner, feed).permits(o.tlp, o.poster_org, &o.recipients);
            if !visible {
                continue;
            }
            let detail = if name.is_empty() {
                format!("{} {} in {}", o.object_type, o.id, feed.name)
            } else {
                format!("{} {} in {}: {name}", o.object_type, o.id, feed.name)
            };
            out.push(HostFinding {
                org,
                ip,
                prefix_len: prefix.prefix_len(),
                finding,
                observed: o.version,
                detail: detail.chars().take(1024).collect(),
            });
        }
        out
    }
}

fn host(value: &str) -> Option<IpAddr> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let net = value.parse::<IpNet>().ok()?;
    (net.prefix_len() == net.max_prefix_len()).then(|| net.addr().to_canonical())
}
