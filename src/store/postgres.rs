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

use deadpool_postgres::{GenericClient, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures::TryStreamExt;
use tokio::sync::mpsc;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql, Type};
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

impl PostgresStore {
    /// [`EventStore::read_chain_rows`], reading a log of more than a few times `range_rows` events as
    /// ranges of about `range_rows` (see [`send_chain_rows`]).
    pub async fn read_chain_rows_in_ranges(
        &self,
        batch_size: usize,
        range_rows: usize,
    ) -> Result<ChainRows, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let pool = self.pool.clone();
        let (sender, receiver) = mpsc::channel(CHAIN_READ_AHEAD);
        let (batch_size, range_rows) = (batch_size.max(1), range_rows.max(1));
        tokio::spawn(async move {
            if let Err(error) = send_chain_rows(client, pool, batch_size, range_rows, &sender).await
            {
                // A closed channel means the reader has stopped and wants nothing more.
                let _ = sender.send(Err(error)).await;
            }
        });
        Ok(receiver)
    }
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
    /// Connects a pool of at most `max_connections` and applies pending migrations.
    pub async fn connect(url: &str, max_connections: usize) -> Result<Self, StoreError> {
        let mut config = deadpool_postgres::Config::new();
        config.url = Some(url.to_owned());
        config.manager = Some(ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        });
        let mut pool = deadpool_postgres::PoolConfig::new(max_connections.max(1));
        pool.timeouts = POOL_TIMEOUTS;
        config.pool = Some(pool);
        let pool = config
            .create_pool(Some(Runtime::Tokio1), NoTls)
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
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(db_error)?;
        let outcome = apply_migrations(&mut client).await;
        // Unlock whatever happened; a failed unlock ends with the session anyway.
        let _ = client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await;
        outcome
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
        self.read_chain_rows_in_ranges(batch_size, CHAIN_RANGE_ROWS)
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        client.simple_query("SELECT 1").await.map_err(db_error)?;
        Ok(())
    }
}

/// Rows of the log one ranged read of [`send_chain_rows`] aims at: a reader holds one range's rows
/// while the rows before them are consumed.
const CHAIN_RANGE_ROWS: usize = 8_192;
/// Connections that read the log's ranges in turn.
const CHAIN_READERS: usize = 2;

