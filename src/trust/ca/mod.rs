//! The platform CA: a root (long-lived, path length 1), an intermediate that signs event
//! certificates, the TSA certificate and the platform seal certificate, that TSA certificate
//! (`timeStamping`, critical) and the seal certificate (the organisation's own signature on every
//! finished document).
//!
//! Files under `[trust] dir` (default `<data_dir>/trust`): `root.pem`, `intermediate.pem`, `tsa.pem`,
//! `seal.pem`, `chain.pem` (intermediate then root) and the encrypted keys `root.key`,
//! `intermediate.key`, `tsa.key`, `seal.key` (see [`super::keys`]), and the root's CRL `root.crl`.
//! The root key is only needed to create the intermediate and sign the root's CRL; keep a copy
//! offline.
//!
//! An operator may supply the CA instead: as PEM files (`[trust] root_cert` ...) or as one PKCS#12
//! bundle (`[trust] pkcs12`), checked the same way (see [`Ca::open`]).
//!
//! # Layout
//!
//! - This file: the CA as the running service holds it, the certificates it hands out, and its
//!   errors.
//! - `create`: `esign ca init`: generating a CA and writing its files.
//! - `crl`: the intermediate's CRL (made on demand from the recorded revocations) and the root's
//!   (a file signed where the root key is: `esign ca init`, `esign ca root-crl`).
//! - `open`: loading the CA the configuration points at (the CA directory, an operator's PEM files
//!   or PKCS#12 bundle) and checking that its pieces hold together.
//! - `bundle`: sorting an operator's PKCS#12 bundle into the CA's pieces.
//! - `files`: where the CA's files live, reading and writing them, and the key encryption key.
//! - `profiles`: what each certificate says and how long it lives: root, intermediate, TSA,
//!   platform seal and per-signer event certificates.
//! - `publication`: the URLs of the CA's CRLs and OCSP responder under `[server] public_base_url`,
//!   and the extensions (CRL distribution point, authority information access) that name them.
//! - `x509`: building and signing one X.509 certificate.

mod bundle;
mod create;
mod crl;
mod files;
mod open;
mod profiles;
mod publication;
mod x509;

use std::path::PathBuf;

use x509_cert::Certificate;

use super::keys::{KeyError, SigningKey};

pub use create::{NewCa, init};
pub(crate) use crl::crl_reason;
pub use crl::{ROOT_CRL_VALIDITY, RevokedCertificate, crl_number, issue_root_crl, read_root_crl};
pub use files::{CaFiles, key_encryption_key, pem, trust_dir};
pub use publication::{
    INTERMEDIATE_CERTIFICATE_PATH, INTERMEDIATE_CRL_PATH, OCSP_PATH, Publication, ROOT_CRL_PATH,
};
pub(crate) use x509::{ecdsa_with_sha256, random_serial};

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
    #[error(
        "the root key {0} is not here: run `esign ca root-crl` where the root key is kept, then copy \
         root.crl beside the CA files"
    )]
    NoRootKey(PathBuf),
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
    /// Where certificates issued from now on say revocation status is published; `None` when the
    /// service has no public address (certificates then carry no such extensions).
    publication: Option<Publication>,
}

impl Ca {
    /// The revocation URLs certificates issued from now on carry.
    pub fn publication(&self) -> Option<&Publication> {
        self.publication.as_ref()
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
    /// document last (PAdES B-T, see `documents::seal`).
    pub fn seal(&self) -> &CertifiedKey {
        &self.seal
    }

    /// The timestamp service on this CA's TSA certificate, stamping under `policy`.
    pub fn tsa_signer(
        self: &std::sync::Arc<Self>,
        policy: super::policy_oid::PolicyOid,
    ) -> super::tsa::TsaSigner {
        super::tsa::TsaSigner::new(std::sync::Arc::clone(self), policy)
    }
}
