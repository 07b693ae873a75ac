//! Who is calling: the principal a token or password resolves to, with the organisation and
//! trust groups that decide what it may read. Every access decision goes through `policy`,
//! never through these fields directly.

use crate::org::OrgKind;

/// A role a user holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Runs the ISAC: every feed, every object, every account. Only users of the operator
    /// organisation hold it.
    IsacAdmin,
    /// Manages the users and tokens of its own organisation; reads and writes like an analyst.
    OrgAdmin,
    /// Reads and writes the feeds its organisation may.
    Analyst,
    /// Reads the feeds its organisation may; never writes.
    Reader,
    /// A scanning organisation's account in owner-routing campaigns: downloads a campaign's
    /// aggregated range list and uploads its results, and reaches nothing else of anyone.
    Scanner,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::IsacAdmin,
        Role::OrgAdmin,
        Role::Analyst,
        Role::Reader,
        Role::Scanner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::IsacAdmin => "isac-admin",
            Role::OrgAdmin => "org-admin",
            Role::Analyst => "analyst",
            Role::Reader => "reader",
            Role::Scanner => "scanner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn names() -> String {
        Role::ALL.map(Role::as_str).join(", ")
    }

    /// Whether the role may post and delete objects at all (the feed's grant decides where).
    pub fn writes(self) -> bool {
        !matches!(self, Role::Reader | Role::Scanner)
    }
}

/// An authenticated caller. Deliberately not `Serialize`: it is never sent to anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub user_name: String,
    pub role: Role,
    pub org_id: i64,
    pub org_name: String,
    pub org_kind: OrgKind,
    /// Whether the organisation's posts are redistributed without its identity.
    pub org_anonymous: bool,
    /// The trust groups the organisation belongs to.
    pub groups: Vec<i64>,
    /// The token used, or 0 for a password or the local command line.
    pub token_id: i64,
    /// A read-only token may never write, whatever the user's rights.
    pub read_only: bool,
    /// Where the request came from (a client address), for the audit log.
    pub source: Option<String>,
    /// What the caller consumes: its token's profile, else its organisation's (set when the
    /// caller is authenticated).
    pub profile: crate::profile::Profile,
}

/// Where a request came from, as the transport saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The client's address (behind a reverse proxy, the proxy's).
    pub address: Option<String>,
    /// The SHA-256 fingerprint (lower-case hex) of the certificate the client presented on a
    /// TLS connection, once verified against the configured client CA.
    pub client_cert: Option<String>,
}

impl Origin {
    pub fn from_address(address: Option<String>) -> Origin {
        Origin {
            address,
            client_cert: None,
        }
    }
}

impl Principal {
    pub fn is_isac_admin(&self) -> bool {
        self.role == Role::IsacAdmin
    }

    /// What rate limits count against: the token, or for a password login the user.
    pub fn credential_key(&self) -> i64 {
        if self.token_id != 0 {
            self.token_id
        } else {
            -self.user_id
        }
    }
}

/// A user as administrators see it. Not `Serialize`; the password hash never leaves the store
/// except to be verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub id: i64,
    pub name: String,
    pub org: String,
    pub role: Role,
    pub has_password: bool,
    pub created: stix::Timestamp,
}
