//! `esign-bench rebuild` and `esign-bench verify`: the operator commands `projections rebuild` and
//! `audit verify`, run as child processes of this executable (its `esign` command line) against a
//! (seeded) database and timed, with the child's CPU time and peak memory read from `/proc` while it
//! runs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::AsyncReadExt as _;

use super::service::{ProcessSample, esign_command};

/// How often the child's CPU time and memory are read.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, clap::Args)]
pub struct ToolOptions {
    /// The database the command runs against (`sqlite://<path>` or `postgres://...`), passed to it as
    /// `ESIGN_DATABASE_URL`; the rest of its configuration is this command's.
    #[arg(long, env = "ESIGN_BENCH_DATABASE_URL")]
    pub database_url: String,
    /// `rebuild` only: run `projections rebuild --check` (compare, leave the live tables).
    #[arg(long)]
    pub check: bool,
    /// Also write the result as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Which operator command to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Tool {
    Rebuild,
    Verify,
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("cannot start the command: {0}")]
    Spawn(std::io::Error),
    #[error("`esign {command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("`esign {command}` printed no report: {reason}")]
    Report { command: String, reason: String },
}

/// One measured run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult {
    pub command: String,
    pub backend: &'static str,
    pub events: u64,
    pub streams: u64,
    pub seconds: f64,
    pub events_per_second: f64,
    /// The child's highest resident memory.
    pub peak_rss_mib: f64,
    /// The child's CPU time over the run's wall time (1.0 = one core busy).
    pub cpu_cores: f64,
    /// Every process's CPU time over the run's wall time (the database server's share included, and
    /// anything else the machine ran meanwhile).
    pub machine_cores: f64,
}

/// Runs the command once and measures it.
pub async fn run_tool(
    tool: Tool,
    options: &ToolOptions,
    config: Option<&Path>,
) -> Result<ToolResult, ToolError> {
    let args: Vec<&str> = match (tool, options.check) {
        (Tool::Rebuild, false) => vec!["projections", "rebuild", "--json"],
        (Tool::Rebuild, true) => vec!["projections", "rebuild", "--check", "--json"],
        (Tool::Verify, _) => vec!["audit", "verify", "--json"],
    };
    let command_text = args[..args.len() - 1].join(" ");
    let mut command = esign_command().map_err(ToolError::Spawn)?;
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    command
        .args(&args)
        .env("ESIGN_DATABASE_URL", &options.database_url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let machine_before = machine_cpu_seconds();
    let started = Instant::now();
    let mut child = command.spawn().map_err(ToolError::Spawn)?;
    let pid = child.id().unwrap_or(0);
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    // Drained meanwhile, so a chatty child never blocks on a full pipe.
    let out = tokio::spawn(async move {
        let mut text = String::new();
        if let Some(pipe) = stdout.as_mut() {
            let _ = pipe.read_to_string(&mut text).await;
        }
        text
    });
    let err = tokio::spawn(async move {
        let mut text = String::new();
        if let Some(pipe) = stderr.as_mut() {
            let _ = pipe.read_to_string(&mut text).await;
        }
        text
    });
    let mut last = ProcessSample::default();
    let mut peak_rss_mib: f64 = 0.0;
    let status = loop {
        // Sampled before asking whether it ended: an ended child is reaped, and `/proc` forgets it.
        let sample = ProcessSample::of(pid);
        if sample.cpu_seconds > 0.0 {
            last = sample;
        }
        peak_rss_mib = peak_rss_mib.max(sample.peak_rss_mib);
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => tokio::time::sleep(SAMPLE_EVERY).await,
            Err(error) => return Err(ToolError::Spawn(error)),
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let machine_cores = (machine_cpu_seconds() - machine_before) / seconds.max(1e-9);
    let stdout = out.await.unwrap_or_default();
    let stderr = err.await.unwrap_or_default();
    if !status.success() {
        return Err(ToolError::Failed {
            command: command_text,
            status,
            stderr: stderr.trim().chars().take(2_000).collect(),
        });
    }
    let report: serde_json::Value =
        serde_json::from_str(&stdout).map_err(|error| ToolError::Report {
            command: command_text.clone(),
            reason: format!("{error}: {stdout}"),
        })?;
    let count = |field: &str| report[field].as_u64().unwrap_or(0);
    let events = count("events");
    Ok(ToolResult {
        backend: if options.database_url.starts_with("sqlite://") {
            "sqlite"
        } else {
            "postgres"
        },
        command: command_text,
        events,
        streams: count("streams"),
        seconds,
        events_per_second: events as f64 / seconds.max(1e-9),
        peak_rss_mib,
        cpu_cores: last.cpu_seconds / seconds.max(1e-9),
        machine_cores,
    })
}

/// A table for the terminal.
pub fn render_tool(results: &[ToolResult]) -> String {
    let mut out = String::from(
        "command                        backend      events   seconds   events/s   peak RSS MiB   cores (child)   cores (machine)\n",
    );
    for r in results {
        out.push_str(&format!(
            "{:<30} {:<9} {:>9} {:>9.2} {:>10.0} {:>14.1} {:>15.2} {:>17.2}\n",
            r.command,
            r.backend,
            r.events,
            r.seconds,
            r.events_per_second,
            r.peak_rss_mib,
            r.cpu_cores,
            r.machine_cores,
        ));
    }
    out
}

/// CPU seconds every process on the machine has used since boot (`/proc/stat`'s first line: user,
/// nice, system, irq and softirq; idle and iowait left out). Zero when `/proc` is missing.
fn machine_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    busy_seconds(&stat)
}

fn busy_seconds(stat: &str) -> f64 {
    let Some(line) = stat.lines().find(|line| line.starts_with("cpu ")) else {
        return 0.0;
    };
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq ...
    let busy: f64 = [0, 1, 2, 5, 6]
        .iter()
        .filter_map(|&index| fields.get(index))
        .sum();
    busy / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_cpu_counts_busy_ticks_only() {
        let stat = "cpu  100 20 30 5000 70 4 6 0 0 0\ncpu0 50 10 15 2500 35 2 3 0 0 0\n";
        assert!((busy_seconds(stat) - 1.6).abs() < 1e-9);
    }
}
