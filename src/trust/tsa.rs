//! RFC 3161 timestamps: the ASN.1 types, esign's own timestamp service (`LOCAL_CA`, served at
//! `POST /tsa`), and the checks any answer must pass (the client that asks remote TSAs in turn is
//! `providers::tsa`).
//!
//! Tokens are CMS `SignedData` over a `TSTInfo` (eContentType id-ct-TSTInfo) with the signed
//! attributes content-type, message-digest, signing-certificate-v2 and signing-time, signed by the
//! TSA certificate of the platform CA; `openssl ts -verify` accepts them.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use der::asn1::{Any, BitString, Int, OctetString};
use der::{Decode, Encode, Sequence, Tag, Tagged};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;

use super::ca::Ca;
use super::cms::{self, SignedDataBuilder, Signer};
use super::policy_oid::PolicyOid;
use super::{oid, unix_seconds};

/// Media types of RFC 3161 section 3.4.
pub const QUERY_MEDIA_TYPE: &str = "application/timestamp-query";
pub const REPLY_MEDIA_TYPE: &str = "application/timestamp-reply";

#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct MessageImprint {
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub hashed_message: OctetString,
}

#[derive(Clone, Debug, Sequence)]
pub struct TimeStampReq {
    pub version: u8,
    pub message_imprint: MessageImprint,
    #[asn1(optional = "true")]
    pub req_policy: Option<PolicyOid>,
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Vec<Extension>>,
}

#[derive(Clone, Debug, Sequence)]
pub struct PkiStatusInfo {
    pub status: u8,
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    pub fail_info: Option<BitString>,
}

#[derive(Clone, Debug, Sequence)]
pub struct TimeStampResp {
    pub status: PkiStatusInfo,
    #[asn1(optional = "true")]
    pub time_stamp_token: Option<::cms::content_info::ContentInfo>,
}

#[derive(Clone, Debug, Sequence)]
pub struct Accuracy {
    #[asn1(optional = "true")]
    pub seconds: Option<u32>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub micros: Option<u16>,
}

#[derive(Clone, Debug, Sequence)]
pub struct TstInfo {
    pub version: u8,
    pub policy: PolicyOid,
    pub message_imprint: MessageImprint,
    pub serial_number: Int,
    /// A GeneralizedTime, kept raw: other TSAs send fractions of a second, which `der`'s
    /// GeneralizedTime refuses. See [`TstInfo::gen_time`].
    pub gen_time: Any,
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Vec<Extension>>,
}

impl TstInfo {
    /// genTime as seconds since the epoch (fractions dropped).
    pub fn gen_time(&self) -> Result<Duration, String> {
        if self.gen_time.tag() != Tag::GeneralizedTime {
            return Err("genTime is not a GeneralizedTime".into());
        }
        let text = std::str::from_utf8(self.gen_time.value())
            .map_err(|_| "genTime is not text".to_owned())?;
        let text = text
            .strip_suffix('Z')
            .ok_or_else(|| "genTime is not UTC".to_owned())?;
        let whole = text.split('.').next().unwrap_or_default();
        let time = chrono::NaiveDateTime::parse_from_str(whole, "%Y%m%d%H%M%S")
            .map_err(|e| format!("genTime {text:?}: {e}"))?;
        u64::try_from(time.and_utc().timestamp())
            .map(Duration::from_secs)
            .map_err(|_| "genTime before 1970".to_owned())
    }
}

/// PKIStatus values (RFC 3161 section 2.4.2).
pub mod status {
    pub const GRANTED: u8 = 0;
    pub const GRANTED_WITH_MODS: u8 = 1;
    pub const REJECTION: u8 = 2;
}

/// PKIFailureInfo bits (RFC 3161 section 2.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureInfo {
    BadAlg = 0,
    BadRequest = 2,
    BadDataFormat = 5,
    TimeNotAvailable = 14,
    UnacceptedPolicy = 15,
    UnacceptedExtension = 16,
    SystemFailure = 25,
}

