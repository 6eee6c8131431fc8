//! Where relying parties find the CA's revocation status, and the certificate extensions that say
//! so: a CRL distribution point and, for certificates of the intermediate, an Authority Information
//! Access naming the OCSP responder and the issuer's certificate. All URLs hang off
//! `[server] public_base_url`, where the service answers them (`http::ca`).

use der::asn1::Ia5String;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::crl::CrlDistributionPoints;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax};

use super::CaError;
use super::x509::extension;
use crate::trust::oid;

/// The routes under the public base URL (the HTTP edge serves these paths).
pub const INTERMEDIATE_CRL_PATH: &str = "/ca/intermediate.crl";
pub const ROOT_CRL_PATH: &str = "/ca/root.crl";
pub const INTERMEDIATE_CERTIFICATE_PATH: &str = "/ca/intermediate.crt";
pub const OCSP_PATH: &str = "/ca/ocsp";

/// The public URLs of the CA's revocation status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    base: String,
}

impl Publication {
    /// The URLs under `public_base_url`; `None` for an empty one.
    pub fn new(public_base_url: &str) -> Option<Self> {
        let base = public_base_url.trim().trim_end_matches('/');
        (!base.is_empty()).then(|| Self {
            base: base.to_owned(),
        })
    }

    pub fn intermediate_crl(&self) -> String {
        format!("{}{INTERMEDIATE_CRL_PATH}", self.base)
    }

    pub fn root_crl(&self) -> String {
        format!("{}{ROOT_CRL_PATH}", self.base)
    }

    pub fn ocsp(&self) -> String {
        format!("{}{OCSP_PATH}", self.base)
    }

    pub fn intermediate_certificate(&self) -> String {
        format!("{}{INTERMEDIATE_CERTIFICATE_PATH}", self.base)
    }

    /// What a certificate of the intermediate carries: the intermediate's CRL, its OCSP responder
    /// and where the intermediate's certificate is.
    pub(super) fn end_entity_extensions(&self) -> Result<Vec<Extension>, CaError> {
        Ok(vec![
            crl_distribution_point(&self.intermediate_crl())?,
            extension(
                oid::AUTHORITY_INFO_ACCESS,
                false,
                &AuthorityInfoAccessSyntax(vec![
                    AccessDescription {
                        access_method: oid::AD_OCSP,
                        access_location: uri(&self.ocsp())?,
                    },
                    AccessDescription {
                        access_method: oid::AD_CA_ISSUERS,
                        access_location: uri(&self.intermediate_certificate())?,
                    },
                ]),
            )?,
        ])
    }

    /// What the intermediate carries: the root's CRL. The root is offline, so it has no OCSP
    /// responder.
    pub(super) fn intermediate_extensions(&self) -> Result<Vec<Extension>, CaError> {
        Ok(vec![crl_distribution_point(&self.root_crl())?])
    }
}

fn uri(url: &str) -> Result<GeneralName, CaError> {
    Ok(GeneralName::UniformResourceIdentifier(Ia5String::new(url)?))
}

fn crl_distribution_point(url: &str) -> Result<Extension, CaError> {
    extension(
        oid::CRL_DISTRIBUTION_POINTS,
        false,
        &CrlDistributionPoints(vec![DistributionPoint {
            distribution_point: Some(DistributionPointName::FullName(vec![uri(url)?])),
            reasons: None,
            crl_issuer: None,
        }]),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;
    use der::Decode;
    use x509_cert::Certificate;
    use x509_cert::ext::pkix::AuthorityInfoAccessSyntax;

    use super::*;
    use crate::trust::ca::{Ca, NewCa, init};
    use crate::trust::config::TrustSettings;

    fn crl_url(certificate: &Certificate) -> Option<String> {
        let (_, points) = certificate
            .tbs_certificate()
            .get_extension::<CrlDistributionPoints>()
            .unwrap()?;
        let Some(DistributionPointName::FullName(names)) = &points.0[0].distribution_point else {
            panic!("{points:?}");
        };
        let GeneralName::UniformResourceIdentifier(url) = &names[0] else {
            panic!("{names:?}");
        };
        Some(url.to_string())
    }

    fn ocsp_url(certificate: &Certificate) -> Option<String> {
        let (_, access) = certificate
            .tbs_certificate()
            .get_extension::<AuthorityInfoAccessSyntax>()
            .unwrap()?;
        access
            .0
            .iter()
            .find(|description| description.access_method == oid::AD_OCSP)
            .map(|description| match &description.access_location {
                GeneralName::UniformResourceIdentifier(url) => url.to_string(),
                other => panic!("{other:?}"),
            })
    }

    fn event_certificate(ca: &Ca) -> Certificate {
        let issued = ca
            .issue_event_certificate("张三", "1101", Utc::now(), Duration::from_secs(60))
            .unwrap();
        Certificate::from_der(&issued.certificate_der).unwrap()
    }

    #[test]
    fn certificates_of_a_published_ca_name_its_crls_and_responder() {
        let publication = Publication::new("https://esign.example/").unwrap();
        let new = NewCa::generate_published("esign", Some(publication), Utc::now()).unwrap();
        let ca = &new.ca;
        assert_eq!(
            crl_url(ca.intermediate()).as_deref(),
            Some("https://esign.example/ca/root.crl")
        );
        assert_eq!(ocsp_url(ca.intermediate()), None);
        for certificate in [
            &event_certificate(ca),
            &ca.tsa().certificate,
            &ca.seal().certificate,
        ] {
            assert_eq!(
                crl_url(certificate).as_deref(),
                Some("https://esign.example/ca/intermediate.crl")
            );
            assert_eq!(
                ocsp_url(certificate).as_deref(),
                Some("https://esign.example/ca/ocsp")
            );
        }
        assert_eq!(crl_url(ca.root()), None);
    }

    #[test]
    fn a_ca_without_a_public_address_names_none_and_opening_adds_the_configured_one() {
        let new = NewCa::generate("esign", Utc::now()).unwrap();
        assert_eq!(crl_url(&event_certificate(&new.ca)), None);
        assert_eq!(crl_url(new.ca.intermediate()), None);
        assert!(Publication::new(" ").is_none());

        // A directory made without URLs (as before this existed) opens, and the event
        // certificates issued from then on name the configured address.
        let data = tempfile::tempdir().unwrap();
        let mut settings = TrustSettings::development(data.path());
        init(&settings, false).unwrap();
        settings.public_base_url = Some("http://127.0.0.1:8080".into());
        let ca = Ca::open(&settings).unwrap().unwrap();
        assert_eq!(crl_url(ca.intermediate()), None);
        assert_eq!(
            ocsp_url(&event_certificate(&ca)).as_deref(),
            Some("http://127.0.0.1:8080/ca/ocsp")
        );
    }
}
