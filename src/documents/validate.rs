//! Validation of a signed PDF (spec 2.1.2 item 4, "协议验真"): every signature dictionary in every
//! incremental update is found and checked on its own (byte range, CMS signature over the covered
//! bytes, signing-certificate-v2, chain to a trust anchor, certificate validity, signature
//! timestamp), then the document as a whole (the last signature covers the whole file, nothing was
//! appended after it).
//!
//! The file is read by a small tolerant scanner of indirect objects rather than through its
//! cross-reference tables: a signature dictionary always sits in the file as a plain object (its
//! `/Contents` must be at a byte offset), so scanning finds it even when the tables are damaged.
//! Objects inside compressed object streams are not read; field names kept there are reported as
//! unknown. Changes made by later incremental updates are not compared against what the earlier
//! signers allowed (no DocMDP analysis): each signature vouches for the revision it covers.
//!
//! Nothing here panics on any input: every offset is checked, nesting is bounded, and the scanner
//! reads each byte a bounded number of times.

use std::time::Duration;

use ::cms::cert::CertificateChoices;
use ::cms::content_info::ContentInfo;
use ::cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode, Tag, Tagged};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages, SubjectKeyIdentifier};
use x509_cert::name::Name;

use crate::trust::cms::{self, SigningCertificateV2};
use crate::trust::oid;
use crate::trust::tsa;

/// id-aa-signatureTimeStampToken (RFC 3161 appendix A): an unsigned attribute holding a timestamp
/// token over the SignerInfo's signature value.
pub const SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");

/// Deeper nesting than this in one object is refused (no real document comes close).
const MAX_NESTING: usize = 32;
/// Parent links followed to build a field's full name.
const MAX_FIELD_DEPTH: usize = 16;

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

/// What [`validate_pdf`] found.
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

// ---------------------------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------------------------

/// Validates every signature of `pdf` against `anchors` (the trusted roots). Certificates are
/// checked at a signature's verified timestamp when it has one, else at `at`, else at the signer's
/// claimed `/M` time (reported in [`SignatureValidation::checked_at`]).
pub fn validate_pdf(
    pdf: &[u8],
    anchors: &[Certificate],
    at: Option<DateTime<Utc>>,
) -> PdfValidation {
    let document_sha256_hex = hex::encode(Sha256::digest(pdf));
    let header = &pdf[..pdf.len().min(1024)];
    if !contains(header, b"%PDF-") {
        return PdfValidation {
            valid: false,
            signatures: Vec::new(),
            problems: vec![DocumentProblem::NotAPdf],
            modified_after_signing: false,
            document_sha256_hex,
        };
    }
    let scan = syntax::scan(pdf);
    let fields = FieldNames::new(&scan.objects);
    let mut signatures: Vec<(usize, SignatureValidation)> = scan
        .objects
        .iter()
        .filter_map(|object| {
            let dictionary = object.value.as_dictionary()?;
            is_signature_dictionary(dictionary).then(|| {
                let validation = check_signature(
                    pdf,
                    object,
                    dictionary,
                    fields.name_of(object.number, object.generation),
                    anchors,
                    at,
                );
                let covered_end = validation
                    .byte_range
                    .and_then(|[_, _, b, c]| b.checked_add(c))
                    .unwrap_or(object.end);
                (covered_end, validation)
            })
        })
        .collect();
    // Revisions in the order they were written: each signature's range ends where its update ends.
    signatures.sort_by_key(|(covered_end, _)| *covered_end);
    let last_covered_end = signatures.last().map(|(end, _)| *end);
    let signatures: Vec<SignatureValidation> = signatures
        .into_iter()
        .map(|(_, validation)| validation)
        .collect();

    let mut problems = Vec::new();
    let mut modified_after_signing = false;
    match (signatures.last(), last_covered_end) {
        (Some(last), Some(end)) => {
            for (index, signature) in signatures.iter().enumerate() {
                if !signature.valid {
                    problems.push(DocumentProblem::InvalidSignature {
                        index: index + 1,
                        field: signature
                            .field_name
                            .clone()
                            .unwrap_or_else(|| "unnamed field".to_owned()),
                    });
                }
            }
            // A last signature whose range could not be read is reported as such, not as an
            // addition.
            let range_broken = last.problems.iter().any(|problem| {
                matches!(
                    problem,
                    SignatureProblem::ByteRange(_) | SignatureProblem::Dictionary(_)
                )
            });
            if !last.covers_whole_document && !range_broken {
                modified_after_signing = true;
                problems.push(DocumentProblem::ModifiedAfterSigning {
                    unsigned_bytes: pdf.len().saturating_sub(end),
                });
            }
        }
        _ => {
            problems.push(DocumentProblem::NoSignatures);
            if let Some(first) = scan.first_error {
                problems.push(DocumentProblem::Unreadable {
                    objects: scan.unreadable,
                    first,
                });
            }
        }
    }
    PdfValidation {
        valid: problems.is_empty(),
        signatures,
        problems,
        modified_after_signing,
        document_sha256_hex,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle, 0).is_some()
}

/// The first index at or after `from` where `needle` starts.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|at| at + from)
}

/// A dictionary with `/ByteRange` and `/Contents` whose `/Type`, if any, is a signature's.
fn is_signature_dictionary(dictionary: &syntax::Dictionary) -> bool {
    let typed = match dictionary.get(b"Type") {
        None => true,
        Some(object) => matches!(object.as_name(), Some(b"Sig" | b"DocTimeStamp")),
    };
    typed && dictionary.get(b"ByteRange").is_some() && dictionary.get(b"Contents").is_some()
}

/// Field names by the signature dictionary their `/V` points to (the latest revision of each field
/// wins, as a reader would see it).
struct FieldNames<'a> {
    /// The last definition of every object, by number and generation.
    latest: std::collections::HashMap<(u32, u16), &'a syntax::Dictionary>,
}

impl<'a> FieldNames<'a> {
    fn new(objects: &'a [syntax::IndirectObject]) -> Self {
        let mut latest = std::collections::HashMap::new();
        for object in objects {
            if let Some(dictionary) = object.value.as_dictionary() {
                latest.insert((object.number, object.generation), dictionary);
            }
        }
        Self { latest }
    }

    fn name_of(&self, number: u32, generation: u16) -> Option<String> {
        // Sorted, so the answer does not depend on hash-map order when two fields claim one value.
        let mut candidates: Vec<(&(u32, u16), &&syntax::Dictionary)> = self
            .latest
            .iter()
            .filter(|(_, dictionary)| {
                dictionary.get(b"V").and_then(syntax::Object::as_reference)
                    == Some((number, generation))
            })
            .collect();
        candidates.sort_by_key(|(id, _)| **id);
        let (_, field) = candidates.first()?;
        self.full_name(field)
    }

    /// `parent.child` names up the `/Parent` links (ISO 32000-1 12.7.3.2).
    fn full_name(&self, field: &syntax::Dictionary) -> Option<String> {
        let mut parts = Vec::new();
        let mut current = Some(field);
        for _ in 0..MAX_FIELD_DEPTH {
            let Some(node) = current else { break };
            if let Some(partial) = node.get(b"T").and_then(syntax::Object::as_string) {
                parts.push(text_string(partial));
            }
            current = node
                .get(b"Parent")
                .and_then(syntax::Object::as_reference)
                .and_then(|id| self.latest.get(&id).copied());
        }
        if parts.is_empty() {
            return None;
        }
        parts.reverse();
        Some(parts.join("."))
    }
}

// ---------------------------------------------------------------------------------------------
// One signature
// ---------------------------------------------------------------------------------------------

