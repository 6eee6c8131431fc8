//! Archiving face verifications' results (spec 5.1, (可选) 核验结果存证): when the caller asked,
//! the final result record (no personal data: see
//! `aggregates::face_verification::ResultRecord`) is hashed and archived with each provider, the
//! way a sealed contract is ([`super::archiving`]): `FaceResultArchiveRequested`, the provider,
//! then `FaceResultArchived` or `FaceResultArchiveFailed`, retried with the same delays and
//! attempts. The sealing sweep runs it.

use aggregates::Aggregate;
use aggregates::contract::ArchiveState;
use aggregates::face_verification::{
    FaceVerificationAggregate, RecordResultArchiveFailure, RecordResultArchiveSuccess,
    RequestResultArchive, ResultRecord, VerificationCommand, VerificationError,
};
use aggregates::values::{ArchiveId, ArchiveProvider, Digest, Reason};
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

use super::archiving::{ArchiveOutcome, PENDING_LEASE, recorded_receipt, retry_delay};
use super::pipeline::CommandError;
use super::{Services, system_metadata};
use crate::providers::archive::ArchiveRequest;
use crate::store::{StoreError, StreamId};

/// Records taken per sweep.
const BATCH: u32 = 50;

#[derive(Debug, thiserror::Error)]
pub enum ResultArchiveError {
    #[error(transparent)]
    Command(#[from] CommandError<VerificationError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a recorded value does not fit: {0}")]
    Value(String),
}

/// The result record as it is hashed: JSON with its keys sorted and no whitespace.
pub fn record_bytes(record: &ResultRecord) -> Result<Vec<u8>, ResultArchiveError> {
    serde_json::to_vec(record).map_err(|error| ResultArchiveError::Value(error.to_string()))
}

/// What one sweep did with result archives.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ResultSweep {
    pub archived: u64,
    pub failed: u64,
    pub errors: u64,
}

/// Requests the records not requested yet, then retries those due (failed ones after their
/// delay, pending ones abandoned past their lease).
pub(super) async fn sweep(
    state: &Services,
    now: DateTime<Utc>,
) -> Result<ResultSweep, ResultArchiveError> {
    let reads = state.store.verifications();
    let mut work: Vec<(String, ArchiveProvider)> = Vec::new();
    for row in reads.result_archives_to_request(BATCH).await? {
        work.extend(record_key(&row));
    }
    let max_attempts = state.config.archive.max_attempts;
    for row in reads.result_archives_to_retry(max_attempts, BATCH).await? {
        let (Some(updated_at), Some(key)) = (row.time("updated_at"), record_key(&row)) else {
            continue;
        };
        let attempts = u32::try_from(row.integer("attempts").unwrap_or(0)).unwrap_or(u32::MAX);
        let due = match row.text("status") {
            Some("PENDING") => updated_at + PENDING_LEASE <= now,
            Some("FAILED") => {
                attempts < max_attempts
                    && updated_at + retry_delay(&state.config.archive, attempts) <= now
            }
            _ => false,
        };
        if due {
            work.push(key);
        }
    }
    let mut report = ResultSweep::default();
    for (verification_id, provider) in work {
        match run(state, &verification_id, provider, now).await {
            Ok(ArchiveOutcome::Archived) => report.archived += 1,
            Ok(ArchiveOutcome::Failed) => report.failed += 1,
            Ok(ArchiveOutcome::NothingToDo) => {}
            Err(error) => {
                tracing::error!(%verification_id, provider = provider.as_str(), %error, "archiving the face result failed to run");
                report.errors += 1;
            }
        }
    }
    Ok(report)
}

fn record_key(row: &crate::store::query_tables::RowView) -> Option<(String, ArchiveProvider)> {
    let provider = row.text("archive_provider")?.parse().ok()?;
    Some((row.text("verification_id")?.to_owned(), provider))
}

