//! Validation of a signed PDF (spec 2.1.2 item 4, "协议验真"): every signature dictionary in every
//! incremental update is found and checked on its own (byte range, CMS signature over the covered
//! bytes, signing-certificate-v2, chain to a trust anchor, certificate validity, signature
//! timestamp), then the document as a whole (the last signature covers the whole file, nothing was
//! appended after it).
//!
//! The file is read by a small tolerant scanner of indirect objects rather than through its
//! cross-reference tables: a signature dictionary always sits in the file as a plain object (its
//! `/Contents` must be at a byte offset), so scanning finds it even when the tables are damaged.
//! Objects inside compressed object streams are not read; field names kept there are reported as
//! unknown. Changes made by later incremental updates are not compared against what the earlier
//! signers allowed (no DocMDP analysis): each signature vouches for the revision it covers.
//!
//! Nothing here panics on any input: every offset is checked, nesting is bounded, and the scanner
//! reads each byte a bounded number of times.
//!
//! # Layout
//!
//! - This file: the document as a whole: every signature found, its revisions in the order they
//!   were written, and whether anything follows the last signed range.
//! - [`syntax`]: just enough PDF syntax to scan any bytes for indirect objects.
//! - `signature_dictionary`: one signature dictionary: its field name, its entries and byte range,
//!   and which check its `/SubFilter` calls for.
//! - `cms_signature`: a CMS signature over the covered bytes: the container, the message digest,
//!   signing-certificate-v2, and the time the certificate is checked at.
//! - `certificate`: the signer's certificate: what it says, whether it may sign, whether it was
//!   valid and chained to a trust anchor at that time.
//! - `timestamp`: signature timestamps and RFC 3161 document timestamps.
//! - `report`: what validation found, as the API returns it.

mod certificate;
mod cms_signature;
#[cfg(test)]
pub(crate) mod fixtures;
mod report;
mod signature_dictionary;
pub mod syntax;
mod timestamp;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

pub use report::{
    CertificateFacts, CheckedTime, DocumentProblem, PdfValidation, SignatureKind, SignatureProblem,
    SignatureValidation, TimeBasis, TimestampFacts,
};
use signature_dictionary::{FieldNames, check_signature, is_signature_dictionary};
pub use timestamp::{SIGNATURE_TIME_STAMP_TOKEN, verify_signature_timestamp};

/// The roots a document's signatures must chain to: `platform` for every signature and timestamp,
/// and, for a signer's signature only (any field but the platform seal's), `personal` beside it:
/// the CAs the deployment trusts for signers' own certificates (signMethod CA_CERT). A personal
/// CA never vouches for the seal, a document timestamp or a TSA.
#[derive(Debug, Clone, Copy, Default)]
pub struct Anchors<'a> {
    pub platform: &'a [Certificate],
    pub personal: &'a [Certificate],
}

/// Validates every signature of `pdf` against `anchors` (the trusted roots). Certificates are
/// checked at a signature's verified timestamp when it has one, else at `at`, else at the signer's
/// claimed `/M` time (reported in [`SignatureValidation::checked_at`]).
pub fn validate_pdf(
    pdf: &[u8],
    anchors: &[Certificate],
    at: Option<DateTime<Utc>>,
) -> PdfValidation {
    validate_pdf_with(
        pdf,
        Anchors {
            platform: anchors,
            personal: &[],
        },
        at,
    )
}

