//! Publishing an SMS template version (`POST /api/v1/notification/sms-templates`): the request's wire
//! shape and its validation, naming every bad field at once.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{
    DEFAULT_MAX_LENGTH, MAX_VALUE_CHARS, MAX_VARIABLES, SmsContent, SmsVariable, SmsVersionContent,
    placeholders,
};
use crate::errors::ValidationErrors;
use crate::template::VariableKey;
use crate::values::{DisplayName, TemplateId, TemplateVersion};
use crate::versioned::Publication;

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

pub(super) fn parse_request(
    request: &SmsTemplateRequest,
) -> Result<Publication<SmsVersionContent>, ValidationErrors> {
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
            Ok(Publication {
                template_id: template_code,
                version,
                content: SmsVersionContent {
                    name,
                    content,
                    variables,
                },
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
