//! A command's writes, in one transaction: its events appended to the log, the query-table rows they
//! project to, the outbox entries they publish, and the rows the command attaches (short links).
//! They commit together, so a read right after a command sees it and a callback exists exactly when
//! its cause was committed.

use projections::Row;

use super::outbox::OutboxEntry;
use super::short_links::{self, ShortLinkRow};
use super::sql::{postgres_written, sqlite_written_statement};
use super::{AppendRequest, RecordedEvent, Store, StoreError, postgres, rows, sqlite};

/// What a command writes beside its events, derived from the events as recorded.
#[derive(Debug, Default)]
pub struct CommandWrites {
    pub rows: Vec<Row>,
    pub outbox: Vec<OutboxEntry>,
    pub attached: Attached,
}

/// Rows outside the query tables that a command writes in its own transaction, so they commit (and
/// reach the disk) with its events: one commit per command instead of one per table.
#[derive(Debug, Clone, Default)]
pub enum Attached {
    #[default]
    Nothing,
    /// The short links of the sign links the command issued. A code already taken fails the
    /// command: with 62^10 codes this is vanishingly rare, and the caller may simply retry.
    ShortLinks(Vec<ShortLinkRow>),
}

/// Why a command's writes did not commit.
#[derive(Debug, thiserror::Error)]
pub enum CommitError<E> {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What the caller derives from the recorded events failed; nothing was written.
    #[error("{0}")]
    Derive(E),
}

impl Store {
    /// Appends `request` and, in the same transaction, writes what `derive` makes of the recorded
    /// events (they carry their positions and times, which rows are made of).
    pub async fn commit<F, E>(
        &self,
        request: AppendRequest,
        derive: F,
    ) -> Result<Vec<RecordedEvent>, CommitError<E>>
    where
        F: FnOnce(&[RecordedEvent]) -> Result<CommandWrites, E> + Send + 'static,
        E: Send + 'static,
    {
        match self {
            Store::Sqlite(store) => {
                // A failed derivation must fail the write, so its savepoint rolls the append back;
                // the caller's own error travels beside it.
                let failure = std::sync::Arc::new(std::sync::Mutex::new(None));
                let slot = std::sync::Arc::clone(&failure);
                let outcome = store
                    .write(move |connection| {
                        let appended = sqlite::append_on(connection, &request)?;
                        let writes = derive(&appended).map_err(|error| {
                            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
                            StoreError::Database("the command's writes could not be derived".into())
                        })?;
                        write_sqlite(connection, &writes.rows, &writes.outbox, &writes.attached)?;
                        Ok(appended)
                    })
                    .await;
                let derived = failure.lock().unwrap_or_else(|p| p.into_inner()).take();
                match (outcome, derived) {
                    (_, Some(error)) => Err(CommitError::Derive(error)),
                    (outcome, None) => outcome.map_err(CommitError::Store),
                }
            }
            Store::Postgres(store) => {
                let mut client = store.pool().get().await.map_err(postgres::pool_error)?;
                let transaction = client.transaction().await.map_err(postgres::db_error)?;
                let appended = postgres::append_with(&transaction, &request).await?;
                let writes = derive(&appended).map_err(CommitError::Derive)?;
                rows::upsert_postgres(&transaction, &writes.rows).await?;
                for entry in &writes.outbox {
                    let (statement, params) = entry.insert();
                    postgres_written(&transaction, &statement, &params).await?;
                }
                write_attached_postgres(&transaction, &writes.attached).await?;
                transaction.commit().await.map_err(postgres::db_error)?;
                Ok(appended)
            }
        }
    }

    /// Query-table rows and attached rows without events, in one transaction: the plain-CRUD
    /// baseline of the benchmarks, which measures what the log costs.
    pub async fn write_rows(&self, rows: Vec<Row>, attached: Attached) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => {
                store
                    .write(move |connection| write_sqlite(connection, &rows, &[], &attached))
                    .await
            }
            Store::Postgres(store) => {
                let mut client = store.pool().get().await.map_err(postgres::pool_error)?;
                let transaction = client.transaction().await.map_err(postgres::db_error)?;
                rows::upsert_postgres(&transaction, &rows).await?;
                write_attached_postgres(&transaction, &attached).await?;
                transaction.commit().await.map_err(postgres::db_error)
            }
        }
    }
}

fn write_sqlite(
    connection: &rusqlite::Connection,
    rows: &[Row],
    outbox: &[OutboxEntry],
    attached: &Attached,
) -> Result<(), StoreError> {
    rows::upsert_sqlite(connection, rows)?;
    for entry in outbox {
        let (statement, params) = entry.insert();
        sqlite_written_statement(connection, &statement, &params)?;
    }
    match attached {
        Attached::Nothing => Ok(()),
        Attached::ShortLinks(links) if links.is_empty() => Ok(()),
        Attached::ShortLinks(links) => {
            let (statement, params) = short_links::insert(links);
            all_inserted(
                links,
                sqlite_written_statement(connection, &statement, &params)?.count,
            )
        }
    }
}

async fn write_attached_postgres(
    transaction: &deadpool_postgres::Transaction<'_>,
    attached: &Attached,
) -> Result<(), StoreError> {
    match attached {
        Attached::Nothing => Ok(()),
        Attached::ShortLinks(links) if links.is_empty() => Ok(()),
        Attached::ShortLinks(links) => {
            let (statement, params) = short_links::insert(links);
            all_inserted(
                links,
                postgres_written(transaction, &statement, &params)
                    .await?
                    .count,
            )
        }
    }
}

fn all_inserted(links: &[ShortLinkRow], inserted: u64) -> Result<(), StoreError> {
    if inserted == links.len() as u64 {
        Ok(())
    } else {
        Err(StoreError::Database(
            "a new short code is already taken; try again".to_owned(),
        ))
    }
}
