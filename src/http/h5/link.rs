//! From a presented link token to the signer it was issued to, and what the link may still do.
//!
//! The token is never stored: the page hashes it (SHA-256) and finds the signer whose latest link has
//! that hash (`contract_signer.link_token_hash`). A hash that is no signer's latest link may be an
//! older, replaced link: the `SignLinkIssued` events (indexed by their token hash) tell which signer
//! it belonged to, so the signer is told "expired, ask for a new one" rather than "unknown".

use aggregates::Aggregate;
use aggregates::contract::{
    Contract, ContractAggregate, ContractState, SignLink, Signer, SignerStatus,
};
use aggregates::values::{ContractId, PartyId};
use chrono::{DateTime, Utc};

use super::PageError;
use super::security::{same, token_hash};
use crate::http::AppState;
use crate::store::StreamId;

/// A token that names a signer's current link, with the contract as its events tell it.
#[derive(Debug)]
pub(super) struct Resolved {
    pub token: String,
    /// SHA-256 of the token, hex.
    pub hash: String,
    pub contract_id: ContractId,
    pub party_id: PartyId,
    pub state: ContractState,
}

/// A link that still works: everything a step needs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Live<'a> {
    pub contract: &'a Contract,
    pub signer: &'a Signer,
    pub link: &'a SignLink,
}

impl Resolved {
    /// The link when it can still be used now, else the page that says why not.
    pub fn live(&self, now: DateTime<Utc>) -> Result<Live<'_>, PageError> {
        let used = |signer: &Signer| match signer.status {
            SignerStatus::Rejected(_) => PageError::LinkUsed { rejected: true },
            SignerStatus::Pending { .. } | SignerStatus::Signed(_) => {
                PageError::LinkUsed { rejected: false }
            }
        };
        let contract = match &self.state {
            ContractState::Created { contract } | ContractState::PartiallySigned { contract } => {
                contract
            }
            ContractState::Signed { .. } => return Err(PageError::LinkUsed { rejected: false }),
            ContractState::Rejected { contract, .. } => {
                return Err(match contract.signer(&self.party_id) {
                    Some(
                        signer @ Signer {
                            status: SignerStatus::Rejected(_),
                            ..
                        },
                    ) => used(signer),
                    _ => PageError::RejectedByOther,
                });
            }
            ContractState::Revoked { .. } => return Err(PageError::Revoked),
            ContractState::Expired { .. } => return Err(PageError::ContractExpired),
            ContractState::NotInitiated => return Err(PageError::NotFound),
        };
        let signer = contract.signer(&self.party_id).ok_or(PageError::NotFound)?;
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
            SignerStatus::Pending { .. } => Err(PageError::LinkExpired),
            SignerStatus::Signed(_) | SignerStatus::Rejected(_) => Err(used(signer)),
        }
    }
}

/// Finds the signer a token was issued to and loads their contract.
pub(super) async fn resolve(state: &AppState, token: &str) -> Result<Resolved, PageError> {
    let Some(hash) = token_hash(token) else {
        return Err(PageError::NotFound);
    };
    let contracts = state.store.contracts();
    let (row, replaced) = match contracts.signer_by_link(&hash).await? {
        Some(row) => (row, false),
        None => match contracts.signer_by_replaced_link(&hash).await? {
            Some(row) => (row, true),
            None => return Err(PageError::NotFound),
        },
    };
    // The database matched on the hash; check it again here without an early exit.
    if !replaced && !same(row.text("link_token_hash").unwrap_or_default(), &hash) {
        return Err(PageError::NotFound);
    }
    let contract_id =
        ContractId::parse(row.required_text("contract_id")).map_err(|_| PageError::NotFound)?;
    let party_id =
        PartyId::parse(row.required_text("party_id")).map_err(|_| PageError::NotFound)?;
    let stream = StreamId::new(ContractAggregate::NAME, contract_id.as_str());
    let state = state
        .pipeline
        .load::<ContractAggregate>(&stream)
        .await
        .map_err(|error| PageError::from(crate::app::error::AppError::from(error)))?
        .state;
    Ok(Resolved {
        token: token.to_owned(),
        hash,
        contract_id,
        party_id,
        state,
    })
}
