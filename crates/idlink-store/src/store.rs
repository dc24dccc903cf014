//! Connection, migrations and the store ports other than the audit log.

use async_trait::async_trait;
use idlink_core::ports::apikeys::{ApiKeyRow, ApiKeyStore};
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::keys::KeyStore;
use idlink_core::ports::users::{UserRow, UserStore};
use idlink_core::ports::{HealthStore, StoreError};
use idlink_crypto::WrappedDataKey;
use idlink_domain::{ApiKeyId, SessionId, UserId};
use jiff::Timestamp;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::time::Duration;

use crate::group_commit::WriterConnection;
use crate::read_batch::{Ask, ReadBatches, Statements};
use crate::rows::{AnyQuery, Columns, execute, fetch_all, fetch_one, fetch_optional, first, micros, qualified, store_err};
use crate::write::{Commit, Tx};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The migration that made `suspended_indexes`.
pub(crate) const SUSPENDED_INDEXES_SCHEMA: i64 = 45;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections for PostgreSQL, or read connections for SQLite.
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// SQLite's page cache per connection, in MiB (`None`: SQLite's own 2 MiB).
    /// A bulk load into a big file (`idlink bench seed`) rewrites the same
    /// index pages less often with a larger one.
    pub sqlite_cache_mib: Option<u32>,
    /// SQLite reads the file through a shared memory map of this many MiB
    /// (`None` or 0: through `read()` into each connection's own cache).
    /// Mapped pages are the kernel's page cache, shared by every reader, so
    /// a big file's hot index pages are held once rather than per connection.
    pub sqlite_mmap_mib: Option<u32>,
    /// SQLite's writer commits without waiting for the disk (`synchronous =
    /// NORMAL` in WAL mode: a crash keeps the file consistent but may lose
    /// the last commits). Only for a load that can be run again (`idlink
    /// bench seed` adds the users a lost batch held on its next run); never
    /// for a server, whose answers promise durability.
    pub bulk_load: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
            sqlite_cache_mib: None,
            sqlite_mmap_mib: None,
            bulk_load: false,
        }
    }
}

/// The database behind every store port.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(crate) writer: AnyPool,
    pub(crate) reader: AnyPool,
    backend: Backend,
    /// The balance queries' group-commit writer.
    pub(crate) query_commits: tokio::sync::mpsc::UnboundedSender<crate::group_commit::QueryCommit>,
    /// Point reads waiting to be read together (ADR 0023).
    pub(crate) introspections: ReadBatches<crate::oauth::IntrospectionAsk, idlink_core::ports::oauth::Introspection>,
    pub(crate) api_keys: ReadBatches<ApiKeyAsk, ApiKeyRow>,
    pub(crate) code_bindings: ReadBatches<crate::ss_bindings::CodeAsk, crate::ss_bindings::CodeRead>,
    /// Opened for a bulk load ([`StoreOptions::bulk_load`]).
    bulk_load: bool,
}

/// SQLite silently caps a map at its compile-time maximum (2 GiB unless
/// built with idlink's `.cargo/config.toml`, e.g. by a build from outside
/// this repository): say so rather than run with a smaller map than asked.
async fn warn_if_map_capped(pool: &AnyPool, asked: i64) -> Result<(), StoreError> {
    let q = sqlx::query("PRAGMA mmap_size");
    let got = fetch_optional(q, pool, |r| r.col::<i64>("mmap_size")).await?.unwrap_or(0);
    if got < asked {
        tracing::warn!(
            asked_mib = asked / (1024 * 1024),
            got_mib = got / (1024 * 1024),
            "database.sqlite_mmap_mib is larger than this build of SQLite allows; reads past the map go through the page cache (build idlink from its repository, whose .cargo/config.toml raises the cap)"
        );
    }
    Ok(())
}

