//! What an outside probe of the release binary asked for, proved over real HTTP on both backends:
//! hostile request ids are not kept, a repeated query parameter is refused rather than read two
//! ways, objects sent as arrays are refused naming the field, production keeps `/metrics` and the
//! API documents to itself, `/tsa` is rate-limited per address, and an administrator can force a
//! stuck contract's end, visibly, where the signed-document rules allow it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, CALLER, RunningService, TestStore, event_count, json_of, start_service_with,
};
use crate::journey::{initiate_contract, publish_template};
use crate::signing_client::SigningClient;

crate::backend_tests!(
    a_hostile_request_id_is_replaced_before_it_reaches_the_log_or_the_answer,
    a_repeated_query_parameter_is_refused_before_anything_runs,
    objects_sent_as_arrays_are_refused_naming_the_field_and_write_nothing,
    production_serves_metrics_and_api_documents_only_where_configured,
    the_timestamp_service_limits_requests_per_address,
    an_administrator_forces_a_stuck_contract_to_end_and_the_trail_says_so,
);

const CALLBACK: &str = "https://auth.example.com/callback/e-sign";

struct Fixture {
    caller: SigningClient,
    admin: SigningClient,
    service: RunningService,
}

async fn start(t: &TestStore, configure: impl FnOnce(&mut esign::app::config::Config)) -> Fixture {
    let service = start_service_with(t, &[CALLER, ADMIN], |config| {
        config.callbacks.enabled = false;
        configure(config);
    })
    .await;
    let admin = service.client(ADMIN);
    publish_template(&admin, "TPL_HARDENING").await;
    Fixture {
        caller: service.client(CALLER),
        admin,
        service,
    }
}

async fn contract(fixture: &Fixture, biz_id: &str) -> String {
    initiate_contract(&fixture.caller, "TPL_HARDENING", biz_id, CALLBACK, 7).await
}

async fn contract_events(fixture: &Fixture, contract_id: &str) -> Vec<esign::store::RecordedEvent> {
    use esign::store::EventStore;
    fixture
        .service
        .state
        .store
        .read_stream(&esign::store::StreamId::new("contract", contract_id), 0)
        .await
        .unwrap()
}

async fn a_hostile_request_id_is_replaced_before_it_reaches_the_log_or_the_answer(t: TestStore) {
    let fixture = start(&t, |_| {}).await;
    let contract_id = contract(&fixture, "HARD_REQUEST_ID").await;
    let revoke = json!({"reason": "用户要求取消", "operator": "ops"});
    let hostile = format!("<script>{}</script>", "x".repeat(20_000));
    for (sent, kept) in [
        (hostile.as_str(), false),
        ("a b", false),
        ("ok-id_1.2", true),
    ] {
        let response = fixture
            .caller
            .request(Method::GET, &format!("/api/v1/contract/{contract_id}"))
            .header("x-request-id", sent)
            .send()
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let answered = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        if kept {
            assert_eq!(answered, sent);
        } else {
            assert_ne!(answered, sent);
            assert!(
                uuid::Uuid::parse_str(&answered).is_ok(),
                "a fresh id: {answered}"
            );
        }
    }
    let response = fixture
        .caller
        .request(
            Method::POST,
            &format!("/api/v1/contract/{contract_id}/revoke"),
        )
        .json(&revoke)
        .header("x-request-id", &hostile)
        .send()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let events = contract_events(&fixture, &contract_id).await;
    let revoked = events.last().unwrap();
    assert_eq!(revoked.event_type, "ContractRevoked");
    let correlation = revoked.metadata.correlation_id.clone().unwrap_or_default();
    assert!(
        correlation.len() <= 64 && !correlation.contains('<'),
        "the stored id: {correlation:.80}"
    );
}

