//! `esign archives retry`: an operator orders failed archive records of a contract tried again
//! (spec 6, 50003: 人工介入补存). The order is recorded in the contract's log with the operator; a
//! running service's archive sweep makes the attempts at its next turn.

use std::process::ExitCode;
use std::sync::Arc;

use crate::app::AppError;
use crate::app::archiving::{RetryOrder, order_retry};
use crate::app::config::Config;
use crate::app::pipeline::Pipeline;
use crate::store::{EventMetadata, Store};

pub(super) async fn retry(
    config: Config,
    contract_id: String,
    provider: Option<String>,
    operator: String,
    reason: Option<String>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let pii = Arc::new(config.pii_cipher()?);
    let store = Store::open(&config.database.url, 2).await?;
    let pipeline = Pipeline::new(store, pii);
    let metadata = EventMetadata {
        actor: format!("operator:{}", operator.trim()),
        correlation_id: Some(uuid::Uuid::now_v7().to_string()),
        ..EventMetadata::default()
    };
    let order = RetryOrder {
        contract_id: &contract_id,
        provider: provider.as_deref(),
        operator: Some(&operator),
        reason: reason.as_deref(),
    };
    match order_retry(&pipeline, &metadata, &order, chrono::Utc::now()).await {
        Ok(providers) => {
            for provider in providers {
                println!(
                    "the {} archive of contract {contract_id} gets fresh attempts; a running \
                     service's archive sweep makes them",
                    provider.as_str()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(AppError::NotFound) => {
            eprintln!("esign: no contract {contract_id}");
            Ok(ExitCode::from(2))
        }
        Err(AppError::Conflict(reason)) => {
            eprintln!("esign: {reason}");
            Ok(ExitCode::from(3))
        }
        Err(AppError::Validation(errors)) => {
            eprintln!("esign: {errors}");
            Ok(ExitCode::from(2))
        }
        Err(other) => Err(other.into()),
    }
}
