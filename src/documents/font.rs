//! The embedded font: WenQuanYi Micro Hei (Apache-2.0, `assets/fonts/README.md`), which covers
//! Chinese and Latin text in one face. Documents embed only the glyphs they use.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use ttf_parser::{Face, GlyphId};

static FONT_DATA: &[u8] = include_bytes!("../../assets/fonts/wqy-microhei.ttc");
/// Micro Hei; face 1 of the collection is its monospaced variant.
const FACE_INDEX: u32 = 0;

#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error("the embedded font cannot be read: {0}")]
    Parse(String),
    #[error("the font subset cannot be built: {0}")]
    Subset(String),
}

/// The parsed font, parsed once per process.
pub fn face() -> Result<&'static Face<'static>, FontError> {
    static FACE: OnceLock<Result<Face<'static>, String>> = OnceLock::new();
    FACE.get_or_init(|| Face::parse(FONT_DATA, FACE_INDEX).map_err(|error| error.to_string()))
        .as_ref()
        .map_err(|error| FontError::Parse(error.clone()))
}

/// Glyphs used by one document, renumbered for its font subset.
#[derive(Debug)]
pub struct GlyphSet {
    face: &'static Face<'static>,
    remapper: subsetter::GlyphRemapper,
    /// New glyph id -> the character it shows (for the ToUnicode map, so text can be copied).
    characters: BTreeMap<u16, char>,
}

impl GlyphSet {
    pub fn new() -> Result<Self, FontError> {
        Ok(Self {
            face: face()?,
            remapper: subsetter::GlyphRemapper::new(),
            characters: BTreeMap::new(),
        })
    }

    pub fn units_per_em(&self) -> f32 {
        f32::from(self.face.units_per_em())
    }

    /// Width of `ch` in text space units per 1 pt of font size.
    pub fn advance(&self, ch: char) -> f32 {
        let glyph = self.face.glyph_index(ch).unwrap_or(GlyphId(0));
        f32::from(self.face.glyph_hor_advance(glyph).unwrap_or(0)) / self.units_per_em()
    }

    pub fn text_width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|ch| self.advance(ch)).sum::<f32>() * size
    }

    /// The two-byte codes (new glyph ids) that show `text`. A character the font lacks shows as the
    /// font's missing-glyph box.
    pub fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut codes = Vec::with_capacity(text.len() * 2);
        for ch in text.chars() {
            let glyph = self.face.glyph_index(ch).unwrap_or(GlyphId(0));
            let new = self.remapper.remap(glyph.0);
            if glyph.0 != 0 {
                self.characters.entry(new).or_insert(ch);
            }
            codes.extend_from_slice(&new.to_be_bytes());
        }
        codes
    }

    /// Widths of the subset's glyphs, in order of their new ids, in PDF glyph space (1/1000 em).
    pub fn widths(&self) -> Vec<f32> {
        self.remapper
            .remapped_gids()
            .map(|old| {
                f32::from(self.face.glyph_hor_advance(GlyphId(old)).unwrap_or(0)) * 1000.0
                    / self.units_per_em()
            })
            .collect()
    }

    pub fn characters(&self) -> &BTreeMap<u16, char> {
        &self.characters
    }

    /// The font program with only the used glyphs.
    pub fn subset(&self) -> Result<Vec<u8>, FontError> {
        subsetter::subset(FONT_DATA, FACE_INDEX, &self.remapper)
            .map_err(|error| FontError::Subset(format!("{error:?}")))
    }

    /// Ascent, descent and cap height in 1/1000 em, and the bounding box.
    pub fn metrics(&self) -> FontMetrics {
        let scale = 1000.0 / self.units_per_em();
        let bbox = self.face.global_bounding_box();
        FontMetrics {
            ascent: f32::from(self.face.ascender()) * scale,
            descent: f32::from(self.face.descender()) * scale,
            cap_height: f32::from(self.face.capital_height().unwrap_or(self.face.ascender()))
                * scale,
            bbox: [
                f32::from(bbox.x_min) * scale,
                f32::from(bbox.y_min) * scale,
                f32::from(bbox.x_max) * scale,
                f32::from(bbox.y_max) * scale,
            ],
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct FontMetrics {
    pub ascent: f32,
    pub descent: f32,
    pub cap_height: f32,
    pub bbox: [f32; 4],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_font_covers_chinese_and_latin_text() {
        let face = face().unwrap();
        for ch in "天财分账资金归集授权协议 Agreement 2023-10-27：（）".chars() {
            assert!(face.glyph_index(ch).is_some(), "no glyph for {ch:?}");
        }
    }

    #[test]
    fn a_subset_keeps_only_the_used_glyphs() {
        let mut glyphs = GlyphSet::new().unwrap();
        let codes = glyphs.encode("协议协议A");
        assert_eq!(codes.len(), 10);
        assert_eq!(codes[0..2], codes[4..6], "one glyph, one code");
        let subset = glyphs.subset().unwrap();
        assert!(subset.len() < 20_000, "{} bytes", subset.len());
        assert_eq!(glyphs.characters().len(), 3);
        assert_eq!(glyphs.widths().len(), 4, ".notdef + 3 glyphs");
    }
}
