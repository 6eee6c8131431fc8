//! The face step of FACE_AND_SMS on the signing page: `POST /h5/sign/face/start` sends the browser
//! to the provider's page, `GET /h5/sign/face-return?token=...` brings it back (see
//! `app::signing::face` for what each records).

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::PageError;
use super::security::ClientIp;
use super::sign::{StepForm, TokenQuery, admit, signer_metadata};
use crate::app::signing::{self, face};
use crate::http::AppState;

/// Face step: start
///
/// `POST /h5/sign/face/start?token=...`: creates the signer's face verification, starts the
/// provider's task and sends the browser to the provider's page (303). A verification of this link
/// still in progress at the provider is resumed instead of starting another.
pub(super) async fn start(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<StepForm>,
) -> Result<Response, PageError> {
    let resolved =
        super::sign::posted(&state, ip, &query.token, &headers, form.csrf.as_deref()).await?;
    let metadata = signer_metadata(&resolved, ip, &headers);
    let base = state.config.server.public_base_url.trim_end_matches('/');
    let return_url = format!(
        "{base}/h5/sign/face-return?token={}",
        percent_encoding::utf8_percent_encode(&resolved.token, percent_encoding::NON_ALPHANUMERIC)
    );
    match face::start(&state, &resolved, &metadata, return_url).await? {
        Some(provider_page) => Ok(Redirect::to(&provider_page).into_response()),
        None => Ok(super::sign::back_to_page(&resolved.token)),
    }
}

/// Face step: back from the provider
///
/// `GET /h5/sign/face-return?token=...`: pulls the latest attempt's result from the provider, records
/// a SUCCESS on the contract, and sends the browser back to the signing page (303), which shows the
/// step passed or failed with a retry button. The Referer allow-list does not apply: the browser
/// arrives from the provider's page.
pub(super) async fn returned(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    admit(&state, ip, &query.token, &headers, false)?;
    let mut resolved = signing::resolve(&state, &query.token).await?;
    let metadata = signer_metadata(&resolved, ip, &headers);
    face::returned(&state, &mut resolved, &metadata).await?;
    Ok(super::sign::back_to_page(&resolved.token))
}
