//! `GET /s/{code}`: the short link a signer gets by SMS, redirecting to their sign URL.
//!
//! Codes are look-up keys, so guessing is throttled per IP like every other H5 request; a code is
//! only ever a way to the real sign URL, whose token the signing page checks.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;

use super::pages;
use super::security::ClientIp;
use crate::app::short_links;
use crate::http::AppState;

const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);

pub(super) async fn follow(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(code): Path<String>,
) -> Response {
    let mut response = if !state.h5_limiter.allow(
        &format!("ip:{}", ip.0),
        state.config.h5.requests_per_minute_per_ip,
        MINUTE,
    ) {
        tracing::warn!(ip = %ip.0, "short link: per-IP rate limit reached");
        page(
            StatusCode::TOO_MANY_REQUESTS,
            42900,
            "访问过于频繁，请稍后再试",
        )
    } else {
        match short_links::resolve(&state.store, &state.pii, &code).await {
            Ok(Some(link)) if link.expires_at > Utc::now() => {
                match HeaderValue::from_str(&link.target) {
                    Ok(location) => {
                        let mut response = StatusCode::FOUND.into_response();
                        response.headers_mut().insert(header::LOCATION, location);
                        response
                    }
                    Err(error) => {
                        tracing::error!(%error, "a stored short-link target is not a header value");
                        page(StatusCode::INTERNAL_SERVER_ERROR, 50000, "系统内部错误")
                    }
                }
            }
            Ok(Some(_)) => page(StatusCode::GONE, 40004, "签署链接已过期，请重新获取"),
            Ok(None) => {
                tracing::info!(ip = %ip.0, "refused: unknown short link");
                page(StatusCode::NOT_FOUND, 40400, "链接无效")
            }
            Err(error) => {
                tracing::warn!(%error, "cannot resolve a short link");
                page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    50300,
                    "系统繁忙，请稍后重试",
                )
            }
        }
    };
    let headers = response.headers_mut();
    // The target carries the sign token: never cache it, never leak it as a Referer.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn page(status: StatusCode, code: u32, message: &str) -> Response {
    let hint = "请联系协议发起方重新获取签署链接。";
    (status, Html(pages::error_page(code, message, hint, None))).into_response()
}
