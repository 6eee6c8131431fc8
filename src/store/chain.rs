//! The per-stream hash chain: how an event's hash is computed at append and re-checked later.
//!
//! `hash = SHA-256(prev_hash ‖ canonical JSON of the event)`, where the first event of a stream has an
//! all-zero `prev_hash` and the canonical JSON covers every stored field but the positions (which the
//! database assigns at commit). Changing any byte of a stored event, dropping one or reordering them
//! breaks the chain at that event.

use std::collections::VecDeque;
use std::io::Write as _;

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::canonical::{self, TextCanonicaliser};
use super::{ChainBatch, EventMetadata, EventStore, RecordedEvent, StoreError, StreamId};

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
    let header = Header {
        event_id: fields.event_id,
        stream_id: fields.stream_id.as_str(),
        stream_version: fields.stream_version,
        event_type: fields.event_type,
        schema_version: fields.schema_version,
        recorded_at: fields.recorded_at,
    };
    let mut document = Vec::with_capacity(512);
    header.write_start(&mut document);
    canonical::write_value(fields.metadata, &mut document);
    document.extend_from_slice(PAYLOAD_KEY);
    canonical::write_value(fields.payload, &mut document);
    header.write_end(&mut document);
    digest(prev_hash, &document)
}

fn digest(prev_hash: &[u8; 32], document: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(document);
    hasher.finalize().into()
}

/// What separates the metadata from the payload in the canonical document.
const PAYLOAD_KEY: &[u8] = b",\"payload\":";

/// The chained fields besides payload and metadata. The canonical document is an object whose keys
/// sort as `eventId, eventType, metadata, payload, recordedAt, schemaVersion, streamId, streamVersion`,
/// so it is written straight out in that order: this start, the metadata, [`PAYLOAD_KEY`], the
/// payload, this end.
struct Header<'a> {
    event_id: Uuid,
    stream_id: &'a str,
    stream_version: u64,
    event_type: &'a str,
    schema_version: u32,
    recorded_at: DateTime<Utc>,
}

impl Header<'_> {
    fn write_start(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"eventId\":\"");
        out.extend_from_slice(
            self.event_id
                .hyphenated()
                .encode_lower(&mut Uuid::encode_buffer())
                .as_bytes(),
        );
        out.extend_from_slice(b"\",\"eventType\":");
        canonical::write_string(self.event_type, out);
        out.extend_from_slice(b",\"metadata\":");
    }

    fn write_end(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b",\"recordedAt\":\"");
        write_timestamp(&self.recorded_at, out);
        // Writing to a Vec cannot fail.
        let _ = write!(
            out,
            "\",\"schemaVersion\":{},\"streamId\":",
            self.schema_version
        );
        canonical::write_string(self.stream_id, out);
        let _ = write!(out, ",\"streamVersion\":{}}}", self.stream_version);
    }
}

/// `recorded_at` as RFC 3339 with microseconds and `Z`, as `to_rfc3339_opts(Micros, true)` writes it,
/// without its allocations for the four-digit years every stored event has.
fn write_timestamp(time: &DateTime<Utc>, out: &mut Vec<u8>) {
    let year = time.year();
    let nanos = time.nanosecond();
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        out.extend_from_slice(time.to_rfc3339_opts(SecondsFormat::Micros, true).as_bytes());
        return;
    }
    let _ = write!(
        out,
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second(),
        nanos / 1000
    );
}

/// The canonical form of stored metadata as the chain covers it: the typed [`EventMetadata`] written
/// back, which is what `serde_json::to_value(&metadata)` gives, keys in canonical order.
fn write_metadata(metadata: &EventMetadata, out: &mut Vec<u8>) {
    // Destructured so that a new field cannot be forgotten here.
    let EventMetadata {
        actor,
        client_id,
        ip,
        user_agent,
        correlation_id,
        causation_id,
    } = metadata;
    out.extend_from_slice(b"{\"actor\":");
    canonical::write_string(actor, out);
    let optional = [
        ("causationId", causation_id),
        ("clientId", client_id),
        ("correlationId", correlation_id),
        ("ip", ip),
        ("userAgent", user_agent),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            out.push(b',');
            canonical::write_string(key, out);
            out.push(b':');
            canonical::write_string(value, out);
        }
    }
    out.push(b'}');
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
    let kind = link_break(
        Link {
            stream_version: event.stream_version,
            prev_hash: &event.prev_hash,
            hash: &event.hash,
        },
        expected_version,
        expected_prev,
        || recompute(event),
    )?;
    Some(ChainBreak {
        stream_id: event.stream_id.clone(),
        stream_version: event.stream_version,
        global_position: event.global_position,
        event_id: event.event_id,
        kind,
    })
}

