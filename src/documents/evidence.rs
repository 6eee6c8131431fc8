//! The compliance evidence report (存证报告): for one contract or face verification, whether its
//! event chain is intact, every event in order with its hash and the previous one, what validating
//! the signed PDF found, and where the document was archived. Plain data in, a [`Layout`] out, with
//! one signature field for the platform seal, so the report itself can be signed.

use chrono::{DateTime, Utc};

use super::contract::{PLATFORM_SEAL_FIELD, beijing_time};
use super::pdf::{Block, Layout};
use super::validate::{SignatureKind, SignatureValidation};

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceReport {
    /// The contract id or face verification id the events belong to.
    pub subject_id: String,
    pub generated_at: DateTime<Utc>,
    /// Whether every event's hash and link to its predecessor checked out.
    pub chain_intact: bool,
    /// What the chain check found, in words (e.g. "12 events, hashes verified").
    pub chain_detail: String,
    /// In stream order.
    pub events: Vec<EvidenceEvent>,
    /// From validating the signed PDF, when there is one.
    pub signatures: Vec<SignatureValidation>,
    pub archives: Vec<ArchiveRecord>,
}

/// One event of the subject's stream.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceEvent {
    pub version: u64,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub ip: Option<String>,
    /// What happened, with personal data already masked.
    pub summary: String,
    pub event_hash_hex: String,
    pub prev_hash_hex: String,
}

/// One archive (存证) of the signed document.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveRecord {
    /// `TSA`, `LOCAL_CA`, `BLOCKCHAIN`.
    pub provider: String,
    pub archive_id: String,
    /// `PENDING`, `ARCHIVED`, `FAILED`.
    pub status: String,
    pub archived_at: Option<DateTime<Utc>>,
    /// The timestamp authority or chain that holds the record.
    pub authority: Option<String>,
    /// The provider's transaction or token serial.
    pub transaction_no: Option<String>,
}

const NOT_RECORDED: &str = "—";

fn or_not_recorded(value: Option<&str>) -> String {
    value
        .filter(|value| !value.trim().is_empty())
        .map_or_else(|| NOT_RECORDED.to_owned(), str::to_owned)
}

fn yes_no(value: bool) -> String {
    if value { "是" } else { "否" }.to_owned()
}

/// The report's layout.
pub fn evidence_layout(report: &EvidenceReport) -> Layout {
    let title = "电子签约存证报告".to_owned();
    let mut blocks = vec![
        Block::Title(title.clone()),
        Block::Fields(vec![
            ("业务编号".into(), report.subject_id.clone()),
            ("报告生成时间".into(), beijing_time(report.generated_at)),
            ("事件数量".into(), report.events.len().to_string()),
        ]),
        Block::Heading("事件链完整性".into()),
        Block::Fields(vec![
            (
                "校验结果".into(),
                if report.chain_intact {
                    "完整：每个事件的哈希及其与前一事件的链接均已验证".to_owned()
                } else {
                    "不完整：事件链校验未通过".to_owned()
                },
            ),
            ("说明".into(), report.chain_detail.clone()),
        ]),
        Block::Heading("事件时间线".into()),
    ];
    if report.events.is_empty() {
        blocks.push(Block::Paragraph("没有事件。".into()));
    }
    for event in &report.events {
        blocks.push(Block::Fields(vec![
            (
                "版本".into(),
                format!("{}  {}", event.version, event.event_type),
            ),
            ("发生时间".into(), beijing_time(event.occurred_at)),
            ("操作方".into(), event.actor.clone()),
            ("IP 地址".into(), or_not_recorded(event.ip.as_deref())),
            ("摘要".into(), event.summary.clone()),
            ("事件哈希".into(), event.event_hash_hex.clone()),
            ("前一哈希".into(), event.prev_hash_hex.clone()),
        ]));
        blocks.push(Block::Rule);
    }

    if !report.signatures.is_empty() {
        blocks.push(Block::Heading("文件签名验证".into()));
        for (index, signature) in report.signatures.iter().enumerate() {
            blocks.push(Block::Fields(signature_fields(index, signature)));
        }
    }

    blocks.push(Block::Heading("存证记录".into()));
    if report.archives.is_empty() {
        blocks.push(Block::Paragraph("尚无存证记录。".into()));
    }
    for archive in &report.archives {
        blocks.push(Block::Fields(vec![
            ("存证方式".into(), archive.provider.clone()),
            ("存证编号".into(), archive.archive_id.clone()),
            ("状态".into(), archive.status.clone()),
            (
                "存证时间".into(),
                archive
                    .archived_at
                    .map_or_else(|| NOT_RECORDED.to_owned(), beijing_time),
            ),
            (
                "存证机构".into(),
                or_not_recorded(archive.authority.as_deref()),
            ),
            (
                "交易编号".into(),
                or_not_recorded(archive.transaction_no.as_deref()),
            ),
        ]));
    }
    blocks.push(Block::Paragraph(
        "本报告由平台根据其只追加、哈希链接的事件记录生成，并以平台数字签名签署。".into(),
    ));

    Layout {
        title,
        blocks,
        footer: format!("存证报告 {}", report.subject_id),
        signature_fields: vec![PLATFORM_SEAL_FIELD.to_owned()],
    }
}

