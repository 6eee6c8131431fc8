//! Checking a contract document (spec 2.1.2 item 4, 协议验真): by contract id, by file hash and
//! archive id, or by the file itself.
//!
//! Every way ends in the same checks on the same bytes: the file's SHA-256 against the hash sealed
//! in the log; every PAdES signature in it (CMS, certificate chain to the platform root, the seal's
//! RFC 3161 timestamp); the contract's event chain; every archive record's evidence (the timestamp
//! token's signature and imprint, the Merkle inclusion proof and signed tree head); and, for the
//! stored file, that its first revision is exactly what the events render to.
//!
//! Times in the answer are RFC 3339 in UTC, for machines; the public page shows them in Beijing time.
//!
//! # Layout
//!
//! - This file: the request, the answer, and the checks.
//! - [`signatures`]: what the answer says about each signature (`signatureInfo`).
//! - [`verdict`]: the one-word verdict decided from the answer's findings.

pub mod signatures;
pub mod verdict;

use aggregates::Aggregate;
use aggregates::contract::{ContractAggregate, ContractState};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub use signatures::{SignatureFacts, SignatureRole, signature_facts};
pub use verdict::{Verdict, decide};

use super::{AppError, Caller, Services};
use crate::app::sealing::{SealingError, document_storage_key, render_content};
use crate::documents::storage::DocumentStoreError;
use crate::documents::validate::{Anchors, PdfValidation, validate_pdf_with};
use crate::providers::archive::verify_receipt;
use crate::store::query_tables::RowView;
use crate::store::{StoreError, StreamId};
use base64::Engine as _;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the sealed document cannot be read: {0}")]
    Storage(#[from] DocumentStoreError),
    #[error("the document cannot be rendered again from the log: {0}")]
    Render(#[from] SealingError),
}

/// The answer, in the spec's shape with the reasons added.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub valid: bool,
    /// Why not, in one line (the first failed check); `None` when valid.
    pub reason: Option<String>,
    pub contract_id: Option<String>,
    /// `sha256:<hex>` of the file checked.
    pub document_hash: Option<String>,
    pub sealed_at: Option<DateTime<Utc>>,
    pub chain_intact: Option<bool>,
    /// The first revision is what the contract's events render to.
    pub content_matches_events: Option<bool>,
    pub signature_info: Vec<SignatureFacts>,
    pub archive_info: Value,
    /// Every failed check, in order.
    pub problems: Vec<String>,
    /// What the checks conclude, in one word ([`decide`]).
    pub verdict: Verdict,
    /// `sha256:<hex>` of the document sealed for the contract, when there is one.
    pub sealed_document_hash: Option<String>,
    /// The checked file is the sealed document (its SHA-256 is the sealed hash); `None` when there
    /// is no sealed document to compare with.
    pub hash_matches_sealed: Option<bool>,
    /// Every signature in the checked file validates and the last covers the whole file; `None`
    /// when no file was checked.
    pub signatures_valid: Option<bool>,
}

impl Verification {
    /// An answer that checked no file: the contract has no sealed document yet.
    fn refused(contract_id: Option<String>, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        let mut answer = Self {
            valid: false,
            reason: Some(reason.clone()),
            contract_id,
            document_hash: None,
            sealed_at: None,
            chain_intact: None,
            content_matches_events: None,
            signature_info: Vec::new(),
            archive_info: not_archived(),
            problems: vec![reason],
            verdict: Verdict::Invalid,
            sealed_document_hash: None,
            hash_matches_sealed: None,
            signatures_valid: None,
        };
        answer.verdict = decide(&answer);
        answer
    }
}

fn not_archived() -> Value {
    json!({"archived": false, "archiveTime": null, "timestampAuthority": null, "records": []})
}

/// `POST /contract/verify`'s request: which method, and what it needs.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequest {
    pub method: Option<String>,
    pub contract_id: Option<String>,
    pub file_hash: Option<String>,
    pub archive_id: Option<String>,
    /// The PDF itself, base64 (method `FILE`).
    pub file_content: Option<String>,
}

fn required<'a>(value: &'a Option<String>, field: &'static str) -> Result<&'a str, AppError> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .ok_or_else(|| AppError::invalid(field, "is required"))
}

