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

use crate::store::{Store, StoreError};

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
/// and bound, in order, from `params` (all text). `order` is an optional `ORDER BY` list.
pub async fn select(
    store: &Store,
    table: Table,
    filter: &str,
    params: &[&str],
    order: Option<&str>,
) -> Result<Vec<RowView>, StoreError> {
    let order_by = order.map(|o| format!(" ORDER BY {o}")).unwrap_or_default();
    let owned: Vec<String> = params.iter().map(|p| (*p).to_owned()).collect();
    match store {
        Store::Postgres(pg) => {
            let condition = placeholders(filter, owned.len(), |n| format!("${n}"));
            let sql = format!(
                "SELECT row_to_json(t)::text FROM {} t WHERE {condition}{order_by}",
                table.name()
            );
            let refs: Vec<&(dyn ToSql + Sync)> =
                owned.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            let rows = postgres_rows(pg, &sql, &refs).await?;
            rows.iter()
                .map(|row| parse_row(row.get::<_, &str>(0)))
                .collect()
        }
        Store::Sqlite(sqlite) => {
            let sql = sqlite_select(table, filter, owned.len(), &order_by);
            sqlite
                .read(move |connection| sqlite_rows(connection, &sql, &owned))
                .await
        }
    }
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

/// SQLite's statement for [`select`]: `json_object` over the table's columns.
fn sqlite_select(table: Table, filter: &str, params: usize, order_by: &str) -> String {
    let condition = placeholders(filter, params, |n| format!("?{n}"));
    let object: Vec<String> = table
        .columns()
        .iter()
        .map(|column| format!("'{column}', {column}"))
        .collect();
    format!(
        "SELECT json_object({}) FROM {} WHERE {condition}{order_by}",
        object.join(", "),
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
pub async fn owned_contract_rows(
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

/// The first matching row, if any.
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

/// A contract's archive records, oldest first.
pub async fn contract_archives(
    store: &Store,
    contract_id: &str,
) -> Result<Vec<RowView>, StoreError> {
    select(
        store,
        Table::ContractArchive,
        "contract_id = {1}",
        &[contract_id],
        Some("id"),
    )
    .await
}
