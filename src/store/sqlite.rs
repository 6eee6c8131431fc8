//! The SQLite event store (the embedded default): one file, WAL mode, fsync on every commit.
//!
//! SQLite allows one writer at a time, so one thread owns the write connection and commits in groups:
//! it takes every write waiting in its queue, runs each inside its own savepoint (a failing write rolls
//! back alone) and commits them together, so concurrent writers share one fsync. Reads run on a small
//! pool of read-only connections, which WAL lets proceed while the writer works.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::chain::{GENESIS_HASH, StoredFields, StoredRow};
use super::migrations::{self, Migration};
use super::{
    AppendRequest, CHAIN_READ_AHEAD, ChainBatch, ChainCursor, ChainRows, Checkpoint, EventStore,
    RecordedEvent, StoreError, StreamId, hash_from_bytes, prepare, validate,
};
use crate::pii::SealedPayload;

const COLUMNS: &str = "global_position, transaction_id, stream_id, stream_version, event_id, event_type, \
                       schema_version, payload, metadata, recorded_at, prev_hash, hash";

/// How many queued writes one commit may carry.
const MAX_GROUP: usize = 128;
/// Read connections kept open.
const MAX_IDLE_READERS: usize = 8;
/// Reads that run at once; more wait their turn. Each running read holds a connection (with its own
/// page cache) and a blocking thread, so without a bound a burst of reads opened as many of both as
/// it had requests: hundreds of megabytes at 256 concurrent requests, for no more throughput than a
/// few connections give on a small machine.
const MAX_CONCURRENT_READS: usize = MAX_IDLE_READERS;

/// A write waiting for the writer thread: it runs inside a savepoint, then learns the commit's outcome.
trait WriteJob: Send {
    /// Runs the write; `false` means it failed and its savepoint must be rolled back.
    fn run(&mut self, connection: &Connection) -> bool;
    /// Reports to the caller once the group's transaction ended (or never began).
    fn complete(self: Box<Self>, commit: Result<(), StoreError>);
}

struct TypedJob<T, F> {
    work: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> WriteJob for TypedJob<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, connection: &Connection) -> bool {
        let outcome = match self.work.take() {
            Some(work) => work(connection),
            None => Err(StoreError::Database("a write ran twice".into())),
        };
        let succeeded = outcome.is_ok();
        self.outcome = Some(outcome);
        succeeded
    }

    fn complete(self: Box<Self>, commit: Result<(), StoreError>) {
        let result = match (self.outcome, commit) {
            (Some(Err(error)), _) => Err(error),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(error)) => Err(error),
            (None, Ok(())) => Err(StoreError::Database(
                "a write was committed without running".into(),
            )),
        };
        // The caller may have gone away (request cancelled); the write stands either way.
        let _ = self.reply.send(result);
    }
}

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writes: Mutex<mpsc::Sender<Box<dyn WriteJob>>>,
    readers: Mutex<Vec<Connection>>,
    read_slots: tokio::sync::Semaphore,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file, applies pending migrations and starts the writer.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let opened = path.clone();
        let writer = tokio::task::spawn_blocking(move || -> Result<Connection, StoreError> {
            if let Some(parent) = opened.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::Unavailable(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            let mut connection = open_connection(&opened)?;
            apply_migrations(&mut connection)?;
            Ok(connection)
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))??;

        let (sender, receiver) = mpsc::channel::<Box<dyn WriteJob>>();
        std::thread::Builder::new()
            .name("esign-sqlite-writer".into())
            .spawn(move || run_writer(writer, receiver))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writes: Mutex::new(sender),
                readers: Mutex::new(Vec::new()),
                read_slots: tokio::sync::Semaphore::new(MAX_CONCURRENT_READS),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `work` in the writer's transaction (inside its own savepoint) and returns once it committed.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, StoreError>>();
        let job: Box<dyn WriteJob> = Box::new(TypedJob {
            work: Some(work),
            outcome: None,
            reply,
        });
        self.inner
            .writes
            .lock()
            .map_err(|_| StoreError::Unavailable("the writer queue is poisoned".into()))?
            .send(job)
            .map_err(|_| StoreError::Unavailable("the writer thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the writer thread dropped a write".into()))?
    }

    /// Runs `work` on a read-only connection.
    pub async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _slot = self
            .inner
            .read_slots
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite store is closed".to_owned()))?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().ok().and_then(|mut idle| idle.pop());
            let connection = match pooled {
                Some(connection) => connection,
                None => {
                    let connection = open_connection(&inner.path)?;
                    connection
                        .execute_batch("PRAGMA query_only = ON;")
                        .map_err(sql_error)?;
                    connection
                }
            };
            let result = work(&connection);
            if let Ok(mut idle) = inner.readers.lock() {
                if idle.len() < MAX_IDLE_READERS {
                    idle.push(connection);
                }
            }
            result
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))?
    }
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path)
        .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    // FULL: a commit is on disk before it is acknowledged; the log must never lose an accepted event.
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             PRAGMA foreign_keys = ON;",
        )
        .map_err(sql_error)?;
    Ok(connection)
}

