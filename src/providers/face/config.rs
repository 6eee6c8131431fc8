//! The `[face]` section: the face verification providers, tried in order.

use std::collections::BTreeMap;

use aggregates::values::Mode;
use serde::Deserialize;

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

impl FaceConfig {
    pub fn check(&self, mode: Mode) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for name in &self.providers {
            if aggregates::values::ProviderName::parse(name).is_err() {
                return Err(format!(
                    "face.providers: {name:?} is not a provider name (1-32 of A-Z a-z 0-9 _ - . :)"
                ));
            }
            if !seen.insert(name) {
                return Err(format!("face.providers lists {name:?} twice"));
            }
            if !self.provider.contains_key(name) {
                return Err(format!(
                    "face.providers lists {name:?} but there is no [face.provider.{name}]"
                ));
            }
        }
        for (name, provider) in &self.provider {
            let url = url::Url::parse(&provider.base_url)
                .map_err(|e| format!("face.provider.{name}.base_url: {e}"))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!("face.provider.{name}.base_url must be http(s)"));
            }
            if mode == Mode::Production && url.scheme() != "https" {
                return Err(format!(
                    "face.provider.{name}.base_url must be https in production"
                ));
            }
            if provider.secret.len() < 16 || provider.app_id.trim().is_empty() {
                return Err(format!(
                    "face.provider.{name}: an app_id and a secret of at least 16 characters are required"
                ));
            }
        }
        if self.request_timeout_ms == 0 || self.retry_backoff_ms == 0 {
            return Err(
                "face.request_timeout_ms and face.retry_backoff_ms must be positive".into(),
            );
        }
        Ok(())
    }
}
