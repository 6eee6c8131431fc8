//! The signer's certificate: what it says about its holder and issuer, whether it may sign, and
//! whether it was valid and chained to a trust anchor at the time it is checked at.

use std::time::Duration;

use chrono::{DateTime, Utc};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};

use super::report::{CertificateFacts, SignatureProblem, SignatureValidation};
use crate::trust::{cms, oid};

/// The certificate's validity at `time`, then its chain (checked within the certificate's own
/// validity when `time` falls outside it, so an expired certificate and an untrusted one are told
/// apart).
pub(super) fn check_trust(
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

/// A signing certificate either says nothing about key usage or allows digitalSignature or
/// nonRepudiation.
pub(super) fn allows_signing(certificate: &Certificate) -> bool {
    match certificate.tbs_certificate().get_extension::<KeyUsage>() {
        Ok(Some((_, usage))) => {
            usage.0.contains(KeyUsages::DigitalSignature)
                || usage.0.contains(KeyUsages::NonRepudiation)
        }
        Ok(None) => true,
        Err(_) => false,
    }
}

pub(super) fn certificate_facts(certificate: &Certificate) -> CertificateFacts {
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

pub(super) use crate::trust::name_attribute;

pub(super) fn utc(since_epoch: Duration) -> DateTime<Utc> {
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
