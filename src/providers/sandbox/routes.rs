//! The sandbox's routes: the signed task API of protocol v1 and the capture page.

use aggregates::values::FaceScore;
use axum::body::Bytes;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::{SandboxState, SandboxTask, page};
use crate::providers::face::protocol::{
    self, CreateTaskRequest, CreateTaskResponse, SdkConfig, TaskResult, TaskStatus,
};

pub(super) fn router(state: SandboxState) -> Router {
    Router::new()
        .route("/v1/face/tasks", post(create_task))
        .route("/v1/face/tasks/{task_id}", get(task_status))
        .route("/capture/{task_id}", get(capture_page).post(capture))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

fn refuse(status: StatusCode, reason: &str) -> Response {
    tracing::warn!(
        status = status.as_u16(),
        reason,
        "sandbox face provider refused a request"
    );
    (status, Json(json!({"error": reason}))).into_response()
}

/// Checks esign's signature and single-use nonce on a request to the task API.
fn authenticate(state: &SandboxState, headers: &HeaderMap, body: &[u8]) -> Option<Response> {
    let now = Utc::now();
    match protocol::verify(&state.secret, headers, body, now) {
        Err(error) => Some(refuse(StatusCode::UNAUTHORIZED, &error.to_string())),
        Ok(signed) if !state.use_nonce(&signed.nonce, signed.timestamp, now.timestamp()) => {
            Some(refuse(StatusCode::UNAUTHORIZED, "replayed nonce"))
        }
        Ok(_) => None,
    }
}

async fn create_task(
    State(state): State<SandboxState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = authenticate(&state, &headers, &body) {
        return refused;
    }
    let request: CreateTaskRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return refuse(StatusCode::BAD_REQUEST, &error.to_string()),
    };
    let task_id = format!(
        "SBX_{}",
        uuid::Uuid::new_v4().simple().to_string().to_uppercase()
    );
    let nonce = protocol::new_nonce();
    // What an app SDK would check before starting; the sandbox has no SDK, so this only shows the shape.
    let signature = protocol::sign(
        &state.secret,
        request.expires_at.timestamp(),
        &nonce,
        format!("{}.{task_id}", request.app_id).as_bytes(),
    );
    let masked = mask_id_card(&request.id_card_no);
    tracing::info!(%task_id, order_no = %request.order_no, id_card_no = %masked, "sandbox task created");
    let response = CreateTaskResponse {
        task_id: task_id.clone(),
        h5_url: Some(format!("{}/capture/{task_id}", state.public_base_url)),
        sdk_config: Some(SdkConfig {
            app_id: request.app_id.clone(),
            nonce,
            signature,
        }),
    };
    state.tasks().insert(
        task_id,
        SandboxTask {
            order_no: request.order_no,
            app_id: request.app_id,
            name: request.name,
            masked_id_card_no: masked,
            callback_url: request.callback_url,
            return_url: request.return_url,
            expires_at: request.expires_at,
            result: None,
        },
    );
    (StatusCode::CREATED, Json(response)).into_response()
}

