//! The contract projection, on streams made by the real Contract aggregate.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use aggregates::contract::*;
use aggregates::face_verification::FaceVerificationFacts;
use aggregates::template::{SignerConfig, TemplateVersionFacts, VariableDefinition, VariableKey};
use aggregates::values::{
    ArchiveId, ArchiveProvider, CertificateSerial, ClientId, ContractId, DeviceInfo, Digest,
    DisplayName, LinkId, LongText, Mode, Operator, PartyId, PersonName, Reason, SignMethod,
    TemplateId, TemplateVersion, TransactionNo, UserAgent, VerificationId, VerificationStatus,
    WebhookConfigRequest,
};
use serde_json::json;

use crate::testing::*;
use crate::{ProjectionError, Row, SqlValue, Table, contract_rows};

// ---------------------------------------------------------------------------------------------------
// Fixtures

const RECEIVER: &str = "RECEIVER_001";
const PAYER: &str = "PAYER_001";
const RECEIVER_ID: &str = "11010519491231002X";
const PAYER_ID: &str = "440304199001010011";
const RECEIVER_MOBILE: &str = "13800138000";
const PAYER_MOBILE: &str = "13912345678";
const BEARER: &str = "Bearer s3cr3t-token";
const CONTRACT: &str = "CONTRACT_1";

type Stream = Recorded<ContractAggregate>;

fn digest(n: u64) -> Digest {
    Digest::parse(&format!("{n:064x}")).unwrap()
}

fn party(id: &str) -> PartyId {
    PartyId::parse(id).unwrap()
}

fn link(id: &str) -> LinkId {
    LinkId::parse(id).unwrap()
}

fn ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1))
}

fn definition(key: &str) -> VariableDefinition {
    VariableDefinition {
        key: VariableKey::parse(key).unwrap(),
        name: DisplayName::parse(key).unwrap(),
        required: true,
        sample: None,
    }
}

fn signer(party_id: &str, party_type: &str, name: &str, id: &str, mobile: &str) -> SignerRequest {
    let ca = party_type == "PAYER";
    SignerRequest {
        party_id: Some(party_id.into()),
        party_type: Some(party_type.into()),
        name: Some(name.into()),
        id_card_no: Some(id.into()),
        mobile: Some(mobile.into()),
        sign_method: Some(if ca { "CA_CERT" } else { "FACE_AND_SMS" }.into()),
        notify_type: Some(if ca { "SMS" } else { "H5_LINK" }.into()),
        sequence: Some(if ca { 2 } else { 1 }),
        link_expire_minutes: None,
        organization: None,
        places: Vec::new(),
    }
}

/// The receiver (face + SMS, H5 link) signs first, then the payer (CA certificate, SMS link); archived
/// with TSA; one callback header.
fn initiate() -> ContractCommand {
    let request = ContractRequest {
        biz_id: Some("REL_202310270001".into()),
        biz_type: Some("RELATIONSHIP_AGREEMENT".into()),
        template_id: Some("TEMPLATE_COLLECTION_V1".into()),
        template_version: None,
        title: Some("天财分账资金归集授权协议".into()),
        variables: BTreeMap::from([
            ("receiverName".to_string(), json!("上海浦东店")),
            ("payerName".to_string(), json!("XX品牌总部")),
        ]),
        signers: vec![
            signer(RECEIVER, "RECEIVER", "张三", RECEIVER_ID, RECEIVER_MOBILE),
            signer(PAYER, "PAYER", "李四", PAYER_ID, PAYER_MOBILE),
        ],
        callback_url: Some("https://auth.example.com/callback/e-sign".into()),
        webhook_config: Some(WebhookConfigRequest {
            headers: [("Authorization".to_string(), BEARER.to_string())].into(),
        }),
        expire_days: None,
        archive_config: Some(ArchiveConfigRequest {
            need_archive: Some(true),
            archive_provider: Some("TSA".into()),
            archive_providers: None,
        }),
        documents: Vec::new(),
    };
    ContractCommand::Initiate(InitiateContract {
        contract_id: ContractId::parse(CONTRACT).unwrap(),
        client_id: ClientId::parse("auth-system").unwrap(),
        sign_links: vec![
            NewSignLink {
                link_id: link("L0"),
                token_hash: digest(100),
            },
            NewSignLink {
                link_id: link("L1"),
                token_hash: digest(101),
            },
        ],
        request,
        template: Some(TemplateVersionFacts {
            template_id: TemplateId::parse("TEMPLATE_COLLECTION_V1").unwrap(),
            version: TemplateVersion::parse("1.0").unwrap(),
            active: true,
            variable_definitions: vec![definition("payerName"), definition("receiverName")],
            signer_config: SignerConfig::new(1, 3, vec![SignMethod::FaceAndSms]).unwrap(),
        }),
        preview_hash: Some(digest(1)),
        documents: Vec::new(),
        places: Vec::new(),
        archive_id: aggregates::values::ArchiveId::parse("ARCHIVE_TEST").unwrap(),
        link_lifetimes: aggregates::values::LinkLifetimes::default(),
        other_archive_ids: Vec::new(),
        seals: std::collections::BTreeMap::new(),
        mode: Mode::Production,
        now: t0(),
    })
}

