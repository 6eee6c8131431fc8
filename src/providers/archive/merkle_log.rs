//! The `BLOCKCHAIN` provider until a real chain adapter is configured: an append-only Merkle log in
//! esign's own database, in the layout of RFC 6962, with a signed tree head after every append.
//!
//! It is not a blockchain and never calls itself one: its name, in receipts and evidence, is
//! [`LOG_NAME`]. What it gives is what a transparency log gives: each archived document hash is a
//! leaf with an inclusion proof up to a root the platform CA's TSA key signed at a time, and any two
//! tree heads can be shown consistent (the later tree extends the earlier one), so a leaf cannot be
//! changed or removed later without the signed heads given out before showing it. Whoever holds the
//! database and the TSA key could still fork the log; publishing tree heads elsewhere (or a real
//! chain adapter) is what closes that.
//!
//! # Encodings (fixed; changing them is a new version)
//!
//! Leaf data ([`leaf_data`]), hashed as an RFC 6962 leaf (`SHA-256(0x00 || data)`):
//!
//! ```text
//! "esign-archive-leaf-v1"         21 bytes, ASCII
//! u16 length || contract id       big-endian length, UTF-8
//! u16 length || archive id        big-endian length, UTF-8
//! document SHA-256                32 bytes
//! appended at                     u64 big-endian, milliseconds since the Unix epoch
//! ```
//!
//! Signed tree head ([`tree_head_bytes`]): RFC 6962 section 3.5's `TreeHeadSignature`, 50 bytes,
//! signed with ECDSA P-256 / SHA-256 by the CA's TSA key (DER `Ecdsa-Sig-Value`):
//!
//! ```text
//! version          u8   0 (v1)
//! signature type   u8   1 (tree_hash)
//! timestamp        u64  big-endian, milliseconds since the Unix epoch
//! tree size        u64  big-endian
//! root hash        32 bytes
//! ```
//!
//! Its first byte is 0x00, so it can never be taken for the DER signed attributes (0x31) the same
//! key signs in timestamp tokens.
//!
//! # Storage and serialisation
//!
//! Tables `merkle_log_leaves`, `merkle_log_nodes` (the hash of every completed perfect subtree) and
//! `merkle_log_tree_heads` (one per tree size), all append-only, kept by [`crate::store::merkle_log`],
//! which runs each append's rules ([`AppendRule`]) under a lock so leaf indexes are dense. An append
//! reads the peaks of
//! the current tree (at most 64 hashes), stores the subtrees the new leaf completes and signs the new
//! root; a proof reads the O(log n) subtree hashes it needs ([`super::subtrees`]). No operation reads
//! every leaf.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat, Utc};
use der::Decode;
use serde::{Deserialize, Serialize};
use x509_cert::Certificate;

use super::merkle::{self, Hash, ProofError};
use super::subtrees::{self, Node, SubtreeError};
use super::{
    ArchiveError, ArchiveProvider, ArchiveReceipt, ArchiveRequest, Archiver, ReceiptTrust,
    VerifiedReceipt, VerifyError, parse_hash, serial_hex,
};
use crate::store::merkle_log::{AppendRule, LeafRow, LogAppend, NewLogEntry, NodeKey, TreeHeadRow};
use crate::store::{Store, StoreError};
use crate::trust::keys::KeyError;
use crate::trust::{Ca, cms, oid};

/// The log's name wherever a receipt names its authority or network.
pub const LOG_NAME: &str = "local-merkle-log";
/// The prefix and name of the leaf encoding.
pub const LEAF_ENCODING: &str = "esign-archive-leaf-v1";
/// `Version v1` of RFC 6962.
pub const TREE_HEAD_VERSION: u8 = 0;
const TREE_HASH_SIGNATURE_TYPE: u8 = 1;
const SIGNATURE_ALGORITHM: &str = "ecdsa-with-SHA256";

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("archive {0} is already in the log for another contract or document")]
    Conflict(String),
    #[error("the {0} is too long for a log leaf (at most 65535 bytes)")]
    TooLong(&'static str),
    #[error("the log has no tree of size {0}")]
    NoTreeHead(u64),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("the tree head cannot be signed: {0}")]
    Signing(#[from] KeyError),
    #[error("the log is inconsistent: {0}")]
    Corrupt(String),
}

