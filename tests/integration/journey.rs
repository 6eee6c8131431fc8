//! A signer's journey driven through the pipeline with domain commands (`h5_sign.rs` drives the same
//! journey through the signing page), and the template and contract every journey starts from.

/// Takes one signer of the two-signer contract (`esign_tools::fixtures::two_signers`, by party id)
/// through the FACE_AND_SMS checks with domain commands through the pipeline (link opened, SMS code
/// and face verified), for tests about what follows; the signing page's own tests are in
/// `h5_sign.rs`.
pub async fn pass_checks(state: &esign::http::AppState, contract_id: &str, party: &str) {
    let fixture = esign_tools::fixtures::two_signers();
    let signer = fixture
        .as_array()
        .unwrap()
        .iter()
        .find(|signer| signer["partyId"] == party)
        .unwrap_or_else(|| panic!("{party} is not a signer of the two-signer fixture"));
    let (name, id_card_no) = (
        signer["name"].as_str().unwrap(),
        signer["idCardNo"].as_str().unwrap(),
    );
    use aggregates::contract::{
        ContractAggregate, ContractCommand, OpenSignLink, RecordFaceVerification, SendSmsCode,
        VerifySmsCode,
    };
    use aggregates::face_verification::FaceVerificationFacts;
    use aggregates::values::{
        Digest, IdCardNumber, LinkId, PartyId, PersonName, VerificationId, VerificationStatus,
    };
    use chrono::Utc;
    let signer = signer_row(state, contract_id, party).await;
    let link_id = LinkId::parse(signer.text("link_id").unwrap()).unwrap();
    let party_id = PartyId::parse(party).unwrap();
    let code = Digest::parse(&"ab".repeat(32)).unwrap();
    let ip: std::net::IpAddr = "192.168.1.1".parse().unwrap();
    let stream = esign::store::StreamId::new("contract", contract_id);
    let metadata = esign::store::EventMetadata {
        actor: format!("signer:{party}"),
        ..Default::default()
    };
    let now = Utc::now();
    let commands = vec![
        ContractCommand::OpenSignLink(OpenSignLink {
            party_id: party_id.clone(),
            link_id: link_id.clone(),
            ip_address: ip,
            user_agent: None,
            now,
        }),
        ContractCommand::SendSmsCode(SendSmsCode {
            party_id: party_id.clone(),
            link_id: link_id.clone(),
            code_hash: code.clone(),
            policy: Default::default(),
            now,
        }),
        ContractCommand::VerifySmsCode(VerifySmsCode {
            party_id: party_id.clone(),
            link_id: link_id.clone(),
            code_hash: code.clone(),
            policy: Default::default(),
            now,
        }),
        ContractCommand::RecordFaceVerification(RecordFaceVerification {
            party_id: party_id.clone(),
            link_id: link_id.clone(),
            verification: FaceVerificationFacts {
                verification_id: VerificationId::parse("FACE_VERIFY_TEST").unwrap(),
                status: VerificationStatus::Success,
                name: PersonName::parse(name).unwrap(),
                id_card_no: IdCardNumber::parse(id_card_no, now.date_naive()).unwrap(),
                verified_at: Some(now),
            },
            now,
        }),
    ];
    for command in commands {
        state
            .pipeline
            .execute::<ContractAggregate>(&stream, &metadata, |_| command.clone())
            .await
            .unwrap();
    }
}

/// The signer's `contract_signer` row.
async fn signer_row(
    state: &esign::http::AppState,
    contract_id: &str,
    party: &str,
) -> esign::store::query_tables::RowView {
    esign::store::query_tables::select_one(
        &state.store,
        projections::Table::ContractSigner,
        "contract_id = {1} AND party_id = {2}",
        &[contract_id, party],
    )
    .await
    .unwrap()
    .unwrap()
}

