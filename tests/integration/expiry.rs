//! The expiry scheduler with an injected clock: sweeps at chosen times expire contracts, signers'
//! links and face verifications by commands, with their callbacks; several schedulers expire each
//! item once; a sweep after downtime catches up on everything due.

use chrono::{TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN, CALLER, RunningService, TestStore, json_of};
use crate::receiver::{Behaviour, Receiver};
use crate::signing_client::SigningClient;

crate::backend_tests!(
    contracts_links_and_verifications_expire_at_their_deadlines_with_callbacks,
    several_schedulers_expire_each_item_once_and_catch_up_after_downtime,
);

async fn start(t: &TestStore) -> (SigningClient, RunningService) {
    let service = crate::helpers::start_service_with(t, &[CALLER, ADMIN], |config| {
        config.callbacks.enabled = false;
        config.expiry.enabled = false;
        config.expiry.batch_size = 4;
    })
    .await;
    let admin = service.client(ADMIN);
    crate::journey::publish_template(&admin, "TPL_EXPIRY").await;
    (service.client(CALLER), service)
}

async fn initiate_contract(
    caller: &SigningClient,
    biz_id: &str,
    days: i64,
    callback: &str,
) -> String {
    crate::journey::initiate_contract(caller, "TPL_EXPIRY", biz_id, callback, days).await
}

async fn link_statuses(service: &RunningService, contract_id: &str) -> Vec<(String, String)> {
    esign::store::query_tables::select(
        &service.state.store,
        projections::Table::ContractSigner,
        "contract_id = {1}",
        &[contract_id],
        Some("sequence"),
    )
    .await
    .unwrap()
    .iter()
    .map(|row| {
        (
            row.text("party_id").unwrap().to_owned(),
            row.text("link_status").unwrap_or("-").to_owned(),
        )
    })
    .collect()
}

async fn contracts_links_and_verifications_expire_at_their_deadlines_with_callbacks(t: TestStore) {
    let receiver = Receiver::start(Behaviour::Accept).await;
    let (caller, service) = start(&t).await;
    let contract_id = initiate_contract(&caller, "EXP_ALL", 7, &receiver.url).await;
    let (status, verification) = json_of(
        caller
            .post_json(
                "/api/v1/verification/face/initiate",
                &json!({
                    "bizId": "EXP_FACE",
                    "bizType": "RELATIONSHIP_BINDING",
                    "userInfo": {"name": "张三", "idCardNo": "11010519491231002X"},
                    "callbackUrl": receiver.url,
                    "expireMinutes": 30
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{verification}");
    let verification_id = verification["verificationId"].as_str().unwrap().to_owned();
    let scheduler = &service.state.expiry;
    let now = Utc::now();

    let report = scheduler.sweep(now).await.unwrap();
    assert_eq!(
        (report.contracts, report.sign_links, report.verifications),
        (0, 0, 0),
        "nothing is due yet"
    );

    // 31 minutes on: the H5 signer's 30-minute link and the verification are past their deadlines.
    let report = scheduler.sweep(now + TimeDelta::minutes(31)).await.unwrap();
    assert_eq!(
        (report.contracts, report.sign_links, report.verifications),
        (0, 1, 1)
    );
    assert_eq!(
        link_statuses(&service, &contract_id).await,
        [
            ("RECEIVER_001".to_owned(), "ACTIVE".to_owned()),
            ("PAYER_001".to_owned(), "EXPIRED".to_owned())
        ]
    );
    let (_, shown) = json_of(
        caller
            .get(&format!("/api/v1/verification/face/{verification_id}"))
            .await,
    )
    .await;
    assert_eq!(shown["status"], "EXPIRED");
    let again = scheduler.sweep(now + TimeDelta::minutes(32)).await.unwrap();
    assert_eq!(
        (again.contracts, again.sign_links, again.verifications),
        (0, 0, 0),
        "an expired item is not expired twice"
    );

    // The initiator re-issues the dead link.
    let (status, _) = json_of(
        caller
            .post_json(
                &format!("/api/v1/contract/{contract_id}/signers/PAYER_001/sign-url"),
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(link_statuses(&service, &contract_id).await[1].1, "ACTIVE");

    // Eight days on the contract itself expires; its links go with it.
    let report = scheduler.sweep(now + TimeDelta::days(8)).await.unwrap();
    assert_eq!(
        (report.contracts, report.sign_links, report.verifications),
        (1, 0, 0)
    );
    let (_, contract) = json_of(caller.get(&format!("/api/v1/contract/{contract_id}")).await).await;
    assert_eq!(contract["status"], "EXPIRED");

    // Each expiry is in the audit trail as an event by the scheduler, and was announced.
    let (_, trail) = json_of(
        caller
            .get(&format!("/api/v1/contract/{contract_id}/events"))
            .await,
    )
    .await;
    let kinds: Vec<(&str, &str)> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["eventType"].as_str().unwrap(),
                event["metadata"]["actor"].as_str().unwrap(),
            )
        })
        .filter(|(kind, _)| kind.ends_with("Expired"))
        .collect();
    assert_eq!(
        kinds,
        [
            ("SignLinkExpired", "system:expiry"),
            ("ContractExpired", "system:expiry")
        ]
    );
    let dispatcher = &service.state.dispatcher;
    while dispatcher.run_once(Utc::now()).await.unwrap() > 0 {}
    let mut announced: Vec<(String, String)> = receiver
        .wait_for(2)
        .await
        .iter()
        .map(|callback| {
            let body = callback.json();
            (
                body["eventType"].as_str().unwrap().to_owned(),
                body["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    announced.sort();
    assert_eq!(
        announced,
        [
            (
                "ContractStatusChangedEvent".to_owned(),
                "EXPIRED".to_owned()
            ),
            (
                "FaceVerificationCompletedEvent".to_owned(),
                "EXPIRED".to_owned()
            )
        ]
    );
}

async fn several_schedulers_expire_each_item_once_and_catch_up_after_downtime(t: TestStore) {
    let (caller, service) = start(&t).await;
    const CONTRACTS: usize = 11;
    let mut ids = Vec::new();
    for n in 0..CONTRACTS {
        ids.push(
            initiate_contract(
                &caller,
                &format!("EXP_MANY_{n}"),
                1,
                "https://auth.example.com/cb",
            )
            .await,
        );
    }
    let state = &service.state;
    let other = esign::app::expiry::ExpiryScheduler::new(
        state.store.clone(),
        state.pipeline.clone(),
        state.metrics.clone(),
        3,
    );
    // The service was "down" for three days: one sweep (batches of 3 and 4) catches up on all.
    let later = Utc::now() + TimeDelta::days(3);
    let (first, second) = tokio::join!(state.expiry.sweep(later), other.sweep(later));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(
        first.contracts + second.contracts,
        CONTRACTS as u64,
        "{first:?} {second:?}"
    );
    assert_eq!(first.failed + second.failed, 0);
    for contract_id in &ids {
        let (_, trail) = json_of(
            caller
                .get(&format!("/api/v1/contract/{contract_id}/events"))
                .await,
        )
        .await;
        let expired = trail["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["eventType"] == "ContractExpired")
            .count();
        assert_eq!(expired, 1, "{contract_id}");
    }
    // Nothing is left for a third sweep.
    let third = state
        .expiry
        .sweep(later + TimeDelta::hours(1))
        .await
        .unwrap();
    assert_eq!(third.contracts, 0);
}
