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

mod contracts;
mod notices;
mod operations;
mod seals;
mod templates;
mod verifications;

pub use contracts::*;
pub use notices::*;
pub use operations::*;
pub use seals::*;
pub use templates::*;
pub use verifications::*;

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
    AgentRole = aggregates::values::AgentRole,
        "In what capacity the person signing for an organisation acts: its legal representative \
         (法定代表人) or a person it authorised (经办人).";
    SealAppearance = aggregates::values::SealAppearance,
        "What an organisation's signature shows: `SEAL` (the seal alone) or \
         `SEAL_AND_HANDWRITTEN` (the seal beside the acting person's handwritten signature).";
    ArchiveProvider = aggregates::values::ArchiveProvider, "Who archives a signed contract.";
    ContentType = aggregates::values::ContentType, "How a template's content is written.";
    VerificationStatus = aggregates::values::VerificationStatus, "A face verification's status.";
    ContractStatus = aggregates::values::ContractStatus, "A contract's status.";
    SignStatus = aggregates::values::SignStatus, "A signer's status.";
    ArchiveStatus = aggregates::values::ArchiveStatus, "An archive record's status.";
    FailReason = aggregates::values::FailReason, "Why a face verification failed.";
    SealKind = aggregates::values::SealKind,
        "What a company seal is for: `OFFICIAL` (公章), `CONTRACT` (合同专用章) or `FINANCE` (财务专用章).";
    SealImageSource = aggregates::values::SealImageSource,
        "Where a seal version's picture came from: `UPLOADED` or `DRAWN` by esign.";
}

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
