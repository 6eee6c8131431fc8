//! The Contract's decisions: one function per command, each matching every lifecycle state.

use chrono::{DateTime, Utc};

use super::errors::{
    ContractConflict, ContractError, ContractNotFound, IdentityCheck, IdentityFailure,
};
use super::events::ContractEvent;
use super::state::{
    Archive, ArchiveState, Contract, ContractState, Invitation, SignLink, Signer, SignerStatus,
    SmsCheck,
};
use super::{
    Expire, ExpireSignLink, ForceTransition, InitiateContract, IssueSignLink, OpenSignLink,
    RecordArchiveFailure, RecordArchiveSuccess, RecordFaceVerification, RecordInvitationDelivery,
    Reject, RenewDocumentTimestamp, RequestArchive, RetryArchive, Revoke, SealDocument,
    SendSmsCode, Sign, StartInvitationAttempt, VerifyCertificate, VerifySmsCode,
};
use crate::delivery::{Recorded, Start};
use crate::errors::ValidationErrors;
use crate::values::{
    ArchiveProvider, ArchiveStatus, ContractStatus, LinkId, PartyId, SignMethod, SignStatus,
    VerificationStatus, later,
};

type Decision = Result<Vec<ContractEvent>, ContractError>;

pub(super) fn initiate(state: &ContractState, command: InitiateContract) -> Decision {
    match state {
        ContractState::NotInitiated => {
            let now = command.now;
            super::initiate::initiate(command).map(|events| with_invitations(state, events, now))
        }
        ContractState::Created { contract }
        | ContractState::PartiallySigned { contract }
        | ContractState::Signed { contract, .. }
        | ContractState::Rejected { contract, .. }
        | ContractState::Revoked { contract, .. }
        | ContractState::Expired { contract, .. } => {
            Err(ContractError::Duplicate(contract.contract_id.clone()))
        }
    }
}

pub(super) fn issue_sign_link(state: &ContractState, command: IssueSignLink) -> Decision {
    let contract = collecting(state)?;
    if command.now >= contract.expires_at {
        return Err(conflict(ContractConflict::PastDeadline {
            expires_at: contract.expires_at,
        }));
    }
    let signer = signer(contract, &command.party_id)?;
    let ttl = command
        .ttl
        .or(signer.link_expire_minutes)
        .unwrap_or_else(|| command.defaults.for_notify(signer.notify_type));
    let issued = ContractEvent::SignLinkIssued {
        party_id: command.party_id.clone(),
        link_id: command.link.link_id.clone(),
        token_hash: command.link.token_hash.clone(),
        issued_at: command.now,
        expires_at: later(command.now, ttl.duration()).min(contract.expires_at),
    };
    match &signer.status {
        SignerStatus::Pending {
            link: Some(current),
        } if current.link_id == command.link.link_id => {
            // A retried issue of the same link changes nothing; the same id with another token is a bug.
            if current.token_hash.matches(&command.link.token_hash) {
                Ok(Vec::new())
            } else {
                Err(conflict(ContractConflict::LinkIdReused {
                    link_id: command.link.link_id,
                }))
            }
        }
        SignerStatus::Pending { .. } => Ok(with_invitations(state, vec![issued], command.now)),
        SignerStatus::Signed(_) | SignerStatus::Rejected(_) => Err(ContractError::LinkUsed {
            party_id: command.party_id,
            status: signer.sign_status(),
        }),
    }
}

pub(super) fn open_sign_link(state: &ContractState, command: OpenSignLink) -> Decision {
    live_link(state, &command.party_id, &command.link_id, command.now)?;
    Ok(vec![ContractEvent::SignLinkOpened {
        party_id: command.party_id,
        link_id: command.link_id,
        ip_address: command.ip_address,
        user_agent: command.user_agent,
        opened_at: command.now,
    }])
}

