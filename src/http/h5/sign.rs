//! The signing page and its form posts (spec 4.1.2 step 3): view, SMS step, signature, rejection.

use std::time::Duration;

use aggregates::values::Reason;
use axum::extract::{Form, Query, State};
use axum::http::header::{self, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;

use super::PageError;
use super::pages::{self, SignPage};
use super::security::{self, ClientIp};
use crate::app::AppError;
use crate::app::signing::{self, SignLink, codes};
use crate::http::AppState;
use crate::store::EventMetadata;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

#[derive(Debug, Deserialize)]
pub(super) struct TokenQuery {
    #[serde(default)]
    pub(super) token: String,
}

/// Every signing form: the CSRF token plus the step's own fields.
#[derive(Debug, Default, Deserialize)]
pub(super) struct StepForm {
    pub(super) csrf: Option<String>,
    code: Option<String>,
    signature: Option<String>,
    reason: Option<String>,
}

/// The checks every H5 request passes before anything is looked up or written: rate limits per IP
/// and per link, then the Referer allow-list.
pub(super) fn admit(
    state: &AppState,
    ip: ClientIp,
    token: &str,
    headers: &HeaderMap,
    check_referer: bool,
) -> Result<(), PageError> {
    let h5 = &state.config.h5;
    if !state.h5_limiter.allow(
        &format!("ip:{}", ip.0),
        h5.requests_per_minute_per_ip,
        MINUTE,
    ) {
        tracing::warn!(ip = %ip.0, "signing page: per-IP rate limit reached");
        return Err(PageError::TooManyRequests("per IP"));
    }
    if let Some(hash) = signing::token_hash(token)
        && !state.h5_limiter.allow(
            &format!("link:{hash}"),
            h5.requests_per_minute_per_link,
            MINUTE,
        )
    {
        tracing::warn!(ip = %ip.0, "signing page: per-link rate limit reached");
        return Err(PageError::TooManyRequests("per link"));
    }
    if check_referer {
        security::referer_check(
            headers,
            &h5.referer_allowlist,
            &state.config.server.public_base_url,
        )
        .map_err(PageError::Referer)?;
    }
    Ok(())
}

/// The signer's event metadata: who (the party), from where (IP, user agent), which request.
pub(super) fn signer_metadata(
    resolved: &SignLink,
    ip: ClientIp,
    headers: &HeaderMap,
) -> EventMetadata {
    EventMetadata {
        actor: format!("signer:{}", resolved.party_id),
        client_id: None,
        ip: Some(ip.0.to_string()),
        user_agent: user_agent(headers),
        correlation_id: headers
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        causation_id: None,
    }
}

pub(super) fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(|agent| {
            agent
                .chars()
                .filter(|c| !c.is_control())
                .take(512)
                .collect()
        })
        .filter(|agent: &String| !agent.trim().is_empty())
}

/// Resolves the token of a form post, checks its CSRF token and that the link still works.
pub(super) async fn posted(
    state: &AppState,
    ip: ClientIp,
    token: &str,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Result<SignLink, PageError> {
    admit(state, ip, token, headers, true)?;
    let resolved = signing::resolve(state, token).await?;
    if !security::csrf_passes(headers, &state.pii, &resolved.hash, csrf) {
        tracing::warn!(contract_id = %resolved.contract_id, party_id = %resolved.party_id, ip = %ip.0,
            "signing page post refused: CSRF token missing or wrong; nothing written");
        return Err(PageError::Csrf);
    }
    resolved.live(Utc::now())?;
    Ok(resolved)
}

pub(super) fn back_to_page(token: &str) -> Response {
    Redirect::to(&format!(
        "/h5/sign?token={}",
        percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC)
    ))
    .into_response()
}

/// The signing page
///
/// `GET /h5/sign?token=...`: checks the link, records the visit (`SignLinkOpened`), and shows the
/// contract and the signer's next step, all read from the events so a reload resumes.
pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    admit(&state, ip, &query.token, &headers, true)?;
    let mut resolved = signing::resolve(&state, &query.token).await?;
    let metadata = signer_metadata(&resolved, ip, &headers);
    signing::open(
        &state,
        &mut resolved,
        &metadata,
        ip.0,
        user_agent(&headers).as_deref(),
    )
    .await?;
    // A face result that arrived by callback (or before the signer came back) counts now.
    let face = signing::face::settle(&state, &mut resolved, &metadata).await?;
    let now = Utc::now();
    let live = resolved.live(now)?;
    let csrf = match security::csrf_cookie(&headers, &state.pii, &resolved.hash) {
        Some(existing) => existing,
        None => {
            security::new_csrf_token(&state.pii, &resolved.hash).map_err(PageError::Internal)?
        }
    };
    let body = signing::contract_text(&state, live).await;
    // The organisation signer sees the seal that will be applied in its name.
    let seal_png = match crate::app::revisions::organization_seal(&state, live.signer).await {
        Ok(seal) => seal,
        Err(error) => {
            tracing::warn!(contract_id = %resolved.contract_id, %error, "the signer's seal cannot be shown");
            None
        }
    };
    let policy = state.config.sms.code_policy();
    let html = pages::sign_page(&SignPage {
        token: &resolved.token,
        csrf: &csrf,
        contract: live.contract,
        signer: live.signer,
        link: live.link,
        body,
        seal_png: seal_png.as_deref(),
        waiting: !live.contract.waiting_before(live.signer).is_empty(),
        face,
        resend_cooldown: policy.resend_cooldown,
        max_failed_attempts: policy.max_failed_attempts,
        personal_ca_trusted: !state.personal.roots.is_empty(),
        now,
    });
    let secure = state.config.server.public_base_url.starts_with("https://");
    Ok((
        [(
            header::SET_COOKIE,
            security::csrf_set_cookie(&resolved.hash, &csrf, secure),
        )],
        Html(html),
    )
        .into_response())
}

