//! CMS `SignedData` (RFC 5652): a builder for one signer with the signed attributes that
//! timestamp tokens (RFC 3161/5816) and CAdES/PAdES signatures need, and a verifier.
//!
//! Keys sign with ECDSA P-256 / SHA-256. The verifier also accepts ECDSA P-384 and RSA PKCS#1 v1.5
//! signers (external TSAs), verified through ring.

use std::time::Duration;

use ::cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use ::cms::content_info::{CmsVersion, ContentInfo};
use ::cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{Any, ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, Encode, Sequence, Tag};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectKeyIdentifier};
use x509_cert::serial_number::SerialNumber;

use super::keys::{KeyError, SigningKey};
use super::oid;

#[derive(Debug, thiserror::Error)]
pub enum CmsError {
    #[error("malformed CMS or certificate: {0}")]
    Der(#[from] der::Error),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{0}")]
    Invalid(String),
    #[error("unsupported algorithm {0}")]
    Unsupported(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the timestamp token's message imprint is not the SHA-256 of this signature value")]
    TimestampImprintMismatch,
}

fn invalid(reason: impl Into<String>) -> CmsError {
    CmsError::Invalid(reason.into())
}

/// RFC 5035 `SigningCertificateV2`.
#[derive(Clone, Debug, Sequence)]
pub struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    pub policies: Option<Vec<Any>>,
}

/// RFC 5035 `ESSCertIDv2`; `hash_algorithm` absent means SHA-256 (its DEFAULT).
#[derive(Clone, Debug, Sequence)]
pub struct EssCertIdV2 {
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// RFC 2634 `SigningCertificate` (the SHA-1 form older TSAs send).
#[derive(Clone, Debug, Sequence)]
pub struct SigningCertificate {
    pub certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    pub policies: Option<Vec<Any>>,
}

#[derive(Clone, Debug, Sequence)]
pub struct EssCertId {
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

#[derive(Clone, Debug, Sequence)]
pub struct IssuerSerial {
    pub issuer: Vec<GeneralName>,
    pub serial_number: SerialNumber,
}

/// What makes a SignerInfo's signature over the DER of its signed attributes: a key held here
/// (the platform's, an event certificate's), or a signature the signer made elsewhere and handed
/// in (a personal certificate whose key stays in the signer's browser: [`Presigned`]).
pub trait SignatureSource: std::fmt::Debug + Sync {
    /// The SignerInfo's `signatureAlgorithm`.
    fn algorithm(&self) -> AlgorithmIdentifierOwned;
    /// The signature over `message`.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CmsError>;
}

impl SignatureSource for SigningKey {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        super::ca::ecdsa_with_sha256()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CmsError> {
        Ok(SigningKey::sign(self, message)?)
    }
}

/// A signature made outside the service over signed attributes the service handed out. It is
/// accepted for a message only when it verifies there with `certificate`'s public key, so a CMS
/// built with it is never one whose signature fails.
#[derive(Debug, Clone)]
pub struct Presigned {
    pub certificate: Certificate,
    pub signature: Vec<u8>,
}

impl SignatureSource for Presigned {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        // The algorithm follows from the key: only keys `signature_algorithm_for` names get here.
        signature_algorithm_for(&self.certificate)
            .unwrap_or_else(|_| super::ca::ecdsa_with_sha256())
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CmsError> {
        let algorithm = signature_algorithm_for(&self.certificate)?;
        verify_signature(
            self.certificate.tbs_certificate().subject_public_key_info(),
            &algorithm.oid,
            None,
            message,
            &self.signature,
        )?;
        Ok(self.signature.clone())
    }
}

/// How a signer holding `certificate`'s key signs with SHA-256: sha256WithRSAEncryption for an RSA
/// key, ecdsa-with-SHA256 for a P-256 key; other keys are not supported.
pub fn signature_algorithm_for(
    certificate: &Certificate,
) -> Result<AlgorithmIdentifierOwned, CmsError> {
    let key = certificate.tbs_certificate().subject_public_key_info();
    if key.algorithm.oid == oid::RSA_ENCRYPTION {
        // RFC 4055 section 5: the parameters of sha256WithRSAEncryption are NULL.
        return Ok(AlgorithmIdentifierOwned {
            oid: oid::SHA256_WITH_RSA,
            parameters: Some(Any::from(der::asn1::Null)),
        });
    }
    if key.algorithm.oid == oid::EC_PUBLIC_KEY {
        let curve: ObjectIdentifier = key
            .algorithm
            .parameters
            .as_ref()
            .ok_or_else(|| invalid("an EC key without a named curve"))?
            .decode_as()?;
        if curve == oid::SECP256R1 {
            return Ok(super::ca::ecdsa_with_sha256());
        }
        return Err(CmsError::Unsupported(format!("EC curve {curve}")));
    }
    Err(CmsError::Unsupported(format!("key {}", key.algorithm.oid)))
}

/// One signer's certificate and what signs for it.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    pub certificate: &'a Certificate,
    pub key: &'a dyn SignatureSource,
}

/// Builds a `ContentInfo` holding `SignedData` with one signer. Signed attributes: content-type,
/// message-digest, signing-certificate-v2 (SHA-256 of the signer's certificate, with issuer and
/// serial), signing-time when given, plus any extra ones.
#[derive(Debug)]
pub struct SignedDataBuilder<'a> {
    content_type: ObjectIdentifier,
    content: &'a [u8],
    /// The SHA-256 of the content, when the caller hashed it (a detached signature over a large
    /// document need not hold it in memory).
    digest: Option<[u8; 32]>,
    detached: bool,
    signer: Signer<'a>,
    certificates: Vec<Certificate>,
    signing_time: Option<Duration>,
    extra_signed: Vec<Attribute>,
    unsigned: Vec<Attribute>,
}

impl<'a> SignedDataBuilder<'a> {
    /// `content` of type `content_type`, encapsulated unless [`Self::detached`].
    pub fn new(content_type: ObjectIdentifier, content: &'a [u8], signer: Signer<'a>) -> Self {
        Self {
            content_type,
            content,
            digest: None,
            detached: false,
            signer,
            certificates: Vec::new(),
            signing_time: None,
            extra_signed: Vec::new(),
            unsigned: Vec::new(),
        }
    }

