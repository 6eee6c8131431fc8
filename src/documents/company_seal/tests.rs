//! Seal pictures: what an upload must be, and the drawn seal's look and determinism.

use super::*;

/// A `width` x `height` PNG of `color` type whose pixels `ink` says are ink (opaque red) or not.
fn png_of(
    width: u32,
    height: u32,
    color: png::ColorType,
    ink: impl Fn(u32, u32) -> bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width {
                let on = ink(x, y);
                match color {
                    png::ColorType::Rgba => {
                        data.extend_from_slice(&[230, 0, 18, if on { 255 } else { 0 }])
                    }
                    png::ColorType::Rgb => {
                        data.extend_from_slice(if on { &[230, 0, 18] } else { &[255, 255, 255] })
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        writer.write_image_data(&data).unwrap();
    }
    out
}

fn ring(width: u32, height: u32) -> Vec<u8> {
    png_of(width, height, png::ColorType::Rgba, |x, y| (x + y) % 7 == 0)
}

fn name() -> OrganizationName {
    OrganizationName::parse("天财商龙科技有限公司").unwrap()
}

#[test]
fn a_transparent_png_is_measured() {
    let bytes = ring(300, 200);
    let picture = check_seal_png(&bytes).unwrap();
    assert_eq!((picture.width, picture.height), (300, 200));
    assert_eq!(picture.byte_length, bytes.len() as u64);
    assert_eq!(picture.hash.as_hex(), sha256_hex(&bytes));
}

#[test]
fn a_jpeg_is_refused_as_not_a_png() {
    // The start of a JFIF file.
    let jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00";
    assert_eq!(check_seal_png(jpeg), Err(SealImageError::NotPng));
}

#[test]
fn a_png_without_alpha_is_refused() {
    let opaque = png_of(200, 200, png::ColorType::Rgb, |x, _| x < 100);
    let refused = check_seal_png(&opaque).unwrap_err();
    assert_eq!(refused, SealImageError::NoTransparency);
    assert!(refused.to_string().contains("transparent background"));
}

#[test]
fn an_alpha_channel_that_is_opaque_everywhere_is_refused() {
    let opaque = png_of(200, 200, png::ColorType::Rgba, |_, _| true);
    assert_eq!(check_seal_png(&opaque), Err(SealImageError::Opaque));
}

#[test]
fn pictures_too_small_or_too_large_are_refused() {
    assert_eq!(
        check_seal_png(&ring(99, 300)),
        Err(SealImageError::Size {
            width: 99,
            height: 300
        })
    );
    assert_eq!(
        check_seal_png(&ring(2001, 100)),
        Err(SealImageError::Size {
            width: 2001,
            height: 100
        })
    );
    assert!(check_seal_png(&ring(2000, 100)).is_ok());
    let message = check_seal_png(&ring(50, 50)).unwrap_err().to_string();
    assert_eq!(
        message,
        "must be 100 to 2000 pixels on each side (found 50x50)"
    );
}

#[test]
fn more_than_a_mebibyte_is_refused_before_decoding() {
    let mut big = ring(100, 100);
    big.resize(MAX_SEAL_IMAGE_BYTES + 1, 0);
    assert_eq!(
        check_seal_png(&big),
        Err(SealImageError::TooManyBytes {
            found: MAX_SEAL_IMAGE_BYTES + 1
        })
    );
}

#[test]
fn a_truncated_png_is_refused() {
    let whole = ring(300, 300);
    for cut in [whole.len() / 2, whole.len() - 13, 40] {
        let refused = check_seal_png(&whole[..cut]).unwrap_err();
        assert!(
            matches!(refused, SealImageError::Unreadable(_)),
            "cut at {cut}: {refused:?}"
        );
    }
}

#[test]
fn a_drawn_seal_passes_its_own_check() {
    let bytes = draw_round_seal(&name(), "合同专用章").unwrap();
    let picture = check_seal_png(&bytes).unwrap();
    assert_eq!(picture.width, DRAWN_SEAL_SIDE);
    assert_eq!(picture.height, DRAWN_SEAL_SIDE);
}

#[test]
fn drawing_is_deterministic_and_depends_on_name_and_label() {
    let first = draw_round_seal(&name(), "合同专用章").unwrap();
    let again = draw_round_seal(&name(), "合同专用章").unwrap();
    assert_eq!(first, again);
    let other_name = draw_round_seal(
        &OrganizationName::parse("天财商龙科技股份有限公司").unwrap(),
        "合同专用章",
    )
    .unwrap();
    assert_ne!(first, other_name);
    assert_ne!(first, draw_round_seal(&name(), "公章").unwrap());
}

/// The SHA-256 of one drawing, pinned: a change to the drawing (or to the font, the rasteriser
/// or the PNG encoder) shows here, and seals drawn before it keep their recorded hashes only if
/// the change was meant.
#[test]
fn the_drawing_of_one_name_is_pinned() {
    let bytes = draw_round_seal(&name(), "合同专用章").unwrap();
    assert_eq!(sha256_hex(&bytes), PINNED);
}

const PINNED: &str = "ba3121b0015732dd284c83860e0938aaf3837a41b4c17d1c18312933311eb9e8";

/// Where the ink is: the corners are transparent, the ring and the star are red.
#[test]
fn a_drawn_seal_is_red_ink_on_a_transparent_ground() {
    let bytes = draw_round_seal(&name(), "财务专用章").unwrap();
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes.as_slice()));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut pixels).unwrap();
    let side = DRAWN_SEAL_SIDE as usize;
    let at = |x: usize, y: usize| &pixels[(y * side + x) * 4..(y * side + x) * 4 + 4];
    assert_eq!(at(0, 0)[3], 0, "the corner is transparent");
    assert_eq!(at(side / 2, side / 2), [0xE6, 0x00, 0x12, 0xFF], "the star");
    // The ring, on the left edge of the circle at mid height.
    let ring_x = side / 2 - (side as f32 * 0.473) as usize;
    assert_eq!(at(ring_x, side / 2)[3], 0xFF, "the ring");
    // Every opaque pixel is seal red; anti-aliased edges fade its alpha (their colour rounded
    // from premultiplied values, so only nearly red).
    for pixel in pixels.chunks_exact(4) {
        match pixel[3] {
            // Faint edge pixels carry too little colour to round back exactly.
            0..128 => {}
            0xFF => assert_eq!(pixel[..3], [0xE6, 0x00, 0x12]),
            _ => assert!(
                pixel[0].abs_diff(0xE6) <= 8 && pixel[1] <= 8 && pixel[2].abs_diff(0x12) <= 8,
                "{pixel:?}"
            ),
        }
    }
}

