//! The platform CA: a root (long-lived, path length 1), an intermediate that signs event
//! certificates, the TSA certificate and the platform seal certificate, that TSA certificate
//! (`timeStamping`, critical) and the seal certificate (the organisation's own signature on every
//! finished document).
//!
//! Files under `[trust] dir` (default `<data_dir>/trust`): `root.pem`, `intermediate.pem`, `tsa.pem`,
//! `seal.pem`, `chain.pem` (intermediate then root) and the encrypted keys `root.key`,
//! `intermediate.key`, `tsa.key`, `seal.key` (see [`super::keys`]). The root key is only needed to
//! create the intermediate; keep a copy offline.
//!
//! An operator may supply the CA instead: as PEM files (`[trust] root_cert` ...) or as one PKCS#12
//! bundle (`[trust] pkcs12`), checked the same way (see [`Ca::open`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use der::asn1::{
    Any, BitString, ObjectIdentifier, OctetString, PrintableStringRef, SetOfVec, Utf8StringRef,
};
use der::pem::LineEnding;
use der::{Decode, Encode, EncodePem, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::DirectoryString;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::keys::{KeyEncryptionKey, KeyError, SigningKey};
use super::{oid, sha256, unix_seconds};
use crate::app::config::{Config, Mode};

const ROOT_YEARS: u32 = 20;
const INTERMEDIATE_YEARS: u32 = 10;
const TSA_YEARS: u32 = 5;
/// The seal certificate lives as long as the TSA certificate (and never past its issuer).
const SEAL_YEARS: u32 = TSA_YEARS;
const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
/// Issued certificates start a little in the past, so a relying party whose clock is slightly
/// behind ours does not see them as not yet valid.
const BACKDATE: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("certificate encoding: {0}")]
    Encoding(#[from] der::Error),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
    #[error(
        "a CA exists already in {0}; pass --force to replace it (certificates issued by the old one stop chaining to the new root)"
    )]
    Exists(PathBuf),
    #[error("trust.pkcs12 {path}: {reason}")]
    Pkcs12 { path: PathBuf, reason: String },
    #[error("[trust] {0}")]
    Incomplete(String),
    #[error("the CA files do not hold together: {0}")]
    Inconsistent(String),
    #[error(
        "production mode needs [trust] key_encryption_key to {0}; generated keys are for development only"
    )]
    NoKeyInProduction(&'static str),
    #[error("an event certificate needs {0}")]
    BadSubject(&'static str),
    #[error("cannot generate a key encryption key under {path}: {reason}")]
    GeneratedKey { path: PathBuf, reason: String },
}

/// A certificate with its private key.
#[derive(Debug)]
pub struct CertifiedKey {
    pub certificate: Certificate,
    pub der: Vec<u8>,
    pub key: SigningKey,
}

/// An event certificate and its fresh key pair, issued to one signer for one signing event.
#[derive(Debug)]
pub struct IssuedCertificate {
    pub certificate_der: Vec<u8>,
    pub key: SigningKey,
}

/// The platform CA as the running service uses it (no root key).
#[derive(Debug)]
pub struct Ca {
    root: Certificate,
    root_der: Vec<u8>,
    intermediate: CertifiedKey,
    tsa: CertifiedKey,
    seal: CertifiedKey,
}

/// Where the CA's files live.
#[derive(Debug, Clone)]
pub struct CaFiles {
    pub dir: PathBuf,
}

impl CaFiles {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
    pub fn root_cert(&self) -> PathBuf {
        self.dir.join("root.pem")
    }
    pub fn root_key(&self) -> PathBuf {
        self.dir.join("root.key")
    }
    pub fn intermediate_cert(&self) -> PathBuf {
        self.dir.join("intermediate.pem")
    }
    pub fn intermediate_key(&self) -> PathBuf {
        self.dir.join("intermediate.key")
    }
    pub fn tsa_cert(&self) -> PathBuf {
        self.dir.join("tsa.pem")
    }
    pub fn tsa_key(&self) -> PathBuf {
        self.dir.join("tsa.key")
    }
    pub fn seal_cert(&self) -> PathBuf {
        self.dir.join("seal.pem")
    }
    pub fn seal_key(&self) -> PathBuf {
        self.dir.join("seal.key")
    }
    /// Intermediate then root, for `openssl verify -untrusted` and relying parties.
    pub fn chain(&self) -> PathBuf {
        self.dir.join("chain.pem")
    }
    fn all(&self) -> [PathBuf; 9] {
        [
            self.root_cert(),
            self.root_key(),
            self.intermediate_cert(),
            self.intermediate_key(),
            self.tsa_cert(),
            self.tsa_key(),
            self.seal_cert(),
            self.seal_key(),
            self.chain(),
        ]
    }
    /// Whether any CA file is present.
    pub fn any_exists(&self) -> bool {
        self.all().iter().any(|path| path.exists())
    }
}

/// The CA with its root key, as `esign ca init` creates it.
#[derive(Debug)]
pub struct NewCa {
    pub ca: Ca,
    pub root_key: SigningKey,
}

impl NewCa {
    /// Generates the four keys and certificates. `organization` goes into every subject.
    pub fn generate(organization: &str, now: DateTime<Utc>) -> Result<Self, CaError> {
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
            extensions: ca_extensions(0)?,
        })?;

        let intermediate = certified(intermediate_der, intermediate_key)?;
        let tsa = issue_tsa(&intermediate, organization, now)?;
        let seal = issue_seal(&intermediate, organization, now)?;
        let ca = Ca {
            root: Certificate::from_der(&root_der)?,
            root_der,
            intermediate,
            tsa,
            seal,
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
        Ok(())
    }
}

