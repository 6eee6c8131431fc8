//! Rebuilding the query tables from the log, and checking that the live tables match what the log says.
//!
//! Every stream is folded into its rows (the same pure projection the pipeline runs inline) and written
//! into shadow copies of the query tables (`<table>__rebuild`). The check then compares live and shadow
//! tables in the database itself (`EXCEPT` both ways), so a difference in any column of any row shows.

use std::sync::Arc;

use aggregates::Aggregate;
use aggregates::certificate_revocation::CertificateRevocationAggregate;
use aggregates::contract::ContractAggregate;
use aggregates::face_verification::FaceVerificationAggregate;
use aggregates::organization::OrganizationAggregate;
use aggregates::seal::SealAggregate;
use aggregates::sms_notice::SmsNoticeAggregate;
use aggregates::sms_template::SmsTemplateAggregate;
use aggregates::template::TemplateAggregate;
use projections::Row;
use serde::Serialize;

use super::models::{ReadModel, project};
use crate::pii::PiiCipher;
pub use crate::store::rebuild::TableComparison;
use crate::store::{ChainCursor, EventStore, RecordedEvent, Store, StoreError, StreamId};

/// Events read per page while walking the log.
const PAGE: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stream {stream}: {reason}")]
    Stream { stream: StreamId, reason: String },
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub streams: u64,
    pub events: u64,
    pub tables: Vec<TableComparison>,
}

impl CheckReport {
    pub fn matches(&self) -> bool {
        self.tables
            .iter()
            .all(|t| t.only_live == 0 && t.only_rebuilt == 0)
    }
}

/// Rebuilds every query table into shadow tables and compares them with the live ones. The live tables
/// are not touched; the shadow tables are dropped afterwards.
pub async fn check(store: &Store, pii: &Arc<PiiCipher>) -> Result<CheckReport, RebuildError> {
    let shadows = store.shadow_tables();
    shadows.create().await?;
    let outcome = async {
        let (streams, events) = fill_shadows(store, pii).await?;
        let tables = shadows.compare().await?;
        Ok::<_, RebuildError>(CheckReport {
            streams,
            events,
            tables,
        })
    }
    .await;
    shadows.drop().await?;
    outcome
}

/// What a rebuild did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RebuildReport {
    pub streams: u64,
    pub events: u64,
    /// Streams written while the rebuild ran, projected again at the swap.
    pub caught_up_streams: u64,
}

/// Rebuilds every query table from the log and swaps the rebuilt tables in, while the service keeps
/// writing.
///
/// The shadow tables are filled from the log without blocking anyone. Then:
/// - SQLite: one write transaction (writes queue behind it) projects again every stream written since
///   the rebuild began and replaces each live table with its shadow, recreating the live indexes.
/// - PostgreSQL: one transaction locks the live tables and renames shadow to live. A command that was
///   waiting on the old table may still land there, so once every transaction that was running at the
///   swap has ended, each stream written since the rebuild began is projected again into the new
///   tables. Rows are a function of their stream, so projecting a stream again is always safe.
pub async fn rebuild(store: &Store, pii: &Arc<PiiCipher>) -> Result<RebuildReport, RebuildError> {
    let shadows = store.shadow_tables();
    let started = shadows.current_position().await?;
    shadows.create().await?;
    let (streams, events) = match fill_shadows(store, pii).await {
        Ok(counts) => counts,
        Err(error) => {
            shadows.drop().await?;
            return Err(error);
        }
    };
    let pii = Arc::clone(pii);
    let caught_up_streams = shadows
        .swap(started, move |events| {
            stream_rows(&pii, events).map_err(|error| error.to_string())
        })
        .await?;
    Ok(RebuildReport {
        streams,
        events,
        caught_up_streams,
    })
}

/// Walks the log stream by stream and writes each stream's rows into the shadow tables.
///
/// Three stages overlap, so the database and the projection work at the same time: one task reads
/// the log page by page in `(stream, version)` order, the calling task projects every stream a page
/// completes (split across blocking threads), and one task writes the rows, page by page in order,
/// with a few statements per page. A stream cut by a page boundary waits for the rest of its events.
async fn fill_shadows(store: &Store, pii: &Arc<PiiCipher>) -> Result<(u64, u64), RebuildError> {
    let (pages, mut next_page) = tokio::sync::mpsc::channel::<Vec<RecordedEvent>>(2);
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut cursor: Option<ChainCursor> = None;
            loop {
                let page = store.read_chain(cursor.clone(), PAGE).await?;
                let Some(last) = page.last() else {
                    return Ok::<_, StoreError>(());
                };
                cursor = Some(ChainCursor {
                    stream_id: last.stream_id.clone(),
                    stream_version: last.stream_version,
                });
                if pages.send(page).await.is_err() {
                    // The projection stopped; its error is the one reported.
                    return Ok(());
                }
            }
        })
    };
    let (rows_out, mut next_rows) = tokio::sync::mpsc::channel::<Vec<Row>>(2);
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            while let Some(rows) = next_rows.recv().await {
                store.shadow_tables().write(rows).await?;
            }
            Ok::<_, StoreError>(())
        })
    };
    let projected = async {
        let mut pending: Vec<RecordedEvent> = Vec::new();
        let (mut streams, mut events) = (0u64, 0u64);
        while let Some(page) = next_page.recv().await {
            events += page.len() as u64;
            pending.extend(page);
            // Everything before the last stream's first event is complete.
            let Some(last) = pending.last() else { continue };
            let split = pending
                .iter()
                .rposition(|event| event.stream_id != last.stream_id)
                .map_or(0, |index| index + 1);
            let rest = pending.split_off(split);
            let complete = std::mem::replace(&mut pending, rest);
            if complete.is_empty() {
                continue;
            }
            let (count, rows) = project_streams(pii, complete).await?;
            streams += count;
            if rows_out.send(rows).await.is_err() {
                // The writer stopped; its error is the one reported.
                return Ok((streams, events));
            }
        }
        if !pending.is_empty() {
            let (count, rows) = project_streams(pii, pending).await?;
            streams += count;
            let _ = rows_out.send(rows).await;
        }
        Ok::<_, RebuildError>((streams, events))
    }
    .await;
    drop(rows_out);
    drop(next_page);
    let written = writer
        .await
        .map_err(|e| StoreError::Database(format!("the shadow writer failed: {e}")))?;
    let read = reader
        .await
        .map_err(|e| StoreError::Database(format!("the log reader failed: {e}")))?;
    let counts = projected?;
    written?;
    read?;
    Ok(counts)
}

