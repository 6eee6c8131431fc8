//! OCSP (RFC 6960): the ASN.1 types, and the answers of esign's responder for the certificates its
//! intermediate issued (`http::ca` serves them at `POST /ca/ocsp` and `GET /ca/ocsp/{request}`).
//!
//! The intermediate signs the answers itself (a CA-signed response, RFC 6960 4.2.2.2), so relying
//! parties need no delegated responder certificate; the intermediate's certificate goes along in
//! `certs`. Each CertID is answered:
//!
//! - `unknown` when its issuer hashes are not the intermediate's (or its hash is neither SHA-1,
//!   openssl's default, nor SHA-256);
//! - `revoked`, with the time and (unless unspecified) the reason, when the serial was revoked;
//! - `good` otherwise. The CA keeps no register of the serials it issued, so `good` means "not
//!   revoked", as RFC 6960 2.2 allows.
//!
//! A request's nonce is echoed. Signed requests are answered like unsigned ones (the signature is
//! not checked: answers are public). What the responder cannot read gets `malformedRequest`.
//!
//! The responder needs the revoked serials: the caller looks up [`Query::serials`] (the app layer
//! reads them from the revocation table) and hands the matches to [`Ca::ocsp_response`].

use std::time::Duration;

use aggregates::certificate_revocation::CertificateSerial;
use chrono::{DateTime, Utc};
use der::asn1::{Any, BitString, GeneralizedTime, Int, Null, ObjectIdentifier, OctetString};
use der::{Choice, Decode, Encode, Enumerated, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;

use super::ca::{Ca, CaError, RevokedCertificate, ecdsa_with_sha256};
use super::{oid, unix_seconds};

/// Media types of RFC 6960 appendix A.
pub const REQUEST_MEDIA_TYPE: &str = "application/ocsp-request";
pub const RESPONSE_MEDIA_TYPE: &str = "application/ocsp-response";
/// A request for a few certificates is a few hundred bytes.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// CertIDs answered in one request.
const MAX_CERT_IDS: usize = 16;
/// RFC 8954 bounds a nonce at 32 octets; its extension value wraps it once more.
const MAX_NONCE_EXTENSION_BYTES: usize = 64;

// ---------------------------------------------------------------------------------------------------
// ASN.1 (RFC 6960 section 4; the module's tags are EXPLICIT)

#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct CertId {
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub issuer_name_hash: OctetString,
    pub issuer_key_hash: OctetString,
    pub serial_number: Int,
}

#[derive(Clone, Debug, Sequence)]
pub struct Request {
    pub req_cert: CertId,
    #[asn1(context_specific = "0", optional = "true")]
    pub single_request_extensions: Option<Vec<Extension>>,
}

#[derive(Clone, Debug, Sequence)]
pub struct TbsRequest {
    #[asn1(context_specific = "0", default = "Default::default")]
    pub version: u8,
    #[asn1(context_specific = "1", optional = "true")]
    pub requestor_name: Option<GeneralName>,
    pub request_list: Vec<Request>,
    #[asn1(context_specific = "2", optional = "true")]
    pub request_extensions: Option<Vec<Extension>>,
}

#[derive(Clone, Debug, Sequence)]
pub struct OcspRequest {
    pub tbs_request: TbsRequest,
    /// The requester's signature, kept raw: esign answers anyone and does not check it.
    #[asn1(context_specific = "0", optional = "true")]
    pub optional_signature: Option<Any>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enumerated)]
#[repr(u32)]
pub enum ResponseStatus {
    Successful = 0,
    MalformedRequest = 1,
    InternalError = 2,
    TryLater = 3,
    SigRequired = 5,
    Unauthorized = 6,
}

#[derive(Clone, Debug, Sequence)]
pub struct ResponseBytes {
    pub response_type: ObjectIdentifier,
    pub response: OctetString,
}

#[derive(Clone, Debug, Sequence)]
pub struct OcspResponse {
    pub response_status: ResponseStatus,
    #[asn1(context_specific = "0", optional = "true")]
    pub response_bytes: Option<ResponseBytes>,
}

#[derive(Clone, Debug, Sequence)]
pub struct BasicOcspResponse {
    pub tbs_response_data: ResponseData,
    pub signature_algorithm: AlgorithmIdentifierOwned,
    pub signature: BitString,
    #[asn1(context_specific = "0", optional = "true")]
    pub certs: Option<Vec<Certificate>>,
}

