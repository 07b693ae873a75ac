//! engine's integration tests: the fuzzers' corpora replayed.

mod fuzz_corpus;
