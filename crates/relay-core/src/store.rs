//! The one storage trait. SQLite (embedded, the default) and PostgreSQL implement it, and one
//! conformance suite runs against both. Implementations own their SQL; callers never see it.

use async_trait::async_trait;
use stix::Timestamp;
use stix::observable::Observable;

use crate::audit::{AuditEntry, AuditQuery, AuditRecord};
use crate::exchange::{
    AllowEntry, AppliedList, AppliedUpload, AssetKind, ExportScan, ExportSink, ExportVersion,
    OrgAsset,
};
use crate::feed::{Feed, FeedSettings, GranteeName};
use crate::notice::{
    Campaign, Finding, FindingCount, FindingQuery, FindingsAdded, FindingsBatch, NewCampaign,
    SnapshotRange, StatusUpdate, Unpublished, UploadRecord,
};
use crate::org::{NewOrg, Org, TrustGroup};
use crate::policy::Visibility;
use crate::principal::{Principal, Role, UserInfo};
use crate::profile::Profile;
use crate::query::{ObjectPage, ObjectQuery, VersionFilter};
use crate::routing::{RoutingRule, RuleField, RuleMatch};
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
    /// For now: the database is busy, unreachable or out of connections; try again.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// For good: the store was closed (the relay is stopping).
    #[error("the store is closed")]
    Closed,
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
    /// Adds a federation peer; returns its id.
    AddPeer(crate::federation::NewPeer),
    RemovePeer {
        name: String,
    },
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
    /// Changes a feed's settings (by id).
    UpdateFeed {
        feed: String,
        settings: FeedSettings,
    },
    /// Adds a routing rule to the feed `feed` (by id); returns the rule's id.
    AddRule {
        field: RuleField,
        matching: RuleMatch,
        value: String,
        feed: String,
    },
    /// Removes a routing rule; `NotFound` when there is none with that id.
    RemoveRule {
        id: i64,
    },
    /// Sets (or with `None` removes) the consumer profile of an organisation or a token.
    SetProfile {
        owner: ProfileOwner,
        profile: Option<Profile>,
    },
    /// Registers a webhook; returns its id.
    CreateWebhook(NewWebhook),
    /// Stops a webhook; its delivery log stays.
    RemoveWebhook {
        id: i64,
        at: Timestamp,
    },
    /// Replaces a member's applied list for a feed; entries no longer in it are withdrawn.
    ReplaceAppliedList(AppliedUpload),
    /// Withdraws a member's applied list for a feed (by id); `NotFound` when there is none.
    RemoveAppliedList {
        org: i64,
        feed_id: String,
    },
    /// Adds an allowlist entry; returns its id. `Conflict` when it is already listed.
    AddAllowlist {
        kind: AssetKind,
        value: String,
        reason: String,
    },
    /// Removes an allowlist entry; `NotFound` when there is none with that id.
    RemoveAllowlist {
        id: i64,
    },
    /// Creates a campaign with a snapshot of the networks valid at its time; returns its id.
    /// `Conflict` when the name is taken.
    CreateCampaign(NewCampaign),
    /// Records a finished upload of results; returns its id.
    RecordUpload(UploadRecord),
    /// Rebuilds the metrics' coverage and lead-time figures from the first reports; returns
    /// how many reports it went through.
    RecomputeMetrics,
    /// Records that findings were published to the NOTICE feed: new ones up to `through`, and
    /// each of `done` at its version (one changed again since keeps waiting).
    MarkPublished {
        through: i64,
        done: Vec<(i64, u32)>,
    },
    /// Sets findings' status. With `org`, only that organisation's findings are touched;
    /// returns how many changed. (The caller checks the transitions first.)
    UpdateFindings {
        org: Option<i64>,
        updates: Vec<StatusUpdate>,
        at: Timestamp,
    },
    /// Registers an organisation's (by name) own network, AS number or domain, valid over an
    /// optional period; returns its id.
    AddOrgAsset {
        org: String,
        kind: AssetKind,
        value: String,
        valid_from: Option<Timestamp>,
        valid_until: Option<Timestamp>,
    },
    /// Ends an own network or domain registration; `NotFound` when there is no live one.
    RemoveOrgAsset {
        id: i64,
        at: Timestamp,
    },
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