    /// A detached signature over content the caller hashed with SHA-256 (e.g. a PDF's byte range).
    pub fn detached_sha256(
        content_type: ObjectIdentifier,
        digest: [u8; 32],
        signer: Signer<'a>,
    ) -> Self {
        let mut builder = Self::new(content_type, &[], signer);
        builder.digest = Some(digest);
        builder.detached = true;
        builder
    }

    /// Leaves the content out (a detached signature, as PAdES `ETSI.CAdES.detached`).
    pub fn detached(mut self) -> Self {
        self.detached = true;
        self
    }

    /// Certificates to include (the signer's and its chain, as wanted).
    pub fn certificate(mut self, certificate: Certificate) -> Self {
        self.certificates.push(certificate);
        self
    }

    /// Adds a signing-time attribute (seconds since the Unix epoch).
    pub fn signing_time(mut self, since_epoch: Duration) -> Self {
        self.signing_time = Some(since_epoch);
        self
    }

    pub fn signed_attribute(mut self, attribute: Attribute) -> Self {
        self.extra_signed.push(attribute);
        self
    }

    /// An unsigned attribute (e.g. a signature timestamp token, id-aa-signatureTimeStampToken).
    pub fn unsigned_attribute(mut self, attribute: Attribute) -> Self {
        self.unsigned.push(attribute);
        self
    }

    /// The DER of the signed attributes as a SET OF: the bytes the signature covers (RFC 5652
    /// section 5.4). A signer whose key is elsewhere signs these.
    pub fn signed_attributes_der(&self) -> Result<Vec<u8>, CmsError> {
        Ok(self.signed_attributes()?.to_der()?)
    }

