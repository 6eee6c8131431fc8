//! The event store: an append-only, hash-chained log of every fact, on SQLite or PostgreSQL.
//!
//! # Layout
//!
//! - [`EventStore`]: the one trait both backends implement, and [`Store`], the configured backend:
//!   the one place that dispatches to a backend. Nothing outside this folder names one.
//! - [`sqlite`]: the embedded default (rusqlite, one writer thread committing in groups).
//! - [`postgres`]: production (tokio-postgres + deadpool, commit order fenced with `xid8`).
//! - [`chain`]: the per-stream SHA-256 chain and its verification; [`canonical`]: the canonical
//!   JSON the chain hashes.
//! - [`commands`]: a command's writes (events, rows, outbox) in one transaction.
//! - `sql`: statements written once for both backends, and the session that runs them.
//! - [`query_tables`]: the named reads of the query tables ([`revocations`]: the CA's revoked
//!   serials; [`seals`]: organisations and their seals); [`rows`]: their upserts;
//!   [`rebuild`]: the shadow tables a rebuild fills and swaps in.
//! - [`outbox`], [`scheduler`], [`advisory`]: the work queues of delivery and the background sweeps,
//!   and the locks that let one instance run a sweep.
//! - [`clients`], [`nonces`], [`short_links`], [`merkle_log`]: the tables of the API clients,
//!   request nonces, short links and the Merkle log.
//! - [`migrations`]: the plain-SQL migrations of both backends and their runner.
//!
//! # Guarantees (both backends, proved by the contract suite in `tests/`)
//!
//! - An append names the version it expects the stream to be at; if another append got there first it
//!   fails with [`StoreError::WrongExpectedVersion`] and writes nothing. A batch is all or nothing.
//! - The database refuses UPDATE, DELETE and TRUNCATE on `events` (triggers), whoever asks.
//! - Every event carries `prev_hash` and `hash = SHA-256(prev_hash ‖ canonical event)`, per stream.
//! - [`EventStore::read_all`] pages through the whole log in *commit-safe order*: a reader that resumes
//!   from its last [`Checkpoint`] never skips an event, even one whose transaction commits late.

pub mod advisory;
pub mod canonical;
pub mod chain;
pub mod clients;
pub mod commands;
pub mod merkle_log;
pub mod migrations;
pub mod nonces;
pub mod outbox;
pub mod postgres;
pub mod query_tables;
pub mod rebuild;
pub mod revocations;
pub mod rows;
pub mod scheduler;
pub mod seals;
pub mod short_links;
pub(crate) mod sql;
pub mod sqlite;

use std::fmt;
use std::future::Future;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::pii::SealedPayload;

pub use chain::{ChainBreak, ChainReport};

/// A stream's id: `<aggregate>-<id>`, e.g. `contract-CONTRACT_202310270001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(String);

impl StreamId {
    /// The stream of aggregate `kind` (its `Aggregate::NAME`) with id `id`.
    pub fn new(kind: &str, id: &str) -> Self {
        Self(format!("{kind}-{id}"))
    }

