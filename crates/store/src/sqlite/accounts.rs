//! Organisations, users, tokens, trust groups, feeds and grants in SQLite: the changes of
//! `Store::apply` (each with its audit entry, in the writer's transaction) and the reads that
//! resolve principals and feeds.

use relay_core::feed::{Feed, FeedKind, Grant, Grantee, GranteeName, Severity, Volume};
use relay_core::org::{Org, OrgKind, Sector, TrustGroup};
use relay_core::principal::{Principal, Role, UserInfo};
use relay_core::store::{Change, Login, StoreError, TokenInfo};
use relay_core::{AuditEntry, Tlp};
use rusqlite::{Connection, OptionalExtension, params};
use stix::Timestamp;

use super::{audit, internal};

pub(super) fn corrupt(what: String) -> StoreError {
    StoreError::Internal(what.into())
}

fn id_of(conn: &Connection, sql: &str, key: &str, missing: String) -> Result<i64, StoreError> {
    conn.prepare_cached(sql)
        .map_err(internal)?
        .query_row(params![key], |r| r.get(0))
        .optional()
        .map_err(internal)?
        .ok_or(StoreError::NotFound(missing))
}

pub(super) fn org_id(conn: &Connection, name: &str) -> Result<i64, StoreError> {
    id_of(
        conn,
        "SELECT id FROM orgs WHERE name = ?1",
        name,
        format!("no organisation '{name}'"),
    )
}

fn group_id(conn: &Connection, name: &str) -> Result<i64, StoreError> {
    id_of(
        conn,
        "SELECT id FROM trust_groups WHERE name = ?1",
        name,
        format!("no trust group '{name}'"),
    )
}

fn user_id(conn: &Connection, name: &str) -> Result<i64, StoreError> {
    id_of(
        conn,
        "SELECT id FROM users WHERE name = ?1",
        name,
        format!("no user '{name}'"),
    )
}

fn exists(conn: &Connection, sql: &str, key: &str) -> Result<bool, StoreError> {
    conn.prepare_cached(sql)
        .map_err(internal)?
        .query_row(params![key], |r| r.get(0))
        .map_err(internal)
}

fn json_list(v: &[String]) -> String {
    serde_json::Value::from(v.to_vec()).to_string()
}

