//! The error every service returns, shaped by what the caller does next. Front ends map it to
//! their own form (a TAXII error message with an HTTP status, a CLI message) in one place.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No credentials, or credentials that match no live token.
    #[error("authentication required")]
    Unauthenticated,
    /// The caller is known but may not do this. Never used to hide a feed's existence: a feed
    /// the caller cannot read is `NotFound`.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request itself is malformed (a bad filter value, unreadable JSON).
    #[error("{0}")]
    Invalid(String),
    /// The request is well-formed but cannot be carried out as asked.
    #[error("{0}")]
    Unprocessable(String),
    #[error("request body is larger than the {limit} bytes this server accepts")]
    TooLarge { limit: usize },
    /// The request holds more of something than the relay takes at once (objects in an
    /// envelope): sent as 413, like a body too large.
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    Conflict(String),
    /// What the request refers to existed once and can no longer be served (an incremental
    /// export from a point the relay no longer remembers).
    #[error("{0}")]
    Gone(String),
    /// Too many failed logins from this account or address; try again after `retry_after`
    /// seconds.
    #[error("too many failed logins; try again in {retry_after} seconds")]
    TooManyAttempts { retry_after: u64 },
    /// A rate limit of the caller's profile; try again after `retry_after` seconds.
    #[error("{what}; try again in {retry_after} seconds")]
    RateLimited { what: String, retry_after: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// The store is closed: the relay is stopping (answered as `Unavailable` is).
    #[error("the relay is stopping")]
    Closed,
    #[error("internal error")]
    Internal(#[source] StoreError),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Error::NotFound(m),
            StoreError::Conflict(m) => Error::Conflict(m),
            StoreError::Unavailable(m) => Error::Unavailable(m),
            StoreError::Closed => Error::Closed,
            other @ StoreError::Internal(_) => Error::Internal(other),
        }
    }
}
