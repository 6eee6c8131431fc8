//! An organisation and a person sign one contract in a real browser (headless Chromium, phone
//! viewport): an administrator registers the headquarters and has esign draw its contract seal; the
//! store's owner (a person) signs by hand first; then the person acting for the headquarters passes
//! the same SMS and face checks and confirms, and the seal is applied in the headquarters' box.
//! The sealed PDF validates in pdfsig and pyHanko, its certificate names the organisation, and the
//! seal's red shows, rendered by `pdftoppm`, inside the headquarters' signature box and nowhere else.
//!
//! The same journey on the caller's own PDF puts the seal over its anchor text "甲方（盖章）".
//!
//! Pages, not storage: SQLite only. Screenshots go to `<target>/e2e-artifacts/<test>/`.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::e2e_sign::{Journey, face_at_the_sandbox, pass_sms, sign, start_with};
use crate::helpers::json_of;
use crate::journey::publish_template;

const HEADQUARTERS: &str = "XX品牌总部";
const HEADQUARTERS_CODE: &str = "91350100M000100Y43";
const RECEIVER_MOBILE: &str = "13800138000";
const AGENT_MOBILE: &str = "13900139000";

/// Registers the headquarters and has esign draw its contract seal; answers the seal's id.
async fn headquarters_seal(admin: &crate::signing_client::SigningClient) -> String {
    let (status, body) = json_of(
        admin
            .post_json(
                "/api/v1/admin/organizations",
                &json!({"name": HEADQUARTERS, "creditCode": HEADQUARTERS_CODE}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = json_of(
        admin
            .post_json(
                &format!("/api/v1/admin/organizations/{HEADQUARTERS_CODE}/seals"),
                &json!({"kind": "CONTRACT", "name": "合同专用章", "draw": true,
                        "operator": "ops-zhang"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["sealId"].as_str().expect("a seal id").to_owned()
}

/// The person first (by hand), then the headquarters through 李四 with its seal alone.
fn signers(seal_id: &str) -> Value {
    json!([
        {"partyId": "RECEIVER_001", "partyType": "RECEIVER", "name": "张三",
         "idCardNo": "11010519491231002X", "mobile": RECEIVER_MOBILE,
         "signMethod": "FACE_AND_SMS", "sequence": 1},
        {"partyId": "PAYER_001", "partyType": "PAYER", "name": "李四",
         "idCardNo": "440304199001010011", "mobile": AGENT_MOBILE,
         "signMethod": "FACE_AND_SMS", "sequence": 2,
         "organization": {"name": HEADQUARTERS, "creditCode": HEADQUARTERS_CODE,
                          "sealId": seal_id, "agentRole": "LEGAL_REPRESENTATIVE"}}
    ])
}

/// Initiates the contract `body` describes (the signers named by `signers`, with the
/// headquarters' seal) and answers its id.
async fn initiate(
    api: &crate::signing_client::SigningClient,
    mut body: Value,
    signers: Value,
    callback_url: &str,
) -> String {
    body["signers"] = signers;
    body["bizType"] = json!("RELATIONSHIP_AGREEMENT");
    body["callbackUrl"] = json!(callback_url);
    body["expireDays"] = json!(7);
    let (status, body) = json_of(api.post_json("/api/v1/contract/initiate", &body).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["contractId"].as_str().unwrap().to_owned()
}

async fn start(test: &str) -> Option<Journey> {
    start_with(test, async |admin, api, template, callback_url| {
        publish_template(admin, template).await;
        let seal_id = headquarters_seal(admin).await;
        let body = json!({
            "bizId": "ORG_JOURNEY_1",
            "templateId": template,
            "title": "天财分账资金归集授权协议",
            "variables": {"payerName": HEADQUARTERS},
        });
        initiate(api, body, signers(&seal_id), callback_url).await
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_organisation_and_a_person_sign_and_the_seal_lands_in_the_organisations_box() {
    let Some(journey) = start("organization-journey").await else {
        return;
    };
    let (dir, pdf) = person_then_headquarters(&journey, "organization-journey", None).await;
    assert_seal_only_in_box(dir.path(), &pdf, "Signer_PAYER_001", "Signer_RECEIVER_001");
    journey.browser.close().await;
}

/// The caller's own PDF: the headquarters' seal is placed over "甲方（盖章）" on page 1, the
/// person's signature over "乙方（盖章）" on page 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_organisation_seals_an_uploaded_pdf_over_its_anchor_text() {
    let journey = start_with(
        "organization-upload",
        async |admin, api, _, callback_url| {
            let seal_id = headquarters_seal(admin).await;
            let mut signers = signers(&seal_id);
            signers[0]["places"] = json!([{"anchor": "乙方（盖章）"}]);
            signers[1]["places"] = json!([{"anchor": ANCHOR}]);
            let upload = crate::uploaded_documents::upload();
            let content =
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &upload);
            let body = json!({
                "bizId": "ORG_UPLOAD_1",
                "title": "采购合同",
                "documents": [{"name": "采购合同.pdf", "contentBase64": content}],
            });
            initiate(api, body, signers, callback_url).await
        },
    )
    .await;
    let Some(journey) = journey else {
        return;
    };
    let (dir, pdf) = person_then_headquarters(
        &journey,
        "organization-upload",
        Some("您将在第 1 页“甲方（盖章）”处盖章"),
    )
    .await;
    // The seal's box is centred on the anchor text, and the red lands there, on page 1 only.
    let upload = crate::uploaded_documents::upload();
    let hit = esign::documents::uploaded::find_anchor(
        &upload,
        &esign::documents::uploaded::UploadLimits::default(),
        ANCHOR,
    )
    .unwrap()[0];
    assert_eq!(hit.page, 1);
    let [x1, y1, x2, y2] = field_rect(&pdf, "Signer_PAYER_001");
    assert!((x2 - x1 - 120.0).abs() < 0.01 && (y2 - y1 - 120.0).abs() < 0.01);
    let centre = (
        f64::from(hit.rect[0] + hit.rect[2]) / 2.0,
        f64::from(hit.rect[1] + hit.rect[3]) / 2.0,
    );
    assert!(((x1 + x2) / 2.0 - centre.0).abs() < 0.5, "{centre:?}");
    assert!(((y1 + y2) / 2.0 - centre.1).abs() < 0.5, "{centre:?}");
    let page = assert_seal_only_in_box(dir.path(), &pdf, "Signer_PAYER_001", "Signer_RECEIVER_001");
    assert_eq!(page, Some(0), "the seal shows on the anchor's page");
    journey.browser.close().await;
}

const ANCHOR: &str = "甲方（盖章）";

/// The person signs by hand, then the headquarters' agent passes SMS and face and applies the
/// seal; the sealed PDF validates and names the organisation. Answers the directory holding the
/// validators' files and the PDF. `place` is what the agent's page must say about where the seal
/// goes, for an uploaded document.
async fn person_then_headquarters(
    journey: &Journey,
    artifacts: &str,
    place: Option<&str>,
) -> (tempfile::TempDir, Vec<u8>) {
    let contract = journey.contract().await;
    let payer = &contract["signers"][1];
    assert_eq!(payer["signerType"], "ORGANIZATION", "{contract}");
    assert_eq!(payer["organization"]["name"], HEADQUARTERS, "{contract}");
    assert_eq!(
        payer["organization"]["creditCode"], HEADQUARTERS_CODE,
        "{contract}"
    );
    assert_eq!(payer["organization"]["appearance"], "SEAL", "{contract}");
    assert_eq!(contract["signers"][0]["signerType"], "PERSON");

    let receiver = journey
        .browser
        .open(&journey.sign_url("RECEIVER_001").await)
        .await;
    sign(journey, &receiver, RECEIVER_MOBILE, "张三").await;

    // The headquarters' agent: the page names the organisation and shows the seal to be applied;
    // there is no pad to draw on, only the confirmation.
    let agent = journey
        .browser
        .open(&journey.sign_url("PAYER_001").await)
        .await;
    agent.wait_for("#contract-title").await;
    assert_eq!(agent.text("#organization-name").await.trim(), HEADQUARTERS);
    assert_eq!(agent.text("#signer-name").await.trim(), "李四");
    assert!(agent.is_visible("#seal-image").await, "the seal is shown");
    let seal_width: f64 = agent
        .eval("document.querySelector('#seal-image').naturalWidth")
        .await;
    assert!(seal_width > 100.0, "the seal image loaded: {seal_width}");
    if let Some(place) = place {
        let documents = agent.text("#contract-documents").await;
        assert!(documents.contains(place), "{documents}");
    }
    agent.screenshot("organization-page").await;
    pass_sms(journey, &agent, AGENT_MOBILE).await;
    face_at_the_sandbox(journey, &agent, "PASS").await;
    agent.wait_for("#step-face.done").await;
    agent.wait_for("#step-sign.current").await;
    assert!(!agent.is_visible("canvas#signature-pad").await);
    agent.screenshot_at("#step-sign", "seal-step").await;
    agent.click("#seal-submit").await;
    agent.wait_for("#confirm-dialog").await;
    agent.click("#confirm-yes").await;
    agent.wait_for("#done").await;
    agent.screenshot("done").await;
    assert_eq!(journey.contract().await["status"], "SIGNED");

    let pdf =
        crate::signing_moments::document_when_sealed(&journey.service, &journey.contract_id).await;
    let ca = journey.service.state.ca.as_ref().unwrap();
    let dir = tempfile::tempdir().unwrap();
    crate::pades::check_two_signer_contract(dir.path(), ca, &pdf);
    // The headquarters' certificate names it, its credit code and the person who acted.
    // check_sealed_contract made the NSS database that trusts the root; making it again would
    // ask certutil for a password.
    let nss_db = format!("sql:{}", dir.path().join("nss").display());
    let report = dir
        .path()
        .join("nss")
        .exists()
        .then(|| crate::pades::pdfsig(&nss_db, &dir.path().join("sealed.pdf")))
        .flatten();
    if let Some(report) = report {
        assert!(report.contains(HEADQUARTERS), "{report}");
        assert!(report.contains("李四"), "{report}");
    }
    std::fs::write(
        crate::browser::artifacts_root()
            .join(artifacts)
            .join("signed.pdf"),
        &pdf,
    )
    .ok();
    (dir, pdf)
}

/// The widget rectangle of `field` as the document's last revision of it says.
pub(crate) fn field_rect(pdf: &[u8], field: &str) -> [f64; 4] {
    let text = String::from_utf8_lossy(pdf);
    let name = format!("/T ({field})");
    let at = text
        .rfind(&name)
        .unwrap_or_else(|| panic!("no field {field}"));
    let object_start = text[..at].rfind(" obj").unwrap();
    let object_end = at + text[at..].find("endobj").unwrap();
    let object = &text[object_start..object_end];
    let rect = object.find("/Rect [").expect("a /Rect") + "/Rect [".len();
    let numbers: Vec<f64> = object[rect..]
        .split(']')
        .next()
        .unwrap()
        .split_whitespace()
        .map(|number| number.parse().unwrap())
        .collect();
    [numbers[0], numbers[1], numbers[2], numbers[3]]
}

/// Page images at 72 dpi (one pixel a point), RGB.
fn pages(dir: &Path, name: &str, pdf: &[u8]) -> Option<Vec<(usize, usize, Vec<u8>)>> {
    let path = dir.join(format!("{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    let prefix = dir.join(name);
    let output = crate::pades::tool(
        "pdftoppm",
        &[
            "-png",
            "-r",
            "72",
            path.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    )?;
    assert!(output.status.success(), "{output:?}");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|file| {
            let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
            file_name.starts_with(&format!("{name}-")) && file_name.ends_with(".png")
        })
        .collect();
    files.sort();
    Some(
        files
            .iter()
            .map(|file| {
                let mut decoder =
                    png::Decoder::new(std::io::BufReader::new(std::fs::File::open(file).unwrap()));
                decoder.set_transformations(png::Transformations::normalize_to_color8());
                let mut reader = decoder.read_info().unwrap();
                let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
                let info = reader.next_frame(&mut buffer).unwrap();
                buffer.truncate(info.buffer_size());
                let channels = info.color_type.samples();
                let rgb: Vec<u8> = buffer
                    .chunks_exact(channels)
                    .flat_map(|pixel| [pixel[0], pixel[1], pixel[2]])
                    .collect();
                (info.width as usize, info.height as usize, rgb)
            })
            .collect(),
    )
}

/// Seal red: strong red, little green and blue.
fn is_seal_red(pixel: &[u8]) -> bool {
    pixel[0] > 150 && pixel[1] < 110 && pixel[2] < 110
}

/// Renders the sealed document and its first revision (the bytes up to its `%%EOF`, what
/// the signers agreed to): the seal's red appears in the organisation's box, and no red appears
/// anywhere else (the person's box holds dark handwriting; the pages are otherwise unchanged).
///
/// Answers the page (from 0) the seal shows on, which must be one page; `None` when `pdftoppm` is
/// not there to render.
fn assert_seal_only_in_box(
    dir: &Path,
    pdf: &[u8],
    organization_field: &str,
    person_field: &str,
) -> Option<usize> {
    // The first `%%EOF` after the first `startxref` (a CMap stream has one of its own).
    let startxref = pdf
        .windows(9)
        .position(|window| window == b"startxref")
        .unwrap();
    let first_end = startxref
        + pdf[startxref..]
            .windows(5)
            .position(|window| window == b"%%EOF")
            .unwrap()
        + 5;
    let (Some(signed), Some(unsigned)) = (
        pages(dir, "signed", pdf),
        pages(dir, "unsigned", &pdf[..first_end]),
    ) else {
        return None;
    };
    assert_eq!(signed.len(), unsigned.len());
    let mut seal_pages = std::collections::BTreeSet::new();
    let [x1, y1, x2, y2] = field_rect(pdf, organization_field);
    let person = field_rect(pdf, person_field);
    let mut red_inside = 0;
    for (page, ((width, height, after), (_, _, before))) in signed.iter().zip(&unsigned).enumerate()
    {
        for y in 0..*height {
            for x in 0..*width {
                let at = (y * width + x) * 3;
                let (pixel, was) = (&after[at..at + 3], &before[at..at + 3]);
                if !is_seal_red(pixel) || is_seal_red(was) {
                    continue;
                }
                // Image rows run top down; PDF space bottom up (A4: 842 points high).
                let (px, py) = (x as f64 + 0.5, *height as f64 - y as f64 - 0.5);
                let inside = |[a1, b1, a2, b2]: [f64; 4]| {
                    px >= a1 - 1.0 && px <= a2 + 1.0 && py >= b1 - 1.0 && py <= b2 + 1.0
                };
                assert!(
                    inside([x1, y1, x2, y2]),
                    "seal red at ({px}, {py}) outside the organisation's box {:?}",
                    [x1, y1, x2, y2]
                );
                assert!(!inside(person), "seal red in the person's box");
                red_inside += 1;
                seal_pages.insert(page);
            }
        }
    }
    assert!(
        red_inside > 200,
        "the seal shows in the organisation's box ({red_inside} red pixels)"
    );
    assert_eq!(
        seal_pages.len(),
        1,
        "the seal shows on one page: {seal_pages:?}"
    );
    seal_pages.first().copied()
}
