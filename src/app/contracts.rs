//! Contracts (spec 2.1.2): initiate one from a template version, read it, revoke it, give a signer
//! a new sign link, and its audit trail.

use std::collections::BTreeMap;

use aggregates::Aggregate;
use aggregates::ValidationErrors;
use aggregates::contract::{
    ContractAggregate, ContractCommand, ContractRequest, ContractState, ForceTransition,
    ForcedStatus, InitiateContract, IssueSignLink, NewSignLink, OrganizationSeal, Revoke,
};
use aggregates::template::TemplateAggregate;
use aggregates::values::{
    ArchiveId, ArchiveProvider, ContractId, Digest, LinkId, LinkLifetimes, LinkTtl, Operator,
    PartyId, Reason, SealId, TemplateId, TemplateVersion,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::pipeline::CommandError;
use super::short_links::{self, NewShortLink};
use super::{AppError, Caller, Services};
use crate::read::audit::Timeline;
use crate::store::StreamId;
use crate::store::commands::Attached;
use crate::store::query_tables::{ContractRows, RowView};

/// One signer's task as the initiate and re-issue answers show it: the sign URL, the short link
/// for SMS and a QR code of the sign URL (`None` when it could not be drawn; the URL always works).
#[derive(Debug, Clone)]
pub struct SignTask {
    pub party_id: String,
    pub sign_url: String,
    pub short_url: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub qr_code: Option<String>,
}

/// A contract just initiated.
#[derive(Debug, Clone)]
pub struct Initiated {
    pub contract_id: String,
    pub sign_tasks: Vec<SignTask>,
    /// `(archiveId, provider)` of each archive record the contract will get once sealed, in the
    /// order the caller listed the providers.
    pub archives: Vec<(String, String)>,
}

/// Initiates a contract: fills a template version with the variables, creates the contract and
/// issues one sign link per signer. Idempotent per `bizId` + `bizType`: a repeat is refused with
/// the existing contract (40002).
pub async fn initiate(
    services: &Services,
    caller: &Caller,
    request: &ContractRequest,
) -> Result<Initiated, AppError> {
    // A repeated bizId answers with the contract it made, whatever else the request says. It is looked
    // up only after an attempt failed: the unique key on (client, bizId, bizType) refuses a second
    // contract, so a new one costs no read for it, and a failed repeat answers as if looked up first.
    match initiate_new(services, caller, request).await {
        Ok(initiated) => Ok(initiated),
        Err(error) => match find_by_biz_id(services, caller, request).await? {
            Some(existing) => Err(AppError::Duplicate { existing }),
            None => Err(error),
        },
    }
}

/// A CA_CERT signer could never sign where no personal CA is trusted: refuse the contract now
/// rather than leave the signer stuck (docs/trust.md, "Personal certificates").
fn refuse_untrusted_ca_cert(
    services: &Services,
    request: &ContractRequest,
) -> Result<(), AppError> {
    if !services.personal.roots.is_empty() {
        return Ok(());
    }
    match request
        .signers
        .iter()
        .position(|signer| signer.sign_method.as_deref() == Some("CA_CERT"))
    {
        Some(index) => Err(AppError::invalid(
            format!("signers[{index}].signMethod"),
            "CA_CERT is not available: this deployment trusts no personal CA \
             (trust.personal_ca_roots)",
        )),
        None => Ok(()),
    }
}

/// The registered seals the request's organisation signers name, as the domain checks them; an id
/// that does not parse or names no seal is simply absent (the domain names the field).
async fn organization_seals(
    services: &Services,
    request: &ContractRequest,
) -> Result<BTreeMap<SealId, OrganizationSeal>, AppError> {
    let mut seals = BTreeMap::new();
    for signer in &request.signers {
        let Some(seal_id) = signer
            .organization
            .as_ref()
            .and_then(|organization| organization.seal_id.as_deref())
            .and_then(|text| SealId::parse(text).ok())
        else {
            continue;
        };
        if seals.contains_key(&seal_id) {
            continue;
        }
        if let Some(facts) = super::seals::seal_facts(services, &seal_id).await? {
            seals.insert(
                seal_id,
                OrganizationSeal {
                    credit_code: facts.credit_code,
                    organization_name: facts.organization_name,
                    version: facts.version,
                    image_hash: facts.image_hash,
                    active: facts.active,
                },
            );
        }
    }
    Ok(seals)
}

async fn initiate_new(
    services: &Services,
    caller: &Caller,
    request: &ContractRequest,
) -> Result<Initiated, AppError> {
    super::guard_callback_url(services, request.callback_url.as_deref()).await?;
    refuse_untrusted_ca_cert(services, request)?;
    let template = load_template(services, request).await?;
    let preview_hash = template
        .as_ref()
        .map(|(_, preview)| Digest::parse(&hex::encode(Sha256::digest(preview.as_bytes()))))
        .transpose()
        .map_err(AppError::internal)?;
    // Reading and preparing PDFs is CPU work: off the async workers.
    let uploaded = {
        let request = request.clone();
        tokio::task::spawn_blocking(move || super::uploaded_documents::prepare(&request))
            .await
            .map_err(AppError::internal)??
    };
    let links = request
        .signers
        .iter()
        .map(|_| issue_link())
        .collect::<Result<Vec<_>, _>>()?;
    let contract_id =
        ContractId::parse(&super::ids::new_id("CONTRACT")).map_err(AppError::internal)?;
    let archive_id =
        ArchiveId::parse(&super::ids::new_id("ARCHIVE")).map_err(AppError::internal)?;
    // One more id per further provider listed; a list longer than the providers there are repeats
    // one and is refused, so no more ids than that are made.
    let listed = request
        .archive_config
        .as_ref()
        .and_then(|config| config.archive_providers.as_ref())
        .map_or(0, Vec::len);
    let other_archive_ids = (1..listed.min(ArchiveProvider::ALL.len()))
        .map(|_| ArchiveId::parse(&super::ids::new_id("ARCHIVE")).map_err(AppError::internal))
        .collect::<Result<Vec<_>, _>>()?;
    let seals = organization_seals(services, request).await?;
    let client_id = caller.domain_id()?;
    let facts = template.map(|(facts, _)| facts);
    let now = Utc::now();
    let stream = StreamId::new(ContractAggregate::NAME, contract_id.as_str());
    let parties = request
        .signers
        .iter()
        .map(|signer| PartyId::parse(signer.party_id.as_deref().unwrap_or_default()).ok())
        .collect::<Vec<_>>();
    let issued: Vec<(PartyId, &IssuedLink)> = parties
        .iter()
        .zip(&links)
        .filter_map(|(party, link)| Some((party.clone()?, link)))
        .collect();
    let command = || {
        ContractCommand::Initiate(InitiateContract {
            contract_id: contract_id.clone(),
            client_id: client_id.clone(),
            request: request.clone(),
            template: facts.clone(),
            preview_hash: preview_hash.clone(),
            documents: uploaded.documents.clone(),
            places: uploaded.places.clone(),
            sign_links: links.iter().map(|issued| issued.link.clone()).collect(),
            archive_id: archive_id.clone(),
            link_lifetimes: services.config.contracts.link_lifetimes(),
            other_archive_ids: other_archive_ids.clone(),
            seals: seals.clone(),
            mode: services.mode(),
            now,
        })
    };
    if !uploaded.documents.is_empty() {
        // Decided once before the uploads are stored, so a refused request leaves nothing behind.
        ContractAggregate::decide(&ContractState::default(), command())
            .map_err(|error| AppError::from(CommandError::Domain(error)))?;
        uploaded.store(services).await?;
    }
    let short_links = std::sync::Mutex::new(Vec::new());
    let initiated = services
        .pipeline
        .execute_new_attached::<ContractAggregate>(
            &stream,
            &caller.metadata,
            |_| command(),
            |after| short_links_for(services, after, &issued, &short_links),
        )
        .await?;
    super::invitations::send_requested(services, &initiated.appended).await;
    let short_links = short_links
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let sign_tasks = request
        .signers
        .iter()
        .zip(&links)
        .map(|(signer, issued)| {
            let party_id = signer.party_id.as_deref().unwrap_or_default();
            let short = short_links.iter().find(|link| link.party_id() == party_id);
            sign_task(services, party_id, &issued.token, short)
        })
        .collect();
    // The archive records are made once the contract is signed and sealed; their ids are fixed now.
    let archives = initiated
        .state
        .contract()
        .map(|contract| {
            contract
                .archive_providers
                .iter()
                .filter_map(|provider| {
                    let id = contract.archive_id_for(*provider)?;
                    Some((id.as_str().to_owned(), provider.as_str().to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Initiated {
        contract_id: contract_id.as_str().to_owned(),
        sign_tasks,
        archives,
    })
}

/// The contract as the API shows it (spec 2.1.2 item 2), its signing links signed for now.
pub async fn show(
    services: &Services,
    client_id: &str,
    contract_id: &str,
) -> Result<Value, AppError> {
    let rows = services
        .store
        .contracts()
        .owned_with_parts(contract_id, client_id)
        .await?
        .ok_or(AppError::NotFound)?;
    signed_view(services, &rows)
}

/// Revokes the contract (only before SIGNED; afterwards 409) and answers it as it is now.
pub async fn revoke(
    services: &Services,
    caller: &Caller,
    contract_id: &str,
    reason: Option<&str>,
    operator: Option<&str>,
) -> Result<Value, AppError> {
    owned(services, caller, contract_id).await?;
    let mut errors = ValidationErrors::new();
    let reason = errors.required("reason", reason, Reason::parse);
    let operator = errors.required("operator", operator, Operator::parse);
    let (Some(reason), Some(operator)) = (reason, operator) else {
        return Err(AppError::Validation(errors));
    };
    let now = Utc::now();
    let stream = StreamId::new(ContractAggregate::NAME, contract_id);
    services
        .pipeline
        .execute::<ContractAggregate>(&stream, &caller.metadata, |_| {
            ContractCommand::Revoke(Revoke {
                reason: reason.clone(),
                operator: operator.clone(),
                now,
            })
        })
        .await?;
    let row = owned(services, caller, contract_id).await?;
    view(services, &row).await
}

/// What an administrator sends to force a contract's end.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForceRequest {
    /// `EXPIRED` or `REVOKED`.
    pub status: Option<String>,
    pub reason: Option<String>,
    pub operator: Option<String>,
}

/// An administrator ends a contract stuck before SIGNED (spec 4.2.4: 状态不可逆（除管理员强制操作）):
/// EXPIRED or REVOKED at any time, whichever client owns it, with a reason and the operator, recorded
/// as `ContractForced`. A final contract (SIGNED included: its document stays signed) answers 409.
/// The owner is called back as for any change of status.
pub async fn force(
    services: &Services,
    caller: &Caller,
    contract_id: &str,
    request: &ForceRequest,
) -> Result<Value, AppError> {
    caller.require_admin("force a contract's status")?;
    services
        .store
        .contracts()
        .by_id(contract_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut errors = ValidationErrors::new();
    let status = errors.required("status", request.status.as_deref(), ForcedStatus::parse);
    let reason = errors.required("reason", request.reason.as_deref(), Reason::parse);
    let operator = errors.required("operator", request.operator.as_deref(), Operator::parse);
    let (Some(status), Some(reason), Some(operator)) = (status, reason, operator) else {
        return Err(AppError::Validation(errors));
    };
    let admin = caller.domain_id()?;
    let now = Utc::now();
    let stream = StreamId::new(ContractAggregate::NAME, contract_id);
    services
        .pipeline
        .execute::<ContractAggregate>(&stream, &caller.metadata, |_| {
            ContractCommand::Force(ForceTransition {
                status,
                reason: reason.clone(),
                operator: operator.clone(),
                admin: admin.clone(),
                now,
            })
        })
        .await?;
    tracing::warn!(
        target: "esign::security",
        %contract_id,
        status = ?status,
        admin = %admin.as_str(),
        "an administrator forced a contract's status"
    );
    let row = services
        .store
        .contracts()
        .by_id(contract_id)
        .await?
        .ok_or(AppError::NotFound)?;
    view(services, &row).await
}

/// `[contracts]`: how long sign links live when a signer asks for nothing else (spec 4.2.3).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContractsConfig {
    /// Minutes an H5_LINK signer's link lives (default 30).
    pub h5_link_minutes: u32,
    /// Minutes an SMS signer's link lives (default 1440, a day).
    pub sms_link_minutes: u32,
}

impl Default for ContractsConfig {
    fn default() -> Self {
        let defaults = LinkLifetimes::default();
        Self {
            h5_link_minutes: defaults.h5.minutes(),
            sms_link_minutes: defaults.sms.minutes(),
        }
    }
}

impl ContractsConfig {
    /// Both lifetimes within a signer's own bounds (1 minute to 90 days).
    pub fn check(&self) -> Result<(), String> {
        for (key, minutes) in [
            ("h5_link_minutes", self.h5_link_minutes),
            ("sms_link_minutes", self.sms_link_minutes),
        ] {
            LinkTtl::parse_minutes(i64::from(minutes))
                .map_err(|error| format!("contracts.{key} {error}"))?;
        }
        Ok(())
    }

    /// The lifetimes as the contract aggregate takes them; the defaults stand in for values
    /// [`Self::check`] refused.
    pub fn link_lifetimes(&self) -> LinkLifetimes {
        let defaults = LinkLifetimes::default();
        LinkLifetimes {
            h5: LinkTtl::parse_minutes(i64::from(self.h5_link_minutes)).unwrap_or(defaults.h5),
            sms: LinkTtl::parse_minutes(i64::from(self.sms_link_minutes)).unwrap_or(defaults.sms),
        }
    }
}

/// A new sign link for a pending signer (spec 6, 40004: "引导用户重新获取链接"); the old link dies.
pub async fn reissue_sign_link(
    services: &Services,
    caller: &Caller,
    contract_id: &str,
    party_id: &str,
) -> Result<SignTask, AppError> {
    owned(services, caller, contract_id).await?;
    let party = PartyId::parse(party_id).map_err(|_| AppError::NotFound)?;
    let issued = issue_link()?;
    let now = Utc::now();
    let stream = StreamId::new(ContractAggregate::NAME, contract_id);
    let short_links = std::sync::Mutex::new(Vec::new());
    let executed = services
        .pipeline
        .execute_attached::<ContractAggregate>(
            &stream,
            &caller.metadata,
            |_| {
                ContractCommand::IssueSignLink(IssueSignLink {
                    party_id: party.clone(),
                    link: issued.link.clone(),
                    ttl: None,
                    defaults: services.config.contracts.link_lifetimes(),
                    now,
                })
            },
            |after| short_links_for(services, after, &[(party.clone(), &issued)], &short_links),
        )
        .await?;
    // A signer notified by SMS whose turn it is gets the new link by text too.
    super::invitations::send_requested(services, &executed.appended).await;
    let short_links = short_links
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Ok(sign_task(
        services,
        party_id,
        &issued.token,
        short_links.first(),
    ))
}

/// The contract's audit trail: every event with its metadata and hash, personal data masked, and
/// whether the chain verifies.
pub async fn events(
    services: &Services,
    caller: &Caller,
    contract_id: &str,
) -> Result<Timeline, AppError> {
    owned(services, caller, contract_id).await?;
    super::audit_trail(
        services,
        StreamId::new(ContractAggregate::NAME, contract_id),
    )
    .await
}

/// The caller's contract row; another client's contract does not exist for them.
pub async fn owned(
    services: &Services,
    caller: &Caller,
    contract_id: &str,
) -> Result<RowView, AppError> {
    services
        .store
        .contracts()
        .owned(contract_id, &caller.client_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// A sign link as the signer receives it: the token travels only in the URL; the log keeps its hash.
struct IssuedLink {
    link: NewSignLink,
    token: String,
}

fn issue_link() -> Result<IssuedLink, AppError> {
    let token = random_token()?;
    let link_id =
        LinkId::parse(&uuid::Uuid::new_v4().simple().to_string()).map_err(AppError::internal)?;
    let token_hash = Digest::parse(&hex::encode(Sha256::digest(token.as_bytes())))
        .map_err(AppError::internal)?;
    Ok(IssuedLink {
        link: NewSignLink {
            link_id,
            token_hash,
        },
        token,
    })
}

/// 256 random bits, URL-safe.
fn random_token() -> Result<String, AppError> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("random source: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn sign_url(services: &Services, token: &str) -> String {
    format!(
        "{}/h5/sign?token={token}",
        services.config.server.public_base_url.trim_end_matches('/')
    )
}

/// Short links for sign links a command issues, made from the contract after the command (each
/// lasts as long as its link) and written in the command's transaction. The set of the attempt that
/// committed is left in `made`, for the answer.
fn short_links_for(
    services: &Services,
    contract: &ContractState,
    issued: &[(PartyId, &IssuedLink)],
    made: &std::sync::Mutex<Vec<NewShortLink>>,
) -> Result<Attached, String> {
    let Some(contract) = contract.contract() else {
        return Ok(Attached::Nothing);
    };
    let mut links = Vec::with_capacity(issued.len());
    for (party_id, link) in issued {
        let Some(expires_at) = contract
            .signer(party_id)
            .and_then(|signer| signer.link())
            .map(|link| link.expires_at)
        else {
            continue;
        };
        links.push(
            NewShortLink::new(
                &services.pii,
                contract.contract_id.as_str(),
                party_id.as_str(),
                &sign_url(services, &link.token),
                expires_at,
            )
            .map_err(|error| error.to_string())?,
        );
    }
    *made.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = links.clone();
    Ok(short_links::attached(&links))
}

/// One signer's task: the sign URL, the short link and a QR code of the sign URL. A QR code that
/// cannot be drawn is logged and left out.
fn sign_task(
    services: &Services,
    party_id: &str,
    token: &str,
    short: Option<&NewShortLink>,
) -> SignTask {
    let url = sign_url(services, token);
    let short_url = short.map(|link| {
        format!(
            "{}/s/{}",
            services.config.server.public_base_url.trim_end_matches('/'),
            link.code
        )
    });
    let qr_code = crate::documents::qr::png_data_url(&url)
        .inspect_err(|error| tracing::error!(%error, "cannot draw the sign link's QR code"))
        .ok();
    SignTask {
        party_id: party_id.to_owned(),
        sign_url: url,
        short_url,
        expires_at: short.map(NewShortLink::expires_at),
        qr_code,
    }
}

/// The template version a request names (or the current active one) and its rendered preview.
async fn load_template(
    services: &Services,
    request: &ContractRequest,
) -> Result<Option<(aggregates::template::TemplateVersionFacts, String)>, AppError> {
    let Some(template_id) = request
        .template_id
        .as_deref()
        .and_then(|id| TemplateId::parse(id).ok())
    else {
        return Ok(None);
    };
    let stream = StreamId::new(TemplateAggregate::NAME, template_id.as_str());
    let loaded = services
        .pipeline
        .load_state::<TemplateAggregate>(&stream)
        .await?;
    let Some(template) = loaded.template() else {
        return Ok(None);
    };
    let version = match request.template_version.as_deref() {
        Some(pinned) => TemplateVersion::parse(pinned)
            .ok()
            .and_then(|v| template.version(&v)),
        None => template.current_version(),
    };
    let Some(version) = version else {
        return Ok(None);
    };
    // A preview that cannot render (a variable of the wrong shape) is left to the domain's checks;
    // the hash then covers the text that did render.
    let preview = version
        .render_preview(&request.variable_texts())
        .unwrap_or_default();
    Ok(Some((template.facts(version), preview)))
}

async fn find_by_biz_id(
    services: &Services,
    caller: &Caller,
    request: &ContractRequest,
) -> Result<Option<Value>, AppError> {
    let (Some(biz_id), Some(biz_type)) = (&request.biz_id, &request.biz_type) else {
        return Ok(None);
    };
    let row = services
        .store
        .contracts()
        .by_biz_id(&caller.client_id, biz_id, biz_type)
        .await?;
    match row {
        Some(row) => Ok(Some(view(services, &row).await?)),
        None => Ok(None),
    }
}

/// The contract as the API shows it, its signing links signed for now.
fn signed_view(services: &Services, rows: &ContractRows) -> Result<Value, AppError> {
    let mut view =
        crate::read::views::contract(&rows.contract, &rows.signers, &rows.archives, &services.pii)?;
    let now = Utc::now();
    super::archiving::show_retries(&services.config.archive, &rows.archives, &mut view, now);
    services.links.sign_in_place(&mut view, now);
    Ok(view)
}

async fn view(services: &Services, contract: &RowView) -> Result<Value, AppError> {
    let contract_id = contract.required_text("contract_id");
    let contracts = services.store.contracts();
    let rows = ContractRows {
        signers: contracts.signers(contract_id).await?,
        archives: contracts.archives(contract_id).await?,
        contract: contract.clone(),
    };
    signed_view(services, &rows)
}
