//! Timestamps: a signature timestamp (an RFC 3161 token over a SignerInfo's signature value, as
//! CAdES-T adds it) and a document timestamp (`/Type /DocTimeStamp`, a token over the covered bytes).

use der::Decode;
use der::asn1::{ObjectIdentifier, OctetString};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use super::certificate::{certificate_facts, name_attribute, utc};
use super::cms_signature::read_container;
use super::report::{
    CheckedTime, SignatureProblem, SignatureValidation, TimeBasis, TimestampFacts,
};
use crate::trust::{oid, tsa};

/// id-aa-signatureTimeStampToken (RFC 3161 appendix A): an unsigned attribute holding a timestamp
/// token over the SignerInfo's signature value.
pub const SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");

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
pub(super) fn check_document_timestamp(
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

#[cfg(test)]
mod tests {
    use ::cms::content_info::ContentInfo;
    use ::cms::signed_data::{SignedData, SignerInfo};
    use chrono::{DateTime, Utc};
    use der::Encode;
    use der::asn1::{Any, SetOfVec};
    use x509_cert::attr::Attribute;

    use super::*;
    use crate::documents::pades::Revision;
    use crate::documents::pdf::SignatureField;
    use crate::documents::validate::fixtures::{contents_gap, new_ca, signed_by, signed_document};
    use crate::documents::validate::signature_dictionary::der_prefix;
    use crate::documents::validate::{SignatureKind, find, validate_pdf};
    use crate::trust::ca::Ca;

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
        let policy = crate::trust::parse_tsa_policy(crate::trust::DEFAULT_TSA_POLICY).unwrap();
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
        let prepared =
            pades::prepare(bytes, revision, field, pades::Filling::DocumentTimestamp).unwrap();
        let imprint: [u8; 32] = Sha256::digest(prepared.signed_content()).into();
        let policy = crate::trust::parse_tsa_policy(crate::trust::DEFAULT_TSA_POLICY).unwrap();
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
}
