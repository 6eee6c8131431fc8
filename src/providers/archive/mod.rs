//! Archiving signed documents (spec 4.1.3, table `contract_archive`): the providers behind one
//! trait, the evidence each leaves, and how that evidence is checked again later.
//!
//! # Layout
//!
//! - [`timestamp`]: `TSA` (RFC 3161 timestamps from remote authorities, tried in turn) and
//!   `LOCAL_CA` (esign's own timestamp service, in process). Evidence: the token.
//! - [`merkle_log`]: `BLOCKCHAIN` until a real chain adapter is configured: an append-only Merkle
//!   log in the database with signed tree heads. It calls itself `local-merkle-log`, never a chain.
//! - [`merkle`]: RFC 6962 hashing and proofs over a list of leaves; [`subtrees`]: the same
//!   computations over the stored hashes of perfect subtrees, which the log uses.
//! - the archive certificate PDF (存证证书) that prints this evidence is
//!   [`crate::documents::archive_certificate`].
//!
//! A provider turns an [`ArchiveRequest`] into an [`ArchiveReceipt`]: `transaction_no`,
//! `archived_at` and `evidence` (stored as `contract_archive.metadata_json`). [`verify_receipt`]
//! re-checks stored evidence against a document hash without calling any provider. See
//! `docs/archive.md` for the evidence fields and how to check them by hand.

pub mod merkle;
pub mod merkle_log;
pub mod subtrees;
pub mod timestamp;

use std::fmt::Debug;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::documents::archive_certificate::beijing;
use serde::Deserialize;
use x509_cert::Certificate;

pub use aggregates::values::ArchiveProvider;
pub use merkle_log::{LOG_NAME, MerkleLog};
pub use timestamp::{LocalCaArchiver, TsaArchiver};

/// The evidence of a receipt (`metadata_json`'s `evidence`), as labelled lines for people: what
/// the archive certificate prints.
pub fn readable_evidence(
    provider: ArchiveProvider,
    evidence: &serde_json::Value,
) -> Result<Vec<(String, String)>, String> {
    let malformed = |e: serde_json::Error| format!("the stored evidence cannot be shown: {e}");
    let pair = |label: &str, value: String| (label.to_owned(), value);
    Ok(match provider {
        ArchiveProvider::Tsa | ArchiveProvider::LocalCa => {
            let evidence =
                timestamp::TimestampEvidence::deserialize(evidence).map_err(malformed)?;
            let gen_time = DateTime::parse_from_rfc3339(&evidence.gen_time)
                .map(|time| beijing(time.with_timezone(&Utc)))
                .unwrap_or(evidence.gen_time);
            let mut fields = vec![
                pair("凭据格式", format!("{} 时间戳令牌", evidence.format)),
                pair("时间戳机构", evidence.tsa),
                pair("令牌序列号", evidence.serial_number),
                pair("令牌时间", gen_time),
                pair("时间戳策略", evidence.policy),
                pair("签名证书序列号", evidence.tsa_certificate_serial),
            ];
            if let Some(url) = evidence.url {
                fields.push(pair("时间戳服务地址", url));
            }
            fields
        }
        ArchiveProvider::Blockchain => {
            let evidence = merkle_log::LogEvidence::deserialize(evidence).map_err(malformed)?;
            let signed_at = i64::try_from(evidence.tree_head_timestamp)
                .ok()
                .and_then(DateTime::from_timestamp_millis)
                .map_or_else(|| evidence.tree_head_timestamp.to_string(), beijing);
            vec![
                pair("日志名称", evidence.log),
                pair("叶子序号", evidence.leaf_index.to_string()),
                pair("叶子哈希", evidence.leaf_hash),
                pair("树大小", evidence.tree_size.to_string()),
                pair("根哈希", evidence.root_hash),
                pair("树头签名时间", signed_at),
                pair("签名证书序列号", evidence.signer_certificate_serial),
                pair("包含证明节点数", evidence.inclusion_proof.len().to_string()),
            ]
        }
    })
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

/// One document to archive with one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveRequest {
    pub archive_id: String,
    pub contract_id: String,
    /// SHA-256 of the final signed PDF.
    pub document_hash: [u8; 32],
    pub requested_at: DateTime<Utc>,
}

/// What a provider gave back, to be stored in `contract_archive`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveReceipt {
    /// The provider's reference: a token serial number, or the log's leaf.
    pub transaction_no: String,
    /// When the provider attests the document existed (genTime, or the leaf's time).
    pub archived_at: DateTime<Utc>,
    /// Who attests it: the TSA's name, or [`LOG_NAME`].
    pub authority: String,
    /// Everything a verifier needs (`metadata_json`); see [`verify_receipt`].
    pub evidence: serde_json::Value,
}

/// Why archiving did not happen. The contract stays SIGNED either way and the archive is retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    /// The provider or the database could not be reached: retrying later should succeed.
    #[error("the archive provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider said no, or answered something that does not hold: retrying the same request
    /// is unlikely to help until someone looks at the cause.
    #[error("the archive provider refused: {0}")]
    Refused(String),
    /// esign itself failed (configuration, a key, an encoding, a database error).
    #[error("archiving failed: {0}")]
    Failed(String),
}