/// Whose consumer profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileOwner {
    /// An organisation, by name.
    Org(String),
    /// A token, by id.
    Token(i64),
}

/// A webhook to register: deliveries of `feed_id` as `user_id` may read it, from `cursor` on.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub user_id: i64,
    pub feed_id: String,
    pub url: String,
    /// The HMAC-SHA256 key deliveries are signed with.
    pub secret: String,
    pub cursor: Timestamp,
}

/// A registered webhook. Not `Serialize`: it holds the signing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub user_name: String,
    pub org_id: i64,
    pub feed_id: String,
    pub url: String,
    pub secret: String,
    /// The `date_added` of the last object delivered.
    pub cursor: Timestamp,
    pub created: Timestamp,
    pub removed: Option<Timestamp>,
}

/// One delivery attempt of a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub webhook: i64,
    pub at: Timestamp,
    /// 1 for the first attempt of a batch, then counting retries.
    pub attempt: u32,
    pub objects: usize,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub delivered: bool,
}

/// An object version as committed, with what deciding who may see it needs: what the live
/// tail hands to streams and webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedObject {
    pub feed_id: String,
    pub id: String,
    pub object_type: String,
    pub date_added: Timestamp,
    pub version: Timestamp,
    pub spec_version: String,
    pub tlp: Tlp,
    pub poster_org: i64,
    pub recipients: Vec<i64>,
    pub confidence: Option<u8>,
    pub corroboration: u32,
    /// The redistributed form.
    pub body: String,
    /// The form as posted, when it differs (anonymous posters).
    pub original_body: Option<String>,
}

/// The organisations that reported one observable; only for the ISAC administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporters {
    pub kind: String,
    pub value: String,
    pub orgs: Vec<String>,
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
    /// The feed (by id) the object is stored in: the one posted to, or where routing sent it.
    pub feed_id: String,
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
    /// The poster's `confidence`, 0-100.
    pub confidence: Option<u8>,
    /// A note for the status resource (where routing sent the object, and why).
    pub note: Option<String>,
    /// An indicator's `revoked`.
    pub revoked: bool,
    /// An indicator's `valid_until`.
    pub valid_until: Option<Timestamp>,
    /// What it adds to the metrics; `None` for objects that count for none (test feeds, the
    /// NOTICE feed).
    pub metrics: Option<crate::metrics::MetricsInput>,
    /// The identifiers it names in reference properties (see `Store::referencing`).
    pub refs: Vec<String>,
    /// The federation peer it was pulled from.
    pub source_peer: Option<i64>,
}

/// A search of the observable index: any of `kinds` with any of `values`, in the given feeds,
/// current versions visible to the caller only, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservableQuery {
    /// The feeds searched, each with what the caller may see in it.
    pub feeds: Vec<(String, Visibility)>,
    pub kinds: Vec<String>,
    pub values: Vec<String>,
    /// Also addresses and networks inside this one: its kind (`ipv4`, `ipv6`) and first and
    /// last address as big-endian bytes (`stix::observable::ip_range`).
    pub within: Option<(String, Vec<u8>, Vec<u8>)>,
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
    /// How many distinct organisations reported an observable the object mentions.
    pub corroboration: u32,
}

