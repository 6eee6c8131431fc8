//! Signing through a sign link (spec 4.1.2 step 3, 4.2.2, 4.2.3): from a presented link token to
//! the signer it was issued to, and the signer's steps on it: opening it, the SMS code
//! ([`codes`]), the face check ([`face`]), the signature and the rejection. The HTTP edge renders
//! the pages and guards them (CSRF, rate limits, Referer); every decision is here.
//!
//! The token is never stored: it is hashed (SHA-256) and the signer whose latest link has that hash
//! is found (`contract_signer.link_token_hash`). A hash that is no signer's latest link may be an
//! older, replaced link: the `SignLinkIssued` events (indexed by their token hash) tell which signer
//! it belonged to, so the signer is told "expired, ask for a new one" rather than "unknown".

pub mod certificate;
pub mod codes;
pub mod face;

use std::net::IpAddr;

use aggregates::Aggregate;
use aggregates::contract::{
    Contract, ContractAggregate, ContractCommand, ContractConflict, ContractContent, ContractError,
    ContractState, OpenSignLink, Reject, Sign, SignLink as Link, Signer, SignerStatus,
};
use aggregates::template::TemplateAggregate;
use aggregates::values::{
    ContentType, ContractId, DeviceInfo, Digest, PartyId, Reason, SignatureImage, TransactionNo,
    UserAgent,
};
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use super::pipeline::CommandError;
use super::{AppError, Services};
use crate::store::{EventMetadata, StreamId};

/// Why a link cannot be used (now or any more), as the signer is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    #[error("unknown or malformed sign link")]
    NotFound,
    #[error("sign link expired or replaced")]
    Expired,
    #[error("sign link used")]
    Used { rejected: bool },
    #[error("the contract was revoked")]
    Revoked,
    #[error("the contract expired")]
    ContractExpired,
    #[error("the contract was rejected by another signer")]
    RejectedByOther,
}

/// Why a signing step did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error(transparent)]
    Link(#[from] LinkRefusal),
    /// A signer's own certificate, or what was signed with it, is refused (signMethod CA_CERT).
    #[error(transparent)]
    Certificate(certificate::CertificateFailure),
    #[error(transparent)]
    App(#[from] AppError),
}

impl<E: super::error::DomainFailure + 'static> From<super::pipeline::CommandError<E>>
    for SigningError
{
    fn from(error: super::pipeline::CommandError<E>) -> Self {
        Self::App(error.into())
    }
}

impl From<crate::store::StoreError> for SigningError {
    fn from(error: crate::store::StoreError) -> Self {
        Self::App(error.into())
    }
}

/// Longest token accepted before any look-up: issued tokens are 43 characters.
const MAX_TOKEN_LEN: usize = 128;

/// SHA-256 of a presented token as lower-case hex, or `None` for something that cannot be a token
/// (empty, too long, outside the URL-safe base64 alphabet), which is refused without a look-up.
pub fn token_hash(token: &str) -> Option<String> {
    let plausible = !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    plausible.then(|| hex::encode(Sha256::digest(token.as_bytes())))
}

/// Equal strings, compared without an early exit.
pub fn same(left: &str, right: &str) -> bool {
    left.len() == right.len() && bool::from(left.as_bytes().ct_eq(right.as_bytes()))
}

/// A token that names a signer's link, with the contract as its events tell it.
#[derive(Debug, Clone)]
pub struct SignLink {
    pub token: String,
    /// SHA-256 of the token, hex.
    pub hash: String,
    pub contract_id: ContractId,
    pub party_id: PartyId,
    pub state: ContractState,
}

/// A link that still works: everything a step needs.
#[derive(Debug, Clone, Copy)]
pub struct Live<'a> {
    pub contract: &'a Contract,
    pub signer: &'a Signer,
    pub link: &'a Link,
}

