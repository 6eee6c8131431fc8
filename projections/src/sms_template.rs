//! `sms_template`: one row per published version of an SMS template stream.

use std::collections::BTreeMap;

use aggregates::Aggregate;
use aggregates::sms_template::{SmsTemplateAggregate, SmsTemplateEvent, SmsTemplateState};
use aggregates::values::{ClientId, TemplateVersion};

use crate::ProjectionError;
use crate::row::{Row, SqlValue, Table};
use crate::sealed::json_text;
use crate::stream::{Draft, ProjectedEvent, fold};

/// Every row an SMS template stream owns: one `sms_template` row per version, in version order.
pub fn sms_template_rows(
    events: &[ProjectedEvent<'_, SmsTemplateEvent>],
) -> Result<Vec<Row>, ProjectionError> {
    fold(events, Projection::default(), step, shape)
}

#[derive(Debug, Default)]
struct Projection {
    state: SmsTemplateState,
    /// Who published, activated or deactivated each version last (`updated_by`).
    updated_by: BTreeMap<TemplateVersion, ClientId>,
}

fn step(
    projection: &mut Projection,
    event: &ProjectedEvent<'_, SmsTemplateEvent>,
) -> Result<(), ProjectionError> {
    SmsTemplateAggregate::evolve(&mut projection.state, event.event);
    let (version, actor) = match event.event {
        SmsTemplateEvent::Published {
            version,
            published_by,
            ..
        } => (version, published_by),
        SmsTemplateEvent::Activated {
            version,
            activated_by,
            ..
        } => (version, activated_by),
        SmsTemplateEvent::Deactivated {
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
        .map(|version| {
            let order = match version.active {
                Some(order) => SqlValue::Integer(
                    i64::try_from(order)
                        .map_err(|_| ProjectionError::OutOfRange("activation_order"))?,
                ),
                None => SqlValue::Null,
            };
            let updated_by = projection
                .updated_by
                .get(&version.version)
                .unwrap_or(&version.published_by);
            Ok(Draft::new(
                Table::SmsTemplate,
                vec![
                    (
                        "template_code",
                        SqlValue::text(template.template_code.as_str()),
                    ),
                    ("version", SqlValue::text(version.version.as_str())),
                    ("name", SqlValue::text(version.name.as_str())),
                    ("content", SqlValue::text(version.content.as_str())),
                    (
                        "variables_json",
                        SqlValue::Text(json_text(&version.variables, "variables")?),
                    ),
                    ("active", SqlValue::Bool(version.active.is_some())),
                    ("activation_order", order),
                    ("created_by", SqlValue::text(version.published_by.as_str())),
                    ("updated_by", SqlValue::text(updated_by.as_str())),
                ],
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests;
