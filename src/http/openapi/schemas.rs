//! The JSON shapes of the API as the OpenAPI document describes them.
//!
//! Requests mirror the `aggregates` crate's request structs (`ContractRequest`, `VerificationRequest`,
//! `TemplateRequest`) and the small bodies parsed in `src/http/api`; responses mirror the `json!` the
//! handlers build. These types exist only for the document: the domain crate stays free of HTTP
//! dependencies. Tests keep them honest: property names are compared with the domain's serde fields
//! (unit tests in `super`), and real responses are validated against these schemas
//! (`tests/integration/openapi.rs`).
//!
//! Closed vocabularies (`bizType`, `status`, ...) are components built from the domain's own lists
//! (`ALL`), so a new code appears in the document without an edit here.

use std::borrow::Cow;
use std::collections::BTreeMap;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// A string component whose allowed values are a domain vocabulary (`aggregates::values::*::ALL`).
macro_rules! vocabulary {
    ($($(#[$doc:meta])* $name:ident = $domain:ty, $description:literal;)+) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some($description))
                    .enum_values(Some(<$domain>::ALL.iter().map(|code| code.as_str())))
                    .into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    )+};
}

vocabulary! {
    VerificationBizType = aggregates::values::VerificationBizType,
        "What a face verification is for (spec 2.1.1 `bizType`).";
    ContractBizType = aggregates::values::ContractBizType,
        "What a contract is for (spec 2.1.2 `bizType`).";
    PartyType = aggregates::values::PartyType, "A signer's business role.";
    SignMethod = aggregates::values::SignMethod,
        "How a signer proves who they are before signing: `FACE_AND_SMS` (a passed face verification \
         plus an SMS code) or `CA_CERT` (a CA certificate).";
    NotifyType = aggregates::values::NotifyType,
        "How a signer receives the sign link; it decides the link's default lifetime (`H5_LINK`: 30 \
         minutes, `SMS`: 24 hours).";
    ArchiveProvider = aggregates::values::ArchiveProvider, "Who archives a signed contract.";
    ContentType = aggregates::values::ContentType, "How a template's content is written.";
    VerificationStatus = aggregates::values::VerificationStatus, "A face verification's status.";
    ContractStatus = aggregates::values::ContractStatus, "A contract's status.";
    SignStatus = aggregates::values::SignStatus, "A signer's status.";
    ArchiveStatus = aggregates::values::ArchiveStatus, "An archive record's status.";
    FailReason = aggregates::values::FailReason, "Why a face verification failed.";
}

// ---------------------------------------------------------------------------------------------------
// Shared pieces

/// Extra headers sent with the result callback (e.g. `Authorization`). Values are stored encrypted.
/// At most 20 headers; names are RFC 9110 tokens of at most 64 characters, values at most 1024
/// characters; framing headers (`Host`, `Content-Length`, ...) and the callback signature headers are
/// reserved.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct WebhookConfig {
    #[schema(examples(json!({"Authorization": "Bearer ..."})))]
    pub headers: Option<BTreeMap<String, String>>,
}

/// One invalid field of a request.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct FieldError {
    /// The field's JSON path, e.g. `signers[0].idCardNo` or `variables.payerName`; `body` for a body
    /// that is not valid JSON at all.
    #[schema(examples("signers[0].idCardNo"))]
    pub field: String,
    /// What is wrong with it.
    #[schema(examples("check digit does not match"))]
    pub reason: String,
}

/// The one error body of the API (spec section 6). `details` is present for 40001 only, `existing`
/// for 40002 only. See the error responses for each `code`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The error code: HTTP status times 100 plus a case number (40001, 40101, ...).
    #[schema(examples(40001))]
    pub code: u32,
    /// A message for the end user, in Chinese as the spec gives it.
    #[schema(examples("参数校验失败"))]
    pub message: String,
    /// 40001 only: every invalid field at once.
    #[schema(nullable = false)]
    pub details: Option<Vec<FieldError>>,
    /// 40002 only: the resource that already has this `bizId` + `bizType`, as `GET` shows it (a
    /// `Contract`, a `FaceVerification` or an `SmsNotice`).
    #[schema(nullable = false, schema_with = existing_resource)]
    pub existing: Option<serde_json::Value>,
    /// 50001 only: the verification that was created although no face provider answered; poll it
    /// (the task is retried in the background).
    #[schema(nullable = false, examples("FACE_VERIFY_20231027A1B2C3D4E5F60718"))]
    pub verification_id: Option<String>,
}