impl FailureInfo {
    /// The named-bit BIT STRING (DER: no trailing zero bits).
    fn bit_string(self) -> Result<BitString, der::Error> {
        let bit = self as usize;
        let mut bytes = vec![0u8; bit / 8 + 1];
        bytes[bit / 8] = 0x80 >> (bit % 8);
        BitString::new((7 - bit % 8) as u8, bytes)
    }

    fn from_bit_string(bits: &BitString) -> Option<Self> {
        [
            Self::BadAlg,
            Self::BadRequest,
            Self::BadDataFormat,
            Self::TimeNotAvailable,
            Self::UnacceptedPolicy,
            Self::UnacceptedExtension,
            Self::SystemFailure,
        ]
        .into_iter()
        .find(|info| bits.get(*info as usize) == Some(true))
    }
}

/// A refused request: what goes into the rejection.
#[derive(Debug, Clone)]
struct Refusal {
    info: FailureInfo,
    text: String,
}

fn refuse(info: FailureInfo, text: impl Into<String>) -> Refusal {
    Refusal {
        info,
        text: text.into(),
    }
}

/// Issues timestamp tokens with the platform CA's TSA certificate.
#[derive(Debug, Clone)]
pub struct TsaSigner {
    ca: Arc<Ca>,
    policy: PolicyOid,
}

/// What [`TsaSigner::respond`] decided, for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Granted {
        serial_hex: String,
    },
    Rejected {
        failure: FailureInfo,
        reason: String,
    },
}

impl TsaSigner {
    pub fn new(ca: Arc<Ca>, policy: PolicyOid) -> Self {
        Self { ca, policy }
    }

    pub fn certificate(&self) -> &Certificate {
        &self.ca.tsa().certificate
    }

    /// The CA whose TSA certificate signs the tokens (its root is their trust anchor).
    pub fn ca(&self) -> &Arc<Ca> {
        &self.ca
    }

    /// Answers a DER `TimeStampReq` with a DER `TimeStampResp`: a token, or a rejection with a
    /// failure info. Never fails: a request that cannot be served is rejected.
    pub fn respond(&self, request: &[u8], now: DateTime<Utc>) -> (Vec<u8>, Outcome) {
        let refusal = match self.grant(request, now) {
            Ok(granted) => return granted,
            Err(refusal) => refusal,
        };
        (
            rejection(refusal.info, &refusal.text),
            Outcome::Rejected {
                failure: refusal.info,
                reason: refusal.text,
            },
        )
    }

