//! The certificate profiles: what each certificate the CA issues says and how long it lives. The
//! root and intermediate are CAs; the TSA certificate stamps time; the platform seal and the
//! per-signer event certificates sign documents.

use std::time::Duration;

use chrono::{DateTime, Utc};
use der::asn1::PrintableStringRef;
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::DirectoryString;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};

use super::publication::Publication;
use super::x509::{
    Template, attribute_value, authority_key_id, build_certificate, certified, extension, name_of,
};
use super::{Ca, CaError, CertifiedKey, IssuedCertificate};
use crate::trust::keys::SigningKey;
use crate::trust::{oid, unix_seconds};

pub(super) const ROOT_YEARS: u32 = 20;
pub(super) const INTERMEDIATE_YEARS: u32 = 10;
const TSA_YEARS: u32 = 5;
/// The seal certificate lives as long as the TSA certificate (and never past its issuer).
const SEAL_YEARS: u32 = TSA_YEARS;
pub(super) const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
/// Issued certificates start a little in the past, so a relying party whose clock is slightly
/// behind ours does not see them as not yet valid.
pub(super) const BACKDATE: Duration = Duration::from_secs(5 * 60);

impl Ca {
    /// Issues a short-lived certificate for one signer's signing event, with a fresh key pair.
    /// Subject: CN = `name`, serialNumber = `masked_id` (PrintableString, so the mask `*` is
    /// written `x`), O = the CA's organisation. Key usage: digitalSignature, nonRepudiation.
    pub fn issue_event_certificate(
        &self,
        name_text: &str,
        masked_id: &str,
        not_before: DateTime<Utc>,
        validity: Duration,
    ) -> Result<IssuedCertificate, CaError> {
        let platform = organization_of(&self.intermediate.certificate)
            .into_iter()
            .collect();
        self.issue_signing_event(platform, name_text, masked_id, not_before, validity)
    }

    /// Issues a short-lived certificate for a person signing for an organisation: O = the
    /// organisation's name, organizationIdentifier = `NTRCN-<credit code>` (the ETSI EN 319 412-1
    /// form of a national trade register number), CN = the person's name, serialNumber = their
    /// masked ID number. The rest as [`Ca::issue_event_certificate`].
    pub fn issue_organization_certificate(
        &self,
        organization: &str,
        credit_code: &str,
        name_text: &str,
        masked_id: &str,
        not_before: DateTime<Utc>,
        validity: Duration,
    ) -> Result<IssuedCertificate, CaError> {
        let organization = organization.trim();
        if organization.is_empty() || organization.chars().count() > 128 {
            return Err(CaError::BadSubject(
                "an organisation name of 1 to 128 characters",
            ));
        }
        let identifier = format!("NTRCN-{}", credit_code.trim());
        if credit_code.trim().len() != 18 || PrintableStringRef::new(&identifier).is_err() {
            return Err(CaError::BadSubject(
                "a credit code of 18 letters and digits",
            ));
        }
        let subject = vec![
            attribute_value(oid::ORGANIZATION, organization)?,
            attribute_value(oid::ORGANIZATION_IDENTIFIER, &identifier)?,
        ];
        self.issue_signing_event(subject, name_text, masked_id, not_before, validity)
    }

    /// A signing event's certificate: `subject` (organisation attributes) followed by the
    /// person's CN and serialNumber.
    fn issue_signing_event(
        &self,
        mut subject: Vec<AttributeTypeAndValue>,
        name_text: &str,
        masked_id: &str,
        not_before: DateTime<Utc>,
        validity: Duration,
    ) -> Result<IssuedCertificate, CaError> {
        let name_text = name_text.trim();
        if name_text.is_empty() || name_text.chars().count() > 64 {
            return Err(CaError::BadSubject("a name of 1 to 64 characters"));
        }
        let serial = masked_id.trim().replace('*', "x");
        if serial.is_empty() || serial.len() > 64 || PrintableStringRef::new(&serial).is_err() {
            return Err(CaError::BadSubject(
                "a masked id number of 1 to 64 letters, digits and '*'",
            ));
        }
        subject.push(attribute_value(oid::COMMON_NAME, name_text)?);
        subject.push(attribute_value(oid::SERIAL_NUMBER, &serial)?);
        let key = SigningKey::generate()?;
        let start = unix_seconds(not_before)?;
        let issuer = &self.intermediate;
        let der = build_certificate(&Template {
            issuer: issuer.certificate.tbs_certificate().subject(),
            issuer_key: &issuer.key,
            issuer_key_id: authority_key_id(issuer),
            subject: &name_of(subject)?,
            subject_public_key: key.public_key(),
            not_before: start,
            not_after: start + validity,
            extensions: published(signer_extensions()?, self.publication.as_ref())?,
        })?;
        Ok(IssuedCertificate {
            certificate_der: der,
            key,
        })
    }
}

