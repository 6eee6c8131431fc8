//! Company seal pictures: checking an uploaded one and drawing the standard round red seal.
//!
//! A seal's picture is pasted over the text of a contract page, so it must be a PNG with
//! transparency: an opaque picture would hide the words under a white square. [`check_seal_png`]
//! refuses anything else, each reason typed with a message for the caller.
//!
//! [`draw_round_seal`] draws what a Chinese company seal looks like: a red ring, a five-pointed
//! star in the centre, the organisation's name along the upper arc (each character turned to face
//! outwards, evenly spaced), and the seal's kind (合同专用章, ...) straight below the star. Glyph
//! outlines come from the embedded font and are filled with anti-aliasing by `tiny-skia`; the
//! drawing uses no clock and no randomness, so the same name and kind always give the same bytes
//! (and the same SHA-256, which the seal's events record).
//!
//! Pictures are stored encrypted in the document store under [`storage_key`].

use std::f32::consts::PI;

use aggregates::values::{Digest, OrganizationName, SealId};
use tiny_skia::{FillRule, LineJoin, Paint, PathBuilder, Pixmap, Stroke, Transform};
use ttf_parser::OutlineBuilder;

use super::font::{self, FontError};
use super::storage::sha256_hex;

/// The largest picture accepted, in bytes.
pub const MAX_SEAL_IMAGE_BYTES: usize = 1024 * 1024;
/// The shortest side accepted, in pixels: smaller pictures blur when printed at seal size (4 cm).
pub const MIN_SEAL_SIDE: u32 = 100;
/// The longest side accepted, in pixels.
pub const MAX_SEAL_SIDE: u32 = 2000;
/// The side of a drawn seal, in pixels (about 380 dpi at 4 cm).
pub const DRAWN_SEAL_SIDE: u32 = 600;
/// The red of seal ink (#E60012).
const SEAL_RED: (u8, u8, u8) = (0xE6, 0x00, 0x12);

const PNG_MAGIC: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// What a checked picture measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealPicture {
    /// SHA-256 of the file's bytes.
    pub hash: Digest,
    pub width: u32,
    pub height: u32,
    pub byte_length: u64,
}

/// Why a picture cannot be a seal's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealImageError {
    #[error("must be at most {max} bytes (found {found})", max = MAX_SEAL_IMAGE_BYTES)]
    TooManyBytes { found: usize },
    #[error("must be a PNG image (its first bytes are not PNG's signature)")]
    NotPng,
    #[error("is not a readable PNG image: {0}")]
    Unreadable(String),
    #[error(
        "must be {MIN_SEAL_SIDE} to {MAX_SEAL_SIDE} pixels on each side (found {width}x{height})"
    )]
    Size { width: u32, height: u32 },
    #[error(
        "must have a transparent background (an alpha channel or a tRNS chunk): an opaque picture hides the text under the seal"
    )]
    NoTransparency,
    #[error("must have a transparent background: every pixel of this picture is opaque")]
    Opaque,
}

