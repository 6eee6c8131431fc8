//! Template management (spec 2.1.3): publish a version, read the current one or a given one.

use aggregates::Aggregate;
use aggregates::template::{PublishVersion, TemplateAggregate, TemplateCommand, TemplateRequest};
use aggregates::values::{ClientId, TemplateId};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use projections::Table;
use serde_json::{Value, json};

use super::{Caller, JsonBody};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::queries::{RowView, select, select_one};
use crate::store::StreamId;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/template", post(publish))
        .route("/template/{template_id}", get(current))
        .route("/template/{template_id}/versions/{version}", get(version))
}

/// `POST /api/v1/template`: creates the template or publishes a version. Administrators only:
/// templates are shared by every client. Publishing an existing version with the same content
/// changes nothing; with different content it is a conflict (versions are immutable).
async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<TemplateRequest>,
) -> Result<Json<Value>, ApiError> {
    if !caller.client.admin {
        return Err(ApiError::Forbidden);
    }
    let actor =
        ClientId::parse(&caller.client.id).map_err(|e| ApiError::Internal(e.to_string()))?;
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
            Err(error) => crate::pipeline::CommandError::Domain(error).into(),
            Ok(_) => ApiError::Internal("a template without a valid id was accepted".into()),
        });
    };
    let stream = StreamId::new(TemplateAggregate::NAME, template_id.as_str());
    state
        .pipeline
        .execute::<TemplateAggregate>(&stream, &caller.metadata, |_| command())
        .await?;
    let version = request.version.clone().unwrap_or_default();
    find_version(&state, template_id.as_str(), &version)
        .await
        .map(Json)
}

/// `GET /api/v1/template/{templateId}`: the current version (the most recently activated active one).
async fn current(
    State(state): State<AppState>,
    _caller: Caller,
    Path(template_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let rows = select(
        &state.store,
        Table::ContractTemplate,
        "template_id = {1}",
        &[&template_id],
        Some("activation_order DESC"),
    )
    .await?;
    rows.iter()
        .find(|row| row.boolean("active") == Some(true))
        .map(|row| Json(template_view(row)))
        .ok_or(ApiError::NotFound)
}

/// `GET /api/v1/template/{templateId}/versions/{version}`: one version, active or not.
async fn version(
    State(state): State<AppState>,
    _caller: Caller,
    Path((template_id, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    find_version(&state, &template_id, &version).await.map(Json)
}

async fn find_version(
    state: &AppState,
    template_id: &str,
    version: &str,
) -> Result<Value, ApiError> {
    select_one(
        &state.store,
        Table::ContractTemplate,
        "template_id = {1} AND version = {2}",
        &[template_id, version],
    )
    .await?
    .map(|row| template_view(&row))
    .ok_or(ApiError::NotFound)
}

/// The template as spec 2.1.3 spells its fields.
fn template_view(row: &RowView) -> Value {
    json!({
        "templateId": row.text("template_id"),
        "name": row.text("name"),
        "version": row.text("version"),
        "category": row.text("category"),
        "contentType": row.text("content_type"),
        "content": row.text("content"),
        "variableDefinitions": row.json("variable_definitions_json").unwrap_or_else(|| json!([])),
        "signerConfig": row.json("signer_config_json"),
        "active": row.boolean("active").unwrap_or(false),
        "createdBy": row.text("created_by"),
        "createdAt": row.text("created_at").and(row.time("created_at")),
        "updatedAt": row.text("updated_at").and(row.time("updated_at")),
    })
}
