//! Attacks on the signer's pages (spec 4.2 item 3, spec 6 codes 40004 / 40005) beyond what
//! `h5_sign.rs` and `sms.rs` prove: guessed and cross-used tokens on every H5 route, posts from a page
//! whose link was since consumed or replaced, a concurrent burst of wrong SMS codes, and concurrent
//! bursts against the rate limits. Each refusal is checked to write nothing.

use std::time::Duration;

use esign::store::{EventStore, StreamId};
use reqwest::StatusCode;
use serde_json::json;

use crate::h5_sign::Browser;
use crate::helpers::{ADMIN, RunningService, TestStore, event_count, json_of, start_service_with};
use crate::journey::{initiate_contract, publish_template};
use crate::signing_client::SigningClient;

crate::backend_tests!(
    guessed_and_cross_used_tokens_get_404_on_every_h5_route_and_write_nothing,
    posts_from_a_page_whose_link_was_used_or_replaced_are_refused_and_write_nothing,
    a_concurrent_burst_of_wrong_sms_codes_locks_after_the_limit_and_the_right_code_stays_refused,
    concurrent_bursts_above_the_rate_limits_get_429_and_only_the_limit_reaches_the_handler,
);

struct H5 {
    api: SigningClient,
    service: RunningService,
}

async fn start(t: &TestStore, configure: impl FnOnce(&mut esign::app::config::Config)) -> H5 {
    let service = start_service_with(t, &[ADMIN], |config| {
        config.callbacks.enabled = false;
        configure(config);
    })
    .await;
    H5 {
        api: service.client(ADMIN),
        service,
    }
}

/// A two-signer contract and a fresh sign URL for the receiver.
async fn contract(h5: &H5, biz_id: &str) -> (String, String) {
    publish_template(&h5.api, &format!("TPL_{biz_id}")).await;
    let contract_id = initiate_contract(
        &h5.api,
        &format!("TPL_{biz_id}"),
        biz_id,
        "https://auth.example.com/callback/e-sign",
        7,
    )
    .await;
    let url = sign_url(h5, &contract_id, "RECEIVER_001").await;
    (contract_id, url)
}

async fn sign_url(h5: &H5, contract_id: &str, party: &str) -> String {
    let (status, body) = json_of(
        h5.api
            .post_json(
                &format!("/api/v1/contract/{contract_id}/signers/{party}/sign-url"),
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["signUrl"].as_str().unwrap().to_owned()
}

fn path_of(url: &str) -> String {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|at| rest[at..].to_owned()))
        .unwrap()
}

async fn stream_len(h5: &H5, contract_id: &str) -> usize {
    h5.service
        .state
        .store
        .read_stream(&StreamId::new("contract", contract_id), 0)
        .await
        .unwrap()
        .len()
}

/// Texts the development sender has sent to the first signer's mobile number.
fn texts_to_first_signer(h5: &H5) -> usize {
    h5.service
        .state
        .development_sms
        .as_ref()
        .unwrap()
        .sent_to("13800138000")
        .len()
}

