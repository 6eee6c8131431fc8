//! SHA-256 digests supplied by the service: document and preview hashes, hashed link tokens and SMS codes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be a SHA-256 digest: 64 hex characters, optionally prefixed sha256:")]
pub struct DigestError;

/// A 32-byte digest as 64 lower-case hex characters. The domain never hashes (it has no crypto); it only
/// stores and compares digests the service computed. Secrets such as SMS codes must be hashed with a
/// key (HMAC): a plain hash of a six-digit code is reversible by trying every code.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// Accepts upper or lower case and the `sha256:` prefix the spec uses for `fileHash`.
    pub fn parse(input: &str) -> Result<Self, DigestError> {
        let hex = input.strip_prefix("sha256:").unwrap_or(input);
        if hex.len() != 64 || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(DigestError);
        }
        Ok(Self(hex.to_ascii_lowercase()))
    }

    pub fn as_hex(&self) -> &str {
        &self.0
    }

    /// Compares without an early exit, so a guessed token hash learns nothing from timing.
    pub fn matches(&self, other: &Digest) -> bool {
        let difference = self
            .0
            .bytes()
            .zip(other.0.bytes())
            .fold(0u8, |acc, (left, right)| acc | (left ^ right));
        difference == 0 && self.0.len() == other.0.len()
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        Self::parse(&input)
    }
}

impl From<Digest> for String {
    fn from(digest: Digest) -> String {
        digest.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";

    #[test]
    fn a_digest_is_normalised_to_lower_case_without_prefix() {
        let digest = Digest::parse(&format!("sha256:{HEX}")).unwrap();
        assert_eq!(digest.as_hex(), HEX.to_ascii_lowercase());
        assert!(digest.matches(&Digest::parse(HEX).unwrap()));
    }

    #[test]
    fn short_or_non_hex_digests_are_refused() {
        assert_eq!(Digest::parse("abc"), Err(DigestError));
        assert_eq!(Digest::parse(&"g".repeat(64)), Err(DigestError));
    }
}
