use chrono::Utc;
use der::Decode;
use x509_cert::Certificate;

use super::*;
use crate::documents::pades::{Revision, SignatureInfo};
use crate::documents::pdf::{Block, Layout, RenderedPdf, render};
use crate::documents::seal::signature_field;
use crate::documents::sign::{FieldSignature, sign_field};
use crate::trust::ca::NewCa;
use crate::trust::cms::Signer;

/// A PDF with classic cross-reference table: `objects[i]` is the body of object `i + 1`.
pub(super) fn classic_pdf(objects: &[String], trailer_extra: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (index, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", index + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R {trailer_extra} >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn stream(content: &str) -> String {
    format!(
        "<< /Length {} >>\nstream\n{content}\nendstream",
        content.len()
    )
}

/// One US Letter page drawing `content` with /F1, a Courier-like Type 1 font in WinAnsi whose
/// glyphs are all 600 units wide.
pub(super) fn latin_pdf(content: &str, trailer_extra: &str, extra: &[String]) -> Vec<u8> {
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>".to_owned(),
        stream(content),
        format!(
            "<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding \
             /FirstChar 32 /LastChar 126 /Widths [{}] >>",
            vec!["600"; 95].join(" ")
        ),
    ];
    objects.extend_from_slice(extra);
    classic_pdf(&objects, trailer_extra)
}

/// esign's own writer: "甲方（盖章）" on page 1, "乙方（盖章）" on page 2, in the embedded CJK
/// font (Identity-H with a ToUnicode map).
pub(super) fn cjk_pdf() -> Vec<u8> {
    render(&Layout {
        title: "合同".into(),
        footer: "U1".into(),
        blocks: vec![
            Block::Paragraph("甲方（盖章）".into()),
            Block::PageBreak,
            Block::Paragraph("乙方（盖章）".into()),
        ],
        signature_fields: vec![],
    })
    .unwrap()
    .bytes
}

/// `bytes` rewritten by lopdf with object streams and a cross-reference stream.
pub(super) fn with_object_streams(bytes: &[u8]) -> Vec<u8> {
    let mut document = lopdf::Document::load_mem(bytes).unwrap();
    let mut out = Vec::new();
    document.save_modern(&mut out).unwrap();
    assert!(
        out.windows(7).any(|window| window == b"/ObjStm"),
        "object streams were written"
    );
    assert!(
        !out.windows(7).any(|window| window == b"\nxref\n"),
        "no classic cross-reference table"
    );
    out
}

fn close(actual: f32, expected: f32, tolerance: f32) -> bool {
    (actual - expected).abs() <= tolerance
}

#[test]
fn an_ordinary_pdf_is_described_page_by_page() {
    let pdf = latin_pdf("BT /F1 12 Tf 100 700 Td (Hello) Tj ET", "", &[]);
    let uploaded = inspect(&pdf, &UploadLimits::default()).unwrap();
    assert_eq!(uploaded.page_count, 1);
    assert_eq!(uploaded.pages[0].rect, [0.0, 0.0, 612.0, 792.0]);
    assert_eq!(
        (uploaded.pages[0].width, uploaded.pages[0].height),
        (612.0, 792.0)
    );
    assert_eq!(uploaded.pages[0].rotate, 0);
    assert_eq!(uploaded.sha256, hex::encode(Sha256::digest(&pdf)));

    let cjk = inspect(&cjk_pdf(), &UploadLimits::default()).unwrap();
    assert_eq!(cjk.page_count, 2);
    assert_eq!(cjk.pages[1].rect, [0.0, 0.0, 595.0, 842.0]);
}

#[test]
fn crop_box_and_rotation_are_inherited_from_the_page_tree() {
    let pdf = classic_pdf(
        &[
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 600 800] /Rotate -90 >>"
                .to_owned(),
            "<< /Type /Page /Parent 2 0 R /CropBox [10 20 590 780] /Contents 4 0 R >>".to_owned(),
            stream(""),
        ],
        "",
    );
    let uploaded = inspect(&pdf, &UploadLimits::default()).unwrap();
    assert_eq!(uploaded.pages[0].rect, [10.0, 20.0, 590.0, 780.0]);
    assert_eq!(uploaded.pages[0].width, 580.0);
    assert_eq!(uploaded.pages[0].rotate, 270);
}

