//! The platform CA's revocations: an operator revokes a certificate by serial number (an event in
//! the serial's own stream, so who revoked what, when and why is in the audited log), and the
//! validation data that publishes it (the intermediate's CRL, the root's CRL file, OCSP answers).
//!
//! The CA signs (`trust::ca` CRLs, `trust::ocsp` answers) but cannot read the store; this module
//! joins the two. Its public API is what the HTTP edge serves and what sealing can embed in a PDF's
//! DSS without going through HTTP:
//!
//! - [`revoke`]: the use case behind `esign ca revoke`.
//! - [`Revocations::crl_der`]: the current intermediate CRL, every revoked serial listed.
//! - [`Revocations::root_crl_der`]: the root's CRL as `ca init` / `ca root-crl` wrote it.
//! - [`Revocations::ocsp_response_for`]: a signed OCSP answer for one certificate.
//! - [`Revocations::ocsp_answer`]: the answer to an OCSP request as it arrived over HTTP.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aggregates::Aggregate;
use aggregates::certificate_revocation::{
    CertificateRevocationAggregate, CertificateSerial, Revocation, RevocationCommand,
    RevocationReason, RevokeCertificate,
};
use chrono::{DateTime, Utc};
use x509_cert::Certificate;

use super::AppError;
use super::config::Config;
use super::pipeline::{CommandError, Pipeline};
use crate::store::revocations::RevokedSerial;
use crate::store::{EventMetadata, Store, StoreError, StreamId};
use crate::trust::Ca;
use crate::trust::ca::{CaError, CaFiles, RevokedCertificate, read_root_crl, trust_dir};
use crate::trust::ocsp::{self, Query, ResponseStatus};

fn stream(serial: &CertificateSerial) -> StreamId {
    StreamId::new(CertificateRevocationAggregate::NAME, serial.as_str())
}

/// What an operator asks: revoke `serial` for `reason`, as `operator`.
#[derive(Debug, Clone)]
pub struct RevokeRequest {
    pub serial: String,
    pub reason: String,
    pub operator: String,
}

/// Revokes a certificate of the intermediate by serial number. Refused when a field is invalid
/// (every bad one named) and when the serial is revoked already (a conflict naming the first
/// revocation). The CRL and OCSP answers list it from the moment this returns.
pub async fn revoke(
    pipeline: &Pipeline,
    request: &RevokeRequest,
    now: DateTime<Utc>,
) -> Result<Revocation, AppError> {
    let command = || {
        RevocationCommand::Revoke(RevokeCertificate {
            serial: request.serial.clone(),
            reason: request.reason.clone(),
            operator: request.operator.clone(),
            now,
        })
    };
    // Without a valid serial there is no stream; deciding on the empty state names every bad field.
    let Ok(serial) = CertificateSerial::parse(&request.serial) else {
        return Err(
            match CertificateRevocationAggregate::decide(&Default::default(), command()) {
                Err(error) => CommandError::Domain(error).into(),
                Ok(_) => AppError::internal("a revocation without a valid serial was accepted"),
            },
        );
    };
    let metadata = EventMetadata {
        actor: format!("operator:{}", request.operator.trim()),
        correlation_id: Some(uuid::Uuid::now_v7().to_string()),
        ..EventMetadata::default()
    };
    let executed = pipeline
        .execute::<CertificateRevocationAggregate>(&stream(&serial), &metadata, |_| command())
        .await?;
    executed
        .state
        .revocation()
        .cloned()
        .ok_or_else(|| AppError::internal("the revocation was accepted but is not in the state"))
}

/// Why validation data could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ValidationDataError {
    #[error("reading the revocations: {0}")]
    Store(#[from] StoreError),
    #[error("signing: {0}")]
    Ca(#[from] CaError),
    #[error("the revocation table holds {0}")]
    Damaged(String),
}

/// What became of an OCSP request, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OcspOutcome {
    /// Answered for this many certificates, this many of them revoked.
    Answered { certificates: usize, revoked: usize },
    /// Not a request the responder can read (`malformedRequest`).
    Malformed(String),
    /// The revocations could not be read or the answer signed (`internalError`).
    Failed(String),
}

/// The CA's revocation status as relying parties get it: CRLs and OCSP answers made from the
/// revocation table and signed by the CA.
#[derive(Debug)]
pub struct Revocations {
    store: Store,
    ca: Arc<Ca>,
    root_crl: RootCrl,
    crl_validity: Duration,
    ocsp_validity: Duration,
}

