//! Payment-verification notices (spec 1.2 item 3, 3.2, 7.2.4): SMS templates managed by
//! administrators, and notices sent to a person's phone on a caller's request.
//!
//! Templates are shared, like contract templates: administrators publish and (de)activate versions,
//! every client may read them. A notice belongs to the client that asked for it; every other client
//! gets 404. A notice is recorded before it is sent; the answer shows the outcome of the first attempt
//! and later attempts are made by the delivery sweep (see `esign::sms::notices`).

use aggregates::Aggregate;
use aggregates::sms_notice::{
    NoticeId, NoticeRequest, RequestNotice, SmsNoticeAggregate, SmsNoticeCommand,
};
use aggregates::sms_template::{
    ChangeSmsTemplateActivation, PublishSmsTemplate, SmsTemplateAggregate, SmsTemplateCommand,
    SmsTemplateFacts, SmsTemplateRequest,
};
use aggregates::values::{ClientId, TemplateId, TemplateVersion};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use projections::Table;
use serde_json::Value;

use super::{Caller, JsonBody};
use crate::app::error::AppError;
use crate::app::notices;
use crate::app::pipeline::CommandError;
use crate::http::AppState;
use crate::http::openapi::{self, schemas};
use crate::store::StreamId;
use crate::store::query_tables::RowView;

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

fn template_stream(template_code: &TemplateId) -> StreamId {
    StreamId::new(SmsTemplateAggregate::NAME, template_code.as_str())
}

fn actor(caller: &Caller) -> Result<ClientId, AppError> {
    ClientId::parse(&caller.client.id).map_err(|e| AppError::Internal(e.to_string()))
}

fn require_admin(caller: &Caller, what: &str) -> Result<(), AppError> {
    if caller.client.admin {
        return Ok(());
    }
    tracing::warn!(client = %caller.client.id, what, "a non-administrator tried to manage SMS templates");
    Err(AppError::Forbidden)
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
    require_admin(&caller, "publish")?;
    let actor = actor(&caller)?;
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
                Ok(_) => {
                    AppError::Internal("an SMS template without a valid code was accepted".into())
                }
            },
        );
    };
    state
        .pipeline
        .execute::<SmsTemplateAggregate>(&template_stream(&template_code), &caller.metadata, |_| {
            command()
        })
        .await?;
    let version = request.version.clone().unwrap_or_default();
    find_template_version(&state, template_code.as_str(), &version)
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
    let rows = state.store.templates().sms_versions(&template_code).await?;
    rows.iter()
        .find(|row| row.boolean("active") == Some(true))
        .map(|row| Json(crate::read::views::sms_template(row)))
        .ok_or(AppError::NotFound)
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
    find_template_version(&state, &template_code, &version)
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
    state: State<AppState>,
    caller: Caller,
    path: Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    change_activation(state, caller, path, true).await
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
    state: State<AppState>,
    caller: Caller,
    path: Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    change_activation(state, caller, path, false).await
}

async fn change_activation(
    State(state): State<AppState>,
    caller: Caller,
    Path((template_code, version)): Path<(String, String)>,
    active: bool,
) -> Result<Json<Value>, AppError> {
    require_admin(&caller, if active { "activate" } else { "deactivate" })?;
    let (Ok(code), Ok(parsed_version)) = (
        TemplateId::parse(&template_code),
        TemplateVersion::parse(&version),
    ) else {
        return Err(AppError::NotFound);
    };
    let change = ChangeSmsTemplateActivation {
        version: parsed_version,
        actor: actor(&caller)?,
        now: Utc::now(),
    };
    state
        .pipeline
        .execute::<SmsTemplateAggregate>(&template_stream(&code), &caller.metadata, |_| {
            if active {
                SmsTemplateCommand::Activate(change.clone())
            } else {
                SmsTemplateCommand::Deactivate(change.clone())
            }
        })
        .await?;
    find_template_version(&state, &template_code, &version)
        .await
        .map(Json)
}

