//! The signing journey in a real browser (headless Chromium, phone viewport, touch): two signers in
//! order on the H5 signing page, each with the SMS code from the development sender, the face check on
//! the sandbox provider's page, a signature drawn with the finger, and the confirmation; then the API
//! shows the contract SIGNED and the caller's callback receiver got each status change, signed. Also:
//! rejecting, an expired (replaced) link, a link reused after signing, wrong SMS codes until the step
//! locks, and a face mismatch.
//!
//! These tests exercise pages, not storage, so they run on SQLite only. Screenshots of each step go to
//! `<target>/e2e-artifacts/<test>/`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, Tab, signature_stroke};
use crate::helpers::{
    ADMIN, Backend, CALLER, RunningService, TestStore, json_of, start_service_with,
};
use crate::journey::{initiate_contract, publish_template};
use crate::receiver::{Behaviour, Receiver};
use crate::signing_client::SigningClient;

const RECEIVER: &str = "RECEIVER_001";
const PAYER: &str = "PAYER_001";
const RECEIVER_MOBILE: &str = "13800138000";
const PAYER_MOBILE: &str = "13900139000";

pub(crate) struct Journey {
    pub(crate) browser: Browser,
    pub(crate) service: RunningService,
    pub(crate) api: SigningClient,
    pub(crate) http: reqwest::Client,
    pub(crate) callbacks: Receiver,
    pub(crate) contract_id: String,
    pub(crate) _t: TestStore,
}

/// A browser, the service with its callback dispatcher delivering to a receiver of the test's own,
/// and the two-signer contract (张三 first, then 李四). `None` when there is no browser.
async fn start(test: &str) -> Option<Journey> {
    start_with(test, async |admin, api, template, callback_url| {
        publish_template(admin, template).await;
        let biz_id = template.trim_start_matches("TPL_");
        initiate_contract(api, template, biz_id, callback_url, 7).await
    })
    .await
}

/// A browser and the service as [`start`] makes them, with the contract `initiate` makes (given
/// the administrator's and the caller's clients, a template id of the test's own, and the callback
/// receiver's URL).
pub(crate) async fn start_with(
    test: &str,
    initiate: impl AsyncFnOnce(&SigningClient, &SigningClient, &str, &str) -> String,
) -> Option<Journey> {
    let browser = Browser::launch(test).await?;
    let t = TestStore::new(Backend::Sqlite)
        .await
        .expect("a sqlite store");
    let callbacks = Receiver::start(Behaviour::Accept).await;
    let service = start_service_with(&t, &[CALLER, ADMIN], |config| {
        config.callbacks.enabled = true;
        config.callbacks.poll_interval_ms = 100;
        config.expiry.enabled = false;
    })
    .await;
    let api = service.client(CALLER);
    let admin = service.client(ADMIN);
    let template = format!("TPL_{}", test.to_uppercase().replace('-', "_"));
    let contract_id = initiate(&admin, &api, &template, &callbacks.url).await;
    Some(Journey {
        browser,
        api,
        http: esign::providers::outbound::client(std::time::Duration::from_secs(20)).unwrap(),
        callbacks,
        contract_id,
        service,
        _t: t,
    })
}

