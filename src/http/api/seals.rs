//! Organisations and their company seals (docs/seals.md): administrators register companies by
//! credit code, make seals (uploaded or drawn), add picture versions, take seals out of use and back,
//! and read each seal's audit trail. Administrator clients only; everyone else gets 40300, logged.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::{Caller, JsonBody, as_json};
use crate::app::error::AppError;
use crate::app::seals::{
    self, OrganizationRequest, SealRequest, SealSwitchRequest, SealVersionRequest,
};
use crate::http::AppState;
use crate::http::openapi::{self, schemas};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/organizations", post(register_organization))
        .route("/admin/organizations/{creditCode}", get(organization))
        .route("/admin/organizations/{creditCode}/seals", post(create_seal))
        .route("/admin/seals/{sealId}", get(seal))
        .route("/admin/seals/{sealId}/image", get(image))
        .route("/admin/seals/{sealId}/versions", post(add_version))
        .route("/admin/seals/{sealId}/activate", post(activate))
        .route("/admin/seals/{sealId}/deactivate", post(deactivate))
        .route("/admin/seals/{sealId}/events", get(events))
}

/// Register an organisation
///
/// `POST /api/v1/admin/organizations`: registers a company by its unified social credit code and
/// name. Registering it again under the same name answers it as it is; under another name answers
/// 409 (its seals carry the name).
#[utoipa::path(
    post,
    path = "/api/v1/admin/organizations",
    tag = openapi::TAG_ADMIN,
    operation_id = "registerOrganization",
    request_body(content = schemas::OrganizationRequest, example = json!({
        "name": "天财商龙科技有限公司",
        "creditCode": "91350100M000100Y43"
    })),
    responses(
        (status = 200, description = "The organisation and its seals.", body = schemas::Organization),
        (status = 400, response = openapi::ValidationFailed),
        (status = 403, response = openapi::Forbidden),
        (status = 409, response = openapi::Conflict),
        (status = 415, response = openapi::UnsupportedMediaType),
    )
)]
async fn register_organization(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<OrganizationRequest>,
) -> Result<Json<Value>, AppError> {
    seals::register_organization(&state, &caller, &request)
        .await
        .map(Json)
}

/// Read an organisation
///
/// `GET /api/v1/admin/organizations/{creditCode}`: the organisation and its seals.
#[utoipa::path(
    get,
    path = "/api/v1/admin/organizations/{creditCode}",
    tag = openapi::TAG_ADMIN,
    operation_id = "getOrganization",
    params(("creditCode" = String, Path, description = "The organisation's credit code.",
        example = "91350100M000100Y43")),
    responses(
        (status = 200, description = "The organisation and its seals.", body = schemas::Organization),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(credit_code): Path<String>,
) -> Result<Json<Value>, AppError> {
    seals::organization(&state, &caller, &credit_code)
        .await
        .map(Json)
}

/// Make a seal
///
/// `POST /api/v1/admin/organizations/{creditCode}/seals`: a new seal of the organisation, active,
/// with version 1 of its picture: an uploaded PNG with a transparent background (`imageBase64`)
/// or, with `draw: true`, the standard round red seal esign draws from the organisation's name and
/// the kind. The picture is stored encrypted; its SHA-256 is in the seal's events.
#[utoipa::path(
    post,
    path = "/api/v1/admin/organizations/{creditCode}/seals",
    tag = openapi::TAG_ADMIN,
    operation_id = "createSeal",
    params(("creditCode" = String, Path, description = "The organisation's credit code.",
        example = "91350100M000100Y43")),
    request_body(content = schemas::SealRequest, example = json!({
        "kind": "CONTRACT",
        "name": "合同专用章",
        "draw": true,
        "operator": "ops_zhang"
    })),
    responses(
        (status = 200, description = "The seal with its versions.", body = schemas::Seal),
        (status = 400, response = openapi::ValidationFailed),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 415, response = openapi::UnsupportedMediaType),
    )
)]
async fn create_seal(
    State(state): State<AppState>,
    caller: Caller,
    Path(credit_code): Path<String>,
    JsonBody(request): JsonBody<SealRequest>,
) -> Result<Json<Value>, AppError> {
    seals::create_seal(&state, &caller, &credit_code, &request)
        .await
        .map(Json)
}

/// Read a seal
///
/// `GET /api/v1/admin/seals/{sealId}`: the seal, its current version and every version.
#[utoipa::path(
    get,
    path = "/api/v1/admin/seals/{sealId}",
    tag = openapi::TAG_ADMIN,
    operation_id = "getSeal",
    params(("sealId" = String, Path, description = "The seal's id.",
        example = "SEAL_20251207A1B2C3D4E5F60718")),
    responses(
        (status = 200, description = "The seal with its versions.", body = schemas::Seal),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn seal(
    State(state): State<AppState>,
    caller: Caller,
    Path(seal_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    seals::seal(&state, &caller, &seal_id).await.map(Json)
}

/// A seal's picture
///
/// `GET /api/v1/admin/seals/{sealId}/image?version=N`: the PNG of version N (the current version
/// without `version`), checked against the SHA-256 its events record.
#[utoipa::path(
    get,
    path = "/api/v1/admin/seals/{sealId}/image",
    tag = openapi::TAG_ADMIN,
    operation_id = "getSealImage",
    params(
        ("sealId" = String, Path, description = "The seal's id.",
            example = "SEAL_20251207A1B2C3D4E5F60718"),
        ("version" = Option<u32>, Query, minimum = 1, description = "The version; the current one when omitted."),
    ),
    responses(
        (status = 200, description = "The picture.", content_type = "image/png", body = Vec<u8>),
        (status = 400, response = openapi::ValidationFailed),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn image(
    State(state): State<AppState>,
    caller: Caller,
    Path(seal_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    caller.require_admin("read a seal's picture")?;
    let mut version = None;
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "version" => {
                version = Some(
                    value
                        .parse::<u32>()
                        .ok()
                        .filter(|number| *number >= 1)
                        .ok_or_else(|| AppError::invalid("version", "must be a number from 1"))?,
                )
            }
            other => return Err(AppError::invalid(other, "is not a parameter of this route")),
        }
    }
    let bytes = seals::picture_of_version(&state, &caller, &seal_id, version).await?;
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("image/png")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        bytes,
    )
        .into_response())
}

