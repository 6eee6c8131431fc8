//! Given/when/then tests of the FaceVerification aggregate.

use chrono::DateTime;

use super::*;
use crate::DomainEvent;
use crate::errors::ErrorKind;
use crate::testing::{at, given, history, t0, then, when};
use crate::values::{IdCardError, VerificationBizType, VerificationStatus, WebhookConfigRequest};

fn request() -> VerificationRequest {
    VerificationRequest {
        biz_id: Some("AUTH_FLOW_001".into()),
        biz_type: Some("RELATIONSHIP_BINDING".into()),
        user_info: Some(UserInfoRequest {
            name: Some("张三".into()),
            id_card_no: Some("11010519491231002X".into()),
            mobile: Some("13800138000".into()),
        }),
        callback_url: Some("https://auth.example.com/callback/face-verification".into()),
        webhook_config: Some(WebhookConfigRequest {
            headers: [("Authorization".to_string(), "Bearer abc".to_string())].into(),
        }),
        expire_minutes: None,
        ui_config: Some(UiConfigRequest {
            title: Some("天财分账身份验证".into()),
            logo_url: Some("https://cdn.example.com/logo.png".into()),
            theme_color: Some("#1890ff".into()),
        }),
        archive_config: None,
    }
}

fn initiate_with(request: VerificationRequest) -> VerificationCommand {
    VerificationCommand::Initiate(InitiateVerification {
        verification_id: VerificationId::parse("FACE_VERIFY_1").unwrap(),
        client_id: ClientId::parse("auth-system").unwrap(),
        request,
        mode: Mode::Production,
        now: t0(),
    })
}

fn initiate() -> VerificationCommand {
    initiate_with(request())
}

fn provider(name: &str) -> ProviderName {
    ProviderName::parse(name).unwrap()
}

fn start(task: &str, minutes: i64) -> VerificationCommand {
    VerificationCommand::StartProviderTask(StartProviderTask {
        provider: provider("sandbox"),
        task_id: ProviderTaskId::parse(task).unwrap(),
        h5_url: None,
        now: at(minutes),
    })
}

fn passed(score: f64) -> Verdict {
    Verdict::Passed {
        score: FaceScore::parse(score).unwrap(),
    }
}

fn failed(reason: FailReason) -> Verdict {
    Verdict::Failed {
        score: None,
        reason,
    }
}

fn result(verdict: Verdict, minutes: i64) -> VerificationCommand {
    result_from("sandbox", "FACE_TXN_001", verdict, minutes)
}

fn result_from(
    name: &str,
    transaction: &str,
    verdict: Verdict,
    minutes: i64,
) -> VerificationCommand {
    VerificationCommand::RecordResult(RecordProviderResult {
        provider: provider(name),
        transaction_no: TransactionNo::parse(transaction).unwrap(),
        verdict,
        now: at(minutes),
    })
}

fn expire(minutes: i64) -> VerificationCommand {
    VerificationCommand::Expire(ExpireVerification { now: at(minutes) })
}

fn invalid_fields(
    result: Result<Vec<VerificationEvent>, VerificationError>,
) -> Vec<(String, String)> {
    match result {
        Err(VerificationError::Invalid(errors)) => errors
            .fields()
            .iter()
            .map(|error| (error.field.clone(), error.reason.clone()))
            .collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn an_initiation_is_pending_and_expires_after_thirty_minutes_by_default() {
    let events = when(&VerificationState::default(), initiate()).unwrap();
    assert_eq!(events.len(), 1);
    let state = FaceVerificationAggregate::replay(&events);
    assert_eq!(state.status(), Some(VerificationStatus::Pending));
    let verification = state.verification().unwrap();
    assert_eq!(verification.expires_at, at(30));
    assert_eq!(verification.biz_id.as_str(), "AUTH_FLOW_001");
    assert_eq!(
        verification.biz_type,
        VerificationBizType::RelationshipBinding
    );
    assert_eq!(
        verification
            .ui_config
            .theme_color
            .as_ref()
            .unwrap()
            .as_str(),
        "#1890ff"
    );
}

#[test]
fn an_explicit_expiry_in_minutes_sets_the_deadline() {
    let mut custom = request();
    custom.expire_minutes = Some(5);
    let state = given(history(vec![initiate_with(custom)]));
    assert_eq!(state.verification().unwrap().expires_at, at(5));
}

#[test]
fn names_id_and_mobile_numbers_and_header_values_are_marked_sensitive_in_the_event() {
    let events = when(&VerificationState::default(), initiate()).unwrap();
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["type"], serde_json::json!("FaceVerificationInitiated"));
    assert_eq!(
        json["idCardNo"],
        serde_json::json!({"$pii": "11010519491231002X"})
    );
    assert_eq!(json["mobile"], serde_json::json!({"$pii": "13800138000"}));
    assert_eq!(
        json["webhookHeaders"]["Authorization"],
        serde_json::json!({"$pii": "Bearer abc"})
    );
    assert_eq!(json["name"], serde_json::json!({"$pii": "张三"}));
    assert_eq!(json["bizType"], serde_json::json!("RELATIONSHIP_BINDING"));
    let back: VerificationEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, events[0]);
}

