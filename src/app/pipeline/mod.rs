//! The command pipeline: load -> decide -> append -> inline projections, in one transaction.
//!
//! A command runs against the state folded from its stream. Its events are sealed (personal data
//! encrypted), appended at the version the state was read at, and the stream's query-table rows are
//! recomputed from all of its events and upserted in the same transaction. So a read right after a
//! write sees it, and rebuilding the tables from the log gives the same rows. If another command
//! appended to the stream meanwhile, the whole command runs again on the new state, a bounded number
//! of times.
//!
//! [`WriteMode::PlainCrudBench`] exists only to measure what the log costs: contract commands then
//! write their query-table rows alone (see its documentation).

pub mod outbox;

use aggregates::Aggregate;
use aggregates::DomainEvent;
use chrono::SubsecRound as _;
use projections::Row;

pub use crate::read::models::{ReadModel, project};
use uuid::Uuid;

use crate::pii::{PiiCipher, PiiError};
use crate::store::commands::{Attached, CommandWrites, CommitError};
use crate::store::outbox::OutboxEntry;
use crate::store::{
    AppendRequest, EventMetadata, EventStore, NewEvent, RecordedEvent, Store, StoreError, StreamId,
};

/// How often a command is retried after losing a race for its stream's next version.
const MAX_ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Domain(E),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("personal data: {0}")]
    Pii(#[from] PiiError),
    #[error("the event at position {position} cannot be decoded: {reason}")]
    Decode { position: i64, reason: String },
    #[error("the new {event_type} event cannot be serialised: {reason}")]
    Encode {
        event_type: &'static str,
        reason: String,
    },
    #[error("projection failed: {0}")]
    Projection(String),
    #[error("cannot prepare the rows written with the command: {0}")]
    Attach(String),
    #[error("stream {0} kept changing; gave up after {MAX_ATTEMPTS} attempts")]
    Contended(StreamId),
}

/// What a command assumes of its stream before reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Read the stream and decide on what is stored.
    Any,
    /// Decide on the empty state; the append at version 0 checks it.
    New,
}

/// A stream loaded and folded.
#[derive(Debug)]
pub struct Loaded<A: Aggregate> {
    pub state: A::State,
    pub version: u64,
    pub recorded: Vec<RecordedEvent>,
    pub events: Vec<A::Event>,
}

/// What a command did.
#[derive(Debug)]
pub struct Executed<A: Aggregate> {
    /// The state after the command.
    pub state: A::State,
    /// The events this command appended (empty when it changed nothing).
    pub appended: Vec<RecordedEvent>,
    pub version: u64,
}

/// How commands are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// Events appended to the hash-chained log, their rows and outbox entries in the same transaction.
    #[default]
    EventSourced,
    /// A benchmark baseline, never for real use (`esign serve --bench-plain-crud`): a contract command
    /// skips the log and writes only the rows the same projection computes, in one transaction. No
    /// event, no hash chain, no outbox, so no audit trail and no callbacks. Only initiate and the reads
    /// work: any later command on such a contract finds no events and fails as for an unknown contract.
    /// Other streams (templates, which initiate reads from the log) are still recorded as events.
    PlainCrudBench,
}

/// Runs commands against the store.
#[derive(Debug, Clone)]
pub struct Pipeline {
    store: Store,
    pii: std::sync::Arc<PiiCipher>,
    write_mode: WriteMode,
    /// The positions given to the stand-in events of [`WriteMode::PlainCrudBench`] (row ids derive
    /// from them).
    plain_positions: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// Published events go to callbacks always, and to the broker under this subject prefix when
    /// one is configured.
    broker_subject_prefix: Option<std::sync::Arc<str>>,
    /// Woken after a command wrote outbox rows, so a dispatcher in this process delivers at once
    /// instead of at its next poll.
    outbox_written: std::sync::Arc<tokio::sync::Notify>,
    /// Folded states of streams read far more often than written (templates), for
    /// [`Pipeline::load_state`].
    states: std::sync::Arc<StateCache>,
}

/// Folded stream states with the version each folds up to. Events never change, so a cached state is
/// never wrong, only possibly behind: a load reads the events after its version and folds them on.
#[derive(Debug, Default)]
struct StateCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, CachedState>>,
}

/// The version a state folds up to, and the state (of the aggregate the stream belongs to).
type CachedState = (u64, std::sync::Arc<dyn std::any::Any + Send + Sync>);

/// Streams the state cache holds before it starts again empty (templates are few).
const STATE_CACHE_STREAMS: usize = 4_096;

