//! The one storage trait. SQLite (embedded, the default) and PostgreSQL implement it, and one
//! conformance suite runs against both. Implementations own their SQL; callers never see it.

use async_trait::async_trait;
use stix::Timestamp;
use stix::observable::Observable;

use crate::audit::{AuditEntry, AuditQuery, AuditRecord};
use crate::feed::{Feed, GranteeName};
use crate::org::{NewOrg, Org, TrustGroup};
use crate::policy::Visibility;
use crate::principal::{Principal, Role, UserInfo};
use crate::query::{ObjectPage, ObjectQuery, VersionFilter};
use crate::status::{Status, StatusDraft};
use crate::tlp::Tlp;
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
    pub org: String,
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

/// A change to accounts, organisations, trust groups, feeds or rights. Every change reaches the
/// store through `Store::apply` together with its audit entry, and both are committed in one
/// transaction: no change without its entry.
#[derive(Debug, Clone)]
pub enum Change {
    CreateOrg {
        org: NewOrg,
        identity: String,
    },
    UpdateOrg {
        name: String,
        anonymous: Option<bool>,
        contacts: Option<Vec<String>>,
    },
    CreateUser {
        org: String,
        name: String,
        role: Role,
        password_hash: Option<String>,
    },
    SetPassword {
        user: String,
        password_hash: String,
    },
    CreateToken(NewToken),
    RevokeToken {
        id: i64,
        at: Timestamp,
    },
    CreateGroup {
        name: String,
    },
    AddMember {
        group: String,
        org: String,
    },
    RemoveMember {
        group: String,
        org: String,
    },
    CreateFeed(Feed),
    /// Sets the rights of a grantee on a feed (by id), replacing earlier ones.
    Grant {
        feed: String,
        grantee: GranteeName,
        read: bool,
        write: bool,
    },
    /// Removes a grantee's rights on a feed; `NotFound` when it had none.
    Ungrant {
        feed: String,
        grantee: GranteeName,
    },
}

/// A user with what a password login needs. Not `Serialize`.
#[derive(Debug, Clone)]
pub struct Login {
    pub principal: Principal,
    pub password_hash: Option<String>,
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
    /// The object's TLP: its marking, else the feed's default.
    pub tlp: Tlp,
    /// For TLP:RED, the organisations the poster named.
    pub recipients: Vec<i64>,
    /// When the poster is anonymous, `body` is the redistributed form and this the original,
    /// kept for the poster and the ISAC administrator.
    pub original_body: Option<String>,
}

/// A search of the observable index: any of `kinds` with any of `values`, in the given feeds,
/// current versions visible to the caller only, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservableQuery {
    /// The feeds searched, each with what the caller may see in it.
    pub feeds: Vec<(String, Visibility)>,
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
    pub poster_org: i64,
    pub objects: Vec<NewObject>,
    pub status: StatusDraft,
    /// Committed with the objects; the store adds nothing to it.
    pub audit: AuditEntry,
}

/// A DELETE of one object's versions.
#[derive(Debug, Clone)]
pub struct DeleteObject {
    pub feed_id: String,
    pub object_id: String,
    pub versions: VersionFilter,
    pub spec_versions: Vec<String>,
    /// Only versions this organisation posted; `None`: any.
    pub poster_org: Option<i64>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The key under which token hashes are computed; created with the store.
    async fn token_key(&self) -> Result<Vec<u8>, StoreError>;

    /// Creates the administrator `user_name`, in the operator organisation, with one token,
    /// unless any user exists. Returns whether it created them.
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

    /// Carries out a change and appends its audit entry, in one transaction. Returns the id of
    /// what was created (0 for changes that create nothing). `NotFound` names what is missing,
    /// `Conflict` what already exists; either way nothing is changed.
    async fn apply(&self, change: Change, audit: AuditEntry) -> Result<i64, StoreError>;

    async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;
    async fn list_orgs(&self) -> Result<Vec<Org>, StoreError>;
    async fn find_org(&self, name: &str) -> Result<Option<Org>, StoreError>;
    async fn list_users(&self) -> Result<Vec<UserInfo>, StoreError>;
    /// A user, for a password login and for checks on who manages whom.
    async fn login(&self, user_name: &str) -> Result<Option<Login>, StoreError>;
    async fn list_groups(&self) -> Result<Vec<TrustGroup>, StoreError>;

    async fn list_feeds(&self) -> Result<Vec<Feed>, StoreError>;
    /// A feed by its collection id or, for legacy clients, its name.
    async fn find_feed(&self, key: &str) -> Result<Option<Feed>, StoreError>;

    /// Appends an audit entry without waiting for it to be durable (it is committed with the
    /// writer's next group). For reads and refused logins, whose answer must not wait on disk.
    async fn record(&self, audit: AuditEntry) -> Result<(), StoreError>;
    /// Audit entries, oldest first.
    async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;

    /// Stores the objects and the finished status resource in one durable transaction. Each
    /// object gets a `date_added` later than every object already in the feed.
    async fn add_objects(&self, request: AddObjects) -> Result<Status, StoreError>;

    /// A status resource and the user who posted the request.
    async fn status(&self, id: &str) -> Result<Option<(i64, Status)>, StoreError>;

    /// Objects of a feed matching the query and visible under `visibility`, in `date_added`
    /// order. Bodies are the redistributed form unless the visibility shows the submitter.
    async fn query_objects(
        &self,
        feed_id: &str,
        query: &ObjectQuery,
        visibility: &Visibility,
    ) -> Result<ObjectPage, StoreError>;

    /// Deletes the matching versions of one object (only those posted by `poster_org` when
    /// given) and appends the audit entry, in one transaction; returns how many were deleted.
    async fn delete_object(
        &self,
        request: DeleteObject,
        audit: AuditEntry,
    ) -> Result<usize, StoreError>;

    /// Current object versions that mention the searched observables.
    async fn search_observables(
        &self,
        query: &ObservableQuery,
    ) -> Result<Vec<ObservableHit>, StoreError>;

    /// Finishes pending writes and closes the store; later calls fail with `Unavailable`.
    async fn close(&self);
}
