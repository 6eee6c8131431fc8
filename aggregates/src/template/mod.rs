//! The Template aggregate (spec 2.1.3, table `contract_template`): one stream per `templateId` holding
//! its versions. A published version never changes (contracts point at it); versions are activated and
//! deactivated, and a contract may only start from an active one.
//!
//! That life cycle is [`crate::versioned`]'s, shared with SMS texts. This module brings what is a
//! contract template's own: its content (HTML or component JSON with `{{key}}` placeholders, variable
//! definitions, signer rules), the request that publishes it, and the names and shapes its events and
//! errors are stored and reported under.

mod places;
mod render;
mod request;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::errors::{ErrorKind, ValidationErrors};
use crate::values::{
    Category, ClientId, ContentType, DisplayName, LongText, SignMethod, TemplateId, TemplateVersion,
};
use crate::versioned::{self, Change, Kind, Refusal, Step};
use crate::{Aggregate, DomainEvent};

pub use crate::versioned::{Activation, ChangeActivation};
pub use places::{
    PARTY_TYPE_ATTRIBUTE, SIGNATURE_COMPONENT, SIGNATURE_ELEMENT, component_place, html_place,
    signature_places,
};
pub use render::{MAX_KEY_LEN, RenderError, VariableKey, VariableKeyError, placeholders, render};
pub use request::{SignerConfigRequest, TemplateRequest, VariableDefinitionRequest};

/// The largest template content accepted, in bytes. Contents travel inside events; a megabyte holds
/// any agreement text with room to spare.
pub const MAX_CONTENT_BYTES: usize = 1024 * 1024;
/// The most variables a template may define.
pub const MAX_VARIABLES: usize = 200;

/// The stream's decider.
#[derive(Debug)]
pub struct TemplateAggregate;

// ---------------------------------------------------------------------------------------------------
// Version content

/// One variable a template's content uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariableDefinition {
    pub key: VariableKey,
    pub name: DisplayName,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<LongText>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignerConfigError {
    #[error("must be between 1 and {max}", max = SignerConfig::MAX_SIGNERS)]
    Min,
    #[error("must be between minSigners and {max}", max = SignerConfig::MAX_SIGNERS)]
    Max,
    #[error("must name at least one method, each once")]
    Methods,
}

/// How many signers a contract from this template has, and the sign method a signer gets when the
/// contract request names none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignerConfig {
    min_signers: u32,
    max_signers: u32,
    default_sign_methods: Vec<SignMethod>,
}

impl SignerConfig {
    /// The most signers one contract may have: each has a link, SMS and face checks, and a signature in
    /// the document; beyond this a multi-party agreement needs a different flow.
    pub const MAX_SIGNERS: u32 = 20;

    pub fn new(
        min_signers: u32,
        max_signers: u32,
        default_sign_methods: Vec<SignMethod>,
    ) -> Result<Self, SignerConfigError> {
        if !(1..=Self::MAX_SIGNERS).contains(&min_signers) {
            return Err(SignerConfigError::Min);
        }
        if !(min_signers..=Self::MAX_SIGNERS).contains(&max_signers) {
            return Err(SignerConfigError::Max);
        }
        let distinct: BTreeSet<_> = default_sign_methods.iter().collect();
        if default_sign_methods.is_empty() || distinct.len() != default_sign_methods.len() {
            return Err(SignerConfigError::Methods);
        }
        Ok(Self {
            min_signers,
            max_signers,
            default_sign_methods,
        })
    }

    pub fn min_signers(&self) -> u32 {
        self.min_signers
    }

    pub fn max_signers(&self) -> u32 {
        self.max_signers
    }

    pub fn default_sign_methods(&self) -> &[SignMethod] {
        &self.default_sign_methods
    }

    /// The method a signer gets when the request names none: the first default.
    pub fn default_sign_method(&self) -> SignMethod {
        self.default_sign_methods
            .first()
            .copied()
            .unwrap_or(SignMethod::FaceAndSms)
    }

    pub fn allows(&self, signers: usize) -> bool {
        u32::try_from(signers)
            .is_ok_and(|count| (self.min_signers..=self.max_signers).contains(&count))
    }
}

