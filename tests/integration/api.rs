//! The signed REST API, black box: the real router on a random port, a real signing client, both
//! backends. Each test says which promise of spec section 2.1 / 6 it checks.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, CALLER, OTHER, TestStore, event_count, json_of};
use crate::signing_client::SigningClient;

crate::backend_tests!(
    a_nul_character_in_a_path_or_query_is_a_400_not_a_database_error,
    templates_are_published_by_administrators_and_read_back_by_version,
    a_contract_is_initiated_read_revoked_and_audited,
    a_repeated_biz_id_answers_40002_with_the_existing_contract,
    another_client_gets_404_for_a_contract_or_verification_it_does_not_own,
    bad_input_names_every_field_and_writes_nothing,
    a_missing_template_answers_40003,
    a_face_verification_is_initiated_and_read_with_the_id_number_in_clear_for_its_owner,
    a_sign_link_can_be_reissued_and_verification_by_contract_id_reports_the_state,
    the_query_tables_rebuilt_from_the_log_match_after_api_traffic,
    forged_replayed_and_stale_requests_to_the_real_api_are_refused_and_write_nothing,
    racing_initiations_with_one_biz_id_create_one_contract,
    a_signed_contract_cannot_be_revoked_and_verifies_as_valid,
);

/// The service on a random port, with three configured clients.
struct Api {
    auth: SigningClient,
    other: SigningClient,
    admin: SigningClient,
    state: esign::http::AppState,
    _service: crate::helpers::RunningService,
}

async fn start(t: &TestStore) -> Api {
    let service = crate::helpers::start_service(t, &[CALLER, OTHER, ADMIN]).await;
    Api {
        auth: service.client(CALLER),
        other: service.client(OTHER),
        admin: service.client(ADMIN),
        state: service.state.clone(),
        _service: service,
    }
}

fn template(template_id: &str, version: &str, content: &str) -> Value {
    json!({
        "templateId": template_id,
        "name": "资金归集授权协议模板",
        "version": version,
        "category": "RELATIONSHIP_AGREEMENT",
        "content": content,
        "variableDefinitions": [
            {"key": "payerName", "name": "付款方名称", "required": true, "sample": "XX科技有限公司"},
            {"key": "receiverName", "name": "收款方名称", "required": true}
        ],
        "signerConfig": {"minSigners": 1, "maxSigners": 2, "defaultSignMethods": ["FACE_AND_SMS"]},
        "active": true
    })
}

const CONTENT: &str = "<h1>资金归集授权协议</h1><p>{{payerName}} 授权 {{receiverName}}</p>";

async fn publish(api: &Api, template_id: &str) {
    let response = api
        .admin
        .post_json("/api/v1/template", &template(template_id, "1.0", CONTENT))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
}

fn contract(biz_id: &str, template_id: &str) -> Value {
    json!({
        "bizId": biz_id,
        "bizType": "RELATIONSHIP_AGREEMENT",
        "templateId": template_id,
        "title": "天财分账资金归集授权协议",
        "variables": {"payerName": "XX品牌总部", "receiverName": "上海浦东店"},
        "signers": esign_tools::fixtures::two_signers(),
        "callbackUrl": "https://auth.example.com/callback/e-sign",
        "webhookConfig": {"headers": {"Authorization": "Bearer callback-token"}},
        "expireDays": 7
    })
}

