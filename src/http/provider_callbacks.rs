//! Face providers' signed results (spec 4.1.1 step 4, 4.3 item 3): `POST /provider-callbacks/face/{provider}`.
//!
//! Outside the client-signed `/api/v1` group: providers hold their own shared secret, not a client's.
//! The signature, timestamp window and single-use nonce are checked, then the result goes through the
//! pipeline; anything refused is logged and writes no event. The answer is a small JSON ack.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use super::AppState;
use super::openapi;
use crate::app::verifications::{self as flow, CallbackRefusal};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/provider-callbacks/face/{provider}", post(face_result))
}

/// A face provider's result
///
/// `POST /provider-callbacks/face/{provider}`: protocol v1 callback, signed by the provider with the
/// secret it shares with esign (`X-Provider-Timestamp`, `X-Provider-Nonce`, `X-Provider-Signature` =
/// hex HMAC-SHA256(secret, `<timestamp>.<nonce>.<raw body>`)). An identical repeat of a recorded
/// result is acknowledged without change; a forged, replayed, conflicting or late one is refused.
#[utoipa::path(
    post,
    path = "/provider-callbacks/face/{provider}",
    tag = openapi::TAG_PROVIDER,
    operation_id = "faceProviderCallback",
    params(
        ("provider" = String, Path, description = "The provider's configured name.", example = "sandbox"),
        ("X-Provider-Timestamp" = String, Header, description = "Unix seconds, within ±300 s."),
        ("X-Provider-Nonce" = String, Header, description = "16-64 of [A-Za-z0-9_-], single use."),
        ("X-Provider-Signature" = String, Header, description = "Lowercase hex HMAC-SHA256(secret, `<timestamp>.<nonce>.<raw body>`)."),
    ),
    request_body(content = openapi::schemas::ProviderTaskResult),
    responses(
        (status = 200, description = "Recorded, or an identical repeat of the recorded result.", body = openapi::schemas::ProviderCallbackAck),
        (status = 400, description = "Signed, but not a result.", body = openapi::schemas::ProviderCallbackAck),
        (status = 401, description = "Bad or missing signature, or a timestamp outside the window.", body = openapi::schemas::ProviderCallbackAck),
        (status = 404, description = "Unknown provider or task.", body = openapi::schemas::ProviderCallbackAck),
        (status = 409, description = "Replayed nonce, a different verdict for a decided task, or a result after the deadline.", body = openapi::schemas::ProviderCallbackAck),
    )
)]
pub(crate) async fn face_result(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    super::face_pages::PeerIp(peer): super::face_pages::PeerIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ip = peer.map(|peer| peer.ip().to_string());
    let ack = flow::record_callback(&state, &provider, &headers, &body, ip).await;
    let status = match ack.refusal {
        None => StatusCode::OK,
        Some(CallbackRefusal::Unknown) => StatusCode::NOT_FOUND,
        Some(CallbackRefusal::Signature) => StatusCode::UNAUTHORIZED,
        Some(CallbackRefusal::Malformed) => StatusCode::BAD_REQUEST,
        Some(CallbackRefusal::Conflict) => StatusCode::CONFLICT,
        Some(CallbackRefusal::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(ack)).into_response()
}
