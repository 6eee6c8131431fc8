//! One signature dictionary: recognising it, naming its field, reading its entries and byte range,
//! and handing the bytes it covers to the check its `/SubFilter` calls for.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use x509_cert::Certificate;

use super::cms_signature::check_cms_signature;
use super::report::{SignatureKind, SignatureProblem, SignatureValidation};
use super::syntax;
use super::timestamp::check_document_timestamp;
use crate::documents::contract::PLATFORM_SEAL_FIELD;

/// Parent links followed to build a field's full name.
const MAX_FIELD_DEPTH: usize = 16;

/// A dictionary with `/ByteRange` and `/Contents` whose `/Type`, if any, is a signature's.
pub(super) fn is_signature_dictionary(dictionary: &syntax::Dictionary) -> bool {
    let typed = match dictionary.get(b"Type") {
        None => true,
        Some(object) => matches!(object.as_name(), Some(b"Sig" | b"DocTimeStamp")),
    };
    typed && dictionary.get(b"ByteRange").is_some() && dictionary.get(b"Contents").is_some()
}

/// Field names by the signature dictionary their `/V` points to (the latest revision of each field
/// wins, as a reader would see it).
pub(super) struct FieldNames<'a> {
    /// The last definition of every object, by number and generation.
    latest: std::collections::HashMap<(u32, u16), &'a syntax::Dictionary>,
}

impl<'a> FieldNames<'a> {
    pub(super) fn new(objects: &'a [syntax::IndirectObject]) -> Self {
        let mut latest = std::collections::HashMap::new();
        for object in objects {
            if let Some(dictionary) = object.value.as_dictionary() {
                latest.insert((object.number, object.generation), dictionary);
            }
        }
        Self { latest }
    }

    pub(super) fn name_of(&self, number: u32, generation: u16) -> Option<String> {
        // Sorted, so the answer does not depend on hash-map order when two fields claim one value.
        let mut candidates: Vec<(&(u32, u16), &&syntax::Dictionary)> = self
            .latest
            .iter()
            .filter(|(_, dictionary)| {
                dictionary.get(b"V").and_then(syntax::Object::as_reference)
                    == Some((number, generation))
            })
            .collect();
        candidates.sort_by_key(|(id, _)| **id);
        let (_, field) = candidates.first()?;
        self.full_name(field)
    }

    /// `parent.child` names up the `/Parent` links (ISO 32000-1 12.7.3.2).
    fn full_name(&self, field: &syntax::Dictionary) -> Option<String> {
        let mut parts = Vec::new();
        let mut current = Some(field);
        for _ in 0..MAX_FIELD_DEPTH {
            let Some(node) = current else { break };
            if let Some(partial) = node.get(b"T").and_then(syntax::Object::as_string) {
                parts.push(text_string(partial));
            }
            current = node
                .get(b"Parent")
                .and_then(syntax::Object::as_reference)
                .and_then(|id| self.latest.get(&id).copied());
        }
        if parts.is_empty() {
            return None;
        }
        parts.reverse();
        Some(parts.join("."))
    }
}

