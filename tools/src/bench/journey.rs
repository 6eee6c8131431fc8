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

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE, USER_AGENT};
use serde::Serialize;
use serde_json::{Value, json};

use super::Latencies;
use super::callbacks::{CallbacksError, Delivery, Receiver, backend_name, fresh_dir};
use super::client::{CallError, SignedClient};
use super::load::{self, Level};
use super::service::{Service, ServiceError, ServiceOptions};

/// What the signers' phones say they are (recorded as the signature's device).
const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148";
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

/// One signer's phone: a client without script that keeps the service's cookies and follows
/// redirects, as the page's forms are followed by a browser.
struct Phone<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
    cookies: HashMap<String, String>,
}

/// A page the phone ended on.
struct Page {
    url: String,
    html: String,
}

impl Page {
    fn has(&self, id: &str) -> bool {
        self.html.contains(&format!("id=\"{id}\""))
    }

    /// The CSRF token the page's forms carry.
    fn csrf(&self, step: &'static str) -> Result<String, JourneyError> {
        const FIELD: &str = "name=\"csrf\" value=\"";
        let start = self
            .html
            .find(FIELD)
            .map(|at| at + FIELD.len())
            .ok_or_else(|| self.unexpected(step, "no CSRF field"))?;
        let length = self.html[start..]
            .find('"')
            .ok_or_else(|| self.unexpected(step, "an unterminated CSRF field"))?;
        Ok(self.html[start..start + length].to_owned())
    }

    fn expect(&self, step: &'static str, id: &str) -> Result<(), JourneyError> {
        if self.has(id) {
            Ok(())
        } else {
            Err(self.unexpected(step, &format!("no #{id}")))
        }
    }

    fn unexpected(&self, step: &'static str, what: &str) -> JourneyError {
        // The status line or error message says why a step did not move on.
        let hint = ["sms-status", "face-status", "error-message"]
            .iter()
            .find_map(|id| text_of(&self.html, id))
            .unwrap_or_default();
        JourneyError::Unexpected {
            step,
            what: format!("{what} on {} ({hint})", self.url),
        }
    }
}

/// The text right inside the element with `id`, up to its first child tag.
fn text_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')?;
    Some(rest[start..start + end].to_owned())
}

impl<'a> Phone<'a> {
    fn new(http: &'a reqwest::Client, base: &'a str) -> Self {
        Self {
            http,
            base,
            cookies: HashMap::new(),
        }
    }

    /// The whole signer's part on the link `sign_url`: SMS, face, signature.
    async fn sign(
        &mut self,
        sign_url: &str,
        mobile: &str,
        signature: &str,
    ) -> Result<(), JourneyError> {
        let token = sign_url
            .split_once("token=")
            .map(|(_, token)| token.to_owned())
            .ok_or_else(|| JourneyError::Unexpected {
                step: "initiate",
                what: format!("no token in {sign_url}"),
            })?;
        let base = self.base;
        let action = |path: &str| format!("{base}{path}?token={token}");

        let page = self.open("open link", sign_url).await?;
        page.expect("open link", "sms-send")?;
        let csrf = page.csrf("open link")?;

        let page = self
            .submit(
                "send SMS code",
                &action("/h5/sign/sms/send"),
                &[("csrf", &csrf)],
            )
            .await?;
        page.expect("send SMS code", "sms-verify")?;
        let code = self.latest_code(mobile).await?;
        let page = self
            .submit(
                "verify SMS code",
                &action("/h5/sign/sms/verify"),
                &[("csrf", &csrf), ("code", &code)],
            )
            .await?;
        page.expect("verify SMS code", "face-start")?;

        // Over to the provider's capture page, which answers PASS and sends the phone back.
        let started = self
            .send(
                "start face check",
                &action("/h5/sign/face/start"),
                Some(&[("csrf", &csrf)]),
            )
            .await?;
        let capture = self.redirect_of("start face check", started).await?;
        let shown = self.send("face capture page", &capture, None).await?;
        expect_status("face capture page", shown, StatusCode::OK).await?;
        let captured = self
            .send(
                "face capture",
                &capture,
                Some(&[("outcome", "PASS"), ("score", "0.95")]),
            )
            .await?;
        let back = self.redirect_of("face capture", captured).await?;
        let page = self.open("face return", &back).await?;
        page.expect("face return", "signature-pad")?;

        let page = self
            .submit(
                "sign",
                &action("/h5/sign/submit"),
                &[("csrf", &csrf), ("signature", signature)],
            )
            .await?;
        page.expect("sign", "done")?;
        Ok(())
    }

    /// The newest signing code texted to `mobile`, from the development sender's viewer.
    async fn latest_code(&self, mobile: &str) -> Result<String, JourneyError> {
        const STEP: &str = "read SMS code";
        let response = self
            .send(
                STEP,
                &format!("{}/dev/sms?mobile={mobile}", self.base),
                None,
            )
            .await?;
        let text = expect_status(STEP, response, StatusCode::OK).await?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let message = body["messages"]
            .as_array()
            .and_then(|messages| {
                messages
                    .iter()
                    .rev()
                    .find(|message| message["purpose"] == "SIGNING_CODE")
            })
            .and_then(|message| message["text"].as_str())
            .ok_or_else(|| JourneyError::Unexpected {
                step: STEP,
                what: format!("no signing code for {mobile}"),
            })?;
        let digits: Vec<char> = message.chars().collect();
        digits
            .windows(6)
            .find(|window| window.iter().all(char::is_ascii_digit))
            .map(|window| window.iter().collect())
            .ok_or_else(|| JourneyError::Unexpected {
                step: STEP,
                what: format!("no code in {message:?}"),
            })
    }

