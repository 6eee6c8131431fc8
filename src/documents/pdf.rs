//! Lays out a [`Layout`] of blocks on A4 pages and writes the PDF.
//!
//! The bytes depend only on the blocks: no clock, no random ids (the file id is a hash of the
//! content), no hash-map order. So the same events always give the same document.

use pdf_writer::types::{AnnotationFlags, CidFontType, FieldType, FontFlags, SigFlags, SystemInfo};
use pdf_writer::{Chunk, Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use sha2::{Digest, Sha256};

use super::font::{FontError, GlyphSet};

/// A4 in points.
const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
const FONT_NAME: Name<'static> = Name(b"F1");
/// Width of a signature box, in points.
const BOX_WIDTH: f32 = 220.0;

/// What a document holds, top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// The document title, centred.
    Title(String),
    Heading(String),
    Paragraph(String),
    /// `label：value` lines, the value wrapped under itself.
    Fields(Vec<(String, String)>),
    /// A PNG drawn `width` points wide (height keeps the aspect ratio), with an optional caption.
    Image {
        png: Vec<u8>,
        width: f32,
        caption: Option<String>,
    },
    /// A horizontal line.
    Rule,
    /// Vertical space in points.
    Space(f32),
    PageBreak,
    /// A framed box `height` points high across the text width where the signature field named
    /// `field` is shown: its widget gets this rectangle, and the signature's appearance fills it
    /// in the incremental update that signs it.
    SignatureBox {
        field: String,
        height: f32,
    },
    /// Where a template marks the signature place of a party type (`RECEIVER`, `PAYER`): the
    /// contract layout puts that role's signature boxes here. The writer draws nothing for it.
    SignaturePlace(String),
}

/// A document to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The document information title (shown by viewers).
    pub title: String,
    pub blocks: Vec<Block>,
    /// Printed at the bottom of every page with the page number, e.g. the contract id.
    pub footer: String,
    /// Empty signature fields to create, by name: each later signature fills one in an
    /// incremental update that changes no page content. A field placed by a
    /// [`Block::SignatureBox`] is visible there; the others are invisible on the first page.
    pub signature_fields: Vec<String>,
}

/// A signature field as written, for the incremental updates that sign it.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureField {
    pub name: String,
    /// The field's (widget's) object number.
    pub object: i32,
    /// The object number of the page the widget sits on.
    pub page: i32,
    /// The widget's rectangle `[x1, y1, x2, y2]` in points; all zero for an invisible field.
    pub rect: [f32; 4],
}

/// A written document and what signing it needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPdf {
    pub bytes: Vec<u8>,
    pub catalog: i32,
    pub info: i32,
    /// One more than the highest object number.
    pub size: i32,
    pub fields: Vec<SignatureField>,
    /// The file identifier (both halves are equal in the original).
    pub file_id: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(transparent)]
    Font(#[from] FontError),
    #[error("an image cannot be read: {0}")]
    Image(String),
    #[error("the document is too large: {0}")]
    TooLarge(&'static str),
    #[error("a signature box names {0}, which is not one of the document's signature fields")]
    UnknownSignatureField(String),
}

/// A decoded image ready to embed: 8-bit samples, gray or RGB, and an optional alpha mask.
pub(super) struct Picture {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) rgb: bool,
    pub(super) samples: Vec<u8>,
    pub(super) alpha: Option<Vec<u8>>,
}