impl SqlStore {
    /// Connects (creating a SQLite file if needed). Does not migrate.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)
            .ok_or_else(|| StoreError::Unavailable("the database URL must start with sqlite: or postgres:".into()))?;
        // No ping before each acquire (sqlx's default): it is one more round trip
        // per statement; a connection that died idle fails its statement instead,
        // is discarded, and the request answers 503 like any database outage.
        let pool = |n: u32| AnyPoolOptions::new().max_connections(n).acquire_timeout(options.acquire_timeout).test_before_acquire(false);
        let (writer, reader, committer) = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') { url.to_owned() } else { format!("{url}?mode=rwc") };
                // WAL lets readers proceed during a write; with the default
                // synchronous=FULL every commit is fsynced before it returns.
                // The mode is stored in the file, so setting it once suffices.
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.map_err(store_err)?;
                execute(sqlx::query("PRAGMA journal_mode = WAL"), &mut conn).await?;
                sqlx::Connection::close(conn).await.map_err(store_err)?;
                // Checkpoints run beside the writer (see `checkpoint_wal`), not inside its commits.
                // Negative: KiB rather than pages.
                let cache = options.sqlite_cache_mib.map(|mib| format!("PRAGMA cache_size = -{}", u64::from(mib) * 1024));
                let mmap_bytes = options.sqlite_mmap_mib.map(|mib| i64::from(mib) * 1024 * 1024);
                let mmap = mmap_bytes.map(|bytes| format!("PRAGMA mmap_size = {bytes}"));
                let mut writer_pragmas: Vec<String> = cache.iter().chain(mmap.iter()).cloned().collect();
                if options.bulk_load {
                    writer_pragmas.push("PRAGMA synchronous = NORMAL".into());
                }
                writer_pragmas.push("PRAGMA wal_autocheckpoint = 0".into());
                // Deleted rows are overwritten, not left in free pages: a destroyed data
                // key (crypto-shredding, ADR 0030) is gone from the file once checkpointed.
                writer_pragmas.push("PRAGMA secure_delete = ON".into());
                let writer = on_connect(pool(1), writer_pragmas).connect(&url).await.map_err(store_err)?;
                // A bulk load's cache and map are for the writer; its readers only count.
                let reader_pragmas = if options.bulk_load { Vec::new() } else { cache.into_iter().chain(mmap).collect() };
                let reader = on_connect(pool(options.max_connections.max(1)), reader_pragmas).connect(&url).await.map_err(store_err)?;
                if let Some(bytes) = mmap_bytes {
                    warn_if_map_capped(&writer, bytes).await?;
                }
                tokio::spawn(checkpoint_wal(reader.clone(), writer.clone()));
                (writer.clone(), reader, WriterConnection::Shared(writer))
            }
            Backend::Postgres => {
                let p = pool(options.max_connections.max(2)).connect(url).await.map_err(store_err)?;
                (p.clone(), p, WriterConnection::Own { url: url.to_owned(), options: pool(1) })
            }
        };
        let query_commits = crate::group_commit::start(committer, backend).await?;
        Ok(Self {
            writer,
            reader,
            backend,
            query_commits,
            introspections: Default::default(),
            api_keys: Default::default(),
            code_bindings: Default::default(),
            bulk_load: options.bulk_load,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies the migrations numbered below `version` only: tests of what a
    /// later migration does to the rows an earlier schema held.
    pub async fn migrate_below(&self, version: i64) -> Result<(), StoreError> {
        let all = self.migrator();
        let partial = sqlx::migrate::Migrator {
            migrations: std::borrow::Cow::Owned(all.migrations.iter().filter(|m| m.version < version).cloned().collect()),
            ignore_missing: all.ignore_missing,
            locking: all.locking,
            no_tx: all.no_tx,
            table_name: all.table_name.clone(),
            create_schemas: all.create_schemas.clone(),
        };
        partial.run(&self.writer).await.map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))
    }

    /// The latest migration this build knows.
    pub fn latest_schema(&self) -> i64 {
        self.migrator().migrations.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Applies pending migrations; returns how many were applied. Unless
    /// this store is a bulk load, it first rebuilds the indexes an
    /// interrupted bulk load left suspended ([`Self::suspend_indexes`]), so
    /// that no server runs without them and no migration meets a schema
    /// missing one.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        if !self.bulk_load && self.schema_version_if_any().await? >= SUSPENDED_INDEXES_SCHEMA {
            let rebuilt = self.rebuild_indexes().await?;
            if rebuilt > 0 {
                tracing::warn!(rebuilt, "rebuilt the indexes an interrupted bulk load had suspended");
            }
        }
        let migrator = self.migrator();
        let before = self.applied_migrations().await.unwrap_or(0);
        migrator.run(&self.writer).await.map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))?;
        Ok(self.applied_migrations().await?.saturating_sub(before))
    }

    async fn applied_migrations(&self) -> Result<usize, StoreError> {
        let n: i64 = fetch_one(sqlx::query("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE"), &self.reader, first).await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Ends a bulk load ([`StoreOptions::bulk_load`]): SQLite's writer waits
    /// for the disk again, so its next commit makes every earlier one durable
    /// with it (in WAL mode one fsync covers all the frames before). Call it
    /// before anything outside the database records what the load wrote (the
    /// audit witness), or a crash could leave the witness ahead of the file.
    pub async fn end_bulk_load(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA synchronous = FULL").execute(&self.writer).await.map_err(store_err)?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// A pool whose connections each run `pragmas` when they open (SQLite
/// keeps most settings per connection).
fn on_connect(pool: AnyPoolOptions, pragmas: Vec<String>) -> AnyPoolOptions {
    let pragmas = std::sync::Arc::new(pragmas);
    pool.after_connect(move |conn, _| {
        let pragmas = pragmas.clone();
        Box::pin(async move {
            for p in pragmas.iter() {
                sqlx::query(sqlx::AssertSqlSafe(p.clone())).execute(&mut *conn).await?;
            }
            Ok(())
        })
    })
}

/// Copies the SQLite write-ahead log into the database file every second
/// from a reader connection. A passive checkpoint never blocks the writer,
/// so commits do not pay for it (with SQLite's automatic checkpoints the
/// commit that crosses 1000 pages does, which showed as tail latency in
/// `idlink bench balance`). Its fsync of the database file still slows the
/// writer's WAL fsync a little: every 200 ms put 2.8 % of the queries above
/// 10 ms at half peak, every second 1.1 %. Ends when the pool is closed.
///
/// A writer that never pauses (a bulk load) never lets a passive checkpoint
/// catch up, and SQLite only starts the WAL over after one did: seeding grew
/// a 6 GB WAL beside a 600 MB database in a minute, every read searching it.
/// So once the WAL holds more than [`WAL_RESET_FRAMES`] frames, the writer's
/// own connection (taken between two commits) checkpoints it to the end and
/// truncates it. That waits for readers still on the WAL, so it waits at
/// most [`WAL_RESET_WAIT_MS`] (a long reader such as a backup's snapshot
/// keeps the WAL; the writer loses at most that much a try) and, when it
/// could not finish, tries less and less often (up to once a minute).
async fn checkpoint_wal(pool: AnyPool, writer: AnyPool) {
    let mut tick = tokio::time::interval(Duration::from_millis(1000));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut skip, mut backoff) = (0u32, 1u32);
    while !pool.is_closed() {
        tick.tick().await;
        if pool.is_closed() {
            break;
        }
        // (busy, frames in the WAL, frames checkpointed)
        let frames = match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&pool).await.and_then(|r| r.try_get::<i64, _>(1)) {
            Ok(frames) => frames,
            Err(e) => {
                tracing::debug!(error = %e, "WAL checkpoint skipped");
                continue;
            }
        };
        if frames <= WAL_RESET_FRAMES {
            (skip, backoff) = (0, 1);
            continue;
        }
        if skip > 0 {
            skip -= 1;
            continue;
        }
        match reset_wal(&writer).await {
            Ok(true) => backoff = 1,
            Ok(false) => {
                tracing::info!(frames, "the WAL is still in use by a reader; its reset waits");
                backoff = (backoff * 2).min(60);
                skip = backoff;
            }
            Err(e) => tracing::warn!(error = %e, frames, "WAL reset failed"),
        }
    }
}

