//! Documents in an S3-compatible object store (AWS S3, MinIO, Ceph RGW, OSS/COS S3 endpoints), spoken
//! over plain HTTP(S) with AWS Signature Version 4 signed here rather than through an SDK: esign needs
//! three calls (PUT, GET, create bucket), and a few hundred lines it can read beat a large dependency
//! tree it cannot.
//!
//! Objects hold what [`DocumentCipher::seal`] returns, so the store only ever sees ciphertext. Every
//! request signs `x-amz-content-sha256`, so the server refuses a body altered on the way.

use std::time::Duration;

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::documents::config::S3Config;
use crate::documents::storage::{
    DocumentCipher, DocumentStore, DocumentStoreError, StoredDocument, checked_storage_key,
    sha256_hex, verify_hash,
};

type HmacSha256 = hmac::Hmac<Sha256>;

const SERVICE: &str = "s3";
/// An error document is read up to this many bytes; the code and message sit at its start.
const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// An access key pair. `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// What Signature Version 4 covers of one request.
#[derive(Debug, Clone, Copy)]
pub struct RequestToSign<'a> {
    pub method: &'a str,
    /// The path as sent: already URI-encoded (S3 paths are encoded once, never twice).
    pub canonical_path: &'a str,
    /// Query parameters, not yet encoded; a parameter without a value has `""`.
    pub query: &'a [(&'a str, &'a str)],
    /// Every header to sign, `host`, `x-amz-date` and `x-amz-content-sha256` included.
    pub headers: &'a [(&'a str, &'a str)],
    /// Lowercase hex SHA-256 of the body.
    pub payload_sha256: &'a str,
}

/// Percent-encodes everything but the unreserved characters (`A-Z a-z 0-9 - _ . ~`), as SigV4
/// requires; `/` is kept when `keep_slash` (paths) and encoded otherwise (query parts).
pub fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && byte == b'/')
        {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The header block and the `SignedHeaders` list: names lowercased and sorted, values trimmed with
/// inner runs of spaces collapsed, repeated names joined with commas.
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut merged: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, value) in headers {
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        merged
            .entry(name.trim().to_ascii_lowercase())
            .or_default()
            .push(value);
    }
    let block = merged
        .iter()
        .map(|(name, values)| format!("{name}:{}\n", values.join(",")))
        .collect();
    let names = merged.keys().cloned().collect::<Vec<_>>().join(";");
    (block, names)
}

fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(name, value)| (uri_encode(name, false), uri_encode(value, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical request (step 1 of SigV4) and its signed header list.
pub fn canonical_request(request: &RequestToSign<'_>) -> (String, String) {
    let (headers, signed_headers) = canonical_headers(request.headers);
    let canonical = format!(
        "{}\n{}\n{}\n{headers}\n{signed_headers}\n{}",
        request.method,
        request.canonical_path,
        canonical_query(request.query),
        request.payload_sha256
    );
    (canonical, signed_headers)
}

/// `<yyyymmdd>/<region>/s3/aws4_request`.
fn scope(amz_date: &str, region: &str) -> String {
    let day = amz_date.get(..8).unwrap_or(amz_date);
    format!("{day}/{region}/{SERVICE}/aws4_request")
}

/// The string to sign (step 2): algorithm, time, scope and the canonical request's hash.
pub fn string_to_sign(amz_date: &str, region: &str, canonical_request: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}",
        scope(amz_date, region),
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

fn hmac(key: &[u8], data: &str) -> [u8; 32] {
    // HMAC takes keys of any length, so the fallback never runs.
    let mut mac =
        HmacSha256::new_from_slice(key).unwrap_or_else(|_| HmacSha256::new(&Default::default()));
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The day's signing key (step 3): the secret chained through date, region, service and
/// `aws4_request`.
pub fn signing_key(secret_access_key: &str, day: &str, region: &str) -> [u8; 32] {
    let date_key = hmac(format!("AWS4{secret_access_key}").as_bytes(), day);
    let region_key = hmac(&date_key, region);
    let service_key = hmac(&region_key, SERVICE);
    hmac(&service_key, "aws4_request")
}

/// The `Authorization` header value for `request` made at `amz_date` (`yyyymmddThhmmssZ`).
pub fn authorization(
    credentials: &Credentials,
    region: &str,
    amz_date: &str,
    request: &RequestToSign<'_>,
) -> String {
    let (canonical, signed_headers) = canonical_request(request);
    let to_sign = string_to_sign(amz_date, region, &canonical);
    let day = amz_date.get(..8).unwrap_or(amz_date);
    let key = signing_key(&credentials.secret_access_key, day, region);
    let signature = hex::encode(hmac(&key, &to_sign));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{},SignedHeaders={signed_headers},Signature={signature}",
        credentials.access_key_id,
        scope(amz_date, region)
    )
}

/// A bucket on an S3-compatible server, reached with one access key.
#[derive(Debug, Clone)]
pub struct S3Client {
    http: reqwest::Client,
    scheme: String,
    /// `host[:port]` of the endpoint, without the bucket.
    endpoint_authority: String,
    region: String,
    bucket: String,
    credentials: Credentials,
    path_style: bool,
}

/// An S3 reply that was not a success, sorted by what the caller can do about it.
fn error_for(
    status: reqwest::StatusCode,
    code: &str,
    message: &str,
    what: &str,
) -> DocumentStoreError {
    let detail = if code.is_empty() {
        format!("{what}: HTTP {status}")
    } else {
        format!("{what}: HTTP {status} {code}: {message}")
    };
    match (status.as_u16(), code) {
        (404, "NoSuchKey") | (404, "") => DocumentStoreError::NotFound(what.to_owned()),
        (401 | 403, _) => DocumentStoreError::Denied(detail),
        (408 | 429, _) | (500..=599, _) => DocumentStoreError::Unavailable(detail),
        _ => DocumentStoreError::Rejected(detail),
    }
}

/// The text of the first `<name>` element, enough for S3's flat error documents.
fn xml_element<'a>(document: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    document
        .find(&open)
        .map(|start| &document[start + open.len()..])
        .and_then(|rest| rest.find(&close).map(|end| &rest[..end]))
        .unwrap_or("")
}

fn transport_error(what: &str, error: &reqwest::Error) -> DocumentStoreError {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "failed"
    };
    DocumentStoreError::Unavailable(format!("{what}: {kind}: {error}"))
}

impl S3Client {
    /// Checks the settings (the configuration check has done so too) and builds the HTTP client.
    pub fn new(settings: &S3Config) -> Result<Self, DocumentStoreError> {
        settings
            .check()
            .map_err(DocumentStoreError::Configuration)?;
        let endpoint = url::Url::parse(&settings.endpoint).map_err(|e| {
            DocumentStoreError::Configuration(format!("documents.s3.endpoint: {e}"))
        })?;
        let host = endpoint.host_str().ok_or_else(|| {
            DocumentStoreError::Configuration("documents.s3.endpoint has no host".into())
        })?;
        // `port()` is `None` for the scheme's default port, which is also when Host leaves it out.
        let endpoint_authority = match endpoint.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let http = crate::providers::outbound::client(Duration::from_millis(settings.timeout_ms))
            .map_err(|e| DocumentStoreError::Configuration(e.to_string()))?;
        Ok(Self {
            http,
            scheme: endpoint.scheme().to_owned(),
            endpoint_authority,
            region: settings.region.clone(),
            bucket: settings.bucket.clone(),
            credentials: Credentials {
                access_key_id: settings.access_key_id.clone(),
                secret_access_key: settings.secret_access_key.clone(),
            },
            path_style: settings.path_style,
        })
    }

    /// Host header and encoded path for `object_key` (empty: the bucket itself).
    fn location(&self, object_key: &str) -> (String, String) {
        let key = uri_encode(object_key, true);
        if self.path_style {
            let path = if key.is_empty() {
                format!("/{}", uri_encode(&self.bucket, false))
            } else {
                format!("/{}/{key}", uri_encode(&self.bucket, false))
            };
            (self.endpoint_authority.clone(), path)
        } else {
            (
                format!("{}.{}", self.bucket, self.endpoint_authority),
                format!("/{key}"),
            )
        }
    }

