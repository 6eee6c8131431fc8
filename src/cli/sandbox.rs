//! `esign sandbox`: the sandbox face provider alone, as an HTTP service of its own (development
//! only; see docs/face-providers.md).

use std::io::Write as _;
use std::process::ExitCode;

use crate::app::config::Config;
use crate::http::server as startup;

pub(super) async fn run(config: Config) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if config.server.mode == aggregates::values::Mode::Production {
        return Err(crate::providers::sandbox::SandboxError::Production.into());
    }
    let (secret, generated) = match &config.sandbox.secret {
        Some(secret) => (secret.clone(), false),
        None => (crate::providers::sandbox::generate_secret(), true),
    };
    let sandbox =
        crate::providers::sandbox::Sandbox::start(&config.sandbox, secret.clone()).await?;
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
