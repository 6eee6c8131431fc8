//! Statements written once for both backends: the store's concerns (outbox, nonces, clients, Merkle
//! log, scheduler...) state each query one time and run it through the one dispatch point here.
//!
//! A statement's parameters are written `{1}`, `{2}`... and rendered as `?1` (SQLite) or `$1`
//! (PostgreSQL). Values travel as [`Value`], which binds to whatever the column's type is on either
//! side (an integer to `int4` or `int8`, a time to `timestamptz` or SQLite's RFC 3339 text), and rows
//! come back as [`SqlRow`], whose accessors absorb the same differences when reading. Where the two
//! databases need different SQL (`FOR UPDATE SKIP LOCKED`, `UNNEST`), a [`Statement`] carries both
//! texts; the hot paths of the event log keep their hand-written code in the backend modules.

use std::borrow::Cow;
use std::error::Error as StdError;

use chrono::{DateTime, SecondsFormat, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use uuid::Uuid;

use super::postgres::{db_error, pool_error};
use super::sqlite::sql_error;
use super::{Store, StoreError};

/// One statement: the same text for both backends, or one text each.
#[derive(Debug, Clone)]
pub(crate) enum Statement {
    Shared(Cow<'static, str>),
    PerBackend {
        sqlite: Cow<'static, str>,
        postgres: Cow<'static, str>,
    },
}

impl Statement {
    /// A statement whose SQL differs between the backends.
    pub(crate) fn per_backend(
        sqlite: impl Into<Cow<'static, str>>,
        postgres: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::PerBackend {
            sqlite: sqlite.into(),
            postgres: postgres.into(),
        }
    }

    fn sqlite(&self) -> String {
        let text = match self {
            Self::Shared(text) | Self::PerBackend { sqlite: text, .. } => text,
        };
        placeholders(text, '?')
    }

    fn postgres(&self) -> String {
        let text = match self {
            Self::Shared(text) | Self::PerBackend { postgres: text, .. } => text,
        };
        placeholders(text, '$')
    }
}

impl From<&'static str> for Statement {
    fn from(text: &'static str) -> Self {
        Self::Shared(Cow::Borrowed(text))
    }
}

impl From<String> for Statement {
    fn from(text: String) -> Self {
        Self::Shared(Cow::Owned(text))
    }
}

/// `{n}` -> `?n` or `$n`.
fn placeholders(text: &str, sigil: char) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let (before, from_brace) = rest.split_at(start);
        out.push_str(before);
        let digits = from_brace[1..]
            .find(|c: char| !c.is_ascii_digit())
            .filter(|&end| end > 0 && from_brace[1 + end..].starts_with('}'));
        match digits {
            Some(end) => {
                out.push(sigil);
                out.push_str(&from_brace[1..1 + end]);
                rest = &from_brace[end + 2..];
            }
            None => {
                out.push('{');
                rest = &from_brace[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A parameter, bound as the column it meets expects.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Text(String),
    Int(i64),
    Bool(bool),
    Time(DateTime<Utc>),
    /// A time SQLite keeps as RFC 3339 text with milliseconds (the Merkle log's leaves).
    TimeMillis(DateTime<Utc>),
    Uuid(Uuid),
    Bytes(Vec<u8>),
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<i64> for Value {
    fn from(number: i64) -> Self {
        Self::Int(number)
    }
}

impl From<u32> for Value {
    fn from(number: u32) -> Self {
        Self::Int(i64::from(number))
    }
}

impl From<bool> for Value {
    fn from(flag: bool) -> Self {
        Self::Bool(flag)
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(time: DateTime<Utc>) -> Self {
        Self::Time(time)
    }
}

impl From<Uuid> for Value {
    fn from(id: Uuid) -> Self {
        Self::Uuid(id)
    }
}

impl From<Vec<u8>> for Value {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Bytes(bytes)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}

/// Times as SQLite stores them: RFC 3339, microseconds, `Z`.
pub(crate) fn sqlite_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as Lite, ValueRef};
        Ok(match self {
            Self::Null => ToSqlOutput::Owned(Lite::Null),
            Self::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Self::Int(number) => ToSqlOutput::Owned(Lite::Integer(*number)),
            Self::Bool(flag) => ToSqlOutput::Owned(Lite::Integer(i64::from(*flag))),
            Self::Time(time) => ToSqlOutput::Owned(Lite::Text(sqlite_time(*time))),
            Self::TimeMillis(time) => ToSqlOutput::Owned(Lite::Text(
                time.to_rfc3339_opts(SecondsFormat::Millis, true),
            )),
            Self::Uuid(id) => ToSqlOutput::Owned(Lite::Text(id.to_string())),
            Self::Bytes(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
        })
    }
}

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Self::Null => Ok(IsNull::Yes),
            Self::Text(text) => text.to_sql(ty, out),
            Self::Int(number) => match *ty {
                Type::INT2 => i16::try_from(*number)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*number)?.to_sql(ty, out),
                _ => number.to_sql(ty, out),
            },
            Self::Bool(flag) => flag.to_sql(ty, out),
            Self::Time(time) | Self::TimeMillis(time) => time.to_sql(ty, out),
            Self::Uuid(id) => match *ty {
                Type::UUID => id.to_sql(ty, out),
                _ => id.to_string().to_sql(ty, out),
            },
            Self::Bytes(bytes) => bytes.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        // What the value meets is decided per value in `to_sql`; a mismatch fails there, naming it.
        <String as ToSql>::accepts(ty)
            || <i64 as ToSql>::accepts(ty)
            || <i32 as ToSql>::accepts(ty)
            || <i16 as ToSql>::accepts(ty)
            || <bool as ToSql>::accepts(ty)
            || <DateTime<Utc> as ToSql>::accepts(ty)
            || <Uuid as ToSql>::accepts(ty)
            || <&[u8] as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

/// An integer column of any width.
struct AnyInt(i64);

impl<'a> FromSql<'a> for AnyInt {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Self(match *ty {
            Type::INT2 => i64::from(i16::from_sql(ty, raw)?),
            Type::INT4 => i64::from(i32::from_sql(ty, raw)?),
            _ => i64::from_sql(ty, raw)?,
        }))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8)
    }
}

