//! The relay's HTTP front end: TAXII 2.1, the JSON API and the web pages. It owns routing, content negotiation, authentication of
//! requests and the mapping of service results to TAXII 2.1 responses. It holds no business
//! rules and no storage: every handler calls one `relay_core::Relay` service.

mod api;
mod auth;
mod error;
mod media;
mod prom;
mod taxii;
mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use relay_core::Relay;
use tokio::net::TcpListener;

pub use api::openapi::document as openapi_document;
pub use error::ApiError;

/// Settings of the HTTP front end.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The name of the one API root; it is served at `/taxii2/{name}/`.
    pub api_root: String,
    pub title: String,
    pub description: Option<String>,
    pub contact: Option<String>,
    /// The IP-to-country/ASN database for daily counts (`.mmdb`, or a CSV of ranges).
    pub geo_db: Option<std::path::PathBuf>,
    /// Mark the web pages' cookies `Secure` (served over HTTPS). They are also marked when a
    /// proxy in front says `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
    /// Query parameters one request may carry, and the query string's length in bytes.
    pub max_query_params: usize,
    pub max_query_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            api_root: "isac".into(),
            title: "isac-relay".into(),
            description: Some("The ISAC's information relay".into()),
            contact: None,
            geo_db: None,
            secure_cookies: false,
            max_query_params: 64,
            max_query_bytes: 8192,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub relay: Relay,
    pub exports: engine::export::Exports,
    pub notice: engine::notice::Notice,
    pub metrics: engine::metrics::Metrics,
    pub config: Arc<ServerConfig>,
}

impl AppState {
    /// The API root's path, with its leading and trailing slash.
    pub fn api_root_path(&self) -> String {
        format!("/taxii2/{}/", self.config.api_root)
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    prom::handle();
    taxii::router(&state)
        .merge(api::router())
        .merge(web::router())
        .route("/metrics", axum::routing::get(prom::scrape))
        .route_layer(axum::middleware::from_fn(prom::track))
        .fallback(taxii::no_route)
        .method_not_allowed_fallback(taxii::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            bounded_query,
        ))
        .layer(axum::middleware::from_fn(close_after_refused_body))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panic_response,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Refuses a query string with more parameters, or more bytes, than the configuration allows,
/// before any handler parses it.
async fn bounded_query(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(q) = req.uri().query() {
        let c = &state.config;
        let params = q.split('&').filter(|p| !p.is_empty()).count();
        if q.len() > c.max_query_bytes || params > c.max_query_params {
            return ApiError::from(relay_core::Error::Invalid(format!(
                "the query string has {params} parameters and {} bytes; this relay takes at most {} and {}",
                q.len(),
                c.max_query_params,
                c.max_query_bytes
            )))
            .into_response();
        }
    }
    next.run(req).await
}

/// A request refused before its body was read (too large, unauthenticated, wrong media type)
/// leaves the unread body on the connection; the answer says `Connection: close` so that
/// keep-alive clients open a new connection instead of finding this one closed under them.
async fn close_after_refused_body(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header;
    let has_body = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0")
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let mut resp = next.run(req).await;
    if has_body && (resp.status().is_client_error() || resp.status().is_server_error()) {
        resp.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    resp
}

/// A bound server, ready to serve.
pub struct App {
    listener: TcpListener,
    router: Router,
}

impl App {
    /// Binds the listener (port 0 picks a free port) and builds the routes.
    pub async fn build(
        listen: SocketAddr,
        relay: Relay,
        config: ServerConfig,
    ) -> std::io::Result<App> {
        let listener = TcpListener::bind(listen).await?;
        let sender = api::push::ReqwestSender::new().map_err(std::io::Error::other)?;
        relay
            .start_push(Arc::new(sender))
            .await
            .map_err(std::io::Error::other)?;
        let notice = engine::notice::Notice::new(relay.store());
        notice
            .clone()
            .start_publisher(relay.clone())
            .await
            .map_err(std::io::Error::other)?;
        let geo = match &config.geo_db {
            Some(path) => Some(Arc::new(
                engine::metrics::GeoDb::open(path).map_err(std::io::Error::other)?,
            )),
            None => None,
        };
        let state = AppState {
            exports: engine::export::Exports::new(relay.store()),
            metrics: engine::metrics::Metrics::new(relay.store(), geo),
            notice,
            relay,
            config: Arc::new(config),
        };
        Ok(App {
            listener,
            router: router(state),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}
