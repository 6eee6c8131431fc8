//! Configuration: a TOML file with `ESIGN_<SECTION>_<KEY>` environment overrides.
//!
//! Every key has a development default, so `esign serve` starts with no file at all. Production mode
//! refuses the defaults that are only safe on a developer's machine (generated keys).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::pii::{PiiCipher, PiiError};

/// The sections an environment override may name, so `ESIGN_SERVER_PUBLIC_BASE_URL` splits into
/// section `server`, key `public_base_url`.
const SECTIONS: &[&str] = &[
    "server",
    "database",
    "security",
    "callbacks",
    "events",
    "expiry",
    "sms",
    "face",
    "sandbox",
    "h5",
    "trust",
    "documents",
    "archive",
];

/// Keys an environment override always sets as text: a password such as `123456` or `0x1f` must
/// not turn into a TOML number on the way.
const TEXT_KEYS: &[(&str, &str)] = &[("trust", "pkcs12_password")];

/// Tables inside a section that overrides may reach: `ESIGN_DOCUMENTS_S3_BUCKET` sets
/// `[documents.s3] bucket`.
const SUBSECTIONS: &[(&str, &str)] = &[("documents", "s3")];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration is invalid: {0}")]
    Invalid(String),
    #[error("personal-data keys: {0}")]
    Keys(#[from] PiiError),
    #[error("cannot write generated keys to {path}: {source}")]
    WriteKeys {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "production mode needs {0} in the configuration; generated keys are for development only"
    )]
    MissingInProduction(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Development,
    Production,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub public_base_url: String,
    pub mode: Mode,
    /// Where generated keys and the default SQLite file live.
    pub data_dir: PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_base_url: "http://127.0.0.1:8080".to_owned(),
            mode: Mode::Development,
            data_dir: PathBuf::from("data"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://<path>` or `postgres://...`.
    pub url: String,
    /// PostgreSQL pool size.
    pub max_connections: usize,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/esign.db".to_owned(),
            max_connections: 16,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// The key id that seals new personal data.
    pub pii_active_key: Option<String>,
    /// Key id -> base64 of 32 random bytes. Keep retired keys here so old values still open.
    pub pii_keys: BTreeMap<String, String>,
    /// Base64 of 32 random bytes for the keyed equality hash. Never rotate it while data uses it.
    pub pii_index_key: Option<String>,
}

/// Delivery of callbacks (and broker publications) from the outbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbacksConfig {
    /// Run the dispatcher in this process. Several instances may all run one.
    pub enabled: bool,
    /// Attempts per callback before it is dead-lettered (the first attempt counts).
    pub max_attempts: u32,
    /// Delay before the first retry; later delays grow geometrically.
    pub first_retry_seconds: u64,
    /// The retries together span about this long (so the last attempt happens about this long after
    /// the first); delays are jittered by up to 20% either way.
    pub retry_window_hours: u64,
    /// One attempt's whole exchange, connect to last byte.
    pub timeout_ms: u64,
    /// How often an idle dispatcher looks for due rows (commits in this process wake it at once).
    pub poll_interval_ms: u64,
    /// Rows claimed at a time.
    pub batch_size: u32,
    /// Attempts in flight at once per instance.
    pub concurrency: usize,
    /// How long a claim holds a row; a crashed instance's rows are retried after it. Must exceed
    /// `timeout_ms`.
    pub lease_seconds: u64,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_attempts: 10,
            first_retry_seconds: 5,
            retry_window_hours: 24,
            timeout_ms: 10_000,
            poll_interval_ms: 1_000,
            batch_size: 32,
            concurrency: 8,
            lease_seconds: 60,
        }
    }
}

/// Publication of events to a broker for downstream consumers.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// `nats://host:port`; unset = no broker, callbacks only.
    pub nats_url: Option<String>,
    /// The JetStream stream holding `<nats_subject_prefix>.>` (created when missing).
    pub nats_stream: String,
    /// Events go to `<prefix>.<EventName>`.
    pub nats_subject_prefix: String,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            nats_url: None,
            nats_stream: "ESIGN_EVENTS".to_owned(),
            nats_subject_prefix: "esign.events".to_owned(),
        }
    }
}

/// The scheduler that expires verifications, sign links and contracts at their deadlines.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExpiryConfig {
    pub enabled: bool,
    pub interval_seconds: u64,
    /// Items expired per query; a sweep repeats until nothing is due.
    pub batch_size: u32,
}

