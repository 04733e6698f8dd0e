//! Copying a node's SQLite database into an empty PostgreSQL database (`custos migrate`).
//!
//! The copy is raw: every row of every table is read as stored and written as stored (an
//! event's body, salt and leaf byte for byte; the JSON documents of a case into their JSONB
//! columns), never through the typed records, so nothing is re-encoded on the way. The tables
//! and columns come from the two schemas themselves: a table or column one side has and the
//! other lacks stops the copy, so a table added by a later migration is never silently left
//! behind. The source is read inside one of its write batches (the caller's, which holds the
//! SQLite write lock: nothing is appended meanwhile); the target is written in one PostgreSQL
//! transaction holding the log's advisory write lock, after checking again that it is empty.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::postgres::PgPoolOptions;
use sqlx::{Postgres, Row as _, Sqlite, Transaction};

use crate::backend::{Pool, Tx};
use crate::{Batch, Location, Store, StoreError};

/// Tables copied first, in this order (their foreign keys point backwards in it); any other
/// table of the schema follows, by name.
const ORDER: [&str; 9] = [
    "authorities",
    "users",
    "cases",
    "holds",
    "notices",
    "extensions",
    "evidence",
    "events",
    "checkpoints",
];

/// sqlx's record of applied migrations: each database keeps its own.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// Rows copied per statement (PostgreSQL takes at most 65,535 parameters in one).
const CHUNK: i64 = 500;

/// The rows of one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRows {
    /// The table.
    pub table: String,
    /// How many rows it holds.
    pub rows: u64,
}

/// Why a copy did not happen. In every case the target was left as it was.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The target already holds rows.
    #[error(
        "the target database is not empty: {}. Give a new, empty database (createdb NAME); nothing was copied",
        describe(.0)
    )]
    NotEmpty(Vec<TableRows>),
    /// The two schemas do not have the same tables and columns.
    #[error(
        "the SQLite and PostgreSQL schemas differ ({0}): this version of Custos cannot copy every table; nothing was copied"
    )]
    Schema(String),
    /// The source or the target is not the backend the copy needs.
    #[error("{0}")]
    Backend(&'static str),
    /// The database failed (or a source value does not read).
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn describe(tables: &[TableRows]) -> String {
    tables
        .iter()
        .map(|t| format!("{} row(s) in {}", t.rows, t.table))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a PostgreSQL database at `url` holds before anything is created in it: every table
/// of every schema but PostgreSQL's own that has at least one row (sqlx's record of
/// migrations aside), by name. Connects without migrating, within 5 seconds.
pub async fn postgres_contents(url: &str) -> Result<Vec<TableRows>, StoreError> {
    let pool = connect_once(url).await?;
    let result = contents(
        &pool,
        "table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .await;
    pool.close().await;
    result
}

async fn connect_once(url: &str) -> Result<sqlx::PgPool, StoreError> {
    let Location::Postgres(_) = Location::parse(std::path::Path::new(""), url) else {
        return Err(StoreError::Location(format!(
            "{url:?} is not a PostgreSQL URL (postgresql://user@host:5432/name)"
        )));
    };
    let options = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(url)
        .map_err(|e| StoreError::Location(format!("the database URL does not parse: {e}")))?
        .application_name("custos");
    Ok(PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect_with(options)
        .await?)
}

async fn contents(pool: &sqlx::PgPool, schemas: &str) -> Result<Vec<TableRows>, StoreError> {
    let tables: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables \
         WHERE table_type = 'BASE TABLE' AND {schemas} ORDER BY 1, 2"
    ))
    .fetch_all(pool)
    .await?;
    let mut held = Vec::new();
    for (schema, table) in tables {
        if table == MIGRATIONS_TABLE {
            continue;
        }
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {}.{}",
            quote(&schema),
            quote(&table)
        ))
        .fetch_one(pool)
        .await?;
        if n > 0 {
            let table = if schema == "public" {
                table
            } else {
                format!("{schema}.{table}")
            };
            held.push(TableRows {
                table,
                rows: n as u64,
            });
        }
    }
    Ok(held)
}

