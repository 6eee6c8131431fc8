//! The SmsNotice aggregate (spec 1.2 item 3, 打款验证通知): one text message the auth system asked
//! esign to send, from an active SMS template version and the request's variables.
//!
//! Delivery happens outside the decider: the request records attempt 1 as started; the service sends
//! after the commit and records the outcome. A failure that may pass (the sender was unavailable) is
//! retried after a growing delay, a bounded number of times; an attempt whose outcome never arrives
//! (the instance stopped) is presumed lost after a lease and the next attempt starts. Attempts are
//! numbered, and each command names the attempt it is about, so two instances racing on one notice
//! decide the same thing once: the loser's command finds the attempt taken and changes nothing.
//!
//! ```text
//! REQUESTED --RecordDelivery(sent)--> SENT
//! REQUESTED --RecordDelivery(failed)--> FAILED (retry at nextAttemptAt, or final)
//! FAILED (due) / REQUESTED (lease over) --StartAttempt--> REQUESTED (attempt n+1)
//! ```

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::delivery::{Attempt, DeliveryOutcome, RetryPolicy};
use crate::delivery::{Delivery, Recorded, Start};
use crate::errors::{ErrorKind, ValidationErrors};
use crate::sms_template::{SmsContent, SmsTemplateFacts, render};
use crate::values::{
    BizId, Category, ClientId, LongText, MobileNumber, ProviderName, Reason, TemplateId,
    TemplateVersion,
};
use crate::{Aggregate, DomainEvent, Sensitive};

/// A notice's id (`SMS_NOTICE_<yyyymmdd><hex>`); the business-id charset and width.
pub type NoticeId = BizId;
/// The caller's kind of notice (`PAYMENT_VERIFICATION`...), part of the idempotency key.
pub type NoticeBizType = Category;

#[derive(Debug)]
pub struct SmsNoticeAggregate;

// ---------------------------------------------------------------------------------------------------
// Request

/// The body of `POST /api/v1/notification/sms`, every field optional so that each missing one is
/// named with the others.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeRequest {
    pub biz_id: Option<String>,
    pub biz_type: Option<String>,
    pub template_code: Option<String>,
    /// Pins a version; without it the template's current (latest activated) version is used.
    pub template_version: Option<String>,
    pub mobile: Option<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, Value>,
}

/// `Debug` hides the mobile number and the variable values (a remark code proves control of an
/// account); the variable names show.
impl std::fmt::Debug for NoticeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoticeRequest")
            .field("biz_id", &self.biz_id)
            .field("biz_type", &self.biz_type)
            .field("template_code", &self.template_code)
            .field("template_version", &self.template_version)
            .field("mobile", &crate::values::redacted(self.mobile.as_deref()))
            .field("variables", &self.variables.keys().collect::<Vec<_>>())
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------------
// Commands

#[derive(Clone, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per request and moved into `decide`; boxing would only add noise at call sites"
)]
pub enum SmsNoticeCommand {
    Request(RequestNotice),
    StartAttempt(StartAttempt),
    RecordDelivery(RecordDelivery),
}

#[derive(Clone, Debug)]
pub struct RequestNotice {
    pub notice_id: NoticeId,
    /// The owner: other clients get 404 for this notice.
    pub client_id: ClientId,
    pub request: NoticeRequest,
    /// The version the service found (the pinned one, else the current one), or `None`.
    pub template: Option<SmsTemplateFacts>,
    pub now: DateTime<Utc>,
}

