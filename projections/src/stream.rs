//! One stream's events in, its rows out: the fold every projection shares, with the id, `created_at`,
//! `updated_at` and `stream_version` rules applied in one place.
//!
//! A projection supplies a `step` (apply one event to its state) and a `shape` (the rows a state
//! shows, without those four columns). After every event the shaped rows are compared with the rows
//! before it: a row seen for the first time takes the event's global position as `id` and its
//! `recorded_at` as `created_at`; a row whose values changed takes the event's `recorded_at` as
//! `updated_at`. Everything depends on the events alone, so a rebuild yields the same rows.

use std::collections::HashMap;

use aggregates::DomainEvent;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::ProjectionError;
use crate::row::{Row, SqlValue, Table};

/// One stored event as a projection reads it.
#[derive(Debug)]
pub struct ProjectedEvent<'a, E> {
    /// The decoded domain event (plaintext `Sensitive` values inside).
    pub event: &'a E,
    /// The payload as stored: every `{"$pii": ...}` marker sealed as
    /// `{"$pii": {"k": keyId, "c": base64, "h": hexHmac}}`.
    pub sealed_payload: &'a Value,
    pub global_position: i64,
    pub stream_version: u64,
    pub recorded_at: DateTime<Utc>,
}

impl<E> Clone for ProjectedEvent<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for ProjectedEvent<'_, E> {}

/// Rows created by one event need distinct ids; the `n`-th of them (1-based) gets
/// `global_position * ID_STRIDE + n`. Contract signers use it (at most 20 per contract), and the
/// archive records of a face result (one per provider).
pub(crate) const ID_STRIDE: i64 = 1000;

/// A row as a projection shapes it: every column except `id`, `created_at`, `updated_at` and
/// `stream_version`, in [`Table::columns`] order.
#[derive(Debug)]
pub(crate) struct Draft {
    pub table: Table,
    /// `Some(n)` (1-based, below [`ID_STRIDE`]) when the event that creates this row creates others
    /// of the same table.
    pub ordinal: Option<u32>,
    pub body: Vec<(&'static str, SqlValue)>,
}

impl Draft {
    pub fn new(table: Table, body: Vec<(&'static str, SqlValue)>) -> Self {
        Self {
            table,
            ordinal: None,
            body,
        }
    }

    fn key(&self) -> (Table, Vec<SqlValue>) {
        let values = self
            .table
            .key_columns()
            .iter()
            .filter_map(|column| {
                self.body
                    .iter()
                    .find(|(name, _)| name == column)
                    .map(|(_, value)| value.clone())
            })
            .collect();
        (self.table, values)
    }
}

struct History {
    id: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    body: Vec<(&'static str, SqlValue)>,
}

/// Folds a whole stream and returns every row it owns now.
pub(crate) fn fold<E: DomainEvent, S>(
    events: &[ProjectedEvent<'_, E>],
    mut state: S,
    mut step: impl FnMut(&mut S, &ProjectedEvent<'_, E>) -> Result<(), ProjectionError>,
    shape: impl Fn(&S) -> Result<Vec<Draft>, ProjectionError>,
) -> Result<Vec<Row>, ProjectionError> {
    let mut histories: HashMap<(Table, Vec<SqlValue>), History> = HashMap::new();
    let mut drafts = Vec::new();
    for (index, event) in events.iter().enumerate() {
        check_position(index, event)?;
        step(&mut state, event)?;
        drafts = shape(&state)?;
        for draft in &drafts {
            let time = event.recorded_at;
            match histories.get_mut(&draft.key()) {
                Some(history) => {
                    if history.body != draft.body {
                        history.body.clone_from(&draft.body);
                        history.updated_at = time;
                    }
                }
                None => {
                    let id = row_id(event.global_position, draft.ordinal)?;
                    let history = History {
                        id,
                        created_at: time,
                        updated_at: time,
                        body: draft.body.clone(),
                    };
                    histories.insert(draft.key(), history);
                }
            }
        }
    }
    let Some(last) = events.last() else {
        return Ok(Vec::new());
    };
    let stream_version = i64::try_from(last.stream_version)
        .map_err(|_| ProjectionError::OutOfRange("stream_version"))?;
    drafts
        .into_iter()
        .map(|draft| {
            let history = histories
                .get(&draft.key())
                .ok_or(ProjectionError::Columns(draft.table.name()))?;
            assemble(draft, history, stream_version)
        })
        .collect()
}

/// Versions must run 1, 2, 3, ... and each stored payload must be the event it came with.
fn check_position<E: DomainEvent>(
    index: usize,
    event: &ProjectedEvent<'_, E>,
) -> Result<(), ProjectionError> {
    let expected = u64::try_from(index).map_or(u64::MAX, |index| index.saturating_add(1));
    if event.stream_version != expected {
        return Err(ProjectionError::OutOfOrder {
            expected,
            found: event.stream_version,
        });
    }
    let event_type = event.event.event_type();
    if event.sealed_payload.get("type").and_then(Value::as_str) != Some(event_type) {
        return Err(ProjectionError::PayloadMismatch {
            event: event_type,
            path: "type".to_owned(),
        });
    }
    Ok(())
}

fn row_id(global_position: i64, ordinal: Option<u32>) -> Result<i64, ProjectionError> {
    match ordinal {
        None => Ok(global_position),
        Some(ordinal) if (1..ID_STRIDE).contains(&i64::from(ordinal)) => global_position
            .checked_mul(ID_STRIDE)
            .and_then(|base| base.checked_add(i64::from(ordinal)))
            .ok_or(ProjectionError::OutOfRange("id")),
        Some(_) => Err(ProjectionError::OutOfRange("id")),
    }
}

fn assemble(draft: Draft, history: &History, stream_version: i64) -> Result<Row, ProjectionError> {
    let table = draft.table;
    let mut values = Vec::with_capacity(table.columns().len());
    values.push(("id", SqlValue::Integer(history.id)));
    values.extend(draft.body);
    values.push(("created_at", SqlValue::timestamp(history.created_at)));
    values.push(("updated_at", SqlValue::timestamp(history.updated_at)));
    if table.has_stream_version() {
        values.push(("stream_version", SqlValue::Integer(stream_version)));
    }
    let names = values.iter().map(|(name, _)| *name);
    if !names.eq(table.columns().iter().copied()) {
        return Err(ProjectionError::Columns(table.name()));
    }
    Ok(Row { table, values })
}