/// Add a seal version
///
/// `POST /api/v1/admin/seals/{sealId}/versions`: a new picture (uploaded or drawn) becomes the
/// version in use; earlier versions stay as they were. The same picture as the current one
/// answers 409.
#[utoipa::path(
    post,
    path = "/api/v1/admin/seals/{sealId}/versions",
    tag = openapi::TAG_ADMIN,
    operation_id = "addSealVersion",
    params(("sealId" = String, Path, description = "The seal's id.",
        example = "SEAL_20251207A1B2C3D4E5F60718")),
    request_body(content = schemas::SealVersionRequest, example = json!({
        "imageBase64": "iVBORw0KGgoAAAANSUhEUgAA...",
        "operator": "ops_zhang"
    })),
    responses(
        (status = 200, description = "The seal with its versions.", body = schemas::Seal),
        (status = 400, response = openapi::ValidationFailed),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 415, response = openapi::UnsupportedMediaType),
    )
)]
async fn add_version(
    State(state): State<AppState>,
    caller: Caller,
    Path(seal_id): Path<String>,
    JsonBody(request): JsonBody<SealVersionRequest>,
) -> Result<Json<Value>, AppError> {
    seals::add_version(&state, &caller, &seal_id, &request)
        .await
        .map(Json)
}

/// Activate a seal
///
/// `POST /api/v1/admin/seals/{sealId}/activate`: puts a deactivated seal back into use, recording
/// the operator and reason. An active seal answers 409.
#[utoipa::path(
    post,
    path = "/api/v1/admin/seals/{sealId}/activate",
    tag = openapi::TAG_ADMIN,
    operation_id = "activateSeal",
    params(("sealId" = String, Path, description = "The seal's id.",
        example = "SEAL_20251207A1B2C3D4E5F60718")),
    request_body(content = schemas::SealSwitchRequest, example = json!({
        "operator": "ops_zhang",
        "reason": "印章已找回"
    })),
    responses(
        (status = 200, description = "The seal with its versions.", body = schemas::Seal),
        (status = 400, response = openapi::ValidationFailed),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 415, response = openapi::UnsupportedMediaType),
    )
)]
async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    Path(seal_id): Path<String>,
    JsonBody(request): JsonBody<SealSwitchRequest>,
) -> Result<Json<Value>, AppError> {
    seals::switch(&state, &caller, &seal_id, &request, true)
        .await
        .map(Json)
}

/// Deactivate a seal
///
/// `POST /api/v1/admin/seals/{sealId}/deactivate`: takes a seal out of use (contracts can no
/// longer name it), recording the operator and reason. A deactivated seal answers 409.
#[utoipa::path(
    post,
    path = "/api/v1/admin/seals/{sealId}/deactivate",
    tag = openapi::TAG_ADMIN,
    operation_id = "deactivateSeal",
    params(("sealId" = String, Path, description = "The seal's id.",
        example = "SEAL_20251207A1B2C3D4E5F60718")),
    request_body(content = schemas::SealSwitchRequest, example = json!({
        "operator": "ops_zhang",
        "reason": "印章遗失，停用"
    })),
    responses(
        (status = 200, description = "The seal with its versions.", body = schemas::Seal),
        (status = 400, response = openapi::ValidationFailed),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 415, response = openapi::UnsupportedMediaType),
    )
)]
async fn deactivate(
    State(state): State<AppState>,
    caller: Caller,
    Path(seal_id): Path<String>,
    JsonBody(request): JsonBody<SealSwitchRequest>,
) -> Result<Json<Value>, AppError> {
    seals::switch(&state, &caller, &seal_id, &request, false)
        .await
        .map(Json)
}

/// Audit trail of a seal
///
/// `GET /api/v1/admin/seals/{sealId}/events`: every event of the seal (creation, versions with
/// their picture hashes, deactivations and activations with operator and reason), each with its
/// hash-chain link.
#[utoipa::path(
    get,
    path = "/api/v1/admin/seals/{sealId}/events",
    tag = openapi::TAG_ADMIN,
    operation_id = "getSealEvents",
    params(("sealId" = String, Path, description = "The seal's id.",
        example = "SEAL_20251207A1B2C3D4E5F60718")),
    responses(
        (status = 200, description = "Every event of the seal, oldest first.", body = schemas::AuditTrail),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(seal_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    as_json(seals::events(&state, &caller, &seal_id).await?)
}
