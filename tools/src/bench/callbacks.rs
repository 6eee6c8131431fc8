//! Outbox delivery to a caller's receiver: how fast the dispatcher empties the outbox and how long a
//! committed event waits before its callback arrives.
//!
//! The receiver runs inside the bench (axum on 127.0.0.1:0; development mode accepts loopback
//! callback URLs, docs/callbacks.md "SSRF guard"), answers 200 and checks `X-Esign-Signature` with the
//! bench caller's secret. Callbacks are produced cheaply: initiate a one-signer contract with the
//! receiver as `callbackUrl`, then revoke it; the revocation is one `ContractStatusChangedEvent`.
//!
//! Two measurements:
//! - **live**: producers initiate and revoke for a fixed time while the dispatcher delivers;
//! - **drain**: a backlog written while the dispatcher was off, delivered by a restarted service
//!   with nothing else to do: the dispatcher's own rate.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::Latencies;
use super::client::{CallError, SignedClient};
use super::load::{self, Level};
use super::service::{CLIENT_SECRET, Service, ServiceError, ServiceOptions};

/// How long a level waits, after its producers stopped, for the last callback.
const DELIVERY_PATIENCE: Duration = Duration::from_secs(180);
/// The template every produced contract is initiated on.

#[derive(Debug, thiserror::Error)]
pub enum CallbacksError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("the callback receiver cannot start: {0}")]
    Receiver(std::io::Error),
    #[error("cannot prepare the work directory {0}: {1}")]
    WorkDir(PathBuf, std::io::Error),
}

/// One callback as the receiver got it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub contract_id: Option<String>,
    pub status: Option<String>,
    /// When the event that caused the callback was recorded (`occurredAt`).
    pub occurred_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub received: Instant,
    /// `X-Esign-Signature` verified with the bench caller's secret.
    pub signed: bool,
}

#[derive(Debug, Default)]
struct Inbox {
    deliveries: Mutex<Vec<Delivery>>,
}

impl Inbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Delivery>> {
        // A push cannot leave the list half-written; keep using it after a panic elsewhere.
        self.deliveries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A callback receiver on a free loopback port, stopped when dropped.
#[derive(Debug)]
pub struct Receiver {
    url: String,
    inbox: Arc<Inbox>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Result<Self, CallbacksError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(CallbacksError::Receiver)?;
        let address = listener.local_addr().map_err(CallbacksError::Receiver)?;
        let inbox = Arc::new(Inbox::default());
        let router = axum::Router::new()
            .route("/callback", post(receive))
            .with_state(Arc::clone(&inbox));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "the bench's callback receiver stopped");
            }
        });
        Ok(Self {
            url: format!("http://{address}/callback"),
            inbox,
            server,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Everything received so far, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.inbox.lock().clone()
    }

    /// Everything received so far, forgotten by the receiver.
    pub fn take(&self) -> Vec<Delivery> {
        std::mem::take(&mut *self.inbox.lock())
    }

    /// How many distinct events matching `wanted` arrived.
    pub fn distinct(&self, wanted: impl Fn(&Delivery) -> bool) -> usize {
        self.inbox
            .lock()
            .iter()
            .filter(|delivery| wanted(delivery))
            .map(|delivery| delivery.event_id.as_str())
            .collect::<HashSet<_>>()
            .len()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let received_at = Utc::now();
    let received = Instant::now();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let signed = esign::delivery::signature::verify(
        &header("x-esign-signature"),
        &body,
        CLIENT_SECRET.as_bytes(),
        received_at.timestamp(),
        300,
    )
    .is_ok();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = |field: &str| json[field].as_str().map(str::to_owned);
    inbox.lock().push(Delivery {
        event_id: header("x-esign-event-id"),
        event_type: header("x-esign-event-type"),
        contract_id: text("contractId"),
        status: text("status"),
        occurred_at: text("occurredAt")
            .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
            .map(|at| at.with_timezone(&Utc)),
        received_at,
        received,
        signed,
    });
    // Always 200: a refused callback would be retried seconds later and blur the rate. Bad
    // signatures are counted and reported instead.
    StatusCode::OK
}

/// What the receiver got for one batch of produced callbacks.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryReport {
    /// Callbacks the service committed (successful revocations).
    pub produced: u64,
    /// Distinct callbacks of those that arrived (must equal `produced`).
    pub received: u64,
    /// Arrivals beyond the first of an event (at-least-once delivery).
    pub duplicates: u64,
    /// Arrivals whose signature did not verify with the caller's secret.
    pub bad_signatures: u64,
    /// Distinct arrivals per second from the first to the last.
    pub deliveries_per_second: f64,
    pub window_seconds: f64,
    /// From the event's `occurredAt` to its arrival.
    pub latency: Latencies,
}

