//! Rebuilding the query tables from the log, and checking that the live tables match what the log says.
//!
//! Every stream is folded into its rows (the same pure projection the pipeline runs inline) and written
//! into shadow copies of the query tables (`<table>__rebuild`). The check then compares live and shadow
//! tables in the database itself (`EXCEPT` both ways), so a difference in any column of any row shows.

use aggregates::Aggregate;
use aggregates::contract::ContractAggregate;
use aggregates::face_verification::FaceVerificationAggregate;
use aggregates::template::TemplateAggregate;
use projections::{Row, Table};
use serde::Serialize;

use crate::pii::PiiCipher;
use crate::pipeline::{ReadModel, project};
use crate::store::rows::{self, Target, shadow_name};
use crate::store::{ChainCursor, EventStore, RecordedEvent, Store, StoreError, StreamId};

/// Events read per page while walking the log.
const PAGE: usize = 5_000;

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
pub async fn check(store: &Store, pii: &PiiCipher) -> Result<CheckReport, RebuildError> {
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
                        // The table's own DDL under the shadow's name: same columns, types and keys.
                        let prefix = format!("CREATE TABLE {}", table.name());
                        let body = ddl.strip_prefix(&prefix).ok_or_else(|| {
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
async fn fill_shadows(store: &Store, pii: &PiiCipher) -> Result<(u64, u64), RebuildError> {
    let mut cursor: Option<ChainCursor> = None;
    let mut current: Vec<RecordedEvent> = Vec::new();
    let (mut streams, mut events) = (0u64, 0u64);
    loop {
        let page = store.read_chain(cursor.clone(), PAGE).await?;
        let Some(last) = page.last() else { break };
        cursor = Some(ChainCursor {
            stream_id: last.stream_id.clone(),
            stream_version: last.stream_version,
        });
        let mut rows = Vec::new();
        for event in page {
            events += 1;
            if current
                .first()
                .is_some_and(|first| first.stream_id != event.stream_id)
            {
                streams += 1;
                rows.extend(stream_rows(pii, &std::mem::take(&mut current))?);
            }
            current.push(event);
        }
        write_shadow_rows(store, rows).await?;
    }
    if !current.is_empty() {
        streams += 1;
        let rows = stream_rows(pii, &current)?;
        write_shadow_rows(store, rows).await?;
    }
    Ok((streams, events))
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
            let mut client = pg
                .pool()
                .get()
                .await
                .map_err(crate::store::postgres::pool_error)?;
            let transaction = client
                .transaction()
                .await
                .map_err(crate::store::postgres::db_error)?;
            rows::upsert_postgres_into(&transaction, &rows, Target::Shadow).await?;
            transaction
                .commit()
                .await
                .map_err(crate::store::postgres::db_error)
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
