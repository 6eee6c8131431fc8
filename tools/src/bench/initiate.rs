//! The `initiate` scenario: `POST /api/v1/contract/initiate` with two signers, as an upstream caller
//! sends it, from N connections. Every request carries a fresh `bizId`, so each one creates a
//! contract.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::client::{CallError, SignedClient};
use super::load::{self, Level};

/// The template every bench contract is made from.
pub const TEMPLATE_ID: &str = "BENCH_TEMPLATE_V1";

/// Publishes [`TEMPLATE_ID`] (a repeat is answered 409 and is fine).
pub async fn publish_template(client: &SignedClient) -> Result<(), CallError> {
    let body = json!({
        "templateId": TEMPLATE_ID,
        "name": "资金归集授权协议模板",
        "version": "1.0",
        "category": "RELATIONSHIP_AGREEMENT",
        "content": "<p>甲方 {{payerName}} 授权乙方 {{receiverName}} 按约定归集资金。</p>\
                    <p>本协议自双方签署之日起生效，有效期一年。</p>",
        "variableDefinitions": [
            {"key": "payerName", "name": "付款方名称", "required": true},
            {"key": "receiverName", "name": "收款方名称", "required": true}
        ],
        "signerConfig": {"minSigners": 1, "maxSigners": 2, "defaultSignMethods": ["FACE_AND_SMS"]},
        "active": true
    });
    match client.post("/api/v1/template", &body).await {
        Ok(_) => Ok(()),
        Err(CallError::Status { status, .. }) if status == reqwest::StatusCode::CONFLICT => Ok(()),
        Err(other) => Err(other),
    }
}

/// A two-signer initiate request with its own `bizId`.
pub fn initiate_body(biz_id: &str, callback_url: &str) -> Value {
    json!({
        "bizId": biz_id,
        "bizType": "RELATIONSHIP_AGREEMENT",
        "templateId": TEMPLATE_ID,
        "title": "天财分账资金归集授权协议",
        "variables": {"payerName": "XX品牌总部", "receiverName": "上海浦东店"},
        "signers": [
            {"partyId": "RECEIVER_001", "partyType": "RECEIVER", "name": "张三",
             "idCardNo": "11010519491231002X", "mobile": "13800138000",
             "signMethod": "FACE_AND_SMS", "notifyType": "H5_LINK", "sequence": 1},
            {"partyId": "PAYER_001", "partyType": "PAYER", "name": "李四",
             "idCardNo": "440304199001010011", "mobile": "13900139000",
             "signMethod": "FACE_AND_SMS", "notifyType": "H5_LINK", "sequence": 2}
        ],
        "callbackUrl": callback_url,
        "expireDays": 7,
        "archiveConfig": {"needArchive": true, "archiveProvider": "LOCAL_CA"}
    })
}

/// Runs the scenario at each connection count; `run_id` keeps `bizId`s unique across runs.
pub async fn run(
    client: &SignedClient,
    service_pid: u32,
    connections: &[usize],
    warmup: Duration,
    duration: Duration,
    callback_url: &str,
) -> Result<Vec<Level>, CallError> {
    publish_template(client).await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let callback_url: Arc<str> = Arc::from(callback_url);
    let mut levels = Vec::new();
    for &n in connections {
        let client = client.clone();
        let run_id = format!("{}-{n}", &run_id[..12]);
        let callback_url = Arc::clone(&callback_url);
        let level = load::run(
            n,
            warmup,
            duration,
            Some(service_pid),
            move |worker, iteration| {
                let client = client.clone();
                let body = initiate_body(
                    &format!("BENCH-{run_id}-{worker}-{iteration}"),
                    &callback_url,
                );
                async move {
                    client
                        .post("/api/v1/contract/initiate", &body)
                        .await
                        .map(|_| ())
                }
            },
        )
        .await;
        levels.push(level);
    }
    Ok(levels)
}
