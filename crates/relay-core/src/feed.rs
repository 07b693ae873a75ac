//! Feeds: what the ISAC carries, grouped by purpose. Each feed is served as one TAXII
//! collection, and is read and written by the organisations and trust groups granted to it.

use crate::tlp::Tlp;

/// Who a grant is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    Org { id: i64, name: String },
    Group { id: i64, name: String },
}

impl Grantee {
    pub fn kind(&self) -> &'static str {
        match self {
            Grantee::Org { .. } => "org",
            Grantee::Group { .. } => "group",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Grantee::Org { name, .. } | Grantee::Group { name, .. } => name,
        }
    }
}

/// A grantee named by an administrator, before it is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GranteeName {
    Org(String),
    Group(String),
}

/// Rights on one feed given to an organisation or a trust group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub grantee: Grantee,
    pub read: bool,
    pub write: bool,
}

/// A feed as stored. `id` is the TAXII collection id (a UUID); `name` is its title, which
/// legacy clients also use to address it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The TLP of an object posted without one.
    pub default_tlp: Tlp,
    pub grants: Vec<Grant>,
}

/// What an administrator gives to create a feed.
#[derive(Debug, Clone)]
pub struct NewFeed {
    pub name: String,
    pub description: Option<String>,
    pub default_tlp: Tlp,
}

/// Feed names are short identifiers (`C2`, `BKMW_CONFIG`), so that posters can name them in a
/// title and readers can name them in a URL.
pub fn check_feed_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "feed name '{name}' must be 1-64 characters of letters, digits, '_', '-' or '.'"
        ))
    }
}
