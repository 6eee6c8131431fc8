//! The PostgreSQL event store (production).
//!
//! # Commit order without a global lock
//!
//! `global_position` comes from an identity sequence when a row is inserted, not when it commits, so
//! position 7 can become visible after position 8. A reader that remembered "8" would skip 7 forever.
//! Serialising appends (a lock held until commit) would prevent that but also stop commits from sharing
//! an fsync. Instead every row records its writing transaction's id (`xid8`), and readers only take rows
//! whose transaction id is below the `xmin` of their snapshot, i.e. older than every transaction still
//! running. Those transactions are finished, so no row can appear below that line later; ordering by
//! `(transaction_id, global_position)` then gives an order a reader can resume from without gaps.
//!
//! Within one stream that order must also be version order. A transaction id is taken at a
//! transaction's first write, so an append checks that the stream head it chains from was read before
//! its transaction wrote anything: then its id is newer than the id of the head's (committed) writer.

mod append;
mod chain_read;

pub use append::{append_new_streams_with, append_with};

use deadpool_postgres::{GenericClient, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::migrations::{self, Migration};
use super::{
    AppendRequest, ChainCursor, ChainRows, Checkpoint, EventStore, RecordedEvent, StoreError,
    StreamId, Timeouts, hash_from_bytes,
};
use crate::pii::SealedPayload;

const COLUMNS: &str = "global_position, transaction_id, stream_id, stream_version, event_id, event_type, \
                       schema_version, payload, metadata, recorded_at, prev_hash, hash";

/// A lock key for migrations, so instances starting together migrate once.
const MIGRATION_LOCK: i64 = 0x6573_6967_6e01;

/// Bounds on waiting for a pooled connection, opening a new one and checking a recycled one. Past
/// them the request fails as unavailable (503 with `Retry-After`) instead of hanging: a database
/// behind a dropped route answers no packet, and connecting would otherwise wait for the TCP timeout.
/// The bounds are generous: a burst of many times the pool size may queue for its connections, and a
/// loaded host may take seconds to open one.
const POOL_TIMEOUTS: deadpool_postgres::Timeouts = deadpool_postgres::Timeouts {
    wait: Some(std::time::Duration::from_secs(30)),
    create: Some(std::time::Duration::from_secs(10)),
    recycle: Some(std::time::Duration::from_secs(10)),
};

#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PostgresStore")
            .field("pool_size", &status.size)
            .field("pool_max", &status.max_size)
            .finish()
    }
}

impl PostgresStore {
    /// Connects a pool of at most `max_connections`, each connection bounded by `timeouts`, and
    /// applies pending migrations.
    pub async fn connect(
        url: &str,
        max_connections: usize,
        timeouts: Timeouts,
    ) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("database.url: {e}")))?;
        bound(&mut config, timeouts);
        let manager = deadpool_postgres::Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .timeouts(POOL_TIMEOUTS)
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// The pool, for the service's other tables.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Closes every pooled connection; later calls fail as unavailable.
    pub fn close(&self) {
        self.pool.close();
    }

    /// Applies pending migrations under an advisory lock.
    pub async fn migrate(&self) -> Result<Vec<&'static Migration>, StoreError> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        // A migration may rewrite a large table and another instance may hold the lock for as
        // long: neither is a request, so the service's statement bound does not apply.
        client
            .batch_execute("SET statement_timeout = 0")
            .await
            .map_err(db_error)?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(db_error)?;
        let outcome = apply_migrations(&mut client).await;
        // Unlock whatever happened; a failed unlock ends with the session anyway.
        let _ = client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await;
        // Back to the bound the connection started with, before it returns to the pool.
        client
            .batch_execute("RESET statement_timeout")
            .await
            .map_err(db_error)?;
        outcome
    }
}

/// Applies `timeouts` to a connection's settings, leaving what the URL itself sets for connecting.
/// The server ends a statement or an idle transaction past the statement bound (rolled back: nothing
/// is half-written); the client drops a connection the network stopped answering, so the request
/// fails as unavailable (503) instead of waiting for TCP's own timeout.
fn bound(config: &mut tokio_postgres::Config, timeouts: Timeouts) {
    let network = timeouts.network;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(network);
    }
    config
        .tcp_user_timeout(network)
        .keepalives(true)
        .keepalives_idle((network / 2).max(std::time::Duration::from_secs(1)))
        .keepalives_interval((network / 6).max(std::time::Duration::from_secs(1)))
        .keepalives_retries(3);
    if let Some(statement) = timeouts.statement {
        let millis = statement.as_millis();
        let bounds = format!(
            "-c statement_timeout={millis} -c idle_in_transaction_session_timeout={millis}"
        );
        let options = match config.get_options() {
            Some(given) if !given.trim().is_empty() => format!("{given} {bounds}"),
            _ => bounds,
        };
        config.options(options);
    }
}

async fn apply_migrations(
    client: &mut deadpool_postgres::Client,
) -> Result<Vec<&'static Migration>, StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    bigint PRIMARY KEY,
                 name       text NOT NULL,
                 checksum   text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(db_error)?;
    let applied: Vec<(i64, String)> = client
        .query(
            "SELECT version, checksum FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let pending =
        migrations::pending(migrations::POSTGRES, &applied).map_err(StoreError::Migration)?;
    for migration in &pending {
        let tx = client.transaction().await.map_err(db_error)?;
        tx.batch_execute(migration.sql).await.map_err(|e| {
            StoreError::Migration(format!("{} failed: {}", migration.name, describe(&e)))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&migration.version, &migration.name, &migration.checksum()],
        )
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
    }
    Ok(pending)
}