/// [`validate_pdf`] with signers' signatures also trusted through personal CAs ([`Anchors`]).
pub fn validate_pdf_with(
    pdf: &[u8],
    anchors: Anchors<'_>,
    at: Option<DateTime<Utc>>,
) -> PdfValidation {
    let document_sha256_hex = hex::encode(Sha256::digest(pdf));
    let header = &pdf[..pdf.len().min(1024)];
    if !contains(header, b"%PDF-") {
        return PdfValidation {
            valid: false,
            signatures: Vec::new(),
            problems: vec![DocumentProblem::NotAPdf],
            modified_after_signing: false,
            document_sha256_hex,
        };
    }
    let scan = syntax::scan(pdf);
    let fields = FieldNames::new(&scan.objects);
    let mut signatures: Vec<(usize, SignatureValidation)> = scan
        .objects
        .iter()
        .filter_map(|object| {
            let dictionary = object.value.as_dictionary()?;
            is_signature_dictionary(dictionary).then(|| {
                let validation = check_signature(
                    pdf,
                    object,
                    dictionary,
                    fields.name_of(object.number, object.generation),
                    anchors,
                    at,
                );
                let covered_end = validation
                    .byte_range
                    .and_then(|[_, _, b, c]| b.checked_add(c))
                    .unwrap_or(object.end);
                (covered_end, validation)
            })
        })
        .collect();
    // Revisions in the order they were written: each signature's range ends where its update ends.
    signatures.sort_by_key(|(covered_end, _)| *covered_end);
    let last_covered_end = signatures.last().map(|(end, _)| *end);
    let signatures: Vec<SignatureValidation> = signatures
        .into_iter()
        .map(|(_, validation)| validation)
        .collect();

    let mut problems = Vec::new();
    let mut modified_after_signing = false;
    match (signatures.last(), last_covered_end) {
        (Some(last), Some(end)) => {
            for (index, signature) in signatures.iter().enumerate() {
                if !signature.valid {
                    problems.push(DocumentProblem::InvalidSignature {
                        index: index + 1,
                        field: signature
                            .field_name
                            .clone()
                            .unwrap_or_else(|| "unnamed field".to_owned()),
                    });
                }
            }
            // A last signature whose range could not be read is reported as such, not as an
            // addition.
            let range_broken = last.problems.iter().any(|problem| {
                matches!(
                    problem,
                    SignatureProblem::ByteRange(_) | SignatureProblem::Dictionary(_)
                )
            });
            if !last.covers_whole_document && !range_broken {
                modified_after_signing = true;
                problems.push(DocumentProblem::ModifiedAfterSigning {
                    unsigned_bytes: pdf.len().saturating_sub(end),
                });
            }
        }
        _ => {
            problems.push(DocumentProblem::NoSignatures);
            if let Some(first) = scan.first_error {
                problems.push(DocumentProblem::Unreadable {
                    objects: scan.unreadable,
                    first,
                });
            }
        }
    }
    PdfValidation {
        valid: problems.is_empty(),
        signatures,
        problems,
        modified_after_signing,
        document_sha256_hex,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle, 0).is_some()
}

/// The first index at or after `from` where `needle` starts.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|at| at + from)
}

#[cfg(test)]
mod tests {
    use ::cms::content_info::ContentInfo;
    use ::cms::signed_data::SignedData;
    use der::{Decode, Encode};
    use proptest::prelude::*;

    use super::fixtures::{contents_gap, new_ca, signed_by};
    use super::signature_dictionary::der_prefix;
    use super::*;

    #[tokio::test]
    async fn personal_roots_vouch_for_signers_but_never_for_the_platform_seal() {
        let now = Utc::now();
        let ca = new_ca("esign", now);
        let pdf = super::fixtures::signed_and_sealed(&ca, now).await;
        let root = std::slice::from_ref(ca.root());
        let untrusted = |signature: &SignatureValidation| {
            signature
                .problems
                .iter()
                .any(|problem| matches!(problem, SignatureProblem::Untrusted(_)))
        };

        // The CA as a personal CA only: the signer's signature chains, the seal does not.
        let personal = validate_pdf_with(
            &pdf,
            Anchors {
                platform: &[],
                personal: root,
            },
            None,
        );
        assert_eq!(personal.signatures.len(), 2);
        assert!(!untrusted(&personal.signatures[0]), "{personal:?}");
        assert!(untrusted(&personal.signatures[1]), "{personal:?}");
        assert!(!personal.valid);

        let platform = validate_pdf_with(
            &pdf,
            Anchors {
                platform: root,
                personal: &[],
            },
            None,
        );
        assert!(platform.valid, "{platform:?}");
    }

    /// One signed document shared by the property tests (generating a CA per case is slow).
    fn shared_signed() -> &'static (Vec<u8>, Certificate) {
        static SIGNED: std::sync::OnceLock<(Vec<u8>, Certificate)> = std::sync::OnceLock::new();
        SIGNED.get_or_init(|| {
            let now = Utc::now();
            let ca = new_ca("esign", now);
            (signed_by(&ca, now), ca.root().clone())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..4096),
            with_header in any::<bool>(),
        ) {
            let mut pdf = if with_header { b"%PDF-1.7\n".to_vec() } else { Vec::new() };
            pdf.extend_from_slice(&bytes);
            let result = validate_pdf(&pdf, &[], None);
            prop_assert!(!result.valid);
        }

