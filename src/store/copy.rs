//! Table-by-table copying of a whole database, for backup, restore and moving a district
//! from SQLite to PostgreSQL (`crate::backup` owns the file format and the commands).
//!
//! Nothing here names a table: the tables, their columns and the order foreign keys need
//! are read from the database's own catalogue, so a table a later migration adds is copied
//! without a change here. What the database derives itself is not copied: generated
//! columns, SQLite's virtual tables (full-text indexes) and their shadow tables. A table only
//! one dialect has (both sides are at the same migration version, so such a table is a
//! dialect's own index, e.g. PostgreSQL's search documents) is left out when the target
//! lacks it, and said so; indexes like that are rebuilt from the copied rows. Values travel as JSON (integers, floats, text, booleans, base64
//! blobs), which both databases read back to the same thing; the target's column types say
//! how each value is bound. Counters are ordinary rows, so ticket numbers and event sequence
//! numbers continue after a restore; PostgreSQL's own sequences (`BIGSERIAL`) are moved past
//! the copied rows at the end.

use super::{get_i64, get_string, Backend, Result, Store, StoreError};
use base64::Engine;
use futures::TryStreamExt;
use serde_json::Value as Json;
use sqlx::any::{AnyRow, AnyTypeInfoKind};
use sqlx::{Any, Row, Transaction, ValueRef};
use std::collections::{BTreeMap, HashMap};
use tokio::sync::mpsc;

/// Tables that are not data: sqlx's migration record (the schema version travels in the
/// backup's header instead) and SQLite's own bookkeeping.
fn is_internal(table: &str) -> bool {
    table == "_sqlx_migrations" || table.starts_with("sqlite_")
}

/// Tables refilled from `dispatch_rules/` at every start: a target may hold them and still
/// count as empty; the copy replaces them.
const MIRRORED: &[&str] = &["departments"];

/// What a value is bound as when it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Integer,
    Float,
    Bool,
    Text,
    Blob,
}

impl ColumnKind {
    /// From a declared type, in either dialect (`BIGINT`, `integer`, `double precision`, `bytea` …).
    fn from_declared(declared: &str) -> ColumnKind {
        let t = declared.to_ascii_uppercase();
        if t.contains("INT") || t.contains("SERIAL") {
            ColumnKind::Integer
        } else if t.contains("BOOL") {
            ColumnKind::Bool
        } else if ["REAL", "DOUB", "FLOA", "NUMERIC", "DECIMAL"].iter().any(|k| t.contains(k)) {
            ColumnKind::Float
        } else if t.contains("BLOB") || t.contains("BYTEA") {
            ColumnKind::Blob
        } else {
            ColumnKind::Text
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<(String, ColumnKind)>,
}

/// One step of a copy: a table starts (its columns, in the order rows give values), or a
/// batch of its rows.
#[derive(Debug, Clone, PartialEq)]
pub enum CopyItem {
    Table { name: String, columns: Vec<String> },
    Rows(Vec<Vec<Json>>),
}

/// Rows per batch sent from a reader to a writer.
const BATCH_ROWS: usize = 500;
/// Bound on placeholders in one INSERT (SQLite allows 32766, PostgreSQL 65535).
const MAX_PARAMS: usize = 30_000;

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

impl Store {
    /// The migration versions applied to this database, oldest first.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>> {
        let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| get_i64(r, "version")).collect()
    }

