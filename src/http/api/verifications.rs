//! Face verification (spec 2.1.1): initiate, read the result, and the audit trail.

use aggregates::face_verification::VerificationRequest;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{JsonBody, as_json};
use crate::app::verifications::{self, FaceStart};
use crate::app::{AppError, Caller};
use crate::http::AppState;
use crate::http::openapi::{self, schemas};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/verification/face/initiate", post(initiate))
        .route("/verification/face/{verification_id}", get(show))
        .route("/verification/face/{verification_id}/events", get(events))
        .route(
            "/verification/face/{verification_id}/verification-url",
            post(reissue_verification_url),
        )
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
    let initiated = verifications::initiate(&state, &caller, &request).await?;
    let mut body = json!({
        "verificationId": initiated.verification_id,
        "status": initiated.status,
        "verificationUrl": initiated.verification_url,
        "expiresAt": initiated.expires_at,
    });
    match initiated.start {
        FaceStart::Started { sdk_config } => {
            if let Some(sdk_config) = sdk_config {
                body["sdkConfig"] = json!(sdk_config);
            }
        }
        FaceStart::Degraded { method } => {
            body["degraded"] = json!(true);
            body["method"] = json!(method);
        }
        FaceStart::Nothing => {}
    }
    Ok(Json(body))
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
    verifications::show(&state, &caller, &verification_id)
        .await
        .map(Json)
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
    let timeline = verifications::events(&state, &caller, &verification_id).await?;
    as_json(timeline)
}

/// Re-issue a face verification link
///
/// `POST /api/v1/verification/face/{verificationId}/verification-url`: a new page link for a
/// verification whose link was lost, like a signer's `sign-url`; every earlier link stops working
/// (40004 on the page). Only while the verification is open (PENDING or PROCESSING, before its
/// deadline, which stays as it was): 409 / 40900 afterwards. No request body.
#[utoipa::path(
    post,
    path = "/api/v1/verification/face/{verificationId}/verification-url",
    tag = openapi::TAG_VERIFICATION,
    operation_id = "reissueFaceVerificationUrl",
    params(("verificationId" = String, Path, description = "The id `initiate` returned.",
        example = "FACE_VERIFY_20231027A1B2C3D4E5F60718")),
    responses(
        (status = 200, description = "The verification's new link.", body = schemas::FaceVerificationLink,
            example = json!({
                "verificationId": "FACE_VERIFY_20231027A1B2C3D4E5F60718",
                "verificationUrl": "https://e-sign-platform/h5/face-verify?token=FACE_VERIFY_20231027A1B2C3D4E5F60718.1698403500.2.9d3e...",
                "expiresAt": "2023-10-27T10:35:00Z"
            })),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
    )
)]
async fn reissue_verification_url(
    State(state): State<AppState>,
    caller: Caller,
    Path(verification_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let link = verifications::reissue_link(&state, &caller, &verification_id).await?;
    Ok(Json(json!({
        "verificationId": verification_id,
        "verificationUrl": link.verification_url,
        "expiresAt": link.expires_at,
    })))
}
