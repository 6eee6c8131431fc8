//! The provider side of a face verification: creating the task through the failover list (with
//! background rounds and degraded mode), a provider's signed callback, and pulling a result when
//! the person comes back.

use std::time::{Duration, Instant};

use aggregates::face_verification::{
    Degrade, RecordProviderResult, RecordProviderUnavailable, StartProviderTask,
    VerificationCommand, VerificationConflict, VerificationError, VerificationState,
};
use aggregates::values::{LongText, ProviderName};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::{load, page_token, run};
use crate::app::pipeline::CommandError;
use crate::app::system_metadata;
use crate::app::{AppError, Services};
use crate::providers::face::protocol::{SdkConfig, TIMESTAMP_WINDOW_SECONDS};
use crate::providers::face::provider::{CallbackError, HeaderMap, TaskRequest};
use crate::store::EventMetadata;

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
        verification.page_link,
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
