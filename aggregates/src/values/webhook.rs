//! Extra headers a caller wants on its callbacks (`webhookConfig.headers`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Sensitive;
use crate::errors::ValidationErrors;

/// At most this many extra headers per callback.
pub const MAX_WEBHOOK_HEADERS: usize = 20;
/// Header names are at most this long.
pub const MAX_HEADER_NAME_LEN: usize = 64;
/// Header values are at most this long.
pub const MAX_HEADER_VALUE_LEN: usize = 1024;

/// Headers the service sets itself: a caller must not override framing or the callback signature.
const RESERVED: [&str; 6] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "user-agent",
];
const RESERVED_PREFIX: &str = "x-esign-";

/// The wire shape of `webhookConfig`. `Debug` shows header names only: values are often credentials.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfigRequest {
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for WebhookConfigRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfigRequest")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Validated callback headers. The values are often credentials (`Authorization: Bearer ...`), so each is
/// [`Sensitive`]: the service encrypts them in events like personal data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookHeaders(BTreeMap<String, Sensitive<String>>);

impl WebhookHeaders {
    /// Checks every header, recording each bad one under `<path>.headers.<name>`.
    pub fn collect(
        config: Option<&WebhookConfigRequest>,
        path: &str,
        errors: &mut ValidationErrors,
    ) -> Self {
        let Some(config) = config else {
            return Self::default();
        };
        if config.headers.len() > MAX_WEBHOOK_HEADERS {
            errors.push(
                format!("{path}.headers"),
                format!("must have at most {MAX_WEBHOOK_HEADERS} headers"),
            );
        }
        let mut headers = BTreeMap::new();
        for (name, value) in &config.headers {
            let field = format!("{path}.headers.{name}");
            match check_header(name, value) {
                Ok(()) => {
                    headers.insert(name.clone(), Sensitive::new(value.clone()));
                }
                Err(reason) => errors.push(field, reason),
            }
        }
        Self(headers)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.expose().as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn check_header(name: &str, value: &str) -> Result<(), &'static str> {
    // RFC 9110 token characters.
    let token = |byte: u8| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte);
    if name.is_empty() || name.len() > MAX_HEADER_NAME_LEN || !name.bytes().all(token) {
        return Err("is not a valid header name");
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED.contains(&lower.as_str()) || lower.starts_with(RESERVED_PREFIX) {
        return Err("is set by the platform and cannot be overridden");
    }
    // Visible ASCII, spaces and tabs only: CR or LF would inject headers.
    let visible = |byte: u8| byte == b'\t' || (b' '..=b'~').contains(&byte);
    if value.len() > MAX_HEADER_VALUE_LEN || !value.bytes().all(visible) {
        return Err("must be at most 1024 visible ASCII characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> WebhookConfigRequest {
        WebhookConfigRequest {
            headers: pairs
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        }
    }

    #[test]
    fn valid_headers_are_kept_and_marked_sensitive_in_json() {
        let mut errors = ValidationErrors::new();
        let headers = WebhookHeaders::collect(
            Some(&config(&[("Authorization", "Bearer abc")])),
            "webhookConfig",
            &mut errors,
        );
        assert!(errors.is_empty());
        assert_eq!(
            headers.iter().collect::<Vec<_>>(),
            vec![("Authorization", "Bearer abc")]
        );
        assert_eq!(
            serde_json::to_value(&headers).unwrap(),
            serde_json::json!({"Authorization": {"$pii": "Bearer abc"}})
        );
    }

    #[test]
    fn injected_reserved_and_malformed_headers_are_named() {
        let mut errors = ValidationErrors::new();
        WebhookHeaders::collect(
            Some(&config(&[
                ("X-Evil", "a\r\nX-Injected: 1"),
                ("X-Esign-Signature", "forged"),
                ("Bad Name", "x"),
            ])),
            "webhookConfig",
            &mut errors,
        );
        assert!(errors.names("webhookConfig.headers.X-Evil"));
        assert!(errors.names("webhookConfig.headers.X-Esign-Signature"));
        assert!(errors.names("webhookConfig.headers.Bad Name"));
    }
}
