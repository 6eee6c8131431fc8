//! Face verification (spec 2.1.1): initiate, read the result, and the audit trail.

use aggregates::Aggregate;
use aggregates::face_verification::{
    FaceVerificationAggregate, InitiateVerification, VerificationCommand, VerificationRequest,
};
use aggregates::values::{ClientId, VerificationId};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use projections::Table;
use serde_json::{Value, json};

use super::{Caller, JsonBody};
use crate::app::error::AppError;
use crate::app::verifications::{self as flow, TaskStart};
use crate::http::AppState;
use crate::http::openapi::{self, schemas};
use crate::store::StreamId;
use crate::store::query_tables::RowView;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/verification/face/initiate", post(initiate))
        .route("/verification/face/{verification_id}", get(show))
        .route("/verification/face/{verification_id}/events", get(events))
}

/// Start a face verification
///
/// `POST /api/v1/verification/face/initiate`: creates a face verification, creates its task at the
/// first available face provider (in the configured failover order) and returns the page the person
/// opens plus the provider's `sdkConfig`. Idempotent per `bizId` + `bizType`: a repeat answers 409 /
/// 40002 with the existing verification. When no provider answers, 503 / 50001 with the
/// `verificationId` (the task is retried in the background), or, with degraded mode on and a mobile
/// number given, the degraded SMS + identity check (`degraded: true`).
#[utoipa::path(
    post,
    path = "/api/v1/verification/face/initiate",
    tag = openapi::TAG_VERIFICATION,
    operation_id = "initiateFaceVerification",
    request_body(content = schemas::FaceVerificationRequest, example = json!({
        "bizId": "AUTH_FLOW_001",
        "bizType": "RELATIONSHIP_BINDING",
        "userInfo": {"name": "张三", "idCardNo": "310101199001011234", "mobile": "13800138000"},
        "callbackUrl": "https://auth-system/callback/face-verification",
        "webhookConfig": {"headers": {"Authorization": "Bearer ..."}},
        "expireMinutes": 30,
        "uiConfig": {"title": "天财分账身份验证", "themeColor": "#1890ff"}
    })),
    responses(
        (status = 200, description = "The verification was created.", body = schemas::FaceVerificationCreated,
            example = json!({
                "verificationId": "FACE_VERIFY_20231027A1B2C3D4E5F60718",
                "status": "PENDING",
                "verificationUrl": "https://e-sign-platform/h5/face-verify?token=FACE_VERIFY_20231027A1B2C3D4E5F60718.1698403500.5f1c...",
                "expiresAt": "2023-10-27T10:35:00Z",
                "sdkConfig": {"appId": "esign-development", "nonce": "5c0f3b7e2a9d4e61b8a7c3d2e1f09a8b", "signature": "9f2c..."}
            })),
        (status = 400, response = openapi::ValidationFailed),
        (status = 409, response = openapi::DuplicateOrConflict),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 503, response = openapi::ProviderUnavailable),
    )
)]
async fn initiate(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<VerificationRequest>,
) -> Result<Json<Value>, AppError> {
    if let Some(existing) = find_by_biz_id(&state, &caller, &request).await? {
        return Err(AppError::Duplicate { existing });
    }
    super::guard_callback_url(&state, request.callback_url.as_deref()).await?;
    let verification_id = VerificationId::parse(&crate::app::ids::new_id("FACE_VERIFY"))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let client_id =
        ClientId::parse(&caller.client.id).map_err(|e| AppError::Internal(e.to_string()))?;
    let now = Utc::now();
    let stream = StreamId::new(FaceVerificationAggregate::NAME, verification_id.as_str());
    let executed = state
        .pipeline
        .execute::<FaceVerificationAggregate>(&stream, &caller.metadata, |_| {
            VerificationCommand::Initiate(InitiateVerification {
                verification_id: verification_id.clone(),
                client_id: client_id.clone(),
                request: request.clone(),
                mode: state.mode(),
                now,
            })
        })
        .await;
    if super::lost_biz_id_race(&executed, Table::FaceVerification) {
        if let Some(existing) = find_by_biz_id(&state, &caller, &request).await? {
            return Err(AppError::Duplicate { existing });
        }
    }
    executed?;
    // Spec 5.1: the provider task is created now, through the failover list.
    let started =
        flow::start_task(&state, verification_id.as_str(), 1, &caller.metadata, true).await?;
    let row = owned(&state, &caller, verification_id.as_str()).await?;
    let expires_at = row.time("expires_at");
    let token = crate::providers::face::page_token(
        &state.pii,
        verification_id.as_str(),
        expires_at.map(|t| t.timestamp()).unwrap_or(0),
    );
    let mut body = json!({
        "verificationId": verification_id.as_str(),
        "status": row.text("status"),
        "verificationUrl": format!(
            "{}/h5/face-verify?token={token}",
            state.config.server.public_base_url.trim_end_matches('/')
        ),
        "expiresAt": expires_at,
    });
    match started {
        TaskStart::Started { sdk_config, .. } => {
            if let Some(sdk_config) = sdk_config {
                body["sdkConfig"] = json!(sdk_config);
            }
        }
        TaskStart::Degraded => {
            body["degraded"] = json!(true);
            body["method"] = json!(row.text("verification_method"));
        }
        // Spec 6: fail fast with 50001; the background retry takes over.
        TaskStart::Unavailable { .. } => {
            return Err(AppError::ProviderUnavailable {
                verification_id: verification_id.as_str().to_owned(),
            });
        }
        TaskStart::NotNeeded => {}
    }
    Ok(Json(body))
}

