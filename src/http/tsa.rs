//! `POST /tsa`: esign's RFC 3161 timestamp service over HTTP (RFC 3161 section 3.4). Unsigned: anyone
//! may ask for a timestamp (docs/trust.md says who it is for), as often as
//! `[trust] tsa_requests_per_minute_per_ip` allows; every answer is a DER `TimeStampResp`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::http::AppState;
use crate::http::h5::security::ClientIp;
use crate::trust::tsa::{Outcome, QUERY_MEDIA_TYPE, REPLY_MEDIA_TYPE};

/// A TimeStampReq is a few hundred bytes.
const MAX_REQUEST_BYTES: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tsa", post(timestamp))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
}

async fn timestamp(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Unsigned and a signature per request: without a limit anyone could keep the CPU busy.
    if !state.h5_limiter.allow(
        &format!("tsa-ip:{ip}"),
        state.config.trust.tsa_requests_per_minute_per_ip,
        std::time::Duration::from_secs(60),
    ) {
        tracing::warn!(target: "esign::security", %ip, "timestamp request refused: per-IP rate limit reached");
        let mut response = reply(
            StatusCode::TOO_MANY_REQUESTS,
            crate::trust::tsa::rejection(
                crate::trust::tsa::FailureInfo::SystemFailure,
                "too many timestamp requests from this address; try again in a minute",
            ),
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("60"),
        );
        return response;
    }
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
