//! Personal data at rest: field-level AES-256-GCM with key ids, and a keyed hash for equality.
//!
//! Aggregates mark personal data (names, ID and mobile numbers, signature images) and callback header
//! values as `{"$pii": "<text>"}` (see [`aggregates::Sensitive`]). Before an
//! event is stored, [`PiiCipher::seal`] replaces each marker's text with
//! `{"$pii": {"k": <key id>, "c": <base64 nonce ‖ ciphertext>, "h": <hex HMAC-SHA256>}}`; reading
//! reverses it with [`PiiCipher::open`]. The keyed hash lets query tables find equal values (the same ID
//! number across contracts) without decrypting. Key ids allow rotation: new values are sealed with the
//! active key, old ones open with whichever key sealed them.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aggregates::SENSITIVE_MARKER;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Sha256;

const NONCE_LEN: usize = 12;

/// Rewrites the content of one `$pii` marker, given the name of the field holding the marker (if the
/// marker is an object's field); `None` leaves it as it is.
type MarkerRewrite<'a> =
    dyn Fn(&PiiCipher, Option<&str>, &Value) -> Result<Option<Value>, PiiError> + 'a;

/// The payload field that holds a person's name (`signers[i].name`, a verification's `name`): masked
/// as a name, not by length.
const NAME_FIELD: &str = "name";

#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    #[error("no personal-data key with id {0:?} is configured")]
    UnknownKey(String),
    #[error("personal-data key {0:?} must be 32 bytes of base64")]
    BadKey(String),
    #[error("a sealed personal-data value is malformed: {0}")]
    Malformed(&'static str),
    #[error("a sealed personal-data value failed authentication (wrong key or altered ciphertext)")]
    Authentication,
    #[error("the random number source failed: {0}")]
    Random(String),
}

/// A payload whose sensitive markers are all sealed. Only [`PiiCipher::seal`] makes one, so the event
/// store cannot be handed plaintext personal data by mistake.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedPayload(Value);

impl SealedPayload {
    pub fn as_value(&self) -> &Value {
        &self.0
    }

    pub fn into_value(self) -> Value {
        self.0
    }

    /// Wraps a payload read back from storage, which was sealed when it was written.
    pub(crate) fn from_stored(value: Value) -> Self {
        Self(value)
    }
}

/// The keys for personal data: encryption keys by id (one active) and the keyed-hash key.
pub struct PiiCipher {
    active_key_id: String,
    keys: BTreeMap<String, Aes256Gcm>,
    index_key: [u8; 32],
}

