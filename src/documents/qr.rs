//! QR codes as PNG data URLs (`qrCode` in the initiate response): a signer scans the code on a screen
//! to open their sign link on a phone.

use base64::Engine;
use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::{Color, EcLevel, Version};

/// Pixels per QR module: about 300 px for a sign URL, crisp on a phone screen and in print.
const MODULE_PIXELS: usize = 6;
/// The blank margin the QR specification asks for, in modules.
const QUIET_ZONE: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the text does not fit in a QR code: {0}")]
    TooLong(String),
    #[error("cannot encode the QR code as PNG: {0}")]
    Png(String),
}

/// `data:image/png;base64,...` of `text` as a QR code (error correction M: readable with 15% of it
/// damaged).
pub fn png_data_url(text: &str) -> Result<String, QrError> {
    let png = png(text)?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}

/// The PNG bytes of `text` as a QR code, black on white, 1-bit greyscale: a bilevel image needs no
/// more, and packing eight pixels a byte leaves deflate an eighth of the work (QR codes are drawn on
/// every initiate, so this is on the hot path).
pub fn png(text: &str) -> Result<Vec<u8>, QrError> {
    let (modules, colors) = encode(text)?;
    let side = (modules + 2 * QUIET_ZONE) * MODULE_PIXELS;
    let row_bytes = side.div_ceil(8);
    // 1 is white in 1-bit greyscale; dark modules clear their bits. Each row of modules is drawn as
    // one line of pixels, then copied to the module's height.
    let mut pixels = vec![0xffu8; row_bytes * side];
    for (row, line) in colors.chunks_exact(modules.max(1)).enumerate() {
        let top = (row + QUIET_ZONE) * MODULE_PIXELS;
        let (first, rest) = pixels[top * row_bytes..].split_at_mut(row_bytes);
        for (column, color) in line.iter().enumerate() {
            if *color != Color::Dark {
                continue;
            }
            let left = (column + QUIET_ZONE) * MODULE_PIXELS;
            for x in left..left + MODULE_PIXELS {
                first[x / 8] &= !(0x80u8 >> (x % 8));
            }
        }
        for copy in rest.chunks_exact_mut(row_bytes).take(MODULE_PIXELS - 1) {
            copy.copy_from_slice(first);
        }
    }
    let side = u32::try_from(side).map_err(|error| QrError::Png(error.to_string()))?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder
        .write_header()
        .map_err(|error| QrError::Png(error.to_string()))?;
    writer
        .write_image_data(&pixels)
        .map_err(|error| QrError::Png(error.to_string()))?;
    writer
        .finish()
        .map_err(|error| QrError::Png(error.to_string()))?;
    Ok(out)
}

/// The eight mask patterns in the order the `qrcode` crate tries them (ties go to the first).
const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// `text` as a QR code at level M: the side in modules and the modules row by row.
///
/// This is `qrcode::QrCode::with_error_correction_level`, with the mask chosen by [`penalty`] instead
/// of the crate's scorer, which allocates a closure per module position and was most of an
/// initiation's CPU time. The score is the crate's, so the same mask wins and the code is the same
/// module for module (a test pins it): documents sealed before and after render to the same bytes.
fn encode(text: &str) -> Result<(usize, Vec<Color>), QrError> {
    let too_long = |error: qrcode::types::QrError| QrError::TooLong(error.to_string());
    let bits = qrcode::bits::encode_auto(text.as_bytes(), EcLevel::M).map_err(too_long)?;
    let version = bits.version();
    let (data, ec) = qrcode::ec::construct_codewords(&bits.into_bytes(), version, EcLevel::M)
        .map_err(too_long)?;
    let mut unmasked = Canvas::new(version, EcLevel::M);
    unmasked.draw_all_functional_patterns();
    unmasked.draw_data(&data, &ec);
    let side =
        usize::try_from(version.width()).map_err(|error| QrError::TooLong(error.to_string()))?;
    let colors = match version {
        // `encode_auto` never picks a Micro QR version; were it to, the crate's own choice stands.
        Version::Micro(_) => unmasked.apply_best_mask().into_colors(),
        Version::Normal(_) => {
            let mut best: Option<(u16, Vec<Color>)> = None;
            for mask in MASKS {
                let mut canvas = unmasked.clone();
                canvas.apply_mask(mask);
                let colors = canvas.into_colors();
                let score = penalty(&colors, side);
                if best.as_ref().is_none_or(|(lowest, _)| score < *lowest) {
                    best = Some((score, colors));
                }
            }
            best.map(|(_, colors)| colors)
                .ok_or_else(|| QrError::TooLong("no mask pattern applies".to_owned()))?
        }
    };
    Ok((side, colors))
}

