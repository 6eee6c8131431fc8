//! The outside services esign depends on, each behind an adapter: face providers, SMS senders,
//! archive providers, object storage, and outbound HTTP with its SSRF guard.
//!
//! # Layout
//!
//! - [`face`]: face verification providers; [`sandbox`]: the built-in sandbox provider, an HTTP
//!   service of its own.
//! - [`sms`]: text message senders (the message centre, or the log in development).
//! - [`archive`]: the archive providers (`TSA`, `LOCAL_CA`, `BLOCKCHAIN`); [`tsa`]: remote RFC 3161
//!   timestamp authorities, tried in turn.
//! - [`s3`]: documents in an S3-compatible bucket.
//! - [`outbound`]: the one outbound HTTP stack; [`ssrf`]: the guard on callers' callback URLs.

pub mod archive;
pub mod face;
pub mod outbound;
pub mod s3;
pub mod sandbox;
pub mod sms;
pub mod ssrf;
pub mod tsa;