fn open(party_id: &str, link_id: &str, minutes: i64) -> ContractCommand {
    ContractCommand::OpenSignLink(OpenSignLink {
        party_id: party(party_id),
        link_id: link(link_id),
        ip_address: ip(),
        user_agent: Some(UserAgent::parse("Mozilla/5.0").unwrap()),
        now: at(minutes),
    })
}

fn reissue(party_id: &str, link_id: &str, minutes: i64) -> ContractCommand {
    ContractCommand::IssueSignLink(IssueSignLink {
        party_id: party(party_id),
        link: NewSignLink {
            link_id: link(link_id),
            token_hash: digest(200),
        },
        ttl: None,
        defaults: aggregates::values::LinkLifetimes::default(),
        now: at(minutes),
    })
}

/// The checks a signer's method needs, through `link_id`.
fn checks(party_id: &str, link_id: &str, minutes: i64) -> Vec<ContractCommand> {
    if party_id == RECEIVER {
        vec![
            ContractCommand::SendSmsCode(SendSmsCode {
                party_id: party(party_id),
                link_id: link(link_id),
                code_hash: digest(42),
                policy: Default::default(),
                now: at(minutes),
            }),
            ContractCommand::VerifySmsCode(VerifySmsCode {
                party_id: party(party_id),
                link_id: link(link_id),
                code_hash: digest(42),
                policy: Default::default(),
                now: at(minutes),
            }),
            ContractCommand::RecordFaceVerification(RecordFaceVerification {
                party_id: party(party_id),
                link_id: link(link_id),
                verification: FaceVerificationFacts {
                    verification_id: VerificationId::parse("FACE_VERIFY_1").unwrap(),
                    status: VerificationStatus::Success,
                    name: PersonName::parse("张三").unwrap(),
                    id_card_no: RECEIVER_ID.parse().unwrap(),
                    verified_at: Some(at(minutes)),
                },
                now: at(minutes),
            }),
        ]
    } else {
        vec![ContractCommand::VerifyCertificate(VerifyCertificate {
            party_id: party(party_id),
            link_id: link(link_id),
            certificate: CertificateFacts {
                serial_number: CertificateSerial::parse("0A1B2C").unwrap(),
                issuer: LongText::parse("CFCA").unwrap(),
                subject_name: PersonName::parse("李四").unwrap(),
                subject_id_card_no: Some(PAYER_ID.parse().unwrap()),
                not_before: at(-60 * 24 * 365),
                not_after: at(60 * 24 * 365),
            },
            now: at(minutes),
        })]
    }
}

/// The smallest image `SignatureImage` accepts: a PNG signature and an IHDR of 600 x 200.
fn signature_image() -> aggregates::values::SignatureImage {
    let mut bytes = vec![0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    bytes.extend_from_slice(&13u32.to_be_bytes());
    bytes.extend_from_slice(b"IHDR");
    bytes.extend_from_slice(&600u32.to_be_bytes());
    bytes.extend_from_slice(&200u32.to_be_bytes());
    bytes.extend_from_slice(&[8, 6, 0, 0, 0]);
    aggregates::values::SignatureImage::parse(bytes).unwrap()
}

fn sign(party_id: &str, link_id: &str, minutes: i64) -> ContractCommand {
    ContractCommand::Sign(Sign {
        party_id: party(party_id),
        link_id: link(link_id),
        signature_image: Some(signature_image()),
        signature_image_hash: Some(digest(7)),
        ip_address: ip(),
        device_info: DeviceInfo::parse("iPhone; iOS 16.0").unwrap(),
        transaction_no: TransactionNo::parse(&format!("SIGN_TXN_{party_id}")).unwrap(),
        revision: None,
        now: at(minutes),
    })
}

fn reject(party_id: &str, link_id: &str, minutes: i64) -> ContractCommand {
    ContractCommand::Reject(Reject {
        party_id: party(party_id),
        link_id: link(link_id),
        reason: Reason::parse("条款不同意").unwrap(),
        ip_address: ip(),
        now: at(minutes),
    })
}

fn archive(minutes: i64) -> ContractCommand {
    ContractCommand::RequestArchive(RequestArchive {
        archive_id: ArchiveId::parse("ARCHIVE_1").unwrap(),
        provider: ArchiveProvider::Tsa,
        now: at(minutes),
    })
}

/// Runs a command, recording its batch at the command's minute.
fn run(stream: &mut Stream, command: ContractCommand, minutes: i64) {
    stream.run(command, at(minutes));
}

fn initiated() -> Stream {
    let mut stream = Stream::new();
    run(&mut stream, initiate(), 0);
    stream
}

/// Checks and signature of one signer through their first link, each command its own batch.
fn signs(stream: &mut Stream, party_id: &str, link_id: &str, minutes: i64) {
    for command in checks(party_id, link_id, minutes) {
        run(stream, command, minutes);
    }
    run(stream, sign(party_id, link_id, minutes), minutes);
}

fn signed() -> Stream {
    let mut stream = initiated();
    signs(&mut stream, RECEIVER, "L0", 1);
    signs(&mut stream, PAYER, "L1", 2);
    stream
}

fn rows(stream: &Stream) -> Vec<Row> {
    contract_rows(&stream.projected()).unwrap()
}

fn contract(rows: &[Row]) -> &Row {
    row(rows, Table::Contract, &[CONTRACT])
}

fn signer_row<'a>(rows: &'a [Row], party_id: &str) -> &'a Row {
    row(rows, Table::ContractSigner, &[CONTRACT, party_id])
}

