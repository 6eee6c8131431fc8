//! Initiating a contract (spec 2.1.2, 4.1.2 step 1): the request's wire shape and its validation against
//! the template version, naming every bad field at once.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::errors::{ContractError, TemplateUnavailable};
use super::events::{
    ContractEvent, OrganizationSigner, SignaturePlace, SignerEntry, UploadedDocument,
};
use super::{InitiateContract, OrganizationSeal};
use crate::Sensitive;
use crate::errors::ValidationErrors;
use crate::template::{TemplateVersionFacts, VariableKey};
use crate::values::{
    AgentRole, ArchiveId, ArchiveProvider, BizId, ContractBizType, CreditCode, ExpireDays,
    IdCardNumber, LinkTtl, MobileNumber, NotifyType, OrganizationName, PartyId, PartyType,
    PersonName, SealAppearance, SealId, SignMethod, TemplateId, TemplateVersion, Title, WebUrl,
    WebhookConfigRequest, WebhookHeaders, china_date, later, redacted,
};

/// The longest value of one template variable, in characters.
pub const MAX_VARIABLE_LEN: usize = 4096;
/// The most documents a contract may be made from.
pub const MAX_DOCUMENTS: usize = 1;
/// The highest signing sequence number.
pub const MAX_SEQUENCE: u32 = 999;

/// The body of `POST /api/v1/contract/initiate` as sent. Fields are optional here so that a missing one
/// is reported by name together with every other problem.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractRequest {
    pub biz_id: Option<String>,
    pub biz_type: Option<String>,
    pub template_id: Option<String>,
    /// Not in the spec's request: pins a version; without it the service passes the template's current
    /// active version.
    pub template_version: Option<String>,
    pub title: Option<String>,
    /// Strings, numbers or booleans (numbers and booleans are used as written); `null` counts as absent.
    #[serde(default)]
    pub variables: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub signers: Vec<SignerRequest>,
    pub callback_url: Option<String>,
    pub webhook_config: Option<WebhookConfigRequest>,
    pub expire_days: Option<i64>,
    pub archive_config: Option<ArchiveConfigRequest>,
    /// The caller's own PDFs, instead of `templateId`: each signer then says where they sign
    /// (`signers[i].places`).
    #[serde(default)]
    pub documents: Vec<DocumentRequest>,
}

/// One uploaded document (`documents[i]`). `Debug` leaves the content out: commands end up in
/// logs.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentRequest {
    /// Shown to the signers, e.g. its file name.
    pub name: Option<String>,
    /// The PDF, base64 (standard alphabet, padded).
    pub content_base64: Option<String>,
}

impl std::fmt::Debug for DocumentRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentRequest")
            .field("name", &self.name)
            .field(
                "content_base64",
                &self.content_base64.as_ref().map(String::len),
            )
            .finish()
    }
}

/// Where a signer signs on an uploaded document (`signers[i].places[j]`): a page and the lower-left
/// corner of the box in points (origin bottom-left), or anchor text to centre it on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceRequest {
    /// 1-based; defaults to 1.
    pub document: Option<i64>,
    /// 1-based; required with `x` and `y`; with `anchor`, limits the search to that page.
    pub page: Option<i64>,
    pub x: Option<f64>,
    pub y: Option<f64>,
    /// The box's size in points; defaults by what the signer applies (a seal is square).
    pub width: Option<f64>,
    pub height: Option<f64>,
    /// Text to find in the document (关键字定位); the box is centred on its first occurrence.
    pub anchor: Option<String>,
}

