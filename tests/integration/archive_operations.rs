//! Archiving as callers and operators meet it: a contract archived with several providers at once
//! (spec 4.2.5), each shown by the contract query and checked by verify; a record whose attempts
//! ran out waits, visibly, for an operator, who retries it through the admin route (administrators
//! only); and a face verification's result archived with a timestamp anyone can check (spec 5.1).

use std::time::Duration;

use aggregates::values::ArchiveProvider;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

use esign::store::{EventStore, StreamId};

use crate::helpers::{ADMIN, CALLER, RunningService, TestStore, json_of};
use crate::sealing::{FlakyTsa, service, verify};
use crate::signing_client::SigningClient;

crate::backend_tests!(
    a_contract_archived_with_two_providers_shows_both_in_query_and_verify,
    an_archive_out_of_attempts_waits_for_an_operator_who_retries_it,
    a_face_result_is_timestamped_and_logged_when_the_caller_asks,
);

/// Initiates a two-signer contract with this `archiveConfig`; returns the initiate answer.
pub(crate) async fn initiate(caller: &SigningClient, biz_id: &str, archive_config: Value) -> Value {
    let (status, body) = json_of(
        caller
            .post_json(
                "/api/v1/contract/initiate",
                &json!({
                    "archiveConfig": archive_config,
                    "bizId": biz_id,
                    "bizType": "RELATIONSHIP_AGREEMENT",
                    "templateId": "TPL_ARCHIVES",
                    "title": "天财分账资金归集授权协议",
                    "variables": {"payerName": "XX品牌总部"},
                    "signers": esign_tools::fixtures::two_signers(),
                    "callbackUrl": "http://127.0.0.1:9/unused",
                    "expireDays": 7
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Polls the contract until `done` holds for its archive records (60 s at most).
pub(crate) async fn contract_when(
    caller: &SigningClient,
    contract_id: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) =
            json_of(caller.get(&format!("/api/v1/contract/{contract_id}")).await).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        if body["archives"]
            .as_array()
            .is_some_and(|records| done(records))
        {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the archives never got there: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn all(status: &'static str) -> impl Fn(&[Value]) -> bool {
    move |records| !records.is_empty() && records.iter().all(|record| record["status"] == status)
}

async fn archive_event_types(service: &RunningService, contract_id: &str) -> Vec<String> {
    service
        .state
        .store
        .read_stream(&StreamId::new("contract", contract_id), 0)
        .await
        .unwrap()
        .iter()
        .map(|event| event.event_type.clone())
        .filter(|kind| kind.starts_with("Archive"))
        .collect()
}

async fn a_contract_archived_with_two_providers_shows_both_in_query_and_verify(t: TestStore) {
    let service = service(&t, |_| {}).await;
    let caller = service.client(CALLER);
    crate::journey::publish_template(&service.client(ADMIN), "TPL_ARCHIVES").await;

    // The spec's single-provider form answers as before, and lists its one record.
    let single = initiate(
        &caller,
        "REL_ARCHIVES_ONE",
        json!({"needArchive": true, "archiveProvider": "LOCAL_CA"}),
    )
    .await;
    assert_eq!(single["archiveInfo"]["provider"], "LOCAL_CA", "{single}");
    assert_eq!(single["archives"].as_array().map(Vec::len), Some(1));

    let created = initiate(
        &caller,
        "REL_ARCHIVES_TWO",
        json!({"archiveProviders": ["LOCAL_CA", "BLOCKCHAIN"]}),
    )
    .await;
    let planned = created["archives"].as_array().unwrap().clone();
    let providers: Vec<&str> = planned
        .iter()
        .map(|record| record["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["LOCAL_CA", "BLOCKCHAIN"], "{created}");
    assert_ne!(planned[0]["archiveId"], planned[1]["archiveId"]);
    assert_eq!(
        created["archiveInfo"], planned[0],
        "the spec's field is the first"
    );

    let contract_id = created["contractId"].as_str().unwrap().to_owned();
    crate::journey::sign_both(&service.state, &contract_id).await;
    let archived = contract_when(&caller, &contract_id, all("SUCCESS")).await;
    let records = archived["archives"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{archived}");
    for (record, planned) in records.iter().zip(&planned) {
        assert_eq!(
            record["archiveId"], planned["archiveId"],
            "ids fixed at initiation"
        );
        assert_eq!(record["attempts"], 1);
        assert_eq!(record["awaitingOperator"], false);
        assert!(record["certificateUrl"].is_string(), "{record}");
    }

    let verdict = verify(
        &caller,
        json!({"method": "CONTRACT_ID", "contractId": contract_id}),
    )
    .await;
    assert_eq!(verdict["valid"], true, "{verdict}");
    let checked = verdict["archiveInfo"]["records"].as_array().unwrap();
    let mut shown: Vec<(&str, Option<bool>)> = checked
        .iter()
        .map(|record| {
            (
                record["provider"].as_str().unwrap(),
                record["verified"].as_bool(),
            )
        })
        .collect();
    shown.sort();
    assert_eq!(
        shown,
        [("BLOCKCHAIN", Some(true)), ("LOCAL_CA", Some(true))],
        "{verdict}"
    );
    // Each record verifies by the file hash under its own archive id.
    for record in &planned {
        let by_hash = verify(
            &caller,
            json!({
                "method": "FILE_HASH",
                "fileHash": format!("sha256:{}", archived["documentHash"].as_str().unwrap()),
                "archiveId": record["archiveId"]
            }),
        )
        .await;
        assert_eq!(by_hash["valid"], true, "{by_hash}");
    }
}

/// A service whose only TSA answers 503 until told otherwise, with one attempt per record. Its
/// sweep runs when a contract is signed, not on a timer, so the test decides when retries run.
pub(crate) async fn one_attempt_behind_a_failing_tsa(t: &TestStore) -> (RunningService, FlakyTsa) {
    let tsa = FlakyTsa::start(usize::MAX).await;
    let target = tsa.target.clone();
    let tsa_url = tsa.url.clone();
    let service = service(t, move |config| {
        *target.lock().unwrap() = format!("{}/tsa", config.server.public_base_url);
        config.trust.tsa_urls = vec![tsa_url];
        config.trust.tsa_timeout_ms = 2_000;
        config.archive.max_attempts = 1;
        config.archive.interval_seconds = 3600;
    })
    .await;
    (service, tsa)
}

/// One sealing sweep at `now`, once the background one that the signature woke has let go.
pub(crate) async fn sweep_at(
    service: &RunningService,
    now: chrono::DateTime<chrono::Utc>,
) -> esign::app::sealing::SweepReport {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let report = esign::app::sealing::sweep(&service.state, now)
            .await
            .unwrap();
        if !report.skipped {
            return report;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweep stayed busy"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A signed contract archived with `TSA` whose only attempt failed; returns its id and query.
pub(crate) async fn exhausted_archive(service: &RunningService, biz_id: &str) -> (String, Value) {
    let caller = service.client(CALLER);
    crate::journey::publish_template(&service.client(ADMIN), "TPL_ARCHIVES").await;
    let created = initiate(&caller, biz_id, json!({"archiveProvider": "TSA"})).await;
    let contract_id = created["contractId"].as_str().unwrap().to_owned();
    crate::journey::sign_both(&service.state, &contract_id).await;
    let failed = contract_when(&caller, &contract_id, all("FAILED")).await;
    assert_eq!(failed["status"], "SIGNED");
    let record = &failed["archiveInfo"];
    assert_eq!(record["attempts"], 1, "{failed}");
    assert_eq!(record["awaitingOperator"], true, "{failed}");
    assert!(record["nextRetryAt"].is_null(), "{failed}");
    assert!(
        record["failReason"]
            .as_str()
            .is_some_and(|reason| reason.contains("unavailable")),
        "{failed}"
    );
    // The sweep leaves it alone, however long it waits.
    let later = chrono::Utc::now() + chrono::TimeDelta::days(2);
    let report = sweep_at(service, later).await;
    assert_eq!(
        (report.archived, report.archive_failures),
        (0, 0),
        "{report:?}"
    );
    (contract_id, failed)
}

async fn an_archive_out_of_attempts_waits_for_an_operator_who_retries_it(t: TestStore) {
    let (service, tsa) = one_attempt_behind_a_failing_tsa(&t).await;
    let (contract_id, failed) = exhausted_archive(&service, "REL_ARCHIVES_RETRY").await;
    let retry_path = format!("/api/v1/admin/contracts/{contract_id}/archives/retry");
    let order = json!({"provider": "TSA", "operator": "ops_zhang", "reason": "时间戳服务已恢复"});

    // Only administrators may order it; the caller who owns the contract is refused.
    let caller = service.client(CALLER);
    let (status, body) = json_of(caller.post_json(&retry_path, &order).await).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::FORBIDDEN, &json!(40300)),
        "{body}"
    );
    let (status, _) = json_of(
        caller
            .get(&format!("/api/v1/admin/contracts/{contract_id}/archives"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        archive_event_types(&service, &contract_id).await,
        ["ArchiveRequested", "ArchiveFailed"],
        "a refused order writes nothing"
    );

    let admin = service.client(ADMIN);
    let (status, body) = json_of(
        admin
            .post_json(&retry_path, &json!({"provider": "TSA"}))
            .await,
    )
    .await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::BAD_REQUEST, &json!(40001)),
        "{body}"
    );

    // Still down: the ordered attempt fails too, and the record waits again.
    let (status, body) = json_of(admin.post_json(&retry_path, &order).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["archives"][0]["status"], "FAILED", "{body}");
    assert_eq!(body["archives"][0]["attempts"], 1);
    assert_eq!(body["archives"][0]["awaitingOperator"], true);

    // The authority is back: the next order archives it, under the id named at initiation.
    tsa.failures.store(0, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = json_of(admin.post_json(&retry_path, &order).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["archives"][0]["status"], "SUCCESS", "{body}");
    let archived = contract_when(&caller, &contract_id, all("SUCCESS")).await;
    assert_eq!(
        archived["archiveInfo"]["archiveId"],
        failed["archiveInfo"]["archiveId"]
    );
    assert_eq!(archived["archiveInfo"]["awaitingOperator"], false);

    // A record that succeeded cannot be ordered again.
    let (status, body) = json_of(admin.post_json(&retry_path, &order).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    assert_eq!(
        archive_event_types(&service, &contract_id).await,
        [
            "ArchiveRequested",
            "ArchiveFailed",
            "ArchiveRetryOrdered",
            "ArchiveRequested",
            "ArchiveFailed",
            "ArchiveRetryOrdered",
            "ArchiveRequested",
            "ArchiveSucceeded"
        ]
    );
    // The audit trail names the operator and the administrator client that sent the order.
    let (status, trail) = json_of(
        caller
            .get(&format!("/api/v1/contract/{contract_id}/events"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{trail}");
    let orders: Vec<&Value> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["eventType"] == "ArchiveRetryOrdered")
        .collect();
    assert_eq!(orders.len(), 2, "{trail}");
    assert_eq!(orders[0]["payload"]["operator"], "ops_zhang", "{trail}");
    assert_eq!(orders[0]["payload"]["attemptsBefore"], 1, "{trail}");
    assert_eq!(orders[0]["metadata"]["clientId"], ADMIN.id, "{trail}");

    let verdict = verify(
        &caller,
        json!({"method": "CONTRACT_ID", "contractId": contract_id}),
    )
    .await;
    assert_eq!(verdict["valid"], true, "{verdict}");
    let report = esign::read::rebuild::check(&service.state.store, &service.state.pii)
        .await
        .unwrap();
    assert!(report.matches(), "the rebuilt tables differ: {report:?}");
}

/// Polls the verification until its result's archive records are all SUCCESS (60 s at most).
async fn verification_when_archived(caller: &SigningClient, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) =
            json_of(caller.get(&format!("/api/v1/verification/face/{id}")).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let records = body["resultArchive"]["archives"].as_array();
        if records.is_some_and(|records| all("SUCCESS")(records)) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the result was never archived: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn a_face_result_is_timestamped_and_logged_when_the_caller_asks(t: TestStore) {
    let service = service(&t, |config| {
        config.trust.tsa_urls = vec![format!("{}/tsa", config.server.public_base_url)];
    })
    .await;
    let caller = service.client(CALLER);
    let request = |biz_id: &str| {
        json!({
            "bizId": biz_id,
            "bizType": "RELATIONSHIP_BINDING",
            "userInfo": {"name": "张三", "idCardNo": "11010519491231002X", "mobile": "13800138000"},
            "callbackUrl": "http://127.0.0.1:9/unused",
        })
    };
    let mut asked = request("FACE_ARCHIVED_1");
    asked["archiveConfig"] = json!({"archiveProviders": ["TSA", "BLOCKCHAIN"]});
    let (status, created) = json_of(
        caller
            .post_json("/api/v1/verification/face/initiate", &asked)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["verificationId"].as_str().unwrap().to_owned();
    let (status, plain) = json_of(
        caller
            .post_json(
                "/api/v1/verification/face/initiate",
                &request("FACE_NOT_ARCHIVED_1"),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    let plain_id = plain["verificationId"].as_str().unwrap().to_owned();

    // The person passes at the sandbox provider; both results are recorded.
    let http = reqwest::Client::new();
    for verification_id in [&id, &plain_id] {
        let row = esign::store::query_tables::select_one(
            &service.state.store,
            projections::Table::FaceVerification,
            "verification_id = {1}",
            &[verification_id.as_str()],
        )
        .await
        .unwrap()
        .unwrap();
        let capture = row
            .text("provider_url")
            .expect("a provider page")
            .to_owned();
        let answer = http
            .post(&capture)
            .form(&[("outcome", "PASS"), ("score", "0.9123")])
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_redirection() || answer.status().is_success());
    }

    let shown = verification_when_archived(&caller, &id).await;
    assert_eq!(shown["status"], "SUCCESS");
    let archive = &shown["resultArchive"];
    let record = archive["record"].as_str().unwrap();
    let hash: [u8; 32] = sha2::Sha256::digest(record.as_bytes()).into();
    assert_eq!(archive["recordHash"], hex::encode(hash), "{shown}");
    let fields: Value = serde_json::from_str(record).unwrap();
    assert_eq!(fields["verificationId"], id.as_str());
    assert_eq!(fields["status"], "SUCCESS");
    assert_eq!(fields["score"], "0.9123");
    assert_eq!(fields["provider"], "sandbox");
    assert_eq!(fields["transactionNo"], shown["transactionNo"]);
    assert!(
        !record.contains("张三")
            && !record.contains("11010519491231002X")
            && !record.contains("13800138000"),
        "no personal data in the record: {record}"
    );
    let records = archive["archives"].as_array().unwrap();
    let mut providers: Vec<&str> = records
        .iter()
        .map(|record| record["provider"].as_str().unwrap())
        .collect();
    providers.sort();
    assert_eq!(providers, ["BLOCKCHAIN", "TSA"], "{shown}");
    for record in records {
        let provider: ArchiveProvider = record["provider"].as_str().unwrap().parse().unwrap();
        let verified = esign::providers::archive::verify_receipt(
            provider,
            &record["evidence"],
            &hash,
            &service.state.receipt_trust,
        );
        assert!(verified.is_ok(), "{provider:?}: {verified:?}");
        // Evidence for another record does not verify.
        let other = esign::providers::archive::verify_receipt(
            provider,
            &record["evidence"],
            &[7u8; 32],
            &service.state.receipt_trust,
        );
        assert!(
            other.is_err(),
            "{provider:?} verified a record it did not archive"
        );
    }
    let tsa = records
        .iter()
        .find(|record| record["provider"] == "TSA")
        .unwrap();
    assert_eq!(tsa["evidence"]["format"], "RFC3161");
    assert!(tsa["evidence"]["token"].is_string());
    let log = records
        .iter()
        .find(|record| record["provider"] == "BLOCKCHAIN")
        .unwrap();
    assert_eq!(
        log["evidence"]["contractId"],
        id.as_str(),
        "the leaf names the verification"
    );

    let plain = json_of(
        caller
            .get(&format!("/api/v1/verification/face/{plain_id}"))
            .await,
    )
    .await
    .1;
    assert!(
        plain.get("resultArchive").is_none(),
        "not asked, not archived: {plain}"
    );
    let events: Vec<String> = service
        .state
        .store
        .read_stream(&StreamId::new("verification", &id), 0)
        .await
        .unwrap()
        .iter()
        .map(|event| event.event_type.clone())
        .filter(|kind| kind.starts_with("FaceResultArchive"))
        .collect();
    assert_eq!(events.len(), 4, "{events:?}");
    let report = esign::read::rebuild::check(&service.state.store, &service.state.pii)
        .await
        .unwrap();
    assert!(report.matches(), "the rebuilt tables differ: {report:?}");
}