/// The hash of a decoded event, from its stored fields.
fn recompute(event: &RecordedEvent) -> [u8; 32] {
    let metadata = serde_json::to_value(&event.metadata).unwrap_or_default();
    event_hash(&event.prev_hash, &ChainedFields::of(event, &metadata))
}

/// What a link check looks at besides the recomputed hash.
struct Link<'a> {
    stream_version: u64,
    prev_hash: &'a [u8; 32],
    hash: &'a [u8; 32],
}

/// The checks of one link, in order: the version, the previous hash, then the event's own hash
/// (recomputed only when the first two hold).
fn link_break(
    link: Link<'_>,
    expected_version: u64,
    expected_prev: &[u8; 32],
    computed: impl FnOnce() -> [u8; 32],
) -> Option<BreakKind> {
    if link.stream_version != expected_version {
        return Some(BreakKind::VersionGap {
            expected: expected_version,
        });
    }
    if link.prev_hash != expected_prev {
        return Some(BreakKind::PrevHashMismatch {
            stored: hex::encode(link.prev_hash),
            expected: hex::encode(expected_prev),
        });
    }
    let computed = computed();
    if computed != *link.hash {
        return Some(BreakKind::HashMismatch {
            stored: hex::encode(link.hash),
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

/// Rows per batch that the backend reads and one hashing task takes.
pub const HASH_BATCH: usize = 2_048;

/// Verifies every stream, walking the log in `(stream, version)` order. Stops at the first broken link.
///
/// The log is read as one ordered stream of rows (one snapshot where the backend has them), and the
/// hashes are recomputed by blocking tasks, several batches at once, while later rows are being read;
/// links are then checked in log order. The outcome is the one a walk `page_size` events at a time
/// through [`EventStore::read_chain`] gives: the first broken link, unless an event of the page that
/// holds it cannot be decoded, which is then the error.
pub async fn verify_all<S: EventStore>(
    store: &S,
    page_size: usize,
) -> Result<ChainReport, StoreError> {
    let mut batches = store.read_chain_rows(HASH_BATCH).await?;
    let in_flight_limit = 2 * std::thread::available_parallelism().map_or(2, usize::from);
    let mut in_flight: VecDeque<tokio::task::JoinHandle<HashedBatch>> = VecDeque::new();
    let mut read_error = None;
    let mut reading = true;
    let mut walk = Walk::new(page_size);
    loop {
        while reading && in_flight.len() < in_flight_limit {
            match batches.recv().await {
                Some(Ok(batch)) => {
                    in_flight.push_back(tokio::task::spawn_blocking(move || hash_batch(batch)));
                }
                Some(Err(error)) => {
                    read_error = Some(error);
                    reading = false;
                }
                None => reading = false,
            }
        }
        let Some(next) = in_flight.pop_front() else {
            break;
        };
        let hashed = next
            .await
            .map_err(|e| StoreError::Database(format!("chain hashing stopped: {e}")))?;
        if let Some(outcome) = walk.advance(hashed) {
            return outcome;
        }
    }
    match read_error {
        Some(error) => Err(error),
        None => Ok(walk.finish()),
    }
}

/// A stored event with the fields the chain covers, borrowed from the row as the database returned it:
/// payload and metadata are still JSON text.
#[derive(Debug)]
pub struct StoredFields<'a> {
    pub global_position: i64,
    pub stream_id: &'a str,
    pub stream_version: u64,
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub schema_version: u32,
    pub payload: &'a str,
    pub metadata: &'a str,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// One row of the log as a backend returned it for chain verification.
pub trait StoredRow: Send {
    /// The chained fields without decoding the JSON, or `None` when a field does not read back the
    /// plain way and the row needs [`StoredRow::decode`].
    fn fields(&self) -> Option<StoredFields<'_>>;

    /// The full decoding [`EventStore::read_chain`] does, with the same errors.
    fn decode(self) -> Result<RecordedEvent, StoreError>;
}

/// An event after hashing, with what the in-order link check needs.
struct HashedEvent {
    /// Where its stream id is in [`HashedBatch::stream_ids`].
    stream_id: std::ops::Range<usize>,
    global_position: i64,
    stream_version: u64,
    event_id: Uuid,
    prev_hash: [u8; 32],
    hash: [u8; 32],
    computed: [u8; 32],
}

/// A batch after hashing, in log order; an event that cannot be decoded carries its error.
struct HashedBatch {
    stream_ids: String,
    events: Vec<Result<HashedEvent, StoreError>>,
}

fn hash_batch(batch: ChainBatch) -> HashedBatch {
    match batch {
        ChainBatch::Postgres(rows) => hash_rows(rows),
        ChainBatch::Sqlite(rows) => hash_rows(rows),
    }
}

fn hash_rows<R: StoredRow>(rows: Vec<R>) -> HashedBatch {
    let mut hasher = StoredHasher::default();
    let mut batch = HashedBatch {
        stream_ids: String::new(),
        events: Vec::with_capacity(rows.len()),
    };
    for row in rows {
        let fast = row.fields().and_then(|fields| {
            let computed = hasher.hash(&fields)?;
            let start = batch.stream_ids.len();
            batch.stream_ids.push_str(fields.stream_id);
            Some(HashedEvent {
                stream_id: start..batch.stream_ids.len(),
                global_position: fields.global_position,
                stream_version: fields.stream_version,
                event_id: fields.event_id,
                prev_hash: fields.prev_hash,
                hash: fields.hash,
                computed,
            })
        });
        let event = match fast {
            Some(event) => Ok(event),
            // Unusual content (or an undecodable row) takes the general route, which decides it
            // exactly as reading the event does.
            None => row.decode().map(|event| {
                let start = batch.stream_ids.len();
                batch.stream_ids.push_str(event.stream_id.as_str());
                HashedEvent {
                    stream_id: start..batch.stream_ids.len(),
                    global_position: event.global_position,
                    stream_version: event.stream_version,
                    event_id: event.event_id,
                    prev_hash: event.prev_hash,
                    hash: event.hash,
                    computed: recompute(&event),
                }
            }),
        };
        batch.events.push(event);
    }
    batch
}

/// Recomputes hashes from stored JSON text, reusing its buffers from one event to the next.
#[derive(Default)]
struct StoredHasher {
    canonicaliser: TextCanonicaliser,
    document: Vec<u8>,
}

impl StoredHasher {
    /// The event's hash, or `None` if its JSON needs the general route (see [`TextCanonicaliser`]).
    fn hash(&mut self, fields: &StoredFields<'_>) -> Option<[u8; 32]> {
        let header = Header {
            event_id: fields.event_id,
            stream_id: fields.stream_id,
            stream_version: fields.stream_version,
            event_type: fields.event_type,
            schema_version: fields.schema_version,
            recorded_at: fields.recorded_at,
        };
        let document = &mut self.document;
        document.clear();
        header.write_start(document);
        // The chain covers the metadata as read into `EventMetadata`. The text is first checked to be
        // plain JSON (no repeated keys), where reading it directly and through a `Value` agree.
        let metadata_start = document.len();
        if !self.canonicaliser.write(fields.metadata, document) {
            return None;
        }
        document.truncate(metadata_start);
        let metadata: EventMetadata = serde_json::from_str(fields.metadata).ok()?;
        write_metadata(&metadata, document);
        document.extend_from_slice(PAYLOAD_KEY);
        if !self.canonicaliser.write(fields.payload, document) {
            return None;
        }
        header.write_end(document);
        Some(digest(&fields.prev_hash, document))
    }
}

/// The in-order part of verification: stream boundaries, versions and links, over hashed batches.
struct Walk {
    report: ChainReport,
    page_size: u64,
    /// Events looked at so far, including any after a break (see `found`).
    seen: u64,
    /// The stream being walked: its id, last version and last hash.
    current: Option<(String, u64, [u8; 32])>,
    /// The first break, and where its page ends: an undecodable event before then is the outcome
    /// instead, as it would have failed the read of that page.
    found: Option<(ChainBreak, u64)>,
}

impl Walk {
    fn new(page_size: usize) -> Self {
        Self {
            report: ChainReport {
                streams: 0,
                events: 0,
                first_break: None,
            },
            page_size: page_size.max(1) as u64,
            seen: 0,
            current: None,
            found: None,
        }
    }

    /// Takes the next batch; `Some` once the outcome is known.
    fn advance(&mut self, batch: HashedBatch) -> Option<Result<ChainReport, StoreError>> {
        for event in batch.events {
            let index = self.seen;
            self.seen += 1;
            if let Some((_, page_end)) = &self.found {
                if index >= *page_end {
                    return Some(Ok(self.finish()));
                }
                if let Err(error) = event {
                    return Some(Err(error));
                }
                continue;
            }
            let event = match event {
                Ok(event) => event,
                Err(error) => return Some(Err(error)),
            };
            let stream_id = &batch.stream_ids[event.stream_id.clone()];
            let (expected_version, expected_prev) = match &self.current {
                Some((stream, version, hash)) if stream == stream_id => (version + 1, *hash),
                _ => {
                    self.report.streams += 1;
                    (1, GENESIS_HASH)
                }
            };
            self.report.events += 1;
            let link = Link {
                stream_version: event.stream_version,
                prev_hash: &event.prev_hash,
                hash: &event.hash,
            };
            if let Some(kind) =
                link_break(link, expected_version, &expected_prev, || event.computed)
            {
                let first_break = ChainBreak {
                    stream_id: StreamId(stream_id.to_owned()),
                    stream_version: event.stream_version,
                    global_position: event.global_position,
                    event_id: event.event_id,
                    kind,
                };
                let page_end = (index / self.page_size + 1) * self.page_size;
                self.found = Some((first_break, page_end));
                continue;
            }
            match &mut self.current {
                Some((stream, version, hash)) => {
                    if stream != stream_id {
                        stream.clear();
                        stream.push_str(stream_id);
                    }
                    *version = event.stream_version;
                    *hash = event.hash;
                }
                None => {
                    self.current = Some((stream_id.to_owned(), event.stream_version, event.hash));
                }
            }
        }
        None
    }

    /// The report once the log has been read to its end (or the break's page is complete).
    fn finish(&mut self) -> ChainReport {
        let mut report = self.report.clone();
        report.first_break = self.found.take().map(|(first_break, _)| first_break);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde_json::{Map, json};

    /// The document as first defined: a `Value` tree of every chained field, written canonically.
    fn hash_by_value_tree(prev_hash: &[u8; 32], fields: &ChainedFields<'_>) -> [u8; 32] {
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
        hasher.update(canonical::to_canonical_bytes(&Value::Object(document)));
        hasher.finalize().into()
    }

    fn metadata_strategy() -> impl Strategy<Value = EventMetadata> {
        let text = "[a-z:\"\\\\\u{e9}\u{1f600}]{0,6}";
        (
            text,
            proptest::option::of(text),
            proptest::option::of(text),
            proptest::option::of(text),
            proptest::option::of(text),
            proptest::option::of(text),
        )
            .prop_map(
                |(actor, client_id, ip, user_agent, correlation_id, causation_id)| EventMetadata {
                    actor,
                    client_id,
                    ip,
                    user_agent,
                    correlation_id,
                    causation_id,
                },
            )
    }

    fn time_strategy() -> impl Strategy<Value = DateTime<Utc>> {
        // From before year 1000 to past year 9999, to cover the formatter's hand-off to chrono.
        (-40_000_000_000_i64..300_000_000_000, 0..1_000_000_u32).prop_map(|(seconds, micros)| {
            Utc.timestamp_opt(seconds, micros * 1000).single().unwrap()
        })
    }

    fn sample_payload() -> Value {
        json!({
            "contractId": "CONTRACT_1",
            "mobile": {"$pii": {"k": "k1", "c": "q+/w==", "h": "ab"}},
            "sequence": 3,
            "score": 0.95,
            "variables": {"payerName": "XX品牌总部", "note": "a \"quoted\"\nline"},
        })
    }

    proptest! {
        #[test]
        fn the_written_document_hashes_like_the_value_tree(
            metadata in metadata_strategy(),
            recorded_at in time_strategy(),
            stream_version in any::<u64>(),
            schema_version in any::<u32>(),
            event_type in "[A-Za-z\"\u{e9}]{1,8}",
        ) {
            let stream_id = StreamId::new("contract", "C_1");
            let metadata = serde_json::to_value(&metadata).unwrap();
            let payload = sample_payload();
            let fields = ChainedFields {
                event_id: Uuid::new_v4(),
                stream_id: &stream_id,
                stream_version,
                event_type: &event_type,
                schema_version,
                payload: &payload,
                metadata: &metadata,
                recorded_at,
            };
            let prev = [7; 32];
            prop_assert_eq!(event_hash(&prev, &fields), hash_by_value_tree(&prev, &fields));
        }

        #[test]
        fn timestamps_are_written_as_chrono_writes_them(time in time_strategy()) {
            let mut out = Vec::new();
            write_timestamp(&time, &mut out);
            prop_assert_eq!(
                String::from_utf8(out).unwrap(),
                time.to_rfc3339_opts(SecondsFormat::Micros, true)
            );
        }

        #[test]
        fn metadata_is_written_as_its_value_is(metadata in metadata_strategy()) {
            let mut out = Vec::new();
            write_metadata(&metadata, &mut out);
            let value = serde_json::to_value(&metadata).unwrap();
            prop_assert_eq!(out, canonical::to_canonical_bytes(&value));
        }

        #[test]
        fn a_stored_event_hashes_from_its_text_as_from_its_decoded_fields(
            metadata in metadata_strategy(),
            recorded_at in time_strategy(),
        ) {
            let stream_id = StreamId::new("contract", "C_1");
            let metadata_value = serde_json::to_value(&metadata).unwrap();
            let payload = sample_payload();
            let fields = ChainedFields {
                event_id: Uuid::new_v4(),
                stream_id: &stream_id,
                stream_version: 4,
                event_type: "Signed",
                schema_version: 2,
                payload: &payload,
                metadata: &metadata_value,
                recorded_at,
            };
            let prev = [9; 32];
            let expected = event_hash(&prev, &fields);
            let payload_text = payload.to_string();
            let metadata_text = serde_json::to_string_pretty(&metadata_value).unwrap();
            let stored = StoredFields {
                global_position: 1,
                stream_id: stream_id.as_str(),
                stream_version: 4,
                event_id: fields.event_id,
                event_type: "Signed",
                schema_version: 2,
                payload: &payload_text,
                metadata: &metadata_text,
                recorded_at,
                prev_hash: prev,
                hash: expected,
            };
            prop_assert_eq!(StoredHasher::default().hash(&stored), Some(expected));
        }
    }

    #[test]
    fn metadata_the_typed_form_drops_is_not_hashed_from_the_text() {
        // Reading metadata into `EventMetadata` ignores unknown keys and explicit nulls, so the chain
        // never covered them; the text route must agree with that, or defer.
        let mut hasher = StoredHasher::default();
        let stream_id = StreamId::new("contract", "C_1");
        let time = Utc.timestamp_opt(1_700_000_000, 0).single().unwrap();
        let plain = serde_json::to_value(EventMetadata {
            actor: "system:test".into(),
            ..EventMetadata::default()
        })
        .unwrap();
        let payload = json!({"a": 1});
        let fields = ChainedFields {
            event_id: Uuid::nil(),
            stream_id: &stream_id,
            stream_version: 1,
            event_type: "T",
            schema_version: 1,
            payload: &payload,
            metadata: &plain,
            recorded_at: time,
        };
        let expected = event_hash(&GENESIS_HASH, &fields);
        for metadata in [
            r#"{"actor": "system:test", "ip": null, "extra": [1, 2]}"#,
            r#"{"actor":"system:test"}"#,
        ] {
            let stored = StoredFields {
                global_position: 1,
                stream_id: stream_id.as_str(),
                stream_version: 1,
                event_id: Uuid::nil(),
                event_type: "T",
                schema_version: 1,
                payload: r#"{"a": 1}"#,
                metadata,
                recorded_at: time,
                prev_hash: GENESIS_HASH,
                hash: expected,
            };
            assert_eq!(hasher.hash(&stored), Some(expected), "{metadata}");
        }
    }

    /// A hashed event of stream `stream` at `version`, chaining from `prev`, whose stored hash is
    /// `hash` and recomputed hash `computed`.
    fn hashed(
        batch: &mut HashedBatch,
        stream: &str,
        version: u64,
        prev: u8,
        hash: u8,
        computed: u8,
    ) {
        let start = batch.stream_ids.len();
        batch.stream_ids.push_str(stream);
        batch.events.push(Ok(HashedEvent {
            stream_id: start..batch.stream_ids.len(),
            global_position: version as i64,
            stream_version: version,
            event_id: Uuid::nil(),
            prev_hash: if prev == 0 { GENESIS_HASH } else { [prev; 32] },
            hash: [hash; 32],
            computed: [computed; 32],
        }));
    }

    fn empty() -> HashedBatch {
        HashedBatch {
            stream_ids: String::new(),
            events: Vec::new(),
        }
    }

    fn unreadable(batch: &mut HashedBatch) {
        batch.events.push(Err(StoreError::Corrupt {
            position: 99,
            reason: "unreadable".into(),
        }));
    }

    /// Streams `a` (3 events, the second altered) and `b` (2 events), then an unreadable row.
    fn log_with_a_break_then_an_unreadable_row() -> HashedBatch {
        let mut batch = empty();
        hashed(&mut batch, "s-a", 1, 0, 1, 1);
        hashed(&mut batch, "s-a", 2, 1, 2, 42);
        hashed(&mut batch, "s-a", 3, 2, 3, 3);
        hashed(&mut batch, "s-b", 1, 0, 4, 4);
        hashed(&mut batch, "s-b", 2, 4, 5, 5);
        unreadable(&mut batch);
        batch
    }

    fn walk(page_size: usize, batch: HashedBatch) -> Result<ChainReport, StoreError> {
        let mut walk = Walk::new(page_size);
        match walk.advance(batch) {
            Some(outcome) => outcome,
            None => Ok(walk.finish()),
        }
    }

    #[test]
    fn the_walk_reports_the_first_break_with_the_counts_up_to_it() {
        let report = walk(2, log_with_a_break_then_an_unreadable_row()).unwrap();
        let broken = report.first_break.expect("the altered event");
        assert_eq!(
            (broken.stream_id.as_str(), broken.stream_version),
            ("s-a", 2)
        );
        assert!(matches!(broken.kind, BreakKind::HashMismatch { .. }));
        assert_eq!((report.streams, report.events), (1, 2));
    }

    #[test]
    fn an_unreadable_row_in_the_page_of_the_break_is_the_outcome_as_a_paged_read_gives() {
        // Pages of 6 hold the break and the unreadable row together: reading that page fails.
        assert!(matches!(
            walk(6, log_with_a_break_then_an_unreadable_row()),
            Err(StoreError::Corrupt { position: 99, .. })
        ));
        // Pages of 4 end before the unreadable row: the break is found first.
        assert!(
            walk(4, log_with_a_break_then_an_unreadable_row())
                .unwrap()
                .first_break
                .is_some()
        );
    }

    #[test]
    fn versions_and_links_are_checked_across_batches() {
        let mut walk = Walk::new(100);
        let mut first = empty();
        hashed(&mut first, "s-a", 1, 0, 1, 1);
        let mut second = empty();
        hashed(&mut second, "s-a", 2, 9, 2, 2);
        assert!(walk.advance(first).is_none());
        assert!(walk.advance(second).is_none());
        let broken = walk.finish().first_break.expect("the link from version 1");
        assert!(matches!(broken.kind, BreakKind::PrevHashMismatch { .. }));

        let mut walk = Walk::new(100);
        let mut first = empty();
        hashed(&mut first, "s-a", 1, 0, 1, 1);
        let mut second = empty();
        hashed(&mut second, "s-a", 3, 1, 3, 3);
        walk.advance(first);
        walk.advance(second);
        let broken = walk.finish().first_break.expect("version 2 is missing");
        assert_eq!(broken.kind, BreakKind::VersionGap { expected: 2 });
    }
}
