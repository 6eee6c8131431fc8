//! From SIGNED to a sealed, archived document (spec 4.1.2 steps 3-4, 4.1.3, 4.2.5).
//!
//! When a contract becomes SIGNED a background job (on every instance; on PostgreSQL one at a time)
//! builds its document from the events alone: the template version the contract was initiated with,
//! its variables, and each signer's facts and handwritten signature as recorded. That first revision
//! is deterministic: the same events give the same bytes, and its hash is kept in `DocumentSealed`.
//! Each signer then gets an event certificate from the platform CA and a PAdES signature in its own
//! incremental update, and the platform seal comes last with an RFC 3161 signature timestamp (B-T).
//! The file is stored encrypted under a key that names its hash, so two instances that raced can
//! never overwrite each other's bytes; only the one whose `DocumentSealed` committed is ever served.
//!
//! Archiving follows, per provider the caller asked for: `ArchiveRequested`, then the provider, then
//! `ArchiveSucceeded` (with its callback and an archive certificate) or `ArchiveFailed` (50003; the
//! contract stays SIGNED). Failed records are retried with growing delays, and a record left pending
//! by an instance that stopped is taken up again after a lease.

use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

use aggregates::Aggregate;
use aggregates::contract::{
    ArchiveState, Contract, ContractAggregate, ContractCommand, ContractError, ContractState,
    RecordArchiveFailure, RecordArchiveSuccess, RequestArchive, SealDetails, SealDocument,
    SealSignature, SignerStatus,
};
use aggregates::template::TemplateAggregate;
use aggregates::values::{
    ArchiveId, ArchiveProvider, CertificateSerial, ContentType, Digest, LongText, PartyId, Reason,
    TransactionNo,
};
use chrono::{DateTime, TimeDelta, Utc};
use der::Decode;
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;

use crate::app::config::Config;
use crate::app::pipeline::CommandError;
use crate::app::services::Services;
use crate::documents::contract::{
    ContractDocument, PLATFORM_SEAL_FIELD, SignerFacts, contract_layout, signer_field_name,
};
use crate::documents::pades::{Revision, SignatureInfo};
use crate::documents::pdf::{self, Layout, RenderedPdf};
use crate::documents::sign::{SignError, seal_field, sign_field};
use crate::documents::storage::{DocumentStoreError, sha256_hex};
use crate::providers::archive::{ArchiveReceipt, ArchiveRequest, Archiver};
use crate::store::{EventMetadata, StoreError, StreamId, advisory};
use crate::trust::ca::{Ca, CaError};
use crate::trust::cms::Signer;
use crate::trust::timestamper::{LocalTimestamper, Timestamper};

/// `[archive]`: sealing signed contracts and archiving them (see docs/archive.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveConfig {
    /// Runs the sealing and archiving sweep on this instance.
    pub enabled: bool,
    /// How often the sweep looks for work besides being woken when a contract is signed.
    pub interval_seconds: u64,
    /// Attempts per archive record before it waits for an operator.
    pub max_attempts: u32,
    /// The wait after the first failure; each later one twice as long, up to `retry_max_seconds`.
    pub retry_base_seconds: u64,
    pub retry_max_seconds: u64,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_seconds: 10,
            max_attempts: 10,
            retry_base_seconds: 30,
            retry_max_seconds: 6 * 3600,
        }
    }
}

impl ArchiveConfig {
    pub fn check(&self) -> Result<(), String> {
        if self.interval_seconds == 0 {
            return Err("archive.interval_seconds must be positive".into());
        }
        if self.max_attempts == 0 {
            return Err("archive.max_attempts must be at least 1".into());
        }
        if self.retry_base_seconds == 0 || self.retry_max_seconds < self.retry_base_seconds {
            return Err(
                "archive.retry_base_seconds must be positive and at most archive.retry_max_seconds"
                    .into(),
            );
        }
        Ok(())
    }
}

