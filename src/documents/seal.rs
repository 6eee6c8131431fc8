//! The platform's own seal: its seal certificate from the CA, with an RFC 3161 timestamp on every
//! seal (PAdES B-T). It seals every contract document last, and signs what esign issues in its own
//! name (archive certificates, evidence reports).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use der::Decode;
use x509_cert::Certificate;

use super::contract::PLATFORM_SEAL_FIELD;
use super::pades::{Revision, SignatureInfo};
use super::pdf::{self, Layout, PdfError, RenderedPdf, SignatureField};
use super::sign::{FieldSignature, SignError, Stamped, sign_field_timestamped};
use crate::trust::ca::Ca;
use crate::trust::cms::Signer;
use crate::trust::timestamper::Timestamper;

/// Why the platform could not seal.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the document cannot be rendered: {0}")]
    Render(#[from] PdfError),
    #[error("the document cannot be signed: {0}")]
    Sign(#[from] SignError),
    #[error("the signature field {0} is missing from the rendered document")]
    MissingField(String),
    #[error("a recorded value does not fit: {0}")]
    Certificate(String),
}

const SEAL_REASON: &str = "平台签章与时间戳";

/// The signature field `name` of a rendered document.
pub fn signature_field<'a>(
    rendered: &'a RenderedPdf,
    name: &str,
) -> Result<&'a SignatureField, SealError> {
    rendered
        .fields
        .iter()
        .find(|field| field.name == name)
        .ok_or_else(|| SealError::MissingField(name.to_owned()))
}

/// The platform's own signature: its seal certificate from the CA, with an RFC 3161 timestamp on
/// every seal (PAdES B-T). Also signs what esign issues in its own name (archive certificates,
/// evidence reports).
#[derive(Debug)]
pub struct PlatformSeal {
    ca: Arc<Ca>,
    timestamper: Arc<dyn Timestamper>,
    organization: String,
}

impl PlatformSeal {
    pub fn new(ca: Arc<Ca>, timestamper: Arc<dyn Timestamper>, organization: String) -> Self {
        Self {
            ca,
            timestamper,
            organization,
        }
    }

    pub fn ca(&self) -> &Ca {
        &self.ca
    }

    pub fn timestamper(&self) -> &Arc<dyn Timestamper> {
        &self.timestamper
    }

    /// The certificates a verifier needs besides the root it trusts.
    pub fn chain(&self) -> Result<Vec<Certificate>, SealError> {
        self.ca
            .chain()
            .iter()
            .map(|der| Certificate::from_der(der))
            .collect::<Result<_, _>>()
            .map_err(|error| SealError::Certificate(error.to_string()))
    }

    /// Signs the `PlatformSeal` field of `rendered` (as grown to `bytes` at `revision`) with a
    /// signature timestamp, which it must get; `chain` is [`Self::chain`].
    pub async fn seal_revision(
        &self,
        bytes: &[u8],
        revision: &Revision,
        rendered: &RenderedPdf,
        chain: &[Certificate],
        now: DateTime<Utc>,
    ) -> Result<Stamped, SealError> {
        let seal = self.ca.seal();
        let signed = sign_field_timestamped(
            bytes,
            revision,
            FieldSignature {
                field: signature_field(rendered, PLATFORM_SEAL_FIELD)?,
                info: &SignatureInfo {
                    name: self.organization.clone(),
                    reason: SEAL_REASON.to_owned(),
                    location: None,
                    signed_at: now,
                },
                appearance: None,
                signer: Signer {
                    certificate: &seal.certificate,
                    key: &seal.key,
                },
                chain,
            },
            self.timestamper.as_ref(),
        )
        .await?;
        Ok(signed)
    }

    /// Renders `layout` (which must have a `PlatformSeal` signature field) and seals it.
    pub async fn seal_layout(
        &self,
        layout: &Layout,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, SealError> {
        let rendered = pdf::render(layout)?;
        let sealed = self
            .seal_revision(
                &rendered.bytes,
                &Revision::of(&rendered),
                &rendered,
                &self.chain()?,
                now,
            )
            .await?;
        Ok(sealed.bytes)
    }
}