    fn signed_attributes(&self) -> Result<SetOfVec<Attribute>, CmsError> {
        let certificate = self.signer.certificate;
        let tbs = certificate.tbs_certificate();
        let mut signed = vec![
            attribute(oid::CONTENT_TYPE, &self.content_type)?,
            attribute(
                oid::MESSAGE_DIGEST,
                &OctetString::new(
                    self.digest
                        .unwrap_or_else(|| super::sha256(self.content))
                        .to_vec(),
                )?,
            )?,
            attribute(
                oid::SIGNING_CERTIFICATE_V2,
                &SigningCertificateV2 {
                    certs: vec![EssCertIdV2 {
                        hash_algorithm: None,
                        cert_hash: OctetString::new(
                            super::sha256(&certificate.to_der()?).to_vec(),
                        )?,
                        issuer_serial: Some(IssuerSerial {
                            issuer: vec![GeneralName::DirectoryName(tbs.issuer().clone())],
                            serial_number: tbs.serial_number().clone(),
                        }),
                    }],
                    policies: None,
                },
            )?,
        ];
        if let Some(time) = self.signing_time {
            signed.push(attribute(
                oid::SIGNING_TIME,
                &x509_cert::time::Time::UtcTime(der::asn1::UtcTime::from_unix_duration(time)?),
            )?);
        }
        signed.extend(self.extra_signed.iter().cloned());
        Ok(SetOfVec::try_from(signed)?)
    }

    /// The DER `ContentInfo`.
    pub fn build(self) -> Result<Vec<u8>, CmsError> {
        let tbs = self.signer.certificate.tbs_certificate();
        let signed = self.signed_attributes()?;
        // The signature covers the DER of the attributes as a SET OF (RFC 5652 section 5.4).
        let signature = self.signer.key.sign(&signed.to_der()?)?;
        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: tbs.issuer().clone(),
                serial_number: tbs.serial_number().clone(),
            }),
            digest_alg: sha256_algorithm(),
            signed_attrs: Some(signed),
            signature_algorithm: self.signer.key.algorithm(),
            signature: OctetString::new(signature)?,
            unsigned_attrs: if self.unsigned.is_empty() {
                None
            } else {
                Some(SetOfVec::try_from(self.unsigned)?)
            },
        };
        let certificates = if self.certificates.is_empty() {
            None
        } else {
            Some(CertificateSet::try_from(
                self.certificates
                    .into_iter()
                    .map(CertificateChoices::Certificate)
                    .collect::<Vec<_>>(),
            )?)
        };
        let signed_data = SignedData {
            // RFC 5652 section 5.1: version 3 when the content is not id-data.
            version: if self.content_type == oid::DATA {
                CmsVersion::V1
            } else {
                CmsVersion::V3
            },
            digest_algorithms: SetOfVec::try_from(vec![sha256_algorithm()])?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: self.content_type,
                econtent: if self.detached {
                    None
                } else {
                    Some(Any::new(Tag::OctetString, self.content.to_vec())?)
                },
            },
            certificates,
            crls: None,
            signer_infos: SignerInfos::try_from(vec![signer_info])?,
        };
        Ok(ContentInfo {
            content_type: oid::SIGNED_DATA,
            content: Any::encode_from(&signed_data)?,
        }
        .to_der()?)
    }
}

fn attribute(id: ObjectIdentifier, value: &impl Encode) -> Result<Attribute, CmsError> {
    Ok(Attribute {
        oid: id,
        values: SetOfVec::try_from(vec![Any::from_der(&value.to_der()?)?])?,
    })
}

pub(crate) fn sha256_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: oid::SHA256,
        parameters: None,
    }
}

/// The `SignedData` of a DER `ContentInfo` and its one signer.
fn single_signer(content_info_der: &[u8]) -> Result<(SignedData, SignerInfo), CmsError> {
    let content_info = ContentInfo::from_der(content_info_der)?;
    if content_info.content_type != oid::SIGNED_DATA {
        return Err(invalid("the content is not SignedData"));
    }
    let signed_data: SignedData = content_info.content.decode_as()?;
    let signer_info = match signed_data.signer_infos.0.as_slice() {
        [one] => one.clone(),
        [] => return Err(invalid("no signer")),
        _ => return Err(invalid("more than one signer is not supported")),
    };
    Ok((signed_data, signer_info))
}

