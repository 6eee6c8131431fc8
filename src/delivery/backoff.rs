//! When a failed callback is tried again: delays grow geometrically from `first_retry` so that all
//! retries together span about `window` (spec 6: exponential backoff; ten attempts over about a day
//! by default), each jittered by up to 20% so receivers coming back up are not hit in lockstep.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    max_attempts: u32,
    first_retry: f64,
    factor: f64,
}

impl RetrySchedule {
    pub fn new(max_attempts: u32, first_retry: Duration, window: Duration) -> Self {
        let retries = max_attempts.saturating_sub(1);
        let first = first_retry.as_secs_f64().max(0.001);
        Self {
            max_attempts,
            first_retry: first,
            factor: growth_factor(retries, first, window.as_secs_f64()),
        }
    }

    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The delay before the next attempt after `attempts_made` failed ones, without jitter; `None`
    /// when no attempt is left.
    pub fn nominal_delay(&self, attempts_made: u32) -> Option<Duration> {
        if attempts_made == 0 || attempts_made >= self.max_attempts {
            return None;
        }
        let exponent = i32::try_from(attempts_made - 1).unwrap_or(i32::MAX);
        Some(Duration::from_secs_f64(
            (self.first_retry * self.factor.powi(exponent)).min(f64::from(u32::MAX)),
        ))
    }

    /// [`Self::nominal_delay`] with up to 20% jitter either way.
    pub fn delay(&self, attempts_made: u32) -> Option<Duration> {
        let nominal = self.nominal_delay(attempts_made)?;
        Some(nominal.mul_f64(rand::rng().random_range(0.8..=1.2)))
    }
}

/// The factor `f` with `first * (1 + f + ... + f^(retries-1)) = window`, found by bisection; 1 when
/// the window is no longer than the retries at the first delay each.
fn growth_factor(retries: u32, first: f64, window: f64) -> f64 {
    if retries <= 1 || window <= first * f64::from(retries) {
        return 1.0;
    }
    let span = |factor: f64| -> f64 {
        (0..retries)
            .map(|k| first * factor.powi(i32::try_from(k).unwrap_or(i32::MAX)))
            .sum()
    };
    let (mut low, mut high) = (1.0_f64, 2.0_f64);
    while span(high) < window && high < 1e6 {
        high *= 2.0;
    }
    for _ in 0..100 {
        let middle = (low + high) / 2.0;
        if span(middle) < window {
            low = middle;
        } else {
            high = middle;
        }
    }
    (low + high) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_spans_about_a_day_and_starts_within_seconds() {
        let schedule = RetrySchedule::new(10, Duration::from_secs(5), Duration::from_secs(86_400));
        assert_eq!(schedule.nominal_delay(1), Some(Duration::from_secs(5)));
        let total: f64 = (1..10)
            .map(|n| schedule.nominal_delay(n).unwrap().as_secs_f64())
            .sum();
        assert!((total - 86_400.0).abs() < 1.0, "total {total}");
        assert_eq!(
            schedule.nominal_delay(10),
            None,
            "the tenth attempt is the last"
        );
        for n in 1..9 {
            assert!(schedule.nominal_delay(n) < schedule.nominal_delay(n + 1));
        }
    }

    #[test]
    fn jitter_stays_within_a_fifth() {
        let schedule = RetrySchedule::new(10, Duration::from_secs(5), Duration::from_secs(86_400));
        for _ in 0..1000 {
            let delay = schedule.delay(3).unwrap().as_secs_f64();
            let nominal = schedule.nominal_delay(3).unwrap().as_secs_f64();
            assert!(delay >= nominal * 0.8 - 1e-9 && delay <= nominal * 1.2 + 1e-9);
        }
    }

    #[test]
    fn a_single_attempt_never_retries() {
        let schedule = RetrySchedule::new(1, Duration::from_secs(5), Duration::from_secs(60));
        assert_eq!(schedule.delay(1), None);
    }
}
