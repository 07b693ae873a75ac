//! The vocabulary of federation: peers, the remote TAXII 2.1 collections the relay pulls from
//! (upstream sources: national feeds, other ISACs) or pushes to (downstream peers), with what
//! may cross each boundary and where each stands. No IO: the `federation` crate moves the
//! objects, the store keeps the peers.

use stix::Timestamp;

use crate::feed::Severity;
use crate::tlp::Tlp;

/// Which way objects go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the peer's collection into a local feed.
    Pull,
    /// From local feeds into the peer's collection.
    Push,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Pull => "pull",
            Direction::Push => "push",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "pull" => Some(Direction::Pull),
            "push" => Some(Direction::Push),
            _ => None,
        }
    }
}

/// How the relay authenticates to a peer. The secrets are needed to call the peer, so the
/// store keeps them as they are (the data directory is the trust boundary, as for the token
/// key); they are never printed, logged or served.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum PeerAuth {
    #[default]
    None,
    Basic {
        user: String,
        password: String,
    },
    Bearer(String),
}

impl std::fmt::Debug for PeerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl PeerAuth {
    /// What kind of credential, never the secret.
    pub fn kind(&self) -> &'static str {
        match self {
            PeerAuth::None => "none",
            PeerAuth::Basic { .. } => "basic",
            PeerAuth::Bearer(_) => "bearer",
        }
    }
}

/// The highest TLP that may ever be pushed out: TLP:AMBER+STRICT is for the poster's
/// organisation and TLP:RED for named recipients, neither for another sharing community.
pub const HIGHEST_PUSHED: Tlp = Tlp::Amber;

/// A peer as the administrator defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPeer {
    pub name: String,
    pub direction: Direction,
    /// The remote API root's URL (ends in `/`).
    pub api_root: String,
    /// The remote collection's id.
    pub collection: String,
    pub auth: PeerAuth,
    /// A PEM file with the client certificate and its key, for peers that ask for one.
    pub client_cert: Option<String>,
    /// Local feeds, by id: for a pull, the one feed objects land in; for a push, the feeds
    /// whose objects are sent.
    pub feeds: Vec<String>,
    /// Pull: the TLP of objects the peer sends unmarked (else the feed's default).
    pub default_tlp: Option<Tlp>,
    /// Push: the highest TLP sent (CLEAR and GREEN by default; never above AMBER).
    pub max_tlp: Tlp,
    /// Push: only objects of these types (none: any).
    pub types: Vec<String>,
    /// Push: only feeds at least this severe.
    pub min_severity: Option<Severity>,
    /// Push: the local organisation the peer posts as, if it also pushes here: what it posted
    /// is not sent back to it.
    pub peer_org: Option<i64>,
    /// How often the peer is polled or pushed to, in seconds.
    pub interval_secs: u64,
}

/// A peer as stored, with where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub id: i64,
    pub spec: NewPeer,
    /// Pull: the remote `added_after` bookmark (the newest `date_added` the peer served);
    /// push: the local `date_added` of the newest object the peer acknowledged.
    pub cursor: Option<Timestamp>,
    pub last_run: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub last_error: Option<String>,
    /// Objects moved since the peer was added.
    pub transferred: u64,
    pub created: Timestamp,
    /// A removed peer is kept, so that what came from it stays attributed and is never pushed
    /// back to its remote.
    pub removed: Option<Timestamp>,
}

impl Peer {
    /// Whether a run is due at `now`.
    pub fn due(&self, now: Timestamp) -> bool {
        self.removed.is_none()
            && self.last_run.is_none_or(|last| {
                now.as_micros() - last.as_micros()
                    >= i64::try_from(self.spec.interval_secs)
                        .unwrap_or(i64::MAX / 1_000_000)
                        .saturating_mul(1_000_000)
            })
    }
}

/// What one step of a run did: the new cursor (after what was durably done), objects moved,
/// and the error that stopped it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerProgress {
    pub at: Timestamp,
    pub cursor: Option<Timestamp>,
    pub transferred: u64,
    pub error: Option<String>,
}

/// The remote end a URL names, for comparing peers: scheme, host, port and path, without a
/// trailing slash, lower-cased host.
pub fn remote_key(api_root: &str) -> String {
    match url::Url::parse(api_root) {
        Ok(u) => format!(
            "{}://{}:{}{}",
            u.scheme(),
            u.host_str().unwrap_or("").to_ascii_lowercase(),
            u.port_or_known_default().unwrap_or(0),
            u.path().trim_end_matches('/')
        ),
        Err(_) => api_root.trim_end_matches('/').to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_remote_however_spelled() {
        assert_eq!(
            remote_key("http://Relay-B.example/taxii2/isac/"),
            remote_key("http://relay-b.example:80/taxii2/isac")
        );
        assert_ne!(
            remote_key("http://relay-b.example/taxii2/isac/"),
            remote_key("http://relay-b.example/taxii2/other/")
        );
    }

    #[test]
    fn secrets_are_not_printed() {
        let a = PeerAuth::Basic {
            user: "u".into(),
            password: "hunter2".into(),
        };
        assert_eq!(format!("{a:?}"), "basic");
    }
}
