//! Documents the caller uploads: a PDF esign did not write, checked before anything is built on it,
//! searched for anchor text (关键字定位) and given its signature fields in a first revision of its
//! own.
//!
//! - [`inspect`] reads the file (classic cross-reference tables or streams, object streams,
//!   compressed content, earlier updates) and refuses what cannot be signed here: too large, not a
//!   PDF, encrypted, already signed, too many pages.
//! - [`find_anchor`] finds text on the pages and says where it is, in points in each page's default
//!   user space (origin bottom-left); [`centred_on`] places a signature or seal over a hit.
//! - [`prepare`] appends the one update that adds the empty signature fields: the contract's first
//!   revision, which the signers' and the platform's updates then grow like a rendered document.
//!
//! Reading is a pure function of the bytes: any input gives a value or a typed refusal.

mod anchor;
mod cmap;
mod first_revision;
mod text;

#[cfg(test)]
mod tests;

use std::panic::{AssertUnwindSafe, catch_unwind};

use lopdf::{Dictionary, Document, Object, ObjectId};
use sha2::{Digest, Sha256};

pub use anchor::{AnchorHit, centred_on, find_anchor};
pub use first_revision::{INVISIBLE, Placement, prepare};

use super::pades::PadesError;
use super::pdf::RenderedPdf;
use super::validate::syntax;

/// The largest upload accepted by default: 20 MiB.
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
/// The most pages an upload may have by default.
pub const MAX_UPLOAD_PAGES: u32 = 500;

/// Bounds on what an upload may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    pub max_bytes: usize,
    pub max_pages: u32,
}

impl UploadLimits {
    /// No bounds: for files already accepted under some.
    pub const UNBOUNDED: Self = Self {
        max_bytes: usize::MAX,
        max_pages: u32::MAX,
    };
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            max_bytes: MAX_UPLOAD_BYTES,
            max_pages: MAX_UPLOAD_PAGES,
        }
    }
}

/// One page's visible area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageBox {
    /// `[x1, y1, x2, y2]` in default user space (points): the CropBox, else the MediaBox.
    pub rect: [f32; 4],
    pub width: f32,
    pub height: f32,
    /// `/Rotate`, normalised to 0, 90, 180 or 270: how viewers turn the page when showing it.
    /// Coordinates stay in the unrotated user space.
    pub rotate: i32,
}

/// How far a rectangle may stray past the page box (rounding).
const TOLERANCE: f32 = 0.01;

impl PageBox {
    /// Whether `rect` (`[x1, y1, x2, y2]`) is a proper rectangle inside the page's box.
    pub fn contains(&self, rect: [f32; 4]) -> bool {
        let [x1, y1, x2, y2] = rect;
        let page = self.rect;
        rect.iter().all(|value| value.is_finite())
            && x1 < x2
            && y1 < y2
            && x1 >= page[0] - TOLERANCE
            && y1 >= page[1] - TOLERANCE
            && x2 <= page[2] + TOLERANCE
            && y2 <= page[3] + TOLERANCE
    }
}

/// An uploaded PDF that can be signed.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedPdf {
    pub page_count: u32,
    /// Each page's box, first page first.
    pub pages: Vec<PageBox>,
    /// SHA-256 of the uploaded bytes, lowercase hex.
    pub sha256: String,
}

/// Why an upload is refused, or a field cannot be placed on it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UploadError {
    #[error("the document is {size} bytes, more than the {max} allowed")]
    TooLarge { size: usize, max: usize },
    #[error("the document has {pages} pages, more than the {max} allowed")]
    TooManyPages { pages: usize, max: u32 },
    #[error("the document is not a readable PDF: {0}")]
    Malformed(String),
    #[error("the document has no pages")]
    NoPages,
    #[error("the document is encrypted; upload it without a password or restrictions")]
    Encrypted,
    #[error("the document already carries a signature ({0}); upload it unsigned")]
    AlreadySigned(&'static str),
    #[error("the document cannot be changed here: {0}")]
    Unsupported(&'static str),
    #[error(
        "the document's structure is damaged (it does not read the same once signature fields \
         are added); save it again as a new PDF"
    )]
    Damaged,
    #[error("no signature field is placed")]
    NoPlacements,
    #[error(
        "placement {index} ({field}): the field name must be non-empty, without '.', and unique"
    )]
    FieldName { index: usize, field: String },
    #[error("placement {index} ({field}): page {page} is not in the document (pages 1 to {pages})")]
    PageOutOfRange {
        index: usize,
        field: String,
        page: u32,
        pages: u32,
    },
    #[error("placement {index} ({field}): the rectangle {rect:?} is not inside page {page}")]
    RectOutsidePage {
        index: usize,
        field: String,
        page: u32,
        rect: [f32; 4],
    },
    #[error("the anchor text is empty")]
    EmptyAnchor,
    #[error("the update cannot be appended: {0}")]
    Update(#[from] PadesError),
}

