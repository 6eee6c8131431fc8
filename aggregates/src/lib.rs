//! esign's pure domain.
//!
//! # Layout
//!
//! - [`Aggregate`]: the decider contract every aggregate implements: `decide` turns a command into
//!   events or a domain error, `evolve` folds an event into the state. Both are synchronous and free of
//!   side effects; everything a decision needs (ids, `now`, looked-up facts) arrives in the command.
//! - [`DomainEvent`]: events name their stable type and schema version explicitly, so stored events can
//!   be upcast when a payload changes shape.
//! - [`Sensitive`]: marks personal data (ID and mobile numbers, names) inside an event payload, and callback
//!   header values, which are often credentials. The service encrypts every marked value before an
//!   event is stored; this crate only marks, it never encrypts.
//! - [`errors`]: field-level validation failures (named by their JSON path) and the [`ErrorKind`] each
//!   aggregate error reports, which the service maps to a response code.
//! - [`values`]: value objects parsed once (ID and mobile numbers, business ids, URLs, lifetimes, the
//!   spec's code lists) and read back from stored events.
//! - [`template`]: the Template aggregate (versions, immutable once published, activation) and
//!   [`template::render`], which fills `{{key}}` placeholders.
//! - [`face_verification`]: the FaceVerification aggregate, PENDING -> PROCESSING -> SUCCESS | FAILED,
//!   or EXPIRED.
//! - [`contract`]: the Contract aggregate: initiation from a template version, per-signer links and
//!   identity checks, ordered signing, revocation, expiry, sealing and archiving.
//! - [`sms_template`]: versioned texts of payment-verification notices with `{key}` variables.
//! - [`versioned`]: the life cycle both template aggregates share (versions immutable once published,
//!   activation, the current version); each of them is a [`versioned::Kind`] bringing its content.
//! - [`delivery`]: the numbered attempts, leases and retries of a text to one phone, shared by notices
//!   and signing invitations.
//! - [`sms_notice`]: one notice to one phone, REQUESTED -> SENT | FAILED, with numbered attempts.
//! - [`certificate_revocation`]: an operator's revocation of one certificate of the platform CA, by
//!   serial number; final, so a stream holds one event.
//! - [`organization`]: a company esign knows, by its unified social credit code; registered once,
//!   under one name.
//! - [`seal`]: one company seal (公章, 合同专用章, 财务专用章) of an organisation: immutable versions
//!   of its picture, taken out of use and back; [`seal::SealFacts`] is what a contract learns of it.
//! - `testing` (tests only): given (events) / when (command) / then (events or error), shared by the
//!   tests of every aggregate.
//!
//! Nothing in this crate performs IO, reads a clock or draws random numbers.

pub mod certificate_revocation;
pub mod contract;
pub mod delivery;
pub mod errors;
pub mod face_verification;
pub mod organization;
pub mod seal;
pub mod sms_notice;
pub mod sms_template;
pub mod template;
#[cfg(test)]
mod testing;
pub mod values;
pub mod versioned;

pub use errors::{ErrorKind, FieldError, ValidationErrors};

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An event as the event store sees it: a stable type name, a schema version and a serde payload.
pub trait DomainEvent: Serialize + DeserializeOwned + Clone + fmt::Debug {
    /// The stable name stored with the event. Never rename one that has been written.
    fn event_type(&self) -> &'static str;
    /// The payload's schema version; bump it (and add an upcaster) when the shape changes.
    fn schema_version(&self) -> u32;
}

/// A decider: `decide(state, command) -> events`, `evolve(state, event)`, starting from `State::default()`.
pub trait Aggregate {
    /// The stream prefix (`contract`, `verification`, `template`). Never rename it: stored streams use it.
    const NAME: &'static str;
    type State: Default + fmt::Debug;
    type Command;
    type Event: DomainEvent;
    type Error: std::error::Error;

