//! The person's side of a face verification, each keyed by the page token of `verificationUrl`:
//!
//! - `GET /h5/face-verify?token=...`: the page `verificationUrl` opens. Mobile-first, Chinese, the
//!   caller's `uiConfig` applied (title, logo, theme colour); shows whom the check is for (masked) and
//!   hands over to the provider's page, or shows the result once there is one, or the degraded SMS form.
//! - `GET /h5/face-verify/return?token=...`: where providers send the browser back. A redirect proves
//!   nothing, so this asks the provider for the result server-side, records it, and shows the status.
//! - `POST /h5/face-verify/degraded/code?token=...` and `POST /h5/face-verify/degraded/verify?token=...`:
//!   the two steps of the degraded check (spec 7.2.1): send an SMS code, then check it.
//!
//! The pages are server-rendered with one small inline script (the degraded form) and no outside
//! assets; the content security policy allows nothing else but the caller's logo.

mod page;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, USER_AGENT,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::FixedOffset;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::api::JsonBody;
use super::openapi::{self, schemas};
use crate::app::error::AppError;
use crate::app::verifications as flow;
use crate::app::verifications::open_page_token;
use crate::store::EventMetadata;
use page::{Look, View};

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
        .route("/h5/face-verify", get(start_page))
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

/// The verification a page token names; `live` also requires the token's deadline not to have passed
/// and the link not to have been replaced. The way back from the provider (not live) only asks the
/// provider for its verdict, so any genuine link of the verification may take it.
async fn verification_of(state: &AppState, token: &str, live: bool) -> Result<String, AppError> {
    if live {
        return crate::app::verifications::live_page(state, token).await;
    }
    match open_page_token(&state.pii, token) {
        Some(page) => Ok(page.verification_id),
        None => {
            tracing::warn!("face verification page token refused: keyed hash mismatch");
            Err(AppError::NotFound)
        }
    }
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

async fn status_of(state: &AppState, verification_id: &str) -> Result<Value, AppError> {
    let row = state
        .store
        .verifications()
        .by_id(verification_id)
        .await?
        .ok_or(AppError::NotFound)?;
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
) -> Result<Response, AppError> {
    let wants_html = headers
        .get(ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let pulled = async {
        let verification_id = verification_of(&state, &query.token, false).await?;
        let metadata = person(&verification_id, &headers, peer);
        flow::pull_result(&state, &verification_id, &metadata).await?;
        Ok::<_, AppError>(verification_id)
    }
    .await;
    if !wants_html {
        return Ok(Json(status_of(&state, &pulled?).await?).into_response());
    }
    Ok(match pulled {
        Ok(verification_id) => render(&state, &verification_id, &query.token, View::Result).await,
        Err(error) => error_page(error, None).await,
    })
}

/// The verification page
///
/// `GET /h5/face-verify?token=...`, the `verificationUrl` of an initiation: a mobile page in the
/// caller's `uiConfig` (title, logo, theme colour) that shows whom the check is for (masked) and hands
/// over to the provider's page (`#face-verify-start`); once there is a result it shows it
/// (`#face-result`), and a degraded verification shows the SMS-code form. An invalid token answers an
/// error page with 40400, one past its deadline 40004 (`#error-code`).
#[utoipa::path(
    get,
    path = "/h5/face-verify",
    tag = openapi::TAG_PERSON,
    operation_id = "faceVerificationPage",
    params(PageToken),
    responses(
        (status = 200, description = "The page (HTML).", content_type = "text/html", body = String),
        (status = 404, description = "40400: the token is not valid (an HTML error page).", content_type = "text/html", body = String),
        (status = 410, description = "40004: the verification's deadline has passed (an HTML error page).", content_type = "text/html", body = String),
    )
)]
pub(crate) async fn start_page(
    State(state): State<AppState>,
    Query(query): Query<PageToken>,
    PeerIp(peer): PeerIp,
    headers: HeaderMap,
) -> Response {
    match verification_of(&state, &query.token, true).await {
        Ok(verification_id) => {
            let metadata = person(&verification_id, &headers, peer);
            // The page still shows when this cannot be recorded: the person's check matters more
            // than the PROCESSING status.
            if let Err(error) = flow::record_opened(&state, &verification_id, &metadata).await {
                tracing::warn!(%verification_id, %error, "cannot record that the face page was opened");
            }
            render(&state, &verification_id, &query.token, View::Start).await
        }
        Err(AppError::LinkExpired) => {
            // The token is genuine, so the page may wear the caller's look.
            let look = match open_page_token(&state.pii, &query.token) {
                Some(page) => look_of(&state, &page.verification_id).await,
                None => None,
            };
            error_page(AppError::LinkExpired, look).await
        }
        Err(error) => error_page(error, None).await,
    }
}

