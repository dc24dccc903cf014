//! Connection, migrations and the store ports other than the audit log.

use async_trait::async_trait;
use idlink_core::audit::AuditEntry;
use idlink_core::ports::{ApiKeyRow, ApiKeyStore, HealthStore, KeyStore, StoreError, UserRow, UserStore};
use idlink_crypto::WrappedDataKey;
use idlink_domain::{ApiKeyId, SessionId, UserId};
use jiff::Timestamp;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::time::Duration;

use crate::group_commit::WriterConnection;
use crate::rows::{micros, store_err, timestamp};
use crate::write::{Commit, Tx};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

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
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { max_connections: 16, acquire_timeout: Duration::from_secs(10) }
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
                sqlx::query("PRAGMA journal_mode = WAL").execute(&mut conn).await.map_err(store_err)?;
                sqlx::Connection::close(conn).await.map_err(store_err)?;
                // Checkpoints run beside the writer (see `checkpoint_wal`), not inside its commits.
                let writer = pool(1)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::query("PRAGMA wal_autocheckpoint = 0").execute(conn).await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
                    .map_err(store_err)?;
                let reader = pool(options.max_connections.max(1)).connect(&url).await.map_err(store_err)?;
                tokio::spawn(checkpoint_wal(reader.clone()));
                (writer.clone(), reader, WriterConnection::Shared(writer))
            }
            Backend::Postgres => {
                let p = pool(options.max_connections.max(2)).connect(url).await.map_err(store_err)?;
                (p.clone(), p, WriterConnection::Own { url: url.to_owned(), options: pool(1) })
            }
        };
        let query_commits = crate::group_commit::start(committer, backend).await?;
        Ok(Self { writer, reader, backend, query_commits })
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

    /// Applies pending migrations; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let migrator = self.migrator();
        let before = self.applied_migrations().await.unwrap_or(0);
        migrator.run(&self.writer).await.map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))?;
        Ok(self.applied_migrations().await?.saturating_sub(before))
    }

    async fn applied_migrations(&self) -> Result<usize, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&self.reader)
            .await
            .map_err(store_err)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// Copies the SQLite write-ahead log into the database file every second
/// from a reader connection. A passive checkpoint never blocks the writer,
/// so commits do not pay for it (with SQLite's automatic checkpoints the
/// commit that crosses 1000 pages does, which showed as tail latency in
/// `idlink bench balance`). Its fsync of the database file still slows the
/// writer's WAL fsync a little: every 200 ms put 2.8 % of the queries above
/// 10 ms at half peak, every second 1.1 %. Ends when the pool is closed.
async fn checkpoint_wal(pool: AnyPool) {
    let mut tick = tokio::time::interval(Duration::from_millis(1000));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !pool.is_closed() {
        tick.tick().await;
        if pool.is_closed() {
            break;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::debug!(error = %e, "WAL checkpoint skipped");
        }
    }
}

fn user_row(r: &AnyRow) -> Result<UserRow, StoreError> {
    let id: String = r.try_get("id").map_err(store_err)?;
    Ok(UserRow {
        id: UserId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        phone_cipher: r.try_get("phone_cipher").map_err(store_err)?,
        phone_index: r.try_get("phone_index").map_err(store_err)?,
        created_at: timestamp(r.try_get("created_at").map_err(store_err)?)?,
    })
}

fn wrapped_row(r: &AnyRow) -> Result<WrappedDataKey, StoreError> {
    Ok(WrappedDataKey { id: r.try_get("id").map_err(store_err)?, ciphertext: r.try_get("ciphertext").map_err(store_err)? })
}

fn master_id(key: &WrappedDataKey) -> Result<String, StoreError> {
    key.master_key_id().map(str::to_owned).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Inserts a user and their data key inside a transaction.
pub(crate) async fn insert_user_in(tx: &mut Tx, user: &UserRow, key: &WrappedDataKey) -> Result<(), StoreError> {
    insert_key(tx, key).await?;
    sqlx::query("INSERT INTO users (id, phone_cipher, phone_index, created_at) VALUES ($1, $2, $3, $4)")
        .bind(user.id.as_str())
        .bind(&user.phone_cipher)
        .bind(&user.phone_index)
        .bind(micros(user.created_at))
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
    Ok(())
}

async fn insert_key(tx: &mut Tx, key: &WrappedDataKey) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO data_keys (id, master_key_id, ciphertext) VALUES ($1, $2, $3)")
        .bind(&key.id)
        .bind(master_id(key)?)
        .bind(&key.ciphertext)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
    Ok(())
}

#[async_trait]
impl UserStore for SqlStore {
    async fn insert_user(&self, user: &UserRow, key: &WrappedDataKey, audit: &AuditEntry) -> Result<(), StoreError> {
        self.audited(audit, async |tx| insert_user_in(tx, user, key).await).await
    }

    async fn read_user(&self, id: &UserId, audit: &AuditEntry) -> Result<Option<(UserRow, Option<WrappedDataKey>)>, StoreError> {
        self.audited_if(audit, async |tx| {
            let row = sqlx::query("SELECT id, phone_cipher, phone_index, created_at FROM users WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_err)?;
            let Some(row) = row else {
                return Ok(None);
            };
            let user = user_row(&row)?;
            let key = sqlx::query("SELECT id, ciphertext FROM data_keys WHERE id = $1")
                .bind(format!("dek-{id}"))
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_err)?
                .map(|r| wrapped_row(&r))
                .transpose()?;
            Ok(Some((user, key)))
        })
        .await
    }