/// `Debug` hides the ID and mobile numbers: commands end up in logs.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignerRequest {
    pub party_id: Option<String>,
    pub party_type: Option<String>,
    pub name: Option<String>,
    pub id_card_no: Option<String>,
    pub mobile: Option<String>,
    /// Defaults to the template's first default sign method.
    pub sign_method: Option<String>,
    /// Defaults to `H5_LINK`.
    pub notify_type: Option<String>,
    /// Defaults to 1: signers without a sequence sign in parallel.
    pub sequence: Option<i64>,
    /// Minutes each of this signer's sign links lives (spec 4.2.3); defaults to the configured
    /// lifetime for `notifyType`. Never beyond the contract's deadline.
    pub link_expire_minutes: Option<i64>,
    /// Present when the signer is an organisation: `name`, `idCardNo` and `mobile` are then the
    /// person who signs for it.
    pub organization: Option<OrganizationRequest>,
    /// Where the signer signs, at most one place per uploaded document; only with `documents`.
    #[serde(default)]
    pub places: Vec<PlaceRequest>,
}

/// The organisation a signer signs for (`signers[i].organization`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationRequest {
    /// The registered name, as the seal's organisation was registered.
    pub name: Option<String>,
    /// The unified social credit code (统一社会信用代码).
    pub credit_code: Option<String>,
    /// The registered seal to apply; it must belong to this organisation and be active.
    pub seal_id: Option<String>,
    /// `LEGAL_REPRESENTATIVE` or `AUTHORIZED_AGENT` (the default).
    pub agent_role: Option<String>,
    /// `SEAL` (the default) or `SEAL_AND_HANDWRITTEN`.
    pub appearance: Option<String>,
}

impl std::fmt::Debug for SignerRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignerRequest")
            .field("party_id", &self.party_id)
            .field("party_type", &self.party_type)
            .field("name", &redacted(self.name.as_deref()))
            .field("id_card_no", &redacted(self.id_card_no.as_deref()))
            .field("mobile", &redacted(self.mobile.as_deref()))
            .field("sign_method", &self.sign_method)
            .field("notify_type", &self.notify_type)
            .field("sequence", &self.sequence)
            .field("link_expire_minutes", &self.link_expire_minutes)
            .field("organization", &self.organization)
            .field("places", &self.places)
            .finish()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveConfigRequest {
    /// Defaults to `true` when a provider is given, else `false`.
    pub need_archive: Option<bool>,
    /// One provider (the spec's form); defaults to `TSA` when archiving is needed.
    pub archive_provider: Option<String>,
    /// Several providers, each archiving the document on its own (spec 4.2.5); instead of
    /// `archiveProvider`, not with it.
    pub archive_providers: Option<Vec<String>>,
}

impl ContractRequest {
    /// The variables as text, as the preview is rendered with them (values that are not scalars are left
    /// out; initiation refuses them by name).
    pub fn variable_texts(&self) -> BTreeMap<String, String> {
        self.variables
            .iter()
            .filter_map(|(key, value)| {
                variable_text(value)
                    .ok()
                    .flatten()
                    .map(|text| (key.clone(), text))
            })
            .collect()
    }
}

/// `Ok(None)` for `null`, the text of a scalar, or an error for arrays and objects.
fn variable_text(value: &serde_json::Value) -> Result<Option<String>, &'static str> {
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(text) => Ok(Some(text.clone())),
        serde_json::Value::Number(number) => Ok(Some(number.to_string())),
        serde_json::Value::Bool(flag) => Ok(Some(flag.to_string())),
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
            Err("must be a string, number or boolean")
        }
    }
}

