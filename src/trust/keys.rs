//! Platform signing keys (ECDSA P-256) and their encrypted files at rest.
//!
//! A key file is PEM with the label `ESIGN ENCRYPTED PRIVATE KEY`: a version byte, a 12-byte nonce
//! and the AES-256-GCM ciphertext of the PKCS#8 document. The key's role (`root`, `tsa`, ...) is the
//! associated data, so a file renamed to another role does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use der::pem::LineEnding;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};

/// PEM label of an encrypted key file.
pub const ENCRYPTED_LABEL: &str = "ESIGN ENCRYPTED PRIVATE KEY";
const PLAIN_LABEL: &str = "PRIVATE KEY";
const FORMAT_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key encryption key must be base64 of exactly 32 bytes")]
    BadEncryptionKey,
    #[error("cannot generate a key: {0}")]
    Generate(String),
    #[error("the key file is not PEM: {0}")]
    NotPem(String),
    #[error("the key file is not an esign encrypted key or a PKCS#8 `PRIVATE KEY` (label {0:?})")]
    UnknownLabel(String),
    #[error("the key file is malformed: {0}")]
    Malformed(&'static str),
    #[error(
        "the key does not open with this key encryption key (wrong key, or another role's file)"
    )]
    Authentication,
    #[error("an encrypted key file needs [trust] key_encryption_key")]
    NoEncryptionKey,
    #[error("not an ECDSA P-256 PKCS#8 key with its public key: {0}")]
    Unsupported(String),
}

/// The AES-256-GCM key that protects key files.
#[derive(Clone)]
pub struct KeyEncryptionKey(Aes256Gcm);

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(..)")
    }
}

impl KeyEncryptionKey {
    /// From the configuration's base64 form.
    pub fn from_base64(encoded: &str) -> Result<Self, KeyError> {
        let raw = BASE64
            .decode(encoded.trim())
            .map_err(|_| KeyError::BadEncryptionKey)?;
        let raw: [u8; 32] = raw.try_into().map_err(|_| KeyError::BadEncryptionKey)?;
        Ok(Self(Aes256Gcm::new(&raw.into())))
    }

    /// Encrypts a PKCS#8 document for `role` into the PEM file form.
    pub fn seal(&self, role: &str, pkcs8: &[u8]) -> Result<String, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| KeyError::Generate(e.to_string()))?;
        let ciphertext = self
            .0
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: pkcs8,
                    aad: &associated_data(role),
                },
            )
            .map_err(|_| KeyError::Authentication)?;
        let mut body = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        body.push(FORMAT_VERSION);
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&ciphertext);
        der::pem::encode_string(ENCRYPTED_LABEL, LineEnding::LF, &body)
            .map_err(|e| KeyError::NotPem(e.to_string()))
    }

    /// Decrypts the body of an encrypted key file written by [`KeyEncryptionKey::seal`].
    fn open(&self, role: &str, body: &[u8]) -> Result<Vec<u8>, KeyError> {
        let (&version, rest) = body.split_first().ok_or(KeyError::Malformed("empty"))?;
        if version != FORMAT_VERSION {
            return Err(KeyError::Malformed("unknown format version"));
        }
        if rest.len() <= NONCE_LEN {
            return Err(KeyError::Malformed("too short"));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| KeyError::Malformed("nonce"))?;
        self.0
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &associated_data(role),
                },
            )
            .map_err(|_| KeyError::Authentication)
    }
}

fn associated_data(role: &str) -> Vec<u8> {
    format!("esign trust key v1:{role}").into_bytes()
}

/// A fresh random key encryption key in the configuration's base64 form.
pub fn generate_encryption_key() -> Result<String, KeyError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| KeyError::Generate(e.to_string()))?;
    Ok(BASE64.encode(key))
}

/// An ECDSA P-256 private key that signs with SHA-256 (certificates, CMS signatures).
pub struct SigningKey {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("public_key", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key pair.
    pub fn generate() -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Self::from_pkcs8(document.as_ref())
    }

    /// From a PKCS#8 document (DER) holding a P-256 key and its public key.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, KeyError> {
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &SystemRandom::new())
                .map_err(|e| KeyError::Unsupported(e.to_string()))?;
        Ok(Self {
            pair,
            pkcs8: pkcs8.to_vec(),
        })
    }

    /// The PKCS#8 document (DER). Secret: never log or write it unencrypted.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The uncompressed public point (65 bytes).
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// An ECDSA-with-SHA256 signature of `message`, DER encoded (`Ecdsa-Sig-Value`).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|e| KeyError::Generate(e.to_string()))
    }

    /// Reads a key file of `role`: esign's encrypted form (needs `kek`) or an operator's plain
    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem_file(
        role: &str,
        text: &str,
        kek: Option<&KeyEncryptionKey>,
    ) -> Result<Self, KeyError> {
        let (label, body) = der::pem::decode_vec(text.trim().as_bytes())
            .map_err(|e| KeyError::NotPem(e.to_string()))?;
        match label {
            ENCRYPTED_LABEL => {
                let kek = kek.ok_or(KeyError::NoEncryptionKey)?;
                Self::from_pkcs8(&kek.open(role, &body)?)
            }
            PLAIN_LABEL => Self::from_pkcs8(&body),
            other => Err(KeyError::UnknownLabel(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_with_its_key_and_role_only() {
        let kek = KeyEncryptionKey::from_base64(&generate_encryption_key().unwrap()).unwrap();
        let key = SigningKey::generate().unwrap();
        let file = kek.seal("tsa", key.pkcs8_der()).unwrap();
        assert!(file.starts_with("-----BEGIN ESIGN ENCRYPTED PRIVATE KEY-----"));

        let opened = SigningKey::from_pem_file("tsa", &file, Some(&kek)).unwrap();
        assert_eq!(opened.public_key(), key.public_key());

        let other = KeyEncryptionKey::from_base64(&generate_encryption_key().unwrap()).unwrap();
        assert!(matches!(
            SigningKey::from_pem_file("tsa", &file, Some(&other)),
            Err(KeyError::Authentication)
        ));
        assert!(matches!(
            SigningKey::from_pem_file("root", &file, Some(&kek)),
            Err(KeyError::Authentication)
        ));
        assert!(matches!(
            SigningKey::from_pem_file("tsa", &file, None),
            Err(KeyError::NoEncryptionKey)
        ));
    }

    #[test]
    fn the_encrypted_body_is_not_a_pkcs8_key() {
        let kek = KeyEncryptionKey::from_base64(&generate_encryption_key().unwrap()).unwrap();
        let key = SigningKey::generate().unwrap();
        let file = kek.seal("root", key.pkcs8_der()).unwrap();
        let (_, body) = der::pem::decode_vec(file.as_bytes()).unwrap();
        assert!(SigningKey::from_pkcs8(&body).is_err());
        assert!(SigningKey::from_pkcs8(&body[1 + NONCE_LEN..]).is_err());
        assert!(
            !body
                .windows(key.pkcs8_der().len())
                .any(|window| window == key.pkcs8_der())
        );
    }

    #[test]
    fn a_bad_encryption_key_is_refused() {
        assert!(KeyEncryptionKey::from_base64("c2hvcnQ=").is_err());
        assert!(KeyEncryptionKey::from_base64("not base64!").is_err());
    }
}
