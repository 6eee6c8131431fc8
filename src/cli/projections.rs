//! `esign projections rebuild [--check]`: every query table rebuilt from the log into shadow
//! tables, compared with the live ones and, without `--check`, swapped in while the service runs.

use std::process::ExitCode;
use std::sync::Arc;

use crate::app::config::Config;
use crate::store::Store;

pub(super) async fn rebuild(
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
