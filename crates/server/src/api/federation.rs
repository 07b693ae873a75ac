//! Federation peers over HTTP (ISAC administrators): add, list with where each stands, remove.
//! Credentials go in and never come out: a peer is shown with the kind of its credential only.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get};
use relay_core::federation::{Direction, NewPeer, Peer, PeerAuth};
use relay_core::{Error, Severity, Tlp};
use serde::{Deserialize, Serialize};

use super::admin::{body, created, no_content, ok};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/federation/peers", get(list).post(add))
        .route("/api/v1/federation/peers/{name}", delete(remove))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPeerBody {
    name: String,
    direction: String,
    api_root: String,
    collection: String,
    feeds: Vec<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    client_cert: Option<String>,
    #[serde(default)]
    default_tlp: Option<String>,
    #[serde(default)]
    max_tlp: Option<String>,
    #[serde(default)]
    types: Vec<String>,
    #[serde(default)]
    min_severity: Option<String>,
    #[serde(default)]
    peer_org: Option<String>,
    #[serde(default)]
    interval_secs: Option<u64>,
}

#[derive(Serialize)]
struct PeerView {
    name: String,
    direction: &'static str,
    api_root: String,
    collection: String,
    auth: &'static str,
    feeds: Vec<String>,
    default_tlp: Option<&'static str>,
    max_tlp: &'static str,
    types: Vec<String>,
    min_severity: Option<&'static str>,
    interval_secs: u64,
    cursor: Option<String>,
    last_run: Option<String>,
    last_success: Option<String>,
    last_error: Option<String>,
    transferred: u64,
}

impl From<Peer> for PeerView {
    fn from(p: Peer) -> PeerView {
        let s = p.spec;
        PeerView {
            name: s.name,
            direction: s.direction.as_str(),
            api_root: s.api_root,
            collection: s.collection,
            auth: s.auth.kind(),
            feeds: s.feeds,
            default_tlp: s.default_tlp.map(Tlp::as_str),
            max_tlp: s.max_tlp.as_str(),
            types: s.types,
            min_severity: s.min_severity.map(Severity::as_str),
            interval_secs: s.interval_secs,
            cursor: p.cursor.map(|t| t.to_string()),
            last_run: p.last_run.map(|t| t.to_string()),
            last_success: p.last_success.map(|t| t.to_string()),
            last_error: p.last_error,
            transferred: p.transferred,
        }
    }
}

fn tlp(s: &str) -> Result<Tlp, Error> {
    Tlp::parse(s).ok_or_else(|| Error::Invalid(format!("unknown TLP '{s}'")))
}

async fn list(State(s): State<AppState>, Caller(who): Caller) -> Result<Response, ApiError> {
    let peers: Vec<PeerView> = s
        .relay
        .peers(&who)
        .await?
        .into_iter()
        .map(PeerView::from)
        .collect();
    Ok(ok(&serde_json::json!({ "peers": peers })))
}

async fn add(
    State(s): State<AppState>,
    Caller(who): Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let b: NewPeerBody = body(&bytes)?;
    let direction = Direction::parse(&b.direction)
        .ok_or_else(|| Error::Invalid(format!("direction '{}': pull or push", b.direction)))?;
    let auth = match (b.user, b.password, b.token) {
        (Some(user), Some(password), None) => PeerAuth::Basic { user, password },
        (None, None, Some(t)) => PeerAuth::Bearer(t),
        (None, None, None) => PeerAuth::None,
        _ => {
            return Err(
                Error::Invalid("give user and password, or token, or neither".into()).into(),
            );
        }
    };
    let spec = NewPeer {
        name: b.name,
        direction,
        api_root: b.api_root,
        collection: b.collection,
        auth,
        client_cert: b.client_cert,
        feeds: b.feeds,
        default_tlp: b.default_tlp.as_deref().map(tlp).transpose()?,
        max_tlp: b
            .max_tlp
            .as_deref()
            .map(tlp)
            .transpose()?
            .unwrap_or(Tlp::Green),
        types: b.types,
        min_severity: b
            .min_severity
            .as_deref()
            .map(Severity::parse)
            .transpose()
            .map_err(Error::Invalid)?,
        peer_org: None,
        interval_secs: b.interval_secs.unwrap_or(300),
    };
    let peer = s.relay.add_peer(&who, spec, b.peer_org.as_deref()).await?;
    Ok(created(&PeerView::from(peer)))
}

async fn remove(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    s.relay.remove_peer(&who, &name).await?;
    Ok(no_content())
}
