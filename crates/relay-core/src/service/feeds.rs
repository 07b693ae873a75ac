//! The feed catalogue's administration: feed settings and retirement, routing rules,
//! consumer profiles, and who corroborated an observable.

use super::Relay;
use super::admin::{forbidden, require_administrator};
use crate::audit::AuditEntry;
use crate::error::Error;
use crate::feed::{Feed, FeedKind, FeedSettings};
use crate::policy;
use crate::principal::{Principal, Role};
use crate::profile::Profile;
use crate::routing::{RoutingRule, RuleField, RuleMatch};
use crate::store::{Change, ProfileOwner, Reporters};

impl Relay {
    /// Changes a feed's settings, or retires it (`retired: true`) or brings it back.
    pub async fn update_feed(
        &self,
        who: &Principal,
        key: &str,
        settings: FeedSettings,
    ) -> Result<Feed, Error> {
        require_administrator(who, "change feeds")?;
        let feed = self.feed_named(key).await?;
        if settings.is_empty() {
            return Err(Error::Invalid("nothing to change was given".into()));
        }
        if feed.kind == FeedKind::Aggregate && settings.retired == Some(true) {
            return Err(Error::Invalid(format!(
                "'{}' is the aggregate feed and cannot be retired",
                feed.name
            )));
        }
        let detail = format!("{}: {}", feed.name, settings.describe());
        let action = match settings.retired {
            Some(true) => "feed.retire",
            _ => "feed.update",
        };
        self.apply(
            Change::UpdateFeed {
                feed: feed.id.clone(),
                settings,
            },
            AuditEntry::by(who, action).feed(&feed.name).detail(detail),
        )
        .await?;
        self.feed_named(&feed.id).await
    }

    // ---- routing rules ----

    pub async fn routing_rules(&self, who: &Principal) -> Result<Vec<RoutingRule>, Error> {
        if who.role == Role::Reader && !who.is_isac_admin() {
            return Err(forbidden("read the routing rules"));
        }
        Ok(self.store.list_rules().await?)
    }

    /// Adds a rule: objects posted to an inbox whose `field` matches `value` go to `feed`.
    pub async fn add_rule(
        &self,
        who: &Principal,
        field: RuleField,
        matching: RuleMatch,
        value: &str,
        feed: &str,
    ) -> Result<RoutingRule, Error> {
        require_administrator(who, "add routing rules")?;
        let value = value.trim();
        if value.is_empty() || value.len() > 256 {
            return Err(Error::Invalid(
                "a rule's value must be 1 to 256 characters".into(),
            ));
        }
        let target = self.feed_named(feed).await?;
        if target.kind == FeedKind::Aggregate {
            return Err(Error::Invalid(format!(
                "'{}' is the aggregate feed; a rule must name a feed that holds objects",
                target.name
            )));
        }
        let id = self
            .apply(
                Change::AddRule {
                    field,
                    matching,
                    value: value.to_owned(),
                    feed: target.id.clone(),
                },
                AuditEntry::by(who, "routing.add")
                    .feed(&target.name)
                    .detail(format!(
                        "{} {} '{value}'",
                        field.as_str(),
                        matching.as_str()
                    )),
            )
            .await?;
        Ok(RoutingRule {
            id,
            field,
            matching,
            value: value.to_owned(),
            feed: target.name,
        })
    }

    pub async fn remove_rule(&self, who: &Principal, id: i64) -> Result<(), Error> {
        require_administrator(who, "remove routing rules")?;
        self.apply(
            Change::RemoveRule { id },
            AuditEntry::by(who, "routing.remove").detail(format!("rule {id}")),
        )
        .await?;
        Ok(())
    }

    // ---- consumer profiles ----

    /// Checks that the caller may see or set the profile of `owner`: the ISAC administrator
    /// any, an organisation's administrator its own organisation's and its tokens'.
    /// (`policy::administers_org` to read, `policy::can_manage_accounts` to change.)
    async fn may_manage_profile(
        &self,
        who: &Principal,
        owner: &ProfileOwner,
        change: bool,
    ) -> Result<(), Error> {
        let org_name = match owner {
            ProfileOwner::Org(name) => Some(name.clone()),
            ProfileOwner::Token(id) => self
                .store
                .list_tokens()
                .await?
                .into_iter()
                .find(|t| t.id == *id)
                .map(|t| t.org),
        };
        let org_id = match org_name {
            Some(name) => Some(
                self.store
                    .find_org(&name)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("no organisation '{name}'")))?
                    .id,
            ),
            None => None,
        };
        // A token that does not exist belongs to nobody: only the ISAC administrator gets as
        // far as being told so.
        let allowed = match (org_id, change) {
            (Some(id), true) => policy::can_manage_accounts(who, id),
            (Some(id), false) => policy::administers_org(who, id),
            (None, _) => who.is_isac_admin(),
        };
        if allowed {
            Ok(())
        } else {
            Err(forbidden("manage that profile"))
        }
    }

    /// The profile set on an organisation or a token, if any.
    pub async fn profile(
        &self,
        who: &Principal,
        owner: &ProfileOwner,
    ) -> Result<Option<Profile>, Error> {
        self.may_manage_profile(who, owner, false).await?;
        let (org_id, token_id) = match owner {
            ProfileOwner::Org(name) => {
                let org = self
                    .store
                    .find_org(name)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("no organisation '{name}'")))?;
                (org.id, 0)
            }
            ProfileOwner::Token(id) => (0, *id),
        };
        let (by_org, by_token) = self.store.profiles(org_id, token_id).await?;
        Ok(match owner {
            ProfileOwner::Org(_) => by_org,
            ProfileOwner::Token(_) => by_token,
        })
    }

    /// Sets (or with `None` removes) a profile; it applies from the caller's next request.
    pub async fn set_profile(
        &self,
        who: &Principal,
        owner: ProfileOwner,
        profile: Option<Profile>,
    ) -> Result<(), Error> {
        self.may_manage_profile(who, &owner, true).await?;
        if let Some(p) = &profile {
            p.check(&self.store.list_feeds().await?)
                .map_err(Error::Invalid)?;
        }
        let target = match &owner {
            ProfileOwner::Org(n) => format!("organisation {n}"),
            ProfileOwner::Token(id) => format!("token {id}"),
        };
        let detail = match &profile {
            Some(p) => format!("{target}: {}", serde_json::to_string(p).unwrap_or_default()),
            None => format!("{target}: removed"),
        };
        self.apply(
            Change::SetProfile { owner, profile },
            AuditEntry::by(who, "profile.set").detail(detail),
        )
        .await?;
        Ok(())
    }

    // ---- corroboration ----

    /// Which organisations reported an observable: for the ISAC administrator only, since
    /// members must not learn who else reported what.
    pub async fn reporters(&self, who: &Principal, q: &str) -> Result<Vec<Reporters>, Error> {
        if !who.is_isac_admin() {
            return Err(forbidden("see who reported an observable"));
        }
        let (kinds, values) = stix::observable::search_terms(q).map_err(Error::Invalid)?;
        let kinds: Vec<String> = kinds.iter().map(ToString::to_string).collect();
        let found = self.store.reporters(&kinds, &values).await?;
        self.note(
            AuditEntry::by(who, "reporters.read")
                .count(found.len())
                .detail(q),
        )
        .await;
        Ok(found)
    }
}
