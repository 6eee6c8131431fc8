//! From SIGNED to a sealed, archived document (spec 4.1.2 steps 3-4, 4.1.3, 4.2.5).
//!
//! When a contract becomes SIGNED a background job (on every instance; on PostgreSQL one at a time)
//! closes its document: the signers' signatures were made each at their own moment, in incremental
//! revisions of the document fixed at initiation (see [`super::revisions`]); sealing appends the
//! platform seal with an RFC 3161 signature timestamp (B-T), the validation data of every signature
//! and then a document timestamp over the whole (B-LTA, see [`super::long_term_validation`]), and
//! records the final hash in `DocumentSealed`. A signer whose `SignerSigned` carries no
//! revision (recorded before signatures were made at the signer's moment) is signed here, with a
//! certificate issued now. The file is stored encrypted under a key that names its hash, so two
//! instances that raced can never overwrite each other's bytes; only the one whose `DocumentSealed`
//! committed is ever served.
//!
//! Archiving follows, per provider the caller asked for: `ArchiveRequested`, then the provider, then
//! `ArchiveSucceeded` (with its callback and an archive certificate) or `ArchiveFailed` (50003; the
//! contract stays SIGNED). Failed records are retried with growing delays, and a record left pending
//! by an instance that stopped is taken up again after a lease.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use aggregates::Aggregate;
use aggregates::contract::{
    Contract, ContractAggregate, ContractCommand, ContractContent, ContractError, ContractState,
    SealDetails, SealDocument, SignerStatus,
};
use aggregates::template::{TemplateAggregate, VariableKey};
use aggregates::values::{ContentType, TemplateId, TemplateVersion};
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

use super::archiving::{self, ArchiveOutcome};
use super::long_term_validation::{self, ClosingError, TimestampField};
use super::revisions::{self, SigningFacts, digest, long_text};
use super::{Services, system_metadata};
use crate::app::pipeline::CommandError;
use crate::documents::contract::{
    ContractDocument, DOCUMENT_TIMESTAMP_FIELD, OrganizationFacts, SignerFacts, contract_layout,
};
use crate::documents::pdf::{self, RenderedPdf};
use crate::documents::seal::{SealError, signature_field};
use crate::documents::sign::SignError;
use crate::documents::storage::{DocumentStoreError, sha256_hex};
use crate::store::query_tables::RowView;
use crate::store::{StoreError, StreamId, advisory};
use crate::trust::ca::CaError;

