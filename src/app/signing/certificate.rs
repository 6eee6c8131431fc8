//! Signing with the signer's own certificate (signMethod `CA_CERT`, spec 4.1.2 step 3: "调用CA机构
//! 进行证书验证"). The private key never reaches the service: the signer's page opens their PKCS#12
//! file and signs in the browser, in two steps.
//!
//! 1. [`prepare`]: the page sends the certificate chain and the drawn signature. The certificate is
//!    checked ([`crate::trust::personal`]: chain to a root of `[trust] personal_ca_roots`, validity
//!    now, key usage; its CRL when it names one), the domain records that it names this signer
//!    (`VerifyCertificate`), and the signer's revision of the document is prepared on the document
//!    as it stands. The answer is the DER of the CMS signed attributes for that revision, to be
//!    signed, and a preparation token.
//! 2. [`complete`]: the page sends the signature over those bytes with the token. The revision is
//!    made again from what the token fixes (the document it builds on, the signing moment, the
//!    transaction number, the address, the drawing and the certificates), which gives the same
//!    bytes; the signature must verify there with the certificate's key. Then it is timestamped
//!    like every signer's, stored, and `Sign` records it.
//!
//! The token is stateless: its fields in base64url JSON, then an HMAC under the service's index key
//! (`h5-cacert:` domain-separated), valid [`PREPARATION_TTL`], bound to the link. Nothing is kept
//! between the steps besides the `SignerCertificateVerified` event.

use std::net::IpAddr;
use std::time::Duration;

