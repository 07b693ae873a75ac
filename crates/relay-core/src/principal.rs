//! Who is calling: the principal a token resolves to. Organisations and trust groups join it
//! in a later step; every access decision goes through `policy`, never through these fields
//! directly.

/// A role a user holds. Only the ISAC administrator exists so far; member roles (organisation
/// admin, analyst, reader) arrive with organisations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    IsacAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::IsacAdmin => "isac-admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "isac-admin" => Some(Role::IsacAdmin),
            _ => None,
        }
    }
}

/// An authenticated caller. Deliberately not `Serialize`: it is never sent to anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub user_name: String,
    pub role: Role,
    pub token_id: i64,
    /// A read-only token may never write, whatever the user's rights.
    pub read_only: bool,
}