pub(super) fn decode_png(bytes: &[u8]) -> Result<Picture, PdfError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .map_err(|error| PdfError::Image(error.to_string()))?;
    let size = reader
        .output_buffer_size()
        .ok_or(PdfError::Image("the image is too large".to_owned()))?;
    let mut buffer = vec![0; size];
    let info = reader
        .next_frame(&mut buffer)
        .map_err(|error| PdfError::Image(error.to_string()))?;
    buffer.truncate(info.buffer_size());
    let (channels, rgb, has_alpha) = match info.color_type {
        png::ColorType::Grayscale => (1, false, false),
        png::ColorType::GrayscaleAlpha => (2, false, true),
        png::ColorType::Rgb => (3, true, false),
        png::ColorType::Rgba => (4, true, true),
        png::ColorType::Indexed => {
            return Err(PdfError::Image("unexpanded palette image".to_owned()));
        }
    };
    let colour_channels = channels - usize::from(has_alpha);
    let mut samples = Vec::with_capacity(buffer.len());
    let mut alpha = has_alpha.then(|| Vec::with_capacity(buffer.len() / channels));
    for pixel in buffer.chunks_exact(channels) {
        samples.extend_from_slice(&pixel[..colour_channels]);
        if let Some(alpha) = &mut alpha {
            alpha.push(pixel[channels - 1]);
        }
    }
    Ok(Picture {
        width: info.width,
        height: info.height,
        rgb,
        samples,
        alpha,
    })
}

/// Writes `picture` as the image XObject `id`, naming `mask_id` as its soft mask (written by
/// [`write_alpha_mask`]) when it has transparency.
pub(super) fn write_image(
    chunk: &mut Chunk,
    id: Ref,
    mask_id: Option<Ref>,
    picture: &Picture,
) -> Result<(), PdfError> {
    let (width, height) = picture_size(picture)?;
    let samples = deflate(&picture.samples);
    let mut image = chunk.image_xobject(id, &samples);
    image.filter(Filter::FlateDecode);
    image.width(width).height(height);
    if picture.rgb {
        image.color_space().device_rgb();
    } else {
        image.color_space().device_gray();
    }
    image.bits_per_component(8);
    if let Some(mask_id) = mask_id {
        image.s_mask(mask_id);
    }
    Ok(())
}

/// Writes the alpha channel of `picture` (if any) as the grey soft mask `id`.
pub(super) fn write_alpha_mask(
    chunk: &mut Chunk,
    id: Ref,
    picture: &Picture,
) -> Result<(), PdfError> {
    let Some(alpha) = &picture.alpha else {
        return Ok(());
    };
    let (width, height) = picture_size(picture)?;
    let alpha = deflate(alpha);
    let mut mask = chunk.image_xobject(id, &alpha);
    mask.filter(Filter::FlateDecode);
    mask.width(width).height(height);
    mask.color_space().device_gray();
    mask.bits_per_component(8);
    Ok(())
}

fn picture_size(picture: &Picture) -> Result<(i32, i32), PdfError> {
    let width = i32::try_from(picture.width).map_err(|_| PdfError::TooLarge("image"))?;
    let height = i32::try_from(picture.height).map_err(|_| PdfError::TooLarge("image"))?;
    Ok((width, height))
}

fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

/// Hands out object ids in order.
struct Ids(i32);

impl Ids {
    fn next(&mut self) -> Ref {
        self.0 += 1;
        Ref::new(self.0)
    }
}