#[test]
fn an_initiation_stored_before_names_were_sealed_still_reads() {
    let events = when(&VerificationState::default(), initiate()).unwrap();
    let mut stored = serde_json::to_value(&events[0]).unwrap();
    stored["name"] = serde_json::json!("张三");
    let old: VerificationEvent = serde_json::from_value(stored).unwrap();
    assert_eq!(old, events[0]);
    let facts = given(vec![old.clone()]).facts().unwrap();
    assert_eq!(facts.name.as_str(), "张三");
    // The ID number was marked from the start: a plain one is not an event esign ever wrote.
    let mut plain_id = serde_json::to_value(&events[0]).unwrap();
    plain_id["idCardNo"] = serde_json::json!("11010519491231002X");
    assert!(serde_json::from_value::<VerificationEvent>(plain_id).is_err());
}

#[test]
fn an_initiation_names_every_invalid_field() {
    let bad = VerificationRequest {
        biz_id: None,
        biz_type: Some("OPEN_ACCOUNT".into()),
        user_info: Some(UserInfoRequest {
            name: Some(" ".into()),
            id_card_no: Some("110105194912310021".into()),
            mobile: Some("12345".into()),
        }),
        callback_url: Some("http://auth.example.com/cb".into()),
        webhook_config: None,
        expire_minutes: Some(0),
        ui_config: Some(UiConfigRequest {
            title: None,
            logo_url: None,
            theme_color: Some("blue".into()),
        }),
        archive_config: None,
    };
    let fields: Vec<String> =
        invalid_fields(when(&VerificationState::default(), initiate_with(bad)))
            .into_iter()
            .map(|(field, _)| field)
            .collect();
    assert_eq!(
        fields,
        vec![
            "bizId",
            "bizType",
            "userInfo.name",
            "userInfo.idCardNo",
            "userInfo.mobile",
            "callbackUrl",
            "expireMinutes",
            "uiConfig.themeColor",
        ]
    );
}

#[test]
fn a_missing_user_info_is_named_once() {
    let mut bad = request();
    bad.user_info = None;
    assert_eq!(
        invalid_fields(when(&VerificationState::default(), initiate_with(bad))),
        vec![("userInfo".to_string(), "is required".to_string())]
    );
}

#[test]
fn a_birth_date_is_judged_by_the_calendar_day_in_china() {
    // At 17:00 UTC on 1 June it is already 2 June in China.
    let evening = DateTime::parse_from_rfc3339("2025-06-01T17:00:00Z")
        .unwrap()
        .to_utc();
    let born = |id_card_no: &str| {
        let mut newborn = request();
        newborn.user_info = Some(UserInfoRequest {
            name: Some("婴儿".into()),
            id_card_no: Some(id_card_no.into()),
            mobile: None,
        });
        VerificationCommand::Initiate(InitiateVerification {
            verification_id: VerificationId::parse("FACE_VERIFY_2").unwrap(),
            client_id: ClientId::parse("auth-system").unwrap(),
            request: newborn,
            mode: Mode::Production,
            now: evening,
        })
    };
    assert!(when(&VerificationState::default(), born("110105202506020016")).is_ok());
    assert_eq!(
        invalid_fields(when(
            &VerificationState::default(),
            born("110105202506030011")
        )),
        vec![(
            "userInfo.idCardNo".to_string(),
            IdCardError::FutureBirthDate.to_string()
        )]
    );
}

