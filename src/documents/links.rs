//! Short-lived signed download links: a path plus `?expires=<unix seconds>&signature=<base64url>`,
//! where the signature is HMAC-SHA256 over `GET\n<path>\n<expires>` with `[documents]
//! url_signing_key`. A link opens one path until it expires and cannot be stretched or pointed
//! elsewhere without the key; nothing is stored per link (see docs/storage.md).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};

use aggregates::values::Mode;

use crate::documents::config::{DocumentSettings, MIN_URL_SIGNING_KEY_BYTES};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Why a download link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    #[error("the download link is malformed")]
    Malformed,
    #[error("the download link's signature does not match")]
    BadSignature,
    #[error("the download link has expired")]
    Expired,
}

#[derive(Debug, thiserror::Error)]
pub enum UrlSigningKeyError {
    #[error("documents.url_signing_key: {0}")]
    Invalid(String),
    #[error(
        "production mode needs documents.url_signing_key in the configuration; generated keys are for development only"
    )]
    MissingInProduction,
    #[error("cannot generate a development URL signing key under {path}: {reason}")]
    Generated {
        path: std::path::PathBuf,
        reason: String,
    },
}

/// The HMAC key of download links. `Debug` never shows it.
#[derive(Clone)]
pub struct UrlSigningKey(Vec<u8>);

impl std::fmt::Debug for UrlSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigningKey(<redacted>)")
    }
}

impl UrlSigningKey {
    /// Standard base64 of at least 32 bytes.
    pub fn from_base64(encoded: &str) -> Result<Self, UrlSigningKeyError> {
        let raw = STANDARD
            .decode(encoded.trim())
            .map_err(|e| UrlSigningKeyError::Invalid(format!("not base64: {e}")))?;
        if raw.len() < MIN_URL_SIGNING_KEY_BYTES {
            return Err(UrlSigningKeyError::Invalid(format!(
                "at least {MIN_URL_SIGNING_KEY_BYTES} bytes are needed"
            )));
        }
        Ok(Self(raw))
    }

