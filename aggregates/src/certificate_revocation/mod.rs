//! The CertificateRevocation aggregate: an operator's revocation of one certificate the platform's
//! intermediate CA issued, one stream per serial number (`certificate_revocation-<SERIAL>`).
//!
//! A revocation is final (RFC 5280 has no way back except certificateHold, which esign does not
//! use), so the stream holds exactly one event and a second revocation of the same serial is
//! refused. The CA's CRL and OCSP responder read the revoked serials from the projection of these
//! streams; the event is the audited record of who revoked what, when and why.
//!
//! ```text
//! NOT REVOKED --Revoke--> REVOKED
//! ```

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::errors::{ErrorKind, ValidationErrors};
use crate::values::Operator;
use crate::{Aggregate, DomainEvent};

#[derive(Debug)]
pub struct CertificateRevocationAggregate;

// ---------------------------------------------------------------------------------------------------
// Values

/// A certificate's serial number as `openssl x509 -serial` prints it: upper-case hexadecimal of the
/// number's bytes, without leading zero bytes. RFC 5280 allows at most 20 octets and only positive
/// numbers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CertificateSerial(String);

/// Why a serial number is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SerialError {
    #[error("must be hexadecimal digits (as `openssl x509 -serial` prints them)")]
    NotHex,
    #[error("must not be zero")]
    Zero,
    #[error("must be at most 20 octets (40 hexadecimal digits)")]
    TooLong,
}

/// RFC 5280 allows serial numbers of up to 20 octets.
const MAX_SERIAL_OCTETS: usize = 20;

impl CertificateSerial {
    /// Accepts `4A3F...`, `4a:3f:...`, `serial=4A3F...` and `0x4a3f...`; leading zero bytes are
    /// dropped, so the DER form of a serial with its high bit set (`00 C4 ...`) names the same one.
    pub fn parse(input: &str) -> Result<Self, SerialError> {
        let trimmed = input.trim();
        let trimmed = trimmed.strip_prefix("serial=").unwrap_or(trimmed);
        let trimmed = trimmed
            .strip_prefix("0x")
            .or_else(|| trimmed.strip_prefix("0X"))
            .unwrap_or(trimmed);
        let digits: String = trimmed.chars().filter(|c| *c != ':').collect();
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(SerialError::NotHex);
        }
        let significant = digits.trim_start_matches('0').to_ascii_uppercase();
        if significant.is_empty() {
            return Err(SerialError::Zero);
        }
        let even = if significant.len() % 2 == 1 {
            format!("0{significant}")
        } else {
            significant
        };
        if even.len() > MAX_SERIAL_OCTETS * 2 {
            return Err(SerialError::TooLong);
        }
        Ok(Self(even))
    }

    /// The serial of a certificate from the bytes of its DER INTEGER (big-endian, two's
    /// complement; a positive number's leading zero byte is dropped).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SerialError> {
        let hex: String = bytes.iter().map(|byte| format!("{byte:02X}")).collect();
        Self::parse(&hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number's bytes, big-endian, without leading zeros.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0
            .as_bytes()
            .chunks(2)
            .filter_map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|text| u8::from_str_radix(text, 16).ok())
            })
            .collect()
    }
}

impl FromStr for CertificateSerial {
    type Err = SerialError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl TryFrom<String> for CertificateSerial {
    type Error = SerialError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        Self::parse(&input)
    }
}

impl From<CertificateSerial> for String {
    fn from(serial: CertificateSerial) -> String {
        serial.0
    }
}

impl fmt::Display for CertificateSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a certificate is revoked: the RFC 5280 CRLReason values that apply to certificates esign
/// issues. certificateHold (a suspension) and the CA and attribute-authority reasons are not offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
}

/// The reason names as the command line and the API accept them.
pub const REVOCATION_REASONS: &str =
    "unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be one of {REVOCATION_REASONS}")]
pub struct ReasonError;

impl RevocationReason {
    pub const ALL: [RevocationReason; 5] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
    ];

    /// The RFC 5280 name (case does not matter; `key-compromise` and `key_compromise` are accepted).
    pub fn parse(input: &str) -> Result<Self, ReasonError> {
        let wanted: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_'))
            .collect::<String>()
            .to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|reason| reason.as_str().to_ascii_lowercase() == wanted)
            .ok_or(ReasonError)
    }

    /// The RFC 5280 name.
    pub fn as_str(&self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
            RevocationReason::AffiliationChanged => "affiliationChanged",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessationOfOperation",
        }
    }

    /// The CRLReason code (RFC 5280 section 5.3.1).
    pub fn code(&self) -> u8 {
        match self {
            RevocationReason::Unspecified => 0,
            RevocationReason::KeyCompromise => 1,
            RevocationReason::AffiliationChanged => 3,
            RevocationReason::Superseded => 4,
            RevocationReason::CessationOfOperation => 5,
        }
    }

    /// The reason of a CRLReason code, for the codes esign uses.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.code() == code)
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------------------
// Commands

