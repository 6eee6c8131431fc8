//! The command pipeline: load -> decide -> append -> inline projections, in one transaction.
//!
//! A command runs against the state folded from its stream. Its events are sealed (personal data
//! encrypted), appended at the version the state was read at, and the stream's query-table rows are
//! recomputed from all of its events and upserted in the same transaction. So a read right after a
//! write sees it, and rebuilding the tables from the log gives the same rows. If another command
//! appended to the stream meanwhile, the whole command runs again on the new state, a bounded number
//! of times.

use aggregates::Aggregate;
use aggregates::DomainEvent;
use projections::{ProjectedEvent, ProjectionError, Row};
use uuid::Uuid;

use crate::pii::{PiiCipher, PiiError};
use crate::store::rows;
use crate::store::{
    AppendRequest, EventMetadata, EventStore, NewEvent, RecordedEvent, Store, StoreError, StreamId,
};

/// How often a command is retried after losing a race for its stream's next version.
const MAX_ATTEMPTS: usize = 5;

/// An aggregate whose streams have query-table rows.
pub trait ReadModel: Aggregate
where
    Self::Event: Send + Sync + 'static,
{
    /// Every row the stream owns, from all of its events in order.
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError>;
}

impl ReadModel for aggregates::contract::ContractAggregate {
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError> {
        projections::contract_rows(events)
    }
}

impl ReadModel for aggregates::face_verification::FaceVerificationAggregate {
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError> {
        projections::verification_rows(events)
    }
}

impl ReadModel for aggregates::template::TemplateAggregate {
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError> {
        projections::template_rows(events)
    }
}

impl ReadModel for aggregates::sms_template::SmsTemplateAggregate {
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError> {
        projections::sms_template_rows(events)
    }
}

impl ReadModel for aggregates::sms_notice::SmsNoticeAggregate {
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError> {
        projections::sms_notice_rows(events)
    }
}

/// Rows outside the query tables that a command writes in its own transaction, so they commit (and
/// reach the disk) with its events: one commit per command instead of one per table. They are made
/// from the state after the command; short links, for example, need each signer's deadline.
#[async_trait::async_trait]
pub trait AttachedWrite: std::fmt::Debug + Send + Sync + 'static {
    fn write_sqlite(&self, connection: &rusqlite::Connection) -> Result<(), StoreError>;
    async fn write_postgres(
        &self,
        transaction: &deadpool_postgres::Transaction<'_>,
    ) -> Result<(), StoreError>;
}

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

/// Runs commands against the store.
#[derive(Debug, Clone)]
pub struct Pipeline {
    store: Store,
    pii: std::sync::Arc<PiiCipher>,
    /// Published events go to callbacks always, and to the broker under this subject prefix when
    /// one is configured.
    broker_subject_prefix: Option<std::sync::Arc<str>>,
    /// Woken after a command wrote outbox rows, so a dispatcher in this process delivers at once
    /// instead of at its next poll.
    outbox_written: std::sync::Arc<tokio::sync::Notify>,
}

impl Pipeline {
    pub fn new(store: Store, pii: std::sync::Arc<PiiCipher>) -> Self {
        Self {
            store,
            pii,
            broker_subject_prefix: None,
            outbox_written: std::sync::Arc::default(),
        }
    }

    /// Also publishes every event to the broker (NATS JetStream) through the outbox, on subjects
    /// `<subject_prefix>.<EventName>`.
    pub fn publishing_to_broker(mut self, subject_prefix: &str) -> Self {
        self.broker_subject_prefix = Some(std::sync::Arc::from(subject_prefix));
        self
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
        self.execute_attached::<A>(stream, metadata, command, |_| Ok(None))
            .await
    }

