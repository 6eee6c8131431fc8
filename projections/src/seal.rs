//! `seal` and `seal_version`: a seal's row shows the version in use and whether the seal may be
//! used; one `seal_version` row per version keeps the facts of every picture it ever had.

use aggregates::Aggregate;
use aggregates::seal::{SealAggregate, SealEvent, SealState, SealVersion};

use crate::ProjectionError;
use crate::row::{Row, SqlValue, Table};
use crate::stream::{Draft, ProjectedEvent, fold};

/// Every row a seal stream owns: its `seal` row and one `seal_version` row per version.
pub fn seal_rows(events: &[ProjectedEvent<'_, SealEvent>]) -> Result<Vec<Row>, ProjectionError> {
    fold(
        events,
        SealState::default(),
        |state, event| {
            SealAggregate::evolve(state, event.event);
            Ok(())
        },
        shape,
    )
}

fn shape(state: &SealState) -> Result<Vec<Draft>, ProjectionError> {
    let Some(seal) = state.seal() else {
        return Err(ProjectionError::NotInitiated);
    };
    let current = seal.current();
    let mut drafts = vec![Draft::new(
        Table::Seal,
        vec![
            ("seal_id", SqlValue::text(seal.seal_id.as_str())),
            ("credit_code", SqlValue::text(seal.credit_code.as_str())),
            (
                "organization_name",
                SqlValue::text(seal.organization_name.as_str()),
            ),
            ("kind", SqlValue::text(seal.kind.as_str())),
            ("name", SqlValue::text(seal.name.as_str())),
            ("version", SqlValue::Integer(i64::from(current.version))),
            ("image_hash", SqlValue::text(current.image.hash.as_hex())),
            ("width", SqlValue::Integer(i64::from(current.image.width))),
            ("height", SqlValue::Integer(i64::from(current.image.height))),
            ("active", SqlValue::Bool(state.is_active())),
        ],
    )];
    for version in seal.versions() {
        drafts.push(version_draft(seal.seal_id.as_str(), version)?);
    }
    Ok(drafts)
}

fn version_draft(seal_id: &str, version: &SealVersion) -> Result<Draft, ProjectionError> {
    let byte_length = i64::try_from(version.image.byte_length)
        .map_err(|_| ProjectionError::OutOfRange("byte_length"))?;
    Ok(Draft::new(
        Table::SealVersion,
        vec![
            ("seal_id", SqlValue::text(seal_id)),
            ("version", SqlValue::Integer(i64::from(version.version))),
            ("image_hash", SqlValue::text(version.image.hash.as_hex())),
            ("width", SqlValue::Integer(i64::from(version.image.width))),
            ("height", SqlValue::Integer(i64::from(version.image.height))),
            ("byte_length", SqlValue::Integer(byte_length)),
            ("source", SqlValue::text(version.image.source.as_str())),
            ("operator", SqlValue::text(version.operator.as_str())),
        ],
    ))
}

#[cfg(test)]
mod tests;