/// The advisory lock key of the sealing sweep ("esign" + job 2).
const SWEEP_LOCK_KEY: i64 = 0x6573_6967_6e00_0002;
/// Contracts sealed per query; the sweep loops until none is left.
const BATCH: usize = 20;
/// A pending archive record older than this is taken to be abandoned by a stopped instance.
const PENDING_LEASE: TimeDelta = TimeDelta::minutes(5);
/// Why signers sign (the signature dictionary's `/Reason`).
const SIGNER_REASON: &str = "同意签署本协议";
const SEAL_REASON: &str = "平台签章与时间戳";

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
    #[error("the signature field {0} is missing from the rendered document")]
    MissingField(String),
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
    pub errors: u64,
    /// Another instance was sweeping.
    pub skipped: bool,
}

fn system_metadata() -> EventMetadata {
    EventMetadata {
        actor: "system:sealing".to_owned(),
        correlation_id: Some(uuid::Uuid::now_v7().to_string()),
        ..EventMetadata::default()
    }
}

fn contract_stream(contract_id: &str) -> StreamId {
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
                Ok(report) if report.sealed + report.archived + report.archive_failures > 0 => {
                    tracing::info!(?report, "sealing sweep");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "sealing sweep failed; retrying next tick"),
            }
        }
    })
}

/// Seals every SIGNED contract without a document, then requests, retries and runs what archiving
/// is due at `now`.
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
    let mut refused: std::collections::HashSet<String> = std::collections::HashSet::new();
    loop {
        let due = state.store.contracts().awaiting_seal(BATCH as u32).await?;
        let fresh: Vec<String> = due
            .iter()
            .map(|row| row.required_text("contract_id").to_owned())
            .filter(|id| !refused.contains(id))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for contract_id in fresh {
            match seal(state, &contract_id, now).await {
                Ok(_) => report.sealed += 1,
                Err(error) => {
                    tracing::error!(%contract_id, %error, "cannot seal the signed contract");
                    state.metrics.sealing("error");
                    report.errors += 1;
                    refused.insert(contract_id);
                }
            }
        }
        if due.len() < BATCH {
            break;
        }
    }
    for contract_id in archives_to_request(state).await? {
        if let Err(error) = request_archives(state, &contract_id, now).await {
            tracing::error!(%contract_id, %error, "cannot request archiving");
            report.errors += 1;
        }
    }
    for (contract_id, provider) in archives_due(state, now).await? {
        match run_archive(state, &contract_id, provider, now).await {
            Ok(ArchiveOutcome::Archived) => report.archived += 1,
            Ok(ArchiveOutcome::Failed) => report.archive_failures += 1,
            Ok(ArchiveOutcome::NothingToDo) => {}
            Err(error) => {
                tracing::error!(%contract_id, provider = provider.as_str(), %error, "archiving step failed");
                report.errors += 1;
            }
        }
    }
    Ok(report)
}

/// The contract's document as built from its events: the unsigned first revision.
#[derive(Debug)]
pub struct ContentDocument {
    pub rendered: RenderedPdf,
    pub sha256: [u8; 32],
}

