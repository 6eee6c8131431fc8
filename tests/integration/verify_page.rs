//! Verification tells the truth, through the API and on the public page: `POST
//! /api/v1/contract/verify` lists each signature's facts (kind, who signed, the time its timestamp
//! proves apart from the claimed one, certificate, validity, long-term validation data) and a
//! one-word verdict; the page behind the QR code shows the green headline only when every check
//! passed for the file being checked (the stored one, or one the visitor chose), names the platform
//! seal as the platform, masks the signers, and shows Beijing time. In a phone-sized browser the
//! page fits its width and a chosen file that is not the sealed one turns the headline red.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, CALLER, RunningService, TestStore, json_of};
use crate::signing_client::SigningClient;

crate::backend_tests!(
    the_verify_api_gives_each_signatures_facts_and_a_verdict,
    the_page_is_green_only_for_the_sealed_file_with_every_check_passed,
);

/// The service, a two-signer contract signed by 张三 and 李四 and sealed; its id and sealed PDF.
async fn sealed_contract(t: &TestStore, name: &str) -> (RunningService, String, Vec<u8>) {
    let service = crate::helpers::start_service(t, &[CALLER, ADMIN]).await;
    let contract_id = signed_contract(&service, name).await;
    crate::sealing::seal_now(&service.state, &contract_id).await;
    let (status, contract) = json_of(
        service
            .client(CALLER)
            .get(&format!("/api/v1/contract/{contract_id}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{contract}");
    let hash = contract["documentHash"].as_str().unwrap().to_owned();
    let pdf = service
        .state
        .documents
        .get(
            &esign::app::sealing::document_storage_key(&contract_id, &hash),
            &hash,
        )
        .await
        .unwrap();
    (service, contract_id, pdf)
}

/// A two-signer contract signed by both (not sealed yet); its id.
async fn signed_contract(service: &RunningService, name: &str) -> String {
    let template = format!("TPL_VERIFY_{name}");
    crate::journey::publish_template(&service.client(ADMIN), &template).await;
    let contract_id = crate::journey::initiate_contract(
        &service.client(CALLER),
        &template,
        &format!("REL_VERIFY_{name}"),
        "http://127.0.0.1:9/unused",
        7,
    )
    .await;
    let state = &service.state;
    crate::journey::sign_both(state, &contract_id).await;
    contract_id
}

async fn verify(caller: &SigningClient, request: Value) -> Value {
    let (status, body) = json_of(caller.post_json("/api/v1/contract/verify", &request).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A PDF esign never sealed.
fn foreign_pdf() -> Vec<u8> {
    esign::documents::pdf::render(&esign::documents::pdf::Layout {
        title: "其他文件".into(),
        blocks: vec![esign::documents::pdf::Block::Paragraph(
            "与本平台无关".into(),
        )],
        footer: "OTHER".into(),
        signature_fields: Vec::new(),
    })
    .unwrap()
    .bytes
}

fn is_rfc3339_utc(value: &Value) -> bool {
    value.as_str().is_some_and(|text| {
        text.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(text).is_ok()
    })
}

async fn the_verify_api_gives_each_signatures_facts_and_a_verdict(t: TestStore) {
    let (service, contract_id, pdf) = sealed_contract(&t, "API").await;
    let caller = service.client(CALLER);
    let answer = verify(
        &caller,
        json!({"method": "CONTRACT_ID", "contractId": contract_id}),
    )
    .await;
    assert_eq!(answer["valid"], true, "{answer}");
    assert_eq!(answer["verdict"], "VALID");
    assert_eq!(answer["hashMatchesSealed"], true);
    assert_eq!(answer["signaturesValid"], true);
    assert_eq!(answer["sealedDocumentHash"], answer["documentHash"]);

    let signatures = answer["signatureInfo"].as_array().unwrap();
    assert_eq!(
        signatures.len(),
        4,
        "two signers, the seal, the document timestamp: {answer}"
    );
    for (position, (signature, name)) in signatures.iter().zip(["张三", "李四"]).enumerate() {
        assert_eq!(signature["index"], position + 1);
        assert_eq!(signature["kind"], "SIGNER_SIGNATURE", "{signature}");
        // The owner's API answer names the signer as the certificate does (as before).
        assert_eq!(signature["signer"], name);
        assert_eq!(signature["signedBy"], name);
        assert_eq!(signature["valid"], true);
        assert_eq!(signature["invalidReason"], Value::Null);
        // Each signer's signature carries its own timestamp, made when they signed.
        assert!(is_rfc3339_utc(&signature["provenTime"]), "{signature}");
        assert_eq!(signature["provenTime"], signature["timestampTime"]);
        assert!(is_rfc3339_utc(&signature["claimedTime"]), "{signature}");
        assert_eq!(signature["claimedTime"], signature["signTime"]);
        let subject = signature["certificateSubject"].as_str().unwrap();
        assert!(
            subject.starts_with(&format!("CN={name}, SERIALNUMBER=")),
            "{subject}"
        );
        assert!(
            !subject.contains("11010519491231002X") && !subject.contains("440304199001010011"),
            "the certificate carries the masked ID number only: {subject}"
        );
        assert!(
            signature["certificateIssuerName"]
                .as_str()
                .unwrap()
                .starts_with("CN="),
            "{signature}"
        );
        assert_eq!(
            signature["ltvDataPresent"], true,
            "the store after the seal"
        );
    }
    let seal = &signatures[2];
    assert_eq!(seal["index"], 3);
    assert_eq!(seal["kind"], "PLATFORM_SEAL", "{seal}");
    assert_eq!(seal["field"], "PlatformSeal");
    assert_eq!(seal["signedBy"], "平台签章 (esign Platform Seal)");
    assert_eq!(seal["valid"], true);
    assert!(is_rfc3339_utc(&seal["provenTime"]), "{seal}");
    assert_eq!(seal["provenTime"], seal["timestampTime"]);
    assert!(seal["timestampAuthority"].is_string());
    assert_eq!(
        seal["certificateSubject"], "CN=esign Platform Seal, O=esign",
        "{seal}"
    );
    assert_eq!(seal["ltvDataPresent"], true, "{seal}");
    let closing = &signatures[3];
    assert_eq!(closing["kind"], "DOCUMENT_TIMESTAMP", "{closing}");
    assert_eq!(closing["field"], "DocumentTimestamp");
    assert_eq!(closing["coversWholeDocument"], true);
    assert_eq!(
        closing["ltvDataPresent"], false,
        "its own data goes into the next renewal's store"
    );
    assert!(is_rfc3339_utc(&closing["provenTime"]), "{closing}");
    assert_eq!(
        closing["claimedTime"],
        Value::Null,
        "a document timestamp claims nothing"
    );

    // The same file uploaded: the same facts.
    let by_file = verify(
        &caller,
        json!({"method": "FILE", "fileContent": base64(&pdf)}),
    )
    .await;
    assert_eq!(by_file["verdict"], "VALID", "{by_file}");
    assert_eq!(by_file["signatureInfo"], answer["signatureInfo"]);

    // A byte changed: tampered, and each signature says why.
    let changed = verify(
        &caller,
        json!({"method": "FILE", "fileContent": base64(&crate::pades::tampered(&pdf))}),
    )
    .await;
    assert_eq!(changed["valid"], false);
    assert_eq!(changed["verdict"], "TAMPERED", "{changed}");
    assert_eq!(changed["signaturesValid"], false);
    for signature in changed["signatureInfo"].as_array().unwrap() {
        assert_eq!(signature["valid"], false, "{signature}");
        assert!(
            signature["invalidReason"]
                .as_str()
                .unwrap()
                .contains("changed after signing"),
            "{signature}"
        );
    }

    // Another document altogether.
    let other = verify(
        &caller,
        json!({"method": "FILE", "fileContent": base64(&foreign_pdf())}),
    )
    .await;
    assert_eq!(other["verdict"], "FILE_MISMATCH", "{other}");
    assert_eq!(other["signatureInfo"], json!([]));

    // A wrong hash for the archive record.
    let contract = json_of(caller.get(&format!("/api/v1/contract/{contract_id}")).await)
        .await
        .1;
    if let Some(archive_id) = contract["archiveInfo"]["archiveId"].as_str() {
        let wrong = verify(
            &caller,
            json!({"method": "FILE_HASH", "fileHash": format!("sha256:{}", "ab".repeat(32)), "archiveId": archive_id}),
        )
        .await;
        assert_eq!(wrong["verdict"], "FILE_MISMATCH", "{wrong}");
    }
}

async fn page(
    service: &RunningService,
    contract_id: &str,
    file: Option<&[u8]>,
) -> (StatusCode, String) {
    let url = format!("{}/verify/{contract_id}", service.base);
    let client = reqwest::Client::new();
    let response = match file {
        None => client.get(url).send().await.unwrap(),
        Some(bytes) => client
            .post(url)
            .header("content-type", "application/pdf")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap(),
    };
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// The headline's verdict, class and title as the page carries them.
fn headline(html: &str) -> (String, String) {
    let class = html
        .split("<section class=\"result ")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned();
    let verdict = html
        .split("data-verdict=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned();
    (verdict, class)
}

async fn the_page_is_green_only_for_the_sealed_file_with_every_check_passed(t: TestStore) {
    let (service, contract_id, pdf) = sealed_contract(&t, "PAGE").await;

    // The stored document: green, the seal named, the signers masked, Beijing time.
    let (status, html) = page(&service, &contract_id, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headline(&html), ("VALID".into(), "ok".into()), "{html}");
    assert!(html.contains("文件真实有效"));
    assert!(html.contains("平台签章 (esign Platform Seal)"), "{html}");
    assert!(
        !html.contains("e******"),
        "the seal is not masked like a person"
    );
    assert!(html.contains("张*") && html.contains("李*"));
    assert!(
        !html.contains("张三") && !html.contains("李四") && !html.contains("11010519491231002X")
    );
    assert!(html.contains("(北京时间 UTC+8)"), "{html}");
    assert!(!html.contains(" UTC<"), "no raw UTC time on the page");
    assert!(
        !html.contains("无（该签名未附可信时间戳）"),
        "every signature here has a proven time: {html}"
    );
    assert_eq!(
        html.matches("class=\"time proven\"").count(),
        4,
        "each signer's, the seal's and the document timestamp's proven time: {html}"
    );
    assert!(html.contains("class=\"hash\""), "the hash wraps");

    // The visitor's copy is the sealed file: green, about that file.
    let (status, html) = page(&service, &contract_id, Some(&pdf)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headline(&html), ("VALID".into(), "ok".into()), "{html}");
    assert!(html.contains("id=\"checked-file\""));
    assert!(html.contains("与封存文件一致"));

    // Another file: red, the mismatch is the headline, never green.
    let (status, html) = page(&service, &contract_id, Some(&foreign_pdf())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headline(&html),
        ("FILE_MISMATCH".into(), "error".into()),
        "{html}"
    );
    assert!(html.contains("文件与协议记录不符"));
    assert!(!html.contains("文件真实有效"), "{html}");
    assert!(html.contains("与封存文件不一致"));

    // A byte of the sealed file changed: tampered, red.
    let (_, html) = page(&service, &contract_id, Some(&crate::pades::tampered(&pdf))).await;
    assert_eq!(
        headline(&html),
        ("TAMPERED".into(), "error".into()),
        "{html}"
    );
    assert!(html.contains("文件已被篡改或签名无效"));
    assert!(!html.contains("文件真实有效"));

    // Nothing chosen, and a file over the limit.
    let (status, _) = page(&service, &contract_id, Some(b"")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, html) = page(&service, &contract_id, Some(&vec![b'%'; 17 * 1024 * 1024])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{html}");

    // A signed contract not sealed yet: not green, by id or with a file.
    let unsealed = signed_contract(&service, "UNSEALED").await;
    for file in [None, Some(pdf.as_slice())] {
        let (status, html) = page(&service, &unsealed, file).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headline(&html),
            ("NOT_SEALED".into(), "pending".into()),
            "{html}"
        );
        assert!(!html.contains("文件真实有效"));
    }
}

/// Chooses `bytes` as the page's file, as a person picking it would (the input's `change` event).
async fn choose(tab: &crate::browser::Tab, bytes: &[u8]) {
    let encoded = base64(bytes);
    tab.eval::<bool>(&format!(
        "(function () {{
            var bytes = Uint8Array.from(atob('{encoded}'), function (c) {{ return c.charCodeAt(0); }});
            var transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'contract.pdf', {{ type: 'application/pdf' }}));
            var input = document.getElementById('file');
            input.files = transfer.files;
            input.dispatchEvent(new Event('change'));
            return true;
        }})()"
    ))
    .await;
}

/// The page on a phone (390 x 844): no horizontal scrolling, and choosing a file that is not the
/// sealed one turns the headline red. The screenshots are the ones in `docs/documents.md`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_verify_page_fits_a_phone_and_a_chosen_file_changes_the_verdict() {
    let Some(t) = TestStore::new(crate::helpers::Backend::Sqlite).await else {
        return;
    };
    let Some(browser) = crate::browser::Browser::launch("verify-page").await else {
        return;
    };
    let (service, contract_id, pdf) = sealed_contract(&t, "PHONE").await;
    let tab = browser
        .open(&format!("{}/verify/{contract_id}", service.base))
        .await;
    tab.wait_for_text("#verdict", "文件真实有效").await;
    let fits = "document.documentElement.scrollWidth <= window.innerWidth";
    assert!(tab.eval::<bool>(fits).await, "the page scrolls sideways");
    tab.screenshot("verify-phone").await;

    // The visitor chooses another document: the script posts it and shows the server's verdict.
    choose(&tab, &foreign_pdf()).await;
    tab.wait_for_text("#verdict", "文件与协议记录不符").await;
    assert_eq!(
        tab.eval::<String>("document.querySelector('.result').className")
            .await,
        "result error"
    );
    assert!(tab.eval::<bool>(fits).await, "the answer scrolls sideways");
    tab.screenshot("verify-phone-mismatch").await;

    // Then a changed copy of the sealed file, from the page the answer left.
    choose(&tab, &crate::pades::tampered(&pdf)).await;
    let text = tab
        .wait_for_text("#verdict", "文件已被篡改或签名无效")
        .await;
    assert!(!text.contains("文件真实有效"));
    tab.screenshot("verify-phone-tampered").await;
    browser.close().await;
}
