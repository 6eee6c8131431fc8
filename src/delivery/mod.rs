//! Delivery of the outbox: signed callbacks to callers and publications to the broker, at least once.
//!
//! Each instance runs a [`Dispatcher`]: it claims due rows (see [`crate::store::outbox`]), delivers them a few at a
//! time, records every attempt, and schedules a failed one again with exponential backoff and jitter
//! ([`backoff`]) until its attempts run out and it becomes a dead letter for an operator. A callback
//! is a JSON POST signed as ARCHITECTURE.md's wire protocol says ([`signature`]); its URL passes the
//! SSRF guard ([`crate::providers::ssrf`]) on every attempt in production. Receivers dedupe by `X-Esign-Event-Id`,
//! which is the same on every attempt.

pub mod backoff;
pub mod config;
pub mod nats;
pub mod signature;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::Notify;

use crate::delivery::config::CallbacksConfig;
use crate::metrics::Metrics;
use crate::pii::PiiCipher;
use crate::store::clients::ClientRegistry;
use crate::store::outbox::{Attempt, Claimed, Destination, Outcome};
use crate::store::{Store, StoreError};
use aggregates::values::Mode;
use backoff::RetrySchedule;
use nats::NatsPublisher;

/// Headers esign sets itself; a caller's `webhookConfig.headers` cannot replace them.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "connection",
    "transfer-encoding",
    "x-esign-event-id",
    "x-esign-event-type",
    "x-esign-signature",
];

/// How much of a failing receiver's answer is kept in the attempt record.
const ERROR_BODY_LIMIT: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Client(#[from] crate::providers::outbound::ClientBuildError),
}

/// Delivers the outbox. Cheap to clone; clones share everything.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    pii: Arc<PiiCipher>,
    clients: ClientRegistry,
    metrics: Arc<Metrics>,
    http: reqwest::Client,
    mode: Mode,
    config: CallbacksConfig,
    schedule: RetrySchedule,
    nats: Option<NatsPublisher>,
    /// Names this instance in attempt records.
    instance: String,
    wake: Arc<Notify>,
    /// Signs the download paths in bodies as each attempt is sent, so a late or retried callback
    /// still carries a working link.
    links: Option<Arc<crate::documents::links::Links>>,
}

