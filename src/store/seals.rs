//! The reads of the `organization`, `seal` and `seal_version` query tables. Rows are written by the
//! command pipeline like every projection.

use projections::Table;

use super::query_tables::{RowView, row, rows};
use super::{Store, StoreError};

/// The organisation and seal tables' reads: [`Store::seals`].
#[derive(Debug, Clone, Copy)]
pub struct SealReads<'a>(&'a Store);

impl Store {
    pub fn seals(&self) -> SealReads<'_> {
        SealReads(self)
    }
}

impl SealReads<'_> {
    /// The organisation with this credit code (upper case), if registered.
    pub async fn organization(self, credit_code: &str) -> Result<Option<RowView>, StoreError> {
        row(
            self.0,
            Table::Organization,
            "credit_code = {1}",
            vec![credit_code.into()],
        )
        .await
    }

    /// The organisation's seals, oldest first.
    pub async fn of_organization(self, credit_code: &str) -> Result<Vec<RowView>, StoreError> {
        rows(
            self.0,
            Table::Seal,
            "credit_code = {1}",
            vec![credit_code.into()],
            " ORDER BY created_at, seal_id",
        )
        .await
    }

    /// One seal, its current version's facts in the row.
    pub async fn seal(self, seal_id: &str) -> Result<Option<RowView>, StoreError> {
        row(self.0, Table::Seal, "seal_id = {1}", vec![seal_id.into()]).await
    }

    /// Every version of a seal, oldest first.
    pub async fn versions(self, seal_id: &str) -> Result<Vec<RowView>, StoreError> {
        rows(
            self.0,
            Table::SealVersion,
            "seal_id = {1}",
            vec![seal_id.into()],
            " ORDER BY version",
        )
        .await
    }
}
