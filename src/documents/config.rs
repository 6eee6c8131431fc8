//! The `[documents]` section: where signed documents are kept, their encryption keys and the signed
//! download links (see docs/storage.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aggregates::values::Mode;
use serde::Deserialize;

/// Where `[documents]` keeps documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStoreKind {
    /// Encrypted files under `dir`.
    #[default]
    Local,
    /// Encrypted objects in an S3-compatible bucket (`[documents.s3]`).
    S3,
}

/// `[documents]`: where signed documents are kept, their encryption keys and the signed download
/// links (see docs/storage.md).
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentsConfig {
    pub store: DocumentStoreKind,
    /// The local store's directory; default `<data_dir>/documents`.
    pub dir: Option<PathBuf>,
    /// Key id -> base64 of 32 random bytes (AES-256-GCM). Keep retired keys here while documents
    /// sealed with them are kept. From the environment: `id=key,id=key`.
    #[serde(deserialize_with = "keys_table_or_list")]
    pub encryption_keys: BTreeMap<String, String>,
    /// The key that seals new documents. Development generates one (`dev`) under
    /// `<data_dir>/keys` when neither this nor `encryption_keys` is set; production requires both.
    pub active_key_id: Option<String>,
    /// How long a signed download link stays valid.
    pub download_url_ttl_seconds: u64,
    /// Base64 of at least 32 random bytes: the HMAC key of download links. Development generates
    /// one under `<data_dir>/keys`; production requires it.
    pub url_signing_key: Option<String>,
    pub s3: Option<S3Config>,
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        Self {
            store: DocumentStoreKind::Local,
            dir: None,
            encryption_keys: BTreeMap::new(),
            active_key_id: None,
            download_url_ttl_seconds: 300,
            url_signing_key: None,
            s3: None,
        }
    }
}

impl std::fmt::Debug for DocumentsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentsConfig")
            .field("store", &self.store)
            .field("dir", &self.dir)
            .field("encryption_key_ids", &self.encryption_keys.keys())
            .field("active_key_id", &self.active_key_id)
            .field("download_url_ttl_seconds", &self.download_url_ttl_seconds)
            .field(
                "url_signing_key",
                &self.url_signing_key.as_ref().map(|_| "<redacted>"),
            )
            .field("s3", &self.s3)
            .finish()
    }
}

/// The smallest URL signing key accepted, in bytes.
pub const MIN_URL_SIGNING_KEY_BYTES: usize = 32;

impl DocumentsConfig {
    /// How long a signed download link stays valid.
    pub fn download_url_ttl(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.download_url_ttl_seconds).unwrap_or(i64::MAX))
    }

    pub fn check(&self, mode: Mode) -> Result<(), String> {
        match (&self.active_key_id, self.encryption_keys.is_empty()) {
            (None, true) => {}
            (Some(active), false) => {
                for id in self.encryption_keys.keys() {
                    if id.is_empty() || id.len() > 64 || id.contains([',', '=']) {
                        return Err(format!(
                            "documents.encryption_keys: key id {id:?} must have 1-64 characters, \
                             no ',' or '='"
                        ));
                    }
                }
                crate::documents::storage::DocumentCipher::new(active, &self.encryption_keys)
                    .map_err(|e| format!("documents.encryption_keys: {e}"))?;
            }
            _ => {
                return Err(
                    "documents.active_key_id and documents.encryption_keys are set together".into(),
                );
            }
        }
        if !(10..=3_600).contains(&self.download_url_ttl_seconds) {
            return Err("documents.download_url_ttl_seconds must be between 10 and 3600".into());
        }
        if let Some(key) = &self.url_signing_key {
            use base64::Engine;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(key.trim())
                .map_err(|e| format!("documents.url_signing_key is not base64: {e}"))?;
            if raw.len() < MIN_URL_SIGNING_KEY_BYTES {
                return Err(format!(
                    "documents.url_signing_key must hold at least {MIN_URL_SIGNING_KEY_BYTES} bytes"
                ));
            }
        }
        match (self.store, &self.s3) {
            (DocumentStoreKind::S3, None) => {
                Err("documents.store = \"s3\" needs a [documents.s3] section".into())
            }
            // Settings for a store that is not used are a mistake waiting to lose documents to a
            // container's disk.
            (DocumentStoreKind::Local, Some(_)) => Err(
                "[documents.s3] is set but documents.store is \"local\"; set documents.store = \"s3\" \
                 or remove the section"
                    .into(),
            ),
            (DocumentStoreKind::S3, Some(s3)) => {
                s3.check()?;
                if mode == Mode::Production && !s3.endpoint.starts_with("https://") {
                    return Err("documents.s3.endpoint must be https in production".into());
                }
                Ok(())
            }
            (DocumentStoreKind::Local, None) => Ok(()),
        }
    }
}