    /// The migration versions this build of hotline knows, oldest first.
    pub fn known_migrations(&self) -> Vec<i64> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator.iter().filter(|m| m.migration_type.is_up_migration()).map(|m| m.version).collect()
    }

    /// Every data table with its columns, parents before the tables whose foreign keys point
    /// at them (ties by name, so the order is stable).
    pub async fn data_tables(&self) -> Result<Vec<TableSchema>> {
        let mut conn = self.pool.acquire().await?;
        catalogue(self.backend, &mut conn).await
    }

    /// Reads every table in one consistent snapshot (servers may keep writing) and sends it
    /// to `out` table by table. Returns the rows read per table.
    pub async fn export(&self, out: mpsc::Sender<CopyItem>) -> Result<BTreeMap<String, u64>> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        }
        let tables = catalogue(self.backend, &mut tx).await?;
        let closed = || StoreError::Unavailable("the copy's writer stopped".into());
        let mut counts = BTreeMap::new();
        for table in &tables {
            let names: Vec<String> = table.columns.iter().map(|(c, _)| c.clone()).collect();
            out.send(CopyItem::Table { name: table.name.clone(), columns: names.clone() })
                .await
                .map_err(|_| closed())?;
            let select = format!(
                "SELECT {} FROM {} ORDER BY 1",
                names.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", "),
                quote(&table.name)
            );
            let mut rows = sqlx::query(&select).fetch(&mut *tx);
            let mut batch = Vec::with_capacity(BATCH_ROWS);
            let mut n = 0u64;
            while let Some(row) = rows.try_next().await? {
                batch.push(row_values(&row)?);
                n += 1;
                if batch.len() == BATCH_ROWS {
                    out.send(CopyItem::Rows(std::mem::take(&mut batch))).await.map_err(|_| closed())?;
                }
            }
            if !batch.is_empty() {
                out.send(CopyItem::Rows(batch)).await.map_err(|_| closed())?;
            }
            counts.insert(table.name.clone(), n);
        }
        tx.commit().await?;
        Ok(counts)
    }

    /// Every table's rows as JSON, sorted: two databases holding the same data give the same
    /// answer whichever kind they are (what the round-trip tests compare).
    pub async fn contents(&self) -> Result<BTreeMap<String, Vec<Vec<Json>>>> {
        let (tx, mut rx) = mpsc::channel(16);
        let store = self.clone();
        let reader = tokio::spawn(async move { store.export(tx).await });
        let mut out: BTreeMap<String, Vec<Vec<Json>>> = BTreeMap::new();
        let mut current = String::new();
        while let Some(item) = rx.recv().await {
            match item {
                CopyItem::Table { name, .. } => {
                    out.insert(name.clone(), Vec::new());
                    current = name;
                }
                CopyItem::Rows(rows) => out.entry(current.clone()).or_default().extend(rows),
            }
        }
        reader.await.map_err(|e| StoreError::Unavailable(e.to_string()))??;
        for rows in out.values_mut() {
            rows.sort_by_key(|r| serde_json::to_string(r).unwrap_or_default());
        }
        Ok(out)
    }

    /// Starts writing a copy into this database, which must be empty: no rows beyond what a
    /// freshly migrated database holds (tables mirrored from `dispatch_rules/` aside). The
    /// schema must already be the copy's; the caller checks the versions.
    pub async fn begin_import(&self) -> Result<Import> {
        let baseline = fresh_row_counts().await?;
        let mut tx = self.writer.begin().await?;
        let tables = catalogue(self.backend, &mut tx).await?;
        let mut occupied = Vec::new();
        for t in tables.iter().filter(|t| !MIRRORED.contains(&t.name.as_str())) {
            let n = count_rows(&mut tx, &t.name).await?;
            if n > baseline.get(&t.name).copied().unwrap_or(0) {
                occupied.push(format!("{}: {n} rows", t.name));
            }
        }
        if !occupied.is_empty() {
            return Err(StoreError::Conflict(format!(
                "the target database is not empty ({}); restore only into a new, empty database",
                occupied.join(", ")
            )));
        }
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA defer_foreign_keys = ON").execute(&mut *tx).await?;
        }
        // Children first, so no foreign key is left pointing at a deleted row.
        for t in tables.iter().rev() {
            sqlx::query(&format!("DELETE FROM {}", quote(&t.name))).execute(&mut *tx).await?;
        }
        Ok(Import {
            backend: self.backend,
            tx,
            schema: tables.into_iter().map(|t| (t.name.clone(), t)).collect(),
            current: None,
            counts: BTreeMap::new(),
            left_out: Vec::new(),
        })
    }
}

/// A copy being written, in one transaction: nothing is visible until [`Import::finish`].
pub struct Import {
    backend: Backend,
    tx: Transaction<'static, Any>,
    schema: HashMap<String, TableSchema>,
    /// The table being written and the kind of each of the copy's columns; `None` while
    /// the rows of a table left out go by.
    current: Option<(String, Vec<String>, Vec<ColumnKind>)>,
    counts: BTreeMap<String, u64>,
    left_out: Vec<String>,
}

/// What an import wrote: rows per table, and the copy's tables the target does not have.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Imported {
    pub rows: BTreeMap<String, u64>,
    pub left_out: Vec<String>,
}