impl StateCache {
    fn get<S: Send + Sync + 'static>(&self, stream: &str) -> Option<(u64, std::sync::Arc<S>)> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (version, state) = entries.get(stream)?;
        let state = std::sync::Arc::clone(state).downcast::<S>().ok()?;
        Some((*version, state))
    }

    fn put<S: Send + Sync + 'static>(&self, stream: &str, version: u64, state: std::sync::Arc<S>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries
            .get(stream)
            .is_some_and(|(cached, _)| *cached >= version)
        {
            return;
        }
        if entries.len() >= STATE_CACHE_STREAMS && !entries.contains_key(stream) {
            entries.clear();
        }
        entries.insert(stream.to_owned(), (version, state));
    }
}

impl Pipeline {
    pub fn new(store: Store, pii: std::sync::Arc<PiiCipher>) -> Self {
        Self {
            store,
            pii,
            write_mode: WriteMode::EventSourced,
            plain_positions: std::sync::Arc::default(),
            broker_subject_prefix: None,
            outbox_written: std::sync::Arc::default(),
            states: std::sync::Arc::default(),
        }
    }

    /// Also publishes every event to the broker (NATS JetStream) through the outbox, on subjects
    /// `<subject_prefix>.<EventName>`.
    pub fn publishing_to_broker(mut self, subject_prefix: &str) -> Self {
        self.broker_subject_prefix = Some(std::sync::Arc::from(subject_prefix));
        self
    }