/// One row of a result, read by column index.
#[derive(Debug)]
pub(crate) struct SqlRow(Row);

#[derive(Debug)]
enum Row {
    Postgres(tokio_postgres::Row),
    /// SQLite rows are read into values on the connection's thread.
    Sqlite(Vec<rusqlite::types::Value>),
}

impl SqlRow {
    fn wrong(index: usize, expected: &str, error: impl std::fmt::Display) -> StoreError {
        StoreError::Database(format!("column {index} is not {expected}: {error}"))
    }

    fn lite(
        values: &[rusqlite::types::Value],
        index: usize,
    ) -> Result<&rusqlite::types::Value, StoreError> {
        values
            .get(index)
            .ok_or_else(|| Self::wrong(index, "in the row", "missing"))
    }

    /// The SQLite value at `index` as `T` when `pick` accepts its storage class; NULL is `None`.
    fn lite_opt<T>(
        values: &[rusqlite::types::Value],
        index: usize,
        expected: &str,
        pick: impl FnOnce(&rusqlite::types::Value) -> Option<T>,
    ) -> Result<Option<T>, StoreError> {
        match Self::lite(values, index)? {
            rusqlite::types::Value::Null => Ok(None),
            value => pick(value)
                .map(Some)
                .ok_or_else(|| Self::wrong(index, expected, format!("{:?}", value.data_type()))),
        }
    }

    /// A text column that may be NULL.
    pub(crate) fn opt_text(&self, index: usize) -> Result<Option<String>, StoreError> {
        use rusqlite::types::Value as Lite;
        match &self.0 {
            Row::Postgres(row) => row
                .try_get(index)
                .map_err(|e| Self::wrong(index, "text", e)),
            Row::Sqlite(values) => Self::lite_opt(values, index, "text", |value| match value {
                Lite::Text(text) => Some(text.clone()),
                _ => None,
            }),
        }
    }

