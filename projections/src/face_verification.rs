//! `face_verification` (spec 3.1 table 1): one row per verification stream, the state after its
//! last event; and `face_verification_archive`: one row per provider archiving its result.

use aggregates::Aggregate;
use aggregates::contract::{Archive, ArchiveState};
use aggregates::face_verification::{
    FaceVerificationAggregate, ProviderAttempts, ProviderResult, ProviderTask, Verdict,
    Verification, VerificationEvent, VerificationMethod, VerificationState,
};

use crate::ProjectionError;
use crate::contract::archive_metadata;
use crate::row::{Row, SqlValue, Table};
use crate::sealed::{SealedValue, json_text, sealed_headers, sealed_value, stored_name};
use crate::stream::{Draft, ProjectedEvent, fold};
use aggregates::values::{ArchiveProvider, ArchiveStatus};

const INITIATED: &str = "FaceVerificationInitiated";

/// Every row a verification stream owns: its `face_verification` row and its result's archive
/// records.
pub fn verification_rows(
    events: &[ProjectedEvent<'_, VerificationEvent>],
) -> Result<Vec<Row>, ProjectionError> {
    fold(events, Projection::default(), step, shape)
}

#[derive(Debug, Default)]
struct Projection {
    state: VerificationState,
    sealed: Option<SealedPerson>,
    /// Set by `FaceVerificationDegraded`; kept after expiry, which the state alone would forget.
    degraded: Option<VerificationMethod>,
    /// Rounds without an available provider, as recorded (a started task ends the retry, not the count).
    attempts: u32,
}

/// The initiation's personal data as stored.
#[derive(Debug)]
struct SealedPerson {
    /// The `user_name` column: sealed, or as an event from before names were sealed holds it.
    name: String,
    id_card_no: SealedValue,
    mobile: Option<SealedValue>,
    callback_headers: Option<String>,
}

fn step(
    projection: &mut Projection,
    event: &ProjectedEvent<'_, VerificationEvent>,
) -> Result<(), ProjectionError> {
    FaceVerificationAggregate::evolve(&mut projection.state, event.event);
    match event.event {
        VerificationEvent::Initiated {
            mobile,
            webhook_headers,
            ..
        } => {
            // A second initiation never reaches a valid stream; like `evolve`, keep the first.
            if projection.sealed.is_none() {
                let payload = event.sealed_payload;
                projection.sealed = Some(SealedPerson {
                    name: stored_name(payload.get("name"), INITIATED, || "name".into())?,
                    id_card_no: sealed_value(payload.get("idCardNo"), INITIATED, || {
                        "idCardNo".into()
                    })?,
                    mobile: match mobile {
                        Some(_) => Some(sealed_value(payload.get("mobile"), INITIATED, || {
                            "mobile".into()
                        })?),
                        None => None,
                    },
                    callback_headers: sealed_headers(
                        payload,
                        webhook_headers.iter().map(|(name, _)| name),
                        INITIATED,
                    )?,
                });
            }
        }
        VerificationEvent::Degraded { method, .. } => {
            if projection.degraded.is_none() {
                projection.degraded = Some(*method);
            }
        }
        VerificationEvent::ProviderUnavailable { attempt, .. } => {
            projection.attempts = projection.attempts.max(*attempt);
        }
        VerificationEvent::ProviderTaskStarted { .. }
        | VerificationEvent::Opened { .. }
        | VerificationEvent::Succeeded { .. }
        | VerificationEvent::Failed { .. }
        | VerificationEvent::Expired { .. }
        | VerificationEvent::DegradedCodeSent { .. }
        | VerificationEvent::DegradedCodeFailed { .. }
        | VerificationEvent::DegradedSucceeded { .. }
        | VerificationEvent::LinkReissued { .. }
        | VerificationEvent::ResultArchiveRequested { .. }
        | VerificationEvent::ResultArchived { .. }
        | VerificationEvent::ResultArchiveFailed { .. } => {}
    }
    Ok(())
}

fn shape(projection: &Projection) -> Result<Vec<Draft>, ProjectionError> {
    let state = &projection.state;
    let (Some(verification), Some(status), Some(sealed)) = (
        state.verification(),
        state.status(),
        projection.sealed.as_ref(),
    ) else {
        return Err(ProjectionError::NotInitiated);
    };
    let task: Option<&ProviderTask> = state.task();
    let result: Option<&ProviderResult> = state.result();
    // Once a task runs, the check degraded or the verification ended, no round is due any more.
    let next_attempt_at = match state {
        VerificationState::Pending {
            provider_attempts: ProviderAttempts {
                next_attempt_at, ..
            },
            ..
        } => *next_attempt_at,
        VerificationState::NotInitiated
        | VerificationState::Degraded { .. }
        | VerificationState::Processing { .. }
        | VerificationState::Succeeded { .. }
        | VerificationState::SucceededDegraded { .. }
        | VerificationState::Failed { .. }
        | VerificationState::Expired { .. } => None,
    };
    let degraded_transaction = match state {
        VerificationState::SucceededDegraded { result, .. } => Some(&result.transaction_no),
        VerificationState::NotInitiated
        | VerificationState::Pending { .. }
        | VerificationState::Degraded { .. }
        | VerificationState::Processing { .. }
        | VerificationState::Succeeded { .. }
        | VerificationState::Failed { .. }
        | VerificationState::Expired { .. } => None,
    };
    let method = projection.degraded.unwrap_or(VerificationMethod::Face);
    let (score, fail_reason) = match result.map(|result| result.verdict) {
        None => (None, None),
        Some(Verdict::Passed { score }) => (Some(score), None),
        Some(Verdict::Failed { score, reason }) => (score, Some(reason)),
    };
    let provider = result
        .map(|result| &result.provider)
        .or(task.map(|task| &task.provider));
    let body = vec![
        (
            "verification_id",
            SqlValue::text(verification.verification_id.as_str()),
        ),
        ("client_id", SqlValue::text(verification.client_id.as_str())),
        ("biz_id", SqlValue::text(verification.biz_id.as_str())),
        ("biz_type", SqlValue::text(verification.biz_type.as_str())),
        ("status", SqlValue::text(status.as_str())),
        ("user_name", SqlValue::text(sealed.name.clone())),
        ("id_card_no", SqlValue::text(sealed.id_card_no.json.clone())),
        (
            "id_card_hash",
            SqlValue::text(sealed.id_card_no.hash.clone()),
        ),
        (
            "mobile",
            SqlValue::optional_text(sealed.mobile.as_ref().map(|mobile| mobile.json.clone())),
        ),
        (
            "mobile_hash",
            SqlValue::optional_text(sealed.mobile.as_ref().map(|mobile| mobile.hash.clone())),
        ),
        (
            "face_score",
            score.map_or(SqlValue::Null, |score| {
                SqlValue::Decimal(format!("{:.4}", score.value()))
            }),
        ),
        (
            "thirdparty_transaction_no",
            SqlValue::optional_text(
                result
                    .map(|result| &result.transaction_no)
                    .or(degraded_transaction)
                    .map(|transaction_no| transaction_no.as_str()),
            ),
        ),
        (
            "fail_reason",
            SqlValue::optional_text(fail_reason.map(|reason| reason.as_str())),
        ),
        (
            "callback_url",
            SqlValue::text(verification.callback_url.as_str()),
        ),
        (
            "callback_headers",
            SqlValue::optional_text(sealed.callback_headers.clone()),
        ),
        // The service builds the H5 link from the verification id; no event carries a URL.
        ("verification_url", SqlValue::Null),
        (
            "provider",
            SqlValue::optional_text(provider.map(|provider| provider.as_str())),
        ),
        (
            "provider_task_id",
            SqlValue::optional_text(task.map(|task| task.task_id.as_str())),
        ),
        (
            "provider_url",
            SqlValue::optional_text(
                task.and_then(|task| task.h5_url.as_ref())
                    .map(|url| url.as_str()),
            ),
        ),
        (
            "provider_attempts",
            SqlValue::Integer(i64::from(projection.attempts)),
        ),
        (
            "next_provider_attempt_at",
            SqlValue::optional_timestamp(next_attempt_at),
        ),
        ("degraded", SqlValue::Bool(projection.degraded.is_some())),
        ("verification_method", SqlValue::text(method.as_str())),
        (
            "ui_config_json",
            SqlValue::Text(json_text(&verification.ui_config, "uiConfig")?),
        ),
        ("expires_at", SqlValue::timestamp(verification.expires_at)),
        (
            "verified_at",
            SqlValue::optional_timestamp(state.verified_at()),
        ),
    ];
    let mut drafts = vec![Draft::new(Table::FaceVerification, body)];
    // Once the result is final, one row per provider asked: the sweep requests those not
    // requested yet (attempts 0).
    if let Some(record) = state.result_record() {
        let record = json_text(&record, "resultRecord")?;
        // The rows appear together at the result: each needs an id of its own.
        for (index, provider) in verification.archive_providers.iter().enumerate() {
            let ordinal =
                u32::try_from(index + 1).map_err(|_| ProjectionError::OutOfRange("id"))?;
            drafts.push(Draft {
                table: Table::FaceVerificationArchive,
                ordinal: Some(ordinal),
                body: archive_body(
                    verification,
                    *provider,
                    verification.result_archives.get(provider),
                    &record,
                ),
            });
        }
    }
    Ok(drafts)
}

fn archive_body(
    verification: &Verification,
    provider: ArchiveProvider,
    archive: Option<&Archive>,
    record: &str,
) -> Vec<(&'static str, SqlValue)> {
    let (archived, fail_reason) = match archive.map(|archive| &archive.state) {
        None | Some(ArchiveState::Pending { .. }) => (None, None),
        Some(ArchiveState::Succeeded {
            transaction_no,
            archived_at,
            ..
        }) => (Some((transaction_no, archived_at)), None),
        Some(ArchiveState::Failed { reason, .. }) => (None, Some(reason)),
    };
    let status = archive.map_or(ArchiveStatus::Pending, |archive| archive.state.status());
    vec![
        (
            "archive_id",
            SqlValue::optional_text(archive.map(|archive| archive.archive_id.as_str())),
        ),
        (
            "verification_id",
            SqlValue::text(verification.verification_id.as_str()),
        ),
        ("archive_provider", SqlValue::text(provider.as_str())),
        ("status", SqlValue::text(status.as_str())),
        (
            "record_hash",
            SqlValue::optional_text(archive.map(|archive| archive.document_hash.as_hex())),
        ),
        ("record_json", SqlValue::text(record)),
        (
            "archive_time",
            SqlValue::optional_timestamp(archived.map(|(_, at)| *at)),
        ),
        (
            "transaction_no",
            SqlValue::optional_text(archived.map(|(number, _)| number.as_str())),
        ),
        (
            "metadata_json",
            archive.map_or(SqlValue::Null, |archive| archive_metadata(&archive.state)),
        ),
        (
            "attempts",
            SqlValue::Integer(archive.map_or(0, |archive| i64::from(archive.attempts))),
        ),
        (
            "fail_reason",
            SqlValue::optional_text(fail_reason.map(|reason| reason.as_str())),
        ),
    ]
}

#[cfg(test)]
mod tests;