/// The version of the last event recorded so far.
fn version(stream: &Stream) -> u64 {
    stream.stored.len() as u64
}

// ---------------------------------------------------------------------------------------------------
// Rows per lifecycle step

#[test]
fn an_initiated_contract_has_its_row_and_one_pending_row_per_signer() {
    let stream = initiated();
    let rows = rows(&stream);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|row| {
        row.values
            .iter()
            .map(|(name, _)| *name)
            .eq(row.table.columns().iter().copied())
    }));

    let contract = contract(&rows);
    assert_eq!(value(contract, "status"), &text("CREATED"));
    assert_eq!(value(contract, "client_id"), &text("auth-system"));
    assert_eq!(value(contract, "biz_id"), &text("REL_202310270001"));
    assert_eq!(value(contract, "biz_type"), &text("RELATIONSHIP_AGREEMENT"));
    assert_eq!(
        value(contract, "template_id"),
        &text("TEMPLATE_COLLECTION_V1")
    );
    assert_eq!(value(contract, "template_version"), &text("1.0"));
    assert_eq!(value(contract, "title"), &text("天财分账资金归集授权协议"));
    assert_eq!(
        value(contract, "variables_json"),
        &text(r#"{"payerName":"XX品牌总部","receiverName":"上海浦东店"}"#)
    );
    assert_eq!(value(contract, "preview_hash"), &text(digest(1).as_hex()));
    assert_eq!(value(contract, "need_archive"), &SqlValue::Bool(true));
    assert_eq!(value(contract, "archive_providers"), &text(r#"["TSA"]"#));
    assert_eq!(value(contract, "expires_at"), &time(at(7 * 24 * 60)));
    for column in [
        "document_url",
        "document_hash",
        "signed_at",
        "revoked_at",
        "revoke_reason",
    ] {
        assert_eq!(value(contract, column), &SqlValue::Null, "{column}");
    }
    // Three events: the initiation and one link per signer.
    assert_eq!(value(contract, "stream_version"), &SqlValue::Integer(3));

    let receiver = signer_row(&rows, RECEIVER);
    assert_eq!(value(receiver, "party_type"), &text("RECEIVER"));
    assert_eq!(
        value(receiver, "name"),
        &text(&serde_json::to_string(&stream.stored[0].payload["signers"][0]["name"]).unwrap())
    );
    assert_eq!(value(receiver, "sign_method"), &text("FACE_AND_SMS"));
    assert_eq!(value(receiver, "notify_type"), &text("H5_LINK"));
    assert_eq!(value(receiver, "sign_status"), &text("PENDING"));
    assert_eq!(value(receiver, "sequence"), &SqlValue::Integer(1));
    assert_eq!(value(receiver, "link_id"), &text("L0"));
    assert_eq!(value(receiver, "expires_at"), &time(at(30)));
    assert_eq!(value(receiver, "sign_url"), &SqlValue::Null);
    assert_eq!(value(receiver, "short_url"), &SqlValue::Null);
    let payer = signer_row(&rows, PAYER);
    assert_eq!(value(payer, "sign_method"), &text("CA_CERT"));
    assert_eq!(value(payer, "sequence"), &SqlValue::Integer(2));
    assert_eq!(value(payer, "link_id"), &text("L1"));
    assert_eq!(value(payer, "expires_at"), &time(at(24 * 60)));
}

#[test]
fn ids_come_from_the_creating_event_and_signers_of_one_initiation_get_distinct_ids() {
    let stream = initiated();
    let rows = rows(&stream);
    let initiation = Stream::position(1);
    assert_eq!(value(contract(&rows), "id"), &SqlValue::Integer(initiation));
    assert_eq!(
        value(signer_row(&rows, RECEIVER), "id"),
        &SqlValue::Integer(initiation * 1000 + 1)
    );
    assert_eq!(
        value(signer_row(&rows, PAYER), "id"),
        &SqlValue::Integer(initiation * 1000 + 2)
    );
    for row in &rows {
        assert_eq!(value(row, "created_at"), &stream.recorded_at(1));
        assert_eq!(value(row, "updated_at"), &stream.recorded_at(1));
    }
}

#[test]
fn timestamps_are_cut_to_whole_microseconds() {
    let rows = rows(&initiated());
    let SqlValue::Timestamp(created) = value(contract(&rows), "created_at") else {
        panic!("created_at is not a timestamp");
    };
    assert_eq!(created.timestamp_subsec_nanos() % 1000, 0);
    assert_eq!(created.timestamp_subsec_micros(), 123_456);
}

#[test]
fn the_first_of_two_signatures_makes_the_contract_partially_signed() {
    let mut stream = initiated();
    signs(&mut stream, RECEIVER, "L0", 5);
    let rows = rows(&stream);

    let contract = contract(&rows);
    assert_eq!(value(contract, "status"), &text("PARTIAL_SIGNED"));
    assert_eq!(value(contract, "signed_at"), &SqlValue::Null);
    assert_eq!(
        value(contract, "stream_version"),
        &SqlValue::Integer(version(&stream) as i64)
    );
    assert_eq!(value(contract, "updated_at"), &time(at(5) + nanos()));

    let receiver = signer_row(&rows, RECEIVER);
    assert_eq!(value(receiver, "sign_status"), &text("SIGNED"));
    assert_eq!(value(receiver, "signed_at"), &time(at(5)));
    assert_eq!(
        value(receiver, "transaction_no"),
        &text("SIGN_TXN_RECEIVER_001")
    );
    assert_eq!(value(receiver, "ip_address"), &text("192.168.1.1"));
    assert_eq!(value(receiver, "device_info"), &text("iPhone; iOS 16.0"));
    // The used link stays on the row.
    assert_eq!(value(receiver, "link_id"), &text("L0"));
    assert_eq!(value(receiver, "expires_at"), &time(at(30)));
    assert_eq!(value(receiver, "updated_at"), &time(at(5) + nanos()));
    // The created_at never moves.
    assert_eq!(value(receiver, "created_at"), &stream.recorded_at(1));

    let payer = signer_row(&rows, PAYER);
    assert_eq!(value(payer, "sign_status"), &text("PENDING"));
    assert_eq!(value(payer, "updated_at"), &stream.recorded_at(1));
}

#[test]
fn the_last_signature_makes_the_contract_signed() {
    let stream = signed();
    let rows = rows(&stream);
    let contract = contract(&rows);
    assert_eq!(value(contract, "status"), &text("SIGNED"));
    assert_eq!(value(contract, "signed_at"), &time(at(2)));
    assert_eq!(value(contract, "updated_at"), &time(at(2) + nanos()));
    for party_id in [RECEIVER, PAYER] {
        assert_eq!(
            value(signer_row(&rows, party_id), "sign_status"),
            &text("SIGNED")
        );
    }
    assert_eq!(
        value(signer_row(&rows, PAYER), "transaction_no"),
        &text("SIGN_TXN_PAYER_001")
    );
    assert!(rows.iter().all(|row| row.table != Table::ContractArchive));
}

#[test]
fn a_rejection_rejects_the_contract_and_records_why_on_the_signer() {
    let mut stream = initiated();
    run(&mut stream, reject(RECEIVER, "L0", 3), 3);
    let rows = rows(&stream);
    assert_eq!(value(contract(&rows), "status"), &text("REJECTED"));
    let receiver = signer_row(&rows, RECEIVER);
    assert_eq!(value(receiver, "sign_status"), &text("REJECTED"));
    assert_eq!(value(receiver, "reject_reason"), &text("条款不同意"));
    assert_eq!(value(receiver, "rejected_at"), &time(at(3)));
    assert_eq!(value(receiver, "ip_address"), &text("192.168.1.1"));
    assert_eq!(value(receiver, "signed_at"), &SqlValue::Null);
    assert_eq!(
        value(signer_row(&rows, PAYER), "sign_status"),
        &text("PENDING")
    );
}

#[test]
fn a_revocation_records_its_reason_operator_and_time() {
    let mut stream = initiated();
    signs(&mut stream, RECEIVER, "L0", 1);
    let revoke = ContractCommand::Revoke(Revoke {
        reason: Reason::parse("用户要求取消").unwrap(),
        operator: Operator::parse("system_admin").unwrap(),
        now: at(9),
    });
    run(&mut stream, revoke, 9);
    let rows = rows(&stream);
    let contract = contract(&rows);
    assert_eq!(value(contract, "status"), &text("REVOKED"));
    assert_eq!(value(contract, "revoked_at"), &time(at(9)));
    assert_eq!(value(contract, "revoke_reason"), &text("用户要求取消"));
    assert_eq!(value(contract, "revoke_operator"), &text("system_admin"));
    assert_eq!(value(contract, "updated_at"), &time(at(9) + nanos()));
    // The signature given before the revocation stays visible.
    assert_eq!(
        value(signer_row(&rows, RECEIVER), "sign_status"),
        &text("SIGNED")
    );
}

#[test]
fn expiry_marks_the_contract_expired_and_leaves_pending_signers_pending() {
    let mut stream = initiated();
    let deadline = 7 * 24 * 60;
    run(
        &mut stream,
        ContractCommand::Expire(Expire {
            now: at(deadline + 5),
        }),
        deadline + 5,
    );
    let rows = rows(&stream);
    assert_eq!(value(contract(&rows), "status"), &text("EXPIRED"));
    assert_eq!(
        value(contract(&rows), "updated_at"),
        &time(at(deadline + 5) + nanos())
    );
    for party_id in [RECEIVER, PAYER] {
        let signer = signer_row(&rows, party_id);
        assert_eq!(value(signer, "sign_status"), &text("PENDING"));
        assert_eq!(value(signer, "updated_at"), &stream.recorded_at(1));
    }
}

#[test]
fn an_archive_row_follows_its_attempts_and_keeps_the_id_of_its_first_request() {
    let mut stream = signed();
    run(
        &mut stream,
        ContractCommand::SealDocument(SealDocument {
            document_hash: digest(5),
            details: Default::default(),
            now: at(10),
        }),
        10,
    );
    assert_eq!(
        value(contract(&rows(&stream)), "document_hash"),
        &text(digest(5).as_hex())
    );

    run(&mut stream, archive(11), 11);
    let requested = version(&stream);
    let rows_pending = rows(&stream);
    let pending = row(&rows_pending, Table::ContractArchive, &["ARCHIVE_1"]);
    assert_eq!(
        value(pending, "id"),
        &SqlValue::Integer(Stream::position(requested))
    );
    assert_eq!(value(pending, "contract_id"), &text(CONTRACT));
    assert_eq!(value(pending, "archive_provider"), &text("TSA"));
    assert_eq!(value(pending, "status"), &text("PENDING"));
    assert_eq!(value(pending, "document_hash"), &text(digest(5).as_hex()));
    assert_eq!(value(pending, "attempts"), &SqlValue::Integer(1));
    assert_eq!(value(pending, "created_at"), &time(at(11) + nanos()));

    let failure = ContractCommand::RecordArchiveFailure(RecordArchiveFailure {
        provider: ArchiveProvider::Tsa,
        reason: Reason::parse("TSA timeout").unwrap(),
        now: at(12),
    });
    run(&mut stream, failure, 12);
    let rows_failed = rows(&stream);
    let failed = row(&rows_failed, Table::ContractArchive, &["ARCHIVE_1"]);
    assert_eq!(value(failed, "status"), &text("FAILED"));
    assert_eq!(value(failed, "fail_reason"), &text("TSA timeout"));
    // A failed archive leaves the contract SIGNED.
    assert_eq!(value(contract(&rows_failed), "status"), &text("SIGNED"));

    run(&mut stream, archive(13), 13);
    let success = ContractCommand::RecordArchiveSuccess(RecordArchiveSuccess {
        provider: ArchiveProvider::Tsa,
        transaction_no: TransactionNo::parse("TSA_TXN_1").unwrap(),
        certificate_url: Some(LongText::parse("https://tsa.example.com/cert/1.pdf").unwrap()),
        authority: None,
        evidence: None,
        now: at(14),
    });
    run(&mut stream, success, 14);
    let rows = rows(&stream);
    let archived = row(&rows, Table::ContractArchive, &["ARCHIVE_1"]);
    assert_eq!(value(archived, "status"), &text("SUCCESS"));
    assert_eq!(value(archived, "attempts"), &SqlValue::Integer(2));
    assert_eq!(value(archived, "fail_reason"), &SqlValue::Null);
    assert_eq!(value(archived, "archive_time"), &time(at(14)));
    assert_eq!(value(archived, "transaction_no"), &text("TSA_TXN_1"));
    assert_eq!(
        value(archived, "certificate_url"),
        &text("https://tsa.example.com/cert/1.pdf")
    );
    assert_eq!(value(archived, "metadata_json"), &SqlValue::Null);
    assert_eq!(
        value(archived, "id"),
        &SqlValue::Integer(Stream::position(requested))
    );
    assert_eq!(value(archived, "created_at"), &time(at(11) + nanos()));
    assert_eq!(value(archived, "updated_at"), &time(at(14) + nanos()));
}

// ---------------------------------------------------------------------------------------------------
// Determinism and the updated_at rule

#[test]
fn the_same_events_always_give_identical_rows_and_a_rebuild_from_storage_too() {
    let mut stream = signed();
    run(
        &mut stream,
        ContractCommand::SealDocument(SealDocument {
            document_hash: digest(5),
            details: Default::default(),
            now: at(10),
        }),
        10,
    );
    run(&mut stream, archive(11), 11);
    let inline = rows(&stream);
    assert_eq!(inline, rows(&stream));
    let reloaded = stream.reloaded();
    assert_eq!(contract_rows(&projected(&reloaded)).unwrap(), inline);
}

#[test]
fn an_event_that_changes_no_column_moves_only_the_stream_version() {
    let mut stream = initiated();
    run(&mut stream, open(RECEIVER, "L0", 4), 4);
    let rows = rows(&stream);
    assert_eq!(
        value(contract(&rows), "stream_version"),
        &SqlValue::Integer(4)
    );
    for row in &rows {
        assert_eq!(value(row, "updated_at"), &stream.recorded_at(1));
    }
}

#[test]
fn a_reissued_link_replaces_the_link_and_its_expiry_on_the_signer_row_only() {
    let mut stream = initiated();
    run(&mut stream, reissue(PAYER, "L9", 60), 60);
    let rows = rows(&stream);
    let payer = signer_row(&rows, PAYER);
    assert_eq!(value(payer, "link_id"), &text("L9"));
    assert_eq!(
        value(payer, "link_token_hash"),
        &text(digest(200).as_hex()),
        "the page finds the signer by the new link's token hash"
    );
    assert_eq!(value(payer, "expires_at"), &time(at(60 + 24 * 60)));
    assert_eq!(value(payer, "updated_at"), &time(at(60) + nanos()));
    assert_eq!(value(contract(&rows), "updated_at"), &stream.recorded_at(1));
    assert_eq!(
        value(signer_row(&rows, RECEIVER), "updated_at"),
        &stream.recorded_at(1)
    );
}

// ---------------------------------------------------------------------------------------------------
// Personal data

#[test]
fn no_plaintext_id_or_mobile_number_or_header_value_appears_in_any_row() {
    let mut stream = signed();
    run(
        &mut stream,
        ContractCommand::SealDocument(SealDocument {
            document_hash: digest(5),
            details: Default::default(),
            now: at(10),
        }),
        10,
    );
    run(&mut stream, archive(11), 11);
    let rows = rows(&stream);
    assert_no_plaintext(
        &rows,
        &[
            RECEIVER_ID,
            PAYER_ID,
            RECEIVER_MOBILE,
            PAYER_MOBILE,
            "s3cr3t",
        ],
    );
}

#[test]
fn sealed_values_are_copied_from_the_stored_initiation_with_their_hashes() {
    let stream = initiated();
    let rows = rows(&stream);
    let payload = &stream.stored[0].payload;
    for (index, party_id) in [RECEIVER, PAYER].into_iter().enumerate() {
        let signer = signer_row(&rows, party_id);
        for (column, hash_column, field) in [
            ("id_card_no", "id_card_hash", "idCardNo"),
            ("mobile", "mobile_hash", "mobile"),
        ] {
            let stored = &payload["signers"][index][field];
            assert_eq!(
                value(signer, column),
                &text(&serde_json::to_string(stored).unwrap())
            );
            let hash = stored["$pii"]["h"].as_str().unwrap();
            assert_eq!(value(signer, hash_column), &text(hash));
        }
        // Names need no look-up: the sealed marker alone.
        let name = &payload["signers"][index]["name"];
        assert!(name["$pii"]["c"].is_string());
        assert_eq!(
            value(signer, "name"),
            &text(&serde_json::to_string(name).unwrap())
        );
    }
    let all = format!("{rows:?}");
    assert!(!all.contains("张三") && !all.contains("李四"), "{all}");
    assert_eq!(
        value(contract(&rows), "callback_headers"),
        &text(&serde_json::to_string(&payload["webhookHeaders"]).unwrap())
    );
    assert!(
        value(contract(&rows), "callback_headers")
            .as_text()
            .unwrap()
            .starts_with(r#"{"Authorization":{"$pii":{"#)
    );
}

#[test]
fn names_stored_in_clear_before_they_were_sealed_project_as_stored_and_rebuild_alike() {
    let mut stream = signed();
    for signer in stream.stored[0].payload["signers"].as_array_mut().unwrap() {
        let plain = signer["name"]["$pii"]["c"].clone();
        assert!(plain.is_string());
        signer["name"] = json!(if signer["partyId"] == RECEIVER {
            "张三"
        } else {
            "李四"
        });
    }
    let rows = rows(&stream);
    assert_eq!(value(signer_row(&rows, RECEIVER), "name"), &text("张三"));
    assert_eq!(value(signer_row(&rows, PAYER), "name"), &text("李四"));
    let reloaded = stream.reloaded();
    assert_eq!(contract_rows(&projected(&reloaded)).unwrap(), rows);
}

#[test]
fn an_unsealed_or_missing_marker_in_the_stored_payload_is_refused() {
    let mut stream = initiated();
    stream.stored[0].payload["signers"][1]["mobile"] = json!({"$pii": PAYER_MOBILE});
    let error = contract_rows(&stream.projected()).unwrap_err();
    assert_eq!(
        error,
        ProjectionError::Unsealed {
            event: "ContractInitiated",
            path: "signers[1].mobile".into()
        }
    );
    assert!(!error.to_string().contains(PAYER_MOBILE));

    let mut stream = initiated();
    stream.stored[0].payload["signers"][0]["name"] = json!({"$pii": "张三"});
    let error = contract_rows(&stream.projected()).unwrap_err();
    assert_eq!(
        error,
        ProjectionError::Unsealed {
            event: "ContractInitiated",
            path: "signers[0].name".into()
        }
    );
    assert!(!error.to_string().contains("张三"));

    let mut stream = initiated();
    stream.stored[0].payload["signers"][0]
        .as_object_mut()
        .unwrap()
        .remove("idCardNo");
    assert!(matches!(
        contract_rows(&stream.projected()),
        Err(ProjectionError::MissingSealedValue { .. })
    ));

    let mut stream = initiated();
    stream.stored[0].payload["webhookHeaders"]["Authorization"] = json!(BEARER);
    assert!(matches!(
        contract_rows(&stream.projected()),
        Err(ProjectionError::MissingSealedValue { .. })
    ));
}

// ---------------------------------------------------------------------------------------------------
// Damaged input

#[test]
fn events_out_of_order_or_with_another_events_payload_are_refused() {
    let stream = initiated();
    let mut events = stream.projected();
    events.swap(1, 2);
    assert_eq!(
        contract_rows(&events),
        Err(ProjectionError::OutOfOrder {
            expected: 2,
            found: 3
        })
    );

    let mut events = stream.projected();
    events[1].sealed_payload = events[0].sealed_payload;
    assert!(matches!(
        contract_rows(&events),
        Err(ProjectionError::PayloadMismatch { .. })
    ));

    assert_eq!(
        contract_rows(&stream.projected()[1..]),
        Err(ProjectionError::OutOfOrder {
            expected: 1,
            found: 2
        })
    );
}

#[test]
fn a_stream_that_does_not_start_with_its_initiation_is_refused_and_no_events_give_no_rows() {
    let stream = initiated();
    let mut events = stream.projected();
    events.remove(0);
    for (index, event) in events.iter_mut().enumerate() {
        event.stream_version = index as u64 + 1;
    }
    assert_eq!(contract_rows(&events), Err(ProjectionError::NotInitiated));
    assert_eq!(contract_rows(&[]), Ok(vec![]));
}

fn nanos() -> chrono::TimeDelta {
    chrono::TimeDelta::nanoseconds(123_456_789)
}

#[test]
fn the_latest_links_token_hash_stays_on_the_signer_row_after_it_is_used() {
    let stream = signed();
    let rows = rows(&stream);
    for (party_id, token) in [(RECEIVER, 100), (PAYER, 101)] {
        let row = signer_row(&rows, party_id);
        assert_eq!(value(row, "link_token_hash"), &text(digest(token).as_hex()));
        assert_eq!(value(row, "link_status"), &text("USED"));
    }
}

#[test]
fn each_version_of_the_sealed_document_has_a_row_and_only_the_latest_is_current() {
    let mut stream = signed();
    run(
        &mut stream,
        ContractCommand::SealDocument(SealDocument {
            document_hash: digest(5),
            details: SealDetails {
                document_timestamped_at: Some(at(10)),
                document_timestamp_valid_until: Some(at(100)),
                ..Default::default()
            },
            now: at(10),
        }),
        10,
    );
    let versions = |rows: &[Row]| -> Vec<Row> {
        let mut found: Vec<Row> = rows
            .iter()
            .filter(|row| row.table == Table::ContractDocument)
            .cloned()
            .collect();
        found.sort_by_key(|row| match row.get("version") {
            Some(SqlValue::Integer(version)) => *version,
            _ => 0,
        });
        found
    };
    let sealed = versions(&rows(&stream));
    assert_eq!(sealed.len(), 1);
    let first = &sealed[0];
    assert_eq!(value(first, "document_hash"), &text(digest(5).as_hex()));
    assert_eq!(value(first, "current"), &SqlValue::Bool(true));
    assert_eq!(
        value(first, "document_timestamp_valid_until"),
        &time(at(100))
    );

    run(
        &mut stream,
        ContractCommand::RenewDocumentTimestamp(RenewDocumentTimestamp {
            previous_hash: digest(5),
            document_hash: digest(6),
            timestamp_authority: None,
            timestamped_at: at(20),
            valid_until: Some(at(200)),
            now: at(20),
        }),
        20,
    );
    assert_eq!(
        value(contract(&rows(&stream)), "document_hash"),
        &text(digest(6).as_hex())
    );
    let renewed = versions(&rows(&stream));
    assert_eq!(renewed.len(), 2);
    let first = &renewed[0];
    assert_eq!(value(first, "document_hash"), &text(digest(5).as_hex()));
    assert_eq!(value(first, "current"), &SqlValue::Bool(false));
    assert_eq!(value(first, "document_timestamped_at"), &time(at(10)));
    let second = &renewed[1];
    assert_eq!(value(second, "document_hash"), &text(digest(6).as_hex()));
    assert_eq!(value(second, "current"), &SqlValue::Bool(true));
    assert_eq!(value(second, "document_timestamped_at"), &time(at(20)));
    assert_eq!(
        value(second, "document_timestamp_valid_until"),
        &time(at(200))
    );
}

// ---------------------------------------------------------------------------------------------------
// SMS invitations

fn invitation_row<'a>(rows: &'a [Row], party_id: &str) -> &'a Row {
    row(rows, Table::ContractInvitation, &[CONTRACT, party_id])
}

fn delivered(party_id: &str, link_id: &str, minutes: i64) -> ContractCommand {
    ContractCommand::RecordInvitationDelivery(RecordInvitationDelivery {
        party_id: party(party_id),
        link_id: link(link_id),
        attempt: 1,
        outcome: aggregates::delivery::DeliveryOutcome::Sent {
            sender: aggregates::values::ProviderName::parse("development").unwrap(),
            message_id: LongText::parse("dev-1").unwrap(),
        },
        policy: aggregates::delivery::RetryPolicy::default(),
        now: at(minutes),
    })
}

#[test]
fn an_sms_signers_invitation_row_follows_its_delivery_and_closes_with_the_contract() {
    let mut stream = initiated();
    // The payer (SMS, sequence 2) waits: no invitation yet.
    assert!(
        rows(&stream)
            .iter()
            .all(|row| row.table != Table::ContractInvitation)
    );
    signs(&mut stream, RECEIVER, "L0", 5);
    let requested = rows(&stream);
    let invitation = invitation_row(&requested, PAYER);
    assert_eq!(value(invitation, "link_id"), &text("L1"));
    assert_eq!(value(invitation, "status"), &text("REQUESTED"));
    assert_eq!(value(invitation, "attempts"), &SqlValue::Integer(1));
    assert_eq!(value(invitation, "attempt_started_at"), &time(at(5)));

    let mut sent = Stream::new();
    run(&mut sent, initiate(), 0);
    signs(&mut sent, RECEIVER, "L0", 5);
    run(&mut sent, delivered(PAYER, "L1", 6), 6);
    let sent_rows = rows(&sent);
    let invitation = invitation_row(&sent_rows, PAYER);
    assert_eq!(value(invitation, "status"), &text("SENT"));
    assert_eq!(value(invitation, "message_id"), &text("dev-1"));
    assert_eq!(value(invitation, "sent_at"), &time(at(6)));
    assert_eq!(value(invitation, "attempt_started_at"), &SqlValue::Null);

    // Revoked while the attempt was in flight: the sweep must leave it alone.
    run(
        &mut stream,
        ContractCommand::Revoke(Revoke {
            reason: Reason::parse("用户要求取消").unwrap(),
            operator: Operator::parse("system_admin").unwrap(),
            now: at(7),
        }),
        7,
    );
    let revoked = rows(&stream);
    let invitation = invitation_row(&revoked, PAYER);
    assert_eq!(value(invitation, "status"), &text("CANCELLED"));
    assert_eq!(value(invitation, "attempt_started_at"), &SqlValue::Null);
}
