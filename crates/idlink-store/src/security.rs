//! Storage of the payment password, step-up tokens and biometric challenges.

use async_trait::async_trait;
use idlink_core::audit::AuditEntry;
use idlink_core::payment::{PaymentPasswordRow, PaymentPasswordStore};
use idlink_core::ports::StoreError;
use idlink_core::stepup::{Binding, BiometricChallenge, StepUpRow, StepUpStore};
use idlink_domain::{BiometricChallengeId, StepUpId, UserId};
use jiff::Timestamp;
use sqlx::Row;

use crate::SqlStore;
use crate::audit::append_in;
use crate::rows::{column_id, micros, store_err, timestamp};
use crate::write::Commit;

#[async_trait]
impl PaymentPasswordStore for SqlStore {
    async fn payment_password(&self, user: &UserId) -> Result<Option<PaymentPasswordRow>, StoreError> {
        let row = sqlx::query("SELECT hash, failures, locked_at FROM payment_passwords WHERE user_id = $1")
            .bind(user.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?;
        row.map(|r| {
            let failures: i64 = r.try_get("failures").map_err(store_err)?;
            let locked: Option<i64> = r.try_get("locked_at").map_err(store_err)?;
            Ok(PaymentPasswordRow {
                hash: r.try_get("hash").map_err(store_err)?,
                failures: u32::try_from(failures).unwrap_or(u32::MAX),
                locked_at: locked.map(timestamp).transpose()?,
            })
        })
        .transpose()
    }

    async fn set_payment_password(&self, user: &UserId, hash: &str, now: Timestamp, audit: &AuditEntry) -> Result<(), StoreError> {
        self.audited(audit, async |tx| {
            sqlx::query(
                "INSERT INTO payment_passwords (user_id, hash, failures, locked_at, updated_at) VALUES ($1, $2, 0, NULL, $3)
                 ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, failures = 0, locked_at = NULL, updated_at = excluded.updated_at",
            )
            .bind(user.as_str())
            .bind(hash)
            .bind(micros(now))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            Ok(())
        })
        .await
    }

    async fn count_payment_password_failure(
        &self,
        user: &UserId,
        max: u32,
        now: Timestamp,
        failed: &AuditEntry,
        locked: &AuditEntry,
    ) -> Result<u32, StoreError> {
        // The lock's record only when this failure locks: the body appends the records itself.
        let n = self
            .write_if(Commit::Effect, async |tx| {
                let n: Option<i64> = sqlx::query_scalar(
                    "UPDATE payment_passwords SET failures = failures + 1,
                         locked_at = CASE WHEN failures + 1 = $2 THEN $3 ELSE locked_at END
                     WHERE user_id = $1 RETURNING failures",
                )
                .bind(user.as_str())
                .bind(i64::from(max))
                .bind(micros(now))
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_err)?;
                let Some(n) = n else {
                    return Ok(None);
                };
                append_in(tx, failed).await?;
                if n == i64::from(max) {
                    append_in(tx, locked).await?;
                }
                Ok(Some(n))
            })
            .await?;
        Ok(n.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    async fn clear_payment_password_failures(&self, user: &UserId, max: u32, audit: &AuditEntry) -> Result<bool, StoreError> {
        self.audited_if(audit, async |tx| {
            let n = sqlx::query("UPDATE payment_passwords SET failures = 0 WHERE user_id = $1 AND failures < $2")
                .bind(user.as_str())
                .bind(i64::from(max))
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
impl StepUpStore for SqlStore {
    async fn insert_step_up(&self, r: &StepUpRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.audited(audit, async |tx| {
            sqlx::query(
                "INSERT INTO step_up_tokens (id, secret_hash, user_id, operation, resource, method, created_at, expires_at, used_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
            )
            .bind(r.id.as_str())
            .bind(&r.secret_hash)
            .bind(r.user_id.as_str())
            .bind(&r.operation)
            .bind(&r.resource)
            .bind(&r.method)
            .bind(micros(r.created_at))
            .bind(micros(r.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            Ok(())
        })
        .await
    }

    async fn insert_biometric_challenge(&self, c: &BiometricChallenge) -> Result<(), StoreError> {
        self.write(Commit::Bookkeeping, async |tx| {
            sqlx::query(
                "INSERT INTO biometric_challenges (id, user_id, device_id, nonce, operation, resource, expires_at, used_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
            )
            .bind(c.id.as_str())
            .bind(c.user_id.as_str())
            .bind(c.device_id.as_str())
            .bind(&c.nonce)
            .bind(&c.operation)
            .bind(&c.resource)
            .bind(micros(c.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            Ok(())
        })
        .await
    }

    async fn take_biometric_challenge(
        &self,
        id: &BiometricChallengeId,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Option<BiometricChallenge>, StoreError> {
        let row = self
            .write(Commit::Effect, async |tx| {
                sqlx::query(
                    "UPDATE biometric_challenges SET used_at = $1
                     WHERE id = $2 AND user_id = $3 AND used_at IS NULL AND expires_at > $1
                     RETURNING id, device_id, nonce, operation, resource, expires_at",
                )
                .bind(micros(now))
                .bind(id.as_str())
                .bind(user.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_err)
            })
            .await?;
        row.map(|r| {
            Ok(BiometricChallenge {
                id: column_id(&r, "id")?,
                user_id: user.clone(),
                device_id: column_id(&r, "device_id")?,
                nonce: r.try_get("nonce").map_err(store_err)?,
                operation: r.try_get("operation").map_err(store_err)?,
                resource: r.try_get("resource").map_err(store_err)?,
                expires_at: timestamp(r.try_get("expires_at").map_err(store_err)?)?,
            })
        })
        .transpose()
    }

    async fn step_up_token(
        &self,
        id: &StepUpId,
        secret_hash: &str,
        user: &UserId,
    ) -> Result<Option<(StepUpRow, Option<Timestamp>)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, secret_hash, user_id, operation, resource, method, created_at, expires_at, used_at
             FROM step_up_tokens WHERE id = $1 AND secret_hash = $2 AND user_id = $3",
        )
        .bind(id.as_str())
        .bind(secret_hash)
        .bind(user.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(store_err)?;
        let Some(r) = row else { return Ok(None) };
        let used_at: Option<i64> = r.try_get("used_at").map_err(store_err)?;
        let token = StepUpRow {
            id: column_id(&r, "id")?,
            secret_hash: r.try_get("secret_hash").map_err(store_err)?,
            user_id: user.clone(),
            operation: r.try_get("operation").map_err(store_err)?,
            resource: r.try_get("resource").map_err(store_err)?,
            method: r.try_get("method").map_err(store_err)?,
            created_at: timestamp(r.try_get("created_at").map_err(store_err)?)?,
            expires_at: timestamp(r.try_get("expires_at").map_err(store_err)?)?,
        };
        Ok(Some((token, used_at.map(timestamp).transpose()?)))
    }

    async fn spend_step_up(&self, id: &StepUpId, secret_hash: &str, b: &Binding<'_>, now: Timestamp) -> Result<bool, StoreError> {
        self.write(Commit::Effect, async |tx| {
            let n = sqlx::query(
                "UPDATE step_up_tokens SET used_at = $1
                 WHERE id = $2 AND secret_hash = $3 AND user_id = $4 AND operation = $5 AND resource = $6
                   AND used_at IS NULL AND expires_at > $1",
            )
            .bind(micros(now))
            .bind(id.as_str())
            .bind(secret_hash)
            .bind(b.user.as_str())
            .bind(b.operation)
            .bind(b.resource)
            .execute(&mut *tx)
            .await
            .map_err(store_err)?
            .rows_affected();
            Ok(n == 1)
        })
        .await
    }
}
