//! Signing invitations by SMS (spec 4.1.2 step 2), configurable sign-link lifetimes (spec 4.2.3) and a
//! new face verification link, black box over HTTP on both backends: the development sender read
//! through `GET /dev/sms`, the message-centre sender against a local receiver that fails first, the
//! short link in the text followed to the signer's sign URL, and the contract's audit trail.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, CALLER, OTHER, RunningService, TestStore, json_of, start_service_with,
};
use crate::signing_client::SigningClient;
use crate::sms::{message_centre, ok, receiver, status};

crate::backend_tests!(
    a_first_sequence_sms_signer_is_texted_a_working_short_link_and_an_h5_signer_never,
    the_next_sequence_is_texted_only_once_the_sequence_before_it_has_signed,
    a_new_link_for_an_sms_signer_on_their_turn_is_texted_again,
    a_failed_invitation_is_retried_through_the_message_centre_until_sent,
    an_invitation_left_unsent_by_a_crash_is_sent_by_the_sweep,
    link_lifetimes_come_from_the_configuration_or_the_signer_within_bounds,
    a_lost_face_verification_link_is_replaced_and_the_old_one_refused,
);

const RECEIVER_MOBILE: &str = "13800138000";
const PAYER_MOBILE: &str = "13900139000";
const PUBLIC: &str = "https://esign.test";

struct Api {
    caller: SigningClient,
    other: SigningClient,
    service: RunningService,
}

async fn start(t: &TestStore, configure: impl FnOnce(&mut esign::app::config::Config)) -> Api {
    let service = start_service_with(t, &[CALLER, OTHER, ADMIN], |config| {
        config.server.public_base_url = PUBLIC.into();
        configure(config);
    })
    .await;
    crate::journey::publish_template(&service.client(ADMIN), "TPL_INVITE").await;
    Api {
        caller: service.client(CALLER),
        other: service.client(OTHER),
        service,
    }
}

/// The two-signer fixture with each signer's `notifyType` as given.
fn signers(receiver: &str, payer: &str) -> Value {
    let mut signers = esign_tools::fixtures::two_signers();
    signers[0]["notifyType"] = json!(receiver);
    signers[1]["notifyType"] = json!(payer);
    signers
}