#[test]
fn a_character_the_font_lacks_is_refused() {
    let refused = draw_round_seal(&OrganizationName::parse("𓀀公司").unwrap(), "公章").unwrap_err();
    assert!(matches!(refused, DrawError::MissingGlyph('𓀀')), "{refused}");
}

#[test]
fn storage_keys_name_the_seal_and_the_picture() {
    let hash = Digest::parse(&"ab".repeat(32)).unwrap();
    let key = storage_key(&SealId::parse("SEAL_1").unwrap(), &hash);
    assert_eq!(key, format!("seals/SEAL_1/{}.png", "ab".repeat(32)));
}

/// Writes a drawing where `ESIGN_SEAL_PREVIEW` says, to look at it.
#[test]
fn a_drawing_can_be_written_for_a_look() {
    if let Ok(path) = std::env::var("ESIGN_SEAL_PREVIEW") {
        let label = std::env::var("ESIGN_SEAL_PREVIEW_LABEL").unwrap_or("合同专用章".into());
        let name = std::env::var("ESIGN_SEAL_PREVIEW_NAME")
            .map(|name| OrganizationName::parse(&name).unwrap())
            .unwrap_or_else(|_| name());
        std::fs::write(path, draw_round_seal(&name, &label).unwrap()).unwrap();
    }
}