fn signature_fields(index: usize, signature: &SignatureValidation) -> Vec<(String, String)> {
    let signer = signature.signer.as_ref();
    let kind = match signature.kind {
        SignatureKind::Signature => "数字签名",
        SignatureKind::DocumentTimestamp => "文档时间戳",
    };
    let issuer = signer
        .map(|facts| {
            [
                facts.issuer_common_name.as_deref(),
                facts.issuer_organization.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / ")
        })
        .filter(|text| !text.is_empty());
    let mut fields = vec![
        (
            format!("签名{}", index + 1),
            format!(
                "{kind}  {}",
                signature.field_name.as_deref().unwrap_or("未命名签名域")
            ),
        ),
        (
            "签署人".into(),
            or_not_recorded(
                signer
                    .and_then(|facts| facts.subject_common_name.as_deref())
                    .or(signature.name.as_deref()),
            ),
        ),
        (
            "主体序列号 (serialNumber)".into(),
            or_not_recorded(signer.and_then(|facts| facts.subject_serial_number.as_deref())),
        ),
        ("证书签发者".into(), or_not_recorded(issuer.as_deref())),
        (
            "证书有效期".into(),
            signer.map_or_else(
                || NOT_RECORDED.to_owned(),
                |facts| {
                    format!(
                        "{} 至 {}",
                        beijing_time(facts.not_before),
                        beijing_time(facts.not_after)
                    )
                },
            ),
        ),
        (
            "声明的签署时间".into(),
            signature
                .claimed_signing_time
                .map_or_else(|| NOT_RECORDED.to_owned(), beijing_time),
        ),
        (
            "时间戳".into(),
            signature.timestamp.as_ref().map_or_else(
                || "无".to_owned(),
                |timestamp| format!("{}，{}", beijing_time(timestamp.time), timestamp.authority),
            ),
        ),
        ("覆盖全文".into(), yes_no(signature.covers_whole_document)),
        (
            "验证结果".into(),
            if signature.valid { "有效" } else { "无效" }.to_owned(),
        ),
    ];
    if !signature.problems.is_empty() {
        fields.push((
            "问题".into(),
            signature
                .problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("；"),
        ));
    }
    fields
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::documents::pdf::write;
    use crate::documents::validate::{CertificateFacts, SignatureProblem, TimestampFacts};

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    pub(crate) fn sample() -> EvidenceReport {
        let signature = SignatureValidation {
            kind: SignatureKind::Signature,
            field_name: Some("Signer_RECEIVER_001".into()),
            name: Some("张三".into()),
            reason: Some("同意签署本协议".into()),
            location: None,
            claimed_signing_time: Some(time("2023-10-27T10:30:00Z")),
            sub_filter: Some("ETSI.CAdES.detached".into()),
            byte_range: Some([0, 100, 200, 300]),
            signer: Some(CertificateFacts {
                subject_common_name: Some("张三".into()),
                subject_serial_number: Some("310101xxxxxxxx1234".into()),
                subject_organization: Some("esign".into()),
                issuer_common_name: Some("esign Signing CA".into()),
                issuer_organization: Some("esign".into()),
                serial_hex: "01".into(),
                not_before: time("2023-10-27T10:29:00Z"),
                not_after: time("2023-10-27T10:59:00Z"),
            }),
            covers_whole_document: false,
            timestamp: Some(TimestampFacts {
                time: time("2023-10-27T10:30:02Z"),
                authority: "esign Timestamp Authority".into(),
                serial_hex: "0a".into(),
            }),
            checked_at: None,
            valid: false,
            problems: vec![SignatureProblem::DigestMismatch],
        };
        EvidenceReport {
            subject_id: "CONTRACT_202310270001".into(),
            generated_at: time("2023-10-28T02:00:00Z"),
            chain_intact: true,
            chain_detail: "3 个事件，哈希与链接均已验证".into(),
            events: vec![
                EvidenceEvent {
                    version: 1,
                    event_type: "ContractInitiated".into(),
                    occurred_at: time("2023-10-27T10:00:00Z"),
                    actor: "client:auth-system".into(),
                    ip: Some("10.0.0.8".into()),
                    summary: "发起签署，签署方 张*".into(),
                    event_hash_hex: "aa".repeat(32),
                    prev_hash_hex: "00".repeat(32),
                },
                EvidenceEvent {
                    version: 2,
                    event_type: "SignerSigned".into(),
                    occurred_at: time("2023-10-27T10:30:00Z"),
                    actor: "signer:RECEIVER_001".into(),
                    ip: None,
                    summary: "签署方 RECEIVER_001 完成签署".into(),
                    event_hash_hex: "bb".repeat(32),
                    prev_hash_hex: "aa".repeat(32),
                },
            ],
            signatures: vec![signature],
            archives: vec![ArchiveRecord {
                provider: "TSA".into(),
                archive_id: "ARCHIVE_001".into(),
                status: "ARCHIVED".into(),
                archived_at: Some(time("2023-10-27T10:31:00Z")),
                authority: Some("esign Timestamp Authority".into()),
                transaction_no: Some("0a1b2c".into()),
            }],
        }
    }

    #[test]
    fn the_report_has_one_seal_field_and_renders_the_same_every_time() {
        let layout = evidence_layout(&sample());
        assert_eq!(layout.signature_fields, ["PlatformSeal"]);
        assert_eq!(
            write(&layout).unwrap(),
            write(&evidence_layout(&sample())).unwrap()
        );
    }

    #[test]
    fn every_event_and_the_signature_problems_are_listed() {
        let layout = evidence_layout(&sample());
        let fields: Vec<(String, String)> = layout
            .blocks
            .iter()
            .filter_map(|block| match block {
                Block::Fields(fields) => Some(fields.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        let has =
            |label: &str, value: &str| fields.iter().any(|(l, v)| l == label && v.contains(value));
        assert!(has("版本", "1  ContractInitiated"));
        assert!(has("版本", "2  SignerSigned"));
        assert!(has("前一哈希", &"aa".repeat(32)));
        assert!(has("IP 地址", NOT_RECORDED));
        assert!(has("验证结果", "无效"));
        assert!(has("问题", "message digest"));
        assert!(has("时间戳", "esign Timestamp Authority"));
        assert!(has("存证编号", "ARCHIVE_001"));
        assert!(has("发生时间", "2023-10-27 18:00:00 (北京时间 UTC+8)"));
    }

    #[test]
    fn an_empty_report_still_says_so() {
        let report = EvidenceReport {
            events: Vec::new(),
            signatures: Vec::new(),
            archives: Vec::new(),
            chain_intact: false,
            ..sample()
        };
        let layout = evidence_layout(&report);
        assert!(
            layout
                .blocks
                .contains(&Block::Paragraph("没有事件。".into()))
        );
        assert!(
            layout
                .blocks
                .contains(&Block::Paragraph("尚无存证记录。".into()))
        );
        assert!(
            !layout
                .blocks
                .contains(&Block::Heading("文件签名验证".into()))
        );
        write(&layout).unwrap();
    }
}
