//! Organisations and their company seals (docs/seals.md): administrators register a company by its
//! unified social credit code, make its seals (公章, 合同专用章, 财务专用章) from an uploaded PNG or
//! drawn by esign, add picture versions and take seals out of use and back.
//!
//! Pictures are checked ([`check_seal_png`]) before anything is written, stored encrypted in the
//! document store under `seals/<sealId>/<sha256>.png`, and only then recorded in the seal's stream,
//! so an event never names a picture that is not stored.
//!
//! For the contract side: [`seal_facts`] (what a signer's `organization.sealId` names) and
//! [`seal_image`] (the picture of a version, by its hash).

use aggregates::Aggregate;
use aggregates::organization::{
    OrganizationAggregate, OrganizationCommand, OrganizationFacts, RegisterOrganization,
};
use aggregates::seal::{
    AddSealVersion, CreateSeal, SealAggregate, SealCommand, SealFacts, SealImage, SwitchSeal,
};
use aggregates::values::{CreditCode, Digest, SealId, SealImageSource, SealKind};
use aggregates::{ValidationErrors, seal::SealError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

use super::pipeline::CommandError;
use super::{AppError, Caller, Services};
use crate::documents::company_seal::{
    DrawError, SealPicture, check_seal_png, draw_round_seal, storage_key,
};
use crate::read::audit::Timeline;
use crate::store::StreamId;

/// The stream of the organisation with this credit code.
pub fn organization_stream(credit_code: &CreditCode) -> StreamId {
    StreamId::new(OrganizationAggregate::NAME, credit_code.as_str())
}

/// The stream of this seal.
pub fn seal_stream(seal_id: &SealId) -> StreamId {
    StreamId::new(SealAggregate::NAME, seal_id.as_str())
}

/// `POST /admin/organizations`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationRequest {
    pub name: Option<String>,
    pub credit_code: Option<String>,
    /// Who registers it; the administrator client's id when absent.
    pub operator: Option<String>,
}

/// A seal's picture as a request gives it: `imageBase64` (a PNG in base64, a
/// `data:image/png;base64,` prefix accepted) or `draw: true` to have esign draw it, exactly one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PictureRequest {
    pub image_base64: Option<String>,
    pub draw: Option<bool>,
}

/// `POST /admin/organizations/{creditCode}/seals`: a new seal, its picture uploaded or drawn.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealRequest {
    pub kind: Option<String>,
    pub name: Option<String>,
    #[serde(flatten)]
    pub picture: PictureRequest,
    pub operator: Option<String>,
}

/// `POST /admin/seals/{sealId}/versions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealVersionRequest {
    #[serde(flatten)]
    pub picture: PictureRequest,
    pub operator: Option<String>,
}

/// `POST /admin/seals/{sealId}/activate` and `/deactivate`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealSwitchRequest {
    pub operator: Option<String>,
    pub reason: Option<String>,
}

/// Registers an organisation (administrators only) and answers it with its seals. Registering a
/// known credit code under the same name answers the organisation as it is; under another name is
/// a conflict.
pub async fn register_organization(
    services: &Services,
    caller: &Caller,
    request: &OrganizationRequest,
) -> Result<Value, AppError> {
    caller.require_admin("register an organisation")?;
    let client_id = caller.domain_id()?;
    let now = Utc::now();
    let command = || {
        OrganizationCommand::Register(RegisterOrganization {
            credit_code: request.credit_code.clone().unwrap_or_default(),
            name: request.name.clone().unwrap_or_default(),
            client_id: client_id.clone(),
            operator: request
                .operator
                .clone()
                .unwrap_or_else(|| caller.client_id.clone()),
            now,
        })
    };
    // Without a valid code there is no stream; deciding on the empty state names every bad field.
    let Some(credit_code) = request
        .credit_code
        .as_deref()
        .and_then(|code| CreditCode::parse(code).ok())
    else {
        return Err(
            match OrganizationAggregate::decide(&Default::default(), command()) {
                Err(error) => CommandError::Domain(error).into(),
                Ok(_) => AppError::internal("an organisation without a valid code was accepted"),
            },
        );
    };
    services
        .pipeline
        .execute::<OrganizationAggregate>(
            &organization_stream(&credit_code),
            &caller.metadata,
            |_| command(),
        )
        .await?;
    organization_view(services, credit_code.as_str()).await
}

