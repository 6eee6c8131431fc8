//! Initiating a verification (spec 2.1.1, 4.1.1 step 1): the request's wire shape and its validation,
//! naming every bad field at once.

use serde::{Deserialize, Serialize};

use super::{InitiateVerification, VerificationError, VerificationEvent, VerificationState};
use crate::Sensitive;
use crate::contract::{ArchiveConfigRequest, check_archive};
use crate::errors::ValidationErrors;
use crate::values::{
    BizId, ExpireMinutes, IdCardNumber, MobileNumber, Mode, PageTitle, PersonName, ThemeColor,
    VerificationBizType, WebUrl, WebhookConfigRequest, WebhookHeaders, china_date, later, redacted,
};

/// The body of `POST /api/v1/verification/face/initiate` as sent; fields are optional here so a missing
/// one is reported by name together with every other problem.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationRequest {
    pub biz_id: Option<String>,
    pub biz_type: Option<String>,
    pub user_info: Option<UserInfoRequest>,
    pub callback_url: Option<String>,
    pub webhook_config: Option<WebhookConfigRequest>,
    pub expire_minutes: Option<i64>,
    pub ui_config: Option<UiConfigRequest>,
    /// Not in the spec's request: archive the final result (spec 5.1, (可选) 核验结果存证), in the
    /// shape contracts use; absent, the result is not archived.
    pub archive_config: Option<ArchiveConfigRequest>,
}

/// `Debug` hides the ID and mobile numbers: commands end up in logs.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfoRequest {
    pub name: Option<String>,
    pub id_card_no: Option<String>,
    pub mobile: Option<String>,
}

impl std::fmt::Debug for UserInfoRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserInfoRequest")
            .field("name", &redacted(self.name.as_deref()))
            .field("id_card_no", &redacted(self.id_card_no.as_deref()))
            .field("mobile", &redacted(self.mobile.as_deref()))
            .finish()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UiConfigRequest {
    pub title: Option<String>,
    pub logo_url: Option<String>,
    pub theme_color: Option<String>,
}

/// The H5 page's customisation (`uiConfig`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UiConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<PageTitle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<WebUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme_color: Option<ThemeColor>,
}

pub(super) fn initiate(
    state: &VerificationState,
    command: InitiateVerification,
) -> Result<Vec<VerificationEvent>, VerificationError> {
    match state {
        VerificationState::NotInitiated => {}
        existing => {
            let id = existing
                .verification()
                .map(|verification| verification.verification_id.clone());
            return Err(id.map_or(VerificationError::NotFound, VerificationError::Duplicate));
        }
    }
    let request = &command.request;
    let mut errors = ValidationErrors::new();
    let biz_id = errors.required("bizId", request.biz_id.as_deref(), BizId::parse);
    let biz_type = errors.required(
        "bizType",
        request.biz_type.as_deref(),
        VerificationBizType::parse,
    );
    let today = china_date(command.now);
    let (name, id_card_no, mobile) = match &request.user_info {
        None => {
            errors.push("userInfo", "is required");
            (None, None, None)
        }
        Some(user) => (
            errors.required("userInfo.name", user.name.as_deref(), PersonName::parse),
            errors.required("userInfo.idCardNo", user.id_card_no.as_deref(), |text| {
                IdCardNumber::parse(text, today)
            }),
            errors.optional(
                "userInfo.mobile",
                user.mobile.as_deref(),
                MobileNumber::parse,
            ),
        ),
    };
    let callback_url = errors.required("callbackUrl", request.callback_url.as_deref(), |text| {
        WebUrl::parse(text, command.mode)
    });
    let webhook_headers = WebhookHeaders::collect(
        request.webhook_config.as_ref(),
        "webhookConfig",
        &mut errors,
    );
    let expire_minutes = errors.check(
        "expireMinutes",
        ExpireMinutes::parse(request.expire_minutes),
    );
    let ui_config = parse_ui_config(request.ui_config.as_ref(), command.mode, &mut errors);
    let archive_providers = check_archive(request.archive_config.as_ref(), &mut errors);

    let (
        Some(biz_id),
        Some(biz_type),
        Some(name),
        Some(id_card_no),
        Some(mobile),
        Some(callback_url),
        Some(expire_minutes),
        Some(ui_config),
        Some(archive_providers),
    ) = (
        biz_id,
        biz_type,
        name,
        id_card_no,
        mobile,
        callback_url,
        expire_minutes,
        ui_config,
        archive_providers,
    )
    else {
        return Err(VerificationError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(VerificationError::Invalid(errors));
    }
    Ok(vec![VerificationEvent::Initiated {
        verification_id: command.verification_id,
        client_id: command.client_id,
        biz_id,
        biz_type,
        name: Sensitive::new(name),
        id_card_no: Sensitive::new(id_card_no),
        mobile: mobile.map(Sensitive::new),
        callback_url,
        webhook_headers,
        ui_config,
        archive_providers,
        expires_at: later(command.now, expire_minutes.duration()),
        initiated_at: command.now,
    }])
}

fn parse_ui_config(
    request: Option<&UiConfigRequest>,
    mode: Mode,
    errors: &mut ValidationErrors,
) -> Option<UiConfig> {
    let Some(request) = request else {
        return Some(UiConfig::default());
    };
    let title = errors.optional("uiConfig.title", request.title.as_deref(), PageTitle::parse);
    let logo_url = errors.optional("uiConfig.logoUrl", request.logo_url.as_deref(), |text| {
        WebUrl::parse(text, mode)
    });
    let theme_color = errors.optional(
        "uiConfig.themeColor",
        request.theme_color.as_deref(),
        ThemeColor::parse,
    );
    Some(UiConfig {
        title: title?,
        logo_url: logo_url?,
        theme_color: theme_color?,
    })
}
