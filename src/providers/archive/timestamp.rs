//! `TSA` and `LOCAL_CA`: an RFC 3161 timestamp token over the document's SHA-256 is the evidence.
//!
//! `TSA` asks the configured authorities in turn through [`crate::providers::tsa::Client`] (which verifies each token
//! before accepting it); `LOCAL_CA` asks esign's own timestamp service in process, the one behind
//! `POST /tsa`. Both store the same evidence: the token (DER, base64) with its genTime, serial
//! number, policy and authority, which `openssl ts -verify` checks against the issuing root.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat, Utc};
use der::{Decode, Encode};
use serde::{Deserialize, Serialize};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;

use super::{
    ArchiveError, ArchiveProvider, ArchiveReceipt, ArchiveRequest, Archiver, ReceiptTrust,
    VerifiedReceipt, VerifyError, parse_hash, serial_hex,
};
use crate::trust::cms;
use crate::trust::tsa::{self, ClientError, TimeStampResp, TsaSigner, TstInfo};

/// `format` of timestamp evidence.
pub const EVIDENCE_FORMAT: &str = "RFC3161";
const HASH_ALGORITHM: &str = "SHA-256";

/// What the evidence of a timestamp holds (`metadata_json`), in camelCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimestampEvidence {
    /// Always [`EVIDENCE_FORMAT`].
    pub format: String,
    /// The token: a DER `ContentInfo` holding `SignedData` over a `TSTInfo`, base64.
    pub token: String,
    /// Always `SHA-256`: the algorithm of the message imprint.
    pub hash_algorithm: String,
    /// The document hash the token's imprint holds, hex.
    pub document_hash: String,
    /// The token's genTime, RFC 3339 (whole seconds).
    pub gen_time: String,
    /// The token's serial number, hex.
    pub serial_number: String,
    /// The authority: the token's `tsa` name, else the TSA certificate's subject.
    pub tsa: String,
    /// The serial number of the certificate that signed the token, hex.
    pub tsa_certificate_serial: String,
    /// The TSA policy the token was issued under (dotted OID).
    pub policy: String,
    /// The URL of the authority that answered (`TSA` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What a token says, as stored and shown.
struct TokenFacts {
    serial_hex: String,
    gen_time: DateTime<Utc>,
    policy: String,
    authority: String,
    tsa_certificate_serial: String,
}

fn token_facts(tst_info: &TstInfo, tsa_certificate: &Certificate) -> Result<TokenFacts, String> {
    let seconds = tst_info.gen_time()?.as_secs();
    let gen_time = i64::try_from(seconds)
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .ok_or_else(|| format!("genTime {seconds} is out of range"))?;
    let authority = match &tst_info.tsa {
        Some(GeneralName::DirectoryName(name)) => name.to_string(),
        Some(GeneralName::DnsName(name)) => name.to_string(),
        Some(GeneralName::UniformResourceIdentifier(uri)) => uri.to_string(),
        _ => tsa_certificate.tbs_certificate().subject().to_string(),
    };
    Ok(TokenFacts {
        serial_hex: hex::encode(tst_info.serial_number.as_bytes()),
        gen_time,
        policy: tst_info.policy.to_string(),
        authority,
        tsa_certificate_serial: serial_hex(tsa_certificate),
    })
}

fn receipt(
    token: &[u8],
    document_hash: &[u8; 32],
    facts: TokenFacts,
    url: Option<String>,
) -> Result<ArchiveReceipt, ArchiveError> {
    let evidence = TimestampEvidence {
        format: EVIDENCE_FORMAT.to_owned(),
        token: BASE64.encode(token),
        hash_algorithm: HASH_ALGORITHM.to_owned(),
        document_hash: hex::encode(document_hash),
        gen_time: facts.gen_time.to_rfc3339_opts(SecondsFormat::Secs, true),
        serial_number: facts.serial_hex.clone(),
        tsa: facts.authority.clone(),
        tsa_certificate_serial: facts.tsa_certificate_serial,
        policy: facts.policy,
        url,
    };
    Ok(ArchiveReceipt {
        transaction_no: facts.serial_hex,
        archived_at: facts.gen_time,
        authority: facts.authority,
        evidence: serde_json::to_value(evidence)
            .map_err(|e| ArchiveError::Failed(format!("timestamp evidence: {e}")))?,
    })
}

/// `TSA`: remote RFC 3161 authorities, the first that answers with a valid token wins.
#[derive(Debug, Clone)]
pub struct TsaArchiver {
    client: crate::providers::tsa::Client,
}

impl TsaArchiver {
    pub fn new(client: crate::providers::tsa::Client) -> Self {
        Self { client }
    }
}

#[async_trait::async_trait]
impl Archiver for TsaArchiver {
    fn provider(&self) -> ArchiveProvider {
        ArchiveProvider::Tsa
    }

