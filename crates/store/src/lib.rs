//! Storage engines for the relay. Each implements `relay_core::Store`; nothing outside this
//! crate writes SQL. SQLite (embedded, one file under the data directory) is the default;
//! PostgreSQL (`PgStore`) lets several relay nodes share one database. Both have the same
//! tables and migration steps, and pass one conformance suite (`tests/it`).
//!
//! `migrate` copies a relay from SQLite to PostgreSQL, checked table by table.
//!
//! Engine errors are turned into `StoreError` here, keeping their text out of client answers.

mod codec;
pub mod migrate;
mod postgres;
mod sqlite;
mod walks;

pub use postgres::{PgOpenError, PgStore};
pub use sqlite::{DB_FILE, SqliteStore, StoreOpenError};
