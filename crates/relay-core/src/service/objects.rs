//! Feeds as TAXII collections, their objects, status resources and search. Every read passes
//! the caller's `policy::visibility` to the store, so that what a caller may not see is never
//! loaded, counted or paged over; every read and write is audited.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use stix::Timestamp;

use super::Relay;
use crate::audit::AuditEntry;
use crate::error::Error;
use crate::feed::{Feed, FeedKind, Severity};
use crate::limits::Counter;
use crate::policy::{self, FeedRights, Visibility};
use crate::principal::Principal;
use crate::profile::Profile;
use crate::query::{Endpoint, ObjectPage, ObjectQuery, parse_filters};
use crate::routing::{Routing, RoutingRule};
use crate::status::{Status, StatusDetail, StatusDraft};
use crate::store::{AddObjects, DeleteObject, NewObject, ObservableHit, ObservableQuery};
use crate::tlp;

/// The answer to a search: what was looked up, and the objects found with their feeds.
#[derive(Debug, Clone)]
pub struct SearchResult {
    pub kinds: Vec<String>,
    pub values: Vec<String>,
    pub hits: Vec<(Feed, ObservableHit)>,
}

impl Relay {
    /// Creates the catalogue's feeds (`crate::catalogue`) where missing, so that a fresh
    /// relay ships them. A feed an administrator changed or retired is left as it is.
    pub async fn ensure_default_feeds(&self) -> Result<(), Error> {
        let existing = self.store.list_feeds().await?;
        let mut admin = None;
        for new in crate::catalogue::shipped_feeds() {
            if existing.iter().any(|f| f.name == new.name) {
                continue;
            }
            if admin.is_none() {
                admin = Some(self.local_admin("relay").await?);
            }
            if let Some(a) = &admin {
                match self.add_feed(a, new).await {
                    Ok(_) | Err(Error::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// The feeds a read of `feed` covers: the feed itself, or for the aggregate every regular
    /// feed the caller may read; with a profile, only those it wants.
    pub(super) async fn scope(
        &self,
        who: &Principal,
        feed: &Feed,
        profile: Option<&Profile>,
    ) -> Result<Vec<Feed>, Error> {
        let wanted = |f: &Feed| profile.is_none_or(|p| p.wants_feed(f));
        if feed.kind != FeedKind::Aggregate {
            return Ok(if wanted(feed) {
                vec![feed.clone()]
            } else {
                Vec::new()
            });
        }
        Ok(self
            .store
            .list_feeds()
            .await?
            .into_iter()
            .filter(|f| f.in_aggregate() && policy::feed_rights(who, f).read && wanted(f))
            .collect())
    }

    /// Feeds the caller may read, with the caller's rights on each.
    pub async fn collections(&self, who: &Principal) -> Result<Vec<(Feed, FeedRights)>, Error> {
        Ok(self
            .store
            .list_feeds()
            .await?
            .into_iter()
            .filter_map(|f| {
                let rights = policy::feed_rights(who, &f);
                rights.read.then_some((f, rights))
            })
            .collect())
    }

    pub async fn list_feeds(&self, who: &Principal) -> Result<Vec<Feed>, Error> {
        Ok(self
            .collections(who)
            .await?
            .into_iter()
            .map(|(f, _)| f)
            .collect())
    }

    /// One feed the caller may read. A feed it may not read is reported as missing, so that
    /// its existence does not leak.
    /// (The aggregate feed is readable by everyone: it serves what the caller may read.)
    pub async fn collection(
        &self,
        who: &Principal,
        key: &str,
    ) -> Result<(Feed, FeedRights), Error> {
        let not_found = || Error::NotFound(format!("no collection '{key}'"));
        let feed = self.store.find_feed(key).await?.ok_or_else(not_found)?;
        let rights = policy::feed_rights(who, &feed);
        if !rights.read {
            return Err(not_found());
        }
        Ok((feed, rights))
    }

    /// A feed the caller may write to (and, for DELETE, also read). TAXII 2.1 section 5.7: no
    /// rights at all is 404, so that the feed's existence does not leak; partial rights are 403.
    async fn writable(&self, who: &Principal, key: &str, needs_read: bool) -> Result<Feed, Error> {
        let not_found = || Error::NotFound(format!("no collection '{key}'"));
        let feed = self.store.find_feed(key).await?.ok_or_else(not_found)?;
        let rights = policy::feed_rights(who, &feed);
        if !rights.read && !rights.write {
            return Err(not_found());
        }
        if feed.retired {
            return Err(Error::Forbidden(format!(
                "collection '{key}' is retired and takes no new objects"
            )));
        }
        if !rights.write || (needs_read && !rights.read) {
            return Err(Error::Forbidden(format!(
                "you may not change collection '{key}'"
            )));
        }
        Ok(feed)
    }

    // ---- objects ----

    /// `GET .../objects/` and `GET .../manifest/`, through the caller's consumer profile: only
    /// the feeds, severities, types and confidence it wants, and when it caps its volume, the
    /// most severe and freshest objects up to the cap.
    pub async fn objects(
        &self,
        who: &Principal,
        key: &str,
        params: &[(String, String)],
        manifest: bool,
    ) -> Result<ObjectPage, Error> {
        let (feed, _) = self.collection(who, key).await?;
        let endpoint = if manifest {
            Endpoint::Manifest
        } else {
            Endpoint::Objects
        };
        let mut query = parse_filters(params, endpoint, self.config.page_limits)?;
        let profile = &who.profile;
        let feeds = self.scope(who, &feed, Some(profile)).await?;
        let page = if feeds.is_empty() || !apply_profile(&mut query, profile) {
            ObjectPage::default()
        } else if profile.caps() {
            let mut cap = profile
                .max_per_poll
                .map_or(usize::MAX, |n| n as usize)
                .min(query.limit);
            if let Some(per_day) = profile.max_per_day {
                let left = u64::from(per_day)
                    .saturating_sub(self.limits.served_today(&Counter::Org(who.org_id)));
                cap = cap.min(usize::try_from(left).unwrap_or(usize::MAX));
            }
            self.ranked(who, &feeds, &query, cap).await?
        } else {
            self.store
                .query_objects(&visibilities(who, &feeds), &query)
                .await?
        };
        if !manifest {
            self.limits
                .add_served(Counter::Org(who.org_id), page.objects.len());
            self.limits
                .add_served(Counter::Token(who.credential_key()), page.objects.len());
        }
        let action = if manifest {
            "manifest.read"
        } else {
            "objects.read"
        };
        self.note(
            AuditEntry::by(who, action)
                .feed(&feed.name)
                .count(page.objects.len()),
        )
        .await;
        Ok(page)
    }

    /// `GET .../objects/{id}/` and `GET .../objects/{id}/versions/`: 404 when the collection
    /// holds no version of the object that the caller may see.
    pub async fn object(
        &self,
        who: &Principal,
        key: &str,
        object_id: &str,
        params: &[(String, String)],
        versions: bool,
    ) -> Result<ObjectPage, Error> {
        let (feed, _) = self.collection(who, key).await?;
        check_object_id(object_id)?;
        let endpoint = if versions {
            Endpoint::Versions
        } else {
            Endpoint::Object
        };
        let mut query = parse_filters(params, endpoint, self.config.page_limits)?;
        query.ids = vec![object_id.to_owned()];
        let feeds = visibilities(who, &self.scope(who, &feed, None).await?);
        let page = self.store.query_objects(&feeds, &query).await?;
        let action = if versions {
            "versions.read"
        } else {
            "object.read"
        };
        self.note(
            AuditEntry::by(who, action)
                .feed(&feed.name)
                .count(page.objects.len())
                .detail(object_id),
        )
        .await;
        if page.objects.is_empty() && !self.exists(&feeds, object_id).await? {
            return Err(Error::NotFound(format!(
                "no object '{object_id}' in collection '{key}'"
            )));
        }
        Ok(page)
    }

    async fn exists(&self, feeds: &[(String, Visibility)], object_id: &str) -> Result<bool, Error> {
        let probe = ObjectQuery {
            ids: vec![object_id.to_owned()],
            with_body: false,
            ..ObjectQuery::all_versions(None, 1)
        };
        Ok(!self
            .store
            .query_objects(feeds, &probe)
            .await?
            .objects
            .is_empty())
    }

    /// A capped poll: the most severe feeds first and, within a severity, the freshest
    /// objects, up to `cap`; served in `date_added` order. `considered_through` tells the
    /// client where the next poll starts, past what this one passed over.
    async fn ranked(
        &self,
        who: &Principal,
        feeds: &[Feed],
        query: &ObjectQuery,
        cap: usize,
    ) -> Result<ObjectPage, Error> {
        let mut chosen = Vec::new();
        let mut newest: Option<stix::Timestamp> = None;
        for severity in Severity::ALL {
            let level: Vec<Feed> = feeds
                .iter()
                .filter(|f| f.severity == severity)
                .cloned()
                .collect();
            if level.is_empty() {
                continue;
            }
            let remaining = cap.saturating_sub(chosen.len());
            let mut q = query.clone();
            q.newest_first = true;
            // One row even when the cap is reached: the newest tells where this poll ends.
            q.limit = remaining.max(1);
            let page = self
                .store
                .query_objects(&visibilities(who, &level), &q)
                .await?;
            if let Some(first) = page.objects.first() {
                newest = newest.max(Some(first.date_added));
            }
            chosen.extend(page.objects.into_iter().take(remaining));
        }
        chosen.sort_by_key(|o| o.date_added);
        Ok(ObjectPage {
            objects: chosen,
            more: false,
            considered_through: if cap == 0 { None } else { newest },
        })
    }

    /// `DELETE .../objects/{id}/`: removes the matching versions the caller's organisation
    /// posted (any, for the ISAC administrator); 404 when none match.
    pub async fn delete_object(
        &self,
        who: &Principal,
        key: &str,
        object_id: &str,
        params: &[(String, String)],
    ) -> Result<(), Error> {
        let feed = self.writable(who, key, true).await?;
        check_object_id(object_id)?;
        let query = parse_filters(params, Endpoint::Delete, self.config.page_limits)?;
        let mut audit = AuditEntry::by(who, "object.delete").feed(&feed.name);
        audit.ids = vec![object_id.to_owned()];
        let n = self
            .store
            .delete_object(
                DeleteObject {
                    feed_id: feed.id,
                    object_id: object_id.to_owned(),
                    versions: query.versions,
                    spec_versions: query.spec_versions,
                    poster_org: policy::deletable_poster(who),
                },
                audit,
            )
            .await?;
        if n == 0 {
            return Err(Error::NotFound(format!(
                "no matching version of '{object_id}' in collection '{key}' that you may delete"
            )));
        }
        Ok(())
    }

    /// `POST .../objects/`: checks every object of the envelope, stores the valid ones in one
    /// durable transaction (with the audit entry) and returns the status resource. Invalid
    /// objects are failures in the status; they do not stop the rest.
    ///
    /// Posted to an inbox (the aggregate `Default`, or a feed marked as one), each object goes
    /// to the feed its title or a routing rule names; the status tells each object's feed and
    /// why. An object nothing routes is refused (in an inbox feed of its own, it stays there).
    pub async fn add_objects(
        &self,
        who: &Principal,
        key: &str,
        body: &[u8],
    ) -> Result<Status, Error> {
        self.add_objects_from(who, key, body, Origin::default())
            .await
    }

    /// `add_objects`, for objects a federation peer delivered.
    pub(super) async fn add_objects_from(
        &self,
        who: &Principal,
        key: &str,
        body: &[u8],
        origin: Origin,
    ) -> Result<Status, Error> {
        let feed = self.writable(who, key, false).await?;
        if body.len() > self.config.max_content_length {
            return Err(Error::TooLarge {
                limit: self.config.max_content_length,
            });
        }
        // Organisations are needed only to anonymise or to resolve TLP:RED recipients; most
        // posts do neither, and skip the read. (An extension key spelled with JSON escapes is
        // missed here; its recipients then do not resolve and the object is refused, never
        // shown to anyone.)
        let names_recipients =
            memchr::memmem::find(body, tlp::RECIPIENTS_EXTENSION.as_bytes()).is_some();
        let orgs = if who.org_anonymous || names_recipients {
            self.store.list_orgs().await?
        } else {
            Vec::new()
        };
        let anonymise_as = if who.org_anonymous {
            orgs.iter()
                .find(|o| o.kind == crate::org::OrgKind::Operator)
                .map(|o| o.identity.clone())
        } else {
            None
        };
        // The feeds, read once: where routing may send objects, and where the poster reads
        // (metrics); a post to a test feed needs neither.
        let feeds = if feed.routes() || feed.kind == FeedKind::Regular {
            self.store.list_feeds().await?
        } else {
            Vec::new()
        };
        let destination = if feed.routes() {
            let writable = feeds
                .iter()
                .filter(|f| policy::feed_rights(who, f).write)
                .map(|f| f.id.clone())
                .collect();
            Destination::Routed {
                feeds: feeds.clone(),
                rules: self.store.list_rules().await?,
                writable,
                inbox: (feed.kind != FeedKind::Aggregate).then(|| feed.clone()),
            }
        } else {
            Destination::Feed(feed.clone())
        };
        let ingest = Ingest {
            validation: self.config.validation,
            bounds: self.config.bounds,
            destination,
            orgs_by_identity: orgs.into_iter().map(|o| (o.identity, o.id)).collect(),
            anonymise_as,
            origin,
        };
        // Parsing and checking a large envelope takes milliseconds of CPU: off the async
        // workers, so that other requests keep being served meanwhile.
        let Prepared {
            draft,
            objects,
            per_feed,
        } = if body.len() <= INLINE_BODY {
            prepare_envelope(body, &ingest)?
        } else {
            let body = body.to_vec();
            tokio::task::spawn_blocking(move || prepare_envelope(&body, &ingest))
                .await
                // A panic while checking is a bug: an opaque 500, its cause logged.
                .map_err(|e| Error::Internal(crate::store::StoreError::Internal(Box::new(e))))??
        };
        let mut audit = AuditEntry::by(who, "objects.add")
            .feed(&feed.name)
            .count(objects.len());
        if feed.routes() {
            let routed: Vec<String> = per_feed.iter().map(|(f, n)| format!("{f}={n}")).collect();
            audit = audit.detail(format!(
                "routed: {}; refused: {}",
                if routed.is_empty() {
                    "nothing".to_owned()
                } else {
                    routed.join(" ")
                },
                draft.failures.len()
            ));
        }
        audit.ids = objects.iter().map(|o| o.id.clone()).collect();
        let stored = !objects.is_empty();
        // What the poster reads: a sighting reports what it refers to only there, and the
        // relay "had" an observable before the poster reported it only if it had it there.
        let counted = objects.iter().any(|o| o.metrics.is_some());
        let read_scope = if counted {
            feeds
                .iter()
                .filter(|f| f.kind == FeedKind::Regular && policy::feed_rights(who, f).read)
                .map(|f| (f.id.clone(), policy::visibility(who, f)))
                .collect()
        } else {
            Vec::new()
        };
        let status = self
            .store
            .add_objects(AddObjects {
                owner_user_id: who.user_id,
                poster_org: who.org_id,
                objects,
                status: draft,
                audit,
                read_scope,
            })
            .await?;
        if stored {
            self.push.wake();
        }
        Ok(status)
    }

    /// `GET .../status/{id}/`, for the poster and the ISAC admin.
    pub async fn status(&self, who: &Principal, id: &str) -> Result<Status, Error> {
        let not_found = || Error::NotFound(format!("no status '{id}'"));
        let (owner, status) = self.store.status(id).await?.ok_or_else(not_found)?;
        if !policy::can_see_status(who, owner) {
            return Err(not_found());
        }
        Ok(status)
    }

    /// The current objects, in the feeds the caller may read and visible to it, that mention
    /// the value `q` (an address, or a network containing it, or for a network also the
    /// addresses and networks inside it; a domain, URL, e-mail address, hash, port or AS).
    /// Hits come newest first.
    pub async fn search(
        &self,
        who: &Principal,
        q: &str,
        limit: Option<usize>,
        by_corroboration: bool,
    ) -> Result<SearchResult, Error> {
        let (kinds, values) = stix::observable::search_terms(q).map_err(Error::Invalid)?;
        let kinds: Vec<String> = kinds.iter().map(ToString::to_string).collect();
        let feeds: Vec<Feed> = self
            .list_feeds(who)
            .await?
            .into_iter()
            .filter(|f| f.kind != FeedKind::Aggregate)
            .collect();
        let limits = self.config.page_limits;
        let query = ObservableQuery {
            feeds: feeds
                .iter()
                .map(|f| (f.id.clone(), policy::visibility(who, f)))
                .collect(),
            kinds: kinds.clone(),
            values: values.clone(),
            // A network also finds the addresses and smaller networks inside it.
            within: stix::observable::normalize_ip(q)
                .filter(|(_, v)| v.contains('/'))
                .and_then(|(_, v)| stix::observable::ip_range(&v))
                .map(|(k, lo, hi)| (k.to_string(), lo, hi)),
            limit: limit.unwrap_or(limits.default).clamp(1, limits.max),
        };
        let mut hits = self.store.search_observables(&query).await?;
        if by_corroboration {
            // Stable: within one count, newest first as the store returned them.
            hits.sort_by_key(|h| std::cmp::Reverse(h.corroboration));
        }
        let hits: Vec<(Feed, ObservableHit)> = hits
            .into_iter()
            .filter_map(|h| {
                let feed = feeds.iter().find(|f| f.id == h.feed_id)?.clone();
                Some((feed, h))
            })
            .collect();
        self.note(AuditEntry::by(who, "search").count(hits.len()).detail(q))
            .await;
        Ok(SearchResult {
            kinds,
            values,
            hits,
        })
    }
}

/// Bodies up to this size are checked on the async worker; larger ones on a blocking thread.
const INLINE_BODY: usize = 64 * 1024;

/// The feeds a caller's read covers, each with what the caller may see in it.
pub(super) fn visibilities(who: &Principal, feeds: &[Feed]) -> Vec<(String, Visibility)> {
    feeds
        .iter()
        .map(|f| (f.id.clone(), policy::visibility(who, f)))
        .collect()
}

/// Narrows a query by the profile's types and confidence; `false` when nothing can match.
pub(super) fn apply_profile(query: &mut ObjectQuery, profile: &Profile) -> bool {
    if !profile.types.is_empty() {
        if query.types.is_empty() {
            query.types = profile.types.clone();
        } else {
            query.types.retain(|t| profile.types.contains(t));
            if query.types.is_empty() {
                return false;
            }
        }
    }
    query.min_confidence = profile.min_confidence;
    true
}

/// Where posted objects go.
enum Destination {
    /// All into this feed.
    Feed(Feed),
    /// Each where routing sends it.
    Routed {
        feeds: Vec<Feed>,
        rules: Vec<RoutingRule>,
        /// Ids of the feeds the poster may write to.
        writable: Vec<String>,
        /// Where unrouted objects stay: the inbox feed posted to (none for the aggregate).
        inbox: Option<Feed>,
    },
}

/// What checking a posted object needs to know besides the object.
struct Ingest {
    validation: stix::ValidationOptions,
    bounds: crate::bounds::Bounds,
    destination: Destination,
    /// Organisations by their identity id, to resolve TLP:RED recipients.
    orgs_by_identity: HashMap<String, i64>,
    /// The ISAC's identity, when the poster's organisation is anonymous.
    anonymise_as: Option<String>,
    /// Where the objects came from, when not from the poster itself.
    origin: Origin,
}

/// Where posted objects came from, when a federation peer delivered them.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Origin {
    /// The peer that delivered them.
    pub source_peer: Option<i64>,
    /// The TLP of objects it sent unmarked (else the feed's default).
    pub default_tlp: Option<crate::tlp::Tlp>,
}

/// An envelope, checked and routed.
struct Prepared {
    draft: StatusDraft,
    objects: Vec<NewObject>,
    /// How many objects go to each feed, by name.
    per_feed: BTreeMap<String, usize>,
}

/// What a post of an envelope would store and refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeCheck {
    /// Objects in the envelope.
    pub total: usize,
    /// Objects that would be stored, by feed name.
    pub stored: BTreeMap<String, usize>,
    /// Refused objects' messages, each naming its place in the envelope (`objects[i]: ...`).
    pub refused: Vec<String>,
}

/// Reads and checks an envelope exactly as a post to the shipped aggregate feed does (routing
/// by title to the shipped feeds, every one writable), storing nothing. Pure: for the fuzz
/// target of envelopes and its corpus replay, which assert that every object is either
/// stored or refused by its index, and that nothing panics.
pub fn check_envelope(
    body: &[u8],
    validation: stix::ValidationOptions,
    bounds: crate::bounds::Bounds,
) -> Result<EnvelopeCheck, Error> {
    let feeds: Vec<Feed> = crate::catalogue::shipped_feeds()
        .into_iter()
        .map(|f| Feed {
            id: uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, f.name.as_bytes()).to_string(),
            name: f.name,
            description: f.description,
            default_tlp: f.default_tlp,
            severity: f.severity,
            volume: f.volume,
            kind: f.kind,
            inbox: f.inbox,
            retired: false,
            grants: Vec::new(),
        })
        .collect();
    let ingest = Ingest {
        validation,
        bounds,
        destination: Destination::Routed {
            writable: feeds.iter().map(|f| f.id.clone()).collect(),
            feeds,
            rules: Vec::new(),
            inbox: None,
        },
        orgs_by_identity: HashMap::new(),
        anonymise_as: None,
        origin: Origin::default(),
    };
    let prepared = prepare_envelope(body, &ingest)?;
    Ok(EnvelopeCheck {
        total: prepared.draft.total_count as usize,
        stored: prepared.per_feed,
        refused: prepared
            .draft
            .failures
            .into_iter()
            .filter_map(|f| f.message)
            .collect(),
    })
}

/// Parses an envelope, routes and checks each object: the valid ones ready to store, the
/// invalid or unroutable ones as failures of the status draft.
fn prepare_envelope(body: &[u8], ingest: &Ingest) -> Result<Prepared, Error> {
    let envelope: Value = serde_json::from_slice(body)
        .map_err(|e| Error::Invalid(format!("the request body is not valid JSON: {e}")))?;
    let items = match envelope {
        Value::Object(mut map) => match map.remove("objects") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(Error::Invalid(
                    "the envelope's 'objects' must be a JSON array".into(),
                ));
            }
        },
        _ => {
            return Err(Error::Invalid(
                "the request body must be a TAXII envelope: a JSON object with an 'objects' array"
                    .into(),
            ));
        }
    };
    if items.len() > ingest.bounds.max_objects {
        return Err(Error::TooMany(format!(
            "the envelope holds {} objects; this relay takes at most {} in one request",
            items.len(),
            ingest.bounds.max_objects
        )));
    }
    let mut draft = StatusDraft {
        id: uuid::Uuid::new_v4().to_string(),
        request_timestamp: Timestamp::now().to_string(),
        total_count: items.len() as u64,
        failures: Vec::new(),
    };
    let mut objects = Vec::with_capacity(items.len());
    let mut per_feed = BTreeMap::new();
    let targets: Vec<Result<(&Feed, Option<String>), String>> = match &ingest.destination {
        Destination::Feed(f) => items.iter().map(|_| Ok((f, None))).collect(),
        Destination::Routed {
            feeds,
            rules,
            writable,
            inbox,
        } => {
            let routing = Routing::new(feeds, rules);
            routing
                .route_envelope(&items)
                .into_iter()
                .map(|route| match (route, inbox) {
                    (Some(r), _) => {
                        let f = feeds
                            .iter()
                            .find(|f| f.name == r.feed)
                            .ok_or_else(|| routing.refusal())?;
                        if writable.contains(&f.id) {
                            Ok((f, Some(r.reason)))
                        } else {
                            Err(format!("{}, which you may not write to", r.reason))
                        }
                    }
                    (None, Some(inbox)) => Ok((inbox, None)),
                    (None, None) => Err(routing.refusal()),
                })
                .collect()
        }
    };
    for ((i, item), target) in items.into_iter().enumerate().zip(targets) {
        let prepared = target.and_then(|(feed, note)| {
            let obj = prepare_object(&item, ingest, feed, note)?;
            Ok((feed, obj))
        });
        match prepared {
            Ok((feed, obj)) => {
                *per_feed.entry(feed.name.clone()).or_insert(0) += 1;
                objects.push(obj);
            }
            Err(e) => draft.failures.push(StatusDetail {
                id: str_prop(&item, "id"),
                version: ["modified", "created"]
                    .into_iter()
                    .map(|p| str_prop(&item, p))
                    .find(|v| !v.is_empty())
                    .unwrap_or_default(),
                message: Some(format!("objects[{i}]: {e}")),
            }),
        }
    }
    Ok(Prepared {
        draft,
        objects,
        per_feed,
    })
}