fn existing_resource() -> Schema {
    utoipa::openapi::schema::OneOfBuilder::new()
        .item(utoipa::openapi::Ref::from_schema_name(Contract::name()))
        .item(utoipa::openapi::Ref::from_schema_name(FaceVerification::name()))
        .item(utoipa::openapi::Ref::from_schema_name(SmsNotice::name()))
        .description(Some(
            "40002 only: the resource that already has this `bizId` + `bizType`, as `GET` shows it.",
        ))
        .into()
}

// ---------------------------------------------------------------------------------------------------
// Face verification (spec 2.1.1)

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

// ---------------------------------------------------------------------------------------------------
// Contracts (spec 2.1.2)

/// The body of `POST /api/v1/contract/initiate`. Every invalid field is reported at once (40001); a
/// missing or inactive template is reported first (422 / 40003).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ContractRequest {
    /// The caller's business reference. With `bizType` it makes the request idempotent: a repeat
    /// answers 409 / 40002 with the existing contract.
    #[schema(
        max_length = 64,
        pattern = "^[A-Za-z0-9_.:-]+$",
        examples("REL_202310270001")
    )]
    pub biz_id: String,
    pub biz_type: ContractBizType,
    /// The template to fill.
    #[schema(
        max_length = 64,
        pattern = "^[A-Za-z0-9_.:-]+$",
        examples("TEMPLATE_COLLECTION_V1")
    )]
    pub template_id: String,
    /// Not in the spec: pins a template version; without it the template's current active version
    /// is used.
    #[schema(max_length = 32, pattern = "^[A-Za-z0-9_.:-]+$", examples("1.0"))]
    pub template_version: Option<String>,
    /// At most 256 characters.
    #[schema(max_length = 256, examples("天财分账资金归集授权协议"))]
    pub title: String,
    #[schema(schema_with = template_variables)]
    pub variables: Option<BTreeMap<String, serde_json::Value>>,
    /// One entry per signer, within the template's `minSigners`..`maxSigners`; each `partyId` once.
    #[schema(min_items = 1)]
    pub signers: Vec<SignerRequest>,
    /// Where status changes are sent: an absolute http(s) URL of at most 1024 characters; HTTPS and
    /// a public host in production.
    #[schema(max_length = 1024, examples("https://auth-system/callback/e-sign"))]
    pub callback_url: String,
    pub webhook_config: Option<WebhookConfig>,
    /// How long the whole signing flow stays open, in days.
    #[schema(minimum = 1, maximum = 90, default = 7)]
    pub expire_days: Option<i64>,
    pub archive_config: Option<ArchiveConfigRequest>,
}

fn template_variables() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{AdditionalProperties, SchemaType};
    let value = ObjectBuilder::new().schema_type(SchemaType::from_iter([
        Type::String,
        Type::Number,
        Type::Boolean,
        Type::Null,
    ]));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "The template's variables by key: strings, numbers or booleans (at most 4096 characters \
             as text); `null` counts as absent. Every variable the template marks `required` must \
             be given.",
        ))
        .additional_properties(Some(AdditionalProperties::RefOr(value.into())))
        .examples([serde_json::json!({"payerName": "XX品牌总部", "receiverName": "上海浦东店"})])
        .build()
}

/// One signer of a new contract.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SignerRequest {
    /// The signer's business identity inside this contract.
    #[schema(
        max_length = 64,
        pattern = "^[A-Za-z0-9_.:-]+$",
        examples("RECEIVER_001")
    )]
    pub party_id: String,
    pub party_type: PartyType,
    /// At most 128 characters.
    #[schema(max_length = 128, examples("张三"))]
    pub name: String,
    /// An 18-character PRC resident ID number with a valid check digit. Stored encrypted.
    #[schema(min_length = 18, max_length = 18, examples("310101199001011234"))]
    pub id_card_no: String,
    /// A mainland mobile number. Stored encrypted.
    #[schema(pattern = "^1[3-9][0-9]{9}$", examples("13800138000"))]
    pub mobile: String,
    /// Defaults to the template's first default sign method.
    pub sign_method: Option<SignMethod>,
    /// Defaults to `H5_LINK`.
    pub notify_type: Option<NotifyType>,
    /// Signing order: 1 signs first; equal numbers sign in parallel.
    #[schema(minimum = 1, maximum = 999, default = 1)]
    pub sequence: Option<i64>,
}

