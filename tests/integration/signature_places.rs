//! A template that marks where the payer signs: publication refuses an unknown party type on
//! `content`, and a contract from the template, signed by both signers and sealed, has the payer's
//! box in the body above the 签署区 section (where the receiver's stays), and validates.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN, CALLER, TestStore, json_of};

crate::backend_tests!(a_payer_place_in_the_template_puts_the_payers_box_in_the_body);

fn template(template_id: &str, party_type: &str) -> serde_json::Value {
    json!({
        "templateId": template_id,
        "name": "资金归集授权协议模板",
        "version": "1.0",
        "category": "RELATIONSHIP_AGREEMENT",
        "content": format!(
            "<p>{{{{payerName}}}} 授权</p><p>付款方确认：</p>\
             <esign-signature party-type=\"{party_type}\"></esign-signature><p>其他条款从略。</p>"
        ),
        "variableDefinitions": [{"key": "payerName", "name": "付款方名称", "required": true}],
        "signerConfig": {"minSigners": 1, "maxSigners": 2, "defaultSignMethods": ["FACE_AND_SMS"]},
        "active": true
    })
}

async fn a_payer_place_in_the_template_puts_the_payers_box_in_the_body(t: TestStore) {
    let service = crate::sealing::service(&t, |_| {}).await;
    let admin = service.client(ADMIN);

    let (status, body) = json_of(
        admin
            .post_json("/api/v1/template", &template("TPL_PLACE_BAD", "GUARANTOR"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], 40001, "{body}");
    assert_eq!(body["details"][0]["field"], "content", "{body}");

    let (status, body) = json_of(
        admin
            .post_json("/api/v1/template", &template("TPL_PLACE", "PAYER"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let contract_id = crate::journey::initiate_contract(
        &service.client(CALLER),
        "TPL_PLACE",
        "REL_PLACE",
        "http://127.0.0.1:9/unused",
        7,
    )
    .await;
    crate::journey::sign_both(&service.state, &contract_id).await;
    crate::sealing::seal_now(&service.state, &contract_id).await;
    let pdf = crate::signing_moments::document_when_sealed(&service, &contract_id).await;

    // Both boxes are on the first page; the payer's comes first, in the body.
    let payer = crate::e2e_organization::field_rect(&pdf, "Signer_PAYER_001");
    let receiver = crate::e2e_organization::field_rect(&pdf, "Signer_RECEIVER_001");
    assert!(payer[3] > receiver[3], "{payer:?} {receiver:?}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("contract.pdf");
    std::fs::write(&file, &pdf).unwrap();
    if let Some(output) = crate::pades::tool("pdftotext", &["-layout", file.to_str().unwrap(), "-"])
    {
        assert!(output.status.success());
        let text = String::from_utf8_lossy(&output.stdout);
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("no {needle} in {text}"))
        };
        assert!(at("付款方确认") < at("签署方2（签字）：李四"), "{text}");
        assert!(at("签署方2（签字）：李四") < at("其他条款从略"), "{text}");
        assert!(at("其他条款从略") < at("签署区"), "{text}");
        assert!(at("签署区") < at("签署方1（签字）：张三"), "{text}");
        assert!(!text.contains("esign-signature"), "{text}");
    }

    let ca = service.state.ca.as_ref().unwrap();
    let validation =
        esign::documents::validate::validate_pdf(&pdf, std::slice::from_ref(ca.root()), None);
    assert!(validation.valid, "{validation:#?}");
    assert!(!validation.modified_after_signing);
}
