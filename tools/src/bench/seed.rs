//! `esign-bench seed`: fills a database with signed contracts, each with the event history the service
//! records for a two-signer contract, so reads, rebuilds and audits can be measured at scale.
//!
//! Every contract goes through the domain: its commands (initiate; for each signer in order: open the
//! link, SMS code sent and verified, face check, sign; then seal, request and record the archive) are
//! decided and evolved by [`ContractAggregate`], the events are serialised and sealed with the
//! configured [`PiiCipher`] as the pipeline seals them, and the store's own chain code hashes them. Only
//! the transport differs: many new streams go into one transaction, with their query-table rows (the
//! pipeline's projection) written beside them. No outbox rows are written: a seeded history has no
//! callbacks left to deliver.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use aggregates::Aggregate;
use aggregates::contract::{
    ContractAggregate, ContractCommand, ContractEvent, ContractRequest, ContractState,
    InitiateContract, NewSignLink, OpenSignLink, RecordArchiveSuccess, RecordFaceVerification,
    RequestArchive, SealDetails, SealDocument, SealSignature, SendSmsCode, Sign, VerifySmsCode,
};
use aggregates::face_verification::FaceVerificationFacts;
use aggregates::template::{
    TemplateAggregate, TemplateCommand, TemplateRequest, TemplateVersionFacts,
};
use aggregates::values::{
    ArchiveId, ArchiveProvider, CertificateSerial, ClientId, ContractId, DeviceInfo, Digest,
    IdCardNumber, LinkId, LongText, Mode, PartyId, PersonName, SignatureImage, TransactionNo,
    UserAgent, VerificationId, VerificationStatus, china_date,
};
use aggregates::{DomainEvent, template::PublishedVersion};
use chrono::{DateTime, TimeDelta, Utc};
use esign::app::pipeline::{Pipeline, project};
use esign::pii::{PiiCipher, PiiError};
use esign::store::{AppendRequest, EventMetadata, NewEvent, Store, StoreError, StreamId, rows};
use futures::StreamExt as _;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use super::service::CLIENT_ID;

/// The template every seeded contract starts from.
pub const TEMPLATE_ID: &str = "TEMPLATE_BENCH_SEED";

#[derive(Debug, Clone, clap::Args)]
pub struct SeedOptions {
    /// Database to fill (`sqlite://<path>` or `postgres://...`); it is migrated first. Personal data is
    /// sealed with the configured keys (`[security]`, or the development keys under `[server]
    /// data_dir`), so the service that reads the contracts must be configured with the same.
    #[arg(long, env = "ESIGN_BENCH_DATABASE_URL")]
    pub database_url: String,
    /// Signed contracts to add (19 events each).
    #[arg(long, default_value_t = 1_000)]
    pub contracts: u64,
    /// Contracts written per transaction.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// How the query tables are filled: `inline` projects each batch in its own transaction (as the
    /// pipeline does); `rebuild` appends only and runs `projections rebuild` at the end.
    #[arg(long, value_enum, default_value_t = SeedProjections::Inline)]
    pub projections: SeedProjections,
    /// Write the seeded contract ids here, one a line.
    #[arg(long)]
    pub ids: Option<PathBuf>,
    /// Also write the result as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SeedProjections {
    Inline,
    Rebuild,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("personal data: {0}")]
    Pii(#[from] PiiError),
    #[error("the domain refused a seeded command: {0}")]
    Domain(String),
    #[error("a seeded value is invalid: {0}")]
    Value(String),
    #[error("projection failed: {0}")]
    Projection(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a seeding task failed: {0}")]
    Task(String),
}

/// What a seed did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedResult {
    pub backend: &'static str,
    pub contracts: u64,
    pub events: u64,
    pub seconds: f64,
    pub events_per_second: f64,
    pub projections: SeedProjections,
    /// Seconds of the closing rebuild (only with `--projections rebuild`).
    pub rebuild_seconds: Option<f64>,
    pub template_id: &'static str,
    pub client_id: &'static str,
    #[serde(skip)]
    pub contract_ids: Vec<String>,
}

