//! Text messages: the message-centre sender against a real local receiver, the development viewer,
//! and signers' SMS codes (spec 4.1.2 step 3) driven through the service functions the H5 signing page
//! will call, on both backends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aggregates::contract::{ContractConflict, ContractError};
use aggregates::values::{ContractId, LinkId, MobileNumber, PartyId};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use esign::app::pipeline::CommandError;
use esign::app::signing::codes::{
    CodeCheck, CodeSent, SigningCodeError, send_signing_code, verify_signing_code,
};
use esign::providers::sms::{SenderKind, SmsConfig, SmsError, SmsMessage, SmsSender};
use esign::store::EventMetadata;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, CALLER, RunningService, TestStore, start_service_with};

crate::backend_tests!(
    a_signing_code_arrives_and_the_right_code_verifies,
    wrong_codes_count_and_the_fifth_locks_the_link,
    an_expired_code_is_refused_without_counting,
    a_resend_inside_the_cool_down_is_refused,
    a_failed_send_records_nothing_and_does_not_block_the_next_request,
    the_development_viewer_shows_sent_messages_and_does_not_exist_in_production,
);

// ---------------------------------------------------------------------------------------------------
// A local message centre

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Value,
}

/// A message centre on a random port that answers from a script: the `n`th request gets the `n`th
/// answer, and the last answer repeats. An answer with a delay waits that long first.
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

#[derive(Clone)]
struct Script {
    answers: Arc<Vec<(u16, Value, Duration)>>,
    received: Arc<Mutex<Vec<Received>>>,
}

async fn answer(
    State(script): State<Script>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, Json<Value>) {
    let index = {
        let mut received = script.received.lock().unwrap();
        received.push(Received {
            headers,
            body: serde_json::from_str(&body).unwrap_or(Value::Null),
        });
        received.len() - 1
    };
    let (status, body, delay) = script
        .answers
        .get(index)
        .or(script.answers.last())
        .cloned()
        .unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    (StatusCode::from_u16(status).unwrap(), Json(body))
}

pub async fn receiver(answers: Vec<(u16, Value, Duration)>) -> Receiver {
    let received = Arc::new(Mutex::new(Vec::new()));
    let script = Script {
        answers: Arc::new(answers),
        received: Arc::clone(&received),
    };
    let app = axum::Router::new()
        .route("/sms/send", axum::routing::post(answer))
        .with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms/send", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, received }
}

pub fn ok(message_id: &str) -> (u16, Value, Duration) {
    (200, json!({"messageId": message_id}), Duration::ZERO)
}

pub fn status(code: u16) -> (u16, Value, Duration) {
    (
        code,
        json!({"error": format!("status {code}")}),
        Duration::ZERO,
    )
}

/// The `[sms]` settings that point the service at `receiver`.
pub fn message_centre(receiver: &Receiver) -> SmsConfig {
    SmsConfig {
        sender: SenderKind::MessageCentre,
        url: Some(receiver.url.clone()),
        auth_header: Some("X-Api-Key".into()),
        auth_token: Some("mc-token-123".into()),
        timeout_ms: 2_000,
        ..SmsConfig::default()
    }
}

fn message(text: &str) -> SmsMessage {
    SmsMessage {
        mobile: MobileNumber::parse("13800138000").unwrap(),
        text: text.into(),
        purpose: "NOTICE",
    }
}

