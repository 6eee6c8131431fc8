//! The H5 page's theme colour (`uiConfig.themeColor`).

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be a CSS hex colour such as #1890ff")]
pub struct ThemeColorError;

/// `#rgb` or `#rrggbb`, so it can be put into a style attribute without escaping.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ThemeColor(String);

impl ThemeColor {
    pub fn parse(input: &str) -> Result<Self, ThemeColorError> {
        let hex = input.strip_prefix('#').ok_or(ThemeColorError)?;
        if !matches!(hex.len(), 3 | 6) || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(ThemeColorError);
        }
        Ok(Self(input.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ThemeColor {
    type Error = ThemeColorError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        Self::parse(&input)
    }
}

impl From<ThemeColor> for String {
    fn from(color: ThemeColor) -> String {
        color.0
    }
}

impl fmt::Display for ThemeColor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_hex_colours_are_accepted_and_others_refused() {
        assert_eq!(ThemeColor::parse("#1890FF").unwrap().as_str(), "#1890ff");
        assert!(ThemeColor::parse("#fff").is_ok());
        assert!(ThemeColor::parse("red").is_err());
        assert!(ThemeColor::parse("#12345").is_err());
        assert!(ThemeColor::parse("#fff;background:url(x)").is_err());
    }
}
