//! Idempotency records (SPEC P4; ADR 0004) and the commit that marks them.
//!
//! Every write transaction of the store ends in [`commit`]: when the task
//! runs a request holding an idempotency claim, the same transaction marks
//! the claim's effect as committed, and fails (rolling the effect back)
//! when the claim is no longer this request's (taken over after it was
//! presumed crashed). A claim with a committed effect is never released nor
//! taken over, so no retry runs the effect twice.

use async_trait::async_trait;
use idlink_core::idempotency::{self, ClaimRef};
use idlink_core::ports::{IdempotencyClaim, IdempotencyStore, NewClaim, StoreError};
use jiff::Timestamp;
use sqlx::{Any, Row, Transaction};

use crate::SqlStore;
use crate::rows::{micros, store_err, timestamp};
use crate::write::Commit;

/// Commits a write that only records (an audit-only record, a rate-limit
/// count, a refused query, an unused challenge): running it again on a
/// retry is harmless, so it does not pin the request's claim, and a request
/// that failed after it may still be retried under the same key.
pub(crate) async fn commit_bookkeeping(tx: Transaction<'static, Any>) -> Result<(), StoreError> {
    tx.commit().await.map_err(store_err)
}

/// Commits a write transaction, marking the running request's claim in it.
pub(crate) async fn commit(mut tx: Transaction<'static, Any>) -> Result<(), StoreError> {
    if let Some(claim) = idempotency::current() {
        mark_effect(&mut tx, &claim).await?;
    }
    tx.commit().await.map_err(store_err)
}

/// Marks `claim`'s effect committed inside `tx`; an error if the claim is gone.
pub(crate) async fn mark_effect(tx: &mut Transaction<'static, Any>, claim: &ClaimRef) -> Result<(), StoreError> {
    let n = sqlx::query(
        "UPDATE idempotency_keys SET effect_at = COALESCE(effect_at, $1) WHERE owner = $2 AND idem_key = $3 AND claim_token = $4",
    )
    .bind(micros(claim.at))
    .bind(&claim.owner)
    .bind(&claim.key)
    .bind(&claim.token)
    .execute(&mut **tx)
    .await
    .map_err(store_err)?
    .rows_affected();
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::Unavailable("this request's idempotency claim was taken over by a retry; its effect was not committed".into()))
    }
}

#[async_trait]
impl IdempotencyStore for SqlStore {
    async fn claim_idempotency_key(&self, new: &NewClaim<'_>) -> Result<IdempotencyClaim, StoreError> {
        let c = new.claim;
        // The claim records are bookkeeping themselves: a plain commit.
        self.write(Commit::Bookkeeping, async |tx| {
            // An expired record is as good as none; an abandoned claim with no effect is taken over.
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE owner = $1 AND idem_key = $2
                 AND (expires_at <= $3 OR (status IS NULL AND effect_at IS NULL AND created_at < $4))",
            )
            .bind(&c.owner)
            .bind(&c.key)
            .bind(micros(c.at))
            .bind(micros(new.stale_before))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (owner, idem_key, request_hash, status, body, created_at, claim_token, effect_at, expires_at)
                 VALUES ($1, $2, $3, NULL, NULL, $4, $5, NULL, $6) ON CONFLICT (owner, idem_key) DO NOTHING",
            )
            .bind(&c.owner)
            .bind(&c.key)
            .bind(new.request_hash)
            .bind(micros(c.at))
            .bind(&c.token)
            .bind(micros(new.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?
            .rows_affected();
            let claim = if inserted == 1 {
                IdempotencyClaim::Claimed
            } else {
                let row = sqlx::query(
                    "SELECT request_hash, status, body, created_at, effect_at FROM idempotency_keys WHERE owner = $1 AND idem_key = $2",
                )
                .bind(&c.owner)
                .bind(&c.key)
                .fetch_one(&mut *tx)
                .await
                .map_err(store_err)?;
                let request_hash: String = row.try_get("request_hash").map_err(store_err)?;
                let status: Option<i64> = row.try_get("status").map_err(store_err)?;
                let created_at = timestamp(row.try_get("created_at").map_err(store_err)?)?;
                let effect_at: Option<i64> = row.try_get("effect_at").map_err(store_err)?;
                match status {
                    Some(status) => IdempotencyClaim::Completed {
                        request_hash,
                        status: u16::try_from(status).map_err(|_| StoreError::Corrupt("idempotency status".into()))?,
                        body: row.try_get::<Option<Vec<u8>>, _>("body").map_err(store_err)?,
                    },
                    None if effect_at.is_some() && created_at < new.stale_before => {
                        IdempotencyClaim::Interrupted { request_hash, received_at: created_at }
                    }
                    None => IdempotencyClaim::InProgress { request_hash },
                }
            };
            Ok(claim)
        })
        .await
    }

    async fn complete_idempotency_key(&self, claim: &ClaimRef, status: u16, body: Option<&[u8]>) -> Result<(), StoreError> {
        self.write(Commit::Bookkeeping, async |tx| {
            sqlx::query(
                "UPDATE idempotency_keys SET status = $1, body = $2
                 WHERE owner = $3 AND idem_key = $4 AND claim_token = $5 AND status IS NULL",
            )
            .bind(i64::from(status))
            .bind(body)
            .bind(&claim.owner)
            .bind(&claim.key)
            .bind(&claim.token)
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            Ok(())
        })
        .await
    }

    async fn release_idempotency_key(&self, claim: &ClaimRef) -> Result<bool, StoreError> {
        self.write(Commit::Bookkeeping, async |tx| {
            let n = sqlx::query(
                "DELETE FROM idempotency_keys
                 WHERE owner = $1 AND idem_key = $2 AND claim_token = $3 AND status IS NULL AND effect_at IS NULL",
            )
            .bind(&claim.owner)
            .bind(&claim.key)
            .bind(&claim.token)
            .execute(&mut *tx)
            .await
            .map_err(store_err)?
            .rows_affected();
            Ok(n == 1)
        })
        .await
    }

    async fn purge_idempotency_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        self.write(Commit::Bookkeeping, async |tx| {
            // In bounded batches so a large backlog never holds the write lock long.
            let n = sqlx::query(
                "DELETE FROM idempotency_keys WHERE (owner, idem_key) IN
                 (SELECT owner, idem_key FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2)",
            )
            .bind(micros(now))
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?
            .rows_affected();
            Ok(n)
        })
        .await
    }
}