pub(super) fn send_sms_code(state: &ContractState, command: SendSmsCode) -> Decision {
    let (_, signer, link) = live_link(state, &command.party_id, &command.link_id, command.now)?;
    uses_check(signer, SignMethod::FaceAndSms, IdentityCheck::Sms)?;
    let sent = ContractEvent::SmsCodeSent {
        party_id: command.party_id,
        link_id: command.link_id,
        code_hash: command.code_hash,
        expires_at: later(command.now, command.policy.ttl),
        sent_at: command.now,
    };
    match &link.sms {
        SmsCheck::NotSent => Ok(vec![sent]),
        // One code per cool-down: a phone is not flooded, and a guessing signer gains nothing by
        // asking again.
        SmsCheck::Sent { sent_at, .. } => {
            let resend_at = later(*sent_at, command.policy.resend_cooldown);
            if command.now < resend_at {
                return Err(conflict(ContractConflict::SmsResendTooSoon { resend_at }));
            }
            Ok(vec![sent])
        }
        // Already verified on this link: there is nothing to send.
        SmsCheck::Verified { .. } => Ok(Vec::new()),
        SmsCheck::Locked { .. } => Err(conflict(ContractConflict::SmsLocked)),
    }
}

pub(super) fn verify_sms_code(state: &ContractState, command: VerifySmsCode) -> Decision {
    let (_, signer, link) = live_link(state, &command.party_id, &command.link_id, command.now)?;
    uses_check(signer, SignMethod::FaceAndSms, IdentityCheck::Sms)?;
    match &link.sms {
        SmsCheck::NotSent => Err(conflict(ContractConflict::NoSmsCodeSent)),
        SmsCheck::Sent {
            code_hash,
            expires_at,
            failed_attempts,
            ..
        } => {
            if command.now >= *expires_at {
                return Err(conflict(ContractConflict::SmsCodeExpired));
            }
            if code_hash.matches(&command.code_hash) {
                return Ok(vec![ContractEvent::SmsCodeVerified {
                    party_id: command.party_id,
                    link_id: command.link_id,
                    verified_at: command.now,
                }]);
            }
            let failed_attempts = failed_attempts.saturating_add(1);
            Ok(vec![ContractEvent::SmsCodeFailed {
                party_id: command.party_id,
                link_id: command.link_id,
                failed_attempts,
                locked: failed_attempts >= command.policy.max_failed_attempts,
                failed_at: command.now,
            }])
        }
        SmsCheck::Verified { .. } => Ok(Vec::new()),
        SmsCheck::Locked { .. } => Err(conflict(ContractConflict::SmsLocked)),
    }
}

/// Spec 4.2.1: only a SUCCESS verification of the signer's own name and ID number counts.
pub(super) fn record_face_verification(
    state: &ContractState,
    command: RecordFaceVerification,
) -> Decision {
    let (_, signer, link) = live_link(state, &command.party_id, &command.link_id, command.now)?;
    uses_check(signer, SignMethod::FaceAndSms, IdentityCheck::Face)?;
    let facts = command.verification;
    let failed = |failure| ContractError::IdentityFailed {
        party_id: signer.party_id.clone(),
        failure,
    };
    if facts.status != VerificationStatus::Success {
        return Err(failed(IdentityFailure::FaceNotPassed(facts.status)));
    }
    let mut fields = Vec::new();
    if facts.name != signer.name {
        fields.push("name");
    }
    if facts.id_card_no != signer.id_card_no {
        fields.push("idCardNo");
    }
    if !fields.is_empty() {
        return Err(failed(IdentityFailure::Mismatch { fields }));
    }
    if link
        .face
        .as_ref()
        .is_some_and(|face| face.verification_id == facts.verification_id)
    {
        return Ok(Vec::new());
    }
    Ok(vec![ContractEvent::SignerFaceVerified {
        party_id: command.party_id,
        link_id: command.link_id,
        verification_id: facts.verification_id,
        verified_at: command.now,
    }])
}

