//! A small content-stream interpreter that finds where each character of a page's text is.
//!
//! It follows the graphics state (`q`/`Q`, `cm`), the text state (`Tc`, `Tw`, `Tz`, `TL`, `Ts`,
//! `Tf`) and text positioning (`BT`, `Td`, `TD`, `Tm`, `T*`), and shows strings (`Tj`, `TJ`, `'`,
//! `"`) glyph by glyph with the advances of the font's `/Widths` (simple fonts) or `/W` and `/DW`
//! (CID fonts). Codes become text through the font's `/ToUnicode` CMap, else as themselves for
//! Type 0 fonts on a Unicode CMap (`UniGB-UCS2-H` and the like), else (simple fonts) through
//! WinAnsi, which covers Latin text. Form XObjects drawn with `Do` are read too (nested up
//! to 8 deep); text in annotations is not: anchors are looked for in the page's own content.

use std::collections::BTreeMap;

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Object, ObjectId};

use super::cmap::ToUnicode;
use super::{MAX_DEPTH, inherited, number, resolve};
use crate::documents::standard_metrics;

/// One character of a page's text and the box it is drawn in, in default user space.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Placed {
    pub(super) character: char,
    pub(super) rect: [f32; 4],
}

/// Operations beyond this many on one page are not read (a bound for hostile input).
const MAX_OPERATIONS: usize = 2_000_000;

type Matrix = [f32; 6];

const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `a` then `b`: the product a × b of PDF's row-vector matrices.
fn multiply(a: &Matrix, b: &Matrix) -> Matrix {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

fn apply(m: &Matrix, x: f32, y: f32) -> (f32, f32) {
    (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])
}

fn translation(x: f32, y: f32) -> Matrix {
    [1.0, 0.0, 0.0, 1.0, x, y]
}

/// What the interpreter needs of a font.
#[derive(Debug, Clone)]
struct Font {
    /// Type 0 fonts are read as two-byte codes (Identity-H and the like).
    two_byte: bool,
    /// A Type 0 font whose codes are Unicode (`UniGB-UCS2-H`, `UniGB-UTF16-H` and their kin, the
    /// predefined CMaps of unembedded Chinese fonts such as STSong-Light): without a ToUnicode
    /// map, a code is its own UTF-16 text.
    unicode_codes: bool,
    widths: Widths,
    to_unicode: Option<ToUnicode>,
    /// Glyph box above and below the baseline, in text space units (thousandths of an em / 1000).
    ascent: f32,
    descent: f32,
}

#[derive(Debug, Clone)]
enum Widths {
    Simple {
        first: u32,
        widths: Vec<f32>,
        missing: f32,
    },
    Cid {
        default: f32,
        widths: BTreeMap<u32, f32>,
    },
}

/// The advance of a glyph when the font does not say (half an em, a fair guess for Latin text).
const UNKNOWN_WIDTH: f32 = 500.0;