    async fn find_user_by_phone_index(&self, index: &str) -> Result<Option<UserId>, StoreError> {
        let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE phone_index = $1")
            .bind(index)
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?;
        id.map(|s| UserId::parse(&s).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
    }

    async fn phone_index(&self, id: &UserId) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT phone_index FROM users WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)
    }

    async fn shred_user_key(&self, id: &UserId, audit: &AuditEntry) -> Result<bool, StoreError> {
        self.audited_if(audit, async |tx| {
            let deleted = sqlx::query("DELETE FROM data_keys WHERE id = $1")
                .bind(format!("dek-{id}"))
                .execute(&mut *tx)
                .await
                .map_err(store_err)?
                .rows_affected();
            Ok(deleted > 0)
        })
        .await
    }
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn wrapped_key(&self, id: &str) -> Result<Option<WrappedDataKey>, StoreError> {
        sqlx::query("SELECT id, ciphertext FROM data_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(|r| wrapped_row(&r))
            .transpose()
    }

    async fn ensure_wrapped_key(&self, key: &WrappedDataKey) -> Result<WrappedDataKey, StoreError> {
        let row = self
            .write(Commit::Effect, async |tx| {
                sqlx::query("INSERT INTO data_keys (id, master_key_id, ciphertext) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
                    .bind(&key.id)
                    .bind(master_id(key)?)
                    .bind(&key.ciphertext)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_err)?;
                sqlx::query("SELECT id, ciphertext FROM data_keys WHERE id = $1").bind(&key.id).fetch_one(&mut *tx).await.map_err(store_err)
            })
            .await?;
        wrapped_row(&row)
    }

    async fn keys_not_wrapped_by(&self, active_master_id: &str, after: &str, limit: u32) -> Result<Vec<WrappedDataKey>, StoreError> {
        sqlx::query("SELECT id, ciphertext FROM data_keys WHERE master_key_id <> $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(active_master_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?
            .iter()
            .map(wrapped_row)
            .collect()
    }

    async fn replace_wrapped_key(&self, old: &WrappedDataKey, new: &WrappedDataKey) -> Result<bool, StoreError> {
        self.write(Commit::Effect, async |tx| {
            let n = sqlx::query("UPDATE data_keys SET master_key_id = $1, ciphertext = $2 WHERE id = $3 AND ciphertext = $4")
                .bind(master_id(new)?)
                .bind(&new.ciphertext)
                .bind(&old.id)
                .bind(&old.ciphertext)
                .execute(&mut *tx)
                .await
                .map_err(store_err)?
                .rows_affected();
            Ok(n == 1)
        })
        .await
    }

    async fn count_keys_by_master(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query("SELECT master_key_id, COUNT(*) AS n FROM data_keys GROUP BY master_key_id ORDER BY master_key_id")
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("n").map_err(store_err)?;
                Ok((r.try_get("master_key_id").map_err(store_err)?, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }
}

fn api_key_row(r: &AnyRow) -> Result<ApiKeyRow, StoreError> {
    let id: String = r.try_get("id").map_err(store_err)?;
    let scopes: String = r.try_get("scopes").map_err(store_err)?;
    let revoked: Option<i64> = r.try_get("revoked_at").map_err(store_err)?;
    Ok(ApiKeyRow {
        id: ApiKeyId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        name: r.try_get("name").map_err(store_err)?,
        secret_hash: r.try_get("secret_hash").map_err(store_err)?,
        scopes: scopes.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        created_at: timestamp(r.try_get("created_at").map_err(store_err)?)?,
        revoked_at: revoked.map(timestamp).transpose()?,
    })
}

#[async_trait]
impl ApiKeyStore for SqlStore {
    async fn insert_api_key(&self, key: &ApiKeyRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.audited(audit, async |tx| {
            sqlx::query("INSERT INTO api_keys (id, name, secret_hash, scopes, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, NULL)")
                .bind(key.id.as_str())
                .bind(&key.name)
                .bind(&key.secret_hash)
                .bind(key.scopes.join(" "))
                .bind(micros(key.created_at))
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
            Ok(())
        })
        .await
    }

    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRow>, StoreError> {
        sqlx::query("SELECT id, name, secret_hash, scopes, created_at, revoked_at FROM api_keys WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(|r| api_key_row(&r))
            .transpose()
    }

    async fn api_key_with_session(
        &self,
        id: &ApiKeyId,
        session_id: &SessionId,
    ) -> Result<(Option<ApiKeyRow>, Option<idlink_core::auth::SessionRow>), StoreError> {
        let session_columns: Vec<String> =
            crate::login::SESSION_COLUMNS.split(',').map(|c| format!("s.{c} AS s_{c}", c = c.trim())).collect();
        let sql = format!(
            "SELECT k.id, k.name, k.secret_hash, k.scopes, k.created_at, k.revoked_at, {}
             FROM api_keys k LEFT JOIN sessions s ON s.id = $2 WHERE k.id = $1",
            session_columns.join(", ")
        );
        let Some(r) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .bind(session_id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
        else {
            return Ok((None, None));
        };
        let found: Option<String> = r.try_get("s_id").map_err(store_err)?;
        let session = found.map(|_| crate::login::session_prefixed(&r, "s_")).transpose()?;
        Ok((Some(api_key_row(&r)?), session))
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError> {
        sqlx::query("SELECT id, name, secret_hash, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at, id")
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?
            .iter()
            .map(api_key_row)
            .collect()
    }

    async fn revoke_api_key(&self, id: &ApiKeyId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        self.audited_if(audit, async |tx| {
            let n = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(micros(at))
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_err)?
                .rows_affected();
            Ok(n > 0)
        })
        .await
    }
}

#[async_trait]
impl HealthStore for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(store_err)?;
        Ok(())
    }
}
