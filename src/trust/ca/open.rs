//! Opening the CA the configuration points at: an operator's PKCS#12 bundle or PEM files, or the
//! CA directory `esign ca init` wrote; its pieces are checked to hold together before use.

use std::path::Path;

use chrono::Utc;
use der::Encode;
use x509_cert::Certificate;

use super::bundle::parts_of_bundle;
use super::create::init;
use super::files::{
    CaFiles, SEAL_ROLE, existing_seal_files, key_encryption_key, read_certificate, read_key,
    trust_dir, write_seal,
};
use super::profiles::{check_signing_usage, issue_seal, issue_tsa};
use super::publication::Publication;
use super::x509::{certified, public_key_of};
use super::{Ca, CaError};
use crate::trust::config::TrustSettings;
use crate::trust::keys::{KeyEncryptionKey, SigningKey};
use aggregates::values::Mode;

impl Ca {
    /// The CA the configuration points at: an operator-supplied PKCS#12 bundle or PEM files, or
    /// the files under `[trust] dir`. `None` when none exists yet.
    ///
    /// A CA directory written before seal certificates existed gets one on open: issued by the
    /// intermediate and written next to the TSA files. An operator-supplied CA without a seal
    /// (`seal_cert`/`seal_key`, or a seal key in the bundle) gets one issued in memory for the life
    /// of the process; so does a bundle without a TSA key.
    ///
    /// Certificates it issues name the revocation URLs under `settings.public_base_url`.
    pub fn open(settings: &TrustSettings) -> Result<Option<Self>, CaError> {
        let publication = settings
            .public_base_url
            .as_deref()
            .and_then(Publication::new);
        Ok(
            Self::open_unpublished(settings, publication.as_ref())?.map(|mut ca| {
                ca.publication = publication;
                ca
            }),
        )
    }

    /// [`Ca::open`]; a TSA or seal certificate issued on the way names `publication`.
    fn open_unpublished(
        settings: &TrustSettings,
        publication: Option<&Publication>,
    ) -> Result<Option<Self>, CaError> {
        let trust = &settings.config;
        if let Some(bundle) = &trust.pkcs12 {
            return Self::open_pkcs12(settings, bundle, publication).map(Some);
        }
        if trust.pem_files_set() {
            let (
                Some(root_cert),
                Some(intermediate_cert),
                Some(intermediate_key),
                Some(tsa_cert),
                Some(tsa_key),
            ) = (
                &trust.root_cert,
                &trust.intermediate_cert,
                &trust.intermediate_key,
                &trust.tsa_cert,
                &trust.tsa_key,
            )
            else {
                return Err(CaError::Incomplete(
                    "an operator-supplied CA needs all of root_cert, intermediate_cert, \
                     intermediate_key, tsa_cert and tsa_key"
                        .into(),
                ));
            };
            let seal = match (&trust.seal_cert, &trust.seal_key) {
                (Some(cert), Some(key)) => Some((cert.as_path(), key.as_path())),
                (None, None) => None,
                _ => {
                    return Err(CaError::Incomplete(
                        "seal_cert and seal_key go together (or leave both out to have a seal \
                         issued by the intermediate at start)"
                            .into(),
                    ));
                }
            };
            // Plain PKCS#8 keys need no key encryption key; do not generate one for them.
            let encrypted = [
                Some(intermediate_key),
                Some(tsa_key),
                trust.seal_key.as_ref(),
            ]
            .into_iter()
            .flatten()
            .any(|path| {
                std::fs::read_to_string(path)
                    .is_ok_and(|text| text.contains(crate::trust::keys::ENCRYPTED_LABEL))
            });
            let kek = if encrypted {
                key_encryption_key(settings, true)?
            } else {
                None
            };
            let parts = read_parts(
                root_cert,
                intermediate_cert,
                intermediate_key,
                tsa_cert,
                tsa_key,
                seal,
                kek.as_ref(),
            )?;
            return Self::assemble_supplied(parts, &trust.organization, publication, "PEM files")
                .map(Some);
        }
        let files = CaFiles::new(trust_dir(settings));
        if !files.root_cert().exists() {
            return Ok(None);
        }
        let kek = key_encryption_key(settings, true)?;
        let seal_files = existing_seal_files(&files)?;
        let parts = read_parts(
            &files.root_cert(),
            &files.intermediate_cert(),
            &files.intermediate_key(),
            &files.tsa_cert(),
            &files.tsa_key(),
            seal_files
                .as_ref()
                .map(|(cert, key)| (cert.as_path(), key.as_path())),
            kek.as_ref(),
        )?;
        let issued = parts.seal.is_none();
        let ca = Self::assemble(parts, &trust.organization, publication)?;
        if issued {
            let kek = kek.ok_or(CaError::NoKeyInProduction("encrypt the seal key"))?;
            if !write_seal(&files, &ca.seal, &kek)? {
                // Another process opening the same directory wrote its seal first: use that one,
                // so every instance signs with the same certificate.
                return Self::open_unpublished(settings, publication);
            }
            tracing::info!(
                dir = %files.dir.display(),
                subject = %ca.seal.certificate.tbs_certificate().subject(),
                "the CA predates platform seals: issued a seal certificate from the intermediate \
                 and wrote seal.pem and seal.key"
            );
        }
        Ok(Some(ca))
    }

