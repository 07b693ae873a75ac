//! Administration: organisations, users, tokens, trust groups, feeds and grants, and the audit
//! log. The command line and the admin HTTP API both call these; each checks its rights through
//! `policy` and commits its change together with its audit entry.

use stix::Timestamp;

use super::Relay;
use crate::audit::{AuditEntry, AuditQuery, AuditRecord};
use crate::error::Error;
use crate::feed::{Feed, GranteeName, NewFeed, check_feed_name};
use crate::org::{NewOrg, Org, OrgKind, TrustGroup, check_country, check_name};
use crate::password;
use crate::policy;
use crate::principal::{Principal, Role, UserInfo};
use crate::store::{Change, NewToken, TokenInfo};
use crate::token;

pub(super) fn forbidden(what: &str) -> Error {
    Error::Forbidden(format!("you may not {what}"))
}

pub(super) fn require_administrator(who: &Principal, what: &str) -> Result<(), Error> {
    if policy::can_administer(who) {
        Ok(())
    } else {
        Err(forbidden(what))
    }
}

/// An organisation's entry in the directory every member may read: enough to name it as a
/// TLP:RED recipient, nothing private.
#[derive(Debug, Clone)]
pub struct DirectoryEntry {
    pub name: String,
    pub kind: OrgKind,
    pub sector: crate::org::Sector,
    pub country: String,
    pub identity: String,
}

impl Relay {
    pub(super) async fn apply(&self, change: Change, audit: AuditEntry) -> Result<i64, Error> {
        Ok(self.store.apply(change, audit).await?)
    }

