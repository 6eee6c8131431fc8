//! The shadow query tables a rebuild fills (`<table>__rebuild`), their comparison with the live
//! tables, and the swap that puts them live while the service keeps writing.
//!
//! What the rows are is the read side's business (`crate::read::rebuild`); this module only creates,
//! fills, compares, swaps and drops tables.

use projections::{Row, Table};
use serde::Serialize;

use super::rows::{self, Target, shadow_name};
use super::{EventStore, RecordedEvent, Store, StoreError, StreamId, postgres, sqlite};

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

/// A stream's rows from its events, as the read side computes them.
type ProjectStream = dyn Fn(&[RecordedEvent]) -> Result<Vec<Row>, String> + Send;

/// The shadow tables: [`Store::shadow_tables`].
#[derive(Debug, Clone, Copy)]
pub struct ShadowTables<'a>(&'a Store);

impl Store {
    pub fn shadow_tables(&self) -> ShadowTables<'_> {
        ShadowTables(self)
    }
}

impl ShadowTables<'_> {
    /// The highest global position stored now.
    pub async fn current_position(self) -> Result<i64, StoreError> {
        Ok(i64::try_from(
            count(
                self.0,
                "SELECT COALESCE(MAX(global_position), 0) FROM events".into(),
            )
            .await?,
        )
        .unwrap_or(i64::MAX))
    }

    /// Empty shadow copies of every query table: same columns, types and keys.
    pub async fn create(self) -> Result<(), StoreError> {
        match self.0 {
            Store::Postgres(pg) => {
                let client = pg.pool().get().await.map_err(postgres::pool_error)?;
                for table in Table::ALL {
                    let shadow = shadow_name(table);
                    client
                        .batch_execute(&format!(
                            "DROP TABLE IF EXISTS {shadow}; CREATE TABLE {shadow} (LIKE {} INCLUDING ALL)",
                            table.name()
                        ))
                        .await
                        .map_err(postgres::db_error)?;
                }
                Ok(())
            }
            Store::Sqlite(store) => {
                store
                    .write(|connection| {
                        for table in Table::ALL {
                            let shadow = shadow_name(table);
                            let ddl: String = connection
                                .query_row(
                                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
                                    [table.name()],
                                    |row| row.get(0),
                                )
                                .map_err(sqlite::sql_error)?;
                            // The table's own DDL under the shadow's name: same columns, types and
                            // keys. The column list starts at the first parenthesis; the name before
                            // it may be quoted (SQLite quotes a table's name once it has been renamed).
                            let body = ddl.find('(').map(|start| &ddl[start..]).ok_or_else(|| {
                                StoreError::Database(format!("unexpected DDL for {}", table.name()))
                            })?;
                            connection
                                .execute_batch(&format!(
                                    "DROP TABLE IF EXISTS {shadow}; CREATE TABLE {shadow}{body};"
                                ))
                                .map_err(sqlite::sql_error)?;
                        }
                        Ok(())
                    })
                    .await
            }
        }
    }

    /// Drops every shadow table.
    pub async fn drop(self) -> Result<(), StoreError> {
        let statements: Vec<(super::sql::Statement, Vec<super::sql::Value>)> = Table::ALL
            .iter()
            .map(|table| {
                (
                    format!("DROP TABLE IF EXISTS {}", shadow_name(*table)).into(),
                    Vec::new(),
                )
            })
            .collect();
        for statement in statements {
            self.0.write(vec![statement]).await?;
        }
        Ok(())
    }

    /// Writes rows into the shadow tables.
    pub async fn write(self, rows: Vec<Row>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        match self.0 {
            Store::Postgres(pg) => {
                let mut client = pg.pool().get().await.map_err(postgres::pool_error)?;
                let transaction = client.transaction().await.map_err(postgres::db_error)?;
                // Shadow rows count only once the swap commits, and that commit flushes the log up
                // to here first: these commits need not wait for the disk.
                transaction
                    .batch_execute("SET LOCAL synchronous_commit = off")
                    .await
                    .map_err(postgres::db_error)?;
                rows::upsert_postgres_many(&transaction, &rows, Target::Shadow).await?;
                transaction.commit().await.map_err(postgres::db_error)
            }
            Store::Sqlite(store) => {
                store
                    .write(move |connection| {
                        rows::upsert_sqlite_into(connection, &rows, Target::Shadow)
                    })
                    .await
            }
        }
    }

    /// Compares every live table with its shadow, in the database (`EXCEPT` both ways), so a
    /// difference in any column of any row shows.
    pub async fn compare(self) -> Result<Vec<TableComparison>, StoreError> {
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
                *slot = count(self.0, sql).await?;
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

    /// Puts the shadow tables live while the service keeps writing; `project` gives the rows of a
    /// stream from its events, for the streams written since global position `since`, which are
    /// projected again. Returns how many streams that was.
    ///
    /// - SQLite: one write transaction (writes queue behind it) projects those streams into the
    ///   shadows and replaces each live table with its shadow, recreating the live indexes.
    /// - PostgreSQL: one transaction locks the live tables and renames shadow to live. A command that
    ///   was waiting on the old table may still land there, so once every transaction that was
    ///   running at the swap has ended, each stream written since is projected again into the new
    ///   tables. Rows are a function of their stream, so projecting a stream again is always safe.
    pub async fn swap<F>(self, since: i64, project: F) -> Result<u64, StoreError>
    where
        F: Fn(&[RecordedEvent]) -> Result<Vec<Row>, String> + Send + 'static,
    {
        match self.0 {
            Store::Sqlite(store) => {
                store
                    .write(move |connection| swap_sqlite(connection, since, &project))
                    .await
            }
            Store::Postgres(_) => swap_postgres(self.0, since, &project).await,
        }
    }
}

fn swap_sqlite(
    connection: &rusqlite::Connection,
    since: i64,
    project: &ProjectStream,
) -> Result<u64, StoreError> {
    use sqlite::{read_stream_on, sql_error, streams_written_after};
    let streams = streams_written_after(connection, since)?;
    for stream in &streams {
        let events = read_stream_on(connection, stream)?;
        let rows = project(&events).map_err(StoreError::Database)?;
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

async fn swap_postgres(
    store: &Store,
    since: i64,
    project: &ProjectStream,
) -> Result<u64, StoreError> {
    use postgres::{db_error, pool_error};
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
            return Err(StoreError::Unavailable(
                "a transaction stayed open for two minutes after the swap; run the rebuild again"
                    .into(),
            ));
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
        let rows = project(&events).map_err(StoreError::Database)?;
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

async fn count(store: &Store, sql: String) -> Result<u64, StoreError> {
    let row = store
        .query_opt(sql, Vec::new())
        .await?
        .ok_or_else(|| StoreError::Database("a count returned no row".into()))?;
    Ok(u64::try_from(row.int(0)?).unwrap_or(0))
}