async fn initiate(api: &Api, biz_id: &str, signers: Value) -> Value {
    let (status, body) = json_of(
        api.caller
            .post_json(
                "/api/v1/contract/initiate",
                &json!({
                    "bizId": biz_id,
                    "bizType": "RELATIONSHIP_AGREEMENT",
                    "templateId": "TPL_INVITE",
                    "title": "天财分账资金归集授权协议",
                    "variables": {"payerName": "XX品牌总部"},
                    "signers": signers,
                    "callbackUrl": "https://auth.example.com/cb"
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn sign_url_of(created: &Value, party: &str) -> String {
    created["signTasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|task| task["partyId"] == party)
        .unwrap()["signUrl"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The texts `GET /dev/sms` shows for `mobile`, oldest first.
async fn texts(api: &Api, mobile: &str) -> Vec<Value> {
    let http = esign::providers::outbound::client(Duration::from_secs(10)).unwrap();
    let listed: Value = http
        .get(format!("{}/dev/sms?mobile={mobile}", api.service.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed["messages"].as_array().unwrap().clone()
}

/// Polls `GET /dev/sms` until `mobile` has `count` invitations, for up to 20 seconds.
async fn invitations(api: &Api, mobile: &str, count: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found: Vec<String> = texts(api, mobile)
            .await
            .iter()
            .filter(|text| text["purpose"] == "SIGNING_INVITATION")
            .map(|text| text["text"].as_str().unwrap().to_owned())
            .collect();
        if found.len() >= count {
            assert_eq!(found.len(), count, "no more invitations than expected");
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{mobile} has {} invitations after 20 s, not {count}",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The short code in an invitation's text.
fn code_in(text: &str) -> String {
    let start = text
        .find(&format!("{PUBLIC}/s/"))
        .unwrap_or_else(|| panic!("no short link in {text}"))
        + PUBLIC.len()
        + 3;
    text[start..start + 10].to_owned()
}

/// Where the short code leads (its redirect's `Location`).
async fn follow(api: &Api, code: &str) -> String {
    let no_redirects = esign::providers::outbound::client_builder(Duration::from_secs(10))
        .build()
        .unwrap();
    let response = no_redirects
        .get(format!("{}/s/{code}", api.service.base))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The contract's audit trail as text, and its event types in order, once `wanted` is among them
/// (the outcome is recorded after the text leaves).
async fn trail_with(api: &Api, contract_id: &str, wanted: &str) -> (String, Vec<String>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, trail) = json_of(
            api.caller
                .get(&format!("/api/v1/contract/{contract_id}/events"))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{trail}");
        let types: Vec<String> = trail["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["eventType"].as_str().unwrap().to_owned())
            .collect();
        if types.iter().any(|kind| kind == wanted) {
            return (trail.to_string(), types);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {wanted} after 20 s: {types:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn token_of(sign_url: &str) -> &str {
    sign_url.rsplit_once("token=").unwrap().1
}

/// Spec 4.1.2 step 2: at initiation the first signer, notified by SMS, is texted a short link that
/// leads to their own sign URL; the H5 signer is never texted; the audit trail shows the invitation
/// and holds neither the token nor the code.
async fn a_first_sequence_sms_signer_is_texted_a_working_short_link_and_an_h5_signer_never(
    t: TestStore,
) {
    let api = start(&t, |_| {}).await;
    let created = initiate(&api, "INVITE_1", signers("SMS", "H5_LINK")).await;
    let contract_id = created["contractId"].as_str().unwrap();
    let texts_received = invitations(&api, RECEIVER_MOBILE, 1).await;
    assert!(
        texts_received[0].contains("《天财分账资金归集授权协议》"),
        "{}",
        texts_received[0]
    );
    let code = code_in(&texts_received[0]);
    let sign_url = sign_url_of(&created, "RECEIVER_001");
    assert_eq!(follow(&api, &code).await, sign_url);

    let (trail, types) = trail_with(&api, contract_id, "SmsInvitationSent").await;
    let requested = types
        .iter()
        .position(|kind| kind == "SmsInvitationRequested")
        .expect("the invitation was requested");
    let sent = types
        .iter()
        .position(|kind| kind == "SmsInvitationSent")
        .unwrap();
    assert!(requested < sent, "{types:?}");
    assert_eq!(
        types
            .iter()
            .filter(|kind| kind.starts_with("SmsInvitation"))
            .count(),
        2,
        "one invitation, sent once: {types:?}"
    );
    assert!(trail.contains("RECEIVER_001"));
    assert!(!trail.contains(token_of(&sign_url)), "the token stays out");
    assert!(!trail.contains(&code), "the short code stays out");
    assert!(
        !trail.contains(RECEIVER_MOBILE),
        "the mobile number is masked"
    );
    // The H5 signer waits for their turn and is never texted anyway.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(texts(&api, PAYER_MOBILE).await.is_empty());
}

/// Sequence 2 (notified by SMS) is texted when sequence 1 has signed, not before.
async fn the_next_sequence_is_texted_only_once_the_sequence_before_it_has_signed(t: TestStore) {
    let api = start(&t, |_| {}).await;
    let created = initiate(&api, "INVITE_2", signers("H5_LINK", "SMS")).await;
    let contract_id = created["contractId"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        texts(&api, PAYER_MOBILE).await.is_empty(),
        "not their turn yet"
    );
    assert!(
        texts(&api, RECEIVER_MOBILE)
            .await
            .iter()
            .all(|text| text["purpose"] != "SIGNING_INVITATION"),
        "an H5 signer is never invited"
    );

    crate::journey::sign_as(&api.service.state, contract_id, "RECEIVER_001").await;
    let texts_received = invitations(&api, PAYER_MOBILE, 1).await;
    let code = code_in(&texts_received[0]);
    assert_eq!(
        follow(&api, &code).await,
        sign_url_of(&created, "PAYER_001")
    );
    let (_, types) = trail_with(&api, contract_id, "SmsInvitationSent").await;
    let signed = types
        .iter()
        .position(|kind| kind == "SignerSigned")
        .unwrap();
    let requested = types
        .iter()
        .position(|kind| kind == "SmsInvitationRequested")
        .unwrap();
    assert!(signed < requested, "{types:?}");
}

/// A new link for an SMS signer whose turn it is goes out by text too; a new link for a signer
/// whose turn has not come does not.
async fn a_new_link_for_an_sms_signer_on_their_turn_is_texted_again(t: TestStore) {
    let api = start(&t, |_| {}).await;
    let created = initiate(&api, "INVITE_3", signers("SMS", "SMS")).await;
    let contract_id = created["contractId"].as_str().unwrap();
    let first = invitations(&api, RECEIVER_MOBILE, 1).await;
    let (status, reissued) = json_of(
        api.caller
            .post_json(
                &format!("/api/v1/contract/{contract_id}/signers/RECEIVER_001/sign-url"),
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reissued}");
    let both = invitations(&api, RECEIVER_MOBILE, 2).await;
    assert_eq!(both[0], first[0]);
    let new_url = reissued["signUrl"].as_str().unwrap();
    assert_ne!(new_url, sign_url_of(&created, "RECEIVER_001"));
    assert_eq!(follow(&api, &code_in(&both[1])).await, new_url);

    let (status, waiting) = json_of(
        api.caller
            .post_json(
                &format!("/api/v1/contract/{contract_id}/signers/PAYER_001/sign-url"),
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{waiting}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        texts(&api, PAYER_MOBILE).await.is_empty(),
        "not their turn yet"
    );
}

/// The message centre is unavailable for the first attempt: the failure is recorded as retryable,
/// the sweep sends again once the delay has passed, and the audit trail shows each step.
async fn a_failed_invitation_is_retried_through_the_message_centre_until_sent(t: TestStore) {
    let receiver = receiver(vec![status(503), ok("MC-INVITE-7")]).await;
    let sms = message_centre(&receiver);
    let api = start(&t, move |config| {
        config.sms = esign::providers::sms::SmsConfig {
            notice_retry_base_seconds: 1,
            sweep_interval_ms: 100,
            ..sms
        };
    })
    .await;
    let created = initiate(&api, "INVITE_4", signers("SMS", "H5_LINK")).await;
    let contract_id = created["contractId"].as_str().unwrap();
    let (trail, types) = trail_with(&api, contract_id, "SmsInvitationSent").await;
    let invitation_steps: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|kind| kind.starts_with("SmsInvitation"))
        .collect();
    assert_eq!(
        invitation_steps,
        vec![
            "SmsInvitationRequested",
            "SmsInvitationFailed",
            "SmsInvitationAttemptStarted",
            "SmsInvitationSent"
        ]
    );
    assert!(trail.contains("MC-INVITE-7"));
    assert!(trail.contains("503"));
    let received = receiver.received();
    assert_eq!(received.len(), 2, "one retry, no duplicate");
    for request in &received {
        assert_eq!(request.headers["x-api-key"], "mc-token-123");
        assert_eq!(request.body["mobile"], RECEIVER_MOBILE);
        assert_eq!(request.body["purpose"], "SIGNING_INVITATION");
        let content = request.body["content"].as_str().unwrap();
        assert!(
            !trail.contains(&code_in(content)),
            "the code stays out of the log"
        );
    }
    // The text that went through leads to the signer's sign URL.
    let delivered = received[1].body["content"].as_str().unwrap();
    assert_eq!(
        follow(&api, &code_in(delivered)).await,
        sign_url_of(&created, "RECEIVER_001")
    );
    assert!(!trail.contains(token_of(&sign_url_of(&created, "RECEIVER_001"))));
}

/// A crash right after the commit that requested an invitation leaves it REQUESTED with no outcome;
/// once the attempt's lease is over, the sweep (on any instance) makes the next attempt, and the text
/// carries a link to the signer's live sign URL.
async fn an_invitation_left_unsent_by_a_crash_is_sent_by_the_sweep(t: TestStore) {
    use aggregates::contract::{ContractAggregate, ContractCommand, IssueSignLink, NewSignLink};
    use aggregates::values::{Digest, LinkId, LinkLifetimes, PartyId};
    use sha2::Digest as _;
    let api = start(&t, |config| {
        config.sms.attempt_lease_seconds = 1;
        config.sms.timeout_ms = 500;
        config.sms.sweep_interval_ms = 100;
    })
    .await;
    let created = initiate(&api, "INVITE_CRASH", signers("SMS", "H5_LINK")).await;
    let contract_id = created["contractId"].as_str().unwrap();
    invitations(&api, RECEIVER_MOBILE, 1).await;
    // A new link's transaction, as the re-issue use case writes it (events and short link), and
    // then no send: what a crash right after the commit leaves.
    let state = &api.service.state;
    let token = "crash-left-this-token-unsent-0123456789abcdef";
    let target = format!("{PUBLIC}/h5/sign?token={token}");
    let executed = state
        .pipeline
        .execute::<ContractAggregate>(
            &esign::store::StreamId::new("contract", contract_id),
            &esign::app::system_metadata("test"),
            |_| {
                ContractCommand::IssueSignLink(IssueSignLink {
                    party_id: PartyId::parse("RECEIVER_001").unwrap(),
                    link: NewSignLink {
                        link_id: LinkId::parse("crashlink").unwrap(),
                        token_hash: Digest::parse(&hex::encode(sha2::Sha256::digest(token)))
                            .unwrap(),
                    },
                    ttl: None,
                    defaults: LinkLifetimes::default(),
                    now: chrono::Utc::now(),
                })
            },
        )
        .await
        .unwrap();
    let expires_at = executed
        .state
        .contract()
        .unwrap()
        .signer(&PartyId::parse("RECEIVER_001").unwrap())
        .unwrap()
        .link()
        .unwrap()
        .expires_at;
    esign::app::short_links::create(
        &state.store,
        &state.pii,
        contract_id,
        "RECEIVER_001",
        &target,
        expires_at,
    )
    .await
    .unwrap();

    let texts_received = invitations(&api, RECEIVER_MOBILE, 2).await;
    assert_eq!(follow(&api, &code_in(&texts_received[1])).await, target);
    let (trail, _) = trail_with(&api, contract_id, "SmsInvitationAttemptStarted").await;
    assert!(trail.contains("\"previousLost\":true"), "{trail}");
    assert!(!trail.contains(token));
}

fn minutes_until(expires_at: &Value) -> i64 {
    let expires_at = chrono::DateTime::parse_from_rfc3339(expires_at.as_str().unwrap()).unwrap();
    (expires_at.to_utc() - chrono::Utc::now()).num_minutes()
}

fn expiry_of(created: &Value, party: &str) -> i64 {
    minutes_until(
        &created["signTasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|task| task["partyId"] == party)
            .unwrap()["expiresAt"],
    )
}

/// Spec 4.2.3: the configured lifetimes for H5 and SMS links, a signer's own `linkExpireMinutes`
/// (kept for their new links), and 40001 naming the field when it is out of bounds.
async fn link_lifetimes_come_from_the_configuration_or_the_signer_within_bounds(t: TestStore) {
    let api = start(&t, |config| {
        config.contracts.h5_link_minutes = 10;
        config.contracts.sms_link_minutes = 120;
    })
    .await;
    let created = initiate(&api, "TTL_1", signers("SMS", "H5_LINK")).await;
    assert!((118..=120).contains(&expiry_of(&created, "RECEIVER_001")));
    assert!((8..=10).contains(&expiry_of(&created, "PAYER_001")));

    let mut own = signers("SMS", "H5_LINK");
    own[1]["linkExpireMinutes"] = json!(45);
    let created = initiate(&api, "TTL_2", own).await;
    assert!((43..=45).contains(&expiry_of(&created, "PAYER_001")));
    let contract_id = created["contractId"].as_str().unwrap();
    let (status, reissued) = json_of(
        api.caller
            .post_json(
                &format!("/api/v1/contract/{contract_id}/signers/PAYER_001/sign-url"),
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reissued}");
    assert!((43..=45).contains(&minutes_until(&reissued["expiresAt"])));

    let mut bad = signers("SMS", "H5_LINK");
    bad[0]["linkExpireMinutes"] = json!(0);
    bad[1]["linkExpireMinutes"] = json!(90 * 24 * 60 + 1);
    let (status, body) = json_of(
        api.caller
            .post_json(
                "/api/v1/contract/initiate",
                &json!({
                    "bizId": "TTL_BAD",
                    "bizType": "RELATIONSHIP_AGREEMENT",
                    "templateId": "TPL_INVITE",
                    "title": "天财分账资金归集授权协议",
                    "variables": {"payerName": "XX品牌总部"},
                    "signers": bad,
                    "callbackUrl": "https://auth.example.com/cb"
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], 40001);
    let fields: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|detail| detail["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec![
            "signers[0].linkExpireMinutes",
            "signers[1].linkExpireMinutes"
        ]
    );
}

/// A caller who lost the face verification's link gets a new one; the old one is refused (40004)
/// on the page, the new one works, another client's verification does not exist, and a closed
/// verification gets no new link.
async fn a_lost_face_verification_link_is_replaced_and_the_old_one_refused(t: TestStore) {
    let api = start(&t, |_| {}).await;
    let (status, created) = json_of(
        api.caller
            .post_json(
                "/api/v1/verification/face/initiate",
                &json!({
                    "bizId": "FACE_RELINK",
                    "bizType": "RELATIONSHIP_BINDING",
                    "userInfo": {"name": "张三", "idCardNo": "11010519491231002X"},
                    "callbackUrl": "https://auth.example.com/callback/face-verification",
                    "expireMinutes": 30
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["verificationId"].as_str().unwrap();
    let old_url = created["verificationUrl"].as_str().unwrap();
    let page = |url: &str| {
        let path = url.strip_prefix(PUBLIC).unwrap().to_owned();
        let base = api.service.base.clone();
        async move {
            esign::providers::outbound::client(Duration::from_secs(10))
                .unwrap()
                .get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(page(old_url).await, StatusCode::OK);

    let path = format!("/api/v1/verification/face/{id}/verification-url");
    let (status, body) = json_of(api.other.post_json(&path, &json!({})).await).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::NOT_FOUND, Some(40400))
    );
    let (status, fresh) = json_of(api.caller.post_json(&path, &json!({})).await).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert_eq!(fresh["verificationId"], id);
    assert_eq!(
        fresh["expiresAt"], created["expiresAt"],
        "the deadline stays"
    );
    let new_url = fresh["verificationUrl"].as_str().unwrap();
    assert_ne!(new_url, old_url);
    assert_eq!(page(old_url).await, StatusCode::GONE);
    assert_eq!(page(new_url).await, StatusCode::OK);
    let (_, trail) = json_of(
        api.caller
            .get(&format!("/api/v1/verification/face/{id}/events"))
            .await,
    )
    .await;
    assert!(trail.to_string().contains("FaceVerificationLinkReissued"));

    // Once the verification is over there is nothing to open: 409.
    use aggregates::face_verification::{
        ExpireVerification, FaceVerificationAggregate, VerificationCommand,
    };
    api.service
        .state
        .pipeline
        .execute::<FaceVerificationAggregate>(
            &esign::store::StreamId::new("verification", id),
            &esign::app::system_metadata("expiry"),
            |_| {
                VerificationCommand::Expire(ExpireVerification {
                    now: chrono::Utc::now() + chrono::TimeDelta::hours(1),
                })
            },
        )
        .await
        .unwrap();
    let (status, body) = json_of(api.caller.post_json(&path, &json!({})).await).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::CONFLICT, Some(40900)),
        "{body}"
    );
}
