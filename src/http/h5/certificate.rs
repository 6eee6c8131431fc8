//! The CA_CERT signer's two JSON steps (docs/trust.md, "Personal certificates"): the page sends
//! the certificate chain and the drawing, gets the signed attributes to sign, signs them in the
//! browser and sends the signature. Both are guarded like every signing form (rate limits,
//! Referer, the CSRF token, here in the JSON body). Errors answer JSON too:
//! `{"code": 40006, "message": "...", "hint": "...", "reason": "CERTIFICATE_REVOKED"}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;

use super::PageError;
use super::security::ClientIp;
use super::sign::{TokenQuery, posted, signer_metadata, user_agent};
use crate::app::signing::certificate as use_case;
use crate::http::AppState;

/// A refusal as JSON: the page's script shows `message` and decides from `reason`.
pub(super) struct JsonError(PageError);

impl From<PageError> for JsonError {
    fn from(error: PageError) -> Self {
        Self(error)
    }
}

impl From<crate::app::signing::SigningError> for JsonError {
    fn from(error: crate::app::signing::SigningError) -> Self {
        Self(error.into())
    }
}

impl From<crate::app::AppError> for JsonError {
    fn from(error: crate::app::AppError) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let (status, code, message, hint) = self.0.parts();
        match &self.0 {
            PageError::Internal(_) => tracing::error!(code, error = %self.0, "signing step failed"),
            _ => tracing::warn!(code, error = %self.0, "signing step refused"),
        }
        let detail = match &self.0 {
            PageError::Invalid { field, reason } => Some(format!("{field} {reason}")),
            _ => None,
        };
        (
            status,
            Json(json!({
                "code": code,
                "message": message,
                "hint": hint,
                "reason": self.0.reason(),
                "detail": detail,
            })),
        )
            .into_response()
    }
}

/// What the page sends to prepare.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PrepareBody {
    csrf: Option<String>,
    /// Base64 DER, the signer's certificate first.
    certificates: Vec<String>,
    /// The pad's PNG as a data URL.
    signature: String,
}

/// What the page sends to complete.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CompleteBody {
    csrf: Option<String>,
    preparation: String,
    certificates: Vec<String>,
    signature: String,
    /// Base64 of the signature over the signed attributes (DER for ECDSA).
    signed: String,
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    serde_json::from_slice(bytes).map_err(|error| {
        JsonError(PageError::Invalid {
            field: "body",
            reason: error.to_string(),
        })
    })
}

/// Certificate step: check and prepare
///
/// `POST /h5/sign/certificate/prepare?token=...` with `{csrf, certificates, signature}`: checks the
/// certificate, records `VerifyCertificate`, prepares the revision; answers
/// `{preparation, signedAttributes (base64 DER), certificate}`.
pub(super) async fn prepare(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    ip: ClientIp,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, JsonError> {
    let request: PrepareBody = body(&bytes)?;
    let resolved = posted(&state, ip, &query.token, &headers, request.csrf.as_deref()).await?;
    let image = super::signature::parse(Some(&request.signature))?;
    let chain = use_case::decode_chain(&request.certificates)?;
    let metadata = signer_metadata(&resolved, ip, &headers);
    let prepared = use_case::prepare(&state, &resolved, &metadata, ip.0, &chain, &image).await?;
    Ok(Json(json!({
        "preparation": prepared.token,
        "signedAttributes": STANDARD.encode(&prepared.signed_attributes),
        "certificate": prepared.certificate,
    }))
    .into_response())
}

/// Certificate step: sign
///
/// `POST /h5/sign/certificate/complete?token=...` with `{csrf, preparation, certificates,
/// signature, signed}`: makes the prepared revision with the signature, timestamps it, records
/// `Sign`; answers `{title, transactionNo, contractSigned}`. A document that changed meanwhile
/// answers 409 with reason `DOCUMENT_CHANGED`: prepare again.
pub(super) async fn complete(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    ip: ClientIp,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, JsonError> {
    let request: CompleteBody = body(&bytes)?;
    let resolved = posted(&state, ip, &query.token, &headers, request.csrf.as_deref()).await?;
    let image = super::signature::parse(Some(&request.signature))?;
    let chain = use_case::decode_chain(&request.certificates)?;
    let signed = STANDARD.decode(request.signed.trim()).map_err(|_| {
        JsonError(PageError::Invalid {
            field: "signed",
            reason: "must be base64".into(),
        })
    })?;
    let metadata = signer_metadata(&resolved, ip, &headers);
    let user_agent = user_agent(&headers);
    let done = use_case::complete(
        &state,
        &resolved,
        &metadata,
        &request.preparation,
        &chain,
        image,
        &signed,
        user_agent.as_deref(),
    )
    .await?;
    Ok(Json(json!({
        "title": done.title,
        "transactionNo": done.transaction_no,
        "contractSigned": done.contract_signed,
    }))
    .into_response())
}