impl Default for ExpiryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_seconds: 15,
            batch_size: 200,
        }
    }
}

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
    fn check(&self) -> Result<(), String> {
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub id: String,
    pub secret: String,
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    #[serde(default)]
    pub admin: bool,
}

/// `[face]`: the face verification providers, tried in order (see docs/face-providers.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaceConfig {
    /// Provider names in failover order; each needs a `[face.provider.<name>]` entry.
    pub providers: Vec<String>,
    /// How long one call to one provider may take before the next provider is tried.
    pub request_timeout_ms: u64,
    /// Background rounds after the initiation's own, when no provider could take a task.
    pub background_retries: u32,
    /// The first background round waits this long; each later one twice as long as the one before.
    pub retry_backoff_ms: u64,
    /// Spec 7.2.1: when every provider is down, switch to the SMS code + identity information check
    /// (needs `userInfo.mobile`). Off unless asked for: it does not compare a face.
    pub degraded_mode: bool,
    /// `[face.provider.<name>]` entries.
    pub provider: BTreeMap<String, FaceProviderConfig>,
}

impl Default for FaceConfig {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            request_timeout_ms: 3000,
            background_retries: 3,
            retry_backoff_ms: 5000,
            degraded_mode: false,
            provider: BTreeMap::new(),
        }
    }
}

impl FaceConfig {
    /// Nothing about providers was configured (the development sandbox fills the gap).
    pub fn is_unconfigured(&self) -> bool {
        self.providers.is_empty() && self.provider.is_empty()
    }
}

/// How a provider is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FaceProviderKind {
    /// esign's generic provider protocol v1 over HTTP (the sandbox speaks it).
    #[default]
    Http,
}

/// `[face.provider.<name>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaceProviderConfig {
    #[serde(default)]
    pub kind: FaceProviderKind,
    pub base_url: String,
    pub app_id: String,
    /// Shared with the provider: signs our requests and checks its callbacks.
    pub secret: String,
}

/// `[sandbox]`: the built-in test double of a face provider (never in production).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Port 0 picks a free port.
    pub bind: SocketAddr,
    /// Shared with esign's `[face.provider.sandbox]`; generated when absent.
    pub secret: Option<String>,
    /// How browsers reach the sandbox; default `http://<bound address>`.
    pub public_base_url: Option<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            secret: None,
            public_base_url: None,
        }
    }
}

/// The signer's H5 pages (`docs/h5.md`). Rate limits count in this process: with several instances
/// behind a load balancer each instance allows this much.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct H5Config {
    /// Origins (`https://app.example.com`) a signing page may be opened from. Empty: any. When set, a
    /// page request whose `Referer` is present and from another origin is refused (no `Referer` at all
    /// passes: many apps and mail clients send none).
    pub referer_allowlist: Vec<String>,
    /// Page views and form posts per client IP address per minute.
    pub requests_per_minute_per_ip: u32,
    /// Page views and form posts per link per minute.
    pub requests_per_minute_per_link: u32,
    /// SMS code requests per client IP address per hour.
    pub sms_per_hour_per_ip: u32,
    /// SMS code requests per link per hour (the contract's own cool-down applies as well).
    pub sms_per_hour_per_link: u32,
}

impl Default for H5Config {
    fn default() -> Self {
        Self {
            referer_allowlist: Vec::new(),
            requests_per_minute_per_ip: 120,
            requests_per_minute_per_link: 30,
            sms_per_hour_per_ip: 30,
            sms_per_hour_per_link: 10,
        }
    }
}

