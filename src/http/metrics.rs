//! `/metrics` and the middleware that counts API requests by route and code.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::ErrorCode;
use crate::metrics::Metrics;

/// `/metrics` on the main listener, where the configuration puts it there (`docs/metrics.md`).
pub(super) fn router(state: &AppState) -> Router<AppState> {
    if state
        .config
        .metrics
        .on_main_listener(state.config.server.mode)
    {
        Router::new().route("/metrics", get(exposition))
    } else {
        Router::new()
    }
}

/// The router of the separate metrics listener (`metrics.bind`): `/metrics` alone.
pub fn listener_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(exposition))
        .with_state(state)
}

/// Whether the request carries the configured bearer token (any request does when none is set).
fn authorised(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(expected) = &state.config.metrics.bearer_token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    bool::from(subtle::ConstantTimeEq::ct_eq(
        given.as_bytes(),
        expected.as_bytes(),
    ))
}

async fn exposition(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !authorised(&state, &headers) {
        tracing::warn!(
            target: "esign::security",
            "metrics request refused: missing or wrong bearer token"
        );
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
        )
            .into_response();
    }
    match state.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot encode the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Records each matched request's route pattern, status, spec code and latency.
pub(super) async fn track(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let code = response
        .extensions()
        .get::<ErrorCode>()
        .map(|code| code.0)
        .unwrap_or(0);
    metrics.http_request(&route, response.status().as_u16(), code, started.elapsed());
    response
}
