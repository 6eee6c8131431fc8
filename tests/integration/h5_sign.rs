//! The signer's H5 signing page over real HTTP on both backends, driven like a browser (a client that
//! keeps cookies and follows redirects, no script): the two-signer FACE_AND_SMS journey with SMS codes
//! from the development sender and the sandbox face provider's capture page, the order rule, link
//! states (expired, replaced, used), rejection, the SMS lock, a failed face check and its retry, and
//! the page's defences (CSRF, rate limits, Referer allow-list, headers).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use aggregates::Aggregate;
use aggregates::contract::{ContractAggregate, ContractCommand, IssueSignLink, NewSignLink};
use aggregates::values::{Digest, LinkId, LinkTtl, PartyId};
use chrono::{TimeDelta, Utc};
use esign::app::config::Config;
use esign::store::{EventMetadata, EventStore, StreamId};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::Value;
use sha2::Digest as _;

use crate::helpers::{ADMIN, CALLER, RunningService, TestStore, json_of, start_service_with};
use crate::journey::{initiate_contract, publish_template};
use crate::signing_client::SigningClient;

crate::backend_tests!(
    two_signers_sign_in_order_through_the_pages_and_the_contract_ends_signed,
    expired_and_replaced_links_show_40004_and_a_used_link_shows_40005,
    a_signer_rejects_with_a_reason_and_the_contract_is_rejected,
    a_revoked_contract_shows_a_page_saying_so_and_takes_no_posts,
    wrong_sms_codes_count_down_then_lock_the_step,
    a_failed_face_check_shows_the_reason_and_a_retry_can_pass,
    posts_without_the_links_csrf_token_are_refused_and_write_nothing,
    a_signature_that_is_not_a_drawn_png_answers_40001_naming_the_field,
    too_many_requests_answer_429,
    a_referer_outside_the_allow_list_is_refused,
);

const RECEIVER: &str = "RECEIVER_001";
const PAYER: &str = "PAYER_001";
const RECEIVER_MOBILE: &str = "13800138000";
const PAYER_MOBILE: &str = "13900139000";

struct Signing {
    api: SigningClient,
    admin: SigningClient,
    service: RunningService,
}

async fn start(t: &TestStore, configure: impl FnOnce(&mut Config)) -> Signing {
    let service = start_service_with(t, &[CALLER, ADMIN], |config| {
        // No callback receiver here: the outbox is not what these tests look at.
        config.callbacks.enabled = false;
        configure(config);
    })
    .await;
    Signing {
        api: service.client(CALLER),
        admin: service.client(ADMIN),
        service,
    }
}

/// Publishes the template, initiates the two-signer contract and gives each signer a fresh link
/// (re-issued through the API, which answers the URL). Returns the contract id and the two URLs.
async fn contract(signing: &Signing, biz_id: &str) -> (String, String, String) {
    publish_template(&signing.admin, &format!("TPL_{biz_id}")).await;
    let contract_id = initiate_contract(
        &signing.api,
        &format!("TPL_{biz_id}"),
        biz_id,
        "https://auth.example.com/callback/e-sign",
        7,
    )
    .await;
    let receiver = sign_url(signing, &contract_id, RECEIVER).await;
    let payer = sign_url(signing, &contract_id, PAYER).await;
    (contract_id, receiver, payer)
}

