//! Certificate revocation lists (RFC 5280 section 5): the intermediate's, made on demand from the
//! revocations esign recorded, and the root's, signed only where the root key is (`esign ca init`,
//! `esign ca root-crl`) and kept as a file the service serves as it is.
//!
//! Both are v2 CRLs signed ecdsa-with-SHA256, with an authority key identifier (the issuer's
//! subject key identifier as its certificate states it, so relying parties match CRL and issuer)
//! and a CRL number. Entries carry the revocation date and, unless it is `unspecified`, the reason
//! code (RFC 5280 5.3.1: the extension is left out rather than saying unspecified).

use std::path::PathBuf;
use std::time::Duration;

use aggregates::certificate_revocation::{CertificateSerial, RevocationReason};
use chrono::{DateTime, Utc};
use der::asn1::{BitString, OctetString};
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::certificate::Rfc5280;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::crl::CrlNumber;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlReason};
use x509_cert::serial_number::SerialNumber;

use super::files::{CaFiles, key_encryption_key, read_certificate, read_key, trust_dir};
use super::x509::{certificate_time, ecdsa_with_sha256, extension, key_id_of, public_key_of};
use super::{Ca, CaError};
use crate::trust::config::TrustSettings;
use crate::trust::keys::SigningKey;
use crate::trust::{oid, unix_seconds};

/// How long the root's CRL is valid. The root key is offline, so its CRL is signed rarely: run
/// `esign ca root-crl` where the root key is kept before a year has passed.
pub const ROOT_CRL_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// One revoked certificate, as a CRL entry or an OCSP answer states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedCertificate {
    pub serial: CertificateSerial,
    pub revoked_at: DateTime<Utc>,
    pub reason: RevocationReason,
}

impl Ca {
    /// The intermediate's CRL (DER), listing `revoked`: thisUpdate `now`, nextUpdate
    /// `now + validity`, signed with the intermediate key.
    pub fn intermediate_crl(
        &self,
        revoked: &[RevokedCertificate],
        now: DateTime<Utc>,
        validity: Duration,
    ) -> Result<Vec<u8>, CaError> {
        build_crl(
            &self.intermediate.certificate,
            &self.intermediate.key,
            revoked,
            now,
            validity,
        )
    }
}

/// The root's CRL (DER), listing no certificate (esign revokes only what the intermediate
/// issued), signed with the root key.
pub(super) fn root_crl(
    root: &Certificate,
    root_key: &SigningKey,
    now: DateTime<Utc>,
    validity: Duration,
) -> Result<Vec<u8>, CaError> {
    build_crl(root, root_key, &[], now, validity)
}

/// The CRL number: the seconds of thisUpdate, times 2^20, plus the number of entries. A CRL made
/// later has a higher number, and so does one made in the same second after another revocation,
/// which is what RFC 5280 5.2.3 asks of a number that is not kept anywhere.
pub fn crl_number(this_update: Duration, entries: usize) -> u64 {
    const ENTRY_BITS: u32 = 20;
    let entries = u64::try_from(entries)
        .unwrap_or(u64::MAX)
        .min((1 << ENTRY_BITS) - 1);
    (this_update.as_secs() << ENTRY_BITS) | entries
}

