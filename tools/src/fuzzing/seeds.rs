//! The seed corpus of the fuzz targets, written by code (`esign-fuzz-seeds`, see docs/fuzzing.md):
//! valid inputs and inputs broken one way each. The signed ones are signed for the fixed clocks of
//! [`super`], so they stay valid.

#![allow(
    clippy::expect_used,
    reason = "seeds built from constants and the fixtures: a failure is a bug in this module"
)]

use std::path::Path;

use chrono::TimeDelta;
use der::Decode;
use esign::documents::pades::{Revision, SignatureInfo};
use esign::documents::pdf::{Block, Layout, render};
use esign::documents::sign::{FieldSignature, sign_field};
use esign::trust::cms::Signer;
use esign::trust::tsa;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    SIGNING_NOW_UNIX, TEMPLATE_ID, TSA_DATA, TSA_NONCE, fixture_ca, fixture_tsa, now,
    signed_callback, signed_request,
};

/// One seed: `fuzz/corpus/<target>/seed-<name>`.
#[derive(Debug, Clone)]
pub struct Seed {
    pub target: &'static str,
    /// What the input is, or how it is broken.
    pub name: &'static str,
    pub data: Vec<u8>,
}

/// Writes every seed under `corpus` (one directory per target), replacing the seeds there; inputs
/// the fuzzers found, kept beside them under other names, stay. Answers how many were written.
pub fn write(corpus: &Path) -> std::io::Result<usize> {
    let seeds = all();
    for seed in &seeds {
        let dir = corpus.join(seed.target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("seed-{}", seed.name)), &seed.data)?;
    }
    Ok(seeds.len())
}

fn valid_contract() -> Value {
    json!({
        "bizId": "REL_202601010001",
        "bizType": "RELATIONSHIP_AGREEMENT",
        "templateId": TEMPLATE_ID,
        "title": "天财分账资金归集授权协议",
        "variables": {"payerName": "XX品牌总部", "receiverName": "上海浦东店", "note": 7},
        "signers": crate::fixtures::two_signers(),
        "callbackUrl": "https://auth.example.com/callback/e-sign",
        "webhookConfig": {"headers": {"Authorization": "Bearer callback-token"}},
        "expireDays": 7,
        "archiveConfig": {"needArchive": true, "archiveProvider": "TSA"}
    })
}

fn valid_face() -> Value {
    json!({
        "bizId": "AUTH_FLOW_001",
        "bizType": "RELATIONSHIP_BINDING",
        "userInfo": {"name": "张三", "idCardNo": "11010519491231002X", "mobile": "13800138000"},
        "callbackUrl": "https://auth.example.com/callback/face-verification",
        "expireMinutes": 30,
        "uiConfig": {"title": "天财分账身份验证", "themeColor": "#1890ff"}
    })
}

fn with(mut value: Value, pointer: &str, replacement: Value) -> Vec<u8> {
    *value
        .pointer_mut(pointer)
        .expect("the seed body has the field") = replacement;
    serde_json::to_vec(&value).expect("JSON serializes")
}

fn task_result(passed: bool) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "taskId": "TASK_0001",
        "orderNo": "FACE_VERIFY_20260101FUZZ00000001",
        "transactionNo": "TXN_0001",
        "passed": passed,
        "score": if passed { 0.97 } else { 0.31 },
        "failReason": if passed { Value::Null } else { json!("FACE_MISMATCH") },
        "completedAt": "2026-01-01T00:00:00Z"
    }))
    .expect("JSON serializes")
}

/// A one-page document with one signer field, signed by an event certificate of the fixture CA.
/// A small upload with the anchor "甲方" in esign's own CJK layout.
fn anchored_pdf() -> Vec<u8> {
    render(&Layout {
        title: "Upload".into(),
        blocks: vec![Block::Paragraph("甲方（盖章）".into())],
        footer: "U".into(),
        signature_fields: vec![],
    })
    .expect("the document renders")
    .bytes
}

