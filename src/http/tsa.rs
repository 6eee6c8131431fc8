//! `POST /tsa`: esign's RFC 3161 timestamp service over HTTP (RFC 3161 section 3.4). Unsigned, like
//! `/metrics`: anyone may ask for a timestamp, and every answer is a DER `TimeStampResp`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::http::AppState;
use crate::trust::tsa::{Outcome, QUERY_MEDIA_TYPE, REPLY_MEDIA_TYPE};

/// A TimeStampReq is a few hundred bytes.
const MAX_REQUEST_BYTES: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tsa", post(timestamp))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
}

async fn timestamp(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let Some(tsa) = &state.tsa else {
        tracing::error!("a timestamp was requested but no CA is configured (run `esign ca init`)");
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            crate::trust::tsa::rejection(
                crate::trust::tsa::FailureInfo::SystemFailure,
                "the timestamp service has no CA configured",
            ),
        );
    };
    if !media_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(QUERY_MEDIA_TYPE))
    {
        tracing::warn!(
            media_type,
            "timestamp request refused: not application/timestamp-query"
        );
        return reply(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            crate::trust::tsa::rejection(
                crate::trust::tsa::FailureInfo::BadRequest,
                "the request must be application/timestamp-query",
            ),
        );
    }
    let (response, outcome) = tsa.respond(&body, chrono::Utc::now());
    match &outcome {
        Outcome::Granted { serial_hex } => tracing::info!(serial = %serial_hex, "timestamp issued"),
        Outcome::Rejected { failure, reason } => {
            tracing::warn!(?failure, %reason, "timestamp request rejected")
        }
    }
    reply(StatusCode::OK, response)
}

fn reply(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, REPLY_MEDIA_TYPE)], body).into_response()
}
