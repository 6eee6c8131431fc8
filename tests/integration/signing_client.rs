//! A real signing HTTP client for the API tests, written from the wire protocol in ARCHITECTURE.md and
//! not from the server's code, so that a mistake on either side makes the tests fail.
//!
//! ```ignore
//! let api = SigningClient::new(base_url, "erp", "erp-secret");
//! let created = api.post_json("/api/v1/contract/initiate", &body).await;
//! let fetched = api.get("/api/v1/contract/C1?verbose=true").await;
//! // Negative tests: change any part of what is sent or signed.
//! let stale = api.request(Method::GET, "/api/v1/x").timestamp_offset(-301).send().await;
//! assert_signature_rejected(stale).await;
//! ```

// A shared helper: not every test binary uses every method.
#![allow(dead_code)]

use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Method, Response, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

impl crate::helpers::RunningService {
    /// Signs requests to this service as `client`.
    pub fn client(&self, client: crate::helpers::TestClient) -> SigningClient {
        SigningClient::new(&self.base, client.id, client.secret)
    }
}

/// Signs every request with one client's id and secret.
#[derive(Debug, Clone)]
pub struct SigningClient {
    http: reqwest::Client,
    base_url: String,
    client_id: String,
    secret: Vec<u8>,
}

impl SigningClient {
    /// `base_url` without a trailing slash (`http://127.0.0.1:1234`); `secret` is the HMAC key, i.e.
    /// the bytes of the secret text as configured or printed by `esign clients add`.
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        secret: impl AsRef<[u8]>,
    ) -> Self {
        Self {
            // Never through a proxy from the environment: the tests talk to 127.0.0.1.
            http: esign::providers::outbound::client(std::time::Duration::from_secs(30))
                .expect("an HTTP client"),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            client_id: client_id.into(),
            secret: secret.as_ref().to_vec(),
        }
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A signed GET; `path` may carry a query string.
    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await
    }

    /// A signed POST of `body` as JSON.
    pub async fn post_json(&self, path: &str, body: &impl Serialize) -> Response {
        self.request(Method::POST, path).json(body).send().await
    }

    /// A signed request to build further (body, overrides) before [`SignedRequest::send`].
    pub fn request(&self, method: Method, path: &str) -> SignedRequest<'_> {
        SignedRequest {
            client: self,
            method,
            path: path.to_owned(),
            body: Vec::new(),
            headers: Vec::new(),
            client_id: None,
            secret: None,
            timestamp: None,
            nonce: None,
            signature: None,
            signed_body: None,
            omitted: Vec::new(),
        }
    }
}

/// One request, with every part of what is sent or signed open to change for negative tests.
#[derive(Debug)]
pub struct SignedRequest<'a> {
    client: &'a SigningClient,
    method: Method,
    path: String,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    client_id: Option<String>,
    secret: Option<Vec<u8>>,
    timestamp: Option<String>,
    nonce: Option<String>,
    signature: Option<String>,
    signed_body: Option<Vec<u8>>,
    omitted: Vec<String>,
}

impl SignedRequest<'_> {
    /// Sends `value` as the JSON body.
    pub fn json(mut self, value: &impl Serialize) -> Self {
        self.body = serde_json::to_vec(value).expect("serialisable body");
        self.header("content-type", "application/json")
    }

    /// Sends these bytes as the body (no content type unless set with [`Self::header`]).
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = bytes.into();
        self
    }

    /// Adds a header (after the signing headers, so it can duplicate one of them).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sends `X-Client-Id: id` (still signing with this client's secret unless [`Self::secret`]).
    pub fn client_id(mut self, id: &str) -> Self {
        self.client_id = Some(id.to_owned());
        self
    }

    /// Signs with another secret.
    pub fn secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.secret = Some(secret.as_ref().to_vec());
        self
    }

    /// Sends (and signs) this Unix time instead of now.
    pub fn timestamp(mut self, unix_secs: i64) -> Self {
        self.timestamp = Some(unix_secs.to_string());
        self
    }

    /// Sends (and signs) now + `secs`.
    pub fn timestamp_offset(self, secs: i64) -> Self {
        self.timestamp(unix_now() + secs)
    }

    /// Sends (and signs) this exact `X-Timestamp` text.
    pub fn timestamp_text(mut self, text: &str) -> Self {
        self.timestamp = Some(text.to_owned());
        self
    }

    /// Sends (and signs) this nonce instead of a random one.
    pub fn nonce(mut self, nonce: &str) -> Self {
        self.nonce = Some(nonce.to_owned());
        self
    }

    /// Sends this `X-Signature` instead of the computed one.
    pub fn signature(mut self, signature: &str) -> Self {
        self.signature = Some(signature.to_owned());
        self
    }

    /// Computes the signature over these bytes while sending the real body (a tampered body).
    pub fn signed_body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.signed_body = Some(bytes.into());
        self
    }

    /// Leaves out one of the signing headers (`X-Client-Id`, `X-Timestamp`, `X-Nonce`, `X-Signature`).
    pub fn without(mut self, header: &str) -> Self {
        self.omitted.push(header.to_ascii_lowercase());
        self
    }

    pub async fn send(self) -> Response {
        self.try_send()
            .await
            .expect("the request reaches the server")
    }

    /// Like [`SignedRequest::send`], for tests where the server may be down: a transport failure is
    /// returned instead of failing the test.
    pub async fn try_send(self) -> reqwest::Result<Response> {
        let url = reqwest::Url::parse(&format!("{}{}", self.client.base_url, self.path))
            .expect("a valid request url");
        let client_id = self
            .client_id
            .clone()
            .unwrap_or_else(|| self.client.client_id.clone());
        let timestamp = self
            .timestamp
            .clone()
            .unwrap_or_else(|| unix_now().to_string());
        let nonce = self.nonce.clone().unwrap_or_else(random_nonce);
        let signature = self.signature.clone().unwrap_or_else(|| {
            // Sign what the server will see: the path and query as `Url` puts them on the wire.
            let canonical = canonical_request(
                self.method.as_str(),
                url.path(),
                url.query(),
                &timestamp,
                &nonce,
                self.signed_body.as_deref().unwrap_or(&self.body),
            );
            sign(
                self.secret.as_deref().unwrap_or(&self.client.secret),
                &canonical,
            )
        });
        let mut request = self.client.http.request(self.method.clone(), url);
        for (name, value) in [
            ("x-client-id", client_id),
            ("x-timestamp", timestamp),
            ("x-nonce", nonce),
            ("x-signature", signature),
        ] {
            if !self.omitted.iter().any(|omitted| omitted == name) {
                request = request.header(name, value);
            }
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        request.body(self.body).send().await
    }
}

/// The canonical request of ARCHITECTURE.md "Wire protocol".
pub fn canonical_request(
    method: &str,
    path: &str,
    query: Option<&str>,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    let mut pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .map(|(name, value)| (rfc3986(&name), rfc3986(&value)))
            .collect();
    pairs.sort();
    let query = pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    let body_hash = hex::encode(Sha256::digest(body));
    format!("{method}\n{path}\n{query}\n{timestamp}\n{nonce}\n{body_hash}")
}

/// Percent-encodes everything but the RFC 3986 unreserved characters, with uppercase hex.
fn rfc3986(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Lowercase hex HMAC-SHA256.
pub fn sign(secret: &[u8], canonical: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("any key length");
    mac.update(canonical.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// 32 random characters of `[A-Za-z0-9]`.
pub fn random_nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Asserts the one answer every signature failure gets: 401 and code 40101.
pub async fn assert_signature_rejected(response: Response) {
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body, json!({"code": 40101, "message": "请求签名错误"}));
}