pub(super) fn verify_certificate(state: &ContractState, command: VerifyCertificate) -> Decision {
    let (_, signer, link) = live_link(state, &command.party_id, &command.link_id, command.now)?;
    uses_check(signer, SignMethod::CaCert, IdentityCheck::CaCertificate)?;
    let certificate = command.certificate;
    let failed = |failure| ContractError::IdentityFailed {
        party_id: signer.party_id.clone(),
        failure,
    };
    if command.now < certificate.not_before || command.now >= certificate.not_after {
        return Err(failed(IdentityFailure::CertificateNotValid));
    }
    let mut fields = Vec::new();
    if certificate.subject_name != signer.name {
        fields.push("name");
    }
    if certificate
        .subject_id_card_no
        .as_ref()
        .is_some_and(|id_card_no| id_card_no != &signer.id_card_no)
    {
        fields.push("idCardNo");
    }
    if !fields.is_empty() {
        return Err(failed(IdentityFailure::Mismatch { fields }));
    }
    if link
        .certificate
        .as_ref()
        .is_some_and(|check| check.serial_number == certificate.serial_number)
    {
        return Ok(Vec::new());
    }
    Ok(vec![ContractEvent::SignerCertificateVerified {
        party_id: command.party_id,
        link_id: command.link_id,
        serial_number: certificate.serial_number,
        issuer: certificate.issuer,
        not_before: certificate.not_before,
        not_after: certificate.not_after,
        verified_at: command.now,
    }])
}

/// Needs a live link, everyone with a lower sequence signed (spec 4.2.2), and the checks of the signer's
/// sign method passed through this link (spec 4.1.2 step 3).
pub(super) fn sign(state: &ContractState, command: Sign) -> Decision {
    let (contract, signer, link) =
        live_link(state, &command.party_id, &command.link_id, command.now)?;
    let waiting_for = contract.waiting_before(signer);
    if !waiting_for.is_empty() {
        return Err(conflict(ContractConflict::OutOfOrder {
            party_id: command.party_id,
            waiting_for,
        }));
    }
    let missing = missing_checks(signer.sign_method, link);
    if !missing.is_empty() {
        return Err(ContractError::IdentityFailed {
            party_id: command.party_id,
            failure: IdentityFailure::ChecksMissing(missing),
        });
    }
    if let (SignMethod::CaCert, Some(revision), Some(verified)) = (
        signer.sign_method,
        &command.revision,
        link.certificate.as_ref(),
    ) && (revision.certificate.certificate_serial != verified.serial_number
        || revision.certificate.issuer != verified.issuer)
    {
        return Err(ContractError::IdentityFailed {
            party_id: command.party_id,
            failure: IdentityFailure::OtherCertificate,
        });
    }
    if let (Some(revision), Some(head)) = (&command.revision, contract.document_head())
        && &revision.previous_hash != head
    {
        return Err(conflict(ContractConflict::StaleRevision));
    }
    check_drawing(signer, &command)?;
    let now = command.now;
    let mut events = vec![ContractEvent::SignerSigned {
        party_id: command.party_id,
        link_id: command.link_id,
        signature_image: command.signature_image.map(crate::Sensitive::new),
        signature_image_hash: command.signature_image_hash,
        ip_address: command.ip_address,
        device_info: command.device_info,
        transaction_no: command.transaction_no,
        signed_at: now,
        revision: command.revision,
    }];
    if contract.signed_count() + 1 == contract.signers.len() {
        events.push(ContractEvent::ContractSigned { signed_at: now });
    } else if let ContractState::Created { .. } = state {
        events.push(ContractEvent::ContractPartiallySigned { signed_at: now });
    }
    Ok(with_invitations(state, events, now))
}

/// A drawing (with its hash) exactly when the signer's appearance shows one: a person's
/// signature, or an organisation's seal beside its agent's signature. An organisation signing with
/// its seal alone draws nothing, so nothing drawn is kept for it.
fn check_drawing(signer: &Signer, command: &Sign) -> Result<(), ContractError> {
    let drawn = command.signature_image.is_some() && command.signature_image_hash.is_some();
    let absent = command.signature_image.is_none() && command.signature_image_hash.is_none();
    let message = match (signer.draws_signature(), drawn, absent) {
        (true, true, _) | (false, _, true) => return Ok(()),
        (true, false, _) => "is required: this signer signs by hand",
        (false, _, false) => "must be absent: this organisation signs with its seal alone",
    };
    let mut errors = ValidationErrors::new();
    errors.push("signatureImage", message);
    Err(ContractError::Invalid(errors))
}