    fn grant(&self, request: &[u8], now: DateTime<Utc>) -> Result<(Vec<u8>, Outcome), Refusal> {
        let request = TimeStampReq::from_der(request).map_err(|e| {
            refuse(
                FailureInfo::BadDataFormat,
                format!("not a DER TimeStampReq: {e}"),
            )
        })?;
        if request.version != 1 {
            return Err(refuse(FailureInfo::BadRequest, "version must be 1"));
        }
        let imprint = &request.message_imprint;
        let parameters_ok = imprint
            .hash_algorithm
            .parameters
            .as_ref()
            .is_none_or(Any::is_null);
        if imprint.hash_algorithm.oid != oid::SHA256 || !parameters_ok {
            return Err(refuse(
                FailureInfo::BadAlg,
                "the message imprint must be SHA-256",
            ));
        }
        if imprint.hashed_message.as_bytes().len() != 32 {
            return Err(refuse(
                FailureInfo::BadDataFormat,
                "a SHA-256 message imprint has 32 bytes",
            ));
        }
        if request
            .req_policy
            .as_ref()
            .is_some_and(|policy| *policy != self.policy)
        {
            return Err(refuse(
                FailureInfo::UnacceptedPolicy,
                format!("this TSA stamps under policy {} only", self.policy),
            ));
        }
        if request.extensions.as_ref().is_some_and(|e| !e.is_empty()) {
            return Err(refuse(
                FailureInfo::UnacceptedExtension,
                "no extensions are supported",
            ));
        }
        let system = |e: &dyn std::fmt::Display| {
            tracing::error!(error = %e, "the timestamp service cannot issue a token");
            refuse(
                FailureInfo::SystemFailure,
                "the timestamp could not be issued",
            )
        };
        let seconds = unix_seconds(now).map_err(|e| system(&e))?;
        let serial = super::ca::random_serial().map_err(|e| system(&e))?;
        let tst_info = TstInfo {
            version: 1,
            policy: self.policy.clone(),
            message_imprint: imprint.clone(),
            serial_number: Int::new(&serial).map_err(|e| system(&e))?,
            gen_time: Any::encode_from(
                &der::asn1::GeneralizedTime::from_unix_duration(seconds).map_err(|e| system(&e))?,
            )
            .map_err(|e| system(&e))?,
            accuracy: None,
            ordering: false,
            nonce: request.nonce.clone(),
            tsa: None,
            extensions: None,
        }
        .to_der()
        .map_err(|e| system(&e))?;
        let tsa = self.ca.tsa();
        let mut builder = SignedDataBuilder::new(
            oid::CT_TST_INFO,
            &tst_info,
            Signer {
                certificate: &tsa.certificate,
                key: &tsa.key,
            },
        )
        .signing_time(seconds);
        if request.cert_req {
            // RFC 3161: certReq asks for the TSA's certificate; its issuer helps relying parties
            // that only hold the root.
            builder = builder
                .certificate(tsa.certificate.clone())
                .certificate(self.ca.intermediate().clone());
        }
        let token = builder.build().map_err(|e| system(&e))?;
        let response = TimeStampResp {
            status: PkiStatusInfo {
                status: status::GRANTED,
                status_string: None,
                fail_info: None,
            },
            time_stamp_token: Some(
                ::cms::content_info::ContentInfo::from_der(&token).map_err(|e| system(&e))?,
            ),
        }
        .to_der()
        .map_err(|e| system(&e))?;
        Ok((
            response,
            Outcome::Granted {
                serial_hex: hex::encode(serial),
            },
        ))
    }
}

/// A DER `TimeStampResp` with status rejection, `failure` and a text.
pub fn rejection(failure: FailureInfo, text: &str) -> Vec<u8> {
    let response = TimeStampResp {
        status: PkiStatusInfo {
            status: status::REJECTION,
            status_string: Some(vec![text.to_owned()]),
            fail_info: failure.bit_string().ok(),
        },
        time_stamp_token: None,
    };
    // A bare rejection, should even that fail to encode.
    const REJECTION: [u8; 7] = [0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02];
    response.to_der().unwrap_or_else(|_| REJECTION.to_vec())
}

/// A request for `digest` (SHA-256), with a nonce and certReq, as the client sends it.
pub fn request_der(digest: &[u8; 32], nonce: u64) -> Result<Vec<u8>, der::Error> {
    TimeStampReq {
        version: 1,
        message_imprint: imprint(digest)?,
        req_policy: None,
        nonce: Some(Int::from_der(&nonce.to_der()?)?),
        cert_req: true,
        extensions: None,
    }
    .to_der()
}

fn imprint(digest: &[u8; 32]) -> Result<MessageImprint, der::Error> {
    Ok(MessageImprint {
        hash_algorithm: cms::sha256_algorithm(),
        hashed_message: OctetString::new(digest.to_vec())?,
    })
}

/// A token that verified.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub tst_info: TstInfo,
    /// genTime, seconds since the epoch.
    pub gen_time: Duration,
    pub tsa_certificate: Certificate,
}

