//! Contracts made from the caller's own PDF, the way a caller makes them: the document goes up in
//! the initiate request with each signer's place (one by anchor text, one by page and
//! coordinates), the signers see it, sign it at those places, and the sealed file is the upload
//! grown by incremental updates that pdfsig, pyHanko and `POST /api/v1/contract/verify` accept.
//! Every bad upload is refused with a 40001 naming the document or place, and changes nothing.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::{ADMIN, CALLER, TestStore, json_of};
use crate::signing_client::SigningClient;

crate::backend_tests!(
    a_contract_from_an_uploaded_pdf_is_signed_at_its_places_and_validates,
    every_bad_upload_is_refused_naming_it_and_changes_nothing,
);

const RECEIVER_ANCHOR: &str = "乙方（盖章）";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The two-signer fixture with places: 张三 over the anchor on page 2, 李四 at coordinates on
/// page 1.
fn placed_signers() -> Value {
    let mut signers = esign_tools::fixtures::two_signers();
    signers[0]["places"] = json!([{"anchor": RECEIVER_ANCHOR}]);
    signers[1]["places"] = json!([{"document": 1, "page": 1, "x": 320, "y": 90}]);
    signers
}

/// Both signers at coordinates on page 1, for documents without the anchors.
fn placed_signers_on_page_one() -> Value {
    let mut signers = esign_tools::fixtures::two_signers();
    signers[0]["places"] = json!([{"page": 1, "x": 60, "y": 90}]);
    signers[1]["places"] = json!([{"page": 1, "x": 320, "y": 90}]);
    signers
}

fn request(biz_id: &str, documents: Value, signers: Value) -> Value {
    json!({
        "bizId": biz_id,
        "bizType": "RELATIONSHIP_AGREEMENT",
        "title": "采购合同",
        "documents": documents,
        "signers": signers,
        "callbackUrl": "http://127.0.0.1:9/callback",
        "expireDays": 7,
        "archiveConfig": {"needArchive": false},
    })
}

async fn initiate(caller: &SigningClient, request: &Value) -> (StatusCode, Value) {
    json_of(caller.post_json("/api/v1/contract/initiate", request).await).await
}