/// Verifies a contract document (spec 2.1.2 item 4): `CONTRACT_ID` checks the stored sealed
/// document of the contract; `FILE_HASH` checks that `fileHash` is the document archived under
/// `archiveId`, then the document; `FILE` checks an uploaded PDF (`fileContent`, base64). A changed
/// file, a wrong hash or another document answers `valid: false` with the reason. Only the caller's
/// own contracts are found.
pub async fn verify(
    services: &Services,
    caller: &Caller,
    request: &VerifyRequest,
) -> Result<Verification, AppError> {
    let answer = match request.method.as_deref() {
        Some("CONTRACT_ID") => {
            let contract_id = required(&request.contract_id, "contractId")?;
            let contract = super::contracts::owned(services, caller, contract_id).await?;
            by_contract(services, &contract).await
        }
        Some("FILE_HASH") => {
            let file_hash = required(&request.file_hash, "fileHash")?;
            let file_hash = parse_file_hash(file_hash)
                .ok_or_else(|| AppError::invalid("fileHash", "must be sha256:<64 hex digits>"))?;
            match request.archive_id.as_deref().map(str::trim) {
                Some(archive_id) if !archive_id.is_empty() => {
                    let archive = services
                        .store
                        .contracts()
                        .archive(archive_id)
                        .await?
                        .ok_or(AppError::NotFound)?;
                    let contract = super::contracts::owned(
                        services,
                        caller,
                        archive.required_text("contract_id"),
                    )
                    .await?;
                    by_file_hash(services, &file_hash, &archive, &contract).await
                }
                // Without an archive id: the caller's contract sealed with that hash.
                _ => {
                    let contract = contract_with_document(services, &caller.client_id, &file_hash)
                        .await?
                        .ok_or(AppError::NotFound)?;
                    by_contract(services, &contract).await
                }
            }
        }
        Some("FILE") => {
            let encoded = required(&request.file_content, "fileContent")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| {
                    AppError::invalid("fileContent", "must be the PDF in standard base64")
                })?;
            // The signed API's 1 MiB body limit (41300) bounds the file at 768 KiB; larger files
            // are verified by FILE_HASH.
            let sha256 = hex::encode(Sha256::digest(&bytes));
            let contract = contract_with_document(services, &caller.client_id, &sha256).await?;
            by_file(services, &bytes, contract.as_ref()).await
        }
        Some(_) => {
            return Err(AppError::invalid(
                "method",
                "must be CONTRACT_ID, FILE_HASH or FILE",
            ));
        }
        None => return Err(AppError::invalid("method", "is required")),
    };
    let answer = answer.map_err(|error| {
        tracing::error!(%error, "contract verification failed");
        AppError::Internal(error.to_string())
    })?;
    if !answer.valid {
        tracing::info!(contract_id = ?answer.contract_id, reason = ?answer.reason, "verification: not valid");
    }
    Ok(answer)
}

/// Parses `sha256:<hex>` or bare hex.
pub fn parse_file_hash(text: &str) -> Option<String> {
    let hex_text = text.trim().strip_prefix("sha256:").unwrap_or(text.trim());
    (hex_text.len() == 64 && hex_text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex_text.to_ascii_lowercase())
}

/// Method `CONTRACT_ID`: the stored sealed document of `contract` (a row the caller owns).
pub async fn by_contract(
    state: &Services,
    contract: &RowView,
) -> Result<Verification, VerifyError> {
    let contract_id = contract.required_text("contract_id").to_owned();
    let Some(sealed_hash) = contract.text("document_hash") else {
        let status = contract.required_text("status");
        let reason = if status == "SIGNED" {
            "the contract is SIGNED and its document is being sealed".to_owned()
        } else {
            format!("the contract is {status}: only SIGNED contracts have a sealed document")
        };
        let mut answer = Verification::refused(Some(contract_id.clone()), reason);
        answer.chain_intact = Some(chain_intact(state, &contract_id).await?);
        answer.verdict = Verdict::NotSealed;
        return Ok(answer);
    };
    let bytes = state
        .documents
        .get(
            &document_storage_key(&contract_id, sealed_hash),
            sealed_hash,
        )
        .await?;
    check(state, &bytes, Some(contract), true).await
}

/// Method `FILE_HASH`: `file_hash` must be the document the archive record `archive` was made
/// for; the stored document with that hash is then checked like any other.
pub async fn by_file_hash(
    state: &Services,
    file_hash: &str,
    archive: &RowView,
    contract: &RowView,
) -> Result<Verification, VerifyError> {
    let contract_id = contract.required_text("contract_id").to_owned();
    if archive.text("document_hash") != Some(file_hash) {
        let mut answer = Verification::refused(
            Some(contract_id),
            "the file hash is not the hash archived under this archive id",
        );
        answer.document_hash = Some(format!("sha256:{file_hash}"));
        answer.sealed_document_hash = contract
            .text("document_hash")
            .map(|sealed| format!("sha256:{sealed}"));
        answer.hash_matches_sealed = Some(false);
        answer.verdict = Verdict::FileMismatch;
        return Ok(answer);
    }
    by_contract(state, contract).await
}

