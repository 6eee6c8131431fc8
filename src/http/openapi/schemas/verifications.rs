//! Face verification (spec 2.1.1).

use super::*;

/// The body of `POST /api/v1/verification/face/initiate`. Every invalid field is reported at once
/// (40001).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct FaceVerificationRequest {
    /// The caller's business reference. With `bizType` it makes the request idempotent: a repeat
    /// answers 409 / 40002 with the existing verification.
    #[schema(
        max_length = 64,
        pattern = "^[A-Za-z0-9_.:-]+$",
        examples("AUTH_FLOW_001")
    )]
    pub biz_id: String,
    pub biz_type: VerificationBizType,
    pub user_info: FaceVerificationUserRequest,
    /// Where the result is sent: an absolute http(s) URL of at most 1024 characters; HTTPS and a
    /// public host in production.
    #[schema(
        max_length = 1024,
        examples("https://auth-system/callback/face-verification")
    )]
    pub callback_url: String,
    pub webhook_config: Option<WebhookConfig>,
    /// The verification page's lifetime in minutes.
    #[schema(minimum = 1, maximum = 1440, default = 30)]
    pub expire_minutes: Option<i64>,
    pub ui_config: Option<UiConfigRequest>,
    /// Not in the spec's request: archive the final result (spec 5.1, (可选) 核验结果存证) the way
    /// contracts are archived. The record archived holds no personal data; the verification's
    /// answer shows it as `resultArchive`.
    pub archive_config: Option<ArchiveConfigRequest>,
}

/// The person to verify.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct FaceVerificationUserRequest {
    /// The person's name, at most 128 characters.
    #[schema(max_length = 128, examples("张三"))]
    pub name: String,
    /// An 18-character PRC resident ID number with a valid check digit and birth date. Stored
    /// encrypted.
    #[schema(min_length = 18, max_length = 18, examples("310101199001011234"))]
    pub id_card_no: String,
    /// Optional: a mainland mobile number (11 digits, `1[3-9]...`) to send the page link to. Stored
    /// encrypted.
    #[schema(pattern = "^1[3-9][0-9]{9}$", examples("13800138000"))]
    pub mobile: Option<String>,
}

/// The verification page's look (optional).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct UiConfigRequest {
    /// The page title, at most 64 characters.
    #[schema(max_length = 64, examples("天财分账身份验证"))]
    pub title: Option<String>,
    /// An absolute http(s) URL (HTTPS in production).
    #[schema(max_length = 1024)]
    pub logo_url: Option<String>,
    /// `#rgb` or `#rrggbb`.
    #[schema(pattern = "^#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$", examples("#1890ff"))]
    pub theme_color: Option<String>,
}

/// A face verification just created.
/// A face verification's new page link (`POST .../verification-url`).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct FaceVerificationLink {
    #[schema(examples("FACE_VERIFY_20231027A1B2C3D4E5F60718"))]
    pub verification_id: String,
    /// The page the person opens now; earlier links answer 40004.
    pub verification_url: String,
    /// The verification's deadline, unchanged by a new link.
    #[schema(format = DateTime)]
    pub expires_at: String,
}

#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct FaceVerificationCreated {
    #[schema(examples("FACE_VERIFY_20231027A1B2C3D4E5F60718"))]
    pub verification_id: String,
    pub status: VerificationStatus,
    /// The page the person opens to verify: `<publicBaseUrl>/h5/face-verify?token=...`.
    pub verification_url: String,
    /// When the page stops working.
    #[schema(format = DateTime, required = true)]
    pub expires_at: Option<String>,
    /// Spec 2.1.1: the face provider's SDK parameters, for callers that integrate its app SDK.
    #[schema(nullable = false)]
    pub sdk_config: Option<SdkConfig>,
    /// Present (`true`) when every provider was down and degraded mode switched to the SMS +
    /// identity check (spec 7.2.1).
    #[schema(nullable = false)]
    pub degraded: Option<bool>,
    /// With `degraded`: `SMS_AND_IDENTITY`.
    #[schema(nullable = false)]
    pub method: Option<VerificationMethod>,
}

/// A face provider's SDK parameters (spec 2.1.1 `sdkConfig`).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SdkConfig {
    #[schema(examples("esign-development"))]
    pub app_id: String,
    pub nonce: String,
    pub signature: String,
}

/// How the identity was checked: `FACE` (a provider's liveness + face comparison) or
/// `SMS_AND_IDENTITY` (the degraded check of spec 7.2.1: an SMS code plus the identity information
/// checks done at initiation).
#[derive(Debug, ToSchema)]
pub enum VerificationMethod {
    #[schema(rename = "FACE")]
    Face,
    #[schema(rename = "SMS_AND_IDENTITY")]
    SmsAndIdentity,
}

