//! Payment-verification notices (spec 1.2 item 3), black box on both backends: SMS templates managed
//! by administrators, notices sent through the development sender and through a local message centre
//! that fails first, idempotency, validation, ownership, recovery by the sweep, and rebuilds.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, CALLER, OTHER, RunningService, TestStore, event_count, json_of, start_service_with,
};
use crate::signing_client::SigningClient;
use crate::sms::{message_centre, ok, receiver, status};

crate::backend_tests!(
    sms_templates_are_managed_by_administrators_only,
    a_notice_is_sent_with_the_development_sender_and_read_back_by_its_owner_only,
    a_repeated_biz_id_answers_40002_with_the_existing_notice,
    bad_notices_name_the_field_and_write_nothing,
    a_failed_first_attempt_is_retried_by_the_sweep_until_sent,
    a_refused_notice_is_not_retried,
    a_notice_left_unsent_by_a_crash_is_sent_by_the_sweep,
    the_query_tables_rebuilt_from_the_log_match_after_notices,
);

const MOBILE: &str = "13800138000";
const CODE: &str = "PAY_VERIFY_NOTICE";

struct Api {
    auth: SigningClient,
    other: SigningClient,
    admin: SigningClient,
    service: RunningService,
}

async fn start(t: &TestStore, configure: impl FnOnce(&mut esign::app::config::Config)) -> Api {
    let service = start_service_with(t, &[CALLER, OTHER, ADMIN], configure).await;
    Api {
        auth: service.client(CALLER),
        other: service.client(OTHER),
        admin: service.client(ADMIN),
        service,
    }
}

fn template(version: &str, content: &str, active: bool) -> Value {
    json!({
        "templateCode": CODE,
        "name": "打款验证通知",
        "version": version,
        "content": content,
        "variables": [
            {"key": "amount", "name": "打款金额", "maxLength": 12},
            {"key": "remarkCode", "name": "备注码", "maxLength": 8}
        ],
        "active": active
    })
}

const CONTENT_V1: &str = "您的账户收到一笔{amount}元的验证打款，备注码{remarkCode}。";
const CONTENT_V2: &str = "【天财】验证打款{amount}元已到账，请填写备注码{remarkCode}完成验证。";

