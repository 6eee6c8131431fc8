//! The standalone face verification page in a real browser (headless Chromium, phone viewport): a
//! caller initiates through the signed API, the person opens `verificationUrl`, sees the caller's
//! look, is handed over to the sandbox provider's capture page, comes back, and sees the result the
//! API also shows. Also: a failed check, the degraded SMS check, and invalid or expired links.
//!
//! These tests exercise pages, not storage, so they run on SQLite only.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, Tab};
use crate::helpers::{Backend, CALLER, RunningService, TestStore, json_of, start_service_with};
use crate::signing_client::SigningClient;

const MOBILE: &str = "13800138000";

struct Setup {
    service: RunningService,
    api: SigningClient,
    /// Serves the caller's logo from an origin of its own.
    logo_url: String,
    _t: TestStore,
}

async fn setup(configure: impl FnOnce(&mut esign::app::config::Config)) -> Setup {
    let t = TestStore::new(Backend::Sqlite)
        .await
        .expect("a sqlite store");
    let service = start_service_with(&t, &[CALLER], configure).await;
    Setup {
        api: service.client(CALLER),
        logo_url: serve_logo().await,
        service,
        _t: t,
    }
}

/// A tiny image server on another port: the caller's logo lives at an origin that is not esign's.
async fn serve_logo() -> String {
    const LOGO: &str = "<svg xmlns='http://www.w3.org/2000/svg' width='96' height='32'>\
        <rect width='96' height='32' rx='6' fill='#ff6600'/>\
        <text x='48' y='22' font-size='16' text-anchor='middle' fill='#fff'>LOGO</text></svg>";
    let app = axum::Router::new().route(
        "/logo.svg",
        axum::routing::get(|| async { ([("content-type", "image/svg+xml")], LOGO) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/logo.svg")
}

async fn initiate(setup: &Setup, biz_id: &str) -> Value {
    let (status, body) = json_of(
        setup
            .api
            .post_json(
                "/api/v1/verification/face/initiate",
                &json!({
                    "bizId": biz_id,
                    "bizType": "RELATIONSHIP_BINDING",
                    "userInfo": {"name": "张三", "idCardNo": "11010519491231002X", "mobile": MOBILE},
                    "callbackUrl": "https://caller.example.com/callback/face",
                    "expireMinutes": 30,
                    "uiConfig": {
                        "title": "天财商户身份核验",
                        "logoUrl": setup.logo_url,
                        "themeColor": "#FF6600"
                    }
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn show(setup: &Setup, id: &str) -> Value {
    let (status, body) = json_of(
        setup
            .api
            .get(&format!("/api/v1/verification/face/{id}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Opens the verification page and checks the caller's look and the masked person; leaves the tab
/// on the page.
async fn open_verification_page(setup: &Setup, browser: &Browser, url: &str) -> Tab {
    let tab = browser.open(url).await;
    tab.wait_for("#face-verify-start").await;
    assert_eq!(tab.text("#page-title").await, "天财商户身份核验");
    let theme: String = tab
        .eval("getComputedStyle(document.documentElement).getPropertyValue('--theme').trim()")
        .await;
    assert_eq!(theme, "#ff6600");
    let header: String = tab
        .eval("getComputedStyle(document.querySelector('header')).backgroundColor")
        .await;
    assert_eq!(header, "rgb(255, 102, 0)");
    let button: String = tab
        .eval("getComputedStyle(document.querySelector('#face-verify-start')).backgroundColor")
        .await;
    assert_eq!(button, "rgb(255, 102, 0)");
    assert_eq!(
        tab.attribute("img#logo", "src").await.as_deref(),
        Some(setup.logo_url.as_str())
    );
    // The policy lets the logo's origin through: the image actually loaded.
    let _: bool = tab
        .wait_until(
            "the logo to load",
            "(() => { const i = document.querySelector('img#logo'); \
             return i.complete && i.naturalWidth > 0 ? true : null; })()",
        )
        .await;
    assert_eq!(tab.text("#person-name").await, "张*");
    assert_eq!(tab.text("#person-id").await, "110105********002X");
    let html: String = tab.eval("document.documentElement.outerHTML").await;
    assert!(
        !html.contains("11010519491231002X"),
        "the ID number is masked"
    );
    tab
}

/// Hands over to the sandbox's capture page and submits `outcome` there.
async fn capture_at_the_sandbox(tab: &Tab, outcome: &str, sandbox: &str) {
    tab.click("#face-verify-start").await;
    tab.wait_for("input[name=outcome][value=PASS]").await;
    assert!(tab.url().await.starts_with(sandbox), "{}", tab.url().await);
    tab.screenshot("sandbox-capture-page").await;
    tab.click(&format!("input[name=outcome][value={outcome}]"))
        .await;
    tab.click("button[type=submit]").await;
}

/// Proves the whole standalone page: the caller's look, the masked person, the hand-over to the
/// provider, the return with the result, the security headers, and the API agreeing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_person_passes_the_face_check_through_the_page_and_the_sandbox() {
    let Some(browser) = Browser::launch("face-page-pass").await else {
        return;
    };
    let setup = setup(|_| {}).await;
    let created = initiate(&setup, "FACE_PAGE_PASS").await;
    let id = created["verificationId"].as_str().unwrap();
    let url = created["verificationUrl"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/h5/face-verify?token=", setup.service.base)));

    let http = esign::providers::outbound::client(Duration::from_secs(20)).unwrap();
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    let policy = headers["content-security-policy"].to_str().unwrap();
    let logo_origin = setup.logo_url.trim_end_matches("/logo.svg");
    assert!(policy.starts_with("default-src 'none';"), "{policy}");
    assert!(
        policy.contains(&format!("img-src 'self' {logo_origin};")),
        "{policy}"
    );
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");

    let tab = open_verification_page(&setup, &browser, url).await;
    tab.screenshot("verification-page").await;
    let sandbox = setup.service.state.face.sandbox_url.clone().unwrap();
    capture_at_the_sandbox(&tab, "PASS", &sandbox).await;

    let text = tab.wait_for_text("#face-result", "核验通过").await;
    assert!(!text.contains("未通过"), "{text}");
    assert_eq!(
        tab.attribute("#face-result", "data-status")
            .await
            .as_deref(),
        Some("SUCCESS")
    );
    assert!(tab.url().await.starts_with(&format!(
        "{}/h5/face-verify/return?token=",
        setup.service.base
    )));
    tab.screenshot("face-result-passed").await;
    let shown = show(&setup, id).await;
    assert_eq!(shown["status"], "SUCCESS", "{shown}");
    assert_eq!(shown["provider"], "sandbox");

    // Opening the link again shows the result, not a second hand-over.
    tab.goto(url).await;
    tab.wait_for_text("#face-result", "核验通过").await;
    assert!(!tab.is_visible("#face-verify-start").await);
    browser.close().await;
}

/// Proves a provider's "face mismatch" reaches the page as 未通过 with the reason, and the API as
/// FAILED / FACE_MISMATCH.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_face_mismatch_shows_the_failure_and_its_reason() {
    let Some(browser) = Browser::launch("face-page-mismatch").await else {
        return;
    };
    let setup = setup(|_| {}).await;
    let created = initiate(&setup, "FACE_PAGE_MISMATCH").await;
    let id = created["verificationId"].as_str().unwrap();
    let url = created["verificationUrl"].as_str().unwrap();
    let tab = open_verification_page(&setup, &browser, url).await;
    let sandbox = setup.service.state.face.sandbox_url.clone().unwrap();
    capture_at_the_sandbox(&tab, "FACE_MISMATCH", &sandbox).await;

    let text = tab.wait_for_text("#face-result", "核验未通过").await;
    assert!(text.contains("人脸比对不一致"), "{text}");
    assert_eq!(
        tab.attribute("#face-result", "data-status")
            .await
            .as_deref(),
        Some("FAILED")
    );
    tab.screenshot("face-result-mismatch").await;
    let shown = show(&setup, id).await;
    assert_eq!(
        (shown["status"].as_str(), shown["failReason"].as_str()),
        (Some("FAILED"), Some("FACE_MISMATCH")),
        "{shown}"
    );
    browser.close().await;
}

/// Proves the degraded check works from the page: with every provider down, the page offers the SMS
/// form; a wrong code is refused on the page, the right one passes, and the API agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_every_provider_down_the_page_passes_with_an_sms_code() {
    let Some(browser) = Browser::launch("face-page-degraded").await else {
        return;
    };
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let setup = setup(|config| {
        config.face.providers = vec!["down".into()];
        config.face.provider.insert(
            "down".into(),
            esign::providers::face::FaceProviderConfig {
                kind: esign::providers::face::FaceProviderKind::Http,
                base_url: dead,
                app_id: "esign-test".into(),
                secret: "down-provider-secret-0123456789".into(),
            },
        );
        config.face.degraded_mode = true;
    })
    .await;
    let created = initiate(&setup, "FACE_PAGE_DEGRADED").await;
    assert_eq!(created["degraded"], true, "{created}");
    let id = created["verificationId"].as_str().unwrap();
    let tab = browser
        .open(created["verificationUrl"].as_str().unwrap())
        .await;
    tab.wait_for("#degraded-send").await;
    assert_eq!(
        tab.attribute("#face-result", "data-status")
            .await
            .as_deref(),
        Some("PENDING")
    );
    assert!(!tab.is_visible("#face-verify-start").await);
    tab.screenshot("degraded-form").await;

    tab.click("#degraded-send").await;
    tab.wait_for_text("#degraded-status", "138****8000").await;
    let sent = setup
        .service
        .state
        .development_sms
        .as_ref()
        .unwrap()
        .sent_to(MOBILE);
    assert_eq!(sent.len(), 1);
    let code: String = sent[0]
        .text
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    tab.type_into("#degraded-code", wrong).await;
    tab.click("#degraded-verify").await;
    tab.wait_for_text("#degraded-status", "验证码错误").await;
    tab.screenshot("degraded-wrong-code").await;

    tab.type_into("#degraded-code", &code).await;
    tab.click("#degraded-verify").await;
    tab.wait_for_text("#face-result", "核验通过").await;
    assert!(!tab.is_visible("#degraded-send").await);
    tab.screenshot("degraded-passed").await;
    let shown = show(&setup, id).await;
    assert_eq!(
        (shown["status"].as_str(), shown["method"].as_str()),
        (Some("SUCCESS"), Some("SMS_AND_IDENTITY")),
        "{shown}"
    );
    browser.close().await;
}

/// Proves a forged or altered token gets the 40400 error page and one past its deadline 40004, both
/// with the pages' security headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_and_expired_links_show_the_error_page() {
    let Some(browser) = Browser::launch("face-page-errors").await else {
        return;
    };
    let setup = setup(|_| {}).await;
    let created = initiate(&setup, "FACE_PAGE_ERRORS").await;
    let id = created["verificationId"].as_str().unwrap();
    let base = &setup.service.base;

    let forged = format!("{base}/h5/face-verify?token={id}.9999999999.0000");
    let tab = browser.open(&forged).await;
    assert_eq!(tab.wait_for_text("#error-code", "40400").await, "40400");
    assert!(tab.text("#error-message").await.contains("无效"));
    tab.screenshot("invalid-link").await;

    // A genuine token whose deadline has passed: what a link looks like after its verification's
    // `expiresAt`.
    let past = chrono::Utc::now().timestamp() - 60;
    let expired = format!(
        "{base}/h5/face-verify?token={}",
        esign::app::verifications::page_token(&setup.service.state.pii, id, past, 1)
    );
    let http = esign::providers::outbound::client(Duration::from_secs(20)).unwrap();
    let response = http.get(&expired).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::GONE);
    assert_eq!(response.headers()["cache-control"], "no-store");
    tab.goto(&expired).await;
    assert_eq!(tab.wait_for_text("#error-code", "40004").await, "40004");
    assert!(tab.text("#error-message").await.contains("过期"));
    // The token is genuine, so the error page wears the caller's look.
    assert_eq!(tab.text("#page-title").await, "天财商户身份核验");
    tab.screenshot("expired-link").await;
    browser.close().await;
}