/// Whether and where the signed contract is archived.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ArchiveConfigRequest {
    /// Defaults to `true` when `archiveProvider` is given, else `false`.
    pub need_archive: Option<bool>,
    /// Defaults to `TSA` when archiving is needed.
    pub archive_provider: Option<ArchiveProvider>,
}

/// A contract just created, with one sign link per signer.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ContractCreated {
    #[schema(examples("CONTRACT_202310273F2A9C01B7D4E865"))]
    pub contract_id: String,
    /// Always `CREATED`.
    pub status: ContractStatus,
    pub sign_tasks: Vec<SignTask>,
    /// When archiving was asked for: the id the archive record will have once the contract is
    /// signed and sealed; `null` otherwise.
    #[schema(required = true)]
    pub archive_info: Option<PlannedArchive>,
}

/// The archive record a contract will get.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct PlannedArchive {
    #[schema(examples("ARCHIVE_20231027A1B2C3D4E5F60718"))]
    pub archive_id: String,
    pub provider: ArchiveProvider,
    /// Always `PENDING`.
    pub status: ArchiveStatus,
}

/// A signer's sign link. The token in the URL is shown only here; the service keeps its hash.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SignTask {
    #[schema(examples("RECEIVER_001"))]
    pub party_id: String,
    /// `<publicBaseUrl>/h5/sign?token=...`.
    pub sign_url: String,
    /// `<publicBaseUrl>/s/<10 characters>`: redirects to `signUrl`, short enough for an SMS. `null`
    /// only if it could not be stored (logged); `signUrl` works regardless.
    #[schema(required = true)]
    pub short_url: Option<String>,
    /// When the link stops working (then 40004; a new one comes from
    /// `POST /api/v1/contract/{contractId}/signers/{partyId}/sign-url`).
    #[schema(format = DateTime, required = true)]
    pub expires_at: Option<String>,
    /// `data:image/png;base64,...`: a QR code of `signUrl` to show on a screen.
    #[schema(required = true)]
    pub qr_code: Option<String>,
}

/// A contract as `GET /api/v1/contract/{contractId}` shows it (spec 2.1.2 item 2).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Contract {
    pub contract_id: String,
    pub biz_id: String,
    pub biz_type: ContractBizType,
    pub template_id: String,
    pub template_version: String,
    pub title: String,
    pub status: ContractStatus,
    /// In signing order.
    pub signers: Vec<ContractSigner>,
    /// The sealed document, once produced: a signed URL that works for `[documents]
    /// download_url_ttl_seconds` (callbacks get one signed when each attempt is sent).
    #[schema(required = true)]
    pub document_url: Option<String>,
    /// The sealed document's SHA-256, once produced.
    #[schema(required = true)]
    pub document_hash: Option<String>,
    /// The first archive record (the spec's single `archiveInfo`), if any.
    #[schema(required = true)]
    pub archive_info: Option<ContractArchive>,
    /// Every archive record.
    pub archives: Vec<ContractArchive>,
    #[schema(format = DateTime, required = true)]
    pub created_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub expires_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub signed_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub revoked_at: Option<String>,
    #[schema(required = true)]
    pub revoke_reason: Option<String>,
}

/// One signer of a contract.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ContractSigner {
    pub party_id: String,
    pub party_type: PartyType,
    pub name: String,
    pub sign_status: SignStatus,
    pub sign_method: SignMethod,
    pub sequence: i64,
    #[schema(format = DateTime, required = true)]
    pub signed_at: Option<String>,
    #[schema(required = true)]
    pub transaction_no: Option<String>,
    #[schema(required = true)]
    pub ip_address: Option<String>,
    #[schema(required = true)]
    pub device_info: Option<String>,
    #[schema(required = true)]
    pub reject_reason: Option<String>,
}

/// One archive record of a contract.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ContractArchive {
    pub archive_id: String,
    pub provider: ArchiveProvider,
    pub status: ArchiveStatus,
    #[schema(format = DateTime, required = true)]
    pub archive_time: Option<String>,
    /// The archive certificate (a PDF sealed by the platform), as a short-lived signed URL.
    #[schema(required = true)]
    pub certificate_url: Option<String>,
}

