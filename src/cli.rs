//! The `esign` command line: `serve`, `sandbox`, `migrate`, `audit verify|replay`,
//! `projections rebuild`, `clients add|list`, `callbacks list|show|redeliver`, `ca init`.
#![allow(clippy::print_stdout)] // Printing is this module's job.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::app::config::Config;
use crate::http::server::{self as startup, Application};
use crate::read::audit;
use crate::store::chain::{self};
use crate::store::clients::{ClientRegistry, ClientSource, NewClient};
use crate::store::{EventStore, Store, StreamId};

#[derive(Debug, Parser)]
#[command(
    name = "esign",
    version,
    about = "E-signature and identity verification on a hash-chained event log"
)]
pub struct Cli {
    /// Configuration file (default: esign.toml when present). ESIGN_<SECTION>_<KEY> variables override it.
    #[arg(long, global = true, env = "ESIGN_CONFIG")]
    config: Option<PathBuf>,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service (migrates the database first).
    Serve {
        /// Benchmarks only: write contracts as plain rows with no events (no audit trail), to measure
        /// what the log costs. Refused in production mode. See docs/benchmarks.md.
        #[arg(long, hide = true)]
        bench_plain_crud: bool,
    },
    /// Run the sandbox face provider alone (development only; see docs/face-providers.md). Uses
    /// `[sandbox] bind`, `secret` and `public_base_url`.
    Sandbox,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Compliance tools over the event log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Query tables (read models) and the log they come from.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// API clients that sign requests (configured ones are listed too).
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// The callback outbox: list callbacks and their attempts, redeliver dead letters.
    #[command(subcommand)]
    Callbacks(CallbacksCommand),
    /// The platform CA (see docs/trust.md).
    #[command(subcommand)]
    Ca(CaCommand),
}

