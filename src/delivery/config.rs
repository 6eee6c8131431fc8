//! The `[callbacks]` and `[events]` sections: how the outbox is delivered to callers and published
//! to the broker.

use serde::Deserialize;

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

impl CallbacksConfig {
    pub fn check(&self) -> Result<(), String> {
        if self.max_attempts == 0 || self.batch_size == 0 || self.concurrency == 0 {
            return Err(
                "callbacks.max_attempts, batch_size and concurrency must be at least 1".into(),
            );
        }
        if self.lease_seconds.saturating_mul(1000) <= self.timeout_ms {
            return Err(
                "callbacks.lease_seconds must exceed callbacks.timeout_ms, or two instances could \
                 deliver one callback at once"
                    .into(),
            );
        }
        Ok(())
    }
}