#[derive(Clone, Debug)]
pub enum RevocationCommand {
    Revoke(RevokeCertificate),
}

/// Revokes the certificate with this serial number (as typed by an operator: parsed here, so every
/// bad field is named together).
#[derive(Clone, Debug)]
pub struct RevokeCertificate {
    pub serial: String,
    pub reason: String,
    pub operator: String,
    pub now: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------------
// Events

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
pub enum RevocationEvent {
    #[serde(rename = "CertificateRevoked", rename_all = "camelCase")]
    Revoked {
        serial: CertificateSerial,
        reason: RevocationReason,
        operator: Operator,
        revoked_at: DateTime<Utc>,
    },
}

impl DomainEvent for RevocationEvent {
    fn event_type(&self) -> &'static str {
        match self {
            RevocationEvent::Revoked { .. } => "CertificateRevoked",
        }
    }

    fn schema_version(&self) -> u32 {
        1
    }
}

// ---------------------------------------------------------------------------------------------------
// Errors

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RevocationError {
    #[error(transparent)]
    Invalid(ValidationErrors),
    #[error(
        "certificate {} was revoked already, at {} ({}) by {}",
        .0.serial, .0.revoked_at.to_rfc3339(), .0.reason, .0.operator
    )]
    AlreadyRevoked(Box<Revocation>),
    #[error("the command names serial {asked}, but the stream is certificate {stream}")]
    WrongStream {
        asked: CertificateSerial,
        stream: CertificateSerial,
    },
}

impl RevocationError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            RevocationError::Invalid(_) => ErrorKind::Validation,
            RevocationError::AlreadyRevoked(_) | RevocationError::WrongStream { .. } => {
                ErrorKind::Conflict
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// State

/// One revocation as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub serial: CertificateSerial,
    pub reason: RevocationReason,
    pub operator: Operator,
    pub revoked_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RevocationState {
    #[default]
    NotRevoked,
    Revoked(Revocation),
}

impl RevocationState {
    pub fn revocation(&self) -> Option<&Revocation> {
        match self {
            RevocationState::NotRevoked => None,
            RevocationState::Revoked(revocation) => Some(revocation),
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Decide and evolve

impl Aggregate for CertificateRevocationAggregate {
    const NAME: &'static str = "certificate_revocation";
    type State = RevocationState;
    type Command = RevocationCommand;
    type Event = RevocationEvent;
    type Error = RevocationError;

    fn decide(
        state: &RevocationState,
        command: RevocationCommand,
    ) -> Result<Vec<RevocationEvent>, RevocationError> {
        match command {
            RevocationCommand::Revoke(command) => revoke(state, command),
        }
    }

    fn evolve(state: &mut RevocationState, event: &RevocationEvent) {
        match event {
            RevocationEvent::Revoked {
                serial,
                reason,
                operator,
                revoked_at,
            } => {
                // The first revocation is the one that counts; a stream never holds two.
                if matches!(state, RevocationState::NotRevoked) {
                    *state = RevocationState::Revoked(Revocation {
                        serial: serial.clone(),
                        reason: *reason,
                        operator: operator.clone(),
                        revoked_at: *revoked_at,
                    });
                }
            }
        }
    }
}

fn revoke(
    state: &RevocationState,
    command: RevokeCertificate,
) -> Result<Vec<RevocationEvent>, RevocationError> {
    let mut errors = ValidationErrors::new();
    let serial = errors.check("serial", CertificateSerial::parse(&command.serial));
    let reason = errors.check("reason", RevocationReason::parse(&command.reason));
    let operator = errors.check("operator", Operator::parse(&command.operator));
    let (Some(serial), Some(reason), Some(operator)) = (serial, reason, operator) else {
        return Err(RevocationError::Invalid(errors));
    };
    if let RevocationState::Revoked(existing) = state {
        if existing.serial != serial {
            return Err(RevocationError::WrongStream {
                asked: serial,
                stream: existing.serial.clone(),
            });
        }
        return Err(RevocationError::AlreadyRevoked(Box::new(existing.clone())));
    }
    Ok(vec![RevocationEvent::Revoked {
        serial,
        reason,
        operator,
        revoked_at: command.now,
    }])
}
