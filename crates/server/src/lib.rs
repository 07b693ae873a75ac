//! The relay's HTTP front end: TAXII 2.1, the JSON API and the web pages. It owns routing, content negotiation, authentication of
//! requests and the mapping of service results to TAXII 2.1 responses. It holds no business
//! rules and no storage: every handler calls one `relay_core::Relay` service.

mod api;
mod auth;
mod error;
mod listen;
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
pub use listen::{ConnLimits, PeerCert, Tls, TlsError, TlsFiles};

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
    /// Serve HTTPS with this certificate and key (and ask for client certificates of this
    /// CA); `None`: plain HTTP, for a reverse proxy in front.
    pub tls: Option<TlsFiles>,
    /// Connections open at once, handshake and header time, idle time.
    pub connections: ConnLimits,
    /// The longest one request may take until its answer starts (a live stream or an export
    /// then goes on as long as it sends).
    pub request_timeout: std::time::Duration,
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
            tls: None,
            connections: ConnLimits::default(),
            request_timeout: std::time::Duration::from_secs(60),
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
        .layer(axum::middleware::from_fn_with_state(state.clone(), timed))
        .layer(axum::middleware::from_fn(close_after_refused_body))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
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

/// Bounds the time from a request's arrival to its answer's start (`request_timeout`). The
/// request's body is watched, so that a client too slow to send it gets 408 and a request too
/// slow to answer 503.
async fn timed(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = state.config.request_timeout;
    let (parts, body) = req.into_parts();
    let (body, complete) = WatchedBody::new(body);
    let req = axum::extract::Request::from_parts(parts, axum::body::Body::new(body));
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::TimedOut {
            body_complete: complete.load(std::sync::atomic::Ordering::Relaxed),
            secs: limit.as_secs(),
        }
        .into_response(),
    }
}

/// A request body that notes when it has all been read.
struct WatchedBody {
    inner: axum::body::Body,
    complete: Arc<std::sync::atomic::AtomicBool>,
}

impl WatchedBody {
    fn new(inner: axum::body::Body) -> (Self, Arc<std::sync::atomic::AtomicBool>) {
        use http_body::Body as _;
        let complete = Arc::new(std::sync::atomic::AtomicBool::new(inner.is_end_stream()));
        (
            WatchedBody {
                inner,
                complete: complete.clone(),
            },
            complete,
        )
    }
}

impl http_body::Body for WatchedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let r = std::pin::Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(r, std::task::Poll::Ready(None)) {
            this.complete
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Headers every answer carries: no content-type sniffing, no referrer, and on HTTPS, HSTS
/// (browsers then never try the relay over plain HTTP). The web pages add their own CSP.
async fn security_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    if state.config.tls.is_some() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
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
    tls: Option<Tls>,
    connections: ConnLimits,
}

impl App {
    /// Binds the listener (port 0 picks a free port), reads the TLS files if any, and builds
    /// the routes.
    pub async fn build(
        listen: SocketAddr,
        relay: Relay,
        mut config: ServerConfig,
    ) -> std::io::Result<App> {
        let tls = match &config.tls {
            Some(files) => Some(Tls::load(files.clone()).map_err(std::io::Error::other)?),
            None => None,
        };
        // Over HTTPS the session cookie is never sent in the clear.
        config.secure_cookies |= tls.is_some();
        let connections = config.connections.clone();
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
            tls,
            connections,
        })
    }

    /// Whether the server speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight. With TLS, a
    /// SIGHUP reads the certificate and key files again (a failure is logged and the files in
    /// use stay).
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let reloader = self
            .tls
            .clone()
            .map(|tls| tokio::spawn(reload_on_hangup(tls)));
        let served = listen::serve(
            self.listener,
            self.router,
            self.tls,
            self.connections,
            shutdown,
        )
        .await;
        if let Some(r) = reloader {
            r.abort();
        }
        served
    }
}

#[cfg(unix)]
async fn reload_on_hangup(tls: Tls) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: the TLS files are read only at start");
        return;
    };
    while hangups.recv().await.is_some() {
        match tls.reload() {
            Ok(()) => tracing::info!("SIGHUP: TLS certificate and key read again"),
            Err(e) => {
                tracing::error!(error = %e, "SIGHUP: TLS files not reloaded, the ones in use stay")
            }
        }
    }
}

#[cfg(not(unix))]
async fn reload_on_hangup(_tls: Tls) {
    std::future::pending::<()>().await
}