/// A file someone holds, checked against the contract `contract` (any contract: the public page
/// checks a visitor's file against the contract of its URL). A file that is not the sealed document
/// answers `valid: false` with verdict `FILE_MISMATCH` (or `TAMPERED` when its signatures break).
pub async fn file_against_contract(
    state: &Services,
    bytes: &[u8],
    contract: &RowView,
) -> Result<Verification, VerifyError> {
    check(state, bytes, Some(contract), false).await
}

/// Method `FILE`: the uploaded bytes. `owned` finds the caller's contract sealed with this hash.
pub async fn by_file(
    state: &Services,
    bytes: &[u8],
    contract: Option<&RowView>,
) -> Result<Verification, VerifyError> {
    check(state, bytes, contract, false).await
}

/// The caller's contract whose sealed document has `sha256` (its current file, or a version a
/// renewal grew from), if any.
pub async fn contract_with_document(
    state: &Services,
    client_id: &str,
    sha256: &str,
) -> Result<Option<RowView>, StoreError> {
    let contracts = state.store.contracts();
    match contracts.by_document_hash(client_id, sha256).await? {
        Some(contract) => Ok(Some(contract)),
        None => contracts.by_earlier_document_hash(client_id, sha256).await,
    }
}

async fn chain_intact(state: &Services, contract_id: &str) -> Result<bool, StoreError> {
    let stream = StreamId::new(ContractAggregate::NAME, contract_id);
    Ok(crate::store::chain::verify_stream(&state.store, &stream)
        .await?
        .is_intact())
}

async fn check(
    state: &Services,
    bytes: &[u8],
    contract: Option<&RowView>,
    stored: bool,
) -> Result<Verification, VerifyError> {
    let sha256 = hex::encode(Sha256::digest(bytes));
    let mut problems = Vec::new();
    let pdf = validate(state, bytes);
    for problem in &pdf.problems {
        problems.push(problem.to_string());
    }
    let signature_info = signature_facts(&pdf, bytes);
    let mut answer = Verification {
        valid: false,
        reason: None,
        contract_id: contract.map(|row| row.required_text("contract_id").to_owned()),
        document_hash: Some(format!("sha256:{sha256}")),
        sealed_at: None,
        chain_intact: None,
        content_matches_events: None,
        signature_info,
        archive_info: not_archived(),
        problems: Vec::new(),
        verdict: Verdict::Invalid,
        sealed_document_hash: None,
        hash_matches_sealed: None,
        signatures_valid: Some(pdf.valid),
    };
    match contract {
        None => problems.push(
            "no contract of this client was sealed with this file: it is not the document esign \
             sealed (changed, or another document)"
                .to_owned(),
        ),
        Some(contract) => {
            let contract_id = contract.required_text("contract_id");
            let sealed_hash = contract.text("document_hash");
            let intact = chain_intact(state, contract_id).await?;
            answer.chain_intact = Some(intact);
            if !intact {
                problems.push("the contract's event chain is broken".to_owned());
            }
            let SealedFacts {
                sealed_at,
                content_matches,
                versions,
            } = sealed_facts(state, contract_id, bytes).await?;
            // The current file, or one it grew from by a renewal (a prefix of it, in the log).
            let known_version = versions.iter().any(|version| version == &sha256);
            answer.sealed_document_hash = sealed_hash.map(|sealed| format!("sha256:{sealed}"));
            answer.hash_matches_sealed = sealed_hash.map(|_| known_version);
            if !known_version {
                problems.push("the file's hash is not the hash sealed for the contract".to_owned());
            }
            answer.sealed_at = sealed_at;
            if stored || content_matches.is_some() {
                answer.content_matches_events = content_matches;
                if content_matches == Some(false) {
                    problems.push(
                        "the document's first revision is not what the contract's events render to"
                            .to_owned(),
                    );
                }
            }
            let (archive_info, archive_problems) = archive_info(state, contract_id).await?;
            answer.archive_info = archive_info;
            problems.extend(archive_problems);
        }
    }
    answer.valid = problems.is_empty() && pdf.valid;
    answer.reason = problems.first().cloned();
    answer.problems = problems;
    answer.verdict = decide(&answer);
    Ok(answer)
}

/// Validates the signatures against the platform root, and signers' also against the personal
/// CAs the deployment trusts (CA_CERT signers sign with their own certificates).
fn validate(state: &Services, bytes: &[u8]) -> PdfValidation {
    let platform: Vec<x509_cert::Certificate> = state
        .platform_seal
        .as_ref()
        .map(|platform| vec![platform.ca().root().clone()])
        .unwrap_or_default();
    validate_signatures_with(
        bytes,
        Anchors {
            platform: &platform,
            personal: state.personal.roots.anchors(),
        },
    )
}

/// Validates every signature of `bytes` against the platform's `anchors` alone (see
/// [`validate_signatures_with`]).
pub fn validate_signatures(bytes: &[u8], anchors: &[x509_cert::Certificate]) -> PdfValidation {
    validate_signatures_with(
        bytes,
        Anchors {
            platform: anchors,
            personal: &[],
        },
    )
}

