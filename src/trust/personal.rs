//! Signers' own certificates (signMethod `CA_CERT`): the checks a personal certificate passes
//! before its holder may sign with it, against the CAs the deployment trusts for them
//! (`[trust] personal_ca_roots`).
//!
//! What is checked here, all without IO: the chain from the signer's certificate to a trusted root
//! (every signature, every issuer a CA), the certificate's validity at the signing moment, that it
//! is an end entity allowed to sign (keyUsage digitalSignature or nonRepudiation), that its key is
//! one the service can verify (RSA, or ECDSA P-256), and, given a CRL or an OCSP answer the caller
//! fetched from where the certificate says, that it is the issuer's, current, and does not say the
//! certificate is revoked.
//! Who the certificate names is the domain's rule (`VerifyCertificate`): this module only reads
//! the names out. See docs/trust.md, "Personal certificates".

use std::path::PathBuf;
use std::time::Duration;

use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::certificate::Rfc5280;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::crl::CrlDistributionPoints;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
};

use super::cms;
use super::ocsp;
use super::oid;

/// Longest chain a signer may hand in (their certificate and the CAs above it).
pub const MAX_CHAIN: usize = 6;

/// How far a CRL's thisUpdate may lie in the future (the CA's clock against ours).
const CRL_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Why a personal certificate is refused. Each one is a reason the signer is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateRefusal {
    #[error("the certificate cannot be read: {0}")]
    Malformed(String),
    #[error("the certificate is not valid at the signing moment")]
    NotValidAt,
    #[error("the certificate does not chain to a trusted CA: {0}")]
    Untrusted(String),
    #[error("the certificate may not sign: {0}")]
    KeyUsage(String),
    #[error("the certificate's key is not supported: {0}")]
    UnsupportedKey(String),
    #[error("the certificate is revoked (since {revoked_at})")]
    Revoked { revoked_at: String },
    /// The CA publishes revocation status, and it could not be had (unreachable, unreadable, out of
    /// date, signed by someone else): without it the certificate is not accepted.
    #[error("the certificate's revocation status cannot be established: {0}")]
    RevocationUnknown(String),
}

/// Why the configured roots cannot be used (the service does not start).
#[derive(Debug, thiserror::Error)]
#[error("trust.personal_ca_roots {path}: {reason}")]
pub struct RootsError {
    pub path: String,
    pub reason: String,
}

/// The CAs the deployment trusts for signers' own certificates.
#[derive(Debug, Clone, Default)]
pub struct PersonalRoots {
    anchors: Vec<Certificate>,
}

/// A certificate that passed the checks, with what the domain and the log need of it.
#[derive(Debug, Clone)]
pub struct CheckedCertificate {
    /// The signer's certificate, then the CAs up to and including the trusted root.
    pub path: Vec<Certificate>,
    /// The subject's commonName (2.5.4.3), if it has one.
    pub common_name: Option<String>,
    /// The subject's serialNumber (2.5.4.5), if it has one: Chinese personal certificates carry the
    /// holder's ID number there.
    pub serial_number: Option<String>,
}

impl CheckedCertificate {
    pub fn leaf(&self) -> &Certificate {
        &self.path[0]
    }

    /// The certificate that issued the signer's (its CRL must be signed by it).
    pub fn issuer(&self) -> &Certificate {
        self.path.get(1).unwrap_or(&self.path[0])
    }
}

impl PersonalRoots {
    /// Reads every certificate of every PEM file (a file may hold several).
    pub fn load(paths: &[PathBuf]) -> Result<Self, RootsError> {
        let mut anchors = Vec::new();
        for path in paths {
            let error = |reason: String| RootsError {
                path: path.display().to_string(),
                reason,
            };
            let text = std::fs::read(path).map_err(|e| error(e.to_string()))?;
            let certificates =
                Certificate::load_pem_chain(&text).map_err(|e| error(e.to_string()))?;
            if certificates.is_empty() {
                return Err(error("holds no certificate".into()));
            }
            for certificate in &certificates {
                if !is_ca(certificate) {
                    return Err(error(format!(
                        "{} is not a CA certificate",
                        certificate.tbs_certificate().subject()
                    )));
                }
            }
            anchors.extend(certificates);
        }
        Ok(Self { anchors })
    }

