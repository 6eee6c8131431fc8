//! The expiry scheduler (spec 4.1.1, 4.2.3, 4.2.4): contracts, signers' links and face verifications
//! that pass their deadline are expired by commands, so an expiry is an event in the log with its
//! callback like any other change.
//!
//! A sweep asks the query tables what is due at `now`, oldest first, in batches until nothing is left:
//! an instance that was down catches up on its first sweep. Several instances may run the scheduler;
//! on PostgreSQL one sweeps at a time, holding a session advisory lock (not a row lock: a row lock
//! would give the sweep's transaction an id and hold back the event store's commit fence for the
//! whole sweep). Correctness does not depend on the lock: each expiry is a command at the stream's
//! version, and an already expired item decides nothing.

use serde::Deserialize;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aggregates::Aggregate;
use aggregates::contract::{ContractAggregate, ContractCommand, Expire, ExpireSignLink};
use aggregates::face_verification::{
    ExpireVerification, FaceVerificationAggregate, VerificationCommand,
};
use aggregates::values::{LinkId, PartyId};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::app::pipeline::{CommandError, Pipeline};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError, StreamId, advisory};

/// The scheduler that expires verifications, sign links and contracts at their deadlines.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExpiryConfig {
    pub enabled: bool,
    pub interval_seconds: u64,
    /// Items expired per query; a sweep repeats until nothing is due.
    pub batch_size: u32,
}

impl Default for ExpiryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_seconds: 15,
            batch_size: 200,
        }
    }
}

impl ExpiryConfig {
    pub fn check(&self) -> Result<(), String> {
        if self.interval_seconds == 0 || self.batch_size == 0 {
            return Err("expiry.interval_seconds and expiry.batch_size must be at least 1".into());
        }
        Ok(())
    }
}

/// The advisory lock key of the expiry sweep ("esign" + job 1).
const SWEEP_LOCK_KEY: i64 = 0x6573_6967_6e00_0001;

/// What one sweep expired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub contracts: u64,
    pub sign_links: u64,
    pub verifications: u64,
    /// Items whose expiry command failed (logged); they are tried again next sweep.
    pub failed: u64,
    /// `true` when another instance was sweeping and this one did nothing.
    pub skipped: bool,
}

/// Expires what is due.
#[derive(Debug, Clone)]
pub struct ExpiryScheduler {
    store: Store,
    pipeline: Pipeline,
    metrics: Arc<Metrics>,
    batch_size: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Contract,
    SignLink,
    Verification,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Contract => "contract",
            Kind::SignLink => "sign_link",
            Kind::Verification => "verification",
        }
    }
}

type Due = (String, String, String);

impl ExpiryScheduler {
    pub fn new(store: Store, pipeline: Pipeline, metrics: Arc<Metrics>, batch_size: u32) -> Self {
        Self {
            store,
            pipeline,
            metrics,
            batch_size,
        }
    }

