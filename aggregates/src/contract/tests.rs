//! Given/when/then tests of the Contract aggregate, one rule each.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::errors::ErrorKind;
use crate::template::{SignerConfig, VariableDefinition, VariableKey};
use crate::testing::{at, given, history, t0, then, types, when};
use crate::values::{
    ArchiveStatus, ContractStatus, DisplayName, NotifyType, SignMethod, SignStatus, TemplateId,
    TemplateVersion, VerificationId, VerificationStatus,
};
use crate::{DomainEvent, ValidationErrors};

// ---------------------------------------------------------------------------------------------------
// Fixtures

const RECEIVER: &str = "RECEIVER_001";
const PAYER: &str = "PAYER_001";
const WITNESS: &str = "WITNESS_001";
const RECEIVER_ID: &str = "11010519491231002X";
const PAYER_ID: &str = "440304199001010011";
const WITNESS_ID: &str = "320102198512120022";

fn digest(n: u64) -> Digest {
    Digest::parse(&format!("{n:064x}")).unwrap()
}

fn party(id: &str) -> PartyId {
    PartyId::parse(id).unwrap()
}

fn link_id(id: &str) -> LinkId {
    LinkId::parse(id).unwrap()
}

fn ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1))
}

fn definition(key: &str, required: bool) -> VariableDefinition {
    VariableDefinition {
        key: VariableKey::parse(key).unwrap(),
        name: DisplayName::parse(key).unwrap(),
        required,
        sample: None,
    }
}

fn template() -> TemplateVersionFacts {
    TemplateVersionFacts {
        template_id: TemplateId::parse("TEMPLATE_COLLECTION_V1").unwrap(),
        version: TemplateVersion::parse("1.0").unwrap(),
        active: true,
        variable_definitions: vec![
            definition("payerName", true),
            definition("receiverName", true),
            definition("note", false),
        ],
        signer_config: SignerConfig::new(1, 3, vec![SignMethod::FaceAndSms]).unwrap(),
    }
}

fn signer_request(
    party_id: &str,
    name: &str,
    id_card_no: &str,
    method: &str,
    notify: &str,
    sequence: i64,
) -> SignerRequest {
    SignerRequest {
        party_id: Some(party_id.into()),
        party_type: Some(
            if party_id == PAYER {
                "PAYER"
            } else {
                "RECEIVER"
            }
            .into(),
        ),
        name: Some(name.into()),
        id_card_no: Some(id_card_no.into()),
        mobile: Some("13800138000".into()),
        sign_method: Some(method.into()),
        notify_type: Some(notify.into()),
        sequence: Some(sequence),
        link_expire_minutes: None,
        organization: None,
        places: Vec::new(),
    }
}

/// Two signers in order: the receiver (face + SMS, H5 link) first, then the payer (CA certificate, SMS
/// link).
fn request() -> ContractRequest {
    ContractRequest {
        biz_id: Some("REL_202310270001".into()),
        biz_type: Some("RELATIONSHIP_AGREEMENT".into()),
        template_id: Some("TEMPLATE_COLLECTION_V1".into()),
        template_version: None,
        title: Some("天财分账资金归集授权协议".into()),
        variables: BTreeMap::from([
            ("payerName".to_string(), serde_json::json!("XX品牌总部")),
            ("receiverName".to_string(), serde_json::json!("上海浦东店")),
        ]),
        signers: vec![
            signer_request(RECEIVER, "张三", RECEIVER_ID, "FACE_AND_SMS", "H5_LINK", 1),
            signer_request(PAYER, "李四", PAYER_ID, "CA_CERT", "SMS", 2),
        ],
        callback_url: Some("https://auth.example.com/callback/e-sign".into()),
        webhook_config: None,
        expire_days: None,
        archive_config: Some(ArchiveConfigRequest {
            need_archive: Some(true),
            archive_provider: Some("TSA".into()),
            archive_providers: None,
        }),
        documents: Vec::new(),
    }
}

fn links_for(request: &ContractRequest) -> Vec<NewSignLink> {
    request
        .signers
        .iter()
        .enumerate()
        .map(|(index, _)| NewSignLink {
            link_id: link_id(&format!("L{index}")),
            token_hash: digest(100 + index as u64),
        })
        .collect()
}

fn initiate_with(request: ContractRequest) -> ContractCommand {
    ContractCommand::Initiate(InitiateContract {
        contract_id: ContractId::parse("CONTRACT_1").unwrap(),
        client_id: ClientId::parse("auth-system").unwrap(),
        sign_links: links_for(&request),
        request,
        template: Some(template()),
        preview_hash: Some(digest(1)),
        documents: Vec::new(),
        places: Vec::new(),
        archive_id: crate::values::ArchiveId::parse("ARCHIVE_TEST").unwrap(),
        link_lifetimes: crate::values::LinkLifetimes::default(),
        other_archive_ids: Vec::new(),
        seals: std::collections::BTreeMap::new(),
        mode: Mode::Production,
        now: t0(),
    })
}

fn initiate() -> ContractCommand {
    initiate_with(request())
}

/// Three signers: the receiver first, then the payer and a witness in parallel.
fn initiate_three() -> ContractCommand {
    let mut three = request();
    three.signers = vec![
        signer_request(RECEIVER, "张三", RECEIVER_ID, "FACE_AND_SMS", "H5_LINK", 1),
        signer_request(PAYER, "李四", PAYER_ID, "CA_CERT", "SMS", 2),
        signer_request(WITNESS, "王五", WITNESS_ID, "CA_CERT", "SMS", 2),
    ];
    initiate_with(three)
}

fn initiate_single() -> ContractCommand {
    let mut single = request();
    single.signers.truncate(1);
    initiate_with(single)
}

/// The state after a command that must be accepted.
fn then_state(state: &ContractState, command: ContractCommand) -> ContractState {
    let mut next = state.clone();
    for event in when(state, command).unwrap() {
        ContractAggregate::evolve(&mut next, &event);
    }
    next
}

