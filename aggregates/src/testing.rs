//! Given / when / then for the aggregate tests: a history of events, one command, and what it decides.
//!
//! `given` folds stored events into a state through [`Aggregate::evolve`], exactly as a replay does, so
//! a test starts where the service would after loading the stream. `when` runs
//! [`Aggregate::decide`]; `then` asserts the events it produced or the error it refused with. A history
//! is usually easier to write as the commands that made it: [`history`] decides them in order and
//! returns their events, which then go to `given` like any other history.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};

use crate::certificate_revocation::{
    CertificateRevocationAggregate, RevocationCommand, RevocationEvent,
};
use crate::contract::{ContractAggregate, ContractCommand, ContractEvent};
use crate::face_verification::{FaceVerificationAggregate, VerificationCommand, VerificationEvent};
use crate::organization::{OrganizationAggregate, OrganizationCommand, OrganizationEvent};
use crate::seal::{SealAggregate, SealCommand, SealEvent};
use crate::sms_notice::{SmsNoticeAggregate, SmsNoticeCommand, SmsNoticeEvent};
use crate::sms_template::{SmsTemplateAggregate, SmsTemplateCommand, SmsTemplateEvent};
use crate::template::{TemplateAggregate, TemplateCommand, TemplateEvent};
use crate::{Aggregate, DomainEvent};

/// The aggregate a command or event type belongs to. An associated type cannot be traced back to
/// the aggregate that declares it, so without this every `given` and `when` would have to name one.
pub(crate) trait OfAggregate {
    type Aggregate: Aggregate;
}

/// Ties each aggregate's command and event types to it.
macro_rules! of_aggregate {
    ($($aggregate:ty: $command:ty, $event:ty;)*) => {$(
        impl OfAggregate for $command {
            type Aggregate = $aggregate;
        }

        impl OfAggregate for $event {
            type Aggregate = $aggregate;
        }
    )*};
}

of_aggregate! {
    ContractAggregate: ContractCommand, ContractEvent;
    FaceVerificationAggregate: VerificationCommand, VerificationEvent;
    TemplateAggregate: TemplateCommand, TemplateEvent;
    SmsTemplateAggregate: SmsTemplateCommand, SmsTemplateEvent;
    SmsNoticeAggregate: SmsNoticeCommand, SmsNoticeEvent;
    CertificateRevocationAggregate: RevocationCommand, RevocationEvent;
    OrganizationAggregate: OrganizationCommand, OrganizationEvent;
    SealAggregate: SealCommand, SealEvent;
}

type AggregateOf<T> = <T as OfAggregate>::Aggregate;
type StateOf<T> = <AggregateOf<T> as Aggregate>::State;
type EventOf<T> = <AggregateOf<T> as Aggregate>::Event;
type ErrorOf<T> = <AggregateOf<T> as Aggregate>::Error;

/// The state a stream holding these events is in.
pub(crate) fn given<E>(history: impl IntoIterator<Item = E>) -> StateOf<E>
where
    E: OfAggregate,
    AggregateOf<E>: Aggregate<Event = E>,
{
    let history: Vec<E> = history.into_iter().collect();
    AggregateOf::<E>::replay(&history)
}

/// What the aggregate decides for one command in the given state.
pub(crate) fn when<C>(state: &StateOf<C>, command: C) -> Result<Vec<EventOf<C>>, ErrorOf<C>>
where
    C: OfAggregate,
    AggregateOf<C>: Aggregate<Command = C>,
{
    AggregateOf::<C>::decide(state, command)
}

/// Asserts that a decision is exactly `expected`: these events in this order, or this error.
#[track_caller]
pub(crate) fn then<E, R>(decision: Result<Vec<E>, R>, expected: Result<Vec<E>, R>)
where
    E: PartialEq + fmt::Debug,
    R: PartialEq + fmt::Debug,
{
    assert_eq!(
        decision, expected,
        "the decision differs from the expected one"
    );
}

/// The events these commands produce, each decided in the state the ones before it left. Every
/// command must be accepted: a history is what happened, not what was attempted.
#[track_caller]
pub(crate) fn history<C>(commands: impl IntoIterator<Item = C>) -> Vec<EventOf<C>>
where
    C: OfAggregate + fmt::Debug,
    AggregateOf<C>: Aggregate<Command = C>,
{
    let mut state = StateOf::<C>::default();
    let mut events = Vec::new();
    for command in commands {
        let described = format!("{command:?}");
        let decided = AggregateOf::<C>::decide(&state, command)
            .unwrap_or_else(|error| panic!("{described} was refused: {error}"));
        for event in &decided {
            AggregateOf::<C>::evolve(&mut state, event);
        }
        events.extend(decided);
    }
    events
}

/// The stored type names of events, in order.
pub(crate) fn types<E: DomainEvent>(events: &[E]) -> Vec<&'static str> {
    events.iter().map(DomainEvent::event_type).collect()
}

/// The moment every test's clock starts from.
pub(crate) fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T10:00:00Z")
        .unwrap()
        .to_utc()
}

/// `minutes` after [`t0`].
pub(crate) fn at(minutes: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(minutes)
}
