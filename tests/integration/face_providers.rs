//! Face providers end to end, over real HTTP on both backends: esign creates the task at a sandbox
//! provider (its own HTTP service), the test drives the sandbox's capture page like a browser, the
//! sandbox posts its signed result back, and the API shows it. Also: forged, replayed and late
//! callbacks, failover, 50001 with background retries, the return pull, and degraded mode.

use std::time::Duration;

use aggregates::Aggregate;
use aggregates::face_verification::{
    FaceVerificationAggregate, InitiateVerification, StartProviderTask, VerificationCommand,
    VerificationRequest,
};
use aggregates::values::{ClientId, ProviderName, ProviderTaskId, VerificationId};
use chrono::{TimeDelta, Utc};
use esign::app::config::Config;
use esign::providers::face::FaceProviderConfig;
use esign::providers::face::FaceProviderKind;
use esign::providers::face::protocol;
use esign::providers::sandbox::{Sandbox, SandboxSettings};
use esign::store::{EventStore, StreamId};
use projections::Table;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::helpers::{CALLER, RunningService, TestStore, start_service_with};
use crate::signing_client::SigningClient;

crate::backend_tests!(
    a_passed_capture_reaches_esign_as_a_signed_callback_and_get_shows_it,
    each_failure_outcome_is_recorded_with_its_reason,
    forged_replayed_conflicting_and_late_callbacks_are_refused_and_write_nothing,
    an_erroring_or_dead_provider_fails_over_to_the_next,
    all_providers_down_answers_50001_and_the_background_retry_starts_the_task_later,
    background_retries_stop_after_the_configured_count,
    the_return_route_pulls_the_result_and_a_bare_redirect_passes_nothing,
    degraded_mode_passes_with_an_sms_code_when_every_provider_is_down,
);

