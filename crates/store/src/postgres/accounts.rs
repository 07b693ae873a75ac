//! Organisations, users, tokens, trust groups, feeds and grants in PostgreSQL: the changes of
//! `Store::apply` (each with its audit entry, in one writing transaction) and the reads that
//! resolve principals and feeds. A principal is read in one statement (its groups and profiles
//! as subqueries), since authentication runs on every request.

use deadpool_postgres::GenericClient;
use relay_core::feed::{Feed, FeedKind, Grant, Grantee, GranteeName, Severity, Volume};
use relay_core::org::{Org, OrgKind, Sector, TrustGroup};
use relay_core::principal::{Principal, Role, UserInfo};
use relay_core::profile::Profile;
use relay_core::store::{Change, Login, StoreError, TokenInfo};
use relay_core::{AuditEntry, Tlp};
use stix::Timestamp;
use tokio_postgres::Row;

use super::sql::Col;
use super::{audit, pg};

pub(super) fn corrupt(what: String) -> StoreError {
    StoreError::Internal(what.into())
}

async fn id_of<C: GenericClient>(
    c: &C,
    sql: &str,
    key: &str,
    missing: String,
) -> Result<i64, StoreError> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    match c.query_opt(&stmt, &[&key]).await.map_err(pg)? {
        Some(r) => r.col(0),
        None => Err(StoreError::NotFound(missing)),
    }
}

pub(super) async fn org_id<C: GenericClient>(c: &C, name: &str) -> Result<i64, StoreError> {
    id_of(
        c,
        "SELECT id FROM orgs WHERE name = $1",
        name,
        format!("no organisation '{name}'"),
    )
    .await
}

async fn group_id<C: GenericClient>(c: &C, name: &str) -> Result<i64, StoreError> {
    id_of(
        c,
        "SELECT id FROM trust_groups WHERE name = $1",
        name,
        format!("no trust group '{name}'"),
    )
    .await
}

async fn user_id<C: GenericClient>(c: &C, name: &str) -> Result<i64, StoreError> {
    id_of(
        c,
        "SELECT id FROM users WHERE name = $1",
        name,
        format!("no user '{name}'"),
    )
    .await
}

pub(super) async fn feed_seq<C: GenericClient>(c: &C, feed_id: &str) -> Result<i64, StoreError> {
    id_of(
        c,
        "SELECT seq FROM collections WHERE id = $1",
        feed_id,
        format!("no feed '{feed_id}'"),
    )
    .await
}

async fn exists<C: GenericClient>(c: &C, sql: &str, key: &str) -> Result<bool, StoreError> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_one(&stmt, &[&key]).await.map_err(pg)?.col(0)
}

/// Runs a statement with its values; returns how many rows it changed.
pub(super) async fn exec<C: GenericClient>(
    c: &C,
    sql: &str,
    args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, StoreError> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.execute(&stmt, args).await.map_err(pg)
}

/// Runs a query with its values; returns its rows.
pub(super) async fn rows<C: GenericClient>(
    c: &C,
    sql: &str,
    args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<Row>, StoreError> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query(&stmt, args).await.map_err(pg)
}

/// Runs a query expected to give at most one row.
pub(super) async fn row_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Option<Row>, StoreError> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_opt(&stmt, args).await.map_err(pg)
}

/// Runs a query expected to give exactly one row.
pub(super) async fn row_one<C: GenericClient>(
    c: &C,
    sql: &str,
    args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Row, StoreError> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_one(&stmt, args).await.map_err(pg)
}

fn json_list(v: &[String]) -> String {
    serde_json::Value::from(v.to_vec()).to_string()
}

