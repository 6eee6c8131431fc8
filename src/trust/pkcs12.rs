//! PKCS#12 bundles (RFC 7292), read only: the private keys and X.509 certificates an operator
//! hands over as one password-protected file (`[trust] pkcs12`).
//!
//! What is read: the MAC over the contents (HMAC with SHA-1 or SHA-2, its key from the password
//! by the PKCS#12 key derivation of RFC 7292 appendix B), plain and encrypted contents, key bags
//! and shrouded key bags (PKCS#8) and X.509 certificate bags, with their friendly names.
//! Encryption is PBES2 (RFC 8018; PBKDF2 with HMAC-SHA-2 and AES-CBC), what `openssl pkcs12
//! -export` writes since OpenSSL 3. The legacy PKCS#12 schemes (3DES, RC2, RC4 keyed by SHA-1) are
//! refused with a message saying how to re-export. Other bags (CRLs, secrets, nested contents)
//! are skipped: they hold nothing a CA needs.

use cms::content_info::ContentInfo;
use cms::encrypted_data::EncryptedData;
use der::asn1::{Any, BmpString, ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, Encode, Sequence};
use ring::{digest, hmac};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;

mod oid {
    use der::asn1::ObjectIdentifier as Oid;

    pub const DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
    pub const ENCRYPTED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.6");
    pub const KEY_BAG: Oid = Oid::new_unwrap("1.2.840.113549.1.12.10.1.1");
    pub const SHROUDED_KEY_BAG: Oid = Oid::new_unwrap("1.2.840.113549.1.12.10.1.2");
    pub const CERT_BAG: Oid = Oid::new_unwrap("1.2.840.113549.1.12.10.1.3");
    pub const X509_CERTIFICATE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.22.1");
    pub const FRIENDLY_NAME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.20");
    /// The arc of the PKCS#12 password-based encryption schemes (pbeWithSHAAnd3-KeyTripleDES-CBC
    /// and the RC2/RC4 ones).
    pub const LEGACY_PBE: Oid = Oid::new_unwrap("1.2.840.113549.1.12.1");
    pub const PBES2: Oid = Oid::new_unwrap("1.2.840.113549.1.5.13");
    pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
}

/// More MAC iterations than anyone uses (OpenSSL writes 2048): a bound on the work a file asks for.
const MAX_MAC_ITERATIONS: u32 = 10_000_000;
/// RFC 7292 B.3: the diversifier that derives a MAC key.
const MAC_KEY_ID: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum Pkcs12Error {
    #[error("not a PKCS#12 file ({0})")]
    Malformed(String),
    #[error("the password is wrong or the file is damaged: its MAC does not verify")]
    WrongPassword,
    #[error(
        "the bundle has no MAC (made with -nomac?), so its integrity cannot be checked; export it with one"
    )]
    NoMac,
    #[error(
        "the bundle is encrypted with a legacy PKCS#12 scheme (3DES/RC2 keyed by SHA-1, {0}); \
         re-export it with OpenSSL 3's default PBES2 with AES-256-CBC (openssl pkcs12 -export without -legacy)"
    )]
    LegacyEncryption(ObjectIdentifier),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("cannot decrypt the {part} (wrong password?): {reason}")]
    Decrypt { part: &'static str, reason: String },
}

impl From<der::Error> for Pkcs12Error {
    fn from(error: der::Error) -> Self {
        Self::Malformed(error.to_string())
    }
}

/// The keys and certificates of a bundle, in file order.
#[derive(Debug, Default)]
pub struct Bundle {
    pub keys: Vec<BundleKey>,
    pub certificates: Vec<BundleCertificate>,
}

/// A private key as the bundle holds it: a PKCS#8 document (DER), whatever its algorithm.
pub struct BundleKey {
    pub friendly_name: Option<String>,
    pub pkcs8: Vec<u8>,
}