/// The signature value of the single SignerInfo: what a signature timestamp (CAdES-T) stamps.
pub fn signature_value(content_info_der: &[u8]) -> Result<Vec<u8>, CmsError> {
    let (_, signer_info) = single_signer(content_info_der)?;
    Ok(signer_info.signature.as_bytes().to_vec())
}

/// Adds an RFC 3161 token (DER `ContentInfo`) to the single SignerInfo as the unsigned attribute
/// id-aa-signatureTimeStampToken (RFC 3161 appendix A, CAdES-T), re-encoding the `SignedData`.
/// The token must stamp the SHA-256 of the signature value; anything else is refused. The
/// token's own signature and trust are the caller's to check (see `tsa::verify_token`).
pub fn add_signature_timestamp(
    content_info_der: &[u8],
    token_der: &[u8],
) -> Result<Vec<u8>, CmsError> {
    let (mut signed_data, mut signer_info) = single_signer(content_info_der)?;
    let (token, _) = single_signer(token_der)?;
    if token.encap_content_info.econtent_type != oid::CT_TST_INFO {
        return Err(invalid("the token does not hold a TSTInfo"));
    }
    let tst_info: OctetString = token
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| invalid("the token has no TSTInfo"))?
        .decode_as()?;
    let tst_info = super::tsa::TstInfo::from_der(tst_info.as_bytes())?;
    let expected = super::sha256(signer_info.signature.as_bytes());
    let imprint = &tst_info.message_imprint;
    if imprint.hash_algorithm.oid != oid::SHA256
        || imprint.hashed_message.as_bytes() != expected.as_slice()
    {
        return Err(CmsError::TimestampImprintMismatch);
    }
    let timestamp = Attribute {
        oid: oid::SIGNATURE_TIME_STAMP_TOKEN,
        values: SetOfVec::try_from(vec![Any::from_der(token_der)?])?,
    };
    let mut unsigned: Vec<Attribute> = signer_info
        .unsigned_attrs
        .take()
        .map(|set| set.into_vec())
        .unwrap_or_default();
    unsigned.push(timestamp);
    signer_info.unsigned_attrs = Some(SetOfVec::try_from(unsigned)?);
    signed_data.signer_infos = SignerInfos::try_from(vec![signer_info])?;
    Ok(ContentInfo {
        content_type: oid::SIGNED_DATA,
        content: Any::encode_from(&signed_data)?,
    }
    .to_der()?)
}

/// What a verified `SignedData` says.
#[derive(Debug)]
pub struct VerifiedSignedData {
    pub content_type: ObjectIdentifier,
    /// The encapsulated content (absent for a detached signature).
    pub content: Option<Vec<u8>>,
    /// The signer's certificate (the signature verifies with its key).
    pub signer: Certificate,
    /// Every certificate the `SignedData` carries.
    pub certificates: Vec<Certificate>,
    pub signed_attributes: Vec<Attribute>,
}

