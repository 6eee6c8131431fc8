//! The face step of FACE_AND_SMS on the signing page.
//!
//! `POST /h5/sign/face/start` creates a face verification for the signer, owned by the contract's
//! client, with the signer's name and ID number from the contract, the contract's callback URL and
//! headers (the client hears of it like of any verification), and a business id derived from the
//! contract, the party, the link and the attempt: `SIGN-<first 16 hex of SHA-256(contractId:partyId:
//! linkId)>-<attempt>`. No mobile number is given, so it never switches to the degraded SMS check
//! (the signer's own SMS step is the other factor). The provider's task returns the browser to
//! `GET /h5/sign/face-return?token=...`, which asks the provider for the result server-side
//! (`flow::pull_result`: the redirect alone proves nothing) and, on SUCCESS, records
//! `RecordFaceVerification` on the contract.

use aggregates::Aggregate;
use aggregates::contract::{
    ContractAggregate, ContractCommand, ContractError, RecordFaceVerification,
};
use aggregates::face_verification::{
    FaceVerificationAggregate, InitiateVerification, UserInfoRequest, VerificationCommand,
    VerificationRequest, VerificationState,
};
use aggregates::values::{
    ContractBizType, SignMethod, VerificationBizType, VerificationId, VerificationStatus,
    WebhookConfigRequest,
};
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use sha2::{Digest as _, Sha256};

use super::PageError;
use super::link::{Live, Resolved, resolve};
use super::pages::FaceStatus;
use super::security::ClientIp;
use super::sign::{StepForm, TokenQuery, admit, signer_metadata, stream};
use crate::app::pipeline::CommandError;
use crate::app::verifications::{self as flow, TaskStart};
use crate::http::AppState;
use crate::store::query_tables::RowView;
use crate::store::{EventMetadata, StreamId};

/// `SIGN-<16 hex>-`: every attempt of one signer on one link starts with it.
fn biz_prefix(live: &Live<'_>) -> String {
    let scope = format!(
        "{}:{}:{}",
        live.contract.contract_id, live.signer.party_id, live.link.link_id
    );
    format!(
        "SIGN-{}-",
        &hex::encode(Sha256::digest(scope.as_bytes()))[..16]
    )
}

/// The signer's face verifications on this link with their attempt numbers, latest last.
async fn attempts(state: &AppState, live: &Live<'_>) -> Result<Vec<(u32, RowView)>, PageError> {
    let prefix = biz_prefix(live);
    let rows = state
        .store
        .verifications()
        .by_biz_id_prefix(live.contract.client_id.as_str(), &prefix)
        .await?;
    let mut numbered: Vec<(u32, RowView)> = rows
        .into_iter()
        .filter_map(|row| {
            let attempt = row
                .text("biz_id")?
                .strip_prefix(prefix.as_str())?
                .parse()
                .ok()?;
            Some((attempt, row))
        })
        .collect();
    numbered.sort_by_key(|(attempt, _)| *attempt);
    Ok(numbered)
}

async fn load_verification(
    state: &AppState,
    verification_id: &str,
) -> Result<VerificationState, PageError> {
    Ok(state
        .pipeline
        .load::<FaceVerificationAggregate>(&StreamId::new(
            FaceVerificationAggregate::NAME,
            verification_id,
        ))
        .await
        .map_err(|error| PageError::from(crate::app::error::AppError::from(error)))?
        .state)
}

/// Where the face step stands; records a SUCCESS verification on the contract when it is not yet.
pub(super) async fn settle(
    state: &AppState,
    resolved: &mut Resolved,
    metadata: &EventMetadata,
) -> Result<FaceStatus, PageError> {
    let (party_id, link_id, latest) = {
        let live = resolved.live(Utc::now())?;
        if live.signer.sign_method != SignMethod::FaceAndSms {
            return Ok(FaceStatus::NotStarted);
        }
        if live.link.face.is_some() {
            return Ok(FaceStatus::Passed);
        }
        let latest = attempts(state, &live).await?.pop();
        (
            live.signer.party_id.clone(),
            live.link.link_id.clone(),
            latest,
        )
    };
    let Some((_, row)) = latest else {
        return Ok(FaceStatus::NotStarted);
    };
    let verification_id = row.required_text("verification_id").to_owned();
    let verification = load_verification(state, &verification_id).await?;
    match verification.status() {
        Some(VerificationStatus::Success) => {}
        Some(VerificationStatus::Failed) => {
            return Ok(FaceStatus::Failed(
                row.text("fail_reason").map(str::to_owned),
            ));
        }
        Some(VerificationStatus::Expired) | None => return Ok(FaceStatus::NotStarted),
        Some(VerificationStatus::Pending | VerificationStatus::Processing) => {
            return Ok(FaceStatus::InProgress);
        }
    }
    let Some(facts) = verification.facts() else {
        return Ok(FaceStatus::NotStarted);
    };
    let now = Utc::now();
    match state
        .pipeline
        .execute::<ContractAggregate>(&stream(resolved), metadata, |_| {
            ContractCommand::RecordFaceVerification(RecordFaceVerification {
                party_id: party_id.clone(),
                link_id: link_id.clone(),
                verification: facts.clone(),
                now,
            })
        })
        .await
    {
        Ok(executed) => {
            resolved.state = executed.state;
            Ok(FaceStatus::Passed)
        }
        Err(CommandError::Domain(ContractError::IdentityFailed { failure, .. })) => {
            tracing::warn!(contract_id = %resolved.contract_id, %party_id, %verification_id, %failure,
                "face verification passed but does not match the signer; not recorded");
            Ok(FaceStatus::Refused)
        }
        Err(error) => Err(PageError::from(crate::app::error::AppError::from(error))),
    }
}

