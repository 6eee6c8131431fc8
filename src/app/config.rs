//! Configuration: a TOML file with `ESIGN_<SECTION>_<KEY>` environment overrides.
//!
//! Every key has a development default, so `esign serve` starts with no file at all. Production mode
//! refuses the defaults that are only safe on a developer's machine (generated keys).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::archiving::ArchiveConfig;
use super::expiry::ExpiryConfig;
use crate::delivery::config::{CallbacksConfig, EventsConfig};
use crate::documents::config::DocumentsConfig;
use crate::pii::{KeyFileError, PiiCipher, PiiError, SecurityConfig, load_or_generate_key};
use crate::providers::face::FaceConfig;
use crate::providers::sandbox::SandboxConfig;
use crate::store::DatabaseConfig;
use crate::store::clients::ClientConfig;
use crate::trust::config::TrustConfig;

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
    "metrics",
    "archive",
    "contracts",
];

/// Keys an environment override always sets as text: a password such as `123456` or `0x1f` must
/// not turn into a TOML number on the way.
const TEXT_KEYS: &[(&str, &str)] = &[("trust", "pkcs12_password"), ("metrics", "bearer_token")];

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
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error(
        "production mode needs {0} in the configuration; generated keys are for development only"
    )]
    MissingInProduction(&'static str),
}

/// The run mode (`[server] mode`): the domain's own, which decides how strict URL checks are.
pub use aggregates::values::Mode;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub public_base_url: String,
    pub mode: Mode,
    /// Where generated keys and the default SQLite file live.
    pub data_dir: PathBuf,
    /// Whether `/openapi.json` and `/docs` are served. Default: in development only; a production
    /// deployment that wants them public says so.
    pub api_docs: Option<bool>,
}

impl ServerConfig {
    pub fn serves_api_docs(&self) -> bool {
        self.api_docs.unwrap_or(self.mode == Mode::Development)
    }

    fn check(&self) -> Result<(), String> {
        let url = url::Url::parse(&self.public_base_url)
            .map_err(|error| format!("server.public_base_url: {error}"))?;
        // Links, the CSRF cookie's `Secure` flag and the verify page all follow this URL.
        if self.mode == Mode::Production && url.scheme() != "https" {
            return Err("server.public_base_url must be an https:// URL in production".to_owned());
        }
        Ok(())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_base_url: "http://127.0.0.1:8080".to_owned(),
            mode: Mode::Development,
            data_dir: PathBuf::from("data"),
            api_docs: None,
        }
    }
}

/// Who may read `/metrics` (`docs/metrics.md`). In production the main listener serves it only
/// behind `bearer_token`; `bind` serves it on a listener of its own instead (the monitoring network).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A separate address for `/metrics`; the main listener then does not serve it.
    pub bind: Option<SocketAddr>,
    /// When set, `/metrics` answers only `Authorization: Bearer <token>` (on either listener).
    pub bearer_token: Option<String>,
}

impl MetricsConfig {
    fn check(&self) -> Result<(), String> {
        match &self.bearer_token {
            Some(token) if token.len() < 16 => {
                Err("metrics.bearer_token must be at least 16 characters".to_owned())
            }
            _ => Ok(()),
        }
    }

