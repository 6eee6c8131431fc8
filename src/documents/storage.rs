//! Where signed documents and certificates are kept: behind [`DocumentStore`], encrypted at rest with
//! AES-256-GCM, and checked against their SHA-256 on every read.
//!
//! A stored blob is `ESDOC1` + key-id length (1 byte) + key id + 12-byte nonce + ciphertext and tag.
//! The associated data binds the blob to its storage key, so one document's file cannot be swapped in
//! for another's. The key id travels with the blob, so keys rotate: new writes use the active key,
//! old blobs still open with a retired key kept in the configuration.
//!
//! `app::services::document_store` builds the store `[documents]` names: [`LocalDocumentStore`] or
//! [`crate::providers::s3::S3DocumentStore`] (see docs/storage.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use sha2::{Digest, Sha256};

use aggregates::values::Mode;

use crate::documents::config::DocumentSettings;

const MAGIC: &[u8] = b"ESDOC1";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum DocumentStoreError {
    #[error("no document is stored under {0}")]
    NotFound(String),
    #[error(
        "the stored document {key} does not match its recorded hash (expected {expected}, found {found})"
    )]
    HashMismatch {
        key: String,
        expected: String,
        found: String,
    },
    #[error("the stored document {0} cannot be decrypted: it was altered or the key is wrong")]
    Corrupt(String),
    #[error("the document key {0} is not configured")]
    UnknownKey(String),
    #[error("the document keys are invalid: {0}")]
    InvalidKeys(String),
    #[error("storage key {0:?} is not allowed (letters, digits, '-', '_', '.', '/' segments only)")]
    InvalidStorageKey(String),
    #[error("document storage failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the random source failed: {0}")]
    Random(String),
    #[error("the document store refused our credentials: {0}")]
    Denied(String),
    #[error("the document store cannot be reached or failed: {0}")]
    Unavailable(String),
    #[error("the document store rejected the request: {0}")]
    Rejected(String),
    #[error("the document store is misconfigured: {0}")]
    Configuration(String),
    #[error(
        "production mode needs {0} in the configuration; generated keys are for development only"
    )]
    MissingInProduction(&'static str),
    #[error("cannot generate a development document key under {path}: {reason}")]
    GeneratedKey { path: PathBuf, reason: String },
}

/// What a successful write recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    pub storage_key: String,
    /// Lowercase hex SHA-256 of the plaintext.
    pub sha256: String,
    pub size: usize,
    /// The encryption key's id, for rotation.
    pub key_id: String,
}

/// Keeps documents.
#[async_trait::async_trait]
pub trait DocumentStore: Send + Sync + std::fmt::Debug {
    async fn put(
        &self,
        storage_key: &str,
        bytes: &[u8],
    ) -> Result<StoredDocument, DocumentStoreError>;
    /// The plaintext, refused unless its SHA-256 is `expected_sha256`.
    async fn get(
        &self,
        storage_key: &str,
        expected_sha256: &str,
    ) -> Result<Vec<u8>, DocumentStoreError>;
}

/// The encryption part, shared by every backend.
#[derive(Clone)]
pub struct DocumentCipher {
    active_key_id: String,
    keys: BTreeMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for DocumentCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentCipher")
            .field("active_key_id", &self.active_key_id)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl DocumentCipher {
    /// `keys`: key id -> base64 of 32 bytes; `active_key_id` encrypts new documents.
    pub fn new(
        active_key_id: &str,
        keys: &BTreeMap<String, String>,
    ) -> Result<Self, DocumentStoreError> {
        let mut ciphers = BTreeMap::new();
        for (id, encoded) in keys {
            if id.is_empty() || id.len() > 255 {
                return Err(DocumentStoreError::InvalidKeys(format!("key id {id:?}")));
            }
            let raw = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| DocumentStoreError::InvalidKeys(format!("key {id}: {e}")))?;
            let raw: [u8; 32] = raw.try_into().map_err(|_| {
                DocumentStoreError::InvalidKeys(format!("key {id} must be 32 bytes"))
            })?;
            ciphers.insert(id.clone(), Aes256Gcm::new(&raw.into()));
        }
        if !ciphers.contains_key(active_key_id) {
            return Err(DocumentStoreError::UnknownKey(active_key_id.to_owned()));
        }
        Ok(Self {
            active_key_id: active_key_id.to_owned(),
            keys: ciphers,
        })
    }

    fn associated_data(storage_key: &str, key_id: &str) -> Vec<u8> {
        format!("esign:document:v1:{key_id}:{storage_key}").into_bytes()
    }

