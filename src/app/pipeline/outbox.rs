//! The transactional outbox: callbacks to callers, recorded in the command's own transaction.
//!
//! When a command changes what a caller is told about (spec 2.2.1), the pipeline writes one outbox row
//! per published event beside the events and the query rows, so a callback exists exactly when its
//! cause was committed. The body is the matching `GET`'s JSON plus the event's id, type and the stream
//! version (callbacks can arrive out of order), sealed because it may carry personal data.

use chrono::SecondsFormat;
use projections::{Publication, PublishedEvent, Row, Table};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::pii::{PiiCipher, PiiError};
use crate::store::RecordedEvent;
use crate::store::outbox::{Destination, OutboxEntry};
use crate::store::query_tables::RowView;

/// The broker subject an event is published on: `<prefix>.<EventName>` (`esign.events.` by default).
pub fn nats_subject(prefix: &str, event_type: &str) -> String {
    format!("{prefix}.{event_type}")
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
    let (template_updates, publications): (Vec<&Publication>, Vec<&Publication>) = publications
        .iter()
        .partition(|publication| publication.event == PublishedEvent::TemplateUpdated);
    let mut entries = match broker_subject_prefix {
        Some(prefix) => template_entries(&template_updates, rows, cause, pii, prefix)?,
        // Templates have no caller to call back: without a broker there is no one to tell.
        None => Vec::new(),
    };
    if publications.is_empty() {
        return Ok(entries);
    }
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
            crate::read::views::contract(contract, &signers, &archives, pii)?
        }
        None => crate::read::views::verification(owner, pii)?,
    };
    for publication in publications {
        let callback_id = Uuid::now_v7();
        let mut body = resource.clone();
        stamp(&mut body, callback_id, publication.event.name(), cause);
        if let Some(archive_id) = &publication.archive_id
            && let Value::Object(fields) = &mut body
        {
            fields.insert("archiveId".into(), json!(archive_id));
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

/// Adds what every published body carries: the event's id (stable across delivery attempts), its
/// name, the stream version (deliveries can arrive out of order) and when its cause was recorded.
fn stamp(body: &mut Value, event_id: Uuid, event_name: &str, cause: &RecordedEvent) {
    if let Value::Object(fields) = body {
        fields.insert("eventId".into(), json!(event_id.to_string()));
        fields.insert("eventType".into(), json!(event_name));
        fields.insert("streamVersion".into(), json!(cause.stream_version));
        fields.insert(
            "occurredAt".into(),
            json!(
                cause
                    .recorded_at
                    .to_rfc3339_opts(SecondsFormat::Micros, true)
            ),
        );
    }
}

/// The broker's `TemplateUpdatedEvent` for each template version published or (de)activated: the
/// version as `GET` shows it without its content (consumers fetch that when they need it).
fn template_entries(
    updates: &[&Publication],
    rows: &[Row],
    cause: &RecordedEvent,
    pii: &PiiCipher,
    prefix: &str,
) -> Result<Vec<OutboxEntry>, OutboxError> {
    let mut entries = Vec::with_capacity(updates.len());
    for update in updates {
        let row = rows
            .iter()
            .filter(|row| row.table == Table::ContractTemplate)
            .map(RowView::from_row)
            .find(|row| row.text("version") == update.template_version.as_deref())
            .ok_or_else(|| {
                OutboxError::MissingRow(cause.stream_id.to_string(), "template version")
            })?;
        let event_id = Uuid::now_v7();
        let mut body = crate::read::views::template(&row);
        if let Value::Object(fields) = &mut body {
            fields.remove("content");
        }
        stamp(&mut body, event_id, update.event.name(), cause);
        entries.push(OutboxEntry {
            callback_id: event_id,
            destination: Destination::Nats,
            event_type: update.event.name(),
            source_event_id: cause.event_id,
            stream_id: cause.stream_id.to_string(),
            stream_version: i64::try_from(cause.stream_version).unwrap_or(i64::MAX),
            client_id: row.text("updated_by").unwrap_or_default().to_owned(),
            callback_url: nats_subject(prefix, update.event.name()),
            callback_headers: None,
            body_sealed: pii.seal_text(&body.to_string())?.to_string(),
            created_at: cause.recorded_at,
        });
    }
    Ok(entries)
}

/// The broker is shared by downstream consumers that are not the resource's owner: names, ID and
/// mobile numbers go there masked.
fn masked_for_broker(mut body: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(fields) => {
                for (name, field) in fields.iter_mut() {
                    match (name.as_str(), &*field) {
                        ("idCardNo" | "mobile", Value::String(text)) => {
                            *field = Value::String(crate::pii::mask_text(text));
                        }
                        // Signers' and verified persons' names: the only `name` in these bodies.
                        ("name", Value::String(text)) => {
                            *field = Value::String(crate::pii::mask_name(text));
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
