//! `esign ca init`: the platform CA (root, intermediate, TSA and seal certificates) with encrypted
//! keys; see docs/trust.md.

use std::process::ExitCode;

use crate::app::config::Config;

pub(super) fn init(config: &Config, force: bool) -> Result<ExitCode, Box<dyn std::error::Error>> {
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
