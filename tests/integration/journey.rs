//! A signer's journey driven through the pipeline with domain commands (the H5 pages that issue
//! them for a person come later).

/// Drives one signer through the FACE_AND_SMS journey with domain commands through the pipeline (the
/// H5 pages that will issue them for a person are not built yet).
pub async fn sign_as(
    state: &esign::http::AppState,
    contract_id: &str,
    party: &str,
    name: &str,
    id_card_no: &str,
) {
    use aggregates::contract::{
        ContractAggregate, ContractCommand, OpenSignLink, RecordFaceVerification, SendSmsCode,
        Sign, VerifySmsCode,
    };
    use aggregates::face_verification::FaceVerificationFacts;
    use aggregates::values::{
        DeviceInfo, Digest, IdCardNumber, LinkId, PartyId, PersonName, TransactionNo,
        VerificationId, VerificationStatus,
    };
    use chrono::Utc;
    let signer = esign::queries::select_one(
        &state.store,
        projections::Table::ContractSigner,
        "contract_id = {1} AND party_id = {2}",
        &[contract_id, party],
    )
    .await
    .unwrap()
    .unwrap();
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
        ContractCommand::Sign(Sign {
            party_id: party_id.clone(),
            link_id: link_id.clone(),
            signature_image_hash: Digest::parse(&"cd".repeat(32)).unwrap(),
            ip_address: ip,
            device_info: DeviceInfo::parse("iPhone; iOS 16.0").unwrap(),
            transaction_no: TransactionNo::parse(&format!("SIGN_TXN_{party}")).unwrap(),
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
