//! `contract`, `contract_signer` and `contract_archive` (spec 3.1 tables 2-4): the rows of one contract
//! stream, from the contract's state after its last event.

use std::collections::BTreeMap;

use aggregates::Aggregate;
use aggregates::contract::{
    Archive, ArchiveState, Contract, ContractAggregate, ContractContent, ContractEvent,
    ContractState, Invitation, SealedDocument, Signer, SignerStatus,
};
use aggregates::delivery::Delivery;
use aggregates::values::{ArchiveProvider, Digest, LinkId, PartyId};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::ProjectionError;
use crate::row::{Row, SqlValue, Table};
use crate::sealed::{SealedValue, json_text, sealed_headers, sealed_value, stored_name};
use crate::stream::{Draft, ProjectedEvent, fold};

const INITIATED: &str = "ContractInitiated";

/// Every row a contract stream owns: its `contract` row, one `contract_signer` row per signer (in
/// initiation order) and one `contract_archive` row per archive provider asked so far.
pub fn contract_rows(
    events: &[ProjectedEvent<'_, ContractEvent>],
) -> Result<Vec<Row>, ProjectionError> {
    fold(events, Projection::default(), step, shape)
}

#[derive(Debug, Default)]
struct Projection {
    state: ContractState,
    sealed: Option<SealedInitiation>,
    /// Each signer's latest link, kept after it is used (the state forgets it once the signer acts).
    links: BTreeMap<PartyId, LatestLink>,
}

/// A signer's latest link as the query table shows it.
#[derive(Debug, Clone)]
struct LatestLink {
    link_id: LinkId,
    /// The SHA-256 of the link's token: the signing page finds the signer by it.
    token_hash: Digest,
    expires_at: DateTime<Utc>,
}

/// The initiation's personal data as stored, signers in initiation order.
#[derive(Debug)]
struct SealedInitiation {
    signers: Vec<SealedSigner>,
    callback_headers: Option<String>,
}

#[derive(Debug)]
struct SealedSigner {
    /// The `name` column: sealed, or as an event from before names were sealed holds it.
    name: String,
    id_card_no: SealedValue,
    mobile: SealedValue,
}

fn step(
    projection: &mut Projection,
    event: &ProjectedEvent<'_, ContractEvent>,
) -> Result<(), ProjectionError> {
    ContractAggregate::evolve(&mut projection.state, event.event);
    match event.event {
        ContractEvent::ContractInitiated {
            signers,
            webhook_headers,
            ..
        } => {
            // A second initiation never reaches a valid stream; like `evolve`, keep the first.
            if projection.sealed.is_none() {
                let party_ids = signers.iter().map(|signer| &signer.party_id);
                projection.sealed = Some(SealedInitiation {
                    signers: sealed_signers(event.sealed_payload, party_ids)?,
                    callback_headers: sealed_headers(
                        event.sealed_payload,
                        webhook_headers.iter().map(|(name, _)| name),
                        INITIATED,
                    )?,
                });
            }
        }
        ContractEvent::SignLinkIssued { .. }
        | ContractEvent::SignLinkOpened { .. }
        | ContractEvent::SmsCodeSent { .. }
        | ContractEvent::SmsCodeVerified { .. }
        | ContractEvent::SmsCodeFailed { .. }
        | ContractEvent::SignerFaceVerified { .. }
        | ContractEvent::SignerCertificateVerified { .. }
        | ContractEvent::SignerSigned { .. }
        | ContractEvent::SignLinkExpired { .. }
        | ContractEvent::SignerRejected { .. }
        | ContractEvent::ContractPartiallySigned { .. }
        | ContractEvent::ContractSigned { .. }
        | ContractEvent::ContractRejected { .. }
        | ContractEvent::ContractRevoked { .. }
        | ContractEvent::ContractExpired { .. }
        | ContractEvent::ContractForced { .. }
        | ContractEvent::DocumentSealed { .. }
        | ContractEvent::DocumentTimestampRenewed { .. }
        | ContractEvent::ArchiveRequested { .. }
        | ContractEvent::ArchiveSucceeded { .. }
        | ContractEvent::ArchiveFailed { .. }
        | ContractEvent::SmsInvitationRequested { .. }
        | ContractEvent::SmsInvitationAttemptStarted { .. }
        | ContractEvent::SmsInvitationSent { .. }
        | ContractEvent::SmsInvitationFailed { .. }
        | ContractEvent::ArchiveRetryOrdered { .. } => {}
    }
    if let Some(contract) = projection.state.contract() {
        for signer in &contract.signers {
            if let Some(link) = signer.link() {
                projection.links.insert(
                    signer.party_id.clone(),
                    LatestLink {
                        link_id: link.link_id.clone(),
                        token_hash: link.token_hash.clone(),
                        expires_at: link.expires_at,
                    },
                );
            }
        }
    }
    Ok(())
}

/// `signers[i].name`, `.idCardNo` and `.mobile` of the stored initiation, checked against the event's
/// party ids so a payload can never lend one signer's personal data to another.
fn sealed_signers<'a>(
    payload: &Value,
    party_ids: impl ExactSizeIterator<Item = &'a PartyId>,
) -> Result<Vec<SealedSigner>, ProjectionError> {
    let stored = payload
        .get("signers")
        .and_then(Value::as_array)
        .filter(|stored| stored.len() == party_ids.len())
        .ok_or_else(|| ProjectionError::PayloadMismatch {
            event: INITIATED,
            path: "signers".to_owned(),
        })?;
    stored
        .iter()
        .zip(party_ids)
        .enumerate()
        .map(|(index, (entry, party_id))| {
            if entry.get("partyId").and_then(Value::as_str) != Some(party_id.as_str()) {
                return Err(ProjectionError::PayloadMismatch {
                    event: INITIATED,
                    path: format!("signers[{index}].partyId"),
                });
            }
            Ok(SealedSigner {
                name: stored_name(entry.get("name"), INITIATED, || {
                    format!("signers[{index}].name")
                })?,
                id_card_no: sealed_value(entry.get("idCardNo"), INITIATED, || {
                    format!("signers[{index}].idCardNo")
                })?,
                mobile: sealed_value(entry.get("mobile"), INITIATED, || {
                    format!("signers[{index}].mobile")
                })?,
            })
        })
        .collect()
}