impl fmt::Debug for PiiCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PiiCipher")
            .field("active_key_id", &self.active_key_id)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl PiiCipher {
    /// Builds a cipher from base64 keys: `keys` maps key id to a 32-byte key, `active_key_id` seals new
    /// values, `index_key` (32 bytes) keys the equality hash and must never rotate while rows use it.
    pub fn new(
        active_key_id: &str,
        keys: &BTreeMap<String, String>,
        index_key: &str,
    ) -> Result<Self, PiiError> {
        let mut ciphers = BTreeMap::new();
        for (id, encoded) in keys {
            let raw = decode_key(id, encoded)?;
            ciphers.insert(id.clone(), Aes256Gcm::new(&raw.into()));
        }
        if !ciphers.contains_key(active_key_id) {
            return Err(PiiError::UnknownKey(active_key_id.to_owned()));
        }
        Ok(Self {
            active_key_id: active_key_id.to_owned(),
            keys: ciphers,
            index_key: decode_key("index", index_key)?,
        })
    }

    /// A fresh random 32-byte key in the base64 form the configuration takes.
    pub fn generate_key() -> Result<String, PiiError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| PiiError::Random(e.to_string()))?;
        Ok(BASE64.encode(key))
    }

    /// The keyed hash used for equality look-ups (hex HMAC-SHA256).
    pub fn blind_index(&self, text: &str) -> String {
        let mut mac = keyed_hmac(&self.index_key);
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Encrypts one value with the active key.
    pub fn seal_text(&self, text: &str) -> Result<Value, PiiError> {
        let cipher = self
            .keys
            .get(&self.active_key_id)
            .ok_or_else(|| PiiError::UnknownKey(self.active_key_id.clone()))?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| PiiError::Random(e.to_string()))?;
        let aad = associated_data(&self.active_key_id);
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: text.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| PiiError::Authentication)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        let mut fields = Map::new();
        fields.insert("k".into(), Value::String(self.active_key_id.clone()));
        fields.insert("c".into(), Value::String(BASE64.encode(sealed)));
        fields.insert("h".into(), Value::String(self.blind_index(text)));
        Ok(Value::Object(fields))
    }

    /// Decrypts one sealed value (the object inside a `$pii` marker).
    pub fn open_text(&self, sealed: &Value) -> Result<String, PiiError> {
        let fields = sealed
            .as_object()
            .ok_or(PiiError::Malformed("not an object"))?;
        let key_id = fields
            .get("k")
            .and_then(Value::as_str)
            .ok_or(PiiError::Malformed("missing key id"))?;
        let encoded = fields
            .get("c")
            .and_then(Value::as_str)
            .ok_or(PiiError::Malformed("missing ciphertext"))?;
        let cipher = self
            .keys
            .get(key_id)
            .ok_or_else(|| PiiError::UnknownKey(key_id.to_owned()))?;
        let raw = BASE64
            .decode(encoded)
            .map_err(|_| PiiError::Malformed("ciphertext is not base64"))?;
        if raw.len() <= NONCE_LEN {
            return Err(PiiError::Malformed("ciphertext too short"));
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| PiiError::Malformed("bad nonce"))?;
        let aad = associated_data(key_id);
        let plain = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| PiiError::Authentication)?;
        String::from_utf8(plain).map_err(|_| PiiError::Malformed("plaintext is not UTF-8"))
    }

    /// Seals every `{"$pii": "<text>"}` marker in a payload. Markers that are already sealed stay as
    /// they are (copying a sealed value between payloads needs no key).
    pub fn seal(&self, mut payload: Value) -> Result<SealedPayload, PiiError> {
        self.transform(&mut payload, None, &|cipher, _, marker| match marker {
            Value::String(text) => cipher.seal_text(text).map(Some),
            Value::Object(_) => Ok(None),
            _ => Err(PiiError::Malformed(
                "a $pii marker holds neither text nor a sealed value",
            )),
        })?;
        Ok(SealedPayload(payload))
    }

    /// Restores the text of every sealed marker, giving the payload the aggregates serialised.
    pub fn open(&self, payload: &SealedPayload) -> Result<Value, PiiError> {
        let mut value = payload.0.clone();
        self.transform(&mut value, None, &|cipher, _, marker| match marker {
            Value::Object(_) => cipher
                .open_text(marker)
                .map(|text| Some(Value::String(text))),
            _ => Err(PiiError::Malformed("a stored $pii marker is not sealed")),
        })?;
        Ok(value)
    }

    /// Replaces every sealed marker with a masked form of its text, for logs and audit output. A name
    /// keeps its first character (`张*`); other values are masked by [`mask_text`].
    pub fn mask(&self, payload: &SealedPayload) -> Value {
        let mut value = payload.0.clone();
        let masked = self.transform(&mut value, None, &|cipher, field, marker| {
            Ok(Some(Value::String(match cipher.open_text(marker) {
                Ok(text) if field == Some(NAME_FIELD) => mask_name(&text),
                Ok(text) => mask_text(&text),
                Err(_) => "***".to_owned(),
            })))
        });
        match masked {
            Ok(()) => value,
            Err(_) => Value::String("***".to_owned()),
        }
    }

    fn transform(
        &self,
        value: &mut Value,
        field: Option<&str>,
        replace: &MarkerRewrite<'_>,
    ) -> Result<(), PiiError> {
        match value {
            Value::Object(map) => {
                if map.len() == 1 {
                    if let Some(marker) = map.get_mut(SENSITIVE_MARKER) {
                        if let Some(replacement) = replace(self, field, marker)? {
                            *marker = replacement;
                        }
                        return Ok(());
                    }
                }
                for (name, item) in map.iter_mut() {
                    self.transform(item, Some(name), replace)?;
                }
                Ok(())
            }
            Value::Array(items) => {
                for item in items {
                    self.transform(item, None, replace)?;
                }
                Ok(())
            }
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => Ok(()),
        }
    }
}

