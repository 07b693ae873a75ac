//! Integration tests of the relay: the real server on port 0, a temporary data directory, and
//! a real HTTP client. `taxii` runs the server in-process; `cli` and `crash` run the binary.

mod access;
mod admin_cli;
mod backup;
mod browser;
mod cli;
mod config_corpus;
mod connections;
mod crash;
mod exports;
mod federation;
mod feeds;
mod helpers;
mod limits;
mod malformed;
mod members;
mod metrics;
mod multinode;
mod notice;
mod openapi;
mod paging;
mod push;
mod search;
mod taxii;
mod tls;
mod web;