    /// [`Pipeline::execute`], also writing `attach(state after the command)` in the same
    /// transaction when the command appends events.
    pub async fn execute_attached<A>(
        &self,
        stream: &StreamId,
        metadata: &EventMetadata,
        command: impl Fn(&A::State) -> A::Command,
        attach: impl Fn(&A::State) -> Result<Option<Box<dyn AttachedWrite>>, String>,
    ) -> Result<Executed<A>, CommandError<A::Error>>
    where
        A: ReadModel,
        A::Event: Send + Sync + 'static,
        A::Error: 'static,
    {
        for _ in 0..MAX_ATTEMPTS {
            let loaded = self.load::<A>(stream).await?;
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
                Err(CommandError::Store(StoreError::WrongExpectedVersion { .. })) => continue,
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
        attached: Option<Box<dyn AttachedWrite>>,
    ) -> Result<Vec<RecordedEvent>, CommandError<A::Error>>
    where
        A: ReadModel,
        A::Event: Send + Sync + 'static,
        A::Error: 'static,
    {
        match &self.store {
            Store::Sqlite(sqlite) => {
                let pii = std::sync::Arc::clone(&self.pii);
                let broker = self.broker_subject_prefix.clone();
                let outcome = sqlite
                    .write(move |connection| {
                        let appended = crate::store::sqlite::append_on(connection, &request)?;
                        let (rows, callbacks) = project_and_publish::<A>(
                            &prior,
                            &prior_events,
                            &appended,
                            &new_events,
                            &pii,
                            broker.as_deref(),
                        )
                        .map_err(|e| StoreError::Database(format!("projection failed: {e}")))?;
                        rows::upsert_sqlite(connection, &rows)?;
                        crate::outbox::insert_sqlite(connection, &callbacks)?;
                        if let Some(attached) = &attached {
                            attached.write_sqlite(connection)?;
                        }
                        Ok(appended)
                    })
                    .await?;
                Ok(outcome)
            }
            Store::Postgres(postgres) => {
                let mut client = postgres
                    .pool()
                    .get()
                    .await
                    .map_err(crate::store::postgres::pool_error)?;
                let transaction = client
                    .transaction()
                    .await
                    .map_err(crate::store::postgres::db_error)?;
                let appended = crate::store::postgres::append_with(&transaction, &request).await?;
                let (rows, callbacks) = project_and_publish::<A>(
                    &prior,
                    &prior_events,
                    &appended,
                    &new_events,
                    &self.pii,
                    self.broker_subject_prefix.as_deref(),
                )
                .map_err(CommandError::Projection)?;
                rows::upsert_postgres(&transaction, &rows).await?;
                crate::outbox::insert_postgres(&transaction, &callbacks).await?;
                if let Some(attached) = &attached {
                    attached.write_postgres(&transaction).await?;
                }
                transaction
                    .commit()
                    .await
                    .map_err(crate::store::postgres::db_error)?;
                Ok(appended)
            }
        }
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
) -> Result<(Vec<Row>, Vec<crate::outbox::OutboxEntry>), String>
where
    A: ReadModel,
    A::Event: Send + Sync + 'static,
{
    let before = project::<A>(prior, prior_events, &[], &[]).map_err(|e| e.to_string())?;
    let after =
        project::<A>(prior, prior_events, appended, new_events).map_err(|e| e.to_string())?;
    let publications = projections::published(&before, &after);
    let callbacks =
        crate::outbox::entries(&publications, &after, appended, pii, broker_subject_prefix)
            .map_err(|e| e.to_string())?;
    Ok((after, callbacks))
}

/// The stream's rows from its stored events and their decoded forms, old and new.
pub fn project<A>(
    prior: &[RecordedEvent],
    prior_events: &[A::Event],
    appended: &[RecordedEvent],
    new_events: &[A::Event],
) -> Result<Vec<Row>, ProjectionError>
where
    A: ReadModel,
    A::Event: Send + Sync + 'static,
{
    let projected: Vec<ProjectedEvent<'_, A::Event>> = prior
        .iter()
        .zip(prior_events)
        .chain(appended.iter().zip(new_events))
        .map(|(recorded, event)| ProjectedEvent {
            event,
            sealed_payload: recorded.payload.as_value(),
            global_position: recorded.global_position,
            stream_version: recorded.stream_version,
            recorded_at: recorded.recorded_at,
        })
        .collect();
    A::rows(&projected)
}
