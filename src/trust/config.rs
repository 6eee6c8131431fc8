//! The `[trust]` section: the platform CA and RFC 3161 timestamps (see docs/trust.md).

use std::path::{Path, PathBuf};

use aggregates::values::Mode;
use serde::Deserialize;

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
    /// Timestamp requests `POST /tsa` answers per client IP address per minute (0: no limit).
    pub tsa_requests_per_minute_per_ip: u32,
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
    /// How long the intermediate's CRL (`/ca/intermediate.crl`) is valid: its nextUpdate.
    pub crl_validity_hours: u64,
    /// How long an OCSP answer (`/ca/ocsp`) is valid: its nextUpdate.
    pub ocsp_validity_minutes: u64,
    /// Whether the certificates the CA issues name where their revocation status is published
    /// (CRL distribution point, OCSP responder, issuer certificate). Off by default: poppler's
    /// pdfsig (22.12 with NSS 3.87, as in Debian 12) then reports "Unknown issue with
    /// Certificate" for such signatures, so poppler-based readers would show signed documents as
    /// untrusted. The CRLs and the responder are published either way, and documents carry their
    /// revocation data themselves (docs/trust.md).
    pub name_revocation_urls: bool,
    /// How long before the last document timestamp's authority certificate expires a sealed
    /// document is closed again with fresh validation data and a new document timestamp.
    pub document_timestamp_renewal_days: u64,
    /// The least time between two renewals of one document: when the authority's certificate is
    /// not renewed in time, documents are not stamped again at every sweep.
    pub document_timestamp_renewal_interval_days: u64,
    /// PEM files (each may hold several certificates) of the CAs whose personal certificates
    /// signers with signMethod `CA_CERT` may sign with. Empty: no such signer can sign, and
    /// initiating a contract with one is refused.
    pub personal_ca_roots: Vec<PathBuf>,
    /// One attempt at asking a personal certificate's CA for its status (a CRL or an OCSP answer).
    pub personal_revocation_timeout_ms: u64,
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
            tsa_requests_per_minute_per_ip: 600,
            event_certificate_minutes: 30,
            tsa_urls: Vec::new(),
            seal_tsa_urls: Vec::new(),
            tsa_timeout_ms: 10_000,
            tsa_trust_anchors: Vec::new(),
            crl_validity_hours: 24,
            name_revocation_urls: false,
            ocsp_validity_minutes: 60,
            document_timestamp_renewal_days: 365,
            document_timestamp_renewal_interval_days: 30,
            personal_ca_roots: Vec::new(),
            personal_revocation_timeout_ms: 5_000,
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
            .field(
                "tsa_requests_per_minute_per_ip",
                &self.tsa_requests_per_minute_per_ip,
            )
            .field("event_certificate_minutes", &self.event_certificate_minutes)
            .field("tsa_urls", &self.tsa_urls)
            .field("seal_tsa_urls", &self.seal_tsa_urls)
            .field("tsa_timeout_ms", &self.tsa_timeout_ms)
            .field("tsa_trust_anchors", &self.tsa_trust_anchors)
            .field("crl_validity_hours", &self.crl_validity_hours)
            .field("ocsp_validity_minutes", &self.ocsp_validity_minutes)
            .field(
                "document_timestamp_renewal_days",
                &self.document_timestamp_renewal_days,
            )
            .field(
                "document_timestamp_renewal_interval_days",
                &self.document_timestamp_renewal_interval_days,
            )
            .field("name_revocation_urls", &self.name_revocation_urls)
            .field("personal_ca_roots", &self.personal_ca_roots)
            .field(
                "personal_revocation_timeout_ms",
                &self.personal_revocation_timeout_ms,
            )
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

    pub fn check(&self, mode: Mode) -> Result<(), String> {
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
        crate::trust::parse_tsa_policy(&self.tsa_policy)
            .map_err(|e| format!("trust.tsa_policy: {e}"))?;
        if self.event_certificate_minutes == 0 || self.event_certificate_minutes > 24 * 60 {
            return Err("trust.event_certificate_minutes must be between 1 and 1440".into());
        }
        if self.crl_validity_hours == 0 || self.crl_validity_hours > 24 * 366 {
            return Err("trust.crl_validity_hours must be between 1 and 8784 (a year)".into());
        }
        if self.ocsp_validity_minutes == 0 || self.ocsp_validity_minutes > 7 * 24 * 60 {
            return Err("trust.ocsp_validity_minutes must be between 1 and 10080 (a week)".into());
        }
        if self.document_timestamp_renewal_days > 365 * 100 {
            return Err("trust.document_timestamp_renewal_days must be at most 36500".into());
        }
        if self.document_timestamp_renewal_interval_days > 365 * 10 {
            return Err(
                "trust.document_timestamp_renewal_interval_days must be at most 3650".into(),
            );
        }
        if self.personal_revocation_timeout_ms == 0 {
            return Err("trust.personal_revocation_timeout_ms must be positive".into());
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

/// The `[trust]` section with what it is read against: the run mode (production refuses generated
/// keys), the data directory (where development keeps its CA and generated keys) and the public base
/// URL the certificates name for revocation status (`None`: certificates name none).
#[derive(Debug, Clone)]
pub struct TrustSettings {
    pub config: TrustConfig,
    pub mode: Mode,
    pub data_dir: PathBuf,
    pub public_base_url: Option<String>,
}

impl TrustSettings {
    /// The default section in development, with its files under `data_dir`.
    pub fn development(data_dir: &Path) -> Self {
        Self {
            config: TrustConfig::default(),
            mode: Mode::Development,
            data_dir: data_dir.to_path_buf(),
            public_base_url: None,
        }
    }
}
