//! `sms_template`: one row per published version of an SMS template stream.

use aggregates::sms_template::{
    SmsTemplate, SmsTemplateAggregate, SmsTemplateEvent, SmsTemplateVersion,
};

use crate::ProjectionError;
use crate::row::{Row, SqlValue, Table};
use crate::sealed::json_text;
use crate::stream::ProjectedEvent;
use crate::versioned::{Columns, version_rows};

/// Every row an SMS template stream owns: one `sms_template` row per version, in version order.
pub fn sms_template_rows(
    events: &[ProjectedEvent<'_, SmsTemplateEvent>],
) -> Result<Vec<Row>, ProjectionError> {
    version_rows::<SmsTemplateAggregate>(events, Table::SmsTemplate, content_columns)
}

fn content_columns(
    template: &SmsTemplate,
    published: &SmsTemplateVersion,
) -> Result<Columns, ProjectionError> {
    let content = &published.content;
    Ok(vec![
        (
            "template_code",
            SqlValue::text(template.template_id.as_str()),
        ),
        ("version", SqlValue::text(published.version.as_str())),
        ("name", SqlValue::text(content.name.as_str())),
        ("content", SqlValue::text(content.content.as_str())),
        (
            "variables_json",
            SqlValue::Text(json_text(&content.variables, "variables")?),
        ),
    ])
}

#[cfg(test)]
mod tests;