/// Carries out one change and appends its audit entry; runs inside the writer's savepoint, so
/// an error leaves nothing behind.
pub fn apply(conn: &Connection, change: Change, entry: &AuditEntry) -> Result<i64, StoreError> {
    let now = Timestamp::now().as_micros();
    let id = match change {
        Change::CreateOrg { org, identity } => {
            if exists(
                conn,
                "SELECT EXISTS (SELECT 1 FROM orgs WHERE name = ?1)",
                &org.name,
            )? {
                return Err(StoreError::Conflict(format!(
                    "an organisation named '{}' already exists",
                    org.name
                )));
            }
            conn.execute(
                "INSERT INTO orgs (name, kind, sector, country, contacts, anonymous, identity, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    org.name,
                    org.kind.as_str(),
                    org.sector.as_str(),
                    org.country,
                    json_list(&org.contacts),
                    org.anonymous,
                    identity,
                    now
                ],
            )
            .map_err(internal)?;
            conn.last_insert_rowid()
        }
        Change::UpdateOrg {
            name,
            anonymous,
            contacts,
        } => {
            let id = org_id(conn, &name)?;
            if let Some(a) = anonymous {
                conn.execute(
                    "UPDATE orgs SET anonymous = ?2 WHERE id = ?1",
                    params![id, a],
                )
                .map_err(internal)?;
            }
            if let Some(c) = contacts {
                conn.execute(
                    "UPDATE orgs SET contacts = ?2 WHERE id = ?1",
                    params![id, json_list(&c)],
                )
                .map_err(internal)?;
            }
            id
        }
        Change::CreateUser {
            org,
            name,
            role,
            password_hash,
        } => {
            let org = org_id(conn, &org)?;
            if exists(
                conn,
                "SELECT EXISTS (SELECT 1 FROM users WHERE name = ?1)",
                &name,
            )? {
                return Err(StoreError::Conflict(format!(
                    "a user named '{name}' already exists"
                )));
            }
            conn.execute(
                "INSERT INTO users (name, role, created, org, password) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, role.as_str(), now, org, password_hash],
            )
            .map_err(internal)?;
            conn.last_insert_rowid()
        }
        Change::SetPassword {
            user,
            password_hash,
        } => {
            let id = user_id(conn, &user)?;
            conn.execute(
                "UPDATE users SET password = ?2 WHERE id = ?1",
                params![id, password_hash],
            )
            .map_err(internal)?;
            id
        }
        Change::CreateToken(token) => {
            let user = user_id(conn, &token.user_name)?;
            conn.execute(
                "INSERT INTO tokens (user_id, name, hash, read_only, created, expires)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    user,
                    token.name,
                    token.hash.as_slice(),
                    token.read_only,
                    now,
                    token.expires.map(Timestamp::as_micros)
                ],
            )
            .map_err(internal)?;
            conn.last_insert_rowid()
        }
        Change::AddPeer(peer) => super::federation::add_peer(conn, &peer)?,
        Change::RemovePeer { name } => super::federation::remove_peer(conn, &name)?,
        Change::RevokeToken { id, at } => {
            let revoked: Option<Option<i64>> = conn
                .query_row(
                    "SELECT revoked FROM tokens WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(internal)?;
            match revoked {
                None => return Err(StoreError::NotFound(format!("no token {id}"))),
                Some(Some(_)) => {
                    return Err(StoreError::Conflict(format!(
                        "token {id} is revoked already"
                    )));
                }
                Some(None) => {
                    conn.execute(
                        "UPDATE tokens SET revoked = ?2 WHERE id = ?1",
                        params![id, at.as_micros()],
                    )
                    .map_err(internal)?;
                }
            }
            id
        }
        Change::CreateGroup { name } => {
            if exists(
                conn,
                "SELECT EXISTS (SELECT 1 FROM trust_groups WHERE name = ?1)",
                &name,
            )? {
                return Err(StoreError::Conflict(format!(
                    "a trust group named '{name}' already exists"
                )));
            }
            conn.execute(
                "INSERT INTO trust_groups (name, created) VALUES (?1, ?2)",
                params![name, now],
            )
            .map_err(internal)?;
            conn.last_insert_rowid()
        }
        Change::AddMember { group, org } => {
            let (g, o) = (group_id(conn, &group)?, org_id(conn, &org)?);
            let added = conn
                .execute(
                    "INSERT OR IGNORE INTO group_members (grp, org) VALUES (?1, ?2)",
                    params![g, o],
                )
                .map_err(internal)?;
            if added == 0 {
                return Err(StoreError::Conflict(format!(
                    "'{org}' is in trust group '{group}' already"
                )));
            }
            0
        }
        Change::RemoveMember { group, org } => {
            let (g, o) = (group_id(conn, &group)?, org_id(conn, &org)?);
            let removed = conn
                .execute(
                    "DELETE FROM group_members WHERE grp = ?1 AND org = ?2",
                    params![g, o],
                )
                .map_err(internal)?;
            if removed == 0 {
                return Err(StoreError::NotFound(format!(
                    "'{org}' is not in trust group '{group}'"
                )));
            }
            0
        }
        Change::CreateFeed(feed) => {
            let taken: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM collections WHERE name = ?1 OR id = ?2)",
                    params![feed.name, feed.id],
                    |r| r.get(0),
                )
                .map_err(internal)?;
            if taken {
                return Err(StoreError::Conflict(format!(
                    "a feed named '{}' already exists",
                    feed.name
                )));
            }
            conn.execute(
                "INSERT INTO collections
                   (id, name, description, created, default_tlp, severity, volume, kind, inbox,
                    retired)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    feed.id,
                    feed.name,
                    feed.description,
                    now,
                    feed.default_tlp.code(),
                    feed.severity.code(),
                    feed.volume.as_str(),
                    feed.kind.as_str(),
                    feed.inbox,
                    feed.retired
                ],
            )
            .map_err(internal)?;
            conn.last_insert_rowid()
        }
        Change::UpdateFeed { feed, settings } => {
            let coll = feed_seq(conn, &feed)?;
            let current = find_feed(conn, &feed)?
                .ok_or_else(|| StoreError::NotFound(format!("no feed '{feed}'")))?;
            let f = settings.applied_to(&current);
            conn.execute(
                "UPDATE collections SET description = ?2, default_tlp = ?3, severity = ?4,
                        volume = ?5, inbox = ?6, retired = ?7
                  WHERE seq = ?1",
                params![
                    coll,
                    f.description,
                    f.default_tlp.code(),
                    f.severity.code(),
                    f.volume.as_str(),
                    f.inbox,
                    f.retired
                ],
            )
            .map_err(internal)?;
            0
        }
        Change::AddRule {
            field,
            matching,
            value,
            feed,
        } => super::feeds::add_rule(conn, field, matching, &value, feed_seq(conn, &feed)?, now)?,
        Change::RemoveRule { id } => super::feeds::remove_rule(conn, id)?,
        Change::SetProfile { owner, profile } => {
            super::feeds::set_profile(conn, &owner, profile.as_ref())?
        }
        Change::CreateWebhook(hook) => {
            super::feeds::create_webhook(conn, &hook, feed_seq(conn, &hook.feed_id)?, now)?
        }
        Change::RemoveWebhook { id, at } => super::feeds::remove_webhook(conn, id, at)?,
        Change::ReplaceAppliedList(upload) => super::exports::replace_applied(conn, &upload)?,
        Change::RemoveAppliedList { org, feed_id } => {
            super::exports::remove_applied(conn, org, &feed_id)?
        }
        Change::AddAllowlist {
            kind,
            value,
            reason,
        } => super::exports::add_allowlist(conn, kind, &value, &reason)?,
        Change::RemoveAllowlist { id } => super::exports::remove_allowlist(conn, id)?,
        Change::AddOrgAsset {
            org,
            kind,
            value,
            valid_from,
            valid_until,
        } => super::exports::add_asset(conn, &org, kind, &value, (valid_from, valid_until))?,
        Change::CreateCampaign(c) => super::notice::create_campaign(conn, &c)?,
        Change::RecordUpload(u) => super::notice::record_upload(conn, &u)?,
        Change::RecomputeMetrics => {
            i64::try_from(super::metrics::recompute(conn)?).unwrap_or(i64::MAX)
        }
        Change::MarkPublished { through, done } => {
            super::notice::mark_published(conn, through, &done)?
        }
        Change::UpdateFindings { org, updates, at } => {
            super::notice::update_findings(conn, org, &updates, at)?
        }
        Change::RemoveOrgAsset { id, at } => super::exports::remove_asset(conn, id, at)?,
        Change::Grant {
            feed,
            grantee,
            read,
            write,
        } => {
            let coll = feed_seq(conn, &feed)?;
            let (org, grp) = grantee_ids(conn, &grantee)?;
            conn.execute(
                "DELETE FROM grants WHERE collection = ?1 AND coalesce(org, 0) = coalesce(?2, 0)
                   AND coalesce(grp, 0) = coalesce(?3, 0)",
                params![coll, org, grp],
            )
            .map_err(internal)?;
            conn.execute(
                "INSERT INTO grants (collection, org, grp, can_read, can_write) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![coll, org, grp, read, write],
            )
            .map_err(internal)?;
            0
        }
        Change::Ungrant { feed, grantee } => {
            let coll = feed_seq(conn, &feed)?;
            let (org, grp) = grantee_ids(conn, &grantee)?;
            let removed = conn
                .execute(
                    "DELETE FROM grants WHERE collection = ?1 AND coalesce(org, 0) = coalesce(?2, 0)
                       AND coalesce(grp, 0) = coalesce(?3, 0)",
                    params![coll, org, grp],
                )
                .map_err(internal)?;
            if removed == 0 {
                return Err(StoreError::NotFound(
                    "that grantee has no rights on this feed".into(),
                ));
            }
            0
        }
    };
    audit::append(conn, entry)?;
    Ok(id)
}

