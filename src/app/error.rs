//! The one error of the use cases: why something a caller, a signer or an operator asked for did
//! not happen, grouped by how they must react. The HTTP edge maps it to the spec's codes (section
//! 6) in one place; nothing here knows of status codes.

use aggregates::{ErrorKind, ValidationErrors};
use serde_json::Value;

use super::pipeline::CommandError;
use crate::pii::PiiError;
use crate::store::StoreError;

/// Why a use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid request: {0}")]
    Validation(ValidationErrors),
    /// The `bizId` + `bizType` exists: the existing resource is returned beside the code.
    #[error("duplicate business id")]
    Duplicate { existing: Value },
    #[error("template unavailable")]
    TemplateUnavailable,
    #[error("sign link expired")]
    LinkExpired,
    #[error("sign link used")]
    LinkUsed,
    #[error("identity check failed")]
    IdentityFailed,
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// No face provider could take the task (spec 6, 50001). The verification exists; the service
    /// retries in the background, and the caller can poll it by `verificationId`.
    #[error("face providers unavailable for verification {verification_id}")]
    ProviderUnavailable { verification_id: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Validation(ValidationErrors::single(field, reason))
    }

    /// A failure the caller cannot act on; the cause is logged at the edge, never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// Maps a refused command by how its caller must react (see docs/domain.md).
    pub fn from_domain(
        kind: ErrorKind,
        error: &dyn std::error::Error,
        invalid: Option<&ValidationErrors>,
    ) -> Self {
        match kind {
            ErrorKind::Validation => Self::Validation(
                invalid
                    .cloned()
                    .unwrap_or_else(|| ValidationErrors::single("body", error)),
            ),
            // Duplicates are found by look-up before a command runs; one that reaches the domain had no
            // row to answer with.
            ErrorKind::Duplicate => Self::Conflict(error.to_string()),
            ErrorKind::TemplateUnavailable => Self::TemplateUnavailable,
            ErrorKind::LinkExpired => Self::LinkExpired,
            ErrorKind::LinkUsed => Self::LinkUsed,
            ErrorKind::IdentityFailed => Self::IdentityFailed,
            ErrorKind::Conflict => Self::Conflict(error.to_string()),
            ErrorKind::NotFound => Self::NotFound,
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            StoreError::WrongExpectedVersion { .. } => Self::Conflict(error.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<PiiError> for AppError {
    fn from(error: PiiError) -> Self {
        Self::Internal(error.to_string())
    }
}

/// Domain errors that can say how a caller reacts.
pub trait DomainFailure: std::error::Error {
    fn kind(&self) -> ErrorKind;
    fn validation(&self) -> Option<&ValidationErrors>;
}

macro_rules! domain_failure {
    ($($error:ty),*) => {$(
        impl DomainFailure for $error {
            fn kind(&self) -> ErrorKind {
                <$error>::kind(self)
            }
            fn validation(&self) -> Option<&ValidationErrors> {
                match self {
                    Self::Invalid(errors) => Some(errors),
                    _ => None,
                }
            }
        }
    )*};
}

domain_failure!(
    aggregates::contract::ContractError,
    aggregates::face_verification::VerificationError,
    aggregates::template::TemplateError,
    aggregates::sms_template::SmsTemplateError,
    aggregates::sms_notice::SmsNoticeError,
    aggregates::certificate_revocation::RevocationError,
    aggregates::organization::OrganizationError,
    aggregates::seal::SealError
);

impl<E: DomainFailure + 'static> From<CommandError<E>> for AppError {
    fn from(error: CommandError<E>) -> Self {
        match error {
            CommandError::Domain(domain) => {
                Self::from_domain(domain.kind(), &domain, domain.validation())
            }
            CommandError::Store(store) => store.into(),
            CommandError::Contended(stream) => {
                Self::Conflict(format!("stream {stream} is busy; retry"))
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_refusals_map_by_how_the_caller_reacts() {
        let error = std::io::Error::other("refused");
        let mapped = |kind| AppError::from_domain(kind, &error, None);
        assert!(matches!(
            mapped(ErrorKind::LinkExpired),
            AppError::LinkExpired
        ));
        assert!(matches!(mapped(ErrorKind::LinkUsed), AppError::LinkUsed));
        assert!(matches!(
            mapped(ErrorKind::IdentityFailed),
            AppError::IdentityFailed
        ));
        assert!(matches!(
            mapped(ErrorKind::TemplateUnavailable),
            AppError::TemplateUnavailable
        ));
        assert!(matches!(mapped(ErrorKind::Conflict), AppError::Conflict(_)));
        assert!(matches!(mapped(ErrorKind::NotFound), AppError::NotFound));
        assert!(matches!(
            mapped(ErrorKind::Validation),
            AppError::Validation(_)
        ));
    }
}
