//! Long-term validation of sealed documents (PAdES B-LT and B-LTA; docs/trust.md, "Long-term
//! validation").
//!
//! A signature stays verifiable after its certificates expire, and after the CA that issued them is
//! gone, only if the document itself holds what a verifier needs (every certificate and the
//! revocation status of each as it was) and a timestamp proves that data existed then. Closing a
//! document therefore appends a Document Security Store with the certificates of every signature
//! and timestamp in it, an OCSP answer for each certificate the platform's intermediate issued, and
//! the intermediate's and root's CRLs, and then a document timestamp over the whole.
//!
//! A timestamp is only as durable as its authority's certificate. Before the last document
//! timestamp's certificate expires, [`renew_due`] closes the document again: fresh validation
//! data, then a new document timestamp in a new field (`[trust]
//! document_timestamp_renewal_days` ahead of expiry, at most once per
//! `document_timestamp_renewal_interval_days`). Each renewal is an event; the stored file grows
//! by an incremental update, so every earlier version is a prefix of the current one and still
//! verifies by its hash.

use aggregates::contract::{
    ContractAggregate, ContractCommand, ContractError, ContractState, RenewDocumentTimestamp,
};
use aggregates::values::{Digest, LongText};
use chrono::{DateTime, TimeDelta, Utc};
use der::{Decode, Encode};
use x509_cert::Certificate;

use super::pipeline::CommandError;
use super::revisions::{time_of, timestamp_authority};
use super::sealing::{Pass, contract_stream, document_storage_key};
use super::{Services, system_metadata};
use crate::app::revocation::{Revocations, ValidationDataError};
use crate::documents::ltv::{self, LtvError, ValidationData, certificates_in};
use crate::documents::pades::{PadesError, Revision};
use crate::documents::pdf::SignatureField;
use crate::documents::sign::{SignError, Stamped, timestamp_document};
use crate::documents::storage::{DocumentStoreError, sha256_hex};
use crate::store::StoreError;
use crate::trust::cms;
use crate::trust::timestamper::Timestamper;