    /// `[trust] pkcs12`: the CA from an operator's PKCS#12 bundle. Every problem with the bundle
    /// is reported as [`CaError::Pkcs12`], naming the file.
    fn open_pkcs12(
        settings: &TrustSettings,
        bundle: &Path,
        publication: Option<&Publication>,
    ) -> Result<Self, CaError> {
        let trust = &settings.config;
        let refused = |reason: String| CaError::Pkcs12 {
            path: bundle.to_path_buf(),
            reason,
        };
        if trust.pem_files_set() {
            return Err(refused(
                "set either pkcs12 or the PEM files (root_cert ... seal_key), not both".into(),
            ));
        }
        let password = match trust.pkcs12_password.as_deref() {
            Some(password) if !password.is_empty() => password,
            _ if settings.mode == Mode::Production => {
                return Err(refused(
                    "production needs the bundle's password in trust.pkcs12_password".into(),
                ));
            }
            // Development accepts a bundle exported with an empty password.
            _ => "",
        };
        let file = std::fs::read(bundle).map_err(|e| refused(format!("cannot read it: {e}")))?;
        let contents =
            crate::trust::pkcs12::read(&file, password).map_err(|e| refused(e.to_string()))?;
        let parts = parts_of_bundle(contents).map_err(refused)?;
        Self::assemble_supplied(parts, &trust.organization, publication, "PKCS#12 bundle").map_err(
            |error| match error {
                CaError::Inconsistent(reason) => refused(format!(
                    "the CA in the bundle does not hold together: {reason}"
                )),
                other => other,
            },
        )
    }

    /// An operator-supplied CA, checked like any other. A missing TSA or seal is issued by the
    /// intermediate for this run only: the operator's files are theirs, so nothing is written.
    fn assemble_supplied(
        parts: Parts,
        organization: &str,
        publication: Option<&Publication>,
        supplied_as: &'static str,
    ) -> Result<Self, CaError> {
        let (issued_tsa, issued_seal) = (parts.tsa.is_none(), parts.seal.is_none());
        let ca = Self::assemble(parts, organization, publication)?;
        if issued_tsa {
            tracing::info!(
                supplied_as,
                subject = %ca.tsa.certificate.tbs_certificate().subject(),
                "the operator's CA has no TSA key: issued a TSA certificate from the \
                 intermediate for this run"
            );
        }
        if issued_seal {
            tracing::info!(
                supplied_as,
                subject = %ca.seal.certificate.tbs_certificate().subject(),
                "the operator's CA has no seal key: issued a platform seal certificate from the \
                 intermediate for this run"
            );
        }
        Ok(ca)
    }

    /// Like [`Ca::open`]; in development a missing CA is created first (`esign serve` on a fresh
    /// data directory). Production never creates one: run `esign ca init`.
    pub fn open_or_create_for_development(
        settings: &TrustSettings,
    ) -> Result<Option<Self>, CaError> {
        if let Some(ca) = Self::open(settings)? {
            return Ok(Some(ca));
        }
        if settings.mode != Mode::Development {
            return Ok(None);
        }
        match init(settings, false) {
            Ok(files) => tracing::info!(
                dir = %files.dir.display(),
                "created the development CA (root, intermediate, TSA, platform seal)"
            ),
            // Another process sharing the data directory created it first: use theirs.
            Err(CaError::Exists(_)) => {}
            Err(error) => return Err(error),
        }
        Self::open(settings)
    }