/// Validates an initiation and produces its events: `ContractInitiated`, then one `SignLinkIssued` per
/// signer. A missing or inactive template is reported before field errors, since without it the
/// variables and signer count cannot be checked.
pub(super) fn initiate(command: InitiateContract) -> Result<Vec<ContractEvent>, ContractError> {
    let request = &command.request;
    let mut errors = ValidationErrors::new();
    let biz_id = errors.required("bizId", request.biz_id.as_deref(), BizId::parse);
    let biz_type = errors.required(
        "bizType",
        request.biz_type.as_deref(),
        ContractBizType::parse,
    );
    let from_documents = !request.documents.is_empty();
    let template_id = if from_documents {
        if request.template_id.is_some() {
            errors.push(
                "templateId",
                "must be absent with documents: a contract is made from a template or from the \
                 caller's own documents",
            );
        }
        None
    } else {
        errors.required(
            "templateId",
            request.template_id.as_deref(),
            TemplateId::parse,
        )
    };
    let template_version = errors.optional(
        "templateVersion",
        request.template_version.as_deref(),
        TemplateVersion::parse,
    );
    let template = match (&template_id, &template_version) {
        (Some(id), Some(version)) => Some(check_template(
            command.template.as_ref(),
            id,
            version.as_ref(),
        )?),
        _ => None,
    };
    let documents = from_documents
        .then(|| check_documents(&command, &mut errors))
        .flatten();
    let title = errors.required("title", request.title.as_deref(), Title::parse);
    let variables = if from_documents {
        if !request.variables.is_empty() {
            errors.push("variables", "are only for a contract made from a template");
        }
        Some(BTreeMap::new())
    } else {
        check_variables(request, template, &mut errors)
    };
    let places = match (from_documents, documents.as_deref()) {
        (false, _) => Places::NotAllowed,
        (true, Some(documents)) => Places::On(documents),
        (true, None) => Places::Unchecked,
    };
    let signers = check_signers(&command, template, places, &mut errors);
    let content = match (template, documents) {
        (Some(template), None) => Some(Content::Template(template)),
        (None, Some(documents)) => Some(Content::Uploaded(documents)),
        _ => None,
    };
    let callback_url = errors.required("callbackUrl", request.callback_url.as_deref(), |text| {
        WebUrl::parse(text, command.mode)
    });
    let webhook_headers = WebhookHeaders::collect(
        request.webhook_config.as_ref(),
        "webhookConfig",
        &mut errors,
    );
    let expire_days = errors.check("expireDays", ExpireDays::parse(request.expire_days));
    let archive_providers = check_archive(request.archive_config.as_ref(), &mut errors);
    let other_archive_ids = archive_providers
        .as_deref()
        .map(|providers| archive_ids(&command, providers, &mut errors))
        .unwrap_or_default();
    check_sign_links(&command, &mut errors);

    let (
        Some(biz_id),
        Some(biz_type),
        Some(content),
        Some(title),
        Some(variables),
        Some(signers),
        Some(callback_url),
        Some(expire_days),
        Some(archive_providers),
    ) = (
        biz_id,
        biz_type,
        content,
        title,
        variables,
        signers,
        callback_url,
        expire_days,
        archive_providers,
    )
    else {
        return Err(ContractError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ContractError::Invalid(errors));
    }

    let now = command.now;
    let expires_at = later(now, expire_days.duration());
    let links: Vec<ContractEvent> = signers
        .iter()
        .zip(command.sign_links)
        .map(|(signer, link)| ContractEvent::SignLinkIssued {
            party_id: signer.party_id.clone(),
            link_id: link.link_id,
            token_hash: link.token_hash,
            issued_at: now,
            expires_at: later(
                now,
                signer
                    .link_expire_minutes
                    .unwrap_or_else(|| command.link_lifetimes.for_notify(signer.notify_type))
                    .duration(),
            )
            .min(expires_at),
        })
        .collect();
    let (template_id, template_version, preview_hash, documents) = match content {
        Content::Template(template) => (
            Some(template.template_id.clone()),
            Some(template.version.clone()),
            command.preview_hash,
            Vec::new(),
        ),
        Content::Uploaded(documents) => (None, None, None, documents),
    };
    if template_id.is_some() && preview_hash.is_none() {
        errors.push(
            "previewHash",
            "the service must supply the preview's hash for a template contract",
        );
        return Err(ContractError::Invalid(errors));
    }
    let mut events = vec![ContractEvent::ContractInitiated {
        contract_id: command.contract_id,
        client_id: command.client_id,
        biz_id,
        biz_type,
        template_id,
        template_version,
        title,
        variables,
        preview_hash,
        documents,
        signers,
        callback_url,
        webhook_headers,
        archive_id: (!archive_providers.is_empty()).then_some(command.archive_id),
        other_archive_ids,
        archive_providers,
        expires_at,
        created_at: now,
    }];
    events.extend(links);
    Ok(events)
}