impl Journey {
    /// A fresh sign link for `party`, issued through the API (it replaces the party's previous one).
    pub(crate) async fn sign_url(&self, party: &str) -> String {
        let (status, body) = json_of(
            self.api
                .post_json(
                    &format!(
                        "/api/v1/contract/{}/signers/{party}/sign-url",
                        self.contract_id
                    ),
                    &json!({}),
                )
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["signUrl"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn contract(&self) -> Value {
        let (status, body) = json_of(
            self.api
                .get(&format!("/api/v1/contract/{}", self.contract_id))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// The newest code texted to `mobile`, read from the development sender's viewer over HTTP.
    pub(crate) async fn latest_code(&self, mobile: &str) -> String {
        let (status, body) = json_of(
            self.http
                .get(format!("{}/dev/sms?mobile={mobile}", self.service.base))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let text = body["messages"]
            .as_array()
            .and_then(|messages| messages.last())
            .and_then(|message| message["text"].as_str())
            .unwrap_or_else(|| panic!("no message to {mobile}: {body}"))
            .to_owned();
        let chars: Vec<char> = text.chars().collect();
        chars
            .windows(6)
            .find(|window| window.iter().all(char::is_ascii_digit))
            .map(|window| window.iter().collect())
            .unwrap_or_else(|| panic!("no code in {text}"))
    }

    /// The contract status changes the receiver got, signed with the caller's secret, in the order of
    /// the contract's stream (deliveries may arrive out of order); waits until `last` arrived.
    pub(crate) async fn status_callbacks_until(&self, last: &str) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + crate::browser::DEADLINE;
        loop {
            let mut changes: Vec<(u64, String)> = self
                .callbacks
                .received()
                .iter()
                .filter(|callback| {
                    callback.header("x-esign-event-type") == "ContractStatusChangedEvent"
                })
                .map(|callback| {
                    assert!(
                        callback.signed_with(CALLER.secret),
                        "signed with the caller's secret"
                    );
                    let body = callback.json();
                    assert_eq!(body["contractId"], self.contract_id.as_str());
                    (
                        body["streamVersion"].as_u64().unwrap(),
                        body["status"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            changes.sort();
            if changes.iter().any(|(_, status)| status == last) {
                return changes.into_iter().map(|(_, status)| status).collect();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {last} callback yet; got {changes:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// The SMS step on the page: request a code, read it from the development sender, type it.
pub(crate) async fn pass_sms(journey: &Journey, tab: &Tab, mobile: &str) {
    tab.wait_for("#step-sms.current").await;
    tab.click("#sms-send").await;
    tab.wait_for_text("#sms-status", "验证码已发送").await;
    tab.screenshot_at("#step-sms", "sms-code-sent").await;
    let code = journey.latest_code(mobile).await;
    tab.type_into("#sms-code", &code).await;
    tab.click("#sms-verify").await;
    tab.wait_for("#step-sms.done").await;
    tab.wait_for("#step-face.current").await;
}

/// The face step: over to the sandbox's capture page, choose `outcome`, submit, back to the page.
pub(crate) async fn face_at_the_sandbox(journey: &Journey, tab: &Tab, outcome: &str) {
    tab.click("#face-start").await;
    tab.wait_for("input[name=outcome][value=PASS]").await;
    let sandbox = journey.service.state.face.sandbox_url.clone().unwrap();
    assert!(tab.url().await.starts_with(&sandbox), "{}", tab.url().await);
    tab.screenshot("sandbox-capture-page").await;
    tab.click(&format!("input[name=outcome][value={outcome}]"))
        .await;
    tab.click("button[type=submit]").await;
    // Back on the signing page (through esign's return route, which pulls the result).
    tab.wait_for("#step-face").await;
}

/// How many pixels of the pad have ink.
async fn inked_pixels(tab: &Tab) -> u64 {
    tab.eval(
        "(() => { const c = document.querySelector('canvas#signature-pad'); \
         const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; \
         let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n; })()",
    )
    .await
}

/// The signature step: draw with the finger, ask to sign, confirm.
pub(crate) async fn draw_and_confirm(tab: &Tab) {
    tab.wait_for("#step-sign.current").await;
    tab.wait_for("canvas#signature-pad").await;
    assert_eq!(inked_pixels(tab).await, 0, "the pad starts empty");
    // Asking to sign an empty pad shows the hint and no dialog; drawing takes the hint away.
    tab.click("#signature-submit").await;
    assert!(tab.is_visible("#signature-hint").await, "the hint shows");
    assert!(!tab.is_visible("#confirm-dialog").await);
    tab.draw_stroke("canvas#signature-pad", &signature_stroke())
        .await;
    assert!(
        !tab.is_visible("#signature-hint").await,
        "the hint goes once the signer draws"
    );
    // A second stroke, like the cross of a character.
    tab.draw_stroke(
        "canvas#signature-pad",
        &[(0.3, 0.2), (0.4, 0.45), (0.5, 0.7), (0.6, 0.85)],
    )
    .await;
    assert!(inked_pixels(tab).await > 500, "the strokes were drawn");
    tab.screenshot("signature-drawn").await;
    tab.click("#signature-submit").await;
    tab.wait_for("#confirm-dialog").await;
    tab.screenshot("confirm-dialog").await;
    tab.click("#confirm-yes").await;
    tab.wait_for("#done").await;
    tab.screenshot("done").await;
}

/// One signer's whole journey on the page at `url`.
pub(crate) async fn sign(journey: &Journey, tab: &Tab, mobile: &str, name: &str) {
    tab.wait_for("#contract-title").await;
    assert_eq!(tab.text("#signer-name").await.trim(), name);
    tab.screenshot("contract-page").await;
    pass_sms(journey, tab, mobile).await;
    face_at_the_sandbox(journey, tab, "PASS").await;
    tab.wait_for("#step-face.done").await;
    tab.screenshot_at("#step-face", "face-passed").await;
    draw_and_confirm(tab).await;
}

/// Proves the whole journey in a browser: the second signer waits while the first has not signed;
/// each passes the SMS and face checks and signs with a drawn signature; the API shows SIGNED, the
/// caller got PARTIAL_SIGNED then SIGNED, signed with its secret; and a used link answers 40005.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_signers_sign_in_order_in_a_browser_and_the_caller_hears_each_change() {
    let Some(journey) = start("sign-journey").await else {
        return;
    };
    let receiver_url = journey.sign_url(RECEIVER).await;
    let payer_url = journey.sign_url(PAYER).await;

    // The second signer comes first and is told to wait.
    let payer = journey.browser.open(&payer_url).await;
    payer.wait_for("#waiting").await;
    assert!(!payer.is_visible("#step-sms").await);
    assert!(payer.is_visible("#contract-title").await);
    payer
        .screenshot_at("#waiting", "second-signer-waiting")
        .await;

    let receiver = journey.browser.open(&receiver_url).await;
    let receiver_began = chrono::Utc::now();
    sign(&journey, &receiver, RECEIVER_MOBILE, "张三").await;
    assert_eq!(journey.contract().await["status"], "PARTIAL_SIGNED");

    payer.reload().await;
    payer.wait_for("#step-sms.current").await;
    assert!(!payer.is_visible("#waiting").await);
    let payer_began = chrono::Utc::now();
    sign(&journey, &payer, PAYER_MOBILE, "李四").await;

    let contract = journey.contract().await;
    assert_eq!(contract["status"], "SIGNED", "{contract}");
    let signers = contract["signers"].as_array().unwrap();
    assert!(
        signers
            .iter()
            .all(|signer| signer["signStatus"] == "SIGNED"),
        "{contract}"
    );
    assert_eq!(
        journey.status_callbacks_until("SIGNED").await,
        ["PARTIAL_SIGNED", "SIGNED"]
    );

    // The document: each signer's signature made and timestamped when they confirmed on the
    // page, then the seal and the document timestamp, all valid for pdfsig and pyHanko.
    let pdf =
        crate::signing_moments::document_when_sealed(&journey.service, &journey.contract_id).await;
    crate::signing_moments::assert_signed_at_each_moment(
        &journey.service,
        &journey.contract_id,
        &pdf,
        &[receiver_began, payer_began],
    )
    .await;
    let ca = journey.service.state.ca.as_ref().unwrap();
    let dir = tempfile::tempdir().unwrap();
    crate::pades::check_two_signer_contract(dir.path(), ca, &pdf);
    std::fs::write(
        crate::browser::artifacts_root()
            .join("sign-journey")
            .join("signed.pdf"),
        &pdf,
    )
    .ok();

    // The first signer's link, used: opening it again answers 40005.
    receiver.goto(&receiver_url).await;
    assert_eq!(
        receiver.wait_for_text("#error-code", "40005").await,
        "40005"
    );
    receiver.screenshot("used-link").await;
    journey.browser.close().await;
}

/// Proves rejecting from the page: a required reason, the rejected page, REJECTED through the API and
/// in a callback.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signer_rejects_with_a_reason_in_a_browser() {
    let Some(journey) = start("sign-reject").await else {
        return;
    };
    let tab = journey
        .browser
        .open(&journey.sign_url(RECEIVER).await)
        .await;
    tab.wait_for("#contract-title").await;
    assert!(tab.is_visible("#reject-open").await);
    tab.click("#reject-open").await;
    tab.wait_for("#reject-reason").await;
    assert!(
        !tab.is_visible("#reject-open").await,
        "the reject button gives way to the reason form"
    );
    tab.type_into("#reject-reason", "协议金额与约定不符").await;
    tab.screenshot_at("#reject-reason", "reject-reason").await;
    tab.click("#reject-submit").await;
    tab.wait_for("#rejected").await;
    tab.screenshot("rejected").await;
    let contract = journey.contract().await;
    assert_eq!(contract["status"], "REJECTED", "{contract}");
    assert_eq!(
        journey.status_callbacks_until("REJECTED").await,
        ["REJECTED"]
    );
    journey.browser.close().await;
}

/// Proves a replaced link is expired for the page (40004) while the new one works.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replaced_link_shows_40004_and_the_new_one_works() {
    let Some(journey) = start("sign-expired-link").await else {
        return;
    };
    let old = journey.sign_url(RECEIVER).await;
    let new = journey.sign_url(RECEIVER).await;
    let tab = journey.browser.open(&old).await;
    assert_eq!(tab.wait_for_text("#error-code", "40004").await, "40004");
    assert!(!tab.text("#error-message").await.is_empty());
    tab.screenshot("expired-link").await;
    tab.goto(&new).await;
    tab.wait_for("#step-sms.current").await;
    journey.browser.close().await;
}

/// Proves wrong SMS codes count down on the page and the fifth locks the step.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_sms_codes_lock_the_step_in_a_browser() {
    let Some(journey) = start("sign-sms-locked").await else {
        return;
    };
    let tab = journey
        .browser
        .open(&journey.sign_url(RECEIVER).await)
        .await;
    tab.wait_for("#step-sms.current").await;
    tab.click("#sms-send").await;
    tab.wait_for_text("#sms-status", "验证码已发送").await;
    let code = journey.latest_code(RECEIVER_MOBILE).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (1..=4).rev() {
        tab.type_into("#sms-code", wrong).await;
        tab.click("#sms-verify").await;
        tab.wait_for_text("#sms-status", &format!("还可尝试 {left} 次"))
            .await;
    }
    tab.type_into("#sms-code", wrong).await;
    tab.click("#sms-verify").await;
    tab.wait_for_text("#sms-status", "已锁定").await;
    let disabled: bool = tab
        .eval("document.querySelector('#sms-verify').disabled")
        .await;
    assert!(disabled, "a locked step offers no verify");
    assert!(!tab.is_visible("#step-face.current").await);
    tab.screenshot_at("#step-sms", "sms-locked").await;
    journey.browser.close().await;
}

/// Proves a face mismatch at the provider shows on the signing page with its reason, and the step
/// stays to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_face_mismatch_shows_on_the_signing_page() {
    let Some(journey) = start("sign-face-mismatch").await else {
        return;
    };
    let tab = journey
        .browser
        .open(&journey.sign_url(RECEIVER).await)
        .await;
    tab.wait_for("#contract-title").await;
    pass_sms(&journey, &tab, RECEIVER_MOBILE).await;
    face_at_the_sandbox(&journey, &tab, "FACE_MISMATCH").await;
    let status = tab.wait_for_text("#face-status", "未通过").await;
    assert!(status.contains("人脸比对不一致"), "{status}");
    assert!(!tab.is_visible("#step-face.done").await);
    assert!(!tab.is_visible("canvas#signature-pad").await);
    tab.screenshot_at("#step-face", "face-mismatch").await;
    assert_eq!(journey.contract().await["status"], "CREATED");
    journey.browser.close().await;
}
