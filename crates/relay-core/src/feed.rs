//! Feeds: what the ISAC carries, grouped by purpose. Each feed is served as one TAXII
//! collection.

/// A feed as stored. `id` is the TAXII collection id (a UUID); `name` is its title, which
/// legacy clients also use to address it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

/// What an administrator gives to create a feed.
#[derive(Debug, Clone)]
pub struct NewFeed {
    pub name: String,
    pub description: Option<String>,
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