async fn initiate(api: &Api, biz_id: &str, template_id: &str) -> Value {
    let (status, body) = json_of(
        api.auth
            .post_json("/api/v1/contract/initiate", &contract(biz_id, template_id))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn templates_are_published_by_administrators_and_read_back_by_version(t: TestStore) {
    let api = start(&t).await;
    let (status, body) = json_of(
        api.auth
            .post_json("/api/v1/template", &template("TPL_A", "1.0", CONTENT))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::FORBIDDEN, Some(40300)),
        "only administrators manage templates"
    );

    publish(&api, "TPL_A").await;
    let (status, current) = json_of(api.auth.get("/api/v1/template/TPL_A").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(current["version"], "1.0");
    assert_eq!(current["active"], true);
    assert_eq!(current["variableDefinitions"][0]["key"], "payerName");
    assert_eq!(current["signerConfig"]["maxSigners"], 2);

    // The same version again with the same content is a no-op; with other content, a conflict.
    let before = event_count(&api.state.store).await;
    publish(&api, "TPL_A").await;
    assert_eq!(
        event_count(&api.state.store).await,
        before,
        "republishing identical content writes nothing"
    );
    let (status, body) = json_of(
        api.admin
            .post_json(
                "/api/v1/template",
                &template(
                    "TPL_A",
                    "1.0",
                    "<p>changed {{payerName}} {{receiverName}}</p>",
                ),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::CONFLICT, Some(40900)),
        "{body}"
    );

    let new_version = api
        .admin
        .post_json(
            "/api/v1/template",
            &template("TPL_A", "2.0", "<p>v2 {{payerName}} {{receiverName}}</p>"),
        )
        .await;
    assert_eq!(new_version.status(), StatusCode::OK);
    let (_, current) = json_of(api.auth.get("/api/v1/template/TPL_A").await).await;
    assert_eq!(current["version"], "2.0");
    let (status, old) = json_of(api.auth.get("/api/v1/template/TPL_A/versions/1.0").await).await;
    assert_eq!(
        (status, old["content"].as_str()),
        (StatusCode::OK, Some(CONTENT))
    );
    let (status, body) = json_of(api.auth.get("/api/v1/template/NO_SUCH/versions/1.0").await).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::NOT_FOUND, Some(40400))
    );
}

