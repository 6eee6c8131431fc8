//! Request nonces: each one is accepted once per client while its request's timestamp is in the window.
//!
//! A nonce is kept until its request could no longer pass the timestamp check (timestamp + window);
//! after that the timestamp check alone refuses a replay, so the row is dead weight and is purged.
//! On PostgreSQL the table is `UNLOGGED` (see `docs/request-signing.md` for that trade-off).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

use crate::store::{Store, StoreError, postgres, sqlite};

/// Fresh nonces between two opportunistic purges of expired rows.
const PURGE_EVERY: u64 = 512;

/// The `api_nonces` table of either backend.
#[derive(Debug, Clone)]
pub struct NonceStore {
    store: Store,
    inserted: Arc<AtomicU64>,
}

impl NonceStore {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            inserted: Arc::new(AtomicU64::new(0)),
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
            Store::Sqlite(store) => {
                let (client_id, nonce) = (client_id.to_owned(), nonce.to_owned());
                let expires_at = expires_at.timestamp();
                store
                    .write(move |connection| {
                        connection
                            .execute(
                                "INSERT INTO api_nonces (client_id, nonce, expires_at) \
                                 VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                                rusqlite::params![client_id, nonce, expires_at],
                            )
                            .map(|inserted| inserted == 1)
                            .map_err(sqlite::sql_error)
                    })
                    .await?
            }
            Store::Postgres(store) => {
                let client = store.pool().get().await.map_err(postgres::pool_error)?;
                client
                    .execute(
                        "INSERT INTO api_nonces (client_id, nonce, expires_at) \
                         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                        &[&client_id, &nonce, &expires_at],
                    )
                    .await
                    .map(|inserted| inserted == 1)
                    .map_err(postgres::db_error)?
            }
        };
        if fresh && self.inserted.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1 {
            self.purge_in_background();
        }
        Ok(fresh)
    }

    /// Deletes the nonces whose window ended before `now`; returns how many went.
    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        match &self.store {
            Store::Sqlite(store) => {
                let now = now.timestamp();
                store
                    .write(move |connection| {
                        connection
                            .execute("DELETE FROM api_nonces WHERE expires_at < ?1", [now])
                            .map(|deleted| deleted as u64)
                            .map_err(sqlite::sql_error)
                    })
                    .await
            }
            Store::Postgres(store) => {
                let client = store.pool().get().await.map_err(postgres::pool_error)?;
                client
                    .execute("DELETE FROM api_nonces WHERE expires_at < $1", &[&now])
                    .await
                    .map_err(postgres::db_error)
            }
        }
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