impl Ca {
    /// The CA the configuration points at: an operator-supplied PKCS#12 bundle or PEM files, or
    /// the files under `[trust] dir`. `None` when none exists yet.
    ///
    /// A CA directory written before seal certificates existed gets one on open: issued by the
    /// intermediate and written next to the TSA files. An operator-supplied CA without a seal
    /// (`seal_cert`/`seal_key`, or a seal key in the bundle) gets one issued in memory for the life
    /// of the process; so does a bundle without a TSA key.
    pub fn open(config: &Config) -> Result<Option<Self>, CaError> {
        let trust = &config.trust;
        if let Some(bundle) = &trust.pkcs12 {
            return Self::open_pkcs12(config, bundle).map(Some);
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
                    .is_ok_and(|text| text.contains(super::keys::ENCRYPTED_LABEL))
            });
            let kek = if encrypted {
                key_encryption_key(config, true)?
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
            return Self::assemble_supplied(parts, &trust.organization, "PEM files").map(Some);
        }
        let files = CaFiles::new(trust_dir(config));
        if !files.root_cert().exists() {
            return Ok(None);
        }
        let kek = key_encryption_key(config, true)?;
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
        let ca = Self::assemble(parts, &trust.organization)?;
        if issued {
            let kek = kek.ok_or(CaError::NoKeyInProduction("encrypt the seal key"))?;
            if !write_seal(&files, &ca.seal, &kek)? {
                // Another process opening the same directory wrote its seal first: use that one,
                // so every instance signs with the same certificate.
                return Self::open(config);
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
    fn open_pkcs12(config: &Config, bundle: &Path) -> Result<Self, CaError> {
        let trust = &config.trust;
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
            _ if config.server.mode == Mode::Production => {
                return Err(refused(
                    "production needs the bundle's password in trust.pkcs12_password".into(),
                ));
            }
            // Development accepts a bundle exported with an empty password.
            _ => "",
        };
        let file = std::fs::read(bundle).map_err(|e| refused(format!("cannot read it: {e}")))?;
        let contents = super::pkcs12::read(&file, password).map_err(|e| refused(e.to_string()))?;
        let parts = parts_of_bundle(contents).map_err(refused)?;
        Self::assemble_supplied(parts, &trust.organization, "PKCS#12 bundle").map_err(|error| {
            match error {
                CaError::Inconsistent(reason) => refused(format!(
                    "the CA in the bundle does not hold together: {reason}"
                )),
                other => other,
            }
        })
    }

    /// An operator-supplied CA, checked like any other. A missing TSA or seal is issued by the
    /// intermediate for this run only: the operator's files are theirs, so nothing is written.
    fn assemble_supplied(
        parts: Parts,
        organization: &str,
        supplied_as: &'static str,
    ) -> Result<Self, CaError> {
        let (issued_tsa, issued_seal) = (parts.tsa.is_none(), parts.seal.is_none());
        let ca = Self::assemble(parts, organization)?;
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
    pub fn open_or_create_for_development(config: &Config) -> Result<Option<Self>, CaError> {
        if let Some(ca) = Self::open(config)? {
            return Ok(Some(ca));
        }
        if config.server.mode != Mode::Development {
            return Ok(None);
        }
        match init(config, false) {
            Ok(files) => tracing::info!(
                dir = %files.dir.display(),
                "created the development CA (root, intermediate, TSA, platform seal)"
            ),
            // Another process sharing the data directory created it first: use theirs.
            Err(CaError::Exists(_)) => {}
            Err(error) => return Err(error),
        }
        Self::open(config)
    }

    /// Checks that the pieces chain (TSA and seal <- intermediate <- root), that each key belongs
    /// to its certificate, that the TSA certificate may stamp time and the seal certificate may
    /// sign. A missing TSA or seal is issued by the intermediate (`organization` names it when the
    /// intermediate's subject has no organisation).
    fn assemble(parts: Parts, organization: &str) -> Result<Self, CaError> {
        let Parts {
            root,
            intermediate,
            intermediate_key,
            tsa,
            seal,
        } = parts;
        let inconsistent = |reason: String| CaError::Inconsistent(reason);
        super::cms::verify_issued_by(&root, &root)
            .map_err(|e| inconsistent(format!("the root is not self-signed: {e}")))?;
        super::cms::verify_issued_by(&intermediate, &root).map_err(|e| {
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
                super::cms::verify_issued_by(&certificate, &intermediate.certificate).map_err(
                    |e| {
                        inconsistent(format!(
                            "the TSA certificate is not issued by the intermediate: {e}"
                        ))
                    },
                )?;
                if public_key_of(&certificate) != key.public_key() {
                    return Err(inconsistent(
                        "the TSA key does not match its certificate".into(),
                    ));
                }
                super::cms::check_time_stamping_usage(&certificate)
                    .map_err(|e| inconsistent(e.to_string()))?;
                certified(certificate.to_der()?, key)?
            }
            None => issue_tsa(&intermediate, organization, Utc::now())?,
        };
        let seal = match seal {
            Some((certificate, key)) => {
                super::cms::verify_issued_by(&certificate, &intermediate.certificate).map_err(
                    |e| {
                        inconsistent(format!(
                            "the seal certificate is not issued by the intermediate: {e}"
                        ))
                    },
                )?;
                if public_key_of(&certificate) != key.public_key() {
                    return Err(inconsistent(
                        "the seal key does not match its certificate".into(),
                    ));
                }
                check_signing_usage(&certificate)
                    .map_err(|reason| inconsistent(format!("the seal certificate {reason}")))?;
                certified(certificate.to_der()?, key)?
            }
            None => issue_seal(&intermediate, organization, Utc::now())?,
        };
        Ok(Self {
            root_der: root.to_der()?,
            root,
            intermediate,
            tsa,
            seal,
        })
    }

    pub fn root(&self) -> &Certificate {
        &self.root
    }

    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    pub fn root_pem(&self) -> Result<String, CaError> {
        pem(&self.root_der)
    }

    pub fn intermediate(&self) -> &Certificate {
        &self.intermediate.certificate
    }

    /// The intermediate's key (signs event certificates; an operator may export it as PKCS#8).
    pub fn intermediate_key(&self) -> &SigningKey {
        &self.intermediate.key
    }

    /// The certificates above an event certificate, nearest first: intermediate, root (DER).
    pub fn chain(&self) -> Vec<Vec<u8>> {
        vec![self.intermediate.der.clone(), self.root_der.clone()]
    }

    /// The TSA certificate and key.
    pub fn tsa(&self) -> &CertifiedKey {
        &self.tsa
    }

    /// The platform seal: the organisation's certificate and key that sign every finished
    /// document last (PAdES B-T, see `document::sign::seal_field`).
    pub fn seal(&self) -> &CertifiedKey {
        &self.seal
    }

    /// The timestamp service on this CA's TSA certificate, stamping under `policy`.
    pub fn tsa_signer(
        self: &std::sync::Arc<Self>,
        policy: ObjectIdentifier,
    ) -> super::tsa::TsaSigner {
        super::tsa::TsaSigner::new(std::sync::Arc::clone(self), policy)
    }

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
        let mut subject: Vec<AttributeTypeAndValue> =
            organization_of(&self.intermediate.certificate)
                .into_iter()
                .collect();
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
            extensions: signer_extensions()?,
        })?;
        Ok(IssuedCertificate {
            certificate_der: der,
            key,
        })
    }
}

