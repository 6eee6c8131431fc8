//! The outbox as a work queue, on both backends.
//!
//! A dispatcher claims due rows by marking them DELIVERING with its own token and a lease. On
//! PostgreSQL the claim locks with `FOR UPDATE SKIP LOCKED`, so several instances share the work
//! without waiting on each other. A row waits while an earlier row of the same stream and
//! destination is undelivered, so one receiver sees one contract's callbacks in version order. When
//! the attempt ends, the outcome is written only if the claim is still ours (a dispatcher that
//! stalled past its lease does not overwrite the instance that took over), and the attempt itself is
//! always recorded.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::OptionalExtension;
use serde::Serialize;
use uuid::Uuid;

use crate::app::pipeline::outbox::Destination;
use crate::store::postgres::{db_error, pool_error};
use crate::store::sqlite::sql_error;
use crate::store::{Store, StoreError};

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

fn text_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_time(text: Option<String>) -> Option<DateTime<Utc>> {
    text.and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
        .map(|time| time.with_timezone(&Utc))
}

/// Rows that may be claimed: due and pending, or held under a lease that ran out; and not behind an
/// undelivered earlier row of their stream and destination.
const CLAIMABLE: &str = "((o.status = 'PENDING' AND o.next_attempt_at <= {now}) \
     OR (o.status = 'DELIVERING' AND o.lease_until <= {now})) \
     AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.stream_id = o.stream_id \
         AND e.destination = o.destination AND e.id < o.id \
         AND e.status IN ('PENDING', 'DELIVERING'))";

const RETURNING: &str = "id, callback_id, destination, event_type, stream_id, stream_version, client_id, \
     callback_url, callback_headers, body_sealed, attempts";

