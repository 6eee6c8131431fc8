//! Audit trails, health and the callback outbox: what operators and compliance read.

use super::*;

/// A stream's audit trail: every event with its metadata and hash, and whether the hash chain holds.
/// Personal data in payloads is masked.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AuditTrail {
    /// `<aggregate>-<id>`, e.g. `contract-CONTRACT_202310270001`.
    pub stream_id: String,
    /// Whether every link of the chain verifies.
    pub chain_intact: bool,
    pub events: Vec<AuditEvent>,
}

/// One event of an audit trail.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AuditEvent {
    pub global_position: i64,
    /// 1 for the stream's first event.
    pub stream_version: u64,
    #[schema(format = DateTime)]
    pub recorded_at: String,
    #[schema(examples("ContractInitiated"))]
    pub event_type: String,
    pub schema_version: u32,
    #[schema(format = "uuid")]
    pub event_id: String,
    pub metadata: AuditMetadata,
    /// The event's payload with personal data masked.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Hex SHA-256 of the previous event (zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 of this event.
    pub hash: String,
    /// `ok`, or what is wrong with this link (`BROKEN: ...`).
    #[schema(examples("ok"))]
    pub chain: String,
}

/// Who did what, from where. Absent fields were not known.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AuditMetadata {
    /// `client:<id>`, `signer:<partyId>`, `provider:<name>`, `system:<job>` or `operator:<name>`.
    #[schema(examples("client:erp"))]
    pub actor: String,
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    #[schema(nullable = false)]
    pub ip: Option<String>,
    #[schema(nullable = false)]
    pub user_agent: Option<String>,
    /// The request's `X-Request-Id`.
    #[schema(nullable = false)]
    pub correlation_id: Option<String>,
    #[schema(nullable = false)]
    pub causation_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------------
// Health

/// The process runs.
#[derive(Debug, ToSchema)]
pub struct Health {
    #[schema(examples("ok"))]
    pub status: String,
}

/// Whether the database answers.
#[derive(Debug, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    #[schema(examples("ready"))]
    pub status: String,
    /// The storage backend: `sqlite` or `postgres`.
    #[schema(examples("postgres"))]
    pub database: String,
}

/// The outbox listing of `GET /api/v1/admin/callbacks`.
#[derive(Debug, ToSchema)]
pub struct CallbackList {
    pub callbacks: Vec<CallbackRecord>,
}

/// One callback (or broker publication) with its delivery attempts.
#[derive(Debug, ToSchema)]
pub struct CallbackDetail {
    pub callback: CallbackRecord,
    pub attempts: Vec<CallbackAttempt>,
}

/// A callback or broker publication as operators see it; the body is not shown.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct CallbackRecord {
    /// The row id used by `redeliver`.
    pub id: i64,
    /// Sent as `X-Esign-Event-Id` (JetStream `Nats-Msg-Id`), the same on every attempt.
    #[schema(format = "uuid")]
    pub event_id: String,
    #[schema(examples("ContractStatusChangedEvent"))]
    pub event_type: String,
    /// `callback` or `nats`.
    pub destination: String,
    pub stream_id: String,
    pub stream_version: i64,
    pub client_id: String,
    /// The callback URL, or the broker subject.
    pub target: String,
    /// PENDING, DELIVERING, DELIVERED or DEAD.
    pub status: String,
    pub attempts: i64,
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: Option<String>,
    #[schema(format = DateTime)]
    pub delivered_at: Option<String>,
    #[schema(format = DateTime)]
    pub dead_at: Option<String>,
}

/// One delivery attempt.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct CallbackAttempt {
    pub attempt: i64,
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    pub latency_ms: i64,
    /// The receiver's HTTP status, when it answered.
    pub http_status: Option<i64>,
    /// DELIVERED, FAILED (will retry) or DEAD (the last attempt failed).
    pub outcome: String,
    pub error: Option<String>,
    /// The service instance that made the attempt.
    pub instance: String,
}
