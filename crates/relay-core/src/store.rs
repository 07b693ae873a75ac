//! The one storage trait. SQLite (embedded, the default) and PostgreSQL implement it, and one
//! conformance suite runs against both. Implementations own their SQL; callers never see it.

use async_trait::async_trait;
use stix::Timestamp;
use stix::observable::Observable;

use crate::feed::Feed;
use crate::principal::Principal;
use crate::query::{ObjectPage, ObjectQuery, VersionFilter};
use crate::status::{Status, StatusDraft};
use crate::token::TokenHash;

/// Storage failures, shaped by what the caller does next. Engine error text stays inside
/// `Internal` and is logged, never shown to a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage failure: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// An API token as administrators see it: never its secret. Not `Serialize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i64,
    pub user_name: String,
    pub name: String,
    pub read_only: bool,
    pub created: Timestamp,
    pub expires: Option<Timestamp>,
    pub revoked: Option<Timestamp>,
}

/// What a new token is.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub user_name: String,
    pub name: String,
    pub hash: TokenHash,
    pub read_only: bool,
    pub expires: Option<Timestamp>,
}

/// A checked object ready to be stored.
#[derive(Debug, Clone)]
pub struct NewObject {
    pub id: String,
    pub object_type: String,
    pub spec_version: String,
    /// `modified`, else `created`. `None` for objects without either (most SCOs): the store
    /// versions them by their `date_added`, and a second post of the same id is a duplicate.
    pub version: Option<Timestamp>,
    /// The object's JSON text, as it will be served.
    pub body: String,
    /// What the object mentions, indexed for search.
    pub observables: Vec<Observable>,
    /// The validator's warnings, kept in the status resource.
    pub warnings: Vec<String>,
}

/// A search of the observable index: any of `kinds` with any of `values`, in the given feeds,
/// current versions only, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservableQuery {
    pub feed_ids: Vec<String>,
    pub kinds: Vec<String>,
    pub values: Vec<String>,
    pub limit: usize,
}

/// One object version that mentions a searched observable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservableHit {
    pub feed_id: String,
    pub object_id: String,
    pub object_type: String,
    pub version: Timestamp,
    pub date_added: Timestamp,
    pub kind: String,
    pub value: String,
}

/// A POST of objects to one feed.
#[derive(Debug, Clone)]
pub struct AddObjects {
    pub feed_id: String,
    pub owner_user_id: i64,
    pub objects: Vec<NewObject>,
    pub status: StatusDraft,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The key under which token hashes are computed; created with the store.
    async fn token_key(&self) -> Result<Vec<u8>, StoreError>;

    /// Creates the administrator `user_name` with one token, unless any user exists. Returns
    /// whether it created them.
    async fn bootstrap_admin(
        &self,
        user_name: &str,
        token_hash: TokenHash,
    ) -> Result<bool, StoreError>;

    /// The principal a live token belongs to (not revoked, not expired at `now`).
    async fn principal_for_token(
        &self,
        token_hash: TokenHash,
        now: Timestamp,
    ) -> Result<Option<Principal>, StoreError>;

    /// Creates a token for an existing user (`NotFound` otherwise); returns its id.
    async fn create_token(&self, token: NewToken) -> Result<i64, StoreError>;
    /// Revokes a token now; `NotFound` when there is no such token, `Conflict` when it was
    /// revoked already.
    async fn revoke_token(&self, id: i64, at: Timestamp) -> Result<(), StoreError>;
    async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;

    /// Creates a feed; `Conflict` when the name is taken.
    async fn create_feed(&self, feed: &Feed) -> Result<(), StoreError>;
    async fn list_feeds(&self) -> Result<Vec<Feed>, StoreError>;
    /// A feed by its collection id or, for legacy clients, its name.
    async fn find_feed(&self, key: &str) -> Result<Option<Feed>, StoreError>;

    /// Stores the objects and the finished status resource in one durable transaction. Each
    /// object gets a `date_added` later than every object already in the feed.
    async fn add_objects(&self, request: AddObjects) -> Result<Status, StoreError>;

    /// A status resource and the user who posted the request.
    async fn status(&self, id: &str) -> Result<Option<(i64, Status)>, StoreError>;

    /// Objects of a feed matching the query, in `date_added` order.
    async fn query_objects(
        &self,
        feed_id: &str,
        query: &ObjectQuery,
    ) -> Result<ObjectPage, StoreError>;

    /// Deletes the matching versions of one object; returns how many were deleted.
    async fn delete_object(
        &self,
        feed_id: &str,
        object_id: &str,
        versions: &VersionFilter,
        spec_versions: &[String],
    ) -> Result<usize, StoreError>;

    /// Current object versions that mention the searched observables.
    async fn search_observables(
        &self,
        query: &ObservableQuery,
    ) -> Result<Vec<ObservableHit>, StoreError>;

    /// Finishes pending writes and closes the store; later calls fail with `Unavailable`.
    async fn close(&self);
}