/// The `qrcode` crate's total penalty of a masked code (its rules N1 to N4 as it implements them, in
/// the same wrapping 16-bit arithmetic as its release build), over the modules row by row and column
/// by column so both directions scan contiguous slices. The crate compares modules, not colours, but
/// after masking every module is `Masked(colour)`, so the colours decide alike.
fn penalty(colors: &[Color], side: usize) -> u16 {
    if (1..=64).contains(&side) && colors.len() == side * side {
        line_bits_penalty(colors, side)
    } else {
        module_penalty(colors, side)
    }
}

/// [`penalty`] for codes up to 64 modules wide (versions 1 to 11, where sign links fall), with each
/// row and column held as the bits of one word: runs come from the positions where neighbours differ,
/// finder-like patterns and 2x2 blocks from shifted words, dark modules from a population count. The
/// score is [`module_penalty`]'s, summed in another order (wrapping 16-bit sums do not depend on it).
fn line_bits_penalty(colors: &[Color], side: usize) -> u16 {
    let mut rows = [0u64; 64];
    let mut columns = [0u64; 64];
    for (row, line) in colors.chunks_exact(side).enumerate() {
        let mut bits = 0u64;
        for (column, color) in line.iter().enumerate() {
            let dark = u64::from(*color == Color::Dark);
            bits |= dark << column;
            columns[column] |= dark << row;
        }
        rows[row] = bits;
    }
    let (rows, columns) = (&rows[..side], &columns[..side]);
    // Bits 0..n set.
    let low = |n: usize| if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    let mut total: i64 = 0;
    for &line in rows.iter().chain(columns) {
        // Runs of equal modules end where a module differs from the next one (and at the line's end).
        let mut changes = (line ^ (line >> 1)) & low(side - 1);
        let mut run_start: i64 = 0;
        loop {
            let end = if changes == 0 {
                side as i64 - 1
            } else {
                i64::from(changes.trailing_zeros())
            };
            let run = end - run_start + 1;
            if run >= 5 {
                total += run - 2;
            }
            if changes == 0 {
                break;
            }
            changes &= changes - 1;
            run_start = end + 1;
        }
        // dark light dark dark dark light dark, starting at each set bit.
        let mut finders = line
            & !(line >> 1)
            & (line >> 2)
            & (line >> 3)
            & (line >> 4)
            & !(line >> 5)
            & (line >> 6)
            & low(side.saturating_sub(6));
        while finders != 0 {
            let start = finders.trailing_zeros() as usize;
            let before = line & low(start) & !low(start.saturating_sub(4));
            let after = (line >> (start + 7).min(63)) & 0xf & low(side.saturating_sub(start + 7));
            if before == 0 || after == 0 {
                total += 40;
            }
            finders &= finders - 1;
        }
    }
    total -= 720;
    for pair in rows.windows(2) {
        let (upper, lower) = (pair[0], pair[1]);
        let same = !(upper ^ lower) & !(upper ^ (upper >> 1)) & !(lower ^ (lower >> 1));
        total += 3 * i64::from((same & low(side - 1)).count_ones());
    }
    let dark: usize = rows.iter().map(|row| row.count_ones() as usize).sum();
    let ratio = dark * 200 / (side * side);
    total += i64::try_from(ratio.abs_diff(100)).unwrap_or(i64::MAX);
    // The 16-bit wrapping total, as the crate keeps it.
    total as u16
}