impl SignLink {
    /// The link when it can still be used now, else the page that says why not.
    pub fn live(&self, now: DateTime<Utc>) -> Result<Live<'_>, LinkRefusal> {
        let used = |signer: &Signer| match signer.status {
            SignerStatus::Rejected(_) => LinkRefusal::Used { rejected: true },
            SignerStatus::Pending { .. } | SignerStatus::Signed(_) => {
                LinkRefusal::Used { rejected: false }
            }
        };
        let contract = match &self.state {
            ContractState::Created { contract } | ContractState::PartiallySigned { contract } => {
                contract
            }
            ContractState::Signed { .. } => return Err(LinkRefusal::Used { rejected: false }),
            ContractState::Rejected { contract, .. } => {
                return Err(match contract.signer(&self.party_id) {
                    Some(
                        signer @ Signer {
                            status: SignerStatus::Rejected(_),
                            ..
                        },
                    ) => used(signer),
                    _ => LinkRefusal::RejectedByOther,
                });
            }
            ContractState::Revoked { .. } => return Err(LinkRefusal::Revoked),
            ContractState::Expired { .. } => return Err(LinkRefusal::ContractExpired),
            ContractState::NotInitiated => return Err(LinkRefusal::NotFound),
        };
        let signer = contract
            .signer(&self.party_id)
            .ok_or(LinkRefusal::NotFound)?;
        match &signer.status {
            SignerStatus::Pending { link: Some(link) }
                if same(link.token_hash.as_hex(), &self.hash) && now < link.expires_at =>
            {
                Ok(Live {
                    contract,
                    signer,
                    link,
                })
            }
            SignerStatus::Pending { .. } => Err(LinkRefusal::Expired),
            SignerStatus::Signed(_) | SignerStatus::Rejected(_) => Err(used(signer)),
        }
    }
}

/// Finds the signer a token was issued to and loads their contract.
pub async fn resolve(services: &Services, token: &str) -> Result<SignLink, SigningError> {
    let Some(hash) = token_hash(token) else {
        return Err(LinkRefusal::NotFound.into());
    };
    let contracts = services.store.contracts();
    let (row, replaced) = match contracts.signer_by_link(&hash).await? {
        Some(row) => (row, false),
        None => match contracts.signer_by_replaced_link(&hash).await? {
            Some(row) => (row, true),
            None => return Err(LinkRefusal::NotFound.into()),
        },
    };
    // The database matched on the hash; check it again here without an early exit.
    if !replaced && !same(row.text("link_token_hash").unwrap_or_default(), &hash) {
        return Err(LinkRefusal::NotFound.into());
    }
    let contract_id =
        ContractId::parse(row.required_text("contract_id")).map_err(|_| LinkRefusal::NotFound)?;
    let party_id =
        PartyId::parse(row.required_text("party_id")).map_err(|_| LinkRefusal::NotFound)?;
    let state = services
        .pipeline
        .load::<ContractAggregate>(&contract_stream(&contract_id))
        .await?
        .state;
    Ok(SignLink {
        token: token.to_owned(),
        hash,
        contract_id,
        party_id,
        state,
    })
}

fn contract_stream(contract_id: &ContractId) -> StreamId {
    StreamId::new(ContractAggregate::NAME, contract_id.as_str())
}

impl SignLink {
    fn stream(&self) -> StreamId {
        contract_stream(&self.contract_id)
    }
}

/// Refuses a step while an earlier signer has not signed (spec 4.2.2).
pub fn ensure_turn(live: &Live<'_>) -> Result<(), SigningError> {
    if live.contract.waiting_before(live.signer).is_empty() {
        Ok(())
    } else {
        Err(AppError::Conflict("an earlier signer has not signed yet".into()).into())
    }
}

