//! The benchmark-only plain CRUD write mode (`esign serve --bench-plain-crud`): initiate and the reads
//! work and write the same query-table rows, and nothing reaches the log or the outbox.

use esign::app::pipeline::WriteMode;
use esign::store::{EventStore, StreamId};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN, TestStore, json_of, start_service_writing};

crate::backend_tests!(a_plain_crud_initiate_writes_rows_and_no_events);

/// Every event in the store, in chain order.
async fn all_events(store: &esign::store::Store) -> Vec<esign::store::RecordedEvent> {
    let mut cursor = None;
    let mut events = Vec::new();
    loop {
        let page = store.read_chain(cursor, 1000).await.unwrap();
        let Some(last) = page.last() else {
            return events;
        };
        cursor = Some(esign::store::ChainCursor {
            stream_id: last.stream_id.clone(),
            stream_version: last.stream_version,
        });
        events.extend(page);
    }
}

async fn a_plain_crud_initiate_writes_rows_and_no_events(t: TestStore) {
    let service = start_service_writing(&t, &[ADMIN], WriteMode::PlainCrudBench, |config| {
        config.server.public_base_url = "https://esign.test".into()
    })
    .await
    .unwrap();
    let api = service.client(ADMIN);
    let store = &service.state.store;

    // Templates are still recorded: initiate reads its template from the log.
    let template = json!({
        "templateId": "TPL_PLAIN", "name": "资金归集授权协议模板", "version": "1.0",
        "category": "RELATIONSHIP_AGREEMENT",
        "content": "<h1>资金归集授权协议</h1><p>{{payerName}} 授权 {{receiverName}}</p>",
        "variableDefinitions": [
            {"key": "payerName", "name": "付款方名称", "required": true},
            {"key": "receiverName", "name": "收款方名称", "required": true}
        ],
        "signerConfig": {"minSigners": 1, "maxSigners": 2, "defaultSignMethods": ["FACE_AND_SMS"]},
        "active": true
    });
    let (status, body) = json_of(api.post_json("/api/v1/template", &template).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = all_events(store).await;
    assert!(
        before
            .iter()
            .all(|e| e.stream_id.as_str().starts_with("template-"))
    );

    let contract = json!({
        "bizId": "REL_PLAIN", "bizType": "RELATIONSHIP_AGREEMENT", "templateId": "TPL_PLAIN",
        "title": "天财分账资金归集授权协议",
        "variables": {"payerName": "XX品牌总部", "receiverName": "上海浦东店"},
        "signers": esign_tools::fixtures::two_signers(),
        "callbackUrl": "https://auth.example.com/callback/e-sign",
        "expireDays": 7
    });
    let (status, created) =
        json_of(api.post_json("/api/v1/contract/initiate", &contract).await).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let contract_id = created["contractId"].as_str().unwrap().to_owned();
    let tasks = created["signTasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    for task in tasks {
        assert!(
            task["shortUrl"]
                .as_str()
                .unwrap()
                .starts_with("https://esign.test/s/"),
            "{task}"
        );
    }

    let (status, shown) = json_of(api.get(&format!("/api/v1/contract/{contract_id}")).await).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["status"], "CREATED");
    assert_eq!(shown["bizId"], "REL_PLAIN");
    assert_eq!(shown["signers"][0]["partyId"], "RECEIVER_001");
    assert_eq!(shown["signers"][1]["partyId"], "PAYER_001");

    // The query table still enforces bizId + bizType per client.
    let (status, again) =
        json_of(api.post_json("/api/v1/contract/initiate", &contract).await).await;
    assert_eq!(
        (status, again["code"].as_i64()),
        (StatusCode::CONFLICT, Some(40002)),
        "{again}"
    );

    // Nothing reached the log or the outbox.
    let stream = StreamId::new("contract", &contract_id);
    assert!(store.read_stream(&stream, 0).await.unwrap().is_empty());
    assert_eq!(
        all_events(store).await.len(),
        before.len(),
        "no event was appended"
    );
    let callbacks = store.outbox().list(None, 100).await.unwrap();
    assert!(callbacks.is_empty(), "{callbacks:?}");

    // With no events, a later command finds no contract (documented: only initiate and reads work).
    let revoke = json!({"reason": "用户要求取消", "operator": "system_admin"});
    let response = api
        .post_json(&format!("/api/v1/contract/{contract_id}/revoke"), &revoke)
        .await;
    assert_ne!(response.status(), StatusCode::OK);
    assert_eq!(all_events(store).await.len(), before.len());
}

#[tokio::test]
async fn production_mode_refuses_plain_crud() {
    let Some(t) = TestStore::new(crate::helpers::Backend::Sqlite).await else {
        return;
    };
    let started = start_service_writing(&t, &[], WriteMode::PlainCrudBench, |config| {
        config.server.mode = aggregates::values::Mode::Production;
    })
    .await;
    let error = started.err();
    assert!(
        matches!(
            error,
            Some(esign::http::server::StartupError::Services(
                esign::app::services::StartupError::PlainCrudInProduction
            ))
        ),
        "{error:?}"
    );
}
