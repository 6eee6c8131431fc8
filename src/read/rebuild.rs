//! Rebuilding the query tables from the log, and checking that the live tables match what the log says.
//!
//! Every stream is folded into its rows (the same pure projection the pipeline runs inline) and written
//! into shadow copies of the query tables (`<table>__rebuild`). The check then compares live and shadow
//! tables in the database itself (`EXCEPT` both ways), so a difference in any column of any row shows.

use std::sync::Arc;

use aggregates::Aggregate;
use aggregates::contract::ContractAggregate;
use aggregates::face_verification::FaceVerificationAggregate;
use aggregates::sms_notice::SmsNoticeAggregate;
use aggregates::sms_template::SmsTemplateAggregate;
use aggregates::template::TemplateAggregate;
use projections::{Row, Table};
use serde::Serialize;

use crate::app::pipeline::{ReadModel, project};
use crate::pii::PiiCipher;
use crate::store::rows::{self, Target, shadow_name};
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

/// How the live rows of one table compare with the rows the log gives.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TableComparison {
    pub table: &'static str,
    pub rebuilt_rows: u64,
    /// Live rows no rebuilt row equals (changed or extra).
    pub only_live: u64,
    /// Rebuilt rows no live row equals (changed or missing).
    pub only_rebuilt: u64,
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
    create_shadows(store).await?;
    let outcome = async {
        let (streams, events) = fill_shadows(store, pii).await?;
        let tables = compare(store).await?;
        Ok::<_, RebuildError>(CheckReport {
            streams,
            events,
            tables,
        })
    }
    .await;
    drop_shadows(store).await?;
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
    let started = crate::store::Checkpoint {
        transaction_id: 0,
        global_position: current_position(store).await?,
    };
    create_shadows(store).await?;
    let filled = fill_shadows(store, pii).await;
    let (streams, events) = match filled {
        Ok(counts) => counts,
        Err(error) => {
            drop_shadows(store).await?;
            return Err(error);
        }
    };
    let caught_up_streams = match store {
        Store::Sqlite(sqlite) => {
            let pii = std::sync::Arc::clone(pii);
            sqlite
                .write(move |connection| swap_sqlite(connection, &pii, started.global_position))
                .await?
        }
        Store::Postgres(_) => swap_postgres(store, pii, started.global_position).await?,
    };
    Ok(RebuildReport {
        streams,
        events,
        caught_up_streams,
    })
}

/// The highest global position stored now.
async fn current_position(store: &Store) -> Result<i64, StoreError> {
    let sql = "SELECT COALESCE(MAX(global_position), 0) FROM events".to_owned();
    Ok(i64::try_from(count(store, sql).await?).unwrap_or(i64::MAX))
}

fn swap_sqlite(
    connection: &rusqlite::Connection,
    pii: &PiiCipher,
    since: i64,
) -> Result<u64, StoreError> {
    use crate::store::sqlite::{read_stream_on, sql_error, streams_written_after};
    let streams = streams_written_after(connection, since)?;
    for stream in &streams {
        let events = read_stream_on(connection, stream)?;
        let rows = stream_rows(pii, &events).map_err(|e| StoreError::Database(e.to_string()))?;
        rows::upsert_sqlite_into(connection, &rows, Target::Shadow)?;
    }
    for table in Table::ALL {
        let live = table.name();
        let mut statement = connection
            .prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL")
            .map_err(sql_error)?;
        let indexes = statement
            .query_map([live], |row| row.get::<_, String>(0))
            .map_err(sql_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql_error)?;
        connection
            .execute_batch(&format!(
                "DROP TABLE {live}; ALTER TABLE {} RENAME TO {live};",
                shadow_name(table)
            ))
            .map_err(sql_error)?;
        for index in indexes {
            connection.execute_batch(&index).map_err(sql_error)?;
        }
    }
    Ok(streams.len() as u64)
}