impl EventStore for PostgresStore {
    async fn append(&self, request: AppendRequest) -> Result<Vec<RecordedEvent>, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        append_with(&client, &request).await
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND stream_version > $2 \
                 ORDER BY stream_version"
            ))
            .await
            .map_err(db_error)?;
        let rows = client
            .query(&statement, &[&stream_id.as_str(), &to_i64(after_version)])
            .await
            .map_err(db_error)?;
        rows.iter().map(row_to_event).collect()
    }

    async fn read_all(
        &self,
        after: Checkpoint,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        // The fence: only transactions older than every running one (see the module docs).
        let statement = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM events \
                 WHERE (transaction_id, global_position) > ($1, $2) \
                   AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
                 ORDER BY transaction_id, global_position LIMIT $3"
            ))
            .await
            .map_err(db_error)?;
        let rows = client
            .query(
                &statement,
                &[
                    &after.transaction_id,
                    &after.global_position,
                    &limit_i64(limit),
                ],
            )
            .await
            .map_err(db_error)?;
        rows.iter().map(row_to_event).collect()
    }

    async fn read_chain(
        &self,
        after: Option<ChainCursor>,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let (stream, version) = match &after {
            Some(cursor) => (cursor.stream_id.as_str(), to_i64(cursor.stream_version)),
            None => ("", 0),
        };
        let statement = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM events WHERE (stream_id, stream_version) > ($1, $2) \
                 ORDER BY stream_id, stream_version LIMIT $3"
            ))
            .await
            .map_err(db_error)?;
        let rows = client
            .query(&statement, &[&stream, &version, &limit_i64(limit)])
            .await
            .map_err(db_error)?;
        rows.iter().map(row_to_event).collect()
    }

    async fn read_chain_rows(&self, batch_size: usize) -> Result<ChainRows, StoreError> {
        self.read_chain_rows_in_ranges(batch_size, chain_read::CHAIN_RANGE_ROWS)
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        client.simple_query("SELECT 1").await.map_err(db_error)?;
        Ok(())
    }
}

fn row_to_event(row: &tokio_postgres::Row) -> Result<RecordedEvent, StoreError> {
    let position: i64 = row.try_get(0).map_err(db_error)?;
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let version: i64 = row.try_get(3).map_err(db_error)?;
    let schema_version: i32 = row.try_get(6).map_err(db_error)?;
    let metadata: serde_json::Value = row.try_get(8).map_err(db_error)?;
    Ok(RecordedEvent {
        global_position: position,
        transaction_id: row.try_get(1).map_err(db_error)?,
        stream_id: StreamId(row.try_get(2).map_err(db_error)?),
        stream_version: u64::try_from(version).map_err(|_| corrupt("negative version".into()))?,
        event_id: row.try_get(4).map_err(db_error)?,
        event_type: row.try_get(5).map_err(db_error)?,
        schema_version: u32::try_from(schema_version)
            .map_err(|_| corrupt("negative schema version".into()))?,
        payload: SealedPayload::from_stored(row.try_get(7).map_err(db_error)?),
        metadata: serde_json::from_value(metadata).map_err(|e| corrupt(e.to_string()))?,
        recorded_at: row.try_get(9).map_err(db_error)?,
        prev_hash: hash_from_bytes(position, row.try_get(10).map_err(db_error)?)?,
        hash: hash_from_bytes(position, row.try_get(11).map_err(db_error)?)?,
    })
}

fn constraint_of(error: &tokio_postgres::Error) -> Option<&str> {
    let db = error.as_db_error()?;
    if db.code() == &SqlState::UNIQUE_VIOLATION {
        db.constraint()
    } else {
        None
    }
}

/// Maps a driver error: lost connections are `Unavailable`, the append-only trigger is `AppendOnly`.
pub fn db_error(error: tokio_postgres::Error) -> StoreError {
    if let Some(key) = constraint_of(&error).and_then(super::UniqueKey::of_constraint) {
        return StoreError::Duplicate(key);
    }
    match error.as_db_error() {
        Some(db) if db.code().code() == "E5001" => StoreError::AppendOnly(db.message().to_owned()),
        Some(db) if is_unavailable(db.code()) => StoreError::Unavailable(db.message().to_owned()),
        Some(_) => StoreError::Database(describe(&error)),
        None => StoreError::Unavailable(describe(&error)),
    }
}

fn is_unavailable(code: &SqlState) -> bool {
    [
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::TOO_MANY_CONNECTIONS,
        // The service's statement bound ended a statement or an idle transaction: rolled back.
        SqlState::QUERY_CANCELED,
        SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
    ]
    .contains(code)
}

/// Maps a failure to get a pooled connection: the database cannot be reached now.
pub fn pool_error(error: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => error.to_string(),
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn limit_i64(limit: usize) -> i64 {
    i64::try_from(limit.max(1)).unwrap_or(i64::MAX)
}