/// What the lifecycle state adds to the contract's own fields.
struct Outcome<'a> {
    signed_at: Option<DateTime<Utc>>,
    revocation: Option<(&'a str, &'a str, DateTime<Utc>)>,
    document: Option<&'a SealedDocument>,
    archives: Option<&'a BTreeMap<ArchiveProvider, Archive>>,
}

fn outcome(state: &ContractState) -> Outcome<'_> {
    let mut outcome = Outcome {
        signed_at: None,
        revocation: None,
        document: None,
        archives: None,
    };
    match state {
        ContractState::NotInitiated
        | ContractState::Created { .. }
        | ContractState::PartiallySigned { .. }
        | ContractState::Rejected { .. }
        | ContractState::Expired { .. } => {}
        ContractState::Signed {
            signed_at,
            document,
            archives,
            ..
        } => {
            outcome.signed_at = Some(*signed_at);
            outcome.document = document.as_ref();
            outcome.archives = Some(archives);
        }
        ContractState::Revoked {
            reason,
            operator,
            revoked_at,
            ..
        } => outcome.revocation = Some((reason.as_str(), operator.as_str(), *revoked_at)),
    }
    outcome
}

fn shape(projection: &Projection) -> Result<Vec<Draft>, ProjectionError> {
    let state = &projection.state;
    let (Some(contract), Some(status), Some(sealed)) =
        (state.contract(), state.status(), projection.sealed.as_ref())
    else {
        return Err(ProjectionError::NotInitiated);
    };
    let outcome = outcome(state);
    let document_hash = outcome
        .document
        .map(|document| document.document_hash.as_hex());
    let template = match &contract.content {
        ContractContent::Template {
            template_id,
            template_version,
            variables,
            preview_hash,
        } => Some((template_id, template_version, variables, preview_hash)),
        ContractContent::Uploaded { .. } => None,
    };
    let mut drafts = Vec::with_capacity(1 + contract.signers.len());
    drafts.push(Draft::new(
        Table::Contract,
        vec![
            ("contract_id", SqlValue::text(contract.contract_id.as_str())),
            ("client_id", SqlValue::text(contract.client_id.as_str())),
            ("biz_id", SqlValue::text(contract.biz_id.as_str())),
            ("biz_type", SqlValue::text(contract.biz_type.as_str())),
            (
                "template_id",
                SqlValue::optional_text(template.map(|(id, _, _, _)| id.as_str())),
            ),
            (
                "template_version",
                SqlValue::optional_text(template.map(|(_, version, _, _)| version.as_str())),
            ),
            ("title", SqlValue::text(contract.title.as_str())),
            ("status", SqlValue::text(status.as_str())),
            (
                "variables_json",
                SqlValue::Text(json_text(
                    template.map_or(&BTreeMap::new(), |(_, _, variables, _)| variables),
                    "variables",
                )?),
            ),
            (
                "preview_hash",
                SqlValue::optional_text(template.map(|(_, _, _, hash)| hash.as_hex())),
            ),
            (
                "documents_json",
                match &contract.content {
                    ContractContent::Template { .. } => SqlValue::Null,
                    ContractContent::Uploaded { documents } => {
                        SqlValue::Text(json_text(documents, "documents")?)
                    }
                },
            ),
            // The download path names the file by its hash; the service signs it, for a short
            // time, for whoever it hands the URL to.
            (
                "document_url",
                SqlValue::optional_text(document_hash.map(|hash| {
                    format!("/download/contracts/{}/{hash}.pdf", contract.contract_id)
                })),
            ),
            ("document_hash", SqlValue::optional_text(document_hash)),
            (
                "callback_url",
                SqlValue::text(contract.callback_url.as_str()),
            ),
            (
                "callback_headers",
                SqlValue::optional_text(sealed.callback_headers.clone()),
            ),
            (
                "need_archive",
                SqlValue::Bool(!contract.archive_providers.is_empty()),
            ),
            (
                "archive_providers",
                SqlValue::Text(json_text(&contract.archive_providers, "archiveProviders")?),
            ),
            ("expires_at", SqlValue::timestamp(contract.expires_at)),
            ("signed_at", SqlValue::optional_timestamp(outcome.signed_at)),
            (
                "revoked_at",
                SqlValue::optional_timestamp(outcome.revocation.map(|(_, _, at)| at)),
            ),
            (
                "revoke_reason",
                SqlValue::optional_text(outcome.revocation.map(|(reason, _, _)| reason)),
            ),
            (
                "revoke_operator",
                SqlValue::optional_text(outcome.revocation.map(|(_, operator, _)| operator)),
            ),
        ],
    ));
    if contract.signers.len() != sealed.signers.len() {
        return Err(ProjectionError::PayloadMismatch {
            event: INITIATED,
            path: "signers".to_owned(),
        });
    }
    for (index, (signer, sealed)) in contract.signers.iter().zip(&sealed.signers).enumerate() {
        let ordinal = u32::try_from(index + 1).map_err(|_| ProjectionError::OutOfRange("id"))?;
        drafts.push(Draft {
            table: Table::ContractSigner,
            ordinal: Some(ordinal),
            body: signer_body(
                contract,
                signer,
                sealed,
                projection.links.get(&signer.party_id),
            )?,
        });
    }
    if let Some(document) = outcome.document {
        let earlier = document.earlier.iter().map(|version| {
            (
                &version.document_hash,
                version.document_timestamped_at,
                version.document_timestamp_valid_until,
            )
        });
        let current = (
            &document.document_hash,
            document.document_timestamped_at,
            document.document_timestamp_valid_until,
        );
        let count = document.earlier.len() + 1;
        for (index, (hash, timestamped_at, valid_until)) in earlier.chain([current]).enumerate() {
            let version =
                i64::try_from(index + 1).map_err(|_| ProjectionError::OutOfRange("version"))?;
            drafts.push(Draft::new(
                Table::ContractDocument,
                vec![
                    ("contract_id", SqlValue::text(contract.contract_id.as_str())),
                    ("version", SqlValue::Integer(version)),
                    ("document_hash", SqlValue::text(hash.as_hex())),
                    ("current", SqlValue::Bool(index + 1 == count)),
                    (
                        "document_timestamped_at",
                        SqlValue::optional_timestamp(timestamped_at),
                    ),
                    (
                        "document_timestamp_valid_until",
                        SqlValue::optional_timestamp(valid_until),
                    ),
                ],
            ));
        }
    }
    for signer in &contract.signers {
        if let Some(invitation) = &signer.invitation {
            drafts.push(Draft::new(
                Table::ContractInvitation,
                invitation_body(state, contract, signer, invitation),
            ));
        }
    }
    for archive in outcome.archives.into_iter().flat_map(BTreeMap::values) {
        drafts.push(Draft::new(
            Table::ContractArchive,
            archive_body(contract, archive),
        ));
    }
    Ok(drafts)
}