/// The rows of whole streams (`events` holds each stream's events together, in version order),
/// projected on blocking threads, one share of the streams per core. Rows keep the streams' order.
async fn project_streams(
    pii: &Arc<PiiCipher>,
    events: Vec<RecordedEvent>,
) -> Result<(u64, Vec<Row>), RebuildError> {
    let mut streams: Vec<Vec<RecordedEvent>> = Vec::new();
    for event in events {
        match streams.last_mut() {
            Some(stream)
                if stream
                    .first()
                    .is_some_and(|first| first.stream_id == event.stream_id) =>
            {
                stream.push(event)
            }
            _ => streams.push(vec![event]),
        }
    }
    let count = streams.len() as u64;
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let share = streams.len().div_ceil(workers).max(1);
    let mut tasks = Vec::with_capacity(workers);
    let mut streams = streams.into_iter();
    loop {
        let group: Vec<Vec<RecordedEvent>> = streams.by_ref().take(share).collect();
        if group.is_empty() {
            break;
        }
        let pii = Arc::clone(pii);
        tasks.push(tokio::task::spawn_blocking(move || {
            let mut rows = Vec::new();
            for stream in &group {
                rows.extend(stream_rows(&pii, stream)?);
            }
            Ok::<_, RebuildError>(rows)
        }));
    }
    let mut rows = Vec::new();
    for task in tasks {
        let share = task
            .await
            .map_err(|e| StoreError::Database(format!("a projection thread failed: {e}")))??;
        rows.extend(share);
    }
    Ok((count, rows))
}

/// One stream's rows, by the aggregate its id names; streams of other kinds own no rows.
fn stream_rows(pii: &PiiCipher, events: &[RecordedEvent]) -> Result<Vec<Row>, RebuildError> {
    let Some(first) = events.first() else {
        return Ok(Vec::new());
    };
    let stream = first.stream_id.as_str();
    let kind = stream
        .split_once('-')
        .map(|(kind, _)| kind)
        .unwrap_or_default();
    match kind {
        k if k == ContractAggregate::NAME => rows_of::<ContractAggregate>(pii, events),
        k if k == FaceVerificationAggregate::NAME => {
            rows_of::<FaceVerificationAggregate>(pii, events)
        }
        k if k == TemplateAggregate::NAME => rows_of::<TemplateAggregate>(pii, events),
        k if k == SmsTemplateAggregate::NAME => rows_of::<SmsTemplateAggregate>(pii, events),
        k if k == SmsNoticeAggregate::NAME => rows_of::<SmsNoticeAggregate>(pii, events),
        k if k == CertificateRevocationAggregate::NAME => {
            rows_of::<CertificateRevocationAggregate>(pii, events)
        }
        k if k == OrganizationAggregate::NAME => rows_of::<OrganizationAggregate>(pii, events),
        k if k == SealAggregate::NAME => rows_of::<SealAggregate>(pii, events),
        _ => Ok(Vec::new()),
    }
}

fn rows_of<A>(pii: &PiiCipher, events: &[RecordedEvent]) -> Result<Vec<Row>, RebuildError>
where
    A: ReadModel,
    A::Event: Send + Sync + 'static,
{
    let failed = |event: &RecordedEvent, reason: String| RebuildError::Stream {
        stream: event.stream_id.clone(),
        reason,
    };
    let mut decoded = Vec::with_capacity(events.len());
    for event in events {
        let opened = pii
            .open(&event.payload)
            .map_err(|e| failed(event, e.to_string()))?;
        let parsed: A::Event =
            serde_json::from_value(opened).map_err(|e| failed(event, e.to_string()))?;
        decoded.push(parsed);
    }
    project::<A>(events, &decoded, &[], &[]).map_err(|e| failed(&events[0], e.to_string()))
}