impl Import {
    pub async fn write(&mut self, item: CopyItem) -> Result<()> {
        match item {
            CopyItem::Table { name, columns } => {
                let Some(schema) = self.schema.get(&name) else {
                    self.left_out.push(name);
                    self.current = None;
                    return Ok(());
                };
                let kinds = columns
                    .iter()
                    .map(|c| {
                        schema.columns.iter().find(|(n, _)| n == c).map(|(_, k)| *k).ok_or_else(|| {
                            StoreError::Corrupt(format!("the copy has a column {name}.{c} that this database does not"))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                self.counts.insert(name.clone(), 0);
                self.current = Some((name, columns, kinds));
            }
            CopyItem::Rows(rows) => {
                let Some((table, columns, kinds)) = self.current.as_ref() else {
                    return Ok(());
                };
                let head = format!(
                    "INSERT INTO {} ({}) VALUES ",
                    quote(table),
                    columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
                );
                let per_statement = (MAX_PARAMS / columns.len().max(1)).max(1);
                for chunk in rows.chunks(per_statement) {
                    insert_rows(&mut self.tx, &head, kinds, chunk).await.map_err(|e| match e {
                        StoreError::Corrupt(m) => StoreError::Corrupt(format!("{table}: {m}")),
                        other => other,
                    })?;
                }
                *self.counts.entry(table.clone()).or_default() += rows.len() as u64;
            }
        }
        Ok(())
    }

    /// Moves PostgreSQL's sequences past the copied rows and commits.
    pub async fn finish(mut self) -> Result<Imported> {
        if self.backend == Backend::Postgres {
            let serials = sqlx::query(
                "SELECT CAST(table_name AS TEXT) AS t, CAST(column_name AS TEXT) AS c FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')",
            )
            .fetch_all(&mut *self.tx)
            .await?;
            for row in &serials {
                let (table, column) = (get_string(row, "t")?, get_string(row, "c")?);
                sqlx::query(&format!(
                    "SELECT CAST(setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT MAX({c}) FROM {t}), 0) + 1, false) AS BIGINT) AS v",
                    c = quote(&column),
                    t = quote(&table)
                ))
                .bind(quote(&table))
                .bind(column.as_str())
                .fetch_one(&mut *self.tx)
                .await?;
            }
        }
        self.tx.commit().await?;
        Ok(Imported { rows: self.counts, left_out: self.left_out })
    }
}

async fn insert_rows(
    tx: &mut Transaction<'static, Any>,
    head: &str,
    kinds: &[ColumnKind],
    rows: &[Vec<Json>],
) -> Result<()> {
    let mut text = String::from(head);
    let mut n = 0;
    for (i, row) in rows.iter().enumerate() {
        if row.len() != kinds.len() {
            return Err(StoreError::Corrupt(format!("a row has {} values for {} columns", row.len(), kinds.len())));
        }
        text.push_str(if i == 0 { "(" } else { ", (" });
        for j in 0..row.len() {
            n += 1;
            text.push_str(&format!("{}${n}", if j == 0 { "" } else { ", " }));
        }
        text.push(')');
    }
    let mut query = sqlx::query(&text);
    for row in rows {
        for (value, kind) in row.iter().zip(kinds) {
            query = bind_value(query, value, *kind)?;
        }
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// Binds a JSON value as the target column wants it; a NULL is bound with the column's type
/// (PostgreSQL refuses a text NULL for a BIGINT column).
fn bind_value<'q>(query: AnyQuery<'q>, value: &Json, kind: ColumnKind) -> Result<AnyQuery<'q>> {
    let wrong = || StoreError::Corrupt(format!("{value} does not fit a {kind:?} column"));
    Ok(match (kind, value) {
        (ColumnKind::Integer, Json::Null) => query.bind(None::<i64>),
        (ColumnKind::Integer, Json::Bool(b)) => query.bind(*b as i64),
        (ColumnKind::Integer, v) => query.bind(v.as_i64().ok_or_else(wrong)?),
        (ColumnKind::Float, Json::Null) => query.bind(None::<f64>),
        (ColumnKind::Float, v) => query.bind(v.as_f64().ok_or_else(wrong)?),
        (ColumnKind::Bool, Json::Null) => query.bind(None::<bool>),
        (ColumnKind::Bool, Json::Bool(b)) => query.bind(*b),
        (ColumnKind::Bool, v) => query.bind(v.as_i64().ok_or_else(wrong)? != 0),
        (ColumnKind::Text, Json::Null) => query.bind(None::<String>),
        (ColumnKind::Text, Json::String(s)) => query.bind(s.clone()),
        (ColumnKind::Text, v) => query.bind(v.to_string()),
        (ColumnKind::Blob, Json::Null) => query.bind(None::<Vec<u8>>),
        (ColumnKind::Blob, v) => {
            let encoded = v.get("base64").and_then(Json::as_str).ok_or_else(wrong)?;
            query.bind(base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| wrong())?)
        }
    })
}

/// One row as JSON values, each read as the type it is stored with.
fn row_values(row: &AnyRow) -> Result<Vec<Json>> {
    let mut values = Vec::with_capacity(row.len());
    for i in 0..row.len() {
        let raw = row.try_get_raw(i)?;
        let kind = raw.type_info().kind();
        let value = if raw.is_null() {
            Json::Null
        } else {
            match kind {
                AnyTypeInfoKind::Null => Json::Null,
                AnyTypeInfoKind::Bool => Json::Bool(row.try_get::<bool, _>(i)?),
                AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt => {
                    Json::from(row.try_get::<i64, _>(i)?)
                }
                AnyTypeInfoKind::Real | AnyTypeInfoKind::Double => Json::from(row.try_get::<f64, _>(i)?),
                AnyTypeInfoKind::Text => Json::String(row.try_get::<String, _>(i)?),
                AnyTypeInfoKind::Blob => serde_json::json!({
                    "base64": base64::engine::general_purpose::STANDARD.encode(row.try_get::<Vec<u8>, _>(i)?)
                }),
            }
        };
        values.push(value);
    }
    Ok(values)
}

/// The data tables of the database `conn` is connected to (for PostgreSQL: the current
/// schema), parents first.
async fn catalogue(backend: Backend, conn: &mut sqlx::AnyConnection) -> Result<Vec<TableSchema>> {
    let (tables_sql, columns_sql, parents_sql) = match backend {
        Backend::Sqlite => (
            // Plain tables only: not views, virtual tables or their shadow tables.
            "SELECT name AS t FROM pragma_table_list WHERE schema = 'main' AND type = 'table' ORDER BY name",
            // hidden: 0 a plain column, 2 or 3 a generated one.
            "SELECT name AS c, type AS k FROM pragma_table_xinfo($1) WHERE hidden = 0 ORDER BY cid",
            "SELECT DISTINCT \"table\" AS p FROM pragma_foreign_key_list($1)",
        ),
        Backend::Postgres => (
            "SELECT CAST(table_name AS TEXT) AS t FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
            "SELECT CAST(column_name AS TEXT) AS c, CAST(data_type AS TEXT) AS k FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' \
             ORDER BY ordinal_position",
            "SELECT DISTINCT CAST(p.relname AS TEXT) AS p FROM pg_constraint k \
             JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid \
             WHERE k.contype = 'f' AND c.relname = $1 \
             AND k.connamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())",
        ),
    };
    let names: Vec<String> = sqlx::query(tables_sql)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| get_string(r, "t"))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter(|t| !is_internal(t))
        .collect();
    let mut tables = BTreeMap::new();
    let mut parents: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in &names {
        let columns = sqlx::query(columns_sql)
            .bind(name.as_str())
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| Ok((get_string(r, "c")?, ColumnKind::from_declared(&get_string(r, "k")?))))
            .collect::<Result<Vec<_>>>()?;
        let refs = sqlx::query(parents_sql)
            .bind(name.as_str())
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| get_string(r, "p"))
            .collect::<Result<Vec<_>>>()?;
        parents.insert(name.clone(), refs.into_iter().filter(|p| p != name && names.contains(p)).collect());
        tables.insert(name.clone(), TableSchema { name: name.clone(), columns });
    }
    // Parents first: repeatedly take the tables whose parents are all placed.
    let mut ordered: Vec<TableSchema> = Vec::with_capacity(tables.len());
    while !tables.is_empty() {
        let ready: Vec<String> = tables
            .keys()
            .filter(|t| parents[*t].iter().all(|p| ordered.iter().any(|o| &o.name == p)))
            .cloned()
            .collect();
        // A cycle of foreign keys: place the rest by name (SQLite defers the checks).
        let take = if ready.is_empty() { tables.keys().cloned().collect() } else { ready };
        for t in take {
            ordered.extend(tables.remove(&t));
        }
    }
    Ok(ordered)
}

