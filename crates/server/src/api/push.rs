//! Live push over HTTP: the Server-Sent Events stream of a feed, and webhook registration with
//! its delivery log. Delivery itself (`ReqwestSender`) posts with reqwest.

use std::convert::Infallible;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use relay_core::Error;
use relay_core::service::{LiveEvent, WebhookSender};
use relay_core::store::{Delivery, Webhook};
use serde::{Deserialize, Serialize};

use super::admin::{body, created, no_content, ok};
use super::id_param;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/feeds/{feed}/events", get(events))
        .route("/api/v1/webhooks", get(list_webhooks).post(add_webhook))
        .route(
            "/api/v1/webhooks/{id}",
            axum::routing::delete(remove_webhook),
        )
        .route("/api/v1/webhooks/{id}/deliveries", get(deliveries))
}

fn sse_event(e: LiveEvent) -> Event {
    let data = format!(
        "{{\"feed\":{},\"date_added\":\"{}\",\"object\":{}}}",
        serde_json::Value::String(e.feed),
        e.date_added,
        e.body
    );
    Event::default().id(e.id).event("object").data(data)
}

/// `GET /api/v1/feeds/{feed}/events`: new and changed objects of the feed as they are
/// committed, as Server-Sent Events (`event: object`, `id:` the resumption cursor, `data:`
/// `{"feed", "date_added", "object"}`). `Last-Event-ID` resumes after that event.
async fn events(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(feed): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let last = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .map_err(|_| Error::Invalid("Last-Event-ID is not text".into()))
        })
        .transpose()?;
    let rx = s.relay.subscribe(&who, &feed, last).await?;
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|e| (Ok::<_, Infallible>(sse_event(e)), rx))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

#[derive(Serialize)]
struct WebhookView {
    id: i64,
    user: String,
    collection_id: String,
    url: String,
    cursor: String,
    created: String,
    removed: Option<String>,
}

impl From<Webhook> for WebhookView {
    fn from(h: Webhook) -> Self {
        WebhookView {
            id: h.id,
            user: h.user_name,
            collection_id: h.feed_id,
            url: h.url,
            cursor: h.cursor.to_string(),
            created: h.created.to_string(),
            removed: h.removed.map(|t| t.to_string()),
        }
    }
}

#[derive(Serialize)]
struct CreatedWebhook {
    #[serde(flatten)]
    webhook: WebhookView,
    /// The HMAC-SHA256 signing key, shown this once.
    secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewWebhook {
    feed: String,
    url: String,
}

async fn list_webhooks(
    State(s): State<AppState>,
    Caller(who): Caller,
) -> Result<Response, ApiError> {
    let hooks: Vec<WebhookView> = s
        .relay
        .webhooks(&who)
        .await?
        .into_iter()
        .map(WebhookView::from)
        .collect();
    Ok(ok(&hooks))
}

async fn add_webhook(
    State(s): State<AppState>,
    Caller(who): Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let r: NewWebhook = body(&bytes)?;
    let (hook, secret) = s.relay.add_webhook(&who, &r.feed, &r.url).await?;
    Ok(created(&CreatedWebhook {
        webhook: hook.into(),
        secret,
    }))
}

async fn remove_webhook(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.relay.remove_webhook(&who, id_param(&id)?).await?;
    Ok(no_content())
}

#[derive(Serialize)]
struct DeliveryView {
    at: String,
    attempt: u32,
    objects: usize,
    http_status: Option<u16>,
    error: Option<String>,
    delivered: bool,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            at: d.at.to_string(),
            attempt: d.attempt,
            objects: d.objects,
            http_status: d.http_status,
            error: d.error,
            delivered: d.delivered,
        }
    }
}

/// `GET /api/v1/webhooks/{id}/deliveries[?limit=N]`: the newest attempts first.
async fn deliveries(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let params = super::Params::parse(q);
    let limit = match params.get("limit") {
        None => 100,
        Some(l) => l.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Error::Invalid(format!("invalid limit '{l}': expected a positive integer"))
        })?,
    };
    let log: Vec<DeliveryView> = s
        .relay
        .webhook_deliveries(&who, id_param(&id)?, limit)
        .await?
        .into_iter()
        .map(DeliveryView::from)
        .collect();
    Ok(ok(&log))
}

/// Delivers webhooks with reqwest over HTTP or HTTPS (rustls with aws-lc-rs; server certificates
/// checked against the system's roots): no redirects followed, a 10-second limit per delivery.
pub struct ReqwestSender {
    client: reqwest::Client,
}

impl ReqwestSender {
    pub fn new() -> Result<ReqwestSender, reqwest::Error> {
        Ok(ReqwestSender {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .user_agent(concat!("isac-relay/", env!("CARGO_PKG_VERSION")))
                .build()?,
        })
    }
}

#[async_trait]
impl WebhookSender for ReqwestSender {
    async fn post(
        &self,
        url: &str,
        headers: Vec<(&'static str, String)>,
        body: String,
    ) -> Result<u16, String> {
        let mut req = self.client.post(url).body(body);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        req.send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| format!("delivery failed: {e}"))
    }

    fn https(&self) -> bool {
        true
    }
}