/// One page being filled.
struct PageBuilder {
    content: Content,
    /// The baseline of the next line, from the bottom.
    y: f32,
    images: Vec<(Name<'static>, Ref)>,
}

/// Writes `layout` as a PDF.
pub fn write(layout: &Layout) -> Result<Vec<u8>, PdfError> {
    render(layout).map(|rendered| rendered.bytes)
}

/// Writes `layout` as a PDF and says where its signature fields are.
pub fn render(layout: &Layout) -> Result<RenderedPdf, PdfError> {
    let mut glyphs = GlyphSet::new()?;
    let mut ids = Ids(0);
    let catalog_id = ids.next();
    let pages_id = ids.next();
    let font_id = ids.next();
    let cid_font_id = ids.next();
    let descriptor_id = ids.next();
    let font_file_id = ids.next();
    let to_unicode_id = ids.next();
    let info_id = ids.next();

    let mut pdf = Pdf::new();
    let mut fingerprint = Sha256::new();
    let mut pages: Vec<PageBuilder> = Vec::new();
    let mut image_objects: Vec<(Ref, Picture)> = Vec::new();
    // Where each signature box went: field name, page index, rectangle.
    let mut boxes: Vec<(String, usize, [f32; 4])> = Vec::new();
    let image_names: Vec<Name<'static>> = IMAGE_NAMES.iter().map(|name| Name(name)).collect();

    let new_page = |pages: &mut Vec<PageBuilder>| {
        pages.push(PageBuilder {
            content: Content::new(),
            y: PAGE_HEIGHT - MARGIN,
            images: Vec::new(),
        });
    };
    new_page(&mut pages);

    for block in &layout.blocks {
        match block {
            Block::Title(text) => {
                let size = 18.0;
                for line in wrap(&glyphs, text, size, CONTENT_WIDTH) {
                    let width = glyphs.text_width(&line, size);
                    let x = MARGIN + (CONTENT_WIDTH - width).max(0.0) / 2.0;
                    text_line(&mut pages, &mut glyphs, &line, size, x, 1.6, &new_page);
                }
                space(&mut pages, 10.0, &new_page);
            }
            Block::Heading(text) => {
                space(&mut pages, 6.0, &new_page);
                for line in wrap(&glyphs, text, 13.0, CONTENT_WIDTH) {
                    text_line(&mut pages, &mut glyphs, &line, 13.0, MARGIN, 1.5, &new_page);
                }
                space(&mut pages, 4.0, &new_page);
            }
            Block::Paragraph(text) => {
                for line in wrap(&glyphs, text, 10.5, CONTENT_WIDTH) {
                    text_line(&mut pages, &mut glyphs, &line, 10.5, MARGIN, 1.6, &new_page);
                }
                space(&mut pages, 6.0, &new_page);
            }
            Block::Fields(fields) => {
                let size = 10.0;
                let label_width = fields
                    .iter()
                    .map(|(label, _)| glyphs.text_width(&format!("{label}："), size))
                    .fold(0.0_f32, f32::max)
                    .min(CONTENT_WIDTH / 2.0);
                for (label, value) in fields {
                    let lines = wrap(&glyphs, value, size, CONTENT_WIDTH - label_width);
                    let label = format!("{label}：");
                    for (index, line) in lines.iter().enumerate() {
                        ensure_room(&mut pages, size * 1.5, &new_page);
                        if index == 0 {
                            let page = current(&mut pages);
                            draw_text(
                                &mut page.content,
                                &mut glyphs,
                                &label,
                                size,
                                MARGIN,
                                page.y - size,
                            );
                        }
                        text_line(
                            &mut pages,
                            &mut glyphs,
                            line,
                            size,
                            MARGIN + label_width,
                            1.5,
                            &new_page,
                        );
                    }
                }
                space(&mut pages, 6.0, &new_page);
            }
            Block::Image {
                png,
                width,
                caption,
            } => {
                let picture = decode_png(png)?;
                let height = width * picture.height as f32 / picture.width.max(1) as f32;
                let caption_height = if caption.is_some() { 16.0 } else { 0.0 };
                ensure_room(&mut pages, height + caption_height + 4.0, &new_page);
                let id = ids.next();
                let page = current(&mut pages);
                let name = *image_names
                    .get(page.images.len())
                    .ok_or(PdfError::TooLarge("too many images on one page"))?;
                page.images.push((name, id));
                let bottom = page.y - height;
                page.content.save_state();
                page.content
                    .transform([*width, 0.0, 0.0, height, MARGIN, bottom]);
                page.content.x_object(name);
                page.content.restore_state();
                page.y = bottom - 4.0;
                fingerprint.update(png);
                image_objects.push((id, picture));
                if let Some(caption) = caption {
                    text_line(
                        &mut pages,
                        &mut glyphs,
                        caption,
                        9.0,
                        MARGIN,
                        1.5,
                        &new_page,
                    );
                }
                space(&mut pages, 6.0, &new_page);
            }
            Block::Rule => {
                ensure_room(&mut pages, 12.0, &new_page);
                let page = current(&mut pages);
                let y = page.y - 4.0;
                page.content.set_stroke_gray(0.6);
                page.content.set_line_width(0.5);
                page.content.move_to(MARGIN, y);
                page.content.line_to(PAGE_WIDTH - MARGIN, y);
                page.content.stroke();
                page.y -= 12.0;
            }
            Block::Space(points) => space(&mut pages, *points, &new_page),
            Block::PageBreak => new_page(&mut pages),
            Block::SignaturePlace(_) => {}
            Block::SignatureBox { field, height } => {
                ensure_room(&mut pages, height + 6.0, &new_page);
                let page_index = pages.len() - 1;
                let page = current(&mut pages);
                let bottom = page.y - height;
                page.content.set_stroke_gray(0.75);
                page.content.set_line_width(0.5);
                page.content.rect(MARGIN, bottom, BOX_WIDTH, *height);
                page.content.stroke();
                page.y = bottom - 6.0;
                fingerprint.update(field.as_bytes());
                boxes.push((
                    field.clone(),
                    page_index,
                    [MARGIN, bottom, MARGIN + BOX_WIDTH, bottom + height],
                ));
            }
        }
    }

    if let Some((field, _, _)) = boxes
        .iter()
        .find(|(field, _, _)| !layout.signature_fields.contains(field))
    {
        return Err(PdfError::UnknownSignatureField(field.clone()));
    }

    // Footers, now that the page count is known.
    let total = pages.len();
    for (index, page) in pages.iter_mut().enumerate() {
        let footer = format!("{}    第 {} 页 / 共 {} 页", layout.footer, index + 1, total);
        let size = 8.0;
        let width = glyphs.text_width(&footer, size);
        page.content.set_fill_gray(0.4);
        draw_text(
            &mut page.content,
            &mut glyphs,
            &footer,
            size,
            (PAGE_WIDTH - width) / 2.0,
            MARGIN / 2.0,
        );
    }

    let page_ids: Vec<Ref> = pages.iter().map(|_| ids.next()).collect();
    let count = i32::try_from(page_ids.len()).map_err(|_| PdfError::TooLarge("pages"))?;
    let field_ids: Vec<Ref> = layout.signature_fields.iter().map(|_| ids.next()).collect();
    let placement = |name: &str| -> (usize, [f32; 4]) {
        boxes
            .iter()
            .find(|(field, _, _)| field == name)
            .map_or((0, [0.0; 4]), |(_, page, rect)| (*page, *rect))
    };
    let mut catalog = pdf.catalog(catalog_id);
    catalog.pages(pages_id);
    if !field_ids.is_empty() {
        catalog
            .form()
            .fields(field_ids.iter().copied())
            .sig_flags(SigFlags::SIGNATURES_EXIST | SigFlags::APPEND_ONLY);
    }
    catalog.finish();
    for (name, id) in layout.signature_fields.iter().zip(&field_ids) {
        let mut field = pdf.form_field(*id);
        field
            .partial_name(TextStr(name))
            .field_type(FieldType::Signature);
        let (page, [x1, y1, x2, y2]) = placement(name);
        let mut widget = field.into_annotation();
        widget
            .rect(Rect::new(x1, y1, x2, y2))
            .page(page_ids[page])
            .flags(AnnotationFlags::PRINT | AnnotationFlags::LOCKED);
    }
    pdf.pages(pages_id)
        .kids(page_ids.iter().copied())
        .count(count);
    for (index, (page, page_id)) in pages.into_iter().zip(&page_ids).enumerate() {
        let annotations: Vec<Ref> = layout
            .signature_fields
            .iter()
            .zip(&field_ids)
            .filter(|(name, _)| placement(name).0 == index)
            .map(|(_, id)| *id)
            .collect();
        let content_id = ids.next();
        let content = deflate(&page.content.finish());
        fingerprint.update(&content);
        let mut page_writer = pdf.page(*page_id);
        page_writer
            .parent(pages_id)
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .contents(content_id);
        if !annotations.is_empty() {
            page_writer.annotations(annotations);
        }
        let mut resources = page_writer.resources();
        resources.fonts().pair(FONT_NAME, font_id);
        let mut x_objects = resources.x_objects();
        for (name, id) in &page.images {
            x_objects.pair(*name, *id);
        }
        x_objects.finish();
        resources.finish();
        page_writer.finish();
        pdf.stream(content_id, &content).filter(Filter::FlateDecode);
    }

    for (id, picture) in &image_objects {
        let mask_id = picture.alpha.as_ref().map(|_| ids.next());
        write_image(&mut pdf, *id, mask_id, picture)?;
        if let Some(mask_id) = mask_id {
            write_alpha_mask(&mut pdf, mask_id, picture)?;
        }
    }

    // The font: a CID-keyed Type 0 font over the subset, glyphs addressed by their new ids.
    let metrics = glyphs.metrics();
    let base_font = Name(b"ESIGNA+WenQuanYiMicroHei");
    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    pdf.type0_font(font_id)
        .base_font(base_font)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_font_id)
        .to_unicode(to_unicode_id);
    pdf.cid_font(cid_font_id)
        .subtype(CidFontType::Type2)
        .base_font(base_font)
        .system_info(system_info)
        .font_descriptor(descriptor_id)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"))
        .widths()
        .consecutive(0, glyphs.widths());
    pdf.font_descriptor(descriptor_id)
        .name(base_font)
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(
            metrics.bbox[0],
            metrics.bbox[1],
            metrics.bbox[2],
            metrics.bbox[3],
        ))
        .italic_angle(0.0)
        .ascent(metrics.ascent)
        .descent(metrics.descent)
        .cap_height(metrics.cap_height)
        .stem_v(80.0)
        .font_file2(font_file_id);
    let subset = glyphs.subset()?;
    let compressed = deflate(&subset);
    fingerprint.update(&subset);
    pdf.stream(font_file_id, &compressed)
        .filter(Filter::FlateDecode)
        .pair(
            Name(b"Length1"),
            i32::try_from(subset.len()).unwrap_or(i32::MAX),
        );
    let mut cmap = pdf_writer::types::UnicodeCmap::new(Name(b"Custom"), system_info);
    for (glyph, ch) in glyphs.characters() {
        cmap.pair(*glyph, *ch);
    }
    let cmap = cmap.finish();
    pdf.cmap(to_unicode_id, &cmap);

    pdf.document_info(info_id)
        .title(TextStr(&layout.title))
        .producer(TextStr("esign"));
    fingerprint.update(layout.title.as_bytes());
    for name in &layout.signature_fields {
        fingerprint.update(name.as_bytes());
    }
    let file_id = fingerprint.finalize()[..16].to_vec();
    pdf.set_file_id((file_id.clone(), file_id.clone()));
    let size = ids.next().get();
    Ok(RenderedPdf {
        bytes: pdf.finish(),
        catalog: catalog_id.get(),
        info: info_id.get(),
        size,
        fields: layout
            .signature_fields
            .iter()
            .zip(&field_ids)
            .map(|(name, id)| {
                let (page, rect) = placement(name);
                SignatureField {
                    name: name.clone(),
                    object: id.get(),
                    page: page_ids[page].get(),
                    rect,
                }
            })
            .collect(),
        file_id,
    })
}

