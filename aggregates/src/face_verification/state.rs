//! The FaceVerification's state: a lifecycle enum folded from events, with the provider task, the
//! unavailable rounds and the degraded check each state carries.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{UiConfig, Verdict, VerificationEvent, VerificationMethod};
use crate::contract::Archive;
use crate::values::{
    ArchiveProvider, BizId, ClientId, Digest, IdCardNumber, LongText, MobileNumber, PersonName,
    ProviderName, ProviderTaskId, TransactionNo, VerificationBizType, VerificationId,
    VerificationStatus, WebUrl, WebhookHeaders,
};

#[derive(Clone, Debug, Default, PartialEq)]
pub enum VerificationState {
    #[default]
    NotInitiated,
    Pending {
        verification: Verification,
        /// Rounds in which no provider could take the task.
        provider_attempts: ProviderAttempts,
    },
    /// Still PENDING, now waiting for the degraded check instead of a provider.
    Degraded {
        verification: Verification,
        check: DegradedCheck,
    },
    Processing {
        verification: Verification,
        task: ProviderTask,
    },
    Succeeded {
        verification: Verification,
        task: Option<ProviderTask>,
        result: ProviderResult,
    },
    /// SUCCESS through the degraded check.
    SucceededDegraded {
        verification: Verification,
        result: DegradedResult,
    },
    Failed {
        verification: Verification,
        task: Option<ProviderTask>,
        result: ProviderResult,
    },
    Expired {
        verification: Verification,
        task: Option<ProviderTask>,
        expired_at: DateTime<Utc>,
    },
}

