//! The FaceVerification's decisions after initiation: one function per command, each matching every
//! lifecycle state.

use chrono::{DateTime, Utc};

use super::{
    Degrade, DegradedCheck, ExpireVerification, RecordOpened, RecordProviderResult,
    RecordProviderUnavailable, ReissueLink, SendDegradedCode, StartProviderTask, Verdict,
    Verification, VerificationConflict, VerificationError, VerificationEvent, VerificationMethod,
    VerificationState, VerifyDegradedCode,
};
use crate::errors::ValidationErrors;
use crate::values::{SMS_CODE_TTL_MINUTES, SMS_MAX_FAILED_ATTEMPTS, later};

pub(super) fn start_task(
    state: &VerificationState,
    command: StartProviderTask,
) -> Result<Vec<VerificationEvent>, VerificationError> {
    match state {
        VerificationState::NotInitiated => Err(VerificationError::NotFound),
        VerificationState::Pending { verification, .. } => {
            before_deadline(verification, command.now)?;
            Ok(vec![VerificationEvent::ProviderTaskStarted {
                provider: command.provider,
                task_id: command.task_id,
                h5_url: command.h5_url,
                started_at: command.now,
            }])
        }
        VerificationState::Degraded { .. } => {
            Err(VerificationError::Conflict(VerificationConflict::Degraded))
        }
        VerificationState::Processing { task, .. } => {
            if task.provider == command.provider && task.task_id == command.task_id {
                Ok(Vec::new())
            } else {
                Err(VerificationError::Conflict(
                    VerificationConflict::TaskAlreadyStarted {
                        provider: task.provider.clone(),
                        task_id: task.task_id.clone(),
                    },
                ))
            }
        }
        VerificationState::Succeeded { .. }
        | VerificationState::SucceededDegraded { .. }
        | VerificationState::Failed { .. }
        | VerificationState::Expired { .. } => Err(final_conflict(state)),
    }
}

/// The first opening of the page after the provider's task started; any other opening (again, before
/// a task exists, after the end or the deadline) records nothing: it is not a state change.
pub(super) fn record_opened(
    state: &VerificationState,
    command: RecordOpened,
) -> Result<Vec<VerificationEvent>, VerificationError> {
    match state {
        VerificationState::NotInitiated => Err(VerificationError::NotFound),
        VerificationState::Processing { verification, task }
            if task.opened_at.is_none() && command.now < verification.expires_at =>
        {
            Ok(vec![VerificationEvent::Opened {
                opened_at: command.now,
            }])
        }
        _ => Ok(Vec::new()),
    }
}

pub(super) fn record_result(
    state: &VerificationState,
    command: RecordProviderResult,
) -> Result<Vec<VerificationEvent>, VerificationError> {
    match state {
        VerificationState::NotInitiated => Err(VerificationError::NotFound),
        VerificationState::Pending { verification, .. } => {
            before_deadline(verification, command.now)?;
            Ok(vec![result_event(command)])
        }
        VerificationState::Degraded { .. } => {
            Err(VerificationError::Conflict(VerificationConflict::Degraded))
        }
        VerificationState::Processing { verification, task } => {
            if task.provider != command.provider {
                return Err(VerificationError::Conflict(
                    VerificationConflict::WrongProvider {
                        expected: task.provider.clone(),
                        actual: command.provider,
                    },
                ));
            }
            before_deadline(verification, command.now)?;
            Ok(vec![result_event(command)])
        }
        VerificationState::Succeeded { result, .. } | VerificationState::Failed { result, .. } => {
            // Providers retry their callbacks: the same verdict again changes nothing.
            let same = result.provider == command.provider
                && result.transaction_no == command.transaction_no
                && result.verdict == command.verdict;
            if same {
                Ok(Vec::new())
            } else {
                Err(final_conflict(state))
            }
        }
        VerificationState::SucceededDegraded { .. } | VerificationState::Expired { .. } => {
            Err(final_conflict(state))
        }
    }
}