/// Spec 4.1.2 step 2 (如配置短信通知，调用消息中心发送签署邀请): `events` plus an
/// `SmsInvitationRequested` for every signer notified by SMS whose turn comes, with a live link, by
/// these events: at initiation for the first sequence, when the sequence before them completes, and
/// with each new link issued on their turn. Requesting it in the transaction that made it due means
/// it is never lost; the service sends after the commit.
fn with_invitations(
    before: &ContractState,
    mut events: Vec<ContractEvent>,
    now: DateTime<Utc>,
) -> Vec<ContractEvent> {
    let mut after = before.clone();
    for event in &events {
        after = super::state::next(after, event);
    }
    let Some(contract) = after.contract() else {
        return events;
    };
    let mut due = Vec::new();
    for signer in &contract.signers {
        let Some(link) = after
            .invitable_link(&signer.party_id)
            .filter(|link| now < link.expires_at)
        else {
            continue;
        };
        let was_invitable = before
            .invitable_link(&signer.party_id)
            .is_some_and(|earlier| earlier.link_id == link.link_id);
        let invited = signer
            .invitation
            .as_ref()
            .is_some_and(|invitation| invitation.link_id == link.link_id);
        if !was_invitable && !invited {
            due.push(ContractEvent::SmsInvitationRequested {
                party_id: signer.party_id.clone(),
                link_id: link.link_id.clone(),
                requested_at: now,
            });
        }
    }
    events.extend(due);
    events
}

/// The signer's invitation for `link_id`, while its text can still serve: the link is the one an
/// invitation may carry now and has not passed its deadline.
fn open_invitation<'a>(
    state: &'a ContractState,
    party_id: &PartyId,
    link_id: &LinkId,
) -> Result<Option<(&'a Invitation, bool)>, ContractError> {
    let contract = state
        .contract()
        .ok_or(ContractError::NotFound(ContractNotFound::Contract))?;
    let signer = signer(contract, party_id)?;
    let Some(invitation) = signer
        .invitation
        .as_ref()
        .filter(|invitation| &invitation.link_id == link_id)
    else {
        return Ok(None);
    };
    let live = state
        .invitable_link(party_id)
        .is_some_and(|link| &link.link_id == link_id);
    Ok(Some((invitation, live)))
}

/// The next attempt of an invitation, only while its link can still be used: a signer who acted, a
/// link replaced or expired, or a contract that ended gets no more texts.
pub(super) fn start_invitation_attempt(
    state: &ContractState,
    command: StartInvitationAttempt,
) -> Decision {
    let Some((invitation, live)) = open_invitation(state, &command.party_id, &command.link_id)?
    else {
        return Ok(Vec::new());
    };
    let unexpired = state
        .invitable_link(&command.party_id)
        .is_some_and(|link| command.now < link.expires_at);
    if !live || !unexpired {
        return Ok(Vec::new());
    }
    Ok(
        match invitation
            .delivery
            .start(command.attempt, command.lease, command.policy, command.now)
        {
            Start::Nothing => Vec::new(),
            Start::Begin {
                attempt,
                previous_lost,
            } => vec![ContractEvent::SmsInvitationAttemptStarted {
                party_id: command.party_id,
                link_id: command.link_id,
                attempt,
                previous_lost,
                started_at: command.now,
            }],
            Start::GiveUp { attempt, reason } => vec![ContractEvent::SmsInvitationFailed {
                party_id: command.party_id,
                link_id: command.link_id,
                attempt,
                sender: None,
                reason,
                retryable: true,
                next_attempt_at: None,
                failed_at: command.now,
            }],
        },
    )
}

