//! Identifiers chosen by callers, providers or the service: bounded length, a URL- and log-safe charset.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("may only contain letters, digits and _ - . :")]
    Charset,
}

/// The shared rule: 1..=`max` characters of `[A-Za-z0-9_\-.:]`. The charset keeps ids safe inside URLs,
/// stream names (`contract-<id>`), file names and log lines without escaping.
fn check(input: &str, max: usize) -> Result<(), IdError> {
    if input.is_empty() {
        return Err(IdError::Empty);
    }
    if input.len() > max {
        return Err(IdError::TooLong { max });
    }
    let allowed =
        |byte: &u8| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.' | b':');
    if !input.as_bytes().iter().all(allowed) {
        return Err(IdError::Charset);
    }
    Ok(())
}

macro_rules! business_id {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value (the column width in spec section 3.1).
            pub const MAX_LEN: usize = $max;

            pub fn parse(input: &str) -> Result<Self, IdError> {
                check(input, Self::MAX_LEN).map(|()| Self(input.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                Self::parse(input)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(input: String) -> Result<Self, Self::Error> {
                check(&input, Self::MAX_LEN).map(|()| Self(input))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

business_id!(
    /// The caller's business reference (`bizId`); with `bizType` it makes a request idempotent.
    BizId,
    64
);
business_id!(
    /// A signer's business identity inside one contract (`partyId`).
    PartyId,
    64
);
business_id!(
    /// A template's id (`templateId`); the template stream holds all its versions.
    TemplateId,
    64
);
business_id!(
    /// A template version label (`version`, e.g. `1.0`).
    TemplateVersion,
    32
);
business_id!(
    /// A template category (`category`, e.g. `RELATIONSHIP_AGREEMENT`).
    Category,
    32
);
business_id!(
    /// A face verification's id (`verificationId`), assigned by the service.
    VerificationId,
    64
);
business_id!(
    /// A contract's id (`contractId`), assigned by the service.
    ContractId,
    64
);
business_id!(
    /// The API client that owns an aggregate (`X-Client-Id`).
    ClientId,
    64
);
business_id!(
    /// An archive record's id (`archiveId`), one per contract and provider.
    ArchiveId,
    64
);
business_id!(
    /// A sign link's id, assigned by the service; the link's token is known only by its hash.
    LinkId,
    64
);
business_id!(
    /// The name of an external provider adapter (`sandbox`, `tencent`, ...).
    ProviderName,
    32
);
business_id!(
    /// A provider's id for a task it runs for us.
    ProviderTaskId,
    128
);
business_id!(
    /// A transaction number from a provider or the signing service (`transactionNo`).
    TransactionNo,
    128
);
business_id!(
    /// A company seal's id (`sealId`, `SEAL_...`), assigned by the service; the seal's stream holds
    /// all its versions.
    SealId,
    64
);
business_id!(
    /// A certificate's serial number as its issuer prints it (hex or decimal).
    CertificateSerial,
    128
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_safe_charset_up_to_their_limit() {
        assert!(BizId::parse("AUTH_FLOW-001.a:b").is_ok());
        assert!(BizId::parse(&"a".repeat(64)).is_ok());
        assert_eq!(
            BizId::parse(&"a".repeat(65)),
            Err(IdError::TooLong { max: 64 })
        );
        assert_eq!(
            TemplateVersion::parse(&"1".repeat(33)),
            Err(IdError::TooLong { max: 32 })
        );
    }

    #[test]
    fn empty_ids_and_unsafe_characters_are_refused() {
        assert_eq!(PartyId::parse(""), Err(IdError::Empty));
        assert_eq!(PartyId::parse("a b"), Err(IdError::Charset));
        assert_eq!(PartyId::parse("a/b"), Err(IdError::Charset));
        assert_eq!(PartyId::parse("收款方"), Err(IdError::Charset));
    }

    #[test]
    fn ids_serialise_as_strings_and_are_checked_when_read() {
        let id = ContractId::parse("CONTRACT_1").unwrap();
        assert_eq!(
            serde_json::to_value(&id).unwrap(),
            serde_json::json!("CONTRACT_1")
        );
        assert!(serde_json::from_value::<ContractId>(serde_json::json!("bad id")).is_err());
    }
}
