//! Callbacks to callers, end to end: the real service writes outbox rows with its commands, a
//! dispatcher delivers them over HTTP to a receiver on a random port that checks every signature.
//! Most tests drive the dispatcher by hand with an injected clock (`run_once(now)`), so retries a day
//! apart take no time; one test lets the service's own dispatcher deliver.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, CALLER, RunningService, TestStore, json_of};
use crate::receiver::{Behaviour, Receiver};
use crate::signing_client::SigningClient;

crate::backend_tests!(
    the_running_service_delivers_a_status_change_signed_with_the_callers_headers,
    a_failing_receiver_gets_the_same_event_until_it_answers_2xx_and_every_attempt_is_recorded,
    a_callback_that_never_succeeds_is_dead_lettered_and_an_operator_redelivers_it,
    a_slow_receiver_times_out_and_is_retried,
    one_contracts_callbacks_arrive_in_version_order_after_the_receiver_was_down,
    a_dispatcher_killed_mid_delivery_is_taken_over_after_its_lease_with_the_same_event,
    two_dispatchers_share_the_work_and_deliver_each_callback_once,
    metrics_count_requests_and_delivery_attempts,
    events_are_published_to_jetstream_with_the_event_id_as_message_id_and_masked_personal_data,
    operators_list_and_redeliver_dead_letters_from_the_command_line,
    production_refuses_callback_urls_into_internal_networks_and_writes_nothing,
);

/// The local NATS server with JetStream (`.ci/run` starts one).
const NATS_URL: &str = "nats://127.0.0.1:4222";

struct Fixture {
    caller: SigningClient,
    admin: SigningClient,
    service: RunningService,
}

/// The service with a caller and an administrator; its own dispatcher and expiry scheduler are off
/// unless `background` (tests run the dispatcher by hand with an injected clock).
async fn start(
    t: &TestStore,
    background: bool,
    adjust: impl FnOnce(&mut esign::app::config::Config),
) -> Fixture {
    let service = crate::helpers::start_service_with(t, &[CALLER, ADMIN], |config| {
        config.callbacks.enabled = background;
        config.callbacks.poll_interval_ms = 100;
        config.expiry.enabled = false;
        adjust(config);
    })
    .await;
    let admin = service.client(ADMIN);
    crate::journey::publish_template(&admin, "TPL_DELIVERY").await;
    Fixture {
        caller: service.client(CALLER),
        admin,
        service,
    }
}

/// A two-signer contract whose callbacks go to `callback_url`; returns its id.
async fn initiate(fixture: &Fixture, biz_id: &str, callback_url: &str) -> String {
    crate::journey::initiate_contract(&fixture.caller, "TPL_DELIVERY", biz_id, callback_url, 7)
        .await
}