/// A `TRUNCATE` checkpoint on the writer's connection, waiting for readers
/// [`WAL_RESET_WAIT_MS`] at most: whether it finished.
async fn reset_wal(writer: &AnyPool) -> Result<bool, sqlx::Error> {
    let mut conn = writer.acquire().await?;
    let wait = format!("PRAGMA busy_timeout = {WAL_RESET_WAIT_MS}");
    sqlx::query(sqlx::AssertSqlSafe(wait)).execute(&mut *conn).await?;
    let done = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *conn).await.and_then(|r| r.try_get::<i64, _>(0));
    // sqlx's own 5 s again for the writer's statements.
    sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut *conn).await?;
    Ok(done? == 0)
}

/// How long a WAL reset waits for readers still on the WAL.
const WAL_RESET_WAIT_MS: u64 = 50;

/// WAL frames (pages) past which the checkpointer resets the WAL: 64 MiB of 4 KiB pages.
const WAL_RESET_FRAMES: i64 = 16_384;

pub(crate) fn user_row(r: &AnyRow) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        id: r.user("id")?,
        phone_cipher: r.col("phone_cipher")?,
        phone_index: r.col("phone_index")?,
        created_at: r.instant("created_at")?,
    })
}

pub(crate) fn wrapped_row(r: &AnyRow) -> Result<WrappedDataKey, StoreError> {
    Ok(WrappedDataKey { id: r.col("id")?, ciphertext: r.col("ciphertext")? })
}