/// The sender's answer to the attempt in flight, recorded whatever happened meanwhile (a text that
/// went out is a fact); a failure is retried only while the link can still be used.
pub(super) fn record_invitation_delivery(
    state: &ContractState,
    command: RecordInvitationDelivery,
) -> Decision {
    let Some((invitation, live)) = open_invitation(state, &command.party_id, &command.link_id)?
    else {
        return Ok(Vec::new());
    };
    let recorded = invitation.delivery.record(
        command.attempt,
        command.outcome,
        command.policy,
        live,
        command.now,
    );
    Ok(match recorded {
        None => Vec::new(),
        Some(Recorded::Sent {
            attempt,
            sender,
            message_id,
        }) => vec![ContractEvent::SmsInvitationSent {
            party_id: command.party_id,
            link_id: command.link_id,
            attempt,
            sender,
            message_id,
            sent_at: command.now,
        }],
        Some(Recorded::Failed {
            attempt,
            sender,
            reason,
            retryable,
            next_attempt_at,
        }) => vec![ContractEvent::SmsInvitationFailed {
            party_id: command.party_id,
            link_id: command.link_id,
            attempt,
            sender: Some(sender),
            reason,
            retryable,
            next_attempt_at,
            failed_at: command.now,
        }],
    })
}

/// Any pending signer may reject through a live link, whatever their sequence.
pub(super) fn reject(state: &ContractState, command: Reject) -> Decision {
    live_link(state, &command.party_id, &command.link_id, command.now)?;
    Ok(vec![
        ContractEvent::SignerRejected {
            party_id: command.party_id.clone(),
            link_id: command.link_id,
            reason: command.reason,
            ip_address: command.ip_address,
            rejected_at: command.now,
        },
        ContractEvent::ContractRejected {
            party_id: command.party_id,
            rejected_at: command.now,
        },
    ])
}

pub(super) fn revoke(state: &ContractState, command: Revoke) -> Decision {
    collecting(state)?;
    Ok(vec![ContractEvent::ContractRevoked {
        reason: command.reason,
        operator: command.operator,
        revoked_at: command.now,
    }])
}

/// A forced end is refused where the normal ones are: on a final contract, SIGNED included, whose
/// document and signatures must stay as they are.
pub(super) fn force(state: &ContractState, command: ForceTransition) -> Decision {
    collecting(state)?;
    Ok(vec![ContractEvent::ContractForced {
        status: command.status,
        reason: command.reason,
        operator: command.operator,
        admin: command.admin,
        forced_at: command.now,
    }])
}

pub(super) fn expire(state: &ContractState, command: Expire) -> Decision {
    let contract = collecting(state)?;
    if command.now < contract.expires_at {
        return Err(conflict(ContractConflict::NotYetDue {
            expires_at: contract.expires_at,
        }));
    }
    Ok(vec![ContractEvent::ContractExpired {
        expired_at: contract.expires_at,
    }])
}

/// A link the scheduler found past its deadline dies with an event, so the audit trail shows when it
/// stopped working. A link that is already dead (replaced, used, expired, or its contract final) needs
/// nothing: the scheduler may see stale rows and several instances may race.
pub(super) fn expire_sign_link(state: &ContractState, command: ExpireSignLink) -> Decision {
    let contract = match state {
        ContractState::Created { contract } | ContractState::PartiallySigned { contract } => {
            contract
        }
        ContractState::NotInitiated => return Err(final_error(state)),
        ContractState::Signed { .. }
        | ContractState::Rejected { .. }
        | ContractState::Revoked { .. }
        | ContractState::Expired { .. } => return Ok(Vec::new()),
    };
    let signer = signer(contract, &command.party_id)?;
    match &signer.status {
        SignerStatus::Pending { link: Some(link) } if link.link_id == command.link_id => {
            if command.now < link.expires_at {
                return Err(conflict(ContractConflict::NotYetDue {
                    expires_at: link.expires_at,
                }));
            }
            Ok(vec![ContractEvent::SignLinkExpired {
                party_id: command.party_id,
                link_id: command.link_id,
                expired_at: link.expires_at,
            }])
        }
        SignerStatus::Pending { .. } | SignerStatus::Signed(_) | SignerStatus::Rejected(_) => {
            Ok(Vec::new())
        }
    }
}

