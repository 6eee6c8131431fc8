//! The outbox: what a command publishes, written in the command's own transaction, and the work
//! queue the dispatchers take it from.
//!
//! A dispatcher claims due rows by marking them DELIVERING with its own token and a lease. On
//! PostgreSQL the claim locks with `FOR UPDATE SKIP LOCKED`, so several instances share the work
//! without waiting on each other. A row waits while an earlier row of the same stream and
//! destination is undelivered, so one receiver sees one contract's callbacks in version order. When
//! the attempt ends, the outcome is written only if the claim is still ours (a dispatcher that
//! stalled past its lease does not overwrite the instance that took over), and the attempt itself is
//! always recorded.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::sql::{SqlRow, Statement, Value};
use super::{Store, StoreError};

/// Where an outbox row goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    /// The caller's `callbackUrl`, signed with the caller's secret.
    Callback,
    /// The event broker (NATS JetStream), subject `esign.events.<EventName>`; personal data masked.
    Nats,
}

impl Destination {
    pub fn as_str(self) -> &'static str {
        match self {
            Destination::Callback => "callback",
            Destination::Nats => "nats",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "callback" => Some(Destination::Callback),
            "nats" => Some(Destination::Nats),
            _ => None,
        }
    }
}

/// One callback or publication to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// Sent as the event id on every attempt and to every destination; receivers dedupe by it.
    pub callback_id: Uuid,
    pub destination: Destination,
    pub event_type: &'static str,
    pub source_event_id: Uuid,
    pub stream_id: String,
    pub stream_version: i64,
    pub client_id: String,
    /// The callback URL, or for the broker the subject.
    pub callback_url: String,
    pub callback_headers: Option<String>,
    pub body_sealed: String,
    pub created_at: DateTime<Utc>,
}

impl OutboxEntry {
    /// The row's insert, written inside the command's transaction.
    pub(super) fn insert(&self) -> (Statement, Vec<Value>) {
        (
            Statement::from(
                "INSERT INTO outbox (callback_id, event_type, source_event_id, stream_id, \
                 stream_version, client_id, callback_url, callback_headers, body_sealed, \
                 next_attempt_at, created_at, destination) \
                 VALUES ({1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {10}, {11})",
            ),
            vec![
                self.callback_id.into(),
                self.event_type.into(),
                self.source_event_id.into(),
                self.stream_id.as_str().into(),
                self.stream_version.into(),
                self.client_id.as_str().into(),
                self.callback_url.as_str().into(),
                self.callback_headers.clone().into(),
                self.body_sealed.as_str().into(),
                self.created_at.into(),
                self.destination.as_str().into(),
            ],
        )
    }
}

/// A row's delivery status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatus {
    Pending,
    Delivering,
    Delivered,
    /// Every attempt failed; an operator decides (redeliver).
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "PENDING",
            DeliveryStatus::Delivering => "DELIVERING",
            DeliveryStatus::Delivered => "DELIVERED",
            DeliveryStatus::Dead => "DEAD",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "PENDING" => Some(DeliveryStatus::Pending),
            "DELIVERING" => Some(DeliveryStatus::Delivering),
            "DELIVERED" => Some(DeliveryStatus::Delivered),
            "DEAD" => Some(DeliveryStatus::Dead),
            _ => None,
        }
    }
}

/// A row this dispatcher holds.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub callback_id: Uuid,
    pub destination: Destination,
    pub event_type: String,
    pub stream_id: String,
    pub stream_version: i64,
    pub client_id: String,
    /// Callback URL, or broker subject.
    pub target: String,
    pub headers_sealed: Option<String>,
    pub body_sealed: String,
    /// Attempts including the one about to be made.
    pub attempt: u32,
    pub claim_token: Uuid,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered,
    /// Failed; try again at this time.
    Retry(DateTime<Utc>),
    /// Failed and no attempt is left.
    Dead,
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered => "DELIVERED",
            Outcome::Retry(_) => "FAILED",
            Outcome::Dead => "DEAD",
        }
    }
}

/// One attempt as recorded.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub started_at: DateTime<Utc>,
    pub latency: Duration,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub outcome: Outcome,
}

/// A row as operators see it (no body: it may carry personal data).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackSummary {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub destination: String,
    pub stream_id: String,
    pub stream_version: i64,
    pub client_id: String,
    pub target: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub dead_at: Option<DateTime<Utc>>,
}

/// One recorded attempt as operators see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptSummary {
    pub attempt: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub latency_ms: i64,
    pub http_status: Option<i64>,
    pub outcome: String,
    pub error: Option<String>,
    pub instance: String,
}

/// Backlog figures for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    pub undelivered: i64,
    pub oldest_created_at: Option<DateTime<Utc>>,
    pub dead: i64,
}