/// Renders the contract's first revision from its events alone (the contract stream and its
/// template version). Public so verification can render it again and compare.
pub async fn render_content(
    state: &Services,
    contract: &Contract,
) -> Result<ContentDocument, SealingError> {
    let template_blocks = template_blocks(state, contract).await?;
    let mut signers: Vec<&aggregates::contract::Signer> = contract.signers.iter().collect();
    signers.sort_by_key(|signer| signer.sequence);
    let signers = signers
        .into_iter()
        .map(|signer| {
            let signature = match &signer.status {
                SignerStatus::Signed(signature) => Some(signature),
                SignerStatus::Pending { .. } | SignerStatus::Rejected(_) => None,
            };
            SignerFacts {
                party_id: signer.party_id.to_string(),
                name: signer.name.to_string(),
                masked_id_card: signer.id_card_no.masked(),
                sign_method: signer.sign_method.as_str().to_owned(),
                signed_at: signature.map(|signature| signature.signed_at),
                ip_address: signature.map(|signature| signature.ip_address.to_string()),
                device_info: signature.map(|signature| signature.device_info.to_string()),
                transaction_no: signature.map(|signature| signature.transaction_no.to_string()),
                signature_png: signature
                    .and_then(|signature| signature.signature_image.as_ref())
                    .map(|image| image.bytes().to_vec()),
            }
        })
        .collect();
    let document = ContractDocument {
        contract_id: contract.contract_id.to_string(),
        title: contract.title.to_string(),
        template_blocks,
        signers,
        content_hash_hex: contract.preview_hash.as_hex().to_owned(),
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
    contract: &Contract,
) -> Result<Vec<pdf::Block>, SealingError> {
    let stream = StreamId::new(TemplateAggregate::NAME, contract.template_id.as_str());
    let loaded = state
        .pipeline
        .load_state::<TemplateAggregate>(&stream)
        .await
        .map_err(|error| SealingError::Template(error.to_string()))?;
    let template = loaded
        .template()
        .ok_or_else(|| SealingError::Template(contract.template_id.to_string()))?;
    let version = template
        .version(&contract.template_version)
        .ok_or_else(|| SealingError::Template(contract.template_version.to_string()))?;
    let variables = contract
        .variables
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
    let content = render_content(state, contract).await?;
    let chain = platform.chain()?;
    let mut bytes = content.rendered.bytes.clone();
    let mut revision = Revision {
        catalog: content.rendered.catalog,
        info: content.rendered.info,
        size: content.rendered.size,
        file_id: content.rendered.file_id.clone(),
    };
    let mut signatures = Vec::new();
    let certificate_minutes = i64::try_from(state.config.trust.event_certificate_minutes)
        .map_err(|error| SealingError::Value(error.to_string()))?;
    let mut signers: Vec<&aggregates::contract::Signer> = contract.signers.iter().collect();
    signers.sort_by_key(|signer| signer.sequence);
    for signer in signers {
        let SignerStatus::Signed(signature) = &signer.status else {
            return Err(SealingError::NotSigned(contract_id.to_owned()));
        };
        // The certificate vouches for the identity checked when the signer signed, and lives only
        // until shortly after this seal: long enough to be valid at the sealing timestamp.
        let not_before = signature.signed_at - TimeDelta::minutes(1);
        let lifetime = (now - not_before) + TimeDelta::minutes(certificate_minutes);
        let issued = ca.issue_event_certificate(
            signer.name.as_str(),
            &signer.id_card_no.masked(),
            not_before,
            lifetime
                .to_std()
                .map_err(|error| SealingError::Value(error.to_string()))?,
        )?;
        let certificate = Certificate::from_der(&issued.certificate_der)
            .map_err(|error| SealingError::Value(error.to_string()))?;
        let field_name = signer_field_name(signer.party_id.as_str());
        let field = field(&content.rendered, &field_name)?;
        let (signed, next) = sign_field(
            &bytes,
            &revision,
            field,
            &SignatureInfo {
                name: signer.name.to_string(),
                reason: SIGNER_REASON.to_owned(),
                location: None,
                signed_at: signature.signed_at,
            },
            Signer {
                certificate: &certificate,
                key: &issued.key,
            },
            &chain,
        )?;
        bytes = signed;
        revision = next;
        signatures.push(seal_signature(Some(signer.party_id.clone()), &certificate)?);
    }
    let (sealed, timestamp) = platform
        .seal_revision(&bytes, &revision, &content.rendered, &chain, now)
        .await?;
    signatures.push(seal_signature(None, &ca.seal().certificate)?);
    let document_hash = sha256_hex(&sealed);
    state
        .documents
        .put(&document_storage_key(contract_id, &document_hash), &sealed)
        .await?;
    let details = SealDetails {
        content_hash: Some(digest(&hex::encode(content.sha256))?),
        signatures,
        timestamp_authority: Some(long_text(&timestamp_authority(&timestamp))?),
        timestamped_at: DateTime::from_timestamp(
            i64::try_from(timestamp.gen_time.as_secs()).unwrap_or(i64::MAX),
            0,
        ),
    };
    let hash = digest(&document_hash)?;
    state
        .pipeline
        .execute::<ContractAggregate>(&stream, &system_metadata(), |_| {
            ContractCommand::SealDocument(SealDocument {
                document_hash: hash.clone(),
                details: details.clone(),
                now,
            })
        })
        .await?;
    state.metrics.sealing("sealed");
    tracing::info!(%contract_id, %document_hash, size = sealed.len(), "document sealed");
    request_archives(state, contract_id, now).await?;
    Ok(Some(Sealed {
        document_hash,
        size: sealed.len(),
    }))
}

fn field<'a>(
    rendered: &'a RenderedPdf,
    name: &str,
) -> Result<&'a pdf::SignatureField, SealingError> {
    rendered
        .fields
        .iter()
        .find(|field| field.name == name)
        .ok_or_else(|| SealingError::MissingField(name.to_owned()))
}