#[derive(Clone, Debug, Sequence)]
pub struct ResponseData {
    #[asn1(context_specific = "0", default = "Default::default")]
    pub version: u8,
    pub responder_id: ResponderId,
    pub produced_at: GeneralizedTime,
    pub responses: Vec<SingleResponse>,
    #[asn1(context_specific = "1", optional = "true")]
    pub response_extensions: Option<Vec<Extension>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Choice)]
pub enum ResponderId {
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", constructed = "true")]
    ByName(Name),
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", constructed = "true")]
    ByKey(OctetString),
}

#[derive(Clone, Debug, Sequence)]
pub struct SingleResponse {
    pub cert_id: CertId,
    pub cert_status: CertStatus,
    pub this_update: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true")]
    pub next_update: Option<GeneralizedTime>,
    #[asn1(context_specific = "1", optional = "true")]
    pub single_extensions: Option<Vec<Extension>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Choice)]
pub enum CertStatus {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    Good(Null),
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    Revoked(RevokedInfo),
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT")]
    Unknown(Null),
}

#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct RevokedInfo {
    pub revocation_time: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true")]
    pub revocation_reason: Option<CrlReason>,
}

// ---------------------------------------------------------------------------------------------------
// Requests

/// Why a request gets `malformedRequest`.
#[derive(Debug, thiserror::Error)]
pub enum OcspError {
    #[error("not a DER OCSPRequest: {0}")]
    NotDer(#[from] der::Error),
    #[error("{0}")]
    Refused(&'static str),
}

/// The CertIDs hash algorithms an answer may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertIdHash {
    /// What openssl and most clients send by default.
    Sha1,
    Sha256,
}

impl CertIdHash {
    fn of(id: &ObjectIdentifier) -> Option<Self> {
        if *id == oid::SHA1 {
            Some(Self::Sha1)
        } else if *id == oid::SHA256 {
            Some(Self::Sha256)
        } else {
            None
        }
    }

    fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha1 => oid::SHA1,
            Self::Sha256 => oid::SHA256,
        }
    }

    fn digest(self, bytes: &[u8]) -> Vec<u8> {
        let algorithm = match self {
            Self::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &ring::digest::SHA256,
        };
        ring::digest::digest(algorithm, bytes).as_ref().to_vec()
    }
}

/// A request the responder can answer: its CertIDs and its nonce extension, if any.
#[derive(Debug, Clone)]
pub struct Query {
    cert_ids: Vec<CertId>,
    nonce: Option<Extension>,
}

impl Query {
    /// Reads a DER `OCSPRequest`: version 1, 1 to 16 CertIDs, no critical extension other than the
    /// nonce, a nonce of sensible size.
    pub fn parse(der: &[u8]) -> Result<Self, OcspError> {
        if der.len() > MAX_REQUEST_BYTES {
            return Err(OcspError::Refused("the request is too large"));
        }
        let request = OcspRequest::from_der(der)?;
        let tbs = request.tbs_request;
        if tbs.version != 0 {
            return Err(OcspError::Refused("only OCSP version 1 is answered"));
        }
        if tbs.request_list.is_empty() {
            return Err(OcspError::Refused("the request names no certificate"));
        }
        if tbs.request_list.len() > MAX_CERT_IDS {
            return Err(OcspError::Refused(
                "the request names more than 16 certificates",
            ));
        }
        let mut nonce = None;
        for extension in tbs.request_extensions.iter().flatten() {
            if extension.extn_id == oid::OCSP_NONCE {
                if extension.extn_value.as_bytes().len() > MAX_NONCE_EXTENSION_BYTES {
                    return Err(OcspError::Refused("the nonce is longer than 32 octets"));
                }
                nonce = Some(Extension {
                    critical: false,
                    ..extension.clone()
                });
            } else if extension.critical {
                return Err(OcspError::Refused("a critical extension is not understood"));
            }
        }
        let mut cert_ids = Vec::with_capacity(tbs.request_list.len());
        for single in tbs.request_list {
            if single
                .single_request_extensions
                .iter()
                .flatten()
                .any(|extension| extension.critical)
            {
                return Err(OcspError::Refused("a critical extension is not understood"));
            }
            cert_ids.push(single.req_cert);
        }
        Ok(Self { cert_ids, nonce })
    }

