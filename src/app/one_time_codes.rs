//! One-time codes sent by text message: six digits from the operating system's generator, kept only
//! as a keyed hash bound to what the code is for.

use aggregates::values::{Digest, DigestError};
use rand::Rng;

use crate::pii::PiiCipher;

/// A freshly generated code. `Debug` hides it: it is a credential until used.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

impl std::fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneTimeCode(******)")
    }
}

impl OneTimeCode {
    /// Six uniformly random digits (leading zeros kept).
    pub fn generate() -> Self {
        let value: u32 = rand::rng().random_range(0..1_000_000);
        Self(format!("{value:06}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The keyed hash stored for a code. `scope` names what the code unlocks (a signer's link, a degraded
/// face verification), so a code for one cannot be replayed against another. Six digits are too few
/// for a plain hash to hide, hence the key.
pub fn code_digest(pii: &PiiCipher, scope: &str, code: &str) -> Result<Digest, DigestError> {
    // `blind_index` is lowercase hex of HMAC-SHA256, which is what a digest holds.
    Digest::parse(&pii.blind_index(&format!("esign:sms-code:{scope}:{}", code.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..1000 {
            let code = OneTimeCode::generate();
            assert_eq!(code.as_str().len(), 6);
            assert!(code.as_str().bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn debug_hides_the_code() {
        let code = OneTimeCode::generate();
        assert!(!format!("{code:?}").contains(code.as_str()));
    }
}