async fn sign_url(signing: &Signing, contract_id: &str, party: &str) -> String {
    let (status, body) = json_of(
        signing
            .api
            .post_json(
                &format!("/api/v1/contract/{contract_id}/signers/{party}/sign-url"),
                &serde_json::json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["signUrl"].as_str().unwrap().to_owned()
}

/// A browser without script: keeps the cookies of the service's host, follows redirects (a 303 turns
/// a POST into a GET), and sends forms as `application/x-www-form-urlencoded`.
pub struct Browser {
    pub http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
    base: String,
    referer: Option<String>,
}

pub struct Page {
    pub status: StatusCode,
    pub url: String,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    pub fn has(&self, id: &str) -> bool {
        self.html.contains(&format!("id=\"{id}\""))
    }

    /// The `class` of the element with `id`.
    pub fn class_of(&self, id: &str) -> String {
        let at = self
            .html
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no #{id} in {}", self.html));
        let rest = &self.html[at..];
        let end = rest.find('>').unwrap();
        let tag = &rest[..end];
        tag.split("class=\"")
            .nth(1)
            .and_then(|after| after.split('"').next())
            .unwrap_or_default()
            .to_owned()
    }

    /// The text inside the element with `id` (up to its first child tag).
    pub fn text_of(&self, id: &str) -> String {
        let at = self
            .html
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no #{id} in {}", self.html));
        let rest = &self.html[at..];
        let start = rest.find('>').unwrap() + 1;
        let end = rest[start..].find('<').unwrap();
        rest[start..start + end].to_owned()
    }

    pub fn error_code(&self) -> String {
        self.text_of("error-code")
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        let at = self
            .html
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF field in {}", self.html));
        let rest = &self.html[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    /// The (unescaped) `action` of the form holding the button `id`.
    pub fn action_of(&self, button: &str) -> String {
        let at = self
            .html
            .find(&format!("id=\"{button}\""))
            .unwrap_or_else(|| panic!("no #{button} in {}", self.html));
        let form = self.html[..at].rfind("<form").unwrap();
        let rest = &self.html[form..];
        let action = rest.split("action=\"").nth(1).unwrap();
        action[..action.find('"').unwrap()].replace("&amp;", "&")
    }
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            http: esign::providers::outbound::client_builder(Duration::from_secs(30))
                .user_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) Mobile")
                .build()
                .unwrap(),
            cookies: Mutex::new(BTreeMap::new()),
            base: base.to_owned(),
            referer: None,
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&self, url: &str, headers: &HeaderMap) {
        if !url.starts_with(&self.base) {
            return;
        }
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies
                .lock()
                .unwrap()
                .insert(name.to_owned(), value.to_owned());
        }
    }

    async fn send(&self, mut url: String, mut form: Option<Vec<(String, String)>>) -> Page {
        for _ in 0..6 {
            let mut request = match &form {
                Some(fields) => self.http.post(&url).form(fields),
                None => self.http.get(&url),
            };
            if url.starts_with(&self.base) {
                request = request.header("cookie", self.cookie_header());
                if let Some(referer) = &self.referer {
                    request = request.header("referer", referer);
                }
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            self.keep_cookies(&url, &headers);
            if status.is_redirection() {
                let location = headers[LOCATION].to_str().unwrap();
                url = self.absolute(location);
                form = None;
                continue;
            }
            return Page {
                status,
                url,
                headers,
                html: response.text().await.unwrap(),
            };
        }
        panic!("too many redirects");
    }

    pub async fn open(&self, url: &str) -> Page {
        self.send(self.absolute(url), None).await
    }

    /// Submits the form of `button` on `page` with its CSRF token and `fields`.
    pub async fn submit(&self, page: &Page, button: &str, fields: &[(&str, &str)]) -> Page {
        let mut form = vec![("csrf".to_owned(), page.csrf())];
        form.extend(
            fields
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        self.send(self.absolute(&page.action_of(button)), Some(form))
            .await
    }

    /// Posts `body` as JSON to `url` with the service's cookies, as the page's script does: the
    /// status and the JSON answer.
    pub async fn post_json(&self, url: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.absolute(url))
            .header("cookie", self.cookie_header())
            .json(body)
            .send()
            .await
            .unwrap();
        json_of(response).await
    }

    /// Posts to `path` without following anything: the raw answer.
    pub async fn post_raw(
        &self,
        url: &str,
        form: &[(&str, &str)],
        cookies: bool,
    ) -> reqwest::Response {
        let mut request = self.http.post(self.absolute(url)).form(form);
        if cookies {
            request = request.header("cookie", self.cookie_header());
        }
        request.send().await.unwrap()
    }
}

/// A 300 x 120 RGBA PNG with a diagonal stroke: what a signature pad exports.
pub fn signature_png() -> Vec<u8> {
    let (width, height) = (300u32, 120u32);
    let mut data = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height {
        for x in 0..width {
            let ink = (x / 2..x / 2 + 3).contains(&(y * 2)) || (x + y) % 97 == 0;
            data.extend_from_slice(if ink {
                &[20, 20, 20, 255]
            } else {
                &[0, 0, 0, 0]
            });
        }
    }
    crate::helpers::rgba_png(width, height, &data)
}

pub fn data_url(bytes: &[u8]) -> String {
    use base64::Engine;
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The latest development SMS to `mobile`, and the six-digit code in it.
fn latest_code(signing: &Signing, mobile: &str) -> String {
    let sent = signing
        .service
        .state
        .development_sms
        .as_ref()
        .expect("the development SMS sender")
        .sent_to(mobile);
    let text = &sent.last().expect("a code was texted").text;
    let digits: Vec<char> = text.chars().collect();
    digits
        .windows(6)
        .find(|window| window.iter().all(char::is_ascii_digit))
        .map(|window| window.iter().collect())
        .unwrap_or_else(|| panic!("no code in {text}"))
}

/// Posts the sandbox capture page's form like a browser: from the face step to the provider's page,
/// the chosen outcome, and back through esign's return route to the signing page.
pub async fn face_check(browser: &Browser, page: &Page, outcome: &str) -> Page {
    let start = browser
        .post_raw(
            &page.action_of("face-start"),
            &[("csrf", &page.csrf())],
            true,
        )
        .await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let capture = start.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(capture.contains("/capture/"), "{capture}");
    let shown = browser.http.get(&capture).send().await.unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    assert!(shown.text().await.unwrap().contains("name=\"outcome\""));
    let chosen = browser
        .http
        .post(&capture)
        .form(&[("outcome", outcome), ("score", "0.95")])
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    let back = chosen.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(back.contains("/h5/sign/face-return?token="), "{back}");
    browser.open(&back).await
}

/// SMS then face then signature, for the signer whose page `url` is.
async fn sign_through_pages(signing: &Signing, browser: &Browser, url: &str, mobile: &str) -> Page {
    let page = browser.open(url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.class_of("step-sms").contains("current"));
    let page = browser.submit(&page, "sms-send", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.text_of("sms-status").contains("验证码已发送"));
    let code = latest_code(signing, mobile);
    let page = browser
        .submit(&page, "sms-verify", &[("code", &code)])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.class_of("step-sms").contains("done"));
    assert!(page.class_of("step-face").contains("current"));
    let page = face_check(browser, &page, "PASS").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.url.contains("/h5/sign?token="));
    assert!(page.class_of("step-face").contains("done"), "{}", page.html);
    assert!(page.class_of("step-sign").contains("current"));
    assert!(page.html.contains("<canvas id=\"signature-pad\""));
    for id in [
        "signature-clear",
        "signature-submit",
        "confirm-dialog",
        "confirm-yes",
        "confirm-no",
    ] {
        assert!(page.has(id), "#{id} missing");
    }
    let done = browser
        .submit(
            &page,
            "signature-data",
            &[("signature", &data_url(&signature_png()))],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.html);
    assert!(done.has("done"), "{}", done.html);
    done
}

async fn stream_events(signing: &Signing, contract_id: &str) -> Vec<esign::store::RecordedEvent> {
    signing
        .service
        .state
        .store
        .read_stream(&StreamId::new("contract", contract_id), 0)
        .await
        .unwrap()
}

async fn contract_status(signing: &Signing, contract_id: &str) -> Value {
    let (status, body) = json_of(
        signing
            .api
            .get(&format!("/api/v1/contract/{contract_id}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Proves the whole journey: the second signer waits until the first signed; each passes SMS (code
/// from the development sender) and face (the sandbox's page, result pulled on return), draws a
/// signature, and the contract ends SIGNED with each PNG sealed in its `SignerSigned` event.
async fn two_signers_sign_in_order_through_the_pages_and_the_contract_ends_signed(t: TestStore) {
    let signing = start(&t, |_| {}).await;
    let (contract_id, receiver_url, payer_url) = contract(&signing, "H5_JOURNEY").await;

    let payer = Browser::new(&signing.service.base);
    let waiting = payer.open(&payer_url).await;
    assert_eq!(waiting.status, StatusCode::OK, "{}", waiting.html);
    assert!(waiting.has("waiting"));
    assert!(waiting.html.contains("等待前序签署方完成签署"));
    assert!(!waiting.has("step-sms") && !waiting.has("step-sign"));
    assert_eq!(waiting.text_of("signer-name"), "李四");
    assert!(
        waiting
            .text_of("contract-title")
            .contains("天财分账资金归集授权协议")
    );
    assert!(waiting.html.contains("id=\"contract-body\""));
    assert!(
        waiting.html.contains("sandbox=\"\""),
        "the contract is isolated"
    );
    assert!(
        waiting.html.contains("XX品牌总部"),
        "the variables are rendered"
    );
    // Steps of a waiting signer are refused by the server too.
    let early = payer.submit(&waiting, "reject-submit", &[]).await;
    assert_eq!(
        early.status,
        StatusCode::BAD_REQUEST,
        "a rejection needs a reason"
    );

    let receiver = Browser::new(&signing.service.base);
    let done = sign_through_pages(&signing, &receiver, &receiver_url, RECEIVER_MOBILE).await;
    assert!(done.html.contains("其他签署方"), "{}", done.html);
    assert_eq!(
        contract_status(&signing, &contract_id).await["status"],
        "PARTIAL_SIGNED"
    );

    let done = sign_through_pages(&signing, &payer, &payer_url, PAYER_MOBILE).await;
    assert!(done.html.contains("协议已生效"), "{}", done.html);
    let shown = contract_status(&signing, &contract_id).await;
    assert_eq!(shown["status"], "SIGNED", "{shown}");

    // The image is in the event, sealed, and its hash is the SHA-256 of the PNG.
    let png = signature_png();
    let events = stream_events(&signing, &contract_id).await;
    let signed: Vec<_> = events
        .iter()
        .filter(|event| event.event_type == "SignerSigned")
        .collect();
    assert_eq!(signed.len(), 2);
    for event in signed {
        let payload = event.payload.as_value();
        let sealed = &payload["signatureImage"]["$pii"];
        assert!(sealed.is_object(), "sealed, not plain: {payload}");
        let opened = signing.service.state.pii.open_text(sealed).unwrap();
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(opened)
            .unwrap();
        assert_eq!(bytes, png);
        assert_eq!(
            payload["signatureImageHash"],
            hex::encode(sha2::Sha256::digest(&png))
        );
        assert!(event.metadata.actor.starts_with("signer:"));
        assert!(
            event
                .metadata
                .user_agent
                .as_deref()
                .is_some_and(|agent| agent.contains("iPhone"))
        );
    }
    // Every view was recorded with the IP address and user agent.
    let opened = events
        .iter()
        .filter(|event| event.event_type == "SignLinkOpened")
        .collect::<Vec<_>>();
    assert!(opened.len() >= 4, "{}", opened.len());
    assert!(opened.iter().all(|event| {
        event.payload.as_value()["ipAddress"] == "127.0.0.1"
            && event.payload.as_value()["userAgent"]
                .as_str()
                .is_some_and(|agent| agent.contains("iPhone"))
    }));
    // The sealing sweep writes to the contract after the last signature; the check compares the log
    // with the live tables at two moments, so it runs once that write has landed.
    crate::sealing::seal_now(&signing.service.state, &contract_id).await;
    let report =
        esign::read::rebuild::check(&signing.service.state.store, &signing.service.state.pii)
            .await
            .unwrap();
    assert!(report.matches(), "the rebuilt tables differ: {report:?}");
}

/// Issues a link through the pipeline with `now` in the past, so it is already past its deadline;
/// returns its token.
async fn issue_expired_link(signing: &Signing, contract_id: &str, party: &str) -> String {
    let token = format!("expired-token-{}", uuid::Uuid::new_v4().simple());
    let hash = Digest::parse(&hex::encode(sha2::Sha256::digest(token.as_bytes()))).unwrap();
    let link = NewSignLink {
        link_id: LinkId::parse(&uuid::Uuid::new_v4().simple().to_string()).unwrap(),
        token_hash: hash,
    };
    signing
        .service
        .state
        .pipeline
        .execute::<ContractAggregate>(
            &StreamId::new(ContractAggregate::NAME, contract_id),
            &EventMetadata {
                actor: "client:auth".into(),
                ..Default::default()
            },
            |_| {
                ContractCommand::IssueSignLink(IssueSignLink {
                    party_id: PartyId::parse(party).unwrap(),
                    link: link.clone(),
                    ttl: Some(LinkTtl::parse_minutes(30).unwrap()),
                    defaults: aggregates::values::LinkLifetimes::default(),
                    now: Utc::now() - TimeDelta::hours(3),
                })
            },
        )
        .await
        .unwrap();
    token
}

async fn expired_and_replaced_links_show_40004_and_a_used_link_shows_40005(t: TestStore) {
    let signing = start(&t, |_| {}).await;
    let (contract_id, receiver_url, _) = contract(&signing, "H5_LINKS").await;
    let browser = Browser::new(&signing.service.base);

    // Replaced: a new link for the receiver kills the previous one.
    let newer = sign_url(&signing, &contract_id, RECEIVER).await;
    let replaced = browser.open(&receiver_url).await;
    assert_eq!(replaced.status, StatusCode::GONE, "{}", replaced.html);
    assert_eq!(replaced.error_code(), "40004");
    assert!(
        replaced
            .text_of("error-message")
            .contains("签署链接已过期，请重新获取")
    );
    assert!(
        replaced.html.contains("联系协议发起方"),
        "how to get a new link"
    );

    // Unknown: 404.
    let unknown = browser.open("/h5/sign?token=nobody-has-this-token").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error_code(), "40400");
    let missing = browser.open("/h5/sign").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Expired: past its own deadline.
    let expired_token = issue_expired_link(&signing, &contract_id, RECEIVER).await;
    let expired = browser
        .open(&format!("/h5/sign?token={expired_token}"))
        .await;
    assert_eq!(expired.status, StatusCode::GONE, "{}", expired.html);
    assert_eq!(expired.error_code(), "40004");
    let before = stream_events(&signing, &contract_id).await.len();
    assert_eq!(
        browser
            .open(&format!("/h5/sign?token={expired_token}"))
            .await
            .status,
        StatusCode::GONE
    );
    assert_eq!(
        stream_events(&signing, &contract_id).await.len(),
        before,
        "a dead link's visit writes nothing"
    );

    // Used: after signing, the link answers 40005.
    let newest = sign_url(&signing, &contract_id, RECEIVER).await;
    let _ = newer;
    sign_through_pages(&signing, &browser, &newest, RECEIVER_MOBILE).await;
    let used = browser.open(&newest).await;
    assert_eq!(used.status, StatusCode::CONFLICT, "{}", used.html);
    assert_eq!(used.error_code(), "40005");
    assert_eq!(used.text_of("error-message"), "您已签署过该协议");
}

async fn a_signer_rejects_with_a_reason_and_the_contract_is_rejected(t: TestStore) {
    let signing = start(&t, |_| {}).await;
    let (contract_id, receiver_url, payer_url) = contract(&signing, "H5_REJECT").await;
    let browser = Browser::new(&signing.service.base);
    let page = browser.open(&receiver_url).await;
    for id in ["reject-open", "reject-reason", "reject-submit"] {
        assert!(page.has(id), "#{id} missing");
    }
    let blank = browser
        .submit(&page, "reject-submit", &[("reason", "  ")])
        .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert_eq!(blank.error_code(), "40001");
    assert!(blank.html.contains("reason"), "{}", blank.html);
    let rejected = browser
        .submit(&page, "reject-submit", &[("reason", "<b>条款不同意</b>")])
        .await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.html);
    assert!(rejected.has("rejected"));
    assert!(
        rejected.html.contains("&lt;b&gt;条款不同意"),
        "the reason is escaped"
    );
    let shown = contract_status(&signing, &contract_id).await;
    assert_eq!(shown["status"], "REJECTED", "{shown}");

    let again = browser.open(&receiver_url).await;
    assert_eq!(again.error_code(), "40005");
    let other = Browser::new(&signing.service.base).open(&payer_url).await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    assert!(other.text_of("error-message").contains("其他签署方拒签"));
}

async fn wrong_sms_codes_count_down_then_lock_the_step(t: TestStore) {
    let signing = start(&t, |_| {}).await;
    let (contract_id, receiver_url, _) = contract(&signing, "H5_SMS_LOCK").await;
    let browser = Browser::new(&signing.service.base);
    let page = browser.open(&receiver_url).await;
    let mut page = browser.submit(&page, "sms-send", &[]).await;
    let right = latest_code(&signing, RECEIVER_MOBILE);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let max = signing
        .service
        .state
        .config
        .sms
        .code_policy()
        .max_failed_attempts;
    for attempt in 1..max {
        page = browser
            .submit(&page, "sms-verify", &[("code", wrong)])
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(
            page.text_of("sms-status")
                .contains(&format!("还可尝试 {} 次", max - attempt)),
            "{}",
            page.text_of("sms-status")
        );
    }
    page = browser
        .submit(&page, "sms-verify", &[("code", wrong)])
        .await;
    assert!(
        page.text_of("sms-status").contains("已锁定"),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("id=\"sms-send\" type=\"submit\" disabled")
    );
    // Even the right code no longer passes.
    let csrf = page.csrf();
    let late = browser
        .post_raw(
            &receiver_url.replace("/h5/sign?", "/h5/sign/sms/verify?"),
            &[("csrf", &csrf), ("code", &right)],
            true,
        )
        .await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    let events = stream_events(&signing, &contract_id).await;
    assert!(
        !events
            .iter()
            .any(|event| event.event_type == "SmsCodeVerified")
    );
    assert_eq!(
        events
            .iter()
            .filter(|event| event.event_type == "SmsCodeFailed")
            .count() as u32,
        max
    );
}

async fn a_failed_face_check_shows_the_reason_and_a_retry_can_pass(t: TestStore) {
    let signing = start(&t, |_| {}).await;
    let (contract_id, receiver_url, _) = contract(&signing, "H5_FACE_RETRY").await;
    let browser = Browser::new(&signing.service.base);
    let page = browser.open(&receiver_url).await;
    let page = browser.submit(&page, "sms-send", &[]).await;
    let code = latest_code(&signing, RECEIVER_MOBILE);
    let page = browser
        .submit(&page, "sms-verify", &[("code", &code)])
        .await;

    let failed = face_check(&browser, &page, "FACE_MISMATCH").await;
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.html);
    assert!(failed.class_of("step-face").contains("current"));
    assert!(
        failed.text_of("face-status").contains("人脸比对不一致"),
        "{}",
        failed.text_of("face-status")
    );
    assert!(failed.html.contains("重新核验"));
    assert!(!failed.html.contains("id=\"signature-pad\""));
    assert!(
        !stream_events(&signing, &contract_id)
            .await
            .iter()
            .any(|event| event.event_type == "SignerFaceVerified")
    );

    let passed = face_check(&browser, &failed, "PASS").await;
    assert!(
        passed.class_of("step-face").contains("done"),
        "{}",
        passed.html
    );
    assert!(passed.html.contains("id=\"signature-pad\""));
    // Two verifications, both owned by the contract's client, with attempt-numbered business ids.
    let rows = esign::store::query_tables::select(
        &signing.service.state.store,
        projections::Table::FaceVerification,
        "client_id = {1}",
        &["auth"],
        Some("created_at"),
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].text("biz_id").unwrap().ends_with("-1"));
    assert!(rows[1].text("biz_id").unwrap().ends_with("-2"));
    assert_eq!(rows[0].text("status"), Some("FAILED"));
    assert_eq!(rows[1].text("status"), Some("SUCCESS"));
}

async fn posts_without_the_links_csrf_token_are_refused_and_write_nothing(t: TestStore) {
    let signing = start(&t, |_| {}).await;
    let (contract_id, receiver_url, payer_url) = contract(&signing, "H5_CSRF").await;
    let browser = Browser::new(&signing.service.base);
    let page = browser.open(&receiver_url).await;
    let csrf = page.csrf();
    let send = page.action_of("sms-send");
    let before = stream_events(&signing, &contract_id).await.len();

    // No cookie (a cross-site form), a wrong field, and another link's valid token.
    let no_cookie = browser.post_raw(&send, &[("csrf", &csrf)], false).await;
    assert_eq!(no_cookie.status(), StatusCode::FORBIDDEN);
    assert!(
        no_cookie
            .text()
            .await
            .unwrap()
            .contains("id=\"error-code\">40300<")
    );
    let wrong = browser
        .post_raw(&send, &[("csrf", "0123.abcd")], true)
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let missing = browser.post_raw(&send, &[], true).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let other = Browser::new(&signing.service.base);
    let other_page = other.open(&payer_url).await;
    let foreign = browser
        .post_raw(&send, &[("csrf", &other_page.csrf())], true)
        .await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let reject = browser
        .post_raw(
            &page.action_of("reject-submit"),
            &[("csrf", "forged"), ("reason", "x")],
            true,
        )
        .await;
    assert_eq!(reject.status(), StatusCode::FORBIDDEN);

    // The other signer's page view wrote one event; nothing else was written.
    let after = stream_events(&signing, &contract_id).await;
    assert_eq!(after.len(), before + 1);
    assert_eq!(after.last().unwrap().event_type, "SignLinkOpened");
    assert!(
        signing
            .service
            .state
            .development_sms
            .as_ref()
            .unwrap()
            .sent_to(RECEIVER_MOBILE)
            .iter()
            .all(|text| text.purpose != "SIGNING_CODE"),
        "no code was sent"
    );
    // With the page's own token the same post goes through.
    let sent = browser.submit(&page, "sms-send", &[]).await;
    assert_eq!(sent.status, StatusCode::OK);
    assert!(sent.text_of("sms-status").contains("验证码已发送"));
    assert!(
        sent.html
            .contains("id=\"sms-send\" type=\"submit\" disabled data-wait="),
        "the resend button waits out the cool-down"
    );
}

async fn a_signature_that_is_not_a_drawn_png_answers_40001_naming_the_field(t: TestStore) {
    let signing = start(&t, |_| {}).await;
    let (contract_id, receiver_url, _) = contract(&signing, "H5_PNG").await;
    let browser = Browser::new(&signing.service.base);
    let page = browser.open(&receiver_url).await;
    let page = browser.submit(&page, "sms-send", &[]).await;
    let code = latest_code(&signing, RECEIVER_MOBILE);
    let page = browser
        .submit(&page, "sms-verify", &[("code", &code)])
        .await;
    let page = face_check(&browser, &page, "PASS").await;
    let blank = {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, 300, 120);
        encoder.set_color(png::ColorType::Rgba);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&vec![0; 300 * 120 * 4]).unwrap();
        drop(writer);
        out
    };
    let before = stream_events(&signing, &contract_id).await.len();
    for bad in [
        data_url(&blank),
        "data:image/jpeg;base64,/9j/4AAQ".to_owned(),
        data_url(b"\x89PNG\r\n\x1a\nnot really"),
        data_url(&vec![0x89; 300 * 1024]),
        String::new(),
    ] {
        let refused = browser
            .submit(&page, "signature-data", &[("signature", &bad)])
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert_eq!(refused.error_code(), "40001");
        assert!(refused.html.contains("signature"));
    }
    assert_eq!(stream_events(&signing, &contract_id).await.len(), before);
}

