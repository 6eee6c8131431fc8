//! Why a FaceVerification command is refused, grouped by how the caller reacts.

use chrono::{DateTime, Utc};

use crate::errors::{ErrorKind, ValidationErrors};
use crate::values::{
    ArchiveProvider, ProviderName, ProviderTaskId, VerificationId, VerificationStatus,
};

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum VerificationError {
    #[error(transparent)]
    Invalid(ValidationErrors),
    /// The stream exists already: the service answers with it (40002).
    #[error("verification {0} already exists")]
    Duplicate(VerificationId),
    #[error(transparent)]
    Conflict(VerificationConflict),
    #[error("verification not found")]
    NotFound,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum VerificationConflict {
    /// SUCCESS, FAILED and EXPIRED absorb every later command; an identical repeat of the recorded
    /// result is accepted without events instead.
    #[error("the verification is {0} and can no longer change")]
    Final(VerificationStatus),
    #[error("the verification expired at {expires_at}")]
    PastDeadline { expires_at: DateTime<Utc> },
    #[error("the verification does not expire before {expires_at}")]
    NotYetDue { expires_at: DateTime<Utc> },
    #[error("provider task {task_id} of {provider} is already running")]
    TaskAlreadyStarted {
        provider: ProviderName,
        task_id: ProviderTaskId,
    },
    #[error("the task runs at {expected}, not {actual}")]
    WrongProvider {
        expected: ProviderName,
        actual: ProviderName,
    },
    #[error("provider round {attempt} cannot follow round {recorded}")]
    AttemptOutOfOrder { attempt: u32, recorded: u32 },
    /// Provider results and tasks no longer apply once the degraded check replaced the face check.
    #[error("the verification switched to the degraded check")]
    Degraded,
    #[error("the verification is not in the degraded check")]
    NotDegraded,
    #[error("too many wrong codes: the degraded check is locked")]
    SmsLocked,
    #[error("no code was sent")]
    NoSmsCodeSent,
    #[error("the code expired; request a new one")]
    SmsCodeExpired,
    /// Only a SUCCESS or FAILED verification has a result record to archive.
    #[error("the verification has no final result to archive")]
    NoResultToArchive,
    #[error("archiving the result with {0} was not asked for")]
    ArchiveNotAsked(ArchiveProvider),
    #[error("the {0} archive of the result has another id or record hash")]
    ArchiveMismatch(ArchiveProvider),
    #[error("the {0} archive of the result is not PENDING")]
    ArchiveNotPending(ArchiveProvider),
}

impl VerificationError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            VerificationError::Invalid(_) => ErrorKind::Validation,
            VerificationError::Duplicate(_) => ErrorKind::Duplicate,
            VerificationError::Conflict(_) => ErrorKind::Conflict,
            VerificationError::NotFound => ErrorKind::NotFound,
        }
    }
}
