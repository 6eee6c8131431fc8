//! Reads from the query tables, on either backend, as JSON objects keyed by column name.
//!
//! PostgreSQL renders a row with `row_to_json`, SQLite with `json_object` over the table's columns; the
//! few type differences (SQLite booleans as 0/1, decimals as text, timestamps with `Z`) are absorbed by
//! [`RowView`]'s accessors, so handlers read one shape. `row_to_json` and `json_agg` write the text
//! straight from the row; `to_jsonb` built a sorted binary document and printed it again (pgbench ran
//! the contract read 21% to 34% faster with `row_to_json`: `bench/pgbench_query.sh`).

use chrono::{DateTime, Utc};
use projections::Table;
use serde_json::{Map, Value};
use tokio_postgres::types::ToSql;

use super::sql::{self, Statement};
use super::{Store, StoreError};

/// One row, by column name.
#[derive(Debug, Clone)]
pub struct RowView(Map<String, Value>);

impl RowView {
    /// A row computed in memory (a projection's output), read the same way as one from a table.
    pub fn from_row(row: &projections::Row) -> Self {
        use projections::SqlValue;
        let map = row
            .values
            .iter()
            .map(|(column, value)| {
                let json = match value {
                    SqlValue::Null => Value::Null,
                    SqlValue::Text(text) | SqlValue::Decimal(text) => Value::String(text.clone()),
                    SqlValue::Integer(number) => Value::from(*number),
                    SqlValue::Bool(flag) => Value::Bool(*flag),
                    SqlValue::Timestamp(time) => {
                        Value::String(time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                    }
                };
                ((*column).to_owned(), json)
            })
            .collect();
        Self(map)
    }

    pub fn text(&self, column: &str) -> Option<&str> {
        self.0.get(column).and_then(Value::as_str)
    }

    /// A text column that the schema declares NOT NULL; empty when absent.
    pub fn required_text(&self, column: &str) -> &str {
        self.text(column).unwrap_or_default()
    }

    pub fn integer(&self, column: &str) -> Option<i64> {
        self.0.get(column).and_then(Value::as_i64)
    }

    pub fn boolean(&self, column: &str) -> Option<bool> {
        match self.0.get(column)? {
            Value::Bool(flag) => Some(*flag),
            Value::Number(number) => number.as_i64().map(|n| n != 0),
            _ => None,
        }
    }

    /// A `numeric` (PostgreSQL) or decimal-text (SQLite) column as a JSON number.
    pub fn decimal(&self, column: &str) -> Option<f64> {
        match self.0.get(column)? {
            Value::Number(number) => number.as_f64(),
            Value::String(text) => text.parse().ok(),
            _ => None,
        }
    }

    pub fn time(&self, column: &str) -> Option<DateTime<Utc>> {
        let text = self.text(column)?;
        DateTime::parse_from_rfc3339(text)
            .map(|time| time.with_timezone(&Utc))
            .ok()
    }

    /// A column holding JSON text (e.g. `variables_json`), parsed.
    pub fn json(&self, column: &str) -> Option<Value> {
        match self.0.get(column)? {
            Value::String(text) => serde_json::from_str(text).ok(),
            Value::Null => None,
            other => Some(other.clone()),
        }
    }
}

/// The rows of `table` matching `filter`, a SQL condition whose parameters are written `{1}`, `{2}`…
/// and bound, in order, from `params` (all text). `order` is an optional `ORDER BY` list. For
/// operators' tools and tests; the service reads through the named reads below.
pub async fn select(
    store: &Store,
    table: Table,
    filter: &str,
    params: &[&str],
    order: Option<&str>,
) -> Result<Vec<RowView>, StoreError> {
    let order_by = order.map(|o| format!(" ORDER BY {o}")).unwrap_or_default();
    let params = params
        .iter()
        .map(|param| sql::Value::from(*param))
        .collect();
    rows(store, table, filter, params, &order_by).await
}

/// The rows of `table` matching `filter` (parameters `{1}`, `{2}`... bound from `params`),
/// followed by `tail` (`ORDER BY`, `LIMIT`), each rendered as one JSON object by the database.
pub(super) async fn rows(
    store: &Store,
    table: Table,
    filter: &str,
    params: Vec<sql::Value>,
    tail: &str,
) -> Result<Vec<RowView>, StoreError> {
    let postgres = format!(
        "SELECT row_to_json(t)::text FROM {} t WHERE {filter}{tail}",
        table.name()
    );
    let sqlite = format!(
        "SELECT json_object({}) FROM {} WHERE {filter}{tail}",
        json_object_arguments(table),
        table.name()
    );
    store
        .query(Statement::per_backend(sqlite, postgres), params)
        .await?
        .iter()
        .map(|row| parse_row(&row.text(0)?))
        .collect()
}

/// The first of [`rows`].
pub(super) async fn row(
    store: &Store,
    table: Table,
    filter: &str,
    params: Vec<sql::Value>,
) -> Result<Option<RowView>, StoreError> {
    Ok(rows(store, table, filter, params, " LIMIT 1")
        .await?
        .into_iter()
        .next())
}

/// `sql` on a pooled PostgreSQL connection, prepared once per connection.
async fn postgres_rows(
    pg: &crate::store::postgres::PostgresStore,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    let client = pg
        .pool()
        .get()
        .await
        .map_err(crate::store::postgres::pool_error)?;
    let statement = client
        .prepare_cached(sql)
        .await
        .map_err(crate::store::postgres::db_error)?;
    client
        .query(&statement, params)
        .await
        .map_err(crate::store::postgres::db_error)
}

/// `'column', column, ...` for SQLite's `json_object` over every column of `table`.
fn json_object_arguments(table: Table) -> String {
    table
        .columns()
        .iter()
        .map(|column| format!("'{column}', {column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQLite's statement for the contract read: `json_object` over the table's columns.
fn sqlite_select(table: Table, filter: &str, params: usize, order_by: &str) -> String {
    let condition = placeholders(filter, params, |n| format!("?{n}"));
    format!(
        "SELECT json_object({}) FROM {} WHERE {condition}{order_by}",
        json_object_arguments(table),
        table.name()
    )
}

fn sqlite_rows(
    connection: &rusqlite::Connection,
    sql: &str,
    params: &[String],
) -> Result<Vec<RowView>, StoreError> {
    let mut statement = connection
        .prepare_cached(sql)
        .map_err(crate::store::sqlite::sql_error)?;
    let texts = statement
        .query_map(rusqlite::params_from_iter(params.iter()), |row| {
            row.get::<_, String>(0)
        })
        .map_err(crate::store::sqlite::sql_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(crate::store::sqlite::sql_error)?;
    texts.iter().map(|text| parse_row(text)).collect()
}

/// A contract with its signers (in signing order) and its archive records (oldest first).
#[derive(Debug, Clone)]
pub struct ContractRows {
    pub contract: RowView,
    pub signers: Vec<RowView>,
    pub archives: Vec<RowView>,
}

/// The contract `contract_id` of `client_id` with its signers and archives, read in one go: one
/// statement on PostgreSQL, one pooled connection on SQLite. This is the hot read of
/// `GET /contract/{id}`; three separate selects cost three pool checkouts and round trips.
async fn owned_contract_rows(
    store: &Store,
    contract_id: &str,
    client_id: &str,
) -> Result<Option<ContractRows>, StoreError> {
    match store {
        Store::Postgres(pg) => {
            const SQL: &str = "SELECT row_to_json(c)::text, \
                 (SELECT coalesce(json_agg(row_to_json(s) ORDER BY s.sequence, s.id), '[]')::text \
                  FROM contract_signer s WHERE s.contract_id = c.contract_id), \
                 (SELECT coalesce(json_agg(row_to_json(a) ORDER BY a.id), '[]')::text \
                  FROM contract_archive a WHERE a.contract_id = c.contract_id) \
                 FROM contract c WHERE c.contract_id = $1 AND c.client_id = $2";
            let rows = postgres_rows(pg, SQL, &[&contract_id, &client_id]).await?;
            let Some(row) = rows.first() else {
                return Ok(None);
            };
            Ok(Some(ContractRows {
                contract: parse_row(row.get::<_, &str>(0))?,
                signers: parse_rows(row.get::<_, &str>(1))?,
                archives: parse_rows(row.get::<_, &str>(2))?,
            }))
        }
        Store::Sqlite(sqlite) => {
            let contract_sql = sqlite_select(
                Table::Contract,
                "contract_id = {1} AND client_id = {2}",
                2,
                "",
            );
            let signers_sql = sqlite_select(
                Table::ContractSigner,
                "contract_id = {1}",
                1,
                " ORDER BY sequence, id",
            );
            let archives_sql = sqlite_select(
                Table::ContractArchive,
                "contract_id = {1}",
                1,
                " ORDER BY id",
            );
            let (contract_id, client_id) = (contract_id.to_owned(), client_id.to_owned());
            sqlite
                .read(move |connection| {
                    let ids = [contract_id, client_id];
                    let Some(contract) = sqlite_rows(connection, &contract_sql, &ids)?
                        .into_iter()
                        .next()
                    else {
                        return Ok(None);
                    };
                    Ok(Some(ContractRows {
                        contract,
                        signers: sqlite_rows(connection, &signers_sql, &ids[..1])?,
                        archives: sqlite_rows(connection, &archives_sql, &ids[..1])?,
                    }))
                })
                .await
        }
    }
}

/// The first row [`select`] finds, if any.
pub async fn select_one(
    store: &Store,
    table: Table,
    filter: &str,
    params: &[&str],
) -> Result<Option<RowView>, StoreError> {
    Ok(select(store, table, filter, params, None)
        .await?
        .into_iter()
        .next())
}

fn placeholders(filter: &str, count: usize, render: impl Fn(usize) -> String) -> String {
    (1..=count).fold(filter.to_owned(), |sql, n| {
        sql.replace(&format!("{{{n}}}"), &render(n))
    })
}

/// A JSON array of rows, as `json_agg` renders them.
fn parse_rows(text: &str) -> Result<Vec<RowView>, StoreError> {
    match serde_json::from_str(text) {
        Ok(Value::Array(rows)) => rows
            .into_iter()
            .map(|row| match row {
                Value::Object(map) => Ok(RowView(map)),
                _ => Err(StoreError::Database(
                    "a query-table row did not read as a JSON object".into(),
                )),
            })
            .collect(),
        _ => Err(StoreError::Database(
            "query-table rows did not read as a JSON array".into(),
        )),
    }
}

fn parse_row(text: &str) -> Result<RowView, StoreError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(RowView(map)),
        _ => Err(StoreError::Database(
            "a query-table row did not read as a JSON object".into(),
        )),
    }
}

/// A resource table: its reads by id, by id and owner, and by business key are the same statement
/// with the table's own id column.
#[derive(Debug, Clone, Copy)]
struct Resource {
    table: Table,
    id_column: &'static str,
}

const CONTRACT: Resource = Resource::new(Table::Contract, "contract_id");
const VERIFICATION: Resource = Resource::new(Table::FaceVerification, "verification_id");
const NOTICE: Resource = Resource::new(Table::SmsNotice, "notice_id");

impl Resource {
    const fn new(table: Table, id_column: &'static str) -> Self {
        Self { table, id_column }
    }

    async fn by_id(self, store: &Store, id: &str) -> Result<Option<RowView>, StoreError> {
        let filter = format!("{} = {{1}}", self.id_column);
        row(store, self.table, &filter, vec![id.into()]).await
    }

    async fn owned(
        self,
        store: &Store,
        id: &str,
        client_id: &str,
    ) -> Result<Option<RowView>, StoreError> {
        let filter = format!("{} = {{1}} AND client_id = {{2}}", self.id_column);
        row(
            store,
            self.table,
            &filter,
            vec![id.into(), client_id.into()],
        )
        .await
    }

    /// The business key a repeated initiation is recognised by (spec 7.1): client, `bizId`, `bizType`.
    async fn by_biz_id(
        self,
        store: &Store,
        client_id: &str,
        biz_id: &str,
        biz_type: &str,
    ) -> Result<Option<RowView>, StoreError> {
        row(
            store,
            self.table,
            "client_id = {1} AND biz_id = {2} AND biz_type = {3}",
            vec![client_id.into(), biz_id.into(), biz_type.into()],
        )
        .await
    }
}

/// A versioned template table: contract templates by `template_id`, SMS templates by
/// `template_code`.
#[derive(Debug, Clone, Copy)]
struct VersionedTable {
    table: Table,
    key_column: &'static str,
}

const CONTRACT_TEMPLATE: VersionedTable =
    VersionedTable::new(Table::ContractTemplate, "template_id");
const SMS_TEMPLATE: VersionedTable = VersionedTable::new(Table::SmsTemplate, "template_code");

impl VersionedTable {
    const fn new(table: Table, key_column: &'static str) -> Self {
        Self { table, key_column }
    }

    async fn versions(self, store: &Store, key: &str) -> Result<Vec<RowView>, StoreError> {
        let filter = format!("{} = {{1}}", self.key_column);
        rows(
            store,
            self.table,
            &filter,
            vec![key.into()],
            " ORDER BY activation_order DESC",
        )
        .await
    }

    async fn version(
        self,
        store: &Store,
        key: &str,
        version: &str,
    ) -> Result<Option<RowView>, StoreError> {
        let filter = format!("{} = {{1}} AND version = {{2}}", self.key_column);
        row(store, self.table, &filter, vec![key.into(), version.into()]).await
    }
}

/// The contract tables' reads: [`Store::contracts`].
#[derive(Debug, Clone, Copy)]
pub struct ContractReads<'a>(&'a Store);

/// The face verification table's reads: [`Store::verifications`].
#[derive(Debug, Clone, Copy)]
pub struct VerificationReads<'a>(&'a Store);

/// The template tables' reads (contract templates and SMS templates): [`Store::templates`].
#[derive(Debug, Clone, Copy)]
pub struct TemplateReads<'a>(&'a Store);