#[test]
fn a_file_too_large_is_refused_before_it_is_read() {
    let pdf = latin_pdf("", "", &[]);
    let limits = UploadLimits {
        max_bytes: 100,
        ..UploadLimits::default()
    };
    assert_eq!(
        inspect(&pdf, &limits),
        Err(UploadError::TooLarge {
            size: pdf.len(),
            max: 100
        })
    );
    assert_eq!(MAX_UPLOAD_BYTES, 20 * 1024 * 1024);
    assert_eq!(MAX_UPLOAD_PAGES, 500);
}

#[test]
fn too_many_pages_are_refused() {
    let limits = UploadLimits {
        max_pages: 1,
        ..UploadLimits::default()
    };
    assert_eq!(
        inspect(&cjk_pdf(), &limits),
        Err(UploadError::TooManyPages { pages: 2, max: 1 })
    );
}

#[test]
fn what_is_not_a_pdf_is_refused_as_malformed() {
    let pdf = latin_pdf("BT /F1 12 Tf (x) Tj ET", "", &[]);
    for bytes in [
        b"hello".to_vec(),
        Vec::new(),
        b"%PDF-1.7\n%%EOF\n".to_vec(),
        pdf[..pdf.len() / 3].to_vec(),
        b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 1 0 R >> endobj\ntrailer << /Root 1 0 R >>"
            .to_vec(),
    ] {
        let result = inspect(&bytes, &UploadLimits::default());
        assert!(
            matches!(
                result,
                Err(UploadError::Malformed(_) | UploadError::NoPages)
            ),
            "{result:?} for {:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn a_document_without_pages_is_refused() {
    let pdf = classic_pdf(
        &[
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [] /Count 0 >>".to_owned(),
        ],
        "",
    );
    assert_eq!(
        inspect(&pdf, &UploadLimits::default()),
        Err(UploadError::NoPages)
    );
}

#[test]
fn an_encrypted_document_is_refused() {
    let zeros = "00".repeat(32);
    let pdf = latin_pdf(
        "",
        "/Encrypt 6 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>]",
        &[format!(
            "<< /Filter /Standard /V 1 /R 2 /O <{zeros}> /U <{zeros}> /P -44 >>"
        )],
    );
    assert_eq!(
        inspect(&pdf, &UploadLimits::default()),
        Err(UploadError::Encrypted)
    );
    assert_eq!(
        prepare(&pdf, &[placement("A", 1, [10.0, 10.0, 50.0, 50.0])]),
        Err(UploadError::Encrypted)
    );
}

fn test_ca() -> NewCa {
    NewCa::generate("esign", Utc::now()).unwrap()
}

fn chain(ca: &NewCa) -> Vec<Certificate> {
    ca.ca
        .chain()
        .iter()
        .map(|der| Certificate::from_der(der).unwrap())
        .collect()
}

fn info(name: &str) -> SignatureInfo {
    SignatureInfo {
        name: name.into(),
        reason: "同意签署本协议".into(),
        location: None,
        // The test CA's certificates start now.
        signed_at: Utc::now() + chrono::TimeDelta::seconds(1),
    }
}

/// Signs `field` of `rendered` as it stands in `bytes`, as a signer's revision does.
fn sign(ca: &NewCa, rendered: &RenderedPdf, bytes: &[u8], field: &str) -> Vec<u8> {
    let seal = ca.ca.seal();
    let chain = chain(ca);
    let revision = Revision::continuing(rendered, bytes).unwrap();
    sign_field(
        bytes,
        &revision,
        FieldSignature {
            field: signature_field(rendered, field).unwrap(),
            info: &info(field),
            appearance: None,
            signer: Signer {
                certificate: &seal.certificate,
                key: &seal.key,
            },
            chain: &chain,
        },
    )
    .unwrap()
    .0
}

#[test]
fn a_document_esign_signed_is_refused_and_so_are_certification_marks() {
    let ca = test_ca();
    let rendered = render(&Layout {
        title: "合同".into(),
        footer: "U1".into(),
        blocks: vec![Block::Paragraph("甲方".into())],
        signature_fields: vec!["Signer_A".into()],
    })
    .unwrap();
    assert!(
        inspect(&rendered.bytes, &UploadLimits::default()).is_ok(),
        "an empty signature field is no signature"
    );
    let signed = sign(&ca, &rendered, &rendered.bytes, "Signer_A");
    assert!(matches!(
        inspect(&signed, &UploadLimits::default()),
        Err(UploadError::AlreadySigned(_))
    ));

    let perms = classic_pdf(
        &[
            "<< /Type /Catalog /Pages 2 0 R /Perms << /UR3 4 0 R >> >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>".to_owned(),
            "<< /Type /Sig >>".to_owned(),
        ],
        "",
    );
    assert_eq!(
        inspect(&perms, &UploadLimits::default()),
        Err(UploadError::AlreadySigned("the catalog has /Perms"))
    );
    let doc_mdp = latin_pdf(
        "",
        "",
        &["<< /Type /SigRef /TransformMethod /DocMDP >>".to_owned()],
    );
    assert_eq!(
        inspect(&doc_mdp, &UploadLimits::default()),
        Err(UploadError::AlreadySigned("a /DocMDP certification"))
    );
}

#[test]
fn latin_text_in_a_simple_font_is_found_where_it_is_drawn() {
    let pdf = latin_pdf(
        "BT /F1 12 Tf 100 700 Td (Signature of the buyer:) Tj ET",
        "",
        &[],
    );
    let hits = find_anchor(&pdf, &UploadLimits::default(), "buyer").unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let [x1, y1, x2, y2] = hits[0].rect;
    assert_eq!(hits[0].page, 1);
    assert!(close(x1, 100.0 + 17.0 * 7.2, 0.01), "{x1}");
    assert!(close(x2, 100.0 + 22.0 * 7.2, 0.01), "{x2}");
    assert!(close(y1, 700.0 - 0.2 * 12.0, 0.01) && close(y2, 700.0 + 0.8 * 12.0, 0.01));
    assert!(
        find_anchor(&pdf, &UploadLimits::default(), "seller")
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        find_anchor(&pdf, &UploadLimits::default(), " "),
        Err(UploadError::EmptyAnchor)
    );
}

#[test]
fn text_split_over_show_operators_and_text_objects_still_matches() {
    let pdf = latin_pdf(
        "BT /F1 12 Tf 1 0 0 1 100 600 Tm [(Sig) -1000 (ned)] TJ ( he) Tj ET \
         BT /F1 12 Tf 300 600 Td (re) Tj (by) ' ET",
        "",
        &[],
    );
    let signed = find_anchor(&pdf, &UploadLimits::default(), "Signed").unwrap();
    assert_eq!(signed.len(), 1);
    let [x1, _, x2, _] = signed[0].rect;
    assert!(
        close(x1, 100.0, 0.01) && close(x2, 100.0 + 21.6 + 12.0 + 21.6, 0.01),
        "{signed:?}"
    );
    let hereby = find_anchor(&pdf, &UploadLimits::default(), "here by").unwrap();
    assert_eq!(hereby.len(), 1, "white space is ignored");
    assert!(close(hereby[0].rect[2], 300.0 + 14.4, 0.01), "{hereby:?}");
}

#[test]
fn text_state_and_the_transformation_matrix_move_the_text() {
    let pdf = latin_pdf(
        "BT /F1 10 Tf 14 TL 50 500 Td (first) Tj T* 2 Tc 50 Tz (second) Tj ET \
         q 2 0 0 2 0 0 cm BT 0 Tc 100 Tz /F1 10 Tf 10 10 Td 5 Ts (double) Tj ET Q \
         BT /F1 10 Tf 10 10 Td (after) Tj ET",
        "",
        &[],
    );
    let limits = UploadLimits::default();
    let second = find_anchor(&pdf, &limits, "second").unwrap()[0].rect;
    // Tz 50 halves each advance and the character spacing: 5 × (6 + 2) / 2 + 6 / 2.
    assert!(
        close(second[0], 50.0, 0.01) && close(second[2], 73.0, 0.01),
        "{second:?}"
    );
    assert!(close(second[1], 486.0 - 2.0, 0.01), "{second:?}");
    let double = find_anchor(&pdf, &limits, "double").unwrap()[0].rect;
    assert!(
        close(double[0], 20.0, 0.01) && close(double[2], 20.0 + 72.0, 0.01),
        "{double:?}"
    );
    assert!(
        close(double[1], 2.0 * (10.0 + 5.0 - 2.0), 0.01),
        "rise: {double:?}"
    );
    let after = find_anchor(&pdf, &limits, "after").unwrap()[0].rect;
    assert!(
        close(after[0], 10.0, 0.01),
        "Q restored the matrix: {after:?}"
    );
}

#[test]
fn cjk_anchors_in_esigns_own_layout_are_found_on_their_pages() {
    let pdf = cjk_pdf();
    let limits = UploadLimits::default();
    for (text, page) in [("甲方（盖章）", 1), ("乙方(盖章)", 2)] {
        let hits = find_anchor(&pdf, &limits, text).unwrap();
        assert_eq!(hits.len(), 1, "{text}: {hits:?}");
        assert_eq!(hits[0].page, page);
        // The layout draws a paragraph's first line at the left margin (56 pt), 10.5 pt text with
        // its baseline 10.5 pt below the top margin (842 - 56).
        let [x1, y1, x2, y2] = hits[0].rect;
        assert!(close(x1, 56.0, 0.5), "{text}: {x1}");
        assert!(close(x2, 56.0 + 6.0 * 10.5, 4.0), "{text}: {x2}");
        assert!(
            y1 < 775.5 && y2 > 775.5 + 7.0 && y2 < 775.5 + 12.0,
            "{text}: {y1} {y2}"
        );
    }
    assert!(find_anchor(&pdf, &limits, "丙方").unwrap().is_empty());
}

#[test]
fn anchors_are_found_in_object_streams_behind_a_cross_reference_stream() {
    let pdf = with_object_streams(&cjk_pdf());
    let hits = find_anchor(&pdf, &UploadLimits::default(), "乙方（盖章）").unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].page, 2);
}