pub(super) fn check_signature(
    pdf: &[u8],
    object: &syntax::IndirectObject,
    dictionary: &syntax::Dictionary,
    field_name: Option<String>,
    anchors: super::Anchors<'_>,
    at: Option<DateTime<Utc>>,
) -> SignatureValidation {
    let text = |key: &[u8]| {
        dictionary
            .get(key)
            .and_then(syntax::Object::as_string)
            .map(text_string)
    };
    let sub_filter = dictionary
        .get(b"SubFilter")
        .and_then(syntax::Object::as_name)
        .map(|name| String::from_utf8_lossy(name).into_owned());
    let kind = match (
        dictionary.get(b"Type").and_then(syntax::Object::as_name),
        sub_filter.as_deref(),
    ) {
        (Some(b"DocTimeStamp"), _) | (_, Some("ETSI.RFC3161")) => SignatureKind::DocumentTimestamp,
        _ => SignatureKind::Signature,
    };
    let claimed_signing_time = dictionary
        .get(b"M")
        .and_then(syntax::Object::as_string)
        .and_then(|raw| pdf_date(&text_string(raw)));
    let byte_range = dictionary.get(b"ByteRange").and_then(four_offsets);
    let mut validation = SignatureValidation {
        kind,
        field_name,
        name: text(b"Name"),
        reason: text(b"Reason"),
        location: text(b"Location"),
        claimed_signing_time,
        sub_filter: sub_filter.clone(),
        byte_range,
        signer: None,
        covers_whole_document: false,
        timestamp: None,
        checked_at: None,
        valid: false,
        problems: Vec::new(),
    };
    if dictionary.has_duplicate_keys() {
        validation.problems.push(SignatureProblem::Dictionary(
            "a key appears more than once".into(),
        ));
        return validation;
    }
    let range = match check_byte_range(pdf, object, dictionary, byte_range) {
        Ok(range) => range,
        Err(problem) => {
            validation.problems.push(problem);
            return validation;
        }
    };
    validation.covers_whole_document = range.end == pdf.len();
    let contents = match dictionary
        .get(b"Contents")
        .and_then(syntax::Object::as_string)
    {
        Some(contents) => contents,
        None => {
            validation.problems.push(SignatureProblem::Dictionary(
                "/Contents is not a string".into(),
            ));
            return validation;
        }
    };
    let Some(container) = der_prefix(contents) else {
        validation.problems.push(SignatureProblem::Container(
            "/Contents does not start with a DER SEQUENCE".into(),
        ));
        return validation;
    };
    let mut covered = Vec::with_capacity(range.end.saturating_sub(range.gap.len()));
    covered.extend_from_slice(pdf.get(..range.gap.start).unwrap_or_default());
    covered.extend_from_slice(pdf.get(range.gap.end..range.end).unwrap_or_default());

    match (kind, sub_filter.as_deref()) {
        (SignatureKind::Signature, Some("ETSI.CAdES.detached" | "adbe.pkcs7.detached")) => {
            // The platform seal chains to the platform only; a signer's signature may chain to a
            // personal CA as well.
            let seal = validation.field_name.as_deref() == Some(PLATFORM_SEAL_FIELD);
            let signer_anchors: Vec<Certificate> = if seal {
                anchors.platform.to_vec()
            } else {
                anchors
                    .platform
                    .iter()
                    .chain(anchors.personal)
                    .cloned()
                    .collect()
            };
            check_cms_signature(
                container,
                &covered,
                &signer_anchors,
                anchors.platform,
                at,
                &mut validation,
            );
        }
        (SignatureKind::DocumentTimestamp, Some("ETSI.RFC3161")) => {
            check_document_timestamp(container, &covered, anchors.platform, &mut validation);
        }
        (_, other) => validation
            .problems
            .push(SignatureProblem::UnsupportedFormat(
                other.unwrap_or("(no /SubFilter)").to_owned(),
            )),
    }
    validation.valid = validation.problems.is_empty();
    validation
}

/// Where a sane byte range puts things: the gap (the `/Contents` string) and the covered end.
struct CheckedRange {
    gap: std::ops::Range<usize>,
    end: usize,
}

fn four_offsets(object: &syntax::Object) -> Option<[usize; 4]> {
    let syntax::Object::Array(items) = object else {
        return None;
    };
    let numbers: Vec<usize> = items
        .iter()
        .map(|item| match item {
            syntax::Object::Integer(value) => usize::try_from(*value).ok(),
            _ => None,
        })
        .collect::<Option<_>>()?;
    <[usize; 4]>::try_from(numbers).ok()
}

/// A byte range is sane when it starts at 0, its gap is exactly the `/Contents` hex string of this
/// dictionary, it ends within the file, and the rest of the dictionary lies inside what it covers.
fn check_byte_range(
    pdf: &[u8],
    object: &syntax::IndirectObject,
    dictionary: &syntax::Dictionary,
    byte_range: Option<[usize; 4]>,
) -> Result<CheckedRange, SignatureProblem> {
    let bad = |reason: &str| SignatureProblem::ByteRange(reason.to_owned());
    let [start, a, b, c] = byte_range.ok_or_else(|| bad("it is not four non-negative integers"))?;
    if start != 0 {
        return Err(bad("it does not start at the beginning of the file"));
    }
    if a >= b {
        return Err(bad("its second part does not come after its first"));
    }
    let end = b
        .checked_add(c)
        .filter(|end| *end <= pdf.len())
        .ok_or_else(|| bad("it reaches beyond the end of the file"))?;
    let span = dictionary
        .get(b"Contents")
        .and_then(syntax::Object::string_span)
        .ok_or_else(|| bad("/Contents is not a string"))?;
    if !span.hex {
        return Err(bad("/Contents is not a hex string"));
    }
    if span.start != a || span.end != b {
        return Err(bad("the gap it leaves is not exactly the /Contents string"));
    }
    if object.start >= a || object.value_end > end {
        return Err(bad(
            "the signature dictionary lies outside the bytes it signs",
        ));
    }
    Ok(CheckedRange { gap: a..b, end })
}

