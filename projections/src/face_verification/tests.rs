//! The face verification projection, on streams made by the real FaceVerification aggregate.

use aggregates::face_verification::*;
use aggregates::values::{
    ClientId, FaceScore, FailReason, Mode, ProviderName, ProviderTaskId, TransactionNo,
    VerificationId, WebhookConfigRequest,
};

use crate::testing::*;
use crate::{ProjectionError, Row, SqlValue, Table, verification_rows};

const ID_CARD: &str = "11010519491231002X";
const MOBILE: &str = "13800138000";
const BEARER: &str = "Bearer s3cr3t-token";
const VERIFICATION: &str = "FACE_VERIFY_1";

type Stream = Recorded<FaceVerificationAggregate>;

fn request() -> VerificationRequest {
    VerificationRequest {
        biz_id: Some("AUTH_FLOW_001".into()),
        biz_type: Some("RELATIONSHIP_BINDING".into()),
        user_info: Some(UserInfoRequest {
            name: Some("张三".into()),
            id_card_no: Some(ID_CARD.into()),
            mobile: Some(MOBILE.into()),
        }),
        callback_url: Some("https://auth.example.com/callback/face-verification".into()),
        webhook_config: Some(WebhookConfigRequest {
            headers: [("Authorization".to_string(), BEARER.to_string())].into(),
        }),
        expire_minutes: None,
        ui_config: Some(UiConfigRequest {
            title: Some("天财分账身份验证".into()),
            logo_url: None,
            theme_color: Some("#1890ff".into()),
        }),
        archive_config: None,
    }
}

fn initiated_with(request: VerificationRequest) -> Stream {
    let mut stream = Stream::new();
    let command = VerificationCommand::Initiate(InitiateVerification {
        verification_id: VerificationId::parse(VERIFICATION).unwrap(),
        client_id: ClientId::parse("auth-system").unwrap(),
        request,
        mode: Mode::Production,
        now: t0(),
    });
    stream.run(command, t0());
    stream
}

fn initiated() -> Stream {
    initiated_with(request())
}

fn started(stream: &mut Stream, minutes: i64) {
    let command = VerificationCommand::StartProviderTask(StartProviderTask {
        provider: ProviderName::parse("sandbox").unwrap(),
        task_id: ProviderTaskId::parse("TASK_1").unwrap(),
        h5_url: Some(
            aggregates::values::LongText::parse("https://face.example.com/capture/TASK_1").unwrap(),
        ),
        now: at(minutes),
    });
    stream.run(command, at(minutes));
}

fn verdict(stream: &mut Stream, verdict: Verdict, minutes: i64) {
    let command = VerificationCommand::RecordResult(RecordProviderResult {
        provider: ProviderName::parse("sandbox").unwrap(),
        transaction_no: TransactionNo::parse("FACE_TXN_001").unwrap(),
        verdict,
        now: at(minutes),
    });
    stream.run(command, at(minutes));
}

fn the_row(stream: &Stream) -> Row {
    let rows = verification_rows(&stream.projected()).unwrap();
    assert_eq!(rows.len(), 1);
    row(&rows, Table::FaceVerification, &[VERIFICATION]).clone()
}