#[test]
fn a_seal_centred_on_an_anchor_stays_inside_the_page() {
    let page = PageBox {
        rect: [0.0, 0.0, 595.0, 842.0],
        width: 595.0,
        height: 842.0,
        rotate: 0,
    };
    let hit = AnchorHit {
        page: 1,
        rect: [100.0, 400.0, 160.0, 412.0],
    };
    assert_eq!(
        centred_on(&hit, &page, 120.0, 120.0),
        [70.0, 346.0, 190.0, 466.0]
    );
    let corner = AnchorHit {
        page: 1,
        rect: [560.0, 5.0, 590.0, 15.0],
    };
    assert_eq!(
        centred_on(&corner, &page, 120.0, 120.0),
        [475.0, 0.0, 595.0, 120.0]
    );
    assert_eq!(
        centred_on(&hit, &page, 1e6, f32::NAN),
        [0.0, 405.5, 595.0, 406.5],
        "no wider than the page, and a size that is no number is the smallest"
    );
}

fn placement(field: &str, page: u32, rect: [f32; 4]) -> Placement {
    Placement {
        field: field.into(),
        page,
        rect,
    }
}

#[test]
fn placements_off_the_document_are_refused_naming_the_placement() {
    let pdf = cjk_pdf();
    let good = placement("Signer_A", 1, [100.0, 100.0, 220.0, 160.0]);
    assert_eq!(prepare(&pdf, &[]), Err(UploadError::NoPlacements));
    assert!(matches!(
        prepare(
            &pdf,
            &[good.clone(), placement("Signer_B", 3, [0.0, 0.0, 1.0, 1.0])]
        ),
        Err(UploadError::PageOutOfRange {
            index: 1,
            page: 3,
            pages: 2,
            ..
        })
    ));
    assert!(matches!(
        prepare(&pdf, &[placement("Signer_B", 0, [0.0, 0.0, 1.0, 1.0])]),
        Err(UploadError::PageOutOfRange { index: 0, .. })
    ));
    for rect in [
        [500.0, 100.0, 620.0, 160.0],
        [-1.0, 100.0, 20.0, 160.0],
        [100.0, 100.0, 100.0, 160.0],
        [100.0, f32::NAN, 120.0, 160.0],
    ] {
        assert!(
            matches!(
                prepare(&pdf, &[good.clone(), placement("Signer_B", 2, rect)]),
                Err(UploadError::RectOutsidePage { index: 1, ref field, page: 2, .. }) if field == "Signer_B"
            ),
            "{rect:?}"
        );
    }
    for name in ["", "a.b", "Signer_A"] {
        assert!(matches!(
            prepare(
                &pdf,
                &[good.clone(), placement(name, 1, [0.0, 0.0, 9.0, 9.0])]
            ),
            Err(UploadError::FieldName { index: 1, .. })
        ));
    }
}