impl Dispatcher {
    /// `nats`: the broker URL, stream and subject prefix, when publications go to one.
    #[allow(clippy::too_many_arguments, reason = "wired once, in startup")]
    pub fn new(
        store: Store,
        pii: Arc<PiiCipher>,
        clients: ClientRegistry,
        metrics: Arc<Metrics>,
        mode: Mode,
        config: CallbacksConfig,
        nats: Option<(&str, &str, &str)>,
        wake: Arc<Notify>,
        links: Option<Arc<crate::documents::links::Links>>,
    ) -> Result<Self, DeliveryError> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let mut builder = crate::providers::outbound::client_builder(timeout);
        if mode == Mode::Production {
            builder = builder.dns_resolver(Arc::new(crate::providers::ssrf::PublicOnlyResolver));
        }
        let http = builder.build().map_err(|error| {
            crate::providers::outbound::ClientBuildError::new(error.to_string())
        })?;
        let schedule = RetrySchedule::new(
            config.max_attempts,
            Duration::from_secs(config.first_retry_seconds),
            Duration::from_secs(config.retry_window_hours.saturating_mul(3600)),
        );
        let instance = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                pii,
                clients,
                metrics,
                http,
                mode,
                schedule,
                nats: nats.map(|(url, stream, prefix)| {
                    NatsPublisher::new(url, stream, &format!("{prefix}.>"), timeout)
                }),
                config,
                instance,
                wake,
                links,
            }),
        })
    }

    /// Delivers until the task is aborted: a batch at a time while rows are due, otherwise waiting
    /// for a commit in this process or the poll interval.
    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let dispatcher = self.clone();
        tokio::spawn(async move { dispatcher.run().await })
    }

    async fn run(&self) {
        let poll = Duration::from_millis(self.inner.config.poll_interval_ms);
        let mut last_gauges = Instant::now() - Duration::from_secs(3600);
        loop {
            let delivered = match self.run_once(Utc::now()).await {
                Ok(count) => count,
                Err(error) => {
                    tracing::warn!(%error, "outbox delivery could not claim work; retrying");
                    0
                }
            };
            if last_gauges.elapsed() >= Duration::from_secs(10) {
                self.refresh_gauges().await;
                last_gauges = Instant::now();
            }
            if delivered < self.inner.config.batch_size as usize {
                tokio::select! {
                    () = self.inner.wake.notified() => {}
                    () = tokio::time::sleep(poll) => {}
                }
            }
        }
    }

    /// Claims the rows due at `now` (one batch) and makes one attempt at each; returns how many.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let config = &self.inner.config;
        let claimed = self
            .inner
            .store
            .outbox()
            .claim(
                now,
                Duration::from_secs(config.lease_seconds),
                config.batch_size,
            )
            .await?;
        let count = claimed.len();
        futures::stream::iter(claimed)
            .for_each_concurrent(config.concurrency, |row| async move {
                self.attempt(row).await;
            })
            .await;
        Ok(count)
    }

    async fn attempt(&self, row: Claimed) {
        let started_at = Utc::now();
        let clock = Instant::now();
        let result = match row.destination {
            Destination::Callback => self.post_callback(&row, started_at).await,
            Destination::Nats => self.publish(&row).await,
        };
        let latency = clock.elapsed();
        let (http_status, error) = match result {
            Ok(status) => (status, None),
            Err(failure) => (failure.http_status, Some(failure.message)),
        };
        let outcome = match (&error, self.inner.schedule.delay(row.attempt)) {
            (None, _) => Outcome::Delivered,
            (Some(_), Some(delay)) => Outcome::Retry(
                Utc::now()
                    + chrono::TimeDelta::from_std(delay).unwrap_or(chrono::TimeDelta::zero()),
            ),
            (Some(_), None) => Outcome::Dead,
        };
        match (&outcome, &error) {
            (Outcome::Delivered, _) => tracing::debug!(
                outbox_id = row.id, event_id = %row.callback_id, attempt = row.attempt,
                "delivered"
            ),
            (Outcome::Retry(at), Some(error)) => tracing::warn!(
                outbox_id = row.id, event_id = %row.callback_id, attempt = row.attempt,
                destination = row.destination.as_str(), next_attempt_at = %at, %error,
                "delivery failed; will retry"
            ),
            (_, error) => tracing::error!(
                outbox_id = row.id, event_id = %row.callback_id, attempt = row.attempt,
                destination = row.destination.as_str(), error = error.as_deref().unwrap_or(""),
                "delivery failed for the last time; dead-lettered for an operator (50002)"
            ),
        }
        self.inner.metrics.delivery_attempt(
            match outcome {
                Outcome::Delivered => "delivered",
                Outcome::Retry(_) => "failed",
                Outcome::Dead => "dead_lettered",
            },
            latency,
        );
        let attempt = Attempt {
            started_at,
            latency,
            http_status,
            error,
            outcome,
        };
        match self
            .inner
            .store
            .outbox()
            .finish(&row, &attempt, &self.inner.instance)
            .await
        {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                outbox_id = row.id,
                "another dispatcher took this row over after our lease ran out"
            ),
            // The lease runs out and the row is tried again: at least once, never lost.
            Err(error) => tracing::warn!(
                outbox_id = row.id, %error,
                "cannot record a delivery attempt; the row will be retried after its lease"
            ),
        }
    }

    async fn post_callback(
        &self,
        row: &Claimed,
        now: DateTime<Utc>,
    ) -> Result<Option<u16>, Failure> {
        crate::providers::ssrf::check_literal(&row.target, self.inner.mode)
            .map_err(|error| Failure::refused(format!("callback URL refused: it {error}")))?;
        let body = self.open_body(row)?;
        let client = self
            .inner
            .clients
            .find(&row.client_id)
            .await
            .map_err(|error| Failure::new(format!("cannot look up client: {error}")))?
            .ok_or_else(|| Failure::new(format!("client {} no longer exists", row.client_id)))?;
        let timestamp = now.timestamp();
        let signature = signature::header_value(timestamp, body.as_bytes(), &[client.secret()]);
        let mut request = self.inner.http.post(&row.target);
        for (name, value) in self.open_headers(row)? {
            if !RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                request = request.header(name, value);
            }
        }
        let response = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Esign-Event-Id", row.callback_id.to_string())
            .header("X-Esign-Event-Type", &row.event_type)
            .header("X-Esign-Signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|error| Failure::new(describe(&error)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(Some(status.as_u16()));
        }
        let text = response.text().await.unwrap_or_default();
        let excerpt: String = text.chars().take(ERROR_BODY_LIMIT).collect();
        Err(Failure {
            http_status: Some(status.as_u16()),
            message: format!("the receiver answered {status}: {excerpt}"),
        })
    }

    async fn publish(&self, row: &Claimed) -> Result<Option<u16>, Failure> {
        let Some(nats) = &self.inner.nats else {
            return Err(Failure::new(
                "no broker is configured ([events] nats_url) for this publication".to_owned(),
            ));
        };
        let body = self.open_body(row)?;
        let duplicate = nats
            .publish(&row.target, &row.callback_id.to_string(), body.into())
            .await
            .map_err(Failure::new)?;
        if duplicate {
            tracing::debug!(outbox_id = row.id, "JetStream already had this event");
        }
        Ok(None)
    }

    fn open_body(&self, row: &Claimed) -> Result<String, Failure> {
        let sealed: Value = serde_json::from_str(&row.body_sealed)
            .map_err(|error| Failure::new(format!("stored body is not JSON: {error}")))?;
        let body = self
            .inner
            .pii
            .open_text(&sealed)
            .map_err(|error| Failure::new(format!("cannot open the stored body: {error}")))?;
        let Some(links) = &self.inner.links else {
            return Ok(body);
        };
        if !body.contains("\"/download/") {
            return Ok(body);
        }
        let mut value: Value = serde_json::from_str(&body)
            .map_err(|error| Failure::new(format!("stored body is not JSON: {error}")))?;
        links.sign_in_place(&mut value, Utc::now());
        serde_json::to_string(&value)
            .map_err(|error| Failure::new(format!("cannot encode the body: {error}")))
    }

    /// The caller's `webhookConfig.headers`, decrypted.
    fn open_headers(&self, row: &Claimed) -> Result<Vec<(String, String)>, Failure> {
        let Some(sealed) = &row.headers_sealed else {
            return Ok(Vec::new());
        };
        let object: serde_json::Map<String, Value> = serde_json::from_str(sealed)
            .map_err(|error| Failure::new(format!("stored headers are not JSON: {error}")))?;
        object
            .into_iter()
            .map(|(name, value)| {
                let sealed = value.get("$pii").unwrap_or(&value);
                match self.inner.pii.open_text(sealed) {
                    Ok(text) => Ok((name, text)),
                    Err(error) => Err(Failure::new(format!("cannot open header {name}: {error}"))),
                }
            })
            .collect()
    }

    /// Updates the backlog gauges.
    pub async fn refresh_gauges(&self) {
        match self.inner.store.outbox().backlog().await {
            Ok(backlog) => {
                let age = backlog
                    .oldest_created_at
                    .map(|created| (Utc::now() - created).to_std().unwrap_or_default())
                    .unwrap_or_default();
                self.inner
                    .metrics
                    .outbox_state(backlog.undelivered, age, backlog.dead);
            }
            Err(error) => tracing::warn!(%error, "cannot read the outbox backlog"),
        }
    }
}

/// Why an attempt failed.
#[derive(Debug)]
struct Failure {
    http_status: Option<u16>,
    message: String,
}

impl Failure {
    fn new(message: String) -> Self {
        Self {
            http_status: None,
            message,
        }
    }

    fn refused(message: String) -> Self {
        tracing::warn!(%message, "callback refused by the SSRF guard");
        Self::new(message)
    }
}

/// A transport error in words an operator can act on.
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    // The source chain holds the useful part (refused, resolver answer, TLS).
    let mut message = format!("the request {kind}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
