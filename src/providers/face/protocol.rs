//! esign's generic face provider protocol, version 1: the wire shapes and the request signature that
//! [`super::http_provider::HttpFaceProvider`] speaks and the built-in sandbox serves.
//!
//! A real vendor with its own API gets its own adapter beside the HTTP one; a vendor (or a gateway in
//! front of one) that implements this protocol needs only configuration. docs/face-providers.md is the
//! full description.
//!
//! Every request in either direction (esign -> provider, provider -> esign) carries
//! `X-Provider-Timestamp` (Unix seconds), `X-Provider-Nonce` (16-64 of `[A-Za-z0-9_-]`) and
//! `X-Provider-Signature` = lowercase hex HMAC-SHA256(secret, `<timestamp>.<nonce>.<raw body>`), where
//! the secret is the one both sides share for that provider; esign's requests add `X-Provider-App-Id`.

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};

pub const APP_ID_HEADER: &str = "x-provider-app-id";
pub const TIMESTAMP_HEADER: &str = "x-provider-timestamp";
pub const NONCE_HEADER: &str = "x-provider-nonce";
pub const SIGNATURE_HEADER: &str = "x-provider-signature";

/// How far a signed message's timestamp may be from the receiver's clock, in seconds.
pub const TIMESTAMP_WINDOW_SECONDS: i64 = 300;

/// `POST /v1/face/tasks` (esign -> provider).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTaskRequest {
    pub app_id: String,
    /// esign's verification id; the provider echoes it in results.
    pub order_no: String,
    pub name: String,
    pub id_card_no: String,
    /// Where the provider posts the signed result.
    pub callback_url: String,
    /// Where the provider sends the person's browser when they are done.
    pub return_url: String,
    pub expires_at: DateTime<Utc>,
}

/// The provider's answer to a task creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTaskResponse {
    pub task_id: String,
    /// The provider's page for the person (H5 mode).
    #[serde(default)]
    pub h5_url: Option<String>,
    /// Parameters for the provider's app SDK (SDK mode).
    #[serde(default)]
    pub sdk_config: Option<SdkConfig>,
}

/// Spec 2.1.1 `sdkConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SdkConfig {
    pub app_id: String,
    pub nonce: String,
    pub signature: String,
}

/// A task's result, as the provider posts it and as `GET /v1/face/tasks/{taskId}` embeds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    pub task_id: String,
    pub order_no: String,
    pub transaction_no: String,
    pub passed: bool,
    #[serde(default)]
    pub score: Option<f64>,
    /// `FACE_MISMATCH`, `ID_CARD_MISMATCH`, `POOR_QUALITY`, ... when not passed.
    #[serde(default)]
    pub fail_reason: Option<String>,
    pub completed_at: DateTime<Utc>,
}

/// `GET /v1/face/tasks/{taskId}` (esign -> provider).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    pub task_id: String,
    /// `PENDING` until the person finished, then `COMPLETED` with `result`.
    pub status: String,
    #[serde(default)]
    pub result: Option<TaskResult>,
}

/// The signature of one message.
pub fn sign(secret: &str, timestamp: i64, nonce: &str, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, nonce, body).finalize().into_bytes())
}

/// Why a signed message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("header {0} is missing or not text")]
    Missing(&'static str),
    #[error("the timestamp is not Unix seconds")]
    BadTimestamp,
    #[error("the timestamp is outside the ±{TIMESTAMP_WINDOW_SECONDS} s window")]
    Stale,
    #[error("the nonce is not 16-64 of [A-Za-z0-9_-]")]
    BadNonce,
    #[error("the signature does not match")]
    Mismatch,
}

/// A message whose signature and timestamp checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub timestamp: i64,
    pub nonce: String,
}

/// Checks a message's signature (in constant time) and its timestamp against `now`.
pub fn verify(
    secret: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Signed, SignatureError> {
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .ok_or(SignatureError::Missing(name))
    };
    let timestamp: i64 = header(TIMESTAMP_HEADER)?
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let nonce = header(NONCE_HEADER)?;
    let signature = header(SIGNATURE_HEADER)?;
    if !(16..=64).contains(&nonce.len())
        || !nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(SignatureError::BadNonce);
    }
    let expected = hex::decode(signature).map_err(|_| SignatureError::Mismatch)?;
    // `verify_slice` compares in constant time.
    mac(secret, timestamp, nonce, body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)?;
    // `abs_diff`: a signed timestamp near either end of i64 must not overflow the subtraction.
    if now.timestamp().abs_diff(timestamp) > TIMESTAMP_WINDOW_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    Ok(Signed {
        timestamp,
        nonce: nonce.to_owned(),
    })
}

/// A fresh nonce for an outgoing message.
pub fn new_nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The three signing headers for a message sent now.
pub fn signing_headers(secret: &str, body: &[u8]) -> [(&'static str, String); 3] {
    let timestamp = Utc::now().timestamp();
    let nonce = new_nonce();
    let signature = sign(secret, timestamp, &nonce, body);
    [
        (TIMESTAMP_HEADER, timestamp.to_string()),
        (NONCE_HEADER, nonce),
        (SIGNATURE_HEADER, signature),
    ]
}

fn mac(secret: &str, timestamp: i64, nonce: &str, body: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    // HMAC takes keys of any length; the fallback is never taken.
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| <hmac::Hmac<sha2::Sha256> as KeyInit>::new(&Default::default()));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(nonce.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn headers(timestamp: i64, nonce: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            TIMESTAMP_HEADER,
            HeaderValue::from_str(&timestamp.to_string()).unwrap(),
        );
        headers.insert(NONCE_HEADER, HeaderValue::from_str(nonce).unwrap());
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
        headers
    }

    #[test]
    fn a_signed_message_verifies_and_any_change_breaks_it() {
        let now = Utc::now();
        let nonce = "nonce-0123456789abcdef";
        let body = br#"{"taskId":"T1"}"#;
        let signature = sign("secret-0123456789", now.timestamp(), nonce, body);
        let good = headers(now.timestamp(), nonce, &signature);
        assert_eq!(
            verify("secret-0123456789", &good, body, now).unwrap().nonce,
            nonce
        );
        assert_eq!(
            verify("another-secret-000", &good, body, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("secret-0123456789", &good, br#"{"taskId":"T2"}"#, now),
            Err(SignatureError::Mismatch)
        );
        let shifted = headers(now.timestamp() + 1, nonce, &signature);
        assert_eq!(
            verify("secret-0123456789", &shifted, body, now),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn an_old_timestamp_is_refused_even_when_signed() {
        let now = Utc::now();
        let then = now.timestamp() - TIMESTAMP_WINDOW_SECONDS - 1;
        let nonce = "nonce-0123456789abcdef";
        let signature = sign("secret-0123456789", then, nonce, b"{}");
        assert_eq!(
            verify(
                "secret-0123456789",
                &headers(then, nonce, &signature),
                b"{}",
                now
            ),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn a_signed_timestamp_at_the_ends_of_the_integer_range_is_stale_not_a_panic() {
        // `now - timestamp` overflowed for these (a panic with overflow checks on).
        let now = Utc::now();
        for timestamp in [i64::MIN, i64::MIN + 1, i64::MAX] {
            let nonce = "abcdefgh_ABCD-12";
            let signature = sign("secret", timestamp, nonce, b"{}");
            assert_eq!(
                verify("secret", &headers(timestamp, nonce, &signature), b"{}", now),
                Err(SignatureError::Stale)
            );
        }
    }
}