#[test]
fn the_first_revision_appends_fields_to_the_unchanged_upload_deterministically() {
    for upload in [cjk_pdf(), with_object_streams(&cjk_pdf())] {
        let placements = [
            placement("Signer_A", 1, [56.0, 700.0, 176.0, 760.0]),
            placement("Signer_B", 2, [56.0, 700.0, 176.0, 760.0]),
        ];
        let first = prepare(&upload, &placements).unwrap();
        assert_eq!(
            first,
            prepare(&upload, &placements).unwrap(),
            "deterministic"
        );
        assert!(first.bytes.starts_with(&upload));
        assert_eq!(
            first.bytes[upload.len()..]
                .windows(9)
                .filter(|window| window == b"startxref")
                .count(),
            1,
            "one update"
        );
        assert_eq!(
            Revision::of_file(&first.bytes).unwrap(),
            Revision::of(&first)
        );
        assert_eq!(first.fields.len(), 2);

        let reread = lopdf::Document::load_mem(&first.bytes).unwrap();
        let catalog = reread.catalog().unwrap();
        let form = catalog.get(b"AcroForm").unwrap().as_dict().unwrap();
        assert_eq!(form.get(b"SigFlags").unwrap().as_i64().unwrap(), 3);
        assert_eq!(form.get(b"Fields").unwrap().as_array().unwrap().len(), 2);
        let pages = reread.get_pages();
        for (field, page_number) in first.fields.iter().zip([1, 2]) {
            let page_id = pages[&page_number];
            assert_eq!(page_id, (field.page.unsigned_abs(), 0));
            let annotations = reread
                .get_dictionary(page_id)
                .unwrap()
                .get(b"Annots")
                .unwrap()
                .as_array()
                .unwrap();
            assert!(
                annotations.contains(&lopdf::Object::Reference((field.object.unsigned_abs(), 0)))
            );
        }
        assert!(reread.trailer.get(b"Info").is_ok());
        assert!(reread.trailer.get(b"ID").is_ok());
        // Still an acceptable upload: empty fields are no signatures, and the text is unchanged.
        assert!(inspect(&first.bytes, &UploadLimits::default()).is_ok());
        assert_eq!(
            find_anchor(&first.bytes, &UploadLimits::default(), "甲方（盖章）")
                .unwrap()
                .len(),
            1
        );
    }
}