/// Starts the next attempt of a notice whose last attempt failed (and is due for a retry) or was lost
/// (no outcome within `lease`).
#[derive(Clone, Debug)]
pub struct StartAttempt {
    /// The attempt to start: the current one plus one. Anything else changes nothing.
    pub attempt: u32,
    pub lease: TimeDelta,
    pub policy: RetryPolicy,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct RecordDelivery {
    /// The attempt this outcome belongs to. An outcome for any other attempt changes nothing.
    pub attempt: u32,
    pub outcome: DeliveryOutcome,
    pub policy: RetryPolicy,
    pub now: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------------
// Events

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
pub enum SmsNoticeEvent {
    /// The notice was accepted; attempt 1 starts now. The mobile number and the variable values are
    /// personal data (a remark code proves control of a bank account), sealed in the log.
    #[serde(rename = "SmsNoticeRequested", rename_all = "camelCase")]
    Requested {
        notice_id: NoticeId,
        client_id: ClientId,
        biz_id: BizId,
        biz_type: NoticeBizType,
        template_code: TemplateId,
        template_version: TemplateVersion,
        /// The version's text, so delivery never depends on reading the template again.
        content: SmsContent,
        mobile: Sensitive<MobileNumber>,
        variables: BTreeMap<String, Sensitive<String>>,
        requested_at: DateTime<Utc>,
    },
    #[serde(rename = "SmsNoticeAttemptStarted", rename_all = "camelCase")]
    AttemptStarted {
        notice_id: NoticeId,
        attempt: u32,
        /// The previous attempt had no outcome within its lease.
        previous_lost: bool,
        started_at: DateTime<Utc>,
    },
    #[serde(rename = "SmsNoticeSent", rename_all = "camelCase")]
    Sent {
        notice_id: NoticeId,
        attempt: u32,
        sender: ProviderName,
        message_id: LongText,
        sent_at: DateTime<Utc>,
    },
    /// An attempt failed; `nextAttemptAt` is when the next may start, or absent when none will.
    #[serde(rename = "SmsNoticeFailed", rename_all = "camelCase")]
    Failed {
        notice_id: NoticeId,
        attempt: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender: Option<ProviderName>,
        reason: Reason,
        retryable: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_attempt_at: Option<DateTime<Utc>>,
        failed_at: DateTime<Utc>,
    },
}

impl DomainEvent for SmsNoticeEvent {
    fn event_type(&self) -> &'static str {
        match self {
            SmsNoticeEvent::Requested { .. } => "SmsNoticeRequested",
            SmsNoticeEvent::AttemptStarted { .. } => "SmsNoticeAttemptStarted",
            SmsNoticeEvent::Sent { .. } => "SmsNoticeSent",
            SmsNoticeEvent::Failed { .. } => "SmsNoticeFailed",
        }
    }

    fn schema_version(&self) -> u32 {
        1
    }
}

// ---------------------------------------------------------------------------------------------------
// Errors

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SmsNoticeError {
    #[error(transparent)]
    Invalid(ValidationErrors),
    /// 40003: the template (version) is missing or inactive.
    #[error("SMS template {template_code} is not available: {reason}")]
    TemplateUnavailable {
        template_code: String,
        reason: &'static str,
    },
    #[error("notice {0} exists already")]
    Duplicate(NoticeId),
    #[error("notice not found")]
    NotFound,
}

impl SmsNoticeError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SmsNoticeError::Invalid(_) => ErrorKind::Validation,
            SmsNoticeError::TemplateUnavailable { .. } => ErrorKind::TemplateUnavailable,
            SmsNoticeError::Duplicate(_) => ErrorKind::Duplicate,
            SmsNoticeError::NotFound => ErrorKind::NotFound,
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// State

#[derive(Clone, Debug, Default, PartialEq)]
pub enum SmsNoticeState {
    #[default]
    NotRequested,
    /// Attempt `attempt` started and has no outcome yet.
    Pending { notice: Notice, attempt: Attempt },
    Sent {
        notice: Notice,
        attempt: u32,
        sender: ProviderName,
        message_id: LongText,
        sent_at: DateTime<Utc>,
    },
    Failed {
        notice: Notice,
        attempt: u32,
        sender: Option<ProviderName>,
        reason: Reason,
        retryable: bool,
        next_attempt_at: Option<DateTime<Utc>>,
        failed_at: DateTime<Utc>,
    },
}

/// What was asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub notice_id: NoticeId,
    pub client_id: ClientId,
    pub biz_id: BizId,
    pub biz_type: NoticeBizType,
    pub template_code: TemplateId,
    pub template_version: TemplateVersion,
    pub content: SmsContent,
    pub mobile: MobileNumber,
    pub variables: BTreeMap<String, String>,
    pub requested_at: DateTime<Utc>,
}