/// `esign ca init`: generates a CA and writes it under `[trust] dir`. Returns where.
pub fn init(config: &Config, force: bool) -> Result<CaFiles, CaError> {
    let trust = &config.trust;
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
    let files = CaFiles::new(trust_dir(config));
    if files.any_exists() && !force {
        return Err(CaError::Exists(files.dir));
    }
    let kek = key_encryption_key(config, true)?
        .ok_or(CaError::NoKeyInProduction("encrypt the CA keys"))?;
    let new = NewCa::generate(&config.trust.organization, Utc::now())?;
    new.write(&files, &kek, force)?;
    Ok(files)
}

/// The role of the seal's key file (the associated data of its encryption).
const SEAL_ROLE: &str = "seal";

/// The CA's certificates and keys as read, before they are checked together.
struct Parts {
    root: Certificate,
    intermediate: Certificate,
    intermediate_key: SigningKey,
    /// `None` when the operator's bundle has no TSA key: [`Ca::assemble`] issues one.
    tsa: Option<(Certificate, SigningKey)>,
    /// `None` when there is no seal yet: [`Ca::assemble`] issues one.
    seal: Option<(Certificate, SigningKey)>,
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

/// The role of a key and its certificate in an operator's PKCS#12 bundle, told by the
/// certificate: the root is self-issued and a CA, the intermediate a CA below it, the TSA's
/// certificate has the timeStamping usage, and any other end entity is the seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BundleRole {
    Root,
    Intermediate,
    Tsa,
    Seal,
}