    pub(crate) fn text(&self, index: usize) -> Result<String, StoreError> {
        self.opt_text(index)?
            .ok_or_else(|| Self::wrong(index, "text", "NULL"))
    }

    /// An integer column (any width) that may be NULL.
    pub(crate) fn opt_int(&self, index: usize) -> Result<Option<i64>, StoreError> {
        use rusqlite::types::Value as Lite;
        match &self.0 {
            Row::Postgres(row) => row
                .try_get::<_, Option<AnyInt>>(index)
                .map(|value| value.map(|AnyInt(number)| number))
                .map_err(|e| Self::wrong(index, "an integer", e)),
            Row::Sqlite(values) => {
                Self::lite_opt(values, index, "an integer", |value| match value {
                    Lite::Integer(number) => Some(*number),
                    _ => None,
                })
            }
        }
    }

    pub(crate) fn int(&self, index: usize) -> Result<i64, StoreError> {
        self.opt_int(index)?
            .ok_or_else(|| Self::wrong(index, "an integer", "NULL"))
    }

    /// A boolean column (SQLite keeps 0 or 1).
    pub(crate) fn boolean(&self, index: usize) -> Result<bool, StoreError> {
        match &self.0 {
            Row::Postgres(row) => row
                .try_get(index)
                .map_err(|e| Self::wrong(index, "a boolean", e)),
            Row::Sqlite(_) => Ok(self.int(index)? != 0),
        }
    }

    /// A time column (`timestamptz`, or SQLite's RFC 3339 text) that may be NULL.
    pub(crate) fn opt_time(&self, index: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        match &self.0 {
            Row::Postgres(row) => row
                .try_get(index)
                .map_err(|e| Self::wrong(index, "a time", e)),
            Row::Sqlite(_) => self
                .opt_text(index)?
                .map(|text| {
                    DateTime::parse_from_rfc3339(&text)
                        .map(|time| time.with_timezone(&Utc))
                        .map_err(|e| Self::wrong(index, "a time", e))
                })
                .transpose(),
        }
    }

    pub(crate) fn time(&self, index: usize) -> Result<DateTime<Utc>, StoreError> {
        self.opt_time(index)?
            .ok_or_else(|| Self::wrong(index, "a time", "NULL"))
    }

    /// A `uuid` column (SQLite keeps the hyphenated text).
    pub(crate) fn uuid(&self, index: usize) -> Result<Uuid, StoreError> {
        match &self.0 {
            Row::Postgres(row) => row
                .try_get(index)
                .map_err(|e| Self::wrong(index, "a uuid", e)),
            Row::Sqlite(_) => {
                Uuid::parse_str(&self.text(index)?).map_err(|e| Self::wrong(index, "a uuid", e))
            }
        }
    }

    /// A byte column (`bytea`, SQLite's blob).
    pub(crate) fn bytes(&self, index: usize) -> Result<Vec<u8>, StoreError> {
        use rusqlite::types::Value as Lite;
        match &self.0 {
            Row::Postgres(row) => row
                .try_get(index)
                .map_err(|e| Self::wrong(index, "bytes", e)),
            Row::Sqlite(values) => Self::lite_opt(values, index, "bytes", |value| match value {
                Lite::Blob(bytes) => Some(bytes.clone()),
                _ => None,
            })?
            .ok_or_else(|| Self::wrong(index, "bytes", "NULL")),
        }
    }
}

/// Runs `statement` on a SQLite connection and reads every row it returns.
fn sqlite_rows(
    connection: &rusqlite::Connection,
    statement: &str,
    params: &[Value],
) -> Result<Vec<SqlRow>, StoreError> {
    let mut prepared = connection.prepare_cached(statement).map_err(sql_error)?;
    let width = prepared.column_count();
    let mut rows = prepared
        .query(rusqlite::params_from_iter(params))
        .map_err(sql_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        let values = (0..width)
            .map(|index| row.get::<_, rusqlite::types::Value>(index))
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql_error)?;
        out.push(SqlRow(Row::Sqlite(values)));
    }
    Ok(out)
}