impl Notice {
    /// The text as the person reads it.
    pub fn text(&self) -> Result<String, Vec<String>> {
        render(self.content.as_str(), &self.variables)
    }
}

impl SmsNoticeState {
    pub fn notice(&self) -> Option<&Notice> {
        match self {
            SmsNoticeState::NotRequested => None,
            SmsNoticeState::Pending { notice, .. }
            | SmsNoticeState::Sent { notice, .. }
            | SmsNoticeState::Failed { notice, .. } => Some(notice),
        }
    }

    /// The number of the latest attempt (0 before the request).
    pub fn attempts(&self) -> u32 {
        match self {
            SmsNoticeState::NotRequested => 0,
            SmsNoticeState::Pending { attempt, .. } => attempt.number,
            SmsNoticeState::Sent { attempt, .. } | SmsNoticeState::Failed { attempt, .. } => {
                *attempt
            }
        }
    }

    /// The notice and its delivery in the shape the delivery rules ([`crate::delivery`]) decide on.
    pub fn delivery(&self) -> Option<(&Notice, Delivery)> {
        Some(match self {
            SmsNoticeState::NotRequested => return None,
            SmsNoticeState::Pending { notice, attempt } => (notice, Delivery::InFlight(*attempt)),
            SmsNoticeState::Sent {
                notice,
                attempt,
                sender,
                message_id,
                sent_at,
            } => (
                notice,
                Delivery::Sent {
                    attempt: *attempt,
                    sender: sender.clone(),
                    message_id: message_id.clone(),
                    sent_at: *sent_at,
                },
            ),
            SmsNoticeState::Failed {
                notice,
                attempt,
                sender,
                reason,
                retryable,
                next_attempt_at,
                failed_at,
            } => (
                notice,
                Delivery::Failed {
                    attempt: *attempt,
                    sender: sender.clone(),
                    reason: reason.clone(),
                    retryable: *retryable,
                    next_attempt_at: *next_attempt_at,
                    failed_at: *failed_at,
                },
            ),
        })
    }

