//! Remote RFC 3161 timestamp authorities (`TSA` archiving, `[trust] tsa_urls`, and the platform
//! seal's `seal_tsa_urls`), asked over HTTP in turn until one answers with a token that verifies.

use std::time::Duration;

use async_trait::async_trait;
use x509_cert::Certificate;

use crate::trust::Ca;
use crate::trust::config::TrustConfig;
use crate::trust::timestamper::Timestamper;
use crate::trust::tsa::{
    ClientError, QUERY_MEDIA_TYPE, REPLY_MEDIA_TYPE, Timestamp, accept_response, random_nonce,
    request_der,
};

/// An RFC 3161 client over HTTP: TSAs tried in order, each with its own timeout.
#[derive(Debug, Clone)]
pub struct Client {
    urls: Vec<String>,
    http: reqwest::Client,
    anchors: Vec<Certificate>,
    intermediates: Vec<Certificate>,
}

const MAX_RESPONSE_BYTES: usize = 256 * 1024;

impl Client {
    /// `anchors`: roots a TSA certificate must chain to; `intermediates`: extra CA certificates
    /// for building that chain when a token does not carry them.
    pub fn new(
        urls: Vec<String>,
        timeout: Duration,
        anchors: Vec<Certificate>,
        intermediates: Vec<Certificate>,
    ) -> Result<Self, ClientError> {
        if urls.is_empty() {
            return Err(ClientError::NoUrls);
        }
        if anchors.is_empty() {
            return Err(ClientError::Setup(
                "no trust anchor for TSA certificates".into(),
            ));
        }
        let http =
            super::outbound::client(timeout).map_err(|e| ClientError::Setup(e.to_string()))?;
        Ok(Self {
            urls,
            http,
            anchors,
            intermediates,
        })
    }

    /// From `[trust]`: `tsa_urls` (default: this service's own `/tsa`), `tsa_trust_anchors`
    /// (default: the platform root, with its intermediate).
    pub fn from_config(
        trust: &TrustConfig,
        public_base_url: &str,
        ca: Option<&Ca>,
    ) -> Result<Self, ClientError> {
        let urls = if trust.tsa_urls.is_empty() {
            vec![format!("{}/tsa", public_base_url.trim_end_matches('/'))]
        } else {
            trust.tsa_urls.clone()
        };
        Self::with_urls(trust, ca, urls)
    }

    /// Like [`Self::from_config`], asking `urls` (e.g. `[trust] seal_tsa_urls`).
    pub fn with_urls(
        trust: &TrustConfig,
        ca: Option<&Ca>,
        urls: Vec<String>,
    ) -> Result<Self, ClientError> {
        let mut anchors = Vec::new();
        for path in &trust.tsa_trust_anchors {
            let text = std::fs::read(path)
                .map_err(|e| ClientError::Setup(format!("{}: {e}", path.display())))?;
            anchors.extend(
                Certificate::load_pem_chain(&text)
                    .map_err(|e| ClientError::Setup(format!("{}: {e}", path.display())))?,
            );
        }
        let mut intermediates = Vec::new();
        if let Some(ca) = ca {
            if trust.tsa_trust_anchors.is_empty() {
                anchors.push(ca.root().clone());
            }
            intermediates.push(ca.intermediate().clone());
        }
        Self::new(
            urls,
            Duration::from_millis(trust.tsa_timeout_ms),
            anchors,
            intermediates,
        )
    }

    /// A verified timestamp token for `digest` (the SHA-256 of the data), from the first TSA that
    /// gives one. Each failure is logged and the next URL tried.
    pub async fn timestamp(&self, digest: &[u8; 32]) -> Result<Timestamp, ClientError> {
        let mut unavailable = Vec::new();
        let mut worst: Option<ClientError> = None;
        for url in &self.urls {
            match self.ask(url, digest).await {
                Ok(timestamp) => return Ok(timestamp),
                Err(error) => {
                    tracing::warn!(%url, %error, "timestamp authority failed; trying the next");
                    match error {
                        ClientError::Unavailable(reason) => {
                            unavailable.push(format!("{url}: {reason}"))
                        }
                        ClientError::InvalidResponse { .. } => {
                            if !matches!(worst, Some(ClientError::InvalidResponse { .. })) {
                                worst = Some(error);
                            }
                        }
                        other => {
                            if worst.is_none() {
                                worst = Some(other);
                            }
                        }
                    }
                }
            }
        }
        Err(worst.unwrap_or_else(|| ClientError::Unavailable(unavailable.join("; "))))
    }

    async fn ask(&self, url: &str, digest: &[u8; 32]) -> Result<Timestamp, ClientError> {
        let invalid = |reason: String| ClientError::InvalidResponse {
            url: url.to_owned(),
            reason,
        };
        let nonce = random_nonce()?;
        let body = request_der(digest, nonce).map_err(|e| ClientError::Setup(e.to_string()))?;
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, QUERY_MEDIA_TYPE)
            .body(body)
            .send()
            .await
            .map_err(|e| ClientError::Unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(ClientError::Unavailable(format!(
                "HTTP {}",
                response.status()
            )));
        }
        let media_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unavailable(e.to_string()))?;
        if !media_type.starts_with(REPLY_MEDIA_TYPE) {
            return Err(invalid(format!(
                "content type {media_type:?} is not {REPLY_MEDIA_TYPE}"
            )));
        }
        if bytes.len() > MAX_RESPONSE_BYTES {
            return Err(invalid("the response is too large".into()));
        }
        accept_response(
            url,
            &bytes,
            digest,
            nonce,
            &self.anchors,
            &self.intermediates,
        )
    }
}

#[async_trait]
impl Timestamper for Client {
    async fn timestamp(&self, digest: &[u8; 32]) -> Result<Timestamp, ClientError> {
        Client::timestamp(self, digest).await
    }
}
