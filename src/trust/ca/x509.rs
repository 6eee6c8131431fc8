//! Building one X.509 certificate: its names, extensions and serial number, the `TBSCertificate`
//! signed with the issuer's key.

use std::time::Duration;

use der::asn1::{
    Any, BitString, ObjectIdentifier, OctetString, PrintableStringRef, SetOfVec, Utf8StringRef,
};
use der::{Decode, Encode, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, SubjectKeyIdentifier};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::{CaError, CertifiedKey};
use crate::trust::keys::{KeyError, SigningKey};
use crate::trust::{oid, sha256};

pub(super) fn certified(der: Vec<u8>, key: SigningKey) -> Result<CertifiedKey, CaError> {
    Ok(CertifiedKey {
        certificate: Certificate::from_der(&der)?,
        der,
        key,
    })
}

pub(super) fn public_key_of(certificate: &Certificate) -> &[u8] {
    certificate
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes()
}

/// RFC 7093 method 1: the leftmost 160 bits of the SHA-256 of the public key.
pub(super) fn key_identifier(public_key: &[u8]) -> Vec<u8> {
    sha256(public_key)[..20].to_vec()
}

/// The authority key identifier of a certificate `issuer` signs: the issuer's own subject key
/// identifier as its certificate states it. An operator's CA made by another tool (openssl
/// hashes with SHA-1) has other identifiers than ours, and openssl, for one, builds chains by
/// matching the two.
pub(super) fn authority_key_id(issuer: &CertifiedKey) -> Vec<u8> {
    key_id_of(&issuer.certificate, &issuer.key)
}

/// The subject key identifier `certificate` states, or ours of `key` when it states none.
pub(super) fn key_id_of(certificate: &Certificate, key: &SigningKey) -> Vec<u8> {
    match certificate
        .tbs_certificate()
        .get_extension::<SubjectKeyIdentifier>()
    {
        Ok(Some((_, identifier))) => identifier.0.as_bytes().to_vec(),
        _ => key_identifier(key.public_key()),
    }
}

/// A name of single-attribute RDNs; country and serialNumber as PrintableString, the rest UTF-8.
pub(super) fn name(attributes: &[(ObjectIdentifier, &str)]) -> Result<Name, CaError> {
    name_of(
        attributes
            .iter()
            .map(|(id, text)| attribute_value(*id, text))
            .collect::<Result<Vec<_>, _>>()?,
    )
}

pub(super) fn attribute_value(
    id: ObjectIdentifier,
    text: &str,
) -> Result<AttributeTypeAndValue, CaError> {
    let value = if id == oid::COUNTRY || id == oid::SERIAL_NUMBER {
        Any::encode_from(&PrintableStringRef::new(text)?)?
    } else {
        Any::encode_from(&Utf8StringRef::new(text)?)?
    };
    Ok(AttributeTypeAndValue { oid: id, value })
}

pub(super) fn name_of(attributes: Vec<AttributeTypeAndValue>) -> Result<Name, CaError> {
    let rdns = attributes
        .into_iter()
        .map(|attribute| SetOfVec::try_from(vec![attribute]))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Name::from_der(&rdns.to_der()?)?)
}

pub(super) fn extension(
    id: ObjectIdentifier,
    critical: bool,
    value: &impl Encode,
) -> Result<Extension, CaError> {
    Ok(Extension {
        extn_id: id,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

/// RFC 5280 `TBSCertificate`, written out because x509-cert only builds one through its signer
/// traits; our keys sign through ring.
#[derive(Sequence)]
struct TbsCertificate {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: u8,
    serial_number: SerialNumber,
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    validity: Validity,
    subject: Name,
    subject_public_key_info: SubjectPublicKeyInfoOwned,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT")]
    extensions: Vec<Extension>,
}

#[derive(Sequence)]
struct SignedCertificate {
    tbs_certificate: Any,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
}

pub(super) struct Template<'a> {
    pub(super) issuer: &'a Name,
    pub(super) issuer_key: &'a SigningKey,
    pub(super) issuer_key_id: Vec<u8>,
    pub(super) subject: &'a Name,
    pub(super) subject_public_key: &'a [u8],
    pub(super) not_before: Duration,
    pub(super) not_after: Duration,
    pub(super) extensions: Vec<Extension>,
}

pub(crate) fn ecdsa_with_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: oid::ECDSA_WITH_SHA256,
        parameters: None,
    }
}

fn p256_public_key_info(point: &[u8]) -> Result<SubjectPublicKeyInfoOwned, der::Error> {
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: oid::EC_PUBLIC_KEY,
            parameters: Some(Any::encode_from(&oid::SECP256R1)?),
        },
        subject_public_key: BitString::from_bytes(point)?,
    })
}

/// RFC 5280 times: UTCTime through 2049, GeneralizedTime after.
pub(super) fn certificate_time(since_epoch: Duration) -> Result<Time, der::Error> {
    const YEAR_2050: u64 = 2_524_608_000;
    Ok(if since_epoch.as_secs() < YEAR_2050 {
        Time::UtcTime(der::asn1::UtcTime::from_unix_duration(since_epoch)?)
    } else {
        Time::GeneralTime(der::asn1::GeneralizedTime::from_unix_duration(since_epoch)?)
    })
}

/// A random positive 128-bit serial number.
pub(crate) fn random_serial() -> Result<Vec<u8>, KeyError> {
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| KeyError::Generate(e.to_string()))?;
    serial[0] &= 0x7f;
    serial[0] |= 0x01 << 6;
    Ok(serial.to_vec())
}

pub(super) fn build_certificate(template: &Template<'_>) -> Result<Vec<u8>, CaError> {
    let mut extensions = template.extensions.clone();
    extensions.push(extension(
        oid::SUBJECT_KEY_IDENTIFIER,
        false,
        &SubjectKeyIdentifier(OctetString::new(key_identifier(
            template.subject_public_key,
        ))?),
    )?);
    if template.issuer != template.subject {
        extensions.push(extension(
            oid::AUTHORITY_KEY_IDENTIFIER,
            false,
            &AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(template.issuer_key_id.clone())?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
        )?);
    }
    let tbs = TbsCertificate {
        version: 2,
        serial_number: SerialNumber::new(&random_serial()?)?,
        signature: ecdsa_with_sha256(),
        issuer: template.issuer.clone(),
        validity: Validity::new(
            certificate_time(template.not_before)?,
            certificate_time(template.not_after)?,
        ),
        subject: template.subject.clone(),
        subject_public_key_info: p256_public_key_info(template.subject_public_key)?,
        extensions,
    }
    .to_der()?;
    let signature = template.issuer_key.sign(&tbs)?;
    Ok(SignedCertificate {
        tbs_certificate: Any::from_der(&tbs)?,
        signature_algorithm: ecdsa_with_sha256(),
        signature: BitString::from_bytes(&signature)?,
    }
    .to_der()?)
}
