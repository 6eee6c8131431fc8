//! The command pipeline on both backends: decisions appended with their query-table rows in one
//! transaction, retried when another command wins the race for the stream.

use std::sync::Arc;

use aggregates::contract::{
    ContractAggregate, ContractCommand, ContractRequest, InitiateContract, NewSignLink, Revoke,
    SignerRequest,
};
use aggregates::template::{PublishVersion, TemplateAggregate, TemplateCommand, TemplateRequest};
use aggregates::values::{ClientId, ContractId, Digest, LinkId, Mode, Operator, Reason};
use aggregates::{Aggregate, DomainEvent};
use chrono::Utc;
use esign::app::pipeline::Pipeline;
use esign::store::{EventMetadata, EventStore, StreamId};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::helpers::{Backend, TestStore};

crate::backend_tests!(
    a_command_appends_its_events_and_its_rows_in_one_transaction,
    concurrent_commands_on_one_contract_are_retried_not_lost,
    query_tables_hold_no_personal_data_in_clear,
    a_contract_stored_with_clear_names_keeps_reading_rebuilding_and_deciding,
    rebuilding_from_the_log_gives_the_live_rows_and_finds_a_changed_one,
    a_rebuild_swaps_in_while_commands_keep_writing_and_repairs_a_changed_row,
    a_status_change_records_its_callback_in_the_same_transaction,
    a_cached_state_follows_what_any_instance_appends_later,
    a_command_on_a_stream_taken_for_new_that_exists_is_decided_on_what_is_stored,
);

fn metadata() -> EventMetadata {
    EventMetadata {
        actor: "client:auth".into(),
        client_id: Some("auth".into()),
        ..EventMetadata::default()
    }
}

fn pipeline(t: &TestStore) -> Pipeline {
    Pipeline::new(t.store.clone(), Arc::clone(&t.cipher))
}

fn template_request(template_id: &str) -> TemplateRequest {
    serde_json::from_value(json!({
        "templateId": template_id,
        "name": "资金归集授权协议模板",
        "version": "1.0",
        "category": "RELATIONSHIP_AGREEMENT",
        "content": "<h1>授权协议</h1><p>付款方 {{payerName}} 授权收款方 {{receiverName}}</p>",
        "variableDefinitions": [
            {"key": "payerName", "name": "付款方名称", "required": true},
            {"key": "receiverName", "name": "收款方名称", "required": true}
        ],
        "signerConfig": {"minSigners": 1, "maxSigners": 2, "defaultSignMethods": ["FACE_AND_SMS"]},
        "active": true
    }))
    .unwrap()
}

async fn publish_template(pipeline: &Pipeline, template_id: &str) {
    publish(pipeline, template_request(template_id)).await;
}

async fn publish(pipeline: &Pipeline, request: TemplateRequest) {
    let template_id = request.template_id.clone().unwrap_or_default();
    pipeline
        .execute::<TemplateAggregate>(
            &StreamId::new(TemplateAggregate::NAME, &template_id),
            &metadata(),
            |_| {
                TemplateCommand::Publish(PublishVersion {
                    request: request.clone(),
                    actor: ClientId::parse("admin").unwrap(),
                    now: Utc::now(),
                })
            },
        )
        .await
        .unwrap();
}

fn contract_request(template_id: &str) -> ContractRequest {
    serde_json::from_value(json!({
        "bizId": format!("REL_{}", uuid::Uuid::new_v4().simple()),
        "bizType": "RELATIONSHIP_AGREEMENT",
        "templateId": template_id,
        "title": "天财分账资金归集授权协议",
        "variables": {"payerName": "XX品牌总部", "receiverName": "上海浦东店"},
        "signers": esign_tools::fixtures::two_signers(),
        "callbackUrl": "https://auth.example.com/callback/e-sign"
    }))
    .unwrap()
}

/// Initiates a contract the way the API handler will: template facts looked up, preview hashed.
async fn initiate(pipeline: &Pipeline, template_id: &str) -> StreamId {
    let contract_id = format!("CONTRACT_{}", uuid::Uuid::new_v4().simple());
    let stream = StreamId::new(ContractAggregate::NAME, &contract_id);
    let command = initiate_command(pipeline, template_id, &contract_id).await;
    pipeline
        .execute::<ContractAggregate>(&stream, &metadata(), |_| command.clone())
        .await
        .unwrap();
    stream
}

