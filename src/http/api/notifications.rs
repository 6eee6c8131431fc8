//! Payment-verification notices (spec 1.2 item 3, 3.2, 7.2.4): SMS templates managed by
//! administrators, and notices sent to a person's phone on a caller's request.
//!
//! Templates are shared, like contract templates: administrators publish and (de)activate versions,
//! every client may read them. A notice belongs to the client that asked for it; every other client
//! gets 404. A notice is recorded before it is sent; the answer shows the outcome of the first attempt
//! and later attempts are made by the delivery sweep (see `esign::sms::notices`).

use aggregates::sms_notice::NoticeRequest;
use aggregates::sms_template::SmsTemplateRequest;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::{JsonBody, as_json};
use crate::app::{AppError, Caller, notices, sms_templates};
use crate::http::AppState;
use crate::http::openapi::{self, schemas};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/notification/sms-templates", post(publish_template))
        .route(
            "/notification/sms-templates/{template_code}",
            get(current_template),
        )
        .route(
            "/notification/sms-templates/{template_code}/versions/{version}",
            get(template_version),
        )
        .route(
            "/notification/sms-templates/{template_code}/versions/{version}/activate",
            post(activate_template),
        )
        .route(
            "/notification/sms-templates/{template_code}/versions/{version}/deactivate",
            post(deactivate_template),
        )
        .route("/notification/sms", post(send_notice))
        .route("/notification/sms/{notice_id}", get(show_notice))
        .route("/notification/sms/{notice_id}/events", get(notice_events))
}

/// Publish an SMS template version
///
/// `POST /api/v1/notification/sms-templates`: creates the template or publishes a version.
/// Administrators only. The content is plain text with `{key}` placeholders; every placeholder must be
/// declared in `variables` and every declared variable used. A published version never changes:
/// publishing it again with the same content changes nothing (except `active`), with different content
/// it is a conflict. `active` defaults to true.
#[utoipa::path(
    post,
    path = "/api/v1/notification/sms-templates",
    tag = openapi::TAG_NOTIFICATION,
    operation_id = "publishSmsTemplate",
    request_body(content = schemas::SmsTemplateRequest, example = json!({
        "templateCode": "PAYMENT_VERIFY_NOTICE",
        "name": "打款验证通知",
        "version": "1",
        "content": "您尾号{accountTail}的账户收到一笔{amount}元的验证打款，请在认证页面填写备注码{remarkCode}。",
        "variables": [
            {"key": "accountTail", "name": "账户尾号", "maxLength": 4},
            {"key": "amount", "name": "打款金额", "maxLength": 12},
            {"key": "remarkCode", "name": "备注码", "maxLength": 8}
        ],
        "active": true
    })),
    responses(
        (status = 200, description = "The published version.", body = schemas::SmsTemplate),
        (status = 400, response = openapi::ValidationFailed),
        (status = 403, response = openapi::Forbidden),
        (status = 409, response = openapi::Conflict),
        (status = 415, response = openapi::UnsupportedMediaType),
    )
)]
async fn publish_template(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<SmsTemplateRequest>,
) -> Result<Json<Value>, AppError> {
    sms_templates::publish(&state, &caller, &request)
        .await
        .map(Json)
}

