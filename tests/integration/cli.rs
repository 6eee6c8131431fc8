//! The `esign` binary as an operator runs it: serve, migrate, audit verify and audit replay.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use esign::store::EventStore;
use serde_json::json;

use crate::helpers::{Backend, TestStore, append, stream};

crate::backend_tests!(
    serve_answers_health_and_readiness_and_stops_on_sigterm,
    audit_verify_passes_an_intact_store_and_names_a_tampered_event,
    audit_replay_prints_a_checked_timeline_with_personal_data_masked,
    migrate_applies_the_schema_once_and_can_run_again,
    projections_rebuild_checks_then_swaps,
    an_operator_orders_an_archive_retry_from_the_command_line,
);

/// A bare machine: no configuration file and no database settings. Only the port is overridden, so
/// tests can run side by side; everything else is the default a first `esign serve` gets.
#[tokio::test]
async fn serve_with_no_configuration_starts_on_the_embedded_sqlite_default() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_esign"))
        .env_clear()
        .env("ESIGN_SERVER_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .arg("serve")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (line, secret_line) = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let (mut first, mut second) = (String::new(), String::new());
        reader.read_line(&mut first).unwrap();
        reader.read_line(&mut second).unwrap();
        (first, second)
    })
    .await
    .unwrap();
    assert!(line.contains("database: sqlite"), "{line:?}");
    // With no clients anywhere, a development client is made and its secret printed once; it signs.
    let secret = secret_line
        .rsplit(": ")
        .next()
        .map(str::trim)
        .unwrap_or_else(|| panic!("no development client printed: {secret_line:?}"));
    assert!(secret_line.contains("\"dev\""), "{secret_line:?}");
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap();
    let health = reqwest::get(format!("http://{address}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let signed =
        crate::signing_client::SigningClient::new(format!("http://{address}"), "dev", secret)
            .get("/api/v1/template/NONE")
            .await;
    assert_eq!(signed.status(), 404, "the printed secret signs requests");
    assert!(
        dir.path().join("data/esign.db").exists(),
        "the default database file"
    );
    assert!(
        dir.path().join("data/keys/pii-dev.key").exists(),
        "development keys generated once"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The binary, configured through the environment for this test's database and a private data dir.
pub(crate) fn esign(t: &TestStore, data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_esign"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ESIGN_DATABASE_URL", &t.url)
        .env("ESIGN_SERVER_BIND", "127.0.0.1:0")
        .env("ESIGN_SERVER_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .current_dir(data_dir);
    command
}

async fn serve_answers_health_and_readiness_and_stops_on_sigterm(t: TestStore) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = esign(&t, dir.path())
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("serve did not print its address: {line:?}"))
        .to_owned();
    assert!(line.contains(match t.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }));

    let client = esign::providers::outbound::client(std::time::Duration::from_secs(30)).unwrap();
    let health = client
        .get(format!("http://{address}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap(),
        json!({"status": "ok"})
    );
    let ready = client
        .get(format!("http://{address}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .expect("serve stops after SIGTERM")
    .unwrap()
    .unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

async fn audit_verify_passes_an_intact_store_and_names_a_tampered_event(t: TestStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = stream("contract");
    let events = (0..3).map(|i| t.event("Step", &i.to_string())).collect();
    let written = t.store.append(append(&s, 0, events)).await.unwrap();

    let intact = esign(&t, dir.path())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&intact.stdout);
    assert!(intact.status.success(), "{text}");
    assert!(
        text.contains("verified 3 events in 1 streams") && text.contains("intact"),
        "{text}"
    );

    let victim = &written[2];
    match t.backend {
        Backend::Sqlite => {
            let connection = rusqlite::Connection::open(t.sqlite_path().unwrap()).unwrap();
            connection
                .execute_batch(&format!(
                    "DROP TRIGGER events_refuse_update; \
                     UPDATE events SET metadata = json_set(metadata, '$.actor', 'client:mallory') \
                     WHERE global_position = {};",
                    victim.global_position
                ))
                .unwrap();
        }
        Backend::Postgres => {
            t.postgres_superuser()
                .await
                .batch_execute(&format!(
                    "SET session_replication_role = replica; \
                     UPDATE events SET metadata = jsonb_set(metadata::jsonb, '{{actor}}', '\"client:mallory\"')::json \
                     WHERE global_position = {};",
                    victim.global_position
                ))
                .await
                .unwrap();
        }
    }

    let broken = esign(&t, dir.path())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(2), "{text}");
    assert!(text.contains(&format!("stream {s} version 3")), "{text}");
    assert!(text.contains(&victim.event_id.to_string()), "{text}");

    let one = esign(&t, dir.path())
        .args(["audit", "verify", "--json", "--stream", s.as_str()])
        .output()
        .unwrap();
    assert_eq!(one.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(report["firstBreak"]["streamVersion"], 3);
    assert_eq!(report["firstBreak"]["kind"], "hashMismatch");
}

async fn audit_replay_prints_a_checked_timeline_with_personal_data_masked(t: TestStore) {
    let dir = tempfile::tempdir().unwrap();
    // The replay must open personal data with the service's own keys: write the events with them.
    let config = esign::app::config::Config::load(
        None,
        [(
            "ESIGN_SERVER_DATA_DIR".to_owned(),
            dir.path().display().to_string(),
        )],
    )
    .unwrap();
    let cipher = config.pii_cipher().unwrap();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let s = esign::store::StreamId::new("contract", &id);
    let payload = json!({"name": {"$pii": "张三"}, "idCardNo": {"$pii": "11010519491231002X"}});
    let mut event = t.event("ContractInitiated", "x");
    event.payload = cipher.seal(payload).unwrap();
    t.store.append(append(&s, 0, vec![event])).await.unwrap();

    let output = esign(&t, dir.path())
        .args(["audit", "replay", &id, "--json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        !text.contains("11010519491231002X"),
        "the ID number must be masked: {text}"
    );
    let timeline: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(timeline["streamId"], s.as_str());
    assert_eq!(timeline["chainIntact"], true);
    assert_eq!(timeline["events"][0]["chain"], "ok");
    assert_eq!(
        timeline["events"][0]["payload"]["idCardNo"]["$pii"],
        "110105********002X"
    );
    assert_eq!(timeline["events"][0]["payload"]["name"]["$pii"], "张*");
    assert!(!text.contains("张三"), "the name must be masked: {text}");

    let human = esign(&t, dir.path())
        .args(["audit", "replay", s.as_str()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("ContractInitiated") && text.contains("chain intact"),
        "{text}"
    );
}

async fn migrate_applies_the_schema_once_and_can_run_again(t: TestStore) {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output = esign(&t, dir.path()).arg("migrate").output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("database migrated"));
    }
    let broken = esign(&t, dir.path())
        .env("ESIGN_DATABASE_URL", "mysql://somewhere/esign")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!broken.status.success());
    let message = String::from_utf8_lossy(&broken.stderr);
    assert!(
        message.contains("sqlite://") && message.contains("postgres://"),
        "{message}"
    );
}

async fn projections_rebuild_checks_then_swaps(t: TestStore) {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["projections", "rebuild", "--check"],
        vec!["projections", "rebuild"],
        vec!["projections", "rebuild", "--check", "--json"],
    ] {
        let output = esign(&t, dir.path()).args(&args).output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{args:?}: {text} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if args.len() == 3 && args[2] == "--check" {
            assert!(text.contains("the live tables match the log"), "{text}");
        }
    }
}

/// `esign archives retry` records the order (with the operator) for a record whose attempts ran
/// out; a running service's sweep then archives it.
async fn an_operator_orders_an_archive_retry_from_the_command_line(t: TestStore) {
    let (service, tsa) = crate::archive_operations::one_attempt_behind_a_failing_tsa(&t).await;
    let (contract_id, _) =
        crate::archive_operations::exhausted_archive(&service, "REL_ARCHIVES_CLI").await;
    // The service's own data directory: its keys open the contract's personal data.
    let data_dir = service.state.config.server.data_dir.clone();

    let unknown = esign(&t, &data_dir)
        .args(["archives", "retry", "CONTRACT_NONE", "--operator", "ops_li"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");

    tsa.failures.store(0, std::sync::atomic::Ordering::SeqCst);
    let ordered = esign(&t, &data_dir)
        .args([
            "archives",
            "retry",
            &contract_id,
            "--provider",
            "TSA",
            "--operator",
            "ops_li",
            "--reason",
            "TSA restored",
        ])
        .output()
        .unwrap();
    assert!(
        ordered.status.success(),
        "{}",
        String::from_utf8_lossy(&ordered.stderr)
    );
    assert!(
        String::from_utf8_lossy(&ordered.stdout).contains("TSA archive"),
        "{ordered:?}"
    );
    let caller = service.client(crate::helpers::CALLER);
    let waiting = crate::archive_operations::contract_when(&caller, &contract_id, |records| {
        records.iter().all(|record| record["attempts"] == 0)
    })
    .await;
    assert_eq!(
        waiting["archiveInfo"]["awaitingOperator"], false,
        "{waiting}"
    );

    let report = crate::archive_operations::sweep_at(&service, chrono::Utc::now()).await;
    assert_eq!(report.archived, 1, "{report:?}");
    let archived = crate::archive_operations::contract_when(&caller, &contract_id, |records| {
        records.iter().all(|record| record["status"] == "SUCCESS")
    })
    .await;
    assert_eq!(archived["archiveInfo"]["attempts"], 1, "{archived}");
    let events = service
        .state
        .store
        .read_stream(&esign::store::StreamId::new("contract", &contract_id), 0)
        .await
        .unwrap();
    let order = events
        .iter()
        .find(|event| event.event_type == "ArchiveRetryOrdered")
        .expect("the order is in the log");
    assert_eq!(order.metadata.actor, "operator:ops_li");
    let again = esign(&t, &data_dir)
        .args(["archives", "retry", &contract_id, "--operator", "ops_li"])
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(3),
        "nothing failed is left: {again:?}"
    );
}
