//! The authorisation matrix (spec 4.3 item 1, spec 6 code 40101): every operation under `/api/v1` that
//! `docs/openapi.json` lists, attacked on the real service on both backends. The list of operations is
//! read from the document, so a new route without an attack case here fails the test.
//!
//! `request_signing.rs` proves the signature check itself against a stand-in handler (every way a
//! signature can be broken); this file proves that each real route sits behind it, that a refused
//! request writes nothing, and that a valid client cannot reach another client's resources.

use std::collections::BTreeMap;
use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    RunningService, TestClient, TestStore, event_count, json_of, start_service_with,
};
use crate::signing_client::{SigningClient, assert_signature_rejected, random_nonce, unix_now};

crate::backend_tests!(
    every_api_operation_refuses_unsigned_forged_stale_and_replayed_requests_and_writes_nothing,
    another_client_gets_404_for_every_resource_it_does_not_own_and_writes_nothing,
);

const OWNER: TestClient = TestClient::admin("owner", "owner-secret-0123456789abcdef");
const INTRUDER: TestClient = TestClient::caller("intruder", "intruder-secret-0123456789abcdef");
const INTRUDER_ADMIN: TestClient =
    TestClient::admin("intruder_admin", "intruder-admin-secret-0123456789");
const SMS_TEMPLATE: &str = "PAYMENT_VERIFY_NOTICE";
const MOBILE: &str = "13800138000";

/// One operation of the document: method, path template, operation id.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: Method,
    pub path: String,
    pub id: String,
}

/// Every operation under `/api/v1` in the committed OpenAPI document (which `openapi.rs` keeps equal
/// to the router).
pub fn api_operations() -> Vec<Operation> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    let document: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                _ => continue,
            };
            operations.push(Operation {
                method,
                path: path.clone(),
                id: operation["operationId"].as_str().unwrap().to_owned(),
            });
        }
    }
    operations
}

/// The resources the owner holds, which the attacks name.
struct Fixture {
    service: RunningService,
    owner: SigningClient,
    intruder: SigningClient,
    intruder_admin: SigningClient,
    contract_id: String,
    verification_id: String,
    notice_id: String,
    callback_id: String,
    callback_url: String,
    /// Makes every business id fresh, so a request that got through would really write.
    serial: std::sync::atomic::AtomicUsize,
}

impl Fixture {
    fn fresh(&self, prefix: &str) -> String {
        let n = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        format!("{prefix}_{n}")
    }

    /// The concrete path of `operation` naming the owner's resources.
    fn path(&self, operation: &Operation) -> String {
        let sms = operation.path.contains("/sms-templates/");
        let mut path = operation.path.clone();
        for (name, value) in [
            ("{verificationId}", self.verification_id.as_str()),
            ("{contractId}", self.contract_id.as_str()),
            ("{partyId}", "RECEIVER_001"),
            ("{templateId}", "TPL_AUTHZ"),
            ("{templateCode}", SMS_TEMPLATE),
            ("{version}", if sms { "1" } else { "1.0" }),
            ("{noticeId}", self.notice_id.as_str()),
            ("{id}", self.callback_id.as_str()),
            ("{creditCode}", "91350100M000100Y43"),
            ("{sealId}", "SEAL_AUTHZ_000000000001"),
        ] {
            path = path.replace(name, value);
        }
        assert!(
            !path.contains('{'),
            "{}: a path parameter without a value here: {path}",
            operation.id
        );
        path
    }