    /// Sweeps every `interval` until the task is aborted.
    pub fn spawn(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let scheduler = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match scheduler.sweep(Utc::now()).await {
                    Ok(report) if report.skipped => {}
                    Ok(report) => {
                        if report.contracts + report.sign_links + report.verifications > 0 {
                            tracing::info!(?report, "expiry sweep");
                        }
                    }
                    Err(error) => tracing::warn!(%error, "expiry sweep failed; retrying next tick"),
                }
            }
        })
    }

    /// Expires everything due at `now`.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, StoreError> {
        let guard = match advisory::try_lock(&self.store, SWEEP_LOCK_KEY).await {
            Ok(Some(guard)) => guard,
            Ok(None) => {
                self.metrics.expiry_run("skipped");
                return Ok(SweepReport {
                    skipped: true,
                    ..SweepReport::default()
                });
            }
            Err(error) => {
                self.metrics.expiry_run("error");
                return Err(error);
            }
        };
        let result = self.sweep_locked(now).await;
        guard.release().await;
        self.metrics
            .expiry_run(if result.is_ok() { "ok" } else { "error" });
        let report = result?;
        self.record_run(now, &report).await;
        Ok(report)
    }

    async fn sweep_locked(&self, now: DateTime<Utc>) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        // Contracts first: their links and pending signers die with them.
        for kind in [Kind::Contract, Kind::SignLink, Kind::Verification] {
            let mut failed: HashSet<Due> = HashSet::new();
            loop {
                let due = self.due(kind, now).await?;
                let fresh: Vec<Due> = due
                    .iter()
                    .filter(|item| !failed.contains(*item))
                    .cloned()
                    .collect();
                if fresh.is_empty() {
                    break;
                }
                for item in fresh {
                    match self.expire(kind, &item, now).await {
                        Ok(true) => {
                            self.metrics.expired(kind.label());
                            match kind {
                                Kind::Contract => report.contracts += 1,
                                Kind::SignLink => report.sign_links += 1,
                                Kind::Verification => report.verifications += 1,
                            }
                        }
                        Ok(false) => {
                            // Decided nothing (already final): the row will not be due again once
                            // its projection caught up, but do not spin on it in this sweep.
                            failed.insert(item);
                        }
                        Err(error) => {
                            tracing::warn!(kind = kind.label(), id = %item.0, %error, "cannot expire");
                            report.failed += 1;
                            failed.insert(item);
                        }
                    }
                }
                if due.len() < self.batch_size as usize {
                    break;
                }
            }
        }
        Ok(report)
    }

    /// Issues one expiry command; `Ok(true)` when it appended an event.
    async fn expire(&self, kind: Kind, item: &Due, now: DateTime<Utc>) -> Result<bool, String> {
        let metadata = super::system_metadata("expiry");
        match kind {
            Kind::Contract => {
                let stream = StreamId::new(ContractAggregate::NAME, &item.0);
                appended(
                    self.pipeline
                        .execute::<ContractAggregate>(&stream, &metadata, |_| {
                            ContractCommand::Expire(Expire { now })
                        })
                        .await
                        .map(|executed| executed.appended.len()),
                )
            }
            Kind::SignLink => {
                let party_id = PartyId::parse(&item.1).map_err(|e| e.to_string())?;
                let link_id = LinkId::parse(&item.2).map_err(|e| e.to_string())?;
                let stream = StreamId::new(ContractAggregate::NAME, &item.0);
                appended(
                    self.pipeline
                        .execute::<ContractAggregate>(&stream, &metadata, |_| {
                            ContractCommand::ExpireSignLink(ExpireSignLink {
                                party_id: party_id.clone(),
                                link_id: link_id.clone(),
                                now,
                            })
                        })
                        .await
                        .map(|executed| executed.appended.len()),
                )
            }
            Kind::Verification => {
                let stream = StreamId::new(FaceVerificationAggregate::NAME, &item.0);
                appended(
                    self.pipeline
                        .execute::<FaceVerificationAggregate>(&stream, &metadata, |_| {
                            VerificationCommand::Expire(ExpireVerification { now })
                        })
                        .await
                        .map(|executed| executed.appended.len()),
                )
            }
        }
    }

    async fn due(&self, kind: Kind, now: DateTime<Utc>) -> Result<Vec<Due>, StoreError> {
        let scheduler = self.store.scheduler();
        let limit = self.batch_size;
        let alone = |id: String| (id, String::new(), String::new());
        Ok(match kind {
            Kind::Contract => scheduler
                .contracts_past_deadline(now, limit)
                .await?
                .into_iter()
                .map(alone)
                .collect(),
            Kind::SignLink => scheduler
                .sign_links_past_deadline(now, limit)
                .await?
                .into_iter()
                .map(|link| (link.contract_id, link.party_id, link.link_id))
                .collect(),
            Kind::Verification => scheduler
                .verifications_past_deadline(now, limit)
                .await?
                .into_iter()
                .map(alone)
                .collect(),
        })
    }

    async fn record_run(&self, now: DateTime<Utc>, report: &SweepReport) {
        let outcome = serde_json::to_string(report).unwrap_or_default();
        let recorded = self
            .store
            .scheduler()
            .record_run("expiry", now, Utc::now(), &outcome)
            .await;
        if let Err(error) = recorded {
            tracing::warn!(%error, "cannot record the expiry sweep");
        }
    }
}

fn appended<E: std::error::Error>(result: Result<usize, CommandError<E>>) -> Result<bool, String> {
    match result {
        Ok(count) => Ok(count > 0),
        // Already final, or not yet due by the aggregate's own clock: nothing to do now.
        Err(CommandError::Domain(error)) => {
            tracing::debug!(%error, "expiry decided nothing");
            Ok(false)
        }
        Err(other) => Err(other.to_string()),
    }
}