/// Spec 3.2 / 7.2.4: the message centre gets a JSON POST with the configured credential; a 2xx answer
/// names the message, 5xx, 429 and timeouts are "unavailable" (retry), other answers "rejected".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_centre_sender_posts_json_with_its_credential_and_types_its_failures() {
    use esign::providers::sms::message_centre::MessageCentreSender;
    let receiver = receiver(vec![
        ok("MC-1"),
        status(503),
        status(429),
        status(400),
        (200, json!({"unexpected": true}), Duration::ZERO),
        (
            200,
            json!({"messageId": "MC-late"}),
            Duration::from_secs(10),
        ),
    ])
    .await;
    let config = SmsConfig {
        timeout_ms: 500,
        ..message_centre(&receiver)
    };
    let sender = MessageCentreSender::new(&config, None).unwrap();

    let receipt = sender.send(&message("你好 1")).await.unwrap();
    assert_eq!(receipt.sender, "message-centre");
    assert_eq!(receipt.message_id, "MC-1");
    let first = &receiver.received()[0];
    assert_eq!(first.headers["x-api-key"], "mc-token-123");
    assert_eq!(first.headers["content-type"], "application/json");
    assert_eq!(
        first.body,
        json!({"mobile": "13800138000", "content": "你好 1", "purpose": "NOTICE"})
    );

    assert!(matches!(
        sender.send(&message("2")).await,
        Err(SmsError::Unavailable(reason)) if reason.contains("503")
    ));
    assert!(matches!(
        sender.send(&message("3")).await,
        Err(SmsError::Unavailable(_))
    ));
    assert!(matches!(
        sender.send(&message("4")).await,
        Err(SmsError::Rejected(reason)) if reason.contains("400")
    ));
    assert!(
        matches!(sender.send(&message("5")).await, Err(SmsError::Unavailable(reason)) if reason.contains("messageId")),
        "a success without a message id is not trusted"
    );
    assert!(matches!(
        sender.send(&message("6")).await,
        Err(SmsError::Unavailable(reason)) if reason.contains("timed out")
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_message_centre_is_unavailable() {
    use esign::providers::sms::message_centre::MessageCentreSender;
    // A port that was free a moment ago: nothing listens there now.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = SmsConfig {
        sender: SenderKind::MessageCentre,
        url: Some(format!("http://127.0.0.1:{port}/send")),
        ..SmsConfig::default()
    };
    let sender = MessageCentreSender::new(&config, None).unwrap();
    assert!(matches!(
        sender.send(&message("x")).await,
        Err(SmsError::Unavailable(_))
    ));
}

// ---------------------------------------------------------------------------------------------------
// Signing codes

const RECEIVER_MOBILE: &str = "13800138000";

struct Signing {
    service: RunningService,
    contract_id: ContractId,
    party_id: PartyId,
    link_id: LinkId,
}

async fn signing(
    t: &TestStore,
    configure: impl FnOnce(&mut esign::app::config::Config),
) -> Signing {
    let service = start_service_with(t, &[CALLER, ADMIN], configure).await;
    let auth = service.client(CALLER);
    let admin = service.client(ADMIN);
    let template = json!({
        "templateId": "TPL_SMS",
        "name": "授权协议",
        "version": "1.0",
        "category": "RELATIONSHIP_AGREEMENT",
        "content": "<p>{{payerName}}</p>",
        "variableDefinitions": [{"key": "payerName", "name": "付款方", "required": true}],
        "signerConfig": {"minSigners": 1, "maxSigners": 2, "defaultSignMethods": ["FACE_AND_SMS"]}
    });
    let published = admin.post_json("/api/v1/template", &template).await;
    assert_eq!(
        published.status(),
        200,
        "{}",
        published.text().await.unwrap()
    );
    let contract = json!({
        "bizId": "REL_SMS_1",
        "bizType": "RELATIONSHIP_AGREEMENT",
        "templateId": "TPL_SMS",
        "title": "授权协议",
        "variables": {"payerName": "XX品牌总部"},
        "signers": [
            {"partyId": "RECEIVER_001", "partyType": "RECEIVER", "name": "张三",
             "idCardNo": "11010519491231002X", "mobile": RECEIVER_MOBILE,
             "signMethod": "FACE_AND_SMS", "notifyType": "H5_LINK", "sequence": 1}
        ],
        "callbackUrl": "https://auth.example.com/callback/e-sign"
    });
    // An H5_LINK signer: these tests count signing codes, and an SMS signer would also be invited.
    let created = auth.post_json("/api/v1/contract/initiate", &contract).await;
    let created: Value = created.json().await.unwrap();
    let contract_id = created["contractId"].as_str().unwrap().to_owned();
    let signer = esign::store::query_tables::select_one(
        &service.state.store,
        projections::Table::ContractSigner,
        "contract_id = {1} AND party_id = {2}",
        &[&contract_id, "RECEIVER_001"],
    )
    .await
    .unwrap()
    .unwrap();
    Signing {
        contract_id: ContractId::parse(&contract_id).unwrap(),
        party_id: PartyId::parse("RECEIVER_001").unwrap(),
        link_id: LinkId::parse(signer.text("link_id").unwrap()).unwrap(),
        service,
    }
}

fn signer_metadata() -> EventMetadata {
    EventMetadata {
        actor: "signer:RECEIVER_001".into(),
        ip: Some("192.168.1.10".into()),
        user_agent: Some("Mozilla/5.0 (iPhone)".into()),
        ..EventMetadata::default()
    }
}

impl Signing {
    async fn send(&self) -> Result<CodeSent, SigningCodeError> {
        send_signing_code(
            &self.service.state,
            &self.contract_id,
            &self.party_id,
            &self.link_id,
            &signer_metadata(),
        )
        .await
    }

    async fn verify(&self, code: &str) -> Result<CodeCheck, SigningCodeError> {
        verify_signing_code(
            &self.service.state,
            &self.contract_id,
            &self.party_id,
            &self.link_id,
            code,
            &signer_metadata(),
        )
        .await
    }

    /// The six digits of the latest text the development sender kept for the signer.
    fn last_code(&self) -> String {
        let sent = self
            .service
            .state
            .development_sms
            .as_ref()
            .unwrap()
            .sent_to(RECEIVER_MOBILE);
        code_in(&sent.last().expect("a text was sent").text)
    }

    async fn events(&self) -> Vec<String> {
        use esign::store::EventStore;
        let stream = esign::store::StreamId::new("contract", self.contract_id.as_str());
        self.service
            .state
            .store
            .read_stream(&stream, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|event| event.event_type)
            .collect()
    }
}

fn code_in(text: &str) -> String {
    let digits: Vec<char> = text.chars().collect();
    digits
        .windows(6)
        .find(|window| window.iter().all(char::is_ascii_digit))
        .map(|window| window.iter().collect())
        .unwrap_or_else(|| panic!("no six-digit code in {text:?}"))
}

/// A code that is not `code`.
fn other_than(code: &str) -> String {
    let first = code.chars().next().unwrap().to_digit(10).unwrap();
    format!("{}{}", (first + 1) % 10, &code[1..])
}

fn conflict_of(error: SigningCodeError) -> ContractConflict {
    match error {
        SigningCodeError::Command(CommandError::Domain(ContractError::Conflict(conflict))) => {
            conflict
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn a_signing_code_arrives_and_the_right_code_verifies(t: TestStore) {
    let signing = signing(&t, |_| {}).await;
    let sent = signing.send().await.unwrap();
    let CodeSent::Sent {
        expires_at,
        resend_at,
        ..
    } = sent
    else {
        panic!("expected a sent code, got {sent:?}");
    };
    assert_eq!((expires_at - resend_at).num_seconds(), 300 - 60);
    let texts = signing
        .service
        .state
        .development_sms
        .as_ref()
        .unwrap()
        .sent_to(RECEIVER_MOBILE);
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].purpose, "SIGNING_CODE");
    let code = signing.last_code();
    assert!(
        !signing.events().await.is_empty()
            && signing.events().await.last().unwrap() == "SmsCodeSent"
    );
    // Only a keyed hash of the code reaches the log.
    let trail = esign::read::audit::timeline(
        esign::store::StreamId::new("contract", signing.contract_id.as_str()),
        &{
            use esign::store::EventStore;
            signing
                .service
                .state
                .store
                .read_stream(
                    &esign::store::StreamId::new("contract", signing.contract_id.as_str()),
                    0,
                )
                .await
                .unwrap()
        },
        &signing.service.state.pii,
    );
    let sent_event = trail
        .events
        .iter()
        .find(|event| event.event_type == "SmsCodeSent")
        .unwrap();
    assert!(!sent_event.payload.to_string().contains(&code));
    assert_eq!(
        sent_event.metadata.ip.as_deref(),
        Some("192.168.1.10"),
        "the signer's address is recorded"
    );

    assert_eq!(signing.verify(&code).await.unwrap(), CodeCheck::Verified);
    assert_eq!(signing.events().await.last().unwrap(), "SmsCodeVerified");
    // Verified once: asking again sends nothing and checking again changes nothing.
    assert_eq!(signing.send().await.unwrap(), CodeSent::AlreadyVerified);
    assert_eq!(signing.verify("000000").await.unwrap(), CodeCheck::Verified);

    let metrics = signing.service.state.metrics.encode().unwrap();
    assert!(
        metrics.contains(
            r#"esign_sms_sent_total{sender="development",purpose="SIGNING_CODE",outcome="sent"} 1"#
        ),
        "{metrics}"
    );
}

async fn wrong_codes_count_and_the_fifth_locks_the_link(t: TestStore) {
    let signing = signing(&t, |_| {}).await;
    signing.send().await.unwrap();
    let code = signing.last_code();
    let wrong = other_than(&code);
    for attempt in 1..=4 {
        assert_eq!(
            signing.verify(&wrong).await.unwrap(),
            CodeCheck::Wrong {
                failed_attempts: attempt,
                attempts_left: 5 - attempt
            }
        );
    }
    assert_eq!(
        signing.verify(&wrong).await.unwrap(),
        CodeCheck::Locked { failed_attempts: 5 }
    );
    // Locked: even the right code and a new code are refused on this link.
    assert_eq!(
        conflict_of(signing.verify(&code).await.unwrap_err()),
        ContractConflict::SmsLocked
    );
    assert_eq!(
        conflict_of(signing.send().await.unwrap_err()),
        ContractConflict::SmsLocked
    );
    let failures = signing
        .events()
        .await
        .iter()
        .filter(|event| *event == "SmsCodeFailed")
        .count();
    assert_eq!(failures, 5);
}

async fn an_expired_code_is_refused_without_counting(t: TestStore) {
    use aggregates::contract::{ContractAggregate, ContractCommand, SendSmsCode, SmsCodePolicy};
    let signing = signing(&t, |_| {}).await;
    // A code sent six minutes ago (recorded directly, as the clock cannot be moved in the service).
    let code = "246810";
    let state = &signing.service.state;
    let hash = esign::app::one_time_codes::code_digest(
        &state.pii,
        &esign::app::signing::codes::code_scope(
            &signing.contract_id,
            &signing.party_id,
            &signing.link_id,
        ),
        code,
    )
    .unwrap();
    let six_minutes_ago = chrono::Utc::now() - chrono::TimeDelta::minutes(6);
    state
        .pipeline
        .execute::<ContractAggregate>(
            &esign::store::StreamId::new("contract", signing.contract_id.as_str()),
            &signer_metadata(),
            |_| {
                ContractCommand::SendSmsCode(SendSmsCode {
                    party_id: signing.party_id.clone(),
                    link_id: signing.link_id.clone(),
                    code_hash: hash.clone(),
                    policy: SmsCodePolicy::default(),
                    now: six_minutes_ago,
                })
            },
        )
        .await
        .unwrap();
    assert_eq!(
        conflict_of(signing.verify(code).await.unwrap_err()),
        ContractConflict::SmsCodeExpired
    );
    assert!(!signing.events().await.contains(&"SmsCodeFailed".to_owned()));
    // The cool-down of the old code is over: a fresh code may be sent and verifies.
    signing.send().await.unwrap();
    let fresh = signing.last_code();
    assert_eq!(signing.verify(&fresh).await.unwrap(), CodeCheck::Verified);
}

async fn a_resend_inside_the_cool_down_is_refused(t: TestStore) {
    let signing = signing(&t, |_| {}).await;
    signing.send().await.unwrap();
    let refused = conflict_of(signing.send().await.unwrap_err());
    assert!(
        matches!(refused, ContractConflict::SmsResendTooSoon { .. }),
        "{refused:?}"
    );
    let texts = signing
        .service
        .state
        .development_sms
        .as_ref()
        .unwrap()
        .sent_to(RECEIVER_MOBILE);
    assert_eq!(texts.len(), 1, "nothing is texted for a refused request");
    // The refusal reaches a caller as 409.
    let app_error: esign::app::error::AppError =
        SigningCodeError::Command(CommandError::Domain(ContractError::Conflict(refused))).into();
    assert!(matches!(
        app_error,
        esign::app::error::AppError::Conflict(_)
    ));
}

async fn a_failed_send_records_nothing_and_does_not_block_the_next_request(t: TestStore) {
    let receiver = receiver(vec![status(503), ok("MC-CODE-2")]).await;
    let sms = message_centre(&receiver);
    let signing = signing(&t, move |config| config.sms = sms).await;
    assert!(signing.service.state.development_sms.is_none());
    assert!(matches!(
        signing.send().await,
        Err(SigningCodeError::Sms(SmsError::Unavailable(_)))
    ));
    assert!(!signing.events().await.contains(&"SmsCodeSent".to_owned()));
    // No cool-down started: the signer asks again at once and gets a code.
    assert!(matches!(
        signing.send().await.unwrap(),
        CodeSent::Sent { message_id, .. } if message_id == "MC-CODE-2"
    ));
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].body["mobile"], RECEIVER_MOBILE);
    let code = code_in(received[1].body["content"].as_str().unwrap());
    assert_eq!(signing.verify(&code).await.unwrap(), CodeCheck::Verified);
    let metrics = signing.service.state.metrics.encode().unwrap();
    for outcome in ["unavailable", "sent"] {
        assert!(
            metrics.contains(&format!(
                r#"esign_sms_sent_total{{sender="message-centre",purpose="SIGNING_CODE",outcome="{outcome}"}} 1"#
            )),
            "{metrics}"
        );
    }
}