/// The page of a verification, or the error page.
async fn render(state: &AppState, verification_id: &str, token: &str, view: View) -> Response {
    match load_page(state, verification_id, token).await {
        Ok((look, verification)) => {
            let (body, script) = page::verification(view, &verification);
            html(StatusCode::OK, &look, &body, script)
        }
        Err(error) => error_page(error, None).await,
    }
}

async fn load_page(
    state: &AppState,
    verification_id: &str,
    token: &str,
) -> Result<(Look, page::Verification), AppError> {
    let row = state
        .store
        .verifications()
        .by_id(verification_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let id_card_no = match row.json("id_card_no") {
        Some(sealed) => state
            .pii
            .open_text(&sealed["$pii"])
            .map_err(|error| AppError::Internal(format!("cannot open the ID number: {error}")))?,
        None => String::new(),
    };
    let name = crate::read::views::person_name(&row, "user_name", &state.pii)
        .map_err(|error| AppError::Internal(format!("cannot open the name: {error}")))?
        .unwrap_or_default();
    // The pages speak to people in China: deadlines in Beijing time.
    let beijing =
        FixedOffset::east_opt(8 * 3600).ok_or_else(|| AppError::Internal("UTC+8".into()))?;
    let verification = page::Verification {
        status: row.text("status").unwrap_or("PENDING").to_owned(),
        degraded: row.boolean("degraded").unwrap_or(false),
        fail_reason: row.text("fail_reason").map(str::to_owned),
        provider_url: row.text("provider_url").map(str::to_owned),
        masked_name: page::mask_name(&name),
        masked_id_card_no: crate::pii::mask_text(&id_card_no),
        expires_at: row
            .time("expires_at")
            .map(|at| {
                at.with_timezone(&beijing)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_default(),
        token: token.to_owned(),
    };
    Ok((
        Look::from_ui_config(row.json("ui_config_json").as_ref()),
        verification,
    ))
}

/// The caller's look for a verification, when it can be read.
async fn look_of(state: &AppState, verification_id: &str) -> Option<Look> {
    let row = state
        .store
        .verifications()
        .by_id(verification_id)
        .await
        .ok()??;
    Some(Look::from_ui_config(row.json("ui_config_json").as_ref()))
}

/// An HTML page with the pages' security headers: a policy with a fresh nonce, no referrer (the URL
/// carries the token), never cached.
fn html(status: StatusCode, look: &Look, body: &str, script: Option<&str>) -> Response {
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let mut response = (status, Html(page::document(look, &nonce, body, script))).into_response();
    let policy =
        HeaderValue::from_str(&look.content_security_policy(&nonce)).unwrap_or_else(|_| {
            HeaderValue::from_static("default-src 'none'; base-uri 'none'; frame-ancestors 'none'")
        });
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, policy);
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The error page for `error`, with the code and status the API would answer (the one mapping in
/// `error.rs` decides both, and logs the refusal).
async fn error_page(error: AppError, look: Option<Look>) -> Response {
    let response = error.into_response();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let code = parsed["code"]
        .as_u64()
        .and_then(|code| u32::try_from(code).ok())
        .unwrap_or(50000);
    let message = parsed["message"].as_str().unwrap_or("系统内部错误");
    let look = look.unwrap_or_else(|| Look::from_ui_config(None));
    html(status, &look, &page::error(code, message), None)
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
) -> Result<Json<Value>, AppError> {
    let verification_id = verification_of(&state, &query.token, true).await?;
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
        (status = 400, response = openapi::ValidationFailed),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 410, response = openapi::LinkExpired),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 422, response = openapi::IdentityFailed),
    )
)]
pub(crate) async fn verify_code(
    State(state): State<AppState>,
    Query(query): Query<PageToken>,
    PeerIp(peer): PeerIp,
    headers: HeaderMap,
    JsonBody(entry): JsonBody<CodeEntry>,
) -> Result<Json<Value>, AppError> {
    let verification_id = verification_of(&state, &query.token, true).await?;
    let metadata = person(&verification_id, &headers, peer);
    if flow::verify_degraded_code(&state, &verification_id, &entry.code, &metadata).await? {
        Ok(Json(status_of(&state, &verification_id).await?))
    } else {
        Err(AppError::IdentityFailed)
    }
}
