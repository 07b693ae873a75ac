//! The ISAC administrator's pages: organisations, users, trust groups, feed rights and the
//! audit log. The services refuse anyone else (an organisation's administrator sees its own
//! users); the pages only list and submit.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::response::Response;
use relay_core::{AuditQuery, Error, GranteeName, NewOrg, OrgKind, Role, Sector};
use serde::Deserialize;
use stix::Timestamp;

use super::session::Web;
use super::view::{tlp_label, when};
use super::{Chrome, done, flash, html};
use crate::AppState;

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn chrome(s: &AppState, web: &Web, title: &'static str, done: Option<&str>) -> Chrome {
    let mut c = web.chrome(s, title);
    c.flash = flash(web.t(), done);
    c
}

async fn org_names(s: &AppState, web: &Web) -> Result<Vec<String>, Error> {
    Ok(s.relay
        .list_orgs(&web.who)
        .await?
        .into_iter()
        .map(|o| o.name)
        .collect())
}

fn require_admin(web: &Web) -> Result<(), Error> {
    if web.who.is_isac_admin() {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "the administration pages are for ISAC administrators".into(),
        ))
    }
}

#[derive(Template)]
#[template(path = "web/admin_orgs.html")]
struct OrgsPage {
    c: Chrome,
    orgs: Vec<(String, &'static str, &'static str, String, bool, String)>,
    sectors: Vec<&'static str>,
}

pub async fn orgs(State(s): State<AppState>, web: Web, Query(q): Query<DoneQuery>) -> Response {
    let r = async {
        require_admin(&web)?;
        let orgs = s
            .relay
            .list_orgs(&web.who)
            .await?
            .into_iter()
            .map(|o| {
                (
                    o.name,
                    o.kind.as_str(),
                    o.sector.as_str(),
                    o.country,
                    o.anonymous,
                    when(o.created),
                )
            })
            .collect();
        Ok(html(&OrgsPage {
            c: chrome(&s, &web, web.t().orgs, q.done.as_deref()),
            orgs,
            sectors: Sector::ALL.iter().map(|x| x.as_str()).collect(),
        }))
    }
    .await;
    web.answer(&s, r)
}

#[derive(Deserialize)]
pub struct OrgForm {
    csrf: String,
    name: String,
    kind: String,
    sector: String,
    country: String,
    anonymous: Option<String>,
}

pub async fn create_org(State(s): State<AppState>, web: Web, Form(f): Form<OrgForm>) -> Response {
    let r = async {
        web.check_form(&s, &f.csrf)?;
        let kind = OrgKind::parse(&f.kind)
            .filter(|k| *k != OrgKind::Operator)
            .ok_or_else(|| Error::Invalid(format!("kind '{}': member or partner", f.kind)))?;
        let sector = Sector::parse(&f.sector)
            .ok_or_else(|| Error::Invalid(format!("unknown sector '{}'", f.sector)))?;
        s.relay
            .create_org(
                &web.who,
                NewOrg {
                    name: f.name.trim().to_owned(),
                    kind,
                    sector,
                    country: f.country.trim().to_ascii_uppercase(),
                    contacts: Vec::new(),
                    anonymous: f.anonymous.is_some(),
                },
            )
            .await?;
        Ok(done("/admin/orgs", "ok"))
    }
    .await;
    web.answer(&s, r)
}