/// Carries out one change and appends its audit entry; runs inside the caller's writing
/// transaction, so an error leaves nothing behind.
pub async fn apply<C: GenericClient>(
    c: &C,
    change: Change,
    entry: &AuditEntry,
) -> Result<i64, StoreError> {
    let now = Timestamp::now().as_micros();
    let id = match change {
        Change::CreateOrg { org, identity } => {
            if exists(
                c,
                "SELECT EXISTS (SELECT 1 FROM orgs WHERE name = $1)",
                &org.name,
            )
            .await?
            {
                return Err(StoreError::Conflict(format!(
                    "an organisation named '{}' already exists",
                    org.name
                )));
            }
            row_one(
                c,
                "INSERT INTO orgs (name, kind, sector, country, contacts, anonymous, identity, created)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    &org.name,
                    &org.kind.as_str(),
                    &org.sector.as_str(),
                    &org.country,
                    &json_list(&org.contacts),
                    &i64::from(org.anonymous),
                    &identity,
                    &now,
                ],
            )
            .await?
            .col(0)?
        }
        Change::UpdateOrg {
            name,
            anonymous,
            contacts,
        } => {
            let id = org_id(c, &name).await?;
            if let Some(a) = anonymous {
                exec(
                    c,
                    "UPDATE orgs SET anonymous = $2 WHERE id = $1",
                    &[&id, &i64::from(a)],
                )
                .await?;
            }
            if let Some(list) = contacts {
                exec(
                    c,
                    "UPDATE orgs SET contacts = $2 WHERE id = $1",
                    &[&id, &json_list(&list)],
                )
                .await?;
            }
            id
        }
        Change::CreateUser {
            org,
            name,
            role,
            password_hash,
        } => {
            let org = org_id(c, &org).await?;
            if exists(
                c,
                "SELECT EXISTS (SELECT 1 FROM users WHERE name = $1)",
                &name,
            )
            .await?
            {
                return Err(StoreError::Conflict(format!(
                    "a user named '{name}' already exists"
                )));
            }
            row_one(
                c,
                "INSERT INTO users (name, role, created, org, password) VALUES ($1, $2, $3, $4, $5)
                 RETURNING id",
                &[&name, &role.as_str(), &now, &org, &password_hash],
            )
            .await?
            .col(0)?
        }
        Change::SetPassword {
            user,
            password_hash,
        } => {
            let id = user_id(c, &user).await?;
            exec(
                c,
                "UPDATE users SET password = $2 WHERE id = $1",
                &[&id, &password_hash],
            )
            .await?;
            id
        }
        Change::CreateToken(token) => {
            let user = user_id(c, &token.user_name).await?;
            row_one(
                c,
                "INSERT INTO tokens (user_id, name, hash, read_only, created, expires)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[
                    &user,
                    &token.name,
                    &token.hash.as_slice(),
                    &i64::from(token.read_only),
                    &now,
                    &token.expires.map(Timestamp::as_micros),
                ],
            )
            .await?
            .col(0)?
        }
        Change::AddPeer(peer) => super::federation::add_peer(c, &peer).await?,
        Change::RemovePeer { name } => super::federation::remove_peer(c, &name).await?,
        Change::RevokeToken { id, at } => {
            let revoked: Option<Option<i64>> =
                match row_opt(c, "SELECT revoked FROM tokens WHERE id = $1", &[&id]).await? {
                    Some(r) => Some(r.col(0)?),
                    None => None,
                };
            match revoked {
                None => return Err(StoreError::NotFound(format!("no token {id}"))),
                Some(Some(_)) => {
                    return Err(StoreError::Conflict(format!(
                        "token {id} is revoked already"
                    )));
                }
                Some(None) => {
                    exec(
                        c,
                        "UPDATE tokens SET revoked = $2 WHERE id = $1",
                        &[&id, &at.as_micros()],
                    )
                    .await?;
                }
            }
            id
        }
        Change::CreateGroup { name } => {
            if exists(
                c,
                "SELECT EXISTS (SELECT 1 FROM trust_groups WHERE name = $1)",
                &name,
            )
            .await?
            {
                return Err(StoreError::Conflict(format!(
                    "a trust group named '{name}' already exists"
                )));
            }
            row_one(
                c,
                "INSERT INTO trust_groups (name, created) VALUES ($1, $2) RETURNING id",
                &[&name, &now],
            )
            .await?
            .col(0)?
        }
        Change::AddMember { group, org } => {
            let (g, o) = (group_id(c, &group).await?, org_id(c, &org).await?);
            let added = exec(
                c,
                "INSERT INTO group_members (grp, org) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&g, &o],
            )
            .await?;
            if added == 0 {
                return Err(StoreError::Conflict(format!(
                    "'{org}' is in trust group '{group}' already"
                )));
            }
            0
        }
        Change::RemoveMember { group, org } => {
            let (g, o) = (group_id(c, &group).await?, org_id(c, &org).await?);
            let removed = exec(
                c,
                "DELETE FROM group_members WHERE grp = $1 AND org = $2",
                &[&g, &o],
            )
            .await?;
            if removed == 0 {
                return Err(StoreError::NotFound(format!(
                    "'{org}' is not in trust group '{group}'"
                )));
            }
            0
        }
        Change::CreateFeed(feed) => {
            let taken: bool = row_one(
                c,
                "SELECT EXISTS (SELECT 1 FROM collections WHERE name = $1 OR id = $2)",
                &[&feed.name, &feed.id],
            )
            .await?
            .col(0)?;
            if taken {
                return Err(StoreError::Conflict(format!(
                    "a feed named '{}' already exists",
                    feed.name
                )));
            }
            row_one(
                c,
                "INSERT INTO collections
                   (id, name, description, created, default_tlp, severity, volume, kind, inbox,
                    retired)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING seq",
                &[
                    &feed.id,
                    &feed.name,
                    &feed.description,
                    &now,
                    &feed.default_tlp.code(),
                    &feed.severity.code(),
                    &feed.volume.as_str(),
                    &feed.kind.as_str(),
                    &i64::from(feed.inbox),
                    &i64::from(feed.retired),
                ],
            )
            .await?
            .col(0)?
        }
        Change::UpdateFeed { feed, settings } => {
            let coll = feed_seq(c, &feed).await?;
            let current = find_feed(c, &feed)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("no feed '{feed}'")))?;
            let f = settings.applied_to(&current);
            exec(
                c,
                "UPDATE collections SET description = $2, default_tlp = $3, severity = $4,
                        volume = $5, inbox = $6, retired = $7
                  WHERE seq = $1",
                &[
                    &coll,
                    &f.description,
                    &f.default_tlp.code(),
                    &f.severity.code(),
                    &f.volume.as_str(),
                    &i64::from(f.inbox),
                    &i64::from(f.retired),
                ],
            )
            .await?;
            0
        }
        Change::AddRule {
            field,
            matching,
            value,
            feed,
        } => {
            let seq = feed_seq(c, &feed).await?;
            super::feeds::add_rule(c, field, matching, &value, seq, now).await?
        }
        Change::RemoveRule { id } => super::feeds::remove_rule(c, id).await?,
        Change::SetProfile { owner, profile } => {
            super::feeds::set_profile(c, &owner, profile.as_ref()).await?
        }
        Change::CreateWebhook(hook) => {
            let seq = feed_seq(c, &hook.feed_id).await?;
            super::feeds::create_webhook(c, &hook, seq, now).await?
        }
        Change::RemoveWebhook { id, at } => super::feeds::remove_webhook(c, id, at).await?,
        Change::ReplaceAppliedList(upload) => super::exports::replace_applied(c, &upload).await?,
        Change::RemoveAppliedList { org, feed_id } => {
            super::exports::remove_applied(c, org, &feed_id).await?
        }
        Change::AddAllowlist {
            kind,
            value,
            reason,
        } => super::exports::add_allowlist(c, kind, &value, &reason).await?,
        Change::RemoveAllowlist { id } => super::exports::remove_allowlist(c, id).await?,
        Change::AddOrgAsset {
            org,
            kind,
            value,
            valid_from,
            valid_until,
        } => super::exports::add_asset(c, &org, kind, &value, (valid_from, valid_until)).await?,
        Change::CreateCampaign(campaign) => super::notice::create_campaign(c, &campaign).await?,
        Change::RecordUpload(u) => super::notice::record_upload(c, &u).await?,
        Change::RecomputeMetrics => {
            i64::try_from(super::metrics::recompute(c).await?).unwrap_or(i64::MAX)
        }
        Change::MarkPublished { through, done } => {
            super::notice::mark_published(c, through, &done).await?
        }
        Change::UpdateFindings { org, updates, at } => {
            super::notice::update_findings(c, org, &updates, at).await?
        }
        Change::RemoveOrgAsset { id, at } => super::exports::remove_asset(c, id, at).await?,
        Change::Grant {
            feed,
            grantee,
            read,
            write,
        } => {
            let coll = feed_seq(c, &feed).await?;
            let (org, grp) = grantee_ids(c, &grantee).await?;
            exec(
                c,
                "DELETE FROM grants WHERE collection = $1 AND coalesce(org, 0) = coalesce($2::bigint, 0)
                   AND coalesce(grp, 0) = coalesce($3::bigint, 0)",
                &[&coll, &org, &grp],
            )
            .await?;
            exec(
                c,
                "INSERT INTO grants (collection, org, grp, can_read, can_write)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&coll, &org, &grp, &i64::from(read), &i64::from(write)],
            )
            .await?;
            0
        }
        Change::Ungrant { feed, grantee } => {
            let coll = feed_seq(c, &feed).await?;
            let (org, grp) = grantee_ids(c, &grantee).await?;
            let removed = exec(
                c,
                "DELETE FROM grants WHERE collection = $1 AND coalesce(org, 0) = coalesce($2::bigint, 0)
                   AND coalesce(grp, 0) = coalesce($3::bigint, 0)",
                &[&coll, &org, &grp],
            )
            .await?;
            if removed == 0 {
                return Err(StoreError::NotFound(
                    "that grantee has no rights on this feed".into(),
                ));
            }
            0
        }
    };
    audit::append(c, entry).await?;
    Ok(id)
}

