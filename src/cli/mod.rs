//! The `esign` command line: `serve`, `sandbox`, `migrate`, `audit verify|replay`,
//! `projections rebuild`, `clients add|list`, `callbacks list|show|redeliver`,
//! `archives retry`, `ca init|revoke|root-crl`. Here are
//! the clap definitions and the dispatch; each subcommand runs in a file of its own, and `logging`
//! sets up the log subscriber every subcommand shares.
#![allow(clippy::print_stdout)] // Printing is this module's job.

mod archives;
mod audit;
mod ca;
mod callbacks;
mod clients;
mod logging;
mod migrate;
mod projections;
mod sandbox;
mod serve;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::config::Config;

pub use logging::init_tracing;

#[derive(Debug, Parser)]
#[command(
    name = "esign",
    version,
    about = "E-signature and identity verification on a hash-chained event log"
)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalOptions,
    #[command(subcommand)]
    command: Command,
}

/// The options every command takes, here and in the tools built on this command line.
#[derive(Debug, clap::Args)]
pub struct GlobalOptions {
    /// Configuration file (default: esign.toml when present). ESIGN_{SECTION}_{KEY} variables override it.
    #[arg(long, global = true, env = "ESIGN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    pub log_json: bool,
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
    /// Archive records of signed contracts: retry failed ones (see docs/archive.md).
    #[command(subcommand)]
    Archives(ArchivesCommand),
    /// The platform CA (see docs/trust.md).
    #[command(subcommand)]
    Ca(CaCommand),
}

#[derive(Debug, Subcommand)]
enum ArchivesCommand {
    /// Give a contract's FAILED archive records (or one provider's) fresh attempts: recorded in
    /// the contract's log with the operator; a running service's archive sweep makes them.
    Retry {
        /// The contract's id.
        contract_id: String,
        /// Only this provider's record (TSA, BLOCKCHAIN or LOCAL_CA); default every failed one.
        #[arg(long)]
        provider: Option<String>,
        /// Who orders the retry (recorded with the order).
        #[arg(long)]
        operator: String,
        /// Why (recorded with the order).
        #[arg(long)]
        reason: Option<String>,
    },
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
    /// Revoke a certificate the intermediate issued: recorded as an event, listed from then on by
    /// the CRL (`/ca/intermediate.crl`) and the OCSP responder (`/ca/ocsp`).
    Revoke {
        /// The serial number in hexadecimal, as `openssl x509 -noout -serial` prints it.
        serial: String,
        /// unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation.
        #[arg(long)]
        reason: String,
        /// Who revokes (recorded with the revocation).
        #[arg(long)]
        operator: String,
    },
    /// Sign a new root CRL with the root key (run where root.key is kept; valid for a year) and
    /// write it as root.crl beside the CA files, where `/ca/root.crl` serves it.
    RootCrl,
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
    init_tracing(cli.global.log_json);
    block_on("esign", run(cli))
}

/// Runs a command on a multi-threaded runtime and maps its outcome to an exit code; an error is
/// printed as `<program>: <error>`.
pub fn block_on(
    program: &str,
    command: impl Future<Output = Result<ExitCode, Box<dyn std::error::Error>>>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{program}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{program}: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let config = Config::load(cli.global.config.as_deref(), std::env::vars())?;
    match cli.command {
        Command::Serve { bench_plain_crud } => serve::run(config, bench_plain_crud).await,
        Command::Sandbox => sandbox::run(config).await,
        Command::Migrate => migrate::run(config).await,
        Command::Audit(AuditCommand::Verify { stream, json }) => {
            audit::verify(config, stream, json).await
        }
        Command::Audit(AuditCommand::Replay {
            stream,
            json,
            report,
        }) => audit::replay(config, stream, json, report).await,
        Command::Clients(command) => clients::run(config, command).await,
        Command::Callbacks(command) => callbacks::run(config, command).await,
        Command::Archives(ArchivesCommand::Retry {
            contract_id,
            provider,
            operator,
            reason,
        }) => archives::retry(config, contract_id, provider, operator, reason).await,
        Command::Ca(CaCommand::Init { force }) => ca::init(&config, force),
        Command::Ca(CaCommand::Revoke {
            serial,
            reason,
            operator,
        }) => ca::revoke(config, serial, reason, operator).await,
        Command::Ca(CaCommand::RootCrl) => ca::root_crl(&config),
        Command::Projections(ProjectionsCommand::Rebuild { check, json }) => {
            projections::rebuild(config, check, json).await
        }
    }
}
