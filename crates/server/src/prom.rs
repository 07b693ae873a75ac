//! Operational metrics for Prometheus at `/metrics` (ISAC administrators' credentials, as a
//! Bearer token in the scrape configuration): requests and their latency by route, objects
//! ingested, object versions per feed, live streams open, the size of the stored data. Kept
//! with the `metrics` facade and rendered by `metrics-exporter-prometheus`.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// Latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's recorder, installed once (every server of the process shares it).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("relay_http_request_duration_seconds".into()),
                    &BUCKETS,
                )
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; its figures then go there.
            let _ = metrics::set_global_recorder(recorder);
            metrics::describe_counter!(
                "relay_http_requests_total",
                "HTTP requests answered, by route, method and status."
            );
            metrics::describe_histogram!(
                "relay_http_request_duration_seconds",
                metrics::Unit::Seconds,
                "Time to answer an HTTP request, by route and method."
            );
            metrics::describe_counter!(
                "relay_objects_ingested_total",
                "STIX objects stored from TAXII posts."
            );
            metrics::describe_gauge!("relay_feed_objects", "Object versions stored, by feed.");
            metrics::describe_gauge!("relay_stream_subscribers", "Live event streams open.");
            metrics::describe_gauge!(
                "relay_store_bytes",
                metrics::Unit::Bytes,
                "Size of the stored data."
            );
            handle
        })
        .clone()
}

/// Counts each request by its route's template (not its path: ids would make the series
/// endless), method and status, and times it.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("relay_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("relay_http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    resp
}

pub async fn scrape(State(s): State<AppState>, Caller(who): Caller) -> Result<Response, ApiError> {
    let ops = s.relay.operations(&who).await?;
    for (feed, n) in ops.feed_objects {
        metrics::gauge!("relay_feed_objects", "feed" => feed).set(n as f64);
    }
    metrics::gauge!("relay_stream_subscribers").set(ops.stream_subscribers as f64);
    metrics::gauge!("relay_store_bytes").set(ops.store_bytes as f64);
    let mut r = Response::new(axum::body::Body::from(handle().render()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(r)
}
