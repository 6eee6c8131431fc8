//! The CA's files: where they live, reading and writing certificates and encrypted keys, and the
//! key encryption key that opens them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use der::pem::LineEnding;
use der::{Decode, EncodePem};
use x509_cert::Certificate;

use super::{CaError, CertifiedKey};
use crate::trust::config::TrustSettings;
use crate::trust::keys::{KeyEncryptionKey, SigningKey};
use aggregates::values::Mode;

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
    /// The root's CRL (DER), signed where the root key is (`ca init`, `ca root-crl`) and served by
    /// the service as it is.
    pub fn root_crl(&self) -> PathBuf {
        self.dir.join("root.crl")
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

/// The role of the seal's key file (the associated data of its encryption).
pub(super) const SEAL_ROLE: &str = "seal";

/// The seal files of a CA directory: both, or `None` when neither exists (a CA made before seals).
/// A key without its certificate may be another process halfway through [`write_seal`], so that is
/// waited out briefly before it counts as broken.
pub(super) fn existing_seal_files(files: &CaFiles) -> Result<Option<(PathBuf, PathBuf)>, CaError> {
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
pub(super) fn write_seal(
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

/// `[trust] dir`, or `<data_dir>/trust`.
pub fn trust_dir(settings: &TrustSettings) -> PathBuf {
    settings
        .config
        .dir
        .clone()
        .unwrap_or_else(|| settings.data_dir.join("trust"))
}

/// The configured key encryption key; in development one generated once under the data
/// directory. In production a missing key is an error when `required`, `None` otherwise.
pub fn key_encryption_key(
    settings: &TrustSettings,
    required: bool,
) -> Result<Option<KeyEncryptionKey>, CaError> {
    if let Some(encoded) = &settings.config.key_encryption_key {
        return Ok(Some(KeyEncryptionKey::from_base64(encoded)?));
    }
    if settings.mode == Mode::Production {
        return if required {
            Err(CaError::NoKeyInProduction("open the CA keys"))
        } else {
            Ok(None)
        };
    }
    let path = settings.data_dir.join("keys").join("trust-kek.key");
    let encoded = crate::pii::load_or_generate_key(&path).map_err(|e| CaError::GeneratedKey {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    Ok(Some(KeyEncryptionKey::from_base64(&encoded)?))
}

pub(super) fn read_certificate(path: &Path) -> Result<Certificate, CaError> {
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

pub(super) fn read_key(
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

pub(super) fn write_file(path: &Path, contents: &str, secret: bool) -> Result<(), CaError> {
    write_with(path, contents.as_bytes(), secret, false).map_err(|source| CaError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a public binary file (a DER CRL) so that a reader never sees half of it: into a staging
/// file first, renamed over the old one.
pub(super) fn write_binary_file(path: &Path, contents: &[u8]) -> Result<(), CaError> {
    let failed = |source| CaError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut staging = path.as_os_str().to_owned();
    staging.push(format!(".{}.tmp", std::process::id()));
    let staging = PathBuf::from(staging);
    write_with(&staging, contents, false, false).map_err(failed)?;
    std::fs::rename(&staging, path).map_err(failed)
}

/// Like [`write_file`], failing with `AlreadyExists` when the file is there.
fn write_new_file(path: &Path, contents: &str, secret: bool) -> std::io::Result<()> {
    write_with(path, contents.as_bytes(), secret, true)
}

fn write_with(path: &Path, contents: &[u8], secret: bool, exclusive: bool) -> std::io::Result<()> {
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
    std::io::Write::write_all(&mut file, contents)?;
    file.sync_all()
}

/// PEM text of a DER certificate.
pub fn pem(der: &[u8]) -> Result<String, CaError> {
    Ok(Certificate::from_der(der)?.to_pem(LineEnding::LF)?)
}
