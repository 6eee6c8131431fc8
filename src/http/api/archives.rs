//! Operators' archive routes (spec 6, 50003: a failed archive ends with 人工介入补存): a contract's
//! archive records whoever owns it, and the order to try failed ones again. Administrator clients
//! only; everyone else gets 40300, logged.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::{Caller, JsonBody};
use crate::app::archiving::{self, RetryOrder};
use crate::app::error::AppError;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::openapi::{self, schemas};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/contracts/{contractId}/archives", get(list))
        .route("/admin/contracts/{contractId}/archives/retry", post(retry))
}

/// Read a contract's archive records
///
/// `GET /api/v1/admin/contracts/{contractId}/archives`: every archive record of the contract,
/// whichever client owns it, with its attempts, why the last one failed, when the sweep tries it
/// next, or that it waits for an operator (`awaitingOperator`: its attempts are used up).
#[utoipa::path(
    get,
    path = "/api/v1/admin/contracts/{contractId}/archives",
    tag = openapi::TAG_ADMIN,
    operation_id = "listContractArchives",
    params(("contractId" = String, Path, description = "The contract's id.",
        example = "CONTRACT_202310273F2A9C01B7D4E865")),
    responses(
        (status = 200, description = "The contract's archive records.", body = schemas::ArchiveRecords),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(contract_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    caller.require_admin("read archive records")?;
    archiving::archive_records(&state, &contract_id)
        .await
        .map(Json)
}

/// Retry failed archive records
///
/// `POST /api/v1/admin/contracts/{contractId}/archives/retry`: gives a FAILED archive record (of
/// `provider`, or every failed one) a fresh set of attempts and makes the first right away. The
/// order is recorded in the contract's audit trail as `ArchiveRetryOrdered` with the operator. The
/// answer shows the records after that attempt; a record that failed again is retried by the
/// sweep as usual. A record that is PENDING or SUCCESS answers 409.
#[utoipa::path(
    post,
    path = "/api/v1/admin/contracts/{contractId}/archives/retry",
    tag = openapi::TAG_ADMIN,
    operation_id = "retryContractArchives",
    params(("contractId" = String, Path, description = "The contract's id.",
        example = "CONTRACT_202310273F2A9C01B7D4E865")),
    request_body(content = schemas::ArchiveRetryRequest, example = json!({
        "provider": "TSA",
        "operator": "ops_zhang",
        "reason": "时间戳服务已恢复"
    })),
    responses(
        (status = 200, description = "The contract's archive records after the attempt.", body = schemas::ArchiveRecords),
        (status = 400, response = openapi::ValidationFailed),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 415, response = openapi::UnsupportedMediaType),
    )
)]
async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(contract_id): Path<String>,
    body: Result<JsonBody<RetryRequest>, ApiError>,
) -> Result<Json<Value>, ApiError> {
    // Refused before the body's faults are reported: a stranger learns nothing of the route.
    caller.require_admin("retry archives")?;
    let JsonBody(request) = body?;
    let order = RetryOrder {
        contract_id: &contract_id,
        provider: request.provider.as_deref(),
        operator: request.operator.as_deref(),
        reason: request.reason.as_deref(),
    };
    archiving::retry_now(&state, &caller.metadata, &order).await?;
    Ok(Json(
        archiving::archive_records(&state, &contract_id).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RetryRequest {
    provider: Option<String>,
    operator: Option<String>,
    reason: Option<String>,
}