    pub fn from_certificates(anchors: Vec<Certificate>) -> Self {
        Self { anchors }
    }

    /// The trusted personal roots.
    pub fn anchors(&self) -> &[Certificate] {
        &self.anchors
    }

    /// Whether no personal CA is trusted: no `CA_CERT` signer can sign.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Checks the chain a signer handed in (their certificate first, then any CAs; the order of
    /// the CAs does not matter) at `at` (seconds since the epoch). Revocation is the caller's next
    /// step ([`crl_urls`], [`check_crl`], [`ocsp_urls`], [`check_ocsp`]).
    pub fn check(
        &self,
        chain: &[Certificate],
        at: Duration,
    ) -> Result<CheckedCertificate, CertificateRefusal> {
        let (leaf, others) = chain
            .split_first()
            .ok_or_else(|| CertificateRefusal::Malformed("no certificate".into()))?;
        if chain.len() > MAX_CHAIN {
            return Err(CertificateRefusal::Malformed(format!(
                "more than {MAX_CHAIN} certificates"
            )));
        }
        let validity = leaf.tbs_certificate().validity();
        if at < validity.not_before.to_unix_duration() || at > validity.not_after.to_unix_duration()
        {
            return Err(CertificateRefusal::NotValidAt);
        }
        check_signing_usage(leaf)?;
        cms::signature_algorithm_for(leaf)
            .map_err(|error| CertificateRefusal::UnsupportedKey(error.to_string()))?;
        let path = cms::verify_chain(leaf, others, &self.anchors, at)
            .map_err(|error| CertificateRefusal::Untrusted(error.to_string()))?;
        let subject = leaf.tbs_certificate().subject();
        Ok(CheckedCertificate {
            path,
            common_name: super::name_attribute(subject, oid::COMMON_NAME),
            serial_number: super::name_attribute(subject, oid::SERIAL_NUMBER),
        })
    }
}

/// Parses the DER certificates a signer handed in.
pub fn parse_chain(ders: &[Vec<u8>]) -> Result<Vec<Certificate>, CertificateRefusal> {
    ders.iter()
        .map(|der| {
            Certificate::from_der(der).map_err(|e| CertificateRefusal::Malformed(e.to_string()))
        })
        .collect()
}

/// An end entity whose key usage allows signing documents. A certificate without the keyUsage
/// extension is not restricted (RFC 5280 4.2.1.3).
fn check_signing_usage(certificate: &Certificate) -> Result<(), CertificateRefusal> {
    if is_ca(certificate) {
        return Err(CertificateRefusal::KeyUsage(
            "a CA certificate, not a person's".into(),
        ));
    }
    match certificate.tbs_certificate().get_extension::<KeyUsage>() {
        Ok(Some((_, usage)))
            if !usage.0.contains(KeyUsages::DigitalSignature)
                && !usage.0.contains(KeyUsages::NonRepudiation) =>
        {
            Err(CertificateRefusal::KeyUsage(
                "neither digitalSignature nor nonRepudiation".into(),
            ))
        }
        Ok(_) => Ok(()),
        Err(error) => Err(CertificateRefusal::Malformed(format!("key usage: {error}"))),
    }
}

fn is_ca(certificate: &Certificate) -> bool {
    matches!(
        certificate.tbs_certificate().get_extension::<BasicConstraints>(),
        Ok(Some((_, constraints))) if constraints.ca
    )
}

/// Where the certificate says its CRL is published: the URIs of its CRL distribution points.
/// An empty list means the CA publishes no CRL for it.
pub fn crl_urls(certificate: &Certificate) -> Result<Vec<String>, CertificateRefusal> {
    let points = match certificate
        .tbs_certificate()
        .get_extension::<CrlDistributionPoints>()
    {
        Ok(Some((_, points))) => points.0,
        Ok(None) => return Ok(Vec::new()),
        Err(error) => {
            return Err(CertificateRefusal::Malformed(format!(
                "CRL distribution points: {error}"
            )));
        }
    };
    Ok(points
        .iter()
        .filter_map(
            |point: &DistributionPoint| match &point.distribution_point {
                Some(DistributionPointName::FullName(names)) => Some(names),
                _ => None,
            },
        )
        .flatten()
        .filter_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
            _ => None,
        })
        .collect())
}

