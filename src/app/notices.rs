//! Delivering payment-verification notices without losing any.
//!
//! The request is recorded first (`SmsNoticeRequested`, attempt 1, in the request's transaction).
//! After the commit the text is sent and the outcome recorded (`SmsNoticeSent` or `SmsNoticeFailed`).
//! A background sweep, on every instance, finds notices that need another attempt: a retryable failure
//! whose delay has passed, or an attempt with no outcome after its lease (the instance crashed between
//! commit and send, or between send and record). It claims the next attempt with `StartAttempt`
//! through the pipeline; the optimistic concurrency on the stream lets exactly one instance win each
//! attempt, and only the winner sends. Attempts are bounded by `sms.notice_max_attempts`.
//!
//! A text may still reach a phone twice: when an instance stops after the sender accepted but before
//! the outcome was recorded, the lease expires and the next attempt sends again. Losing a notice is
//! worse than a duplicate for a payment-verification notice.

use aggregates::Aggregate;
use aggregates::sms_notice::{
    DeliveryOutcome, NoticeId, RecordDelivery, SmsNoticeAggregate, SmsNoticeCommand,
    SmsNoticeError, SmsNoticeState, StartAttempt,
};
use chrono::{TimeDelta, Utc};

use super::texts::{Claimed, SweepReport};
use super::{AppError, Caller, Services};
use crate::app::pipeline::CommandError;
use crate::read::audit::Timeline;
use crate::store::query_tables::RowView;
use crate::store::{EventMetadata, StoreError, StreamId};
use aggregates::sms_notice::{NoticeRequest, RequestNotice};
use aggregates::sms_template::{SmsTemplateAggregate, SmsTemplateFacts};
use aggregates::values::{TemplateId, TemplateVersion};
use projections::Table;
use serde_json::Value;

/// Why a delivery step failed (the notice itself stays safe in the log).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Command(#[from] CommandError<SmsNoticeError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const ATTEMPT_STARTED: &str = "SmsNoticeAttemptStarted";

/// What the purpose of a notice is called in logs and metrics.
pub const PURPOSE: &str = "NOTICE";

pub fn stream(notice_id: &str) -> StreamId {
    StreamId::new(SmsNoticeAggregate::NAME, notice_id)
}

fn system_metadata() -> EventMetadata {
    EventMetadata {
        actor: "system:sms-notices".to_owned(),
        ..EventMetadata::default()
    }
}

/// Makes attempt `attempt` of the notice: sends its text and records the outcome. Does nothing when
/// that attempt is not the one in flight (another instance took over, or it is over).
pub async fn deliver(
    state: &Services,
    notice_id: &NoticeId,
    attempt: u32,
) -> Result<(), DeliveryError> {
    let stream = stream(notice_id.as_str());
    let loaded = state.pipeline.load::<SmsNoticeAggregate>(&stream).await?;
    let SmsNoticeState::Pending {
        notice,
        attempt: current,
    } = &loaded.state
    else {
        return Ok(());
    };
    if current.number != attempt {
        return Ok(());
    }
    let outcome = match notice.text() {
        Ok(text) => {
            let outcome = super::texts::send(state, &notice.mobile, text, PURPOSE).await;
            if let DeliveryOutcome::Failed { reason, .. } = &outcome {
                tracing::warn!(%notice_id, attempt, %reason, "notice not sent");
            }
            outcome
        }
        // Cannot happen for a notice the aggregate accepted (every placeholder was checked); recorded
        // rather than retried, so an operator sees it.
        Err(missing) => super::texts::failed(
            state,
            &format!("no value for {}", missing.join(", ")),
            false,
        ),
    };
    let policy = state.config.sms.notice_policy();
    let executed = state
        .pipeline
        .execute::<SmsNoticeAggregate>(&stream, &system_metadata(), |_| {
            SmsNoticeCommand::RecordDelivery(RecordDelivery {
                attempt,
                outcome: outcome.clone(),
                policy,
                now: Utc::now(),
            })
        })
        .await?;
    for event in executed.appended.iter() {
        tracing::info!(%notice_id, attempt, event = %event.event_type, "notice delivery recorded");
    }
    Ok(())
}

/// Finds notices due for another attempt and makes it. Safe to run on several instances at once.
pub async fn sweep_once(state: &Services) -> Result<SweepReport, DeliveryError> {
    let policy = state.config.sms.notice_policy();
    let lease = super::texts::lease(state);
    let now = Utc::now();
    let rows = state.store.notices().awaiting_delivery().await?;
    let mut report = SweepReport::default();
    for row in rows {
        let due = super::texts::is_due(&row, lease, now);
        let (Some(notice_id), Some(attempts)) = (row.text("notice_id"), row.integer("attempts"))
        else {
            continue;
        };
        if !due {
            continue;
        }
        let Ok(notice_id) = NoticeId::parse(notice_id) else {
            continue;
        };
        let next = u32::try_from(attempts)
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        // One notice's trouble (a busy stream, a sender error) must not hold up the others.
        match attempt_next(state, &notice_id, next, lease, policy).await {
            Ok(claimed) => report.count(claimed),
            Err(error) => tracing::warn!(%notice_id, %error, "notice sweep step failed"),
        }
    }
    Ok(report)
}

