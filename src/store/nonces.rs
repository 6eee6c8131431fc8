//! Request nonces: each one is accepted once per client while its request's timestamp is in the window.
//!
//! A nonce is kept until its request could no longer pass the timestamp check (timestamp + window);
//! after that the timestamp check alone refuses a replay, so the row is dead weight and is purged.
//! On PostgreSQL the table is `UNLOGGED` (see `docs/request-signing.md` for that trade-off), and the
//! nonces of concurrent requests are written together: while one statement is out, the nonces that
//! arrive queue up and go in the next one (see `NonceBatcher`). Every signed request records a
//! nonce, so this is a statement and a transaction per request saved under load.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::sql::Value;
use super::{Store, StoreError, postgres};

/// Fresh nonces between two opportunistic purges of expired rows.
const PURGE_EVERY: u64 = 512;

/// The `api_nonces` table of either backend.
#[derive(Debug, Clone)]
pub struct NonceStore {
    store: Store,
    inserted: Arc<AtomicU64>,
    /// Started on first use, inside the runtime (PostgreSQL only).
    batcher: Arc<OnceLock<NonceBatcher>>,
}

impl NonceStore {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            inserted: Arc::new(AtomicU64::new(0)),
            batcher: Arc::new(OnceLock::new()),
        }
    }

    /// Records `nonce` for `client_id` until `expires_at`. `true` when it was fresh; `false` when the
    /// client already used it (a replay). Concurrent uses of one nonce: exactly one sees `true`.
    pub async fn use_once(
        &self,
        client_id: &str,
        nonce: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let fresh = match &self.store {
            // Only PostgreSQL gathers concurrent nonces into one statement; SQLite's writer thread
            // already groups concurrent writes into one commit.
            Store::Postgres(store) => {
                self.batcher
                    .get_or_init(|| NonceBatcher::start(store.pool().clone()))
                    .use_once(client_id, nonce, expires_at)
                    .await?
            }
            Store::Sqlite(_) => {
                self.store
                    .write_one(
                        "INSERT INTO api_nonces (client_id, nonce, expires_at) \
                         VALUES ({1}, {2}, {3}) ON CONFLICT DO NOTHING",
                        vec![
                            client_id.into(),
                            nonce.into(),
                            expires_at.timestamp().into(),
                        ],
                    )
                    .await?
                    .count
                    == 1
            }
        };
        if fresh && self.inserted.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1 {
            self.purge_in_background();
        }
        Ok(fresh)
    }

    /// Deletes the nonces whose window ended before `now`; returns how many went.
    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        // PostgreSQL keeps `expires_at` as a timestamp, SQLite as Unix seconds.
        let expired_before = match &self.store {
            Store::Postgres(_) => Value::Time(now),
            Store::Sqlite(_) => Value::Int(now.timestamp()),
        };
        Ok(self
            .store
            .write_one(
                "DELETE FROM api_nonces WHERE expires_at < {1}",
                vec![expired_before],
            )
            .await?
            .count)
    }

    /// Purges expired nonces every `period` until the returned task is aborted (or the runtime stops).
    pub fn spawn_periodic_purge(&self, period: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let nonces = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = nonces.purge_expired(Utc::now()).await {
                    tracing::warn!(%error, "cannot purge expired request nonces");
                }
            }
        })
    }

    /// Purges without holding up the request that happened to trigger it.
    fn purge_in_background(&self) {
        let nonces = self.clone();
        tokio::spawn(async move {
            match nonces.purge_expired(Utc::now()).await {
                Ok(deleted) => tracing::debug!(deleted, "purged expired request nonces"),
                Err(error) => tracing::warn!(%error, "cannot purge expired request nonces"),
            }
        });
    }
}

/// Most nonces one statement carries.
const MAX_BATCH: usize = 256;
/// Statements in flight at once: enough to keep the pool busy, few enough that nonces gather.
const MAX_BATCHES_IN_FLIGHT: usize = 4;

