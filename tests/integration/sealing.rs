//! From SIGNED to a sealed, archived, verifiable document, the way a caller sees it: the contract's
//! `documentUrl` downloads a PDF whose signatures outside validators accept, every archive provider
//! leaves evidence that verifies, `POST /api/v1/contract/verify` answers by contract id, by hash and
//! by file (and refuses a changed file), a failed archive is retried, and the evidence report is a
//! sealed PDF of its own.

use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

use esign::store::EventStore;

use crate::helpers::{ADMIN, CALLER, RunningService, TestStore, json_of};
use crate::receiver::{Behaviour, Receiver};
use crate::signing_client::SigningClient;

crate::backend_tests!(
    a_signed_contract_is_sealed_archived_downloaded_and_verified,
    a_failed_archive_keeps_the_contract_signed_and_is_retried,
    bad_verification_requests_name_the_field,
);

pub(crate) async fn service(
    t: &TestStore,
    configure: impl FnOnce(&mut esign::app::config::Config),
) -> RunningService {
    crate::helpers::start_service_with(t, &[CALLER, ADMIN], |config| {
        config.archive.interval_seconds = 1;
        configure(config);
    })
    .await
}

/// A two-signer contract archived with `provider`, signed by both; returns its id.
pub(crate) async fn signed_contract(
    service: &RunningService,
    provider: &str,
    callback: &str,
) -> String {
    let admin = service.client(ADMIN);
    let caller = service.client(CALLER);
    let template = format!("TPL_SEAL_{provider}");
    crate::journey::publish_template(&admin, &template).await;
    let contract_id = crate::journey::initiate_archived_contract(
        &caller,
        &template,
        &format!("REL_SEAL_{provider}"),
        callback,
        7,
        Some(provider),
    )
    .await;
    let state = &service.state;
    crate::journey::sign_both(state, &contract_id).await;
    contract_id
}

