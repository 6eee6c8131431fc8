//! esign's read models: the query tables of the specification (section 3.1), computed from events.
//!
//! Each projection is a pure function from one stream's events to every row that stream owns; the
//! service runs it inline, inside the append transaction, and again over the whole log when it rebuilds
//! the tables. Rows are a function of the events alone (ids included), so a rebuild gives the same rows
//! byte for byte. `docs/projections.md` maps every column to the events that set it.
//!
//! # Layout
//!
//! - [`row`] holds the tables ([`Table`], column lists matching `migrations/*/0002_query_tables.sql`) and
//!   backend-neutral [`Row`]s of [`SqlValue`]s, which the service upserts by [`Table::key_columns`].
//! - `stream` holds [`ProjectedEvent`] and the fold shared by every projection, which applies the `id`,
//!   `created_at`, `updated_at` and `stream_version` rules.
//! - `sealed` copies sealed personal data (ID and mobile numbers, callback headers) from the stored
//!   payload; a projection never sees a key and never writes plaintext.
//! - [`contract_rows`] computes `contract`, `contract_signer` and `contract_archive` rows.
//! - [`verification_rows`] computes `face_verification` rows.
//! - [`template_rows`] computes `contract_template` rows.
//! - [`sms_template_rows`] and [`sms_notice_rows`] compute the `sms_template` and `sms_notice` rows of
//!   payment-verification notices (`migrations/*/0007_sms_notices.sql`).
//! - [`certificate_revocation_rows`] computes `certificate_revocation` rows: the serial numbers the
//!   platform CA revoked, which its CRL and OCSP responder read
//!   (`migrations/*/0012_certificate_revocations.sql`).
//! - [`organization_rows`] computes `organization` rows and [`seal_rows`] the `seal` and
//!   `seal_version` rows of company seals (`migrations/*/0017_organizations_seals.sql`).
//! - `versioned` holds what the two template projections share: a row per published version, with the
//!   activation and authorship columns filled alike.

mod certificate_revocation;
mod contract;
mod face_verification;
mod organization;
pub mod published;
pub mod row;
mod seal;
mod sealed;
mod sms_notice;
mod sms_template;
mod stream;
mod template;
#[cfg(test)]
mod testing;
mod versioned;

pub use certificate_revocation::certificate_revocation_rows;
pub use contract::contract_rows;
pub use face_verification::verification_rows;
pub use organization::organization_rows;
pub use published::{Publication, PublishedEvent, published};
pub use row::{Row, SqlValue, Table};
pub use seal::seal_rows;
pub use sms_notice::sms_notice_rows;
pub use sms_template::sms_template_rows;
pub use stream::ProjectedEvent;
pub use template::template_rows;

/// Why a stream's rows could not be computed. Every case is a bug or a damaged log, never a client
/// error; messages name payload paths, never personal data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProjectionError {
    #[error(
        "the stream's events must be given in order from version 1: expected {expected}, found {found}"
    )]
    OutOfOrder { expected: u64, found: u64 },
    #[error("the stream does not start with the event that creates it")]
    NotInitiated,
    #[error("the stored payload of a {event} event does not match the event at {path}")]
    PayloadMismatch { event: &'static str, path: String },
    #[error("{path} of the stored {event} payload is not a sealed personal-data marker")]
    MissingSealedValue { event: &'static str, path: String },
    #[error("{path} of the stored {event} payload holds an unsealed personal-data marker")]
    Unsealed { event: &'static str, path: String },
    #[error("{0} does not fit its column")]
    OutOfRange(&'static str),
    #[error("cannot serialise {what}: {reason}")]
    Serialise { what: &'static str, reason: String },
    #[error("a {0} row was shaped with the wrong columns")]
    Columns(&'static str),
}