/// What a version is: two publications of one version are the same exactly when these are equal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionContent {
    pub name: DisplayName,
    pub category: Category,
    pub content_type: ContentType,
    pub content: String,
    pub variable_definitions: Vec<VariableDefinition>,
    pub signer_config: SignerConfig,
}

/// What a contract needs to know about the template version it starts from; the service looks it up
/// and passes it in [`crate::contract::InitiateContract`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateVersionFacts {
    pub template_id: TemplateId,
    pub version: TemplateVersion,
    pub active: bool,
    pub variable_definitions: Vec<VariableDefinition>,
    pub signer_config: SignerConfig,
}

// ---------------------------------------------------------------------------------------------------
// Commands, events, errors

#[derive(Clone, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per request and moved into `decide`; boxing would only add noise at call sites"
)]
pub enum TemplateCommand {
    /// Create or publish a version (`POST /api/v1/template`).
    Publish(PublishVersion),
    Activate(ChangeActivation),
    Deactivate(ChangeActivation),
}

#[derive(Clone, Debug)]
pub struct PublishVersion {
    pub request: TemplateRequest,
    /// The administrator client publishing (`created_by`).
    pub actor: ClientId,
    pub now: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
pub enum TemplateEvent {
    /// A version was published, inactive until an `TemplateVersionActivated` follows.
    #[serde(rename = "TemplateVersionPublished", rename_all = "camelCase")]
    Published {
        template_id: TemplateId,
        version: TemplateVersion,
        name: DisplayName,
        category: Category,
        content_type: ContentType,
        content: String,
        variable_definitions: Vec<VariableDefinition>,
        signer_config: SignerConfig,
        published_by: ClientId,
        published_at: DateTime<Utc>,
    },
    #[serde(rename = "TemplateVersionActivated", rename_all = "camelCase")]
    Activated {
        template_id: TemplateId,
        version: TemplateVersion,
        activated_by: ClientId,
        activated_at: DateTime<Utc>,
    },
    #[serde(rename = "TemplateVersionDeactivated", rename_all = "camelCase")]
    Deactivated {
        template_id: TemplateId,
        version: TemplateVersion,
        deactivated_by: ClientId,
        deactivated_at: DateTime<Utc>,
    },
}

impl DomainEvent for TemplateEvent {
    fn event_type(&self) -> &'static str {
        match self {
            TemplateEvent::Published { .. } => "TemplateVersionPublished",
            TemplateEvent::Activated { .. } => "TemplateVersionActivated",
            TemplateEvent::Deactivated { .. } => "TemplateVersionDeactivated",
        }
    }

