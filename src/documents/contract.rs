//! The contract document (spec 4.1.2 step 3, 5.2 "生成最终PDF"): the contract's facts as plain
//! data in, a [`Layout`] out. No clock and no lookups, so the same facts always give the same PDF
//! bytes, and the document can be rebuilt from the event history at any time.
//!
//! The document is fixed when the contract is initiated: it holds what the signers agree to and
//! nothing that happens later. Pages: the title and the parties (names, masked ID numbers), the
//! template body, a signature section with one framed box per signer (a signer whose party type
//! has a signature place in the template body gets their box there instead), then a summary page (签署摘要)
//! with each signer's sign method, the content hash and a QR code of the verification URL. Each
//! signer's box is their signature field (`Signer_<partyId>`): when they sign, an incremental
//! update draws their handwritten signature and what the platform recorded into it and signs. The
//! platform seal (`PlatformSeal`) and the closing document timestamp (`DocumentTimestamp`) are
//! invisible fields filled last.

use chrono::{DateTime, FixedOffset, Utc};

use super::pdf::{Block, Layout};

/// The name of a signer's signature field.
pub fn signer_field_name(party_id: &str) -> String {
    format!("Signer_{party_id}")
}

/// The platform's own signature field, always the last.
pub const PLATFORM_SEAL_FIELD: &str = "PlatformSeal";

/// The closing document timestamp's field.
pub const DOCUMENT_TIMESTAMP_FIELD: &str = "DocumentTimestamp";

/// Height of a signer's signature box, in points.
const SIGNATURE_BOX_HEIGHT: f32 = 72.0;
/// Width of the verification QR code, in points.
const QR_WIDTH: f32 = 96.0;

/// Everything the contract document shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractDocument {
    pub contract_id: String,
    pub title: String,
    /// The template body, already filled with the variables (see [`super::content`]).
    pub template_blocks: Vec<Block>,
    /// In signing order.
    pub signers: Vec<SignerFacts>,
    /// The SHA-256 of the previewed content the signers agreed to, hex.
    pub content_hash_hex: String,
    /// Where anyone holding the document can check it (encoded in the QR code).
    pub verify_url: String,
}

/// One signer as the document shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct SignerFacts {
    pub party_id: String,
    pub name: String,
    /// Already masked (`110101********1234`): the full number never reaches a document.
    pub masked_id_card: String,
    /// `FACE_AND_SMS` or `CA_CERT` (spec 2.1.2); other codes are shown as they are.
    pub sign_method: String,
    /// `RECEIVER` or `PAYER`. When the template body marks a signature place for it, the signer's
    /// box is drawn there instead of in the signature section.
    pub party_type: String,
    /// Set when the signer is an organisation: `name` and `masked_id_card` are then the person
    /// who signs for it. A person's signer shows exactly as before organisations signed.
    pub organization: Option<OrganizationFacts>,
}

/// The organisation a signer signs for, as the document shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrganizationFacts {
    pub name: String,
    pub credit_code: String,
    /// `LEGAL_REPRESENTATIVE` or `AUTHORIZED_AGENT`.
    pub agent_role: String,
}

impl OrganizationFacts {
    /// How the person who signs for the organisation is called in the document.
    fn agent_label(&self) -> &'static str {
        match self.agent_role.as_str() {
            "LEGAL_REPRESENTATIVE" => "法定代表人",
            _ => "经办人",
        }
    }
}

impl SignerFacts {
    /// The party as the document names it: the organisation, else the person.
    fn party_name(&self) -> &str {
        self.organization
            .as_ref()
            .map_or(self.name.as_str(), |organization| {
                organization.name.as_str()
            })
    }