fn check_signature(
    pdf: &[u8],
    object: &syntax::IndirectObject,
    dictionary: &syntax::Dictionary,
    field_name: Option<String>,
    anchors: &[Certificate],
    at: Option<DateTime<Utc>>,
) -> SignatureValidation {
    let text = |key: &[u8]| {
        dictionary
            .get(key)
            .and_then(syntax::Object::as_string)
            .map(text_string)
    };
    let sub_filter = dictionary
        .get(b"SubFilter")
        .and_then(syntax::Object::as_name)
        .map(|name| String::from_utf8_lossy(name).into_owned());
    let kind = match (
        dictionary.get(b"Type").and_then(syntax::Object::as_name),
        sub_filter.as_deref(),
    ) {
        (Some(b"DocTimeStamp"), _) | (_, Some("ETSI.RFC3161")) => SignatureKind::DocumentTimestamp,
        _ => SignatureKind::Signature,
    };
    let claimed_signing_time = dictionary
        .get(b"M")
        .and_then(syntax::Object::as_string)
        .and_then(|raw| pdf_date(&text_string(raw)));
    let byte_range = dictionary.get(b"ByteRange").and_then(four_offsets);
    let mut validation = SignatureValidation {
        kind,
        field_name,
        name: text(b"Name"),
        reason: text(b"Reason"),
        location: text(b"Location"),
        claimed_signing_time,
        sub_filter: sub_filter.clone(),
        byte_range,
        signer: None,
        covers_whole_document: false,
        timestamp: None,
        checked_at: None,
        valid: false,
        problems: Vec::new(),
    };
    if dictionary.has_duplicate_keys() {
        validation.problems.push(SignatureProblem::Dictionary(
            "a key appears more than once".into(),
        ));
        return validation;
    }
    let range = match check_byte_range(pdf, object, dictionary, byte_range) {
        Ok(range) => range,
        Err(problem) => {
            validation.problems.push(problem);
            return validation;
        }
    };
    validation.covers_whole_document = range.end == pdf.len();
    let contents = match dictionary
        .get(b"Contents")
        .and_then(syntax::Object::as_string)
    {
        Some(contents) => contents,
        None => {
            validation.problems.push(SignatureProblem::Dictionary(
                "/Contents is not a string".into(),
            ));
            return validation;
        }
    };
    let Some(container) = der_prefix(contents) else {
        validation.problems.push(SignatureProblem::Container(
            "/Contents does not start with a DER SEQUENCE".into(),
        ));
        return validation;
    };
    let mut covered = Vec::with_capacity(range.end.saturating_sub(range.gap.len()));
    covered.extend_from_slice(pdf.get(..range.gap.start).unwrap_or_default());
    covered.extend_from_slice(pdf.get(range.gap.end..range.end).unwrap_or_default());

    match (kind, sub_filter.as_deref()) {
        (SignatureKind::Signature, Some("ETSI.CAdES.detached" | "adbe.pkcs7.detached")) => {
            check_cms_signature(container, &covered, anchors, at, &mut validation);
        }
        (SignatureKind::DocumentTimestamp, Some("ETSI.RFC3161")) => {
            check_document_timestamp(container, &covered, anchors, &mut validation);
        }
        (_, other) => validation
            .problems
            .push(SignatureProblem::UnsupportedFormat(
                other.unwrap_or("(no /SubFilter)").to_owned(),
            )),
    }
    validation.valid = validation.problems.is_empty();
    validation
}

/// Where a sane byte range puts things: the gap (the `/Contents` string) and the covered end.
struct CheckedRange {
    gap: std::ops::Range<usize>,
    end: usize,
}

fn four_offsets(object: &syntax::Object) -> Option<[usize; 4]> {
    let syntax::Object::Array(items) = object else {
        return None;
    };
    let numbers: Vec<usize> = items
        .iter()
        .map(|item| match item {
            syntax::Object::Integer(value) => usize::try_from(*value).ok(),
            _ => None,
        })
        .collect::<Option<_>>()?;
    <[usize; 4]>::try_from(numbers).ok()
}

/// A byte range is sane when it starts at 0, its gap is exactly the `/Contents` hex string of this
/// dictionary, it ends within the file, and the rest of the dictionary lies inside what it covers.
fn check_byte_range(
    pdf: &[u8],
    object: &syntax::IndirectObject,
    dictionary: &syntax::Dictionary,
    byte_range: Option<[usize; 4]>,
) -> Result<CheckedRange, SignatureProblem> {
    let bad = |reason: &str| SignatureProblem::ByteRange(reason.to_owned());
    let [start, a, b, c] = byte_range.ok_or_else(|| bad("it is not four non-negative integers"))?;
    if start != 0 {
        return Err(bad("it does not start at the beginning of the file"));
    }
    if a >= b {
        return Err(bad("its second part does not come after its first"));
    }
    let end = b
        .checked_add(c)
        .filter(|end| *end <= pdf.len())
        .ok_or_else(|| bad("it reaches beyond the end of the file"))?;
    let span = dictionary
        .get(b"Contents")
        .and_then(syntax::Object::string_span)
        .ok_or_else(|| bad("/Contents is not a string"))?;
    if !span.hex {
        return Err(bad("/Contents is not a hex string"));
    }
    if span.start != a || span.end != b {
        return Err(bad("the gap it leaves is not exactly the /Contents string"));
    }
    if object.start >= a || object.value_end > end {
        return Err(bad(
            "the signature dictionary lies outside the bytes it signs",
        ));
    }
    Ok(CheckedRange { gap: a..b, end })
}

/// The DER object at the start of `bytes` (the placeholder is padded with zeros after it).
fn der_prefix(bytes: &[u8]) -> Option<&[u8]> {
    if *bytes.first()? != 0x30 {
        return None;
    }
    let first = usize::from(*bytes.get(1)?);
    let (header, length) = if first < 0x80 {
        (2, first)
    } else {
        let count = first - 0x80;
        if count == 0 || count > 4 {
            return None;
        }
        let mut length = 0usize;
        for byte in bytes.get(2..2 + count)? {
            length = length.checked_mul(256)?.checked_add(usize::from(*byte))?;
        }
        (2 + count, length)
    };
    bytes.get(..header.checked_add(length)?)
}

/// The parts of a CMS `SignedData` with one signer that validation reads.
struct Container {
    signed_data: SignedData,
    signer_info: SignerInfo,
    certificates: Vec<Certificate>,
}

fn read_container(der: &[u8]) -> Result<Container, SignatureProblem> {
    let broken = |error: der::Error| SignatureProblem::Container(error.to_string());
    let content_info = ContentInfo::from_der(der).map_err(broken)?;
    if content_info.content_type != oid::SIGNED_DATA {
        return Err(SignatureProblem::Container(
            "the container is not CMS SignedData".into(),
        ));
    }
    let signed_data: SignedData = content_info.content.decode_as().map_err(broken)?;
    let signer_info = match signed_data.signer_infos.0.as_slice() {
        [one] => one.clone(),
        [] => return Err(SignatureProblem::Container("no signer".into())),
        _ => {
            return Err(SignatureProblem::Container(
                "more than one signer in one signature".into(),
            ));
        }
    };
    let certificates = signed_data
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(certificate) => Some(certificate.clone()),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    Ok(Container {
        signed_data,
        signer_info,
        certificates,
    })
}

fn identifies(sid: &SignerIdentifier, certificate: &Certificate) -> bool {
    let tbs = certificate.tbs_certificate();
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => {
            &id.issuer == tbs.issuer() && &id.serial_number == tbs.serial_number()
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            matches!(tbs.get_extension::<SubjectKeyIdentifier>(), Ok(Some((_, own))) if own == *ski)
        }
    }
}

/// A PAdES / PKCS#7 detached signature over `covered`.
fn check_cms_signature(
    der: &[u8],
    covered: &[u8],
    anchors: &[Certificate],
    at: Option<DateTime<Utc>>,
    validation: &mut SignatureValidation,
) {
    let container = match read_container(der) {
        Ok(container) => container,
        Err(problem) => return validation.problems.push(problem),
    };
    let Some(signer) = container
        .certificates
        .iter()
        .find(|certificate| identifies(&container.signer_info.sid, certificate))
        .cloned()
    else {
        return validation
            .problems
            .push(SignatureProblem::SignerCertificateMissing);
    };
    validation.signer = Some(certificate_facts(&signer));
    if container.signed_data.encap_content_info.econtent.is_some() {
        return validation.problems.push(SignatureProblem::Container(
            "the signature encapsulates content instead of being detached".into(),
        ));
    }

    // The digest first, so a changed document is reported as such rather than as a bad signature.
    match message_digest_matches(&container.signer_info, covered) {
        Ok(true) => {
            if let Err(error) = cms::verify_signed_data(der, Some(covered), &[]) {
                validation
                    .problems
                    .push(SignatureProblem::BadSignature(error.to_string()));
            }
        }
        Ok(false) => validation.problems.push(SignatureProblem::DigestMismatch),
        Err(problem) => validation.problems.push(problem),
    }
    if let Err(problem) = signing_certificate_v2_matches(&container.signer_info, &signer) {
        validation.problems.push(problem);
    }
    if !allows_signing(&signer) {
        validation.problems.push(SignatureProblem::KeyUsage);
    }

    // Signature timestamps: every one must verify; the earliest gives the trusted time.
    let signature_value = container.signer_info.signature.as_bytes();
    let mut timestamps = Vec::new();
    for attribute in container
        .signer_info
        .unsigned_attrs
        .iter()
        .flat_map(|set| set.iter())
        .filter(|attribute| attribute.oid == SIGNATURE_TIME_STAMP_TOKEN)
    {
        for value in attribute.values.iter() {
            let checked = value
                .to_der()
                .map_err(|error| SignatureProblem::Timestamp(error.to_string()))
                .and_then(|token| {
                    verify_signature_timestamp(
                        &token,
                        signature_value,
                        anchors,
                        &container.certificates,
                    )
                });
            match checked {
                Ok(facts) => timestamps.push(facts),
                Err(problem) => validation.problems.push(problem),
            }
        }
    }
    timestamps.sort_by_key(|facts| facts.time);
    validation.timestamp = timestamps.into_iter().next();

    let checked_at = match (&validation.timestamp, at, validation.claimed_signing_time) {
        (Some(timestamp), _, _) => CheckedTime {
            time: timestamp.time,
            basis: TimeBasis::Timestamp,
        },
        (None, Some(time), _) => CheckedTime {
            time,
            basis: TimeBasis::Requested,
        },
        (None, None, Some(time)) => CheckedTime {
            time,
            basis: TimeBasis::ClaimedSigningTime,
        },
        (None, None, None) => return validation.problems.push(SignatureProblem::NoValidationTime),
    };
    validation.checked_at = Some(checked_at);
    check_trust(
        &signer,
        &container.certificates,
        anchors,
        checked_at.time,
        validation,
    );
}

