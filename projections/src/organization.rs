//! `organization`: one row per registered organisation, so the administrators' routes and the
//! contract side find a company by its credit code with one indexed read.

use aggregates::Aggregate;
use aggregates::organization::{OrganizationAggregate, OrganizationEvent, OrganizationState};

use crate::ProjectionError;
use crate::row::{Row, SqlValue, Table};
use crate::stream::{Draft, ProjectedEvent, fold};

/// Every row an organisation stream owns: its `organization` row.
pub fn organization_rows(
    events: &[ProjectedEvent<'_, OrganizationEvent>],
) -> Result<Vec<Row>, ProjectionError> {
    fold(
        events,
        OrganizationState::default(),
        |state, event| {
            OrganizationAggregate::evolve(state, event.event);
            Ok(())
        },
        shape,
    )
}

fn shape(state: &OrganizationState) -> Result<Vec<Draft>, ProjectionError> {
    let Some(organization) = state.organization() else {
        return Err(ProjectionError::NotInitiated);
    };
    let body = vec![
        (
            "credit_code",
            SqlValue::text(organization.credit_code.as_str()),
        ),
        ("name", SqlValue::text(organization.name.as_str())),
        ("client_id", SqlValue::text(organization.client_id.as_str())),
        ("operator", SqlValue::text(organization.operator.as_str())),
        (
            "registered_at",
            SqlValue::timestamp(organization.registered_at),
        ),
    ];
    Ok(vec![Draft::new(Table::Organization, body)])
}

#[cfg(test)]
mod tests;
