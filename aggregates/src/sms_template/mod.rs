//! The SmsTemplate aggregate (spec 1.2 item 3, 打款验证通知): the texts of payment-verification
//! notices, one stream per template code holding its versions. A published version never changes
//! (notices point at it); versions are activated and deactivated, and a notice may only use an active
//! one. Content is plain text with `{key}` placeholders, e.g. `您的账户收到一笔{amount}元的打款，备注码
//! {remarkCode}`; every placeholder is a declared variable and every declared variable is required.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::errors::{ErrorKind, ValidationErrors};
use crate::template::VariableKey;
use crate::values::{ClientId, DisplayName, TemplateId, TemplateVersion, Text};
use crate::{Aggregate, DomainEvent};

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

// ---------------------------------------------------------------------------------------------------
// Request

/// The body of `POST /api/v1/notification/sms-templates`, every field optional so that each missing
/// one is named with the others.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsTemplateRequest {
    pub template_code: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub content: Option<String>,
    #[serde(default)]
    pub variables: Vec<SmsVariableRequest>,
    /// Defaults to `true`.
    pub active: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsVariableRequest {
    pub key: Option<String>,
    pub name: Option<String>,
    /// The longest value accepted, 1..=200 characters; defaults to 32.
    pub max_length: Option<i64>,
}

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

#[derive(Clone, Debug)]
pub struct ChangeSmsTemplateActivation {
    pub version: TemplateVersion,
    pub actor: ClientId,
    pub now: DateTime<Utc>,
}

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
// State

#[derive(Clone, Debug, Default, PartialEq)]
pub enum SmsTemplateState {
    #[default]
    Unpublished,
    Published(SmsTemplate),
}