impl From<SubtreeError> for LogError {
    fn from(error: SubtreeError) -> Self {
        match error {
            SubtreeError::Proof(proof) => Self::Proof(proof),
            other => Self::Corrupt(other.to_string()),
        }
    }
}

impl From<LogError> for ArchiveError {
    fn from(error: LogError) -> Self {
        match error {
            LogError::Store(StoreError::Unavailable(_)) => Self::Unavailable(error.to_string()),
            LogError::Conflict(_) | LogError::TooLong(_) => Self::Refused(error.to_string()),
            other => Self::Failed(other.to_string()),
        }
    }
}

/// The leaf data of one archived document (see the module docs).
pub fn leaf_data(
    contract_id: &str,
    archive_id: &str,
    document_hash: &Hash,
    appended_at_ms: u64,
) -> Result<Vec<u8>, LogError> {
    let length = |text: &str, what| u16::try_from(text.len()).map_err(|_| LogError::TooLong(what));
    let contract_length = length(contract_id, "contract id")?;
    let archive_length = length(archive_id, "archive id")?;
    let mut data =
        Vec::with_capacity(LEAF_ENCODING.len() + 4 + contract_id.len() + archive_id.len() + 40);
    data.extend_from_slice(LEAF_ENCODING.as_bytes());
    data.extend_from_slice(&contract_length.to_be_bytes());
    data.extend_from_slice(contract_id.as_bytes());
    data.extend_from_slice(&archive_length.to_be_bytes());
    data.extend_from_slice(archive_id.as_bytes());
    data.extend_from_slice(document_hash);
    data.extend_from_slice(&appended_at_ms.to_be_bytes());
    Ok(data)
}

/// The bytes a tree head signature covers (see the module docs).
pub fn tree_head_bytes(tree_size: u64, timestamp_ms: u64, root_hash: &Hash) -> [u8; 50] {
    let mut bytes = [0u8; 50];
    bytes[0] = TREE_HEAD_VERSION;
    bytes[1] = TREE_HASH_SIGNATURE_TYPE;
    bytes[2..10].copy_from_slice(&timestamp_ms.to_be_bytes());
    bytes[10..18].copy_from_slice(&tree_size.to_be_bytes());
    bytes[18..50].copy_from_slice(root_hash);
    bytes
}

/// One archived document in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLeaf {
    pub leaf_index: u64,
    pub leaf_hash: Hash,
    pub archive_id: String,
    pub contract_id: String,
    pub document_hash: Hash,
    /// Whole milliseconds: the leaf data carries milliseconds.
    pub appended_at: DateTime<Utc>,
}

impl LogLeaf {
    fn computed_hash(&self) -> Result<Hash, LogError> {
        Ok(merkle::leaf_hash(&leaf_data(
            &self.contract_id,
            &self.archive_id,
            &self.document_hash,
            millis(self.appended_at)?,
        )?))
    }
}

/// A tree head and the TSA key's signature over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTreeHead {
    pub tree_size: u64,
    /// Milliseconds since the Unix epoch, as signed.
    pub timestamp_ms: u64,
    pub root_hash: Hash,
    /// DER `Ecdsa-Sig-Value` over [`tree_head_bytes`].
    pub signature: Vec<u8>,
    /// The serial number (hex) of the certificate whose key signed.
    pub signer_serial: String,
}

impl SignedTreeHead {
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        i64::try_from(self.timestamp_ms)
            .ok()
            .and_then(DateTime::from_timestamp_millis)
    }

    /// Whether `certificate` (a TSA certificate, timeStamping usage) signed this head. Says nothing
    /// about trust in the certificate.
    pub fn verify_signature(&self, certificate: &Certificate) -> Result<(), String> {
        if serial_hex(certificate) != self.signer_serial {
            return Err("the tree head names another signer certificate".into());
        }
        cms::check_time_stamping_usage(certificate).map_err(|e| e.to_string())?;
        cms::verify_signature(
            certificate.tbs_certificate().subject_public_key_info(),
            &oid::ECDSA_WITH_SHA256,
            None,
            &tree_head_bytes(self.tree_size, self.timestamp_ms, &self.root_hash),
            &self.signature,
        )
        .map_err(|e| format!("the tree head signature: {e}"))
    }
}

/// The outcome of an append: the leaf, the tree head right after it, and the leaf's inclusion
/// proof up to that head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub leaf: LogLeaf,
    pub tree_head: SignedTreeHead,
    pub inclusion_proof: Vec<Hash>,
    /// False when the archive id was already in the log (a retry): the earlier leaf is returned.
    pub newly_appended: bool,
}

