//! Archiving signed documents (spec 4.1.3): the providers behind one trait and the local Merkle log
//! the `BLOCKCHAIN` provider writes to until a real chain adapter is configured.

pub mod merkle;