/// [`penalty`] module by module, for any size.
fn module_penalty(colors: &[Color], side: usize) -> u16 {
    let rows: Vec<bool> = colors.iter().map(|color| *color == Color::Dark).collect();
    let mut columns = vec![false; rows.len()];
    for (index, dark) in rows.iter().enumerate() {
        columns[(index % side) * side + index / side] = *dark;
    }
    let mut total: u16 = 0;
    for lines in [&rows, &columns] {
        for line in lines.chunks_exact(side) {
            total = total
                .wrapping_add(adjacent_penalty(line))
                .wrapping_add(finder_penalty(line));
        }
    }
    // The constant the crate subtracts once per direction.
    total = total.wrapping_sub(720);
    let mut blocks: u16 = 0;
    for y in 0..side.saturating_sub(1) {
        let (upper, lower) = (
            &rows[y * side..(y + 1) * side],
            &rows[(y + 1) * side..(y + 2) * side],
        );
        for x in 0..side - 1 {
            let this = upper[x];
            if this == upper[x + 1] && this == lower[x] && this == lower[x + 1] {
                blocks = blocks.wrapping_add(3);
            }
        }
    }
    total = total.wrapping_add(blocks);
    let dark = rows.iter().filter(|dark| **dark).count();
    let ratio = dark * 200 / rows.len().max(1);
    total.wrapping_add(u16::try_from(ratio.abs_diff(100)).unwrap_or(u16::MAX))
}

/// Runs of five or more equal modules in a line: length - 2 points a run.
fn adjacent_penalty(line: &[bool]) -> u16 {
    let mut score: u16 = 0;
    let Some((&first, rest)) = line.split_first() else {
        return 0;
    };
    let (mut last, mut run) = (first, 1u16);
    for &dark in rest {
        if dark == last {
            run = run.wrapping_add(1);
        } else {
            if run >= 5 {
                score = score.wrapping_add(run - 2);
            }
            (last, run) = (dark, 1);
        }
    }
    if run >= 5 {
        score = score.wrapping_add(run - 2);
    }
    score
}

