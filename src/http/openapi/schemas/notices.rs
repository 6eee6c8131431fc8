//! Payment-verification notices.

use super::*;

/// The body of `POST /api/v1/notification/sms-templates`: an SMS template version. Every invalid field
/// is reported at once (40001).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SmsTemplateRequest {
    #[schema(
        max_length = 64,
        pattern = "^[A-Za-z0-9_.:-]+$",
        examples("PAYMENT_VERIFY_NOTICE")
    )]
    pub template_code: String,
    #[schema(max_length = 128, examples("打款验证通知"))]
    pub name: String,
    /// The version label; a published version never changes.
    #[schema(max_length = 32, pattern = "^[A-Za-z0-9_.:-]+$", examples("1"))]
    pub version: String,
    /// Plain text of at most 500 characters with `{key}` placeholders. Every placeholder must be
    /// declared in `variables` and every declared variable used; a stray `{` or `}` is refused.
    #[schema(
        max_length = 500,
        examples("您的账户收到一笔{amount}元的验证打款，备注码{remarkCode}。")
    )]
    pub content: String,
    /// At most 20 entries, each `key` once. Every variable is required when a notice is sent.
    #[schema(max_items = 20, nullable = false)]
    pub variables: Option<Vec<SmsVariableRequest>>,
    /// Whether notices may use this version. Defaults to `true`.
    pub active: Option<bool>,
}

/// One variable of an SMS template.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SmsVariableRequest {
    /// The placeholder name, as in `{amount}`: a letter or `_`, then letters, digits or `_`, at most
    /// 64 characters.
    #[schema(
        max_length = 64,
        pattern = "^[A-Za-z_][A-Za-z0-9_]*$",
        examples("amount")
    )]
    pub key: String,
    #[schema(max_length = 128, examples("打款金额"))]
    pub name: String,
    /// The longest value accepted, 1 to 200 characters. Defaults to 32.
    #[schema(minimum = 1, maximum = 200)]
    pub max_length: Option<u32>,
}

/// An SMS template version as the template endpoints show it.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SmsTemplate {
    pub template_code: String,
    pub name: String,
    pub version: String,
    pub content: String,
    pub variables: Vec<SmsVariable>,
    /// Whether notices may use this version.
    pub active: bool,
    /// The administrator client that published the version.
    #[schema(required = true)]
    pub created_by: Option<String>,
    /// The client that last published, activated or deactivated it.
    #[schema(required = true)]
    pub updated_by: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub created_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub updated_at: Option<String>,
}

/// One variable of a published SMS template.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SmsVariable {
    pub key: String,
    pub name: String,
    pub max_length: u32,
}

/// The body of `POST /api/v1/notification/sms`. Every invalid field is reported at once (40001).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SmsNoticeRequest {
    /// With `bizType`, unique per client: a repeat answers 40002 with the existing notice.
    #[schema(
        max_length = 64,
        pattern = "^[A-Za-z0-9_.:-]+$",
        examples("PAY_VERIFY_20231027001")
    )]
    pub biz_id: String,
    #[schema(
        max_length = 32,
        pattern = "^[A-Za-z0-9_.:-]+$",
        examples("PAYMENT_VERIFICATION")
    )]
    pub biz_type: String,
    #[schema(
        max_length = 64,
        pattern = "^[A-Za-z0-9_.:-]+$",
        examples("PAYMENT_VERIFY_NOTICE")
    )]
    pub template_code: String,
    /// Pins a version (active); without it the template's current version is used.
    #[schema(max_length = 32, pattern = "^[A-Za-z0-9_.:-]+$", nullable = false)]
    pub template_version: Option<String>,
    /// A mainland mobile number, 11 digits.
    #[schema(pattern = "^1[3-9][0-9]{9}$", examples("13800138000"))]
    pub mobile: String,
    /// One string or number per variable of the version, each within its `maxLength`; nothing else.
    pub variables: BTreeMap<String, serde_json::Value>,
}

/// A notice and its delivery state.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SmsNotice {
    pub notice_id: String,
    pub biz_id: String,
    pub biz_type: String,
    pub template_code: String,
    pub template_version: String,
    /// In clear: only the owning client reads a notice.
    pub mobile: String,
    /// `REQUESTED` (an attempt is under way), `SENT`, or `FAILED` (retried at `nextAttemptAt` when
    /// set, else final).
    #[schema(examples("SENT"))]
    pub status: String,
    /// Attempts made so far, the first included.
    pub attempts: u32,
    /// The sender that took (or refused) the last attempt: `message-centre` or `development`.
    #[schema(required = true)]
    pub sender: Option<String>,
    /// The sender's id for the message, once sent.
    #[schema(required = true)]
    pub message_id: Option<String>,
    #[schema(required = true)]
    pub fail_reason: Option<String>,
    /// Whether the last failure may pass on a retry; null unless FAILED.
    #[schema(required = true)]
    pub retryable: Option<bool>,
    /// When the next attempt is due; null when none will be made.
    #[schema(format = DateTime, required = true)]
    pub next_attempt_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub sent_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub created_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub updated_at: Option<String>,
}