/// The organisation and its seals (administrators only).
pub async fn organization(
    services: &Services,
    caller: &Caller,
    credit_code: &str,
) -> Result<Value, AppError> {
    caller.require_admin("read an organisation")?;
    let credit_code = CreditCode::parse(credit_code).map_err(|_| AppError::NotFound)?;
    organization_view(services, credit_code.as_str()).await
}

async fn organization_view(services: &Services, credit_code: &str) -> Result<Value, AppError> {
    let reads = services.store.seals();
    let row = reads
        .organization(credit_code)
        .await?
        .ok_or(AppError::NotFound)?;
    let seals = reads.of_organization(credit_code).await?;
    Ok(crate::read::views::organization(&row, &seals))
}

/// The registered organisation with this credit code, as a seal's command needs it.
async fn organization_facts(
    services: &Services,
    credit_code: &CreditCode,
) -> Result<Option<OrganizationFacts>, AppError> {
    let loaded = services
        .pipeline
        .load::<OrganizationAggregate>(&organization_stream(credit_code))
        .await?;
    Ok(loaded
        .state
        .organization()
        .map(aggregates::organization::Organization::facts))
}

/// A checked picture and its bytes, or why the request's picture fields are wrong.
struct Picture {
    bytes: Vec<u8>,
    checked: SealPicture,
    source: SealImageSource,
}

impl Picture {
    fn image(&self) -> SealImage {
        SealImage {
            hash: self.checked.hash.clone(),
            width: self.checked.width,
            height: self.checked.height,
            byte_length: self.checked.byte_length,
            source: self.source,
        }
    }
}

/// The picture a request gives: decoded and checked, or drawn for `organization` when it asks
/// for a drawing (and the kind is known). Bad fields are added to `errors`.
fn picture(
    request: &PictureRequest,
    drawing: Option<(&OrganizationFacts, SealKind)>,
    errors: &mut ValidationErrors,
) -> Result<Option<Picture>, AppError> {
    match (
        request.image_base64.as_deref(),
        request.draw.unwrap_or(false),
    ) {
        (Some(_), true) => {
            errors.push(
                "imageBase64",
                "give either imageBase64 or draw: true, not both",
            );
            Ok(None)
        }
        (None, false) => {
            errors.push("imageBase64", "is required unless draw is true");
            Ok(None)
        }
        (Some(encoded), false) => {
            let encoded = encoded
                .strip_prefix("data:image/png;base64,")
                .unwrap_or(encoded);
            let Ok(bytes) = STANDARD.decode(encoded.trim()) else {
                errors.push("imageBase64", "is not base64");
                return Ok(None);
            };
            match check_seal_png(&bytes) {
                Ok(checked) => Ok(Some(Picture {
                    bytes,
                    checked,
                    source: SealImageSource::Uploaded,
                })),
                Err(error) => {
                    errors.push("imageBase64", error);
                    Ok(None)
                }
            }
        }
        (None, true) => {
            // Without a valid kind there is nothing to draw; the kind's own error says why.
            let Some((organization, kind)) = drawing else {
                return Ok(None);
            };
            let bytes = match draw_round_seal(&organization.name, kind.label()) {
                Ok(bytes) => bytes,
                Err(error @ DrawError::MissingGlyph(_)) => {
                    errors.push("draw", error);
                    return Ok(None);
                }
                Err(other) => return Err(AppError::internal(other)),
            };
            // A drawing that fails the upload rules is a bug in the drawing, not the caller's.
            let checked = check_seal_png(&bytes).map_err(AppError::internal)?;
            Ok(Some(Picture {
                bytes,
                checked,
                source: SealImageSource::Drawn,
            }))
        }
    }
}

/// Stores a picture encrypted under its seal and hash.
async fn store_picture(
    services: &Services,
    seal_id: &SealId,
    picture: &Picture,
) -> Result<(), AppError> {
    services
        .documents
        .put(&storage_key(seal_id, &picture.checked.hash), &picture.bytes)
        .await
        .map_err(AppError::internal)?;
    Ok(())
}

/// The validation errors of `command` decided on the empty state, merged into `errors`.
fn merge_domain_errors(errors: &mut ValidationErrors, decided: Result<Vec<impl Sized>, SealError>) {
    if let Err(SealError::Invalid(more)) = decided {
        for field in more.fields() {
            errors.push(field.field.clone(), &field.reason);
        }
    }
}