/// Streams the whole log in chain order to `sender`, in batches, from one snapshot.
///
/// One reading statement keeps one server process busy (finding, detoasting and sending rows) while
/// the hashing here waits for it, so a large log is read as ranges of streams by [`CHAIN_READERS`]
/// connections in turn, all in the snapshot the first one exports: while the rows of one range are
/// being hashed, the next range is read.
async fn send_chain_rows(
    mut client: deadpool_postgres::Client,
    pool: Pool,
    batch_size: usize,
    range_rows: usize,
    sender: &mpsc::Sender<Result<ChainBatch, StoreError>>,
) -> Result<(), StoreError> {
    let transaction = client.transaction().await.map_err(db_error)?;
    // Follow the (stream_id, stream_version) index: sorting the table first would hold back every
    // row until the whole log had been read and sorted.
    transaction
        .batch_execute(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL enable_sort = off",
        )
        .await
        .map_err(db_error)?;
    // The other readers take connections of their own: with a pool too small for them, one reads all.
    let bounds = if pool.status().max_size >= CHAIN_READERS {
        range_bounds(&transaction, range_rows).await?
    } else {
        Vec::new()
    };
    if bounds.is_empty() {
        let all = ChainRange {
            from: None,
            to: None,
        };
        return send_range(&transaction, &all, batch_size, sender).await;
    }
    let snapshot: String = transaction
        .query_one("SELECT pg_export_snapshot()", &[])
        .await
        .map_err(db_error)?
        .get(0);
    let mut ranges = Vec::with_capacity(bounds.len() + 1);
    let mut from = None;
    for bound in bounds {
        ranges.push(ChainRange {
            from: from.take(),
            to: Some(bound.clone()),
        });
        from = Some(bound);
    }
    ranges.push(ChainRange { from, to: None });

    // Reader r reads ranges r, r + READERS, ...; each range's batches end with `None`. A reader's
    // channel holds a whole range, so it reads the next one while the one before is consumed.
    let per_range = range_rows.div_ceil(batch_size) + 2;
    let ranges_of = |reader: usize| -> Vec<ChainRange> {
        ranges
            .iter()
            .skip(reader)
            .step_by(CHAIN_READERS)
            .cloned()
            .collect()
    };
    let (own_sender, own_receiver) = mpsc::channel(per_range);
    let mut outputs = vec![own_receiver];
    let mut helpers = Vec::new();
    for reader in 1..CHAIN_READERS {
        let (range_sender, range_receiver) = mpsc::channel(per_range);
        outputs.push(range_receiver);
        let mine = ranges_of(reader);
        let pool = pool.clone();
        let snapshot = snapshot.clone();
        helpers.push(tokio::spawn(async move {
            let read = async {
                let mut client = pool.get().await.map_err(pool_error)?;
                let transaction = client.transaction().await.map_err(db_error)?;
                transaction
                    .batch_execute(&format!(
                        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
                         SET TRANSACTION SNAPSHOT '{snapshot}'; SET LOCAL enable_sort = off"
                    ))
                    .await
                    .map_err(db_error)?;
                read_ranges(&transaction, &mine, batch_size, &range_sender).await
            };
            if let Err(error) = read.await {
                let _ = range_sender.send(Some(Err(error))).await;
            }
        }));
    }
    // This connection holds the exported snapshot (kept open to the end, so the other readers can
    // take it), and reads its own ranges here while the merge below forwards every range in order.
    let mine = ranges_of(0);
    let own = async {
        let own_sender = own_sender;
        if let Err(error) = read_ranges(&transaction, &mine, batch_size, &own_sender).await {
            let _ = own_sender.send(Some(Err(error))).await;
        }
    };
    let range_count = ranges.len();
    // Owns the readers' channels: once it ends, a reader with nobody left to read it stops.
    let merge = async move {
        for index in 0..range_count {
            let output = &mut outputs[index % CHAIN_READERS];
            loop {
                match output.recv().await {
                    Some(Some(Ok(batch))) => {
                        if sender.send(Ok(batch)).await.is_err() {
                            return Ok(());
                        }
                    }
                    Some(Some(Err(error))) => return Err(error),
                    Some(None) => break,
                    None => {
                        return Err(StoreError::Database(
                            "a reader of the log stopped before its range ended".to_owned(),
                        ));
                    }
                }
            }
        }
        Ok(())
    };
    let ((), merged) = tokio::join!(own, merge);
    for helper in helpers {
        helper.abort();
    }
    merged
}

/// A range of stream ids, `from` inclusive and `to` exclusive; `None` is open.
#[derive(Debug, Clone)]
struct ChainRange {
    from: Option<String>,
    to: Option<String>,
}

/// Stream ids that cut the log into ranges of about `range_rows` rows, from a sample of the table's
/// pages; none when the log is small enough for one statement.
async fn range_bounds(
    transaction: &deadpool_postgres::Transaction<'_>,
    range_rows: usize,
) -> Result<Vec<String>, StoreError> {
    let estimate: f64 = transaction
        .query_one(
            "SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = 'events'::regclass",
            &[],
        )
        .await
        .map_err(db_error)?
        .get(0);
    let ranges = (estimate / range_rows as f64).floor();
    if ranges < 4.0 {
        return Ok(Vec::new());
    }
    // About 20 sampled rows per range, at least one page in a thousand.
    let percent = (100.0 * 20.0 * ranges / estimate).clamp(0.1, 100.0);
    let sampled: Vec<String> = transaction
        .query(
            &format!(
                "SELECT stream_id FROM events TABLESAMPLE SYSTEM ({percent:.3}) ORDER BY stream_id"
            ),
            &[],
        )
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let step = (sampled.len() as f64 / ranges).max(1.0);
    let mut bounds: Vec<String> = (1..ranges as usize)
        .filter_map(|k| sampled.get((k as f64 * step) as usize).cloned())
        .collect();
    bounds.dedup();
    Ok(bounds)
}

