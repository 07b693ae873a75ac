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
    /// More connections than the relay takes: 503, retry in a second, connection closed.
    Overloaded(String),
    /// The request took longer than the relay gives one: 408 when its body had not all
    /// arrived (a slow client), else 503 (a slow answer). The connection is closed.
    TimedOut {
        body_complete: bool,
        secs: u64,
    },
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
            ApiError::Overloaded(d) => {
                let mut resp = render(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable",
                    Some(d),
                );
                let h = resp.headers_mut();
                h.insert(header::RETRY_AFTER, HeaderValue::from(1));
                h.insert(header::CONNECTION, HeaderValue::from_static("close"));
                return resp;
            }
            ApiError::TimedOut {
                body_complete,
                secs,
            } => {
                let (status, title, d) = if body_complete {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Service Unavailable",
                        format!(
                            "the answer took longer than the {secs} s this relay gives a request; retry later or ask for less (a smaller limit, a narrower filter)"
                        ),
                    )
                } else {
                    (
                        StatusCode::REQUEST_TIMEOUT,
                        "Request Timeout",
                        format!(
                            "the request's body did not arrive within the {secs} s this relay gives a request"
                        ),
                    )
                };
                let mut resp = render(status, title, Some(d));
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return resp;
            }
            ApiError::Service(e) => e,
        };
        let p = problem(e);
        let mut resp = render(p.status, p.title, p.description);
        let h = resp.headers_mut();
        if p.status == StatusCode::UNAUTHORIZED {
            h.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"isac-relay\", charset=\"UTF-8\""),
            );
            h.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"isac-relay\""),
            );
        }
        if let Some(after) = p.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(after));
        }
        resp
    }
}

/// What a service error means to a client: the status, its title, what may be said of it, and
/// when to retry. The one mapping of service errors, for the API and the web pages alike; the
/// cause of a 5xx is logged here, once, and never described.
pub(crate) struct Problem {
    pub status: StatusCode,
    pub title: &'static str,
    pub description: Option<String>,
    pub retry_after: Option<u64>,
}

pub(crate) fn problem(e: Error) -> Problem {
    let p = |status, title, description: Option<String>| Problem {
        status,
        title,
        description,
        retry_after: None,
    };
    match e {
        Error::Unauthenticated => p(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            Some("send an API token as 'Authorization: Bearer TOKEN', or as the password of HTTP Basic authentication".into()),
        ),
        Error::Forbidden(d) => p(StatusCode::FORBIDDEN, "Forbidden", Some(d)),
        Error::NotFound(d) => p(StatusCode::NOT_FOUND, "Not Found", Some(d)),
        Error::Invalid(d) => p(StatusCode::BAD_REQUEST, "Bad Request", Some(d)),
        Error::Unprocessable(d) => p(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Content",
            Some(d),
        ),
        Error::TooMany(d) => p(StatusCode::PAYLOAD_TOO_LARGE, "Content Too Large", Some(d)),
        e @ Error::TooLarge { .. } => p(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Content Too Large",
            Some(e.to_string()),
        ),
        Error::Conflict(d) => p(StatusCode::CONFLICT, "Conflict", Some(d)),
        Error::Gone(d) => p(StatusCode::GONE, "Gone", Some(d)),
        e @ (Error::TooManyAttempts { retry_after }
        | Error::RateLimited { retry_after, .. }) => Problem {
            status: StatusCode::TOO_MANY_REQUESTS,
            title: "Too Many Requests",
            description: Some(e.to_string()),
            retry_after: Some(retry_after),
        },
        Error::Unavailable(d) => {
            tracing::warn!(cause = %d, "service unavailable");
            p(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable", None)
        }
        Error::Closed => p(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable", None),
        Error::Internal(cause) => {
            tracing::error!(error = ?cause, "internal error");
            p(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
                None,
            )
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
