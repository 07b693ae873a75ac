//! The one mapping from service errors to HTTP: a status and a TAXII 2.1 error message
//! (section 3.6.1). A 5xx body says nothing of its cause; the cause is logged once here.

use std::any::Any;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use relay_core::Error;
use serde::Serialize;

use crate::media::TAXII_MEDIA_TYPE;

/// A failed request, rendered as a TAXII error message.
#[derive(Debug)]
pub enum ApiError {
    Service(Error),
    /// The Accept header names nothing this server can produce.
    NotAcceptable(String),
    /// The request body's Content-Type is not one this endpoint reads.
    UnsupportedMediaType(String),
    /// No route matches the path, or the method is not allowed on it.
    NoRoute(StatusCode, String),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Service(e)
    }
}

#[derive(Serialize)]
struct ErrorMessage<'a> {
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    error_id: String,
    http_status: String,
}

fn render(status: StatusCode, title: &str, description: Option<String>) -> Response {
    let body = ErrorMessage {
        title,
        description,
        error_id: uuid::Uuid::new_v4().to_string(),
        http_status: status.as_u16().to_string(),
    };
    let json = serde_json::to_string(&body).unwrap_or_else(|_| "{}".into());
    let mut resp = Response::new(Body::from(json));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TAXII_MEDIA_TYPE),
    );
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = match self {
            ApiError::NotAcceptable(d) => {
                return render(StatusCode::NOT_ACCEPTABLE, "Not Acceptable", Some(d));
            }
            ApiError::UnsupportedMediaType(d) => {
                return render(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "Unsupported Media Type",
                    Some(d),
                );
            }
            ApiError::NoRoute(status, d) => {
                return render(
                    status,
                    status.canonical_reason().unwrap_or("Error"),
                    Some(d),
                );
            }
            ApiError::Service(e) => e,
        };
        match e {
            Error::Unauthenticated => {
                let mut resp = render(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    Some("send an API token as 'Authorization: Bearer TOKEN', or as the password of HTTP Basic authentication".into()),
                );
                let h = resp.headers_mut();
                h.append(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"isac-relay\", charset=\"UTF-8\""),
                );
                h.append(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"isac-relay\""),
                );
                resp
            }
            Error::Forbidden(d) => render(StatusCode::FORBIDDEN, "Forbidden", Some(d)),
            Error::NotFound(d) => render(StatusCode::NOT_FOUND, "Not Found", Some(d)),
            Error::Invalid(d) => render(StatusCode::BAD_REQUEST, "Bad Request", Some(d)),
            Error::Unprocessable(d) => render(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unprocessable Content",
                Some(d),
            ),
            e @ Error::TooLarge { .. } => render(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Content Too Large",
                Some(e.to_string()),
            ),
            Error::Conflict(d) => render(StatusCode::CONFLICT, "Conflict", Some(d)),
            Error::Gone(d) => render(StatusCode::GONE, "Gone", Some(d)),
            e @ (Error::TooManyAttempts { retry_after }
            | Error::RateLimited { retry_after, .. }) => {
                let mut resp = render(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too Many Requests",
                    Some(e.to_string()),
                );
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                resp
            }
            Error::Unavailable(d) => {
                tracing::warn!(cause = %d, "service unavailable");
                render(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable", None)
            }
            Error::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                render(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    None,
                )
            }
        }
    }
}

/// A panic in a handler becomes an opaque 500, never a dropped connection.
pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response {
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %msg, "a request handler panicked");
    render(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        None,
    )
}