    pub fn seal(&self, storage_key: &str, plaintext: &[u8]) -> Result<Vec<u8>, DocumentStoreError> {
        let cipher = self
            .keys
            .get(&self.active_key_id)
            .ok_or_else(|| DocumentStoreError::UnknownKey(self.active_key_id.clone()))?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| DocumentStoreError::Random(e.to_string()))?;
        let aad = Self::associated_data(storage_key, &self.active_key_id);
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| DocumentStoreError::Corrupt(storage_key.to_owned()))?;
        let key_id = self.active_key_id.as_bytes();
        let mut blob =
            Vec::with_capacity(MAGIC.len() + 1 + key_id.len() + NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(MAGIC);
        // `new` refuses key ids longer than 255 bytes.
        blob.push(u8::try_from(key_id.len()).unwrap_or(u8::MAX));
        blob.extend_from_slice(key_id);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        Ok(blob)
    }

    pub fn open(&self, storage_key: &str, blob: &[u8]) -> Result<Vec<u8>, DocumentStoreError> {
        let corrupt = || DocumentStoreError::Corrupt(storage_key.to_owned());
        let rest = blob.strip_prefix(MAGIC).ok_or_else(corrupt)?;
        let (&id_len, rest) = rest.split_first().ok_or_else(corrupt)?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + NONCE_LEN {
            return Err(corrupt());
        }
        let (key_id, rest) = rest.split_at(id_len);
        let key_id = std::str::from_utf8(key_id).map_err(|_| corrupt())?;
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let cipher = self
            .keys
            .get(key_id)
            .ok_or_else(|| DocumentStoreError::UnknownKey(key_id.to_owned()))?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| corrupt())?;
        let aad = Self::associated_data(storage_key, key_id);
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| corrupt())
    }

    /// What a store records of `plaintext` written under `storage_key` with the active key.
    pub fn record(&self, storage_key: &str, plaintext: &[u8]) -> StoredDocument {
        StoredDocument {
            storage_key: storage_key.to_owned(),
            sha256: sha256_hex(plaintext),
            size: plaintext.len(),
            key_id: self.active_key_id.clone(),
        }
    }

    pub fn active_key_id(&self) -> &str {
        &self.active_key_id
    }
}

/// Checks that a storage key is a relative path of plain segments (never `..`, never absolute).
pub(crate) fn checked_storage_key(storage_key: &str) -> Result<&str, DocumentStoreError> {
    let valid = !storage_key.is_empty()
        && storage_key.len() <= 512
        && storage_key.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if valid {
        Ok(storage_key)
    } else {
        Err(DocumentStoreError::InvalidStorageKey(
            storage_key.to_owned(),
        ))
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Refuses `plaintext` unless its SHA-256 is `expected_sha256` (hex, either case).
pub(crate) fn verify_hash(
    storage_key: &str,
    plaintext: &[u8],
    expected_sha256: &str,
) -> Result<(), DocumentStoreError> {
    let found = sha256_hex(plaintext);
    if bool::from(subtle::ConstantTimeEq::ct_eq(
        found.as_bytes(),
        expected_sha256.to_ascii_lowercase().as_bytes(),
    )) {
        Ok(())
    } else {
        Err(DocumentStoreError::HashMismatch {
            key: storage_key.to_owned(),
            expected: expected_sha256.to_owned(),
            found,
        })
    }
}

/// Documents as encrypted files under a directory (the default; on a shared or replicated volume
/// when several instances run).
#[derive(Debug, Clone)]
pub struct LocalDocumentStore {
    root: PathBuf,
    cipher: DocumentCipher,
}

impl LocalDocumentStore {
    pub fn new(root: impl Into<PathBuf>, cipher: DocumentCipher) -> Self {
        Self {
            root: root.into(),
            cipher,
        }
    }

    fn path(&self, storage_key: &str) -> Result<PathBuf, DocumentStoreError> {
        Ok(self.root.join(checked_storage_key(storage_key)?))
    }
}

/// Writes `bytes` to `path` so a reader never sees half a file: a temporary file, flushed to disk,
/// then renamed over the target.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let temporary = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    Ok(())
}

#[async_trait::async_trait]
impl DocumentStore for LocalDocumentStore {
    async fn put(
        &self,
        storage_key: &str,
        bytes: &[u8],
    ) -> Result<StoredDocument, DocumentStoreError> {
        let path = self.path(storage_key)?;
        let blob = self.cipher.seal(storage_key, bytes)?;
        tokio::task::spawn_blocking(move || write_atomically(&path, &blob))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
        Ok(self.cipher.record(storage_key, bytes))
    }

    async fn get(
        &self,
        storage_key: &str,
        expected_sha256: &str,
    ) -> Result<Vec<u8>, DocumentStoreError> {
        let path = self.path(storage_key)?;
        let blob = match tokio::fs::read(&path).await {
            Ok(blob) => blob,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(DocumentStoreError::NotFound(storage_key.to_owned()));
            }
            Err(error) => return Err(error.into()),
        };
        let plaintext = self.cipher.open(storage_key, &blob)?;
        verify_hash(storage_key, &plaintext, expected_sha256)?;
        Ok(plaintext)
    }
}

