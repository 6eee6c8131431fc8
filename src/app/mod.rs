//! The use cases: what esign does for its callers, signers, operators and background jobs.

pub mod codes;
pub mod config;
pub mod error;
pub mod expiry;
pub mod ids;
pub mod notices;
pub mod pipeline;
pub mod sealing;
pub mod services;
pub mod short_links;
pub mod signing_codes;
pub mod verifications;
pub mod verify;
