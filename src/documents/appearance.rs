//! What a signature looks like on the page: the handwritten signature the signer drew, with a few
//! lines of what the platform recorded under it, drawn in the signature widget's rectangle.
//!
//! The appearance is written in the incremental update that signs the field (and is covered by that
//! signature), so the page content of the document the signers agreed to never changes. The lines
//! use the standard Helvetica font, which every reader has, so the update embeds no font; they are
//! therefore kept to printable ASCII (times, ids and addresses), and anything else is replaced.

use pdf_writer::{Chunk, Content, Finish, Name, Rect, Ref, Str};

use super::pdf::{PdfError, decode_png, write_alpha_mask, write_image};

/// Size of the text lines under the signature, in points.
const TEXT_SIZE: f32 = 6.0;
const LINE_HEIGHT: f32 = 7.5;
const PADDING: f32 = 3.0;
const IMAGE: Name<'static> = Name(b"Im1");
const FONT: Name<'static> = Name(b"F1");

/// A visible signature: the PNG the signer drew and the lines printed under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appearance {
    pub png: Vec<u8>,
    pub lines: Vec<String>,
}

/// The appearance written as numbered objects, the form XObject first.
#[derive(Debug)]
pub struct AppearanceObjects {
    /// The form XObject a widget's `/AP /N` names.
    pub form: i32,
    /// Each object with its bytes (`n 0 obj ... endobj`), in number order.
    pub objects: Vec<(i32, Vec<u8>)>,
    /// The first object number after these.
    pub next: i32,
}

/// Writes `appearance` to fill `rect` (`[x1, y1, x2, y2]`), numbering objects from `first`.
pub fn write(
    appearance: &Appearance,
    rect: [f32; 4],
    first: i32,
) -> Result<AppearanceObjects, PdfError> {
    let width = (rect[2] - rect[0]).max(1.0);
    let height = (rect[3] - rect[1]).max(1.0);
    let picture = decode_png(&appearance.png)?;
    let form_id = Ref::new(first);
    let image_id = Ref::new(first + 1);
    let font_id = Ref::new(first + 2);
    let mask_id = picture.alpha.as_ref().map(|_| Ref::new(first + 3));
    let next = first + if mask_id.is_some() { 4 } else { 3 };

    // The text at the bottom, the signature scaled into the room above it.
    let text_height = LINE_HEIGHT * appearance.lines.len() as f32;
    let room_width = width - 2.0 * PADDING;
    let room_height = (height - text_height - 2.0 * PADDING).max(1.0);
    let aspect = picture.width.max(1) as f32 / picture.height.max(1) as f32;
    let (image_width, image_height) = if room_width / room_height > aspect {
        (room_height * aspect, room_height)
    } else {
        (room_width, room_width / aspect)
    };
    let mut content = Content::new();
    content.save_state();
    content.transform([
        image_width,
        0.0,
        0.0,
        image_height,
        PADDING,
        PADDING + text_height,
    ]);
    content.x_object(IMAGE);
    content.restore_state();
    for (index, line) in appearance.lines.iter().enumerate() {
        let y = PADDING + text_height - LINE_HEIGHT * (index as f32 + 1.0) + 1.5;
        content.begin_text();
        content.set_font(FONT, TEXT_SIZE);
        content.next_line(PADDING, y);
        content.show(Str(printable_ascii(line).as_bytes()));
        content.end_text();
    }
    let content = content.finish();

    let mut objects = Vec::new();
    let mut chunk = Chunk::new();
    let mut form = chunk.form_xobject(form_id, &content);
    form.bbox(Rect::new(0.0, 0.0, width, height));
    let mut resources = form.resources();
    resources.x_objects().pair(IMAGE, image_id);
    resources.fonts().pair(FONT, font_id);
    resources.finish();
    form.finish();
    objects.push((first, chunk.as_bytes().to_vec()));

    let mut chunk = Chunk::new();
    write_image(&mut chunk, image_id, mask_id, &picture)?;
    objects.push((first + 1, chunk.as_bytes().to_vec()));

    let mut chunk = Chunk::new();
    chunk
        .type1_font(font_id)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    objects.push((first + 2, chunk.as_bytes().to_vec()));

    if let Some(mask_id) = mask_id {
        let mut chunk = Chunk::new();
        write_alpha_mask(&mut chunk, mask_id, &picture)?;
        objects.push((first + 3, chunk.as_bytes().to_vec()));
    }
    Ok(AppearanceObjects {
        form: first,
        objects,
        next,
    })
}

/// `text` with everything outside printable ASCII replaced by `?` (Helvetica's WinAnsi encoding
/// would show other bytes as something else).
fn printable_ascii(text: &str) -> String {
    text.chars()
        .map(|ch| if (' '..='~').contains(&ch) { ch } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::contract::tests::stroke_png;

    #[test]
    fn an_appearance_is_a_form_with_the_image_its_mask_and_a_standard_font() {
        let written = write(
            &Appearance {
                png: stroke_png(),
                lines: vec!["2026-12-07 21:05:03 UTC+8".into(), "张 SIGN_TXN_1".into()],
            },
            [56.0, 400.0, 276.0, 470.0],
            40,
        )
        .unwrap();
        assert_eq!(written.form, 40);
        assert_eq!(
            written.next, 44,
            "form, image, font and the image's alpha mask"
        );
        let numbers: Vec<i32> = written.objects.iter().map(|(number, _)| *number).collect();
        assert_eq!(numbers, [40, 41, 42, 43]);
        let form = String::from_utf8_lossy(&written.objects[0].1);
        assert!(form.starts_with("40 0 obj"), "{form}");
        assert!(form.contains("/BBox [0 0 220 70]"), "{form}");
        let font = String::from_utf8_lossy(&written.objects[2].1);
        assert!(font.contains("/BaseFont /Helvetica"), "{font}");
        let image = String::from_utf8_lossy(&written.objects[1].1);
        assert!(image.contains("/SMask 43 0 R"), "{image}");
    }

    #[test]
    fn text_is_kept_to_what_the_standard_font_shows() {
        assert_eq!(printable_ascii("IP 1.2.3.4 张三"), "IP 1.2.3.4 ??");
    }

    #[test]
    fn a_broken_image_is_refused() {
        assert!(
            write(
                &Appearance {
                    png: b"not a png".to_vec(),
                    lines: Vec::new(),
                },
                [0.0, 0.0, 100.0, 50.0],
                1
            )
            .is_err()
        );
    }
}
