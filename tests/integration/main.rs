//! Integration tests: the real store on real databases, and the real binary. One test binary, so the
//! crate links once.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod archive;
mod archive_operations;
mod authorisation;
mod browser;
mod cli;
mod delivery;
mod document;
mod document_store;
mod e2e_certificate;
mod e2e_face;
mod e2e_organization;
mod e2e_sign;
mod event_store;
mod expiry;
mod face_providers;
mod faults;
mod h5_attacks;
mod h5_sign;
mod hardening;
mod helpers;
mod initiate_properties;
mod invitations;
mod journey;
mod long_term_validation;
mod notifications;
mod openapi;
mod pades;
mod personal_certificates;
mod pii_scan;
mod pipeline;
mod plain_crud;
mod receiver;
mod request_signing;
mod revocation;
mod schemathesis;
mod sealing;
mod seals;
mod short_links;
mod signature_places;
mod signing_client;
mod signing_moments;
mod skips;
mod sms;
mod trust;
mod uploaded_contracts;
mod uploaded_documents;
mod validate;
mod verify_page;
