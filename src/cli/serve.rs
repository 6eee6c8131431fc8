//! `esign serve`: the service (migrated first), until SIGTERM or ctrl-c stops it gracefully.

use std::io::Write as _;
use std::process::ExitCode;

use crate::app::config::Config;
use crate::http::server::{self as startup, Application};

/// `bench_plain_crud`: contracts are written as plain rows with no events, to measure what the log
/// costs (benchmarks only; the service refuses it in production mode).
pub(super) async fn run(
    config: Config,
    bench_plain_crud: bool,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let write_mode = if bench_plain_crud {
        crate::app::pipeline::WriteMode::PlainCrudBench
    } else {
        crate::app::pipeline::WriteMode::EventSourced
    };
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
