//! TAXII 2.1 routes (sections 4 and 5). Each handler extracts its input, calls one relay
//! service and renders the result; paging, filtering and access live in `relay_core`.

mod render;

pub use render::json;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::BodyExt as _;
use relay_core::Error;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::media;

type Result<T> = std::result::Result<T, ApiError>;

pub fn router(state: &AppState) -> Router<AppState> {
    let root = state.api_root_path();
    let at = |path: &str| format!("{root}{path}");
    Router::new()
        .route("/taxii2/", get(discovery))
        .route(&root, get(api_root))
        .route(&at("status/{id}/"), get(status))
        .route(&at("collections/"), get(collections))
        .route(&at("collections/{cid}/"), get(collection))
        .route(
            &at("collections/{cid}/objects/"),
            get(get_objects).post(add_objects),
        )
        .route(
            &at("collections/{cid}/objects/{oid}/"),
            get(get_object).delete(delete_object),
        )
        .route(
            &at("collections/{cid}/objects/{oid}/versions/"),
            get(versions),
        )
        .route(&at("collections/{cid}/manifest/"), get(manifest))
        .route_layer(middleware::from_fn(media::negotiate))
}

pub async fn no_route() -> ApiError {
    ApiError::NoRoute(
        StatusCode::NOT_FOUND,
        "no such TAXII endpoint (TAXII URLs end in '/')".into(),
    )
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::NoRoute(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not support that method".into(),
    )
}

/// Path segments, percent-decoded; a segment that does not decode is a TAXII 400, not axum's
/// plain-text rejection.
struct Path<T>(T);

impl<T> FromRequestParts<AppState> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e| Error::Invalid(format!("malformed URL path: {}", e.body_text())).into())
    }
}

/// URL parameters, percent-decoded, in order.
fn params(query: Option<String>) -> Vec<(String, String)> {
    query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

async fn discovery(State(s): State<AppState>, Caller(_): Caller) -> Response {
    render::discovery(&s)
}

async fn api_root(State(s): State<AppState>, Caller(_): Caller) -> Response {
    render::api_root(&s)
}

async fn status(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    let status = s.relay.status(&who, &id).await?;
    Ok(render::json(StatusCode::OK, &status))
}

async fn collections(State(s): State<AppState>, Caller(who): Caller) -> Result<Response> {
    Ok(render::collections(&s.relay.collections(&who).await?))
}

async fn collection(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(cid): Path<String>,
) -> Result<Response> {
    let (feed, rights) = s.relay.collection(&who, &cid).await?;
    Ok(render::json(
        StatusCode::OK,
        &render::collection_view(&feed, rights),
    ))
}

async fn get_objects(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(cid): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let page = s.relay.objects(&who, &cid, &params(q), false).await?;
    Ok(render::envelope(&page))
}

async fn manifest(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(cid): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let page = s.relay.objects(&who, &cid, &params(q), true).await?;
    Ok(render::manifest(&page))
}

async fn get_object(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((cid, oid)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let page = s.relay.object(&who, &cid, &oid, &params(q), false).await?;
    Ok(render::envelope(&page))
}

async fn versions(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((cid, oid)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let page = s.relay.object(&who, &cid, &oid, &params(q), true).await?;
    Ok(render::versions(&page))
}

async fn delete_object(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((cid, oid)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    s.relay.delete_object(&who, &cid, &oid, &params(q)).await?;
    Ok(StatusCode::OK.into_response())
}

async fn add_objects(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(cid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let limit = s.relay.config().max_content_length;
    let body = read_body(&headers, body, limit).await?;
    let status = s.relay.add_objects(&who, &cid, &body).await?;
    metrics::counter!("relay_objects_ingested_total").increment(status.success_count);
    Ok(render::json(StatusCode::ACCEPTED, &status))
}

/// Reads a request body of at most `limit` bytes. A declared length over the limit is refused
/// before any byte is read; a body that grows past it while streaming is cut off.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Error::TooLarge { limit }.into());
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(Error::TooLarge { limit }.into())
        }
        Err(e) => Err(Error::Invalid(format!("the request body could not be read: {e}")).into()),
    }
}
