//! The Contract aggregate (spec 2.1.2, 4.1.2, 4.1.3, 4.2; tables `contract`, `contract_signer`,
//! `contract_archive`): a contract started from an active template version, signed by every signer in
//! sequence order through one-time links after identity checks, then sealed and archived.
//!
//! CREATED -> PARTIAL_SIGNED -> SIGNED; REJECTED when a signer rejects; REVOKED by the initiator before
//! SIGNED; EXPIRED at the deadline. REJECTED, REVOKED and EXPIRED absorb every later command; a SIGNED
//! contract only takes sealing and archiving. `docs/domain.md` draws the machine with its events.

mod decide;
mod errors;
mod events;
mod initiate;
mod state;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Aggregate;
use crate::delivery::{DeliveryOutcome, RetryPolicy};
use crate::face_verification::FaceVerificationFacts;
use crate::template::TemplateVersionFacts;
use crate::values::{
    ArchiveId, ArchiveProvider, CertificateSerial, ClientId, ContractId, CreditCode, DeviceInfo,
    Digest, IdCardNumber, LinkId, LinkLifetimes, LinkTtl, LongText, Mode, Operator,
    OrganizationName, PartyId, PersonName, Reason, SealId, SignatureImage, TransactionNo,
    UserAgent,
};

pub use errors::{
    ContractConflict, ContractError, ContractNotFound, IdentityCheck, IdentityFailure,
    TemplateUnavailable,
};
pub use events::{
    ContractEvent, OrganizationSigner, SealSignature, SignaturePlace, SignedRevision, SignerEntry,
    UploadedDocument,
};
pub use initiate::{
    ArchiveConfigRequest, ContractRequest, DocumentRequest, MAX_DOCUMENTS, MAX_SEQUENCE,
    MAX_VARIABLE_LEN, OrganizationRequest, PlaceRequest, SignerRequest, check_archive,
};
pub use state::{
    Archive, ArchiveState, CertificateCheck, Contract, ContractContent, ContractState,
    DocumentVersion, FaceCheck, Invitation, Rejection, SealedDocument, SignLink, Signature, Signer,
    SignerStatus, SmsCheck,
};

/// The stream's decider.
#[derive(Debug)]
pub struct ContractAggregate;

impl Aggregate for ContractAggregate {
    const NAME: &'static str = "contract";
    type State = ContractState;
    type Command = ContractCommand;
    type Event = ContractEvent;
    type Error = ContractError;

    fn decide(
        state: &ContractState,
        command: ContractCommand,
    ) -> Result<Vec<ContractEvent>, ContractError> {
        match command {
            ContractCommand::Initiate(command) => decide::initiate(state, command),
            ContractCommand::IssueSignLink(command) => decide::issue_sign_link(state, command),
            ContractCommand::OpenSignLink(command) => decide::open_sign_link(state, command),
            ContractCommand::SendSmsCode(command) => decide::send_sms_code(state, command),
            ContractCommand::VerifySmsCode(command) => decide::verify_sms_code(state, command),
            ContractCommand::RecordFaceVerification(command) => {
                decide::record_face_verification(state, command)
            }
            ContractCommand::VerifyCertificate(command) => {
                decide::verify_certificate(state, command)
            }
            ContractCommand::Sign(command) => decide::sign(state, command),
            ContractCommand::Reject(command) => decide::reject(state, command),
            ContractCommand::Revoke(command) => decide::revoke(state, command),
            ContractCommand::Expire(command) => decide::expire(state, command),
            ContractCommand::Force(command) => decide::force(state, command),
            ContractCommand::ExpireSignLink(command) => decide::expire_sign_link(state, command),
            ContractCommand::SealDocument(command) => decide::seal_document(state, command),
            ContractCommand::RenewDocumentTimestamp(command) => {
                decide::renew_document_timestamp(state, command)
            }
            ContractCommand::RequestArchive(command) => decide::request_archive(state, command),
            ContractCommand::RecordArchiveSuccess(command) => {
                decide::record_archive_success(state, command)
            }
            ContractCommand::RecordArchiveFailure(command) => {
                decide::record_archive_failure(state, command)
            }
            ContractCommand::StartInvitationAttempt(command) => {
                decide::start_invitation_attempt(state, command)
            }
            ContractCommand::RecordInvitationDelivery(command) => {
                decide::record_invitation_delivery(state, command)
            }
            ContractCommand::RetryArchive(command) => decide::retry_archive(state, command),
        }
    }

