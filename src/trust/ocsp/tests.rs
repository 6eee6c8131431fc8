//! The responder's answers, read back with the types above and checked against the intermediate's
//! key; openssl checks them end to end in the integration tests.

use aggregates::certificate_revocation::RevocationReason;
use chrono::{TimeDelta, Utc};

use super::*;
use crate::trust::ca::NewCa;
use crate::trust::cms;

const HOUR: Duration = Duration::from_secs(3600);

fn event_certificate(ca: &Ca) -> Certificate {
    let issued = ca
        .issue_event_certificate("张三", "110101********1234", Utc::now(), HOUR)
        .unwrap();
    Certificate::from_der(&issued.certificate_der).unwrap()
}

fn revocation_of(certificate: &Certificate, reason: RevocationReason) -> RevokedCertificate {
    RevokedCertificate {
        serial: CertificateSerial::from_bytes(
            certificate.tbs_certificate().serial_number().as_bytes(),
        )
        .unwrap(),
        revoked_at: Utc::now() - TimeDelta::minutes(5),
        reason,
    }
}

/// The answer's single responses, after checking its status and the intermediate's signature.
fn answered(ca: &Ca, der: &[u8]) -> BasicOcspResponse {
    let (status, basic) = read_response(der).unwrap();
    assert_eq!(status, ResponseStatus::Successful);
    let basic = basic.unwrap();
    cms::verify_signature(
        ca.intermediate()
            .tbs_certificate()
            .subject_public_key_info(),
        &basic.signature_algorithm.oid,
        None,
        &basic.tbs_response_data.to_der().unwrap(),
        basic.signature.raw_bytes(),
    )
    .unwrap();
    assert_eq!(
        basic.certs.as_deref(),
        Some(&[ca.intermediate().clone()][..])
    );
    assert_eq!(
        basic.tbs_response_data.responder_id,
        ResponderId::ByName(ca.intermediate().tbs_certificate().subject().clone())
    );
    basic
}

#[test]
fn a_live_certificate_is_good_with_either_hash() {
    let new = NewCa::generate("esign", Utc::now()).unwrap();
    let ca = &new.ca;
    let certificate = event_certificate(ca);
    for hash in [CertIdHash::Sha1, CertIdHash::Sha256] {
        let query = Query::for_certificate(&certificate, ca.intermediate(), hash).unwrap();
        let parsed = Query::parse(&query.to_der().unwrap()).unwrap();
        let der = ca.ocsp_response(&parsed, &[], Utc::now(), HOUR).unwrap();
        let basic = answered(ca, &der);
        let single = &basic.tbs_response_data.responses[0];
        assert_eq!(single.cert_status, CertStatus::Good(Null));
        assert_eq!(single.cert_id, query.cert_ids[0]);
        let this_update = single.this_update.to_unix_duration();
        let next_update = single.next_update.unwrap().to_unix_duration();
        assert_eq!(next_update - this_update, HOUR);
    }
}

#[test]
fn a_revoked_certificate_is_revoked_with_time_and_reason() {
    let new = NewCa::generate("esign", Utc::now()).unwrap();
    let ca = &new.ca;
    let certificate = event_certificate(ca);
    let revocation = revocation_of(&certificate, RevocationReason::KeyCompromise);
    let der = ca
        .ocsp_response_for(
            &certificate,
            std::slice::from_ref(&revocation),
            Utc::now(),
            HOUR,
        )
        .unwrap();
    let basic = answered(ca, &der);
    let CertStatus::Revoked(info) = &basic.tbs_response_data.responses[0].cert_status else {
        panic!("{basic:?}");
    };
    assert_eq!(
        info.revocation_time.to_unix_duration().as_secs(),
        revocation.revoked_at.timestamp() as u64
    );
    assert_eq!(info.revocation_reason, Some(CrlReason::KeyCompromise));

    // `unspecified` is stated by leaving the reason out.
    let unspecified = revocation_of(&certificate, RevocationReason::Unspecified);
    let der = ca
        .ocsp_response_for(&certificate, &[unspecified], Utc::now(), HOUR)
        .unwrap();
    let basic = answered(ca, &der);
    let CertStatus::Revoked(info) = &basic.tbs_response_data.responses[0].cert_status else {
        panic!("{basic:?}");
    };
    assert_eq!(info.revocation_reason, None);
}