fn digest(hex_text: &str) -> Result<Digest, SealingError> {
    Digest::parse(hex_text).map_err(|error| SealingError::Value(error.to_string()))
}

fn long_text(text: &str) -> Result<LongText, SealingError> {
    LongText::parse(text).map_err(|error| SealingError::Value(error.to_string()))
}

fn timestamp_authority(timestamp: &crate::trust::tsa::Timestamp) -> String {
    if timestamp.url == "local" {
        "esign LOCAL_CA".to_owned()
    } else {
        timestamp.url.clone()
    }
}

/// The facts of one signature's certificate, as the event keeps them.
fn seal_signature(
    party_id: Option<PartyId>,
    certificate: &Certificate,
) -> Result<SealSignature, SealingError> {
    let tbs = certificate.tbs_certificate();
    let validity = tbs.validity();
    let time = |time: &x509_cert::time::Time| {
        let seconds = i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        DateTime::from_timestamp(seconds, 0)
            .ok_or_else(|| SealingError::Value("a certificate time out of range".into()))
    };
    Ok(SealSignature {
        party_id,
        certificate_serial: CertificateSerial::parse(&hex::encode_upper(
            tbs.serial_number().as_bytes(),
        ))
        .map_err(|error| SealingError::Value(error.to_string()))?,
        issuer: long_text(&tbs.issuer().to_string())?,
        not_before: time(&validity.not_before)?,
        not_after: time(&validity.not_after)?,
    })
}

/// Sealed contracts whose caller asked for a provider that has no archive record yet.
async fn archives_to_request(state: &Services) -> Result<Vec<String>, SealingError> {
    let rows = state
        .store
        .contracts()
        .awaiting_archive_request(BATCH as u32)
        .await?;
    Ok(rows
        .iter()
        .map(|row| row.required_text("contract_id").to_owned())
        .collect())
}

/// Requests archiving with every provider the caller asked for that has no record yet.
pub async fn request_archives(
    state: &Services,
    contract_id: &str,
    now: DateTime<Utc>,
) -> Result<(), SealingError> {
    let stream = contract_stream(contract_id);
    let loaded = state.pipeline.load::<ContractAggregate>(&stream).await?;
    let ContractState::Signed {
        contract,
        document: Some(_),
        archives,
        ..
    } = &loaded.state
    else {
        return Ok(());
    };
    for provider in &contract.archive_providers {
        if archives.contains_key(provider) {
            continue;
        }
        // The id named in the initiate response, for the provider the caller asked for.
        let archive_id = match &contract.archive_id {
            Some(id) if contract.archive_providers.first() == Some(provider) => id.clone(),
            _ => ArchiveId::parse(&crate::app::ids::new_id("ARCHIVE"))
                .map_err(|error| SealingError::Value(error.to_string()))?,
        };
        let provider = *provider;
        record_request(state, &stream, &archive_id, provider, now).await?;
        if let Err(error) = run_archive(state, contract_id, provider, now).await {
            tracing::warn!(%contract_id, provider = provider.as_str(), %error, "archiving step failed; the sweep retries");
        }
    }
    Ok(())
}

/// Archive records due: failed ones whose retry delay has passed, and pending ones abandoned past
/// their lease.
async fn archives_due(
    state: &Services,
    now: DateTime<Utc>,
) -> Result<Vec<(String, ArchiveProvider)>, SealingError> {
    let max_attempts = state.config.archive.max_attempts;
    // Records out of attempts wait for an operator and must not crowd the due ones out of the batch.
    let rows = state
        .store
        .contracts()
        .archives_to_retry(max_attempts, 100)
        .await?;
    let mut due = Vec::new();
    for row in rows {
        let Some(updated_at) = row.time("updated_at") else {
            continue;
        };
        let attempts = u32::try_from(row.integer("attempts").unwrap_or(0)).unwrap_or(u32::MAX);
        let ready = match row.text("status") {
            Some("PENDING") => updated_at + PENDING_LEASE <= now,
            Some("FAILED") => {
                attempts < max_attempts
                    && updated_at + retry_delay(&state.config.archive, attempts) <= now
            }
            _ => false,
        };
        let provider = row
            .text("archive_provider")
            .and_then(|code| code.parse::<ArchiveProvider>().ok());
        if let (true, Some(provider)) = (ready, provider) {
            due.push((row.required_text("contract_id").to_owned(), provider));
        }
    }
    Ok(due)
}

