//! Filling a template's `{{key}}` placeholders: the preview a signer sees, whose hash the contract keeps.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::values::ContentType;

/// The longest variable key.
pub const MAX_KEY_LEN: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to 64 characters of letters, digits and _, not starting with a digit")]
pub struct VariableKeyError;

/// A variable's key (`payerName`): an identifier, so `{{key}}` can never be confused with content and
/// the key can be used in a JSON path (`variables.payerName`) unquoted.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VariableKey(String);

impl VariableKey {
    pub fn parse(input: &str) -> Result<Self, VariableKeyError> {
        if is_key(input) {
            Ok(Self(input.to_owned()))
        } else {
            Err(VariableKeyError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_key(text: &str) -> bool {
    let mut bytes = text.bytes();
    let first_ok = matches!(bytes.next(), Some(byte) if byte.is_ascii_alphabetic() || byte == b'_');
    first_ok
        && text.len() <= MAX_KEY_LEN
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

impl Borrow<str> for VariableKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl FromStr for VariableKey {
    type Err = VariableKeyError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl TryFrom<String> for VariableKey {
    type Error = VariableKeyError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        Self::parse(&input)
    }
}

impl From<VariableKey> for String {
    fn from(key: VariableKey) -> String {
        key.0
    }
}

impl fmt::Display for VariableKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("has placeholders without a value: {}", keys.join(", "))]
    UnknownPlaceholders { keys: Vec<String> },
    #[error(
        "has a malformed placeholder at byte {offset}: expected {{{{key}}}} with a letter, digit or _ key"
    )]
    MalformedPlaceholder { offset: usize },
    #[error("is not valid JSON: {reason}")]
    InvalidJson { reason: String },
}

/// Fills every `{{key}}` (inner spaces allowed: `{{ key }}`) with its value.
///
/// - HTML: values are HTML-escaped, so a variable can never inject markup or script.
/// - COMPONENT_JSON: the content must be JSON; placeholders are filled inside string values only and the
///   result is re-serialised (compact, object keys sorted), so a value can never break out of its
///   string. Placeholders in object keys are left as written.
///
/// Substituted values are not scanned again, so a value containing `{{x}}` stays literal. Every
/// placeholder without a value is reported at once, by key.
pub fn render(
    content: &str,
    content_type: ContentType,
    variables: &BTreeMap<String, String>,
) -> Result<String, RenderError> {
    match content_type {
        ContentType::Html => {
            let mut unknown = BTreeSet::new();
            let rendered = fill(content, variables, Escape::Html, &mut unknown)?;
            unknown_error(unknown).map(|()| rendered)
        }
        ContentType::ComponentJson => {
            let mut document = parse_json(content)?;
            let mut unknown = BTreeSet::new();
            fill_json(&mut document, variables, &mut unknown)?;
            unknown_error(unknown)?;
            serde_json::to_string(&document).map_err(|error| RenderError::InvalidJson {
                reason: error.to_string(),
            })
        }
    }
}

/// The keys of every placeholder in the content (for COMPONENT_JSON, those inside string values).
pub fn placeholders(
    content: &str,
    content_type: ContentType,
) -> Result<BTreeSet<String>, RenderError> {
    let mut keys = BTreeSet::new();
    let no_values = BTreeMap::new();
    match content_type {
        ContentType::Html => {
            fill(content, &no_values, Escape::Html, &mut keys)?;
        }
        ContentType::ComponentJson => {
            let mut document = parse_json(content)?;
            fill_json(&mut document, &no_values, &mut keys)?;
        }
    }
    Ok(keys)
}

fn parse_json(content: &str) -> Result<serde_json::Value, RenderError> {
    serde_json::from_str(content).map_err(|error| RenderError::InvalidJson {
        reason: error.to_string(),
    })
}

fn unknown_error(unknown: BTreeSet<String>) -> Result<(), RenderError> {
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(RenderError::UnknownPlaceholders {
            keys: unknown.into_iter().collect(),
        })
    }
}

#[derive(Clone, Copy)]
enum Escape {
    Html,
    None,
}

fn fill_json(
    value: &mut serde_json::Value,
    variables: &BTreeMap<String, String>,
    unknown: &mut BTreeSet<String>,
) -> Result<(), RenderError> {
    match value {
        serde_json::Value::String(text) => {
            *text = fill(text, variables, Escape::None, unknown)?;
        }
        serde_json::Value::Array(items) => {
            for item in items {
                fill_json(item, variables, unknown)?;
            }
        }
        serde_json::Value::Object(fields) => {
            for field in fields.values_mut() {
                fill_json(field, variables, unknown)?;
            }
        }
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
    }
    Ok(())
}