/// Claims up to `limit` due rows until `now + lease`.
pub async fn claim(
    store: &Store,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u32,
) -> Result<Vec<Claimed>, StoreError> {
    let token = Uuid::now_v7();
    let lease_until =
        now + chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::seconds(60));
    match store {
        Store::Sqlite(sqlite) => sqlite
            .write(move |connection| {
                let sql = format!(
                    "UPDATE outbox SET status = 'DELIVERING', claim_token = ?1, lease_until = ?2, \
                         attempts = attempts + 1 \
                         WHERE id IN (SELECT o.id FROM outbox o WHERE {} \
                                      ORDER BY o.next_attempt_at, o.id LIMIT ?4) \
                         RETURNING {RETURNING}",
                    CLAIMABLE.replace("{now}", "?3")
                );
                let mut statement = connection.prepare_cached(&sql).map_err(sql_error)?;
                let rows = statement
                    .query_map(
                        rusqlite::params![
                            token.to_string(),
                            text_time(lease_until),
                            text_time(now),
                            limit
                        ],
                        |row| {
                            Ok((
                                row.get::<_, i64>(0)?,
                                row.get::<_, String>(1)?,
                                row.get::<_, String>(2)?,
                                row.get::<_, String>(3)?,
                                row.get::<_, String>(4)?,
                                row.get::<_, i64>(5)?,
                                (
                                    row.get::<_, String>(6)?,
                                    row.get::<_, String>(7)?,
                                    row.get::<_, Option<String>>(8)?,
                                    row.get::<_, String>(9)?,
                                    row.get::<_, i64>(10)?,
                                ),
                            ))
                        },
                    )
                    .map_err(sql_error)?;
                let mut claimed = Vec::new();
                for row in rows {
                    let (id, callback_id, destination, event_type, stream_id, version, rest) =
                        row.map_err(sql_error)?;
                    let (client_id, target, headers, body, attempts) = rest;
                    claimed.push(Claimed {
                        id,
                        callback_id: Uuid::parse_str(&callback_id)
                            .map_err(|e| StoreError::Database(format!("outbox {id}: {e}")))?,
                        destination: Destination::parse(&destination).ok_or_else(|| {
                            StoreError::Database(format!(
                                "outbox {id}: unknown destination {destination}"
                            ))
                        })?,
                        event_type,
                        stream_id,
                        stream_version: version,
                        client_id,
                        target,
                        headers_sealed: headers,
                        body_sealed: body,
                        attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
                        claim_token: token,
                    });
                }
                Ok(claimed)
            })
            .await,
        Store::Postgres(postgres) => {
            let client = postgres.pool().get().await.map_err(pool_error)?;
            let sql = format!(
                "WITH due AS (SELECT o.id FROM outbox o WHERE {} \
                              ORDER BY o.next_attempt_at, o.id LIMIT $4 FOR UPDATE SKIP LOCKED) \
                 UPDATE outbox SET status = 'DELIVERING', claim_token = $1, lease_until = $2, \
                        attempts = outbox.attempts + 1 \
                 FROM due WHERE outbox.id = due.id RETURNING {}",
                CLAIMABLE.replace("{now}", "$3"),
                RETURNING
                    .split(", ")
                    .map(|column| format!("outbox.{column}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let statement = client.prepare_cached(&sql).await.map_err(db_error)?;
            let rows = client
                .query(&statement, &[&token, &lease_until, &now, &i64::from(limit)])
                .await
                .map_err(db_error)?;
            rows.iter()
                .map(|row| {
                    let id: i64 = row.get(0);
                    let destination: String = row.get(2);
                    let attempts: i32 = row.get(10);
                    Ok(Claimed {
                        id,
                        callback_id: row.get(1),
                        destination: Destination::parse(&destination).ok_or_else(|| {
                            StoreError::Database(format!(
                                "outbox {id}: unknown destination {destination}"
                            ))
                        })?,
                        event_type: row.get(3),
                        stream_id: row.get(4),
                        stream_version: row.get(5),
                        client_id: row.get(6),
                        target: row.get(7),
                        headers_sealed: row.get(8),
                        body_sealed: row.get(9),
                        attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
                        claim_token: token,
                    })
                })
                .collect()
        }
    }
}

/// Records `attempt` and, if the claim is still ours, the row's new state. `false` when another
/// dispatcher took the row over meanwhile (its lease had run out).
pub async fn finish(
    store: &Store,
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
    let http_status = attempt.http_status.map(i32::from);
    let error = attempt.error.clone();
    let attempt_number = i64::from(claimed.attempt);
    let outcome = attempt.outcome.label();
    match store {
        Store::Sqlite(sqlite) => {
            let (id, token, instance) = (
                claimed.id,
                claimed.claim_token.to_string(),
                instance.to_owned(),
            );
            let started_at = text_time(attempt.started_at);
            sqlite
                .write(move |connection| {
                    connection
                        .prepare_cached(
                            "INSERT INTO outbox_attempts (outbox_id, attempt, started_at, latency_ms, \
                             http_status, outcome, error, instance) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        )
                        .and_then(|mut statement| {
                            statement.execute(rusqlite::params![
                                id,
                                attempt_number,
                                started_at,
                                latency_ms,
                                http_status,
                                outcome,
                                error,
                                instance
                            ])
                        })
                        .map_err(sql_error)?;
                    let updated = connection
                        .prepare_cached(
                            "UPDATE outbox SET status = ?1, next_attempt_at = COALESCE(?2, next_attempt_at), \
                             last_error = ?3, delivered_at = COALESCE(?4, delivered_at), dead_at = ?5, \
                             claim_token = NULL, lease_until = NULL \
                             WHERE id = ?6 AND claim_token = ?7",
                        )
                        .and_then(|mut statement| {
                            statement.execute(rusqlite::params![
                                status.as_str(),
                                next_attempt_at.map(text_time),
                                error,
                                delivered_at.map(text_time),
                                dead_at.map(text_time),
                                id,
                                token
                            ])
                        })
                        .map_err(sql_error)?;
                    Ok(updated == 1)
                })
                .await
        }
        Store::Postgres(postgres) => {
            let mut client = postgres.pool().get().await.map_err(pool_error)?;
            let transaction = client.transaction().await.map_err(db_error)?;
            let insert = transaction
                .prepare_cached(
                    "INSERT INTO outbox_attempts (outbox_id, attempt, started_at, latency_ms, \
                     http_status, outcome, error, instance) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .await
                .map_err(db_error)?;
            let attempt_number = i32::try_from(attempt_number).unwrap_or(i32::MAX);
            let latency_ms = i32::try_from(latency_ms).unwrap_or(i32::MAX);
            transaction
                .execute(
                    &insert,
                    &[
                        &claimed.id,
                        &attempt_number,
                        &attempt.started_at,
                        &latency_ms,
                        &http_status,
                        &outcome,
                        &error,
                        &instance,
                    ],
                )
                .await
                .map_err(db_error)?;
            let update = transaction
                .prepare_cached(
                    "UPDATE outbox SET status = $1, next_attempt_at = COALESCE($2, next_attempt_at), \
                     last_error = $3, delivered_at = COALESCE($4, delivered_at), dead_at = $5, \
                     claim_token = NULL, lease_until = NULL \
                     WHERE id = $6 AND claim_token = $7",
                )
                .await
                .map_err(db_error)?;
            let updated = transaction
                .execute(
                    &update,
                    &[
                        &status.as_str(),
                        &next_attempt_at,
                        &error,
                        &delivered_at,
                        &dead_at,
                        &claimed.id,
                        &claimed.claim_token,
                    ],
                )
                .await
                .map_err(db_error)?;
            transaction.commit().await.map_err(db_error)?;
            Ok(updated == 1)
        }
    }
}

const SUMMARY_COLUMNS: &str = "id, callback_id, event_type, destination, stream_id, stream_version, \
     client_id, callback_url, status, attempts, next_attempt_at, last_error, created_at, delivered_at, dead_at";

/// The newest rows, optionally of one status, newest first.
pub async fn list(
    store: &Store,
    status: Option<DeliveryStatus>,
    limit: u32,
) -> Result<Vec<CallbackSummary>, StoreError> {
    let status = status.map(DeliveryStatus::as_str);
    match store {
        Store::Sqlite(sqlite) => {
            sqlite
                .read(move |connection| {
                    let mut statement = connection
                    .prepare(&format!(
                        "SELECT {SUMMARY_COLUMNS} FROM outbox WHERE (?1 IS NULL OR status = ?1) \
                             ORDER BY id DESC LIMIT ?2"
                    ))
                    .map_err(sql_error)?;
                    let rows = statement
                        .query_map(rusqlite::params![status, limit], sqlite_summary)
                        .map_err(sql_error)?;
                    rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
                })
                .await
        }
        Store::Postgres(postgres) => {
            let client = postgres.pool().get().await.map_err(pool_error)?;
            let rows = client
                .query(
                    &format!(
                        "SELECT {SUMMARY_COLUMNS} FROM outbox WHERE ($1::text IS NULL OR status = $1) \
                         ORDER BY id DESC LIMIT $2"
                    ),
                    &[&status, &i64::from(limit)],
                )
                .await
                .map_err(db_error)?;
            Ok(rows.iter().map(postgres_summary).collect())
        }
    }
}

/// One row by id.
pub async fn find(store: &Store, id: i64) -> Result<Option<CallbackSummary>, StoreError> {
    match store {
        Store::Sqlite(sqlite) => {
            sqlite
                .read(move |connection| {
                    connection
                        .query_row(
                            &format!("SELECT {SUMMARY_COLUMNS} FROM outbox WHERE id = ?1"),
                            [id],
                            sqlite_summary,
                        )
                        .optional()
                        .map_err(sql_error)
                })
                .await
        }
        Store::Postgres(postgres) => {
            let client = postgres.pool().get().await.map_err(pool_error)?;
            let row = client
                .query_opt(
                    &format!("SELECT {SUMMARY_COLUMNS} FROM outbox WHERE id = $1"),
                    &[&id],
                )
                .await
                .map_err(db_error)?;
            Ok(row.as_ref().map(postgres_summary))
        }
    }
}

/// Every recorded attempt of one row, oldest first.
pub async fn attempts(store: &Store, id: i64) -> Result<Vec<AttemptSummary>, StoreError> {
    const SQL: &str = "SELECT attempt, started_at, latency_ms, http_status, outcome, error, instance \
                       FROM outbox_attempts WHERE outbox_id = {id} ORDER BY id";
    match store {
        Store::Sqlite(sqlite) => {
            sqlite
                .read(move |connection| {
                    let mut statement = connection
                        .prepare(&SQL.replace("{id}", "?1"))
                        .map_err(sql_error)?;
                    let rows = statement
                        .query_map([id], |row| {
                            Ok(AttemptSummary {
                                attempt: row.get(0)?,
                                started_at: parse_time(row.get(1)?),
                                latency_ms: row.get(2)?,
                                http_status: row.get(3)?,
                                outcome: row.get(4)?,
                                error: row.get(5)?,
                                instance: row.get(6)?,
                            })
                        })
                        .map_err(sql_error)?;
                    rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
                })
                .await
        }
        Store::Postgres(postgres) => {
            let client = postgres.pool().get().await.map_err(pool_error)?;
            let rows = client
                .query(&SQL.replace("{id}", "$1"), &[&id])
                .await
                .map_err(db_error)?;
            Ok(rows
                .iter()
                .map(|row| AttemptSummary {
                    attempt: i64::from(row.get::<_, i32>(0)),
                    started_at: row.get(1),
                    latency_ms: i64::from(row.get::<_, i32>(2)),
                    http_status: row.get::<_, Option<i32>>(3).map(i64::from),
                    outcome: row.get(4),
                    error: row.get(5),
                    instance: row.get(6),
                })
                .collect())
        }
    }
}

/// Schedules a row for delivery now with a fresh set of attempts (a dead letter an operator has
/// looked at, or a delivered callback the receiver lost). A row being delivered right now is left
/// alone. `None` when there is no such row.
pub async fn redeliver(
    store: &Store,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Option<CallbackSummary>, StoreError> {
    match store {
        Store::Sqlite(sqlite) => {
            let now = text_time(now);
            sqlite
                .write(move |connection| {
                    connection
                        .execute(
                            "UPDATE outbox SET status = 'PENDING', attempts = 0, next_attempt_at = ?1, \
                             dead_at = NULL WHERE id = ?2 AND status <> 'DELIVERING'",
                            rusqlite::params![now, id],
                        )
                        .map_err(sql_error)?;
                    Ok(())
                })
                .await?;
        }
        Store::Postgres(postgres) => {
            let client = postgres.pool().get().await.map_err(pool_error)?;
            client
                .execute(
                    "UPDATE outbox SET status = 'PENDING', attempts = 0, next_attempt_at = $1, \
                     dead_at = NULL WHERE id = $2 AND status <> 'DELIVERING'",
                    &[&now, &id],
                )
                .await
                .map_err(db_error)?;
        }
    }
    find(store, id).await
}

/// Undelivered rows, the oldest one's age, and dead letters.
pub async fn backlog(store: &Store) -> Result<Backlog, StoreError> {
    const SQL: &str = "SELECT \
         (SELECT count(*) FROM outbox WHERE status IN ('PENDING', 'DELIVERING')), \
         (SELECT min(created_at) FROM outbox WHERE status IN ('PENDING', 'DELIVERING')), \
         (SELECT count(*) FROM outbox WHERE status = 'DEAD')";
    match store {
        Store::Sqlite(sqlite) => {
            sqlite
                .read(|connection| {
                    connection
                        .query_row(SQL, [], |row| {
                            Ok(Backlog {
                                undelivered: row.get(0)?,
                                oldest_created_at: parse_time(row.get(1)?),
                                dead: row.get(2)?,
                            })
                        })
                        .map_err(sql_error)
                })
                .await
        }
        Store::Postgres(postgres) => {
            let client = postgres.pool().get().await.map_err(pool_error)?;
            let row = client.query_one(SQL, &[]).await.map_err(db_error)?;
            Ok(Backlog {
                undelivered: row.get(0),
                oldest_created_at: row.get(1),
                dead: row.get(2),
            })
        }
    }
}

fn sqlite_summary(row: &rusqlite::Row<'_>) -> rusqlite::Result<CallbackSummary> {
    Ok(CallbackSummary {
        id: row.get(0)?,
        event_id: row.get(1)?,
        event_type: row.get(2)?,
        destination: row.get(3)?,
        stream_id: row.get(4)?,
        stream_version: row.get(5)?,
        client_id: row.get(6)?,
        target: row.get(7)?,
        status: row.get(8)?,
        attempts: row.get(9)?,
        next_attempt_at: parse_time(row.get(10)?),
        last_error: row.get(11)?,
        created_at: parse_time(row.get(12)?),
        delivered_at: parse_time(row.get(13)?),
        dead_at: parse_time(row.get(14)?),
    })
}

fn postgres_summary(row: &tokio_postgres::Row) -> CallbackSummary {
    CallbackSummary {
        id: row.get(0),
        event_id: row.get::<_, Uuid>(1).to_string(),
        event_type: row.get(2),
        destination: row.get(3),
        stream_id: row.get(4),
        stream_version: row.get(5),
        client_id: row.get(6),
        target: row.get(7),
        status: row.get(8),
        attempts: i64::from(row.get::<_, i32>(9)),
        next_attempt_at: row.get(10),
        last_error: row.get(11),
        created_at: row.get(12),
        delivered_at: row.get(13),
        dead_at: row.get(14),
    }
}
