//! `esign migrate`: applies pending database migrations and exits.

use std::process::ExitCode;

use crate::app::config::Config;
use crate::store::Store;

pub(super) async fn run(config: Config) -> Result<ExitCode, Box<dyn std::error::Error>> {
    // Opening a store migrates it.
    let store = Store::open(&config.database.url, 1).await?;
    println!("database migrated ({})", store.backend_name());
    Ok(ExitCode::SUCCESS)
}