/// Checks a timestamp token (DER `ContentInfo`): the CMS signature and signed attributes, the
/// signing-certificate attribute, the TSTInfo's imprint (SHA-256 of the data) and nonce, the TSA
/// certificate's timeStamping usage, and its chain to one of `anchors` at genTime.
pub fn verify_token(
    token: &[u8],
    digest: &[u8; 32],
    nonce: Option<u64>,
    anchors: &[Certificate],
    intermediates: &[Certificate],
) -> Result<VerifiedToken, String> {
    let signed = cms::verify_signed_data(token, None, intermediates).map_err(|e| e.to_string())?;
    if signed.content_type != oid::CT_TST_INFO {
        return Err("the token does not hold a TSTInfo".into());
    }
    if !cms::has_signing_certificate(&signed.signed_attributes) {
        return Err("the token has no signing-certificate attribute".into());
    }
    let content = signed
        .content
        .as_deref()
        .ok_or_else(|| "the token has no TSTInfo".to_owned())?;
    let tst_info = TstInfo::from_der(content).map_err(|e| format!("malformed TSTInfo: {e}"))?;
    if tst_info.version != 1 {
        return Err("TSTInfo version is not 1".into());
    }
    if tst_info.message_imprint != imprint(digest).map_err(|e| e.to_string())? {
        return Err("the message imprint is not the one asked for".into());
    }
    if let Some(nonce) = nonce {
        let expected = Int::from_der(&nonce.to_der().map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        if tst_info.nonce.as_ref() != Some(&expected) {
            return Err("the nonce is not the one sent".into());
        }
    }
    cms::check_time_stamping_usage(&signed.signer).map_err(|e| e.to_string())?;
    let gen_time = tst_info.gen_time()?;
    let mut pool = signed.certificates.clone();
    pool.extend_from_slice(intermediates);
    cms::verify_chain(&signed.signer, &pool, anchors, gen_time).map_err(|e| e.to_string())?;
    Ok(VerifiedToken {
        tst_info,
        gen_time,
        tsa_certificate: signed.signer,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no timestamp authority URL is configured")]
    NoUrls,
    #[error("the timestamp client cannot be set up: {0}")]
    Setup(String),
    /// Every TSA failed to answer (network, timeout, HTTP error): worth retrying later.
    #[error("no timestamp authority answered: {0}")]
    Unavailable(String),
    /// A TSA refused the request (PKIStatus rejection or waiting).
    #[error(
        "the timestamp authority at {url} refused the request (status {status}, {failure:?}): {text}"
    )]
    Rejected {
        url: String,
        status: u8,
        failure: Option<FailureInfo>,
        text: String,
    },
    /// A TSA answered something that does not hold (bad signature, wrong nonce or imprint,
    /// untrusted certificate): never use it.
    #[error("the timestamp authority at {url} sent an invalid response: {reason}")]
    InvalidResponse { url: String, reason: String },
}

/// A token a TSA issued for our digest, verified.
#[derive(Debug, Clone)]
pub struct Timestamp {
    /// The DER token (`ContentInfo`), as embedded in signatures.
    pub token: Vec<u8>,
    pub gen_time: Duration,
    pub serial_number: Vec<u8>,
    /// The TSA that answered.
    pub url: String,
}

/// A random 63-bit nonce (positive as an INTEGER) for one request.
pub fn random_nonce() -> Result<u64, ClientError> {
    let mut nonce_bytes = [0u8; 8];
    getrandom::fill(&mut nonce_bytes).map_err(|e| ClientError::Setup(e.to_string()))?;
    Ok(u64::from_be_bytes(nonce_bytes) >> 1)
}

/// Reads a DER `TimeStampResp` from the TSA at `url` (a name for errors) answering a request for
/// `digest` with `nonce`: a refusal becomes [`ClientError::Rejected`]; a granted token must pass
/// [`verify_token`] against `anchors`, or the answer is [`ClientError::InvalidResponse`].
pub fn accept_response(
    url: &str,
    response: &[u8],
    digest: &[u8; 32],
    nonce: u64,
    anchors: &[Certificate],
    intermediates: &[Certificate],
) -> Result<Timestamp, ClientError> {
    let invalid = |reason: String| ClientError::InvalidResponse {
        url: url.to_owned(),
        reason,
    };
    let response = TimeStampResp::from_der(response)
        .map_err(|e| invalid(format!("not a DER TimeStampResp: {e}")))?;
    let granted = matches!(
        response.status.status,
        status::GRANTED | status::GRANTED_WITH_MODS
    );
    let token = match (granted, response.time_stamp_token) {
        (true, Some(token)) => token.to_der().map_err(|e| invalid(e.to_string()))?,
        (true, None) => return Err(invalid("granted without a token".into())),
        (false, _) => {
            return Err(ClientError::Rejected {
                url: url.to_owned(),
                status: response.status.status,
                failure: response
                    .status
                    .fail_info
                    .as_ref()
                    .and_then(FailureInfo::from_bit_string),
                text: response.status.status_string.unwrap_or_default().join("; "),
            });
        }
    };
    let verified =
        verify_token(&token, digest, Some(nonce), anchors, intermediates).map_err(invalid)?;
    Ok(Timestamp {
        token,
        gen_time: verified.gen_time,
        serial_number: verified.tst_info.serial_number.as_bytes().to_vec(),
        url: url.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::ca::NewCa;

    fn signer() -> (Arc<Ca>, TsaSigner) {
        let ca = Arc::new(NewCa::generate("esign", Utc::now()).unwrap().ca);
        let policy = crate::trust::parse_tsa_policy(crate::trust::DEFAULT_TSA_POLICY).unwrap();
        (ca.clone(), TsaSigner::new(ca, policy))
    }

    #[test]
    fn a_granted_token_verifies_against_the_root() {
        let (ca, tsa) = signer();
        let digest = crate::trust::sha256(b"contract.pdf");
        let (response, outcome) = tsa.respond(&request_der(&digest, 42).unwrap(), Utc::now());
        assert!(matches!(outcome, Outcome::Granted { .. }), "{outcome:?}");
        let response = TimeStampResp::from_der(&response).unwrap();
        assert_eq!(response.status.status, status::GRANTED);
        let token = response.time_stamp_token.unwrap().to_der().unwrap();
        let verified = verify_token(&token, &digest, Some(42), &[ca.root().clone()], &[]).unwrap();
        assert_eq!(verified.tsa_certificate, ca.tsa().certificate);

        let other = crate::trust::sha256(b"another.pdf");
        assert!(verify_token(&token, &other, Some(42), &[ca.root().clone()], &[]).is_err());
        assert!(verify_token(&token, &digest, Some(43), &[ca.root().clone()], &[]).is_err());
        let stranger = NewCa::generate("stranger", Utc::now()).unwrap().ca;
        assert!(verify_token(&token, &digest, Some(42), &[stranger.root().clone()], &[]).is_err());
    }

    #[test]
    fn bad_requests_are_rejected_with_a_failure_info() {
        let (_, tsa) = signer();
        let rejected = |request: &[u8]| {
            let (der, outcome) = tsa.respond(request, Utc::now());
            let response = TimeStampResp::from_der(&der).unwrap();
            assert_eq!(response.status.status, status::REJECTION);
            assert!(response.time_stamp_token.is_none());
            let Outcome::Rejected { failure, .. } = outcome else {
                panic!("granted")
            };
            assert_eq!(
                response
                    .status
                    .fail_info
                    .as_ref()
                    .and_then(FailureInfo::from_bit_string),
                Some(failure)
            );
            failure
        };
        assert_eq!(rejected(b"not DER"), FailureInfo::BadDataFormat);

        let mut short = TimeStampReq::from_der(&request_der(&[7; 32], 1).unwrap()).unwrap();
        short.message_imprint.hashed_message = OctetString::new(vec![7; 20]).unwrap();
        assert_eq!(
            rejected(&short.to_der().unwrap()),
            FailureInfo::BadDataFormat
        );

        let mut sha1 = short.clone();
        sha1.message_imprint.hash_algorithm.oid =
            der::asn1::ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
        assert_eq!(rejected(&sha1.to_der().unwrap()), FailureInfo::BadAlg);

        let mut policy = TimeStampReq::from_der(&request_der(&[7; 32], 1).unwrap()).unwrap();
        policy.req_policy = Some(PolicyOid::parse("1.2.3.4").unwrap());
        assert_eq!(
            rejected(&policy.to_der().unwrap()),
            FailureInfo::UnacceptedPolicy
        );
    }

    #[test]
    fn failure_bits_are_minimal_der() {
        let bits = FailureInfo::BadAlg.bit_string().unwrap();
        assert_eq!(bits.to_der().unwrap(), [0x03, 0x02, 0x07, 0x80]);
        let bits = FailureInfo::SystemFailure.bit_string().unwrap();
        assert_eq!(bits.to_der().unwrap(), [0x03, 0x05, 0x06, 0, 0, 0, 0x40]);
    }
}
