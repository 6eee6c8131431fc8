//! The `esign-fuzz-seeds` binary: rewrites the seed corpus of the fuzz targets (see
//! docs/fuzzing.md).
#![allow(clippy::print_stdout)] // Saying what was written is this binary's job.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "esign-fuzz-seeds",
    version,
    about = "Write the seed corpus of esign's fuzz targets (<corpus>/<target>/seed-<name>)"
)]
struct Cli {
    /// The corpus directory (default: the workspace's fuzz/corpus, wherever this runs from).
    #[arg(long)]
    corpus: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let corpus = cli.corpus.unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or(Path::new(".."))
            .join("fuzz")
            .join("corpus")
    });
    match esign_tools::fuzzing::seeds::write(&corpus) {
        Ok(count) => {
            println!("wrote {count} seeds to {}", corpus.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("esign-fuzz-seeds: {}: {error}", corpus.display());
            ExitCode::FAILURE
        }
    }
}
