//! Contracts (spec 2.1.2).

use super::*;

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
    /// The template to fill; required unless the contract is made from `documents`, and refused
    /// with them.
    #[schema(
        max_length = 64,
        pattern = "^[A-Za-z0-9_.:-]+$",
        examples("TEMPLATE_COLLECTION_V1")
    )]
    pub template_id: Option<String>,
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
    /// The caller's own PDFs instead of a template (docs/documents.md, "Uploaded documents"):
    /// one document per contract so far. Each signer then gives `places`. The request body may
    /// then be up to about 14.3 MiB.
    #[schema(max_items = 1)]
    pub documents: Option<Vec<DocumentRequest>>,
}

/// A PDF the contract is made from.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct DocumentRequest {
    /// Shown to the signers, e.g. the file name; at most 128 characters.
    #[schema(max_length = 128, examples("采购合同.pdf"))]
    pub name: String,
    /// The PDF in base64 (standard alphabet, padded), at most 10 MiB decoded and 500 pages; not
    /// encrypted and not signed already.
    #[schema(examples("JVBERi0xLjcK..."))]
    pub content_base64: String,
}

/// Where a signer signs on an uploaded document: `anchor` text, or `page` with `x` and `y`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct PlaceRequest {
    /// 1-based document number; defaults to 1. A signer has at most one place per document.
    #[schema(minimum = 1, default = 1)]
    pub document: Option<i64>,
    /// 1-based page: required with `x` and `y`; with `anchor`, the page the text is looked for
    /// on.
    #[schema(minimum = 1)]
    pub page: Option<i64>,
    /// The box's lower-left corner in points (1/72 inch) from the page's bottom-left corner.
    #[schema(examples(320))]
    pub x: Option<f64>,
    #[schema(examples(90))]
    pub y: Option<f64>,
    /// The box's size in points, 20 to 600; defaults to 150 × 60 for a handwritten signature,
    /// 120 × 120 for a seal, 240 × 120 for a seal with a signature.
    #[schema(minimum = 20, maximum = 600)]
    pub width: Option<f64>,
    #[schema(minimum = 20, maximum = 600)]
    pub height: Option<f64>,
    /// Text in the document (关键字定位); the box is centred on its first occurrence. White space
    /// is ignored, and full-width brackets match half-width ones.
    #[schema(max_length = 64, examples("甲方（盖章）"))]
    pub anchor: Option<String>,
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
    /// Defaults to `H5_LINK`. `SMS`: the signer is also texted a short link to their sign URL when
    /// their turn comes (docs/sms.md, "Signing invitations").
    pub notify_type: Option<NotifyType>,
    /// Signing order: 1 signs first; equal numbers sign in parallel.
    #[schema(minimum = 1, maximum = 999, default = 1)]
    pub sequence: Option<i64>,
    /// Minutes each of this signer's sign links lives (spec 4.2.3), 1 to 129600 (90 days); never
    /// beyond the contract's deadline. Defaults to the configured lifetime for `notifyType`
    /// (`[contracts] h5_link_minutes`, 30, and `sms_link_minutes`, 1440).
    #[schema(minimum = 1, maximum = 129600)]
    pub link_expire_minutes: Option<i64>,
    /// Present when the signer is an organisation: `name`, `idCardNo` and `mobile` are then the
    /// person who signs for it (docs/seals.md).
    pub organization: Option<SignerOrganizationRequest>,
    /// Where the signer signs on the uploaded `documents`; only with them, and then required.
    pub places: Option<Vec<PlaceRequest>>,
}

/// The organisation a signer signs for, and the registered seal applied in its name.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SignerOrganizationRequest {
    /// The organisation's registered name.
    #[schema(max_length = 128, examples("XX品牌总部"))]
    pub name: String,
    /// The unified social credit code (统一社会信用代码), its 18th character the GB 32100 check
    /// character.
    #[schema(
        min_length = 18,
        max_length = 18,
        pattern = "^[0-9A-HJ-NP-RTUW-Ya-hj-np-rtuw-y]{18}$",
        examples("91350100M000100Y43")
    )]
    pub credit_code: String,
    /// A seal registered for this organisation and active.
    #[schema(max_length = 64, examples("SEAL_20261207A1B2C3D4"))]
    pub seal_id: String,
    /// Defaults to `AUTHORIZED_AGENT`.
    pub agent_role: Option<AgentRole>,
    /// Defaults to `SEAL`.
    pub appearance: Option<SealAppearance>,
}