/// Resource names for the images of one page.
const IMAGE_NAMES: &[&[u8]] = &[
    b"Im1", b"Im2", b"Im3", b"Im4", b"Im5", b"Im6", b"Im7", b"Im8", b"Im9", b"Im10", b"Im11",
    b"Im12", b"Im13", b"Im14", b"Im15", b"Im16", b"Im17", b"Im18", b"Im19", b"Im20", b"Im21",
    b"Im22", b"Im23", b"Im24",
];

fn current(pages: &mut [PageBuilder]) -> &mut PageBuilder {
    // `write` pushes the first page before any block, so there is always one.
    let last = pages.len() - 1;
    &mut pages[last]
}

fn ensure_room(
    pages: &mut Vec<PageBuilder>,
    height: f32,
    new_page: &dyn Fn(&mut Vec<PageBuilder>),
) {
    if current(pages).y - height < MARGIN {
        new_page(pages);
    }
}

fn space(pages: &mut Vec<PageBuilder>, points: f32, new_page: &dyn Fn(&mut Vec<PageBuilder>)) {
    let page = current(pages);
    if page.y - points < MARGIN {
        new_page(pages);
    } else {
        page.y -= points;
    }
}

/// One line of text at `x`, `leading` times the size high, breaking the page when needed.
fn text_line(
    pages: &mut Vec<PageBuilder>,
    glyphs: &mut GlyphSet,
    text: &str,
    size: f32,
    x: f32,
    leading: f32,
    new_page: &dyn Fn(&mut Vec<PageBuilder>),
) {
    let height = size * leading;
    ensure_room(pages, height, new_page);
    let page = current(pages);
    draw_text(&mut page.content, glyphs, text, size, x, page.y - size);
    page.y -= height;
}

