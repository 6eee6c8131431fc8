//! The log subscriber: `RUST_LOG` chooses the levels, within a cap on crates whose verbose lines would
//! print personal data.
//!
//! The PostgreSQL driver logs every statement with its parameters at debug level (`tokio_postgres`,
//! through the `log` bridge), and parameters carry event payloads, hashes and lookup keys. Everything
//! personal is sealed before it reaches a statement, but a log must not depend on that: the cap keeps
//! the driver at `info` whatever `RUST_LOG` asks for, `tokio_postgres=trace` included. A directive
//! cannot lift it, because the cap is a second filter every line must also pass, not a directive
//! among the user's. SQLite (rusqlite) logs no statements: its tracing hooks are not compiled in.

use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::filter::{EnvFilter, FilterFn, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// Crates logged at `info` at most, whatever `RUST_LOG` says, and why.
const CAPPED_AT_INFO: &[&str] = &[
    // debug: "executing statement ... with parameters: [...]" for every query.
    "tokio_postgres",
];

/// Whether a line may be logged at all: lines below `info` from a capped crate may not.
fn within_cap(metadata: &Metadata<'_>) -> bool {
    let target = metadata.target();
    let capped = CAPPED_AT_INFO.iter().any(|krate| {
        target
            .strip_prefix(krate)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    });
    // In `tracing`, more verbose levels compare greater: DEBUG > INFO.
    !(capped && *metadata.level() > Level::INFO)
}

/// The subscriber for `requested` (a `RUST_LOG` value; empty means `info`), writing to `writer`.
fn subscriber<W>(requested: &str, json: bool, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(requested)
        .ok()
        .filter(|_| !requested.trim().is_empty())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let cap: FilterFn<fn(&Metadata<'_>) -> bool> = filter_fn(within_cap);
    let output = tracing_subscriber::fmt::layer().with_writer(writer);
    let output: Box<dyn Layer<Registry> + Send + Sync> = if json {
        output.json().boxed()
    } else {
        output.boxed()
    };
    Registry::default().with(output).with(cap).with(filter)
}

/// Logs to stderr at `RUST_LOG` (default `info`), within the cap above. `esign-bench` logs the same
/// way.
pub fn init_tracing(json: bool) {
    let requested = std::env::var("RUST_LOG").unwrap_or_default();
    let _ = subscriber(&requested, json, std::io::stderr).try_init();
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'writer> MakeWriter<'writer> for Captured {
        type Writer = Captured;

        fn make_writer(&'writer self) -> Self::Writer {
            self.clone()
        }
    }

    fn logged(requested: &str, json: bool) -> String {
        let captured = Captured::default();
        tracing::subscriber::with_default(subscriber(requested, json, captured.clone()), || {
            tracing::debug!(target: "tokio_postgres::query", "parameters: [\"张三\"]");
            tracing::trace!(target: "tokio_postgres::connection", "poll_read: 李四");
            tracing::info!(target: "tokio_postgres::connection", "connection closed");
            tracing::debug!(target: "tokio_postgres_other", "another crate");
            tracing::debug!(target: "esign::app", "esign's own debug line");
        });
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn no_directive_lowers_the_database_driver_below_info() {
        for requested in [
            "trace",
            "debug,tokio_postgres=trace",
            "tokio_postgres::query=trace,trace",
            "tokio_postgres[some_span]=trace,debug",
        ] {
            for json in [false, true] {
                let log = logged(requested, json);
                assert!(!log.contains("张三"), "{requested}: {log}");
                assert!(!log.contains("李四"), "{requested}: {log}");
                assert!(log.contains("connection closed"), "{requested}: {log}");
                assert!(log.contains("esign's own debug line"), "{requested}: {log}");
                assert!(log.contains("another crate"), "{requested}: {log}");
            }
        }
    }

    #[test]
    fn without_rust_log_the_level_is_info() {
        let log = logged("", false);
        assert!(log.contains("connection closed"));
        assert!(!log.contains("esign's own debug line"));
    }
}
