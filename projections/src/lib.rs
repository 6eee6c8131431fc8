//! esign's read models: the query tables of the specification (section 3.1), computed from events.
//!
//! Each projection is a pure function from an aggregate's events to the rows it owns; the service runs
//! them inline, inside the append transaction, and again from the whole log when it rebuilds the tables.