    /// A body that would be carried out if the request were let in; `None` for body-less routes. An
    /// operation without a case here fails the test: add one when you add a route.
    fn body(&self, operation: &Operation) -> Option<Value> {
        match operation.id.as_str() {
            "initiateFaceVerification" => {
                Some(face_request(&self.fresh("AUTHZ_FACE"), &self.callback_url))
            }
            "initiateContract" => Some(contract_request(
                &self.fresh("AUTHZ_CONTRACT"),
                &self.callback_url,
            )),
            "revokeContract" => Some(json!({"reason": "越权撤销", "operator": "intruder"})),
            "verifyContract" => {
                Some(json!({"method": "CONTRACT_ID", "contractId": self.contract_id}))
            }
            "reissueSignUrl" | "reissueFaceVerificationUrl" => Some(json!({})),
            "forceContractStatus" => {
                Some(json!({"status": "REVOKED", "reason": "越权强制作废", "operator": "intruder"}))
            }
            "retryContractArchives" => Some(json!({"operator": "intruder"})),
            "registerOrganization" => {
                Some(json!({"name": "越权公司", "creditCode": "91350100M000100Y43"}))
            }
            "createSeal" => Some(
                json!({"kind": "CONTRACT", "name": "合同专用章", "draw": true, "operator": "intruder"}),
            ),
            "addSealVersion" => Some(json!({"draw": true, "operator": "intruder"})),
            "activateSeal" | "deactivateSeal" => {
                Some(json!({"operator": "intruder", "reason": "越权启停印章"}))
            }
            "publishTemplate" => {
                let version = self.fresh("9");
                Some(contract_template(&version.replace('_', ".")))
            }
            "publishSmsTemplate" => Some(sms_template(&self.fresh("2").replace('_', ""))),
            "sendSmsNotice" => Some(sms_notice(&self.fresh("AUTHZ_SMS"))),
            "getFaceVerification"
            | "getFaceVerificationEvents"
            | "getContract"
            | "getContractEvents"
            | "getCurrentTemplate"
            | "getTemplateVersion"
            | "activateTemplateVersion"
            | "deactivateTemplateVersion"
            | "listCallbacks"
            | "getCallback"
            | "redeliverCallback"
            | "getCurrentSmsTemplate"
            | "getSmsTemplateVersion"
            | "activateSmsTemplateVersion"
            | "deactivateSmsTemplateVersion"
            | "getSmsNotice"
            | "getSmsNoticeEvents"
            | "listContractArchives"
            | "getOrganization"
            | "getSeal"
            | "getSealImage"
            | "getSealEvents" => None,
            other => panic!(
                "{other} ({} {}) has no attack case in authorisation.rs: add one",
                operation.method, operation.path
            ),
        }
    }

    fn state(&self) -> &esign::http::AppState {
        &self.service.state
    }
}

fn face_request(biz_id: &str, callback_url: &str) -> Value {
    json!({
        "bizId": biz_id,
        "bizType": "RELATIONSHIP_BINDING",
        "userInfo": {"name": "张三", "idCardNo": "11010519491231002X", "mobile": MOBILE},
        "callbackUrl": callback_url,
        "expireMinutes": 30
    })
}

fn contract_request(biz_id: &str, callback_url: &str) -> Value {
    json!({
        "bizId": biz_id,
        "bizType": "RELATIONSHIP_AGREEMENT",
        "templateId": "TPL_AUTHZ",
        "title": "天财分账资金归集授权协议",
        "variables": {"payerName": "XX品牌总部"},
        "signers": [
            {"partyId": "RECEIVER_001", "partyType": "RECEIVER", "name": "张三",
             "idCardNo": "11010519491231002X", "mobile": MOBILE,
             "signMethod": "FACE_AND_SMS", "notifyType": "SMS", "sequence": 1}
        ],
        "callbackUrl": callback_url,
        "expireDays": 7
    })
}

fn contract_template(version: &str) -> Value {
    json!({
        "templateId": "TPL_AUTHZ",
        "name": "资金归集授权协议模板",
        "version": version,
        "category": "RELATIONSHIP_AGREEMENT",
        "content": format!("<p>{{{{payerName}}}} 授权 {version}</p>"),
        "variableDefinitions": [{"key": "payerName", "name": "付款方名称", "required": true}],
        "signerConfig": {"minSigners": 1, "maxSigners": 2, "defaultSignMethods": ["FACE_AND_SMS"]},
        "active": true
    })
}

fn sms_template(version: &str) -> Value {
    json!({
        "templateCode": SMS_TEMPLATE,
        "name": "打款验证通知",
        "version": version,
        "content": format!("您尾号{{accountTail}}的账户收到一笔验证打款（第{version}版）。"),
        "variables": [{"key": "accountTail", "name": "账户尾号", "maxLength": 4}],
        "active": true
    })
}

