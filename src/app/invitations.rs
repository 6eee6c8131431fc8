//! Signing invitations by SMS (spec 4.1.2 step 2, 如配置短信通知，调用消息中心发送签署邀请): a signer
//! whose `notifyType` is SMS gets a text with a short link to their sign URL when their turn comes.
//!
//! The contract decides when one is due and records `SmsInvitationRequested` in the transaction that
//! made it due (initiation, the signature completing the sequence before, a new link), so none is
//! lost. After the commit, before the answer (spec 5.2), the text is sent from a task of its own and
//! the outcome recorded in the contract's stream (`SmsInvitationSent` / `SmsInvitationFailed`); the delivery sweep
//! ([`super::texts::spawn_sweep`]) retries failures and attempts lost in a crash, with the retry
//! policy and lease of notices. The contract refuses any attempt once the signer acted, the link was
//! replaced or expired, or the contract ended.
//!
//! The token exists in clear only in the caller's answer. The text's short link is made at send time:
//! the signer's stored short links hold their targets sealed, and the one whose token hashes to the
//! live link's hash is opened and given a fresh code (stored hashed, like every code). Neither the
//! token nor the code reaches an event or a log line. A text may reach a phone twice when an instance
//! stops between the send and its record; it is never dropped while attempts are left.

use aggregates::Aggregate;
use aggregates::contract::{
    ContractAggregate, ContractCommand, ContractError, ContractState, RecordInvitationDelivery,
    StartInvitationAttempt,
};
use aggregates::delivery::{Delivery, DeliveryOutcome};
use aggregates::values::{ContractId, LinkId, PartyId};
use chrono::{DateTime, FixedOffset, Utc};

use super::Services;
use super::pipeline::CommandError;
use super::short_links::ShortLinkError;
use super::texts::{Claimed, SweepReport};
use crate::store::{RecordedEvent, StoreError, StreamId};

/// What the purpose of an invitation is called in logs and metrics (and the message centre's
/// `purpose`).
pub const PURPOSE: &str = "SIGNING_INVITATION";

const REQUESTED: &str = "SmsInvitationRequested";
const ATTEMPT_STARTED: &str = "SmsInvitationAttemptStarted";

/// Why a delivery step failed (the invitation itself stays safe in the log).
#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    #[error(transparent)]
    Command(#[from] CommandError<ContractError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ShortLink(#[from] ShortLinkError),
}

fn stream(contract_id: &ContractId) -> StreamId {
    StreamId::new(ContractAggregate::NAME, contract_id.as_str())
}

/// Sends the invitations a command just requested and waits for their first attempts, as spec 5.2
/// draws it (the invitation leaves before the answer). Each runs in a task of its own, so it
/// finishes (and is recorded) even if the caller hangs up; one that cannot finish leaves the attempt
/// to the sweep, and the caller's answer does not depend on it.
pub async fn send_requested(services: &Services, appended: &[RecordedEvent]) {
    let mut attempts = Vec::new();
    for recorded in appended
        .iter()
        .filter(|event| event.event_type == REQUESTED)
    {
        let payload = recorded.payload.as_value();
        let (Ok(contract_id), Some(Ok(party_id)), Some(Ok(link_id))) = (
            ContractId::parse(recorded.stream_id.id()),
            payload["partyId"].as_str().map(PartyId::parse),
            payload["linkId"].as_str().map(LinkId::parse),
        ) else {
            tracing::error!(
                position = recorded.global_position,
                "an invitation event without its signer"
            );
            continue;
        };
        let services = services.clone();
        attempts.push(tokio::spawn(async move {
            if let Err(error) = deliver(&services, &contract_id, &party_id, &link_id, 1).await {
                tracing::warn!(%contract_id, %party_id, %error,
                    "first invitation attempt not completed; the sweep takes it over");
            }
        }));
    }
    for attempt in attempts {
        if let Err(error) = attempt.await {
            tracing::error!(%error, "invitation task failed");
        }
    }
}

/// Makes attempt `attempt` of the signer's invitation for `link_id`: texts the short link and
/// records the outcome. Does nothing when that attempt is not the one in flight, or the link can no
/// longer be used.
pub async fn deliver(
    services: &Services,
    contract_id: &ContractId,
    party_id: &PartyId,
    link_id: &LinkId,
    attempt: u32,
) -> Result<(), InvitationError> {
    let stream = stream(contract_id);
    let loaded = services.pipeline.load::<ContractAggregate>(&stream).await?;
    let state = &loaded.state;
    let Some(contract) = state.contract() else {
        return Ok(());
    };
    let Some(signer) = contract.signer(party_id) else {
        return Ok(());
    };
    let in_flight = signer.invitation.as_ref().is_some_and(|invitation| {
        &invitation.link_id == link_id
            && matches!(invitation.delivery, Delivery::InFlight(current) if current.number == attempt)
    });
    let now = Utc::now();
    let Some(link) = live_link(state, party_id, link_id, now).filter(|_| in_flight) else {
        // Another instance took the attempt, or the event that ended the link closed the invitation.
        return Ok(());
    };
    let target = super::short_links::signer_target(
        &services.store,
        &services.pii,
        contract_id.as_str(),
        party_id.as_str(),
        &link.token_hash,
        now,
    )
    .await?;
    let outcome = match target {
        Some(target) => {
            let code = super::short_links::create(
                &services.store,
                &services.pii,
                contract_id.as_str(),
                party_id.as_str(),
                &target,
                link.expires_at,
            )
            .await?;
            let short_url = format!(
                "{}/s/{code}",
                services.config.server.public_base_url.trim_end_matches('/')
            );
            let text = invitation_text(contract.title.as_str(), &short_url, link.expires_at);
            super::texts::send(services, &signer.mobile, text, PURPOSE).await
        }
        // The short links are operational rows, not rebuilt from the log: without one the token is
        // gone, and only a new link (which texts itself) can reach the signer.
        None => super::texts::failed(
            services,
            "the sign link's target is no longer stored; issue a new link for the signer",
            false,
        ),
    };
    if let DeliveryOutcome::Failed { reason, .. } = &outcome {
        tracing::warn!(%contract_id, %party_id, attempt, mobile = %signer.mobile.masked(), %reason,
            "invitation not sent");
    }
    let policy = services.config.sms.notice_policy();
    let executed = services
        .pipeline
        .execute::<ContractAggregate>(&stream, &super::system_metadata("sms-invitations"), |_| {
            ContractCommand::RecordInvitationDelivery(RecordInvitationDelivery {
                party_id: party_id.clone(),
                link_id: link_id.clone(),
                attempt,
                outcome: outcome.clone(),
                policy,
                now: Utc::now(),
            })
        })
        .await?;
    for event in &executed.appended {
        tracing::info!(%contract_id, %party_id, attempt, event = %event.event_type,
            "invitation delivery recorded");
    }
    Ok(())
}