fn invalid_fields(result: Result<Vec<ContractEvent>, ContractError>) -> Vec<String> {
    match result {
        Err(ContractError::Invalid(errors)) => errors
            .fields()
            .iter()
            .map(|error| error.field.clone())
            .collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// The initial links are `L0`, `L1`, ... in signer order.
fn initial_link(party_id: &str) -> &'static str {
    match party_id {
        RECEIVER => "L0",
        PAYER => "L1",
        _ => "L2",
    }
}

fn open(party_id: &str, link: &str, minutes: i64) -> ContractCommand {
    ContractCommand::OpenSignLink(OpenSignLink {
        party_id: party(party_id),
        link_id: link_id(link),
        ip_address: ip(),
        user_agent: Some(UserAgent::parse("Mozilla/5.0 (iPhone; CPU iPhone OS 16_0)").unwrap()),
        now: at(minutes),
    })
}

fn reissue(party_id: &str, link: &str, token: u64, minutes: i64) -> ContractCommand {
    ContractCommand::IssueSignLink(IssueSignLink {
        party_id: party(party_id),
        link: NewSignLink {
            link_id: link_id(link),
            token_hash: digest(token),
        },
        ttl: None,
        defaults: crate::values::LinkLifetimes::default(),
        now: at(minutes),
    })
}

fn send_sms(party_id: &str, link: &str, code: u64, minutes: i64) -> ContractCommand {
    ContractCommand::SendSmsCode(SendSmsCode {
        party_id: party(party_id),
        link_id: link_id(link),
        code_hash: digest(code),
        policy: SmsCodePolicy::default(),
        now: at(minutes),
    })
}

fn verify_sms(party_id: &str, link: &str, code: u64, minutes: i64) -> ContractCommand {
    ContractCommand::VerifySmsCode(VerifySmsCode {
        party_id: party(party_id),
        link_id: link_id(link),
        code_hash: digest(code),
        policy: SmsCodePolicy::default(),
        now: at(minutes),
    })
}

fn facts(status: VerificationStatus, name: &str, id_card_no: &str) -> FaceVerificationFacts {
    FaceVerificationFacts {
        verification_id: VerificationId::parse("FACE_VERIFY_1").unwrap(),
        status,
        name: PersonName::parse(name).unwrap(),
        id_card_no: id_card_no.parse().unwrap(),
        verified_at: Some(t0()),
    }
}

fn face(
    party_id: &str,
    link: &str,
    verification: FaceVerificationFacts,
    minutes: i64,
) -> ContractCommand {
    ContractCommand::RecordFaceVerification(RecordFaceVerification {
        party_id: party(party_id),
        link_id: link_id(link),
        verification,
        now: at(minutes),
    })
}

fn certificate_of(name: &str, id_card_no: Option<&str>) -> CertificateFacts {
    CertificateFacts {
        serial_number: CertificateSerial::parse("0A1B2C").unwrap(),
        issuer: LongText::parse("CFCA").unwrap(),
        subject_name: PersonName::parse(name).unwrap(),
        subject_id_card_no: id_card_no.map(|id| id.parse().unwrap()),
        not_before: at(-60 * 24 * 365),
        not_after: at(60 * 24 * 365),
    }
}

fn certificate(
    party_id: &str,
    link: &str,
    facts: CertificateFacts,
    minutes: i64,
) -> ContractCommand {
    ContractCommand::VerifyCertificate(VerifyCertificate {
        party_id: party(party_id),
        link_id: link_id(link),
        certificate: facts,
        now: at(minutes),
    })
}

/// The smallest image `SignatureImage` accepts: a PNG signature and an IHDR of 600 x 200.
fn signature_image() -> crate::values::SignatureImage {
    let mut bytes = vec![0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    bytes.extend_from_slice(&13u32.to_be_bytes());
    bytes.extend_from_slice(b"IHDR");
    bytes.extend_from_slice(&600u32.to_be_bytes());
    bytes.extend_from_slice(&200u32.to_be_bytes());
    bytes.extend_from_slice(&[8, 6, 0, 0, 0]);
    crate::values::SignatureImage::parse(bytes).unwrap()
}

fn sign(party_id: &str, link: &str, minutes: i64) -> ContractCommand {
    ContractCommand::Sign(Sign {
        party_id: party(party_id),
        link_id: link_id(link),
        signature_image: Some(signature_image()),
        signature_image_hash: Some(digest(7)),
        ip_address: ip(),
        device_info: DeviceInfo::parse("iPhone; iOS 16.0").unwrap(),
        transaction_no: TransactionNo::parse("SIGN_TXN_001").unwrap(),
        revision: None,
        now: at(minutes),
    })
}

fn reject(party_id: &str, link: &str, minutes: i64) -> ContractCommand {
    ContractCommand::Reject(Reject {
        party_id: party(party_id),
        link_id: link_id(link),
        reason: Reason::parse("条款不同意").unwrap(),
        ip_address: ip(),
        now: at(minutes),
    })
}

fn revoke(minutes: i64) -> ContractCommand {
    ContractCommand::Revoke(Revoke {
        reason: Reason::parse("用户要求取消").unwrap(),
        operator: Operator::parse("system_admin").unwrap(),
        now: at(minutes),
    })
}

fn force(status: ForcedStatus, minutes: i64) -> ContractCommand {
    ContractCommand::Force(ForceTransition {
        status,
        reason: Reason::parse("签署方已注销").unwrap(),
        operator: Operator::parse("ops_zhang").unwrap(),
        admin: ClientId::parse("admin").unwrap(),
        now: at(minutes),
    })
}

fn expire(minutes: i64) -> ContractCommand {
    ContractCommand::Expire(Expire { now: at(minutes) })
}

fn seal(hash: u64) -> ContractCommand {
    ContractCommand::SealDocument(SealDocument {
        document_hash: digest(hash),
        details: Default::default(),
        now: at(100),
    })
}

fn renew(previous: u64, hash: u64) -> ContractCommand {
    ContractCommand::RenewDocumentTimestamp(RenewDocumentTimestamp {
        previous_hash: digest(previous),
        document_hash: digest(hash),
        timestamp_authority: None,
        timestamped_at: at(200),
        valid_until: Some(at(300)),
        now: at(200),
    })
}

fn archive(id: &str, provider: ArchiveProvider) -> ContractCommand {
    ContractCommand::RequestArchive(RequestArchive {
        archive_id: ArchiveId::parse(id).unwrap(),
        provider,
        now: at(101),
    })
}

fn archived(provider: ArchiveProvider, transaction: &str) -> ContractCommand {
    ContractCommand::RecordArchiveSuccess(RecordArchiveSuccess {
        provider,
        transaction_no: TransactionNo::parse(transaction).unwrap(),
        certificate_url: None,
        authority: None,
        evidence: None,
        now: at(102),
    })
}

fn archive_failed(provider: ArchiveProvider) -> ContractCommand {
    ContractCommand::RecordArchiveFailure(RecordArchiveFailure {
        provider,
        reason: Reason::parse("TSA timeout").unwrap(),
        now: at(102),
    })
}

/// The identity checks the fixture's signer needs, through the given link, at minute `minutes`.
fn checks(party_id: &str, link: &str, minutes: i64) -> Vec<ContractCommand> {
    match party_id {
        RECEIVER => vec![
            send_sms(party_id, link, 42, minutes),
            verify_sms(party_id, link, 42, minutes),
            face(
                party_id,
                link,
                facts(VerificationStatus::Success, "张三", RECEIVER_ID),
                minutes,
            ),
        ],
        PAYER => vec![certificate(
            party_id,
            link,
            certificate_of("李四", Some(PAYER_ID)),
            minutes,
        )],
        _ => vec![certificate(
            party_id,
            link,
            certificate_of("王五", None),
            minutes,
        )],
    }
}

/// Checks and signature of a signer through their initial link.
fn signs(party_id: &str, minutes: i64) -> Vec<ContractCommand> {
    let link = initial_link(party_id);
    let mut commands = checks(party_id, link, minutes);
    commands.push(sign(party_id, link, minutes));
    commands
}

fn fully_signed() -> Vec<ContractCommand> {
    [vec![initiate()], signs(RECEIVER, 1), signs(PAYER, 2)].concat()
}

fn conflict(result: Result<Vec<ContractEvent>, ContractError>) -> ContractConflict {
    match result {
        Err(ContractError::Conflict(conflict)) => conflict,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------------
// Initiation

#[test]
fn an_initiation_creates_the_contract_and_one_link_per_signer() {
    let events = when(&ContractState::default(), initiate()).unwrap();
    assert_eq!(
        types(&events),
        vec!["ContractInitiated", "SignLinkIssued", "SignLinkIssued"]
    );
    let state = ContractAggregate::replay(&events);
    assert_eq!(state.status(), Some(ContractStatus::Created));
    let contract = state.contract().unwrap();
    assert_eq!(contract.expires_at, at(7 * 24 * 60));
    let ContractContent::Template {
        template_version,
        preview_hash,
        variables,
        ..
    } = &contract.content
    else {
        panic!("a template contract: {:?}", contract.content);
    };
    assert_eq!(template_version.as_str(), "1.0");
    assert_eq!(preview_hash, &digest(1));
    assert_eq!(contract.archive_providers, vec![ArchiveProvider::Tsa]);
    assert_eq!(variables.get("payerName").unwrap(), "XX品牌总部");
}

#[test]
fn an_h5_link_lives_thirty_minutes_and_an_sms_link_a_day() {
    let state = given(history(vec![initiate()]));
    let contract = state.contract().unwrap();
    assert_eq!(
        contract
            .signer(&party(RECEIVER))
            .unwrap()
            .link()
            .unwrap()
            .expires_at,
        at(30)
    );
    assert_eq!(
        contract
            .signer(&party(PAYER))
            .unwrap()
            .link()
            .unwrap()
            .expires_at,
        at(24 * 60)
    );
}

#[test]
fn a_link_never_outlives_its_contract() {
    let mut short = request();
    short.expire_days = Some(1);
    let state = given(history(vec![initiate_with(short)]));
    let ttl = ContractCommand::IssueSignLink(IssueSignLink {
        party_id: party(PAYER),
        link: NewSignLink {
            link_id: link_id("LONG"),
            token_hash: digest(9),
        },
        ttl: Some(LinkTtl::parse_minutes(3 * 24 * 60).unwrap()),
        defaults: crate::values::LinkLifetimes::default(),
        now: at(60),
    });
    let state = then_state(&state, ttl);
    let contract = state.contract().unwrap();
    assert_eq!(
        contract
            .signer(&party(PAYER))
            .unwrap()
            .link()
            .unwrap()
            .expires_at,
        contract.expires_at
    );
}

#[test]
fn names_id_and_mobile_numbers_are_marked_sensitive_in_the_initiation_event() {
    let events = when(&ContractState::default(), initiate()).unwrap();
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(
        json["signers"][0]["idCardNo"],
        serde_json::json!({"$pii": RECEIVER_ID})
    );
    assert_eq!(
        json["signers"][0]["mobile"],
        serde_json::json!({"$pii": "13800138000"})
    );
    assert_eq!(
        json["signers"][0]["name"],
        serde_json::json!({"$pii": "张三"})
    );
    assert_eq!(
        json["signers"][1]["signMethod"],
        serde_json::json!("CA_CERT")
    );
    assert_eq!(json["previewHash"], serde_json::json!(digest(1).as_hex()));
    let link = serde_json::to_value(&events[1]).unwrap();
    assert_eq!(link["tokenHash"], serde_json::json!(digest(100).as_hex()));
}

#[test]
fn an_initiation_stored_before_names_were_sealed_still_reads() {
    let events = when(&ContractState::default(), initiate()).unwrap();
    let mut stored = serde_json::to_value(&events[0]).unwrap();
    for signer in stored["signers"].as_array_mut().unwrap() {
        let name = signer["name"]["$pii"].clone();
        signer["name"] = name;
    }
    assert_eq!(stored["signers"][0]["name"], serde_json::json!("张三"));
    let old: ContractEvent = serde_json::from_value(stored).unwrap();
    assert_eq!(old, events[0]);
    let state = given(vec![old.clone()]);
    let contract = state.contract().unwrap();
    assert_eq!(contract.signers[0].name.as_str(), "张三");
    // Written again, the name is marked: only the service's sealing decides what reaches storage.
    let again = serde_json::to_value(&old).unwrap();
    assert_eq!(
        again["signers"][0]["name"],
        serde_json::json!({"$pii": "张三"})
    );
}

#[test]
fn an_invalid_name_in_either_stored_form_is_refused() {
    let events = when(&ContractState::default(), initiate()).unwrap();
    for name in [serde_json::json!(" "), serde_json::json!({"$pii": "a\nb"})] {
        let mut stored = serde_json::to_value(&events[0]).unwrap();
        stored["signers"][0]["name"] = name;
        assert!(serde_json::from_value::<ContractEvent>(stored).is_err());
    }
}

#[test]
fn an_initiation_names_every_invalid_field() {
    let mut bad = request();
    bad.biz_id = None;
    bad.variables.remove("payerName");
    bad.variables
        .insert("payerNmae".into(), serde_json::json!("typo"));
    bad.signers[1].id_card_no = Some("440304199001010012".into());
    bad.signers[1].party_id = Some(RECEIVER.into());
    bad.signers[1].sequence = Some(0);
    bad.signers[1].sign_method = Some("PEN".into());
    bad.callback_url = Some("http://auth.example.com/cb".into());
    bad.expire_days = Some(91);
    bad.archive_config = Some(ArchiveConfigRequest {
        need_archive: Some(true),
        archive_provider: Some("IPFS".into()),
        archive_providers: None,
    });
    assert_eq!(
        invalid_fields(when(&ContractState::default(), initiate_with(bad))),
        vec![
            "bizId",
            "variables.payerNmae",
            "variables.payerName",
            "signers[1].partyId",
            "signers[1].idCardNo",
            "signers[1].signMethod",
            "signers[1].sequence",
            "callbackUrl",
            "expireDays",
            "archiveConfig.archiveProvider",
        ]
    );
}

#[test]
fn a_missing_template_version_is_unavailable() {
    let mut command = initiate();
    if let ContractCommand::Initiate(initiation) = &mut command {
        initiation.template = None;
    }
    let error = when(&ContractState::default(), command).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TemplateUnavailable);
}

#[test]
fn an_inactive_template_version_is_unavailable() {
    let mut command = initiate();
    if let ContractCommand::Initiate(initiation) = &mut command
        && let Some(template) = &mut initiation.template
    {
        template.active = false;
    }
    assert!(matches!(
        when(&ContractState::default(), command),
        Err(ContractError::TemplateUnavailable(
            TemplateUnavailable::Inactive { .. }
        ))
    ));
}

#[test]
fn a_pinned_version_the_facts_do_not_describe_is_unavailable() {
    let mut pinned = request();
    pinned.template_version = Some("2.0".into());
    assert!(matches!(
        when(&ContractState::default(), initiate_with(pinned)),
        Err(ContractError::TemplateUnavailable(
            TemplateUnavailable::NotFound { .. }
        ))
    ));
}

#[test]
fn more_signers_than_the_template_allows_are_refused() {
    let mut crowded = request();
    for index in 0..3 {
        crowded.signers.push(signer_request(
            &format!("EXTRA_{index}"),
            "赵六",
            WITNESS_ID,
            "CA_CERT",
            "SMS",
            3,
        ));
    }
    assert_eq!(
        invalid_fields(when(&ContractState::default(), initiate_with(crowded))),
        vec!["signers"]
    );
}

#[test]
fn blank_null_and_structured_variables_are_refused_by_name() {
    let mut bad = request();
    bad.variables
        .insert("payerName".into(), serde_json::json!("  "));
    bad.variables
        .insert("receiverName".into(), serde_json::Value::Null);
    bad.variables
        .insert("note".into(), serde_json::json!(["a", "b"]));
    assert_eq!(
        invalid_fields(when(&ContractState::default(), initiate_with(bad))),
        vec![
            "variables.note",
            "variables.payerName",
            "variables.receiverName"
        ]
    );
}

#[test]
fn numbers_and_booleans_are_accepted_as_variable_text() {
    let mut numeric = request();
    numeric
        .variables
        .insert("note".into(), serde_json::json!(12.5));
    assert_eq!(numeric.variable_texts().get("note").unwrap(), "12.5");
    let state = given(history(vec![initiate_with(numeric)]));
    let ContractContent::Template { variables, .. } = &state.contract().unwrap().content else {
        panic!("a template contract");
    };
    assert_eq!(variables.get("note").unwrap(), "12.5");
}

#[test]
fn sign_method_notify_type_and_sequence_have_defaults() {
    let mut plain = request();
    for signer in &mut plain.signers {
        signer.sign_method = None;
        signer.notify_type = None;
        signer.sequence = None;
    }
    let state = given(history(vec![initiate_with(plain)]));
    for signer in &state.contract().unwrap().signers {
        assert_eq!(signer.sign_method, SignMethod::FaceAndSms);
        assert_eq!(signer.notify_type, NotifyType::H5Link);
        assert_eq!(signer.sequence, 1);
    }
}

#[test]
fn archiving_defaults_to_none_and_to_tsa_when_needed() {
    let providers = |config: Option<ArchiveConfigRequest>| {
        let mut configured = request();
        configured.archive_config = config;
        given(history(vec![initiate_with(configured)]))
            .contract()
            .unwrap()
            .archive_providers
            .clone()
    };
    assert_eq!(providers(None), vec![]);
    let needed = ArchiveConfigRequest {
        need_archive: Some(true),
        archive_provider: None,
        archive_providers: None,
    };
    assert_eq!(providers(Some(needed)), vec![ArchiveProvider::Tsa]);
    let implied = ArchiveConfigRequest {
        need_archive: None,
        archive_provider: Some("BLOCKCHAIN".into()),
        archive_providers: None,
    };
    assert_eq!(providers(Some(implied)), vec![ArchiveProvider::Blockchain]);
}

fn listed(providers: &[&str]) -> ContractRequest {
    let mut configured = request();
    configured.archive_config = Some(ArchiveConfigRequest {
        need_archive: None,
        archive_provider: None,
        archive_providers: Some(providers.iter().map(|code| code.to_string()).collect()),
    });
    configured
}

fn with_archive_ids(request: ContractRequest, others: &[&str]) -> ContractCommand {
    let mut command = initiate_with(request);
    if let ContractCommand::Initiate(initiation) = &mut command {
        initiation.other_archive_ids = others
            .iter()
            .map(|id| ArchiveId::parse(id).unwrap())
            .collect();
    }
    command
}

#[test]
fn a_list_of_providers_gives_each_its_own_archive_id_in_order() {
    let state = given(history(vec![with_archive_ids(
        listed(&["BLOCKCHAIN", "TSA"]),
        &["ARCHIVE_OTHER", "ARCHIVE_UNUSED"],
    )]));
    let contract = state.contract().unwrap();
    assert_eq!(
        contract.archive_providers,
        [ArchiveProvider::Blockchain, ArchiveProvider::Tsa]
    );
    let id = |provider| contract.archive_id_for(provider).map(ArchiveId::as_str);
    assert_eq!(id(ArchiveProvider::Blockchain), Some("ARCHIVE_TEST"));
    assert_eq!(id(ArchiveProvider::Tsa), Some("ARCHIVE_OTHER"));
    assert_eq!(id(ArchiveProvider::LocalCa), None);
}

#[test]
fn a_bad_provider_list_is_refused_naming_the_entry() {
    let refused = |request: ContractRequest| {
        invalid_fields(when(
            &ContractState::default(),
            with_archive_ids(request, &["ARCHIVE_2", "ARCHIVE_3"]),
        ))
    };
    assert_eq!(
        refused(listed(&["TSA", "NOTARY"])),
        ["archiveConfig.archiveProviders[1]"]
    );
    assert_eq!(
        refused(listed(&["TSA", "LOCAL_CA", "TSA"])),
        ["archiveConfig.archiveProviders[2]"]
    );
    assert_eq!(refused(listed(&[])), ["archiveConfig.archiveProviders"]);
    let mut both = listed(&["TSA"]);
    if let Some(config) = &mut both.archive_config {
        config.archive_provider = Some("TSA".into());
    }
    assert_eq!(refused(both), ["archiveConfig.archiveProviders"]);
    // Too few ids is the service's mistake, named apart from the caller's fields.
    assert_eq!(
        invalid_fields(when(
            &ContractState::default(),
            initiate_with(listed(&["TSA", "LOCAL_CA"]))
        )),
        ["archiveIds"]
    );
}

#[test]
fn the_service_must_supply_one_link_per_signer() {
    let mut command = initiate();
    if let ContractCommand::Initiate(initiation) = &mut command {
        initiation.sign_links.pop();
    }
    assert_eq!(
        invalid_fields(when(&ContractState::default(), command)),
        vec!["signLinks"]
    );
}

#[test]
fn a_second_initiation_of_the_same_contract_is_a_duplicate() {
    let state = given(history(vec![initiate()]));
    let error = when(&state, initiate()).unwrap_err();
    assert_eq!(
        error,
        ContractError::Duplicate(ContractId::parse("CONTRACT_1").unwrap())
    );
    assert_eq!(error.kind(), ErrorKind::Duplicate);
}

// ---------------------------------------------------------------------------------------------------
// Links

#[test]
fn opening_a_link_records_the_ip_and_user_agent() {
    let state = given(history(vec![initiate()]));
    let events = when(&state, open(RECEIVER, "L0", 1)).unwrap();
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["type"], serde_json::json!("SignLinkOpened"));
    assert_eq!(json["ipAddress"], serde_json::json!("192.168.1.1"));
    assert_eq!(
        json["userAgent"],
        serde_json::json!("Mozilla/5.0 (iPhone; CPU iPhone OS 16_0)")
    );
}

#[test]
fn an_expired_link_is_refused() {
    let state = given(history(vec![initiate()]));
    let error = when(&state, open(RECEIVER, "L0", 30)).unwrap_err();
    assert_eq!(
        error,
        ContractError::LinkExpired {
            party_id: party(RECEIVER)
        }
    );
    assert_eq!(error.kind(), ErrorKind::LinkExpired);
}

#[test]
fn reissuing_a_link_kills_the_old_one() {
    let state = given(history(vec![
        initiate(),
        reissue(RECEIVER, "L0-2", 200, 40),
    ]));
    then(
        when(&state, open(RECEIVER, "L0", 41)),
        Err(ContractError::LinkExpired {
            party_id: party(RECEIVER),
        }),
    );
    assert!(when(&state, open(RECEIVER, "L0-2", 41)).is_ok());
    let link = state
        .contract()
        .unwrap()
        .signer(&party(RECEIVER))
        .unwrap()
        .link()
        .unwrap()
        .clone();
    assert_eq!(link.expires_at, at(70));
}

#[test]
fn reissuing_the_same_link_changes_nothing_but_another_token_for_its_id_conflicts() {
    let state = given(history(vec![initiate(), reissue(RECEIVER, "L0-2", 200, 1)]));
    then(when(&state, reissue(RECEIVER, "L0-2", 200, 2)), Ok(vec![]));
    assert!(matches!(
        conflict(when(&state, reissue(RECEIVER, "L0-2", 201, 2))),
        ContractConflict::LinkIdReused { .. }
    ));
}

#[test]
fn identity_checks_do_not_carry_over_to_a_reissued_link() {
    let state = given(history(
        [
            vec![initiate()],
            checks(RECEIVER, "L0", 1),
            vec![reissue(RECEIVER, "L0-2", 200, 2)],
        ]
        .concat(),
    ));
    then(
        when(&state, sign(RECEIVER, "L0-2", 3)),
        Err(ContractError::IdentityFailed {
            party_id: party(RECEIVER),
            failure: IdentityFailure::ChecksMissing(vec![IdentityCheck::Face, IdentityCheck::Sms]),
        }),
    );
}

#[test]
fn no_link_is_issued_after_the_contracts_deadline() {
    let state = given(history(vec![initiate()]));
    assert!(matches!(
        conflict(when(&state, reissue(RECEIVER, "LATE", 300, 7 * 24 * 60))),
        ContractConflict::PastDeadline { .. }
    ));
}

#[test]
fn a_signer_who_signed_gets_no_new_link() {
    let state = given(history([vec![initiate()], signs(RECEIVER, 1)].concat()));
    then(
        when(&state, reissue(RECEIVER, "L0-2", 200, 2)),
        Err(ContractError::LinkUsed {
            party_id: party(RECEIVER),
            status: SignStatus::Signed,
        }),
    );
}

// ---------------------------------------------------------------------------------------------------
// SMS codes

#[test]
fn a_correct_sms_code_verifies_the_signer() {
    let state = given(history(vec![initiate(), send_sms(RECEIVER, "L0", 42, 1)]));
    let events = when(&state, verify_sms(RECEIVER, "L0", 42, 2)).unwrap();
    assert_eq!(types(&events), vec!["SmsCodeVerified"]);
}

#[test]
fn the_sms_code_event_keeps_only_the_hash_and_expiry() {
    let state = given(history(vec![initiate()]));
    let events = when(&state, send_sms(RECEIVER, "L0", 42, 1)).unwrap();
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["codeHash"], serde_json::json!(digest(42).as_hex()));
    assert_eq!(json["expiresAt"], serde_json::json!(at(6)));
    assert!(json.get("code").is_none());
}

#[test]
fn a_wrong_sms_code_is_recorded_with_the_attempt_count() {
    let state = given(history(vec![
        initiate(),
        send_sms(RECEIVER, "L0", 42, 1),
        verify_sms(RECEIVER, "L0", 41, 2),
    ]));
    let events = when(&state, verify_sms(RECEIVER, "L0", 40, 2)).unwrap();
    assert_eq!(
        events,
        vec![ContractEvent::SmsCodeFailed {
            party_id: party(RECEIVER),
            link_id: link_id("L0"),
            failed_attempts: 2,
            locked: false,
            failed_at: at(2),
        }]
    );
}

#[test]
fn the_fifth_wrong_code_locks_sms_checks_until_a_new_link_is_issued() {
    let mut commands = vec![initiate(), send_sms(RECEIVER, "L0", 42, 1)];
    commands.extend((0..4).map(|attempt| verify_sms(RECEIVER, "L0", 1000 + attempt, 2)));
    commands.push(send_sms(RECEIVER, "L0", 43, 3));
    let state = given(history(commands));
    let events = when(&state, verify_sms(RECEIVER, "L0", 999, 4)).unwrap();
    assert!(matches!(
        events[..],
        [ContractEvent::SmsCodeFailed {
            failed_attempts: 5,
            locked: true,
            ..
        }]
    ));
    let locked = then_state(&state, verify_sms(RECEIVER, "L0", 999, 4));
    assert_eq!(
        conflict(when(&locked, verify_sms(RECEIVER, "L0", 43, 5))),
        ContractConflict::SmsLocked
    );
    assert_eq!(
        conflict(when(&locked, send_sms(RECEIVER, "L0", 44, 5))),
        ContractConflict::SmsLocked
    );
    let fresh = then_state(&locked, reissue(RECEIVER, "L0-2", 200, 5));
    assert!(when(&fresh, send_sms(RECEIVER, "L0-2", 45, 6)).is_ok());
}

#[test]
fn an_expired_sms_code_is_refused_without_counting_an_attempt() {
    let state = given(history(vec![initiate(), send_sms(RECEIVER, "L0", 42, 1)]));
    assert_eq!(
        conflict(when(&state, verify_sms(RECEIVER, "L0", 42, 6))),
        ContractConflict::SmsCodeExpired
    );
}

fn send_sms_at(party_id: &str, link: &str, code: u64, time: DateTime<Utc>) -> ContractCommand {
    ContractCommand::SendSmsCode(SendSmsCode {
        party_id: party(party_id),
        link_id: link_id(link),
        code_hash: digest(code),
        policy: SmsCodePolicy::default(),
        now: time,
    })
}

#[test]
fn another_code_inside_the_resend_cool_down_is_refused() {
    let state = given(history(vec![initiate(), send_sms(RECEIVER, "L0", 42, 1)]));
    let too_soon = at(1) + TimeDelta::seconds(SMS_RESEND_COOLDOWN_SECONDS - 1);
    assert_eq!(
        conflict(when(&state, send_sms_at(RECEIVER, "L0", 43, too_soon))),
        ContractConflict::SmsResendTooSoon {
            resend_at: at(1) + TimeDelta::seconds(SMS_RESEND_COOLDOWN_SECONDS)
        }
    );
}

#[test]
fn a_code_after_the_cool_down_replaces_the_first_and_keeps_the_failure_count() {
    let state = given(history(vec![
        initiate(),
        send_sms(RECEIVER, "L0", 42, 1),
        verify_sms(RECEIVER, "L0", 41, 1),
    ]));
    let resend_at = at(1) + TimeDelta::seconds(SMS_RESEND_COOLDOWN_SECONDS);
    let resent = then_state(&state, send_sms_at(RECEIVER, "L0", 43, resend_at));
    let events = when(&resent, verify_sms(RECEIVER, "L0", 42, 3)).unwrap();
    assert!(matches!(
        events[..],
        [ContractEvent::SmsCodeFailed {
            failed_attempts: 2,
            ..
        }]
    ));
    let verified = when(&resent, verify_sms(RECEIVER, "L0", 43, 3)).unwrap();
    assert_eq!(types(&verified), vec!["SmsCodeVerified"]);
}

#[test]
fn the_cool_down_belongs_to_the_link_a_new_link_may_get_a_code_at_once() {
    let state = given(history(vec![
        initiate(),
        send_sms(RECEIVER, "L0", 42, 1),
        reissue(RECEIVER, "L0-2", 200, 1),
    ]));
    assert!(when(&state, send_sms(RECEIVER, "L0-2", 43, 1)).is_ok());
}

#[test]
fn a_configured_policy_sets_the_code_lifetime_cool_down_and_attempt_limit() {
    let policy = SmsCodePolicy {
        ttl: TimeDelta::minutes(2),
        resend_cooldown: TimeDelta::seconds(10),
        max_failed_attempts: 1,
    };
    let send = |code, time| {
        ContractCommand::SendSmsCode(SendSmsCode {
            party_id: party(RECEIVER),
            link_id: link_id("L0"),
            code_hash: digest(code),
            policy,
            now: time,
        })
    };
    let state = given(history(vec![initiate(), send(42, at(1))]));
    let events = when(&state, send(43, at(1) + TimeDelta::seconds(10))).unwrap();
    assert!(matches!(
        &events[..],
        [ContractEvent::SmsCodeSent { expires_at, .. }]
            if *expires_at == at(1) + TimeDelta::seconds(130)
    ));
    let wrong = ContractCommand::VerifySmsCode(VerifySmsCode {
        party_id: party(RECEIVER),
        link_id: link_id("L0"),
        code_hash: digest(7),
        policy,
        now: at(2),
    });
    assert!(matches!(
        when(&state, wrong).unwrap()[..],
        [ContractEvent::SmsCodeFailed { locked: true, .. }]
    ));
}

#[test]
fn verifying_before_any_code_was_sent_is_a_conflict() {
    let state = given(history(vec![initiate()]));
    assert_eq!(
        conflict(when(&state, verify_sms(RECEIVER, "L0", 42, 1))),
        ContractConflict::NoSmsCodeSent
    );
}

#[test]
fn a_verified_sms_check_needs_no_further_codes() {
    let state = given(history(vec![
        initiate(),
        send_sms(RECEIVER, "L0", 42, 1),
        verify_sms(RECEIVER, "L0", 42, 2),
    ]));
    then(when(&state, send_sms(RECEIVER, "L0", 43, 3)), Ok(vec![]));
    then(when(&state, verify_sms(RECEIVER, "L0", 1, 3)), Ok(vec![]));
}

#[test]
fn sms_and_face_checks_do_not_apply_to_a_ca_cert_signer() {
    let state = given(history(vec![initiate()]));
    assert!(matches!(
        conflict(when(&state, send_sms(PAYER, "L1", 42, 1))),
        ContractConflict::CheckNotApplicable {
            sign_method: SignMethod::CaCert,
            check: IdentityCheck::Sms,
        }
    ));
    assert!(matches!(
        conflict(when(
            &state,
            face(
                PAYER,
                "L1",
                facts(VerificationStatus::Success, "李四", PAYER_ID),
                1
            )
        )),
        ContractConflict::CheckNotApplicable { .. }
    ));
}

// ---------------------------------------------------------------------------------------------------
// Face verification and certificates

#[test]
fn a_successful_face_verification_of_the_signer_counts() {
    let state = given(history(vec![initiate()]));
    let events = when(
        &state,
        face(
            RECEIVER,
            "L0",
            facts(VerificationStatus::Success, "张三", RECEIVER_ID),
            1,
        ),
    )
    .unwrap();
    assert_eq!(types(&events), vec!["SignerFaceVerified"]);
}

#[test]
fn a_face_verification_that_did_not_succeed_does_not_count() {
    let state = given(history(vec![initiate()]));
    let error = when(
        &state,
        face(
            RECEIVER,
            "L0",
            facts(VerificationStatus::Failed, "张三", RECEIVER_ID),
            1,
        ),
    )
    .unwrap_err();
    assert_eq!(
        error,
        ContractError::IdentityFailed {
            party_id: party(RECEIVER),
            failure: IdentityFailure::FaceNotPassed(VerificationStatus::Failed),
        }
    );
    assert_eq!(error.kind(), ErrorKind::IdentityFailed);
}

#[test]
fn a_face_verification_of_someone_else_does_not_count() {
    let state = given(history(vec![initiate()]));
    then(
        when(
            &state,
            face(
                RECEIVER,
                "L0",
                facts(VerificationStatus::Success, "李四", PAYER_ID),
                1,
            ),
        ),
        Err(ContractError::IdentityFailed {
            party_id: party(RECEIVER),
            failure: IdentityFailure::Mismatch {
                fields: vec!["name", "idCardNo"],
            },
        }),
    );
}

#[test]
fn recording_the_same_face_verification_twice_changes_nothing() {
    let verified = facts(VerificationStatus::Success, "张三", RECEIVER_ID);
    let state = given(history(vec![
        initiate(),
        face(RECEIVER, "L0", verified.clone(), 1),
    ]));
    then(when(&state, face(RECEIVER, "L0", verified, 2)), Ok(vec![]));
}

#[test]
fn a_certificate_must_be_valid_now_and_issued_to_the_signer() {
    let state = given(history(vec![initiate()]));
    assert!(
        when(
            &state,
            certificate(PAYER, "L1", certificate_of("李四", Some(PAYER_ID)), 1)
        )
        .is_ok()
    );
    let mut expired = certificate_of("李四", Some(PAYER_ID));
    expired.not_after = at(0);
    assert!(matches!(
        when(&state, certificate(PAYER, "L1", expired, 1)),
        Err(ContractError::IdentityFailed {
            failure: IdentityFailure::CertificateNotValid,
            ..
        })
    ));
    assert!(matches!(
        when(
            &state,
            certificate(PAYER, "L1", certificate_of("李四", Some(RECEIVER_ID)), 1)
        ),
        Err(ContractError::IdentityFailed {
            failure: IdentityFailure::Mismatch { .. },
            ..
        })
    ));
}

#[test]
fn a_ca_cert_signer_signs_only_with_the_certificate_verified_through_the_link() {
    let state = given(history(
        [
            vec![initiate()],
            checks(RECEIVER, "L0", 1),
            vec![sign_in_revision(RECEIVER, "L0", 1, 100, 101)],
            checks(PAYER, "L1", 2),
        ]
        .concat(),
    ));
    let ContractCommand::Sign(signed) = sign_in_revision(PAYER, "L1", 3, 101, 102) else {
        unreachable!("sign_in_revision makes a Sign command")
    };
    let mut other = signed.clone();
    if let Some(revision) = other.revision.as_mut() {
        revision.certificate.certificate_serial = CertificateSerial::parse("0C0D").unwrap();
    }
    assert!(matches!(
        when(&state, ContractCommand::Sign(other)),
        Err(ContractError::IdentityFailed {
            failure: IdentityFailure::OtherCertificate,
            ..
        })
    ));
    let mut other_issuer = signed.clone();
    if let Some(revision) = other_issuer.revision.as_mut() {
        revision.certificate.issuer = LongText::parse("CN=Another CA").unwrap();
    }
    assert!(matches!(
        when(&state, ContractCommand::Sign(other_issuer)),
        Err(ContractError::IdentityFailed {
            failure: IdentityFailure::OtherCertificate,
            ..
        })
    ));
    assert!(when(&state, ContractCommand::Sign(signed)).is_ok());
}

// ---------------------------------------------------------------------------------------------------
// Signing

#[test]
fn a_signer_cannot_sign_before_passing_the_checks_of_their_sign_method() {
    let state = given(history(vec![
        initiate(),
        send_sms(RECEIVER, "L0", 42, 1),
        verify_sms(RECEIVER, "L0", 42, 1),
    ]));
    then(
        when(&state, sign(RECEIVER, "L0", 2)),
        Err(ContractError::IdentityFailed {
            party_id: party(RECEIVER),
            failure: IdentityFailure::ChecksMissing(vec![IdentityCheck::Face]),
        }),
    );
}

#[test]
fn a_second_signer_cannot_sign_before_the_first() {
    let state = given(history([vec![initiate()], checks(PAYER, "L1", 1)].concat()));
    assert_eq!(
        conflict(when(&state, sign(PAYER, "L1", 2))),
        ContractConflict::OutOfOrder {
            party_id: party(PAYER),
            waiting_for: vec![party(RECEIVER)],
        }
    );
}

#[test]
fn the_first_of_several_signatures_makes_the_contract_partially_signed() {
    let state = given(history(
        [vec![initiate()], checks(RECEIVER, "L0", 1)].concat(),
    ));
    let events = when(&state, sign(RECEIVER, "L0", 2)).unwrap();
    // The payer is notified by SMS and signs next: their invitation is due with this signature.
    assert_eq!(
        types(&events),
        vec![
            "SignerSigned",
            "ContractPartiallySigned",
            "SmsInvitationRequested"
        ]
    );
    let state = then_state(&state, sign(RECEIVER, "L0", 2));
    assert_eq!(state.status(), Some(ContractStatus::PartialSigned));
    let receiver = state.contract().unwrap().signer(&party(RECEIVER)).unwrap();
    assert_eq!(receiver.sign_status(), SignStatus::Signed);
}

#[test]
fn the_last_signature_makes_the_contract_signed() {
    let state = given(history(
        [vec![initiate()], signs(RECEIVER, 1), checks(PAYER, "L1", 2)].concat(),
    ));
    let events = when(&state, sign(PAYER, "L1", 3)).unwrap();
    assert_eq!(types(&events), vec!["SignerSigned", "ContractSigned"]);
    assert_eq!(
        given(history(fully_signed())).status(),
        Some(ContractStatus::Signed)
    );
}

#[test]
fn a_single_signer_takes_the_contract_straight_to_signed() {
    let state = given(history(
        [vec![initiate_single()], checks(RECEIVER, "L0", 1)].concat(),
    ));
    let events = when(&state, sign(RECEIVER, "L0", 2)).unwrap();
    assert_eq!(types(&events), vec!["SignerSigned", "ContractSigned"]);
}

#[test]
fn signers_with_an_equal_sequence_sign_in_parallel() {
    let state = given(history(
        [
            vec![initiate_three()],
            signs(RECEIVER, 1),
            checks(PAYER, "L1", 2),
            checks(WITNESS, "L2", 2),
        ]
        .concat(),
    ));
    // Either of the two second signers may go first.
    assert!(when(&state, sign(WITNESS, "L2", 3)).is_ok());
    let after_payer = then_state(&state, sign(PAYER, "L1", 3));
    assert_eq!(after_payer.status(), Some(ContractStatus::PartialSigned));
    let events = when(&after_payer, sign(WITNESS, "L2", 4)).unwrap();
    assert_eq!(types(&events), vec!["SignerSigned", "ContractSigned"]);
}

/// `sign` with the revision its signature was made in: on the document `previous`, giving `document`.
fn sign_in_revision(
    party_id: &str,
    link: &str,
    minutes: i64,
    previous: u64,
    document: u64,
) -> ContractCommand {
    let ContractCommand::Sign(command) = sign(party_id, link, minutes) else {
        unreachable!("sign makes a Sign command")
    };
    ContractCommand::Sign(Sign {
        revision: Some(SignedRevision {
            document_hash: digest(document),
            previous_hash: digest(previous),
            certificate: SealSignature {
                party_id: Some(party(party_id)),
                // The event certificate of a FACE_AND_SMS signer; a CA_CERT signer's own, verified
                // through the link (`certificate_of`).
                certificate_serial: CertificateSerial::parse(if party_id == RECEIVER {
                    "0A1B"
                } else {
                    "0A1B2C"
                })
                .unwrap(),
                issuer: LongText::parse(if party_id == RECEIVER {
                    "CN=esign Signing CA,O=esign"
                } else {
                    "CFCA"
                })
                .unwrap(),
                not_before: at(minutes),
                not_after: at(minutes + 30),
            },
            timestamp_authority: None,
            timestamped_at: None,
        }),
        ..command
    })
}

#[test]
fn each_signature_builds_on_the_revision_before_it_and_the_head_follows() {
    let state = given(history(
        [
            vec![initiate_three()],
            checks(RECEIVER, "L0", 1),
            vec![sign_in_revision(RECEIVER, "L0", 1, 100, 101)],
            checks(PAYER, "L1", 2),
            checks(WITNESS, "L2", 2),
        ]
        .concat(),
    ));
    assert_eq!(
        state.contract().unwrap().document_head(),
        Some(&digest(101))
    );
    // Two signers of one sequence made their signatures on the same revision: the first to be
    // recorded wins, the other is told its revision is stale and makes it again.
    let after_payer = then_state(&state, sign_in_revision(PAYER, "L1", 3, 101, 102));
    assert_eq!(
        after_payer.contract().unwrap().document_head(),
        Some(&digest(102))
    );
    assert_eq!(
        conflict(when(
            &after_payer,
            sign_in_revision(WITNESS, "L2", 3, 101, 103)
        )),
        ContractConflict::StaleRevision
    );
    let events = when(&after_payer, sign_in_revision(WITNESS, "L2", 4, 102, 103)).unwrap();
    assert_eq!(types(&events), vec!["SignerSigned", "ContractSigned"]);
    let ContractEvent::SignerSigned { revision, .. } = &events[0] else {
        panic!("not a SignerSigned event");
    };
    assert_eq!(revision.as_ref().unwrap().previous_hash, digest(102));
}

#[test]
fn before_any_signature_made_at_its_moment_there_is_no_head() {
    let state = given(history(fully_signed()));
    assert_eq!(state.contract().unwrap().document_head(), None);
}

#[test]
fn a_signer_who_signed_is_told_the_link_is_used() {
    let state = given(history([vec![initiate()], signs(RECEIVER, 1)].concat()));
    let error = when(&state, sign(RECEIVER, "L0", 2)).unwrap_err();
    assert_eq!(
        error,
        ContractError::LinkUsed {
            party_id: party(RECEIVER),
            status: SignStatus::Signed,
        }
    );
    assert_eq!(error.kind(), ErrorKind::LinkUsed);
    let signed = given(history(fully_signed()));
    assert_eq!(
        when(&signed, open(PAYER, "L1", 3)).unwrap_err().kind(),
        ErrorKind::LinkUsed
    );
}

#[test]
fn signing_through_an_expired_link_is_refused() {
    let state = given(history(
        [vec![initiate()], checks(RECEIVER, "L0", 1)].concat(),
    ));
    then(
        when(&state, sign(RECEIVER, "L0", 31)),
        Err(ContractError::LinkExpired {
            party_id: party(RECEIVER),
        }),
    );
}

#[test]
fn an_unknown_signer_is_not_found() {
    let state = given(history(vec![initiate()]));
    then(
        when(&state, open("NOBODY", "L0", 1)),
        Err(ContractError::NotFound(ContractNotFound::Signer(party(
            "NOBODY",
        )))),
    );
}

#[test]
fn the_signature_records_image_hash_ip_device_and_transaction_number() {
    let state = given(history(fully_signed()));
    let payer = state.contract().unwrap().signer(&party(PAYER)).unwrap();
    let SignerStatus::Signed(signature) = &payer.status else {
        panic!("the payer should have signed");
    };
    assert_eq!(signature.signature_image_hash, Some(digest(7)));
    assert_eq!(signature.signature_image, Some(signature_image()));
    assert_eq!(signature.ip_address, ip());
    assert_eq!(signature.device_info.as_str(), "iPhone; iOS 16.0");
    assert_eq!(signature.transaction_no.as_str(), "SIGN_TXN_001");
    assert_eq!(signature.signed_at, at(2));
}

// ---------------------------------------------------------------------------------------------------
// Rejection, revocation, expiry

#[test]
fn any_signer_rejecting_rejects_the_contract_whatever_their_sequence() {
    let state = given(history(vec![initiate()]));
    let events = when(&state, reject(PAYER, "L1", 1)).unwrap();
    assert_eq!(types(&events), vec!["SignerRejected", "ContractRejected"]);
    let state = then_state(&state, reject(PAYER, "L1", 1));
    assert_eq!(state.status(), Some(ContractStatus::Rejected));
    let payer = state.contract().unwrap().signer(&party(PAYER)).unwrap();
    assert_eq!(payer.sign_status(), SignStatus::Rejected);
}

fn every_command(minutes: i64) -> Vec<ContractCommand> {
    vec![
        reissue(RECEIVER, "LX", 500, minutes),
        open(RECEIVER, "L0", minutes),
        send_sms(RECEIVER, "L0", 42, minutes),
        verify_sms(RECEIVER, "L0", 42, minutes),
        face(
            RECEIVER,
            "L0",
            facts(VerificationStatus::Success, "张三", RECEIVER_ID),
            minutes,
        ),
        certificate(PAYER, "L1", certificate_of("李四", Some(PAYER_ID)), minutes),
        sign(RECEIVER, "L0", minutes),
        reject(RECEIVER, "L0", minutes),
        revoke(minutes),
        expire(minutes),
        seal(5),
        archive("ARCHIVE_1", ArchiveProvider::Tsa),
        archived(ArchiveProvider::Tsa, "TSA_TXN"),
        archive_failed(ArchiveProvider::Tsa),
    ]
}

fn assert_absorbs(state: &ContractState, status: ContractStatus) {
    for command in every_command(8 * 24 * 60) {
        assert_eq!(
            when(state, command.clone()),
            Err(ContractError::Conflict(ContractConflict::Final(status))),
            "{command:?}"
        );
    }
    assert!(matches!(
        when(state, initiate()),
        Err(ContractError::Duplicate(_))
    ));
}

#[test]
fn a_rejected_contract_absorbs_every_later_command() {
    assert_absorbs(
        &given(history(vec![initiate(), reject(RECEIVER, "L0", 1)])),
        ContractStatus::Rejected,
    );
}

#[test]
fn revoking_before_signed_records_the_reason_and_operator() {
    let state = given(history([vec![initiate()], signs(RECEIVER, 1)].concat()));
    let events = when(&state, revoke(2)).unwrap();
    assert_eq!(types(&events), vec!["ContractRevoked"]);
    let state = then_state(&state, revoke(2));
    let ContractState::Revoked {
        reason, operator, ..
    } = &state
    else {
        panic!("expected REVOKED, got {state:?}");
    };
    assert_eq!(reason.as_str(), "用户要求取消");
    assert_eq!(operator.as_str(), "system_admin");
}

#[test]
fn a_revoked_contract_absorbs_every_later_command() {
    assert_absorbs(
        &given(history(vec![initiate(), revoke(1)])),
        ContractStatus::Revoked,
    );
}

#[test]
fn revoking_a_signed_contract_is_a_conflict() {
    let error = when(&given(history(fully_signed())), revoke(3)).unwrap_err();
    assert_eq!(
        error,
        ContractError::Conflict(ContractConflict::Final(ContractStatus::Signed))
    );
    assert_eq!(error.kind(), ErrorKind::Conflict);
}

#[test]
fn an_administrator_forces_an_unfinished_contract_to_expire_before_its_deadline_or_to_revoke() {
    let partly = given(history([vec![initiate()], signs(RECEIVER, 1)].concat()));
    let events = when(&partly, force(ForcedStatus::Expired, 2)).unwrap();
    assert_eq!(types(&events), vec!["ContractForced"]);
    let expired = then_state(&partly, force(ForcedStatus::Expired, 2));
    assert_eq!(expired.status(), Some(ContractStatus::Expired));
    let ContractState::Expired { expired_at, .. } = &expired else {
        panic!("expected EXPIRED, got {expired:?}");
    };
    assert_eq!(
        *expired_at,
        at(2),
        "the forced moment, long before the deadline"
    );

    let created = given(history(vec![initiate()]));
    let revoked = then_state(&created, force(ForcedStatus::Revoked, 3));
    let ContractState::Revoked {
        reason, operator, ..
    } = &revoked
    else {
        panic!("expected REVOKED, got {revoked:?}");
    };
    assert_eq!(reason.as_str(), "签署方已注销");
    assert_eq!(operator.as_str(), "ops_zhang");
}

#[test]
fn forcing_a_signed_or_otherwise_final_contract_is_a_conflict() {
    let error = when(
        &given(history(fully_signed())),
        force(ForcedStatus::Revoked, 3),
    )
    .unwrap_err();
    assert_eq!(
        error,
        ContractError::Conflict(ContractConflict::Final(ContractStatus::Signed))
    );
    let revoked = given(history(vec![initiate(), revoke(1)]));
    assert_eq!(
        conflict(when(&revoked, force(ForcedStatus::Expired, 2))),
        ContractConflict::Final(ContractStatus::Revoked)
    );
}

#[test]
fn expiring_before_the_deadline_is_refused() {
    let state = given(history(vec![initiate()]));
    assert!(matches!(
        conflict(when(&state, expire(7 * 24 * 60 - 1))),
        ContractConflict::NotYetDue { .. }
    ));
}

#[test]
fn at_the_deadline_an_unfinished_contract_expires() {
    for setup in [
        vec![initiate()],
        [vec![initiate()], signs(RECEIVER, 1)].concat(),
    ] {
        let state = given(history(setup));
        let events = when(&state, expire(8 * 24 * 60)).unwrap();
        assert_eq!(
            events,
            vec![ContractEvent::ContractExpired {
                expired_at: at(7 * 24 * 60)
            }]
        );
    }
}

#[test]
fn an_expired_contract_absorbs_every_later_command() {
    assert_absorbs(
        &given(history(vec![initiate(), expire(7 * 24 * 60)])),
        ContractStatus::Expired,
    );
}

#[test]
fn a_signed_contract_does_not_expire() {
    assert_eq!(
        conflict(when(&given(history(fully_signed())), expire(8 * 24 * 60))),
        ContractConflict::Final(ContractStatus::Signed)
    );
}

// ---------------------------------------------------------------------------------------------------
// Sealing and archiving

#[test]
fn only_a_signed_contract_is_sealed_or_archived() {
    let state = given(history([vec![initiate()], signs(RECEIVER, 1)].concat()));
    assert_eq!(
        conflict(when(&state, seal(5))),
        ContractConflict::NotSigned(ContractStatus::PartialSigned)
    );
    assert_eq!(
        conflict(when(&state, archive("ARCHIVE_1", ArchiveProvider::Tsa))),
        ContractConflict::NotSigned(ContractStatus::PartialSigned)
    );
}

#[test]
fn sealing_again_with_the_same_hash_changes_nothing_and_with_another_conflicts() {
    let state = given(history([fully_signed(), vec![seal(5)]].concat()));
    then(when(&state, seal(5)), Ok(vec![]));
    assert_eq!(
        conflict(when(&state, seal(6))),
        ContractConflict::DocumentAlreadySealed
    );
}

#[test]
fn a_renewal_builds_on_the_current_file_and_recording_it_twice_changes_nothing() {
    assert_eq!(
        conflict(when(&given(history(fully_signed())), renew(5, 6))),
        ContractConflict::DocumentNotSealed
    );
    let sealed = given(history([fully_signed(), vec![seal(5)]].concat()));
    then(
        when(&sealed, renew(5, 6)),
        Ok(vec![ContractEvent::DocumentTimestampRenewed {
            previous_hash: digest(5),
            document_hash: digest(6),
            timestamp_authority: None,
            document_timestamped_at: at(200),
            document_timestamp_valid_until: Some(at(300)),
            renewed_at: at(200),
        }]),
    );
    let renewed = given(history(
        [fully_signed(), vec![seal(5), renew(5, 6)]].concat(),
    ));
    then(when(&renewed, renew(5, 6)), Ok(vec![]));
    assert_eq!(
        conflict(when(&renewed, renew(5, 7))),
        ContractConflict::StaleDocument,
        "another renewal came first"
    );
    assert_eq!(when(&renewed, renew(6, 7)).unwrap().len(), 1);
    let ContractState::Signed {
        document: Some(document),
        ..
    } = &renewed
    else {
        panic!("not sealed: {renewed:?}");
    };
    assert_eq!(document.document_hash, digest(6));
    assert_eq!(document.earlier.len(), 1);
    assert_eq!(document.earlier[0].document_hash, digest(5));
    assert_eq!(document.document_timestamp_valid_until, Some(at(300)));
}

#[test]
fn archiving_needs_a_sealed_document() {
    assert_eq!(
        conflict(when(
            &given(history(fully_signed())),
            archive("ARCHIVE_1", ArchiveProvider::Tsa)
        )),
        ContractConflict::DocumentNotSealed
    );
}

#[test]
fn several_providers_archive_one_contract() {
    let state = given(history(
        [
            fully_signed(),
            vec![
                seal(5),
                archive("ARCHIVE_1", ArchiveProvider::Tsa),
                archive("ARCHIVE_2", ArchiveProvider::Blockchain),
                archived(ArchiveProvider::Tsa, "TSA_TXN"),
                archived(ArchiveProvider::Blockchain, "CHAIN_TXN"),
            ],
        ]
        .concat(),
    ));
    let ContractState::Signed { archives, .. } = &state else {
        panic!("expected SIGNED, got {state:?}");
    };
    assert_eq!(archives.len(), 2);
    assert!(
        archives
            .values()
            .all(|archive| archive.state.status() == ArchiveStatus::Success)
    );
    assert!(
        archives
            .values()
            .all(|archive| archive.document_hash == digest(5))
    );
}

#[test]
fn a_failed_archive_leaves_the_contract_signed_and_can_be_retried() {
    let state = given(history(
        [
            fully_signed(),
            vec![
                seal(5),
                archive("ARCHIVE_1", ArchiveProvider::Tsa),
                archive_failed(ArchiveProvider::Tsa),
            ],
        ]
        .concat(),
    ));
    assert_eq!(state.status(), Some(ContractStatus::Signed));
    let events = when(&state, archive("ARCHIVE_1", ArchiveProvider::Tsa)).unwrap();
    assert!(matches!(
        events[..],
        [ContractEvent::ArchiveRequested { attempt: 2, .. }]
    ));
    assert!(matches!(
        conflict(when(&state, archive("ARCHIVE_9", ArchiveProvider::Tsa))),
        ContractConflict::ArchiveIdMismatch { .. }
    ));
}

fn retry_ordered(provider: ArchiveProvider) -> ContractCommand {
    ContractCommand::RetryArchive(RetryArchive {
        provider,
        operator: Operator::parse("ops_zhang").unwrap(),
        reason: Some(Reason::parse("TSA back").unwrap()),
        now: at(200),
    })
}

#[test]
fn an_operator_gives_a_failed_archive_fresh_attempts_and_nothing_else() {
    let failed_twice = given(history(
        [
            fully_signed(),
            vec![
                seal(5),
                archive("ARCHIVE_1", ArchiveProvider::Tsa),
                archive_failed(ArchiveProvider::Tsa),
                archive("ARCHIVE_1", ArchiveProvider::Tsa),
                archive_failed(ArchiveProvider::Tsa),
            ],
        ]
        .concat(),
    ));
    let events = when(&failed_twice, retry_ordered(ArchiveProvider::Tsa)).unwrap();
    assert!(
        matches!(
            &events[..],
            [ContractEvent::ArchiveRetryOrdered { attempts_before: 2, operator, .. }]
                if operator.as_str() == "ops_zhang"
        ),
        "{events:?}"
    );
    let ordered = then_state(&failed_twice, retry_ordered(ArchiveProvider::Tsa));
    let next = when(&ordered, archive("ARCHIVE_1", ArchiveProvider::Tsa)).unwrap();
    assert!(
        matches!(
            next[..],
            [ContractEvent::ArchiveRequested { attempt: 1, .. }]
        ),
        "the attempts count again from one: {next:?}"
    );
    let pending = then_state(&ordered, archive("ARCHIVE_1", ArchiveProvider::Tsa));
    assert!(matches!(
        conflict(when(&pending, retry_ordered(ArchiveProvider::Tsa))),
        ContractConflict::ArchiveNotFailed {
            status: ArchiveStatus::Pending,
            ..
        }
    ));
    assert!(matches!(
        when(&failed_twice, retry_ordered(ArchiveProvider::Blockchain)),
        Err(ContractError::NotFound(ContractNotFound::Archive(
            ArchiveProvider::Blockchain
        )))
    ));
}

#[test]
fn repeated_archive_reports_change_nothing_and_contradicting_ones_conflict() {
    let pending = given(history(
        [
            fully_signed(),
            vec![seal(5), archive("ARCHIVE_1", ArchiveProvider::Tsa)],
        ]
        .concat(),
    ));
    then(
        when(&pending, archive("ARCHIVE_1", ArchiveProvider::Tsa)),
        Ok(vec![]),
    );
    let done = then_state(&pending, archived(ArchiveProvider::Tsa, "TSA_TXN"));
    then(
        when(&done, archived(ArchiveProvider::Tsa, "TSA_TXN")),
        Ok(vec![]),
    );
    assert!(matches!(
        conflict(when(&done, archived(ArchiveProvider::Tsa, "OTHER_TXN"))),
        ContractConflict::ArchiveNotPending { .. }
    ));
    assert!(matches!(
        conflict(when(&done, archive_failed(ArchiveProvider::Tsa))),
        ContractConflict::ArchiveNotPending { .. }
    ));
    let failed = then_state(&pending, archive_failed(ArchiveProvider::Tsa));
    then(
        when(&failed, archive_failed(ArchiveProvider::Tsa)),
        Ok(vec![]),
    );
    assert!(matches!(
        conflict(when(&failed, archived(ArchiveProvider::Tsa, "TSA_TXN"))),
        ContractConflict::ArchiveNotPending { .. }
    ));
}

#[test]
fn an_archive_id_belongs_to_one_provider_and_unrequested_archives_are_not_found() {
    let state = given(history(
        [
            fully_signed(),
            vec![seal(5), archive("ARCHIVE_1", ArchiveProvider::Tsa)],
        ]
        .concat(),
    ));
    assert!(matches!(
        conflict(when(&state, archive("ARCHIVE_1", ArchiveProvider::LocalCa))),
        ContractConflict::ArchiveIdMismatch { .. }
    ));
    then(
        when(&state, archived(ArchiveProvider::Blockchain, "X")),
        Err(ContractError::NotFound(ContractNotFound::Archive(
            ArchiveProvider::Blockchain,
        ))),
    );
}

// ---------------------------------------------------------------------------------------------------
// Whole streams

#[test]
fn commands_for_a_contract_never_initiated_are_not_found() {
    for command in every_command(1) {
        let error = when(&ContractState::default(), command.clone()).unwrap_err();
        assert_eq!(
            error,
            ContractError::NotFound(ContractNotFound::Contract),
            "{command:?}"
        );
    }
}

#[test]
fn every_event_carries_its_type_name_and_reads_back_alone() {
    let mut events = history(
        [
            vec![initiate(), open(RECEIVER, "L0", 1), verify_sms_setup()],
            vec![verify_sms(RECEIVER, "L0", 1, 1)],
            signs(RECEIVER, 2),
            signs(PAYER, 3),
            vec![
                seal(5),
                archive("ARCHIVE_1", ArchiveProvider::Tsa),
                archive_failed(ArchiveProvider::Tsa),
                archive("ARCHIVE_1", ArchiveProvider::Tsa),
                archived(ArchiveProvider::Tsa, "TSA_TXN"),
            ],
        ]
        .concat(),
    );
    events.extend(when(&given(history(vec![initiate()])), reject(RECEIVER, "L0", 1)).unwrap());
    events.extend(when(&given(history(vec![initiate()])), revoke(1)).unwrap());
    events.extend(when(&given(history(vec![initiate()])), expire(7 * 24 * 60)).unwrap());
    events.extend(
        when(
            &given(history(
                [vec![initiate()], checks(RECEIVER, "L0", 1)].concat(),
            )),
            sign(RECEIVER, "L0", 1),
        )
        .unwrap(),
    );
    events.extend(invitation_events());
    let mut seen = std::collections::BTreeSet::new();
    for event in &events {
        let json = serde_json::to_value(event).unwrap();
        assert_eq!(json["type"], serde_json::json!(event.event_type()));
        assert_eq!(event.schema_version(), 1);
        assert_eq!(
            &serde_json::from_value::<ContractEvent>(json).unwrap(),
            event
        );
        seen.insert(event.event_type());
    }
    assert_eq!(seen.len(), 23, "every event type is covered: {seen:?}");
    assert_eq!(
        ContractAggregate::replay(&events[..0]),
        ContractState::NotInitiated
    );
}

fn verify_sms_setup() -> ContractCommand {
    send_sms(RECEIVER, "L0", 42, 1)
}

#[test]
fn validation_errors_serialise_as_field_and_reason_for_code_40001() {
    let mut bad = request();
    bad.signers[0].id_card_no = Some("110105194912310021".into());
    let Err(ContractError::Invalid(errors)) = when(&ContractState::default(), initiate_with(bad))
    else {
        panic!("expected a validation error");
    };
    let expected = ValidationErrors::single(
        "signers[0].idCardNo",
        "has a wrong check character (ISO 7064 MOD 11-2)",
    );
    assert_eq!(errors, expected);
}

#[test]
fn debug_output_of_a_command_hides_id_and_mobile_numbers_and_header_values() {
    let mut with_headers = request();
    with_headers.webhook_config = Some(crate::values::WebhookConfigRequest {
        headers: [("Authorization".to_string(), "Bearer secret".to_string())].into(),
    });
    let printed = format!("{:?}", initiate_with(with_headers));
    assert!(!printed.contains(RECEIVER_ID), "{printed}");
    assert!(!printed.contains("13800138000"), "{printed}");
    assert!(!printed.contains("Bearer secret"), "{printed}");
    assert!(printed.contains("Authorization"));
    let state = given(history(vec![initiate()]));
    let printed = format!("{state:?}");
    assert!(!printed.contains(RECEIVER_ID) && !printed.contains("13800138000"));
}

// ---------------------------------------------------------------------------------------------------
// Sign-link expiry by the scheduler

fn expire_link(party_id: &str, link: &str, minutes: i64) -> ContractCommand {
    ContractCommand::ExpireSignLink(ExpireSignLink {
        party_id: party(party_id),
        link_id: link_id(link),
        now: at(minutes),
    })
}

fn link_deadline(state: &ContractState, party_id: &str) -> DateTime<Utc> {
    state
        .contract()
        .unwrap()
        .signer(&party(party_id))
        .unwrap()
        .link()
        .unwrap()
        .expires_at
}

#[test]
fn the_scheduler_expires_a_link_at_its_deadline_and_the_signer_needs_a_new_one() {
    let state = given(history(vec![initiate()]));
    let deadline = link_deadline(&state, RECEIVER);
    assert_eq!(
        conflict(when(&state, expire_link(RECEIVER, "L0", 1))),
        ContractConflict::NotYetDue {
            expires_at: deadline
        }
    );
    assert_eq!(
        when(&state, expire_link(RECEIVER, "L0", 600)).unwrap(),
        vec![ContractEvent::SignLinkExpired {
            party_id: party(RECEIVER),
            link_id: link_id("L0"),
            expired_at: deadline,
        }],
        "the event carries the deadline, not when the scheduler noticed"
    );
    let state = then_state(&state, expire_link(RECEIVER, "L0", 600));
    then(
        when(&state, open(RECEIVER, "L0", 601)),
        Err(ContractError::LinkExpired {
            party_id: party(RECEIVER),
        }),
    );
    assert_eq!(
        state.status(),
        Some(ContractStatus::Created),
        "the contract goes on"
    );
    assert_eq!(
        when(&state, expire_link(RECEIVER, "L0", 601)).unwrap(),
        Vec::new(),
        "a second sweep decides nothing"
    );
    let state = then_state(&state, reissue(RECEIVER, "L0-2", 200, 602));
    assert!(when(&state, open(RECEIVER, "L0-2", 603)).is_ok());
}

#[test]
fn expiring_a_replaced_link_or_one_of_a_final_contract_decides_nothing() {
    let replaced = given(history(vec![
        initiate(),
        reissue(RECEIVER, "L0-2", 200, 10),
    ]));
    assert_eq!(
        when(&replaced, expire_link(RECEIVER, "L0", 600)).unwrap(),
        Vec::new()
    );
    let revoked = given(history(vec![initiate(), revoke(5)]));
    assert_eq!(
        when(&revoked, expire_link(RECEIVER, "L0", 600)).unwrap(),
        Vec::new()
    );
    assert!(matches!(
        when(&ContractState::default(), expire_link(RECEIVER, "L0", 600)),
        Err(ContractError::NotFound(_))
    ));
}

#[test]
fn the_signed_event_keeps_the_signature_image_marked_as_personal_data() {
    let mut commands = [
        vec![initiate()],
        checks(RECEIVER, initial_link(RECEIVER), 1),
    ]
    .concat();
    let state = given(history(std::mem::take(&mut commands)));
    let events = when(&state, sign(RECEIVER, initial_link(RECEIVER), 1)).unwrap();
    let signed = events[0].clone();
    let json = serde_json::to_value(&signed).unwrap();
    assert_eq!(json["type"], "SignerSigned");
    assert_eq!(
        json["signatureImage"],
        serde_json::json!({"$pii": signature_image().to_base64()})
    );
    let back: ContractEvent = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, signed);
    // Events written before images were kept still read back, without an image.
    let mut old = json;
    old.as_object_mut().unwrap().remove("signatureImage");
    let ContractEvent::SignerSigned {
        signature_image, ..
    } = serde_json::from_value(old).unwrap()
    else {
        panic!("not a SignerSigned event");
    };
    assert_eq!(signature_image, None);
}