/// The OCSP responders the certificate names (authorityInfoAccess id-ad-ocsp URIs).
pub fn ocsp_urls(certificate: &Certificate) -> Result<Vec<String>, CertificateRefusal> {
    match certificate
        .tbs_certificate()
        .get_extension::<AuthorityInfoAccessSyntax>()
    {
        Ok(Some((_, access))) => Ok(access
            .0
            .iter()
            .filter(|description| description.access_method == oid::AD_OCSP)
            .filter_map(|description| match &description.access_location {
                GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
                _ => None,
            })
            .collect()),
        Ok(None) => Ok(Vec::new()),
        Err(error) => Err(CertificateRefusal::Malformed(format!(
            "authority information access: {error}"
        ))),
    }
}

/// Checks a CRL (DER) fetched for `certificate`: signed by `issuer` under its name, current at
/// `at` (thisUpdate not in the future, nextUpdate not passed), and not listing the certificate.
pub fn check_crl(
    crl_der: &[u8],
    certificate: &Certificate,
    issuer: &Certificate,
    at: Duration,
) -> Result<(), CertificateRefusal> {
    let unknown = |reason: String| CertificateRefusal::RevocationUnknown(reason);
    let crl = CertificateList::<Rfc5280>::from_der(crl_der)
        .map_err(|e| unknown(format!("the CRL cannot be read: {e}")))?;
    let tbs = &crl.tbs_cert_list;
    if &tbs.issuer != issuer.tbs_certificate().subject() {
        return Err(unknown("the CRL is not the issuer's".into()));
    }
    cms::verify_signature(
        issuer.tbs_certificate().subject_public_key_info(),
        &crl.signature_algorithm.oid,
        None,
        &tbs.to_der()
            .map_err(|e| unknown(format!("the CRL cannot be read: {e}")))?,
        crl.signature
            .as_bytes()
            .ok_or_else(|| unknown("the CRL's signature has unused bits".into()))?,
    )
    .map_err(|e| unknown(format!("the CRL's signature: {e}")))?;
    if tbs.this_update.to_unix_duration() > at + CRL_CLOCK_SKEW {
        return Err(unknown("the CRL was issued in the future".into()));
    }
    if tbs
        .next_update
        .is_some_and(|next| next.to_unix_duration() < at)
    {
        return Err(unknown(
            "the CRL is out of date (past its nextUpdate)".into(),
        ));
    }
    let serial = certificate.tbs_certificate().serial_number();
    if let Some(entry) = tbs
        .revoked_certificates
        .iter()
        .flatten()
        .find(|entry| entry.serial_number.as_bytes() == serial.as_bytes())
    {
        return Err(CertificateRefusal::Revoked {
            revoked_at: entry.revocation_date.to_string(),
        });
    }
    Ok(())
}

/// The OCSP request (DER) asking `issuer`'s responder about `certificate` (SHA-1 CertID, what
/// responders expect by default; no nonce, which many responders do not echo).
pub fn ocsp_request(
    certificate: &Certificate,
    issuer: &Certificate,
) -> Result<Vec<u8>, CertificateRefusal> {
    ocsp::Query::for_certificate(certificate, issuer, ocsp::CertIdHash::Sha1)
        .and_then(|query| query.to_der())
        .map_err(|e| CertificateRefusal::Malformed(format!("OCSP request: {e}")))
}

/// How long an OCSP answer without nextUpdate counts as current after its thisUpdate.
const OCSP_WITHOUT_NEXT_UPDATE: Duration = Duration::from_secs(3600);

