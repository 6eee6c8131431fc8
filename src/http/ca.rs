//! The platform CA's public revocation status, unsigned like `/tsa` (docs/trust.md, "Revocation"):
//!
//! - `GET /ca/intermediate.crl`: the intermediate's CRL, made on each request (DER).
//! - `GET /ca/root.crl`: the root's CRL as `esign ca init` / `esign ca root-crl` wrote it; 404
//!   when there is none (the service never holds the root key).
//! - `GET /ca/intermediate.crt`: the intermediate's certificate (DER), named by the caIssuers
//!   access of the certificates it issues.
//! - `POST /ca/ocsp` and `GET /ca/ocsp/{request}`: the OCSP responder (RFC 6960 appendix A). An
//!   unreadable request gets an OCSP `malformedRequest` answer with HTTP 200, never a 5xx.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;

use crate::app::revocation::OcspOutcome;
use crate::http::AppState;
use crate::trust::ca::{
    INTERMEDIATE_CERTIFICATE_PATH, INTERMEDIATE_CRL_PATH, OCSP_PATH, ROOT_CRL_PATH,
};
use crate::trust::ocsp::{
    self, MAX_REQUEST_BYTES, REQUEST_MEDIA_TYPE, RESPONSE_MEDIA_TYPE, ResponseStatus,
};

const CRL_MEDIA_TYPE: &str = "application/pkix-crl";
const CERTIFICATE_MEDIA_TYPE: &str = "application/pkix-cert";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(INTERMEDIATE_CRL_PATH, get(intermediate_crl))
        .route(ROOT_CRL_PATH, get(root_crl))
        .route(INTERMEDIATE_CERTIFICATE_PATH, get(intermediate_certificate))
        .route(OCSP_PATH, post(ocsp_post))
        .route(&format!("{OCSP_PATH}/{{*request}}"), get(ocsp_get))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
}

fn no_ca() -> Response {
    tracing::error!(
        "revocation status was asked for but no CA is configured (run `esign ca init`)"
    );
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "no platform CA is configured\n",
    )
        .into_response()
}

async fn intermediate_crl(State(state): State<AppState>) -> Response {
    let Some(revocations) = &state.revocations else {
        return no_ca();
    };
    match revocations.crl_der(chrono::Utc::now()).await {
        Ok(der) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, CRL_MEDIA_TYPE)],
            der,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "the intermediate CRL could not be made");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the CRL cannot be made right now; try again later\n",
            )
                .into_response()
        }
    }
}

async fn root_crl(State(state): State<AppState>) -> Response {
    let Some(revocations) = &state.revocations else {
        return no_ca();
    };
    match revocations.root_crl_der() {
        Ok(Some(der)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, CRL_MEDIA_TYPE)],
            der,
        )
            .into_response(),
        Ok(None) => {
            tracing::warn!(
                path = %revocations.root_crl_path().display(),
                "the root CRL was asked for but there is no file: run `esign ca root-crl` where \
                 the root key is kept"
            );
            (
                StatusCode::NOT_FOUND,
                "no root CRL has been published: the operator signs it with the offline root key \
                 (`esign ca root-crl`)\n",
            )
                .into_response()
        }
        Err(error) => {
            tracing::error!(%error, "the root CRL could not be read");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the root CRL cannot be read right now\n",
            )
                .into_response()
        }
    }
}

async fn intermediate_certificate(State(state): State<AppState>) -> Response {
    let Some(revocations) = &state.revocations else {
        return no_ca();
    };
    let der = revocations
        .ca()
        .chain()
        .into_iter()
        .next()
        .unwrap_or_default();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, CERTIFICATE_MEDIA_TYPE)],
        der,
    )
        .into_response()
}

async fn ocsp_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !media_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(REQUEST_MEDIA_TYPE))
    {
        tracing::warn!(
            media_type,
            "OCSP request refused: not application/ocsp-request"
        );
        return reply(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ocsp::status_only(ResponseStatus::MalformedRequest),
        );
    }
    answer(&state, &body).await
}

/// RFC 6960 appendix A.1: the GET form carries the request base64-encoded (then URL-encoded, which
/// the path extractor undoes). The URL-safe alphabet and missing padding are accepted too.
async fn ocsp_get(State(state): State<AppState>, Path(encoded): Path<String>) -> Response {
    let encoded = encoded.trim();
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let decoded = (encoded.len() <= MAX_REQUEST_BYTES * 4 / 3 + 4)
        .then(|| {
            engines
                .iter()
                .find_map(|engine| engine.decode(encoded).ok())
        })
        .flatten();
    match decoded {
        Some(request) => answer(&state, &request).await,
        None => {
            tracing::warn!("OCSP request refused: the GET path is not base64");
            reply(
                StatusCode::OK,
                ocsp::status_only(ResponseStatus::MalformedRequest),
            )
        }
    }
}

async fn answer(state: &AppState, request: &[u8]) -> Response {
    let Some(revocations) = &state.revocations else {
        tracing::error!("an OCSP request arrived but no CA is configured (run `esign ca init`)");
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            ocsp::status_only(ResponseStatus::TryLater),
        );
    };
    let (der, outcome) = revocations.ocsp_answer(request, chrono::Utc::now()).await;
    match outcome {
        OcspOutcome::Answered {
            certificates,
            revoked,
        } => tracing::info!(certificates, revoked, "OCSP request answered"),
        OcspOutcome::Malformed(reason) => {
            tracing::warn!(%reason, "OCSP request answered malformedRequest")
        }
        OcspOutcome::Failed(reason) => {
            tracing::error!(%reason, "OCSP request answered internalError")
        }
    }
    reply(StatusCode::OK, der)
}

fn reply(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, RESPONSE_MEDIA_TYPE)], body).into_response()
}
