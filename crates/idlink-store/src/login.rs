//! Storage of login state: SMS challenges, devices, sessions, rate limits.

use async_trait::async_trait;
use idlink_core::audit::AuditEntry;
use idlink_core::auth::{AuthStore, ChallengeRow, DeviceRow, LoginWrite, SessionRow, SessionStatus};
use idlink_core::ports::StoreError;
use idlink_domain::{ChallengeId, DeviceId, SessionId, UserId};
use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::rows::{column_id, micros, store_err, timestamp};
use crate::store::insert_user_in;
use crate::write::{Commit, Tx};

fn challenge(r: &AnyRow) -> Result<ChallengeRow, StoreError> {
    let attempts: i64 = r.try_get("attempts").map_err(store_err)?;
    Ok(ChallengeRow {
        id: column_id(r, "id")?,
        purpose: r.try_get("purpose").map_err(store_err)?,
        phone_index: r.try_get("phone_index").map_err(store_err)?,
        device_hash: r.try_get("device_hash").map_err(store_err)?,
        code_hash: r.try_get("code_hash").map_err(store_err)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        created_at: timestamp(r.try_get("created_at").map_err(store_err)?)?,
        expires_at: timestamp(r.try_get("expires_at").map_err(store_err)?)?,
    })
}

fn user_id(s: String) -> Result<UserId, StoreError> {
    UserId::parse(&s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn device(r: &AnyRow) -> Result<DeviceRow, StoreError> {
    let primary: i64 = r.try_get("is_primary").map_err(store_err)?;
    Ok(DeviceRow {
        id: column_id(r, "id")?,
        user_id: user_id(r.try_get("user_id").map_err(store_err)?)?,
        device_hash: r.try_get("device_hash").map_err(store_err)?,
        name: r.try_get("name").map_err(store_err)?,
        public_key: r.try_get("public_key").map_err(store_err)?,
        primary: primary != 0,
        created_at: timestamp(r.try_get("created_at").map_err(store_err)?)?,
        last_seen_at: timestamp(r.try_get("last_seen_at").map_err(store_err)?)?,
    })
}

fn session(r: &AnyRow) -> Result<SessionRow, StoreError> {
    session_prefixed(r, "")
}

/// A session from columns named `{prefix}id`, `{prefix}user_id`, … (for joins).
pub(crate) fn session_prefixed(r: &AnyRow, prefix: &str) -> Result<SessionRow, StoreError> {
    let col = |c: &str| format!("{prefix}{c}");
    let status: String = r.try_get(col("status").as_str()).map_err(store_err)?;
    let revoked: Option<i64> = r.try_get(col("revoked_at").as_str()).map_err(store_err)?;
    Ok(SessionRow {
        id: column_id(r, &col("id"))?,
        user_id: user_id(r.try_get(col("user_id").as_str()).map_err(store_err)?)?,
        device_id: column_id(r, &col("device_id"))?,
        client_ip: r.try_get(col("client_ip").as_str()).map_err(store_err)?,
        secret_hash: r.try_get(col("secret_hash").as_str()).map_err(store_err)?,
        status: SessionStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("session status {status}")))?,
        created_at: timestamp(r.try_get(col("created_at").as_str()).map_err(store_err)?)?,
        expires_at: timestamp(r.try_get(col("expires_at").as_str()).map_err(store_err)?)?,
        revoked_at: revoked.map(timestamp).transpose()?,
    })
}