/// Checks an uploaded seal picture: a PNG of at most [`MAX_SEAL_IMAGE_BYTES`], sides of
/// [`MIN_SEAL_SIDE`]..=[`MAX_SEAL_SIDE`] pixels, with an alpha channel (or tRNS) that leaves some
/// pixels see-through. The whole image is decoded, so a truncated file is refused too.
pub fn check_seal_png(bytes: &[u8]) -> Result<SealPicture, SealImageError> {
    if bytes.len() > MAX_SEAL_IMAGE_BYTES {
        return Err(SealImageError::TooManyBytes { found: bytes.len() });
    }
    if !bytes.starts_with(PNG_MAGIC) {
        return Err(SealImageError::NotPng);
    }
    let unreadable = |error: png::DecodingError| SealImageError::Unreadable(error.to_string());
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    // tRNS becomes an alpha channel and 16-bit samples 8-bit, so one pixel check covers them all.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(unreadable)?;
    let info = reader.info();
    let (width, height) = (info.width, info.height);
    let sides = MIN_SEAL_SIDE..=MAX_SEAL_SIDE;
    if !sides.contains(&width) || !sides.contains(&height) {
        return Err(SealImageError::Size { width, height });
    }
    let declares_alpha = matches!(
        info.color_type,
        png::ColorType::Rgba | png::ColorType::GrayscaleAlpha
    ) || info.trns.is_some();
    if !declares_alpha {
        return Err(SealImageError::NoTransparency);
    }
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| SealImageError::Unreadable("the image is too large to decode".into()))?;
    let mut pixels = vec![0; size];
    let frame = reader.next_frame(&mut pixels).map_err(unreadable)?;
    reader.finish().map_err(unreadable)?;
    let channels = frame.color_type.samples();
    let see_through = pixels[..frame.buffer_size()]
        .chunks_exact(channels.max(1))
        .any(|pixel| pixel.last().is_some_and(|alpha| *alpha < u8::MAX));
    if !see_through {
        return Err(SealImageError::Opaque);
    }
    // A SHA-256 in hex is always a digest; the error cannot happen but is kept typed.
    let hash = Digest::parse(&sha256_hex(bytes))
        .map_err(|error| SealImageError::Unreadable(error.to_string()))?;
    Ok(SealPicture {
        hash,
        width,
        height,
        byte_length: bytes.len() as u64,
    })
}

/// Where the picture of a seal's version is kept in the document store.
pub fn storage_key(seal_id: &SealId, hash: &Digest) -> String {
    format!("seals/{}/{}.png", seal_id.as_str(), hash.as_hex())
}

/// Why a seal could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum DrawError {
    #[error(transparent)]
    Font(#[from] FontError),
    #[error("the embedded font has no glyph for {0:?}, so it cannot be drawn on a seal")]
    MissingGlyph(char),
    #[error("the seal's label must not be empty")]
    EmptyLabel,
    #[error("the seal picture cannot be drawn: {0}")]
    Canvas(&'static str),
    #[error("the seal picture cannot be encoded: {0}")]
    Encode(String),
}

/// Draws the standard round red seal of `name` with `kind_label` below the star: a
/// [`DRAWN_SEAL_SIDE`]-pixel square PNG, transparent outside the ink. Deterministic: the same
/// arguments give the same bytes.
pub fn draw_round_seal(name: &OrganizationName, kind_label: &str) -> Result<Vec<u8>, DrawError> {
    let face = font::face()?;
    let side = DRAWN_SEAL_SIDE as f32;
    let centre = side / 2.0;
    let mut ink = PathBuilder::new();

    // The ring: the band between two circles, filled even-odd.
    let outer = side * 0.485;
    let ring = side * 0.034;
    ink.push_circle(centre, centre, outer);
    ink.push_circle(centre, centre, outer - ring);
    let ring_path = ink
        .finish()
        .ok_or(DrawError::Canvas("the ring has no area"))?;

    let mut shapes = PathBuilder::new();
    push_star(&mut shapes, centre, centre, side * 0.13);
    let glyphs = Glyphs::new(face)?;
    glyphs.arc(&mut shapes, name.as_str(), centre, outer - ring)?;
    glyphs.straight(&mut shapes, kind_label, centre, side * 0.70, side * 0.085)?;
    let shape_path = shapes
        .finish()
        .ok_or(DrawError::Canvas("nothing to draw"))?;

    let mut pixmap =
        Pixmap::new(DRAWN_SEAL_SIDE, DRAWN_SEAL_SIDE).ok_or(DrawError::Canvas("no canvas"))?;
    let mut paint = Paint::default();
    paint.set_color_rgba8(SEAL_RED.0, SEAL_RED.1, SEAL_RED.2, u8::MAX);
    paint.anti_alias = true;
    pixmap.fill_path(
        &ring_path,
        &paint,
        FillRule::EvenOdd,
        Transform::identity(),
        None,
    );
    // Glyph outlines wind both ways (counters of 口 and 回); non-zero keeps them as the font means.
    pixmap.fill_path(
        &shape_path,
        &paint,
        FillRule::Winding,
        Transform::identity(),
        None,
    );
    // Seal engravings are bolder than the font's regular weight: the outlines are traced once more.
    let bolder = Stroke {
        width: side * 0.004,
        line_join: LineJoin::Round,
        ..Stroke::default()
    };
    pixmap.stroke_path(&shape_path, &paint, &bolder, Transform::identity(), None);
    encode_png(&pixmap)
}

/// A five-pointed star centred on (`cx`, `cy`), one point up, its points `radius` from the centre.
fn push_star(path: &mut PathBuilder, cx: f32, cy: f32, radius: f32) {
    // The inner corners of a regular star sit at radius × sin 18° / sin 54°.
    let inner = radius * (PI / 10.0).sin() / (3.0 * PI / 10.0).sin();
    for corner in 0..10u8 {
        let angle = f32::from(corner) * PI / 5.0;
        let r = if corner % 2 == 0 { radius } else { inner };
        let (x, y) = (cx + r * angle.sin(), cy - r * angle.cos());
        if corner == 0 {
            path.move_to(x, y);
        } else {
            path.line_to(x, y);
        }
    }
    path.close();
}

/// The font's glyphs placed on the seal.
struct Glyphs<'a> {
    face: &'a ttf_parser::Face<'a>,
    units_per_em: f32,
    /// The height between baseline and the middle of the em box, in font units: characters are
    /// centred on it so they sit evenly on the arc.
    middle: f32,
}

