//! Templates (spec 2.1.3).

use super::*;

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
    /// be defined in `variableDefinitions`. It may mark where the signers of a party type sign:
    /// `<esign-signature party-type="PAYER"></esign-signature>` in HTML, a component
    /// `{"type": "signature", "partyType": "PAYER"}` in component JSON; each party type at most once.
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