async fn grantee_ids<C: GenericClient>(
    c: &C,
    grantee: &GranteeName,
) -> Result<(Option<i64>, Option<i64>), StoreError> {
    Ok(match grantee {
        GranteeName::Org(n) => (Some(org_id(c, n).await?), None),
        GranteeName::Group(n) => (None, Some(group_id(c, n).await?)),
    })
}

/// Creates the administrator in the operator organisation with one token, unless any user
/// exists. (The caller holds the write lock: two nodes starting at once create one.)
pub async fn bootstrap_admin<C: GenericClient>(
    c: &C,
    user_name: &str,
    token_hash: &[u8],
) -> Result<bool, StoreError> {
    let users: i64 = row_one(c, "SELECT count(*) FROM users", &[])
        .await?
        .col(0)?;
    if users > 0 {
        return Ok(false);
    }
    let operator: i64 = row_one(c, "SELECT id FROM orgs WHERE kind = 'operator'", &[])
        .await?
        .col(0)?;
    let now = Timestamp::now().as_micros();
    let user_id: i64 = row_one(
        c,
        "INSERT INTO users (name, role, created, org) VALUES ($1, $2, $3, $4) RETURNING id",
        &[&user_name, &Role::IsacAdmin.as_str(), &now, &operator],
    )
    .await?
    .col(0)?;
    exec(
        c,
        "INSERT INTO tokens (user_id, name, hash, created) VALUES ($1, 'bootstrap', $2, $3)",
        &[&user_id, &token_hash, &now],
    )
    .await?;
    Ok(true)
}

