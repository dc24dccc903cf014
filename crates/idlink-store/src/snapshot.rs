//! Every table as it is, for backups, restores and moves between the two
//! databases (issue 19, ADR 0033): the tables and their columns read from
//! the database's own catalog, every row read in one consistent snapshot,
//! and rows written back into an empty database of either kind.
//!
//! Values travel as what both databases store: 64-bit integers, text,
//! bytes and NULL (the schema has no other column type; a value of another
//! kind is refused, never approximated). Ciphertexts are copied as they
//! are: nothing here decrypts.

use crate::SqlStore;
use crate::rows::store_err;
use crate::store::Backend;
use futures::TryStreamExt;
use idlink_core::ports::StoreError;
use sqlx::any::{AnyRow, AnyTypeInfoKind};
use sqlx::{Row, ValueRef};

/// One stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// A table and its columns, in the database's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
}

/// sqlx keeps its own bookkeeping here; a restore's migrations write it.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// Rows the migrations write themselves (the audit chain's head at zero):
/// a database holding only these is empty, and a restore replaces them.
const SEEDED: [(&str, &str); 1] = [("audit_head", "seq = 0")];

fn seed_of(table: &str) -> Option<&'static str> {
    SEEDED.iter().find(|(t, _)| *t == table).map(|(_, w)| *w)
}

/// Rows per INSERT statement at most, and bound values per statement at most.
const MAX_ROWS: usize = 500;
const MAX_VALUES: usize = 10_000;

/// Names come from the catalog; they are quoted, and only plain ones are used.
pub(crate) fn ident(name: &str) -> Result<String, StoreError> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        Ok(format!("\"{name}\""))
    } else {
        Err(StoreError::Corrupt(format!("unexpected table or column name {name:?}")))
    }
}

fn value_of(row: &AnyRow, i: usize, table: &str) -> Result<Value, StoreError> {
    let raw = row.try_get_raw(i).map_err(store_err)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let kind = raw.type_info().kind();
    Ok(match kind {
        AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt => {
            Value::Int(row.try_get::<i64, _>(i).map_err(store_err)?)
        }
        AnyTypeInfoKind::Text => Value::Text(row.try_get::<String, _>(i).map_err(store_err)?),
        AnyTypeInfoKind::Blob => Value::Bytes(row.try_get::<Vec<u8>, _>(i).map_err(store_err)?),
        other => {
            return Err(StoreError::Corrupt(format!("{table}: column {i} holds a {} value, which idlink never stores", other_name(other))));
        }
    })
}

fn other_name(kind: AnyTypeInfoKind) -> &'static str {
    match kind {
        AnyTypeInfoKind::Real | AnyTypeInfoKind::Double => "floating-point",
        AnyTypeInfoKind::Bool => "boolean",
        _ => "null",
    }
}

impl SqlStore {
    /// The latest migration applied, or 0 in a database idlink never
    /// migrated (no migrations table at all).
    pub async fn schema_version_if_any(&self) -> Result<i64, StoreError> {
        let exists = match self.backend() {
            Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            Backend::Postgres => {
                "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = current_schema() AND c.relname = '_sqlx_migrations'"
            }
        };
        let row = sqlx::query(exists).fetch_one(&self.reader).await.map_err(store_err)?;
        if row.try_get::<i64, _>(0).map_err(store_err)? == 0 {
            return Ok(0);
        }
        self.schema_version().await
    }

    /// The master keys the data keys are wrapped under (a restore checks the keyring holds each).
    pub async fn master_keys_in_use(&self) -> Result<Vec<String>, StoreError> {
        let rows =
            sqlx::query("SELECT DISTINCT master_key_id FROM data_keys ORDER BY 1").fetch_all(&self.reader).await.map_err(store_err)?;
        rows.into_iter().map(|r| r.try_get::<String, _>(0).map_err(store_err)).collect()
    }

    /// Holds an embedded database's write lock until the returned
    /// connection is dropped or released: nothing else writes meanwhile (a
    /// move of a deployment that must be stopped). Fails when another
    /// process writes (a server still running).
    pub async fn hold_writes(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        let mut conn = self.writer.acquire().await.map_err(store_err)?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await.map_err(store_err)?;
        Ok(conn)
    }

