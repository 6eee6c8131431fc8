//! Given/when/then tests of the CertificateRevocation aggregate.

use super::*;
use crate::testing::{at, given, history, then, types, when};

const SERIAL: &str = "4A3F0C1D2E3F405162738495A6B7C8D9";

fn revoke(serial: &str, reason: &str, minutes: i64) -> RevocationCommand {
    RevocationCommand::Revoke(RevokeCertificate {
        serial: serial.into(),
        reason: reason.into(),
        operator: "王五".into(),
        now: at(minutes),
    })
}

#[test]
fn a_first_revocation_records_serial_reason_operator_and_time() {
    let state = given(Vec::<RevocationEvent>::new());
    then(
        when(&state, revoke(SERIAL, "keyCompromise", 0)),
        Ok(vec![RevocationEvent::Revoked {
            serial: CertificateSerial::parse(SERIAL).unwrap(),
            reason: RevocationReason::KeyCompromise,
            operator: Operator::parse("王五").unwrap(),
            revoked_at: at(0),
        }]),
    );
}

#[test]
fn revoking_twice_is_refused_with_the_first_revocation() {
    let state = given(history([revoke(SERIAL, "superseded", 0)]));
    let refused = when(&state, revoke(SERIAL, "keyCompromise", 5)).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict);
    let RevocationError::AlreadyRevoked(first) = &refused else {
        panic!("{refused:?}");
    };
    assert_eq!(first.reason, RevocationReason::Superseded);
    assert_eq!(first.revoked_at, at(0));
    assert!(
        refused.to_string().contains("was revoked already"),
        "{refused}"
    );
}

#[test]
fn every_bad_field_is_named_together() {
    let state = given(Vec::<RevocationEvent>::new());
    let refused = when(
        &state,
        RevocationCommand::Revoke(RevokeCertificate {
            serial: "not-hex".into(),
            reason: "certificateHold".into(),
            operator: " ".into(),
            now: at(0),
        }),
    )
    .unwrap_err();
    let RevocationError::Invalid(errors) = &refused else {
        panic!("{refused:?}");
    };
    for field in ["serial", "reason", "operator"] {
        assert!(errors.names(field), "{field}: {errors}");
    }
}

#[test]
fn a_revocation_is_one_event_in_its_stream() {
    let events = history([revoke(SERIAL, "cessationOfOperation", 0)]);
    assert_eq!(types(&events), ["CertificateRevoked"]);
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["reason"], "cessationOfOperation");
    assert_eq!(json["serial"], SERIAL);
    let back: RevocationEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, events[0]);
}

#[test]
fn serials_are_read_as_openssl_prints_them_and_in_other_spellings() {
    let canonical = CertificateSerial::parse(SERIAL).unwrap();
    for spelling in [
        "4a3f0c1d2e3f405162738495a6b7c8d9",
        "serial=4A3F0C1D2E3F405162738495A6B7C8D9",
        "0x004a3f0c1d2e3f405162738495a6b7c8d9",
        "4a:3f:0c:1d:2e:3f:40:51:62:73:84:95:a6:b7:c8:d9",
    ] {
        assert_eq!(CertificateSerial::parse(spelling).unwrap(), canonical);
    }
    assert_eq!(CertificateSerial::parse("abc").unwrap().as_str(), "0ABC");
    assert_eq!(
        CertificateSerial::from_bytes(&[0x00, 0xC4, 0x01])
            .unwrap()
            .as_str(),
        "C401"
    );
    assert_eq!(canonical.to_bytes()[0], 0x4A);
    assert_eq!(CertificateSerial::parse("00"), Err(SerialError::Zero));
    assert_eq!(CertificateSerial::parse("xyz"), Err(SerialError::NotHex));
    assert_eq!(
        CertificateSerial::parse(&"1".repeat(41)),
        Err(SerialError::TooLong)
    );
}

#[test]
fn reasons_carry_their_rfc_5280_codes() {
    let codes: Vec<u8> = RevocationReason::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(codes, [0, 1, 3, 4, 5]);
    assert_eq!(
        RevocationReason::parse("key-compromise"),
        Ok(RevocationReason::KeyCompromise)
    );
    assert_eq!(RevocationReason::parse("certificateHold"), Err(ReasonError));
    assert_eq!(
        RevocationReason::from_code(4),
        Some(RevocationReason::Superseded)
    );
}
