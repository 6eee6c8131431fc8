//! Contracts (spec 2.1.2): initiate, read, revoke, re-issue a sign link, verify, and the audit trail.

use aggregates::contract::ContractRequest;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{JsonBody, as_json};
use crate::app::contracts::{self, SignTask};
use crate::app::document_verification::VerifyRequest;
use crate::app::uploaded_documents::MAX_INITIATE_BODY_BYTES;
use crate::app::{AppError, Caller};
use crate::http::AppState;
use crate::http::openapi::{self, schemas};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/contract/initiate",
            // Uploaded documents come in the body, in base64.
            post(initiate).layer(DefaultBodyLimit::max(MAX_INITIATE_BODY_BYTES)),
        )
        .route("/contract/verify", post(verify))
        .route("/contract/{contract_id}", get(show))
        .route("/contract/{contract_id}/revoke", post(revoke))
        .route(
            "/contract/{contract_id}/signers/{party_id}/sign-url",
            post(reissue_sign_url),
        )
        .route("/contract/{contract_id}/events", get(events))
}

/// Initiate a contract
///
/// `POST /api/v1/contract/initiate`: fills a template version with the variables, creates the
/// contract and issues one sign link per signer. Idempotent per `bizId` + `bizType`: a repeat
/// answers 409 / 40002 with the existing contract.
#[utoipa::path(
    post,
    path = "/api/v1/contract/initiate",
    tag = openapi::TAG_CONTRACT,
    operation_id = "initiateContract",
    request_body(content = schemas::ContractRequest, example = json!({
        "bizId": "REL_202310270001",
        "bizType": "RELATIONSHIP_AGREEMENT",
        "templateId": "TEMPLATE_COLLECTION_V1",
        "title": "天财分账资金归集授权协议",
        "variables": {"payerName": "XX品牌总部", "receiverName": "上海浦东店"},
        "signers": [{
            "partyId": "RECEIVER_001",
            "partyType": "RECEIVER",
            "name": "张三",
            "idCardNo": "310101199001011234",
            "mobile": "13800138000",
            "signMethod": "FACE_AND_SMS",
            "notifyType": "SMS",
            "sequence": 1
        }],
        "callbackUrl": "https://auth-system/callback/e-sign",
        "webhookConfig": {"headers": {"Authorization": "Bearer ..."}},
        "expireDays": 7,
        "archiveConfig": {"needArchive": true, "archiveProvider": "TSA"}
    })),
    responses(
        (status = 200, description = "The contract was created.", body = schemas::ContractCreated,
            example = json!({
                "contractId": "CONTRACT_202310273F2A9C01B7D4E865",
                "status": "CREATED",
                "signTasks": [{
                    "partyId": "RECEIVER_001",
                    "signUrl": "https://e-sign-platform/h5/sign?token=Qm9vdHN0cmFwcGVkLXRva2VuLWV4YW1wbGUtMDEyMzQ1Njc4OQ",
                    "shortUrl": "https://e-sign-platform/s/7fK2pQ9xZa",
                    "expiresAt": "2023-10-28T10:00:00Z",
                    "qrCode": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA..."
                }],
                "archiveInfo": {"archiveId": "ARCHIVE_20231027A1B2C3D4E5F60718", "provider": "TSA", "status": "PENDING"},
                "archives": [{"archiveId": "ARCHIVE_20231027A1B2C3D4E5F60718", "provider": "TSA", "status": "PENDING"}]
            })),
        (status = 400, response = openapi::ValidationFailed),
        (status = 409, response = openapi::DuplicateOrConflict),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 422, response = openapi::TemplateUnavailable),
    )
)]
async fn initiate(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<ContractRequest>,
) -> Result<Json<Value>, AppError> {
    let initiated = contracts::initiate(&state, &caller, &request).await?;
    let tasks: Vec<Value> = initiated.sign_tasks.iter().map(sign_task).collect();
    let archives: Vec<Value> = initiated
        .archives
        .iter()
        .map(|(archive_id, provider)| {
            json!({"archiveId": archive_id, "provider": provider, "status": "PENDING"})
        })
        .collect();
    Ok(Json(json!({
        "contractId": initiated.contract_id,
        "status": "CREATED",
        "signTasks": tasks,
        // The spec's single record is the first provider's; `archives` lists every one.
        "archiveInfo": archives.first(),
        "archives": archives,
    })))
}

/// One signer's task as the initiate and re-issue answers show it (spec 2.1.2).
fn sign_task(task: &SignTask) -> Value {
    json!({
        "partyId": task.party_id,
        "signUrl": task.sign_url,
        "shortUrl": task.short_url,
        "expiresAt": task.expires_at,
        "qrCode": task.qr_code,
    })
}