fn apply_migrations(connection: &mut Connection) -> Result<Vec<&'static Migration>, StoreError> {
    connection
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    INTEGER PRIMARY KEY,
                 name       TEXT NOT NULL,
                 checksum   TEXT NOT NULL,
                 applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
             ) STRICT;",
        )
        .map_err(sql_error)?;
    let applied = {
        let mut statement = connection
            .prepare("SELECT version, checksum FROM schema_migrations ORDER BY version")
            .map_err(sql_error)?;
        statement
            .query_map([], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(sql_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql_error)?
    };
    let pending =
        migrations::pending(migrations::SQLITE, &applied).map_err(StoreError::Migration)?;
    for migration in &pending {
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error)?;
        tx.execute_batch(migration.sql)
            .map_err(|e| StoreError::Migration(format!("{} failed: {e}", migration.name)))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (?1, ?2, ?3)",
            params![migration.version, migration.name, migration.checksum()],
        )
        .map_err(sql_error)?;
        tx.commit().map_err(sql_error)?;
    }
    Ok(pending)
}

/// The writer thread: takes every queued write, runs each in a savepoint, commits them together.
fn run_writer(connection: Connection, queue: mpsc::Receiver<Box<dyn WriteJob>>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if let Err(error) = connection.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(%error, "the sqlite writer cannot begin a transaction");
            for job in group {
                job.complete(Err(StoreError::Unavailable(format!(
                    "cannot begin: {error}"
                ))));
            }
            continue;
        }
        for job in &mut group {
            let succeeded = match connection.execute_batch("SAVEPOINT write_job") {
                Ok(()) => job.run(&connection),
                Err(_) => false,
            };
            let closed = if succeeded {
                connection.execute_batch("RELEASE write_job")
            } else {
                connection.execute_batch("ROLLBACK TO write_job; RELEASE write_job")
            };
            if let Err(error) = closed {
                tracing::error!(%error, "the sqlite writer cannot close a savepoint");
            }
        }
        let committed = connection
            .execute_batch("COMMIT")
            .map_err(|e| e.to_string());
        if committed.is_err() {
            let _ = connection.execute_batch("ROLLBACK");
        }
        for job in group {
            job.complete(match &committed {
                Ok(()) => Ok(()),
                Err(message) => Err(StoreError::Unavailable(format!("commit failed: {message}"))),
            });
        }
    }
}