pub(super) fn expire(
    state: &VerificationState,
    command: ExpireVerification,
) -> Result<Vec<VerificationEvent>, VerificationError> {
    match state {
        VerificationState::NotInitiated => Err(VerificationError::NotFound),
        VerificationState::Pending { verification, .. }
        | VerificationState::Degraded { verification, .. }
        | VerificationState::Processing { verification, .. } => {
            if command.now < verification.expires_at {
                return Err(VerificationError::Conflict(
                    VerificationConflict::NotYetDue {
                        expires_at: verification.expires_at,
                    },
                ));
            }
            Ok(vec![VerificationEvent::Expired {
                expired_at: verification.expires_at,
            }])
        }
        VerificationState::Succeeded { .. }
        | VerificationState::SucceededDegraded { .. }
        | VerificationState::Failed { .. }
        | VerificationState::Expired { .. } => Err(final_conflict(state)),
    }
}

/// A new page link while the verification is open (PENDING or PROCESSING, before its deadline); the
/// verification itself, its provider task and its deadline stay as they are.
pub(super) fn reissue_link(
    state: &VerificationState,
    command: ReissueLink,
) -> Result<Vec<VerificationEvent>, VerificationError> {
    match state {
        VerificationState::NotInitiated => Err(VerificationError::NotFound),
        VerificationState::Pending { verification, .. }
        | VerificationState::Degraded { verification, .. }
        | VerificationState::Processing { verification, .. } => {
            if command.now >= verification.expires_at {
                return Err(VerificationError::Conflict(
                    VerificationConflict::PastDeadline {
                        expires_at: verification.expires_at,
                    },
                ));
            }
            Ok(vec![VerificationEvent::LinkReissued {
                link: verification.page_link.saturating_add(1),
                reissued_at: command.now,
            }])
        }
        VerificationState::Succeeded { .. }
        | VerificationState::SucceededDegraded { .. }
        | VerificationState::Failed { .. }
        | VerificationState::Expired { .. } => Err(final_conflict(state)),
    }
}

pub(super) fn provider_unavailable(
    state: &VerificationState,
    command: RecordProviderUnavailable,
) -> Result<Vec<VerificationEvent>, VerificationError> {
    match state {
        VerificationState::NotInitiated => Err(VerificationError::NotFound),
        VerificationState::Pending {
            verification,
            provider_attempts,
        } => {
            // Any instance may run a retry round; the one that records it first wins.
            if command.attempt <= provider_attempts.count {
                return Ok(Vec::new());
            }
            if command.attempt != provider_attempts.count + 1 {
                return Err(VerificationError::Conflict(
                    VerificationConflict::AttemptOutOfOrder {
                        attempt: command.attempt,
                        recorded: provider_attempts.count,
                    },
                ));
            }
            before_deadline(verification, command.now)?;
            Ok(vec![VerificationEvent::ProviderUnavailable {
                attempt: command.attempt,
                providers: command.tried,
                next_attempt_at: command.next_attempt_at,
                failed_at: command.now,
            }])
        }
        // A task was started or the check degraded meanwhile: this round's failure no longer matters.
        VerificationState::Processing { .. } | VerificationState::Degraded { .. } => Ok(Vec::new()),
        VerificationState::Succeeded { .. }
        | VerificationState::SucceededDegraded { .. }
        | VerificationState::Failed { .. }
        | VerificationState::Expired { .. } => Err(final_conflict(state)),
    }
}

pub(super) fn degrade(
    state: &VerificationState,
    command: Degrade,
) -> Result<Vec<VerificationEvent>, VerificationError> {
    match state {
        VerificationState::NotInitiated => Err(VerificationError::NotFound),
        VerificationState::Pending { verification, .. } => {
            if verification.mobile.is_none() {
                return Err(VerificationError::Invalid(ValidationErrors::single(
                    "userInfo.mobile",
                    "is required for the degraded check (SMS code)",
                )));
            }
            before_deadline(verification, command.now)?;
            Ok(vec![VerificationEvent::Degraded {
                method: VerificationMethod::SmsAndIdentity,
                degraded_at: command.now,
            }])
        }
        VerificationState::Degraded { .. } => Ok(Vec::new()),
        VerificationState::Processing { task, .. } => Err(VerificationError::Conflict(
            VerificationConflict::TaskAlreadyStarted {
                provider: task.provider.clone(),
                task_id: task.task_id.clone(),
            },
        )),
        VerificationState::Succeeded { .. }
        | VerificationState::SucceededDegraded { .. }
        | VerificationState::Failed { .. }
        | VerificationState::Expired { .. } => Err(final_conflict(state)),
    }
}

