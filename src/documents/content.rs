//! A rendered template (HTML or component JSON, variables already filled) as document blocks.
//!
//! Templates are written for the signing page, not for print, so this keeps their text and structure
//! (headings, paragraphs, list items, table rows) and drops styling. Nothing in a template runs.

use aggregates::template::{component_place, html_place};
use serde_json::Value;

use super::pdf::Block;

/// Blocks from HTML: `h1`-`h6` become headings, `p`/`div`/`li`/`tr`/`br` end a paragraph (list items
/// get a bullet, table cells are joined by spaces), `script` and `style` are dropped with their
/// content, entities are decoded. A signature place (`<esign-signature party-type="PAYER">`) becomes
/// [`Block::SignaturePlace`] with the attribute's value.
pub fn from_html(html: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut text = String::new();
    let mut heading = false;
    let mut skip_until: Option<String> = None;
    let mut rest = html;
    while !rest.is_empty() {
        let Some(open) = rest.find('<') else {
            push_text(&mut text, rest, skip_until.is_some());
            break;
        };
        push_text(&mut text, &rest[..open], skip_until.is_some());
        let after = &rest[open..];
        // Comments end at `-->`, tags at the next `>`.
        let (raw_tag, consumed) = if after.starts_with("<!--") {
            ("", after.find("-->").map_or(after.len(), |end| end + 3))
        } else {
            match after.find('>') {
                Some(end) => (after[1..end].trim(), end + 1),
                None => {
                    push_text(&mut text, after, skip_until.is_some());
                    break;
                }
            }
        };
        rest = &after[consumed..];
        let tag = raw_tag.to_ascii_lowercase();
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|ch| ch.is_ascii_alphanumeric())
            .collect();
        if let Some(until) = &skip_until {
            if closing && &name == until {
                skip_until = None;
            }
            continue;
        }
        if let Some(party_type) = html_place(raw_tag) {
            flush(&mut blocks, &mut text, heading);
            blocks.push(Block::SignaturePlace(party_type));
            continue;
        }
        match (name.as_str(), closing) {
            ("script" | "style" | "head" | "title", false) => skip_until = Some(name),
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", false) => {
                flush(&mut blocks, &mut text, heading);
                heading = true;
            }
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", true) => {
                flush(&mut blocks, &mut text, true);
                heading = false;
            }
            ("li", false) => {
                flush(&mut blocks, &mut text, heading);
                text.push_str("• ");
            }
            ("td" | "th", false) if !text.trim().is_empty() => text.push_str("  "),
            ("p" | "div" | "li" | "tr" | "ul" | "ol" | "table" | "section" | "article", _)
            | ("br" | "hr", false) => flush(&mut blocks, &mut text, heading),
            _ => {}
        }
    }
    flush(&mut blocks, &mut text, heading);
    blocks
}

fn push_text(text: &mut String, raw: &str, skipping: bool) {
    if skipping {
        return;
    }
    let decoded = decode_entities(raw);
    // HTML collapses runs of whitespace to one space.
    for ch in decoded.chars() {
        if ch.is_whitespace() {
            if !text.ends_with(' ') && !text.is_empty() {
                text.push(' ');
            }
        } else {
            text.push(ch);
        }
    }
}

fn flush(blocks: &mut Vec<Block>, text: &mut String, heading: bool) {
    let line = text.trim().to_owned();
    text.clear();
    if line.is_empty() || line == "•" {
        return;
    }
    blocks.push(if heading {
        Block::Heading(line)
    } else {
        Block::Paragraph(line)
    });
}

