//! Signers' SMS codes (spec 4.1.2 step 3, `FACE_AND_SMS`): send a code to the signer's mobile number
//! and check what the signer types. The H5 signing page calls these two functions.
//!
//! A code is recorded only after the sender accepted it. The contract's `SmsCodeSent` event then
//! means what it says, and a send that fails leaves no trace in the contract: the cool-down does not
//! start, so the signer may ask again at once. The decision is taken twice, before the send (so no
//! text goes out for a dead link, a locked check or inside the cool-down) and when recording; if the
//! second refuses (another code was recorded in between), the text that went out is useless and the
//! signer is told to ask again.

use aggregates::Aggregate;
use aggregates::contract::{
    ContractAggregate, ContractCommand, ContractError, ContractEvent, SendSmsCode, VerifySmsCode,
};
use aggregates::values::{ContractId, LinkId, PartyId};
use chrono::{DateTime, Utc};

use crate::app::error::AppError;
use crate::app::one_time_codes::{OneTimeCode, code_digest};
use crate::app::pipeline::CommandError;
use crate::app::services::Services;
use crate::providers::sms::{SmsError, SmsMessage};
use crate::store::{EventMetadata, StreamId};

/// Why a code was not sent or checked.
#[derive(Debug, thiserror::Error)]
pub enum SigningCodeError {
    #[error("no such contract")]
    ContractNotFound,
    /// The contract refused (dead link, locked check, cool-down, wrong method...), or the store failed.
    #[error(transparent)]
    Command(#[from] CommandError<ContractError>),
    #[error(transparent)]
    Sms(#[from] SmsError),
    #[error("cannot hash the code: {0}")]
    Digest(String),
    #[error("the contract recorded a wrong code but its state shows no SMS check")]
    Inconsistent,
}

impl From<SigningCodeError> for AppError {
    fn from(error: SigningCodeError) -> Self {
        match error {
            SigningCodeError::ContractNotFound => AppError::NotFound,
            SigningCodeError::Command(command) => command.into(),
            // The signer may simply ask again: the code was not recorded.
            SigningCodeError::Sms(SmsError::Unavailable(cause)) => AppError::Unavailable(cause),
            SigningCodeError::Sms(SmsError::Rejected(cause)) => {
                AppError::Internal(format!("the SMS sender refused a signing code: {cause}"))
            }
            SigningCodeError::Digest(cause) => AppError::Internal(cause),
            SigningCodeError::Inconsistent => {
                AppError::Internal("a wrong code left no SMS check in the contract".into())
            }
        }
    }
}

/// What [`send_signing_code`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeSent {
    Sent {
        /// The code works until then.
        expires_at: DateTime<Utc>,
        /// No other code is sent on this link before then.
        resend_at: DateTime<Utc>,
        /// The sender's id for the message, for tracing a complaint.
        message_id: String,
    },
    /// The signer's SMS check on this link passed already; nothing was sent.
    AlreadyVerified,
}

/// What [`verify_signing_code`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    Verified,
    /// A wrong code; it counted.
    Wrong {
        failed_attempts: u32,
        attempts_left: u32,
    },
    /// That wrong code was the last allowed: SMS checks on this link are over until a new link.
    Locked {
        failed_attempts: u32,
    },
}

/// What a code unlocks: one signer's check through one link of one contract.
pub fn code_scope(contract_id: &ContractId, party_id: &PartyId, link_id: &LinkId) -> String {
    format!("contract:{contract_id}:party:{party_id}:link:{link_id}")
}

fn contract_stream(contract_id: &ContractId) -> StreamId {
    StreamId::new(ContractAggregate::NAME, contract_id.as_str())
}