pub(super) fn seal_document(state: &ContractState, command: SealDocument) -> Decision {
    match state {
        ContractState::Signed { document: None, .. } => Ok(vec![ContractEvent::DocumentSealed {
            document_hash: command.document_hash,
            content_hash: command.details.content_hash,
            signatures: command.details.signatures,
            timestamp_authority: command.details.timestamp_authority,
            timestamped_at: command.details.timestamped_at,
            document_timestamped_at: command.details.document_timestamped_at,
            document_timestamp_valid_until: command.details.document_timestamp_valid_until,
            sealed_at: command.now,
        }]),
        ContractState::Signed {
            document: Some(document),
            ..
        } => {
            if document.document_hash == command.document_hash {
                Ok(Vec::new())
            } else {
                Err(conflict(ContractConflict::DocumentAlreadySealed))
            }
        }
        ContractState::NotInitiated
        | ContractState::Created { .. }
        | ContractState::PartiallySigned { .. }
        | ContractState::Rejected { .. }
        | ContractState::Revoked { .. }
        | ContractState::Expired { .. } => Err(not_signed(state)),
    }
}

/// A renewal builds on the current file; one that built on an older file (another instance renewed
/// first) is refused, and the same renewal recorded twice is a no-op.
pub(super) fn renew_document_timestamp(
    state: &ContractState,
    command: RenewDocumentTimestamp,
) -> Decision {
    match state {
        ContractState::Signed {
            document: Some(document),
            ..
        } => {
            if document.document_hash == command.document_hash
                || document
                    .earlier
                    .iter()
                    .any(|version| version.document_hash == command.document_hash)
            {
                Ok(Vec::new())
            } else if document.document_hash != command.previous_hash {
                Err(conflict(ContractConflict::StaleDocument))
            } else {
                Ok(vec![ContractEvent::DocumentTimestampRenewed {
                    previous_hash: command.previous_hash,
                    document_hash: command.document_hash,
                    timestamp_authority: command.timestamp_authority,
                    document_timestamped_at: command.timestamped_at,
                    document_timestamp_valid_until: command.valid_until,
                    renewed_at: command.now,
                }])
            }
        }
        ContractState::Signed { document: None, .. } => {
            Err(conflict(ContractConflict::DocumentNotSealed))
        }
        ContractState::NotInitiated
        | ContractState::Created { .. }
        | ContractState::PartiallySigned { .. }
        | ContractState::Rejected { .. }
        | ContractState::Revoked { .. }
        | ContractState::Expired { .. } => Err(not_signed(state)),
    }
}

/// Spec 4.2.5: only SIGNED (and sealed) contracts are archived, with as many providers as wanted; a
/// failed attempt is retried with the same archive id.
pub(super) fn request_archive(state: &ContractState, command: RequestArchive) -> Decision {
    let (document, archives) = match state {
        ContractState::Signed {
            document, archives, ..
        } => (document, archives),
        ContractState::NotInitiated
        | ContractState::Created { .. }
        | ContractState::PartiallySigned { .. }
        | ContractState::Rejected { .. }
        | ContractState::Revoked { .. }
        | ContractState::Expired { .. } => return Err(not_signed(state)),
    };
    let Some(document) = document else {
        return Err(conflict(ContractConflict::DocumentNotSealed));
    };
    if let Some(other) = archives.values().find(|archive| {
        archive.archive_id == command.archive_id && archive.provider != command.provider
    }) {
        return Err(conflict(ContractConflict::ArchiveIdMismatch {
            provider: other.provider,
            archive_id: other.archive_id.clone(),
        }));
    }
    let requested = |attempt| ContractEvent::ArchiveRequested {
        archive_id: command.archive_id.clone(),
        provider: command.provider,
        document_hash: document.document_hash.clone(),
        attempt,
        requested_at: command.now,
    };
    match archives.get(&command.provider) {
        None => Ok(vec![requested(1)]),
        Some(archive) if archive.archive_id != command.archive_id => {
            Err(conflict(ContractConflict::ArchiveIdMismatch {
                provider: archive.provider,
                archive_id: archive.archive_id.clone(),
            }))
        }
        Some(archive) => match archive.state {
            // In flight or done: asking again changes nothing.
            ArchiveState::Pending { .. } | ArchiveState::Succeeded { .. } => Ok(Vec::new()),
            ArchiveState::Failed { .. } => Ok(vec![requested(archive.attempts.saturating_add(1))]),
        },
    }
}

