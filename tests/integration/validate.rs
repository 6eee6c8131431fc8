//! The signed contract document end to end without a server: the contract layout rendered, signed
//! by two signers in their own incremental updates (each drawing their handwritten signature into
//! their box), then checked by esign's own validator (which must agree with what a changed byte,
//! appended bytes or a foreign CA mean), and read back by poppler (`pdftotext` for the facts and
//! the Chinese text, `pdftoppm` for the signature appearances and the verification QR code, decoded
//! by an independent reader).

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, TimeDelta, Utc};
use der::Decode;
use esign::documents::appearance::Appearance;
use esign::documents::contract::{ContractDocument, SignerFacts, contract_layout};
use esign::documents::evidence::{ArchiveRecord, EvidenceEvent, EvidenceReport, evidence_layout};
use esign::documents::pades::{Revision, SignatureInfo};
use esign::documents::pdf::{Block, RenderedPdf, render, write};
use esign::documents::sign::{FieldSignature, sign_field};
use esign::documents::validate::{DocumentProblem, SignatureProblem, TimeBasis, validate_pdf};
use esign::trust::ca::{Ca, NewCa};
use esign::trust::cms::Signer;
use x509_cert::Certificate;

/// Runs a poppler tool, or `None` when it is missing (see [`crate::helpers::skip`]).
fn poppler(program: &str, args: &[&str]) -> Option<std::process::Output> {
    crate::pades::tool(program, args)
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A handwritten-looking stroke: a thick dark wave on a transparent background. With `visible`
/// false every pixel is transparent (same size, so the page layout is identical).
fn signature_png(visible: bool) -> Vec<u8> {
    let (width, height) = (200u32, 60u32);
    let mut pixels = vec![0u8; (width * height * 4) as usize];
    if visible {
        for x in 0..width {
            let wave = ((x as f32 / 18.0).sin() * 18.0 + 30.0) as u32;
            for y in wave.saturating_sub(3)..(wave + 3).min(height) {
                let at = ((y * width + x) * 4) as usize;
                pixels[at..at + 4].copy_from_slice(&[15, 15, 50, 255]);
            }
        }
    }
    crate::helpers::rgba_png(width, height, &pixels)
}

const CONTRACT_ID: &str = "CONTRACT_202310270001";
const VERIFY_URL: &str = "https://esign.example.com/verify?contractId=CONTRACT_202310270001";
const CONTENT_HASH: &str = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b";

fn contract() -> ContractDocument {
    let signer = |party_id: &str, name: &str, masked: &str, method: &str| SignerFacts {
        party_id: party_id.into(),
        name: name.into(),
        masked_id_card: masked.into(),
        sign_method: method.into(),
        party_type: if party_id.starts_with("PAYER") {
            "PAYER".into()
        } else {
            "RECEIVER".into()
        },
        organization: None,
    };
    ContractDocument {
        contract_id: CONTRACT_ID.into(),
        title: "天财分账资金归集授权协议".into(),
        template_blocks: vec![
            Block::Heading("第一条 授权内容".into()),
            Block::Paragraph(
                "付款方XX品牌总部授权收款方上海浦东店按约定周期归集资金至指定账户。".into(),
            ),
        ],
        signers: vec![
            signer("RECEIVER_001", "张三", "310101********1234", "FACE_AND_SMS"),
            signer("PAYER_001", "李四", "440304********0011", "CA_CERT"),
        ],
        content_hash_hex: CONTENT_HASH.into(),
        verify_url: VERIFY_URL.into(),
    }
}

fn rendered_contract() -> RenderedPdf {
    render(&contract_layout(&contract()).unwrap()).unwrap()
}

/// Signs the first `count` signer fields, each with its own event certificate from `ca`, issued a
/// minute before `now` for 30 minutes.
fn sign_signers(rendered: &RenderedPdf, ca: &Ca, now: DateTime<Utc>, count: usize) -> Vec<u8> {
    sign_signers_inked(rendered, ca, now, count, true)
}

/// As [`sign_signers`], each signature's appearance drawn with ink, or with a fully transparent
/// image of the same size when not `ink`.
fn sign_signers_inked(
    rendered: &RenderedPdf,
    ca: &Ca,
    now: DateTime<Utc>,
    count: usize,
    ink: bool,
) -> Vec<u8> {
    let chain = [ca.intermediate().clone(), ca.root().clone()];
    let mut revision = Revision::of(rendered);
    let mut pdf = rendered.bytes.clone();
    let people = [
        ("张三", "310101********1234"),
        ("李四", "440304********0011"),
    ];
    for (field, (name, masked)) in rendered.fields.iter().zip(people).take(count) {
        let issued = ca
            .issue_event_certificate(
                name,
                masked,
                now - TimeDelta::minutes(1),
                std::time::Duration::from_secs(1800),
            )
            .unwrap();
        let certificate = Certificate::from_der(&issued.certificate_der).unwrap();
        let appearance = Appearance {
            images: vec![signature_png(ink)],
            lines: vec![
                "Signed 2023-10-27 18:30:00 UTC+8".into(),
                "Txn SIGN_TXN_001".into(),
            ],
        };
        let (signed, next) = sign_field(
            &pdf,
            &revision,
            FieldSignature {
                field,
                info: &SignatureInfo {
                    name: (*name).to_owned(),
                    reason: "同意签署本协议".into(),
                    location: None,
                    signed_at: now,
                },
                appearance: Some(&appearance),
                signer: Signer {
                    certificate: &certificate,
                    key: &issued.key,
                },
                chain: &chain,
            },
        )
        .unwrap();
        pdf = signed;
        revision = next;
    }
    pdf
}

/// A whole second (PDF dates and certificates carry whole seconds).
fn whole_second(now: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(now.timestamp(), 0).unwrap()
}

#[test]
fn a_contract_signed_by_two_signers_validates_with_each_signers_facts() {
    let now = whole_second(Utc::now());
    let ca = NewCa::generate("esign", now).unwrap().ca;
    let rendered = rendered_contract();
    let pdf = sign_signers(&rendered, &ca, now, 2);

    let result = validate_pdf(&pdf, &[ca.root().clone()], Some(now));
    assert!(result.valid, "{result:#?}");
    assert!(!result.modified_after_signing);
    assert!(result.problems.is_empty());
    assert_eq!(
        result.signatures.len(),
        2,
        "the unsigned seal field is no signature"
    );
    for (signature, (field, name, serial)) in result.signatures.iter().zip([
        ("Signer_RECEIVER_001", "张三", "310101xxxxxxxx1234"),
        ("Signer_PAYER_001", "李四", "440304xxxxxxxx0011"),
    ]) {
        assert!(signature.valid, "{signature:#?}");
        assert_eq!(signature.field_name.as_deref(), Some(field));
        assert_eq!(signature.name.as_deref(), Some(name));
        assert_eq!(signature.reason.as_deref(), Some("同意签署本协议"));
        assert_eq!(signature.claimed_signing_time, Some(now));
        assert_eq!(signature.sub_filter.as_deref(), Some("ETSI.CAdES.detached"));
        let signer = signature.signer.as_ref().unwrap();
        assert_eq!(signer.subject_common_name.as_deref(), Some(name));
        assert_eq!(signer.subject_serial_number.as_deref(), Some(serial));
        assert_eq!(
            signer.issuer_common_name.as_deref(),
            Some("esign Signing CA")
        );
        assert_eq!(signer.issuer_organization.as_deref(), Some("esign"));
        assert_eq!(signer.not_before, now - TimeDelta::minutes(1));
        assert_eq!(signer.not_after, now + TimeDelta::minutes(29));
        assert!(signature.timestamp.is_none());
        let checked = signature.checked_at.unwrap();
        assert_eq!((checked.time, checked.basis), (now, TimeBasis::Requested));
    }
    assert!(!result.signatures[0].covers_whole_document);
    assert!(result.signatures[1].covers_whole_document);
    assert_eq!(result.signatures[1].byte_range.unwrap()[0], 0);

    // Checked after the short-lived certificates expired, with no timestamp to anchor them.
    let late = validate_pdf(&pdf, &[ca.root().clone()], Some(now + TimeDelta::hours(2)));
    assert!(!late.valid);
    assert!(late.signatures.iter().all(|signature| matches!(
        signature.problems[..],
        [SignatureProblem::CertificateNotValidAt { .. }]
    )));
}

#[test]
fn a_flipped_byte_in_a_signed_range_fails_with_a_digest_reason() {
    let now = Utc::now();
    let ca = NewCa::generate("esign", now).unwrap().ca;
    let rendered = rendered_contract();
    let pdf = sign_signers(&rendered, &ca, now, 2);

    // A byte of the first page's content: inside both signatures' ranges.
    let tampered = crate::pades::tampered(&pdf);
    let result = validate_pdf(&tampered, &[ca.root().clone()], Some(now));
    assert!(!result.valid);
    for signature in &result.signatures {
        assert_eq!(
            signature.problems,
            [SignatureProblem::DigestMismatch],
            "{signature:#?}"
        );
    }
    assert!(
        result
            .problems
            .iter()
            .any(|problem| matches!(problem, DocumentProblem::InvalidSignature { index: 1, .. }))
    );

    // A byte of the second signer's update only: the first signature still holds.
    let second_update = rendered.bytes.len() + 60_000;
    let second_update = pdf[second_update..]
        .windows(5)
        .position(|window| window == b"/Name")
        .unwrap()
        + second_update
        + 1;
    let mut tampered = pdf.clone();
    tampered[second_update] = b'X';
    let result = validate_pdf(&tampered, &[ca.root().clone()], Some(now));
    assert!(!result.valid);
    assert!(result.signatures[0].valid, "{:#?}", result.signatures[0]);
    assert!(!result.signatures[1].valid);
}

#[test]
fn bytes_appended_after_the_last_signature_are_reported() {
    let now = Utc::now();
    let ca = NewCa::generate("esign", now).unwrap().ca;
    let mut pdf = sign_signers(&rendered_contract(), &ca, now, 2);
    let appended = b"99 0 obj\n<< /Note (added later) >>\nendobj\n%%EOF\n";
    pdf.extend_from_slice(appended);

    let result = validate_pdf(&pdf, &[ca.root().clone()], Some(now));
    assert!(!result.valid);
    assert!(result.modified_after_signing);
    assert!(
        result.signatures.iter().all(|signature| signature.valid),
        "{result:#?}"
    );
    assert!(!result.signatures[1].covers_whole_document);
    assert_eq!(
        result.problems,
        [DocumentProblem::ModifiedAfterSigning {
            unsigned_bytes: appended.len()
        }]
    );
}

#[test]
fn a_signature_from_a_foreign_ca_fails_chain_validation() {
    let now = Utc::now();
    let platform = NewCa::generate("esign", now).unwrap().ca;
    let foreign = NewCa::generate("esign", now).unwrap().ca;
    let pdf = sign_signers(&rendered_contract(), &foreign, now, 1);

    let result = validate_pdf(&pdf, &[platform.root().clone()], Some(now));
    assert!(!result.valid);
    let problems = &result.signatures[0].problems;
    assert!(
        matches!(problems[..], [SignatureProblem::Untrusted(_)]),
        "same names, another key: {problems:?}"
    );
    // The same file against the CA that issued it: only trust was the matter.
    let trusted = validate_pdf(&pdf, &[foreign.root().clone()], Some(now));
    assert!(trusted.valid, "{trusted:#?}");
}

#[test]
fn documents_without_signatures_are_invalid() {
    let unsigned = rendered_contract().bytes;
    let result = validate_pdf(&unsigned, &[], Some(Utc::now()));
    assert!(!result.valid);
    assert!(result.signatures.is_empty());
    assert_eq!(result.problems, [DocumentProblem::NoSignatures]);

    let plain = write(&esign::documents::pdf::Layout {
        title: "外来文件".into(),
        blocks: vec![Block::Paragraph("没有签名域。".into())],
        footer: String::new(),
        signature_fields: Vec::new(),
    })
    .unwrap();
    assert_eq!(
        validate_pdf(&plain, &[], None).problems,
        [DocumentProblem::NoSignatures]
    );
    assert_eq!(
        validate_pdf(b"PK\x03\x04 a zip file", &[], None).problems,
        [DocumentProblem::NotAPdf]
    );
}

/// Text as pdftotext extracts it, without whitespace (extraction spaces glyphs by position).
fn extracted_text(pdf: &Path) -> Option<String> {
    let output = poppler("pdftotext", &["-layout", pdf.to_str().unwrap(), "-"])?;
    assert!(output.status.success());
    Some(
        String::from_utf8_lossy(&output.stdout)
            .chars()
            .filter(|ch| !ch.is_whitespace())
            .collect(),
    )
}

fn assert_contains_all(text: &str, expected: &[&str]) {
    for item in expected {
        let item: String = item.chars().filter(|ch| !ch.is_whitespace()).collect();
        assert!(text.contains(&item), "missing {item:?} in:\n{text}");
    }
}

#[test]
fn the_contract_document_shows_every_fact_in_chinese() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("contract.pdf");
    std::fs::write(&path, rendered_contract().bytes).unwrap();
    let Some(text) = extracted_text(&path) else {
        return;
    };
    assert_contains_all(
        &text,
        &[
            "天财分账资金归集授权协议",
            "签署方1：张三",
            "签署方2：李四",
            "310101********1234",
            "440304********0011",
            "第一条 授权内容",
            "付款方XX品牌总部授权收款方上海浦东店",
            "签署区",
            "签署方1（签字）：张三",
            "签署方2（签字）：李四",
            "签署摘要",
            "签署方标识：RECEIVER_001",
            "人脸核验 + 短信验证码 (FACE_AND_SMS)",
            "CA 数字证书 (CA_CERT)",
            CONTRACT_ID,
            CONTENT_HASH,
            VERIFY_URL,
            "扫码验证本协议",
        ],
    );
}

