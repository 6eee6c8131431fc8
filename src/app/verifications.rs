//! The face verification flows that involve a provider or the person, each ending in one command
//! through the pipeline:
//!
//! - [`start_task`]: create the provider task through the failover list and record
//!   `StartProviderTask`; when every provider fails, record the round (`RecordProviderUnavailable`) or,
//!   with degraded mode on, switch to the degraded check (`Degrade`).
//! - [`retry_due`] / [`spawn_provider_retry`]: the background rounds, found in the query table, so
//!   any instance may run them.
//! - [`record_callback`]: a provider's signed result -> `RecordResult`, or a logged rejection with
//!   nothing written.
//! - [`pull_result`]: the person came back from the provider's page; ask the provider server-side.
//! - [`send_degraded_code`] / [`verify_degraded_code`]: the two steps of the degraded check.

use std::time::{Duration, Instant};

use crate::providers::face::provider::HeaderMap;
use aggregates::Aggregate;
use aggregates::face_verification::{
    Degrade, FaceVerificationAggregate, InitiateVerification, RecordProviderResult,
    RecordProviderUnavailable, SendDegradedCode, StartProviderTask, VerificationCommand,
    VerificationConflict, VerificationError, VerificationRequest, VerificationState,
    VerifyDegradedCode,
};
use aggregates::values::{LongText, ProviderName, TransactionNo, VerificationId};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::{AppError, Caller, Services};
use crate::app::one_time_codes::{OneTimeCode, code_digest};
use crate::app::pipeline::{CommandError, Executed};
use crate::pii::PiiCipher;
use crate::providers::face::protocol::{SdkConfig, TIMESTAMP_WINDOW_SECONDS};
use crate::providers::face::provider::{CallbackError, TaskRequest};
use crate::providers::sms::SmsMessage;
use crate::read::audit::Timeline;
use crate::store::query_tables::RowView;
use crate::store::{EventMetadata, StreamId};
use projections::Table;
use serde_json::Value;
use subtle::ConstantTimeEq;

/// A new code may be requested this long after the previous one.
const CODE_RESEND_SECONDS: i64 = 60;

/// What starting a provider task came to.
#[derive(Debug, Clone)]
pub enum TaskStart {
    /// A provider took the task.
    Started {
        provider: ProviderName,
        sdk_config: Option<SdkConfig>,
    },
    /// No provider could; the round is recorded. `next_attempt_at` is `None` once retries are used up.
    Unavailable {
        next_attempt_at: Option<DateTime<Utc>>,
    },
    /// No provider could, and the verification switched to the degraded check.
    Degraded,
    /// The verification no longer needs a task (one was started meanwhile, it degraded or ended).
    NotNeeded,
}

fn stream(verification_id: &str) -> StreamId {
    StreamId::new(FaceVerificationAggregate::NAME, verification_id)
}

/// Metadata for commands the system runs on its own.
pub fn system_metadata(job: &str) -> EventMetadata {
    EventMetadata {
        actor: format!("system:{job}"),
        client_id: None,
        ip: None,
        user_agent: None,
        correlation_id: Some(uuid::Uuid::new_v4().to_string()),
        causation_id: None,
    }
}

async fn load(state: &Services, verification_id: &str) -> Result<VerificationState, AppError> {
    Ok(state
        .pipeline
        .load::<FaceVerificationAggregate>(&stream(verification_id))
        .await?
        .state)
}

async fn run(
    state: &Services,
    verification_id: &str,
    metadata: &EventMetadata,
    command: VerificationCommand,
) -> Result<Executed<FaceVerificationAggregate>, CommandError<VerificationError>> {
    state
        .pipeline
        .execute::<FaceVerificationAggregate>(&stream(verification_id), metadata, |_| {
            command.clone()
        })
        .await
}

