//! Checks the signature image a pad posted: a real PNG of sane size that has something drawn on it.

use aggregates::values::{MAX_SIGNATURE_IMAGE_BYTES, SignatureImage};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::PageError;

const FIELD: &str = "signature";
/// Pixels that must differ from the background for the pad to count as signed.
const MIN_INK_PIXELS: usize = 20;

fn invalid(reason: impl Into<String>) -> PageError {
    PageError::Invalid {
        field: FIELD,
        reason: reason.into(),
    }
}

/// The image from the form field: a `data:image/png;base64,` URL (what `canvas.toDataURL` gives) or
/// bare base64.
pub(super) fn parse(field: Option<&str>) -> Result<SignatureImage, PageError> {
    let text = field.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(invalid("is required"));
    }
    let encoded = match text.split_once(',') {
        Some((prefix, data)) if prefix.starts_with("data:") => {
            if prefix != "data:image/png;base64" {
                return Err(invalid("is not a PNG image"));
            }
            data
        }
        _ => text,
    };
    // Base64 is 4/3 the size: refuse before decoding anything far too large.
    if encoded.len() > MAX_SIGNATURE_IMAGE_BYTES / 3 * 4 + 8 {
        return Err(invalid(format!(
            "is larger than {MAX_SIGNATURE_IMAGE_BYTES} bytes"
        )));
    }
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| invalid("is not base64"))?;
    let image = SignatureImage::parse(bytes).map_err(|error| invalid(error.to_string()))?;
    if ink_pixels(image.bytes())? < MIN_INK_PIXELS {
        return Err(invalid("is blank: nothing was drawn"));
    }
    Ok(image)
}

/// How many pixels differ from the top-left one (the pad's background).
fn ink_pixels(bytes: &[u8]) -> Result<usize, PageError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .map_err(|_| invalid("is not a readable PNG image"))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| invalid("is too large to read"))?;
    let mut pixels = vec![0; size];
    let frame = reader
        .next_frame(&mut pixels)
        .map_err(|_| invalid("is not a readable PNG image"))?;
    let channels = frame.color_type.samples();
    let data = &pixels[..frame.buffer_size()];
    let mut chunks = data.chunks_exact(channels.max(1));
    let Some(background) = chunks.next() else {
        return Ok(0);
    };
    Ok(chunks.filter(|pixel| *pixel != background).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, draw: impl Fn(u32, u32) -> bool) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, width, height);
            encoder.set_color(png::ColorType::Rgba);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().unwrap();
            let mut data = Vec::new();
            for y in 0..height {
                for x in 0..width {
                    data.extend_from_slice(if draw(x, y) {
                        &[0, 0, 0, 255]
                    } else {
                        &[0, 0, 0, 0]
                    });
                }
            }
            writer.write_image_data(&data).unwrap();
        }
        out
    }

    fn data_url(bytes: &[u8]) -> String {
        format!("data:image/png;base64,{}", STANDARD.encode(bytes))
    }

    #[test]
    fn a_drawn_pad_is_accepted() {
        let image = parse(Some(&data_url(&png(100, 40, |x, y| x == y)))).unwrap();
        assert!(image.bytes().starts_with(b"\x89PNG"));
    }

    #[test]
    fn a_blank_pad_a_missing_field_and_other_formats_are_refused_naming_the_field() {
        for field in [
            None,
            Some(data_url(&png(100, 40, |_, _| false))),
            Some("data:image/jpeg;base64,AAAA".to_owned()),
            Some("!!!".to_owned()),
            Some(STANDARD.encode(b"GIF89a not a png at all")),
        ] {
            match parse(field.as_deref()) {
                Err(PageError::Invalid { field, .. }) => assert_eq!(field, "signature"),
                other => panic!("expected 40001, got {other:?}"),
            }
        }
    }
}