async fn too_many_requests_answer_429(t: TestStore) {
    let signing = start(&t, |config| {
        config.h5.requests_per_minute_per_link = 4;
        config.h5.sms_per_hour_per_link = 1;
    })
    .await;
    let (contract_id, receiver_url, _) = contract(&signing, "H5_LIMITS").await;
    let browser = Browser::new(&signing.service.base);
    let page = browser.open(&receiver_url).await;
    let sent = browser.submit(&page, "sms-send", &[]).await;
    assert_eq!(sent.status, StatusCode::OK);
    // A second code on the link within the hour: refused before the contract is asked.
    let again = browser.submit(&sent, "sms-send", &[]).await;
    assert_eq!(
        again.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        again.html
    );
    assert_eq!(again.error_code(), "42900");
    // Four requests on the link so far (view, send + its page, refused send): the next is refused.
    let before = stream_events(&signing, &contract_id).await.len();
    let limited = browser.open(&receiver_url).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        stream_events(&signing, &contract_id).await.len(),
        before,
        "a refused view is not recorded"
    );
}

async fn a_referer_outside_the_allow_list_is_refused(t: TestStore) {
    let signing = start(&t, |config| {
        config.h5.referer_allowlist = vec!["https://app.example.com".into()];
    })
    .await;
    let (_, receiver_url, _) = contract(&signing, "H5_REFERER").await;
    let mut browser = Browser::new(&signing.service.base);
    browser.referer = Some("https://phishing.example.net/page".into());
    let refused = browser.open(&receiver_url).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error_code(), "40300");
    browser.referer = Some("https://app.example.com/orders/1".into());
    let allowed = browser.open(&receiver_url).await;
    assert_eq!(allowed.status, StatusCode::OK);
    browser.referer = None;
    let direct = browser.open(&receiver_url).await;
    assert_eq!(direct.status, StatusCode::OK);

    // Every H5 response carries the security headers.
    for page in [&refused, &allowed] {
        let header = |name: &str| {
            page.headers
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert!(header("content-security-policy").contains("default-src 'self'"));
        assert!(header("content-security-policy").contains("frame-ancestors 'none'"));
        assert!(!header("content-security-policy").contains("http"));
        assert_eq!(header("x-frame-options"), "DENY");
        assert_eq!(header("referrer-policy"), "no-referrer");
        assert_eq!(header("cache-control"), "no-store");
        assert_eq!(header("x-content-type-options"), "nosniff");
    }
    let cookie = allowed.headers[SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let script = browser.open("/h5/assets/sign.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.html.contains("signature-pad"));
}

async fn a_revoked_contract_shows_a_page_saying_so_and_takes_no_posts(t: TestStore) {
    let signing = start(&t, |_| {}).await;
    let (contract_id, receiver_url, _) = contract(&signing, "H5_REVOKED").await;
    let browser = Browser::new(&signing.service.base);
    let page = browser.open(&receiver_url).await;
    assert_eq!(page.status, StatusCode::OK);
    let (status, body) = json_of(
        signing
            .api
            .post_json(
                &format!("/api/v1/contract/{contract_id}/revoke"),
                &serde_json::json!({"reason": "用户要求取消", "operator": "ops"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let revoked = browser.open(&receiver_url).await;
    assert_eq!(revoked.status, StatusCode::CONFLICT);
    assert!(revoked.text_of("error-message").contains("已被发起方撤销"));
    let before = stream_events(&signing, &contract_id).await.len();
    let send = browser.submit(&page, "sms-send", &[]).await;
    assert_eq!(send.status, StatusCode::CONFLICT);
    assert_eq!(stream_events(&signing, &contract_id).await.len(), before);
}