fn decode_entities(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let candidate = &rest[at..];
        let Some(end) = candidate.find(';').filter(|end| *end <= 10) else {
            out.push('&');
            rest = &candidate[1..];
            continue;
        };
        let entity = &candidate[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(ch) => {
                out.push(ch);
                rest = &candidate[end + 1..];
            }
            None => {
                out.push('&');
                rest = &candidate[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Blocks from component JSON: an object with `"type"` of `title`/`heading`/`paragraph`/`text`/`clause`
/// and a `"text"` or `"content"` string maps to that block; `"fields"`/`"items"` arrays of
/// `{label, value}` become label/value lines; any other string in the document becomes a paragraph,
/// in document order. A signature component (`{"type": "signature", "partyType": "PAYER"}`)
/// becomes [`Block::SignaturePlace`].
pub fn from_components(content: &str) -> Vec<Block> {
    let Ok(value) = serde_json::from_str::<Value>(content) else {
        return vec![Block::Paragraph(content.to_owned())];
    };
    let mut blocks = Vec::new();
    walk(&value, &mut blocks);
    blocks
}

fn walk(value: &Value, blocks: &mut Vec<Block>) {
    match value {
        Value::String(text) if !text.trim().is_empty() => {
            blocks.push(Block::Paragraph(text.trim().to_owned()))
        }
        Value::Array(items) => items.iter().for_each(|item| walk(item, blocks)),
        Value::Object(fields) => {
            if let Some(party_type) = component_place(fields) {
                blocks.push(Block::SignaturePlace(party_type));
                return;
            }
            let kind = fields.get("type").and_then(Value::as_str).unwrap_or("");
            let text = fields
                .get("text")
                .or_else(|| fields.get("content"))
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|text| !text.is_empty());
            if let Some(pairs) = fields
                .get("fields")
                .or_else(|| fields.get("items"))
                .and_then(Value::as_array)
                .filter(|items| items.iter().all(|item| item.get("label").is_some()))
            {
                let pairs = pairs
                    .iter()
                    .map(|item| {
                        let text_of = |key: &str| match item.get(key) {
                            Some(Value::String(text)) => text.clone(),
                            Some(Value::Null) | None => String::new(),
                            Some(other) => other.to_string(),
                        };
                        (text_of("label"), text_of("value"))
                    })
                    .collect();
                if let Some(text) = text {
                    blocks.push(Block::Heading(text.to_owned()));
                }
                blocks.push(Block::Fields(pairs));
                return;
            }
            match (kind, text) {
                ("title" | "heading" | "header" | "h1" | "h2" | "h3", Some(text)) => {
                    blocks.push(Block::Heading(text.to_owned()))
                }
                (_, Some(text)) => blocks.push(Block::Paragraph(text.to_owned())),
                (_, None) => {
                    for (key, child) in fields {
                        if key != "type" {
                            walk(child, blocks);
                        }
                    }
                }
            }
        }
        Value::String(_) | Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_structure_becomes_headings_paragraphs_and_items() {
        let blocks = from_html(
            "<style>p{color:red}</style><h1>资金归集授权协议</h1>\n<p>XX品牌总部 授权\n  上海浦东店 &amp; 其他</p>\
             <ul><li>第一项</li><li>第二项</li></ul><table><tr><td>付款方</td><td>甲</td></tr></table>\
             <script>alert(1)</script><!-- 注释 --><p>金额 &lt;100&gt; 元&#x3002;</p>",
        );
        assert_eq!(
            blocks,
            vec![
                Block::Heading("资金归集授权协议".into()),
                Block::Paragraph("XX品牌总部 授权 上海浦东店 & 其他".into()),
                Block::Paragraph("• 第一项".into()),
                Block::Paragraph("• 第二项".into()),
                Block::Paragraph("付款方  甲".into()),
                Block::Paragraph("金额 <100> 元。".into()),
            ]
        );
    }

    #[test]
    fn broken_markup_keeps_its_text() {
        assert_eq!(
            from_html("条款 & 说明 <b"),
            vec![Block::Paragraph("条款 & 说明 <b".into())]
        );
    }

    #[test]
    fn components_map_to_blocks_and_other_strings_to_paragraphs() {
        let blocks = from_components(
            r#"{"components":[{"type":"heading","text":"授权条款"},{"type":"paragraph","content":"付款方授权"},
                {"type":"table","text":"当事人","fields":[{"label":"付款方","value":"甲"},{"label":"金额","value":100}]},
                "附注"]}"#,
        );
        assert_eq!(
            blocks,
            vec![
                Block::Heading("授权条款".into()),
                Block::Paragraph("付款方授权".into()),
                Block::Heading("当事人".into()),
                Block::Fields(vec![
                    ("付款方".into(), "甲".into()),
                    ("金额".into(), "100".into())
                ]),
                Block::Paragraph("附注".into()),
            ]
        );
    }

    #[test]
    fn an_html_signature_place_becomes_a_place_block_between_paragraphs() {
        assert_eq!(
            from_html(
                "<p>付款方确认：<esign-signature party-type=\"PAYER\"></esign-signature></p>\
                 <p>其他条款</p><script><esign-signature party-type=\"RECEIVER\"></script>"
            ),
            vec![
                Block::Paragraph("付款方确认：".into()),
                Block::SignaturePlace("PAYER".into()),
                Block::Paragraph("其他条款".into()),
            ]
        );
    }

    #[test]
    fn a_signature_component_becomes_a_place_block_in_order() {
        assert_eq!(
            from_components(
                r#"{"components":[{"type":"paragraph","text":"条款"},{"type":"signature","partyType":"PAYER"},
                    {"type":"paragraph","text":"附注"}]}"#
            ),
            vec![
                Block::Paragraph("条款".into()),
                Block::SignaturePlace("PAYER".into()),
                Block::Paragraph("附注".into()),
            ]
        );
    }
}
