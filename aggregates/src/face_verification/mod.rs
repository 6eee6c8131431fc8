//! The FaceVerification aggregate (spec 2.1.1, 4.1.1, table `face_verification`): one check that a live
//! person matches a name and ID number, from initiation to the provider's verdict or expiry.
//!
//! PENDING -> PROCESSING -> SUCCESS | FAILED, and PENDING | PROCESSING -> EXPIRED at `expiresAt`.
//! Idempotency by `bizId` + `bizType` is the service's look-up; the initiation event carries both.
//!
//! When no provider can take the task, a PENDING verification records each unavailable round (the
//! service retries in the background), or, with degraded mode on, switches to the degraded check of
//! spec 7.2.1: an SMS code to the person's mobile plus the identity information checked at initiation.

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::errors::{ErrorKind, ValidationErrors};
use crate::values::{
    BizId, ClientId, Digest, ExpireMinutes, FaceScore, FailReason, IdCardNumber, LongText,
    MobileNumber, Mode, PageTitle, PersonName, ProviderName, ProviderTaskId, SMS_CODE_TTL_MINUTES,
    SMS_MAX_FAILED_ATTEMPTS, ThemeColor, TransactionNo, VerificationBizType, VerificationId,
    VerificationStatus, WebUrl, WebhookConfigRequest, WebhookHeaders, china_date, later, redacted,
};
use crate::{Aggregate, DomainEvent, Sensitive};

/// The stream's decider.
#[derive(Debug)]
pub struct FaceVerificationAggregate;

// ---------------------------------------------------------------------------------------------------
// Request (wire shape of `POST /api/v1/verification/face/initiate`)

/// The body of `POST /api/v1/verification/face/initiate` as sent; fields are optional here so a missing
/// one is reported by name together with every other problem.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationRequest {
    pub biz_id: Option<String>,
    pub biz_type: Option<String>,
    pub user_info: Option<UserInfoRequest>,
    pub callback_url: Option<String>,
    pub webhook_config: Option<WebhookConfigRequest>,
    pub expire_minutes: Option<i64>,
    pub ui_config: Option<UiConfigRequest>,
}

/// `Debug` hides the ID and mobile numbers: commands end up in logs.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfoRequest {
    pub name: Option<String>,
    pub id_card_no: Option<String>,
    pub mobile: Option<String>,
}

impl std::fmt::Debug for UserInfoRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserInfoRequest")
            .field("name", &self.name)
            .field("id_card_no", &redacted(self.id_card_no.as_deref()))
            .field("mobile", &redacted(self.mobile.as_deref()))
            .finish()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UiConfigRequest {
    pub title: Option<String>,
    pub logo_url: Option<String>,
    pub theme_color: Option<String>,
}

/// The H5 page's customisation (`uiConfig`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UiConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<PageTitle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<WebUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme_color: Option<ThemeColor>,
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

