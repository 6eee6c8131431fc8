//! What validating a signed PDF found, for each signature and for the document, with the stable
//! problem codes API clients read.

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::syntax;

/// What [`validate_pdf`](super::validate_pdf) found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PdfValidation {
    /// Every signature valid, and the last one covers the whole file.
    pub valid: bool,
    /// In file order of the revisions they sign.
    pub signatures: Vec<SignatureValidation>,
    /// Why the document as a whole is not valid (empty when it is).
    pub problems: Vec<DocumentProblem>,
    /// Bytes follow the last signature's signed range (an update nobody signed).
    pub modified_after_signing: bool,
    /// The SHA-256 of the whole file, as `FILE_HASH` verification compares it.
    pub document_sha256_hex: String,
}

/// One signature dictionary and what checking it found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureValidation {
    pub kind: SignatureKind,
    /// The signature field's full name (`Signer_<partyId>`, `PlatformSeal`), when found.
    pub field_name: Option<String>,
    /// `/Name`: who the signer says they are.
    pub name: Option<String>,
    /// `/Reason`.
    pub reason: Option<String>,
    /// `/Location`.
    pub location: Option<String>,
    /// `/M`: the signing time the signer claims (the trusted time is the timestamp's).
    pub claimed_signing_time: Option<DateTime<Utc>>,
    /// `/SubFilter`, e.g. `ETSI.CAdES.detached`.
    pub sub_filter: Option<String>,
    /// `/ByteRange` as written, when it is four non-negative integers.
    pub byte_range: Option<[usize; 4]>,
    /// The signer's certificate (the TSA's for a document timestamp).
    pub signer: Option<CertificateFacts>,
    /// The signed range reaches the end of the file.
    pub covers_whole_document: bool,
    /// The signature timestamp (or the document timestamp itself), when one verified.
    pub timestamp: Option<TimestampFacts>,
    /// The time the certificate was checked at, and where that time came from.
    pub checked_at: Option<CheckedTime>,
    pub valid: bool,
    pub problems: Vec<SignatureProblem>,
}

/// A CMS signature (`/Type /Sig`) or an RFC 3161 document timestamp (`/Type /DocTimeStamp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SignatureKind {
    Signature,
    DocumentTimestamp,
}

/// What a certificate says about its holder and issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateFacts {
    pub subject_common_name: Option<String>,
    /// The subject's serialNumber attribute (esign's event certificates: the masked ID number).
    pub subject_serial_number: Option<String>,
    pub subject_organization: Option<String>,
    pub issuer_common_name: Option<String>,
    pub issuer_organization: Option<String>,
    /// The certificate serial number, hex.
    pub serial_hex: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// A timestamp token that verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimestampFacts {
    /// genTime.
    pub time: DateTime<Utc>,
    /// The TSA: the token's `tsa` name when given, else its certificate's common name.
    pub authority: String,
    pub serial_hex: String,
}

/// The time a certificate's validity was checked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckedTime {
    pub time: DateTime<Utc>,
    pub basis: TimeBasis,
}

/// Where [`CheckedTime::time`] came from, most trusted first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeBasis {
    /// A verified timestamp's genTime.
    Timestamp,
    /// The time the caller asked for.
    Requested,
    /// The signer's own `/M`, for want of anything better.
    ClaimedSigningTime,
}