/// A valid initiation of `contract_id` on the template's current version.
async fn initiate_command(
    pipeline: &Pipeline,
    template_id: &str,
    contract_id: &str,
) -> ContractCommand {
    let template = pipeline
        .load::<TemplateAggregate>(&StreamId::new(TemplateAggregate::NAME, template_id))
        .await
        .unwrap()
        .state;
    let request = contract_request(template_id);
    let published = template.template().unwrap();
    let version = published.current_version().unwrap();
    let preview = version.render_preview(&request.variable_texts()).unwrap();
    let preview_hash = Digest::parse(&hex::encode(Sha256::digest(preview.as_bytes()))).unwrap();
    let links: Vec<NewSignLink> = request
        .signers
        .iter()
        .map(|_: &SignerRequest| NewSignLink {
            link_id: LinkId::parse(&uuid::Uuid::new_v4().simple().to_string()).unwrap(),
            token_hash: Digest::parse(&hex::encode(Sha256::digest(
                uuid::Uuid::new_v4().as_bytes(),
            )))
            .unwrap(),
        })
        .collect();
    ContractCommand::Initiate(InitiateContract {
        contract_id: ContractId::parse(contract_id).unwrap(),
        client_id: ClientId::parse("auth").unwrap(),
        request,
        template: Some(published.facts(version)),
        preview_hash: Some(preview_hash),
        documents: Vec::new(),
        places: Vec::new(),
        sign_links: links,
        archive_id: aggregates::values::ArchiveId::parse("ARCHIVE_TEST").unwrap(),
        link_lifetimes: aggregates::values::LinkLifetimes::default(),
        other_archive_ids: Vec::new(),
        seals: std::collections::BTreeMap::new(),
        mode: Mode::Development,
        now: Utc::now(),
    })
}

/// Runs SQL straight on the database, behind the application's back (as an intruder or a bad script would).
async fn execute_as_superuser(t: &TestStore, sql: &str) {
    match t.backend {
        Backend::Sqlite => rusqlite::Connection::open(t.sqlite_path().unwrap())
            .unwrap()
            .execute_batch(sql)
            .unwrap(),
        Backend::Postgres => t
            .postgres_superuser()
            .await
            .batch_execute(sql)
            .await
            .unwrap(),
    }
}

/// Reads one text column of the query tables, whatever the backend.
async fn query_texts(t: &TestStore, sql: &str) -> Vec<Vec<Option<String>>> {
    match t.backend {
        Backend::Sqlite => {
            let connection = rusqlite::Connection::open(t.sqlite_path().unwrap()).unwrap();
            let mut statement = connection.prepare(sql).unwrap();
            let columns = statement.column_count();
            statement
                .query_map([], |row| {
                    (0..columns)
                        .map(|i| row.get::<_, rusqlite::types::Value>(i))
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap()
                .map(|row| {
                    row.unwrap()
                        .into_iter()
                        .map(|value| match value {
                            rusqlite::types::Value::Null => None,
                            rusqlite::types::Value::Integer(i) => Some(i.to_string()),
                            rusqlite::types::Value::Real(f) => Some(f.to_string()),
                            rusqlite::types::Value::Text(s) => Some(s),
                            rusqlite::types::Value::Blob(b) => Some(hex::encode(b)),
                        })
                        .collect()
                })
                .collect()
        }
        Backend::Postgres => {
            let client = t.postgres_superuser().await;
            client
                .simple_query(sql)
                .await
                .unwrap()
                .into_iter()
                .filter_map(|message| match message {
                    tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_owned))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect()
        }
    }
}

async fn a_command_appends_its_events_and_its_rows_in_one_transaction(t: TestStore) {
    let pipeline = pipeline(&t);
    publish_template(&pipeline, "TEMPLATE_COLLECTION_V1").await;
    let stream = initiate(&pipeline, "TEMPLATE_COLLECTION_V1").await;
    let contract_id = stream.as_str().trim_start_matches("contract-").to_owned();

    let contract = query_texts(
        &t,
        &format!("SELECT status, title, client_id, stream_version FROM contract WHERE contract_id = '{contract_id}'"),
    )
    .await;
    assert_eq!(
        contract.len(),
        1,
        "the contract row is there as soon as the command returns"
    );
    assert_eq!(contract[0][0].as_deref(), Some("CREATED"));
    assert_eq!(contract[0][1].as_deref(), Some("天财分账资金归集授权协议"));
    assert_eq!(contract[0][2].as_deref(), Some("auth"));
    let signers = query_texts(
        &t,
        &format!("SELECT party_id, sign_status, sequence FROM contract_signer WHERE contract_id = '{contract_id}' ORDER BY sequence"),
    )
    .await;
    assert_eq!(signers.len(), 2);
    assert_eq!(signers[0][0].as_deref(), Some("RECEIVER_001"));
    assert_eq!(signers[1][1].as_deref(), Some("PENDING"));

    pipeline
        .execute::<ContractAggregate>(&stream, &metadata(), |_| {
            ContractCommand::Revoke(Revoke {
                reason: Reason::parse("用户要求取消").unwrap(),
                operator: Operator::parse("system_admin").unwrap(),
                now: Utc::now(),
            })
        })
        .await
        .unwrap();
    let revoked = query_texts(
        &t,
        &format!("SELECT status, revoke_reason FROM contract WHERE contract_id = '{contract_id}'"),
    )
    .await;
    assert_eq!(revoked[0][0].as_deref(), Some("REVOKED"));
    assert_eq!(revoked[0][1].as_deref(), Some("用户要求取消"));

    let templates = query_texts(
        &t,
        "SELECT template_id, version, active FROM contract_template",
    )
    .await;
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0][1].as_deref(), Some("1.0"));
}

