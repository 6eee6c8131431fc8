//! A signer's handwritten signature as the PNG their pad produced. The final document places it, and
//! the document must be reproducible from the events alone, so the image itself is kept (sealed like
//! other personal data) beside its SHA-256.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The largest image accepted: a pad drawing compresses far below this.
pub const MAX_SIGNATURE_IMAGE_BYTES: usize = 256 * 1024;
/// Width and height limits in pixels: large enough for a high-density phone pad, small enough that
/// decoding the image never costs much memory.
pub const MIN_SIGNATURE_SIDE: u32 = 16;
pub const MAX_SIGNATURE_SIDE: u32 = 2048;

const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureImageError {
    #[error("is not base64")]
    NotBase64,
    #[error("is not a PNG image")]
    NotPng,
    #[error("is larger than {MAX_SIGNATURE_IMAGE_BYTES} bytes")]
    TooLarge,
    #[error("must be between {MIN_SIGNATURE_SIDE} and {MAX_SIGNATURE_SIDE} pixels wide and high")]
    Dimensions,
}

/// The PNG bytes, checked for the PNG signature, size and the dimensions its header declares. Whether
/// anything was drawn needs the pixels, which the service checks before building one.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureImage(Vec<u8>);

impl SignatureImage {
    pub fn parse(bytes: Vec<u8>) -> Result<Self, SignatureImageError> {
        if bytes.len() > MAX_SIGNATURE_IMAGE_BYTES {
            return Err(SignatureImageError::TooLarge);
        }
        // The signature, then the IHDR chunk: length (4), type (4), width (4), height (4).
        if bytes.len() < 24 || bytes[..8] != PNG_MAGIC || &bytes[12..16] != b"IHDR" {
            return Err(SignatureImageError::NotPng);
        }
        let side = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let (width, height) = (side(16), side(20));
        let allowed = MIN_SIGNATURE_SIDE..=MAX_SIGNATURE_SIDE;
        if !allowed.contains(&width) || !allowed.contains(&height) {
            return Err(SignatureImageError::Dimensions);
        }
        Ok(Self(bytes))
    }

    /// From base64 (standard alphabet, padded), as stored.
    pub fn from_base64(text: &str) -> Result<Self, SignatureImageError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SignatureImageError::NotBase64)?;
        Self::parse(bytes)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.0)
    }
}

impl fmt::Debug for SignatureImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignatureImage({} bytes)", self.0.len())
    }
}

/// Base64: the form `Sensitive` seals and stores.
impl fmt::Display for SignatureImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl FromStr for SignatureImage {
    type Err = SignatureImageError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_base64(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = PNG_MAGIC.to_vec();
        bytes.extend_from_slice(&13u32.to_be_bytes());
        bytes.extend_from_slice(b"IHDR");
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&[8, 6, 0, 0, 0]);
        bytes
    }

    #[test]
    fn a_png_header_of_reasonable_size_is_accepted_and_round_trips_through_base64() {
        let image = SignatureImage::parse(png_header(600, 200)).unwrap();
        let back: SignatureImage = image.to_string().parse().unwrap();
        assert_eq!(back, image);
    }

    #[test]
    fn other_formats_odd_sizes_and_large_files_are_refused() {
        assert_eq!(
            SignatureImage::parse(b"GIF89a....................".to_vec()),
            Err(SignatureImageError::NotPng)
        );
        assert_eq!(
            SignatureImage::parse(png_header(8, 200)),
            Err(SignatureImageError::Dimensions)
        );
        assert_eq!(
            SignatureImage::parse(png_header(600, 3000)),
            Err(SignatureImageError::Dimensions)
        );
        let mut large = png_header(600, 200);
        large.resize(MAX_SIGNATURE_IMAGE_BYTES + 1, 0);
        assert_eq!(
            SignatureImage::parse(large),
            Err(SignatureImageError::TooLarge)
        );
        assert_eq!(
            SignatureImage::from_base64("not base64!"),
            Err(SignatureImageError::NotBase64)
        );
    }

    #[test]
    fn debug_output_shows_only_the_size() {
        let image = SignatureImage::parse(png_header(600, 200)).unwrap();
        assert_eq!(format!("{image:?}"), "SignatureImage(29 bytes)");
    }
}