/// The advisory lock key of the sealing sweep ("esign" + job 2).
const SWEEP_LOCK_KEY: i64 = 0x6573_6967_6e00_0002;
/// Contracts sealed per query; the sweep loops until none is left.
const BATCH: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    #[error("no platform CA is configured: run `esign ca init` (documents cannot be sealed)")]
    NoCa,
    #[error("the contract {0} is not SIGNED")]
    NotSigned(String),
    #[error("the contract's template version is gone: {0}")]
    Template(String),
    #[error("the document cannot be rendered: {0}")]
    Render(#[from] pdf::PdfError),
    #[error("the document cannot be signed: {0}")]
    Sign(#[from] SignError),
    #[error("a certificate cannot be issued: {0}")]
    Ca(#[from] CaError),
    #[error("the document cannot be stored: {0}")]
    Storage(#[from] DocumentStoreError),
    #[error(transparent)]
    Command(#[from] CommandError<ContractError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("the document cannot be closed for long-term validation: {0}")]
    Closing(#[from] ClosingError),
    #[error("the uploaded document cannot be rebuilt: {0}")]
    Upload(#[from] super::uploaded_documents::FirstRevisionError),
    #[error("a recorded value does not fit: {0}")]
    Value(String),
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub sealed: u64,
    pub archived: u64,
    pub archive_failures: u64,
    /// Sealed documents closed again with a new document timestamp.
    pub renewed: u64,
    pub errors: u64,
    /// Another instance was sweeping.
    pub skipped: bool,
}

pub(crate) fn contract_stream(contract_id: &str) -> StreamId {
    StreamId::new(ContractAggregate::NAME, contract_id)
}

/// Where a sealed contract's document is stored: the key names its hash.
pub fn document_storage_key(contract_id: &str, sha256_hex: &str) -> String {
    format!("contracts/{contract_id}/{sha256_hex}.pdf")
}

/// Where an archive certificate is stored.
pub fn certificate_storage_key(archive_id: &str, sha256_hex: &str) -> String {
    format!("archives/{archive_id}/{sha256_hex}.pdf")
}

/// Runs [`sweep`] every `interval`, and at once when [`Services::sealing`] is woken (a contract
/// just became SIGNED), until the task is aborted.
pub fn spawn(state: Services, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = state.sealing.notified() => {}
            }
            match sweep(&state, Utc::now()).await {
                Ok(report)
                    if report.sealed
                        + report.archived
                        + report.archive_failures
                        + report.renewed
                        > 0 =>
                {
                    tracing::info!(?report, "sealing sweep");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "sealing sweep failed; retrying next tick"),
            }
        }
    })
}

/// Seals every SIGNED contract without a document, renews the document timestamps that are due
/// (see [`long_term_validation::renew_due`]), then requests, retries and runs what archiving is due
/// at `now`.
pub async fn sweep(state: &Services, now: DateTime<Utc>) -> Result<SweepReport, SealingError> {
    let Some(lock) = advisory::try_lock(&state.store, SWEEP_LOCK_KEY).await? else {
        return Ok(SweepReport {
            skipped: true,
            ..SweepReport::default()
        });
    };
    let result = sweep_locked(state, now).await;
    lock.release().await;
    result
}

async fn sweep_locked(state: &Services, now: DateTime<Utc>) -> Result<SweepReport, SealingError> {
    let mut report = SweepReport::default();
    let mut pass = Pass::default();
    loop {
        let due = state.store.contracts().awaiting_seal(BATCH as u32).await?;
        let fresh = pass.take(&due);
        if fresh.is_empty() {
            break;
        }
        for contract_id in fresh {
            if let Err(error) = seal(state, &contract_id, now).await {
                tracing::error!(%contract_id, %error, "cannot seal the signed contract");
                state.metrics.sealing("error");
                report.errors += 1;
            } else {
                report.sealed += 1;
            }
        }
        if due.len() < BATCH {
            break;
        }
    }
    let renewals = long_term_validation::renew_due(state, now).await?;
    report.renewed = renewals.renewed;
    report.errors += renewals.errors;
    for contract_id in archiving::archives_to_request(state).await? {
        if let Err(error) = archiving::request_archives(state, &contract_id, now).await {
            tracing::error!(%contract_id, %error, "cannot request archiving");
            report.errors += 1;
        }
    }
    for (contract_id, provider) in archiving::archives_due(state, now).await? {
        match archiving::run_archive(state, &contract_id, provider, now).await {
            Ok(ArchiveOutcome::Archived) => report.archived += 1,
            Ok(ArchiveOutcome::Failed) => report.archive_failures += 1,
            Ok(ArchiveOutcome::NothingToDo) => {}
            Err(error) => {
                tracing::error!(%contract_id, provider = provider.as_str(), %error, "archiving step failed");
                report.errors += 1;
            }
        }
    }
    match super::result_archiving::sweep(state, now).await {
        Ok(results) => {
            report.archived += results.archived;
            report.archive_failures += results.failed;
            report.errors += results.errors;
        }
        Err(error) => {
            tracing::error!(%error, "cannot look for face results to archive");
            report.errors += 1;
        }
    }
    Ok(report)
}

/// The contracts one sweep has taken, so each is taken once per sweep: one that could not be
/// finished stays due and is taken again by the next sweep, not by this one.
#[derive(Debug, Default)]
pub(super) struct Pass {
    taken: HashSet<String>,
}

impl Pass {
    /// The `contract_id`s of `due` this pass has not taken yet, now taken; empty when the batch
    /// brings none.
    pub(super) fn take(&mut self, due: &[RowView]) -> Vec<String> {
        due.iter()
            .map(|row| row.required_text("contract_id").to_owned())
            .filter(|id| self.taken.insert(id.clone()))
            .collect()
    }
}

/// The contract's document as fixed at initiation: the unsigned first revision.
#[derive(Debug)]
pub struct ContentDocument {
    pub rendered: RenderedPdf,
    pub sha256: [u8; 32],
}

/// Renders the contract's first revision from its initiation facts alone (the contract stream and
/// its template version): nothing a signer does later changes it. Public so verification can render
/// it again and compare.
pub async fn render_content(
    state: &Services,
    contract: &Contract,
) -> Result<ContentDocument, SealingError> {
    let (template_id, template_version, variables, preview_hash) = match &contract.content {
        ContractContent::Template {
            template_id,
            template_version,
            variables,
            preview_hash,
        } => (template_id, template_version, variables, preview_hash),
        // One document per contract so far: the first is the contract's document.
        ContractContent::Uploaded { .. } => {
            let rendered = super::uploaded_documents::first_revision(state, contract, 1).await?;
            let sha256 = Sha256::digest(&rendered.bytes).into();
            return Ok(ContentDocument { rendered, sha256 });
        }
    };
    let template_blocks = template_blocks(state, template_id, template_version, variables).await?;
    let mut signers: Vec<&aggregates::contract::Signer> = contract.signers.iter().collect();
    signers.sort_by_key(|signer| signer.sequence);
    let signers = signers
        .into_iter()
        .map(|signer| SignerFacts {
            party_id: signer.party_id.to_string(),
            name: signer.name.to_string(),
            masked_id_card: signer.id_card_no.masked(),
            sign_method: signer.sign_method.as_str().to_owned(),
            party_type: signer.party_type.as_str().to_owned(),
            organization: signer
                .organization
                .as_ref()
                .map(|organization| OrganizationFacts {
                    name: organization.name.to_string(),
                    credit_code: organization.credit_code.to_string(),
                    agent_role: organization.agent_role.as_str().to_owned(),
                }),
        })
        .collect();
    let document = ContractDocument {
        contract_id: contract.contract_id.to_string(),
        title: contract.title.to_string(),
        template_blocks,
        signers,
        content_hash_hex: preview_hash.as_hex().to_owned(),
        verify_url: verify_url(state, contract.contract_id.as_str()),
    };
    let layout =
        contract_layout(&document).map_err(|error| SealingError::Value(error.to_string()))?;
    let rendered = pdf::render(&layout)?;
    let sha256 = Sha256::digest(&rendered.bytes).into();
    Ok(ContentDocument { rendered, sha256 })
}

/// The public page where anyone checks a contract by id or file.
pub fn verify_url(state: &Services, contract_id: &str) -> String {
    format!(
        "{}/verify/{contract_id}",
        state.config.server.public_base_url.trim_end_matches('/')
    )
}

async fn template_blocks(
    state: &Services,
    template_id: &TemplateId,
    template_version: &TemplateVersion,
    variables: &BTreeMap<VariableKey, String>,
) -> Result<Vec<pdf::Block>, SealingError> {
    let stream = StreamId::new(TemplateAggregate::NAME, template_id.as_str());
    let loaded = state
        .pipeline
        .load_state::<TemplateAggregate>(&stream)
        .await
        .map_err(|error| SealingError::Template(error.to_string()))?;
    let template = loaded
        .template()
        .ok_or_else(|| SealingError::Template(template_id.to_string()))?;
    let version = template
        .version(template_version)
        .ok_or_else(|| SealingError::Template(template_version.to_string()))?;
    let variables = variables
        .iter()
        .map(|(key, value)| (key.to_string(), value.clone()))
        .collect();
    let text = version
        .render_preview(&variables)
        .map_err(|error| SealingError::Template(error.to_string()))?;
    Ok(match version.content.content_type {
        ContentType::Html => crate::documents::content::from_html(&text),
        ContentType::ComponentJson => crate::documents::content::from_components(&text),
    })
}

/// What sealing produced.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub document_hash: String,
    pub size: usize,
}

/// Builds, signs, seals, stores and records the document of a SIGNED contract. Sealing twice is
/// harmless: an already sealed contract is left as it is.
pub async fn seal(
    state: &Services,
    contract_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Sealed>, SealingError> {
    let platform = state.platform_seal.as_ref().ok_or(SealingError::NoCa)?;
    let ca = platform.ca();
    let stream = contract_stream(contract_id);
    let loaded = state.pipeline.load::<ContractAggregate>(&stream).await?;
    let contract = match &loaded.state {
        ContractState::Signed {
            contract,
            document: None,
            ..
        } => contract,
        ContractState::Signed { .. } => return Ok(None),
        _ => return Err(SealingError::NotSigned(contract_id.to_owned())),
    };
    let mut head = revisions::document_head(state, contract).await?;
    let mut signers: Vec<&aggregates::contract::Signer> = contract.signers.iter().collect();
    signers.sort_by_key(|signer| signer.sequence);
    let mut signatures = Vec::new();
    for signer in signers {
        let SignerStatus::Signed(signature) = &signer.status else {
            return Err(SealingError::NotSigned(contract_id.to_owned()));
        };
        if let Some(revision) = &signature.revision {
            signatures.push(revision.certificate.clone());
            continue;
        }
        // Signed before signatures were made at the signer's moment: signed now, with a
        // certificate issued now.
        let ip_address = signature.ip_address.to_string();
        let seal = revisions::organization_seal(state, signer).await?;
        let (bytes, revision, record) = revisions::append_signature(
            state,
            &head,
            signer,
            SigningFacts {
                image: signature.signature_image.as_ref(),
                seal: seal.as_deref(),
                transaction_no: signature.transaction_no.as_str(),
                ip_address: &ip_address,
                signed_at: now,
            },
        )
        .await?;
        head.bytes = bytes;
        head.revision = revision;
        signatures.push(record.certificate);
    }
    let chain = platform.chain()?;
    let sealed = platform
        .seal_revision(&head.bytes, &head.revision, &head.rendered, &chain, now)
        .await?;
    signatures.push(revisions::certificate_facts(None, &ca.seal().certificate)?);
    let seal_timestamp = sealed.timestamp;
    let revocations = state.revocations.as_ref().ok_or(SealingError::NoCa)?;
    let closed = long_term_validation::close(
        revocations,
        platform.timestamper().as_ref(),
        &sealed.bytes,
        &sealed.revision,
        TimestampField::Existing(signature_field(&head.rendered, DOCUMENT_TIMESTAMP_FIELD)?),
        now,
    )
    .await?;
    let document_timestamped_at = Some(revisions::time_of(closed.stamped.timestamp.gen_time));
    let document_timestamp_valid_until = closed.valid_until;
    let sealed = closed.stamped.bytes;
    let document_hash = sha256_hex(&sealed);
    state
        .documents
        .put(&document_storage_key(contract_id, &document_hash), &sealed)
        .await?;
    let details = SealDetails {
        content_hash: Some(digest(&hex::encode(head.content_sha256))?),
        signatures,
        timestamp_authority: Some(long_text(&revisions::timestamp_authority(&seal_timestamp))?),
        timestamped_at: Some(revisions::time_of(seal_timestamp.gen_time)),
        document_timestamped_at,
        document_timestamp_valid_until,
    };
    let hash = digest(&document_hash)?;
    state
        .pipeline
        .execute::<ContractAggregate>(&stream, &system_metadata("sealing"), |_| {
            ContractCommand::SealDocument(SealDocument {
                document_hash: hash.clone(),
                details: details.clone(),
                now,
            })
        })
        .await?;
    state.metrics.sealing("sealed");
    tracing::info!(%contract_id, %document_hash, size = sealed.len(), "document sealed");
    archiving::request_archives(state, contract_id, now).await?;
    Ok(Some(Sealed {
        document_hash,
        size: sealed.len(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_keys_name_the_file_by_its_hash() {
        assert_eq!(
            document_storage_key("CONTRACT_1", "ab12"),
            "contracts/CONTRACT_1/ab12.pdf"
        );
        assert_eq!(
            certificate_storage_key("ARCHIVE_1", "cd34"),
            "archives/ARCHIVE_1/cd34.pdf"
        );
    }
}