async fn concurrent_commands_on_one_contract_are_retried_not_lost(t: TestStore) {
    let pipeline = pipeline(&t);
    publish_template(&pipeline, "TEMPLATE_RACE").await;
    let stream = initiate(&pipeline, "TEMPLATE_RACE").await;
    // Two revocations race: the first wins, the second is retried on the new state and refused by the
    // domain (a revoked contract cannot be revoked again), never lost or applied twice.
    let mut tasks = Vec::new();
    for n in 0..2 {
        let (pipeline, stream) = (pipeline.clone(), stream.clone());
        tasks.push(tokio::spawn(async move {
            pipeline
                .execute::<ContractAggregate>(&stream, &metadata(), |_| {
                    ContractCommand::Revoke(Revoke {
                        reason: Reason::parse(&format!("race {n}")).unwrap(),
                        operator: Operator::parse("ops").unwrap(),
                        now: Utc::now(),
                    })
                })
                .await
                .is_ok()
        }));
    }
    let mut successes = 0;
    for task in tasks {
        successes += usize::from(task.await.unwrap());
    }
    assert_eq!(successes, 1);
    let events = pipeline.load::<ContractAggregate>(&stream).await.unwrap();
    let revocations = events
        .recorded
        .iter()
        .filter(|event| event.event_type == "ContractRevoked")
        .count();
    assert_eq!(revocations, 1);
}

async fn query_tables_hold_no_personal_data_in_clear(t: TestStore) {
    let pipeline = pipeline(&t);
    publish_template(&pipeline, "TEMPLATE_PII").await;
    initiate(&pipeline, "TEMPLATE_PII").await;
    for table in ["contract", "contract_signer", "contract_template"] {
        for row in query_texts(&t, &format!("SELECT * FROM {table}")).await {
            let text = format!("{row:?}");
            for secret in [
                "张三",
                "李四",
                "11010519491231002X",
                "440304199001010011",
                "13800138000",
                "13900139000",
            ] {
                assert!(
                    !text.contains(secret),
                    "{table} holds {secret} in clear: {text}"
                );
            }
        }
    }
}