/// The certificate's validity at `time`, then its chain (checked within the certificate's own
/// validity when `time` falls outside it, so an expired certificate and an untrusted one are told
/// apart).
fn check_trust(
    signer: &Certificate,
    pool: &[Certificate],
    anchors: &[Certificate],
    time: DateTime<Utc>,
    validation: &mut SignatureValidation,
) {
    let validity = signer.tbs_certificate().validity();
    let not_before = validity.not_before.to_unix_duration();
    let not_after = validity.not_after.to_unix_duration();
    let seconds = unix_duration(time);
    let chain_time = match seconds {
        Some(seconds) if seconds >= not_before && seconds <= not_after => seconds,
        _ => {
            validation
                .problems
                .push(SignatureProblem::CertificateNotValidAt {
                    at: time,
                    not_before: utc(not_before),
                    not_after: utc(not_after),
                });
            not_before
        }
    };
    if let Err(error) = cms::verify_chain(signer, pool, anchors, chain_time) {
        validation
            .problems
            .push(SignatureProblem::Untrusted(error.to_string()));
    }
}

/// Whether the message-digest signed attribute is the digest of `covered`.
fn message_digest_matches(
    signer_info: &SignerInfo,
    covered: &[u8],
) -> Result<bool, SignatureProblem> {
    let broken = |reason: String| SignatureProblem::Container(reason);
    let attributes = signer_info
        .signed_attrs
        .as_ref()
        .ok_or_else(|| broken("no signed attributes".into()))?;
    let mut values = attributes
        .iter()
        .filter(|attribute| attribute.oid == oid::MESSAGE_DIGEST)
        .flat_map(|attribute| attribute.values.iter());
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(broken("not exactly one message-digest attribute".into()));
    };
    let claimed: OctetString = value
        .decode_as()
        .map_err(|error: der::Error| broken(error.to_string()))?;
    let computed = cms::digest_of(&signer_info.digest_alg.oid, covered)
        .map_err(|error| broken(error.to_string()))?;
    Ok(claimed.as_bytes() == computed.as_slice())
}

/// ETSI EN 319 122-1: a CAdES signature carries signing-certificate-v2, and it names the signer.
fn signing_certificate_v2_matches(
    signer_info: &SignerInfo,
    signer: &Certificate,
) -> Result<(), SignatureProblem> {
    let attribute = signer_info
        .signed_attrs
        .iter()
        .flat_map(|set| set.iter())
        .find(|attribute| attribute.oid == oid::SIGNING_CERTIFICATE_V2)
        .ok_or(SignatureProblem::SigningCertificateMissing)?;
    let value = attribute
        .values
        .iter()
        .next()
        .ok_or(SignatureProblem::SigningCertificateMismatch)?;
    let decoded: SigningCertificateV2 = value
        .decode_as()
        .map_err(|_| SignatureProblem::SigningCertificateMismatch)?;
    let first = decoded
        .certs
        .first()
        .ok_or(SignatureProblem::SigningCertificateMismatch)?;
    let algorithm = first
        .hash_algorithm
        .as_ref()
        .map_or(oid::SHA256, |algorithm| algorithm.oid);
    let der = signer
        .to_der()
        .map_err(|_| SignatureProblem::SigningCertificateMismatch)?;
    let expected = cms::digest_of(&algorithm, &der)
        .map_err(|_| SignatureProblem::SigningCertificateMismatch)?;
    if first.cert_hash.as_bytes() != expected.as_slice() {
        return Err(SignatureProblem::SigningCertificateMismatch);
    }
    Ok(())
}

/// A signing certificate either says nothing about key usage or allows digitalSignature or
/// nonRepudiation.
fn allows_signing(certificate: &Certificate) -> bool {
    match certificate.tbs_certificate().get_extension::<KeyUsage>() {
        Ok(Some((_, usage))) => {
            usage.0.contains(KeyUsages::DigitalSignature)
                || usage.0.contains(KeyUsages::NonRepudiation)
        }
        Ok(None) => true,
        Err(_) => false,
    }
}

/// Checks a signature timestamp token (id-aa-signatureTimeStampToken): the imprint is the SHA-256
/// of the SignerInfo's signature value, the TSA certificate has the timeStamping usage and chains
/// to `anchors` at genTime. `intermediates` helps build that chain (the signature's certificates).
pub fn verify_signature_timestamp(
    token: &[u8],
    signature_value: &[u8],
    anchors: &[Certificate],
    intermediates: &[Certificate],
) -> Result<TimestampFacts, SignatureProblem> {
    let imprint: [u8; 32] = Sha256::digest(signature_value).into();
    let verified = tsa::verify_token(token, &imprint, None, anchors, intermediates)
        .map_err(SignatureProblem::Timestamp)?;
    Ok(timestamp_facts(&verified))
}

fn timestamp_facts(verified: &tsa::VerifiedToken) -> TimestampFacts {
    let named = verified.tst_info.tsa.as_ref().and_then(|name| match name {
        x509_cert::ext::pkix::name::GeneralName::DirectoryName(name) => {
            name_attribute(name, oid::COMMON_NAME)
                .or_else(|| name_attribute(name, oid::ORGANIZATION))
        }
        _ => None,
    });
    let subject = verified.tsa_certificate.tbs_certificate().subject();
    let authority = named
        .or_else(|| name_attribute(subject, oid::COMMON_NAME))
        .or_else(|| name_attribute(subject, oid::ORGANIZATION))
        .unwrap_or_else(|| subject.to_string());
    TimestampFacts {
        time: utc(verified.gen_time),
        authority,
        serial_hex: hex::encode(verified.tst_info.serial_number.as_bytes()),
    }
}

/// An RFC 3161 document timestamp: the token's imprint is the SHA-256 of the covered bytes.
fn check_document_timestamp(
    der: &[u8],
    covered: &[u8],
    anchors: &[Certificate],
    validation: &mut SignatureValidation,
) {
    let container = match read_container(der) {
        Ok(container) => container,
        Err(problem) => return validation.problems.push(problem),
    };
    let digest: [u8; 32] = Sha256::digest(covered).into();
    // The imprint first, so a changed document is reported as such rather than as a bad token.
    let imprint = container
        .signed_data
        .encap_content_info
        .econtent
        .as_ref()
        .and_then(|econtent| econtent.decode_as::<OctetString>().ok())
        .and_then(|octets| tsa::TstInfo::from_der(octets.as_bytes()).ok())
        .map(|tst_info| tst_info.message_imprint);
    match imprint {
        Some(imprint) if imprint.hash_algorithm.oid == oid::SHA256 => {
            if imprint.hashed_message.as_bytes() != digest.as_slice() {
                return validation.problems.push(SignatureProblem::DigestMismatch);
            }
        }
        Some(imprint) => {
            return validation
                .problems
                .push(SignatureProblem::UnsupportedFormat(format!(
                    "a document timestamp imprint with digest {}",
                    imprint.hash_algorithm.oid
                )));
        }
        None => {
            return validation.problems.push(SignatureProblem::Container(
                "the document timestamp holds no TSTInfo".into(),
            ));
        }
    }
    match tsa::verify_token(der, &digest, None, anchors, &container.certificates) {
        Ok(verified) => {
            validation.signer = Some(certificate_facts(&verified.tsa_certificate));
            let facts = timestamp_facts(&verified);
            validation.checked_at = Some(CheckedTime {
                time: facts.time,
                basis: TimeBasis::Timestamp,
            });
            validation.timestamp = Some(facts);
        }
        Err(reason) => validation
            .problems
            .push(SignatureProblem::Timestamp(reason)),
    }
}