    /// Decides which events a command produces in the given state, or why it is refused.
    fn decide(state: &Self::State, command: Self::Command)
    -> Result<Vec<Self::Event>, Self::Error>;

    /// Applies one event. Infallible: a stored event is a fact.
    fn evolve(state: &mut Self::State, event: &Self::Event);

    /// Replays events into a fresh state.
    fn replay<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self::State
    where
        Self::Event: 'a,
    {
        let mut state = Self::State::default();
        for event in events {
            Self::evolve(&mut state, event);
        }
        state
    }
}

/// The JSON key that marks a sensitive value inside a payload: `{"$pii": "<value>"}`.
pub const SENSITIVE_MARKER: &str = "$pii";

/// Personal data inside an event payload: ID and mobile numbers (sensitive under PIPL art. 28), and
/// people's names.
///
/// It serialises as `{"$pii": "<text>"}`; the service replaces every such marker with ciphertext and a
/// keyed hash before the event reaches storage, and restores the text when it reads the event back.
/// `Debug` never prints the value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The plain value. Callers decide where it may go; logs get a masked form instead.
    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sensitive(***)")
    }
}

impl<T: fmt::Display> Serialize for Sensitive<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(SENSITIVE_MARKER, &self.0.to_string())?;
        map.end()
    }
}

impl<'de, T> Deserialize<'de> for Sensitive<T>
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Marked {
            #[serde(rename = "$pii")]
            value: String,
        }
        let marked = Marked::deserialize(deserializer)?;
        marked
            .value
            .parse()
            .map(Sensitive)
            .map_err(serde::de::Error::custom)
    }
}

impl<T> Sensitive<T>
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    /// Reads a field that events once stored in clear and now store marked: the marker, or the plain
    /// text of an event written before the field was marked (personal names, until they were sealed).
    /// For `#[serde(deserialize_with = ...)]` on such fields only; fields marked from the start keep
    /// refusing a plain value.
    pub fn marked_or_plain<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Marked {
                #[serde(rename = "$pii")]
                value: String,
            },
            Plain(String),
        }
        let text = match Stored::deserialize(deserializer)? {
            Stored::Marked { value } | Stored::Plain(value) => value,
        };
        text.parse()
            .map(Sensitive)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sensitive_value_serialises_inside_the_marker_and_reads_back() {
        let value = Sensitive::new("13800138000".to_string());
        let json = serde_json::to_value(&value).unwrap();
        assert_eq!(json, serde_json::json!({"$pii": "13800138000"}));
        let back: Sensitive<String> = serde_json::from_value(json).unwrap();
        assert_eq!(back, value);
    }

    #[derive(Deserialize, Debug)]
    struct OnceInClear {
        #[serde(deserialize_with = "Sensitive::marked_or_plain")]
        name: Sensitive<values::PersonName>,
    }

    #[test]
    fn a_field_once_stored_in_clear_reads_from_the_marker_and_from_plain_text() {
        for stored in [
            serde_json::json!({"name": {"$pii": "张三"}}),
            serde_json::json!({"name": "张三"}),
        ] {
            let read: OnceInClear = serde_json::from_value(stored).unwrap();
            assert_eq!(read.name.expose().as_str(), "张三");
        }
        for refused in [
            serde_json::json!({"name": " "}),
            serde_json::json!({"name": {"$pii": ""}}),
            serde_json::json!({"name": 7}),
            serde_json::json!({"name": {"$pii": {"k": "t", "c": "AAAA", "h": "beef"}}}),
        ] {
            assert!(serde_json::from_value::<OnceInClear>(refused).is_err());
        }
    }

    #[test]
    fn a_field_marked_from_the_start_refuses_plain_text() {
        assert!(serde_json::from_value::<Sensitive<String>>(serde_json::json!("x")).is_err());
    }

    #[test]
    fn debug_output_never_shows_a_sensitive_value() {
        let value = Sensitive::new("11010519491231002X".to_string());
        assert_eq!(format!("{value:?}"), "Sensitive(***)");
    }
}