/// Reads `ranges` in order, each as batches followed by `None`.
async fn read_ranges(
    transaction: &deadpool_postgres::Transaction<'_>,
    ranges: &[ChainRange],
    batch_size: usize,
    sender: &mpsc::Sender<Option<Result<ChainBatch, StoreError>>>,
) -> Result<(), StoreError> {
    for range in ranges {
        let (batches, mut batch_receiver) = mpsc::channel(1);
        let forward = async {
            while let Some(batch) = batch_receiver.recv().await {
                if sender.send(Some(batch)).await.is_err() {
                    return;
                }
            }
        };
        let (read, ()) = tokio::join!(
            async {
                let outcome = send_range(transaction, range, batch_size, &batches).await;
                drop(batches);
                outcome
            },
            forward
        );
        read?;
        if sender.send(None).await.is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// One range of the log in chain order, in batches of `batch_size` rows.
async fn send_range(
    transaction: &deadpool_postgres::Transaction<'_>,
    range: &ChainRange,
    batch_size: usize,
    sender: &mpsc::Sender<Result<ChainBatch, StoreError>>,
) -> Result<(), StoreError> {
    let from = range.from.as_deref().unwrap_or("");
    let rows = match &range.to {
        Some(to) => {
            let statement = transaction
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM events WHERE stream_id >= $1 AND stream_id < $2 \
                     ORDER BY stream_id, stream_version"
                ))
                .await
                .map_err(db_error)?;
            transaction
                .query_raw(&statement, [from, to.as_str()])
                .await
                .map_err(db_error)?
        }
        None => {
            let statement = transaction
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM events WHERE stream_id >= $1 \
                     ORDER BY stream_id, stream_version"
                ))
                .await
                .map_err(db_error)?;
            transaction
                .query_raw(&statement, [from])
                .await
                .map_err(db_error)?
        }
    };
    let mut rows = std::pin::pin!(rows);
    let mut batch = Vec::with_capacity(batch_size);
    while let Some(row) = rows.try_next().await.map_err(db_error)? {
        batch.push(row);
        if batch.len() == batch_size {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
            if sender.send(Ok(ChainBatch::Postgres(full))).await.is_err() {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let _ = sender.send(Ok(ChainBatch::Postgres(batch))).await;
    }
    Ok(())
}

/// A `json`/`jsonb` column as the text the server sent, undecoded.
struct JsonText<'a>(&'a str);

impl<'a> FromSql<'a> for JsonText<'a> {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        // Binary jsonb is a format version byte (1) and the JSON text.
        let text = if *ty == Type::JSONB {
            match raw.split_first() {
                Some((1, text)) => text,
                _ => return Err("unsupported jsonb format version".into()),
            }
        } else {
            raw
        };
        Ok(Self(std::str::from_utf8(text)?))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }
}

/// Rows of `SELECT {COLUMNS}`.
impl StoredRow for tokio_postgres::Row {
    fn fields(&self) -> Option<StoredFields<'_>> {
        // Every column `row_to_event` decodes is read here too, so a row it would refuse takes the
        // general route and fails there with the same error.
        self.try_get::<_, i64>(1).ok()?;
        let hash = |index: usize| -> Option<[u8; 32]> {
            self.try_get::<_, &[u8]>(index).ok()?.try_into().ok()
        };
        Some(StoredFields {
            global_position: self.try_get(0).ok()?,
            stream_id: self.try_get(2).ok()?,
            stream_version: u64::try_from(self.try_get::<_, i64>(3).ok()?).ok()?,
            event_id: self.try_get(4).ok()?,
            event_type: self.try_get(5).ok()?,
            schema_version: u32::try_from(self.try_get::<_, i32>(6).ok()?).ok()?,
            payload: self.try_get::<_, JsonText<'_>>(7).ok()?.0,
            metadata: self.try_get::<_, JsonText<'_>>(8).ok()?.0,
            recorded_at: self.try_get(9).ok()?,
            prev_hash: hash(10)?,
            hash: hash(11)?,
        })
    }

    fn decode(self) -> Result<RecordedEvent, StoreError> {
        row_to_event(&self)
    }
}

