//! `contract_template` (spec 3.1 table 5): one row per published version of a template stream.

use std::collections::BTreeMap;

use aggregates::Aggregate;
use aggregates::template::{Activation, TemplateAggregate, TemplateEvent, TemplateState};
use aggregates::values::{ClientId, TemplateVersion};

use crate::ProjectionError;
use crate::row::{Row, SqlValue, Table};
use crate::sealed::json_text;
use crate::stream::{Draft, ProjectedEvent, fold};

/// Every row a template stream owns: one `contract_template` row per published version, in version
/// order.
pub fn template_rows(
    events: &[ProjectedEvent<'_, TemplateEvent>],
) -> Result<Vec<Row>, ProjectionError> {
    fold(events, Projection::default(), step, shape)
}

#[derive(Debug, Default)]
struct Projection {
    state: TemplateState,
    /// Who published, activated or deactivated each version last (`updated_by`).
    updated_by: BTreeMap<TemplateVersion, ClientId>,
}

fn step(
    projection: &mut Projection,
    event: &ProjectedEvent<'_, TemplateEvent>,
) -> Result<(), ProjectionError> {
    TemplateAggregate::evolve(&mut projection.state, event.event);
    let (version, actor) = match event.event {
        TemplateEvent::Published {
            version,
            published_by,
            ..
        } => (version, published_by),
        TemplateEvent::Activated {
            version,
            activated_by,
            ..
        } => (version, activated_by),
        TemplateEvent::Deactivated {
            version,
            deactivated_by,
            ..
        } => (version, deactivated_by),
    };
    projection.updated_by.insert(version.clone(), actor.clone());
    Ok(())
}

fn shape(projection: &Projection) -> Result<Vec<Draft>, ProjectionError> {
    let template = projection
        .state
        .template()
        .ok_or(ProjectionError::NotInitiated)?;
    template
        .versions
        .values()
        .map(|published| {
            let content = &published.content;
            let (active, order) = match published.activation {
                Activation::Active { order, .. } => (
                    true,
                    SqlValue::Integer(
                        i64::try_from(order)
                            .map_err(|_| ProjectionError::OutOfRange("activation_order"))?,
                    ),
                ),
                Activation::Inactive { .. } => (false, SqlValue::Null),
            };
            let updated_by = projection
                .updated_by
                .get(&published.version)
                .unwrap_or(&published.published_by);
            Ok(Draft::new(
                Table::ContractTemplate,
                vec![
                    ("template_id", SqlValue::text(template.template_id.as_str())),
                    ("name", SqlValue::text(content.name.as_str())),
                    ("version", SqlValue::text(published.version.as_str())),
                    ("category", SqlValue::text(content.category.as_str())),
                    (
                        "content_type",
                        SqlValue::text(content.content_type.as_str()),
                    ),
                    ("content", SqlValue::text(content.content.as_str())),
                    (
                        "variable_definitions_json",
                        SqlValue::Text(json_text(
                            &content.variable_definitions,
                            "variableDefinitions",
                        )?),
                    ),
                    (
                        "signer_config_json",
                        SqlValue::Text(json_text(&content.signer_config, "signerConfig")?),
                    ),
                    ("active", SqlValue::Bool(active)),
                    ("activation_order", order),
                    (
                        "created_by",
                        SqlValue::text(published.published_by.as_str()),
                    ),
                    ("updated_by", SqlValue::text(updated_by.as_str())),
                ],
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests;