/// Longer values are replaced by their length when masked.
const MASK_IN_FULL_UP_TO: usize = 64;

/// Masks personal data for display: ID numbers keep their first 6 and last 4 characters, mobile
/// numbers their first 3 and last 4, anything else its last 2.
pub fn mask_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    // Long values (a handwritten signature image) would become pages of asterisks: say how long
    // they were instead.
    if chars.len() > MASK_IN_FULL_UP_TO {
        return format!("[{} characters masked]", chars.len());
    }
    let (head, tail) = match chars.len() {
        18 => (6, 4),
        11 => (3, 4),
        n if n > 4 => (0, 2),
        _ => (0, 0),
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < head || i >= chars.len() - tail {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// Masks a person's name for display: its first character, then a star for each other one (at
/// least one), as the pages show names (`张*`, `欧阳**`).
pub fn mask_name(text: &str) -> String {
    match aggregates::values::PersonName::parse(text) {
        Ok(name) => name.masked(),
        Err(_) => mask_text(text),
    }
}

fn associated_data(key_id: &str) -> Vec<u8> {
    format!("esign:pii:v1:{key_id}").into_bytes()
}

fn decode_key(id: &str, encoded: &str) -> Result<[u8; 32], PiiError> {
    BASE64
        .decode(encoded.trim())
        .ok()
        .and_then(|raw| <[u8; 32]>::try_from(raw.as_slice()).ok())
        .ok_or_else(|| PiiError::BadKey(id.to_owned()))
}

/// HMAC-SHA256 keyed with up to 64 bytes. HMAC zero-pads a short key to the block size, so padding it
/// here gives the same MAC through the infallible fixed-size constructor.
pub(crate) fn keyed_hmac(key: &[u8]) -> Hmac<Sha256> {
    let mut block = [0u8; 64];
    let len = key.len().min(block.len());
    block[..len].copy_from_slice(&key[..len]);
    <Hmac<Sha256> as hmac::KeyInit>::new(&block.into())
}

/// `[security]`: the keys of personal data at rest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// The key id that seals new personal data.
    pub pii_active_key: Option<String>,
    /// Key id -> base64 of 32 random bytes. Keep retired keys here so old values still open.
    pub pii_keys: BTreeMap<String, String>,
    /// Base64 of 32 random bytes for the keyed equality hash. Never rotate it while data uses it.
    pub pii_index_key: Option<String>,
}

/// A development key file that could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot write generated keys to {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("personal-data keys: {0}")]
    Generate(#[from] PiiError),
}

/// Reads a base64 32-byte key file, creating it (mode 0600) with a fresh key the first time
/// (development keys under the data directory; production configures its keys).
pub fn load_or_generate_key(path: &std::path::Path) -> Result<String, KeyFileError> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        return Ok(existing.trim().to_owned());
    }
    let write_error = |source| KeyFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    let key = PiiCipher::generate_key()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            use std::io::Write;
            file.write_all(key.as_bytes()).map_err(write_error)?;
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(path)
                .map(|k| k.trim().to_owned())
                .map_err(write_error)
        }
        Err(error) => Err(write_error(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cipher() -> PiiCipher {
        let keys = BTreeMap::from([
            ("k1".to_owned(), PiiCipher::generate_key().unwrap()),
            ("k2".to_owned(), PiiCipher::generate_key().unwrap()),
        ]);
        PiiCipher::new("k2", &keys, &PiiCipher::generate_key().unwrap()).unwrap()
    }

    #[test]
    fn long_values_mask_to_their_length() {
        assert_eq!(mask_text(&"A".repeat(40_000)), "[40000 characters masked]");
        assert_eq!(mask_text("11010519491231002X"), "110105********002X");
    }

    #[test]
    fn sealing_hides_every_marked_value_and_opening_restores_it() {
        let cipher = cipher();
        let payload = json!({
            "title": "张三的协议",
            "idCardNo": {"$pii": "11010519491231002X"},
            "signers": [{"name": {"$pii": "李四"}, "mobile": {"$pii": "13800138000"}}]
        });
        let sealed = cipher.seal(payload.clone()).unwrap();
        let text = sealed.as_value().to_string();
        assert!(!text.contains("11010519491231002X"));
        assert!(!text.contains("13800138000"));
        assert!(!text.contains("李四"));
        assert!(text.contains("张三"), "unmarked text stays as it is");
        assert_eq!(cipher.open(&sealed).unwrap(), payload);
    }

    #[test]
    fn equal_values_share_a_blind_index_but_not_a_ciphertext() {
        let cipher = cipher();
        let a = cipher.seal_text("13800138000").unwrap();
        let b = cipher.seal_text("13800138000").unwrap();
        assert_eq!(a["h"], b["h"]);
        assert_ne!(a["c"], b["c"]);
    }

    #[test]
    fn an_altered_ciphertext_fails_authentication() {
        let cipher = cipher();
        let mut sealed = cipher.seal_text("13800138000").unwrap();
        let mut raw = BASE64.decode(sealed["c"].as_str().unwrap()).unwrap();
        raw[NONCE_LEN] ^= 1;
        sealed["c"] = Value::String(BASE64.encode(raw));
        assert!(matches!(
            cipher.open_text(&sealed),
            Err(PiiError::Authentication)
        ));
    }

    #[test]
    fn values_sealed_under_an_old_key_still_open_after_rotation() {
        let old_key = PiiCipher::generate_key().unwrap();
        let new_key = PiiCipher::generate_key().unwrap();
        let index = PiiCipher::generate_key().unwrap();
        let before = PiiCipher::new(
            "old",
            &BTreeMap::from([("old".to_owned(), old_key.clone())]),
            &index,
        )
        .unwrap();
        let sealed = before.seal(json!({"$pii": "13800138000"})).unwrap();
        let keys = BTreeMap::from([("old".to_owned(), old_key), ("new".to_owned(), new_key)]);
        let after = PiiCipher::new("new", &keys, &index).unwrap();
        assert_eq!(after.open(&sealed).unwrap(), json!({"$pii": "13800138000"}));
    }

    #[test]
    fn masking_keeps_only_the_allowed_characters() {
        assert_eq!(mask_text("11010519491231002X"), "110105********002X");
        assert_eq!(mask_text("13800138000"), "138****8000");
        let cipher = cipher();
        let sealed = cipher.seal(json!({"id": {"$pii": "13800138000"}})).unwrap();
        assert_eq!(cipher.mask(&sealed), json!({"id": {"$pii": "138****8000"}}));
    }

    #[test]
    fn names_mask_to_their_first_character_whatever_their_length() {
        let cipher = cipher();
        let sealed = cipher
            .seal(json!({
                "name": {"$pii": "欧阳娜娜"},
                "signers": [
                    {"name": {"$pii": "张三"}},
                    // Eleven characters, the length of a mobile number: still masked as a name.
                    {"name": {"$pii": "Wang Xiaomi"}}
                ],
                "other": {"$pii": "欧阳娜娜"}
            }))
            .unwrap();
        assert_eq!(
            cipher.mask(&sealed),
            json!({
                "name": {"$pii": "欧***"},
                "signers": [{"name": {"$pii": "张*"}}, {"name": {"$pii": "W**********"}}],
                "other": {"$pii": "****"}
            })
        );
    }
}