#[test]
fn initiating_an_existing_verification_is_a_duplicate() {
    let state = given(history(vec![initiate()]));
    then(
        when(&state, initiate()),
        Err(VerificationError::Duplicate(
            VerificationId::parse("FACE_VERIFY_1").unwrap(),
        )),
    );
}

fn opened(minutes: i64) -> VerificationCommand {
    VerificationCommand::RecordOpened(RecordOpened { now: at(minutes) })
}

#[test]
fn a_started_task_stays_pending_until_the_person_opens_the_page_once() {
    let state = given(history(vec![initiate(), start("T1", 1)]));
    assert_eq!(state.status(), Some(VerificationStatus::Pending));
    assert_eq!(
        when(&state, opened(2)).unwrap(),
        vec![VerificationEvent::Opened { opened_at: at(2) }]
    );
    let state = given(history(vec![initiate(), start("T1", 1), opened(2)]));
    assert_eq!(state.status(), Some(VerificationStatus::Processing));
    assert_eq!(when(&state, opened(3)).unwrap(), vec![], "recorded once");
    // Before any task, and past the deadline, an opening is not a state change.
    let waiting = given(history(vec![initiate()]));
    assert_eq!(when(&waiting, opened(2)).unwrap(), vec![]);
    let started = given(history(vec![initiate(), start("T1", 1)]));
    assert_eq!(when(&started, opened(31)).unwrap(), vec![]);
}

#[test]
fn starting_the_same_task_again_changes_nothing_but_another_task_conflicts() {
    let state = given(history(vec![initiate(), start("T1", 1)]));
    then(when(&state, start("T1", 2)), Ok(vec![]));
    assert!(matches!(
        when(&state, start("T2", 2)),
        Err(VerificationError::Conflict(
            VerificationConflict::TaskAlreadyStarted { .. }
        ))
    ));
}

#[test]
fn a_passing_result_succeeds_with_its_score_and_transaction_number() {
    let state = given(history(vec![
        initiate(),
        start("T1", 1),
        result(passed(0.95), 5),
    ]));
    assert_eq!(state.status(), Some(VerificationStatus::Success));
    let recorded = state.result().unwrap();
    assert_eq!(recorded.transaction_no.as_str(), "FACE_TXN_001");
    assert_eq!(recorded.verdict, passed(0.95));
    assert_eq!(recorded.verified_at, at(5));
}

#[test]
fn a_failing_result_records_the_reason() {
    let state = given(history(vec![initiate(), start("T1", 1)]));
    let events = when(&state, result(failed(FailReason::FaceMismatch), 5)).unwrap();
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["type"], serde_json::json!("FaceVerificationFailed"));
    assert_eq!(json["failReason"], serde_json::json!("FACE_MISMATCH"));
    let state = given(history(vec![
        initiate(),
        start("T1", 1),
        result(failed(FailReason::FaceMismatch), 5),
    ]));
    assert_eq!(state.status(), Some(VerificationStatus::Failed));
}

#[test]
fn a_result_may_arrive_without_a_provider_task_in_sdk_mode() {
    let state = given(history(vec![initiate(), result(passed(0.9), 3)]));
    assert_eq!(state.status(), Some(VerificationStatus::Success));
}

#[test]
fn an_identical_repeated_result_changes_nothing() {
    let state = given(history(vec![
        initiate(),
        start("T1", 1),
        result(passed(0.95), 5),
    ]));
    then(when(&state, result(passed(0.95), 9)), Ok(vec![]));
}