fn signer_body(
    contract: &Contract,
    signer: &Signer,
    sealed: &SealedSigner,
    link: Option<&LatestLink>,
) -> Result<Vec<(&'static str, SqlValue)>, ProjectionError> {
    // ACTIVE: the latest link still works as far as its own deadline goes; EXPIRED: the scheduler
    // expired it; USED: the signer signed or rejected with it. NULL before any link was issued.
    let link_status = match (&signer.status, link) {
        (_, None) => None,
        (SignerStatus::Pending { link: Some(_) }, Some(_)) => Some("ACTIVE"),
        (SignerStatus::Pending { link: None }, Some(_)) => Some("EXPIRED"),
        (SignerStatus::Signed(_) | SignerStatus::Rejected(_), Some(_)) => Some("USED"),
    };
    let (signed, rejected) = match &signer.status {
        SignerStatus::Pending { .. } => (None, None),
        SignerStatus::Signed(signature) => (Some(signature), None),
        SignerStatus::Rejected(rejection) => (None, Some(rejection)),
    };
    let ip_address = signed
        .map(|signature| signature.ip_address)
        .or(rejected.map(|rejection| rejection.ip_address));
    let organization = signer.organization.as_ref();
    Ok(vec![
        ("contract_id", SqlValue::text(contract.contract_id.as_str())),
        ("party_id", SqlValue::text(signer.party_id.as_str())),
        ("party_type", SqlValue::text(signer.party_type.as_str())),
        ("name", SqlValue::text(sealed.name.clone())),
        ("id_card_no", SqlValue::text(sealed.id_card_no.json.clone())),
        (
            "id_card_hash",
            SqlValue::text(sealed.id_card_no.hash.clone()),
        ),
        ("mobile", SqlValue::text(sealed.mobile.json.clone())),
        ("mobile_hash", SqlValue::text(sealed.mobile.hash.clone())),
        ("sign_method", SqlValue::text(signer.sign_method.as_str())),
        ("notify_type", SqlValue::text(signer.notify_type.as_str())),
        (
            "organization_name",
            SqlValue::optional_text(organization.map(|organization| organization.name.as_str())),
        ),
        (
            "credit_code",
            SqlValue::optional_text(
                organization.map(|organization| organization.credit_code.as_str()),
            ),
        ),
        (
            "agent_role",
            SqlValue::optional_text(
                organization.map(|organization| organization.agent_role.as_str()),
            ),
        ),
        (
            "seal_appearance",
            SqlValue::optional_text(
                organization.map(|organization| organization.appearance.as_str()),
            ),
        ),
        (
            "seal_id",
            SqlValue::optional_text(organization.map(|organization| organization.seal_id.as_str())),
        ),
        (
            "seal_version",
            organization.map_or(SqlValue::Null, |organization| {
                SqlValue::Integer(i64::from(organization.seal_version))
            }),
        ),
        (
            "places_json",
            if signer.places.is_empty() {
                SqlValue::Null
            } else {
                SqlValue::Text(json_text(&signer.places, "places")?)
            },
        ),
        ("sign_status", SqlValue::text(signer.sign_status().as_str())),
        // The service builds sign and short URLs from the link id; no event carries them.
        ("sign_url", SqlValue::Null),
        ("short_url", SqlValue::Null),
        ("sequence", SqlValue::Integer(i64::from(signer.sequence))),
        (
            "link_id",
            SqlValue::optional_text(link.map(|link| link.link_id.as_str())),
        ),
        (
            "signed_at",
            SqlValue::optional_timestamp(signed.map(|signature| signature.signed_at)),
        ),
        (
            "transaction_no",
            SqlValue::optional_text(signed.map(|signature| signature.transaction_no.as_str())),
        ),
        (
            "ip_address",
            SqlValue::optional_text(ip_address.map(|ip| ip.to_string())),
        ),
        (
            "device_info",
            SqlValue::optional_text(signed.map(|signature| signature.device_info.as_str())),
        ),
        (
            "reject_reason",
            SqlValue::optional_text(rejected.map(|rejection| rejection.reason.as_str())),
        ),
        (
            "rejected_at",
            SqlValue::optional_timestamp(rejected.map(|rejection| rejection.rejected_at)),
        ),
        (
            "expires_at",
            SqlValue::optional_timestamp(link.map(|link| link.expires_at)),
        ),
        ("link_status", SqlValue::optional_text(link_status)),
        (
            "link_token_hash",
            SqlValue::optional_text(link.map(|link| link.token_hash.as_hex())),
        ),
    ])
}

