//! `esign clients add|list`: the API clients that sign requests, stored ones and configured ones.

use std::process::ExitCode;
use std::sync::Arc;

use super::ClientsCommand;
use crate::app::config::Config;
use crate::store::Store;
use crate::store::clients::{ClientRegistry, ClientSource, NewClient};

pub(super) async fn run(
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