    /// `REQUESTED`, `SENT` or `FAILED`, as the API and the query table spell it.
    pub fn status(&self) -> Option<&'static str> {
        match self {
            SmsNoticeState::NotRequested => None,
            SmsNoticeState::Pending { .. } => Some("REQUESTED"),
            SmsNoticeState::Sent { .. } => Some("SENT"),
            SmsNoticeState::Failed { .. } => Some("FAILED"),
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Decide and evolve

type Decision = Result<Vec<SmsNoticeEvent>, SmsNoticeError>;

impl Aggregate for SmsNoticeAggregate {
    const NAME: &'static str = "sms_notice";
    type State = SmsNoticeState;
    type Command = SmsNoticeCommand;
    type Event = SmsNoticeEvent;
    type Error = SmsNoticeError;

    fn decide(state: &SmsNoticeState, command: SmsNoticeCommand) -> Decision {
        match command {
            SmsNoticeCommand::Request(command) => request(state, command),
            SmsNoticeCommand::StartAttempt(command) => start_attempt(state, command),
            SmsNoticeCommand::RecordDelivery(command) => record_delivery(state, command),
        }
    }

    fn evolve(state: &mut SmsNoticeState, event: &SmsNoticeEvent) {
        let current = std::mem::take(state);
        *state = next(current, event);
    }
}

fn next(state: SmsNoticeState, event: &SmsNoticeEvent) -> SmsNoticeState {
    match (state, event) {
        (
            SmsNoticeState::NotRequested,
            SmsNoticeEvent::Requested {
                notice_id,
                client_id,
                biz_id,
                biz_type,
                template_code,
                template_version,
                content,
                mobile,
                variables,
                requested_at,
            },
        ) => SmsNoticeState::Pending {
            notice: Notice {
                notice_id: notice_id.clone(),
                client_id: client_id.clone(),
                biz_id: biz_id.clone(),
                biz_type: biz_type.clone(),
                template_code: template_code.clone(),
                template_version: template_version.clone(),
                content: content.clone(),
                mobile: mobile.expose().clone(),
                variables: variables
                    .iter()
                    .map(|(key, value)| (key.clone(), value.expose().clone()))
                    .collect(),
                requested_at: *requested_at,
            },
            attempt: Attempt {
                number: 1,
                started_at: *requested_at,
            },
        },
        (
            SmsNoticeState::Pending { notice, .. } | SmsNoticeState::Failed { notice, .. },
            SmsNoticeEvent::AttemptStarted {
                attempt,
                started_at,
                ..
            },
        ) => SmsNoticeState::Pending {
            notice,
            attempt: Attempt {
                number: *attempt,
                started_at: *started_at,
            },
        },
        (
            SmsNoticeState::Pending { notice, .. },
            SmsNoticeEvent::Sent {
                attempt,
                sender,
                message_id,
                sent_at,
                ..
            },
        ) => SmsNoticeState::Sent {
            notice,
            attempt: *attempt,
            sender: sender.clone(),
            message_id: message_id.clone(),
            sent_at: *sent_at,
        },
        (
            SmsNoticeState::Pending { notice, .. },
            SmsNoticeEvent::Failed {
                attempt,
                sender,
                reason,
                retryable,
                next_attempt_at,
                failed_at,
                ..
            },
        ) => SmsNoticeState::Failed {
            notice,
            attempt: *attempt,
            sender: sender.clone(),
            reason: reason.clone(),
            retryable: *retryable,
            next_attempt_at: *next_attempt_at,
            failed_at: *failed_at,
        },
        // The decider never emits anything else; a stored fact that does not fit changes nothing.
        (state, _) => state,
    }
}

fn request(state: &SmsNoticeState, command: RequestNotice) -> Decision {
    if let Some(notice) = state.notice() {
        return Err(SmsNoticeError::Duplicate(notice.notice_id.clone()));
    }
    let request = &command.request;
    let mut errors = ValidationErrors::new();
    let biz_id = errors.required("bizId", request.biz_id.as_deref(), BizId::parse);
    let biz_type = errors.required("bizType", request.biz_type.as_deref(), Category::parse);
    let template_code = errors.required(
        "templateCode",
        request.template_code.as_deref(),
        TemplateId::parse,
    );
    let pinned = errors.optional(
        "templateVersion",
        request.template_version.as_deref(),
        TemplateVersion::parse,
    );
    let mobile = errors.required("mobile", request.mobile.as_deref(), MobileNumber::parse);

    // Without a usable template the variables cannot be checked; say so first (40003), as
    // contracts do.
    let facts = match (&template_code, &pinned) {
        (Some(code), Some(pinned)) => {
            let facts = command.template.as_ref().filter(|facts| {
                &facts.template_code == code
                    && pinned
                        .as_ref()
                        .is_none_or(|version| &facts.version == version)
            });
            match facts {
                None => {
                    return Err(SmsNoticeError::TemplateUnavailable {
                        template_code: code.to_string(),
                        reason: "no such template or version",
                    });
                }
                Some(facts) if !facts.active => {
                    return Err(SmsNoticeError::TemplateUnavailable {
                        template_code: code.to_string(),
                        reason: "the version is not active",
                    });
                }
                Some(facts) => Some(facts),
            }
        }
        _ => None,
    };
    let variables = facts.and_then(|facts| check_variables(facts, &request.variables, &mut errors));
    match (biz_id, biz_type, mobile, facts, variables) {
        (Some(biz_id), Some(biz_type), Some(mobile), Some(facts), Some(variables))
            if errors.is_empty() =>
        {
            Ok(vec![SmsNoticeEvent::Requested {
                notice_id: command.notice_id,
                client_id: command.client_id,
                biz_id,
                biz_type,
                template_code: facts.template_code.clone(),
                template_version: facts.version.clone(),
                content: facts.content.clone(),
                mobile: Sensitive::new(mobile),
                variables: variables
                    .into_iter()
                    .map(|(key, value)| (key, Sensitive::new(value)))
                    .collect(),
                requested_at: command.now,
            }])
        }
        _ => Err(SmsNoticeError::Invalid(errors)),
    }
}

/// Every declared variable present, a string or a number, not blank, within its length, without
/// control characters; nothing undeclared. Each failure is named `variables.<key>`.
fn check_variables(
    facts: &SmsTemplateFacts,
    given: &BTreeMap<String, Value>,
    errors: &mut ValidationErrors,
) -> Option<BTreeMap<String, String>> {
    let before = errors.fields().len();
    let mut values = BTreeMap::new();
    for variable in &facts.variables {
        let key = variable.key.as_str();
        let field = format!("variables.{key}");
        let text = match given.get(key) {
            None | Some(Value::Null) => {
                errors.push(field, "is required");
                continue;
            }
            Some(Value::String(text)) => text.trim().to_owned(),
            Some(Value::Number(number)) => number.to_string(),
            Some(_) => {
                errors.push(field, "must be a string or a number");
                continue;
            }
        };
        let length = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
        if text.is_empty() {
            errors.push(field, "must not be blank");
        } else if length > variable.max_length {
            errors.push(
                field,
                format!("must be at most {} characters", variable.max_length),
            );
        } else if text.chars().any(char::is_control) {
            errors.push(field, "must not contain control characters");
        } else {
            values.insert(key.to_owned(), text);
        }
    }
    for key in given.keys() {
        if !facts
            .variables
            .iter()
            .any(|variable| variable.key.as_str() == key)
        {
            errors.push(
                format!("variables.{key}"),
                format!(
                    "is not a variable of SMS template {} version {}",
                    facts.template_code, facts.version
                ),
            );
        }
    }
    (errors.fields().len() == before).then_some(values)
}

fn start_attempt(state: &SmsNoticeState, command: StartAttempt) -> Decision {
    let Some((notice, delivery)) = state.delivery() else {
        return Err(SmsNoticeError::NotFound);
    };
    let notice_id = notice.notice_id.clone();
    Ok(
        match delivery.start(command.attempt, command.lease, command.policy, command.now) {
            Start::Nothing => Vec::new(),
            Start::Begin {
                attempt,
                previous_lost,
            } => vec![SmsNoticeEvent::AttemptStarted {
                notice_id,
                attempt,
                previous_lost,
                started_at: command.now,
            }],
            Start::GiveUp { attempt, reason } => vec![SmsNoticeEvent::Failed {
                notice_id,
                attempt,
                sender: None,
                reason,
                retryable: true,
                next_attempt_at: None,
                failed_at: command.now,
            }],
        },
    )
}

fn record_delivery(state: &SmsNoticeState, command: RecordDelivery) -> Decision {
    let Some((notice, delivery)) = state.delivery() else {
        return Err(SmsNoticeError::NotFound);
    };
    let notice_id = notice.notice_id.clone();
    Ok(
        match delivery.record(
            command.attempt,
            command.outcome,
            command.policy,
            true,
            command.now,
        ) {
            // An outcome already recorded, or one for an attempt that is over: nothing to add.
            None => Vec::new(),
            Some(Recorded::Sent {
                attempt,
                sender,
                message_id,
            }) => vec![SmsNoticeEvent::Sent {
                notice_id,
                attempt,
                sender,
                message_id,
                sent_at: command.now,
            }],
            Some(Recorded::Failed {
                attempt,
                sender,
                reason,
                retryable,
                next_attempt_at,
            }) => vec![SmsNoticeEvent::Failed {
                notice_id,
                attempt,
                sender: Some(sender),
                reason,
                retryable,
                next_attempt_at,
                failed_at: command.now,
            }],
        },
    )
}
