//! `esign-bench http`: starts the service on one database and runs the HTTP scenarios against it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::client::SignedClient;
use super::load::Level;
use super::service::{Service, ServiceOptions};
use super::{initiate, query};

#[derive(Debug, Clone, clap::Args)]
pub struct HttpOptions {
    /// Database the service runs on (`sqlite://<path>` or `postgres://...`); migrated at start.
    #[arg(long, env = "ESIGN_BENCH_DATABASE_URL")]
    pub database_url: String,
    /// Scenarios to run, in order: initiate, query.
    #[arg(long, value_delimiter = ',', default_value = "initiate,query")]
    pub scenarios: Vec<String>,
    /// Concurrent connections per level.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    pub connections: Vec<usize>,
    /// Measured seconds per level.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Unmeasured seconds before each level.
    #[arg(long, default_value_t = 2)]
    pub warmup_seconds: u64,
    /// The service's PostgreSQL pool size.
    #[arg(long, default_value_t = 32)]
    pub pool: usize,
    /// Contract ids the query scenario reads, one per line (`esign-bench seed --ids`).
    #[arg(long)]
    pub query_ids: Option<PathBuf>,
    /// Start the service with the bench-only plain CRUD path (no events): the baseline that shows
    /// what the audit trail costs.
    #[arg(long)]
    pub plain_crud: bool,
    /// Working directory for the service's config, data and log.
    #[arg(long, default_value = "target/bench/service")]
    pub dir: PathBuf,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One scenario on one backend: the unit the report tables and plots are drawn from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub scenario: String,
    pub backend: String,
    /// `esign`, or the baseline it is compared with.
    pub variant: String,
    pub levels: Vec<Level>,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpBenchError {
    #[error(transparent)]
    Service(#[from] super::service::ServiceError),
    #[error(transparent)]
    Call(#[from] super::client::CallError),
    #[error("unknown scenario {0:?} (initiate, query)")]
    UnknownScenario(String),
    #[error("cannot read the query ids from {0}: {1}")]
    QueryIds(PathBuf, std::io::Error),
    #[error(
        "the query scenario needs contract ids: pass --query-ids FILE (from `esign-bench seed --ids`)"
    )]
    NoQueryIds,
}

/// The contract ids the query scenario reads, checked before any service starts.
fn query_ids(options: &HttpOptions) -> Result<Vec<String>, HttpBenchError> {
    let Some(path) = &options.query_ids else {
        return Err(HttpBenchError::NoQueryIds);
    };
    let ids: Vec<String> = std::fs::read_to_string(path)
        .map_err(|e| HttpBenchError::QueryIds(path.clone(), e))?
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return Err(HttpBenchError::NoQueryIds);
    }
    Ok(ids)
}

pub async fn run(options: &HttpOptions) -> Result<Vec<Run>, HttpBenchError> {
    if let Some(unknown) = options
        .scenarios
        .iter()
        .find(|name| !matches!(name.as_str(), "initiate" | "query"))
    {
        return Err(HttpBenchError::UnknownScenario(unknown.clone()));
    }
    let ids = if options.scenarios.iter().any(|name| name == "query") {
        query_ids(options)?
    } else {
        Vec::new()
    };
    let backend = if options.database_url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    let variant = if options.plain_crud {
        "plain-crud"
    } else {
        "esign"
    };
    let service = Service::start(&ServiceOptions {
        database_url: options.database_url.clone(),
        dir: options.dir.clone(),
        max_connections: options.pool,
        extra_toml: String::new(),
        env: Vec::new(),
        serve_args: if options.plain_crud {
            vec!["--bench-plain-crud".to_owned()]
        } else {
            Vec::new()
        },
    })
    .await?;
    let outcome = scenarios(options, &service, backend, variant, Arc::new(ids)).await;
    service.stop().await;
    outcome
}

async fn scenarios(
    options: &HttpOptions,
    service: &Service,
    backend: &str,
    variant: &str,
    query_ids: Arc<Vec<String>>,
) -> Result<Vec<Run>, HttpBenchError> {
    let client = SignedClient::bench_caller(&service.base_url)?;
    let warmup = Duration::from_secs(options.warmup_seconds);
    let duration = Duration::from_secs(options.seconds);
    let mut runs = Vec::new();
    for scenario in &options.scenarios {
        let levels = match scenario.as_str() {
            "initiate" => {
                // Loopback is a legal callback address in development mode; nothing listens there,
                // and initiating a contract announces nothing, so no delivery is attempted.
                let callback = "http://127.0.0.1:9/esign-callback";
                initiate::run(
                    &client,
                    service.pid(),
                    &options.connections,
                    warmup,
                    duration,
                    callback,
                )
                .await?
            }
            "query" => {
                query::run(
                    &client,
                    service.pid(),
                    Arc::clone(&query_ids),
                    &options.connections,
                    warmup,
                    duration,
                )
                .await
            }
            other => return Err(HttpBenchError::UnknownScenario(other.to_owned())),
        };
        runs.push(Run {
            scenario: scenario.clone(),
            backend: backend.to_owned(),
            variant: variant.to_owned(),
            levels,
        });
    }
    Ok(runs)
}

/// A table for the terminal.
pub fn render(runs: &[Run]) -> String {
    let mut out = String::from(
        "scenario  backend   variant      conns      ok  errors      req/s   p50 ms   p90 ms   p99 ms   max ms  cores  peak MiB\n",
    );
    for run in runs {
        for level in &run.levels {
            let l = &level.latencies;
            out.push_str(&format!(
                "{:<9} {:<9} {:<10} {:>7} {:>7} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>6.2} {:>9.1}\n",
                run.scenario,
                run.backend,
                run.variant,
                level.connections,
                l.count,
                l.errors,
                l.per_second,
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.max_ms,
                level.service_cores,
                level.service_peak_rss_mib,
            ));
            for error in &level.error_samples {
                out.push_str(&format!("    error: {error}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        options: HttpOptions,
    }

    fn options(args: &[&str]) -> HttpOptions {
        let mut all = vec!["bench", "--database-url", "sqlite://unused.db"];
        all.extend_from_slice(args);
        Cli::parse_from(all).options
    }

    #[tokio::test]
    async fn bad_scenarios_and_missing_query_ids_are_refused_before_anything_starts() {
        let unknown = run(&options(&["--scenarios", "initiate,qurey"])).await;
        assert!(
            matches!(&unknown, Err(HttpBenchError::UnknownScenario(name)) if name == "qurey"),
            "{unknown:?}"
        );
        let missing = run(&options(&["--scenarios", "query"])).await;
        assert!(
            matches!(missing, Err(HttpBenchError::NoQueryIds)),
            "{missing:?}"
        );
        let empty = tempfile::NamedTempFile::new().unwrap();
        let path = empty.path().to_str().unwrap();
        let blank = run(&options(&["--scenarios", "query", "--query-ids", path])).await;
        assert!(
            matches!(blank, Err(HttpBenchError::NoQueryIds)),
            "{blank:?}"
        );
        let absent = run(&options(&[
            "--scenarios",
            "query",
            "--query-ids",
            "/nonexistent/ids",
        ]))
        .await;
        assert!(
            matches!(absent, Err(HttpBenchError::QueryIds(..))),
            "{absent:?}"
        );
    }
}