/// Polls the contract until its archive record is `status` (60 s at most).
pub(crate) async fn contract_when_archive_is(
    caller: &SigningClient,
    contract_id: &str,
    status: &str,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) =
            json_of(caller.get(&format!("/api/v1/contract/{contract_id}")).await).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        if body["archiveInfo"]["status"] == status {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the archive never became {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) async fn verify(caller: &SigningClient, request: Value) -> Value {
    let (status, body) = json_of(caller.post_json("/api/v1/contract/verify", &request).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn a_signed_contract_is_sealed_archived_downloaded_and_verified(t: TestStore) {
    let receiver = Receiver::start(Behaviour::Accept).await;
    let service = service(&t, |_| {}).await;
    let caller = service.client(CALLER);
    let contract_id = signed_contract(&service, "LOCAL_CA", &receiver.url).await;
    let contract = contract_when_archive_is(&caller, &contract_id, "SUCCESS").await;
    assert_eq!(contract["status"], "SIGNED");
    let document_hash = contract["documentHash"].as_str().unwrap().to_owned();

    // The document downloads through a short-lived signed URL, and is the sealed one.
    let url = contract["documentUrl"].as_str().unwrap();
    assert!(url.starts_with(&service.base), "{url}");
    assert!(
        url.contains("expires=") && url.contains("signature="),
        "{url}"
    );
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let pdf = response.bytes().await.unwrap().to_vec();
    assert_eq!(sha256_hex(&pdf), document_hash);
    assert!(pdf.starts_with(b"%PDF-"));
    // A URL with its signature or path changed is refused.
    let forged = url.replace("signature=", "signature=A");
    assert_eq!(
        reqwest::get(&forged).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let other = url.replace(&document_hash, &"0".repeat(64));
    assert_eq!(
        reqwest::get(&other).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    // The first revision is what the events render to, byte for byte, every time.
    let loaded = service
        .state
        .pipeline
        .load::<aggregates::contract::ContractAggregate>(&esign::store::StreamId::new(
            "contract",
            &contract_id,
        ))
        .await
        .unwrap();
    let aggregates::contract::ContractState::Signed {
        contract: facts,
        document: Some(sealed),
        ..
    } = &loaded.state
    else {
        panic!("the contract is not sealed: {:?}", loaded.state);
    };
    let first = esign::app::sealing::render_content(&service.state, facts)
        .await
        .unwrap();
    let again = esign::app::sealing::render_content(&service.state, facts)
        .await
        .unwrap();
    assert_eq!(first.rendered.bytes, again.rendered.bytes);
    assert!(pdf.starts_with(&first.rendered.bytes));
    assert_eq!(
        sealed.content_hash.as_ref().unwrap().as_hex(),
        hex::encode(first.sha256)
    );

    // By contract id: every signature valid (two signers and the seal), archived, events intact.
    let by_id = verify(
        &caller,
        json!({"method": "CONTRACT_ID", "contractId": contract_id}),
    )
    .await;
    assert_eq!(by_id["valid"], true, "{by_id}");
    assert_eq!(by_id["chainIntact"], true);
    assert_eq!(by_id["contentMatchesEvents"], true);
    let signatures = by_id["signatureInfo"].as_array().unwrap();
    assert_eq!(
        signatures.len(),
        4,
        "two signers, the seal, the document timestamp: {by_id}"
    );
    assert_eq!(signatures[0]["signer"], "张三");
    assert_eq!(signatures[1]["signer"], "李四");
    assert!(
        signatures
            .iter()
            .all(|signature| signature["valid"] == true)
    );
    assert!(
        signatures[2]["timestampTime"].is_string(),
        "the seal is timestamped"
    );
    assert!(signatures[0]["certificateIssuer"].is_string());
    assert!(signatures[0]["validFrom"].is_string() && signatures[0]["validTo"].is_string());
    assert_eq!(by_id["archiveInfo"]["archived"], true);
    assert_eq!(by_id["archiveInfo"]["records"][0]["verified"], true);

    // By hash and archive id, and by the file itself. The archive id is the one initiation named.
    let archive_id = contract["archiveInfo"]["archiveId"].as_str().unwrap();
    assert_eq!(facts.archive_id.as_ref().unwrap().as_str(), archive_id);
    let by_hash = verify(
        &caller,
        json!({"method": "FILE_HASH", "fileHash": format!("sha256:{document_hash}"), "archiveId": archive_id}),
    )
    .await;
    assert_eq!(by_hash["valid"], true, "{by_hash}");
    let wrong_hash = verify(
        &caller,
        json!({"method": "FILE_HASH", "fileHash": format!("sha256:{}", "ab".repeat(32)), "archiveId": archive_id}),
    )
    .await;
    assert_eq!(wrong_hash["valid"], false);
    assert!(
        wrong_hash["reason"].as_str().unwrap().contains("hash"),
        "{wrong_hash}"
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(&pdf);
    let by_file = verify(&caller, json!({"method": "FILE", "fileContent": encoded})).await;
    assert_eq!(by_file["valid"], true, "{by_file}");
    assert_eq!(by_file["contractId"], contract_id.as_str());

    // One byte changed inside the first signer's signed range: not valid, and why.
    let mut tampered = pdf.clone();
    let at = tampered.len() / 3;
    tampered[at] ^= 0x01;
    let changed = verify(
        &caller,
        json!({"method": "FILE", "fileContent": base64::engine::general_purpose::STANDARD.encode(&tampered)}),
    )
    .await;
    assert_eq!(changed["valid"], false, "{changed}");
    assert!(changed["reason"].is_string());
    // A PDF esign never sealed.
    let foreign = esign::documents::pdf::render(&esign::documents::pdf::Layout {
        title: "其他文件".into(),
        blocks: vec![esign::documents::pdf::Block::Paragraph(
            "与本平台无关".into(),
        )],
        footer: "OTHER".into(),
        signature_fields: Vec::new(),
    })
    .unwrap();
    let foreign = verify(
        &caller,
        json!({"method": "FILE", "fileContent": base64::engine::general_purpose::STANDARD.encode(&foreign.bytes)}),
    )
    .await;
    assert_eq!(foreign["valid"], false);
    // Another client's contract is not found.
    let stranger = service.client(ADMIN);
    let (status, _) = json_of(
        stranger
            .post_json(
                "/api/v1/contract/verify",
                &json!({"method": "CONTRACT_ID", "contractId": contract_id}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The caller heard of the archive, with a download URL signed when the callback was sent.
    let archived = loop {
        let received = receiver.received();
        if let Some(callback) = received
            .iter()
            .map(|callback| callback.json())
            .find(|body| body["eventType"] == "ContractArchivedEvent")
        {
            break callback;
        }
        receiver.wait_for(received.len() + 1).await;
    };
    assert_eq!(archived["archiveId"], archive_id);
    let callback_url = archived["documentUrl"].as_str().unwrap();
    assert!(callback_url.contains("signature="), "{callback_url}");
    assert_eq!(
        reqwest::get(callback_url).await.unwrap().status(),
        StatusCode::OK
    );
    // The archive certificate downloads too and is a sealed PDF.
    let certificate_url = contract["archiveInfo"]["certificateUrl"].as_str().unwrap();
    let certificate = reqwest::get(certificate_url).await.unwrap();
    assert_eq!(certificate.status(), StatusCode::OK);
    assert!(certificate.bytes().await.unwrap().starts_with(b"%PDF-"));

    // The public verify page behind the QR code.
    let page = reqwest::get(format!("{}/verify/{contract_id}", service.base))
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("文件真实有效"), "{html}");
    assert!(html.contains(&document_hash));
    assert!(!html.contains("张三") && !html.contains("11010519491231002X"));
}

/// A TSA in front of esign's own `/tsa` that answers 503 to its first `failures` requests: a
/// remote timestamp authority having a bad hour.
pub(crate) struct FlakyTsa {
    pub url: String,
    pub target: std::sync::Arc<std::sync::Mutex<String>>,
    pub failures: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FlakyTsa {
    pub async fn start(failures: usize) -> Self {
        use axum::body::Bytes;
        use axum::extract::State;
        type Shared = (
            std::sync::Arc<std::sync::Mutex<String>>,
            std::sync::Arc<std::sync::atomic::AtomicUsize>,
        );
        async fn answer(
            State((target, failures)): State<Shared>,
            body: Bytes,
        ) -> axum::response::Response {
            use axum::response::IntoResponse;
            use std::sync::atomic::Ordering;
            if failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                })
                .is_ok()
            {
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            let target = target.lock().unwrap().clone();
            let forwarded = reqwest::Client::new()
                .post(target)
                .header("content-type", "application/timestamp-query")
                .body(body.to_vec())
                .send()
                .await
                .unwrap();
            let status = forwarded.status();
            let bytes = forwarded.bytes().await.unwrap();
            (
                status,
                [("content-type", "application/timestamp-reply")],
                bytes,
            )
                .into_response()
        }
        let target = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let failures = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(failures));
        let router = axum::Router::new()
            .route("/tsa", axum::routing::post(answer))
            .with_state((target.clone(), failures.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/tsa", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            url,
            target,
            failures,
        }
    }
}

async fn a_failed_archive_keeps_the_contract_signed_and_is_retried(t: TestStore) {
    let tsa = FlakyTsa::start(usize::MAX).await;
    let target = tsa.target.clone();
    let tsa_url = tsa.url.clone();
    let service = service(&t, move |config| {
        *target.lock().unwrap() = format!("{}/tsa", config.server.public_base_url);
        config.trust.tsa_urls = vec![tsa_url];
        config.trust.tsa_timeout_ms = 2_000;
        config.archive.retry_base_seconds = 60;
    })
    .await;
    let caller = service.client(CALLER);
    let contract_id = signed_contract(&service, "TSA", "http://127.0.0.1:9/unused").await;
    let failed = contract_when_archive_is(&caller, &contract_id, "FAILED").await;
    assert_eq!(failed["status"], "SIGNED", "the contract stays SIGNED");
    assert!(
        failed["documentUrl"].is_string(),
        "the document is sealed all the same"
    );
    let row = esign::store::query_tables::select_one(
        &service.state.store,
        projections::Table::ContractArchive,
        "contract_id = {1}",
        &[&contract_id],
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(row.integer("attempts"), Some(1));
    assert!(
        row.text("fail_reason").unwrap().contains("unavailable"),
        "{:?}",
        row.text("fail_reason")
    );

    // The authority is back; the retry is due after its delay and succeeds with the same id.
    tsa.failures.store(0, std::sync::atomic::Ordering::SeqCst);
    let later = chrono::Utc::now() + chrono::TimeDelta::hours(1);
    let report = esign::app::sealing::sweep(&service.state, later)
        .await
        .unwrap();
    assert_eq!(report.archived, 1, "{report:?}");
    let archived = contract_when_archive_is(&caller, &contract_id, "SUCCESS").await;
    assert_eq!(
        archived["archiveInfo"]["archiveId"],
        failed["archiveInfo"]["archiveId"]
    );
    let events = service
        .state
        .store
        .read_stream(&esign::store::StreamId::new("contract", &contract_id), 0)
        .await
        .unwrap();
    let archive_events: Vec<&str> = events
        .iter()
        .map(|event| event.event_type.as_str())
        .filter(|kind| kind.starts_with("Archive"))
        .collect();
    assert_eq!(
        archive_events,
        [
            "ArchiveRequested",
            "ArchiveFailed",
            "ArchiveRequested",
            "ArchiveSucceeded"
        ]
    );
    let verdict = verify(
        &caller,
        json!({"method": "CONTRACT_ID", "contractId": contract_id}),
    )
    .await;
    assert_eq!(verdict["valid"], true, "{verdict}");
}

/// The document the service sealed (archived in the Merkle log) passes pdfsig, pyHanko and
/// `openssl ts`; `esign audit replay --report` writes an evidence report that is itself sealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sealed_document_and_the_evidence_report_validate_outside_esign() {
    let Some(t) = TestStore::new(crate::helpers::Backend::Sqlite).await else {
        return;
    };
    let service = service(&t, |_| {}).await;
    let caller = service.client(CALLER);
    let contract_id = signed_contract(&service, "BLOCKCHAIN", "http://127.0.0.1:9/unused").await;
    let contract = contract_when_archive_is(&caller, &contract_id, "SUCCESS").await;
    assert_eq!(contract["archiveInfo"]["provider"], "BLOCKCHAIN");
    let pdf = reqwest::get(contract["documentUrl"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let ca = service.state.ca.as_ref().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Each signer's signature, the seal, then the closing document timestamp.
    let seal = crate::pades::signature_contents(&pdf).swap_remove(2);
    let token = crate::pades::signature_timestamp_token(&seal);
    crate::pades::check_sealed_contract(
        dir.path(),
        ca,
        &pdf,
        &token,
        crate::pades::Sealed {
            signatures: 3,
            document_timestamps: 1,
            signature_timestamps: 3,
            seal: 2,
        },
    );
    let by_id = verify(
        &caller,
        json!({"method": "CONTRACT_ID", "contractId": contract_id}),
    )
    .await;
    assert_eq!(by_id["valid"], true, "{by_id}");
    assert_eq!(by_id["archiveInfo"]["records"][0]["verified"], true);
    assert_eq!(
        by_id["archiveInfo"]["timestampAuthority"],
        "local-merkle-log"
    );

    // The evidence report, from the command line on the same database and data directory.
    let report = dir.path().join("evidence.pdf");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_esign"))
        .env_clear()
        .env("ESIGN_DATABASE_URL", &t.url)
        .env(
            "ESIGN_SERVER_DATA_DIR",
            &service.state.config.server.data_dir,
        )
        .env("RUST_LOG", "warn")
        .args(["audit", "replay", &contract_id, "--report"])
        .arg(&report)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        crate::pades::text_of(&output)
    );
    let bytes = std::fs::read(&report).unwrap();
    let reports = dir.path().join("report-check");
    std::fs::create_dir_all(&reports).unwrap();
    let root = reports.join("root.pem");
    std::fs::write(&root, ca.root_pem().unwrap()).unwrap();
    if let Some(checked) = crate::pades::nss_database(&reports, &root)
        .and_then(|db| crate::pades::pdfsig(&db, &report))
    {
        crate::pades::assert_all_valid_and_trusted(&checked, 1);
    }
    if let Some(checked) = crate::pades::pyhanko_validate(&root, &report, &[]) {
        assert!(
            checked.status.success(),
            "{}",
            crate::pades::text_of(&checked)
        );
    }
    if let Some(text) = crate::pades::tool("pdftotext", &[report.to_str().unwrap(), "-"]) {
        let text = String::from_utf8_lossy(&text.stdout).into_owned();
        for expected in [
            &contract_id,
            "ContractSigned",
            "DocumentSealed",
            "ArchiveSucceeded",
        ] {
            assert!(
                text.contains(expected),
                "{expected} missing from the report: {text}"
            );
        }
        assert!(
            !text.contains("11010519491231002X"),
            "a full ID number in the report"
        );
    }
    assert!(bytes.starts_with(b"%PDF-"));
}

/// Seals a just-signed contract now instead of waiting for the sweep's next tick (the sweep may
/// have got there first, or be finishing, which is as good).
pub async fn seal_now(state: &esign::http::AppState, contract_id: &str) {
    let sealed = esign::app::sealing::seal(state, contract_id, chrono::Utc::now()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let row = esign::store::query_tables::select_one(
            &state.store,
            projections::Table::Contract,
            "contract_id = {1}",
            &[contract_id],
        )
        .await
        .unwrap()
        .unwrap();
        if row.text("document_hash").is_some() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the contract is not sealed: {sealed:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn bad_verification_requests_name_the_field(t: TestStore) {
    let service = service(&t, |_| {}).await;
    let caller = service.client(CALLER);
    let too_large = base64::engine::general_purpose::STANDARD.encode(vec![b'%'; 769 * 1024]);
    for (request, field) in [
        (json!({}), "method"),
        (json!({"method": "BY_MAGIC"}), "method"),
        (json!({"method": "CONTRACT_ID"}), "contractId"),
        (json!({"method": "FILE_HASH"}), "fileHash"),
        (
            json!({"method": "FILE_HASH", "fileHash": "sha256:xyz"}),
            "fileHash",
        ),
        (json!({"method": "FILE"}), "fileContent"),
        (
            json!({"method": "FILE", "fileContent": "not base64!"}),
            "fileContent",
        ),
    ] {
        let (status, body) =
            json_of(caller.post_json("/api/v1/contract/verify", &request).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{request}: {body}");
        assert_eq!(body["code"], 40001, "{body}");
        assert_eq!(body["details"][0]["field"], field, "{request}: {body}");
    }
    // A file over 768 KiB does not fit the signed API's body limit: verify it by FILE_HASH.
    let (status, body) = json_of(
        caller
            .post_json(
                "/api/v1/contract/verify",
                &json!({"method": "FILE", "fileContent": too_large}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some(41300))
    );
    // Well formed, but nothing of this caller's: 404, like any other client's resource.
    for request in [
        json!({"method": "CONTRACT_ID", "contractId": "CONTRACT_NOPE"}),
        json!({"method": "FILE_HASH", "fileHash": format!("sha256:{}", "ab".repeat(32))}),
        json!({"method": "FILE_HASH", "fileHash": format!("sha256:{}", "ab".repeat(32)), "archiveId": "ARCHIVE_NOPE"}),
    ] {
        let (status, body) =
            json_of(caller.post_json("/api/v1/contract/verify", &request).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{request}: {body}");
    }
}
