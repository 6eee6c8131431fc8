//! Archiving sealed documents (spec 4.1.3, 4.2.5): per provider the caller asked for,
//! `ArchiveRequested`, then the provider, then `ArchiveSucceeded` (with its callback and an archive
//! certificate) or `ArchiveFailed` (50003; the contract stays SIGNED). Failed records are retried
//! with growing delays, and a record left pending by an instance that stopped is taken up again
//! after a lease. The sealing sweep ([`super::sealing`]) runs it after sealing.

use aggregates::ValidationErrors;
use aggregates::contract::{
    ArchiveState, ContractAggregate, ContractCommand, ContractState, RecordArchiveFailure,
    RecordArchiveSuccess, RequestArchive, RetryArchive,
};
use aggregates::values::{
    ArchiveId, ArchiveProvider, ContractId, LongText, Operator, Reason, TransactionNo,
};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::pipeline::Pipeline;
use super::revisions::long_text;
use super::sealing::{SealingError, certificate_storage_key, contract_stream, verify_url};
use super::{AppError, Services, system_metadata};
use crate::documents::storage::sha256_hex;
use crate::providers::archive::{ArchiveReceipt, ArchiveRequest};
use crate::store::query_tables::RowView;
use crate::store::{EventMetadata, StreamId};

/// Contracts whose archiving is requested per sweep.
const BATCH: u32 = 20;
/// A pending archive record older than this is taken to be abandoned by a stopped instance.
pub(super) const PENDING_LEASE: TimeDelta = TimeDelta::minutes(5);

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