async fn count_rows(conn: &mut sqlx::AnyConnection, table: &str) -> Result<i64> {
    let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {}", quote(table))).fetch_one(&mut *conn).await?;
    get_i64(&row, "n")
}

/// Rows per table in a freshly migrated database (the counters a migration seeds, say):
/// what an empty target may hold. Read from a scratch SQLite file, since both dialects'
/// migrations seed the same rows.
async fn fresh_row_counts() -> Result<HashMap<String, i64>> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let path = std::env::temp_dir().join(format!("hotline-fresh-{}-{nanos}.db", std::process::id()));
    let url = format!("sqlite://{}", path.display());
    let counted: Result<HashMap<String, i64>> = async {
        let scratch = Store::connect(&url, 1, super::system_clock()).await?;
        let mut conn = scratch.pool.acquire().await?;
        let mut counts = HashMap::new();
        for t in catalogue(Backend::Sqlite, &mut conn).await? {
            counts.insert(t.name.clone(), count_rows(&mut conn, &t.name).await?);
        }
        drop(conn);
        scratch.close().await;
        Ok(counts)
    }
    .await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    counted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_of_both_dialects_map_to_the_same_kinds() {
        for (declared, kind) in [
            ("BIGINT", ColumnKind::Integer),
            ("bigint", ColumnKind::Integer),
            ("INTEGER", ColumnKind::Integer),
            ("TEXT", ColumnKind::Text),
            ("character varying", ColumnKind::Text),
            ("double precision", ColumnKind::Float),
            ("REAL", ColumnKind::Float),
            ("boolean", ColumnKind::Bool),
            ("bytea", ColumnKind::Blob),
            ("", ColumnKind::Text),
        ] {
            assert_eq!(ColumnKind::from_declared(declared), kind, "{declared}");
        }
    }
}
