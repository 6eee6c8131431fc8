//! The whole signing journey under load, without a browser: what the H5 page and its script send,
//! request by request, for two signers in order, then the wait until the contract is sealed and
//! archived.
//!
//! One journey:
//! 1. the caller initiates a two-signer FACE_AND_SMS contract (`LOCAL_CA` archive, a `callbackUrl` on
//!    the bench's receiver) through the signed API;
//! 2. each signer, in order, opens the sign link, requests an SMS code and types it (read from the
//!    development sender's `GET /dev/sms`), starts the face check, takes the sandbox provider's
//!    capture page and answers PASS, comes back through esign's return route, and posts the
//!    signature PNG as the pad's data URL (the confirmation dialog is the script's, not a request).
//!    Redirects are followed as a browser follows them, so every step reloads the page;
//! 3. the caller polls `GET /api/v1/contract/{id}` until `documentHash` is set (sealed) and
//!    `archiveInfo.status` is SUCCESS (archived).
//!
//! Sealing and archiving run in the background after the last signature; their delays are reported
//! on their own, from the client's view (polling) and from the server's (the `occurredAt` of the
//! SIGNED and ContractArchivedEvent callbacks).
//!
//! # Layout
//! - this file: the scenario, one journey's steps, the waits for sealing and archiving;
//! - `phone`: one signer's phone, request by request through the H5 pages.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use super::Latencies;
use super::callbacks::{CallbacksError, Delivery, Receiver, backend_name, fresh_dir};
use super::client::{CallError, SignedClient};
use super::load::{self, Level};
use super::service::{Service, ServiceError, ServiceOptions};

mod phone;

use phone::{Phone, signature_data_url};

/// How often the caller asks whether the document is sealed and archived.
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// How long a journey waits for its archive before it counts as failed.
const ARCHIVE_PATIENCE: Duration = Duration::from_secs(120);
/// How long a level waits for the callbacks of its journeys after the last one ended.
const CALLBACK_PATIENCE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum JourneyError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("{step}: {source}")]
    Transport {
        step: &'static str,
        source: reqwest::Error,
    },
    #[error("{step}: answered {status}: {excerpt}")]
    Status {
        step: &'static str,
        status: StatusCode,
        excerpt: String,
    },
    #[error("{step}: {what}")]
    Unexpected { step: &'static str, what: String },
    #[error("contract {contract_id} was not {wanted} within {patience:?} of its last signature")]
    NotFinished {
        contract_id: String,
        wanted: &'static str,
        patience: Duration,
    },
    #[error("contract {contract_id}: archive {status}")]
    ArchiveFailed { contract_id: String, status: String },
}

#[derive(Debug, thiserror::Error)]
pub enum JourneyScenarioError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(transparent)]
    Callbacks(#[from] CallbacksError),
}

/// One concurrency level: journeys per second and their latency (initiation to archived, as the
/// caller sees it), with the parts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JourneyLevel {
    /// Whole journeys: initiate, both signers, sealed and archived.
    pub journeys: Level,
    /// Initiation to the second signer's done page.
    pub signing: Latencies,
    /// Last signature (its done page) to `documentHash` seen by polling.
    pub to_sealed: Latencies,
    /// Last signature to `archiveInfo.status` SUCCESS seen by polling.
    pub to_archived: Latencies,
    /// Server clock: the SIGNED status change's `occurredAt` to the ContractArchivedEvent's
    /// `occurredAt`, from the callbacks (no polling delay in it).
    pub signed_to_archived_server: Latencies,
    /// Callbacks the receiver got for this level's journeys, and how many failed their signature.
    pub callbacks_received: u64,
    pub callbacks_bad_signatures: u64,
}

/// What one measured journey left behind for the after-signing figures.
#[derive(Debug, Clone)]
struct Finished {
    started: Instant,
    contract_id: String,
    signing: Duration,
    to_sealed: Duration,
    to_archived: Duration,
}

