//! Integration tests of the tools: the `esign-bench` binary on real databases, and the fuzz corpus
//! through its targets. One test binary, so the crate links once.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bench_seed;
mod fuzz_corpus;
// The service's own test fixtures (a fresh store per test on either backend); this binary uses
// only some of them.
#[allow(dead_code)]
#[path = "../../../tests/integration/helpers.rs"]
mod helpers;
