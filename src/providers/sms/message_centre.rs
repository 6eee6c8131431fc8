//! The message centre (spec 3.2, 7.2.4): text messages leave as a JSON POST to its send endpoint.
//!
//! Request: `{"mobile": "13800138000", "content": "...", "purpose": "NOTICE"}` with the configured
//! authentication header. A 2xx answer accepts the message; its `messageId` (or `id`) names it. A
//! timeout, a connection failure, 408, 429 or 5xx means "try again later" ([`SmsError::Unavailable`]);
//! any other answer refuses this message for good ([`SmsError::Rejected`]).

use std::time::Instant;

use reqwest::StatusCode;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::Value;

use super::{SmsConfig, SmsError, SmsMessage, SmsReceipt, SmsSender};
use crate::metrics::Metrics;

/// The name the message centre goes by in receipts, metrics and events.
pub const SENDER_NAME: &str = "message-centre";

/// How much of a refusal's body is kept in the error (it may end up in an event).
const MAX_REASON_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum MessageCentreConfigError {
    #[error("sms.url is required for the message centre sender")]
    MissingUrl,
    #[error("sms.auth_header / sms.auth_token: {0}")]
    Credentials(String),
    #[error(transparent)]
    Client(#[from] crate::providers::outbound::ClientBuildError),
}

/// Sends through the message centre's HTTP API.
pub struct MessageCentreSender {
    client: reqwest::Client,
    url: String,
    auth: Option<(HeaderName, HeaderValue)>,
    metrics: Option<std::sync::Arc<Metrics>>,
}

impl std::fmt::Debug for MessageCentreSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never printed.
        f.debug_struct("MessageCentreSender")
            .field("url", &self.url)
            .field("auth_header", &self.auth.as_ref().map(|(name, _)| name))
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct SendRequest<'a> {
    mobile: &'a str,
    content: &'a str,
    purpose: &'a str,
}

impl MessageCentreSender {
    pub fn new(
        config: &SmsConfig,
        metrics: Option<std::sync::Arc<Metrics>>,
    ) -> Result<Self, MessageCentreConfigError> {
        let url = config
            .url
            .clone()
            .ok_or(MessageCentreConfigError::MissingUrl)?;
        let auth = match (&config.auth_header, &config.auth_token) {
            (Some(name), Some(token)) => {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| MessageCentreConfigError::Credentials(e.to_string()))?;
                let mut value = HeaderValue::from_str(token)
                    .map_err(|e| MessageCentreConfigError::Credentials(e.to_string()))?;
                value.set_sensitive(true);
                Some((name, value))
            }
            (None, None) => None,
            _ => {
                return Err(MessageCentreConfigError::Credentials(
                    "both or neither must be set".into(),
                ));
            }
        };
        Ok(Self {
            client: crate::providers::outbound::client(config.timeout())?,
            url,
            auth,
            metrics,
        })
    }

    async fn post(&self, message: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let mut request = self.client.post(&self.url).json(&SendRequest {
            mobile: message.mobile.as_str(),
            content: &message.text,
            purpose: message.purpose,
        });
        if let Some((name, value)) = &self.auth {
            request = request.header(name.clone(), value.clone());
        }
        let response = request.send().await.map_err(|error| {
            let what = if error.is_timeout() {
                "timed out"
            } else if error.is_connect() {
                "connection failed"
            } else {
                "request failed"
            };
            SmsError::Unavailable(format!("message centre {what}"))
        })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            let message_id = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|json| {
                    ["messageId", "id"]
                        .iter()
                        .find_map(|key| json.get(key).and_then(json_id))
                })
                .ok_or_else(|| {
                    SmsError::Unavailable(format!(
                        "message centre answered {status} without a messageId"
                    ))
                })?;
            return Ok(SmsReceipt {
                sender: SENDER_NAME,
                message_id,
            });
        }
        let reason = format!("message centre answered {status}: {}", excerpt(&body));
        if retryable(status) {
            Err(SmsError::Unavailable(reason))
        } else {
            Err(SmsError::Rejected(reason))
        }
    }
}

/// Whether an answer means "later" rather than "never".
fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

fn json_id(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(text.chars().take(128).collect()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The start of a response body on one line, so a refusal's reason stays readable and small.
fn excerpt(body: &str) -> String {
    body.chars()
        .filter(|c| !c.is_control())
        .take(MAX_REASON_CHARS)
        .collect()
}

#[async_trait::async_trait]
impl SmsSender for MessageCentreSender {
    async fn send(&self, message: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let started = Instant::now();
        let outcome = self.post(message).await;
        let label = match &outcome {
            Ok(_) => "ok",
            Err(SmsError::Unavailable(_)) => "unavailable",
            Err(SmsError::Rejected(_)) => "rejected",
        };
        if let Some(metrics) = &self.metrics {
            metrics.provider_call(SENDER_NAME, "send_sms", label, started.elapsed());
        }
        match &outcome {
            Ok(receipt) => tracing::info!(
                mobile = %message.mobile.masked(),
                purpose = message.purpose,
                message_id = %receipt.message_id,
                "message centre accepted an SMS"
            ),
            Err(error) => tracing::warn!(
                mobile = %message.mobile.masked(),
                purpose = message.purpose,
                %error,
                "message centre did not take an SMS"
            ),
        }
        outcome
    }

    fn name(&self) -> &'static str {
        SENDER_NAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_timeouts_and_throttling_are_retryable_other_refusals_are_not() {
        assert!(retryable(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(retryable(StatusCode::SERVICE_UNAVAILABLE));
        assert!(retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(retryable(StatusCode::REQUEST_TIMEOUT));
        assert!(!retryable(StatusCode::BAD_REQUEST));
        assert!(!retryable(StatusCode::UNAUTHORIZED));
        assert!(!retryable(StatusCode::UNPROCESSABLE_ENTITY));
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let config = SmsConfig {
            sender: super::super::SenderKind::MessageCentre,
            url: Some("http://127.0.0.1:9/send".into()),
            auth_header: Some("X-Api-Key".into()),
            auth_token: Some("very-secret-token".into()),
            ..SmsConfig::default()
        };
        let sender = MessageCentreSender::new(&config, None).unwrap();
        assert!(!format!("{sender:?}").contains("very-secret-token"));
    }
}