/// The wait after the `attempts`-th failed attempt: doubling from the configured base, capped.
fn retry_delay(config: &crate::app::sealing::ArchiveConfig, attempts: u32) -> TimeDelta {
    let doubled = config
        .retry_base_seconds
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(30));
    let capped = doubled.min(config.retry_max_seconds);
    TimeDelta::seconds(i64::try_from(capped).unwrap_or(i64::MAX))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArchiveOutcome {
    Archived,
    Failed,
    NothingToDo,
}

/// Runs (or retries) one provider's archive record of a sealed contract.
async fn run_archive(
    state: &Services,
    contract_id: &str,
    provider: ArchiveProvider,
    now: DateTime<Utc>,
) -> Result<ArchiveOutcome, SealingError> {
    let stream = contract_stream(contract_id);
    let loaded = state.pipeline.load::<ContractAggregate>(&stream).await?;
    let ContractState::Signed {
        document: Some(document),
        archives,
        ..
    } = &loaded.state
    else {
        return Ok(ArchiveOutcome::NothingToDo);
    };
    let Some(archive) = archives.get(&provider) else {
        return Ok(ArchiveOutcome::NothingToDo);
    };
    match archive.state {
        ArchiveState::Succeeded { .. } => return Ok(ArchiveOutcome::NothingToDo),
        ArchiveState::Failed { .. } => {
            // A retry is a new attempt in the log before it is made.
            record_request(state, &stream, &archive.archive_id, provider, now).await?;
        }
        ArchiveState::Pending { .. } => {}
    }
    let Some(archiver) = state.archivers.get(provider) else {
        let reason = format!("no {} archive provider is configured", provider.as_str());
        record_failure(state, contract_id, provider, &reason, now).await?;
        return Ok(ArchiveOutcome::Failed);
    };
    let mut document_hash = [0u8; 32];
    hex::decode_to_slice(document.document_hash.as_hex(), &mut document_hash)
        .map_err(|error| SealingError::Value(error.to_string()))?;
    let request = ArchiveRequest {
        archive_id: archive.archive_id.to_string(),
        contract_id: contract_id.to_owned(),
        document_hash,
        requested_at: now,
    };
    match archiver.archive(&request).await {
        Ok(receipt) => {
            let certificate_url = match archive_certificate(state, &request, provider, &receipt)
                .await
            {
                Ok(url) => Some(long_text(&url)?),
                Err(error) => {
                    // The record stands without its certificate; logged for operators.
                    tracing::error!(%contract_id, archive_id = %request.archive_id, %error, "cannot produce the archive certificate");
                    None
                }
            };
            // A receipt the log cannot hold is a failed attempt, not a silent pending record.
            let recorded = TransactionNo::parse(&receipt.transaction_no)
                .map_err(|error| format!("transaction number: {error}"))
                .and_then(|number| {
                    LongText::parse(&receipt.authority)
                        .map(|authority| (number, authority))
                        .map_err(|error| format!("authority: {error}"))
                });
            let (transaction_no, authority) = match recorded {
                Ok(values) => values,
                Err(error) => {
                    let reason = format!("the provider's receipt cannot be recorded: {error}");
                    tracing::error!(%contract_id, provider = provider.as_str(), %reason, code = 50003, "archiving failed");
                    record_failure(state, contract_id, provider, &reason, now).await?;
                    return Ok(ArchiveOutcome::Failed);
                }
            };
            let authority = Some(authority);
            let evidence = Some(receipt.evidence.clone());
            let archived_at = receipt.archived_at;
            state
                .pipeline
                .execute::<ContractAggregate>(&stream, &system_metadata(), |_| {
                    ContractCommand::RecordArchiveSuccess(RecordArchiveSuccess {
                        provider,
                        transaction_no: transaction_no.clone(),
                        certificate_url: certificate_url.clone(),
                        authority: authority.clone(),
                        evidence: evidence.clone(),
                        now: archived_at,
                    })
                })
                .await?;
            state.metrics.archive(provider.as_str(), "success");
            Ok(ArchiveOutcome::Archived)
        }
        Err(error) => {
            tracing::error!(
                %contract_id,
                provider = provider.as_str(),
                %error,
                code = 50003,
                "archiving failed; the contract stays SIGNED and the record is retried"
            );
            record_failure(state, contract_id, provider, &error.to_string(), now).await?;
            Ok(ArchiveOutcome::Failed)
        }
    }
}