/// What the evidence of a log entry holds (`metadata_json`), in camelCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEvidence {
    /// Always [`LOG_NAME`].
    pub log: String,
    /// Always [`LEAF_ENCODING`].
    pub leaf_encoding: String,
    pub leaf_index: u64,
    pub leaf_hash: String,
    pub contract_id: String,
    pub archive_id: String,
    pub document_hash: String,
    /// RFC 3339 with milliseconds: the time in the leaf data.
    pub appended_at: String,
    pub tree_size: u64,
    pub root_hash: String,
    pub tree_head_version: u8,
    /// Milliseconds since the Unix epoch, as signed.
    pub tree_head_timestamp: u64,
    /// DER `Ecdsa-Sig-Value`, hex.
    pub tree_head_signature: String,
    pub signature_algorithm: String,
    pub signer_certificate_serial: String,
    /// The signer's certificate, DER, base64.
    pub signer_certificate: String,
    /// The audit path from the leaf to `rootHash`, hex, bottom up.
    pub inclusion_proof: Vec<String>,
}

impl Appended {
    /// The evidence, with the certificate that signed the tree head.
    pub fn evidence(&self, signer: &Certificate) -> Result<LogEvidence, LogError> {
        if serial_hex(signer) != self.tree_head.signer_serial {
            return Err(LogError::Corrupt(format!(
                "tree head {} was signed by certificate {}, which this CA no longer holds",
                self.tree_head.tree_size, self.tree_head.signer_serial
            )));
        }
        let certificate = der::Encode::to_der(signer)
            .map_err(|e| LogError::Corrupt(format!("the signer certificate: {e}")))?;
        Ok(LogEvidence {
            log: LOG_NAME.to_owned(),
            leaf_encoding: LEAF_ENCODING.to_owned(),
            leaf_index: self.leaf.leaf_index,
            leaf_hash: hex::encode(self.leaf.leaf_hash),
            contract_id: self.leaf.contract_id.clone(),
            archive_id: self.leaf.archive_id.clone(),
            document_hash: hex::encode(self.leaf.document_hash),
            appended_at: self
                .leaf
                .appended_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            tree_size: self.tree_head.tree_size,
            root_hash: hex::encode(self.tree_head.root_hash),
            tree_head_version: TREE_HEAD_VERSION,
            tree_head_timestamp: self.tree_head.timestamp_ms,
            tree_head_signature: hex::encode(&self.tree_head.signature),
            signature_algorithm: SIGNATURE_ALGORITHM.to_owned(),
            signer_certificate_serial: self.tree_head.signer_serial.clone(),
            signer_certificate: BASE64.encode(certificate),
            inclusion_proof: self.inclusion_proof.iter().map(hex::encode).collect(),
        })
    }
}

/// The transaction number of leaf `leaf_index`.
pub fn transaction_no(leaf_index: u64) -> String {
    format!("{LOG_NAME}:{leaf_index}")
}

fn millis(time: DateTime<Utc>) -> Result<u64, LogError> {
    u64::try_from(time.timestamp_millis())
        .map_err(|_| LogError::Corrupt(format!("{time} is before 1970")))
}