impl BundleRole {
    /// The friendly name (`openssl pkcs12 -name`) that may mark this role.
    fn name(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Intermediate => "intermediate",
            Self::Tsa => "tsa",
            Self::Seal => "seal",
        }
    }

    fn of(certificate: &Certificate) -> Self {
        let tbs = certificate.tbs_certificate();
        let is_ca = matches!(
            tbs.get_extension::<BasicConstraints>(),
            Ok(Some((_, constraints))) if constraints.ca
        );
        let stamps_time = matches!(
            tbs.get_extension::<ExtendedKeyUsage>(),
            Ok(Some((_, usage))) if usage.0.contains(&oid::KP_TIME_STAMPING)
        );
        match (is_ca, tbs.subject() == tbs.issuer()) {
            (true, true) => Self::Root,
            (true, false) => Self::Intermediate,
            (false, _) if stamps_time => Self::Tsa,
            (false, _) => Self::Seal,
        }
    }
}

/// Sorts a bundle's keys and certificates into the CA's pieces. Each key is matched to its
/// certificate by public key (not by the `localKeyId` hint) and takes that certificate's role; a
/// friendly name naming a role must agree with it. The intermediate's key and the root
/// certificate are required, the TSA and seal keys optional; the root's key and stray
/// certificates are refused, so nothing in the file is silently left unused.
fn parts_of_bundle(bundle: super::pkcs12::Bundle) -> Result<Parts, String> {
    let mut certificates: Vec<super::pkcs12::BundleCertificate> = Vec::new();
    for entry in bundle.certificates {
        // `-in` and a `-certfile` chain may both carry the same certificate.
        if !certificates
            .iter()
            .any(|known| known.certificate == entry.certificate)
        {
            certificates.push(entry);
        }
    }
    let (mut intermediate, mut tsa, mut seal) = (None, None, None);
    for key in bundle.keys {
        let label = match &key.friendly_name {
            Some(name) => format!("the key {name:?}"),
            None => "a key without a friendly name".to_owned(),
        };
        if let Some(algorithm) = unsupported_key_algorithm(&key.pkcs8) {
            return Err(format!(
                "{label} is {algorithm}; esign's CA keys are ECDSA P-256 \
                 (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)"
            ));
        }
        let signing_key =
            SigningKey::from_pkcs8(&key.pkcs8).map_err(|e| format!("{label}: {e}"))?;
        let position = certificates
            .iter()
            .position(|entry| public_key_of(&entry.certificate) == signing_key.public_key())
            .ok_or_else(|| format!("{label} has no certificate in the bundle"))?;
        let entry = certificates.remove(position);
        let role = BundleRole::of(&entry.certificate);
        let subject = entry.certificate.tbs_certificate().subject().to_string();
        for name in [&key.friendly_name, &entry.friendly_name]
            .into_iter()
            .flatten()
        {
            let named = [
                BundleRole::Root,
                BundleRole::Intermediate,
                BundleRole::Tsa,
                BundleRole::Seal,
            ]
            .into_iter()
            .find(|candidate| candidate.name().eq_ignore_ascii_case(name));
            if let Some(named) = named
                && named != role
            {
                return Err(format!(
                    "{label} is named {name:?} but its certificate ({subject}) is the {}'s",
                    role.name()
                ));
            }
        }
        let slot = match role {
            BundleRole::Root => {
                return Err(format!(
                    "the bundle holds the root's private key ({subject}); the service needs only \
                     the intermediate's: export without it and keep the root key offline"
                ));
            }
            BundleRole::Intermediate => &mut intermediate,
            BundleRole::Tsa => &mut tsa,
            BundleRole::Seal => &mut seal,
        };
        if slot.replace((entry.certificate, signing_key)).is_some() {
            return Err(format!("the bundle holds two {} keys", role.name()));
        }
    }
    let Some((intermediate, intermediate_key)) = intermediate else {
        return Err(
            "no CA key: the bundle must hold the intermediate's private key with its certificate \
             (a CA certificate issued by the root), e.g. openssl pkcs12 -export -inkey \
             intermediate.key -in intermediate.pem -certfile root.pem"
                .into(),
        );
    };
    let mut roots = Vec::new();
    for entry in certificates {
        let subject = entry.certificate.tbs_certificate().subject().to_string();
        match BundleRole::of(&entry.certificate) {
            BundleRole::Root => roots.push(entry.certificate),
            _ => {
                return Err(format!(
                    "the certificate {subject} has no key in the bundle; add its key or leave it out"
                ));
            }
        }
    }
    let root = match roots.len() {
        1 => roots.remove(0),
        0 => {
            return Err(
                "no root certificate (a self-signed CA): add it with -certfile root.pem".into(),
            );
        }
        _ => return Err("several root certificates; the bundle must hold one".into()),
    };
    Ok(Parts {
        root,
        intermediate,
        intermediate_key,
        tsa,
        seal,
    })
}