    /// Accepts an already composed stream id, as typed by an operator.
    pub fn parse(raw: &str) -> Result<Self, StoreError> {
        let valid = !raw.is_empty()
            && raw.len() <= 200
            && raw.contains('-')
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(StoreError::InvalidStreamId(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The aggregate's own id: what follows the kind (`CONTRACT_...` of `contract-CONTRACT_...`).
    pub fn id(&self) -> &str {
        self.0.split_once('-').map_or(self.0.as_str(), |(_, id)| id)
    }

    /// The aggregate kind (`contract` of `contract-CONTRACT_...`).
    pub fn kind(&self) -> &str {
        self.0.split_once('-').map_or("", |(kind, _)| kind)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who did what, from where: stored beside every event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventMetadata {
    /// The acting party: `client:<id>`, `signer:<partyId>`, `provider:<name>`, `system:<job>`, `operator:<name>`.
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
}

/// An event ready to append: its payload is already sealed (personal data encrypted).
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u32,
    pub payload: SealedPayload,
    pub metadata: EventMetadata,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub global_position: i64,
    /// The writing transaction's id; with `global_position` it forms the event's [`Checkpoint`].
    pub transaction_id: i64,
    pub stream_id: StreamId,
    pub stream_version: u64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u32,
    pub payload: SealedPayload,
    pub metadata: EventMetadata,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

impl RecordedEvent {
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            transaction_id: self.transaction_id,
            global_position: self.global_position,
        }
    }
}

/// A position in the commit-safe order of the whole log: `(transaction id, global position)`.
///
/// On PostgreSQL global positions are drawn before commit, so a later position can commit first; the
/// writing transaction's id orders events the way a reader is allowed to see them (see
/// [`postgres`]). On SQLite writes are serial and the transaction id is a counter.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub transaction_id: i64,
    pub global_position: i64,
}

impl Checkpoint {
    /// Before the first event.
    pub const START: Checkpoint = Checkpoint {
        transaction_id: 0,
        global_position: 0,
    };
}

/// The cursor of [`EventStore::read_chain`]: the last `(stream, version)` read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainCursor {
    pub stream_id: StreamId,
    pub stream_version: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("stream {stream} is at version {actual}, not the expected {expected}")]
    WrongExpectedVersion {
        stream: StreamId,
        expected: u64,
        actual: u64,
    },
    #[error("an event with id {0} is already stored")]
    DuplicateEventId(Uuid),
    /// A row was refused by one of the service's unique keys.
    #[error("a row with the same {0} is already stored")]
    Duplicate(UniqueKey),
    #[error("an append must carry at least one event")]
    EmptyAppend,
    #[error("{0:?} is not a valid stream id")]
    InvalidStreamId(String),
    #[error("the events table is append-only: {0}")]
    AppendOnly(String),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("the database failed: {0}")]
    Database(String),
    #[error("a stored event is unreadable at position {position}: {reason}")]
    Corrupt { position: i64, reason: String },
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("unsupported database url {0:?}: use sqlite://<path> or postgres://...")]
    UnsupportedUrl(String),
}

/// The unique keys a write of the service can run into, by what they mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueKey {
    /// `(client_id, biz_id, biz_type)` of a contract, face verification or SMS notice: one per
    /// business id and type.
    BusinessId(projections::Table),
}

impl fmt::Display for UniqueKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BusinessId(table) => write!(f, "business id and type in {}", table.name()),
        }
    }
}

impl UniqueKey {
    /// The key a PostgreSQL constraint enforces (`<table>_uk_biz_id_type`).
    fn of_constraint(constraint: &str) -> Option<Self> {
        projections::Table::ALL
            .into_iter()
            .find(|table| constraint.strip_suffix("_uk_biz_id_type") == Some(table.name()))
            .map(Self::BusinessId)
    }

    /// The key of the columns SQLite names (`contract.client_id, contract.biz_id, ...`).
    fn of_columns(columns: &str) -> Option<Self> {
        let mut tables = columns
            .split(", ")
            .map(|column| column.split_once('.').map(|(table, _)| table));
        let first = tables.next()??;
        let business = columns
            .split(", ")
            .filter_map(|column| column.split_once('.').map(|(_, name)| name))
            .eq(["client_id", "biz_id", "biz_type"]);
        if !business || !tables.all(|table| table == Some(first)) {
            return None;
        }
        projections::Table::ALL
            .into_iter()
            .find(|table| table.name() == first)
            .map(Self::BusinessId)
    }
}

/// One append: events for one stream, which must be at `expected_version` (0 = the stream is new).
#[derive(Debug, Clone)]
pub struct AppendRequest {
    pub stream_id: StreamId,
    pub expected_version: u64,
    pub events: Vec<NewEvent>,
}

