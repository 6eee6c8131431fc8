//! Contracts (spec 2.1.2): initiate, read, revoke, re-issue a sign link, verify, and the audit trail.

use aggregates::Aggregate;
use aggregates::ValidationErrors;
use aggregates::contract::{
    ContractAggregate, ContractCommand, ContractRequest, InitiateContract, IssueSignLink,
    NewSignLink, Revoke,
};
use aggregates::template::TemplateAggregate;
use aggregates::values::{
    ArchiveId, ClientId, ContractId, Digest, LinkId, Operator, PartyId, Reason, TemplateId,
    TemplateVersion,
};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::{Caller, JsonBody};
use crate::app::error::AppError;
use crate::app::short_links::{self, NewShortLink};
use crate::http::AppState;
use crate::http::openapi::{self, schemas};
use crate::store::StreamId;
use crate::store::commands::Attached;
use crate::store::query_tables::{ContractRows, RowView};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/contract/initiate", post(initiate))
        .route("/contract/verify", post(verify))
        .route("/contract/{contract_id}", get(show))
        .route("/contract/{contract_id}/revoke", post(revoke))
        .route(
            "/contract/{contract_id}/signers/{party_id}/sign-url",
            post(reissue_sign_url),
        )
        .route("/contract/{contract_id}/events", get(events))
}

/// A sign link as the signer receives it: the token travels only in the URL; the log keeps its hash.
struct IssuedLink {
    link: NewSignLink,
    token: String,
}

fn issue_link() -> Result<IssuedLink, AppError> {
    let token = random_token()?;
    let link_id = LinkId::parse(&uuid::Uuid::new_v4().simple().to_string()).map_err(internal)?;
    let token_hash =
        Digest::parse(&hex::encode(Sha256::digest(token.as_bytes()))).map_err(internal)?;
    Ok(IssuedLink {
        link: NewSignLink {
            link_id,
            token_hash,
        },
        token,
    })
}

/// 256 random bits, URL-safe.
fn random_token() -> Result<String, AppError> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("random source: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn internal(error: impl std::fmt::Display) -> AppError {
    AppError::Internal(error.to_string())
}

fn sign_url(state: &AppState, token: &str) -> String {
    format!(
        "{}/h5/sign?token={token}",
        state.config.server.public_base_url.trim_end_matches('/')
    )
}

/// Short links for sign links a command issues, made from the contract after the command (each
/// lasts as long as its link) and written in the command's transaction. The set of the attempt that
/// committed is left in `made`, for the response.
fn short_links_for(
    state: &AppState,
    contract: &aggregates::contract::ContractState,
    issued: &[(PartyId, &IssuedLink)],
    made: &std::sync::Mutex<Vec<NewShortLink>>,
) -> Result<Attached, String> {
    let Some(contract) = contract.contract() else {
        return Ok(Attached::Nothing);
    };
    let mut links = Vec::with_capacity(issued.len());
    for (party_id, link) in issued {
        let Some(expires_at) = contract
            .signer(party_id)
            .and_then(|signer| signer.link())
            .map(|link| link.expires_at)
        else {
            continue;
        };
        links.push(
            NewShortLink::new(
                &state.pii,
                contract.contract_id.as_str(),
                party_id.as_str(),
                &sign_url(state, &link.token),
                expires_at,
            )
            .map_err(|error| error.to_string())?,
        );
    }
    *made.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = links.clone();
    Ok(short_links::attached(&links))
}