/// Checks one signer's signature over a DER `ContentInfo`/`SignedData`: the signer certificate is
/// found by its identifier among the carried certificates and `extra`, the content-type and
/// message-digest attributes must match, the signature must verify. Says nothing about trust in the
/// certificate: see [`verify_chain`].
pub fn verify_signed_data(
    content_info_der: &[u8],
    detached_content: Option<&[u8]>,
    extra: &[Certificate],
) -> Result<VerifiedSignedData, CmsError> {
    let (signed_data, signer_info) = single_signer(content_info_der)?;
    let mut certificates = Vec::new();
    if let Some(set) = &signed_data.certificates {
        for choice in set.0.iter() {
            if let CertificateChoices::Certificate(certificate) = choice {
                certificates.push(certificate.clone());
            }
        }
    }
    let signer = certificates
        .iter()
        .chain(extra)
        .find(|certificate| identifies(&signer_info.sid, certificate))
        .cloned()
        .ok_or_else(|| invalid("the signer's certificate is not included"))?;
    let econtent_type = signed_data.encap_content_info.econtent_type;
    let content = match (&signed_data.encap_content_info.econtent, detached_content) {
        (Some(econtent), _) => {
            let octets: OctetString = econtent.decode_as()?;
            octets.as_bytes().to_vec()
        }
        (None, Some(detached)) => detached.to_vec(),
        (None, None) => return Err(invalid("detached content was not given")),
    };
    let signed = signer_info
        .signed_attrs
        .as_ref()
        .ok_or_else(|| invalid("no signed attributes"))?;
    let content_type: ObjectIdentifier = single_value(signed, oid::CONTENT_TYPE)?
        .ok_or_else(|| invalid("no content-type attribute"))?
        .decode_as()?;
    if content_type != econtent_type {
        return Err(invalid(
            "the content-type attribute does not match the content",
        ));
    }
    let digest: OctetString = single_value(signed, oid::MESSAGE_DIGEST)?
        .ok_or_else(|| invalid("no message-digest attribute"))?
        .decode_as()?;
    let computed = digest_of(&signer_info.digest_alg.oid, &content)?;
    if digest.as_bytes() != computed.as_slice() {
        return Err(invalid("the message digest does not match the content"));
    }
    verify_signature(
        signer.tbs_certificate().subject_public_key_info(),
        &signer_info.signature_algorithm.oid,
        Some(&signer_info.digest_alg.oid),
        &signed.to_der()?,
        signer_info.signature.as_bytes(),
    )?;
    check_signing_certificate(signed, &signer)?;
    Ok(VerifiedSignedData {
        content_type: econtent_type,
        content: signed_data
            .encap_content_info
            .econtent
            .is_some()
            .then_some(content),
        signer,
        certificates,
        signed_attributes: signed.iter().cloned().collect(),
    })
}

/// The ESS signing-certificate attribute (v2 or v1), when present, must name the signer.
fn check_signing_certificate(
    signed: &SetOfVec<Attribute>,
    signer: &Certificate,
) -> Result<(), CmsError> {
    let der = signer.to_der()?;
    if let Some(value) = single_value(signed, oid::SIGNING_CERTIFICATE_V2)? {
        let attribute: SigningCertificateV2 = value.decode_as()?;
        let first = attribute
            .certs
            .first()
            .ok_or_else(|| invalid("an empty signing-certificate-v2 attribute"))?;
        let algorithm = first
            .hash_algorithm
            .as_ref()
            .map_or(oid::SHA256, |algorithm| algorithm.oid);
        if first.cert_hash.as_bytes() != digest_of(&algorithm, &der)?.as_slice() {
            return Err(invalid("signing-certificate-v2 names another certificate"));
        }
        return Ok(());
    }
    if let Some(value) = single_value(signed, oid::SIGNING_CERTIFICATE)? {
        let attribute: SigningCertificate = value.decode_as()?;
        let first = attribute
            .certs
            .first()
            .ok_or_else(|| invalid("an empty signing-certificate attribute"))?;
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
        if first.cert_hash.as_bytes() != sha1.as_ref() {
            return Err(invalid("signing-certificate names another certificate"));
        }
        return Ok(());
    }
    Ok(())
}

/// Whether the SignedData carried an ESS signing-certificate attribute (RFC 3161 requires one).
pub fn has_signing_certificate(attributes: &[Attribute]) -> bool {
    attributes.iter().any(|attribute| {
        attribute.oid == oid::SIGNING_CERTIFICATE_V2 || attribute.oid == oid::SIGNING_CERTIFICATE
    })
}

fn single_value(
    attributes: &SetOfVec<Attribute>,
    id: ObjectIdentifier,
) -> Result<Option<Any>, CmsError> {
    let mut found = attributes.iter().filter(|attribute| attribute.oid == id);
    let Some(attribute) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() || attribute.values.len() != 1 {
        return Err(invalid(format!(
            "attribute {id} must appear once with one value"
        )));
    }
    Ok(attribute.values.iter().next().cloned())
}