/// Sealed contracts whose caller asked for a provider that has no archive record yet.
pub(super) async fn archives_to_request(state: &Services) -> Result<Vec<String>, SealingError> {
    Ok(state
        .store
        .contracts()
        .awaiting_archive_request(BATCH)
        .await?)
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
        // The id named in the initiate response; contracts initiated before every provider got
        // one name the later ones now.
        let archive_id = match contract.archive_id_for(*provider) {
            Some(id) => id.clone(),
            None => ArchiveId::parse(&crate::app::ids::new_id("ARCHIVE"))
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
pub(super) async fn archives_due(
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
            // An operator ordered it tried again: no delay.
            Some("FAILED") if attempts == 0 => true,
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

/// An operator's order to try failed archive records of a contract again (spec 6, 50003:
/// 人工介入补存): one provider's, or every failed one's. Each gets fresh attempts, recorded as
/// `ArchiveRetryOrdered` with the operator; a running service's sweep makes the attempts (or
/// [`retry_now`] does). Returns the providers ordered. Operators act on any client's contract.
pub async fn order_retry(
    pipeline: &Pipeline,
    metadata: &EventMetadata,
    order: &RetryOrder<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<ArchiveProvider>, AppError> {
    let mut errors = ValidationErrors::new();
    let operator = errors.required("operator", order.operator, Operator::parse);
    let reason = errors.optional("reason", order.reason, Reason::parse);
    let provider = errors.optional("provider", order.provider, ArchiveProvider::parse);
    let (Some(operator), Some(reason), Some(provider)) = (operator, reason, provider) else {
        return Err(AppError::Validation(errors));
    };
    let contract_id = ContractId::parse(order.contract_id).map_err(|_| AppError::NotFound)?;
    let stream = contract_stream(contract_id.as_str());
    let loaded = pipeline.load::<ContractAggregate>(&stream).await?;
    let providers = match (provider, &loaded.state) {
        (_, ContractState::NotInitiated) => return Err(AppError::NotFound),
        (Some(provider), _) => vec![provider],
        (None, ContractState::Signed { archives, .. }) => archives
            .values()
            .filter(|archive| matches!(archive.state, ArchiveState::Failed { .. }))
            .map(|archive| archive.provider)
            .collect(),
        (None, _) => Vec::new(),
    };
    if providers.is_empty() {
        return Err(AppError::Conflict(format!(
            "contract {contract_id} has no failed archive record to retry"
        )));
    }
    for provider in &providers {
        pipeline
            .execute::<ContractAggregate>(&stream, metadata, |_| {
                ContractCommand::RetryArchive(RetryArchive {
                    provider: *provider,
                    operator: operator.clone(),
                    reason: reason.clone(),
                    now,
                })
            })
            .await?;
    }
    Ok(providers)
}

/// What an operator's retry names: the contract, optionally one provider, who orders it and why.
#[derive(Debug, Clone, Copy)]
pub struct RetryOrder<'a> {
    pub contract_id: &'a str,
    pub provider: Option<&'a str>,
    pub operator: Option<&'a str>,
    pub reason: Option<&'a str>,
}

/// [`order_retry`], then the attempts right away rather than at the sweep's next turn.
pub async fn retry_now(
    state: &Services,
    metadata: &EventMetadata,
    order: &RetryOrder<'_>,
) -> Result<(), AppError> {
    let now = Utc::now();
    let providers = order_retry(&state.pipeline, metadata, order, now).await?;
    for provider in providers {
        // A failed attempt is recorded on the record and shown by the contract query.
        if let Err(error) = run_archive(state, order.contract_id, provider, now).await {
            tracing::warn!(contract_id = order.contract_id, provider = provider.as_str(), %error, "the ordered archive attempt did not run; the sweep retries");
        }
    }
    Ok(())
}

/// A contract's archive records as operators see them, whoever owns the contract: the records
/// only (no signer data), with their retry schedule and signed certificate links.
pub async fn archive_records(state: &Services, contract_id: &str) -> Result<Value, AppError> {
    let contracts = state.store.contracts();
    if contracts.by_id(contract_id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let rows = contracts.archives(contract_id).await?;
    let archives: Vec<Value> = rows.iter().map(crate::read::views::archive).collect();
    let mut view = json!({"contractId": contract_id, "archives": archives});
    let now = Utc::now();
    show_retries(&state.config.archive, &rows, &mut view, now);
    if let Some(view) = view.as_object_mut() {
        view.remove("archiveInfo");
    }
    state.links.sign_in_place(&mut view, now);
    Ok(view)
}

/// Adds to each failed archive record of a contract view when the sweep tries it next
/// (`nextRetryAt`) or that it waits for an operator (`awaitingOperator`: its attempts are used
/// up). It depends on the configuration, so it is added when the contract is read.
pub(super) fn show_retries(
    config: &ArchiveConfig,
    rows: &[RowView],
    view: &mut Value,
    now: DateTime<Utc>,
) {
    let Some(records) = view["archives"].as_array_mut() else {
        return;
    };
    for (record, row) in records.iter_mut().zip(rows) {
        let attempts = u32::try_from(row.integer("attempts").unwrap_or(0)).unwrap_or(u32::MAX);
        let failed = row.text("status") == Some("FAILED");
        let awaiting = failed && attempts >= config.max_attempts;
        let next = match (failed, awaiting, row.time("updated_at")) {
            (true, false, Some(_)) if attempts == 0 => Some(now),
            (true, false, Some(updated_at)) => Some(updated_at + retry_delay(config, attempts)),
            _ => None,
        };
        record["awaitingOperator"] = Value::Bool(awaiting);
        record["nextRetryAt"] = json!(next);
    }
    if let Some(first) = view["archives"].get(0).cloned() {
        view["archiveInfo"] = first;
    }
}

/// The wait after the `attempts`-th failed attempt: doubling from the configured base, capped.
pub(super) fn retry_delay(config: &ArchiveConfig, attempts: u32) -> TimeDelta {
    let doubled = config
        .retry_base_seconds
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(30));
    let capped = doubled.min(config.retry_max_seconds);
    TimeDelta::seconds(i64::try_from(capped).unwrap_or(i64::MAX))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ArchiveOutcome {
    Archived,
    Failed,
    NothingToDo,
}

/// Runs (or retries) one provider's archive record of a sealed contract.
pub(super) async fn run_archive(
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
            let (transaction_no, authority) = match recorded_receipt(&receipt) {
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
                .execute::<ContractAggregate>(&stream, &system_metadata("sealing"), |_| {
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
        .execute::<ContractAggregate>(stream, &system_metadata("sealing"), |_| {
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
        .execute::<ContractAggregate>(
            &contract_stream(contract_id),
            &system_metadata("sealing"),
            |_| {
                ContractCommand::RecordArchiveFailure(RecordArchiveFailure {
                    provider,
                    reason: reason.clone(),
                    now,
                })
            },
        )
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

/// A provider's transaction number and authority as the log holds them; a receipt the log cannot
/// hold is a failed attempt, not a silent pending record.
pub(super) fn recorded_receipt(
    receipt: &crate::providers::archive::ArchiveReceipt,
) -> Result<(TransactionNo, LongText), String> {
    let number = TransactionNo::parse(&receipt.transaction_no)
        .map_err(|error| format!("transaction number: {error}"))?;
    let authority =
        LongText::parse(&receipt.authority).map_err(|error| format!("authority: {error}"))?;
    Ok((number, authority))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_retries_wait_twice_as_long_each_time_up_to_the_cap() {
        let config = ArchiveConfig {
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
}