    fn evolve(state: &mut ContractState, event: &ContractEvent) {
        let current = std::mem::take(state);
        *state = state::next(current, event);
    }
}

#[derive(Clone, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per request and moved into `decide`; boxing would only add noise at call sites"
)]
pub enum ContractCommand {
    /// `POST /api/v1/contract/initiate`.
    Initiate(InitiateContract),
    /// A new link for a pending signer; the old one dies.
    IssueSignLink(IssueSignLink),
    OpenSignLink(OpenSignLink),
    SendSmsCode(SendSmsCode),
    VerifySmsCode(VerifySmsCode),
    RecordFaceVerification(RecordFaceVerification),
    VerifyCertificate(VerifyCertificate),
    Sign(Sign),
    Reject(Reject),
    /// `POST /api/v1/contract/{contractId}/revoke`.
    Revoke(Revoke),
    /// The scheduler found the contract past its deadline.
    Expire(Expire),
    /// An administrator ends a contract stuck before SIGNED (spec 4.2.4: 除管理员强制操作).
    Force(ForceTransition),
    /// The scheduler found a signer's link past its deadline.
    ExpireSignLink(ExpireSignLink),
    SealDocument(SealDocument),
    /// The long-term validation sweep closed the sealed document again.
    RenewDocumentTimestamp(RenewDocumentTimestamp),
    RequestArchive(RequestArchive),
    RecordArchiveSuccess(RecordArchiveSuccess),
    RecordArchiveFailure(RecordArchiveFailure),
    /// The delivery sweep claims the next attempt of a signer's SMS invitation.
    StartInvitationAttempt(StartInvitationAttempt),
    /// What the SMS sender made of an invitation attempt.
    RecordInvitationDelivery(RecordInvitationDelivery),
    /// An operator orders a failed archive record tried again with fresh attempts.
    RetryArchive(RetryArchive),
}

#[derive(Clone, Debug)]
pub struct InitiateContract {
    pub contract_id: ContractId,
    /// The owner: other clients get 404 for this contract.
    pub client_id: ClientId,
    pub request: ContractRequest,
    /// The version the service found for `templateId` (the pinned `templateVersion`, else the current
    /// active one), or `None` when there is none.
    pub template: Option<TemplateVersionFacts>,
    /// SHA-256 of the preview the service rendered from the template and `request.variable_texts()`;
    /// `None` for a contract from uploaded documents.
    pub preview_hash: Option<Digest>,
    /// The uploaded documents (`request.documents`) as the service read, stored and prepared them,
    /// numbered from 1 in request order.
    pub documents: Vec<UploadedDocument>,
    /// Each signer's places (`request.signers[i].places`) as the service resolved them on those
    /// documents, in request order.
    pub places: Vec<Vec<SignaturePlace>>,
    /// One fresh link per signer, in request order.
    pub sign_links: Vec<NewSignLink>,
    /// The id of the archive record, kept when the request asks for archiving.
    pub archive_id: ArchiveId,
    /// The configured link lifetimes for signers who ask for none.
    pub link_lifetimes: LinkLifetimes,
    /// Ids for the records of the providers after the first, when the request lists several;
    /// unused ones are dropped.
    pub other_archive_ids: Vec<ArchiveId>,
    /// The seals the request's organisation signers name, as the service found them; a seal
    /// missing here does not exist.
    pub seals: BTreeMap<SealId, OrganizationSeal>,
    pub mode: Mode,
    pub now: DateTime<Utc>,
}

/// A registered seal as initiation needs it: whose it is, and its current version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganizationSeal {
    pub credit_code: CreditCode,
    pub organization_name: OrganizationName,
    pub version: u32,
    pub image_hash: Digest,
    /// A deactivated seal is not applied to new contracts.
    pub active: bool,
}

