//! The Contract stream's events: each one fact of the signing process, named by its stored type.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::template::VariableKey;
use crate::values::{
    AgentRole, AnchorText, ArchiveId, ArchiveProvider, BizId, CertificateSerial, ClientId,
    ContractBizType, ContractId, CreditCode, DeviceInfo, Digest, DocumentName, IdCardNumber,
    LinkId, LinkTtl, LongText, MobileNumber, NotifyType, Operator, OrganizationName, PartyId,
    PartyType, PersonName, PlaceRect, ProviderName, Reason, SealAppearance, SealId, SignMethod,
    SignatureImage, TemplateId, TemplateVersion, Title, TransactionNo, UserAgent, VerificationId,
    WebUrl, WebhookHeaders,
};
use crate::{DomainEvent, Sensitive};

/// A signer as initiated; name, ID and mobile numbers are marked for encryption. Events written before
/// names were marked hold the name in clear, and still read.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SignerEntry {
    pub party_id: PartyId,
    pub party_type: PartyType,
    #[serde(deserialize_with = "Sensitive::marked_or_plain")]
    pub name: Sensitive<PersonName>,
    pub id_card_no: Sensitive<IdCardNumber>,
    pub mobile: Sensitive<MobileNumber>,
    pub sign_method: SignMethod,
    pub notify_type: NotifyType,
    pub sequence: u32,
    /// The lifetime the caller asked for this signer's links (`linkExpireMinutes`); absent when they
    /// take the configured default for `notifyType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_expire_minutes: Option<LinkTtl>,
    /// Set when the signer is an organisation: the person above (name, ID and mobile numbers)
    /// signs for it and passes the identity checks; the organisation's seal is applied. Absent for
    /// a person signing for themselves, and in every event written before organisations signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrganizationSigner>,
    /// Where the signer signs on the contract's uploaded documents, one place per document they
    /// sign; empty for a contract rendered from a template (its layout places every signer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<SignaturePlace>,
}

/// A PDF the caller uploaded for the contract. `uploadHash` is the SHA-256 of the bytes as
/// received (stored encrypted under it); `contentHash` is the SHA-256 of the first revision the
/// signers sign: those bytes with one update adding the signature fields, which esign rebuilds
/// from the upload and the places alone.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UploadedDocument {
    /// 1-based, in request order: the number `places` name.
    pub document: u32,
    pub name: DocumentName,
    pub upload_hash: Digest,
    pub content_hash: Digest,
    pub size_bytes: u64,
    pub page_count: u32,
}

/// Where one signer's signature (or seal) goes on an uploaded document: the rectangle on a page,
/// given by the caller or found over `anchor` text.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SignaturePlace {
    /// 1-based document number.
    pub document: u32,
    /// 1-based page number.
    pub page: u32,
    pub rect: PlaceRect,
    /// The text the place was found over, when it was given by anchor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<AnchorText>,
}

/// The organisation a signer signs for, and the seal applied in its name, pinned to the seal
/// version (and its image's SHA-256) current at initiation, so the document is reproducible.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationSigner {
    pub name: OrganizationName,
    pub credit_code: CreditCode,
    pub agent_role: AgentRole,
    pub appearance: SealAppearance,
    pub seal_id: SealId,
    pub seal_version: u32,
    pub seal_image_hash: Digest,
}

/// One signature of a sealed document: a signer's (with their event certificate) or, with no
/// `partyId`, the platform seal.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SealSignature {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party_id: Option<PartyId>,
    pub certificate_serial: CertificateSerial,
    pub issuer: LongText,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// The incremental revision a signer's signature was made in, at the moment they signed: the