#[test]
fn both_fields_of_an_uploaded_document_sign_in_turn_and_validate() {
    let ca = test_ca();
    let root = ca.ca.root().clone();
    for upload in [
        latin_pdf("BT /F1 12 Tf 100 700 Td (Buyer) Tj ET", "", &[]),
        with_object_streams(&cjk_pdf()),
    ] {
        let limits = UploadLimits::default();
        let uploaded = inspect(&upload, &limits).unwrap();
        let last = uploaded.page_count;
        let rect = centred_on(
            &AnchorHit {
                page: 1,
                rect: [100.0, 700.0, 140.0, 710.0],
            },
            &uploaded.pages[0],
            120.0,
            60.0,
        );
        let first = prepare(
            &upload,
            &[
                placement("Signer_A", 1, rect),
                placement("Signer_B", last, rect),
            ],
        )
        .unwrap();
        let once = sign(&ca, &first, &first.bytes, "Signer_A");
        let twice = sign(&ca, &first, &once, "Signer_B");
        let report =
            crate::documents::validate::validate_pdf(&twice, std::slice::from_ref(&root), None);
        assert!(report.valid, "{report:?}");
        assert_eq!(report.signatures.len(), 2);
        assert!(!report.modified_after_signing, "{report:?}");
    }
}

/// The long-term validation step (app::long_term_validation) on an uploaded document whose page
/// tree sits in object streams: the store and a timestamp field are added, the timestamp fills it.
#[tokio::test]
async fn long_term_validation_data_and_a_document_timestamp_are_added_to_an_uploaded_document() {
    let ca = test_ca();
    let policy = crate::trust::parse_tsa_policy(crate::trust::DEFAULT_TSA_POLICY).unwrap();
    let authority = std::sync::Arc::new(test_ca().ca);
    let timestamper = crate::trust::timestamper::LocalTimestamper::new(std::sync::Arc::new(
        authority.tsa_signer(policy),
    ));
    let upload = with_object_streams(&cjk_pdf());
    let first = prepare(
        &upload,
        &[placement("Signer_A", 2, [56.0, 700.0, 176.0, 760.0])],
    )
    .unwrap();
    let signed = sign(&ca, &first, &first.bytes, "Signer_A");
    let appended = crate::documents::ltv::append_dss(
        &signed,
        &Revision::continuing(&first, &signed).unwrap(),
        &crate::documents::ltv::ValidationData {
            certificates: ca.ca.chain(),
            ..Default::default()
        },
        Some("DocumentTimestamp"),
    )
    .unwrap();
    let field = appended.field.clone().unwrap();
    let stamped = crate::documents::sign::timestamp_document(
        &appended.bytes,
        &appended.revision,
        &field,
        &timestamper,
    )
    .await
    .unwrap();
    let reread = lopdf::Document::load_mem(&stamped.bytes).unwrap();
    assert!(reread.catalog().unwrap().has(b"DSS"));
    let form = reread
        .catalog()
        .unwrap()
        .get(b"AcroForm")
        .unwrap()
        .as_dict()
        .unwrap();
    assert_eq!(form.get(b"Fields").unwrap().as_array().unwrap().len(), 2);
    let report = crate::documents::validate::validate_pdf(
        &stamped.bytes,
        &[ca.ca.root().clone(), authority.root().clone()],
        None,
    );
    assert!(report.valid, "{report:?}");
    assert_eq!(report.signatures.len(), 2);
}