#[test]
fn a_different_result_after_a_final_one_is_refused() {
    let state = given(history(vec![
        initiate(),
        start("T1", 1),
        result(passed(0.95), 5),
    ]));
    then(
        when(&state, result(failed(FailReason::PoorQuality), 6)),
        Err(VerificationError::Conflict(VerificationConflict::Final(
            VerificationStatus::Success,
        ))),
    );
    then(
        when(
            &state,
            result_from("sandbox", "FACE_TXN_002", passed(0.95), 6),
        ),
        Err(VerificationError::Conflict(VerificationConflict::Final(
            VerificationStatus::Success,
        ))),
    );
}

#[test]
fn a_result_after_the_deadline_is_refused_even_before_the_scheduler_expires_it() {
    let state = given(history(vec![initiate(), start("T1", 1)]));
    then(
        when(&state, result(passed(0.95), 30)),
        Err(VerificationError::Conflict(
            VerificationConflict::PastDeadline { expires_at: at(30) },
        )),
    );
}

#[test]
fn a_result_from_another_provider_than_the_tasks_is_refused() {
    let state = given(history(vec![initiate(), start("T1", 1)]));
    assert!(matches!(
        when(&state, result_from("other", "X", passed(0.95), 2)),
        Err(VerificationError::Conflict(
            VerificationConflict::WrongProvider { .. }
        ))
    ));
}

#[test]
fn expiring_before_the_deadline_is_refused() {
    let state = given(history(vec![initiate()]));
    then(
        when(&state, expire(29)),
        Err(VerificationError::Conflict(
            VerificationConflict::NotYetDue { expires_at: at(30) },
        )),
    );
}

#[test]
fn at_the_deadline_a_pending_or_processing_verification_expires() {
    for setup in [vec![initiate()], vec![initiate(), start("T1", 1)]] {
        let state = given(history(setup));
        let events = when(&state, expire(31)).unwrap();
        assert_eq!(
            events,
            vec![VerificationEvent::Expired { expired_at: at(30) }]
        );
        let mut after = state.clone();
        FaceVerificationAggregate::evolve(&mut after, &events[0]);
        assert_eq!(after.status(), Some(VerificationStatus::Expired));
    }
}

#[test]
fn an_expired_verification_absorbs_every_later_command() {
    let state = given(history(vec![initiate(), expire(30)]));
    let expired = Err(VerificationError::Conflict(VerificationConflict::Final(
        VerificationStatus::Expired,
    )));
    assert_eq!(when(&state, start("T1", 31)), expired);
    assert_eq!(when(&state, result(passed(0.9), 31)), expired);
    assert_eq!(when(&state, expire(40)), expired);
    assert!(matches!(
        when(&state, initiate()),
        Err(VerificationError::Duplicate(_))
    ));
}

#[test]
fn a_finished_verification_cannot_expire() {
    let state = given(history(vec![
        initiate(),
        result(failed(FailReason::LivenessFailed), 3),
    ]));
    then(
        when(&state, expire(60)),
        Err(VerificationError::Conflict(VerificationConflict::Final(
            VerificationStatus::Failed,
        ))),
    );
}

#[test]
fn commands_for_a_verification_never_initiated_are_not_found() {
    let state = VerificationState::default();
    then(
        when(&state, start("T1", 0)),
        Err(VerificationError::NotFound),
    );
    then(
        when(&state, result(passed(0.9), 0)),
        Err(VerificationError::NotFound),
    );
    then(when(&state, expire(0)), Err(VerificationError::NotFound));
    assert_eq!(VerificationError::NotFound.kind(), ErrorKind::NotFound);
}

#[test]
fn facts_give_a_contract_the_status_name_and_id_number() {
    let state = given(history(vec![initiate(), result(passed(0.97), 4)]));
    let facts = state.facts().unwrap();
    assert_eq!(facts.status, VerificationStatus::Success);
    assert_eq!(facts.name.as_str(), "张三");
    assert_eq!(facts.id_card_no.as_str(), "11010519491231002X");
    assert_eq!(facts.verified_at, Some(at(4)));
}

