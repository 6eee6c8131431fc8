//! Organisations and their company seals (docs/seals.md): administrators only.

use super::*;

/// The body of `POST /api/v1/admin/organizations`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct OrganizationRequest {
    /// The registered name (企业名称), 1 to 128 characters; drawn seals carry it.
    #[schema(max_length = 128, examples("天财商龙科技有限公司"))]
    pub name: String,
    /// The unified social credit code (统一社会信用代码): 18 characters, the last its check
    /// character (GB 32100-2015).
    #[schema(
        min_length = 18,
        max_length = 18,
        pattern = "^[0-9A-HJ-NP-RTUW-Ya-hj-np-rtuw-y]{18}$",
        examples("91350100M000100Y43")
    )]
    pub credit_code: String,
    /// Who registers it, at most 64 characters; the client's id when omitted.
    #[schema(max_length = 64, nullable = false, examples("ops_zhang"))]
    pub operator: Option<String>,
}

/// A registered organisation and its seals.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Organization {
    #[schema(examples("91350100M000100Y43"))]
    pub credit_code: String,
    #[schema(examples("天财商龙科技有限公司"))]
    pub name: String,
    /// The administrator client that registered it.
    pub client_id: String,
    pub operator: String,
    #[schema(format = DateTime)]
    pub registered_at: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Its seals, oldest first (without their versions).
    pub seals: Vec<Seal>,
}

/// The body of `POST /api/v1/admin/organizations/{creditCode}/seals`. Give `imageBase64` or
/// `draw: true`, not both.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SealRequest {
    pub kind: SealKind,
    /// The seal's display name, at most 128 characters.
    #[schema(max_length = 128, examples("合同专用章"))]
    pub name: String,
    /// A PNG with a transparent background, base64 (a `data:image/png;base64,` prefix is
    /// accepted): at most 1 MiB decoded (and the request body at most 1 MiB), sides of 100 to
    /// 2000 pixels.
    #[schema(nullable = false)]
    pub image_base64: Option<String>,
    /// `true`: esign draws the standard round red seal from the organisation's name and the kind.
    #[schema(nullable = false)]
    pub draw: Option<bool>,
    /// Who makes it, at most 64 characters.
    #[schema(max_length = 64, examples("ops_zhang"))]
    pub operator: String,
}

/// The body of `POST /api/v1/admin/seals/{sealId}/versions`: a new picture, uploaded or drawn.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SealVersionRequest {
    /// As in `SealRequest`.
    #[schema(nullable = false)]
    pub image_base64: Option<String>,
    #[schema(nullable = false)]
    pub draw: Option<bool>,
    #[schema(max_length = 64, examples("ops_zhang"))]
    pub operator: String,
}

/// The body of `POST /api/v1/admin/seals/{sealId}/activate` and `/deactivate`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SealSwitchRequest {
    #[schema(max_length = 64, examples("ops_zhang"))]
    pub operator: String,
    /// At most 512 characters.
    #[schema(max_length = 512, examples("印章遗失，停用"))]
    pub reason: String,
}

/// A company seal and its current version; `versions` lists every version when one seal is read.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Seal {
    #[schema(examples("SEAL_20251207A1B2C3D4E5F60718"))]
    pub seal_id: String,
    pub credit_code: String,
    pub organization_name: String,
    pub kind: SealKind,
    /// The kind as engraved: 公章, 合同专用章 or 财务专用章.
    #[schema(examples("合同专用章"))]
    pub kind_label: String,
    pub name: String,
    /// The version in use.
    pub version: u32,
    /// Hex SHA-256 of the current version's PNG.
    pub image_hash: String,
    pub width: u32,
    pub height: u32,
    /// Whether contracts may use it.
    pub active: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[schema(nullable = false)]
    pub versions: Option<Vec<SealVersion>>,
}

/// One immutable version of a seal's picture.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SealVersion {
    pub version: u32,
    pub image_hash: String,
    pub width: u32,
    pub height: u32,
    pub byte_length: u64,
    pub source: SealImageSource,
    pub operator: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}
