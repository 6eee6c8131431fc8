//! Given/when/then tests of the FaceVerification aggregate.

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::values::IdCardError;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T10:00:00Z")
        .unwrap()
        .to_utc()
}

fn at(minutes: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(minutes)
}

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

/// Runs commands that must be accepted and returns the state they lead to.
fn given(commands: Vec<VerificationCommand>) -> VerificationState {
    let mut state = VerificationState::default();
    for command in commands {
        for event in FaceVerificationAggregate::decide(&state, command).unwrap() {
            FaceVerificationAggregate::evolve(&mut state, &event);
        }
    }
    state
}

fn when(
    state: &VerificationState,
    command: VerificationCommand,
) -> Result<Vec<VerificationEvent>, VerificationError> {
    FaceVerificationAggregate::decide(state, command)
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
    let state = given(vec![initiate_with(custom)]);
    assert_eq!(state.verification().unwrap().expires_at, at(5));
}

#[test]
fn id_and_mobile_numbers_and_header_values_are_marked_sensitive_in_the_event() {
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
    assert_eq!(json["name"], serde_json::json!("张三"));
    assert_eq!(json["bizType"], serde_json::json!("RELATIONSHIP_BINDING"));
    let back: VerificationEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, events[0]);
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
    let state = given(vec![initiate()]);
    assert_eq!(
        when(&state, initiate()),
        Err(VerificationError::Duplicate(
            VerificationId::parse("FACE_VERIFY_1").unwrap()
        ))
    );
}

#[test]
fn a_started_provider_task_moves_the_verification_to_processing() {
    let state = given(vec![initiate(), start("T1", 1)]);
    assert_eq!(state.status(), Some(VerificationStatus::Processing));
}

#[test]
fn starting_the_same_task_again_changes_nothing_but_another_task_conflicts() {
    let state = given(vec![initiate(), start("T1", 1)]);
    assert_eq!(when(&state, start("T1", 2)), Ok(vec![]));
    assert!(matches!(
        when(&state, start("T2", 2)),
        Err(VerificationError::Conflict(
            VerificationConflict::TaskAlreadyStarted { .. }
        ))
    ));
}

#[test]
fn a_passing_result_succeeds_with_its_score_and_transaction_number() {
    let state = given(vec![initiate(), start("T1", 1), result(passed(0.95), 5)]);
    assert_eq!(state.status(), Some(VerificationStatus::Success));
    let recorded = state.result().unwrap();
    assert_eq!(recorded.transaction_no.as_str(), "FACE_TXN_001");
    assert_eq!(recorded.verdict, passed(0.95));
    assert_eq!(recorded.verified_at, at(5));
}

#[test]
fn a_failing_result_records_the_reason() {
    let state = given(vec![initiate(), start("T1", 1)]);
    let events = when(&state, result(failed(FailReason::FaceMismatch), 5)).unwrap();
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["type"], serde_json::json!("FaceVerificationFailed"));
    assert_eq!(json["failReason"], serde_json::json!("FACE_MISMATCH"));
    let state = given(vec![
        initiate(),
        start("T1", 1),
        result(failed(FailReason::FaceMismatch), 5),
    ]);
    assert_eq!(state.status(), Some(VerificationStatus::Failed));
}

#[test]
fn a_result_may_arrive_without_a_provider_task_in_sdk_mode() {
    let state = given(vec![initiate(), result(passed(0.9), 3)]);
    assert_eq!(state.status(), Some(VerificationStatus::Success));
}

#[test]
fn an_identical_repeated_result_changes_nothing() {
    let state = given(vec![initiate(), start("T1", 1), result(passed(0.95), 5)]);
    assert_eq!(when(&state, result(passed(0.95), 9)), Ok(vec![]));
}

#[test]
fn a_different_result_after_a_final_one_is_refused() {
    let state = given(vec![initiate(), start("T1", 1), result(passed(0.95), 5)]);
    assert_eq!(
        when(&state, result(failed(FailReason::PoorQuality), 6)),
        Err(VerificationError::Conflict(VerificationConflict::Final(
            VerificationStatus::Success
        )))
    );
    assert_eq!(
        when(
            &state,
            result_from("sandbox", "FACE_TXN_002", passed(0.95), 6)
        ),
        Err(VerificationError::Conflict(VerificationConflict::Final(
            VerificationStatus::Success
        )))
    );
}

#[test]
fn a_result_after_the_deadline_is_refused_even_before_the_scheduler_expires_it() {
    let state = given(vec![initiate(), start("T1", 1)]);
    assert_eq!(
        when(&state, result(passed(0.95), 30)),
        Err(VerificationError::Conflict(
            VerificationConflict::PastDeadline { expires_at: at(30) }
        ))
    );
}

#[test]
fn a_result_from_another_provider_than_the_tasks_is_refused() {
    let state = given(vec![initiate(), start("T1", 1)]);
    assert!(matches!(
        when(&state, result_from("other", "X", passed(0.95), 2)),
        Err(VerificationError::Conflict(
            VerificationConflict::WrongProvider { .. }
        ))
    ));
}

#[test]
fn expiring_before_the_deadline_is_refused() {
    let state = given(vec![initiate()]);
    assert_eq!(
        when(&state, expire(29)),
        Err(VerificationError::Conflict(
            VerificationConflict::NotYetDue { expires_at: at(30) }
        ))
    );
}

#[test]
fn at_the_deadline_a_pending_or_processing_verification_expires() {
    for setup in [vec![initiate()], vec![initiate(), start("T1", 1)]] {
        let state = given(setup);
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
    let state = given(vec![initiate(), expire(30)]);
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
    let state = given(vec![
        initiate(),
        result(failed(FailReason::LivenessFailed), 3),
    ]);
    assert_eq!(
        when(&state, expire(60)),
        Err(VerificationError::Conflict(VerificationConflict::Final(
            VerificationStatus::Failed
        )))
    );
}

#[test]
fn commands_for_a_verification_never_initiated_are_not_found() {
    let state = VerificationState::default();
    assert_eq!(
        when(&state, start("T1", 0)),
        Err(VerificationError::NotFound)
    );
    assert_eq!(
        when(&state, result(passed(0.9), 0)),
        Err(VerificationError::NotFound)
    );
    assert_eq!(when(&state, expire(0)), Err(VerificationError::NotFound));
    assert_eq!(VerificationError::NotFound.kind(), ErrorKind::NotFound);
}

#[test]
fn facts_give_a_contract_the_status_name_and_id_number() {
    let state = given(vec![initiate(), result(passed(0.97), 4)]);
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
        when(&given(vec![initiate()]), start("T1", 1)).unwrap(),
        when(&given(vec![initiate()]), result(passed(0.9), 2)).unwrap(),
        when(
            &given(vec![initiate()]),
            result(failed(FailReason::IdCardMismatch), 2),
        )
        .unwrap(),
        when(&given(vec![initiate()]), expire(30)).unwrap(),
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