/// Records the visit (`SignLinkOpened`) on a link that still works, and takes in the contract
/// as it is after.
pub async fn open(
    services: &Services,
    link: &mut SignLink,
    metadata: &EventMetadata,
    ip: IpAddr,
    user_agent: Option<&str>,
) -> Result<(), SigningError> {
    let now = Utc::now();
    let (party_id, link_id) = {
        let live = link.live(now)?;
        (live.signer.party_id.clone(), live.link.link_id.clone())
    };
    let user_agent = user_agent.and_then(|agent| UserAgent::parse(agent).ok());
    let opened = services
        .pipeline
        .execute::<ContractAggregate>(&link.stream(), metadata, |_| {
            ContractCommand::OpenSignLink(OpenSignLink {
                party_id: party_id.clone(),
                link_id: link_id.clone(),
                ip_address: ip,
                user_agent: user_agent.clone(),
                now,
            })
        })
        .await?;
    link.state = opened.state;
    Ok(())
}

/// The contract text from its pinned template version and its variables; `None` (logged) when it
/// cannot be rendered.
pub async fn contract_text(services: &Services, live: Live<'_>) -> Option<(String, ContentType)> {
    let contract = live.contract;
    let ContractContent::Template {
        template_id,
        template_version,
        variables,
        ..
    } = &contract.content
    else {
        // Uploaded documents have no text of esign's: the page shows the documents themselves.
        return None;
    };
    let stream = StreamId::new(TemplateAggregate::NAME, template_id.as_str());
    let loaded = match services
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
    let version = template.version(template_version)?;
    let variables = variables
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

/// What a signature came to.
#[derive(Debug, Clone)]
pub struct Signed {
    pub title: String,
    pub transaction_no: String,
    /// Every signer has signed: the contract is SIGNED and is being sealed.
    pub contract_signed: bool,
}

/// How often a signature is made again when a signer of the same sequence signed first.
const STALE_REVISION_ATTEMPTS: usize = 3;

/// Makes the signer's signature on their turn, now: their revision of the document (see
/// [`super::revisions`]), then `Sign` records it with the image sealed and its SHA-256. Signers of
/// one sequence may sign at once; the one whose revision was made on a document another signer
/// had already grown makes it again on the current one.
pub async fn sign(
    services: &Services,
    link: &SignLink,
    metadata: &EventMetadata,
    ip: IpAddr,
    image: Option<SignatureImage>,
    user_agent: Option<&str>,
) -> Result<Signed, SigningError> {
    let hash = image.as_ref().map(image_hash).transpose()?;
    let device_info = device_info(user_agent)?;
    let transaction_no =
        TransactionNo::parse(&super::ids::new_id("SIGN_TXN")).map_err(AppError::internal)?;
    // The seal is pinned at initiation: read once, whatever the retries below.
    let seal = match link
        .state
        .contract()
        .and_then(|contract| contract.signer(&link.party_id))
    {
        Some(signer) => super::revisions::organization_seal(services, signer)
            .await
            .map_err(|error| AppError::internal(format!("the seal cannot be read: {error}")))?,
        None => None,
    };
    let mut state = link.state.clone();
    let mut attempt = 0;
    let executed = loop {
        attempt += 1;
        let now = Utc::now();
        let current = SignLink {
            state: state.clone(),
            ..link.clone()
        };
        let live = current.live(now)?;
        ensure_turn(&live)?;
        let (party_id, link_id) = (live.signer.party_id.clone(), live.link.link_id.clone());
        let ip_address = ip.to_string();
        let revision = match super::revisions::sign_at_moment(
            services,
            live.contract,
            live.signer,
            super::revisions::SigningFacts {
                image: image.as_ref(),
                seal: seal.as_deref(),
                transaction_no: transaction_no.as_str(),
                ip_address: &ip_address,
                signed_at: now,
            },
        )
        .await
        {
            Ok(revision) => Some(revision),
            // Without a CA nothing can be signed now; the signing is recorded and sealing signs
            // once a CA is configured (it refuses until then, and says why).
            Err(super::sealing::SealingError::NoCa) => {
                tracing::error!(contract_id = %link.contract_id, "no platform CA: the signature is recorded without its document revision");
                None
            }
            Err(error) => {
                return Err(
                    AppError::internal(format!("the signature cannot be made: {error}")).into(),
                );
            }
        };
        let result = services
            .pipeline
            .execute::<ContractAggregate>(&link.stream(), metadata, |_| {
                ContractCommand::Sign(Sign {
                    party_id: party_id.clone(),
                    link_id: link_id.clone(),
                    signature_image: image.clone(),
                    signature_image_hash: hash.clone(),
                    ip_address: ip,
                    device_info: device_info.clone(),
                    transaction_no: transaction_no.clone(),
                    revision: revision.clone(),
                    now,
                })
            })
            .await;
        match result {
            Err(CommandError::Domain(ContractError::Conflict(ContractConflict::StaleRevision)))
                if attempt < STALE_REVISION_ATTEMPTS =>
            {
                state = services
                    .pipeline
                    .load::<ContractAggregate>(&link.stream())
                    .await?
                    .state;
            }
            other => break other?,
        }
    };
    let party_id = &link.party_id;
    tracing::info!(contract_id = %link.contract_id, %party_id, "signer signed through the H5 page");
    Ok(signed(services, &executed, transaction_no.as_str().to_owned()).await)
}

/// What `Sign` records beside the image, on both signing paths: the image's SHA-256, and the device
/// the user agent names ("unknown" when it names none the log can keep).
fn recorded_facts(
    image: &SignatureImage,
    user_agent: Option<&str>,
) -> Result<(Digest, DeviceInfo), AppError> {
    Ok((image_hash(image)?, device_info(user_agent)?))
}

fn image_hash(image: &SignatureImage) -> Result<Digest, AppError> {
    Digest::parse(&hex::encode(Sha256::digest(image.bytes())))
        .map_err(|_| AppError::internal("a SHA-256 did not parse as a digest"))
}

fn device_info(user_agent: Option<&str>) -> Result<DeviceInfo, AppError> {
    DeviceInfo::parse(user_agent.unwrap_or("unknown"))
        .or_else(|_| DeviceInfo::parse("unknown"))
        .map_err(AppError::internal)
}

/// What a signer's signature led to; the last one wakes the sealing sweep, to seal now rather than
/// at its next tick, and one that completes a sequence texts the next signers notified by SMS.
async fn signed(
    services: &Services,
    executed: &super::pipeline::Executed<ContractAggregate>,
    transaction_no: String,
) -> Signed {
    super::invitations::send_requested(services, &executed.appended).await;
    let state = &executed.state;
    let contract_signed = matches!(state, ContractState::Signed { .. });
    if contract_signed {
        services.sealing.notify_one();
    }
    let title = state
        .contract()
        .map(|contract| contract.title.as_str().to_owned())
        .unwrap_or_default();
    Signed {
        title,
        transaction_no,
        contract_signed,
    }
}

/// Records the signer's rejection (`Reject`; the contract becomes REJECTED), whatever the signer's
/// turn; answers the contract's title.
pub async fn reject(
    services: &Services,
    link: &SignLink,
    metadata: &EventMetadata,
    ip: IpAddr,
    reason: Reason,
) -> Result<String, SigningError> {
    let live = link.live(Utc::now())?;
    let (party_id, link_id) = (live.signer.party_id.clone(), live.link.link_id.clone());
    let title = live.contract.title.as_str().to_owned();
    let now = Utc::now();
    services
        .pipeline
        .execute::<ContractAggregate>(&link.stream(), metadata, |_| {
            ContractCommand::Reject(Reject {
                party_id: party_id.clone(),
                link_id: link_id.clone(),
                reason: reason.clone(),
                ip_address: ip,
                now,
            })
        })
        .await?;
    tracing::info!(contract_id = %link.contract_id, %party_id, "signer rejected through the H5 page");
    Ok(title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_url_safe_tokens_of_reasonable_length_are_looked_up() {
        assert!(token_hash("abcDEF012-_").is_some());
        assert!(token_hash("").is_none());
        assert!(token_hash("a b").is_none());
        assert!(token_hash(&"a".repeat(129)).is_none());
    }
}