/// The SMS notice table's reads: [`Store::notices`].
#[derive(Debug, Clone, Copy)]
pub struct NoticeReads<'a>(&'a Store);

impl Store {
    pub fn contracts(&self) -> ContractReads<'_> {
        ContractReads(self)
    }

    pub fn verifications(&self) -> VerificationReads<'_> {
        VerificationReads(self)
    }

    pub fn templates(&self) -> TemplateReads<'_> {
        TemplateReads(self)
    }

    pub fn notices(&self) -> NoticeReads<'_> {
        NoticeReads(self)
    }
}

impl ContractReads<'_> {
    /// The contract `contract_id` if `client_id` owns it; another client's contract does not exist
    /// for them.
    pub async fn owned(
        self,
        contract_id: &str,
        client_id: &str,
    ) -> Result<Option<RowView>, StoreError> {
        CONTRACT.owned(self.0, contract_id, client_id).await
    }

    /// Signers' SMS invitations whose attempt is in flight or whose failure is to be retried, oldest
    /// first: the delivery sweep's look-up.
    pub async fn invitations_awaiting_delivery(self) -> Result<Vec<RowView>, StoreError> {
        rows(
            self.0,
            Table::ContractInvitation,
            "status = 'REQUESTED' OR (status = 'FAILED' AND next_attempt_at IS NOT NULL)",
            Vec::new(),
            " ORDER BY id",
        )
        .await
    }

    /// [`Self::owned`] with its signers and archive records, in one read: the hot read of
    /// `GET /contract/{id}`.
    pub async fn owned_with_parts(
        self,
        contract_id: &str,
        client_id: &str,
    ) -> Result<Option<ContractRows>, StoreError> {
        owned_contract_rows(self.0, contract_id, client_id).await
    }

    /// The contract, whoever owns it (the public verify page, operators).
    pub async fn by_id(self, contract_id: &str) -> Result<Option<RowView>, StoreError> {
        CONTRACT.by_id(self.0, contract_id).await
    }

    /// The client's contract with this business id and type.
    pub async fn by_biz_id(
        self,
        client_id: &str,
        biz_id: &str,
        biz_type: &str,
    ) -> Result<Option<RowView>, StoreError> {
        CONTRACT
            .by_biz_id(self.0, client_id, biz_id, biz_type)
            .await
    }

    /// The client's contract whose sealed document has this SHA-256 (hex).
    pub async fn by_document_hash(
        self,
        client_id: &str,
        sha256: &str,
    ) -> Result<Option<RowView>, StoreError> {
        row(
            self.0,
            Table::Contract,
            "document_hash = {1} AND client_id = {2}",
            vec![sha256.into(), client_id.into()],
        )
        .await
    }

    /// The client's contract that once had a sealed document with this SHA-256 (hex): the file
    /// as sealed, or a version a later renewal grew from (the current one is [`by_document_hash`]).
    ///
    /// [`by_document_hash`]: Self::by_document_hash
    pub async fn by_earlier_document_hash(
        self,
        client_id: &str,
        sha256: &str,
    ) -> Result<Option<RowView>, StoreError> {
        row(
            self.0,
            Table::Contract,
            "client_id = {2} AND contract_id IN \
             (SELECT contract_id FROM contract_document WHERE document_hash = {1})",
            vec![sha256.into(), client_id.into()],
        )
        .await
    }

    /// Current versions of sealed documents whose last document timestamp's authority
    /// certificate expires before `expiring_before` (or is not known: documents sealed before
    /// they carried one), last timestamped before `timestamped_before`, soonest expiry first
    /// (`contract_document` rows).
    pub async fn document_timestamps_due(
        self,
        expiring_before: DateTime<Utc>,
        timestamped_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<RowView>, StoreError> {
        rows(
            self.0,
            Table::ContractDocument,
            "current = {3} \
             AND (document_timestamp_valid_until IS NULL OR document_timestamp_valid_until < {1}) \
             AND (document_timestamped_at IS NULL OR document_timestamped_at < {2})",
            vec![
                expiring_before.into(),
                timestamped_before.into(),
                true.into(),
            ],
            &format!(" ORDER BY document_timestamp_valid_until, contract_id LIMIT {limit}"),
        )
        .await
    }

    /// The contract's signers in signing order.
    pub async fn signers(self, contract_id: &str) -> Result<Vec<RowView>, StoreError> {
        rows(
            self.0,
            Table::ContractSigner,
            "contract_id = {1}",
            vec![contract_id.into()],
            " ORDER BY sequence, id",
        )
        .await
    }

    /// The contract's archive records, oldest first.
    pub async fn archives(self, contract_id: &str) -> Result<Vec<RowView>, StoreError> {
        rows(
            self.0,
            Table::ContractArchive,
            "contract_id = {1}",
            vec![contract_id.into()],
            " ORDER BY id",
        )
        .await
    }

    /// One archive record by its id.
    pub async fn archive(self, archive_id: &str) -> Result<Option<RowView>, StoreError> {
        row(
            self.0,
            Table::ContractArchive,
            "archive_id = {1}",
            vec![archive_id.into()],
        )
        .await
    }

    /// SIGNED contracts whose document is not sealed yet, earliest signed first.
    pub async fn awaiting_seal(self, limit: u32) -> Result<Vec<RowView>, StoreError> {
        rows(
            self.0,
            Table::Contract,
            "status = 'SIGNED' AND document_hash IS NULL",
            Vec::new(),
            &format!(" ORDER BY signed_at, contract_id LIMIT {limit}"),
        )
        .await
    }

    /// Sealed contracts that asked for archiving with more providers than they have archive
    /// records (none yet, or a sweep stopped between two providers), earliest signed first.
    pub async fn awaiting_archive_request(self, limit: u32) -> Result<Vec<String>, StoreError> {
        let sql = |providers: &str| {
            format!(
                "SELECT c.contract_id FROM contract c \
                 WHERE c.status = 'SIGNED' AND c.document_hash IS NOT NULL AND c.need_archive \
                 AND (SELECT COUNT(*) FROM contract_archive a WHERE a.contract_id = c.contract_id) \
                 < json_array_length({providers}) \
                 ORDER BY c.signed_at LIMIT {limit}"
            )
        };
        self.0
            .query(
                Statement::per_backend(
                    sql("c.archive_providers"),
                    sql("c.archive_providers::json"),
                ),
                Vec::new(),
            )
            .await?
            .iter()
            .map(|row| row.text(0))
            .collect()
    }

    /// Archive records pending, or failed with attempts left, least recently changed first.
    pub async fn archives_to_retry(
        self,
        max_attempts: u32,
        limit: u32,
    ) -> Result<Vec<RowView>, StoreError> {
        rows(
            self.0,
            Table::ContractArchive,
            "status = 'PENDING' OR (status = 'FAILED' AND attempts < {1})",
            vec![max_attempts.into()],
            &format!(" ORDER BY updated_at LIMIT {limit}"),
        )
        .await
    }

    /// The signer whose current sign link has this token hash.
    pub async fn signer_by_link(self, token_hash: &str) -> Result<Option<RowView>, StoreError> {
        row(
            self.0,
            Table::ContractSigner,
            "link_token_hash = {1}",
            vec![token_hash.into()],
        )
        .await
    }

    /// The signer who was ever issued a link with this token hash (an older, replaced link), read
    /// from the `SignLinkIssued` events through the expression index of migration 0008.
    pub async fn signer_by_replaced_link(
        self,
        token_hash: &str,
    ) -> Result<Option<RowView>, StoreError> {
        let (token, party) = match self.0 {
            Store::Postgres(_) => ("e.payload->>'tokenHash'", "e.payload->>'partyId'"),
            Store::Sqlite(_) => (
                "json_extract(e.payload, '$.tokenHash')",
                "json_extract(e.payload, '$.partyId')",
            ),
        };
        let filter = format!(
            "EXISTS (SELECT 1 FROM events e WHERE e.event_type = 'SignLinkIssued' \
             AND {token} = {{1}} AND e.stream_id = 'contract-' || contract_id AND {party} = party_id)"
        );
        row(
            self.0,
            Table::ContractSigner,
            &filter,
            vec![token_hash.into()],
        )
        .await
    }
}

