//! Feeds as TAXII collections, their objects, status resources and search. Every read passes
//! the caller's `policy::visibility` to the store, so that what a caller may not see is never
//! loaded, counted or paged over; every read and write is audited.

use std::collections::HashMap;

use serde_json::Value;
use stix::Timestamp;

use super::Relay;
use crate::audit::AuditEntry;
use crate::error::Error;
use crate::feed::{Feed, NewFeed};
use crate::policy::{self, FeedRights};
use crate::principal::Principal;
use crate::query::{Endpoint, ObjectPage, parse_filters};
use crate::status::{Status, StatusDetail, StatusDraft};
use crate::store::{AddObjects, DeleteObject, NewObject, ObservableHit, ObservableQuery};
use crate::tlp::{self, Tlp};

/// The answer to a search: what was looked up, and the objects found with their feeds.
#[derive(Debug, Clone)]
pub struct SearchResult {
    pub kinds: Vec<String>,
    pub values: Vec<String>,
    pub hits: Vec<(Feed, ObservableHit)>,
}

impl Relay {
    /// Creates the feeds a fresh relay ships with, where missing.
    pub async fn ensure_default_feeds(&self) -> Result<(), Error> {
        if self.store.find_feed("TEST").await?.is_none() {
            let test = NewFeed {
                name: "TEST".into(),
                description: Some("For trying things out.".into()),
                default_tlp: Tlp::Green,
            };
            let admin = self.local_admin("relay").await?;
            match self.add_feed(&admin, test).await {
                Ok(_) | Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
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
        if !rights.write || (needs_read && !rights.read) {
            return Err(Error::Forbidden(format!(
                "you may not change collection '{key}'"
            )));
        }
        Ok(feed)
    }

    // ---- objects ----

    /// `GET .../objects/` and `GET .../manifest/`.
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
        let query = parse_filters(params, endpoint, self.config.page_limits)?;
        let visibility = policy::visibility(who, &feed);
        let page = self
            .store
            .query_objects(&feed.id, &query, &visibility)
            .await?;
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
        let visibility = policy::visibility(who, &feed);
        let page = self
            .store
            .query_objects(&feed.id, &query, &visibility)
            .await?;
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
        if page.objects.is_empty() && !self.exists(&feed, object_id, &visibility).await? {
            return Err(Error::NotFound(format!(
                "no object '{object_id}' in collection '{key}'"
            )));
        }
        Ok(page)
    }

    async fn exists(
        &self,
        feed: &Feed,
        object_id: &str,
        visibility: &policy::Visibility,
    ) -> Result<bool, Error> {
        let probe = crate::query::ObjectQuery {
            added_after: None,
            limit: 1,
            ids: vec![object_id.to_owned()],
            types: Vec::new(),
            versions: crate::query::VersionFilter::All,
            spec_versions: Vec::new(),
            with_body: false,
        };
        Ok(!self
            .store
            .query_objects(&feed.id, &probe, visibility)
            .await?
            .objects
            .is_empty())
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
    pub async fn add_objects(
        &self,
        who: &Principal,
        key: &str,
        body: &[u8],
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
        let ingest = Ingest {
            validation: self.config.validation,
            default_tlp: feed.default_tlp,
            orgs_by_identity: orgs.into_iter().map(|o| (o.identity, o.id)).collect(),
            anonymise_as,
        };
        // Parsing and checking a large envelope takes milliseconds of CPU: off the async
        // workers, so that other requests keep being served meanwhile.
        let (draft, objects) = if body.len() <= INLINE_BODY {
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
        audit.ids = objects.iter().map(|o| o.id.clone()).collect();
        let status = self
            .store
            .add_objects(AddObjects {
                feed_id: feed.id,
                owner_user_id: who.user_id,
                poster_org: who.org_id,
                objects,
                status: draft,
                audit,
            })
            .await?;
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
    /// the value `q` (an address, or a network containing it; a domain, URL, e-mail address,
    /// hash, port or AS). Hits come newest first.
    pub async fn search(
        &self,
        who: &Principal,
        q: &str,
        limit: Option<usize>,
    ) -> Result<SearchResult, Error> {
        let (kinds, values) = stix::observable::search_terms(q).map_err(Error::Invalid)?;
        let kinds: Vec<String> = kinds.iter().map(ToString::to_string).collect();
        let feeds: Vec<Feed> = self.list_feeds(who).await?;
        let limits = self.config.page_limits;
        let query = ObservableQuery {
            feeds: feeds
                .iter()
                .map(|f| (f.id.clone(), policy::visibility(who, f)))
                .collect(),
            kinds: kinds.clone(),
            values: values.clone(),
            limit: limit.unwrap_or(limits.default).clamp(1, limits.max),
        };
        let hits = self.store.search_observables(&query).await?;
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

/// What checking a posted object needs to know besides the object.
struct Ingest {
    validation: stix::ValidationOptions,
    default_tlp: Tlp,
    /// Organisations by their identity id, to resolve TLP:RED recipients.
    orgs_by_identity: HashMap<String, i64>,
    /// The ISAC's identity, when the poster's organisation is anonymous.
    anonymise_as: Option<String>,
}

/// Parses an envelope and checks each object: the valid ones ready to store, the invalid ones
/// as failures of the status draft.
fn prepare_envelope(body: &[u8], ingest: &Ingest) -> Result<(StatusDraft, Vec<NewObject>), Error> {
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
    let mut draft = StatusDraft {
        id: uuid::Uuid::new_v4().to_string(),
        request_timestamp: Timestamp::now().to_string(),
        total_count: items.len() as u64,
        failures: Vec::new(),
    };
    let mut objects = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match prepare_object(&item, ingest) {
            Ok(obj) => objects.push(obj),
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
    Ok((draft, objects))
}

/// Checks one object, reads its TLP and recipients, and anonymises it when asked.
fn prepare_object(item: &Value, ingest: &Ingest) -> Result<NewObject, String> {
    let meta = stix::check_object_with(item, ingest.validation).map_err(|e| e.to_string())?;
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
        tlp: marking.tlp.unwrap_or(ingest.default_tlp),
        recipients,
        original_body,
    })
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
