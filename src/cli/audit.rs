//! `esign audit verify|replay`: every hash chain recomputed, or one stream's timeline with every
//! link checked, and with `--report` the evidence report as a PDF sealed by the platform.

use std::process::ExitCode;

use crate::app::config::Config;
use crate::read::audit;
use crate::store::chain::{self};
use crate::store::{EventStore, Store, StreamId};

/// `audit verify`: every chain, or one stream's; exits 2 at a broken link.
pub(super) async fn verify(
    config: Config,
    stream: Option<String>,
    json: bool,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let store = Store::open(&config.database.url, 2).await?;
    let started = std::time::Instant::now();
    let report = match stream {
        Some(name) => {
            let stream_id = resolve(&store, &name).await?;
            chain::verify_stream(&store, &stream_id).await?
        }
        None => chain::verify_all(&store, 5_000).await?,
    };
    let seconds = started.elapsed().as_secs_f64();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "verified {} events in {} streams in {:.2} s",
            report.events, report.streams, seconds
        );
        match &report.first_break {
            None => println!("every hash chain is intact"),
            Some(broken) => println!(
                "first broken link: stream {} version {} (global position {}, event {}): {}",
                broken.stream_id,
                broken.stream_version,
                broken.global_position,
                broken.event_id,
                audit::describe_break(&broken.kind)
            ),
        }
    }
    Ok(if report.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `audit replay`: one stream's timeline, personal data masked; exits 2 when its chain is broken.
pub(super) async fn replay(
    config: Config,
    stream: String,
    json: bool,
    report: Option<std::path::PathBuf>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let cipher = config.pii_cipher()?;
    let store = Store::open(&config.database.url, 2).await?;
    let stream_id = resolve(&store, &stream).await?;
    let events = store.read_stream(&stream_id, 0).await?;
    let timeline = audit::timeline(stream_id, &events, &cipher);
    if json {
        println!("{}", serde_json::to_string_pretty(&timeline)?);
    } else {
        print!("{}", audit::render_text(&timeline));
    }
    if let Some(path) = report {
        write_evidence_report(&config, &store, &timeline, &path).await?;
        eprintln!("evidence report written to {}", path.display());
    }
    Ok(if timeline.chain_intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `audit replay --report`: the timeline, and for a contract its sealed document's signatures and
/// archive records, as a PDF carrying the platform seal and a timestamp.
async fn write_evidence_report(
    config: &Config,
    store: &Store,
    timeline: &audit::Timeline,
    path: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let platform = crate::app::services::platform_seal_from_config(config)?
        .ok_or("no platform CA is configured: run `esign ca init` first")?;
    let mut signatures = Vec::new();
    let mut archives = Vec::new();
    if timeline.stream_id.kind()
        == <aggregates::contract::ContractAggregate as aggregates::Aggregate>::NAME
    {
        let contract_id = timeline.stream_id.id();
        let contract = store.contracts().by_id(contract_id).await?;
        if let Some(hash) = contract.as_ref().and_then(|row| row.text("document_hash")) {
            let documents = crate::app::services::document_store(&config.document_settings())?;
            let bytes = documents
                .get(
                    &crate::app::sealing::document_storage_key(contract_id, hash),
                    hash,
                )
                .await?;
            let personal =
                crate::trust::personal::PersonalRoots::load(&config.trust.personal_ca_roots)?;
            signatures = crate::app::document_verification::validate_signatures_with(
                &bytes,
                crate::documents::validate::Anchors {
                    platform: &[platform.ca().root().clone()],
                    personal: personal.anchors(),
                },
            )
            .signatures;
        }
        let rows = store.contracts().archives(contract_id).await?;
        archives = rows
            .iter()
            .map(|row| {
                let metadata = row.json("metadata_json").unwrap_or_default();
                crate::documents::evidence::ArchiveRecord {
                    provider: row.text("archive_provider").unwrap_or_default().to_owned(),
                    archive_id: row.text("archive_id").unwrap_or_default().to_owned(),
                    status: row.text("status").unwrap_or_default().to_owned(),
                    archived_at: row.time("archive_time"),
                    authority: metadata["authority"].as_str().map(str::to_owned),
                    transaction_no: row.text("transaction_no").map(str::to_owned),
                }
            })
            .collect();
    }
    let now = chrono::Utc::now();
    let report = audit::evidence_report(timeline, signatures, archives, now);
    let layout = crate::documents::evidence::evidence_layout(&report);
    let sealed = platform.seal_layout(&layout, now).await?;
    std::fs::write(path, sealed)?;
    Ok(())
}

async fn resolve(store: &Store, name: &str) -> Result<StreamId, Box<dyn std::error::Error>> {
    audit::resolve_stream(store, name)
        .await?
        .ok_or_else(|| format!("no stream named {name:?} has events").into())
}
