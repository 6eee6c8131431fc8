//! The revocation projection, on a stream made by the real aggregate.

use aggregates::certificate_revocation::*;

use crate::testing::*;
use crate::{SqlValue, Table, certificate_revocation_rows};

const SERIAL: &str = "4A3F0C1D2E3F405162738495A6B7C8D9";

fn revoked() -> Recorded<CertificateRevocationAggregate> {
    let mut stream = Recorded::new();
    stream.run(
        RevocationCommand::Revoke(RevokeCertificate {
            serial: SERIAL.to_ascii_lowercase(),
            reason: "keyCompromise".into(),
            operator: "王五".into(),
            now: at(0),
        }),
        at(1),
    );
    stream
}

#[test]
fn a_revocation_is_one_row_keyed_by_its_serial() {
    let stream = revoked();
    let rows = certificate_revocation_rows(&stream.projected()).unwrap();
    assert_eq!(rows.len(), 1);
    let row = row(&rows, Table::CertificateRevocation, &[SERIAL]);
    assert_eq!(value(row, "reason"), &text("keyCompromise"));
    assert_eq!(value(row, "reason_code"), &SqlValue::Integer(1));
    assert_eq!(value(row, "operator"), &text("王五"));
    assert_eq!(value(row, "revoked_at"), &time(at(0)));
    assert_eq!(value(row, "created_at"), &stream.recorded_at(1));
    assert_eq!(
        value(row, "id"),
        &SqlValue::Integer(Recorded::<CertificateRevocationAggregate>::position(1))
    );
    assert_eq!(value(row, "stream_version"), &SqlValue::Integer(1));
}

#[test]
fn a_rebuild_gives_the_same_row() {
    let stream = revoked();
    let live = certificate_revocation_rows(&stream.projected()).unwrap();
    let reloaded = stream.reloaded();
    let rebuilt = certificate_revocation_rows(&projected(&reloaded)).unwrap();
    assert_eq!(live, rebuilt);
}
