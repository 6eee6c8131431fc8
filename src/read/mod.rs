//! The read side: the resources as the API shows them, audit timelines, and rebuilding the query
//! tables from the log.

pub mod audit;
pub mod models;
pub mod rebuild;
pub mod views;