/// Reads `bytes` and says what it is, or why it cannot be signed.
pub fn inspect(bytes: &[u8], limits: &UploadLimits) -> Result<UploadedPdf, UploadError> {
    let parsed = Parsed::load(bytes, limits)?;
    Ok(describe(bytes, &parsed))
}

fn describe(bytes: &[u8], parsed: &Parsed) -> UploadedPdf {
    UploadedPdf {
        page_count: parsed.page_count(),
        pages: parsed.pages.iter().map(|page| page.page_box).collect(),
        sha256: hex::encode(Sha256::digest(bytes)),
    }
}

/// An upload read once, then described, searched for any number of anchors and given its fields
/// without being read again: what [`inspect`], [`find_anchor`] and [`prepare`] do one file read
/// each. The pages' text is extracted on the first search and kept.
pub struct Upload {
    bytes: Vec<u8>,
    parsed: Parsed,
    pdf: UploadedPdf,
    texts: std::sync::OnceLock<Vec<Vec<text::Placed>>>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("pdf", &self.pdf)
            .finish_non_exhaustive()
    }
}

impl Upload {
    /// Reads `bytes` as [`inspect`] does.
    pub fn read(bytes: Vec<u8>, limits: &UploadLimits) -> Result<Self, UploadError> {
        let parsed = Parsed::load(&bytes, limits)?;
        let pdf = describe(&bytes, &parsed);
        Ok(Self {
            bytes,
            parsed,
            pdf,
            texts: std::sync::OnceLock::new(),
        })
    }

    /// What [`inspect`] says of it.
    pub fn pdf(&self) -> &UploadedPdf {
        &self.pdf
    }

    /// The bytes as uploaded.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes as uploaded, the reading dropped.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// [`find_anchor`] on it.
    pub fn find_anchor(&self, text: &str) -> Result<Vec<AnchorHit>, UploadError> {
        let needle = anchor::needle(text)?;
        let texts = self.texts.get_or_init(|| anchor::page_texts(&self.parsed));
        Ok(anchor::hits(texts, &needle))
    }

    /// [`prepare`] on it.
    pub fn prepare(&self, placements: &[Placement]) -> Result<RenderedPdf, UploadError> {
        first_revision::prepare_parsed(&self.bytes, &self.parsed, placements)
    }
}

/// A page of a loaded upload.
#[derive(Debug)]
struct Page {
    id: ObjectId,
    page_box: PageBox,
}

/// An upload that passed every check, parsed.
#[derive(Debug)]
struct Parsed {
    document: Document,
    pages: Vec<Page>,
}

/// How deep a page tree's inheritance or an object's nesting is followed.
const MAX_DEPTH: usize = 64;

