//! Operators' routes: the callback outbox (spec 6, 50002: failed callbacks end with manual handling).
//! Administrator clients only; everyone else gets 40300.

use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{Caller, JsonBody};
use crate::app::callbacks::{self, CallbackDetail};
use crate::app::error::AppError;
use crate::http::AppState;
use crate::http::openapi::{self, schemas};
use crate::store::outbox::DeliveryStatus;
use aggregates::ValidationErrors;

/// The most rows one listing returns.
const MAX_LIMIT: u32 = 500;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/callbacks", get(list))
        .route("/admin/callbacks/{id}", get(show))
        .route("/admin/callbacks/{id}/redeliver", post(redeliver))
        .route("/admin/contracts/{contract_id}/force", post(force_contract))
}

/// List callbacks
///
/// `GET /api/v1/admin/callbacks?status=DEAD&limit=100`: the newest callbacks and broker
/// publications, optionally of one status (`PENDING`, `DELIVERING`, `DELIVERED`, `DEAD`). Bodies are
/// not shown: they may carry personal data.
#[utoipa::path(
    get,
    path = "/api/v1/admin/callbacks",
    tag = openapi::TAG_ADMIN,
    operation_id = "listCallbacks",
    params(
        ("status" = Option<String>, Query, pattern = "^(PENDING|DELIVERING|DELIVERED|DEAD)$", description = "PENDING, DELIVERING, DELIVERED or DEAD."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "At most this many rows, newest first (default 100, at most 500)."),
    ),
    responses(
        (status = 200, description = "The callbacks, newest first.", body = schemas::CallbackList),
        (status = 400, response = openapi::ValidationFailed),
        (status = 403, response = openapi::Forbidden),
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, AppError> {
    // Refused before its parameters are read: a stranger learns nothing of them.
    caller.require_admin("list callbacks")?;
    let mut status = None;
    let mut limit = 100;
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "status" => {
                status = Some(DeliveryStatus::parse(&value).ok_or_else(|| {
                    AppError::Validation(ValidationErrors::single(
                        "status",
                        "must be PENDING, DELIVERING, DELIVERED or DEAD",
                    ))
                })?)
            }
            "limit" => {
                limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                    .ok_or_else(|| {
                        AppError::Validation(ValidationErrors::single(
                            "limit",
                            format!("must be a number from 1 to {MAX_LIMIT}"),
                        ))
                    })?
            }
            other => {
                return Err(AppError::Validation(ValidationErrors::single(
                    other,
                    "is not a parameter of this route",
                )));
            }
        }
    }
    let callbacks = callbacks::list(&state, &caller, status, limit).await?;
    Ok(Json(json!({ "callbacks": callbacks })))
}

/// Read one callback
///
/// `GET /api/v1/admin/callbacks/{id}`: one callback with every delivery attempt (time, HTTP status,
/// latency, error, instance).
#[utoipa::path(
    get,
    path = "/api/v1/admin/callbacks/{id}",
    tag = openapi::TAG_ADMIN,
    operation_id = "getCallback",
    params(("id" = i64, Path, description = "The callback's `id` from the listing.")),
    responses(
        (status = 200, description = "The callback and its attempts.", body = schemas::CallbackDetail),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let detail = callbacks::show(&state, &caller, &id).await?;
    Ok(render(detail))
}

/// Redeliver a callback
///
/// `POST /api/v1/admin/callbacks/{id}/redeliver`: schedules the callback for delivery now with a
/// fresh set of attempts: a dead letter after the receiver was fixed, or a delivered callback the
/// receiver lost. The event id stays the same, so a receiver that has it already drops the repeat.
/// A callback being delivered at this moment answers 409.
#[utoipa::path(
    post,
    path = "/api/v1/admin/callbacks/{id}/redeliver",
    tag = openapi::TAG_ADMIN,
    operation_id = "redeliverCallback",
    params(("id" = i64, Path, description = "The callback's `id` from the listing.")),
    responses(
        (status = 200, description = "The callback, PENDING again.", body = schemas::CallbackDetail),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
    )
)]
async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let detail = callbacks::redeliver(&state, &caller, &id).await?;
    Ok(render(detail))
}

fn render(detail: CallbackDetail) -> Json<Value> {
    Json(json!({ "callback": detail.callback, "attempts": detail.attempts }))
}

/// Force a contract's end
///
/// `POST /api/v1/admin/contracts/{contractId}/force`: an administrator ends a contract stuck before
/// SIGNED (spec 4.2.4: 除管理员强制操作) as `EXPIRED` or `REVOKED`, at any time and whichever
/// client owns it. `reason` and `operator` are required; the audit trail records `ContractForced`
/// and the owner is called back as for any change of status. A final contract (SIGNED, REJECTED,
/// EXPIRED, REVOKED) answers 409: a signed document stays signed.
#[utoipa::path(
    post,
    path = "/api/v1/admin/contracts/{contractId}/force",
    tag = openapi::TAG_ADMIN,
    operation_id = "forceContractStatus",
    params(("contractId" = String, Path, description = "The contract's id.",
        example = "CONTRACT_202310273F2A9C01B7D4E865")),
    request_body(content = schemas::ForceRequest, example = json!({
        "status": "EXPIRED",
        "reason": "签署方已注销，流程无法继续",
        "operator": "ops_zhang"
    })),
    responses(
        (status = 200, description = "The contract, now EXPIRED or REVOKED.", body = schemas::Contract),
        (status = 400, response = openapi::ValidationFailed),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 415, response = openapi::UnsupportedMediaType),
    )
)]
async fn force_contract(
    State(state): State<AppState>,
    caller: Caller,
    Path(contract_id): Path<String>,
    JsonBody(request): JsonBody<crate::app::contracts::ForceRequest>,
) -> Result<Json<Value>, AppError> {
    // Refused before the body is read: a stranger learns nothing of the contract.
    caller.require_admin("force a contract's status")?;
    crate::app::contracts::force(&state, &caller, &contract_id, &request)
        .await
        .map(Json)
}
