//! `GET /s/{code}`: the short link a signer gets by SMS, redirecting to their sign URL.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;

use super::AppState;
use crate::short_links;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/s/{code}", get(follow))
}

async fn follow(State(state): State<AppState>, Path(code): Path<String>) -> Response {
    let resolved = short_links::resolve(&state.store, &state.pii, &code).await;
    let mut response = match resolved {
        Ok(Some(link)) if link.expires_at > Utc::now() => {
            match HeaderValue::from_str(&link.target) {
                Ok(location) => {
                    let mut response = StatusCode::FOUND.into_response();
                    response.headers_mut().insert(header::LOCATION, location);
                    response
                }
                Err(error) => {
                    tracing::error!(%error, "a stored short-link target is not a header value");
                    page(StatusCode::INTERNAL_SERVER_ERROR, "50000", "系统内部错误")
                }
            }
        }
        Ok(Some(_)) => page(
            StatusCode::GONE,
            "40004",
            "签署链接已过期，请联系协议发起方重新获取",
        ),
        Ok(None) => {
            tracing::info!("refused: unknown short link");
            page(StatusCode::NOT_FOUND, "40400", "链接无效")
        }
        Err(error) => {
            tracing::warn!(%error, "cannot resolve a short link");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "50300",
                "系统繁忙，请稍后重试",
            )
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

fn page(status: StatusCode, code: &'static str, message: &'static str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{message}</title>\
         <style>body{{font-family:sans-serif;margin:0;padding:48px 24px;text-align:center;color:#333}}\
         #error-code{{color:#999;font-size:14px}}</style></head><body>\
         <h1 id=\"error-message\">{message}</h1><p id=\"error-code\">{code}</p></body></html>"
    );
    (status, Html(html)).into_response()
}
