//! What the verify answer says about each signature of a checked file, in document order: who
//! signed, what kind of signature it is, the time its RFC 3161 timestamp proves (apart from the
//! time the signer merely claims), its certificate, its validity and why not, and whether
//! long-term validation data covers it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::documents::contract::PLATFORM_SEAL_FIELD;
use crate::documents::validate::{
    CertificateFacts, PdfValidation, SignatureKind, SignatureProblem, SignatureValidation,
};

/// How the platform seal is named wherever a signer's name would stand.
pub const PLATFORM_SEAL_LABEL: &str = "平台签章";
/// How an RFC 3161 document timestamp is named wherever a signer's name would stand.
pub const DOCUMENT_TIMESTAMP_LABEL: &str = "文档时间戳";

/// What a signature is, for a reader of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SignatureRole {
    /// A person's signature (or any signature that is not the platform's).
    SignerSignature,
    /// esign's own seal over the whole document (the `PlatformSeal` field).
    PlatformSeal,
    /// An RFC 3161 document timestamp (`/Type /DocTimeStamp`).
    DocumentTimestamp,
}

/// One signature as `signatureInfo` lists it. The first fields are the ones the answer always
/// had; the rest were added and are documented in the OpenAPI schema `SignatureInfo`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureFacts {
    /// The certificate subject's common name, else the dictionary's `/Name`.
    pub signer: Option<String>,
    /// `/M`: the time the signer claims; nothing vouches for it. Same as `claimedTime`.
    pub sign_time: Option<DateTime<Utc>>,
    pub certificate_issuer: Option<String>,
    pub certificate_serial: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    pub field: Option<String>,
    pub valid: bool,
    pub covers_whole_document: bool,
    pub timestamp_authority: Option<String>,
    /// The verified timestamp's genTime. Same as `provenTime`.
    pub timestamp_time: Option<DateTime<Utc>>,
    pub problems: Vec<SignatureProblem>,

    /// 1 for the first signature of the document, in the order the revisions were written.
    pub index: usize,
    pub kind: SignatureRole,
    /// Who signed, as a reader should see it: a person's name as the certificate (or the
    /// signature dictionary) gives it; the platform seal as `平台签章 (<certificate name>)`; a
    /// document timestamp as `文档时间戳 (<authority>)`.
    pub signed_by: Option<String>,
    /// The time the signature's RFC 3161 timestamp proves (for a document timestamp, its own
    /// time); `null` when it has no timestamp that verified. Never the claimed time.
    pub proven_time: Option<DateTime<Utc>>,
    /// `/M`, the time the signer claims, unproven.
    pub claimed_time: Option<DateTime<Utc>>,
    /// The certificate's subject: `CN=..., SERIALNUMBER=..., O=...` as far as it says.
    pub certificate_subject: Option<String>,
    /// The certificate's issuer: `CN=..., O=...`.
    pub certificate_issuer_name: Option<String>,
    /// Why the signature is not valid (the first problem's message); `null` when valid.
    pub invalid_reason: Option<String>,
    /// The document carries long-term validation data for this signature (a `/DSS` with
    /// certificates and CRLs or OCSP responses, added after it).
    pub ltv_data_present: bool,
}

/// Every signature of `pdf` (validated from `bytes`), in document order.
pub fn signature_facts(pdf: &PdfValidation, bytes: &[u8]) -> Vec<SignatureFacts> {
    let ltv = pdf.long_term_validation_data(bytes);
    pdf.signatures
        .iter()
        .enumerate()
        .map(|(position, signature)| {
            facts_of(
                position + 1,
                signature,
                ltv.get(position).copied().unwrap_or(false),
            )
        })
        .collect()
}

/// What a signature is: a document timestamp by its type, the platform seal by its field.
pub fn role_of(signature: &SignatureValidation) -> SignatureRole {
    match signature.kind {
        SignatureKind::DocumentTimestamp => SignatureRole::DocumentTimestamp,
        SignatureKind::Signature
            if signature.field_name.as_deref() == Some(PLATFORM_SEAL_FIELD) =>
        {
            SignatureRole::PlatformSeal
        }
        SignatureKind::Signature => SignatureRole::SignerSignature,
    }
}