    /// A query for `certificate` as issued by `issuer`, hashed with `hash`, without a nonce.
    pub fn for_certificate(
        certificate: &Certificate,
        issuer: &Certificate,
        hash: CertIdHash,
    ) -> Result<Self, der::Error> {
        Ok(Self {
            cert_ids: vec![cert_id(
                issuer,
                hash,
                certificate.tbs_certificate().serial_number().as_bytes(),
            )?],
            nonce: None,
        })
    }

    /// The same query with a nonce (the extension value is the DER OCTET STRING of `nonce`, as
    /// RFC 8954 writes it).
    pub fn with_nonce(mut self, nonce: &[u8]) -> Result<Self, der::Error> {
        self.nonce = Some(Extension {
            extn_id: oid::OCSP_NONCE,
            critical: false,
            extn_value: OctetString::new(OctetString::new(nonce)?.to_der()?)?,
        });
        Ok(self)
    }

    /// The query as a DER `OCSPRequest`.
    pub fn to_der(&self) -> Result<Vec<u8>, der::Error> {
        OcspRequest {
            tbs_request: TbsRequest {
                version: 0,
                requestor_name: None,
                request_list: self
                    .cert_ids
                    .iter()
                    .map(|id| Request {
                        req_cert: id.clone(),
                        single_request_extensions: None,
                    })
                    .collect(),
                request_extensions: self.nonce.clone().map(|nonce| vec![nonce]),
            },
            optional_signature: None,
        }
        .to_der()
    }

    /// The serial numbers asked about (those that can be serial numbers at all), to look up.
    pub fn serials(&self) -> Vec<CertificateSerial> {
        self.cert_ids.iter().filter_map(serial_of).collect()
    }
}

/// Whether `id` names `certificate` as issued by `issuer` (its own hash algorithm, SHA-1 or
/// SHA-256): how a client finds the answer about its certificate in a response.
pub fn names(id: &CertId, certificate: &Certificate, issuer: &Certificate) -> bool {
    let Some(hash) = CertIdHash::of(&id.hash_algorithm.oid) else {
        return false;
    };
    cert_id(
        issuer,
        hash,
        certificate.tbs_certificate().serial_number().as_bytes(),
    )
    .is_ok_and(|expected| {
        expected.issuer_name_hash == id.issuer_name_hash
            && expected.issuer_key_hash == id.issuer_key_hash
            && expected.serial_number == id.serial_number
    })
}

/// The serial a CertID names; `None` for a negative or zero number, which no certificate of ours
/// has.
fn serial_of(id: &CertId) -> Option<CertificateSerial> {
    let bytes = id.serial_number.as_bytes();
    if bytes.first().is_some_and(|first| first & 0x80 != 0) {
        return None;
    }
    CertificateSerial::from_bytes(bytes).ok()
}

fn cert_id(issuer: &Certificate, hash: CertIdHash, serial: &[u8]) -> Result<CertId, der::Error> {
    let (name_hash, key_hash) = issuer_hashes(issuer, hash)?;
    let serial = CertificateSerial::from_bytes(serial).map_err(|_| {
        der::Error::from(der::ErrorKind::Value {
            tag: der::Tag::Integer,
        })
    })?;
    let magnitude = serial.to_bytes();
    // A positive INTEGER whose high bit is set takes a leading zero byte.
    let mut twos_complement = Vec::with_capacity(magnitude.len() + 1);
    if magnitude.first().is_some_and(|first| first & 0x80 != 0) {
        twos_complement.push(0);
    }
    twos_complement.extend_from_slice(&magnitude);
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: hash.oid(),
            parameters: Some(Any::null()),
        },
        issuer_name_hash: OctetString::new(name_hash)?,
        issuer_key_hash: OctetString::new(key_hash)?,
        serial_number: Int::new(&twos_complement)?,
    })
}

/// The hashes of the issuer's name (its DER) and key (the BIT STRING's bits) a CertID carries.
fn issuer_hashes(issuer: &Certificate, hash: CertIdHash) -> Result<(Vec<u8>, Vec<u8>), der::Error> {
    let tbs = issuer.tbs_certificate();
    Ok((
        hash.digest(&tbs.subject().to_der()?),
        hash.digest(tbs.subject_public_key_info().subject_public_key.raw_bytes()),
    ))
}

// ---------------------------------------------------------------------------------------------------
// Answers