/// What was asked: the person to verify and where to report; and the result's archive records.
#[derive(Clone, Debug, PartialEq)]
pub struct Verification {
    pub verification_id: VerificationId,
    pub client_id: ClientId,
    pub biz_id: BizId,
    pub biz_type: VerificationBizType,
    pub name: PersonName,
    pub id_card_no: IdCardNumber,
    pub mobile: Option<MobileNumber>,
    pub callback_url: WebUrl,
    pub webhook_headers: WebhookHeaders,
    pub ui_config: UiConfig,
    /// Providers to archive the result with, as asked at initiation.
    pub archive_providers: Vec<ArchiveProvider>,
    /// The result's archive records so far, by provider.
    pub result_archives: BTreeMap<ArchiveProvider, Archive>,
    pub expires_at: DateTime<Utc>,
    pub initiated_at: DateTime<Utc>,
    /// The number of the page link that works: 1 from initiation, then one more per re-issue.
    pub page_link: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProviderTask {
    pub provider: ProviderName,
    pub task_id: ProviderTaskId,
    pub h5_url: Option<LongText>,
    pub started_at: DateTime<Utc>,
    /// When the person first opened the page with this task ready; PENDING until then.
    pub opened_at: Option<DateTime<Utc>>,
}

/// Rounds without any available provider, and when the next may run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProviderAttempts {
    pub count: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// The degraded check in progress.
#[derive(Clone, Debug, PartialEq)]
pub struct DegradedCheck {
    pub method: VerificationMethod,
    pub degraded_at: DateTime<Utc>,
    pub code: Option<SentCode>,
    /// Wrong codes so far, across every code sent.
    pub failed_attempts: u32,
    pub locked: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SentCode {
    pub code_hash: Digest,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DegradedResult {
    pub method: VerificationMethod,
    pub transaction_no: TransactionNo,
    pub verified_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProviderResult {
    pub provider: ProviderName,
    pub transaction_no: TransactionNo,
    pub verdict: Verdict,
    pub verified_at: DateTime<Utc>,
}

/// What a contract needs from a verification to count it as a signer's face check (spec 4.2.1).
#[derive(Clone, Debug, PartialEq)]
pub struct FaceVerificationFacts {
    pub verification_id: VerificationId,
    pub status: VerificationStatus,
    pub name: PersonName,
    pub id_card_no: IdCardNumber,
    pub verified_at: Option<DateTime<Utc>>,
}

impl VerificationState {
    pub fn status(&self) -> Option<VerificationStatus> {
        match self {
            VerificationState::NotInitiated => None,
            VerificationState::Pending { .. } | VerificationState::Degraded { .. } => {
                Some(VerificationStatus::Pending)
            }
            VerificationState::Processing { task, .. } => Some(if task.opened_at.is_some() {
                VerificationStatus::Processing
            } else {
                VerificationStatus::Pending
            }),
            VerificationState::Succeeded { .. } | VerificationState::SucceededDegraded { .. } => {
                Some(VerificationStatus::Success)
            }
            VerificationState::Failed { .. } => Some(VerificationStatus::Failed),
            VerificationState::Expired { .. } => Some(VerificationStatus::Expired),
        }
    }

    pub fn verification(&self) -> Option<&Verification> {
        match self {
            VerificationState::NotInitiated => None,
            VerificationState::Pending { verification, .. }
            | VerificationState::Degraded { verification, .. }
            | VerificationState::Processing { verification, .. }
            | VerificationState::Succeeded { verification, .. }
            | VerificationState::SucceededDegraded { verification, .. }
            | VerificationState::Failed { verification, .. }
            | VerificationState::Expired { verification, .. } => Some(verification),
        }
    }

    /// How the identity is (being) checked.
    pub fn method(&self) -> VerificationMethod {
        match self {
            VerificationState::Degraded { check, .. } => check.method,
            VerificationState::SucceededDegraded { result, .. } => result.method,
            VerificationState::NotInitiated
            | VerificationState::Pending { .. }
            | VerificationState::Processing { .. }
            | VerificationState::Succeeded { .. }
            | VerificationState::Failed { .. }
            | VerificationState::Expired { .. } => VerificationMethod::Face,
        }
    }

    /// The provider task, when one was started.
    pub fn task(&self) -> Option<&ProviderTask> {
        match self {
            VerificationState::Processing { task, .. } => Some(task),
            VerificationState::Succeeded { task, .. }
            | VerificationState::Failed { task, .. }
            | VerificationState::Expired { task, .. } => task.as_ref(),
            VerificationState::NotInitiated
            | VerificationState::Pending { .. }
            | VerificationState::Degraded { .. }
            | VerificationState::SucceededDegraded { .. } => None,
        }
    }

    /// When the outcome was decided (a provider's verdict or the degraded check).
    pub fn verified_at(&self) -> Option<DateTime<Utc>> {
        match self {
            VerificationState::SucceededDegraded { result, .. } => Some(result.verified_at),
            other => other.result().map(|result| result.verified_at),
        }
    }

    pub fn result(&self) -> Option<&ProviderResult> {
        match self {
            VerificationState::Succeeded { result, .. }
            | VerificationState::Failed { result, .. } => Some(result),
            VerificationState::NotInitiated
            | VerificationState::Pending { .. }
            | VerificationState::Degraded { .. }
            | VerificationState::Processing { .. }
            | VerificationState::SucceededDegraded { .. }
            | VerificationState::Expired { .. } => None,
        }
    }

    /// The facts a contract checks before counting this verification for a signer.
    pub fn facts(&self) -> Option<FaceVerificationFacts> {
        let verification = self.verification()?;
        Some(FaceVerificationFacts {
            verification_id: verification.verification_id.clone(),
            status: self.status()?,
            name: verification.name.clone(),
            id_card_no: verification.id_card_no.clone(),
            verified_at: self.verified_at(),
        })
    }

    /// SUCCESS, FAILED and EXPIRED.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            VerificationState::Succeeded { .. }
                | VerificationState::SucceededDegraded { .. }
                | VerificationState::Failed { .. }
                | VerificationState::Expired { .. }
        )
    }
}

/// The state after one event. Events are facts: one that does not fit the state (which a valid stream
/// never contains) leaves the state as it was.
pub(super) fn next(state: VerificationState, event: &VerificationEvent) -> VerificationState {
    match event {
        VerificationEvent::Initiated {
            verification_id,
            client_id,
            biz_id,
            biz_type,
            name,
            id_card_no,
            mobile,
            callback_url,
            webhook_headers,
            ui_config,
            archive_providers,
            expires_at,
            initiated_at,
        } => match state {
            VerificationState::NotInitiated => VerificationState::Pending {
                provider_attempts: ProviderAttempts::default(),
                verification: Verification {
                    verification_id: verification_id.clone(),
                    client_id: client_id.clone(),
                    biz_id: biz_id.clone(),
                    biz_type: *biz_type,
                    name: name.expose().clone(),
                    id_card_no: id_card_no.expose().clone(),
                    mobile: mobile.as_ref().map(|mobile| mobile.expose().clone()),
                    callback_url: callback_url.clone(),
                    webhook_headers: webhook_headers.clone(),
                    ui_config: ui_config.clone(),
                    archive_providers: archive_providers.clone(),
                    result_archives: BTreeMap::new(),
                    expires_at: *expires_at,
                    initiated_at: *initiated_at,
                    page_link: 1,
                },
            },
            other => other,
        },
        VerificationEvent::ProviderTaskStarted {
            provider,
            task_id,
            h5_url,
            started_at,
        } => match state {
            VerificationState::Pending { verification, .. } => VerificationState::Processing {
                verification,
                task: ProviderTask {
                    provider: provider.clone(),
                    task_id: task_id.clone(),
                    h5_url: h5_url.clone(),
                    started_at: *started_at,
                    opened_at: None,
                },
            },
            other => other,
        },
        VerificationEvent::ProviderUnavailable {
            attempt,
            next_attempt_at,
            ..
        } => match state {
            VerificationState::Pending { verification, .. } => VerificationState::Pending {
                verification,
                provider_attempts: ProviderAttempts {
                    count: *attempt,
                    next_attempt_at: *next_attempt_at,
                },
            },
            other => other,
        },
        VerificationEvent::Degraded {
            method,
            degraded_at,
        } => match state {
            VerificationState::Pending { verification, .. } => VerificationState::Degraded {
                verification,
                check: DegradedCheck {
                    method: *method,
                    degraded_at: *degraded_at,
                    code: None,
                    failed_attempts: 0,
                    locked: false,
                },
            },
            other => other,
        },
        VerificationEvent::DegradedCodeSent {
            code_hash,
            expires_at,
            ..
        } => match state {
            VerificationState::Degraded {
                verification,
                mut check,
            } => {
                check.code = Some(SentCode {
                    code_hash: code_hash.clone(),
                    expires_at: *expires_at,
                });
                VerificationState::Degraded {
                    verification,
                    check,
                }
            }
            other => other,
        },
        VerificationEvent::DegradedCodeFailed {
            failed_attempts,
            locked,
            ..
        } => match state {
            VerificationState::Degraded {
                verification,
                mut check,
            } => {
                check.failed_attempts = *failed_attempts;
                check.locked = *locked;
                VerificationState::Degraded {
                    verification,
                    check,
                }
            }
            other => other,
        },
        VerificationEvent::DegradedSucceeded {
            method,
            transaction_no,
            verified_at,
            ..
        } => match state {
            VerificationState::Degraded { verification, .. } => {
                VerificationState::SucceededDegraded {
                    verification,
                    result: DegradedResult {
                        method: *method,
                        transaction_no: transaction_no.clone(),
                        verified_at: *verified_at,
                    },
                }
            }
            other => other,
        },
        VerificationEvent::Succeeded {
            provider,
            transaction_no,
            score,
            verified_at,
        } => {
            let result = ProviderResult {
                provider: provider.clone(),
                transaction_no: transaction_no.clone(),
                verdict: Verdict::Passed { score: *score },
                verified_at: *verified_at,
            };
            close(state, |verification, task| VerificationState::Succeeded {
                verification,
                task,
                result,
            })
        }
        VerificationEvent::Failed {
            provider,
            transaction_no,
            score,
            fail_reason,
            verified_at,
        } => {
            let result = ProviderResult {
                provider: provider.clone(),
                transaction_no: transaction_no.clone(),
                verdict: Verdict::Failed {
                    score: *score,
                    reason: *fail_reason,
                },
                verified_at: *verified_at,
            };
            close(state, |verification, task| VerificationState::Failed {
                verification,
                task,
                result,
            })
        }
        VerificationEvent::Opened { opened_at } => match state {
            VerificationState::Processing {
                verification,
                mut task,
            } => {
                task.opened_at.get_or_insert(*opened_at);
                VerificationState::Processing { verification, task }
            }
            other => other,
        },
        VerificationEvent::Expired { expired_at } => {
            close(state, |verification, task| VerificationState::Expired {
                verification,
                task,
                expired_at: *expired_at,
            })
        }
        VerificationEvent::LinkReissued { link, .. } => {
            let mut state = state;
            match &mut state {
                VerificationState::Pending { verification, .. }
                | VerificationState::Degraded { verification, .. }
                | VerificationState::Processing { verification, .. } => {
                    verification.page_link = *link;
                }
                VerificationState::NotInitiated
                | VerificationState::Succeeded { .. }
                | VerificationState::SucceededDegraded { .. }
                | VerificationState::Failed { .. }
                | VerificationState::Expired { .. } => {}
            }
            state
        }
        VerificationEvent::ResultArchiveRequested { .. }
        | VerificationEvent::ResultArchived { .. }
        | VerificationEvent::ResultArchiveFailed { .. } => {
            let mut state = state;
            if let Some(verification) = state.verification_mut() {
                super::archive::evolve(&mut verification.result_archives, event);
            }
            state
        }
    }
}

impl VerificationState {
    fn verification_mut(&mut self) -> Option<&mut Verification> {
        match self {
            VerificationState::NotInitiated => None,
            VerificationState::Pending { verification, .. }
            | VerificationState::Degraded { verification, .. }
            | VerificationState::Processing { verification, .. }
            | VerificationState::Succeeded { verification, .. }
            | VerificationState::SucceededDegraded { verification, .. }
            | VerificationState::Failed { verification, .. }
            | VerificationState::Expired { verification, .. } => Some(verification),
        }
    }
}

/// Moves a PENDING or PROCESSING verification into a final state; any other state stays as it is.
/// Only expiry reaches a degraded one (provider results are refused there).
fn close(
    state: VerificationState,
    finish: impl FnOnce(Verification, Option<ProviderTask>) -> VerificationState,
) -> VerificationState {
    match state {
        VerificationState::Pending { verification, .. }
        | VerificationState::Degraded { verification, .. } => finish(verification, None),
        VerificationState::Processing { verification, task } => finish(verification, Some(task)),
        other @ (VerificationState::NotInitiated
        | VerificationState::Succeeded { .. }
        | VerificationState::SucceededDegraded { .. }
        | VerificationState::Failed { .. }
        | VerificationState::Expired { .. }) => other,
    }
}