async fn find_template_version(
    state: &AppState,
    template_code: &str,
    version: &str,
) -> Result<Value, AppError> {
    state
        .store
        .templates()
        .sms_version(template_code, version)
        .await?
        .map(|row| crate::read::views::sms_template(&row))
        .ok_or(AppError::NotFound)
}

/// The version a notice request names (the pinned one, else the current one), read from the
/// template's stream, or `None` when there is none.
async fn template_facts(
    state: &AppState,
    request: &NoticeRequest,
) -> Result<Option<SmsTemplateFacts>, AppError> {
    let Some(code) = request
        .template_code
        .as_deref()
        .and_then(|code| TemplateId::parse(code).ok())
    else {
        return Ok(None);
    };
    let loaded = state
        .pipeline
        .load::<SmsTemplateAggregate>(&template_stream(&code))
        .await?;
    let Some(template) = loaded.state.template() else {
        return Ok(None);
    };
    let version = match request.template_version.as_deref() {
        Some(pinned) => TemplateVersion::parse(pinned)
            .ok()
            .and_then(|pinned| template.versions.get(&pinned)),
        None => template.current_version(),
    };
    Ok(version.map(|version| template.facts(version)))
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
    if let Some(existing) = find_by_biz_id(&state, &caller, &request).await? {
        return Err(AppError::Duplicate { existing });
    }
    let template = template_facts(&state, &request).await?;
    let notice_id = NoticeId::parse(&crate::app::ids::new_id("SMS_NOTICE"))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let client_id = actor(&caller)?;
    let now = Utc::now();
    let stream = notices::stream(notice_id.as_str());
    let executed = state
        .pipeline
        .execute::<SmsNoticeAggregate>(&stream, &caller.metadata, |_| {
            SmsNoticeCommand::Request(RequestNotice {
                notice_id: notice_id.clone(),
                client_id: client_id.clone(),
                request: request.clone(),
                template: template.clone(),
                now,
            })
        })
        .await;
    if super::lost_biz_id_race(&executed, Table::SmsNotice)
        && let Some(existing) = find_by_biz_id(&state, &caller, &request).await?
    {
        return Err(AppError::Duplicate { existing });
    }
    if let Err(CommandError::Domain(refusal)) = &executed {
        tracing::info!(
            client = %caller.client.id,
            ?request,
            %refusal,
            "notice refused"
        );
    }
    executed?;
    // Its own task: the attempt finishes (and is recorded) even if the caller hangs up meanwhile.
    let delivery = {
        let state = state.clone();
        let notice_id = notice_id.clone();
        tokio::spawn(async move { notices::deliver(&state, &notice_id, 1).await })
    };
    match delivery.await {
        Ok(Ok(())) => {}
        // The notice is safe in the log; the sweep makes the attempt again after its lease.
        Ok(Err(error)) => tracing::warn!(%notice_id, %error, "first attempt not completed"),
        Err(error) => tracing::error!(%notice_id, %error, "first attempt task failed"),
    }
    let row = owned(&state, &caller, notice_id.as_str()).await?;
    Ok(Json(crate::read::views::sms_notice(&row, &state.pii)?))
}

async fn find_by_biz_id(
    state: &AppState,
    caller: &Caller,
    request: &NoticeRequest,
) -> Result<Option<Value>, AppError> {
    let (Some(biz_id), Some(biz_type)) = (&request.biz_id, &request.biz_type) else {
        return Ok(None);
    };
    let row = state
        .store
        .notices()
        .by_biz_id(&caller.client.id, biz_id, biz_type)
        .await?;
    match row {
        Some(row) => Ok(Some(crate::read::views::sms_notice(&row, &state.pii)?)),
        None => Ok(None),
    }
}

async fn owned(state: &AppState, caller: &Caller, notice_id: &str) -> Result<RowView, AppError> {
    state
        .store
        .notices()
        .owned(notice_id, &caller.client.id)
        .await?
        .ok_or(AppError::NotFound)
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
    let row = owned(&state, &caller, &notice_id).await?;
    Ok(Json(crate::read::views::sms_notice(&row, &state.pii)?))
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
    owned(&state, &caller, &notice_id).await?;
    super::audit_trail(&state, notices::stream(&notice_id)).await
}
