//! The services every front end calls. Each public function authorizes through `policy`, does
//! one piece of work against the store, and returns domain values; none knows HTTP or SQL.

use std::sync::Arc;

use serde_json::Value;
use stix::Timestamp;

use crate::error::Error;
use crate::feed::{Feed, NewFeed, check_feed_name};
use crate::policy::{self, FeedRights};
use crate::principal::{Principal, Role};
use crate::query::{Endpoint, ObjectPage, PageLimits, parse_filters};
use crate::status::{Status, StatusDetail, StatusDraft};
use crate::store::{AddObjects, NewObject, ObservableHit, ObservableQuery, Store};
use crate::token::{self, TokenHasher};

/// The name of the administrator account created on first start.
pub const ADMIN_USER: &str = "admin";

#[derive(Debug, Clone, Copy)]
pub struct RelayConfig {
    /// The largest request body accepted, advertised as the API root's `max_content_length`.
    pub max_content_length: usize,
    pub page_limits: PageLimits,
    /// How strictly posted objects are judged.
    pub validation: stix::ValidationOptions,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            max_content_length: 10 * 1024 * 1024,
            page_limits: PageLimits {
                default: 1000,
                max: 10_000,
            },
            validation: stix::ValidationOptions::default(),
        }
    }
}

/// Credentials as a client presented them.
#[derive(Debug, Clone)]
pub enum Credentials {
    Bearer(String),
    Basic { user: String, password: String },
}

/// The answer to a search: what was looked up, and the objects found with their feeds.
#[derive(Debug, Clone)]
pub struct SearchResult {
    pub kinds: Vec<String>,
    pub values: Vec<String>,
    pub hits: Vec<(Feed, ObservableHit)>,
}

#[derive(Clone)]
pub struct Relay {
    store: Arc<dyn Store>,
    hasher: TokenHasher,
    config: RelayConfig,
}

impl Relay {
    pub async fn open(store: Arc<dyn Store>, config: RelayConfig) -> Result<Relay, Error> {
        let key = store.token_key().await?;
        Ok(Relay {
            store,
            hasher: TokenHasher::new(key),
            config,
        })
    }

    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// Creates the administrator on a store that has no users yet. Uses `chosen` as its token
    /// when given (for automation), otherwise a fresh random one. Returns the token when it was
    /// created, so that the caller can show it once; `None` when an administrator existed.
    pub async fn bootstrap_admin(&self, chosen: Option<&str>) -> Result<Option<String>, Error> {
        let token = match chosen {
            Some(t) => {
                token::check_operator_token(t)
                    .map_err(|m| Error::Invalid(format!("ISAC_RELAY_ADMIN_TOKEN: {m}")))?;
                t.to_owned()
            }
            None => token::generate_token(),
        };
        let created = self
            .store
            .bootstrap_admin(ADMIN_USER, self.hasher.hash(&token))
            .await?;
        Ok(created.then_some(token))
    }

    /// Resolves credentials to a principal. Basic authentication takes the user name and the
    /// token as password; the name must be the token's owner.
    pub async fn authenticate(&self, credentials: &Credentials) -> Result<Principal, Error> {
        let (secret, user) = match credentials {
            Credentials::Bearer(t) => (t.as_str(), None),
            Credentials::Basic { user, password } => (password.as_str(), Some(user.as_str())),
        };
        let principal = self
            .store
            .principal_for_token(self.hasher.hash(secret), Timestamp::now())
            .await?
            .ok_or(Error::Unauthenticated)?;
        match user {
            Some(u) if u != principal.user_name => Err(Error::Unauthenticated),
            _ => Ok(principal),
        }
    }

    /// The principal for offline administration on the data directory: whoever can open the
    /// store's files is the ISAC administrator.
    pub fn local_admin() -> Principal {
        Principal {
            user_id: 0,
            user_name: "local".into(),
            role: Role::IsacAdmin,
            token_id: 0,
            read_only: false,
        }
    }

    // ---- tokens ----

    /// Issues a new token for a user; returns its id and the secret, which is shown once and
    /// never stored.
    pub async fn create_token(
        &self,
        who: &Principal,
        user: &str,
        name: &str,
        expires_days: Option<u32>,
        read_only: bool,
    ) -> Result<(i64, String), Error> {
        require_admin(who)?;
        if name.trim().is_empty() || name.len() > 100 {
            return Err(Error::Invalid(
                "a token name has 1 to 100 characters".into(),
            ));
        }
        let expires = match expires_days {
            None => None,
            Some(0) => return Err(Error::Invalid("--expires-days must be at least 1".into())),
            Some(d) => Some(Timestamp::from_micros(
                Timestamp::now().as_micros() + i64::from(d) * 86_400_000_000,
            )),
        };
        let secret = token::generate_token();
        let id = self
            .store
            .create_token(crate::store::NewToken {
                user_name: user.to_owned(),
                name: name.to_owned(),
                hash: self.hasher.hash(&secret),
                read_only,
                expires,
            })
            .await?;
        Ok((id, secret))
    }

    /// Revokes a token at once: its next request is refused.
    pub async fn revoke_token(&self, who: &Principal, id: i64) -> Result<(), Error> {
        require_admin(who)?;
        Ok(self.store.revoke_token(id, Timestamp::now()).await?)
    }