/// Appends on a given client or transaction, so other writes can share the append's transaction. The
/// append must be the transaction's first write (checked; see the module docs).
pub async fn append_with<C: GenericClient + Sync>(
    client: &C,
    request: &AppendRequest,
) -> Result<Vec<RecordedEvent>, StoreError> {
    validate(request)?;
    let stream = request.stream_id.as_str();
    let head_hash = if request.expected_version == 0 {
        GENESIS_HASH
    } else {
        let statement = client
            .prepare_cached(
                "SELECT hash, pg_current_xact_id_if_assigned() IS NULL \
                 FROM events WHERE stream_id = $1 AND stream_version = $2",
            )
            .await
            .map_err(db_error)?;
        let row = client
            .query_opt(&statement, &[&stream, &to_i64(request.expected_version)])
            .await
            .map_err(db_error)?;
        let Some(row) = row else {
            return Err(wrong_version(client, request).await);
        };
        let read_before_first_write: bool = row.get(1);
        if !read_before_first_write {
            return Err(StoreError::Database(
                "an append must be the first write of its transaction, so that its transaction \
                 id orders it after the event it chains from"
                    .to_owned(),
            ));
        }
        hash_from_bytes(0, row.get::<_, &[u8]>(0))?
    };

    let prepared = prepare(request, head_hash);
    let versions: Vec<i64> = prepared.iter().map(|p| to_i64(p.stream_version)).collect();
    let ids: Vec<Uuid> = prepared.iter().map(|p| p.event.event_id).collect();
    let types: Vec<&str> = prepared
        .iter()
        .map(|p| p.event.event_type.as_str())
        .collect();
    let schema_versions: Vec<i32> = prepared
        .iter()
        .map(|p| i32::try_from(p.event.schema_version).unwrap_or(i32::MAX))
        .collect();
    let payloads: Vec<&serde_json::Value> = prepared
        .iter()
        .map(|p| p.event.payload.as_value())
        .collect();
    let metadata: Vec<&serde_json::Value> = prepared.iter().map(|p| &p.metadata_json).collect();
    let recorded: Vec<chrono::DateTime<chrono::Utc>> =
        prepared.iter().map(|p| p.recorded_at).collect();
    let prev_hashes: Vec<&[u8]> = prepared.iter().map(|p| &p.prev_hash[..]).collect();
    let hashes: Vec<&[u8]> = prepared.iter().map(|p| &p.hash[..]).collect();

    let statement = client
        .prepare_cached(
            "INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, \
                                 payload, metadata, recorded_at, prev_hash, hash) \
             SELECT $1, * FROM UNNEST($2::bigint[], $3::uuid[], $4::text[], $5::int[], $6::json[], \
                                      $7::json[], $8::timestamptz[], $9::bytea[], $10::bytea[]) \
             RETURNING stream_version, global_position, transaction_id",
        )
        .await
        .map_err(db_error)?;
    let params: [&(dyn ToSql + Sync); 10] = [
        &stream,
        &versions,
        &ids,
        &types,
        &schema_versions,
        &payloads,
        &metadata,
        &recorded,
        &prev_hashes,
        &hashes,
    ];
    let rows = match client.query(&statement, &params).await {
        Ok(rows) => rows,
        Err(error) => {
            return Err(match constraint_of(&error) {
                Some("events_stream_version_key") => wrong_version(client, request).await,
                Some("events_event_id_key") => duplicate_id(&error, request),
                _ => db_error(error),
            });
        }
    };

    let mut recorded_events = Vec::with_capacity(prepared.len());
    for item in prepared {
        let version = to_i64(item.stream_version);
        let row = rows
            .iter()
            .find(|row| row.get::<_, i64>(0) == version)
            .ok_or_else(|| {
                StoreError::Database("the insert returned no row for an event".into())
            })?;
        recorded_events.push(RecordedEvent {
            global_position: row.get(1),
            transaction_id: row.get(2),
            stream_id: request.stream_id.clone(),
            stream_version: item.stream_version,
            event_id: item.event.event_id,
            event_type: item.event.event_type.clone(),
            schema_version: item.event.schema_version,
            payload: item.event.payload.clone(),
            metadata: item.event.metadata.clone(),
            recorded_at: item.recorded_at,
            prev_hash: item.prev_hash,
            hash: item.hash,
        });
    }
    Ok(recorded_events)
}

async fn wrong_version<C: GenericClient + Sync>(client: &C, request: &AppendRequest) -> StoreError {
    let actual = client
        .query_one(
            "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = $1",
            &[&request.stream_id.as_str()],
        )
        .await
        .map(|row| row.get::<_, i64>(0))
        .unwrap_or(-1);
    StoreError::WrongExpectedVersion {
        stream: request.stream_id.clone(),
        expected: request.expected_version,
        actual: u64::try_from(actual).unwrap_or(u64::MAX),
    }
}

