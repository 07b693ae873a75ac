//! The library side of the `isac-relay` binary: its configuration (defaults < a TOML file <
//! `ISAC_RELAY_*` environment variables < flags), so that the fuzz target of configuration
//! files reads them exactly as `serve` does.

pub mod config;