    async fn open(&mut self, step: &'static str, url: &str) -> Result<Page, JourneyError> {
        self.follow(step, url.to_owned(), None).await
    }

    async fn submit(
        &mut self,
        step: &'static str,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<Page, JourneyError> {
        self.follow(step, url.to_owned(), Some(form)).await
    }

    /// Sends `form` (or a GET) and follows redirects, a 303 turning the POST into a GET.
    async fn follow(
        &mut self,
        step: &'static str,
        mut url: String,
        mut form: Option<&[(&str, &str)]>,
    ) -> Result<Page, JourneyError> {
        for _ in 0..5 {
            let response = self.send(step, &url, form).await?;
            if response.status().is_redirection() {
                url = self.redirect_of(step, response).await?;
                form = None;
                continue;
            }
            self.keep_cookies(&response);
            let html = expect_status(step, response, StatusCode::OK).await?;
            return Ok(Page { url, html });
        }
        Err(JourneyError::Unexpected {
            step,
            what: format!("too many redirects, last to {url}"),
        })
    }

    /// One request; keeps the cookies the service sets.
    async fn send(
        &self,
        step: &'static str,
        url: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Result<reqwest::Response, JourneyError> {
        let mut request = match form {
            Some(fields) => self.http.post(url).form(fields),
            None => self.http.get(url),
        };
        request = request.header(USER_AGENT, PHONE);
        let ours = url.starts_with(self.base);
        if ours && !self.cookies.is_empty() {
            let cookies: Vec<String> = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            request = request.header(COOKIE, cookies.join("; "));
        }
        request
            .send()
            .await
            .map_err(|source| JourneyError::Transport { step, source })
    }

    /// The absolute target of a redirect, after keeping its cookies.
    async fn redirect_of(
        &mut self,
        step: &'static str,
        response: reqwest::Response,
    ) -> Result<String, JourneyError> {
        if !response.status().is_redirection() {
            let status = response.status();
            let excerpt = excerpt(response).await;
            return Err(JourneyError::Status {
                step,
                status,
                excerpt,
            });
        }
        self.keep_cookies(&response);
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| JourneyError::Unexpected {
                step,
                what: "a redirect without Location".to_owned(),
            })?;
        Ok(if location.starts_with("http") {
            location.to_owned()
        } else {
            format!("{}{location}", self.base)
        })
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        if !response.url().as_str().starts_with(self.base) {
            return;
        }
        for value in response.headers().get_all(SET_COOKIE) {
            let pair = value
                .to_str()
                .ok()
                .and_then(|text| text.split(';').next())
                .and_then(|pair| pair.split_once('='));
            if let Some((name, value)) = pair {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }
}

/// The body when the status is `wanted`, else an error with the start of the body.
async fn expect_status(
    step: &'static str,
    response: reqwest::Response,
    wanted: StatusCode,
) -> Result<String, JourneyError> {
    let status = response.status();
    if status != wanted {
        let excerpt = excerpt(response).await;
        return Err(JourneyError::Status {
            step,
            status,
            excerpt,
        });
    }
    response
        .text()
        .await
        .map_err(|source| JourneyError::Transport { step, source })
}

async fn excerpt(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap_or_default();
    text_of(&text, "error-message")
        .map(|message| {
            let code = text_of(&text, "error-code").unwrap_or_default();
            format!("{code} {message}")
        })
        .unwrap_or_else(|| text.chars().take(300).collect())
}

/// A 300 x 120 RGBA PNG with two strokes, as a `data:` URL: what the pad's `toDataURL` posts.
fn signature_data_url() -> String {
    use base64::Engine;
    let (width, height) = (300u32, 120u32);
    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height {
        for x in 0..width {
            let ink = (x / 2..x / 2 + 3).contains(&(y * 2)) || (x + 2 * y) % 89 < 2;
            pixels.extend_from_slice(if ink {
                &[20, 20, 20, 255]
            } else {
                &[0, 0, 0, 0]
            });
        }
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    // Writing a well-formed image into memory cannot fail; an empty PNG would show as 40001.
    if let Ok(mut writer) = encoder.write_header() {
        let _ = writer.write_image_data(&pixels);
        let _ = writer.finish();
    }
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&png)
    )
}

/// The service sections the journey needs: the H5 pages' per-IP limits off (every phone of the
/// bench is 127.0.0.1; the per-link limits keep their defaults, which one journey stays far below)
/// and expiry off (nothing expires within a run). Development mode already gives the sandbox face provider, the development
/// SMS sender with `/dev/sms`, and a platform CA for sealing and `LOCAL_CA` archiving.
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
    let service_options = ServiceOptions {
        database_url: options
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", options.work_dir.join("esign.db").display())),
        dir: options.work_dir.clone(),
        max_connections: 16,
        extra_toml: service_toml(),
        env: Vec::new(),
        serve_args: Vec::new(),
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_a_png_data_url() {
        use base64::Engine;
        let url = signature_data_url();
        let encoded = url
            .strip_prefix("data:image/png;base64,")
            .unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_default();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{url:.40}");
    }

    #[test]
    fn text_is_read_inside_the_element() {
        let html = "<p id=\"sms-status\" class=\"x\">验证码已发送<b>x</b></p>";
        assert_eq!(text_of(html, "sms-status").as_deref(), Some("验证码已发送"));
        assert_eq!(text_of(html, "face-status"), None);
    }
}
