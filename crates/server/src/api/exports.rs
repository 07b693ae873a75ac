//! Exports and the block-list exchange over HTTP: block lists in the formats firewalls,
//! resolvers and IDSes load (`/api/v1/exports/{format}`, with ETag / If-None-Match and
//! `since`), what the warning lists dropped, members' applied lists, the allowlist and members'
//! own networks and domains. Handlers only translate; `engine::export::Exports` decides.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use engine::export::{ExportAnswer, ExportRequest};
use relay_core::Error;
use serde::{Deserialize, Serialize};

use super::admin::{body, created, no_content, ok};
use super::{Params, id_param};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/exports/{format}", get(export))
        .route("/api/v1/exports/{format}/dropped", get(dropped))
        .route(
            "/api/v1/applied/{feed}",
            get(get_applied).put(put_applied).delete(delete_applied),
        )
        .route("/api/v1/allowlist", get(list_allowlist).post(add_allowlist))
        .route("/api/v1/allowlist/{id}", delete(remove_allowlist))
        .route(
            "/api/v1/orgs/{name}/assets",
            get(list_assets).post(add_asset),
        )
        .route("/api/v1/assets/{id}", delete(remove_asset))
}

fn request(format: &str, q: Option<String>) -> Result<ExportRequest, ApiError> {
    let Params(pairs) = Params::parse(q);
    Ok(ExportRequest::from_pairs(format, &pairs).map_err(Error::Invalid)?)
}

async fn export(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(format): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    export_response(&s, &who, &format, q, &headers).await
}

/// A block list as the caller may have it, streamed (the API's and the web pages' downloads).
pub(crate) async fn export_response(
    s: &AppState,
    who: &relay_core::Principal,
    format: &str,
    q: Option<String>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let req = request(format, q)?;
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let answer = s.exports.export(who, req, inm).await?;
    let mut resp = match answer {
        ExportAnswer::NotModified { etag } => {
            let mut r = StatusCode::NOT_MODIFIED.into_response();
            if let Ok(v) = HeaderValue::from_str(&etag) {
                r.headers_mut().insert(header::ETAG, v);
            }
            r
        }
        ExportAnswer::Body(b) => {
            let stream = futures_util::stream::unfold(b.chunks, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|chunk| (chunk.map(Bytes::from).map_err(std::io::Error::other), rx))
            });
            let mut r = Response::new(Body::from_stream(stream));
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(b.content_type),
            );
            for (name, value) in [
                (header::ETAG, b.etag),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"{}\"", b.filename),
                ),
            ] {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    h.insert(name, v);
                }
            }
            if let Ok(v) = HeaderValue::from_str(&b.token) {
                h.insert("x-export-token", v);
            }
            r
        }
    };
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(resp)
}

#[derive(Serialize)]
struct DroppedView {
    kind: String,
    value: String,
    reason: &'static str,
    detail: String,
}

async fn dropped(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(format): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let req = request(&format, q)?;
    let drops = s.exports.dropped(&who, req).await?;
    let view: Vec<DroppedView> = drops
        .into_iter()
        .map(|d| DroppedView {
            kind: d.kind,
            value: d.value,
            reason: d.reason.code,
            detail: d.reason.detail,
        })
        .collect();
    Ok(ok(&serde_json::json!({ "dropped": view })))
}

#[derive(Serialize)]
struct AppliedSummaryView {
    feed: String,
    entries: usize,
    added: usize,
    withdrawn: usize,
    tlp: &'static str,
    expires: String,
}

async fn put_applied(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(feed): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    raw: Body,
) -> Result<Response, ApiError> {
    let Params(pairs) = Params::parse(q);
    let mut expires = None;
    let mut tlp = None;
    for (k, v) in pairs {
        match k.as_str() {
            "expires" => expires = Some(v),
            "tlp" => tlp = Some(v),
            other => {
                return Err(Error::Invalid(format!(
                    "unknown parameter '{other}'; known: expires, tlp"
                ))
                .into());
            }
        }
    }
    let limit = s.relay.config().max_content_length;
    let bytes = crate::taxii::read_body(&headers, raw, limit).await?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let sum = s
        .exports
        .upload_applied(&who, &feed, &bytes, ct, expires.as_deref(), tlp.as_deref())
        .await?;
    Ok(ok(&AppliedSummaryView {
        feed: sum.feed,
        entries: sum.entries,
        added: sum.added,
        withdrawn: sum.withdrawn,
        tlp: sum.tlp.as_str(),
        expires: sum.expires.to_string(),
    }))
}

