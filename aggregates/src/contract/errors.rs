//! Why a Contract command is refused, grouped by how the caller reacts.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::errors::{ErrorKind, ValidationErrors};
use crate::values::{
    ArchiveId, ArchiveProvider, ArchiveStatus, ContractId, ContractStatus, LinkId, PartyId,
    SignMethod, SignStatus, TemplateId, TemplateVersion, VerificationStatus,
};

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ContractError {
    #[error(transparent)]
    Invalid(ValidationErrors),
    /// The stream exists already: the service answers with it (40002).
    #[error("contract {0} already exists")]
    Duplicate(ContractId),
    #[error(transparent)]
    TemplateUnavailable(TemplateUnavailable),
    /// The link timed out or was replaced by a newer one (re-issuing kills the old link).
    #[error("the sign link of {party_id} has expired or was replaced; request a new one")]
    LinkExpired { party_id: PartyId },
    /// The signer has already decided, so the link is spent.
    #[error("the sign link of {party_id} is used (the signer is {status})")]
    LinkUsed {
        party_id: PartyId,
        status: SignStatus,
    },
    #[error("identity check of {party_id} failed: {failure}")]
    IdentityFailed {
        party_id: PartyId,
        failure: IdentityFailure,
    },
    #[error(transparent)]
    Conflict(ContractConflict),
    #[error(transparent)]
    NotFound(ContractNotFound),
}

impl ContractError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ContractError::Invalid(_) => ErrorKind::Validation,
            ContractError::Duplicate(_) => ErrorKind::Duplicate,
            ContractError::TemplateUnavailable(_) => ErrorKind::TemplateUnavailable,
            ContractError::LinkExpired { .. } => ErrorKind::LinkExpired,
            ContractError::LinkUsed { .. } => ErrorKind::LinkUsed,
            ContractError::IdentityFailed { .. } => ErrorKind::IdentityFailed,
            ContractError::Conflict(_) => ErrorKind::Conflict,
            ContractError::NotFound(_) => ErrorKind::NotFound,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateUnavailable {
    #[error("template {template_id} has no such version")]
    NotFound {
        template_id: TemplateId,
        version: Option<TemplateVersion>,
    },
    #[error("template {template_id} version {version} is not active")]
    Inactive {
        template_id: TemplateId,
        version: TemplateVersion,
    },
}

/// A check of who the signer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdentityCheck {
    Face,
    Sms,
    CaCertificate,
}

impl fmt::Display for IdentityCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdentityCheck::Face => "face verification",
            IdentityCheck::Sms => "SMS code",
            IdentityCheck::CaCertificate => "CA certificate",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityFailure {
    #[error("the face verification is {0}, not SUCCESS")]
    FaceNotPassed(VerificationStatus),
    /// Spec 4.2.1: the verified person must be the signer. Names the fields that differ (`name`,
    /// `idCardNo`).
    #[error("the {} does not match the signer's", .fields.join(" and "))]
    Mismatch { fields: Vec<&'static str> },
    #[error("the certificate is not valid at this time")]
    CertificateNotValid,
    /// A CA_CERT signer's revision is signed with another certificate than the one verified
    /// through the link.
    #[error("the signature is made with another certificate than the one verified")]
    OtherCertificate,
    #[error("still missing: {}", list(.0))]
    ChecksMissing(Vec<IdentityCheck>),
}

fn list(checks: &[IdentityCheck]) -> String {
    checks
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContractConflict {
    /// REJECTED, REVOKED and EXPIRED absorb every command; SIGNED refuses signing steps, revocation and
    /// expiry (spec 2.1.2: revoking a signed contract is a 409).
    #[error("the contract is {0}")]
    Final(ContractStatus),
    /// Sealing and archiving need a SIGNED contract (spec 4.2.5).
    #[error("the contract is {0}, not SIGNED")]
    NotSigned(ContractStatus),
    /// Spec 4.2.2: everyone with a lower sequence signs first.
    #[error("{party_id} must wait until {} have signed", .waiting_for.iter().map(PartyId::as_str).collect::<Vec<_>>().join(", "))]
    OutOfOrder {
        party_id: PartyId,
        waiting_for: Vec<PartyId>,
    },
    #[error("the contract does not expire before {expires_at}")]
    NotYetDue { expires_at: DateTime<Utc> },
    #[error("the contract's deadline {expires_at} has passed")]
    PastDeadline { expires_at: DateTime<Utc> },
    #[error("a signer with {sign_method} does not use the {check} check")]
    CheckNotApplicable {
        sign_method: SignMethod,
        check: IdentityCheck,
    },
    #[error("too many wrong SMS codes on this link; a new sign link is needed")]
    SmsLocked,
    #[error("no SMS code has been sent on this link")]
    NoSmsCodeSent,
    #[error("the SMS code has expired; request a new one")]
    SmsCodeExpired,
    #[error("an SMS code was sent moments ago; another may be sent from {resend_at}")]
    SmsResendTooSoon { resend_at: DateTime<Utc> },
    #[error("link {link_id} was issued with another token")]
    LinkIdReused { link_id: LinkId },
    #[error("the document is already sealed with another hash")]
    DocumentAlreadySealed,
    /// Another renewal of the sealed document was recorded first.
    #[error("the renewal was appended to an earlier version of the document")]
    StaleDocument,
    /// Two signers of the same sequence signed at once: the second revision was made on the
    /// document before the first, and must be made again on the current one.
    #[error("the signature was made on an earlier revision of the document")]
    StaleRevision,
    #[error("the document is not sealed yet")]
    DocumentNotSealed,
    #[error("the {provider} archive of this contract has id {archive_id}")]
    ArchiveIdMismatch {
        provider: ArchiveProvider,
        archive_id: ArchiveId,
    },
    #[error("the {provider} archive is {status}, not PENDING")]
    ArchiveNotPending {
        provider: ArchiveProvider,
        status: ArchiveStatus,
    },
    /// Only a failed record can be ordered tried again.
    #[error("the {provider} archive is {status}, not FAILED")]
    ArchiveNotFailed {
        provider: ArchiveProvider,
        status: ArchiveStatus,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContractNotFound {
    #[error("contract not found")]
    Contract,
    #[error("signer {0} not found")]
    Signer(PartyId),
    #[error("no {0} archive was requested")]
    Archive(ArchiveProvider),
}
