//! The `short_links` table: a short code's keyed hash, where it leads (sealed) and until when.

use chrono::{DateTime, Utc};

use super::sql::{Statement, Value};
use super::{Store, StoreError};

/// One stored short link. The code itself is never stored, only its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortLinkRow {
    pub code_key: String,
    pub contract_id: String,
    pub party_id: String,
    pub target_sealed: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// Inserts the rows whose codes are free; the count tells how many were.
pub(super) fn insert(rows: &[ShortLinkRow]) -> (Statement, Vec<Value>) {
    let mut sqlite = String::from(
        "INSERT INTO short_links (code, contract_id, party_id, target_sealed, expires_at, \
         created_at) VALUES ",
    );
    let mut params = Vec::with_capacity(rows.len() * 6);
    for (index, row) in rows.iter().enumerate() {
        let base = index * 6;
        if index > 0 {
            sqlite.push_str(", ");
        }
        sqlite.push_str(&format!(
            "({{{}}}, {{{}}}, {{{}}}, {{{}}}, {{{}}}, {{{}}})",
            base + 1,
            base + 2,
            base + 3,
            base + 4,
            base + 5,
            base + 6
        ));
        params.extend([
            Value::from(row.code_key.as_str()),
            row.contract_id.as_str().into(),
            row.party_id.as_str().into(),
            row.target_sealed.as_str().into(),
            row.expires_at.into(),
            row.created_at.into(),
        ]);
    }
    sqlite.push_str(" ON CONFLICT DO NOTHING");
    (Statement::from(sqlite), params)
}

/// Short links: [`Store::short_links`].
#[derive(Debug, Clone, Copy)]
pub struct ShortLinks<'a>(&'a Store);

impl Store {
    pub fn short_links(&self) -> ShortLinks<'_> {
        ShortLinks(self)
    }
}

impl ShortLinks<'_> {
    /// Stores one link on its own; `false` when its code is taken.
    pub async fn insert(self, row: &ShortLinkRow) -> Result<bool, StoreError> {
        let (statement, params) = insert(std::slice::from_ref(row));
        Ok(self.0.write_one(statement, params).await?.count == 1)
    }

    /// The sealed targets and expiries of a signer's links still alive at `now`, newest first.
    pub async fn of_signer(
        self,
        contract_id: &str,
        party_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        self.0
            .query(
                "SELECT target_sealed, expires_at FROM short_links \
                 WHERE contract_id = {1} AND party_id = {2} ORDER BY created_at DESC",
                vec![contract_id.into(), party_id.into()],
            )
            .await?
            .iter()
            .map(|row| Ok((row.text(0)?, row.time(1)?)))
            .filter(|row| !matches!(row, Ok((_, expires_at)) if *expires_at <= now))
            .collect()
    }

    /// The sealed target and expiry of the link whose `code` column is `code_key`.
    pub async fn find(self, code_key: &str) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        self.0
            .query_opt(
                "SELECT target_sealed, expires_at FROM short_links WHERE code = {1}",
                vec![code_key.into()],
            )
            .await?
            .map(|row| Ok((row.text(0)?, row.time(1)?)))
            .transpose()
    }
}