/// What signers' places are checked against.
#[derive(Clone, Copy)]
enum Places<'a> {
    /// A template contract: its layout places every signer, so the request gives no places.
    NotAllowed,
    On(&'a [UploadedDocument]),
    /// The documents were refused: their places cannot be checked.
    Unchecked,
}

/// What the signers sign, as checked.
enum Content<'a> {
    Template(&'a TemplateVersionFacts),
    Uploaded(Vec<UploadedDocument>),
}

/// The uploaded documents as the service read and prepared them, one per `documents[i]`; their
/// content (a readable, unsigned, unencrypted PDF within the size limit) was checked there.
fn check_documents(
    command: &InitiateContract,
    errors: &mut ValidationErrors,
) -> Option<Vec<UploadedDocument>> {
    let requested = command.request.documents.len();
    if requested > MAX_DOCUMENTS {
        errors.push(
            "documents",
            format!(
                "must hold at most {MAX_DOCUMENTS} document: a contract from several uploaded \
                 documents is not supported yet"
            ),
        );
        return None;
    }
    let numbered = command
        .documents
        .iter()
        .enumerate()
        .all(|(index, document)| document.document as usize == index + 1);
    if command.documents.len() != requested || !numbered {
        errors.push(
            "documents",
            format!(
                "the service must supply each uploaded document, numbered in order ({requested} \
                 requested, {} supplied)",
                command.documents.len()
            ),
        );
        return None;
    }
    Some(command.documents.clone())
}

/// A signer's places on the uploaded documents, as the service resolved them from
/// `signers[i].places` (anchors found, pages checked): at least one, at most one per document.
fn check_places(
    path: &str,
    places: &[SignaturePlace],
    documents: &[UploadedDocument],
    errors: &mut ValidationErrors,
) -> Option<Vec<SignaturePlace>> {
    let before = errors.fields().len();
    if places.is_empty() {
        errors.push(
            format!("{path}.places"),
            "is required: where this signer signs on the uploaded documents",
        );
    }
    for (index, place) in places.iter().enumerate() {
        let field = format!("{path}.places[{index}].document");
        let Some(document) = documents
            .iter()
            .find(|document| document.document == place.document)
        else {
            errors.push(field, format!("must be between 1 and {}", documents.len()));
            continue;
        };
        if place.page == 0 || place.page > document.page_count {
            errors.push(
                format!("{path}.places[{index}].page"),
                format!(
                    "must be between 1 and {} (the pages of document {})",
                    document.page_count, document.document
                ),
            );
        }
        if let Some(first) = places[..index]
            .iter()
            .position(|earlier| earlier.document == place.document)
        {
            errors.push(
                field,
                format!(
                    "repeats document {} of places[{first}]: a signer signs each document once",
                    place.document
                ),
            );
        }
    }
    (errors.fields().len() == before).then(|| places.to_vec())
}

fn check_template<'a>(
    facts: Option<&'a TemplateVersionFacts>,
    template_id: &TemplateId,
    version: Option<&TemplateVersion>,
) -> Result<&'a TemplateVersionFacts, ContractError> {
    let not_found = || {
        ContractError::TemplateUnavailable(TemplateUnavailable::NotFound {
            template_id: template_id.clone(),
            version: version.cloned(),
        })
    };
    let facts = facts.ok_or_else(not_found)?;
    if &facts.template_id != template_id || version.is_some_and(|version| version != &facts.version)
    {
        return Err(not_found());
    }
    if !facts.active {
        return Err(ContractError::TemplateUnavailable(
            TemplateUnavailable::Inactive {
                template_id: facts.template_id.clone(),
                version: facts.version.clone(),
            },
        ));
    }
    Ok(facts)
}

