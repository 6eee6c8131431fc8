//! `esign ca init`: the platform CA (root, intermediate, TSA and seal certificates) with encrypted
//! keys and the root's CRL; `esign ca revoke`: a certificate of the intermediate revoked, as an
//! event; `esign ca root-crl`: a new root CRL where the root key is. See docs/trust.md.

use std::process::ExitCode;
use std::sync::Arc;

use crate::app::AppError;
use crate::app::config::Config;
use crate::app::pipeline::Pipeline;
use crate::app::revocation::{RevokeRequest, revoke as revoke_certificate};
use crate::store::Store;

pub(super) fn init(config: &Config, force: bool) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let files = crate::trust::ca::init(&config.trust_settings(), force)?;
    println!("created the platform CA in {}", files.dir.display());
    for path in [
        files.root_cert(),
        files.intermediate_cert(),
        files.tsa_cert(),
        files.seal_cert(),
        files.chain(),
    ] {
        println!("  certificate: {}", path.display());
    }
    for path in [
        files.root_key(),
        files.intermediate_key(),
        files.tsa_key(),
        files.seal_key(),
    ] {
        println!("  encrypted key: {}", path.display());
    }
    println!(
        "  root CRL: {} (valid for a year; renew it with `esign ca root-crl`)",
        files.root_crl().display()
    );
    println!("keep a copy of root.key offline; the service does not need it");
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn revoke(
    config: Config,
    serial: String,
    reason: String,
    operator: String,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let pii = Arc::new(config.pii_cipher()?);
    let store = Store::open(&config.database.url, 2).await?;
    let pipeline = Pipeline::new(store, pii);
    let request = RevokeRequest {
        serial,
        reason,
        operator,
    };
    match revoke_certificate(&pipeline, &request, chrono::Utc::now()).await {
        Ok(revocation) => {
            println!(
                "revoked certificate {} ({}) at {} by {}; the CRL and OCSP answers list it from now on",
                revocation.serial,
                revocation.reason,
                revocation.revoked_at.to_rfc3339(),
                revocation.operator
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(AppError::Conflict(reason)) => {
            eprintln!("esign: {reason}");
            Ok(ExitCode::from(2))
        }
        Err(AppError::Validation(errors)) => {
            eprintln!("esign: {errors}");
            Ok(ExitCode::from(2))
        }
        Err(other) => Err(other.into()),
    }
}

pub(super) fn root_crl(config: &Config) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let path = crate::trust::ca::issue_root_crl(&config.trust_settings())?;
    println!(
        "wrote the root CRL {} (valid for a year); copy it beside the CA files of every instance",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