/// A signer's latest SMS invitation. `CANCELLED` when it still awaited an attempt but its link can no
/// longer be used (the signer acted, the link was replaced or expired, the contract ended): the
/// delivery sweep leaves it alone.
fn invitation_body(
    state: &ContractState,
    contract: &Contract,
    signer: &Signer,
    invitation: &Invitation,
) -> Vec<(&'static str, SqlValue)> {
    let delivery = &invitation.delivery;
    let live = state
        .invitable_link(&signer.party_id)
        .is_some_and(|link| link.link_id == invitation.link_id);
    let cancelled = delivery.awaits_attempt() && !live;
    let status = if cancelled {
        "CANCELLED"
    } else {
        delivery.status()
    };
    let (sender, message_id, sent_at) = match delivery {
        Delivery::Sent {
            sender,
            message_id,
            sent_at,
            ..
        } => (
            Some(sender.as_str()),
            Some(message_id.as_str()),
            Some(*sent_at),
        ),
        Delivery::Failed { sender, .. } => {
            (sender.as_ref().map(|sender| sender.as_str()), None, None)
        }
        Delivery::InFlight(_) => (None, None, None),
    };
    let (fail_reason, retryable, next_attempt_at) = match delivery {
        Delivery::Failed {
            reason,
            retryable,
            next_attempt_at,
            ..
        } => (
            SqlValue::text(reason.as_str()),
            SqlValue::Bool(*retryable),
            SqlValue::optional_timestamp(next_attempt_at.filter(|_| !cancelled)),
        ),
        Delivery::InFlight(_) | Delivery::Sent { .. } => {
            (SqlValue::Null, SqlValue::Null, SqlValue::Null)
        }
    };
    let attempt_started_at = match delivery {
        Delivery::InFlight(attempt) if !cancelled => Some(attempt.started_at),
        Delivery::InFlight(_) | Delivery::Sent { .. } | Delivery::Failed { .. } => None,
    };
    vec![
        ("contract_id", SqlValue::text(contract.contract_id.as_str())),
        ("party_id", SqlValue::text(signer.party_id.as_str())),
        ("link_id", SqlValue::text(invitation.link_id.as_str())),
        ("status", SqlValue::text(status)),
        (
            "attempts",
            SqlValue::Integer(i64::from(delivery.attempts())),
        ),
        ("sender", SqlValue::optional_text(sender)),
        ("message_id", SqlValue::optional_text(message_id)),
        ("fail_reason", fail_reason),
        ("retryable", retryable),
        ("next_attempt_at", next_attempt_at),
        (
            "attempt_started_at",
            SqlValue::optional_timestamp(attempt_started_at),
        ),
        ("sent_at", SqlValue::optional_timestamp(sent_at)),
    ]
}