    async fn archive(&self, request: &ArchiveRequest) -> Result<ArchiveReceipt, ArchiveError> {
        let timestamp = self
            .client
            .timestamp(&request.document_hash)
            .await
            .map_err(|error| match error {
                ClientError::Unavailable(_) => ArchiveError::Unavailable(error.to_string()),
                ClientError::Rejected { .. } | ClientError::InvalidResponse { .. } => {
                    ArchiveError::Refused(error.to_string())
                }
                ClientError::NoUrls | ClientError::Setup(_) => {
                    ArchiveError::Failed(error.to_string())
                }
            })?;
        // The client checked signature, imprint, nonce and chain; this only reads the token back.
        let signed = cms::verify_signed_data(&timestamp.token, None, &[])
            .map_err(|e| ArchiveError::Refused(format!("the token cannot be read back: {e}")))?;
        let tst_info = TstInfo::from_der(signed.content.as_deref().unwrap_or_default())
            .map_err(|e| ArchiveError::Refused(format!("the token's TSTInfo: {e}")))?;
        let facts = token_facts(&tst_info, &signed.signer).map_err(ArchiveError::Refused)?;
        receipt(
            &timestamp.token,
            &request.document_hash,
            facts,
            Some(timestamp.url),
        )
    }
}

/// `LOCAL_CA`: esign's own timestamp service (the platform CA's TSA certificate), in process.
#[derive(Debug, Clone)]
pub struct LocalCaArchiver {
    signer: Arc<TsaSigner>,
    trust: ReceiptTrust,
}

impl LocalCaArchiver {
    /// `signer` stamps with `ca`'s TSA certificate; each token is checked against `ca`'s root.
    pub fn new(signer: Arc<TsaSigner>, ca: &crate::trust::Ca) -> Self {
        Self {
            signer,
            trust: ReceiptTrust::platform(ca),
        }
    }
}

#[async_trait::async_trait]
impl Archiver for LocalCaArchiver {
    fn provider(&self) -> ArchiveProvider {
        ArchiveProvider::LocalCa
    }

    async fn archive(&self, request: &ArchiveRequest) -> Result<ArchiveReceipt, ArchiveError> {
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| ArchiveError::Failed(e.to_string()))?;
        // Positive, so the INTEGER needs no sign byte.
        let nonce = u64::from_be_bytes(nonce) >> 1;
        let query = tsa::request_der(&request.document_hash, nonce)
            .map_err(|e| ArchiveError::Failed(format!("timestamp request: {e}")))?;
        let (response, outcome) = self.signer.respond(&query, Utc::now());
        if let tsa::Outcome::Rejected { failure, reason } = outcome {
            return Err(ArchiveError::Refused(format!(
                "esign's timestamp service rejected the request ({failure:?}): {reason}"
            )));
        }
        let token = TimeStampResp::from_der(&response)
            .ok()
            .and_then(|response| response.time_stamp_token)
            .ok_or_else(|| ArchiveError::Failed("a granted timestamp without a token".into()))?
            .to_der()
            .map_err(|e| ArchiveError::Failed(e.to_string()))?;
        let verified = tsa::verify_token(
            &token,
            &request.document_hash,
            Some(nonce),
            &self.trust.anchors,
            &self.trust.intermediates,
        )
        .map_err(|e| ArchiveError::Failed(format!("esign's own token does not verify: {e}")))?;
        let facts = token_facts(&verified.tst_info, &verified.tsa_certificate)
            .map_err(ArchiveError::Failed)?;
        receipt(&token, &request.document_hash, facts, None)
    }
}