/// Whether `certificate` is the one a SignerInfo names, by issuer and serial or by key identifier.
pub fn identifies(sid: &SignerIdentifier, certificate: &Certificate) -> bool {
    let tbs = certificate.tbs_certificate();
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => {
            &id.issuer == tbs.issuer() && &id.serial_number == tbs.serial_number()
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            matches!(tbs.get_extension::<SubjectKeyIdentifier>(), Ok(Some((_, own))) if own == *ski)
        }
    }
}

/// The digest of `bytes` with the algorithm `id` (SHA-256/384/512).
pub fn digest_of(id: &ObjectIdentifier, bytes: &[u8]) -> Result<Vec<u8>, CmsError> {
    let algorithm = if *id == oid::SHA256 {
        &ring::digest::SHA256
    } else if *id == oid::SHA384 {
        &ring::digest::SHA384
    } else if *id == oid::SHA512 {
        &ring::digest::SHA512
    } else {
        return Err(CmsError::Unsupported(format!("digest {id}")));
    };
    Ok(ring::digest::digest(algorithm, bytes).as_ref().to_vec())
}

/// Verifies `signature` over `message` with the key in `key_info`. `algorithm` is the signature
/// algorithm (or a bare key algorithm, as some CMS signers write it, with `digest` giving the hash).
pub fn verify_signature(
    key_info: &SubjectPublicKeyInfoOwned,
    algorithm: &ObjectIdentifier,
    digest: Option<&ObjectIdentifier>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), CmsError> {
    use ring::signature as rs;
    let hash = if *algorithm == oid::ECDSA_WITH_SHA256 || *algorithm == oid::SHA256_WITH_RSA {
        oid::SHA256
    } else if *algorithm == oid::ECDSA_WITH_SHA384 || *algorithm == oid::SHA384_WITH_RSA {
        oid::SHA384
    } else if *algorithm == oid::SHA512_WITH_RSA {
        oid::SHA512
    } else if *algorithm == oid::EC_PUBLIC_KEY || *algorithm == oid::RSA_ENCRYPTION {
        *digest.ok_or_else(|| CmsError::Unsupported(format!("{algorithm} without a digest")))?
    } else {
        return Err(CmsError::Unsupported(format!("signature {algorithm}")));
    };
    let key_algorithm = key_info.algorithm.oid;
    let verification: &dyn rs::VerificationAlgorithm = if key_algorithm == oid::EC_PUBLIC_KEY {
        let curve: ObjectIdentifier = key_info
            .algorithm
            .parameters
            .as_ref()
            .ok_or_else(|| invalid("an EC key without a named curve"))?
            .decode_as()?;
        match (curve == oid::SECP256R1, curve == oid::SECP384R1, hash) {
            (true, _, h) if h == oid::SHA256 => &rs::ECDSA_P256_SHA256_ASN1,
            (true, _, h) if h == oid::SHA384 => &rs::ECDSA_P256_SHA384_ASN1,
            (_, true, h) if h == oid::SHA256 => &rs::ECDSA_P384_SHA256_ASN1,
            (_, true, h) if h == oid::SHA384 => &rs::ECDSA_P384_SHA384_ASN1,
            _ => {
                return Err(CmsError::Unsupported(format!(
                    "EC curve {curve} with {hash}"
                )));
            }
        }
    } else if key_algorithm == oid::RSA_ENCRYPTION {
        if hash == oid::SHA256 {
            &rs::RSA_PKCS1_2048_8192_SHA256
        } else if hash == oid::SHA384 {
            &rs::RSA_PKCS1_2048_8192_SHA384
        } else {
            &rs::RSA_PKCS1_2048_8192_SHA512
        }
    } else {
        return Err(CmsError::Unsupported(format!("key {key_algorithm}")));
    };
    rs::UnparsedPublicKey::new(verification, key_info.subject_public_key.raw_bytes())
        .verify(message, signature)
        .map_err(|_| CmsError::BadSignature)
}