fn facts_of(index: usize, signature: &SignatureValidation, ltv: bool) -> SignatureFacts {
    let certificate = signature.signer.as_ref();
    let signer = certificate
        .and_then(|facts| facts.subject_common_name.clone())
        .or_else(|| signature.name.clone());
    let kind = role_of(signature);
    let authority = signature
        .timestamp
        .as_ref()
        .map(|timestamp| timestamp.authority.clone());
    let signed_by = match kind {
        SignatureRole::SignerSignature => signer.clone(),
        SignatureRole::PlatformSeal => Some(labelled(PLATFORM_SEAL_LABEL, signer.as_deref())),
        SignatureRole::DocumentTimestamp => Some(labelled(
            DOCUMENT_TIMESTAMP_LABEL,
            authority.as_deref().or(signer.as_deref()),
        )),
    };
    let proven_time = signature.timestamp.as_ref().map(|timestamp| timestamp.time);
    SignatureFacts {
        signer,
        sign_time: signature.claimed_signing_time,
        certificate_issuer: certificate.and_then(|facts| {
            facts
                .issuer_common_name
                .clone()
                .or_else(|| facts.issuer_organization.clone())
        }),
        certificate_serial: certificate.map(|facts| facts.serial_hex.clone()),
        valid_from: certificate.map(|facts| facts.not_before),
        valid_to: certificate.map(|facts| facts.not_after),
        field: signature.field_name.clone(),
        valid: signature.valid,
        covers_whole_document: signature.covers_whole_document,
        timestamp_authority: authority,
        timestamp_time: proven_time,
        problems: signature.problems.clone(),
        index,
        kind,
        signed_by,
        proven_time,
        claimed_time: signature.claimed_signing_time,
        certificate_subject: certificate.and_then(subject_of),
        certificate_issuer_name: certificate.and_then(issuer_of),
        invalid_reason: if signature.valid {
            None
        } else {
            Some(signature.problems.first().map_or_else(
                || "the signature is not valid".to_owned(),
                ToString::to_string,
            ))
        },
        ltv_data_present: ltv,
    }
}

/// `label (name)`, or the label alone without a name.
fn labelled(label: &str, name: Option<&str>) -> String {
    match name.map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) => format!("{label} ({name})"),
        None => label.to_owned(),
    }
}

fn distinguished_name(parts: &[(&str, &Option<String>)]) -> Option<String> {
    let text = parts
        .iter()
        .filter_map(|(key, value)| value.as_ref().map(|value| format!("{key}={value}")))
        .collect::<Vec<_>>()
        .join(", ");
    (!text.is_empty()).then_some(text)
}

fn subject_of(facts: &CertificateFacts) -> Option<String> {
    distinguished_name(&[
        ("CN", &facts.subject_common_name),
        ("SERIALNUMBER", &facts.subject_serial_number),
        ("O", &facts.subject_organization),
    ])
}