pub(super) fn record_archive_success(
    state: &ContractState,
    command: RecordArchiveSuccess,
) -> Decision {
    let archive = requested_archive(state, command.provider)?;
    match &archive.state {
        ArchiveState::Pending { .. } => Ok(vec![ContractEvent::ArchiveSucceeded {
            archive_id: archive.archive_id.clone(),
            provider: command.provider,
            transaction_no: command.transaction_no,
            certificate_url: command.certificate_url,
            authority: command.authority,
            evidence: command.evidence,
            archived_at: command.now,
        }]),
        ArchiveState::Succeeded { transaction_no, .. }
            if *transaction_no == command.transaction_no =>
        {
            Ok(Vec::new())
        }
        ArchiveState::Succeeded { .. } | ArchiveState::Failed { .. } => {
            Err(conflict(ContractConflict::ArchiveNotPending {
                provider: command.provider,
                status: archive.state.status(),
            }))
        }
    }
}

pub(super) fn record_archive_failure(
    state: &ContractState,
    command: RecordArchiveFailure,
) -> Decision {
    let archive = requested_archive(state, command.provider)?;
    match &archive.state {
        ArchiveState::Pending { .. } => Ok(vec![ContractEvent::ArchiveFailed {
            archive_id: archive.archive_id.clone(),
            provider: command.provider,
            reason: command.reason,
            failed_at: command.now,
        }]),
        ArchiveState::Failed { .. } => Ok(Vec::new()),
        ArchiveState::Succeeded { .. } => Err(conflict(ContractConflict::ArchiveNotPending {
            provider: command.provider,
            status: ArchiveStatus::Success,
        })),
    }
}

/// Spec 6 (50003: 人工介入补存): an operator gives a FAILED record fresh attempts, whether or not the
/// automatic ones are used up. One in flight or done is left alone.
pub(super) fn retry_archive(state: &ContractState, command: RetryArchive) -> Decision {
    let archive = requested_archive(state, command.provider)?;
    match &archive.state {
        ArchiveState::Failed { .. } => Ok(vec![ContractEvent::ArchiveRetryOrdered {
            archive_id: archive.archive_id.clone(),
            provider: command.provider,
            operator: command.operator,
            reason: command.reason,
            attempts_before: archive.attempts,
            ordered_at: command.now,
        }]),
        ArchiveState::Pending { .. } | ArchiveState::Succeeded { .. } => {
            Err(conflict(ContractConflict::ArchiveNotFailed {
                provider: command.provider,
                status: archive.state.status(),
            }))
        }
    }
}

// ---------------------------------------------------------------------------------------------------

fn conflict(conflict: ContractConflict) -> ContractError {
    ContractError::Conflict(conflict)
}

/// The refusal for a contract that is not (or no longer) collecting signatures.
fn final_error(state: &ContractState) -> ContractError {
    match state.status() {
        Some(status) => conflict(ContractConflict::Final(status)),
        None => ContractError::NotFound(ContractNotFound::Contract),
    }
}

/// The refusal for a sealing or archiving step on a contract that is not SIGNED.
fn not_signed(state: &ContractState) -> ContractError {
    match state.status() {
        Some(status @ (ContractStatus::Created | ContractStatus::PartialSigned)) => {
            conflict(ContractConflict::NotSigned(status))
        }
        Some(status) => conflict(ContractConflict::Final(status)),
        None => ContractError::NotFound(ContractNotFound::Contract),
    }
}