impl Font {
    fn read(document: &Document, dictionary: &Dictionary) -> Self {
        let get = |dictionary: &Dictionary, key: &[u8]| {
            dictionary
                .get(key)
                .ok()
                .and_then(|value| resolve(document, value))
                .cloned()
        };
        let two_byte = dictionary
            .get(b"Subtype")
            .and_then(Object::as_name)
            .is_ok_and(|name| name == b"Type0");
        let descendant = get(dictionary, b"DescendantFonts")
            .and_then(|fonts| fonts.as_array().ok()?.first().cloned())
            .and_then(|font| resolve(document, &font).cloned())
            .and_then(|font| font.as_dict().ok().cloned());
        let widths = match (&descendant, two_byte) {
            (Some(cid_font), true) => Widths::Cid {
                default: get(cid_font, b"DW")
                    .as_ref()
                    .and_then(number)
                    .unwrap_or(1000.0),
                widths: get(cid_font, b"W")
                    .map(|widths| cid_widths(document, &widths))
                    .unwrap_or_default(),
            },
            _ => {
                let missing = get(dictionary, b"FontDescriptor")
                    .and_then(|descriptor| get(descriptor.as_dict().ok()?, b"MissingWidth"))
                    .as_ref()
                    .and_then(number)
                    .filter(|width| *width > 0.0)
                    .unwrap_or(UNKNOWN_WIDTH);
                let base_font = dictionary
                    .get(b"BaseFont")
                    .and_then(Object::as_name)
                    .unwrap_or_default();
                let standard =
                    standard_widths(base_font).filter(|_| get(dictionary, b"Widths").is_none());
                if let Some(widths) = standard {
                    Widths::Simple {
                        first: 32,
                        widths,
                        missing,
                    }
                } else {
                    Widths::Simple {
                        first: get(dictionary, b"FirstChar")
                            .and_then(|first| first.as_i64().ok())
                            .and_then(|first| u32::try_from(first).ok())
                            .unwrap_or(0),
                        widths: get(dictionary, b"Widths")
                            .and_then(|widths| {
                                Some(
                                    widths
                                        .as_array()
                                        .ok()?
                                        .iter()
                                        .map(|width| {
                                            resolve(document, width)
                                                .and_then(number)
                                                .unwrap_or(missing)
                                        })
                                        .collect(),
                                )
                            })
                            .unwrap_or_default(),
                        missing,
                    }
                }
            }
        };
        let descriptor = descendant
            .as_ref()
            .and_then(|cid_font| get(cid_font, b"FontDescriptor"))
            .or_else(|| get(dictionary, b"FontDescriptor"))
            .and_then(|descriptor| descriptor.as_dict().ok().cloned());
        let metric = |key: &[u8]| {
            descriptor
                .as_ref()
                .and_then(|descriptor| get(descriptor, key))
                .as_ref()
                .and_then(number)
        };
        let ascent = metric(b"Ascent")
            .filter(|ascent| *ascent > 0.0 && *ascent < 2000.0)
            .unwrap_or(800.0);
        let descent = metric(b"Descent")
            .filter(|descent| *descent < 0.0 && *descent > -1000.0)
            .unwrap_or(-200.0);
        let to_unicode = get(dictionary, b"ToUnicode")
            .and_then(|stream| {
                let stream = stream.as_stream().ok()?;
                stream
                    .decompressed_content()
                    .ok()
                    .or_else(|| Some(stream.content.clone()))
            })
            .map(|content| ToUnicode::parse(&content))
            .filter(|cmap| !cmap.is_empty());
        let unicode_codes = two_byte
            && dictionary
                .get(b"Encoding")
                .and_then(Object::as_name)
                .is_ok_and(|name| {
                    name.starts_with(b"Uni")
                        && (name.windows(4).any(|part| part == b"UCS2")
                            || name.windows(5).any(|part| part == b"UTF16"))
                });
        Self {
            two_byte,
            unicode_codes,
            widths,
            to_unicode,
            ascent: ascent / 1000.0,
            descent: descent / 1000.0,
        }
    }

    /// The font's codes in `bytes`, each with its length.
    fn codes(&self, bytes: &[u8]) -> Vec<(u32, usize)> {
        let length = if self.two_byte { 2 } else { 1 };
        // A ToUnicode map with only one-byte codes on a Type 0 font says how the codes are cut.
        let length = match &self.to_unicode {
            Some(cmap) if cmap.code_lengths() == [1] => 1,
            _ => length,
        };
        bytes
            .chunks(length)
            .map(|code| {
                let value = code
                    .iter()
                    .fold(0u32, |value, byte| (value << 8) | u32::from(*byte));
                (value, code.len())
            })
            .collect()
    }

    fn width(&self, code: u32) -> f32 {
        match &self.widths {
            Widths::Simple {
                first,
                widths,
                missing,
            } => code
                .checked_sub(*first)
                .and_then(|index| widths.get(index as usize))
                .copied()
                .unwrap_or(*missing),
            Widths::Cid { default, widths } => widths.get(&code).copied().unwrap_or(*default),
        }
    }

    fn text(&self, code: u32, length: usize) -> String {
        if let Some(text) = self
            .to_unicode
            .as_ref()
            .and_then(|cmap| cmap.text(code, length))
        {
            return text;
        }
        if self.unicode_codes {
            return u16::try_from(code).map_or_else(
                |_| char::REPLACEMENT_CHARACTER.to_string(),
                |unit| String::from_utf16_lossy(&[unit]),
            );
        }
        if self.two_byte {
            return char::REPLACEMENT_CHARACTER.to_string();
        }
        win_ansi(code).to_string()
    }
}