#[derive(Template)]
#[template(path = "web/admin_users.html")]
struct UsersPage {
    c: Chrome,
    users: Vec<(String, String, &'static str, bool, String)>,
    orgs: Vec<String>,
    roles: Vec<&'static str>,
}

pub async fn users(State(s): State<AppState>, web: Web, Query(q): Query<DoneQuery>) -> Response {
    let r = async {
        require_admin(&web)?;
        let users = s
            .relay
            .list_users(&web.who)
            .await?
            .into_iter()
            .map(|u| {
                (
                    u.name,
                    u.org,
                    u.role.as_str(),
                    u.has_password,
                    when(u.created),
                )
            })
            .collect();
        let orgs = org_names(&s, &web).await?;
        Ok(html(&UsersPage {
            c: chrome(&s, &web, web.t().users, q.done.as_deref()),
            users,
            orgs,
            roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        }))
    }
    .await;
    web.answer(&s, r)
}

#[derive(Deserialize)]
pub struct UserForm {
    csrf: String,
    name: String,
    org: String,
    role: String,
    password: Option<String>,
}

pub async fn create_user(State(s): State<AppState>, web: Web, Form(f): Form<UserForm>) -> Response {
    let r = async {
        web.check_form(&s, &f.csrf)?;
        let role = Role::parse(&f.role).ok_or_else(|| {
            Error::Invalid(format!("unknown role '{}': {}", f.role, Role::names()))
        })?;
        let password = f.password.as_deref().filter(|p| !p.is_empty());
        s.relay
            .create_user(&web.who, &f.org, f.name.trim(), role, password)
            .await?;
        Ok(done("/admin/users", "ok"))
    }
    .await;
    web.answer(&s, r)
}

#[derive(Template)]
#[template(path = "web/admin_groups.html")]
struct GroupsPage {
    c: Chrome,
    groups: Vec<(String, String)>,
    orgs: Vec<String>,
}

pub async fn groups(State(s): State<AppState>, web: Web, Query(q): Query<DoneQuery>) -> Response {
    let r = async {
        require_admin(&web)?;
        let groups = s
            .relay
            .list_groups(&web.who)
            .await?
            .into_iter()
            .map(|g| (g.name, g.members.join(", ")))
            .collect();
        let orgs = org_names(&s, &web).await?;
        Ok(html(&GroupsPage {
            c: chrome(&s, &web, web.t().groups, q.done.as_deref()),
            groups,
            orgs,
        }))
    }
    .await;
    web.answer(&s, r)
}

#[derive(Deserialize)]
pub struct NameForm {
    csrf: String,
    name: String,
}

pub async fn create_group(
    State(s): State<AppState>,
    web: Web,
    Form(f): Form<NameForm>,
) -> Response {
    let r = async {
        web.check_form(&s, &f.csrf)?;
        s.relay.create_group(&web.who, f.name.trim()).await?;
        Ok(done("/admin/groups", "ok"))
    }
    .await;
    web.answer(&s, r)
}

#[derive(Deserialize)]
pub struct MemberForm {
    csrf: String,
    group: String,
    org: String,
    action: String,
}

pub async fn group_member(
    State(s): State<AppState>,
    web: Web,
    Form(f): Form<MemberForm>,
) -> Response {
    let r = async {
        web.check_form(&s, &f.csrf)?;
        s.relay
            .group_member(&web.who, &f.group, &f.org, f.action == "add")
            .await?;
        Ok(done("/admin/groups", "ok"))
    }
    .await;
    web.answer(&s, r)
}

#[derive(Template)]
#[template(path = "web/admin_feeds.html")]
struct FeedsPage {
    c: Chrome,
    feeds: Vec<(String, &'static str, &'static str, String, String)>,
    orgs: Vec<String>,
    groups: Vec<String>,
}

pub async fn feeds(State(s): State<AppState>, web: Web, Query(q): Query<DoneQuery>) -> Response {
    let r = async {
        let feeds = s
            .relay
            .feeds_with_grants(&web.who)
            .await?
            .into_iter()
            .map(|f| {
                let grants = f
                    .grants
                    .iter()
                    .map(|g| {
                        let rights = match (g.read, g.write) {
                            (true, true) => "rw",
                            (true, false) => "r",
                            _ => "w",
                        };
                        format!("{} {}:{rights}", g.grantee.kind(), g.grantee.name())
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    f.name,
                    f.kind.as_str(),
                    f.severity.as_str(),
                    tlp_label(f.default_tlp),
                    grants,
                )
            })
            .collect();
        let orgs = org_names(&s, &web).await?;
        let groups = s
            .relay
            .list_groups(&web.who)
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect();
        Ok(html(&FeedsPage {
            c: chrome(&s, &web, web.t().feed_rights, q.done.as_deref()),
            feeds,
            orgs,
            groups,
        }))
    }
    .await;
    web.answer(&s, r)
}

#[derive(Deserialize)]
pub struct GrantForm {
    csrf: String,
    feed: String,
    grantee: String,
    read: Option<String>,
    write: Option<String>,
    action: String,
}

pub async fn grant(State(s): State<AppState>, web: Web, Form(f): Form<GrantForm>) -> Response {
    let r = async {
        web.check_form(&s, &f.csrf)?;
        let grantee = match f.grantee.split_once(':') {
            Some(("org", name)) => GranteeName::Org(name.to_owned()),
            Some(("group", name)) => GranteeName::Group(name.to_owned()),
            _ => return Err(Error::Invalid(format!("bad grantee '{}'", f.grantee))),
        };
        if f.action == "revoke" {
            s.relay.ungrant(&web.who, &f.feed, grantee).await?;
        } else {
            s.relay
                .grant(
                    &web.who,
                    &f.feed,
                    grantee,
                    f.read.is_some(),
                    f.write.is_some(),
                )
                .await?;
        }
        Ok(done("/admin/feeds", "ok"))
    }
    .await;
    web.answer(&s, r)
}

#[derive(Template)]
#[template(path = "web/admin_audit.html")]
struct AuditPage {
    c: Chrome,
    action: String,
    since: String,
    #[allow(clippy::type_complexity)]
    records: Vec<(
        i64,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
    )>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct AuditParams {
    action: Option<String>,
    since: Option<String>,
    after: Option<i64>,
}

/// How many entries an audit page shows.
const AUDIT_PAGE: usize = 200;

pub async fn audit(State(s): State<AppState>, web: Web, Query(q): Query<AuditParams>) -> Response {
    let r = async {
        let action = q.action.unwrap_or_default();
        let since_text = q.since.unwrap_or_default();
        // A day back unless asked: the log is read oldest first.
        let since = if since_text.trim().is_empty() {
            Timestamp::from_micros(Timestamp::now().as_micros() - 86_400_000_000)
        } else {
            let day: jiff::civil::Date = since_text
                .trim()
                .parse()
                .map_err(|_| Error::Invalid(format!("'{since_text}' is not a date")))?;
            let z = day
                .to_zoned(jiff::tz::TimeZone::UTC)
                .map_err(|e| Error::Invalid(e.to_string()))?;
            Timestamp::from_micros(z.timestamp().as_microsecond())
        };
        let records = s
            .relay
            .audit_log(
                &web.who,
                &AuditQuery {
                    since: Some(since),
                    after_seq: q.after,
                    action: Some(action.trim().to_owned()).filter(|a| !a.is_empty()),
                    limit: AUDIT_PAGE,
                },
            )
            .await?;
        let next = (records.len() == AUDIT_PAGE).then(|| {
            format!(
                "/admin/audit?after={}&action={}&since={}",
                records.last().map_or(0, |r| r.seq),
                form_urlencoded::byte_serialize(action.as_bytes()).collect::<String>(),
                form_urlencoded::byte_serialize(since_text.as_bytes()).collect::<String>()
            )
        });
        let rows = records
            .into_iter()
            .map(|r| {
                let e = r.entry;
                (
                    r.seq,
                    e.at.to_string(),
                    e.actor,
                    e.org.unwrap_or_default(),
                    e.source.unwrap_or_default(),
                    e.action,
                    e.feed.unwrap_or_default(),
                    e.count.map(|c| c.to_string()).unwrap_or_default(),
                    e.detail.unwrap_or_default(),
                )
            })
            .collect();
        Ok(html(&AuditPage {
            c: web.chrome(&s, web.t().audit_log),
            action,
            since: since_text,
            records: rows,
            next,
        }))
    }
    .await;
    web.answer(&s, r)
}

#[derive(Template)]
#[template(path = "web/admin_peers.html")]
struct PeersPage {
    c: Chrome,
    #[allow(clippy::type_complexity)]
    peers: Vec<(
        String,
        &'static str,
        String,
        String,
        String,
        String,
        String,
        u64,
        String,
    )>,
}

/// Federation peers and where each stands; never their credentials.
pub async fn peers(State(s): State<AppState>, web: Web) -> Response {
    let r = async {
        let opt = |t: Option<Timestamp>| t.map_or_else(String::new, when);
        let peers = s
            .relay
            .peers(&web.who)
            .await?
            .into_iter()
            .map(|p| {
                (
                    p.spec.name,
                    p.spec.direction.as_str(),
                    p.spec.api_root,
                    p.spec.collection,
                    opt(p.cursor),
                    opt(p.last_run),
                    opt(p.last_success),
                    p.transferred,
                    p.last_error.unwrap_or_default(),
                )
            })
            .collect();
        Ok(html(&PeersPage {
            c: web.chrome(&s, web.t().federation),
            peers,
        }))
    }
    .await;
    web.answer(&s, r)
}