/// Runs round `attempt` of creating the provider task (round 1 is the initiation's own).
/// `may_degrade`: whether a failed round may switch to the degraded check (the initiation's round).
pub async fn start_task(
    state: &Services,
    verification_id: &str,
    attempt: u32,
    metadata: &EventMetadata,
    may_degrade: bool,
) -> Result<TaskStart, AppError> {
    start_task_returning(state, verification_id, attempt, metadata, may_degrade, None).await
}

/// Like [`start_task`], with the page the provider sends the person back to; `None` is the face
/// verification page's own return route. The signing page passes its own, so the signer comes back
/// to their contract.
pub async fn start_task_returning(
    state: &Services,
    verification_id: &str,
    attempt: u32,
    metadata: &EventMetadata,
    may_degrade: bool,
    return_url: Option<String>,
) -> Result<TaskStart, AppError> {
    let current = load(state, verification_id).await?;
    let verification = match &current {
        VerificationState::Pending { verification, .. } => verification.clone(),
        VerificationState::NotInitiated => return Err(AppError::NotFound),
        _ => return Ok(TaskStart::NotNeeded),
    };
    let base = state.config.server.public_base_url.trim_end_matches('/');
    let token = page_token(
        &state.pii,
        verification_id,
        verification.expires_at.timestamp(),
    );
    let request = TaskRequest {
        verification_id: verification_id.to_owned(),
        name: verification.name.as_str().to_owned(),
        id_card_no: verification.id_card_no.as_str().to_owned(),
        callback_url: String::new(),
        return_url: return_url
            .unwrap_or_else(|| format!("{base}/h5/face-verify/return?token={token}")),
        expires_at: verification.expires_at,
    };
    let callback_base = format!("{base}/provider-callbacks/face");
    match state
        .face
        .create_task(&state.metrics, &request, &callback_base)
        .await
    {
        Ok((provider, task)) => {
            let command = VerificationCommand::StartProviderTask(StartProviderTask {
                provider: provider.name().clone(),
                task_id: task.task_id.clone(),
                h5_url: task
                    .h5_url
                    .as_deref()
                    .and_then(|url| LongText::parse(url).ok()),
                now: Utc::now(),
            });
            match run(state, verification_id, metadata, command).await {
                Ok(_) => Ok(TaskStart::Started {
                    provider: provider.name().clone(),
                    sdk_config: task.sdk_config,
                }),
                // Another instance started a task first; the provider's task from this round is
                // never used and expires at the provider.
                Err(CommandError::Domain(VerificationError::Conflict(
                    VerificationConflict::TaskAlreadyStarted { .. },
                ))) => Ok(TaskStart::NotNeeded),
                Err(error) => Err(error.into()),
            }
        }
        Err(failed) => {
            let now = Utc::now();
            let degrade = may_degrade && state.face.degraded_mode && verification.mobile.is_some();
            let next_attempt_at = if degrade {
                None
            } else {
                state.face.next_attempt_at(attempt, now)
            };
            tracing::warn!(
                verification_id,
                attempt,
                tried = ?failed.tried.iter().map(|name| name.as_str()).collect::<Vec<_>>(),
                ?next_attempt_at,
                degrade,
                "no face provider could take the task"
            );
            let command =
                VerificationCommand::RecordProviderUnavailable(RecordProviderUnavailable {
                    attempt,
                    tried: failed.tried,
                    next_attempt_at,
                    now,
                });
            run(state, verification_id, metadata, command).await?;
            if degrade {
                let command = VerificationCommand::Degrade(Degrade { now: Utc::now() });
                run(state, verification_id, metadata, command).await?;
                return Ok(TaskStart::Degraded);
            }
            Ok(TaskStart::Unavailable { next_attempt_at })
        }
    }
}

