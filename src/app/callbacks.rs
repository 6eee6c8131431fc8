//! Operators and the callback outbox (spec 6, 50002: a callback that keeps failing ends with manual
//! handling): list the callbacks, read one with its attempts, schedule one again. Administrators
//! only.

use chrono::Utc;

use super::{AppError, Caller, Services};
use crate::store::outbox::{AttemptSummary, CallbackSummary, DeliveryStatus};

/// One callback (or broker publication) and every attempt to deliver it.
#[derive(Debug)]
pub struct CallbackDetail {
    pub callback: CallbackSummary,
    pub attempts: Vec<AttemptSummary>,
}

/// The newest `limit` callbacks, optionally of one status.
pub async fn list(
    services: &Services,
    caller: &Caller,
    status: Option<DeliveryStatus>,
    limit: u32,
) -> Result<Vec<CallbackSummary>, AppError> {
    caller.require_admin("list callbacks")?;
    Ok(services.store.outbox().list(status, limit).await?)
}

/// The callback `id` (the listing's `id`) with its attempts.
pub async fn show(
    services: &Services,
    caller: &Caller,
    id: &str,
) -> Result<CallbackDetail, AppError> {
    caller.require_admin("read a callback")?;
    let id = parse_id(id)?;
    let callback = services
        .store
        .outbox()
        .find(id)
        .await?
        .ok_or(AppError::NotFound)?;
    with_attempts(services, callback).await
}

/// Schedules the callback `id` for delivery now with a fresh set of attempts. The event id stays
/// the same, so a receiver that has it already drops the repeat. A callback being delivered at
/// this moment is a conflict.
pub async fn redeliver(
    services: &Services,
    caller: &Caller,
    id: &str,
) -> Result<CallbackDetail, AppError> {
    caller.require_admin("redeliver a callback")?;
    let id = parse_id(id)?;
    let callback = services
        .store
        .outbox()
        .redeliver(id, Utc::now())
        .await?
        .ok_or(AppError::NotFound)?;
    if callback.status != DeliveryStatus::Pending.as_str() {
        return Err(AppError::Conflict(format!(
            "callback {id} is {} right now; try again when the attempt ends",
            callback.status
        )));
    }
    tracing::info!(client = %caller.client_id, callback = id, "callback scheduled for redelivery");
    with_attempts(services, callback).await
}

fn parse_id(id: &str) -> Result<i64, AppError> {
    // Not a number cannot name a row: 404 like any unknown id.
    id.parse().map_err(|_| AppError::NotFound)
}

async fn with_attempts(
    services: &Services,
    callback: CallbackSummary,
) -> Result<CallbackDetail, AppError> {
    let attempts = services.store.outbox().attempts(callback.id).await?;
    Ok(CallbackDetail { callback, attempts })
}