impl DeliveryReport {
    /// Summarises the `REVOKED` status changes in `deliveries` against `produced`.
    pub fn of(deliveries: &[Delivery], produced: u64) -> Self {
        let mut seen = HashSet::new();
        let mut duplicates = 0;
        let mut bad_signatures = 0;
        let mut latencies = Vec::new();
        let mut first: Option<Instant> = None;
        let mut last: Option<Instant> = None;
        for delivery in deliveries.iter().filter(|d| is_revocation(d)) {
            if !delivery.signed {
                bad_signatures += 1;
            }
            if !seen.insert(delivery.event_id.as_str()) {
                duplicates += 1;
                continue;
            }
            first = Some(first.map_or(delivery.received, |at| at.min(delivery.received)));
            last = Some(last.map_or(delivery.received, |at| at.max(delivery.received)));
            if let Some(occurred) = delivery.occurred_at {
                latencies.push(
                    (delivery.received_at - occurred)
                        .to_std()
                        .unwrap_or_default(),
                );
            }
        }
        let received = seen.len() as u64;
        let window = match (first, last) {
            (Some(first), Some(last)) => last.duration_since(first).as_secs_f64(),
            _ => 0.0,
        };
        let mut latency = Latencies::from_samples(latencies, 0, window);
        // The rate counts the intervals between arrivals: n arrivals span n - 1 of them.
        let deliveries_per_second = if received > 1 {
            (received - 1) as f64 / window.max(1e-9)
        } else {
            0.0
        };
        latency.per_second = deliveries_per_second;
        Self {
            produced,
            received,
            duplicates,
            bad_signatures,
            deliveries_per_second,
            window_seconds: window,
            latency,
        }
    }
}

fn is_revocation(delivery: &Delivery) -> bool {
    delivery.event_type == "ContractStatusChangedEvent"
        && delivery.status.as_deref() == Some("REVOKED")
}

/// One producer level of the live measurement.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveLevel {
    /// Initiate + revoke pairs: `connections` producers, per-pair latency.
    pub producers: Level,
    pub delivery: DeliveryReport,
    /// From the producers stopping to the last callback arriving.
    pub tail_seconds: f64,
}

/// The backlog measurement: written with the dispatcher off, delivered by a fresh service.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DrainResult {
    pub delivery: DeliveryReport,
    /// From the delivering service's start to the last callback.
    pub seconds_from_start: f64,
}

/// Publishes the template the produced contracts use (once per database; a repeat is harmless).
pub async fn prepare(client: &SignedClient) -> Result<(), CallError> {
    super::initiate::publish_template(client).await
}

/// Initiates a one-signer contract that calls back `callback_url`, then revokes it: one callback.
async fn produce_one(
    client: &SignedClient,
    callback_url: &str,
    biz_id: &str,
) -> Result<(), CallError> {
    let mut body = super::initiate::initiate_body(biz_id, callback_url);
    // One signer and no archive: the revocation's status change is the one callback.
    body["signers"] = json!([body["signers"][0].clone()]);
    body["archiveConfig"] = json!({"needArchive": false});
    let created = client.post("/api/v1/contract/initiate", &body).await?;
    let contract_id = created["contractId"].as_str().unwrap_or_default();
    client
        .post(
            &format!("/api/v1/contract/{contract_id}/revoke"),
            &json!({"reason": "压测撤销", "operator": "bench"}),
        )
        .await?;
    Ok(())
}

/// A prefix no earlier run on the same database used, so `bizId`s never collide.
fn run_prefix() -> String {
    format!("CB{}", Utc::now().format("%y%m%d%H%M%S"))
}