fn build_crl(
    issuer: &Certificate,
    issuer_key: &SigningKey,
    revoked: &[RevokedCertificate],
    now: DateTime<Utc>,
    validity: Duration,
) -> Result<Vec<u8>, CaError> {
    if public_key_of(issuer) != issuer_key.public_key() {
        return Err(CaError::Inconsistent(
            "the CRL signing key does not match its certificate".into(),
        ));
    }
    let this_update = unix_seconds(now)?;
    let entries = revoked
        .iter()
        .map(|entry| {
            let reason = crl_reason(entry.reason)
                .map(|reason| extension(oid::CRL_REASON, false, &reason))
                .transpose()?;
            Ok(RevokedCert {
                serial_number: SerialNumber::<Rfc5280>::new(&entry.serial.to_bytes())?,
                revocation_date: certificate_time(unix_seconds(entry.revoked_at)?)?,
                crl_entry_extensions: reason.map(|reason| vec![reason]),
            })
        })
        .collect::<Result<Vec<_>, CaError>>()?;
    let number = crl_number(this_update, entries.len());
    let tbs = TbsCertList::<Rfc5280> {
        version: x509_cert::Version::V2,
        signature: ecdsa_with_sha256(),
        issuer: issuer.tbs_certificate().subject().clone(),
        this_update: certificate_time(this_update)?,
        next_update: Some(certificate_time(this_update + validity)?),
        // RFC 5280 5.1.2.6: no entries, no (empty) list.
        revoked_certificates: (!entries.is_empty()).then_some(entries),
        crl_extensions: Some(vec![
            extension(
                oid::AUTHORITY_KEY_IDENTIFIER,
                false,
                &AuthorityKeyIdentifier {
                    key_identifier: Some(OctetString::new(key_id_of(issuer, issuer_key))?),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
            )?,
            extension(oid::CRL_NUMBER, false, &CrlNumber::try_from(number)?)?,
        ]),
    };
    let tbs_der = tbs.to_der()?;
    let signature = issuer_key.sign(&tbs_der)?;
    let list = CertificateList::<Rfc5280> {
        tbs_cert_list: TbsCertList::from_der(&tbs_der)?,
        signature_algorithm: ecdsa_with_sha256(),
        signature: BitString::from_bytes(&signature)?,
    };
    // DER has one encoding: the TBS parsed back encodes to the bytes that were signed.
    Ok(list.to_der()?)
}

/// The reason code a CRL entry or an OCSP answer states; none for `unspecified`.
pub(crate) fn crl_reason(reason: RevocationReason) -> Option<CrlReason> {
    match reason {
        RevocationReason::Unspecified => None,
        RevocationReason::KeyCompromise => Some(CrlReason::KeyCompromise),
        RevocationReason::AffiliationChanged => Some(CrlReason::AffiliationChanged),
        RevocationReason::Superseded => Some(CrlReason::Superseded),
        RevocationReason::CessationOfOperation => Some(CrlReason::CessationOfOperation),
    }
}

/// `esign ca root-crl`: signs a new root CRL with the root key of the CA directory and writes it
/// beside the certificates. Returns where.
pub fn issue_root_crl(settings: &TrustSettings) -> Result<PathBuf, CaError> {
    let trust = &settings.config;
    if trust.pkcs12.is_some() || trust.pem_files_set() {
        return Err(CaError::Incomplete(format!(
            "the CA is supplied by the operator: sign its root's CRL with the tools that hold the \
             root key and place it (DER) at {}",
            CaFiles::new(trust_dir(settings)).root_crl().display()
        )));
    }
    let files = CaFiles::new(trust_dir(settings));
    let key_path = files.root_key();
    if !key_path.exists() {
        return Err(CaError::NoRootKey(key_path));
    }
    let root = read_certificate(&files.root_cert())?;
    let kek = key_encryption_key(settings, true)?
        .ok_or(CaError::NoKeyInProduction("open the root key"))?;
    let root_key = read_key("root", &key_path, Some(&kek))?;
    let crl = root_crl(&root, &root_key, Utc::now(), ROOT_CRL_VALIDITY)?;
    super::files::write_binary_file(&files.root_crl(), &crl)?;
    Ok(files.root_crl())
}

/// The root CRL file of the CA directory, as `ca init` or `ca root-crl` wrote it; `None` when there
/// is none.
pub fn read_root_crl(settings: &TrustSettings) -> Result<Option<Vec<u8>>, CaError> {
    let path = CaFiles::new(trust_dir(settings)).root_crl();
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CaError::Read { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::ca::NewCa;
    use crate::trust::cms;
    use x509_cert::ext::pkix::crl::CrlNumber;

    fn revoked(serial: &str, reason: RevocationReason) -> RevokedCertificate {
        RevokedCertificate {
            serial: CertificateSerial::parse(serial).unwrap(),
            revoked_at: DateTime::parse_from_rfc3339("2025-06-01T10:00:00Z")
                .unwrap()
                .to_utc(),
            reason,
        }
    }

    fn extension_of<T: for<'a> Decode<'a>>(
        extensions: &[x509_cert::ext::Extension],
        id: der::asn1::ObjectIdentifier,
    ) -> Option<T> {
        extensions
            .iter()
            .find(|extension| extension.extn_id == id)
            .map(|extension| T::from_der(extension.extn_value.as_bytes()).unwrap())
    }

    #[test]
    fn the_intermediate_crl_lists_each_serial_with_date_and_reason_and_verifies() {
        let new = NewCa::generate("esign", Utc::now()).unwrap();
        let ca = &new.ca;
        let now = Utc::now();
        let der = ca
            .intermediate_crl(
                &[
                    revoked("C4010203", RevocationReason::KeyCompromise),
                    revoked("4A", RevocationReason::Unspecified),
                ],
                now,
                Duration::from_secs(24 * 3600),
            )
            .unwrap();
        let crl = CertificateList::<x509_cert::certificate::Rfc5280>::from_der(&der).unwrap();
        let tbs = &crl.tbs_cert_list;
        assert_eq!(tbs.version, x509_cert::Version::V2);
        assert_eq!(&tbs.issuer, ca.intermediate().tbs_certificate().subject());
        let this_update = tbs.this_update.to_unix_duration();
        let next_update = tbs.next_update.unwrap().to_unix_duration();
        assert_eq!(this_update.as_secs(), now.timestamp() as u64);
        assert_eq!(next_update - this_update, Duration::from_secs(24 * 3600));

        let entries = tbs.revoked_certificates.as_ref().unwrap();
        assert_eq!(entries.len(), 2);
        // The high bit of C4 needs a leading zero byte in DER; the number is the same.
        assert_eq!(entries[0].serial_number.as_bytes(), [0, 0xC4, 1, 2, 3]);
        assert_eq!(
            CertificateSerial::from_bytes(entries[0].serial_number.as_bytes())
                .unwrap()
                .as_str(),
            "C4010203"
        );
        let reason: CrlReason = extension_of(
            entries[0].crl_entry_extensions.as_ref().unwrap(),
            oid::CRL_REASON,
        )
        .unwrap();
        assert_eq!(reason, CrlReason::KeyCompromise);
        assert!(entries[1].crl_entry_extensions.is_none());

        let extensions = tbs.crl_extensions.as_ref().unwrap();
        let key_id: AuthorityKeyIdentifier =
            extension_of(extensions, oid::AUTHORITY_KEY_IDENTIFIER).unwrap();
        assert_eq!(
            key_id.key_identifier.unwrap().as_bytes(),
            key_id_of(ca.intermediate(), ca.intermediate_key())
        );
        let number: CrlNumber = extension_of(extensions, oid::CRL_NUMBER).unwrap();
        assert_eq!(
            number.0.as_bytes(),
            crl_number(this_update, 2)
                .to_be_bytes()
                .iter()
                .skip_while(|byte| **byte == 0)
                .copied()
                .collect::<Vec<_>>()
        );

        cms::verify_signature(
            ca.intermediate()
                .tbs_certificate()
                .subject_public_key_info(),
            &crl.signature_algorithm.oid,
            None,
            &tbs.to_der().unwrap(),
            crl.signature.raw_bytes(),
        )
        .unwrap();
    }

    #[test]
    fn a_crl_without_revocations_has_no_entry_list_and_the_root_signs_its_own() {
        let new = NewCa::generate("esign", Utc::now()).unwrap();
        let der = root_crl(new.ca.root(), &new.root_key, Utc::now(), ROOT_CRL_VALIDITY).unwrap();
        let crl = CertificateList::<x509_cert::certificate::Rfc5280>::from_der(&der).unwrap();
        assert!(crl.tbs_cert_list.revoked_certificates.is_none());
        assert_eq!(
            &crl.tbs_cert_list.issuer,
            new.ca.root().tbs_certificate().subject()
        );
        // Another key cannot sign for the root.
        assert!(
            root_crl(
                new.ca.root(),
                new.ca.intermediate_key(),
                Utc::now(),
                ROOT_CRL_VALIDITY
            )
            .is_err()
        );
    }

    #[test]
    fn ca_root_crl_needs_the_root_key_of_the_ca_directory() {
        let data = tempfile::tempdir().unwrap();
        let settings = TrustSettings::development(data.path());
        let files = crate::trust::ca::init(&settings, false).unwrap();
        let first = read_root_crl(&settings).unwrap().unwrap();
        assert_eq!(issue_root_crl(&settings).unwrap(), files.root_crl());
        let second = read_root_crl(&settings).unwrap().unwrap();
        assert_ne!(first, second);
        let root = read_certificate(&files.root_cert()).unwrap();
        let crl = CertificateList::<Rfc5280>::from_der(&second).unwrap();
        cms::verify_signature(
            root.tbs_certificate().subject_public_key_info(),
            &crl.signature_algorithm.oid,
            None,
            &crl.tbs_cert_list.to_der().unwrap(),
            crl.signature.raw_bytes(),
        )
        .unwrap();
        let validity = crl.tbs_cert_list.next_update.unwrap().to_unix_duration()
            - crl.tbs_cert_list.this_update.to_unix_duration();
        assert_eq!(validity, ROOT_CRL_VALIDITY);

        std::fs::remove_file(files.root_key()).unwrap();
        assert!(matches!(
            issue_root_crl(&settings),
            Err(CaError::NoRootKey(_))
        ));
        std::fs::remove_file(files.root_crl()).unwrap();
        assert_eq!(read_root_crl(&settings).unwrap(), None);
    }

    #[test]
    fn crl_numbers_grow_with_time_and_with_revocations_in_the_same_second() {
        let second = Duration::from_secs(1_750_000_000);
        assert!(crl_number(second, 3) > crl_number(second, 2));
        assert!(crl_number(second + Duration::from_secs(1), 0) > crl_number(second, 1_000_000));
    }
}
