//! The contract document as it grows, one signature at a time (see docs/trust.md, "The signature
//! timeline").
//!
//! The first revision is fixed at initiation: it is rendered from the initiation facts alone (the
//! template version, its variables, the signers' names and masked ID numbers), so rendering it again
//! gives the same bytes. When a signer confirms, [`sign_at_moment`] takes the document as it stands
//! (the first revision, or the revision of the signer before, read back from the document store by
//! the hash the log recorded), appends an incremental update that draws their handwritten signature
//! into their box and signs it with a certificate issued then, asks the timestamp authorities for a
//! signature timestamp over it (PAdES B-T), stores the result under its hash and hands back the
//! facts the `SignerSigned` event records. Sealing later appends the platform seal and a document
//! timestamp to the last of these revisions.
//!
//! When no timestamp authority answers at a signer's moment, the signer's signing still happens:
//! the signature is made without a timestamp (B-B) and the event says so (no `timestampedAt`). No
//! time is claimed for it that nothing proves; the next timestamp in the document (a later signer's,
//! the platform seal's, the closing document timestamp) proves the signature existed by then.

use aggregates::contract::{Contract, SealSignature, SignedRevision, Signer};
use aggregates::values::{CertificateSerial, Digest, LongText, PartyId, SignatureImage};
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use der::Decode;
use x509_cert::Certificate;

use super::Services;
use super::sealing::{SealingError, document_storage_key, render_content};
use crate::documents::appearance::Appearance;
use crate::documents::contract::{beijing_time, signer_field_name};
use crate::documents::pades::{Revision, SignatureInfo};
use crate::documents::pdf::RenderedPdf;
use crate::documents::seal::signature_field;
use crate::documents::sign::{FieldSignature, sign_field_timestamped_if_available};
use crate::documents::storage::sha256_hex;
use crate::trust::cms::{SignatureSource, Signer as CmsSigner};
use crate::trust::timestamper::LOCAL;

/// Why signers sign (the signature dictionary's `/Reason`).
const SIGNER_REASON: &str = "同意签署本协议";
/// Why an organisation's seal is applied.
const ORGANIZATION_REASON: &str = "同意签署本协议并加盖印章";

/// The document as it stands: its first revision as rendered, and its bytes so far.
#[derive(Debug)]
pub struct DocumentHead {
    pub rendered: RenderedPdf,
    /// SHA-256 of the first revision.
    pub content_sha256: [u8; 32],
    pub bytes: Vec<u8>,
    pub revision: Revision,
}

/// The first revision rendered again, and the latest signed revision read back from the store (or
/// the first revision itself before anyone signed).
pub async fn document_head(
    state: &Services,
    contract: &Contract,
) -> Result<DocumentHead, SealingError> {
    let content = render_content(state, contract).await?;
    let bytes = match contract.document_head() {
        Some(head) => {
            state
                .documents
                .get(
                    &document_storage_key(contract.contract_id.as_str(), head.as_hex()),
                    head.as_hex(),
                )
                .await?
        }
        None => content.rendered.bytes.clone(),
    };
    let revision = Revision::continuing(&content.rendered, &bytes)
        .map_err(|error| SealingError::Value(error.to_string()))?;
    Ok(DocumentHead {
        rendered: content.rendered,
        content_sha256: content.sha256,
        bytes,
        revision,
    })
}

/// What the signer's signature shows: their drawing, an organisation's seal, or both, and what
/// the platform recorded.
#[derive(Debug, Clone, Copy)]
pub struct SigningFacts<'a> {
    pub image: Option<&'a SignatureImage>,
    /// The PNG of the seal an organisation signer applies (the version pinned at initiation).
    pub seal: Option<&'a [u8]>,
    pub transaction_no: &'a str,
    pub ip_address: &'a str,
    pub signed_at: DateTime<Utc>,
}

/// Whose certificate a signer's revision is signed with.
#[derive(Debug, Clone, Copy)]
pub enum RevisionSigner<'a> {
    /// A fresh event certificate the platform CA issues for this moment (FACE_AND_SMS), with its
    /// key generated here.
    EventCertificate,
    /// The signer's own certificate (CA_CERT): its chain, and what signs for it (a signature the
    /// signer made in their browser; the key is never here).
    Own {
        certificate: &'a Certificate,
        chain: &'a [Certificate],
        key: &'a dyn SignatureSource,
    },
}

/// The signer's signature appended to `head` now with an event certificate issued at
/// `facts.signed_at` (see [`append_signature_as`]).
pub async fn append_signature(
    state: &Services,
    head: &DocumentHead,
    signer: &Signer,
    facts: SigningFacts<'_>,
) -> Result<(Vec<u8>, Revision, SignedRevision), SealingError> {
    append_signature_as(state, head, signer, facts, RevisionSigner::EventCertificate).await
}

