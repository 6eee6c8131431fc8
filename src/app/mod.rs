//! The use cases: what esign does for its callers, signers, operators and background jobs, each a
//! function over the [`Services`] handle that knows nothing of HTTP and answers [`AppError`].
//!
//! # Layout
//!
//! - [`services`]: the [`Services`] handle, built from the [`config`], and the background workers.
//! - [`pipeline`]: how every command runs (load, decide, append, project, outbox) in one
//!   transaction; [`error`]: the one error of the use cases; [`ids`]: the ids esign assigns.
//! - [`contracts`], [`templates`]: the contract API (spec 2.1.2, 2.1.3); [`signing`]: a signer's
//!   steps through a sign link (SMS code, face check, signature, rejection); [`short_links`]: the
//!   short links of sign links.
//! - [`verifications`]: face verification (spec 2.1.1), its provider rounds, callbacks and the
//!   degraded check; [`one_time_codes`]: the SMS codes both use.
//! - [`notices`], [`sms_templates`]: payment-verification notices and their templates;
//!   [`invitations`]: the SMS that invites a signer when their turn comes; [`texts`]: the sending,
//!   retry sweep and outcomes both share.
//! - [`revisions`]: the contract document growing one signature at a time, each signer's made at
//!   their moment; [`sealing`], [`archiving`]: from SIGNED to a sealed, timestamped, archived document;
//!   [`document_verification`]: checking a document later (协议验真); [`result_archiving`]: a face
//!   verification's result archived the same way, when its caller asked.
//! - [`expiry`]: contracts, sign links and verifications past their deadline.
//! - [`revocation`]: revoking certificates of the platform CA, and the CRLs and OCSP answers that
//!   publish it.
//! - [`seals`]: organisations and their company seals (administrators), and the seal facts and
//!   pictures the contract side looks up.
//!
//! Nothing here imports the HTTP edge; the edge calls these functions and renders their answers.

pub mod archiving;
pub mod callbacks;
pub mod config;
pub mod contracts;
pub mod document_verification;
pub mod error;
pub mod expiry;
pub mod ids;
pub mod invitations;
pub mod long_term_validation;
pub mod notices;
pub mod one_time_codes;
pub mod pipeline;
pub mod result_archiving;
pub mod revisions;
pub mod revocation;
pub mod sealing;
pub mod seals;
pub mod services;
pub mod short_links;
pub mod signing;
pub mod sms_templates;
pub mod templates;
pub mod texts;
pub mod uploaded_documents;
pub mod verifications;

pub use error::AppError;
pub use services::Services;

use crate::store::EventMetadata;

/// An API client asking for something: who it is (authenticated at the edge), whether it is an
/// administrator, and the metadata its commands carry into the log.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client_id: String,
    pub admin: bool,
    pub metadata: EventMetadata,
}

impl Caller {
    /// Administrators only; anyone else is refused (40300), and the refusal is logged with what
    /// they tried (`action`).
    pub fn require_admin(&self, action: &str) -> Result<(), AppError> {
        if self.admin {
            return Ok(());
        }
        tracing::warn!(client = %self.client_id, action, "refused: an administrator's action asked by another client");
        Err(AppError::Forbidden)
    }

    /// The caller's client id as the domain types it.
    pub fn domain_id(&self) -> Result<aggregates::values::ClientId, AppError> {
        aggregates::values::ClientId::parse(&self.client_id).map_err(AppError::internal)
    }
}

/// Metadata for commands the system runs on its own (`system:<job>`).
pub fn system_metadata(job: &str) -> EventMetadata {
    EventMetadata {
        actor: format!("system:{job}"),
        correlation_id: Some(uuid::Uuid::now_v7().to_string()),
        ..EventMetadata::default()
    }
}

/// The SSRF guard on a request's `callbackUrl` (production only: development accepts local
/// receivers). Scheme and syntax are the domain's to report with every other field; this adds what
/// only DNS can tell.
pub async fn guard_callback_url(services: &Services, url: Option<&str>) -> Result<(), AppError> {
    use crate::providers::ssrf::{SsrfError, check_callback_url};
    let Some(url) = url else { return Ok(()) };
    match check_callback_url(url, services.config.server.mode).await {
        Ok(()) | Err(SsrfError::Malformed | SsrfError::NotHttps) => Ok(()),
        Err(error) => {
            tracing::warn!(%error, "callbackUrl refused by the SSRF guard");
            Err(AppError::invalid("callbackUrl", error))
        }
    }
}

/// One stream's audit trail: every event with its metadata and hash, personal data masked, and
/// whether the chain verifies.
pub async fn audit_trail(
    services: &Services,
    stream: crate::store::StreamId,
) -> Result<crate::read::audit::Timeline, AppError> {
    use crate::store::EventStore;
    let recorded = services.store.read_stream(&stream, 0).await?;
    Ok(crate::read::audit::timeline(
        stream,
        &recorded,
        &services.pii,
    ))
}
