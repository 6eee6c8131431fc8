//! Face verification providers: the contract ([`provider::FaceProvider`]), esign's generic HTTP
//! protocol v1 ([`protocol`], [`http_provider`]) and the ordered failover list ([`FaceProviders`]).
//! The use cases that drive them (starting a task with failover, background retries and degraded
//! mode, signed callbacks, pulling a result when the person returns, the degraded SMS check) are
//! `app::verifications`. docs/face-providers.md describes it all.

pub mod config;
pub mod http_provider;
pub mod protocol;
pub mod provider;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aggregates::values::ProviderName;
use chrono::{DateTime, TimeDelta, Utc};

use crate::metrics::Metrics;
pub use config::{FaceConfig, FaceProviderConfig, FaceProviderKind};
use provider::{CreatedTask, FaceProvider, TaskRequest};

#[derive(Debug, thiserror::Error)]
pub enum FaceSetupError {
    #[error("face provider {0:?}: {1}")]
    Provider(String, String),
}

/// The configured providers, in failover order, with the retry and degraded-mode settings.
#[derive(Debug, Clone)]
pub struct FaceProviders {
    ordered: Vec<Arc<dyn FaceProvider>>,
    by_name: BTreeMap<String, Arc<dyn FaceProvider>>,
    pub degraded_mode: bool,
    pub background_retries: u32,
    pub retry_backoff: Duration,
    /// Where the in-process development sandbox listens, when it runs.
    pub sandbox_url: Option<String>,
}

/// Every provider of a round failed.
#[derive(Debug, Clone)]
pub struct AllUnavailable {
    pub tried: Vec<ProviderName>,
}

impl FaceProviders {
    /// One adapter per `[face.provider.<name>]`; the failover order is `[face] providers` (or, when
    /// that list is empty, the entries by name).
    pub fn from_config(face: &FaceConfig) -> Result<Self, FaceSetupError> {
        let timeout = Duration::from_millis(face.request_timeout_ms);
        let mut by_name: BTreeMap<String, Arc<dyn FaceProvider>> = BTreeMap::new();
        for (name, entry) in &face.provider {
            let parsed = ProviderName::parse(name)
                .map_err(|e| FaceSetupError::Provider(name.clone(), e.to_string()))?;
            let adapter: Arc<dyn FaceProvider> = match entry.kind {
                FaceProviderKind::Http => Arc::new(
                    http_provider::HttpFaceProvider::new(
                        parsed,
                        &entry.base_url,
                        &entry.app_id,
                        &entry.secret,
                        timeout,
                    )
                    .map_err(|e| FaceSetupError::Provider(name.clone(), e.to_string()))?,
                ),
            };
            by_name.insert(name.clone(), adapter);
        }
        let order: Vec<String> = if face.providers.is_empty() {
            by_name.keys().cloned().collect()
        } else {
            face.providers.clone()
        };
        let ordered = order
            .iter()
            .filter_map(|name| by_name.get(name).cloned())
            .collect();
        Ok(Self {
            ordered,
            by_name,
            degraded_mode: face.degraded_mode,
            background_retries: face.background_retries,
            retry_backoff: Duration::from_millis(face.retry_backoff_ms),
            sandbox_url: None,
        })
    }

    /// The adapter of a named provider (tasks keep the name of the provider that runs them).
    pub fn get(&self, name: &str) -> Option<&Arc<dyn FaceProvider>> {
        self.by_name.get(name)
    }

    /// Tries each provider in order until one creates the task. `callback_base` is esign's callback
    /// endpoint without the provider's name.
    pub async fn create_task(
        &self,
        metrics: &Metrics,
        request: &TaskRequest,
        callback_base: &str,
    ) -> Result<(Arc<dyn FaceProvider>, CreatedTask), AllUnavailable> {
        let mut tried = Vec::new();
        for provider in &self.ordered {
            let name = provider.name().clone();
            let mut request = request.clone();
            request.callback_url = format!("{callback_base}/{}", name.as_str());
            let started = Instant::now();
            let created = provider.create_task(&request).await;
            let outcome = match &created {
                Ok(_) => "ok",
                Err(error) => error.outcome(),
            };
            metrics.provider_call(name.as_str(), "create_task", outcome, started.elapsed());
            match created {
                Ok(task) => return Ok((Arc::clone(provider), task)),
                Err(error) => {
                    tracing::warn!(
                        provider = name.as_str(),
                        verification_id = %request.verification_id,
                        %error,
                        "face provider could not create the task; trying the next"
                    );
                    tried.push(name);
                }
            }
        }
        if self.ordered.is_empty() {
            tracing::error!("no face provider is configured: face verifications cannot start");
        }
        Err(AllUnavailable { tried })
    }

    /// When round `attempt + 1` may run after round `attempt` failed (round 1 is the initiation's),
    /// doubling from the base delay; `None` once the background retries are used up.
    pub fn next_attempt_at(&self, attempt: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if attempt > self.background_retries {
            return None;
        }
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        let delay = self.retry_backoff.saturating_mul(factor);
        Some(now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX))
    }

    /// How often the background retry looks for due rounds.
    pub fn sweep_interval(&self) -> Duration {
        (self.retry_backoff / 2).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_stop_after_the_configured_count() {
        let providers = FaceProviders::from_config(&FaceConfig {
            retry_backoff_ms: 1000,
            background_retries: 3,
            ..FaceConfig::default()
        })
        .unwrap();
        let now = Utc::now();
        let delays: Vec<_> = (1..=4)
            .map(|attempt| {
                providers
                    .next_attempt_at(attempt, now)
                    .map(|at| (at - now).num_seconds())
            })
            .collect();
        assert_eq!(delays, [Some(1), Some(2), Some(4), None]);
    }
}