#[test]
fn every_event_carries_its_type_name_and_reads_back_alone() {
    let events: Vec<VerificationEvent> = [
        when(&VerificationState::default(), initiate()).unwrap(),
        when(&given(history(vec![initiate()])), start("T1", 1)).unwrap(),
        when(&given(history(vec![initiate()])), result(passed(0.9), 2)).unwrap(),
        when(
            &given(history(vec![initiate()])),
            result(failed(FailReason::IdCardMismatch), 2),
        )
        .unwrap(),
        when(&given(history(vec![initiate()])), expire(30)).unwrap(),
        when(&given(history(vec![initiate()])), reissue(5)).unwrap(),
    ]
    .concat();
    for event in &events {
        let json = serde_json::to_value(event).unwrap();
        assert_eq!(json["type"], serde_json::json!(event.event_type()));
        assert_eq!(event.schema_version(), 1);
        assert_eq!(
            &serde_json::from_value::<VerificationEvent>(json).unwrap(),
            event
        );
    }
}

// ---------------------------------------------------------------------------------------------------
// Provider rounds, degraded mode

fn unavailable(attempt: u32, minutes: i64, next: Option<i64>) -> VerificationCommand {
    VerificationCommand::RecordProviderUnavailable(RecordProviderUnavailable {
        attempt,
        tried: vec![provider("sandbox"), provider("backup")],
        next_attempt_at: next.map(at),
        now: at(minutes),
    })
}

fn degrade(minutes: i64) -> VerificationCommand {
    VerificationCommand::Degrade(Degrade { now: at(minutes) })
}

fn digest(fill: char) -> Digest {
    Digest::parse(&fill.to_string().repeat(64)).unwrap()
}

fn send_code(fill: char, minutes: i64) -> VerificationCommand {
    VerificationCommand::SendDegradedCode(SendDegradedCode {
        code_hash: digest(fill),
        now: at(minutes),
    })
}

fn enter_code(fill: char, minutes: i64) -> VerificationCommand {
    VerificationCommand::VerifyDegradedCode(VerifyDegradedCode {
        code_hash: digest(fill),
        transaction_no: TransactionNo::parse("ESIGN_SMS_1").unwrap(),
        now: at(minutes),
    })
}

#[test]
fn an_unavailable_round_is_recorded_once_and_counts_towards_the_retries() {
    let state = given(history(vec![initiate()]));
    let events = when(&state, unavailable(1, 0, Some(1))).unwrap();
    assert_eq!(
        events,
        vec![VerificationEvent::ProviderUnavailable {
            attempt: 1,
            providers: vec![provider("sandbox"), provider("backup")],
            next_attempt_at: Some(at(1)),
            failed_at: at(0),
        }]
    );
    let state = given(history(vec![initiate(), unavailable(1, 0, Some(1))]));
    assert_eq!(state.status(), Some(VerificationStatus::Pending));
    // Another instance recording the same round again adds nothing.
    assert_eq!(when(&state, unavailable(1, 1, Some(2))).unwrap(), vec![]);
    assert!(matches!(
        when(&state, unavailable(3, 1, None)),
        Err(VerificationError::Conflict(
            VerificationConflict::AttemptOutOfOrder {
                attempt: 3,
                recorded: 1
            }
        ))
    ));
    let VerificationState::Pending {
        provider_attempts, ..
    } = given(history(vec![
        initiate(),
        unavailable(1, 0, Some(1)),
        unavailable(2, 1, None),
    ]))
    else {
        panic!("still pending");
    };
    assert_eq!(provider_attempts.count, 2);
    assert_eq!(provider_attempts.next_attempt_at, None);
}

#[test]
fn a_task_started_after_unavailable_rounds_makes_later_failures_irrelevant() {
    let state = given(history(vec![
        initiate(),
        unavailable(1, 0, Some(1)),
        start("T1", 1),
    ]));
    assert_eq!(state.status(), Some(VerificationStatus::Pending));
    assert_eq!(when(&state, unavailable(2, 2, None)).unwrap(), vec![]);
}

