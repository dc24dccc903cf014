//! Storage of the payment password, step-up tokens and biometric challenges.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::payment::{PaymentPasswordRow, PaymentPasswordStore};
use idlink_core::ports::stepup::{Binding, BiometricChallenge, StepUpRow, StepUpStore};
use idlink_domain::{BiometricChallengeId, StepUpId, UserId};
use jiff::Timestamp;

use crate::SqlStore;
use crate::audit::append_in;
use crate::rows::{Columns, count_u32, execute, fetch_optional, first, micros};
use crate::write::Commit;

#[async_trait]
impl PaymentPasswordStore for SqlStore {
    async fn payment_password(&self, user: &UserId) -> Result<Option<PaymentPasswordRow>, StoreError> {
        let q = sqlx::query("SELECT hash, failures, locked_at FROM payment_passwords WHERE user_id = $1").bind(user.as_str());
        fetch_optional(q, &self.reader, |r| {
            Ok(PaymentPasswordRow { hash: r.col("hash")?, failures: r.count_u32("failures")?, locked_at: r.instant_opt("locked_at")? })
        })
        .await
    }

    async fn set_payment_password(
        &self,
        user: &UserId,
        hash: &str,
        now: Timestamp,
        event: &idlink_core::ports::outbox::NewEvent,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let q = sqlx::query(
            "INSERT INTO payment_passwords (user_id, hash, failures, locked_at, updated_at) VALUES ($1, $2, 0, NULL, $3)
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, failures = 0, locked_at = NULL, updated_at = excluded.updated_at",
        )
        .bind(user.as_str())
        .bind(hash)
        .bind(micros(now));
        self.audited(audit, async |tx| {
            execute(q, &mut *tx).await?;
            crate::events::lifecycle_in(tx, user, now, crate::events::GrantChange::None, event).await
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
        let q = sqlx::query(
            "UPDATE payment_passwords SET failures = failures + 1,
                 locked_at = CASE WHEN failures + 1 = $2 THEN $3 ELSE locked_at END
             WHERE user_id = $1 RETURNING failures",
        )
        .bind(user.as_str())
        .bind(i64::from(max))
        .bind(micros(now));
        // The lock's record only when this failure locks: the body appends the records itself.
        let n = self
            .write_if(Commit::Effect, async |tx| {
                let Some(n) = fetch_optional(q, &mut *tx, first::<i64>).await? else {
                    return Ok(None);
                };
                append_in(tx, failed).await?;
                if n == i64::from(max) {
                    append_in(tx, locked).await?;
                }
                Ok(Some(n))
            })
            .await?;
        n.map_or(Ok(0), |n| count_u32("failures", n))
    }

    async fn clear_payment_password_failures(&self, user: &UserId, max: u32, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE payment_passwords SET failures = 0 WHERE user_id = $1 AND failures < $2")
            .bind(user.as_str())
            .bind(i64::from(max));
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? > 0)).await
    }
}

#[async_trait]
impl StepUpStore for SqlStore {
    async fn insert_step_up(&self, r: &StepUpRow, audit: &AuditEntry) -> Result<(), StoreError> {
        let q = sqlx::query(
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
        .bind(micros(r.expires_at));
        self.audited(audit, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }

    async fn insert_biometric_challenge(&self, c: &BiometricChallenge) -> Result<(), StoreError> {
        let q = sqlx::query(
            "INSERT INTO biometric_challenges (id, user_id, device_id, nonce, operation, resource, expires_at, used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
        )
        .bind(c.id.as_str())
        .bind(c.user_id.as_str())
        .bind(c.device_id.as_str())
        .bind(&c.nonce)
        .bind(&c.operation)
        .bind(&c.resource)
        .bind(micros(c.expires_at));
        self.write(Commit::Bookkeeping, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }

    async fn take_biometric_challenge(
        &self,
        id: &BiometricChallengeId,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Option<BiometricChallenge>, StoreError> {
        let q = sqlx::query(
            "UPDATE biometric_challenges SET used_at = $1
             WHERE id = $2 AND user_id = $3 AND used_at IS NULL AND expires_at > $1
             RETURNING id, device_id, nonce, operation, resource, expires_at",
        )
        .bind(micros(now))
        .bind(id.as_str())
        .bind(user.as_str());
        let challenge = |r: &sqlx::any::AnyRow| -> Result<BiometricChallenge, StoreError> {
            Ok(BiometricChallenge {
                id: r.id("id")?,
                user_id: user.clone(),
                device_id: r.id("device_id")?,
                nonce: r.col("nonce")?,
                operation: r.col("operation")?,
                resource: r.col("resource")?,
                expires_at: r.instant("expires_at")?,
            })
        };
        self.write(Commit::Effect, async |tx| fetch_optional(q, &mut *tx, challenge).await).await
    }

    async fn step_up_token(
        &self,
        id: &StepUpId,
        secret_hash: &str,
        user: &UserId,
    ) -> Result<Option<(StepUpRow, Option<Timestamp>)>, StoreError> {
        let q = sqlx::query(
            "SELECT id, secret_hash, user_id, operation, resource, method, created_at, expires_at, used_at
             FROM step_up_tokens WHERE id = $1 AND secret_hash = $2 AND user_id = $3",
        )
        .bind(id.as_str())
        .bind(secret_hash)
        .bind(user.as_str());
        fetch_optional(q, &self.reader, |r| {
            let token = StepUpRow {
                id: r.id("id")?,
                secret_hash: r.col("secret_hash")?,
                user_id: user.clone(),
                operation: r.col("operation")?,
                resource: r.col("resource")?,
                method: r.col("method")?,
                created_at: r.instant("created_at")?,
                expires_at: r.instant("expires_at")?,
            };
            Ok((token, r.instant_opt("used_at")?))
        })
        .await
    }

    async fn spend_step_up(&self, id: &StepUpId, secret_hash: &str, b: &Binding<'_>, now: Timestamp) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE step_up_tokens SET used_at = $1
             WHERE id = $2 AND secret_hash = $3 AND user_id = $4 AND operation = $5 AND resource = $6
               AND used_at IS NULL AND expires_at > $1",
        )
        .bind(micros(now))
        .bind(id.as_str())
        .bind(secret_hash)
        .bind(b.user.as_str())
        .bind(b.operation)
        .bind(b.resource);
        self.write(Commit::Effect, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }
}
