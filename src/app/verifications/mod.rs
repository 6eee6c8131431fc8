//! Face verifications (spec 2.1.1): the API's initiate, read and audit trail here; the flows that
//! involve a provider or the person in `provider` and `degraded`, each ending in one command
//! through the pipeline:
//!
//! - [`start_task`]: create the provider task through the failover list and record
//!   `StartProviderTask`; when every provider fails, record the round (`RecordProviderUnavailable`) or,
//!   with degraded mode on, switch to the degraded check (`Degrade`).
//! - [`retry_due`] / [`spawn_provider_retry`]: the background rounds, found in the query table, so
//!   any instance may run them.
//! - [`record_callback`]: a provider's signed result -> `RecordResult`, or a logged rejection with
//!   nothing written.
//! - [`pull_result`]: the person came back from the provider's page; ask the provider server-side.
//! - [`send_degraded_code`] / [`verify_degraded_code`]: the two steps of the degraded check.

mod degraded;
mod provider;

pub use degraded::{send_degraded_code, verify_degraded_code};
pub use provider::{
    CallbackAck, CallbackRefusal, TaskStart, pull_result, record_callback, retry_due,
    spawn_provider_retry, start_task, start_task_returning,
};

use aggregates::Aggregate;
use aggregates::face_verification::{
    FaceVerificationAggregate, InitiateVerification, VerificationCommand, VerificationError,
    VerificationRequest, VerificationState,
};
use aggregates::values::VerificationId;
use chrono::{DateTime, Utc};

use super::{AppError, Caller, Services};
use crate::app::pipeline::{CommandError, Executed};
use crate::pii::PiiCipher;
use crate::providers::face::protocol::SdkConfig;
use crate::read::audit::Timeline;
use crate::store::query_tables::RowView;
use crate::store::{EventMetadata, StreamId};
use projections::Table;
use serde_json::Value;
use subtle::ConstantTimeEq;

fn stream(verification_id: &str) -> StreamId {
    StreamId::new(FaceVerificationAggregate::NAME, verification_id)
}

pub(super) async fn load(
    state: &Services,
    verification_id: &str,
) -> Result<VerificationState, AppError> {
    Ok(state
        .pipeline
        .load::<FaceVerificationAggregate>(&stream(verification_id))
        .await?
        .state)
}

pub(super) async fn run(
    state: &Services,
    verification_id: &str,
    metadata: &EventMetadata,
    command: VerificationCommand,
) -> Result<Executed<FaceVerificationAggregate>, CommandError<VerificationError>> {
    let executed = state
        .pipeline
        .execute::<FaceVerificationAggregate>(&stream(verification_id), metadata, |_| {
            command.clone()
        })
        .await?;
    // A result just recorded that the caller asked to archive: the archive sweep takes it now.
    let archive_asked = executed
        .state
        .verification()
        .is_some_and(|verification| !verification.archive_providers.is_empty());
    if archive_asked && !executed.appended.is_empty() && executed.state.result_record().is_some() {
        state.sealing.notify_one();
    }
    Ok(executed)
}

/// Records that the person opened the verification page: the first opening with the provider's task
/// ready makes the verification PROCESSING (spec 2.1.1: PENDING until the person has started).
/// Any later opening records nothing.
pub async fn record_opened(
    services: &Services,
    verification_id: &str,
    metadata: &EventMetadata,
) -> Result<(), AppError> {
    let command = VerificationCommand::RecordOpened(aggregates::face_verification::RecordOpened {
        now: Utc::now(),
    });
    run(services, verification_id, metadata, command).await?;
    Ok(())
}

/// A verification id from a path or token, parsed.
pub fn verification_id(text: &str) -> Result<VerificationId, AppError> {
    VerificationId::parse(text).map_err(|_| AppError::NotFound)
}

/// The verification page's token: `<verificationId>.<expiry unix seconds>.<keyed hash>` for the first
/// link, `<verificationId>.<expiry>.<link number>.<keyed hash>` for a re-issued one. It carries no
/// secret of its own; the keyed hash makes it unforgeable and binds it to the verification's deadline
/// and the link's number, which the page compares with the verification's current link.
pub fn page_token(pii: &PiiCipher, verification_id: &str, expires_unix: i64, link: u32) -> String {
    let mac = page_mac(pii, verification_id, expires_unix, link);
    if link <= 1 {
        format!("{verification_id}.{expires_unix}.{mac}")
    } else {
        format!("{verification_id}.{expires_unix}.{link}.{mac}")
    }
}

