//! `contract_template` (spec 3.1 table 5): one row per published version of a template stream.

use aggregates::template::{PublishedVersion, Template, TemplateAggregate, TemplateEvent};

use crate::ProjectionError;
use crate::row::{Row, SqlValue, Table};
use crate::sealed::json_text;
use crate::stream::ProjectedEvent;
use crate::versioned::{Columns, version_rows};

/// Every row a template stream owns: one `contract_template` row per published version, in version
/// order.
pub fn template_rows(
    events: &[ProjectedEvent<'_, TemplateEvent>],
) -> Result<Vec<Row>, ProjectionError> {
    version_rows::<TemplateAggregate>(events, Table::ContractTemplate, content_columns)
}

fn content_columns(
    template: &Template,
    published: &PublishedVersion,
) -> Result<Columns, ProjectionError> {
    let content = &published.content;
    Ok(vec![
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
    ])
}

#[cfg(test)]
mod tests;