fn issuer_of(facts: &CertificateFacts) -> Option<String> {
    distinguished_name(&[
        ("CN", &facts.issuer_common_name),
        ("O", &facts.issuer_organization),
    ])
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::app::document_verification::validate_signatures;
    use crate::trust::ca::{Ca, NewCa};

    /// A document signed by 张三 (no timestamp on the signature), then sealed by the platform
    /// (timestamped by the CA's own TSA), made by a fresh CA.
    async fn signed_and_sealed() -> (Vec<u8>, Arc<Ca>) {
        let now = Utc::now();
        let ca = Arc::new(NewCa::generate("esign", now).unwrap().ca);
        let sealed = crate::documents::validate::fixtures::signed_and_sealed(&ca, now).await;
        (sealed, ca)
    }

    fn facts(bytes: &[u8], ca: &Ca) -> Vec<SignatureFacts> {
        let validation = validate_signatures(bytes, std::slice::from_ref(ca.root()));
        signature_facts(&validation, bytes)
    }

    #[tokio::test]
    async fn a_sealed_document_lists_the_signer_then_the_named_platform_seal() {
        let (pdf, ca) = signed_and_sealed().await;
        let facts = facts(&pdf, &ca);
        assert_eq!(facts.len(), 2, "{facts:#?}");

        let person = &facts[0];
        assert_eq!(person.index, 1);
        assert_eq!(person.kind, SignatureRole::SignerSignature);
        assert_eq!(person.signer.as_deref(), Some("张三"));
        assert_eq!(person.signed_by.as_deref(), Some("张三"));
        assert!(
            person.valid && person.invalid_reason.is_none(),
            "{person:#?}"
        );
        assert_eq!(
            person.proven_time, None,
            "a signature without a timestamp proves no time"
        );
        assert_eq!(person.timestamp_time, None);
        assert!(person.claimed_time.is_some(), "/M is kept, as claimed");
        assert_eq!(person.claimed_time, person.sign_time);
        assert_eq!(
            person.certificate_subject.as_deref(),
            Some("CN=张三, SERIALNUMBER=110101xxxxxxxx1234, O=esign")
        );
        assert_eq!(
            person.certificate_issuer_name.as_deref(),
            Some("CN=esign Signing CA, O=esign")
        );
        assert!(!person.ltv_data_present, "no /DSS in the document");

        let seal = &facts[1];
        assert_eq!(seal.index, 2);
        assert_eq!(seal.kind, SignatureRole::PlatformSeal);
        assert_eq!(seal.field.as_deref(), Some(PLATFORM_SEAL_FIELD));
        assert_eq!(
            seal.signed_by.as_deref(),
            Some("平台签章 (esign Platform Seal)")
        );
        assert!(seal.valid, "{seal:#?}");
        assert!(seal.proven_time.is_some(), "the seal is timestamped");
        assert_eq!(seal.proven_time, seal.timestamp_time);
        assert!(seal.timestamp_authority.is_some());
        assert!(seal.covers_whole_document);
        assert!(!seal.ltv_data_present);
    }

    #[tokio::test]
    async fn a_changed_byte_makes_the_signatures_invalid_with_a_reason() {
        let (pdf, ca) = signed_and_sealed().await;
        let mut tampered = pdf.clone();
        let at = tampered
            .windows(6)
            .position(|window| window == b"stream")
            .unwrap()
            + 20;
        tampered[at] ^= 0x01;
        let facts = facts(&tampered, &ca);
        assert_eq!(facts.len(), 2);
        for signature in &facts {
            assert!(!signature.valid);
            let reason = signature.invalid_reason.as_deref().unwrap();
            assert!(reason.contains("changed after signing"), "{reason}");
        }
        assert_eq!(facts[1].kind, SignatureRole::PlatformSeal);
    }

    #[test]
    fn a_document_timestamp_is_named_by_its_authority() {
        let signature = SignatureValidation {
            kind: SignatureKind::DocumentTimestamp,
            field_name: Some("DocumentTimestamp".into()),
            name: None,
            reason: None,
            location: None,
            claimed_signing_time: None,
            sub_filter: Some("ETSI.RFC3161".into()),
            byte_range: None,
            signer: None,
            covers_whole_document: true,
            timestamp: Some(crate::documents::validate::TimestampFacts {
                time: Utc::now(),
                authority: "esign Timestamp Authority".into(),
                serial_hex: "01".into(),
            }),
            checked_at: None,
            valid: true,
            problems: Vec::new(),
        };
        let facts = facts_of(3, &signature, false);
        assert_eq!(facts.kind, SignatureRole::DocumentTimestamp);
        assert_eq!(
            facts.signed_by.as_deref(),
            Some("文档时间戳 (esign Timestamp Authority)")
        );
        assert_eq!(
            facts.proven_time,
            signature.timestamp.as_ref().map(|t| t.time)
        );
        let json = serde_json::to_value(&facts).unwrap();
        assert_eq!(json["kind"], "DOCUMENT_TIMESTAMP");
        assert_eq!(json["claimedTime"], serde_json::Value::Null);
        assert_eq!(json["ltvDataPresent"], false);
    }
}
