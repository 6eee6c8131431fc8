//! esign: an e-signature and identity-verification platform on an append-only, hash-chained event log.
//!
//! # Layout
//!
//! Folders are layers; a module uses only the layers below it (`docs/architecture.md`, enforced by
//! `tests/layers.rs`). From the top:
//!
//! - [`cli`]: the `esign` command line, one file per subcommand, and the log subscriber.
//! - [`http`]: the HTTP edge: routes, request signatures, the signer's and the person's pages,
//!   the OpenAPI document; errors become the spec's codes here and nowhere else.
//! - [`app`]: the use cases over one [`app::Services`] handle, the command pipeline, the
//!   configuration, and the background workers; one error type, [`app::AppError`].
//! - [`read`]: the resources as the API shows them, audit timelines, and rebuilding the query
//!   tables; [`delivery`]: the outbox, delivered as signed callbacks and broker publications.
//! - [`providers`]: the outside services behind adapters: face providers and the sandbox, SMS
//!   senders, archive providers, remote TSAs, S3 storage, outbound HTTP and its SSRF guard.
//! - [`documents`]: the contract PDF, PAdES signatures and their validation, the platform seal,
//!   encrypted document storage and signed download links.
//! - [`trust`]: the platform CA, CMS, and RFC 3161 timestamps (see `docs/trust.md`).
//! - [`store`]: the event store and every SQL statement of the service, on SQLite or PostgreSQL.
//! - [`pii`]: field-level encryption and keyed hashes for personal data at rest; [`metrics`]:
//!   the Prometheus registry.
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