impl VerificationReads<'_> {
    /// The archive records of the verification's result, by provider name.
    pub async fn result_archives(self, verification_id: &str) -> Result<Vec<RowView>, StoreError> {
        rows(
            self.0,
            Table::FaceVerificationArchive,
            "verification_id = {1}",
            vec![verification_id.into()],
            " ORDER BY archive_provider",
        )
        .await
    }

    /// Result archive records not requested yet, least recently changed first.
    pub async fn result_archives_to_request(self, limit: u32) -> Result<Vec<RowView>, StoreError> {
        rows(
            self.0,
            Table::FaceVerificationArchive,
            "status = 'PENDING' AND attempts = 0",
            Vec::new(),
            &format!(" ORDER BY updated_at LIMIT {limit}"),
        )
        .await
    }

    /// Result archive records in flight, or failed with attempts left, least recently changed
    /// first.
    pub async fn result_archives_to_retry(
        self,
        max_attempts: u32,
        limit: u32,
    ) -> Result<Vec<RowView>, StoreError> {
        rows(
            self.0,
            Table::FaceVerificationArchive,
            "(status = 'PENDING' AND attempts > 0) OR (status = 'FAILED' AND attempts < {1})",
            vec![max_attempts.into()],
            &format!(" ORDER BY updated_at LIMIT {limit}"),
        )
        .await
    }

    /// The verification if `client_id` owns it.
    pub async fn owned(
        self,
        verification_id: &str,
        client_id: &str,
    ) -> Result<Option<RowView>, StoreError> {
        VERIFICATION.owned(self.0, verification_id, client_id).await
    }

    /// The verification, whoever owns it (the person's own pages, keyed by their page token).
    pub async fn by_id(self, verification_id: &str) -> Result<Option<RowView>, StoreError> {
        VERIFICATION.by_id(self.0, verification_id).await
    }

    /// The client's verification with this business id and type.
    pub async fn by_biz_id(
        self,
        client_id: &str,
        biz_id: &str,
        biz_type: &str,
    ) -> Result<Option<RowView>, StoreError> {
        VERIFICATION
            .by_biz_id(self.0, client_id, biz_id, biz_type)
            .await
    }

    /// The client's verifications whose business id starts with `prefix`.
    pub async fn by_biz_id_prefix(
        self,
        client_id: &str,
        prefix: &str,
    ) -> Result<Vec<RowView>, StoreError> {
        rows(
            self.0,
            Table::FaceVerification,
            "client_id = {1} AND biz_id LIKE {2}",
            vec![client_id.into(), format!("{prefix}%").into()],
            "",
        )
        .await
    }

    /// The verification `verification_id` whose provider task is `task_id`.
    pub async fn with_task(
        self,
        verification_id: &str,
        task_id: &str,
    ) -> Result<Option<RowView>, StoreError> {
        row(
            self.0,
            Table::FaceVerification,
            "verification_id = {1} AND provider_task_id = {2}",
            vec![verification_id.into(), task_id.into()],
        )
        .await
    }

    /// PENDING verifications without a provider task, not degraded, before their deadline, whose
    /// next provider round is due at `now`, or (no round recorded at all) created before `stale`.
    pub async fn due_provider_rounds(
        self,
        now: DateTime<Utc>,
        stale: DateTime<Utc>,
    ) -> Result<Vec<RowView>, StoreError> {
        rows(
            self.0,
            Table::FaceVerification,
            "status = 'PENDING' AND provider_task_id IS NULL AND degraded = {3} AND expires_at > {1} \
             AND ((next_provider_attempt_at IS NOT NULL AND next_provider_attempt_at <= {1}) \
                  OR (provider_attempts = 0 AND created_at <= {2}))",
            vec![now.into(), stale.into(), false.into()],
            " ORDER BY created_at",
        )
        .await
    }
}

