//! Signing a document's pre-allocated field with a PAdES signature: the incremental update of
//! [`super::pades`] carrying a detached CAdES signature (SHA-256, signing-certificate-v2, the
//! signer's certificate and its chain) over the update's byte range.
//!
//! [`sign_field`] makes a B-B signature. [`sign_field_timestamped`] makes a B-T signature: the same
//! CMS, with an RFC 3161 signature timestamp over its signature value added as an unsigned
//! attribute before it goes into the document, and no signature when no timestamp authority
//! answers; [`sign_field_timestamped_if_available`] makes the signature all the same then (B-B).
//! [`timestamp_document`] fills a field with an RFC 3161 document timestamp over everything before
//! it.

use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use super::appearance::Appearance;
use super::pades::{self, Filling, PadesError, Prepared, Revision, SignatureInfo};
use super::pdf::SignatureField;
use crate::trust::cms::{self, CmsError, SignedDataBuilder, Signer};
use crate::trust::oid;
use crate::trust::timestamper::Timestamper;
use crate::trust::tsa;

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(transparent)]
    Pades(#[from] PadesError),
    #[error("the CMS signature cannot be built: {0}")]
    Cms(#[from] CmsError),
    /// No timestamp authority gave a usable token where one was required (the spec's archive
    /// failure, 50003): nothing is signed.
    #[error("the signature timestamp could not be obtained: {0}")]
    Timestamp(#[source] tsa::ClientError),
}

/// What a signature is made of: who signs, how the field shows it, with which certificates.
#[derive(Debug, Clone, Copy)]
pub struct FieldSignature<'a> {
    pub field: &'a SignatureField,
    pub info: &'a SignatureInfo,
    pub appearance: Option<&'a Appearance>,
    pub signer: Signer<'a>,
    /// What a verifier needs besides its trust anchor (intermediate first, then the root).
    pub chain: &'a [Certificate],
}

/// A signature made into a document, with the timestamp it carries if it got one.
#[derive(Debug)]
pub struct Signed {
    pub bytes: Vec<u8>,
    /// The facts the next update builds on.
    pub revision: Revision,
    pub timestamp: Option<tsa::Timestamp>,
}

/// A signature or document timestamp made into a document, with its timestamp.
#[derive(Debug)]
pub struct Stamped {
    pub bytes: Vec<u8>,
    /// The facts the next update builds on.
    pub revision: Revision,
    pub timestamp: tsa::Timestamp,
}

/// Signs the field of `pdf` with no timestamp (PAdES B-B).
pub fn sign_field(
    pdf: &[u8],
    revision: &Revision,
    signature: FieldSignature<'_>,
) -> Result<(Vec<u8>, Revision), SignError> {
    let (prepared, cms) = prepare_and_sign(pdf, revision, signature)?;
    finish(prepared, revision, &cms)
}

/// Signs the field of `pdf` with a signature timestamp from `timestamper` (PAdES B-T); without
/// one, nothing is signed (the platform seal: sealing is retried until an authority answers).
pub async fn sign_field_timestamped(
    pdf: &[u8],
    revision: &Revision,
    signature: FieldSignature<'_>,
    timestamper: &dyn Timestamper,
) -> Result<Stamped, SignError> {
    let (prepared, cms) = prepare_and_sign(pdf, revision, signature)?;
    let timestamp = timestamp_signature(&cms, timestamper)
        .await?
        .map_err(SignError::Timestamp)?;
    let cms = cms::add_signature_timestamp(&cms, &timestamp.token)?;
    let (bytes, revision) = finish(prepared, revision, &cms)?;
    Ok(Stamped {
        bytes,
        revision,
        timestamp,
    })
}

/// As [`sign_field_timestamped`], but when no authority answers the signature is made without its
/// timestamp (B-B) and says so: a signer must not lose their signing to an outage, and the
/// document's later timestamps prove the time it existed by.
pub async fn sign_field_timestamped_if_available(
    pdf: &[u8],
    revision: &Revision,
    signature: FieldSignature<'_>,
    timestamper: &dyn Timestamper,
) -> Result<Signed, SignError> {
    let (prepared, cms) = prepare_and_sign(pdf, revision, signature)?;
    let (cms, timestamp) = match timestamp_signature(&cms, timestamper).await? {
        Ok(timestamp) => (
            cms::add_signature_timestamp(&cms, &timestamp.token)?,
            Some(timestamp),
        ),
        Err(error) => {
            tracing::warn!(%error, field = %signature.field.name,
                "no timestamp authority answered; the signature is made without its timestamp");
            (cms, None)
        }
    };
    let (bytes, revision) = finish(prepared, revision, &cms)?;
    Ok(Signed {
        bytes,
        revision,
        timestamp,
    })
}

/// A token over the SHA-256 of the CMS's signature value, or why no authority gave one.
async fn timestamp_signature(
    cms: &[u8],
    timestamper: &dyn Timestamper,
) -> Result<Result<tsa::Timestamp, tsa::ClientError>, SignError> {
    let digest: [u8; 32] = Sha256::digest(cms::signature_value(cms)?).into();
    Ok(timestamper.timestamp(&digest).await)
}

/// Fills `field` of `pdf` with a document timestamp (`/DocTimeStamp`) over everything before it.
pub async fn timestamp_document(
    pdf: &[u8],
    revision: &Revision,
    field: &SignatureField,
    timestamper: &dyn Timestamper,
) -> Result<Stamped, SignError> {
    let prepared = pades::prepare(pdf, revision, field, Filling::DocumentTimestamp)?;
    let digest: [u8; 32] = Sha256::digest(prepared.signed_content()).into();
    let timestamp = timestamper
        .timestamp(&digest)
        .await
        .map_err(SignError::Timestamp)?;
    let (bytes, revision) = finish(prepared, revision, &timestamp.token)?;
    Ok(Stamped {
        bytes,
        revision,
        timestamp,
    })
}

/// The DER of the signed attributes the CMS of [`sign_field`] (and its timestamped forms) would
/// carry for `signature`: what a signer whose key is elsewhere signs. `signature.signer.key` is
/// not used. The update is deterministic, so signing its field again with the same facts and
/// that signature (a [`cms::Presigned`]) makes exactly this signature.
pub fn signed_attributes(
    pdf: &[u8],
    revision: &Revision,
    signature: FieldSignature<'_>,
) -> Result<Vec<u8>, SignError> {
    let (_, builder) = prepare_builder(pdf, revision, signature)?;
    Ok(builder.signed_attributes_der()?)
}

/// The update with its placeholder, and the CMS builder for its byte range.
fn prepare_builder<'a>(
    pdf: &[u8],
    revision: &Revision,
    signature: FieldSignature<'a>,
) -> Result<(Prepared, SignedDataBuilder<'a>), SignError> {
    let prepared = pades::prepare(
        pdf,
        revision,
        signature.field,
        Filling::Signature {
            info: signature.info,
            appearance: signature.appearance,
        },
    )?;
    let digest: [u8; 32] = Sha256::digest(prepared.signed_content()).into();
    // PAdES keeps the claimed signing time in the dictionary's /M, never in a CMS signing-time
    // attribute (ETSI EN 319 142-1, 5.2.2).
    let mut builder = SignedDataBuilder::detached_sha256(oid::DATA, digest, signature.signer)
        .certificate(signature.signer.certificate.clone());
    for certificate in signature.chain {
        builder = builder.certificate(certificate.clone());
    }
    Ok((prepared, builder))
}

/// The update with its placeholder, and the detached CAdES signature over its byte range.
fn prepare_and_sign(
    pdf: &[u8],
    revision: &Revision,
    signature: FieldSignature<'_>,
) -> Result<(Prepared, Vec<u8>), SignError> {
    let (prepared, builder) = prepare_builder(pdf, revision, signature)?;
    let cms = builder.build()?;
    Ok((prepared, cms))
}

fn finish(
    prepared: Prepared,
    revision: &Revision,
    contents: &[u8],
) -> Result<(Vec<u8>, Revision), SignError> {
    let next = Revision {
        size: prepared.size,
        ..revision.clone()
    };
    Ok((pades::embed(prepared, contents)?, next))
}
