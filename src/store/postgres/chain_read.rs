//! Reading the whole log in chain order for verification: ranges of streams read by several
//! connections in one exported snapshot, and the rows hashed without decoding their JSON.

use deadpool_postgres::Pool;
use futures::TryStreamExt;
use tokio::sync::mpsc;
use tokio_postgres::types::{FromSql, Type};

use super::{COLUMNS, PostgresStore, db_error, pool_error, row_to_event};
use crate::store::chain::{StoredFields, StoredRow};
use crate::store::{CHAIN_READ_AHEAD, ChainBatch, ChainRows, RecordedEvent, StoreError};

impl PostgresStore {
    /// [`crate::store::EventStore::read_chain_rows`], reading a log of more than a few times `range_rows` events as
    /// ranges of about `range_rows` (see `send_chain_rows`).
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

/// Rows of the log one ranged read of [`send_chain_rows`] aims at: a reader holds one range's rows
/// while the rows before them are consumed.
pub(super) const CHAIN_RANGE_ROWS: usize = 8_192;
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