// ---------------------------------------------------------------------------------------------------
// The development viewer

async fn the_development_viewer_shows_sent_messages_and_does_not_exist_in_production(t: TestStore) {
    let signing = signing(&t, |_| {}).await;
    signing.send().await.unwrap();
    let code = signing.last_code();
    let http = esign::providers::outbound::client(Duration::from_secs(10)).unwrap();
    let base = &signing.service.base;
    let listed: Value = http
        .get(format!("{base}/dev/sms?mobile={RECEIVER_MOBILE}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = listed["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["purpose"], "SIGNING_CODE");
    assert!(messages[0]["text"].as_str().unwrap().contains(&code));
    let other: Value = http
        .get(format!("{base}/dev/sms?mobile=13900139000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(other["messages"], json!([]));
    let missing = http.get(format!("{base}/dev/sms")).send().await.unwrap();
    assert_eq!(missing.status(), 400);

    // Production: the development sender is refused, and the viewer does not exist.
    let mut refused = esign::app::config::Config::default();
    refused.server.mode = aggregates::values::Mode::Production;
    assert!(refused.sms.check(refused.server.mode).is_err());
    let keys = std::collections::BTreeMap::from([(
        "k1".to_owned(),
        esign::pii::PiiCipher::generate_key().unwrap(),
    )]);
    let index_key = esign::pii::PiiCipher::generate_key().unwrap();
    let production = start_service_with(&t, &[CALLER], move |config| {
        crate::helpers::production(config);
        config.security.pii_keys = keys;
        config.security.pii_index_key = Some(index_key);
        config.sms = SmsConfig {
            sender: SenderKind::MessageCentre,
            url: Some("https://message-centre.invalid/send".into()),
            auth_header: Some("Authorization".into()),
            auth_token: Some("Bearer mc".into()),
            ..SmsConfig::default()
        };
    })
    .await;
    assert!(production.state.development_sms.is_none());
    let absent = http
        .get(format!(
            "{}/dev/sms?mobile={RECEIVER_MOBILE}",
            production.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(absent.status(), 404);
}
