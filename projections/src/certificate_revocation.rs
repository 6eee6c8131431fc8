//! `certificate_revocation`: one row per revoked certificate, so the CA's CRL and OCSP responder
//! find revoked serial numbers with one indexed read instead of folding streams.

use aggregates::Aggregate;
use aggregates::certificate_revocation::{
    CertificateRevocationAggregate, RevocationEvent, RevocationState,
};

use crate::ProjectionError;
use crate::row::{Row, SqlValue, Table};
use crate::stream::{Draft, ProjectedEvent, fold};

/// Every row a revocation stream owns: its `certificate_revocation` row.
pub fn certificate_revocation_rows(
    events: &[ProjectedEvent<'_, RevocationEvent>],
) -> Result<Vec<Row>, ProjectionError> {
    fold(
        events,
        RevocationState::default(),
        |state, event| {
            CertificateRevocationAggregate::evolve(state, event.event);
            Ok(())
        },
        shape,
    )
}

fn shape(state: &RevocationState) -> Result<Vec<Draft>, ProjectionError> {
    let Some(revocation) = state.revocation() else {
        return Err(ProjectionError::NotInitiated);
    };
    let body = vec![
        ("serial", SqlValue::text(revocation.serial.as_str())),
        ("reason", SqlValue::text(revocation.reason.as_str())),
        (
            "reason_code",
            SqlValue::Integer(i64::from(revocation.reason.code())),
        ),
        ("operator", SqlValue::text(revocation.operator.as_str())),
        ("revoked_at", SqlValue::timestamp(revocation.revoked_at)),
    ];
    Ok(vec![Draft::new(Table::CertificateRevocation, body)])
}

#[cfg(test)]
mod tests;
