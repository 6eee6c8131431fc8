//! Face comparison scores.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be a number between 0 and 1")]
pub struct ScoreError;

/// A provider's similarity score in `0.0..=1.0` (`face_score` decimal(5,4)). Providers that score out of
/// 100 are scaled by their adapter.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct FaceScore(f64);

impl FaceScore {
    pub fn parse(value: f64) -> Result<Self, ScoreError> {
        if value.is_finite() && (0.0..=1.0).contains(&value) {
            Ok(Self(value))
        } else {
            Err(ScoreError)
        }
    }

    pub fn value(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for FaceScore {
    type Error = ScoreError;

    fn try_from(value: f64) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<FaceScore> for f64 {
    fn from(score: FaceScore) -> f64 {
        score.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_must_lie_between_zero_and_one() {
        assert!(FaceScore::parse(0.95).is_ok());
        assert!(FaceScore::parse(0.0).is_ok());
        assert!(FaceScore::parse(1.0).is_ok());
        assert_eq!(FaceScore::parse(95.0), Err(ScoreError));
        assert_eq!(FaceScore::parse(f64::NAN), Err(ScoreError));
    }
}
