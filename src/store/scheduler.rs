//! What the scheduled sweeps ask of the store: the items past their deadline, oldest first, and
//! the record of each sweep's last run (`scheduler_jobs`).

use chrono::{DateTime, Utc};

use super::sql::Value;
use super::{Store, StoreError};

/// A signer's link past its deadline, on a contract still open for signing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExpiredLink {
    pub contract_id: String,
    pub party_id: String,
    pub link_id: String,
}

/// The sweeps' reads and records: [`Store::scheduler`].
#[derive(Debug, Clone, Copy)]
pub struct Scheduler<'a>(&'a Store);

impl Store {
    pub fn scheduler(&self) -> Scheduler<'_> {
        Scheduler(self)
    }
}

impl Scheduler<'_> {
    /// Contracts still open for signing whose deadline is at or before `now`.
    pub async fn contracts_past_deadline(
        self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        self.ids(
            "SELECT contract_id FROM contract \
             WHERE status IN ('CREATED', 'PARTIAL_SIGNED') AND expires_at <= {1} \
             ORDER BY expires_at LIMIT {2}",
            now,
            limit,
        )
        .await
    }

    /// Live sign links whose deadline is at or before `now`, on contracts still open for signing.
    pub async fn sign_links_past_deadline(
        self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ExpiredLink>, StoreError> {
        let rows = self
            .0
            .query(
                "SELECT s.contract_id, s.party_id, s.link_id FROM contract_signer s \
                 JOIN contract c ON c.contract_id = s.contract_id \
                 WHERE s.link_status = 'ACTIVE' AND s.expires_at <= {1} \
                   AND c.status IN ('CREATED', 'PARTIAL_SIGNED') \
                 ORDER BY s.expires_at LIMIT {2}",
                vec![now.into(), limit.into()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ExpiredLink {
                    contract_id: row.text(0)?,
                    party_id: row.text(1)?,
                    link_id: row.text(2)?,
                })
            })
            .collect()
    }

    /// Face verifications not yet decided whose deadline is at or before `now`.
    pub async fn verifications_past_deadline(
        self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        self.ids(
            "SELECT verification_id FROM face_verification \
             WHERE status IN ('PENDING', 'PROCESSING') AND expires_at <= {1} \
             ORDER BY expires_at LIMIT {2}",
            now,
            limit,
        )
        .await
    }

    async fn ids(
        self,
        sql: &'static str,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let rows = self.0.query(sql, vec![now.into(), limit.into()]).await?;
        rows.iter().map(|row| row.text(0)).collect()
    }

    /// Records a sweep's last run: when it started and ended, and what it reported.
    pub async fn record_run(
        self,
        job: &str,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        outcome: &str,
    ) -> Result<(), StoreError> {
        self.0
            .write_one(
                "UPDATE scheduler_jobs SET last_started_at = {1}, last_finished_at = {2}, \
                 last_outcome = {3} WHERE name = {4}",
                vec![
                    started_at.into(),
                    finished_at.into(),
                    Value::from(outcome),
                    job.into(),
                ],
            )
            .await
            .map(|_| ())
    }
}