    async fn org_named(&self, name: &str) -> Result<Org, Error> {
        self.store
            .find_org(name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no organisation '{name}'")))
    }

    pub(super) async fn feed_named(&self, key: &str) -> Result<Feed, Error> {
        self.store
            .find_feed(key)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no feed '{key}'")))
    }

    // ---- organisations ----

    pub async fn create_org(&self, who: &Principal, new: NewOrg) -> Result<Org, Error> {
        require_administrator(who, "create organisations")?;
        check_name("organisation", &new.name).map_err(Error::Invalid)?;
        if new.kind == OrgKind::Operator {
            return Err(Error::Invalid(
                "there is one operator organisation, created with the relay".into(),
            ));
        }
        let country = check_country(&new.country).map_err(Error::Invalid)?;
        let new = NewOrg { country, ..new };
        let detail = format!(
            "{} {} sector={} country={} anonymous={}",
            new.kind.as_str(),
            new.name,
            new.sector.as_str(),
            new.country,
            new.anonymous
        );
        let name = new.name.clone();
        let identity = format!("identity--{}", uuid::Uuid::new_v4());
        self.apply(
            Change::CreateOrg { org: new, identity },
            AuditEntry::by(who, "org.create").detail(detail),
        )
        .await?;
        self.org_named(&name).await
    }

    /// Changes an organisation's anonymity or contacts: the ISAC administrator, or the
    /// organisation's own administrator.
    pub async fn update_org(
        &self,
        who: &Principal,
        name: &str,
        anonymous: Option<bool>,
        contacts: Option<Vec<String>>,
    ) -> Result<Org, Error> {
        let org = self.org_named(name).await?;
        if !policy::can_manage_accounts(who, org.id) {
            return Err(forbidden(&format!("change organisation '{name}'")));
        }
        if anonymous.is_none() && contacts.is_none() {
            return Err(Error::Invalid("nothing to change".into()));
        }
        let mut detail = Vec::new();
        if let Some(a) = anonymous {
            detail.push(format!("anonymous={a}"));
        }
        if let Some(c) = &contacts {
            detail.push(format!("contacts={}", c.join(",")));
        }
        self.apply(
            Change::UpdateOrg {
                name: name.to_owned(),
                anonymous,
                contacts,
            },
            AuditEntry::by(who, "org.update").detail(format!("{name} {}", detail.join(" "))),
        )
        .await?;
        self.org_named(name).await
    }

    /// Organisations with everything stored: the ISAC administrator sees all, an organisation's
    /// users their own.
    pub async fn list_orgs(&self, who: &Principal) -> Result<Vec<Org>, Error> {
        let orgs = self.store.list_orgs().await?;
        Ok(orgs
            .into_iter()
            .filter(|o| who.is_isac_admin() || o.id == who.org_id)
            .collect())
    }

    /// The directory of organisations, for every authenticated user: names and identities, so
    /// that a poster can name TLP:RED recipients.
    pub async fn directory(&self, _who: &Principal) -> Result<Vec<DirectoryEntry>, Error> {
        Ok(self
            .store
            .list_orgs()
            .await?
            .into_iter()
            .map(|o| DirectoryEntry {
                name: o.name,
                kind: o.kind,
                sector: o.sector,
                country: o.country,
                identity: o.identity,
            })
            .collect())
    }

    /// The ISAC's own organisation, whose identity stands in for anonymous submitters.
    pub async fn operator(&self) -> Result<Org, Error> {
        self.org_named(crate::org::OPERATOR_ORG).await
    }

    // ---- users ----

    pub async fn create_user(
        &self,
        who: &Principal,
        org: &str,
        name: &str,
        role: Role,
        password: Option<&str>,
    ) -> Result<UserInfo, Error> {
        check_name("user", name).map_err(Error::Invalid)?;
        let target = self.org_named(org).await?;
        if !policy::can_manage_accounts(who, target.id) {
            return Err(forbidden(&format!("add users to '{org}'")));
        }
        if role == Role::IsacAdmin {
            if target.kind != OrgKind::Operator {
                return Err(Error::Invalid(format!(
                    "only users of the operator organisation '{}' may be ISAC administrators",
                    crate::org::OPERATOR_ORG
                )));
            }
            if !who.is_isac_admin() {
                return Err(forbidden("create ISAC administrators"));
            }
        }
        // A scanner reads every member's ranges (aggregated) and sends findings to members:
        // only the ISAC appoints one.
        if role == Role::Scanner && !who.is_isac_admin() {
            return Err(forbidden("create scanner accounts"));
        }
        let password_hash = match password {
            Some(pw) => Some(hash_off_thread(pw).await?),
            None => None,
        };
        self.apply(
            Change::CreateUser {
                org: org.to_owned(),
                name: name.to_owned(),
                role,
                password_hash,
            },
            AuditEntry::by(who, "user.create").detail(format!(
                "{name} org={org} role={} password={}",
                role.as_str(),
                password.is_some()
            )),
        )
        .await?;
        self.store
            .list_users()
            .await?
            .into_iter()
            .find(|u| u.name == name)
            .ok_or_else(|| Error::NotFound(format!("no user '{name}'")))
    }

    /// Sets a user's password: the user, or whoever manages the user's organisation.
    pub async fn set_password(
        &self,
        who: &Principal,
        user: &str,
        password: &str,
    ) -> Result<(), Error> {
        let target = self.user_named(user).await?;
        if who.user_id != target.principal.user_id
            && !policy::can_manage_accounts(who, target.principal.org_id)
        {
            return Err(forbidden(&format!("change the password of '{user}'")));
        }
        if who.read_only {
            return Err(forbidden("change passwords with a read-only token"));
        }
        let password_hash = hash_off_thread(password).await?;
        self.apply(
            Change::SetPassword {
                user: user.to_owned(),
                password_hash,
            },
            AuditEntry::by(who, "user.password").detail(user),
        )
        .await?;
        Ok(())
    }

    async fn user_named(&self, name: &str) -> Result<crate::store::Login, Error> {
        self.store
            .login(name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no user '{name}'")))
    }

    /// Users the caller manages: all for the ISAC administrator, its organisation's for an
    /// organisation administrator, itself for anyone else.
    pub async fn list_users(&self, who: &Principal) -> Result<Vec<UserInfo>, Error> {
        let users = self.store.list_users().await?;
        Ok(users
            .into_iter()
            .filter(|u| {
                u.id == who.user_id
                    || who.is_isac_admin()
                    || (who.role == Role::OrgAdmin && u.org == who.org_name)
            })
            .collect())
    }

    // ---- tokens ----

    /// Issues a new token for a user (oneself, or a user of an organisation one manages);
    /// returns its id and the secret, which is shown once and never stored.
    pub async fn create_token(
        &self,
        who: &Principal,
        user: &str,
        name: &str,
        expires_days: Option<u32>,
        read_only: bool,
    ) -> Result<(i64, String), Error> {
        if name.trim().is_empty() || name.len() > 100 {
            return Err(Error::Invalid(
                "a token name has 1 to 100 characters".into(),
            ));
        }
        let target = self.user_named(user).await?;
        let own = who.user_id == target.principal.user_id;
        if who.read_only || !(own || policy::can_manage_accounts(who, target.principal.org_id)) {
            return Err(forbidden(&format!("create tokens for '{user}'")));
        }
        let expires = match expires_days {
            None => None,
            Some(0) => return Err(Error::Invalid("--expires-days must be at least 1".into())),
            Some(d) => Some(Timestamp::from_micros(
                Timestamp::now().as_micros() + i64::from(d) * 86_400_000_000,
            )),
        };
        let secret = token::generate_token();
        let detail = format!(
            "for {user} name={name} read_only={read_only} expires={}",
            expires.map_or("never".to_owned(), |t| t.to_string())
        );
        let id = self
            .apply(
                Change::CreateToken(NewToken {
                    user_name: user.to_owned(),
                    name: name.to_owned(),
                    hash: self.hasher.hash(&secret),
                    read_only,
                    expires,
                }),
                AuditEntry::by(who, "token.create").detail(detail),
            )
            .await?;
        Ok((id, secret))
    }

    /// Revokes a token at once: its next request is refused.
    pub async fn revoke_token(&self, who: &Principal, id: i64) -> Result<(), Error> {
        let token = self
            .list_tokens(who)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            // A token the caller may not manage is as missing as one that does not exist.
            .ok_or_else(|| Error::NotFound(format!("no token {id}")))?;
        // `list_tokens` holds only the caller's own tokens and those it manages; what is left
        // to check is that the caller may write.
        if who.read_only {
            return Err(forbidden(&format!("revoke token {id}")));
        }
        self.apply(
            Change::RevokeToken {
                id,
                at: Timestamp::now(),
            },
            AuditEntry::by(who, "token.revoke")
                .detail(format!("token {id} of {}", token.user_name)),
        )
        .await?;
        Ok(())
    }

    /// Tokens the caller manages (never their secrets).
    pub async fn list_tokens(&self, who: &Principal) -> Result<Vec<TokenInfo>, Error> {
        let tokens = self.store.list_tokens().await?;
        Ok(tokens
            .into_iter()
            .filter(|t| {
                t.user_name == who.user_name
                    || who.is_isac_admin()
                    || (who.role == Role::OrgAdmin && t.org == who.org_name)
            })
            .collect())
    }

    // ---- trust groups ----

    pub async fn create_group(&self, who: &Principal, name: &str) -> Result<(), Error> {
        require_administrator(who, "create trust groups")?;
        check_name("trust group", name).map_err(Error::Invalid)?;
        self.apply(
            Change::CreateGroup {
                name: name.to_owned(),
            },
            AuditEntry::by(who, "group.create").detail(name),
        )
        .await?;
        Ok(())
    }

    /// Adds (`add`) or removes an organisation to or from a trust group.
    pub async fn group_member(
        &self,
        who: &Principal,
        group: &str,
        org: &str,
        add: bool,
    ) -> Result<(), Error> {
        require_administrator(who, "change trust groups")?;
        let (change, action) = if add {
            (
                Change::AddMember {
                    group: group.to_owned(),
                    org: org.to_owned(),
                },
                "group.member.add",
            )
        } else {
            (
                Change::RemoveMember {
                    group: group.to_owned(),
                    org: org.to_owned(),
                },
                "group.member.remove",
            )
        };
        self.apply(
            change,
            AuditEntry::by(who, action).detail(format!("{org} in {group}")),
        )
        .await?;
        Ok(())
    }

    /// Trust groups: all for the ISAC administrator, one's own organisation's for others.
    pub async fn list_groups(&self, who: &Principal) -> Result<Vec<TrustGroup>, Error> {
        Ok(self
            .store
            .list_groups()
            .await?
            .into_iter()
            .filter(|g| who.is_isac_admin() || g.members.contains(&who.org_name))
            .collect())
    }

    // ---- feeds and grants ----

    pub async fn add_feed(&self, who: &Principal, new: NewFeed) -> Result<Feed, Error> {
        require_administrator(who, "create feeds")?;
        check_feed_name(&new.name).map_err(Error::Invalid)?;
        let feed = Feed {
            id: uuid::Uuid::new_v4().to_string(),
            name: new.name,
            description: new.description,
            default_tlp: new.default_tlp,
            severity: new.severity,
            volume: new.volume,
            kind: new.kind,
            inbox: new.inbox,
            retired: false,
            grants: Vec::new(),
        };
        let detail = format!(
            "{} id={} kind={} severity={} volume={} default_tlp={}",
            feed.name,
            feed.id,
            feed.kind.as_str(),
            feed.severity.as_str(),
            feed.volume.as_str(),
            feed.default_tlp.as_str()
        );
        self.apply(
            Change::CreateFeed(feed.clone()),
            AuditEntry::by(who, "feed.create").detail(detail),
        )
        .await?;
        Ok(feed)
    }

    /// Feeds with their grants, for the ISAC administrator.
    pub async fn feeds_with_grants(&self, who: &Principal) -> Result<Vec<Feed>, Error> {
        if !who.is_isac_admin() {
            return Err(forbidden("see the grants of feeds"));
        }
        Ok(self.store.list_feeds().await?)
    }

    /// Sets a grantee's rights on a feed, replacing earlier ones.
    pub async fn grant(
        &self,
        who: &Principal,
        feed: &str,
        grantee: GranteeName,
        read: bool,
        write: bool,
    ) -> Result<Feed, Error> {
        require_administrator(who, "grant rights on feeds")?;
        if !read && !write {
            return Err(Error::Invalid(
                "a grant gives read, write or both; to take rights away, revoke the grant".into(),
            ));
        }
        let f = self.feed_named(feed).await?;
        let detail = format!(
            "{} {} on {}: read={read} write={write}",
            grantee_kind(&grantee),
            grantee_name(&grantee),
            f.name
        );
        self.apply(
            Change::Grant {
                feed: f.id.clone(),
                grantee,
                read,
                write,
            },
            AuditEntry::by(who, "feed.grant")
                .feed(&f.name)
                .detail(detail),
        )
        .await?;
        self.feed_named(&f.id).await
    }

    pub async fn ungrant(
        &self,
        who: &Principal,
        feed: &str,
        grantee: GranteeName,
    ) -> Result<Feed, Error> {
        require_administrator(who, "revoke rights on feeds")?;
        let f = self.feed_named(feed).await?;
        let detail = format!(
            "{} {} on {}",
            grantee_kind(&grantee),
            grantee_name(&grantee),
            f.name
        );
        self.apply(
            Change::Ungrant {
                feed: f.id.clone(),
                grantee,
            },
            AuditEntry::by(who, "feed.revoke")
                .feed(&f.name)
                .detail(detail),
        )
        .await?;
        self.feed_named(&f.id).await
    }

    // ---- audit ----

    /// The audit log, for the ISAC administrator. Reading it is itself audited.
    pub async fn audit_log(
        &self,
        who: &Principal,
        query: &AuditQuery,
    ) -> Result<Vec<AuditRecord>, Error> {
        if !who.is_isac_admin() {
            return Err(forbidden("read the audit log"));
        }
        let records = self.store.audit_log(query).await?;
        self.note(AuditEntry::by(who, "audit.read").count(records.len()))
            .await;
        Ok(records)
    }
}

fn grantee_kind(g: &GranteeName) -> &'static str {
    match g {
        GranteeName::Org(_) => "organisation",
        GranteeName::Group(_) => "trust group",
    }
}

fn grantee_name(g: &GranteeName) -> &str {
    match g {
        GranteeName::Org(n) | GranteeName::Group(n) => n,
    }
}

async fn hash_off_thread(pw: &str) -> Result<String, Error> {
    password::check_password(pw).map_err(Error::Invalid)?;
    let pw = pw.to_owned();
    tokio::task::spawn_blocking(move || password::hash_password(&pw))
        .await
        .map_err(|e| Error::Internal(crate::store::StoreError::Internal(Box::new(e))))?
        .map_err(|m| Error::Internal(crate::store::StoreError::Internal(m.into())))
}
