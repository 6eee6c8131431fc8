//! The `[sms]` section: which sender carries text messages, and the rules for signing codes and
//! payment-verification notices.

use std::time::Duration;

use chrono::TimeDelta;
use serde::Deserialize;

use aggregates::values::Mode;

/// Which [`super::SmsSender`] the service uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SenderKind {
    /// Keeps messages in memory and logs them (numbers masked). Refused in production.
    #[default]
    Development,
    /// JSON POST to the message centre (spec 3.2, 7.2.4).
    MessageCentre,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    pub sender: SenderKind,
    /// The message centre's send endpoint (`message_centre` only).
    pub url: Option<String>,
    /// The header that carries `auth_token` (e.g. `Authorization`, `X-Api-Key`).
    pub auth_header: Option<String>,
    pub auth_token: Option<String>,
    /// The whole exchange with the message centre, connect included.
    pub timeout_ms: u64,
    /// How long a signing code may be entered (spec 4.1.2 step 3).
    pub code_ttl_seconds: u64,
    /// How long a signer waits before another code is sent on the same link.
    pub resend_cooldown_seconds: u64,
    /// Wrong codes allowed on one sign link; the last one locks SMS checks on that link.
    pub max_attempts: u32,
    /// Attempts to deliver one notice before it is left FAILED for an operator.
    pub notice_max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each further failure.
    pub notice_retry_base_seconds: u64,
    /// How often the background sweep looks for notices to (re)send.
    pub sweep_interval_ms: u64,
    /// An attempt with no recorded outcome after this long is presumed lost (the instance that made
    /// it stopped) and the sweep makes the next one.
    pub attempt_lease_seconds: u64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            sender: SenderKind::Development,
            url: None,
            auth_header: None,
            auth_token: None,
            timeout_ms: 5_000,
            code_ttl_seconds: 300,
            resend_cooldown_seconds: 60,
            max_attempts: 5,
            notice_max_attempts: 5,
            notice_retry_base_seconds: 30,
            sweep_interval_ms: 5_000,
            attempt_lease_seconds: 120,
        }
    }
}

impl SmsConfig {
    /// Refuses settings that cannot work, and the development sender in production.
    pub fn check(&self, mode: Mode) -> Result<(), String> {
        match self.sender {
            SenderKind::Development if mode == Mode::Production => {
                return Err(
                    "sms.sender = \"development\" keeps codes in memory and is refused in \
                     production; configure sms.sender = \"message_centre\""
                        .into(),
                );
            }
            SenderKind::Development => {}
            SenderKind::MessageCentre => {
                let url = self
                    .url
                    .as_deref()
                    .ok_or("sms.url is required for the message centre sender")?;
                let parsed = url::Url::parse(url).map_err(|e| format!("sms.url: {e}"))?;
                let allowed: &[&str] = match mode {
                    Mode::Production => &["https"],
                    Mode::Development => &["https", "http"],
                };
                if !allowed.contains(&parsed.scheme()) {
                    return Err(format!(
                        "sms.url must use {} in this mode",
                        allowed.join(" or ")
                    ));
                }
                match (&self.auth_header, &self.auth_token) {
                    (Some(name), Some(_)) => {
                        axum::http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                            format!("sms.auth_header {name:?} is not a header name")
                        })?;
                    }
                    (None, None) if mode == Mode::Development => {}
                    _ => {
                        return Err(
                            "sms.auth_header and sms.auth_token are required together".into()
                        );
                    }
                }
            }
        }
        if !(1..=60_000).contains(&self.timeout_ms) {
            return Err("sms.timeout_ms must be between 1 and 60000".into());
        }
        if !(60..=1_800).contains(&self.code_ttl_seconds) {
            return Err("sms.code_ttl_seconds must be between 60 and 1800".into());
        }
        if self.resend_cooldown_seconds > self.code_ttl_seconds {
            return Err("sms.resend_cooldown_seconds must not exceed sms.code_ttl_seconds".into());
        }
        if !(1..=10).contains(&self.max_attempts) {
            return Err("sms.max_attempts must be between 1 and 10".into());
        }
        if !(1..=20).contains(&self.notice_max_attempts) {
            return Err("sms.notice_max_attempts must be between 1 and 20".into());
        }
        if !(1..=86_400).contains(&self.notice_retry_base_seconds) {
            return Err("sms.notice_retry_base_seconds must be between 1 and 86400".into());
        }
        if !(50..=3_600_000).contains(&self.sweep_interval_ms) {
            return Err("sms.sweep_interval_ms must be between 50 and 3600000".into());
        }
        if !(1..=86_400).contains(&self.attempt_lease_seconds) {
            return Err("sms.attempt_lease_seconds must be between 1 and 86400".into());
        }
        // An attempt still talking to the sender must not be presumed lost, or the text goes twice.
        if self.attempt_lease_seconds.saturating_mul(1_000) <= self.timeout_ms {
            return Err("sms.attempt_lease_seconds must be longer than sms.timeout_ms".into());
        }
        Ok(())
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The signing-code rules the contract aggregate applies.
    pub fn code_policy(&self) -> aggregates::contract::SmsCodePolicy {
        aggregates::contract::SmsCodePolicy {
            ttl: seconds(self.code_ttl_seconds),
            resend_cooldown: seconds(self.resend_cooldown_seconds),
            max_failed_attempts: self.max_attempts,
        }
    }

    /// The retry rules the notice aggregate applies.
    pub fn notice_policy(&self) -> aggregates::sms_notice::RetryPolicy {
        aggregates::sms_notice::RetryPolicy {
            max_attempts: self.notice_max_attempts,
            base_delay: seconds(self.notice_retry_base_seconds),
        }
    }
}

fn seconds(value: u64) -> TimeDelta {
    TimeDelta::try_seconds(i64::try_from(value).unwrap_or(i64::MAX)).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass_in_development_and_the_development_sender_fails_in_production() {
        let config = SmsConfig::default();
        assert!(config.check(Mode::Development).is_ok());
        assert!(config.check(Mode::Production).is_err());
    }

    #[test]
    fn the_message_centre_needs_an_https_url_and_credentials_in_production() {
        let mut config = SmsConfig {
            sender: SenderKind::MessageCentre,
            url: Some("http://mc.internal/send".into()),
            ..SmsConfig::default()
        };
        assert!(config.check(Mode::Development).is_ok());
        assert!(config.check(Mode::Production).is_err());
        config.url = Some("https://mc.internal/send".into());
        assert!(config.check(Mode::Production).is_err());
        config.auth_header = Some("X-Api-Key".into());
        config.auth_token = Some("token".into());
        assert!(config.check(Mode::Production).is_ok());
        config.auth_header = Some("bad header".into());
        assert!(config.check(Mode::Production).is_err());
    }

    #[test]
    fn a_cooldown_longer_than_the_code_is_refused() {
        let config = SmsConfig {
            resend_cooldown_seconds: 600,
            ..SmsConfig::default()
        };
        assert!(config.check(Mode::Development).is_err());
    }
}
