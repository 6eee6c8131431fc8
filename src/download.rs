//! Short-lived signed download links: a path plus `?expires=<unix seconds>&signature=<base64url>`,
//! where the signature is HMAC-SHA256 over `GET\n<path>\n<expires>` with `[documents]
//! url_signing_key`. A link opens one path until it expires and cannot be stretched or pointed
//! elsewhere without the key; nothing is stored per link (see docs/storage.md).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};

use crate::config::{Config, MIN_URL_SIGNING_KEY_BYTES, Mode};

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
    pub fn from_config(config: &Config) -> Result<Self, UrlSigningKeyError> {
        if let Some(encoded) = &config.documents.url_signing_key {
            return Self::from_base64(encoded);
        }
        if config.server.mode == Mode::Production {
            return Err(UrlSigningKeyError::MissingInProduction);
        }
        let path = config.server.data_dir.join("keys").join("download-url.key");
        let encoded = crate::config::load_or_generate_key(&path).map_err(|e| {
            UrlSigningKeyError::Generated {
                path: path.clone(),
                reason: e.to_string(),
            }
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut config = Config::default();
        config.server.data_dir = dir.path().to_path_buf();
        let first = UrlSigningKey::from_config(&config).unwrap();
        let second = UrlSigningKey::from_config(&config).unwrap();
        let signed = signed_path(&first, PATH, at(1_800_000_300));
        let (expires, signature) = query_of(&signed);
        assert_eq!(
            verify(&second, PATH, &expires, &signature, at(1_800_000_000)),
            Ok(())
        );
        config.server.mode = Mode::Production;
        let refused = UrlSigningKey::from_config(&config).unwrap_err();
        assert!(
            refused.to_string().contains("documents.url_signing_key"),
            "{refused}"
        );
    }
}