/// The provider's evidence and authority of a successful record (spec `metadata_json`).
pub(crate) fn archive_metadata(state: &ArchiveState) -> SqlValue {
    match state {
        ArchiveState::Succeeded {
            authority,
            evidence,
            ..
        } if authority.is_some() || evidence.is_some() => SqlValue::text(
            serde_json::json!({
                "authority": authority.as_ref().map(|authority| authority.as_str()),
                "evidence": evidence,
            })
            .to_string(),
        ),
        _ => SqlValue::Null,
    }
}

fn archive_body(contract: &Contract, archive: &Archive) -> Vec<(&'static str, SqlValue)> {
    let (archived, fail_reason) = match &archive.state {
        ArchiveState::Pending { .. } => (None, None),
        ArchiveState::Succeeded {
            transaction_no,
            certificate_url,
            archived_at,
            ..
        } => (Some((transaction_no, certificate_url, archived_at)), None),
        ArchiveState::Failed { reason, .. } => (None, Some(reason)),
    };
    vec![
        ("archive_id", SqlValue::text(archive.archive_id.as_str())),
        ("contract_id", SqlValue::text(contract.contract_id.as_str())),
        (
            "archive_provider",
            SqlValue::text(archive.provider.as_str()),
        ),
        ("status", SqlValue::text(archive.state.status().as_str())),
        (
            "document_hash",
            SqlValue::text(archive.document_hash.as_hex()),
        ),
        (
            "archive_time",
            SqlValue::optional_timestamp(archived.map(|(_, _, at)| *at)),
        ),
        (
            "certificate_url",
            SqlValue::optional_text(
                archived.and_then(|(_, url, _)| url.as_ref().map(|url| url.as_str())),
            ),
        ),
        (
            "transaction_no",
            SqlValue::optional_text(archived.map(|(number, _, _)| number.as_str())),
        ),
        ("metadata_json", archive_metadata(&archive.state)),
        ("attempts", SqlValue::Integer(i64::from(archive.attempts))),
        (
            "fail_reason",
            SqlValue::optional_text(fail_reason.map(|reason| reason.as_str())),
        ),
    ]
}

#[cfg(test)]
mod tests;