/// What a PKCS#8 key is when it is not the ECDSA P-256 key esign signs with; `None` for P-256
/// (and for what does not parse, which [`SigningKey::from_pkcs8`] then reports).
fn unsupported_key_algorithm(pkcs8: &[u8]) -> Option<String> {
    use der::Reader as _;
    let algorithm = der::SliceReader::new(pkcs8)
        .ok()?
        .sequence(|info| {
            let _version: u8 = info.decode()?;
            let algorithm: AlgorithmIdentifierOwned = info.decode()?;
            info.read_slice(info.remaining_len())?;
            Ok::<_, der::Error>(algorithm)
        })
        .ok()?;
    let curve = algorithm
        .parameters
        .as_ref()
        .and_then(|parameters| parameters.decode_as::<ObjectIdentifier>().ok());
    match (algorithm.oid, curve) {
        (oid::EC_PUBLIC_KEY, Some(oid::SECP256R1)) => None,
        (oid::EC_PUBLIC_KEY, Some(oid::SECP384R1)) => Some("ECDSA P-384".into()),
        (oid::EC_PUBLIC_KEY, Some(curve)) => Some(format!("an EC key on curve {curve}")),
        (oid::EC_PUBLIC_KEY, None) => Some("an EC key without a named curve".into()),
        (oid::RSA_ENCRYPTION, _) => Some("RSA".into()),
        (other, _) => Some(format!("a key of algorithm {other}")),
    }
}

/// The seal files of a CA directory: both, or `None` when neither exists (a CA made before seals).
/// A key without its certificate may be another process halfway through [`write_seal`], so that is
/// waited out briefly before it counts as broken.
fn existing_seal_files(files: &CaFiles) -> Result<Option<(PathBuf, PathBuf)>, CaError> {
    const WAIT_STEP: Duration = Duration::from_millis(100);
    const WAIT_STEPS: u32 = 30;
    let (cert, key) = (files.seal_cert(), files.seal_key());
    for _ in 0..WAIT_STEPS {
        match (cert.exists(), key.exists()) {
            (true, true) => return Ok(Some((cert, key))),
            (false, false) => return Ok(None),
            _ => std::thread::sleep(WAIT_STEP),
        }
    }
    Err(CaError::Inconsistent(format!(
        "only one of {} and {} exists; remove it to have a new seal issued from the intermediate",
        cert.display(),
        key.display()
    )))
}

/// Writes a newly issued seal into a CA directory. The key file is created exclusively, so of two
/// processes upgrading the same directory only one writes; the certificate appears (by rename)
/// only once the key is complete. `false` when another process had already claimed the key file.
fn write_seal(
    files: &CaFiles,
    seal: &CertifiedKey,
    kek: &KeyEncryptionKey,
) -> Result<bool, CaError> {
    let key_path = files.seal_key();
    let key_file = kek.seal(SEAL_ROLE, seal.key.pkcs8_der())?;
    match write_new_file(&key_path, &key_file, true) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(source) => {
            // A partial key would block every later open: leave nothing behind.
            let _ = std::fs::remove_file(&key_path);
            return Err(CaError::Write {
                path: key_path,
                source,
            });
        }
    }
    let cert_path = files.seal_cert();
    let staging = files
        .dir
        .join(format!(".seal.pem.{}.tmp", std::process::id()));
    write_file(&staging, &pem(&seal.der)?, false)?;
    std::fs::rename(&staging, &cert_path).map_err(|source| CaError::Write {
        path: cert_path,
        source,
    })?;
    Ok(true)
}

