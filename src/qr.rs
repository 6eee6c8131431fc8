//! QR codes as PNG data URLs (`qrCode` in the initiate response): a signer scans the code on a screen
//! to open their sign link on a phone.

use base64::Engine;
use qrcode::{Color, EcLevel, QrCode};

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
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|error| QrError::TooLong(error.to_string()))?;
    let modules = code.width();
    let colors = code.to_colors();
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn text_beyond_a_qr_codes_capacity_is_an_error() {
        assert!(matches!(png(&"x".repeat(5000)), Err(QrError::TooLong(_))));
    }
}