async fn publish(api: &Api) {
    let (status, body) = json_of(
        api.admin
            .post_json(
                "/api/v1/notification/sms-templates",
                &template("1", CONTENT_V1, true),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn notice(biz_id: &str) -> Value {
    json!({
        "bizId": biz_id,
        "bizType": "PAYMENT_VERIFICATION",
        "templateCode": CODE,
        "mobile": MOBILE,
        "variables": {"amount": "0.12", "remarkCode": "A1B2C3"}
    })
}

async fn send(api: &Api, body: &Value) -> (StatusCode, Value) {
    json_of(api.auth.post_json("/api/v1/notification/sms", body).await).await
}

/// Polls the owner's GET until the notice has `status`, for up to 30 seconds.
async fn wait_for_status(api: &Api, notice_id: &str, wanted: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (code, body) = json_of(
            api.auth
                .get(&format!("/api/v1/notification/sms/{notice_id}"))
                .await,
        )
        .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        if body["status"] == wanted {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "notice still {} after 30 s: {body}",
            body["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Spec 1.2 item 3: templates are versioned and managed by administrators; any client reads them.
async fn sms_templates_are_managed_by_administrators_only(t: TestStore) {
    let api = start(&t, |_| {}).await;
    let before = event_count(&api.service.state.store).await;
    let (status, body) = json_of(
        api.auth
            .post_json(
                "/api/v1/notification/sms-templates",
                &template("1", CONTENT_V1, true),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], 40300);
    assert_eq!(
        event_count(&api.service.state.store).await,
        before,
        "a refusal writes nothing"
    );

    publish(&api).await;
    let (status, current) = json_of(
        api.auth
            .get(&format!("/api/v1/notification/sms-templates/{CODE}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{current}");
    assert_eq!(current["version"], "1");
    assert_eq!(current["active"], true);
    assert_eq!(current["content"], CONTENT_V1);
    assert_eq!(current["variables"][0]["key"], "amount");
    assert_eq!(current["variables"][1]["maxLength"], 8);
    assert_eq!(current["createdBy"], "admin");

    // A new version published inactive does not replace the current one until activated.
    let (status, v2) = json_of(
        api.admin
            .post_json(
                "/api/v1/notification/sms-templates",
                &template("2", CONTENT_V2, false),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v2}");
    assert_eq!(v2["active"], false);
    let path = |version: &str, action: &str| {
        format!("/api/v1/notification/sms-templates/{CODE}/versions/{version}/{action}")
    };
    let refused = api
        .auth
        .request(Method::POST, &path("2", "activate"))
        .send()
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (status, activated) = json_of(
        api.admin
            .request(Method::POST, &path("2", "activate"))
            .send()
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{activated}");
    assert_eq!(activated["active"], true);
    let (_, current) = json_of(
        api.other
            .get(&format!("/api/v1/notification/sms-templates/{CODE}"))
            .await,
    )
    .await;
    assert_eq!(current["version"], "2");

    // Deactivating the current version rolls back to the previous active one.
    let (status, _) = json_of(
        api.admin
            .request(Method::POST, &path("2", "deactivate"))
            .send()
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, current) = json_of(
        api.auth
            .get(&format!("/api/v1/notification/sms-templates/{CODE}"))
            .await,
    )
    .await;
    assert_eq!(current["version"], "1");
    let (status, v2) = json_of(
        api.auth
            .get(&format!(
                "/api/v1/notification/sms-templates/{CODE}/versions/2"
            ))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v2["active"], false);
    assert_eq!(v2["updatedBy"], "admin");

    // A published version never changes.
    let (status, body) = json_of(
        api.admin
            .post_json(
                "/api/v1/notification/sms-templates",
                &template("1", CONTENT_V2, true),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], 40900);
    // Unknown versions and templates are 404; bad content names the field.
    let missing = api
        .admin
        .request(Method::POST, &path("9", "activate"))
        .send()
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let unknown = api
        .auth
        .get("/api/v1/notification/sms-templates/NO_SUCH_TEMPLATE")
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let (status, body) = json_of(
        api.admin
            .post_json(
                "/api/v1/notification/sms-templates",
                &template("3", "金额{amount}，{unknownKey}", true),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let fields: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|detail| detail["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"content"), "{body}");
    assert!(fields.contains(&"variables[1].key"), "{body}");
}

async fn a_notice_is_sent_with_the_development_sender_and_read_back_by_its_owner_only(
    t: TestStore,
) {
    let api = start(&t, |_| {}).await;
    publish(&api).await;
    let (status, sent) = send(&api, &notice("PAY_001")).await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["status"], "SENT");
    assert_eq!(sent["attempts"], 1);
    assert_eq!(sent["sender"], "development");
    assert!(sent["messageId"].as_str().unwrap().starts_with("dev-"));
    assert_eq!(sent["templateVersion"], "1");
    assert_eq!(sent["mobile"], MOBILE, "the owner sees the number");
    assert!(
        sent.get("variables").is_none(),
        "variable values are never returned"
    );
    let notice_id = sent["noticeId"].as_str().unwrap().to_owned();

    let texts = api
        .service
        .state
        .development_sms
        .as_ref()
        .unwrap()
        .sent_to(MOBILE);
    assert_eq!(texts.len(), 1);
    assert_eq!(
        texts[0].text,
        "您的账户收到一笔0.12元的验证打款，备注码A1B2C3。"
    );
    assert_eq!(texts[0].purpose, "NOTICE");

    let (status, read) = json_of(
        api.auth
            .get(&format!("/api/v1/notification/sms/{notice_id}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, sent);

    let (status, trail) = json_of(
        api.auth
            .get(&format!("/api/v1/notification/sms/{notice_id}/events"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{trail}");
    assert_eq!(trail["chainIntact"], true);
    let types: Vec<&str> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["SmsNoticeRequested", "SmsNoticeSent"]);
    let text = trail.to_string();
    assert!(!text.contains(MOBILE), "the trail masks the number");
    assert!(!text.contains("A1B2C3"), "the trail masks variable values");
    assert_eq!(
        trail["events"][0]["payload"]["mobile"],
        json!({"$pii": "138****8000"})
    );
    assert_eq!(trail["events"][0]["metadata"]["clientId"], "auth");

    // The query table holds the number sealed, never in clear.
    let row = esign::store::query_tables::select_one(
        &api.service.state.store,
        projections::Table::SmsNotice,
        "notice_id = {1}",
        &[&notice_id],
    )
    .await
    .unwrap()
    .unwrap();
    assert!(!row.required_text("mobile").contains(MOBILE));
    assert_eq!(
        row.text("mobile_hash").unwrap(),
        api.service.state.pii.blind_index(MOBILE)
    );

    for path in [
        format!("/api/v1/notification/sms/{notice_id}"),
        format!("/api/v1/notification/sms/{notice_id}/events"),
    ] {
        let (status, body) = json_of(api.other.get(&path).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["code"], 40400);
    }

    let metrics = api.service.state.metrics.encode().unwrap();
    assert!(
        metrics.contains(
            r#"esign_sms_sent_total{sender="development",purpose="NOTICE",outcome="sent"} 1"#
        ),
        "{metrics}"
    );
}

async fn a_repeated_biz_id_answers_40002_with_the_existing_notice(t: TestStore) {
    let api = start(&t, |_| {}).await;
    publish(&api).await;
    let (_, first) = send(&api, &notice("PAY_REPEAT")).await;
    let events = event_count(&api.service.state.store).await;
    let (status, repeat) = send(&api, &notice("PAY_REPEAT")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{repeat}");
    assert_eq!(repeat["code"], 40002);
    assert_eq!(repeat["existing"]["noticeId"], first["noticeId"]);
    assert_eq!(repeat["existing"]["status"], "SENT");
    assert_eq!(
        event_count(&api.service.state.store).await,
        events,
        "a repeat writes nothing"
    );
    let texts = api
        .service
        .state
        .development_sms
        .as_ref()
        .unwrap()
        .sent_to(MOBILE);
    assert_eq!(texts.len(), 1, "a repeat sends nothing");
    // Idempotency is per client: another client's notice with the same bizId is its own.
    let (status, _) = json_of(
        api.other
            .post_json("/api/v1/notification/sms", &notice("PAY_REPEAT"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

async fn bad_notices_name_the_field_and_write_nothing(t: TestStore) {
    let api = start(&t, |_| {}).await;
    publish(&api).await;
    let before = event_count(&api.service.state.store).await;
    let fields = |body: &Value| -> Vec<String> {
        body["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|detail| detail["field"].as_str().unwrap().to_owned())
            .collect()
    };

    let mut missing = notice("PAY_BAD_1");
    missing["variables"] = json!({"amount": "0.12"});
    let (status, body) = send(&api, &missing).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], 40001);
    assert_eq!(fields(&body), vec!["variables.remarkCode"]);

    let mut unknown = notice("PAY_BAD_2");
    unknown["variables"]["bankName"] = json!("工商银行");
    let (status, body) = send(&api, &unknown).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&body), vec!["variables.bankName"]);

    let mut several = notice("PAY_BAD_3");
    several["mobile"] = json!("1380013800");
    several["bizType"] = json!("");
    several["variables"]["remarkCode"] = json!("TOO-LONG-CODE");
    let (status, body) = send(&api, &several).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let named = fields(&body);
    for field in ["bizType", "mobile", "variables.remarkCode"] {
        assert!(named.iter().any(|name| name == field), "{field}: {body}");
    }

    let (status, body) = json_of(
        api.auth
            .post_json(
                "/api/v1/notification/sms",
                &json!({"bizId": "X", "variables": []}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&body), vec!["variables"]);

    // A missing or inactive template is 40003.
    let mut unknown_template = notice("PAY_BAD_4");
    unknown_template["templateCode"] = json!("NO_SUCH_TEMPLATE");
    let (status, body) = send(&api, &unknown_template).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], 40003);
    let mut unknown_version = notice("PAY_BAD_5");
    unknown_version["templateVersion"] = json!("7");
    let (status, body) = send(&api, &unknown_version).await;
    assert_eq!(body["code"], 40003, "{status} {body}");
    let deactivated = api
        .admin
        .request(
            Method::POST,
            &format!("/api/v1/notification/sms-templates/{CODE}/versions/1/deactivate"),
        )
        .send()
        .await;
    assert_eq!(deactivated.status(), StatusCode::OK);
    let after_deactivation = event_count(&api.service.state.store).await;
    let (status, body) = send(&api, &notice("PAY_BAD_6")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], 40003);

    assert_eq!(
        event_count(&api.service.state.store).await,
        after_deactivation,
        "no refused notice wrote anything"
    );
    assert_eq!(after_deactivation, before + 1, "only the deactivation");
    let rows = esign::store::query_tables::select(
        &api.service.state.store,
        projections::Table::SmsNotice,
        "client_id = {1}",
        &["auth"],
        None,
    )
    .await
    .unwrap();
    assert!(rows.is_empty());
    assert!(
        api.service
            .state
            .development_sms
            .as_ref()
            .unwrap()
            .sent_to(MOBILE)
            .is_empty()
    );
}

/// Sending must not lose notices: a first attempt the message centre cannot take is recorded as a
/// retryable failure, and the sweep sends it again once the delay has passed.
async fn a_failed_first_attempt_is_retried_by_the_sweep_until_sent(t: TestStore) {
    let receiver = receiver(vec![status(503), ok("MC-42")]).await;
    let sms = message_centre(&receiver);
    let api = start(&t, move |config| {
        config.sms = esign::providers::sms::SmsConfig {
            notice_retry_base_seconds: 1,
            sweep_interval_ms: 100,
            ..sms
        };
    })
    .await;
    publish(&api).await;
    let (status, first) = send(&api, &notice("PAY_RETRY")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["status"], "FAILED");
    assert_eq!(first["retryable"], true);
    assert_eq!(first["sender"], "message-centre");
    assert!(first["failReason"].as_str().unwrap().contains("503"));
    assert!(first["nextAttemptAt"].is_string());
    let notice_id = first["noticeId"].as_str().unwrap();

    let sent = wait_for_status(&api, notice_id, "SENT").await;
    assert_eq!(sent["attempts"], 2);
    assert_eq!(sent["messageId"], "MC-42");
    assert_eq!(sent["failReason"], Value::Null);
    let received = receiver.received();
    assert_eq!(received.len(), 2, "one retry, no duplicate");
    for request in &received {
        assert_eq!(request.headers["x-api-key"], "mc-token-123");
        assert_eq!(request.body["mobile"], MOBILE);
        assert_eq!(
            request.body["content"],
            "您的账户收到一笔0.12元的验证打款，备注码A1B2C3。"
        );
        assert_eq!(request.body["purpose"], "NOTICE");
    }
    let (_, trail) = json_of(
        api.auth
            .get(&format!("/api/v1/notification/sms/{notice_id}/events"))
            .await,
    )
    .await;
    let types: Vec<&str> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec![
            "SmsNoticeRequested",
            "SmsNoticeFailed",
            "SmsNoticeAttemptStarted",
            "SmsNoticeSent"
        ]
    );
}

/// A refusal by the message centre (a 4xx) is final: retrying the same text would not help.
async fn a_refused_notice_is_not_retried(t: TestStore) {
    let receiver = receiver(vec![status(400), ok("never")]).await;
    let sms = message_centre(&receiver);
    let api = start(&t, move |config| {
        config.sms = esign::providers::sms::SmsConfig {
            notice_retry_base_seconds: 1,
            sweep_interval_ms: 100,
            ..sms
        };
    })
    .await;
    publish(&api).await;
    let (_, first) = send(&api, &notice("PAY_REFUSED")).await;
    assert_eq!(first["status"], "FAILED");
    assert_eq!(first["retryable"], false);
    assert_eq!(first["nextAttemptAt"], Value::Null);
    // Let the sweep look at it at least once, then check it made no attempt.
    let report = esign::app::notices::sweep_once(&api.service.state)
        .await
        .unwrap();
    assert_eq!(report.attempted, 0);
    assert_eq!(receiver.received().len(), 1);
}

/// A crash between the commit of the request and the send leaves the notice REQUESTED; once the
/// attempt's lease is over, a sweep (on any instance) sends it.
async fn a_notice_left_unsent_by_a_crash_is_sent_by_the_sweep(t: TestStore) {
    use aggregates::sms_notice::{
        NoticeId, NoticeRequest, RequestNotice, SmsNoticeAggregate, SmsNoticeCommand,
    };
    use aggregates::values::ClientId;
    let api = start(&t, |config| {
        config.sms.attempt_lease_seconds = 1;
        config.sms.timeout_ms = 500;
        config.sms.sweep_interval_ms = 100;
    })
    .await;
    publish(&api).await;
    let state = &api.service.state;
    let loaded = state
        .pipeline
        .load::<aggregates::sms_template::SmsTemplateAggregate>(&esign::store::StreamId::new(
            "sms_template",
            CODE,
        ))
        .await
        .unwrap();
    let template = loaded.state.template().unwrap();
    let facts = template.facts(template.current_version().unwrap());
    let request: NoticeRequest = serde_json::from_value(notice("PAY_CRASH")).unwrap();
    // The request's transaction, and no send: what a crash right after the commit leaves.
    state
        .pipeline
        .execute::<SmsNoticeAggregate>(
            &esign::app::notices::stream("SMS_NOTICE_CRASH_1"),
            &esign::store::EventMetadata {
                actor: "client:auth".into(),
                client_id: Some("auth".into()),
                ..Default::default()
            },
            |_| {
                SmsNoticeCommand::Request(RequestNotice {
                    notice_id: NoticeId::parse("SMS_NOTICE_CRASH_1").unwrap(),
                    client_id: ClientId::parse("auth").unwrap(),
                    request: request.clone(),
                    template: Some(facts.clone()),
                    now: chrono::Utc::now(),
                })
            },
        )
        .await
        .unwrap();
    let sent = wait_for_status(&api, "SMS_NOTICE_CRASH_1", "SENT").await;
    assert_eq!(sent["attempts"], 2, "the lost attempt counts");
    let texts = state.development_sms.as_ref().unwrap().sent_to(MOBILE);
    assert_eq!(texts.len(), 1);
}

async fn the_query_tables_rebuilt_from_the_log_match_after_notices(t: TestStore) {
    let api = start(&t, |_| {}).await;
    publish(&api).await;
    api.admin
        .post_json(
            "/api/v1/notification/sms-templates",
            &template("2", CONTENT_V2, false),
        )
        .await;
    for n in 0..3 {
        let (status, _) = send(&api, &notice(&format!("PAY_RB_{n}"))).await;
        assert_eq!(status, StatusCode::OK);
    }
    let report = esign::read::rebuild::check(&api.service.state.store, &api.service.state.pii)
        .await
        .unwrap();
    assert!(report.matches(), "{report:?}");
    assert_eq!(report.streams, 4);
    let notices = report
        .tables
        .iter()
        .find(|table| table.table == "sms_notice")
        .unwrap();
    assert_eq!(notices.rebuilt_rows, 3);
    let templates = report
        .tables
        .iter()
        .find(|table| table.table == "sms_template")
        .unwrap();
    assert_eq!(templates.rebuilt_rows, 2);
}