/// Read a contract
///
/// `GET /api/v1/contract/{contractId}`: the contract as spec 2.1.2 item 2 shows it.
#[utoipa::path(
    get,
    path = "/api/v1/contract/{contractId}",
    tag = openapi::TAG_CONTRACT,
    operation_id = "getContract",
    params(("contractId" = String, Path, description = "The id `initiate` returned.",
        example = "CONTRACT_202310273F2A9C01B7D4E865")),
    responses(
        (status = 200, description = "The contract and its signers.", body = schemas::Contract),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(contract_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    contracts::show(&state, &caller.client_id, &contract_id)
        .await
        .map(Json)
}

/// Revoke a contract
///
/// `POST /api/v1/contract/{contractId}/revoke`: only before SIGNED; afterwards 409.
#[utoipa::path(
    post,
    path = "/api/v1/contract/{contractId}/revoke",
    tag = openapi::TAG_CONTRACT,
    operation_id = "revokeContract",
    params(("contractId" = String, Path, description = "The id `initiate` returned.",
        example = "CONTRACT_202310273F2A9C01B7D4E865")),
    request_body(content = schemas::RevokeRequest, example = json!({
        "reason": "用户要求取消",
        "operator": "system_admin"
    })),
    responses(
        (status = 200, description = "The contract, now REVOKED.", body = schemas::Contract),
        (status = 400, response = openapi::ValidationFailed),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 415, response = openapi::UnsupportedMediaType),
    )
)]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(contract_id): Path<String>,
    JsonBody(request): JsonBody<RevokeRequest>,
) -> Result<Json<Value>, AppError> {
    contracts::revoke(
        &state,
        &caller,
        &contract_id,
        request.reason.as_deref(),
        request.operator.as_deref(),
    )
    .await
    .map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevokeRequest {
    reason: Option<String>,
    operator: Option<String>,
}

/// Re-issue a sign link
///
/// `POST /api/v1/contract/{contractId}/signers/{partyId}/sign-url`: a new link for a pending signer
/// (spec 6, 40004: "引导用户重新获取链接"); the old link dies. No request body.
#[utoipa::path(
    post,
    path = "/api/v1/contract/{contractId}/signers/{partyId}/sign-url",
    tag = openapi::TAG_CONTRACT,
    operation_id = "reissueSignUrl",
    params(
        ("contractId" = String, Path, description = "The id `initiate` returned.",
        example = "CONTRACT_202310273F2A9C01B7D4E865"),
        ("partyId" = String, Path, description = "The signer's `partyId`.", example = "RECEIVER_001"),
    ),
    responses(
        (status = 200, description = "The signer's new link.", body = schemas::SignTask),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::SignedOrConflict),
    )
)]
async fn reissue_sign_url(
    State(state): State<AppState>,
    caller: Caller,
    Path((contract_id, party_id)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    let task = contracts::reissue_sign_link(&state, &caller, &contract_id, &party_id).await?;
    Ok(Json(sign_task(&task)))
}

/// Verify a contract document
///
/// `POST /api/v1/contract/verify` (spec 2.1.2 item 4): `CONTRACT_ID` checks the stored sealed
/// document of the contract; `FILE_HASH` checks that `fileHash` is the document archived under
/// `archiveId`, then the document; `FILE` checks an uploaded PDF (`fileContent`, base64). Each
/// recomputes the hash, compares it with the sealed hash, validates every PDF signature against the
/// platform root (with the seal's timestamp), verifies the contract's event chain and re-verifies
/// every archive record's evidence. A changed file, a wrong hash or another document answers
/// `valid: false` with the reason. Only the caller's own contracts are found.
#[utoipa::path(
    post,
    path = "/api/v1/contract/verify",
    tag = openapi::TAG_CONTRACT,
    operation_id = "verifyContract",
    request_body(content = schemas::VerifyRequest, example = json!({
        "method": "CONTRACT_ID",
        "contractId": "CONTRACT_202310273F2A9C01B7D4E865"
    })),
    responses(
        (status = 200, description = "The verdict (also for a document that is not valid).", body = schemas::ContractVerification),
        (status = 400, response = openapi::ValidationFailed),
        (status = 404, response = openapi::NotFound),
        (status = 415, response = openapi::UnsupportedMediaType),
    )
)]
async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<VerifyRequest>,
) -> Result<Json<Value>, AppError> {
    let answer = crate::app::document_verification::verify(&state, &caller, &request).await?;
    as_json(answer)
}

/// Audit trail of a contract
///
/// `GET /api/v1/contract/{contractId}/events`: the audit trail, each event with its metadata and hash,
/// and whether the chain verifies. Personal data is masked.
#[utoipa::path(
    get,
    path = "/api/v1/contract/{contractId}/events",
    tag = openapi::TAG_CONTRACT,
    operation_id = "getContractEvents",
    params(("contractId" = String, Path, description = "The id `initiate` returned.",
        example = "CONTRACT_202310273F2A9C01B7D4E865")),
    responses(
        (status = 200, description = "Every event of the contract, oldest first.", body = schemas::AuditTrail),
        (status = 404, response = openapi::NotFound),
    )
)]
async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(contract_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let timeline = contracts::events(&state, &caller, &contract_id).await?;
    as_json(timeline)
}