    /// Sends one signed request and returns the successful response.
    async fn send(
        &self,
        method: reqwest::Method,
        object_key: &str,
        body: Vec<u8>,
        what: &str,
    ) -> Result<reqwest::Response, DocumentStoreError> {
        let (host, path) = self.location(object_key);
        let payload_sha256 = sha256_hex(&body);
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let headers = [
            ("host", host.as_str()),
            ("x-amz-content-sha256", payload_sha256.as_str()),
            ("x-amz-date", amz_date.as_str()),
        ];
        let authorization = authorization(
            &self.credentials,
            &self.region,
            &amz_date,
            &RequestToSign {
                method: method.as_str(),
                canonical_path: &path,
                query: &[],
                headers: &headers,
                payload_sha256: &payload_sha256,
            },
        );
        let url = format!("{}://{host}{path}", self.scheme);
        let mut request = self
            .http
            .request(method, &url)
            .header(reqwest::header::AUTHORIZATION, authorization);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut response = request
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(what, &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let mut text = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            text.extend_from_slice(&chunk);
            if text.len() >= ERROR_BODY_LIMIT {
                break;
            }
        }
        let text = String::from_utf8_lossy(&text);
        Err(error_for(
            status,
            xml_element(&text, "Code"),
            xml_element(&text, "Message"),
            what,
        ))
    }

    /// Stores `bytes` as `object_key`, replacing what was there.
    pub async fn put_object(
        &self,
        object_key: &str,
        bytes: Vec<u8>,
    ) -> Result<(), DocumentStoreError> {
        self.send(reqwest::Method::PUT, object_key, bytes, object_key)
            .await
            .map(drop)
    }

    /// The bytes of `object_key` exactly as stored.
    pub async fn get_object(&self, object_key: &str) -> Result<Vec<u8>, DocumentStoreError> {
        let response = self
            .send(reqwest::Method::GET, object_key, Vec::new(), object_key)
            .await?;
        response
            .bytes()
            .await
            .map(|bytes| bytes.to_vec())
            .map_err(|e| transport_error(object_key, &e))
    }