    /// The lines that identify the signer: the person's name and masked ID number, and for an
    /// organisation its credit code and who signs for it.
    fn identity_fields(&self) -> Vec<(String, String)> {
        match &self.organization {
            None => vec![("证件号码".into(), self.masked_id_card.clone())],
            Some(organization) => vec![
                ("统一社会信用代码".into(), organization.credit_code.clone()),
                (organization.agent_label().into(), self.name.clone()),
                ("证件号码".into(), self.masked_id_card.clone()),
            ],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ContractDocumentError {
    #[error("the verification URL cannot be put in a QR code: {0}")]
    Qr(#[from] crate::documents::qr::QrError),
}

/// A time as people in China read it, saying which zone it is in.
pub fn beijing_time(time: DateTime<Utc>) -> String {
    match FixedOffset::east_opt(8 * 3600) {
        Some(offset) => format!(
            "{} (北京时间 UTC+8)",
            time.with_timezone(&offset).format("%Y-%m-%d %H:%M:%S")
        ),
        None => format!("{} (UTC)", time.format("%Y-%m-%d %H:%M:%S")),
    }
}

/// How a sign method reads in the document.
pub fn sign_method_label(code: &str) -> String {
    match code {
        "FACE_AND_SMS" => "人脸核验 + 短信验证码 (FACE_AND_SMS)".to_owned(),
        "CA_CERT" => "CA 数字证书 (CA_CERT)".to_owned(),
        other => other.to_owned(),
    }
}

/// The contract document's layout.
pub fn contract_layout(document: &ContractDocument) -> Result<Layout, ContractDocumentError> {
    let mut blocks = vec![
        Block::Title(document.title.clone()),
        Block::Fields(vec![("协议编号".into(), document.contract_id.clone())]),
        Block::Heading("签署方".into()),
    ];
    for (index, signer) in document.signers.iter().enumerate() {
        let mut fields = vec![(
            format!("签署方{}", index + 1),
            signer.party_name().to_owned(),
        )];
        fields.extend(signer.identity_fields());
        blocks.push(Block::Fields(fields));
    }
    blocks.push(Block::Rule);
    // Only the first place of a party type is used (publication refuses a second one).
    let mut placed: Vec<&str> = Vec::new();
    for block in &document.template_blocks {
        match block {
            Block::SignaturePlace(party_type) if !placed.contains(&party_type.as_str()) => {
                placed.push(party_type);
                for (index, signer) in document.signers.iter().enumerate() {
                    if &signer.party_type == party_type {
                        push_signature_box(&mut blocks, index, signer);
                    }
                }
            }
            Block::SignaturePlace(_) => {}
            other => blocks.push(other.clone()),
        }
    }
    blocks.push(Block::Rule);

    let in_section: Vec<(usize, &SignerFacts)> = document
        .signers
        .iter()
        .enumerate()
        .filter(|(_, signer)| !placed.contains(&signer.party_type.as_str()))
        .collect();
    // The section stays, as it always was, unless every signer signs in the body.
    let everyone_in_body = !document.signers.is_empty() && in_section.is_empty();
    if !everyone_in_body {
        blocks.push(Block::Heading("签署区".into()));
    }
    for (index, signer) in in_section {
        push_signature_box(&mut blocks, index, signer);
    }

    blocks.push(Block::PageBreak);
    blocks.push(Block::Title("签署摘要".into()));
    blocks.push(Block::Paragraph(
        "本文件在协议发起时生成，此后不再改变。每位签署方签署时，平台在其签名框内写入手写签名、\
         签署时间（北京时间 UTC+8）、交易流水号与 IP 地址，并以当时签发的证书和可信时间戳数字签名；\
         全部签署完成后，平台签章与文档时间戳封存全文。"
            .into(),
    ));
    blocks.push(Block::Fields(vec![
        ("协议编号".into(), document.contract_id.clone()),
        ("协议标题".into(), document.title.clone()),
        (
            "内容哈希 (SHA-256)".into(),
            document.content_hash_hex.clone(),
        ),
    ]));
    for (index, signer) in document.signers.iter().enumerate() {
        blocks.push(Block::Heading(format!(
            "签署方{}：{}",
            index + 1,
            signer.party_name()
        )));
        let mut fields = vec![("签署方标识".into(), signer.party_id.clone())];
        fields.extend(signer.identity_fields());
        fields.push(("认证方式".into(), sign_method_label(&signer.sign_method)));
        blocks.push(Block::Fields(fields));
    }
    blocks.push(Block::Heading("验真".into()));
    blocks.push(Block::Image {
        png: crate::documents::qr::png(&document.verify_url)?,
        width: QR_WIDTH,
        caption: Some("扫码验证本协议".into()),
    });
    blocks.push(Block::Fields(vec![(
        "验真地址".into(),
        document.verify_url.clone(),
    )]));
    blocks.push(Block::Paragraph(
        "本文件由各签署方及平台以数字签名签署，任何改动都会使签名失效。".into(),
    ));

    let mut signature_fields: Vec<String> = document
        .signers
        .iter()
        .map(|signer| signer_field_name(&signer.party_id))
        .collect();
    signature_fields.push(PLATFORM_SEAL_FIELD.to_owned());
    signature_fields.push(DOCUMENT_TIMESTAMP_FIELD.to_owned());
    Ok(Layout {
        title: document.title.clone(),
        blocks,
        footer: document.contract_id.clone(),
        signature_fields,
    })
}

/// A signer's caption line (`签署方N（签字）：name`, or the organisation and who signs for it) and
/// their signature box; `index` counts from 0 in signing order.
fn push_signature_box(blocks: &mut Vec<Block>, index: usize, signer: &SignerFacts) {
    blocks.push(Block::Paragraph(match &signer.organization {
        None => format!("签署方{}（签字）：{}", index + 1, signer.name),
        Some(organization) => format!(
            "签署方{}（盖章）：{}　{}：{}",
            index + 1,
            organization.name,
            organization.agent_label(),
            signer.name
        ),
    }));
    blocks.push(Block::SignatureBox {
        field: signer_field_name(&signer.party_id),
        height: SIGNATURE_BOX_HEIGHT,
    });
    blocks.push(Block::Space(4.0));
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::documents::pdf::write;

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// A small handwritten-looking stroke (RGBA, transparent background).
    pub(crate) fn stroke_png() -> Vec<u8> {
        let (width, height) = (160u32, 48u32);
        let mut pixels = vec![0u8; (width * height * 4) as usize];
        for x in 0..width {
            let y = (x * (height - 1)) / width;
            for thickness in 0..3 {
                let row = (y + thickness).min(height - 1);
                let at = ((row * width + x) * 4) as usize;
                pixels[at..at + 4].copy_from_slice(&[10, 10, 40, 255]);
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

    pub(crate) fn sample() -> ContractDocument {
        ContractDocument {
            contract_id: "CONTRACT_202310270001".into(),
            title: "天财分账资金归集授权协议".into(),
            template_blocks: vec![
                Block::Heading("第一条 授权内容".into()),
                Block::Paragraph("付款方授权收款方按约定归集资金。".into()),
            ],
            signers: vec![
                SignerFacts {
                    party_id: "RECEIVER_001".into(),
                    name: "张三".into(),
                    masked_id_card: "310101********1234".into(),
                    sign_method: "FACE_AND_SMS".into(),
                    party_type: "RECEIVER".into(),
                    organization: None,
                },
                SignerFacts {
                    party_id: "PAYER_001".into(),
                    name: "李四".into(),
                    masked_id_card: "440304********0011".into(),
                    sign_method: "CA_CERT".into(),
                    party_type: "PAYER".into(),
                    organization: None,
                },
            ],
            content_hash_hex: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                .into(),
            verify_url: "https://esign.example.com/verify?contractId=CONTRACT_202310270001".into(),
        }
    }

    #[test]
    fn one_field_per_signer_then_the_platform_seal() {
        let layout = contract_layout(&sample()).unwrap();
        assert_eq!(
            layout.signature_fields,
            [
                "Signer_RECEIVER_001",
                "Signer_PAYER_001",
                "PlatformSeal",
                "DocumentTimestamp"
            ]
        );
        assert_eq!(layout.footer, "CONTRACT_202310270001");
    }

    #[test]
    fn the_same_facts_give_the_same_bytes() {
        let first = write(&contract_layout(&sample()).unwrap()).unwrap();
        let second = write(&contract_layout(&sample()).unwrap()).unwrap();
        assert_eq!(first, second);
        let mut changed = sample();
        changed.signers[1].name = "王五".into();
        assert_ne!(write(&contract_layout(&changed).unwrap()).unwrap(), first);
    }

    #[test]
    fn times_are_shown_in_beijing_time_with_the_zone_named() {
        assert_eq!(
            beijing_time(time("2023-10-27T16:30:00Z")),
            "2023-10-28 00:30:00 (北京时间 UTC+8)"
        );
    }

    #[test]
    fn the_summary_page_names_each_signer_and_their_sign_method() {
        let layout = contract_layout(&sample()).unwrap();
        let summary_start = layout
            .blocks
            .iter()
            .position(|block| block == &Block::Title("签署摘要".into()))
            .unwrap();
        let fields: Vec<(String, String)> = layout.blocks[summary_start..]
            .iter()
            .filter_map(|block| match block {
                Block::Fields(fields) => Some(fields.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        for expected in [
            ("签署方标识", "RECEIVER_001"),
            ("证件号码", "440304********0011"),
            ("认证方式", "CA 数字证书 (CA_CERT)"),
        ] {
            assert!(
                fields
                    .iter()
                    .any(|(label, value)| label == expected.0 && value == expected.1),
                "missing {expected:?} in {fields:?}"
            );
        }
        assert!(matches!(
            layout.blocks[summary_start..]
                .iter()
                .find(|block| matches!(block, Block::Image { .. })),
            Some(Block::Image { caption: Some(caption), .. }) if caption == "扫码验证本协议"
        ));
    }

    #[test]
    fn each_signer_has_a_visible_box_and_the_seal_and_timestamp_are_invisible() {
        let rendered = crate::documents::pdf::render(&contract_layout(&sample()).unwrap()).unwrap();
        for field in &rendered.fields {
            let visible = field.rect[2] > field.rect[0] && field.rect[3] > field.rect[1];
            assert_eq!(visible, field.name.starts_with("Signer_"), "{field:?}");
        }
    }

    /// The layout of a template body without signature places, written out as it was before
    /// templates could mark places: documents already signed are rendered again and compared, so
    /// it must not move by a byte.
    #[test]
    fn a_template_without_places_lays_out_exactly_as_before() {
        let document = sample();
        let fields = |pairs: &[(&str, &str)]| {
            Block::Fields(
                pairs
                    .iter()
                    .map(|(label, value)| ((*label).to_owned(), (*value).to_owned()))
                    .collect(),
            )
        };
        let signature_box = |field: &str| Block::SignatureBox {
            field: field.into(),
            height: 72.0,
        };
        let expected = vec![
            Block::Title("天财分账资金归集授权协议".into()),
            fields(&[("协议编号", "CONTRACT_202310270001")]),
            Block::Heading("签署方".into()),
            fields(&[("签署方1", "张三"), ("证件号码", "310101********1234")]),
            fields(&[("签署方2", "李四"), ("证件号码", "440304********0011")]),
            Block::Rule,
            Block::Heading("第一条 授权内容".into()),
            Block::Paragraph("付款方授权收款方按约定归集资金。".into()),
            Block::Rule,
            Block::Heading("签署区".into()),
            Block::Paragraph("签署方1（签字）：张三".into()),
            signature_box("Signer_RECEIVER_001"),
            Block::Space(4.0),
            Block::Paragraph("签署方2（签字）：李四".into()),
            signature_box("Signer_PAYER_001"),
            Block::Space(4.0),
            Block::PageBreak,
            Block::Title("签署摘要".into()),
            Block::Paragraph(
                "本文件在协议发起时生成，此后不再改变。每位签署方签署时，平台在其签名框内写入手写签名、\
                 签署时间（北京时间 UTC+8）、交易流水号与 IP 地址，并以当时签发的证书和可信时间戳数字签名；\
                 全部签署完成后，平台签章与文档时间戳封存全文。"
                    .into(),
            ),
            fields(&[
                ("协议编号", "CONTRACT_202310270001"),
                ("协议标题", "天财分账资金归集授权协议"),
                ("内容哈希 (SHA-256)", &document.content_hash_hex),
            ]),
            Block::Heading("签署方1：张三".into()),
            fields(&[
                ("签署方标识", "RECEIVER_001"),
                ("证件号码", "310101********1234"),
                ("认证方式", "人脸核验 + 短信验证码 (FACE_AND_SMS)"),
            ]),
            Block::Heading("签署方2：李四".into()),
            fields(&[
                ("签署方标识", "PAYER_001"),
                ("证件号码", "440304********0011"),
                ("认证方式", "CA 数字证书 (CA_CERT)"),
            ]),
            Block::Heading("验真".into()),
            Block::Image {
                png: crate::documents::qr::png(&document.verify_url).unwrap(),
                width: 96.0,
                caption: Some("扫码验证本协议".into()),
            },
            fields(&[("验真地址", &document.verify_url)]),
            Block::Paragraph("本文件由各签署方及平台以数字签名签署，任何改动都会使签名失效。".into()),
        ];
        assert_eq!(contract_layout(&document).unwrap().blocks, expected);
    }

    /// The bytes of the same document, hashed when templates had no places.
    #[test]
    fn a_template_without_places_writes_the_same_bytes_as_before() {
        use sha2::Digest as _;
        let bytes = write(&contract_layout(&sample()).unwrap()).unwrap();
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            "b69e1dbdbc0e30cc38517dfeac2288cccb7677ad48524724ba1c7442d9eebc5e"
        );
    }

    fn with_payer_place() -> ContractDocument {
        let mut document = sample();
        document.template_blocks = vec![
            Block::Paragraph("付款方确认：".into()),
            Block::SignaturePlace("PAYER".into()),
            Block::Paragraph("其他条款".into()),
            // Only the first place of a role is used.
            Block::SignaturePlace("PAYER".into()),
        ];
        document.signers.push(SignerFacts {
            party_id: "PAYER_002".into(),
            name: "王五".into(),
            masked_id_card: "110101********5678".into(),
            sign_method: "FACE_AND_SMS".into(),
            party_type: "PAYER".into(),
            organization: Some(OrganizationFacts {
                name: "XX品牌总部".into(),
                credit_code: "91310000MA1FL8XXXX".into(),
                agent_role: "AUTHORIZED_AGENT".into(),
            }),
        });
        document
    }

    #[test]
    fn a_place_takes_every_box_of_its_role_and_the_section_keeps_the_others() {
        let layout = contract_layout(&with_payer_place()).unwrap();
        let body_start = layout
            .blocks
            .iter()
            .position(|block| block == &Block::Paragraph("付款方确认：".into()))
            .unwrap();
        let signature_box = |field: &str| Block::SignatureBox {
            field: field.into(),
            height: SIGNATURE_BOX_HEIGHT,
        };
        assert_eq!(
            layout.blocks[body_start..body_start + 10],
            [
                Block::Paragraph("付款方确认：".into()),
                Block::Paragraph("签署方2（签字）：李四".into()),
                signature_box("Signer_PAYER_001"),
                Block::Space(4.0),
                Block::Paragraph("签署方3（盖章）：XX品牌总部　经办人：王五".into()),
                signature_box("Signer_PAYER_002"),
                Block::Space(4.0),
                Block::Paragraph("其他条款".into()),
                Block::Rule,
                Block::Heading("签署区".into()),
            ]
        );
        assert_eq!(
            layout.blocks[body_start + 10..body_start + 13],
            [
                Block::Paragraph("签署方1（签字）：张三".into()),
                signature_box("Signer_RECEIVER_001"),
                Block::Space(4.0),
            ]
        );
        assert_eq!(layout.blocks[body_start + 13], Block::PageBreak);
        assert!(
            !layout
                .blocks
                .iter()
                .any(|block| matches!(block, Block::SignaturePlace(_)))
        );
        assert_eq!(
            layout.signature_fields,
            [
                "Signer_RECEIVER_001",
                "Signer_PAYER_001",
                "Signer_PAYER_002",
                "PlatformSeal",
                "DocumentTimestamp"
            ]
        );

        // Drawn: the payers' boxes sit above the receiver's, one widget each.
        let rendered = crate::documents::pdf::render(&layout).unwrap();
        let top = |name: &str| {
            let fields: Vec<_> = rendered.fields.iter().filter(|f| f.name == name).collect();
            assert_eq!(fields.len(), 1, "{name}");
            fields[0].rect[3]
        };
        assert!(top("Signer_PAYER_001") > top("Signer_PAYER_002"));
        assert!(top("Signer_PAYER_002") > top("Signer_RECEIVER_001"));
    }

    #[test]
    fn when_every_signer_signs_in_the_body_the_section_heading_goes() {
        let mut document = with_payer_place();
        document
            .template_blocks
            .push(Block::SignaturePlace("RECEIVER".into()));
        let layout = contract_layout(&document).unwrap();
        assert!(!layout.blocks.contains(&Block::Heading("签署区".into())));
        let boxes = layout
            .blocks
            .iter()
            .filter(|block| matches!(block, Block::SignatureBox { .. }))
            .count();
        assert_eq!(boxes, 3);
    }

    #[test]
    fn a_place_for_a_role_without_signers_shows_nothing() {
        let mut document = sample();
        document
            .signers
            .retain(|signer| signer.party_type == "RECEIVER");
        document.template_blocks = vec![Block::SignaturePlace("PAYER".into())];
        let mut without = document.clone();
        without.template_blocks.clear();
        assert_eq!(
            contract_layout(&document).unwrap(),
            contract_layout(&without).unwrap()
        );
    }
}