/// Producers initiate and revoke for `seconds` at each level of `connections` while the service
/// delivers to `receiver`; each level then waits until every produced callback arrived (or
/// `DELIVERY_PATIENCE` passed) before the next starts.
pub async fn live(
    service: &Service,
    receiver: &Receiver,
    connections: &[usize],
    seconds: u64,
) -> Result<Vec<LiveLevel>, CallbacksError> {
    let client = SignedClient::bench_caller(&service.base_url)?;
    prepare(&client).await?;
    let prefix = run_prefix();
    let mut levels = Vec::new();
    for (index, &producers) in connections.iter().enumerate() {
        receiver.take();
        let produced = Arc::new(AtomicU64::new(0));
        let level_prefix = format!("{prefix}_{index}");
        let level = {
            let client = client.clone();
            let produced = Arc::clone(&produced);
            let url = receiver.url().to_owned();
            load::run(
                producers,
                Duration::ZERO,
                Duration::from_secs(seconds),
                Some(service.pid()),
                move |worker, iteration| {
                    let client = client.clone();
                    let produced = Arc::clone(&produced);
                    let url = url.clone();
                    let biz_id = format!("{level_prefix}_{worker}_{iteration}");
                    async move {
                        produce_one(&client, &url, &biz_id).await?;
                        produced.fetch_add(1, Ordering::Relaxed);
                        Ok::<_, CallError>(())
                    }
                },
            )
            .await
        };
        let stopped = Instant::now();
        let produced = produced.load(Ordering::Relaxed);
        wait_for(receiver, produced).await;
        let deliveries = receiver.deliveries();
        let tail_seconds = deliveries
            .iter()
            .filter(|d| is_revocation(d))
            .map(|d| d.received)
            .max()
            .map(|last| last.saturating_duration_since(stopped).as_secs_f64())
            .unwrap_or(0.0);
        levels.push(LiveLevel {
            producers: level,
            delivery: DeliveryReport::of(&deliveries, produced),
            tail_seconds,
        });
    }
    Ok(levels)
}

/// Waits until `expected` distinct revocations arrived, or `DELIVERY_PATIENCE` passed.
async fn wait_for(receiver: &Receiver, expected: u64) {
    let deadline = Instant::now() + DELIVERY_PATIENCE;
    while (receiver.distinct(is_revocation) as u64) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes `backlog` callbacks with `producers` while `service` does not deliver (started with
/// [`service_toml`]`(false)`). Returns how many were committed.
pub async fn fill_backlog(
    service: &Service,
    callback_url: &str,
    producers: usize,
    backlog: u64,
) -> Result<u64, CallbacksError> {
    let client = SignedClient::bench_caller(&service.base_url)?;
    prepare(&client).await?;
    let prefix = format!("{}_BACKLOG", run_prefix());
    let next = Arc::new(AtomicU64::new(0));
    let produced = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..producers.max(1) {
        let client = client.clone();
        let next = Arc::clone(&next);
        let produced = Arc::clone(&produced);
        let url = callback_url.to_owned();
        let prefix = prefix.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let number = next.fetch_add(1, Ordering::Relaxed);
                if number >= backlog {
                    break;
                }
                match produce_one(&client, &url, &format!("{prefix}_{number}")).await {
                    Ok(()) => {
                        produced.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => tracing::warn!(%error, "a backlog callback was not produced"),
                }
            }
        }));
    }
    for worker in workers {
        // A panicked worker produced less; the count says how much.
        let _ = worker.await;
    }
    Ok(produced.load(Ordering::Relaxed))
}

/// Starts the delivering service on the backlog's database and waits for the whole backlog.
pub async fn drain(
    options: &ServiceOptions,
    receiver: &Receiver,
    produced: u64,
) -> Result<DrainResult, CallbacksError> {
    receiver.take();
    let started = Instant::now();
    let service = Service::start(options).await?;
    wait_for(receiver, produced).await;
    let deliveries = receiver.deliveries();
    let last = deliveries
        .iter()
        .filter(|d| is_revocation(d))
        .map(|d| d.received)
        .max();
    service.stop().await;
    Ok(DrainResult {
        delivery: DeliveryReport::of(&deliveries, produced),
        seconds_from_start: last
            .map(|last| last.saturating_duration_since(started).as_secs_f64())
            .unwrap_or(0.0),
    })
}

