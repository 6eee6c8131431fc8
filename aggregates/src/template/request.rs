//! Publishing a template version (spec 2.1.3, `POST /api/v1/template`): the request's wire shape and
//! its validation, naming every bad field at once.

use serde::{Deserialize, Serialize};

use super::{
    MAX_CONTENT_BYTES, MAX_VARIABLES, SignerConfig, SignerConfigError, VariableDefinition,
    VariableKey, VersionContent, placeholders, places,
};
use crate::errors::ValidationErrors;
use crate::values::{
    Category, ContentType, DisplayName, LongText, SignMethod, TemplateId, TemplateVersion,
};
use crate::versioned::Publication;

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

/// Checks every field of a publication, naming each failure by its JSON path.
pub(super) fn parse_request(
    request: &TemplateRequest,
) -> Result<Publication<VersionContent>, ValidationErrors> {
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
    if let (Some(content), Some(content_type)) = (content, content_type) {
        for problem in places::place_problems(content, content_type) {
            errors.push("content", problem);
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
        ) if errors.is_empty() => Ok(Publication {
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