/// Every given variable must be a defined key with a scalar value; every required one must be given and
/// not blank (spec 4.3.2).
fn check_variables(
    request: &ContractRequest,
    template: Option<&TemplateVersionFacts>,
    errors: &mut ValidationErrors,
) -> Option<BTreeMap<VariableKey, String>> {
    let before = errors.fields().len();
    let mut variables = BTreeMap::new();
    for (key, value) in &request.variables {
        let field = format!("variables.{key}");
        let Some(text) = errors.check(field.as_str(), variable_text(value)) else {
            continue;
        };
        let Some(key) = errors.check(field.as_str(), VariableKey::parse(key)) else {
            continue;
        };
        if let Some(template) = template
            && !template
                .variable_definitions
                .iter()
                .any(|definition| definition.key == key)
        {
            errors.push(
                field,
                format!(
                    "is not defined by template {} version {}",
                    template.template_id, template.version
                ),
            );
            continue;
        }
        match text {
            Some(text) if text.chars().count() > MAX_VARIABLE_LEN => {
                errors.push(
                    field,
                    format!("must be at most {MAX_VARIABLE_LEN} characters"),
                );
            }
            Some(text) => {
                variables.insert(key, text);
            }
            None => {}
        }
    }
    for definition in template
        .map(|template| template.variable_definitions.as_slice())
        .unwrap_or_default()
    {
        let given = variables
            .get(definition.key.as_str())
            .is_some_and(|text: &String| !text.trim().is_empty());
        let field = format!("variables.{}", definition.key);
        if definition.required && !given && !errors.names(&field) {
            errors.push(field, "is required");
        }
    }
    (errors.fields().len() == before).then_some(variables)
}

fn check_signers(
    command: &InitiateContract,
    template: Option<&TemplateVersionFacts>,
    places_on: Places<'_>,
    errors: &mut ValidationErrors,
) -> Option<Vec<SignerEntry>> {
    let requests = &command.request.signers;
    let before = errors.fields().len();
    match template {
        Some(template) if !template.signer_config.allows(requests.len()) => errors.push(
            "signers",
            format!(
                "must list between {} and {} signers for this template, not {}",
                template.signer_config.min_signers(),
                template.signer_config.max_signers(),
                requests.len()
            ),
        ),
        None if requests.is_empty() => errors.push("signers", "is required"),
        Some(_) | None => {}
    }
    let default_method = template.map_or(SignMethod::FaceAndSms, |template| {
        template.signer_config.default_sign_method()
    });
    let today = china_date(command.now);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut signers = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        let path = format!("signers[{index}]");
        let party_id = errors.required(
            format!("{path}.partyId"),
            request.party_id.as_deref(),
            PartyId::parse,
        );
        if let Some(party_id) = request.party_id.as_deref() {
            if let Some(first) = seen.get(party_id) {
                errors.push(
                    format!("{path}.partyId"),
                    format!("duplicates signers[{first}].partyId"),
                );
            } else {
                seen.insert(party_id, index);
            }
        }
        let party_type = errors.required(
            format!("{path}.partyType"),
            request.party_type.as_deref(),
            PartyType::parse,
        );
        let name = errors.required(
            format!("{path}.name"),
            request.name.as_deref(),
            PersonName::parse,
        );
        let id_card_no = errors.required(
            format!("{path}.idCardNo"),
            request.id_card_no.as_deref(),
            |text| IdCardNumber::parse(text, today),
        );
        let mobile = errors.required(
            format!("{path}.mobile"),
            request.mobile.as_deref(),
            MobileNumber::parse,
        );
        let sign_method = errors
            .optional(
                format!("{path}.signMethod"),
                request.sign_method.as_deref(),
                SignMethod::parse,
            )
            .map(|method| method.unwrap_or(default_method));
        let notify_type = errors
            .optional(
                format!("{path}.notifyType"),
                request.notify_type.as_deref(),
                NotifyType::parse,
            )
            .map(|notify| notify.unwrap_or(NotifyType::H5Link));
        let sequence = match request.sequence {
            None => Some(1),
            Some(sequence) => {
                let valid = u32::try_from(sequence)
                    .ok()
                    .filter(|sequence| (1..=MAX_SEQUENCE).contains(sequence));
                if valid.is_none() {
                    errors.push(
                        format!("{path}.sequence"),
                        format!("must be between 1 and {MAX_SEQUENCE}"),
                    );
                }
                valid
            }
        };
        let link_expire_minutes = match request.link_expire_minutes {
            None => Some(None),
            Some(minutes) => errors
                .check(
                    format!("{path}.linkExpireMinutes"),
                    LinkTtl::parse_minutes(minutes),
                )
                .map(Some),
        };
        let organization = match &request.organization {
            None => Some(None),
            Some(organization) => {
                if sign_method == Some(SignMethod::CaCert) {
                    // An organisation's own certificate (O = its name) is not accepted yet:
                    // its agent passes the face and SMS checks and the platform CA certifies.
                    errors.push(
                        format!("{path}.signMethod"),
                        "must be FACE_AND_SMS for an organisation signer",
                    );
                }
                check_organization(&path, organization, &command.seals, errors).map(Some)
            }
        };
        let places = match places_on {
            Places::On(documents) => check_places(
                &path,
                command.places.get(index).map_or(&[][..], Vec::as_slice),
                documents,
                errors,
            ),
            Places::NotAllowed if !request.places.is_empty() => {
                errors.push(
                    format!("{path}.places"),
                    "are only for a contract made from uploaded documents",
                );
                None
            }
            Places::NotAllowed | Places::Unchecked => Some(Vec::new()),
        };
        if let (
            Some(party_id),
            Some(party_type),
            Some(name),
            Some(id_card_no),
            Some(mobile),
            Some(sign_method),
            Some(notify_type),
            Some(sequence),
            Some(link_expire_minutes),
            Some(organization),
            Some(places),
        ) = (
            party_id,
            party_type,
            name,
            id_card_no,
            mobile,
            sign_method,
            notify_type,
            sequence,
            link_expire_minutes,
            organization,
            places,
        ) {
            signers.push(SignerEntry {
                party_id,
                party_type,
                name: Sensitive::new(name),
                id_card_no: Sensitive::new(id_card_no),
                mobile: Sensitive::new(mobile),
                sign_method,
                notify_type,
                sequence,
                link_expire_minutes,
                organization,
                places,
            });
        }
    }
    (errors.fields().len() == before).then_some(signers)
}

