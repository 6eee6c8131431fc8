//! Given/when/then tests of the SmsNotice aggregate.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::*;
use crate::sms_template::SmsVariable;
use crate::template::VariableKey;
use crate::testing::{given, history, t0, then, types, when};
use crate::values::DisplayName;

/// `seconds` after [`t0`]: notice retries are counted in seconds.
fn at(seconds: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(seconds)
}

const CODE: &str = "PAYMENT_VERIFY_NOTICE";

fn facts(active: bool) -> SmsTemplateFacts {
    let variable = |key: &str, max_length| SmsVariable {
        key: VariableKey::parse(key).unwrap(),
        name: DisplayName::parse(key).unwrap(),
        max_length,
    };
    SmsTemplateFacts {
        template_code: TemplateId::parse(CODE).unwrap(),
        version: TemplateVersion::parse("1").unwrap(),
        active,
        content: SmsContent::parse("收到{amount}元验证打款，备注码{remarkCode}").unwrap(),
        variables: vec![variable("amount", 12), variable("remarkCode", 6)],
    }
}

fn notice_request() -> NoticeRequest {
    NoticeRequest {
        biz_id: Some("PAY_VERIFY_001".into()),
        biz_type: Some("PAYMENT_VERIFICATION".into()),
        template_code: Some(CODE.into()),
        template_version: None,
        mobile: Some("13800138000".into()),
        variables: BTreeMap::from([
            ("amount".to_owned(), json!(0.12)),
            ("remarkCode".to_owned(), json!("A1B2")),
        ]),
    }
}

fn request_with(request: NoticeRequest, template: Option<SmsTemplateFacts>) -> SmsNoticeCommand {
    SmsNoticeCommand::Request(RequestNotice {
        notice_id: NoticeId::parse("SMS_NOTICE_1").unwrap(),
        client_id: ClientId::parse("auth").unwrap(),
        request,
        template,
        now: at(0),
    })
}

fn request() -> SmsNoticeCommand {
    request_with(notice_request(), Some(facts(true)))
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: TimeDelta::seconds(10),
    }
}

fn sent(attempt: u32, seconds: i64) -> SmsNoticeCommand {
    SmsNoticeCommand::RecordDelivery(RecordDelivery {
        attempt,
        outcome: DeliveryOutcome::Sent {
            sender: ProviderName::parse("message-centre").unwrap(),
            message_id: LongText::parse("MC-1").unwrap(),
        },
        policy: policy(),
        now: at(seconds),
    })
}

fn failed(attempt: u32, retryable: bool, seconds: i64) -> SmsNoticeCommand {
    SmsNoticeCommand::RecordDelivery(RecordDelivery {
        attempt,
        outcome: DeliveryOutcome::Failed {
            sender: ProviderName::parse("message-centre").unwrap(),
            reason: Reason::parse("message centre answered 503").unwrap(),
            retryable,
        },
        policy: policy(),
        now: at(seconds),
    })
}

fn start(attempt: u32, seconds: i64) -> SmsNoticeCommand {
    SmsNoticeCommand::StartAttempt(StartAttempt {
        attempt,
        lease: TimeDelta::seconds(120),
        policy: policy(),
        now: at(seconds),
    })
}

fn invalid(decision: Decision) -> ValidationErrors {
    match decision {
        Err(SmsNoticeError::Invalid(errors)) => errors,
        other => panic!("expected validation errors, got {other:?}"),
    }
}

#[test]
fn a_request_records_the_notice_with_its_personal_data_marked_and_starts_attempt_one() {
    let events = when(&SmsNoticeState::default(), request()).unwrap();
    assert_eq!(types(&events), vec!["SmsNoticeRequested"]);
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["mobile"], json!({"$pii": "13800138000"}));
    assert_eq!(json["variables"]["remarkCode"], json!({"$pii": "A1B2"}));
    assert_eq!(json["templateVersion"], "1");
    let state = given(history(vec![request()]));
    assert_eq!(state.status(), Some("REQUESTED"));
    assert_eq!(state.attempts(), 1);
    assert_eq!(
        state.notice().unwrap().text().unwrap(),
        "收到0.12元验证打款，备注码A1B2"
    );
}

#[test]
fn a_missing_or_inactive_template_is_unavailable() {
    assert!(matches!(
        when(
            &SmsNoticeState::default(),
            request_with(notice_request(), None)
        ),
        Err(SmsNoticeError::TemplateUnavailable { .. })
    ));
    assert!(matches!(
        when(
            &SmsNoticeState::default(),
            request_with(notice_request(), Some(facts(false)))
        ),
        Err(SmsNoticeError::TemplateUnavailable { .. })
    ));
    let pinned_elsewhere = NoticeRequest {
        template_version: Some("2".into()),
        ..notice_request()
    };
    assert!(matches!(
        when(
            &SmsNoticeState::default(),
            request_with(pinned_elsewhere, Some(facts(true)))
        ),
        Err(SmsNoticeError::TemplateUnavailable { .. })
    ));
}

#[test]
fn missing_unknown_and_oversized_variables_are_named_with_every_other_bad_field() {
    let bad = NoticeRequest {
        biz_id: None,
        mobile: Some("12345".into()),
        variables: BTreeMap::from([
            ("amount".to_owned(), json!({"nested": true})),
            ("remarkCode".to_owned(), json!("TOO-LONG-CODE")),
            ("extra".to_owned(), json!("x")),
        ]),
        ..notice_request()
    };
    let errors = invalid(when(
        &SmsNoticeState::default(),
        request_with(bad, Some(facts(true))),
    ));
    for field in [
        "bizId",
        "mobile",
        "variables.amount",
        "variables.remarkCode",
        "variables.extra",
    ] {
        assert!(errors.names(field), "{field}: {errors}");
    }
    let missing = NoticeRequest {
        variables: BTreeMap::from([("amount".to_owned(), json!("0.12"))]),
        ..notice_request()
    };
    let errors = invalid(when(
        &SmsNoticeState::default(),
        request_with(missing, Some(facts(true))),
    ));
    assert_eq!(errors.fields().len(), 1);
    assert!(errors.names("variables.remarkCode"));
}