/// What a genuine page token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLink {
    pub verification_id: String,
    pub expires_unix: i64,
    /// The link's number (1 for the link of the initiate answer).
    pub link: u32,
}

/// The verification, expiry and link number a page token names, when its keyed hash is right.
pub fn open_page_token(pii: &PiiCipher, token: &str) -> Option<PageLink> {
    let parts: Vec<&str> = token.split('.').collect();
    let (verification_id, expires, link, mac) = match parts.as_slice() {
        [id, expires, mac] => (*id, *expires, 1, *mac),
        [id, expires, link, mac] => (*id, *expires, link.parse().ok().filter(|n| *n > 1)?, *mac),
        _ => return None,
    };
    let expires_unix: i64 = expires.parse().ok()?;
    let expected = page_mac(pii, verification_id, expires_unix, link);
    bool::from(expected.as_bytes().ct_eq(mac.as_bytes())).then(|| PageLink {
        verification_id: verification_id.to_owned(),
        expires_unix,
        link,
    })
}

fn page_mac(pii: &PiiCipher, verification_id: &str, expires_unix: i64, link: u32) -> String {
    // The first link keeps the input of tokens handed out before links were numbered.
    if link <= 1 {
        pii.blind_index(&format!(
            "esign:h5:face-verify:{verification_id}:{expires_unix}"
        ))
    } else {
        pii.blind_index(&format!(
            "esign:h5:face-verify:{verification_id}:{expires_unix}:{link}"
        ))
    }
}

/// The verification a page token names, for a page the person acts on: the token must be genuine,
/// before its deadline (40004 after), and the verification's current link (a replaced link answers
/// 40004 too: the person is to use the new one).
pub async fn live_page(services: &Services, token: &str) -> Result<String, AppError> {
    let Some(page) = open_page_token(&services.pii, token) else {
        tracing::warn!("face verification page token refused: keyed hash mismatch");
        return Err(AppError::NotFound);
    };
    if Utc::now().timestamp() >= page.expires_unix {
        return Err(AppError::LinkExpired);
    }
    let state = load(services, &page.verification_id).await?;
    match state.verification() {
        Some(verification) if verification.page_link == page.link => Ok(page.verification_id),
        Some(_) => {
            tracing::info!(verification_id = %page.verification_id, "a replaced face verification link was used");
            Err(AppError::LinkExpired)
        }
        None => Err(AppError::NotFound),
    }
}

/// A new page link for a verification the caller lost the link of, while it is open (PENDING or
/// PROCESSING, before its deadline; 409 otherwise); every earlier link stops working. The deadline
/// stays the verification's.
pub async fn reissue_link(
    services: &Services,
    caller: &Caller,
    verification_id: &str,
) -> Result<FaceLink, AppError> {
    owned(services, caller, verification_id).await?;
    let executed = run(
        services,
        verification_id,
        &caller.metadata,
        VerificationCommand::ReissueLink(aggregates::face_verification::ReissueLink {
            now: Utc::now(),
        }),
    )
    .await?;
    let verification = executed.state.verification().ok_or(AppError::NotFound)?;
    Ok(FaceLink {
        verification_url: verification_url(services, verification),
        // As the query table (and so the initiate answer) keeps it: whole microseconds.
        expires_at: chrono::SubsecRound::trunc_subsecs(verification.expires_at, 6),
    })
}

/// A verification's page link as the caller hands it to the person.
#[derive(Debug, Clone)]
pub struct FaceLink {
    pub verification_url: String,
    pub expires_at: DateTime<Utc>,
}

/// The URL of the verification's current page link.
fn verification_url(
    services: &Services,
    verification: &aggregates::face_verification::Verification,
) -> String {
    let token = page_token(
        &services.pii,
        verification.verification_id.as_str(),
        verification.expires_at.timestamp(),
        verification.page_link,
    );
    format!(
        "{}/h5/face-verify?token={token}",
        services.config.server.public_base_url.trim_end_matches('/')
    )
}