impl Parsed {
    fn load(bytes: &[u8], limits: &UploadLimits) -> Result<Self, UploadError> {
        if bytes.len() > limits.max_bytes {
            return Err(UploadError::TooLarge {
                size: bytes.len(),
                max: limits.max_bytes,
            });
        }
        let head = &bytes[..bytes.len().min(1024)];
        if !head.windows(5).any(|window| window == b"%PDF-") {
            return Err(UploadError::Malformed("no %PDF- header".to_owned()));
        }
        // The parser is outside code: a panic in it is one more way a file is unreadable.
        let loaded = catch_unwind(AssertUnwindSafe(|| Document::load_mem(bytes)));
        let document = match loaded {
            Ok(Ok(document)) => document,
            Ok(Err(error)) if !mentions_encryption(bytes) => {
                return Err(UploadError::Malformed(error.to_string()));
            }
            Err(_) if !mentions_encryption(bytes) => {
                return Err(UploadError::Malformed("the parser gave up".to_owned()));
            }
            _ => return Err(UploadError::Encrypted),
        };
        if document.encryption_state.is_some() || document.trailer.has(b"Encrypt") {
            return Err(UploadError::Encrypted);
        }
        let page_ids: Vec<ObjectId> = catch_unwind(AssertUnwindSafe(|| {
            document.get_pages().into_values().collect()
        }))
        .map_err(|_| UploadError::Malformed("the page tree cannot be read".to_owned()))?;
        if page_ids.is_empty() {
            return Err(UploadError::NoPages);
        }
        if page_ids.len() > limits.max_pages as usize {
            return Err(UploadError::TooManyPages {
                pages: page_ids.len(),
                max: limits.max_pages,
            });
        }
        if let Some(reason) = signature_in(&document) {
            return Err(UploadError::AlreadySigned(reason));
        }
        let pages = page_ids
            .into_iter()
            .enumerate()
            .map(|(index, id)| {
                page_box(&document, id)
                    .map(|page_box| Page { id, page_box })
                    .ok_or_else(|| {
                        UploadError::Malformed(format!(
                            "page {} has no usable /MediaBox",
                            index + 1
                        ))
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { document, pages })
    }

    fn page_count(&self) -> u32 {
        // At most `max_pages`, a u32.
        u32::try_from(self.pages.len()).unwrap_or(u32::MAX)
    }

    /// The object `object` is, or refers to (following a few references).
    fn resolve<'a>(&'a self, object: &'a Object) -> Option<&'a Object> {
        resolve(&self.document, object)
    }
}

fn resolve<'a>(document: &'a Document, mut object: &'a Object) -> Option<&'a Object> {
    for _ in 0..MAX_DEPTH {
        match object {
            Object::Reference(id) => object = document.objects.get(id)?,
            _ => return Some(object),
        }
    }
    None
}

/// A page attribute, inherited down the page tree when the page lacks it.
fn inherited<'a>(document: &'a Document, page: ObjectId, key: &[u8]) -> Option<&'a Object> {
    let mut node = document.objects.get(&page)?.as_dict().ok()?;
    for _ in 0..MAX_DEPTH {
        if let Ok(value) = node.get(key) {
            return resolve(document, value);
        }
        let parent = node.get(b"Parent").ok()?;
        node = resolve(document, parent)?.as_dict().ok()?;
    }
    None
}

fn number(object: &Object) -> Option<f32> {
    match object {
        Object::Integer(value) => Some(*value as f32),
        Object::Real(value) => Some(*value),
        _ => None,
    }
    .filter(|value| value.is_finite())
}

fn rectangle(document: &Document, object: &Object) -> Option<[f32; 4]> {
    let items = resolve(document, object)?.as_array().ok()?;
    let values: Vec<f32> = items
        .iter()
        .map(|item| resolve(document, item).and_then(number))
        .collect::<Option<_>>()?;
    let [a, b, c, d] = <[f32; 4]>::try_from(values).ok()?;
    let rect = [a.min(c), b.min(d), a.max(c), b.max(d)];
    (rect[2] > rect[0] && rect[3] > rect[1]).then_some(rect)
}

fn page_box(document: &Document, page: ObjectId) -> Option<PageBox> {
    let media = rectangle(document, inherited(document, page, b"MediaBox")?)?;
    let crop = inherited(document, page, b"CropBox")
        .and_then(|crop| rectangle(document, crop))
        .map(|crop| {
            [
                crop[0].max(media[0]),
                crop[1].max(media[1]),
                crop[2].min(media[2]),
                crop[3].min(media[3]),
            ]
        })
        .filter(|crop| crop[2] > crop[0] && crop[3] > crop[1]);
    let rect = crop.unwrap_or(media);
    let rotate = inherited(document, page, b"Rotate")
        .and_then(|rotate| rotate.as_i64().ok())
        .map_or(0, |rotate| (rotate.rem_euclid(360) / 90 * 90) as i32);
    Some(PageBox {
        rect,
        width: rect[2] - rect[0],
        height: rect[3] - rect[1],
        rotate,
    })
}

/// Whether the raw bytes name an encryption dictionary: a file the parser cannot read is
/// reported as encrypted when it is, since an encrypted file often fails to read for that reason.
fn mentions_encryption(bytes: &[u8]) -> bool {
    bytes.windows(8).any(|window| window == b"/Encrypt")
}

/// What shows the document is signed already, if anything: permissions (`/Perms`) in the
/// catalog, a signature dictionary (`/ByteRange`), a DocMDP transform or a signature field with a
/// value.
fn signature_in(document: &Document) -> Option<&'static str> {
    if let Ok(catalog) = document.catalog()
        && catalog.has(b"Perms")
    {
        return Some("the catalog has /Perms");
    }
    document
        .objects
        .values()
        .find_map(|object| signature_mark(object, 0))
}