/// The contract both backends honour. See the module docs for the guarantees.
pub trait EventStore: Send + Sync {
    /// Appends events to one stream, all or nothing, computing their hash chain.
    fn append(
        &self,
        request: AppendRequest,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// The events of one stream with version > `after_version`, in version order.
    fn read_stream(
        &self,
        stream_id: &StreamId,
        after_version: u64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// Up to `limit` events after `after` in commit-safe order. Only events whose position can no longer
    /// be overtaken by a late commit are returned, so resuming from the last one's checkpoint is safe.
    fn read_all(
        &self,
        after: Checkpoint,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// Up to `limit` events ordered by `(stream id, version)` after `after`: the order chain
    /// verification walks in.
    fn read_chain(
        &self,
        after: Option<ChainCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// Every event in `(stream id, version)` order, as batches of about `batch_size` rows for chain
    /// verification, read in the background (from one snapshot) while the caller works on earlier
    /// batches. The channel closes at the end of the log; dropping it stops the read.
    fn read_chain_rows(
        &self,
        batch_size: usize,
    ) -> impl Future<Output = Result<ChainRows, StoreError>> + Send;

    /// Checks that the database answers.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Rows of the log in chain order, as a backend reads them (see [`chain::StoredRow`]).
#[derive(Debug)]
pub enum ChainBatch {
    Postgres(Vec<tokio_postgres::Row>),
    Sqlite(Vec<Result<sqlite::ChainRow, StoreError>>),
}

/// The batches of [`EventStore::read_chain_rows`]; a failed read ends with its error.
pub type ChainRows = tokio::sync::mpsc::Receiver<Result<ChainBatch, StoreError>>;

/// Batches a background read of the log may run ahead of its consumer.
const CHAIN_READ_AHEAD: usize = 4;

/// `[database]`: where the event store and the query tables live.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://<path>` or `postgres://...`.
    pub url: String,
    /// PostgreSQL pool size.
    pub max_connections: usize,
    /// PostgreSQL: the longest one statement of the service may run, and the longest a transaction
    /// may sit idle, before the server ends it (0: no limit).
    pub statement_timeout_ms: u64,
    /// PostgreSQL: how long a connection may go without an answer from the network (connecting,
    /// unacknowledged data, keepalive probes) before it is dropped as dead.
    pub network_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/esign.db".to_owned(),
            max_connections: 16,
            statement_timeout_ms: 15_000,
            network_timeout_ms: 10_000,
        }
    }
}

impl DatabaseConfig {
    pub fn check(&self) -> Result<(), String> {
        if self.max_connections == 0 {
            return Err("database.max_connections must be at least 1".into());
        }
        if !(1_000..=300_000).contains(&self.network_timeout_ms) {
            return Err("database.network_timeout_ms must be between 1000 and 300000".into());
        }
        Ok(())
    }

    /// The limits the service's connections run with.
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            statement: (self.statement_timeout_ms > 0)
                .then(|| std::time::Duration::from_millis(self.statement_timeout_ms)),
            network: std::time::Duration::from_millis(self.network_timeout_ms),
        }
    }
}

/// How long a PostgreSQL connection waits (docs/storage.md, "Timeouts"). A silent network
/// partition would otherwise leave a query waiting for TCP's own timeout, many minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `statement_timeout` and `idle_in_transaction_session_timeout` on the server.
    pub statement: Option<std::time::Duration>,
    /// Connecting, unacknowledged data (`TCP_USER_TIMEOUT`) and keepalive probes on the client.
    pub network: std::time::Duration,
}

impl Timeouts {
    /// Operator commands (migrate, rebuild, verify) may run statements longer than any request:
    /// only the network is bounded.
    pub const OPERATOR: Self = Self {
        statement: None,
        network: std::time::Duration::from_secs(10),
    };
}

/// The configured backend.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PostgresStore),
}

impl Store {
    /// Opens the store a database url names and applies pending migrations, with the limits of
    /// operator commands ([`Timeouts::OPERATOR`]).
    pub async fn open(url: &str, max_connections: usize) -> Result<Self, StoreError> {
        Self::open_with(url, max_connections, Timeouts::OPERATOR).await
    }

