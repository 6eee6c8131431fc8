//! Signature places: where a template's body says the signers of a role sign.
//!
//! HTML marks a place with `<esign-signature party-type="PAYER"></esign-signature>`; component JSON
//! with a component `{"type": "signature", "partyType": "PAYER"}`. Publication checks every place
//! names a known party type and each type at most once; the contract document puts the boxes of
//! that role's signers there instead of in its closing signature section.

use serde_json::Value;

use crate::values::{ContentType, PartyType};

/// The HTML element that marks a signature place.
pub const SIGNATURE_ELEMENT: &str = "esign-signature";
/// The HTML attribute naming the place's party type.
pub const PARTY_TYPE_ATTRIBUTE: &str = "party-type";
/// The component `type` that marks a signature place in component JSON.
pub const SIGNATURE_COMPONENT: &str = "signature";

/// If `tag` (the text between `<` and `>`) opens a signature place, its `party-type` value as
/// written (trimmed; empty when the attribute is missing).
pub fn html_place(tag: &str) -> Option<String> {
    let name_end = tag
        .find(|ch: char| ch.is_whitespace() || ch == '/')
        .unwrap_or(tag.len());
    if !tag[..name_end].eq_ignore_ascii_case(SIGNATURE_ELEMENT) {
        return None;
    }
    Some(attribute(&tag[name_end..], PARTY_TYPE_ATTRIBUTE).unwrap_or_default())
}

/// One attribute's value in an HTML tag's attribute text, quoted or not.
fn attribute(attributes: &str, wanted: &str) -> Option<String> {
    let mut rest = attributes;
    loop {
        rest = rest.trim_start_matches(|ch: char| ch.is_whitespace() || ch == '/');
        if rest.is_empty() {
            return None;
        }
        let name_end = rest
            .find(|ch: char| ch.is_whitespace() || ch == '=' || ch == '/')
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        rest = rest[name_end..].trim_start();
        let value = if let Some(after_equals) = rest.strip_prefix('=') {
            let after_equals = after_equals.trim_start();
            let (value, remaining) = match after_equals.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let inner = &after_equals[1..];
                    let end = inner.find(quote).unwrap_or(inner.len());
                    (&inner[..end], inner.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after_equals
                        .find(char::is_whitespace)
                        .unwrap_or(after_equals.len());
                    (&after_equals[..end], &after_equals[end..])
                }
            };
            rest = remaining;
            value
        } else {
            ""
        };
        if name.eq_ignore_ascii_case(wanted) {
            return Some(value.trim().to_owned());
        }
    }
}

/// If `component` is a signature place, its `partyType` as written (empty when missing or not a
/// string).
pub fn component_place(component: &serde_json::Map<String, Value>) -> Option<String> {
    (component.get("type").and_then(Value::as_str) == Some(SIGNATURE_COMPONENT)).then(|| {
        component
            .get("partyType")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_owned()
    })
}

/// Every signature place in the content, as written, in document order. Content that is not valid
/// JSON has none (that is reported on its own).
pub fn signature_places(content: &str, content_type: ContentType) -> Vec<String> {
    let mut places = Vec::new();
    match content_type {
        ContentType::Html => {
            let mut rest = content;
            while let Some(open) = rest.find('<') {
                let after = &rest[open..];
                if after.starts_with("<!--") {
                    rest = after.find("-->").map_or("", |end| &after[end + 3..]);
                    continue;
                }
                let Some(end) = after.find('>') else { break };
                if let Some(place) = html_place(&after[1..end]) {
                    places.push(place);
                }
                rest = &after[end + 1..];
            }
        }
        ContentType::ComponentJson => {
            if let Ok(document) = serde_json::from_str::<Value>(content) {
                collect_components(&document, &mut places);
            }
        }
    }
    places
}

fn collect_components(value: &Value, places: &mut Vec<String>) {
    match value {
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_components(item, places)),
        Value::Object(fields) => match component_place(fields) {
            Some(place) => places.push(place),
            None => fields
                .values()
                .for_each(|child| collect_components(child, places)),
        },
        Value::String(_) | Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Why a template's signature places are refused (reported on `content`).
pub(super) fn place_problems(content: &str, content_type: ContentType) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen: Vec<PartyType> = Vec::new();
    for place in signature_places(content, content_type) {
        match PartyType::parse(&place) {
            Ok(party_type) if seen.contains(&party_type) => problems.push(format!(
                "marks the signature place of {party_type} more than once"
            )),
            Ok(party_type) => seen.push(party_type),
            Err(error) => problems.push(format!(
                "has a signature place with partyType \"{place}\", which {error}"
            )),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_places_are_found_with_any_quoting_and_case() {
        assert_eq!(
            signature_places(
                "<p>甲方</p><esign-signature party-type=\"PAYER\"></esign-signature>\
                 <ESIGN-SIGNATURE class=x party-type='RECEIVER'/><esign-signature party-type = PAYER >\
                 <!-- <esign-signature party-type=\"X\"> --><esign-signature></esign-signature>\
                 <esign-signatures party-type=\"PAYER\">",
                ContentType::Html
            ),
            vec!["PAYER", "RECEIVER", "PAYER", ""]
        );
    }

    #[test]
    fn component_places_are_found_at_any_depth() {
        assert_eq!(
            signature_places(
                r#"{"components":[{"type":"paragraph","text":"条款"},{"type":"signature","partyType":"PAYER"},
                    {"type":"section","children":[{"type":"signature","partyType":"RECEIVER"},{"type":"signature"}]}]}"#,
                ContentType::ComponentJson
            ),
            vec!["PAYER", "RECEIVER", ""]
        );
        assert!(signature_places("not json", ContentType::ComponentJson).is_empty());
    }

    #[test]
    fn unknown_and_repeated_party_types_are_problems() {
        let problems = place_problems(
            "<esign-signature party-type=\"PAYER\"></esign-signature>\
             <esign-signature party-type=\"payer\"></esign-signature>\
             <esign-signature party-type=\"PAYER\"></esign-signature>",
            ContentType::Html,
        );
        assert_eq!(
            problems,
            vec![
                "has a signature place with partyType \"payer\", which must be one of RECEIVER | PAYER",
                "marks the signature place of PAYER more than once",
            ]
        );
    }
}