/// Archives (or retries) the result of one verification with one provider.
pub(super) async fn run(
    state: &Services,
    verification_id: &str,
    provider: ArchiveProvider,
    now: DateTime<Utc>,
) -> Result<ArchiveOutcome, ResultArchiveError> {
    let stream = StreamId::new(FaceVerificationAggregate::NAME, verification_id);
    let loaded = state
        .pipeline
        .load::<FaceVerificationAggregate>(&stream)
        .await?;
    let Some(record) = loaded.state.result_record() else {
        return Ok(ArchiveOutcome::NothingToDo);
    };
    let asked = loaded
        .state
        .verification()
        .is_some_and(|verification| verification.archive_providers.contains(&provider));
    if !asked {
        return Ok(ArchiveOutcome::NothingToDo);
    }
    let hash: [u8; 32] = Sha256::digest(record_bytes(&record)?).into();
    let record_hash =
        Digest::parse(&hex::encode(hash)).map_err(|e| ResultArchiveError::Value(e.to_string()))?;
    let existing = loaded
        .state
        .result_archives()
        .and_then(|archives| archives.get(&provider));
    let archive_id = match existing.map(|archive| (&archive.state, &archive.archive_id)) {
        Some((ArchiveState::Succeeded { .. }, _)) => return Ok(ArchiveOutcome::NothingToDo),
        Some((ArchiveState::Pending { .. }, id)) => id.clone(),
        Some((ArchiveState::Failed { .. }, id)) => {
            request(state, &stream, id, provider, &record_hash, now).await?;
            id.clone()
        }
        None => {
            let id = ArchiveId::parse(&super::ids::new_id("ARCHIVE"))
                .map_err(|e| ResultArchiveError::Value(e.to_string()))?;
            request(state, &stream, &id, provider, &record_hash, now).await?;
            id
        }
    };
    let Some(archiver) = state.archivers.get(provider) else {
        let reason = format!("no {} archive provider is configured", provider.as_str());
        fail(state, &stream, provider, &reason, now).await?;
        return Ok(ArchiveOutcome::Failed);
    };
    let request = ArchiveRequest {
        archive_id: archive_id.to_string(),
        // The log's leaf names the verification where a contract's names the contract.
        contract_id: verification_id.to_owned(),
        document_hash: hash,
        requested_at: now,
    };
    match archiver.archive(&request).await {
        Ok(receipt) => {
            let (transaction_no, authority) = match recorded_receipt(&receipt) {
                Ok(values) => values,
                Err(error) => {
                    let reason = format!("the provider's receipt cannot be recorded: {error}");
                    fail(state, &stream, provider, &reason, now).await?;
                    return Ok(ArchiveOutcome::Failed);
                }
            };
            state
                .pipeline
                .execute::<FaceVerificationAggregate>(
                    &stream,
                    &system_metadata("archiving"),
                    |_| {
                        VerificationCommand::RecordResultArchiveSuccess(
                            RecordResultArchiveSuccess {
                                provider,
                                transaction_no: transaction_no.clone(),
                                authority: Some(authority.clone()),
                                evidence: Some(receipt.evidence.clone()),
                                now: receipt.archived_at,
                            },
                        )
                    },
                )
                .await?;
            state.metrics.archive(provider.as_str(), "success");
            Ok(ArchiveOutcome::Archived)
        }
        Err(error) => {
            tracing::error!(%verification_id, provider = provider.as_str(), %error, code = 50003, "archiving the face result failed; it is retried");
            fail(state, &stream, provider, &error.to_string(), now).await?;
            Ok(ArchiveOutcome::Failed)
        }
    }
}

async fn request(
    state: &Services,
    stream: &StreamId,
    archive_id: &ArchiveId,
    provider: ArchiveProvider,
    record_hash: &Digest,
    now: DateTime<Utc>,
) -> Result<(), ResultArchiveError> {
    state
        .pipeline
        .execute::<FaceVerificationAggregate>(stream, &system_metadata("archiving"), |_| {
            VerificationCommand::RequestResultArchive(RequestResultArchive {
                archive_id: archive_id.clone(),
                provider,
                record_hash: record_hash.clone(),
                now,
            })
        })
        .await?;
    Ok(())
}

async fn fail(
    state: &Services,
    stream: &StreamId,
    provider: ArchiveProvider,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), ResultArchiveError> {
    let reason: String = reason.chars().take(500).collect();
    let reason = Reason::parse(&reason).map_err(|e| ResultArchiveError::Value(e.to_string()))?;
    state
        .pipeline
        .execute::<FaceVerificationAggregate>(stream, &system_metadata("archiving"), |_| {
            VerificationCommand::RecordResultArchiveFailure(RecordResultArchiveFailure {
                provider,
                reason: reason.clone(),
                now,
            })
        })
        .await?;
    state.metrics.archive(provider.as_str(), "failure");
    Ok(())
}