fn signed_pdf() -> (Vec<u8>, Vec<u8>) {
    let rendered = render(&Layout {
        title: "Fuzz".into(),
        blocks: vec![Block::Title("Fuzz".into()), Block::Paragraph("1".into())],
        footer: "F".into(),
        signature_fields: vec!["Signer_A".into()],
    })
    .expect("the document renders");
    let ca = fixture_ca();
    let now = now();
    let issued = ca
        .issue_event_certificate(
            "Fuzz",
            "110105********002X",
            now - TimeDelta::minutes(1),
            std::time::Duration::from_secs(1800),
        )
        .expect("the fixture CA issues a certificate");
    let certificate = x509_cert::Certificate::from_der(&issued.certificate_der)
        .expect("the issued certificate parses");
    let (signed, _) = sign_field(
        &rendered.bytes,
        &Revision::of(&rendered),
        FieldSignature {
            field: &rendered.fields[0],
            info: &SignatureInfo {
                name: "Fuzz".into(),
                reason: "agree".into(),
                location: None,
                signed_at: now,
            },
            appearance: None,
            signer: Signer {
                certificate: &certificate,
                key: &issued.key,
            },
            chain: &[ca.intermediate().clone(), ca.root().clone()],
        },
    )
    .expect("the field is signed");
    (rendered.bytes, signed)
}

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let nonce = "seedNonce0000000001";
    let mut seeds: Vec<(&str, &str, Vec<u8>)> = Vec::new();
    let body = serde_json::to_vec(&valid_contract()).expect("JSON serializes");

    // Request signing: correctly signed, then each part broken.
    let signed = signed_request("POST", "/api/v1/contract/initiate", nonce, &body);
    seeds.push(("request_signature", "signed_post", signed.clone()));
    seeds.push((
        "request_signature",
        "signed_get_with_query",
        signed_request(
            "GET",
            "/api/v1/contract/CONTRACT_1/events?b=2&a=%E5%BC%A0+x&c",
            "seedNonce0000000002",
            b"",
        ),
    ));
    let mut flipped = signed.clone();
    let last = flipped.len() - body.len() - 2;
    flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
    seeds.push(("request_signature", "wrong_signature", flipped));
    seeds.push((
        "request_signature",
        "stale_timestamp",
        String::from_utf8(signed.clone())
            .expect("a signed request is text")
            .replacen(
                &SIGNING_NOW_UNIX.to_string(),
                &(SIGNING_NOW_UNIX - 301).to_string(),
                1,
            )
            .into_bytes(),
    ));
    seeds.push((
        "request_signature",
        "missing_headers",
        b"POST\n/api/v1/contract/initiate\nfuzz-client\n\n\n\n{}".to_vec(),
    ));

    // Contract initiation.
    seeds.push(("contract_initiate", "valid", body.clone()));
    let contract = valid_contract;
    seeds.push(("contract_initiate", "empty_object", b"{}".to_vec()));
    seeds.push(("contract_initiate", "not_json", b"bizId=1".to_vec()));
    seeds.push(("contract_initiate", "array", b"[1,2]".to_vec()));
    seeds.push((
        "contract_initiate",
        "bad_id_card",
        with(
            contract(),
            "/signers/0/idCardNo",
            json!("110105194912310021"),
        ),
    ));
    seeds.push((
        "contract_initiate",
        "sequence_as_text",
        with(contract(), "/signers/1/sequence", json!("2")),
    ));
    seeds.push((
        "contract_initiate",
        "object_variable",
        with(contract(), "/variables/note", json!({"a": 1})),
    ));
    seeds.push((
        "contract_initiate",
        "private_callback",
        with(contract(), "/callbackUrl", json!("http://127.0.0.1/x")),
    ));
    let mut trailing = body.clone();
    trailing.extend_from_slice(b" {}");
    seeds.push(("contract_initiate", "trailing_document", trailing));
    // Found by the fuzzer: a byte that is not UTF-8 in an unknown field was skipped unchecked.
    let mut not_utf8 = body.clone();
    let end = not_utf8.len() - 1;
    not_utf8.splice(end..end, b",\"unknown\":\"\xe5\x93\xff\"".iter().copied());
    seeds.push(("contract_initiate", "not_utf8_in_unknown_field", not_utf8));

    // Face verification initiation.
    let face = serde_json::to_vec(&valid_face()).expect("JSON serializes");
    seeds.push(("face_initiate", "valid", face));
    seeds.push((
        "face_initiate",
        "bad_mobile",
        with(valid_face(), "/userInfo/mobile", json!("12800138000")),
    ));
    seeds.push((
        "face_initiate",
        "negative_expiry",
        with(valid_face(), "/expireMinutes", json!(-1)),
    ));
    seeds.push(("face_initiate", "null", b"null".to_vec()));

    // ID-card and mobile numbers.
    for (name, text) in [
        ("id_valid", "11010519491231002X"),
        ("id_lowercase_x", "11010519491231002x"),
        ("id_bad_check", "110105194912310021"),
        ("id_future_birth", "110105209912310011"),
        ("id_short", "1101051949123100"),
        ("id_wide_characters", "１１０１０５１９４９１２３１００２X"),
        ("mobile_valid", "13800138000"),
        ("mobile_bad_prefix", "12800138000"),
        ("mobile_long", "138001380001"),
    ] {
        seeds.push(("identity_numbers", name, text.as_bytes().to_vec()));
    }

    // Face provider callbacks.
    seeds.push((
        "face_callback",
        "signed_pass",
        signed_callback("cbNonce000000000001", &task_result(true)),
    ));
    seeds.push((
        "face_callback",
        "signed_fail",
        signed_callback("cbNonce000000000002", &task_result(false)),
    ));
    let mut resigned = signed_callback("cbNonce000000000003", b"{\"taskId\":1}");
    resigned[0] = 1;
    seeds.push(("face_callback", "resigned_malformed_body", resigned));
    let mut unsigned = signed_callback("cbNonce000000000004", &task_result(true));
    unsigned.push(b' ');
    seeds.push(("face_callback", "body_changed_after_signing", unsigned));

    // Signed timestamps at the ends of i64 once overflowed the window check.
    for (name, timestamp) in [
        ("resigned_min_timestamp", i64::MIN),
        ("resigned_max_timestamp", i64::MAX),
    ] {
        let mut input = format!("\u{1}{timestamp}\ncbNonce000000000005\n\n").into_bytes();
        input.extend_from_slice(&task_result(true));
        seeds.push(("face_callback", name, input));
    }

    // RFC 3161: the project's own TSA answering the client's request.
    let digest: [u8; 32] = Sha256::digest(TSA_DATA).into();
    let request = tsa::request_der(&digest, TSA_NONCE).expect("a timestamp request");
    let (granted, _) = fixture_tsa().respond(&request, now());
    seeds.push(("timestamp_response", "granted", granted));
    seeds.push((
        "timestamp_response",
        "rejected",
        tsa::rejection(
            tsa::FailureInfo::BadAlg,
            "the message imprint must be SHA-256",
        ),
    ));
    seeds.push(("timestamp_request", "valid", request.clone()));
    let other = tsa::request_der(&[7u8; 32], 1).expect("a timestamp request");
    seeds.push(("timestamp_request", "other_digest", other));
    let mut truncated = request;
    truncated.truncate(20);
    seeds.push(("timestamp_request", "truncated", truncated));

    // Uploaded PDFs.
    let (unsigned_pdf, signed_pdf) = signed_pdf();
    seeds.push(("pdf_validation", "signed", signed_pdf));
    seeds.push(("pdf_validation", "unsigned", unsigned_pdf));
    seeds.push((
        "pdf_validation",
        "header_only",
        b"%PDF-1.7\n%%EOF\n".to_vec(),
    ));
    seeds.push(("uploaded_pdf", "with_anchor", anchored_pdf()));
    seeds.push(("uploaded_pdf", "header_only", b"%PDF-1.7\n%%EOF\n".to_vec()));
    seeds
        .into_iter()
        .map(|(target, name, data)| Seed { target, name, data })
        .collect()
}