// ---------------------------------------------------------------------------------------------------
// Events

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
#[allow(
    clippy::large_enum_variant,
    reason = "struct variants keep the stored JSON flat; an initiation is one event per stream"
)]
pub enum VerificationEvent {
    #[serde(rename = "FaceVerificationInitiated", rename_all = "camelCase")]
    Initiated {
        verification_id: VerificationId,
        client_id: ClientId,
        biz_id: BizId,
        biz_type: VerificationBizType,
        name: PersonName,
        id_card_no: Sensitive<IdCardNumber>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mobile: Option<Sensitive<MobileNumber>>,
        callback_url: WebUrl,
        #[serde(default)]
        webhook_headers: WebhookHeaders,
        #[serde(default)]
        ui_config: UiConfig,
        expires_at: DateTime<Utc>,
        initiated_at: DateTime<Utc>,
    },
    #[serde(rename = "FaceProviderTaskStarted", rename_all = "camelCase")]
    ProviderTaskStarted {
        provider: ProviderName,
        task_id: ProviderTaskId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        h5_url: Option<LongText>,
        started_at: DateTime<Utc>,
    },
    /// One round found every provider unavailable; `nextAttemptAt` is absent once retries are used up.
    #[serde(rename = "FaceProviderUnavailable", rename_all = "camelCase")]
    ProviderUnavailable {
        attempt: u32,
        providers: Vec<ProviderName>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_attempt_at: Option<DateTime<Utc>>,
        failed_at: DateTime<Utc>,
    },
    #[serde(rename = "FaceVerificationDegraded", rename_all = "camelCase")]
    Degraded {
        method: VerificationMethod,
        degraded_at: DateTime<Utc>,
    },
    #[serde(rename = "DegradedSmsCodeSent", rename_all = "camelCase")]
    DegradedCodeSent {
        code_hash: Digest,
        expires_at: DateTime<Utc>,
        sent_at: DateTime<Utc>,
    },
    /// A wrong code; `locked` once `failedAttempts` reaches the limit (counted across codes).
    #[serde(rename = "DegradedSmsCodeFailed", rename_all = "camelCase")]
    DegradedCodeFailed {
        failed_attempts: u32,
        locked: bool,
        failed_at: DateTime<Utc>,
    },
    /// The degraded check passed: SUCCESS with `degraded: true` and no face score.
    #[serde(rename = "FaceVerificationDegradedSucceeded", rename_all = "camelCase")]
    DegradedSucceeded {
        method: VerificationMethod,
        degraded: bool,
        transaction_no: TransactionNo,
        verified_at: DateTime<Utc>,
    },
    #[serde(rename = "FaceVerificationSucceeded", rename_all = "camelCase")]
    Succeeded {
        provider: ProviderName,
        transaction_no: TransactionNo,
        score: FaceScore,
        verified_at: DateTime<Utc>,
    },
    #[serde(rename = "FaceVerificationFailed", rename_all = "camelCase")]
    Failed {
        provider: ProviderName,
        transaction_no: TransactionNo,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        score: Option<FaceScore>,
        fail_reason: FailReason,
        verified_at: DateTime<Utc>,
    },
    /// `expiredAt` is the deadline itself, not when the scheduler noticed.
    #[serde(rename = "FaceVerificationExpired", rename_all = "camelCase")]
    Expired { expired_at: DateTime<Utc> },
}

impl DomainEvent for VerificationEvent {
    fn event_type(&self) -> &'static str {
        match self {
            VerificationEvent::Initiated { .. } => "FaceVerificationInitiated",
            VerificationEvent::ProviderTaskStarted { .. } => "FaceProviderTaskStarted",
            VerificationEvent::Succeeded { .. } => "FaceVerificationSucceeded",
            VerificationEvent::Failed { .. } => "FaceVerificationFailed",
            VerificationEvent::Expired { .. } => "FaceVerificationExpired",
            VerificationEvent::ProviderUnavailable { .. } => "FaceProviderUnavailable",
            VerificationEvent::Degraded { .. } => "FaceVerificationDegraded",
            VerificationEvent::DegradedCodeSent { .. } => "DegradedSmsCodeSent",
            VerificationEvent::DegradedCodeFailed { .. } => "DegradedSmsCodeFailed",
            VerificationEvent::DegradedSucceeded { .. } => "FaceVerificationDegradedSucceeded",
        }
    }

    fn schema_version(&self) -> u32 {
        1
    }
}

// ---------------------------------------------------------------------------------------------------
// Errors

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

// ---------------------------------------------------------------------------------------------------
// State

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

/// What was asked: the person to verify and where to report.
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
    pub expires_at: DateTime<Utc>,
    pub initiated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProviderTask {
    pub provider: ProviderName,
    pub task_id: ProviderTaskId,
    pub h5_url: Option<LongText>,
    pub started_at: DateTime<Utc>,
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
            VerificationState::Processing { .. } => Some(VerificationStatus::Processing),
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

// ---------------------------------------------------------------------------------------------------
// Decide and evolve

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
            VerificationCommand::Initiate(command) => initiate(state, command),
            VerificationCommand::StartProviderTask(command) => start_task(state, command),
            VerificationCommand::RecordResult(command) => record_result(state, command),
            VerificationCommand::Expire(command) => expire(state, command),
            VerificationCommand::RecordProviderUnavailable(command) => {
                provider_unavailable(state, command)
            }
            VerificationCommand::Degrade(command) => degrade(state, command),
            VerificationCommand::SendDegradedCode(command) => send_degraded_code(state, command),
            VerificationCommand::VerifyDegradedCode(command) => {
                verify_degraded_code(state, command)
            }
        }
    }

    fn evolve(state: &mut VerificationState, event: &VerificationEvent) {
        let current = std::mem::take(state);
        *state = next(current, event);
    }
}