pub(super) fn feed_seq(conn: &Connection, feed_id: &str) -> Result<i64, StoreError> {
    id_of(
        conn,
        "SELECT seq FROM collections WHERE id = ?1",
        feed_id,
        format!("no feed '{feed_id}'"),
    )
}

fn grantee_ids(
    conn: &Connection,
    grantee: &GranteeName,
) -> Result<(Option<i64>, Option<i64>), StoreError> {
    Ok(match grantee {
        GranteeName::Org(n) => (Some(org_id(conn, n)?), None),
        GranteeName::Group(n) => (None, Some(group_id(conn, n)?)),
    })
}

// ---- reads ----

/// Creates the administrator in the operator organisation with one token, unless any user
/// exists.
pub fn bootstrap_admin(
    conn: &Connection,
    user_name: &str,
    token_hash: &[u8],
) -> Result<bool, StoreError> {
    let users: i64 = conn
        .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
        .map_err(internal)?;
    if users > 0 {
        return Ok(false);
    }
    let operator: i64 = conn
        .query_row("SELECT id FROM orgs WHERE kind = 'operator'", [], |r| {
            r.get(0)
        })
        .map_err(internal)?;
    let now = Timestamp::now().as_micros();
    conn.execute(
        "INSERT INTO users (name, role, created, org) VALUES (?1, ?2, ?3, ?4)",
        params![user_name, Role::IsacAdmin.as_str(), now, operator],
    )
    .map_err(internal)?;
    let user_id = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO tokens (user_id, name, hash, created) VALUES (?1, 'bootstrap', ?2, ?3)",
        params![user_id, token_hash, now],
    )
    .map_err(internal)?;
    Ok(true)
}