async fn task_status(
    State(state): State<SandboxState>,
    Path(task_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = authenticate(&state, &headers, b"") {
        return refused;
    }
    let Some(task) = state.tasks().get(&task_id).cloned() else {
        return refuse(StatusCode::NOT_FOUND, "no such task");
    };
    Json(TaskStatus {
        task_id,
        status: if task.result.is_some() {
            "COMPLETED"
        } else {
            "PENDING"
        }
        .to_owned(),
        result: task.result,
    })
    .into_response()
}

async fn capture_page(State(state): State<SandboxState>, Path(task_id): Path<String>) -> Response {
    match state.tasks().get(&task_id) {
        Some(task) => Html(page::capture(&task_id, task)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html(page::message("任务不存在", "请检查核验链接是否正确。")),
        )
            .into_response(),
    }
}

/// The capture form as the page posts it.
#[derive(Debug, Deserialize)]
struct CaptureForm {
    /// `PASS`, `FACE_MISMATCH`, `ID_CARD_MISMATCH` or `POOR_QUALITY`.
    outcome: String,
    score: Option<String>,
    /// `none` simulates a lost callback: only a result pull will find the result.
    deliver: Option<String>,
}

async fn capture(
    State(state): State<SandboxState>,
    Path(task_id): Path<String>,
    Form(form): Form<CaptureForm>,
) -> Response {
    let now = Utc::now();
    let score = match form
        .score
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(text) => match text
            .parse::<f64>()
            .ok()
            .and_then(|v| FaceScore::parse(v).ok())
        {
            Some(score) => Some(score.value()),
            None => {
                return page_error(
                    StatusCode::BAD_REQUEST,
                    "分数无效",
                    "分数须为 0 到 1 之间的数字。",
                );
            }
        },
    };
    let (passed, fail_reason, score) = match form.outcome.as_str() {
        "PASS" => (true, None, Some(score.unwrap_or(0.95))),
        reason @ ("FACE_MISMATCH" | "ID_CARD_MISMATCH" | "POOR_QUALITY") => {
            (false, Some(reason.to_owned()), score)
        }
        _ => return page_error(StatusCode::BAD_REQUEST, "结果无效", "请选择一个核验结果。"),
    };
    let (result, callback_url, return_url) = {
        let mut tasks = state.tasks();
        let Some(task) = tasks.get_mut(&task_id) else {
            return page_error(
                StatusCode::NOT_FOUND,
                "任务不存在",
                "请检查核验链接是否正确。",
            );
        };
        if task.result.is_some() {
            return page_error(
                StatusCode::CONFLICT,
                "核验已完成",
                "该任务已有结果，不能再次提交。",
            );
        }
        if now >= task.expires_at {
            return page_error(
                StatusCode::GONE,
                "任务已过期",
                "请返回业务页面重新发起核验。",
            );
        }
        let result = TaskResult {
            task_id: task_id.clone(),
            order_no: task.order_no.clone(),
            transaction_no: format!(
                "SBX_TXN_{}",
                uuid::Uuid::new_v4().simple().to_string().to_uppercase()
            ),
            passed,
            score,
            fail_reason,
            completed_at: now,
        };
        task.result = Some(result.clone());
        (result, task.callback_url.clone(), task.return_url.clone())
    };
    tracing::info!(%task_id, passed, "sandbox task completed");
    if form.deliver.as_deref() != Some("none") {
        deliver(&state, &callback_url, &result).await;
    }
    (StatusCode::SEE_OTHER, [(header::LOCATION, return_url)]).into_response()
}

/// Posts the signed result. A failed delivery is logged; esign pulls the result when the person
/// returns, as it would from a real provider whose callback got lost.
async fn deliver(state: &SandboxState, callback_url: &str, result: &TaskResult) {
    let body = match serde_json::to_vec(result) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "cannot encode the sandbox result");
            return;
        }
    };
    let mut request = state
        .client
        .post(callback_url)
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in protocol::signing_headers(&state.secret, &body) {
        request = request.header(name, value);
    }
    match request.body(body).send().await {
        Ok(response) if response.status().is_success() => {
            tracing::info!(task_id = %result.task_id, "sandbox result delivered");
        }
        Ok(response) => {
            tracing::warn!(task_id = %result.task_id, status = response.status().as_u16(), "sandbox result refused by the receiver");
        }
        Err(error) => {
            tracing::warn!(task_id = %result.task_id, %error, "sandbox result not delivered");
        }
    }
}

fn page_error(status: StatusCode, title: &str, text: &str) -> Response {
    (status, Html(page::message(title, text))).into_response()
}

/// First 6 and last 4 characters, as esign masks ID numbers.
fn mask_id_card(id_card_no: &str) -> String {
    let chars: Vec<char> = id_card_no.chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    let middle = "*".repeat(chars.len() - 10);
    format!(
        "{}{middle}{}",
        chars[..6].iter().collect::<String>(),
        chars[chars.len() - 4..].iter().collect::<String>()
    )
}