fn verification_biz_type(contract: ContractBizType) -> VerificationBizType {
    match contract {
        ContractBizType::RelationshipAgreement => VerificationBizType::RelationshipBinding,
        ContractBizType::PayerAuthorizationAgreement => VerificationBizType::PayerAuthorization,
    }
}

/// Face step: start
///
/// `POST /h5/sign/face/start?token=...`: creates the signer's face verification, starts the
/// provider's task and sends the browser to the provider's page (303). A verification of this link
/// still in progress at the provider is resumed instead of starting another.
pub(super) async fn start(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<StepForm>,
) -> Result<Response, PageError> {
    let resolved =
        super::sign::posted(&state, ip, &query.token, &headers, form.csrf.as_deref()).await?;
    let live = resolved.live(Utc::now())?;
    if !live.contract.waiting_before(live.signer).is_empty() {
        return Err(PageError::Conflict(
            "an earlier signer has not signed yet".into(),
        ));
    }
    if live.signer.sign_method != SignMethod::FaceAndSms {
        return Err(PageError::Conflict(
            "the signer's sign method has no face check".into(),
        ));
    }
    if live.link.face.is_some() {
        return Ok(super::sign::back_to_page(&resolved.token));
    }
    let metadata = signer_metadata(&resolved, ip, &headers);
    let existing = attempts(&state, &live).await?;
    if let Some((_, row)) = existing.last() {
        let verification_id = row.required_text("verification_id");
        // Resumed only while it has a few minutes left: a task about to expire would strand the
        // signer on the provider's page.
        if let VerificationState::Processing { verification, task } =
            load_verification(&state, verification_id).await?
            && verification.expires_at > Utc::now() + chrono::TimeDelta::minutes(3)
            && let Some(url) = task.h5_url
        {
            return Ok(Redirect::to(url.as_str()).into_response());
        }
    }
    let attempt = existing
        .last()
        .map_or(1, |(attempt, _)| attempt.saturating_add(1));
    let verification_id = VerificationId::parse(&crate::app::ids::new_id("FACE_VERIFY"))
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let request = VerificationRequest {
        biz_id: Some(format!("{}{attempt}", biz_prefix(&live))),
        biz_type: Some(
            verification_biz_type(live.contract.biz_type)
                .as_str()
                .to_owned(),
        ),
        user_info: Some(UserInfoRequest {
            name: Some(live.signer.name.as_str().to_owned()),
            id_card_no: Some(live.signer.id_card_no.as_str().to_owned()),
            mobile: None,
        }),
        callback_url: Some(live.contract.callback_url.as_str().to_owned()),
        webhook_config: Some(WebhookConfigRequest {
            headers: live
                .contract
                .webhook_headers
                .iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        }),
        expire_minutes: None,
        ui_config: None,
    };
    let client_id = live.contract.client_id.clone();
    let now = Utc::now();
    let verification_stream =
        StreamId::new(FaceVerificationAggregate::NAME, verification_id.as_str());
    state
        .pipeline
        .execute::<FaceVerificationAggregate>(&verification_stream, &metadata, |_| {
            VerificationCommand::Initiate(InitiateVerification {
                verification_id: verification_id.clone(),
                client_id: client_id.clone(),
                request: request.clone(),
                mode: state.mode(),
                now,
            })
        })
        .await
        .map_err(|error| PageError::from(crate::app::error::AppError::from(error)))?;
    let base = state.config.server.public_base_url.trim_end_matches('/');
    let return_url = format!(
        "{base}/h5/sign/face-return?token={}",
        percent_encoding::utf8_percent_encode(&resolved.token, percent_encoding::NON_ALPHANUMERIC)
    );
    let started = flow::start_task_returning(
        &state,
        verification_id.as_str(),
        1,
        &metadata,
        false,
        Some(return_url),
    )
    .await?;
    tracing::info!(contract_id = %resolved.contract_id, party_id = %live.signer.party_id,
        %verification_id, attempt, ?started, "signer's face verification started");
    match started {
        TaskStart::Started { .. } => {}
        TaskStart::Unavailable { .. } | TaskStart::Degraded | TaskStart::NotNeeded => {
            return Err(PageError::Unavailable(format!(
                "no face provider took verification {verification_id}"
            )));
        }
    }
    match load_verification(&state, verification_id.as_str()).await? {
        VerificationState::Processing { task, .. } => match task.h5_url {
            Some(url) => Ok(Redirect::to(url.as_str()).into_response()),
            None => Err(PageError::Unavailable(
                "the face provider offers no H5 page (SDK mode only)".into(),
            )),
        },
        _ => Err(PageError::Unavailable(format!(
            "verification {verification_id} has no running task"
        ))),
    }
}

/// Face step: back from the provider
///
/// `GET /h5/sign/face-return?token=...`: pulls the latest attempt's result from the provider, records
/// a SUCCESS on the contract, and sends the browser back to the signing page (303), which shows the
/// step passed or failed with a retry button. The Referer allow-list does not apply: the browser
/// arrives from the provider's page.
pub(super) async fn returned(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    admit(&state, ip, &query.token, &headers, false)?;
    let mut resolved = resolve(&state, &query.token).await?;
    let metadata = signer_metadata(&resolved, ip, &headers);
    let latest = {
        let live = resolved.live(Utc::now())?;
        attempts(&state, &live).await?.pop()
    };
    if let Some((_, row)) = latest {
        flow::pull_result(&state, row.required_text("verification_id"), &metadata).await?;
    }
    settle(&state, &mut resolved, &metadata).await?;
    Ok(super::sign::back_to_page(&resolved.token))
}