    fn schema_version(&self) -> u32 {
        1
    }
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TemplateError {
    #[error(transparent)]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Conflict(TemplateConflict),
    #[error(transparent)]
    NotFound(TemplateNotFound),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateConflict {
    #[error(
        "version {version} of template {template_id} is already published with different content; publish a new version"
    )]
    VersionImmutable {
        template_id: TemplateId,
        version: TemplateVersion,
    },
    #[error("this stream holds template {existing}, not {requested}")]
    WrongTemplate {
        existing: TemplateId,
        requested: TemplateId,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateNotFound {
    #[error("template not found")]
    Template,
    #[error("template version {0} not found")]
    Version(TemplateVersion),
}

impl TemplateError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            TemplateError::Invalid(_) => ErrorKind::Validation,
            TemplateError::Conflict(_) => ErrorKind::Conflict,
            TemplateError::NotFound(_) => ErrorKind::NotFound,
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// State: the shared versioned life cycle, holding this kind's content

pub type TemplateState = versioned::State<VersionContent>;
pub type Template = versioned::Template<VersionContent>;
pub type PublishedVersion = versioned::PublishedVersion<VersionContent>;

impl Template {
    pub fn facts(&self, version: &PublishedVersion) -> TemplateVersionFacts {
        TemplateVersionFacts {
            template_id: self.template_id.clone(),
            version: version.version.clone(),
            active: version.is_active(),
            variable_definitions: version.content.variable_definitions.clone(),
            signer_config: version.content.signer_config.clone(),
        }
    }
}

impl PublishedVersion {
    /// Renders the preview with the contract's variables; optional variables left out render empty.
    pub fn render_preview(
        &self,
        variables: &BTreeMap<String, String>,
    ) -> Result<String, RenderError> {
        let mut values = variables.clone();
        for definition in &self.content.variable_definitions {
            values.entry(definition.key.to_string()).or_default();
        }
        render(&self.content.content, self.content.content_type, &values)
    }
}

// ---------------------------------------------------------------------------------------------------
// Decide and evolve

impl Aggregate for TemplateAggregate {
    const NAME: &'static str = "template";
    type State = TemplateState;
    type Command = TemplateCommand;
    type Event = TemplateEvent;
    type Error = TemplateError;

    fn decide(
        state: &TemplateState,
        command: TemplateCommand,
    ) -> Result<Vec<TemplateEvent>, TemplateError> {
        match command {
            TemplateCommand::Publish(command) => {
                let publication =
                    request::parse_request(&command.request).map_err(TemplateError::Invalid)?;
                versioned::publish::<Self>(state, publication, &command.actor, command.now)
            }
            TemplateCommand::Activate(command) => {
                versioned::change_activation::<Self>(state, command, true)
            }
            TemplateCommand::Deactivate(command) => {
                versioned::change_activation::<Self>(state, command, false)
            }
        }
    }

    fn evolve(state: &mut TemplateState, event: &TemplateEvent) {
        state.apply(Self::change(event));
    }
}

/// Contract templates' words for the shared life cycle: their stored events and their errors.
impl versioned::Kind for TemplateAggregate {
    type Content = VersionContent;

    fn event(change: Change<VersionContent>) -> TemplateEvent {
        let Change {
            template_id,
            version,
            step,
            by,
            at,
        } = change;
        match step {
            Step::Published(content) => TemplateEvent::Published {
                template_id,
                version,
                name: content.name,
                category: content.category,
                content_type: content.content_type,
                content: content.content,
                variable_definitions: content.variable_definitions,
                signer_config: content.signer_config,
                published_by: by,
                published_at: at,
            },
            Step::Activated => TemplateEvent::Activated {
                template_id,
                version,
                activated_by: by,
                activated_at: at,
            },
            Step::Deactivated => TemplateEvent::Deactivated {
                template_id,
                version,
                deactivated_by: by,
                deactivated_at: at,
            },
        }
    }

    fn change(event: &TemplateEvent) -> Change<VersionContent> {
        match event.clone() {
            TemplateEvent::Published {
                template_id,
                version,
                name,
                category,
                content_type,
                content,
                variable_definitions,
                signer_config,
                published_by,
                published_at,
            } => Change {
                template_id,
                version,
                step: Step::Published(VersionContent {
                    name,
                    category,
                    content_type,
                    content,
                    variable_definitions,
                    signer_config,
                }),
                by: published_by,
                at: published_at,
            },
            TemplateEvent::Activated {
                template_id,
                version,
                activated_by,
                activated_at,
            } => Change {
                template_id,
                version,
                step: Step::Activated,
                by: activated_by,
                at: activated_at,
            },
            TemplateEvent::Deactivated {
                template_id,
                version,
                deactivated_by,
                deactivated_at,
            } => Change {
                template_id,
                version,
                step: Step::Deactivated,
                by: deactivated_by,
                at: deactivated_at,
            },
        }
    }

    fn refused(refusal: Refusal) -> TemplateError {
        match refusal {
            Refusal::VersionImmutable {
                template_id,
                version,
            } => TemplateError::Conflict(TemplateConflict::VersionImmutable {
                template_id,
                version,
            }),
            Refusal::WrongTemplate {
                existing,
                requested,
            } => TemplateError::Conflict(TemplateConflict::WrongTemplate {
                existing,
                requested,
            }),
            Refusal::TemplateNotFound => TemplateError::NotFound(TemplateNotFound::Template),
            Refusal::VersionNotFound(version) => {
                TemplateError::NotFound(TemplateNotFound::Version(version))
            }
        }
    }
}