/// Every page as an 8-bit grey image: (width, height, pixels) per page.
pub(crate) fn rendered_pages(
    pdf: &[u8],
    dir: &Path,
    name: &str,
    dpi: &str,
) -> Option<Vec<(usize, usize, Vec<u8>)>> {
    let path = dir.join(format!("{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    let prefix = dir.join(name);
    let output = poppler(
        "pdftoppm",
        &[
            "-png",
            "-gray",
            "-r",
            dpi,
            path.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    )?;
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|file| {
            let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
            file_name.starts_with(&format!("{name}-")) && file_name.ends_with(".png")
        })
        .collect();
    files.sort();
    Some(
        files
            .iter()
            .map(|file| {
                let decoder =
                    png::Decoder::new(std::io::BufReader::new(std::fs::File::open(file).unwrap()));
                let mut reader = decoder.read_info().unwrap();
                let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
                let info = reader.next_frame(&mut buffer).unwrap();
                buffer.truncate(info.buffer_size());
                // Some poppler versions write RGB even with -gray: keep one channel.
                let channels = match info.color_type {
                    png::ColorType::Grayscale => 1,
                    png::ColorType::Rgb => 3,
                    other => panic!("unexpected page colour type {other:?}"),
                };
                let grey = buffer.iter().step_by(channels).copied().collect();
                (info.width as usize, info.height as usize, grey)
            })
            .collect(),
    )
}

#[test]
fn the_signature_appearances_are_drawn_and_the_qr_code_reads_back_as_the_verify_url() {
    let dir = tempfile::tempdir().unwrap();
    let now = whole_second(Utc::now());
    let ca = NewCa::generate("esign", now).unwrap().ca;
    let rendered = rendered_contract();
    let with_ink = sign_signers_inked(&rendered, &ca, now, 2, true);
    // The same signatures with fully transparent images: only the ink differs.
    let without_ink = sign_signers_inked(&rendered, &ca, now, 2, false);
    let Some(inked) = rendered_pages(&with_ink, dir.path(), "inked", "72") else {
        return;
    };
    let blank = rendered_pages(&without_ink, dir.path(), "blank", "72").unwrap();
    assert_eq!(inked.len(), blank.len());
    let dark = |pixels: &[u8]| pixels.iter().filter(|value| **value < 128).count();
    let ink: usize = inked
        .iter()
        .zip(&blank)
        .map(|((_, _, a), (_, _, b))| dark(a).saturating_sub(dark(b)))
        .sum();
    // Two strokes drawn into the signature boxes by the signatures' appearances.
    assert!(
        ink > 400,
        "the signature appearances left {ink} dark pixels"
    );

    let pages = rendered_pages(&with_ink, dir.path(), "qr", "150").unwrap();
    let (width, height, pixels) = pages.last().unwrap();
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(*width, *height, |x, y| pixels[y * width + x]);
    let decoded: Vec<String> = image
        .detect_grids()
        .iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .collect();
    assert_eq!(decoded, [VERIFY_URL]);
}

#[test]
fn the_evidence_report_renders_its_timeline_and_validation_in_chinese() {
    let now = whole_second(Utc::now());
    let ca = NewCa::generate("esign", now).unwrap().ca;
    let signed = sign_signers(&rendered_contract(), &ca, now, 2);
    let validation = validate_pdf(&signed, &[ca.root().clone()], Some(now));
    let report = EvidenceReport {
        subject_id: CONTRACT_ID.into(),
        generated_at: time("2023-10-28T02:00:00Z"),
        chain_intact: true,
        chain_detail: "2 个事件，哈希与链接均已验证".into(),
        events: vec![
            EvidenceEvent {
                version: 1,
                event_type: "ContractInitiated".into(),
                occurred_at: time("2023-10-27T10:00:00Z"),
                actor: "client:auth-system".into(),
                ip: Some("10.0.0.8".into()),
                summary: "发起签署，签署方 张*、李*".into(),
                event_hash_hex: "ab".repeat(32),
                prev_hash_hex: "00".repeat(32),
            },
            EvidenceEvent {
                version: 2,
                event_type: "SignerSigned".into(),
                occurred_at: time("2023-10-27T10:30:00Z"),
                actor: "signer:RECEIVER_001".into(),
                ip: Some("192.168.1.1".into()),
                summary: "签署方 RECEIVER_001 完成签署".into(),
                event_hash_hex: "cd".repeat(32),
                prev_hash_hex: "ab".repeat(32),
            },
        ],
        signatures: validation.signatures,
        archives: vec![ArchiveRecord {
            provider: "TSA".into(),
            archive_id: "ARCHIVE_001".into(),
            status: "ARCHIVED".into(),
            archived_at: Some(time("2023-10-27T10:31:00Z")),
            authority: Some("esign Timestamp Authority".into()),
            transaction_no: Some("5f3a".into()),
        }],
    };
    let layout = evidence_layout(&report);
    assert_eq!(layout.signature_fields, ["PlatformSeal"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.pdf");
    std::fs::write(&path, write(&layout).unwrap()).unwrap();
    let Some(text) = extracted_text(&path) else {
        return;
    };
    assert_contains_all(
        &text,
        &[
            "电子签约存证报告",
            CONTRACT_ID,
            "2023-10-28 10:00:00 (北京时间 UTC+8)",
            "完整：每个事件的哈希及其与前一事件的链接均已验证",
            "1 ContractInitiated",
            "2 SignerSigned",
            "发起签署，签署方 张*、李*",
            &"cd".repeat(32),
            "Signer_RECEIVER_001",
            "Signer_PAYER_001",
            "esign Signing CA / esign",
            "310101xxxxxxxx1234",
            "验证结果：有效",
            "ARCHIVE_001",
            "esign Timestamp Authority",
        ],
    );
}

/// Runs `program` in `dir`, or `None` when it is missing (see [`crate::helpers::skip`]); a failure
/// fails the test.
fn run_in(dir: &Path, program: &str, args: &[&str]) -> Option<()> {
    let output = match Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(output) => output,
        Err(error) => {
            crate::helpers::skip(program, format_args!("it is not available ({error})"));
            return None;
        }
    };
    assert!(
        output.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Some(())
}

/// Signatures made by another implementation (pyHanko, with an OpenSSL-made CA) read the same way:
/// the validator is not tied to the way esign writes its updates.
#[test]
fn signatures_made_by_pyhanko_validate_against_their_own_root() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("in.pdf"), rendered_contract().bytes).unwrap();
    std::fs::write(
        dir.join("leaf.cnf"),
        "[leaf]\nbasicConstraints = CA:false\nkeyUsage = critical, digitalSignature, nonRepudiation\n",
    )
    .unwrap();
    let steps: [&[&str]; 6] = [
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ca.key",
        ],
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "ca.key",
            "-subj",
            "/O=Outside/CN=Outside Root",
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:true",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "ca.crt",
        ],
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "leaf.key",
        ],
        &[
            "req",
            "-new",
            "-key",
            "leaf.key",
            "-subj",
            "/O=Outside/CN=Wang Wu",
            "-out",
            "leaf.csr",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "10",
            "-extfile",
            "leaf.cnf",
            "-extensions",
            "leaf",
            "-out",
            "leaf.crt",
        ],
        &["x509", "-in", "leaf.crt", "-noout"],
    ];
    for step in steps {
        if run_in(dir, "openssl", step).is_none() {
            return;
        }
    }
    for (field, input, output) in [
        ("Signer_RECEIVER_001", "in.pdf", "one.pdf"),
        ("Signer_PAYER_001", "one.pdf", "two.pdf"),
    ] {
        let args = [
            "sign",
            "addsig",
            "--field",
            field,
            "pemder",
            "--key",
            "leaf.key",
            "--cert",
            "leaf.crt",
            "--no-pass",
            input,
            output,
        ];
        if run_in(dir, "pyhanko", &args).is_none() {
            return;
        }
    }
    let pdf = std::fs::read(dir.join("two.pdf")).unwrap();
    let root = Certificate::load_pem_chain(&std::fs::read(dir.join("ca.crt")).unwrap()).unwrap();

    let result = validate_pdf(&pdf, &root, Some(Utc::now()));
    assert!(result.valid, "{result:#?}");
    let fields: Vec<_> = result
        .signatures
        .iter()
        .map(|signature| signature.field_name.as_deref().unwrap())
        .collect();
    assert_eq!(fields, ["Signer_RECEIVER_001", "Signer_PAYER_001"]);
    for signature in &result.signatures {
        let signer = signature.signer.as_ref().unwrap();
        assert_eq!(signer.subject_common_name.as_deref(), Some("Wang Wu"));
        assert_eq!(signer.issuer_common_name.as_deref(), Some("Outside Root"));
    }

    // Not trusted by the platform's root; changed after the fact.
    let platform = NewCa::generate("esign", Utc::now()).unwrap().ca;
    let untrusted = validate_pdf(&pdf, &[platform.root().clone()], Some(Utc::now()));
    assert!(
        untrusted
            .signatures
            .iter()
            .all(|signature| matches!(signature.problems[..], [SignatureProblem::Untrusted(_)]))
    );
    let mut appended = pdf.clone();
    appended.extend_from_slice(b"\n");
    let result = validate_pdf(&appended, &root, Some(Utc::now()));
    assert_eq!(
        result.problems,
        [DocumentProblem::ModifiedAfterSigning { unsigned_bytes: 1 }]
    );
}