/// Read an SMS template's current version
///
/// `GET /api/v1/notification/sms-templates/{templateCode}`: the version notices use when they pin
/// none, the most recently activated active one.
#[utoipa::path(
    get,
    path = "/api/v1/notification/sms-templates/{templateCode}",
    tag = openapi::TAG_NOTIFICATION,
    operation_id = "getCurrentSmsTemplate",
    params(("templateCode" = String, Path, description = "The template's code.", example = "PAYMENT_VERIFY_NOTICE")),
    responses(
        (status = 200, description = "The current version.", body = schemas::SmsTemplate),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn current_template(
    State(state): State<AppState>,
    _caller: Caller,
    Path(template_code): Path<String>,
) -> Result<Json<Value>, AppError> {
    sms_templates::current(&state, &template_code)
        .await
        .map(Json)
}

/// Read an SMS template version
///
/// `GET /api/v1/notification/sms-templates/{templateCode}/versions/{version}`: one version, active
/// or not.
#[utoipa::path(
    get,
    path = "/api/v1/notification/sms-templates/{templateCode}/versions/{version}",
    tag = openapi::TAG_NOTIFICATION,
    operation_id = "getSmsTemplateVersion",
    params(
        ("templateCode" = String, Path, description = "The template's code.", example = "PAYMENT_VERIFY_NOTICE"),
        ("version" = String, Path, description = "The version label.", example = "1"),
    ),
    responses(
        (status = 200, description = "The version.", body = schemas::SmsTemplate),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn template_version(
    State(state): State<AppState>,
    _caller: Caller,
    Path((template_code, version)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    sms_templates::version_of(&state, &template_code, &version)
        .await
        .map(Json)
}

/// Activate an SMS template version
///
/// `POST /api/v1/notification/sms-templates/{templateCode}/versions/{version}/activate`: notices may
/// use the version, and it becomes the current one. Administrators only; no body.
#[utoipa::path(
    post,
    path = "/api/v1/notification/sms-templates/{templateCode}/versions/{version}/activate",
    tag = openapi::TAG_NOTIFICATION,
    operation_id = "activateSmsTemplateVersion",
    params(
        ("templateCode" = String, Path, description = "The template's code.", example = "PAYMENT_VERIFY_NOTICE"),
        ("version" = String, Path, description = "The version label.", example = "1"),
    ),
    responses(
        (status = 200, description = "The version, now active.", body = schemas::SmsTemplate),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn activate_template(
    State(state): State<AppState>,
    caller: Caller,
    Path((template_code, version)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    sms_templates::change_activation(&state, &caller, &template_code, &version, true)
        .await
        .map(Json)
}

/// Deactivate an SMS template version
///
/// `POST /api/v1/notification/sms-templates/{templateCode}/versions/{version}/deactivate`: new
/// notices may no longer use the version (40003); notices already requested are still delivered.
/// Administrators only; no body.
#[utoipa::path(
    post,
    path = "/api/v1/notification/sms-templates/{templateCode}/versions/{version}/deactivate",
    tag = openapi::TAG_NOTIFICATION,
    operation_id = "deactivateSmsTemplateVersion",
    params(
        ("templateCode" = String, Path, description = "The template's code.", example = "PAYMENT_VERIFY_NOTICE"),
        ("version" = String, Path, description = "The version label.", example = "1"),
    ),
    responses(
        (status = 200, description = "The version, now inactive.", body = schemas::SmsTemplate),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn deactivate_template(
    State(state): State<AppState>,
    caller: Caller,
    Path((template_code, version)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    sms_templates::change_activation(&state, &caller, &template_code, &version, false)
        .await
        .map(Json)
}

/// Send a payment-verification notice
///
/// `POST /api/v1/notification/sms`: renders the template version (the pinned `templateVersion`, else
/// the current one) with `variables` and texts it to `mobile`. Every variable of the version is
/// required and nothing else is accepted (40001 names `variables.<key>`); a missing or inactive
/// template answers 40003. Idempotent per `bizId` + `bizType` and client: a repeat answers 409 / 40002
/// with the existing notice. The notice is recorded before it is sent; the answer shows the first
/// attempt's outcome (`SENT`, or `FAILED` with `nextAttemptAt` when it will be retried).
#[utoipa::path(
    post,
    path = "/api/v1/notification/sms",
    tag = openapi::TAG_NOTIFICATION,
    operation_id = "sendSmsNotice",
    request_body(content = schemas::SmsNoticeRequest, example = json!({
        "bizId": "PAY_VERIFY_20231027001",
        "bizType": "PAYMENT_VERIFICATION",
        "templateCode": "PAYMENT_VERIFY_NOTICE",
        "mobile": "13800138000",
        "variables": {"accountTail": "6789", "amount": "0.12", "remarkCode": "A1B2C3"}
    })),
    responses(
        (status = 200, description = "The notice, after its first attempt.", body = schemas::SmsNotice),
        (status = 400, response = openapi::ValidationFailed),
        (status = 409, response = openapi::DuplicateOrConflict),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 422, response = openapi::TemplateUnavailable),
    )
)]
async fn send_notice(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<NoticeRequest>,
) -> Result<Json<Value>, AppError> {
    notices::send(&state, &caller, &request).await.map(Json)
}

/// Read a notice
///
/// `GET /api/v1/notification/sms/{noticeId}`: the notice and its delivery state, the mobile number in
/// clear for its owner. Variable values are never returned.
#[utoipa::path(
    get,
    path = "/api/v1/notification/sms/{noticeId}",
    tag = openapi::TAG_NOTIFICATION,
    operation_id = "getSmsNotice",
    params(("noticeId" = String, Path, description = "The id `POST /notification/sms` returned.",
        example = "SMS_NOTICE_20231027A1B2C3D4E5F60718")),
    responses(
        (status = 200, description = "The notice.", body = schemas::SmsNotice),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn show_notice(
    State(state): State<AppState>,
    caller: Caller,
    Path(notice_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    notices::show(&state, &caller, &notice_id).await.map(Json)
}

/// Audit trail of a notice
///
/// `GET /api/v1/notification/sms/{noticeId}/events`: every event of the notice (request, attempts,
/// outcomes), the mobile number and variable values masked.
#[utoipa::path(
    get,
    path = "/api/v1/notification/sms/{noticeId}/events",
    tag = openapi::TAG_NOTIFICATION,
    operation_id = "getSmsNoticeEvents",
    params(("noticeId" = String, Path, description = "The id `POST /notification/sms` returned.",
        example = "SMS_NOTICE_20231027A1B2C3D4E5F60718")),
    responses(
        (status = 200, description = "Every event of the notice, oldest first.", body = schemas::AuditTrail),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn notice_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(notice_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let timeline = notices::events(&state, &caller, &notice_id).await?;
    as_json(timeline)
}