/// The body of `POST /api/v1/contract/{contractId}/revoke`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct RevokeRequest {
    /// At most 512 characters.
    #[schema(max_length = 512, examples("用户要求取消"))]
    pub reason: String,
    /// Who revokes, at most 64 characters.
    #[schema(max_length = 64, examples("system_admin"))]
    pub operator: String,
}

/// How `POST /api/v1/contract/verify` finds the document to check.
#[derive(Debug, ToSchema)]
pub enum VerifyMethod {
    /// The stored sealed document of `contractId`.
    #[schema(rename = "CONTRACT_ID")]
    ContractId,
    /// `fileHash` must be the document archived under `archiveId` (or, without one, sealed for one
    /// of the caller's contracts); the stored document is then checked.
    #[schema(rename = "FILE_HASH")]
    FileHash,
    /// The uploaded PDF in `fileContent`.
    #[schema(rename = "FILE")]
    File,
}

/// The body of `POST /api/v1/contract/verify`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct VerifyRequest {
    pub method: VerifyMethod,
    /// Required with `CONTRACT_ID`.
    #[schema(examples("CONTRACT_202310273F2A9C01B7D4E865"))]
    pub contract_id: Option<String>,
    /// Required with `FILE_HASH`: `sha256:` and 64 hex digits.
    #[schema(examples("sha256:9f2c4e1a8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e"))]
    pub file_hash: Option<String>,
    /// With `FILE_HASH`: the archive record the hash must belong to.
    #[schema(examples("ARCHIVE_20231027A1B2C3D4E5F60718"))]
    pub archive_id: Option<String>,
    /// Required with `FILE`: the PDF, standard base64. The signed API's 1 MiB body limit (41300)
    /// bounds it at 768 KiB decoded; larger files are verified by `FILE_HASH`.
    #[schema(format = Byte)]
    pub file_content: Option<String>,
}

/// The verdict on a document: valid when its hash is the sealed one, every signature validates
/// against the platform root, the contract's event chain holds, its first revision is what the
/// events render to, and every archive record's evidence verifies.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ContractVerification {
    pub valid: bool,
    /// The first failed check; `null` when valid.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// The contract the document belongs to; `null` for a file no contract of the caller was
    /// sealed with.
    #[schema(required = true)]
    pub contract_id: Option<String>,
    /// `sha256:<hex>` of the document checked.
    #[schema(required = true)]
    pub document_hash: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub sealed_at: Option<String>,
    /// Whether every event of the contract's hash chain verifies.
    #[schema(required = true)]
    pub chain_intact: Option<bool>,
    /// Whether the document's first revision is byte for byte what the events render to.
    #[schema(required = true)]
    pub content_matches_events: Option<bool>,
    /// One entry per signature in the document, signers first, the platform seal last.
    pub signature_info: Vec<SignatureInfo>,
    pub archive_info: VerificationArchiveInfo,
    /// Every failed check.
    pub problems: Vec<String>,
}

/// A signature in a verified document.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SignatureInfo {
    /// The certificate subject's name (a signer, or the platform seal).
    #[schema(required = true)]
    pub signer: Option<String>,
    /// The signing time the signature claims.
    #[schema(format = DateTime, required = true)]
    pub sign_time: Option<String>,
    #[schema(required = true)]
    pub certificate_issuer: Option<String>,
    #[schema(required = true)]
    pub certificate_serial: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub valid_from: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub valid_to: Option<String>,
    /// The signature field.
    #[schema(required = true)]
    pub field: Option<String>,
    pub valid: bool,
    pub covers_whole_document: bool,
    /// The seal's timestamp authority and the time it vouches for.
    #[schema(required = true)]
    pub timestamp_authority: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub timestamp_time: Option<String>,
    /// Why the signature is not valid: `{code, message}` objects.
    pub problems: Vec<Problem>,
}

/// One reason a signature is not valid.
#[derive(Debug, ToSchema)]
pub struct Problem {
    /// A stable code, e.g. `DIGEST_MISMATCH`, `UNTRUSTED_CERTIFICATE`.
    pub code: String,
    pub message: String,
}

/// The document's archive records, each verified again.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct VerificationArchiveInfo {
    /// At least one record's evidence verified.
    pub archived: bool,
    #[schema(format = DateTime, required = true)]
    pub archive_time: Option<String>,
    /// The authority of the first verified record (a TSA, or `local-merkle-log`).
    #[schema(required = true)]
    pub timestamp_authority: Option<String>,
    pub records: Vec<VerifiedArchiveRecord>,
}