async fn find_by_biz_id(
    state: &AppState,
    caller: &Caller,
    request: &VerificationRequest,
) -> Result<Option<Value>, AppError> {
    let (Some(biz_id), Some(biz_type)) = (&request.biz_id, &request.biz_type) else {
        return Ok(None);
    };
    let row = state
        .store
        .verifications()
        .by_biz_id(&caller.client.id, biz_id, biz_type)
        .await?;
    match row {
        Some(row) => verification_view(state, &row).map(Some),
        None => Ok(None),
    }
}

async fn owned(
    state: &AppState,
    caller: &Caller,
    verification_id: &str,
) -> Result<RowView, AppError> {
    state
        .store
        .verifications()
        .owned(verification_id, &caller.client.id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Read a face verification
///
/// `GET /api/v1/verification/face/{verificationId}`: the verification's status and result (spec
/// 2.1.1 item 2), the ID number in clear for its owner.
#[utoipa::path(
    get,
    path = "/api/v1/verification/face/{verificationId}",
    tag = openapi::TAG_VERIFICATION,
    operation_id = "getFaceVerification",
    params(("verificationId" = String, Path, description = "The id `initiate` returned.",
        example = "FACE_VERIFY_20231027A1B2C3D4E5F60718")),
    responses(
        (status = 200, description = "The verification.", body = schemas::FaceVerification),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(verification_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let row = owned(&state, &caller, &verification_id).await?;
    verification_view(&state, &row).map(Json)
}

fn verification_view(state: &AppState, row: &RowView) -> Result<Value, AppError> {
    Ok(crate::read::views::verification(row, &state.pii)?)
}

/// Audit trail of a face verification
///
/// `GET /api/v1/verification/face/{verificationId}/events`: the audit trail, personal data masked.
#[utoipa::path(
    get,
    path = "/api/v1/verification/face/{verificationId}/events",
    tag = openapi::TAG_VERIFICATION,
    operation_id = "getFaceVerificationEvents",
    params(("verificationId" = String, Path, description = "The id `initiate` returned.",
        example = "FACE_VERIFY_20231027A1B2C3D4E5F60718")),
    responses(
        (status = 200, description = "Every event of the verification, oldest first.", body = schemas::AuditTrail),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(verification_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    owned(&state, &caller, &verification_id).await?;
    super::audit_trail(
        &state,
        StreamId::new(FaceVerificationAggregate::NAME, &verification_id),
    )
    .await
}