use aggregates::contract::{
    CertificateFacts, ContractAggregate, ContractCommand, ContractConflict, ContractError,
    IdentityFailure, Sign, VerifyCertificate,
};
use aggregates::values::{
    CertificateSerial, IdCardNumber, LongText, PersonName, SignMethod, SignatureImage,
    TransactionNo,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;

use super::{SignLink, Signed, SigningError, ensure_turn, same};
use crate::app::pipeline::CommandError;
use crate::app::revisions::{self, RevisionSigner, SigningFacts};
use crate::app::sealing::SealingError;
use crate::app::{AppError, Services};
use crate::documents::sign::SignError;
use crate::store::EventMetadata;
use crate::trust::cms::{CmsError, Presigned};
use crate::trust::personal::{self, CertificateRefusal, CheckedCertificate, PersonalRoots};

/// How long a prepared signing may be completed.
pub const PREPARATION_TTL: Duration = Duration::from_secs(10 * 60);

/// Largest CRL (or OCSP answer) read from a certificate's CA.
pub const MAX_REVOCATION_BYTES: usize = 4 * 1024 * 1024;

/// The CAs trusted for personal certificates and how their revocation status is asked.
#[derive(Debug)]
pub struct PersonalTrust {
    pub roots: PersonalRoots,
    client: reqwest::Client,
}

impl PersonalTrust {
    pub fn new(roots: PersonalRoots, timeout: Duration) -> Result<Self, String> {
        let client = crate::providers::outbound::client(timeout).map_err(|e| e.to_string())?;
        Ok(Self { roots, client })
    }

    /// The certificate's revocation status, from what its CA publishes: its CRL distribution
    /// points first, then its OCSP responders; the first usable answer decides. A certificate
    /// naming neither needs no check. When nothing usable answers, the status is unknown and the
    /// certificate is refused: a CA that publishes revocation must be reachable for its
    /// certificates to sign.
    async fn check_revocation(
        &self,
        checked: &CheckedCertificate,
        at: Duration,
    ) -> Result<(), CertificateRefusal> {
        let (leaf, issuer) = (checked.leaf(), checked.issuer());
        let crls = personal::crl_urls(leaf)?;
        let responders = personal::ocsp_urls(leaf)?;
        if crls.is_empty() && responders.is_empty() {
            return Ok(());
        }
        let mut problems = Vec::new();
        for url in &crls {
            let answer = match self.fetch(url, None).await {
                Ok(crl) => personal::check_crl(&crl, leaf, issuer, at),
                Err(problem) => Err(CertificateRefusal::RevocationUnknown(problem)),
            };
            match answer {
                Err(CertificateRefusal::RevocationUnknown(problem)) => {
                    problems.push(format!("CRL {url}: {problem}"));
                }
                decided => return decided,
            }
        }
        let request = personal::ocsp_request(leaf, issuer)?;
        for url in &responders {
            let answer = match self.fetch(url, Some(&request)).await {
                Ok(response) => personal::check_ocsp(&response, leaf, issuer, at),
                Err(problem) => Err(CertificateRefusal::RevocationUnknown(problem)),
            };
            match answer {
                Err(CertificateRefusal::RevocationUnknown(problem)) => {
                    problems.push(format!("OCSP {url}: {problem}"));
                }
                decided => return decided,
            }
        }
        Err(CertificateRefusal::RevocationUnknown(problems.join("; ")))
    }

    /// GETs a CRL, or POSTs an OCSP request, over http(s) with the timeout and the size cap.
    async fn fetch(&self, url: &str, ocsp_request: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("not an http(s) URL".into());
        }
        let request = match ocsp_request {
            Some(body) => self
                .client
                .post(parsed)
                .header("content-type", "application/ocsp-request")
                .body(body.to_vec()),
            None => self.client.get(parsed),
        };
        let mut response = request.send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_REVOCATION_BYTES {
                return Err(format!("larger than {MAX_REVOCATION_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Why a certificate signing step did not happen, beside the link's and the service's reasons.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateFailure {
    /// `[trust] personal_ca_roots` is empty.
    #[error("this deployment trusts no personal CA (trust.personal_ca_roots is empty)")]
    NoTrustedRoots,
    #[error("the signer's sign method is not CA_CERT")]
    NotCaCert,
    #[error(transparent)]
    Refused(CertificateRefusal),
    /// Spec 4.2.1: the certificate must be the signer's. Names the fields that differ.
    #[error("the certificate's {} does not match the signer's", .fields.join(" and "))]
    NotTheSigner { fields: Vec<&'static str> },
    #[error("the signature does not verify with the certificate's key")]
    BadSignature,
    /// The token is forged, for another link, expired, or does not fit what was sent with it.
    #[error("the prepared signing is not valid any more: {0}")]
    Preparation(&'static str),
    /// Another signer's revision came first: prepare again on the document as it is now.
    #[error("the document changed since the signing was prepared")]
    Stale,
}

impl From<CertificateFailure> for SigningError {
    fn from(failure: CertificateFailure) -> Self {
        Self::Certificate(failure)
    }
}

impl From<CertificateRefusal> for SigningError {
    fn from(refusal: CertificateRefusal) -> Self {
        Self::Certificate(CertificateFailure::Refused(refusal))
    }
}

/// What the page shows of the certificate the service accepted.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSummary {
    pub subject: String,
    pub issuer: String,
    pub serial_number: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// The prepared signing: what to sign and the token to complete it with.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub token: String,
    /// DER of the CMS signed attributes (a SET OF): the signer's key signs exactly these bytes.
    pub signed_attributes: Vec<u8>,
    pub certificate: CertificateSummary,
}

/// What the token fixes between the two steps. The wire names are one letter: the token travels
/// in the page and back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Preparation {
    #[serde(rename = "c")]
    contract_id: String,
    #[serde(rename = "p")]
    party_id: String,
    #[serde(rename = "l")]
    link_id: String,
    /// SHA-256 (hex) of the document the revision builds on.
    #[serde(rename = "h")]
    head_hash: String,
    /// The signing moment.
    #[serde(rename = "t")]
    signed_at: DateTime<Utc>,
    /// The transaction number and address the appearance prints.
    #[serde(rename = "x")]
    transaction_no: String,
    ip: IpAddr,
    /// SHA-256 (hex) of the drawing, of the certificates (each DER after its length, in order)
    /// and of the signed attributes.
    #[serde(rename = "i")]
    image_hash: String,
    #[serde(rename = "k")]
    chain_hash: String,
    #[serde(rename = "a")]
    attributes_hash: String,
    /// Unix seconds after which the token is refused.
    #[serde(rename = "e")]
    expires: i64,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn chain_hash(chain: &[Vec<u8>]) -> String {
    let mut hasher = Sha256::new();
    for der in chain {
        hasher.update((der.len() as u64).to_be_bytes());
        hasher.update(der);
    }
    hex::encode(hasher.finalize())
}

fn token_mac(services: &Services, payload: &str) -> String {
    services.pii.blind_index(&format!("h5-cacert:{payload}"))
}

fn seal_token(services: &Services, preparation: &Preparation) -> Result<String, AppError> {
    let json = serde_json::to_vec(preparation).map_err(AppError::internal)?;
    let payload = URL_SAFE_NO_PAD.encode(json);
    let mac = token_mac(services, &payload);
    Ok(format!("{payload}.{mac}"))
}

fn open_token(services: &Services, token: &str) -> Result<Preparation, CertificateFailure> {
    let forged = CertificateFailure::Preparation("the token is not one this service issued");
    let (payload, mac) = token.split_once('.').ok_or(forged.clone())?;
    if !same(mac, &token_mac(services, payload)) {
        return Err(forged);
    }
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| forged.clone())?;
    let preparation: Preparation = serde_json::from_slice(&json).map_err(|_| forged)?;
    if Utc::now().timestamp() > preparation.expires {
        return Err(CertificateFailure::Preparation("the token has expired"));
    }
    Ok(preparation)
}

/// Decodes the base64 DER certificates the page sent (the signer's first).
pub fn decode_chain(chain: &[String]) -> Result<Vec<Vec<u8>>, AppError> {
    if chain.is_empty() || chain.len() > personal::MAX_CHAIN {
        return Err(AppError::invalid(
            "certificates",
            format!("between 1 and {} certificates", personal::MAX_CHAIN),
        ));
    }
    chain
        .iter()
        .map(|text| {
            STANDARD
                .decode(text.trim())
                .map_err(|_| AppError::invalid("certificates", "base64 DER certificates"))
        })
        .collect()
}

fn summary(certificate: &Certificate) -> Result<CertificateSummary, AppError> {
    let tbs = certificate.tbs_certificate();
    let time = |time: &x509_cert::time::Time| {
        let seconds = i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        DateTime::from_timestamp(seconds, 0).ok_or_else(|| AppError::internal("time out of range"))
    };
    Ok(CertificateSummary {
        subject: tbs.subject().to_string(),
        issuer: tbs.issuer().to_string(),
        serial_number: hex::encode_upper(tbs.serial_number().as_bytes()),
        not_before: time(&tbs.validity().not_before)?,
        not_after: time(&tbs.validity().not_after)?,
    })
}

/// What the domain is told of the certificate: its serial, issuer, validity and whom it names.
/// A name or ID number that cannot be one is a mismatch on that field.
fn certificate_facts(
    checked: &CheckedCertificate,
    today: chrono::NaiveDate,
) -> Result<CertificateFacts, SigningError> {
    let summary = summary(checked.leaf())?;
    let mut fields = Vec::new();
    let subject_name = match checked
        .common_name
        .as_deref()
        .and_then(|name| PersonName::parse(name.trim()).ok())
    {
        Some(name) => Some(name),
        None => {
            fields.push("name");
            None
        }
    };
    let subject_id_card_no = match checked.serial_number.as_deref() {
        None => None,
        Some(text) => match IdCardNumber::parse(text.trim(), today) {
            Ok(number) => Some(number),
            Err(_) => {
                fields.push("idCardNo");
                None
            }
        },
    };
    let Some(subject_name) = subject_name.filter(|_| fields.is_empty()) else {
        return Err(CertificateFailure::NotTheSigner { fields }.into());
    };
    Ok(CertificateFacts {
        serial_number: CertificateSerial::parse(&summary.serial_number)
            .map_err(|e| CertificateRefusal::Malformed(format!("serial number: {e}")))?,
        issuer: LongText::parse(&summary.issuer)
            .map_err(|e| CertificateRefusal::Malformed(format!("issuer: {e}")))?,
        subject_name,
        subject_id_card_no,
        not_before: summary.not_before,
        not_after: summary.not_after,
    })
}

/// Logs a refusal with what identifies the attempt; names and ID numbers never appear.
fn refused(link: &SignLink, step: &str, error: &SigningError) {
    match error {
        SigningError::Certificate(failure) => tracing::warn!(
            contract_id = %link.contract_id, party_id = %link.party_id, step, reason = %failure,
            "certificate signing refused; nothing signed"
        ),
        SigningError::Link(refusal) => tracing::warn!(
            contract_id = %link.contract_id, party_id = %link.party_id, step, reason = %refusal,
            "certificate signing refused; nothing signed"
        ),
        SigningError::App(error) => tracing::warn!(
            contract_id = %link.contract_id, party_id = %link.party_id, step, %error,
            "certificate signing failed; nothing signed"
        ),
    }
}

/// The first step: checks the certificate, records the check, prepares the revision and answers
/// what the signer's key must sign.
pub async fn prepare(
    services: &Services,
    link: &SignLink,
    metadata: &EventMetadata,
    ip: IpAddr,
    chain: &[Vec<u8>],
    image: &SignatureImage,
) -> Result<Prepared, SigningError> {
    let result = prepare_inner(services, link, metadata, ip, chain, image).await;
    if let Err(error) = &result {
        refused(link, "prepare", error);
    }
    result
}

async fn prepare_inner(
    services: &Services,
    link: &SignLink,
    metadata: &EventMetadata,
    ip: IpAddr,
    chain_der: &[Vec<u8>],
    image: &SignatureImage,
) -> Result<Prepared, SigningError> {
    let now = Utc::now();
    let live = link.live(now)?;
    ensure_turn(&live)?;
    if live.signer.sign_method != SignMethod::CaCert {
        return Err(CertificateFailure::NotCaCert.into());
    }
    let trust = &services.personal;
    if trust.roots.is_empty() {
        return Err(CertificateFailure::NoTrustedRoots.into());
    }
    let at = crate::trust::unix_seconds(now).map_err(AppError::internal)?;
    let chain = personal::parse_chain(chain_der)?;
    let checked = trust.roots.check(&chain, at)?;
    trust.check_revocation(&checked, at).await?;
    let facts = certificate_facts(&checked, now.date_naive())?;
    let (party_id, link_id) = (live.signer.party_id.clone(), live.link.link_id.clone());
    let verified = services
        .pipeline
        .execute::<ContractAggregate>(&link.stream(), metadata, |_| {
            ContractCommand::VerifyCertificate(VerifyCertificate {
                party_id: party_id.clone(),
                link_id: link_id.clone(),
                certificate: facts.clone(),
                now,
            })
        })
        .await
        .map_err(identity_failure)?;
    let current = SignLink {
        state: verified.state,
        ..link.clone()
    };
    let live = current.live(now)?;
    let head = revisions::document_head(services, live.contract)
        .await
        .map_err(cannot_sign)?;
    let transaction_no = crate::app::ids::new_id("SIGN_TXN");
    let ip_address = ip.to_string();
    let signing = SigningFacts {
        image: Some(image),
        // CA_CERT signers are people: organisations sign with FACE_AND_SMS.
        seal: None,
        transaction_no: &transaction_no,
        ip_address: &ip_address,
        signed_at: now,
    };
    let signed_attributes =
        revisions::signed_attributes(&head, live.signer, signing, &chain[0], &chain[1..])
            .map_err(cannot_sign)?;
    let expires = now + chrono::TimeDelta::from_std(PREPARATION_TTL).map_err(AppError::internal)?;
    let token = seal_token(
        services,
        &Preparation {
            contract_id: link.contract_id.to_string(),
            party_id: link.party_id.to_string(),
            link_id: live.link.link_id.to_string(),
            head_hash: sha256_hex(&head.bytes),
            signed_at: now,
            transaction_no,
            ip,
            image_hash: sha256_hex(image.bytes()),
            chain_hash: chain_hash(chain_der),
            attributes_hash: sha256_hex(&signed_attributes),
            expires: expires.timestamp(),
        },
    )?;
    tracing::info!(contract_id = %link.contract_id, party_id = %link.party_id,
        serial = %facts.serial_number, "personal certificate accepted; signing prepared");
    Ok(Prepared {
        token,
        signed_attributes,
        certificate: summary(&chain[0])?,
    })
}

/// The domain's refusals of a certificate, as the signer is told them.
fn identity_failure(error: CommandError<ContractError>) -> SigningError {
    match error {
        CommandError::Domain(ContractError::IdentityFailed { failure, .. }) => match failure {
            IdentityFailure::Mismatch { fields } => {
                CertificateFailure::NotTheSigner { fields }.into()
            }
            IdentityFailure::CertificateNotValid => CertificateRefusal::NotValidAt.into(),
            IdentityFailure::OtherCertificate => {
                CertificateFailure::Preparation("the certificate is not the one verified").into()
            }
            other => SigningError::App(AppError::from_domain(
                aggregates::ErrorKind::IdentityFailed,
                &other,
                None,
            )),
        },
        CommandError::Domain(ContractError::Conflict(ContractConflict::StaleRevision)) => {
            CertificateFailure::Stale.into()
        }
        other => other.into(),
    }
}

fn cannot_sign(error: SealingError) -> SigningError {
    match error {
        SealingError::Sign(SignError::Cms(CmsError::BadSignature)) => {
            CertificateFailure::BadSignature.into()
        }
        other => AppError::internal(format!("the signature cannot be made: {other}")).into(),
    }
}

/// The second step: the signature over the prepared signed attributes goes into the same
/// revision, which is timestamped, stored and recorded (`Sign`).
#[allow(clippy::too_many_arguments)]
pub async fn complete(
    services: &Services,
    link: &SignLink,
    metadata: &EventMetadata,
    token: &str,
    chain: &[Vec<u8>],
    image: SignatureImage,
    signature: &[u8],
    user_agent: Option<&str>,
) -> Result<Signed, SigningError> {
    let result = complete_inner(
        services, link, metadata, token, chain, image, signature, user_agent,
    )
    .await;
    if let Err(error) = &result {
        refused(link, "complete", error);
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn complete_inner(
    services: &Services,
    link: &SignLink,
    metadata: &EventMetadata,
    token: &str,
    chain_der: &[Vec<u8>],
    image: SignatureImage,
    signature: &[u8],
    user_agent: Option<&str>,
) -> Result<Signed, SigningError> {
    let preparation = open_token(services, token)?;
    let live = link.live(Utc::now())?;
    ensure_turn(&live)?;
    if preparation.contract_id != link.contract_id.as_str()
        || preparation.party_id != link.party_id.as_str()
        || preparation.link_id != live.link.link_id.as_str()
    {
        return Err(CertificateFailure::Preparation("the token is for another link").into());
    }
    if preparation.image_hash != sha256_hex(image.bytes())
        || preparation.chain_hash != chain_hash(chain_der)
    {
        return Err(CertificateFailure::Preparation(
            "the drawing or the certificates differ from the prepared ones",
        )
        .into());
    }
    let chain = personal::parse_chain(chain_der)?;
    let certificate = &chain[0];
    let verified = live
        .link
        .certificate
        .as_ref()
        .ok_or(CertificateFailure::Preparation(
            "no certificate was verified on this link",
        ))?;
    if verified.serial_number.as_str()
        != hex::encode_upper(certificate.tbs_certificate().serial_number().as_bytes())
    {
        return Err(
            CertificateFailure::Preparation("the certificate is not the one verified").into(),
        );
    }
    let head = revisions::document_head(services, live.contract)
        .await
        .map_err(cannot_sign)?;
    if sha256_hex(&head.bytes) != preparation.head_hash {
        return Err(CertificateFailure::Stale.into());
    }
    let signing = SigningFacts {
        image: Some(&image),
        seal: None,
        transaction_no: &preparation.transaction_no,
        ip_address: &preparation.ip.to_string(),
        signed_at: preparation.signed_at,
    };
    // The same facts give the same bytes; if they did not, no signature could fit, so say so
    // rather than blame the signer's key.
    let signed_attributes =
        revisions::signed_attributes(&head, live.signer, signing, certificate, &chain[1..])
            .map_err(cannot_sign)?;
    if sha256_hex(&signed_attributes) != preparation.attributes_hash {
        return Err(AppError::internal("the prepared revision could not be made again").into());
    }
    let key = Presigned {
        certificate: certificate.clone(),
        signature: signature.to_vec(),
    };
    let (bytes, _, record) = revisions::append_signature_as(
        services,
        &head,
        live.signer,
        signing,
        RevisionSigner::Own {
            certificate,
            chain: &chain[1..],
            key: &key,
        },
    )
    .await
    .map_err(cannot_sign)?;
    revisions::store_revision(services, live.contract, live.signer, &bytes, &record)
        .await
        .map_err(cannot_sign)?;
    let (hash, device_info) = super::recorded_facts(&image, user_agent)?;
    let transaction_no =
        TransactionNo::parse(&preparation.transaction_no).map_err(AppError::internal)?;
    let (party_id, link_id) = (live.signer.party_id.clone(), live.link.link_id.clone());
    let executed = services
        .pipeline
        .execute::<ContractAggregate>(&link.stream(), metadata, |_| {
            ContractCommand::Sign(Sign {
                party_id: party_id.clone(),
                link_id: link_id.clone(),
                signature_image: Some(image.clone()),
                signature_image_hash: Some(hash.clone()),
                ip_address: preparation.ip,
                device_info: device_info.clone(),
                transaction_no: transaction_no.clone(),
                revision: Some(record.clone()),
                // The moment the revision states (its /M and appearance) is the one recorded.
                now: preparation.signed_at,
            })
        })
        .await
        .map_err(identity_failure)?;
    tracing::info!(contract_id = %link.contract_id, party_id = %link.party_id,
        serial = %verified.serial_number, "signer signed with their own certificate");
    Ok(super::signed(services, &executed, preparation.transaction_no).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_hash_depends_on_every_certificate_and_their_order() {
        let (a, b) = (vec![1u8, 2], vec![3u8]);
        assert_ne!(
            chain_hash(&[a.clone(), b.clone()]),
            chain_hash(&[b, a.clone()])
        );
        assert_ne!(
            chain_hash(std::slice::from_ref(&a)),
            chain_hash(&[a, Vec::new()])
        );
    }
}