/// A POST of objects (each names its feed).
#[derive(Debug, Clone)]
pub struct AddObjects {
    pub owner_user_id: i64,
    pub poster_org: i64,
    pub objects: Vec<NewObject>,
    pub status: StatusDraft,
    /// Committed with the objects; the store adds nothing to it.
    pub audit: AuditEntry,
    /// The regular feeds the poster reads, each with what it may see there: where the objects
    /// a sighting reports by reference are looked up (a reference to anything else reports
    /// nothing), and where an earlier report must be for the relay to have preceded the
    /// poster (metrics' lead times).
    pub read_scope: Vec<(String, crate::policy::Visibility)>,
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
    /// object gets a `date_added` later than every object already stored, in any feed, and
    /// bumps the corroboration of objects mentioning what it mentions.
    async fn add_objects(&self, request: AddObjects) -> Result<Status, StoreError>;

    /// A status resource and the user who posted the request.
    async fn status(&self, id: &str) -> Result<Option<(i64, Status)>, StoreError>;

    /// Objects of the given feeds (each with what the caller may see in it) matching the
    /// query, in `date_added` order (newest first when the query asks). Bodies are the
    /// redistributed form unless the visibility shows the submitter.
    async fn query_objects(
        &self,
        feeds: &[(String, Visibility)],
        query: &ObjectQuery,
    ) -> Result<ObjectPage, StoreError>;

    /// Federation peers, in the order they were added.
    async fn peers(&self) -> Result<Vec<crate::federation::Peer>, StoreError>;
    /// Records a step of a peer's run: its cursor moves (only forward), its counters and last
    /// error are updated.
    async fn record_peer_progress(
        &self,
        peer: i64,
        progress: crate::federation::PeerProgress,
    ) -> Result<(), StoreError>;