/// `ArchiveRequested`: a first attempt, or a retry of a failed one with the same archive id.
async fn record_request(
    state: &Services,
    stream: &StreamId,
    archive_id: &ArchiveId,
    provider: ArchiveProvider,
    now: DateTime<Utc>,
) -> Result<(), SealingError> {
    state
        .pipeline
        .execute::<ContractAggregate>(stream, &system_metadata(), |_| {
            ContractCommand::RequestArchive(RequestArchive {
                archive_id: archive_id.clone(),
                provider,
                now,
            })
        })
        .await?;
    Ok(())
}

async fn record_failure(
    state: &Services,
    contract_id: &str,
    provider: ArchiveProvider,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), SealingError> {
    let reason: String = reason.chars().take(500).collect();
    let reason = Reason::parse(&reason).map_err(|error| SealingError::Value(error.to_string()))?;
    state
        .pipeline
        .execute::<ContractAggregate>(&contract_stream(contract_id), &system_metadata(), |_| {
            ContractCommand::RecordArchiveFailure(RecordArchiveFailure {
                provider,
                reason: reason.clone(),
                now,
            })
        })
        .await?;
    state.metrics.archive(provider.as_str(), "failure");
    Ok(())
}

/// Renders, seals and stores the archive certificate; returns its download path.
async fn archive_certificate(
    state: &Services,
    request: &ArchiveRequest,
    provider: ArchiveProvider,
    receipt: &ArchiveReceipt,
) -> Result<String, SealingError> {
    let layout = crate::documents::archive_certificate::certificate_layout(
        &crate::documents::archive_certificate::CertificateFacts {
            contract_id: request.contract_id.clone(),
            archive_id: request.archive_id.clone(),
            provider,
            authority: receipt.authority.clone(),
            archived_at: receipt.archived_at,
            document_hash: request.document_hash,
            transaction_no: receipt.transaction_no.clone(),
            evidence: crate::providers::archive::readable_evidence(provider, &receipt.evidence)
                .map_err(SealingError::Value)?,
            verify_url: verify_url(state, &request.contract_id),
        },
    )
    .map_err(|error| SealingError::Value(error.to_string()))?;
    let platform = state.platform_seal.as_ref().ok_or(SealingError::NoCa)?;
    let bytes = platform.seal_layout(&layout, Utc::now()).await?;
    let hash = sha256_hex(&bytes);
    state
        .documents
        .put(&certificate_storage_key(&request.archive_id, &hash), &bytes)
        .await?;
    Ok(format!(
        "/download/archives/{}/{hash}.pdf",
        request.archive_id
    ))
}

/// The platform's own signature: its seal certificate from the CA, with an RFC 3161 timestamp on
/// every seal (PAdES B-T). Also signs what esign issues in its own name (archive certificates,
/// evidence reports).
#[derive(Debug)]
pub struct PlatformSeal {
    ca: Arc<Ca>,
    timestamper: Arc<dyn Timestamper>,
    organization: String,
}

impl PlatformSeal {
    pub fn new(ca: Arc<Ca>, timestamper: Arc<dyn Timestamper>, organization: String) -> Self {
        Self {
            ca,
            timestamper,
            organization,
        }
    }

    /// From configuration: the CA as `Ca::open` finds it, and the timestamps from `[trust]
    /// seal_tsa_urls` when set, otherwise from esign's own TSA in-process. `None` without a CA.
    pub fn from_config(config: &Config) -> Result<Option<Self>, SealingError> {
        let Some(ca) = Ca::open(&config.trust_settings())? else {
            return Ok(None);
        };
        Ok(Some(Self::with_ca(config, Arc::new(ca))?))
    }