/// One pass over `text`: literal runs are copied, placeholders replaced; keys without a value are added
/// to `unknown` and rendered as nothing (the caller turns a non-empty `unknown` into an error).
fn fill(
    text: &str,
    variables: &BTreeMap<String, String>,
    escape: Escape,
    unknown: &mut BTreeSet<String>,
) -> Result<String, RenderError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after_open = &rest[start + 2..];
        let malformed = || RenderError::MalformedPlaceholder {
            offset: offset + start,
        };
        let end = after_open.find("}}").ok_or_else(malformed)?;
        let key = after_open[..end].trim();
        if !is_key(key) {
            return Err(malformed());
        }
        match variables.get(key) {
            Some(value) => push_escaped(&mut out, value, escape),
            None => {
                unknown.insert(key.to_owned());
            }
        }
        let consumed = start + 2 + end + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

fn push_escaped(out: &mut String, value: &str, escape: Escape) {
    match escape {
        Escape::None => out.push_str(value),
        Escape::Html => {
            for character in value.chars() {
                match character {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#x27;"),
                    other => out.push(other),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn html_placeholders_are_filled_with_escaped_values() {
        let rendered = render(
            "<p>付款方: {{payerName}}, 收款方: {{ receiverName }}</p>",
            ContentType::Html,
            &vars(&[("payerName", "XX品牌<总部>"), ("receiverName", "A & \"B\"")]),
        )
        .unwrap();
        assert_eq!(
            rendered,
            "<p>付款方: XX品牌&lt;总部&gt;, 收款方: A &amp; &quot;B&quot;</p>"
        );
    }

    #[test]
    fn every_placeholder_without_a_value_is_named() {
        let error = render(
            "{{a}} {{b}} {{a}} {{c}}",
            ContentType::Html,
            &vars(&[("b", "x")]),
        )
        .unwrap_err();
        assert_eq!(
            error,
            RenderError::UnknownPlaceholders {
                keys: vec!["a".to_string(), "c".to_string()]
            }
        );
    }

    #[test]
    fn an_unclosed_or_non_identifier_placeholder_is_malformed() {
        assert_eq!(
            render("ok {{payerName", ContentType::Html, &vars(&[])),
            Err(RenderError::MalformedPlaceholder { offset: 3 })
        );
        assert_eq!(
            render("{{a}}{{pay-er}}", ContentType::Html, &vars(&[("a", "1")])),
            Err(RenderError::MalformedPlaceholder { offset: 5 })
        );
    }

    #[test]
    fn a_value_that_looks_like_a_placeholder_stays_literal() {
        let rendered = render("{{a}}", ContentType::Html, &vars(&[("a", "{{b}}")])).unwrap();
        assert_eq!(rendered, "{{b}}");
    }

    #[test]
    fn component_json_values_cannot_break_out_of_their_strings() {
        let content =
            r#"{"components":[{"type":"text","value":"付款方: {{payerName}}"}],"size":12}"#;
        let rendered = render(
            content,
            ContentType::ComponentJson,
            &vars(&[("payerName", "\"},{\"type\":\"evil")]),
        )
        .unwrap();
        let document: serde_json::Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(
            document["components"][0]["value"],
            serde_json::json!("付款方: \"},{\"type\":\"evil")
        );
        assert_eq!(document["components"].as_array().unwrap().len(), 1);
        assert_eq!(document["size"], serde_json::json!(12));
    }

    #[test]
    fn component_json_must_be_json() {
        assert!(matches!(
            render("{not json", ContentType::ComponentJson, &vars(&[])),
            Err(RenderError::InvalidJson { .. })
        ));
    }

    #[test]
    fn placeholders_lists_every_key_once() {
        let keys = placeholders(
            r#"{"a":"{{x}} {{y}}","b":["{{x}}"]}"#,
            ContentType::ComponentJson,
        )
        .unwrap();
        assert_eq!(keys.into_iter().collect::<Vec<_>>(), vec!["x", "y"]);
    }

    #[test]
    fn variable_keys_are_identifiers() {
        assert!(VariableKey::parse("payerName").is_ok());
        assert!(VariableKey::parse("_x1").is_ok());
        assert!(VariableKey::parse("1x").is_err());
        assert!(VariableKey::parse("payer.name").is_err());
        assert!(VariableKey::parse("").is_err());
        assert!(VariableKey::parse(&"a".repeat(65)).is_err());
    }
}
