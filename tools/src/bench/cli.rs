//! The `esign-bench` command line: `append`, `http`, `journey`, `callbacks`, `seed`, `rebuild`,
//! `verify`. Started as `esign-bench esign ...` it is the `esign` command line instead: that is how
//! the bench runs the service and the operator commands it measures
//! (see [`super::service::esign_command`]).
#![allow(clippy::print_stdout)] // Printing the results is this module's job.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use esign::app::config::Config;

use super::service::RUN_ESIGN;
use super::{
    AppendOptions, CallbacksOptions, JourneyOptions, SeedOptions, Tool, ToolOptions, http,
};

#[derive(Debug, Parser)]
#[command(
    name = "esign-bench",
    version,
    about = "Load generators for esign: they measure, they assert nothing (see docs/benchmarks.md)"
)]
pub struct Cli {
    #[command(flatten)]
    global: esign::cli::GlobalOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Append throughput with 1..N concurrent writers, each on its own stream.
    Append(AppendOptions),
    /// Starts the service on a database and drives its HTTP API: initiate, query.
    Http(http::HttpOptions),
    /// Whole two-signer journeys through the H5 pages, to sealed and archived.
    Journey(JourneyOptions),
    /// Callback delivery from the outbox to a receiver inside the bench.
    Callbacks(CallbacksOptions),
    /// Fill a database with signed two-signer contracts (realistic event streams, query tables filled).
    Seed(SeedOptions),
    /// Time `projections rebuild` as a child process: events/s, peak memory, CPU.
    Rebuild(ToolOptions),
    /// Time `audit verify` as a child process: events/s, peak memory, CPU.
    Verify(ToolOptions),
}

/// Parses the command line, runs the load generator, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|first| first == RUN_ESIGN)
    {
        // Without this executable's own name, `esign` stands first and names the program.
        return esign::cli::main_from(std::env::args_os().skip(1));
    }
    let cli = Cli::parse();
    esign::cli::init_tracing(cli.global.log_json);
    esign::cli::block_on("esign-bench", run(cli))
}

async fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    // Loaded for every command, as `esign` loads it: a broken configuration fails before any load.
    let config = Config::load(cli.global.config.as_deref(), std::env::vars())?;
    let config_path = cli.global.config;
    match cli.command {
        Command::Append(options) => {
            let results = super::append(&options).await?;
            print!("{}", super::render_append(&results));
            if let Some(path) = &options.json {
                std::fs::write(path, serde_json::to_vec_pretty(&results)?)?;
            }
        }
        Command::Http(options) => {
            let runs = http::run(&options).await?;
            print!("{}", http::render(&runs));
            if let Some(path) = &options.json {
                std::fs::write(
                    path,
                    serde_json::to_vec_pretty(&serde_json::json!({"runs": runs}))?,
                )?;
            }
        }
        Command::Journey(options) => {
            let result = super::journey(&options).await?;
            print!("{}", super::render_journey(&result));
            if let Some(path) = &options.json {
                std::fs::write(path, serde_json::to_vec_pretty(&result)?)?;
            }
        }
        Command::Seed(options) => {
            let result = super::seed(&options, Arc::new(config.pii_cipher()?)).await?;
            print!("{}", super::render_seed(&result));
            if let Some(path) = &options.json {
                std::fs::write(path, serde_json::to_vec_pretty(&result)?)?;
            }
        }
        Command::Callbacks(options) => {
            let result = super::callbacks(&options).await?;
            print!("{}", super::render_callbacks(&result));
            if let Some(path) = &options.json {
                std::fs::write(path, serde_json::to_vec_pretty(&result)?)?;
            }
        }
        Command::Rebuild(options) => {
            tool(Tool::Rebuild, &options, config_path.as_deref()).await?;
        }
        Command::Verify(options) => {
            tool(Tool::Verify, &options, config_path.as_deref()).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Times one operator command, run with the same configuration file as this command.
async fn tool(
    tool: Tool,
    options: &ToolOptions,
    config: Option<&Path>,
) -> Result<(), Box<dyn std::error::Error>> {
    let result = super::run_tool(tool, options, config).await?;
    print!("{}", super::render_tool(std::slice::from_ref(&result)));
    if let Some(path) = &options.json {
        std::fs::write(path, serde_json::to_vec_pretty(&result)?)?;
    }
    Ok(())
}