// ---------------------------------------------------------------------------------------------
// Small readers
// ---------------------------------------------------------------------------------------------

fn certificate_facts(certificate: &Certificate) -> CertificateFacts {
    let tbs = certificate.tbs_certificate();
    let validity = tbs.validity();
    CertificateFacts {
        subject_common_name: name_attribute(tbs.subject(), oid::COMMON_NAME),
        subject_serial_number: name_attribute(tbs.subject(), oid::SERIAL_NUMBER),
        subject_organization: name_attribute(tbs.subject(), oid::ORGANIZATION),
        issuer_common_name: name_attribute(tbs.issuer(), oid::COMMON_NAME),
        issuer_organization: name_attribute(tbs.issuer(), oid::ORGANIZATION),
        serial_hex: hex::encode(tbs.serial_number().as_bytes()),
        not_before: utc(validity.not_before.to_unix_duration()),
        not_after: utc(validity.not_after.to_unix_duration()),
    }
}

/// The text of the first `id` attribute of a name, whatever string type it was written in.
fn name_attribute(name: &Name, id: ObjectIdentifier) -> Option<String> {
    let value = &name.iter().find(|attribute| attribute.oid == id)?.value;
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::VisibleString => {
            std::str::from_utf8(bytes).ok().map(str::to_owned)
        }
        Tag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        // TeletexString: Latin-1 is how it is used in practice.
        Tag::TeletexString => Some(bytes.iter().map(|byte| char::from(*byte)).collect()),
        _ => None,
    }
}

fn utc(since_epoch: Duration) -> DateTime<Utc> {
    i64::try_from(since_epoch.as_secs())
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn unix_duration(time: DateTime<Utc>) -> Option<Duration> {
    u64::try_from(time.timestamp())
        .ok()
        .map(Duration::from_secs)
}

/// A PDF text string: UTF-16BE or UTF-8 after a byte order mark, else PDFDocEncoding (read as
/// Latin-1, which agrees with it on everything a signature dictionary holds).
fn text_string(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = utf16
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    if let Some(utf8) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(utf8).into_owned();
    }
    bytes.iter().map(|byte| char::from(*byte)).collect()
}

/// A PDF date (ISO 32000-1 7.9.4): `D:YYYYMMDDHHmmSSOHH'mm`, every part after the year optional.
fn pdf_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.strip_prefix("D:").unwrap_or(text);
    let digits_end = text
        .find(|ch: char| !ch.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, zone) = text.split_at(digits_end);
    let part = |from: usize, to: usize, default: u32| -> Option<u32> {
        match digits.get(from..to) {
            Some(value) => value.parse().ok(),
            None if digits.len() <= from => Some(default),
            None => None,
        }
    };
    let year: i32 = digits.get(0..4)?.parse().ok()?;
    let date = NaiveDate::from_ymd_opt(year, part(4, 6, 1)?, part(6, 8, 1)?)?;
    let local = date.and_hms_opt(part(8, 10, 0)?, part(10, 12, 0)?, part(12, 14, 0)?)?;
    let offset_seconds = match zone.chars().next() {
        None | Some('Z') => 0,
        Some(sign @ ('+' | '-')) => {
            let rest: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
            let hours: i32 = rest.get(0..2)?.parse().ok()?;
            let minutes: i32 = rest.get(2..4).map_or(Some(0), |m| m.parse().ok())?;
            let seconds = hours * 3600 + minutes * 60;
            if sign == '-' { -seconds } else { seconds }
        }
        Some(_) => return None,
    };
    FixedOffset::east_opt(offset_seconds)?
        .from_local_datetime(&local)
        .single()
        .map(|time| time.with_timezone(&Utc))
}

// ---------------------------------------------------------------------------------------------
// PDF syntax
// ---------------------------------------------------------------------------------------------

/// Just enough PDF syntax (ISO 32000-1 section 7.3) to read indirect objects out of any bytes.
pub mod syntax {
    use super::{MAX_NESTING, find};

    /// Why an object could not be read.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    pub enum SyntaxError {
        #[error("unexpected end of file at byte {0}")]
        UnexpectedEnd(usize),
        #[error("unexpected {found} at byte {at}")]
        Unexpected { found: &'static str, at: usize },
        #[error("objects nested deeper than {MAX_NESTING} at byte {0}")]
        TooDeep(usize),
    }

