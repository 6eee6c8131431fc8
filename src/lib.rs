//! esign: an e-signature and identity-verification platform on an append-only, hash-chained event log.
//!
//! # Layout
//!
//! - [`config`]: the TOML configuration and its `ESIGN_*` environment overrides.
//! - [`store`]: the event store (SQLite embedded, PostgreSQL in production), its hash chain and
//!   migrations.
//! - [`pii`]: field-level encryption and keyed hashes for personal data at rest.
//! - [`audit`]: timelines and chain verification for compliance.
//! - [`http`]: the HTTP edge; [`http::auth`] checks request signatures.
//! - [`clients`]: the API clients and their secrets; [`nonces`]: single-use request nonces.
//! - [`metrics`]: Prometheus metrics; [`sms`]: text messages to people's phones (senders, signing
//!   codes, payment-verification notices and their delivery sweep; see `docs/sms.md`).
//! - [`face`]: face verification providers (protocol v1, failover, retries, degraded mode);
//!   [`sandbox`]: the built-in sandbox provider, an HTTP service of its own.
//! - [`trust`]: the platform CA (event certificates for signers) and RFC 3161 timestamps (the
//!   `/tsa` service and a client with fallback); see `docs/trust.md`.
//! - [`document`]: the contract PDF, its PAdES signatures and the encrypted document stores (local
//!   directory or S3-compatible bucket); [`download`]: short-lived signed download links; see
//!   `docs/storage.md`.
//! - [`startup`]: building and running the service.
//! - [`cli`]: the `esign` command line.
//!
//! The pure domain lives in the `aggregates` crate and the read models in `projections`. The load
//! generators (`esign-bench`) and the fuzz targets' entry points live outside the service, in the
//! `esign-tools` crate (`tools/`).

pub mod app;
pub mod cli;
pub mod delivery;
pub mod documents;
pub mod http;
pub mod metrics;
pub mod pii;
pub mod providers;
pub mod read;
pub mod store;
pub mod trust;
