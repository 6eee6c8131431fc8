//! The PDF writer, checked by outside tools: poppler's `pdfinfo`, `pdftotext` and `pdftoppm` read the
//! document, extract its Chinese text exactly, and render every page; the same blocks always give the
//! same bytes.

use std::process::Command;

use esign::documents::pdf::{Block, Layout, write};

/// Runs a poppler tool, or `None` when poppler is not installed (see [`crate::helpers::skip`]).
fn poppler(tool: &str, args: &[&str]) -> Option<std::process::Output> {
    match Command::new(tool).args(args).output() {
        Ok(output) => Some(output),
        Err(error) => {
            crate::helpers::skip(
                &format!("{tool} (poppler-utils)"),
                format_args!("it is not installed ({error})"),
            );
            None
        }
    }
}

/// A signature-like RGBA PNG: a dark diagonal stroke on a transparent background.
fn stroke_png() -> Vec<u8> {
    let (width, height) = (120u32, 40u32);
    let mut pixels = vec![0u8; (width * height * 4) as usize];
    for x in 0..width {
        let y = (x * (height - 1)) / width;
        let at = ((y * width + x) * 4) as usize;
        pixels[at..at + 4].copy_from_slice(&[20, 20, 60, 255]);
    }
    crate::helpers::rgba_png(width, height, &pixels)
}

fn sample() -> Layout {
    let long = "本协议由付款方与收款方依据《中华人民共和国民法典》及相关法律法规，在平等自愿、协商一致的基础上订立。".repeat(12);
    Layout {
        title: "天财分账资金归集授权协议".into(),
        footer: "CONTRACT_202310270001".into(),
        signature_fields: vec!["Signer_RECEIVER_001".into(), "PlatformSeal".into()],
        blocks: vec![
            Block::Title("天财分账资金归集授权协议".into()),
            Block::Fields(vec![
                ("协议编号".into(), "CONTRACT_202310270001".into()),
                ("付款方".into(), "XX品牌总部".into()),
            ]),
            Block::Heading("第一条 授权内容".into()),
            Block::Paragraph(long),
            Block::Rule,
            Block::Image {
                png: stroke_png(),
                width: 120.0,
                caption: Some("张三 2023-10-27 10:05:00".into()),
            },
            Block::PageBreak,
            Block::Heading("签署摘要".into()),
            Block::Image {
                png: esign::documents::qr::png(
                    "https://esign.example.com/verify?contractId=CONTRACT_202310270001",
                )
                .unwrap(),
                width: 90.0,
                caption: Some("扫码验证".into()),
            },
        ],
    }
}

#[test]
fn the_same_blocks_give_the_same_bytes() {
    let first = write(&sample()).unwrap();
    let second = write(&sample()).unwrap();
    assert_eq!(first, second);
    assert!(first.starts_with(b"%PDF-"));
    let mut changed = sample();
    changed.blocks.push(Block::Paragraph("补充条款".into()));
    assert_ne!(write(&changed).unwrap(), first);
}

#[test]
fn poppler_reads_the_chinese_text_and_renders_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("contract.pdf");
    std::fs::write(&path, write(&sample()).unwrap()).unwrap();
    let file = path.to_str().unwrap();

    let Some(info) = poppler("pdfinfo", &[file]) else {
        return;
    };
    assert!(
        info.status.success(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    assert!(
        info.contains("Title:           天财分账资金归集授权协议"),
        "{info}"
    );
    let pages: usize = info
        .lines()
        .find_map(|line| line.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pages >= 2, "{info}");

    let text = poppler("pdftotext", &["-layout", file, "-"]).unwrap();
    assert!(text.status.success());
    // Extraction spaces text by glyph positions, so compare without whitespace.
    let text: String = String::from_utf8_lossy(&text.stdout)
        .chars()
        .filter(|ch| !ch.is_whitespace())
        .collect();
    for expected in [
        "天财分账资金归集授权协议",
        "第一条 授权内容",
        "《中华人民共和国民法典》",
        "张三 2023-10-27 10:05:00",
        "签署摘要",
        "CONTRACT_202310270001",
        "第 1 页",
    ] {
        let expected: String = expected.chars().filter(|ch| !ch.is_whitespace()).collect();
        assert!(text.contains(&expected), "missing {expected:?} in:\n{text}");
    }

    let prefix = dir.path().join("page");
    let rendered = poppler(
        "pdftoppm",
        &["-png", "-r", "50", file, prefix.to_str().unwrap()],
    )
    .unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    assert!(
        rendered.stderr.is_empty(),
        "poppler complained: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let images = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("page")
        })
        .count();
    assert_eq!(images, pages);
}
