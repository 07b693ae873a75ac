//! Metrics over HTTP: coverage, lead times and daily counts as JSON or CSV, their SVG charts,
//! and a full recomputation (ISAC administrators). Handlers only translate;
//! `engine::metrics::Metrics` decides who sees what.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use engine::metrics;
use relay_core::Error;

use super::Params;
use super::admin::ok;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/metrics/coverage", get(coverage))
        .route("/api/v1/metrics/leadtime", get(leadtime))
        .route("/api/v1/metrics/leadtime.svg", get(leadtime_svg))
        .route("/api/v1/metrics/daily", get(daily))
        .route("/api/v1/metrics/daily.svg", get(daily_svg))
        .route("/api/v1/metrics/observable", get(observable))
        .route("/api/v1/metrics/recompute", post(recompute))
}

fn typed(body: String, media: &'static str) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    r
}

/// JSON (the default) or CSV, as `format` asks.
fn answer<T: serde::Serialize>(
    p: &Params,
    value: &T,
    csv: impl FnOnce() -> String,
) -> Result<Response, ApiError> {
    match p.get("format").unwrap_or("json") {
        "json" => Ok(ok(value)),
        "csv" => Ok(typed(csv(), "text/csv; charset=utf-8")),
        other => Err(Error::Invalid(format!("format '{other}': expected json or csv")).into()),
    }
}

async fn coverage(
    State(s): State<AppState>,
    Caller(who): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q);
    let r = s.metrics.coverage(&who).await?;
    answer(&p, &r, || metrics::coverage_csv(&r))
}

async fn leadtime(
    State(s): State<AppState>,
    Caller(who): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q);
    let r = s.metrics.lead_times(&who).await?;
    answer(&p, &serde_json::json!({ "leads": r }), || {
        metrics::leads_csv(&r)
    })
}

async fn leadtime_svg(
    State(s): State<AppState>,
    Caller(who): Caller,
) -> Result<Response, ApiError> {
    let r = s.metrics.lead_times(&who).await?;
    let svg = metrics::chart::lead_svg(&r).map_err(Error::Unprocessable)?;
    Ok(typed(svg, "image/svg+xml"))
}

async fn daily_report(
    s: &AppState,
    who: &relay_core::Principal,
    p: &Params,
) -> Result<metrics::DailyReport, ApiError> {
    let (from, to) = metrics::period(p.get("from"), p.get("to"))?;
    Ok(s.metrics.daily(who, from, to).await?)
}

async fn daily(
    State(s): State<AppState>,
    Caller(who): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q);
    let r = daily_report(&s, &who, &p).await?;
    answer(&p, &r, || metrics::daily_csv(&r))
}

async fn daily_svg(
    State(s): State<AppState>,
    Caller(who): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q);
    let r = daily_report(&s, &who, &p).await?;
    let svg = metrics::chart::daily_svg(&r).map_err(Error::Unprocessable)?;
    Ok(typed(svg, "image/svg+xml"))
}

async fn observable(
    State(s): State<AppState>,
    Caller(who): Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q);
    let r = s
        .metrics
        .observable(
            &who,
            p.get("kind").unwrap_or(""),
            p.get("value").unwrap_or(""),
        )
        .await?;
    Ok(ok(&r))
}

async fn recompute(State(s): State<AppState>, Caller(who): Caller) -> Result<Response, ApiError> {
    let reports = s.metrics.recompute(&who).await?;
    Ok(ok(&serde_json::json!({ "reports": reports })))
}