/// Checks an OCSP response (DER) about `certificate`: successful and basic, signed by `issuer`
/// or by a responder certificate `issuer` issued for OCSP signing, current at `at`, and saying
/// `good`. `revoked` refuses the certificate; anything else leaves its status unknown.
pub fn check_ocsp(
    response_der: &[u8],
    certificate: &Certificate,
    issuer: &Certificate,
    at: Duration,
) -> Result<(), CertificateRefusal> {
    let unknown = |reason: String| CertificateRefusal::RevocationUnknown(reason);
    let (status, basic) =
        ocsp::read_response(response_der).map_err(|e| unknown(format!("OCSP answer: {e}")))?;
    let basic = match (status, basic) {
        (ocsp::ResponseStatus::Successful, Some(basic)) => basic,
        (status, _) => return Err(unknown(format!("the OCSP responder answered {status:?}"))),
    };
    let data = &basic.tbs_response_data;
    let responder = ocsp_responder(&basic, issuer, at).map_err(unknown)?;
    cms::verify_signature(
        responder.tbs_certificate().subject_public_key_info(),
        &basic.signature_algorithm.oid,
        None,
        &data
            .to_der()
            .map_err(|e| unknown(format!("OCSP answer: {e}")))?,
        basic
            .signature
            .as_bytes()
            .ok_or_else(|| unknown("the OCSP signature has unused bits".into()))?,
    )
    .map_err(|e| unknown(format!("the OCSP answer's signature: {e}")))?;
    let single = data
        .responses
        .iter()
        .find(|single| ocsp::names(&single.cert_id, certificate, issuer))
        .ok_or_else(|| unknown("the OCSP answer is about another certificate".into()))?;
    let this_update = single.this_update.to_unix_duration();
    if this_update > at + CRL_CLOCK_SKEW {
        return Err(unknown("the OCSP answer was made in the future".into()));
    }
    let current_until = match &single.next_update {
        Some(next) => next.to_unix_duration(),
        None => this_update + OCSP_WITHOUT_NEXT_UPDATE,
    };
    if current_until < at {
        return Err(unknown("the OCSP answer is out of date".into()));
    }
    match &single.cert_status {
        ocsp::CertStatus::Good(_) => Ok(()),
        ocsp::CertStatus::Revoked(info) => Err(CertificateRefusal::Revoked {
            revoked_at: x509_cert::time::Time::GeneralTime(info.revocation_time).to_string(),
        }),
        ocsp::CertStatus::Unknown(_) => Err(unknown(
            "the OCSP responder does not know the certificate".into(),
        )),
    }
}