/// Where the root's CRL file is read from.
#[derive(Debug)]
struct RootCrl(crate::trust::config::TrustSettings);

impl Revocations {
    pub fn new(store: Store, ca: Arc<Ca>, config: &Config) -> Self {
        Self {
            store,
            ca,
            root_crl: RootCrl(config.trust_settings()),
            crl_validity: Duration::from_secs(config.trust.crl_validity_hours * 3600),
            ocsp_validity: Duration::from_secs(config.trust.ocsp_validity_minutes * 60),
        }
    }

    pub fn ca(&self) -> &Arc<Ca> {
        &self.ca
    }

    /// Where the root's CRL file is expected.
    pub fn root_crl_path(&self) -> PathBuf {
        CaFiles::new(trust_dir(&self.root_crl.0)).root_crl()
    }

    /// The intermediate's CRL (DER) as of `now`: every revoked serial with its date and reason,
    /// valid for `[trust] crl_validity_hours`.
    pub async fn crl_der(&self, now: DateTime<Utc>) -> Result<Vec<u8>, ValidationDataError> {
        let revoked = self
            .store
            .revocations()
            .all()
            .await?
            .iter()
            .map(revoked_certificate)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.ca.intermediate_crl(&revoked, now, self.crl_validity)?)
    }

    /// The root's CRL (DER) as `esign ca init` or `esign ca root-crl` wrote it; `None` when there
    /// is no such file (the service never holds the root key, so it cannot make one).
    pub fn root_crl_der(&self) -> Result<Option<Vec<u8>>, ValidationDataError> {
        Ok(read_root_crl(&self.root_crl.0)?)
    }

    /// A signed OCSP answer (DER `OCSPResponse`) for `certificate` as of `now`: good, revoked, or
    /// unknown when the intermediate did not issue it. Valid for `[trust] ocsp_validity_minutes`.
    pub async fn ocsp_response_for(
        &self,
        certificate: &Certificate,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, ValidationDataError> {
        let serial =
            CertificateSerial::from_bytes(certificate.tbs_certificate().serial_number().as_bytes())
                .map_err(|e| ValidationDataError::Damaged(format!("a certificate serial: {e}")))?;
        let revoked = self.revoked_among(&[serial]).await?;
        Ok(self
            .ca
            .ocsp_response_for(certificate, &revoked, now, self.ocsp_validity)?)
    }

    /// The answer to an OCSP request as it arrived (DER), never an error: a request that cannot be
    /// read gets `malformedRequest`, a failure to read the revocations or sign `internalError`.
    pub async fn ocsp_answer(&self, request: &[u8], now: DateTime<Utc>) -> (Vec<u8>, OcspOutcome) {
        let query = match Query::parse(request) {
            Ok(query) => query,
            Err(error) => {
                return (
                    ocsp::status_only(ResponseStatus::MalformedRequest),
                    OcspOutcome::Malformed(error.to_string()),
                );
            }
        };
        let answered = async {
            let revoked = self.revoked_among(&query.serials()).await?;
            let der = self
                .ca
                .ocsp_response(&query, &revoked, now, self.ocsp_validity)?;
            Ok::<_, ValidationDataError>((der, revoked.len()))
        }
        .await;
        match answered {
            Ok((der, revoked)) => (
                der,
                OcspOutcome::Answered {
                    certificates: query.serials().len(),
                    revoked,
                },
            ),
            Err(error) => (
                ocsp::status_only(ResponseStatus::InternalError),
                OcspOutcome::Failed(error.to_string()),
            ),
        }
    }

    /// The revocations of these serials (each looked up by its key).
    async fn revoked_among(
        &self,
        serials: &[CertificateSerial],
    ) -> Result<Vec<RevokedCertificate>, ValidationDataError> {
        let mut revoked = Vec::new();
        for serial in serials {
            if let Some(row) = self.store.revocations().find(serial.as_str()).await? {
                revoked.push(revoked_certificate(&row)?);
            }
        }
        Ok(revoked)
    }
}

fn revoked_certificate(row: &RevokedSerial) -> Result<RevokedCertificate, ValidationDataError> {
    Ok(RevokedCertificate {
        serial: CertificateSerial::parse(&row.serial)
            .map_err(|e| ValidationDataError::Damaged(format!("serial {:?}: {e}", row.serial)))?,
        revoked_at: row.revoked_at,
        reason: RevocationReason::from_code(row.reason_code).ok_or_else(|| {
            ValidationDataError::Damaged(format!("reason code {}", row.reason_code))
        })?,
    })
}
