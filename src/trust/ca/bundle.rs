//! An operator's CA handed over as one PKCS#12 bundle: its keys and certificates sorted into the
//! CA's pieces by what each certificate is, with nothing in the file left unused.

use der::asn1::ObjectIdentifier;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage};

use super::open::Parts;
use super::x509::public_key_of;
use crate::trust::keys::SigningKey;
use crate::trust::oid;

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
pub(super) fn parts_of_bundle(bundle: crate::trust::pkcs12::Bundle) -> Result<Parts, String> {
    let mut certificates: Vec<crate::trust::pkcs12::BundleCertificate> = Vec::new();
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::Utc;

    use super::*;
    use crate::trust::ca::{Ca, CaError, NewCa};
    use crate::trust::config::TrustSettings;

    fn bundle_config(data: &Path, file: &[u8]) -> TrustSettings {
        let mut settings = TrustSettings::development(data);
        let path = data.join("ca.p12");
        std::fs::write(&path, file).unwrap();
        settings.config.pkcs12 = Some(path);
        settings.config.pkcs12_password = Some("pw".into());
        settings
    }

    #[test]
    fn a_bundle_with_tsa_and_seal_keys_is_used_as_it_is() {
        use crate::trust::pkcs12::unencrypted_bundle;
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
        use crate::trust::pkcs12::unencrypted_bundle;
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
