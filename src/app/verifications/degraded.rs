//! The degraded check (docs/face-providers.md): when no face provider answers and degraded mode is
//! on, a code texted to the mobile number given at initiation, checked with the identity facts.

use aggregates::face_verification::{
    SendDegradedCode, VerificationCommand, VerificationState, VerifyDegradedCode,
};
use aggregates::values::TransactionNo;
use chrono::{TimeDelta, Utc};

use super::{load, run};
use crate::app::one_time_codes::{OneTimeCode, code_digest};
use crate::app::{AppError, Services};
use crate::providers::sms::SmsMessage;
use crate::store::EventMetadata;

/// A new code may be requested this long after the previous one.
const CODE_RESEND_SECONDS: i64 = 60;

/// Sends a degraded-check code to the mobile given at initiation; returns the masked number.
pub async fn send_degraded_code(
    state: &Services,
    verification_id: &str,
    metadata: &EventMetadata,
) -> Result<String, AppError> {
    let current = load(state, verification_id).await?;
    let now = Utc::now();
    let mobile = match &current {
        VerificationState::Degraded {
            verification,
            check,
        } => {
            if let Some(code) = &check.code {
                let sent_at =
                    code.expires_at - TimeDelta::minutes(aggregates::values::SMS_CODE_TTL_MINUTES);
                if now < sent_at + TimeDelta::seconds(CODE_RESEND_SECONDS) {
                    return Err(AppError::Conflict(format!(
                        "a code was sent less than {CODE_RESEND_SECONDS} s ago"
                    )));
                }
            }
            verification.mobile.clone()
        }
        _ => None,
    };
    let code = OneTimeCode::generate();
    let code_hash = code_digest(&state.pii, &scope(verification_id), code.as_str())
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let command = VerificationCommand::SendDegradedCode(SendDegradedCode { code_hash, now });
    // The command decides whether a code may be sent (degraded, not locked, not final, in time).
    run(state, verification_id, metadata, command).await?;
    let mobile = mobile
        .ok_or_else(|| AppError::Internal("a degraded verification without a mobile".into()))?;
    let message = SmsMessage {
        mobile: mobile.clone(),
        text: format!(
            "【电子签约】您正在进行身份验证，验证码 {}，{} 分钟内有效。请勿告诉他人。",
            code.as_str(),
            aggregates::values::SMS_CODE_TTL_MINUTES
        ),
        purpose: "FACE_DEGRADED_CODE",
    };
    match state.sms.send(&message).await {
        Ok(receipt) => {
            state
                .metrics
                .sms_sent(receipt.sender, message.purpose, "ok");
            Ok(mobile.masked())
        }
        Err(error) => {
            state
                .metrics
                .sms_sent("configured", message.purpose, "failed");
            tracing::warn!(verification_id, mobile = %mobile.masked(), %error, "degraded-check code not sent");
            Err(AppError::Unavailable(error.to_string()))
        }
    }
}

/// Checks a degraded-check code. `Ok(true)`: passed; `Ok(false)`: wrong (the attempt is recorded).
pub async fn verify_degraded_code(
    state: &Services,
    verification_id: &str,
    code: &str,
    metadata: &EventMetadata,
) -> Result<bool, AppError> {
    let code_hash = code_digest(&state.pii, &scope(verification_id), code)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let transaction_no = TransactionNo::parse(&crate::app::ids::new_id("ESIGN_SMS"))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let command = VerificationCommand::VerifyDegradedCode(VerifyDegradedCode {
        code_hash,
        transaction_no,
        now: Utc::now(),
    });
    let executed = run(state, verification_id, metadata, command).await?;
    Ok(matches!(
        executed.state,
        VerificationState::SucceededDegraded { .. }
    ))
}

fn scope(verification_id: &str) -> String {
    format!("face-degraded:{verification_id}")
}