fn postgres_params(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|value| value as &(dyn ToSql + Sync))
        .collect()
}

impl Store {
    /// Reads: a SQLite read connection, or a pooled PostgreSQL one (statements prepared once per
    /// connection).
    pub(crate) async fn query(
        &self,
        statement: impl Into<Statement>,
        params: Vec<Value>,
    ) -> Result<Vec<SqlRow>, StoreError> {
        let statement = statement.into();
        match self {
            Store::Sqlite(sqlite) => {
                let sql = statement.sqlite();
                sqlite
                    .read(move |connection| sqlite_rows(connection, &sql, &params))
                    .await
            }
            Store::Postgres(postgres) => {
                let client = postgres.pool().get().await.map_err(pool_error)?;
                postgres_rows(&client, &statement, &params).await
            }
        }
    }

    /// The first row of [`Store::query`], if any.
    pub(crate) async fn query_opt(
        &self,
        statement: impl Into<Statement>,
        params: Vec<Value>,
    ) -> Result<Option<SqlRow>, StoreError> {
        Ok(self.query(statement, params).await?.into_iter().next())
    }

    /// Statements that write, in one transaction (SQLite: the writer's, inside a savepoint of its
    /// own), each with the rows it returns (`RETURNING`).
    pub(crate) async fn write(
        &self,
        statements: Vec<(Statement, Vec<Value>)>,
    ) -> Result<Vec<Written>, StoreError> {
        match self {
            Store::Sqlite(sqlite) => {
                let rendered: Vec<(String, Vec<Value>)> = statements
                    .into_iter()
                    .map(|(statement, params)| (statement.sqlite(), params))
                    .collect();
                sqlite
                    .write(move |connection| {
                        rendered
                            .iter()
                            .map(|(sql, params)| sqlite_written(connection, sql, params))
                            .collect()
                    })
                    .await
            }
            Store::Postgres(postgres) => {
                let mut client = postgres.pool().get().await.map_err(pool_error)?;
                // One statement commits alone; a transaction would cost two more round trips.
                if let [(statement, params)] = statements.as_slice() {
                    return Ok(vec![postgres_written(&client, statement, params).await?]);
                }
                let transaction = client.transaction().await.map_err(db_error)?;
                let mut written = Vec::with_capacity(statements.len());
                for (statement, params) in &statements {
                    written.push(postgres_written(&transaction, statement, params).await?);
                }
                transaction.commit().await.map_err(db_error)?;
                Ok(written)
            }
        }
    }

    /// One writing statement alone: [`Store::write`] with a single statement.
    pub(crate) async fn write_one(
        &self,
        statement: impl Into<Statement>,
        params: Vec<Value>,
    ) -> Result<Written, StoreError> {
        self.write(vec![(statement.into(), params)])
            .await?
            .pop()
            .ok_or_else(|| StoreError::Database("a write returned no outcome".into()))
    }
}

/// What a writing statement did: the rows it changed, and the rows it returned.
#[derive(Debug)]
pub(crate) struct Written {
    pub count: u64,
    pub rows: Vec<SqlRow>,
}

/// Runs a reading statement on a PostgreSQL connection or transaction, prepared once per
/// connection.
async fn postgres_rows<C: GenericClient + Sync>(
    client: &C,
    statement: &Statement,
    params: &[Value],
) -> Result<Vec<SqlRow>, StoreError> {
    let prepared = client
        .prepare_cached(&statement.postgres())
        .await
        .map_err(db_error)?;
    let rows = client
        .query(&prepared, &postgres_params(params))
        .await
        .map_err(db_error)?;
    Ok(rows
        .into_iter()
        .map(|row| SqlRow(Row::Postgres(row)))
        .collect())
}