/// A link the service generated: its id and the hash of its secret token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSignLink {
    pub link_id: LinkId,
    pub token_hash: Digest,
}

#[derive(Clone, Debug)]
pub struct IssueSignLink {
    pub party_id: PartyId,
    pub link: NewSignLink,
    /// `None`: the signer's own `linkExpireMinutes`, else `defaults` for how they are notified. Never
    /// beyond the contract's deadline.
    pub ttl: Option<LinkTtl>,
    pub defaults: LinkLifetimes,
    pub now: DateTime<Utc>,
}

/// The signer's page was opened with the link (4.1.2 step 3: the link is checked on every visit).
#[derive(Clone, Debug)]
pub struct OpenSignLink {
    pub party_id: PartyId,
    pub link_id: LinkId,
    pub ip_address: IpAddr,
    pub user_agent: Option<UserAgent>,
    pub now: DateTime<Utc>,
}

/// The service generated a code and will text it if this is accepted; the code itself stays out.
#[derive(Clone, Debug)]
pub struct SendSmsCode {
    pub party_id: PartyId,
    pub link_id: LinkId,
    /// A keyed hash (HMAC) of the code: six digits are too few for a plain hash to hide them.
    pub code_hash: Digest,
    pub policy: SmsCodePolicy,
    pub now: DateTime<Utc>,
}

/// The signing-code rules in force (configurable; [`SmsCodePolicy::default`] is the documented one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmsCodePolicy {
    /// How long a code may be entered after it was sent.
    pub ttl: chrono::TimeDelta,
    /// How long after a code another may be sent on the same link (no SMS flooding of a phone).
    pub resend_cooldown: chrono::TimeDelta,
    /// Wrong codes allowed on one link; reaching it locks SMS checks on the link.
    pub max_failed_attempts: u32,
}

impl Default for SmsCodePolicy {
    fn default() -> Self {
        Self {
            ttl: chrono::TimeDelta::minutes(crate::values::SMS_CODE_TTL_MINUTES),
            resend_cooldown: chrono::TimeDelta::seconds(SMS_RESEND_COOLDOWN_SECONDS),
            max_failed_attempts: crate::values::SMS_MAX_FAILED_ATTEMPTS,
        }
    }
}

/// The default wait between two codes on one link.
pub const SMS_RESEND_COOLDOWN_SECONDS: i64 = 60;

/// The signer typed a code; a wrong one is a recorded fact (`SmsCodeFailed`), not an error, because
/// the attempt must count. The service answers "wrong code" when it sees that event.
#[derive(Clone, Debug)]
pub struct VerifySmsCode {
    pub party_id: PartyId,
    pub link_id: LinkId,
    /// The same keyed hash of the typed code.
    pub code_hash: Digest,
    pub policy: SmsCodePolicy,
    pub now: DateTime<Utc>,
}

/// The signer finished a face verification; the service looked up its facts.
#[derive(Clone, Debug)]
pub struct RecordFaceVerification {
    pub party_id: PartyId,
    pub link_id: LinkId,
    pub verification: FaceVerificationFacts,
    pub now: DateTime<Utc>,
}

