//! The Organization aggregate: a company esign knows, one stream per unified social credit code
//! (`organization-<creditCode>`), registered by an administrator before its seals are made.
//!
//! The credit code identifies the company and never changes; the registered name is what its seals
//! carry. Registering the same code with the same name again changes nothing (the caller gets the
//! organisation as it is), with another name it is refused: renaming a company would silently change
//! what its existing seals say.
//!
//! ```text
//! UNREGISTERED --Register--> REGISTERED
//! ```

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::errors::{ErrorKind, ValidationErrors};
use crate::values::{ClientId, CreditCode, Operator, OrganizationName};
use crate::{Aggregate, DomainEvent};

#[derive(Debug)]
pub struct OrganizationAggregate;

// ---------------------------------------------------------------------------------------------------
// Commands

#[derive(Clone, Debug)]
pub enum OrganizationCommand {
    Register(RegisterOrganization),
}

/// Registers the company with this credit code under this name (as the administrator typed them:
/// parsed here, so every bad field is named together).
#[derive(Clone, Debug)]
pub struct RegisterOrganization {
    pub credit_code: String,
    pub name: String,
    /// The administrator client that registers it.
    pub client_id: ClientId,
    pub operator: String,
    pub now: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------------
// Events

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
pub enum OrganizationEvent {
    #[serde(rename = "OrganizationRegistered", rename_all = "camelCase")]
    Registered {
        credit_code: CreditCode,
        name: OrganizationName,
        client_id: ClientId,
        operator: Operator,
        registered_at: DateTime<Utc>,
    },
}

impl DomainEvent for OrganizationEvent {
    fn event_type(&self) -> &'static str {
        match self {
            OrganizationEvent::Registered { .. } => "OrganizationRegistered",
        }
    }

    fn schema_version(&self) -> u32 {
        1
    }
}

// ---------------------------------------------------------------------------------------------------
// Errors

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OrganizationError {
    #[error(transparent)]
    Invalid(ValidationErrors),
    #[error(
        "organisation {credit_code} is registered as {registered}; it cannot be registered again as {asked}"
    )]
    NameConflict {
        credit_code: CreditCode,
        registered: OrganizationName,
        asked: OrganizationName,
    },
    #[error("the command names credit code {asked}, but the stream is organisation {stream}")]
    WrongStream {
        asked: CreditCode,
        stream: CreditCode,
    },
}

impl OrganizationError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            OrganizationError::Invalid(_) => ErrorKind::Validation,
            OrganizationError::NameConflict { .. } | OrganizationError::WrongStream { .. } => {
                ErrorKind::Conflict
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// State

/// A registered organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    pub credit_code: CreditCode,
    pub name: OrganizationName,
    pub client_id: ClientId,
    pub operator: Operator,
    pub registered_at: DateTime<Utc>,
}

/// What another aggregate needs to know of an organisation (a seal records whose it is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganizationFacts {
    pub credit_code: CreditCode,
    pub name: OrganizationName,
}

impl Organization {
    pub fn facts(&self) -> OrganizationFacts {
        OrganizationFacts {
            credit_code: self.credit_code.clone(),
            name: self.name.clone(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum OrganizationState {
    #[default]
    Unregistered,
    Registered(Organization),
}

impl OrganizationState {
    pub fn organization(&self) -> Option<&Organization> {
        match self {
            OrganizationState::Unregistered => None,
            OrganizationState::Registered(organization) => Some(organization),
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Decide and evolve

impl Aggregate for OrganizationAggregate {
    const NAME: &'static str = "organization";
    type State = OrganizationState;
    type Command = OrganizationCommand;
    type Event = OrganizationEvent;
    type Error = OrganizationError;

    fn decide(
        state: &OrganizationState,
        command: OrganizationCommand,
    ) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        match command {
            OrganizationCommand::Register(command) => register(state, command),
        }
    }

    fn evolve(state: &mut OrganizationState, event: &OrganizationEvent) {
        match event {
            OrganizationEvent::Registered {
                credit_code,
                name,
                client_id,
                operator,
                registered_at,
            } => {
                // The first registration is the one that counts; a stream never holds two.
                if matches!(state, OrganizationState::Unregistered) {
                    *state = OrganizationState::Registered(Organization {
                        credit_code: credit_code.clone(),
                        name: name.clone(),
                        client_id: client_id.clone(),
                        operator: operator.clone(),
                        registered_at: *registered_at,
                    });
                }
            }
        }
    }
}

fn register(
    state: &OrganizationState,
    command: RegisterOrganization,
) -> Result<Vec<OrganizationEvent>, OrganizationError> {
    let mut errors = ValidationErrors::new();
    let credit_code = errors.check("creditCode", CreditCode::parse(&command.credit_code));
    let name = errors.check("name", OrganizationName::parse(&command.name));
    let operator = errors.check("operator", Operator::parse(&command.operator));
    let (Some(credit_code), Some(name), Some(operator)) = (credit_code, name, operator) else {
        return Err(OrganizationError::Invalid(errors));
    };
    match state {
        OrganizationState::Unregistered => Ok(vec![OrganizationEvent::Registered {
            credit_code,
            name,
            client_id: command.client_id,
            operator,
            registered_at: command.now,
        }]),
        OrganizationState::Registered(existing) if existing.credit_code != credit_code => {
            Err(OrganizationError::WrongStream {
                asked: credit_code,
                stream: existing.credit_code.clone(),
            })
        }
        OrganizationState::Registered(existing) if existing.name == name => Ok(Vec::new()),
        OrganizationState::Registered(existing) => Err(OrganizationError::NameConflict {
            credit_code,
            registered: existing.name.clone(),
            asked: name,
        }),
    }
}