/// A contract written before names were sealed (its initiation holds the signers' names in clear)
/// in a store that now seals them: it rebuilds into rows keeping those names as stored, the owner's
/// view shows them, a later command decides on it, and the rows still rebuild byte for byte.
async fn a_contract_stored_with_clear_names_keeps_reading_rebuilding_and_deciding(t: TestStore) {
    let pipeline = pipeline(&t);
    publish_template(&pipeline, "TEMPLATE_CLEAR_NAMES").await;
    let contract_id = format!("CONTRACT_{}", uuid::Uuid::new_v4().simple());
    let stream = StreamId::new(ContractAggregate::NAME, &contract_id);
    let command = initiate_command(&pipeline, "TEMPLATE_CLEAR_NAMES", &contract_id).await;
    let decided = ContractAggregate::decide(&Default::default(), command).unwrap();
    let written_before: Vec<_> = decided
        .iter()
        .map(|event| {
            let mut payload = serde_json::to_value(event).unwrap();
            if let Some(signers) = payload["signers"].as_array_mut() {
                for signer in signers {
                    let name = signer["name"]["$pii"].clone();
                    assert!(name.is_string());
                    signer["name"] = name;
                }
            }
            let mut written = t.event_with(event.event_type(), payload);
            written.metadata = metadata();
            written
        })
        .collect();
    t.store
        .append(crate::helpers::append(&stream, 0, written_before))
        .await
        .unwrap();
    let stored = t.store.read_stream(&stream, 0).await.unwrap();
    assert_eq!(stored[0].payload.as_value()["signers"][0]["name"], "张三");

    esign::read::rebuild::rebuild(&t.store, &t.cipher)
        .await
        .unwrap();
    let names = query_texts(
        &t,
        &format!(
            "SELECT name FROM contract_signer WHERE contract_id = '{contract_id}' ORDER BY sequence"
        ),
    )
    .await;
    assert_eq!(
        names,
        vec![vec![Some("张三".to_owned())], vec![Some("李四".to_owned())]]
    );
    let rows = t
        .store
        .contracts()
        .owned_with_parts(&contract_id, "auth")
        .await
        .unwrap()
        .unwrap();
    let view =
        esign::read::views::contract(&rows.contract, &rows.signers, &rows.archives, &t.cipher)
            .unwrap();
    assert_eq!(view["signers"][0]["name"], "张三");
    assert_eq!(view["signers"][1]["name"], "李四");

    pipeline
        .execute::<ContractAggregate>(&stream, &metadata(), |_| {
            ContractCommand::Revoke(Revoke {
                reason: Reason::parse("重复发起").unwrap(),
                operator: Operator::parse("ops").unwrap(),
                now: Utc::now(),
            })
        })
        .await
        .unwrap();
    let report = esign::read::rebuild::check(&t.store, &t.cipher)
        .await
        .unwrap();
    assert!(report.matches(), "{report:?}");
}

async fn rebuilding_from_the_log_gives_the_live_rows_and_finds_a_changed_one(t: TestStore) {
    let pipeline = pipeline(&t);
    publish_template(&pipeline, "TEMPLATE_REBUILD").await;
    let revoked = initiate(&pipeline, "TEMPLATE_REBUILD").await;
    initiate(&pipeline, "TEMPLATE_REBUILD").await;
    pipeline
        .execute::<ContractAggregate>(&revoked, &metadata(), |_| {
            ContractCommand::Revoke(Revoke {
                reason: Reason::parse("重复发起").unwrap(),
                operator: Operator::parse("ops").unwrap(),
                now: Utc::now(),
            })
        })
        .await
        .unwrap();

    let report = esign::read::rebuild::check(&t.store, &t.cipher)
        .await
        .unwrap();
    assert!(report.matches(), "{report:?}");
    assert_eq!(report.streams, 3);
    let rows = |name: &str| {
        report
            .tables
            .iter()
            .find(|c| c.table == name)
            .unwrap()
            .rebuilt_rows
    };
    assert_eq!(
        (
            rows("contract"),
            rows("contract_signer"),
            rows("contract_template")
        ),
        (2, 4, 1)
    );

    // A live row edited behind the log's back is found, both as the changed live row and as the
    // rebuilt row it should have been.
    let contract_id = revoked.as_str().trim_start_matches("contract-");
    let tamper =
        format!("UPDATE contract SET title = 'forged' WHERE contract_id = '{contract_id}'");
    execute_as_superuser(&t, &tamper).await;
    let report = esign::read::rebuild::check(&t.store, &t.cipher)
        .await
        .unwrap();
    assert!(!report.matches());
    let contract = report
        .tables
        .iter()
        .find(|c| c.table == "contract")
        .unwrap();
    assert_eq!((contract.only_live, contract.only_rebuilt), (1, 1));
}

