//! Fresh, migrated databases for tests: a SQLite file in a temporary
//! directory, or a private schema on a PostgreSQL server.
//!
//! PostgreSQL is found through `IDLINK_TEST_DATABASE_URL`; else the local
//! server at `postgres://postgres@127.0.0.1:5432/test` if it answers; else a
//! throwaway cluster made with `initdb` and `pg_ctl` when they are on PATH
//! (`IDLINK_TEST_THROWAWAY_PG=1` forces that). With `IDLINK_REQUIRE_POSTGRES=1`
//! (set by CI) finding no server is an error, never a silent skip.

use crate::{SqlStore, StoreOptions};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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
    /// The PostgreSQL schema, and the admin URL to drop it with.
    schema: Option<(String, String)>,
}

impl TestDb {
    /// Closes the store and removes the database: the directory for SQLite,
    /// the schema for PostgreSQL (test runs leave schemas to `.ci/run`'s
    /// cleanup; tools like `idlink bench` call this).
    pub async fn dispose(mut self) -> Result<(), String> {
        self.store.close().await;
        if let Some((schema, admin)) = self.schema.take() {
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await.map_err(|e| e.to_string())?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
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
    sqlite_below(i64::MAX).await
}

/// A new SQLite database with only the migrations numbered below `version`.
async fn sqlite_below(version: i64) -> Result<TestDb, String> {
    let dir = std::env::temp_dir().join(unique_name("idlink-test"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("idlink.db").display());
    let store = SqlStore::connect(&url, &StoreOptions::default()).await.map_err(|e| e.to_string())?;
    store.migrate_below(version).await.map_err(|e| e.to_string())?;
    Ok(TestDb { store, url, kind: "sqlite", dir: Some(dir), schema: None })
}

const LOCAL_SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn postgres_required() -> bool {
    std::env::var("IDLINK_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// The admin URL of the PostgreSQL server tests use, found once per process.
fn postgres_admin_url() -> Option<String> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("IDLINK_TEST_DATABASE_URL") {
            return Some(url);
        }
        let forced = std::env::var("IDLINK_TEST_THROWAWAY_PG").is_ok_and(|v| v == "1");
        if !forced && std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], 5432).into(), Duration::from_secs(1)).is_ok() {
            return Some(LOCAL_SERVER.to_owned());
        }
        match throwaway::start() {
            Ok(url) => Some(url),
            Err(e) => {
                eprintln!("no throwaway PostgreSQL cluster: {e}");
                None
            }
        }
    })
    .clone()
}

/// A new schema on the test PostgreSQL server, or `Ok(None)` when no server
/// answers and PostgreSQL is not required.
pub async fn postgres() -> Result<Option<TestDb>, String> {
    postgres_below(i64::MAX).await
}

async fn postgres_below(version: i64) -> Result<Option<TestDb>, String> {
    let Some(admin) = postgres_admin_url() else {
        if postgres_required() {
            return Err("IDLINK_REQUIRE_POSTGRES=1 but no PostgreSQL server was found (set IDLINK_TEST_DATABASE_URL)".into());
        }
        eprintln!("no PostgreSQL server found; PostgreSQL tests skipped");
        return Ok(None);
    };
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
    store.migrate_below(version).await.map_err(|e| e.to_string())?;
    Ok(Some(TestDb { store, url, kind: "postgres", dir: None, schema: Some((schema, admin)) }))
}

/// Both databases with only the migrations numbered below `version` applied
/// (call `store.migrate()` to apply the rest): for testing what a migration
/// does to rows an earlier schema held.
pub async fn all_below(version: i64) -> Result<Vec<TestDb>, String> {
    let mut dbs = vec![sqlite_below(version).await?];
    if let Some(pg) = postgres_below(version).await? {
        dbs.push(pg);
    }
    Ok(dbs)
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

/// The first column of every row of `sql`, as bytes (ciphertexts, for tests
/// that try to open what is left in the database).
pub async fn query_bytes(store: &SqlStore, sql: &str) -> Result<Vec<Vec<u8>>, String> {
    use sqlx::Row;
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(&store.reader).await.map_err(|e| e.to_string())?;
    rows.iter().map(|r| r.try_get::<Vec<u8>, _>(0).map_err(|e| e.to_string())).collect()
}

/// The first column of every row of `sql`, as text.
pub async fn query_strings(store: &SqlStore, sql: &str) -> Result<Vec<String>, String> {
    use sqlx::Row;
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(&store.reader).await.map_err(|e| e.to_string())?;
    rows.iter().map(|r| r.try_get::<String, _>(0).map_err(|e| e.to_string())).collect()
}

/// The first column of the first row of `sql`, as text (for PRAGMA checks).
pub async fn query_text(store: &SqlStore, sql: &str) -> Result<String, String> {
    use sqlx::Row;
    let row = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&store.reader).await.map_err(|e| e.to_string())?;
    row.try_get::<String, _>(0).or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string())).map_err(|e| e.to_string())
}

/// `pragma`'s value (a number) as the connection or pool `on` holds it.
async fn pragma_value<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(on: E, pragma: &str) -> Result<String, String> {
    use sqlx::Row;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA {pragma}"))).fetch_one(on).await.map_err(|e| e.to_string())?;
    row.try_get::<i64, _>(0).map(|n| n.to_string()).map_err(|e| e.to_string())
}

