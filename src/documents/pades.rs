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

use super::appearance::Appearance;
use super::pdf::{RenderedPdf, SignatureField};

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
    #[error("the signature's appearance cannot be drawn: {0}")]
    Appearance(String),
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

impl Revision {
    /// The facts of a freshly rendered document, before any update.
    pub fn of(rendered: &RenderedPdf) -> Self {
        Self {
            catalog: rendered.catalog,
            info: rendered.info,
            size: rendered.size,
            file_id: rendered.file_id.clone(),
        }
    }

    /// The facts of a stored file, read from its last trailer (the document must have been
    /// written with classic cross-reference sections, as esign writes every document).
    pub fn of_file(pdf: &[u8]) -> Result<Self, PadesError> {
        let trailer = super::validate::syntax::last_trailer(pdf)
            .ok_or(PadesError::Malformed("no trailer at the end"))?;
        let reference = |key: &[u8]| {
            trailer
                .get(key)
                .and_then(super::validate::syntax::Object::as_reference)
                .and_then(|(number, _)| i32::try_from(number).ok())
        };
        let size = match trailer.get(b"Size") {
            Some(super::validate::syntax::Object::Integer(size)) => i32::try_from(*size).ok(),
            _ => None,
        };
        let file_id = match trailer.get(b"ID") {
            Some(super::validate::syntax::Object::Array(ids)) => ids
                .first()
                .and_then(|id| id.as_string())
                .map(<[u8]>::to_vec),
            _ => None,
        };
        Ok(Self {
            catalog: reference(b"Root").ok_or(PadesError::Malformed("no trailer /Root"))?,
            info: reference(b"Info").ok_or(PadesError::Malformed("no trailer /Info"))?,
            size: size.ok_or(PadesError::Malformed("no trailer /Size"))?,
            file_id: file_id.ok_or(PadesError::Malformed("no trailer /ID"))?,
        })
    }

    /// The facts of `rendered` grown by updates to `bytes` (its objects, file id and root are
    /// the rendering's; the next object number is the last trailer's).
    pub fn continuing(rendered: &RenderedPdf, bytes: &[u8]) -> Result<Self, PadesError> {
        Ok(Self {
            size: last_trailer_size(bytes)?,
            ..Self::of(rendered)
        })
    }
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

/// An incremental update being written: the document as it was, the update's objects, then its
/// cross-reference section and a trailer that repeats the document's and points at the section
/// before (ISO 32000-1, 7.5.6). Every update esign appends is written through this.
pub(super) struct Update {
    out: Vec<u8>,
    previous_xref: usize,
    /// Object number and offset of each object written.
    entries: Vec<(i32, usize)>,
}

impl Update {
    pub(super) fn begin(pdf: &[u8]) -> Result<Self, PadesError> {
        let previous_xref = last_xref_offset(pdf)?;
        let mut out = pdf.to_vec();
        if !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        Ok(Self {
            out,
            previous_xref,
            entries: Vec::new(),
        })
    }

    /// Where the next object starts.
    pub(super) fn offset(&self) -> usize {
        self.out.len()
    }

    /// Appends object `number`, written whole (`n 0 obj ... endobj`).
    pub(super) fn object(&mut self, number: i32, bytes: &[u8]) {
        self.entries.push((number, self.out.len()));
        self.out.extend_from_slice(bytes);
    }

