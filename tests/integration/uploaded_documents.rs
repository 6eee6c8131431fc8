//! A PDF the caller uploads (written with object streams and a cross-reference stream), given two
//! signature fields over its anchors "甲方（盖章）" and "乙方（盖章）", then signed field by field the
//! way signers' revisions are: esign's own validator, pdfsig (trusting the test root through an
//! NSS database) and pyHanko accept both signatures, and the first signature's appearance is drawn
//! inside its field's rectangle and nowhere else.

use chrono::{DateTime, Utc};
use der::Decode;
use esign::documents::appearance::Appearance;
use esign::documents::pades::{Revision, SignatureInfo};
use esign::documents::pdf::{Block, Layout, RenderedPdf, render};
use esign::documents::seal::signature_field;
use esign::documents::sign::{FieldSignature, sign_field};
use esign::documents::uploaded::{Placement, UploadLimits, find_anchor, inspect, prepare};
use esign::documents::validate::validate_pdf;
use esign::trust::ca::{Ca, NewCa};
use esign::trust::cms::Signer;
use x509_cert::Certificate;

use crate::pades::{assert_all_valid_and_trusted, nss_database, pdfsig, pyhanko_validate, text_of};
use crate::validate::rendered_pages;

/// Two pages with an anchor each, as another producer might write them: object streams and a
/// cross-reference stream, no classic table.
pub(crate) fn upload() -> Vec<u8> {
    let rendered = render(&Layout {
        title: "采购合同".into(),
        footer: "UPLOAD-1".into(),
        blocks: vec![
            Block::Title("采购合同".into()),
            Block::Paragraph("双方就采购事宜达成如下协议。".into()),
            Block::Space(40.0),
            Block::Paragraph("甲方（盖章）".into()),
            Block::PageBreak,
            Block::Paragraph("乙方（盖章）".into()),
        ],
        signature_fields: vec![],
    })
    .unwrap();
    let mut document = lopdf::Document::load_mem(&rendered.bytes).unwrap();
    let mut out = Vec::new();
    document.save_modern(&mut out).unwrap();
    assert!(out.windows(7).any(|window| window == b"/ObjStm"));
    assert!(
        out.windows(10).any(|window| window == b"/Type/XRef")
            || out.windows(11).any(|window| window == b"/Type /XRef")
    );
    out
}

/// A dark 80 × 40 stroke with transparency around it.
fn ink() -> Vec<u8> {
    let (width, height) = (80u32, 40u32);
    let mut pixels = vec![0u8; (width * height * 4) as usize];
    for y in 10..30 {
        for x in 5..75 {
            let at = ((y * width + x) * 4) as usize;
            pixels[at..at + 4].copy_from_slice(&[20, 20, 60, 255]);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}

fn sign(ca: &Ca, first: &RenderedPdf, bytes: &[u8], field: &str, now: DateTime<Utc>) -> Vec<u8> {
    // A certificate of the signer's own for this moment, as a signer's revision is signed.
    let issued = ca
        .issue_event_certificate(
            field,
            "110105********002X",
            now,
            std::time::Duration::from_secs(1800),
        )
        .unwrap();
    let certificate = Certificate::from_der(&issued.certificate_der).unwrap();
    let chain: Vec<Certificate> = ca
        .chain()
        .iter()
        .map(|der| Certificate::from_der(der).unwrap())
        .collect();
    let appearance = Appearance {
        images: vec![ink()],
        lines: vec![field.to_owned()],
    };
    sign_field(
        bytes,
        &Revision::continuing(first, bytes).unwrap(),
        FieldSignature {
            field: signature_field(first, field).unwrap(),
            info: &SignatureInfo {
                name: field.to_owned(),
                reason: "同意签署本协议".to_owned(),
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
    .unwrap()
    .0
}

#[test]
fn an_uploaded_pdf_signed_at_its_anchors_validates_everywhere_and_shows_the_signature_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let ca = NewCa::generate("esign", now).unwrap().ca;
    let upload = upload();
    let limits = UploadLimits::default();
    let inspected = inspect(&upload, &limits).unwrap();
    assert_eq!(inspected.page_count, 2);

    let mut placements = Vec::new();
    for (field, anchor, page) in [
        ("Signer_A", "甲方（盖章）", 1),
        ("Signer_B", "乙方（盖章）", 2),
    ] {
        let hits = find_anchor(&upload, &limits, anchor).unwrap();
        assert_eq!(hits.len(), 1, "{anchor}: {hits:?}");
        assert_eq!(hits[0].page, page);
        placements.push(Placement::over_anchor(
            field,
            &hits[0],
            &inspected.pages[page as usize - 1],
            120.0,
            60.0,
        ));
    }
    let first = prepare(&upload, &placements).unwrap();
    let once = sign(&ca, &first, &first.bytes, "Signer_A", now);
    let signed = sign(&ca, &first, &once, "Signer_B", now);

    let report = validate_pdf(&signed, std::slice::from_ref(ca.root()), None);
    assert!(report.valid, "{report:?}");
    assert_eq!(report.signatures.len(), 2);
    assert!(!report.modified_after_signing);

    let path = dir.path().join("signed.pdf");
    std::fs::write(&path, &signed).unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, ca.root_pem().unwrap()).unwrap();
    if let Some(report) = nss_database(dir.path(), &root)
        .as_deref()
        .and_then(|db| pdfsig(db, &path))
    {
        assert_all_valid_and_trusted(&report, 2);
    }
    if let Some(output) = pyhanko_validate(&root, &path, &[]) {
        assert!(
            output.status.success(),
            "pyHanko refused: {}",
            text_of(&output)
        );
    }

    // The first page before and after signing, at 72 dpi (a pixel is a point).
    let Some(before) = rendered_pages(&first.bytes, dir.path(), "before", "72") else {
        return;
    };
    let after = rendered_pages(&signed, dir.path(), "after", "72").unwrap();
    let (width, height, before) = &before[0];
    let (_, _, after) = &after[0];
    let [x1, y1, x2, y2] = placements[0].rect;
    let inside = |x: usize, y: usize, margin: f32| {
        let (x, y) = (x as f32 + 0.5, *height as f32 - (y as f32 + 0.5));
        x > x1 - margin && x < x2 + margin && y > y1 - margin && y < y2 + margin
    };
    let mut inked = 0;
    for y in 0..*height {
        for x in 0..*width {
            let at = y * width + x;
            if inside(x, y, 0.0) {
                if after[at] < 128 && before[at] > 200 {
                    inked += 1;
                }
            } else if !inside(x, y, 2.0) {
                assert_eq!(
                    before[at], after[at],
                    "pixel ({x}, {y}) changed outside the field"
                );
            }
        }
    }
    assert!(inked > 200, "only {inked} pixels of the field were inked");
}