/// The degraded check of a verification that is in it and still before its deadline.
fn degraded_check(
    state: &VerificationState,
    now: DateTime<Utc>,
) -> Result<&DegradedCheck, VerificationError> {
    match state {
        VerificationState::NotInitiated => Err(VerificationError::NotFound),
        VerificationState::Degraded {
            verification,
            check,
        } => {
            before_deadline(verification, now)?;
            if check.locked {
                return Err(VerificationError::Conflict(VerificationConflict::SmsLocked));
            }
            Ok(check)
        }
        VerificationState::Pending { .. } | VerificationState::Processing { .. } => Err(
            VerificationError::Conflict(VerificationConflict::NotDegraded),
        ),
        VerificationState::Succeeded { .. }
        | VerificationState::SucceededDegraded { .. }
        | VerificationState::Failed { .. }
        | VerificationState::Expired { .. } => Err(final_conflict(state)),
    }
}

pub(super) fn send_degraded_code(
    state: &VerificationState,
    command: SendDegradedCode,
) -> Result<Vec<VerificationEvent>, VerificationError> {
    degraded_check(state, command.now)?;
    Ok(vec![VerificationEvent::DegradedCodeSent {
        code_hash: command.code_hash,
        expires_at: later(
            command.now,
            chrono::TimeDelta::minutes(SMS_CODE_TTL_MINUTES),
        ),
        sent_at: command.now,
    }])
}

pub(super) fn verify_degraded_code(
    state: &VerificationState,
    command: VerifyDegradedCode,
) -> Result<Vec<VerificationEvent>, VerificationError> {
    let check = degraded_check(state, command.now)?;
    let Some(code) = &check.code else {
        return Err(VerificationError::Conflict(
            VerificationConflict::NoSmsCodeSent,
        ));
    };
    if command.now >= code.expires_at {
        return Err(VerificationError::Conflict(
            VerificationConflict::SmsCodeExpired,
        ));
    }
    if code.code_hash.matches(&command.code_hash) {
        return Ok(vec![VerificationEvent::DegradedSucceeded {
            method: check.method,
            degraded: true,
            transaction_no: command.transaction_no,
            verified_at: command.now,
        }]);
    }
    // A wrong code is a recorded fact, so the attempt counts even though the person sees an error.
    let failed_attempts = check.failed_attempts.saturating_add(1);
    Ok(vec![VerificationEvent::DegradedCodeFailed {
        failed_attempts,
        locked: failed_attempts >= SMS_MAX_FAILED_ATTEMPTS,
        failed_at: command.now,
    }])
}

fn before_deadline(
    verification: &Verification,
    now: DateTime<Utc>,
) -> Result<(), VerificationError> {
    if now >= verification.expires_at {
        return Err(VerificationError::Conflict(
            VerificationConflict::PastDeadline {
                expires_at: verification.expires_at,
            },
        ));
    }
    Ok(())
}

fn final_conflict(state: &VerificationState) -> VerificationError {
    match state.status() {
        Some(status) => VerificationError::Conflict(VerificationConflict::Final(status)),
        None => VerificationError::NotFound,
    }
}

fn result_event(command: RecordProviderResult) -> VerificationEvent {
    match command.verdict {
        Verdict::Passed { score } => VerificationEvent::Succeeded {
            provider: command.provider,
            transaction_no: command.transaction_no,
            score,
            verified_at: command.now,
        },
        Verdict::Failed { score, reason } => VerificationEvent::Failed {
            provider: command.provider,
            transaction_no: command.transaction_no,
            score,
            fail_reason: reason,
            verified_at: command.now,
        },
    }
}
