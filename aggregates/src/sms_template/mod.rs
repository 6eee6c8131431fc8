//! The SmsTemplate aggregate (spec 1.2 item 3, 打款验证通知): the texts of payment-verification
//! notices, one stream per template code holding its versions. A published version never changes
//! (notices point at it); versions are activated and deactivated, and a notice may only use an active
//! one. Content is plain text with `{key}` placeholders, e.g. `您的账户收到一笔{amount}元的打款，备注码
//! {remarkCode}`; every placeholder is a declared variable and every declared variable is required.
//!
//! The life cycle is [`crate::versioned`]'s, shared with contract templates; this module brings the
//! text and its variables, the request that publishes them, and its own event and error names.

mod render;
mod request;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::errors::{ErrorKind, ValidationErrors};
use crate::template::VariableKey;
use crate::values::{ClientId, DisplayName, TemplateId, TemplateVersion, Text};
use crate::versioned::{self, Change, Kind, Refusal, Step};
use crate::{Aggregate, DomainEvent};

pub use render::{placeholders, render};
pub use request::{SmsTemplateRequest, SmsVariableRequest};

/// The longest template text: a few concatenated SMS segments, not a letter.
pub const MAX_CONTENT_CHARS: usize = 500;
/// The most variables one text may declare.
pub const MAX_VARIABLES: usize = 20;
/// The longest value a variable may declare (`maxLength`); its default is [`DEFAULT_MAX_LENGTH`].
pub const MAX_VALUE_CHARS: u32 = 200;
pub const DEFAULT_MAX_LENGTH: u32 = 32;

/// A template's text as published.
pub type SmsContent = Text<MAX_CONTENT_CHARS>;

#[derive(Debug)]
pub struct SmsTemplateAggregate;

/// One variable of a text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsVariable {
    pub key: VariableKey,
    pub name: DisplayName,
    pub max_length: u32,
}

// ---------------------------------------------------------------------------------------------------
// Commands, events, errors

#[derive(Clone, Debug)]
pub enum SmsTemplateCommand {
    Publish(PublishSmsTemplate),
    Activate(ChangeSmsTemplateActivation),
    Deactivate(ChangeSmsTemplateActivation),
}

#[derive(Clone, Debug)]
pub struct PublishSmsTemplate {
    pub request: SmsTemplateRequest,
    /// The administrator client publishing.
    pub actor: ClientId,
    pub now: DateTime<Utc>,
}

/// Activate or deactivate one version: the same command a contract template takes.
pub type ChangeSmsTemplateActivation = versioned::ChangeActivation;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
pub enum SmsTemplateEvent {
    /// A version was published, inactive until an activation follows.
    #[serde(rename = "SmsTemplateVersionPublished", rename_all = "camelCase")]
    Published {
        template_code: TemplateId,
        version: TemplateVersion,
        name: DisplayName,
        content: SmsContent,
        variables: Vec<SmsVariable>,
        published_by: ClientId,
        published_at: DateTime<Utc>,
    },
    #[serde(rename = "SmsTemplateVersionActivated", rename_all = "camelCase")]
    Activated {
        template_code: TemplateId,
        version: TemplateVersion,
        activated_by: ClientId,
        activated_at: DateTime<Utc>,
    },
    #[serde(rename = "SmsTemplateVersionDeactivated", rename_all = "camelCase")]
    Deactivated {
        template_code: TemplateId,
        version: TemplateVersion,
        deactivated_by: ClientId,
        deactivated_at: DateTime<Utc>,
    },
}

impl DomainEvent for SmsTemplateEvent {
    fn event_type(&self) -> &'static str {
        match self {
            SmsTemplateEvent::Published { .. } => "SmsTemplateVersionPublished",
            SmsTemplateEvent::Activated { .. } => "SmsTemplateVersionActivated",
            SmsTemplateEvent::Deactivated { .. } => "SmsTemplateVersionDeactivated",
        }
    }

    fn schema_version(&self) -> u32 {
        1
    }
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SmsTemplateError {
    #[error(transparent)]
    Invalid(ValidationErrors),
    #[error(
        "version {version} of SMS template {template_code} is already published with different content; publish a new version"
    )]
    VersionImmutable {
        template_code: TemplateId,
        version: TemplateVersion,
    },
    #[error("this stream holds SMS template {existing}, not {requested}")]
    WrongTemplate {
        existing: TemplateId,
        requested: TemplateId,
    },
    #[error("SMS template not found")]
    TemplateNotFound,
    #[error("SMS template version {0} not found")]
    VersionNotFound(TemplateVersion),
}