/// The signer's confirmation after [`pass_checks`]: their signature through the signing use case.
pub async fn confirm(state: &esign::http::AppState, contract_id: &str, party: &str) {
    use aggregates::contract::ContractAggregate;
    let signer = signer_row(state, contract_id, party).await;
    let party_id = aggregates::values::PartyId::parse(party).unwrap();
    let ip: std::net::IpAddr = "192.168.1.1".parse().unwrap();
    let stream = esign::store::StreamId::new("contract", contract_id);
    let metadata = esign::store::EventMetadata {
        actor: format!("signer:{party}"),
        ..Default::default()
    };
    let signature_image =
        aggregates::values::SignatureImage::parse(crate::h5_sign::signature_png()).unwrap();
    // The signature itself through the signing use case, as the page's confirmation makes it:
    // the signer's revision of the document, made now.
    let link = esign::app::signing::SignLink {
        token: String::new(),
        hash: signer.text("link_token_hash").unwrap().to_owned(),
        contract_id: aggregates::values::ContractId::parse(contract_id).unwrap(),
        party_id,
        state: state
            .pipeline
            .load::<ContractAggregate>(&stream)
            .await
            .unwrap()
            .state,
    };
    esign::app::signing::sign(
        state,
        &link,
        &metadata,
        ip,
        Some(signature_image),
        Some("iPhone; iOS 16.0"),
    )
    .await
    .unwrap();
}

/// Drives one signer of the two-signer contract through [`pass_checks`] and [`confirm`].
pub async fn sign_as(state: &esign::http::AppState, contract_id: &str, party: &str) {
    pass_checks(state, contract_id, party).await;
    confirm(state, contract_id, party).await;
}

/// Both signers of the two-signer contract sign, in order.
pub async fn sign_both(state: &esign::http::AppState, contract_id: &str) {
    sign_as(state, contract_id, "RECEIVER_001").await;
    sign_as(state, contract_id, "PAYER_001").await;
}

/// Publishes an active contract template `template_id` (version 1.0) with one required variable,
/// `payerName`.
pub async fn publish_template(admin: &crate::signing_client::SigningClient, template_id: &str) {
    let (status, body) = crate::helpers::json_of(
        admin
            .post_json(
                "/api/v1/template",
                &serde_json::json!({
                    "templateId": template_id,
                    "name": "资金归集授权协议模板",
                    "version": "1.0",
                    "category": "RELATIONSHIP_AGREEMENT",
                    "content": "<p>{{payerName}} 授权</p>",
                    "variableDefinitions": [{"key": "payerName", "name": "付款方名称", "required": true}],
                    "signerConfig": {"minSigners": 1, "maxSigners": 2, "defaultSignMethods": ["FACE_AND_SMS"]},
                    "active": true
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
}

/// Initiates a contract on a [`publish_template`] template with two signers in order: 张三
/// (`RECEIVER_001`, SMS link, 24 h) then 李四 (`PAYER_001`, H5 link, 30 min). Returns its id.
pub async fn initiate_contract(
    caller: &crate::signing_client::SigningClient,
    template_id: &str,
    biz_id: &str,
    callback_url: &str,
    expire_days: i64,
) -> String {
    initiate_archived_contract(caller, template_id, biz_id, callback_url, expire_days, None).await
}

/// Like [`initiate_contract`], archived with `archive_provider` once signed.
pub async fn initiate_archived_contract(
    caller: &crate::signing_client::SigningClient,
    template_id: &str,
    biz_id: &str,
    callback_url: &str,
    expire_days: i64,
    archive_provider: Option<&str>,
) -> String {
    let archive_config = match archive_provider {
        Some(provider) => serde_json::json!({"needArchive": true, "archiveProvider": provider}),
        None => serde_json::json!({"needArchive": false}),
    };
    let (status, body) = crate::helpers::json_of(
        caller
            .post_json(
                "/api/v1/contract/initiate",
                &serde_json::json!({
                    "archiveConfig": archive_config,
                    "bizId": biz_id,
                    "bizType": "RELATIONSHIP_AGREEMENT",
                    "templateId": template_id,
                    "title": "天财分账资金归集授权协议",
                    "variables": {"payerName": "XX品牌总部"},
                    "signers": esign_tools::fixtures::two_signers(),
                    "callbackUrl": callback_url,
                    "webhookConfig": {"headers": {"Authorization": "Bearer callback-token"}},
                    "expireDays": expire_days
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    match archive_provider {
        Some(provider) => {
            assert_eq!(body["archiveInfo"]["provider"], provider, "{body}");
            assert_eq!(body["archiveInfo"]["status"], "PENDING", "{body}");
            assert!(body["archiveInfo"]["archiveId"].is_string(), "{body}");
        }
        None => assert!(body["archiveInfo"].is_null(), "{body}"),
    }
    body["contractId"]
        .as_str()
        .expect("a contract id")
        .to_owned()
}