/// Runs every due background round once; returns how many rounds ran.
///
/// Due: PENDING without a task, not degraded, before its deadline, and either its recorded next
/// round is due or (no round recorded at all, e.g. the initiating instance stopped before calling a
/// provider) it is older than `grace`.
pub async fn retry_due(state: &Services, now: DateTime<Utc>, grace: Duration) -> usize {
    let stale = now - TimeDelta::from_std(grace).unwrap_or(TimeDelta::MAX);
    let rows = match state
        .store
        .verifications()
        .due_provider_rounds(now, stale)
        .await
    {
        Ok(rows) => rows,
        Err(error) => {
            tracing::warn!(%error, "cannot look for due face provider rounds");
            return 0;
        }
    };
    let mut ran = 0;
    for row in rows {
        let verification_id = row.required_text("verification_id").to_owned();
        let attempts = row.integer("provider_attempts").unwrap_or(0);
        let attempt = u32::try_from(attempts)
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        let metadata = system_metadata("face-provider-retry");
        match start_task(state, &verification_id, attempt, &metadata, false).await {
            Ok(outcome) => {
                ran += 1;
                tracing::info!(
                    verification_id,
                    attempt,
                    ?outcome,
                    "background face provider round"
                );
            }
            Err(error) => {
                tracing::warn!(verification_id, attempt, %error, "background face provider round failed");
            }
        }
    }
    ran
}

/// Runs [`retry_due`] periodically until the runtime stops.
pub fn spawn_provider_retry(state: Services) -> tokio::task::JoinHandle<()> {
    let interval = state.face.sweep_interval();
    // Longer than an initiation's own round can take, so the sweep never races it.
    let grace = Duration::from_millis(state.config.face.request_timeout_ms)
        .saturating_mul(u32::try_from(state.config.face.providers.len()).unwrap_or(u32::MAX))
        + Duration::from_secs(60);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            retry_due(&state, Utc::now(), grace).await;
        }
    })
}

/// The answer to a provider's callback.
#[derive(Debug, Clone, Serialize)]
pub struct CallbackAck {
    /// Why it was refused, when it was.
    #[serde(skip)]
    pub refusal: Option<CallbackRefusal>,
    /// `ACCEPTED`, `ALREADY_RECORDED` or `REJECTED`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why a provider's callback was refused, by how the provider must react.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackRefusal {
    /// No such provider, or no such task of it.
    Unknown,
    /// A missing or wrong signature, or a timestamp outside the window.
    Signature,
    /// Signed, but not a result.
    Malformed,
    /// A used nonce, a different verdict for a decided task, or a result after the deadline.
    Conflict,
    /// The service could not check or record it now; the provider may send it again.
    Unavailable,
}

impl CallbackAck {
    fn rejected(refusal: CallbackRefusal, reason: impl Into<String>) -> Self {
        Self {
            refusal: Some(refusal),
            result: "REJECTED",
            reason: Some(reason.into()),
        }
    }
}

/// Checks and records a provider's callback. Every refusal is logged and writes no event.
pub async fn record_callback(
    state: &Services,
    provider_name: &str,
    headers: &HeaderMap,
    body: &[u8],
    ip: Option<String>,
) -> CallbackAck {
    let started = Instant::now();
    let ack = check_and_record(state, provider_name, headers, body, ip).await;
    let outcome = match ack.result {
        "REJECTED" => "rejected",
        _ => "ok",
    };
    state
        .metrics
        .provider_call(provider_name, "callback", outcome, started.elapsed());
    if let Some(reason) = &ack.reason {
        tracing::warn!(
            provider = provider_name,
            refusal = ?ack.refusal,
            reason,
            "face provider callback rejected; nothing recorded"
        );
    }
    ack
}