/// What a principal is made of, in the order `principal_from` reads them from column `at`
/// on: the user, its organisation, the organisation's trust groups, the organisation's
/// profile. `$T` is the token whose profile is read as well (0: none).
fn principal_columns(token: &str) -> String {
    format!(
        "u.id, u.name, u.role, o.id, o.name, o.kind, o.anonymous,
         ARRAY(SELECT m.grp FROM group_members m WHERE m.org = o.id ORDER BY m.grp),
         (SELECT p.body FROM profiles p WHERE p.org = o.id AND p.token IS NULL),
         (SELECT p.body FROM profiles p WHERE p.org IS NULL AND p.token = {token})"
    )
}

fn profile(body: Option<String>) -> Result<Option<Profile>, StoreError> {
    body.map(|b| serde_json::from_str(&b).map_err(|e| StoreError::Internal(Box::new(e))))
        .transpose()
}

/// Builds a principal from the columns of `principal_columns`, starting at `at`.
fn principal_from(
    r: &Row,
    at: usize,
    token_id: i64,
    read_only: bool,
) -> Result<Principal, StoreError> {
    let user_id: i64 = r.col(at)?;
    let role: String = r.col(at + 2)?;
    let kind: String = r.col(at + 5)?;
    let role = Role::parse(&role)
        .ok_or_else(|| corrupt(format!("unknown role '{role}' for user {user_id}")))?;
    let org_kind = OrgKind::parse(&kind)
        .ok_or_else(|| corrupt(format!("unknown organisation kind '{kind}'")))?;
    // A token's profile replaces its organisation's.
    let by_org = profile(r.col(at + 8)?)?;
    let by_token = profile(r.col(at + 9)?)?;
    Ok(Principal {
        profile: by_token.or(by_org).unwrap_or_default(),
        user_id,
        user_name: r.col(at + 1)?,
        role,
        org_id: r.col(at + 3)?,
        org_name: r.col(at + 4)?,
        org_kind,
        org_anonymous: r.col::<i64>(at + 6)? != 0,
        groups: r.col(at + 7)?,
        token_id,
        read_only,
        source: None,
    })
}

