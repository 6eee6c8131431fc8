//! Writes projected rows into the query tables: one upsert per row, keyed by the table's key columns.
//!
//! The rows are backend-neutral values (`projections::Row`); this module is the thin SQL around them.

use std::fmt::Write as _;

use chrono::SecondsFormat;
use deadpool_postgres::GenericClient;
use projections::{Row, SqlValue, Table};
use tokio_postgres::types::ToSql;

use super::StoreError;
use super::postgres::db_error;
use super::sqlite::sql_error;

/// `INSERT ... ON CONFLICT (key) DO UPDATE SET every other column`, with placeholders from `param`.
fn upsert_sql(
    table: &str,
    row: &Row,
    key: &[&str],
    mut param: impl FnMut(usize, &SqlValue) -> String,
) -> String {
    let mut sql = format!("INSERT INTO {table} (");
    let mut values = String::new();
    for (index, (column, value)) in row.values.iter().enumerate() {
        if index > 0 {
            sql.push_str(", ");
            values.push_str(", ");
        }
        sql.push_str(column);
        values.push_str(&param(index, value));
    }
    let _ = write!(
        sql,
        ") VALUES ({values}) ON CONFLICT ({}) DO UPDATE SET ",
        key.join(", ")
    );
    let mut first = true;
    for (column, _) in row
        .values
        .iter()
        .filter(|(column, _)| !key.contains(column))
    {
        if !first {
            sql.push_str(", ");
        }
        first = false;
        let _ = write!(sql, "{column} = excluded.{column}");
    }
    sql
}

/// Where rows go: the live query tables, or the shadow copies a rebuild fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Live,
    Shadow,
}

impl Target {
    pub fn table_name(self, table: Table) -> String {
        match self {
            Target::Live => table.name().to_owned(),
            Target::Shadow => shadow_name(table),
        }
    }
}

/// The shadow copy of a query table that `projections rebuild` fills.
pub fn shadow_name(table: Table) -> String {
    format!("{}__rebuild", table.name())
}

/// Upserts rows on the SQLite writer's connection.
pub fn upsert_sqlite(connection: &rusqlite::Connection, rows: &[Row]) -> Result<(), StoreError> {
    upsert_sqlite_into(connection, rows, Target::Live)
}

/// Upserts rows into the live or shadow tables on a SQLite connection.
pub fn upsert_sqlite_into(
    connection: &rusqlite::Connection,
    rows: &[Row],
    target: Target,
) -> Result<(), StoreError> {
    for row in rows {
        let sql = upsert_sql(
            &target.table_name(row.table),
            row,
            row.table.key_columns(),
            |index, _| format!("?{}", index + 1),
        );
        let mut statement = connection.prepare_cached(&sql).map_err(sql_error)?;
        let params: Vec<rusqlite::types::Value> = row
            .values
            .iter()
            .map(|(_, value)| sqlite_value(value))
            .collect();
        statement
            .execute(rusqlite::params_from_iter(params))
            .map_err(sql_error)?;
    }
    Ok(())
}

fn sqlite_value(value: &SqlValue) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Text(text) | SqlValue::Decimal(text) => Value::Text(text.clone()),
        SqlValue::Integer(number) => Value::Integer(*number),
        SqlValue::Bool(flag) => Value::Integer(i64::from(*flag)),
        SqlValue::Timestamp(time) => Value::Text(time.to_rfc3339_opts(SecondsFormat::Micros, true)),
    }
}

/// Upserts rows inside a PostgreSQL transaction. Every parameter carries an explicit cast so one
/// statement text serves whatever the column's exact type; NULLs are literals.
pub async fn upsert_postgres<C: GenericClient + Sync>(
    client: &C,
    rows: &[Row],
) -> Result<(), StoreError> {
    upsert_postgres_into(client, rows, Target::Live).await
}

/// Upserts rows into the live or shadow tables in a PostgreSQL session.
pub async fn upsert_postgres_into<C: GenericClient + Sync>(
    client: &C,
    rows: &[Row],
    target: Target,
) -> Result<(), StoreError> {
    for row in rows {
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let sql = upsert_sql(
            &target.table_name(row.table),
            row,
            row.table.key_columns(),
            |_, value| {
                let cast = match value {
                    SqlValue::Null => return "NULL".to_owned(),
                    SqlValue::Text(text) => {
                        params.push(Box::new(text.clone()));
                        "text"
                    }
                    SqlValue::Decimal(text) => {
                        params.push(Box::new(text.clone()));
                        "text::numeric"
                    }
                    SqlValue::Integer(number) => {
                        params.push(Box::new(*number));
                        "int8"
                    }
                    SqlValue::Bool(flag) => {
                        params.push(Box::new(*flag));
                        "bool"
                    }
                    SqlValue::Timestamp(time) => {
                        params.push(Box::new(*time));
                        "timestamptz"
                    }
                };
                format!("${}::{cast}", params.len())
            },
        );
        let statement = client.prepare_cached(&sql).await.map_err(db_error)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        client.execute(&statement, &refs).await.map_err(db_error)?;
    }
    Ok(())
}

