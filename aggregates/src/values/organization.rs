//! Organisations: the unified social credit code (统一社会信用代码, GB 32100-2015) that identifies
//! a Chinese company, and the organisation's registered name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::text::{Text, TextError};

/// The characters a credit code is written in, in the order that gives each its value (0..=30):
/// digits and capital letters without I, O, S, V and Z.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// The weight of each of the first 17 characters: 3^i mod 31.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
/// Length of a credit code.
pub const CREDIT_CODE_LEN: usize = 18;

/// A unified social credit code: 18 characters of `ALPHABET`, the last the check character of the
/// first 17 (GB 32100-2015, 4.2: `31 - (Σ value × weight mod 31)`, with 31 written as `0`).
///
/// A credit code identifies a business, not a person, so it is not personal data: it is printed in
/// full on documents and certificates. Lowercase input is accepted and kept uppercase.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CreditCode(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    #[error("must be 18 characters")]
    Length,
    #[error("must use only digits and the capital letters 0-9 A-H J-N P-R T U W-Y")]
    Character,
    #[error("has a wrong check character (the 18th must be {expected})")]
    Check { expected: char },
}

impl CreditCode {
    pub fn parse(input: &str) -> Result<Self, CreditCodeError> {
        let upper = input.trim().to_ascii_uppercase();
        if upper.chars().count() != CREDIT_CODE_LEN {
            return Err(CreditCodeError::Length);
        }
        let mut values = [0u32; CREDIT_CODE_LEN];
        for (slot, byte) in values.iter_mut().zip(upper.bytes()) {
            *slot = value_of(byte).ok_or(CreditCodeError::Character)?;
        }
        let expected = check_character(&values[..17]);
        if upper.as_bytes()[17] != expected {
            return Err(CreditCodeError::Check {
                expected: char::from(expected),
            });
        }
        Ok(Self(upper))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The value of one credit-code character, `None` outside the alphabet.
fn value_of(byte: u8) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|&letter| letter == byte)
        .and_then(|index| u32::try_from(index).ok())
}

/// The check character of the first 17 character values.
fn check_character(values: &[u32]) -> u8 {
    let sum: u32 = values
        .iter()
        .zip(WEIGHTS)
        .map(|(value, weight)| value * weight)
        .sum();
    let check = (31 - sum % 31) % 31;
    ALPHABET[check as usize]
}

/// The check character GB 32100 gives the first 17 characters of a code, `None` when one of them
/// is outside the alphabet. For test data and tools that need valid codes.
pub fn credit_code_check_character(first_17: &str) -> Option<char> {
    if first_17.len() != 17 {
        return None;
    }
    let values = first_17
        .bytes()
        .map(value_of)
        .collect::<Option<Vec<u32>>>()?;
    Some(char::from(check_character(&values)))
}

impl FromStr for CreditCode {
    type Err = CreditCodeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CreditCode({})", self.0)
    }
}

impl Serialize for CreditCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CreditCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An organisation's registered name (企业名称), e.g. `XX品牌总部`: 1 to 128 characters. Not
/// personal data: it is printed in full, on the seal too.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrganizationName(Text<ORGANIZATION_NAME_MAX_CHARS>);

const ORGANIZATION_NAME_MAX_CHARS: usize = 128;

impl OrganizationName {
    pub const MAX_CHARS: usize = ORGANIZATION_NAME_MAX_CHARS;

    pub fn parse(input: &str) -> Result<Self, TextError> {
        Text::parse(input).map(Self)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl FromStr for OrganizationName {
    type Err = TextError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl fmt::Display for OrganizationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for OrganizationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrganizationName({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes printed on real business licences (public registers).
    const PUBLISHED: [&str; 3] = [
        "91350100M000100Y43",
        "91110000802100433B",
        "91440300708461136T",
    ];

    #[test]
    fn published_codes_are_accepted() {
        for code in PUBLISHED {
            assert_eq!(CreditCode::parse(code).unwrap().as_str(), code);
        }
    }

    #[test]
    fn lowercase_is_accepted_and_kept_uppercase() {
        let code = CreditCode::parse("91350100m000100y43").unwrap();
        assert_eq!(code.as_str(), "91350100M000100Y43");
    }

    #[test]
    fn a_wrong_check_character_names_the_right_one() {
        assert_eq!(
            CreditCode::parse("91350100M000100Y44"),
            Err(CreditCodeError::Check { expected: '3' })
        );
        assert_eq!(
            CreditCode::parse("91350100M000100Y44")
                .unwrap_err()
                .to_string(),
            "has a wrong check character (the 18th must be 3)"
        );
    }

    #[test]
    fn lengths_and_letters_outside_the_alphabet_are_refused() {
        assert_eq!(
            CreditCode::parse("91350100M000100Y4"),
            Err(CreditCodeError::Length)
        );
        assert_eq!(
            CreditCode::parse("91350100M000100Y433"),
            Err(CreditCodeError::Length)
        );
        // I, O, S, V and Z are never used: they read like digits or each other.
        for letter in ['I', 'O', 'S', 'V', 'Z'] {
            let code = format!("9135010{letter}M000100Y43");
            assert_eq!(CreditCode::parse(&code), Err(CreditCodeError::Character));
        }
        // A full-width digit counts as one character but is not in the alphabet.
        assert_eq!(
            CreditCode::parse("９1350100M000100Y43"),
            Err(CreditCodeError::Character)
        );
    }

    #[test]
    fn the_check_character_helper_completes_a_code() {
        assert_eq!(credit_code_check_character("91350100M000100Y4"), Some('3'));
        assert_eq!(credit_code_check_character("9135010OM000100Y4"), None);
        assert_eq!(credit_code_check_character("short"), None);
    }

    #[test]
    fn serde_reads_back_only_valid_codes() {
        let code: CreditCode = serde_json::from_str("\"91350100M000100Y43\"").unwrap();
        assert_eq!(
            serde_json::to_string(&code).unwrap(),
            "\"91350100M000100Y43\""
        );
        assert!(serde_json::from_str::<CreditCode>("\"91350100M000100Y44\"").is_err());
    }
}
