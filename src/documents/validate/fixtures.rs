//! Signed documents for the validation tests, made by a fresh CA and signed the way esign signs.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use der::Decode;
use x509_cert::Certificate;

use super::signature_dictionary::is_signature_dictionary;
use super::syntax;
use crate::documents::contract::PLATFORM_SEAL_FIELD;
use crate::documents::pades::{Revision, SignatureInfo};
use crate::documents::pdf::{Block, Layout, RenderedPdf, SignatureField, render};
use crate::documents::seal::PlatformSeal;
use crate::documents::sign::{FieldSignature, sign_field};
use crate::trust::ca::{Ca, NewCa};
use crate::trust::cms::Signer;
use crate::trust::timestamper::LocalTimestamper;

pub(super) fn new_ca(organization: &str, now: DateTime<Utc>) -> std::sync::Arc<Ca> {
    std::sync::Arc::new(NewCa::generate(organization, now).unwrap().ca)
}

/// A document signed by 张三 with a certificate of `ca`, its next revision, and the field left
/// for a document timestamp.
pub(super) fn signed_document(ca: &Ca, now: DateTime<Utc>) -> (Vec<u8>, Revision, SignatureField) {
    let (rendered, signed, next) = signed_rendering(ca, now);
    (signed, next, rendered.fields[1].clone())
}

/// [`signed_document`], then sealed by the platform with a signature timestamp from `ca`'s own
/// TSA (PAdES B-T): the signer's signature carries no timestamp, the seal does.
pub(crate) async fn signed_and_sealed(ca: &Arc<Ca>, now: DateTime<Utc>) -> Vec<u8> {
    let (rendered, signed, next) = signed_rendering(ca, now);
    let policy = crate::trust::parse_tsa_policy(crate::trust::DEFAULT_TSA_POLICY).unwrap();
    let seal = PlatformSeal::new(
        ca.clone(),
        Arc::new(LocalTimestamper::new(Arc::new(ca.tsa_signer(policy)))),
        "esign".into(),
    );
    seal.seal_revision(&signed, &next, &rendered, &seal.chain().unwrap(), now)
        .await
        .unwrap()
        .bytes
}

/// The rendered document (fields `Signer_A`, `DocumentTimestamp`, `PlatformSeal`), signed by 张三,
/// and its next revision.
fn signed_rendering(ca: &Ca, now: DateTime<Utc>) -> (RenderedPdf, Vec<u8>, Revision) {
    let rendered = render(&Layout {
        title: "协议".into(),
        footer: "C1".into(),
        blocks: vec![Block::Paragraph("甲方同意。".into())],
        signature_fields: vec![
            "Signer_A".into(),
            "DocumentTimestamp".into(),
            PLATFORM_SEAL_FIELD.into(),
        ],
    })
    .unwrap();
    let issued = ca
        .issue_event_certificate(
            "张三",
            "110101********1234",
            now - chrono::TimeDelta::minutes(1),
            Duration::from_secs(1800),
        )
        .unwrap();
    let certificate = Certificate::from_der(&issued.certificate_der).unwrap();
    let (signed, next) = sign_field(
        &rendered.bytes,
        &Revision::of(&rendered),
        FieldSignature {
            field: &rendered.fields[0],
            info: &SignatureInfo {
                name: "张三".into(),
                reason: "同意签署本协议".into(),
                location: None,
                signed_at: now,
            },
            appearance: None,
            signer: Signer {
                certificate: &certificate,
                key: &issued.key,
            },
            chain: &[ca.intermediate().clone(), ca.root().clone()],
        },
    )
    .unwrap();
    (rendered, signed, next)
}

pub(super) fn signed_by(ca: &Ca, now: DateTime<Utc>) -> Vec<u8> {
    signed_document(ca, now).0
}

/// The `/Contents` gap of the (only) signature: its offsets.
pub(super) fn contents_gap(pdf: &[u8]) -> (usize, usize) {
    let objects = syntax::scan(pdf).objects;
    let dictionary = objects
        .iter()
        .filter_map(|object| object.value.as_dictionary())
        .find(|dictionary| is_signature_dictionary(dictionary))
        .unwrap();
    let span = dictionary.get(b"Contents").unwrap().string_span().unwrap();
    (span.start, span.end)
}