/// `[trust]`: the platform CA and RFC 3161 timestamps (see docs/trust.md).
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustConfig {
    /// Where `esign ca init` writes the CA; default `<data_dir>/trust`.
    pub dir: Option<PathBuf>,
    /// Base64 of 32 random bytes: the AES-256-GCM key of the CA's key files. Development generates
    /// one under `<data_dir>/keys`; production requires it.
    pub key_encryption_key: Option<String>,
    /// The organisation in every certificate subject `ca init` creates.
    pub organization: String,
    /// An operator-supplied CA instead of `dir`: PEM certificates and keys (PKCS#8 `PRIVATE KEY`,
    /// or esign's encrypted form). These five all or none; the seal below is optional.
    pub root_cert: Option<PathBuf>,
    pub intermediate_cert: Option<PathBuf>,
    pub intermediate_key: Option<PathBuf>,
    pub tsa_cert: Option<PathBuf>,
    pub tsa_key: Option<PathBuf>,
    /// The operator's platform seal certificate and key (both or neither). Without them, a seal
    /// certificate is issued by `intermediate_key` at each start and kept in memory only.
    pub seal_cert: Option<PathBuf>,
    pub seal_key: Option<PathBuf>,
    /// An operator-supplied CA as one PKCS#12 bundle instead of the PEM files above (never both):
    /// the intermediate's key with its certificate and the root, optionally the TSA's and the
    /// seal's keys with their certificates (see docs/trust.md).
    pub pkcs12: Option<PathBuf>,
    /// The bundle's password; required in production. Secret: never logged (`Debug` hides it).
    pub pkcs12_password: Option<String>,
    /// The policy OID of esign's own timestamp service (`/tsa`).
    pub tsa_policy: String,
    /// Lifetime of a signer's event certificate.
    pub event_certificate_minutes: u64,
    /// RFC 3161 services the client asks, in order; empty means esign's own `<public_base_url>/tsa`.
    pub tsa_urls: Vec<String>,
    /// RFC 3161 services that timestamp the platform seal, in order; empty means esign's own TSA,
    /// in-process.
    pub seal_tsa_urls: Vec<String>,
    /// One attempt at one TSA.
    pub tsa_timeout_ms: u64,
    /// PEM files of the roots a TSA's certificate must chain to; empty means the platform root.
    pub tsa_trust_anchors: Vec<PathBuf>,
}

impl Default for TrustConfig {
    fn default() -> Self {
        Self {
            dir: None,
            key_encryption_key: None,
            organization: "esign".to_owned(),
            root_cert: None,
            intermediate_cert: None,
            intermediate_key: None,
            tsa_cert: None,
            tsa_key: None,
            seal_cert: None,
            seal_key: None,
            pkcs12: None,
            pkcs12_password: None,
            tsa_policy: crate::trust::DEFAULT_TSA_POLICY.to_owned(),
            event_certificate_minutes: 30,
            tsa_urls: Vec::new(),
            seal_tsa_urls: Vec::new(),
            tsa_timeout_ms: 10_000,
            tsa_trust_anchors: Vec::new(),
        }
    }
}

impl std::fmt::Debug for TrustConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("TrustConfig")
            .field("dir", &self.dir)
            .field("key_encryption_key", &redacted(&self.key_encryption_key))
            .field("organization", &self.organization)
            .field("root_cert", &self.root_cert)
            .field("intermediate_cert", &self.intermediate_cert)
            .field("intermediate_key", &self.intermediate_key)
            .field("tsa_cert", &self.tsa_cert)
            .field("tsa_key", &self.tsa_key)
            .field("seal_cert", &self.seal_cert)
            .field("seal_key", &self.seal_key)
            .field("pkcs12", &self.pkcs12)
            .field("pkcs12_password", &redacted(&self.pkcs12_password))
            .field("tsa_policy", &self.tsa_policy)
            .field("event_certificate_minutes", &self.event_certificate_minutes)
            .field("tsa_urls", &self.tsa_urls)
            .field("seal_tsa_urls", &self.seal_tsa_urls)
            .field("tsa_timeout_ms", &self.tsa_timeout_ms)
            .field("tsa_trust_anchors", &self.tsa_trust_anchors)
            .finish()
    }
}

impl TrustConfig {
    /// Whether any of the operator's PEM files (`root_cert` ... `seal_key`) is configured.
    pub fn pem_files_set(&self) -> bool {
        [
            &self.root_cert,
            &self.intermediate_cert,
            &self.intermediate_key,
            &self.tsa_cert,
            &self.tsa_key,
            &self.seal_cert,
            &self.seal_key,
        ]
        .iter()
        .any(|path| path.is_some())
    }

    fn check(&self, mode: Mode) -> Result<(), String> {
        if self.pkcs12.is_some() {
            if self.pem_files_set() {
                return Err(
                    "trust.pkcs12 and the PEM files (trust.root_cert ... trust.seal_key) exclude \
                     each other: supply the CA one way"
                        .into(),
                );
            }
            if mode == Mode::Production
                && self
                    .pkcs12_password
                    .as_deref()
                    .is_none_or(|password| password.is_empty())
            {
                return Err("trust.pkcs12 needs trust.pkcs12_password in production".into());
            }
        }
        crate::trust::parse_oid(&self.tsa_policy).map_err(|e| format!("trust.tsa_policy: {e}"))?;
        if self.event_certificate_minutes == 0 || self.event_certificate_minutes > 24 * 60 {
            return Err("trust.event_certificate_minutes must be between 1 and 1440".into());
        }
        if self.tsa_timeout_ms == 0 {
            return Err("trust.tsa_timeout_ms must be positive".into());
        }
        for url in self.tsa_urls.iter().chain(&self.seal_tsa_urls) {
            let parsed =
                url::Url::parse(url).map_err(|e| format!("trust.tsa_urls: {url:?}: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("trust.tsa_urls: {url:?} must be http(s)"));
            }
        }
        if let Some(key) = &self.key_encryption_key {
            crate::trust::KeyEncryptionKey::from_base64(key)
                .map_err(|e| format!("trust.key_encryption_key: {e}"))?;
        }
        Ok(())
    }
}

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