impl SmsTemplateError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SmsTemplateError::Invalid(_) => ErrorKind::Validation,
            SmsTemplateError::VersionImmutable { .. } | SmsTemplateError::WrongTemplate { .. } => {
                ErrorKind::Conflict
            }
            SmsTemplateError::TemplateNotFound | SmsTemplateError::VersionNotFound(_) => {
                ErrorKind::NotFound
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// State: the shared versioned life cycle, holding this kind's content

/// What a version is: two publications of one version are the same exactly when these are equal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsVersionContent {
    pub name: DisplayName,
    pub content: SmsContent,
    pub variables: Vec<SmsVariable>,
}

pub type SmsTemplateState = versioned::State<SmsVersionContent>;
pub type SmsTemplate = versioned::Template<SmsVersionContent>;
pub type SmsTemplateVersion = versioned::PublishedVersion<SmsVersionContent>;

impl SmsTemplate {
    /// What a notice needs to know about the version it uses.
    pub fn facts(&self, version: &SmsTemplateVersion) -> SmsTemplateFacts {
        SmsTemplateFacts {
            template_code: self.template_id.clone(),
            version: version.version.clone(),
            active: version.is_active(),
            content: version.content.content.clone(),
            variables: version.content.variables.clone(),
        }
    }
}

/// A template version as a notice sees it; the service looks it up and passes it in the command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsTemplateFacts {
    pub template_code: TemplateId,
    pub version: TemplateVersion,
    pub active: bool,
    pub content: SmsContent,
    pub variables: Vec<SmsVariable>,
}

// ---------------------------------------------------------------------------------------------------
// Decide and evolve

impl Aggregate for SmsTemplateAggregate {
    const NAME: &'static str = "sms_template";
    type State = SmsTemplateState;
    type Command = SmsTemplateCommand;
    type Event = SmsTemplateEvent;
    type Error = SmsTemplateError;

    fn decide(
        state: &SmsTemplateState,
        command: SmsTemplateCommand,
    ) -> Result<Vec<SmsTemplateEvent>, SmsTemplateError> {
        match command {
            SmsTemplateCommand::Publish(command) => {
                let publication =
                    request::parse_request(&command.request).map_err(SmsTemplateError::Invalid)?;
                versioned::publish::<Self>(state, publication, &command.actor, command.now)
            }
            SmsTemplateCommand::Activate(command) => {
                versioned::change_activation::<Self>(state, command, true)
            }
            SmsTemplateCommand::Deactivate(command) => {
                versioned::change_activation::<Self>(state, command, false)
            }
        }
    }

    fn evolve(state: &mut SmsTemplateState, event: &SmsTemplateEvent) {
        state.apply(Self::change(event));
    }
}

/// SMS texts' words for the shared life cycle: their stored events and their errors.
impl versioned::Kind for SmsTemplateAggregate {
    type Content = SmsVersionContent;

    fn event(change: Change<SmsVersionContent>) -> SmsTemplateEvent {
        let Change {
            template_id: template_code,
            version,
            step,
            by,
            at,
        } = change;
        match step {
            Step::Published(content) => SmsTemplateEvent::Published {
                template_code,
                version,
                name: content.name,
                content: content.content,
                variables: content.variables,
                published_by: by,
                published_at: at,
            },
            Step::Activated => SmsTemplateEvent::Activated {
                template_code,
                version,
                activated_by: by,
                activated_at: at,
            },
            Step::Deactivated => SmsTemplateEvent::Deactivated {
                template_code,
                version,
                deactivated_by: by,
                deactivated_at: at,
            },
        }
    }

    fn change(event: &SmsTemplateEvent) -> Change<SmsVersionContent> {
        match event.clone() {
            SmsTemplateEvent::Published {
                template_code,
                version,
                name,
                content,
                variables,
                published_by,
                published_at,
            } => Change {
                template_id: template_code,
                version,
                step: Step::Published(SmsVersionContent {
                    name,
                    content,
                    variables,
                }),
                by: published_by,
                at: published_at,
            },
            SmsTemplateEvent::Activated {
                template_code,
                version,
                activated_by,
                activated_at,
            } => Change {
                template_id: template_code,
                version,
                step: Step::Activated,
                by: activated_by,
                at: activated_at,
            },
            SmsTemplateEvent::Deactivated {
                template_code,
                version,
                deactivated_by,
                deactivated_at,
            } => Change {
                template_id: template_code,
                version,
                step: Step::Deactivated,
                by: deactivated_by,
                at: deactivated_at,
            },
        }
    }

    fn refused(refusal: Refusal) -> SmsTemplateError {
        match refusal {
            Refusal::VersionImmutable {
                template_id,
                version,
            } => SmsTemplateError::VersionImmutable {
                template_code: template_id,
                version,
            },
            Refusal::WrongTemplate {
                existing,
                requested,
            } => SmsTemplateError::WrongTemplate {
                existing,
                requested,
            },
            Refusal::TemplateNotFound => SmsTemplateError::TemplateNotFound,
            Refusal::VersionNotFound(version) => SmsTemplateError::VersionNotFound(version),
        }
    }
}
