//! The Seal aggregate: one company seal (公章, 合同专用章, 财务专用章) of one registered organisation,
//! one stream per seal id (`seal-<sealId>`).
//!
//! A seal's image is versioned: every version is immutable and records the facts of its picture
//! (SHA-256, size, where it came from), so a contract signed with version 2 shows version 2's
//! picture for ever, whatever replaced it later. A new version becomes the current one. A seal can
//! be taken out of use and back again; each switch names the operator and the reason, and asking
//! for the state a seal is already in is refused.
//!
//! ```text
//!             Create                 Deactivate
//! (nothing) ---------> ACTIVE  ----------------->  DEACTIVATED
//!                      ^  | AddVersion  <-----------  | AddVersion
//!                      +--+              Activate     +--+ (stays deactivated)
//! ```

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::errors::{ErrorKind, ValidationErrors};
use crate::organization::OrganizationFacts;
use crate::values::{
    CreditCode, Digest, DisplayName, Operator, OrganizationName, Reason, SealId, SealImageSource,
    SealKind,
};
use crate::{Aggregate, DomainEvent};

#[derive(Debug)]
pub struct SealAggregate;

// ---------------------------------------------------------------------------------------------------
// Values

/// The facts of one version's picture, as the service measured them when it checked or drew it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealImage {
    /// SHA-256 of the PNG file's bytes.
    pub hash: Digest,
    /// Pixels.
    pub width: u32,
    pub height: u32,
    pub byte_length: u64,
    pub source: SealImageSource,
}

/// A seal's display name (`name`, e.g. `合同专用章（销售部）`).
pub type SealName = DisplayName;

// ---------------------------------------------------------------------------------------------------
// Commands

#[derive(Clone, Debug)]
pub enum SealCommand {
    Create(CreateSeal),
    AddVersion(AddSealVersion),
    Deactivate(SwitchSeal),
    Activate(SwitchSeal),
}

/// Makes a seal of `organization` with its first version. `organization` is what the service found
/// for the credit code the caller named: `None` when no such organisation is registered.
#[derive(Clone, Debug)]
pub struct CreateSeal {
    pub seal_id: SealId,
    pub credit_code: String,
    pub organization: Option<OrganizationFacts>,
    pub kind: String,
    pub name: String,
    pub image: SealImage,
    pub operator: String,
    pub now: DateTime<Utc>,
}

/// Adds a version with a new picture; it becomes the current one.
#[derive(Clone, Debug)]
pub struct AddSealVersion {
    pub seal_id: SealId,
    pub image: SealImage,
    pub operator: String,
    pub now: DateTime<Utc>,
}

/// Takes a seal out of use (deactivate) or back into use (activate).
#[derive(Clone, Debug)]
pub struct SwitchSeal {
    pub seal_id: SealId,
    pub operator: String,
    pub reason: String,
    pub now: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------------
// Events

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
pub enum SealEvent {
    #[serde(rename = "SealCreated", rename_all = "camelCase")]
    Created {
        seal_id: SealId,
        credit_code: CreditCode,
        organization_name: OrganizationName,
        kind: SealKind,
        name: SealName,
        version: u32,
        image: SealImage,
        operator: Operator,
        created_at: DateTime<Utc>,
    },
    #[serde(rename = "SealVersionAdded", rename_all = "camelCase")]
    VersionAdded {
        seal_id: SealId,
        version: u32,
        image: SealImage,
        operator: Operator,
        added_at: DateTime<Utc>,
    },
    #[serde(rename = "SealDeactivated", rename_all = "camelCase")]
    Deactivated {
        seal_id: SealId,
        operator: Operator,
        reason: Reason,
        deactivated_at: DateTime<Utc>,
    },
    #[serde(rename = "SealActivated", rename_all = "camelCase")]
    Activated {
        seal_id: SealId,
        operator: Operator,
        reason: Reason,
        activated_at: DateTime<Utc>,
    },
}

impl DomainEvent for SealEvent {
    fn event_type(&self) -> &'static str {
        match self {
            SealEvent::Created { .. } => "SealCreated",
            SealEvent::VersionAdded { .. } => "SealVersionAdded",
            SealEvent::Deactivated { .. } => "SealDeactivated",
            SealEvent::Activated { .. } => "SealActivated",
        }
    }

    fn schema_version(&self) -> u32 {
        1
    }
}

// ---------------------------------------------------------------------------------------------------
// Errors

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Invalid(ValidationErrors),
    #[error("no organisation is registered with credit code {0}")]
    UnknownOrganization(CreditCode),
    #[error("seal {0} does not exist")]
    UnknownSeal(SealId),
    #[error("seal {0} exists already")]
    AlreadyExists(SealId),
    #[error("seal {seal_id} is {state} already")]
    AlreadyInState {
        seal_id: SealId,
        state: &'static str,
    },
    #[error("version {version} of seal {seal_id} has this picture already")]
    SamePicture { seal_id: SealId, version: u32 },
    #[error("the command names seal {asked}, but the stream is seal {stream}")]
    WrongStream { asked: SealId, stream: SealId },
}

