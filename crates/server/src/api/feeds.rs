//! The feed catalogue's API: feed settings and retirement, routing rules, consumer profiles,
//! and who reported an observable.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, patch};
use relay_core::profile::Profile;
use relay_core::routing::{RoutingRule, RuleField, RuleMatch};
use relay_core::store::ProfileOwner;
use relay_core::{Error, FeedSettings, Severity, Volume};
use serde::{Deserialize, Serialize};

use super::admin::{FeedView, body, created, no_content, ok, parse_tlp};
use super::id_param;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/feeds/{feed}", patch(update_feed))
        .route("/api/v1/routing-rules", get(list_rules).post(add_rule))
        .route(
            "/api/v1/routing-rules/{id}",
            axum::routing::delete(remove_rule),
        )
        .route(
            "/api/v1/orgs/{name}/profile",
            get(get_org_profile)
                .put(put_org_profile)
                .delete(delete_org_profile),
        )
        .route(
            "/api/v1/tokens/{id}/profile",
            get(get_token_profile)
                .put(put_token_profile)
                .delete(delete_token_profile),
        )
        .route("/api/v1/reporters", get(reporters))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedPatch {
    description: Option<String>,
    default_tlp: Option<String>,
    severity: Option<String>,
    volume: Option<String>,
    inbox: Option<bool>,
    retired: Option<bool>,
}

async fn update_feed(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(feed): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let p: FeedPatch = body(&bytes)?;
    let settings = FeedSettings {
        description: p.description,
        default_tlp: p.default_tlp.as_deref().map(parse_tlp).transpose()?,
        severity: p
            .severity
            .as_deref()
            .map(Severity::parse)
            .transpose()
            .map_err(Error::Invalid)?,
        volume: p
            .volume
            .as_deref()
            .map(Volume::parse)
            .transpose()
            .map_err(Error::Invalid)?,
        inbox: p.inbox,
        retired: p.retired,
    };
    let f = s.relay.update_feed(&who, &feed, settings).await?;
    Ok(ok(&FeedView::from(f)))
}

#[derive(Serialize)]
struct RuleView {
    id: i64,
    field: &'static str,
    #[serde(rename = "match")]
    matching: &'static str,
    value: String,
    feed: String,
}

impl From<RoutingRule> for RuleView {
    fn from(r: RoutingRule) -> Self {
        RuleView {
            id: r.id,
            field: r.field.as_str(),
            matching: r.matching.as_str(),
            value: r.value,
            feed: r.feed,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRule {
    field: String,
    #[serde(rename = "match")]
    matching: Option<String>,
    value: String,
    feed: String,
}

async fn list_rules(State(s): State<AppState>, Caller(who): Caller) -> Result<Response, ApiError> {
    let rules: Vec<RuleView> = s
        .relay
        .routing_rules(&who)
        .await?
        .into_iter()
        .map(RuleView::from)
        .collect();
    Ok(ok(&rules))
}

async fn add_rule(
    State(s): State<AppState>,
    Caller(who): Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let r: NewRule = body(&bytes)?;
    let field = RuleField::parse(&r.field).map_err(Error::Invalid)?;
    let matching = match r.matching.as_deref() {
        None => field.default_match(),
        Some(m) => RuleMatch::parse(m).map_err(Error::Invalid)?,
    };
    let rule = s
        .relay
        .add_rule(&who, field, matching, &r.value, &r.feed)
        .await?;
    Ok(created(&RuleView::from(rule)))
}

async fn remove_rule(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.relay.remove_rule(&who, id_param(&id)?).await?;
    Ok(no_content())
}

async fn show_profile(
    s: &AppState,
    who: &relay_core::Principal,
    owner: ProfileOwner,
) -> Result<Response, ApiError> {
    match s.relay.profile(who, &owner).await? {
        Some(p) => Ok(ok(&p)),
        None => {
            Err(Error::NotFound("no profile is set; nothing is filtered or capped".into()).into())
        }
    }
}

async fn set_profile(
    s: &AppState,
    who: &relay_core::Principal,
    owner: ProfileOwner,
    bytes: Option<&Bytes>,
) -> Result<Response, ApiError> {
    let profile: Option<Profile> = bytes.map(body).transpose()?;
    s.relay.set_profile(who, owner.clone(), profile).await?;
    match bytes {
        Some(_) => show_profile(s, who, owner).await,
        None => Ok(no_content()),
    }
}

async fn get_org_profile(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    show_profile(&s, &who, ProfileOwner::Org(name)).await
}

async fn put_org_profile(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    set_profile(&s, &who, ProfileOwner::Org(name), Some(&bytes)).await
}

async fn delete_org_profile(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    set_profile(&s, &who, ProfileOwner::Org(name), None).await
}

async fn get_token_profile(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    show_profile(&s, &who, ProfileOwner::Token(id_param(&id)?)).await
}

async fn put_token_profile(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    set_profile(&s, &who, ProfileOwner::Token(id_param(&id)?), Some(&bytes)).await
}

async fn delete_token_profile(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_profile(&s, &who, ProfileOwner::Token(id_param(&id)?), None).await
}

#[derive(Serialize)]
struct ReportersView {
    kind: String,
    value: String,
    organisations: Vec<String>,
}

/// `GET /api/v1/reporters?q=VALUE`: which organisations reported it (ISAC administrator).
async fn reporters(
    State(s): State<AppState>,
    Caller(who): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let params = super::Params::parse(q);
    let value = params.get("q").ok_or_else(|| {
        Error::Invalid("the parameter q (the value to look up) is required".into())
    })?;
    let found: Vec<ReportersView> = s
        .relay
        .reporters(&who, value)
        .await?
        .into_iter()
        .map(|r| ReportersView {
            kind: r.kind,
            value: r.value,
            organisations: r.orgs,
        })
        .collect();
    Ok(ok(&found))
}