async fn a_contract_is_initiated_read_revoked_and_audited(t: TestStore) {
    let api = start(&t).await;
    publish(&api, "TPL_C").await;
    let created = initiate(&api, "REL_1", "TPL_C").await;
    assert_eq!(created["status"], "CREATED");
    let contract_id = created["contractId"].as_str().unwrap().to_owned();
    let tasks = created["signTasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(
        tasks[0]["signUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://esign.test/h5/sign?token=")
    );
    assert_ne!(tasks[0]["signUrl"], tasks[1]["signUrl"]);
    assert!(tasks[0]["expiresAt"].is_string());

    // A GET right after the POST sees the write.
    let (status, shown) = json_of(
        api.auth
            .get(&format!("/api/v1/contract/{contract_id}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["status"], "CREATED");
    assert_eq!(shown["bizId"], "REL_1");
    assert_eq!(shown["title"], "天财分账资金归集授权协议");
    assert_eq!(shown["signers"][0]["partyId"], "RECEIVER_001");
    assert_eq!(shown["signers"][0]["signStatus"], "PENDING");
    assert_eq!(shown["signers"][1]["signMethod"], "FACE_AND_SMS");
    assert!(shown["expiresAt"].is_string() && shown["createdAt"].is_string());

    let revoke = json!({"reason": "用户要求取消", "operator": "system_admin"});
    let (status, revoked) = json_of(
        api.auth
            .post_json(&format!("/api/v1/contract/{contract_id}/revoke"), &revoke)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["status"], "REVOKED");
    assert_eq!(revoked["revokeReason"], "用户要求取消");
    let (status, again) = json_of(
        api.auth
            .post_json(&format!("/api/v1/contract/{contract_id}/revoke"), &revoke)
            .await,
    )
    .await;
    assert_eq!(
        (status, again["code"].as_i64()),
        (StatusCode::CONFLICT, Some(40900)),
        "a final contract cannot be revoked"
    );

    let (status, trail) = json_of(
        api.auth
            .get(&format!("/api/v1/contract/{contract_id}/events"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trail["chainIntact"], true);
    let events = trail["events"].as_array().unwrap();
    assert_eq!(events.first().unwrap()["eventType"], "ContractInitiated");
    assert_eq!(events.last().unwrap()["eventType"], "ContractRevoked");
    assert_eq!(events[0]["metadata"]["clientId"], "auth");
    assert!(
        events
            .iter()
            .all(|e| e["chain"] == "ok" && e["hash"].as_str().unwrap().len() == 64)
    );
    let text = trail.to_string();
    assert!(
        !text.contains("11010519491231002X") && !text.contains("13800138000"),
        "the audit trail masks personal data"
    );
    assert!(text.contains("110105********002X"));
    assert!(
        !text.contains("张三") && text.contains("\"张*\""),
        "the audit trail masks names: {text}"
    );
}

async fn a_repeated_biz_id_answers_40002_with_the_existing_contract(t: TestStore) {
    let api = start(&t).await;
    publish(&api, "TPL_D").await;
    let first = initiate(&api, "REL_DUP", "TPL_D").await;
    let before = event_count(&api.state.store).await;
    let (status, body) = json_of(
        api.auth
            .post_json("/api/v1/contract/initiate", &contract("REL_DUP", "TPL_D"))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::CONFLICT, Some(40002)),
        "{body}"
    );
    assert_eq!(body["existing"]["contractId"], first["contractId"]);
    assert_eq!(
        event_count(&api.state.store).await,
        before,
        "a repeat writes nothing"
    );
    // Idempotency is per client: another client may use the same bizId.
    let other = api
        .other
        .post_json("/api/v1/contract/initiate", &contract("REL_DUP", "TPL_D"))
        .await;
    assert_eq!(other.status(), StatusCode::OK);
}

async fn another_client_gets_404_for_a_contract_or_verification_it_does_not_own(t: TestStore) {
    let api = start(&t).await;
    publish(&api, "TPL_E").await;
    let contract_id = initiate(&api, "REL_OWN", "TPL_E").await["contractId"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        format!("/api/v1/contract/{contract_id}"),
        format!("/api/v1/contract/{contract_id}/events"),
    ] {
        let (status, body) = json_of(api.other.get(&path).await).await;
        assert_eq!(
            (status, body["code"].as_i64()),
            (StatusCode::NOT_FOUND, Some(40400)),
            "{path}"
        );
    }
    let revoke = json!({"reason": "x", "operator": "y"});
    let response = api
        .other
        .post_json(&format!("/api/v1/contract/{contract_id}/revoke"), &revoke)
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let (_, shown) = json_of(
        api.auth
            .get(&format!("/api/v1/contract/{contract_id}"))
            .await,
    )
    .await;
    assert_eq!(
        shown["status"], "CREATED",
        "the other client's revoke changed nothing"
    );

    let (_, face) = json_of(
        api.auth
            .post_json(
                "/api/v1/verification/face/initiate",
                &face_request("AUTH_OWN"),
            )
            .await,
    )
    .await;
    let id = face["verificationId"].as_str().unwrap();
    let response = api
        .other
        .get(&format!("/api/v1/verification/face/{id}"))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn bad_input_names_every_field_and_writes_nothing(t: TestStore) {
    let api = start(&t).await;
    publish(&api, "TPL_F").await;
    let before = event_count(&api.state.store).await;

    let mut bad = contract("REL_BAD", "TPL_F");
    bad["signers"][0]["idCardNo"] = json!("110105194912310021");
    bad["signers"][1]["mobile"] = json!("12345");
    bad["variables"] = json!({"receiverName": "上海浦东店"});
    let (status, body) = json_of(api.auth.post_json("/api/v1/contract/initiate", &bad).await).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(40001)),
        "{body}"
    );
    let fields: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    for field in [
        "signers[0].idCardNo",
        "signers[1].mobile",
        "variables.payerName",
    ] {
        assert!(fields.contains(&field), "{field} is named: {fields:?}");
    }

    let mut wrong_type = contract("REL_TYPE", "TPL_F");
    wrong_type["signers"][0]["sequence"] = json!("1");
    let (status, body) = json_of(
        api.auth
            .post_json("/api/v1/contract/initiate", &wrong_type)
            .await,
    )
    .await;
    assert_eq!(
        (status, body["details"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("signers[0].sequence")),
        "{body}"
    );

    let malformed = api
        .auth
        .request(reqwest::Method::POST, "/api/v1/contract/initiate")
        .header("content-type", "application/json")
        .body(b"{\"bizId\": ".to_vec())
        .send()
        .await;
    let (status, body) = json_of(malformed).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(40001))
    );

    let text = api
        .auth
        .request(reqwest::Method::POST, "/api/v1/contract/initiate")
        .header("content-type", "text/plain")
        .body(contract("REL_TEXT", "TPL_F").to_string().into_bytes())
        .send()
        .await;
    let (status, body) = json_of(text).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some(41500))
    );

    let (status, body) = json_of(
        api.auth
            .post_json("/api/v1/contract/verify", &json!({"method": "NONSENSE"}))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["details"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("method"))
    );

    assert_eq!(
        event_count(&api.state.store).await,
        before,
        "nothing was written by any rejected request"
    );
}

