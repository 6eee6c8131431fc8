//! The HTTP edge: the router, shared state, and the mapping of errors to responses.
//!
//! A handler extracts and authenticates, calls one use case of [`crate::app`] and renders its answer;
//! [`error`] maps the application's error to the spec's codes in one place.
//!
//! # Layout
//!
//! - [`server`]: binding the listener and serving; [`AppState`]: what every handler gets.
//! - [`auth`]: request signatures of `/api/v1/**`; [`api`]: the signed REST API.
//! - [`h5`]: the signer's pages; `face_pages`: the person's face verification pages;
//!   [`provider_callbacks`]: face providers' signed results.
//! - `download`: signed document downloads; `tsa`: the RFC 3161 service; `ca`: the CA's CRLs and
//!   OCSP responder; `health`, `metrics`,
//!   [`openapi`]: what operators and integrators read; `dev`: development-only routes.

pub mod api;
pub mod auth;
mod ca;
mod dev;
mod download;
pub mod error;
mod face_pages;
pub mod h5;
mod health;
pub(crate) mod metrics;
pub mod openapi;
pub mod provider_callbacks;
pub mod server;
mod tsa;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Request};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::services::Services;
use auth::RequestAuthenticator;

/// What every handler may use: the services the use cases run on, and the edge's own pieces.
#[derive(Debug, Clone)]
pub struct AppState {
    pub app: Services,
    /// Checks the signature of every `/api/v1/**` request.
    pub authenticator: Arc<RequestAuthenticator>,
    /// The signing pages' rate limits, counted in this process (docs/h5.md).
    pub h5_limiter: Arc<h5::RateLimiter>,
}

/// Handlers read the services through the state, as the use cases do.
impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.app
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The path as request logs show it: a short link's code leads to a live sign token, so it is
/// replaced by the route's placeholder. (Tokens travel in the query, which is never logged.)
fn logged_path(path: &str) -> &str {
    if path.starts_with("/s/") {
        "/s/{code}"
    } else if path.starts_with("/ca/ocsp/") {
        // The request itself, base64-encoded: long and of no use in a log line.
        "/ca/ocsp/{request}"
    } else {
        path
    }
}

/// The whole service's routes.
pub fn router(state: AppState) -> Router {
    let signed = api::router().route_layer(axum::middleware::from_fn_with_state(
        Arc::clone(&state.authenticator),
        auth::require_signature,
    ));
    let track_requests =
        axum::middleware::from_fn_with_state(Arc::clone(&state.metrics), metrics::track);
    Router::new()
        .merge(dev::router(&state))
        .merge(health::router())
        .merge(metrics::router(&state))
        .merge(openapi::router(&state))
        .merge(provider_callbacks::router())
        .merge(face_pages::router())
        .merge(h5::router())
        .merge(crate::http::tsa::router())
        .merge(crate::http::ca::router())
        .merge(download::router())
        .nest("/api/v1", signed)
        .route_layer(track_requests)
        .with_state(state)
        .layer(axum::middleware::from_fn(refuse_nul_characters))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let request_id = request
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %logged_path(request.uri().path()),
                    request_id = %request_id,
                )
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::from_fn(drop_unsafe_request_id))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
}

/// The longest `X-Request-Id` taken from a caller.
const MAX_REQUEST_ID_LEN: usize = 64;

/// Whether a caller's `X-Request-Id` may be kept: it reaches logs and the immutable event metadata,
/// and anyone holding a sign link can send one, so only a short id of `[A-Za-z0-9._-]` is.
fn is_safe_request_id(value: &axum::http::HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=MAX_REQUEST_ID_LEN).contains(&bytes.len())
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// Drops every `X-Request-Id` unless there is exactly one safe one, so that the next layer makes a
/// fresh id instead of storing what the caller sent.
async fn drop_unsafe_request_id(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let headers = request.headers();
    let mut given = headers.get_all(&REQUEST_ID).iter();
    let keep = match (given.next(), given.next()) {
        (Some(only), None) => is_safe_request_id(only),
        (None, _) => true,
        _ => false,
    };
    if !keep {
        tracing::debug!("X-Request-Id replaced: not a short id of letters, digits, '.', '_', '-'");
        request.headers_mut().remove(&REQUEST_ID);
    }
    next.run(request).await
}

/// Refuses a request whose path or query carries `%00` with 400 / 40001 before any route runs. No
/// id, token or filter holds a NUL character, and PostgreSQL stores none in text, so it would
/// otherwise reach a query and fail there as a 500.
async fn refuse_nul_characters(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let has_nul = |part: &str| part.as_bytes().windows(3).any(|three| three == b"%00");
    let uri = request.uri();
    let field = if has_nul(uri.path()) {
        "path"
    } else if uri.query().is_some_and(has_nul) {
        "query"
    } else {
        return next.run(request).await;
    };
    tracing::warn!(
        path = %logged_path(uri.path()),
        field,
        "refused a request carrying a NUL character"
    );
    crate::app::error::AppError::Validation(aggregates::ValidationErrors::single(
        field,
        "must not contain the character U+0000",
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_logs_hide_short_link_codes_and_keep_other_paths() {
        assert_eq!(super::logged_path("/s/AbC123xYz9"), "/s/{code}");
        assert_eq!(
            super::logged_path("/api/v1/contract/CONTRACT_1"),
            "/api/v1/contract/CONTRACT_1"
        );
    }
}
