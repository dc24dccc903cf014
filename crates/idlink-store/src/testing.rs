//! Fresh, migrated databases for tests: a SQLite file in a temporary
//! directory, or a private schema on a PostgreSQL server.
//!
//! PostgreSQL is found through `IDLINK_TEST_DATABASE_URL`, else the local
//! server at `postgres://postgres@127.0.0.1:5432/test` if it answers. With
//! `IDLINK_REQUIRE_POSTGRES=1` (set by CI) an unreachable server is an error,
//! never a silent skip.

use crate::{SqlStore, StoreOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}_{}_{}_{}", std::process::id(), nanos % 1_000_000_000_000, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A migrated store and the URL another process could use to reach the same data.
#[derive(Debug)]
pub struct TestDb {
    pub store: SqlStore,
    pub url: String,
    pub kind: &'static str,
    dir: Option<PathBuf>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A new SQLite database in its own temporary directory.
pub async fn sqlite() -> Result<TestDb, String> {
    let dir = std::env::temp_dir().join(unique_name("idlink-test"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("idlink.db").display());
    let store = SqlStore::connect(&url, &StoreOptions::default()).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    Ok(TestDb { store, url, kind: "sqlite", dir: Some(dir) })
}

/// The PostgreSQL server tests should use, if any.
pub fn postgres_admin_url() -> String {
    std::env::var("IDLINK_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub fn postgres_required() -> bool {
    std::env::var("IDLINK_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// A new schema on the test PostgreSQL server, or `Ok(None)` when no server
/// answers and PostgreSQL is not required.
pub async fn postgres() -> Result<Option<TestDb>, String> {
    let admin = postgres_admin_url();
    sqlx::any::install_default_drivers();
    let mut conn = match <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await {
        Ok(c) => c,
        Err(e) if !postgres_required() => {
            eprintln!("PostgreSQL not reachable at {admin} ({e}); PostgreSQL tests skipped");
            return Ok(None);
        }
        Err(e) => return Err(format!("IDLINK_REQUIRE_POSTGRES=1 but {admin} is not reachable: {e}")),
    };
    let schema = unique_name("t");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut conn).await.map_err(|e| e.to_string())?;
    let sep = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{sep}options=-c%20search_path%3D{schema}");
    let store =
        SqlStore::connect(&url, &StoreOptions { max_connections: 8, ..StoreOptions::default() }).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    Ok(Some(TestDb { store, url, kind: "postgres", dir: None }))
}

/// Both databases: SQLite always, PostgreSQL when reachable (or required).
pub async fn all() -> Result<Vec<TestDb>, String> {
    let mut dbs = vec![sqlite().await?];
    if let Some(pg) = postgres().await? {
        dbs.push(pg);
    }
    Ok(dbs)
}

/// Runs raw SQL against a test database, as an attacker or operator with
/// direct database access would (tamper tests). Not for product code.
pub async fn execute(store: &SqlStore, sql: &str) -> Result<u64, String> {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(&store.writer).await.map(|r| r.rows_affected()).map_err(|e| e.to_string())
}

/// Every row of `table` rendered as text (binary columns lossily), for
/// tests that check what an attacker with a database dump would see.
pub async fn dump_table(store: &SqlStore, table: &str) -> Result<String, String> {
    use sqlx::{Column, Row, ValueRef};
    let rows =
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}"))).fetch_all(&store.reader).await.map_err(|e| e.to_string())?;
    let mut out = String::new();
    for row in rows {
        for (i, col) in row.columns().iter().enumerate() {
            let text = if row.try_get_raw(i).map(|v| v.is_null()).unwrap_or(true) {
                "NULL".to_owned()
            } else if let Ok(s) = row.try_get::<String, _>(i) {
                s
            } else if let Ok(b) = row.try_get::<Vec<u8>, _>(i) {
                String::from_utf8_lossy(&b).into_owned()
            } else if let Ok(n) = row.try_get::<i64, _>(i) {
                n.to_string()
            } else {
                "?".to_owned()
            };
            out.push_str(&format!("{}={text} ", col.name()));
        }
        out.push('\n');
    }
    Ok(out)
}