#[test]
fn an_initiated_verification_is_pending_with_sealed_personal_data() {
    let stream = initiated();
    let row = the_row(&stream);
    assert!(
        row.values
            .iter()
            .map(|(name, _)| *name)
            .eq(Table::FaceVerification.columns().iter().copied())
    );
    assert_eq!(value(&row, "id"), &SqlValue::Integer(Stream::position(1)));
    assert_eq!(value(&row, "status"), &text("PENDING"));
    assert_eq!(value(&row, "client_id"), &text("auth-system"));
    assert_eq!(value(&row, "biz_id"), &text("AUTH_FLOW_001"));
    assert_eq!(value(&row, "biz_type"), &text("RELATIONSHIP_BINDING"));
    let payload = &stream.stored[0].payload;
    assert!(payload["name"]["$pii"]["c"].is_string());
    assert_eq!(
        value(&row, "user_name"),
        &text(&serde_json::to_string(&payload["name"]).unwrap())
    );
    assert!(!format!("{row:?}").contains("张三"));
    for (column, hash_column, field) in [
        ("id_card_no", "id_card_hash", "idCardNo"),
        ("mobile", "mobile_hash", "mobile"),
    ] {
        assert_eq!(
            value(&row, column),
            &text(&serde_json::to_string(&payload[field]).unwrap())
        );
        assert_eq!(
            value(&row, hash_column),
            &text(payload[field]["$pii"]["h"].as_str().unwrap())
        );
    }
    assert_eq!(
        value(&row, "callback_url"),
        &text("https://auth.example.com/callback/face-verification")
    );
    assert_eq!(
        value(&row, "callback_headers"),
        &text(&serde_json::to_string(&payload["webhookHeaders"]).unwrap())
    );
    assert_eq!(
        value(&row, "ui_config_json"),
        &text(r##"{"themeColor":"#1890ff","title":"天财分账身份验证"}"##)
    );
    assert_eq!(value(&row, "expires_at"), &time(at(30)));
    for column in [
        "face_score",
        "thirdparty_transaction_no",
        "fail_reason",
        "verification_url",
        "provider",
        "provider_task_id",
        "verified_at",
    ] {
        assert_eq!(value(&row, column), &SqlValue::Null, "{column}");
    }
    assert_eq!(value(&row, "created_at"), &stream.recorded_at(1));
    assert_eq!(value(&row, "updated_at"), &stream.recorded_at(1));
    assert_eq!(value(&row, "stream_version"), &SqlValue::Integer(1));
}

#[test]
fn a_started_provider_task_stays_pending_until_the_person_opens_the_page() {
    let mut stream = initiated();
    started(&mut stream, 2);
    let row = the_row(&stream);
    assert_eq!(value(&row, "status"), &text("PENDING"));
    assert_eq!(value(&row, "provider"), &text("sandbox"));
    assert_eq!(value(&row, "provider_task_id"), &text("TASK_1"));
    assert_eq!(value(&row, "updated_at"), &stream.recorded_at(2));
    assert_eq!(value(&row, "created_at"), &stream.recorded_at(1));
    assert_eq!(value(&row, "stream_version"), &SqlValue::Integer(2));

    stream.run(
        VerificationCommand::RecordOpened(RecordOpened { now: at(3) }),
        at(3),
    );
    let row = the_row(&stream);
    assert_eq!(value(&row, "status"), &text("PROCESSING"));
    assert_eq!(value(&row, "stream_version"), &SqlValue::Integer(3));
}

#[test]
fn a_passed_verdict_records_score_transaction_and_time() {
    let mut stream = initiated();
    started(&mut stream, 2);
    let score = FaceScore::parse(0.95).unwrap();
    verdict(&mut stream, Verdict::Passed { score }, 5);
    let row = the_row(&stream);
    assert_eq!(value(&row, "status"), &text("SUCCESS"));
    assert_eq!(
        value(&row, "face_score"),
        &SqlValue::Decimal("0.9500".into())
    );
    assert_eq!(
        value(&row, "thirdparty_transaction_no"),
        &text("FACE_TXN_001")
    );
    assert_eq!(value(&row, "verified_at"), &time(at(5)));
    assert_eq!(value(&row, "fail_reason"), &SqlValue::Null);
    assert_eq!(value(&row, "provider_task_id"), &text("TASK_1"));
    assert_eq!(value(&row, "updated_at"), &stream.recorded_at(3));
}

#[test]
fn a_failed_verdict_records_the_reason_and_no_score() {
    let mut stream = initiated();
    let failed = Verdict::Failed {
        score: None,
        reason: FailReason::FaceMismatch,
    };
    verdict(&mut stream, failed, 5);
    let row = the_row(&stream);
    assert_eq!(value(&row, "status"), &text("FAILED"));
    assert_eq!(value(&row, "fail_reason"), &text("FACE_MISMATCH"));
    assert_eq!(value(&row, "face_score"), &SqlValue::Null);
    assert_eq!(value(&row, "provider"), &text("sandbox"));
    assert_eq!(value(&row, "provider_task_id"), &SqlValue::Null);
}

#[test]
fn expiry_makes_it_expired_without_a_verdict() {
    let mut stream = initiated();
    let command = VerificationCommand::Expire(ExpireVerification { now: at(31) });
    stream.run(command, at(31));
    let row = the_row(&stream);
    assert_eq!(value(&row, "status"), &text("EXPIRED"));
    assert_eq!(value(&row, "verified_at"), &SqlValue::Null);
    assert_eq!(value(&row, "updated_at"), &stream.recorded_at(2));
}

#[test]
fn without_a_mobile_number_or_headers_those_columns_are_null() {
    let mut request = request();
    if let Some(user) = &mut request.user_info {
        user.mobile = None;
    }
    request.webhook_config = None;
    request.ui_config = None;
    let row = the_row(&initiated_with(request));
    assert_eq!(value(&row, "mobile"), &SqlValue::Null);
    assert_eq!(value(&row, "mobile_hash"), &SqlValue::Null);
    assert_eq!(value(&row, "callback_headers"), &SqlValue::Null);
    assert_eq!(value(&row, "ui_config_json"), &text("{}"));
}

#[test]
fn the_same_events_always_give_identical_rows_and_no_plaintext() {
    let mut stream = initiated();
    started(&mut stream, 2);
    let score = FaceScore::parse(0.87654).unwrap();
    verdict(&mut stream, Verdict::Passed { score }, 5);
    let rows = verification_rows(&stream.projected()).unwrap();
    assert_eq!(verification_rows(&stream.projected()).unwrap(), rows);
    assert_eq!(
        verification_rows(&projected(&stream.reloaded())).unwrap(),
        rows
    );
    assert_eq!(
        value(&rows[0], "face_score"),
        &SqlValue::Decimal("0.8765".into())
    );
    assert_no_plaintext(&rows, &[ID_CARD, MOBILE, "s3cr3t", "张三"]);
}

#[test]
fn a_name_stored_in_clear_before_names_were_sealed_projects_as_stored() {
    let mut stream = initiated();
    stream.stored[0].payload["name"] = serde_json::json!("张三");
    let rows = verification_rows(&stream.projected()).unwrap();
    assert_eq!(value(&rows[0], "user_name"), &text("张三"));
    assert_eq!(
        verification_rows(&projected(&stream.reloaded())).unwrap(),
        rows
    );
    stream.stored[0].payload["name"] = serde_json::json!({"$pii": "张三"});
    assert_eq!(
        verification_rows(&stream.projected()),
        Err(ProjectionError::Unsealed {
            event: "FaceVerificationInitiated",
            path: "name".into()
        })
    );
}

#[test]
fn an_unsealed_id_number_is_refused() {
    let mut stream = initiated();
    stream.stored[0].payload["idCardNo"] = serde_json::json!({"$pii": ID_CARD});
    assert_eq!(
        verification_rows(&stream.projected()),
        Err(ProjectionError::Unsealed {
            event: "FaceVerificationInitiated",
            path: "idCardNo".into()
        })
    );
}

fn unavailable(stream: &mut Stream, attempt: u32, minutes: i64, next: Option<i64>) {
    let command = VerificationCommand::RecordProviderUnavailable(RecordProviderUnavailable {
        attempt,
        tried: vec![ProviderName::parse("sandbox").unwrap()],
        next_attempt_at: next.map(at),
        now: at(minutes),
    });
    stream.run(command, at(minutes));
}

#[test]
fn a_new_verification_uses_the_face_method_and_has_no_provider_round_yet() {
    let row = the_row(&initiated());
    assert_eq!(value(&row, "provider_attempts"), &SqlValue::Integer(0));
    assert_eq!(value(&row, "next_provider_attempt_at"), &SqlValue::Null);
    assert_eq!(value(&row, "provider_url"), &SqlValue::Null);
    assert_eq!(value(&row, "degraded"), &SqlValue::Bool(false));
    assert_eq!(value(&row, "verification_method"), &text("FACE"));
}

#[test]
fn unavailable_rounds_show_the_count_and_the_next_round_until_a_task_starts() {
    let mut stream = initiated();
    unavailable(&mut stream, 1, 0, Some(1));
    let row = the_row(&stream);
    assert_eq!(value(&row, "status"), &text("PENDING"));
    assert_eq!(value(&row, "provider_attempts"), &SqlValue::Integer(1));
    assert_eq!(value(&row, "next_provider_attempt_at"), &time(at(1)));
    assert_eq!(value(&row, "updated_at"), &stream.recorded_at(2));
    started(&mut stream, 1);
    let row = the_row(&stream);
    assert_eq!(
        value(&row, "status"),
        &text("PENDING"),
        "until the page is opened"
    );
    assert_eq!(value(&row, "provider_attempts"), &SqlValue::Integer(1));
    assert_eq!(value(&row, "next_provider_attempt_at"), &SqlValue::Null);
    assert_eq!(
        value(&row, "provider_url"),
        &text("https://face.example.com/capture/TASK_1")
    );
}

#[test]
fn a_degraded_check_that_passes_is_success_with_the_sms_method_and_no_score() {
    let mut stream = initiated();
    unavailable(&mut stream, 1, 0, None);
    stream.run(VerificationCommand::Degrade(Degrade { now: at(0) }), at(0));
    let row = the_row(&stream);
    assert_eq!(value(&row, "status"), &text("PENDING"));
    assert_eq!(value(&row, "degraded"), &SqlValue::Bool(true));
    assert_eq!(
        value(&row, "verification_method"),
        &text("SMS_AND_IDENTITY")
    );
    let code = aggregates::values::Digest::parse(&"a".repeat(64)).unwrap();
    stream.run(
        VerificationCommand::SendDegradedCode(SendDegradedCode {
            code_hash: code.clone(),
            now: at(1),
        }),
        at(1),
    );
    stream.run(
        VerificationCommand::VerifyDegradedCode(VerifyDegradedCode {
            code_hash: code,
            transaction_no: TransactionNo::parse("ESIGN_SMS_1").unwrap(),
            now: at(2),
        }),
        at(2),
    );
    let row = the_row(&stream);
    assert_eq!(value(&row, "status"), &text("SUCCESS"));
    assert_eq!(value(&row, "degraded"), &SqlValue::Bool(true));
    assert_eq!(
        value(&row, "verification_method"),
        &text("SMS_AND_IDENTITY")
    );
    assert_eq!(
        value(&row, "thirdparty_transaction_no"),
        &text("ESIGN_SMS_1")
    );
    assert_eq!(value(&row, "verified_at"), &time(at(2)));
    assert_eq!(value(&row, "face_score"), &SqlValue::Null);
    assert_eq!(value(&row, "provider"), &SqlValue::Null);
}

#[test]
fn a_degraded_verification_that_expires_still_says_it_was_degraded() {
    let mut stream = initiated();
    stream.run(VerificationCommand::Degrade(Degrade { now: at(0) }), at(0));
    stream.run(
        VerificationCommand::Expire(ExpireVerification { now: at(30) }),
        at(30),
    );
    let row = the_row(&stream);
    assert_eq!(value(&row, "status"), &text("EXPIRED"));
    assert_eq!(value(&row, "degraded"), &SqlValue::Bool(true));
    assert_eq!(
        value(&row, "verification_method"),
        &text("SMS_AND_IDENTITY")
    );
}

#[test]
fn an_archived_result_has_one_row_per_provider_from_the_verdict_on() {
    use aggregates::values::{ArchiveId, ArchiveProvider, Digest};
    let mut asked = request();
    asked.archive_config = Some(aggregates::contract::ArchiveConfigRequest {
        archive_providers: Some(vec!["TSA".into(), "BLOCKCHAIN".into()]),
        ..Default::default()
    });
    let mut stream = initiated_with(asked);
    started(&mut stream, 1);
    let rows = verification_rows(&stream.projected()).unwrap();
    assert_eq!(rows.len(), 1, "no archive rows before the result");

    verdict(
        &mut stream,
        Verdict::Passed {
            score: FaceScore::parse(0.9).unwrap(),
        },
        5,
    );
    let rows = verification_rows(&stream.projected()).unwrap();
    let waiting = row(
        &rows,
        Table::FaceVerificationArchive,
        &[VERIFICATION, "TSA"],
    );
    assert!(
        waiting
            .values
            .iter()
            .map(|(name, _)| *name)
            .eq(Table::FaceVerificationArchive.columns().iter().copied())
    );
    assert_eq!(value(waiting, "status"), &text("PENDING"));
    assert_eq!(value(waiting, "attempts"), &SqlValue::Integer(0));
    assert_eq!(value(waiting, "archive_id"), &SqlValue::Null);
    let record = value(waiting, "record_json").as_text().unwrap().to_owned();
    assert!(record.contains("\"status\":\"SUCCESS\"") && !record.contains(ID_CARD));
    let other = row(
        &rows,
        Table::FaceVerificationArchive,
        &[VERIFICATION, "BLOCKCHAIN"],
    );
    assert_ne!(
        value(waiting, "id"),
        value(other, "id"),
        "rows made by one event"
    );

    let hash = Digest::parse(&"ab".repeat(32)).unwrap();
    stream.run(
        VerificationCommand::RequestResultArchive(RequestResultArchive {
            archive_id: ArchiveId::parse("ARCHIVE_FACE_1").unwrap(),
            provider: ArchiveProvider::Tsa,
            record_hash: hash.clone(),
            now: at(6),
        }),
        at(6),
    );
    let rows = verification_rows(&stream.projected()).unwrap();
    let requested = row(
        &rows,
        Table::FaceVerificationArchive,
        &[VERIFICATION, "TSA"],
    );
    assert_eq!(value(requested, "archive_id"), &text("ARCHIVE_FACE_1"));
    assert_eq!(value(requested, "record_hash"), &text(hash.as_hex()));
    assert_eq!(value(requested, "attempts"), &SqlValue::Integer(1));
    assert_eq!(value(requested, "record_json"), &text(&record));
}