/// A quoted SQL identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// How a column's value travels (the PostgreSQL column's type).
#[derive(Clone, Copy, Debug)]
enum Kind {
    Int,
    Text,
    Bytes,
    Bool,
    Json,
}

impl Kind {
    fn of(pg_type: &str) -> Option<Kind> {
        Some(match pg_type {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "text" | "character varying" => Kind::Text,
            "bytea" => Kind::Bytes,
            "boolean" => Kind::Bool,
            "jsonb" | "json" => Kind::Json,
            _ => return None,
        })
    }
}

enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
    Bool(Option<bool>),
}

/// One table to copy: its name and columns with their kinds.
struct Table {
    name: String,
    columns: Vec<(String, Kind)>,
}

/// The tables of both schemas, checked to match, in copy order.
async fn plan(
    src: &mut Transaction<'static, Sqlite>,
    dst: &mut Transaction<'static, Postgres>,
) -> Result<Vec<Table>, CopyError> {
    let pg: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text \
         FROM information_schema.columns c JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
         ORDER BY c.table_name, c.ordinal_position",
    )
    .fetch_all(&mut **dst)
    .await
    .map_err(StoreError::from)?;
    let mut pg_tables: BTreeMap<String, Vec<(String, Kind)>> = BTreeMap::new();
    for (table, column, ty) in pg {
        if table == MIGRATIONS_TABLE {
            continue;
        }
        let kind = Kind::of(&ty).ok_or_else(|| {
            CopyError::Schema(format!(
                "column {table}.{column} has type {ty}, which a copy does not carry"
            ))
        })?;
        pg_tables.entry(table).or_default().push((column, kind));
    }
    let sqlite_tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut **src)
    .await
    .map_err(StoreError::from)?;
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for table in sqlite_tables.iter().filter(|t| *t != MIGRATIONS_TABLE) {
        seen.insert(table.clone());
        let Some(pg_columns) = pg_tables.get(table) else {
            problems.push(format!("table {table} is not in PostgreSQL's"));
            continue;
        };
        let columns: BTreeSet<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                .bind(table)
                .fetch_all(&mut **src)
                .await
                .map_err(StoreError::from)?
                .into_iter()
                .collect();
        let pg_names: BTreeSet<String> = pg_columns.iter().map(|(c, _)| c.clone()).collect();
        for c in columns.difference(&pg_names) {
            problems.push(format!("column {table}.{c} is not in PostgreSQL's"));
        }
        for c in pg_names.difference(&columns) {
            problems.push(format!("column {table}.{c} is not in SQLite's"));
        }
    }
    for table in pg_tables.keys().filter(|t| !seen.contains(*t)) {
        problems.push(format!("table {table} is not in SQLite's"));
    }
    if !problems.is_empty() {
        return Err(CopyError::Schema(problems.join("; ")));
    }
    let rank = |t: &str| ORDER.iter().position(|o| *o == t).unwrap_or(ORDER.len());
    let mut tables: Vec<Table> = pg_tables
        .into_iter()
        .map(|(name, columns)| Table { name, columns })
        .collect();
    tables.sort_by(|a, b| (rank(&a.name), &a.name).cmp(&(rank(&b.name), &b.name)));
    Ok(tables)
}

