//! Content negotiation for TAXII 2.1 (section 1.6.8, 3.1): which Accept headers the relay can
//! answer (406 otherwise), which request bodies it reads (415 otherwise), and the media type
//! of every TAXII response, errors included.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";
const TAXII_ESSENCE: &str = "application/taxii+json";

/// A media type names TAXII 2.1 if it is `application/taxii+json` with no version (the latest)
/// or version 2.1.
fn is_taxii21(m: &mime::Mime) -> bool {
    m.essence_str() == TAXII_ESSENCE && m.get_param("version").is_none_or(|v| v.as_str() == "2.1")
}

/// Whether an Accept header admits a TAXII 2.1 response. No header means anything goes; a
/// wildcard admits TAXII too; a range with `q=0` is a refusal.
pub fn accepts_taxii(headers: &HeaderMap) -> Result<(), ApiError> {
    let values: Vec<&HeaderValue> = headers.get_all(header::ACCEPT).iter().collect();
    if values.is_empty() {
        return Ok(());
    }
    let mut seen = Vec::new();
    for value in values {
        let Ok(text) = value.to_str() else { continue };
        for range in text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            seen.push(range.to_owned());
            let Ok(m) = range.parse::<mime::Mime>() else {
                continue;
            };
            let refused = m
                .get_param("q")
                .and_then(|q| q.as_str().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0);
            let admits =
                is_taxii21(&m) || m.essence_str() == "*/*" || m.essence_str() == "application/*";
            if admits && !refused {
                return Ok(());
            }
        }
    }
    Err(ApiError::NotAcceptable(format!(
        "this server answers with {TAXII_MEDIA_TYPE}; the Accept header offered {}",
        seen.join(", ")
    )))
}

/// Whether a request body is a TAXII 2.1 envelope by its Content-Type.
pub fn reads_taxii(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match ct.and_then(|c| c.parse::<mime::Mime>().ok()) {
        Some(m) if is_taxii21(&m) => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType(format!(
            "send the body as {TAXII_MEDIA_TYPE}, not {}",
            ct.unwrap_or("a body without Content-Type")
        ))),
    }
}

/// Middleware for every TAXII route: refuses what cannot be negotiated before any work is done,
/// and labels every answer with the TAXII media type.
pub async fn negotiate(req: Request, next: Next) -> Response {
    if let Err(e) = accepts_taxii(req.headers()) {
        return e.into_response();
    }
    if req.method() == Method::POST
        && let Err(e) = reads_taxii(req.headers())
    {
        return e.into_response();
    }
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TAXII_MEDIA_TYPE),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        accepts_taxii(&h).is_ok()
    }

    #[test]
    fn accept_table() {
        for ok in [
            "application/taxii+json;version=2.1",
            "application/taxii+json",
            "application/taxii+json; version=2.1",
            "application/json, application/taxii+json;version=2.1;q=0.5",
            "application/taxii+json;version=2.1,application/stix+json;version=2.1",
            "*/*",
        ] {
            assert!(accept(ok), "{ok}");
        }
        for refused in [
            "application/json",
            "application/taxii+json;version=2.0",
            "application/stix+json;version=2.1",
            "application/taxii+json;q=0",
            "text/html",
        ] {
            assert!(!accept(refused), "{refused}");
        }
    }

    #[test]
    fn content_type_table() {
        let ct = |v: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(v) = v {
                h.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
            }
            reads_taxii(&h).is_ok()
        };
        assert!(ct(Some("application/taxii+json;version=2.1")));
        assert!(ct(Some("application/taxii+json")));
        assert!(ct(Some(
            "application/taxii+json; version=2.1; charset=utf-8"
        )));
        assert!(!ct(Some("application/json")));
        assert!(!ct(Some("application/taxii+json;version=2.0")));
        assert!(!ct(None));
    }
}