/// One signer's task as the initiate and re-issue responses show it (spec 2.1.2): the sign URL, the
/// short link for SMS and a QR code of the sign URL. A QR code that cannot be drawn is logged and
/// left out (`null`); the sign URL always works.
fn sign_task(state: &AppState, party_id: &str, token: &str, short: Option<&NewShortLink>) -> Value {
    let url = sign_url(state, token);
    let short_url = short.map(|link| {
        format!(
            "{}/s/{}",
            state.config.server.public_base_url.trim_end_matches('/'),
            link.code
        )
    });
    let qr_code = crate::documents::qr::png_data_url(&url)
        .inspect_err(|error| tracing::error!(%error, "cannot draw the sign link's QR code"))
        .ok();
    json!({
        "partyId": party_id,
        "signUrl": url,
        "shortUrl": short_url,
        "expiresAt": short.map(NewShortLink::expires_at),
        "qrCode": qr_code,
    })
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
                "archiveInfo": {"archiveId": "ARCHIVE_20231027A1B2C3D4E5F60718", "provider": "TSA", "status": "PENDING"}
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
    // A repeated bizId answers with the contract it made, whatever else the request says. It is looked
    // up only after an attempt failed: the unique key on (client, bizId, bizType) refuses a second
    // contract, so a new one costs no read for it, and a failed repeat answers as if looked up first.
    match initiate_new(&state, &caller, &request).await {
        Ok(answer) => Ok(answer),
        Err(error) => match find_by_biz_id(&state, &caller, &request).await? {
            Some(existing) => Err(AppError::Duplicate { existing }),
            None => Err(error),
        },
    }
}

async fn initiate_new(
    state: &AppState,
    caller: &Caller,
    request: &ContractRequest,
) -> Result<Json<Value>, AppError> {
    super::guard_callback_url(state, request.callback_url.as_deref()).await?;
    let template = load_template(state, request).await?;
    let preview_hash = match &template {
        Some((_, preview)) => {
            Digest::parse(&hex::encode(Sha256::digest(preview.as_bytes()))).map_err(internal)?
        }
        // No template: the domain answers 40003; the hash is never used.
        None => Digest::parse(&hex::encode([0u8; 32])).map_err(internal)?,
    };
    let links = request
        .signers
        .iter()
        .map(|_| issue_link())
        .collect::<Result<Vec<_>, _>>()?;
    let contract_id = ContractId::parse(&crate::app::ids::new_id("CONTRACT")).map_err(internal)?;
    let archive_id = ArchiveId::parse(&crate::app::ids::new_id("ARCHIVE")).map_err(internal)?;
    let client_id = ClientId::parse(&caller.client.id).map_err(internal)?;
    let facts = template.map(|(facts, _)| facts);
    let now = Utc::now();
    let stream = StreamId::new(ContractAggregate::NAME, contract_id.as_str());
    let parties = request
        .signers
        .iter()
        .map(|signer| PartyId::parse(signer.party_id.as_deref().unwrap_or_default()).ok())
        .collect::<Vec<_>>();
    let issued: Vec<(PartyId, &IssuedLink)> = parties
        .iter()
        .zip(&links)
        .filter_map(|(party, link)| Some((party.clone()?, link)))
        .collect();
    let short_links = std::sync::Mutex::new(Vec::new());
    let initiated = state
        .pipeline
        .execute_new_attached::<ContractAggregate>(
            &stream,
            &caller.metadata,
            |_| {
                ContractCommand::Initiate(InitiateContract {
                    contract_id: contract_id.clone(),
                    client_id: client_id.clone(),
                    request: request.clone(),
                    template: facts.clone(),
                    preview_hash: preview_hash.clone(),
                    sign_links: links.iter().map(|issued| issued.link.clone()).collect(),
                    archive_id: archive_id.clone(),
                    mode: state.mode(),
                    now,
                })
            },
            |after| short_links_for(state, after, &issued, &short_links),
        )
        .await?;

    let short_links = short_links
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let tasks: Vec<Value> = request
        .signers
        .iter()
        .zip(&links)
        .map(|(signer, issued)| {
            let party_id = signer.party_id.as_deref().unwrap_or_default();
            let short = short_links.iter().find(|link| link.party_id() == party_id);
            sign_task(state, party_id, &issued.token, short)
        })
        .collect();
    // The archive record is made once the contract is signed and sealed; its id is fixed now.
    let archive_info = initiated
        .state
        .contract()
        .and_then(|contract| {
            let provider = contract.archive_providers.first()?;
            let id = contract.archive_id.as_ref()?;
            Some((provider.as_str(), id.as_str()))
        })
        .map(|(provider, id)| json!({"archiveId": id, "provider": provider, "status": "PENDING"}));
    Ok(Json(json!({
        "contractId": contract_id.as_str(),
        "status": "CREATED",
        "signTasks": tasks,
        "archiveInfo": archive_info,
    })))
}

