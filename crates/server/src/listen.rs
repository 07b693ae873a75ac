//! Connections: accepting them over plain TCP or TLS (rustls; certificate and key read from
//! files and read again on SIGHUP), bounding how many are open at once, closing slow and idle
//! ones, and stopping gracefully. Each request reaches the router with the client's address
//! (`ConnectInfo`) and, on TLS, the fingerprint of the client certificate it presented
//! (`PeerCert`), which authentication checks for organisations that require one.
//!
//! Slow and idle clients: a client gets `header_timeout` for the TLS handshake and for each
//! request's headers (hyper's header-read timer); a connection with no request or response in
//! flight for `idle_timeout` is closed gracefully (bytes alone, such as HTTP/2 PINGs, keep no
//! connection open). A live stream or a long export is in flight, so never idle; but a client
//! that stops reading it (the relay's writes blocked for `idle_timeout`) is cut. How long one
//! request may take to be answered is the router's `request_timeout`, not this module's.
//!
//! Past `max_connections`, a new connection is answered `503` with a TAXII error and closed;
//! past that, while the relay is answering as many refusals as it will, it is dropped unread.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Connections refused with an answer at once, at most; beyond, they are dropped unread.
const REFUSALS: usize = 64;
/// How long a stopping server waits for its connections to end.
const DRAIN: Duration = Duration::from_secs(10);

/// Limits on connections.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// Connections open at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// Time a client has for the TLS handshake and for sending a request's headers.
    pub header_timeout: Duration,
    /// A connection with nothing being answered and no byte moved for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Where the TLS certificate chain and key are read from, and the CA that client
/// certificates must chain to (without it, no client certificate is asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} holds no PEM certificate ({detail})")]
    NoCertificate { path: PathBuf, detail: String },
    #[error("{path} holds no PEM private key ({detail})")]
    NoKey { path: PathBuf, detail: String },
    #[error("the certificate {cert} and key {key} do not make a TLS server: {source}")]
    Server {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("the client CA {path} cannot verify client certificates: {detail}")]
    ClientCa { path: PathBuf, detail: String },
}

/// The fingerprint (SHA-256, lower-case hex) of the certificate a client presented on this
/// request's TLS connection, verified against the client CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCert(pub String);

/// The TLS side of the listener: the configuration new connections are accepted with,
/// replaced as a whole by `reload` (connections already open keep theirs).
#[derive(Clone)]
pub struct Tls {
    files: Arc<TlsFiles>,
    current: Arc<RwLock<TlsAcceptor>>,
}

impl Tls {
    pub fn load(files: TlsFiles) -> Result<Tls, TlsError> {
        let acceptor = acceptor(&files)?;
        Ok(Tls {
            files: Arc::new(files),
            current: Arc::new(RwLock::new(acceptor)),
        })
    }

