//! Anchors (关键字定位): where a piece of text is on the pages, and a field placed over it.

use super::text::{Placed, TextReader};
use super::{PageBox, Parsed, UploadError, UploadLimits};

/// One place the anchor text is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnchorHit {
    /// 1-based.
    pub page: u32,
    /// `[x1, y1, x2, y2]` around the matched characters, in points in the page's default user
    /// space (origin bottom-left, before `/Rotate`).
    pub rect: [f32; 4],
}

/// Every place `text` occurs in the pages of `bytes` (an upload [`super::inspect`] accepts under
/// `limits`), first page first, in the order each page's content draws them.
///
/// Matching runs over each page's text in drawing order, so text split over several show
/// operators (or `BT` blocks) still matches. White space is ignored on both sides (many producers
/// draw no space characters, only gaps), and full-width ASCII forms match their ASCII
/// counterparts, so "甲方（盖章）" also finds "甲方(盖章)". Text inside form XObjects the page
/// draws is searched too; text in annotations is not.
pub fn find_anchor(
    bytes: &[u8],
    limits: &UploadLimits,
    text: &str,
) -> Result<Vec<AnchorHit>, UploadError> {
    let needle = needle(text)?;
    let parsed = Parsed::load(bytes, limits)?;
    Ok(hits(&page_texts(&parsed), &needle))
}

/// The anchor text as matched; refused when nothing is left of it.
pub(super) fn needle(text: &str) -> Result<Vec<char>, UploadError> {
    let needle: Vec<char> = normalised(text.chars()).collect();
    if needle.is_empty() {
        return Err(UploadError::EmptyAnchor);
    }
    Ok(needle)
}

/// Every page's drawn characters, white space left out, first page first.
pub(super) fn page_texts(parsed: &Parsed) -> Vec<Vec<Placed>> {
    let mut reader = TextReader::new(&parsed.document);
    parsed
        .pages
        .iter()
        .map(|page| {
            reader
                .page_text(page.id)
                .into_iter()
                .filter(|placed| !placed.character.is_whitespace())
                .collect()
        })
        .collect()
}

/// Where `needle` occurs in `pages` (see [`page_texts`]).
pub(super) fn hits(pages: &[Vec<Placed>], needle: &[char]) -> Vec<AnchorHit> {
    let mut hits = Vec::new();
    for (index, placed) in pages.iter().enumerate() {
        let haystack: Vec<char> =
            normalised(placed.iter().map(|placed| placed.character)).collect();
        let mut start = 0;
        while start + needle.len() <= haystack.len() {
            if haystack[start..start + needle.len()] == needle[..] {
                let rect = placed[start..start + needle.len()].iter().fold(
                    [f32::MAX, f32::MAX, f32::MIN, f32::MIN],
                    |[x1, y1, x2, y2], placed| {
                        [
                            x1.min(placed.rect[0]),
                            y1.min(placed.rect[1]),
                            x2.max(placed.rect[2]),
                            y2.max(placed.rect[3]),
                        ]
                    },
                );
                hits.push(AnchorHit {
                    page: u32::try_from(index + 1).unwrap_or(u32::MAX),
                    rect,
                });
                start += needle.len();
            } else {
                start += 1;
            }
        }
    }
    hits
}

/// Characters as matched: white space dropped, full-width ASCII forms (U+FF01 to U+FF5E) folded to
/// ASCII. One character in, at most one out, so positions line up with the unfolded text.
fn normalised(characters: impl Iterator<Item = char>) -> impl Iterator<Item = char> {
    characters
        .filter(|ch| !ch.is_whitespace())
        .map(|ch| match u32::from(ch) {
            code @ 0xff01..=0xff5e => char::from_u32(code - 0xff01 + 0x21).unwrap_or(ch),
            _ => ch,
        })
}

/// A `width` × `height` rectangle centred on `hit` (the way a seal is stamped over
/// "甲方（盖章）"), moved as little as needed to lie inside `page` (and no larger than it).
pub fn centred_on(hit: &AnchorHit, page: &PageBox, width: f32, height: f32) -> [f32; 4] {
    let [left, bottom, right, top] = page.rect;
    // max and min, not clamp: nothing here may panic, whatever the page box.
    let width = width.max(1.0).min(right - left);
    let height = height.max(1.0).min(top - bottom);
    let centre_x = (hit.rect[0] + hit.rect[2]) / 2.0;
    let centre_y = (hit.rect[1] + hit.rect[3]) / 2.0;
    let x1 = (centre_x - width / 2.0).max(left).min(right - width);
    let y1 = (centre_y - height / 2.0).max(bottom).min(top - height);
    [x1, y1, x1 + width, y1 + height]
}
