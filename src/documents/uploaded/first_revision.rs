//! The first revision of an uploaded document: the bytes as uploaded and one incremental update,
//! written through [`Update`] like every update esign appends, that adds the empty signature
//! fields. It rewrites the catalog (with an inline `/AcroForm` listing the document's fields and
//! the new ones, `/SigFlags 3`), the pages that get a field (their `/Annots` grown), and adds the
//! widgets and, when the file has none, a document information dictionary. Nothing is renumbered
//! and no content changes, so the uploaded bytes stay a prefix of every later revision.

use std::collections::BTreeMap;

use lopdf::{Dictionary, Object, ObjectId};
use sha2::{Digest, Sha256};

use super::{AnchorHit, PageBox, Parsed, UploadError, UploadLimits, centred_on};
use crate::documents::pades::{Revision, Update, text_string};
use crate::documents::pdf::{RenderedPdf, SignatureField};

/// An empty signature field to add.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// The field's name (`/T`): non-empty, without '.', unique in the document.
    pub field: String,
    /// 1-based.
    pub page: u32,
    /// `[x1, y1, x2, y2]` in points in the page's default user space (origin bottom-left); it
    /// must lie inside the page's box, or be [`INVISIBLE`].
    pub rect: [f32; 4],
}

/// The rectangle of a field nothing is drawn for (the platform seal, a document timestamp).
pub const INVISIBLE: [f32; 4] = [0.0; 4];

impl Placement {
    /// The field `field` as a `width` × `height` signature or seal centred on the anchor `hit`
    /// and kept inside its page (`page` is that page's box; see [`centred_on`]).
    pub fn over_anchor(
        field: impl Into<String>,
        hit: &AnchorHit,
        page: &PageBox,
        width: f32,
        height: f32,
    ) -> Self {
        Self {
            field: field.into(),
            page: hit.page,
            rect: centred_on(hit, page, width, height),
        }
    }
}

/// Appends the update that adds `placements` as empty signature fields to the uploaded `bytes`,
/// and describes the result for signing. The same bytes and placements give the same output.
///
/// The upload is checked as [`super::inspect`] checks it, without the size limits (which apply
/// when it is received).
pub fn prepare(bytes: &[u8], placements: &[Placement]) -> Result<RenderedPdf, UploadError> {
    let parsed = Parsed::load(bytes, &UploadLimits::UNBOUNDED)?;
    prepare_parsed(bytes, &parsed, placements)
}

