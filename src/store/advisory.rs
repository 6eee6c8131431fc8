//! Locks that let one instance at a time run a background sweep.
//!
//! On PostgreSQL a session advisory lock, not a row lock: a row lock would give the sweep's
//! transaction an id and hold back the event store's commit fence for the whole sweep. On SQLite
//! one process owns the file, so the lock is held in the process. Correctness never depends on the
//! lock: every change is a command at its stream's version; the lock only saves duplicate work.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::postgres::{db_error, pool_error};
use super::{Store, StoreError};

/// A held lock; give it back with [`AdvisoryLock::release`]. Dropped unreleased (a sweep task
/// aborted), the in-process lock is freed and a PostgreSQL session is closed rather than pooled.
#[derive(Debug)]
pub struct AdvisoryLock {
    key: i64,
    session: Option<Session>,
}

#[derive(Debug)]
enum Session {
    Postgres(Box<deadpool_postgres::Object>),
    /// Held in this process, for the SQLite file at this path.
    InProcess(PathBuf),
}

/// The (database file, key) pairs held in this process.
static HELD: Mutex<Vec<(PathBuf, i64)>> = Mutex::new(Vec::new());

fn held() -> MutexGuard<'static, Vec<(PathBuf, i64)>> {
    HELD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes the lock `key` when it is free; `None` when someone else holds it.
pub async fn try_lock(store: &Store, key: i64) -> Result<Option<AdvisoryLock>, StoreError> {
    match store {
        Store::Sqlite(sqlite) => {
            let entry = (sqlite.path().to_path_buf(), key);
            let mut held = held();
            if held.contains(&entry) {
                return Ok(None);
            }
            held.push(entry.clone());
            Ok(Some(AdvisoryLock {
                key,
                session: Some(Session::InProcess(entry.0)),
            }))
        }
        Store::Postgres(postgres) => {
            let client = postgres.pool().get().await.map_err(pool_error)?;
            let locked: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await
                .map_err(db_error)?
                .get(0);
            Ok(locked.then_some(AdvisoryLock {
                key,
                session: Some(Session::Postgres(Box::new(client))),
            }))
        }
    }
}

impl AdvisoryLock {
    /// Unlocks, so the pooled connection goes back without the lock.
    pub async fn release(mut self) {
        if !matches!(self.session, Some(Session::Postgres(_))) {
            // An in-process lock is freed by `drop`.
            return;
        }
        if let Some(Session::Postgres(client)) = self.session.take() {
            if let Err(error) = client
                .execute("SELECT pg_advisory_unlock($1)", &[&self.key])
                .await
            {
                tracing::warn!(%error, key = self.key, "cannot release an advisory lock; dropping the connection");
                let _ = deadpool_postgres::Object::take(*client);
            }
        }
    }
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        match self.session.take() {
            Some(Session::InProcess(path)) => {
                held().retain(|entry| *entry != (path.clone(), self.key))
            }
            // Never return a connection that may still hold the lock to the pool.
            Some(Session::Postgres(client)) => {
                let _ = deadpool_postgres::Object::take(*client);
            }
            None => {}
        }
    }
}
