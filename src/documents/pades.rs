//! PAdES signatures as incremental updates (ISO 32000-1 12.8, ETSI EN 319 142-1).
//!
//! Signing one pre-allocated signature field appends, after the last byte of the file, a signature
//! dictionary (`/SubFilter /ETSI.CAdES.detached`) and a new revision of the field pointing at it,
//! with their own cross-reference section and a trailer chained to the previous one. Nothing before
//! the update changes, so earlier signatures stay valid and no page content moves.
//!
//! Signing is two steps, because the CMS signature is made over the file with a hole where it goes:
//! [`prepare`] writes the update with a zero-filled `/Contents` placeholder and returns the bytes the
//! `/ByteRange` covers; [`embed`] puts the DER signature into the placeholder.

use chrono::{DateTime, Utc};

use super::pdf::SignatureField;

/// Room for the CMS signature: the signer's certificate chain, signed attributes and an RFC 3161
/// timestamp token fit well within this.
pub const SIGNATURE_CAPACITY: usize = 24 * 1024;

/// Width of each number in `/ByteRange`, padded with spaces, so filling it in moves nothing.
const RANGE_DIGITS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PadesError {
    #[error("the document has no cross-reference offset at its end")]
    NoStartXref,
    #[error("the signature ({0} bytes) does not fit its placeholder")]
    SignatureTooLarge(usize),
    #[error("the prepared document is malformed: {0}")]
    Malformed(&'static str),
}

/// What a signature dictionary says besides the signature itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureInfo {
    /// Who signed (`/Name`).
    pub name: String,
    /// Why (`/Reason`), e.g. "同意签署本协议".
    pub reason: String,
    /// Where (`/Location`).
    pub location: Option<String>,
    /// The claimed signing time (`/M`); the trusted time comes from the timestamp.
    pub signed_at: DateTime<Utc>,
}

/// The document with one signature's update appended and its placeholder empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub bytes: Vec<u8>,
    /// `[0, a, b, c]`: the signed bytes are `bytes[0..a]` and `bytes[b..b + c]`.
    pub byte_range: [usize; 4],
    /// The object count after this update (for the next one).
    pub size: i32,
}

impl Prepared {
    /// The bytes the signature covers, in order.
    pub fn signed_content(&self) -> Vec<u8> {
        let [_, a, b, c] = self.byte_range;
        let mut content = Vec::with_capacity(a + c);
        content.extend_from_slice(&self.bytes[..a]);
        content.extend_from_slice(&self.bytes[b..b + c]);
        content
    }
}

/// The document's trailer facts that every update repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub catalog: i32,
    pub info: i32,
    pub size: i32,
    pub file_id: Vec<u8>,
}

/// A PDF text string: ASCII as a literal with escapes, anything else as UTF-16BE hex with a BOM.
pub fn text_string(text: &str) -> String {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        let mut out = String::from("(");
        for ch in text.chars() {
            if matches!(ch, '(' | ')' | '\\') {
                out.push('\\');
            }
            out.push(ch);
        }
        out.push(')');
        out
    } else {
        let mut out = String::from("<FEFF");
        for unit in text.encode_utf16() {
            out.push_str(&format!("{unit:04X}"));
        }
        out.push('>');
        out
    }
}

fn pdf_date(time: DateTime<Utc>) -> String {
    time.format("D:%Y%m%d%H%M%SZ").to_string()
}

/// The offset after the last `startxref` keyword.
fn last_xref_offset(pdf: &[u8]) -> Result<usize, PadesError> {
    let tail_start = pdf.len().saturating_sub(1024);
    let tail = &pdf[tail_start..];
    let keyword = b"startxref";
    let at = tail
        .windows(keyword.len())
        .rposition(|window| window == keyword)
        .ok_or(PadesError::NoStartXref)?;
    let digits: String = tail[at + keyword.len()..]
        .iter()
        .map(|b| char::from(*b))
        .skip_while(|ch| ch.is_whitespace())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().map_err(|_| PadesError::NoStartXref)
}

/// Appends the update that signs `field` with a placeholder.
pub fn prepare(
    pdf: &[u8],
    revision: &Revision,
    field: &SignatureField,
    info: &SignatureInfo,
) -> Result<Prepared, PadesError> {
    let previous_xref = last_xref_offset(pdf)?;
    let signature_object = revision.size;
    let size = revision.size + 1;
    let mut out = pdf.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }

    let signature_offset = out.len();
    let placeholder_range = format!("[0 {0:>w$} {0:>w$} {0:>w$}]", 0, w = RANGE_DIGITS);
    let mut dictionary = format!(
        "{signature_object} 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached \
         /ByteRange {placeholder_range} /Contents "
    );
    let contents_start_in_dictionary = dictionary.len();
    dictionary.push('<');
    dictionary.push_str(&"0".repeat(SIGNATURE_CAPACITY * 2));
    dictionary.push('>');
    let contents_end_in_dictionary = dictionary.len();
    dictionary.push_str(&format!(
        " /M ({}) /Name {} /Reason {}",
        pdf_date(info.signed_at),
        text_string(&info.name),
        text_string(&info.reason)
    ));
    if let Some(location) = &info.location {
        dictionary.push_str(&format!(" /Location {}", text_string(location)));
    }
    dictionary.push_str(" >>\nendobj\n");
    out.extend_from_slice(dictionary.as_bytes());

    let field_offset = out.len();
    out.extend_from_slice(
        format!(
            "{} 0 obj\n<< /Type /Annot /Subtype /Widget /FT /Sig /T {} /Rect [0 0 0 0] /F 132 \
             /P {} 0 R /V {signature_object} 0 R >>\nendobj\n",
            field.object,
            text_string(&field.name),
            field.page
        )
        .as_bytes(),
    );

    let xref_offset = out.len();
    let mut entries = [
        (field.object, field_offset),
        (signature_object, signature_offset),
    ];
    entries.sort();
    let mut xref = String::from("xref\n");
    for (object, offset) in entries {
        xref.push_str(&format!("{object} 1\n{offset:010} 00000 n \n"));
    }
    let id = hex::encode_upper(&revision.file_id);
    xref.push_str(&format!(
        "trailer\n<< /Size {size} /Root {} 0 R /Info {} 0 R /Prev {previous_xref} /ID [<{id}> <{id}>] >>\n\
         startxref\n{xref_offset}\n%%EOF\n",
        revision.catalog, revision.info
    ));
    out.extend_from_slice(xref.as_bytes());

    let contents_start = signature_offset + contents_start_in_dictionary;
    let contents_end = signature_offset + contents_end_in_dictionary;
    let byte_range = [0, contents_start, contents_end, out.len() - contents_end];
    let filled_range = format!(
        "[0 {:>w$} {:>w$} {:>w$}]",
        byte_range[1],
        byte_range[2],
        byte_range[3],
        w = RANGE_DIGITS
    );
    if filled_range.len() != placeholder_range.len() {
        return Err(PadesError::Malformed(
            "the byte range outgrew its placeholder",
        ));
    }
    let range_at = signature_offset
        + dictionary
            .find(&placeholder_range)
            .ok_or(PadesError::Malformed("no byte range placeholder"))?;
    out[range_at..range_at + filled_range.len()].copy_from_slice(filled_range.as_bytes());
    Ok(Prepared {
        bytes: out,
        byte_range,
        size,
    })
}

