//! The Contract's state: a lifecycle enum folded from events, and what each signer has done so far.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::events::{
    ContractEvent, OrganizationSigner, SignaturePlace, SignedRevision, UploadedDocument,
};
use crate::delivery::{Attempt, Delivery};
use crate::template::VariableKey;
use crate::values::{
    ArchiveId, ArchiveProvider, ArchiveStatus, BizId, CertificateSerial, ClientId, ContractBizType,
    ContractId, ContractStatus, DeviceInfo, Digest, IdCardNumber, LinkId, LinkTtl, LongText,
    MobileNumber, NotifyType, Operator, PartyId, PartyType, PersonName, Reason, SealAppearance,
    SignMethod, SignStatus, SignatureImage, TemplateId, TemplateVersion, Title, TransactionNo,
    VerificationId, WebUrl, WebhookHeaders,
};

/// CREATED -> PARTIAL_SIGNED -> SIGNED, or REJECTED / REVOKED / EXPIRED before SIGNED (spec 4.2.4).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum ContractState {
    #[default]
    NotInitiated,
    Created {
        contract: Contract,
    },
    PartiallySigned {
        contract: Contract,
    },
    /// Every signer signed. Sealing and archiving happen here; the status stays SIGNED.
    Signed {
        contract: Contract,
        signed_at: DateTime<Utc>,
        document: Option<SealedDocument>,
        archives: BTreeMap<ArchiveProvider, Archive>,
    },
    Rejected {
        contract: Contract,
        party_id: PartyId,
        rejected_at: DateTime<Utc>,
    },
    Revoked {
        contract: Contract,
        reason: Reason,
        operator: Operator,
        revoked_at: DateTime<Utc>,
    },
    Expired {
        contract: Contract,
        expired_at: DateTime<Utc>,
    },
}

impl ContractState {
    pub fn status(&self) -> Option<ContractStatus> {
        match self {
            ContractState::NotInitiated => None,
            ContractState::Created { .. } => Some(ContractStatus::Created),
            ContractState::PartiallySigned { .. } => Some(ContractStatus::PartialSigned),
            ContractState::Signed { .. } => Some(ContractStatus::Signed),
            ContractState::Rejected { .. } => Some(ContractStatus::Rejected),
            ContractState::Revoked { .. } => Some(ContractStatus::Revoked),
            ContractState::Expired { .. } => Some(ContractStatus::Expired),
        }
    }

    pub fn contract(&self) -> Option<&Contract> {
        match self {
            ContractState::NotInitiated => None,
            ContractState::Created { contract }
            | ContractState::PartiallySigned { contract }
            | ContractState::Signed { contract, .. }
            | ContractState::Rejected { contract, .. }
            | ContractState::Revoked { contract, .. }
            | ContractState::Expired { contract, .. } => Some(contract),
        }
    }

    /// The signer's link an SMS invitation may carry now, regardless of time: the contract still
    /// collects signatures, the signer is notified by SMS, pending with a live link, and nobody of an
    /// earlier sequence is still to sign (spec 4.2.2).
    pub fn invitable_link(&self, party_id: &PartyId) -> Option<&SignLink> {
        let (ContractState::Created { contract } | ContractState::PartiallySigned { contract }) =
            self
        else {
            return None;
        };
        let signer = contract.signer(party_id)?;
        if signer.notify_type != NotifyType::Sms || !contract.waiting_before(signer).is_empty() {
            return None;
        }
        signer.link()
    }

