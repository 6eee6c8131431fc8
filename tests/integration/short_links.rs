//! `shortUrl` and `qrCode` in the initiate and re-issue responses: the short link redirects to the
//! sign URL without caching or leaking it, and the QR code reads back (with an independent decoder) as
//! the sign URL.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN, CALLER, TestStore, json_of};

crate::backend_tests!(
    each_signer_gets_a_short_link_and_a_qr_code_of_their_sign_url,
    unknown_malformed_and_expired_short_links_are_refused,
);

fn no_redirects() -> reqwest::Client {
    esign::providers::outbound::client_builder(std::time::Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Reads a `data:image/png;base64,` QR code back to its text.
fn read_qr(data_url: &str) -> String {
    let encoded = data_url
        .strip_prefix("data:image/png;base64,")
        .expect("a PNG data URL");
    let png_bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let (width, height) = (info.width as usize, info.height as usize);
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| buffer[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    grids[0].decode().unwrap().1
}

async fn follow(short_url: &str) -> reqwest::Response {
    no_redirects().get(short_url).send().await.unwrap()
}

async fn each_signer_gets_a_short_link_and_a_qr_code_of_their_sign_url(t: TestStore) {
    let service = crate::helpers::start_service(&t, &[CALLER, ADMIN]).await;
    let admin = service.client(ADMIN);
    let caller = service.client(CALLER);
    crate::journey::publish_template(&admin, "TPL_SHORT").await;
    let (status, created) = json_of(
        caller
            .post_json(
                "/api/v1/contract/initiate",
                &json!({
                    "bizId": "SHORT_1",
                    "bizType": "RELATIONSHIP_AGREEMENT",
                    "templateId": "TPL_SHORT",
                    "title": "天财分账资金归集授权协议",
                    "variables": {"payerName": "XX品牌总部"},
                    "signers": esign_tools::fixtures::two_signers(),
                    "callbackUrl": "https://auth.example.com/cb"
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let tasks = created["signTasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    let mut short_urls = Vec::new();
    for task in tasks {
        let sign_url = task["signUrl"].as_str().unwrap();
        let short_url = task["shortUrl"].as_str().unwrap();
        // `start_service` serves links under https://esign.test; the route itself is on `base`.
        let code = short_url
            .strip_prefix("https://esign.test/s/")
            .unwrap_or_else(|| panic!("{short_url}"));
        assert_eq!(code.len(), 10);
        assert!(short_url.len() < sign_url.len() / 2, "short: {short_url}");
        assert_eq!(read_qr(task["qrCode"].as_str().unwrap()), sign_url);

        let response = follow(&format!("{}/s/{code}", service.base)).await;
        assert_eq!(response.status(), StatusCode::FOUND);
        let headers = response.headers();
        assert_eq!(headers["location"], sign_url);
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        short_urls.push(code.to_owned());
    }
    assert_ne!(short_urls[0], short_urls[1]);

    // A re-issued link gets its own short link and QR code.
    let contract_id = created["contractId"].as_str().unwrap();
    let (status, reissued) = json_of(
        caller
            .post_json(
                &format!("/api/v1/contract/{contract_id}/signers/PAYER_001/sign-url"),
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reissued}");
    let code = reissued["shortUrl"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(!short_urls.contains(&code));
    assert_eq!(
        read_qr(reissued["qrCode"].as_str().unwrap()),
        reissued["signUrl"].as_str().unwrap()
    );
    let response = follow(&format!("{}/s/{code}", service.base)).await;
    assert_eq!(
        response.headers()["location"],
        reissued["signUrl"].as_str().unwrap()
    );
}

async fn unknown_malformed_and_expired_short_links_are_refused(t: TestStore) {
    let service = crate::helpers::start_service(&t, &[CALLER]).await;
    for (path, status, code) in [
        ("/s/AAAAAAAAAA", StatusCode::NOT_FOUND, "40400"),
        ("/s/short", StatusCode::NOT_FOUND, "40400"),
        ("/s/..%2F..%2Fetc", StatusCode::NOT_FOUND, "40400"),
    ] {
        let response = follow(&format!("{}{path}", service.base)).await;
        assert_eq!(response.status(), status, "{path}");
        assert!(response.text().await.unwrap().contains(code), "{path}");
    }
    let expired = esign::app::short_links::create(
        &service.state.store,
        &service.state.pii,
        "CONTRACT_X",
        "RECEIVER_001",
        "https://esign.test/h5/sign?token=old",
        chrono::Utc::now() - chrono::TimeDelta::minutes(1),
    )
    .await
    .unwrap();
    let response = follow(&format!("{}/s/{expired}", service.base)).await;
    assert_eq!(response.status(), StatusCode::GONE);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("40004"));
}
