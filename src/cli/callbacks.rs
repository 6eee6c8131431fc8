//! `esign callbacks list|show|redeliver`: the callback outbox, each callback's delivery attempts,
//! and redelivery of dead letters.

use std::process::ExitCode;

use super::CallbacksCommand;
use crate::app::config::Config;
use crate::store::Store;
use crate::store::outbox::DeliveryStatus;

pub(super) async fn run(
    config: Config,
    command: CallbacksCommand,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let store = Store::open(&config.database.url, 2).await?;
    match command {
        CallbacksCommand::List {
            status,
            limit,
            json,
        } => {
            let status = match status.as_deref() {
                None => None,
                Some(text) => Some(DeliveryStatus::parse(text).ok_or_else(|| {
                    format!("--status {text:?}: use PENDING, DELIVERING, DELIVERED or DEAD")
                })?),
            };
            let callbacks = store.outbox().list(status, limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&callbacks)?);
            } else if callbacks.is_empty() {
                println!("no callbacks");
            } else {
                for callback in callbacks {
                    println!(
                        "{}\t{}\t{}\t{}\tattempts={}\t{} v{}\t{}\t{}",
                        callback.id,
                        callback.status,
                        callback.destination,
                        callback.event_type,
                        callback.attempts,
                        callback.stream_id,
                        callback.stream_version,
                        callback.target,
                        callback.last_error.unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CallbacksCommand::Show { id, json } => {
            let Some(callback) = store.outbox().find(id).await? else {
                eprintln!("esign: no callback {id}");
                return Ok(ExitCode::from(2));
            };
            let attempts = store.outbox().attempts(id).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"callback": callback, "attempts": attempts})
                    )?
                );
            } else {
                println!("{}", serde_json::to_string_pretty(&callback)?);
                for attempt in attempts {
                    println!(
                        "attempt {}\t{}\t{} ms\tHTTP {}\t{}\t{}",
                        attempt.attempt,
                        attempt
                            .started_at
                            .map(|time| time.to_rfc3339())
                            .unwrap_or_default(),
                        attempt.latency_ms,
                        attempt
                            .http_status
                            .map(|status| status.to_string())
                            .unwrap_or_else(|| "-".into()),
                        attempt.outcome,
                        attempt.error.unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CallbacksCommand::Redeliver { id } => {
            match store.outbox().redeliver(id, chrono::Utc::now()).await? {
                None => {
                    eprintln!("esign: no callback {id}");
                    Ok(ExitCode::from(2))
                }
                Some(callback) if callback.status != DeliveryStatus::Pending.as_str() => {
                    eprintln!(
                        "esign: callback {id} is {} right now; try again when the attempt ends",
                        callback.status
                    );
                    Ok(ExitCode::from(3))
                }
                Some(callback) => {
                    println!(
                        "callback {} ({}, event {}) will be delivered again by a running service",
                        callback.id, callback.event_type, callback.event_id
                    );
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
    }
}