/// [`prepare`] on an upload already read.
pub(super) fn prepare_parsed(
    bytes: &[u8],
    parsed: &Parsed,
    placements: &[Placement],
) -> Result<RenderedPdf, UploadError> {
    if placements.is_empty() {
        return Err(UploadError::NoPlacements);
    }
    let document = &parsed.document;
    let catalog_id = document
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| UploadError::Malformed("the trailer has no /Root".to_owned()))?;
    let catalog = document
        .objects
        .get(&catalog_id)
        .and_then(|catalog| catalog.as_dict().ok())
        .ok_or_else(|| UploadError::Malformed("the catalog is not a dictionary".to_owned()))?;
    let form = catalog
        .get(b"AcroForm")
        .ok()
        .and_then(|form| parsed.resolve(form))
        .and_then(|form| form.as_dict().ok());
    let existing_fields: Vec<Object> = form
        .and_then(|form| form.get(b"Fields").ok())
        .and_then(|fields| parsed.resolve(fields))
        .and_then(|fields| fields.as_array().ok())
        .cloned()
        .unwrap_or_default();
    let existing_names: Vec<String> = existing_fields
        .iter()
        .filter_map(|field| parsed.resolve(field)?.as_dict().ok()?.get(b"T").ok())
        .filter_map(|name| lopdf::decode_text_string(name).ok())
        .collect();
    check_placements(parsed, placements, &existing_names)?;

    let mut next = next_object_number(parsed)?;
    let catalog_number = object_number(catalog_id)?;
    let widgets: Vec<i32> = placements
        .iter()
        .map(|_| {
            let number = next;
            next += 1;
            number
        })
        .collect();
    let info = match document
        .trailer
        .get(b"Info")
        .and_then(Object::as_reference)
        .ok()
        .filter(|id| {
            document
                .objects
                .get(id)
                .is_some_and(|info| info.as_dict().is_ok())
        })
        .and_then(|id| object_number(id).ok())
    {
        Some(number) => (number, false),
        None => {
            let number = next;
            next += 1;
            (number, true)
        }
    };

    let mut update = Update::begin(bytes)?;
    let mut fields = Vec::with_capacity(placements.len());
    let mut widgets_by_page: BTreeMap<usize, Vec<i32>> = BTreeMap::new();
    for (placement, widget) in placements.iter().zip(&widgets) {
        let page_index = placement.page as usize - 1;
        let page = object_number(parsed.pages[page_index].id)?;
        let field = SignatureField {
            name: placement.field.clone(),
            object: *widget,
            page,
            rect: placement.rect,
        };
        update.object(*widget, empty_field(&field).as_bytes());
        widgets_by_page.entry(page_index).or_default().push(*widget);
        fields.push(field);
    }
    for (page_index, page_widgets) in &widgets_by_page {
        let page = &parsed.pages[*page_index];
        let mut dictionary = document
            .objects
            .get(&page.id)
            .and_then(|page| page.as_dict().ok())
            .cloned()
            .ok_or_else(|| UploadError::Malformed("a page is not a dictionary".to_owned()))?;
        let mut annotations: Vec<Object> = dictionary
            .get(b"Annots")
            .ok()
            .and_then(|annotations| parsed.resolve(annotations))
            .and_then(|annotations| annotations.as_array().ok())
            .cloned()
            .unwrap_or_default();
        annotations.extend(page_widgets.iter().map(|widget| reference(*widget)));
        dictionary.set("Annots", Object::Array(annotations));
        let number = object_number(page.id)?;
        update.object(
            number,
            indirect(number, &Object::Dictionary(dictionary)).as_bytes(),
        );
    }

    let mut new_form = form.cloned().unwrap_or_default();
    let mut all_fields = existing_fields;
    all_fields.extend(widgets.iter().map(|widget| reference(*widget)));
    new_form.set("Fields", Object::Array(all_fields));
    new_form.set("SigFlags", Object::Integer(3));
    let mut new_catalog = catalog.clone();
    new_catalog.set("AcroForm", Object::Dictionary(new_form));
    update.object(
        catalog_number,
        indirect(catalog_number, &Object::Dictionary(new_catalog)).as_bytes(),
    );
    if info.1 {
        update.object(
            info.0,
            format!("{} 0 obj\n<< /Producer (esign) >>\nendobj\n", info.0).as_bytes(),
        );
    }

    let file_id = match document.trailer.get(b"ID").and_then(Object::as_array) {
        Ok(ids) => ids
            .first()
            .and_then(|id| id.as_str().ok())
            .filter(|id| !id.is_empty())
            .map(<[u8]>::to_vec),
        Err(_) => None,
    }
    .unwrap_or_else(|| Sha256::digest(bytes)[..16].to_vec());
    let revision = Revision {
        catalog: catalog_number,
        info: info.0,
        size: next,
        file_id,
    };
    let bytes = update.finish(&revision, next);
    // A file whose structure the parser read around damage (objects it skipped, offsets that miss)
    // can read differently once an update points back into it: such a file is refused rather
    // than signed as something readers see otherwise.
    let reread = Parsed::load(&bytes, &UploadLimits::UNBOUNDED);
    if !reread.is_ok_and(|reread| reread.page_count() == parsed.page_count()) {
        return Err(UploadError::Damaged);
    }
    Ok(RenderedPdf {
        bytes,
        catalog: revision.catalog,
        info: revision.info,
        size: revision.size,
        fields,
        file_id: revision.file_id,
    })
}

fn check_placements(
    parsed: &Parsed,
    placements: &[Placement],
    existing_names: &[String],
) -> Result<(), UploadError> {
    let pages = parsed.page_count();
    for (index, placement) in placements.iter().enumerate() {
        let name = &placement.field;
        let duplicate = placements[..index]
            .iter()
            .any(|earlier| &earlier.field == name)
            || existing_names.contains(name);
        if name.is_empty() || name.contains('.') || duplicate {
            return Err(UploadError::FieldName {
                index,
                field: name.clone(),
            });
        }
        if placement.page == 0 || placement.page > pages {
            return Err(UploadError::PageOutOfRange {
                index,
                field: name.clone(),
                page: placement.page,
                pages,
            });
        }
        if placement.rect == INVISIBLE {
            continue;
        }
        if !parsed.pages[placement.page as usize - 1]
            .page_box
            .contains(placement.rect)
        {
            return Err(UploadError::RectOutsidePage {
                index,
                field: name.clone(),
                page: placement.page,
                rect: placement.rect,
            });
        }
    }
    Ok(())
}