/// `pragma` as each of `n` reader connections holds it, all acquired at
/// once so that they are `n` different connections.
pub async fn reader_pragma(store: &SqlStore, pragma: &str, n: usize) -> Result<Vec<String>, String> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(store.reader.acquire().await.map_err(|e| e.to_string())?);
    }
    let mut values = Vec::with_capacity(n);
    for conn in &mut held {
        values.push(pragma_value(&mut **conn, pragma).await?);
    }
    Ok(values)
}

/// `pragma` as the writer connection holds it.
pub async fn writer_pragma(store: &SqlStore, pragma: &str) -> Result<String, String> {
    pragma_value(&store.writer, pragma).await
}

/// An app that a user authorised, as the events tests write it with SQL
/// (the provider and the registration would): the client, the user's
/// pairwise subject, the grant and, with a URL, a webhook endpoint. One
/// source for the store's and the server's event tests.
#[derive(Debug, Clone, Copy)]
pub struct AppFixture<'a> {
    pub client: &'a str,
    pub name: &'a str,
    pub user: &'a str,
    /// The app's pairwise `sub` of the user.
    pub sub: &'a str,
    /// A JSON list, e.g. `["openid"]`.
    pub scopes: &'a str,
    pub logout_uri: Option<&'a str>,
    pub session_required: bool,
    pub webhook_url: Option<&'a str>,
    /// When the client and the grant were created (µs since the epoch).
    pub at_micros: i64,
}

impl AppFixture<'_> {
    /// The INSERT statements, in order.
    pub fn statements(&self) -> Vec<String> {
        let AppFixture { client, name, user, sub, scopes, at_micros: t, .. } = *self;
        let logout = self.logout_uri.map_or("NULL".to_owned(), |u| format!("'{u}'"));
        let required = i64::from(self.session_required);
        let mut out = vec![
            format!(
                "INSERT INTO oauth_clients (id, name, kind, auth_method, allowed_scopes, allowed_claims, id_token_alg, backchannel_logout_uri,
                     backchannel_logout_session_required, introspect_any, state, created_at, updated_at)
                 VALUES ('{client}', '{name}', 'confidential', 'client_secret_basic', '{scopes}', '[]', 'ES256', {logout}, {required}, 0, 'active', {t}, {t})"
            ),
            format!("INSERT INTO oauth_subjects (client_id, sub, user_id) VALUES ('{client}', '{sub}', '{user}')"),
            format!(
                "INSERT INTO oauth_grants (id, user_id, client_id, scopes, claims, state, created_at, updated_at)
                 VALUES ('grt_{client}', '{user}', '{client}', '{scopes}', '[]', 'active', {t}, {t})"
            ),
        ];
        if let Some(url) = self.webhook_url {
            out.push(format!(
                "INSERT INTO webhook_endpoints (id, client_id, url, event_types, state, created_at)
                 VALUES ('whe_{client}', '{client}', '{url}', '[]', 'enabled', {t})"
            ));
        }
        out
    }

    /// Writes the app.
    pub async fn insert(&self, store: &SqlStore) -> Result<(), String> {
        for statement in self.statements() {
            execute(store, &statement).await.map_err(|e| format!("{statement}: {e}"))?;
        }
        Ok(())
    }
}

/// A PostgreSQL cluster private to this test process: `initdb` into a
/// temporary directory, started with `pg_ctl` on a free port, stopped and
/// deleted by a watchdog shell once the test process has exited. As root,
/// the cluster runs as the `postgres` user (PostgreSQL refuses to run as root).
mod throwaway {
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    fn on_path(name: &str) -> bool {
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
    }

    fn run_as(user: Option<&str>, script: &str) -> Command {
        let mut c = match user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--", "sh", "-c", script]);
                c
            }
            None => {
                let mut c = Command::new("sh");
                c.args(["-c", script]);
                c
            }
        };
        c.stdin(Stdio::null());
        c
    }

    pub fn start() -> Result<String, String> {
        if !on_path("initdb") || !on_path("pg_ctl") {
            return Err("initdb and pg_ctl are not on PATH".into());
        }
        let root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false);
        let user = root.then_some("postgres");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("no free port: {e}"))?;
        let dir = std::env::temp_dir().join(format!("idlink-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        if let Some(u) = user {
            Command::new("chown").args([u, &dir.display().to_string()]).status().map_err(|e| e.to_string())?;
        }
        let d = dir.display();
        let init = run_as(user, &format!("initdb -D {d}/data -U postgres --auth=trust -E UTF8 --no-sync >{d}/initdb.log 2>&1"))
            .status()
            .map_err(|e| e.to_string())?;
        if !init.success() {
            return Err(format!("initdb failed; see {d}/initdb.log"));
        }
        let pid = std::process::id();
        let script = format!(
            "pg_ctl -D {d}/data -l {d}/server.log -o \"-p {port} -k {d} -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null; \
             while [ -d /proc/{pid} ]; do sleep 1; done; \
             pg_ctl -D {d}/data -m immediate stop >/dev/null 2>&1; rm -rf {d}"
        );
        run_as(user, &script).stdout(Stdio::null()).stderr(Stdio::null()).spawn().map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                eprintln!("started a throwaway PostgreSQL cluster on port {port} in {d}");
                return Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!("the throwaway cluster did not start; see {}", Path::new(&dir).join("server.log").display()))
    }
}

/// Another connection pool to the same database, as a second server node would have.
pub async fn attach(url: &str) -> Result<SqlStore, String> {
    SqlStore::connect(url, &StoreOptions { max_connections: 8, ..StoreOptions::default() }).await.map_err(|e| e.to_string())
}