/// One archive record as verification saw it.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct VerifiedArchiveRecord {
    #[schema(required = true)]
    pub archive_id: Option<String>,
    #[schema(required = true)]
    pub provider: Option<String>,
    pub status: String,
    #[schema(format = DateTime, required = true)]
    pub archive_time: Option<String>,
    #[schema(required = true)]
    pub authority: Option<String>,
    #[schema(required = true)]
    pub transaction_no: Option<String>,
    /// `true`/`false` for a successful record's evidence; `null` for a pending or failed one.
    #[schema(required = true)]
    pub verified: Option<bool>,
    #[schema(required = true)]
    pub reason: Option<String>,
}

// ---------------------------------------------------------------------------------------------------
// Templates (spec 2.1.3)

/// The body of `POST /api/v1/template`: a template version. Every invalid field is reported at once
/// (40001).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct TemplateRequest {
    #[schema(
        max_length = 64,
        pattern = "^[A-Za-z0-9_.:-]+$",
        examples("TEMPLATE_COLLECTION_V1")
    )]
    pub template_id: String,
    /// At most 128 characters.
    #[schema(max_length = 128, examples("资金归集授权协议模板"))]
    pub name: String,
    /// The version label; a published version never changes.
    #[schema(max_length = 32, pattern = "^[A-Za-z0-9_.:-]+$", examples("1.0"))]
    pub version: String,
    #[schema(
        max_length = 32,
        pattern = "^[A-Za-z0-9_.:-]+$",
        examples("RELATIONSHIP_AGREEMENT")
    )]
    pub category: String,
    /// Not in the spec. When omitted, content starting with `{` is `COMPONENT_JSON` and anything
    /// else `HTML`.
    pub content_type: Option<ContentType>,
    /// The template text with `{{variableKey}}` placeholders, at most 1 MiB; every placeholder must
    /// be defined in `variableDefinitions`.
    #[schema(examples("<h1>资金归集授权协议</h1><p>{{payerName}} 授权 {{receiverName}}</p>"))]
    pub content: String,
    /// At most 200 entries, each `key` once.
    #[schema(max_items = 200, nullable = false)]
    pub variable_definitions: Option<Vec<VariableDefinitionRequest>>,
    pub signer_config: Option<SignerConfigRequest>,
    /// Whether contracts may start from this version. Defaults to `true`.
    pub active: Option<bool>,
}

/// One variable of a template.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct VariableDefinitionRequest {
    /// The placeholder name, as in `{{payerName}}`: a letter or `_`, then letters, digits or `_`,
    /// at most 64 characters.
    #[schema(
        max_length = 64,
        pattern = "^[A-Za-z_][A-Za-z0-9_]*$",
        examples("payerName")
    )]
    pub key: String,
    /// A display name, at most 128 characters.
    #[schema(max_length = 128, examples("付款方名称"))]
    pub name: String,
    /// Whether a contract must give it. Defaults to `false`.
    pub required: Option<bool>,
    /// At most 1024 characters.
    #[schema(max_length = 1024, examples("XX科技有限公司"))]
    pub sample: Option<String>,
}

/// How many signers a contract from the template has, and the default sign methods.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SignerConfigRequest {
    /// Defaults to 1.
    #[schema(minimum = 1, maximum = 20, default = 1)]
    pub min_signers: Option<i64>,
    /// At least `minSigners`. Defaults to 20, the most the service allows.
    #[schema(minimum = 1, maximum = 20, default = 20)]
    pub max_signers: Option<i64>,
    /// Each method once. Defaults to `["FACE_AND_SMS"]`.
    #[schema(min_items = 1)]
    pub default_sign_methods: Option<Vec<SignMethod>>,
}

/// A template version as the template endpoints show it.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Template {
    pub template_id: String,
    pub name: String,
    pub version: String,
    pub category: String,
    pub content_type: ContentType,
    pub content: String,
    pub variable_definitions: Vec<VariableDefinition>,
    #[schema(required = true)]
    pub signer_config: Option<SignerConfig>,
    /// Whether contracts may start from this version.
    pub active: bool,
    /// The client that published the version (`client:<id>`-style actor id).
    #[schema(required = true)]
    pub created_by: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub created_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub updated_at: Option<String>,
}

