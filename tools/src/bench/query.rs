//! The `query` scenario: `GET /api/v1/contract/{id}` for contracts picked at random from a large
//! store, from N connections.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;

use super::client::SignedClient;
use super::load::{self, Level};

/// Runs the scenario at each connection count over `contract_ids` (which the caller owns).
pub async fn run(
    client: &SignedClient,
    service_pid: u32,
    contract_ids: Arc<Vec<String>>,
    connections: &[usize],
    warmup: Duration,
    duration: Duration,
) -> Vec<Level> {
    let mut levels = Vec::new();
    if contract_ids.is_empty() {
        return levels;
    }
    for &n in connections {
        let client = client.clone();
        let ids = Arc::clone(&contract_ids);
        let level = load::run(n, warmup, duration, Some(service_pid), move |_, _| {
            let client = client.clone();
            let id = &ids[rand::rng().random_range(0..ids.len())];
            let path = format!("/api/v1/contract/{id}");
            async move { client.get(&path).await.map(|_| ()) }
        })
        .await;
        levels.push(level);
    }
    levels
}