/// Checks timestamp evidence: the token verifies (signature, signing-certificate, timeStamping
/// usage, chain to an anchor at genTime), its imprint is `document_hash`, and the stored fields say
/// what the token says.
pub(crate) fn verify_evidence(
    provider: ArchiveProvider,
    evidence: &serde_json::Value,
    document_hash: &[u8; 32],
    trust: &ReceiptTrust,
) -> Result<VerifiedReceipt, VerifyError> {
    let evidence = TimestampEvidence::deserialize(evidence)
        .map_err(|e| VerifyError::Malformed(e.to_string()))?;
    if evidence.format != EVIDENCE_FORMAT || evidence.hash_algorithm != HASH_ALGORITHM {
        return Err(VerifyError::Malformed(format!(
            "format {:?} with {:?} is not {EVIDENCE_FORMAT} with {HASH_ALGORITHM}",
            evidence.format, evidence.hash_algorithm
        )));
    }
    if parse_hash(&evidence.document_hash, "documentHash")? != *document_hash {
        return Err(VerifyError::OtherDocument);
    }
    let token = BASE64
        .decode(&evidence.token)
        .map_err(|e| VerifyError::Malformed(format!("token: {e}")))?;
    let verified = tsa::verify_token(
        &token,
        document_hash,
        None,
        &trust.anchors,
        &trust.intermediates,
    )
    .map_err(VerifyError::Invalid)?;
    let facts =
        token_facts(&verified.tst_info, &verified.tsa_certificate).map_err(VerifyError::Invalid)?;
    let stated = (
        evidence.serial_number.as_str(),
        evidence.gen_time.as_str(),
        evidence.tsa.as_str(),
        evidence.policy.as_str(),
    );
    let gen_time = facts.gen_time.to_rfc3339_opts(SecondsFormat::Secs, true);
    if stated
        != (
            facts.serial_hex.as_str(),
            gen_time.as_str(),
            facts.authority.as_str(),
            facts.policy.as_str(),
        )
    {
        return Err(VerifyError::Invalid(
            "the stored serial, genTime, authority or policy is not what the token says".into(),
        ));
    }
    Ok(VerifiedReceipt {
        provider,
        transaction_no: facts.serial_hex,
        archived_at: facts.gen_time,
        authority: facts.authority,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::ca::NewCa;

    fn archiver() -> (Arc<crate::trust::Ca>, LocalCaArchiver) {
        let ca = Arc::new(NewCa::generate("esign", Utc::now()).unwrap().ca);
        let policy = crate::trust::parse_tsa_policy(crate::trust::DEFAULT_TSA_POLICY).unwrap();
        let signer = Arc::new(ca.tsa_signer(policy));
        let archiver = LocalCaArchiver::new(signer, &ca);
        (ca, archiver)
    }

    fn request(document: &[u8]) -> ArchiveRequest {
        ArchiveRequest {
            archive_id: "ARCHIVE_1".into(),
            contract_id: "CONTRACT_1".into(),
            document_hash: crate::trust::sha256(document),
            requested_at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn a_local_ca_receipt_verifies_for_its_document_only() {
        let (ca, archiver) = archiver();
        let request = request(b"signed.pdf");
        let receipt = archiver.archive(&request).await.unwrap();
        assert_eq!(archiver.provider(), ArchiveProvider::LocalCa);
        assert!(
            receipt.authority.contains("esign Timestamp Authority"),
            "{}",
            receipt.authority
        );
        assert_eq!(receipt.evidence["serialNumber"], receipt.transaction_no);
        assert_eq!(receipt.evidence["policy"], crate::trust::DEFAULT_TSA_POLICY);
        assert!(receipt.evidence.get("url").is_none());

        let trust = ReceiptTrust::platform(&ca);
        let verified = super::super::verify_receipt(
            ArchiveProvider::LocalCa,
            &receipt.evidence,
            &request.document_hash,
            &trust,
        )
        .unwrap();
        assert_eq!(verified.transaction_no, receipt.transaction_no);
        assert_eq!(verified.archived_at, receipt.archived_at);
        assert_eq!(verified.authority, receipt.authority);

        let other = crate::trust::sha256(b"another.pdf");
        assert_eq!(
            verify_evidence(ArchiveProvider::LocalCa, &receipt.evidence, &other, &trust),
            Err(VerifyError::OtherDocument)
        );
        // Claiming the other document in the stored fields does not help: the imprint says no.
        let mut claimed = receipt.evidence.clone();
        claimed["documentHash"] = hex::encode(other).into();
        assert!(matches!(
            verify_evidence(ArchiveProvider::LocalCa, &claimed, &other, &trust),
            Err(VerifyError::Invalid(_))
        ));
        // Stored fields that disagree with the token are caught.
        let mut edited = receipt.evidence.clone();
        edited["genTime"] = "2000-01-01T00:00:00Z".into();
        assert!(matches!(
            verify_evidence(
                ArchiveProvider::LocalCa,
                &edited,
                &request.document_hash,
                &trust
            ),
            Err(VerifyError::Invalid(_))
        ));
        // Another CA's root does not vouch for the token.
        let stranger = NewCa::generate("stranger", Utc::now()).unwrap().ca;
        assert!(matches!(
            verify_evidence(
                ArchiveProvider::LocalCa,
                &receipt.evidence,
                &request.document_hash,
                &ReceiptTrust::platform(&stranger)
            ),
            Err(VerifyError::Invalid(_))
        ));
        assert!(matches!(
            verify_evidence(
                ArchiveProvider::LocalCa,
                &serde_json::json!({"token": 1}),
                &request.document_hash,
                &trust
            ),
            Err(VerifyError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn each_local_ca_archive_gets_its_own_token() {
        let (_, archiver) = archiver();
        let first = archiver.archive(&request(b"one")).await.unwrap();
        let second = archiver.archive(&request(b"one")).await.unwrap();
        assert_ne!(first.transaction_no, second.transaction_no);
    }
}