/// Makes a seal of the organisation (administrators only), its first picture uploaded or drawn
/// from the organisation's name and the kind; answers the seal with its versions.
pub async fn create_seal(
    services: &Services,
    caller: &Caller,
    credit_code: &str,
    request: &SealRequest,
) -> Result<Value, AppError> {
    caller.require_admin("create a seal")?;
    let credit_code = CreditCode::parse(credit_code).map_err(|_| AppError::NotFound)?;
    let organization = organization_facts(services, &credit_code)
        .await?
        .ok_or(AppError::NotFound)?;
    let kind = request
        .kind
        .as_deref()
        .and_then(|kind| SealKind::parse(kind.trim()).ok());
    let mut errors = ValidationErrors::new();
    let picture = picture(
        &request.picture,
        kind.map(|kind| (&organization, kind)),
        &mut errors,
    )?;
    let seal_id = SealId::parse(&super::ids::new_id("SEAL")).map_err(AppError::internal)?;
    let now = Utc::now();
    let command = |image: SealImage| {
        SealCommand::Create(CreateSeal {
            seal_id: seal_id.clone(),
            credit_code: credit_code.to_string(),
            organization: Some(organization.clone()),
            kind: request.kind.clone().unwrap_or_default(),
            name: request.name.clone().unwrap_or_default(),
            image,
            operator: request.operator.clone().unwrap_or_default(),
            now,
        })
    };
    let Some(picture) = picture.filter(|_| errors.is_empty()) else {
        // Every bad field together: the picture's and the command's own.
        merge_domain_errors(
            &mut errors,
            SealAggregate::decide(&Default::default(), command(placeholder_image()?)),
        );
        return Err(AppError::Validation(errors));
    };
    // The other fields are checked before the picture is stored, so bad input stores nothing.
    SealAggregate::decide(&Default::default(), command(picture.image()))
        .map_err(|error| AppError::from(CommandError::Domain(error)))?;
    store_picture(services, &seal_id, &picture).await?;
    services
        .pipeline
        .execute::<SealAggregate>(&seal_stream(&seal_id), &caller.metadata, |_| {
            command(picture.image())
        })
        .await?;
    seal_view(services, seal_id.as_str()).await
}

/// Facts standing in for a picture when only the other fields are being checked.
fn placeholder_image() -> Result<SealImage, AppError> {
    Ok(SealImage {
        hash: Digest::parse(&"0".repeat(64)).map_err(AppError::internal)?,
        width: 0,
        height: 0,
        byte_length: 0,
        source: SealImageSource::Uploaded,
    })
}