    pub async fn list_tokens(
        &self,
        who: &Principal,
    ) -> Result<Vec<crate::store::TokenInfo>, Error> {
        require_admin(who)?;
        Ok(self.store.list_tokens().await?)
    }

    // ---- feeds ----

    pub async fn add_feed(&self, who: &Principal, new: NewFeed) -> Result<Feed, Error> {
        require_admin(who)?;
        check_feed_name(&new.name).map_err(Error::Invalid)?;
        let feed = Feed {
            id: uuid::Uuid::new_v4().to_string(),
            name: new.name,
            description: new.description,
        };
        self.store.create_feed(&feed).await?;
        Ok(feed)
    }

    /// Creates the feeds a fresh relay ships with, where missing.
    pub async fn ensure_default_feeds(&self) -> Result<(), Error> {
        if self.store.find_feed("TEST").await?.is_none() {
            let test = NewFeed {
                name: "TEST".into(),
                description: Some("For trying things out.".into()),
            };
            match self.add_feed(&Self::local_admin(), test).await {
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
        Ok(self.store.query_objects(&feed.id, &query).await?)
    }

    /// `GET .../objects/{id}/` and `GET .../objects/{id}/versions/`: 404 when the collection
    /// holds no version of the object at all.
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
        let page = self.store.query_objects(&feed.id, &query).await?;
        if page.objects.is_empty() && !self.exists(&feed, object_id).await? {
            return Err(Error::NotFound(format!(
                "no object '{object_id}' in collection '{key}'"
            )));
        }
        Ok(page)
    }

    async fn exists(&self, feed: &Feed, object_id: &str) -> Result<bool, Error> {
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
            .query_objects(&feed.id, &probe)
            .await?
            .objects
            .is_empty())
    }

    /// `DELETE .../objects/{id}/`: removes the matching versions; 404 when none match.
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
        let n = self
            .store
            .delete_object(&feed.id, object_id, &query.versions, &query.spec_versions)
            .await?;
        if n == 0 {
            return Err(Error::NotFound(format!(
                "no matching version of '{object_id}' in collection '{key}'"
            )));
        }
        Ok(())
    }

    /// `POST .../objects/`: checks every object of the envelope, stores the valid ones in one
    /// durable transaction and returns the status resource. Invalid objects are failures in
    /// the status; they do not stop the rest.
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
        // Parsing and checking a large envelope takes milliseconds of CPU: off the async
        // workers, so that other requests keep being served meanwhile.
        let validation = self.config.validation;
        let (draft, objects) = if body.len() <= INLINE_BODY {
            prepare_envelope(body, validation)?
        } else {
            let body = body.to_vec();
            tokio::task::spawn_blocking(move || prepare_envelope(&body, validation))
                .await
                // A panic while checking is a bug: an opaque 500, its cause logged.
                .map_err(|e| Error::Internal(crate::store::StoreError::Internal(Box::new(e))))??
        };
        let status = self
            .store
            .add_objects(AddObjects {
                feed_id: feed.id,
                owner_user_id: who.user_id,
                objects,
                status: draft,
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

    /// The current objects, in the feeds the caller may read, that mention the value `q` (an
    /// address, or a network containing it; a domain, URL, e-mail address, hash, port or AS).
    /// Hits come newest first.
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
            feed_ids: feeds.iter().map(|f| f.id.clone()).collect(),
            kinds: kinds.clone(),
            values: values.clone(),
            limit: limit.unwrap_or(limits.default).clamp(1, limits.max),
        };
        let hits = self.store.search_observables(&query).await?;
        let hits = hits
            .into_iter()
            .filter_map(|h| {
                let feed = feeds.iter().find(|f| f.id == h.feed_id)?.clone();
                Some((feed, h))
            })
            .collect();
        Ok(SearchResult {
            kinds,
            values,
            hits,
        })
    }

    pub async fn list_feeds(&self, who: &Principal) -> Result<Vec<Feed>, Error> {
        Ok(self
            .collections(who)
            .await?
            .into_iter()
            .map(|(f, _)| f)
            .collect())
    }
}

/// Bodies up to this size are checked on the async worker; larger ones on a blocking thread.
const INLINE_BODY: usize = 64 * 1024;

/// Parses an envelope and checks each object: the valid ones ready to store, the invalid ones
/// as failures of the status draft.
fn prepare_envelope(
    body: &[u8],
    validation: stix::ValidationOptions,
) -> Result<(StatusDraft, Vec<NewObject>), Error> {
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
        match stix::check_object_with(&item, validation) {
            Ok(meta) => objects.push(NewObject {
                observables: meta.observables(&item),
                version: meta.version(),
                id: meta.id.as_str().to_owned(),
                object_type: meta.object_type,
                spec_version: meta.spec_version,
                warnings: meta.warnings,
                body: item.to_string(),
            }),
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

fn require_admin(who: &Principal) -> Result<(), Error> {
    match who.role {
        Role::IsacAdmin if !who.read_only => Ok(()),
        Role::IsacAdmin => Err(Error::Forbidden(
            "this needs an ISAC administrator's read-write token".into(),
        )),
    }
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