fn sms_notice(biz_id: &str) -> Value {
    json!({
        "bizId": biz_id,
        "bizType": "PAYMENT_VERIFICATION",
        "mobile": MOBILE,
        "templateCode": SMS_TEMPLATE,
        "variables": {"accountTail": "6789"}
    })
}

/// The service with an owner (an administrator, so every route would let it in) and two intruders,
/// and one of each resource the routes name, owned by the owner.
async fn fixture(t: &TestStore) -> Fixture {
    let service = start_service_with(t, &[OWNER, INTRUDER, INTRUDER_ADMIN], |_| {}).await;
    let callback_url = receiver().await;
    let owner = service.client(OWNER);
    let ok = |what: &str, (status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::OK, "{what}: {body}");
        body
    };
    ok(
        "template",
        json_of(
            owner
                .post_json("/api/v1/template", &contract_template("1.0"))
                .await,
        )
        .await,
    );
    let contract = ok(
        "contract",
        json_of(
            owner
                .post_json(
                    "/api/v1/contract/initiate",
                    &contract_request("AUTHZ_OWNED", &callback_url),
                )
                .await,
        )
        .await,
    );
    let face = ok(
        "face",
        json_of(
            owner
                .post_json(
                    "/api/v1/verification/face/initiate",
                    &face_request("AUTHZ_OWNED", &callback_url),
                )
                .await,
        )
        .await,
    );
    ok(
        "sms template",
        json_of(
            owner
                .post_json("/api/v1/notification/sms-templates", &sms_template("1"))
                .await,
        )
        .await,
    );
    let notice = ok(
        "sms notice",
        json_of(
            owner
                .post_json("/api/v1/notification/sms", &sms_notice("AUTHZ_OWNED"))
                .await,
        )
        .await,
    );
    // A revoked contract is told to its caller: one callback in the outbox to name.
    let revoked = ok(
        "revoked contract",
        json_of(
            owner
                .post_json(
                    "/api/v1/contract/initiate",
                    &contract_request("AUTHZ_REVOKED", &callback_url),
                )
                .await,
        )
        .await,
    );
    ok(
        "revoke",
        json_of(
            owner
                .post_json(
                    &format!(
                        "/api/v1/contract/{}/revoke",
                        revoked["contractId"].as_str().unwrap()
                    ),
                    &json!({"reason": "重复发起", "operator": "ops"}),
                )
                .await,
        )
        .await,
    );
    settle(&owner).await;
    let callbacks = ok(
        "callbacks",
        json_of(owner.get("/api/v1/admin/callbacks").await).await,
    );
    let callback_id = callbacks["callbacks"][0]["id"].to_string();
    assert_ne!(callback_id, "null", "a recorded callback: {callbacks}");
    Fixture {
        intruder: service.client(INTRUDER),
        intruder_admin: service.client(INTRUDER_ADMIN),
        owner,
        contract_id: contract["contractId"].as_str().unwrap().to_owned(),
        verification_id: face["verificationId"].as_str().unwrap().to_owned(),
        notice_id: notice["noticeId"].as_str().unwrap().to_owned(),
        callback_id,
        callback_url,
        serial: std::sync::atomic::AtomicUsize::new(0),
        service,
    }
}

/// A callback receiver on a free port that accepts everything; returns its URL.
async fn receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { StatusCode::OK });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/callback")
}

/// Waits until no callback is waiting or being delivered, so the outbox holds still.
async fn settle(admin: &SigningClient) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mut busy = 0;
        for status in ["PENDING", "DELIVERING"] {
            let (_, listed) = json_of(
                admin
                    .get(&format!("/api/v1/admin/callbacks?status={status}"))
                    .await,
            )
            .await;
            busy += listed["callbacks"].as_array().map_or(0, Vec::len);
        }
        if busy == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "callbacks still in flight"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// What the outbox and the SMS sender hold: writes outside the event log a refused request must not
/// make either (a redelivery resets a callback row; a notice texts the mobile).
async fn side_effects(fixture: &Fixture) -> (Value, usize) {
    let (_, callback) = json_of(
        fixture
            .owner
            .get(&format!("/api/v1/admin/callbacks/{}", fixture.callback_id))
            .await,
    )
    .await;
    let texts = fixture
        .state()
        .development_sms
        .as_ref()
        .unwrap()
        .sent_to(MOBILE)
        .len();
    (callback, texts)
}

