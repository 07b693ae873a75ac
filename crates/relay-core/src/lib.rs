//! The relay's vocabulary (feeds, principals, tokens, TAXII queries and status resources), the
//! `Store` trait every storage engine implements, the one authorization policy, and the services
//! that every front end (TAXII, CLI, later the web UI) calls.
//!
//! Nothing here knows HTTP or SQL: handlers translate requests into service calls, and stores
//! translate the trait into their engine's statements.

pub mod audit;
pub mod bounds;
pub mod catalogue;
pub mod corroboration;
pub mod error;
pub mod exchange;
pub mod federation;
pub mod feed;
pub mod limits;
pub mod metrics;
pub mod notice;
pub mod org;
pub mod password;
pub mod policy;
pub mod principal;
pub mod profile;
pub mod query;
pub mod register;
pub mod routing;
pub mod service;
pub mod status;
pub mod store;
pub mod throttle;
pub mod tlp;
pub mod token;

pub use audit::{AuditEntry, AuditQuery, AuditRecord};
pub use error::Error;
pub use feed::{
    Feed, FeedKind, FeedSettings, Grant, Grantee, GranteeName, NewFeed, Severity, Volume,
};
pub use org::{NewOrg, Org, OrgKind, Sector, TrustGroup};
pub use principal::{Origin, Principal, Role, UserInfo};
pub use query::{ObjectPage, ObjectQuery, StoredObject, VersionFilter};
pub use service::{Operations, Relay, RelayConfig, RetryConfig};
pub use status::{Status, StatusDetail};
pub use store::{
    Change, DeleteObject, Login, NewObject, NewToken, ObservableHit, ObservableQuery, Store,
    StoreError, TokenInfo,
};
pub use tlp::Tlp;
