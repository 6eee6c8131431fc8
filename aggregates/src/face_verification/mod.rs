//! The FaceVerification aggregate (spec 2.1.1, 4.1.1, table `face_verification`): one check that a live
//! person matches a name and ID number, from initiation to the provider's verdict or expiry.
//!
//! PENDING -> PROCESSING -> SUCCESS | FAILED, and PENDING | PROCESSING -> EXPIRED at `expiresAt`.
//! Idempotency by `bizId` + `bizType` is the service's look-up; the initiation event carries both.
//!
//! When no provider can take the task, a PENDING verification records each unavailable round (the
//! service retries in the background), or, with degraded mode on, switches to the degraded check of
//! spec 7.2.1: an SMS code to the person's mobile plus the identity information checked at initiation.

mod archive;
mod decide;
mod errors;
mod events;
mod initiate;
mod state;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Aggregate;
use crate::values::{
    ClientId, Digest, FaceScore, FailReason, LongText, Mode, ProviderName, ProviderTaskId,
    TransactionNo, VerificationId,
};

pub use archive::{
    RESULT_RECORD_FORMAT, RecordResultArchiveFailure, RecordResultArchiveSuccess,
    RequestResultArchive, ResultRecord,
};
pub use errors::{VerificationConflict, VerificationError};
pub use events::VerificationEvent;
pub use initiate::{UiConfig, UiConfigRequest, UserInfoRequest, VerificationRequest};
pub use state::{
    DegradedCheck, DegradedResult, FaceVerificationFacts, ProviderAttempts, ProviderResult,
    ProviderTask, SentCode, Verification, VerificationState,
};

/// The stream's decider.
#[derive(Debug)]
pub struct FaceVerificationAggregate;

impl Aggregate for FaceVerificationAggregate {
    const NAME: &'static str = "verification";
    type State = VerificationState;
    type Command = VerificationCommand;
    type Event = VerificationEvent;
    type Error = VerificationError;

    fn decide(
        state: &VerificationState,
        command: VerificationCommand,
    ) -> Result<Vec<VerificationEvent>, VerificationError> {
        match command {
            VerificationCommand::Initiate(command) => initiate::initiate(state, command),
            VerificationCommand::StartProviderTask(command) => decide::start_task(state, command),
            VerificationCommand::RecordResult(command) => decide::record_result(state, command),
            VerificationCommand::Expire(command) => decide::expire(state, command),
            VerificationCommand::RecordProviderUnavailable(command) => {
                decide::provider_unavailable(state, command)
            }
            VerificationCommand::Degrade(command) => decide::degrade(state, command),
            VerificationCommand::RecordOpened(command) => decide::record_opened(state, command),
            VerificationCommand::SendDegradedCode(command) => {
                decide::send_degraded_code(state, command)
            }
            VerificationCommand::VerifyDegradedCode(command) => {
                decide::verify_degraded_code(state, command)
            }
            VerificationCommand::ReissueLink(command) => decide::reissue_link(state, command),
            VerificationCommand::RequestResultArchive(command) => archive::request(state, command),
            VerificationCommand::RecordResultArchiveSuccess(command) => {
                archive::record_success(state, command)
            }
            VerificationCommand::RecordResultArchiveFailure(command) => {
                archive::record_failure(state, command)
            }
        }
    }

    fn evolve(state: &mut VerificationState, event: &VerificationEvent) {
        let current = std::mem::take(state);
        *state = state::next(current, event);
    }
}

// ---------------------------------------------------------------------------------------------------
// Commands

#[derive(Clone, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per request and moved into `decide`; boxing would only add noise at call sites"
)]
pub enum VerificationCommand {
    Initiate(InitiateVerification),
    /// The provider accepted the task: the person can now be sent to its page.
    StartProviderTask(StartProviderTask),
    /// The person opened the verification page.
    RecordOpened(RecordOpened),
    /// The provider's (signature-checked) verdict.
    RecordResult(RecordProviderResult),
    /// The scheduler found the verification past `expiresAt`.
    Expire(ExpireVerification),
    /// No provider could take the task in this round (attempt `n`, 1-based).
    RecordProviderUnavailable(RecordProviderUnavailable),
    /// Every provider is down and degraded mode is on: switch to the SMS + identity check.
    Degrade(Degrade),
    /// A degraded-check code was sent to the person's mobile; only its keyed hash is kept.
    SendDegradedCode(SendDegradedCode),
    /// The person entered a degraded-check code.
    VerifyDegradedCode(VerifyDegradedCode),
    /// Archive the final result with one provider the caller asked for (or retry after a failure).
    RequestResultArchive(RequestResultArchive),
    RecordResultArchiveSuccess(RecordResultArchiveSuccess),
    RecordResultArchiveFailure(RecordResultArchiveFailure),
    /// The owner lost the page link: a new one, and the old one stops working.
    ReissueLink(ReissueLink),
}

#[derive(Clone, Debug)]
pub struct ReissueLink {
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct InitiateVerification {
    pub verification_id: VerificationId,
    /// The owner: other clients get 404 for this verification.
    pub client_id: ClientId,
    pub request: VerificationRequest,
    pub mode: Mode,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct StartProviderTask {
    pub provider: ProviderName,
    pub task_id: ProviderTaskId,
    /// The provider's page for the person (H5 mode), when it has one.
    pub h5_url: Option<LongText>,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct RecordOpened {
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct RecordProviderUnavailable {
    /// Which round this was: 1 for the initiation's, then one per background retry. A round already
    /// recorded (another instance ran it) is accepted without events.
    pub attempt: u32,
    /// The providers tried, in order.
    pub tried: Vec<ProviderName>,
    /// When the next round may run; `None` when the retries are used up.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Degrade {
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct SendDegradedCode {
    /// The keyed hash of the code sent (the code itself never reaches the log).
    pub code_hash: Digest,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct VerifyDegradedCode {
    /// The keyed hash of the code the person entered.
    pub code_hash: Digest,
    /// esign's own reference for the passed check, shown as `transactionNo`.
    pub transaction_no: TransactionNo,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct RecordProviderResult {
    pub provider: ProviderName,
    pub transaction_no: TransactionNo,
    pub verdict: Verdict,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct ExpireVerification {
    pub now: DateTime<Utc>,
}

/// How the person's identity was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VerificationMethod {
    /// Liveness and face comparison at a provider (the normal path).
    #[serde(rename = "FACE")]
    Face,
    /// The degraded check of spec 7.2.1: an SMS code to the mobile given at initiation, plus the
    /// identity information checks done at initiation (ID number structure, check digit and birth
    /// date; name present). It proves control of the phone, not the face: callers see `degraded`.
    #[serde(rename = "SMS_AND_IDENTITY")]
    SmsAndIdentity,
}

impl VerificationMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            VerificationMethod::Face => "FACE",
            VerificationMethod::SmsAndIdentity => "SMS_AND_IDENTITY",
        }
    }
}

/// A provider's verdict.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    Passed {
        score: FaceScore,
    },
    Failed {
        score: Option<FaceScore>,
        reason: FailReason,
    },
}
