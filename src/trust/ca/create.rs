//! Creating the platform CA, as `esign ca init` does: four fresh keys and certificates, written
//! under `[trust] dir` with the keys encrypted, and the root's first CRL (the root key is needed to
//! sign it, and the running service never holds that key).

use chrono::{DateTime, Utc};
use der::Decode;
use x509_cert::Certificate;

use super::crl::{ROOT_CRL_VALIDITY, root_crl};
use super::files::{
    CaFiles, SEAL_ROLE, key_encryption_key, pem, trust_dir, write_binary_file, write_file,
};
use super::profiles::{
    BACKDATE, INTERMEDIATE_YEARS, ROOT_YEARS, YEAR, ca_extensions, issue_seal, issue_tsa,
};
use super::publication::Publication;
use super::x509::{Template, build_certificate, certified, key_identifier, name};
use super::{Ca, CaError};
use crate::trust::config::TrustSettings;
use crate::trust::keys::{KeyEncryptionKey, SigningKey};
use crate::trust::{oid, unix_seconds};

/// The CA with its root key, as `esign ca init` creates it.
#[derive(Debug)]
pub struct NewCa {
    pub ca: Ca,
    pub root_key: SigningKey,
}

impl NewCa {
    /// Generates the four keys and certificates. `organization` goes into every subject. The
    /// certificates name no revocation URLs (see [`NewCa::generate_published`]).
    pub fn generate(organization: &str, now: DateTime<Utc>) -> Result<Self, CaError> {
        Self::generate_published(organization, None, now)
    }

    /// [`NewCa::generate`], the certificates below the root naming where `publication` says
    /// revocation status is: the root's CRL in the intermediate, the intermediate's CRL and OCSP
    /// responder in the TSA and seal certificates (and in every event certificate issued later).
    pub fn generate_published(
        organization: &str,
        publication: Option<Publication>,
        now: DateTime<Utc>,
    ) -> Result<Self, CaError> {
        let start = unix_seconds(now)?.saturating_sub(BACKDATE);
        let root_key = SigningKey::generate()?;
        let root_name = name(&[
            (oid::ORGANIZATION, organization),
            (oid::COMMON_NAME, &format!("{organization} Root CA")),
        ])?;
        let root_der = build_certificate(&Template {
            issuer: &root_name,
            issuer_key: &root_key,
            issuer_key_id: key_identifier(root_key.public_key()),
            subject: &root_name,
            subject_public_key: root_key.public_key(),
            not_before: start,
            not_after: start + YEAR * ROOT_YEARS,
            extensions: ca_extensions(1)?,
        })?;

        let intermediate_key = SigningKey::generate()?;
        let intermediate_name = name(&[
            (oid::ORGANIZATION, organization),
            (oid::COMMON_NAME, &format!("{organization} Signing CA")),
        ])?;
        let intermediate_der = build_certificate(&Template {
            issuer: &root_name,
            issuer_key: &root_key,
            issuer_key_id: key_identifier(root_key.public_key()),
            subject: &intermediate_name,
            subject_public_key: intermediate_key.public_key(),
            not_before: start,
            not_after: start + YEAR * INTERMEDIATE_YEARS,
            extensions: {
                let mut extensions = ca_extensions(0)?;
                if let Some(publication) = &publication {
                    extensions.extend(publication.intermediate_extensions()?);
                }
                extensions
            },
        })?;

        let intermediate = certified(intermediate_der, intermediate_key)?;
        let tsa = issue_tsa(&intermediate, organization, publication.as_ref(), now)?;
        let seal = issue_seal(&intermediate, organization, publication.as_ref(), now)?;
        let ca = Ca {
            root: Certificate::from_der(&root_der)?,
            root_der,
            intermediate,
            tsa,
            seal,
            publication,
        };
        Ok(Self { ca, root_key })
    }