/// Where the update numbers its new objects from: past every object the file has or says it has.
fn next_object_number(parsed: &Parsed) -> Result<i32, UploadError> {
    let document = &parsed.document;
    let declared = document
        .trailer
        .get(b"Size")
        .and_then(Object::as_i64)
        .unwrap_or(0);
    let highest = document
        .objects
        .keys()
        .map(|(number, _)| *number)
        .chain([document.reference_table.max_id()])
        .max()
        .unwrap_or(0);
    let next = declared.max(i64::from(highest) + 1);
    i32::try_from(next)
        .ok()
        .filter(|next| *next < i32::MAX - 1_000_000)
        .ok_or(UploadError::Unsupported(
            "object numbers beyond what esign writes",
        ))
}

/// The number of an object this update rewrites, which must have generation 0 (every update
/// esign writes numbers its entries with generation 0).
fn object_number((number, generation): ObjectId) -> Result<i32, UploadError> {
    if generation != 0 {
        return Err(UploadError::Unsupported(
            "a catalog, page or information dictionary with a generation number above 0",
        ));
    }
    i32::try_from(number).map_err(|_| UploadError::Unsupported("an object number above 2^31"))
}

fn reference(number: i32) -> Object {
    Object::Reference((number.unsigned_abs(), 0))
}

/// An empty, printable and locked signature field (a merged field and widget) at its rectangle:
/// the object [`crate::documents::pades::prepare`] rewrites with the signature's value.
fn empty_field(field: &SignatureField) -> String {
    let [x1, y1, x2, y2] = field.rect;
    format!(
        "{} 0 obj\n<< /Type /Annot /Subtype /Widget /FT /Sig /T {} /Rect [{x1} {y1} {x2} {y2}] \
         /F 132 /P {} 0 R >>\nendobj\n",
        field.object,
        text_string(&field.name),
        field.page
    )
}

fn indirect(number: i32, object: &Object) -> String {
    let mut out = format!("{number} 0 obj\n");
    write_object(&mut out, object, 0);
    out.push_str("\nendobj\n");
    out
}

/// An object as PDF syntax: strings as hex, names escaped, streams (never inline in what is
/// rewritten here) as null. Nesting deeper than the reader's limit is cut off as null.
fn write_object(out: &mut String, object: &Object, depth: usize) {
    if depth > super::MAX_DEPTH {
        out.push_str("null");
        return;
    }
    match object {
        Object::Null | Object::Stream(_) => out.push_str("null"),
        Object::Boolean(value) => out.push_str(if *value { "true" } else { "false" }),
        Object::Integer(value) => out.push_str(&value.to_string()),
        Object::Real(value) if value.is_finite() => out.push_str(&value.to_string()),
        Object::Real(_) => out.push('0'),
        Object::Name(name) => write_name(out, name),
        Object::String(bytes, _) => {
            out.push('<');
            out.push_str(&hex::encode_upper(bytes));
            out.push('>');
        }
        Object::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(' ');
                }
                write_object(out, item, depth + 1);
            }
            out.push(']');
        }
        Object::Dictionary(dictionary) => write_dictionary(out, dictionary, depth),
        Object::Reference((number, generation)) => {
            out.push_str(&format!("{number} {generation} R"));
        }
    }
}

fn write_dictionary(out: &mut String, dictionary: &Dictionary, depth: usize) {
    out.push_str("<<");
    for (key, value) in dictionary.iter() {
        out.push(' ');
        write_name(out, key);
        out.push(' ');
        write_object(out, value, depth + 1);
    }
    out.push_str(" >>");
}

fn write_name(out: &mut String, name: &[u8]) {
    out.push('/');
    for byte in name {
        let delimiter = b"()<>[]{}/%#".contains(byte);
        if (0x21..0x7f).contains(byte) && !delimiter {
            out.push(char::from(*byte));
        } else {
            out.push_str(&format!("#{byte:02X}"));
        }
    }
}