/// An organisation signer: its name and credit code, and a registered, active seal of that very
/// organisation (a seal of another organisation is refused, whatever the name says).
fn check_organization(
    path: &str,
    request: &OrganizationRequest,
    seals: &BTreeMap<SealId, OrganizationSeal>,
    errors: &mut ValidationErrors,
) -> Option<OrganizationSigner> {
    let path = format!("{path}.organization");
    let before = errors.fields().len();
    let name = errors.required(
        format!("{path}.name"),
        request.name.as_deref(),
        OrganizationName::parse,
    );
    let credit_code = errors.required(
        format!("{path}.creditCode"),
        request.credit_code.as_deref(),
        CreditCode::parse,
    );
    let agent_role = errors
        .optional(
            format!("{path}.agentRole"),
            request.agent_role.as_deref(),
            AgentRole::parse,
        )
        .map(|role| role.unwrap_or(AgentRole::AuthorizedAgent));
    let appearance = errors
        .optional(
            format!("{path}.appearance"),
            request.appearance.as_deref(),
            SealAppearance::parse,
        )
        .map(|appearance| appearance.unwrap_or(SealAppearance::Seal));
    let seal_id = errors.required(
        format!("{path}.sealId"),
        request.seal_id.as_deref(),
        SealId::parse,
    );
    let seal = seal_id
        .as_ref()
        .and_then(|seal_id| match seals.get(seal_id) {
            None => {
                errors.push(format!("{path}.sealId"), "names no registered seal");
                None
            }
            Some(seal) if !seal.active => {
                errors.push(format!("{path}.sealId"), "names a deactivated seal");
                None
            }
            Some(seal) => Some(seal),
        });
    if let (Some(seal), Some(credit_code)) = (seal, &credit_code)
        && &seal.credit_code != credit_code
    {
        errors.push(
            format!("{path}.sealId"),
            "names a seal of another organisation",
        );
    }
    if let (Some(seal), Some(name), Some(credit_code)) = (seal, &name, &credit_code)
        && &seal.credit_code == credit_code
        && &seal.organization_name != name
    {
        errors.push(
            format!("{path}.name"),
            format!(
                "must be the registered name of {credit_code}: {}",
                seal.organization_name
            ),
        );
    }
    if errors.fields().len() != before {
        return None;
    }
    let (
        Some(name),
        Some(credit_code),
        Some(agent_role),
        Some(appearance),
        Some(seal_id),
        Some(seal),
    ) = (name, credit_code, agent_role, appearance, seal_id, seal)
    else {
        return None;
    };
    Some(OrganizationSigner {
        name,
        credit_code,
        agent_role,
        appearance,
        seal_version: seal.version,
        seal_image_hash: seal.image_hash.clone(),
        seal_id,
    })
}

