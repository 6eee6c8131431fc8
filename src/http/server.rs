//! The HTTP side of running the service: bind the listener, serve the router over the services,
//! run the background workers beside it, stop gracefully.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::app::config::Config;
use crate::app::pipeline::WriteMode;
use crate::app::services::{Services, Started};
use crate::http::auth::RequestAuthenticator;
use crate::http::{self, AppState};
use crate::store::clients::IssuedClient;

pub use crate::app::services::StartupError as ServicesError;

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Services(#[from] ServicesError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// The service, bound to its port but not yet serving.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    /// `/metrics` on an address of its own (`metrics.bind`).
    metrics_listener: Option<TcpListener>,
    state: AppState,
    development_client: Option<IssuedClient>,
}

impl Application {
    /// Opens the store (migrating it) and binds the configured address; port 0 picks a free port.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with_write_mode(config, WriteMode::EventSourced).await
    }

    /// Like [`Application::build`], writing contracts as `write_mode` says (see [`WriteMode`]).
    pub async fn build_with_write_mode(
        config: Config,
        write_mode: WriteMode,
    ) -> Result<Self, StartupError> {
        let address = config.server.bind;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartupError::Bind { address, source })?;
        Self::build_on_with_write_mode(config, listener, write_mode).await
    }

    /// Like [`Application::build`], on a listener bound by the caller (who may then know the port
    /// before building, e.g. to set `public_base_url`).
    pub async fn build_on(config: Config, listener: TcpListener) -> Result<Self, StartupError> {
        Self::build_on_with_write_mode(config, listener, WriteMode::EventSourced).await
    }

    /// Like [`Application::build_on`], writing contracts as `write_mode` says.
    pub async fn build_on_with_write_mode(
        config: Config,
        listener: TcpListener,
        write_mode: WriteMode,
    ) -> Result<Self, StartupError> {
        let metrics_listener = match config.metrics.bind {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .map_err(|source| StartupError::Bind { address, source })?,
            ),
            None => None,
        };
        let Started {
            services,
            development_client,
        } = Services::start(config, write_mode).await?;
        let authenticator = Arc::new(RequestAuthenticator::new(
            services.clients.clone(),
            services.nonces.clone(),
        ));
        let state = AppState {
            app: services,
            authenticator,
            h5_limiter: Arc::new(crate::http::h5::RateLimiter::new()),
        };
        Ok(Self {
            listener,
            metrics_listener,
            state,
            development_client,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// The metrics listener's address, when `/metrics` has one of its own.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    pub fn port(&self) -> u16 {
        self.local_addr().map(|address| address.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The client generated on this start, if any: its secret exists nowhere else, so print it once.
    pub fn development_client(&self) -> Option<&IssuedClient> {
        self.development_client.as_ref()
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let mut workers = self.state.app.spawn_workers();
        if let Some(listener) = self.metrics_listener {
            let router = http::metrics::listener_router(self.state.clone());
            workers.push(tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, router).await {
                    tracing::error!(%error, "the metrics listener stopped");
                }
            }));
        }
        let router = http::router(self.state);
        let served = axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        for worker in workers {
            worker.abort();
        }
        served
    }
}

/// Completes on ctrl-c or SIGTERM. The handlers are installed by this call, not when the future is
/// first polled: the server polls it from a task of its own, which a loaded machine may start only
/// after the first requests were answered, and a SIGTERM before then would end the process at once
/// instead of gracefully.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |registered: std::io::Result<tokio::signal::unix::Signal>,
                        name: &'static str| async move {
                match registered {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(error) => {
                        tracing::error!(%error, "cannot listen for {name}");
                        std::future::pending::<()>().await;
                    }
                }
            };
            tokio::select! {
                () = wait(interrupt, "SIGINT") => {},
                () = wait(terminate, "SIGTERM") => {},
            }
        }
        #[cfg(not(unix))]
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutdown requested; finishing requests in flight");
    }
}
