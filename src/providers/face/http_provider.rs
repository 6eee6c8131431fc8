//! The adapter for esign's generic face provider protocol v1 ([`super::protocol`]) over HTTP. The
//! built-in sandbox serves this protocol, so development and tests run this same code path.

use std::time::Duration;

use aggregates::face_verification::Verdict;
use aggregates::values::{FaceScore, FailReason, ProviderName, ProviderTaskId, TransactionNo};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};

use super::protocol::{self, CreateTaskRequest, CreateTaskResponse, TaskResult, TaskStatus};
use super::provider::{
    CallbackError, CreatedTask, FaceProvider, ProviderError, TaskOutcome, TaskRequest,
    VerifiedCallback,
};

/// One provider reached over protocol v1.
#[derive(Debug)]
pub struct HttpFaceProvider {
    name: ProviderName,
    base_url: String,
    app_id: String,
    secret: String,
    client: reqwest::Client,
}

impl HttpFaceProvider {
    pub fn new(
        name: ProviderName,
        base_url: &str,
        app_id: &str,
        secret: &str,
        timeout: Duration,
    ) -> Result<Self, crate::providers::outbound::ClientBuildError> {
        Ok(Self {
            name,
            base_url: base_url.trim_end_matches('/').to_owned(),
            app_id: app_id.to_owned(),
            secret: secret.to_owned(),
            client: crate::providers::outbound::client(timeout)?,
        })
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        body: &[u8],
    ) -> Result<reqwest::Response, ProviderError> {
        let mut request = request.header(protocol::APP_ID_HEADER, &self.app_id);
        for (name, value) in protocol::signing_headers(&self.secret, body) {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|error| ProviderError::Unavailable(describe(&error)))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(ProviderError::Unavailable(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(ProviderError::Rejected(format!("HTTP {status}")));
        }
        Ok(response)
    }
}

/// reqwest's error with its cause chain (the top level alone says only "error sending request").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait::async_trait]
impl FaceProvider for HttpFaceProvider {
    fn name(&self) -> &ProviderName {
        &self.name
    }

    async fn create_task(&self, request: &TaskRequest) -> Result<CreatedTask, ProviderError> {
        let body = serde_json::to_vec(&CreateTaskRequest {
            app_id: self.app_id.clone(),
            order_no: request.verification_id.clone(),
            name: request.name.clone(),
            id_card_no: request.id_card_no.clone(),
            callback_url: request.callback_url.clone(),
            return_url: request.return_url.clone(),
            expires_at: request.expires_at,
        })
        .map_err(|error| ProviderError::Rejected(error.to_string()))?;
        let response = self
            .send(
                self.client
                    .post(format!("{}/v1/face/tasks", self.base_url))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone()),
                &body,
            )
            .await?;
        let created: CreateTaskResponse = response
            .json()
            .await
            .map_err(|error| ProviderError::Rejected(format!("unreadable answer: {error}")))?;
        let task_id = ProviderTaskId::parse(&created.task_id)
            .map_err(|error| ProviderError::Rejected(format!("task id: {error}")))?;
        Ok(CreatedTask {
            task_id,
            h5_url: created.h5_url,
            sdk_config: created.sdk_config,
        })
    }

    fn verify_callback(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<VerifiedCallback, CallbackError> {
        let signed = protocol::verify(&self.secret, headers, body, now)?;
        let result: TaskResult = serde_json::from_slice(body)
            .map_err(|error| CallbackError::Malformed(error.to_string()))?;
        Ok(VerifiedCallback {
            nonce: signed.nonce,
            outcome: outcome(result).map_err(CallbackError::Malformed)?,
        })
    }

    async fn fetch_result(
        &self,
        task_id: &ProviderTaskId,
    ) -> Result<Option<TaskOutcome>, ProviderError> {
        let response = self
            .send(
                self.client.get(format!(
                    "{}/v1/face/tasks/{}",
                    self.base_url,
                    task_id.as_str()
                )),
                b"",
            )
            .await?;
        let status: TaskStatus = response
            .json()
            .await
            .map_err(|error| ProviderError::Rejected(format!("unreadable answer: {error}")))?;
        match (status.status.as_str(), status.result) {
            ("COMPLETED", Some(result)) => {
                outcome(result).map(Some).map_err(ProviderError::Rejected)
            }
            ("PENDING", _) => Ok(None),
            (other, _) => Err(ProviderError::Rejected(format!(
                "unexpected task status {other:?}"
            ))),
        }
    }
}

/// A wire result as the domain's verdict.
fn outcome(result: TaskResult) -> Result<TaskOutcome, String> {
    let task_id = ProviderTaskId::parse(&result.task_id).map_err(|e| format!("taskId: {e}"))?;
    let transaction_no =
        TransactionNo::parse(&result.transaction_no).map_err(|e| format!("transactionNo: {e}"))?;
    let score = result
        .score
        .map(FaceScore::parse)
        .transpose()
        .map_err(|e| format!("score: {e}"))?;
    let verdict = if result.passed {
        Verdict::Passed {
            score: score.ok_or("score: required when passed")?,
        }
    } else {
        let reason = result
            .fail_reason
            .as_deref()
            .ok_or("failReason: required when not passed")?;
        Verdict::Failed {
            score,
            reason: FailReason::parse(reason).map_err(|e| format!("failReason: {e}"))?,
        }
    };
    Ok(TaskOutcome {
        task_id,
        order_no: result.order_no,
        transaction_no,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(passed: bool, score: Option<f64>, reason: Option<&str>) -> TaskResult {
        TaskResult {
            task_id: "T1".into(),
            order_no: "FACE_VERIFY_1".into(),
            transaction_no: "TXN_1".into(),
            passed,
            score,
            fail_reason: reason.map(str::to_owned),
            completed_at: Utc::now(),
        }
    }

    #[test]
    fn wire_results_become_verdicts() {
        assert!(matches!(
            outcome(wire(true, Some(0.95), None)).unwrap().verdict,
            Verdict::Passed { .. }
        ));
        assert!(matches!(
            outcome(wire(false, None, Some("POOR_QUALITY")))
                .unwrap()
                .verdict,
            Verdict::Failed {
                reason: FailReason::PoorQuality,
                ..
            }
        ));
        assert!(outcome(wire(true, None, None)).is_err());
        assert!(outcome(wire(false, None, Some("BORED"))).is_err());
        assert!(outcome(wire(true, Some(1.5), None)).is_err());
    }
}
