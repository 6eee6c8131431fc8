//! Prometheus metrics (spec 7.3): what operations watch to see the service, its providers and its
//! delivery backlog. Served at `/metrics` in the OpenMetrics text format.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route pattern (`/api/v1/contract/{contract_id}`), never the raw path: ids would explode
    /// the label set.
    route: String,
    status: u16,
    /// The spec's error code, or `0` for a success.
    code: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SmsLabels {
    sender: String,
    purpose: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ArchiveLabels {
    provider: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

/// Every metric the service exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Family<RequestLabels, Histogram>,
    provider_calls: Family<ProviderLabels, Histogram>,
    sms_sent: Family<SmsLabels, Counter>,
    outbox_backlog: Gauge,
    outbox_oldest_age: Gauge<f64, AtomicU64>,
    outbox_dead_letters: Gauge,
    delivery_attempts: Family<OutcomeLabels, Counter>,
    delivery_duration: Family<OutcomeLabels, Histogram>,
    expiry_runs: Family<OutcomeLabels, Counter>,
    expired: Family<KindLabels, Counter>,
    documents_sealed: Family<OutcomeLabels, Counter>,
    archive_attempts: Family<ArchiveLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("esign");
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "API requests by route, HTTP status and spec error code",
            http_requests.clone(),
        );
        let http_duration = Family::<RequestLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> _,
        );
        registry.register(
            "http_request_duration_seconds",
            "API request latency by route, HTTP status and spec error code",
            http_duration.clone(),
        );
        let provider_calls = Family::<ProviderLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> _,
        );
        registry.register(
            "provider_call_duration_seconds",
            "Calls to outside providers (face, TSA...) by provider, operation and outcome",
            provider_calls.clone(),
        );
        let sms_sent = Family::<SmsLabels, Counter>::default();
        registry.register(
            "sms_sent",
            "Text messages handed to the SMS sender, by sender, purpose and outcome",
            sms_sent.clone(),
        );
        let outbox_backlog = Gauge::default();
        registry.register(
            "outbox_backlog",
            "Callbacks and publications not yet delivered (dead letters excluded)",
            outbox_backlog.clone(),
        );
        let outbox_oldest_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "outbox_oldest_age_seconds",
            "Age of the oldest undelivered callback or publication",
            outbox_oldest_age.clone(),
        );
        let outbox_dead_letters = Gauge::default();
        registry.register(
            "outbox_dead_letters",
            "Callbacks that used every attempt and wait for an operator",
            outbox_dead_letters.clone(),
        );
        let delivery_attempts = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "delivery_attempts",
            "Callback and publication attempts by outcome",
            delivery_attempts.clone(),
        );
        let delivery_duration = Family::<OutcomeLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> _,
        );
        registry.register(
            "delivery_duration_seconds",
            "Callback and publication attempt latency by outcome",
            delivery_duration.clone(),
        );
        let expiry_runs = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "expiry_runs",
            "Expiry scheduler sweeps by outcome",
            expiry_runs.clone(),
        );
        let expired = Family::<KindLabels, Counter>::default();
        registry.register(
            "expired",
            "Verifications, sign links and contracts expired by the scheduler",
            expired.clone(),
        );
        let documents_sealed = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "documents_sealed",
            "Contract documents sealed (outcome sealed) or refused by an error",
            documents_sealed.clone(),
        );
        let archive_attempts = Family::<ArchiveLabels, Counter>::default();
        registry.register(
            "archive_attempts",
            "Archive attempts by provider and outcome",
            archive_attempts.clone(),
        );
        Self {
            registry,
            http_requests,
            http_duration,
            provider_calls,
            sms_sent,
            outbox_backlog,
            outbox_oldest_age,
            outbox_dead_letters,
            delivery_attempts,
            delivery_duration,
            expiry_runs,
            expired,
            documents_sealed,
            archive_attempts,
        }
    }

    pub fn http_request(&self, route: &str, status: u16, code: u32, elapsed: Duration) {
        let labels = RequestLabels {
            route: route.to_owned(),
            status,
            code,
        };
        self.http_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.http_requests.get_or_create(&labels).inc();
    }

    /// One call to an outside provider; `outcome` is `ok`, `timeout`, `unavailable`, `rejected`...
    pub fn provider_call(&self, provider: &str, operation: &str, outcome: &str, elapsed: Duration) {
        self.provider_calls
            .get_or_create(&ProviderLabels {
                provider: provider.to_owned(),
                operation: operation.to_owned(),
                outcome: outcome.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn sms_sent(&self, sender: &str, purpose: &str, outcome: &str) {
        self.sms_sent
            .get_or_create(&SmsLabels {
                sender: sender.to_owned(),
                purpose: purpose.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn outbox_state(&self, backlog: i64, oldest_age: Duration, dead_letters: i64) {
        self.outbox_backlog.set(backlog);
        self.outbox_oldest_age.set(oldest_age.as_secs_f64());
        self.outbox_dead_letters.set(dead_letters);
    }

    /// One delivery attempt; `outcome` is `delivered`, `failed` or `dead_lettered`.
    pub fn delivery_attempt(&self, outcome: &str, elapsed: Duration) {
        let labels = OutcomeLabels {
            outcome: outcome.to_owned(),
        };
        self.delivery_attempts.get_or_create(&labels).inc();
        self.delivery_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// One contract sealed (`sealed`) or a sealing attempt that failed (`error`).
    pub fn sealing(&self, outcome: &str) {
        self.documents_sealed
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// One archive attempt; `outcome` is `success` or `failure`.
    pub fn archive(&self, provider: &str, outcome: &str) {
        self.archive_attempts
            .get_or_create(&ArchiveLabels {
                provider: provider.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn expiry_run(&self, outcome: &str) {
        self.expiry_runs
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// One item expired; `kind` is `verification`, `sign_link` or `contract`.
    pub fn expired(&self, kind: &str) {
        self.expired
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