#[test]
fn another_issuers_certificate_is_unknown() {
    let new = NewCa::generate("esign", Utc::now()).unwrap();
    let stranger = NewCa::generate("stranger", Utc::now()).unwrap();
    let certificate = event_certificate(&stranger.ca);
    let query =
        Query::for_certificate(&certificate, stranger.ca.intermediate(), CertIdHash::Sha1).unwrap();
    let der = new.ca.ocsp_response(&query, &[], Utc::now(), HOUR).unwrap();
    let basic = answered(&new.ca, &der);
    assert_eq!(
        basic.tbs_response_data.responses[0].cert_status,
        CertStatus::Unknown(Null)
    );
    // Nor does the intermediate answer for itself: the root's CRL does.
    let query =
        Query::for_certificate(new.ca.intermediate(), new.ca.root(), CertIdHash::Sha256).unwrap();
    let der = new.ca.ocsp_response(&query, &[], Utc::now(), HOUR).unwrap();
    assert_eq!(
        answered(&new.ca, &der).tbs_response_data.responses[0].cert_status,
        CertStatus::Unknown(Null)
    );
}

#[test]
fn the_nonce_is_echoed() {
    let new = NewCa::generate("esign", Utc::now()).unwrap();
    let certificate = event_certificate(&new.ca);
    let query = Query::for_certificate(&certificate, new.ca.intermediate(), CertIdHash::Sha1)
        .unwrap()
        .with_nonce(&[7; 16])
        .unwrap();
    let parsed = Query::parse(&query.to_der().unwrap()).unwrap();
    let der = new
        .ca
        .ocsp_response(&parsed, &[], Utc::now(), HOUR)
        .unwrap();
    let basic = answered(&new.ca, &der);
    let extensions = basic.tbs_response_data.response_extensions.unwrap();
    assert_eq!(extensions.len(), 1);
    assert_eq!(extensions[0].extn_id, oid::OCSP_NONCE);
    assert_eq!(
        extensions[0].extn_value.as_bytes(),
        OctetString::new(&[7u8; 16][..]).unwrap().to_der().unwrap()
    );
}

#[test]
fn unreadable_requests_are_refused_and_the_status_answers_are_der() {
    assert!(Query::parse(b"not der").is_err());
    assert!(Query::parse(&[]).is_err());
    assert!(Query::parse(&vec![0x30; MAX_REQUEST_BYTES + 1]).is_err());
    // A request naming no certificate.
    let empty = OcspRequest {
        tbs_request: TbsRequest {
            version: 0,
            requestor_name: None,
            request_list: Vec::new(),
            request_extensions: None,
        },
        optional_signature: None,
    }
    .to_der()
    .unwrap();
    assert!(Query::parse(&empty).is_err());
    // A critical extension the responder does not know.
    let new = NewCa::generate("esign", Utc::now()).unwrap();
    let certificate = event_certificate(&new.ca);
    let mut query =
        Query::for_certificate(&certificate, new.ca.intermediate(), CertIdHash::Sha1).unwrap();
    query.nonce = Some(Extension {
        extn_id: oid::CRL_NUMBER,
        critical: true,
        extn_value: OctetString::new(vec![5, 0]).unwrap(),
    });
    assert!(Query::parse(&query.to_der().unwrap()).is_err());

    for status in [
        ResponseStatus::MalformedRequest,
        ResponseStatus::InternalError,
        ResponseStatus::TryLater,
    ] {
        let encoded = OcspResponse {
            response_status: status,
            response_bytes: None,
        }
        .to_der()
        .unwrap();
        assert_eq!(status_only(status), encoded);
        assert_eq!(read_response(&encoded).unwrap().0, status);
    }
}

#[test]
fn serials_of_the_query_are_those_of_the_certificates() {
    let new = NewCa::generate("esign", Utc::now()).unwrap();
    let certificate = event_certificate(&new.ca);
    let query =
        Query::for_certificate(&certificate, new.ca.intermediate(), CertIdHash::Sha256).unwrap();
    assert_eq!(
        query.serials(),
        [
            CertificateSerial::from_bytes(certificate.tbs_certificate().serial_number().as_bytes())
                .unwrap()
        ]
    );
}