/// `[documents.s3]`: an S3-compatible bucket.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// `https://s3.<region>.amazonaws.com`, `http://minio:9000`, ...: scheme, host and port only.
    pub endpoint: String,
    #[serde(default = "default_s3_region")]
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `https://endpoint/bucket/key` (most S3-compatible servers) rather than
    /// `https://bucket.endpoint/key`.
    #[serde(default = "default_true")]
    pub path_style: bool,
    /// Objects are `<prefix>/<storage key>`; empty keeps them at the bucket's top.
    #[serde(default)]
    pub prefix: String,
    /// One request's whole exchange, connect to last byte.
    #[serde(default = "default_s3_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_s3_region() -> String {
    "us-east-1".to_owned()
}

fn default_true() -> bool {
    true
}

fn default_s3_timeout_ms() -> u64 {
    30_000
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("path_style", &self.path_style)
            .field("prefix", &self.prefix)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl S3Config {
    /// Refuses settings that cannot work.
    pub fn check(&self) -> Result<(), String> {
        let endpoint = url::Url::parse(&self.endpoint)
            .map_err(|e| format!("documents.s3.endpoint: {:?}: {e}", self.endpoint))?;
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
            return Err("documents.s3.endpoint must be an http(s) URL with a host".into());
        }
        if endpoint.path() != "/"
            || endpoint.query().is_some()
            || endpoint.fragment().is_some()
            || !endpoint.username().is_empty()
        {
            return Err(
                "documents.s3.endpoint is scheme, host and port only (the bucket goes in \
                 documents.s3.bucket)"
                    .into(),
            );
        }
        // S3's bucket naming rules, which also keep the name safe in a host name and a path.
        let bucket = &self.bucket;
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.'])
            && !bucket.contains("..");
        if !bucket_ok {
            return Err(format!(
                "documents.s3.bucket {bucket:?} is not a bucket name (3-63 of a-z 0-9 . -)"
            ));
        }
        if self.region.trim().is_empty()
            || !self
                .region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("documents.s3.region must be a region name such as us-east-1".into());
        }
        if self.access_key_id.trim().is_empty() || self.secret_access_key.is_empty() {
            return Err(
                "documents.s3.access_key_id and documents.s3.secret_access_key are required".into(),
            );
        }
        let prefix = self.prefix.trim_matches('/');
        if !prefix.is_empty() && crate::documents::storage::checked_storage_key(prefix).is_err() {
            return Err(format!(
                "documents.s3.prefix {:?}: letters, digits, '-', '_', '.', '/' segments only",
                self.prefix
            ));
        }
        if !(1..=600_000).contains(&self.timeout_ms) {
            return Err("documents.s3.timeout_ms must be between 1 and 600000".into());
        }
        Ok(())
    }
}

/// `encryption_keys` as a TOML table, or (from an environment override) `id=key,id=key`.
fn keys_table_or_list<'de, D>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Keys {
        Table(BTreeMap<String, String>),
        List(String),
    }
    match Keys::deserialize(deserializer)? {
        Keys::Table(keys) => Ok(keys),
        Keys::List(list) => list
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                // Base64 ends in '=' padding, so the id is what precedes the first '='.
                pair.split_once('=')
                    .map(|(id, key)| (id.trim().to_owned(), key.trim().to_owned()))
                    .ok_or_else(|| {
                        serde::de::Error::custom(
                            "documents.encryption_keys from the environment is `id=key,id=key`",
                        )
                    })
            })
            .collect(),
    }
}

/// The `[documents]` section with what it is read against: the run mode (production refuses
/// generated keys), the data directory (development's files and keys) and the public base URL
/// (download links).
#[derive(Debug, Clone)]
pub struct DocumentSettings {
    pub config: DocumentsConfig,
    pub mode: Mode,
    pub data_dir: PathBuf,
    pub public_base_url: String,
}

impl DocumentSettings {
    /// `[documents] dir`, or `<data_dir>/documents`.
    pub fn documents_dir(&self) -> PathBuf {
        self.config
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("documents"))
    }

    /// Where development keeps a generated key.
    pub fn generated_key_path(&self, file: &str) -> PathBuf {
        self.data_dir.join("keys").join(file)
    }

    /// The default section in development, with its files under `data_dir`.
    pub fn development(data_dir: &Path, public_base_url: &str) -> Self {
        Self {
            config: DocumentsConfig::default(),
            mode: Mode::Development,
            data_dir: data_dir.to_path_buf(),
            public_base_url: public_base_url.to_owned(),
        }
    }
}