#[derive(Debug, Subcommand)]
enum CaCommand {
    /// Create the root, the intermediate and the TSA certificate under `[trust] dir` (default
    /// `<data_dir>/trust`), keys encrypted with `[trust] key_encryption_key`.
    Init {
        /// Replace an existing CA (certificates it issued stop chaining to the new root).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CallbacksCommand {
    /// The newest callbacks (and broker publications), optionally of one status.
    List {
        /// PENDING, DELIVERING, DELIVERED or DEAD.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One callback with every delivery attempt.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Schedule a callback for delivery now with a fresh set of attempts (same event id).
    Redeliver { id: i64 },
}

#[derive(Debug, Subcommand)]
enum ClientsCommand {
    /// Store a new client and print its secret, once.
    Add {
        /// The client id callers send as X-Client-Id (A-Z a-z 0-9 . _ -).
        #[arg(long)]
        id: String,
        /// May use the administrative endpoints.
        #[arg(long)]
        admin: bool,
        /// Only accept requests from this CIDR range or address; repeat for several. None: any address.
        #[arg(long = "allowed-ip", value_name = "CIDR")]
        allowed_ips: Vec<String>,
    },
    /// List every client: id, admin flag, allowed addresses, where it is defined. Never secrets.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute every hash chain (or one stream's); exits 2 at the first broken link.
    Verify {
        /// Only this stream (`contract-<id>`, or a bare contract/verification/template id).
        #[arg(long)]
        stream: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print one stream's timeline with every link checked; personal data is masked.
    Replay {
        /// `contract-<id>`, `verification-<id>`, `template-<id>`, or a bare id.
        stream: String,
        /// Print the timeline as JSON.
        #[arg(long)]
        json: bool,
        /// Also write the evidence report as a PDF sealed and timestamped by the platform.
        #[arg(long, value_name = "FILE")]
        report: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ProjectionsCommand {
    /// Rebuild every query table from the log into shadow tables and compare them with the live ones.
    Rebuild {
        /// Only compare; leave the live tables as they are. Without it the rebuilt tables replace the
        /// live ones, while the service keeps running.
        #[arg(long)]
        check: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Parses the command line, runs the command, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    main_from(std::env::args_os())
}

/// [`main`] with the arguments given (the first names the program): `esign-bench` runs the service
/// and the operator commands it measures through this, from its own executable.
pub fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::parse_from(args);
    init_tracing(cli.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("esign: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("esign: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Logs at `RUST_LOG` (default `info`). The PostgreSQL driver logs every statement's parameters at
/// debug level, and parameters carry credentials and personal data, so it stays at `info` unless
/// `RUST_LOG` names it on purpose. `esign-bench` logs the same way.
pub fn init_tracing(json: bool) {
    let requested = std::env::var("RUST_LOG").unwrap_or_default();
    let mut filter = tracing_subscriber::EnvFilter::try_new(&requested)
        .ok()
        .filter(|_| !requested.trim().is_empty())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    if !requested.contains("tokio_postgres") {
        if let Ok(directive) = "tokio_postgres=info".parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let config = Config::load(cli.config.as_deref(), std::env::vars())?;
    match cli.command {
        Command::Serve { bench_plain_crud } => {
            let write_mode = if bench_plain_crud {
                crate::app::pipeline::WriteMode::PlainCrudBench
            } else {
                crate::app::pipeline::WriteMode::EventSourced
            };
            serve(config, write_mode).await
        }
        Command::Sandbox => sandbox(config).await,
        Command::Migrate => {
            let store = Store::open(&config.database.url, 1).await?;
            println!("database migrated ({})", store.backend_name());
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify { stream, json }) => verify(config, stream, json).await,
        Command::Audit(AuditCommand::Replay {
            stream,
            json,
            report,
        }) => replay(config, stream, json, report).await,
        Command::Clients(command) => clients(config, command).await,
        Command::Callbacks(command) => callbacks(config, command).await,
        Command::Ca(CaCommand::Init { force }) => {
            let files = crate::trust::ca::init(&config.trust_settings(), force)?;
            println!("created the platform CA in {}", files.dir.display());
            for path in [
                files.root_cert(),
                files.intermediate_cert(),
                files.tsa_cert(),
                files.seal_cert(),
                files.chain(),
            ] {
                println!("  certificate: {}", path.display());
            }
            for path in [
                files.root_key(),
                files.intermediate_key(),
                files.tsa_key(),
                files.seal_key(),
            ] {
                println!("  encrypted key: {}", path.display());
            }
            println!("keep a copy of root.key offline; the service does not need it");
            Ok(ExitCode::SUCCESS)
        }
        Command::Projections(ProjectionsCommand::Rebuild { check, json }) => {
            rebuild(config, check, json).await
        }
    }
}

async fn serve(
    config: Config,
    write_mode: crate::app::pipeline::WriteMode,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let application = Application::build_with_write_mode(config, write_mode).await?;
    let address = application.local_addr()?;
    let backend = application.state().store.backend_name();
    // A service must not die because whoever started it stopped reading its output.
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "esign listening on http://{address} (database: {backend})"
    );
    if let Some(client) = application.development_client() {
        let _ = writeln!(
            out,
            "created development client {:?} (admin); its secret, shown only now: {}",
            client.id, client.secret
        );
    }
    if let Some(sandbox) = &application.state().face.sandbox_url {
        let _ = writeln!(
            out,
            "sandbox face provider (development) listening on {sandbox}"
        );
    }
    let _ = out.flush();
    tracing::info!(%address, backend, "esign started");
    application
        .run_until_stopped(startup::shutdown_signal())
        .await?;
    Ok(ExitCode::SUCCESS)
}

async fn sandbox(config: Config) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if config.server.mode == aggregates::values::Mode::Production {
        return Err(crate::providers::sandbox::SandboxError::Production.into());
    }
    let (secret, generated) = match &config.sandbox.secret {
        Some(secret) => (secret.clone(), false),
        None => (crate::providers::sandbox::generate_secret(), true),
    };
    let sandbox = crate::providers::sandbox::Sandbox::bind(
        config.sandbox.bind,
        crate::providers::sandbox::SandboxSettings {
            secret: secret.clone(),
            public_base_url: config.sandbox.public_base_url.clone(),
        },
    )
    .await?;
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "sandbox face provider listening on {} (tasks are kept in memory)",
        sandbox.base_url()
    );
    if generated {
        let _ = writeln!(
            out,
            "generated secret (set it as [face.provider.<name>] secret in esign): {secret}"
        );
    }
    let _ = out.flush();
    sandbox
        .run_until_stopped(startup::shutdown_signal())
        .await?;
    Ok(ExitCode::SUCCESS)
}

async fn clients(
    config: Config,
    command: ClientsCommand,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let cipher = Arc::new(config.pii_cipher()?);
    let store = Store::open(&config.database.url, 2).await?;
    let registry = ClientRegistry::new(&config.clients, store, cipher)?;
    match command {
        ClientsCommand::Add {
            id,
            admin,
            allowed_ips,
        } => {
            let issued = registry
                .add(NewClient {
                    id,
                    admin,
                    allowed_ips,
                })
                .await?;
            let ranges = if issued.allowed_ips.is_empty() {
                "any address".to_owned()
            } else {
                issued
                    .allowed_ips
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            println!("client id:   {}", issued.id);
            println!("secret:      {}", issued.secret);
            println!("admin:       {}", issued.admin);
            println!("allowed IPs: {ranges}");
            println!();
            println!(
                "Store the secret now: it is kept encrypted and cannot be shown again. \
                 Sign with its text exactly as printed (see docs/request-signing.md)."
            );
        }
        ClientsCommand::List { json } => {
            let clients = registry.list().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&clients)?);
            } else if clients.is_empty() {
                println!("no clients");
            } else {
                for client in clients {
                    let ranges = if client.allowed_ips.is_empty() {
                        "any address".to_owned()
                    } else {
                        client.allowed_ips.join(", ")
                    };
                    let source = match client.source {
                        ClientSource::Config => "config",
                        ClientSource::Database => "database",
                    };
                    println!(
                        "{}\tadmin={}\tfrom={}\tsource={}",
                        client.id, client.admin, ranges, source
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn callbacks(
    config: Config,
    command: CallbacksCommand,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    use crate::store::outbox::DeliveryStatus;
    let store = Store::open(&config.database.url, 2).await?;
    match command {
        CallbacksCommand::List {
            status,
            limit,
            json,
        } => {
            let status = match status.as_deref() {
                None => None,
                Some(text) => Some(DeliveryStatus::parse(text).ok_or_else(|| {
                    format!("--status {text:?}: use PENDING, DELIVERING, DELIVERED or DEAD")
                })?),
            };
            let callbacks = store.outbox().list(status, limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&callbacks)?);
            } else if callbacks.is_empty() {
                println!("no callbacks");
            } else {
                for callback in callbacks {
                    println!(
                        "{}\t{}\t{}\t{}\tattempts={}\t{} v{}\t{}\t{}",
                        callback.id,
                        callback.status,
                        callback.destination,
                        callback.event_type,
                        callback.attempts,
                        callback.stream_id,
                        callback.stream_version,
                        callback.target,
                        callback.last_error.unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CallbacksCommand::Show { id, json } => {
            let Some(callback) = store.outbox().find(id).await? else {
                eprintln!("esign: no callback {id}");
                return Ok(ExitCode::from(2));
            };
            let attempts = store.outbox().attempts(id).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"callback": callback, "attempts": attempts})
                    )?
                );
            } else {
                println!("{}", serde_json::to_string_pretty(&callback)?);
                for attempt in attempts {
                    println!(
                        "attempt {}\t{}\t{} ms\tHTTP {}\t{}\t{}",
                        attempt.attempt,
                        attempt
                            .started_at
                            .map(|time| time.to_rfc3339())
                            .unwrap_or_default(),
                        attempt.latency_ms,
                        attempt
                            .http_status
                            .map(|status| status.to_string())
                            .unwrap_or_else(|| "-".into()),
                        attempt.outcome,
                        attempt.error.unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CallbacksCommand::Redeliver { id } => {
            match store.outbox().redeliver(id, chrono::Utc::now()).await? {
                None => {
                    eprintln!("esign: no callback {id}");
                    Ok(ExitCode::from(2))
                }
                Some(callback) if callback.status != DeliveryStatus::Pending.as_str() => {
                    eprintln!(
                        "esign: callback {id} is {} right now; try again when the attempt ends",
                        callback.status
                    );
                    Ok(ExitCode::from(3))
                }
                Some(callback) => {
                    println!(
                        "callback {} ({}, event {}) will be delivered again by a running service",
                        callback.id, callback.event_type, callback.event_id
                    );
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
    }
}

async fn verify(
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

async fn replay(
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
    let platform = crate::app::sealing::PlatformSeal::from_config(config)?
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
            signatures =
                crate::app::verify::validate_signatures(&bytes, &[platform.ca().root().clone()])
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

async fn rebuild(
    config: Config,
    check: bool,
    json: bool,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if !check {
        let cipher = std::sync::Arc::new(config.pii_cipher()?);
        let store = Store::open(&config.database.url, 4).await?;
        let report = crate::read::rebuild::rebuild(&store, &cipher).await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!(
                "rebuilt the query tables from {} events in {} streams and swapped them in \
                 ({} streams written meanwhile were projected again)",
                report.events, report.streams, report.caught_up_streams
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let cipher = Arc::new(config.pii_cipher()?);
    let store = Store::open(&config.database.url, 4).await?;
    let report = crate::read::rebuild::check(&store, &cipher).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "rebuilt {} streams ({} events) into shadow tables",
            report.streams, report.events
        );
        for table in &report.tables {
            println!(
                "  {:<18} {:>8} rows rebuilt, {:>6} live rows differ or are extra, {:>6} rebuilt rows differ or are missing",
                table.table, table.rebuilt_rows, table.only_live, table.only_rebuilt
            );
        }
        println!(
            "{}",
            if report.matches() {
                "the live tables match the log"
            } else {
                "DIFFERENCES FOUND"
            }
        );
    }
    Ok(if report.matches() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