/// Why one signature is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    #[error("the byte range is malformed: {0}")]
    ByteRange(String),
    #[error("the signature dictionary is malformed: {0}")]
    Dictionary(String),
    #[error("the signature format {0:?} is not supported")]
    UnsupportedFormat(String),
    #[error("the signature container cannot be read: {0}")]
    Container(String),
    #[error("the signer's certificate is not in the signature")]
    SignerCertificateMissing,
    #[error(
        "the signed bytes do not match the signature's message digest: the document was changed after signing"
    )]
    DigestMismatch,
    #[error("the signature does not verify: {0}")]
    BadSignature(String),
    #[error("the signature has no signing-certificate-v2 attribute")]
    SigningCertificateMissing,
    #[error("the signing-certificate-v2 attribute does not name the signer's certificate")]
    SigningCertificateMismatch,
    #[error("the signer's certificate does not allow signing documents")]
    KeyUsage,
    #[error("the signature timestamp does not verify: {0}")]
    Timestamp(String),
    #[error("no time to check the certificate at: no timestamp, no requested time, no /M")]
    NoValidationTime,
    #[error("the signer's certificate was not valid at {at} (valid {not_before} to {not_after})")]
    CertificateNotValidAt {
        at: DateTime<Utc>,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
    },
    #[error("the signer's certificate does not chain to a trusted root: {0}")]
    Untrusted(String),
}

impl SignatureProblem {
    /// A stable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ByteRange(_) => "BYTE_RANGE",
            Self::Dictionary(_) => "SIGNATURE_DICTIONARY",
            Self::UnsupportedFormat(_) => "UNSUPPORTED_FORMAT",
            Self::Container(_) => "SIGNATURE_CONTAINER",
            Self::SignerCertificateMissing => "SIGNER_CERTIFICATE_MISSING",
            Self::DigestMismatch => "DIGEST_MISMATCH",
            Self::BadSignature(_) => "BAD_SIGNATURE",
            Self::SigningCertificateMissing => "SIGNING_CERTIFICATE_MISSING",
            Self::SigningCertificateMismatch => "SIGNING_CERTIFICATE_MISMATCH",
            Self::KeyUsage => "KEY_USAGE",
            Self::Timestamp(_) => "TIMESTAMP",
            Self::NoValidationTime => "NO_VALIDATION_TIME",
            Self::CertificateNotValidAt { .. } => "CERTIFICATE_NOT_VALID_AT_TIME",
            Self::Untrusted(_) => "UNTRUSTED_CERTIFICATE",
        }
    }
}

/// Why the document as a whole is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentProblem {
    #[error("the file is not a PDF")]
    NotAPdf,
    #[error("the document carries no signature")]
    NoSignatures,
    /// Said when no signature was found, in case one hid in what could not be read.
    #[error("{objects} objects cannot be read; the first: {first}")]
    Unreadable {
        objects: usize,
        first: syntax::SyntaxError,
    },
    #[error("signature {index} ({field}) is not valid")]
    InvalidSignature { index: usize, field: String },
    #[error("{unsigned_bytes} bytes were added after the last signature")]
    ModifiedAfterSigning { unsigned_bytes: usize },
}

impl DocumentProblem {
    /// A stable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAPdf => "NOT_A_PDF",
            Self::NoSignatures => "NO_SIGNATURES",
            Self::Unreadable { .. } => "UNREADABLE_OBJECTS",
            Self::InvalidSignature { .. } => "INVALID_SIGNATURE",
            Self::ModifiedAfterSigning { .. } => "MODIFIED_AFTER_SIGNING",
        }
    }
}

/// Problems serialize as `{"code": ..., "message": ...}`.
fn serialize_problem<S: Serializer>(
    serializer: S,
    code: &str,
    message: String,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut state = serializer.serialize_struct("Problem", 2)?;
    state.serialize_field("code", code)?;
    state.serialize_field("message", &message)?;
    state.end()
}

impl Serialize for SignatureProblem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_problem(serializer, self.code(), self.to_string())
    }
}

impl Serialize for DocumentProblem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_problem(serializer, self.code(), self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::validate::validate_pdf;

    #[test]
    fn results_serialize_problems_with_codes() {
        let result = validate_pdf(b"not a pdf", &[], None);
        assert_eq!(result.problems, [DocumentProblem::NotAPdf]);
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["valid"], false);
        assert_eq!(json["problems"][0]["code"], "NOT_A_PDF");
        assert_eq!(json["problems"][0]["message"], "the file is not a PDF");
    }
}
