//! `sms_notice`: one row per payment-verification notice, the state after its last event.

use aggregates::Aggregate;
use aggregates::sms_notice::{SmsNoticeAggregate, SmsNoticeEvent, SmsNoticeState};

use crate::ProjectionError;
use crate::row::{Row, SqlValue, Table};
use crate::sealed::{SealedValue, sealed_value};
use crate::stream::{Draft, ProjectedEvent, fold};

const REQUESTED: &str = "SmsNoticeRequested";

/// Every row a notice stream owns: its `sms_notice` row.
pub fn sms_notice_rows(
    events: &[ProjectedEvent<'_, SmsNoticeEvent>],
) -> Result<Vec<Row>, ProjectionError> {
    fold(events, Projection::default(), step, shape)
}

#[derive(Debug, Default)]
struct Projection {
    state: SmsNoticeState,
    /// The mobile number as stored (sealed), never the plaintext.
    mobile: Option<SealedValue>,
}

fn step(
    projection: &mut Projection,
    event: &ProjectedEvent<'_, SmsNoticeEvent>,
) -> Result<(), ProjectionError> {
    SmsNoticeAggregate::evolve(&mut projection.state, event.event);
    match event.event {
        SmsNoticeEvent::Requested { .. } => {
            if projection.mobile.is_none() {
                projection.mobile = Some(sealed_value(
                    event.sealed_payload.get("mobile"),
                    REQUESTED,
                    || "mobile".into(),
                )?);
            }
        }
        SmsNoticeEvent::AttemptStarted { .. }
        | SmsNoticeEvent::Sent { .. }
        | SmsNoticeEvent::Failed { .. } => {}
    }
    Ok(())
}

fn shape(projection: &Projection) -> Result<Vec<Draft>, ProjectionError> {
    let state = &projection.state;
    let (Some(notice), Some(status), Some(mobile)) =
        (state.notice(), state.status(), projection.mobile.as_ref())
    else {
        return Err(ProjectionError::NotInitiated);
    };
    let none = || (SqlValue::Null, SqlValue::Null);
    let (sender, message_id) = match state {
        SmsNoticeState::Sent {
            sender, message_id, ..
        } => (
            SqlValue::text(sender.as_str()),
            SqlValue::text(message_id.as_str()),
        ),
        SmsNoticeState::Failed {
            sender: Some(sender),
            ..
        } => (SqlValue::text(sender.as_str()), SqlValue::Null),
        SmsNoticeState::NotRequested
        | SmsNoticeState::Pending { .. }
        | SmsNoticeState::Failed { sender: None, .. } => none(),
    };
    let (fail_reason, retryable, next_attempt_at) = match state {
        SmsNoticeState::Failed {
            reason,
            retryable,
            next_attempt_at,
            ..
        } => (
            SqlValue::text(reason.as_str()),
            SqlValue::Bool(*retryable),
            SqlValue::optional_timestamp(*next_attempt_at),
        ),
        SmsNoticeState::NotRequested
        | SmsNoticeState::Pending { .. }
        | SmsNoticeState::Sent { .. } => (SqlValue::Null, SqlValue::Null, SqlValue::Null),
    };
    let (attempt_started_at, sent_at) = match state {
        SmsNoticeState::Pending { attempt, .. } => {
            (SqlValue::timestamp(attempt.started_at), SqlValue::Null)
        }
        SmsNoticeState::Sent { sent_at, .. } => (SqlValue::Null, SqlValue::timestamp(*sent_at)),
        SmsNoticeState::NotRequested | SmsNoticeState::Failed { .. } => {
            (SqlValue::Null, SqlValue::Null)
        }
    };
    let body = vec![
        ("notice_id", SqlValue::text(notice.notice_id.as_str())),
        ("client_id", SqlValue::text(notice.client_id.as_str())),
        ("biz_id", SqlValue::text(notice.biz_id.as_str())),
        ("biz_type", SqlValue::text(notice.biz_type.as_str())),
        (
            "template_code",
            SqlValue::text(notice.template_code.as_str()),
        ),
        (
            "template_version",
            SqlValue::text(notice.template_version.as_str()),
        ),
        ("mobile", SqlValue::text(mobile.json.clone())),
        ("mobile_hash", SqlValue::text(mobile.hash.clone())),
        ("status", SqlValue::text(status)),
        ("attempts", SqlValue::Integer(i64::from(state.attempts()))),
        ("sender", sender),
        ("message_id", message_id),
        ("fail_reason", fail_reason),
        ("retryable", retryable),
        ("next_attempt_at", next_attempt_at),
        ("attempt_started_at", attempt_started_at),
        ("sent_at", sent_at),
    ];
    Ok(vec![Draft::new(Table::SmsNotice, body)])
}

#[cfg(test)]
mod tests;