    /// Like [`Store::open`], PostgreSQL connections bounded by `timeouts`.
    pub async fn open_with(
        url: &str,
        max_connections: usize,
        timeouts: Timeouts,
    ) -> Result<Self, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(Self::Sqlite(sqlite::SqliteStore::open(path).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(
                postgres::PostgresStore::connect(url, max_connections, timeouts).await?,
            ))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

impl EventStore for Store {
    async fn append(&self, request: AppendRequest) -> Result<Vec<RecordedEvent>, StoreError> {
        match self {
            Self::Sqlite(store) => store.append(request).await,
            Self::Postgres(store) => store.append(request).await,
        }
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        match self {
            Self::Sqlite(store) => store.read_stream(stream_id, after_version).await,
            Self::Postgres(store) => store.read_stream(stream_id, after_version).await,
        }
    }

    async fn read_all(
        &self,
        after: Checkpoint,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        match self {
            Self::Sqlite(store) => store.read_all(after, limit).await,
            Self::Postgres(store) => store.read_all(after, limit).await,
        }
    }

    async fn read_chain(
        &self,
        after: Option<ChainCursor>,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        match self {
            Self::Sqlite(store) => store.read_chain(after, limit).await,
            Self::Postgres(store) => store.read_chain(after, limit).await,
        }
    }

    async fn read_chain_rows(&self, batch_size: usize) -> Result<ChainRows, StoreError> {
        match self {
            Self::Sqlite(store) => store.read_chain_rows(batch_size).await,
            Self::Postgres(store) => store.read_chain_rows(batch_size).await,
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(store) => store.ping().await,
            Self::Postgres(store) => store.ping().await,
        }
    }
}

/// The time an event is recorded at, cut to the microsecond both databases keep.
pub(crate) fn recorded_now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Checks an append request before any backend work.
pub(crate) fn validate(request: &AppendRequest) -> Result<(), StoreError> {
    if request.events.is_empty() {
        return Err(StoreError::EmptyAppend);
    }
    Ok(())
}

/// Hash chain fields for a batch, given the stream's current head hash.
pub(crate) struct PreparedEvent<'a> {
    pub event: &'a NewEvent,
    pub stream_version: u64,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
    pub metadata_json: serde_json::Value,
}

impl PreparedEvent<'_> {
    /// The event as the log recorded it, at the position the database gave it.
    pub(crate) fn recorded(
        &self,
        stream_id: &StreamId,
        global_position: i64,
        transaction_id: i64,
    ) -> RecordedEvent {
        RecordedEvent {
            global_position,
            transaction_id,
            stream_id: stream_id.clone(),
            stream_version: self.stream_version,
            event_id: self.event.event_id,
            event_type: self.event.event_type.clone(),
            schema_version: self.event.schema_version,
            payload: self.event.payload.clone(),
            metadata: self.event.metadata.clone(),
            recorded_at: self.recorded_at,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

pub(crate) fn prepare<'a>(
    request: &'a AppendRequest,
    head_hash: [u8; 32],
) -> Vec<PreparedEvent<'a>> {
    let recorded_at = recorded_now();
    let mut prev_hash = head_hash;
    request
        .events
        .iter()
        .enumerate()
        .map(|(offset, event)| {
            let stream_version = request.expected_version + offset as u64 + 1;
            let metadata_json = serde_json::to_value(&event.metadata).unwrap_or_default();
            let hash = chain::event_hash(
                &prev_hash,
                &chain::ChainedFields {
                    event_id: event.event_id,
                    stream_id: &request.stream_id,
                    stream_version,
                    event_type: &event.event_type,
                    schema_version: event.schema_version,
                    payload: event.payload.as_value(),
                    metadata: &metadata_json,
                    recorded_at,
                },
            );
            let prepared = PreparedEvent {
                event,
                stream_version,
                recorded_at,
                prev_hash,
                hash,
                metadata_json,
            };
            prev_hash = hash;
            prepared
        })
        .collect()
}

/// Parses a stored 32-byte hash column.
pub(crate) fn hash_from_bytes(position: i64, bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt {
        position,
        reason: format!("hash column holds {} bytes, not 32", bytes.len()),
    })
}

#[cfg(test)]
mod tests {
    use projections::Table;

    use super::UniqueKey;

    #[test]
    fn business_id_keys_are_recognised_by_their_constraint_or_their_columns() {
        assert_eq!(
            UniqueKey::of_constraint("contract_uk_biz_id_type"),
            Some(UniqueKey::BusinessId(Table::Contract))
        );
        assert_eq!(
            UniqueKey::of_columns("sms_notice.client_id, sms_notice.biz_id, sms_notice.biz_type"),
            Some(UniqueKey::BusinessId(Table::SmsNotice))
        );
        assert_eq!(UniqueKey::of_constraint("contract_uk_contract_id"), None);
        assert_eq!(UniqueKey::of_columns("contract.contract_id"), None);
        assert_eq!(
            UniqueKey::of_columns(
                "contract__rebuild.client_id, contract__rebuild.biz_id, contract__rebuild.biz_type"
            ),
            None
        );
    }
}