    /// Reads the files again; on any error the configuration in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = acceptor(&self.files)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let no = |detail: String| TlsError::NoCertificate {
        path: path.to_owned(),
        detail,
    };
    let certs = CertificateDer::pem_slice_iter(&read(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| no(e.to_string()))?;
    if certs.is_empty() {
        return Err(no("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain = certificates(&files.cert)?;
    let key = PrivateKeyDer::from_pem_slice(&read(&files.key)?).map_err(|e| TlsError::NoKey {
        path: files.key.clone(),
        detail: e.to_string(),
    })?;
    let server_error = |source| TlsError::Server {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    };
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(server_error)?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let ca_error = |detail: String| TlsError::ClientCa {
                path: ca.clone(),
                detail,
            };
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(ca)? {
                roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
            }
            // Asked for, not required: an organisation that signs in with a certificate is
            // checked at authentication; the others connect without one.
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| ca_error(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(server_error)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// How many of a connection's requests are in flight (from their arrival until their response
/// body is written or dropped), since when it has had none, and since when its writes are
/// blocked (the client does not read).
struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    busy: AtomicUsize,
    /// Milliseconds since `epoch` + 1 when a write first found the socket full; 0: not blocked.
    blocked_ms: AtomicU64,
}

impl Activity {
    fn new() -> Arc<Activity> {
        Arc::new(Activity {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            blocked_ms: AtomicU64::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn touch(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        if self.busy.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }

    fn write_blocked(&self) {
        let _ = self.blocked_ms.compare_exchange(
            0,
            self.now_ms() + 1,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    fn write_moved(&self) {
        self.blocked_ms.store(0, Ordering::Relaxed);
    }

    /// How long the relay's writes have waited for the client to read.
    fn stalled_for(&self) -> Duration {
        match self.blocked_ms.load(Ordering::Relaxed) {
            0 => Duration::ZERO,
            since => Duration::from_millis(self.now_ms().saturating_sub(since - 1)),
        }
    }
}

/// Counts a request as in flight while it lives (it travels with the response body).
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: &Arc<Activity>) -> Busy {
        activity.busy.fetch_add(1, Ordering::Relaxed);
        Busy(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A connection's stream, noting in its `Activity` when writes block and when they move.
struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Tracked<T> {
    fn note(&self, r: &Poll<io::Result<usize>>) {
        match r {
            Poll::Pending => self.activity.write_blocked(),
            Poll::Ready(_) => self.activity.write_moved(),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.note(&r);
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.note(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, lets the
/// requests in flight finish, closes idle connections, and waits up to `DRAIN` for the rest.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Tls>,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let max = u32::try_from(limits.max_connections)
        .unwrap_or(u32::MAX)
        .min(Semaphore::MAX_PERMITS as u32);
    let slots = Arc::new(Semaphore::new(max as usize));
    let refusals = Arc::new(Semaphore::new(REFUSALS));
    let (stop, stopping) = watch::channel(false);
    let limits = Arc::new(limits);
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors, most often: wait for some to be closed.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        if let Ok(slot) = slots.clone().try_acquire_owned() {
            tokio::spawn(connection(
                tcp,
                remote,
                router.clone(),
                tls.clone(),
                limits.clone(),
                stopping.clone(),
                slot,
            ));
        } else if let Ok(slot) = refusals.clone().try_acquire_owned() {
            tokio::spawn(refuse(tcp, tls.clone(), limits.clone(), slot));
        } else {
            tracing::debug!(%remote, "too many connections: dropped unanswered");
        }
    }
    drop(listener);
    let _ = stop.send(true);
    if tokio::time::timeout(DRAIN, slots.acquire_many(max))
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open {} s after the stop (live streams): they are cut",
            DRAIN.as_secs()
        );
    }
    Ok(())
}

/// The TLS handshake, within the header timeout; the stream and the client certificate's
/// fingerprint, if one was presented.
async fn handshake(
    tls: &Tls,
    tcp: TcpStream,
    remote: SocketAddr,
    limits: &ConnLimits,
) -> Option<(tokio_rustls::server::TlsStream<TcpStream>, Option<String>)> {
    match tokio::time::timeout(limits.header_timeout, tls.acceptor().accept(tcp)).await {
        Ok(Ok(stream)) => {
            let cert = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| hex::encode(Sha256::digest(c.as_ref())));
            Some((stream, cert))
        }
        Ok(Err(e)) => {
            tracing::debug!(%remote, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%remote, "TLS handshake timed out");
            None
        }
    }
}

async fn connection(
    tcp: TcpStream,
    remote: SocketAddr,
    router: Router,
    tls: Option<Tls>,
    limits: Arc<ConnLimits>,
    stopping: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let activity = Activity::new();
    match tls {
        None => {
            let io = Tracked {
                inner: tcp,
                activity: activity.clone(),
            };
            drive(io, remote, None, router, &limits, stopping, activity).await;
        }
        Some(tls) => {
            let Some((stream, cert)) = handshake(&tls, tcp, remote, &limits).await else {
                return;
            };
            let io = Tracked {
                inner: stream,
                activity: activity.clone(),
            };
            drive(io, remote, cert, router, &limits, stopping, activity).await;
        }
    }
}

fn builder(limits: &ConnLimits, keep_alive: bool) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(keep_alive);
    b.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)));
    b
}

/// Serves one connection, closing it once idle or when the server stops.
async fn drive<IO>(
    io: IO,
    remote: SocketAddr,
    cert: Option<String>,
    router: Router,
    limits: &ConnLimits,
    mut stopping: watch::Receiver<bool>,
    activity: Arc<Activity>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(remote));
        if let Some(c) = &cert {
            req.extensions_mut().insert(PeerCert(c.clone()));
        }
        let busy = Busy::new(&requests);
        let router = router.clone();
        async move {
            let resp = router.oneshot(req).await?;
            // In flight until its body is written (or dropped with the connection).
            Ok::<_, Infallible>(resp.map(|body| {
                Body::new(http_body_util::BodyExt::map_frame(body, move |frame| {
                    let _in_flight = &busy;
                    frame
                }))
            }))
        }
    });
    let builder = builder(limits, true);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut tick = tokio::time::interval((limits.idle_timeout / 4).max(Duration::from_millis(100)));
    let mut closing = false;
    // When a connection closed for idleness must be gone, drained or not (an HTTP/2 client
    // can keep a graceful close waiting by never answering the GOAWAY's PING).
    let mut cut_at: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = tick.tick() => {
                if activity.stalled_for() >= limits.idle_timeout {
                    // The client stopped reading what it asked for: cut, not drained.
                    tracing::debug!(%remote, "connection closed: the client stopped reading");
                    return;
                }
                if cut_at.is_some_and(|t| tokio::time::Instant::now() >= t) {
                    tracing::debug!(%remote, "idle connection cut: the close did not finish");
                    return;
                }
                if !closing && activity.idle_for() >= limits.idle_timeout {
                    tracing::debug!(%remote, "idle connection closed");
                    closing = true;
                    cut_at = Some(tokio::time::Instant::now() + limits.idle_timeout);
                    conn.as_mut().graceful_shutdown();
                }
            }
            _ = stopping.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Answers a connection over the limit with 503 and a TAXII error, then closes it.
async fn refuse(
    tcp: TcpStream,
    tls: Option<Tls>,
    limits: Arc<ConnLimits>,
    _slot: OwnedSemaphorePermit,
) {
    let remote = tcp.peer_addr().ok();
    tracing::debug!(?remote, "too many connections: refused");
    let max = limits.max_connections;
    let service = hyper::service::service_fn(move |_req: hyper::Request<Incoming>| async move {
        Ok::<_, Infallible>(
            crate::ApiError::Overloaded(format!(
                "the relay has {max} connections open, as many as it takes; retry in a moment"
            ))
            .into_response(),
        )
    });
    let deadline = limits.header_timeout * 2;
    let builder = builder(&limits, false);
    match tls {
        None => {
            let conn = builder.serve_connection(TokioIo::new(tcp), service);
            let _ = tokio::time::timeout(deadline, conn).await;
        }
        Some(tls) => {
            let Some(remote) = remote else { return };
            if let Some((stream, _)) = handshake(&tls, tcp, remote, &limits).await {
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(deadline, conn).await;
            }
        }
    }
}