/// `esign sandbox` runs the sandbox alone; production mode refuses it.
#[tokio::test]
async fn the_sandbox_command_serves_alone_in_development_and_is_refused_in_production() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_esign"))
        .env_clear()
        .env("ESIGN_SERVER_MODE", "production")
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .arg("sandbox")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("production"));

    let mut child = Command::new(env!("CARGO_BIN_EXE_esign"))
        .env_clear()
        .env("ESIGN_SANDBOX_BIND", "127.0.0.1:0")
        .env("ESIGN_SANDBOX_SECRET", SANDBOX_SECRET)
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .arg("sandbox")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).unwrap();
        first
    })
    .await
    .unwrap();
    let base = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    let http = esign::providers::outbound::client(Duration::from_secs(10)).unwrap();
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // The task API wants the shared secret's signature.
    let unsigned = http
        .post(format!("{base}/v1/face/tasks"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    // Signed, it creates a task; the same signed request again is a replay.
    let body = serde_json::to_vec(&json!({
        "appId": "esign-test", "orderNo": "FACE_VERIFY_CLI", "name": "张三",
        "idCardNo": "11010519491231002X", "callbackUrl": "http://127.0.0.1:9/cb",
        "returnUrl": "http://127.0.0.1:9/back", "expiresAt": Utc::now() + TimeDelta::minutes(30),
    }))
    .unwrap();
    let timestamp = Utc::now().timestamp();
    let nonce = "cli-nonce-0000000000001";
    let signed = http
        .post(format!("{base}/v1/face/tasks"))
        .header("content-type", "application/json")
        .header(protocol::TIMESTAMP_HEADER, timestamp.to_string())
        .header(protocol::NONCE_HEADER, nonce)
        .header(
            protocol::SIGNATURE_HEADER,
            protocol::sign(SANDBOX_SECRET, timestamp, nonce, &body),
        )
        .body(body);
    let replay = signed.try_clone().unwrap();
    let (status, created) = json_of(signed.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(
        created["h5Url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{base}/capture/"))
    );
    assert_eq!(
        replay.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

const SANDBOX_SECRET: &str = "sandbox-secret-0123456789abcdef";
const MOBILE: &str = "13800138000";
/// Long enough for a poll on a loaded machine; the tests finish far sooner when all is well.
const DEADLINE: Duration = Duration::from_secs(30);

struct Face {
    api: SigningClient,
    service: RunningService,
    http: reqwest::Client,
}

async fn start(t: &TestStore, configure: impl FnOnce(&mut Config)) -> Face {
    let service = start_service_with(t, &[CALLER], configure).await;
    Face {
        api: service.client(CALLER),
        http: esign::providers::outbound::client(Duration::from_secs(20)).unwrap(),
        service,
    }
}

fn provider(base_url: &str, secret: &str) -> FaceProviderConfig {
    FaceProviderConfig {
        kind: FaceProviderKind::Http,
        base_url: base_url.to_owned(),
        app_id: "esign-test".to_owned(),
        secret: secret.to_owned(),
    }
}

/// A sandbox of the test's own on a free port.
async fn sandbox() -> String {
    let sandbox = Sandbox::bind(
        "127.0.0.1:0".parse().unwrap(),
        SandboxSettings {
            secret: SANDBOX_SECRET.to_owned(),
            public_base_url: None,
        },
    )
    .await
    .unwrap();
    let url = sandbox.base_url();
    tokio::spawn(sandbox.run_until_stopped(std::future::pending()));
    url
}

/// An address where nothing listens: connections are refused.
async fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

fn face_request(biz_id: &str) -> Value {
    json!({
        "bizId": biz_id,
        "bizType": "RELATIONSHIP_BINDING",
        "userInfo": {"name": "张三", "idCardNo": "11010519491231002X", "mobile": MOBILE},
        "callbackUrl": "https://auth.example.com/callback/face-verification",
        "expireMinutes": 30
    })
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

async fn initiate(face: &Face, biz_id: &str) -> Value {
    let (status, body) = json_of(
        face.api
            .post_json("/api/v1/verification/face/initiate", &face_request(biz_id))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn show(face: &Face, id: &str) -> Value {
    let (status, body) = json_of(
        face.api
            .get(&format!("/api/v1/verification/face/{id}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn row(face: &Face, id: &str) -> esign::store::query_tables::RowView {
    esign::store::query_tables::select_one(
        &face.service.state.store,
        Table::FaceVerification,
        "verification_id = {1}",
        &[id],
    )
    .await
    .unwrap()
    .expect("the verification's row")
}

/// The provider's capture page for a verification (the esign H5 page will send the person there).
async fn capture_url(face: &Face, id: &str) -> String {
    row(face, id)
        .await
        .text("provider_url")
        .expect("a provider page")
        .to_owned()
}

async fn events(face: &Face, id: &str) -> Vec<esign::store::RecordedEvent> {
    face.service
        .state
        .store
        .read_stream(&StreamId::new("verification", id), 0)
        .await
        .unwrap()
}

async fn event_types(face: &Face, id: &str) -> Vec<String> {
    events(face, id)
        .await
        .iter()
        .map(|event| event.event_type.clone())
        .collect()
}

/// Posts the sandbox page's form as a browser would; returns the redirect's target.
async fn choose(face: &Face, capture: &str, form: &[(&str, &str)]) -> String {
    let page = face.http.get(capture).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("人脸核验") && html.contains("name=\"outcome\""),
        "{html}"
    );
    assert!(
        !html.contains("11010519491231002X"),
        "the page masks the ID number"
    );
    let answer = face.http.post(capture).form(form).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    answer.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// The verification once a provider took its task.
async fn wait_for_provider(face: &Face, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let shown = show(face, id).await;
        if shown["provider"].is_string() {
            return shown;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no provider took the task: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn rebuilt_tables_match(face: &Face) {
    let report = esign::read::rebuild::check(&face.service.state.store, &face.service.state.pii)
        .await
        .unwrap();
    assert!(report.matches(), "the rebuilt tables differ: {report:?}");
}

/// Proves the whole H5 path: task created over HTTP at the in-process sandbox, the capture page
/// driven over HTTP, the sandbox's signed callback recorded, and GET shows the result.
async fn a_passed_capture_reaches_esign_as_a_signed_callback_and_get_shows_it(t: TestStore) {
    let face = start(&t, |_| {}).await;
    let created = initiate(&face, "FACE_PASS_1").await;
    // The task exists, the person has not started: PENDING (spec 2.1.1) until the page is opened.
    assert_eq!(created["status"], "PENDING");
    assert_eq!(created["sdkConfig"]["appId"], "esign-development");
    assert!(
        created["sdkConfig"]["nonce"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    assert!(
        created["sdkConfig"]["signature"]
            .as_str()
            .is_some_and(|s| s.len() == 64)
    );
    let id = created["verificationId"].as_str().unwrap();
    assert_eq!(show(&face, id).await["status"], "PENDING");
    let page = face
        .http
        .get(created["verificationUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        show(&face, id).await["status"],
        "PROCESSING",
        "the person started"
    );
    let opened = event_types(&face, id).await;
    face.http
        .get(created["verificationUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        event_types(&face, id).await,
        opened,
        "a second opening records nothing"
    );
    assert_eq!(
        opened
            .iter()
            .filter(|kind| *kind == "FaceVerificationOpened")
            .count(),
        1
    );
    let capture = capture_url(&face, id).await;
    assert!(
        face.service
            .state
            .face
            .sandbox_url
            .as_ref()
            .is_some_and(|sandbox| capture.starts_with(sandbox.as_str()))
    );

    let back = choose(&face, &capture, &[("outcome", "PASS"), ("score", "0.8765")]).await;
    assert!(
        back.starts_with(&format!(
            "{}/h5/face-verify/return?token=",
            face.service.base
        )),
        "{back}"
    );
    let shown = show(&face, id).await;
    assert_eq!(shown["status"], "SUCCESS", "{shown}");
    assert_eq!(shown["score"], 0.8765);
    assert_eq!(shown["provider"], "sandbox");
    assert_eq!(shown["degraded"], false);
    assert_eq!(shown["method"], "FACE");
    assert!(
        shown["transactionNo"]
            .as_str()
            .unwrap()
            .starts_with("SBX_TXN_")
    );
    assert!(shown["verifiedAt"].is_string());
    assert_eq!(
        event_types(&face, id).await,
        [
            "FaceVerificationInitiated",
            "FaceProviderTaskStarted",
            "FaceVerificationOpened",
            "FaceVerificationSucceeded"
        ]
    );
    let result = events(&face, id).await;
    let recorded_by = serde_json::to_value(&result[3].metadata).unwrap();
    assert_eq!(recorded_by["actor"], "provider:sandbox");

    // The browser then lands on the return page: it shows the recorded status.
    let (status, page) = json_of(face.http.get(&back).send().await.unwrap()).await;
    assert_eq!(
        (status, page["status"].as_str()),
        (StatusCode::OK, Some("SUCCESS"))
    );
    // A second capture of a finished task is refused by the sandbox.
    let again = face
        .http
        .post(&capture)
        .form(&[("outcome", "FACE_MISMATCH")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    rebuilt_tables_match(&face).await;
}

/// Proves each failure the capture page offers arrives as FAILED with that reason.
async fn each_failure_outcome_is_recorded_with_its_reason(t: TestStore) {
    let face = start(&t, |_| {}).await;
    for (index, reason) in ["FACE_MISMATCH", "ID_CARD_MISMATCH", "POOR_QUALITY"]
        .into_iter()
        .enumerate()
    {
        let created = initiate(&face, &format!("FACE_FAIL_{index}")).await;
        let id = created["verificationId"].as_str().unwrap();
        let capture = capture_url(&face, id).await;
        choose(&face, &capture, &[("outcome", reason), ("score", "0.31")]).await;
        let shown = show(&face, id).await;
        assert_eq!(shown["status"], "FAILED", "{shown}");
        assert_eq!(shown["failReason"], reason);
        assert_eq!(shown["score"], 0.31);
        assert_eq!(shown["provider"], "sandbox");
    }
}

/// Signs a callback body the way a provider does, with `secret`.
fn signed_callback(
    face: &Face,
    provider: &str,
    secret: &str,
    nonce: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    let bytes = serde_json::to_vec(body).unwrap();
    let timestamp = Utc::now().timestamp();
    face.http
        .post(format!(
            "{}/provider-callbacks/face/{provider}",
            face.service.base
        ))
        .header("content-type", "application/json")
        .header(protocol::TIMESTAMP_HEADER, timestamp.to_string())
        .header(protocol::NONCE_HEADER, nonce)
        .header(
            protocol::SIGNATURE_HEADER,
            protocol::sign(secret, timestamp, nonce, &bytes),
        )
        .body(bytes)
}

fn result_body(id: &str, task: &str, passed: bool) -> Value {
    json!({
        "taskId": task,
        "orderNo": id,
        "transactionNo": "VENDOR_TXN_1",
        "passed": passed,
        "score": if passed { 0.91 } else { 0.2 },
        "failReason": if passed { Value::Null } else { json!("FACE_MISMATCH") },
        "completedAt": Utc::now(),
    })
}

/// Proves spec 4.3 item 3: a forged signature, a replayed nonce, a second different verdict and a
/// result after the deadline are all refused with nothing appended; an identical repeat (fresh
/// nonce) is acknowledged without change.
async fn forged_replayed_conflicting_and_late_callbacks_are_refused_and_write_nothing(
    t: TestStore,
) {
    let face = start(&t, |_| {}).await;
    let secret = face.service.state.config.face.provider["sandbox"]
        .secret
        .clone();
    let created = initiate(&face, "FACE_CALLBACKS").await;
    let id = created["verificationId"].as_str().unwrap().to_owned();
    let task = row(&face, &id)
        .await
        .text("provider_task_id")
        .unwrap()
        .to_owned();
    let before = events(&face, &id).await.len();

    let forged = signed_callback(
        &face,
        "sandbox",
        "not-the-sandbox-secret-000",
        "forged-nonce-0000000001",
        &result_body(&id, &task, true),
    );
    let (status, ack) = json_of(forged.send().await.unwrap()).await;
    assert_eq!(
        (status, ack["result"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("REJECTED"))
    );
    assert_eq!(
        events(&face, &id).await.len(),
        before,
        "a forged result wrote events"
    );
    assert_eq!(show(&face, &id).await["status"], "PENDING");

    // An unknown provider name is refused too.
    let unknown = signed_callback(
        &face,
        "nobody",
        &secret,
        "unknown-nonce-000000001",
        &result_body(&id, &task, true),
    );
    assert_eq!(
        unknown.send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    let genuine = signed_callback(
        &face,
        "sandbox",
        &secret,
        "genuine-nonce-000000001",
        &result_body(&id, &task, true),
    );
    let replay = genuine.try_clone().unwrap();
    let (status, ack) = json_of(genuine.send().await.unwrap()).await;
    assert_eq!(
        (status, ack["result"].as_str()),
        (StatusCode::OK, Some("ACCEPTED")),
        "{ack}"
    );
    let after = events(&face, &id).await.len();
    assert_eq!(after, before + 1);

    let (status, ack) = json_of(replay.send().await.unwrap()).await;
    assert_eq!(
        (status, ack["result"].as_str()),
        (StatusCode::CONFLICT, Some("REJECTED")),
        "{ack}"
    );
    assert!(ack["reason"].as_str().unwrap().contains("replayed"));
    assert_eq!(events(&face, &id).await.len(), after);

    let repeat = signed_callback(
        &face,
        "sandbox",
        &secret,
        "repeat-nonce-0000000001",
        &result_body(&id, &task, true),
    );
    let (status, ack) = json_of(repeat.send().await.unwrap()).await;
    assert_eq!(
        (status, ack["result"].as_str()),
        (StatusCode::OK, Some("ALREADY_RECORDED")),
        "{ack}"
    );
    assert_eq!(events(&face, &id).await.len(), after);

    let flipped = signed_callback(
        &face,
        "sandbox",
        &secret,
        "flipped-nonce-000000001",
        &result_body(&id, &task, false),
    );
    let (status, ack) = json_of(flipped.send().await.unwrap()).await;
    assert_eq!(
        (status, ack["result"].as_str()),
        (StatusCode::CONFLICT, Some("REJECTED")),
        "{ack}"
    );
    assert_eq!(events(&face, &id).await.len(), after);
    assert_eq!(show(&face, &id).await["status"], "SUCCESS");

    // Late: a verification whose deadline passed a minute ago (made through the pipeline with an
    // earlier clock), its task started in time; a result now is refused.
    let late_id = "FACE_VERIFY_LATE_1";
    let stream = StreamId::new(FaceVerificationAggregate::NAME, late_id);
    let metadata = esign::app::system_metadata("test");
    let then = Utc::now() - TimeDelta::minutes(2);
    let request: VerificationRequest = serde_json::from_value(face_request("FACE_LATE")).unwrap();
    let pipeline = &face.service.state.pipeline;
    pipeline
        .execute::<FaceVerificationAggregate>(&stream, &metadata, |_| {
            VerificationCommand::Initiate(InitiateVerification {
                verification_id: VerificationId::parse(late_id).unwrap(),
                client_id: ClientId::parse("auth").unwrap(),
                request: VerificationRequest {
                    expire_minutes: Some(1),
                    ..request.clone()
                },
                mode: aggregates::values::Mode::Development,
                now: then,
            })
        })
        .await
        .unwrap();
    pipeline
        .execute::<FaceVerificationAggregate>(&stream, &metadata, |_| {
            VerificationCommand::StartProviderTask(StartProviderTask {
                provider: ProviderName::parse("sandbox").unwrap(),
                task_id: ProviderTaskId::parse("LATE_TASK_1").unwrap(),
                h5_url: None,
                now: then + TimeDelta::seconds(10),
            })
        })
        .await
        .unwrap();
    let late_before = events(&face, late_id).await.len();
    let late = signed_callback(
        &face,
        "sandbox",
        &secret,
        "late-nonce-000000000001",
        &result_body(late_id, "LATE_TASK_1", true),
    );
    let (status, ack) = json_of(late.send().await.unwrap()).await;
    assert_eq!(
        (status, ack["result"].as_str()),
        (StatusCode::CONFLICT, Some("REJECTED")),
        "{ack}"
    );
    assert!(ack["reason"].as_str().unwrap().contains("expired"), "{ack}");
    assert_eq!(events(&face, late_id).await.len(), late_before);
    rebuilt_tables_match(&face).await;
}

/// A provider that answers every call with 502, as one behind a failing gateway does.
async fn erroring_provider() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(|| async { StatusCode::BAD_GATEWAY });
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// Proves failover: the first provider answers 5xx, the second's port is closed, the third
/// (another sandbox instance) takes the task, and the result names it.
async fn an_erroring_or_dead_provider_fails_over_to_the_next(t: TestStore) {
    let erroring = erroring_provider().await;
    let dead = closed_port().await;
    let backup = sandbox().await;
    let face = start(&t, |config| {
        config.face.providers = vec!["erroring".into(), "primary".into(), "backup".into()];
        config
            .face
            .provider
            .insert("erroring".into(), provider(&erroring, SANDBOX_SECRET));
        config
            .face
            .provider
            .insert("primary".into(), provider(&dead, SANDBOX_SECRET));
        config
            .face
            .provider
            .insert("backup".into(), provider(&backup, SANDBOX_SECRET));
    })
    .await;
    assert!(
        face.service.state.face.sandbox_url.is_none(),
        "no in-process sandbox when configured"
    );
    let created = initiate(&face, "FACE_FAILOVER").await;
    assert_eq!(created["status"], "PENDING");
    assert_eq!(created["sdkConfig"]["appId"], "esign-test");
    let id = created["verificationId"].as_str().unwrap();
    assert_eq!(show(&face, id).await["provider"], "backup");
    let capture = capture_url(&face, id).await;
    assert!(capture.starts_with(&backup));
    choose(&face, &capture, &[("outcome", "PASS"), ("score", "0.99")]).await;
    let shown = show(&face, id).await;
    assert_eq!(
        (shown["status"].as_str(), shown["provider"].as_str()),
        (Some("SUCCESS"), Some("backup"))
    );

    let metrics = face
        .http
        .get(format!("{}/metrics", face.service.base))
        .send()
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    assert!(
        text.lines()
            .any(|line| line.contains("provider=\"primary\"")
                && line.contains("outcome=\"unavailable\"")),
        "the dead provider's calls are counted"
    );
    assert!(
        text.lines()
            .any(|line| line.contains("provider=\"erroring\"")
                && line.contains("outcome=\"unavailable\"")),
        "a 5xx counts as unavailable, as a dead provider does"
    );
    assert!(text.lines().any(
        |line| line.contains("provider=\"backup\"") && line.contains("operation=\"callback\"")
    ));
}

/// Proves spec 6, 50001: with every provider down the initiation answers fast with 50001 and the
/// verification id, the round is recorded, and the background retry creates the task once a
/// provider is back.
async fn all_providers_down_answers_50001_and_the_background_retry_starts_the_task_later(
    t: TestStore,
) {
    // Bound but not yet serving: connections hang until the request timeout.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let face = start(&t, |config| {
        config.face.providers = vec!["only".into()];
        config.face.provider.insert(
            "only".into(),
            provider(&format!("http://{address}"), SANDBOX_SECRET),
        );
        config.face.request_timeout_ms = 300;
        config.face.retry_backoff_ms = 1000;
    })
    .await;
    let (status, body) = json_of(
        face.api
            .post_json(
                "/api/v1/verification/face/initiate",
                &face_request("FACE_DOWN"),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::SERVICE_UNAVAILABLE, Some(50001)),
        "{body}"
    );
    assert_eq!(body["message"], "系统繁忙，请稍后重试");
    let id = body["verificationId"]
        .as_str()
        .expect("the verification id")
        .to_owned();
    let pending = show(&face, &id).await;
    assert_eq!(pending["status"], "PENDING");
    assert!(
        event_types(&face, &id)
            .await
            .contains(&"FaceProviderUnavailable".to_owned())
    );

    // The provider comes back on the same address.
    listener.set_nonblocking(true).unwrap();
    let sandbox = Sandbox::on(
        tokio::net::TcpListener::from_std(listener).unwrap(),
        SandboxSettings {
            secret: SANDBOX_SECRET.to_owned(),
            public_base_url: None,
        },
    )
    .unwrap();
    tokio::spawn(sandbox.run_until_stopped(std::future::pending()));
    let started = wait_for_provider(&face, &id).await;
    assert_eq!(started["status"], "PENDING", "nobody opened the page yet");
    assert_eq!(started["provider"], "only");
    let row = row(&face, &id).await;
    assert!(row.integer("provider_attempts").unwrap() >= 1);
    assert!(row.text("next_provider_attempt_at").is_none());
    let capture = capture_url(&face, &id).await;
    choose(&face, &capture, &[("outcome", "PASS")]).await;
    assert_eq!(show(&face, &id).await["status"], "SUCCESS");
}

/// Proves the background retry is bounded: initiation's round plus `background_retries`, then no
/// next round is scheduled.
async fn background_retries_stop_after_the_configured_count(t: TestStore) {
    let dead = closed_port().await;
    let face = start(&t, |config| {
        config.face.providers = vec!["gone".into()];
        config
            .face
            .provider
            .insert("gone".into(), provider(&dead, SANDBOX_SECRET));
        config.face.retry_backoff_ms = 100;
        config.face.background_retries = 2;
    })
    .await;
    let (status, body) = json_of(
        face.api
            .post_json(
                "/api/v1/verification/face/initiate",
                &face_request("FACE_GONE"),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let id = body["verificationId"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let row = row(&face, &id).await;
        if row.integer("provider_attempts") == Some(3) {
            assert!(
                row.text("next_provider_attempt_at").is_none(),
                "no round after the last retry"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "retries did not run: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let unavailable = event_types(&face, &id)
        .await
        .iter()
        .filter(|kind| *kind == "FaceProviderUnavailable")
        .count();
    assert_eq!(unavailable, 3);
    assert_eq!(show(&face, &id).await["status"], "PENDING");
}

/// Proves a browser redirect alone passes nothing: the return route asks the provider; before the
/// person finished it records nothing, after a capture whose callback was lost it records the
/// provider's own result.
async fn the_return_route_pulls_the_result_and_a_bare_redirect_passes_nothing(t: TestStore) {
    let face = start(&t, |_| {}).await;
    let created = initiate(&face, "FACE_RETURN").await;
    let id = created["verificationId"].as_str().unwrap();
    let token = created["verificationUrl"]
        .as_str()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();
    let return_url = format!("{}/h5/face-verify/return?token={token}", face.service.base);
    let before = events(&face, id).await.len();

    let (status, page) = json_of(face.http.get(&return_url).send().await.unwrap()).await;
    assert_eq!(
        (status, page["status"].as_str()),
        (StatusCode::OK, Some("PENDING"))
    );
    assert_eq!(
        events(&face, id).await.len(),
        before,
        "a redirect without a result wrote events"
    );

    let forged = return_url.replace(&token[token.len() - 4..], "0000");
    assert_eq!(
        face.http.get(&forged).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    let capture = capture_url(&face, id).await;
    let back = choose(
        &face,
        &capture,
        &[("outcome", "PASS"), ("score", "0.9"), ("deliver", "none")],
    )
    .await;
    assert_eq!(back, return_url);
    assert_eq!(
        show(&face, id).await["status"],
        "PENDING",
        "no callback was sent"
    );

    let html = face
        .http
        .get(&back)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("身份核验已通过"), "{html}");
    let shown = show(&face, id).await;
    assert_eq!(shown["status"], "SUCCESS");
    assert_eq!(shown["score"], 0.9);
    let pulled = events(&face, id).await;
    let recorded_by = serde_json::to_value(&pulled.last().unwrap().metadata).unwrap();
    assert_eq!(recorded_by["actor"], format!("person:{id}"));
}

/// Proves spec 7.2.1 end to end: every provider down and degraded mode on, the verification
/// switches to the SMS + identity check; a wrong code counts, the right one passes with
/// `degraded: true`; only the code's keyed hash reaches the log.
async fn degraded_mode_passes_with_an_sms_code_when_every_provider_is_down(t: TestStore) {
    let dead = closed_port().await;
    let face = start(&t, |config| {
        config.face.providers = vec!["down".into()];
        config
            .face
            .provider
            .insert("down".into(), provider(&dead, SANDBOX_SECRET));
        config.face.degraded_mode = true;
    })
    .await;
    let created = initiate(&face, "FACE_DEGRADED").await;
    assert_eq!(created["status"], "PENDING");
    assert_eq!(created["degraded"], true);
    assert_eq!(created["method"], "SMS_AND_IDENTITY");
    assert!(created.get("sdkConfig").is_none());
    let id = created["verificationId"].as_str().unwrap();
    let token = created["verificationUrl"]
        .as_str()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();
    let shown = show(&face, id).await;
    assert_eq!(
        (shown["degraded"].as_bool(), shown["method"].as_str()),
        (Some(true), Some("SMS_AND_IDENTITY"))
    );
    let page = |step: &str| {
        format!(
            "{}/h5/face-verify/degraded/{step}?token={token}",
            face.service.base
        )
    };

    let (status, sent) = json_of(face.http.post(page("code")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["mobile"], "138****8000");
    let messages = face
        .service
        .state
        .development_sms
        .as_ref()
        .unwrap()
        .sent_to(MOBILE);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].purpose, "FACE_DEGRADED_CODE");
    let code: String = messages[0]
        .text
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    assert_eq!(code.len(), 6);
    // A second code within a minute is refused.
    assert_eq!(
        face.http.post(page("code")).send().await.unwrap().status(),
        StatusCode::CONFLICT
    );

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, body) = json_of(
        face.http
            .post(page("verify"))
            .json(&json!({"code": wrong}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some(40006)),
        "{body}"
    );
    let (status, body) = json_of(
        face.http
            .post(page("verify"))
            .json(&json!({"code": code}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("SUCCESS")),
        "{body}"
    );

    let shown = show(&face, id).await;
    assert_eq!(shown["status"], "SUCCESS");
    assert_eq!(shown["degraded"], true);
    assert_eq!(shown["method"], "SMS_AND_IDENTITY");
    assert!(shown["score"].is_null());
    assert!(
        shown["transactionNo"]
            .as_str()
            .unwrap()
            .starts_with("ESIGN_SMS_")
    );
    assert_eq!(
        event_types(&face, id).await,
        [
            "FaceVerificationInitiated",
            "FaceProviderUnavailable",
            "FaceVerificationDegraded",
            "DegradedSmsCodeSent",
            "DegradedSmsCodeFailed",
            "FaceVerificationDegradedSucceeded"
        ]
    );
    let log = serde_json::to_string(
        &events(&face, id)
            .await
            .iter()
            .map(|event| event.payload.as_value().clone())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(
        !log.contains(&format!("\"{code}\"")),
        "the code itself never reaches the log"
    );
    assert!(log.contains("\"degraded\":true"));

    // Without a mobile number there is no degraded check: 50001 as usual.
    let mut no_mobile = face_request("FACE_DEGRADED_NO_MOBILE");
    no_mobile["userInfo"]
        .as_object_mut()
        .unwrap()
        .remove("mobile");
    let (status, body) = json_of(
        face.api
            .post_json("/api/v1/verification/face/initiate", &no_mobile)
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::SERVICE_UNAVAILABLE, Some(50001)),
        "{body}"
    );
    rebuilt_tables_match(&face).await;
}