    /// Like [`Self::from_config`] with a CA already open.
    pub fn with_ca(config: &Config, ca: Arc<Ca>) -> Result<Self, SealingError> {
        let timestamper: Arc<dyn Timestamper> = if config.trust.seal_tsa_urls.is_empty() {
            let policy =
                crate::trust::parse_oid(&config.trust.tsa_policy).map_err(SealingError::Value)?;
            Arc::new(LocalTimestamper::new(Arc::new(ca.tsa_signer(policy))))
        } else {
            Arc::new(
                crate::providers::tsa::Client::with_urls(
                    &config.trust,
                    Some(&ca),
                    config.trust.seal_tsa_urls.clone(),
                )
                .map_err(|error| SealingError::Value(error.to_string()))?,
            )
        };
        Ok(Self::new(
            ca,
            timestamper,
            config.trust.organization.clone(),
        ))
    }

    pub fn ca(&self) -> &Ca {
        &self.ca
    }

    pub fn timestamper(&self) -> &Arc<dyn Timestamper> {
        &self.timestamper
    }

    /// The certificates a verifier needs besides the root it trusts.
    pub fn chain(&self) -> Result<Vec<Certificate>, SealingError> {
        self.ca
            .chain()
            .iter()
            .map(|der| Certificate::from_der(der))
            .collect::<Result<_, _>>()
            .map_err(|error| SealingError::Value(error.to_string()))
    }

    /// Signs the `PlatformSeal` field of `rendered` (as grown to `bytes` at `revision`); `chain`
    /// is [`Self::chain`].
    async fn seal_revision(
        &self,
        bytes: &[u8],
        revision: &Revision,
        rendered: &RenderedPdf,
        chain: &[Certificate],
        now: DateTime<Utc>,
    ) -> Result<(Vec<u8>, crate::trust::tsa::Timestamp), SealingError> {
        let seal = self.ca.seal();
        let (sealed, _, timestamp) = seal_field(
            bytes,
            revision,
            field(rendered, PLATFORM_SEAL_FIELD)?,
            &SignatureInfo {
                name: self.organization.clone(),
                reason: SEAL_REASON.to_owned(),
                location: None,
                signed_at: now,
            },
            Signer {
                certificate: &seal.certificate,
                key: &seal.key,
            },
            chain,
            self.timestamper.as_ref(),
        )
        .await?;
        Ok((sealed, timestamp))
    }

    /// Renders `layout` (which must have a `PlatformSeal` signature field) and seals it.
    pub async fn seal_layout(
        &self,
        layout: &Layout,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, SealingError> {
        let rendered = pdf::render(layout)?;
        let revision = Revision {
            catalog: rendered.catalog,
            info: rendered.info,
            size: rendered.size,
            file_id: rendered.file_id.clone(),
        };
        let (sealed, _) = self
            .seal_revision(&rendered.bytes, &revision, &rendered, &self.chain()?, now)
            .await?;
        Ok(sealed)
    }
}

/// The archive providers this instance can use, one per kind.
#[derive(Debug, Default)]
pub struct Archivers(std::collections::BTreeMap<ArchiveProvider, Arc<dyn Archiver>>);

impl Archivers {
    pub fn new(archivers: Vec<Arc<dyn Archiver>>) -> Self {
        Self(
            archivers
                .into_iter()
                .map(|archiver| (archiver.provider(), archiver))
                .collect(),
        )
    }

    pub fn get(&self, provider: ArchiveProvider) -> Option<&Arc<dyn Archiver>> {
        self.0.get(&provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_retries_wait_twice_as_long_each_time_up_to_the_cap() {
        let config = crate::app::sealing::ArchiveConfig {
            retry_base_seconds: 30,
            retry_max_seconds: 3600,
            ..Default::default()
        };
        let waits: Vec<i64> = (1..=9)
            .map(|attempts| retry_delay(&config, attempts).num_seconds())
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(retry_delay(&config, u32::MAX).num_seconds(), 3600);
    }

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
