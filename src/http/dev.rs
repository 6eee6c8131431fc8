//! Development-only routes, registered only in development mode (production answers 404 for them).
//!
//! `GET /dev/sms?mobile=13800138000`: the messages the development SMS sender kept for that number,
//! oldest first, so a developer or a browser test can read the signing code that was "sent". It is not
//! signed and shows codes in clear, which is why it never exists in production.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use crate::app::error::AppError;
use aggregates::values::Mode;

/// The development routes for this state: none in production, or when another sender is in use.
pub(super) fn router(state: &AppState) -> Router<AppState> {
    if state.config.server.mode != Mode::Development || state.development_sms.is_none() {
        return Router::new();
    }
    Router::new().route("/dev/sms", get(sent_messages))
}

#[derive(Debug, Deserialize)]
struct SentQuery {
    mobile: Option<String>,
}

async fn sent_messages(
    State(state): State<AppState>,
    Query(query): Query<SentQuery>,
) -> Result<Json<Value>, AppError> {
    let sender = state.development_sms.as_ref().ok_or(AppError::NotFound)?;
    let mobile = query.mobile.ok_or_else(|| {
        AppError::Validation(aggregates::ValidationErrors::single(
            "mobile",
            "is required",
        ))
    })?;
    let messages: Vec<Value> = sender
        .sent_to(&mobile)
        .into_iter()
        .map(|message| {
            json!({
                "messageId": message.message_id,
                "mobile": message.mobile,
                "text": message.text,
                "purpose": message.purpose,
                "sentAt": message.sent_at,
            })
        })
        .collect();
    Ok(Json(json!({ "messages": messages })))
}