/// An answer carrying only a status (no signed response), for requests that cannot be answered:
/// `malformedRequest`, `internalError`, `tryLater`. Its DER is five fixed bytes.
pub fn status_only(status: ResponseStatus) -> Vec<u8> {
    vec![0x30, 0x03, 0x0a, 0x01, status as u8]
}

impl Ca {
    /// The signed answer to `query` (DER `OCSPResponse`, status successful): `revoked` holds the
    /// revocations of the serials asked about (others count as not revoked). thisUpdate and
    /// producedAt are `now`, nextUpdate `now + validity`.
    pub fn ocsp_response(
        &self,
        query: &Query,
        revoked: &[RevokedCertificate],
        now: DateTime<Utc>,
        validity: Duration,
    ) -> Result<Vec<u8>, CaError> {
        let now = unix_seconds(now)?;
        let this_update = GeneralizedTime::from_unix_duration(now)?;
        let next_update = GeneralizedTime::from_unix_duration(now + validity)?;
        let responses = query
            .cert_ids
            .iter()
            .map(|id| {
                Ok(SingleResponse {
                    cert_id: id.clone(),
                    cert_status: self.status_of(id, revoked)?,
                    this_update,
                    next_update: Some(next_update),
                    single_extensions: None,
                })
            })
            .collect::<Result<Vec<_>, CaError>>()?;
        let data = ResponseData {
            version: 0,
            responder_id: ResponderId::ByName(
                self.intermediate().tbs_certificate().subject().clone(),
            ),
            produced_at: this_update,
            responses,
            response_extensions: query.nonce.clone().map(|nonce| vec![nonce]),
        };
        let signature = self.intermediate_key().sign(&data.to_der()?)?;
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: ecdsa_with_sha256(),
            signature: BitString::from_bytes(&signature)?,
            certs: Some(vec![self.intermediate().clone()]),
        };
        Ok(OcspResponse {
            response_status: ResponseStatus::Successful,
            response_bytes: Some(ResponseBytes {
                response_type: oid::OCSP_BASIC,
                response: OctetString::new(basic.to_der()?)?,
            }),
        }
        .to_der()?)
    }

    /// The signed answer for one certificate (SHA-256 CertID, no nonce): what a PDF's DSS embeds
    /// for long-term validation. `revoked` as for [`Ca::ocsp_response`].
    pub fn ocsp_response_for(
        &self,
        certificate: &Certificate,
        revoked: &[RevokedCertificate],
        now: DateTime<Utc>,
        validity: Duration,
    ) -> Result<Vec<u8>, CaError> {
        let query = Query::for_certificate(certificate, self.intermediate(), CertIdHash::Sha256)?;
        self.ocsp_response(&query, revoked, now, validity)
    }

    fn status_of(
        &self,
        id: &CertId,
        revoked: &[RevokedCertificate],
    ) -> Result<CertStatus, CaError> {
        let Some(hash) = CertIdHash::of(&id.hash_algorithm.oid) else {
            return Ok(CertStatus::Unknown(Null));
        };
        let (name_hash, key_hash) = issuer_hashes(self.intermediate(), hash)?;
        if id.issuer_name_hash.as_bytes() != name_hash || id.issuer_key_hash.as_bytes() != key_hash
        {
            return Ok(CertStatus::Unknown(Null));
        }
        let Some(serial) = serial_of(id) else {
            return Ok(CertStatus::Unknown(Null));
        };
        Ok(match revoked.iter().find(|entry| entry.serial == serial) {
            None => CertStatus::Good(Null),
            Some(entry) => CertStatus::Revoked(RevokedInfo {
                revocation_time: GeneralizedTime::from_unix_duration(unix_seconds(
                    entry.revoked_at,
                )?)?,
                revocation_reason: super::ca::crl_reason(entry.reason),
            }),
        })
    }
}

/// The signed part of a successful answer, for checks of what it says (the signature is not
/// verified here). `None` for an answer that carries only a status.
pub fn read_response(der: &[u8]) -> Result<(ResponseStatus, Option<BasicOcspResponse>), OcspError> {
    let response = OcspResponse::from_der(der)?;
    let basic = match response.response_bytes {
        Some(bytes) if bytes.response_type == oid::OCSP_BASIC => {
            Some(BasicOcspResponse::from_der(bytes.response.as_bytes())?)
        }
        Some(_) => return Err(OcspError::Refused("not a basic OCSP response")),
        None => None,
    };
    Ok((response.response_status, basic))
}

#[cfg(test)]
mod tests;
