//! Signing a document's pre-allocated field with a PAdES signature (B-B): the incremental update of
//! [`super::pades`] carrying a detached CAdES signature (SHA-256, signing-certificate-v2, the
//! signer's certificate and its chain) over the update's byte range.

use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use super::pades::{self, PadesError, Revision, SignatureInfo};
use super::pdf::SignatureField;
use crate::trust::cms::{CmsError, SignedDataBuilder, Signer};
use crate::trust::oid;

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(transparent)]
    Pades(#[from] PadesError),
    #[error("the CMS signature cannot be built: {0}")]
    Cms(#[from] CmsError),
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
    let digest: [u8; 32] = Sha256::digest(prepared.signed_content()).into();
    // PAdES keeps the claimed signing time in the dictionary's /M, never in a CMS signing-time
    // attribute (ETSI EN 319 142-1, 5.2.2).
    let mut builder = SignedDataBuilder::detached_sha256(oid::DATA, digest, signer)
        .certificate(signer.certificate.clone());
    for certificate in chain {
        builder = builder.certificate(certificate.clone());
    }
    let signature = builder.build()?;
    let next = Revision {
        size: prepared.size,
        ..revision.clone()
    };
    Ok((pades::embed(prepared, &signature)?, next))
}