async fn swap_postgres(store: &Store, pii: &PiiCipher, since: i64) -> Result<u64, RebuildError> {
    use crate::store::postgres::{db_error, pool_error};
    let Store::Postgres(pg) = store else {
        return Ok(0);
    };
    let mut client = pg.pool().get().await.map_err(pool_error)?;
    let live: Vec<&str> = Table::ALL.iter().map(|table| table.name()).collect();
    let transaction = client.transaction().await.map_err(db_error)?;
    transaction
        .batch_execute(&format!(
            "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
            live.join(", ")
        ))
        .await
        .map_err(db_error)?;
    for table in Table::ALL {
        let name = table.name();
        transaction
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {name}__old; ALTER TABLE {name} RENAME TO {name}__old; \
                 ALTER TABLE {} RENAME TO {name}",
                shadow_name(table)
            ))
            .await
            .map_err(db_error)?;
    }
    transaction.commit().await.map_err(db_error)?;

    // Wait until every transaction that could still write into an old table has ended.
    let horizon: i64 = client
        .query_one(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
            &[],
        )
        .await
        .map_err(db_error)?
        .get(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let oldest: i64 = client
            .query_one(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
                &[],
            )
            .await
            .map_err(db_error)?
            .get(0);
        if oldest >= horizon {
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err(RebuildError::Store(StoreError::Unavailable(
                "a transaction stayed open for two minutes after the swap; run the rebuild again"
                    .into(),
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let rows = client
        .query(
            "SELECT DISTINCT stream_id FROM events WHERE global_position > $1",
            &[&since],
        )
        .await
        .map_err(db_error)?;
    let streams: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    for stream in &streams {
        let stream_id = StreamId::parse(stream)?;
        let events = store.read_stream(&stream_id, 0).await?;
        let rows = stream_rows(pii, &events)?;
        rows::upsert_postgres(&client, &rows).await?;
    }
    for table in Table::ALL {
        client
            .batch_execute(&format!("DROP TABLE IF EXISTS {}__old", table.name()))
            .await
            .map_err(db_error)?;
    }
    Ok(streams.len() as u64)
}

async fn create_shadows(store: &Store) -> Result<(), StoreError> {
    match store {
        Store::Postgres(pg) => {
            let client = pg
                .pool()
                .get()
                .await
                .map_err(crate::store::postgres::pool_error)?;
            for table in Table::ALL {
                let shadow = shadow_name(table);
                client
                    .batch_execute(&format!(
                        "DROP TABLE IF EXISTS {shadow}; CREATE TABLE {shadow} (LIKE {} INCLUDING ALL)",
                        table.name()
                    ))
                    .await
                    .map_err(crate::store::postgres::db_error)?;
            }
            Ok(())
        }
        Store::Sqlite(sqlite) => {
            sqlite
                .write(|connection| {
                    for table in Table::ALL {
                        let shadow = shadow_name(table);
                        let ddl: String = connection
                            .query_row(
                                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
                                [table.name()],
                                |row| row.get(0),
                            )
                            .map_err(crate::store::sqlite::sql_error)?;
                        // The table's own DDL under the shadow's name: same columns, types and keys. The
                        // column list starts at the first parenthesis; the name before it may be quoted
                        // (SQLite quotes a table's name once it has been renamed).
                        let body = ddl.find('(').map(|start| &ddl[start..]).ok_or_else(|| {
                            StoreError::Database(format!("unexpected DDL for {}", table.name()))
                        })?;
                        connection
                            .execute_batch(&format!(
                                "DROP TABLE IF EXISTS {shadow}; CREATE TABLE {shadow}{body};"
                            ))
                            .map_err(crate::store::sqlite::sql_error)?;
                    }
                    Ok(())
                })
                .await
        }
    }
}

async fn drop_shadows(store: &Store) -> Result<(), StoreError> {
    let statements: Vec<String> = Table::ALL
        .iter()
        .map(|table| format!("DROP TABLE IF EXISTS {}", shadow_name(*table)))
        .collect();
    match store {
        Store::Postgres(pg) => {
            let client = pg
                .pool()
                .get()
                .await
                .map_err(crate::store::postgres::pool_error)?;
            for statement in statements {
                client
                    .batch_execute(&statement)
                    .await
                    .map_err(crate::store::postgres::db_error)?;
            }
            Ok(())
        }
        Store::Sqlite(sqlite) => {
            sqlite
                .write(move |connection| {
                    for statement in statements {
                        connection
                            .execute_batch(&statement)
                            .map_err(crate::store::sqlite::sql_error)?;
                    }
                    Ok(())
                })
                .await
        }
    }
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
                write_shadow_rows(&store, rows).await?;
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

async fn write_shadow_rows(store: &Store, rows: Vec<Row>) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    match store {
        Store::Postgres(pg) => {
            use crate::store::postgres::{db_error, pool_error};
            let mut client = pg.pool().get().await.map_err(pool_error)?;
            let transaction = client.transaction().await.map_err(db_error)?;
            // Shadow rows count only once the swap commits, and that commit flushes the log up to
            // here first: these commits need not wait for the disk.
            transaction
                .batch_execute("SET LOCAL synchronous_commit = off")
                .await
                .map_err(db_error)?;
            rows::upsert_postgres_many(&transaction, &rows, Target::Shadow).await?;
            transaction.commit().await.map_err(db_error)
        }
        Store::Sqlite(sqlite) => {
            sqlite
                .write(move |connection| {
                    rows::upsert_sqlite_into(connection, &rows, Target::Shadow)
                })
                .await
        }
    }
}

async fn compare(store: &Store) -> Result<Vec<TableComparison>, StoreError> {
    let mut comparisons = Vec::new();
    for table in Table::ALL {
        let (live, shadow) = (table.name(), shadow_name(table));
        let queries = [
            format!("SELECT COUNT(*) FROM {shadow}"),
            format!(
                "SELECT COUNT(*) FROM (SELECT * FROM {live} EXCEPT SELECT * FROM {shadow}) AS d"
            ),
            format!(
                "SELECT COUNT(*) FROM (SELECT * FROM {shadow} EXCEPT SELECT * FROM {live}) AS d"
            ),
        ];
        let mut counts = [0u64; 3];
        for (slot, sql) in counts.iter_mut().zip(queries) {
            *slot = count(store, sql).await?;
        }
        comparisons.push(TableComparison {
            table: live,
            rebuilt_rows: counts[0],
            only_live: counts[1],
            only_rebuilt: counts[2],
        });
    }
    Ok(comparisons)
}

async fn count(store: &Store, sql: String) -> Result<u64, StoreError> {
    let value: i64 = match store {
        Store::Postgres(pg) => {
            let client = pg
                .pool()
                .get()
                .await
                .map_err(crate::store::postgres::pool_error)?;
            client
                .query_one(&sql, &[])
                .await
                .map_err(crate::store::postgres::db_error)?
                .get(0)
        }
        Store::Sqlite(sqlite) => {
            sqlite
                .read(move |connection| {
                    connection
                        .query_row(&sql, [], |row| row.get(0))
                        .map_err(crate::store::sqlite::sql_error)
                })
                .await?
        }
    };
    Ok(u64::try_from(value).unwrap_or(0))
}