impl Batch {
    /// Copies every table of this batch's database (SQLite) into `target` (PostgreSQL, with
    /// its schema, and empty), all in one transaction of the target that holds the log's
    /// write lock, and returns the rows copied per table, in copy order. On any error the
    /// target's transaction is rolled back: it is left as it was.
    pub async fn copy_into(&mut self, target: &Store) -> Result<Vec<TableRows>, CopyError> {
        let Tx::Sqlite(src) = &mut self.tx else {
            return Err(CopyError::Backend(
                "the source of a copy must be an SQLite database",
            ));
        };
        let mut batch = target.begin().await?;
        let Tx::Postgres(dst) = &mut batch.tx else {
            return Err(CopyError::Backend(
                "the target of a copy must be a PostgreSQL database",
            ));
        };
        let tables = plan(src, dst).await?;
        // Checked again under the write lock: no other process wrote meanwhile.
        let mut held = Vec::new();
        for t in &tables {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", quote(&t.name)))
                .fetch_one(&mut **dst)
                .await
                .map_err(StoreError::from)?;
            if n > 0 {
                held.push(TableRows {
                    table: t.name.clone(),
                    rows: n as u64,
                });
            }
        }
        if !held.is_empty() {
            return Err(CopyError::NotEmpty(held));
        }
        let mut copied = Vec::new();
        for t in &tables {
            let rows = copy_table(src, dst, t).await?;
            copied.push(TableRows {
                table: t.name.clone(),
                rows,
            });
        }
        batch.commit().await?;
        Ok(copied)
    }

    /// What differs between this batch's database and `target` after a copy: each table whose
    /// row count differs, and each event whose row (type, time, case, body, salt, leaf) is not
    /// the same byte for byte. Empty when they agree.
    pub async fn copy_differences(&mut self, target: &Store) -> Result<Vec<String>, CopyError> {
        let Tx::Sqlite(src) = &mut self.tx else {
            return Err(CopyError::Backend(
                "the source of a copy must be an SQLite database",
            ));
        };
        let Pool::Postgres(dst) = &target.pool else {
            return Err(CopyError::Backend(
                "the target of a copy must be a PostgreSQL database",
            ));
        };
        let mut found = Vec::new();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .fetch_all(dst)
        .await
        .map_err(StoreError::from)?;
        for t in tables.iter().filter(|t| *t != MIGRATIONS_TABLE) {
            let count = format!("SELECT count(*) FROM {}", quote(t));
            let a: i64 = sqlx::query_scalar(&count)
                .fetch_one(&mut **src)
                .await
                .map_err(StoreError::from)?;
            let b: i64 = sqlx::query_scalar(&count)
                .fetch_one(dst)
                .await
                .map_err(StoreError::from)?;
            if a != b {
                found.push(format!(
                    "table {t}: {a} row(s) in SQLite, {b} in PostgreSQL"
                ));
            }
        }
        type Raw = (i64, String, String, Option<i64>, String, Vec<u8>, Vec<u8>);
        const EVENTS: &str = "SELECT seq, event_type, occurred_at, case_id, body, salt, leaf \
                              FROM events WHERE seq >= $1 ORDER BY seq LIMIT $2";
        let mut next = 0i64;
        loop {
            let a: Vec<Raw> = sqlx::query_as(EVENTS)
                .bind(next)
                .bind(1000i64)
                .fetch_all(&mut **src)
                .await
                .map_err(StoreError::from)?;
            let b: Vec<Raw> = sqlx::query_as(EVENTS)
                .bind(next)
                .bind(1000i64)
                .fetch_all(dst)
                .await
                .map_err(StoreError::from)?;
            if a.is_empty() && b.is_empty() {
                break;
            }
            for i in 0..a.len().max(b.len()) {
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) if x == y => {}
                    (Some(x), Some(y)) if x.0 != y.0 => found.push(format!(
                        "event {}: stored in SQLite, but PostgreSQL's next event is {}",
                        x.0.min(y.0),
                        x.0.max(y.0)
                    )),
                    (Some(x), Some(_)) => found.push(format!(
                        "event {}: its row differs between SQLite and PostgreSQL",
                        x.0
                    )),
                    (Some(x), None) => found.push(format!("event {}: missing in PostgreSQL", x.0)),
                    (None, Some(y)) => found.push(format!("event {}: not in SQLite", y.0)),
                    (None, None) => {}
                }
            }
            let last = a.last().map_or(0, |r| r.0).max(b.last().map_or(0, |r| r.0));
            next = last + 1;
            if found.len() > 100 {
                found.push("(more differences not listed)".into());
                break;
            }
        }
        Ok(found)
    }
}

