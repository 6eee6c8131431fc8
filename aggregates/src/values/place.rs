//! Where on a page a signature or seal goes.

use serde::{Deserialize, Serialize};

/// The smallest side of a signature place, in points (about 7 mm): smaller is unreadable.
pub const MIN_PLACE_SIDE: f32 = 20.0;
/// The largest side of a signature place, in points (about 21 cm).
pub const MAX_PLACE_SIDE: f32 = 600.0;
/// How far from the origin a corner may be: PDF pages are at most 14,400 points a side.
const MAX_COORDINATE: f32 = 14_400.0;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlaceRectError {
    #[error("coordinates must be finite numbers between -14400 and 14400")]
    OutOfRange,
    #[error("width and height must each be between {MIN_PLACE_SIDE} and {MAX_PLACE_SIDE} points")]
    Size,
}

/// A rectangle `[x1, y1, x2, y2]` in points in a page's default user space (origin bottom-left),
/// `x1 < x2`, `y1 < y2`, each side between [`MIN_PLACE_SIDE`] and [`MAX_PLACE_SIDE`]. Whether it
/// lies on its page is checked where the page is known.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "[f32; 4]", into = "[f32; 4]")]
pub struct PlaceRect([f32; 4]);

impl PlaceRect {
    pub fn parse(corners: [f32; 4]) -> Result<Self, PlaceRectError> {
        if !corners
            .iter()
            .all(|value| value.is_finite() && value.abs() <= MAX_COORDINATE)
        {
            return Err(PlaceRectError::OutOfRange);
        }
        let [x1, y1, x2, y2] = corners;
        let side = MIN_PLACE_SIDE..=MAX_PLACE_SIDE;
        if !side.contains(&(x2 - x1)) || !side.contains(&(y2 - y1)) {
            return Err(PlaceRectError::Size);
        }
        Ok(Self(corners))
    }

    /// The place `width` × `height` with its lower-left corner at (`x`, `y`).
    pub fn at(x: f32, y: f32, width: f32, height: f32) -> Result<Self, PlaceRectError> {
        Self::parse([x, y, x + width, y + height])
    }

    pub fn corners(&self) -> [f32; 4] {
        self.0
    }
}

impl TryFrom<[f32; 4]> for PlaceRect {
    type Error = PlaceRectError;

    fn try_from(corners: [f32; 4]) -> Result<Self, Self::Error> {
        Self::parse(corners)
    }
}

impl From<PlaceRect> for [f32; 4] {
    fn from(rect: PlaceRect) -> Self {
        rect.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_has_a_readable_size_and_finite_corners() {
        assert!(PlaceRect::at(100.0, 200.0, 150.0, 60.0).is_ok());
        assert_eq!(
            PlaceRect::at(100.0, 200.0, 10.0, 60.0),
            Err(PlaceRectError::Size)
        );
        assert_eq!(
            PlaceRect::parse([10.0, 10.0, 5.0, 40.0]),
            Err(PlaceRectError::Size)
        );
        assert_eq!(
            PlaceRect::at(f32::NAN, 0.0, 100.0, 100.0),
            Err(PlaceRectError::OutOfRange)
        );
        assert_eq!(
            PlaceRect::at(20_000.0, 0.0, 100.0, 100.0),
            Err(PlaceRectError::OutOfRange)
        );
    }

    #[test]
    fn a_stored_place_reads_back_the_same() {
        let rect = PlaceRect::at(72.5, 100.25, 120.0, 120.0).unwrap();
        let json = serde_json::to_string(&rect).unwrap();
        assert_eq!(json, "[72.5,100.25,192.5,220.25]");
        assert_eq!(serde_json::from_str::<PlaceRect>(&json).unwrap(), rect);
        assert!(serde_json::from_str::<PlaceRect>("[0,0,1,1]").is_err());
    }
}