async fn check_and_record(
    state: &Services,
    provider_name: &str,
    headers: &HeaderMap,
    body: &[u8],
    ip: Option<String>,
) -> CallbackAck {
    let Some(provider) = state.face.get(provider_name) else {
        return CallbackAck::rejected(CallbackRefusal::Unknown, "unknown provider");
    };
    let now = Utc::now();
    let callback = match provider.verify_callback(headers, body, now) {
        Ok(callback) => callback,
        Err(CallbackError::Signature(error)) => {
            return CallbackAck::rejected(
                CallbackRefusal::Signature,
                format!("signature: {error}"),
            );
        }
        Err(CallbackError::Malformed(error)) => {
            return CallbackAck::rejected(CallbackRefusal::Malformed, format!("body: {error}"));
        }
    };
    // A nonce outlives the window in which its timestamp would pass the check.
    let keep_until = now + TimeDelta::seconds(2 * TIMESTAMP_WINDOW_SECONDS);
    // The service's one nonce store: its periodic purge also clears provider nonces.
    match state
        .nonces
        .use_once(
            &format!("provider:{provider_name}"),
            &callback.nonce,
            keep_until,
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return CallbackAck::rejected(
                CallbackRefusal::Conflict,
                "replayed: the nonce was used",
            );
        }
        Err(error) => {
            return CallbackAck::rejected(
                CallbackRefusal::Unavailable,
                format!("cannot check the nonce: {error}"),
            );
        }
    }
    let outcome = callback.outcome;
    // The task must be the one this provider runs for the verification the result names.
    let row = state
        .store
        .verifications()
        .with_task(&outcome.order_no, outcome.task_id.as_str())
        .await;
    let row = match row {
        Ok(Some(row)) => row,
        Ok(None) => return CallbackAck::rejected(CallbackRefusal::Unknown, "unknown task"),
        Err(error) => {
            return CallbackAck::rejected(CallbackRefusal::Unavailable, error.to_string());
        }
    };
    let verification_id = row.required_text("verification_id").to_owned();
    let metadata = EventMetadata {
        actor: format!("provider:{provider_name}"),
        client_id: None,
        ip,
        user_agent: None,
        correlation_id: Some(uuid::Uuid::new_v4().to_string()),
        causation_id: None,
    };
    let command = VerificationCommand::RecordResult(RecordProviderResult {
        provider: provider.name().clone(),
        transaction_no: outcome.transaction_no,
        verdict: outcome.verdict,
        now,
    });
    match run(state, &verification_id, &metadata, command).await {
        Ok(executed) if executed.appended.is_empty() => CallbackAck {
            refusal: None,
            result: "ALREADY_RECORDED",
            reason: None,
        },
        Ok(_) => CallbackAck {
            refusal: None,
            result: "ACCEPTED",
            reason: None,
        },
        Err(CommandError::Domain(error)) => {
            CallbackAck::rejected(CallbackRefusal::Conflict, error.to_string())
        }
        Err(error) => CallbackAck::rejected(CallbackRefusal::Unavailable, error.to_string()),
    }
}