/// What a principal is made of; `principal_row` reads them in this order.
const PRINCIPAL_COLUMNS: &str = "u.id, u.name, u.role, o.id, o.name, o.kind, o.anonymous";

/// Builds a principal from the values of `PRINCIPAL_COLUMNS` and its organisation's groups.
fn principal_from(
    conn: &Connection,
    row: (i64, String, String, i64, String, String, bool),
    token_id: i64,
    read_only: bool,
) -> Result<Principal, StoreError> {
    let (user_id, user_name, role, org_id, org_name, kind, anonymous) = row;
    let role = Role::parse(&role)
        .ok_or_else(|| corrupt(format!("unknown role '{role}' for user {user_id}")))?;
    let org_kind = OrgKind::parse(&kind)
        .ok_or_else(|| corrupt(format!("unknown organisation kind '{kind}'")))?;
    let groups = conn
        .prepare_cached("SELECT grp FROM group_members WHERE org = ?1 ORDER BY grp")
        .map_err(internal)?
        .query_map(params![org_id], |r| r.get(0))
        .map_err(internal)?
        .collect::<Result<Vec<i64>, _>>()
        .map_err(internal)?;
    // A token's profile replaces its organisation's.
    let (by_org, by_token) = super::feeds::profiles(conn, org_id, token_id)?;
    Ok(Principal {
        profile: by_token.or(by_org).unwrap_or_default(),
        user_id,
        user_name,
        role,
        org_id,
        org_name,
        org_kind,
        org_anonymous: anonymous,
        groups,
        token_id,
        read_only,
        source: None,
    })
}

type PrincipalRow = (i64, String, String, i64, String, String, bool);

fn principal_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<PrincipalRow> {
    Ok((
        r.get(at)?,
        r.get(at + 1)?,
        r.get(at + 2)?,
        r.get(at + 3)?,
        r.get(at + 4)?,
        r.get(at + 5)?,
        r.get(at + 6)?,
    ))
}

pub fn principal_for_token(
    conn: &Connection,
    token_hash: &[u8],
    now: Timestamp,
) -> Result<Option<Principal>, StoreError> {
    let sql = format!(
        "SELECT t.id, t.read_only, {PRINCIPAL_COLUMNS}
           FROM tokens t JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = u.org
          WHERE t.hash = ?1 AND t.revoked IS NULL AND (t.expires IS NULL OR t.expires > ?2)"
    );
    let row = conn
        .prepare_cached(&sql)
        .map_err(internal)?
        .query_row(params![token_hash, now.as_micros()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, bool>(1)?,
                principal_row(r, 2)?,
            ))
        })
        .optional()
        .map_err(internal)?;
    row.map(|(token_id, read_only, p)| principal_from(conn, p, token_id, read_only))
        .transpose()
}

