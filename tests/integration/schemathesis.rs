//! Schemathesis against the real binary: every operation of `/openapi.json`, requests signed by
//! `tests/schemathesis/hooks.py`, checked for server errors and for responses outside the document
//! (status, content type, body schema). Seeded first with a published template, a contract, an SMS
//! template and notice and a face verification, so generated requests reach the 200 answers too.
//!
//! Needs `schemathesis` (the version `.ci/run` pins) on the PATH; without it the tests are skipped
//! (`crate::helpers::skip`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::helpers::{TestStore, json_of};
use crate::signing_client::SigningClient;

crate::backend_tests!(every_operation_conforms_to_the_document_under_schemathesis);

/// What `hooks.py` puts on a prepared request, printed as JSON: the request as sent and its headers.
const SIGN_A_REQUEST: &str = r#"
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("hooks", sys.argv[1])
hooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hooks)
vector = hooks.signature(
    "k3x9QvP0sLw7Zb2Yt6Nf4Rh8Jd1Mc5Ga", "POST", "/api/v1/contract/initiate",
    "name=%E5%BC%A0%E4%B8%89&b=2&a=hello+world&a=1", b'{"bizId":"ORDER-1001","bizType":"LOAN"}',
    "1700000000", "b1a8e3f0c2d94e7a")
import requests
request = requests.Request(
    "POST", "http://127.0.0.1:1/api/v1/contract/C%201/revoke",
    params=[("z", "张三 + 李四"), ("a", "~x*y"), ("a", "")],
    json={"reason": "用户要求取消", "operator": "ops"}, auth=hooks.SIGNER).prepare()
print(json.dumps({"vector": vector, "pathUrl": request.path_url,
                  "body": request.body.decode("utf-8"), "headers": dict(request.headers)}))
"#;

/// The hook signs as the service checks: the published test vector, and a prepared request with a
/// query that needs re-encoding and a UTF-8 body, checked with the service's own canonical form.
#[test]
fn the_hook_signs_requests_as_the_service_checks_them() {
    if schemathesis().is_none() {
        return;
    }
    let output = Command::new("python3")
        .env("ESIGN_CLIENT_ID", CLIENT_ID)
        .env("ESIGN_CLIENT_SECRET", CLIENT_SECRET)
        .args(["-c", SIGN_A_REQUEST])
        .arg(hooks_file())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let signed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        signed["vector"],
        "1e509ca053396b81afc9fab9892cd9c2eb78d5d2ef577e76b76cbfec4c4003f8"
    );
    let headers = &signed["headers"];
    assert_eq!(headers["X-Client-Id"], CLIENT_ID);
    let timestamp = headers["X-Timestamp"].as_str().unwrap();
    let nonce = headers["X-Nonce"].as_str().unwrap();
    let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "a current timestamp: {timestamp}");
    assert!(nonce.len() >= 16 && nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
    let (path, query) = signed["pathUrl"].as_str().unwrap().split_once('?').unwrap();
    assert_eq!(path, "/api/v1/contract/C%201/revoke");
    let canonical = esign::http::auth::canonical_request(
        "POST",
        path,
        Some(query),
        timestamp,
        nonce,
        signed["body"].as_str().unwrap().as_bytes(),
    );
    assert_eq!(
        headers["X-Signature"],
        esign::http::auth::sign(CLIENT_SECRET.as_bytes(), &canonical),
        "{canonical}"
    );
}

const CLIENT_ID: &str = "schemathesis";
const CLIENT_SECRET: &str = "schemathesis-secret-0123456789abcdef";
const TEMPLATE_ID: &str = "ST_TEMPLATE";
const SMS_TEMPLATE: &str = "ST_SMS_NOTICE";
/// The checks every response must pass.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance";
/// Bounds per backend: cases per operation and the whole run's time budget in seconds. A deeper run
/// sets `ESIGN_SCHEMATHESIS_MAX_EXAMPLES` / `ESIGN_SCHEMATHESIS_MAX_TIME`; `ESIGN_SCHEMATHESIS_SEED`
/// repeats a reported run.
const MAX_EXAMPLES: &str = "25";
const MAX_TIME_SECONDS: &str = "60";

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The schemathesis version line, or `None` (skip) when it is not installed.
fn schemathesis() -> Option<String> {
    match Command::new("schemathesis").arg("--version").output() {
        Ok(output) if output.status.success() => {
            Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        }
        outcome => {
            let why = match outcome {
                Ok(output) => String::from_utf8_lossy(&output.stderr).into_owned(),
                Err(error) => error.to_string(),
            };
            crate::helpers::skip("schemathesis", format_args!("it is not installed ({why})"));
            None
        }
    }
}

