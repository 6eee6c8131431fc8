//! The outside services esign depends on, each behind an adapter: face providers, SMS senders,
//! archive providers, object storage, and outbound HTTP with its SSRF guard.

pub mod archive;
pub mod face;
pub mod outbound;
pub mod s3;
pub mod sandbox;
pub mod sms;
pub mod ssrf;
pub mod tsa;