/// A face verification just initiated, as the initiate answer shows it.
#[derive(Debug, Clone)]
pub struct FaceInitiated {
    pub verification_id: String,
    pub status: Option<String>,
    /// The page the person opens.
    pub verification_url: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// How the provider's task started: its SDK parameters, or the degraded check.
    pub start: FaceStart,
}

/// What the initiation's provider round came to, for the answer.
#[derive(Debug, Clone)]
pub enum FaceStart {
    /// A provider took the task (its SDK parameters when it has any).
    Started { sdk_config: Option<SdkConfig> },
    /// No provider answered; the verification switched to the degraded check with this method.
    Degraded { method: Option<String> },
    /// Nothing to add (a task was started meanwhile).
    Nothing,
}

/// Records `Initiate` for a new verification, whether the API asked for it or a signer's face step.
pub(crate) async fn record_initiation(
    services: &Services,
    verification_id: &VerificationId,
    client_id: &aggregates::values::ClientId,
    request: &VerificationRequest,
    metadata: &EventMetadata,
    now: DateTime<Utc>,
) -> Result<Executed<FaceVerificationAggregate>, CommandError<VerificationError>> {
    services
        .pipeline
        .execute::<FaceVerificationAggregate>(&stream(verification_id.as_str()), metadata, |_| {
            VerificationCommand::Initiate(InitiateVerification {
                verification_id: verification_id.clone(),
                client_id: client_id.clone(),
                request: request.clone(),
                mode: services.mode(),
                now,
            })
        })
        .await
}

/// Initiates a face verification (spec 2.1.1, 5.1): creates it, creates its task at the first
/// available provider in failover order and answers the page the person opens. Idempotent per
/// `bizId` + `bizType` (40002 with the existing verification). When no provider answers, 50001
/// with the `verificationId` (retried in the background), or, with degraded mode on and a mobile
/// number given, the degraded SMS + identity check.
pub async fn initiate(
    services: &Services,
    caller: &Caller,
    request: &VerificationRequest,
) -> Result<FaceInitiated, AppError> {
    if let Some(existing) = find_by_biz_id(services, caller, request).await? {
        return Err(AppError::Duplicate { existing });
    }
    super::guard_callback_url(services, request.callback_url.as_deref()).await?;
    let verification_id =
        VerificationId::parse(&super::ids::new_id("FACE_VERIFY")).map_err(AppError::internal)?;
    let client_id = caller.domain_id()?;
    let now = Utc::now();
    let executed = record_initiation(
        services,
        &verification_id,
        &client_id,
        request,
        &caller.metadata,
        now,
    )
    .await;
    if lost_biz_id_race(&executed, Table::FaceVerification)
        && let Some(existing) = find_by_biz_id(services, caller, request).await?
    {
        return Err(AppError::Duplicate { existing });
    }
    executed?;
    // Spec 5.1: the provider task is created now, through the failover list.
    let started = start_task(
        services,
        verification_id.as_str(),
        1,
        &caller.metadata,
        true,
    )
    .await?;
    let row = owned(services, caller, verification_id.as_str()).await?;
    let expires_at = row.time("expires_at");
    let token = page_token(
        &services.pii,
        verification_id.as_str(),
        expires_at.map(|t| t.timestamp()).unwrap_or(0),
        1,
    );
    let start = match started {
        TaskStart::Started { sdk_config, .. } => FaceStart::Started { sdk_config },
        TaskStart::Degraded => FaceStart::Degraded {
            method: row.text("verification_method").map(str::to_owned),
        },
        // Spec 6: fail fast with 50001; the background retry takes over.
        TaskStart::Unavailable { .. } => {
            return Err(AppError::ProviderUnavailable {
                verification_id: verification_id.as_str().to_owned(),
            });
        }
        TaskStart::NotNeeded => FaceStart::Nothing,
    };
    Ok(FaceInitiated {
        verification_id: verification_id.as_str().to_owned(),
        status: row.text("status").map(str::to_owned),
        verification_url: format!(
            "{}/h5/face-verify?token={token}",
            services.config.server.public_base_url.trim_end_matches('/')
        ),
        expires_at,
        start,
    })
}