#[test]
fn degrading_needs_a_mobile_and_a_pending_verification() {
    let mut no_mobile = request();
    no_mobile.user_info.as_mut().unwrap().mobile = None;
    let state = given(history(vec![initiate_with(no_mobile)]));
    assert_eq!(
        invalid_fields(when(&state, degrade(0))),
        vec![(
            "userInfo.mobile".to_owned(),
            "is required for the degraded check (SMS code)".to_owned()
        )]
    );
    let processing = given(history(vec![initiate(), start("T1", 0)]));
    assert!(matches!(
        when(&processing, degrade(1)),
        Err(VerificationError::Conflict(
            VerificationConflict::TaskAlreadyStarted { .. }
        ))
    ));
    let state = given(history(vec![initiate()]));
    assert!(matches!(
        when(&state, degrade(30)),
        Err(VerificationError::Conflict(
            VerificationConflict::PastDeadline { .. }
        ))
    ));
}

#[test]
fn a_degraded_verification_stays_pending_and_refuses_provider_results_and_tasks() {
    let state = given(history(vec![initiate(), degrade(0)]));
    assert_eq!(state.status(), Some(VerificationStatus::Pending));
    assert_eq!(state.method(), VerificationMethod::SmsAndIdentity);
    assert_eq!(when(&state, degrade(1)).unwrap(), vec![]);
    assert!(matches!(
        when(&state, result(passed(0.9), 1)),
        Err(VerificationError::Conflict(VerificationConflict::Degraded))
    ));
    assert!(matches!(
        when(&state, start("T1", 1)),
        Err(VerificationError::Conflict(VerificationConflict::Degraded))
    ));
}

#[test]
fn the_right_degraded_code_passes_with_degraded_marked_in_the_event() {
    let state = given(history(vec![initiate(), degrade(0), send_code('a', 1)]));
    let events = when(&state, enter_code('a', 2)).unwrap();
    assert_eq!(
        events,
        vec![VerificationEvent::DegradedSucceeded {
            method: VerificationMethod::SmsAndIdentity,
            degraded: true,
            transaction_no: TransactionNo::parse("ESIGN_SMS_1").unwrap(),
            verified_at: at(2),
        }]
    );
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["type"], "FaceVerificationDegradedSucceeded");
    assert_eq!(json["method"], "SMS_AND_IDENTITY");
    assert_eq!(json["degraded"], true);
    let passed = given(history(vec![
        initiate(),
        degrade(0),
        send_code('a', 1),
        enter_code('a', 2),
    ]));
    assert_eq!(passed.status(), Some(VerificationStatus::Success));
    assert_eq!(passed.verified_at(), Some(at(2)));
    assert_eq!(passed.facts().unwrap().status, VerificationStatus::Success);
    assert!(passed.is_final());
}

#[test]
fn a_code_is_needed_before_entering_one_and_it_lives_five_minutes() {
    let state = given(history(vec![initiate(), degrade(0)]));
    assert!(matches!(
        when(&state, enter_code('a', 1)),
        Err(VerificationError::Conflict(
            VerificationConflict::NoSmsCodeSent
        ))
    ));
    let state = given(history(vec![initiate(), degrade(0), send_code('a', 1)]));
    assert!(matches!(
        when(&state, enter_code('a', 6)),
        Err(VerificationError::Conflict(
            VerificationConflict::SmsCodeExpired
        ))
    ));
    // A new code replaces the old one.
    let state = given(history(vec![
        initiate(),
        degrade(0),
        send_code('a', 1),
        send_code('b', 2),
    ]));
    assert!(matches!(
        when(&state, enter_code('b', 3)).unwrap()[0],
        VerificationEvent::DegradedSucceeded { .. }
    ));
}

#[test]
fn five_wrong_codes_lock_the_degraded_check_even_across_new_codes() {
    let mut commands = vec![initiate(), degrade(0), send_code('a', 1)];
    for minute in 0..4 {
        commands.push(enter_code('f', 1 + minute / 2));
    }
    commands.push(send_code('b', 3));
    let state = given(history(commands.clone()));
    let events = when(&state, enter_code('f', 3)).unwrap();
    assert_eq!(
        events,
        vec![VerificationEvent::DegradedCodeFailed {
            failed_attempts: 5,
            locked: true,
            failed_at: at(3),
        }]
    );
    commands.push(enter_code('f', 3));
    let locked = given(history(commands));
    assert_eq!(locked.status(), Some(VerificationStatus::Pending));
    for command in [enter_code('b', 4), send_code('c', 4)] {
        assert!(matches!(
            when(&locked, command),
            Err(VerificationError::Conflict(VerificationConflict::SmsLocked))
        ));
    }
    // It ends as any pending verification does: at its deadline.
    assert_eq!(
        when(&locked, expire(30)).unwrap(),
        vec![VerificationEvent::Expired { expired_at: at(30) }]
    );
}