fn with_body<'a>(
    request: crate::signing_client::SignedRequest<'a>,
    body: &Option<Value>,
) -> crate::signing_client::SignedRequest<'a> {
    match body {
        Some(body) => request.json(body),
        None => request,
    }
}

/// For each operation: no signature, the owner's id signed with another client's secret, a timestamp
/// 301 s old, and a captured request sent again (same nonce and timestamp) are each answered 401 /
/// 40101, and none of them writes an event, touches the outbox or sends a text. The first sending of
/// the captured request is let in, so the replay is refused for its nonce alone.
async fn every_api_operation_refuses_unsigned_forged_stale_and_replayed_requests_and_writes_nothing(
    t: TestStore,
) {
    let fixture = fixture(&t).await;
    let operations = api_operations();
    assert!(operations.len() >= 23, "{operations:?}");
    let http = esign::providers::outbound::client(std::time::Duration::from_secs(30)).unwrap();
    let mut tried: BTreeMap<&str, usize> = BTreeMap::new();

    for operation in &operations {
        let path = fixture.path(operation);
        let body = fixture.body(operation);
        let events_before = event_count(&fixture.state().store).await;
        let effects_before = side_effects(&fixture).await;

        let mut unsigned = http.request(
            operation.method.clone(),
            format!("{}{path}", fixture.service.base),
        );
        if let Some(body) = &body {
            unsigned = unsigned.json(body);
        }
        assert_signature_rejected(unsigned.send().await.unwrap()).await;
        *tried.entry("no signature").or_default() += 1;

        let request = || fixture.owner.request(operation.method.clone(), &path);
        assert_signature_rejected(
            with_body(request(), &body)
                .secret(INTRUDER.secret)
                .send()
                .await,
        )
        .await;
        *tried.entry("another client's secret").or_default() += 1;

        assert_signature_rejected(
            with_body(request(), &body)
                .timestamp_offset(-301)
                .send()
                .await,
        )
        .await;
        *tried.entry("timestamp 301 s old").or_default() += 1;

        assert_eq!(
            event_count(&fixture.state().store).await,
            events_before,
            "{}: a refused request wrote an event",
            operation.id
        );
        assert_eq!(
            side_effects(&fixture).await,
            effects_before,
            "{}: a refused request changed the outbox or sent a text",
            operation.id
        );

        let (timestamp, nonce) = (unix_now(), random_nonce());
        let captured = || {
            with_body(request(), &body)
                .timestamp(timestamp)
                .nonce(&nonce)
                .send()
        };
        let original = captured().await;
        assert_ne!(
            original.status(),
            StatusCode::UNAUTHORIZED,
            "{}: the original request is let in",
            operation.id
        );
        // What the original set going (a callback to deliver) ends before the replay is judged.
        settle(&fixture.owner).await;
        let events_after_original = event_count(&fixture.state().store).await;
        let effects_after_original = side_effects(&fixture).await;
        assert_signature_rejected(captured().await).await;
        *tried.entry("replayed nonce").or_default() += 1;
        assert_eq!(
            event_count(&fixture.state().store).await,
            events_after_original,
            "{}: a replay wrote an event",
            operation.id
        );
        assert_eq!(
            side_effects(&fixture).await,
            effects_after_original,
            "{}: a replay changed the outbox or sent a text",
            operation.id
        );
    }
    let attempts: usize = tried.values().sum();
    assert_eq!(attempts, operations.len() * 4);
    eprintln!(
        "authorisation matrix: {} operations x {} attacks = {attempts} refused requests ({tried:?})",
        operations.len(),
        tried.len()
    );
}