/// Whether and where the signed contract is archived.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ArchiveConfigRequest {
    /// Defaults to `true` when a provider is given, else `false`.
    pub need_archive: Option<bool>,
    /// One provider (the spec's form). Defaults to `TSA` when archiving is needed and neither
    /// this nor `archiveProviders` names one.
    pub archive_provider: Option<ArchiveProvider>,
    /// Several providers, distinct, each archiving the document on its own (spec 4.2.5: 同一协议
    /// 可多提供商存证); instead of `archiveProvider`, not with it.
    #[schema(min_items = 1, max_items = 3)]
    pub archive_providers: Option<Vec<ArchiveProvider>>,
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
    /// When archiving was asked for: the first provider's record as it will be once the contract
    /// is signed and sealed; `null` otherwise.
    #[schema(required = true)]
    pub archive_info: Option<PlannedArchive>,
    /// Every provider's record, in the order asked (empty without archiving).
    pub archives: Vec<PlannedArchive>,
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
    /// `null` for a contract made from uploaded documents.
    #[schema(required = true)]
    pub template_id: Option<String>,
    #[schema(required = true)]
    pub template_version: Option<String>,
    pub title: String,
    pub status: ContractStatus,
    /// The uploaded documents it is made from; `null` for a template contract.
    #[schema(required = true)]
    pub documents: Option<Vec<ContractDocument>>,
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

/// An uploaded document of a contract.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ContractDocument {
    /// 1-based, as `places` name it.
    pub document: i64,
    pub name: String,
    /// SHA-256 of the PDF as uploaded.
    pub upload_hash: String,
    /// SHA-256 of the document every signer signs: the upload with the signature fields added.
    pub content_hash: String,
    pub size_bytes: i64,
    pub page_count: i64,
}

/// Where a signer signs on an uploaded document.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ContractPlace {
    pub document: i64,
    pub page: i64,
    /// `[x1, y1, x2, y2]` in points from the page's bottom-left corner.
    #[schema(min_items = 4, max_items = 4)]
    pub rect: Vec<f64>,
    /// The text the place was found over, when given by anchor.
    pub anchor: Option<String>,
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
    /// `PERSON` or `ORGANIZATION`.
    #[schema(examples("PERSON"))]
    pub signer_type: String,
    /// The organisation this signer signs for; `null` for a person.
    #[schema(required = true)]
    pub organization: Option<ContractOrganization>,
    /// Where they sign on the uploaded documents; `null` for a template contract.
    #[schema(required = true)]
    pub places: Option<Vec<ContractPlace>>,
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

/// The organisation a contract's signer signs for, and the seal version pinned at initiation.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ContractOrganization {
    pub name: String,
    pub credit_code: String,
    pub agent_role: AgentRole,
    pub appearance: SealAppearance,
    pub seal_id: String,
    #[schema(minimum = 1)]
    pub seal_version: i64,
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
    /// Attempts since the first request or since an operator last ordered a retry.
    #[schema(minimum = 0)]
    pub attempts: i64,
    /// Why the last attempt failed (FAILED only).
    #[schema(required = true)]
    pub fail_reason: Option<String>,
    /// FAILED with its attempts used up: the sweep leaves it to an operator
    /// (`POST /api/v1/admin/contracts/{contractId}/archives/retry`, `esign archives retry`). Shown
    /// by the `GET`s, not in callbacks (it depends on the configuration when read).
    pub awaiting_operator: Option<bool>,
    /// When the sweep tries a FAILED record next; `null` otherwise. Shown by the `GET`s, not in
    /// callbacks.
    #[schema(format = DateTime)]
    pub next_retry_at: Option<String>,
}

/// A contract's archive records, as operators read them.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ArchiveRecords {
    #[schema(examples("CONTRACT_202310273F2A9C01B7D4E865"))]
    pub contract_id: String,
    pub archives: Vec<ContractArchive>,
}

/// The body of `POST /api/v1/admin/contracts/{contractId}/archives/retry`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ArchiveRetryRequest {
    /// Only this provider's record; without it every FAILED record of the contract.
    pub provider: Option<ArchiveProvider>,
    /// Who orders the retry, at most 64 characters (recorded in the audit trail).
    #[schema(max_length = 64, examples("ops_zhang"))]
    pub operator: String,
    /// Why, at most 512 characters.
    #[schema(max_length = 512)]
    pub reason: Option<String>,
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

/// The body of `POST /api/v1/admin/contracts/{contractId}/force`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ForceRequest {
    /// Where the contract ends: `EXPIRED` or `REVOKED`.
    #[schema(pattern = "^(EXPIRED|REVOKED)$", examples("EXPIRED"))]
    pub status: String,
    /// Why, for the audit trail; at most 512 characters.
    #[schema(max_length = 512, examples("签署方已注销，流程无法继续"))]
    pub reason: String,
    /// The person who decided, at most 64 characters.
    #[schema(max_length = 64, examples("ops_zhang"))]
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
    /// One entry per signature in the document, in document order: signers first, the platform
    /// seal last.
    pub signature_info: Vec<SignatureInfo>,
    pub archive_info: VerificationArchiveInfo,
    /// Every failed check.
    pub problems: Vec<String>,
    /// What the checks conclude, in one word; `VALID` exactly when `valid` is true.
    pub verdict: VerificationVerdict,
    /// `sha256:<hex>` of the document sealed for the contract; `null` when it has none (or no
    /// contract of the caller was found for the file).
    #[schema(required = true)]
    pub sealed_document_hash: Option<String>,
    /// Whether the checked file is the sealed document (`documentHash` equals
    /// `sealedDocumentHash`); `null` when there is no sealed document to compare with.
    #[schema(required = true)]
    pub hash_matches_sealed: Option<bool>,
    /// Whether every signature in the checked file validates and the last one covers the whole
    /// file; `null` when no file was checked (the contract is not sealed yet).
    #[schema(required = true)]
    pub signatures_valid: Option<bool>,
}