    /// Checks that the pieces chain (TSA and seal <- intermediate <- root), that each key belongs
    /// to its certificate, that the TSA certificate may stamp time and the seal certificate may
    /// sign. A missing TSA or seal is issued by the intermediate (`organization` names it when the
    /// intermediate's subject has no organisation).
    fn assemble(
        parts: Parts,
        organization: &str,
        publication: Option<&Publication>,
    ) -> Result<Self, CaError> {
        let Parts {
            root,
            intermediate,
            intermediate_key,
            tsa,
            seal,
        } = parts;
        let inconsistent = |reason: String| CaError::Inconsistent(reason);
        crate::trust::cms::verify_issued_by(&root, &root)
            .map_err(|e| inconsistent(format!("the root is not self-signed: {e}")))?;
        crate::trust::cms::verify_issued_by(&intermediate, &root).map_err(|e| {
            inconsistent(format!("the intermediate is not issued by the root: {e}"))
        })?;
        if public_key_of(&intermediate) != intermediate_key.public_key() {
            return Err(inconsistent(
                "the intermediate key does not match its certificate".into(),
            ));
        }
        let intermediate = certified(intermediate.to_der()?, intermediate_key)?;
        let tsa = match tsa {
            Some((certificate, key)) => {
                crate::trust::cms::verify_issued_by(&certificate, &intermediate.certificate)
                    .map_err(|e| {
                        inconsistent(format!(
                            "the TSA certificate is not issued by the intermediate: {e}"
                        ))
                    })?;
                if public_key_of(&certificate) != key.public_key() {
                    return Err(inconsistent(
                        "the TSA key does not match its certificate".into(),
                    ));
                }
                crate::trust::cms::check_time_stamping_usage(&certificate)
                    .map_err(|e| inconsistent(e.to_string()))?;
                certified(certificate.to_der()?, key)?
            }
            None => issue_tsa(&intermediate, organization, publication, Utc::now())?,
        };
        let seal = match seal {
            Some((certificate, key)) => {
                crate::trust::cms::verify_issued_by(&certificate, &intermediate.certificate)
                    .map_err(|e| {
                        inconsistent(format!(
                            "the seal certificate is not issued by the intermediate: {e}"
                        ))
                    })?;
                if public_key_of(&certificate) != key.public_key() {
                    return Err(inconsistent(
                        "the seal key does not match its certificate".into(),
                    ));
                }
                check_signing_usage(&certificate)
                    .map_err(|reason| inconsistent(format!("the seal certificate {reason}")))?;
                certified(certificate.to_der()?, key)?
            }
            None => issue_seal(&intermediate, organization, publication, Utc::now())?,
        };
        Ok(Self {
            root_der: root.to_der()?,
            root,
            intermediate,
            tsa,
            seal,
            publication: publication.cloned(),
        })
    }
}

/// The CA's certificates and keys as read, before they are checked together.
pub(super) struct Parts {
    pub(super) root: Certificate,
    pub(super) intermediate: Certificate,
    pub(super) intermediate_key: SigningKey,
    /// `None` when the operator's bundle has no TSA key: [`Ca::assemble`] issues one.
    pub(super) tsa: Option<(Certificate, SigningKey)>,
    /// `None` when there is no seal yet: [`Ca::assemble`] issues one.
    pub(super) seal: Option<(Certificate, SigningKey)>,
}

fn read_parts(
    root_cert: &Path,
    intermediate_cert: &Path,
    intermediate_key: &Path,
    tsa_cert: &Path,
    tsa_key: &Path,
    seal: Option<(&Path, &Path)>,
    kek: Option<&KeyEncryptionKey>,
) -> Result<Parts, CaError> {
    Ok(Parts {
        root: read_certificate(root_cert)?,
        intermediate: read_certificate(intermediate_cert)?,
        intermediate_key: read_key("intermediate", intermediate_key, kek)?,
        tsa: Some((read_certificate(tsa_cert)?, read_key("tsa", tsa_key, kek)?)),
        seal: match seal {
            Some((cert, key)) => Some((read_certificate(cert)?, read_key(SEAL_ROLE, key, kek)?)),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::ca::NewCa;

    #[test]
    fn assembling_refuses_a_key_of_another_certificate() {
        let new = NewCa::generate("esign", Utc::now()).unwrap();
        let ca = new.ca;
        let refused = Ca::assemble(
            Parts {
                root: ca.root.clone(),
                intermediate: ca.intermediate.certificate.clone(),
                intermediate_key: SigningKey::generate().unwrap(),
                tsa: Some((ca.tsa.certificate.clone(), ca.tsa.key)),
                seal: None,
            },
            "esign",
            None,
        );
        assert!(matches!(refused, Err(CaError::Inconsistent(_))));
    }

    #[test]
    fn a_ca_directory_made_before_seals_gets_one_on_open_and_keeps_it() {
        let data = tempfile::tempdir().unwrap();
        let settings = TrustSettings::development(data.path());
        let files = init(&settings, false).unwrap();
        // What `ca init` wrote before seal certificates existed.
        std::fs::remove_file(files.seal_cert()).unwrap();
        std::fs::remove_file(files.seal_key()).unwrap();

        let upgraded = Ca::open(&settings).unwrap().unwrap();
        crate::trust::cms::verify_issued_by(&upgraded.seal().certificate, upgraded.intermediate())
            .unwrap();
        let key_file = std::fs::read_to_string(files.seal_key()).unwrap();
        assert!(key_file.starts_with("-----BEGIN ESIGN ENCRYPTED PRIVATE KEY-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(files.seal_key())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let reopened = Ca::open(&settings).unwrap().unwrap();
        assert_eq!(reopened.seal().der, upgraded.seal().der);
        assert_eq!(
            reopened.seal().key.public_key(),
            upgraded.seal().key.public_key()
        );

        // A certificate whose key is gone is not silently replaced.
        std::fs::remove_file(files.seal_key()).unwrap();
        assert!(matches!(Ca::open(&settings), Err(CaError::Inconsistent(_))));
    }
}