/// Generates a code for the signer's live link, texts it to the signer's mobile number and records its
/// keyed hash (`SmsCodeSent`). `metadata` carries the signer's IP address and user agent.
pub async fn send_signing_code(
    state: &Services,
    contract_id: &ContractId,
    party_id: &PartyId,
    link_id: &LinkId,
    metadata: &EventMetadata,
) -> Result<CodeSent, SigningCodeError> {
    let stream = contract_stream(contract_id);
    let loaded = state.pipeline.load::<ContractAggregate>(&stream).await?;
    if loaded.state.contract().is_none() {
        return Err(SigningCodeError::ContractNotFound);
    }
    let code = OneTimeCode::generate();
    let policy = state.config.sms.code_policy();
    let command = SendSmsCode {
        party_id: party_id.clone(),
        link_id: link_id.clone(),
        code_hash: code_digest(
            &state.pii,
            &code_scope(contract_id, party_id, link_id),
            code.as_str(),
        )
        .map_err(|e| SigningCodeError::Digest(e.to_string()))?,
        policy,
        now: Utc::now(),
    };
    let decided =
        ContractAggregate::decide(&loaded.state, ContractCommand::SendSmsCode(command.clone()))
            .map_err(|refusal| {
                tracing::info!(%contract_id, %party_id, %refusal, "signing code refused");
                CommandError::Domain(refusal)
            })?;
    let (Some(expires_at), Some(signer)) = (
        decided.iter().find_map(|event| match event {
            ContractEvent::SmsCodeSent { expires_at, .. } => Some(*expires_at),
            _ => None,
        }),
        loaded
            .state
            .contract()
            .and_then(|contract| contract.signer(party_id)),
    ) else {
        return Ok(CodeSent::AlreadyVerified);
    };
    let minutes = (policy.ttl.num_seconds() + 59) / 60;
    let message = SmsMessage {
        mobile: signer.mobile.clone(),
        text: format!(
            "您正在签署电子协议，验证码 {}，{minutes} 分钟内有效。请勿将验证码告诉他人。",
            code.as_str()
        ),
        purpose: "SIGNING_CODE",
    };
    let receipt = state.sms.send(&message).await.map_err(|error| {
        tracing::warn!(%contract_id, %party_id, mobile = %signer.mobile.masked(), %error,
            "signing code not sent; nothing recorded, the signer may ask again");
        error
    })?;
    let executed = state
        .pipeline
        .execute::<ContractAggregate>(&stream, metadata, |_| {
            ContractCommand::SendSmsCode(command.clone())
        })
        .await
        .map_err(|error| {
            tracing::warn!(%contract_id, %party_id, %error,
                "a signing code was texted but could not be recorded; it will not verify");
            error
        })?;
    if executed.appended.is_empty() {
        return Ok(CodeSent::AlreadyVerified);
    }
    Ok(CodeSent::Sent {
        expires_at,
        resend_at: aggregates::values::later(command.now, policy.resend_cooldown),
        message_id: receipt.message_id,
    })
}

/// Checks a typed code against the one sent on the signer's link. A wrong code is recorded and
/// counts (`SmsCodeFailed`); an expired code, a locked check or no code at all are refused.
pub async fn verify_signing_code(
    state: &Services,
    contract_id: &ContractId,
    party_id: &PartyId,
    link_id: &LinkId,
    typed: &str,
    metadata: &EventMetadata,
) -> Result<CodeCheck, SigningCodeError> {
    let stream = contract_stream(contract_id);
    let policy = state.config.sms.code_policy();
    let code_hash = code_digest(
        &state.pii,
        &code_scope(contract_id, party_id, link_id),
        typed,
    )
    .map_err(|e| SigningCodeError::Digest(e.to_string()))?;
    let now = Utc::now();
    let executed = state
        .pipeline
        .execute::<ContractAggregate>(&stream, metadata, |_| {
            ContractCommand::VerifySmsCode(VerifySmsCode {
                party_id: party_id.clone(),
                link_id: link_id.clone(),
                code_hash: code_hash.clone(),
                policy,
                now,
            })
        })
        .await
        .map_err(|error| match error {
            CommandError::Domain(ContractError::NotFound(
                aggregates::contract::ContractNotFound::Contract,
            )) => SigningCodeError::ContractNotFound,
            other => SigningCodeError::Command(other),
        })?;
    let failed = executed
        .appended
        .iter()
        .find_map(|recorded| match recorded.event_type.as_str() {
            "SmsCodeFailed" => Some(()),
            _ => None,
        });
    if failed.is_none() {
        // SmsCodeVerified, or nothing because the check had passed already.
        return Ok(CodeCheck::Verified);
    }
    let sms = executed
        .state
        .contract()
        .and_then(|contract| contract.signer(party_id))
        .and_then(|signer| signer.link())
        .map(|link| link.sms.clone());
    let outcome = match sms {
        Some(aggregates::contract::SmsCheck::Locked { failed_attempts }) => {
            CodeCheck::Locked { failed_attempts }
        }
        Some(aggregates::contract::SmsCheck::Sent {
            failed_attempts, ..
        }) => CodeCheck::Wrong {
            failed_attempts,
            attempts_left: policy.max_failed_attempts.saturating_sub(failed_attempts),
        },
        _ => return Err(SigningCodeError::Inconsistent),
    };
    tracing::info!(%contract_id, %party_id, ?outcome, "wrong signing code");
    Ok(outcome)
}
