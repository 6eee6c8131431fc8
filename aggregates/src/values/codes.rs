//! The closed vocabularies of the spec (`bizType`, `partyType`, `signMethod`, ...), spelt exactly as the
//! spec spells them on the wire.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A value outside a closed vocabulary; names the allowed values so the client can fix it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be one of {allowed}")]
pub struct UnknownCode {
    allowed: String,
}

macro_rules! code_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$variant_doc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$variant_doc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The wire spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            pub fn parse(input: &str) -> Result<Self, UnknownCode> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|code| code.as_str() == input)
                    .ok_or_else(|| UnknownCode {
                        allowed: Self::ALL.iter().map(|code| code.as_str()).collect::<Vec<_>>().join(" | "),
                    })
            }
        }

        impl FromStr for $name {
            type Err = UnknownCode;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                Self::parse(input)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

code_enum!(
    /// What a face verification is for (spec 2.1.1 `bizType`).
    VerificationBizType {
        RelationshipBinding => "RELATIONSHIP_BINDING",
        PayerAuthorization => "PAYER_AUTHORIZATION",
    }
);

code_enum!(
    /// What a contract is for (spec 2.1.2 `bizType`).
    ContractBizType {
        RelationshipAgreement => "RELATIONSHIP_AGREEMENT",
        PayerAuthorizationAgreement => "PAYER_AUTHORIZATION_AGREEMENT",
    }
);

code_enum!(
    /// A signer's business role (`partyType`).
    PartyType {
        Receiver => "RECEIVER",
        Payer => "PAYER",
    }
);

code_enum!(
    /// How a signer proves who they are before signing (`signMethod`, spec 4.1.2 step 3).
    SignMethod {
        /// A passed face verification matching the signer plus an SMS code to the signer's mobile.
        FaceAndSms => "FACE_AND_SMS",
        /// A certificate from a CA, verified against the signer's name (and ID number when it has one).
        CaCert => "CA_CERT",
    }
);

code_enum!(
    /// In what capacity the person who signs for an organisation acts (`organization.agentRole`).
    AgentRole {
        /// The organisation's legal representative (法定代表人).
        LegalRepresentative => "LEGAL_REPRESENTATIVE",
        /// A person the organisation authorised to sign for it (经办人 / 授权代理人).
        AuthorizedAgent => "AUTHORIZED_AGENT",
    }
);

code_enum!(
    /// What an organisation's signature shows on the page (`organization.appearance`).
    SealAppearance {
        /// The organisation's seal alone (盖章).
        Seal => "SEAL",
        /// The seal beside the acting person's handwritten signature (盖章并签字).
        SealAndHandwritten => "SEAL_AND_HANDWRITTEN",
    }
);

code_enum!(
    /// How a signer receives the sign link (`notifyType`); decides the link's default lifetime.
    NotifyType {
        Sms => "SMS",
        H5Link => "H5_LINK",
    }
);

code_enum!(
    /// Who archives a signed contract (`archiveProvider`, table `contract_archive`).
    ArchiveProvider {
        Tsa => "TSA",
        Blockchain => "BLOCKCHAIN",
        LocalCa => "LOCAL_CA",
    }
);

code_enum!(
    /// Why a face verification failed (`failReason`).
    FailReason {
        FaceMismatch => "FACE_MISMATCH",
        IdCardMismatch => "ID_CARD_MISMATCH",
        PoorQuality => "POOR_QUALITY",
        LivenessFailed => "LIVENESS_FAILED",
        /// The person left the provider's page without finishing.
        UserCancelled => "USER_CANCELLED",
        /// The provider could not decide (its own failure, not the person's).
        ProviderError => "PROVIDER_ERROR",
    }
);

code_enum!(
    /// How a template's content is written (`content_type`).
    ContentType {
        Html => "HTML",
        ComponentJson => "COMPONENT_JSON",
    }
);

code_enum!(
    /// A face verification's status as the API and `face_verification.status` show it.
    VerificationStatus {
        Pending => "PENDING",
        Processing => "PROCESSING",
        Success => "SUCCESS",
        Failed => "FAILED",
        Expired => "EXPIRED",
    }
);

code_enum!(
    /// A contract's status as the API and `contract.status` show it.
    ContractStatus {
        Created => "CREATED",
        PartialSigned => "PARTIAL_SIGNED",
        Signed => "SIGNED",
        Rejected => "REJECTED",
        Expired => "EXPIRED",
        Revoked => "REVOKED",
    }
);

code_enum!(
    /// A signer's status (`contract_signer.sign_status`).
    SignStatus {
        Pending => "PENDING",
        Signed => "SIGNED",
        Rejected => "REJECTED",
    }
);

code_enum!(
    /// An archive record's status (`contract_archive.status`).
    ArchiveStatus {
        Pending => "PENDING",
        Success => "SUCCESS",
        Failed => "FAILED",
    }
);

code_enum!(
    /// What a company seal is for: 公章 (the official seal, valid for everything the company signs),
    /// 合同专用章 (contracts only) or 财务专用章 (finance documents).
    SealKind {
        Official => "OFFICIAL",
        Contract => "CONTRACT",
        Finance => "FINANCE",
    }
);

impl SealKind {
    /// The kind's name as it is engraved on the seal, below the star.
    pub const fn label(self) -> &'static str {
        match self {
            SealKind::Official => "公章",
            SealKind::Contract => "合同专用章",
            SealKind::Finance => "财务专用章",
        }
    }
}

code_enum!(
    /// Where a seal version's image came from: uploaded by an administrator (a scan of the physical
    /// seal) or drawn by esign from the organisation's name and the seal's kind.
    SealImageSource {
        Uploaded => "UPLOADED",
        Drawn => "DRAWN",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_spec_spelling_in_json_and_text() {
        assert_eq!(
            serde_json::to_value(SignMethod::FaceAndSms).unwrap(),
            serde_json::json!("FACE_AND_SMS")
        );
        assert_eq!(NotifyType::parse("H5_LINK"), Ok(NotifyType::H5Link));
        assert_eq!(ArchiveProvider::LocalCa.to_string(), "LOCAL_CA");
        assert_eq!(
            serde_json::from_value::<ContractStatus>(serde_json::json!("PARTIAL_SIGNED")).unwrap(),
            ContractStatus::PartialSigned
        );
    }

    #[test]
    fn an_unknown_code_names_the_allowed_values() {
        let error = PartyType::parse("payer").unwrap_err();
        assert_eq!(error.to_string(), "must be one of RECEIVER | PAYER");
    }

    #[test]
    fn seal_kinds_carry_their_engraved_labels() {
        assert_eq!(SealKind::parse("CONTRACT"), Ok(SealKind::Contract));
        assert_eq!(SealKind::Contract.label(), "合同专用章");
        assert_eq!(
            SealKind::parse("official").unwrap_err().to_string(),
            "must be one of OFFICIAL | CONTRACT | FINANCE"
        );
    }
}