/// The contract while it is CREATED or PARTIAL_SIGNED.
fn collecting(state: &ContractState) -> Result<&Contract, ContractError> {
    match state {
        ContractState::Created { contract } | ContractState::PartiallySigned { contract } => {
            Ok(contract)
        }
        ContractState::NotInitiated
        | ContractState::Signed { .. }
        | ContractState::Rejected { .. }
        | ContractState::Revoked { .. }
        | ContractState::Expired { .. } => Err(final_error(state)),
    }
}

/// The archive record of one provider on a SIGNED contract.
fn requested_archive(
    state: &ContractState,
    provider: ArchiveProvider,
) -> Result<&Archive, ContractError> {
    match state {
        ContractState::Signed { archives, .. } => archives
            .get(&provider)
            .ok_or(ContractError::NotFound(ContractNotFound::Archive(provider))),
        ContractState::NotInitiated
        | ContractState::Created { .. }
        | ContractState::PartiallySigned { .. }
        | ContractState::Rejected { .. }
        | ContractState::Revoked { .. }
        | ContractState::Expired { .. } => Err(not_signed(state)),
    }
}

fn signer<'a>(contract: &'a Contract, party_id: &PartyId) -> Result<&'a Signer, ContractError> {
    contract
        .signer(party_id)
        .ok_or_else(|| ContractError::NotFound(ContractNotFound::Signer(party_id.clone())))
}

/// A pending signer reached through their current, unexpired link (spec 4.2.3).
///
/// On a SIGNED contract every link is spent, so a signer gets "already signed" (40005), which is what
/// the H5 page should say. A link is never valid past the contract's deadline: its expiry is capped there.
fn live_link<'a>(
    state: &'a ContractState,
    party_id: &PartyId,
    link_id: &LinkId,
    now: DateTime<Utc>,
) -> Result<(&'a Contract, &'a Signer, &'a SignLink), ContractError> {
    let contract = match state {
        ContractState::Created { contract } | ContractState::PartiallySigned { contract } => {
            contract
        }
        ContractState::Signed { contract, .. } => {
            signer(contract, party_id)?;
            return Err(ContractError::LinkUsed {
                party_id: party_id.clone(),
                status: SignStatus::Signed,
            });
        }
        ContractState::NotInitiated
        | ContractState::Rejected { .. }
        | ContractState::Revoked { .. }
        | ContractState::Expired { .. } => return Err(final_error(state)),
    };
    let signer = signer(contract, party_id)?;
    let expired = || ContractError::LinkExpired {
        party_id: party_id.clone(),
    };
    match &signer.status {
        SignerStatus::Pending { link: Some(link) } => {
            if &link.link_id != link_id || now >= link.expires_at {
                return Err(expired());
            }
            Ok((contract, signer, link))
        }
        SignerStatus::Pending { link: None } => Err(expired()),
        SignerStatus::Signed(_) | SignerStatus::Rejected(_) => Err(ContractError::LinkUsed {
            party_id: party_id.clone(),
            status: signer.sign_status(),
        }),
    }
}

fn uses_check(
    signer: &Signer,
    method: SignMethod,
    check: IdentityCheck,
) -> Result<(), ContractError> {
    if signer.sign_method == method {
        Ok(())
    } else {
        Err(conflict(ContractConflict::CheckNotApplicable {
            sign_method: signer.sign_method,
            check,
        }))
    }
}

fn missing_checks(method: SignMethod, link: &SignLink) -> Vec<IdentityCheck> {
    let mut missing = Vec::new();
    match method {
        SignMethod::FaceAndSms => {
            if link.face.is_none() {
                missing.push(IdentityCheck::Face);
            }
            match link.sms {
                SmsCheck::Verified { .. } => {}
                SmsCheck::NotSent | SmsCheck::Sent { .. } | SmsCheck::Locked { .. } => {
                    missing.push(IdentityCheck::Sms)
                }
            }
        }
        SignMethod::CaCert => {
            if link.certificate.is_none() {
                missing.push(IdentityCheck::CaCertificate);
            }
        }
    }
    missing
}