    /// Takes or renews the lease on the background job `job` for `holder` until `until`, if it
    /// is free, expired at `now`, or already `holder`'s. Returns whether `holder` holds it, so
    /// that a job runs on one relay node at a time when several share one database.
    async fn lease(
        &self,
        job: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Wakes on commits made by other processes sharing this database (`None`: every commit
    /// is made in this process, which wakes its own waiters).
    fn commit_signal(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }

    /// Current versions, in the given feeds and visible there, of the objects naming `id` in
    /// a reference property (`*_ref`, `*_refs`; not `created_by_ref` or markings), newest
    /// first.
    async fn referencing(
        &self,
        feeds: &[(String, Visibility)],
        id: &str,
        limit: usize,
    ) -> Result<Vec<crate::query::StoredObject>, StoreError>;

    /// Object versions committed after `after`, in every feed, oldest first: the live tail.
    async fn committed_since(
        &self,
        after: Timestamp,
        limit: usize,
    ) -> Result<Vec<CommittedObject>, StoreError>;

    /// The newest `date_added` of any object, if any.
    async fn last_added(&self) -> Result<Option<Timestamp>, StoreError>;

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

    /// Which organisations reported each searched observable.
    async fn reporters(
        &self,
        kinds: &[String],
        values: &[String],
    ) -> Result<Vec<Reporters>, StoreError>;

    async fn list_rules(&self) -> Result<Vec<RoutingRule>, StoreError>;

    /// The profiles of an organisation and of a token (either may be absent).
    async fn profiles(
        &self,
        org_id: i64,
        token_id: i64,
    ) -> Result<(Option<Profile>, Option<Profile>), StoreError>;

    /// Every webhook, removed ones included.
    async fn list_webhooks(&self) -> Result<Vec<Webhook>, StoreError>;
    /// Logs a delivery attempt and, when it delivered, moves the webhook's cursor, together.
    async fn record_delivery(
        &self,
        delivery: Delivery,
        cursor: Option<Timestamp>,
    ) -> Result<(), StoreError>;
    /// A webhook's newest delivery attempts, newest first.
    async fn deliveries(&self, webhook: i64, limit: usize) -> Result<Vec<Delivery>, StoreError>;

    /// Where the export state stands now (see `ExportVersion`).
    async fn export_version(&self, now: Timestamp) -> Result<ExportVersion, StoreError>;
    /// Reads what an export needs in one consistent snapshot: sends the version first, then
    /// every observable's visible sources and applied lists in (kind, value) order. Stops
    /// early, without error, when the receiver goes away.
    async fn export_scan(&self, scan: ExportScan, sink: ExportSink) -> Result<(), StoreError>;
    /// A member's applied list for a feed (by id).
    async fn applied_list(
        &self,
        org: i64,
        feed_id: &str,
    ) -> Result<Option<AppliedList>, StoreError>;
    async fn list_allowlist(&self) -> Result<Vec<AllowEntry>, StoreError>;
    /// Own networks and domains, live ones only, of one organisation or of all.
    async fn org_assets(&self, org: Option<i64>) -> Result<Vec<OrgAsset>, StoreError>;

    /// Every campaign, oldest first.
    async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError>;
    /// One campaign, by name.
    async fn campaign(&self, name: &str) -> Result<Option<Campaign>, StoreError>;
    /// A campaign's range snapshot, in network order.
    async fn campaign_ranges(&self, campaign: i64) -> Result<Vec<SnapshotRange>, StoreError>;
    /// Up to `limit` findings waiting for the NOTICE feed (see `Unpublished`).
    async fn unpublished_findings(&self, limit: usize) -> Result<Unpublished, StoreError>;
    /// The highest finding id used (0: none).
    async fn last_finding_id(&self) -> Result<i64, StoreError>;
    /// Stores routed findings of a campaign in one write: new ones in blocks under their
    /// ids, which must lie above every id stored (else `Conflict`: ids were reserved by
    /// another writer); merges into the stored findings they name, which must be of this
    /// campaign and organisation (else `Conflict`, and nothing is stored).
    async fn add_findings(
        &self,
        campaign: i64,
        batch: FindingsBatch,
    ) -> Result<FindingsAdded, StoreError>;
    /// A page of findings by id.
    async fn findings(&self, query: &FindingQuery) -> Result<Vec<Finding>, StoreError>;
    /// Findings first observed in `[from, to)`, counted by organisation, kind and status.
    async fn finding_counts(
        &self,
        from: Timestamp,
        to: Timestamp,
        org: Option<i64>,
    ) -> Result<Vec<FindingCount>, StoreError>;
    /// Moves the campaign fed by shared objects past the objects it examined.
    async fn set_campaign_cursor(&self, campaign: i64, cursor: Timestamp)
    -> Result<(), StoreError>;
    /// A campaign's upload records, oldest first.
    async fn uploads(&self, campaign: i64) -> Result<Vec<UploadRecord>, StoreError>;

    /// Coverage figures: per organisation and kind, and per pair of organisations and kind.
    async fn metric_coverage(&self) -> Result<crate::metrics::Coverage, StoreError>;
    /// Lead times per organisation (or one) and kind.
    async fn metric_leads(
        &self,
        org: Option<i64>,
    ) -> Result<Vec<crate::metrics::LeadTimes>, StoreError>;
    /// Who first reported an observable where metrics look, and when, earliest first.
    async fn observable_reports(
        &self,
        kind: &str,
        value: &str,
    ) -> Result<Vec<crate::metrics::ObservableReport>, StoreError>;
    /// Each first report of a C2 server or phishing site in `[from, to)`, oldest first, handed
    /// to `each` as it is read (a month may hold millions); returns how many.
    async fn first_reports(
        &self,
        from: Timestamp,
        to: Timestamp,
        each: Box<dyn FnMut(crate::metrics::FirstReport) + Send>,
    ) -> Result<u64, StoreError>;
    /// Object versions stored per feed (by name), for operational metrics.
    async fn feed_sizes(&self) -> Result<Vec<(String, u64)>, StoreError>;
    /// The size of the stored data, in bytes.
    async fn storage_bytes(&self) -> Result<u64, StoreError>;
    /// Writes a consistent copy of everything stored (one snapshot, as of one commit) to the
    /// new file `dest`, while the store goes on serving readers and writers.
    async fn backup(&self, dest: std::path::PathBuf) -> Result<(), StoreError>;

    /// Finishes pending writes and closes the store; later calls fail with `Closed`.
    async fn close(&self);
}