impl SmsTemplateState {
    pub fn template(&self) -> Option<&SmsTemplate> {
        match self {
            SmsTemplateState::Unpublished => None,
            SmsTemplateState::Published(template) => Some(template),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SmsTemplate {
    pub template_code: TemplateId,
    pub versions: BTreeMap<TemplateVersion, SmsTemplateVersion>,
    /// How many activations happened; orders them so the latest active version is well defined.
    pub activations: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SmsTemplateVersion {
    pub version: TemplateVersion,
    pub name: DisplayName,
    pub content: SmsContent,
    pub variables: Vec<SmsVariable>,
    /// `Some(order)` while active: the template's activation count when it was last activated.
    pub active: Option<u64>,
    pub published_by: ClientId,
    pub published_at: DateTime<Utc>,
}

impl SmsTemplate {
    /// The version a notice uses when its request names none: the most recently activated version
    /// still active (re-activating an older version rolls back to it).
    pub fn current_version(&self) -> Option<&SmsTemplateVersion> {
        self.versions
            .values()
            .filter_map(|version| version.active.map(|order| (order, version)))
            .max_by_key(|(order, _)| *order)
            .map(|(_, version)| version)
    }

    /// What a notice needs to know about the version it uses.
    pub fn facts(&self, version: &SmsTemplateVersion) -> SmsTemplateFacts {
        SmsTemplateFacts {
            template_code: self.template_code.clone(),
            version: version.version.clone(),
            active: version.active.is_some(),
            content: version.content.clone(),
            variables: version.variables.clone(),
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
            SmsTemplateCommand::Publish(command) => publish(state, command),
            SmsTemplateCommand::Activate(command) => change_activation(state, command, true),
            SmsTemplateCommand::Deactivate(command) => change_activation(state, command, false),
        }
    }

    fn evolve(state: &mut SmsTemplateState, event: &SmsTemplateEvent) {
        match event {
            SmsTemplateEvent::Published {
                template_code,
                version,
                name,
                content,
                variables,
                published_by,
                published_at,
            } => {
                if let SmsTemplateState::Unpublished = state {
                    *state = SmsTemplateState::Published(SmsTemplate {
                        template_code: template_code.clone(),
                        versions: BTreeMap::new(),
                        activations: 0,
                    });
                }
                if let SmsTemplateState::Published(template) = state {
                    template.versions.insert(
                        version.clone(),
                        SmsTemplateVersion {
                            version: version.clone(),
                            name: name.clone(),
                            content: content.clone(),
                            variables: variables.clone(),
                            active: None,
                            published_by: published_by.clone(),
                            published_at: *published_at,
                        },
                    );
                }
            }
            SmsTemplateEvent::Activated { version, .. } => {
                if let SmsTemplateState::Published(template) = state {
                    template.activations += 1;
                    let order = template.activations;
                    if let Some(published) = template.versions.get_mut(version) {
                        published.active = Some(order);
                    }
                }
            }
            SmsTemplateEvent::Deactivated { version, .. } => {
                if let SmsTemplateState::Published(template) = state
                    && let Some(published) = template.versions.get_mut(version)
                {
                    published.active = None;
                }
            }
        }
    }
}

struct Parsed {
    template_code: TemplateId,
    version: TemplateVersion,
    name: DisplayName,
    content: SmsContent,
    variables: Vec<SmsVariable>,
    active: bool,
}

fn publish(
    state: &SmsTemplateState,
    command: PublishSmsTemplate,
) -> Result<Vec<SmsTemplateEvent>, SmsTemplateError> {
    let parsed = parse_request(&command.request).map_err(SmsTemplateError::Invalid)?;
    let Some(template) = state.template() else {
        return Ok(publication(parsed, &command));
    };
    if template.template_code != parsed.template_code {
        return Err(SmsTemplateError::WrongTemplate {
            existing: template.template_code.clone(),
            requested: parsed.template_code,
        });
    }
    match template.versions.get(&parsed.version) {
        None => Ok(publication(parsed, &command)),
        // A retried publication changes nothing, except that the request's `active` wins.
        Some(existing)
            if existing.name == parsed.name
                && existing.content == parsed.content
                && existing.variables == parsed.variables =>
        {
            if existing.active.is_some() == parsed.active {
                Ok(Vec::new())
            } else {
                Ok(vec![activation(
                    parsed.template_code,
                    parsed.version,
                    parsed.active,
                    &command.actor,
                    command.now,
                )])
            }
        }
        Some(_) => Err(SmsTemplateError::VersionImmutable {
            template_code: parsed.template_code,
            version: parsed.version,
        }),
    }
}

fn publication(parsed: Parsed, command: &PublishSmsTemplate) -> Vec<SmsTemplateEvent> {
    let mut events = vec![SmsTemplateEvent::Published {
        template_code: parsed.template_code.clone(),
        version: parsed.version.clone(),
        name: parsed.name,
        content: parsed.content,
        variables: parsed.variables,
        published_by: command.actor.clone(),
        published_at: command.now,
    }];
    if parsed.active {
        events.push(activation(
            parsed.template_code,
            parsed.version,
            true,
            &command.actor,
            command.now,
        ));
    }
    events
}

fn activation(
    template_code: TemplateId,
    version: TemplateVersion,
    active: bool,
    actor: &ClientId,
    now: DateTime<Utc>,
) -> SmsTemplateEvent {
    if active {
        SmsTemplateEvent::Activated {
            template_code,
            version,
            activated_by: actor.clone(),
            activated_at: now,
        }
    } else {
        SmsTemplateEvent::Deactivated {
            template_code,
            version,
            deactivated_by: actor.clone(),
            deactivated_at: now,
        }
    }
}

fn change_activation(
    state: &SmsTemplateState,
    command: ChangeSmsTemplateActivation,
    active: bool,
) -> Result<Vec<SmsTemplateEvent>, SmsTemplateError> {
    let template = state.template().ok_or(SmsTemplateError::TemplateNotFound)?;
    let version = template
        .versions
        .get(&command.version)
        .ok_or_else(|| SmsTemplateError::VersionNotFound(command.version.clone()))?;
    if version.active.is_some() == active {
        return Ok(Vec::new());
    }
    Ok(vec![activation(
        template.template_code.clone(),
        command.version,
        active,
        &command.actor,
        command.now,
    )])
}

fn parse_request(request: &SmsTemplateRequest) -> Result<Parsed, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let template_code = errors.required(
        "templateCode",
        request.template_code.as_deref(),
        TemplateId::parse,
    );
    let name = errors.required("name", request.name.as_deref(), DisplayName::parse);
    let version = errors.required(
        "version",
        request.version.as_deref(),
        TemplateVersion::parse,
    );
    let content = errors.required("content", request.content.as_deref(), SmsContent::parse);
    let variables = parse_variables(&request.variables, &mut errors);
    if let (Some(content), Some(variables)) = (&content, &variables) {
        match placeholders(content.as_str()) {
            Ok(keys) => {
                let declared: BTreeSet<&str> = variables.iter().map(|v| v.key.as_str()).collect();
                let undeclared: Vec<&str> = keys
                    .iter()
                    .map(String::as_str)
                    .filter(|key| !declared.contains(key))
                    .collect();
                if !undeclared.is_empty() {
                    errors.push(
                        "content",
                        format!(
                            "uses placeholders not in variables: {}",
                            undeclared.join(", ")
                        ),
                    );
                }
                for (index, variable) in variables.iter().enumerate() {
                    if !keys.contains(variable.key.as_str()) {
                        errors.push(format!("variables[{index}].key"), "is not used in content");
                    }
                }
            }
            Err(reason) => errors.push("content", reason),
        }
    }
    match (template_code, name, version, content, variables) {
        (Some(template_code), Some(name), Some(version), Some(content), Some(variables))
            if errors.is_empty() =>
        {
            Ok(Parsed {
                template_code,
                version,
                name,
                content,
                variables,
                active: request.active.unwrap_or(true),
            })
        }
        _ => Err(errors),
    }
}

fn parse_variables(
    requests: &[SmsVariableRequest],
    errors: &mut ValidationErrors,
) -> Option<Vec<SmsVariable>> {
    if requests.len() > MAX_VARIABLES {
        errors.push(
            "variables",
            format!("must have at most {MAX_VARIABLES} entries"),
        );
        return None;
    }
    let before = errors.fields().len();
    let mut variables: Vec<SmsVariable> = Vec::with_capacity(requests.len());
    let mut seen: BTreeSet<VariableKey> = BTreeSet::new();
    for (index, request) in requests.iter().enumerate() {
        let path = format!("variables[{index}]");
        let key = errors.required(
            format!("{path}.key"),
            request.key.as_deref(),
            VariableKey::parse,
        );
        let name = errors.required(
            format!("{path}.name"),
            request.name.as_deref(),
            DisplayName::parse,
        );
        let max_length = match request.max_length {
            None => Some(DEFAULT_MAX_LENGTH),
            Some(length) => match u32::try_from(length) {
                Ok(length) if (1..=MAX_VALUE_CHARS).contains(&length) => Some(length),
                _ => {
                    errors.push(
                        format!("{path}.maxLength"),
                        format!("must be between 1 and {MAX_VALUE_CHARS}"),
                    );
                    None
                }
            },
        };
        if let Some(key) = &key
            && !seen.insert(key.clone())
        {
            errors.push(format!("{path}.key"), format!("duplicates the key {key}"));
        }
        if let (Some(key), Some(name), Some(max_length)) = (key, name, max_length) {
            variables.push(SmsVariable {
                key,
                name,
                max_length,
            });
        }
    }
    (errors.fields().len() == before).then_some(variables)
}

/// The `{key}` placeholders of a text. A brace that does not open a well-formed placeholder, or a
/// closing brace on its own, is an error: SMS texts have no escape syntax, and a stray brace is
/// almost always a typo in a placeholder.
pub fn placeholders(content: &str) -> Result<BTreeSet<String>, String> {
    let mut keys = BTreeSet::new();
    let mut rest = content;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("has a '}' that closes no placeholder".into());
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "has a '{' that is never closed".to_owned())?;
        let key = &after[..close];
        VariableKey::parse(key)
            .map_err(|_| format!("has a placeholder {{{key}}} that is not a variable name"))?;
        keys.insert(key.to_owned());
        rest = &after[close + 1..];
    }
    Ok(keys)
}

/// Fills every `{key}` with its value. Values are inserted as they are and never re-scanned.
/// Returns the keys without a value when some placeholder cannot be filled.
pub fn render(content: &str, values: &BTreeMap<String, String>) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(content.len() + 32);
    let mut missing = Vec::new();
    let mut rest = content;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let key = &after[..close];
        match values.get(key) {
            Some(value) => out.push_str(value),
            None => missing.push(key.to_owned()),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}
