//! Mainland China mobile numbers: parsed once, valid afterwards.

use std::fmt;
use std::str::FromStr;

/// An 11-digit mainland mobile number, `1[3-9]` followed by 9 digits, without a country prefix.
///
/// `Debug` prints the masked form; `Display` the full number (events carry it inside
/// [`crate::Sensitive`]).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MobileNumber(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MobileError {
    #[error("must be 11 digits")]
    Format,
    #[error("must start with 13 to 19")]
    Prefix,
}

impl MobileNumber {
    pub fn parse(input: &str) -> Result<Self, MobileError> {
        let bytes = input.as_bytes();
        if bytes.len() != 11 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(MobileError::Format);
        }
        if !matches!(bytes, [b'1', b'3'..=b'9', ..]) {
            return Err(MobileError::Prefix);
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The display and log form, `138****8000`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl FromStr for MobileNumber {
    type Err = MobileError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl fmt::Display for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MobileNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mainland_number_is_accepted_and_masked() {
        let mobile = MobileNumber::parse("13800138000").unwrap();
        assert_eq!(mobile.masked(), "138****8000");
        assert_eq!(format!("{mobile:?}"), "MobileNumber(138****8000)");
        assert_eq!(mobile.to_string(), "13800138000");
    }

    #[test]
    fn wrong_lengths_prefixes_and_characters_are_refused() {
        assert_eq!(MobileNumber::parse("1380013800"), Err(MobileError::Format));
        assert_eq!(
            MobileNumber::parse("+8613800138000"),
            Err(MobileError::Format)
        );
        assert_eq!(MobileNumber::parse("1380013800a"), Err(MobileError::Format));
        assert_eq!(MobileNumber::parse("12800138000"), Err(MobileError::Prefix));
        assert_eq!(MobileNumber::parse("23800138000"), Err(MobileError::Prefix));
    }

    proptest::proptest! {
        #[test]
        fn every_number_of_the_mainland_plan_parses_and_round_trips(number in "1[3-9][0-9]{9}") {
            let mobile = MobileNumber::parse(&number).unwrap();
            proptest::prop_assert_eq!(mobile.as_str(), number.as_str());
            proptest::prop_assert_eq!(mobile.to_string().parse::<MobileNumber>().unwrap(), mobile);
        }

        #[test]
        fn anything_else_is_refused(text in ".{0,14}") {
            let plan = text.len() == 11
                && text.bytes().all(|b| b.is_ascii_digit())
                && text.starts_with('1')
                && !matches!(text.as_bytes()[1], b'0' | b'1' | b'2');
            proptest::prop_assert_eq!(MobileNumber::parse(&text).is_ok(), plan);
        }
    }
}