async fn revoke(fixture: &Fixture, contract_id: &str) {
    let (status, body) = json_of(
        fixture
            .caller
            .post_json(
                &format!("/api/v1/contract/{contract_id}/revoke"),
                &json!({"reason": "用户要求取消", "operator": "ops"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A dispatcher of its own on the service's store and configuration, as a second instance runs one.
fn another_dispatcher(state: &esign::http::AppState) -> esign::delivery::Dispatcher {
    esign::delivery::Dispatcher::new(
        state.store.clone(),
        state.pii.clone(),
        state.authenticator.clients().clone(),
        state.metrics.clone(),
        state.config.server.mode,
        state.config.callbacks.clone(),
        None,
        std::sync::Arc::default(),
        Some(state.links.clone()),
    )
    .unwrap()
}

fn dispatcher(fixture: &Fixture) -> &esign::delivery::Dispatcher {
    &fixture.service.state.dispatcher
}

async fn the_running_service_delivers_a_status_change_signed_with_the_callers_headers(
    t: TestStore,
) {
    let receiver = Receiver::start(Behaviour::Accept).await;
    let fixture = start(&t, true, |_| {}).await;
    let contract_id = initiate(&fixture, "DLV_LIVE", &receiver.url).await;
    revoke(&fixture, &contract_id).await;

    let received = receiver.wait_for(1).await;
    let callback = &received[0];
    let body = callback.json();
    assert!(
        callback.signed_with(CALLER.secret),
        "the caller's secret signs it"
    );
    assert!(
        !callback.signed_with(ADMIN.secret),
        "and no other secret does"
    );
    assert_eq!(callback.header("authorization"), "Bearer callback-token");
    assert_eq!(callback.header("content-type"), "application/json");
    assert_eq!(
        callback.header("x-esign-event-type"),
        "ContractStatusChangedEvent"
    );
    assert_eq!(callback.header("x-esign-event-id"), body["eventId"]);
    assert_eq!(body["eventType"], "ContractStatusChangedEvent");
    assert_eq!(body["contractId"], contract_id.as_str());
    assert_eq!(body["status"], "REVOKED");
    assert_eq!(body["revokeReason"], "用户要求取消");
    assert!(body["streamVersion"].as_u64().unwrap() >= 3, "{body}");
    // The body is what GET returns, plus the event's fields.
    let (_, shown) = json_of(
        fixture
            .caller
            .get(&format!("/api/v1/contract/{contract_id}"))
            .await,
    )
    .await;
    for (field, value) in shown.as_object().unwrap() {
        assert_eq!(&body[field], value, "callback field {field}");
    }
    // Delivered once: the row says so and nothing else arrives.
    let row = wait_for_status(&fixture, "DELIVERED").await;
    assert_eq!(row["attempts"], 1);
    assert_eq!(receiver.received().len(), 1);
}

/// Polls the admin listing until the (only) callback has `status`.
async fn wait_for_status(fixture: &Fixture, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (code, listing) = json_of(fixture.admin.get("/api/v1/admin/callbacks").await).await;
        assert_eq!(code, StatusCode::OK, "{listing}");
        if let Some(row) = listing["callbacks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["status"] == status)
        {
            return row.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no callback became {status}: {listing}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_failing_receiver_gets_the_same_event_until_it_answers_2xx_and_every_attempt_is_recorded(
    t: TestStore,
) {
    let receiver = Receiver::start(Behaviour::FailNext(2)).await;
    let fixture = start(&t, false, |_| {}).await;
    let contract_id = initiate(&fixture, "DLV_RETRY", &receiver.url).await;
    revoke(&fixture, &contract_id).await;
    let dispatcher = dispatcher(&fixture);

    let now = Utc::now();
    assert_eq!(dispatcher.run_once(now).await.unwrap(), 1, "first attempt");
    assert_eq!(
        dispatcher.run_once(now).await.unwrap(),
        0,
        "a failed callback waits for its retry time"
    );
    // The first retry comes within seconds (5 s, jittered by at most 20%).
    assert_eq!(
        dispatcher
            .run_once(now + TimeDelta::seconds(7))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        dispatcher.run_once(now + TimeDelta::days(1)).await.unwrap(),
        1
    );
    assert_eq!(
        dispatcher.run_once(now + TimeDelta::days(2)).await.unwrap(),
        0,
        "delivered: nothing left"
    );

    let received = receiver.received();
    assert_eq!(received.len(), 3);
    let event_ids: Vec<&str> = received
        .iter()
        .map(|callback| callback.header("x-esign-event-id"))
        .collect();
    assert!(
        event_ids.iter().all(|id| *id == event_ids[0]),
        "{event_ids:?}"
    );
    assert!(
        received
            .iter()
            .all(|callback| callback.body == received[0].body)
    );
    assert!(
        received
            .iter()
            .all(|callback| callback.signed_with(CALLER.secret))
    );

    let row = wait_for_status(&fixture, "DELIVERED").await;
    let (_, detail) = json_of(
        fixture
            .admin
            .get(&format!("/api/v1/admin/callbacks/{}", row["id"]))
            .await,
    )
    .await;
    let attempts = detail["attempts"].as_array().unwrap();
    let outcomes: Vec<(&str, i64)> = attempts
        .iter()
        .map(|a| {
            (
                a["outcome"].as_str().unwrap(),
                a["httpStatus"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [("FAILED", 500), ("FAILED", 500), ("DELIVERED", 200)]
    );
    assert!(
        attempts
            .iter()
            .all(|a| a["latencyMs"].as_i64().unwrap() >= 0)
    );
    assert!(attempts[0]["error"].as_str().unwrap().contains("500"));
}

async fn a_callback_that_never_succeeds_is_dead_lettered_and_an_operator_redelivers_it(
    t: TestStore,
) {
    let receiver = Receiver::start(Behaviour::AlwaysFail(StatusCode::SERVICE_UNAVAILABLE)).await;
    let fixture = start(&t, false, |config| config.callbacks.max_attempts = 3).await;
    let contract_id = initiate(&fixture, "DLV_DEAD", &receiver.url).await;
    revoke(&fixture, &contract_id).await;
    let dispatcher = dispatcher(&fixture);
    let now = Utc::now();
    for day in 0..3 {
        assert_eq!(
            dispatcher
                .run_once(now + TimeDelta::days(day))
                .await
                .unwrap(),
            1
        );
    }
    assert_eq!(
        dispatcher
            .run_once(now + TimeDelta::days(30))
            .await
            .unwrap(),
        0,
        "a dead letter is not retried on its own"
    );
    assert_eq!(receiver.received().len(), 3);

    let (status, dead) = json_of(
        fixture
            .admin
            .get("/api/v1/admin/callbacks?status=DEAD")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let dead = dead["callbacks"].as_array().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["attempts"], 3);
    assert!(dead[0]["deadAt"].is_string());
    let id = dead[0]["id"].as_i64().unwrap();

    // Operators only.
    let (status, body) = json_of(fixture.caller.get("/api/v1/admin/callbacks").await).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::FORBIDDEN, json!(40300))
    );
    let (status, body) = json_of(
        fixture
            .caller
            .post_json(
                &format!("/api/v1/admin/callbacks/{id}/redeliver"),
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::FORBIDDEN, json!(40300))
    );
    let (status, body) = json_of(
        fixture
            .admin
            .get("/api/v1/admin/callbacks?status=LOST")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["details"][0]["field"], "status");

    // The receiver is fixed; the operator redelivers.
    receiver.set(Behaviour::Accept);
    let (status, redelivered) = json_of(
        fixture
            .admin
            .post_json(
                &format!("/api/v1/admin/callbacks/{id}/redeliver"),
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{redelivered}");
    assert_eq!(redelivered["callback"]["status"], "PENDING");
    assert_eq!(
        redelivered["attempts"].as_array().unwrap().len(),
        3,
        "history is kept"
    );
    assert_eq!(dispatcher.run_once(Utc::now()).await.unwrap(), 1);
    let received = receiver.received();
    assert_eq!(received.len(), 4);
    assert_eq!(
        received[3].header("x-esign-event-id"),
        received[0].header("x-esign-event-id"),
        "the same event, so a receiver that had it drops it"
    );
    wait_for_status(&fixture, "DELIVERED").await;
    let (status, _) = json_of(
        fixture
            .admin
            .post_json("/api/v1/admin/callbacks/999999/redeliver", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_slow_receiver_times_out_and_is_retried(t: TestStore) {
    let receiver = Receiver::start(Behaviour::Slow(Duration::from_secs(5))).await;
    let fixture = start(&t, false, |config| config.callbacks.timeout_ms = 300).await;
    let contract_id = initiate(&fixture, "DLV_SLOW", &receiver.url).await;
    revoke(&fixture, &contract_id).await;
    let dispatcher = dispatcher(&fixture);
    let now = Utc::now();
    assert_eq!(dispatcher.run_once(now).await.unwrap(), 1);
    let row = wait_for_status(&fixture, "PENDING").await;
    assert!(
        row["lastError"].as_str().unwrap().contains("timed out"),
        "{row}"
    );
    receiver.set(Behaviour::Accept);
    assert_eq!(
        dispatcher
            .run_once(now + TimeDelta::minutes(1))
            .await
            .unwrap(),
        1
    );
    wait_for_status(&fixture, "DELIVERED").await;
}

async fn one_contracts_callbacks_arrive_in_version_order_after_the_receiver_was_down(t: TestStore) {
    let receiver = Receiver::start(Behaviour::AlwaysFail(StatusCode::BAD_GATEWAY)).await;
    let fixture = start(&t, false, |_| {}).await;
    let contract_id = initiate(&fixture, "DLV_ORDER", &receiver.url).await;
    crate::journey::sign_as(&fixture.service.state, &contract_id, "RECEIVER_001").await;
    revoke(&fixture, &contract_id).await;
    let dispatcher = dispatcher(&fixture);
    let now = Utc::now();
    // Two callbacks are due, but the second waits behind the undelivered first.
    for hour in 0..3 {
        assert_eq!(
            dispatcher
                .run_once(now + TimeDelta::hours(hour))
                .await
                .unwrap(),
            1,
            "only the stream's first undelivered callback is tried"
        );
    }
    assert!(
        receiver
            .received()
            .iter()
            .all(|callback| callback.json()["status"] == "PARTIAL_SIGNED")
    );
    receiver.set(Behaviour::Accept);
    let later = now + TimeDelta::days(1);
    assert_eq!(dispatcher.run_once(later).await.unwrap(), 1);
    assert_eq!(dispatcher.run_once(later).await.unwrap(), 1);
    let delivered: Vec<(String, u64)> = receiver
        .received()
        .iter()
        .skip(3)
        .map(|callback| {
            let body = callback.json();
            (
                body["status"].as_str().unwrap().to_owned(),
                body["streamVersion"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(delivered.len(), 2);
    assert_eq!(delivered[0].0, "PARTIAL_SIGNED");
    assert_eq!(delivered[1].0, "REVOKED");
    assert!(delivered[0].1 < delivered[1].1, "{delivered:?}");
}

async fn a_dispatcher_killed_mid_delivery_is_taken_over_after_its_lease_with_the_same_event(
    t: TestStore,
) {
    let receiver = Receiver::start(Behaviour::Hang).await;
    let fixture = start(&t, false, |config| {
        config.callbacks.timeout_ms = 20_000;
        config.callbacks.lease_seconds = 30;
    })
    .await;
    let contract_id = initiate(&fixture, "DLV_KILL", &receiver.url).await;
    revoke(&fixture, &contract_id).await;
    let first = dispatcher(&fixture).clone();
    let now = Utc::now();
    let running = tokio::spawn(async move { first.run_once(now).await });
    receiver.wait_for(1).await;
    // Killed while the receiver holds the request: the row stays claimed under its lease.
    running.abort();
    let _ = running.await;
    let second = another_dispatcher(&fixture.service.state);
    assert_eq!(
        second.run_once(now + TimeDelta::seconds(5)).await.unwrap(),
        0,
        "the lease still holds the row"
    );
    receiver.set(Behaviour::Accept);
    receiver.release();
    assert_eq!(
        second.run_once(now + TimeDelta::seconds(31)).await.unwrap(),
        1,
        "after the lease the row is taken over"
    );
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].header("x-esign-event-id"),
        received[1].header("x-esign-event-id")
    );
    assert_eq!(
        received[0].body, received[1].body,
        "the same event, not another"
    );
    let row = wait_for_status(&fixture, "DELIVERED").await;
    assert_eq!(row["attempts"], 2);
}

async fn two_dispatchers_share_the_work_and_deliver_each_callback_once(t: TestStore) {
    let receiver = Receiver::start(Behaviour::Accept).await;
    let fixture = start(&t, false, |config| config.callbacks.batch_size = 3).await;
    const CONTRACTS: usize = 12;
    for n in 0..CONTRACTS {
        let contract_id = initiate(&fixture, &format!("DLV_PAIR_{n}"), &receiver.url).await;
        revoke(&fixture, &contract_id).await;
    }
    let state = &fixture.service.state;
    let make = || another_dispatcher(state);
    let drain = |dispatcher: esign::delivery::Dispatcher| async move {
        let mut delivered = 0;
        for _ in 0..100 {
            let count = dispatcher.run_once(Utc::now()).await.unwrap();
            delivered += count;
            if count == 0 {
                break;
            }
        }
        delivered
    };
    let (a, b) = tokio::join!(tokio::spawn(drain(make())), tokio::spawn(drain(make())));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a + b, CONTRACTS, "every claim delivered once ({a} + {b})");
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for callback in receiver.received() {
        assert!(callback.signed_with(CALLER.secret));
        *per_event
            .entry(callback.header("x-esign-event-id").to_owned())
            .or_default() += 1;
    }
    assert_eq!(per_event.len(), CONTRACTS);
    assert!(per_event.values().all(|count| *count == 1), "{per_event:?}");
}

async fn metrics_count_requests_and_delivery_attempts(t: TestStore) {
    let receiver = Receiver::start(Behaviour::FailNext(1)).await;
    let fixture = start(&t, false, |_| {}).await;
    let contract_id = initiate(&fixture, "DLV_METRICS", &receiver.url).await;
    revoke(&fixture, &contract_id).await;
    let dispatcher = dispatcher(&fixture);
    let now = Utc::now();
    dispatcher.run_once(now).await.unwrap();
    dispatcher
        .run_once(now + TimeDelta::hours(1))
        .await
        .unwrap();
    dispatcher.refresh_gauges().await;

    let response = esign::providers::outbound::client(Duration::from_secs(10))
        .unwrap()
        .get(format!("{}/metrics", fixture.service.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    for expected in [
        r#"esign_http_requests_total{route="/api/v1/contract/initiate",status="200",code="0"} 1"#,
        r#"esign_http_requests_total{route="/api/v1/contract/{contract_id}/revoke",status="200",code="0"} 1"#,
        r#"esign_delivery_attempts_total{outcome="failed"} 1"#,
        r#"esign_delivery_attempts_total{outcome="delivered"} 1"#,
        "esign_outbox_backlog 0",
        "esign_outbox_dead_letters 0",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // A refused request is counted with its spec code.
    let unsigned = esign::providers::outbound::client(Duration::from_secs(10))
        .unwrap()
        .get(format!(
            "{}/api/v1/contract/{contract_id}",
            fixture.service.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    let text = esign::providers::outbound::client(Duration::from_secs(10))
        .unwrap()
        .get(format!("{}/metrics", fixture.service.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"status="401",code="40101"} 1"#),
        "the refusal is counted:\n{text}"
    );
}

async fn events_are_published_to_jetstream_with_the_event_id_as_message_id_and_masked_personal_data(
    t: TestStore,
) {
    let nats = match async_nats::connect(NATS_URL).await {
        Ok(client) => client,
        Err(error) => {
            crate::helpers::skip("NATS", format_args!("{NATS_URL} is unreachable ({error})"));
            return;
        }
    };
    // Each test run gets its own stream and subjects, so parallel runs do not overlap.
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let stream_name = format!("ESIGN_TEST_{unique}");
    let prefix = format!("esign.test{unique}.events");
    let receiver = Receiver::start(Behaviour::Accept).await;
    let fixture = start(&t, false, |config| {
        config.events.nats_url = Some(NATS_URL.to_owned());
        config.events.nats_stream = stream_name.clone();
        config.events.nats_subject_prefix = prefix.clone();
    })
    .await;
    let dispatcher = dispatcher(&fixture);
    let jetstream = async_nats::jetstream::new(nats);

    // Publishing the fixture's template was announced to the broker (spec 2.2.2), and so is a
    // change of a version's activation; nobody is called back for templates.
    assert_eq!(
        dispatcher.run_once(Utc::now()).await.unwrap(),
        1,
        "the template's publication"
    );
    let template_subject = format!("{prefix}.TemplateUpdatedEvent");
    let events_stream = jetstream.get_stream(&stream_name).await.unwrap();
    let published = last_message(&events_stream, &template_subject).await;
    assert_eq!(published["eventType"], "TemplateUpdatedEvent");
    assert_eq!(published["templateId"], "TPL_DELIVERY");
    assert_eq!(published["version"], "1.0");
    assert_eq!(published["active"], true);
    assert!(published.get("content").is_none(), "{published}");
    let (status, body) = json_of(
        fixture
            .admin
            .post_json(
                "/api/v1/template/TPL_DELIVERY/versions/1.0/deactivate",
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);
    assert_eq!(dispatcher.run_once(Utc::now()).await.unwrap(), 1);
    let deactivated = last_message(&events_stream, &template_subject).await;
    assert_eq!(deactivated["active"], false);
    assert_ne!(deactivated["eventId"], published["eventId"]);
    let (status, _) = json_of(
        fixture
            .caller
            .post_json(
                "/api/v1/template/TPL_DELIVERY/versions/1.0/activate",
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "administrators only");
    let (status, _) = json_of(
        fixture
            .admin
            .post_json(
                "/api/v1/template/TPL_DELIVERY/versions/1.0/activate",
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dispatcher.run_once(Utc::now()).await.unwrap(), 1);

    let (status, verification) = json_of(
        fixture
            .caller
            .post_json(
                "/api/v1/verification/face/initiate",
                &json!({
                    "bizId": "DLV_NATS",
                    "bizType": "RELATIONSHIP_BINDING",
                    "userInfo": {"name": "张三", "idCardNo": "11010519491231002X"},
                    "callbackUrl": receiver.url,
                    "expireMinutes": 5
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{verification}");
    let report = fixture
        .service
        .state
        .expiry
        .sweep(Utc::now() + TimeDelta::minutes(6))
        .await
        .unwrap();
    assert_eq!(report.verifications, 1);
    assert_eq!(
        dispatcher.run_once(Utc::now()).await.unwrap(),
        2,
        "one callback and one publication"
    );

    let callback = &receiver.wait_for(1).await[0];
    let event_id = callback.header("x-esign-event-id").to_owned();
    assert_eq!(
        callback.json()["userInfo"]["idCardNo"],
        "11010519491231002X"
    );
    let mut stream = events_stream;
    let subject = format!("{prefix}.FaceVerificationCompletedEvent");
    let message = stream
        .get_last_raw_message_by_subject(&subject)
        .await
        .unwrap();
    assert_eq!(
        message.headers.get("Nats-Msg-Id").map(|v| v.as_str()),
        Some(event_id.as_str())
    );
    let published: Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(published["eventId"], event_id.as_str());
    assert_eq!(published["status"], "EXPIRED");
    assert_eq!(
        published["userInfo"]["idCardNo"], "110105********002X",
        "the broker gets ID numbers masked"
    );
    assert_eq!(callback.json()["userInfo"]["name"], "张三");
    assert_eq!(
        published["userInfo"]["name"], "张*",
        "the broker gets names masked"
    );

    // Redelivered by an operator: JetStream drops the repeat by its message id.
    let (_, listing) = json_of(fixture.admin.get("/api/v1/admin/callbacks").await).await;
    let nats_row = listing["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["destination"] == "nats" && row["target"] == subject.as_str())
        .unwrap()
        .clone();
    assert_eq!(nats_row["status"], "DELIVERED");
    assert_eq!(nats_row["target"], subject.as_str());
    let (status, _) = json_of(
        fixture
            .admin
            .post_json(
                &format!("/api/v1/admin/callbacks/{}/redeliver", nats_row["id"]),
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dispatcher.run_once(Utc::now()).await.unwrap(), 1);
    let info = stream.info().await.unwrap();
    assert_eq!(
        info.state.messages, 4,
        "three template announcements and one verification: the repeat was deduplicated"
    );
    jetstream.delete_stream(&stream_name).await.unwrap();
}

/// The body of the last message JetStream holds on `subject`.
async fn last_message(stream: &async_nats::jetstream::stream::Stream, subject: &str) -> Value {
    let message = stream
        .get_last_raw_message_by_subject(subject)
        .await
        .unwrap();
    serde_json::from_slice(&message.payload).unwrap()
}

async fn operators_list_and_redeliver_dead_letters_from_the_command_line(t: TestStore) {
    let receiver = Receiver::start(Behaviour::AlwaysFail(StatusCode::INTERNAL_SERVER_ERROR)).await;
    let fixture = start(&t, false, |config| config.callbacks.max_attempts = 1).await;
    let contract_id = initiate(&fixture, "DLV_CLI", &receiver.url).await;
    revoke(&fixture, &contract_id).await;
    assert_eq!(dispatcher(&fixture).run_once(Utc::now()).await.unwrap(), 1);

    let data = tempfile::tempdir().unwrap();
    let esign = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_esign"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ESIGN_DATABASE_URL", &t.url)
            .env("ESIGN_SERVER_DATA_DIR", data.path())
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = esign(&["callbacks", "list", "--status", "DEAD", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{stdout}");
    assert_eq!(rows[0]["eventType"], "ContractStatusChangedEvent");
    assert!(!stdout.contains("REVOKED"), "bodies are not listed");
    let id = rows[0]["id"].as_i64().unwrap().to_string();

    let (code, stdout, stderr) = esign(&["callbacks", "show", &id]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("attempt 1") && stdout.contains("HTTP 500"),
        "{stdout}"
    );

    let (code, _, stderr) = esign(&["callbacks", "list", "--status", "LOST"]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("--status"), "{stderr}");

    receiver.set(Behaviour::Accept);
    let (code, stdout, stderr) = esign(&["callbacks", "redeliver", &id]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("will be delivered again"), "{stdout}");
    assert_eq!(dispatcher(&fixture).run_once(Utc::now()).await.unwrap(), 1);
    wait_for_status(&fixture, "DELIVERED").await;
    let (code, _, _) = esign(&["callbacks", "redeliver", "424242"]);
    assert_eq!(code, Some(2), "an unknown id");
}

async fn production_refuses_callback_urls_into_internal_networks_and_writes_nothing(t: TestStore) {
    let fixture = start(&t, false, crate::helpers::production).await;
    for refused in [
        "https://127.0.0.1/callback",
        "https://10.0.0.8/callback",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]:8443/callback",
        // IPv6 forms that reach internal IPv4 (6to4, local-use NAT64, IPv4-compatible) or site-local
        "https://[2002:a9fe:a9fe::]/latest/meta-data",
        "https://[64:ff9b:1::a9fe:a9fe]/callback",
        "https://[::a9fe:a9fe]/callback",
        "https://[fec0::1]/callback",
        "https://localhost/callback",
        "https://metadata.google.internal/computeMetadata",
        "http://auth.example.com/callback",
    ] {
        let (status, body) = json_of(
            fixture
                .caller
                .post_json(
                    "/api/v1/contract/initiate",
                    &json!({
                        "bizId": "DLV_SSRF",
                        "bizType": "RELATIONSHIP_AGREEMENT",
                        "templateId": "TPL_DELIVERY",
                        "title": "天财分账资金归集授权协议",
                        "variables": {"payerName": "XX品牌总部"},
                        "signers": [
                            {"partyId": "RECEIVER_001", "partyType": "RECEIVER", "name": "张三",
                             "idCardNo": "11010519491231002X", "mobile": "13800138000",
                             "signMethod": "FACE_AND_SMS", "notifyType": "SMS", "sequence": 1}
                        ],
                        "callbackUrl": refused
                    }),
                )
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}: {body}");
        assert_eq!(body["code"], 40001);
        assert!(
            body["details"]
                .as_array()
                .unwrap()
                .iter()
                .any(|detail| detail["field"] == "callbackUrl"),
            "{refused}: {body}"
        );
    }
    let (status, body) = json_of(
        fixture
            .caller
            .post_json(
                "/api/v1/verification/face/initiate",
                &json!({
                    "bizId": "DLV_SSRF",
                    "bizType": "RELATIONSHIP_BINDING",
                    "userInfo": {"name": "张三", "idCardNo": "11010519491231002X"},
                    "callbackUrl": "https://169.254.169.254/latest/meta-data"
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"][0]["field"], "callbackUrl", "{body}");
    let rows = esign::store::query_tables::select(
        &fixture.service.state.store,
        projections::Table::Contract,
        "biz_id = {1}",
        &["DLV_SSRF"],
        None,
    )
    .await
    .unwrap();
    assert!(rows.is_empty(), "nothing was written");
    // A public address is accepted.
    let contract_id = initiate(&fixture, "DLV_PUBLIC", "https://8.8.8.8/callback").await;
    assert!(contract_id.starts_with("CONTRACT_"));
}