// ---------------------------------------------------------------------------------------------------
// SMS invitations (spec 4.1.2 step 2)

fn invitation_policy() -> crate::delivery::RetryPolicy {
    crate::delivery::RetryPolicy {
        max_attempts: 3,
        base_delay: TimeDelta::minutes(1),
    }
}

fn start_invitation(party_id: &str, link: &str, attempt: u32, minutes: i64) -> ContractCommand {
    ContractCommand::StartInvitationAttempt(StartInvitationAttempt {
        party_id: party(party_id),
        link_id: link_id(link),
        attempt,
        lease: TimeDelta::minutes(2),
        policy: invitation_policy(),
        now: at(minutes),
    })
}

fn invitation_outcome(
    party_id: &str,
    link: &str,
    attempt: u32,
    sent: bool,
    minutes: i64,
) -> ContractCommand {
    let sender = crate::values::ProviderName::parse("message-centre").unwrap();
    ContractCommand::RecordInvitationDelivery(RecordInvitationDelivery {
        party_id: party(party_id),
        link_id: link_id(link),
        attempt,
        outcome: if sent {
            crate::delivery::DeliveryOutcome::Sent {
                sender,
                message_id: LongText::parse("MC-1").unwrap(),
            }
        } else {
            crate::delivery::DeliveryOutcome::Failed {
                sender,
                reason: Reason::parse("message centre answered 503").unwrap(),
                retryable: true,
            }
        },
        policy: invitation_policy(),
        now: at(minutes),
    })
}