/// Which uploaded document to open (`/h5/sign/document?token=...&document=1`).
#[derive(Debug, Deserialize)]
pub(super) struct DocumentQuery {
    #[serde(default)]
    token: String,
    document: Option<u32>,
}

/// One of the contract's uploaded documents as every signer signs it
///
/// `GET /h5/sign/document?token=...&document=N`: the unsigned first revision (the upload with its
/// empty signature fields), for the signer to read before signing; only while their link lives.
pub(super) async fn document(
    State(state): State<AppState>,
    Query(query): Query<DocumentQuery>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    admit(&state, ip, &query.token, &headers, false)?;
    let resolved = signing::resolve(&state, &query.token).await?;
    let live = resolved.live(Utc::now())?;
    let number = query.document.unwrap_or(1);
    if !live
        .contract
        .content
        .uploaded()
        .iter()
        .any(|document| document.document == number)
    {
        return Err(PageError::Invalid {
            field: "document",
            reason: "names no document of this contract".to_owned(),
        });
    }
    let first = crate::app::uploaded_documents::first_revision(&state, live.contract, number)
        .await
        .map_err(|error| PageError::Internal(error.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_DISPOSITION, "inline"),
        ],
        first.bytes,
    )
        .into_response())
}

/// SMS step: send a code
///
/// `POST /h5/sign/sms/send?token=...`: rate-limited per IP and per link on top of the contract's own
/// cool-down; then back to the page.
pub(super) async fn send_code(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<StepForm>,
) -> Result<Response, PageError> {
    let resolved = posted(&state, ip, &query.token, &headers, form.csrf.as_deref()).await?;
    let live = resolved.live(Utc::now())?;
    signing::ensure_turn(&live)?;
    let h5 = &state.config.h5;
    if !state
        .h5_limiter
        .allow(&format!("sms-ip:{}", ip.0), h5.sms_per_hour_per_ip, HOUR)
        || !state.h5_limiter.allow(
            &format!("sms-link:{}", resolved.hash),
            h5.sms_per_hour_per_link,
            HOUR,
        )
    {
        return Err(PageError::TooManyRequests("SMS codes"));
    }
    let metadata = signer_metadata(&resolved, ip, &headers);
    codes::send_signing_code(
        &state,
        &resolved.contract_id,
        &resolved.party_id,
        &live.link.link_id,
        &metadata,
    )
    .await
    .map_err(AppError::from)?;
    Ok(back_to_page(&resolved.token))
}

/// SMS step: check the code
///
/// `POST /h5/sign/sms/verify?token=...` with `code`: a wrong code counts (the page then shows the
/// attempts left, or the lock); back to the page either way.
pub(super) async fn verify_code(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<StepForm>,
) -> Result<Response, PageError> {
    let resolved = posted(&state, ip, &query.token, &headers, form.csrf.as_deref()).await?;
    let live = resolved.live(Utc::now())?;
    signing::ensure_turn(&live)?;
    let code = form.code.as_deref().map(str::trim).unwrap_or_default();
    if code.len() != 6 || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(PageError::Invalid {
            field: "code",
            reason: "must be 6 digits".into(),
        });
    }
    let metadata = signer_metadata(&resolved, ip, &headers);
    codes::verify_signing_code(
        &state,
        &resolved.contract_id,
        &resolved.party_id,
        &live.link.link_id,
        code,
        &metadata,
    )
    .await
    .map_err(AppError::from)?;
    Ok(back_to_page(&resolved.token))
}

/// Signature
///
/// `POST /h5/sign/submit?token=...` with `signature` (the pad's PNG as a data URL): validates the
/// image, records `Sign` with the image (sealed) and its SHA-256, and answers the done page. An
/// organisation signer whose appearance is its seal alone posts no image: the seal is applied.
pub(super) async fn submit(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<StepForm>,
) -> Result<Response, PageError> {
    let resolved = posted(&state, ip, &query.token, &headers, form.csrf.as_deref()).await?;
    let live = resolved.live(Utc::now())?;
    signing::ensure_turn(&live)?;
    // An organisation that applies its seal alone draws nothing; anyone else must have drawn.
    let image = if live.signer.draws_signature() {
        Some(super::signature::parse(form.signature.as_deref())?)
    } else {
        None
    };
    let metadata = signer_metadata(&resolved, ip, &headers);
    let signed = signing::sign(
        &state,
        &resolved,
        &metadata,
        ip.0,
        image,
        user_agent(&headers).as_deref(),
    )
    .await?;
    Ok(Html(pages::done_page(
        &signed.title,
        &signed.transaction_no,
        signed.contract_signed,
    ))
    .into_response())
}

/// Rejection
///
/// `POST /h5/sign/reject?token=...` with `reason` (required): records `Reject` (the contract becomes
/// REJECTED) and answers the rejected page. Allowed whatever the signer's turn.
pub(super) async fn reject(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<StepForm>,
) -> Result<Response, PageError> {
    let resolved = posted(&state, ip, &query.token, &headers, form.csrf.as_deref()).await?;
    resolved.live(Utc::now())?;
    let reason = Reason::parse(form.reason.as_deref().unwrap_or_default()).map_err(|error| {
        PageError::Invalid {
            field: "reason",
            reason: error.to_string(),
        }
    })?;
    let metadata = signer_metadata(&resolved, ip, &headers);
    let title = signing::reject(&state, &resolved, &metadata, ip.0, reason.clone()).await?;
    Ok(Html(pages::rejected_page(&title, reason.as_str())).into_response())
}
