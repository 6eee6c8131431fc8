//! The transactional outbox: callbacks to callers, recorded in the command's own transaction.
//!
//! When a command changes what a caller is told about (spec 2.2.1), the pipeline writes one outbox row
//! per published event beside the events and the query rows, so a callback exists exactly when its
//! cause was committed. The body is the matching `GET`'s JSON plus the event's id, type and the stream
//! version (callbacks can arrive out of order), sealed because it may carry personal data.

use chrono::{DateTime, SecondsFormat, Utc};
use projections::{Publication, Row, Table};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::pii::{PiiCipher, PiiError};
use crate::store::postgres::db_error;
use crate::store::query_tables::RowView;
use crate::store::sqlite::sql_error;
use crate::store::{RecordedEvent, StoreError};

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

/// The broker subject an event is published on: `<prefix>.<EventName>` (`esign.events.` by default).
pub fn nats_subject(prefix: &str, event_type: &str) -> String {
    format!("{prefix}.{event_type}")
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

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("the rows of stream {0} hold no {1} row to publish from")]
    MissingRow(String, &'static str),
    #[error("personal data: {0}")]
    Pii(#[from] PiiError),
}

/// The outbox rows for what a command published, from the stream's rows after it and the events it
/// appended (the last one is the cause): one per publication for the caller's callback, and one
/// for the broker when `broker_subject_prefix` is set.
pub fn entries(
    publications: &[Publication],
    rows: &[Row],
    appended: &[RecordedEvent],
    pii: &PiiCipher,
    broker_subject_prefix: Option<&str>,
) -> Result<Vec<OutboxEntry>, OutboxError> {
    let destinations: &[Destination] = match broker_subject_prefix {
        Some(_) => &[Destination::Callback, Destination::Nats],
        None => &[Destination::Callback],
    };
    let Some(cause) = appended.last().filter(|_| !publications.is_empty()) else {
        return Ok(Vec::new());
    };
    let views: Vec<RowView> = rows.iter().map(RowView::from_row).collect();
    let of = |table: Table| -> Vec<&RowView> {
        rows.iter()
            .zip(&views)
            .filter(|(row, _)| row.table == table)
            .map(|(_, view)| view)
            .collect()
    };
    let owner = of(Table::Contract)
        .into_iter()
        .chain(of(Table::FaceVerification))
        .next()
        .ok_or_else(|| {
            OutboxError::MissingRow(cause.stream_id.to_string(), "contract or verification")
        })?;
    let resource = match of(Table::Contract).first() {
        Some(contract) => {
            let signers: Vec<RowView> = of(Table::ContractSigner).into_iter().cloned().collect();
            let archives: Vec<RowView> = of(Table::ContractArchive).into_iter().cloned().collect();
            crate::read::views::contract(contract, &signers, &archives)
        }
        None => crate::read::views::verification(owner, pii)?,
    };
    let mut entries = Vec::with_capacity(publications.len());
    for publication in publications {
        let callback_id = Uuid::now_v7();
        let mut body = resource.clone();
        if let Value::Object(fields) = &mut body {
            fields.insert("eventId".into(), json!(callback_id.to_string()));
            fields.insert("eventType".into(), json!(publication.event.name()));
            fields.insert("streamVersion".into(), json!(cause.stream_version));
            fields.insert(
                "occurredAt".into(),
                json!(
                    cause
                        .recorded_at
                        .to_rfc3339_opts(SecondsFormat::Micros, true)
                ),
            );
            if let Some(archive_id) = &publication.archive_id {
                fields.insert("archiveId".into(), json!(archive_id));
            }
        }
        for destination in destinations {
            let (target, headers, body) = match destination {
                Destination::Callback => (
                    owner.required_text("callback_url").to_owned(),
                    owner.text("callback_headers").map(str::to_owned),
                    body.clone(),
                ),
                Destination::Nats => (
                    nats_subject(
                        broker_subject_prefix.unwrap_or_default(),
                        publication.event.name(),
                    ),
                    None,
                    masked_for_broker(body.clone()),
                ),
            };
            entries.push(OutboxEntry {
                callback_id,
                destination: *destination,
                event_type: publication.event.name(),
                source_event_id: cause.event_id,
                stream_id: cause.stream_id.to_string(),
                stream_version: i64::try_from(cause.stream_version).unwrap_or(i64::MAX),
                client_id: owner.required_text("client_id").to_owned(),
                callback_url: target,
                callback_headers: headers,
                body_sealed: pii.seal_text(&body.to_string())?.to_string(),
                created_at: cause.recorded_at,
            });
        }
    }
    Ok(entries)
}

/// The broker is shared by downstream consumers that are not the resource's owner: ID and mobile
/// numbers go there masked.
fn masked_for_broker(mut body: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(fields) => {
                for (name, field) in fields.iter_mut() {
                    match (name.as_str(), &*field) {
                        ("idCardNo" | "mobile", Value::String(text)) => {
                            *field = Value::String(crate::pii::mask_text(text));
                        }
                        _ => walk(field),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }
    walk(&mut body);
    body
}

const INSERT_COLUMNS: &str = "callback_id, event_type, source_event_id, stream_id, stream_version, client_id, \
                              callback_url, callback_headers, body_sealed, next_attempt_at, created_at, destination";

/// Writes entries on the SQLite writer's connection (inside the command's transaction).
pub fn insert_sqlite(
    connection: &rusqlite::Connection,
    entries: &[OutboxEntry],
) -> Result<(), StoreError> {
    for entry in entries {
        let created = entry
            .created_at
            .to_rfc3339_opts(SecondsFormat::Micros, true);
        connection
            .prepare_cached(&format!(
                "INSERT INTO outbox ({INSERT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)"
            ))
            .and_then(|mut statement| {
                statement.execute(rusqlite::params![
                    entry.callback_id.to_string(),
                    entry.event_type,
                    entry.source_event_id.to_string(),
                    entry.stream_id,
                    entry.stream_version,
                    entry.client_id,
                    entry.callback_url,
                    entry.callback_headers,
                    entry.body_sealed,
                    created,
                    entry.destination.as_str(),
                ])
            })
            .map_err(sql_error)?;
    }
    Ok(())
}

/// Writes entries inside the command's PostgreSQL transaction.
pub async fn insert_postgres<C: deadpool_postgres::GenericClient + Sync>(
    client: &C,
    entries: &[OutboxEntry],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let statement = client
        .prepare_cached(&format!(
            "INSERT INTO outbox ({INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)"
        ))
        .await
        .map_err(db_error)?;
    for entry in entries {
        client
            .execute(
                &statement,
                &[
                    &entry.callback_id,
                    &entry.event_type,
                    &entry.source_event_id,
                    &entry.stream_id,
                    &entry.stream_version,
                    &entry.client_id,
                    &entry.callback_url,
                    &entry.callback_headers,
                    &entry.body_sealed,
                    &entry.created_at,
                    &entry.destination.as_str(),
                ],
            )
            .await
            .map_err(db_error)?;
    }
    Ok(())
}
