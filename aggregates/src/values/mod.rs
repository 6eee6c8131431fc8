//! Value objects: parsed once at the edge of a decision, always valid afterwards.
//!
//! Each type has a private field and a `parse` constructor returning a typed error whose `Display` is the
//! reason shown to the client next to the field name. `FromStr`/serde read stored values back.

mod business_id;
mod codes;
mod digest;
mod expiry;
mod id_card;
mod mobile;
mod organization;
mod place;
mod score;
mod signature_image;
mod text;
mod theme_color;
mod url;
mod webhook;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};

pub use business_id::{
    ArchiveId, BizId, Category, CertificateSerial, ClientId, ContractId, IdError, LinkId, PartyId,
    ProviderName, ProviderTaskId, SealId, TemplateId, TemplateVersion, TransactionNo,
    VerificationId,
};
pub use codes::{
    AgentRole, ArchiveProvider, ArchiveStatus, ContentType, ContractBizType, ContractStatus,
    FailReason, NotifyType, PartyType, SealAppearance, SealImageSource, SealKind, SignMethod,
    SignStatus, UnknownCode, VerificationBizType, VerificationStatus,
};
pub use digest::{Digest, DigestError};
pub use expiry::{
    ExpireDays, ExpireMinutes, LinkLifetimes, LinkTtl, RangeError, SMS_CODE_TTL_MINUTES,
    SMS_MAX_FAILED_ATTEMPTS,
};
pub use id_card::{EARLIEST_BIRTH_YEAR, IdCardError, IdCardNumber};
pub use mobile::{MobileError, MobileNumber};
pub use organization::{
    CREDIT_CODE_LEN, CreditCode, CreditCodeError, OrganizationName, credit_code_check_character,
};
pub use place::{MAX_PLACE_SIDE, MIN_PLACE_SIDE, PlaceRect, PlaceRectError};
pub use score::{FaceScore, ScoreError};
pub use signature_image::{
    MAX_SIGNATURE_IMAGE_BYTES, MAX_SIGNATURE_SIDE, MIN_SIGNATURE_SIDE, SignatureImage,
    SignatureImageError,
};
pub use text::{
    AnchorText, DeviceInfo, DisplayName, DocumentName, LongText, Operator, PageTitle, PersonName,
    Reason, Text, TextError, Title, UserAgent,
};
pub use theme_color::{ThemeColor, ThemeColorError};
pub use url::{MAX_URL_LEN, Mode, UrlError, WebUrl};
pub use webhook::{
    MAX_HEADER_NAME_LEN, MAX_HEADER_VALUE_LEN, MAX_WEBHOOK_HEADERS, WebhookConfigRequest,
    WebhookHeaders,
};

/// China Standard Time (UTC+8, no daylight saving): ID birth dates are Chinese calendar days.
const CHINA_OFFSET_SECONDS: i32 = 8 * 3600;

/// The calendar date in China at `now`, for the "birth date not in the future" rule.
pub fn china_date(now: DateTime<Utc>) -> NaiveDate {
    match FixedOffset::east_opt(CHINA_OFFSET_SECONDS) {
        Some(offset) => now.with_timezone(&offset).date_naive(),
        None => now.date_naive(),
    }
}

/// How raw request fields holding personal data show in `Debug` output.
pub fn redacted(value: Option<&str>) -> Option<&'static str> {
    value.map(|_| "***")
}

/// `now + delta`, saturating instead of panicking at the end of chrono's range.
pub fn later(now: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    now.checked_add_signed(delta)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_china_date_is_ahead_of_utc_in_the_evening() {
        let evening_utc = DateTime::parse_from_rfc3339("2025-06-01T17:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            china_date(evening_utc),
            NaiveDate::from_ymd_opt(2025, 6, 2).unwrap()
        );
    }
}