    fn check(&self, mode: Mode) -> Result<(), String> {
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

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub security: SecurityConfig,
    pub callbacks: CallbacksConfig,
    pub events: EventsConfig,
    pub expiry: ExpiryConfig,
    pub clients: Vec<ClientConfig>,
    pub sms: crate::providers::sms::SmsConfig,
    pub face: FaceConfig,
    pub sandbox: SandboxConfig,
    pub h5: H5Config,
    pub trust: TrustConfig,
    pub documents: DocumentsConfig,
    pub archive: ArchiveConfig,
}

impl Config {
    /// Loads `path` (or `esign.toml` when it exists and no path is given), then applies environment
    /// overrides from `vars`.
    pub fn load(
        path: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let default_path = Path::new("esign.toml");
        let source = match path {
            Some(path) => Some(path),
            None if default_path.exists() => Some(default_path),
            None => None,
        };
        let mut table = match source {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?
            }
            None => toml::Table::new(),
        };
        apply_overrides(&mut table, vars);
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for client in &self.clients {
            if client.id.trim().is_empty() || client.secret.len() < 16 {
                return Err(ConfigError::Invalid(format!(
                    "client {:?}: an id and a secret of at least 16 characters are required",
                    client.id
                )));
            }
            if !seen.insert(&client.id) {
                return Err(ConfigError::Invalid(format!(
                    "client {:?} is listed twice",
                    client.id
                )));
            }
        }
        let callbacks = &self.callbacks;
        if callbacks.max_attempts == 0 || callbacks.batch_size == 0 || callbacks.concurrency == 0 {
            return Err(ConfigError::Invalid(
                "callbacks.max_attempts, batch_size and concurrency must be at least 1".into(),
            ));
        }
        if callbacks.lease_seconds.saturating_mul(1000) <= callbacks.timeout_ms {
            return Err(ConfigError::Invalid(
                "callbacks.lease_seconds must exceed callbacks.timeout_ms, or two instances could \
                 deliver one callback at once"
                    .into(),
            ));
        }
        if self.expiry.interval_seconds == 0 || self.expiry.batch_size == 0 {
            return Err(ConfigError::Invalid(
                "expiry.interval_seconds and expiry.batch_size must be at least 1".into(),
            ));
        }
        self.check_face()?;
        self.trust
            .check(self.server.mode)
            .map_err(ConfigError::Invalid)?;
        self.documents
            .check(self.server.mode)
            .map_err(ConfigError::Invalid)?;
        self.archive.check().map_err(ConfigError::Invalid)?;
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "database.max_connections must be at least 1".into(),
            ));
        }
        self.sms
            .check(self.server.mode)
            .map_err(ConfigError::Invalid)?;
        Ok(())
    }

    fn check_face(&self) -> Result<(), ConfigError> {
        let face = &self.face;
        let mut seen = std::collections::HashSet::new();
        for name in &face.providers {
            if aggregates::values::ProviderName::parse(name).is_err() {
                return Err(ConfigError::Invalid(format!(
                    "face.providers: {name:?} is not a provider name (1-32 of A-Z a-z 0-9 _ - . :)"
                )));
            }
            if !seen.insert(name) {
                return Err(ConfigError::Invalid(format!(
                    "face.providers lists {name:?} twice"
                )));
            }
            if !face.provider.contains_key(name) {
                return Err(ConfigError::Invalid(format!(
                    "face.providers lists {name:?} but there is no [face.provider.{name}]"
                )));
            }
        }
        for (name, provider) in &face.provider {
            let url = url::Url::parse(&provider.base_url)
                .map_err(|e| ConfigError::Invalid(format!("face.provider.{name}.base_url: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError::Invalid(format!(
                    "face.provider.{name}.base_url must be http(s)"
                )));
            }
            if self.server.mode == Mode::Production && url.scheme() != "https" {
                return Err(ConfigError::Invalid(format!(
                    "face.provider.{name}.base_url must be https in production"
                )));
            }
            if provider.secret.len() < 16 || provider.app_id.trim().is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "face.provider.{name}: an app_id and a secret of at least 16 characters are required"
                )));
            }
        }
        if face.request_timeout_ms == 0 || face.retry_backoff_ms == 0 {
            return Err(ConfigError::Invalid(
                "face.request_timeout_ms and face.retry_backoff_ms must be positive".into(),
            ));
        }
        if self.server.mode == Mode::Production
            && (self.sandbox.secret.is_some() || self.sandbox.public_base_url.is_some())
        {
            return Err(ConfigError::Invalid(
                "[sandbox] is for development only; production mode refuses the sandbox face provider"
                    .into(),
            ));
        }
        if let Some(secret) = &self.sandbox.secret {
            if secret.len() < 16 {
                return Err(ConfigError::Invalid(
                    "sandbox.secret must have at least 16 characters".into(),
                ));
            }
        }
        Ok(())
    }

    /// The personal-data cipher: configured keys, or (development only) keys generated once under
    /// the data directory.
    pub fn pii_cipher(&self) -> Result<PiiCipher, ConfigError> {
        let security = &self.security;
        if let (Some(active), Some(index)) = (&security.pii_active_key, &security.pii_index_key) {
            return Ok(PiiCipher::new(active, &security.pii_keys, index)?);
        }
        if self.server.mode == Mode::Production {
            return Err(ConfigError::MissingInProduction(
                "security.pii_active_key, security.pii_keys and security.pii_index_key",
            ));
        }
        let dir = self.server.data_dir.join("keys");
        let data_key = load_or_generate(&dir.join("pii-dev.key"))?;
        let index_key = load_or_generate(&dir.join("pii-index.key"))?;
        let keys = BTreeMap::from([("dev".to_owned(), data_key)]);
        Ok(PiiCipher::new("dev", &keys, &index_key)?)
    }
}