    /// `[documents] url_signing_key`, or (development only) a key generated once as
    /// `<data_dir>/keys/download-url.key`.
    pub fn from_config(settings: &DocumentSettings) -> Result<Self, UrlSigningKeyError> {
        if let Some(encoded) = &settings.config.url_signing_key {
            return Self::from_base64(encoded);
        }
        if settings.mode == Mode::Production {
            return Err(UrlSigningKeyError::MissingInProduction);
        }
        let path = settings.generated_key_path("download-url.key");
        let encoded =
            crate::pii::load_or_generate_key(&path).map_err(|e| UrlSigningKeyError::Generated {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        Self::from_base64(&encoded)
    }

    fn mac(&self, path: &str, expires: i64) -> HmacSha256 {
        // HMAC takes keys of any length, so the fallback never runs.
        let mut mac = HmacSha256::new_from_slice(&self.0)
            .unwrap_or_else(|_| HmacSha256::new(&Default::default()));
        mac.update(format!("GET\n{path}\n{expires}").as_bytes());
        mac
    }
}

/// `path` with `?expires=<unix seconds>&signature=<base64url HMAC>` appended. `path` is the request
/// path exactly as the download route will see it (percent-encoded as sent, no query string).
pub fn signed_path(key: &UrlSigningKey, path: &str, expires_at: DateTime<Utc>) -> String {
    let expires = expires_at.timestamp();
    let signature = URL_SAFE_NO_PAD.encode(key.mac(path, expires).finalize().into_bytes());
    format!("{path}?expires={expires}&signature={signature}")
}

/// Checks a link's `expires` and `signature` query values for `path` at `now`. The signature is
/// checked first, so `Expired` is only ever said of a link esign issued.
pub fn verify(
    key: &UrlSigningKey,
    path: &str,
    query_expires: &str,
    query_signature: &str,
    now: DateTime<Utc>,
) -> Result<(), DownloadError> {
    // Only the form `signed_path` writes: digits, no sign, no leading zeros to vary the text.
    if query_expires.is_empty()
        || query_expires.len() > 12
        || !query_expires.bytes().all(|b| b.is_ascii_digit())
        || (query_expires.len() > 1 && query_expires.starts_with('0'))
    {
        return Err(DownloadError::Malformed);
    }
    let expires: i64 = query_expires
        .parse()
        .map_err(|_| DownloadError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(query_signature)
        .map_err(|_| DownloadError::Malformed)?;
    if signature.len() != 32 {
        return Err(DownloadError::Malformed);
    }
    key.mac(path, expires)
        .verify_slice(&signature)
        .map_err(|_| DownloadError::BadSignature)?;
    if now.timestamp() >= expires {
        return Err(DownloadError::Expired);
    }
    Ok(())
}

/// The download links the service hands out: the signing key, the public address and how long a
/// link lives.
#[derive(Debug)]
pub struct Links {
    key: UrlSigningKey,
    public_base_url: String,
    ttl: chrono::Duration,
}

/// The fields of API resources and callbacks that hold download paths.
const LINK_FIELDS: &[&str] = &["documentUrl", "certificateUrl"];

impl Links {
    pub fn new(key: UrlSigningKey, public_base_url: &str, ttl: chrono::Duration) -> Self {
        Self {
            key,
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
            ttl,
        }
    }

    pub fn from_config(settings: &DocumentSettings) -> Result<Self, UrlSigningKeyError> {
        Ok(Self::new(
            UrlSigningKey::from_config(settings)?,
            &settings.public_base_url,
            settings.config.download_url_ttl(),
        ))
    }

    /// The absolute URL of `path`, signed to live until `now` plus the TTL.
    pub fn url(&self, path: &str, now: DateTime<Utc>) -> String {
        format!(
            "{}{}",
            self.public_base_url,
            signed_path(&self.key, path, now + self.ttl)
        )
    }

    /// Turns every download path (`/download/...`) in the link fields of `value`, at any depth,
    /// into a signed absolute URL: the query tables and stored callbacks keep the stable paths, and
    /// whoever receives one gets a link that works for a while.
    pub fn sign_in_place(&self, value: &mut serde_json::Value, now: DateTime<Utc>) {
        match value {
            serde_json::Value::Object(fields) => {
                for (name, field) in fields.iter_mut() {
                    match field {
                        serde_json::Value::String(path)
                            if LINK_FIELDS.contains(&name.as_str())
                                && path.starts_with("/download/") =>
                        {
                            *path = self.url(path, now);
                        }
                        other => self.sign_in_place(other, now),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    self.sign_in_place(item, now);
                }
            }
            _ => {}
        }
    }

    pub fn verify(
        &self,
        path: &str,
        query_expires: &str,
        query_signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DownloadError> {
        verify(&self.key, path, query_expires, query_signature, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_paths_in_link_fields_become_signed_urls_at_any_depth() {
        let links = Links::new(
            UrlSigningKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap(),
            "https://esign.example/",
            chrono::Duration::seconds(300),
        );
        let now = Utc::now();
        let mut value = serde_json::json!({
            "documentUrl": "/download/contracts/C1/ab.pdf",
            "title": "/download/not-a-link-field",
            "archives": [{"certificateUrl": "/download/archives/A1/cd.pdf"}],
            "archiveInfo": {"certificateUrl": null},
        });
        links.sign_in_place(&mut value, now);
        let document = value["documentUrl"].as_str().unwrap();
        assert!(
            document.starts_with("https://esign.example/download/contracts/C1/ab.pdf?expires=")
        );
        assert_eq!(value["title"], "/download/not-a-link-field");
        let certificate = value["archives"][0]["certificateUrl"].as_str().unwrap();
        let (path, query) = certificate
            .trim_start_matches("https://esign.example")
            .split_once('?')
            .unwrap();
        let expires = query
            .split('&')
            .next()
            .unwrap()
            .trim_start_matches("expires=");
        let signature = query
            .split('&')
            .nth(1)
            .unwrap()
            .trim_start_matches("signature=");
        assert_eq!(links.verify(path, expires, signature, now), Ok(()));
        assert_eq!(
            links.verify(
                path,
                expires,
                signature,
                now + chrono::Duration::seconds(301)
            ),
            Err(DownloadError::Expired)
        );
    }

    const PATH: &str = "/v1/contracts/CONTRACT_1/documents/signed.pdf";

    fn key() -> UrlSigningKey {
        UrlSigningKey::from_base64(&crate::pii::PiiCipher::generate_key().unwrap()).unwrap()
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    /// The `expires` and `signature` values of a signed path.
    fn query_of(signed: &str) -> (String, String) {
        let query = signed.split_once('?').unwrap().1;
        let value = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                .unwrap()
                .to_owned()
        };
        (value("expires"), value("signature"))
    }

    #[test]
    fn a_signed_path_opens_its_path_until_it_expires() {
        let key = key();
        let signed = signed_path(&key, PATH, at(1_800_000_300));
        assert!(signed.starts_with(&format!("{PATH}?expires=1800000300&signature=")));
        let (expires, signature) = query_of(&signed);
        assert!(
            signature
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "base64url without padding: {signature}"
        );
        assert_eq!(
            verify(&key, PATH, &expires, &signature, at(1_800_000_000)),
            Ok(())
        );
        assert_eq!(
            verify(&key, PATH, &expires, &signature, at(1_800_000_299)),
            Ok(())
        );
    }

    #[test]
    fn an_expired_link_is_refused() {
        let key = key();
        let (expires, signature) = query_of(&signed_path(&key, PATH, at(1_800_000_300)));
        for now in [1_800_000_300, 1_800_000_301, 1_900_000_000] {
            assert_eq!(
                verify(&key, PATH, &expires, &signature, at(now)),
                Err(DownloadError::Expired)
            );
        }
    }

    #[test]
    fn a_tampered_path_is_refused() {
        let key = key();
        let (expires, signature) = query_of(&signed_path(&key, PATH, at(1_800_000_300)));
        for other in [
            "/v1/contracts/CONTRACT_2/documents/signed.pdf",
            "/v1/contracts/CONTRACT_1/documents/signed.pdf/",
            "/v1/contracts/contract_1/documents/signed.pdf",
            "",
        ] {
            assert_eq!(
                verify(&key, other, &expires, &signature, at(1_800_000_000)),
                Err(DownloadError::BadSignature),
                "{other:?}"
            );
        }
    }

    #[test]
    fn a_tampered_expiry_is_refused() {
        let key = key();
        let (_, signature) = query_of(&signed_path(&key, PATH, at(1_800_000_300)));
        assert_eq!(
            verify(&key, PATH, "1800086400", &signature, at(1_800_000_000)),
            Err(DownloadError::BadSignature)
        );
        // An expired link stretched past `now` is still refused for its signature.
        assert_eq!(
            verify(&key, PATH, "1800000301", &signature, at(1_800_000_300)),
            Err(DownloadError::BadSignature)
        );
    }

    #[test]
    fn another_key_is_refused() {
        let (expires, signature) = query_of(&signed_path(&key(), PATH, at(1_800_000_300)));
        assert_eq!(
            verify(&key(), PATH, &expires, &signature, at(1_800_000_000)),
            Err(DownloadError::BadSignature)
        );
    }

    #[test]
    fn malformed_values_are_refused() {
        let key = key();
        let (expires, signature) = query_of(&signed_path(&key, PATH, at(1_800_000_300)));
        let now = at(1_800_000_000);
        for (expires, signature) in [
            ("", signature.as_str()),
            ("-1", signature.as_str()),
            ("+1800000300", signature.as_str()),
            ("01800000300", signature.as_str()),
            ("1800000300.0", signature.as_str()),
            ("99999999999999999999", signature.as_str()),
            (expires.as_str(), ""),
            (expires.as_str(), "not base64!"),
            (expires.as_str(), &signature[..20]),
            (expires.as_str(), "AAAA"),
        ] {
            assert_eq!(
                verify(&key, PATH, expires, signature, now),
                Err(DownloadError::Malformed),
                "{expires:?} {signature:?}"
            );
        }
        // Standard base64 padding is not the form issued.
        assert_eq!(
            verify(&key, PATH, &expires, &format!("{signature}="), now),
            Err(DownloadError::Malformed)
        );
    }

    #[test]
    fn short_or_invalid_keys_are_refused() {
        assert!(UrlSigningKey::from_base64("c2hvcnQ=").is_err());
        assert!(UrlSigningKey::from_base64("not base64").is_err());
    }

    #[test]
    fn production_requires_the_key_and_development_generates_one_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = DocumentSettings::development(dir.path(), "http://127.0.0.1:8080");
        let first = UrlSigningKey::from_config(&settings).unwrap();
        let second = UrlSigningKey::from_config(&settings).unwrap();
        let signed = signed_path(&first, PATH, at(1_800_000_300));
        let (expires, signature) = query_of(&signed);
        assert_eq!(
            verify(&second, PATH, &expires, &signature, at(1_800_000_000)),
            Ok(())
        );
        settings.mode = Mode::Production;
        let refused = UrlSigningKey::from_config(&settings).unwrap_err();
        assert!(
            refused.to_string().contains("documents.url_signing_key"),
            "{refused}"
        );
    }
}