async fn a_rebuild_swaps_in_while_commands_keep_writing_and_repairs_a_changed_row(t: TestStore) {
    let pipeline = pipeline(&t);
    publish_template(&pipeline, "TEMPLATE_SWAP").await;
    let first = initiate(&pipeline, "TEMPLATE_SWAP").await;
    let contract_id = first.as_str().trim_start_matches("contract-").to_owned();
    let tamper =
        format!("UPDATE contract SET status = 'SIGNED' WHERE contract_id = '{contract_id}'");
    execute_as_superuser(&t, &tamper).await;

    // Commands keep arriving while the rebuild runs; none of their rows may be lost by the swap.
    let writer = {
        let pipeline = pipeline.clone();
        tokio::spawn(async move {
            let mut streams = Vec::new();
            for _ in 0..15 {
                streams.push(initiate(&pipeline, "TEMPLATE_SWAP").await);
            }
            streams
        })
    };
    let pii = std::sync::Arc::clone(&t.cipher);
    let report = esign::read::rebuild::rebuild(&t.store, &pii).await.unwrap();
    let written = writer.await.unwrap();
    assert!(report.streams >= 2, "{report:?}");

    let check = esign::read::rebuild::check(&t.store, &t.cipher)
        .await
        .unwrap();
    assert!(
        check.matches(),
        "after the swap the live tables equal the log: {check:?}"
    );
    let contracts = query_texts(&t, "SELECT contract_id, status FROM contract").await;
    assert_eq!(
        contracts.len(),
        written.len() + 1,
        "no row written during the rebuild was lost"
    );
    let repaired = contracts
        .iter()
        .find(|row| row[0].as_deref() == Some(contract_id.as_str()))
        .unwrap();
    assert_eq!(
        repaired[1].as_deref(),
        Some("CREATED"),
        "the changed row is rebuilt from the log"
    );

    // The live tables keep their indexes and unique keys after the swap.
    if t.backend == Backend::Sqlite {
        let indexes = query_texts(&t, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contract_signer' AND sql IS NOT NULL").await;
        assert!(
            indexes
                .iter()
                .any(|row| row[0].as_deref() == Some("contract_signer_idx_mobile_status")),
            "{indexes:?}"
        );
    }
    let after = initiate(&pipeline, "TEMPLATE_SWAP").await;
    let id = after.as_str().trim_start_matches("contract-");
    assert_eq!(
        query_texts(
            &t,
            &format!("SELECT status FROM contract WHERE contract_id = '{id}'")
        )
        .await
        .len(),
        1
    );
}

async fn a_status_change_records_its_callback_in_the_same_transaction(t: TestStore) {
    let pipeline = pipeline(&t);
    publish_template(&pipeline, "TEMPLATE_OUTBOX").await;
    let stream = initiate(&pipeline, "TEMPLATE_OUTBOX").await;
    let outbox_sql = format!(
        "SELECT callback_id, event_type, stream_version, client_id, callback_url, body_sealed, status \
         FROM outbox WHERE stream_id = '{stream}'"
    );
    assert!(
        query_texts(&t, &outbox_sql).await.is_empty(),
        "creating a contract is not a status change"
    );

    let revoke = |reason: &'static str| {
        let (pipeline, stream) = (pipeline.clone(), stream.clone());
        async move {
            pipeline
                .execute::<ContractAggregate>(&stream, &metadata(), |_| {
                    ContractCommand::Revoke(Revoke {
                        reason: Reason::parse(reason).unwrap(),
                        operator: Operator::parse("ops").unwrap(),
                        now: Utc::now(),
                    })
                })
                .await
        }
    };
    let executed = revoke("用户要求取消").await.unwrap();
    assert!(
        revoke("again").await.is_err(),
        "a refused command publishes nothing"
    );

    let rows = query_texts(&t, &outbox_sql).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row[1].as_deref(), Some("ContractStatusChangedEvent"));
    assert_eq!(
        row[2].as_deref(),
        Some(executed.version.to_string().as_str())
    );
    assert_eq!(row[3].as_deref(), Some("auth"));
    assert_eq!(
        row[4].as_deref(),
        Some("https://auth.example.com/callback/e-sign")
    );
    assert_eq!(row[6].as_deref(), Some("PENDING"));
    let sealed = row[5].as_deref().unwrap();
    assert!(
        !sealed.contains("REVOKED") && !sealed.contains("张三"),
        "the body is sealed at rest"
    );
    let body: serde_json::Value = serde_json::from_str(
        &t.cipher
            .open_text(&serde_json::from_str(sealed).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["status"], "REVOKED");
    assert_eq!(body["eventType"], "ContractStatusChangedEvent");
    assert_eq!(
        body["eventId"].as_str(),
        row[0].as_deref(),
        "the body names the callback's stable id"
    );
    assert_eq!(body["streamVersion"], executed.version);
    assert_eq!(
        body["contractId"],
        stream.as_str().trim_start_matches("contract-")
    );
    assert_eq!(
        body["signers"].as_array().map(Vec::len),
        Some(2),
        "the same fields the GET returns"
    );
}