/// Rows that may be claimed: due and pending, or held under a lease that ran out; and not behind an
/// undelivered earlier row of their stream and destination.
const CLAIMABLE: &str = "((o.status = 'PENDING' AND o.next_attempt_at <= {3}) \
     OR (o.status = 'DELIVERING' AND o.lease_until <= {3})) \
     AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.stream_id = o.stream_id \
         AND e.destination = o.destination AND e.id < o.id \
         AND e.status IN ('PENDING', 'DELIVERING'))";

const CLAIMED_COLUMNS: [&str; 11] = [
    "id",
    "callback_id",
    "destination",
    "event_type",
    "stream_id",
    "stream_version",
    "client_id",
    "callback_url",
    "callback_headers",
    "body_sealed",
    "attempts",
];

const SUMMARY_COLUMNS: &str = "id, callback_id, event_type, destination, stream_id, stream_version, \
     client_id, callback_url, status, attempts, next_attempt_at, last_error, created_at, delivered_at, dead_at";

/// The outbox as a work queue: [`Store::outbox`].
#[derive(Debug, Clone, Copy)]
pub struct Outbox<'a>(&'a Store);

impl Store {
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox(self)
    }
}

impl Outbox<'_> {
    /// Claims up to `limit` due rows until `now + lease`.
    pub async fn claim(
        self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Claimed>, StoreError> {
        let token = Uuid::now_v7();
        let lease_until =
            now + chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::seconds(60));
        let sqlite = format!(
            "UPDATE outbox SET status = 'DELIVERING', claim_token = {{1}}, lease_until = {{2}}, \
             attempts = attempts + 1 \
             WHERE id IN (SELECT o.id FROM outbox o WHERE {CLAIMABLE} \
                          ORDER BY o.next_attempt_at, o.id LIMIT {{4}}) \
             RETURNING {}",
            CLAIMED_COLUMNS.join(", ")
        );
        let postgres = format!(
            "WITH due AS (SELECT o.id FROM outbox o WHERE {CLAIMABLE} \
                          ORDER BY o.next_attempt_at, o.id LIMIT {{4}} FOR UPDATE SKIP LOCKED) \
             UPDATE outbox SET status = 'DELIVERING', claim_token = {{1}}, lease_until = {{2}}, \
                    attempts = outbox.attempts + 1 \
             FROM due WHERE outbox.id = due.id RETURNING {}",
            CLAIMED_COLUMNS
                .iter()
                .map(|column| format!("outbox.{column}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let written = self
            .0
            .write_one(
                Statement::per_backend(sqlite, postgres),
                vec![token.into(), lease_until.into(), now.into(), limit.into()],
            )
            .await?;
        written.rows.iter().map(|row| claimed(row, token)).collect()
    }

    /// Records `attempt` and, if the claim is still ours, the row's new state. `false` when another
    /// dispatcher took the row over meanwhile (its lease had run out).
    pub async fn finish(
        self,
        claimed: &Claimed,
        attempt: &Attempt,
        instance: &str,
    ) -> Result<bool, StoreError> {
        let (status, next_attempt_at) = match &attempt.outcome {
            Outcome::Delivered => (DeliveryStatus::Delivered, None),
            Outcome::Retry(at) => (DeliveryStatus::Pending, Some(*at)),
            Outcome::Dead => (DeliveryStatus::Dead, None),
        };
        let finished_at = attempt.started_at
            + chrono::TimeDelta::from_std(attempt.latency).unwrap_or(chrono::TimeDelta::zero());
        let delivered_at = (status == DeliveryStatus::Delivered).then_some(finished_at);
        let dead_at = (status == DeliveryStatus::Dead).then_some(finished_at);
        let latency_ms = i64::try_from(attempt.latency.as_millis()).unwrap_or(i64::MAX);
        let record_attempt = (
            Statement::from(
                "INSERT INTO outbox_attempts (outbox_id, attempt, started_at, latency_ms, \
                 http_status, outcome, error, instance) \
                 VALUES ({1}, {2}, {3}, {4}, {5}, {6}, {7}, {8})",
            ),
            vec![
                claimed.id.into(),
                claimed.attempt.into(),
                attempt.started_at.into(),
                latency_ms.into(),
                attempt.http_status.map(i64::from).into(),
                attempt.outcome.label().into(),
                attempt.error.clone().into(),
                instance.into(),
            ],
        );
        let update_row = (
            Statement::from(
                "UPDATE outbox SET status = {1}, next_attempt_at = COALESCE({2}, next_attempt_at), \
                 last_error = {3}, delivered_at = COALESCE({4}, delivered_at), dead_at = {5}, \
                 claim_token = NULL, lease_until = NULL \
                 WHERE id = {6} AND claim_token = {7}",
            ),
            vec![
                status.as_str().into(),
                next_attempt_at.into(),
                attempt.error.clone().into(),
                delivered_at.into(),
                dead_at.into(),
                claimed.id.into(),
                claimed.claim_token.into(),
            ],
        );
        let written = self.0.write(vec![record_attempt, update_row]).await?;
        Ok(written.last().is_some_and(|update| update.count == 1))
    }

    /// The newest rows, optionally of one status, newest first.
    pub async fn list(
        self,
        status: Option<DeliveryStatus>,
        limit: u32,
    ) -> Result<Vec<CallbackSummary>, StoreError> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM outbox WHERE (CAST({{1}} AS TEXT) IS NULL OR status = {{1}}) \
             ORDER BY id DESC LIMIT {{2}}"
        );
        let rows = self
            .0
            .query(
                sql,
                vec![status.map(DeliveryStatus::as_str).into(), limit.into()],
            )
            .await?;
        rows.iter().map(summary).collect()
    }

    /// One row by id.
    pub async fn find(self, id: i64) -> Result<Option<CallbackSummary>, StoreError> {
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM outbox WHERE id = {{1}}");
        self.0
            .query_opt(sql, vec![id.into()])
            .await?
            .as_ref()
            .map(summary)
            .transpose()
    }

    /// Every recorded attempt of one row, oldest first.
    pub async fn attempts(self, id: i64) -> Result<Vec<AttemptSummary>, StoreError> {
        let rows = self
            .0
            .query(
                "SELECT attempt, started_at, latency_ms, http_status, outcome, error, instance \
                 FROM outbox_attempts WHERE outbox_id = {1} ORDER BY id",
                vec![id.into()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(AttemptSummary {
                    attempt: row.int(0)?,
                    started_at: row.opt_time(1)?,
                    latency_ms: row.int(2)?,
                    http_status: row.opt_int(3)?,
                    outcome: row.text(4)?,
                    error: row.opt_text(5)?,
                    instance: row.text(6)?,
                })
            })
            .collect()
    }

    /// Schedules a row for delivery now with a fresh set of attempts (a dead letter an operator has
    /// looked at, or a delivered callback the receiver lost). A row being delivered right now is left
    /// alone. `None` when there is no such row.
    pub async fn redeliver(
        self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<CallbackSummary>, StoreError> {
        self.0
            .write_one(
                "UPDATE outbox SET status = 'PENDING', attempts = 0, next_attempt_at = {1}, \
                 dead_at = NULL WHERE id = {2} AND status <> 'DELIVERING'",
                vec![now.into(), id.into()],
            )
            .await?;
        self.find(id).await
    }

    /// Undelivered rows, the oldest one's age, and dead letters.
    pub async fn backlog(self) -> Result<Backlog, StoreError> {
        let row = self
            .0
            .query_opt(
                "SELECT \
                 (SELECT count(*) FROM outbox WHERE status IN ('PENDING', 'DELIVERING')), \
                 (SELECT min(created_at) FROM outbox WHERE status IN ('PENDING', 'DELIVERING')), \
                 (SELECT count(*) FROM outbox WHERE status = 'DEAD')",
                Vec::new(),
            )
            .await?
            .ok_or_else(|| StoreError::Database("the backlog query returned no row".into()))?;
        Ok(Backlog {
            undelivered: row.int(0)?,
            oldest_created_at: row.opt_time(1)?,
            dead: row.int(2)?,
        })
    }
}

fn claimed(row: &SqlRow, token: Uuid) -> Result<Claimed, StoreError> {
    let id = row.int(0)?;
    let destination = row.text(2)?;
    Ok(Claimed {
        id,
        callback_id: row.uuid(1)?,
        destination: Destination::parse(&destination).ok_or_else(|| {
            StoreError::Database(format!("outbox {id}: unknown destination {destination}"))
        })?,
        event_type: row.text(3)?,
        stream_id: row.text(4)?,
        stream_version: row.int(5)?,
        client_id: row.text(6)?,
        target: row.text(7)?,
        headers_sealed: row.opt_text(8)?,
        body_sealed: row.text(9)?,
        attempt: u32::try_from(row.int(10)?).unwrap_or(u32::MAX),
        claim_token: token,
    })
}

fn summary(row: &SqlRow) -> Result<CallbackSummary, StoreError> {
    Ok(CallbackSummary {
        id: row.int(0)?,
        event_id: row.uuid(1)?.to_string(),
        event_type: row.text(2)?,
        destination: row.text(3)?,
        stream_id: row.text(4)?,
        stream_version: row.int(5)?,
        client_id: row.text(6)?,
        target: row.text(7)?,
        status: row.text(8)?,
        attempts: row.int(9)?,
        next_attempt_at: row.opt_time(10)?,
        last_error: row.opt_text(11)?,
        created_at: row.opt_time(12)?,
        delivered_at: row.opt_time(13)?,
        dead_at: row.opt_time(14)?,
    })
}
