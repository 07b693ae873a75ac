//! The admin HTTP API under `/api/v1/`: organisations, users, tokens, trust groups, feeds and
//! grants, the audit log. Each handler parses its input, calls one `Relay` service (which
//! checks the caller's rights and audits the change) and renders an explicit view; domain
//! records are never serialised as they are.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, put};
use relay_core::{
    AuditQuery, Error, Feed, FeedKind, GranteeName, NewFeed, NewOrg, Org, OrgKind, Role, Sector,
    Severity, Tlp, TokenInfo, UserInfo, Volume,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stix::Timestamp;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::taxii::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/directory", get(directory))
        .route("/api/v1/orgs", get(list_orgs).post(create_org))
        .route("/api/v1/orgs/{name}", get(get_org).patch(update_org))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route("/api/v1/users/{name}/password", put(set_password))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", axum::routing::delete(revoke_token))
        .route("/api/v1/groups", get(list_groups).post(create_group))
        .route(
            "/api/v1/groups/{group}/members/{org}",
            put(add_member).delete(remove_member),
        )
        .route("/api/v1/feeds", get(list_feeds).post(create_feed))
        .route(
            "/api/v1/feeds/{feed}/grants/{kind}/{name}",
            put(grant).delete(ungrant),
        )
        .route("/api/v1/audit", get(audit))
}

/// Reads a JSON request body into `T`, naming what is wrong when it cannot.
pub(super) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Invalid(format!("invalid request body: {e}")).into())
}

pub(super) fn ok<T: Serialize>(v: &T) -> Response {
    json(StatusCode::OK, v)
}

pub(super) fn created<T: Serialize>(v: &T) -> Response {
    json(StatusCode::CREATED, v)
}