fn from_millis(ms: u64) -> Result<DateTime<Utc>, LogError> {
    i64::try_from(ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(|| LogError::Corrupt(format!("{ms} ms is out of range")))
}

/// The new subtrees, the new root and the new leaf's inclusion proof when leaf `size` (the next
/// index) with hash `leaf` joins a tree of `size` leaves. `lookup` answers for stored nodes.
struct AppendPlan {
    completed: Vec<(Node, Hash)>,
    root: Hash,
    inclusion_proof: Vec<Hash>,
}

fn plan_append(
    size: u64,
    leaf: Hash,
    lookup: subtrees::Lookup<'_>,
) -> Result<AppendPlan, SubtreeError> {
    let completed = subtrees::nodes_completed_by(size, leaf, lookup)?;
    let mut fresh: BTreeMap<Node, Hash> = completed.iter().copied().collect();
    fresh.insert(
        Node {
            level: 0,
            index: size,
        },
        leaf,
    );
    let mut combined = |node: Node| fresh.get(&node).copied().or_else(|| lookup(node));
    let root = subtrees::root(size + 1, &mut combined)?;
    let inclusion_proof = subtrees::inclusion_proof(size, size + 1, &mut combined)?;
    Ok(AppendPlan {
        completed,
        root,
        inclusion_proof,
    })
}

/// The stored nodes an append to a tree of `size` leaves reads.
fn nodes_for_append(size: u64) -> Result<BTreeSet<Node>, LogError> {
    Ok(subtrees::nodes_read_by(|lookup| {
        plan_append(size, [0; 32], lookup)
    })?)
}

/// Everything an append writes, decided once the reads are done.
struct NewEntry {
    appended: Appended,
    completed: Vec<(Node, Hash)>,
}

fn decide_append(
    ca: &Ca,
    request: &ArchiveRequest,
    now: DateTime<Utc>,
    latest: Option<&SignedTreeHead>,
    stored: &BTreeMap<Node, Hash>,
) -> Result<NewEntry, LogError> {
    let size = latest.map_or(0, |head| head.tree_size);
    // Tree head times never go backwards, even when instances' clocks disagree.
    let timestamp_ms = millis(now)?.max(latest.map_or(0, |head| head.timestamp_ms));
    let mut leaf = LogLeaf {
        leaf_index: size,
        leaf_hash: [0; 32],
        archive_id: request.archive_id.clone(),
        contract_id: request.contract_id.clone(),
        document_hash: request.document_hash,
        appended_at: from_millis(timestamp_ms)?,
    };
    leaf.leaf_hash = leaf.computed_hash()?;
    let plan = plan_append(size, leaf.leaf_hash, &mut subtrees::from_map(stored))?;
    let tree_size = size + 1;
    let tsa = ca.tsa();
    let signature = tsa
        .key
        .sign(&tree_head_bytes(tree_size, timestamp_ms, &plan.root))?;
    Ok(NewEntry {
        appended: Appended {
            leaf,
            tree_head: SignedTreeHead {
                tree_size,
                timestamp_ms,
                root_hash: plan.root,
                signature,
                signer_serial: serial_hex(&tsa.certificate),
            },
            inclusion_proof: plan.inclusion_proof,
            newly_appended: true,
        },
        completed: plan.completed,
    })
}

/// A retry of an archive already in the log: the same leaf, or a conflict.
fn check_retry(existing: &LogLeaf, request: &ArchiveRequest) -> Result<(), LogError> {
    if existing.contract_id != request.contract_id
        || existing.document_hash != request.document_hash
    {
        return Err(LogError::Conflict(request.archive_id.clone()));
    }
    if existing.computed_hash()? != existing.leaf_hash {
        return Err(LogError::Corrupt(format!(
            "leaf {} does not hash to its stored hash",
            existing.leaf_index
        )));
    }
    Ok(())
}

/// The log's rules for one append, run by the store under the log's lock.
struct AppendDecision {
    ca: Arc<Ca>,
    request: ArchiveRequest,
    now: DateTime<Utc>,
}

impl AppendRule for AppendDecision {
    type Error = LogError;

    fn retry(&self, existing: &LeafRow) -> Result<BTreeSet<NodeKey>, LogError> {
        let existing = LogLeaf::from(existing.clone());
        check_retry(&existing, &self.request)?;
        let (index, size) = (existing.leaf_index, existing.leaf_index + 1);
        let needed =
            subtrees::nodes_read_by(|lookup| subtrees::inclusion_proof(index, size, lookup))?;
        Ok(node_keys(&needed))
    }

    fn nodes_for_append(&self, size: u64) -> Result<BTreeSet<NodeKey>, LogError> {
        Ok(node_keys(&nodes_for_append(size)?))
    }

    fn decide(
        &self,
        latest: Option<&TreeHeadRow>,
        stored: &BTreeMap<NodeKey, Hash>,
    ) -> Result<NewLogEntry, LogError> {
        let latest = latest.cloned().map(SignedTreeHead::from);
        let stored = nodes_of(stored.clone());
        let entry = decide_append(&self.ca, &self.request, self.now, latest.as_ref(), &stored)?;
        Ok(NewLogEntry {
            leaf: entry.appended.leaf.into(),
            completed: entry
                .completed
                .into_iter()
                .map(|(node, hash)| (NodeKey::from(node), hash))
                .collect(),
            head: entry.appended.tree_head.into(),
            inclusion_proof: entry.appended.inclusion_proof,
        })
    }
}

fn node_keys(nodes: &BTreeSet<Node>) -> BTreeSet<NodeKey> {
    nodes.iter().copied().map(NodeKey::from).collect()
}

fn nodes_of(stored: BTreeMap<NodeKey, Hash>) -> BTreeMap<Node, Hash> {
    stored
        .into_iter()
        .map(|(key, hash)| (Node::from(key), hash))
        .collect()
}

impl From<Node> for NodeKey {
    fn from(node: Node) -> Self {
        Self {
            level: node.level,
            index: node.index,
        }
    }
}

impl From<NodeKey> for Node {
    fn from(key: NodeKey) -> Self {
        Self {
            level: key.level,
            index: key.index,
        }
    }
}

impl From<LeafRow> for LogLeaf {
    fn from(row: LeafRow) -> Self {
        Self {
            leaf_index: row.leaf_index,
            leaf_hash: row.leaf_hash,
            archive_id: row.archive_id,
            contract_id: row.contract_id,
            document_hash: row.document_hash,
            appended_at: row.appended_at,
        }
    }
}

impl From<LogLeaf> for LeafRow {
    fn from(leaf: LogLeaf) -> Self {
        Self {
            leaf_index: leaf.leaf_index,
            leaf_hash: leaf.leaf_hash,
            archive_id: leaf.archive_id,
            contract_id: leaf.contract_id,
            document_hash: leaf.document_hash,
            appended_at: leaf.appended_at,
        }
    }
}

impl From<TreeHeadRow> for SignedTreeHead {
    fn from(row: TreeHeadRow) -> Self {
        Self {
            tree_size: row.tree_size,
            timestamp_ms: row.timestamp_ms,
            root_hash: row.root_hash,
            signature: row.signature,
            signer_serial: row.signer_serial,
        }
    }
}

impl From<SignedTreeHead> for TreeHeadRow {
    fn from(head: SignedTreeHead) -> Self {
        Self {
            tree_size: head.tree_size,
            timestamp_ms: head.timestamp_ms,
            root_hash: head.root_hash,
            signature: head.signature,
            signer_serial: head.signer_serial,
        }
    }
}

/// The append-only Merkle log behind `BLOCKCHAIN`, in the service's database.
#[derive(Debug, Clone)]
pub struct MerkleLog {
    store: Store,
    ca: Arc<Ca>,
}

impl MerkleLog {
    /// A log in `store` whose tree heads `ca`'s TSA key signs.
    pub fn new(store: Store, ca: Arc<Ca>) -> Self {
        Self { store, ca }
    }

    /// Appends the request's document hash (or finds it, when the archive id is in the log
    /// already: retries are safe) and signs the new tree head.
    pub async fn append(
        &self,
        request: &ArchiveRequest,
        now: DateTime<Utc>,
    ) -> Result<Appended, LogError> {
        // Refuse an unencodable leaf before taking any lock.
        leaf_data(
            &request.contract_id,
            &request.archive_id,
            &request.document_hash,
            0,
        )?;
        let rule = AppendDecision {
            ca: Arc::clone(&self.ca),
            request: request.clone(),
            now,
        };
        match self
            .store
            .merkle_log()
            .append(&request.archive_id, rule)
            .await?
        {
            LogAppend::Existing { leaf, head, stored } => {
                let (index, size) = (leaf.leaf_index, leaf.leaf_index + 1);
                let tree_head = head.ok_or(LogError::NoTreeHead(size))?;
                let stored = nodes_of(stored);
                let inclusion_proof =
                    subtrees::inclusion_proof(index, size, &mut subtrees::from_map(&stored))?;
                Ok(Appended {
                    leaf: leaf.into(),
                    tree_head: tree_head.into(),
                    inclusion_proof,
                    newly_appended: false,
                })
            }
            LogAppend::Appended(entry) => Ok(Appended {
                leaf: entry.leaf.into(),
                tree_head: entry.head.into(),
                inclusion_proof: entry.inclusion_proof,
                newly_appended: true,
            }),
        }
    }

    /// The leaf of `archive_id`, if it is in the log.
    pub async fn leaf(&self, archive_id: &str) -> Result<Option<LogLeaf>, LogError> {
        Ok(self
            .store
            .merkle_log()
            .leaf(archive_id)
            .await?
            .map(LogLeaf::from))
    }

    /// The newest signed tree head (`None` while the log is empty).
    pub async fn latest_tree_head(&self) -> Result<Option<SignedTreeHead>, LogError> {
        Ok(self
            .store
            .merkle_log()
            .latest_head()
            .await?
            .map(SignedTreeHead::from))
    }

    /// The signed tree head of the tree of `tree_size` leaves.
    pub async fn tree_head(&self, tree_size: u64) -> Result<Option<SignedTreeHead>, LogError> {
        Ok(self
            .store
            .merkle_log()
            .head(tree_size)
            .await?
            .map(SignedTreeHead::from))
    }

    /// The audit path of leaf `leaf_index` in the tree of `tree_size` leaves (a size the log has
    /// reached).
    pub async fn inclusion_proof(
        &self,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<Vec<Hash>, LogError> {
        self.proof(tree_size, move |lookup| {
            subtrees::inclusion_proof(leaf_index, tree_size, lookup)
        })
        .await
    }

    /// The proof that the tree of `old_size` leaves is a prefix of the tree of `new_size` leaves.
    pub async fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, LogError> {
        self.proof(new_size, move |lookup| {
            subtrees::consistency_proof(old_size, new_size, lookup)
        })
        .await
    }

    /// Runs `compute` over the stored nodes it needs, once the log has reached `tree_size`.
    async fn proof<F>(&self, tree_size: u64, compute: F) -> Result<Vec<Hash>, LogError>
    where
        F: Fn(subtrees::Lookup<'_>) -> Result<Vec<Hash>, SubtreeError> + Send + 'static,
    {
        // Nodes of a tree size the log has reached never change, so no lock is needed.
        let needed = subtrees::nodes_read_by(&compute)?;
        let reached = self
            .latest_tree_head()
            .await?
            .is_some_and(|head| head.tree_size >= tree_size);
        if !reached {
            return Err(LogError::NoTreeHead(tree_size));
        }
        let stored = self.store.merkle_log().nodes(&node_keys(&needed)).await?;
        Ok(compute(&mut subtrees::from_map(&nodes_of(stored)))?)
    }

    fn receipt(&self, appended: &Appended) -> Result<ArchiveReceipt, LogError> {
        let evidence = appended.evidence(&self.ca.tsa().certificate)?;
        Ok(ArchiveReceipt {
            transaction_no: transaction_no(appended.leaf.leaf_index),
            archived_at: appended.leaf.appended_at,
            authority: LOG_NAME.to_owned(),
            evidence: serde_json::to_value(evidence)
                .map_err(|e| LogError::Corrupt(format!("log evidence: {e}")))?,
        })
    }
}

#[async_trait::async_trait]
impl Archiver for MerkleLog {
    fn provider(&self) -> ArchiveProvider {
        ArchiveProvider::Blockchain
    }

    async fn archive(&self, request: &ArchiveRequest) -> Result<ArchiveReceipt, ArchiveError> {
        let appended = self.append(request, Utc::now()).await?;
        Ok(self.receipt(&appended)?)
    }
}

/// Checks log evidence: the leaf data hashes to the leaf, the audit path leads from it to the root,
/// and a TSA certificate chaining to an anchor signed that root as the head of a tree of that size.
pub(crate) fn verify_evidence(
    evidence: &serde_json::Value,
    document_hash: &[u8; 32],
    trust: &ReceiptTrust,
) -> Result<VerifiedReceipt, VerifyError> {
    let malformed =
        |what: &str, e: &dyn std::fmt::Display| VerifyError::Malformed(format!("{what}: {e}"));
    let evidence =
        LogEvidence::deserialize(evidence).map_err(|e| VerifyError::Malformed(e.to_string()))?;
    if evidence.log != LOG_NAME
        || evidence.leaf_encoding != LEAF_ENCODING
        || evidence.tree_head_version != TREE_HEAD_VERSION
        || evidence.signature_algorithm != SIGNATURE_ALGORITHM
    {
        return Err(VerifyError::Malformed(format!(
            "log {:?}, leaf encoding {:?}, tree head version {}, {:?} are not this log's",
            evidence.log,
            evidence.leaf_encoding,
            evidence.tree_head_version,
            evidence.signature_algorithm
        )));
    }
    if parse_hash(&evidence.document_hash, "documentHash")? != *document_hash {
        return Err(VerifyError::OtherDocument);
    }
    let appended_at = DateTime::parse_from_rfc3339(&evidence.appended_at)
        .map_err(|e| malformed("appendedAt", &e))?
        .with_timezone(&Utc);
    let appended_ms =
        u64::try_from(appended_at.timestamp_millis()).map_err(|e| malformed("appendedAt", &e))?;
    let leaf = merkle::leaf_hash(
        &leaf_data(
            &evidence.contract_id,
            &evidence.archive_id,
            document_hash,
            appended_ms,
        )
        .map_err(|e| malformed("leaf", &e))?,
    );
    if leaf != parse_hash(&evidence.leaf_hash, "leafHash")? {
        return Err(VerifyError::Invalid(
            "the leaf data does not hash to leafHash".into(),
        ));
    }
    let proof = evidence
        .inclusion_proof
        .iter()
        .map(|node| parse_hash(node, "inclusionProof"))
        .collect::<Result<Vec<_>, _>>()?;
    let root = parse_hash(&evidence.root_hash, "rootHash")?;
    let (index, size) = (
        usize::try_from(evidence.leaf_index).map_err(|e| malformed("leafIndex", &e))?,
        usize::try_from(evidence.tree_size).map_err(|e| malformed("treeSize", &e))?,
    );
    if !merkle::verify_inclusion(&leaf, index, size, &proof, &root) {
        return Err(VerifyError::Invalid(
            "the inclusion proof does not lead to rootHash".into(),
        ));
    }
    let certificate = BASE64
        .decode(&evidence.signer_certificate)
        .map_err(|e| malformed("signerCertificate", &e))
        .and_then(|der| {
            Certificate::from_der(&der).map_err(|e| malformed("signerCertificate", &e))
        })?;
    let head = SignedTreeHead {
        tree_size: evidence.tree_size,
        timestamp_ms: evidence.tree_head_timestamp,
        root_hash: root,
        signature: hex::decode(&evidence.tree_head_signature)
            .map_err(|e| malformed("treeHeadSignature", &e))?,
        signer_serial: evidence.signer_certificate_serial.clone(),
    };
    head.verify_signature(&certificate)
        .map_err(VerifyError::Invalid)?;
    let signed_at = std::time::Duration::from_millis(head.timestamp_ms);
    cms::verify_chain(
        &certificate,
        &trust.intermediates,
        &trust.anchors,
        signed_at,
    )
    .map_err(|e| VerifyError::Invalid(format!("the tree head signer: {e}")))?;
    if appended_ms > head.timestamp_ms {
        return Err(VerifyError::Invalid(
            "the leaf is dated after the tree head that holds it".into(),
        ));
    }
    Ok(VerifiedReceipt {
        provider: ArchiveProvider::Blockchain,
        transaction_no: transaction_no(evidence.leaf_index),
        archived_at: appended_at,
        authority: LOG_NAME.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_data_is_length_prefixed_and_fixed() {
        let data = leaf_data("C1", "A22", &[7; 32], 0x0102).unwrap();
        let mut expected = b"esign-archive-leaf-v1".to_vec();
        expected.extend_from_slice(&[0, 2, b'C', b'1', 0, 3, b'A', b'2', b'2']);
        expected.extend_from_slice(&[7; 32]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(data, expected);
        // Moving a byte between the ids changes the data: no ambiguity.
        assert_ne!(data, leaf_data("C1A", "22", &[7; 32], 0x0102).unwrap());
        assert!(matches!(
            leaf_data(&"x".repeat(70_000), "A", &[0; 32], 0),
            Err(LogError::TooLong("contract id"))
        ));
    }

    #[test]
    fn tree_head_bytes_follow_rfc_6962_tree_head_signature() {
        let bytes = tree_head_bytes(3, 0x0A0B, &[9; 32]);
        assert_eq!(bytes[..2], [0, 1]);
        assert_eq!(bytes[2..10], [0, 0, 0, 0, 0, 0, 0x0A, 0x0B]);
        assert_eq!(bytes[10..18], [0, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(bytes[18..], [9; 32]);
    }

    #[test]
    fn decided_appends_grow_the_rfc_tree_and_sign_it() {
        let ca = crate::trust::ca::NewCa::generate("esign", Utc::now())
            .unwrap()
            .ca;
        let mut stored = BTreeMap::new();
        let mut leaves = Vec::new();
        let mut latest: Option<SignedTreeHead> = None;
        let start = Utc::now();
        for i in 0..9u32 {
            let request = ArchiveRequest {
                archive_id: format!("A{i}"),
                contract_id: "C".into(),
                document_hash: [u8::try_from(i).unwrap(); 32],
                requested_at: start,
            };
            // A clock that goes backwards does not make tree heads go backwards.
            let now = start - chrono::TimeDelta::seconds(i64::from(i));
            let entry = decide_append(&ca, &request, now, latest.as_ref(), &stored).unwrap();
            let appended = &entry.appended;
            assert_eq!(appended.leaf.leaf_index, u64::from(i));
            assert!(
                appended.tree_head.timestamp_ms >= latest.as_ref().map_or(0, |h| h.timestamp_ms)
            );
            stored.insert(
                Node {
                    level: 0,
                    index: u64::from(i),
                },
                appended.leaf.leaf_hash,
            );
            stored.extend(entry.completed.iter().copied());
            leaves.push(appended.leaf.leaf_hash);
            assert_eq!(appended.tree_head.root_hash, merkle::root(&leaves));
            assert!(merkle::verify_inclusion(
                &appended.leaf.leaf_hash,
                leaves.len() - 1,
                leaves.len(),
                &appended.inclusion_proof,
                &appended.tree_head.root_hash
            ));
            appended
                .tree_head
                .verify_signature(&ca.tsa().certificate)
                .unwrap();
            let evidence =
                serde_json::to_value(appended.evidence(&ca.tsa().certificate).unwrap()).unwrap();
            let verified = super::super::verify_receipt(
                ArchiveProvider::Blockchain,
                &evidence,
                &request.document_hash,
                &ReceiptTrust::platform(&ca),
            )
            .unwrap();
            assert_eq!(verified.transaction_no, format!("local-merkle-log:{i}"));
            latest = Some(appended.tree_head.clone());
        }
    }

    #[test]
    fn log_evidence_that_was_tampered_with_fails() {
        let ca = crate::trust::ca::NewCa::generate("esign", Utc::now())
            .unwrap()
            .ca;
        let trust = ReceiptTrust::platform(&ca);
        let mut stored = BTreeMap::new();
        let mut latest = None;
        let mut evidence = serde_json::Value::Null;
        let hash = [5; 32];
        for i in 0..3u64 {
            let request = ArchiveRequest {
                archive_id: format!("A{i}"),
                contract_id: "C".into(),
                document_hash: hash,
                requested_at: Utc::now(),
            };
            let entry = decide_append(&ca, &request, Utc::now(), latest.as_ref(), &stored).unwrap();
            stored.insert(Node { level: 0, index: i }, entry.appended.leaf.leaf_hash);
            stored.extend(entry.completed.iter().copied());
            evidence =
                serde_json::to_value(entry.appended.evidence(&ca.tsa().certificate).unwrap())
                    .unwrap();
            latest = Some(entry.appended.tree_head);
        }
        assert!(verify_evidence(&evidence, &hash, &trust).is_ok());
        assert_eq!(
            verify_evidence(&evidence, &[6; 32], &trust),
            Err(VerifyError::OtherDocument)
        );
        let tampered = |field: &str, value: serde_json::Value| {
            let mut changed = evidence.clone();
            changed[field] = value;
            verify_evidence(&changed, &hash, &trust)
        };
        assert!(matches!(
            tampered("archiveId", "A9".into()),
            Err(VerifyError::Invalid(_))
        ));
        assert!(matches!(
            tampered("appendedAt", "2001-01-01T00:00:00.000Z".into()),
            Err(VerifyError::Invalid(_))
        ));
        assert!(matches!(
            tampered("leafIndex", 1.into()),
            Err(VerifyError::Invalid(_))
        ));
        assert!(matches!(
            tampered("rootHash", hex::encode([0u8; 32]).into()),
            Err(VerifyError::Invalid(_))
        ));
        assert!(matches!(
            tampered("treeHeadTimestamp", 1.into()),
            Err(VerifyError::Invalid(_))
        ));
        assert!(matches!(
            tampered("log", "chain".into()),
            Err(VerifyError::Malformed(_))
        ));
        let stranger = crate::trust::ca::NewCa::generate("stranger", Utc::now())
            .unwrap()
            .ca;
        assert!(matches!(
            verify_evidence(&evidence, &hash, &ReceiptTrust::platform(&stranger)),
            Err(VerifyError::Invalid(_))
        ));
    }
}
