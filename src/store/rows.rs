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