/// Advances of the printable ASCII codes (32 to 126) of the standard 14 fonts, which older
/// files name without `/Widths`: Courier is fixed-width; Helvetica's (and Arial's) and Times's
/// regular metrics stand for their bold and italic faces too, close enough to place an anchor.
fn standard_widths(base_font: &[u8]) -> Option<Vec<f32>> {
    // A subset prefix ("ABCDEF+") does not change the face.
    let name = base_font
        .iter()
        .position(|byte| *byte == b'+')
        .map_or(base_font, |plus| &base_font[plus + 1..]);
    let widths: &[u16] = if name.starts_with(b"Courier") {
        &[600; 95]
    } else if name.starts_with(b"Helvetica") || name.starts_with(b"Arial") {
        &standard_metrics::HELVETICA
    } else if name.starts_with(b"Times") {
        &standard_metrics::TIMES
    } else {
        return None;
    };
    Some(widths.iter().map(|width| f32::from(*width)).collect())
}

/// A CID font's `/W` array: `c [w1 w2 ...]` and `c_first c_last w` entries.
fn cid_widths(document: &Document, widths: &Object) -> BTreeMap<u32, f32> {
    let mut map = BTreeMap::new();
    let Ok(items) = widths.as_array() else {
        return map;
    };
    let items: Vec<&Object> = items
        .iter()
        .filter_map(|item| resolve(document, item))
        .collect();
    let mut at = 0;
    // Bounded: a hostile range cannot make the map huge.
    const MAX_WIDTHS: usize = 70_000;
    while at + 1 < items.len() && map.len() < MAX_WIDTHS {
        let Some(first) = items[at].as_i64().ok().and_then(|n| u32::try_from(n).ok()) else {
            break;
        };
        match items[at + 1] {
            Object::Array(list) => {
                for (offset, width) in list.iter().enumerate() {
                    if let Some(width) = resolve(document, width).and_then(number) {
                        map.insert(first.saturating_add(offset as u32), width);
                    }
                }
                at += 2;
            }
            last => {
                let (Some(last), Some(width)) = (
                    last.as_i64().ok().and_then(|n| u32::try_from(n).ok()),
                    items.get(at + 2).and_then(|width| number(width)),
                ) else {
                    break;
                };
                for code in first..=last.min(first.saturating_add(MAX_WIDTHS as u32)) {
                    map.insert(code, width);
                }
                at += 3;
            }
        }
    }
    map
}

/// WinAnsiEncoding (ISO 32000-1 D.2): Latin-1, with typographic marks at 0x80 to 0x9F.
fn win_ansi(code: u32) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{fffd}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{fffd}', 'Ž',
        '\u{fffd}', '\u{fffd}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ',
        '\u{fffd}', 'ž', 'Ÿ',
    ];
    match code {
        0x80..=0x9f => HIGH[(code - 0x80) as usize],
        _ => char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
    }
}

/// Graphics state the text depends on (saved and restored by `q`/`Q`).
#[derive(Debug, Clone)]
struct State {
    ctm: Matrix,
    char_spacing: f32,
    word_spacing: f32,
    horizontal_scale: f32,
    leading: f32,
    rise: f32,
    font: Option<ObjectId>,
    font_size: f32,
}

/// Reads the text of a document's pages, each font read once for all of them.
pub(super) struct TextReader<'a> {
    document: &'a Document,
    fonts: BTreeMap<ObjectId, Option<Font>>,
}

impl<'a> TextReader<'a> {
    pub(super) fn new(document: &'a Document) -> Self {
        Self {
            document,
            fonts: BTreeMap::new(),
        }
    }

    /// The characters of page `page` in the order its content shows them.
    pub(super) fn page_text(&mut self, page: ObjectId) -> Vec<Placed> {
        page_text(self.document, &mut self.fonts, page)
    }
}

fn page_text(
    document: &Document,
    fonts: &mut BTreeMap<ObjectId, Option<Font>>,
    page: ObjectId,
) -> Vec<Placed> {
    let Ok(content) = document.get_page_content(page) else {
        return Vec::new();
    };
    let resources = inherited(document, page, b"Resources").and_then(|r| r.as_dict().ok());
    let state = State {
        ctm: IDENTITY,
        char_spacing: 0.0,
        word_spacing: 0.0,
        horizontal_scale: 1.0,
        leading: 0.0,
        rise: 0.0,
        font: None,
        font_size: 0.0,
    };
    let mut run = Run {
        document,
        fonts,
        budget: MAX_OPERATIONS,
        placed: Vec::new(),
    };
    run.interpret(&content, resources, state, 0);
    run.placed
}

