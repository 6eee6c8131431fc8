//! A CMS signature (PAdES or PKCS#7 detached) over the bytes a signature dictionary covers: the
//! container, the message digest, signing-certificate-v2, its signature timestamps, and then the
//! signer's certificate at the most trusted time there is.

use ::cms::cert::CertificateChoices;
use ::cms::content_info::ContentInfo;
use ::cms::signed_data::{SignedData, SignerInfo};
use chrono::{DateTime, Utc};
use der::asn1::OctetString;
use der::{Decode, Encode};
use x509_cert::Certificate;

use super::certificate::{allows_signing, certificate_facts, check_trust};
use super::report::{CheckedTime, SignatureProblem, SignatureValidation, TimeBasis};
use super::timestamp::{SIGNATURE_TIME_STAMP_TOKEN, verify_signature_timestamp};
use crate::trust::cms::{self, SigningCertificateV2};
use crate::trust::oid;

/// The parts of a CMS `SignedData` with one signer that validation reads.
pub(super) struct Container {
    pub(super) signed_data: SignedData,
    pub(super) signer_info: SignerInfo,
    pub(super) certificates: Vec<Certificate>,
}

pub(super) fn read_container(der: &[u8]) -> Result<Container, SignatureProblem> {
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

/// A PAdES / PKCS#7 detached signature over `covered`: its certificate must chain to `anchors`,
/// its signature timestamps to `timestamp_anchors`.
pub(super) fn check_cms_signature(
    der: &[u8],
    covered: &[u8],
    anchors: &[Certificate],
    timestamp_anchors: &[Certificate],
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
        .find(|certificate| cms::identifies(&container.signer_info.sid, certificate))
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
                        timestamp_anchors,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::validate::fixtures::{new_ca, signed_by};
    use crate::documents::validate::validate_pdf;

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
}
