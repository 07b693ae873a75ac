//! STIX 2.1 vocabulary shared by every other crate: timestamps, identifiers and the checks an
//! object must pass before the relay stores it.
//!
//! This crate owns STIX semantics only. It does no IO, knows nothing of TAXII, HTTP or SQL, and
//! never depends on tokio.

pub mod id;
pub mod object;
pub mod observable;
pub mod pattern;
mod rules;
pub use rules::ValidationOptions;
pub mod timestamp;
pub mod vocab;

pub use id::{IdError, StixId};
pub use object::{ObjectError, ObjectMeta, check_object, check_object_with};
pub use timestamp::{Timestamp, TimestampError};
