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

impl PdfValidation {
    /// For each of [`Self::signatures`], in the same order: whether `pdf` (the bytes this
    /// validation read) carries long-term validation data for it (PAdES B-LT): a document security
    /// store (`/DSS` in a catalog) holding certificates and revocation data (CRLs or OCSP
    /// responses), added in an incremental update after the signature's signed range, where it can
    /// serve that signature.
    ///
    /// This says the data is present, not that it is complete or current: the certificates and
    /// responses in the store are not matched against each signature's chain. A store kept inside a
    /// compressed object stream is not read (as everywhere in this scanner) and counts as absent.
    pub fn long_term_validation_data(&self, pdf: &[u8]) -> Vec<bool> {
        let stores = document_security_stores(pdf);
        self.signatures
            .iter()
            .map(|signature| {
                let Some(covered_end) = signature
                    .byte_range
                    .and_then(|[_, _, start, length]| start.checked_add(length))
                else {
                    return false;
                };
                stores.iter().any(|added_at| *added_at >= covered_end)
            })
            .collect()
    }
}

/// The offsets of the catalogs whose `/DSS` holds certificates and revocation data.
fn document_security_stores(pdf: &[u8]) -> Vec<usize> {
    if !pdf.windows(4).any(|window| window == b"/DSS") {
        return Vec::new();
    }
    let scan = syntax::scan(pdf);
    let resolve = |object: &'_ syntax::Object| -> Option<syntax::Object> {
        match object.as_reference() {
            Some((number, generation)) => scan
                .objects
                .iter()
                .rev()
                .find(|candidate| candidate.number == number && candidate.generation == generation)
                .map(|found| found.value.clone()),
            None => Some(object.clone()),
        }
    };
    let non_empty = |store: &syntax::Dictionary, key: &[u8]| {
        store
            .get(key)
            .and_then(&resolve)
            .is_some_and(|value| matches!(value, syntax::Object::Array(items) if !items.is_empty()))
    };
    scan.objects
        .iter()
        .filter_map(|object| {
            let catalog = object.value.as_dictionary()?;
            if catalog.get(b"Type")?.as_name()? != b"Catalog" {
                return None;
            }
            let store = resolve(catalog.get(b"DSS")?)?;
            let store = store.as_dictionary()?;
            let complete = non_empty(store, b"Certs")
                && (non_empty(store, b"CRLs") || non_empty(store, b"OCSPs"));
            complete.then_some(object.start)
        })
        .collect()
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

    /// An incremental update after `pdf`: a new catalog whose `/DSS` is `store`.
    fn with_store(pdf: &[u8], store: &str) -> Vec<u8> {
        let mut updated = pdf.to_vec();
        updated.extend_from_slice(
            format!(
                "\n90 0 obj\n<< /Type /Catalog /Pages 2 0 R /DSS 91 0 R >>\nendobj\n\
                 91 0 obj\n{store}\nendobj\n92 0 obj\n[93 0 R]\nendobj\n"
            )
            .as_bytes(),
        );
        updated
    }

    #[test]
    fn long_term_validation_data_is_a_store_with_certificates_and_revocation_after_the_signature() {
        let now = chrono::Utc::now();
        let ca = super::super::fixtures::new_ca("esign", now);
        let signed = super::super::fixtures::signed_by(&ca, now);
        let anchors = [ca.root().clone()];
        let check = |pdf: &[u8]| validate_pdf(pdf, &anchors, None).long_term_validation_data(pdf);
        assert_eq!(check(&signed), [false], "no /DSS at all");
        let complete = with_store(&signed, "<< /Certs [93 0 R] /OCSPs [94 0 R] >>");
        assert_eq!(check(&complete), [true]);
        let by_reference = with_store(&signed, "<< /Certs 92 0 R /CRLs [95 0 R] >>");
        assert_eq!(check(&by_reference), [true], "arrays may be indirect");
        let no_revocation = with_store(&signed, "<< /Certs [93 0 R] >>");
        assert_eq!(
            check(&no_revocation),
            [false],
            "certificates alone are not enough"
        );
        let empty = with_store(&signed, "<< /Certs [] /CRLs [] >>");
        assert_eq!(check(&empty), [false]);
        // A store inside the signed range was there before the signature: it cannot cover it.
        let store_first = with_store(b"%PDF-1.7\n", "<< /Certs [93 0 R] /OCSPs [94 0 R] >>");
        let mut before = store_first.clone();
        before.extend_from_slice(&signed[b"%PDF-1.7\n".len().min(signed.len())..]);
        let result = validate_pdf(&before, &anchors, None);
        assert!(
            result
                .long_term_validation_data(&before)
                .iter()
                .all(|covered| !covered),
            "{result:?}"
        );
    }
}