/// Whether `certificate` carries `issuer`'s signature and names it as issuer.
pub fn verify_issued_by(certificate: &Certificate, issuer: &Certificate) -> Result<(), CmsError> {
    if certificate.tbs_certificate().issuer() != issuer.tbs_certificate().subject() {
        return Err(invalid("the issuer name does not match"));
    }
    verify_signature(
        issuer.tbs_certificate().subject_public_key_info(),
        &certificate.signature_algorithm().oid,
        None,
        &certificate.tbs_certificate().to_der()?,
        certificate
            .signature()
            .as_bytes()
            .ok_or_else(|| invalid("a signature with unused bits"))?,
    )
}

/// RFC 3161 section 2.3: a TSA certificate has exactly one extended key usage, timeStamping, and
/// the extension is critical.
pub fn check_time_stamping_usage(certificate: &Certificate) -> Result<(), CmsError> {
    match certificate
        .tbs_certificate()
        .get_extension::<ExtendedKeyUsage>()?
    {
        Some((true, usage)) if usage.0 == [oid::KP_TIME_STAMPING] => Ok(()),
        Some((false, _)) => Err(invalid(
            "the TSA certificate's extended key usage is not critical",
        )),
        _ => Err(invalid(
            "the certificate is not a TSA certificate (extendedKeyUsage timeStamping only)",
        )),
    }
}

/// Builds a path from `leaf` through `intermediates` to one of `anchors`, checking signatures,
/// that issuers are CAs, and every certificate's validity at `at` (seconds since the epoch).
/// Returns the path, leaf first, anchor last.
pub fn verify_chain(
    leaf: &Certificate,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    at: Duration,
) -> Result<Vec<Certificate>, CmsError> {
    const MAX_DEPTH: usize = 6;
    let mut path = vec![leaf.clone()];
    let mut current = leaf.clone();
    for _ in 0..MAX_DEPTH {
        check_validity(&current, at)?;
        if let Some(anchor) = anchors
            .iter()
            .find(|anchor| verify_issued_by(&current, anchor).is_ok())
        {
            check_validity(anchor, at)?;
            if anchor != &current {
                path.push(anchor.clone());
            }
            return Ok(path);
        }
        let next = intermediates
            .iter()
            .filter(|candidate| *candidate != &current && is_ca(candidate))
            .find(|candidate| verify_issued_by(&current, candidate).is_ok())
            .cloned()
            .ok_or_else(|| invalid("the certificate does not chain to a trust anchor"))?;
        path.push(next.clone());
        current = next;
    }
    Err(invalid("the certificate chain is too long"))
}

fn is_ca(certificate: &Certificate) -> bool {
    matches!(
        certificate.tbs_certificate().get_extension::<BasicConstraints>(),
        Ok(Some((_, constraints))) if constraints.ca
    )
}