/// Puts the DER-encoded CMS signature into the placeholder.
pub fn embed(prepared: Prepared, signature_der: &[u8]) -> Result<Vec<u8>, PadesError> {
    if signature_der.len() > SIGNATURE_CAPACITY {
        return Err(PadesError::SignatureTooLarge(signature_der.len()));
    }
    let [_, a, b, _] = prepared.byte_range;
    let mut bytes = prepared.bytes;
    if bytes.get(a) != Some(&b'<') || bytes.get(b - 1) != Some(&b'>') {
        return Err(PadesError::Malformed(
            "the placeholder is not where the byte range says",
        ));
    }
    let hex = hex::encode_upper(signature_der);
    bytes[a + 1..a + 1 + hex.len()].copy_from_slice(hex.as_bytes());
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::pdf::{Block, Layout, render};

    fn document() -> crate::documents::pdf::RenderedPdf {
        render(&Layout {
            title: "协议".into(),
            footer: "C1".into(),
            blocks: vec![Block::Paragraph("甲方同意。".into())],
            signature_fields: vec!["Signer_A".into(), "PlatformSeal".into()],
        })
        .unwrap()
    }

    fn info() -> SignatureInfo {
        SignatureInfo {
            name: "张三".into(),
            reason: "同意签署本协议".into(),
            location: None,
            signed_at: DateTime::parse_from_rfc3339("2023-10-27T10:05:00Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn an_update_appends_and_its_byte_range_covers_everything_but_the_signature() {
        let rendered = document();
        let revision = Revision {
            catalog: rendered.catalog,
            info: rendered.info,
            size: rendered.size,
            file_id: rendered.file_id.clone(),
        };
        let prepared = prepare(&rendered.bytes, &revision, &rendered.fields[0], &info()).unwrap();
        assert!(
            prepared.bytes.starts_with(&rendered.bytes),
            "nothing before changes"
        );
        let [zero, a, b, c] = prepared.byte_range;
        assert_eq!(zero, 0);
        assert_eq!(b + c, prepared.bytes.len());
        assert_eq!(b - a, SIGNATURE_CAPACITY * 2 + 2);
        let text = String::from_utf8_lossy(&prepared.bytes);
        assert!(text.contains(&format!("/ByteRange [0 {a:>10} {b:>10} {c:>10}]")));
        assert!(text.contains("/SubFilter /ETSI.CAdES.detached"));
        assert!(text.contains(&format!(
            "/Prev {}",
            last_xref_offset(&rendered.bytes).unwrap()
        )));
        assert!(text.ends_with("%%EOF\n"));

        let content = prepared.signed_content();
        let signed = embed(prepared, &[0x30, 0x82, 0x01, 0x00]).unwrap();
        assert_eq!(&signed[a..a + 9], b"<30820100");
        // Embedding changes only the hole.
        let again = Prepared {
            bytes: signed.clone(),
            byte_range: [0, a, b, c],
            size: 0,
        };
        assert_eq!(again.signed_content(), content);
        // A second signature chains onto the first.
        let revision = Revision {
            size: revision.size + 1,
            ..revision
        };
        let second = prepare(&signed, &revision, &rendered.fields[1], &info()).unwrap();
        assert!(second.bytes.starts_with(&signed));
        assert!(last_xref_offset(&second.bytes).unwrap() > a);
    }

    #[test]
    fn text_strings_escape_ascii_and_encode_the_rest_as_utf16() {
        assert_eq!(text_string("a(b)\\c"), "(a\\(b\\)\\\\c)");
        assert_eq!(text_string("张"), "<FEFF5F20>");
    }

    #[test]
    fn an_oversized_signature_is_refused() {
        let rendered = document();
        let revision = Revision {
            catalog: rendered.catalog,
            info: rendered.info,
            size: rendered.size,
            file_id: rendered.file_id.clone(),
        };
        let prepared = prepare(&rendered.bytes, &revision, &rendered.fields[0], &info()).unwrap();
        assert_eq!(
            embed(prepared, &vec![0; SIGNATURE_CAPACITY + 1]),
            Err(PadesError::SignatureTooLarge(SIGNATURE_CAPACITY + 1))
        );
    }
}