    /// Whether the main listener serves `/metrics` (behind the token when one is set).
    pub fn on_main_listener(&self, mode: Mode) -> bool {
        self.bind.is_none() && (mode == Mode::Development || self.bearer_token.is_some())
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
    pub metrics: MetricsConfig,
    pub contracts: super::contracts::ContractsConfig,
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

    /// Every section checks itself; settings that cannot work are refused before anything starts.
    fn check(&self) -> Result<(), ConfigError> {
        let mode = self.server.mode;
        crate::store::clients::check_configured(&self.clients)
            .and_then(|()| self.callbacks.check())
            .and_then(|()| self.expiry.check())
            .and_then(|()| self.face.check(mode))
            .and_then(|()| self.sandbox.check(mode))
            .and_then(|()| self.trust.check(mode))
            .and_then(|()| self.documents.check(mode))
            .and_then(|()| self.archive.check())
            .and_then(|()| self.contracts.check())
            .and_then(|()| self.database.check())
            .and_then(|()| self.sms.check(mode))
            .and_then(|()| self.server.check())
            .and_then(|()| self.metrics.check())
            .map_err(ConfigError::Invalid)
    }

    /// `[trust]` with the mode and data directory it is read against.
    pub fn trust_settings(&self) -> crate::trust::config::TrustSettings {
        crate::trust::config::TrustSettings {
            config: self.trust.clone(),
            mode: self.server.mode,
            data_dir: self.server.data_dir.clone(),
            public_base_url: self
                .trust
                .name_revocation_urls
                .then(|| self.server.public_base_url.clone()),
        }
    }

    /// `[documents]` with the mode, data directory and public base URL it is read against.
    pub fn document_settings(&self) -> crate::documents::config::DocumentSettings {
        crate::documents::config::DocumentSettings {
            config: self.documents.clone(),
            mode: self.server.mode,
            data_dir: self.server.data_dir.clone(),
            public_base_url: self.server.public_base_url.clone(),
        }
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
        let data_key = load_or_generate_key(&dir.join("pii-dev.key"))?;
        let index_key = load_or_generate_key(&dir.join("pii-index.key"))?;
        let keys = BTreeMap::from([("dev".to_owned(), data_key)]);
        Ok(PiiCipher::new("dev", &keys, &index_key)?)
    }
}

/// Applies `ESIGN_<SECTION>_<KEY>=value` overrides. Values that read as TOML integers, floats,
/// booleans or arrays of strings keep that type; anything else is a string.
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
                // A list such as `trust.personal_ca_roots`, written as a TOML array of strings.
                Some(v @ toml::Value::Array(items))
                    if items
                        .iter()
                        .all(|item| matches!(item, toml::Value::String(_))) =>
                {
                    v.clone()
                }
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
    fn a_list_of_paths_can_come_from_the_environment_as_a_toml_array() {
        let config = Config::load(
            None,
            vars(&[(
                "ESIGN_TRUST_PERSONAL_CA_ROOTS",
                r#"["/etc/esign/a.pem", "/etc/esign/b.pem"]"#,
            )]),
        )
        .unwrap();
        assert_eq!(
            config.trust.personal_ca_roots,
            [
                std::path::PathBuf::from("/etc/esign/a.pem"),
                std::path::PathBuf::from("/etc/esign/b.pem")
            ]
        );
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
    fn production_mode_needs_an_https_public_base_url_and_hides_api_docs_by_default() {
        let mut server = ServerConfig {
            mode: Mode::Production,
            public_base_url: "http://esign.example".to_owned(),
            ..ServerConfig::default()
        };
        assert!(server.check().unwrap_err().contains("https"));
        assert!(!server.serves_api_docs());
        server.public_base_url = "https://esign.example".to_owned();
        assert!(server.check().is_ok());
        server.api_docs = Some(true);
        assert!(server.serves_api_docs());
        assert!(ServerConfig::default().serves_api_docs());
    }

    #[test]
    fn metrics_leave_the_public_listener_in_production_unless_a_token_guards_them() {
        let mut metrics = MetricsConfig::default();
        assert!(metrics.on_main_listener(Mode::Development));
        assert!(!metrics.on_main_listener(Mode::Production));
        metrics.bearer_token = Some("short".to_owned());
        assert!(metrics.check().unwrap_err().contains("bearer_token"));
        metrics.bearer_token = Some("a-long-enough-metrics-token".to_owned());
        assert!(metrics.on_main_listener(Mode::Production));
        metrics.bind = Some(SocketAddr::from(([127, 0, 0, 1], 9464)));
        assert!(!metrics.on_main_listener(Mode::Development));
        let config = Config::load(
            None,
            vars(&[("ESIGN_METRICS_BEARER_TOKEN", "1234567890123456789")]),
        )
        .unwrap();
        assert_eq!(
            config.metrics.bearer_token.as_deref(),
            Some("1234567890123456789")
        );
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
        assert_eq!(
            config.face.provider["backup"].kind,
            crate::providers::face::FaceProviderKind::Http
        );

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
        assert_eq!(
            config.documents.store,
            crate::documents::config::DocumentStoreKind::Local
        );
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
        assert_eq!(
            documents.store,
            crate::documents::config::DocumentStoreKind::S3
        );
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