fn duplicate_id(error: &tokio_postgres::Error, request: &AppendRequest) -> StoreError {
    let detail = error.as_db_error().and_then(|db| db.detail()).unwrap_or("");
    request
        .events
        .iter()
        .find(|event| detail.contains(&event.event_id.to_string()))
        .map(|event| StoreError::DuplicateEventId(event.event_id))
        .unwrap_or_else(|| StoreError::Database(describe(error)))
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

/// Appends the first events of many new streams in one statement, for bulk loading (`esign-bench
/// seed`). Every request must expect version 0; a stream that already exists fails the whole call with
/// [`StoreError::WrongExpectedVersion`]. The chains are computed by the same [`prepare`] as
/// [`append_with`]. Like it, this must be the first write of its transaction. Returns each request's
/// recorded events, in request order.
pub async fn append_new_streams_with<C: GenericClient + Sync>(
    client: &C,
    requests: &[AppendRequest],
) -> Result<Vec<Vec<RecordedEvent>>, StoreError> {
    let mut prepared = Vec::with_capacity(requests.len());
    for request in requests {
        validate(request)?;
        if request.expected_version != 0 {
            return Err(StoreError::Database(format!(
                "a bulk append only starts new streams; {} expects version {}",
                request.stream_id, request.expected_version
            )));
        }
        prepared.push(prepare(request, GENESIS_HASH));
    }
    let total: usize = prepared.iter().map(Vec::len).sum();
    let mut streams: Vec<&str> = Vec::with_capacity(total);
    let mut versions: Vec<i64> = Vec::with_capacity(total);
    let mut ids: Vec<Uuid> = Vec::with_capacity(total);
    let mut types: Vec<&str> = Vec::with_capacity(total);
    let mut schema_versions: Vec<i32> = Vec::with_capacity(total);
    let mut payloads: Vec<&serde_json::Value> = Vec::with_capacity(total);
    let mut metadata: Vec<&serde_json::Value> = Vec::with_capacity(total);
    let mut recorded: Vec<chrono::DateTime<chrono::Utc>> = Vec::with_capacity(total);
    let mut prev_hashes: Vec<&[u8]> = Vec::with_capacity(total);
    let mut hashes: Vec<&[u8]> = Vec::with_capacity(total);
    for (request, events) in requests.iter().zip(&prepared) {
        for item in events {
            streams.push(request.stream_id.as_str());
            versions.push(to_i64(item.stream_version));
            ids.push(item.event.event_id);
            types.push(item.event.event_type.as_str());
            schema_versions.push(i32::try_from(item.event.schema_version).unwrap_or(i32::MAX));
            payloads.push(item.event.payload.as_value());
            metadata.push(&item.metadata_json);
            recorded.push(item.recorded_at);
            prev_hashes.push(&item.prev_hash[..]);
            hashes.push(&item.hash[..]);
        }
    }
    let statement = client
        .prepare_cached(
            "INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, \
                                 payload, metadata, recorded_at, prev_hash, hash) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::int[], \
                                  $6::json[], $7::json[], $8::timestamptz[], $9::bytea[], $10::bytea[]) \
             RETURNING stream_id, stream_version, global_position, transaction_id",
        )
        .await
        .map_err(db_error)?;
    let params: [&(dyn ToSql + Sync); 10] = [
        &streams,
        &versions,
        &ids,
        &types,
        &schema_versions,
        &payloads,
        &metadata,
        &recorded,
        &prev_hashes,
        &hashes,
    ];
    let rows =
        client
            .query(&statement, &params)
            .await
            .map_err(|error| match constraint_of(&error) {
                Some("events_stream_version_key") => StoreError::WrongExpectedVersion {
                    stream: requests[0].stream_id.clone(),
                    expected: 0,
                    actual: 0,
                },
                _ => db_error(error),
            })?;
    if rows.len() != total {
        return Err(StoreError::Database(format!(
            "the bulk insert returned {} rows for {total} events",
            rows.len()
        )));
    }
    let mut positions: std::collections::HashMap<(String, i64), (i64, i64)> = rows
        .iter()
        .map(|row| {
            Ok((
                (row.try_get(0)?, row.try_get(1)?),
                (row.try_get(2)?, row.try_get(3)?),
            ))
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(db_error)?;
    let mut appended = Vec::with_capacity(requests.len());
    for (request, events) in requests.iter().zip(prepared) {
        let mut stream_events = Vec::with_capacity(events.len());
        for item in events {
            let key = (
                request.stream_id.as_str().to_owned(),
                to_i64(item.stream_version),
            );
            let (global_position, transaction_id) = positions.remove(&key).ok_or_else(|| {
                StoreError::Database("the bulk insert returned no row for an event".into())
            })?;
            stream_events.push(RecordedEvent {
                global_position,
                transaction_id,
                stream_id: request.stream_id.clone(),
                stream_version: item.stream_version,
                event_id: item.event.event_id,
                event_type: item.event.event_type.clone(),
                schema_version: item.event.schema_version,
                payload: item.event.payload.clone(),
                metadata: item.event.metadata.clone(),
                recorded_at: item.recorded_at,
                prev_hash: item.prev_hash,
                hash: item.hash,
            });
        }
        appended.push(stream_events);
    }
    Ok(appended)
}