pub(crate) fn master_id(key: &WrappedDataKey) -> Result<String, StoreError> {
    key.master_key_id().map(str::to_owned).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The data key of a user (`dek-usr_…`).
pub(crate) fn user_key_id(user: &UserId) -> String {
    format!("dek-{user}")
}

pub(crate) const WRAPPED_BY_ID: &str = "SELECT id, ciphertext FROM data_keys WHERE id = $1";

/// Inserts a user and their data key inside a transaction.
pub(crate) async fn insert_user_in(tx: &mut Tx, user: &UserRow, key: &WrappedDataKey) -> Result<(), StoreError> {
    insert_key(tx, key, "").await?;
    let q = sqlx::query("INSERT INTO users (id, phone_cipher, phone_index, created_at) VALUES ($1, $2, $3, $4)")
        .bind(user.id.as_str())
        .bind(&user.phone_cipher)
        .bind(&user.phone_index)
        .bind(micros(user.created_at));
    execute(q, &mut *tx).await?;
    Ok(())
}

/// Inserts a data key; `on_conflict` is appended to the statement (`ON CONFLICT (id) DO NOTHING`, or nothing).
pub(crate) async fn insert_key(tx: &mut Tx, key: &WrappedDataKey, on_conflict: &str) -> Result<(), StoreError> {
    let sql = format!("INSERT INTO data_keys (id, master_key_id, ciphertext) VALUES ($1, $2, $3) {on_conflict}");
    execute(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&key.id).bind(master_id(key)?).bind(&key.ciphertext), &mut *tx).await?;
    Ok(())
}

#[async_trait]
impl UserStore for SqlStore {
    async fn insert_user(&self, user: &UserRow, key: &WrappedDataKey, audit: &AuditEntry) -> Result<(), StoreError> {
        self.audited(audit, async |tx| insert_user_in(tx, user, key).await).await
    }

    async fn read_user(&self, id: &UserId, audit: &AuditEntry) -> Result<Option<(UserRow, Option<WrappedDataKey>)>, StoreError> {
        self.audited_if(audit, async |tx| {
            let q = sqlx::query("SELECT id, phone_cipher, phone_index, created_at FROM users WHERE id = $1").bind(id.as_str());
            let Some(user) = fetch_optional(q, &mut *tx, user_row).await? else {
                return Ok(None);
            };
            let key = fetch_optional(sqlx::query(WRAPPED_BY_ID).bind(user_key_id(id)), &mut *tx, wrapped_row).await?;
            Ok(Some((user, key)))
        })
        .await
    }

    async fn find_user_by_phone_index(&self, index: &str) -> Result<Option<UserId>, StoreError> {
        let q = sqlx::query(USER_BY_PHONE_INDEX).bind(index);
        fetch_optional(q, &self.reader, |r| r.user("id")).await
    }

    async fn phone_index(&self, id: &UserId) -> Result<Option<String>, StoreError> {
        fetch_optional(sqlx::query("SELECT phone_index FROM users WHERE id = $1").bind(id.as_str()), &self.reader, first).await
    }