/// Claims attempt `next` of a notice and, when this instance won it, makes it.
async fn attempt_next(
    state: &Services,
    notice_id: &NoticeId,
    next: u32,
    lease: TimeDelta,
    policy: aggregates::sms_notice::RetryPolicy,
) -> Result<Claimed, DeliveryError> {
    let executed = state
        .pipeline
        .execute::<SmsNoticeAggregate>(&stream(notice_id.as_str()), &system_metadata(), |_| {
            SmsNoticeCommand::StartAttempt(StartAttempt {
                attempt: next,
                lease,
                policy,
                now: Utc::now(),
            })
        })
        .await?;
    // Only what this instance appended is its to act on; nothing appended means another instance took
    // the attempt (or it was not due after all).
    if executed
        .appended
        .iter()
        .any(|recorded| recorded.event_type == ATTEMPT_STARTED)
    {
        deliver(state, notice_id, next).await?;
        return Ok(Claimed::Attempted);
    }
    if executed.appended.is_empty() {
        return Ok(Claimed::Nothing);
    }
    tracing::error!(%notice_id, "notice abandoned: its last attempt left no outcome");
    Ok(Claimed::Abandoned)
}

/// Records a payment-verification notice (spec 7.2.4) and makes its first attempt; answers it with
/// that attempt's outcome. Idempotent per `bizId` + `bizType` (40002 with the existing notice).
pub async fn send(
    services: &Services,
    caller: &Caller,
    request: &NoticeRequest,
) -> Result<Value, AppError> {
    if let Some(existing) = find_by_biz_id(services, caller, request).await? {
        return Err(AppError::Duplicate { existing });
    }
    let template = template_facts(services, request).await?;
    let notice_id =
        NoticeId::parse(&super::ids::new_id("SMS_NOTICE")).map_err(AppError::internal)?;
    let client_id = caller.domain_id()?;
    let now = Utc::now();
    let stream = stream(notice_id.as_str());
    let executed = services
        .pipeline
        .execute::<SmsNoticeAggregate>(&stream, &caller.metadata, |_| {
            SmsNoticeCommand::Request(RequestNotice {
                notice_id: notice_id.clone(),
                client_id: client_id.clone(),
                request: request.clone(),
                template: template.clone(),
                now,
            })
        })
        .await;
    if super::verifications::lost_biz_id_race(&executed, Table::SmsNotice)
        && let Some(existing) = find_by_biz_id(services, caller, request).await?
    {
        return Err(AppError::Duplicate { existing });
    }
    if let Err(CommandError::Domain(refusal)) = &executed {
        tracing::info!(
            client = %caller.client_id,
            ?request,
            %refusal,
            "notice refused"
        );
    }
    executed?;
    // Its own task: the attempt finishes (and is recorded) even if the caller hangs up meanwhile.
    let delivery = {
        let services = services.clone();
        let notice_id = notice_id.clone();
        tokio::spawn(async move { deliver(&services, &notice_id, 1).await })
    };
    match delivery.await {
        Ok(Ok(())) => {}
        // The notice is safe in the log; the sweep makes the attempt again after its lease.
        Ok(Err(error)) => tracing::warn!(%notice_id, %error, "first attempt not completed"),
        Err(error) => tracing::error!(%notice_id, %error, "first attempt task failed"),
    }
    let row = owned(services, caller, notice_id.as_str()).await?;
    Ok(crate::read::views::sms_notice(&row, &services.pii)?)
}

/// The notice and its delivery state, the mobile number in clear for its owner.
pub async fn show(
    services: &Services,
    caller: &Caller,
    notice_id: &str,
) -> Result<Value, AppError> {
    let row = owned(services, caller, notice_id).await?;
    Ok(crate::read::views::sms_notice(&row, &services.pii)?)
}

/// The notice's audit trail, personal data masked.
pub async fn events(
    services: &Services,
    caller: &Caller,
    notice_id: &str,
) -> Result<Timeline, AppError> {
    owned(services, caller, notice_id).await?;
    super::audit_trail(services, stream(notice_id)).await
}

/// The facts of the template version a request names (or the active one).
async fn template_facts(
    services: &Services,
    request: &NoticeRequest,
) -> Result<Option<SmsTemplateFacts>, AppError> {
    let Some(code) = request
        .template_code
        .as_deref()
        .and_then(|code| TemplateId::parse(code).ok())
    else {
        return Ok(None);
    };
    let loaded = services
        .pipeline
        .load::<SmsTemplateAggregate>(&super::sms_templates::stream(&code))
        .await?;
    let Some(template) = loaded.state.template() else {
        return Ok(None);
    };
    let version = match request.template_version.as_deref() {
        Some(pinned) => TemplateVersion::parse(pinned)
            .ok()
            .and_then(|pinned| template.versions.get(&pinned)),
        None => template.current_version(),
    };
    Ok(version.map(|version| template.facts(version)))
}

async fn find_by_biz_id(
    services: &Services,
    caller: &Caller,
    request: &NoticeRequest,
) -> Result<Option<Value>, AppError> {
    let (Some(biz_id), Some(biz_type)) = (&request.biz_id, &request.biz_type) else {
        return Ok(None);
    };
    let row = services
        .store
        .notices()
        .by_biz_id(&caller.client_id, biz_id, biz_type)
        .await?;
    match row {
        Some(row) => Ok(Some(crate::read::views::sms_notice(&row, &services.pii)?)),
        None => Ok(None),
    }
}

async fn owned(services: &Services, caller: &Caller, notice_id: &str) -> Result<RowView, AppError> {
    services
        .store
        .notices()
        .owned(notice_id, &caller.client_id)
        .await?
        .ok_or(AppError::NotFound)
}