    /// REJECTED, REVOKED and EXPIRED: every later command is refused.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ContractState::Rejected { .. }
                | ContractState::Revoked { .. }
                | ContractState::Expired { .. }
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Contract {
    pub contract_id: ContractId,
    pub client_id: ClientId,
    pub biz_id: BizId,
    pub biz_type: ContractBizType,
    pub title: Title,
    /// What the signers sign.
    pub content: ContractContent,
    /// In request order.
    pub signers: Vec<Signer>,
    pub callback_url: WebUrl,
    pub webhook_headers: WebhookHeaders,
    pub archive_providers: Vec<ArchiveProvider>,
    /// The archive record's id named at initiation, when archiving was asked for.
    pub archive_id: Option<ArchiveId>,
    /// The other providers' record ids, in `archive_providers` order after the first.
    pub other_archive_ids: Vec<ArchiveId>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// Where a contract's document comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum ContractContent {
    /// Rendered from a template version with the request's variables; `preview_hash` is the
    /// hash of the preview rendered at initiation.
    Template {
        template_id: TemplateId,
        template_version: TemplateVersion,
        variables: BTreeMap<VariableKey, String>,
        preview_hash: Digest,
    },
    /// The caller's own PDFs, each with the signers' places (`Signer::places`).
    Uploaded { documents: Vec<UploadedDocument> },
}

impl ContractContent {
    /// The documents the caller uploaded; none for a template contract.
    pub fn uploaded(&self) -> &[UploadedDocument] {
        match self {
            ContractContent::Template { .. } => &[],
            ContractContent::Uploaded { documents } => documents,
        }
    }
}

impl Contract {
    /// The record id fixed at initiation for `provider`, if it was (contracts initiated before
    /// every provider got one leave the later ones to be named when they are requested).
    pub fn archive_id_for(&self, provider: ArchiveProvider) -> Option<&ArchiveId> {
        let index = self
            .archive_providers
            .iter()
            .position(|asked| *asked == provider)?;
        match index {
            0 => self.archive_id.as_ref(),
            _ => self.other_archive_ids.get(index - 1),
        }
    }

    pub fn signer(&self, party_id: &PartyId) -> Option<&Signer> {
        self.signers
            .iter()
            .find(|signer| &signer.party_id == party_id)
    }

    fn signer_mut(&mut self, party_id: &PartyId) -> Option<&mut Signer> {
        self.signers
            .iter_mut()
            .find(|signer| &signer.party_id == party_id)
    }

    /// The SHA-256 of the document as the signers' signatures have grown it: the latest signed
    /// revision, or `None` before the first signature made at the signer's moment.
    pub fn document_head(&self) -> Option<&Digest> {
        let revisions: Vec<&SignedRevision> = self
            .signers
            .iter()
            .filter_map(|signer| match &signer.status {
                SignerStatus::Signed(Signature {
                    revision: Some(revision),
                    ..
                }) => Some(revision),
                _ => None,
            })
            .collect();
        // The revisions form one chain (each signature builds on the head): the head is the one
        // nothing builds on.
        revisions
            .iter()
            .find(|tip| {
                !revisions
                    .iter()
                    .any(|other| other.previous_hash == tip.document_hash)
            })
            .map(|tip| &tip.document_hash)
    }

    pub fn signed_count(&self) -> usize {
        self.signers
            .iter()
            .filter(|signer| matches!(signer.status, SignerStatus::Signed(_)))
            .count()
    }

    /// The signers with a lower sequence who have not signed yet: while there are any, `signer` must
    /// wait (spec 4.2.2; equal sequences sign in parallel).
    pub fn waiting_before(&self, signer: &Signer) -> Vec<PartyId> {
        self.signers
            .iter()
            .filter(|other| {
                other.sequence < signer.sequence && !matches!(other.status, SignerStatus::Signed(_))
            })
            .map(|other| other.party_id.clone())
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Signer {
    pub party_id: PartyId,
    pub party_type: PartyType,
    pub name: PersonName,
    pub id_card_no: IdCardNumber,
    pub mobile: MobileNumber,
    pub sign_method: SignMethod,
    pub notify_type: NotifyType,
    pub sequence: u32,
    /// The lifetime asked for this signer's links; `None` takes the configured default.
    pub link_expire_minutes: Option<LinkTtl>,
    /// The organisation this person signs for, when they sign for one.
    pub organization: Option<OrganizationSigner>,
    /// Where they sign on the uploaded documents (none for a template contract).
    pub places: Vec<SignaturePlace>,
    pub status: SignerStatus,
    /// The latest SMS invitation (notify type SMS only), kept after the signer acts so a late
    /// outcome is still recorded.
    pub invitation: Option<Invitation>,
}

/// An SMS invitation for one of the signer's links and how its delivery stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Invitation {
    pub link_id: LinkId,
    pub delivery: Delivery,
}

impl Signer {
    /// Whether signing asks this signer to draw a handwritten signature: a person always; an
    /// organisation only when its appearance shows one beside the seal.
    pub fn draws_signature(&self) -> bool {
        self.organization.as_ref().is_none_or(|organization| {
            organization.appearance == SealAppearance::SealAndHandwritten
        })
    }