/// The service sections this scenario needs: the dispatcher on or off, with the default delivery
/// settings otherwise (8 attempts in flight, batches of 32).
pub fn service_toml(deliver: bool) -> String {
    // Expiry sweeps would add unrelated writes; nothing here expires within a run anyway.
    format!("[callbacks]\nenabled = {deliver}\n\n[expiry]\nenabled = false\n")
}

/// `esign-bench callbacks`.
#[derive(Debug, Clone, clap::Args)]
pub struct CallbacksOptions {
    /// Database to run the service on; default a fresh SQLite file in the work directory.
    #[arg(long, env = "ESIGN_BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Producer counts for the live measurement, in order.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    pub connections: Vec<usize>,
    /// Seconds each live level produces.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Callbacks written with the dispatcher off, then drained (0 skips the drain measurement).
    #[arg(long, default_value_t = 2000)]
    pub backlog: u64,
    /// The service's data, keys and log (emptied first).
    #[arg(long, default_value = "data/bench-callbacks")]
    pub work_dir: PathBuf,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbacksResult {
    pub backend: String,
    pub live: Vec<LiveLevel>,
    pub drain: Option<DrainResult>,
}

/// Runs the live levels, then (with a backlog) the drain, each on a service of its own.
pub async fn callbacks(options: &CallbacksOptions) -> Result<CallbacksResult, CallbacksError> {
    let service_options = |deliver: bool| {
        ServiceOptions::in_work_dir(
            options.database_url.as_deref(),
            &options.work_dir,
            service_toml(deliver),
        )
    };
    fresh_dir(&options.work_dir)?;
    let receiver = Receiver::start().await?;
    let delivering = service_options(true);
    let service = Service::start(&delivering).await?;
    let live = live(&service, &receiver, &options.connections, options.seconds).await;
    service.stop().await;
    let live = live?;
    let drain = if options.backlog > 0 {
        let quiet = Service::start(&service_options(false)).await?;
        let produced = fill_backlog(&quiet, receiver.url(), 8, options.backlog).await;
        quiet.stop().await;
        Some(drain(&delivering, &receiver, produced?).await?)
    } else {
        None
    };
    Ok(CallbacksResult {
        backend: backend_name(&delivering.database_url).to_owned(),
        live,
        drain,
    })
}

pub(crate) fn backend_name(database_url: &str) -> &'static str {
    if database_url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    }
}

/// Empties `dir` so a run starts from a fresh SQLite file and fresh keys.
pub(crate) fn fresh_dir(dir: &std::path::Path) -> Result<(), CallbacksError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(CallbacksError::WorkDir(dir.to_path_buf(), error)),
    }
    std::fs::create_dir_all(dir).map_err(|error| CallbacksError::WorkDir(dir.to_path_buf(), error))
}

pub fn render_callbacks(result: &CallbacksResult) -> String {
    let mut out = format!(
        "callbacks on {}: live (producers initiate + revoke; one callback each)\n\
         producers  pairs/s  errors  produced  received  dup  bad-sig  deliveries/s  tail s  \
         lat p50 ms  p90 ms  p99 ms  max ms  cores\n",
        result.backend
    );
    for level in &result.live {
        let d = &level.delivery;
        out.push_str(&format!(
            "{:>9} {:>8.1} {:>7} {:>9} {:>9} {:>4} {:>8} {:>13.1} {:>7.2} {:>11.1} {:>7.1} {:>7.1} {:>7.1} {:>6.2}\n",
            level.producers.connections,
            level.producers.latencies.per_second,
            level.producers.latencies.errors,
            d.produced,
            d.received,
            d.duplicates,
            d.bad_signatures,
            d.deliveries_per_second,
            level.tail_seconds,
            d.latency.p50_ms,
            d.latency.p90_ms,
            d.latency.p99_ms,
            d.latency.max_ms,
            level.producers.service_cores,
        ));
        for sample in &level.producers.error_samples {
            out.push_str(&format!("  error: {sample}\n"));
        }
    }
    if let Some(drain) = &result.drain {
        let d = &drain.delivery;
        out.push_str(&format!(
            "drain: {} produced with the dispatcher off, {} received ({} dup, {} bad-sig), \
             {:.1} deliveries/s over {:.2} s; last one {:.2} s after the service started\n",
            d.produced,
            d.received,
            d.duplicates,
            d.bad_signatures,
            d.deliveries_per_second,
            d.window_seconds,
            drain.seconds_from_start,
        ));
    }
    out
}