pub fn login(conn: &Connection, user_name: &str) -> Result<Option<Login>, StoreError> {
    let sql = format!(
        "SELECT {PRINCIPAL_COLUMNS}, u.password FROM users u JOIN orgs o ON o.id = u.org
          WHERE u.name = ?1"
    );
    let row = conn
        .prepare_cached(&sql)
        .map_err(internal)?
        .query_row(params![user_name], |r| {
            Ok((principal_row(r, 0)?, r.get::<_, Option<String>>(7)?))
        })
        .optional()
        .map_err(internal)?;
    row.map(|(p, password_hash)| {
        Ok(Login {
            principal: principal_from(conn, p, 0, false)?,
            password_hash,
        })
    })
    .transpose()
}

pub fn list_tokens(conn: &Connection) -> Result<Vec<TokenInfo>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT t.id, u.name, o.name, t.name, t.read_only, t.created, t.expires, t.revoked
               FROM tokens t JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = u.org
              ORDER BY t.id",
        )
        .map_err(internal)?;
    stmt.query_map([], |r| {
        Ok(TokenInfo {
            id: r.get(0)?,
            user_name: r.get(1)?,
            org: r.get(2)?,
            name: r.get(3)?,
            read_only: r.get(4)?,
            created: Timestamp::from_micros(r.get(5)?),
            expires: r.get::<_, Option<i64>>(6)?.map(Timestamp::from_micros),
            revoked: r.get::<_, Option<i64>>(7)?.map(Timestamp::from_micros),
        })
    })
    .map_err(internal)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(internal)
}

const ORG_COLUMNS: &str = "id, name, kind, sector, country, contacts, anonymous, identity, created";

fn org_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Org, StoreError>> {
    let kind: String = r.get(2)?;
    let sector: String = r.get(3)?;
    let contacts: String = r.get(5)?;
    let (Some(kind), Some(sector)) = (OrgKind::parse(&kind), Sector::parse(&sector)) else {
        return Ok(Err(corrupt(format!(
            "organisation {} has kind '{kind}' and sector '{sector}'",
            r.get::<_, i64>(0)?
        ))));
    };
    let contacts: Vec<String> = match serde_json::from_str(&contacts) {
        Ok(c) => c,
        Err(e) => return Ok(Err(StoreError::Internal(Box::new(e)))),
    };
    Ok(Ok(Org {
        id: r.get(0)?,
        name: r.get(1)?,
        kind,
        sector,
        country: r.get(4)?,
        contacts,
        anonymous: r.get(6)?,
        identity: r.get(7)?,
        created: Timestamp::from_micros(r.get(8)?),
    }))
}

pub fn list_orgs(conn: &Connection) -> Result<Vec<Org>, StoreError> {
    let sql = format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY id");
    conn.prepare_cached(&sql)
        .map_err(internal)?
        .query_map([], org_from_row)
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?
        .into_iter()
        .collect()
}

pub fn find_org(conn: &Connection, name: &str) -> Result<Option<Org>, StoreError> {
    let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE name = ?1");
    conn.prepare_cached(&sql)
        .map_err(internal)?
        .query_row(params![name], org_from_row)
        .optional()
        .map_err(internal)?
        .transpose()
}

pub fn list_users(conn: &Connection) -> Result<Vec<UserInfo>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT u.id, u.name, o.name, u.role, u.password IS NOT NULL, u.created
               FROM users u JOIN orgs o ON o.id = u.org ORDER BY u.id",
        )
        .map_err(internal)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    rows.into_iter()
        .map(|(id, name, org, role, has_password, created)| {
            Ok(UserInfo {
                role: Role::parse(&role)
                    .ok_or_else(|| corrupt(format!("unknown role '{role}' for user {id}")))?,
                id,
                name,
                org,
                has_password,
                created: Timestamp::from_micros(created),
            })
        })
        .collect()
}

