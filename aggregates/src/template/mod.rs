//! The Template aggregate (spec 2.1.3, table `contract_template`): one stream per `templateId` holding
//! its versions. A published version never changes (contracts point at it); versions are activated and
//! deactivated, and a contract may only start from an active one.

mod render;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::errors::{ErrorKind, ValidationErrors};
use crate::values::{
    Category, ClientId, ContentType, DisplayName, LongText, SignMethod, TemplateId, TemplateVersion,
};
use crate::{Aggregate, DomainEvent};

pub use render::{MAX_KEY_LEN, RenderError, VariableKey, VariableKeyError, placeholders, render};

/// The largest template content accepted, in bytes. Contents travel inside events; a megabyte holds
/// any agreement text with room to spare.
pub const MAX_CONTENT_BYTES: usize = 1024 * 1024;
/// The most variables a template may define.
pub const MAX_VARIABLES: usize = 200;

/// The stream's decider.
#[derive(Debug)]
pub struct TemplateAggregate;

// ---------------------------------------------------------------------------------------------------
// Request (wire shape of `POST /api/v1/template`)

/// The body of `POST /api/v1/template` as sent. Everything is optional here so that a missing field is
/// reported by name with every other problem, not as a deserialisation failure.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRequest {
    pub template_id: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub category: Option<String>,
    /// `HTML` or `COMPONENT_JSON`. Not in the spec's request: when omitted, content starting with `{` is
    /// COMPONENT_JSON and anything else HTML.
    pub content_type: Option<String>,
    pub content: Option<String>,
    #[serde(default)]
    pub variable_definitions: Vec<VariableDefinitionRequest>,
    pub signer_config: Option<SignerConfigRequest>,
    /// Defaults to `true` (the table's default).
    pub active: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariableDefinitionRequest {
    pub key: Option<String>,
    pub name: Option<String>,
    /// Defaults to `false`.
    pub required: Option<bool>,
    pub sample: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignerConfigRequest {
    /// Defaults to 1.
    pub min_signers: Option<i64>,
    /// Defaults to [`SignerConfig::MAX_SIGNERS`].
    pub max_signers: Option<i64>,
    /// Defaults to `["FACE_AND_SMS"]`.
    pub default_sign_methods: Option<Vec<String>>,
}

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

#[derive(Clone, Debug)]
pub struct ChangeActivation {
    pub version: TemplateVersion,
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
// State

#[derive(Clone, Debug, Default, PartialEq)]
pub enum TemplateState {
    #[default]
    Unpublished,
    Published(Template),
}

impl TemplateState {
    pub fn template(&self) -> Option<&Template> {
        match self {
            TemplateState::Unpublished => None,
            TemplateState::Published(template) => Some(template),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub template_id: TemplateId,
    pub versions: BTreeMap<TemplateVersion, PublishedVersion>,
    /// How many activations happened; orders them so the latest active version is well defined.
    pub activations: u64,
}

impl Template {
    pub fn version(&self, version: &TemplateVersion) -> Option<&PublishedVersion> {
        self.versions.get(version)
    }

    /// The version a contract starts from when its request names none: the most recently activated
    /// version still active. Re-activating an older version therefore rolls back to it.
    pub fn current_version(&self) -> Option<&PublishedVersion> {
        self.versions
            .values()
            .filter_map(|version| match version.activation {
                Activation::Active { order, .. } => Some((order, version)),
                Activation::Inactive { .. } => None,
            })
            .max_by_key(|(order, _)| *order)
            .map(|(_, version)| version)
    }

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

#[derive(Clone, Debug, PartialEq)]
pub struct PublishedVersion {
    pub version: TemplateVersion,
    pub content: VersionContent,
    pub activation: Activation,
    pub published_by: ClientId,
    pub published_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Active { since: DateTime<Utc>, order: u64 },
    Inactive { since: DateTime<Utc> },
}

impl PublishedVersion {
    pub fn is_active(&self) -> bool {
        matches!(self.activation, Activation::Active { .. })
    }

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
            TemplateCommand::Publish(command) => publish(state, command),
            TemplateCommand::Activate(command) => change_activation(state, command, true),
            TemplateCommand::Deactivate(command) => change_activation(state, command, false),
        }
    }

    fn evolve(state: &mut TemplateState, event: &TemplateEvent) {
        match event {
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
            } => {
                if let TemplateState::Unpublished = state {
                    *state = TemplateState::Published(Template {
                        template_id: template_id.clone(),
                        versions: BTreeMap::new(),
                        activations: 0,
                    });
                }
                if let TemplateState::Published(template) = state {
                    let published = PublishedVersion {
                        version: version.clone(),
                        content: VersionContent {
                            name: name.clone(),
                            category: category.clone(),
                            content_type: *content_type,
                            content: content.clone(),
                            variable_definitions: variable_definitions.clone(),
                            signer_config: signer_config.clone(),
                        },
                        activation: Activation::Inactive {
                            since: *published_at,
                        },
                        published_by: published_by.clone(),
                        published_at: *published_at,
                    };
                    template.versions.insert(version.clone(), published);
                }
            }
            TemplateEvent::Activated {
                version,
                activated_at,
                ..
            } => {
                if let TemplateState::Published(template) = state {
                    template.activations += 1;
                    let order = template.activations;
                    if let Some(published) = template.versions.get_mut(version) {
                        published.activation = Activation::Active {
                            since: *activated_at,
                            order,
                        };
                    }
                }
            }
            TemplateEvent::Deactivated {
                version,
                deactivated_at,
                ..
            } => {
                if let TemplateState::Published(template) = state
                    && let Some(published) = template.versions.get_mut(version)
                {
                    published.activation = Activation::Inactive {
                        since: *deactivated_at,
                    };
                }
            }
        }
    }
}

struct ParsedPublication {
    template_id: TemplateId,
    version: TemplateVersion,
    content: VersionContent,
    active: bool,
}

fn publish(
    state: &TemplateState,
    command: PublishVersion,
) -> Result<Vec<TemplateEvent>, TemplateError> {
    let parsed = parse_request(&command.request).map_err(TemplateError::Invalid)?;
    match state {
        TemplateState::Unpublished => Ok(publication_events(parsed, &command)),
        TemplateState::Published(template) => {
            if template.template_id != parsed.template_id {
                return Err(TemplateError::Conflict(TemplateConflict::WrongTemplate {
                    existing: template.template_id.clone(),
                    requested: parsed.template_id,
                }));
            }
            match template.versions.get(&parsed.version) {
                None => Ok(publication_events(parsed, &command)),
                // A retried publication: nothing new, except that the request's `active` flag wins, since
                // `POST /template` is "create or update".
                Some(existing) if existing.content == parsed.content => {
                    if existing.is_active() == parsed.active {
                        Ok(Vec::new())
                    } else {
                        Ok(vec![activation_event(
                            parsed.template_id,
                            parsed.version,
                            parsed.active,
                            &command.actor,
                            command.now,
                        )])
                    }
                }
                Some(_) => Err(TemplateError::Conflict(
                    TemplateConflict::VersionImmutable {
                        template_id: parsed.template_id,
                        version: parsed.version,
                    },
                )),
            }
        }
    }
}

fn publication_events(parsed: ParsedPublication, command: &PublishVersion) -> Vec<TemplateEvent> {
    let ParsedPublication {
        template_id,
        version,
        content,
        active,
    } = parsed;
    let mut events = vec![TemplateEvent::Published {
        template_id: template_id.clone(),
        version: version.clone(),
        name: content.name,
        category: content.category,
        content_type: content.content_type,
        content: content.content,
        variable_definitions: content.variable_definitions,
        signer_config: content.signer_config,
        published_by: command.actor.clone(),
        published_at: command.now,
    }];
    if active {
        events.push(activation_event(
            template_id,
            version,
            true,
            &command.actor,
            command.now,
        ));
    }
    events
}

fn activation_event(
    template_id: TemplateId,
    version: TemplateVersion,
    active: bool,
    actor: &ClientId,
    now: DateTime<Utc>,
) -> TemplateEvent {
    if active {
        TemplateEvent::Activated {
            template_id,
            version,
            activated_by: actor.clone(),
            activated_at: now,
        }
    } else {
        TemplateEvent::Deactivated {
            template_id,
            version,
            deactivated_by: actor.clone(),
            deactivated_at: now,
        }
    }
}

fn change_activation(
    state: &TemplateState,
    command: ChangeActivation,
    active: bool,
) -> Result<Vec<TemplateEvent>, TemplateError> {
    match state {
        TemplateState::Unpublished => Err(TemplateError::NotFound(TemplateNotFound::Template)),
        TemplateState::Published(template) => {
            let published = template.version(&command.version).ok_or_else(|| {
                TemplateError::NotFound(TemplateNotFound::Version(command.version.clone()))
            })?;
            if published.is_active() == active {
                return Ok(Vec::new());
            }
            Ok(vec![activation_event(
                template.template_id.clone(),
                command.version,
                active,
                &command.actor,
                command.now,
            )])
        }
    }
}

/// Checks every field of a publication, naming each failure by its JSON path.
fn parse_request(request: &TemplateRequest) -> Result<ParsedPublication, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let template_id = errors.required(
        "templateId",
        request.template_id.as_deref(),
        TemplateId::parse,
    );
    let name = errors.required("name", request.name.as_deref(), DisplayName::parse);
    let version = errors.required(
        "version",
        request.version.as_deref(),
        TemplateVersion::parse,
    );
    let category = errors.required("category", request.category.as_deref(), Category::parse);
    let content = match request.content.as_deref() {
        None => {
            errors.push("content", "is required");
            None
        }
        Some(content) if content.trim().is_empty() => {
            errors.push("content", "must not be blank");
            None
        }
        Some(content) if content.len() > MAX_CONTENT_BYTES => {
            errors.push(
                "content",
                format!("must be at most {MAX_CONTENT_BYTES} bytes"),
            );
            None
        }
        Some(content) => Some(content),
    };
    let content_type = match request.content_type.as_deref() {
        Some(text) => errors.check("contentType", ContentType::parse(text)),
        None => content.map(infer_content_type),
    };
    let variable_definitions = parse_definitions(&request.variable_definitions, &mut errors);
    let signer_config = parse_signer_config(request.signer_config.as_ref(), &mut errors);

    if let (Some(content), Some(content_type), Some(definitions)) =
        (content, content_type, &variable_definitions)
    {
        match placeholders(content, content_type) {
            Ok(keys) => {
                let undefined: Vec<_> = keys
                    .iter()
                    .filter(|key| {
                        !definitions
                            .iter()
                            .any(|definition| definition.key.as_str() == key.as_str())
                    })
                    .map(String::as_str)
                    .collect();
                if !undefined.is_empty() {
                    errors.push(
                        "content",
                        format!(
                            "uses placeholders not in variableDefinitions: {}",
                            undefined.join(", ")
                        ),
                    );
                }
            }
            Err(error) => errors.push("content", error),
        }
    }

    match (
        template_id,
        name,
        version,
        category,
        content,
        content_type,
        variable_definitions,
        signer_config,
    ) {
        (
            Some(template_id),
            Some(name),
            Some(version),
            Some(category),
            Some(content),
            Some(content_type),
            Some(variable_definitions),
            Some(signer_config),
        ) if errors.is_empty() => Ok(ParsedPublication {
            template_id,
            version,
            content: VersionContent {
                name,
                category,
                content_type,
                content: content.to_owned(),
                variable_definitions,
                signer_config,
            },
            active: request.active.unwrap_or(true),
        }),
        _ => Err(errors),
    }
}

fn infer_content_type(content: &str) -> ContentType {
    if content.trim_start().starts_with('{') {
        ContentType::ComponentJson
    } else {
        ContentType::Html
    }
}

fn parse_definitions(
    requests: &[VariableDefinitionRequest],
    errors: &mut ValidationErrors,
) -> Option<Vec<VariableDefinition>> {
    if requests.len() > MAX_VARIABLES {
        errors.push(
            "variableDefinitions",
            format!("must have at most {MAX_VARIABLES} entries"),
        );
        return None;
    }
    let before = errors.fields().len();
    let mut definitions: Vec<VariableDefinition> = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        let path = format!("variableDefinitions[{index}]");
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
        let sample = errors.optional(
            format!("{path}.sample"),
            request.sample.as_deref(),
            LongText::parse,
        );
        if let Some(key) = &key
            && definitions.iter().any(|definition| &definition.key == key)
        {
            errors.push(format!("{path}.key"), format!("duplicates the key {key}"));
        }
        if let (Some(key), Some(name), Some(sample)) = (key, name, sample) {
            definitions.push(VariableDefinition {
                key,
                name,
                required: request.required.unwrap_or(false),
                sample,
            });
        }
    }
    (errors.fields().len() == before).then_some(definitions)
}