async fn a_contract_from_an_uploaded_pdf_is_signed_at_its_places_and_validates(t: TestStore) {
    // Its own address as the public one: the sealed document downloads from it.
    let service = crate::helpers::start_service_with(&t, &[CALLER, ADMIN], |_| {}).await;
    let caller = service.client(CALLER);
    let upload = crate::uploaded_documents::upload();
    let (status, initiated) = initiate(
        &caller,
        &request(
            "REL_UPLOAD_1",
            json!([{"name": "采购合同.pdf", "contentBase64": base64(&upload)}]),
            placed_signers(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{initiated}");
    let contract_id = initiated["contractId"].as_str().unwrap().to_owned();

    // The contract names the document by its hashes and each signer's place.
    let (_, contract) = json_of(caller.get(&format!("/api/v1/contract/{contract_id}")).await).await;
    assert_eq!(contract["templateId"], Value::Null, "{contract}");
    let document = &contract["documents"][0];
    assert_eq!(document["name"], "采购合同.pdf");
    assert_eq!(document["uploadHash"], sha256_hex(&upload));
    assert_eq!(document["pageCount"], 2);
    let receiver_place = &contract["signers"][0]["places"][0];
    assert_eq!(receiver_place["page"], 2, "{contract}");
    assert_eq!(receiver_place["anchor"], RECEIVER_ANCHOR);
    assert_eq!(
        contract["signers"][1]["places"][0]["rect"],
        json!([320.0, 90.0, 470.0, 150.0])
    );

    // The signer opens the document as everyone signs it: the upload with empty fields.
    let sign_url = initiated["signTasks"][0]["signUrl"].as_str().unwrap();
    let token = sign_url.split("token=").nth(1).unwrap();
    let http = reqwest::Client::new();
    let page = http
        .get(sign_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"contract-documents\""), "{page}");
    assert!(page.contains("您将在第 2 页“乙方（盖章）”处签署"), "{page}");
    let shown = http
        .get(format!(
            "{}/h5/sign/document?token={token}&document=1",
            service.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    assert_eq!(shown.headers()["content-type"], "application/pdf");
    let first = shown.bytes().await.unwrap().to_vec();
    assert!(
        first.starts_with(&upload),
        "the upload is kept byte for byte"
    );
    assert_eq!(
        sha256_hex(&first),
        document["contentHash"].as_str().unwrap()
    );
    let missing = http
        .get(format!(
            "{}/h5/sign/document?token={token}&document=2",
            service.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);

    crate::journey::sign_both(&service.state, &contract_id).await;
    let pdf = crate::signing_moments::document_when_sealed(&service, &contract_id).await;
    assert!(pdf.starts_with(&first), "every revision grows the first");

    // 张三's box is centred on the anchor's text, on its page.
    let hits = esign::documents::uploaded::find_anchor(
        &upload,
        &esign::documents::uploaded::UploadLimits::default(),
        RECEIVER_ANCHOR,
    )
    .unwrap();
    let rect = crate::e2e_organization::field_rect(&pdf, "Signer_RECEIVER_001");
    let (anchor_x, anchor_y) = (
        f64::from(hits[0].rect[0] + hits[0].rect[2]) / 2.0,
        f64::from(hits[0].rect[1] + hits[0].rect[3]) / 2.0,
    );
    assert!(
        ((rect[0] + rect[2]) / 2.0 - anchor_x).abs() < 0.5,
        "{rect:?}"
    );
    assert!(
        ((rect[1] + rect[3]) / 2.0 - anchor_y).abs() < 0.5,
        "{rect:?}"
    );
    assert_eq!(
        crate::e2e_organization::field_rect(&pdf, "Signer_PAYER_001"),
        [320.0, 90.0, 470.0, 150.0]
    );

    // Outside validators accept every signature and timestamp.
    let ca = service.state.ca.as_ref().unwrap();
    let dir = tempfile::tempdir().unwrap();
    crate::pades::check_two_signer_contract(dir.path(), ca, &pdf);

    // esign's own verification: the events rebuild the first revision, every signature holds.
    let verdict = crate::sealing::verify(
        &caller,
        json!({"method": "CONTRACT_ID", "contractId": contract_id}),
    )
    .await;
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["contentMatchesEvents"], true, "{verdict}");
    assert_eq!(verdict["chainIntact"], true);
}

/// A classic PDF of one page with `extra` objects after the page tree, its cross-reference table
/// computed; `trailer_extra` goes into the trailer.
fn hand_written_pdf(extra: &[&str], trailer_extra: &str) -> Vec<u8> {
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".to_owned(),
    ];
    objects.extend(extra.iter().map(|object| (*object).to_owned()));
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{object}\nendobj\n", index + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R {trailer_extra} >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

async fn every_bad_upload_is_refused_naming_it_and_changes_nothing(t: TestStore) {
    let service = crate::helpers::start_service(&t, &[CALLER, ADMIN]).await;
    let caller = service.client(CALLER);
    let upload = crate::uploaded_documents::upload();
    let good = json!([{"name": "采购合同.pdf", "contentBase64": base64(&upload)}]);
    let with_content = |bytes: &[u8]| json!([{"name": "x.pdf", "contentBase64": base64(bytes)}]);
    let encrypted = hand_written_pdf(
        &["<< /Filter /Standard /V 1 /R 2 /O <00> /U <00> /P -4 >>"],
        "/Encrypt 4 0 R /ID [<01> <01>]",
    );
    let signed = hand_written_pdf(
        &["<< /Type /Sig /Filter /Adobe.PPKLite /ByteRange [0 10 20 10] /Contents <00> >>"],
        "",
    );
    let before = crate::helpers::event_count(&service.state.store).await;

    let mut only_x = placed_signers();
    only_x[1]["places"] = json!([{"page": 1, "x": 320}]);
    let mut far_page = placed_signers();
    far_page[1]["places"] = json!([{"page": 3, "x": 320, "y": 90}]);
    let mut off_page = placed_signers();
    off_page[1]["places"] = json!([{"page": 1, "x": 500, "y": 90}]);
    let mut unknown_anchor = placed_signers();
    unknown_anchor[0]["places"] = json!([{"anchor": "丙方（盖章）"}]);
    let mut anchor_elsewhere = placed_signers();
    anchor_elsewhere[0]["places"] = json!([{"anchor": RECEIVER_ANCHOR, "page": 1}]);
    let mut no_place = placed_signers();
    no_place[0]["places"] = json!([]);
    let mut second_document = placed_signers();
    second_document[0]["places"] = json!([{"document": 2, "anchor": RECEIVER_ANCHOR}]);
    let mut tiny = placed_signers();
    tiny[1]["places"] = json!([{"page": 1, "x": 10, "y": 10, "width": 5}]);

    let cases: Vec<(&str, Value, Value, &str)> = vec![
        (
            "not base64",
            json!([{"name": "x.pdf", "contentBase64": "%%%"}]),
            placed_signers(),
            "documents[0].contentBase64",
        ),
        (
            "not a PDF",
            with_content(b"<html>not a pdf</html>"),
            placed_signers(),
            "documents[0].contentBase64",
        ),
        (
            "encrypted",
            with_content(&encrypted),
            placed_signers(),
            "documents[0].contentBase64",
        ),
        (
            "already signed",
            with_content(&signed),
            placed_signers(),
            "documents[0].contentBase64",
        ),
        (
            "no name",
            json!([{"contentBase64": base64(&upload)}]),
            placed_signers(),
            "documents[0].name",
        ),
        ("x without y", good.clone(), only_x, "signers[1].places[0]"),
        (
            "page out of range",
            good.clone(),
            far_page,
            "signers[1].places[0].page",
        ),
        (
            "box off the page",
            good.clone(),
            off_page,
            "signers[1].places[0].x",
        ),
        (
            "anchor not found",
            good.clone(),
            unknown_anchor,
            "signers[0].places[0].anchor",
        ),
        (
            "anchor not on the page given",
            good.clone(),
            anchor_elsewhere,
            "signers[0].places[0].anchor",
        ),
        ("no place", good.clone(), no_place, "signers[0].places"),
        (
            "a document that is not there",
            good.clone(),
            second_document,
            "signers[0].places[0].document",
        ),
        (
            "a box too small",
            good.clone(),
            tiny,
            "signers[1].places[0].width",
        ),
        (
            "damaged: reads differently once its fields are added",
            with_content(include_bytes!(
                "../../fuzz/corpus/uploaded_pdf/found-damaged-file-reads-back-without-pages"
            )),
            placed_signers_on_page_one(),
            "documents[0].contentBase64",
        ),
        (
            "two documents",
            json!([good[0].clone(), good[0].clone()]),
            placed_signers(),
            "documents",
        ),
    ];
    for (index, (case, documents, signers, field)) in cases.into_iter().enumerate() {
        let (status, body) = initiate(
            &caller,
            &request(&format!("REL_BAD_UPLOAD_{index}"), documents, signers),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
        assert_eq!(body["code"], 40001, "{case}: {body}");
        let named: Vec<&str> = body["details"]
            .as_array()
            .unwrap_or_else(|| panic!("{case}: {body}"))
            .iter()
            .filter_map(|error| error["field"].as_str())
            .collect();
        assert!(named.contains(&field), "{case}: {field} in {body}");
    }

    // A template and documents together, and places on a template contract.
    let mut both = request("REL_BAD_UPLOAD_BOTH", good.clone(), placed_signers());
    both["templateId"] = json!("TEMPLATE_ANY");
    let (status, body) = initiate(&caller, &both).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("templateId"), "{body}");

    assert_eq!(
        crate::helpers::event_count(&service.state.store).await,
        before,
        "nothing was recorded"
    );
    let stored = crate::seals::files_under(&service.state.config.server.data_dir.join("documents"));
    assert!(
        stored.is_empty(),
        "no upload is stored for a refused request: {stored:?}"
    );
}