fn check_validity(certificate: &Certificate, at: Duration) -> Result<(), CmsError> {
    let validity = certificate.tbs_certificate().validity();
    if at < validity.not_before.to_unix_duration() || at > validity.not_after.to_unix_duration() {
        return Err(invalid(format!(
            "the certificate {} is not valid at that time",
            certificate.tbs_certificate().subject()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::ca::NewCa;

    #[test]
    fn a_detached_signature_verifies_with_its_content_only() {
        let new = NewCa::generate("esign", chrono::Utc::now()).unwrap();
        let issued = new
            .ca
            .issue_event_certificate(
                "张三",
                "110101********1234",
                chrono::Utc::now(),
                Duration::from_secs(600),
            )
            .unwrap();
        let certificate = Certificate::from_der(&issued.certificate_der).unwrap();
        let signed = SignedDataBuilder::new(
            oid::DATA,
            b"the document bytes",
            Signer {
                certificate: &certificate,
                key: &issued.key,
            },
        )
        .detached()
        .certificate(certificate.clone())
        .build()
        .unwrap();
        let verified = verify_signed_data(&signed, Some(b"the document bytes"), &[]).unwrap();
        assert_eq!(verified.signer, certificate);
        assert!(verified.content.is_none());
        assert!(has_signing_certificate(&verified.signed_attributes));
        assert!(verify_signed_data(&signed, Some(b"another document"), &[]).is_err());

        let hashed = SignedDataBuilder::detached_sha256(
            oid::DATA,
            crate::trust::sha256(b"the document bytes"),
            Signer {
                certificate: &certificate,
                key: &issued.key,
            },
        )
        .certificate(certificate.clone())
        .build()
        .unwrap();
        verify_signed_data(&hashed, Some(b"the document bytes"), &[]).unwrap();

        let now = crate::trust::unix_seconds(chrono::Utc::now()).unwrap();
        let path = verify_chain(
            &certificate,
            &[new.ca.intermediate().clone()],
            &[new.ca.root().clone()],
            now,
        )
        .unwrap();
        assert_eq!(path.len(), 3);
        let other = NewCa::generate("other", chrono::Utc::now()).unwrap();
        assert!(
            verify_chain(
                &certificate,
                &[new.ca.intermediate().clone()],
                &[other.ca.root().clone()],
                now
            )
            .is_err()
        );
    }

    /// A token from the platform's own TSA for `digest`.
    fn token_for(ca: &std::sync::Arc<crate::trust::Ca>, digest: &[u8; 32]) -> Vec<u8> {
        let policy = crate::trust::parse_tsa_policy(crate::trust::DEFAULT_TSA_POLICY).unwrap();
        let (response, _) = ca.tsa_signer(policy).respond(
            &crate::trust::tsa::request_der(digest, 1).unwrap(),
            chrono::Utc::now(),
        );
        crate::trust::tsa::TimeStampResp::from_der(&response)
            .unwrap()
            .time_stamp_token
            .unwrap()
            .to_der()
            .unwrap()
    }

    #[test]
    fn a_signature_timestamp_over_the_signature_value_is_added_as_an_unsigned_attribute() {
        let ca = std::sync::Arc::new(NewCa::generate("esign", chrono::Utc::now()).unwrap().ca);
        let seal = ca.seal();
        let signed = SignedDataBuilder::new(
            oid::DATA,
            b"the document bytes",
            Signer {
                certificate: &seal.certificate,
                key: &seal.key,
            },
        )
        .detached()
        .certificate(seal.certificate.clone())
        .build()
        .unwrap();
        let value = signature_value(&signed).unwrap();
        let token = token_for(&ca, &crate::trust::sha256(&value));

        let stamped = add_signature_timestamp(&signed, &token).unwrap();
        // The signature itself is untouched: same value, still valid over the same content.
        assert_eq!(signature_value(&stamped).unwrap(), value);
        verify_signed_data(&stamped, Some(b"the document bytes"), &[]).unwrap();
        let (_, signer_info) = single_signer(&stamped).unwrap();
        let unsigned = signer_info.unsigned_attrs.unwrap();
        let attribute = single_value(&unsigned, oid::SIGNATURE_TIME_STAMP_TOKEN)
            .unwrap()
            .unwrap();
        assert_eq!(attribute.to_der().unwrap(), token);
        assert_eq!(
            oid::SIGNATURE_TIME_STAMP_TOKEN.to_string(),
            "1.2.840.113549.1.9.16.2.14"
        );

        // A token over anything else (here: the content, not the signature) is refused.
        let wrong = token_for(&ca, &crate::trust::sha256(b"the document bytes"));
        assert!(matches!(
            add_signature_timestamp(&signed, &wrong),
            Err(CmsError::TimestampImprintMismatch)
        ));
        // A signature is not a timestamp token.
        assert!(matches!(
            add_signature_timestamp(&signed, &signed),
            Err(CmsError::Invalid(_))
        ));
        assert!(add_signature_timestamp(&signed, b"not DER").is_err());
    }
}