/// Why a document could not be closed with its validation data and a document timestamp.
#[derive(Debug, thiserror::Error)]
pub enum ClosingError {
    #[error("the validation data cannot be made: {0}")]
    ValidationData(#[from] ValidationDataError),
    #[error("the validation data cannot be added: {0}")]
    Store(#[from] LtvError),
    #[error("the document timestamp cannot be made: {0}")]
    Timestamp(#[from] SignError),
    #[error("a certificate cannot be encoded: {0}")]
    Certificate(#[from] der::Error),
}

/// Where the document timestamp goes.
#[derive(Debug, Clone, Copy)]
pub enum TimestampField<'a> {
    /// A field the document was rendered with (`DocumentTimestamp`, filled at sealing).
    Existing(&'a SignatureField),
    /// A new invisible field of this name, added with the validation data (renewals).
    New(&'a str),
}

/// A document closed again: its bytes and the document timestamp that ends them.
#[derive(Debug)]
pub struct Closed {
    pub stamped: Stamped,
    /// When the certificate of the authority that made the document timestamp expires: the
    /// timestamp proves nothing after that, so the document is closed again before.
    pub valid_until: Option<DateTime<Utc>>,
}

/// Every certificate of the document's signatures and timestamps, and the platform's chain, with
/// the revocation status of each as of `now`: an OCSP answer for those the intermediate issued,
/// the intermediate's CRL, and the root's CRL (which covers the intermediate) when it exists.
/// Certificates of other CAs (an outside TSA, a signer's own CA) go in without revocation data:
/// esign vouches only for its own (docs/trust.md).
pub async fn validation_data(
    revocations: &Revocations,
    pdf: &[u8],
    now: DateTime<Utc>,
) -> Result<ValidationData, ClosingError> {
    let ca = revocations.ca();
    let mut certificates = certificates_in(pdf);
    for der in ca.chain() {
        let certificate = Certificate::from_der(&der)?;
        if !certificates.contains(&certificate) {
            certificates.push(certificate);
        }
    }
    let intermediate = ca.intermediate().tbs_certificate().subject();
    let mut data = ValidationData::default();
    for certificate in &certificates {
        data.certificates.push(certificate.to_der()?);
        let tbs = certificate.tbs_certificate();
        if tbs.issuer() == intermediate && tbs.subject() != intermediate {
            data.ocsps
                .push(revocations.ocsp_response_for(certificate, now).await?);
        }
    }
    data.crls.push(revocations.crl_der(now).await?);
    if let Some(root_crl) = revocations.root_crl_der()? {
        data.crls.push(root_crl);
    }
    Ok(data)
}

/// Appends the document's validation data (B-LT) and then a document timestamp over everything
/// (B-LTA). Without an answer from `timestamper` nothing is returned: the caller retries.
pub async fn close(
    revocations: &Revocations,
    timestamper: &dyn Timestamper,
    pdf: &[u8],
    revision: &Revision,
    field: TimestampField<'_>,
    now: DateTime<Utc>,
) -> Result<Closed, ClosingError> {
    let data = validation_data(revocations, pdf, now).await?;
    let new_field = match field {
        TimestampField::Existing(_) => None,
        TimestampField::New(name) => Some(name),
    };
    let appended = ltv::append_dss(pdf, revision, &data, new_field)?;
    let field = match (field, &appended.field) {
        (TimestampField::Existing(field), _) => field,
        (TimestampField::New(_), Some(added)) => added,
        (TimestampField::New(_), None) => {
            return Err(LtvError::Unsupported("a timestamp field that was not added").into());
        }
    };
    let stamped =
        timestamp_document(&appended.bytes, &appended.revision, field, timestamper).await?;
    let valid_until = authority_certificate_expiry(&stamped.timestamp.token);
    Ok(Closed {
        stamped,
        valid_until,
    })
}

/// The `notAfter` of the certificate that signed a timestamp token, when the token carries it.
pub fn authority_certificate_expiry(token: &[u8]) -> Option<DateTime<Utc>> {
    let signed = cms::verify_signed_data(token, None, &[]).ok()?;
    Some(time_of(
        signed
            .signer
            .tbs_certificate()
            .validity()
            .not_after
            .to_unix_duration(),
    ))
}

/// Why a sealed document could not be closed again.
#[derive(Debug, thiserror::Error)]
pub enum RenewalError {
    #[error("no platform CA is configured: run `esign ca init` (documents cannot be renewed)")]
    NoCa,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the sealed document cannot be read or stored: {0}")]
    Storage(#[from] DocumentStoreError),
    #[error("the sealed document cannot be read: {0}")]
    Document(#[from] PadesError),
    #[error(transparent)]
    Closing(#[from] ClosingError),
    #[error(transparent)]
    Command(#[from] CommandError<ContractError>),
    #[error("a recorded value does not fit: {0}")]
    Value(String),
}

/// What one renewal pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalReport {
    pub renewed: u64,
    pub errors: u64,
}

/// Documents renewed per query; the pass loops until none is left.
const RENEWAL_BATCH: u32 = 20;

/// Closes again every sealed document whose last document timestamp's authority certificate
/// expires within `[trust] document_timestamp_renewal_days` of `now` (or is not known) and that
/// was not timestamped within `document_timestamp_renewal_interval_days`. Called by the sealing
/// sweep, under its lock.
pub async fn renew_due(state: &Services, now: DateTime<Utc>) -> Result<RenewalReport, StoreError> {
    let trust = &state.config.trust;
    let days = |days: u64| TimeDelta::days(i64::try_from(days).unwrap_or(i64::MAX / 86_400_000));
    let expiring_before = now + days(trust.document_timestamp_renewal_days);
    let timestamped_before = now - days(trust.document_timestamp_renewal_interval_days);
    let mut report = RenewalReport::default();
    let mut pass = Pass::default();
    loop {
        let due = state
            .store
            .contracts()
            .document_timestamps_due(expiring_before, timestamped_before, RENEWAL_BATCH)
            .await?;
        let fresh = pass.take(&due);
        if fresh.is_empty() {
            break;
        }
        for contract_id in fresh {
            match renew(state, &contract_id, now).await {
                Ok(Some(renewed)) => {
                    report.renewed += 1;
                    if renewed
                        .valid_until
                        .is_none_or(|until| until < expiring_before)
                    {
                        tracing::warn!(%contract_id, valid_until = ?renewed.valid_until,
                            "the new document timestamp's authority certificate expires within \
                             the renewal horizon: renew the timestamp authority's certificate");
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(%contract_id, %error, "cannot renew the document timestamp");
                    report.errors += 1;
                }
            }
        }
        if due.len() < RENEWAL_BATCH as usize {
            break;
        }
    }
    Ok(report)
}

/// A renewal recorded.
#[derive(Debug, Clone)]
pub struct Renewed {
    pub previous_hash: String,
    pub document_hash: String,
    pub timestamped_at: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
}

/// Closes the sealed document of `contract_id` again: fresh validation data and a document
/// timestamp in a new field, stored under the new file's hash and recorded as
/// `DocumentTimestampRenewed`. `None` when the contract has no sealed document.
pub async fn renew(
    state: &Services,
    contract_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Renewed>, RenewalError> {
    let platform = state.platform_seal.as_ref().ok_or(RenewalError::NoCa)?;
    let revocations = state.revocations.as_ref().ok_or(RenewalError::NoCa)?;
    let stream = contract_stream(contract_id);
    let loaded = state.pipeline.load::<ContractAggregate>(&stream).await?;
    let ContractState::Signed {
        document: Some(document),
        ..
    } = &loaded.state
    else {
        return Ok(None);
    };
    let previous_hash = document.document_hash.as_hex().to_owned();
    let bytes = state
        .documents
        .get(
            &document_storage_key(contract_id, &previous_hash),
            &previous_hash,
        )
        .await?;
    let revision = Revision::of_file(&bytes)?;
    // The sealed file's own timestamp is `DocumentTimestamp`; renewals number theirs from 2.
    let field = format!("DocumentTimestamp{}", document.earlier.len() + 2);
    let closed = close(
        revocations,
        platform.timestamper().as_ref(),
        &bytes,
        &revision,
        TimestampField::New(&field),
        now,
    )
    .await?;
    let renewed = closed.stamped.bytes;
    let document_hash = sha256_hex(&renewed);
    state
        .documents
        .put(&document_storage_key(contract_id, &document_hash), &renewed)
        .await?;
    let timestamped_at = time_of(closed.stamped.timestamp.gen_time);
    let value = |error: &dyn std::fmt::Display| RenewalError::Value(error.to_string());
    let command = RenewDocumentTimestamp {
        previous_hash: Digest::parse(&previous_hash).map_err(|e| value(&e))?,
        document_hash: Digest::parse(&document_hash).map_err(|e| value(&e))?,
        timestamp_authority: Some(
            LongText::parse(&timestamp_authority(&closed.stamped.timestamp))
                .map_err(|e| value(&e))?,
        ),
        timestamped_at,
        valid_until: closed.valid_until,
        now,
    };
    state
        .pipeline
        .execute::<ContractAggregate>(&stream, &system_metadata("timestamp-renewal"), |_| {
            ContractCommand::RenewDocumentTimestamp(command.clone())
        })
        .await?;
    tracing::info!(%contract_id, %previous_hash, %document_hash, %timestamped_at,
        valid_until = ?closed.valid_until, "document timestamp renewed");
    Ok(Some(Renewed {
        previous_hash,
        document_hash,
        timestamped_at,
        valid_until: closed.valid_until,
    }))
}
