//! Storage engines for the relay. Each implements `relay_core::Store`; nothing outside this
//! crate writes SQL. SQLite (embedded, one file under the data directory) is the default.
//!
//! Engine errors are turned into `StoreError` here, keeping their text out of client answers.

mod codec;
mod sqlite;

pub use sqlite::{DB_FILE, SqliteStore, StoreOpenError};