/// The receiver (first) is notified by SMS too.
fn initiate_both_by_sms() -> ContractCommand {
    let mut request = request();
    request.signers[0].notify_type = Some("SMS".into());
    initiate_with(request)
}

/// Every invitation event once: requested, failed, retried, sent.
fn invitation_events() -> Vec<ContractEvent> {
    history(
        [
            vec![initiate()],
            signs(RECEIVER, 1),
            vec![
                invitation_outcome(PAYER, "L1", 1, false, 2),
                start_invitation(PAYER, "L1", 2, 3),
                invitation_outcome(PAYER, "L1", 2, true, 3),
            ],
        ]
        .concat(),
    )
    .into_iter()
    .filter(|event| event.event_type().starts_with("SmsInvitation"))
    .collect()
}

#[test]
fn a_first_sequence_sms_signer_is_invited_at_initiation_and_a_later_one_is_not() {
    let events = when(&ContractState::default(), initiate_both_by_sms()).unwrap();
    let invited: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            ContractEvent::SmsInvitationRequested {
                party_id, link_id, ..
            } => Some((party_id.as_str(), link_id.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(invited, vec![(RECEIVER, "L0")]);
    // An H5 signer is never invited: the default request's receiver is H5, the payer waits.
    let events = when(&ContractState::default(), initiate()).unwrap();
    assert!(!types(&events).contains(&"SmsInvitationRequested"));
}

#[test]
fn the_next_sequence_is_invited_once_the_sequence_before_it_has_signed() {
    let mut three = request();
    three.signers = vec![
        signer_request(RECEIVER, "张三", RECEIVER_ID, "FACE_AND_SMS", "H5_LINK", 1),
        signer_request(PAYER, "李四", PAYER_ID, "CA_CERT", "SMS", 1),
        signer_request(WITNESS, "王五", WITNESS_ID, "CA_CERT", "SMS", 2),
    ];
    let state = given(history(
        [vec![initiate_with(three.clone())], signs(RECEIVER, 1)].concat(),
    ));
    // The payer (sequence 1) was invited at initiation; the witness waits for the payer too.
    let payer = state.contract().unwrap().signer(&party(PAYER)).unwrap();
    assert_eq!(payer.invitation.as_ref().unwrap().link_id, link_id("L1"));
    let witness = state.contract().unwrap().signer(&party(WITNESS)).unwrap();
    assert_eq!(witness.invitation, None);
    let state = given(history(
        [
            vec![initiate_with(three.clone())],
            signs(RECEIVER, 1),
            checks(PAYER, "L1", 2),
        ]
        .concat(),
    ));
    let events = when(&state, sign(PAYER, "L1", 2)).unwrap();
    assert_eq!(
        events.last(),
        Some(&ContractEvent::SmsInvitationRequested {
            party_id: party(WITNESS),
            link_id: link_id("L2"),
            requested_at: at(2),
        })
    );
}

#[test]
fn a_new_link_on_the_signers_turn_is_texted_and_one_before_it_is_not() {
    let waiting = given(history(vec![initiate()]));
    assert_eq!(
        types(&when(&waiting, reissue(PAYER, "L8", 800, 1)).unwrap()),
        vec!["SignLinkIssued"]
    );
    let turn = given(history([vec![initiate()], signs(RECEIVER, 1)].concat()));
    let events = when(&turn, reissue(PAYER, "L9", 900, 2)).unwrap();
    assert_eq!(
        types(&events),
        vec!["SignLinkIssued", "SmsInvitationRequested"]
    );
    let reissued = then_state(&turn, reissue(PAYER, "L9", 900, 2));
    // The same link issued again (a retried request) texts nothing more.
    then(
        when(&reissued, reissue(PAYER, "L9", 900, 3)),
        Ok(Vec::new()),
    );
    // The first link's invitation is over: no attempt for it any more.
    then(
        when(&reissued, invitation_outcome(PAYER, "L1", 1, false, 3)),
        Ok(Vec::new()),
    );
}

#[test]
fn invitation_attempts_retry_when_due_and_stop_once_the_link_cannot_be_used() {
    let invited = given(history([vec![initiate()], signs(RECEIVER, 1)].concat()));
    let failed = then_state(&invited, invitation_outcome(PAYER, "L1", 1, false, 2));
    let payer = failed.contract().unwrap().signer(&party(PAYER)).unwrap();
    let crate::delivery::Delivery::Failed {
        next_attempt_at, ..
    } = payer.invitation.as_ref().unwrap().delivery
    else {
        panic!("the failure is recorded");
    };
    assert_eq!(next_attempt_at, Some(at(3)));
    then(
        when(&failed, start_invitation(PAYER, "L1", 2, 2)),
        Ok(Vec::new()),
    );
    assert_eq!(
        types(&when(&failed, start_invitation(PAYER, "L1", 2, 3)).unwrap()),
        vec!["SmsInvitationAttemptStarted"]
    );
    // A revoked contract gets no further attempt, and a late failure schedules none.
    let revoked = then_state(&invited, revoke(2));
    then(
        when(&revoked, start_invitation(PAYER, "L1", 2, 60)),
        Ok(Vec::new()),
    );
    let events = when(&revoked, invitation_outcome(PAYER, "L1", 1, false, 3)).unwrap();
    assert!(matches!(
        events.as_slice(),
        [ContractEvent::SmsInvitationFailed {
            next_attempt_at: None,
            ..
        }]
    ));
    // A link past its deadline gets no attempt either (24 hours for an SMS link).
    then(
        when(&failed, start_invitation(PAYER, "L1", 2, 25 * 60)),
        Ok(Vec::new()),
    );
}

#[test]
fn a_signers_link_lifetime_is_theirs_else_the_configured_default_for_their_notify_type() {
    let mut request = request();
    request.signers[0].link_expire_minutes = Some(90);
    let mut command = initiate_with(request.clone());
    if let ContractCommand::Initiate(initiate) = &mut command {
        initiate.link_lifetimes = crate::values::LinkLifetimes {
            h5: LinkTtl::parse_minutes(10).unwrap(),
            sms: LinkTtl::parse_minutes(600).unwrap(),
        };
    }
    let state = then_state(&ContractState::default(), command);
    let contract = state.contract().unwrap();
    let expiry = |party_id| {
        contract
            .signer(&party(party_id))
            .unwrap()
            .link()
            .unwrap()
            .expires_at
    };
    assert_eq!(expiry(RECEIVER), at(90));
    assert_eq!(expiry(PAYER), at(600));
    // A new link keeps the signer's own lifetime.
    let reissued = then_state(&state, reissue(RECEIVER, "L7", 700, 5));
    let receiver = reissued
        .contract()
        .unwrap()
        .signer(&party(RECEIVER))
        .unwrap();
    assert_eq!(receiver.link().unwrap().expires_at, at(95));
    request.signers[1].link_expire_minutes = Some(0);
    request.signers[0].link_expire_minutes = Some(90 * 24 * 60 + 1);
    assert_eq!(
        invalid_fields(when(&ContractState::default(), initiate_with(request))),
        vec![
            "signers[0].linkExpireMinutes",
            "signers[1].linkExpireMinutes"
        ]
    );
}

mod organization;
mod uploaded;