impl<'a> Glyphs<'a> {
    fn new(face: &'a ttf_parser::Face<'a>) -> Result<Self, DrawError> {
        let units_per_em = f32::from(face.units_per_em());
        let middle = (f32::from(face.ascender()) + f32::from(face.descender())) / 2.0;
        Ok(Self {
            face,
            units_per_em,
            middle,
        })
    }

    /// Adds one character's outline, its centre placed at (`x`, `y`) and turned `angle` radians
    /// clockwise, `size` pixels high and `width_scale` times as wide as the font draws it.
    fn glyph(
        &self,
        path: &mut PathBuilder,
        ch: char,
        at: (f32, f32),
        angle: f32,
        size: f32,
        width_scale: f32,
    ) -> Result<(), DrawError> {
        let glyph = self
            .face
            .glyph_index(ch)
            .ok_or(DrawError::MissingGlyph(ch))?;
        let advance = f32::from(self.face.glyph_hor_advance(glyph).unwrap_or(0));
        let scale = size / self.units_per_em;
        let (sin, cos) = angle.sin_cos();
        let (sx, sy) = (scale * width_scale, scale);
        // Font units (y up, origin on the baseline) to the page (y down): centre the glyph's
        // advance box, squeeze it, flip it, turn it, move it.
        let (ux, vy) = (-advance / 2.0, -self.middle);
        let matrix = Matrix {
            a: sx * cos,
            b: sx * sin,
            c: sy * sin,
            d: -sy * cos,
            e: at.0 + sx * ux * cos + sy * vy * sin,
            f: at.1 + sx * ux * sin - sy * vy * cos,
        };
        let mut pen = Pen { path, matrix };
        // A space or a glyph without contours draws nothing; that is not an error.
        self.face.outline_glyph(glyph, &mut pen);
        Ok(())
    }