impl SealError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SealError::Invalid(_) => ErrorKind::Validation,
            SealError::UnknownOrganization(_) | SealError::UnknownSeal(_) => ErrorKind::NotFound,
            SealError::AlreadyExists(_)
            | SealError::AlreadyInState { .. }
            | SealError::SamePicture { .. }
            | SealError::WrongStream { .. } => ErrorKind::Conflict,
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// State

/// One immutable version of a seal's picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealVersion {
    pub version: u32,
    pub image: SealImage,
    pub operator: Operator,
    pub created_at: DateTime<Utc>,
}

/// A seal as its events made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seal {
    pub seal_id: SealId,
    pub credit_code: CreditCode,
    pub organization_name: OrganizationName,
    pub kind: SealKind,
    pub name: SealName,
    /// Version 1, made with the seal (so a seal always has a version).
    pub first: SealVersion,
    /// Versions 2, 3, ... oldest first.
    pub later: Vec<SealVersion>,
    pub created_at: DateTime<Utc>,
}

impl Seal {
    /// The version in use: the newest.
    pub fn current(&self) -> &SealVersion {
        self.later.last().unwrap_or(&self.first)
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> impl Iterator<Item = &SealVersion> {
        std::iter::once(&self.first).chain(&self.later)
    }

    pub fn version(&self, version: u32) -> Option<&SealVersion> {
        self.versions().find(|v| v.version == version)
    }
}

/// What a contract needs to know of the seal a signer names: whose it is, what kind, and the
/// picture of the version in use, and whether it may be used now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealFacts {
    pub seal_id: SealId,
    pub credit_code: CreditCode,
    pub organization_name: OrganizationName,
    pub kind: SealKind,
    pub version: u32,
    pub image_hash: Digest,
    pub active: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SealState {
    #[default]
    Absent,
    Active(Seal),
    Deactivated(Seal),
}

impl SealState {
    pub fn seal(&self) -> Option<&Seal> {
        match self {
            SealState::Absent => None,
            SealState::Active(seal) | SealState::Deactivated(seal) => Some(seal),
        }
    }

    pub fn is_active(&self) -> bool {
        matches!(self, SealState::Active(_))
    }

    /// The facts of the current version, `None` before the seal is created.
    pub fn facts(&self) -> Option<SealFacts> {
        let seal = self.seal()?;
        let current = seal.current();
        Some(SealFacts {
            seal_id: seal.seal_id.clone(),
            credit_code: seal.credit_code.clone(),
            organization_name: seal.organization_name.clone(),
            kind: seal.kind,
            version: current.version,
            image_hash: current.image.hash.clone(),
            active: self.is_active(),
        })
    }