/// The link an invitation may carry now, if it is `link_id` and has not passed its deadline.
fn live_link<'a>(
    state: &'a ContractState,
    party_id: &PartyId,
    link_id: &LinkId,
    now: DateTime<Utc>,
) -> Option<&'a aggregates::contract::SignLink> {
    state
        .invitable_link(party_id)
        .filter(|link| &link.link_id == link_id && now < link.expires_at)
}

/// The invitation as the signer reads it: the contract's title, the short link and its deadline in
/// China time.
fn invitation_text(title: &str, short_url: &str, expires_at: DateTime<Utc>) -> String {
    let china = FixedOffset::east_opt(8 * 3600).map_or_else(
        || expires_at.format("%m月%d日 %H:%M UTC").to_string(),
        |offset| {
            expires_at
                .with_timezone(&offset)
                .format("%m月%d日 %H:%M")
                .to_string()
        },
    );
    format!("您有一份电子协议《{title}》待签署，请在 {china} 前打开 {short_url} 完成签署。")
}

/// Finds invitations due for another attempt and makes it. Safe to run on several instances at once.
pub async fn sweep_once(services: &Services) -> Result<SweepReport, InvitationError> {
    let policy = services.config.sms.notice_policy();
    let lease = super::texts::lease(services);
    let now = Utc::now();
    let rows = services
        .store
        .contracts()
        .invitations_awaiting_delivery()
        .await?;
    let mut report = SweepReport::default();
    for row in rows {
        if !super::texts::is_due(&row, lease, now) {
            continue;
        }
        let (Some(Ok(contract_id)), Some(Ok(party_id)), Some(Ok(link_id)), Some(attempts)) = (
            row.text("contract_id").map(ContractId::parse),
            row.text("party_id").map(PartyId::parse),
            row.text("link_id").map(LinkId::parse),
            row.integer("attempts"),
        ) else {
            continue;
        };
        let next = u32::try_from(attempts)
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        let command = StartInvitationAttempt {
            party_id,
            link_id,
            attempt: next,
            lease,
            policy,
            now,
        };
        // One contract's trouble (a busy stream, a sender error) must not hold up the others.
        match attempt_next(services, &contract_id, command).await {
            Ok(claimed) => report.count(claimed),
            Err(error) => tracing::warn!(%contract_id, %error, "invitation sweep step failed"),
        }
    }
    Ok(report)
}

/// Claims the attempt `command` names and, when this instance won it, makes it.
async fn attempt_next(
    services: &Services,
    contract_id: &ContractId,
    command: StartInvitationAttempt,
) -> Result<Claimed, InvitationError> {
    let executed = services
        .pipeline
        .execute::<ContractAggregate>(
            &stream(contract_id),
            &super::system_metadata("sms-invitations"),
            |_| {
                ContractCommand::StartInvitationAttempt(StartInvitationAttempt {
                    now: Utc::now(),
                    ..command.clone()
                })
            },
        )
        .await?;
    // Only what this instance appended is its to act on.
    if executed
        .appended
        .iter()
        .any(|recorded| recorded.event_type == ATTEMPT_STARTED)
    {
        deliver(
            services,
            contract_id,
            &command.party_id,
            &command.link_id,
            command.attempt,
        )
        .await?;
        return Ok(Claimed::Attempted);
    }
    if executed.appended.is_empty() {
        return Ok(Claimed::Nothing);
    }
    tracing::error!(%contract_id, party_id = %command.party_id,
        "invitation abandoned: its last attempt left no outcome");
    Ok(Claimed::Abandoned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_the_contract_the_link_and_its_deadline_in_china_time() {
        let expires_at = DateTime::parse_from_rfc3339("2026-01-19T16:30:00Z")
            .unwrap()
            .to_utc();
        let text = invitation_text(
            "资金归集授权协议",
            "https://es.example/s/AbCdEfGh12",
            expires_at,
        );
        assert_eq!(
            text,
            "您有一份电子协议《资金归集授权协议》待签署，请在 01月20日 00:30 前打开 https://es.example/s/AbCdEfGh12 完成签署。"
        );
    }
}