impl std::fmt::Debug for BundleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleKey")
            .field("friendly_name", &self.friendly_name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct BundleCertificate {
    pub friendly_name: Option<String>,
    pub certificate: Certificate,
}

/// Checks the MAC with `password` and reads every key and certificate of a DER PKCS#12 file.
pub fn read(file: &[u8], password: &str) -> Result<Bundle, Pkcs12Error> {
    let pfx = Pfx::from_der(file)?;
    if pfx.version != 3 {
        return Err(Pkcs12Error::Malformed(format!(
            "version {}, not 3",
            pfx.version
        )));
    }
    if pfx.auth_safe.content_type != oid::DATA {
        return Err(Pkcs12Error::Unsupported(format!(
            "contents of type {} (public-key integrity mode)",
            pfx.auth_safe.content_type
        )));
    }
    let contents = pfx.auth_safe.content.decode_as::<OctetString>()?;
    let mac = pfx.mac_data.ok_or(Pkcs12Error::NoMac)?;
    verify_mac(&mac, password, contents.as_bytes())?;

    let mut bundle = Bundle::default();
    for part in Vec::<ContentInfo>::from_der(contents.as_bytes())? {
        let bags = if part.content_type == oid::DATA {
            Vec::<SafeBag>::from_der(part.content.decode_as::<OctetString>()?.as_bytes())?
        } else if part.content_type == oid::ENCRYPTED_DATA {
            let encrypted = part.content.decode_as::<EncryptedData>()?.enc_content_info;
            let ciphertext = encrypted.encrypted_content.ok_or_else(|| {
                Pkcs12Error::Malformed("encrypted contents without ciphertext".into())
            })?;
            let plain = decrypt(
                "certificates",
                &encrypted.content_enc_alg,
                ciphertext.as_bytes(),
                password,
            )?;
            Vec::<SafeBag>::from_der(&plain)?
        } else {
            return Err(Pkcs12Error::Unsupported(format!(
                "contents of type {} (public-key privacy mode)",
                part.content_type
            )));
        };
        for bag in bags {
            read_bag(bag, password, &mut bundle)?;
        }
    }
    Ok(bundle)
}

fn read_bag(bag: SafeBag, password: &str, bundle: &mut Bundle) -> Result<(), Pkcs12Error> {
    let friendly_name = friendly_name(bag.bag_attributes.as_ref())?;
    if bag.bag_id == oid::KEY_BAG {
        bundle.keys.push(BundleKey {
            friendly_name,
            pkcs8: bag.bag_value.to_der()?,
        });
    } else if bag.bag_id == oid::SHROUDED_KEY_BAG {
        let shrouded = bag.bag_value.decode_as::<EncryptedPrivateKeyInfo>()?;
        bundle.keys.push(BundleKey {
            friendly_name,
            pkcs8: decrypt(
                "private key",
                &shrouded.encryption_algorithm,
                shrouded.encrypted_data.as_bytes(),
                password,
            )?,
        });
    } else if bag.bag_id == oid::CERT_BAG {
        let cert_bag = bag.bag_value.decode_as::<CertBag>()?;
        if cert_bag.cert_id == oid::X509_CERTIFICATE {
            bundle.certificates.push(BundleCertificate {
                friendly_name,
                certificate: Certificate::from_der(cert_bag.cert_value.as_bytes())?,
            });
        }
    }
    Ok(())
}

fn friendly_name(attributes: Option<&SetOfVec<Attribute>>) -> Result<Option<String>, der::Error> {
    let Some(value) = attributes
        .into_iter()
        .flat_map(|attributes| attributes.iter())
        .find(|attribute| attribute.oid == oid::FRIENDLY_NAME)
        .and_then(|attribute| attribute.values.iter().next())
    else {
        return Ok(None);
    };
    Ok(Some(value.decode_as::<BmpString>()?.to_string()))
}

fn decrypt(
    part: &'static str,
    algorithm: &AlgorithmIdentifierOwned,
    ciphertext: &[u8],
    password: &str,
) -> Result<Vec<u8>, Pkcs12Error> {
    if algorithm.oid.parent() == Some(oid::LEGACY_PBE) {
        return Err(Pkcs12Error::LegacyEncryption(algorithm.oid));
    }
    if algorithm.oid != oid::PBES2 {
        return Err(Pkcs12Error::Unsupported(format!(
            "the {part} are encrypted with {}, not PBES2",
            algorithm.oid
        )));
    }
    let scheme = pkcs5::EncryptionScheme::from_der(&algorithm.to_der()?)
        .map_err(|e| Pkcs12Error::Unsupported(format!("the {part}' PBES2 parameters: {e}")))?;
    // PBES2 keys come from the password's bytes as given (UTF-8), unlike the MAC key below.
    scheme
        .decrypt(password.as_bytes(), ciphertext)
        .map_err(|e| Pkcs12Error::Decrypt {
            part,
            reason: e.to_string(),
        })
}

fn verify_mac(mac: &MacData, password: &str, contents: &[u8]) -> Result<(), Pkcs12Error> {
    let (digest, algorithm) = match mac.mac.algorithm.oid {
        oid::SHA1 => (
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        ),
        oid::SHA256 => (&digest::SHA256, hmac::HMAC_SHA256),
        oid::SHA384 => (&digest::SHA384, hmac::HMAC_SHA384),
        oid::SHA512 => (&digest::SHA512, hmac::HMAC_SHA512),
        other => {
            return Err(Pkcs12Error::Unsupported(format!(
                "a MAC with digest {other} (PBMAC1?)"
            )));
        }
    };
    if mac.iterations == 0 || mac.iterations > MAX_MAC_ITERATIONS {
        return Err(Pkcs12Error::Unsupported(format!(
            "{} MAC iterations",
            mac.iterations
        )));
    }
    // The MAC key comes from the password as a BMPString with its terminating zero. An empty
    // password may also have been taken as no password at all (no bytes): OpenSSL tries both.
    let mut candidates = vec![bmp_password(password)];
    if password.is_empty() {
        candidates.push(Vec::new());
    }
    let verified = candidates.iter().any(|candidate| {
        let key = mac_key(digest, mac.mac_salt.as_bytes(), candidate, mac.iterations);
        hmac::verify(
            &hmac::Key::new(algorithm, &key),
            contents,
            mac.mac.digest.as_bytes(),
        )
        .is_ok()
    });
    if verified {
        Ok(())
    } else {
        Err(Pkcs12Error::WrongPassword)
    }
}

/// The password as RFC 7292 B.1 wants it: UTF-16 big-endian with a terminating zero.
fn bmp_password(password: &str) -> Vec<u8> {
    password
        .encode_utf16()
        .chain([0])
        .flat_map(u16::to_be_bytes)
        .collect()
}

/// RFC 7292 B.2 for a MAC key, which is exactly one digest long, so only the first block
/// `A_1 = H^r(D || S || P)` is ever needed.
fn mac_key(
    digest: &'static digest::Algorithm,
    salt: &[u8],
    password: &[u8],
    iterations: u32,
) -> Vec<u8> {
    let block = digest.block_len();
    // S and P: each repeated to a whole number of blocks (none when empty).
    let repeated = |bytes: &[u8]| -> Vec<u8> {
        bytes
            .iter()
            .copied()
            .cycle()
            .take(bytes.len().div_ceil(block) * block)
            .collect()
    };
    let mut input = vec![MAC_KEY_ID; block];
    input.extend(repeated(salt));
    input.extend(repeated(password));
    let mut key = digest::digest(digest, &input).as_ref().to_vec();
    for _ in 1..iterations {
        key = digest::digest(digest, &key).as_ref().to_vec();
    }
    key
}

/// `PFX ::= SEQUENCE { version INTEGER {v3(3)}, authSafe ContentInfo, macData MacData OPTIONAL }`
#[derive(Sequence)]
struct Pfx {
    version: u8,
    auth_safe: ContentInfo,
    mac_data: Option<MacData>,
}

#[derive(Sequence)]
struct MacData {
    mac: DigestInfo,
    mac_salt: OctetString,
    #[asn1(default = "one_iteration")]
    iterations: u32,
}

fn one_iteration() -> u32 {
    1
}

#[derive(Sequence)]
struct DigestInfo {
    algorithm: AlgorithmIdentifierOwned,
    digest: OctetString,
}

#[derive(Sequence)]
struct SafeBag {
    bag_id: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    bag_value: Any,
    bag_attributes: Option<SetOfVec<Attribute>>,
}

#[derive(Sequence)]
struct CertBag {
    cert_id: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    cert_value: OctetString,
}

#[derive(Sequence)]
struct EncryptedPrivateKeyInfo {
    encryption_algorithm: AlgorithmIdentifierOwned,
    encrypted_data: OctetString,
}

/// A bundle as tests need one: every key in a plain key bag, nothing encrypted, a SHA-256 MAC.
/// Lets tests hold several keys, which `openssl pkcs12 -export` cannot write.
#[cfg(test)]
pub(crate) fn unencrypted_bundle(
    keys: &[(Option<&str>, &[u8])],
    certificates: &[(Option<&str>, &[u8])],
    password: &str,
) -> Vec<u8> {
    fn bag(id: ObjectIdentifier, value: Any, name: Option<&str>) -> SafeBag {
        let bag_attributes = name.map(|name| {
            let value = Any::encode_from(&BmpString::from_utf8(name).unwrap()).unwrap();
            SetOfVec::try_from(vec![Attribute {
                oid: oid::FRIENDLY_NAME,
                values: SetOfVec::try_from(vec![value]).unwrap(),
            }])
            .unwrap()
        });
        SafeBag {
            bag_id: id,
            bag_value: value,
            bag_attributes,
        }
    }
    let mut bags: Vec<SafeBag> = keys
        .iter()
        .map(|(name, pkcs8)| bag(oid::KEY_BAG, Any::from_der(pkcs8).unwrap(), *name))
        .collect();
    for (name, der) in certificates {
        let cert_bag = CertBag {
            cert_id: oid::X509_CERTIFICATE,
            cert_value: OctetString::new(*der).unwrap(),
        };
        bags.push(bag(
            oid::CERT_BAG,
            Any::encode_from(&cert_bag).unwrap(),
            *name,
        ));
    }
    let data = |der: Vec<u8>| ContentInfo {
        content_type: oid::DATA,
        content: Any::encode_from(&OctetString::new(der).unwrap()).unwrap(),
    };
    let contents = vec![data(bags.to_der().unwrap())].to_der().unwrap();
    let salt = [7u8; 8];
    let key = mac_key(&digest::SHA256, &salt, &bmp_password(password), 2048);
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), &contents);
    Pfx {
        version: 3,
        auth_safe: data(contents),
        mac_data: Some(MacData {
            mac: DigestInfo {
                algorithm: AlgorithmIdentifierOwned {
                    oid: oid::SHA256,
                    parameters: Some(Any::null()),
                },
                digest: OctetString::new(tag.as_ref()).unwrap(),
            },
            mac_salt: OctetString::new(salt).unwrap(),
            iterations: 2048,
        }),
    }
    .to_der()
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from OpenSSL's own PKCS#12 key derivation, given the password "secret" already as
    /// a BMPString: `openssl kdf -keylen N -kdfopt digest:D -kdfopt
    /// hexpass:0073006500630072006500740000 -kdfopt hexsalt:0102030405060708 -kdfopt iter:2048
    /// -kdfopt id:3 PKCS12KDF`.
    #[test]
    fn the_mac_key_matches_openssl_pkcs12_kdf() {
        let salt = [1, 2, 3, 4, 5, 6, 7, 8];
        let password = bmp_password("secret");
        for (digest, expected) in [
            (
                &digest::SHA256,
                "f5482fd03f702689b4e96cbbea867c6b16e5bda934929f2ecaf4da9e1c67be8f",
            ),
            (
                &digest::SHA1_FOR_LEGACY_USE_ONLY,
                "70e5ae6ce6b079c69e3bcf267fb13ebabdcfdac9",
            ),
            (
                &digest::SHA512,
                "cd608fb6e3347eecd3ecab09d1e3b1e1a762bb2242ec3eca51807fbaca50423c\
                 cea23799aa66eda021fb99a46c2612dc3eb4d248dd52d936ebb429b7b78c89f5",
            ),
        ] {
            assert_eq!(
                hex::encode(mac_key(digest, &salt, &password, 2048)),
                expected
            );
        }
    }

    #[test]
    fn the_mac_password_is_utf16_with_a_terminating_zero() {
        assert_eq!(bmp_password(""), vec![0, 0]);
        assert_eq!(bmp_password("aé"), vec![0, b'a', 0, 0xe9, 0, 0]);
    }

    #[test]
    fn a_bundle_gives_its_keys_and_certificates_with_their_names_once_the_mac_verifies() {
        let new = super::super::ca::NewCa::generate("esign", chrono::Utc::now()).unwrap();
        let key = new.ca.intermediate_key().pkcs8_der();
        let intermediate = new.ca.intermediate().to_der().unwrap();
        let file = unencrypted_bundle(
            &[(Some("intermediate"), key)],
            &[(Some("中间 CA"), &intermediate), (None, new.ca.root_der())],
            "s3cret",
        );
        let bundle = read(&file, "s3cret").unwrap();
        assert_eq!(bundle.keys.len(), 1);
        assert_eq!(
            bundle.keys[0].friendly_name.as_deref(),
            Some("intermediate")
        );
        assert_eq!(bundle.keys[0].pkcs8, key);
        assert_eq!(bundle.certificates.len(), 2);
        assert_eq!(
            bundle.certificates[0].friendly_name.as_deref(),
            Some("中间 CA")
        );
        assert_eq!(&bundle.certificates[0].certificate, new.ca.intermediate());
        assert_eq!(bundle.certificates[1].friendly_name, None);
        assert!(!format!("{bundle:?}").contains(&hex::encode(key)));

        assert!(matches!(
            read(&file, "S3cret"),
            Err(Pkcs12Error::WrongPassword)
        ));
        assert!(matches!(read(&file, ""), Err(Pkcs12Error::WrongPassword)));
        assert!(matches!(
            read(b"not a bundle", "s3cret"),
            Err(Pkcs12Error::Malformed(_))
        ));
        // A changed byte anywhere in the contents fails the MAC.
        let mut damaged = file.clone();
        let middle = damaged.len() / 2;
        damaged[middle] ^= 1;
        assert!(read(&damaged, "s3cret").is_err());
    }

    #[test]
    fn an_empty_password_opens_a_bundle_made_with_one() {
        let new = super::super::ca::NewCa::generate("esign", chrono::Utc::now()).unwrap();
        let file = unencrypted_bundle(&[], &[(None, new.ca.root_der())], "");
        assert_eq!(read(&file, "").unwrap().certificates.len(), 1);
        assert!(matches!(read(&file, "x"), Err(Pkcs12Error::WrongPassword)));
    }

    #[test]
    fn a_bundle_without_a_mac_is_refused() {
        let new = super::super::ca::NewCa::generate("esign", chrono::Utc::now()).unwrap();
        let file = unencrypted_bundle(&[], &[(None, new.ca.root_der())], "");
        let mut pfx = Pfx::from_der(&file).unwrap();
        pfx.mac_data = None;
        assert!(matches!(
            read(&pfx.to_der().unwrap(), ""),
            Err(Pkcs12Error::NoMac)
        ));
    }
}
