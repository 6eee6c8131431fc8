//! A CA_CERT signer in a real browser (headless Chromium, phone viewport): they choose their
//! PKCS#12 file, type its password, the page opens it with the vendored PKI.js and shows the
//! certificate; they draw their signature and confirm; the page signs in the browser and the
//! service completes the revision. A wrong password is caught in the page (nothing is sent), a
//! revoked certificate is refused by the service with the reason shown, and the same link then
//! signs with the right certificate; pdfsig and pyHanko find the signature made by it.
//!
//! Pages, not storage: SQLite only. Screenshots go to `<target>/e2e-artifacts/<test>/`.

use aggregates::contract::{ContractAggregate, SignerStatus};
use reqwest::StatusCode;

use crate::browser::{Browser, signature_stroke};
use crate::helpers::{Backend, CALLER, TestStore, json_of};
use crate::personal_certificates::{
    P12_PASSWORD, PersonalPki, SIGNER_NAME, ca_cert_contract, check_signed_document, have_openssl,
    service,
};

/// Whether the signer's link has a verified certificate recorded (any `SignerCertificateVerified`).
async fn certificate_recorded(state: &esign::http::AppState, contract_id: &str) -> bool {
    let loaded = state
        .pipeline
        .load::<ContractAggregate>(&esign::store::StreamId::new("contract", contract_id))
        .await
        .unwrap();
    let contract = loaded.state.contract().expect("the contract").clone();
    match &contract.signers[0].status {
        SignerStatus::Pending { link: Some(link) } => link.certificate.is_some(),
        _ => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ca_cert_signer_opens_their_p12_in_chromium_and_signs_with_it() {
    if !have_openssl() {
        return;
    }
    let Some(browser) = Browser::launch("ca-cert-signer").await else {
        return;
    };
    let t = TestStore::new(Backend::Sqlite)
        .await
        .expect("a sqlite store");
    let pki = PersonalPki::create().await;
    let service = service(&t, vec![pki.root.clone()]).await;
    let (contract_id, url) = ca_cert_contract(&service, "CACERT_BROWSER").await;
    // The signer's own key is P-256 (the page turns WebCrypto's r || s into DER); the revoked
    // certificate's is RSA.
    let own = pki.signer("own", true);
    let revoked = pki.signer("revoked", false);
    pki.revoke("revoked");

    let tab = browser.open(&url).await;
    tab.wait_for("#step-certificate").await;
    tab.screenshot_at("#step-certificate", "certificate step")
        .await;

    // A wrong password: the page says so, and nothing reached the service.
    tab.set_files("#certificate-file", &[&own.p12]).await;
    tab.type_into("#certificate-password", "not-the-password")
        .await;
    tab.click("#certificate-open").await;
    tab.wait_for_text("#certificate-error", "证书密码错误")
        .await;
    tab.screenshot_at("#certificate-error", "wrong password")
        .await;
    assert!(!certificate_recorded(&service.state, &contract_id).await);

    // A revoked certificate opens in the page, and the service refuses it with the reason.
    tab.set_files("#certificate-file", &[&revoked.p12]).await;
    tab.type_into("#certificate-password", P12_PASSWORD).await;
    tab.click("#certificate-open").await;
    tab.wait_for_text("#certificate-subject", SIGNER_NAME).await;
    tab.draw_stroke("#signature-pad", &signature_stroke()).await;
    tab.click("#signature-submit").await;
    tab.click("#confirm-yes").await;
    tab.wait_for_text("#sign-error", "吊销").await;
    tab.screenshot_at("#sign-error", "revoked refused").await;

    // The same link signs with the signer's own certificate.
    tab.set_files("#certificate-file", &[&own.p12]).await;
    tab.type_into("#certificate-password", P12_PASSWORD).await;
    tab.click("#certificate-open").await;
    tab.wait_for_text("#certificate-subject", SIGNER_NAME).await;
    tab.wait_for_text("#certificate-issuer", "Test Personal Sub CA")
        .await;
    tab.screenshot_at("#certificate-info", "certificate read")
        .await;
    tab.click("#signature-submit").await;
    tab.click("#confirm-yes").await;
    tab.wait_for_text("#done", "签署完成").await;
    tab.screenshot("signed").await;

    let (status, body) = json_of(
        service
            .client(CALLER)
            .get(&format!("/api/v1/contract/{contract_id}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["signers"][0]["signStatus"], "SIGNED", "{body}");
    let pdf = crate::signing_moments::document_when_sealed(&service, &contract_id).await;
    check_signed_document(&service, &pki, &pdf, "Test Personal Root CA");
    browser.close().await;
}