    /// Closes the update: its cross-reference section and trailer (`size` objects in all).
    pub(super) fn finish(mut self, revision: &Revision, size: i32) -> Vec<u8> {
        let xref_offset = self.out.len();
        self.entries.sort();
        let mut xref = String::from("xref\n");
        for (object, offset) in &self.entries {
            xref.push_str(&format!("{object} 1\n{offset:010} 00000 n \n"));
        }
        let id = hex::encode_upper(&revision.file_id);
        xref.push_str(&format!(
            "trailer\n<< /Size {size} /Root {} 0 R /Info {} 0 R /Prev {} /ID [<{id}> <{id}>] >>\n\
             startxref\n{xref_offset}\n%%EOF\n",
            revision.catalog, revision.info, self.previous_xref
        ));
        self.out.extend_from_slice(xref.as_bytes());
        self.out
    }
}

/// What fills a signature field.
#[derive(Debug, Clone, Copy)]
pub enum Filling<'a> {
    /// A CMS signature (`/Type /Sig`, `ETSI.CAdES.detached`), drawn in the field's rectangle by
    /// `appearance` when given.
    Signature {
        info: &'a SignatureInfo,
        appearance: Option<&'a Appearance>,
    },
    /// An RFC 3161 document timestamp (`/Type /DocTimeStamp`, `ETSI.RFC3161`): a timestamp token
    /// over the covered bytes, vouching that the document existed as it is at that time.
    DocumentTimestamp,
}

