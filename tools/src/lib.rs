//! Tools around the esign service that are no part of it: load generators and fuzzing support.
//!
//! # Layout
//!
//! - [`bench`](mod@bench): the load generators behind the `esign-bench` binary (see `docs/benchmarks.md`),
//!   and [`bench::cli`], its command line.
//! - [`fuzzing`]: the entry points of the `cargo fuzz` targets in `fuzz/` and of the corpus
//!   regression test; [`fuzzing::seeds`] writes the seed corpus (the `esign-fuzz-seeds` binary; see
//!   `docs/fuzzing.md`).
//! - [`fixtures`]: request parts the fuzz seeds and the service's integration tests share.
//!
//! They reach the service through the `esign` library as any other caller does, so nothing here is
//! compiled into the service.

pub mod bench;
pub mod fixtures;
pub mod fuzzing;