    /// Creates the bucket (in the client's region); one that exists and is ours already is fine.
    pub async fn create_bucket(&self) -> Result<(), DocumentStoreError> {
        // Outside us-east-1, S3 wants the region named in the body.
        let body = if self.region == "us-east-1" {
            Vec::new()
        } else {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.region
            )
            .into_bytes()
        };
        let what = format!("bucket {}", self.bucket);
        match self.send(reqwest::Method::PUT, "", body, &what).await {
            Ok(_) => Ok(()),
            Err(DocumentStoreError::Rejected(detail))
                if detail.contains("BucketAlreadyOwnedByYou") =>
            {
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}

/// [`DocumentStore`] on an S3 bucket: objects are `<prefix>/<storage key>`, each the sealed blob.
#[derive(Debug, Clone)]
pub struct S3DocumentStore {
    client: S3Client,
    prefix: String,
    cipher: DocumentCipher,
}

impl S3DocumentStore {
    pub fn new(settings: &S3Config, cipher: DocumentCipher) -> Result<Self, DocumentStoreError> {
        Ok(Self {
            client: S3Client::new(settings)?,
            prefix: settings.prefix.trim_matches('/').to_owned(),
            cipher,
        })
    }

    /// The object key a storage key is kept under.
    pub fn object_key(&self, storage_key: &str) -> Result<String, DocumentStoreError> {
        let storage_key = checked_storage_key(storage_key)?;
        Ok(if self.prefix.is_empty() {
            storage_key.to_owned()
        } else {
            format!("{}/{storage_key}", self.prefix)
        })
    }

    /// The client underneath (bucket creation, and tests that read the raw objects).
    pub fn client(&self) -> &S3Client {
        &self.client
    }
}

#[async_trait::async_trait]
impl DocumentStore for S3DocumentStore {
    async fn put(
        &self,
        storage_key: &str,
        bytes: &[u8],
    ) -> Result<StoredDocument, DocumentStoreError> {
        let object_key = self.object_key(storage_key)?;
        let blob = self.cipher.seal(storage_key, bytes)?;
        self.client.put_object(&object_key, blob).await?;
        Ok(self.cipher.record(storage_key, bytes))
    }

    async fn get(
        &self,
        storage_key: &str,
        expected_sha256: &str,
    ) -> Result<Vec<u8>, DocumentStoreError> {
        let object_key = self.object_key(storage_key)?;
        let blob = match self.client.get_object(&object_key).await {
            Err(DocumentStoreError::NotFound(_)) => {
                return Err(DocumentStoreError::NotFound(storage_key.to_owned()));
            }
            other => other?,
        };
        let plaintext = self.cipher.open(storage_key, &blob)?;
        verify_hash(storage_key, &plaintext, expected_sha256)?;
        Ok(plaintext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked examples of "Signature Calculations for the Authorization Header: Transferring
    // Payload in a Single Chunk" in the Amazon S3 API reference: one key pair, one instant, one
    // virtual-hosted bucket, four requests.
    const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const AMZ_DATE: &str = "20130524T000000Z";
    const REGION: &str = "us-east-1";
    const HOST: &str = "examplebucket.s3.amazonaws.com";
    /// `x-amz-content-sha256` of an empty body.
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    struct Vector {
        name: &'static str,
        method: &'static str,
        path: &'static str,
        query: &'static [(&'static str, &'static str)],
        /// Besides host, x-amz-date and x-amz-content-sha256.
        extra_headers: &'static [(&'static str, &'static str)],
        payload: &'static [u8],
        /// SHA-256 of the canonical request, where the example prints it.
        canonical_request_sha256: Option<&'static str>,
        signed_headers: &'static str,
        signature: &'static str,
    }

    const VECTORS: &[Vector] = &[
        Vector {
            name: "GET Object with a Range header",
            method: "GET",
            path: "/test.txt",
            query: &[],
            extra_headers: &[("Range", "bytes=0-9")],
            payload: b"",
            canonical_request_sha256: Some(
                "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
            ),
            signed_headers: "host;range;x-amz-content-sha256;x-amz-date",
            signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        },
        Vector {
            name: "PUT Object with a body and a key needing encoding",
            method: "PUT",
            path: "/test$file.text",
            query: &[],
            extra_headers: &[
                ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            payload: b"Welcome to Amazon S3.",
            canonical_request_sha256: Some(
                "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
            ),
            signed_headers: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        },
        Vector {
            name: "GET Bucket Lifecycle (a parameter without a value)",
            method: "GET",
            path: "/",
            query: &[("lifecycle", "")],
            extra_headers: &[],
            payload: b"",
            canonical_request_sha256: None,
            signed_headers: "host;x-amz-content-sha256;x-amz-date",
            signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        },
        Vector {
            name: "GET Bucket (list objects), parameters sorted",
            method: "GET",
            path: "/",
            query: &[("prefix", "J"), ("max-keys", "2")],
            extra_headers: &[],
            payload: b"",
            canonical_request_sha256: None,
            signed_headers: "host;x-amz-content-sha256;x-amz-date",
            signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        },
    ];

    #[test]
    fn the_published_s3_examples_are_reproduced() {
        let credentials = Credentials {
            access_key_id: ACCESS_KEY_ID.into(),
            secret_access_key: SECRET_ACCESS_KEY.into(),
        };
        for vector in VECTORS {
            let payload_sha256 = sha256_hex(vector.payload);
            let path = uri_encode(vector.path, true);
            let mut headers = vec![
                ("Host", HOST),
                ("x-amz-content-sha256", payload_sha256.as_str()),
                ("x-amz-date", AMZ_DATE),
            ];
            headers.extend_from_slice(vector.extra_headers);
            let request = RequestToSign {
                method: vector.method,
                canonical_path: &path,
                query: vector.query,
                headers: &headers,
                payload_sha256: &payload_sha256,
            };
            let (canonical, signed_headers) = canonical_request(&request);
            assert_eq!(signed_headers, vector.signed_headers, "{}", vector.name);
            if let Some(expected) = vector.canonical_request_sha256 {
                assert_eq!(
                    hex::encode(Sha256::digest(canonical.as_bytes())),
                    expected,
                    "{}: canonical request\n{canonical}",
                    vector.name
                );
            }
            assert_eq!(
                authorization(&credentials, REGION, AMZ_DATE, &request),
                format!(
                    "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20130524/us-east-1/s3/aws4_request,\
                     SignedHeaders={},Signature={}",
                    vector.signed_headers, vector.signature
                ),
                "{}",
                vector.name
            );
        }
    }

    #[test]
    fn the_get_object_example_canonical_request_reads_as_published() {
        let headers = [
            ("host", HOST),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", AMZ_DATE),
        ];
        let (canonical, _) = canonical_request(&RequestToSign {
            method: "GET",
            canonical_path: "/test.txt",
            query: &[],
            headers: &headers,
            payload_sha256: EMPTY_SHA256,
        });
        assert_eq!(
            canonical,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
             x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            string_to_sign(AMZ_DATE, REGION, &canonical),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
    }

    #[test]
    fn a_changed_secret_date_or_region_changes_the_signature() {
        let request = RequestToSign {
            method: "GET",
            canonical_path: "/test.txt",
            query: &[],
            headers: &[("host", HOST), ("x-amz-date", AMZ_DATE)],
            payload_sha256: EMPTY_SHA256,
        };
        let credentials = |secret: &str| Credentials {
            access_key_id: ACCESS_KEY_ID.into(),
            secret_access_key: secret.into(),
        };
        let base = authorization(&credentials(SECRET_ACCESS_KEY), REGION, AMZ_DATE, &request);
        assert_ne!(
            base,
            authorization(&credentials("another secret"), REGION, AMZ_DATE, &request)
        );
        assert_ne!(
            base,
            authorization(
                &credentials(SECRET_ACCESS_KEY),
                "eu-west-1",
                AMZ_DATE,
                &request
            )
        );
        assert_ne!(
            base,
            authorization(
                &credentials(SECRET_ACCESS_KEY),
                REGION,
                "20130525T000000Z",
                &request
            )
        );
    }

    #[test]
    fn objects_are_addressed_path_style_or_virtual_hosted_under_the_prefix() {
        let mut settings = S3Config {
            endpoint: "https://minio.example:9000".into(),
            region: "us-east-1".into(),
            bucket: "esign-documents".into(),
            access_key_id: "minio".into(),
            secret_access_key: "minio-secret".into(),
            path_style: true,
            prefix: "/production/".into(),
            timeout_ms: 1000,
        };
        let key = crate::pii::PiiCipher::generate_key().unwrap();
        let cipher =
            DocumentCipher::new("k", &std::collections::BTreeMap::from([("k".into(), key)]))
                .unwrap();
        let store = S3DocumentStore::new(&settings, cipher.clone()).unwrap();
        let object = store.object_key("contracts/C1/signed.pdf").unwrap();
        assert_eq!(object, "production/contracts/C1/signed.pdf");
        assert_eq!(
            store.client().location(&object),
            (
                "minio.example:9000".to_owned(),
                "/esign-documents/production/contracts/C1/signed.pdf".to_owned()
            )
        );
        assert!(matches!(
            store.object_key("../escape.pdf"),
            Err(DocumentStoreError::InvalidStorageKey(_))
        ));

        settings.path_style = false;
        settings.endpoint = "https://s3.amazonaws.com".into();
        settings.prefix = String::new();
        let store = S3DocumentStore::new(&settings, cipher).unwrap();
        let object = store.object_key("a.pdf").unwrap();
        assert_eq!(
            store.client().location(&object),
            (
                "esign-documents.s3.amazonaws.com".to_owned(),
                "/a.pdf".to_owned()
            )
        );
    }

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(uri_encode("a-b_c.d~e", false), "a-b_c.d~e");
        assert_eq!(uri_encode("a b/c+d=é", false), "a%20b%2Fc%2Bd%3D%C3%A9");
        assert_eq!(
            uri_encode("contracts/c 1/signed.pdf", true),
            "contracts/c%201/signed.pdf"
        );
        assert_eq!(uri_encode("test$file.text", true), "test%24file.text");
    }

    #[test]
    fn s3_error_replies_are_sorted_by_what_the_caller_can_do() {
        use reqwest::StatusCode;
        let document = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>\
                        <Message>The request signature we calculated does not match</Message></Error>";
        assert_eq!(xml_element(document, "Code"), "SignatureDoesNotMatch");
        assert!(matches!(
            error_for(StatusCode::FORBIDDEN, "SignatureDoesNotMatch", "", "k"),
            DocumentStoreError::Denied(detail) if detail.contains("SignatureDoesNotMatch")
        ));
        assert!(matches!(
            error_for(StatusCode::NOT_FOUND, "NoSuchKey", "", "k"),
            DocumentStoreError::NotFound(_)
        ));
        assert!(matches!(
            error_for(StatusCode::NOT_FOUND, "NoSuchBucket", "", "k"),
            DocumentStoreError::Rejected(_)
        ));
        assert!(matches!(
            error_for(StatusCode::SERVICE_UNAVAILABLE, "SlowDown", "", "k"),
            DocumentStoreError::Unavailable(_)
        ));
        assert_eq!(xml_element("not xml", "Code"), "");
    }
}