/// Damaged files give a value or a refusal, never a panic: bytes flipped, cut short or
/// duplicated all over a classic file and one with object streams.
#[test]
fn damaged_files_never_panic() {
    let classic = latin_pdf("BT /F1 12 Tf 100 700 Td [(Bu) -20 (yer)] TJ ET", "", &[]);
    let compressed = with_object_streams(&cjk_pdf());
    let limits = UploadLimits::default();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for original in [classic, compressed] {
        for round in 0..400 {
            let mut bytes = original.clone();
            let at = (next() as usize) % bytes.len();
            match round % 3 {
                0 => bytes[at] = next() as u8,
                1 => bytes.truncate(at),
                _ => {
                    let end = (at + (next() as usize) % 64).min(bytes.len());
                    let copy = bytes[at..end].to_vec();
                    bytes.splice(at..at, copy);
                }
            }
            let _ = inspect(&bytes, &limits);
            let _ = find_anchor(&bytes, &limits, "Buyer");
            let _ = prepare(&bytes, &[placement("A", 1, [10.0, 10.0, 50.0, 50.0])]);
        }
    }
}

#[test]
fn text_inside_a_form_xobject_is_found_where_the_form_draws_it() {
    let form = "BT /F1 12 Tf 100 100 Td (Inside) Tj ET";
    let pdf = classic_pdf(
        &[
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
             /Resources << /XObject << /X1 6 0 R >> >> /Contents 4 0 R >>"
                .to_owned(),
            stream("q 1 0 0 1 0 200 cm /X1 Do Q /X1 Do"),
            format!(
                "<< /Type /Font /Subtype /Type1 /BaseFont /Courier /FirstChar 32 /Widths [{}] >>",
                vec!["600"; 95].join(" ")
            ),
            format!(
                "<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Matrix [1 0 0 1 50 0] \
                 /Resources << /Font << /F1 5 0 R >> >> /Length {} >>\nstream\n{form}\nendstream",
                form.len()
            ),
        ],
        "",
    );
    let hits = find_anchor(&pdf, &UploadLimits::default(), "Inside").unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    let [x1, y1, x2, _] = hits[0].rect;
    assert!(
        close(x1, 150.0, 0.01) && close(x2, 150.0 + 43.2, 0.01),
        "{hits:?}"
    );
    assert!(close(y1, 300.0 - 2.4, 0.01), "{hits:?}");
    assert!(close(hits[1].rect[1], 100.0 - 2.4, 0.01), "{hits:?}");
}

