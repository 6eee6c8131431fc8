//! The reads of the `certificate_revocation` query table: every revoked serial (the CRL) and one
//! serial (an OCSP answer). Rows are written by the command pipeline like every projection.

use chrono::{DateTime, Utc};
use projections::Table;

use super::query_tables::{RowView, row, rows};
use super::{Store, StoreError};

/// One revoked certificate as the table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedSerial {
    /// Upper-case hexadecimal without leading zero bytes.
    pub serial: String,
    /// The RFC 5280 CRLReason code.
    pub reason_code: u8,
    pub revoked_at: DateTime<Utc>,
}

/// The revocation table's reads: [`Store::revocations`].
#[derive(Debug, Clone, Copy)]
pub struct RevocationReads<'a>(&'a Store);

impl Store {
    pub fn revocations(&self) -> RevocationReads<'_> {
        RevocationReads(self)
    }
}

impl RevocationReads<'_> {
    /// Every revoked certificate, oldest revocation first.
    pub async fn all(self) -> Result<Vec<RevokedSerial>, StoreError> {
        rows(
            self.0,
            Table::CertificateRevocation,
            "1 = 1",
            Vec::new(),
            " ORDER BY revoked_at, serial",
        )
        .await?
        .iter()
        .map(revoked_serial)
        .collect()
    }

    /// The revocation of `serial` (upper-case hexadecimal without leading zero bytes), if any.
    pub async fn find(self, serial: &str) -> Result<Option<RevokedSerial>, StoreError> {
        row(
            self.0,
            Table::CertificateRevocation,
            "serial = {1}",
            vec![serial.into()],
        )
        .await?
        .as_ref()
        .map(revoked_serial)
        .transpose()
    }
}

fn revoked_serial(row: &RowView) -> Result<RevokedSerial, StoreError> {
    let damaged = |column: &str| {
        StoreError::Database(format!(
            "certificate_revocation: column {column} is missing or out of range"
        ))
    };
    Ok(RevokedSerial {
        serial: row
            .text("serial")
            .ok_or_else(|| damaged("serial"))?
            .to_owned(),
        reason_code: row
            .integer("reason_code")
            .and_then(|code| u8::try_from(code).ok())
            .ok_or_else(|| damaged("reason_code"))?,
        revoked_at: row
            .time("revoked_at")
            .ok_or_else(|| damaged("revoked_at"))?,
    })
}
