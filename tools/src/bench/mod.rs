//! Load generators behind `esign-bench`. They measure; they assert nothing (see docs/benchmarks.md).
//!
//! - [`append`](mod@append): the event store alone, in-process.
//! - [`seed`](mod@seed) fills a database with signed contracts; [`tools`] times `projections rebuild` and
//!   `audit verify` on it as child processes.
//! - [`service`] starts the real service as a child process and reads its CPU time and memory;
//!   [`client`] signs requests as an upstream caller does; [`load`] drives one scenario at a given
//!   number of connections and summarises the latencies. The HTTP scenarios are built from these.
//! - [`journey`](mod@journey): the whole two-signer journey through the H5 pages, to sealed and archived.
//! - [`callbacks`](mod@callbacks): outbox delivery to a receiver inside the bench.
//! - [`cli`]: the `esign-bench` command line that runs them.

pub mod append;
pub mod callbacks;
pub mod cli;
pub mod client;
pub mod http;
pub mod initiate;
pub mod journey;
pub mod load;
pub mod query;
pub mod seed;
pub mod service;
pub mod tools;

use std::time::Duration;

use serde::Serialize;

pub use append::{AppendOptions, AppendResult, append, render_append};
pub use callbacks::{CallbacksOptions, CallbacksResult, callbacks, render_callbacks};
pub use journey::{JourneyOptions, JourneyResult, journey, render_journey};
pub use seed::{SeedOptions, SeedResult, render_seed, seed};
pub use tools::{Tool, ToolOptions, ToolResult, render_tool, run_tool};

/// The value at `quantile` of latencies sorted ascending, in milliseconds.
pub(crate) fn percentile(sorted: &[Duration], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
    millis(&sorted[index.min(sorted.len() - 1)])
}

pub(crate) fn millis(duration: &Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Throughput and latency percentiles of one measured run.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Latencies {
    /// Operations that succeeded (only these are in the percentiles).
    pub count: u64,
    /// Operations that failed; a run with failures is reported, never hidden.
    pub errors: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latencies {
    pub fn from_samples(mut samples: Vec<Duration>, errors: u64, seconds: f64) -> Self {
        samples.sort_unstable();
        let count = samples.len() as u64;
        Self {
            count,
            errors,
            seconds,
            per_second: count as f64 / seconds.max(1e-9),
            p50_ms: percentile(&samples, 0.50),
            p90_ms: percentile(&samples, 0.90),
            p99_ms: percentile(&samples, 0.99),
            max_ms: samples.last().map(millis).unwrap_or(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_sorted_samples() {
        let samples = (1..=100).rev().map(Duration::from_millis).collect();
        let summary = Latencies::from_samples(samples, 2, 2.0);
        assert_eq!(summary.count, 100);
        assert_eq!(summary.errors, 2);
        assert!((summary.per_second - 50.0).abs() < 1e-9);
        assert!((summary.p50_ms - 51.0).abs() < 1e-9, "{}", summary.p50_ms);
        assert!((summary.p99_ms - 99.0).abs() < 1e-9, "{}", summary.p99_ms);
        assert!((summary.max_ms - 100.0).abs() < 1e-9);
    }
}