/// The signer's signature appended to `head` now: signed as `how` says, with their appearance and
/// a signature timestamp when an authority answers. Returns the grown document (not yet stored)
/// and what the log records of it.
pub async fn append_signature_as(
    state: &Services,
    head: &DocumentHead,
    signer: &Signer,
    facts: SigningFacts<'_>,
    how: RevisionSigner<'_>,
) -> Result<(Vec<u8>, Revision, SignedRevision), SealingError> {
    let platform = state.platform_seal.as_ref().ok_or(SealingError::NoCa)?;
    let issued;
    let event_certificate;
    let platform_chain;
    let (certificate, key, chain): (&Certificate, &dyn SignatureSource, &[Certificate]) = match how
    {
        RevisionSigner::EventCertificate => {
            issued = issue_event_certificate(state, signer, facts.signed_at)?;
            event_certificate = Certificate::from_der(&issued.certificate_der)
                .map_err(|error| SealingError::Value(error.to_string()))?;
            platform_chain = platform.chain()?;
            (&event_certificate, &issued.key, &platform_chain)
        }
        RevisionSigner::Own {
            certificate,
            chain,
            key,
        } => (certificate, key, chain),
    };
    let appearance = appearance(&facts);
    let info = signature_info(signer, &facts);
    let field = signature_field(&head.rendered, &signer_field_name(signer.party_id.as_str()))?;
    let signed = sign_field_timestamped_if_available(
        &head.bytes,
        &head.revision,
        FieldSignature {
            field,
            info: &info,
            appearance: appearance.as_ref(),
            signer: CmsSigner { certificate, key },
            chain,
        },
        platform.timestamper().as_ref(),
    )
    .await?;
    let record = SignedRevision {
        document_hash: digest(&sha256_hex(&signed.bytes))?,
        previous_hash: digest(&sha256_hex(&head.bytes))?,
        certificate: certificate_facts(Some(signer.party_id.clone()), certificate)?,
        timestamp_authority: signed
            .timestamp
            .as_ref()
            .map(|timestamp| long_text(&timestamp_authority(timestamp)))
            .transpose()?,
        timestamped_at: signed
            .timestamp
            .as_ref()
            .map(|timestamp| time_of(timestamp.gen_time)),
    };
    Ok((signed.bytes, signed.revision, record))
}

/// The DER of the CMS signed attributes the signer's own key must sign for their revision on
/// `head` (see [`RevisionSigner::Own`]): the same update [`append_signature_as`] then writes, so the
/// signature made over these bytes fits it exactly.
pub fn signed_attributes(
    head: &DocumentHead,
    signer: &Signer,
    facts: SigningFacts<'_>,
    certificate: &Certificate,
    chain: &[Certificate],
) -> Result<Vec<u8>, SealingError> {
    // Nothing is signed here: the key only has to name the algorithm.
    let unsigned = crate::trust::cms::Presigned {
        certificate: certificate.clone(),
        signature: Vec::new(),
    };
    let appearance = appearance(&facts);
    let info = signature_info(signer, &facts);
    let field = signature_field(&head.rendered, &signer_field_name(signer.party_id.as_str()))?;
    Ok(crate::documents::sign::signed_attributes(
        &head.bytes,
        &head.revision,
        FieldSignature {
            field,
            info: &info,
            appearance: appearance.as_ref(),
            signer: CmsSigner {
                certificate,
                key: &unsigned,
            },
            chain,
        },
    )?)
}

fn issue_event_certificate(
    state: &Services,
    signer: &Signer,
    signed_at: DateTime<Utc>,
) -> Result<crate::trust::IssuedCertificate, SealingError> {
    let platform = state.platform_seal.as_ref().ok_or(SealingError::NoCa)?;
    let minutes = i64::try_from(state.config.trust.event_certificate_minutes)
        .map_err(|error| SealingError::Value(error.to_string()))?;
    // The certificate starts in the second it is issued, never before: X.509 times have whole
    // seconds, so the start is that second, which is not later than the signing moment.
    let not_before = signed_at.with_nanosecond(0).unwrap_or(signed_at);
    let validity = TimeDelta::minutes(minutes)
        .to_std()
        .map_err(|error| SealingError::Value(error.to_string()))?;
    let masked_id = signer.id_card_no.masked();
    Ok(match &signer.organization {
        None => platform.ca().issue_event_certificate(
            signer.name.as_str(),
            &masked_id,
            not_before,
            validity,
        )?,
        Some(organization) => platform.ca().issue_organization_certificate(
            organization.name.as_str(),
            organization.credit_code.as_str(),
            signer.name.as_str(),
            &masked_id,
            not_before,
            validity,
        )?,
    })
}

fn appearance(facts: &SigningFacts<'_>) -> Option<Appearance> {
    // The seal first, where a reader looks for it, then the handwriting beside it.
    let images: Vec<Vec<u8>> = facts
        .seal
        .map(<[u8]>::to_vec)
        .into_iter()
        .chain(facts.image.map(|image| image.bytes().to_vec()))
        .collect();
    (!images.is_empty()).then(|| Appearance {
        images,
        lines: appearance_lines(facts),
    })
}

