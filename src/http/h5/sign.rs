//! The signing page and its form posts (spec 4.1.2 step 3): view, SMS step, signature, rejection.

use std::time::Duration;

use aggregates::Aggregate;
use aggregates::contract::{
    ContractAggregate, ContractCommand, ContractError, ContractState, OpenSignLink, Reject, Sign,
};
use aggregates::template::TemplateAggregate;
use aggregates::values::{DeviceInfo, Digest, Reason, TransactionNo, UserAgent};
use axum::extract::{Form, Query, State};
use axum::http::header::{self, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::PageError;
use super::link::{Live, Resolved, resolve};
use super::pages::{self, SignPage};
use super::security::{self, ClientIp};
use crate::app::pipeline::CommandError;
use crate::app::signing_codes::{self as signing, SigningCodeError};
use crate::http::AppState;
use crate::store::{EventMetadata, StreamId};

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
    if let Some(hash) = security::token_hash(token)
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
    resolved: &Resolved,
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

fn user_agent(headers: &HeaderMap) -> Option<String> {
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

pub(super) fn stream(resolved: &Resolved) -> StreamId {
    StreamId::new(ContractAggregate::NAME, resolved.contract_id.as_str())
}

/// Resolves the token of a form post, checks its CSRF token and that the link still works.
pub(super) async fn posted(
    state: &AppState,
    ip: ClientIp,
    token: &str,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Result<Resolved, PageError> {
    admit(state, ip, token, headers, true)?;
    let resolved = resolve(state, token).await?;
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

/// Refuses a step while an earlier signer has not signed (spec 4.2.2).
fn not_waiting(live: &Live<'_>) -> Result<(), PageError> {
    if live.contract.waiting_before(live.signer).is_empty() {
        Ok(())
    } else {
        Err(PageError::Conflict(
            "an earlier signer has not signed yet".into(),
        ))
    }
}

fn command_error(error: CommandError<ContractError>) -> PageError {
    match error {
        CommandError::Domain(ContractError::Invalid(errors)) => PageError::Invalid {
            field: "body",
            reason: errors.to_string(),
        },
        other => PageError::from(crate::app::error::AppError::from(other)),
    }
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
    let mut resolved = resolve(&state, &query.token).await?;
    let now = Utc::now();
    let (party_id, link_id) = {
        let live = resolved.live(now)?;
        (live.signer.party_id.clone(), live.link.link_id.clone())
    };
    let metadata = signer_metadata(&resolved, ip, &headers);
    let opened = state
        .pipeline
        .execute::<ContractAggregate>(&stream(&resolved), &metadata, |_| {
            ContractCommand::OpenSignLink(OpenSignLink {
                party_id: party_id.clone(),
                link_id: link_id.clone(),
                ip_address: ip.0,
                user_agent: user_agent(&headers).and_then(|agent| UserAgent::parse(&agent).ok()),
                now,
            })
        })
        .await
        .map_err(command_error)?;
    resolved.state = opened.state;
    // A face result that arrived by callback (or before the signer came back) counts now.
    let face = super::face::settle(&state, &mut resolved, &metadata).await?;
    let live = resolved.live(now)?;
    let csrf = match security::csrf_cookie(&headers, &state.pii, &resolved.hash) {
        Some(existing) => existing,
        None => {
            security::new_csrf_token(&state.pii, &resolved.hash).map_err(PageError::Internal)?
        }
    };
    let body = render_body(&state, live).await;
    let policy = state.config.sms.code_policy();
    let html = pages::sign_page(&SignPage {
        token: &resolved.token,
        csrf: &csrf,
        contract: live.contract,
        signer: live.signer,
        link: live.link,
        body,
        waiting: !live.contract.waiting_before(live.signer).is_empty(),
        face,
        resend_cooldown: policy.resend_cooldown,
        max_failed_attempts: policy.max_failed_attempts,
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

/// The contract text from its pinned template version and its variables.
async fn render_body(
    state: &AppState,
    live: Live<'_>,
) -> Option<(String, aggregates::values::ContentType)> {
    let contract = live.contract;
    let stream = StreamId::new(TemplateAggregate::NAME, contract.template_id.as_str());
    let loaded = match state
        .pipeline
        .load_state::<TemplateAggregate>(&stream)
        .await
    {
        Ok(loaded) => loaded,
        Err(error) => {
            tracing::warn!(contract_id = %contract.contract_id, %error, "cannot load the contract's template");
            return None;
        }
    };
    let template = loaded.template()?;
    let version = template.version(&contract.template_version)?;
    let variables = contract
        .variables
        .iter()
        .map(|(key, value)| (key.to_string(), value.clone()))
        .collect();
    match version.render_preview(&variables) {
        Ok(text) => Some((text, version.content.content_type)),
        Err(error) => {
            tracing::warn!(contract_id = %contract.contract_id, %error, "cannot render the contract");
            None
        }
    }
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
    not_waiting(&live)?;
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
    signing::send_signing_code(
        &state,
        &resolved.contract_id,
        &resolved.party_id,
        &live.link.link_id,
        &metadata,
    )
    .await
    .map_err(sms_error)?;
    Ok(back_to_page(&resolved.token))
}

fn sms_error(error: SigningCodeError) -> PageError {
    match error {
        SigningCodeError::Command(command) => command_error(command),
        other => PageError::from(crate::app::error::AppError::from(other)),
    }
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
    not_waiting(&live)?;
    let code = form.code.as_deref().map(str::trim).unwrap_or_default();
    if code.len() != 6 || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(PageError::Invalid {
            field: "code",
            reason: "must be 6 digits".into(),
        });
    }
    let metadata = signer_metadata(&resolved, ip, &headers);
    signing::verify_signing_code(
        &state,
        &resolved.contract_id,
        &resolved.party_id,
        &live.link.link_id,
        code,
        &metadata,
    )
    .await
    .map_err(sms_error)?;
    Ok(back_to_page(&resolved.token))
}

/// Signature
///
/// `POST /h5/sign/submit?token=...` with `signature` (the pad's PNG as a data URL): validates the
/// image, records `Sign` with the image (sealed) and its SHA-256, and answers the done page.
pub(super) async fn submit(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<StepForm>,
) -> Result<Response, PageError> {
    let resolved = posted(&state, ip, &query.token, &headers, form.csrf.as_deref()).await?;
    let live = resolved.live(Utc::now())?;
    not_waiting(&live)?;
    let image = super::signature::parse(form.signature.as_deref())?;
    let hash = Digest::parse(&hex::encode(Sha256::digest(image.bytes())))
        .map_err(|_| PageError::Internal("a SHA-256 did not parse as a digest".into()))?;
    let device_info = DeviceInfo::parse(&user_agent(&headers).unwrap_or_else(|| "unknown".into()))
        .or_else(|_| DeviceInfo::parse("unknown"))
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let transaction_no = TransactionNo::parse(&crate::app::ids::new_id("SIGN_TXN"))
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let (party_id, link_id) = (live.signer.party_id.clone(), live.link.link_id.clone());
    let metadata = signer_metadata(&resolved, ip, &headers);
    let now = Utc::now();
    let executed = state
        .pipeline
        .execute::<ContractAggregate>(&stream(&resolved), &metadata, |_| {
            ContractCommand::Sign(Sign {
                party_id: party_id.clone(),
                link_id: link_id.clone(),
                signature_image: image.clone(),
                signature_image_hash: hash.clone(),
                ip_address: ip.0,
                device_info: device_info.clone(),
                transaction_no: transaction_no.clone(),
                now,
            })
        })
        .await
        .map_err(command_error)?;
    tracing::info!(contract_id = %resolved.contract_id, %party_id, "signer signed through the H5 page");
    let contract_signed = matches!(executed.state, ContractState::Signed { .. });
    if contract_signed {
        // Seal now rather than at the sweep's next tick.
        state.sealing.notify_one();
    }
    let title = executed
        .state
        .contract()
        .map(|contract| contract.title.as_str().to_owned())
        .unwrap_or_default();
    Ok(Html(pages::done_page(
        &title,
        transaction_no.as_str(),
        contract_signed,
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
    let live = resolved.live(Utc::now())?;
    let reason = Reason::parse(form.reason.as_deref().unwrap_or_default()).map_err(|error| {
        PageError::Invalid {
            field: "reason",
            reason: error.to_string(),
        }
    })?;
    let (party_id, link_id) = (live.signer.party_id.clone(), live.link.link_id.clone());
    let title = live.contract.title.as_str().to_owned();
    let metadata = signer_metadata(&resolved, ip, &headers);
    let now = Utc::now();
    state
        .pipeline
        .execute::<ContractAggregate>(&stream(&resolved), &metadata, |_| {
            ContractCommand::Reject(Reject {
                party_id: party_id.clone(),
                link_id: link_id.clone(),
                reason: reason.clone(),
                ip_address: ip.0,
                now,
            })
        })
        .await
        .map_err(command_error)?;
    tracing::info!(contract_id = %resolved.contract_id, %party_id, "signer rejected through the H5 page");
    Ok(Html(pages::rejected_page(&title, reason.as_str())).into_response())
}