    /// Where a string sat in the file.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct StringSpan {
        /// The offset of `(` or `<`.
        pub start: usize,
        /// The offset just after `)` or `>`.
        pub end: usize,
        pub hex: bool,
    }

    #[derive(Debug, Clone, PartialEq)]
    pub enum Object {
        Null,
        Boolean(bool),
        Integer(i64),
        Real(f64),
        Name(Vec<u8>),
        String { bytes: Vec<u8>, span: StringSpan },
        Array(Vec<Object>),
        Dictionary(Dictionary),
        Reference(u32, u16),
    }

    impl Object {
        pub fn as_dictionary(&self) -> Option<&Dictionary> {
            match self {
                Self::Dictionary(dictionary) => Some(dictionary),
                _ => None,
            }
        }

        pub fn as_name(&self) -> Option<&[u8]> {
            match self {
                Self::Name(name) => Some(name),
                _ => None,
            }
        }

        pub fn as_string(&self) -> Option<&[u8]> {
            match self {
                Self::String { bytes, .. } => Some(bytes),
                _ => None,
            }
        }

        pub fn string_span(&self) -> Option<StringSpan> {
            match self {
                Self::String { span, .. } => Some(*span),
                _ => None,
            }
        }

        pub fn as_reference(&self) -> Option<(u32, u16)> {
            match self {
                Self::Reference(number, generation) => Some((*number, *generation)),
                _ => None,
            }
        }
    }

    /// A dictionary's entries in file order (duplicates kept, so they can be noticed).
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Dictionary(pub Vec<(Vec<u8>, Object)>);

    impl Dictionary {
        /// The first entry for `key`.
        pub fn get(&self, key: &[u8]) -> Option<&Object> {
            self.0
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value)
        }

        pub fn has_duplicate_keys(&self) -> bool {
            let mut keys: Vec<&[u8]> = self.0.iter().map(|(key, _)| key.as_slice()).collect();
            keys.sort_unstable();
            keys.windows(2).any(|pair| pair[0] == pair[1])
        }
    }

    /// `number generation obj value endobj`, where it sat.
    #[derive(Debug, Clone, PartialEq)]
    pub struct IndirectObject {
        pub number: u32,
        pub generation: u16,
        /// The offset of the object number.
        pub start: usize,
        /// Just after the value (before any stream and `endobj`).
        pub value_end: usize,
        /// Just after `endobj` (or wherever the object ended).
        pub end: usize,
        pub value: Object,
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Token<'a> {
        Integer(i64),
        Real(f64),
        Name(Vec<u8>),
        String {
            bytes: Vec<u8>,
            span: StringSpan,
        },
        ArrayOpen,
        ArrayClose,
        DictionaryOpen,
        DictionaryClose,
        Keyword(&'a [u8]),
        /// A delimiter out of place, or a string that never ends.
        Stray(&'static str),
    }

    fn is_whitespace(byte: u8) -> bool {
        matches!(byte, b'\0' | b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
    }

    fn is_delimiter(byte: u8) -> bool {
        matches!(
            byte,
            b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
        )
    }

    fn is_regular(byte: u8) -> bool {
        !is_whitespace(byte) && !is_delimiter(byte)
    }

    fn hex_value(byte: u8) -> Option<u8> {
        match byte {
            b'0'..=b'9' => Some(byte - b'0'),
            b'a'..=b'f' => Some(byte - b'a' + 10),
            b'A'..=b'F' => Some(byte - b'A' + 10),
            _ => None,
        }
    }

    struct Lexer<'a> {
        bytes: &'a [u8],
        position: usize,
    }

    impl<'a> Lexer<'a> {
        fn peek_byte(&self) -> Option<u8> {
            self.bytes.get(self.position).copied()
        }

        fn skip_whitespace_and_comments(&mut self) {
            while let Some(byte) = self.peek_byte() {
                if is_whitespace(byte) {
                    self.position += 1;
                } else if byte == b'%' {
                    while let Some(byte) = self.peek_byte() {
                        if byte == b'\n' || byte == b'\r' {
                            break;
                        }
                        self.position += 1;
                    }
                } else {
                    break;
                }
            }
        }

        /// The next token and the offset it starts at.
        fn next(&mut self) -> Option<(usize, Token<'a>)> {
            self.skip_whitespace_and_comments();
            let start = self.position;
            let byte = self.peek_byte()?;
            self.position += 1;
            let token = match byte {
                b'(' => self.literal_string(start),
                b'<' if self.peek_byte() == Some(b'<') => {
                    self.position += 1;
                    Token::DictionaryOpen
                }
                b'<' => self.hex_string(start),
                b'>' if self.peek_byte() == Some(b'>') => {
                    self.position += 1;
                    Token::DictionaryClose
                }
                b'>' => Token::Stray("'>'"),
                b'[' => Token::ArrayOpen,
                b']' => Token::ArrayClose,
                b')' => Token::Stray("')'"),
                b'{' | b'}' => Token::Stray("a brace"),
                b'/' => Token::Name(self.name()),
                _ => {
                    while self.peek_byte().is_some_and(is_regular) {
                        self.position += 1;
                    }
                    let word = self.bytes.get(start..self.position).unwrap_or_default();
                    number(word).unwrap_or(Token::Keyword(word))
                }
            };
            Some((start, token))
        }

        fn name(&mut self) -> Vec<u8> {
            let mut name = Vec::new();
            while let Some(byte) = self.peek_byte().filter(|byte| is_regular(*byte)) {
                self.position += 1;
                if byte == b'#' {
                    let high = self.bytes.get(self.position).copied().and_then(hex_value);
                    let low = self
                        .bytes
                        .get(self.position + 1)
                        .copied()
                        .and_then(hex_value);
                    if let (Some(high), Some(low)) = (high, low) {
                        name.push(high * 16 + low);
                        self.position += 2;
                        continue;
                    }
                }
                name.push(byte);
            }
            name
        }

        fn literal_string(&mut self, start: usize) -> Token<'a> {
            let mut bytes = Vec::new();
            let mut depth = 1usize;
            while let Some(byte) = self.peek_byte() {
                self.position += 1;
                match byte {
                    b'(' => {
                        depth += 1;
                        bytes.push(byte);
                    }
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            return Token::String {
                                bytes,
                                span: StringSpan {
                                    start,
                                    end: self.position,
                                    hex: false,
                                },
                            };
                        }
                        bytes.push(byte);
                    }
                    b'\\' => self.escape(&mut bytes),
                    _ => bytes.push(byte),
                }
            }
            Token::Stray("a string that never ends")
        }

        fn escape(&mut self, bytes: &mut Vec<u8>) {
            let Some(byte) = self.peek_byte() else { return };
            self.position += 1;
            match byte {
                b'n' => bytes.push(b'\n'),
                b'r' => bytes.push(b'\r'),
                b't' => bytes.push(b'\t'),
                b'b' => bytes.push(0x08),
                b'f' => bytes.push(0x0c),
                b'0'..=b'7' => {
                    let mut value = u32::from(byte - b'0');
                    for _ in 0..2 {
                        match self.peek_byte() {
                            Some(digit @ b'0'..=b'7') => {
                                value = value * 8 + u32::from(digit - b'0');
                                self.position += 1;
                            }
                            _ => break,
                        }
                    }
                    // Overflow of a three-digit octal escape is ignored (ISO 32000-1 7.3.4.2).
                    bytes.push((value & 0xff) as u8);
                }
                // A backslash at the end of a line continues the string on the next.
                b'\r' => {
                    if self.peek_byte() == Some(b'\n') {
                        self.position += 1;
                    }
                }
                b'\n' => {}
                other => bytes.push(other),
            }
        }

        fn hex_string(&mut self, start: usize) -> Token<'a> {
            let mut bytes = Vec::new();
            let mut high: Option<u8> = None;
            while let Some(byte) = self.peek_byte() {
                self.position += 1;
                if byte == b'>' {
                    if let Some(high) = high {
                        bytes.push(high << 4);
                    }
                    return Token::String {
                        bytes,
                        span: StringSpan {
                            start,
                            end: self.position,
                            hex: true,
                        },
                    };
                }
                if is_whitespace(byte) {
                    continue;
                }
                let Some(value) = hex_value(byte) else {
                    return Token::Stray("a non-hex character in a hex string");
                };
                match high.take() {
                    Some(high) => bytes.push(high << 4 | value),
                    None => high = Some(value),
                }
            }
            Token::Stray("a hex string that never ends")
        }
    }

    fn number(word: &[u8]) -> Option<Token<'static>> {
        let text = std::str::from_utf8(word).ok()?;
        let digits = text.trim_start_matches(['+', '-']);
        if digits.is_empty() || text.len() - digits.len() > 1 {
            return None;
        }
        if digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return text.parse().ok().map(Token::Integer);
        }
        let dots = digits.bytes().filter(|byte| *byte == b'.').count();
        let rest_digits = digits
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'.');
        if dots == 1 && rest_digits && digits.len() > 1 {
            return text.parse().ok().map(Token::Real);
        }
        None
    }

    fn describe(token: &Token<'_>) -> &'static str {
        match token {
            Token::Integer(_) => "a number",
            Token::Real(_) => "a number",
            Token::Name(_) => "a name",
            Token::String { .. } => "a string",
            Token::ArrayOpen => "'['",
            Token::ArrayClose => "']'",
            Token::DictionaryOpen => "'<<'",
            Token::DictionaryClose => "'>>'",
            Token::Keyword(_) => "a keyword",
            Token::Stray(what) => what,
        }
    }

    struct Parser<'a> {
        lexer: Lexer<'a>,
    }

    impl<'a> Parser<'a> {
        /// After `number`: `generation R` makes it a reference, else it stays a number.
        fn reference_or_integer(&mut self, value: i64) -> Object {
            let saved = self.lexer.position;
            if let (Ok(number), Some((_, Token::Integer(generation)))) =
                (u32::try_from(value), self.lexer.next())
            {
                if let (Ok(generation), Some((_, Token::Keyword(b"R")))) =
                    (u16::try_from(generation), self.lexer.next())
                {
                    return Object::Reference(number, generation);
                }
            }
            self.lexer.position = saved;
            Object::Integer(value)
        }

        fn value(
            &mut self,
            at: usize,
            token: Token<'a>,
            depth: usize,
        ) -> Result<Object, SyntaxError> {
            if depth > MAX_NESTING {
                return Err(SyntaxError::TooDeep(at));
            }
            Ok(match token {
                Token::Integer(value) => self.reference_or_integer(value),
                Token::Real(value) => Object::Real(value),
                Token::Name(name) => Object::Name(name),
                Token::String { bytes, span } => Object::String { bytes, span },
                Token::Keyword(b"true") => Object::Boolean(true),
                Token::Keyword(b"false") => Object::Boolean(false),
                Token::Keyword(b"null") => Object::Null,
                Token::ArrayOpen => {
                    let mut items = Vec::new();
                    loop {
                        let (at, token) = self
                            .lexer
                            .next()
                            .ok_or(SyntaxError::UnexpectedEnd(self.lexer.position))?;
                        if token == Token::ArrayClose {
                            break Object::Array(items);
                        }
                        items.push(self.value(at, token, depth + 1)?);
                    }
                }
                Token::DictionaryOpen => {
                    let mut entries = Vec::new();
                    loop {
                        let (at, token) = self
                            .lexer
                            .next()
                            .ok_or(SyntaxError::UnexpectedEnd(self.lexer.position))?;
                        let key = match token {
                            Token::DictionaryClose => {
                                break Object::Dictionary(Dictionary(entries));
                            }
                            Token::Name(key) => key,
                            other => {
                                return Err(SyntaxError::Unexpected {
                                    found: describe(&other),
                                    at,
                                });
                            }
                        };
                        let (at, token) = self
                            .lexer
                            .next()
                            .ok_or(SyntaxError::UnexpectedEnd(self.lexer.position))?;
                        entries.push((key, self.value(at, token, depth + 1)?));
                    }
                }
                other => {
                    return Err(SyntaxError::Unexpected {
                        found: describe(&other),
                        at,
                    });
                }
            })
        }

        /// After `number generation obj`: the value, a stream if one follows, and `endobj`.
        fn object(
            &mut self,
            number: u32,
            generation: u16,
            start: usize,
        ) -> Result<IndirectObject, SyntaxError> {
            let (at, token) = self
                .lexer
                .next()
                .ok_or(SyntaxError::UnexpectedEnd(self.lexer.position))?;
            let value = self.value(at, token, 0)?;
            let value_end = self.lexer.position;
            let saved = self.lexer.position;
            match self.lexer.next() {
                Some((_, Token::Keyword(b"stream"))) => {
                    self.skip_stream(&value);
                    let saved = self.lexer.position;
                    if !matches!(self.lexer.next(), Some((_, Token::Keyword(b"endobj")))) {
                        self.lexer.position = saved;
                    }
                }
                Some((_, Token::Keyword(b"endobj"))) => {}
                _ => self.lexer.position = saved,
            }
            Ok(IndirectObject {
                number,
                generation,
                start,
                value_end,
                end: self.lexer.position,
                value,
            })
        }

        /// Moves past a stream's data: by a direct `/Length` when `endstream` follows it, else to
        /// the next `endstream`.
        fn skip_stream(&mut self, value: &Object) {
            let bytes = self.lexer.bytes;
            let mut data_start = self.lexer.position;
            if bytes.get(data_start) == Some(&b'\r') {
                data_start += 1;
            }
            if bytes.get(data_start) == Some(&b'\n') {
                data_start += 1;
            }
            const END: &[u8] = b"endstream";
            let by_length = value
                .as_dictionary()
                .and_then(|dictionary| dictionary.get(b"Length"))
                .and_then(|length| match length {
                    Object::Integer(length) => usize::try_from(*length).ok(),
                    _ => None,
                })
                .and_then(|length| data_start.checked_add(length))
                .and_then(|data_end| {
                    let mut at = data_end;
                    while bytes.get(at).copied().is_some_and(is_whitespace) {
                        at += 1;
                    }
                    bytes
                        .get(at..)
                        .filter(|rest| rest.starts_with(END))
                        .map(|_| at)
                });
            let end_keyword = by_length.or_else(|| find(bytes, END, data_start));
            self.lexer.position = end_keyword.map_or(bytes.len(), |at| at + END.len());
        }
    }

    /// What scanning a file found.
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Scan {
        /// Every indirect object that reads, in file order.
        pub objects: Vec<IndirectObject>,
        /// How many objects did not read, and why the first did not.
        pub unreadable: usize,
        pub first_error: Option<SyntaxError>,
    }

    /// Reads every indirect object of `bytes`. What does not read is skipped: scanning resumes
    /// where reading stopped, so no byte is read more than a few times.
    pub fn scan(bytes: &[u8]) -> Scan {
        let mut parser = Parser {
            lexer: Lexer { bytes, position: 0 },
        };
        let mut scan = Scan::default();
        while let Some((start, token)) = parser.lexer.next() {
            let Token::Integer(number) = token else {
                continue;
            };
            let after_number = parser.lexer.position;
            let header = match (parser.lexer.next(), parser.lexer.next()) {
                (Some((_, Token::Integer(generation))), Some((_, Token::Keyword(b"obj")))) => {
                    u32::try_from(number)
                        .ok()
                        .zip(u16::try_from(generation).ok())
                }
                _ => None,
            };
            let Some((number, generation)) = header else {
                parser.lexer.position = after_number;
                continue;
            };
            match parser.object(number, generation, start) {
                Ok(object) => scan.objects.push(object),
                Err(error) => {
                    scan.unreadable += 1;
                    scan.first_error.get_or_insert(error);
                }
            }
        }
        scan
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn objects_strings_references_and_streams_are_read() {
            let pdf =
                b"%PDF-1.7\n1 0 obj\n<< /Type /Sig /Contents <3082 00 01> /Name (a\\(b\\)\\101) \
                /V 12 0 R /A [1 -2 3.5 /N#20x true null] >>\nendobj\n\
                2 0 obj << /Length 10 >> stream\n1 0 obj <<\nendstream endobj\n3 0 obj (x) endobj";
            let objects = scan(pdf).objects;
            assert_eq!(
                objects
                    .iter()
                    .map(|object| object.number)
                    .collect::<Vec<_>>(),
                [1, 2, 3],
                "the object inside the stream is not read"
            );
            let first = objects[0].value.as_dictionary().unwrap();
            assert_eq!(first.get(b"Type").unwrap().as_name(), Some(&b"Sig"[..]));
            let contents = first.get(b"Contents").unwrap();
            assert_eq!(contents.as_string(), Some(&[0x30, 0x82, 0x00, 0x01][..]));
            let span = contents.string_span().unwrap();
            assert!(span.hex);
            assert_eq!(&pdf[span.start..span.end], b"<3082 00 01>");
            assert_eq!(first.get(b"Name").unwrap().as_string(), Some(&b"a(b)A"[..]));
            assert_eq!(first.get(b"V").unwrap().as_reference(), Some((12, 0)));
            assert_eq!(
                first.get(b"A").unwrap(),
                &Object::Array(vec![
                    Object::Integer(1),
                    Object::Integer(-2),
                    Object::Real(3.5),
                    Object::Name(b"N x".to_vec()),
                    Object::Boolean(true),
                    Object::Null,
                ])
            );
        }

        #[test]
        fn broken_objects_are_skipped_and_scanning_goes_on() {
            let pdf = b"1 0 obj << /A ) >> endobj 2 0 obj << /B 1 >> endobj 3 0 obj [[[[[[[[[[[[\
                [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]] endobj 4 0 obj (never ends";
            let scan = scan(pdf);
            assert_eq!(
                scan.objects
                    .iter()
                    .map(|object| object.number)
                    .collect::<Vec<_>>(),
                [2]
            );
            assert_eq!(scan.unreadable, 3);
            assert_eq!(
                scan.first_error,
                Some(SyntaxError::Unexpected {
                    found: "')'",
                    at: 14
                })
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::pades::{Revision, SignatureInfo};
    use crate::documents::pdf::{Block, Layout, SignatureField, render};
    use crate::documents::sign::sign_field;
    use crate::trust::ca::{Ca, NewCa};
    use crate::trust::cms::Signer;
    use ::cms::content_info::ContentInfo;
    use der::asn1::{Any, SetOfVec};
    use proptest::prelude::*;
    use x509_cert::attr::Attribute;

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn new_ca(organization: &str, now: DateTime<Utc>) -> std::sync::Arc<Ca> {
        std::sync::Arc::new(NewCa::generate(organization, now).unwrap().ca)
    }

    /// A document signed by 张三 with a certificate of `ca`, its next revision, and the field left
    /// for a document timestamp.
    fn signed_document(ca: &Ca, now: DateTime<Utc>) -> (Vec<u8>, Revision, SignatureField) {
        let rendered = render(&Layout {
            title: "协议".into(),
            footer: "C1".into(),
            blocks: vec![Block::Paragraph("甲方同意。".into())],
            signature_fields: vec!["Signer_A".into(), "DocumentTimestamp".into()],
        })
        .unwrap();
        let issued = ca
            .issue_event_certificate(
                "张三",
                "110101********1234",
                now - chrono::TimeDelta::minutes(1),
                Duration::from_secs(1800),
            )
            .unwrap();
        let certificate = Certificate::from_der(&issued.certificate_der).unwrap();
        let (signed, next) = sign_field(
            &rendered.bytes,
            &Revision {
                catalog: rendered.catalog,
                info: rendered.info,
                size: rendered.size,
                file_id: rendered.file_id.clone(),
            },
            &rendered.fields[0],
            &SignatureInfo {
                name: "张三".into(),
                reason: "同意签署本协议".into(),
                location: None,
                signed_at: now,
            },
            Signer {
                certificate: &certificate,
                key: &issued.key,
            },
            &[ca.intermediate().clone(), ca.root().clone()],
        )
        .unwrap();
        (signed, next, rendered.fields[1].clone())
    }

    fn signed_by(ca: &Ca, now: DateTime<Utc>) -> Vec<u8> {
        signed_document(ca, now).0
    }

    /// The `/Contents` gap of the (only) signature: its offsets.
    fn contents_gap(pdf: &[u8]) -> (usize, usize) {
        let objects = syntax::scan(pdf).objects;
        let dictionary = objects
            .iter()
            .filter_map(|object| object.value.as_dictionary())
            .find(|dictionary| is_signature_dictionary(dictionary))
            .unwrap();
        let span = dictionary.get(b"Contents").unwrap().string_span().unwrap();
        (span.start, span.end)
    }

    /// Adds `attribute` to the SignerInfo's unsigned attributes and writes the container back into
    /// the gap: the gap is not signed, so this is what a later timestamping step does.
    fn with_unsigned_attribute(pdf: &[u8], attribute: Attribute) -> Vec<u8> {
        let (start, end) = contents_gap(pdf);
        let hex_text = std::str::from_utf8(&pdf[start + 1..end - 1]).unwrap();
        let raw = hex::decode(hex_text).unwrap();
        let der = der_prefix(&raw).unwrap();
        let mut content_info = ContentInfo::from_der(der).unwrap();
        let mut signed_data: SignedData = content_info.content.decode_as().unwrap();
        let mut infos: Vec<SignerInfo> = signed_data.signer_infos.0.iter().cloned().collect();
        infos[0].unsigned_attrs = Some(SetOfVec::try_from(vec![attribute]).unwrap());
        signed_data.signer_infos = infos.try_into().unwrap();
        content_info.content = Any::encode_from(&signed_data).unwrap();
        let encoded = hex::encode_upper(content_info.to_der().unwrap());
        let mut out = pdf.to_vec();
        out[start + 1..start + 1 + encoded.len()].copy_from_slice(encoded.as_bytes());
        out[start + 1 + encoded.len()..end - 1].fill(b'0');
        out
    }

    fn signature_value(pdf: &[u8]) -> Vec<u8> {
        let (start, end) = contents_gap(pdf);
        let raw = hex::decode(std::str::from_utf8(&pdf[start + 1..end - 1]).unwrap()).unwrap();
        let container = read_container(der_prefix(&raw).unwrap()).unwrap();
        container.signer_info.signature.as_bytes().to_vec()
    }

    fn timestamp_attribute(
        ca: &std::sync::Arc<Ca>,
        imprint: [u8; 32],
        at: DateTime<Utc>,
    ) -> Attribute {
        let policy = crate::trust::parse_oid(crate::trust::DEFAULT_TSA_POLICY).unwrap();
        let tsa = ca.tsa_signer(policy);
        let (response, _) = tsa.respond(&tsa::request_der(&imprint, 7).unwrap(), at);
        let response = tsa::TimeStampResp::from_der(&response).unwrap();
        let token = response.time_stamp_token.unwrap();
        Attribute {
            oid: SIGNATURE_TIME_STAMP_TOKEN,
            values: SetOfVec::try_from(vec![Any::encode_from(&token).unwrap()]).unwrap(),
        }
    }

    #[test]
    fn a_signature_timestamp_over_the_signature_value_gives_the_trusted_time() {
        let now = Utc::now();
        let ca = new_ca("esign", now);
        let pdf = signed_by(&ca, now);
        let stamped_at = now + chrono::TimeDelta::seconds(5);
        let imprint: [u8; 32] = Sha256::digest(signature_value(&pdf)).into();
        let stamped = with_unsigned_attribute(&pdf, timestamp_attribute(&ca, imprint, stamped_at));

        // Long after the short-lived certificate expired: the timestamp's time is what counts.
        let much_later = now + chrono::TimeDelta::days(400);
        let result = validate_pdf(&stamped, &[ca.root().clone()], Some(much_later));
        assert!(result.valid, "{result:#?}");
        let signature = &result.signatures[0];
        let timestamp = signature.timestamp.as_ref().unwrap();
        assert_eq!(timestamp.time.timestamp(), stamped_at.timestamp());
        assert_eq!(timestamp.authority, "esign Timestamp Authority");
        assert_eq!(
            signature.checked_at.unwrap().basis,
            TimeBasis::Timestamp,
            "{signature:#?}"
        );
        // Without the timestamp the same request fails: the certificate had expired.
        let bare = validate_pdf(&pdf, &[ca.root().clone()], Some(much_later));
        assert!(!bare.valid);
        assert!(matches!(
            bare.signatures[0].problems[..],
            [SignatureProblem::CertificateNotValidAt { .. }]
        ));
    }

    #[test]
    fn a_timestamp_over_something_else_or_from_a_foreign_tsa_is_refused() {
        let now = Utc::now();
        let ca = new_ca("esign", now);
        let pdf = signed_by(&ca, now);
        let wrong = with_unsigned_attribute(&pdf, timestamp_attribute(&ca, [9; 32], now));
        let result = validate_pdf(&wrong, &[ca.root().clone()], None);
        assert!(!result.valid);
        let problems = &result.signatures[0].problems;
        assert!(
            problems
                .iter()
                .any(|problem| matches!(problem, SignatureProblem::Timestamp(reason) if reason.contains("imprint"))),
            "{problems:?}"
        );

        let stranger = new_ca("stranger", now);
        let imprint: [u8; 32] = Sha256::digest(signature_value(&pdf)).into();
        let foreign = with_unsigned_attribute(&pdf, timestamp_attribute(&stranger, imprint, now));
        let result = validate_pdf(&foreign, &[ca.root().clone()], None);
        assert!(!result.valid);
        assert!(
            result.signatures[0]
                .problems
                .iter()
                .any(|problem| matches!(problem, SignatureProblem::Timestamp(_))),
            "{result:#?}"
        );
        // The token itself is checkable alone.
        let token = timestamp_attribute(&ca, imprint, now)
            .values
            .get(0)
            .unwrap()
            .to_der()
            .unwrap();
        let facts =
            verify_signature_timestamp(&token, &signature_value(&pdf), &[ca.root().clone()], &[])
                .unwrap();
        assert_eq!(facts.time.timestamp(), now.timestamp());
    }

    /// `signed` with a document timestamp (`/Type /DocTimeStamp`, `ETSI.RFC3161`) from `ca`'s TSA
    /// stamped at `at`.
    fn document_timestamped(
        ca: &std::sync::Arc<Ca>,
        signed: &(Vec<u8>, Revision, SignatureField),
        at: DateTime<Utc>,
    ) -> Vec<u8> {
        use crate::documents::pades;
        let (bytes, revision, field) = signed;
        let mut prepared = pades::prepare(
            bytes,
            revision,
            field,
            &SignatureInfo {
                name: "esign".into(),
                reason: "timestamp".into(),
                location: None,
                signed_at: at,
            },
        )
        .unwrap();
        // pades writes signature dictionaries; turn this one into a document timestamp of the
        // same length, so the byte range stays right.
        let written: &[u8] = b"/Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached";
        let mut wanted = b"/Type /DocTimeStamp /SubFilter /ETSI.RFC3161".to_vec();
        wanted.resize(written.len(), b' ');
        let at_offset = find(&prepared.bytes, written, bytes.len()).unwrap();
        prepared.bytes[at_offset..at_offset + written.len()].copy_from_slice(&wanted);
        let imprint: [u8; 32] = Sha256::digest(prepared.signed_content()).into();
        let policy = crate::trust::parse_oid(crate::trust::DEFAULT_TSA_POLICY).unwrap();
        let (response, _) = ca
            .tsa_signer(policy)
            .respond(&tsa::request_der(&imprint, 1).unwrap(), at);
        let token = tsa::TimeStampResp::from_der(&response)
            .unwrap()
            .time_stamp_token
            .unwrap()
            .to_der()
            .unwrap();
        pades::embed(prepared, &token).unwrap()
    }

    #[test]
    fn a_document_timestamp_is_checked_against_the_bytes_it_covers() {
        let now = Utc::now();
        let ca = new_ca("esign", now);
        let signed = signed_document(&ca, now);
        let stamped_at = now + chrono::TimeDelta::seconds(30);
        let stamped = document_timestamped(&ca, &signed, stamped_at);

        let result = validate_pdf(&stamped, &[ca.root().clone()], Some(now));
        assert!(result.valid, "{result:#?}");
        let [signature, timestamp] = &result.signatures[..] else {
            panic!("two signatures: {result:#?}")
        };
        assert_eq!(signature.kind, SignatureKind::Signature);
        assert!(!signature.covers_whole_document);
        assert_eq!(timestamp.kind, SignatureKind::DocumentTimestamp);
        assert!(timestamp.covers_whole_document);
        assert_eq!(timestamp.field_name.as_deref(), Some("DocumentTimestamp"));
        assert_eq!(
            timestamp.timestamp.as_ref().unwrap().time.timestamp(),
            stamped_at.timestamp()
        );
        assert_eq!(
            timestamp
                .signer
                .as_ref()
                .unwrap()
                .subject_common_name
                .as_deref(),
            Some("esign Timestamp Authority")
        );

        // A byte of the signed document changed: both the signature and the timestamp notice.
        let mut tampered = stamped.clone();
        let at = find(&tampered, b"stream", 0).unwrap() + 20;
        tampered[at] ^= 1;
        let result = validate_pdf(&tampered, &[ca.root().clone()], Some(now));
        assert!(!result.valid);
        for signature in &result.signatures {
            assert_eq!(signature.problems, [SignatureProblem::DigestMismatch]);
        }
        // A TSA the caller does not trust.
        let stranger = new_ca("stranger", now);
        let result = validate_pdf(
            &stamped,
            &[ca.root().clone(), stranger.root().clone()],
            Some(now),
        );
        assert!(result.valid);
        let result = validate_pdf(
            &document_timestamped(&stranger, &signed, now),
            &[ca.root().clone()],
            Some(now),
        );
        assert!(
            matches!(
                result.signatures[1].problems[..],
                [SignatureProblem::Timestamp(_)]
            ),
            "{result:#?}"
        );
    }

    #[test]
    fn without_a_requested_time_the_claimed_signing_time_is_used_and_said_so() {
        let now = Utc::now();
        let ca = new_ca("esign", now);
        let pdf = signed_by(&ca, now);
        let result = validate_pdf(&pdf, &[ca.root().clone()], None);
        assert!(result.valid, "{result:#?}");
        let checked = result.signatures[0].checked_at.unwrap();
        assert_eq!(checked.basis, TimeBasis::ClaimedSigningTime);
        assert_eq!(checked.time.timestamp(), now.timestamp());
        assert_eq!(result.signatures[0].field_name.as_deref(), Some("Signer_A"));
    }

    #[test]
    fn pdf_dates_read_with_and_without_zones() {
        assert_eq!(
            pdf_date("D:20231027100500Z"),
            Some(time("2023-10-27T10:05:00Z"))
        );
        assert_eq!(
            pdf_date("D:20231027180500+08'00'"),
            Some(time("2023-10-27T10:05:00Z"))
        );
        assert_eq!(
            pdf_date("D:20231027050500-05'00"),
            Some(time("2023-10-27T10:05:00Z"))
        );
        assert_eq!(pdf_date("D:2023"), Some(time("2023-01-01T00:00:00Z")));
        assert_eq!(pdf_date("D:2023102"), None);
        assert_eq!(pdf_date("D:20231341"), None);
        assert_eq!(pdf_date("nonsense"), None);
    }

    #[test]
    fn der_prefixes_stop_at_the_encoded_length() {
        assert_eq!(
            der_prefix(&[0x30, 0x02, 1, 2, 0, 0]),
            Some(&[0x30, 0x02, 1, 2][..])
        );
        assert_eq!(
            der_prefix(&[0x30, 0x81, 0x01, 7, 0]),
            Some(&[0x30, 0x81, 0x01, 7][..])
        );
        assert_eq!(der_prefix(&[0x30, 0x05, 1]), None);
        assert_eq!(der_prefix(&[0x30, 0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1]), None);
        assert_eq!(der_prefix(&[0x31, 0x00]), None);
        assert_eq!(der_prefix(&[]), None);
    }

    #[test]
    fn results_serialize_problems_with_codes() {
        let result = validate_pdf(b"not a pdf", &[], None);
        assert_eq!(result.problems, [DocumentProblem::NotAPdf]);
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["valid"], false);
        assert_eq!(json["problems"][0]["code"], "NOT_A_PDF");
        assert_eq!(json["problems"][0]["message"], "the file is not a PDF");
    }

    /// One signed document shared by the property tests (generating a CA per case is slow).
    fn shared_signed() -> &'static (Vec<u8>, Certificate) {
        static SIGNED: std::sync::OnceLock<(Vec<u8>, Certificate)> = std::sync::OnceLock::new();
        SIGNED.get_or_init(|| {
            let now = Utc::now();
            let ca = new_ca("esign", now);
            (signed_by(&ca, now), ca.root().clone())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..4096),
            with_header in any::<bool>(),
        ) {
            let mut pdf = if with_header { b"%PDF-1.7\n".to_vec() } else { Vec::new() };
            pdf.extend_from_slice(&bytes);
            let result = validate_pdf(&pdf, &[], None);
            prop_assert!(!result.valid);
        }

        #[test]
        fn any_changed_signed_byte_fails(offset in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let (signed, root) = shared_signed();
            let (gap_start, gap_end) = contents_gap(signed);
            let covered = gap_start + (signed.len() - gap_end);
            let at = offset.index(covered);
            let at = if at < gap_start { at } else { at - gap_start + gap_end };
            let mut pdf = signed.clone();
            pdf[at] ^= flip;
            let result = validate_pdf(&pdf, std::slice::from_ref(root), None);
            prop_assert!(!result.valid, "a change at byte {} passed", at);
        }

        #[test]
        fn pdf_like_noise_never_panics(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("%PDF-1.7\n".to_owned()),
                    Just("1 0 obj".to_owned()),
                    Just("endobj".to_owned()),
                    Just("<<".to_owned()),
                    Just(">>".to_owned()),
                    Just("/Type /Sig".to_owned()),
                    Just("/ByteRange [0 10 20 5]".to_owned()),
                    Just("/Contents <3082".to_owned()),
                    Just("(".to_owned()),
                    Just(")".to_owned()),
                    Just("[".to_owned()),
                    Just("stream\n".to_owned()),
                    Just("endstream".to_owned()),
                    "[0-9 ]{1,12}",
                    "\\PC{0,8}",
                ],
                0..64,
            )
        ) {
            let pdf = parts.concat();
            let _ = validate_pdf(pdf.as_bytes(), &[], None);
        }

        #[test]
        fn a_mutated_signed_document_never_panics_and_never_passes(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let (signed, root) = shared_signed();
            let mut pdf = signed.clone();
            for (index, byte) in &edits {
                let at = index.index(pdf.len());
                pdf[at] = *byte;
            }
            let edited = pdf.clone();
            if truncate {
                pdf.truncate(cut.index(pdf.len()));
            }
            let result = validate_pdf(&pdf, std::slice::from_ref(root), None);
            // Only the unsigned gap may change without failing validation, and only where the
            // container stays the same: hex padding after the DER, the other case of a digit, or
            // a certificate in the container's certificate set that the chain does not use (that
            // set is not signed; the signer's content and signer info must stay byte for byte).
            let (gap_start, gap_end) = contents_gap(signed);
            let same_length = pdf.len() == signed.len();
            let container_same = (0..signed.len()).all(|at| {
                let inside = at > gap_start && at < gap_end - 1;
                signed[at] == edited[at]
                    || (inside
                        && (is_padding(signed, at)
                            || syntax_hex(signed[at]) == syntax_hex(edited[at])))
            });
            let only_certificates = (0..signed.len()).all(|at| {
                signed[at] == edited[at] || (at > gap_start && at < gap_end - 1)
            }) && signed_parts(&edited, gap_start, gap_end).is_some_and(|parts| {
                Some(parts) == signed_parts(signed, gap_start, gap_end)
            });
            let harmless = same_length && (container_same || only_certificates);
            if !harmless {
                prop_assert!(!result.valid, "a changed document passed: {:?}", edits);
            }
        }
    }

    fn syntax_hex(byte: u8) -> Option<u8> {
        char::from(byte)
            .to_digit(16)
            .and_then(|digit| u8::try_from(digit).ok())
    }

    /// What the signature covers or names inside the container: the encapsulated content and the
    /// signer infos (signed attributes, signature), DER-encoded; `None` when the gap does not decode.
    fn signed_parts(pdf: &[u8], start: usize, end: usize) -> Option<Vec<u8>> {
        let hex_text = std::str::from_utf8(pdf.get(start + 1..end - 1)?).ok()?;
        let raw = hex::decode(hex_text).ok()?;
        let content_info = ContentInfo::from_der(der_prefix(&raw)?).ok()?;
        let signed_data: SignedData = content_info.content.decode_as().ok()?;
        let mut parts = signed_data.encap_content_info.to_der().ok()?;
        parts.extend(signed_data.signer_infos.to_der().ok()?);
        Some(parts)
    }

    /// Whether offset `at` of the gap is hex padding after the DER container.
    fn is_padding(pdf: &[u8], at: usize) -> bool {
        let (start, end) = contents_gap(pdf);
        let raw = hex::decode(std::str::from_utf8(&pdf[start + 1..end - 1]).unwrap()).unwrap();
        let der_len = der_prefix(&raw).unwrap().len();
        at >= start + 1 + der_len * 2
    }
}
