//! What a signature looks like on the page: the handwritten signature the signer drew, with a few
//! lines of what the platform recorded under it, drawn in the signature widget's rectangle.
//!
//! The appearance is written in the incremental update that signs the field (and is covered by that
//! signature), so the page content of the document the signers agreed to never changes. The lines
//! use the standard Helvetica font, which every reader has, so the update embeds no font; they are
//! therefore kept to printable ASCII (times, ids and addresses), and anything else is replaced.

use pdf_writer::{Chunk, Content, Finish, Name, Rect, Ref, Str};

use super::pdf::{PdfError, decode_png, write_alpha_mask, write_image};

/// Size of the text lines under the signature, in points, when they fit its width.
const TEXT_SIZE: f32 = 6.0;
/// The smallest the lines are set to fit a narrow box (a seal's); below it they are cut at the
/// box's edge rather than made unreadable.
const MIN_TEXT_SIZE: f32 = 4.0;
const LINE_HEIGHT: f32 = 7.5;
const PADDING: f32 = 3.0;
const FONT: Name<'static> = Name(b"F1");

/// A visible signature: the pictures (the handwritten signature the signer drew, an
/// organisation's seal, or both side by side) and the lines printed under them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appearance {
    /// PNG images, laid out left to right in equal shares of the width.
    pub images: Vec<Vec<u8>>,
    pub lines: Vec<String>,
}

impl Appearance {
    /// One picture with its lines.
    pub fn single(png: Vec<u8>, lines: Vec<String>) -> Self {
        Self {
            images: vec![png],
            lines,
        }
    }
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

/// Writes `appearance` to fill `rect` (`[x1, y1, x2, y2]`), numbering objects from `first`: the
/// form, the first image, the font, its alpha mask, then each further image and its mask.
pub fn write(
    appearance: &Appearance,
    rect: [f32; 4],
    first: i32,
) -> Result<AppearanceObjects, PdfError> {
    let width = (rect[2] - rect[0]).max(1.0);
    let height = (rect[3] - rect[1]).max(1.0);
    let pictures = appearance
        .images
        .iter()
        .map(|png| decode_png(png))
        .collect::<Result<Vec<_>, _>>()?;
    let form_id = Ref::new(first);
    let font_id = Ref::new(first + 2);
    // (image, mask) numbers: the first image keeps the numbers a single picture always had.
    let mut numbers = Vec::with_capacity(pictures.len());
    let mut next = first + 3;
    for (index, picture) in pictures.iter().enumerate() {
        let image = if index == 0 {
            first + 1
        } else {
            next += 1;
            next - 1
        };
        let mask = picture.alpha.as_ref().map(|_| {
            next += 1;
            next - 1
        });
        numbers.push((image, mask));
    }

    // The text at the bottom, the pictures side by side in the room above it.
    let text_height = LINE_HEIGHT * appearance.lines.len() as f32;
    let count = pictures.len().max(1) as f32;
    let share_width = (width - 2.0 * PADDING) / count;
    let room_height = (height - text_height - 2.0 * PADDING).max(1.0);
    let mut content = Content::new();
    for (index, picture) in pictures.iter().enumerate() {
        let aspect = picture.width.max(1) as f32 / picture.height.max(1) as f32;
        let (image_width, image_height) = if share_width / room_height > aspect {
            (room_height * aspect, room_height)
        } else {
            (share_width, share_width / aspect)
        };
        content.save_state();
        content.transform([
            image_width,
            0.0,
            0.0,
            image_height,
            PADDING + share_width * index as f32,
            PADDING + text_height,
        ]);
        content.x_object(image_name(index).as_name());
        content.restore_state();
    }
    let lines: Vec<String> = appearance
        .lines
        .iter()
        .map(|line| printable_ascii(line))
        .collect();
    let text_size = text_size(&lines, width - 2.0 * PADDING);
    for (index, line) in lines.iter().enumerate() {
        let y = PADDING + text_height - LINE_HEIGHT * (index as f32 + 1.0) + 1.5;
        content.begin_text();
        content.set_font(FONT, text_size);
        content.next_line(PADDING, y);
        content.show(Str(line.as_bytes()));
        content.end_text();
    }
    let content = content.finish();

    let mut objects = Vec::new();
    let mut chunk = Chunk::new();
    let mut form = chunk.form_xobject(form_id, &content);
    form.bbox(Rect::new(0.0, 0.0, width, height));
    let mut resources = form.resources();
    let mut x_objects = resources.x_objects();
    for (index, (image, _)) in numbers.iter().enumerate() {
        x_objects.pair(image_name(index).as_name(), Ref::new(*image));
    }
    x_objects.finish();
    resources.fonts().pair(FONT, font_id);
    resources.finish();
    form.finish();
    objects.push((first, chunk.as_bytes().to_vec()));

    let mut chunk = Chunk::new();
    chunk
        .type1_font(font_id)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    objects.push((first + 2, chunk.as_bytes().to_vec()));

    for (picture, (image, mask)) in pictures.iter().zip(&numbers) {
        let mut chunk = Chunk::new();
        write_image(&mut chunk, Ref::new(*image), mask.map(Ref::new), picture)?;
        objects.push((*image, chunk.as_bytes().to_vec()));
        if let Some(mask) = mask {
            let mut chunk = Chunk::new();
            write_alpha_mask(&mut chunk, Ref::new(*mask), picture)?;
            objects.push((*mask, chunk.as_bytes().to_vec()));
        }
    }
    objects.sort_by_key(|(number, _)| *number);
    Ok(AppearanceObjects {
        form: first,
        objects,
        next,
    })
}

/// The resource name of the `index`th picture: `Im1`, `Im2`, ...
struct ImageName(Vec<u8>);

impl ImageName {
    fn as_name(&self) -> Name<'_> {
        Name(&self.0)
    }
}