    /// Writes contract commands as `mode` says.
    pub fn with_write_mode(mut self, mode: WriteMode) -> Self {
        self.write_mode = mode;
        // Row ids come from event positions; stand-ins start at the clock in microseconds, far above
        // any real position and above the previous run's (row id = position * 1000 + n still fits).
        let start = chrono::Utc::now().timestamp_micros();
        self.plain_positions = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(start));
        self
    }

    pub fn write_mode(&self) -> WriteMode {
        self.write_mode
    }

    /// Whether commands on `A`'s streams skip the log.
    fn writes_plain<A: Aggregate>(&self) -> bool {
        self.write_mode == WriteMode::PlainCrudBench
            && A::NAME == aggregates::contract::ContractAggregate::NAME
    }

    /// Notified each time a command commits outbox rows.
    pub fn outbox_written(&self) -> std::sync::Arc<tokio::sync::Notify> {
        std::sync::Arc::clone(&self.outbox_written)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Reads and folds a stream.
    pub async fn load<A>(&self, stream: &StreamId) -> Result<Loaded<A>, CommandError<A::Error>>
    where
        A: Aggregate,
        A::Error: 'static,
    {
        let recorded = self.store.read_stream(stream, 0).await?;
        let mut events = Vec::with_capacity(recorded.len());
        for event in &recorded {
            events.push(self.decode::<A>(event)?);
        }
        let state = A::replay(events.iter());
        Ok(Loaded {
            state,
            version: recorded.len() as u64,
            recorded,
            events,
        })
    }

    /// A stream's current state, folded on from the state this pipeline last saw of it: only the events
    /// appended since are read and decoded. For streams that are read on every command of another
    /// (a contract's template) and rarely written.
    pub async fn load_state<A>(
        &self,
        stream: &StreamId,
    ) -> Result<std::sync::Arc<A::State>, CommandError<A::Error>>
    where
        A: Aggregate,
        A::State: Clone + Send + Sync + 'static,
        A::Error: 'static,
    {
        let cached = self.states.get::<A::State>(stream.as_str());
        let known = cached.as_ref().map_or(0, |(version, _)| *version);
        let recorded = self.store.read_stream(stream, known).await?;
        let follows_on = recorded
            .iter()
            .enumerate()
            .all(|(index, event)| event.stream_version == known + index as u64 + 1);
        let (version, state) = if !follows_on {
            // A gap after the cached version cannot happen in an append-only log; a full read
            // settles it all the same.
            let loaded = self.load::<A>(stream).await?;
            (loaded.version, loaded.state)
        } else {
            let mut state = match cached {
                Some((_, state)) if recorded.is_empty() => return Ok(state),
                Some((_, state)) => A::State::clone(&state),
                None => A::State::default(),
            };
            for event in &recorded {
                A::evolve(&mut state, &self.decode::<A>(event)?);
            }
            (known + recorded.len() as u64, state)
        };
        let state = std::sync::Arc::new(state);
        if version > 0 {
            self.states
                .put(stream.as_str(), version, std::sync::Arc::clone(&state));
        }
        Ok(state)
    }

    /// Runs `command(state)` on the stream: decide, append, project, in one transaction; retries on a
    /// lost race. A command that decides no events changes nothing and appends nothing.
    pub async fn execute<A>(
        &self,
        stream: &StreamId,
        metadata: &EventMetadata,
        command: impl Fn(&A::State) -> A::Command,
    ) -> Result<Executed<A>, CommandError<A::Error>>
    where
        A: ReadModel,
        A::Event: Send + Sync + 'static,
        A::Error: 'static,
    {
        self.execute_attached::<A>(stream, metadata, command, |_| Ok(Attached::Nothing))
            .await
    }

    /// [`Pipeline::execute`], also writing `attach(state after the command)` in the same
    /// transaction when the command appends events.
    pub async fn execute_attached<A>(
        &self,
        stream: &StreamId,
        metadata: &EventMetadata,
        command: impl Fn(&A::State) -> A::Command,
        attach: impl Fn(&A::State) -> Result<Attached, String>,
    ) -> Result<Executed<A>, CommandError<A::Error>>
    where
        A: ReadModel,
        A::Event: Send + Sync + 'static,
        A::Error: 'static,
    {
        self.run::<A>(stream, metadata, command, attach, Expect::Any)
            .await
    }

    /// [`Pipeline::execute_attached`] on a stream the caller has just named (a fresh contract id): the
    /// command is decided on the empty state without reading the stream first. Should the stream
    /// exist after all, the append is refused at version 0 and the command runs again on what is
    /// stored, as after any lost race.
    pub async fn execute_new_attached<A>(
        &self,
        stream: &StreamId,
        metadata: &EventMetadata,
        command: impl Fn(&A::State) -> A::Command,
        attach: impl Fn(&A::State) -> Result<Attached, String>,
    ) -> Result<Executed<A>, CommandError<A::Error>>
    where
        A: ReadModel,
        A::Event: Send + Sync + 'static,
        A::Error: 'static,
    {
        self.run::<A>(stream, metadata, command, attach, Expect::New)
            .await
    }

    async fn run<A>(
        &self,
        stream: &StreamId,
        metadata: &EventMetadata,
        command: impl Fn(&A::State) -> A::Command,
        attach: impl Fn(&A::State) -> Result<Attached, String>,
        mut expect: Expect,
    ) -> Result<Executed<A>, CommandError<A::Error>>
    where
        A: ReadModel,
        A::Event: Send + Sync + 'static,
        A::Error: 'static,
    {
        for _ in 0..MAX_ATTEMPTS {
            // Plain CRUD reads nothing before a write; with no events the stream is always new.
            let loaded = if expect == Expect::New || self.writes_plain::<A>() {
                Loaded {
                    state: A::State::default(),
                    version: 0,
                    recorded: Vec::new(),
                    events: Vec::new(),
                }
            } else {
                self.load::<A>(stream).await?
            };
            let decided =
                A::decide(&loaded.state, command(&loaded.state)).map_err(CommandError::Domain)?;
            if decided.is_empty() {
                return Ok(Executed {
                    state: loaded.state,
                    appended: Vec::new(),
                    version: loaded.version,
                });
            }
            let mut new_events = Vec::with_capacity(decided.len());
            for event in &decided {
                let payload = serde_json::to_value(event).map_err(|e| CommandError::Encode {
                    event_type: event.event_type(),
                    reason: e.to_string(),
                })?;
                new_events.push(NewEvent {
                    event_id: Uuid::now_v7(),
                    event_type: event.event_type().to_owned(),
                    schema_version: event.schema_version(),
                    payload: self.pii.seal(payload)?,
                    metadata: metadata.clone(),
                });
            }
            let mut state = loaded.state;
            for event in &decided {
                A::evolve(&mut state, event);
            }
            let attached = attach(&state).map_err(CommandError::Attach)?;
            let request = AppendRequest {
                stream_id: stream.clone(),
                expected_version: loaded.version,
                events: new_events,
            };
            match self
                .append_and_project::<A>(request, loaded.recorded, loaded.events, decided, attached)
                .await
            {
                Ok(appended) => {
                    // Cheap when nothing waits; a dispatcher that does may find nothing new.
                    self.outbox_written.notify_one();
                    return Ok(Executed {
                        state,
                        version: loaded.version + appended.len() as u64,
                        appended,
                    });
                }
                Err(CommandError::Store(StoreError::WrongExpectedVersion { .. })) => {
                    expect = Expect::Any;
                    continue;
                }
                Err(other) => return Err(other),
            }
        }
        Err(CommandError::Contended(stream.clone()))
    }

    fn decode<A: Aggregate>(
        &self,
        event: &RecordedEvent,
    ) -> Result<A::Event, CommandError<A::Error>>
    where
        A::Error: 'static,
    {
        let opened = self.pii.open(&event.payload)?;
        serde_json::from_value(opened).map_err(|e| CommandError::Decode {
            position: event.global_position,
            reason: e.to_string(),
        })
    }

    async fn append_and_project<A>(
        &self,
        request: AppendRequest,
        prior: Vec<RecordedEvent>,
        prior_events: Vec<A::Event>,
        new_events: Vec<A::Event>,
        attached: Attached,
    ) -> Result<Vec<RecordedEvent>, CommandError<A::Error>>
    where
        A: ReadModel,
        A::Event: Send + Sync + 'static,
        A::Error: 'static,
    {
        if self.writes_plain::<A>() {
            return self
                .project_without_log::<A>(request, new_events, attached)
                .await;
        }
        let pii = std::sync::Arc::clone(&self.pii);
        let broker = self.broker_subject_prefix.clone();
        self.store
            .commit(request, move |appended| {
                let (rows, outbox) = project_and_publish::<A>(
                    &prior,
                    &prior_events,
                    appended,
                    &new_events,
                    &pii,
                    broker.as_deref(),
                )?;
                Ok(CommandWrites {
                    rows,
                    outbox,
                    attached,
                })
            })
            .await
            .map_err(|error| match error {
                CommitError::Store(store) => CommandError::Store(store),
                CommitError::Derive(reason) => CommandError::Projection(reason),
            })
    }

    /// [`WriteMode::PlainCrudBench`]: the rows the projection computes from stand-in events, upserted
    /// in one transaction with the command's attached writes; nothing else is written.
    async fn project_without_log<A>(
        &self,
        request: AppendRequest,
        new_events: Vec<A::Event>,
        attached: Attached,
    ) -> Result<Vec<RecordedEvent>, CommandError<A::Error>>
    where
        A: ReadModel,
        A::Event: Send + Sync + 'static,
        A::Error: 'static,
    {
        let stand_ins = self.stand_in_events(request);
        let rows = project::<A>(&[], &[], &stand_ins, &new_events)
            .map_err(|e| CommandError::Projection(e.to_string()))?;
        self.store.write_rows(rows, attached).await?;
        Ok(stand_ins)
    }

    /// What the store would have recorded for `request`, without a hash chain: the projection needs
    /// only the payloads, versions, a position for row ids and the time.
    fn stand_in_events(&self, request: AppendRequest) -> Vec<RecordedEvent> {
        let recorded_at = chrono::Utc::now().trunc_subsecs(6);
        let count = request.events.len() as i64;
        let first = self
            .plain_positions
            .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
        request
            .events
            .into_iter()
            .zip(0..)
            .map(|(event, offset)| RecordedEvent {
                global_position: first + offset,
                transaction_id: 0,
                stream_id: request.stream_id.clone(),
                stream_version: request.expected_version + offset as u64 + 1,
                event_id: event.event_id,
                event_type: event.event_type,
                schema_version: event.schema_version,
                payload: event.payload,
                metadata: event.metadata,
                recorded_at,
                prev_hash: [0; 32],
                hash: [0; 32],
            })
            .collect()
    }
}

/// The stream's rows after the command, and the callbacks its change publishes (spec 2.2.1): the rows
/// before and after are compared, so only a real change of status is announced.
fn project_and_publish<A>(
    prior: &[RecordedEvent],
    prior_events: &[A::Event],
    appended: &[RecordedEvent],
    new_events: &[A::Event],
    pii: &PiiCipher,
    broker_subject_prefix: Option<&str>,
) -> Result<(Vec<Row>, Vec<OutboxEntry>), String>
where
    A: ReadModel,
    A::Event: Send + Sync + 'static,
{
    let before = project::<A>(prior, prior_events, &[], &[]).map_err(|e| e.to_string())?;
    let after =
        project::<A>(prior, prior_events, appended, new_events).map_err(|e| e.to_string())?;
    let publications = projections::published(&before, &after);
    let callbacks = crate::app::pipeline::outbox::entries(
        &publications,
        &after,
        appended,
        pii,
        broker_subject_prefix,
    )
    .map_err(|e| e.to_string())?;
    Ok((after, callbacks))
}