/// The id of the key development generates when `[documents]` names none.
pub const DEVELOPMENT_KEY_ID: &str = "dev";

/// The document cipher `[documents]` describes: its configured keys, or (development only) one key
/// generated once as `<data_dir>/keys/documents-dev.key` under the id `dev`.
pub fn document_cipher_from_config(
    settings: &DocumentSettings,
) -> Result<DocumentCipher, DocumentStoreError> {
    let documents = &settings.config;
    if let Some(active) = &documents.active_key_id {
        return DocumentCipher::new(active, &documents.encryption_keys);
    }
    if settings.mode == Mode::Production {
        return Err(DocumentStoreError::MissingInProduction(
            "documents.encryption_keys and documents.active_key_id",
        ));
    }
    let path = settings.generated_key_path("documents-dev.key");
    let key =
        crate::pii::load_or_generate_key(&path).map_err(|e| DocumentStoreError::GeneratedKey {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    DocumentCipher::new(
        DEVELOPMENT_KEY_ID,
        &BTreeMap::from([(DEVELOPMENT_KEY_ID.to_owned(), key)]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        crate::pii::PiiCipher::generate_key().unwrap()
    }

    fn store(dir: &Path, active: &str, keys: &[(&str, String)]) -> LocalDocumentStore {
        let keys = keys
            .iter()
            .map(|(id, key)| ((*id).to_owned(), key.clone()))
            .collect();
        LocalDocumentStore::new(dir, DocumentCipher::new(active, &keys).unwrap())
    }

    #[tokio::test]
    async fn a_document_round_trips_encrypted_and_hash_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), "k1", &[("k1", key())]);
        let pdf = b"%PDF-1.7 contract bytes".to_vec();
        let stored = store
            .put("contracts/CONTRACT_1/signed.pdf", &pdf)
            .await
            .unwrap();
        assert_eq!(stored.sha256, sha256_hex(&pdf));
        assert_eq!(stored.key_id, "k1");
        let on_disk = std::fs::read(dir.path().join("contracts/CONTRACT_1/signed.pdf")).unwrap();
        assert!(
            !on_disk.windows(4).any(|w| w == b"%PDF"),
            "encrypted at rest"
        );
        assert_eq!(
            store
                .get("contracts/CONTRACT_1/signed.pdf", &stored.sha256)
                .await
                .unwrap(),
            pdf
        );
        assert!(matches!(
            store
                .get("contracts/CONTRACT_1/signed.pdf", &sha256_hex(b"other"))
                .await,
            Err(DocumentStoreError::HashMismatch { .. })
        ));
        assert!(matches!(
            store
                .get("contracts/CONTRACT_2/signed.pdf", &stored.sha256)
                .await,
            Err(DocumentStoreError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn altered_or_swapped_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), "k1", &[("k1", key())]);
        let a = store.put("a.pdf", b"document a").await.unwrap();
        let b = store.put("b.pdf", b"document b").await.unwrap();
        // A byte flipped on disk.
        let path = dir.path().join("a.pdf");
        let mut blob = std::fs::read(&path).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        std::fs::write(&path, blob).unwrap();
        assert!(matches!(
            store.get("a.pdf", &a.sha256).await,
            Err(DocumentStoreError::Corrupt(_))
        ));
        // b's file under a's name does not open (the storage key is bound in).
        std::fs::copy(dir.path().join("b.pdf"), &path).unwrap();
        assert!(matches!(
            store.get("a.pdf", &b.sha256).await,
            Err(DocumentStoreError::Corrupt(_))
        ));
    }

    #[tokio::test]
    async fn keys_rotate_and_old_documents_still_open() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (key(), key());
        let before = store(dir.path(), "2026-01", &[("2026-01", old.clone())]);
        let stored = before.put("x.pdf", b"kept for years").await.unwrap();
        let after = store(dir.path(), "2026-07", &[("2026-01", old), ("2026-07", new)]);
        assert_eq!(
            after.get("x.pdf", &stored.sha256).await.unwrap(),
            b"kept for years"
        );
        assert_eq!(after.put("y.pdf", b"new").await.unwrap().key_id, "2026-07");
        let forgotten = store(dir.path(), "2026-07", &[("2026-07", key())]);
        assert!(matches!(
            forgotten.get("x.pdf", &stored.sha256).await,
            Err(DocumentStoreError::UnknownKey(id)) if id == "2026-01"
        ));
    }

    #[tokio::test]
    async fn storage_keys_cannot_escape_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), "k1", &[("k1", key())]);
        for bad in [
            "../x.pdf",
            "/etc/passwd",
            "a//b",
            "a/./b",
            "",
            "a\\b",
            "a/../b",
        ] {
            assert!(
                matches!(
                    store.put(bad, b"x").await,
                    Err(DocumentStoreError::InvalidStorageKey(_))
                ),
                "{bad:?}"
            );
        }
    }
}
