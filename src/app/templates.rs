//! Contract templates (spec 2.1.3): administrators publish versions; every client reads them.

use aggregates::Aggregate;
use aggregates::template::{
    ChangeActivation, PublishVersion, TemplateAggregate, TemplateCommand, TemplateRequest,
};
use aggregates::values::{TemplateId, TemplateVersion};
use chrono::Utc;
use serde_json::Value;

use super::pipeline::CommandError;
use super::{AppError, Caller, Services};
use crate::store::StreamId;

/// Publishes a template version (administrators only) and answers it as stored.
pub async fn publish(
    services: &Services,
    caller: &Caller,
    request: TemplateRequest,
) -> Result<Value, AppError> {
    caller.require_admin("publish a template")?;
    let actor = caller.domain_id()?;
    let now = Utc::now();
    let command = || {
        TemplateCommand::Publish(PublishVersion {
            request: request.clone(),
            actor: actor.clone(),
            now,
        })
    };
    // Without a valid template id there is no stream to load; the decision on an empty state still
    // names every invalid field at once.
    let Some(template_id) = request
        .template_id
        .as_deref()
        .and_then(|id| TemplateId::parse(id).ok())
    else {
        let refused = TemplateAggregate::decide(&Default::default(), command());
        return Err(match refused {
            Err(error) => CommandError::Domain(error).into(),
            Ok(_) => AppError::internal("a template without a valid id was accepted"),
        });
    };
    let stream = StreamId::new(TemplateAggregate::NAME, template_id.as_str());
    services
        .pipeline
        .execute::<TemplateAggregate>(&stream, &caller.metadata, |_| command())
        .await?;
    let version = request.version.clone().unwrap_or_default();
    version_of(services, template_id.as_str(), &version).await
}

/// The template's active version.
pub async fn current(services: &Services, template_id: &str) -> Result<Value, AppError> {
    let rows = services.store.templates().versions(template_id).await?;
    rows.iter()
        .find(|row| row.boolean("active") == Some(true))
        .map(crate::read::views::template)
        .ok_or(AppError::NotFound)
}

/// One version of the template.
pub async fn version_of(
    services: &Services,
    template_id: &str,
    version: &str,
) -> Result<Value, AppError> {
    services
        .store
        .templates()
        .version(template_id, version)
        .await?
        .map(|row| crate::read::views::template(&row))
        .ok_or(AppError::NotFound)
}

/// Activates (`active`) or deactivates a version (administrators only) and answers it. New contracts
/// use the most recently activated active version; a deactivated one can no longer be pinned.
pub async fn change_activation(
    services: &Services,
    caller: &Caller,
    template_id: &str,
    version: &str,
    active: bool,
) -> Result<Value, AppError> {
    caller.require_admin(if active {
        "activate a template"
    } else {
        "deactivate a template"
    })?;
    let (Ok(id), Ok(parsed_version)) = (
        TemplateId::parse(template_id),
        TemplateVersion::parse(version),
    ) else {
        return Err(AppError::NotFound);
    };
    let change = ChangeActivation {
        version: parsed_version,
        actor: caller.domain_id()?,
        now: Utc::now(),
    };
    let stream = StreamId::new(TemplateAggregate::NAME, id.as_str());
    services
        .pipeline
        .execute::<TemplateAggregate>(&stream, &caller.metadata, |_| {
            if active {
                TemplateCommand::Activate(change.clone())
            } else {
                TemplateCommand::Deactivate(change.clone())
            }
        })
        .await?;
    version_of(services, template_id, version).await
}