/// The DER object at the start of `bytes` (the placeholder is padded with zeros after it).
pub(super) fn der_prefix(bytes: &[u8]) -> Option<&[u8]> {
    if *bytes.first()? != 0x30 {
        return None;
    }
    let first = usize::from(*bytes.get(1)?);
    let (header, length) = if first < 0x80 {
        (2, first)
    } else {
        let count = first - 0x80;
        if count == 0 || count > 4 {
            return None;
        }
        let mut length = 0usize;
        for byte in bytes.get(2..2 + count)? {
            length = length.checked_mul(256)?.checked_add(usize::from(*byte))?;
        }
        (2 + count, length)
    };
    bytes.get(..header.checked_add(length)?)
}

/// A PDF text string: UTF-16BE or UTF-8 after a byte order mark, else PDFDocEncoding (read as
/// Latin-1, which agrees with it on everything a signature dictionary holds).
fn text_string(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = utf16
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    if let Some(utf8) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(utf8).into_owned();
    }
    bytes.iter().map(|byte| char::from(*byte)).collect()
}

/// A PDF date (ISO 32000-1 7.9.4): `D:YYYYMMDDHHmmSSOHH'mm`, every part after the year optional.
fn pdf_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.strip_prefix("D:").unwrap_or(text);
    let digits_end = text
        .find(|ch: char| !ch.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, zone) = text.split_at(digits_end);
    let part = |from: usize, to: usize, default: u32| -> Option<u32> {
        match digits.get(from..to) {
            Some(value) => value.parse().ok(),
            None if digits.len() <= from => Some(default),
            None => None,
        }
    };
    let year: i32 = digits.get(0..4)?.parse().ok()?;
    let date = NaiveDate::from_ymd_opt(year, part(4, 6, 1)?, part(6, 8, 1)?)?;
    let local = date.and_hms_opt(part(8, 10, 0)?, part(10, 12, 0)?, part(12, 14, 0)?)?;
    let offset_seconds = match zone.chars().next() {
        None | Some('Z') => 0,
        Some(sign @ ('+' | '-')) => {
            let rest: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
            let hours: i32 = rest.get(0..2)?.parse().ok()?;
            let minutes: i32 = rest.get(2..4).map_or(Some(0), |m| m.parse().ok())?;
            let seconds = hours * 3600 + minutes * 60;
            if sign == '-' { -seconds } else { seconds }
        }
        Some(_) => return None,
    };
    FixedOffset::east_opt(offset_seconds)?
        .from_local_datetime(&local)
        .single()
        .map(|time| time.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn pdf_dates_read_with_and_without_zones() {
        assert_eq!(
            pdf_date("D:20231027100500Z"),
            Some(time("2023-10-27T10:05:00Z"))
        );
        assert_eq!(
            pdf_date("D:20231027180500+08'00'"),
            Some(time("2023-10-27T10:05:00Z"))
        );
        assert_eq!(
            pdf_date("D:20231027050500-05'00"),
            Some(time("2023-10-27T10:05:00Z"))
        );
        assert_eq!(pdf_date("D:2023"), Some(time("2023-01-01T00:00:00Z")));
        assert_eq!(pdf_date("D:2023102"), None);
        assert_eq!(pdf_date("D:20231341"), None);
        assert_eq!(pdf_date("nonsense"), None);
    }

    #[test]
    fn der_prefixes_stop_at_the_encoded_length() {
        assert_eq!(
            der_prefix(&[0x30, 0x02, 1, 2, 0, 0]),
            Some(&[0x30, 0x02, 1, 2][..])
        );
        assert_eq!(
            der_prefix(&[0x30, 0x81, 0x01, 7, 0]),
            Some(&[0x30, 0x81, 0x01, 7][..])
        );
        assert_eq!(der_prefix(&[0x30, 0x05, 1]), None);
        assert_eq!(der_prefix(&[0x30, 0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1]), None);
        assert_eq!(der_prefix(&[0x31, 0x00]), None);
        assert_eq!(der_prefix(&[]), None);
    }
}