/// The verification's status and result (spec 2.1.1 item 2), the ID number in clear for its owner.
pub async fn show(
    services: &Services,
    caller: &Caller,
    verification_id: &str,
) -> Result<Value, AppError> {
    let row = owned(services, caller, verification_id).await?;
    let mut view = crate::read::views::verification(&row, &services.pii)?;
    let archives = services
        .store
        .verifications()
        .result_archives(verification_id)
        .await?;
    // Only when the caller asked for it (the spec's answer stays as it was otherwise).
    if !archives.is_empty() {
        view["resultArchive"] = crate::read::views::result_archive(&archives);
    }
    Ok(view)
}

/// The verification's audit trail, personal data masked.
pub async fn events(
    services: &Services,
    caller: &Caller,
    verification_id: &str,
) -> Result<Timeline, AppError> {
    owned(services, caller, verification_id).await?;
    super::audit_trail(services, stream(verification_id)).await
}

async fn find_by_biz_id(
    services: &Services,
    caller: &Caller,
    request: &VerificationRequest,
) -> Result<Option<Value>, AppError> {
    let (Some(biz_id), Some(biz_type)) = (&request.biz_id, &request.biz_type) else {
        return Ok(None);
    };
    let row = services
        .store
        .verifications()
        .by_biz_id(&caller.client_id, biz_id, biz_type)
        .await?;
    match row {
        Some(row) => Ok(Some(crate::read::views::verification(&row, &services.pii)?)),
        None => Ok(None),
    }
}

async fn owned(
    services: &Services,
    caller: &Caller,
    verification_id: &str,
) -> Result<RowView, AppError> {
    services
        .store
        .verifications()
        .owned(verification_id, &caller.client_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Whether a refused initiation lost a race on `table`'s `(client_id, biz_id, biz_type)` unique key:
/// then the winner exists, and the loser answers like any repeat (40002).
pub(super) fn lost_biz_id_race<T, E: std::error::Error>(
    outcome: &Result<T, CommandError<E>>,
    table: Table,
) -> bool {
    use crate::store::{StoreError, UniqueKey};
    matches!(
        outcome,
        Err(CommandError::Store(StoreError::Duplicate(
            UniqueKey::BusinessId(refused)
        ))) if *refused == table
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::pii::PiiCipher;

    fn cipher() -> PiiCipher {
        let key = PiiCipher::generate_key().unwrap();
        let keys = BTreeMap::from([("k".to_owned(), key)]);
        PiiCipher::new("k", &keys, &PiiCipher::generate_key().unwrap()).unwrap()
    }

    #[test]
    fn a_page_token_opens_only_unchanged() {
        let pii = cipher();
        let token = page_token(&pii, "FACE_VERIFY_1", 1_700_000_000, 1);
        assert_eq!(
            open_page_token(&pii, &token),
            Some(PageLink {
                verification_id: "FACE_VERIFY_1".to_owned(),
                expires_unix: 1_700_000_000,
                link: 1
            })
        );
        let second = page_token(&pii, "FACE_VERIFY_1", 1_700_000_000, 2);
        assert_eq!(
            open_page_token(&pii, &second).map(|page| page.link),
            Some(2)
        );
        // A link number cannot be changed or added without the key.
        let (head, mac) = second.rsplit_once('.').unwrap();
        let third = format!("{}.3.{mac}", head.trim_end_matches(".2"));
        assert_eq!(open_page_token(&pii, &third), None);
        let (first_head, first_mac) = token.rsplit_once('.').unwrap();
        assert_eq!(
            open_page_token(&pii, &format!("{first_head}.2.{first_mac}")),
            None
        );
        let longer = token.replace(".1700000000.", ".1800000000.");
        assert_eq!(open_page_token(&pii, &longer), None);
        let other = token.replace("FACE_VERIFY_1", "FACE_VERIFY_2");
        assert_eq!(open_page_token(&pii, &other), None);
        assert_eq!(open_page_token(&cipher(), &token), None);
    }
}