impl EventStore for SqliteStore {
    async fn append(&self, request: AppendRequest) -> Result<Vec<RecordedEvent>, StoreError> {
        validate(&request)?;
        self.write(move |connection| append_on(connection, &request))
            .await
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let stream = stream_id.as_str().to_owned();
        let after = to_i64(after_version);
        self.read(move |connection| {
            query_events(
                connection,
                &format!(
                    "SELECT {COLUMNS} FROM events WHERE stream_id = ?1 AND stream_version > ?2 \
                     ORDER BY stream_version"
                ),
                params![stream, after],
            )
        })
        .await
    }

    async fn read_all(
        &self,
        after: Checkpoint,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let limit = to_i64(limit.max(1) as u64);
        self.read(move |connection| {
            query_events(
                connection,
                &format!(
                    "SELECT {COLUMNS} FROM events WHERE (transaction_id, global_position) > (?1, ?2) \
                     ORDER BY transaction_id, global_position LIMIT ?3"
                ),
                params![after.transaction_id, after.global_position, limit],
            )
        })
        .await
    }

    async fn read_chain(
        &self,
        after: Option<ChainCursor>,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let limit = to_i64(limit.max(1) as u64);
        let (stream, version) = match after {
            Some(cursor) => (cursor.stream_id.0, to_i64(cursor.stream_version)),
            None => (String::new(), 0),
        };
        self.read(move |connection| {
            query_events(
                connection,
                &format!(
                    "SELECT {COLUMNS} FROM events WHERE (stream_id, stream_version) > (?1, ?2) \
                     ORDER BY stream_id, stream_version LIMIT ?3"
                ),
                params![stream, version, limit],
            )
        })
        .await
    }

    async fn read_chain_rows(&self, batch_size: usize) -> Result<ChainRows, StoreError> {
        let (sender, receiver) = tokio::sync::mpsc::channel(CHAIN_READ_AHEAD);
        let store = self.clone();
        let batch_size = batch_size.max(1);
        tokio::spawn(async move {
            let errors = sender.clone();
            let read = store
                .read(move |connection| send_chain_rows(connection, batch_size, &sender))
                .await;
            if let Err(error) = read {
                // A closed channel means the reader has stopped and wants nothing more.
                let _ = errors.send(Err(error)).await;
            }
        });
        Ok(receiver)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|connection| {
            connection
                .query_row("SELECT 1", [], |_| Ok(()))
                .map_err(sql_error)
        })
        .await
    }
}

