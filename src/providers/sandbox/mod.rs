//! The sandbox face provider: a test double of a liveness + face-comparison vendor, run as its own HTTP
//! service with its own routes, address and secret. It speaks esign's provider protocol v1
//! ([`crate::providers::face::protocol`]), so esign reaches it through the same adapter a real provider uses.
//!
//! - `POST /v1/face/tasks` and `GET /v1/face/tasks/{taskId}`: signed with the shared secret.
//! - `GET /capture/{taskId}`: a mobile page (Chinese, no external assets) where the tester picks the
//!   outcome: pass with a score, `FACE_MISMATCH`, `ID_CARD_MISMATCH` or `POOR_QUALITY`.
//! - `POST /capture/{taskId}`: records the outcome, posts the signed result to the task's callback URL
//!   and redirects the browser to the task's return URL.
//!
//! Tasks live in memory: the sandbox is a development and test tool (it compares no faces), so losing
//! its tasks on restart is acceptable. It keeps the name and only a masked ID number. esign starts it
//! in-process in development mode, or alone with `esign sandbox`; never in production mode.

mod page;
mod routes;

use serde::Deserialize;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::net::TcpListener;

use crate::providers::face::protocol::TaskResult;

/// How the sandbox runs.
/// `[sandbox]`: the built-in test double of a face provider (never in production).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Port 0 picks a free port.
    pub bind: SocketAddr,
    /// Shared with esign's `[face.provider.sandbox]`; generated when absent.
    pub secret: Option<String>,
    /// How browsers reach the sandbox; default `http://<bound address>`.
    pub public_base_url: Option<String>,
}

impl SandboxConfig {
    pub fn check(&self, mode: aggregates::values::Mode) -> Result<(), String> {
        if mode == aggregates::values::Mode::Production
            && (self.secret.is_some() || self.public_base_url.is_some())
        {
            return Err(
                "[sandbox] is for development only; production mode refuses the sandbox face provider"
                    .into(),
            );
        }
        if let Some(secret) = &self.secret
            && secret.len() < 16
        {
            return Err("sandbox.secret must have at least 16 characters".into());
        }
        Ok(())
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            secret: None,
            public_base_url: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// Shared with esign's `[face.provider.<name>] secret`.
    pub secret: String,
    /// How browsers reach the sandbox (the capture page links); default `http://<bound address>`.
    pub public_base_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the sandbox cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the sandbox cannot use its listener: {0}")]
    Listener(std::io::Error),
    #[error(transparent)]
    Client(#[from] crate::providers::outbound::ClientBuildError),
    #[error("the sandbox face provider is for development only; production mode refuses it")]
    Production,
}

/// One task, as the sandbox keeps it.
#[derive(Debug, Clone)]
struct SandboxTask {
    order_no: String,
    app_id: String,
    name: String,
    masked_id_card_no: String,
    callback_url: String,
    return_url: String,
    expires_at: DateTime<Utc>,
    result: Option<TaskResult>,
}

#[derive(Debug, Clone)]
struct SandboxState {
    secret: Arc<str>,
    public_base_url: Arc<str>,
    tasks: Arc<Mutex<HashMap<String, SandboxTask>>>,
    /// Nonces of esign's requests, with their timestamps: each is accepted once in its window.
    nonces: Arc<Mutex<HashMap<String, i64>>>,
    client: reqwest::Client,
}

impl SandboxState {
    /// Records a request nonce; `false` when it was seen inside the timestamp window (a replay).
    fn use_nonce(&self, nonce: &str, timestamp: i64, now: i64) -> bool {
        let mut nonces = self
            .nonces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Outside the window the timestamp check refuses a replay on its own.
        nonces.retain(|_, seen| {
            (now - *seen).abs() <= 2 * crate::providers::face::protocol::TIMESTAMP_WINDOW_SECONDS
        });
        nonces.insert(nonce.to_owned(), timestamp).is_none()
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, HashMap<String, SandboxTask>> {
        // A panic while holding the lock leaves a usable map.
        self.tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The sandbox, bound but not yet serving.
#[derive(Debug)]
pub struct Sandbox {
    listener: TcpListener,
    state: SandboxState,
}

impl Sandbox {
    /// Binds `address` (port 0 picks a free port).
    pub async fn bind(
        address: SocketAddr,
        settings: SandboxSettings,
    ) -> Result<Self, SandboxError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| SandboxError::Bind { address, source })?;
        Self::on(listener, settings)
    }

    /// Binds the sandbox `[sandbox]` describes, sharing `secret` with esign's provider entry.
    pub async fn start(config: &SandboxConfig, secret: String) -> Result<Self, SandboxError> {
        let settings = SandboxSettings {
            secret,
            public_base_url: config.public_base_url.clone(),
        };
        Self::bind(config.bind, settings).await
    }

    /// Serves on a listener bound elsewhere.
    pub fn on(listener: TcpListener, settings: SandboxSettings) -> Result<Self, SandboxError> {
        let address = listener.local_addr().map_err(SandboxError::Listener)?;
        let public_base_url = settings
            .public_base_url
            .unwrap_or_else(|| format!("http://{address}"));
        Ok(Self {
            listener,
            state: SandboxState {
                secret: settings.secret.into(),
                public_base_url: public_base_url.trim_end_matches('/').into(),
                tasks: Arc::default(),
                nonces: Arc::default(),
                client: crate::providers::outbound::client(Duration::from_secs(10))?,
            },
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The base URL browsers and esign use.
    pub fn base_url(&self) -> String {
        self.state.public_base_url.to_string()
    }

    /// Serves until `shutdown` completes.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = routes::router(self.state);
        axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// A random secret for an in-process sandbox (both sides learn it from the same process).
pub fn generate_secret() -> String {
    format!(
        "sbx-{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}