/// Rows per statement in [`upsert_postgres_many`]: large enough that round trips stop mattering, small
/// enough that one statement's arrays stay a few megabytes.
const MANY_ROWS_PER_STATEMENT: usize = 5_000;

/// Upserts many rows with one statement per table (and per `MANY_ROWS_PER_STATEMENT`) instead of one
/// per row: every column travels as a text array and is cast to the column's own type in the
/// database, so the values land exactly as [`upsert_postgres_into`] would write them. When several
/// rows share a key the last one wins, as it would after one upsert per row in order.
pub async fn upsert_postgres_many<C: GenericClient + Sync>(
    client: &C,
    rows: &[Row],
    target: Target,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let types = postgres_column_types(client).await?;
    for table in Table::ALL {
        let mut latest: std::collections::HashMap<Vec<&SqlValue>, usize> =
            std::collections::HashMap::new();
        let mut ordered: Vec<&Row> = Vec::new();
        for row in rows.iter().filter(|row| row.table == table) {
            match latest.entry(row.key()) {
                std::collections::hash_map::Entry::Occupied(slot) => ordered[*slot.get()] = row,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(ordered.len());
                    ordered.push(row);
                }
            }
        }
        for chunk in ordered.chunks(MANY_ROWS_PER_STATEMENT) {
            write_postgres_chunk(client, table, chunk, target, &types).await?;
        }
    }
    Ok(())
}

/// `(table, column) -> type name` of every query table, read from the catalog.
async fn postgres_column_types<C: GenericClient + Sync>(
    client: &C,
) -> Result<std::collections::HashMap<(String, String), String>, StoreError> {
    let names: Vec<&str> = Table::ALL.iter().map(|table| table.name()).collect();
    let statement = client
        .prepare_cached(
            "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, NULL) \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             WHERE c.relname = ANY($1) AND c.relkind = 'r' AND pg_table_is_visible(c.oid) \
               AND a.attnum > 0 AND NOT a.attisdropped",
        )
        .await
        .map_err(db_error)?;
    let rows = client
        .query(&statement, &[&names])
        .await
        .map_err(db_error)?;
    rows.iter()
        .map(|row| Ok(((row.try_get(0)?, row.try_get(1)?), row.try_get(2)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(db_error)
}

async fn write_postgres_chunk<C: GenericClient + Sync>(
    client: &C,
    table: Table,
    rows: &[&Row],
    target: Target,
    types: &std::collections::HashMap<(String, String), String>,
) -> Result<(), StoreError> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let columns: Vec<&'static str> = first.values.iter().map(|(column, _)| *column).collect();
    let mut arrays: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(rows.len()); columns.len()];
    for row in rows {
        if row.values.len() != columns.len() {
            return Err(StoreError::Database(format!(
                "rows of {} disagree on their columns",
                table.name()
            )));
        }
        for (array, (_, value)) in arrays.iter_mut().zip(&row.values) {
            array.push(text_of(value));
        }
    }
    let mut casts = Vec::with_capacity(columns.len());
    let mut unnest = Vec::with_capacity(columns.len());
    for (index, column) in columns.iter().enumerate() {
        let column_type = types
            .get(&(table.name().to_owned(), (*column).to_owned()))
            .ok_or_else(|| {
                StoreError::Database(format!("{}.{column} is not in the catalog", table.name()))
            })?;
        casts.push(format!("v.{column}::{column_type}"));
        unnest.push(format!("${}::text[]", index + 1));
    }
    let key = table.key_columns();
    let updates: Vec<String> = columns
        .iter()
        .filter(|column| !key.contains(column))
        .map(|column| format!("{column} = excluded.{column}"))
        .collect();
    let sql = format!(
        "INSERT INTO {name} ({columns}) SELECT {casts} FROM UNNEST({unnest}) AS v({columns}) \
         ON CONFLICT ({key}) DO UPDATE SET {updates}",
        name = target.table_name(table),
        columns = columns.join(", "),
        casts = casts.join(", "),
        unnest = unnest.join(", "),
        key = key.join(", "),
        updates = updates.join(", "),
    );
    let statement = client.prepare_cached(&sql).await.map_err(db_error)?;
    let params: Vec<&(dyn ToSql + Sync)> = arrays
        .iter()
        .map(|array| array as &(dyn ToSql + Sync))
        .collect();
    client
        .execute(&statement, &params)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// A value in PostgreSQL's text input form (what the column type's cast parses back exactly).
fn text_of(value: &SqlValue) -> Option<String> {
    match value {
        SqlValue::Null => None,
        SqlValue::Text(text) | SqlValue::Decimal(text) => Some(text.clone()),
        SqlValue::Integer(number) => Some(number.to_string()),
        SqlValue::Bool(flag) => Some(flag.to_string()),
        SqlValue::Timestamp(time) => Some(time.to_rfc3339_opts(SecondsFormat::Micros, true)),
    }
}