/// Who signed an OCSP answer: the issuer itself, or a delegated responder the issuer certified
/// for OCSP signing (RFC 6960 4.2.2.2), valid at `at`.
fn ocsp_responder(
    basic: &ocsp::BasicOcspResponse,
    issuer: &Certificate,
    at: Duration,
) -> Result<Certificate, String> {
    let identifies = |candidate: &Certificate| match &basic.tbs_response_data.responder_id {
        ocsp::ResponderId::ByName(name) => candidate.tbs_certificate().subject() == name,
        ocsp::ResponderId::ByKey(hash) => {
            let key = candidate
                .tbs_certificate()
                .subject_public_key_info()
                .subject_public_key
                .raw_bytes();
            ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, key).as_ref()
                == hash.as_bytes()
        }
    };
    if identifies(issuer) {
        return Ok(issuer.clone());
    }
    let delegated = basic
        .certs
        .iter()
        .flatten()
        .find(|candidate| identifies(candidate))
        .ok_or("the OCSP answer is signed by an unknown responder")?;
    cms::verify_issued_by(delegated, issuer)
        .map_err(|e| format!("the OCSP responder is not the issuer's: {e}"))?;
    let validity = delegated.tbs_certificate().validity();
    if at < validity.not_before.to_unix_duration() || at > validity.not_after.to_unix_duration() {
        return Err("the OCSP responder's certificate is not valid now".into());
    }
    match delegated
        .tbs_certificate()
        .get_extension::<ExtendedKeyUsage>()
    {
        Ok(Some((_, usage))) if usage.0.contains(&oid::KP_OCSP_SIGNING) => Ok(delegated.clone()),
        _ => Err("the OCSP responder's certificate is not for OCSP signing".into()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;

    use super::*;
    use crate::trust::ca::NewCa;
    use crate::trust::ca::RevokedCertificate;

    fn now() -> Duration {
        crate::trust::unix_seconds(Utc::now()).unwrap()
    }

    /// A CA of the platform's making stands in for a personal CA: its root is the trusted one and
    /// its event certificates are personal certificates (CN = name, serialNumber = an ID number).
    fn personal_ca() -> (NewCa, Certificate) {
        let new = NewCa::generate("Personal CA", Utc::now()).unwrap();
        let issued = new
            .ca
            .issue_event_certificate(
                "张三",
                "110101199003071234",
                Utc::now() - chrono::TimeDelta::minutes(1),
                Duration::from_secs(600),
            )
            .unwrap();
        let certificate = Certificate::from_der(&issued.certificate_der).unwrap();
        (new, certificate)
    }

    #[test]
    fn roots_load_from_pem_files_of_ca_certificates_only() {
        let (new, certificate) = personal_ca();
        let dir = tempfile::tempdir().unwrap();
        let roots = dir.path().join("roots.pem");
        let two = format!(
            "{}{}",
            new.ca.root_pem().unwrap(),
            crate::trust::ca::pem(&new.ca.intermediate().to_der().unwrap()).unwrap()
        );
        std::fs::write(&roots, two).unwrap();
        let loaded = PersonalRoots::load(std::slice::from_ref(&roots)).unwrap();
        assert_eq!(loaded.anchors.len(), 2);
        assert!(PersonalRoots::load(&[]).unwrap().is_empty());

        let leaf = dir.path().join("leaf.pem");
        std::fs::write(
            &leaf,
            crate::trust::ca::pem(&certificate.to_der().unwrap()).unwrap(),
        )
        .unwrap();
        let error = PersonalRoots::load(&[leaf]).unwrap_err();
        assert!(
            error.to_string().contains("is not a CA certificate"),
            "{error}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        assert!(PersonalRoots::load(&[empty]).is_err());
        assert!(PersonalRoots::load(&[dir.path().join("missing.pem")]).is_err());
    }

    #[test]
    fn a_certificate_that_chains_to_a_trusted_root_passes_and_names_its_holder() {
        let (new, certificate) = personal_ca();
        let roots = PersonalRoots::from_certificates(vec![new.ca.root().clone()]);
        let checked = roots
            .check(&[certificate.clone(), new.ca.intermediate().clone()], now())
            .unwrap();
        assert_eq!(checked.path.len(), 3);
        assert_eq!(checked.leaf(), &certificate);
        assert_eq!(checked.issuer(), new.ca.intermediate());
        assert_eq!(checked.common_name.as_deref(), Some("张三"));
        assert_eq!(checked.serial_number.as_deref(), Some("110101199003071234"));
    }

    #[test]
    fn another_root_an_incomplete_chain_or_no_roots_are_untrusted() {
        let (new, certificate) = personal_ca();
        let other = NewCa::generate("Other CA", Utc::now()).unwrap();
        let chain = [certificate.clone(), new.ca.intermediate().clone()];
        let refused = |roots: PersonalRoots, chain: &[Certificate]| roots.check(chain, now());
        assert!(matches!(
            refused(
                PersonalRoots::from_certificates(vec![other.ca.root().clone()]),
                &chain
            ),
            Err(CertificateRefusal::Untrusted(_))
        ));
        assert!(matches!(
            refused(
                PersonalRoots::from_certificates(vec![new.ca.root().clone()]),
                &chain[..1]
            ),
            Err(CertificateRefusal::Untrusted(_))
        ));
        assert!(matches!(
            refused(PersonalRoots::default(), &chain),
            Err(CertificateRefusal::Untrusted(_))
        ));
        assert!(matches!(
            refused(PersonalRoots::default(), &[]),
            Err(CertificateRefusal::Malformed(_))
        ));
    }

    #[test]
    fn a_certificate_outside_its_validity_or_a_ca_certificate_is_refused() {
        let (new, certificate) = personal_ca();
        let roots = PersonalRoots::from_certificates(vec![new.ca.root().clone()]);
        let chain = [certificate, new.ca.intermediate().clone()];
        let later = now() + Duration::from_secs(3600);
        assert_eq!(
            roots.check(&chain, later).unwrap_err(),
            CertificateRefusal::NotValidAt
        );
        let earlier = now() - Duration::from_secs(3600);
        assert_eq!(
            roots.check(&chain, earlier).unwrap_err(),
            CertificateRefusal::NotValidAt
        );
        assert!(matches!(
            roots.check(&[new.ca.intermediate().clone()], now()),
            Err(CertificateRefusal::KeyUsage(_))
        ));
    }

    #[test]
    fn a_crl_of_the_issuer_decides_revocation_and_any_other_leaves_it_unknown() {
        let (new, certificate) = personal_ca();
        let issuer = new.ca.intermediate().clone();
        let validity = Duration::from_secs(3600);
        let good = new.ca.intermediate_crl(&[], Utc::now(), validity).unwrap();
        check_crl(&good, &certificate, &issuer, now()).unwrap();

        let revoked = new
            .ca
            .intermediate_crl(&[revoked_now(&certificate)], Utc::now(), validity)
            .unwrap();
        assert!(matches!(
            check_crl(&revoked, &certificate, &issuer, now()),
            Err(CertificateRefusal::Revoked { .. })
        ));
        // Out of date, from another CA, or not a CRL: the status is unknown, never "good".
        let later = now() + Duration::from_secs(7200);
        assert!(matches!(
            check_crl(&good, &certificate, &issuer, later),
            Err(CertificateRefusal::RevocationUnknown(_))
        ));
        let other = NewCa::generate("Personal CA", Utc::now()).unwrap();
        let forged = other
            .ca
            .intermediate_crl(&[], Utc::now(), validity)
            .unwrap();
        assert!(matches!(
            check_crl(&forged, &certificate, &issuer, now()),
            Err(CertificateRefusal::RevocationUnknown(_))
        ));
        assert!(matches!(
            check_crl(b"not a CRL", &certificate, &issuer, now()),
            Err(CertificateRefusal::RevocationUnknown(_))
        ));
    }

    /// `certificate`, revoked now for key compromise.
    fn revoked_now(certificate: &Certificate) -> RevokedCertificate {
        RevokedCertificate {
            serial: aggregates::certificate_revocation::CertificateSerial::from_bytes(
                certificate.tbs_certificate().serial_number().as_bytes(),
            )
            .unwrap(),
            revoked_at: Utc::now(),
            reason: aggregates::certificate_revocation::RevocationReason::KeyCompromise,
        }
    }

    #[test]
    fn an_ocsp_answer_of_the_issuer_decides_revocation_and_any_other_leaves_it_unknown() {
        let (new, certificate) = personal_ca();
        let issuer = new.ca.intermediate().clone();
        let validity = Duration::from_secs(3600);
        let good = new
            .ca
            .ocsp_response_for(&certificate, &[], Utc::now(), validity)
            .unwrap();
        check_ocsp(&good, &certificate, &issuer, now()).unwrap();
        assert!(!ocsp_request(&certificate, &issuer).unwrap().is_empty());

        let revoked = new
            .ca
            .ocsp_response_for(
                &certificate,
                &[revoked_now(&certificate)],
                Utc::now(),
                validity,
            )
            .unwrap();
        assert!(matches!(
            check_ocsp(&revoked, &certificate, &issuer, now()),
            Err(CertificateRefusal::Revoked { .. })
        ));
        let later = now() + Duration::from_secs(7200);
        assert!(matches!(
            check_ocsp(&good, &certificate, &issuer, later),
            Err(CertificateRefusal::RevocationUnknown(_))
        ));
        // Signed by another CA of the same name, or about another certificate: unknown.
        let other = NewCa::generate("Personal CA", Utc::now()).unwrap();
        let forged = other
            .ca
            .ocsp_response_for(&certificate, &[], Utc::now(), validity)
            .unwrap();
        assert!(matches!(
            check_ocsp(&forged, &certificate, &issuer, now()),
            Err(CertificateRefusal::RevocationUnknown(_))
        ));
        let (_, another) = personal_ca();
        assert!(matches!(
            check_ocsp(&good, &another, &issuer, now()),
            Err(CertificateRefusal::RevocationUnknown(_))
        ));
        assert!(matches!(
            check_ocsp(
                &crate::trust::ocsp::status_only(ocsp::ResponseStatus::TryLater),
                &certificate,
                &issuer,
                now()
            ),
            Err(CertificateRefusal::RevocationUnknown(_))
        ));
    }

    #[test]
    fn a_certificate_without_distribution_points_names_no_crl() {
        let (_, certificate) = personal_ca();
        assert!(crl_urls(&certificate).unwrap().is_empty());
        assert!(ocsp_urls(&certificate).unwrap().is_empty());
    }
}
