//! Audit output for compliance: a stream's timeline with each link of its hash chain checked.
//!
//! Personal data is masked here; this output goes to terminals, tickets and reports.

use aggregates::Aggregate;
use serde::Serialize;
use serde_json::Value;

use crate::pii::PiiCipher;
use crate::store::chain::{self, BreakKind, GENESIS_HASH};
use crate::store::{EventMetadata, EventStore, RecordedEvent, StoreError, StreamId};

/// The aggregate kinds whose streams an operator may name by bare id.
pub const STREAM_KINDS: &[&str] = &[
    aggregates::contract::ContractAggregate::NAME,
    aggregates::face_verification::FaceVerificationAggregate::NAME,
    aggregates::template::TemplateAggregate::NAME,
    aggregates::sms_notice::SmsNoticeAggregate::NAME,
    aggregates::sms_template::SmsTemplateAggregate::NAME,
    aggregates::organization::OrganizationAggregate::NAME,
    aggregates::seal::SealAggregate::NAME,
];

/// One line of a timeline.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    pub global_position: i64,
    pub stream_version: u64,
    pub recorded_at: String,
    pub event_type: String,
    pub schema_version: u32,
    pub event_id: String,
    pub metadata: EventMetadata,
    /// The payload with personal data masked.
    pub payload: Value,
    pub prev_hash: String,
    pub hash: String,
    /// `ok`, or what is wrong with this link.
    pub chain: String,
}

/// A stream's timeline and whether its whole chain holds.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    pub stream_id: StreamId,
    pub chain_intact: bool,
    pub events: Vec<TimelineEntry>,
}

/// Finds the stream an operator means: a full stream id, or a bare aggregate id.
pub async fn resolve_stream<S: EventStore>(
    store: &S,
    name: &str,
) -> Result<Option<StreamId>, StoreError> {
    let mut candidates: Vec<StreamId> = STREAM_KINDS
        .iter()
        .map(|kind| StreamId::new(kind, name))
        .collect();
    if let Ok(full) = StreamId::parse(name) {
        candidates.insert(0, full);
    }
    for candidate in candidates {
        if !store.read_stream(&candidate, 0).await?.is_empty() {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// Builds the timeline of one stream, checking every link as it goes.
pub fn timeline(stream_id: StreamId, events: &[RecordedEvent], cipher: &PiiCipher) -> Timeline {
    let mut previous = GENESIS_HASH;
    let mut intact = true;
    let entries = events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let status = match chain::check_link(event, index as u64 + 1, &previous) {
                None => "ok".to_owned(),
                Some(broken) => {
                    intact = false;
                    describe_break(&broken.kind)
                }
            };
            previous = event.hash;
            TimelineEntry {
                global_position: event.global_position,
                stream_version: event.stream_version,
                recorded_at: event
                    .recorded_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                event_type: event.event_type.clone(),
                schema_version: event.schema_version,
                event_id: event.event_id.to_string(),
                metadata: event.metadata.clone(),
                payload: cipher.mask(&event.payload),
                prev_hash: hex::encode(event.prev_hash),
                hash: hex::encode(event.hash),
                chain: status,
            }
        })
        .collect();
    Timeline {
        stream_id,
        chain_intact: intact,
        events: entries,
    }
}

/// A one-line reason for a broken link.
pub fn describe_break(kind: &BreakKind) -> String {
    match kind {
        BreakKind::HashMismatch { stored, computed } => {
            format!("BROKEN: content altered (stored hash {stored}, content hashes to {computed})")
        }
        BreakKind::PrevHashMismatch { stored, expected } => {
            format!("BROKEN: prev_hash {stored} does not name the previous event's hash {expected}")
        }
        BreakKind::VersionGap { expected } => format!("BROKEN: version {expected} expected here"),
    }
}

/// Renders a timeline for a terminal.
pub fn render_text(timeline: &Timeline) -> String {
    let mut out = format!(
        "stream {}: {} events, chain {}\n",
        timeline.stream_id,
        timeline.events.len(),
        if timeline.chain_intact {
            "intact"
        } else {
            "BROKEN"
        }
    );
    for entry in &timeline.events {
        out.push_str(&format!(
            "#{:<8} v{:<4} {}  {}  actor={}  hash={}…  {}\n    {}\n",
            entry.global_position,
            entry.stream_version,
            entry.recorded_at,
            entry.event_type,
            entry.metadata.actor,
            &entry.hash[..16],
            entry.chain,
            entry.payload,
        ));
    }
    out
}

/// One line per event for the evidence report: the masked payload's fields, long values (evidence
/// tokens, proofs) shortened, so a page shows what happened without pages of base64.
pub fn summary(payload: &Value) -> String {
    const LONGEST: usize = 80;
    let Value::Object(fields) = payload else {
        return payload.to_string();
    };
    fields
        .iter()
        .filter(|(key, _)| key.as_str() != "type")
        .map(|(key, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let shown: String = text.chars().take(LONGEST).collect();
            if shown.len() < text.len() {
                format!("{key}={shown}…")
            } else {
                format!("{key}={shown}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The evidence report of a timeline: its events and chain check, plus (for a contract) what
/// validating the sealed PDF found and its archive records, gathered by the caller.
pub fn evidence_report(
    timeline: &Timeline,
    signatures: Vec<crate::documents::validate::SignatureValidation>,
    archives: Vec<crate::documents::evidence::ArchiveRecord>,
    generated_at: chrono::DateTime<chrono::Utc>,
) -> crate::documents::evidence::EvidenceReport {
    let broken = timeline
        .events
        .iter()
        .filter(|entry| entry.chain != "ok")
        .count();
    let chain_detail = if timeline.chain_intact {
        format!(
            "{} events; every hash and every link to the previous event verified",
            timeline.events.len()
        )
    } else {
        format!(
            "{} events; {broken} fail the hash-chain check",
            timeline.events.len()
        )
    };
    crate::documents::evidence::EvidenceReport {
        subject_id: timeline.stream_id.id().to_owned(),
        generated_at,
        chain_intact: timeline.chain_intact,
        chain_detail,
        events: timeline
            .events
            .iter()
            .map(|entry| crate::documents::evidence::EvidenceEvent {
                version: entry.stream_version,
                event_type: entry.event_type.clone(),
                occurred_at: chrono::DateTime::parse_from_rfc3339(&entry.recorded_at)
                    .map(|time| time.with_timezone(&chrono::Utc))
                    .unwrap_or(generated_at),
                actor: entry.metadata.actor.clone(),
                ip: entry.metadata.ip.clone(),
                summary: summary(&entry.payload),
                event_hash_hex: entry.hash.clone(),
                prev_hash_hex: entry.prev_hash.clone(),
            })
            .collect(),
        signatures,
        archives,
    }
}
