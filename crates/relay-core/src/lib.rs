//! The relay's vocabulary (feeds, principals, tokens, TAXII queries and status resources), the
//! `Store` trait every storage engine implements, the one authorization policy, and the services
//! that every front end (TAXII, CLI, later the web UI) calls.
//!
//! Nothing here knows HTTP or SQL: handlers translate requests into service calls, and stores
//! translate the trait into their engine's statements.

pub mod error;
pub mod feed;
pub mod policy;
pub mod principal;
pub mod query;
pub mod service;
pub mod status;
pub mod store;
pub mod token;

pub use error::Error;
pub use feed::{Feed, NewFeed};
pub use principal::{Principal, Role};
pub use query::{ObjectPage, ObjectQuery, StoredObject, VersionFilter};
pub use service::{Relay, RelayConfig};
pub use status::{Status, StatusDetail};
pub use store::{
    NewObject, NewToken, ObservableHit, ObservableQuery, Store, StoreError, TokenInfo,
};