/// `load_state` keeps a folded state and reads only what was appended after it, so a template version
/// published later, here or by another instance on the same database, is seen by the next load.
async fn a_cached_state_follows_what_any_instance_appends_later(t: TestStore) {
    let here = pipeline(&t);
    let elsewhere = pipeline(&t);
    let stream = StreamId::new(TemplateAggregate::NAME, "TPL_CACHED");
    assert!(
        here.load_state::<TemplateAggregate>(&stream)
            .await
            .unwrap()
            .template()
            .is_none(),
        "no template yet"
    );
    publish_template(&here, "TPL_CACHED").await;
    let first = here.load_state::<TemplateAggregate>(&stream).await.unwrap();
    assert_eq!(
        *first,
        here.load::<TemplateAggregate>(&stream).await.unwrap().state
    );

    for (publisher, version) in [(&elsewhere, "1.1"), (&here, "1.2")] {
        let mut request = template_request("TPL_CACHED");
        request.version = Some(version.to_owned());
        publish(publisher, request).await;
        let cached = here.load_state::<TemplateAggregate>(&stream).await.unwrap();
        let stored = here.load::<TemplateAggregate>(&stream).await.unwrap().state;
        assert_eq!(*cached, stored, "after {version}");
        let current = cached.template().unwrap().current_version().unwrap();
        assert_eq!(current.version.as_str(), version);
    }
}

/// `execute_new_attached` decides on the empty state without reading the stream; when the stream
/// exists after all, the append at version 0 is refused and the command is decided again on what is
/// stored, so a second initiation of one contract fails as the domain says and appends nothing.
async fn a_command_on_a_stream_taken_for_new_that_exists_is_decided_on_what_is_stored(
    t: TestStore,
) {
    let pipeline = pipeline(&t);
    publish_template(&pipeline, "TPL_NEW").await;
    let stream = initiate(&pipeline, "TPL_NEW").await;
    let stored = pipeline.load::<ContractAggregate>(&stream).await.unwrap();
    let contract_id = stream.as_str().trim_start_matches("contract-").to_owned();
    let again = initiate_command(&pipeline, "TPL_NEW", &contract_id).await;
    let outcome = pipeline
        .execute_new_attached::<ContractAggregate>(
            &stream,
            &metadata(),
            |_| again.clone(),
            |_| Ok(esign::store::commands::Attached::Nothing),
        )
        .await;
    assert!(
        matches!(outcome, Err(esign::app::pipeline::CommandError::Domain(_))),
        "{outcome:?}"
    );
    let after = pipeline.load::<ContractAggregate>(&stream).await.unwrap();
    assert_eq!(after.version, stored.version, "nothing appended");

    // On a stream that is new, it appends as `execute` does.
    let fresh_id = format!("CONTRACT_{}", uuid::Uuid::new_v4().simple());
    let fresh = StreamId::new(ContractAggregate::NAME, &fresh_id);
    let command = initiate_command(&pipeline, "TPL_NEW", &fresh_id).await;
    let executed = pipeline
        .execute_new_attached::<ContractAggregate>(
            &fresh,
            &metadata(),
            |_| command.clone(),
            |_| Ok(esign::store::commands::Attached::Nothing),
        )
        .await
        .unwrap();
    assert_eq!(executed.version, stored.version);
    assert_eq!(
        pipeline
            .load::<ContractAggregate>(&fresh)
            .await
            .unwrap()
            .version,
        executed.version
    );
}
