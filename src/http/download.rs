//! `GET /download/{kind}/{id}/{sha256}.pdf`: sealed contracts and archive certificates, through
//! short-lived signed URLs (docs/storage.md).
//!
//! The signature covers the path, which names the file by its hash, so a URL leads to exactly one
//! file and nothing needs looking up: the store refuses bytes whose hash differs. Anyone holding a
//! live URL may download; the API hands them only to the contract's owner (and in its callbacks).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde::Deserialize;

use super::AppState;
use super::h5::security::ClientIp;
use crate::documents::storage::DocumentStoreError;

pub fn router() -> Router<AppState> {
    Router::new().route("/download/{kind}/{id}/{file}", get(download))
}

#[derive(Debug, Deserialize)]
struct Signed {
    expires: Option<String>,
    signature: Option<String>,
}

async fn download(
    State(state): State<AppState>,
    ip: ClientIp,
    Path((kind, id, file)): Path<(String, String, String)>,
    Query(signed): Query<Signed>,
) -> Response {
    let path = format!("/download/{kind}/{id}/{file}");
    let checked = state.links.verify(
        &path,
        signed.expires.as_deref().unwrap_or_default(),
        signed.signature.as_deref().unwrap_or_default(),
        Utc::now(),
    );
    if let Err(error) = checked {
        tracing::warn!(ip = %ip.0, %path, %error, "refused: download URL");
        return refusal(
            StatusCode::FORBIDDEN,
            "the download link is invalid or has expired",
        );
    }
    let Some(hash) = file
        .strip_suffix(".pdf")
        .filter(|hash| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return refusal(StatusCode::NOT_FOUND, "no such document");
    };
    if !matches!(kind.as_str(), "contracts" | "archives") || !safe_id(&id) {
        return refusal(StatusCode::NOT_FOUND, "no such document");
    }
    let storage_key = format!("{kind}/{id}/{hash}.pdf");
    match state.documents.get(&storage_key, hash).await {
        Ok(bytes) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            );
            if let Ok(disposition) =
                HeaderValue::from_str(&format!("attachment; filename=\"{id}.pdf\""))
            {
                headers.insert(header::CONTENT_DISPOSITION, disposition);
            }
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            response
        }
        Err(DocumentStoreError::NotFound(_)) => refusal(StatusCode::NOT_FOUND, "no such document"),
        Err(error) => {
            // A hash mismatch is tampering or corruption at rest: never serve those bytes.
            tracing::error!(%storage_key, %error, "cannot serve a stored document");
            refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "the document cannot be read now",
            )
        }
    }
}

/// Ids are the service's own (`CONTRACT_...`, `ARCHIVE_...`): nothing that could climb a path.
fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn refusal(status: StatusCode, message: &'static str) -> Response {
    let mut response = (status, message).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
