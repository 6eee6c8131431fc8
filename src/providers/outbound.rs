//! Outbound HTTP clients (providers, message centre, callbacks) on one TLS stack: rustls with the
//! ring provider, system roots, no proxies from the environment.

use std::time::Duration;

/// Installs ring as the process's TLS provider; later calls find it installed and change nothing.
fn install_tls_provider() {
    // `Err` only means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client builder with the common settings: `timeout` for the whole exchange, a short connect
/// timeout, no redirects (a provider or receiver redirecting us is an error, not an instruction).
pub fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("esign/", env!("CARGO_PKG_VERSION")))
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build an HTTP client: {0}")]
pub struct ClientBuildError(String);

impl ClientBuildError {
    pub fn new(reason: String) -> Self {
        Self(reason)
    }
}

/// A ready client with [`client_builder`]'s settings.
pub fn client(timeout: Duration) -> Result<reqwest::Client, ClientBuildError> {
    client_builder(timeout)
        .build()
        .map_err(|error| ClientBuildError(error.to_string()))
}
