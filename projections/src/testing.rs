//! Test support: a recorded stream built by running a real aggregate, a stand-in for the service's
//! sealer, and row look-ups.
//!
//! The real cipher lives in the service crate. Projections only copy sealed markers, so a fake that
//! produces the same shape (`{"$pii": {"k", "c", "h"}}`, equal text -> equal `h`) is enough here.

use aggregates::{Aggregate, SENSITIVE_MARKER};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::row::{Row, SqlValue, Table};
use crate::stream::ProjectedEvent;

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T10:00:00Z")
        .unwrap()
        .to_utc()
}

pub fn at(minutes: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(minutes)
}

/// Replaces every `{"$pii": "<text>"}` with a sealed-looking marker that does not contain the text.
pub fn fake_seal(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.len() == 1
                && let Some(Value::String(text)) = object.get(SENSITIVE_MARKER)
            {
                let sealed = json!({"k": "t", "c": fake_cipher(text), "h": fake_hash(text)});
                object.insert(SENSITIVE_MARKER.to_owned(), sealed);
                return;
            }
            object.values_mut().for_each(fake_seal);
        }
        Value::Array(items) => items.iter_mut().for_each(fake_seal),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// Hex of the reversed bytes: not the text, but recoverable, like ciphertext.
fn fake_cipher(text: &str) -> String {
    text.bytes()
        .rev()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// FNV-1a, standing in for the keyed HMAC: equal texts give equal hashes.
fn fake_hash(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The inverse of [`fake_seal`], as the service opens a stored payload before decoding it.
pub fn fake_open(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.len() == 1
                && let Some(cipher) = object
                    .get(SENSITIVE_MARKER)
                    .and_then(|sealed| sealed.get("c"))
                    .and_then(Value::as_str)
            {
                let bytes: Vec<u8> = (0..cipher.len())
                    .step_by(2)
                    .map(|index| u8::from_str_radix(&cipher[index..index + 2], 16).unwrap())
                    .rev()
                    .collect();
                let text = String::from_utf8(bytes).unwrap();
                object.insert(SENSITIVE_MARKER.to_owned(), Value::String(text));
                return;
            }
            object.values_mut().for_each(fake_open);
        }
        Value::Array(items) => items.iter_mut().for_each(fake_open),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// One stored event: what the event store would hand back.
#[derive(Clone, Debug)]
pub struct Stored<E> {
    pub event: E,
    pub payload: Value,
    pub global_position: i64,
    pub stream_version: u64,
    pub recorded_at: DateTime<Utc>,
}

/// A stream built by running commands through a real aggregate, stored as the service stores it.
#[derive(Debug)]
pub struct Recorded<A: Aggregate> {
    pub state: A::State,
    pub stored: Vec<Stored<A::Event>>,
}

impl<A: Aggregate> Recorded<A> {
    pub fn new() -> Self {
        Self {
            state: A::State::default(),
            stored: Vec::new(),
        }
    }

    /// Decides the command (which must be accepted), applies and stores its events. The batch is
    /// recorded `recorded_at`, with sub-microsecond noise the projection must cut off; positions
    /// leave gaps, as other streams' events would.
    pub fn run(&mut self, command: A::Command, recorded_at: DateTime<Utc>) -> Vec<A::Event> {
        let events = A::decide(&self.state, command)
            .unwrap_or_else(|error| panic!("the command was refused: {error}"));
        for event in &events {
            A::evolve(&mut self.state, event);
            let mut payload = serde_json::to_value(event).unwrap();
            fake_seal(&mut payload);
            let version = self.stored.len() as u64 + 1;
            self.stored.push(Stored {
                event: event.clone(),
                payload,
                global_position: Self::position(version),
                stream_version: version,
                recorded_at: recorded_at + TimeDelta::nanoseconds(123_456_789),
            });
        }
        events
    }

    /// The global position the `version`-th event of this stream is stored at.
    pub fn position(version: u64) -> i64 {
        40 + 7 * version as i64
    }

    /// The recorded time of the event at `version`, as a projection shows it.
    pub fn recorded_at(&self, version: u64) -> SqlValue {
        SqlValue::timestamp(self.stored[version as usize - 1].recorded_at)
    }

    pub fn projected(&self) -> Vec<ProjectedEvent<'_, A::Event>> {
        projected(&self.stored)
    }

    /// The stream as a rebuild reads it: every event decoded again from its stored payload.
    pub fn reloaded(&self) -> Vec<Stored<A::Event>> {
        self.stored
            .iter()
            .map(|stored| {
                let mut opened = stored.payload.clone();
                fake_open(&mut opened);
                Stored {
                    event: serde_json::from_value(opened).unwrap(),
                    ..stored.clone()
                }
            })
            .collect()
    }
}

pub fn projected<E>(stored: &[Stored<E>]) -> Vec<ProjectedEvent<'_, E>> {
    stored
        .iter()
        .map(|stored| ProjectedEvent {
            event: &stored.event,
            sealed_payload: &stored.payload,
            global_position: stored.global_position,
            stream_version: stored.stream_version,
            recorded_at: stored.recorded_at,
        })
        .collect()
}

/// The row of `table` whose key columns hold `key`.
pub fn row<'a>(rows: &'a [Row], table: Table, key: &[&str]) -> &'a Row {
    rows.iter()
        .find(|row| {
            row.table == table
                && row
                    .key()
                    .iter()
                    .map(|value| value.as_text().unwrap_or_default())
                    .eq(key.iter().copied())
        })
        .unwrap_or_else(|| panic!("no {} row {key:?} in {rows:#?}", table.name()))
}

pub fn value<'a>(row: &'a Row, column: &str) -> &'a SqlValue {
    row.get(column)
        .unwrap_or_else(|| panic!("{} has no column {column}", row.table.name()))
}

pub fn text(text: &str) -> SqlValue {
    SqlValue::text(text)
}

pub fn time(at: DateTime<Utc>) -> SqlValue {
    SqlValue::timestamp(at)
}

/// Fails if any text in any row contains one of `secrets`.
pub fn assert_no_plaintext(rows: &[Row], secrets: &[&str]) {
    for row in rows {
        for (column, value) in &row.values {
            if let Some(text) = value.as_text() {
                for secret in secrets {
                    assert!(
                        !text.contains(secret),
                        "{}.{column} shows personal data in clear",
                        row.table.name()
                    );
                }
            }
        }
    }
}