pub async fn principal_for_token<C: GenericClient>(
    c: &C,
    token_hash: &[u8],
    now: Timestamp,
) -> Result<Option<Principal>, StoreError> {
    let sql = format!(
        "SELECT t.id, t.read_only, {}
           FROM tokens t JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = u.org
          WHERE t.hash = $1 AND t.revoked IS NULL AND (t.expires IS NULL OR t.expires > $2)",
        principal_columns("t.id")
    );
    let Some(r) = row_opt(c, &sql, &[&token_hash, &now.as_micros()]).await? else {
        return Ok(None);
    };
    let token_id: i64 = r.col(0)?;
    let read_only = r.col::<i64>(1)? != 0;
    principal_from(&r, 2, token_id, read_only).map(Some)
}

pub async fn login<C: GenericClient>(c: &C, user_name: &str) -> Result<Option<Login>, StoreError> {
    let sql = format!(
        "SELECT {}, u.password FROM users u JOIN orgs o ON o.id = u.org WHERE u.name = $1",
        principal_columns("0")
    );
    let Some(r) = row_opt(c, &sql, &[&user_name]).await? else {
        return Ok(None);
    };
    Ok(Some(Login {
        principal: principal_from(&r, 0, 0, false)?,
        password_hash: r.col(10)?,
    }))
}

pub async fn list_tokens<C: GenericClient>(c: &C) -> Result<Vec<TokenInfo>, StoreError> {
    rows(
        c,
        "SELECT t.id, u.name, o.name, t.name, t.read_only, t.created, t.expires, t.revoked
           FROM tokens t JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = u.org
          ORDER BY t.id",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(TokenInfo {
            id: r.col(0)?,
            user_name: r.col(1)?,
            org: r.col(2)?,
            name: r.col(3)?,
            read_only: r.col::<i64>(4)? != 0,
            created: Timestamp::from_micros(r.col(5)?),
            expires: r.col::<Option<i64>>(6)?.map(Timestamp::from_micros),
            revoked: r.col::<Option<i64>>(7)?.map(Timestamp::from_micros),
        })
    })
    .collect()
}

