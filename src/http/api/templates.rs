//! Template management (spec 2.1.3): publish a version, read the current one or a given one.

use aggregates::template::TemplateRequest;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::JsonBody;
use crate::app::{AppError, Caller, templates};
use crate::http::AppState;
use crate::http::openapi::{self, schemas};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/template", post(publish))
        .route("/template/{template_id}", get(current))
        .route("/template/{template_id}/versions/{version}", get(version))
        .route(
            "/template/{template_id}/versions/{version}/activate",
            post(activate),
        )
        .route(
            "/template/{template_id}/versions/{version}/deactivate",
            post(deactivate),
        )
}

/// Publish a template version
///
/// `POST /api/v1/template`: creates the template or publishes a version. Administrators only:
/// templates are shared by every client. Publishing an existing version with the same content
/// changes nothing; with different content it is a conflict (versions are immutable).
#[utoipa::path(
    post,
    path = "/api/v1/template",
    tag = openapi::TAG_TEMPLATE,
    operation_id = "publishTemplate",
    request_body(content = schemas::TemplateRequest, example = json!({
        "templateId": "TEMPLATE_COLLECTION_V1",
        "name": "资金归集授权协议模板",
        "version": "1.0",
        "category": "RELATIONSHIP_AGREEMENT",
        "content": "<h1>资金归集授权协议</h1><p>{{payerName}} 授权 {{receiverName}}</p>",
        "variableDefinitions": [
            {"key": "payerName", "name": "付款方名称", "required": true, "sample": "XX科技有限公司"},
            {"key": "receiverName", "name": "收款方名称", "required": true}
        ],
        "signerConfig": {"minSigners": 1, "maxSigners": 2, "defaultSignMethods": ["FACE_AND_SMS"]},
        "active": true
    })),
    responses(
        (status = 200, description = "The published version.", body = schemas::Template),
        (status = 400, response = openapi::ValidationFailed),
        (status = 403, response = openapi::Forbidden),
        (status = 409, response = openapi::Conflict),
        (status = 415, response = openapi::UnsupportedMediaType),
    )
)]
async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<TemplateRequest>,
) -> Result<Json<Value>, AppError> {
    templates::publish(&state, &caller, request).await.map(Json)
}

/// Read a template's current version
///
/// `GET /api/v1/template/{templateId}`: the current version (the most recently activated active one).
#[utoipa::path(
    get,
    path = "/api/v1/template/{templateId}",
    tag = openapi::TAG_TEMPLATE,
    operation_id = "getCurrentTemplate",
    params(("templateId" = String, Path, description = "The template's id.", example = "TEMPLATE_COLLECTION_V1")),
    responses(
        (status = 200, description = "The current version.", body = schemas::Template),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn current(
    State(state): State<AppState>,
    _caller: Caller,
    Path(template_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    templates::current(&state, &template_id).await.map(Json)
}

/// Read a template version
///
/// `GET /api/v1/template/{templateId}/versions/{version}`: one version, active or not.
#[utoipa::path(
    get,
    path = "/api/v1/template/{templateId}/versions/{version}",
    tag = openapi::TAG_TEMPLATE,
    operation_id = "getTemplateVersion",
    params(
        ("templateId" = String, Path, description = "The template's id.", example = "TEMPLATE_COLLECTION_V1"),
        ("version" = String, Path, description = "The version label.", example = "1.0"),
    ),
    responses(
        (status = 200, description = "The version.", body = schemas::Template),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn version(
    State(state): State<AppState>,
    _caller: Caller,
    Path((template_id, version)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    templates::version_of(&state, &template_id, &version)
        .await
        .map(Json)
}

/// Activate a template version
///
/// `POST /api/v1/template/{templateId}/versions/{version}/activate`: new contracts may use the
/// version, and it becomes the current one. Administrators only; no body. The broker hears a
/// `TemplateUpdatedEvent`.
#[utoipa::path(
    post,
    path = "/api/v1/template/{templateId}/versions/{version}/activate",
    tag = openapi::TAG_TEMPLATE,
    operation_id = "activateTemplateVersion",
    params(
        ("templateId" = String, Path, description = "The template's id.", example = "TEMPLATE_COLLECTION_V1"),
        ("version" = String, Path, description = "The version label.", example = "1.0"),
    ),
    responses(
        (status = 200, description = "The version, now active.", body = schemas::Template),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    Path((template_id, version)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    templates::change_activation(&state, &caller, &template_id, &version, true)
        .await
        .map(Json)
}

/// Deactivate a template version
///
/// `POST /api/v1/template/{templateId}/versions/{version}/deactivate`: new contracts may no longer
/// use the version (40003); contracts made from it are unchanged. Administrators only; no body. The
/// broker hears a `TemplateUpdatedEvent`.
#[utoipa::path(
    post,
    path = "/api/v1/template/{templateId}/versions/{version}/deactivate",
    tag = openapi::TAG_TEMPLATE,
    operation_id = "deactivateTemplateVersion",
    params(
        ("templateId" = String, Path, description = "The template's id.", example = "TEMPLATE_COLLECTION_V1"),
        ("version" = String, Path, description = "The version label.", example = "1.0"),
    ),
    responses(
        (status = 200, description = "The version, now inactive.", body = schemas::Template),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn deactivate(
    State(state): State<AppState>,
    caller: Caller,
    Path((template_id, version)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    templates::change_activation(&state, &caller, &template_id, &version, false)
        .await
        .map(Json)
}
