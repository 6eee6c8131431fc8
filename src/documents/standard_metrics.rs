//! Glyph advances of the standard 14 fonts every PDF reader has, for printable ASCII (codes 32 to
//! 126), in thousandths of the font size: to measure text esign writes in Helvetica without
//! embedding a font, and to place text other producers wrote without `/Widths`.

#[rustfmt::skip]
pub(crate) const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

#[rustfmt::skip]
pub(crate) const TIMES: [u16; 95] = [
    250, 333, 408, 500, 500, 833, 778, 180, 333, 333, 500, 564, 250, 333, 250, 278,
    500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 278, 278, 564, 564, 564, 444,
    921, 722, 667, 667, 722, 611, 556, 722, 722, 333, 389, 722, 611, 889, 722, 722,
    556, 722, 667, 556, 611, 722, 722, 944, 722, 722, 611, 333, 278, 333, 469, 500,
    333, 444, 500, 444, 500, 444, 333, 500, 500, 278, 278, 500, 278, 778, 500, 500,
    500, 500, 333, 389, 278, 500, 500, 722, 500, 500, 444, 480, 200, 480, 541,
];

/// The width of `text` set in Helvetica at `size` points; characters outside printable ASCII
/// count as the widest glyph.
pub(crate) fn helvetica_width(text: &str, size: f32) -> f32 {
    let units: u32 = text
        .chars()
        .map(|ch| {
            u32::from(ch)
                .checked_sub(32)
                .and_then(|index| HELVETICA.get(index as usize))
                .map_or(1015, |width| u32::from(*width))
        })
        .sum();
    units as f32 * size / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helvetica_text_is_measured_glyph_by_glyph() {
        assert!((helvetica_width("1", 10.0) - 5.56).abs() < 1e-4);
        assert!(
            (helvetica_width("Txn A", 6.0) - 6.0 * (611 + 500 + 556 + 278 + 667) as f32 / 1000.0)
                .abs()
                < 1e-4
        );
        assert!((helvetica_width("章", 10.0) - 10.15).abs() < 1e-4);
    }
}