fn draw_text(content: &mut Content, glyphs: &mut GlyphSet, text: &str, size: f32, x: f32, y: f32) {
    let codes = glyphs.encode(text);
    content.begin_text();
    content.set_font(FONT_NAME, size);
    content.next_line(x, y);
    content.show(Str(&codes));
    content.end_text();
}

/// Breaks `text` into lines no wider than `width`: at any character for CJK text, at spaces for
/// runs of Latin letters and digits, and always at newlines.
pub fn wrap(glyphs: &GlyphSet, text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_width = 0.0;
        for token in tokens(paragraph) {
            let token_width = glyphs.text_width(&token, size);
            // Closing punctuation never starts a line: it hangs past the margin instead.
            let hangs = token.chars().all(|ch| NO_LINE_START.contains(ch));
            if line_width + token_width > width && !line.is_empty() && !hangs {
                lines.push(line.trim_end().to_owned());
                line = String::new();
                line_width = 0.0;
                if token.trim().is_empty() {
                    continue;
                }
            }
            if token_width > width {
                // A word longer than the line: split it by characters.
                for ch in token.chars() {
                    let advance = glyphs.advance(ch) * size;
                    if line_width + advance > width && !line.is_empty() {
                        lines.push(std::mem::take(&mut line));
                        line_width = 0.0;
                    }
                    line.push(ch);
                    line_width += advance;
                }
            } else {
                line.push_str(&token);
                line_width += token_width;
            }
        }
        lines.push(line.trim_end().to_owned());
    }
    lines
}