#[test]
fn a_form_that_draws_itself_ends() {
    let form = "/X1 Do /X1 Do BT /F1 12 Tf 10 10 Td (Loop) Tj ET";
    let pdf = classic_pdf(
        &[
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources 7 0 R /Contents 4 0 R >>"
                .to_owned(),
            stream("/X1 Do"),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>".to_owned(),
            format!(
                "<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources 7 0 R \
                 /Length {} >>\nstream\n{form}\nendstream",
                form.len()
            ),
            "<< /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >>".to_owned(),
        ],
        "",
    );
    let hits = find_anchor(&pdf, &UploadLimits::default(), "Loop").unwrap();
    assert_eq!(hits.len(), (1 << super::text::MAX_FORM_DEPTH) - 1);
}

#[test]
fn a_standard_font_without_widths_is_measured_with_its_own_metrics() {
    let pdf = classic_pdf(
        &[
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
             /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
                .to_owned(),
            stream("BT /F1 10 Tf 100 500 Td (Hello World) Tj ET"),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
                .to_owned(),
        ],
        "",
    );
    let hits = find_anchor(&pdf, &UploadLimits::default(), "World").unwrap();
    let [x1, _, x2, _] = hits[0].rect;
    // H e l l o and the space: 722 + 556 + 222 + 222 + 556 + 278; W o r l d: 944 + 556 + 333 +
    // 222 + 556 (thousandths of the 10 pt size).
    assert!(
        close(x1, 125.56, 0.01) && close(x2, 151.67, 0.01),
        "{hits:?}"
    );
}

/// The way Chinese contracts are often written by iText and similar libraries: an unembedded
/// STSong-Light with the predefined UniGB-UCS2-H CMap and no ToUnicode map.
#[test]
fn chinese_text_in_an_unembedded_font_with_a_unicode_cmap_is_found() {
    let pdf = classic_pdf(
        &[
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
             /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
                .to_owned(),
            // 乙方（盖章）: U+4E59 U+65B9 U+FF08 U+76D6 U+7AE0 U+FF09.
            stream("BT /F1 12 Tf 300 100 Td <4E5965B9FF08> Tj <76D67AE0FF09> Tj ET"),
            "<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H \
             /DescendantFonts [6 0 R] >>"
                .to_owned(),
            "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light \
             /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /DW 1000 >>"
                .to_owned(),
        ],
        "",
    );
    let hits = find_anchor(&pdf, &UploadLimits::default(), "乙方（盖章）").unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let [x1, _, x2, _] = hits[0].rect;
    assert!(close(x1, 300.0, 0.01) && close(x2, 372.0, 0.01), "{hits:?}");
}

#[test]
fn an_upload_read_once_answers_as_the_functions_that_read_it_each_time() {
    let pdf = with_object_streams(&cjk_pdf());
    let limits = UploadLimits::default();
    let upload = Upload::read(pdf.clone(), &limits).unwrap();
    assert_eq!(upload.pdf(), &inspect(&pdf, &limits).unwrap());
    for text in ["甲方（盖章）", "乙方(盖章)", "丙方"] {
        assert_eq!(
            upload.find_anchor(text).unwrap(),
            find_anchor(&pdf, &limits, text).unwrap(),
            "{text}"
        );
    }
    assert_eq!(upload.find_anchor(" "), Err(UploadError::EmptyAnchor));
    let placements = [
        placement("Signer_A", 1, [100.0, 100.0, 250.0, 160.0]),
        Placement {
            field: "PlatformSeal".into(),
            page: 1,
            rect: INVISIBLE,
        },
    ];
    assert_eq!(
        upload.prepare(&placements).unwrap(),
        prepare(&pdf, &placements).unwrap()
    );
    assert_eq!(
        Upload::read(
            pdf.clone(),
            &UploadLimits {
                max_bytes: 10,
                max_pages: 1
            }
        )
        .unwrap_err(),
        UploadError::TooLarge {
            size: pdf.len(),
            max: 10
        }
    );
    assert_eq!(upload.into_bytes(), pdf);
}

/// Found by the fuzzer: a file the parser reads around its damage, which read without pages once
/// the fields' update pointed back into it. It is refused instead of prepared.
#[test]
fn a_damaged_file_that_would_read_differently_once_updated_is_refused() {
    let damaged = include_bytes!(
        "../../../fuzz/corpus/uploaded_pdf/found-damaged-file-reads-back-without-pages"
    );
    assert!(inspect(damaged, &UploadLimits::default()).is_ok());
    assert_eq!(
        prepare(
            damaged,
            &[placement("Signer_A", 1, [10.0, 10.0, 40.0, 40.0])]
        ),
        Err(UploadError::Damaged)
    );
}