/// The owner's resources named by another client, an ordinary one and an administrator alike: every
/// route (but the administrators' own, under `/admin/`) reading or acting on a face verification, a
/// contract or an SMS notice answers 404 / 40400,
/// exactly as for an id that does not exist (so the answer tells nothing), and writes nothing. The
/// shared catalogues (contract and SMS templates) are readable by every client by design; their
/// writes and the callback outbox are administrators' only, answered 403 to anyone else whether the
/// id exists or not.
async fn another_client_gets_404_for_every_resource_it_does_not_own_and_writes_nothing(
    t: TestStore,
) {
    let fixture = fixture(&t).await;
    let owned_markers = ["{verificationId}", "{contractId}", "{noticeId}"];
    let mut owned_routes = 0;
    let mut admin_routes = 0;
    for operation in api_operations() {
        let path = fixture.path(&operation);
        let body = fixture.body(&operation);
        let events_before = event_count(&fixture.state().store).await;
        let effects_before = side_effects(&fixture).await;
        // Administrators' routes act on every client's resources by design (forcing a contract's
        // end, say): they are refused to everyone else whatever they name.
        let admin_only = operation.path.contains("/admin/")
            || (operation.method == Method::POST
                && (operation.path.contains("/template")
                    || operation.path.contains("/sms-templates")));
        let names_owned = !operation.path.contains("/admin/")
            && (owned_markers
                .iter()
                .any(|marker| operation.path.contains(marker))
                || operation.id == "verifyContract");

        if names_owned {
            owned_routes += 1;
            let missing_path = path
                .replace(&fixture.contract_id, "CONTRACT_20000101NOSUCHCONTRACT0")
                .replace(&fixture.verification_id, "FACE_20000101NOSUCHVERIFICATION")
                .replace(&fixture.notice_id, "SMS_20000101NOSUCHNOTICE000");
            let missing_body = body.as_ref().map(|body| {
                let mut body = body.clone();
                if body.get("contractId").is_some() {
                    body["contractId"] = json!("CONTRACT_20000101NOSUCHCONTRACT0");
                }
                body
            });
            for intruder in [&fixture.intruder, &fixture.intruder_admin] {
                let foreign = json_of(
                    with_body(intruder.request(operation.method.clone(), &path), &body)
                        .send()
                        .await,
                )
                .await;
                assert_eq!(
                    (foreign.0, foreign.1["code"].as_i64()),
                    (StatusCode::NOT_FOUND, Some(40400)),
                    "{} by {}: {}",
                    operation.id,
                    intruder.client_id(),
                    foreign.1
                );
                let missing = json_of(
                    with_body(
                        intruder.request(operation.method.clone(), &missing_path),
                        &missing_body,
                    )
                    .send()
                    .await,
                )
                .await;
                assert_eq!(
                    foreign, missing,
                    "{}: another client's resource answers like a missing one",
                    operation.id
                );
            }
        } else if admin_only {
            admin_routes += 1;
            let refused = json_of(
                with_body(
                    fixture.intruder.request(operation.method.clone(), &path),
                    &body,
                )
                .send()
                .await,
            )
            .await;
            assert_eq!(
                (refused.0, refused.1["code"].as_i64()),
                (StatusCode::FORBIDDEN, Some(40300)),
                "{}: {}",
                operation.id,
                refused.1
            );
            if operation.path.contains("{id}") {
                let missing = json_of(
                    with_body(
                        fixture.intruder.request(
                            operation.method.clone(),
                            &operation.path.replace("{id}", "999999"),
                        ),
                        &body,
                    )
                    .send()
                    .await,
                )
                .await;
                assert_eq!(refused, missing, "{}: existence is not told", operation.id);
            }
        }
        assert_eq!(
            event_count(&fixture.state().store).await,
            events_before,
            "{}: another client's request wrote an event",
            operation.id
        );
        assert_eq!(
            side_effects(&fixture).await,
            effects_before,
            "{}: another client's request changed the outbox or sent a text",
            operation.id
        );
    }
    assert_eq!(owned_routes, 10, "routes naming a client's own resource");
    assert!(admin_routes >= 7, "administrators' routes: {admin_routes}");

    // The owner still sees its contract untouched and its first link unreplaced.
    let (status, shown) = json_of(
        fixture
            .owner
            .get(&format!("/api/v1/contract/{}", fixture.contract_id))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["status"], "CREATED", "{shown}");
    eprintln!(
        "authorisation matrix: {owned_routes} owned-resource routes x 2 intruders, {admin_routes} administrators' routes x 1 intruder"
    );
}