fn signature_info(signer: &Signer, facts: &SigningFacts<'_>) -> SignatureInfo {
    SignatureInfo {
        // An organisation signs as itself; its certificate names the person who acted for it.
        name: signer.organization.as_ref().map_or_else(
            || signer.name.to_string(),
            |organization| organization.name.to_string(),
        ),
        reason: if signer.organization.is_some() {
            ORGANIZATION_REASON
        } else {
            SIGNER_REASON
        }
        .to_owned(),
        location: None,
        signed_at: facts.signed_at,
    }
}

/// The signer's signature made now on the contract's document as it stands, stored under its
/// hash; the facts for their `SignerSigned` event.
pub async fn sign_at_moment(
    state: &Services,
    contract: &Contract,
    signer: &Signer,
    facts: SigningFacts<'_>,
) -> Result<SignedRevision, SealingError> {
    let head = document_head(state, contract).await?;
    let (bytes, _, record) = append_signature(state, &head, signer, facts).await?;
    store_revision(state, contract, signer, &bytes, &record).await?;
    Ok(record)
}

/// The seal image an organisation signer applies: the version pinned at initiation, read back
/// from the document store and checked against its hash. `None` for a person.
pub async fn organization_seal(
    state: &Services,
    signer: &Signer,
) -> Result<Option<Vec<u8>>, SealingError> {
    let Some(organization) = &signer.organization else {
        return Ok(None);
    };
    Ok(Some(
        super::seals::stored_picture(state, &organization.seal_id, &organization.seal_image_hash)
            .await?,
    ))
}

/// Stores a signer's revision under its hash, before the log names it.
pub async fn store_revision(
    state: &Services,
    contract: &Contract,
    signer: &Signer,
    bytes: &[u8],
    record: &SignedRevision,
) -> Result<(), SealingError> {
    state
        .documents
        .put(
            &document_storage_key(contract.contract_id.as_str(), record.document_hash.as_hex()),
            bytes,
        )
        .await?;
    tracing::info!(
        contract_id = %contract.contract_id,
        party_id = %signer.party_id,
        timestamped = record.timestamped_at.is_some(),
        "signer's signature made"
    );
    Ok(())
}

/// What the appearance prints under the drawing: printable ASCII only (see
/// `documents::appearance`).
fn appearance_lines(facts: &SigningFacts<'_>) -> Vec<String> {
    let time = beijing_time(facts.signed_at);
    // "2026-12-07 21:05:03 (北京时间 UTC+8)" -> "2026-12-07 21:05:03 UTC+8"
    let time = time.split(" (").next().unwrap_or(&time).to_owned();
    vec![
        format!("Signed {time} UTC+8"),
        format!("Txn {}", facts.transaction_no),
        format!("IP {}", facts.ip_address),
    ]
}

pub(crate) fn timestamp_authority(timestamp: &crate::trust::tsa::Timestamp) -> String {
    if timestamp.url == LOCAL {
        "esign LOCAL_CA".to_owned()
    } else {
        timestamp.url.clone()
    }
}

pub(crate) fn time_of(since_epoch: std::time::Duration) -> DateTime<Utc> {
    let seconds = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
    DateTime::from_timestamp(seconds, since_epoch.subsec_nanos())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

pub(super) fn digest(hex_text: &str) -> Result<Digest, SealingError> {
    Digest::parse(hex_text).map_err(|error| SealingError::Value(error.to_string()))
}

pub(super) fn long_text(text: &str) -> Result<LongText, SealingError> {
    LongText::parse(text).map_err(|error| SealingError::Value(error.to_string()))
}

/// The facts of one signature's certificate, as the events keep them.
pub(super) fn certificate_facts(
    party_id: Option<PartyId>,
    certificate: &Certificate,
) -> Result<SealSignature, SealingError> {
    let tbs = certificate.tbs_certificate();
    let validity = tbs.validity();
    let time = |time: &x509_cert::time::Time| {
        let seconds = i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        DateTime::from_timestamp(seconds, 0)
            .ok_or_else(|| SealingError::Value("a certificate time out of range".into()))
    };
    Ok(SealSignature {
        party_id,
        certificate_serial: CertificateSerial::parse(&hex::encode_upper(
            tbs.serial_number().as_bytes(),
        ))
        .map_err(|error| SealingError::Value(error.to_string()))?,
        issuer: long_text(&tbs.issuer().to_string())?,
        not_before: time(&validity.not_before)?,
        not_after: time(&validity.not_after)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_appearance_prints_beijing_time_the_transaction_and_the_address() {
        let facts = SigningFacts {
            image: None,
            seal: None,
            transaction_no: "SIGN_TXN_1",
            ip_address: "203.0.113.7",
            signed_at: DateTime::parse_from_rfc3339("2026-12-07T13:05:03Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        assert_eq!(
            appearance_lines(&facts),
            [
                "Signed 2026-12-07 21:05:03 UTC+8",
                "Txn SIGN_TXN_1",
                "IP 203.0.113.7"
            ]
        );
    }

    #[test]
    fn timestamp_times_keep_their_fraction() {
        let time = time_of(std::time::Duration::new(1_800_000_000, 250_000_000));
        assert_eq!(time.timestamp(), 1_800_000_000);
        assert_eq!(time.timestamp_subsec_millis(), 250);
    }
}