#[test]
fn degraded_code_commands_are_refused_outside_the_degraded_check() {
    let state = given(history(vec![initiate()]));
    assert!(matches!(
        when(&state, send_code('a', 1)),
        Err(VerificationError::Conflict(
            VerificationConflict::NotDegraded
        ))
    ));
    let state = given(history(vec![
        initiate(),
        degrade(0),
        send_code('a', 1),
        enter_code('a', 2),
    ]));
    assert!(matches!(
        when(&state, send_code('a', 3)),
        Err(VerificationError::Conflict(VerificationConflict::Final(
            VerificationStatus::Success
        )))
    ));
}

#[test]
fn the_provider_page_is_kept_with_the_task() {
    let command = VerificationCommand::StartProviderTask(StartProviderTask {
        provider: provider("sandbox"),
        task_id: ProviderTaskId::parse("T1").unwrap(),
        h5_url: Some(LongText::parse("https://face.example.com/capture/T1").unwrap()),
        now: at(0),
    });
    let state = given(history(vec![initiate(), command]));
    assert_eq!(
        state.task().unwrap().h5_url.as_ref().unwrap().as_str(),
        "https://face.example.com/capture/T1"
    );
}

// ---------------------------------------------------------------------------------------------------
// A new page link

fn reissue(minutes: i64) -> VerificationCommand {
    VerificationCommand::ReissueLink(ReissueLink { now: at(minutes) })
}

#[test]
fn a_lost_page_link_is_replaced_while_the_verification_is_open() {
    let pending = given(history(vec![initiate()]));
    assert_eq!(pending.verification().unwrap().page_link, 1);
    then(
        when(&pending, reissue(5)),
        Ok(vec![VerificationEvent::LinkReissued {
            link: 2,
            reissued_at: at(5),
        }]),
    );
    let processing = given(history(vec![
        initiate(),
        start("T1", 1),
        reissue(5),
        reissue(6),
    ]));
    assert_eq!(processing.verification().unwrap().page_link, 3);
    // A task, but nobody opened a page yet.
    assert_eq!(processing.status(), Some(VerificationStatus::Pending));
    // Not after the deadline, and not once there is a result.
    then(
        when(&pending, reissue(30)),
        Err(VerificationError::Conflict(
            VerificationConflict::PastDeadline { expires_at: at(30) },
        )),
    );
    let done = given(history(vec![initiate(), result(passed(0.9), 2)]));
    then(
        when(&done, reissue(5)),
        Err(VerificationError::Conflict(VerificationConflict::Final(
            VerificationStatus::Success,
        ))),
    );
    then(
        when(&VerificationState::default(), reissue(5)),
        Err(VerificationError::NotFound),
    );
}

fn archived_request(providers: &[&str]) -> VerificationRequest {
    VerificationRequest {
        archive_config: Some(crate::contract::ArchiveConfigRequest {
            need_archive: None,
            archive_provider: None,
            archive_providers: Some(providers.iter().map(|code| code.to_string()).collect()),
        }),
        ..request()
    }
}

fn archive_result(
    provider: crate::values::ArchiveProvider,
    record_hash: u64,
) -> VerificationCommand {
    VerificationCommand::RequestResultArchive(RequestResultArchive {
        archive_id: crate::values::ArchiveId::parse(&format!("ARCHIVE_{}", provider.as_str()))
            .unwrap(),
        provider,
        record_hash: crate::values::Digest::parse(&format!("{record_hash:064x}")).unwrap(),
        now: at(6),
    })
}

