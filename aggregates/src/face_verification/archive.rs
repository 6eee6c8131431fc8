//! Archiving a verification's result (spec 5.1, (可选) 核验结果存证): when the caller asked for it,
//! the final result record (no personal data) is archived with each provider asked, as a
//! contract's document is: its SHA-256 timestamped by an RFC 3161 authority or entered into the
//! Merkle log, with the same attempts and records (`Archive`, `ArchiveState`).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

use super::{
    Verdict, VerificationConflict, VerificationError, VerificationEvent, VerificationState,
};
use crate::contract::{Archive, ArchiveState};
use crate::values::{ArchiveId, ArchiveProvider, Digest, LongText, Reason, TransactionNo};

/// The record's format name, its first field: a verifier knows what the other fields mean.
pub const RESULT_RECORD_FORMAT: &str = "esign-face-result-v1";

/// The result record of a SUCCESS or FAILED verification: what was decided, by whom and when,
/// and nothing about the person. Keys sort as the record is hashed (JSON with sorted keys and no
/// whitespace; every value a string or `null`, so there is one way to write it).
pub type ResultRecord = BTreeMap<&'static str, Option<String>>;

impl VerificationState {
    /// The result record, once the verification succeeded or failed (an expired one has no
    /// result to archive).
    pub fn result_record(&self) -> Option<ResultRecord> {
        let verification = self.verification()?;
        let status = self.status()?;
        let (provider, transaction_no, score, fail_reason) = match self {
            VerificationState::Succeeded { result, .. }
            | VerificationState::Failed { result, .. } => {
                let (score, reason) = match result.verdict {
                    Verdict::Passed { score } => (Some(score), None),
                    Verdict::Failed { score, reason } => (score, Some(reason)),
                };
                (
                    Some(result.provider.as_str().to_owned()),
                    &result.transaction_no,
                    score,
                    reason,
                )
            }
            VerificationState::SucceededDegraded { result, .. } => {
                (None, &result.transaction_no, None, None)
            }
            VerificationState::NotInitiated
            | VerificationState::Pending { .. }
            | VerificationState::Degraded { .. }
            | VerificationState::Processing { .. }
            | VerificationState::Expired { .. } => return None,
        };
        let time = |at: DateTime<Utc>| Some(at.to_rfc3339_opts(SecondsFormat::Millis, true));
        Some(BTreeMap::from([
            ("format", Some(RESULT_RECORD_FORMAT.to_owned())),
            (
                "verificationId",
                Some(verification.verification_id.as_str().to_owned()),
            ),
            ("bizId", Some(verification.biz_id.as_str().to_owned())),
            ("bizType", Some(verification.biz_type.as_str().to_owned())),
            ("status", Some(status.as_str().to_owned())),
            ("method", Some(self.method().as_str().to_owned())),
            ("provider", provider),
            ("transactionNo", Some(transaction_no.as_str().to_owned())),
            ("score", score.map(|score| format!("{:.4}", score.value()))),
            (
                "failReason",
                fail_reason.map(|reason| reason.as_str().to_owned()),
            ),
            ("initiatedAt", time(verification.initiated_at)),
            ("verifiedAt", self.verified_at().and_then(time)),
        ]))
    }

    /// The result's archive records, by provider.
    pub fn result_archives(&self) -> Option<&BTreeMap<ArchiveProvider, Archive>> {
        self.verification()
            .map(|verification| &verification.result_archives)
    }
}

