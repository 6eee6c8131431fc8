//! SMS templates of payment-verification notices (spec 1.2 item 3, 3.2): administrators publish and
//! (de)activate versions; every client reads them, as contract templates.

use aggregates::Aggregate;
use aggregates::sms_template::{
    ChangeSmsTemplateActivation, PublishSmsTemplate, SmsTemplateAggregate, SmsTemplateCommand,
    SmsTemplateRequest,
};
use aggregates::values::{TemplateId, TemplateVersion};
use chrono::Utc;
use serde_json::Value;

use super::pipeline::CommandError;
use super::{AppError, Caller, Services};
use crate::store::StreamId;

pub(super) fn stream(template_code: &TemplateId) -> StreamId {
    StreamId::new(SmsTemplateAggregate::NAME, template_code.as_str())
}

/// Publishes an SMS template version (administrators only) and answers it as stored.
pub async fn publish(
    services: &Services,
    caller: &Caller,
    request: &SmsTemplateRequest,
) -> Result<Value, AppError> {
    caller.require_admin("publish an SMS template")?;
    let actor = caller.domain_id()?;
    let now = Utc::now();
    let command = || {
        SmsTemplateCommand::Publish(PublishSmsTemplate {
            request: request.clone(),
            actor: actor.clone(),
            now,
        })
    };
    // Without a valid code there is no stream; deciding on an empty state still names every bad field.
    let Some(template_code) = request
        .template_code
        .as_deref()
        .and_then(|code| TemplateId::parse(code).ok())
    else {
        return Err(
            match SmsTemplateAggregate::decide(&Default::default(), command()) {
                Err(error) => CommandError::Domain(error).into(),
                Ok(_) => AppError::internal("an SMS template without a valid code was accepted"),
            },
        );
    };
    services
        .pipeline
        .execute::<SmsTemplateAggregate>(&stream(&template_code), &caller.metadata, |_| command())
        .await?;
    let version = request.version.clone().unwrap_or_default();
    version_of(services, template_code.as_str(), &version).await
}

/// The template's active version.
pub async fn current(services: &Services, template_code: &str) -> Result<Value, AppError> {
    let rows = services
        .store
        .templates()
        .sms_versions(template_code)
        .await?;
    rows.iter()
        .find(|row| row.boolean("active") == Some(true))
        .map(crate::read::views::sms_template)
        .ok_or(AppError::NotFound)
}

/// One version of the template.
pub async fn version_of(
    services: &Services,
    template_code: &str,
    version: &str,
) -> Result<Value, AppError> {
    services
        .store
        .templates()
        .sms_version(template_code, version)
        .await?
        .map(|row| crate::read::views::sms_template(&row))
        .ok_or(AppError::NotFound)
}

/// Activates (`active`) or deactivates a version (administrators only) and answers it.
pub async fn change_activation(
    services: &Services,
    caller: &Caller,
    template_code: &str,
    version: &str,
    active: bool,
) -> Result<Value, AppError> {
    caller.require_admin(if active {
        "activate an SMS template"
    } else {
        "deactivate an SMS template"
    })?;
    let (Ok(code), Ok(parsed_version)) = (
        TemplateId::parse(template_code),
        TemplateVersion::parse(version),
    ) else {
        return Err(AppError::NotFound);
    };
    let change = ChangeSmsTemplateActivation {
        version: parsed_version,
        actor: caller.domain_id()?,
        now: Utc::now(),
    };
    services
        .pipeline
        .execute::<SmsTemplateAggregate>(&stream(&code), &caller.metadata, |_| {
            if active {
                SmsTemplateCommand::Activate(change.clone())
            } else {
                SmsTemplateCommand::Deactivate(change.clone())
            }
        })
        .await?;
    version_of(services, template_code, version).await
}