pub fn list_groups(conn: &Connection) -> Result<Vec<TrustGroup>, StoreError> {
    let mut groups: Vec<TrustGroup> = conn
        .prepare_cached("SELECT id, name FROM trust_groups ORDER BY name")
        .map_err(internal)?
        .query_map([], |r| {
            Ok(TrustGroup {
                id: r.get(0)?,
                name: r.get(1)?,
                members: Vec::new(),
            })
        })
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT m.grp, o.name FROM group_members m JOIN orgs o ON o.id = m.org ORDER BY o.name",
        )
        .map_err(internal)?;
    let members = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    for (grp, org) in members {
        if let Some(g) = groups.iter_mut().find(|g| g.id == grp) {
            g.members.push(org);
        }
    }
    Ok(groups)
}

// ---- feeds ----

fn grants_of(conn: &Connection, seq: i64) -> Result<Vec<Grant>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT g.org, o.name, g.grp, t.name, g.can_read, g.can_write
               FROM grants g
               LEFT JOIN orgs o ON o.id = g.org
               LEFT JOIN trust_groups t ON t.id = g.grp
              WHERE g.collection = ?1
              ORDER BY g.grp IS NULL, coalesce(t.name, o.name)",
        )
        .map_err(internal)?;
    let rows = stmt
        .query_map(params![seq], |r| {
            Ok((
                r.get::<_, Option<i64>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, bool>(5)?,
            ))
        })
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    rows.into_iter()
        .map(|row| {
            let grantee = match row {
                (Some(id), Some(name), None, None, _, _) => Grantee::Org { id, name },
                (None, None, Some(id), Some(name), _, _) => Grantee::Group { id, name },
                _ => {
                    return Err(corrupt(format!(
                        "a grant on collection {seq} has no grantee"
                    )));
                }
            };
            Ok(Grant {
                grantee,
                read: row.4,
                write: row.5,
            })
        })
        .collect()
}

struct FeedRow {
    seq: i64,
    id: String,
    name: String,
    description: Option<String>,
    tlp: i64,
    severity: i64,
    volume: String,
    kind: String,
    inbox: bool,
    retired: bool,
}

const FEED_COLUMNS: &str =
    "seq, id, name, description, default_tlp, severity, volume, kind, inbox, retired";

fn feed_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FeedRow> {
    Ok(FeedRow {
        seq: r.get(0)?,
        id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        tlp: r.get(4)?,
        severity: r.get(5)?,
        volume: r.get(6)?,
        kind: r.get(7)?,
        inbox: r.get(8)?,
        retired: r.get(9)?,
    })
}

fn feed_from(conn: &Connection, row: FeedRow) -> Result<Feed, StoreError> {
    let name = row.name;
    Ok(Feed {
        default_tlp: Tlp::from_code(row.tlp)
            .ok_or_else(|| corrupt(format!("feed {name} has TLP code {}", row.tlp)))?,
        severity: Severity::from_code(row.severity)
            .ok_or_else(|| corrupt(format!("feed {name} has severity {}", row.severity)))?,
        volume: Volume::parse(&row.volume).map_err(corrupt)?,
        kind: FeedKind::parse(&row.kind).map_err(corrupt)?,
        inbox: row.inbox,
        retired: row.retired,
        grants: grants_of(conn, row.seq)?,
        id: row.id,
        name,
        description: row.description,
    })
}

pub fn list_feeds(conn: &Connection) -> Result<Vec<Feed>, StoreError> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {FEED_COLUMNS} FROM collections ORDER BY seq"
        ))
        .map_err(internal)?
        .query_map([], feed_row)
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    rows.into_iter().map(|r| feed_from(conn, r)).collect()
}

pub fn find_feed(conn: &Connection, key: &str) -> Result<Option<Feed>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {FEED_COLUMNS} FROM collections WHERE id = ?1
             UNION ALL
             SELECT {FEED_COLUMNS} FROM collections WHERE name = ?1
             LIMIT 1"
        ))
        .map_err(internal)?
        .query_row(params![key], feed_row)
        .optional()
        .map_err(internal)?;
    row.map(|r| feed_from(conn, r)).transpose()
}