impl TemplateReads<'_> {
    /// Every version of a contract template, the most recently activated first.
    pub async fn versions(self, template_id: &str) -> Result<Vec<RowView>, StoreError> {
        CONTRACT_TEMPLATE.versions(self.0, template_id).await
    }

    /// One version of a contract template.
    pub async fn version(
        self,
        template_id: &str,
        version: &str,
    ) -> Result<Option<RowView>, StoreError> {
        CONTRACT_TEMPLATE
            .version(self.0, template_id, version)
            .await
    }

    /// Every version of an SMS template, the most recently activated first.
    pub async fn sms_versions(self, template_code: &str) -> Result<Vec<RowView>, StoreError> {
        SMS_TEMPLATE.versions(self.0, template_code).await
    }

    /// One version of an SMS template.
    pub async fn sms_version(
        self,
        template_code: &str,
        version: &str,
    ) -> Result<Option<RowView>, StoreError> {
        SMS_TEMPLATE.version(self.0, template_code, version).await
    }
}

impl NoticeReads<'_> {
    /// The notice if `client_id` owns it.
    pub async fn owned(
        self,
        notice_id: &str,
        client_id: &str,
    ) -> Result<Option<RowView>, StoreError> {
        NOTICE.owned(self.0, notice_id, client_id).await
    }

    /// The client's notice with this business id and type.
    pub async fn by_biz_id(
        self,
        client_id: &str,
        biz_id: &str,
        biz_type: &str,
    ) -> Result<Option<RowView>, StoreError> {
        NOTICE.by_biz_id(self.0, client_id, biz_id, biz_type).await
    }

    /// Notices whose attempt is in flight or whose failure is to be retried, oldest first.
    pub async fn awaiting_delivery(self) -> Result<Vec<RowView>, StoreError> {
        rows(
            self.0,
            Table::SmsNotice,
            "status = 'REQUESTED' OR (status = 'FAILED' AND next_attempt_at IS NOT NULL)",
            Vec::new(),
            " ORDER BY id",
        )
        .await
    }
}