/// A protocol v1 result, as a face provider posts it (docs/face-providers.md).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ProviderTaskResult {
    pub task_id: String,
    /// esign's verification id, echoed.
    pub order_no: String,
    pub transaction_no: String,
    pub passed: bool,
    /// Required when passed.
    #[schema(minimum = 0, maximum = 1)]
    pub score: Option<f64>,
    /// Required when not passed.
    pub fail_reason: Option<FailReason>,
    #[schema(format = DateTime)]
    pub completed_at: String,
}

/// esign's answer to a provider callback.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ProviderCallbackAck {
    /// `ACCEPTED`, `ALREADY_RECORDED` (an identical repeat) or `REJECTED`.
    #[schema(examples("ACCEPTED"))]
    pub result: String,
    /// Why it was rejected.
    #[schema(nullable = false)]
    pub reason: Option<String>,
}

/// What the person's pages show of a verification.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct FaceVerificationPageStatus {
    pub verification_id: String,
    pub status: VerificationStatus,
    pub method: VerificationMethod,
    pub degraded: bool,
    #[schema(required = true)]
    pub fail_reason: Option<FailReason>,
}

/// A degraded-check code was sent.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct DegradedCodeSent {
    pub sent: bool,
    /// The masked number it went to.
    #[schema(examples("138****8000"))]
    pub mobile: String,
    #[schema(examples(300))]
    pub expires_in_seconds: i64,
}

/// The code the person entered.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct DegradedCodeEntry {
    #[schema(examples("123456"))]
    pub code: String,
}

/// A face verification as `GET /api/v1/verification/face/{verificationId}` shows it (spec 2.1.1
/// item 2). The ID number is shown in clear: only the owning client can read it.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct FaceVerification {
    pub verification_id: String,
    pub biz_id: String,
    pub biz_type: VerificationBizType,
    pub status: VerificationStatus,
    pub user_info: FaceVerificationUser,
    /// The provider's similarity score (0..1), once known.
    #[schema(required = true, examples(0.95))]
    pub score: Option<f64>,
    /// The provider's transaction number, once known.
    #[schema(required = true)]
    pub transaction_no: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub verified_at: Option<String>,
    #[schema(required = true)]
    pub fail_reason: Option<FailReason>,
    #[schema(format = DateTime, required = true)]
    pub expires_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub created_at: Option<String>,
    /// The face provider that ran the task or gave the result, once there is one.
    #[schema(required = true, examples("sandbox"))]
    pub provider: Option<String>,
    /// `true` when the degraded SMS + identity check replaced the face check (spec 7.2.1).
    pub degraded: bool,
    pub method: VerificationMethod,
    /// Present when the caller asked for the result to be archived, once the result is final.
    pub result_archive: Option<ResultArchive>,
}

/// A verification's archived result (spec 5.1).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ResultArchive {
    /// The result record exactly as archived: JSON with sorted keys and no whitespace, every
    /// value a string or `null` (`format`, `verificationId`, `bizId`, `bizType`, `status`,
    /// `method`, `provider`, `transactionNo`, `score`, `failReason`, `initiatedAt`,
    /// `verifiedAt`). No personal data.
    #[schema(required = true)]
    pub record: Option<String>,
    /// SHA-256 of `record` (hex): the hash every provider archived; `null` until the first
    /// request.
    #[schema(required = true)]
    pub record_hash: Option<String>,
    pub archives: Vec<ResultArchiveRecord>,
}

/// One provider's archive of a verification's result.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ResultArchiveRecord {
    /// `null` until the archive sweep requests it (moments after the result).
    #[schema(required = true)]
    pub archive_id: Option<String>,
    pub provider: ArchiveProvider,
    pub status: ArchiveStatus,
    #[schema(format = DateTime, required = true)]
    pub archive_time: Option<String>,
    /// The token's serial number, or the log's leaf (`local-merkle-log:<index>`).
    #[schema(required = true)]
    pub transaction_no: Option<String>,
    /// The timestamp authority or the log that vouches for the record.
    #[schema(required = true)]
    pub authority: Option<String>,
    /// What verifies the record offline: an RFC 3161 token (`format`, `token`, ...) or a Merkle
    /// inclusion proof with its signed tree head (fields in docs/archive.md).
    #[schema(required = true, value_type = Option<Object>)]
    pub evidence: Option<serde_json::Value>,
    #[schema(minimum = 0)]
    pub attempts: i64,
    #[schema(required = true)]
    pub fail_reason: Option<String>,
}

/// The verified person.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct FaceVerificationUser {
    #[schema(required = true)]
    pub name: Option<String>,
    #[schema(required = true)]
    pub id_card_no: Option<String>,
}