/// Issues the platform seal certificate under `intermediate`: digitalSignature and
/// nonRepudiation, for documents.
pub(super) fn issue_seal(
    intermediate: &CertifiedKey,
    organization: &str,
    publication: Option<&Publication>,
    now: DateTime<Utc>,
) -> Result<CertifiedKey, CaError> {
    issue_platform_certificate(
        intermediate,
        organization,
        now,
        "Platform Seal",
        SEAL_YEARS,
        published(signer_extensions()?, publication)?,
    )
}

/// Issues the TSA certificate under `intermediate`: timeStamping only, critical (RFC 3161 2.3).
pub(super) fn issue_tsa(
    intermediate: &CertifiedKey,
    organization: &str,
    publication: Option<&Publication>,
    now: DateTime<Utc>,
) -> Result<CertifiedKey, CaError> {
    issue_platform_certificate(
        intermediate,
        organization,
        now,
        "Timestamp Authority",
        TSA_YEARS,
        {
            let mut extensions = signer_extensions()?;
            extensions.push(extension(
                oid::EXTENDED_KEY_USAGE,
                true,
                &ExtendedKeyUsage(vec![oid::KP_TIME_STAMPING]),
            )?);
            published(extensions, publication)?
        },
    )
}

/// A certificate with a fresh key for one of the platform's own roles, issued by `intermediate`:
/// the organisation copied from the intermediate's subject (or `organization` when it has none),
/// CN `<organisation> <role>`. It never outlives its issuer.
fn issue_platform_certificate(
    intermediate: &CertifiedKey,
    organization: &str,
    now: DateTime<Utc>,
    role: &str,
    years: u32,
    extensions: Vec<Extension>,
) -> Result<CertifiedKey, CaError> {
    let issuer = intermediate.certificate.tbs_certificate();
    let copied = organization_of(&intermediate.certificate);
    let organization_text = copied
        .as_ref()
        .and_then(|attribute| DirectoryString::try_from(&attribute.value).ok())
        .map(|text| text.value().into_owned())
        .unwrap_or_else(|| organization.to_owned());
    let mut subject = vec![match copied {
        Some(attribute) => attribute,
        None => attribute_value(oid::ORGANIZATION, organization)?,
    }];
    subject.push(attribute_value(
        oid::COMMON_NAME,
        &format!("{organization_text} {role}"),
    )?);
    let start = unix_seconds(now)?.saturating_sub(BACKDATE);
    let issuer_end = issuer.validity().not_after.to_unix_duration();
    let key = SigningKey::generate()?;
    let der = build_certificate(&Template {
        issuer: issuer.subject(),
        issuer_key: &intermediate.key,
        issuer_key_id: authority_key_id(intermediate),
        subject: &name_of(subject)?,
        subject_public_key: key.public_key(),
        not_before: start,
        not_after: (start + YEAR * years).min(issuer_end),
        extensions,
    })?;
    certified(der, key)
}

/// The organisation attribute of a certificate's subject, as encoded there.
fn organization_of(certificate: &Certificate) -> Option<AttributeTypeAndValue> {
    certificate
        .tbs_certificate()
        .subject()
        .iter()
        .find(|attribute| attribute.oid == oid::ORGANIZATION)
        .cloned()
}

/// A CA certificate that issues certificates (and CRLs), at most `path_len` CAs below it.
pub(super) fn ca_extensions(path_len: u8) -> Result<Vec<Extension>, CaError> {
    Ok(vec![
        extension(
            oid::BASIC_CONSTRAINTS,
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: Some(path_len),
            },
        )?,
        extension(
            oid::KEY_USAGE,
            true,
            &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
        )?,
    ])
}

/// `extensions` and, when the CA publishes revocation status, where to find it for a certificate
/// of the intermediate.
fn published(
    mut extensions: Vec<Extension>,
    publication: Option<&Publication>,
) -> Result<Vec<Extension>, CaError> {
    if let Some(publication) = publication {
        extensions.extend(publication.end_entity_extensions()?);
    }
    Ok(extensions)
}

/// An end-entity certificate that signs documents: not a CA; digitalSignature, nonRepudiation.
fn signer_extensions() -> Result<Vec<Extension>, CaError> {
    Ok(vec![
        extension(
            oid::BASIC_CONSTRAINTS,
            false,
            &BasicConstraints {
                ca: false,
                path_len_constraint: None,
            },
        )?,
        extension(
            oid::KEY_USAGE,
            true,
            &KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation),
        )?,
    ])
}