/// Start (or, after a failure, retry with the same id) archiving the result with one provider.
/// `record_hash` is the SHA-256 of [`VerificationState::result_record`] as written.
#[derive(Clone, Debug)]
pub struct RequestResultArchive {
    pub archive_id: ArchiveId,
    pub provider: ArchiveProvider,
    pub record_hash: Digest,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct RecordResultArchiveSuccess {
    pub provider: ArchiveProvider,
    pub transaction_no: TransactionNo,
    pub authority: Option<LongText>,
    pub evidence: Option<serde_json::Value>,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct RecordResultArchiveFailure {
    pub provider: ArchiveProvider,
    pub reason: Reason,
    pub now: DateTime<Utc>,
}

type Decision = Result<Vec<VerificationEvent>, VerificationError>;

fn conflict(conflict: VerificationConflict) -> VerificationError {
    VerificationError::Conflict(conflict)
}

/// Only a provider the caller asked for, only once the result is final, and a retry only after a
/// failure; asking again while one is in flight or done changes nothing.
pub(super) fn request(state: &VerificationState, command: RequestResultArchive) -> Decision {
    let verification = state.verification().ok_or(VerificationError::NotFound)?;
    if state.result_record().is_none() {
        return Err(conflict(VerificationConflict::NoResultToArchive));
    }
    if !verification.archive_providers.contains(&command.provider) {
        return Err(conflict(VerificationConflict::ArchiveNotAsked(
            command.provider,
        )));
    }
    let requested = |attempt| VerificationEvent::ResultArchiveRequested {
        archive_id: command.archive_id.clone(),
        provider: command.provider,
        record_hash: command.record_hash.clone(),
        attempt,
        requested_at: command.now,
    };
    match verification.result_archives.get(&command.provider) {
        None => Ok(vec![requested(1)]),
        Some(archive)
            if archive.archive_id != command.archive_id
                || archive.document_hash != command.record_hash =>
        {
            Err(conflict(VerificationConflict::ArchiveMismatch(
                command.provider,
            )))
        }
        Some(archive) => match archive.state {
            ArchiveState::Pending { .. } | ArchiveState::Succeeded { .. } => Ok(Vec::new()),
            ArchiveState::Failed { .. } => Ok(vec![requested(archive.attempts.saturating_add(1))]),
        },
    }
}

pub(super) fn record_success(
    state: &VerificationState,
    command: RecordResultArchiveSuccess,
) -> Decision {
    let archive = requested_archive(state, command.provider)?;
    match &archive.state {
        ArchiveState::Pending { .. } => Ok(vec![VerificationEvent::ResultArchived {
            archive_id: archive.archive_id.clone(),
            provider: command.provider,
            transaction_no: command.transaction_no,
            authority: command.authority,
            evidence: command.evidence,
            archived_at: command.now,
        }]),
        ArchiveState::Succeeded { transaction_no, .. }
            if *transaction_no == command.transaction_no =>
        {
            Ok(Vec::new())
        }
        ArchiveState::Succeeded { .. } | ArchiveState::Failed { .. } => Err(conflict(
            VerificationConflict::ArchiveNotPending(command.provider),
        )),
    }
}

pub(super) fn record_failure(
    state: &VerificationState,
    command: RecordResultArchiveFailure,
) -> Decision {
    let archive = requested_archive(state, command.provider)?;
    match &archive.state {
        ArchiveState::Pending { .. } => Ok(vec![VerificationEvent::ResultArchiveFailed {
            archive_id: archive.archive_id.clone(),
            provider: command.provider,
            reason: command.reason,
            failed_at: command.now,
        }]),
        ArchiveState::Failed { .. } => Ok(Vec::new()),
        ArchiveState::Succeeded { .. } => Err(conflict(VerificationConflict::ArchiveNotPending(
            command.provider,
        ))),
    }
}

fn requested_archive(
    state: &VerificationState,
    provider: ArchiveProvider,
) -> Result<&Archive, VerificationError> {
    state
        .result_archives()
        .ok_or(VerificationError::NotFound)?
        .get(&provider)
        .ok_or(conflict(VerificationConflict::ArchiveNotAsked(provider)))
}

/// The records after one of the archive events.
pub(super) fn evolve(archives: &mut BTreeMap<ArchiveProvider, Archive>, event: &VerificationEvent) {
    match event {
        VerificationEvent::ResultArchiveRequested {
            archive_id,
            provider,
            record_hash,
            attempt,
            requested_at,
        } => {
            archives.insert(
                *provider,
                Archive {
                    archive_id: archive_id.clone(),
                    provider: *provider,
                    document_hash: record_hash.clone(),
                    attempts: *attempt,
                    state: ArchiveState::Pending {
                        requested_at: *requested_at,
                    },
                },
            );
        }
        VerificationEvent::ResultArchived {
            provider,
            transaction_no,
            authority,
            evidence,
            archived_at,
            ..
        } => {
            if let Some(archive) = archives.get_mut(provider) {
                archive.state = ArchiveState::Succeeded {
                    transaction_no: transaction_no.clone(),
                    certificate_url: None,
                    authority: authority.clone(),
                    evidence: evidence.clone(),
                    archived_at: *archived_at,
                };
            }
        }
        VerificationEvent::ResultArchiveFailed {
            provider,
            reason,
            failed_at,
            ..
        } => {
            if let Some(archive) = archives.get_mut(provider) {
                archive.state = ArchiveState::Failed {
                    reason: reason.clone(),
                    failed_at: *failed_at,
                };
            }
        }
        VerificationEvent::Initiated { .. }
        | VerificationEvent::ProviderTaskStarted { .. }
        | VerificationEvent::ProviderUnavailable { .. }
        | VerificationEvent::Degraded { .. }
        | VerificationEvent::DegradedCodeSent { .. }
        | VerificationEvent::DegradedCodeFailed { .. }
        | VerificationEvent::DegradedSucceeded { .. }
        | VerificationEvent::Succeeded { .. }
        | VerificationEvent::Failed { .. }
        | VerificationEvent::Expired { .. }
        | VerificationEvent::Opened { .. }
        | VerificationEvent::LinkReissued { .. } => {}
    }
}