/// What the CA reported about the signer's certificate.
#[derive(Clone, Debug, PartialEq)]
pub struct CertificateFacts {
    pub serial_number: CertificateSerial,
    pub issuer: LongText,
    pub subject_name: PersonName,
    /// When the certificate carries an ID number, it must be the signer's.
    pub subject_id_card_no: Option<IdCardNumber>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct VerifyCertificate {
    pub party_id: PartyId,
    pub link_id: LinkId,
    pub certificate: CertificateFacts,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Sign {
    pub party_id: PartyId,
    pub link_id: LinkId,
    /// The PNG the signer drew; their revision of the document shows it. Required of a person,
    /// and of an organisation signer whose appearance includes a handwritten signature; refused
    /// when the appearance is the seal alone.
    pub signature_image: Option<SignatureImage>,
    /// SHA-256 of `signature_image`'s bytes (the domain has no hashing of its own).
    pub signature_image_hash: Option<Digest>,
    pub ip_address: IpAddr,
    pub device_info: DeviceInfo,
    /// The signing transaction number the service assigned (`transactionNo`).
    pub transaction_no: TransactionNo,
    /// The revision the signer's signature was made in; it must build on the document as it stands
    /// (else [`ContractConflict::StaleRevision`]: another signer's revision came first).
    pub revision: Option<SignedRevision>,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Reject {
    pub party_id: PartyId,
    pub link_id: LinkId,
    pub reason: Reason,
    pub ip_address: IpAddr,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Revoke {
    pub reason: Reason,
    pub operator: Operator,
    pub now: DateTime<Utc>,
}

/// Where an administrator may force a contract: the two ends a contract may reach without its
/// signers, never past SIGNED (a signed document stays signed).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ForcedStatus {
    Expired,
    Revoked,
}

impl ForcedStatus {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "EXPIRED" => Ok(Self::Expired),
            "REVOKED" => Ok(Self::Revoked),
            other => Err(format!("must be EXPIRED or REVOKED, not {other:?}")),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ForceTransition {
    pub status: ForcedStatus,
    pub reason: Reason,
    /// Who forced it: the person, as the administrator's request names them.
    pub operator: Operator,
    /// The administrator client that asked.
    pub admin: ClientId,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Expire {
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct ExpireSignLink {
    pub party_id: PartyId,
    pub link_id: LinkId,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct SealDocument {
    /// SHA-256 of the final PDF (spec 4.1.3 step 2).
    pub document_hash: Digest,
    pub details: SealDetails,
    pub now: DateTime<Utc>,
}

/// What the sealed document holds besides its hash (all optional: the hash alone seals).
#[derive(Clone, Debug, Default)]
pub struct SealDetails {
    pub content_hash: Option<Digest>,
    pub signatures: Vec<SealSignature>,
    pub timestamp_authority: Option<LongText>,
    pub timestamped_at: Option<DateTime<Utc>>,
    pub document_timestamped_at: Option<DateTime<Utc>>,
    pub document_timestamp_valid_until: Option<DateTime<Utc>>,
}

/// A new document timestamp (and validation data) appended to the sealed document `previous_hash`.
#[derive(Clone, Debug)]
pub struct RenewDocumentTimestamp {
    /// The document the update was appended to: it must be the current one.
    pub previous_hash: Digest,
    pub document_hash: Digest,
    pub timestamp_authority: Option<LongText>,
    pub timestamped_at: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// Start (or, after a failure, retry) archiving with one provider. A retry must reuse the archive id.
#[derive(Clone, Debug)]
pub struct RequestArchive {
    pub archive_id: ArchiveId,
    pub provider: ArchiveProvider,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct RecordArchiveSuccess {
    pub provider: ArchiveProvider,
    pub transaction_no: TransactionNo,
    pub certificate_url: Option<LongText>,
    pub authority: Option<LongText>,
    pub evidence: Option<serde_json::Value>,
    pub now: DateTime<Utc>,
}

/// Start attempt `attempt` of the SMS invitation for the signer's link `link_id` (after a failure
/// once its retry is due, or after an attempt whose lease passed with no outcome).
#[derive(Clone, Debug)]
pub struct StartInvitationAttempt {
    pub party_id: PartyId,
    pub link_id: LinkId,
    pub attempt: u32,
    pub lease: chrono::TimeDelta,
    pub policy: RetryPolicy,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct RecordInvitationDelivery {
    pub party_id: PartyId,
    pub link_id: LinkId,
    /// The attempt the outcome belongs to; an outcome for any other changes nothing.
    pub attempt: u32,
    pub outcome: DeliveryOutcome,
    pub policy: RetryPolicy,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct RecordArchiveFailure {
    pub provider: ArchiveProvider,
    pub reason: Reason,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct RetryArchive {
    pub provider: ArchiveProvider,
    /// Who ordered it (recorded with the order).
    pub operator: Operator,
    pub reason: Option<Reason>,
    pub now: DateTime<Utc>,
}
