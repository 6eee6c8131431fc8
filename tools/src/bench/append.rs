//! `esign-bench append`: event-store append throughput with 1..N writers, each on its own stream.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use esign::pii::PiiCipher;
use esign::store::chain;
use esign::store::{
    AppendRequest, Checkpoint, EventMetadata, EventStore, NewEvent, Store, StreamId,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{millis, percentile};

#[derive(Debug, Clone, clap::Args)]
pub struct AppendOptions {
    /// Database to append to (`sqlite://<path>` or `postgres://...`); it is migrated first.
    #[arg(
        long,
        env = "ESIGN_BENCH_DATABASE_URL",
        default_value = "sqlite://data/bench.db"
    )]
    pub database_url: String,
    /// Concurrency levels to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub writers: Vec<usize>,
    /// Seconds per concurrency level.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Approximate size of each event's JSON payload.
    #[arg(long, default_value_t = 500)]
    pub payload_bytes: usize,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// One concurrency level's outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppendResult {
    pub backend: &'static str,
    pub writers: usize,
    pub events: u64,
    pub seconds: f64,
    pub events_per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Events a catch-up reader saw from the start of this level, in commit-safe order: equals
    /// `events` when no event was skipped.
    pub caught_up: u64,
    /// Seconds `audit verify` took over the whole store afterwards.
    pub verify_seconds: f64,
    pub verified_events: u64,
}

/// Each writer appends single events to its own stream, chaining on the version it last wrote.
pub async fn append(
    options: &AppendOptions,
) -> Result<Vec<AppendResult>, Box<dyn std::error::Error>> {
    let most = options.writers.iter().copied().max().unwrap_or(1);
    let store = Store::open(&options.database_url, most + 2).await?;
    let keys = BTreeMap::from([("bench".to_owned(), PiiCipher::generate_key()?)]);
    let cipher = std::sync::Arc::new(PiiCipher::new("bench", &keys, &PiiCipher::generate_key()?)?);
    let mut results = Vec::new();
    for &writers in &options.writers {
        let (_, start) = catch_up(&store, Checkpoint::START).await?;
        let deadline = Instant::now() + Duration::from_secs(options.seconds);
        let began = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..writers.max(1) {
            let store = store.clone();
            let cipher = std::sync::Arc::clone(&cipher);
            let payload_bytes = options.payload_bytes;
            tasks.push(tokio::spawn(async move {
                let stream = StreamId::new("bench", &Uuid::new_v4().to_string());
                let mut latencies = Vec::new();
                let mut version = 0;
                while Instant::now() < deadline {
                    let event = sample_event(&cipher, payload_bytes, version)?;
                    let sent = Instant::now();
                    store
                        .append(AppendRequest {
                            stream_id: stream.clone(),
                            expected_version: version,
                            events: vec![event],
                        })
                        .await?;
                    latencies.push(sent.elapsed());
                    version += 1;
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(latencies)
            }));
        }
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await?.map_err(|e| e.to_string())?);
        }
        let seconds = began.elapsed().as_secs_f64();
        let (caught_up, _) = catch_up(&store, start).await?;
        let verify_started = Instant::now();
        let report = chain::verify_all(&store, 5_000).await?;
        let verify_seconds = verify_started.elapsed().as_secs_f64();
        if !report.is_intact() {
            return Err(format!(
                "the chain broke during the benchmark: {:?}",
                report.first_break
            )
            .into());
        }
        latencies.sort();
        let events = latencies.len() as u64;
        results.push(AppendResult {
            backend: store.backend_name(),
            writers,
            events,
            seconds,
            events_per_second: events as f64 / seconds,
            p50_ms: percentile(&latencies, 0.50),
            p90_ms: percentile(&latencies, 0.90),
            p99_ms: percentile(&latencies, 0.99),
            max_ms: latencies.last().map(millis).unwrap_or(0.0),
            caught_up,
            verify_seconds,
            verified_events: report.events,
        });
    }
    Ok(results)
}

/// A payload of about `bytes` bytes shaped like a contract event, with one sealed personal field.
fn sample_event(
    cipher: &PiiCipher,
    bytes: usize,
    version: u64,
) -> Result<NewEvent, esign::pii::PiiError> {
    let base = json!({
        "contractId": "CONTRACT_BENCH",
        "partyId": "RECEIVER_001",
        "mobile": {"$pii": "13800138000"},
        "sequence": version,
        "variables": {"payerName": "XX品牌总部", "receiverName": "上海浦东店"},
    });
    let filler = bytes.saturating_sub(base.to_string().len() + 120);
    let mut payload = base;
    payload["note"] = json!("x".repeat(filler));
    Ok(NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "BenchEventAppended".to_owned(),
        schema_version: 1,
        payload: cipher.seal(payload)?,
        metadata: EventMetadata {
            actor: "system:bench".to_owned(),
            ..EventMetadata::default()
        },
    })
}

/// Follows the log from `checkpoint` to its end, as a catch-up reader does: the events read and the
/// checkpoint reached.
async fn catch_up(
    store: &Store,
    mut checkpoint: Checkpoint,
) -> Result<(u64, Checkpoint), esign::store::StoreError> {
    let mut count = 0;
    loop {
        let page = store.read_all(checkpoint, 10_000).await?;
        match page.last() {
            Some(last) => {
                checkpoint = last.checkpoint();
                count += page.len() as u64;
            }
            None => return Ok((count, checkpoint)),
        }
    }
}

/// A table for the terminal.
pub fn render_append(results: &[AppendResult]) -> String {
    let mut out = String::from(
        "backend   writers   events   events/s   p50 ms   p90 ms   p99 ms   max ms   caught-up   verify ev/s\n",
    );
    for r in results {
        out.push_str(&format!(
            "{:<9} {:>7} {:>8} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>11} {:>13.0}\n",
            r.backend,
            r.writers,
            r.events,
            r.events_per_second,
            r.p50_ms,
            r.p90_ms,
            r.p99_ms,
            r.max_ms,
            r.caught_up,
            r.verified_events as f64 / r.verify_seconds.max(1e-9),
        ));
    }
    out
}
