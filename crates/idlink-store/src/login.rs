//! Storage of login state: SMS challenges, devices, sessions, rate limits.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::auth::{AuthStore, ChallengeRow, DeviceRow, LoginWrite, SessionRow, SessionStatus};
use idlink_core::ports::outbox::NewEvent;
use idlink_domain::{ChallengeId, DeviceId, SessionId, UserId};
use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::rows::{AnyQuery, Columns, execute, fetch_all, fetch_one, fetch_optional, micros};
use crate::store::insert_user_in;
use crate::write::{Commit, Tx};

fn challenge(r: &AnyRow) -> Result<ChallengeRow, StoreError> {
    Ok(ChallengeRow {
        id: r.id("id")?,
        purpose: r.col("purpose")?,
        phone_index: r.col("phone_index")?,
        device_hash: r.col("device_hash")?,
        code_hash: r.col("code_hash")?,
        attempts: r.count_u32("attempts")?,
        created_at: r.instant("created_at")?,
        expires_at: r.instant("expires_at")?,
    })
}

fn device(r: &AnyRow) -> Result<DeviceRow, StoreError> {
    Ok(DeviceRow {
        id: r.id("id")?,
        user_id: r.user("user_id")?,
        device_hash: r.col("device_hash")?,
        name: r.col("name")?,
        public_key: r.col("public_key")?,
        primary: r.flag("is_primary")?,
        created_at: r.instant("created_at")?,
        last_seen_at: r.instant("last_seen_at")?,
    })
}

fn session(r: &AnyRow) -> Result<SessionRow, StoreError> {
    session_prefixed(r, "")
}

/// A session from columns named `{prefix}id`, `{prefix}user_id`, … (for joins).
pub(crate) fn session_prefixed(r: &AnyRow, prefix: &str) -> Result<SessionRow, StoreError> {
    let c = |name: &str| format!("{prefix}{name}");
    Ok(SessionRow {
        id: r.id(&c("id"))?,
        user_id: r.user(&c("user_id"))?,
        device_id: r.id(&c("device_id"))?,
        client_ip: r.col(&c("client_ip"))?,
        secret_hash: r.col(&c("secret_hash"))?,
        status: r.parsed(&c("status"), "session status", SessionStatus::parse)?,
        created_at: r.instant(&c("created_at"))?,
        expires_at: r.instant(&c("expires_at"))?,
        revoked_at: r.instant_opt(&c("revoked_at"))?,
    })
}

/// Binds a device row in the order of [`DEVICE_COLUMNS`] (here and in the seeder).
pub(crate) fn bind_device<'q>(q: AnyQuery<'q>, d: &'q DeviceRow) -> AnyQuery<'q> {
    q.bind(d.id.as_str())
        .bind(d.user_id.as_str())
        .bind(&d.device_hash)
        .bind(&d.name)
        .bind(d.public_key.as_deref())
        .bind(i64::from(d.primary))
        .bind(micros(d.created_at))
        .bind(micros(d.last_seen_at))
}