/// Form XObjects nested deeper than this are not read.
pub(super) const MAX_FORM_DEPTH: usize = 8;

/// One page being read: the fonts as loaded, and what is left of the operation budget.
struct Run<'a> {
    document: &'a Document,
    fonts: &'a mut BTreeMap<ObjectId, Option<Font>>,
    budget: usize,
    placed: Vec<Placed>,
}

impl Run<'_> {
    /// Interprets `content` with `resources`, from `state`: a page's content, or a form XObject's
    /// drawn by `Do` (its own resources, else the caller's; its `/Matrix` on the current CTM).
    fn interpret(
        &mut self,
        content: &[u8],
        resources: Option<&Dictionary>,
        mut state: State,
        depth: usize,
    ) {
        let document = self.document;
        let Ok(content) = Content::decode(content) else {
            return;
        };
        let fonts = resource_fonts(document, resources);
        let mut saved: Vec<State> = Vec::new();
        let mut text_matrix = IDENTITY;
        let mut line_matrix = IDENTITY;

        for operation in &content.operations {
            if self.budget == 0 {
                return;
            }
            self.budget -= 1;
            let operands = &operation.operands;
            let numbers: Vec<f32> = operands.iter().filter_map(number).collect();
            match operation.operator.as_str() {
                "q" if saved.len() < 1024 => saved.push(state.clone()),
                "Q" => {
                    if let Some(restored) = saved.pop() {
                        state = restored;
                    }
                }
                "Do" if depth < MAX_FORM_DEPTH => {
                    let form = operands
                        .first()
                        .and_then(|name| name.as_name().ok())
                        .and_then(|name| {
                            let forms = resources?.get(b"XObject").ok()?;
                            let object =
                                resolve(document, forms)?.as_dict().ok()?.get(name).ok()?;
                            resolve(document, object)?.as_stream().ok()
                        })
                        .filter(|form| {
                            form.dict
                                .get(b"Subtype")
                                .and_then(Object::as_name)
                                .is_ok_and(|subtype| subtype == b"Form")
                        });
                    if let Some(form) = form
                        && let Ok(form_content) = form.decompressed_content().or_else(|_| {
                            if form.dict.has(b"Filter") {
                                Err(())
                            } else {
                                Ok(form.content.clone())
                            }
                        })
                    {
                        let matrix = form
                            .dict
                            .get(b"Matrix")
                            .ok()
                            .and_then(|matrix| resolve(document, matrix)?.as_array().ok())
                            .and_then(|items| {
                                let values: Vec<f32> = items.iter().filter_map(number).collect();
                                <[f32; 6]>::try_from(values).ok()
                            })
                            .unwrap_or(IDENTITY);
                        let form_resources = form
                            .dict
                            .get(b"Resources")
                            .ok()
                            .and_then(|own| resolve(document, own)?.as_dict().ok())
                            .or(resources);
                        let mut inner = state.clone();
                        inner.ctm = multiply(&matrix, &state.ctm);
                        self.interpret(&form_content, form_resources, inner, depth + 1);
                    }
                }
                "cm" => {
                    if let Ok(matrix) = <[f32; 6]>::try_from(numbers) {
                        state.ctm = multiply(&matrix, &state.ctm);
                    }
                }
                "BT" => {
                    text_matrix = IDENTITY;
                    line_matrix = IDENTITY;
                }
                "Tc" => state.char_spacing = numbers.first().copied().unwrap_or(0.0),
                "Tw" => state.word_spacing = numbers.first().copied().unwrap_or(0.0),
                "Tz" => state.horizontal_scale = numbers.first().copied().unwrap_or(100.0) / 100.0,
                "TL" => state.leading = numbers.first().copied().unwrap_or(0.0),
                "Ts" => state.rise = numbers.first().copied().unwrap_or(0.0),
                "Tf" => {
                    if let (Some(name), Some(size)) = (
                        operands.first().and_then(|name| name.as_name().ok()),
                        operands.get(1).and_then(number),
                    ) {
                        state.font = fonts.get(name).copied();
                        state.font_size = size;
                    }
                }
                "Td" | "TD" => {
                    if let [x, y] = numbers[..] {
                        if operation.operator == "TD" {
                            state.leading = -y;
                        }
                        line_matrix = multiply(&translation(x, y), &line_matrix);
                        text_matrix = line_matrix;
                    }
                }
                "Tm" => {
                    if let Ok(matrix) = <[f32; 6]>::try_from(numbers) {
                        line_matrix = matrix;
                        text_matrix = matrix;
                    }
                }
                "T*" => {
                    line_matrix = multiply(&translation(0.0, -state.leading), &line_matrix);
                    text_matrix = line_matrix;
                }
                operator @ ("Tj" | "'" | "\"" | "TJ") => {
                    if operator == "\""
                        && let [word, character, ..] = numbers[..]
                    {
                        state.word_spacing = word;
                        state.char_spacing = character;
                    }
                    if operator == "'" || operator == "\"" {
                        line_matrix = multiply(&translation(0.0, -state.leading), &line_matrix);
                        text_matrix = line_matrix;
                    }
                    let Some(font) = state.font.and_then(|id| {
                        self.fonts
                            .entry(id)
                            .or_insert_with(|| {
                                document
                                    .objects
                                    .get(&id)
                                    .and_then(|font| font.as_dict().ok())
                                    .map(|font| Font::read(document, font))
                            })
                            .clone()
                    }) else {
                        continue;
                    };
                    let items: Vec<&Object> = match operator {
                        "TJ" => operands
                            .first()
                            .and_then(|array| array.as_array().ok())
                            .map(|array| array.iter().collect())
                            .unwrap_or_default(),
                        _ => operands.last().into_iter().collect(),
                    };
                    for item in items {
                        match item {
                            Object::String(bytes, _) => {
                                show(&font, bytes, &state, &mut text_matrix, &mut self.placed)
                            }
                            other => {
                                if let Some(adjustment) = number(other) {
                                    let shift = -adjustment / 1000.0
                                        * state.font_size
                                        * state.horizontal_scale;
                                    text_matrix = multiply(&translation(shift, 0.0), &text_matrix);
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Draws the string `bytes`: one placed character (or more, for a ligature) per code.
fn show(
    font: &Font,
    bytes: &[u8],
    state: &State,
    text_matrix: &mut Matrix,
    placed: &mut Vec<Placed>,
) {
    let size = state.font_size;
    let scale = state.horizontal_scale;
    for (code, length) in font.codes(bytes) {
        let advance = font.width(code) / 1000.0;
        let rendering = multiply(
            &multiply(
                &[size * scale, 0.0, 0.0, size, 0.0, state.rise],
                text_matrix,
            ),
            &state.ctm,
        );
        let corners = [
            apply(&rendering, 0.0, font.descent),
            apply(&rendering, advance, font.descent),
            apply(&rendering, advance, font.ascent),
            apply(&rendering, 0.0, font.ascent),
        ];
        let rect = corners.iter().fold(
            [f32::MAX, f32::MAX, f32::MIN, f32::MIN],
            |[x1, y1, x2, y2], (x, y)| [x1.min(*x), y1.min(*y), x2.max(*x), y2.max(*y)],
        );
        for character in font.text(code, length).chars() {
            placed.push(Placed { character, rect });
        }
        let word = if length == 1 && code == 32 {
            state.word_spacing
        } else {
            0.0
        };
        let shift = (advance * size + state.char_spacing + word) * scale;
        *text_matrix = multiply(&translation(shift, 0.0), text_matrix);
    }
}

/// The fonts of `resources` by resource name.
fn resource_fonts(
    document: &Document,
    resources: Option<&Dictionary>,
) -> BTreeMap<Vec<u8>, ObjectId> {
    let mut fonts = BTreeMap::new();
    let Some(resources) = resources else {
        return fonts;
    };
    let Some(font_dictionary) = resources
        .get(b"Font")
        .ok()
        .and_then(|fonts| resolve(document, fonts))
        .and_then(|fonts| fonts.as_dict().ok())
    else {
        return fonts;
    };
    for (name, font) in font_dictionary.iter().take(MAX_DEPTH * 64) {
        if let Ok(id) = font.as_reference() {
            fonts.insert(name.clone(), id);
        }
    }
    fonts
}
