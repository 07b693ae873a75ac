//! Federation peers as services: defining them (ISAC administrators), taking in what a pulled
//! peer sent (through the TAXII write path: the same validation, TLP and routing as any post,
//! with the peer recorded as the source and its default TLP for unmarked objects), choosing
//! what may be pushed to a peer (by TLP, never above AMBER; by type and severity; never the
//! NOTICE feed; never what came from that peer), and recording each peer's progress.

use stix::Timestamp;

use super::Relay;
use super::admin::require_administrator;
use super::objects::Origin;
use crate::audit::AuditEntry;
use crate::error::Error;
use crate::federation::{Direction, HIGHEST_PUSHED, NewPeer, Peer, PeerProgress, remote_key};
use crate::feed::FeedKind;
use crate::org::check_name;
use crate::policy::Visibility;
use crate::principal::Principal;
use crate::query::ObjectQuery;
use crate::status::Status;
use crate::store::Change;
use crate::tlp::Tlp;

/// A batch for a push: the objects' JSON texts, and the local `date_added` the peer's cursor
/// moves to once they are acknowledged (past what was withheld too).
#[derive(Debug, Clone, Default)]
pub struct Outbound {
    pub bodies: Vec<String>,
    pub through: Option<Timestamp>,
    pub more: bool,
    /// Objects the query found but that never leave (identities).
    pub withheld: usize,
}

/// The object's text, with its TLP marking added when it carries none: the peer must not apply
/// its own default to what is marked here.
fn with_marking(body: String, tlp: Tlp) -> String {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&body) else {
        return body;
    };
    if crate::tlp::read_marking(&v)
        .ok()
        .and_then(|m| m.tlp)
        .is_some()
    {
        return body;
    }
    let marking = serde_json::Value::String(tlp.marking_ref().to_owned());
    match v
        .get_mut("object_marking_refs")
        .and_then(|r| r.as_array_mut())
    {
        Some(refs) => refs.push(marking),
        None => v["object_marking_refs"] = serde_json::Value::Array(vec![marking]),
    }
    v.to_string()
}

/// The shortest interval between two runs of a peer.
pub const MIN_INTERVAL_SECS: u64 = 10;