/// Appends the update that fills `field` with a placeholder.
pub fn prepare(
    pdf: &[u8],
    revision: &Revision,
    field: &SignatureField,
    filling: Filling<'_>,
) -> Result<Prepared, PadesError> {
    let signature_object = revision.size;
    let mut update = Update::begin(pdf)?;
    let signature_offset = update.offset();
    let placeholder_range = format!("[0 {0:>w$} {0:>w$} {0:>w$}]", 0, w = RANGE_DIGITS);
    let (kind, sub_filter) = match filling {
        Filling::Signature { .. } => ("Sig", "ETSI.CAdES.detached"),
        Filling::DocumentTimestamp => ("DocTimeStamp", "ETSI.RFC3161"),
    };
    let mut dictionary = format!(
        "{signature_object} 0 obj\n<< /Type /{kind} /Filter /Adobe.PPKLite /SubFilter /{sub_filter} \
         /ByteRange {placeholder_range} /Contents "
    );
    let contents_start_in_dictionary = dictionary.len();
    dictionary.push('<');
    dictionary.push_str(&"0".repeat(SIGNATURE_CAPACITY * 2));
    dictionary.push('>');
    let contents_end_in_dictionary = dictionary.len();
    let mut appearance = None;
    if let Filling::Signature {
        info,
        appearance: drawn,
    } = filling
    {
        dictionary.push_str(&format!(
            " /M ({}) /Name {} /Reason {}",
            pdf_date(info.signed_at),
            text_string(&info.name),
            text_string(&info.reason)
        ));
        if let Some(location) = &info.location {
            dictionary.push_str(&format!(" /Location {}", text_string(location)));
        }
        if let Some(drawn) = drawn {
            appearance = Some(
                super::appearance::write(drawn, field.rect, signature_object + 1)
                    .map_err(|error| PadesError::Appearance(error.to_string()))?,
            );
        }
    }
    dictionary.push_str(" >>\nendobj\n");
    update.object(signature_object, dictionary.as_bytes());

    let size = match &appearance {
        Some(written) => {
            for (object, bytes) in &written.objects {
                update.object(*object, bytes);
            }
            written.next
        }
        None => signature_object + 1,
    };

    let [x1, y1, x2, y2] = field.rect;
    let shown = appearance
        .as_ref()
        .map(|written| format!(" /AP << /N {} 0 R >>", written.form))
        .unwrap_or_default();
    update.object(
        field.object,
        format!(
            "{} 0 obj\n<< /Type /Annot /Subtype /Widget /FT /Sig /T {} /Rect [{x1} {y1} {x2} {y2}] \
             /F 132 /P {} 0 R /V {signature_object} 0 R{shown} >>\nendobj\n",
            field.object,
            text_string(&field.name),
            field.page
        )
        .as_bytes(),
    );
    let mut out = update.finish(revision, size);

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

/// The `/Size` of the document's last trailer: one more than its highest object number, where
/// the next update numbers its objects from.
pub fn last_trailer_size(pdf: &[u8]) -> Result<i32, PadesError> {
    let tail_start = pdf.len().saturating_sub(1024);
    let tail = &pdf[tail_start..];
    let keyword = b"/Size";
    let at = tail
        .windows(keyword.len())
        .rposition(|window| window == keyword)
        .ok_or(PadesError::Malformed("no trailer /Size at the end"))?;
    let digits: String = tail[at + keyword.len()..]
        .iter()
        .map(|b| char::from(*b))
        .skip_while(|ch| ch.is_whitespace())
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .map_err(|_| PadesError::Malformed("the trailer /Size is not a number"))
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
        let revision = Revision::of(&rendered);
        let prepared = prepare(
            &rendered.bytes,
            &revision,
            &rendered.fields[0],
            Filling::Signature {
                info: &info(),
                appearance: None,
            },
        )
        .unwrap();
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
        let second = prepare(
            &signed,
            &revision,
            &rendered.fields[1],
            Filling::Signature {
                info: &info(),
                appearance: None,
            },
        )
        .unwrap();
        assert!(second.bytes.starts_with(&signed));
        assert!(last_xref_offset(&second.bytes).unwrap() > a);
    }

    #[test]
    fn a_drawn_signature_and_a_document_timestamp_fill_their_fields() {
        let rendered = render(&Layout {
            title: "协议".into(),
            footer: "C1".into(),
            blocks: vec![Block::SignatureBox {
                field: "Signer_A".into(),
                height: 60.0,
            }],
            signature_fields: vec!["Signer_A".into(), "DocumentTimestamp".into()],
        })
        .unwrap();
        let revision = Revision::of(&rendered);
        let appearance = Appearance {
            images: vec![crate::documents::contract::tests::stroke_png()],
            lines: vec!["Signed".into()],
        };
        let drawn = prepare(
            &rendered.bytes,
            &revision,
            &rendered.fields[0],
            Filling::Signature {
                info: &info(),
                appearance: Some(&appearance),
            },
        )
        .unwrap();
        let text = String::from_utf8_lossy(&drawn.bytes[rendered.bytes.len()..]).into_owned();
        let [x1, y1, x2, y2] = rendered.fields[0].rect;
        assert!(
            text.contains(&format!("/Rect [{x1} {y1} {x2} {y2}]")),
            "{text}"
        );
        assert!(
            text.contains(&format!("/AP << /N {} 0 R >>", revision.size + 1)),
            "{text}"
        );
        assert_eq!(last_trailer_size(&drawn.bytes).unwrap(), drawn.size);
        assert_eq!(
            drawn.size,
            revision.size + 5,
            "signature, form, image, font, mask"
        );

        let signed = embed(drawn.clone(), &[0x30, 0x03, 0x02, 0x01, 0x01]).unwrap();
        let next = Revision::continuing(&rendered, &signed).unwrap();
        assert_eq!(next.size, drawn.size);
        let stamped = prepare(
            &signed,
            &next,
            &rendered.fields[1],
            Filling::DocumentTimestamp,
        )
        .unwrap();
        let text = String::from_utf8_lossy(&stamped.bytes[signed.len()..]).into_owned();
        assert!(
            text.contains("/Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161"),
            "{text}"
        );
        assert!(
            !text.contains("/M ("),
            "a document timestamp claims no time of its own"
        );
        assert!(!text.contains("/AP"), "{text}");
    }

    #[test]
    fn text_strings_escape_ascii_and_encode_the_rest_as_utf16() {
        assert_eq!(text_string("a(b)\\c"), "(a\\(b\\)\\\\c)");
        assert_eq!(text_string("张"), "<FEFF5F20>");
    }

    #[test]
    fn an_oversized_signature_is_refused() {
        let rendered = document();
        let revision = Revision::of(&rendered);
        let prepared = prepare(
            &rendered.bytes,
            &revision,
            &rendered.fields[0],
            Filling::Signature {
                info: &info(),
                appearance: None,
            },
        )
        .unwrap();
        assert_eq!(
            embed(prepared, &vec![0; SIGNATURE_CAPACITY + 1]),
            Err(PadesError::SignatureTooLarge(SIGNATURE_CAPACITY + 1))
        );
    }
}