/// document as it stood (`previousHash`: the unsigned first revision for the first signer, else the
/// revision of the signer before) with their signature appended (`documentHash`), the certificate
/// issued for it, and the RFC 3161 time its signature timestamp proves (absent when no timestamp
/// authority answered: the signature then has no time of its own, and the document's later
/// timestamps prove it existed by theirs).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SignedRevision {
    pub document_hash: Digest,
    pub previous_hash: Digest,
    pub certificate: SealSignature,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_authority: Option<LongText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamped_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum ContractEvent {
    /// The contract exists, in CREATED; its sign links follow as `SignLinkIssued`, one per signer.
    /// Its document is rendered from a template version (`templateId`, `templateVersion`,
    /// `variables`, `previewHash`) or is the caller's own (`documents`): one or the other.
    ContractInitiated {
        contract_id: ContractId,
        client_id: ClientId,
        biz_id: BizId,
        biz_type: ContractBizType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template_id: Option<TemplateId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template_version: Option<TemplateVersion>,
        title: Title,
        #[serde(default)]
        variables: BTreeMap<VariableKey, String>,
        /// The hash of the rendered preview, so later steps can prove what was shown.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preview_hash: Option<Digest>,
        /// The caller's own documents, in request order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        documents: Vec<UploadedDocument>,
        signers: Vec<SignerEntry>,
        callback_url: WebUrl,
        #[serde(default)]
        webhook_headers: WebhookHeaders,
        /// Providers to archive with once SIGNED; empty when the caller asked for no archiving.
        #[serde(default)]
        archive_providers: Vec<ArchiveProvider>,
        /// The id the archive record will have (the initiate response names it); absent without
        /// archiving, and in events written before ids were assigned at initiation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        archive_id: Option<ArchiveId>,
        /// The ids of the other providers' records, in `archiveProviders` order after the first
        /// (whose id is `archiveId`); absent with one provider or none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        other_archive_ids: Vec<ArchiveId>,
        expires_at: DateTime<Utc>,
        created_at: DateTime<Utc>,
    },
    /// A signer's one-time link; any earlier link of the signer is dead from now on. The token itself
    /// is never stored, only its hash.
    SignLinkIssued {
        party_id: PartyId,
        link_id: LinkId,
        token_hash: Digest,
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    SignLinkOpened {
        party_id: PartyId,
        link_id: LinkId,
        ip_address: IpAddr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_agent: Option<UserAgent>,
        opened_at: DateTime<Utc>,
    },
    /// A code went to the signer's mobile; only its keyed hash is kept.
    SmsCodeSent {
        party_id: PartyId,
        link_id: LinkId,
        code_hash: Digest,
        expires_at: DateTime<Utc>,
        sent_at: DateTime<Utc>,
    },
    SmsCodeVerified {
        party_id: PartyId,
        link_id: LinkId,
        verified_at: DateTime<Utc>,
    },
    /// A wrong code; `locked` once `failedAttempts` reaches the limit.
    SmsCodeFailed {
        party_id: PartyId,
        link_id: LinkId,
        failed_attempts: u32,
        locked: bool,
        failed_at: DateTime<Utc>,
    },
    /// A SUCCESS face verification whose name and ID number match the signer (spec 4.2.1).
    SignerFaceVerified {
        party_id: PartyId,
        link_id: LinkId,
        verification_id: VerificationId,
        verified_at: DateTime<Utc>,
    },
    /// A CA certificate valid now and issued to the signer.
    SignerCertificateVerified {
        party_id: PartyId,
        link_id: LinkId,
        serial_number: CertificateSerial,
        issuer: LongText,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        verified_at: DateTime<Utc>,
    },
    /// The signer signed; their link is used. `signatureImage` is the PNG they drew, sealed as
    /// personal data (absent in events written before images were kept, and when nothing was
    /// drawn); `signatureImageHash` is the SHA-256 of its bytes. `revision` is the document revision their PAdES signature was made
    /// in then (absent in events written when signatures were made at sealing).
    SignerSigned {
        party_id: PartyId,
        link_id: LinkId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature_image: Option<Sensitive<SignatureImage>>,
        /// Absent only when nothing was drawn: an organisation signer whose appearance is the
        /// seal alone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature_image_hash: Option<Digest>,
        ip_address: IpAddr,
        device_info: DeviceInfo,
        transaction_no: TransactionNo,
        signed_at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revision: Option<SignedRevision>,
    },
    /// The scheduler found the signer's link past its deadline. `expiredAt` is the deadline itself; the
    /// signer stays PENDING and the initiator may issue a new link.
    SignLinkExpired {
        party_id: PartyId,
        link_id: LinkId,
        expired_at: DateTime<Utc>,
    },
    /// The signer refused; their link is used and the contract is rejected with the next event.
    SignerRejected {
        party_id: PartyId,
        link_id: LinkId,
        reason: Reason,
        ip_address: IpAddr,
        rejected_at: DateTime<Utc>,
    },
    /// CREATED -> PARTIAL_SIGNED: the first of several signatures.
    ContractPartiallySigned { signed_at: DateTime<Utc> },
    /// -> SIGNED: the last signature.
    ContractSigned { signed_at: DateTime<Utc> },
    /// -> REJECTED, by the named signer.
    ContractRejected {
        party_id: PartyId,
        rejected_at: DateTime<Utc>,
    },
    /// -> REVOKED by the initiator, before SIGNED.
    ContractRevoked {
        reason: Reason,
        operator: Operator,
        revoked_at: DateTime<Utc>,
    },
    /// -> EXPIRED; `expiredAt` is the deadline itself, not when the scheduler noticed.
    ContractExpired { expired_at: DateTime<Utc> },
    /// -> EXPIRED or REVOKED by an administrator (spec 4.2.4), from CREATED or PARTIAL_SIGNED, at any
    /// time: its own event, so the audit trail shows the transition was forced, by whom and why.
    ContractForced {
        status: super::ForcedStatus,
        reason: Reason,
        operator: Operator,
        admin: ClientId,
        forced_at: DateTime<Utc>,
    },
    /// The final document (signatures, timestamps) of a SIGNED contract and its SHA-256.
    /// `contentHash` is the SHA-256 of its first revision, the unsigned document rendered from the
    /// events alone: rendering again gives those bytes, and the final file starts with them.
    DocumentSealed {
        document_hash: Digest,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_hash: Option<Digest>,
        /// Each signature in the document, the platform seal last.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        signatures: Vec<SealSignature>,
        /// Who timestamped the platform seal, and the time it vouches for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp_authority: Option<LongText>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamped_at: Option<DateTime<Utc>>,
        /// The time the closing document timestamp proves (absent in events written before the
        /// document was closed with one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        document_timestamped_at: Option<DateTime<Utc>>,
        /// When the certificate of the authority behind that document timestamp expires: the
        /// document is closed again before then (absent in earlier events).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        document_timestamp_valid_until: Option<DateTime<Utc>>,
        sealed_at: DateTime<Utc>,
    },
    /// The sealed document closed again before its last document timestamp's authority
    /// certificate expires: fresh validation data and a new document timestamp, appended as an
    /// incremental update to `previousHash` (which stays a valid earlier version: a prefix of the
    /// new file).
    DocumentTimestampRenewed {
        previous_hash: Digest,
        document_hash: Digest,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp_authority: Option<LongText>,
        document_timestamped_at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        document_timestamp_valid_until: Option<DateTime<Utc>>,
        renewed_at: DateTime<Utc>,
    },
    /// An archive attempt with one provider (`attempt` counts attempts since the first request or
    /// the last `ArchiveRetryOrdered`).
    ArchiveRequested {
        archive_id: ArchiveId,
        provider: ArchiveProvider,
        document_hash: Digest,
        attempt: u32,
        requested_at: DateTime<Utc>,
    },
    ArchiveSucceeded {
        archive_id: ArchiveId,
        provider: ArchiveProvider,
        transaction_no: TransactionNo,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        certificate_url: Option<LongText>,
        /// The timestamp authority or ledger that vouches for the record.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        authority: Option<LongText>,
        /// What a verifier needs to check the record again (a timestamp token, a Merkle proof).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<serde_json::Value>,
        archived_at: DateTime<Utc>,
    },
    /// The contract stays SIGNED; a later `ArchiveRequested` retries.
    ArchiveFailed {
        archive_id: ArchiveId,
        provider: ArchiveProvider,
        reason: Reason,
        failed_at: DateTime<Utc>,
    },
    /// Spec 4.1.2 step 2: the signer is notified by SMS and their turn came with the live link
    /// `linkId` (at initiation, when the sequence before them completed, or with a new link): a text
    /// carrying a short link to it is due. Attempt 1 starts now; the text goes out after the commit.
    /// Neither the token nor the short code is ever recorded.
    SmsInvitationRequested {
        party_id: PartyId,
        link_id: LinkId,
        requested_at: DateTime<Utc>,
    },
    /// Another attempt of the invitation: the previous one failed and its retry is due, or it had no
    /// outcome within its lease (`previousLost`).
    SmsInvitationAttemptStarted {
        party_id: PartyId,
        link_id: LinkId,
        attempt: u32,
        previous_lost: bool,
        started_at: DateTime<Utc>,
    },
    /// The SMS sender accepted the invitation text.
    SmsInvitationSent {
        party_id: PartyId,
        link_id: LinkId,
        attempt: u32,
        sender: ProviderName,
        message_id: LongText,
        sent_at: DateTime<Utc>,
    },
    /// An attempt failed; `nextAttemptAt` is when the next may start, or absent when none will.
    SmsInvitationFailed {
        party_id: PartyId,
        link_id: LinkId,
        attempt: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender: Option<ProviderName>,
        reason: Reason,
        retryable: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_attempt_at: Option<DateTime<Utc>>,
        failed_at: DateTime<Utc>,
    },
    /// An operator ordered a failed archive record tried again (spec 6, 50003: 人工介入补存): its
    /// attempts start again from zero, and the next `ArchiveRequested` is attempt 1.
    ArchiveRetryOrdered {
        archive_id: ArchiveId,
        provider: ArchiveProvider,
        operator: Operator,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
        /// The attempts made before the order, all failed.
        attempts_before: u32,
        ordered_at: DateTime<Utc>,
    },
}

impl DomainEvent for ContractEvent {
    fn event_type(&self) -> &'static str {
        match self {
            ContractEvent::ContractInitiated { .. } => "ContractInitiated",
            ContractEvent::SignLinkIssued { .. } => "SignLinkIssued",
            ContractEvent::SignLinkOpened { .. } => "SignLinkOpened",
            ContractEvent::SmsCodeSent { .. } => "SmsCodeSent",
            ContractEvent::SmsCodeVerified { .. } => "SmsCodeVerified",
            ContractEvent::SmsCodeFailed { .. } => "SmsCodeFailed",
            ContractEvent::SignerFaceVerified { .. } => "SignerFaceVerified",
            ContractEvent::SignerCertificateVerified { .. } => "SignerCertificateVerified",
            ContractEvent::SignerSigned { .. } => "SignerSigned",
            ContractEvent::SignLinkExpired { .. } => "SignLinkExpired",
            ContractEvent::SignerRejected { .. } => "SignerRejected",
            ContractEvent::ContractPartiallySigned { .. } => "ContractPartiallySigned",
            ContractEvent::ContractSigned { .. } => "ContractSigned",
            ContractEvent::ContractRejected { .. } => "ContractRejected",
            ContractEvent::ContractRevoked { .. } => "ContractRevoked",
            ContractEvent::ContractExpired { .. } => "ContractExpired",
            ContractEvent::ContractForced { .. } => "ContractForced",
            ContractEvent::DocumentSealed { .. } => "DocumentSealed",
            ContractEvent::DocumentTimestampRenewed { .. } => "DocumentTimestampRenewed",
            ContractEvent::ArchiveRequested { .. } => "ArchiveRequested",
            ContractEvent::ArchiveSucceeded { .. } => "ArchiveSucceeded",
            ContractEvent::ArchiveFailed { .. } => "ArchiveFailed",
            ContractEvent::SmsInvitationRequested { .. } => "SmsInvitationRequested",
            ContractEvent::SmsInvitationAttemptStarted { .. } => "SmsInvitationAttemptStarted",
            ContractEvent::SmsInvitationSent { .. } => "SmsInvitationSent",
            ContractEvent::SmsInvitationFailed { .. } => "SmsInvitationFailed",
            ContractEvent::ArchiveRetryOrdered { .. } => "ArchiveRetryOrdered",
        }
    }

    fn schema_version(&self) -> u32 {
        1
    }
}
