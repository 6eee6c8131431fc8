//! An upstream caller: every request signed with the bench client's secret (docs/request-signing.md).

use std::time::Duration;

use esign::http::auth::{
    HEADER_CLIENT_ID, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, canonical_request, sign,
};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{method} {path}: {source}")]
    Transport {
        method: Method,
        path: String,
        source: reqwest::Error,
    },
    #[error("{method} {path} answered {status}: {body}")]
    Status {
        method: Method,
        path: String,
        status: StatusCode,
        body: String,
    },
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// Signs and sends requests to one service. Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct SignedClient {
    http: reqwest::Client,
    base_url: String,
    client_id: String,
    secret: Vec<u8>,
}

impl SignedClient {
    pub fn new(base_url: &str, client_id: &str, secret: &[u8]) -> Result<Self, CallError> {
        let http = esign::providers::outbound::client_builder(Duration::from_secs(60))
            .pool_max_idle_per_host(usize::MAX)
            .build()
            .map_err(|e| CallError::Build(e.to_string()))?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            secret: secret.to_vec(),
        })
    }

    /// A client for the bench's own caller on `base_url`.
    pub fn bench_caller(base_url: &str) -> Result<Self, CallError> {
        Self::new(
            base_url,
            super::service::CLIENT_ID,
            super::service::CLIENT_SECRET.as_bytes(),
        )
    }

    /// The unsigned HTTP client (same pool), for H5 pages and other public endpoints.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends a signed request; a non-2xx answer is an error carrying the body. `path_and_query` is
    /// sent as given and signed as sent.
    pub async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let bytes = match body {
            Some(body) => serde_json::to_vec(body).unwrap_or_default(),
            None => Vec::new(),
        };
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let nonce = Uuid::new_v4().simple().to_string();
        let canonical = canonical_request(method.as_str(), path, query, &timestamp, &nonce, &bytes);
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path_and_query}", self.base_url))
            .header(HEADER_CLIENT_ID, &self.client_id)
            .header(HEADER_TIMESTAMP, &timestamp)
            .header(HEADER_NONCE, &nonce)
            .header(HEADER_SIGNATURE, sign(&self.secret, &canonical));
        if body.is_some() {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes);
        }
        let failed = |source| CallError::Transport {
            method: method.clone(),
            path: path.to_owned(),
            source,
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        let text = response.text().await.map_err(failed)?;
        if !status.is_success() {
            return Err(CallError::Status {
                method,
                path: path.to_owned(),
                status,
                body: text.chars().take(500).collect(),
            });
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path_and_query: &str) -> Result<Value, CallError> {
        self.call(Method::GET, path_and_query, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, CallError> {
        self.call(Method::POST, path, Some(body)).await
    }
}