/// One request's nonce, waiting for the statement that records it.
struct Claim {
    client_id: String,
    nonce: String,
    expires_at: DateTime<Utc>,
    fresh: oneshot::Sender<Result<bool, StoreError>>,
}

/// Writes the nonces of concurrent requests to PostgreSQL in one `INSERT ... ON CONFLICT DO NOTHING`
/// each: a claim is fresh when its row was inserted by the statement that carried it. At most
/// [`MAX_BATCHES_IN_FLIGHT`] statements run at once; claims that arrive meanwhile wait and go together,
/// so a lone request still costs one round trip and a burst costs a few.
#[derive(Debug)]
struct NonceBatcher {
    claims: mpsc::UnboundedSender<Claim>,
}

impl NonceBatcher {
    /// Spawns the task that writes the batches; it ends when the last [`NonceStore`] clone is dropped.
    fn start(pool: deadpool_postgres::Pool) -> Self {
        let (claims, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(pool, receiver));
        Self { claims }
    }

    async fn use_once(
        &self,
        client_id: &str,
        nonce: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (fresh, answer) = oneshot::channel();
        let claim = Claim {
            client_id: client_id.to_owned(),
            nonce: nonce.to_owned(),
            expires_at,
            fresh,
        };
        let stopped = || StoreError::Unavailable("the nonce writer has stopped".to_owned());
        self.claims.send(claim).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_batches(
    pool: deadpool_postgres::Pool,
    mut receiver: mpsc::UnboundedReceiver<Claim>,
) {
    let in_flight = Arc::new(Semaphore::new(MAX_BATCHES_IN_FLIGHT));
    loop {
        // Wait for a free slot first, so that claims arriving while every slot is busy gather.
        let Ok(slot) = Arc::clone(&in_flight).acquire_owned().await else {
            return;
        };
        let Some(first) = receiver.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(claim) => batch.push(claim),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            write_batch(&pool, batch).await;
            drop(slot);
        });
    }
}

/// Records one batch and tells each claim whether it was fresh. A nonce repeated inside the batch is
/// fresh for its first claim only, as if the claims had come one after another.
async fn write_batch(pool: &deadpool_postgres::Pool, batch: Vec<Claim>) {
    let mut seen = HashSet::with_capacity(batch.len());
    let firsts: Vec<bool> = batch
        .iter()
        .map(|claim| seen.insert((claim.client_id.as_str(), claim.nonce.as_str())))
        .collect();
    let inserted = insert_nonces(pool, &batch).await;
    for (claim, first) in batch.into_iter().zip(firsts) {
        let outcome = match &inserted {
            Ok(rows) => Ok(first && rows.contains(&(claim.client_id.clone(), claim.nonce.clone()))),
            Err(message) => Err(StoreError::Unavailable(message.clone())),
        };
        // A request that gave up waiting has nothing to be told.
        let _ = claim.fresh.send(outcome);
    }
}

/// The `(client, nonce)` pairs the statement inserted, or why it failed.
async fn insert_nonces(
    pool: &deadpool_postgres::Pool,
    batch: &[Claim],
) -> Result<HashSet<(String, String)>, String> {
    let client = pool
        .get()
        .await
        .map_err(|e| postgres::pool_error(e).to_string())?;
    let client_ids: Vec<&str> = batch.iter().map(|claim| claim.client_id.as_str()).collect();
    let nonces: Vec<&str> = batch.iter().map(|claim| claim.nonce.as_str()).collect();
    let expiries: Vec<DateTime<Utc>> = batch.iter().map(|claim| claim.expires_at).collect();
    let statement = client
        .prepare_cached(
            "INSERT INTO api_nonces (client_id, nonce, expires_at) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[]) \
             ON CONFLICT DO NOTHING RETURNING client_id, nonce",
        )
        .await
        .map_err(|e| postgres::db_error(e).to_string())?;
    let rows = client
        .query(&statement, &[&client_ids, &nonces, &expiries])
        .await
        .map_err(|e| postgres::db_error(e).to_string())?;
    Ok(rows
        .iter()
        .map(|row| (row.get::<_, String>(0), row.get::<_, String>(1)))
        .collect())
}