/// The size that sets the longest of `lines` within `room` points: [`TEXT_SIZE`] when it fits,
/// smaller down to [`MIN_TEXT_SIZE`].
fn text_size(lines: &[String], room: f32) -> f32 {
    let widest = lines
        .iter()
        .map(|line| super::standard_metrics::helvetica_width(line, TEXT_SIZE))
        .fold(0.0, f32::max);
    if widest <= room {
        TEXT_SIZE
    } else {
        (TEXT_SIZE * room / widest).max(MIN_TEXT_SIZE)
    }
}

fn image_name(index: usize) -> ImageName {
    ImageName(format!("Im{}", index + 1).into_bytes())
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
            &Appearance::single(
                stroke_png(),
                vec!["2026-12-07 21:05:03 UTC+8".into(), "张 SIGN_TXN_1".into()],
            ),
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
    fn two_pictures_sit_side_by_side_after_the_numbers_one_picture_takes() {
        let written = write(
            &Appearance {
                images: vec![stroke_png(), stroke_png()],
                lines: vec!["Txn SIGN_TXN_1".into()],
            },
            [0.0, 0.0, 220.0, 72.0],
            40,
        )
        .unwrap();
        let numbers: Vec<i32> = written.objects.iter().map(|(number, _)| *number).collect();
        assert_eq!(numbers, [40, 41, 42, 43, 44, 45]);
        assert_eq!(written.next, 46);
        let form = String::from_utf8_lossy(&written.objects[0].1);
        assert!(form.contains("/Im1 41 0 R"), "{form}");
        assert!(form.contains("/Im2 44 0 R"), "{form}");
        let second = String::from_utf8_lossy(&written.objects[4].1);
        assert!(second.contains("/SMask 45 0 R"), "{second}");
        // The second picture starts halfway across (after the padding).
        assert!(form.contains(" 110 "), "{form}");
    }

    #[test]
    fn lines_too_wide_for_a_seal_box_are_set_smaller_to_fit() {
        let lines = vec![
            "Signed 2026-12-08 09:18:26 UTC+8".to_owned(),
            "Txn SIGN_TXN_202612088704E0AFA7FA42".to_owned(),
            "IP 127.0.0.1".to_owned(),
        ];
        let room = 120.0 - 2.0 * PADDING;
        let size = text_size(&lines, room);
        assert!((MIN_TEXT_SIZE..TEXT_SIZE).contains(&size), "{size}");
        let widest = super::super::standard_metrics::helvetica_width(&lines[1], size);
        assert!((widest - room).abs() < 0.01, "{widest} in {room}");
        let written = write(
            &Appearance::single(stroke_png(), lines.clone()),
            [0.0, 0.0, 120.0, 120.0],
            1,
        )
        .unwrap();
        let form = String::from_utf8_lossy(&written.objects[0].1);
        assert!(form.contains(&format!("/F1 {size} Tf")), "{form}");
        // A person's wider box keeps the usual size.
        assert_eq!(text_size(&lines, 150.0 - 2.0 * PADDING), TEXT_SIZE);
        // However narrow the box, the text stays readable (and is cut at the edge).
        assert_eq!(text_size(&lines, 20.0), MIN_TEXT_SIZE);
    }

    #[test]
    fn text_is_kept_to_what_the_standard_font_shows() {
        assert_eq!(printable_ascii("IP 1.2.3.4 张三"), "IP 1.2.3.4 ??");
    }

    #[test]
    fn a_broken_image_is_refused() {
        assert!(
            write(
                &Appearance::single(b"not a png".to_vec(), Vec::new()),
                [0.0, 0.0, 100.0, 50.0],
                1
            )
            .is_err()
        );
    }
}
