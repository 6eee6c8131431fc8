//! The person's side of a face verification that esign must serve now, each keyed by the page token
//! of `verificationUrl` (the full H5 pages come later):
//!
//! - `GET /h5/face-verify/return?token=...`: where providers send the browser back. A redirect proves
//!   nothing, so this asks the provider for the result server-side, records it, and shows the status.
//! - `POST /h5/face-verify/degraded/code?token=...` and `POST /h5/face-verify/degraded/verify?token=...`:
//!   the two steps of the degraded check (spec 7.2.1): send an SMS code, then check it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, USER_AGENT};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use projections::Table;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::api::JsonBody;
use super::error::ApiError;
use super::openapi::{self, schemas};
use crate::face::{flow, open_page_token};
use crate::queries::select_one;
use crate::store::EventMetadata;

/// The peer's address, when the server was started with connection info (it always is outside unit
/// tests).
#[derive(Debug, Clone)]
pub(crate) struct PeerIp(pub Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| *peer),
        ))
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/h5/face-verify/return", get(returned))
        .route("/h5/face-verify/degraded/code", post(send_code))
        .route("/h5/face-verify/degraded/verify", post(verify_code))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageToken {
    /// The token of `verificationUrl`. A missing one is refused like a wrong one (404).
    #[serde(default)]
    token: String,
}

/// The verification a page token names; `live` also requires the token's deadline not to have passed.
fn verification_of(state: &AppState, token: &str, live: bool) -> Result<String, ApiError> {
    let Some((verification_id, expires_unix)) = open_page_token(&state.pii, token) else {
        tracing::warn!("face verification page token refused: keyed hash mismatch");
        return Err(ApiError::NotFound);
    };
    if live && Utc::now().timestamp() >= expires_unix {
        return Err(ApiError::LinkExpired);
    }
    Ok(verification_id)
}

fn person(verification_id: &str, headers: &HeaderMap, peer: Option<SocketAddr>) -> EventMetadata {
    EventMetadata {
        actor: format!("person:{verification_id}"),
        client_id: None,
        ip: peer.map(|peer| peer.ip().to_string()),
        user_agent: headers
            .get(USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(512).collect()),
        correlation_id: headers
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        causation_id: None,
    }
}

async fn status_of(state: &AppState, verification_id: &str) -> Result<Value, ApiError> {
    let row = select_one(
        &state.store,
        Table::FaceVerification,
        "verification_id = {1}",
        &[verification_id],
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(json!({
        "verificationId": row.text("verification_id"),
        "status": row.text("status"),
        "method": row.text("verification_method"),
        "degraded": row.boolean("degraded").unwrap_or(false),
        "failReason": row.text("fail_reason"),
    }))
}

/// Back from the provider's page
///
/// `GET /h5/face-verify/return?token=...`: pulls the result from the task's provider, records it,
/// and shows the verification's status (HTML for browsers, JSON otherwise). Only the provider's own
/// answer changes the status, never the redirect.
#[utoipa::path(
    get,
    path = "/h5/face-verify/return",
    tag = openapi::TAG_PERSON,
    operation_id = "faceVerificationReturn",
    params(PageToken),
    responses(
        (status = 200, description = "The status after the pull.", body = schemas::FaceVerificationPageStatus),
        (status = 404, response = openapi::NotFound),
    )
)]
pub(crate) async fn returned(
    State(state): State<AppState>,
    Query(query): Query<PageToken>,
    PeerIp(peer): PeerIp,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let verification_id = verification_of(&state, &query.token, false)?;
    let metadata = person(&verification_id, &headers, peer);
    flow::pull_result(&state, &verification_id, &metadata).await?;
    let status = status_of(&state, &verification_id).await?;
    let wants_html = headers
        .get(ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !wants_html {
        return Ok(Json(status).into_response());
    }
    let text = match status["status"].as_str() {
        Some("SUCCESS") => "身份核验已通过，请返回业务页面继续。",
        Some("FAILED") => "身份核验未通过，请返回业务页面重新发起。",
        Some("EXPIRED") => "核验链接已过期，请返回业务页面重新获取。",
        _ => "核验结果确认中，请稍后刷新本页或返回业务页面查看。",
    };
    Ok(Html(format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>人脸核验</title></head>\
         <body style=\"font-family:sans-serif;max-width:480px;margin:40px auto;padding:0 20px\">\
         <h1 style=\"font-size:20px\">人脸核验</h1><p>{text}</p></body></html>"
    ))
    .into_response())
}

/// Degraded check: send the code
///
/// `POST /h5/face-verify/degraded/code?token=...`: sends a six-digit code, valid 5 minutes, to the
/// mobile number given at initiation (only its keyed hash is recorded). A new code may be requested
/// after 60 s; it replaces the previous one.
#[utoipa::path(
    post,
    path = "/h5/face-verify/degraded/code",
    tag = openapi::TAG_PERSON,
    operation_id = "sendDegradedCode",
    params(PageToken),
    responses(
        (status = 200, description = "The code was sent.", body = schemas::DegradedCodeSent),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 410, response = openapi::LinkExpired),
    )
)]
pub(crate) async fn send_code(
    State(state): State<AppState>,
    Query(query): Query<PageToken>,
    PeerIp(peer): PeerIp,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let verification_id = verification_of(&state, &query.token, true)?;
    let metadata = person(&verification_id, &headers, peer);
    let masked = flow::send_degraded_code(&state, &verification_id, &metadata).await?;
    Ok(Json(json!({
        "sent": true,
        "mobile": masked,
        "expiresInSeconds": aggregates::values::SMS_CODE_TTL_MINUTES * 60,
    })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CodeEntry {
    code: String,
}

/// Degraded check: enter the code
///
/// `POST /h5/face-verify/degraded/verify?token=...` with `{"code": "123456"}`. The right code passes
/// the verification (SUCCESS, `degraded: true`, method `SMS_AND_IDENTITY`); a wrong one answers
/// 422 / 40006 and counts: the fifth wrong code locks the check (409).
#[utoipa::path(
    post,
    path = "/h5/face-verify/degraded/verify",
    tag = openapi::TAG_PERSON,
    operation_id = "verifyDegradedCode",
    params(PageToken),
    request_body(content = schemas::DegradedCodeEntry),
    responses(
        (status = 200, description = "The check passed.", body = schemas::FaceVerificationPageStatus),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 410, response = openapi::LinkExpired),
        (status = 422, response = openapi::IdentityFailed),
    )
)]
pub(crate) async fn verify_code(
    State(state): State<AppState>,
    Query(query): Query<PageToken>,
    PeerIp(peer): PeerIp,
    headers: HeaderMap,
    JsonBody(entry): JsonBody<CodeEntry>,
) -> Result<Json<Value>, ApiError> {
    let verification_id = verification_of(&state, &query.token, true)?;
    let metadata = person(&verification_id, &headers, peer);
    if flow::verify_degraded_code(&state, &verification_id, &entry.code, &metadata).await? {
        Ok(Json(status_of(&state, &verification_id).await?))
    } else {
        Err(ApiError::IdentityFailed)
    }
}