fn signature_mark(object: &Object, depth: usize) -> Option<&'static str> {
    if depth > MAX_DEPTH {
        return None;
    }
    match object {
        Object::Dictionary(dictionary) => dictionary_mark(dictionary, depth),
        Object::Stream(stream) => dictionary_mark(&stream.dict, depth),
        Object::Array(items) => items
            .iter()
            .find_map(|item| signature_mark(item, depth + 1)),
        _ => None,
    }
}

fn dictionary_mark(dictionary: &Dictionary, depth: usize) -> Option<&'static str> {
    if dictionary.has(b"ByteRange") {
        return Some("a signature dictionary with /ByteRange");
    }
    if dictionary
        .get(b"TransformMethod")
        .and_then(Object::as_name)
        .is_ok_and(|name| name == b"DocMDP")
        || dictionary.has(b"DocMDP")
    {
        return Some("a /DocMDP certification");
    }
    if dictionary
        .get(b"FT")
        .and_then(Object::as_name)
        .is_ok_and(|name| name == b"Sig")
        && dictionary.get(b"V").is_ok_and(|value| !value.is_null())
    {
        return Some("a signature field with a value");
    }
    dictionary
        .iter()
        .find_map(|(_, value)| signature_mark(value, depth + 1))
}

/// The dictionary object `number` of `pdf` as esign's own syntax reader represents it, read with
/// the full parser: for what that reader's scan cannot see, the objects an uploaded document keeps
/// in object streams (the long-term validation update walks its page tree).
pub(super) fn compressed_dictionary(pdf: &[u8], number: u32) -> Option<syntax::Dictionary> {
    let document = catch_unwind(AssertUnwindSafe(|| Document::load_mem(pdf)))
        .ok()?
        .ok()?;
    let (_, object) = document
        .objects
        .iter()
        .find(|((object_number, _), _)| *object_number == number)?;
    match to_syntax(object.as_dict().ok()?.clone().into(), 0)? {
        syntax::Object::Dictionary(dictionary) => Some(dictionary),
        _ => None,
    }
}

fn to_syntax(object: Object, depth: usize) -> Option<syntax::Object> {
    if depth > MAX_DEPTH {
        return None;
    }
    Some(match object {
        Object::Null | Object::Stream(_) => syntax::Object::Null,
        Object::Boolean(value) => syntax::Object::Boolean(value),
        Object::Integer(value) => syntax::Object::Integer(value),
        Object::Real(value) => syntax::Object::Real(f64::from(value)),
        Object::Name(name) => syntax::Object::Name(name),
        Object::String(bytes, _) => syntax::Object::String {
            bytes,
            // Not from this file's bytes: nothing is located by it.
            span: syntax::StringSpan {
                start: 0,
                end: 0,
                hex: true,
            },
        },
        Object::Array(items) => syntax::Object::Array(
            items
                .into_iter()
                .map(|item| to_syntax(item, depth + 1))
                .collect::<Option<_>>()?,
        ),
        Object::Dictionary(dictionary) => syntax::Object::Dictionary(syntax::Dictionary(
            dictionary
                .into_iter()
                .map(|(key, value)| Some((key, to_syntax(value, depth + 1)?)))
                .collect::<Option<_>>()?,
        )),
        Object::Reference((number, generation)) => syntax::Object::Reference(number, generation),
    })
}
