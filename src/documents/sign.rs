//! Signing a document's pre-allocated field with a PAdES signature: the incremental update of
//! [`super::pades`] carrying a detached CAdES signature (SHA-256, signing-certificate-v2, the
//! signer's certificate and its chain) over the update's byte range.
//!
//! [`sign_field`] makes a B-B signature (each signer's). [`seal_field`] makes the platform seal's
//! B-T signature: the same CMS, with an RFC 3161 signature timestamp over its signature value added
//! as an unsigned attribute before it goes into the document.

use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use super::pades::{self, PadesError, Prepared, Revision, SignatureInfo};
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
    /// No timestamp authority gave a usable token for the seal's signature (the spec's archive
    /// failure, 50003): the document is not sealed.
    #[error("the signature timestamp could not be obtained: {0}")]
    Timestamp(#[source] tsa::ClientError),
}

/// Signs `field` of `pdf`; returns the signed document and the revision facts for the next update.
/// `chain` is what a verifier needs besides its trust anchor (intermediate first, then the root).
pub fn sign_field(
    pdf: &[u8],
    revision: &Revision,
    field: &SignatureField,
    info: &SignatureInfo,
    signer: Signer<'_>,
    chain: &[Certificate],
) -> Result<(Vec<u8>, Revision), SignError> {
    let prepared = pades::prepare(pdf, revision, field, info)?;
    let signature = detached_signature(&prepared, signer, chain)?;
    finish(prepared, revision, &signature)
}

/// Seals `field` of `pdf` (PAdES B-T): like [`sign_field`], and the CMS carries a signature
/// timestamp from `timestamper` over its signature value. Returns the sealed document, the revision
/// facts and the timestamp (for the record of when and by which TSA).
pub async fn seal_field(
    pdf: &[u8],
    revision: &Revision,
    field: &SignatureField,
    info: &SignatureInfo,
    signer: Signer<'_>,
    chain: &[Certificate],
    timestamper: &dyn Timestamper,
) -> Result<(Vec<u8>, Revision, tsa::Timestamp), SignError> {
    let prepared = pades::prepare(pdf, revision, field, info)?;
    let signature = detached_signature(&prepared, signer, chain)?;
    let digest: [u8; 32] = Sha256::digest(cms::signature_value(&signature)?).into();
    let timestamp = timestamper
        .timestamp(&digest)
        .await
        .map_err(SignError::Timestamp)?;
    let signature = cms::add_signature_timestamp(&signature, &timestamp.token)?;
    let (sealed, next) = finish(prepared, revision, &signature)?;
    Ok((sealed, next, timestamp))
}

/// The detached CAdES signature over the prepared update's byte range.
fn detached_signature(
    prepared: &Prepared,
    signer: Signer<'_>,
    chain: &[Certificate],
) -> Result<Vec<u8>, SignError> {
    let digest: [u8; 32] = Sha256::digest(prepared.signed_content()).into();
    // PAdES keeps the claimed signing time in the dictionary's /M, never in a CMS signing-time
    // attribute (ETSI EN 319 142-1, 5.2.2).
    let mut builder = SignedDataBuilder::detached_sha256(oid::DATA, digest, signer)
        .certificate(signer.certificate.clone());
    for certificate in chain {
        builder = builder.certificate(certificate.clone());
    }
    Ok(builder.build()?)
}

fn finish(
    prepared: Prepared,
    revision: &Revision,
    signature: &[u8],
) -> Result<(Vec<u8>, Revision), SignError> {
    let next = Revision {
        size: prepared.size,
        ..revision.clone()
    };
    Ok((pades::embed(prepared, signature)?, next))
}
