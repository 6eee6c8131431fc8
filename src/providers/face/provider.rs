//! The face provider contract: what esign needs from any liveness + face-comparison service.
//!
//! Each vendor gets an adapter implementing [`FaceProvider`]; [`super::http_provider`] is the adapter
//! for esign's generic protocol v1 (which the built-in sandbox serves). The service tries adapters in
//! the configured order ([`super::FaceProviders`]).

use std::fmt::Debug;

use aggregates::face_verification::Verdict;
use aggregates::values::{ProviderName, ProviderTaskId, TransactionNo};
/// The headers of a provider's callback, as they arrived.
pub use axum::http::HeaderMap;
use chrono::{DateTime, Utc};

pub use super::protocol::SdkConfig;

/// What a provider needs to create a task for one person.
#[derive(Clone)]
pub struct TaskRequest {
    pub verification_id: String,
    pub name: String,
    pub id_card_no: String,
    /// esign's endpoint for this provider's signed results.
    pub callback_url: String,
    /// esign's page the person returns to (it pulls the result server-side).
    pub return_url: String,
    pub expires_at: DateTime<Utc>,
}

impl Debug for TaskRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRequest")
            .field("verification_id", &self.verification_id)
            .field("id_card_no", &"<redacted>")
            .field("callback_url", &self.callback_url)
            .finish()
    }
}

/// A task the provider accepted.
#[derive(Debug, Clone)]
pub struct CreatedTask {
    pub task_id: ProviderTaskId,
    /// The provider's page for the person (H5 mode).
    pub h5_url: Option<String>,
    /// Parameters for the provider's app SDK (SDK mode).
    pub sdk_config: Option<SdkConfig>,
}

/// A provider's verdict on one task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskOutcome {
    pub task_id: ProviderTaskId,
    /// The verification id the task was created for, as the provider echoes it.
    pub order_no: String,
    pub transaction_no: TransactionNo,
    pub verdict: Verdict,
}

/// A callback whose signature and timestamp were checked.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedCallback {
    /// Single use: the service refuses a second callback with the same nonce.
    pub nonce: String,
    pub outcome: TaskOutcome,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Timeout, connection failure or a 5xx: try the next provider, retry later.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider answered but refused the request or sent something unreadable.
    #[error("the provider refused the request: {0}")]
    Rejected(String),
}

impl ProviderError {
    /// The metrics label.
    pub fn outcome(&self) -> &'static str {
        match self {
            ProviderError::Unavailable(_) => "unavailable",
            ProviderError::Rejected(_) => "rejected",
        }
    }
}

/// Why a callback was refused before anything was recorded.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("signature: {0}")]
    Signature(#[from] super::protocol::SignatureError),
    #[error("the body is not a result: {0}")]
    Malformed(String),
}

/// A face verification provider.
#[async_trait::async_trait]
pub trait FaceProvider: Send + Sync + Debug {
    /// The configured name (`[face.provider.<name>]`), recorded with every task and result.
    fn name(&self) -> &ProviderName;

    /// Creates a task: the provider's page for the person and/or its SDK parameters.
    async fn create_task(&self, request: &TaskRequest) -> Result<CreatedTask, ProviderError>;

    /// Checks a callback (headers and raw body) and reads the verdict in it.
    fn verify_callback(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<VerifiedCallback, CallbackError>;

    /// Asks the provider for a task's result, server to server. `None` while the person has not
    /// finished.
    async fn fetch_result(
        &self,
        task_id: &ProviderTaskId,
    ) -> Result<Option<TaskOutcome>, ProviderError>;
}