/// PostgreSQL stores no NUL in text: a `%00` in a path segment or a query value must be refused at
/// the edge on either backend, never reach a query and come back as a 500.
async fn a_nul_character_in_a_path_or_query_is_a_400_not_a_database_error(t: TestStore) {
    let api = start(&t).await;
    for path in [
        "/api/v1/template/TPL%00X",
        "/api/v1/contract/CONTRACT_%00",
        "/api/v1/contract/CONTRACT_%00/events",
        "/api/v1/admin/callbacks?status=%00",
    ] {
        let (status, body) = json_of(api.auth.get(path).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["code"], 40001, "{path}: {body}");
    }
}

async fn a_missing_template_answers_40003(t: TestStore) {
    let api = start(&t).await;
    let (status, body) = json_of(
        api.auth
            .post_json(
                "/api/v1/contract/initiate",
                &contract("REL_NT", "NO_TEMPLATE"),
            )
            .await,
    )
    .await;
    assert_eq!(body["code"].as_i64(), Some(40003), "{status} {body}");
}

fn face_request(biz_id: &str) -> Value {
    json!({
        "bizId": biz_id,
        "bizType": "RELATIONSHIP_BINDING",
        "userInfo": {"name": "张三", "idCardNo": "11010519491231002X", "mobile": "13800138000"},
        "callbackUrl": "https://auth.example.com/callback/face-verification",
        "expireMinutes": 30,
        "uiConfig": {"title": "天财分账身份验证", "themeColor": "#1890ff"}
    })
}