impl Store {
    /// Removes every row from every table of this PostgreSQL database (its schema stays), in
    /// one statement: `custos migrate` empties the target again when the copy did not verify.
    pub async fn empty_copy_target(&self) -> Result<(), CopyError> {
        let Pool::Postgres(p) = &self.pool else {
            return Err(CopyError::Backend(
                "only a PostgreSQL copy target is emptied",
            ));
        };
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .fetch_all(p)
        .await
        .map_err(StoreError::from)?;
        let list = tables
            .iter()
            .filter(|t| *t != MIGRATIONS_TABLE)
            .map(|t| quote(t))
            .collect::<Vec<_>>()
            .join(", ");
        if !list.is_empty() {
            sqlx::query(&format!("TRUNCATE {list}"))
                .execute(p)
                .await
                .map_err(StoreError::from)?;
        }
        Ok(())
    }
}

/// Copies one table, `CHUNK` rows at a time in rowid order; returns the rows copied.
async fn copy_table(
    src: &mut Transaction<'static, Sqlite>,
    dst: &mut Transaction<'static, Postgres>,
    t: &Table,
) -> Result<u64, CopyError> {
    let names = t
        .columns
        .iter()
        .map(|(c, _)| quote(c))
        .collect::<Vec<_>>()
        .join(", ");
    let select = format!(
        "SELECT rowid, {names} FROM {} WHERE rowid > $1 ORDER BY rowid LIMIT $2",
        quote(&t.name)
    );
    let mut after = i64::MIN;
    let mut total = 0u64;
    loop {
        let rows = sqlx::query(&select)
            .bind(after)
            .bind(CHUNK)
            .fetch_all(&mut **src)
            .await
            .map_err(StoreError::from)?;
        let Some(last) = rows.last() else { break };
        after = last.try_get(0).map_err(StoreError::from)?;
        let mut values = Vec::with_capacity(rows.len() * t.columns.len());
        for row in &rows {
            let rowid: i64 = row.try_get(0).map_err(StoreError::from)?;
            for (i, (column, kind)) in t.columns.iter().enumerate() {
                let corrupt = |detail: String| StoreError::Corrupt {
                    what: format!("{}.{column} (SQLite rowid {rowid})", t.name),
                    detail,
                };
                let i = i + 1;
                let v = match kind {
                    Kind::Int => Value::Int(row.try_get(i).map_err(|e| corrupt(e.to_string()))?),
                    Kind::Text => Value::Text(row.try_get(i).map_err(|e| corrupt(e.to_string()))?),
                    Kind::Bytes => {
                        Value::Bytes(row.try_get(i).map_err(|e| corrupt(e.to_string()))?)
                    }
                    Kind::Bool => Value::Bool(row.try_get(i).map_err(|e| corrupt(e.to_string()))?),
                    Kind::Json => {
                        let text: Option<String> =
                            row.try_get(i).map_err(|e| corrupt(e.to_string()))?;
                        if let Some(text) = &text {
                            serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| {
                                corrupt(format!(
                                    "not JSON ({e}): the database was edited outside the node; run `custos audit`"
                                ))
                            })?;
                        }
                        Value::Text(text)
                    }
                };
                values.push(v);
            }
        }
        let width = t.columns.len();
        let tuples = (0..rows.len())
            .map(|r| {
                let cells = t
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(c, (_, kind))| {
                        let n = r * width + c + 1;
                        match kind {
                            Kind::Json => format!("CAST(${n} AS JSONB)"),
                            _ => format!("${n}"),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("({cells})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let insert = format!("INSERT INTO {} ({names}) VALUES {tuples}", quote(&t.name));
        let mut q = sqlx::query(&insert);
        for v in values {
            q = match v {
                Value::Int(x) => q.bind(x),
                Value::Text(x) => q.bind(x),
                Value::Bytes(x) => q.bind(x),
                Value::Bool(x) => q.bind(x),
            };
        }
        q.execute(&mut **dst).await.map_err(StoreError::from)?;
        total += rows.len() as u64;
    }
    Ok(total)
}