/// Reads a base64 32-byte key file, creating it (mode 0600) with a fresh key the first time
/// (development keys under the data directory).
pub(crate) fn load_or_generate_key(path: &Path) -> Result<String, ConfigError> {
    load_or_generate(path)
}

/// Reads a base64 key file, creating it (mode 0600) with a fresh key the first time.
fn load_or_generate(path: &Path) -> Result<String, ConfigError> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        return Ok(existing.trim().to_owned());
    }
    let write_error = |source| ConfigError::WriteKeys {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    let key = PiiCipher::generate_key()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            use std::io::Write;
            file.write_all(key.as_bytes()).map_err(write_error)?;
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(path)
                .map(|k| k.trim().to_owned())
                .map_err(write_error)
        }
        Err(error) => Err(write_error(error)),
    }
}

/// Applies `ESIGN_<SECTION>_<KEY>=value` overrides. Values that read as TOML integers, floats or
/// booleans keep that type; anything else is a string.
fn apply_overrides(table: &mut toml::Table, vars: impl IntoIterator<Item = (String, String)>) {
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("ESIGN_") else {
            continue;
        };
        let rest = rest.to_ascii_lowercase();
        let Some(section) = SECTIONS
            .iter()
            .find(|section| rest.starts_with(&format!("{section}_")))
        else {
            continue;
        };
        let mut key = &rest[section.len() + 1..];
        let mut subsection = None;
        for (parent, child) in SUBSECTIONS {
            if parent == section {
                if let Some(inner) = key.strip_prefix(&format!("{child}_")) {
                    subsection = Some(*child);
                    key = inner;
                }
            }
        }
        if key.is_empty() {
            continue;
        }
        let text_only = subsection.is_none() && TEXT_KEYS.contains(&(*section, key));
        let typed = match format!("v = {value}").parse::<toml::Table>() {
            Ok(parsed) if !text_only => match parsed.get("v") {
                Some(
                    v @ (toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_)),
                ) => v.clone(),
                _ => toml::Value::String(value.clone()),
            },
            _ => toml::Value::String(value.clone()),
        };
        let entry = table
            .entry((*section).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let entry = match (subsection, entry) {
            (Some(child), toml::Value::Table(section_table)) => section_table
                .entry(child.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new())),
            (_, entry) => entry,
        };
        if let toml::Value::Table(target) = entry {
            target.insert(key.to_owned(), typed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_file_gives_the_development_defaults() {
        let config = Config::load(None, vars(&[])).unwrap();
        assert_eq!(config.database.url, "sqlite://data/esign.db");
        assert_eq!(config.server.mode, Mode::Development);
    }

    #[test]
    fn environment_overrides_win_and_keep_their_types() {
        let config = Config::load(
            None,
            vars(&[
                ("ESIGN_DATABASE_URL", "postgres://db/esign"),
                ("ESIGN_DATABASE_MAX_CONNECTIONS", "32"),
                ("ESIGN_SERVER_PUBLIC_BASE_URL", "https://esign.example"),
                ("ESIGN_SERVER_MODE", "production"),
                // Production refuses the development SMS sender.
                ("ESIGN_SMS_SENDER", "message_centre"),
                ("ESIGN_SMS_URL", "https://message-centre.example/send"),
                ("ESIGN_SMS_AUTH_HEADER", "X-Api-Key"),
                ("ESIGN_SMS_AUTH_TOKEN", "token"),
                ("ESIGN_SMS_TIMEOUT_MS", "3000"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.sms.sender,
            crate::providers::sms::SenderKind::MessageCentre
        );
        assert_eq!(config.sms.timeout_ms, 3000);
        assert_eq!(config.database.url, "postgres://db/esign");
        assert_eq!(config.database.max_connections, 32);
        assert_eq!(config.server.public_base_url, "https://esign.example");
        assert_eq!(config.server.mode, Mode::Production);
    }

    #[test]
    fn a_file_is_read_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("esign.toml");
        std::fs::write(
            &path,
            "[server]\nbind = \"0.0.0.0:9000\"\n[[clients]]\nid = \"auth\"\nsecret = \"0123456789abcdef0123\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), vars(&[])).unwrap();
        assert_eq!(config.server.bind.port(), 9000);
        assert_eq!(config.clients[0].id, "auth");

        std::fs::write(&path, "[server]\nbindd = \"0.0.0.0:9000\"\n").unwrap();
        assert!(matches!(
            Config::load(Some(&path), vars(&[])),
            Err(ConfigError::Invalid(_))
        ));
    }

    #[test]
    fn production_mode_refuses_the_development_sms_sender() {
        let refused = Config::load(None, vars(&[("ESIGN_SERVER_MODE", "production")]));
        assert!(
            matches!(&refused, Err(ConfigError::Invalid(reason)) if reason.contains("sms.sender")),
            "{refused:?}"
        );
    }

    #[test]
    fn face_providers_are_read_in_order_with_their_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("esign.toml");
        std::fs::write(
            &path,
            "[face]\nproviders = [\"main\", \"backup\"]\ndegraded_mode = true\n\
             [face.provider.main]\nbase_url = \"https://face.example.com\"\napp_id = \"esign\"\nsecret = \"0123456789abcdef\"\n\
             [face.provider.backup]\nkind = \"http\"\nbase_url = \"https://backup.example.com\"\napp_id = \"esign\"\nsecret = \"0123456789abcdef\"\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&path),
            vars(&[("ESIGN_FACE_REQUEST_TIMEOUT_MS", "500")]),
        )
        .unwrap();
        assert_eq!(config.face.providers, ["main", "backup"]);
        assert!(config.face.degraded_mode);
        assert_eq!(config.face.request_timeout_ms, 500);
        assert_eq!(config.face.background_retries, 3);
        assert_eq!(config.face.provider["backup"].kind, FaceProviderKind::Http);

        std::fs::write(&path, "[face]\nproviders = [\"missing\"]\n").unwrap();
        assert!(matches!(
            Config::load(Some(&path), vars(&[])),
            Err(ConfigError::Invalid(message)) if message.contains("[face.provider.missing]")
        ));
    }

    #[test]
    fn without_face_configuration_the_defaults_hold() {
        let config = Config::load(None, vars(&[])).unwrap();
        assert!(config.face.is_unconfigured());
        assert_eq!(config.face.request_timeout_ms, 3000);
        assert!(!config.face.degraded_mode);
        assert_eq!(config.sandbox.bind.port(), 0);
    }

    #[test]
    fn production_mode_refuses_a_sandbox_section() {
        let refused = Config::load(
            None,
            vars(&[
                ("ESIGN_SERVER_MODE", "production"),
                ("ESIGN_SANDBOX_SECRET", "0123456789abcdef0123"),
            ]),
        );
        assert!(
            matches!(refused, Err(ConfigError::Invalid(message)) if message.contains("sandbox"))
        );
    }

    #[test]
    fn the_trust_section_has_defaults_overrides_and_checks() {
        let config = Config::load(None, vars(&[("ESIGN_TRUST_TSA_TIMEOUT_MS", "2500")])).unwrap();
        assert_eq!(config.trust.tsa_timeout_ms, 2500);
        assert_eq!(config.trust.event_certificate_minutes, 30);
        assert_eq!(config.trust.tsa_policy, crate::trust::DEFAULT_TSA_POLICY);
        for (key, value) in [
            ("ESIGN_TRUST_TSA_POLICY", "not an oid"),
            ("ESIGN_TRUST_KEY_ENCRYPTION_KEY", "c2hvcnQ="),
            ("ESIGN_TRUST_EVENT_CERTIFICATE_MINUTES", "0"),
        ] {
            assert!(
                matches!(Config::load(None, vars(&[(key, value)])), Err(ConfigError::Invalid(m)) if m.contains("trust.")),
                "{key}"
            );
        }
    }

    #[test]
    fn a_pkcs12_password_stays_text_and_out_of_debug_output() {
        for password in ["123456", "0x1f", "true", "1e3", "p@ss word"] {
            let config = Config::load(
                None,
                vars(&[
                    ("ESIGN_TRUST_PKCS12", "/etc/esign/ca.p12"),
                    ("ESIGN_TRUST_PKCS12_PASSWORD", password),
                ]),
            )
            .unwrap();
            assert_eq!(config.trust.pkcs12_password.as_deref(), Some(password));
            if password.len() > 4 {
                let shown = format!("{config:?}");
                assert!(!shown.contains(password), "{shown}");
            }
        }
        let key = crate::trust::keys::generate_encryption_key().unwrap();
        let config = Config::load(None, vars(&[("ESIGN_TRUST_KEY_ENCRYPTION_KEY", &key)])).unwrap();
        assert!(!format!("{config:?}").contains(&key));
    }

    #[test]
    fn a_pkcs12_bundle_excludes_the_pem_files_and_needs_a_password_in_production() {
        let refused = |pairs: &[(&str, &str)], expected: &str| {
            let error = Config::load(None, vars(pairs)).unwrap_err();
            assert!(
                matches!(&error, ConfigError::Invalid(m) if m.contains(expected)),
                "{error}"
            );
        };
        refused(
            &[
                ("ESIGN_TRUST_PKCS12", "/etc/esign/ca.p12"),
                ("ESIGN_TRUST_ROOT_CERT", "/etc/esign/root.pem"),
            ],
            "exclude each other",
        );
        for password in [None, Some("")] {
            let mut pairs = vec![
                ("ESIGN_SERVER_MODE", "production"),
                ("ESIGN_TRUST_PKCS12", "/etc/esign/ca.p12"),
            ];
            pairs.extend(password.map(|p| ("ESIGN_TRUST_PKCS12_PASSWORD", p)));
            refused(&pairs, "trust.pkcs12_password");
        }
        // Development takes a bundle exported with an empty password.
        let config = Config::load(None, vars(&[("ESIGN_TRUST_PKCS12", "/etc/esign/ca.p12")]));
        assert!(config.unwrap().trust.pkcs12_password.is_none());
    }

    #[test]
    fn production_mode_refuses_generated_keys() {
        let mut config = Config::default();
        config.server.mode = Mode::Production;
        assert!(matches!(
            config.pii_cipher(),
            Err(ConfigError::MissingInProduction(_))
        ));
    }

    #[test]
    fn development_keys_are_generated_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.server.data_dir = dir.path().to_path_buf();
        let first = config.pii_cipher().unwrap();
        let sealed = first
            .seal(serde_json::json!({"$pii": "13800138000"}))
            .unwrap();
        let second = config.pii_cipher().unwrap();
        assert_eq!(
            second.open(&sealed).unwrap(),
            serde_json::json!({"$pii": "13800138000"})
        );
    }

    #[test]
    fn the_documents_section_has_defaults_and_reads_s3_settings_from_the_environment() {
        let config = Config::load(None, vars(&[])).unwrap();
        assert_eq!(config.documents.store, DocumentStoreKind::Local);
        assert_eq!(config.documents.download_url_ttl_seconds, 300);
        assert!(config.documents.s3.is_none());

        let (k1, k2) = (
            PiiCipher::generate_key().unwrap(),
            PiiCipher::generate_key().unwrap(),
        );
        let keys = format!("2026-01={k1},2026-07={k2}");
        let config = Config::load(
            None,
            vars(&[
                ("ESIGN_DOCUMENTS_STORE", "s3"),
                ("ESIGN_DOCUMENTS_ENCRYPTION_KEYS", &keys),
                ("ESIGN_DOCUMENTS_ACTIVE_KEY_ID", "2026-07"),
                ("ESIGN_DOCUMENTS_DOWNLOAD_URL_TTL_SECONDS", "120"),
                ("ESIGN_DOCUMENTS_S3_ENDPOINT", "https://s3.example.com"),
                ("ESIGN_DOCUMENTS_S3_BUCKET", "esign-documents"),
                ("ESIGN_DOCUMENTS_S3_ACCESS_KEY_ID", "AKIAEXAMPLE"),
                ("ESIGN_DOCUMENTS_S3_SECRET_ACCESS_KEY", "very secret"),
                ("ESIGN_DOCUMENTS_S3_PATH_STYLE", "false"),
            ]),
        )
        .unwrap();
        let documents = &config.documents;
        assert_eq!(documents.store, DocumentStoreKind::S3);
        assert_eq!(documents.encryption_keys["2026-01"], k1);
        assert_eq!(documents.encryption_keys["2026-07"], k2);
        assert_eq!(documents.download_url_ttl(), chrono::Duration::seconds(120));
        let s3 = documents.s3.as_ref().unwrap();
        assert_eq!(s3.bucket, "esign-documents");
        assert_eq!(s3.region, "us-east-1");
        assert!(!s3.path_style);
        assert_eq!(s3.timeout_ms, 30_000);
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("very secret") && !shown.contains(&k1),
            "{shown}"
        );
    }

    #[test]
    fn the_documents_section_refuses_what_cannot_work() {
        let key = PiiCipher::generate_key().unwrap();
        let s3 = [
            ("ESIGN_DOCUMENTS_STORE", "s3"),
            ("ESIGN_DOCUMENTS_S3_ENDPOINT", "http://minio:9000"),
            ("ESIGN_DOCUMENTS_S3_BUCKET", "esign"),
            ("ESIGN_DOCUMENTS_S3_ACCESS_KEY_ID", "minio"),
            ("ESIGN_DOCUMENTS_S3_SECRET_ACCESS_KEY", "minio-secret"),
        ];
        assert!(Config::load(None, vars(&s3)).is_ok());
        let with = |extra: &[(&'static str, &str)]| {
            let mut all: Vec<(&str, &str)> = s3.to_vec();
            all.extend_from_slice(extra);
            Config::load(None, vars(&all))
        };
        let one_key = format!("k1={key}");
        for (extra, expected) in [
            (
                vec![("ESIGN_DOCUMENTS_ACTIVE_KEY_ID", "k1")],
                "set together",
            ),
            (
                vec![
                    ("ESIGN_DOCUMENTS_ACTIVE_KEY_ID", "k2"),
                    ("ESIGN_DOCUMENTS_ENCRYPTION_KEYS", one_key.as_str()),
                ],
                "documents.encryption_keys",
            ),
            (
                vec![
                    ("ESIGN_DOCUMENTS_ACTIVE_KEY_ID", "k1"),
                    ("ESIGN_DOCUMENTS_ENCRYPTION_KEYS", "k1=c2hvcnQ="),
                ],
                "documents.encryption_keys",
            ),
            (
                vec![("ESIGN_DOCUMENTS_URL_SIGNING_KEY", "c2hvcnQ=")],
                "documents.url_signing_key",
            ),
            (
                vec![("ESIGN_DOCUMENTS_DOWNLOAD_URL_TTL_SECONDS", "86400")],
                "download_url_ttl_seconds",
            ),
            (
                vec![("ESIGN_DOCUMENTS_S3_BUCKET", "Not_A_Bucket")],
                "documents.s3.bucket",
            ),
            (
                vec![("ESIGN_DOCUMENTS_S3_ENDPOINT", "http://minio:9000/esign")],
                "documents.s3.endpoint",
            ),
            (
                vec![("ESIGN_DOCUMENTS_S3_PREFIX", "../up")],
                "documents.s3.prefix",
            ),
            (vec![("ESIGN_DOCUMENTS_STORE", "local")], "documents.store"),
            (
                vec![("ESIGN_SERVER_MODE", "production")],
                "documents.s3.endpoint must be https",
            ),
        ] {
            let refused = with(&extra);
            assert!(
                matches!(&refused, Err(ConfigError::Invalid(m)) if m.contains(expected)),
                "{extra:?}: {refused:?}"
            );
        }
        assert!(matches!(
            Config::load(None, vars(&[("ESIGN_DOCUMENTS_STORE", "s3")])),
            Err(ConfigError::Invalid(m)) if m.contains("[documents.s3]")
        ));
    }
}