    async fn shred_user_key(
        &self,
        id: &UserId,
        event: &idlink_core::ports::outbox::NewEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let q = sqlx::query("DELETE FROM data_keys WHERE id = $1").bind(user_key_id(id));
        self.audited_if(audit, async |tx| {
            if execute(q, &mut *tx).await? == 0 {
                return Ok(false);
            }
            let change = crate::events::GrantChange::Revoke { by: "system", reason: "account_purged" };
            crate::events::lifecycle_in(tx, id, event.at, change, event).await?;
            // Nothing of the user's can be compared any more: their credit alerts stop with the key.
            let watch = sqlx::query("UPDATE credit_watches SET enabled = 0, baseline_cipher = NULL WHERE user_id = $1").bind(id.as_str());
            execute(watch, &mut *tx).await?;
            Ok(true)
        })
        .await
    }
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn wrapped_key(&self, id: &str) -> Result<Option<WrappedDataKey>, StoreError> {
        fetch_optional(sqlx::query(WRAPPED_BY_ID).bind(id), &self.reader, wrapped_row).await
    }

    async fn ensure_wrapped_key(&self, key: &WrappedDataKey) -> Result<WrappedDataKey, StoreError> {
        self.write(Commit::Effect, async |tx| {
            insert_key(tx, key, "ON CONFLICT (id) DO NOTHING").await?;
            fetch_one(sqlx::query(WRAPPED_BY_ID).bind(&key.id), &mut *tx, wrapped_row).await
        })
        .await
    }