#[derive(Serialize)]
struct EntryView {
    kind: String,
    value: String,
}

async fn get_applied(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(feed): Path<String>,
) -> Result<Response, ApiError> {
    let l = s.exports.applied(&who, &feed).await?;
    Ok(ok(&serde_json::json!({
        "feed": l.feed,
        "tlp": l.tlp.as_str(),
        "uploaded": l.uploaded.to_string(),
        "expires": l.expires.to_string(),
        "entries": l.entries.into_iter().map(|(kind, value)| EntryView { kind, value }).collect::<Vec<_>>(),
    })))
}

async fn delete_applied(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(feed): Path<String>,
) -> Result<Response, ApiError> {
    s.exports.withdraw_applied(&who, &feed).await?;
    Ok(no_content())
}

#[derive(Serialize)]
struct AllowView {
    id: i64,
    kind: &'static str,
    value: String,
    reason: String,
    created: String,
}

async fn list_allowlist(
    State(s): State<AppState>,
    Caller(who): Caller,
) -> Result<Response, ApiError> {
    let list: Vec<AllowView> = s
        .exports
        .allowlist(&who)
        .await?
        .into_iter()
        .map(|a| AllowView {
            id: a.id,
            kind: a.kind.code(),
            value: a.value,
            reason: a.reason,
            created: a.created.to_string(),
        })
        .collect();
    Ok(ok(&serde_json::json!({ "allowlist": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAllow {
    value: String,
    reason: String,
}

async fn add_allowlist(
    State(s): State<AppState>,
    Caller(who): Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let n: NewAllow = body(&bytes)?;
    let id = s.exports.allow(&who, &n.value, &n.reason).await?;
    Ok(created(&serde_json::json!({ "id": id })))
}

async fn remove_allowlist(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.exports.disallow(&who, id_param(&id)?).await?;
    Ok(no_content())
}

#[derive(Serialize)]
struct AssetView {
    id: i64,
    org: String,
    kind: &'static str,
    value: String,
    added: String,
    valid_from: Option<String>,
    valid_until: Option<String>,
}

async fn list_assets(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let list: Vec<AssetView> = s
        .exports
        .assets(&who, Some(&name))
        .await?
        .into_iter()
        .map(|a| AssetView {
            id: a.id,
            org: a.org_name,
            kind: a.kind.code(),
            value: a.value,
            added: a.added.to_string(),
            valid_from: a.valid_from.map(|t| t.to_string()),
            valid_until: a.valid_until.map(|t| t.to_string()),
        })
        .collect();
    Ok(ok(&serde_json::json!({ "assets": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAsset {
    value: String,
    valid_from: Option<String>,
    valid_until: Option<String>,
}

fn time_field(name: &str, v: Option<&str>) -> Result<Option<stix::Timestamp>, ApiError> {
    v.map(|s| {
        stix::Timestamp::parse(s)
            .map_err(|_| Error::Invalid(format!("'{name}' is not an RFC 3339 time: '{s}'")).into())
    })
    .transpose()
}

async fn add_asset(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let n: NewAsset = body(&bytes)?;
    let validity = (
        time_field("valid_from", n.valid_from.as_deref())?,
        time_field("valid_until", n.valid_until.as_deref())?,
    );
    let id = s
        .exports
        .add_asset(&who, &name, &n.value, None, validity)
        .await?;
    Ok(created(&serde_json::json!({ "id": id })))
}

async fn remove_asset(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.exports.remove_asset(&who, id_param(&id)?).await?;
    Ok(no_content())
}
