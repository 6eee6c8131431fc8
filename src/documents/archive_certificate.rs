//! The archive certificate (存证证书): a one-page PDF stating what was archived, with whom and
//! when, the provider's evidence in readable form, and a QR code of the page that verifies it.
//!
//! The certificate is a convenience for people; the evidence (`metadata_json`) is what verifies.
//! Like the contract document, the bytes depend only on the facts given: the same facts always give
//! the same PDF.

use aggregates::values::ArchiveProvider;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use crate::documents::pdf::{self, Block, Layout, PdfError};

pub const TITLE: &str = "存证证书";
/// Width of the QR code on the page, in points (about 4 cm).
const QR_WIDTH: f32 = 120.0;

/// What the certificate states; all of it comes from the stored archive record.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateFacts {
    pub contract_id: String,
    pub archive_id: String,
    pub provider: ArchiveProvider,
    /// The receipt's authority: the TSA's name, or the log's name.
    pub authority: String,
    pub archived_at: DateTime<Utc>,
    pub document_hash: [u8; 32],
    pub transaction_no: String,
    /// The receipt's evidence in readable form, label and value (the archive provider reads its
    /// own evidence: `providers::archive::readable_evidence`).
    pub evidence: Vec<(String, String)>,
    /// Where a reader verifies the archive (encoded in the QR code and printed under it).
    pub verify_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error(transparent)]
    Qr(#[from] crate::documents::qr::QrError),
    #[error(transparent)]
    Pdf(#[from] PdfError),
}

/// Beijing time, as Chinese readers expect, with the offset written out.
pub fn beijing(time: DateTime<Utc>) -> String {
    match time.checked_add_signed(TimeDelta::hours(8)) {
        Some(shifted) => format!("{} (UTC+08:00)", shifted.format("%Y-%m-%d %H:%M:%S")),
        None => time.to_rfc3339_opts(SecondsFormat::Secs, true),
    }
}

fn provider_label(provider: ArchiveProvider) -> &'static str {
    match provider {
        ArchiveProvider::Tsa => "TSA 可信时间戳",
        ArchiveProvider::LocalCa => "LOCAL_CA 平台 CA 时间戳",
        // Named for what it is: the platform's own log, not a third-party chain.
        ArchiveProvider::Blockchain => "BLOCKCHAIN 接口（当前为平台本地 Merkle 日志）",
    }
}

/// The certificate's layout: a pure function of `facts`.
pub fn certificate_layout(facts: &CertificateFacts) -> Result<Layout, CertificateError> {
    let authority_label = match facts.provider {
        ArchiveProvider::Blockchain => "存证网络",
        ArchiveProvider::Tsa | ArchiveProvider::LocalCa => "存证机构",
    };
    let mut blocks = vec![
        Block::Title(TITLE.to_owned()),
        Block::Paragraph(
            "兹证明：下列电子协议文件的 SHA-256 摘要已于存证时间提交存证服务，并取得可独立验证的存证凭据。"
                .to_owned(),
        ),
        Block::Rule,
        Block::Heading("存证信息".to_owned()),
        Block::Fields(vec![
            ("协议编号".to_owned(), facts.contract_id.clone()),
            ("存证编号".to_owned(), facts.archive_id.clone()),
            ("存证方式".to_owned(), provider_label(facts.provider).to_owned()),
            (authority_label.to_owned(), facts.authority.clone()),
            ("存证时间".to_owned(), beijing(facts.archived_at)),
            ("文件 SHA-256".to_owned(), hex::encode(facts.document_hash)),
            ("存证流水号".to_owned(), facts.transaction_no.clone()),
        ]),
        Block::Heading("存证凭据".to_owned()),
        Block::Fields(facts.evidence.clone()),
    ];
    if facts.provider == ArchiveProvider::Blockchain {
        blocks.push(Block::Paragraph(
            "说明：本存证记录在平台自有的追加式 Merkle 日志（local-merkle-log，RFC 6962 结构）中，\
             树头由平台 CA 的时间戳密钥签名。它不是第三方区块链。"
                .to_owned(),
        ));
    }
    blocks.extend([
        Block::Space(8.0),
        Block::Heading("验证".to_owned()),
        Block::Paragraph("扫描二维码或访问下方地址，核对文件摘要与存证凭据。".to_owned()),
        Block::Image {
            png: crate::documents::qr::png(&facts.verify_url)?,
            width: QR_WIDTH,
            caption: Some(facts.verify_url.clone()),
        },
    ]);
    Ok(Layout {
        title: format!("{TITLE} {}", facts.archive_id),
        blocks,
        footer: format!("存证编号 {}", facts.archive_id),
        // Sealed by the platform, like every document esign issues in its own name.
        signature_fields: vec![crate::documents::contract::PLATFORM_SEAL_FIELD.to_owned()],
    })
}

/// The certificate as PDF bytes.
pub fn certificate_pdf(facts: &CertificateFacts) -> Result<Vec<u8>, CertificateError> {
    Ok(pdf::write(&certificate_layout(facts)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(provider: ArchiveProvider) -> CertificateFacts {
        CertificateFacts {
            contract_id: "CONTRACT_20250101_0001".into(),
            archive_id: "ARCHIVE_20250101_0001".into(),
            provider,
            authority: "local-merkle-log".into(),
            archived_at: DateTime::from_timestamp(1_735_689_600, 0).unwrap(),
            document_hash: [0xAB; 32],
            transaction_no: "local-merkle-log:7".into(),
            evidence: vec![
                ("日志名称".into(), "local-merkle-log".into()),
                ("叶子序号".into(), "7".into()),
                ("根哈希".into(), "22".repeat(32)),
            ],
            verify_url: "https://esign.test/archives/ARCHIVE_20250101_0001/verify".into(),
        }
    }

    #[test]
    fn the_layout_states_the_facts_and_is_deterministic() {
        let facts = facts(ArchiveProvider::Blockchain);
        let layout = certificate_layout(&facts).unwrap();
        assert_eq!(layout.blocks[0], Block::Title("存证证书".into()));
        let Block::Fields(fields) = &layout.blocks[4] else {
            panic!("{:?}", layout.blocks[4])
        };
        assert!(fields.contains(&("存证时间".into(), "2025-01-01 08:00:00 (UTC+08:00)".into())));
        assert!(fields.contains(&("存证网络".into(), "local-merkle-log".into())));
        let Block::Fields(evidence) = &layout.blocks[6] else {
            panic!("{:?}", layout.blocks[6])
        };
        assert!(evidence.contains(&("根哈希".into(), "22".repeat(32))));
        assert!(evidence.contains(&("叶子序号".into(), "7".into())));
        assert_eq!(
            certificate_pdf(&facts).unwrap(),
            certificate_pdf(&facts).unwrap()
        );
    }

    #[test]
    fn the_qr_code_is_the_verify_url() {
        let facts = facts(ArchiveProvider::Blockchain);
        let layout = certificate_layout(&facts).unwrap();
        let Some(Block::Image { png, caption, .. }) = layout.blocks.last() else {
            panic!("no QR code")
        };
        // src/documents/qr.rs reads its codes back with an independent decoder.
        assert_eq!(*png, crate::documents::qr::png(&facts.verify_url).unwrap());
        assert_eq!(caption.as_deref(), Some(facts.verify_url.as_str()));
    }
}
