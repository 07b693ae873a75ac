//! Authentication of a request: reads the Authorization header (Bearer, or Basic with a token
//! or the user's password) and the peer's address, and asks the relay for the principal.
//! Authorization is not decided here.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine as _;
use relay_core::service::Credentials;
use relay_core::{Error, Origin, Principal};

use crate::AppState;
use crate::error::ApiError;

/// The authenticated caller of a request.
pub struct Caller(pub Principal);

fn credentials(parts: &Parts) -> Option<Credentials> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") {
        return Some(Credentials::Bearer(rest.to_owned()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        return Some(Credentials::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        });
    }
    None
}

/// Where a request came from: the peer's address (behind a reverse proxy, the proxy's) and
/// the client certificate presented on its TLS connection, if any.
pub(crate) fn origin(parts: &Parts) -> Origin {
    Origin {
        address: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string()),
        client_cert: parts
            .extensions
            .get::<crate::PeerCert>()
            .map(|c| c.0.clone()),
    }
}

/// The request's `Origin`, as an extractor.
pub(crate) struct FromOrigin(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for FromOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(FromOrigin(origin(parts)))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let creds = credentials(parts).ok_or(Error::Unauthenticated)?;
        let who = state.relay.authenticate(&creds, origin(parts)).await?;
        if who.role == relay_core::Role::Scanner
            && !crate::api::notice::scanner_may(&parts.method, parts.uri.path())
        {
            return Err(Error::Forbidden(
                "a scanner's credentials reach only campaign ranges and result uploads".into(),
            )
            .into());
        }
        Ok(Caller(who))
    }
}
