//! Tests of the stix crate against the shared OASIS corpus (`../shared/corpus/stix21`), read by
//! path, never copied.

mod corpus;
mod fuzz_corpus;