const ORG_COLUMNS: &str = "id, name, kind, sector, country, contacts, anonymous, identity, created";

fn org_from_row(r: &Row) -> Result<Org, StoreError> {
    let kind: String = r.col(2)?;
    let sector: String = r.col(3)?;
    let contacts: String = r.col(5)?;
    let (Some(kind), Some(sector)) = (OrgKind::parse(&kind), Sector::parse(&sector)) else {
        return Err(corrupt(format!(
            "organisation {} has kind '{kind}' and sector '{sector}'",
            r.col::<i64>(0)?
        )));
    };
    let contacts: Vec<String> =
        serde_json::from_str(&contacts).map_err(|e| StoreError::Internal(Box::new(e)))?;
    Ok(Org {
        id: r.col(0)?,
        name: r.col(1)?,
        kind,
        sector,
        country: r.col(4)?,
        contacts,
        anonymous: r.col::<i64>(6)? != 0,
        identity: r.col(7)?,
        created: Timestamp::from_micros(r.col(8)?),
    })
}

pub async fn list_orgs<C: GenericClient>(c: &C) -> Result<Vec<Org>, StoreError> {
    let sql = format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY id");
    rows(c, &sql, &[]).await?.iter().map(org_from_row).collect()
}

pub async fn find_org<C: GenericClient>(c: &C, name: &str) -> Result<Option<Org>, StoreError> {
    let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE name = $1");
    row_opt(c, &sql, &[&name])
        .await?
        .as_ref()
        .map(org_from_row)
        .transpose()
}

pub async fn list_users<C: GenericClient>(c: &C) -> Result<Vec<UserInfo>, StoreError> {
    rows(
        c,
        "SELECT u.id, u.name, o.name, u.role, u.password IS NOT NULL, u.created
           FROM users u JOIN orgs o ON o.id = u.org ORDER BY u.id",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        let id: i64 = r.col(0)?;
        let role: String = r.col(3)?;
        Ok(UserInfo {
            role: Role::parse(&role)
                .ok_or_else(|| corrupt(format!("unknown role '{role}' for user {id}")))?,
            id,
            name: r.col(1)?,
            org: r.col(2)?,
            has_password: r.col(4)?,
            created: Timestamp::from_micros(r.col(5)?),
        })
    })
    .collect()
}

pub async fn list_groups<C: GenericClient>(c: &C) -> Result<Vec<TrustGroup>, StoreError> {
    let mut groups: Vec<TrustGroup> =
        rows(c, "SELECT id, name FROM trust_groups ORDER BY name", &[])
            .await?
            .iter()
            .map(|r| {
                Ok(TrustGroup {
                    id: r.col(0)?,
                    name: r.col(1)?,
                    members: Vec::new(),
                })
            })
            .collect::<Result<_, StoreError>>()?;
    let members = rows(
        c,
        "SELECT m.grp, o.name FROM group_members m JOIN orgs o ON o.id = m.org ORDER BY o.name",
        &[],
    )
    .await?;
    for r in &members {
        let grp: i64 = r.col(0)?;
        if let Some(g) = groups.iter_mut().find(|g| g.id == grp) {
            g.members.push(r.col(1)?);
        }
    }
    Ok(groups)
}

// ---- feeds ----