fn parse_signer_config(
    request: Option<&SignerConfigRequest>,
    errors: &mut ValidationErrors,
) -> Option<SignerConfig> {
    let default = SignerConfigRequest::default();
    let request = request.unwrap_or(&default);
    let before = errors.fields().len();
    // Out-of-range numbers map to values the bounds below refuse, so each is reported by its own name.
    let min = u32::try_from(request.min_signers.unwrap_or(1)).unwrap_or(0);
    let max = u32::try_from(
        request
            .max_signers
            .unwrap_or(i64::from(SignerConfig::MAX_SIGNERS)),
    )
    .unwrap_or(u32::MAX);
    if !(1..=SignerConfig::MAX_SIGNERS).contains(&min) {
        errors.push("signerConfig.minSigners", SignerConfigError::Min);
    } else if !(min..=SignerConfig::MAX_SIGNERS).contains(&max) {
        errors.push("signerConfig.maxSigners", SignerConfigError::Max);
    }
    let methods = match &request.default_sign_methods {
        None => vec![SignMethod::FaceAndSms],
        Some(names) => names
            .iter()
            .enumerate()
            .filter_map(|(index, name)| {
                errors.check(
                    format!("signerConfig.defaultSignMethods[{index}]"),
                    SignMethod::parse(name),
                )
            })
            .collect(),
    };
    if errors.fields().len() != before {
        return None;
    }
    errors.check(
        "signerConfig.defaultSignMethods",
        SignerConfig::new(min, max, methods),
    )
}