/// Appends inside the writer's transaction.
pub fn append_on(
    connection: &Connection,
    request: &AppendRequest,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let stream = request.stream_id.as_str();
    let head: Option<(i64, Vec<u8>)> = connection
        .query_row(
            "SELECT stream_version, hash FROM events WHERE stream_id = ?1 \
             ORDER BY stream_version DESC LIMIT 1",
            params![stream],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(sql_error)?;
    let (current, head_hash) = match head {
        Some((version, hash)) => (version, hash_from_bytes(0, &hash)?),
        None => (0, GENESIS_HASH),
    };
    if current != to_i64(request.expected_version) {
        return Err(StoreError::WrongExpectedVersion {
            stream: request.stream_id.clone(),
            expected: request.expected_version,
            actual: u64::try_from(current).unwrap_or(0),
        });
    }
    let transaction_id: i64 = connection
        .query_row(
            "SELECT COALESCE(MAX(transaction_id), 0) + 1 FROM events",
            [],
            |row| row.get(0),
        )
        .map_err(sql_error)?;

    let mut insert = connection
        .prepare_cached(
            "INSERT INTO events (transaction_id, stream_id, stream_version, event_id, event_type, \
                                 schema_version, payload, metadata, recorded_at, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING global_position",
        )
        .map_err(sql_error)?;
    let mut recorded = Vec::with_capacity(request.events.len());
    for item in prepare(request, head_hash) {
        let position: i64 = insert
            .query_row(
                params![
                    transaction_id,
                    stream,
                    to_i64(item.stream_version),
                    item.event.event_id.to_string(),
                    item.event.event_type,
                    item.event.schema_version,
                    item.event.payload.as_value().to_string(),
                    item.metadata_json.to_string(),
                    format_time(&item.recorded_at),
                    &item.prev_hash[..],
                    &item.hash[..],
                ],
                |row| row.get(0),
            )
            .map_err(|error| match unique_violation(&error) {
                Some(UniqueKey::EventId) => StoreError::DuplicateEventId(item.event.event_id),
                Some(UniqueKey::StreamVersion) => StoreError::WrongExpectedVersion {
                    stream: request.stream_id.clone(),
                    expected: request.expected_version,
                    actual: u64::try_from(current).unwrap_or(0),
                },
                None => sql_error(error),
            })?;
        recorded.push(item.recorded(&request.stream_id, position, transaction_id));
    }
    Ok(recorded)
}

/// Streams with an event after `global_position`, read on a given connection (the writer's, inside
/// its transaction).
pub(crate) fn streams_written_after(
    connection: &Connection,
    global_position: i64,
) -> Result<Vec<StreamId>, StoreError> {
    let mut statement = connection
        .prepare("SELECT DISTINCT stream_id FROM events WHERE global_position > ?1")
        .map_err(sql_error)?;
    let streams = statement
        .query_map(params![global_position], |row| row.get::<_, String>(0))
        .map_err(sql_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql_error)?;
    Ok(streams.into_iter().map(StreamId).collect())
}

/// One stream's events, read on a given connection.
pub(crate) fn read_stream_on(
    connection: &Connection,
    stream: &StreamId,
) -> Result<Vec<RecordedEvent>, StoreError> {
    query_events(
        connection,
        &format!("SELECT {COLUMNS} FROM events WHERE stream_id = ?1 ORDER BY stream_version"),
        params![stream.as_str()],
    )
}

/// Sends the whole log in chain order, in batches, from one statement (one WAL snapshot). A row that
/// cannot be read is sent on as the error reading it gave, where it stands in the order.
fn send_chain_rows(
    connection: &Connection,
    batch_size: usize,
    sender: &tokio::sync::mpsc::Sender<Result<ChainBatch, StoreError>>,
) -> Result<(), StoreError> {
    let mut statement = connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events ORDER BY stream_id, stream_version"
        ))
        .map_err(sql_error)?;
    let mut rows = statement.query([]).map_err(sql_error)?;
    let mut batch = Vec::with_capacity(batch_size);
    while let Some(row) = rows.next().map_err(sql_error)? {
        batch.push(ChainRow::read(row));
        if batch.len() == batch_size {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
            if sender.blocking_send(Ok(ChainBatch::Sqlite(full))).is_err() {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let _ = sender.blocking_send(Ok(ChainBatch::Sqlite(batch)));
    }
    Ok(())
}

fn query_events(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut statement = connection.prepare_cached(sql).map_err(sql_error)?;
    let mut rows = statement.query(params).map_err(sql_error)?;
    let mut events = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        events.push(row_to_event(row)?);
    }
    Ok(events)
}

fn row_to_event(row: &rusqlite::Row<'_>) -> Result<RecordedEvent, StoreError> {
    ChainRow::read(row)?.decode()
}

/// A row of `SELECT {COLUMNS}` as stored, before its text is decoded.
#[derive(Debug)]
pub struct ChainRow {
    global_position: i64,
    transaction_id: i64,
    stream_id: String,
    stream_version: i64,
    event_id: String,
    event_type: String,
    schema_version: i64,
    payload: String,
    metadata: String,
    recorded_at: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl ChainRow {
    fn read(row: &rusqlite::Row<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            global_position: row.get(0).map_err(sql_error)?,
            transaction_id: row.get(1).map_err(sql_error)?,
            stream_id: row.get(2).map_err(sql_error)?,
            stream_version: row.get(3).map_err(sql_error)?,
            event_id: row.get(4).map_err(sql_error)?,
            event_type: row.get(5).map_err(sql_error)?,
            schema_version: row.get(6).map_err(sql_error)?,
            payload: row.get(7).map_err(sql_error)?,
            metadata: row.get(8).map_err(sql_error)?,
            recorded_at: row.get(9).map_err(sql_error)?,
            prev_hash: row.get(10).map_err(sql_error)?,
            hash: row.get(11).map_err(sql_error)?,
        })
    }
}

