//! The read side: the resources as the API shows them, audit timelines, and rebuilding the query
//! tables from the log.
//!
//! # Layout
//!
//! - [`views`]: the resources as the API's `GET`s show them, built from query-table rows.
//! - [`models`]: which rows each stream's events make (the `projections` crate, per aggregate).
//! - [`audit`]: a stream's timeline with every link of its hash chain checked.
//! - [`rebuild`]: the query tables rebuilt from the log into shadow tables, compared and swapped.

pub mod audit;
pub mod models;
pub mod rebuild;
pub mod views;