/// The providers asked for, in the caller's order: `archiveProvider` or the `archiveProviders`
/// list (distinct, not empty), `TSA` when archiving is needed and neither names one. Shared with
/// face verifications, which archive their result the same way.
pub fn check_archive(
    config: Option<&ArchiveConfigRequest>,
    errors: &mut ValidationErrors,
) -> Option<Vec<ArchiveProvider>> {
    let Some(config) = config else {
        return Some(Vec::new());
    };
    let before = errors.fields().len();
    let single = errors.optional(
        "archiveConfig.archiveProvider",
        config.archive_provider.as_deref(),
        ArchiveProvider::parse,
    );
    let mut listed = Vec::new();
    match &config.archive_providers {
        None => {}
        Some(_) if config.archive_provider.is_some() => errors.push(
            "archiveConfig.archiveProviders",
            "give either archiveProvider or archiveProviders, not both",
        ),
        Some(codes) if codes.is_empty() => errors.push(
            "archiveConfig.archiveProviders",
            "must name at least one provider",
        ),
        Some(codes) => {
            for (index, code) in codes.iter().enumerate() {
                let field = format!("archiveConfig.archiveProviders[{index}]");
                let Some(provider) = errors.check(field.as_str(), ArchiveProvider::parse(code))
                else {
                    continue;
                };
                if listed.contains(&provider) {
                    errors.push(field, format!("repeats {}", provider.as_str()));
                } else {
                    listed.push(provider);
                }
            }
        }
    }
    if errors.fields().len() != before {
        return None;
    }
    if let Some(Some(provider)) = single {
        listed.push(provider);
    }
    let needed = config.need_archive.unwrap_or(!listed.is_empty());
    Some(match (needed, listed.is_empty()) {
        (false, _) => Vec::new(),
        (true, true) => vec![ArchiveProvider::Tsa],
        (true, false) => listed,
    })
}

/// One id per provider: the command's `archive_id` for the first, then its `other_archive_ids`;
/// too few is the service's bug, reported under `archiveIds` like a missing sign link.
fn archive_ids(
    command: &InitiateContract,
    providers: &[ArchiveProvider],
    errors: &mut ValidationErrors,
) -> Vec<ArchiveId> {
    let others = providers.len().saturating_sub(1);
    if command.other_archive_ids.len() < others {
        errors.push(
            "archiveIds",
            format!(
                "the service must supply one archive id per provider ({} providers, {} ids)",
                providers.len(),
                command.other_archive_ids.len() + 1
            ),
        );
    }
    command
        .other_archive_ids
        .iter()
        .take(others)
        .cloned()
        .collect()
}

/// The service supplies one new link per signer, in request order; a mismatch is its bug, reported
/// under `signLinks` so it is not mistaken for a client error in a named field.
fn check_sign_links(command: &InitiateContract, errors: &mut ValidationErrors) {
    if command.sign_links.len() != command.request.signers.len() {
        errors.push(
            "signLinks",
            format!(
                "the service must supply one sign link per signer ({} signers, {} links)",
                command.request.signers.len(),
                command.sign_links.len()
            ),
        );
    }
    let distinct: BTreeSet<_> = command
        .sign_links
        .iter()
        .map(|link| &link.link_id)
        .collect();
    if distinct.len() != command.sign_links.len() {
        errors.push("signLinks", "link ids must be distinct");
    }
}