    /// Writes every file (keys encrypted with `kek`, mode 0600). Refuses to replace an existing CA
    /// unless `force`.
    pub fn write(
        &self,
        files: &CaFiles,
        kek: &KeyEncryptionKey,
        force: bool,
    ) -> Result<(), CaError> {
        if files.any_exists() && !force {
            return Err(CaError::Exists(files.dir.clone()));
        }
        std::fs::create_dir_all(&files.dir).map_err(|source| CaError::Write {
            path: files.dir.clone(),
            source,
        })?;
        let ca = &self.ca;
        write_file(
            &files.root_key(),
            &kek.seal("root", self.root_key.pkcs8_der())?,
            true,
        )?;
        write_file(
            &files.intermediate_key(),
            &kek.seal("intermediate", ca.intermediate.key.pkcs8_der())?,
            true,
        )?;
        write_file(
            &files.tsa_key(),
            &kek.seal("tsa", ca.tsa.key.pkcs8_der())?,
            true,
        )?;
        write_file(
            &files.seal_key(),
            &kek.seal(SEAL_ROLE, ca.seal.key.pkcs8_der())?,
            true,
        )?;
        write_file(&files.root_cert(), &pem(&ca.root_der)?, false)?;
        write_file(
            &files.intermediate_cert(),
            &pem(&ca.intermediate.der)?,
            false,
        )?;
        write_file(&files.tsa_cert(), &pem(&ca.tsa.der)?, false)?;
        write_file(&files.seal_cert(), &pem(&ca.seal.der)?, false)?;
        let chain = format!("{}{}", pem(&ca.intermediate.der)?, pem(&ca.root_der)?);
        write_file(&files.chain(), &chain, false)?;
        let crl = root_crl(&ca.root, &self.root_key, Utc::now(), ROOT_CRL_VALIDITY)?;
        write_binary_file(&files.root_crl(), &crl)?;
        Ok(())
    }
}

/// `esign ca init`: generates a CA and writes it under `[trust] dir`. Returns where.
pub fn init(settings: &TrustSettings, force: bool) -> Result<CaFiles, CaError> {
    let trust = &settings.config;
    let supplied = [
        &trust.root_cert,
        &trust.intermediate_cert,
        &trust.intermediate_key,
        &trust.tsa_cert,
        &trust.tsa_key,
        &trust.seal_cert,
        &trust.seal_key,
        &trust.pkcs12,
    ];
    if supplied.iter().any(|path| path.is_some()) {
        return Err(CaError::Incomplete(
            "the CA is supplied by the operator (root_cert, ..., pkcs12); the service would not use \
             a CA made by ca init"
                .into(),
        ));
    }
    let files = CaFiles::new(trust_dir(settings));
    if files.any_exists() && !force {
        return Err(CaError::Exists(files.dir));
    }
    let kek = key_encryption_key(settings, true)?
        .ok_or(CaError::NoKeyInProduction("encrypt the CA keys"))?;
    let publication = settings
        .public_base_url
        .as_deref()
        .and_then(Publication::new);
    let new = NewCa::generate_published(&trust.organization, publication, Utc::now())?;
    new.write(&files, &kek, force)?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::trust::ca::x509::public_key_of;
    use crate::trust::cms;

    #[test]
    fn a_generated_ca_chains_and_issues_event_certificates() {
        let new = NewCa::generate("esign", Utc::now()).unwrap();
        let ca = &new.ca;
        cms::verify_issued_by(ca.root(), ca.root()).unwrap();
        cms::verify_issued_by(ca.intermediate(), ca.root()).unwrap();
        cms::verify_issued_by(&ca.tsa().certificate, ca.intermediate()).unwrap();
        cms::check_time_stamping_usage(&ca.tsa().certificate).unwrap();

        let issued = ca
            .issue_event_certificate(
                "张三",
                "110101********1234",
                Utc::now(),
                Duration::from_secs(1800),
            )
            .unwrap();
        let certificate = Certificate::from_der(&issued.certificate_der).unwrap();
        cms::verify_issued_by(&certificate, ca.intermediate()).unwrap();
        let subject = certificate.tbs_certificate().subject();
        assert_eq!(
            subject.to_string(),
            "SERIALNUMBER=110101xxxxxxxx1234,CN=张三,O=esign"
        );
        assert_eq!(public_key_of(&certificate), issued.key.public_key());
        let validity = certificate.tbs_certificate().validity();
        assert_eq!(
            validity.not_after.to_unix_duration() - validity.not_before.to_unix_duration(),
            Duration::from_secs(1800)
        );
    }
}