#[test]
fn debug_output_hides_the_mobile_number_and_variable_values() {
    let shown = format!("{:?}", notice_request());
    assert!(!shown.contains("13800138000"), "{shown}");
    assert!(!shown.contains("A1B2"), "{shown}");
    assert!(shown.contains("remarkCode"), "{shown}");
}

#[test]
fn a_second_request_on_the_stream_is_a_duplicate() {
    let state = given(history(vec![request()]));
    assert!(matches!(
        when(&state, request()),
        Err(SmsNoticeError::Duplicate(_))
    ));
}

#[test]
fn a_sent_outcome_ends_the_notice_and_a_repeat_changes_nothing() {
    let state = given(history(vec![request()]));
    assert_eq!(
        types(&when(&state, sent(1, 1)).unwrap()),
        vec!["SmsNoticeSent"]
    );
    let done = given(history(vec![request(), sent(1, 1)]));
    assert_eq!(done.status(), Some("SENT"));
    then(when(&done, sent(1, 2)), Ok(vec![]));
    then(when(&done, failed(1, true, 2)), Ok(vec![]));
    then(when(&done, start(2, 500)), Ok(vec![]));
}

#[test]
fn an_outcome_for_another_attempt_changes_nothing() {
    let state = given(history(vec![request()]));
    then(when(&state, sent(2, 1)), Ok(vec![]));
}

#[test]
fn a_retryable_failure_waits_a_doubling_delay_then_the_next_attempt_may_start_once() {
    let state = given(history(vec![request(), failed(1, true, 1)]));
    assert!(matches!(
        &state,
        SmsNoticeState::Failed { next_attempt_at: Some(due), .. } if *due == at(11)
    ));
    assert_eq!(when(&state, start(2, 10)), Ok(vec![]), "not yet due");
    assert_eq!(
        types(&when(&state, start(2, 11)).unwrap()),
        vec!["SmsNoticeAttemptStarted"]
    );
    assert_eq!(
        when(&state, start(3, 11)),
        Ok(vec![]),
        "not the next attempt"
    );
    let second = given(history(vec![request(), failed(1, true, 1), start(2, 11)]));
    assert_eq!(second.status(), Some("REQUESTED"));
    assert_eq!(when(&second, start(2, 12)), Ok(vec![]), "already taken");
    let after_second = given(history(vec![
        request(),
        failed(1, true, 1),
        start(2, 11),
        failed(2, true, 12),
    ]));
    assert!(matches!(
        &after_second,
        SmsNoticeState::Failed { next_attempt_at: Some(due), .. } if *due == at(32)
    ));
}

#[test]
fn the_last_attempt_failing_or_a_refusal_leaves_the_notice_failed_for_good() {
    let exhausted = given(history(vec![
        request(),
        failed(1, true, 1),
        start(2, 11),
        failed(2, true, 12),
        start(3, 32),
        failed(3, true, 33),
    ]));
    assert!(matches!(
        exhausted,
        SmsNoticeState::Failed {
            attempt: 3,
            next_attempt_at: None,
            ..
        }
    ));
    then(when(&exhausted, start(4, 10_000)), Ok(vec![]));
    let refused = given(history(vec![request(), failed(1, false, 1)]));
    assert!(matches!(
        refused,
        SmsNoticeState::Failed {
            retryable: false,
            next_attempt_at: None,
            ..
        }
    ));
    then(when(&refused, start(2, 10_000)), Ok(vec![]));
}

#[test]
fn an_attempt_without_an_outcome_after_its_lease_is_presumed_lost() {
    let state = given(history(vec![request()]));
    assert_eq!(when(&state, start(2, 119)), Ok(vec![]), "still leased");
    let events = when(&state, start(2, 120)).unwrap();
    assert!(matches!(
        events[..],
        [SmsNoticeEvent::AttemptStarted {
            attempt: 2,
            previous_lost: true,
            ..
        }]
    ));
    let last = given(history(vec![
        request(),
        failed(1, true, 1),
        start(2, 11),
        failed(2, true, 12),
        start(3, 32),
    ]));
    let events = when(&last, start(4, 32 + 120)).unwrap();
    assert!(matches!(
        events[..],
        [SmsNoticeEvent::Failed {
            attempt: 3,
            next_attempt_at: None,
            ..
        }]
    ));
}

#[test]
fn commands_on_a_notice_that_was_never_requested_are_not_found() {
    let empty = SmsNoticeState::default();
    then(when(&empty, sent(1, 1)), Err(SmsNoticeError::NotFound));
    then(when(&empty, start(2, 1)), Err(SmsNoticeError::NotFound));
}

#[test]
fn events_round_trip_through_json() {
    let mut state = SmsNoticeState::default();
    for command in [request(), failed(1, true, 1), start(2, 11), sent(2, 12)] {
        for event in when(&state, command).unwrap() {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["type"], event.event_type());
            assert_eq!(
                serde_json::from_value::<SmsNoticeEvent>(json).unwrap(),
                event
            );
            SmsNoticeAggregate::evolve(&mut state, &event);
        }
    }
    assert_eq!(state.status(), Some("SENT"));
}
