//! The relay's own JSON API (not TAXII), under `/api/v1/`. Its answers, errors included, are
//! `application/json`; authentication is the same as TAXII's.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::Response;
use axum::routing::get;
use relay_core::Error;
use serde::Serialize;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

mod admin;
pub(crate) mod exports;
mod federation;
mod feeds;
mod metrics;
pub(crate) mod notice;
pub mod openapi;
pub(crate) mod push;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/search", get(search))
        .route("/api/v1/openapi.json", get(openapi_json))
        .merge(admin::router())
        .merge(feeds::router())
        .merge(push::router())
        .merge(exports::router())
        .merge(notice::router())
        .merge(metrics::router())
        .merge(federation::router())
        .route_layer(middleware::from_fn(json_media_type))
}

/// Answers of this API, errors included, are `application/json`, unless the handler chose
/// another representation (the audit export's JSON lines, the event stream, block lists); an
/// empty answer (204, 304) has none.
async fn json_media_type(req: axum::extract::Request, next: middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    let empty = matches!(
        resp.status(),
        axum::http::StatusCode::NO_CONTENT | axum::http::StatusCode::NOT_MODIFIED
    );
    let chosen = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() != crate::media::TAXII_MEDIA_TYPE.as_bytes());
    if !empty && !chosen {
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    resp
}

/// A numeric id from a URL path; anything else names nothing that exists.
pub(crate) fn id_param(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .map_err(|_| Error::NotFound(format!("no such id '{id}'")).into())
}

/// The decoded query parameters of a request.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: Option<String>) -> Params {
        Params(
            raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    /// The first value of a parameter.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET /api/v1/openapi.json`: the API's description; no authentication needed.
async fn openapi_json() -> Response {
    crate::taxii::json(axum::http::StatusCode::OK, &openapi::document())
}

#[derive(Serialize)]
struct SearchView {
    query: QueryView,
    results: Vec<HitView>,
}

#[derive(Serialize)]
struct QueryView {
    kinds: Vec<String>,
    values: Vec<String>,
}

#[derive(Serialize)]
struct HitView {
    collection_id: String,
    feed: String,
    object_id: String,
    #[serde(rename = "type")]
    object_type: String,
    version: String,
    date_added: String,
    kind: String,
    value: String,
    /// How many distinct organisations reported what the object mentions.
    corroboration: u32,
}

/// `GET /api/v1/search?q=VALUE[&limit=N][&sort=corroboration]`: the current objects, in the
/// feeds the caller may read, that mention the value (an address also finds the networks that
/// contain it); newest first, or most corroborated first.
async fn search(
    State(s): State<AppState>,
    Caller(who): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(q);
    let get = |name: &str| params.get(name);
    let value = get("q").ok_or_else(|| {
        Error::Invalid("the parameter q (the value to search for) is required".into())
    })?;
    let limit = get("limit")
        .map(|l| {
            l.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                Error::Invalid(format!("invalid limit '{l}': expected a positive integer"))
            })
        })
        .transpose()?;
    let by_corroboration = match get("sort") {
        None | Some("newest") => false,
        Some("corroboration") => true,
        Some(other) => {
            return Err(Error::Invalid(format!(
                "invalid sort '{other}': expected newest or corroboration"
            ))
            .into());
        }
    };
    let found = s.relay.search(&who, value, limit, by_corroboration).await?;
    let view = SearchView {
        query: QueryView {
            kinds: found.kinds,
            values: found.values,
        },
        results: found
            .hits
            .into_iter()
            .map(|(feed, h)| HitView {
                collection_id: feed.id,
                feed: feed.name,
                object_id: h.object_id,
                object_type: h.object_type,
                version: h.version.to_string(),
                date_added: h.date_added.to_string(),
                kind: h.kind,
                value: h.value,
                corroboration: h.corroboration,
            })
            .collect(),
    };
    Ok(crate::taxii::json(axum::http::StatusCode::OK, &view))
}