pub(super) fn no_content() -> Response {
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

fn time(t: Option<Timestamp>) -> Option<String> {
    t.map(|t| t.to_string())
}

// ---- views ----

#[derive(Serialize)]
struct MeView {
    user: String,
    role: &'static str,
    org: String,
    org_kind: &'static str,
    read_only: bool,
}

#[derive(Serialize)]
struct OrgView {
    name: String,
    kind: &'static str,
    sector: &'static str,
    country: String,
    contacts: Vec<String>,
    anonymous: bool,
    identity: Value,
    created: String,
}

impl From<Org> for OrgView {
    fn from(o: Org) -> Self {
        OrgView {
            identity: o.identity_object(),
            name: o.name,
            kind: o.kind.as_str(),
            sector: o.sector.as_str(),
            country: o.country,
            contacts: o.contacts,
            anonymous: o.anonymous,
            created: o.created.to_string(),
        }
    }
}

#[derive(Serialize)]
struct DirectoryView {
    name: String,
    kind: &'static str,
    sector: &'static str,
    country: String,
    identity: String,
}

#[derive(Serialize)]
struct UserView {
    name: String,
    org: String,
    role: &'static str,
    has_password: bool,
    created: String,
}

impl From<UserInfo> for UserView {
    fn from(u: UserInfo) -> Self {
        UserView {
            name: u.name,
            org: u.org,
            role: u.role.as_str(),
            has_password: u.has_password,
            created: u.created.to_string(),
        }
    }
}

#[derive(Serialize)]
struct TokenView {
    id: i64,
    user: String,
    org: String,
    name: String,
    read_only: bool,
    created: String,
    expires: Option<String>,
    revoked: Option<String>,
}

impl From<TokenInfo> for TokenView {
    fn from(t: TokenInfo) -> Self {
        TokenView {
            id: t.id,
            user: t.user_name,
            org: t.org,
            name: t.name,
            read_only: t.read_only,
            created: t.created.to_string(),
            expires: time(t.expires),
            revoked: time(t.revoked),
        }
    }
}

#[derive(Serialize)]
struct GroupView {
    name: String,
    members: Vec<String>,
}

#[derive(Serialize)]
struct GrantView {
    kind: &'static str,
    name: String,
    read: bool,
    write: bool,
}

#[derive(Serialize)]
pub(super) struct FeedView {
    id: String,
    name: String,
    description: Option<String>,
    default_tlp: &'static str,
    severity: &'static str,
    volume: &'static str,
    kind: &'static str,
    inbox: bool,
    retired: bool,
    grants: Vec<GrantView>,
}

impl From<Feed> for FeedView {
    fn from(f: Feed) -> Self {
        FeedView {
            id: f.id,
            name: f.name,
            description: f.description,
            default_tlp: f.default_tlp.as_str(),
            severity: f.severity.as_str(),
            volume: f.volume.as_str(),
            kind: f.kind.as_str(),
            inbox: f.inbox,
            retired: f.retired,
            grants: f
                .grants
                .into_iter()
                .map(|g| GrantView {
                    kind: g.grantee.kind(),
                    name: g.grantee.name().to_owned(),
                    read: g.read,
                    write: g.write,
                })
                .collect(),
        }
    }
}

// ---- requests ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrgRequest {
    name: String,
    sector: String,
    country: String,
    #[serde(default)]
    contacts: Vec<String>,
    #[serde(default)]
    partner: bool,
    #[serde(default)]
    anonymous: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgPatch {
    anonymous: Option<bool>,
    contacts: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUserRequest {
    org: String,
    name: String,
    role: String,
    password: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordRequest {
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTokenRequest {
    user: String,
    name: String,
    expires_days: Option<u32>,
    #[serde(default)]
    read_only: bool,
}

#[derive(Serialize)]
struct CreatedToken {
    id: i64,
    /// The secret, shown this once.
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroupRequest {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewFeedRequest {
    name: String,
    description: Option<String>,
    default_tlp: Option<String>,
    severity: Option<String>,
    volume: Option<String>,
    /// `regular` (the default) or `test`.
    kind: Option<String>,
    #[serde(default)]
    inbox: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantRequest {
    #[serde(default)]
    read: bool,
    #[serde(default)]
    write: bool,
}

// ---- handlers ----

async fn me(Caller(who): Caller) -> Response {
    ok(&MeView {
        user: who.user_name,
        role: who.role.as_str(),
        org: who.org_name,
        org_kind: who.org_kind.as_str(),
        read_only: who.read_only,
    })
}

async fn directory(State(s): State<AppState>, Caller(who): Caller) -> Result<Response, ApiError> {
    let entries: Vec<DirectoryView> = s
        .relay
        .directory(&who)
        .await?
        .into_iter()
        .map(|d| DirectoryView {
            name: d.name,
            kind: d.kind.as_str(),
            sector: d.sector.as_str(),
            country: d.country,
            identity: d.identity,
        })
        .collect();
    Ok(ok(&entries))
}

async fn list_orgs(State(s): State<AppState>, Caller(who): Caller) -> Result<Response, ApiError> {
    let orgs: Vec<OrgView> = s
        .relay
        .list_orgs(&who)
        .await?
        .into_iter()
        .map(OrgView::from)
        .collect();
    Ok(ok(&orgs))
}

async fn get_org(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let org = s
        .relay
        .list_orgs(&who)
        .await?
        .into_iter()
        .find(|o| o.name == name)
        .ok_or_else(|| Error::NotFound(format!("no organisation '{name}'")))?;
    Ok(ok(&OrgView::from(org)))
}

async fn create_org(
    State(s): State<AppState>,
    Caller(who): Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let r: NewOrgRequest = body(&bytes)?;
    let sector = Sector::parse(&r.sector).ok_or_else(|| {
        Error::Invalid(format!(
            "unknown sector '{}'; one of {}",
            r.sector,
            Sector::names()
        ))
    })?;
    let new = NewOrg {
        name: r.name,
        kind: if r.partner {
            OrgKind::Partner
        } else {
            OrgKind::Member
        },
        sector,
        country: r.country,
        contacts: r.contacts,
        anonymous: r.anonymous,
    };
    let org = s.relay.create_org(&who, new).await?;
    Ok(created(&OrgView::from(org)))
}

async fn update_org(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let p: OrgPatch = body(&bytes)?;
    let org = s
        .relay
        .update_org(&who, &name, p.anonymous, p.contacts)
        .await?;
    Ok(ok(&OrgView::from(org)))
}

async fn list_users(State(s): State<AppState>, Caller(who): Caller) -> Result<Response, ApiError> {
    let users: Vec<UserView> = s
        .relay
        .list_users(&who)
        .await?
        .into_iter()
        .map(UserView::from)
        .collect();
    Ok(ok(&users))
}

async fn create_user(
    State(s): State<AppState>,
    Caller(who): Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let r: NewUserRequest = body(&bytes)?;
    let role = Role::parse(&r.role).ok_or_else(|| {
        Error::Invalid(format!(
            "unknown role '{}'; one of {}",
            r.role,
            Role::names()
        ))
    })?;
    let user = s
        .relay
        .create_user(&who, &r.org, &r.name, role, r.password.as_deref())
        .await?;
    Ok(created(&UserView::from(user)))
}

async fn set_password(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let r: PasswordRequest = body(&bytes)?;
    s.relay.set_password(&who, &name, &r.password).await?;
    Ok(no_content())
}

async fn list_tokens(State(s): State<AppState>, Caller(who): Caller) -> Result<Response, ApiError> {
    let tokens: Vec<TokenView> = s
        .relay
        .list_tokens(&who)
        .await?
        .into_iter()
        .map(TokenView::from)
        .collect();
    Ok(ok(&tokens))
}

async fn create_token(
    State(s): State<AppState>,
    Caller(who): Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let r: NewTokenRequest = body(&bytes)?;
    let (id, token) = s
        .relay
        .create_token(&who, &r.user, &r.name, r.expires_days, r.read_only)
        .await?;
    Ok(created(&CreatedToken { id, token }))
}

async fn revoke_token(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::NotFound(format!("no token '{id}'")))?;
    s.relay.revoke_token(&who, id).await?;
    Ok(no_content())
}

async fn list_groups(State(s): State<AppState>, Caller(who): Caller) -> Result<Response, ApiError> {
    let groups: Vec<GroupView> = s
        .relay
        .list_groups(&who)
        .await?
        .into_iter()
        .map(|g| GroupView {
            name: g.name,
            members: g.members,
        })
        .collect();
    Ok(ok(&groups))
}

async fn create_group(
    State(s): State<AppState>,
    Caller(who): Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let r: NewGroupRequest = body(&bytes)?;
    s.relay.create_group(&who, &r.name).await?;
    Ok(created(&GroupView {
        name: r.name,
        members: Vec::new(),
    }))
}

async fn add_member(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((group, org)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.relay.group_member(&who, &group, &org, true).await?;
    Ok(no_content())
}

async fn remove_member(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((group, org)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.relay.group_member(&who, &group, &org, false).await?;
    Ok(no_content())
}

async fn list_feeds(State(s): State<AppState>, Caller(who): Caller) -> Result<Response, ApiError> {
    let feeds: Vec<FeedView> = s
        .relay
        .feeds_with_grants(&who)
        .await?
        .into_iter()
        .map(FeedView::from)
        .collect();
    Ok(ok(&feeds))
}

async fn create_feed(
    State(s): State<AppState>,
    Caller(who): Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let r: NewFeedRequest = body(&bytes)?;
    let mut new = NewFeed::regular(&r.name);
    new.description = r.description;
    new.inbox = r.inbox;
    if let Some(t) = r.default_tlp.as_deref() {
        new.default_tlp = parse_tlp(t)?;
    }
    if let Some(v) = r.severity.as_deref() {
        new.severity = Severity::parse(v).map_err(Error::Invalid)?;
    }
    if let Some(v) = r.volume.as_deref() {
        new.volume = Volume::parse(v).map_err(Error::Invalid)?;
    }
    match r.kind.as_deref() {
        None | Some("regular") => {}
        Some("test") => new.kind = FeedKind::Test,
        Some(other) => {
            return Err(Error::Invalid(format!(
                "unknown feed kind '{other}': expected regular or test"
            ))
            .into());
        }
    }
    let feed = s.relay.add_feed(&who, new).await?;
    Ok(created(&FeedView::from(feed)))
}

pub(super) fn parse_tlp(t: &str) -> Result<Tlp, Error> {
    Tlp::parse(t).ok_or_else(|| {
        Error::Invalid(format!(
            "unknown TLP level '{t}'; one of clear, green, amber, amber+strict, red"
        ))
    })
}

fn grantee(kind: &str, name: String) -> Result<GranteeName, ApiError> {
    match kind {
        "org" => Ok(GranteeName::Org(name)),
        "group" => Ok(GranteeName::Group(name)),
        other => {
            Err(Error::NotFound(format!("no grantee kind '{other}': use 'org' or 'group'")).into())
        }
    }
}

async fn grant(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((feed, kind, name)): Path<(String, String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let r: GrantRequest = body(&bytes)?;
    let f = s
        .relay
        .grant(&who, &feed, grantee(&kind, name)?, r.read, r.write)
        .await?;
    Ok(ok(&FeedView::from(f)))
}

async fn ungrant(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((feed, kind, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let f = s.relay.ungrant(&who, &feed, grantee(&kind, name)?).await?;
    Ok(ok(&FeedView::from(f)))
}

/// `GET /api/v1/audit?since=T&action=A&after=SEQ&limit=N`: JSON lines, oldest first. A full
/// page ends with a `Link: <...>; rel="next"` header that continues after its last entry.
async fn audit(
    State(s): State<AppState>,
    Caller(who): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let params = super::Params::parse(q);
    let get = |name: &str| params.get(name);
    let since = get("since")
        .map(|t| {
            Timestamp::parse(t).map_err(|e| Error::Invalid(format!("invalid since '{t}': {e}")))
        })
        .transpose()?;
    let number = |name: &str| -> Result<Option<i64>, ApiError> {
        get(name)
            .map(|v| {
                v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    ApiError::from(Error::Invalid(format!(
                        "invalid {name} '{v}': expected a positive integer"
                    )))
                })
            })
            .transpose()
    };
    let after_seq = number("after")?;
    let limit = number("limit")?.map_or(1000, |n| n.min(10_000) as usize);
    let query = AuditQuery {
        since,
        after_seq,
        action: get("action").map(str::to_owned),
        limit,
    };
    let records = s.relay.audit_log(&who, &query).await?;
    let mut text = String::new();
    for r in &records {
        text.push_str(&r.to_json().to_string());
        text.push('\n');
    }
    let mut resp = Response::new(axum::body::Body::from(text));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    if records.len() == limit
        && let Some(last) = records.last()
    {
        let mut next = format!("/api/v1/audit?after={}&limit={limit}", last.seq);
        if let Some(t) = since {
            next.push_str(&format!("&since={t}"));
        }
        if let Some(a) = &query.action {
            next.push_str(&format!(
                "&action={}",
                form_urlencoded::byte_serialize(a.as_bytes()).collect::<String>()
            ));
        }
        if let Ok(v) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}