fn error_code(html: &str) -> String {
    html.split("id=\"error-code\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_default()
        .to_owned()
}

/// Random tokens of the issued shape, a sign token on the face page and a face page token on the
/// signing page, each on every token-keyed H5 route: 404 / 40400 everywhere, nothing written, no
/// text sent. Short-link codes are guessed the same way.
async fn guessed_and_cross_used_tokens_get_404_on_every_h5_route_and_write_nothing(t: TestStore) {
    // The limits are proven below; here every guess must reach the token check.
    let h5 = start(&t, |config| {
        config.h5.requests_per_minute_per_link = 0;
        config.h5.requests_per_minute_per_ip = 0;
    })
    .await;
    let (_, receiver_url) = contract(&h5, "H5_GUESS").await;
    let sign_token = receiver_url.split("token=").nth(1).unwrap().to_owned();
    let (status, face) = json_of(
        h5.api
            .post_json(
                "/api/v1/verification/face/initiate",
                &json!({
                    "bizId": "H5_GUESS_FACE", "bizType": "RELATIONSHIP_BINDING",
                    "userInfo": {"name": "张三", "idCardNo": "11010519491231002X", "mobile": "13800138000"},
                    "callbackUrl": "https://auth.example.com/callback/face-verification",
                    "expireMinutes": 30
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{face}");
    let face_token = face["verificationUrl"]
        .as_str()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();

    let sign_routes = [
        ("GET", "/h5/sign"),
        ("POST", "/h5/sign/sms/send"),
        ("POST", "/h5/sign/sms/verify"),
        ("POST", "/h5/sign/face/start"),
        ("GET", "/h5/sign/face-return"),
        ("POST", "/h5/sign/submit"),
        ("POST", "/h5/sign/reject"),
    ];
    let face_routes = [
        ("GET", "/h5/face-verify"),
        ("GET", "/h5/face-verify/return"),
        ("POST", "/h5/face-verify/degraded/code"),
        ("POST", "/h5/face-verify/degraded/verify"),
    ];
    let mut guesses: Vec<String> = (0..5)
        .map(|_| {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).unwrap();
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
        })
        .collect();
    guesses.push(String::new());
    let mut cases: Vec<(&str, &str, String)> = Vec::new();
    for guess in &guesses {
        for (method, route) in sign_routes.iter().chain(face_routes.iter()) {
            cases.push((method, route, guess.clone()));
        }
    }
    for (method, route) in sign_routes {
        cases.push((method, route, face_token.clone()));
    }
    for (method, route) in face_routes {
        cases.push((method, route, sign_token.clone()));
    }
    let http = esign::providers::outbound::client(Duration::from_secs(30)).unwrap();
    let before = event_count(&h5.service.state.store).await;
    let texts_before = texts_to_first_signer(&h5);
    for (method, route, token) in &cases {
        let url = format!("{}{route}?token={token}", h5.service.base);
        let request = if *method == "GET" {
            http.get(&url)
        } else if route.starts_with("/h5/face-verify") {
            // The degraded check's steps take JSON.
            http.post(&url).json(&json!({"code": "123456"}))
        } else {
            http.post(&url).form(&[
                ("csrf", "0123456789abcdef0123456789abcdef.00"),
                ("code", "123456"),
            ])
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{method} {route} token={token}: {body}"
        );
        if route.starts_with("/h5/sign") {
            assert_eq!(error_code(&body), "40400", "{method} {route}: {body}");
        }
    }
    for _ in 0..5 {
        let code: String = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
        let response = http
            .get(format!("{}/s/{code}", h5.service.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(
        event_count(&h5.service.state.store).await,
        before,
        "a guessed token wrote something"
    );
    assert_eq!(
        texts_to_first_signer(&h5),
        texts_before,
        "a guessed token sent a text"
    );
    eprintln!(
        "h5 guesses: {} token requests on {} routes and 5 short-link codes, all 404",
        cases.len(),
        sign_routes.len() + face_routes.len()
    );
}

/// A page opened while its link was live, posted from after the link was consumed (the signer signed)
/// or replaced (a new link was issued, which expires the old one): every step answers 40005 or 40004
/// with nothing written and no text sent.
async fn posts_from_a_page_whose_link_was_used_or_replaced_are_refused_and_write_nothing(
    t: TestStore,
) {
    let h5 = start(&t, |_| {}).await;
    let (contract_id, receiver_url) = contract(&h5, "H5_STALE").await;
    let browser = Browser::new(&h5.service.base);
    let page = browser.open(&receiver_url).await;
    assert_eq!(page.status, StatusCode::OK);

    // Replaced: the caller issued the receiver a new link.
    let newer = sign_url(&h5, &contract_id, "RECEIVER_001").await;
    let before = stream_len(&h5, &contract_id).await;
    let steps = [
        ("sms-send", vec![]),
        ("sms-verify", vec![("code", "123456")]),
        ("reject-submit", vec![("reason", "不同意")]),
    ];
    for (button, fields) in &steps {
        let refused = browser.submit(&page, button, fields).await;
        assert_eq!(
            refused.status,
            StatusCode::GONE,
            "{button}: {}",
            refused.html
        );
        assert_eq!(refused.error_code(), "40004", "{button}");
    }
    assert_eq!(stream_len(&h5, &contract_id).await, before);

    // Used: the signer signs through the newer link; its page, opened before, is then stale.
    let newer_page = browser.open(&path_of(&newer)).await;
    assert_eq!(newer_page.status, StatusCode::OK);
    crate::journey::sign_as(&h5.service.state, &contract_id, "RECEIVER_001").await;
    let before = stream_len(&h5, &contract_id).await;
    let texts = texts_to_first_signer(&h5);
    for (button, fields) in &steps {
        let refused = browser.submit(&newer_page, button, fields).await;
        assert_eq!(
            refused.status,
            StatusCode::CONFLICT,
            "{button}: {}",
            refused.html
        );
        assert_eq!(refused.error_code(), "40005", "{button}");
    }
    let signature = crate::h5_sign::data_url(&crate::h5_sign::signature_png());
    let resubmit = browser
        .post_raw(
            &newer_page
                .action_of("reject-submit")
                .replace("/reject", "/submit"),
            &[("csrf", &newer_page.csrf()), ("signature", &signature)],
            true,
        )
        .await;
    assert_eq!(resubmit.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(&resubmit.text().await.unwrap()), "40005");
    assert_eq!(stream_len(&h5, &contract_id).await, before);
    assert_eq!(texts_to_first_signer(&h5), texts);
}

/// Twenty wrong codes posted at once: no more failures are counted than the policy allows before the
/// lock, the step is locked, and the right code is then refused.
async fn a_concurrent_burst_of_wrong_sms_codes_locks_after_the_limit_and_the_right_code_stays_refused(
    t: TestStore,
) {
    let h5 = start(&t, |config| {
        config.h5.requests_per_minute_per_link = 0;
        config.h5.requests_per_minute_per_ip = 0;
    })
    .await;
    let (contract_id, receiver_url) = contract(&h5, "H5_BRUTE").await;
    let browser = Browser::new(&h5.service.base);
    let page = browser.open(&receiver_url).await;
    let page = browser.submit(&page, "sms-send", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let text = h5
        .service
        .state
        .development_sms
        .as_ref()
        .unwrap()
        .sent_to("13800138000")
        .last()
        .unwrap()
        .text
        .clone();
    let digits: Vec<char> = text.chars().collect();
    let right: String = digits
        .windows(6)
        .find(|window| window.iter().all(char::is_ascii_digit))
        .unwrap()
        .iter()
        .collect();
    let verify = page.action_of("sms-verify");
    let csrf = page.csrf();
    let wrong: Vec<String> = (0..20)
        .map(|n| format!("{:06}", (right.parse::<u32>().unwrap() + 1 + n) % 1_000_000))
        .collect();
    let answers = futures::future::join_all(wrong.iter().map(|code| async {
        browser
            .post_raw(
                &verify,
                &[("csrf", csrf.as_str()), ("code", code.as_str())],
                true,
            )
            .await
    }))
    .await;
    let statuses: Vec<StatusCode> = answers.iter().map(|answer| answer.status()).collect();
    let max = h5
        .service
        .state
        .config
        .sms
        .code_policy()
        .max_failed_attempts as usize;
    let events = h5
        .service
        .state
        .store
        .read_stream(&StreamId::new("contract", &contract_id), 0)
        .await
        .unwrap();
    let failed = events
        .iter()
        .filter(|event| event.event_type == "SmsCodeFailed")
        .count();
    assert_eq!(failed, max, "failures counted from a burst: {statuses:?}");
    let late = browser
        .post_raw(&verify, &[("csrf", &csrf), ("code", &right)], true)
        .await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    let events = h5
        .service
        .state
        .store
        .read_stream(&StreamId::new("contract", &contract_id), 0)
        .await
        .unwrap();
    assert!(
        !events
            .iter()
            .any(|event| event.event_type == "SmsCodeVerified"),
        "the right code passed while locked"
    );
    eprintln!(
        "sms brute force: 20 concurrent wrong codes -> {failed} counted (limit {max}), then locked"
    );
}

/// Twenty page views of one link at once with a limit of five per minute: exactly five pages, fifteen
/// 429 / 42900, and exactly five `SignLinkOpened` events. The per-IP limit holds the same way for
/// guessed tokens.
async fn concurrent_bursts_above_the_rate_limits_get_429_and_only_the_limit_reaches_the_handler(
    t: TestStore,
) {
    const LINK_LIMIT: u32 = 5;
    const IP_LIMIT: u32 = 40;
    let h5 = start(&t, |config| {
        config.h5.requests_per_minute_per_link = LINK_LIMIT;
        config.h5.requests_per_minute_per_ip = IP_LIMIT;
    })
    .await;
    let (contract_id, receiver_url) = contract(&h5, "H5_BURST").await;
    let http = esign::providers::outbound::client(Duration::from_secs(30)).unwrap();
    let burst = |urls: Vec<String>| {
        let http = http.clone();
        async move {
            futures::future::join_all(urls.iter().map(|url| http.get(url).send()))
                .await
                .into_iter()
                .map(|response| response.unwrap().status())
                .collect::<Vec<_>>()
        }
    };
    let opened = |events: &[esign::store::RecordedEvent]| {
        events
            .iter()
            .filter(|event| event.event_type == "SignLinkOpened")
            .count()
    };
    let statuses = burst(vec![receiver_url.clone(); 20]).await;
    let passed = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((passed, limited), (LINK_LIMIT as usize, 15), "{statuses:?}");
    let events = h5
        .service
        .state
        .store
        .read_stream(&StreamId::new("contract", &contract_id), 0)
        .await
        .unwrap();
    assert_eq!(
        opened(&events),
        LINK_LIMIT as usize,
        "views that reached the handler"
    );

    // Forty different guessed tokens from one address: the per-IP limit (which counted the 20
    // above) lets 20 be looked up and stops the rest.
    let guesses = burst(
        (0..40)
            .map(|n| format!("{}/h5/sign?token=guessed-token-{n:04}", h5.service.base))
            .collect(),
    )
    .await;
    let not_found = guesses
        .iter()
        .filter(|s| **s == StatusCode::NOT_FOUND)
        .count();
    let limited_ip = guesses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        (not_found, limited_ip),
        (IP_LIMIT as usize - 20, 20),
        "{guesses:?}"
    );
    eprintln!(
        "rate limits: link burst 20 -> {passed} passed / {limited} x 429 (limit {LINK_LIMIT}); \
         IP burst 40 -> {not_found} looked up / {limited_ip} x 429 (limit {IP_LIMIT}, 20 used)"
    );
}
