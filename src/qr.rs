//! QR codes as PNG data URLs (`qrCode` in the initiate response): a signer scans the code on a screen
//! to open their sign link on a phone.

use base64::Engine;
use qrcode::canvas::{Canvas, MaskPattern, Module};
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
    // 1 is white in 1-bit greyscale; dark modules clear their bits.
    let mut pixels = vec![0xffu8; row_bytes * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (column, row) = (index % modules, index / modules);
        let (left, top) = (
            (column + QUIET_ZONE) * MODULE_PIXELS,
            (row + QUIET_ZONE) * MODULE_PIXELS,
        );
        for y in top..top + MODULE_PIXELS {
            for x in left..left + MODULE_PIXELS {
                pixels[y * row_bytes + x / 8] &= !(0x80u8 >> (x % 8));
            }
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
    let width = version.width();
    let best = match version {
        // `encode_auto` never picks a Micro QR version; were it to, the crate's own choice stands.
        Version::Micro(_) => unmasked.apply_best_mask(),
        Version::Normal(_) => {
            let mut best: Option<(u16, Canvas)> = None;
            for mask in MASKS {
                let mut canvas = unmasked.clone();
                canvas.apply_mask(mask);
                let score = penalty(&canvas, width);
                if best.as_ref().is_none_or(|(lowest, _)| score < *lowest) {
                    best = Some((score, canvas));
                }
            }
            best.map(|(_, canvas)| canvas)
                .ok_or_else(|| QrError::TooLong("no mask pattern applies".to_owned()))?
        }
    };
    let side = usize::try_from(width).map_err(|error| QrError::TooLong(error.to_string()))?;
    Ok((side, best.into_colors()))
}

/// A module as the crate's scorer compares them: the variant counts, not only the colour.
fn module_code(module: Module) -> u8 {
    match module {
        Module::Empty => 0,
        Module::Masked(Color::Light) => 1,
        Module::Masked(Color::Dark) => 2,
        Module::Unmasked(Color::Light) => 3,
        Module::Unmasked(Color::Dark) => 4,
    }
}

fn is_dark(code: u8) -> bool {
    code == 2 || code == 4
}

/// The `qrcode` crate's total penalty of a masked canvas (its rules N1 to N4 as it implements them,
/// in the same wrapping 16-bit arithmetic as its release build), over a flat copy of the modules.
fn penalty(canvas: &Canvas, width: i16) -> u16 {
    let side = usize::try_from(width).unwrap_or(0);
    let mut grid = vec![0u8; side * side];
    for y in 0..width {
        for x in 0..width {
            let index = usize::try_from(y).unwrap_or(0) * side + usize::try_from(x).unwrap_or(0);
            grid[index] = module_code(canvas.get(x, y));
        }
    }
    let at = |x: usize, y: usize| grid[y * side + x];
    let horizontal = |line: usize, k: usize| at(k, line);
    let vertical = |line: usize, k: usize| at(line, k);

    let mut total: u16 = 0;
    for get in [&horizontal as &dyn Fn(usize, usize) -> u8, &vertical] {
        total = total.wrapping_add(adjacent_penalty(side, get));
    }
    let mut blocks: u16 = 0;
    for x in 0..side.saturating_sub(1) {
        for y in 0..side.saturating_sub(1) {
            let this = at(x, y);
            if this == at(x + 1, y) && this == at(x, y + 1) && this == at(x + 1, y + 1) {
                blocks = blocks.wrapping_add(3);
            }
        }
    }
    total = total.wrapping_add(blocks);
    for get in [&horizontal as &dyn Fn(usize, usize) -> u8, &vertical] {
        total = total.wrapping_add(finder_penalty(side, get));
    }
    let dark = grid.iter().filter(|code| is_dark(**code)).count();
    let ratio = dark * 200 / grid.len().max(1);
    let balance = ratio.abs_diff(100);
    total.wrapping_add(u16::try_from(balance).unwrap_or(u16::MAX))
}

/// Runs of five or more equal modules along each line: length - 2 points a run.
fn adjacent_penalty(side: usize, get: &dyn Fn(usize, usize) -> u8) -> u16 {
    let mut score: u16 = 0;
    for line in 0..side {
        // The crate starts from an empty module and ends each line with one.
        let mut last = module_code(Module::Empty);
        let mut run: u16 = 1;
        for k in 0..=side {
            let code = if k < side {
                get(line, k)
            } else {
                module_code(Module::Empty)
            };
            if code == last {
                run = run.wrapping_add(1);
            } else {
                last = code;
                if run >= 5 {
                    score = score.wrapping_add(run - 2);
                }
                run = 1;
            }
        }
    }
    score
}

/// `dark light dark dark dark light dark` with no dark module in the four before or the four after
/// (on either side): 40 points each, less the crate's constant 360.
fn finder_penalty(side: usize, get: &dyn Fn(usize, usize) -> u8) -> u16 {
    const PATTERN: [bool; 7] = [true, false, true, true, true, false, true];
    let mut score: u16 = 0;
    for line in 0..side {
        for start in 0..side.saturating_sub(6) {
            if (0..7).any(|offset| is_dark(get(line, start + offset)) != PATTERN[offset]) {
                continue;
            }
            let dark_at = |k: usize| k < side && is_dark(get(line, k));
            let before = (start.saturating_sub(4)..start).any(dark_at);
            let after = (start + 7..start + 11).any(dark_at);
            if !before || !after {
                score = score.wrapping_add(40);
            }
        }
    }
    score.wrapping_sub(360)
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

    #[test]
    fn text_beyond_a_qr_codes_capacity_is_an_error() {
        assert!(matches!(png(&"x".repeat(5000)), Err(QrError::TooLong(_))));
    }
}