/// `esign serve` as a child process, killed when the test ends.
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(t: &TestStore, dir: &Path) -> Serve {
    let config = dir.join("esign.toml");
    std::fs::write(
        &config,
        format!("[[clients]]\nid = \"{CLIENT_ID}\"\nsecret = \"{CLIENT_SECRET}\"\nadmin = true\n"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_esign"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ESIGN_DATABASE_URL", &t.url)
        .env("ESIGN_SERVER_BIND", "127.0.0.1:0")
        .env("ESIGN_SERVER_DATA_DIR", dir.join("data"))
        .env("RUST_LOG", "error")
        .current_dir(dir)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        reader.read_line(&mut first).unwrap();
        // Keep draining, so the service never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        first
    })
    .await
    .unwrap();
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("serve did not print its address: {line:?}"));
    Serve {
        base: format!("http://{address}"),
        child,
    }
}

/// Resources for the path and query parameters, so requests can reach existing ones. Returns the
/// values schemathesis should use, by parameter name.
async fn seed(client: &SigningClient, base: &str) -> Value {
    crate::journey::publish_template(client, TEMPLATE_ID).await;
    // The callback goes nowhere useful; it only gives the outbox a record to list and redeliver.
    let callback = format!("{base}/healthz");
    let contract_id =
        crate::journey::initiate_contract(client, TEMPLATE_ID, "ST-CONTRACT-1", &callback, 7).await;

    let (status, body) = json_of(
        client
            .post_json(
                "/api/v1/notification/sms-templates",
                &json!({
                    "templateCode": SMS_TEMPLATE,
                    "version": "1",
                    "name": "打款验证通知",
                    "content": "您尾号{accountTail}的账户收到一笔验证打款。",
                    "variables": [{"key": "accountTail", "name": "账户尾号", "maxLength": 4}],
                    "active": true
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, notice) = json_of(
        client
            .post_json(
                "/api/v1/notification/sms",
                &json!({
                    "bizId": "ST-NOTICE-1",
                    "bizType": "PAYMENT_VERIFICATION",
                    "mobile": "13800138000",
                    "templateCode": SMS_TEMPLATE,
                    "variables": {"accountTail": "6789"}
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{notice}");

    let (status, verification) = json_of(
        client
            .post_json(
                "/api/v1/verification/face/initiate",
                &json!({
                    "bizId": "ST-FACE-1",
                    "bizType": "RELATIONSHIP_BINDING",
                    "userInfo": {"name": "张三", "idCardNo": "11010519491231002X",
                                 "mobile": "13800138000"},
                    "callbackUrl": callback,
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{verification}");
    let verification_url = url::Url::parse(verification["verificationUrl"].as_str().unwrap())
        .expect("a verification url");
    let token = verification_url
        .query_pairs()
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .expect("the verification url carries its token");

    // A status change queues a callback: revoking a second contract gives the outbox a record.
    let revoked =
        crate::journey::initiate_contract(client, TEMPLATE_ID, "ST-CONTRACT-2", &callback, 7).await;
    let (status, body) = json_of(
        client
            .post_json(
                &format!("/api/v1/contract/{revoked}/revoke"),
                &json!({"reason": "用户要求取消", "operator": "ops"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let callback_id = queued_callback(client).await;

    json!({
        "contractId": contract_id,
        "partyId": "RECEIVER_001",
        "templateId": TEMPLATE_ID,
        "templateCode": SMS_TEMPLATE,
        "noticeId": notice["noticeId"],
        "verificationId": verification["verificationId"],
        "token": token,
        "callbackId": callback_id,
    })
}

/// The id of the first callback in the outbox, once the revocation's callback is queued.
async fn queued_callback(client: &SigningClient) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, listing) = json_of(client.get("/api/v1/admin/callbacks").await).await;
        assert_eq!(status, 200, "{listing}");
        let id = &listing["callbacks"][0]["id"];
        if !id.is_null() {
            return id.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no callback queued after a revocation: {listing}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// `schemathesis.toml` pinning the parameters to the seeded resources. `version` and `id` mean
/// different things on different paths, so those are set per operation group.
fn schemathesis_config(seeded: &Value) -> String {
    let text = |name: &str| match &seeded[name] {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let global = [
        "contractId",
        "partyId",
        "templateId",
        "templateCode",
        "noticeId",
        "verificationId",
        "token",
    ]
    .iter()
    .map(|name| format!("{name} = {}\n", toml_string(&text(name))))
    .collect::<String>();
    format!(
        "[parameters]\n{global}\n\
         [[operations]]\ninclude-path-regex = '^/api/v1/template/'\nparameters = {{ version = \"1.0\" }}\n\n\
         [[operations]]\ninclude-path-regex = '^/api/v1/notification/sms-templates/'\nparameters = {{ version = \"1\" }}\n\n\
         [[operations]]\ninclude-path-regex = '^/api/v1/admin/callbacks/'\nparameters = {{ id = {} }}\n",
        toml_string(&text("callbackId"))
    )
}

fn toml_string(text: &str) -> String {
    // A JSON string is a valid TOML basic string for the ids and tokens used here.
    Value::String(text.to_owned()).to_string()
}

fn hooks_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/hooks.py")
}

async fn every_operation_conforms_to_the_document_under_schemathesis(t: TestStore) {
    let Some(version) = schemathesis() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let service = serve(&t, dir.path()).await;
    let client = SigningClient::new(&service.base, CLIENT_ID, CLIENT_SECRET);
    let seeded = seed(&client, &service.base).await;
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, schemathesis_config(&seeded)).unwrap();

    let schema_url = format!("{}/openapi.json", service.base);
    let run = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || {
            Command::new("schemathesis")
                .env("ESIGN_CLIENT_ID", CLIENT_ID)
                .env("ESIGN_CLIENT_SECRET", CLIENT_SECRET)
                .env("SCHEMATHESIS_HOOKS", hooks_file())
                .env("NO_COLOR", "1")
                .current_dir(&dir)
                .arg("--config-file")
                .arg(&config)
                .args(["run", &schema_url])
                .args(["--checks", CHECKS])
                .arg("--max-examples")
                .arg(setting("ESIGN_SCHEMATHESIS_MAX_EXAMPLES", MAX_EXAMPLES))
                .arg("--max-time")
                .arg(setting("ESIGN_SCHEMATHESIS_MAX_TIME", MAX_TIME_SECONDS))
                .args(
                    std::env::var("ESIGN_SCHEMATHESIS_SEED")
                        .map(|seed| vec!["--seed".to_owned(), seed])
                        .unwrap_or_default(),
                )
                .arg("--no-color")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let report = format!(
        "{version}\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        run.status.success(),
        "schemathesis found failures ({:?} backend):\n{report}",
        t.backend
    );
    // 401 is a documented answer, so a signing mistake would pass unnoticed: schemathesis lists the
    // operations that answered nothing but 401/403, and no signed operation may be among them.
    let unauthorised = rejected_operations(&report);
    assert!(
        unauthorised.iter().all(|line| !line.contains(" /api/v1/")),
        "signed operations answered only 401/403: {unauthorised:?}\n{report}"
    );
    // A run that tested nothing would pass as well; the summary names every operation.
    let operations = documented_operations(&service).await;
    assert!(
        report.contains(&format!("Tested: {operations}")),
        "schemathesis did not test all {operations} operations:\n{report}"
    );
    eprintln!("schemathesis on {:?}:\n{report}", t.backend);
}

/// The operations under the report's "Authentication failed" warning (`- POST /path` lines).
fn rejected_operations(report: &str) -> Vec<&str> {
    let Some(start) = report.find("Authentication failed:") else {
        return Vec::new();
    };
    report[start..]
        .lines()
        .skip(1)
        .take_while(|line| !line.contains("💡"))
        .map(str::trim)
        .filter(|line| line.starts_with("- "))
        .collect()
}

/// How many operations `/openapi.json` documents.
async fn documented_operations(service: &Serve) -> usize {
    let document: Value = reqwest::get(format!("{}/openapi.json", service.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|key| ["get", "post", "put", "patch", "delete"].contains(&key.as_str()))
                .count()
        })
        .sum()
}