/// The template version a request names (or the current active one) and its rendered preview.
async fn load_template(
    state: &AppState,
    request: &ContractRequest,
) -> Result<Option<(aggregates::template::TemplateVersionFacts, String)>, AppError> {
    let Some(template_id) = request
        .template_id
        .as_deref()
        .and_then(|id| TemplateId::parse(id).ok())
    else {
        return Ok(None);
    };
    let stream = StreamId::new(TemplateAggregate::NAME, template_id.as_str());
    let loaded = state
        .pipeline
        .load_state::<TemplateAggregate>(&stream)
        .await?;
    let Some(template) = loaded.template() else {
        return Ok(None);
    };
    let version = match request.template_version.as_deref() {
        Some(pinned) => TemplateVersion::parse(pinned)
            .ok()
            .and_then(|v| template.version(&v)),
        None => template.current_version(),
    };
    let Some(version) = version else {
        return Ok(None);
    };
    // A preview that cannot render (a variable of the wrong shape) is left to the domain's checks;
    // the hash then covers the text that did render.
    let preview = version
        .render_preview(&request.variable_texts())
        .unwrap_or_default();
    Ok(Some((template.facts(version), preview)))
}

async fn find_by_biz_id(
    state: &AppState,
    caller: &Caller,
    request: &ContractRequest,
) -> Result<Option<Value>, AppError> {
    let (Some(biz_id), Some(biz_type)) = (&request.biz_id, &request.biz_type) else {
        return Ok(None);
    };
    let row = state
        .store
        .contracts()
        .by_biz_id(&caller.client.id, biz_id, biz_type)
        .await?;
    match row {
        Some(row) => Ok(Some(contract_view(state, &row).await?)),
        None => Ok(None),
    }
}

