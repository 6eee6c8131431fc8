//! Lifetimes with defaults and bounds: face verification links, contracts, sign links and SMS codes.

use chrono::TimeDelta;

use super::codes::NotifyType;

/// A number outside its allowed range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be between {min} and {max}")]
pub struct RangeError {
    pub min: i64,
    pub max: i64,
}

fn in_range(value: i64, min: u32, max: u32) -> Result<u32, RangeError> {
    u32::try_from(value)
        .ok()
        .filter(|value| (min..=max).contains(value))
        .ok_or(RangeError {
            min: i64::from(min),
            max: i64::from(max),
        })
}

/// How long a face verification's H5 link lives (`expireMinutes`): default 30 minutes (spec 2.1.1), at
/// most a day, since a verification proves who is present *now*.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpireMinutes(u32);

impl ExpireMinutes {
    pub const DEFAULT: u32 = 30;
    pub const MIN: u32 = 1;
    pub const MAX: u32 = 1440;

    /// `None` (the field was omitted) gives the default.
    pub fn parse(minutes: Option<i64>) -> Result<Self, RangeError> {
        match minutes {
            None => Ok(Self(Self::DEFAULT)),
            Some(minutes) => in_range(minutes, Self::MIN, Self::MAX).map(Self),
        }
    }

    pub fn minutes(self) -> u32 {
        self.0
    }

    pub fn duration(self) -> TimeDelta {
        TimeDelta::minutes(i64::from(self.0))
    }
}

/// How long a contract's signing process lives (`expireDays`): default 7 days (spec 2.1.2), at most 90,
/// so an unsigned contract cannot linger for a season with stale identity checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpireDays(u32);

impl ExpireDays {
    pub const DEFAULT: u32 = 7;
    pub const MIN: u32 = 1;
    pub const MAX: u32 = 90;

    /// `None` (the field was omitted) gives the default.
    pub fn parse(days: Option<i64>) -> Result<Self, RangeError> {
        match days {
            None => Ok(Self(Self::DEFAULT)),
            Some(days) => in_range(days, Self::MIN, Self::MAX).map(Self),
        }
    }

    pub fn days(self) -> u32 {
        self.0
    }

    pub fn duration(self) -> TimeDelta {
        TimeDelta::days(i64::from(self.0))
    }
}

/// How long a sign link lives. Defaults follow spec 4.2.3: an H5 link 30 minutes, an SMS link 24 hours
/// (configurable, [`LinkLifetimes`]). An explicit lifetime (a signer's `linkExpireMinutes`) may be 1
/// minute to 90 days; a link never outlives its contract either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct LinkTtl(u32);

impl TryFrom<i64> for LinkTtl {
    type Error = RangeError;

    fn try_from(minutes: i64) -> Result<Self, RangeError> {
        Self::parse_minutes(minutes)
    }
}

impl From<LinkTtl> for u32 {
    fn from(ttl: LinkTtl) -> u32 {
        ttl.0
    }
}

/// The lifetime of a sign link whose signer asked for none, by how the signer is notified (spec
/// 4.2.3: "链接有效期可配置，默认H5链接30分钟，短信链接24小时"); the service fills it from its
/// configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkLifetimes {
    pub h5: LinkTtl,
    pub sms: LinkTtl,
}

impl Default for LinkLifetimes {
    fn default() -> Self {
        Self {
            h5: LinkTtl(LinkTtl::H5_DEFAULT_MINUTES),
            sms: LinkTtl(LinkTtl::SMS_DEFAULT_MINUTES),
        }
    }
}

impl LinkLifetimes {
    pub fn for_notify(&self, notify_type: NotifyType) -> LinkTtl {
        match notify_type {
            NotifyType::H5Link => self.h5,
            NotifyType::Sms => self.sms,
        }
    }
}

impl LinkTtl {
    pub const H5_DEFAULT_MINUTES: u32 = 30;
    pub const SMS_DEFAULT_MINUTES: u32 = 24 * 60;
    pub const MIN_MINUTES: u32 = 1;
    pub const MAX_MINUTES: u32 = 90 * 24 * 60;

    /// The spec's default for `notify_type`, before any configuration.
    pub fn default_for(notify_type: NotifyType) -> Self {
        LinkLifetimes::default().for_notify(notify_type)
    }

    pub fn parse_minutes(minutes: i64) -> Result<Self, RangeError> {
        in_range(minutes, Self::MIN_MINUTES, Self::MAX_MINUTES).map(Self)
    }

    pub fn minutes(self) -> u32 {
        self.0
    }

    pub fn duration(self) -> TimeDelta {
        TimeDelta::minutes(i64::from(self.0))
    }
}

/// How long an SMS code may be entered after it was sent.
pub const SMS_CODE_TTL_MINUTES: i64 = 5;
/// Wrong SMS codes allowed on one sign link; the next failure locks SMS checks until a new link is issued.
pub const SMS_MAX_FAILED_ATTEMPTS: u32 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_lifetimes_take_the_spec_defaults() {
        assert_eq!(ExpireMinutes::parse(None).unwrap().minutes(), 30);
        assert_eq!(ExpireDays::parse(None).unwrap().days(), 7);
        assert_eq!(LinkTtl::default_for(NotifyType::H5Link).minutes(), 30);
        assert_eq!(LinkTtl::default_for(NotifyType::Sms).minutes(), 1440);
    }

    #[test]
    fn lifetimes_outside_their_bounds_are_refused() {
        assert_eq!(
            ExpireMinutes::parse(Some(0)),
            Err(RangeError { min: 1, max: 1440 })
        );
        assert_eq!(
            ExpireMinutes::parse(Some(1441)),
            Err(RangeError { min: 1, max: 1440 })
        );
        assert!(ExpireMinutes::parse(Some(1440)).is_ok());
        assert_eq!(
            ExpireDays::parse(Some(-1)),
            Err(RangeError { min: 1, max: 90 })
        );
        assert_eq!(
            ExpireDays::parse(Some(91)),
            Err(RangeError { min: 1, max: 90 })
        );
        assert!(ExpireDays::parse(Some(90)).is_ok());
        assert!(LinkTtl::parse_minutes(0).is_err());
        assert!(ExpireDays::parse(Some(i64::MAX)).is_err());
    }
}
