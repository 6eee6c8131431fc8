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
    state
        .pipeline
        .execute::<FaceVerificationAggregate>(&stream(verification_id), metadata, |_| {
            command.clone()
        })
        .await
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

/// The verification page's token: `<verificationId>.<expiry unix seconds>.<keyed hash>`. It carries no
/// secret of its own; the keyed hash makes it unforgeable and binds it to the verification's deadline.
pub fn page_token(pii: &PiiCipher, verification_id: &str, expires_unix: i64) -> String {
    format!(
        "{verification_id}.{expires_unix}.{}",
        page_mac(pii, verification_id, expires_unix)
    )
}

/// The verification id and expiry a page token names, when its keyed hash is right.
pub fn open_page_token(pii: &PiiCipher, token: &str) -> Option<(String, i64)> {
    let mut parts = token.rsplitn(3, '.');
    let (mac, expires, verification_id) = (parts.next()?, parts.next()?, parts.next()?);
    let expires_unix: i64 = expires.parse().ok()?;
    let expected = page_mac(pii, verification_id, expires_unix);
    bool::from(expected.as_bytes().ct_eq(mac.as_bytes()))
        .then(|| (verification_id.to_owned(), expires_unix))
}

fn page_mac(pii: &PiiCipher, verification_id: &str, expires_unix: i64) -> String {
    pii.blind_index(&format!(
        "esign:h5:face-verify:{verification_id}:{expires_unix}"
    ))
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
    Ok(crate::read::views::verification(&row, &services.pii)?)
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
        let token = page_token(&pii, "FACE_VERIFY_1", 1_700_000_000);
        assert_eq!(
            open_page_token(&pii, &token),
            Some(("FACE_VERIFY_1".to_owned(), 1_700_000_000))
        );
        let longer = token.replace(".1700000000.", ".1800000000.");
        assert_eq!(open_page_token(&pii, &longer), None);
        let other = token.replace("FACE_VERIFY_1", "FACE_VERIFY_2");
        assert_eq!(open_page_token(&pii, &other), None);
        assert_eq!(open_page_token(&cipher(), &token), None);
    }
}