/// The caller's contract row; another client's contract does not exist for them.
async fn owned_contract(
    state: &AppState,
    caller: &Caller,
    contract_id: &str,
) -> Result<RowView, AppError> {
    state
        .store
        .contracts()
        .owned(contract_id, &caller.client.id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn signer_rows(state: &AppState, contract_id: &str) -> Result<Vec<RowView>, AppError> {
    Ok(state.store.contracts().signers(contract_id).await?)
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
    let rows = state
        .store
        .contracts()
        .owned_with_parts(&contract_id, &caller.client.id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(signed_view(&state, &rows)))
}

/// The contract as the API shows it, its signing links signed for now.
fn signed_view(state: &AppState, rows: &ContractRows) -> Value {
    let mut view = crate::read::views::contract(&rows.contract, &rows.signers, &rows.archives);
    state.links.sign_in_place(&mut view, chrono::Utc::now());
    view
}

async fn contract_view(state: &AppState, contract: &RowView) -> Result<Value, AppError> {
    let contract_id = contract.required_text("contract_id");
    let rows = ContractRows {
        signers: signer_rows(state, contract_id).await?,
        archives: state.store.contracts().archives(contract_id).await?,
        contract: contract.clone(),
    };
    Ok(signed_view(state, &rows))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevokeRequest {
    reason: Option<String>,
    operator: Option<String>,
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
    owned_contract(&state, &caller, &contract_id).await?;
    let mut errors = ValidationErrors::new();
    let reason = errors.required("reason", request.reason.as_deref(), Reason::parse);
    let operator = errors.required("operator", request.operator.as_deref(), Operator::parse);
    let (Some(reason), Some(operator)) = (reason, operator) else {
        return Err(AppError::Validation(errors));
    };
    let now = Utc::now();
    let stream = StreamId::new(ContractAggregate::NAME, &contract_id);
    state
        .pipeline
        .execute::<ContractAggregate>(&stream, &caller.metadata, |_| {
            ContractCommand::Revoke(Revoke {
                reason: reason.clone(),
                operator: operator.clone(),
                now,
            })
        })
        .await?;
    let row = owned_contract(&state, &caller, &contract_id).await?;
    contract_view(&state, &row).await.map(Json)
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
    owned_contract(&state, &caller, &contract_id).await?;
    let party = PartyId::parse(&party_id).map_err(|_| AppError::NotFound)?;
    let issued = issue_link()?;
    let now = Utc::now();
    let stream = StreamId::new(ContractAggregate::NAME, &contract_id);
    let short_links = std::sync::Mutex::new(Vec::new());
    state
        .pipeline
        .execute_attached::<ContractAggregate>(
            &stream,
            &caller.metadata,
            |_| {
                ContractCommand::IssueSignLink(IssueSignLink {
                    party_id: party.clone(),
                    link: issued.link.clone(),
                    ttl: None,
                    now,
                })
            },
            |after| short_links_for(&state, after, &[(party.clone(), &issued)], &short_links),
        )
        .await?;
    let short_links = short_links
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Ok(Json(sign_task(
        &state,
        &party_id,
        &issued.token,
        short_links.first(),
    )))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerifyRequest {
    method: Option<String>,
    contract_id: Option<String>,
    file_hash: Option<String>,
    archive_id: Option<String>,
    /// The PDF itself, base64 (method `FILE`).
    file_content: Option<String>,
}

fn required<'a>(value: &'a Option<String>, field: &'static str) -> Result<&'a str, AppError> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .ok_or_else(|| AppError::Validation(ValidationErrors::single(field, "is required")))
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
    let answer = match request.method.as_deref() {
        Some("CONTRACT_ID") => {
            let contract_id = required(&request.contract_id, "contractId")?;
            let contract = owned_contract(&state, &caller, contract_id).await?;
            crate::app::verify::by_contract(&state, &contract).await
        }
        Some("FILE_HASH") => {
            let file_hash = required(&request.file_hash, "fileHash")?;
            let file_hash = crate::app::verify::parse_file_hash(file_hash).ok_or_else(|| {
                AppError::Validation(ValidationErrors::single(
                    "fileHash",
                    "must be sha256:<64 hex digits>",
                ))
            })?;
            match request.archive_id.as_deref().map(str::trim) {
                Some(archive_id) if !archive_id.is_empty() => {
                    let archive = state
                        .store
                        .contracts()
                        .archive(archive_id)
                        .await?
                        .ok_or(AppError::NotFound)?;
                    let contract =
                        owned_contract(&state, &caller, archive.required_text("contract_id"))
                            .await?;
                    crate::app::verify::by_file_hash(&state, &file_hash, &archive, &contract).await
                }
                // Without an archive id: the caller's contract sealed with that hash.
                _ => {
                    let contract = crate::app::verify::contract_with_document(
                        &state,
                        &caller.client.id,
                        &file_hash,
                    )
                    .await?
                    .ok_or(AppError::NotFound)?;
                    crate::app::verify::by_contract(&state, &contract).await
                }
            }
        }
        Some("FILE") => {
            let encoded = required(&request.file_content, "fileContent")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| {
                    AppError::Validation(ValidationErrors::single(
                        "fileContent",
                        "must be the PDF in standard base64",
                    ))
                })?;
            // The signed API's 1 MiB body limit (41300) bounds the file at 768 KiB; larger files
            // are verified by FILE_HASH.
            let sha256 = hex::encode(Sha256::digest(&bytes));
            let contract =
                crate::app::verify::contract_with_document(&state, &caller.client.id, &sha256)
                    .await?;
            crate::app::verify::by_file(&state, &bytes, contract.as_ref()).await
        }
        Some(_) => {
            return Err(AppError::Validation(ValidationErrors::single(
                "method",
                "must be CONTRACT_ID, FILE_HASH or FILE",
            )));
        }
        None => {
            return Err(AppError::Validation(ValidationErrors::single(
                "method",
                "is required",
            )));
        }
    };
    let answer = answer.map_err(|error| {
        tracing::error!(%error, "contract verification failed");
        AppError::Internal(error.to_string())
    })?;
    if !answer.valid {
        tracing::info!(contract_id = ?answer.contract_id, reason = ?answer.reason, "verification: not valid");
    }
    Ok(Json(serde_json::to_value(answer).map_err(internal)?))
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
    owned_contract(&state, &caller, &contract_id).await?;
    super::audit_trail(&state, StreamId::new(ContractAggregate::NAME, &contract_id)).await
}