/// Runs a writing statement on a PostgreSQL session or transaction.
pub(super) async fn postgres_written<C: GenericClient + Sync>(
    client: &C,
    statement: &Statement,
    params: &[Value],
) -> Result<Written, StoreError> {
    let prepared = client
        .prepare_cached(&statement.postgres())
        .await
        .map_err(db_error)?;
    let params = postgres_params(params);
    if prepared.columns().is_empty() {
        let count = client.execute(&prepared, &params).await.map_err(db_error)?;
        return Ok(Written {
            count,
            rows: Vec::new(),
        });
    }
    let rows = client.query(&prepared, &params).await.map_err(db_error)?;
    Ok(Written {
        count: rows.len() as u64,
        rows: rows
            .into_iter()
            .map(|row| SqlRow(Row::Postgres(row)))
            .collect(),
    })
}

/// Runs a writing statement on a SQLite connection (the writer's, inside its transaction).
pub(super) fn sqlite_written_statement(
    connection: &rusqlite::Connection,
    statement: &Statement,
    params: &[Value],
) -> Result<Written, StoreError> {
    sqlite_written(connection, &statement.sqlite(), params)
}

fn sqlite_written(
    connection: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> Result<Written, StoreError> {
    let mut prepared = connection.prepare_cached(sql).map_err(sql_error)?;
    if prepared.column_count() == 0 {
        let count = prepared
            .execute(rusqlite::params_from_iter(params))
            .map_err(sql_error)?;
        return Ok(Written {
            count: count as u64,
            rows: Vec::new(),
        });
    }
    drop(prepared);
    let rows = sqlite_rows(connection, sql, params)?;
    Ok(Written {
        count: rows.len() as u64,
        rows,
    })
}

/// A transaction in progress on either backend, for store logic that reads, decides and writes in
/// turn: the logic is written once over this trait. On SQLite it runs on the writer's connection,
/// where every call completes at once; on PostgreSQL inside a transaction.
pub(crate) trait Session {
    async fn rows(
        &self,
        statement: Statement,
        params: Vec<Value>,
    ) -> Result<Vec<SqlRow>, StoreError>;

    async fn run(&self, statement: Statement, params: Vec<Value>) -> Result<Written, StoreError>;

    async fn row(
        &self,
        statement: Statement,
        params: Vec<Value>,
    ) -> Result<Option<SqlRow>, StoreError> {
        Ok(self.rows(statement, params).await?.into_iter().next())
    }
}

/// [`Session`] on the SQLite writer's connection (inside its transaction).
pub(crate) struct SqliteSession<'a>(pub &'a rusqlite::Connection);

impl Session for SqliteSession<'_> {
    async fn rows(
        &self,
        statement: Statement,
        params: Vec<Value>,
    ) -> Result<Vec<SqlRow>, StoreError> {
        sqlite_rows(self.0, &statement.sqlite(), &params)
    }

    async fn run(&self, statement: Statement, params: Vec<Value>) -> Result<Written, StoreError> {
        sqlite_written_statement(self.0, &statement, &params)
    }
}

/// [`Session`] inside a PostgreSQL transaction.
pub(crate) struct PostgresSession<'a>(pub &'a deadpool_postgres::Transaction<'a>);

impl Session for PostgresSession<'_> {
    async fn rows(
        &self,
        statement: Statement,
        params: Vec<Value>,
    ) -> Result<Vec<SqlRow>, StoreError> {
        postgres_rows(self.0, &statement, &params).await
    }

    async fn run(&self, statement: Statement, params: Vec<Value>) -> Result<Written, StoreError> {
        postgres_written(self.0, &statement, &params).await
    }
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn numbered_placeholders_become_each_backends_own() {
        assert_eq!(
            placeholders("a = {1} AND b IN ({2}, {10})", '$'),
            "a = $1 AND b IN ($2, $10)"
        );
        assert_eq!(placeholders("x = {1}", '?'), "x = ?1");
    }

    #[test]
    fn braces_that_are_not_placeholders_stay() {
        assert_eq!(placeholders("'{}' || '{a}' {", '$'), "'{}' || '{a}' {");
        assert_eq!(placeholders("{1", '?'), "{1");
    }
}