/// Seeds `options.contracts` signed contracts owned by the bench's client, publishing the template
/// first when the database has none.
pub async fn seed(options: &SeedOptions, pii: Arc<PiiCipher>) -> Result<SeedResult, SeedError> {
    let store = Store::open(&options.database_url, 4).await?;
    let started = Instant::now();
    let template = Arc::new(ensure_template(&store, &pii).await?);
    let signature = Arc::new(signature_image()?);
    let end = Utc::now() - TimeDelta::hours(1);
    let batch = options.batch.max(1) as u64;
    let batches: Vec<(u64, u64)> = (0..options.contracts.div_ceil(batch))
        .map(|index| {
            let first = index * batch;
            (first, (first + batch).min(options.contracts))
        })
        .collect();
    let total = options.contracts;
    // Two batches are prepared (decided, sealed, hashed) on blocking threads while one is written.
    let mut prepared = futures::stream::iter(batches)
        .map(|(first, last)| {
            let (pii, template, signature) = (
                Arc::clone(&pii),
                Arc::clone(&template),
                Arc::clone(&signature),
            );
            tokio::task::spawn_blocking(move || {
                (first..last)
                    .map(|index| {
                        let created = spread(index, total, end);
                        contract_life(&template, &signature, &pii, index, created)
                    })
                    .collect::<Result<Vec<_>, SeedError>>()
            })
        })
        .buffered(2);
    let (mut events, mut contract_ids) = (0u64, Vec::new());
    while let Some(batch) = prepared.next().await {
        let batch = batch.map_err(|e| SeedError::Task(e.to_string()))??;
        events += batch
            .iter()
            .map(|seeded| seeded.request.events.len() as u64)
            .sum::<u64>();
        contract_ids.extend(batch.iter().map(|seeded| seeded.contract_id.clone()));
        write_batch(&store, batch, options.projections).await?;
    }
    let rebuild_seconds = match options.projections {
        SeedProjections::Inline => None,
        SeedProjections::Rebuild => {
            let rebuild_started = Instant::now();
            esign::read::rebuild::rebuild(&store, &pii)
                .await
                .map_err(|e| SeedError::Projection(e.to_string()))?;
            Some(rebuild_started.elapsed().as_secs_f64())
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &options.ids {
        let mut text = contract_ids.join("\n");
        text.push('\n');
        std::fs::write(path, text).map_err(|source| SeedError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(SeedResult {
        backend: store.backend_name(),
        contracts: contract_ids.len() as u64,
        events,
        seconds,
        events_per_second: events as f64 / seconds.max(1e-9),
        projections: options.projections,
        rebuild_seconds,
        template_id: TEMPLATE_ID,
        client_id: CLIENT_ID,
        contract_ids,
    })
}

/// A table for the terminal.
pub fn render_seed(result: &SeedResult) -> String {
    format!(
        "backend   contracts     events   seconds   events/s   projections\n\
         {:<9} {:>9} {:>10} {:>9.1} {:>10.0}   {:?}{}\n",
        result.backend,
        result.contracts,
        result.events,
        result.seconds,
        result.events_per_second,
        result.projections,
        result
            .rebuild_seconds
            .map(|seconds| format!(" (rebuild {seconds:.1} s)"))
            .unwrap_or_default(),
    )
}

/// One contract ready to write: its append and its decoded events, for the projection.
struct SeededContract {
    contract_id: String,
    request: AppendRequest,
    events: Vec<ContractEvent>,
}

/// The template's facts and its published version, as the initiate handler looks them up.
struct SeedTemplate {
    facts: TemplateVersionFacts,
    version: PublishedVersion,
}

/// Publishes the bench template through the pipeline unless it is there already.
async fn ensure_template(store: &Store, pii: &Arc<PiiCipher>) -> Result<SeedTemplate, SeedError> {
    let pipeline = Pipeline::new(store.clone(), Arc::clone(pii));
    let stream = StreamId::new(TemplateAggregate::NAME, TEMPLATE_ID);
    let current = |state: &aggregates::template::TemplateState| {
        let template = state.template()?;
        let version = template.current_version()?;
        Some(SeedTemplate {
            facts: template.facts(version),
            version: version.clone(),
        })
    };
    let loaded = pipeline
        .load::<TemplateAggregate>(&stream)
        .await
        .map_err(|e| SeedError::Domain(e.to_string()))?;
    if let Some(template) = current(&loaded.state) {
        return Ok(template);
    }
    let request: TemplateRequest = serde_json::from_value(json!({
        "templateId": TEMPLATE_ID,
        "name": "资金归集授权协议模板",
        "version": "1.0",
        "category": "RELATIONSHIP_AGREEMENT",
        "content": "<h1>资金归集授权协议</h1><p>付款方 {{payerName}} 授权收款方 {{receiverName}} \
                    按约定归集资金。</p>",
        "variableDefinitions": [
            {"key": "payerName", "name": "付款方名称", "required": true},
            {"key": "receiverName", "name": "收款方名称", "required": true}
        ],
        "signerConfig": {"minSigners": 1, "maxSigners": 2, "defaultSignMethods": ["FACE_AND_SMS"]},
        "active": true
    }))
    .map_err(|e| SeedError::Value(e.to_string()))?;
    let actor = ClientId::parse(CLIENT_ID).map_err(value_error)?;
    let metadata = EventMetadata {
        actor: format!("client:{CLIENT_ID}"),
        client_id: Some(CLIENT_ID.to_owned()),
        ..EventMetadata::default()
    };
    let now = Utc::now();
    let executed = pipeline
        .execute::<TemplateAggregate>(&stream, &metadata, |_| {
            TemplateCommand::Publish(aggregates::template::PublishVersion {
                request: request.clone(),
                actor: actor.clone(),
                now,
            })
        })
        .await
        .map_err(|e| SeedError::Domain(e.to_string()))?;
    current(&executed.state)
        .ok_or_else(|| SeedError::Domain("the published template has no active version".into()))
}

/// The creation time of contract `index` of `total`: spread evenly over the 30 days before `end`.
fn spread(index: u64, total: u64, end: DateTime<Utc>) -> DateTime<Utc> {
    let window = TimeDelta::days(30).num_seconds();
    let offset = (window as u128 * u128::from(total - index) / u128::from(total.max(1))) as i64;
    end - TimeDelta::seconds(offset)
}

/// Writes one batch: every contract's events in one transaction, with their rows when projecting
/// inline.
async fn write_batch(
    store: &Store,
    batch: Vec<SeededContract>,
    projections: SeedProjections,
) -> Result<(), SeedError> {
    let project_inline = projections == SeedProjections::Inline;
    match store {
        Store::Postgres(pg) => {
            use esign::store::postgres::{db_error, pool_error};
            let mut client = pg.pool().get().await.map_err(pool_error)?;
            let transaction = client.transaction().await.map_err(db_error)?;
            let (requests, decoded): (Vec<AppendRequest>, Vec<Vec<ContractEvent>>) = batch
                .into_iter()
                .map(|seeded| (seeded.request, seeded.events))
                .unzip();
            let appended =
                esign::store::postgres::append_new_streams_with(&transaction, &requests).await?;
            if project_inline {
                let mut rows = Vec::new();
                for (recorded, events) in appended.iter().zip(&decoded) {
                    rows.extend(contract_rows(recorded, events)?);
                }
                rows::upsert_postgres_many(&transaction, &rows, rows::Target::Live).await?;
            }
            transaction.commit().await.map_err(db_error)?;
        }
        Store::Sqlite(sqlite) => {
            sqlite
                .write(move |connection| {
                    for seeded in batch {
                        let appended =
                            esign::store::sqlite::append_on(connection, &seeded.request)?;
                        if project_inline {
                            let rows = contract_rows(&appended, &seeded.events)
                                .map_err(|e| StoreError::Database(e.to_string()))?;
                            rows::upsert_sqlite(connection, &rows)?;
                        }
                    }
                    Ok(())
                })
                .await?;
        }
    }
    Ok(())
}

fn contract_rows(
    recorded: &[esign::store::RecordedEvent],
    events: &[ContractEvent],
) -> Result<Vec<projections::Row>, SeedError> {
    project::<ContractAggregate>(&[], &[], recorded, events)
        .map_err(|e| SeedError::Projection(e.to_string()))
}

fn value_error(error: impl std::fmt::Display) -> SeedError {
    SeedError::Value(error.to_string())
}

/// A signer's fixed facts.
struct Party {
    party_id: &'static str,
    party_type: &'static str,
    notify_type: &'static str,
    name: String,
    id_card_no: String,
    mobile: String,
}

/// The events of contract `index` from initiation at `created` to its archive record, decided and
/// evolved by the aggregate, sealed and ready to append.
fn contract_life(
    template: &SeedTemplate,
    signature: &(SignatureImage, Digest),
    pii: &PiiCipher,
    index: u64,
    created: DateTime<Utc>,
) -> Result<SeededContract, SeedError> {
    let random = Uuid::new_v4().simple().to_string().to_uppercase();
    let contract_id = format!("CONTRACT_{}{}", created.format("%Y%m%d"), &random[..16]);
    let archive_id = format!("ARCHIVE_{}{}", created.format("%Y%m%d"), &random[16..]);
    let parties = [
        Party {
            party_id: "RECEIVER_001",
            party_type: "RECEIVER",
            notify_type: "SMS",
            name: person_name(index),
            id_card_no: id_card_number(index),
            mobile: mobile_number(index),
        },
        Party {
            party_id: "PAYER_001",
            party_type: "PAYER",
            notify_type: "H5_LINK",
            name: person_name(index + 7),
            id_card_no: id_card_number(index + 500_009),
            mobile: mobile_number(index + 500_009),
        },
    ];
    let request: ContractRequest = serde_json::from_value(json!({
        "bizId": format!("BIZ_{}", &random[..16]),
        "bizType": "RELATIONSHIP_AGREEMENT",
        "templateId": TEMPLATE_ID,
        "title": "天财分账资金归集授权协议",
        "variables": {
            "payerName": format!("品牌总部{:05}", index % 100_000),
            "receiverName": format!("门店{:06}", index % 1_000_000),
        },
        "signers": parties.iter().enumerate().map(|(order, party)| json!({
            "partyId": party.party_id,
            "partyType": party.party_type,
            "name": party.name,
            "idCardNo": party.id_card_no,
            "mobile": party.mobile,
            "signMethod": "FACE_AND_SMS",
            "notifyType": party.notify_type,
            "sequence": order + 1,
        })).collect::<Vec<_>>(),
        "callbackUrl": "https://auth.example.com/callback/e-sign",
        "webhookConfig": {"headers": {"Authorization": "Bearer bench-callback-token"}},
        "expireDays": 7,
        "archiveConfig": {"needArchive": true, "archiveProvider": "TSA"},
    }))
    .map_err(value_error)?;
    let preview = template
        .version
        .render_preview(&request.variable_texts())
        .map_err(value_error)?;
    let links: Vec<NewSignLink> = parties
        .iter()
        .map(|_| {
            Ok(NewSignLink {
                link_id: LinkId::parse(&Uuid::new_v4().simple().to_string())
                    .map_err(value_error)?,
                token_hash: sha256_digest(Uuid::new_v4().as_bytes())?,
            })
        })
        .collect::<Result<_, SeedError>>()?;

    let mut life = Life {
        state: ContractState::default(),
        events: Vec::new(),
    };
    let client_metadata = EventMetadata {
        actor: format!("client:{CLIENT_ID}"),
        client_id: Some(CLIENT_ID.to_owned()),
        ip: Some("10.20.0.8".to_owned()),
        user_agent: Some("auth-system/2.3".to_owned()),
        correlation_id: Some(Uuid::now_v7().to_string()),
        causation_id: None,
    };
    life.run(
        ContractCommand::Initiate(InitiateContract {
            contract_id: ContractId::parse(&contract_id).map_err(value_error)?,
            client_id: ClientId::parse(CLIENT_ID).map_err(value_error)?,
            request,
            template: Some(template.facts.clone()),
            preview_hash: Some(sha256_digest(preview.as_bytes())?),
            documents: Vec::new(),
            places: Vec::new(),
            sign_links: links.clone(),
            archive_id: ArchiveId::parse(&archive_id).map_err(value_error)?,
            link_lifetimes: aggregates::values::LinkLifetimes::default(),
            other_archive_ids: Vec::new(),
            seals: std::collections::BTreeMap::new(),
            mode: Mode::Development,
            now: created,
        }),
        &client_metadata,
    )?;

    // The receiver signs a few minutes in, the payer (whose H5 link lives 30 minutes) after them.
    let mut now = created;
    for (order, (party, link)) in parties.iter().zip(&links).enumerate() {
        now += TimeDelta::seconds(90 + 240 * order as i64 + (index % 60) as i64);
        signer_journey(&mut life, party, link, index, order, signature, now)?;
        now += TimeDelta::seconds(75);
    }

    let system = EventMetadata {
        actor: "system:sealing".to_owned(),
        correlation_id: Some(Uuid::now_v7().to_string()),
        ..EventMetadata::default()
    };
    let sealed_at = now + TimeDelta::seconds(2);
    let document_hash = sha256_digest(format!("{contract_id}.pdf").as_bytes())?;
    let certificate = |party_id: Option<&str>,
                       serial: String|
     -> Result<SealSignature, SeedError> {
        Ok(SealSignature {
            party_id: party_id
                .map(PartyId::parse)
                .transpose()
                .map_err(value_error)?,
            certificate_serial: CertificateSerial::parse(&serial).map_err(value_error)?,
            issuer: LongText::parse("CN=esign Intermediate CA, O=esign").map_err(value_error)?,
            not_before: sealed_at - TimeDelta::minutes(5),
            not_after: sealed_at + TimeDelta::days(365),
        })
    };
    let mut signatures = Vec::new();
    for party in &parties {
        signatures.push(certificate(
            Some(party.party_id),
            Uuid::new_v4().simple().to_string(),
        )?);
    }
    signatures.push(certificate(None, "5EA1".to_owned())?);
    life.run(
        ContractCommand::SealDocument(SealDocument {
            document_hash: document_hash.clone(),
            details: SealDetails {
                content_hash: Some(sha256_digest(preview.as_bytes())?),
                signatures,
                timestamp_authority: Some(LongText::parse("esign LOCAL_CA").map_err(value_error)?),
                timestamped_at: Some(sealed_at),
                document_timestamped_at: Some(sealed_at),
                document_timestamp_valid_until: Some(sealed_at + chrono::TimeDelta::days(365 * 10)),
            },
            now: sealed_at,
        }),
        &system,
    )?;
    let archive_id = ArchiveId::parse(&archive_id).map_err(value_error)?;
    life.run(
        ContractCommand::RequestArchive(RequestArchive {
            archive_id: archive_id.clone(),
            provider: ArchiveProvider::Tsa,
            now: sealed_at,
        }),
        &system,
    )?;
    let archived_at = sealed_at + TimeDelta::seconds(1);
    let transaction_no = format!("TSA_{}", &random[..16]);
    life.run(
        ContractCommand::RecordArchiveSuccess(RecordArchiveSuccess {
            provider: ArchiveProvider::Tsa,
            transaction_no: TransactionNo::parse(&transaction_no).map_err(value_error)?,
            certificate_url: Some(
                LongText::parse(&format!(
                    "/download/archives/{archive_id}/{}.pdf",
                    document_hash.as_hex()
                ))
                .map_err(value_error)?,
            ),
            authority: Some(LongText::parse("CN=esign TSA, O=esign").map_err(value_error)?),
            evidence: Some(json!({
                "format": "RFC3161",
                "token": timestamp_token(&random),
                "hashAlgorithm": "SHA-256",
                "documentHash": document_hash.as_hex(),
                "genTime": archived_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "serialNumber": &random[..16],
                "tsa": "CN=esign TSA, O=esign",
                "tsaCertificateSerial": "7A5C",
                "policy": "1.3.6.1.4.1.4146.2.3",
                "url": "https://tsa.example.com/rfc3161",
            })),
            now: archived_at,
        }),
        &system,
    )?;

    let stream_id = StreamId::new(ContractAggregate::NAME, &contract_id);
    let mut new_events = Vec::with_capacity(life.events.len());
    let mut decoded = Vec::with_capacity(life.events.len());
    for (event, metadata) in life.events {
        let payload = serde_json::to_value(&event).map_err(value_error)?;
        new_events.push(NewEvent {
            event_id: Uuid::now_v7(),
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            payload: pii.seal(payload)?,
            metadata,
        });
        decoded.push(event);
    }
    Ok(SeededContract {
        contract_id,
        request: AppendRequest {
            stream_id,
            expected_version: 0,
            events: new_events,
        },
        events: decoded,
    })
}

/// One signer from opening the link to signing, FACE_AND_SMS, as the signing page drives it.
fn signer_journey(
    life: &mut Life,
    party: &Party,
    link: &NewSignLink,
    index: u64,
    order: usize,
    (image, image_hash): &(SignatureImage, Digest),
    start: DateTime<Utc>,
) -> Result<(), SeedError> {
    let party_id = PartyId::parse(party.party_id).map_err(value_error)?;
    let link_id = link.link_id.clone();
    let ip: std::net::IpAddr = std::net::Ipv4Addr::new(
        100,
        64 + (index % 64) as u8,
        ((index / 64) % 256) as u8,
        10 + order as u8,
    )
    .into();
    let user_agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15";
    let metadata = EventMetadata {
        actor: format!("signer:{}", party.party_id),
        client_id: None,
        ip: Some(ip.to_string()),
        user_agent: Some(user_agent.to_owned()),
        correlation_id: Some(Uuid::now_v7().to_string()),
        causation_id: None,
    };
    let code_hash = sha256_digest(format!("{}{index}{order}", link_id.as_str()).as_bytes())?;
    let id_card_no =
        IdCardNumber::parse(&party.id_card_no, china_date(start)).map_err(value_error)?;
    let name = PersonName::parse(&party.name).map_err(value_error)?;
    let at = |seconds: i64| start + TimeDelta::seconds(seconds);
    let commands = [
        ContractCommand::OpenSignLink(OpenSignLink {
            party_id: party_id.clone(),
            link_id: link_id.clone(),
            ip_address: ip,
            user_agent: Some(UserAgent::parse(user_agent).map_err(value_error)?),
            now: at(0),
        }),
        ContractCommand::SendSmsCode(SendSmsCode {
            party_id: party_id.clone(),
            link_id: link_id.clone(),
            code_hash: code_hash.clone(),
            policy: Default::default(),
            now: at(8),
        }),
        ContractCommand::VerifySmsCode(VerifySmsCode {
            party_id: party_id.clone(),
            link_id: link_id.clone(),
            code_hash,
            policy: Default::default(),
            now: at(35),
        }),
        ContractCommand::RecordFaceVerification(RecordFaceVerification {
            party_id: party_id.clone(),
            link_id: link_id.clone(),
            verification: FaceVerificationFacts {
                verification_id: VerificationId::parse(&format!(
                    "FACE_{}",
                    Uuid::new_v4().simple()
                ))
                .map_err(value_error)?,
                status: VerificationStatus::Success,
                name,
                id_card_no,
                verified_at: Some(at(50)),
            },
            now: at(52),
        }),
        ContractCommand::Sign(Sign {
            party_id: party_id.clone(),
            link_id,
            signature_image: Some(image.clone()),
            signature_image_hash: Some(image_hash.clone()),
            ip_address: ip,
            device_info: DeviceInfo::parse("iPhone; iOS 17.4").map_err(value_error)?,
            transaction_no: TransactionNo::parse(&format!(
                "SIGN_{}",
                &Uuid::new_v4().simple().to_string()[..20]
            ))
            .map_err(value_error)?,
            revision: None,
            now: at(70),
        }),
    ];
    for command in commands {
        life.run(command, &metadata)?;
    }
    Ok(())
}

/// A contract's state and the events decided so far, each with the metadata its command carried.
struct Life {
    state: ContractState,
    events: Vec<(ContractEvent, EventMetadata)>,
}

impl Life {
    fn run(&mut self, command: ContractCommand, metadata: &EventMetadata) -> Result<(), SeedError> {
        let decided = ContractAggregate::decide(&self.state, command)
            .map_err(|e| SeedError::Domain(e.to_string()))?;
        for event in decided {
            ContractAggregate::evolve(&mut self.state, &event);
            self.events.push((event, metadata.clone()));
        }
        Ok(())
    }
}

fn sha256_digest(bytes: &[u8]) -> Result<Digest, SeedError> {
    Digest::parse(&hex::encode(Sha256::digest(bytes))).map_err(value_error)
}

/// Stand-in bytes of the size of a real RFC 3161 token (about 1.2 KB of DER), base64.
fn timestamp_token(seed: &str) -> String {
    use base64::Engine;
    let mut bytes = Vec::with_capacity(1_216);
    let mut block = Sha256::digest(seed.as_bytes());
    while bytes.len() < 1_216 {
        bytes.extend_from_slice(&block);
        block = Sha256::digest(block);
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A hand-drawn-looking signature: a 300x120 RGBA PNG with two strokes (about 1 KB), and its SHA-256.
fn signature_image() -> Result<(SignatureImage, Digest), SeedError> {
    let (width, height) = (300u32, 120u32);
    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height {
        for x in 0..width {
            let wave = 60.0 + 30.0 * (f64::from(x) / 23.0).sin();
            let ink = (f64::from(y) - wave).abs() < 2.0 || (x + 2 * y) % 151 < 2;
            pixels.extend_from_slice(if ink {
                &[20, 20, 20, 255]
            } else {
                &[0, 0, 0, 0]
            });
        }
    }
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(value_error)?;
    writer.write_image_data(&pixels).map_err(value_error)?;
    writer.finish().map_err(value_error)?;
    let hash = sha256_digest(&png_bytes)?;
    Ok((SignatureImage::parse(png_bytes).map_err(value_error)?, hash))
}

const SURNAMES: [&str; 16] = [
    "张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
];
const GIVEN_NAMES: [&str; 16] = [
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英",
    "晓东",
];

fn person_name(index: u64) -> String {
    format!(
        "{}{}",
        SURNAMES[(index % 16) as usize],
        GIVEN_NAMES[((index / 16) % 16) as usize]
    )
}

/// A valid 18-digit resident ID number (GB 11643 check digit), born 1960-1999.
fn id_card_number(index: u64) -> String {
    const REGIONS: [&str; 6] = ["110105", "310101", "440304", "330106", "510107", "420102"];
    let region = REGIONS[(index % 6) as usize];
    let year = 1960 + (index / 6) % 40;
    let month = 1 + (index / 240) % 12;
    let day = 1 + (index / 7) % 28;
    let sequence = (index / 3) % 1_000;
    let body = format!("{region}{year:04}{month:02}{day:02}{sequence:03}");
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

fn mobile_number(index: u64) -> String {
    const PREFIXES: [&str; 6] = ["138", "139", "150", "186", "177", "199"];
    format!(
        "{}{:08}",
        PREFIXES[(index % 6) as usize],
        (index * 7_919) % 100_000_000
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn generated_id_numbers_and_mobiles_are_accepted_by_the_domain() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        for index in [0, 1, 17, 999, 123_456, 55_555_555] {
            let id = id_card_number(index);
            assert!(IdCardNumber::parse(&id, today).is_ok(), "{id}");
            let mobile = mobile_number(index);
            assert!(
                aggregates::values::MobileNumber::parse(&mobile).is_ok(),
                "{mobile}"
            );
        }
    }

    #[test]
    fn a_contract_life_is_signed_sealed_and_archived() {
        let keys = BTreeMap::from([("k".to_owned(), PiiCipher::generate_key().unwrap())]);
        let pii = PiiCipher::new("k", &keys, &PiiCipher::generate_key().unwrap()).unwrap();
        let request: TemplateRequest = serde_json::from_value(json!({
            "templateId": TEMPLATE_ID, "name": "模板", "version": "1.0",
            "category": "RELATIONSHIP_AGREEMENT", "content": "<p>{{payerName}} {{receiverName}}</p>",
            "variableDefinitions": [
                {"key": "payerName", "name": "付款方", "required": true},
                {"key": "receiverName", "name": "收款方", "required": true}
            ],
            "active": true
        }))
        .unwrap();
        let now = Utc::now();
        let events = TemplateAggregate::decide(
            &Default::default(),
            TemplateCommand::Publish(aggregates::template::PublishVersion {
                request,
                actor: ClientId::parse(CLIENT_ID).unwrap(),
                now,
            }),
        )
        .unwrap();
        let state = TemplateAggregate::replay(events.iter());
        let published = state.template().unwrap();
        let version = published.current_version().unwrap();
        let template = SeedTemplate {
            facts: published.facts(version),
            version: version.clone(),
        };
        let seeded = contract_life(
            &template,
            &signature_image().unwrap(),
            &pii,
            42,
            now - TimeDelta::days(1),
        )
        .unwrap();
        let types: Vec<&str> = seeded
            .request
            .events
            .iter()
            .map(|event| event.event_type.as_str())
            .collect();
        // The first signer is invited by SMS (`SmsInvitationRequested`).
        assert_eq!(types.len(), 19, "{types:?}");
        assert_eq!(types[0], "ContractInitiated");
        assert!(types.contains(&"ContractSigned"));
        assert_eq!(types.last(), Some(&"ArchiveSucceeded"));
        let state = ContractAggregate::replay(seeded.events.iter());
        assert!(matches!(state, ContractState::Signed { .. }));
        let sealed = seeded.request.events[0].payload.as_value().to_string();
        assert!(
            !sealed.contains(&id_card_number(42)),
            "personal data is sealed"
        );
    }
}
