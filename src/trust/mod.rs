//! The platform's trust services: its own certificate authority and RFC 3161 timestamps.
//!
//! # Layout
//!
//! - [`keys`]: ECDSA P-256 signing keys and their AES-256-GCM encrypted files.
//! - [`ca`]: the CA (root, intermediate, TSA and platform seal certificates): `esign ca init`,
//!   loading, per-signer event certificates, and the CRLs of the intermediate and the root.
//! - [`ocsp`]: RFC 6960 types and the OCSP answers the intermediate signs for what it issued.
//! - [`pkcs12`]: reading an operator's CA handed over as one PKCS#12 bundle.
//! - [`personal`]: signers' own certificates (signMethod `CA_CERT`): chain to a trusted personal
//!   CA, validity, key usage, and their CRLs.
//! - [`cms`]: CMS `SignedData`: the builder (timestamp tokens, detached PAdES signatures), signature
//!   timestamps added afterwards (CAdES-T), and the verifier (signature, signed attributes,
//!   certificate chain).
//! - [`tsa`]: RFC 3161 types, the timestamp service behind `POST /tsa`, and the checks a client
//!   makes of any answer.
//! - [`timestamper`]: one trait over where timestamps come from: remote TSAs
//!   (`providers::tsa`), or esign's own TSA in-process.
//! - [`config`]: the `[trust]` section.
//!
//! See `docs/trust.md` for files, certificate profiles and how to check a token with openssl.

pub mod ca;
pub mod cms;
pub mod config;
pub mod keys;
pub mod ocsp;
pub mod personal;
pub mod pkcs12;
pub mod policy_oid;
pub mod timestamper;
pub mod tsa;

use der::asn1::ObjectIdentifier;
use sha2::{Digest as _, Sha256};

pub use ca::{Ca, CaError, IssuedCertificate};
pub use keys::{KeyEncryptionKey, KeyError, SigningKey};

/// Object identifiers used across the module.
pub mod oid {
    use der::asn1::ObjectIdentifier as Oid;

    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
    pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    pub const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
    pub const SECP384R1: Oid = Oid::new_unwrap("1.3.132.0.34");
    pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    pub const ECDSA_WITH_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
    pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
    pub const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
    pub const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");

    pub const COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
    pub const SERIAL_NUMBER: Oid = Oid::new_unwrap("2.5.4.5");
    pub const COUNTRY: Oid = Oid::new_unwrap("2.5.4.6");
    pub const ORGANIZATION: Oid = Oid::new_unwrap("2.5.4.10");
    /// organizationIdentifier (X.520): `NTRCN-<credit code>` in an organisation's certificate.
    pub const ORGANIZATION_IDENTIFIER: Oid = Oid::new_unwrap("2.5.4.97");

    pub const SUBJECT_KEY_IDENTIFIER: Oid = Oid::new_unwrap("2.5.29.14");
    pub const KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
    pub const BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
    pub const AUTHORITY_KEY_IDENTIFIER: Oid = Oid::new_unwrap("2.5.29.35");
    pub const EXTENDED_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
    pub const CRL_NUMBER: Oid = Oid::new_unwrap("2.5.29.20");
    pub const CRL_REASON: Oid = Oid::new_unwrap("2.5.29.21");
    pub const CRL_DISTRIBUTION_POINTS: Oid = Oid::new_unwrap("2.5.29.31");
    pub const AUTHORITY_INFO_ACCESS: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.1.1");
    pub const AD_OCSP: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1");
    pub const AD_CA_ISSUERS: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.2");
    pub const OCSP_BASIC: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.1");
    pub const OCSP_NONCE: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.2");
    pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
    pub const KP_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
    pub const KP_OCSP_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.9");

    pub const DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
    pub const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
    pub const CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
    pub const MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
    pub const SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
    pub const SIGNING_CERTIFICATE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.12");
    pub const SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
    /// id-aa-signatureTimeStampToken: an RFC 3161 token over a SignerInfo's signature value.
    pub const SIGNATURE_TIME_STAMP_TOKEN: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.14");
    pub const CT_TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
}

/// esign's default TSA policy: an OID of esign's own under the UUID arc (ITU-T X.667, `2.25.<UUID as
/// an integer>`, which needs no registration), naming the policy docs/trust.md describes. An operator
/// that publishes a TSA policy of its own sets `[trust] tsa_policy` to its OID.
pub const DEFAULT_TSA_POLICY: &str = "2.25.287778131960478039898138741828548196938";

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The text of the first `id` attribute of a name, whatever string type it was written in.
pub fn name_attribute(name: &x509_cert::name::Name, id: ObjectIdentifier) -> Option<String> {
    use der::{Tag, Tagged};
    let value = &name.iter().find(|attribute| attribute.oid == id)?.value;
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::VisibleString => {
            std::str::from_utf8(bytes).ok().map(str::to_owned)
        }
        Tag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        // TeletexString: Latin-1 is how it is used in practice.
        Tag::TeletexString => Some(bytes.iter().map(|byte| char::from(*byte)).collect()),
        _ => None,
    }
}

/// Parses a TSA policy's dotted OID from configuration (arcs up to 128 bits: see [`policy_oid`]).
pub fn parse_tsa_policy(text: &str) -> Result<policy_oid::PolicyOid, String> {
    policy_oid::PolicyOid::parse(text)
}

/// Current time as whole seconds since the Unix epoch (certificates and tokens carry seconds).
pub(crate) fn unix_seconds(
    time: chrono::DateTime<chrono::Utc>,
) -> Result<std::time::Duration, der::Error> {
    u64::try_from(time.timestamp())
        .map(std::time::Duration::from_secs)
        .map_err(|_| der::ErrorKind::DateTime.into())
}
