//! The per-stream hash chain: how an event's hash is computed at append and re-checked later.
//!
//! `hash = SHA-256(prev_hash ‖ canonical JSON of the event)`, where the first event of a stream has an
//! all-zero `prev_hash` and the canonical JSON covers every stored field but the positions (which the
//! database assigns at commit). Changing any byte of a stored event, dropping one or reordering them
//! breaks the chain at that event.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::canonical::to_canonical_bytes;
use super::{ChainCursor, EventStore, RecordedEvent, StoreError, StreamId};

/// The hash a stream's first event chains from.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// The fields of an event that the chain covers.
#[derive(Debug)]
pub struct ChainedFields<'a> {
    pub event_id: Uuid,
    pub stream_id: &'a StreamId,
    pub stream_version: u64,
    pub event_type: &'a str,
    pub schema_version: u32,
    pub payload: &'a Value,
    pub metadata: &'a Value,
    pub recorded_at: DateTime<Utc>,
}

impl<'a> ChainedFields<'a> {
    pub fn of(event: &'a RecordedEvent, metadata: &'a Value) -> Self {
        Self {
            event_id: event.event_id,
            stream_id: &event.stream_id,
            stream_version: event.stream_version,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            payload: event.payload.as_value(),
            metadata,
            recorded_at: event.recorded_at,
        }
    }
}

/// `SHA-256(prev_hash ‖ canonical(fields))`.
pub fn event_hash(prev_hash: &[u8; 32], fields: &ChainedFields<'_>) -> [u8; 32] {
    let mut document = Map::new();
    document.insert("eventId".into(), Value::String(fields.event_id.to_string()));
    document.insert(
        "streamId".into(),
        Value::String(fields.stream_id.to_string()),
    );
    document.insert("streamVersion".into(), Value::from(fields.stream_version));
    document.insert(
        "eventType".into(),
        Value::String(fields.event_type.to_owned()),
    );
    document.insert("schemaVersion".into(), Value::from(fields.schema_version));
    document.insert("payload".into(), fields.payload.clone());
    document.insert("metadata".into(), fields.metadata.clone());
    document.insert(
        "recordedAt".into(),
        Value::String(
            fields
                .recorded_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
        ),
    );
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(to_canonical_bytes(&Value::Object(document)));
    hasher.finalize().into()
}

/// What is wrong at the first broken link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum BreakKind {
    /// The stored hash is not the hash of the stored content: the event was altered.
    HashMismatch { stored: String, computed: String },
    /// `prev_hash` does not name the previous event's hash: an event was replaced or reordered.
    PrevHashMismatch { stored: String, expected: String },
    /// A version is missing or repeated.
    VersionGap { expected: u64 },
}

/// The first broken link found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainBreak {
    pub stream_id: StreamId,
    pub stream_version: u64,
    pub global_position: i64,
    pub event_id: Uuid,
    #[serde(flatten)]
    pub kind: BreakKind,
}

/// The outcome of verifying one stream or the whole store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainReport {
    pub streams: u64,
    pub events: u64,
    pub first_break: Option<ChainBreak>,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Checks one event against the one before it in its stream.
pub fn check_link(
    event: &RecordedEvent,
    expected_version: u64,
    expected_prev: &[u8; 32],
) -> Option<ChainBreak> {
    let broken = |kind| {
        Some(ChainBreak {
            stream_id: event.stream_id.clone(),
            stream_version: event.stream_version,
            global_position: event.global_position,
            event_id: event.event_id,
            kind,
        })
    };
    if event.stream_version != expected_version {
        return broken(BreakKind::VersionGap {
            expected: expected_version,
        });
    }
    if &event.prev_hash != expected_prev {
        return broken(BreakKind::PrevHashMismatch {
            stored: hex::encode(event.prev_hash),
            expected: hex::encode(expected_prev),
        });
    }
    let metadata = serde_json::to_value(&event.metadata).unwrap_or_default();
    let computed = event_hash(&event.prev_hash, &ChainedFields::of(event, &metadata));
    if computed != event.hash {
        return broken(BreakKind::HashMismatch {
            stored: hex::encode(event.hash),
            computed: hex::encode(computed),
        });
    }
    None
}

/// Verifies one stream's chain.
pub async fn verify_stream<S: EventStore>(
    store: &S,
    stream_id: &StreamId,
) -> Result<ChainReport, StoreError> {
    let events = store.read_stream(stream_id, 0).await?;
    let mut previous = GENESIS_HASH;
    for (index, event) in events.iter().enumerate() {
        if let Some(first_break) = check_link(event, index as u64 + 1, &previous) {
            return Ok(ChainReport {
                streams: 1,
                events: index as u64 + 1,
                first_break: Some(first_break),
            });
        }
        previous = event.hash;
    }
    Ok(ChainReport {
        streams: u64::from(!events.is_empty()),
        events: events.len() as u64,
        first_break: None,
    })
}

/// Verifies every stream, walking the log in `(stream, version)` order, page by page. Stops at the
/// first broken link.
pub async fn verify_all<S: EventStore>(
    store: &S,
    page_size: usize,
) -> Result<ChainReport, StoreError> {
    let mut report = ChainReport {
        streams: 0,
        events: 0,
        first_break: None,
    };
    let mut cursor: Option<ChainCursor> = None;
    let mut current: Option<(StreamId, u64, [u8; 32])> = None;
    loop {
        let page = store.read_chain(cursor.clone(), page_size).await?;
        let Some(last) = page.last() else {
            return Ok(report);
        };
        cursor = Some(ChainCursor {
            stream_id: last.stream_id.clone(),
            stream_version: last.stream_version,
        });
        for event in &page {
            let (expected_version, expected_prev) = match &current {
                Some((stream, version, hash)) if *stream == event.stream_id => (version + 1, *hash),
                _ => {
                    report.streams += 1;
                    (1, GENESIS_HASH)
                }
            };
            report.events += 1;
            if let Some(first_break) = check_link(event, expected_version, &expected_prev) {
                report.first_break = Some(first_break);
                return Ok(report);
            }
            current = Some((event.stream_id.clone(), event.stream_version, event.hash));
        }
    }
}
