//! The transactional outbox: callbacks to callers, recorded in the command's own transaction.
//!
//! When a command changes what a caller is told about (spec 2.2.1), the pipeline writes one outbox row
//! per published event beside the events and the query rows, so a callback exists exactly when its
//! cause was committed. The body is the matching `GET`'s JSON plus the event's id, type and the stream
//! version (callbacks can arrive out of order), sealed because it may carry personal data.

use chrono::SecondsFormat;
use projections::{Publication, Row, Table};
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