/// One archive provider (spec 4.1.3 step 3).
#[async_trait::async_trait]
pub trait Archiver: Send + Sync + Debug {
    fn provider(&self) -> ArchiveProvider;
    /// Archives the document hash. Safe to retry with the same request.
    async fn archive(&self, request: &ArchiveRequest) -> Result<ArchiveReceipt, ArchiveError>;
}

/// The certificates stored evidence must chain to.
#[derive(Debug, Clone, Default)]
pub struct ReceiptTrust {
    /// Roots: the platform root, and the roots of configured remote TSAs.
    pub anchors: Vec<Certificate>,
    /// Certificates for building chains that evidence does not carry.
    pub intermediates: Vec<Certificate>,
}

impl ReceiptTrust {
    /// Trusts the platform CA only (`LOCAL_CA` tokens, the Merkle log, and `/tsa` used as `TSA`).
    pub fn platform(ca: &crate::trust::Ca) -> Self {
        Self {
            anchors: vec![ca.root().clone()],
            intermediates: vec![ca.intermediate().clone()],
        }
    }

    /// The platform CA (when there is one) plus `[trust] tsa_trust_anchors`, the roots the TSA
    /// client accepts.
    pub fn from_config(
        config: &crate::trust::config::TrustConfig,
        ca: Option<&crate::trust::Ca>,
    ) -> Result<Self, VerifyError> {
        let mut trust = ca.map(Self::platform).unwrap_or_default();
        for path in &config.tsa_trust_anchors {
            let text = std::fs::read(path)
                .map_err(|e| VerifyError::Setup(format!("{}: {e}", path.display())))?;
            trust.anchors.extend(
                Certificate::load_pem_chain(&text)
                    .map_err(|e| VerifyError::Setup(format!("{}: {e}", path.display())))?,
            );
        }
        Ok(trust)
    }
}

/// What verified evidence attests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    pub provider: ArchiveProvider,
    pub transaction_no: String,
    pub archived_at: DateTime<Utc>,
    pub authority: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the archive evidence is malformed: {0}")]
    Malformed(String),
    #[error("the archive evidence is for another document")]
    OtherDocument,
    #[error("the archive evidence does not verify: {0}")]
    Invalid(String),
    #[error("the verifier cannot be set up: {0}")]
    Setup(String),
}

/// Re-checks stored evidence against `document_hash`, offline: an RFC 3161 token's signature,
/// imprint and chain (`TSA`, `LOCAL_CA`), or a Merkle leaf's inclusion proof and the signed tree
/// head it leads to (`BLOCKCHAIN`).
pub fn verify_receipt(
    provider: ArchiveProvider,
    evidence: &serde_json::Value,
    document_hash: &[u8; 32],
    trust: &ReceiptTrust,
) -> Result<VerifiedReceipt, VerifyError> {
    match provider {
        ArchiveProvider::Tsa | ArchiveProvider::LocalCa => {
            timestamp::verify_evidence(provider, evidence, document_hash, trust)
        }
        ArchiveProvider::Blockchain => merkle_log::verify_evidence(evidence, document_hash, trust),
    }
}

/// A certificate's serial number as lowercase hex.
pub(crate) fn serial_hex(certificate: &Certificate) -> String {
    hex::encode(certificate.tbs_certificate().serial_number().as_bytes())
}

pub(crate) fn parse_hash(text: &str, what: &str) -> Result<[u8; 32], VerifyError> {
    let bytes = hex::decode(text).map_err(|e| VerifyError::Malformed(format!("{what}: {e}")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| VerifyError::Malformed(format!("{what} is not 32 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_evidence() -> serde_json::Value {
        serde_json::json!({
            "log": "local-merkle-log", "leafEncoding": "esign-archive-leaf-v1", "leafIndex": 7,
            "leafHash": "11".repeat(32), "contractId": "CONTRACT_20250101_0001",
            "archiveId": "ARCHIVE_20250101_0001", "documentHash": "ab".repeat(32),
            "appendedAt": "2025-01-01T00:00:00.000Z", "treeSize": 8, "rootHash": "22".repeat(32),
            "treeHeadVersion": 0, "treeHeadTimestamp": 1_735_689_600_000u64,
            "treeHeadSignature": "3045", "signatureAlgorithm": "ecdsa-with-SHA256",
            "signerCertificateSerial": "4a", "signerCertificate": "", "inclusionProof": ["33".repeat(32)]
        })
    }

    #[test]
    fn log_evidence_reads_as_labelled_lines() {
        let lines = readable_evidence(ArchiveProvider::Blockchain, &log_evidence()).unwrap();
        assert!(lines.contains(&("根哈希".into(), "22".repeat(32))));
        assert!(lines.contains(&("叶子序号".into(), "7".into())));
        assert!(lines.contains(&(
            "树头签名时间".into(),
            "2025-01-01 08:00:00 (UTC+08:00)".into()
        )));
    }

    #[test]
    fn evidence_of_another_shape_is_an_error() {
        assert!(readable_evidence(ArchiveProvider::Tsa, &log_evidence()).is_err());
    }
}