fn initiate(
    state: &VerificationState,
    command: InitiateVerification,
) -> Result<Vec<VerificationEvent>, VerificationError> {
    match state {
        VerificationState::NotInitiated => {}
        existing => {
            let id = existing
                .verification()
                .map(|verification| verification.verification_id.clone());
            return Err(id.map_or(VerificationError::NotFound, VerificationError::Duplicate));
        }
    }
    let request = &command.request;
    let mut errors = ValidationErrors::new();
    let biz_id = errors.required("bizId", request.biz_id.as_deref(), BizId::parse);
    let biz_type = errors.required(
        "bizType",
        request.biz_type.as_deref(),
        VerificationBizType::parse,
    );
    let today = china_date(command.now);
    let (name, id_card_no, mobile) = match &request.user_info {
        None => {
            errors.push("userInfo", "is required");
            (None, None, None)
        }
        Some(user) => (
            errors.required("userInfo.name", user.name.as_deref(), PersonName::parse),
            errors.required("userInfo.idCardNo", user.id_card_no.as_deref(), |text| {
                IdCardNumber::parse(text, today)
            }),
            errors.optional(
                "userInfo.mobile",
                user.mobile.as_deref(),
                MobileNumber::parse,
            ),
        ),
    };
    let callback_url = errors.required("callbackUrl", request.callback_url.as_deref(), |text| {
        WebUrl::parse(text, command.mode)
    });
    let webhook_headers = WebhookHeaders::collect(
        request.webhook_config.as_ref(),
        "webhookConfig",
        &mut errors,
    );
    let expire_minutes = errors.check(
        "expireMinutes",
        ExpireMinutes::parse(request.expire_minutes),
    );
    let ui_config = parse_ui_config(request.ui_config.as_ref(), command.mode, &mut errors);

    let (
        Some(biz_id),
        Some(biz_type),
        Some(name),
        Some(id_card_no),
        Some(mobile),
        Some(callback_url),
        Some(expire_minutes),
        Some(ui_config),
    ) = (
        biz_id,
        biz_type,
        name,
        id_card_no,
        mobile,
        callback_url,
        expire_minutes,
        ui_config,
    )
    else {
        return Err(VerificationError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(VerificationError::Invalid(errors));
    }
    Ok(vec![VerificationEvent::Initiated {
        verification_id: command.verification_id,
        client_id: command.client_id,
        biz_id,
        biz_type,
        name,
        id_card_no: Sensitive::new(id_card_no),
        mobile: mobile.map(Sensitive::new),
        callback_url,
        webhook_headers,
        ui_config,
        expires_at: later(command.now, expire_minutes.duration()),
        initiated_at: command.now,
    }])
}

fn parse_ui_config(
    request: Option<&UiConfigRequest>,
    mode: Mode,
    errors: &mut ValidationErrors,
) -> Option<UiConfig> {
    let Some(request) = request else {
        return Some(UiConfig::default());
    };
    let title = errors.optional("uiConfig.title", request.title.as_deref(), PageTitle::parse);
    let logo_url = errors.optional("uiConfig.logoUrl", request.logo_url.as_deref(), |text| {
        WebUrl::parse(text, mode)
    });
    let theme_color = errors.optional(
        "uiConfig.themeColor",
        request.theme_color.as_deref(),
        ThemeColor::parse,
    );
    Some(UiConfig {
        title: title?,
        logo_url: logo_url?,
        theme_color: theme_color?,
    })
}

fn start_task(
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

fn record_result(
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

fn expire(
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

fn provider_unavailable(
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

fn degrade(
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

fn send_degraded_code(
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

fn verify_degraded_code(
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

/// The state after one event. Events are facts: one that does not fit the state (which a valid stream
/// never contains) leaves the state as it was.
fn next(state: VerificationState, event: &VerificationEvent) -> VerificationState {
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
                    name: name.clone(),
                    id_card_no: id_card_no.expose().clone(),
                    mobile: mobile.as_ref().map(|mobile| mobile.expose().clone()),
                    callback_url: callback_url.clone(),
                    webhook_headers: webhook_headers.clone(),
                    ui_config: ui_config.clone(),
                    expires_at: *expires_at,
                    initiated_at: *initiated_at,
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
        VerificationEvent::Expired { expired_at } => {
            close(state, |verification, task| VerificationState::Expired {
                verification,
                task,
                expired_at: *expired_at,
            })
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