    /// The organisation's name along the upper arc, inside a ring of inner radius `radius`.
    fn arc(
        &self,
        path: &mut PathBuilder,
        text: &str,
        centre: f32,
        radius: f32,
    ) -> Result<(), DrawError> {
        let characters: Vec<char> = text.chars().filter(|ch| !ch.is_whitespace()).collect();
        let count = characters.len();
        if count == 0 {
            return Ok(());
        }
        // About 240 degrees for a full name; a short one is spaced as closely as a long one
        // would be, centred on the top.
        let step_degrees = (240.0 / (count.max(2) - 1) as f32).min(30.0);
        let span = (step_degrees * (count - 1) as f32).to_radians();
        let step = step_degrees.to_radians();
        let height = radius * 0.25;
        // A little room between the ring and the tops of the characters.
        let gap = radius * 0.045;
        let text_radius = radius - gap - height * 0.5;
        // The chord a character gets; wide characters are squeezed to fit it, as seal makers do.
        let room = text_radius * step * 0.92;
        let (size, width_scale) = if room >= height {
            (height, 1.0)
        } else if room >= height * 0.45 {
            (height, room / height)
        } else {
            // Very long names: smaller characters, squeezed no further.
            (room / 0.45, 0.45)
        };
        let text_radius = radius - gap - size * 0.5;
        for (index, ch) in characters.into_iter().enumerate() {
            let angle = -span / 2.0 + step * index as f32;
            let at = (
                centre + text_radius * angle.sin(),
                centre - text_radius * angle.cos(),
            );
            self.glyph(path, ch, at, angle, size, width_scale)?;
        }
        Ok(())
    }

    /// A straight line of text centred on (`centre`, `y`), characters `size` pixels high.
    fn straight(
        &self,
        path: &mut PathBuilder,
        text: &str,
        centre: f32,
        y: f32,
        size: f32,
    ) -> Result<(), DrawError> {
        let characters: Vec<char> = text.trim().chars().collect();
        if characters.is_empty() {
            return Err(DrawError::EmptyLabel);
        }
        // The label fits inside the ring at its height, whatever its length.
        let available = centre * 1.1;
        let pitch = (size * 1.05).min(available / characters.len() as f32);
        let width_scale = (pitch / (size * 1.05)).clamp(0.45, 1.0);
        let start = centre - pitch * (characters.len() as f32 - 1.0) / 2.0;
        for (index, ch) in characters.into_iter().enumerate() {
            let at = (start + pitch * index as f32, y);
            self.glyph(path, ch, at, 0.0, size, width_scale)?;
        }
        Ok(())
    }
}

/// An affine map: `x' = a x + c y + e`, `y' = b x + d y + f`.
#[derive(Debug, Clone, Copy)]
struct Matrix {
    a: f32,
    b: f32,
    c: f32,
    d: f32,
    e: f32,
    f: f32,
}

impl Matrix {
    fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        (
            self.a * x + self.c * y + self.e,
            self.b * x + self.d * y + self.f,
        )
    }
}

/// Receives a glyph's outline in font units and adds it to the page's path, mapped.
struct Pen<'p> {
    path: &'p mut PathBuilder,
    matrix: Matrix,
}

impl OutlineBuilder for Pen<'_> {
    fn move_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.matrix.apply(x, y);
        self.path.move_to(x, y);
    }

    fn line_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.matrix.apply(x, y);
        self.path.line_to(x, y);
    }

    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (x1, y1) = self.matrix.apply(x1, y1);
        let (x, y) = self.matrix.apply(x, y);
        self.path.quad_to(x1, y1, x, y);
    }

    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (x1, y1) = self.matrix.apply(x1, y1);
        let (x2, y2) = self.matrix.apply(x2, y2);
        let (x, y) = self.matrix.apply(x, y);
        self.path.cubic_to(x1, y1, x2, y2, x, y);
    }

    fn close(&mut self) {
        self.path.close();
    }
}

/// The canvas as an RGBA PNG with straight (not premultiplied) alpha, and no chunk that would
/// make the bytes depend on when they were written.
fn encode_png(pixmap: &Pixmap) -> Result<Vec<u8>, DrawError> {
    let mut rgba = Vec::with_capacity(pixmap.pixels().len() * 4);
    for pixel in pixmap.pixels() {
        let color = pixel.demultiply();
        rgba.extend_from_slice(&[color.red(), color.green(), color.blue(), color.alpha()]);
    }
    let encoding = |error: png::EncodingError| DrawError::Encode(error.to_string());
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, pixmap.width(), pixmap.height());
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::High);
        let mut writer = encoder.write_header().map_err(encoding)?;
        writer.write_image_data(&rgba).map_err(encoding)?;
        writer.finish().map_err(encoding)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