/// The person came back from the provider's page: ask the provider for the result and record it. A
/// redirect proves nothing; only the provider's own answer (or its signed callback) counts. Provider
/// failures are logged and leave the verification as it is.
pub async fn pull_result(
    state: &Services,
    verification_id: &str,
    metadata: &EventMetadata,
) -> Result<(), AppError> {
    let current = load(state, verification_id).await?;
    let VerificationState::Processing { task, .. } = &current else {
        return Ok(());
    };
    let Some(provider) = state.face.get(task.provider.as_str()) else {
        tracing::warn!(
            provider = task.provider.as_str(),
            "the task's provider is no longer configured"
        );
        return Ok(());
    };
    let started = Instant::now();
    let fetched = provider.fetch_result(&task.task_id).await;
    let outcome_label = match &fetched {
        Ok(_) => "ok",
        Err(error) => error.outcome(),
    };
    state.metrics.provider_call(
        task.provider.as_str(),
        "fetch_result",
        outcome_label,
        started.elapsed(),
    );
    let outcome = match fetched {
        Ok(Some(outcome)) => outcome,
        Ok(None) => return Ok(()),
        Err(error) => {
            tracing::warn!(verification_id, %error, "cannot pull the face result from the provider");
            return Ok(());
        }
    };
    if outcome.task_id != task.task_id || outcome.order_no != verification_id {
        tracing::warn!(
            verification_id,
            "the provider answered for another task; ignored"
        );
        return Ok(());
    }
    let command = VerificationCommand::RecordResult(RecordProviderResult {
        provider: task.provider.clone(),
        transaction_no: outcome.transaction_no,
        verdict: outcome.verdict,
        now: Utc::now(),
    });
    match run(state, verification_id, metadata, command).await {
        Ok(_) => Ok(()),
        Err(CommandError::Domain(error)) => {
            tracing::warn!(verification_id, %error, "pulled face result refused; nothing recorded");
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}

/// Sends a degraded-check code to the mobile given at initiation; returns the masked number.
pub async fn send_degraded_code(
    state: &Services,
    verification_id: &str,
    metadata: &EventMetadata,
) -> Result<String, AppError> {
    let current = load(state, verification_id).await?;
    let now = Utc::now();
    let mobile = match &current {
        VerificationState::Degraded {
            verification,
            check,
        } => {
            if let Some(code) = &check.code {
                let sent_at =
                    code.expires_at - TimeDelta::minutes(aggregates::values::SMS_CODE_TTL_MINUTES);
                if now < sent_at + TimeDelta::seconds(CODE_RESEND_SECONDS) {
                    return Err(AppError::Conflict(format!(
                        "a code was sent less than {CODE_RESEND_SECONDS} s ago"
                    )));
                }
            }
            verification.mobile.clone()
        }
        _ => None,
    };
    let code = OneTimeCode::generate();
    let code_hash = code_digest(&state.pii, &scope(verification_id), code.as_str())
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let command = VerificationCommand::SendDegradedCode(SendDegradedCode { code_hash, now });
    // The command decides whether a code may be sent (degraded, not locked, not final, in time).
    run(state, verification_id, metadata, command).await?;
    let mobile = mobile
        .ok_or_else(|| AppError::Internal("a degraded verification without a mobile".into()))?;
    let message = SmsMessage {
        mobile: mobile.clone(),
        text: format!(
            "【电子签约】您正在进行身份验证，验证码 {}，{} 分钟内有效。请勿告诉他人。",
            code.as_str(),
            aggregates::values::SMS_CODE_TTL_MINUTES
        ),
        purpose: "FACE_DEGRADED_CODE",
    };
    match state.sms.send(&message).await {
        Ok(receipt) => {
            state
                .metrics
                .sms_sent(receipt.sender, message.purpose, "ok");
            Ok(mobile.masked())
        }
        Err(error) => {
            state
                .metrics
                .sms_sent("configured", message.purpose, "failed");
            tracing::warn!(verification_id, mobile = %mobile.masked(), %error, "degraded-check code not sent");
            Err(AppError::Unavailable(error.to_string()))
        }
    }
}

/// Checks a degraded-check code. `Ok(true)`: passed; `Ok(false)`: wrong (the attempt is recorded).
pub async fn verify_degraded_code(
    state: &Services,
    verification_id: &str,
    code: &str,
    metadata: &EventMetadata,
) -> Result<bool, AppError> {
    let code_hash = code_digest(&state.pii, &scope(verification_id), code)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let transaction_no = TransactionNo::parse(&crate::app::ids::new_id("ESIGN_SMS"))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let command = VerificationCommand::VerifyDegradedCode(VerifyDegradedCode {
        code_hash,
        transaction_no,
        now: Utc::now(),
    });
    let executed = run(state, verification_id, metadata, command).await?;
    Ok(matches!(
        executed.state,
        VerificationState::SucceededDegraded { .. }
    ))
}

fn scope(verification_id: &str) -> String {
    format!("face-degraded:{verification_id}")
}

/// A verification id from a path or token, parsed.
pub fn verification_id(text: &str) -> Result<VerificationId, AppError> {
    VerificationId::parse(text).map_err(|_| AppError::NotFound)
}

/// The verification page's token: `<verificationId>.<expiry unix seconds>.<keyed hash>`. It carries no
/// secret of its own; the keyed hash makes it unforgeable and binds it to the verification's deadline.
pub fn page_token(pii: &PiiCipher, verification_id: &str, expires_unix: i64) -> String {
    format!(
        "{verification_id}.{expires_unix}.{}",
        page_mac(pii, verification_id, expires_unix)
    )
}

/// The verification id and expiry a page token names, when its keyed hash is right.
pub fn open_page_token(pii: &PiiCipher, token: &str) -> Option<(String, i64)> {
    let mut parts = token.rsplitn(3, '.');
    let (mac, expires, verification_id) = (parts.next()?, parts.next()?, parts.next()?);
    let expires_unix: i64 = expires.parse().ok()?;
    let expected = page_mac(pii, verification_id, expires_unix);
    bool::from(expected.as_bytes().ct_eq(mac.as_bytes()))
        .then(|| (verification_id.to_owned(), expires_unix))
}

fn page_mac(pii: &PiiCipher, verification_id: &str, expires_unix: i64) -> String {
    pii.blind_index(&format!(
        "esign:h5:face-verify:{verification_id}:{expires_unix}"
    ))
}

/// A face verification just initiated, as the initiate answer shows it.
#[derive(Debug, Clone)]
pub struct FaceInitiated {
    pub verification_id: String,
    pub status: Option<String>,
    /// The page the person opens.
    pub verification_url: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// How the provider's task started: its SDK parameters, or the degraded check.
    pub start: FaceStart,
}

/// What the initiation's provider round came to, for the answer.
#[derive(Debug, Clone)]
pub enum FaceStart {
    /// A provider took the task (its SDK parameters when it has any).
    Started { sdk_config: Option<SdkConfig> },
    /// No provider answered; the verification switched to the degraded check with this method.
    Degraded { method: Option<String> },
    /// Nothing to add (a task was started meanwhile).
    Nothing,
}

/// Initiates a face verification (spec 2.1.1, 5.1): creates it, creates its task at the first
/// available provider in failover order and answers the page the person opens. Idempotent per
/// `bizId` + `bizType` (40002 with the existing verification). When no provider answers, 50001
/// with the `verificationId` (retried in the background), or, with degraded mode on and a mobile
/// number given, the degraded SMS + identity check.
pub async fn initiate(
    services: &Services,
    caller: &Caller,
    request: &VerificationRequest,
) -> Result<FaceInitiated, AppError> {
    if let Some(existing) = find_by_biz_id(services, caller, request).await? {
        return Err(AppError::Duplicate { existing });
    }
    super::guard_callback_url(services, request.callback_url.as_deref()).await?;
    let verification_id =
        VerificationId::parse(&super::ids::new_id("FACE_VERIFY")).map_err(AppError::internal)?;
    let client_id = caller.domain_id()?;
    let now = Utc::now();
    let executed = services
        .pipeline
        .execute::<FaceVerificationAggregate>(
            &stream(verification_id.as_str()),
            &caller.metadata,
            |_| {
                VerificationCommand::Initiate(InitiateVerification {
                    verification_id: verification_id.clone(),
                    client_id: client_id.clone(),
                    request: request.clone(),
                    mode: services.mode(),
                    now,
                })
            },
        )
        .await;
    if lost_biz_id_race(&executed, Table::FaceVerification)
        && let Some(existing) = find_by_biz_id(services, caller, request).await?
    {
        return Err(AppError::Duplicate { existing });
    }
    executed?;
    // Spec 5.1: the provider task is created now, through the failover list.
    let started = start_task(
        services,
        verification_id.as_str(),
        1,
        &caller.metadata,
        true,
    )
    .await?;
    let row = owned(services, caller, verification_id.as_str()).await?;
    let expires_at = row.time("expires_at");
    let token = page_token(
        &services.pii,
        verification_id.as_str(),
        expires_at.map(|t| t.timestamp()).unwrap_or(0),
    );
    let start = match started {
        TaskStart::Started { sdk_config, .. } => FaceStart::Started { sdk_config },
        TaskStart::Degraded => FaceStart::Degraded {
            method: row.text("verification_method").map(str::to_owned),
        },
        // Spec 6: fail fast with 50001; the background retry takes over.
        TaskStart::Unavailable { .. } => {
            return Err(AppError::ProviderUnavailable {
                verification_id: verification_id.as_str().to_owned(),
            });
        }
        TaskStart::NotNeeded => FaceStart::Nothing,
    };
    Ok(FaceInitiated {
        verification_id: verification_id.as_str().to_owned(),
        status: row.text("status").map(str::to_owned),
        verification_url: format!(
            "{}/h5/face-verify?token={token}",
            services.config.server.public_base_url.trim_end_matches('/')
        ),
        expires_at,
        start,
    })
}

/// The verification's status and result (spec 2.1.1 item 2), the ID number in clear for its owner.
pub async fn show(
    services: &Services,
    caller: &Caller,
    verification_id: &str,
) -> Result<Value, AppError> {
    let row = owned(services, caller, verification_id).await?;
    Ok(crate::read::views::verification(&row, &services.pii)?)
}

/// The verification's audit trail, personal data masked.
pub async fn events(
    services: &Services,
    caller: &Caller,
    verification_id: &str,
) -> Result<Timeline, AppError> {
    owned(services, caller, verification_id).await?;
    super::audit_trail(services, stream(verification_id)).await
}

async fn find_by_biz_id(
    services: &Services,
    caller: &Caller,
    request: &VerificationRequest,
) -> Result<Option<Value>, AppError> {
    let (Some(biz_id), Some(biz_type)) = (&request.biz_id, &request.biz_type) else {
        return Ok(None);
    };
    let row = services
        .store
        .verifications()
        .by_biz_id(&caller.client_id, biz_id, biz_type)
        .await?;
    match row {
        Some(row) => Ok(Some(crate::read::views::verification(&row, &services.pii)?)),
        None => Ok(None),
    }
}

async fn owned(
    services: &Services,
    caller: &Caller,
    verification_id: &str,
) -> Result<RowView, AppError> {
    services
        .store
        .verifications()
        .owned(verification_id, &caller.client_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Whether a refused initiation lost a race on `table`'s `(client_id, biz_id, biz_type)` unique key:
/// then the winner exists, and the loser answers like any repeat (40002).
pub(super) fn lost_biz_id_race<T, E: std::error::Error>(
    outcome: &Result<T, CommandError<E>>,
    table: Table,
) -> bool {
    use crate::store::{StoreError, UniqueKey};
    matches!(
        outcome,
        Err(CommandError::Store(StoreError::Duplicate(
            UniqueKey::BusinessId(refused)
        ))) if *refused == table
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::pii::PiiCipher;

    fn cipher() -> PiiCipher {
        let key = PiiCipher::generate_key().unwrap();
        let keys = BTreeMap::from([("k".to_owned(), key)]);
        PiiCipher::new("k", &keys, &PiiCipher::generate_key().unwrap()).unwrap()
    }

    #[test]
    fn a_page_token_opens_only_unchanged() {
        let pii = cipher();
        let token = page_token(&pii, "FACE_VERIFY_1", 1_700_000_000);
        assert_eq!(
            open_page_token(&pii, &token),
            Some(("FACE_VERIFY_1".to_owned(), 1_700_000_000))
        );
        let longer = token.replace(".1700000000.", ".1800000000.");
        assert_eq!(open_page_token(&pii, &longer), None);
        let other = token.replace("FACE_VERIFY_1", "FACE_VERIFY_2");
        assert_eq!(open_page_token(&pii, &other), None);
        assert_eq!(open_page_token(&cipher(), &token), None);
    }
}