/// Validates every signature of `bytes`; signers' certificates are checked at the time the last
/// signature's timestamp (the platform seal's) vouches for, since it covers every earlier revision.
pub fn validate_signatures_with(bytes: &[u8], anchors: Anchors<'_>) -> PdfValidation {
    let first = validate_pdf_with(bytes, anchors, None);
    let sealed_time = first
        .signatures
        .iter()
        .rev()
        .find_map(|signature| signature.timestamp.as_ref().map(|timestamp| timestamp.time));
    match sealed_time {
        Some(time) => validate_pdf_with(bytes, anchors, Some(time)),
        None => first,
    }
}

/// What the log says of a contract's sealed document.
#[derive(Debug, Default)]
struct SealedFacts {
    sealed_at: Option<DateTime<Utc>>,
    /// Whether the file begins with the first revision the events render to (`None` when the log
    /// keeps no content hash, i.e. sealed before it was kept).
    content_matches: Option<bool>,
    /// The SHA-256 (hex) of every version of the document: as sealed, then each renewal.
    versions: Vec<String>,
}

async fn sealed_facts(
    state: &Services,
    contract_id: &str,
    bytes: &[u8],
) -> Result<SealedFacts, VerifyError> {
    let stream = StreamId::new(ContractAggregate::NAME, contract_id);
    let loaded = state
        .pipeline
        .load::<ContractAggregate>(&stream)
        .await
        .map_err(|error| StoreError::Database(error.to_string()))?;
    let ContractState::Signed {
        contract,
        document: Some(document),
        ..
    } = &loaded.state
    else {
        return Ok(SealedFacts::default());
    };
    let versions = document
        .earlier
        .iter()
        .map(|version| &version.document_hash)
        .chain([&document.document_hash])
        .map(|hash| hash.as_hex().to_owned())
        .collect();
    let content_matches = match &document.content_hash {
        None => None,
        Some(content_hash) => {
            let content = render_content(state, contract).await?;
            Some(
                hex::encode(content.sha256) == content_hash.as_hex()
                    && bytes.starts_with(&content.rendered.bytes),
            )
        }
    };
    Ok(SealedFacts {
        sealed_at: Some(document.sealed_at),
        content_matches,
        versions,
    })
}

/// The archive records of the contract, each re-verified against the version of the document it
/// archived (a renewal later grows the file; the archived version stays in the log).
async fn archive_info(
    state: &Services,
    contract_id: &str,
) -> Result<(Value, Vec<String>), VerifyError> {
    let rows = state.store.contracts().archives(contract_id).await?;
    let mut problems = Vec::new();
    let mut records = Vec::new();
    let mut first_success: Option<(Option<DateTime<Utc>>, Option<String>)> = None;
    for row in rows {
        let mut document_hash = [0u8; 32];
        let hash_ok = row
            .text("document_hash")
            .is_some_and(|hash| hex::decode_to_slice(hash, &mut document_hash).is_ok());
        let provider = row
            .text("archive_provider")
            .and_then(|code| code.parse::<aggregates::values::ArchiveProvider>().ok());
        let status = row.text("status").unwrap_or_default().to_owned();
        let metadata = row.json("metadata_json").unwrap_or(Value::Null);
        let (verified, reason) = match (status.as_str(), provider) {
            ("SUCCESS", Some(provider)) if hash_ok => match verify_receipt(
                provider,
                &metadata["evidence"],
                &document_hash,
                &state.receipt_trust,
            ) {
                Ok(_) => (Some(true), None),
                Err(error) => {
                    problems.push(format!(
                        "archive {} ({}) does not verify: {error}",
                        row.required_text("archive_id"),
                        provider.as_str()
                    ));
                    (Some(false), Some(error.to_string()))
                }
            },
            _ => (None, row.text("fail_reason").map(str::to_owned)),
        };
        let authority = metadata["authority"].as_str().map(str::to_owned);
        if status == "SUCCESS" && verified == Some(true) && first_success.is_none() {
            first_success = Some((row.time("archive_time"), authority.clone()));
        }
        records.push(json!({
            "archiveId": row.text("archive_id"),
            "provider": row.text("archive_provider"),
            "status": status,
            "archiveTime": row.time("archive_time"),
            "authority": authority,
            "transactionNo": row.text("transaction_no"),
            "verified": verified,
            "reason": reason,
        }));
    }
    let (archive_time, authority) = first_success.clone().unwrap_or((None, None));
    Ok((
        json!({
            "archived": first_success.is_some(),
            "archiveTime": archive_time,
            "timestampAuthority": authority,
            "records": records,
        }),
        problems,
    ))
}
