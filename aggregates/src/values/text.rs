//! Free text with a length bound: names, titles, reasons, device descriptions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not be blank")]
    Blank,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("must not contain control characters")]
    Control,
}

/// Text of 1..=`MAX` characters (not bytes: names are Chinese), trimmed, without control characters
/// (they would forge lines in logs and break PDF rendering).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    pub fn parse(input: &str) -> Result<Self, TextError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(TextError::Blank);
        }
        if trimmed.chars().count() > MAX {
            return Err(TextError::TooLong { max: MAX });
        }
        if trimmed.chars().any(char::is_control) {
            return Err(TextError::Control);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> FromStr for Text<MAX> {
    type Err = TextError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl<const MAX: usize> TryFrom<String> for Text<MAX> {
    type Error = TextError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        Self::parse(&input)
    }
}

impl<const MAX: usize> From<Text<MAX>> for String {
    fn from(text: Text<MAX>) -> String {
        text.0
    }
}

impl<const MAX: usize> fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's name: a signer's or the subject of a face verification (`name`, `user_name`). Personal
/// data: events carry it sealed (`Sensitive<PersonName>`), and `Debug` shows only its masked form.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonName(Text<PERSON_NAME_MAX_CHARS>);

const PERSON_NAME_MAX_CHARS: usize = 128;

impl PersonName {
    /// The longest name accepted, in characters.
    pub const MAX_CHARS: usize = PERSON_NAME_MAX_CHARS;

    pub fn parse(input: &str) -> Result<Self, TextError> {
        Text::parse(input).map(Self)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The first character and a star for each other one (at least one): `张*`, `欧阳**`.
    pub fn masked(&self) -> String {
        let mut characters = self.as_str().chars();
        let first = characters.next().unwrap_or('*');
        format!("{first}{}", "*".repeat(characters.count().max(1)))
    }
}

impl FromStr for PersonName {
    type Err = TextError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName({})", self.masked())
    }
}
/// A contract title (`title` varchar(256)).
pub type Title = Text<256>;
/// A reason given for a rejection, revocation or archive failure (`reject_reason` varchar(512)).
pub type Reason = Text<512>;
/// Who revoked a contract (`operator`).
pub type Operator = Text<64>;
/// The signer's device description (`device_info` varchar(512)).
pub type DeviceInfo = Text<512>;
/// A browser's `User-Agent` as sent.
pub type UserAgent = Text<512>;
/// A template's or variable's display name.
pub type DisplayName = Text<128>;
/// A sample value or certificate issuer name.
pub type LongText = Text<1024>;
/// The H5 page title of a face verification (`uiConfig.title`).
pub type PageTitle = Text<64>;
/// The name a caller gives an uploaded document (its file name, shown to the signers).
pub type DocumentName = Text<128>;
/// Text a signature place is found by in an uploaded document (关键字定位, e.g. "甲方（盖章）").
pub type AnchorText = Text<64>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_counted_in_characters() {
        let name = PersonName::parse("  张三 ").unwrap();
        assert_eq!(name.as_str(), "张三");
        assert!(Text::<2>::parse("张三").is_ok());
        assert_eq!(
            Text::<2>::parse("张三丰"),
            Err(TextError::TooLong { max: 2 })
        );
    }

    #[test]
    fn a_name_shows_masked_in_debug_output() {
        let name = PersonName::parse("欧阳娜娜").unwrap();
        assert_eq!(name.masked(), "欧***");
        assert_eq!(PersonName::parse("张三").unwrap().masked(), "张*");
        assert_eq!(PersonName::parse("Z").unwrap().masked(), "Z*");
        assert_eq!(format!("{name:?}"), "PersonName(欧***)");
        assert_eq!(name.to_string(), "欧阳娜娜");
        assert_eq!(
            PersonName::parse(&"名".repeat(129)),
            Err(TextError::TooLong { max: 128 })
        );
    }

    #[test]
    fn blank_text_and_control_characters_are_refused() {
        assert_eq!(PersonName::parse("   "), Err(TextError::Blank));
        assert_eq!(Reason::parse("a\nforged log line"), Err(TextError::Control));
    }
}