/// Issues the platform seal certificate under `intermediate`: digitalSignature and
/// nonRepudiation, for documents.
fn issue_seal(
    intermediate: &CertifiedKey,
    organization: &str,
    now: DateTime<Utc>,
) -> Result<CertifiedKey, CaError> {
    issue_platform_certificate(
        intermediate,
        organization,
        now,
        "Platform Seal",
        SEAL_YEARS,
        signer_extensions()?,
    )
}

/// Issues the TSA certificate under `intermediate`: timeStamping only, critical (RFC 3161 2.3).
fn issue_tsa(
    intermediate: &CertifiedKey,
    organization: &str,
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
            extensions
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
fn ca_extensions(path_len: u8) -> Result<Vec<Extension>, CaError> {
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
fn check_signing_usage(certificate: &Certificate) -> Result<(), String> {
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

/// `[trust] dir`, or `<data_dir>/trust`.
pub fn trust_dir(config: &Config) -> PathBuf {
    config
        .trust
        .dir
        .clone()
        .unwrap_or_else(|| config.server.data_dir.join("trust"))
}

/// The configured key encryption key; in development one generated once under the data
/// directory. In production a missing key is an error when `required`, `None` otherwise.
pub fn key_encryption_key(
    config: &Config,
    required: bool,
) -> Result<Option<KeyEncryptionKey>, CaError> {
    if let Some(encoded) = &config.trust.key_encryption_key {
        return Ok(Some(KeyEncryptionKey::from_base64(encoded)?));
    }
    if config.server.mode == Mode::Production {
        return if required {
            Err(CaError::NoKeyInProduction("open the CA keys"))
        } else {
            Ok(None)
        };
    }
    let path = config.server.data_dir.join("keys").join("trust-kek.key");
    let encoded =
        crate::app::config::load_or_generate_key(&path).map_err(|e| CaError::GeneratedKey {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    Ok(Some(KeyEncryptionKey::from_base64(&encoded)?))
}

fn read_certificate(path: &Path) -> Result<Certificate, CaError> {
    let text = std::fs::read_to_string(path).map_err(|source| CaError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Certificate::load_pem_chain(text.as_bytes())
        .ok()
        .and_then(|mut certificates| (certificates.len() == 1).then(|| certificates.remove(0)))
        .ok_or_else(|| CaError::BadFile {
            path: path.to_path_buf(),
            reason: "expected exactly one PEM certificate".into(),
        })
}

fn read_key(
    role: &str,
    path: &Path,
    kek: Option<&KeyEncryptionKey>,
) -> Result<SigningKey, CaError> {
    let text = std::fs::read_to_string(path).map_err(|source| CaError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    SigningKey::from_pem_file(role, &text, kek).map_err(|e| CaError::BadFile {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn write_file(path: &Path, contents: &str, secret: bool) -> Result<(), CaError> {
    write_with(path, contents, secret, false).map_err(|source| CaError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Like [`write_file`], failing with `AlreadyExists` when the file is there.
fn write_new_file(path: &Path, contents: &str, secret: bool) -> std::io::Result<()> {
    write_with(path, contents, secret, true)
}

fn write_with(path: &Path, contents: &str, secret: bool, exclusive: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if exclusive {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path)?;
    std::io::Write::write_all(&mut file, contents.as_bytes())?;
    file.sync_all()
}

/// PEM text of a DER certificate.
pub fn pem(der: &[u8]) -> Result<String, CaError> {
    Ok(Certificate::from_der(der)?.to_pem(LineEnding::LF)?)
}

fn certified(der: Vec<u8>, key: SigningKey) -> Result<CertifiedKey, CaError> {
    Ok(CertifiedKey {
        certificate: Certificate::from_der(&der)?,
        der,
        key,
    })
}

fn public_key_of(certificate: &Certificate) -> &[u8] {
    certificate
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes()
}

/// RFC 7093 method 1: the leftmost 160 bits of the SHA-256 of the public key.
fn key_identifier(public_key: &[u8]) -> Vec<u8> {
    sha256(public_key)[..20].to_vec()
}

/// The authority key identifier of a certificate `issuer` signs: the issuer's own subject key
/// identifier as its certificate states it. An operator's CA made by another tool (openssl
/// hashes with SHA-1) has other identifiers than ours, and openssl, for one, builds chains by
/// matching the two.
fn authority_key_id(issuer: &CertifiedKey) -> Vec<u8> {
    match issuer
        .certificate
        .tbs_certificate()
        .get_extension::<SubjectKeyIdentifier>()
    {
        Ok(Some((_, identifier))) => identifier.0.as_bytes().to_vec(),
        _ => key_identifier(issuer.key.public_key()),
    }
}

/// A name of single-attribute RDNs; country and serialNumber as PrintableString, the rest UTF-8.
fn name(attributes: &[(ObjectIdentifier, &str)]) -> Result<Name, CaError> {
    name_of(
        attributes
            .iter()
            .map(|(id, text)| attribute_value(*id, text))
            .collect::<Result<Vec<_>, _>>()?,
    )
}

fn attribute_value(id: ObjectIdentifier, text: &str) -> Result<AttributeTypeAndValue, CaError> {
    let value = if id == oid::COUNTRY || id == oid::SERIAL_NUMBER {
        Any::encode_from(&PrintableStringRef::new(text)?)?
    } else {
        Any::encode_from(&Utf8StringRef::new(text)?)?
    };
    Ok(AttributeTypeAndValue { oid: id, value })
}

fn name_of(attributes: Vec<AttributeTypeAndValue>) -> Result<Name, CaError> {
    let rdns = attributes
        .into_iter()
        .map(|attribute| SetOfVec::try_from(vec![attribute]))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Name::from_der(&rdns.to_der()?)?)
}

fn extension(
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

struct Template<'a> {
    issuer: &'a Name,
    issuer_key: &'a SigningKey,
    issuer_key_id: Vec<u8>,
    subject: &'a Name,
    subject_public_key: &'a [u8],
    not_before: Duration,
    not_after: Duration,
    extensions: Vec<Extension>,
}

pub(crate) fn ecdsa_with_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: oid::ECDSA_WITH_SHA256,
        parameters: None,
    }
}

pub(crate) fn p256_public_key_info(point: &[u8]) -> Result<SubjectPublicKeyInfoOwned, der::Error> {
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: oid::EC_PUBLIC_KEY,
            parameters: Some(Any::encode_from(&oid::SECP256R1)?),
        },
        subject_public_key: BitString::from_bytes(point)?,
    })
}

/// RFC 5280 times: UTCTime through 2049, GeneralizedTime after.
fn certificate_time(since_epoch: Duration) -> Result<Time, der::Error> {
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

fn build_certificate(template: &Template<'_>) -> Result<Vec<u8>, CaError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_ca_chains_and_issues_event_certificates() {
        let new = NewCa::generate("esign", Utc::now()).unwrap();
        let ca = &new.ca;
        super::super::cms::verify_issued_by(ca.root(), ca.root()).unwrap();
        super::super::cms::verify_issued_by(ca.intermediate(), ca.root()).unwrap();
        super::super::cms::verify_issued_by(&ca.tsa().certificate, ca.intermediate()).unwrap();
        super::super::cms::check_time_stamping_usage(&ca.tsa().certificate).unwrap();

        let issued = ca
            .issue_event_certificate(
                "张三",
                "110101********1234",
                Utc::now(),
                Duration::from_secs(1800),
            )
            .unwrap();
        let certificate = Certificate::from_der(&issued.certificate_der).unwrap();
        super::super::cms::verify_issued_by(&certificate, ca.intermediate()).unwrap();
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
        );
        assert!(matches!(refused, Err(CaError::Inconsistent(_))));
    }

    #[test]
    fn the_seal_certificate_is_issued_by_the_intermediate_to_sign_documents() {
        let new = NewCa::generate("天财商龙", Utc::now()).unwrap();
        let ca = &new.ca;
        let seal = &ca.seal().certificate;
        super::super::cms::verify_issued_by(seal, ca.intermediate()).unwrap();
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
        assert!(super::super::cms::check_time_stamping_usage(seal).is_err());
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
        let seal = issue_seal(&new.ca.intermediate, "esign", years_later).unwrap();
        assert_eq!(
            seal.certificate.tbs_certificate().validity().not_after,
            new.ca.intermediate().tbs_certificate().validity().not_after
        );
    }

    #[test]
    fn a_ca_directory_made_before_seals_gets_one_on_open_and_keeps_it() {
        let data = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.server.data_dir = data.path().to_path_buf();
        let files = init(&config, false).unwrap();
        // What `ca init` wrote before seal certificates existed.
        std::fs::remove_file(files.seal_cert()).unwrap();
        std::fs::remove_file(files.seal_key()).unwrap();

        let upgraded = Ca::open(&config).unwrap().unwrap();
        super::super::cms::verify_issued_by(&upgraded.seal().certificate, upgraded.intermediate())
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
        let reopened = Ca::open(&config).unwrap().unwrap();
        assert_eq!(reopened.seal().der, upgraded.seal().der);
        assert_eq!(
            reopened.seal().key.public_key(),
            upgraded.seal().key.public_key()
        );

        // A certificate whose key is gone is not silently replaced.
        std::fs::remove_file(files.seal_key()).unwrap();
        assert!(matches!(Ca::open(&config), Err(CaError::Inconsistent(_))));
    }

    fn bundle_config(data: &Path, file: &[u8]) -> Config {
        let mut config = Config::default();
        config.server.data_dir = data.to_path_buf();
        let path = data.join("ca.p12");
        std::fs::write(&path, file).unwrap();
        config.trust.pkcs12 = Some(path);
        config.trust.pkcs12_password = Some("pw".into());
        config
    }

    #[test]
    fn a_bundle_with_tsa_and_seal_keys_is_used_as_it_is() {
        use super::super::pkcs12::unencrypted_bundle;
        let new = NewCa::generate("Operator", Utc::now()).unwrap();
        let ca = &new.ca;
        // The certificates tell the roles; a friendly name naming one agrees, others are labels.
        let file = unencrypted_bundle(
            &[
                (Some("seal"), ca.seal.key.pkcs8_der()),
                (None, ca.tsa.key.pkcs8_der()),
                (Some("Operator Signing CA"), ca.intermediate.key.pkcs8_der()),
            ],
            &[
                (None, &ca.seal.der),
                (Some("TSA"), &ca.tsa.der),
                (None, &ca.intermediate.der),
                (None, &ca.intermediate.der),
                (Some("root"), ca.root_der()),
            ],
            "pw",
        );
        let data = tempfile::tempdir().unwrap();
        let opened = Ca::open(&bundle_config(data.path(), &file))
            .unwrap()
            .unwrap();
        assert_eq!(opened.root_der(), ca.root_der());
        assert_eq!(opened.intermediate.der, ca.intermediate.der);
        assert_eq!(opened.tsa.der, ca.tsa.der);
        assert_eq!(opened.tsa.key.public_key(), ca.tsa.key.public_key());
        assert_eq!(opened.seal.der, ca.seal.der);
        assert_eq!(opened.seal.key.public_key(), ca.seal.key.public_key());
    }

    #[test]
    fn a_bundle_whose_pieces_do_not_fit_their_roles_is_refused() {
        use super::super::pkcs12::unencrypted_bundle;
        let new = NewCa::generate("Operator", Utc::now()).unwrap();
        let other = NewCa::generate("Other", Utc::now()).unwrap();
        let ca = &new.ca;
        let intermediate = (None, ca.intermediate.key.pkcs8_der());
        let chain = [(None, &ca.intermediate.der[..]), (None, ca.root_der())];
        let with = |extra_keys: &[(Option<&str>, &[u8])], extra: &[(Option<&str>, &[u8])]| {
            let keys = [&[intermediate][..], extra_keys].concat();
            let certificates = [&chain[..], extra].concat();
            unencrypted_bundle(&keys, &certificates, "pw")
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                with(
                    &[(Some("tsa"), ca.seal.key.pkcs8_der())],
                    &[(None, &ca.seal.der)],
                ),
                "is named \"tsa\" but its certificate",
            ),
            (
                with(&[(None, new.root_key.pkcs8_der())], &[]),
                "the root's private key",
            ),
            (
                with(&[], &[(None, &ca.tsa.der)]),
                "has no key in the bundle",
            ),
            (
                with(&[(None, ca.seal.key.pkcs8_der())], &[]),
                "has no certificate in the bundle",
            ),
            (
                unencrypted_bundle(&[intermediate], &[chain[0]], "pw"),
                "no root certificate",
            ),
            (
                with(
                    &[(None, other.ca.seal.key.pkcs8_der())],
                    &[(None, &other.ca.seal.der)],
                ),
                "the seal certificate is not issued by the intermediate",
            ),
            (unencrypted_bundle(&[], &chain, "pw"), "no CA key"),
        ];
        let data = tempfile::tempdir().unwrap();
        for (file, expected) in cases {
            let error = Ca::open(&bundle_config(data.path(), &file)).unwrap_err();
            assert!(
                matches!(&error, CaError::Pkcs12 { reason, .. } if reason.contains(expected)),
                "{expected}: {error}"
            );
        }
    }

    #[test]
    fn only_p256_keys_pass_the_algorithm_check() {
        let rng = ring::rand::SystemRandom::new();
        let p384 = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            &rng,
        )
        .unwrap();
        assert_eq!(
            unsupported_key_algorithm(p384.as_ref()).as_deref(),
            Some("ECDSA P-384")
        );
        let ed25519 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        assert_eq!(
            unsupported_key_algorithm(ed25519.as_ref()).as_deref(),
            Some("a key of algorithm 1.3.101.112")
        );
        let p256 = SigningKey::generate().unwrap();
        assert_eq!(unsupported_key_algorithm(p256.pkcs8_der()), None);
    }
}