#[test]
fn the_result_record_names_the_outcome_and_nothing_about_the_person() {
    let state = given(history(vec![
        initiate(),
        start("TASK_1", 1),
        result(passed(0.95), 5),
    ]));
    let record = state.result_record().unwrap();
    let text = serde_json::to_string(&record).unwrap();
    assert_eq!(record["format"].as_deref(), Some(RESULT_RECORD_FORMAT));
    assert_eq!(record["status"].as_deref(), Some("SUCCESS"));
    assert_eq!(record["score"].as_deref(), Some("0.9500"));
    assert_eq!(record["provider"].as_deref(), Some("sandbox"));
    assert_eq!(record["transactionNo"].as_deref(), Some("FACE_TXN_001"));
    assert!(
        text.starts_with(r#"{"bizId":"AUTH_FLOW_001","bizType":"#),
        "{text}"
    );
    assert!(
        !text.contains("张三")
            && !text.contains("11010519491231002X")
            && !text.contains("13800138000")
    );
    let expired = given(history(vec![initiate(), expire(31)]));
    assert_eq!(
        expired.result_record(),
        None,
        "an expired check has no result"
    );
    let pending = given(history(vec![initiate()]));
    assert_eq!(pending.result_record(), None);
}

#[test]
fn a_result_is_archived_only_with_the_providers_asked_and_only_once_final() {
    use crate::values::ArchiveProvider::{Blockchain, LocalCa, Tsa};
    let asked = given(history(vec![initiate_with(archived_request(&[
        "TSA",
        "BLOCKCHAIN",
    ]))]));
    assert_eq!(
        asked.verification().unwrap().archive_providers,
        [Tsa, Blockchain]
    );
    assert_eq!(
        when(&asked, archive_result(Tsa, 1)),
        Err(VerificationError::Conflict(
            VerificationConflict::NoResultToArchive
        ))
    );
    let done = given(history(vec![
        initiate_with(archived_request(&["TSA", "BLOCKCHAIN"])),
        start("TASK_1", 1),
        result(failed(FailReason::FaceMismatch), 5),
    ]));
    assert_eq!(
        when(&done, archive_result(LocalCa, 1)),
        Err(VerificationError::Conflict(
            VerificationConflict::ArchiveNotAsked(LocalCa)
        ))
    );
    let events = when(&done, archive_result(Tsa, 1)).unwrap();
    assert!(matches!(
        events[..],
        [VerificationEvent::ResultArchiveRequested { attempt: 1, .. }]
    ));
    let pending = after(&done, archive_result(Tsa, 1));
    assert_eq!(when(&pending, archive_result(Tsa, 1)), Ok(Vec::new()));
    assert_eq!(
        when(&pending, archive_result(Tsa, 2)),
        Err(VerificationError::Conflict(
            VerificationConflict::ArchiveMismatch(Tsa)
        )),
        "another record hash under the same record"
    );
    let failed_once = after(
        &pending,
        VerificationCommand::RecordResultArchiveFailure(RecordResultArchiveFailure {
            provider: Tsa,
            reason: crate::values::Reason::parse("TSA down").unwrap(),
            now: at(7),
        }),
    );
    assert!(matches!(
        when(&failed_once, archive_result(Tsa, 1)).unwrap()[..],
        [VerificationEvent::ResultArchiveRequested { attempt: 2, .. }]
    ));
    let retried = after(&failed_once, archive_result(Tsa, 1));
    let archived = after(
        &retried,
        VerificationCommand::RecordResultArchiveSuccess(RecordResultArchiveSuccess {
            provider: Tsa,
            transaction_no: TransactionNo::parse("0A1B").unwrap(),
            authority: None,
            evidence: Some(serde_json::json!({"format": "RFC3161"})),
            now: at(8),
        }),
    );
    let record = &archived.result_archives().unwrap()[&Tsa];
    assert_eq!(record.attempts, 2);
    assert!(matches!(
        record.state,
        crate::contract::ArchiveState::Succeeded { .. }
    ));
    assert_eq!(archived.status(), Some(VerificationStatus::Failed));
}

/// The state after a command that must be accepted.
fn after(state: &VerificationState, command: VerificationCommand) -> VerificationState {
    let mut next = state.clone();
    for event in when(state, command).unwrap() {
        FaceVerificationAggregate::evolve(&mut next, &event);
    }
    next
}