    /// The latest migration applied: a backup names it, a restore needs the same.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let q = format!("SELECT COALESCE(MAX(version), 0) FROM {MIGRATIONS_TABLE} WHERE success");
        let row = sqlx::query(sqlx::AssertSqlSafe(q)).fetch_one(&self.reader).await.map_err(store_err)?;
        row.try_get::<i64, _>(0).map_err(store_err)
    }

    /// Every table of idlink's schema with its columns, parents before the
    /// tables whose foreign keys name them (then by name).
    pub async fn tables(&self) -> Result<Vec<Table>, StoreError> {
        let (names, columns, parents) = match self.backend() {
            Backend::Sqlite => (
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                "SELECT name FROM pragma_table_info($1) ORDER BY cid",
                "SELECT \"table\" FROM pragma_foreign_key_list($1)",
            ),
            // The system catalogs, not information_schema: its views hide what the role may not write.
            Backend::Postgres => (
                "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() ORDER BY 1",
                "SELECT a.attname::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = current_schema() AND c.relname = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                "SELECT DISTINCT p.relname::text FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
                 JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE k.contype = 'f' AND n.nspname = current_schema() AND c.relname = $1",
            ),
        };
        let text = |r: AnyRow| r.try_get::<String, _>(0).map_err(store_err);
        let all: Vec<String> =
            sqlx::query(names).fetch_all(&self.reader).await.map_err(store_err)?.into_iter().map(text).collect::<Result<_, _>>()?;
        let mut found = Vec::new();
        for name in all.into_iter().filter(|n| n != MIGRATIONS_TABLE) {
            let cols = sqlx::query(columns).bind(name.clone()).fetch_all(&self.reader).await.map_err(store_err)?;
            let refs = sqlx::query(parents).bind(name.clone()).fetch_all(&self.reader).await.map_err(store_err)?;
            let cols: Vec<String> = cols.into_iter().map(text).collect::<Result<_, _>>()?;
            let mut refs: Vec<String> = refs.into_iter().map(text).collect::<Result<_, _>>()?;
            refs.retain(|r| *r != name);
            found.push((Table { name, columns: cols }, refs));
        }
        // Parents first: a table goes once every table it names has gone.
        let mut ordered: Vec<Table> = Vec::with_capacity(found.len());
        while !found.is_empty() {
            let ready = found.iter().position(|(_, refs)| refs.iter().all(|r| ordered.iter().any(|t| &t.name == r)));
            let (table, _) = match ready {
                Some(i) => found.remove(i),
                // A cycle (none in idlink's schema): the rest in name order.
                None => found.remove(0),
            };
            ordered.push(table);
        }
        Ok(ordered)
    }

    /// Reads every row of `tables` in one consistent snapshot (one read
    /// transaction; repeatable read on PostgreSQL), handing each to `each`
    /// with its table's index, table by table. Rows stream: a table is never
    /// held in memory whole.
    pub async fn snapshot<F>(&self, tables: &[Table], mut each: F) -> Result<(), StoreError>
    where
        F: FnMut(usize, Vec<Value>) -> Result<(), StoreError>,
    {
        let mut tx = self.reader.begin().await.map_err(store_err)?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await.map_err(store_err)?;
        }
        for (i, t) in tables.iter().enumerate() {
            let cols = t.columns.iter().map(|c| ident(c)).collect::<Result<Vec<_>, _>>()?.join(", ");
            let q = format!("SELECT {cols} FROM {}", ident(&t.name)?);
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(q)).fetch(&mut *tx);
            while let Some(row) = rows.try_next().await.map_err(store_err)? {
                let values = (0..t.columns.len()).map(|c| value_of(&row, c, &t.name)).collect::<Result<Vec<_>, _>>()?;
                each(i, values)?;
            }
        }
        tx.commit().await.map_err(store_err)
    }

    /// The first table (in `tables`) holding a row, if any, besides the rows
    /// the migrations write: a restore goes only into an empty database.
    pub async fn first_table_with_rows(&self, tables: &[Table]) -> Result<Option<String>, StoreError> {
        for t in tables {
            let seeded = seed_of(&t.name).map(|w| format!(" WHERE NOT ({w})")).unwrap_or_default();
            let q = format!("SELECT 1 FROM {}{seeded} LIMIT 1", ident(&t.name)?);
            if sqlx::query(sqlx::AssertSqlSafe(q)).fetch_optional(&self.reader).await.map_err(store_err)?.is_some() {
                return Ok(Some(t.name.clone()));
            }
        }
        Ok(None)
    }

    /// Up to `limit` rows of an embedded (SQLite) database's `table` after
    /// the row `after` in rowid order, with the last one's rowid: how a
    /// stopped deployment is moved page by page, and resumed.
    pub async fn page_by_rowid(&self, table: &Table, after: i64, limit: u32) -> Result<(i64, Vec<Vec<Value>>), StoreError> {
        if self.backend() != Backend::Sqlite {
            return Err(StoreError::Unavailable("rows are paged by rowid only on SQLite".into()));
        }
        let cols = table.columns.iter().map(|c| ident(c)).collect::<Result<Vec<_>, _>>()?.join(", ");
        let q = format!("SELECT rowid, {cols} FROM {} WHERE rowid > $1 ORDER BY rowid LIMIT $2", ident(&table.name)?);
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(q)).bind(after).bind(i64::from(limit)).fetch_all(&self.reader).await.map_err(store_err)?;
        let mut last = after;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            last = row.try_get::<i64, _>(0).map_err(store_err)?;
            out.push((1..=table.columns.len()).map(|c| value_of(&row, c, &table.name)).collect::<Result<Vec<_>, _>>()?);
        }
        Ok((last, out))
    }

    /// The rowid of the `n`th row (from 1) of an embedded database's `table` in rowid order.
    pub async fn rowid_at(&self, table: &str, n: i64) -> Result<Option<i64>, StoreError> {
        if n <= 0 {
            return Ok(None);
        }
        let q = format!("SELECT rowid FROM {} ORDER BY rowid LIMIT 1 OFFSET $1", ident(table)?);
        let row = sqlx::query(sqlx::AssertSqlSafe(q)).bind(n - 1).fetch_optional(&self.reader).await.map_err(store_err)?;
        row.map(|r| r.try_get::<i64, _>(0).map_err(store_err)).transpose()
    }

    /// Whether `table` holds nothing but what the migrations write.
    pub async fn holds_only_seed(&self, table: &str) -> Result<bool, StoreError> {
        let seeded = seed_of(table).map(|w| format!(" WHERE NOT ({w})")).unwrap_or_default();
        let q = format!("SELECT 1 FROM {}{seeded} LIMIT 1", ident(table)?);
        Ok(sqlx::query(sqlx::AssertSqlSafe(q)).fetch_optional(&self.reader).await.map_err(store_err)?.is_none())
    }

    /// Empties `table` (a restore taking back what it wrote when it must stop).
    pub async fn delete_all_rows(&self, table: &str) -> Result<u64, StoreError> {
        let q = format!("DELETE FROM {}", ident(table)?);
        Ok(sqlx::query(sqlx::AssertSqlSafe(q)).execute(&self.writer).await.map_err(store_err)?.rows_affected())
    }

    /// The number of rows of `table`.
    pub async fn row_count(&self, table: &str) -> Result<i64, StoreError> {
        let q = format!("SELECT COUNT(*) FROM {}", ident(table)?);
        let row = sqlx::query(sqlx::AssertSqlSafe(q)).fetch_one(&self.reader).await.map_err(store_err)?;
        row.try_get::<i64, _>(0).map_err(store_err)
    }

    /// Writes `rows` (values in `table.columns`' order) into `table`, in one
    /// transaction, a few hundred rows per statement.
    pub async fn insert_rows(&self, table: &Table, rows: &[Vec<Value>]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let width = table.columns.len().max(1);
        let per_statement = (MAX_VALUES / width).clamp(1, MAX_ROWS);
        let cols = table.columns.iter().map(|c| ident(c)).collect::<Result<Vec<_>, _>>()?.join(", ");
        let name = ident(&table.name)?;
        let mut tx = self.writer.begin().await.map_err(store_err)?;
        if let Some(w) = seed_of(&table.name) {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {name} WHERE {w}"))).execute(&mut *tx).await.map_err(store_err)?;
        }
        for chunk in rows.chunks(per_statement) {
            let mut sql = format!("INSERT INTO {name} ({cols}) VALUES ");
            let mut n = 0;
            for (r, row) in chunk.iter().enumerate() {
                if row.len() != table.columns.len() {
                    return Err(StoreError::Corrupt(format!("{}: a row of {} values for {} columns", table.name, row.len(), width)));
                }
                sql.push_str(if r == 0 { "(" } else { ", (" });
                for (c, v) in row.iter().enumerate() {
                    if c > 0 {
                        sql.push_str(", ");
                    }
                    // NULL is written as such: a typed NULL parameter would not fit every column on PostgreSQL.
                    if *v == Value::Null {
                        sql.push_str("NULL");
                    } else {
                        n += 1;
                        sql.push_str(&format!("${n}"));
                    }
                }
                sql.push(')');
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in chunk {
                for v in row {
                    q = match v {
                        Value::Null => q,
                        Value::Int(i) => q.bind(*i),
                        Value::Text(s) => q.bind(s.clone()),
                        Value::Bytes(b) => q.bind(b.clone()),
                    };
                }
            }
            q.execute(&mut *tx).await.map_err(store_err)?;
        }
        tx.commit().await.map_err(store_err)
    }
}