async fn a_repeated_query_parameter_is_refused_before_anything_runs(t: TestStore) {
    let fixture = start(&t, |_| {}).await;
    for path in [
        "/api/v1/admin/callbacks?status=PENDING&status=DELIVERED",
        "/api/v1/admin/callbacks?status=DELIVERED&limit=5&status=PENDING",
        "/api/v1/admin/callbacks?%73tatus=PENDING&status=DEAD",
    ] {
        let (status, body) = json_of(fixture.admin.get(path).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["code"], 40001);
        assert_eq!(body["details"][0]["field"], "query.status", "{body}");
    }
    let (status, _) = json_of(
        fixture
            .admin
            .get("/api/v1/admin/callbacks?status=PENDING&limit=5")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "distinct parameters pass");
}

async fn objects_sent_as_arrays_are_refused_naming_the_field_and_write_nothing(t: TestStore) {
    let fixture = start(&t, |_| {}).await;
    let before = event_count(&fixture.service.state.store).await;
    let signer = esign_tools::fixtures::two_signers()[0].clone();
    let positional: Vec<Value> = signer.as_object().unwrap().values().cloned().collect();
    let mut request = json!({
        "bizId": "HARD_ARRAYS",
        "bizType": "RELATIONSHIP_AGREEMENT",
        "templateId": "TPL_HARDENING",
        "title": "天财分账资金归集授权协议",
        "variables": {"payerName": "XX品牌总部"},
        "signers": [positional],
        "callbackUrl": CALLBACK,
        "expireDays": 7
    });
    let (status, body) = json_of(
        fixture
            .caller
            .post_json("/api/v1/contract/initiate", &request)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], 40001);
    assert_eq!(body["details"][0]["field"], "signers[0]", "{body}");
    request["signers"] = json!([signer]);
    request["archiveConfig"] = json!([true, "TSA"]);
    let (status, body) = json_of(
        fixture
            .caller
            .post_json("/api/v1/contract/initiate", &request)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"][0]["field"], "archiveConfig", "{body}");
    let (status, body) = json_of(
        fixture
            .caller
            .post_json(
                "/api/v1/verification/face/initiate",
                &json!({
                    "bizId": "HARD_ARRAYS",
                    "bizType": "RELATIONSHIP_BINDING",
                    "userInfo": ["张三", "11010519491231002X"],
                    "callbackUrl": CALLBACK
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"][0]["field"], "userInfo", "{body}");
    assert_eq!(
        event_count(&fixture.service.state.store).await,
        before,
        "nothing was written"
    );
}

async fn production_serves_metrics_and_api_documents_only_where_configured(t: TestStore) {
    let http = reqwest::Client::new();
    let status_of = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap().status() }
    };

    // Development: everything open, as before.
    let development = start(&t, |_| {}).await;
    for path in ["/metrics", "/openapi.json", "/docs"] {
        assert_eq!(
            status_of(format!("{}{path}", development.service.base)).await,
            StatusCode::OK,
            "{path}"
        );
    }

    // Production, nothing configured: none of them exists for the public.
    let hidden = start(&t, crate::helpers::production).await;
    for path in ["/metrics", "/openapi.json", "/docs"] {
        assert_eq!(
            status_of(format!("{}{path}", hidden.service.base)).await,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }

    // Production with a token: only its bearer reads the metrics; documents opened on purpose.
    const TOKEN: &str = "metrics-token-0123456789abcdef";
    let guarded = start(&t, |config| {
        crate::helpers::production(config);
        config.metrics.bearer_token = Some(TOKEN.to_owned());
        config.server.api_docs = Some(true);
    })
    .await;
    let metrics = format!("{}/metrics", guarded.service.base);
    assert_eq!(status_of(metrics.clone()).await, StatusCode::UNAUTHORIZED);
    let wrong = http
        .get(&metrics)
        .bearer_auth("metrics-token-0123456789abcdeX")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = http.get(&metrics).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    assert!(
        right
            .text()
            .await
            .unwrap()
            .contains("esign_http_requests_total")
    );
    assert_eq!(
        status_of(format!("{}/openapi.json", guarded.service.base)).await,
        StatusCode::OK
    );

    // Production with a listener of its own: metrics there, not on the public port.
    let separate = start(&t, |config| {
        crate::helpers::production(config);
        config.metrics.bind = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let own = separate
        .service
        .metrics_base
        .clone()
        .expect("a metrics listener");
    assert_eq!(
        status_of(format!("{}/metrics", separate.service.base)).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(status_of(format!("{own}/metrics")).await, StatusCode::OK);
    assert_eq!(
        status_of(format!("{own}/api/v1/contract/X")).await,
        StatusCode::NOT_FOUND,
        "the metrics listener serves nothing else"
    );
}

async fn the_timestamp_service_limits_requests_per_address(t: TestStore) {
    let fixture = start(&t, |config| {
        config.trust.tsa_requests_per_minute_per_ip = 3;
    })
    .await;
    let http = reqwest::Client::new();
    // A TimeStampReq for a SHA-256 digest: version 1 and the message imprint.
    let digest = [7u8; 32];
    let mut query = hex::decode("30360201013031300d060960864801650304020105000420").unwrap();
    query.extend_from_slice(&digest);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = http
            .post(format!("{}/tsa", fixture.service.base))
            .header("content-type", "application/timestamp-query")
            .body(query.clone())
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(response.headers()["retry-after"], "60");
            assert_eq!(
                response.headers()["content-type"],
                "application/timestamp-reply"
            );
        }
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

async fn an_administrator_forces_a_stuck_contract_to_end_and_the_trail_says_so(t: TestStore) {
    let fixture = start(&t, |_| {}).await;
    let contract_id = contract(&fixture, "HARD_FORCE").await;
    let path = format!("/api/v1/admin/contracts/{contract_id}/force");
    let body = json!({"status": "EXPIRED", "reason": "签署方已注销，流程无法继续", "operator": "ops_zhang"});

    // The owner is not an administrator.
    let (status, refused) = json_of(fixture.caller.post_json(&path, &body).await).await;
    assert_eq!(
        (status, refused["code"].as_i64()),
        (StatusCode::FORBIDDEN, Some(40300))
    );
    // Reason, operator and a known status are required; nothing is written without them.
    let before = contract_events(&fixture, &contract_id).await.len();
    for (incomplete, field) in [
        (
            json!({"status": "EXPIRED", "operator": "ops_zhang"}),
            "reason",
        ),
        (json!({"status": "EXPIRED", "reason": "原因"}), "operator"),
        (
            json!({"status": "SIGNED", "reason": "原因", "operator": "ops_zhang"}),
            "status",
        ),
    ] {
        let (status, answer) = json_of(fixture.admin.post_json(&path, &incomplete).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["details"][0]["field"], field, "{answer}");
    }
    assert_eq!(contract_events(&fixture, &contract_id).await.len(), before);

    let (status, forced) = json_of(fixture.admin.post_json(&path, &body).await).await;
    assert_eq!(status, StatusCode::OK, "{forced}");
    assert_eq!(forced["status"], "EXPIRED");
    let (_, shown) = json_of(
        fixture
            .caller
            .get(&format!("/api/v1/contract/{contract_id}"))
            .await,
    )
    .await;
    assert_eq!(shown["status"], "EXPIRED", "the owner sees it");
    let (status, trail) = json_of(
        fixture
            .caller
            .get(&format!("/api/v1/contract/{contract_id}/events"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let last = trail["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["eventType"], "ContractForced", "{last}");
    assert_eq!(last["payload"]["status"], "EXPIRED", "{last}");
    assert_eq!(last["payload"]["reason"], "签署方已注销，流程无法继续");
    assert_eq!(last["payload"]["operator"], "ops_zhang");
    assert_eq!(last["payload"]["admin"], ADMIN.id);

    // A final contract stays as it is.
    let (status, again) = json_of(
        fixture
            .admin
            .post_json(
                &path,
                &json!({"status": "REVOKED", "reason": "再次", "operator": "ops_zhang"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (status, _) = json_of(
        fixture
            .admin
            .post_json(
                "/api/v1/admin/contracts/CONTRACT_20000101NOSUCHCONTRACT0/force",
                &body,
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