/// `dark light dark dark dark light dark` in a line with no dark module in the four before or in the
/// four after: 40 points each.
fn finder_penalty(line: &[bool]) -> u16 {
    const PATTERN: [bool; 7] = [true, false, true, true, true, false, true];
    let mut score: u16 = 0;
    for (start, window) in line.windows(7).enumerate() {
        if window != PATTERN {
            continue;
        }
        let any_dark = |part: &[bool]| part.contains(&true);
        let before = any_dark(&line[start.saturating_sub(4)..start]);
        let after = any_dark(&line[(start + 7).min(line.len())..(start + 11).min(line.len())]);
        if !before || !after {
            score = score.wrapping_add(40);
        }
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;
    use qrcode::QrCode;

    /// Decodes a PNG produced here with an independent QR reader.
    pub(crate) fn read_back(png_bytes: &[u8]) -> String {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        // Bilevel pixels become 0 and 255, as an image viewer shows them.
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buffer).unwrap();
        let (width, height) = (info.width as usize, info.height as usize);
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
            buffer[y * width + x]
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        grids[0].decode().unwrap().1
    }

    #[test]
    fn a_sign_url_round_trips_through_an_independent_reader() {
        let url = "https://esign.example.com/h5/sign?token=Qm9vdHN0cmFwcGVkLXRva2VuLWV4YW1wbGUtMDEyMzQ1Njc4OQ";
        assert_eq!(read_back(&png(url).unwrap()), url);
        let data_url = png_data_url(url).unwrap();
        assert!(data_url.starts_with("data:image/png;base64,iVBORw0KGgo"));
        assert!(
            data_url.len() < 4000,
            "small enough for a JSON response: {}",
            data_url.len()
        );
    }

    /// Documents embed a QR code's decoded 8-bit samples, and verification renders a document again
    /// to compare bytes: the 1-bit PNG must decode to exactly the 0/255 bitmap an 8-bit one held.
    #[test]
    fn the_bilevel_png_decodes_to_the_8_bit_bitmap_documents_embed() {
        let url = "https://esign.example.com/verify/CONTRACT_202310273F2A9C01B7D4E865";
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png(url).unwrap()));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().unwrap();
        let mut decoded = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut decoded).unwrap();
        decoded.truncate(info.buffer_size());

        let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).unwrap();
        let modules = code.width();
        let side = (modules + 2 * QUIET_ZONE) * MODULE_PIXELS;
        let colors = code.to_colors();
        let expected: Vec<u8> = (0..side * side)
            .map(|index| {
                let (x, y) = (index % side, index / side);
                let (column, row) = (x / MODULE_PIXELS, y / MODULE_PIXELS);
                let inside = (QUIET_ZONE..QUIET_ZONE + modules).contains(&column)
                    && (QUIET_ZONE..QUIET_ZONE + modules).contains(&row);
                let dark = inside
                    && colors[(row - QUIET_ZONE) * modules + column - QUIET_ZONE] == Color::Dark;
                if dark { 0 } else { 255 }
            })
            .collect();
        assert_eq!((info.width as usize, info.height as usize), (side, side));
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert!(
            decoded == expected,
            "the decoded samples differ from the bitmap"
        );
    }

    /// The faster mask choice picks what the `qrcode` crate picks: the same modules for sign links,
    /// verify links and texts of every length up to a few hundred bytes (hashed tokens, so every
    /// mask pattern gets its turn).
    #[test]
    fn the_modules_are_the_qrcode_crates_own() {
        use sha2::Digest as _;
        let mut texts: Vec<String> = (0..400)
            .map(|n| {
                let token = hex::encode(sha2::Sha256::digest(format!("token {n}")));
                let length = n % token.len();
                format!(
                    "https://esign.example.com/h5/sign?token={}",
                    &token[..length]
                )
            })
            .collect();
        texts.extend((0..40).map(|n| format!("https://esign.example.com/verify/CONTRACT_{n:032}")));
        texts.extend(["", "1", "01234567890123456789", "ESIGN", "签署"].map(str::to_owned));
        texts.push("z".repeat(600));
        for text in &texts {
            let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).unwrap();
            let (side, colors) = encode(text).unwrap();
            assert_eq!(side, code.width(), "{text:?}");
            assert!(colors == code.to_colors(), "a different code for {text:?}");
        }
    }

    proptest::proptest! {
        /// The word-wise score is the module-wise one for any pattern of modules, not only for QR
        /// codes (which rarely hold long runs or finder look-alikes away from the corners).
        #[test]
        fn the_word_wise_penalty_is_the_module_wise_one(
            side in 1usize..=64,
            seed in proptest::prelude::any::<u64>(),
            density in 0u32..=100,
        ) {
            use rand::{Rng as _, SeedableRng as _};
            let mut random = rand::rngs::StdRng::seed_from_u64(seed);
            let colors: Vec<Color> = (0..side * side)
                .map(|_| if random.random_ratio(density, 100) { Color::Dark } else { Color::Light })
                .collect();
            proptest::prop_assert_eq!(
                line_bits_penalty(&colors, side),
                module_penalty(&colors, side)
            );
        }
    }

    #[test]
    fn text_beyond_a_qr_codes_capacity_is_an_error() {
        assert!(matches!(png(&"x".repeat(5000)), Err(QrError::TooLong(_))));
    }
}