    async fn keys_not_wrapped_by(&self, active_master_id: &str, after: &str, limit: u32) -> Result<Vec<WrappedDataKey>, StoreError> {
        let q = sqlx::query("SELECT id, ciphertext FROM data_keys WHERE master_key_id <> $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(active_master_id)
            .bind(after)
            .bind(i64::from(limit));
        fetch_all(q, &self.reader, wrapped_row).await
    }

    async fn replace_wrapped_key(&self, old: &WrappedDataKey, new: &WrappedDataKey) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE data_keys SET master_key_id = $1, ciphertext = $2 WHERE id = $3 AND ciphertext = $4")
            .bind(master_id(new)?)
            .bind(&new.ciphertext)
            .bind(&old.id)
            .bind(&old.ciphertext);
        self.write(Commit::Effect, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn count_keys_by_master(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let q = sqlx::query("SELECT master_key_id, COUNT(*) AS n FROM data_keys GROUP BY master_key_id ORDER BY master_key_id");
        fetch_all(q, &self.reader, |r| Ok((r.col("master_key_id")?, r.count_u64("n")?))).await
    }
}

pub(crate) fn api_key_row(r: &AnyRow) -> Result<ApiKeyRow, StoreError> {
    let scopes: String = r.col("scopes")?;
    Ok(ApiKeyRow {
        id: ApiKeyId::parse(&r.col::<String>("id")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        name: r.col("name")?,
        secret_hash: r.col("secret_hash")?,
        scopes: scopes.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        created_at: r.instant("created_at")?,
        revoked_at: r.instant_opt("revoked_at")?,
        expires_at: r.instant_opt("expires_at")?,
        last_used_at: r.instant_opt("last_used_at")?,
        replaces: r
            .col::<Option<String>>("replaces")?
            .map(|id| ApiKeyId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()?,
    })
}

pub(crate) const API_KEY_COLUMNS: &str = "id, name, secret_hash, scopes, created_at, revoked_at, expires_at, last_used_at, replaces";

/// The user a login's phone ($1, its blind index) belongs to.
pub(crate) const USER_BY_PHONE_INDEX: &str = "SELECT id FROM users WHERE phone_index = $1";

/// The API key ($1) and the session ($2) a host app's request names, in one read.
pub(crate) fn api_key_with_session_sql() -> String {
    let session_columns: Vec<String> = crate::login::SESSION_COLUMNS.split(',').map(|c| format!("s.{c} AS s_{c}", c = c.trim())).collect();
    format!(
        "SELECT {}, {}
         FROM api_keys k LEFT JOIN sessions s ON s.id = $2 WHERE k.id = $1",
        qualified(API_KEY_COLUMNS, "k"),
        session_columns.join(", ")
    )
}

/// API keys, read in batches (ADR 0023): every API call reads its key, so
/// at peak the calls waiting at one moment share one statement.
static API_KEY: Statements<ApiKeyAsk, ApiKeyRow> = Statements::new(api_key_select, api_key_row);

fn api_key_select() -> String {
    format!("SELECT q.n AS n, {} FROM q JOIN api_keys k ON k.id = q.key_id", qualified(API_KEY_COLUMNS, "k"))
}

/// One API key read: its id.
pub(crate) struct ApiKeyAsk(String);

impl Ask for ApiKeyAsk {
    const COLUMNS: &'static [&'static str] = &["key_id"];
    fn bind(self, q: AnyQuery<'_>) -> AnyQuery<'_> {
        q.bind(self.0)
    }
    fn pad(q: AnyQuery<'_>) -> AnyQuery<'_> {
        q.bind(None::<String>)
    }
}

#[async_trait]
impl ApiKeyStore for SqlStore {
    async fn insert_api_key(&self, key: &ApiKeyRow, audit: &AuditEntry) -> Result<(), StoreError> {
        let q = insert_api_key(key);
        self.audited(audit, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }

    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRow>, StoreError> {
        self.api_keys.read(&self.reader, ApiKeyAsk(id.as_str().to_owned()), &API_KEY).await
    }

    async fn api_key_with_session(
        &self,
        id: &ApiKeyId,
        session_id: &SessionId,
    ) -> Result<(Option<ApiKeyRow>, Option<idlink_core::ports::auth::SessionRow>), StoreError> {
        let found = fetch_optional(
            sqlx::query(sqlx::AssertSqlSafe(api_key_with_session_sql())).bind(id.as_str()).bind(session_id.as_str()),
            &self.reader,
            |r| {
                let session = r.col::<Option<String>>("s_id")?.map(|_| crate::login::session_prefixed(r, "s_")).transpose()?;
                Ok((api_key_row(r)?, session))
            },
        )
        .await?;
        Ok(found.map_or((None, None), |(key, session)| (Some(key), session)))
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError> {
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &self.reader, api_key_row).await
    }

    async fn revoke_api_key(&self, id: &ApiKeyId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL").bind(micros(at)).bind(id.as_str());
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? > 0)).await
    }

    async fn rotate_api_key(&self, new: &ApiKeyRow, old_expires_at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        let Some(old) = new.replaces.as_ref() else { return Ok(false) };
        let now = micros(new.created_at);
        // The old key's own expiry stays when it comes sooner than the overlap's end.
        let shorten = sqlx::query(
            "UPDATE api_keys SET expires_at = CASE WHEN expires_at IS NOT NULL AND expires_at < $1 THEN expires_at ELSE $1 END
             WHERE id = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)
               AND NOT EXISTS (SELECT 1 FROM api_keys s WHERE s.replaces = $2)",
        )
        .bind(micros(old_expires_at))
        .bind(old.as_str())
        .bind(now);
        let insert = insert_api_key(new);
        let out = self
            .audited_if(audit, async |tx| {
                if execute(shorten, &mut *tx).await? == 0 {
                    return Ok(false);
                }
                execute(insert, &mut *tx).await?;
                Ok(true)
            })
            .await;
        match out {
            // Another rotation of the same key committed first (the one-successor index).
            Err(StoreError::Unique(_)) => Ok(false),
            other => other,
        }
    }

    async fn touch_api_key(&self, id: &ApiKeyId, at: Timestamp) -> Result<(), StoreError> {
        // To the minute: a use within a minute of the one recorded changes nothing.
        let q =
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $1 - 60000000)")
                .bind(micros(at))
                .bind(id.as_str());
        self.write(Commit::Bookkeeping, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }
}

fn insert_api_key(key: &ApiKeyRow) -> AnyQuery<'_> {
    sqlx::query(
        "INSERT INTO api_keys (id, name, secret_hash, scopes, created_at, revoked_at, expires_at, last_used_at, replaces)
         VALUES ($1, $2, $3, $4, $5, NULL, $6, NULL, $7)",
    )
    .bind(key.id.as_str())
    .bind(&key.name)
    .bind(&key.secret_hash)
    .bind(key.scopes.join(" "))
    .bind(micros(key.created_at))
    .bind(key.expires_at.map(micros))
    .bind(key.replaces.as_ref().map(ApiKeyId::as_str))
}

#[async_trait]
impl HealthStore for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        execute(sqlx::query("SELECT 1"), &self.reader).await?;
        Ok(())
    }
}
