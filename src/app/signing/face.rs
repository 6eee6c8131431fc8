//! The face step of FACE_AND_SMS on a sign link.
//!
//! Starting it creates a face verification for the signer, owned by the contract's client, with the
//! signer's name and ID number from the contract, the contract's callback URL and headers (the
//! client hears of it like of any verification), and a business id derived from the contract, the
//! party, the link and the attempt: `SIGN-<first 16 hex of SHA-256(contractId:partyId:linkId)>-
//! <attempt>`. No mobile number is given, so it never switches to the degraded SMS check (the
//! signer's own SMS step is the other factor). When the signer comes back from the provider's page
//! the result is asked of the provider server-side (the redirect alone proves nothing) and, on
//! SUCCESS, `RecordFaceVerification` is recorded on the contract.

use aggregates::Aggregate;
use aggregates::contract::{
    ContractAggregate, ContractCommand, ContractError, RecordFaceVerification,
};
use aggregates::face_verification::{
    FaceVerificationAggregate, UserInfoRequest, VerificationRequest, VerificationState,
};
use aggregates::values::{
    ContractBizType, SignMethod, VerificationBizType, VerificationId, VerificationStatus,
    WebhookConfigRequest,
};
use chrono::Utc;
use sha2::{Digest as _, Sha256};

use super::{Live, SignLink, SigningError};
use crate::app::pipeline::CommandError;
use crate::app::verifications::{self, TaskStart};
use crate::app::{AppError, Services};
use crate::store::query_tables::RowView;
use crate::store::{EventMetadata, StreamId};

/// Where the signer's face step stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaceStatus {
    NotStarted,
    /// Started at the provider, no result yet.
    InProgress,
    /// The latest attempt failed; the reason code when the provider gave one.
    Failed(Option<String>),
    /// Passed at the provider but refused by the contract (name or ID number differ).
    Refused,
    Passed,
}

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
async fn attempts(
    services: &Services,
    live: &Live<'_>,
) -> Result<Vec<(u32, RowView)>, SigningError> {
    let prefix = biz_prefix(live);
    let rows = services
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
    services: &Services,
    verification_id: &str,
) -> Result<VerificationState, SigningError> {
    Ok(services
        .pipeline
        .load::<FaceVerificationAggregate>(&StreamId::new(
            FaceVerificationAggregate::NAME,
            verification_id,
        ))
        .await?
        .state)
}

/// Where the face step stands; records a SUCCESS verification on the contract when it is not yet.
pub async fn settle(
    services: &Services,
    resolved: &mut SignLink,
    metadata: &EventMetadata,
) -> Result<FaceStatus, SigningError> {
    let (party_id, link_id, latest) = {
        let live = resolved.live(Utc::now())?;
        if live.signer.sign_method != SignMethod::FaceAndSms {
            return Ok(FaceStatus::NotStarted);
        }
        if live.link.face.is_some() {
            return Ok(FaceStatus::Passed);
        }
        let latest = attempts(services, &live).await?.pop();
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
    let verification = load_verification(services, &verification_id).await?;
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
    match services
        .pipeline
        .execute::<ContractAggregate>(&resolved.stream(), metadata, |_| {
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
        Err(error) => Err(error.into()),
    }
}

fn verification_biz_type(contract: ContractBizType) -> VerificationBizType {
    match contract {
        ContractBizType::RelationshipAgreement => VerificationBizType::RelationshipBinding,
        ContractBizType::PayerAuthorizationAgreement => VerificationBizType::PayerAuthorization,
    }
}

/// Starts the signer's face verification and its provider task; answers the provider's page to send
/// the browser to. A verification of this link still in progress at the provider is resumed instead
/// of starting another. `return_url` is where the provider sends the browser back. `None` when the
/// step has passed already (back to the signing page).
pub async fn start(
    services: &Services,
    resolved: &SignLink,
    metadata: &EventMetadata,
    return_url: String,
) -> Result<Option<String>, SigningError> {
    let live = resolved.live(Utc::now())?;
    super::ensure_turn(&live)?;
    if live.signer.sign_method != SignMethod::FaceAndSms {
        return Err(AppError::Conflict("the signer's sign method has no face check".into()).into());
    }
    if live.link.face.is_some() {
        return Ok(None);
    }
    let existing = attempts(services, &live).await?;
    if let Some((_, row)) = existing.last() {
        let verification_id = row.required_text("verification_id");
        // Resumed only while it has a few minutes left: a task about to expire would strand the
        // signer on the provider's page.
        if let VerificationState::Processing { verification, task } =
            load_verification(services, verification_id).await?
            && verification.expires_at > Utc::now() + chrono::TimeDelta::minutes(3)
            && let Some(url) = task.h5_url
        {
            return Ok(Some(url.as_str().to_owned()));
        }
    }
    let attempt = existing
        .last()
        .map_or(1, |(attempt, _)| attempt.saturating_add(1));
    let verification_id = VerificationId::parse(&crate::app::ids::new_id("FACE_VERIFY"))
        .map_err(AppError::internal)?;
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
        archive_config: None,
    };
    let client_id = live.contract.client_id.clone();
    let now = Utc::now();
    verifications::record_initiation(
        services,
        &verification_id,
        &client_id,
        &request,
        metadata,
        now,
    )
    .await?;
    let started = verifications::start_task_returning(
        services,
        verification_id.as_str(),
        1,
        metadata,
        false,
        Some(return_url),
    )
    .await?;
    tracing::info!(contract_id = %resolved.contract_id, party_id = %live.signer.party_id,
        %verification_id, attempt, ?started, "signer's face verification started");
    match started {
        TaskStart::Started { .. } => {}
        TaskStart::Unavailable { .. } | TaskStart::Degraded | TaskStart::NotNeeded => {
            return Err(AppError::Unavailable(format!(
                "no face provider took verification {verification_id}"
            ))
            .into());
        }
    }
    match load_verification(services, verification_id.as_str()).await? {
        VerificationState::Processing { task, .. } => match task.h5_url {
            Some(url) => Ok(Some(url.as_str().to_owned())),
            None => Err(AppError::Unavailable(
                "the face provider offers no H5 page (SDK mode only)".into(),
            )
            .into()),
        },
        _ => Err(AppError::Unavailable(format!(
            "verification {verification_id} has no running task"
        ))
        .into()),
    }
}

/// Back from the provider: pulls the latest attempt's result from the provider and records a
/// SUCCESS on the contract.
pub async fn returned(
    services: &Services,
    resolved: &mut SignLink,
    metadata: &EventMetadata,
) -> Result<(), SigningError> {
    let latest = {
        let live = resolved.live(Utc::now())?;
        attempts(services, &live).await?.pop()
    };
    if let Some((_, row)) = latest {
        verifications::pull_result(services, row.required_text("verification_id"), metadata)
            .await?;
    }
    settle(services, resolved, metadata).await?;
    Ok(())
}