    pub fn sign_status(&self) -> SignStatus {
        match self.status {
            SignerStatus::Pending { .. } => SignStatus::Pending,
            SignerStatus::Signed(_) => SignStatus::Signed,
            SignerStatus::Rejected(_) => SignStatus::Rejected,
        }
    }

    /// The live link's record, when the signer is pending and has one.
    pub fn link(&self) -> Option<&SignLink> {
        match &self.status {
            SignerStatus::Pending { link } => link.as_ref(),
            SignerStatus::Signed(_) | SignerStatus::Rejected(_) => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum SignerStatus {
    /// Not yet decided; `link` is the only link that works (re-issuing replaces it).
    Pending {
        link: Option<SignLink>,
    },
    Signed(Signature),
    Rejected(Rejection),
}

/// A signer's current link and the identity checks passed through it. Checks belong to the link: a
/// re-issued link starts again, so whoever holds the new link proves again who they are.
#[derive(Clone, Debug, PartialEq)]
pub struct SignLink {
    pub link_id: LinkId,
    pub token_hash: Digest,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub first_opened_at: Option<DateTime<Utc>>,
    pub sms: SmsCheck,
    pub face: Option<FaceCheck>,
    pub certificate: Option<CertificateCheck>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SmsCheck {
    NotSent,
    /// A code is out; `failed_attempts` counts wrong codes on this link, across resent codes.
    Sent {
        code_hash: Digest,
        expires_at: DateTime<Utc>,
        failed_attempts: u32,
        /// When this code went out: the next may follow after the resend cool-down.
        sent_at: DateTime<Utc>,
    },
    Verified {
        verified_at: DateTime<Utc>,
    },
    /// Too many wrong codes: SMS checks on this link are over; only a new link starts again.
    Locked {
        failed_attempts: u32,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct FaceCheck {
    pub verification_id: VerificationId,
    pub verified_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CertificateCheck {
    pub serial_number: CertificateSerial,
    pub issuer: LongText,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub verified_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    pub link_id: LinkId,
    /// `None` for signatures recorded before images were kept, and when nothing was drawn (an
    /// organisation signing with its seal alone).
    pub signature_image: Option<SignatureImage>,
    /// `None` exactly when nothing was drawn.
    pub signature_image_hash: Option<Digest>,
    pub ip_address: IpAddr,
    pub device_info: DeviceInfo,
    pub transaction_no: TransactionNo,
    pub signed_at: DateTime<Utc>,
    /// The document revision the signature was made in (absent when it was made at sealing).
    pub revision: Option<SignedRevision>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    pub link_id: LinkId,
    pub reason: Reason,
    pub ip_address: IpAddr,
    pub rejected_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SealedDocument {
    /// The current file: the sealed one, or its latest renewal.
    pub document_hash: Digest,
    /// The SHA-256 of the unsigned first revision (absent in events written before it was kept).
    pub content_hash: Option<Digest>,
    pub sealed_at: DateTime<Utc>,
    /// The files this one grew from by renewals, oldest (the sealed one) first.
    pub earlier: Vec<DocumentVersion>,
    /// The time the last document timestamp proves, and when its authority's certificate expires.
    pub document_timestamped_at: Option<DateTime<Utc>>,
    pub document_timestamp_valid_until: Option<DateTime<Utc>>,
}

/// A file a sealed document grew from.
#[derive(Clone, Debug, PartialEq)]
pub struct DocumentVersion {
    pub document_hash: Digest,
    /// The time its last document timestamp proves, and when that timestamp's TSA certificate
    /// expires.
    pub document_timestamped_at: Option<DateTime<Utc>>,
    pub document_timestamp_valid_until: Option<DateTime<Utc>>,
}

/// One provider's archive record (`contract_archive`, unique per contract and provider).
#[derive(Clone, Debug, PartialEq)]
pub struct Archive {
    pub archive_id: ArchiveId,
    pub provider: ArchiveProvider,
    pub document_hash: Digest,
    pub attempts: u32,
    pub state: ArchiveState,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ArchiveState {
    Pending {
        requested_at: DateTime<Utc>,
    },
    Succeeded {
        transaction_no: TransactionNo,
        certificate_url: Option<LongText>,
        authority: Option<LongText>,
        evidence: Option<serde_json::Value>,
        archived_at: DateTime<Utc>,
    },
    Failed {
        reason: Reason,
        failed_at: DateTime<Utc>,
    },
}

impl ArchiveState {
    pub fn status(&self) -> ArchiveStatus {
        match self {
            ArchiveState::Pending { .. } => ArchiveStatus::Pending,
            ArchiveState::Succeeded { .. } => ArchiveStatus::Success,
            ArchiveState::Failed { .. } => ArchiveStatus::Failed,
        }
    }
}

/// What a `ContractInitiated` says the signers sign: a template version or uploaded documents,
/// never both (`None` for an event that has neither or both, which no valid stream holds).
fn initiated_content(
    template_id: &Option<TemplateId>,
    template_version: &Option<TemplateVersion>,
    variables: &BTreeMap<VariableKey, String>,
    preview_hash: &Option<Digest>,
    documents: &[UploadedDocument],
) -> Option<ContractContent> {
    match (
        template_id,
        template_version,
        preview_hash,
        documents.is_empty(),
    ) {
        (Some(template_id), Some(template_version), Some(preview_hash), true) => {
            Some(ContractContent::Template {
                template_id: template_id.clone(),
                template_version: template_version.clone(),
                variables: variables.clone(),
                preview_hash: preview_hash.clone(),
            })
        }
        (None, None, None, false) => Some(ContractContent::Uploaded {
            documents: documents.to_vec(),
        }),
        _ => None,
    }
}

/// The state after one event. Events are facts: one that does not fit the state (which a valid stream
/// never contains) leaves the state as it was.
pub(super) fn next(state: ContractState, event: &ContractEvent) -> ContractState {
    match event {
        ContractEvent::ContractInitiated {
            contract_id,
            client_id,
            biz_id,
            biz_type,
            template_id,
            template_version,
            title,
            variables,
            preview_hash,
            documents,
            signers,
            callback_url,
            webhook_headers,
            archive_providers,
            archive_id,
            other_archive_ids,
            expires_at,
            created_at,
        } => match (
            state,
            initiated_content(
                template_id,
                template_version,
                variables,
                preview_hash,
                documents,
            ),
        ) {
            (ContractState::NotInitiated, Some(content)) => ContractState::Created {
                contract: Contract {
                    contract_id: contract_id.clone(),
                    client_id: client_id.clone(),
                    biz_id: biz_id.clone(),
                    biz_type: *biz_type,
                    title: title.clone(),
                    content,
                    signers: signers
                        .iter()
                        .map(|entry| Signer {
                            party_id: entry.party_id.clone(),
                            party_type: entry.party_type,
                            name: entry.name.expose().clone(),
                            id_card_no: entry.id_card_no.expose().clone(),
                            mobile: entry.mobile.expose().clone(),
                            sign_method: entry.sign_method,
                            notify_type: entry.notify_type,
                            sequence: entry.sequence,
                            link_expire_minutes: entry.link_expire_minutes,
                            organization: entry.organization.clone(),
                            places: entry.places.clone(),
                            status: SignerStatus::Pending { link: None },
                            invitation: None,
                        })
                        .collect(),
                    callback_url: callback_url.clone(),
                    webhook_headers: webhook_headers.clone(),
                    archive_providers: archive_providers.clone(),
                    archive_id: archive_id.clone(),
                    other_archive_ids: other_archive_ids.clone(),
                    expires_at: *expires_at,
                    created_at: *created_at,
                },
            },
            (other, _) => other,
        },
        ContractEvent::SignLinkIssued {
            party_id,
            link_id,
            token_hash,
            issued_at,
            expires_at,
        } => edit_signer(state, party_id, |signer| {
            if let SignerStatus::Pending { link } = &mut signer.status {
                *link = Some(SignLink {
                    link_id: link_id.clone(),
                    token_hash: token_hash.clone(),
                    issued_at: *issued_at,
                    expires_at: *expires_at,
                    first_opened_at: None,
                    sms: SmsCheck::NotSent,
                    face: None,
                    certificate: None,
                });
            }
        }),
        ContractEvent::SignLinkExpired {
            party_id, link_id, ..
        } => edit_signer(state, party_id, |signer| {
            if let SignerStatus::Pending { link } = &mut signer.status
                && link.as_ref().is_some_and(|live| &live.link_id == link_id)
            {
                *link = None;
            }
        }),
        ContractEvent::SignLinkOpened {
            party_id,
            link_id,
            opened_at,
            ..
        } => edit_link(state, party_id, link_id, |link| {
            link.first_opened_at.get_or_insert(*opened_at);
        }),
        ContractEvent::SmsCodeSent {
            party_id,
            link_id,
            code_hash,
            expires_at,
            sent_at,
        } => edit_link(state, party_id, link_id, |link| {
            let failed_attempts = match link.sms {
                SmsCheck::Sent {
                    failed_attempts, ..
                } => failed_attempts,
                SmsCheck::NotSent | SmsCheck::Verified { .. } | SmsCheck::Locked { .. } => 0,
            };
            link.sms = SmsCheck::Sent {
                code_hash: code_hash.clone(),
                expires_at: *expires_at,
                failed_attempts,
                sent_at: *sent_at,
            };
        }),
        ContractEvent::SmsCodeVerified {
            party_id,
            link_id,
            verified_at,
        } => edit_link(state, party_id, link_id, |link| {
            link.sms = SmsCheck::Verified {
                verified_at: *verified_at,
            };
        }),
        ContractEvent::SmsCodeFailed {
            party_id,
            link_id,
            failed_attempts,
            locked,
            ..
        } => edit_link(state, party_id, link_id, |link| {
            if *locked {
                link.sms = SmsCheck::Locked {
                    failed_attempts: *failed_attempts,
                };
            } else if let SmsCheck::Sent {
                failed_attempts: count,
                ..
            } = &mut link.sms
            {
                *count = *failed_attempts;
            }
        }),
        ContractEvent::SignerFaceVerified {
            party_id,
            link_id,
            verification_id,
            verified_at,
        } => edit_link(state, party_id, link_id, |link| {
            link.face = Some(FaceCheck {
                verification_id: verification_id.clone(),
                verified_at: *verified_at,
            });
        }),
        ContractEvent::SignerCertificateVerified {
            party_id,
            link_id,
            serial_number,
            issuer,
            not_before,
            not_after,
            verified_at,
        } => edit_link(state, party_id, link_id, |link| {
            link.certificate = Some(CertificateCheck {
                serial_number: serial_number.clone(),
                issuer: issuer.clone(),
                not_before: *not_before,
                not_after: *not_after,
                verified_at: *verified_at,
            });
        }),
        ContractEvent::SignerSigned {
            party_id,
            link_id,
            signature_image,
            signature_image_hash,
            ip_address,
            device_info,
            transaction_no,
            signed_at,
            revision,
        } => edit_signer(state, party_id, |signer| {
            signer.status = SignerStatus::Signed(Signature {
                link_id: link_id.clone(),
                signature_image: signature_image.as_ref().map(|image| image.expose().clone()),
                signature_image_hash: signature_image_hash.clone(),
                ip_address: *ip_address,
                device_info: device_info.clone(),
                transaction_no: transaction_no.clone(),
                signed_at: *signed_at,
                revision: revision.clone(),
            });
        }),
        ContractEvent::SignerRejected {
            party_id,
            link_id,
            reason,
            ip_address,
            rejected_at,
        } => edit_signer(state, party_id, |signer| {
            signer.status = SignerStatus::Rejected(Rejection {
                link_id: link_id.clone(),
                reason: reason.clone(),
                ip_address: *ip_address,
                rejected_at: *rejected_at,
            });
        }),
        ContractEvent::ContractPartiallySigned { .. } => match state {
            ContractState::Created { contract } => ContractState::PartiallySigned { contract },
            other => other,
        },
        ContractEvent::ContractSigned { signed_at } => match state {
            ContractState::Created { contract } | ContractState::PartiallySigned { contract } => {
                ContractState::Signed {
                    contract,
                    signed_at: *signed_at,
                    document: None,
                    archives: BTreeMap::new(),
                }
            }
            other => other,
        },
        ContractEvent::ContractRejected {
            party_id,
            rejected_at,
        } => match state {
            ContractState::Created { contract } | ContractState::PartiallySigned { contract } => {
                ContractState::Rejected {
                    contract,
                    party_id: party_id.clone(),
                    rejected_at: *rejected_at,
                }
            }
            other => other,
        },
        ContractEvent::ContractRevoked {
            reason,
            operator,
            revoked_at,
        } => match state {
            ContractState::Created { contract } | ContractState::PartiallySigned { contract } => {
                ContractState::Revoked {
                    contract,
                    reason: reason.clone(),
                    operator: operator.clone(),
                    revoked_at: *revoked_at,
                }
            }
            other => other,
        },
        ContractEvent::ContractForced {
            status,
            reason,
            operator,
            forced_at,
            ..
        } => match (state, status) {
            (
                ContractState::Created { contract } | ContractState::PartiallySigned { contract },
                super::ForcedStatus::Revoked,
            ) => ContractState::Revoked {
                contract,
                reason: reason.clone(),
                operator: operator.clone(),
                revoked_at: *forced_at,
            },
            (
                ContractState::Created { contract } | ContractState::PartiallySigned { contract },
                super::ForcedStatus::Expired,
            ) => ContractState::Expired {
                contract,
                expired_at: *forced_at,
            },
            (other, _) => other,
        },
        ContractEvent::ContractExpired { expired_at } => match state {
            ContractState::Created { contract } | ContractState::PartiallySigned { contract } => {
                ContractState::Expired {
                    contract,
                    expired_at: *expired_at,
                }
            }
            other => other,
        },
        ContractEvent::DocumentSealed {
            document_hash,
            content_hash,
            document_timestamped_at,
            document_timestamp_valid_until,
            sealed_at,
            ..
        } => match state {
            ContractState::Signed {
                contract,
                signed_at,
                document: None,
                archives,
            } => ContractState::Signed {
                contract,
                signed_at,
                document: Some(SealedDocument {
                    document_hash: document_hash.clone(),
                    content_hash: content_hash.clone(),
                    sealed_at: *sealed_at,
                    earlier: Vec::new(),
                    document_timestamped_at: *document_timestamped_at,
                    document_timestamp_valid_until: *document_timestamp_valid_until,
                }),
                archives,
            },
            other => other,
        },
        ContractEvent::DocumentTimestampRenewed {
            previous_hash,
            document_hash,
            document_timestamped_at,
            document_timestamp_valid_until,
            ..
        } => match state {
            ContractState::Signed {
                contract,
                signed_at,
                document: Some(mut document),
                archives,
            } if &document.document_hash == previous_hash => {
                let earlier = std::mem::replace(&mut document.document_hash, document_hash.clone());
                document.earlier.push(DocumentVersion {
                    document_hash: earlier,
                    document_timestamped_at: document.document_timestamped_at,
                    document_timestamp_valid_until: document.document_timestamp_valid_until,
                });
                document.document_timestamped_at = Some(*document_timestamped_at);
                document.document_timestamp_valid_until = *document_timestamp_valid_until;
                ContractState::Signed {
                    contract,
                    signed_at,
                    document: Some(document),
                    archives,
                }
            }
            other => other,
        },
        ContractEvent::ArchiveRequested {
            archive_id,
            provider,
            document_hash,
            attempt,
            requested_at,
        } => edit_archives(state, |archives| {
            archives.insert(
                *provider,
                Archive {
                    archive_id: archive_id.clone(),
                    provider: *provider,
                    document_hash: document_hash.clone(),
                    attempts: *attempt,
                    state: ArchiveState::Pending {
                        requested_at: *requested_at,
                    },
                },
            );
        }),
        ContractEvent::ArchiveSucceeded {
            provider,
            transaction_no,
            certificate_url,
            authority,
            evidence,
            archived_at,
            ..
        } => edit_archives(state, |archives| {
            if let Some(archive) = archives.get_mut(provider) {
                archive.state = ArchiveState::Succeeded {
                    transaction_no: transaction_no.clone(),
                    certificate_url: certificate_url.clone(),
                    authority: authority.clone(),
                    evidence: evidence.clone(),
                    archived_at: *archived_at,
                };
            }
        }),
        ContractEvent::SmsInvitationRequested {
            party_id,
            link_id,
            requested_at,
        } => edit_any_signer(state, party_id, |signer| {
            signer.invitation = Some(Invitation {
                link_id: link_id.clone(),
                delivery: Delivery::requested(*requested_at),
            });
        }),
        ContractEvent::SmsInvitationAttemptStarted {
            party_id,
            link_id,
            attempt,
            started_at,
            ..
        } => edit_invitation(state, party_id, link_id, |delivery| {
            *delivery = Delivery::InFlight(Attempt {
                number: *attempt,
                started_at: *started_at,
            });
        }),
        ContractEvent::SmsInvitationSent {
            party_id,
            link_id,
            attempt,
            sender,
            message_id,
            sent_at,
        } => edit_invitation(state, party_id, link_id, |delivery| {
            *delivery = Delivery::Sent {
                attempt: *attempt,
                sender: sender.clone(),
                message_id: message_id.clone(),
                sent_at: *sent_at,
            };
        }),
        ContractEvent::SmsInvitationFailed {
            party_id,
            link_id,
            attempt,
            sender,
            reason,
            retryable,
            next_attempt_at,
            failed_at,
        } => edit_invitation(state, party_id, link_id, |delivery| {
            *delivery = Delivery::Failed {
                attempt: *attempt,
                sender: sender.clone(),
                reason: reason.clone(),
                retryable: *retryable,
                next_attempt_at: *next_attempt_at,
                failed_at: *failed_at,
            };
        }),
        ContractEvent::ArchiveFailed {
            provider,
            reason,
            failed_at,
            ..
        } => edit_archives(state, |archives| {
            if let Some(archive) = archives.get_mut(provider) {
                archive.state = ArchiveState::Failed {
                    reason: reason.clone(),
                    failed_at: *failed_at,
                };
            }
        }),
        // The record stays FAILED with its reason until the attempt the order makes room for.
        ContractEvent::ArchiveRetryOrdered { provider, .. } => edit_archives(state, |archives| {
            if let Some(archive) = archives.get_mut(provider) {
                archive.attempts = 0;
            }
        }),
    }
}

/// Changes one signer of a contract still collecting signatures.
fn edit_signer(
    mut state: ContractState,
    party_id: &PartyId,
    change: impl FnOnce(&mut Signer),
) -> ContractState {
    if let ContractState::Created { contract } | ContractState::PartiallySigned { contract } =
        &mut state
        && let Some(signer) = contract.signer_mut(party_id)
    {
        change(signer);
    }
    state
}

/// Changes a pending signer's link, if `link_id` is still the live one.
fn edit_link(
    state: ContractState,
    party_id: &PartyId,
    link_id: &LinkId,
    change: impl FnOnce(&mut SignLink),
) -> ContractState {
    edit_signer(state, party_id, |signer| {
        if let SignerStatus::Pending { link: Some(link) } = &mut signer.status
            && &link.link_id == link_id
        {
            change(link);
        }
    })
}

/// Changes one signer whatever the contract's state: an invitation's outcome is a fact even when it
/// arrives after the signer acted or the contract ended.
fn edit_any_signer(
    mut state: ContractState,
    party_id: &PartyId,
    change: impl FnOnce(&mut Signer),
) -> ContractState {
    let contract = match &mut state {
        ContractState::NotInitiated => return state,
        ContractState::Created { contract }
        | ContractState::PartiallySigned { contract }
        | ContractState::Signed { contract, .. }
        | ContractState::Rejected { contract, .. }
        | ContractState::Revoked { contract, .. }
        | ContractState::Expired { contract, .. } => contract,
    };
    if let Some(signer) = contract.signer_mut(party_id) {
        change(signer);
    }
    state
}

/// Changes the delivery of the signer's invitation, if it is the one for `link_id`.
fn edit_invitation(
    state: ContractState,
    party_id: &PartyId,
    link_id: &LinkId,
    change: impl FnOnce(&mut Delivery),
) -> ContractState {
    edit_any_signer(state, party_id, |signer| {
        if let Some(invitation) = &mut signer.invitation
            && &invitation.link_id == link_id
        {
            change(&mut invitation.delivery);
        }
    })
}

fn edit_archives(
    mut state: ContractState,
    change: impl FnOnce(&mut BTreeMap<ArchiveProvider, Archive>),
) -> ContractState {
    if let ContractState::Signed { archives, .. } = &mut state {
        change(archives);
    }
    state
}