async fn insert_device(tx: &mut Tx, d: &DeviceRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO devices (id, user_id, device_hash, name, public_key, is_primary, created_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(d.id.as_str())
    .bind(d.user_id.as_str())
    .bind(&d.device_hash)
    .bind(&d.name)
    .bind(d.public_key.as_deref())
    .bind(i64::from(d.primary))
    .bind(micros(d.created_at))
    .bind(micros(d.last_seen_at))
    .execute(&mut *tx)
    .await
    .map_err(store_err)?;
    Ok(())
}

const DEVICE_COLUMNS: &str = "id, user_id, device_hash, name, public_key, is_primary, created_at, last_seen_at";
pub(crate) const SESSION_COLUMNS: &str = "id, user_id, device_id, client_ip, secret_hash, status, created_at, expires_at, revoked_at";

#[async_trait]
impl AuthStore for SqlStore {
    async fn hit_rate_limit(&self, bucket: &str, window_start: Timestamp) -> Result<u64, StoreError> {
        let n: i64 = self
            .write(Commit::Bookkeeping, async |tx| {
                sqlx::query_scalar(
                    "INSERT INTO rate_limits (bucket, window_start, count) VALUES ($1, $2, 1)
                     ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_limits.count + 1
                     RETURNING count",
                )
                .bind(bucket)
                .bind(micros(window_start))
                .fetch_one(&mut *tx)
                .await
                .map_err(store_err)
            })
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn insert_challenge(&self, c: &ChallengeRow) -> Result<(), StoreError> {
        self.write(Commit::Bookkeeping, async |tx| {
            sqlx::query(
                "INSERT INTO sms_challenges (id, purpose, phone_index, device_hash, code_hash, attempts, created_at, expires_at, used_at)
                 VALUES ($1, $2, $3, $4, $5, 0, $6, $7, NULL)",
            )
            .bind(c.id.as_str())
            .bind(&c.purpose)
            .bind(&c.phone_index)
            .bind(&c.device_hash)
            .bind(&c.code_hash)
            .bind(micros(c.created_at))
            .bind(micros(c.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            Ok(())
        })
        .await
    }

    async fn attempt_challenge(&self, id: &ChallengeId, now: Timestamp, max_attempts: u32) -> Result<Option<ChallengeRow>, StoreError> {
        let row = self
            .write(Commit::Bookkeeping, async |tx| {
                sqlx::query(
                    "UPDATE sms_challenges SET attempts = attempts + 1
                     WHERE id = $1 AND used_at IS NULL AND expires_at > $2 AND attempts < $3
                     RETURNING id, purpose, phone_index, device_hash, code_hash, attempts, created_at, expires_at",
                )
                .bind(id.as_str())
                .bind(micros(now))
                .bind(i64::from(max_attempts))
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_err)
            })
            .await?;
        row.map(|r| challenge(&r)).transpose()
    }

    async fn consume_challenge(&self, id: &ChallengeId, now: Timestamp) -> Result<bool, StoreError> {
        self.write(Commit::Effect, async |tx| {
            let n = sqlx::query("UPDATE sms_challenges SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(micros(now))
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_err)?
                .rows_affected();
            Ok(n == 1)
        })
        .await
    }

    async fn device_by_hash(&self, user: &UserId, device_hash: &str) -> Result<Option<DeviceRow>, StoreError> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND device_hash = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.as_str())
            .bind(device_hash)
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(|r| device(&r))
            .transpose()
    }

    async fn devices(&self, user: &UserId) -> Result<Vec<DeviceRow>, StoreError> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY created_at, id");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.as_str())
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?
            .iter()
            .map(device)
            .collect()
    }

    async fn write_login(&self, w: &LoginWrite<'_>) -> Result<(), StoreError> {
        self.audited(w.audit, async |tx| {
            if let Some((user, key)) = w.new_user {
                insert_user_in(tx, user, key).await?;
            }
            if let Some(d) = w.new_device {
                insert_device(tx, d).await?;
            }
            let s = w.session;
            sqlx::query(
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
            .bind(s.client_ip.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            Ok(())
        })
        .await
    }

    async fn session(&self, id: &SessionId) -> Result<Option<SessionRow>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(|r| session(&r))
            .transpose()
    }

    async fn confirm_device(&self, session_id: &SessionId, d: &DeviceRow, audit: &AuditEntry) -> Result<bool, StoreError> {
        self.audited_if(audit, async |tx| {
            let n = sqlx::query(
                "UPDATE sessions SET status = 'active' WHERE id = $1 AND status = 'device_check_required' AND revoked_at IS NULL",
            )
            .bind(session_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(store_err)?
            .rows_affected();
            if n != 1 {
                return Ok(false);
            }
            insert_device(tx, d).await?;
            Ok(true)
        })
        .await
    }

    async fn set_primary_device(&self, user: &UserId, device_id: &DeviceId, audit: &AuditEntry) -> Result<bool, StoreError> {
        self.audited_if(audit, async |tx| {
            let exists: Option<String> = sqlx::query_scalar("SELECT id FROM devices WHERE user_id = $1 AND id = $2")
                .bind(user.as_str())
                .bind(device_id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_err)?;
            if exists.is_none() {
                return Ok(false);
            }
            sqlx::query("UPDATE devices SET is_primary = CASE WHEN id = $2 THEN 1 ELSE 0 END WHERE user_id = $1")
                .bind(user.as_str())
                .bind(device_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
            Ok(true)
        })
        .await
    }

    async fn revoke_sessions(&self, user: &UserId, now: Timestamp, audit: &AuditEntry) -> Result<u64, StoreError> {
        self.audited(audit, async |tx| {
            let n = sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                .bind(micros(now))
                .bind(user.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_err)?
                .rows_affected();
            Ok(n)
        })
        .await
    }
}