/// The grants of every feed in `seqs`, each feed's in the order SQLite lists them: trust
/// groups first, then organisations, each by name.
async fn grants_of<C: GenericClient>(c: &C, seqs: &[i64]) -> Result<Vec<(i64, Grant)>, StoreError> {
    let rows = rows(
        c,
        "SELECT g.collection, g.org, o.name, g.grp, t.name, g.can_read, g.can_write
           FROM grants g
           LEFT JOIN orgs o ON o.id = g.org
           LEFT JOIN trust_groups t ON t.id = g.grp
          WHERE g.collection = ANY($1)
          ORDER BY g.collection, g.grp IS NULL, coalesce(t.name, o.name)",
        &[&seqs],
    )
    .await?;
    rows.iter()
        .map(|r| {
            let seq: i64 = r.col(0)?;
            let grantee = match (
                r.col::<Option<i64>>(1)?,
                r.col::<Option<String>>(2)?,
                r.col::<Option<i64>>(3)?,
                r.col::<Option<String>>(4)?,
            ) {
                (Some(id), Some(name), None, None) => Grantee::Org { id, name },
                (None, None, Some(id), Some(name)) => Grantee::Group { id, name },
                _ => {
                    return Err(corrupt(format!(
                        "a grant on collection {seq} has no grantee"
                    )));
                }
            };
            Ok((
                seq,
                Grant {
                    grantee,
                    read: r.col::<i64>(5)? != 0,
                    write: r.col::<i64>(6)? != 0,
                },
            ))
        })
        .collect()
}

const FEED_COLUMNS: &str =
    "seq, id, name, description, default_tlp, severity, volume, kind, inbox, retired";

/// Feeds from rows of `FEED_COLUMNS`, with their grants (read in one more statement).
async fn feeds_from<C: GenericClient>(c: &C, rows: &[Row]) -> Result<Vec<Feed>, StoreError> {
    let seqs = rows
        .iter()
        .map(|r| r.col::<i64>(0))
        .collect::<Result<Vec<_>, _>>()?;
    let mut grants = if seqs.is_empty() {
        Vec::new()
    } else {
        grants_of(c, &seqs).await?
    };
    let mut out = Vec::with_capacity(rows.len());
    for (r, seq) in rows.iter().zip(seqs) {
        let name: String = r.col(2)?;
        let tlp: i64 = r.col(4)?;
        let severity: i64 = r.col(5)?;
        let volume: String = r.col(6)?;
        let kind: String = r.col(7)?;
        let mine = grants
            .iter()
            .filter(|(s, _)| *s == seq)
            .map(|(_, g)| g.clone())
            .collect();
        grants.retain(|(s, _)| *s != seq);
        out.push(Feed {
            default_tlp: Tlp::from_code(tlp)
                .ok_or_else(|| corrupt(format!("feed {name} has TLP code {tlp}")))?,
            severity: Severity::from_code(severity)
                .ok_or_else(|| corrupt(format!("feed {name} has severity {severity}")))?,
            volume: Volume::parse(&volume).map_err(corrupt)?,
            kind: FeedKind::parse(&kind).map_err(corrupt)?,
            inbox: r.col::<i64>(8)? != 0,
            retired: r.col::<i64>(9)? != 0,
            grants: mine,
            id: r.col(1)?,
            name,
            description: r.col(3)?,
        });
    }
    Ok(out)
}

pub async fn list_feeds<C: GenericClient>(c: &C) -> Result<Vec<Feed>, StoreError> {
    let rows = rows(
        c,
        &format!("SELECT {FEED_COLUMNS} FROM collections ORDER BY seq"),
        &[],
    )
    .await?;
    feeds_from(c, &rows).await
}

pub async fn find_feed<C: GenericClient>(c: &C, key: &str) -> Result<Option<Feed>, StoreError> {
    // By id first, then by name (legacy clients).
    let rows = rows(
        c,
        &format!(
            "SELECT {FEED_COLUMNS} FROM collections WHERE id = $1 OR name = $1
              ORDER BY id = $1 DESC LIMIT 1"
        ),
        &[&key],
    )
    .await?;
    Ok(feeds_from(c, &rows).await?.pop())
}