/// Shared by every journey of a run.
#[derive(Debug)]
struct Journeys {
    client: SignedClient,
    callback_url: String,
    /// Makes `bizId`s unique across runs on one database.
    prefix: String,
    /// The signature pad's PNG as the page posts it.
    signature: String,
    /// Numbers the journeys, for their `bizId` and their signers' mobile numbers.
    next: AtomicU64,
    finished: Mutex<Vec<Finished>>,
}

impl Journeys {
    fn lock_finished(&self) -> std::sync::MutexGuard<'_, Vec<Finished>> {
        self.finished
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The two signers of every contract: the order, names and ID numbers of the integration tests.
const SIGNERS: [(&str, &str, &str, &str); 2] = [
    ("RECEIVER_001", "RECEIVER", "张三", "11010519491231002X"),
    ("PAYER_001", "PAYER", "李四", "440304199001010011"),
];

/// Runs journeys back to back from `connections` concurrent workers per level, `seconds` each after
/// `warmup`, against `service` with callbacks going to `receiver`.
pub async fn journey_scenario(
    service: &Service,
    receiver: &Receiver,
    connections: &[usize],
    warmup: Duration,
    seconds: u64,
) -> Result<Vec<JourneyLevel>, JourneyScenarioError> {
    let client = SignedClient::bench_caller(&service.base_url)?;
    super::initiate::publish_template(&client).await?;
    let journeys = Arc::new(Journeys {
        client,
        callback_url: receiver.url().to_owned(),
        prefix: format!("JR{}", chrono::Utc::now().format("%y%m%d%H%M%S")),
        signature: signature_data_url(),
        next: AtomicU64::new(0),
        finished: Mutex::new(Vec::new()),
    });
    let mut levels = Vec::new();
    for &workers in connections {
        receiver.take();
        journeys.lock_finished().clear();
        let measuring_from = Instant::now() + warmup;
        let level = {
            let journeys = Arc::clone(&journeys);
            load::run(
                workers,
                warmup,
                Duration::from_secs(seconds),
                Some(service.pid()),
                move |_worker, _iteration| {
                    let journeys = Arc::clone(&journeys);
                    async move { one_journey(&journeys).await }
                },
            )
            .await
        };
        let finished: Vec<Finished> = journeys
            .lock_finished()
            .iter()
            .filter(|journey| journey.started >= measuring_from)
            .cloned()
            .collect();
        let window = level.latencies.seconds;
        let contracts: Vec<&str> = finished.iter().map(|f| f.contract_id.as_str()).collect();
        let deliveries = wait_for_archived_callbacks(receiver, &contracts).await;
        let ours: Vec<&Delivery> = deliveries
            .iter()
            .filter(|d| {
                d.contract_id
                    .as_deref()
                    .is_some_and(|id| contracts.contains(&id))
            })
            .collect();
        let summary = |part: fn(&Finished) -> Duration| {
            Latencies::from_samples(finished.iter().map(part).collect(), 0, window)
        };
        levels.push(JourneyLevel {
            signing: summary(|f| f.signing),
            to_sealed: summary(|f| f.to_sealed),
            to_archived: summary(|f| f.to_archived),
            signed_to_archived_server: Latencies::from_samples(
                server_signed_to_archived(&ours),
                0,
                window,
            ),
            callbacks_received: ours.len() as u64,
            callbacks_bad_signatures: ours.iter().filter(|d| !d.signed).count() as u64,
            journeys: level,
        });
    }
    Ok(levels)
}

/// Waits until every contract in `contracts` has its ContractArchivedEvent callback (or the patience
/// ran out), and returns everything received.
async fn wait_for_archived_callbacks(receiver: &Receiver, contracts: &[&str]) -> Vec<Delivery> {
    let deadline = Instant::now() + CALLBACK_PATIENCE;
    loop {
        let deliveries = receiver.deliveries();
        let archived = deliveries
            .iter()
            .filter(|d| d.event_type == "ContractArchivedEvent")
            .filter_map(|d| d.contract_id.as_deref())
            .collect::<std::collections::HashSet<_>>();
        if contracts.iter().all(|id| archived.contains(id)) || Instant::now() >= deadline {
            return deliveries;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Per contract: SIGNED's `occurredAt` to the archive's `occurredAt`.
fn server_signed_to_archived(deliveries: &[&Delivery]) -> Vec<Duration> {
    let mut signed = HashMap::new();
    let mut archived = HashMap::new();
    for delivery in deliveries {
        let (Some(contract), Some(at)) = (delivery.contract_id.as_deref(), delivery.occurred_at)
        else {
            continue;
        };
        if delivery.event_type == "ContractArchivedEvent" {
            archived.insert(contract, at);
        } else if delivery.event_type == "ContractStatusChangedEvent"
            && delivery.status.as_deref() == Some("SIGNED")
        {
            signed.insert(contract, at);
        }
    }
    signed
        .iter()
        .filter_map(|(contract, signed_at)| {
            let archived_at = archived.get(contract)?;
            (*archived_at - *signed_at).to_std().ok()
        })
        .collect()
}

/// One complete journey; records its after-signing figures when it succeeds.
async fn one_journey(journeys: &Journeys) -> Result<(), JourneyError> {
    let started = Instant::now();
    let number = journeys.next.fetch_add(1, Ordering::Relaxed);
    // Each signer gets a number of their own, so the code read back is theirs.
    let mobiles = [
        format!("13{:09}", (number * 2) % 1_000_000_000),
        format!("13{:09}", (number * 2 + 1) % 1_000_000_000),
    ];
    let signers: Vec<Value> = SIGNERS
        .iter()
        .zip(&mobiles)
        .enumerate()
        .map(|(index, ((party_id, party_type, name, id_card), mobile))| {
            json!({"partyId": party_id, "partyType": party_type, "name": name,
                "idCardNo": id_card, "mobile": mobile, "signMethod": "FACE_AND_SMS",
                "notifyType": if index == 0 { "SMS" } else { "H5_LINK" }, "sequence": index + 1})
        })
        .collect();
    let mut body = super::initiate::initiate_body(
        &format!("{}_{number}", journeys.prefix),
        &journeys.callback_url,
    );
    body["signers"] = json!(signers);
    let created = journeys
        .client
        .post("/api/v1/contract/initiate", &body)
        .await?;
    let contract_id = created["contractId"]
        .as_str()
        .ok_or_else(|| JourneyError::Unexpected {
            step: "initiate",
            what: format!("no contractId in {created}"),
        })?
        .to_owned();
    for (index, mobile) in mobiles.iter().enumerate() {
        let sign_url = created["signTasks"][index]["signUrl"]
            .as_str()
            .ok_or_else(|| JourneyError::Unexpected {
                step: "initiate",
                what: format!("no signUrl for signer {index}"),
            })?;
        let mut phone = Phone::new(journeys.client.http(), journeys.client.base_url());
        phone.sign(sign_url, mobile, &journeys.signature).await?;
    }
    let signed = Instant::now();
    let (to_sealed, to_archived) = wait_until_archived(&journeys.client, &contract_id).await?;
    journeys.lock_finished().push(Finished {
        started,
        contract_id,
        signing: signed.duration_since(started),
        to_sealed,
        to_archived,
    });
    Ok(())
}

/// Polls the contract until it is sealed and archived; the two delays from now.
async fn wait_until_archived(
    client: &SignedClient,
    contract_id: &str,
) -> Result<(Duration, Duration), JourneyError> {
    let from = Instant::now();
    let mut sealed = None;
    loop {
        let contract = client
            .get(&format!("/api/v1/contract/{contract_id}"))
            .await?;
        if sealed.is_none() && contract["documentHash"].is_string() {
            sealed = Some(from.elapsed());
        }
        match contract["archiveInfo"]["status"].as_str() {
            Some("SUCCESS") => {
                let archived = from.elapsed();
                return Ok((sealed.unwrap_or(archived), archived));
            }
            Some("FAILED") => {
                return Err(JourneyError::ArchiveFailed {
                    contract_id: contract_id.to_owned(),
                    status: "FAILED".to_owned(),
                });
            }
            _ => {}
        }
        if from.elapsed() > ARCHIVE_PATIENCE {
            return Err(JourneyError::NotFinished {
                contract_id: contract_id.to_owned(),
                wanted: if sealed.is_some() {
                    "archived"
                } else {
                    "sealed"
                },
                patience: ARCHIVE_PATIENCE,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The service sections the journey needs: the H5 pages' per-IP limits off (every phone of the
/// bench is 127.0.0.1; the per-link limits keep their defaults, which one journey stays far below)
/// and expiry off (nothing expires within a run). Development mode already gives the sandbox face
/// provider, the development SMS sender with `/dev/sms`, and a platform CA for sealing and
/// `LOCAL_CA` archiving.
pub fn service_toml() -> String {
    "[h5]\nrequests_per_minute_per_ip = 0\nsms_per_hour_per_ip = 0\n\n\
     [expiry]\nenabled = false\n"
        .to_owned()
}

/// `esign-bench journey`.
#[derive(Debug, Clone, clap::Args)]
pub struct JourneyOptions {
    /// Database to run the service on; default a fresh SQLite file in the work directory.
    #[arg(long, env = "ESIGN_BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Concurrent journeys per level, in order.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    pub connections: Vec<usize>,
    /// Seconds each level is measured.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Seconds of journeys before each level's measurement, not counted.
    #[arg(long, default_value_t = 3)]
    pub warmup_seconds: u64,
    /// The service's data, keys and log (emptied first).
    #[arg(long, default_value = "data/bench-journey")]
    pub work_dir: PathBuf,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JourneyResult {
    pub backend: String,
    pub levels: Vec<JourneyLevel>,
}

/// Starts the service for the journey and runs every level on it.
pub async fn journey(options: &JourneyOptions) -> Result<JourneyResult, JourneyScenarioError> {
    fresh_dir(&options.work_dir)?;
    let service_options = ServiceOptions::in_work_dir(
        options.database_url.as_deref(),
        &options.work_dir,
        service_toml(),
    );
    let receiver = Receiver::start().await?;
    let service = Service::start(&service_options).await?;
    let levels = journey_scenario(
        &service,
        &receiver,
        &options.connections,
        Duration::from_secs(options.warmup_seconds),
        options.seconds,
    )
    .await;
    service.stop().await;
    Ok(JourneyResult {
        backend: backend_name(&service_options.database_url).to_owned(),
        levels: levels?,
    })
}

pub fn render_journey(result: &JourneyResult) -> String {
    let mut out = format!(
        "journeys on {} (initiate, two signers through the H5 pages, sealed, archived)\n\
         conc  journeys/s  done  errors  p50 ms  p90 ms  p99 ms  max ms | signing p50/p99 | \
         to-sealed p50/p99 | to-archived p50/p99 | server signed->archived p50/p99 | callbacks  cores  rss MiB\n",
        result.backend
    );
    for level in &result.levels {
        let j = &level.journeys.latencies;
        out.push_str(&format!(
            "{:>4} {:>11.2} {:>5} {:>7} {:>7.0} {:>7.0} {:>7.0} {:>7.0} | {:>6.0} / {:>6.0} | {:>7.0} / {:>7.0} | {:>8.0} / {:>8.0} | {:>14.0} / {:>14.0} | {:>9} {:>6.2} {:>8.0}\n",
            level.journeys.connections,
            j.per_second,
            j.count,
            j.errors,
            j.p50_ms,
            j.p90_ms,
            j.p99_ms,
            j.max_ms,
            level.signing.p50_ms,
            level.signing.p99_ms,
            level.to_sealed.p50_ms,
            level.to_sealed.p99_ms,
            level.to_archived.p50_ms,
            level.to_archived.p99_ms,
            level.signed_to_archived_server.p50_ms,
            level.signed_to_archived_server.p99_ms,
            level.callbacks_received,
            level.journeys.service_cores,
            level.journeys.service_peak_rss_mib,
        ));
        if level.callbacks_bad_signatures > 0 {
            out.push_str(&format!(
                "  {} callbacks failed their signature check\n",
                level.callbacks_bad_signatures
            ));
        }
        for sample in &level.journeys.error_samples {
            out.push_str(&format!("  error: {sample}\n"));
        }
    }
    out
}