/// One variable of a published template.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct VariableDefinition {
    pub key: String,
    pub name: String,
    pub required: bool,
    #[schema(nullable = false)]
    pub sample: Option<String>,
}

/// A published template's signer rules.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SignerConfig {
    pub min_signers: u32,
    pub max_signers: u32,
    pub default_sign_methods: Vec<SignMethod>,
}

// ---------------------------------------------------------------------------------------------------
// Payment-verification notices

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

// ---------------------------------------------------------------------------------------------------
// Audit trails

/// A stream's audit trail: every event with its metadata and hash, and whether the hash chain holds.
/// Personal data in payloads is masked.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AuditTrail {
    /// `<aggregate>-<id>`, e.g. `contract-CONTRACT_202310270001`.
    pub stream_id: String,
    /// Whether every link of the chain verifies.
    pub chain_intact: bool,
    pub events: Vec<AuditEvent>,
}

/// One event of an audit trail.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AuditEvent {
    pub global_position: i64,
    /// 1 for the stream's first event.
    pub stream_version: u64,
    #[schema(format = DateTime)]
    pub recorded_at: String,
    #[schema(examples("ContractInitiated"))]
    pub event_type: String,
    pub schema_version: u32,
    #[schema(format = "uuid")]
    pub event_id: String,
    pub metadata: AuditMetadata,
    /// The event's payload with personal data masked.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Hex SHA-256 of the previous event (zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 of this event.
    pub hash: String,
    /// `ok`, or what is wrong with this link (`BROKEN: ...`).
    #[schema(examples("ok"))]
    pub chain: String,
}

/// Who did what, from where. Absent fields were not known.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AuditMetadata {
    /// `client:<id>`, `signer:<partyId>`, `provider:<name>`, `system:<job>` or `operator:<name>`.
    #[schema(examples("client:erp"))]
    pub actor: String,
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    #[schema(nullable = false)]
    pub ip: Option<String>,
    #[schema(nullable = false)]
    pub user_agent: Option<String>,
    /// The request's `X-Request-Id`.
    #[schema(nullable = false)]
    pub correlation_id: Option<String>,
    #[schema(nullable = false)]
    pub causation_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------------
// Health

/// The process runs.
#[derive(Debug, ToSchema)]
pub struct Health {
    #[schema(examples("ok"))]
    pub status: String,
}

/// Whether the database answers.
#[derive(Debug, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    #[schema(examples("ready"))]
    pub status: String,
    /// The storage backend: `sqlite` or `postgres`.
    #[schema(examples("postgres"))]
    pub database: String,
}

/// The outbox listing of `GET /api/v1/admin/callbacks`.
#[derive(Debug, ToSchema)]
pub struct CallbackList {
    pub callbacks: Vec<CallbackRecord>,
}

/// One callback (or broker publication) with its delivery attempts.
#[derive(Debug, ToSchema)]
pub struct CallbackDetail {
    pub callback: CallbackRecord,
    pub attempts: Vec<CallbackAttempt>,
}

/// A callback or broker publication as operators see it; the body is not shown.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct CallbackRecord {
    /// The row id used by `redeliver`.
    pub id: i64,
    /// Sent as `X-Esign-Event-Id` (JetStream `Nats-Msg-Id`), the same on every attempt.
    #[schema(format = "uuid")]
    pub event_id: String,
    #[schema(examples("ContractStatusChangedEvent"))]
    pub event_type: String,
    /// `callback` or `nats`.
    pub destination: String,
    pub stream_id: String,
    pub stream_version: i64,
    pub client_id: String,
    /// The callback URL, or the broker subject.
    pub target: String,
    /// PENDING, DELIVERING, DELIVERED or DEAD.
    pub status: String,
    pub attempts: i64,
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: Option<String>,
    #[schema(format = DateTime)]
    pub delivered_at: Option<String>,
    #[schema(format = DateTime)]
    pub dead_at: Option<String>,
}

/// One delivery attempt.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct CallbackAttempt {
    pub attempt: i64,
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    pub latency_ms: i64,
    /// The receiver's HTTP status, when it answered.
    pub http_status: Option<i64>,
    /// DELIVERED, FAILED (will retry) or DEAD (the last attempt failed).
    pub outcome: String,
    pub error: Option<String>,
    /// The service instance that made the attempt.
    pub instance: String,
}