async fn a_face_verification_is_initiated_and_read_with_the_id_number_in_clear_for_its_owner(
    t: TestStore,
) {
    let api = start(&t).await;
    let (status, created) = json_of(
        api.auth
            .post_json(
                "/api/v1/verification/face/initiate",
                &face_request("AUTH_FLOW_001"),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    // The development sandbox provider took the task at once; the person has not started.
    assert_eq!(created["status"], "PENDING");
    assert!(
        created["verificationUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://esign.test/h5/face-verify?token=")
    );
    let id = created["verificationId"].as_str().unwrap();

    let (status, shown) = json_of(
        api.auth
            .get(&format!("/api/v1/verification/face/{id}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["bizId"], "AUTH_FLOW_001");
    assert_eq!(shown["status"], "PENDING");
    assert_eq!(shown["userInfo"]["name"], "张三");
    assert_eq!(shown["userInfo"]["idCardNo"], "11010519491231002X");

    let (status, body) = json_of(
        api.auth
            .post_json(
                "/api/v1/verification/face/initiate",
                &face_request("AUTH_FLOW_001"),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::CONFLICT, Some(40002))
    );
    assert_eq!(body["existing"]["verificationId"], id);

    let (status, trail) = json_of(
        api.auth
            .get(&format!("/api/v1/verification/face/{id}/events"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trail["events"][0]["eventType"], "FaceVerificationInitiated");
    assert!(!trail.to_string().contains("11010519491231002X"));

    let mut bad = face_request("AUTH_FLOW_002");
    bad["userInfo"]["idCardNo"] = json!("11010519491231002Y");
    let (status, body) = json_of(
        api.auth
            .post_json("/api/v1/verification/face/initiate", &bad)
            .await,
    )
    .await;
    assert_eq!(
        (status, body["details"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("userInfo.idCardNo")),
        "{body}"
    );
}

async fn a_sign_link_can_be_reissued_and_verification_by_contract_id_reports_the_state(
    t: TestStore,
) {
    let api = start(&t).await;
    publish(&api, "TPL_G").await;
    let created = initiate(&api, "REL_LINK", "TPL_G").await;
    let contract_id = created["contractId"].as_str().unwrap();
    let (status, link) = json_of(
        api.auth
            .post_json(
                &format!("/api/v1/contract/{contract_id}/signers/RECEIVER_001/sign-url"),
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    assert_eq!(link["partyId"], "RECEIVER_001");
    assert_ne!(
        link["signUrl"], created["signTasks"][0]["signUrl"],
        "a new token"
    );
    let response = api
        .auth
        .post_json(
            &format!("/api/v1/contract/{contract_id}/signers/NOBODY/sign-url"),
            &json!({}),
        )
        .await;
    assert!(response.status().is_client_error());

    let (status, verdict) = json_of(
        api.auth
            .post_json(
                "/api/v1/contract/verify",
                &json!({"method": "CONTRACT_ID", "contractId": contract_id}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        verdict["valid"], false,
        "an unsigned contract is not a valid signed document"
    );
    assert_eq!(verdict["chainIntact"], true);
    let (status, body) = json_of(
        api.auth
            .post_json(
                "/api/v1/contract/verify",
                &json!({"method": "FILE_HASH", "fileHash": "sha256:00"}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, body["details"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("fileHash"))
    );
}

async fn the_query_tables_rebuilt_from_the_log_match_after_api_traffic(t: TestStore) {
    let api = start(&t).await;
    publish(&api, "TPL_H").await;
    for n in 0..3 {
        let created = initiate(&api, &format!("REL_RB_{n}"), "TPL_H").await;
        if n == 0 {
            let id = created["contractId"].as_str().unwrap();
            let revoke = json!({"reason": "重复", "operator": "ops"});
            api.auth
                .post_json(&format!("/api/v1/contract/{id}/revoke"), &revoke)
                .await;
        }
    }
    api.auth
        .post_json(
            "/api/v1/verification/face/initiate",
            &face_request("AUTH_RB"),
        )
        .await;
    let report = esign::read::rebuild::check(&api.state.store, &api.state.pii)
        .await
        .unwrap();
    assert!(report.matches(), "{report:?}");
    assert_eq!(report.streams, 5);
}

/// Spec 6 / issue 4: while the database cannot be reached, requests fail fast with 503 and a retry
/// hint, and the pool recovers by itself once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unavailable_answers_503_with_retry_after_and_recovers() {
    let Some(t) = TestStore::new(crate::helpers::Backend::Postgres).await else {
        return;
    };
    let api = start(&t).await;
    publish(&api, "TPL_503").await;
    let database = t.url.rsplit('/').next().unwrap().to_owned();
    let admin = crate::helpers::connect(crate::helpers::DEFAULT_ADMIN_URL)
        .await
        .unwrap();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {database} ALLOW_CONNECTIONS false"
        ))
        .await
        .unwrap();
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        ))
        .await
        .unwrap();

    let started = std::time::Instant::now();
    let response = api.auth.get("/api/v1/template/TPL_503").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "fails fast"
    );
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    let (_, body) = json_of(response).await;
    assert_eq!(body["code"], 50300);

    admin
        .batch_execute(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    // A pooled connection the server closed may be found dead on its next use; within a few
    // requests the pool has replaced it, without a restart.
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..20 {
        status = api.auth.get("/api/v1/template/TPL_503").await.status();
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "only 503 while recovering"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        StatusCode::OK,
        "the pool reconnects without a restart"
    );
}

async fn forged_replayed_and_stale_requests_to_the_real_api_are_refused_and_write_nothing(
    t: TestStore,
) {
    use reqwest::Method;
    let api = start(&t).await;
    publish(&api, "TPL_SIG").await;
    let before = event_count(&api.state.store).await;
    let body = contract("REL_SIG", "TPL_SIG");
    let path = "/api/v1/contract/initiate";

    let unsigned = esign::providers::outbound::client(std::time::Duration::from_secs(30))
        .unwrap()
        .post(format!("{}{path}", api.auth.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    crate::signing_client::assert_signature_rejected(unsigned).await;
    let stale = api
        .auth
        .request(Method::POST, path)
        .json(&body)
        .timestamp_offset(-301)
        .send()
        .await;
    crate::signing_client::assert_signature_rejected(stale).await;
    let mut tampered = body.clone();
    tampered["title"] = json!("篡改的标题");
    let forged = api
        .auth
        .request(Method::POST, path)
        .json(&tampered)
        .signed_body(body.to_string().into_bytes())
        .send()
        .await;
    crate::signing_client::assert_signature_rejected(forged).await;
    let wrong_secret = api
        .auth
        .request(Method::POST, path)
        .json(&body)
        .secret(OTHER.secret)
        .send()
        .await;
    crate::signing_client::assert_signature_rejected(wrong_secret).await;
    assert_eq!(
        event_count(&api.state.store).await,
        before,
        "no refused request wrote anything"
    );

    let nonce = "replayed-nonce-0123456789";
    let first = api
        .auth
        .request(Method::GET, "/api/v1/template/TPL_SIG")
        .nonce(nonce)
        .send()
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let replay = api
        .auth
        .request(Method::GET, "/api/v1/template/TPL_SIG")
        .nonce(nonce)
        .send()
        .await;
    crate::signing_client::assert_signature_rejected(replay).await;
}

async fn racing_initiations_with_one_biz_id_create_one_contract(t: TestStore) {
    let api = std::sync::Arc::new(start(&t).await);
    publish(&api, "TPL_RACE").await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let api = std::sync::Arc::clone(&api);
        tasks.push(tokio::spawn(async move {
            json_of(
                api.auth
                    .post_json(
                        "/api/v1/contract/initiate",
                        &contract("REL_RACE", "TPL_RACE"),
                    )
                    .await,
            )
            .await
        }));
    }
    let mut created = Vec::new();
    let mut existing = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::OK => created.push(body["contractId"].clone()),
            StatusCode::CONFLICT => {
                assert_eq!(body["code"], 40002, "{body}");
                existing.push(body["existing"]["contractId"].clone());
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created.len(), 1, "exactly one initiation wins");
    assert!(
        existing.iter().all(|id| *id == created[0]),
        "every loser points at the winner"
    );
}

async fn a_signed_contract_cannot_be_revoked_and_verifies_as_valid(t: TestStore) {
    let api = start(&t).await;
    publish(&api, "TPL_SIGNED").await;
    let contract_id = initiate(&api, "REL_SIGNED", "TPL_SIGNED").await["contractId"]
        .as_str()
        .unwrap()
        .to_owned();
    crate::journey::sign_as(&api.state, &contract_id, "RECEIVER_001").await;
    let (_, partial) = json_of(
        api.auth
            .get(&format!("/api/v1/contract/{contract_id}"))
            .await,
    )
    .await;
    assert_eq!(partial["status"], "PARTIAL_SIGNED");
    crate::journey::sign_as(&api.state, &contract_id, "PAYER_001").await;

    let (_, signed) = json_of(
        api.auth
            .get(&format!("/api/v1/contract/{contract_id}"))
            .await,
    )
    .await;
    assert_eq!(signed["status"], "SIGNED", "{signed}");
    assert_eq!(signed["signers"][0]["signStatus"], "SIGNED");
    assert!(
        signed["signers"][0]["transactionNo"]
            .as_str()
            .unwrap()
            .starts_with("SIGN_TXN_"),
        "{signed}"
    );
    assert_eq!(signed["signers"][1]["deviceInfo"], "iPhone; iOS 16.0");
    assert!(signed["signedAt"].is_string());

    let revoke = json!({"reason": "太晚了", "operator": "ops"});
    let (status, body) = json_of(
        api.auth
            .post_json(&format!("/api/v1/contract/{contract_id}/revoke"), &revoke)
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::CONFLICT, Some(40900)),
        "{body}"
    );

    crate::sealing::seal_now(&api.state, &contract_id).await;
    let (status, verdict) = json_of(
        api.auth
            .post_json(
                "/api/v1/contract/verify",
                &json!({"method": "CONTRACT_ID", "contractId": contract_id}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verdict["valid"], true, "{verdict}");
    // The two signers' signatures, the platform seal and the document timestamp.
    assert_eq!(verdict["signatureInfo"].as_array().map(Vec::len), Some(4));

    let (status, body) = json_of(
        api.auth
            .post_json(
                &format!("/api/v1/contract/{contract_id}/signers/RECEIVER_001/sign-url"),
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::CONFLICT, Some(40900)),
        "no new link once the contract is signed: {body}"
    );
}
