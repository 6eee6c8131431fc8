//! The FaceVerification stream's events: each one step of a check, named by its stored type.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{UiConfig, VerificationMethod};
use crate::values::{
    ArchiveId, ArchiveProvider, BizId, ClientId, Digest, FaceScore, FailReason, IdCardNumber,
    LongText, MobileNumber, PersonName, ProviderName, ProviderTaskId, Reason, TransactionNo,
    VerificationBizType, VerificationId, WebUrl, WebhookHeaders,
};
use crate::{DomainEvent, Sensitive};

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
        /// Sealed like the ID number; in clear in events written before names were marked.
        #[serde(deserialize_with = "Sensitive::marked_or_plain")]
        name: Sensitive<PersonName>,
        id_card_no: Sensitive<IdCardNumber>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mobile: Option<Sensitive<MobileNumber>>,
        callback_url: WebUrl,
        #[serde(default)]
        webhook_headers: WebhookHeaders,
        #[serde(default)]
        ui_config: UiConfig,
        /// Providers to archive the result with once it is final (spec 5.1); empty when the
        /// caller did not ask.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        archive_providers: Vec<ArchiveProvider>,
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
    /// The person opened the verification page while the provider's task was ready: they have
    /// started, and the verification is PROCESSING from now on (spec 2.1.1). Recorded once.
    #[serde(rename = "FaceVerificationOpened", rename_all = "camelCase")]
    Opened { opened_at: DateTime<Utc> },
    /// `expiredAt` is the deadline itself, not when the scheduler noticed.
    #[serde(rename = "FaceVerificationExpired", rename_all = "camelCase")]
    Expired { expired_at: DateTime<Utc> },
    /// The owner asked for a new page link (theirs was lost): link number `link` works from now on
    /// and every earlier one is refused. The deadline stays the verification's.
    #[serde(rename = "FaceVerificationLinkReissued", rename_all = "camelCase")]
    LinkReissued {
        link: u32,
        reissued_at: DateTime<Utc>,
    },
    /// An attempt to archive the result record (whose SHA-256 is `recordHash`) with one provider.
    #[serde(rename = "FaceResultArchiveRequested", rename_all = "camelCase")]
    ResultArchiveRequested {
        archive_id: ArchiveId,
        provider: ArchiveProvider,
        record_hash: Digest,
        attempt: u32,
        requested_at: DateTime<Utc>,
    },
    #[serde(rename = "FaceResultArchived", rename_all = "camelCase")]
    ResultArchived {
        archive_id: ArchiveId,
        provider: ArchiveProvider,
        transaction_no: TransactionNo,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        authority: Option<LongText>,
        /// What a verifier needs to check the record again (a timestamp token, a Merkle proof).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<serde_json::Value>,
        archived_at: DateTime<Utc>,
    },
    /// The result stands; a later `FaceResultArchiveRequested` retries.
    #[serde(rename = "FaceResultArchiveFailed", rename_all = "camelCase")]
    ResultArchiveFailed {
        archive_id: ArchiveId,
        provider: ArchiveProvider,
        reason: Reason,
        failed_at: DateTime<Utc>,
    },
}

impl DomainEvent for VerificationEvent {
    fn event_type(&self) -> &'static str {
        match self {
            VerificationEvent::Initiated { .. } => "FaceVerificationInitiated",
            VerificationEvent::ProviderTaskStarted { .. } => "FaceProviderTaskStarted",
            VerificationEvent::Succeeded { .. } => "FaceVerificationSucceeded",
            VerificationEvent::Failed { .. } => "FaceVerificationFailed",
            VerificationEvent::Opened { .. } => "FaceVerificationOpened",
            VerificationEvent::Expired { .. } => "FaceVerificationExpired",
            VerificationEvent::LinkReissued { .. } => "FaceVerificationLinkReissued",
            VerificationEvent::ProviderUnavailable { .. } => "FaceProviderUnavailable",
            VerificationEvent::Degraded { .. } => "FaceVerificationDegraded",
            VerificationEvent::DegradedCodeSent { .. } => "DegradedSmsCodeSent",
            VerificationEvent::DegradedCodeFailed { .. } => "DegradedSmsCodeFailed",
            VerificationEvent::DegradedSucceeded { .. } => "FaceVerificationDegradedSucceeded",
            VerificationEvent::ResultArchiveRequested { .. } => "FaceResultArchiveRequested",
            VerificationEvent::ResultArchived { .. } => "FaceResultArchived",
            VerificationEvent::ResultArchiveFailed { .. } => "FaceResultArchiveFailed",
        }
    }

    fn schema_version(&self) -> u32 {
        1
    }
}