/// The one-word verdict of `POST /api/v1/contract/verify`, most specific failure first.
#[derive(Debug, ToSchema)]
pub enum VerificationVerdict {
    /// The file is the sealed document and every check passed.
    #[schema(rename = "VALID")]
    Valid,
    /// The contract has no sealed document yet.
    #[schema(rename = "NOT_SEALED")]
    NotSealed,
    /// A signature in the file does not validate, or bytes follow the last one.
    #[schema(rename = "TAMPERED")]
    Tampered,
    /// The file is not the document sealed for the contract (its SHA-256 differs), or no contract
    /// of the caller was sealed with it.
    #[schema(rename = "FILE_MISMATCH")]
    FileMismatch,
    /// The file is the sealed one but the record does not hold: the event chain, the content or
    /// the archive evidence.
    #[schema(rename = "RECORD_BROKEN")]
    RecordBroken,
    /// Not valid for another reason (see `problems`).
    #[schema(rename = "INVALID")]
    Invalid,
}

/// What kind of signature a `signatureInfo` entry is.
#[derive(Debug, ToSchema)]
pub enum SignatureKind {
    /// A signer's signature.
    #[schema(rename = "SIGNER_SIGNATURE")]
    SignerSignature,
    /// The platform seal (the `PlatformSeal` field), timestamped.
    #[schema(rename = "PLATFORM_SEAL")]
    PlatformSeal,
    /// An RFC 3161 document timestamp.
    #[schema(rename = "DOCUMENT_TIMESTAMP")]
    DocumentTimestamp,
}

/// A signature in a verified document. Times are RFC 3339 in UTC.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SignatureInfo {
    /// The certificate subject's common name (a signer, or the platform seal's certificate),
    /// else the signature dictionary's `/Name`. See `signedBy` for the name to show.
    #[schema(required = true)]
    pub signer: Option<String>,
    /// The signing time the signature claims (`/M`): unproven, the same as `claimedTime`. The
    /// proven time is `provenTime`.
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
    /// The authority of the signature's RFC 3161 timestamp (the seal's), when one verified.
    #[schema(required = true)]
    pub timestamp_authority: Option<String>,
    /// The time that timestamp vouches for; the same as `provenTime`.
    #[schema(format = DateTime, required = true)]
    pub timestamp_time: Option<String>,
    /// Why the signature is not valid: `{code, message}` objects.
    pub problems: Vec<Problem>,
    /// The signature's place in the document, from 1, in the order the revisions were written.
    #[schema(minimum = 1, examples(1))]
    pub index: u32,
    pub kind: SignatureKind,
    /// Who signed, as it should be shown: a signer's name as the certificate (or the signature
    /// dictionary) gives it; the platform seal as `平台签章 (<certificate name>)`; a document
    /// timestamp as `文档时间戳 (<authority>)`.
    #[schema(required = true, examples("平台签章 (esign Platform Seal)"))]
    pub signed_by: Option<String>,
    /// The time the signature's RFC 3161 timestamp proves (a document timestamp's own time);
    /// `null` when the signature has no timestamp that verified. Never the claimed time.
    #[schema(format = DateTime, required = true)]
    pub proven_time: Option<String>,
    /// `/M`: the time the signer claims, not proven by anything.
    #[schema(format = DateTime, required = true)]
    pub claimed_time: Option<String>,
    /// The certificate's subject as far as it says: `CN=..., SERIALNUMBER=..., O=...` (a
    /// signer's serial number is the masked ID number).
    #[schema(required = true, examples("CN=esign Platform Seal, O=esign"))]
    pub certificate_subject: Option<String>,
    /// The certificate's issuer: `CN=..., O=...`.
    #[schema(required = true, examples("CN=esign Signing CA, O=esign"))]
    pub certificate_issuer_name: Option<String>,
    /// Why the signature is not valid, in one line (the first of `problems`); `null` when valid.
    #[schema(required = true)]
    pub invalid_reason: Option<String>,
    /// Whether the document carries long-term validation data for this signature: a document
    /// security store (`/DSS`) with certificates and CRLs or OCSP responses, added after it.
    pub ltv_data_present: bool,
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