/// Adds a picture version to a seal (administrators only); it becomes the one in use.
pub async fn add_version(
    services: &Services,
    caller: &Caller,
    seal_id: &str,
    request: &SealVersionRequest,
) -> Result<Value, AppError> {
    caller.require_admin("add a seal version")?;
    let seal_id = SealId::parse(seal_id).map_err(|_| AppError::NotFound)?;
    let loaded = services
        .pipeline
        .load::<SealAggregate>(&seal_stream(&seal_id))
        .await?;
    let seal = loaded.state.seal().ok_or(AppError::NotFound)?;
    let organization = OrganizationFacts {
        credit_code: seal.credit_code.clone(),
        name: seal.organization_name.clone(),
    };
    let mut errors = ValidationErrors::new();
    let operator = request.operator.clone().unwrap_or_default();
    errors.check("operator", aggregates::values::Operator::parse(&operator));
    let picture = picture(
        &request.picture,
        Some((&organization, seal.kind)),
        &mut errors,
    )?;
    let Some(picture) = picture.filter(|_| errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let now = Utc::now();
    let command = || {
        SealCommand::AddVersion(AddSealVersion {
            seal_id: seal_id.clone(),
            image: picture.image(),
            operator: operator.clone(),
            now,
        })
    };
    // Refused versions (the same picture again) store nothing.
    SealAggregate::decide(&loaded.state, command())
        .map_err(|error| AppError::from(CommandError::Domain(error)))?;
    store_picture(services, &seal_id, &picture).await?;
    services
        .pipeline
        .execute::<SealAggregate>(&seal_stream(&seal_id), &caller.metadata, |_| command())
        .await?;
    seal_view(services, seal_id.as_str()).await
}

/// Takes a seal out of use (`activate` false) or back into use (administrators only).
pub async fn switch(
    services: &Services,
    caller: &Caller,
    seal_id: &str,
    request: &SealSwitchRequest,
    activate: bool,
) -> Result<Value, AppError> {
    caller.require_admin(if activate {
        "activate a seal"
    } else {
        "deactivate a seal"
    })?;
    let seal_id = SealId::parse(seal_id).map_err(|_| AppError::NotFound)?;
    let now = Utc::now();
    let switch = SwitchSeal {
        seal_id: seal_id.clone(),
        operator: request.operator.clone().unwrap_or_default(),
        reason: request.reason.clone().unwrap_or_default(),
        now,
    };
    services
        .pipeline
        .execute::<SealAggregate>(&seal_stream(&seal_id), &caller.metadata, |_| {
            if activate {
                SealCommand::Activate(switch.clone())
            } else {
                SealCommand::Deactivate(switch.clone())
            }
        })
        .await?;
    seal_view(services, seal_id.as_str()).await
}

/// A seal with every version (administrators only).
pub async fn seal(services: &Services, caller: &Caller, seal_id: &str) -> Result<Value, AppError> {
    caller.require_admin("read a seal")?;
    seal_view(services, seal_id).await
}

async fn seal_view(services: &Services, seal_id: &str) -> Result<Value, AppError> {
    let reads = services.store.seals();
    let row = reads.seal(seal_id).await?.ok_or(AppError::NotFound)?;
    let versions = reads.versions(seal_id).await?;
    Ok(crate::read::views::seal(&row, Some(&versions)))
}

/// The PNG of a seal's version (the current one when `version` is `None`), administrators only.
pub async fn picture_of_version(
    services: &Services,
    caller: &Caller,
    seal_id: &str,
    version: Option<u32>,
) -> Result<Vec<u8>, AppError> {
    caller.require_admin("read a seal's picture")?;
    let seal_id = SealId::parse(seal_id).map_err(|_| AppError::NotFound)?;
    let loaded = services
        .pipeline
        .load::<SealAggregate>(&seal_stream(&seal_id))
        .await?;
    let seal = loaded.state.seal().ok_or(AppError::NotFound)?;
    let wanted = match version {
        Some(number) => seal.version(number).ok_or(AppError::NotFound)?,
        None => seal.current(),
    };
    seal_image(services, &seal_id, &wanted.image.hash).await
}

/// The seal's audit trail: every event, its operator and hash (administrators only).
pub async fn events(
    services: &Services,
    caller: &Caller,
    seal_id: &str,
) -> Result<Timeline, AppError> {
    caller.require_admin("read a seal's events")?;
    let seal_id = SealId::parse(seal_id).map_err(|_| AppError::NotFound)?;
    let timeline = super::audit_trail(services, seal_stream(&seal_id)).await?;
    if timeline.events.is_empty() {
        return Err(AppError::NotFound);
    }
    Ok(timeline)
}

/// The facts of the seal's current version, for a contract whose signer names it; `None` when no
/// such seal exists. Whether it may be used (`active`) is the contract's decision.
pub async fn seal_facts(
    services: &Services,
    seal_id: &SealId,
) -> Result<Option<SealFacts>, AppError> {
    // Read on every contract command that names the seal and rarely written: the cached fold.
    let state = services
        .pipeline
        .load_state::<SealAggregate>(&seal_stream(seal_id))
        .await?;
    Ok(state.facts())
}

/// The PNG of the seal's version with this picture hash, read back from the document store and
/// refused unless its SHA-256 matches.
pub async fn seal_image(
    services: &Services,
    seal_id: &SealId,
    image_hash: &Digest,
) -> Result<Vec<u8>, AppError> {
    stored_picture(services, seal_id, image_hash)
        .await
        .map_err(|error| match error {
            crate::documents::storage::DocumentStoreError::NotFound(_) => AppError::NotFound,
            other => AppError::internal(other),
        })
}

/// The one read of a seal picture from the document store, checked against its hash; for the
/// admin routes ([`seal_image`]) and for signing and sealing, which report the store's error.
pub async fn stored_picture(
    services: &Services,
    seal_id: &SealId,
    image_hash: &Digest,
) -> Result<Vec<u8>, crate::documents::storage::DocumentStoreError> {
    services
        .documents
        .get(&storage_key(seal_id, image_hash), image_hash.as_hex())
        .await
}