        #[test]
        fn any_changed_signed_byte_fails(offset in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let (signed, root) = shared_signed();
            let (gap_start, gap_end) = contents_gap(signed);
            let covered = gap_start + (signed.len() - gap_end);
            let at = offset.index(covered);
            let at = if at < gap_start { at } else { at - gap_start + gap_end };
            let mut pdf = signed.clone();
            pdf[at] ^= flip;
            let result = validate_pdf(&pdf, std::slice::from_ref(root), None);
            prop_assert!(!result.valid, "a change at byte {} passed", at);
        }

        #[test]
        fn pdf_like_noise_never_panics(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("%PDF-1.7\n".to_owned()),
                    Just("1 0 obj".to_owned()),
                    Just("endobj".to_owned()),
                    Just("<<".to_owned()),
                    Just(">>".to_owned()),
                    Just("/Type /Sig".to_owned()),
                    Just("/ByteRange [0 10 20 5]".to_owned()),
                    Just("/Contents <3082".to_owned()),
                    Just("(".to_owned()),
                    Just(")".to_owned()),
                    Just("[".to_owned()),
                    Just("stream\n".to_owned()),
                    Just("endstream".to_owned()),
                    "[0-9 ]{1,12}",
                    "\\PC{0,8}",
                ],
                0..64,
            )
        ) {
            let pdf = parts.concat();
            let _ = validate_pdf(pdf.as_bytes(), &[], None);
        }

        #[test]
        fn a_mutated_signed_document_never_panics_and_never_passes(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let (signed, root) = shared_signed();
            let mut pdf = signed.clone();
            for (index, byte) in &edits {
                let at = index.index(pdf.len());
                pdf[at] = *byte;
            }
            let edited = pdf.clone();
            if truncate {
                pdf.truncate(cut.index(pdf.len()));
            }
            let result = validate_pdf(&pdf, std::slice::from_ref(root), None);
            // Only the unsigned gap may change without failing validation, and only where the
            // container stays the same: hex padding after the DER, the other case of a digit, or
            // a certificate in the container's certificate set that the chain does not use (that
            // set is not signed; the signer's content and signer info must stay byte for byte).
            let (gap_start, gap_end) = contents_gap(signed);
            let same_length = pdf.len() == signed.len();
            let container_same = (0..signed.len()).all(|at| {
                let inside = at > gap_start && at < gap_end - 1;
                signed[at] == edited[at]
                    || (inside
                        && (is_padding(signed, at)
                            || syntax_hex(signed[at]) == syntax_hex(edited[at])))
            });
            let only_certificates = (0..signed.len()).all(|at| {
                signed[at] == edited[at] || (at > gap_start && at < gap_end - 1)
            }) && signed_parts(&edited, gap_start, gap_end).is_some_and(|parts| {
                Some(parts) == signed_parts(signed, gap_start, gap_end)
            });
            let harmless = same_length && (container_same || only_certificates);
            if !harmless {
                prop_assert!(!result.valid, "a changed document passed: {:?}", edits);
            }
        }
    }

    fn syntax_hex(byte: u8) -> Option<u8> {
        char::from(byte)
            .to_digit(16)
            .and_then(|digit| u8::try_from(digit).ok())
    }

    /// What the signature covers or names inside the container: the encapsulated content and the
    /// signer infos (signed attributes, signature), DER-encoded; `None` when the gap does not decode.
    fn signed_parts(pdf: &[u8], start: usize, end: usize) -> Option<Vec<u8>> {
        let hex_text = std::str::from_utf8(pdf.get(start + 1..end - 1)?).ok()?;
        let raw = hex::decode(hex_text).ok()?;
        let content_info = ContentInfo::from_der(der_prefix(&raw)?).ok()?;
        let signed_data: SignedData = content_info.content.decode_as().ok()?;
        let mut parts = signed_data.encap_content_info.to_der().ok()?;
        parts.extend(signed_data.signer_infos.to_der().ok()?);
        Some(parts)
    }

    /// Whether offset `at` of the gap is hex padding after the DER container.
    fn is_padding(pdf: &[u8], at: usize) -> bool {
        let (start, end) = contents_gap(pdf);
        let raw = hex::decode(std::str::from_utf8(&pdf[start + 1..end - 1]).unwrap()).unwrap();
        let der_len = der_prefix(&raw).unwrap().len();
        at >= start + 1 + der_len * 2
    }
}