/// Punctuation that must not begin a line in Chinese typesetting.
const NO_LINE_START: &str = "，。、；：！？）》」』”’〕】…,.;:!?)";

/// Words of Latin letters and digits stay together; every other character is a token of its own.
fn tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() || matches!(ch, '.' | ',' | '-' | '_' | '/' | ':' | '@') {
            word.push(ch);
        } else {
            if !word.is_empty() {
                tokens.push(std::mem::take(&mut word));
            }
            tokens.push(ch.to_string());
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(boxed: &str) -> Layout {
        Layout {
            title: "协议".into(),
            footer: "C1".into(),
            blocks: vec![Block::SignatureBox {
                field: boxed.into(),
                height: 60.0,
            }],
            signature_fields: vec!["Signer_A".into(), "PlatformSeal".into()],
        }
    }

    #[test]
    fn a_boxed_field_is_visible_on_its_page_and_the_others_are_not() {
        let rendered = render(&layout("Signer_A")).unwrap();
        let [x1, y1, x2, y2] = rendered.fields[0].rect;
        assert!(x2 > x1 && y2 > y1, "{:?}", rendered.fields[0]);
        assert_eq!(rendered.fields[1].rect, [0.0; 4]);
    }

    #[test]
    fn a_box_for_a_field_the_document_does_not_have_is_refused() {
        assert!(matches!(
            render(&layout("Signer_B")),
            Err(PdfError::UnknownSignatureField(field)) if field == "Signer_B"
        ));
    }
}