/// Checks one object bound for `feed`, reads its TLP, recipients and confidence, drops a
/// corroboration count the poster set, and anonymises it when asked.
fn prepare_object(
    item: &Value,
    ingest: &Ingest,
    feed: &Feed,
    note: Option<String>,
) -> Result<NewObject, String> {
    ingest.bounds.check_object(item)?;
    let mut meta = stix::check_object_with(item, ingest.validation).map_err(|e| e.to_string())?;
    let mut owned;
    let mut item = item;
    if item.get(crate::corroboration::PROPERTY).is_some() {
        owned = item.clone();
        if let Some(map) = owned.as_object_mut() {
            map.remove(crate::corroboration::PROPERTY);
        }
        meta.warnings.push(format!(
            "{} is set by the relay; the posted value was dropped",
            crate::corroboration::PROPERTY
        ));
        item = &owned;
    }
    let marking = tlp::read_marking(item)?;
    let recipients = marking
        .recipients
        .iter()
        .map(|id| {
            ingest.orgs_by_identity.get(id).copied().ok_or_else(|| {
                format!(
                    "TLP:RED recipient {id} is not the identity of an organisation of this ISAC"
                )
            })
        })
        .collect::<Result<Vec<i64>, String>>()?;
    let original = item.to_string();
    let (body, original_body) = match (&ingest.anonymise_as, item.get("created_by_ref")) {
        (Some(isac), Some(_)) => {
            let mut public = item.clone();
            public["created_by_ref"] = Value::String(isac.clone());
            (public.to_string(), Some(original))
        }
        _ => (original, None),
    };
    Ok(NewObject {
        observables: meta.observables(item),
        version: meta.version(),
        id: meta.id.as_str().to_owned(),
        object_type: meta.object_type,
        spec_version: meta.spec_version,
        warnings: meta.warnings,
        body,
        tlp: marking
            .tlp
            .or(ingest.origin.default_tlp)
            .unwrap_or(feed.default_tlp),
        recipients,
        original_body,
        confidence: item
            .get("confidence")
            .and_then(Value::as_u64)
            .and_then(|c| u8::try_from(c).ok()),
        feed_id: feed.id.clone(),
        note,
        revoked: item.get("revoked").and_then(Value::as_bool) == Some(true),
        valid_until: item
            .get("valid_until")
            .and_then(Value::as_str)
            .and_then(|t| Timestamp::parse(t).ok()),
        metrics: (feed.kind == crate::FeedKind::Regular)
            .then(|| crate::metrics::MetricsInput::of(item, &feed.name)),
        refs: references(item),
        source_peer: ingest.origin.source_peer,
    })
}

/// The identifiers an object names in its top-level reference properties, for the index of
/// what refers to what. `created_by_ref` and `object_marking_refs` are left out: nearly every
/// object names one of a few identities and markings. (Migration 0009 applies the same rule.)
pub fn references(item: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let Some(map) = item.as_object() else {
        return out;
    };
    for (key, value) in map {
        if key.ends_with("_ref") && key != "created_by_ref" {
            if let Some(id) = value.as_str() {
                out.push(id.to_owned());
            }
        } else if key.ends_with("_refs") && key != "object_marking_refs" {
            out.extend(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned),
            );
        }
    }
    out.sort();
    out.dedup();
    out
}

fn check_object_id(id: &str) -> Result<(), Error> {
    stix::StixId::parse(id)
        .map(|_| ())
        .map_err(|e| Error::Invalid(format!("invalid object id: {e}")))
}

fn str_prop(v: &Value, name: &str) -> String {
    v.get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