/// An operator's seal certificate must be an end entity allowed to sign.
pub(super) fn check_signing_usage(certificate: &Certificate) -> Result<(), String> {
    let tbs = certificate.tbs_certificate();
    if let Ok(Some((_, constraints))) = tbs.get_extension::<BasicConstraints>()
        && constraints.ca
    {
        return Err("is a CA certificate, not a signer's".into());
    }
    match tbs.get_extension::<KeyUsage>() {
        Ok(Some((_, usage)))
            if !usage.0.contains(KeyUsages::DigitalSignature)
                && !usage.0.contains(KeyUsages::NonRepudiation) =>
        {
            Err("allows neither digitalSignature nor nonRepudiation".into())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(format!("has a malformed key usage: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::ca::NewCa;
    use crate::trust::ca::x509::public_key_of;
    use crate::trust::cms;
    use der::Decode;

    #[test]
    fn an_event_certificate_needs_a_name_and_a_printable_masked_id() {
        let new = NewCa::generate("esign", Utc::now()).unwrap();
        let minutes = Duration::from_secs(60);
        assert!(
            new.ca
                .issue_event_certificate(" ", "1101", Utc::now(), minutes)
                .is_err()
        );
        assert!(
            new.ca
                .issue_event_certificate("张三", "", Utc::now(), minutes)
                .is_err()
        );
        assert!(
            new.ca
                .issue_event_certificate("张三", "11#01", Utc::now(), minutes)
                .is_err()
        );
    }

    #[test]
    fn an_organisation_certificate_names_the_organisation_its_code_and_the_person() {
        let new = NewCa::generate("esign", Utc::now()).unwrap();
        let issued = new
            .ca
            .issue_organization_certificate(
                "XX品牌总部",
                "91350100M000100Y43",
                "李四",
                "440304********0011",
                Utc::now(),
                Duration::from_secs(60),
            )
            .unwrap();
        let certificate = Certificate::from_der(&issued.certificate_der).unwrap();
        cms::verify_issued_by(&certificate, new.ca.intermediate()).unwrap();
        let subject = certificate.tbs_certificate().subject().to_string();
        for part in [
            "O=XX品牌总部",
            "2.5.4.97=#",
            "CN=李四",
            "SERIALNUMBER=440304xxxxxxxx0011",
        ] {
            assert!(subject.contains(part), "{part} is not in {subject}");
        }
        assert!(
            new.ca
                .issue_organization_certificate(
                    " ",
                    "91350100M000100Y43",
                    "李四",
                    "1101",
                    Utc::now(),
                    Duration::from_secs(60)
                )
                .is_err()
        );
        assert!(
            new.ca
                .issue_organization_certificate(
                    "XX品牌总部",
                    "9135",
                    "李四",
                    "1101",
                    Utc::now(),
                    Duration::from_secs(60)
                )
                .is_err()
        );
    }

    #[test]
    fn the_seal_certificate_is_issued_by_the_intermediate_to_sign_documents() {
        let new = NewCa::generate("天财商龙", Utc::now()).unwrap();
        let ca = &new.ca;
        let seal = &ca.seal().certificate;
        cms::verify_issued_by(seal, ca.intermediate()).unwrap();
        assert_eq!(public_key_of(seal), ca.seal().key.public_key());
        let tbs = seal.tbs_certificate();
        assert_eq!(
            tbs.subject().to_string(),
            "CN=天财商龙 Platform Seal,O=天财商龙"
        );
        let (critical, usage) = tbs.get_extension::<KeyUsage>().unwrap().unwrap();
        assert!(critical);
        assert_eq!(
            usage.0,
            KeyUsages::DigitalSignature | KeyUsages::NonRepudiation
        );
        let (_, constraints) = tbs.get_extension::<BasicConstraints>().unwrap().unwrap();
        assert!(!constraints.ca);
        // Not a TSA certificate: it signs documents, not time.
        assert!(cms::check_time_stamping_usage(seal).is_err());
        let validity = tbs.validity();
        let tsa_validity = ca.tsa().certificate.tbs_certificate().validity();
        assert_eq!(validity.not_after, tsa_validity.not_after);
        check_signing_usage(seal).unwrap();
        assert!(check_signing_usage(ca.intermediate()).is_err());
    }

    #[test]
    fn a_seal_issued_later_never_outlives_its_intermediate() {
        let new = NewCa::generate("esign", Utc::now()).unwrap();
        let years_later = Utc::now() + chrono::TimeDelta::days(365 * 8);
        let seal = issue_seal(&new.ca.intermediate, "esign", None, years_later).unwrap();
        assert_eq!(
            seal.certificate.tbs_certificate().validity().not_after,
            new.ca.intermediate().tbs_certificate().validity().not_after
        );
    }
}