async fn insert_device(tx: &mut Tx, d: &DeviceRow) -> Result<(), StoreError> {
    let sql = format!("INSERT INTO devices ({DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    execute(bind_device(sqlx::query(sqlx::AssertSqlSafe(sql)), d), &mut *tx).await?;
    Ok(())
}

async fn device_known(tx: &mut Tx, d: &DeviceRow) -> Result<bool, StoreError> {
    let q = sqlx::query("SELECT id FROM devices WHERE id = $1 AND user_id = $2").bind(d.id.as_str()).bind(d.user_id.as_str());
    Ok(fetch_optional(q, &mut *tx, |_| Ok(())).await?.is_some())
}

pub(crate) const DEVICE_COLUMNS: &str = "id, user_id, device_hash, name, public_key, is_primary, created_at, last_seen_at";

/// A session by its id ($1).
pub(crate) fn session_sql() -> String {
    format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1")
}

pub(crate) const SESSION_COLUMNS: &str = "id, user_id, device_id, client_ip, secret_hash, status, created_at, expires_at, revoked_at";

#[async_trait]
impl AuthStore for SqlStore {
    async fn hit_rate_limit(&self, bucket: &str, window_start: Timestamp) -> Result<u64, StoreError> {
        let q = sqlx::query(
            "INSERT INTO rate_limits (bucket, window_start, count) VALUES ($1, $2, 1)
             ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_limits.count + 1
             RETURNING count",
        )
        .bind(bucket)
        .bind(micros(window_start));
        self.write(Commit::Bookkeeping, async |tx| fetch_one(q, &mut *tx, |r| r.count_u64("count")).await).await
    }

    async fn insert_challenge(&self, c: &ChallengeRow) -> Result<(), StoreError> {
        let q = sqlx::query(
            "INSERT INTO sms_challenges (id, purpose, phone_index, device_hash, code_hash, attempts, created_at, expires_at, used_at)
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7, NULL)",
        )
        .bind(c.id.as_str())
        .bind(&c.purpose)
        .bind(&c.phone_index)
        .bind(&c.device_hash)
        .bind(&c.code_hash)
        .bind(micros(c.created_at))
        .bind(micros(c.expires_at));
        self.write(Commit::Bookkeeping, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }

    async fn attempt_challenge(&self, id: &ChallengeId, now: Timestamp, max_attempts: u32) -> Result<Option<ChallengeRow>, StoreError> {
        let q = sqlx::query(
            "UPDATE sms_challenges SET attempts = attempts + 1
             WHERE id = $1 AND used_at IS NULL AND expires_at > $2 AND attempts < $3
             RETURNING id, purpose, phone_index, device_hash, code_hash, attempts, created_at, expires_at",
        )
        .bind(id.as_str())
        .bind(micros(now))
        .bind(i64::from(max_attempts));
        self.write(Commit::Bookkeeping, async |tx| fetch_optional(q, &mut *tx, challenge).await).await
    }

    async fn consume_challenge(&self, id: &ChallengeId, now: Timestamp) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE sms_challenges SET used_at = $1 WHERE id = $2 AND used_at IS NULL").bind(micros(now)).bind(id.as_str());
        self.write(Commit::Effect, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn device_by_hash(&self, user: &UserId, device_hash: &str) -> Result<Option<DeviceRow>, StoreError> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND device_hash = $2");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.as_str()).bind(device_hash), &self.reader, device).await
    }

    async fn devices(&self, user: &UserId) -> Result<Vec<DeviceRow>, StoreError> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY created_at, id");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.as_str()), &self.reader, device).await
    }

    async fn write_login(&self, w: &LoginWrite<'_>) -> Result<(), StoreError> {
        let s = w.session;
        let q = sqlx::query(
            "INSERT INTO sessions (id, user_id, device_id, secret_hash, status, created_at, expires_at, revoked_at, client_ip)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
        )
        .bind(s.id.as_str())
        .bind(s.user_id.as_str())
        .bind(s.device_id.as_str())
        .bind(&s.secret_hash)
        .bind(s.status.as_str())
        .bind(micros(s.created_at))
        .bind(micros(s.expires_at))
        .bind(s.client_ip.as_deref());
        self.audited(w.audit, async |tx| {
            if let Some((user, key)) = w.new_user {
                insert_user_in(tx, user, key).await?;
            }
            if let Some(d) = w.new_device {
                insert_device(tx, d).await?;
            }
            execute(q, &mut *tx).await?;
            Ok(())
        })
        .await
    }

    async fn session(&self, id: &SessionId) -> Result<Option<SessionRow>, StoreError> {
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(session_sql())).bind(id.as_str()), &self.reader, session).await
    }

    async fn confirm_device(
        &self,
        session_id: &SessionId,
        expires_at: Timestamp,
        d: &DeviceRow,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE sessions SET status = 'active', expires_at = $2 WHERE id = $1 AND status = 'device_check_required' AND revoked_at IS NULL",
        )
        .bind(session_id.as_str())
        .bind(micros(expires_at));
        self.audited_if(audit, async |tx| {
            if execute(q, &mut *tx).await? != 1 {
                return Ok(false);
            }
            // A known device checked again (an extra check after a revocation) is already registered.
            if !device_known(tx, d).await? {
                insert_device(tx, d).await?;
            }
            let q = sqlx::query("DELETE FROM login_checks WHERE user_id = $1").bind(d.user_id.as_str());
            execute(q, &mut *tx).await?;
            Ok(true)
        })
        .await
    }

    async fn login_check_required(&self, user: &UserId) -> Result<bool, StoreError> {
        let q = sqlx::query("SELECT COUNT(*) FROM login_checks WHERE user_id = $1").bind(user.as_str());
        Ok(fetch_one(q, &self.reader, crate::rows::first::<i64>).await? > 0)
    }

    async fn set_primary_device(&self, user: &UserId, device_id: &DeviceId, audit: &AuditEntry) -> Result<bool, StoreError> {
        self.audited_if(audit, async |tx| {
            let exists = sqlx::query("SELECT id FROM devices WHERE user_id = $1 AND id = $2").bind(user.as_str()).bind(device_id.as_str());
            if fetch_optional(exists, &mut *tx, |_| Ok(())).await?.is_none() {
                return Ok(false);
            }
            let q = sqlx::query("UPDATE devices SET is_primary = CASE WHEN id = $2 THEN 1 ELSE 0 END WHERE user_id = $1")
                .bind(user.as_str())
                .bind(device_id.as_str());
            execute(q, &mut *tx).await?;
            Ok(true)
        })
        .await
    }

    async fn revoke_sessions(&self, user: &UserId, now: Timestamp, event: &NewEvent, audit: &AuditEntry) -> Result<u64, StoreError> {
        let q = sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(micros(now))
            .bind(user.as_str());
        self.audited(audit, async |tx| {
            let n = execute(q, &mut *tx).await?;
            crate::events::lifecycle_in(tx, user, now, crate::events::GrantChange::EndAllSessions, event).await?;
            Ok(n)
        })
        .await
    }

    async fn revoke_session(&self, id: &SessionId, now: Timestamp, event: &NewEvent, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING user_id")
            .bind(micros(now))
            .bind(id.as_str());
        self.audited_if(audit, async |tx| {
            let Some(user) = fetch_optional(q, &mut *tx, |r| r.user("user_id")).await? else { return Ok(false) };
            let sessions = std::slice::from_ref(id);
            crate::events::lifecycle_in(tx, &user, now, crate::events::GrantChange::EndSessions { sessions }, event).await?;
            Ok(true)
        })
        .await
    }
}