impl Relay {
    /// Adds a peer. Its feeds may be named by name or id; they are stored by id. `peer_org`
    /// names the local organisation the peer posts as (it replaces `spec.peer_org`).
    pub async fn add_peer(
        &self,
        who: &Principal,
        mut spec: NewPeer,
        peer_org: Option<&str>,
    ) -> Result<Peer, Error> {
        require_administrator(who, "define federation peers")?;
        spec.peer_org = match peer_org {
            Some(name) => Some(
                self.store
                    .find_org(name)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("no organisation '{name}'")))?
                    .id,
            ),
            None => None,
        };
        check_name("peer", &spec.name).map_err(Error::Invalid)?;
        let url = url::Url::parse(&spec.api_root)
            .map_err(|e| Error::Invalid(format!("API root '{}': {e}", spec.api_root)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Invalid(format!(
                "API root '{}': http or https only",
                spec.api_root
            )));
        }
        // The URL is shown and audited: credentials go in their own fields.
        if !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(Error::Invalid(
                "the API root is a plain URL: no user, password, query or fragment (credentials \
                 go in their own fields)"
                    .into(),
            ));
        }
        if !spec.api_root.ends_with('/') {
            spec.api_root.push('/');
        }
        if spec.collection.trim().is_empty() {
            return Err(Error::Invalid(
                "a peer needs its remote collection's id".into(),
            ));
        }
        if spec.interval_secs < MIN_INTERVAL_SECS {
            return Err(Error::Invalid(format!(
                "the interval is at least {MIN_INTERVAL_SECS} seconds"
            )));
        }
        let mut ids = Vec::new();
        for key in &spec.feeds {
            let feed = self.feed_named(key).await?;
            match (spec.direction, feed.kind) {
                (_, FeedKind::Notice) => {
                    return Err(Error::Invalid(format!(
                        "'{}' holds notifications for members alone and takes part in no federation",
                        feed.name
                    )));
                }
                (_, FeedKind::Aggregate) => {
                    return Err(Error::Invalid(format!(
                        "'{}' is an aggregate: name the feeds themselves",
                        feed.name
                    )));
                }
                _ => {}
            }
            ids.push(feed.id);
        }
        match spec.direction {
            Direction::Pull if ids.len() != 1 => {
                return Err(Error::Invalid(
                    "a pulled peer lands its objects in exactly one feed".into(),
                ));
            }
            Direction::Push if ids.is_empty() => {
                return Err(Error::Invalid("name the feeds pushed to the peer".into()));
            }
            _ => {}
        }
        spec.feeds = ids;
        if spec.max_tlp > HIGHEST_PUSHED {
            return Err(Error::Invalid(format!(
                "{} never leaves the ISAC: the highest TLP pushed is {}",
                spec.max_tlp.as_str(),
                HIGHEST_PUSHED.as_str()
            )));
        }
        if spec.default_tlp == Some(Tlp::Red) {
            return Err(Error::Invalid(
                "TLP:RED names its recipients; it cannot be a default".into(),
            ));
        }
        let detail = format!(
            "{} {} {} collection={} auth={}",
            spec.name,
            spec.direction.as_str(),
            spec.api_root,
            spec.collection,
            spec.auth.kind()
        );
        let name = spec.name.clone();
        self.apply(
            Change::AddPeer(spec),
            AuditEntry::by(who, "peer.add").detail(detail),
        )
        .await?;
        self.peer_named(&name).await
    }

    pub async fn remove_peer(&self, who: &Principal, name: &str) -> Result<(), Error> {
        require_administrator(who, "remove federation peers")?;
        self.apply(
            Change::RemovePeer {
                name: name.to_owned(),
            },
            AuditEntry::by(who, "peer.remove").detail(name),
        )
        .await?;
        Ok(())
    }

    /// The peers and where each stands (ISAC administrators).
    pub async fn peers(&self, who: &Principal) -> Result<Vec<Peer>, Error> {
        require_administrator(who, "see federation peers")?;
        self.all_peers().await
    }

    /// A peer, for the relay's own federation jobs.
    pub async fn peer_named(&self, name: &str) -> Result<Peer, Error> {
        self.all_peers()
            .await?
            .into_iter()
            .find(|p| p.spec.name == name)
            .ok_or_else(|| Error::NotFound(format!("no peer '{name}'")))
    }

    /// Every peer not removed, for the relay's own federation jobs.
    pub async fn all_peers(&self) -> Result<Vec<Peer>, Error> {
        Ok(self
            .store
            .peers()
            .await?
            .into_iter()
            .filter(|p| p.removed.is_none())
            .collect())
    }

    /// Stores an envelope a pulled peer sent, in the peer's feed, as the ISAC (the peer is the
    /// recorded source; the audit log names it).
    pub async fn ingest_from_peer(&self, peer: &Peer, envelope: &[u8]) -> Result<Status, Error> {
        if peer.spec.direction != Direction::Pull {
            return Err(Error::Invalid(format!(
                "'{}' is not pulled from",
                peer.spec.name
            )));
        }
        let feed = peer
            .spec
            .feeds
            .first()
            .ok_or_else(|| Error::Invalid(format!("'{}' has no feed", peer.spec.name)))?;
        let who = self
            .local_admin(&format!("peer {}", peer.spec.name))
            .await?;
        self.add_objects_from(
            &who,
            feed,
            envelope,
            Origin {
                source_peer: Some(peer.id),
                default_tlp: peer.spec.default_tlp,
            },
        )
        .await
    }

    /// What may be pushed to a peer after the local `date_added` `after`, oldest first, ready
    /// to send: every version in its feeds (those at least as severe as it asks), up to its TLP
    /// (never above AMBER; objects pulled from elsewhere up to GREEN, since AMBER given to this
    /// community is not passed on to another), of its types; never what came from that remote
    /// (removed peers included), what the peer's organisation posted here, what anonymous
    /// members posted, or identity objects (who the members are is the ISAC's to say). An
    /// object stored without a TLP marking is sent with the TLP it has here.
    pub async fn outbound(
        &self,
        peer: &Peer,
        after: Option<Timestamp>,
        limit: usize,
    ) -> Result<Outbound, Error> {
        let spec = &peer.spec;
        let visibility = Visibility {
            everything: false,
            open_up_to: Some(spec.max_tlp.min(HIGHEST_PUSHED)),
            // No organisation: its own objects or TLP:RED naming it would be visible.
            org: i64::MIN,
        };
        let feeds: Vec<(String, Visibility)> = self
            .store
            .list_feeds()
            .await?
            .into_iter()
            .filter(|f| {
                spec.feeds.contains(&f.id)
                    && matches!(f.kind, FeedKind::Regular | FeedKind::Test)
                    && spec.min_severity.is_none_or(|s| f.severity >= s)
            })
            .map(|f| (f.id, visibility.clone()))
            .collect();
        if feeds.is_empty() {
            return Ok(Outbound::default());
        }
        let here = remote_key(&spec.api_root);
        let same_remote: Vec<i64> = self
            .store
            .peers()
            .await?
            .into_iter()
            .filter(|p| remote_key(&p.spec.api_root) == here)
            .map(|p| p.id)
            .collect();
        let mut posters: Vec<i64> = self
            .store
            .list_orgs()
            .await?
            .into_iter()
            .filter(|o| o.anonymous)
            .map(|o| o.id)
            .collect();
        posters.extend(spec.peer_org);
        let query = ObjectQuery {
            types: spec.types.clone(),
            exclude_sources: same_remote,
            exclude_posters: posters,
            pulled_up_to: Some(Tlp::Green),
            ..ObjectQuery::all_versions(after, limit)
        };
        let page = self.store.query_objects(&feeds, &query).await?;
        let mut out = Outbound {
            through: page.objects.last().map(|o| o.date_added),
            more: page.more,
            ..Outbound::default()
        };
        for o in page.objects {
            let Some(body) = o.body.filter(|_| !o.id.starts_with("identity--")) else {
                out.withheld += 1;
                continue;
            };
            out.bodies.push(with_marking(body, o.tlp));
        }
        Ok(out)
    }

    /// Records a step of a peer's run.
    pub async fn record_peer_progress(
        &self,
        peer: &Peer,
        progress: PeerProgress,
    ) -> Result<(), Error> {
        Ok(self.store.record_peer_progress(peer.id, progress).await?)
    }
}