/// A row as read, or the error reading it gave.
impl StoredRow for Result<ChainRow, StoreError> {
    fn fields(&self) -> Option<StoredFields<'_>> {
        self.as_ref().ok()?.fields()
    }

    fn decode(self) -> Result<RecordedEvent, StoreError> {
        self?.decode()
    }
}

impl ChainRow {
    fn fields(&self) -> Option<StoredFields<'_>> {
        Some(StoredFields {
            global_position: self.global_position,
            stream_id: &self.stream_id,
            stream_version: u64::try_from(self.stream_version).ok()?,
            event_id: Uuid::parse_str(&self.event_id).ok()?,
            event_type: &self.event_type,
            schema_version: u32::try_from(self.schema_version).ok()?,
            payload: &self.payload,
            metadata: &self.metadata,
            recorded_at: parse_time(&self.recorded_at).ok()?,
            prev_hash: self.prev_hash.as_slice().try_into().ok()?,
            hash: self.hash.as_slice().try_into().ok()?,
        })
    }

    fn decode(self) -> Result<RecordedEvent, StoreError> {
        let position = self.global_position;
        let corrupt = |reason: String| StoreError::Corrupt { position, reason };
        Ok(RecordedEvent {
            global_position: position,
            transaction_id: self.transaction_id,
            stream_id: StreamId(self.stream_id),
            stream_version: u64::try_from(self.stream_version)
                .map_err(|_| corrupt("negative version".into()))?,
            event_id: Uuid::parse_str(&self.event_id).map_err(|e| corrupt(e.to_string()))?,
            event_type: self.event_type,
            schema_version: u32::try_from(self.schema_version)
                .map_err(|_| corrupt("bad schema version".into()))?,
            payload: SealedPayload::from_stored(
                serde_json::from_str(&self.payload).map_err(|e| corrupt(e.to_string()))?,
            ),
            metadata: serde_json::from_str(&self.metadata).map_err(|e| corrupt(e.to_string()))?,
            recorded_at: parse_time(&self.recorded_at).map_err(|e| corrupt(e.to_string()))?,
            prev_hash: hash_from_bytes(position, &self.prev_hash)?,
            hash: hash_from_bytes(position, &self.hash)?,
        })
    }
}

fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, chrono::ParseError> {
    Ok(chrono::DateTime::parse_from_rfc3339(text)?.with_timezone(&chrono::Utc))
}

fn format_time(time: &chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

enum UniqueKey {
    EventId,
    StreamVersion,
}

fn unique_violation(error: &rusqlite::Error) -> Option<UniqueKey> {
    let rusqlite::Error::SqliteFailure(code, Some(message)) = error else {
        return None;
    };
    if code.extended_code != rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE {
        return None;
    }
    if message.contains("events.event_id") {
        Some(UniqueKey::EventId)
    } else if message.contains("events.stream_id") {
        Some(UniqueKey::StreamVersion)
    } else {
        None
    }
}

/// Maps a SQLite error; the append-only triggers' refusals become `AppendOnly`.
pub(crate) fn sql_error(error: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(code, Some(message)) = &error
        && code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        && let Some(key) = message
            .strip_prefix("UNIQUE constraint failed: ")
            .and_then(super::UniqueKey::of_columns)
    {
        return StoreError::Duplicate(key);
    }
    let message = error.to_string();
    if message.contains("events are append-only") {
        StoreError::AppendOnly(message)
    } else if matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    ) {
        StoreError::Unavailable(message)
    } else {
        StoreError::Database(message)
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