    fn seal_mut(&mut self) -> Option<&mut Seal> {
        match self {
            SealState::Absent => None,
            SealState::Active(seal) | SealState::Deactivated(seal) => Some(seal),
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Decide and evolve

impl Aggregate for SealAggregate {
    const NAME: &'static str = "seal";
    type State = SealState;
    type Command = SealCommand;
    type Event = SealEvent;
    type Error = SealError;

    fn decide(state: &SealState, command: SealCommand) -> Result<Vec<SealEvent>, SealError> {
        match command {
            SealCommand::Create(command) => create(state, command),
            SealCommand::AddVersion(command) => add_version(state, command),
            SealCommand::Deactivate(command) => deactivate(state, command),
            SealCommand::Activate(command) => activate(state, command),
        }
    }

    fn evolve(state: &mut SealState, event: &SealEvent) {
        match event {
            SealEvent::Created {
                seal_id,
                credit_code,
                organization_name,
                kind,
                name,
                version,
                image,
                operator,
                created_at,
            } => {
                if matches!(state, SealState::Absent) {
                    *state = SealState::Active(Seal {
                        seal_id: seal_id.clone(),
                        credit_code: credit_code.clone(),
                        organization_name: organization_name.clone(),
                        kind: *kind,
                        name: name.clone(),
                        first: SealVersion {
                            version: *version,
                            image: image.clone(),
                            operator: operator.clone(),
                            created_at: *created_at,
                        },
                        later: Vec::new(),
                        created_at: *created_at,
                    });
                }
            }
            SealEvent::VersionAdded {
                version,
                image,
                operator,
                added_at,
                ..
            } => {
                if let Some(seal) = state.seal_mut() {
                    seal.later.push(SealVersion {
                        version: *version,
                        image: image.clone(),
                        operator: operator.clone(),
                        created_at: *added_at,
                    });
                }
            }
            SealEvent::Deactivated { .. } => {
                if let SealState::Active(seal) = std::mem::take(state) {
                    *state = SealState::Deactivated(seal);
                }
            }
            SealEvent::Activated { .. } => {
                if let SealState::Deactivated(seal) = std::mem::take(state) {
                    *state = SealState::Active(seal);
                }
            }
        }
    }
}

fn create(state: &SealState, command: CreateSeal) -> Result<Vec<SealEvent>, SealError> {
    let mut errors = ValidationErrors::new();
    let credit_code = errors.check("creditCode", CreditCode::parse(&command.credit_code));
    let kind = errors.check("kind", SealKind::parse(command.kind.trim()));
    let name = errors.check("name", SealName::parse(&command.name));
    let operator = errors.check("operator", Operator::parse(&command.operator));
    let (Some(credit_code), Some(kind), Some(name), Some(operator)) =
        (credit_code, kind, name, operator)
    else {
        return Err(SealError::Invalid(errors));
    };
    let organization = match command.organization {
        Some(organization) if organization.credit_code == credit_code => organization,
        Some(_) | None => return Err(SealError::UnknownOrganization(credit_code)),
    };
    match state {
        SealState::Absent => Ok(vec![SealEvent::Created {
            seal_id: command.seal_id,
            credit_code,
            organization_name: organization.name,
            kind,
            name,
            version: 1,
            image: command.image,
            operator,
            created_at: command.now,
        }]),
        SealState::Active(seal) | SealState::Deactivated(seal) => {
            Err(SealError::AlreadyExists(seal.seal_id.clone()))
        }
    }
}

/// The existing seal a command on `seal_id` acts on.
fn existing<'a>(state: &'a SealState, seal_id: &SealId) -> Result<&'a Seal, SealError> {
    let seal = state
        .seal()
        .ok_or_else(|| SealError::UnknownSeal(seal_id.clone()))?;
    if &seal.seal_id != seal_id {
        return Err(SealError::WrongStream {
            asked: seal_id.clone(),
            stream: seal.seal_id.clone(),
        });
    }
    Ok(seal)
}

fn add_version(state: &SealState, command: AddSealVersion) -> Result<Vec<SealEvent>, SealError> {
    let operator = Operator::parse(&command.operator)
        .map_err(|error| SealError::Invalid(ValidationErrors::single("operator", error)))?;
    let seal = existing(state, &command.seal_id)?;
    let current = seal.current();
    if current.image.hash == command.image.hash {
        return Err(SealError::SamePicture {
            seal_id: seal.seal_id.clone(),
            version: current.version,
        });
    }
    Ok(vec![SealEvent::VersionAdded {
        seal_id: command.seal_id,
        version: current.version.saturating_add(1),
        image: command.image,
        operator,
        added_at: command.now,
    }])
}

/// The operator and reason of a switch, every bad field named.
fn switch_fields(command: &SwitchSeal) -> Result<(Operator, Reason), SealError> {
    let mut errors = ValidationErrors::new();
    let operator = errors.check("operator", Operator::parse(&command.operator));
    let reason = errors.check("reason", Reason::parse(&command.reason));
    match (operator, reason) {
        (Some(operator), Some(reason)) => Ok((operator, reason)),
        _ => Err(SealError::Invalid(errors)),
    }
}

fn deactivate(state: &SealState, command: SwitchSeal) -> Result<Vec<SealEvent>, SealError> {
    let (operator, reason) = switch_fields(&command)?;
    existing(state, &command.seal_id)?;
    match state {
        SealState::Active(_) => Ok(vec![SealEvent::Deactivated {
            seal_id: command.seal_id,
            operator,
            reason,
            deactivated_at: command.now,
        }]),
        SealState::Deactivated(_) => Err(SealError::AlreadyInState {
            seal_id: command.seal_id,
            state: "deactivated",
        }),
        SealState::Absent => Err(SealError::UnknownSeal(command.seal_id)),
    }
}

fn activate(state: &SealState, command: SwitchSeal) -> Result<Vec<SealEvent>, SealError> {
    let (operator, reason) = switch_fields(&command)?;
    existing(state, &command.seal_id)?;
    match state {
        SealState::Deactivated(_) => Ok(vec![SealEvent::Activated {
            seal_id: command.seal_id,
            operator,
            reason,
            activated_at: command.now,
        }]),
        SealState::Active(_) => Err(SealError::AlreadyInState {
            seal_id: command.seal_id,
            state: "active",
        }),
        SealState::Absent => Err(SealError::UnknownSeal(command.seal_id)),
    }
}
