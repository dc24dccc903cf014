//! Idempotency records (SPEC P4; ADR 0004) and the commit that marks them.
//!
//! Every write transaction of the store ends in [`commit`]: when the task
//! runs a request holding an idempotency claim, the same transaction marks
//! the claim's effect as committed, and fails (rolling the effect back)
//! when the claim is no longer this request's (taken over after it was
//! presumed crashed). A claim with a committed effect is never released nor
//! taken over, so no retry runs the effect twice.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::idempotency::{self, ClaimRef, IdempotencyClaim, IdempotencyStore, NewClaim};
use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use crate::SqlStore;
use crate::rows::{AnyQuery, Columns, execute, fetch_one, micros, store_err};
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

/// Binds the claim's `owner`, `idem_key` and `claim_token`, in that order (here and in the balance group commit).
pub(crate) fn bind_claim<'q>(q: AnyQuery<'q>, claim: &'q ClaimRef) -> AnyQuery<'q> {
    q.bind(&claim.owner).bind(&claim.key).bind(&claim.token)
}

/// Marks `claim`'s effect committed inside `tx`; an error if the claim is gone.
pub(crate) async fn mark_effect(tx: &mut Transaction<'static, Any>, claim: &ClaimRef) -> Result<(), StoreError> {
    let q = sqlx::query(
        "UPDATE idempotency_keys SET effect_at = COALESCE(effect_at, $1) WHERE owner = $2 AND idem_key = $3 AND claim_token = $4",
    );
    if execute(bind_claim(q.bind(micros(claim.at)), claim), &mut **tx).await? == 1 {
        Ok(())
    } else {
        Err(StoreError::Unavailable("this request's idempotency claim was taken over by a retry; its effect was not committed".into()))
    }
}

/// What a request finds under its key when another request holds or completed it.
fn existing(row: &AnyRow, stale_before: Timestamp) -> Result<IdempotencyClaim, StoreError> {
    let request_hash: String = row.col("request_hash")?;
    let created_at = row.instant("created_at")?;
    Ok(match row.col::<Option<i64>>("status")? {
        Some(status) => IdempotencyClaim::Completed {
            request_hash,
            status: u16::try_from(status).map_err(|_| StoreError::Corrupt("idempotency status".into()))?,
            body: row.col("body")?,
        },
        None if row.col::<Option<i64>>("effect_at")?.is_some() && created_at < stale_before => {
            IdempotencyClaim::Interrupted { request_hash, received_at: created_at }
        }
        None => IdempotencyClaim::InProgress { request_hash },
    })
}

#[async_trait]
impl IdempotencyStore for SqlStore {
    async fn claim_idempotency_key(&self, new: &NewClaim<'_>) -> Result<IdempotencyClaim, StoreError> {
        let c = new.claim;
        // An expired record is as good as none; an abandoned claim with no effect is taken over.
        let forget = sqlx::query(
            "DELETE FROM idempotency_keys WHERE owner = $1 AND idem_key = $2
             AND (expires_at <= $3 OR (status IS NULL AND effect_at IS NULL AND created_at < $4))",
        )
        .bind(&c.owner)
        .bind(&c.key)
        .bind(micros(c.at))
        .bind(micros(new.stale_before));
        let insert = sqlx::query(
            "INSERT INTO idempotency_keys (owner, idem_key, request_hash, status, body, created_at, claim_token, effect_at, expires_at)
             VALUES ($1, $2, $3, NULL, NULL, $4, $5, NULL, $6) ON CONFLICT (owner, idem_key) DO NOTHING",
        )
        .bind(&c.owner)
        .bind(&c.key)
        .bind(new.request_hash)
        .bind(micros(c.at))
        .bind(&c.token)
        .bind(micros(new.expires_at));
        let read = sqlx::query(
            "SELECT request_hash, status, body, created_at, effect_at FROM idempotency_keys WHERE owner = $1 AND idem_key = $2",
        )
        .bind(&c.owner)
        .bind(&c.key);
        // The claim records are bookkeeping themselves: a plain commit.
        self.write(Commit::Bookkeeping, async |tx| {
            execute(forget, &mut *tx).await?;
            if execute(insert, &mut *tx).await? == 1 {
                return Ok(IdempotencyClaim::Claimed);
            }
            fetch_one(read, &mut *tx, |r| existing(r, new.stale_before)).await
        })
        .await
    }

    async fn complete_idempotency_key(&self, claim: &ClaimRef, status: u16, body: Option<&[u8]>) -> Result<(), StoreError> {
        let q = sqlx::query(
            "UPDATE idempotency_keys SET status = $1, body = $2
             WHERE owner = $3 AND idem_key = $4 AND claim_token = $5 AND status IS NULL",
        );
        let q = bind_claim(q.bind(i64::from(status)).bind(body), claim);
        self.write(Commit::Bookkeeping, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }

    async fn release_idempotency_key(&self, claim: &ClaimRef) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "DELETE FROM idempotency_keys
             WHERE owner = $1 AND idem_key = $2 AND claim_token = $3 AND status IS NULL AND effect_at IS NULL",
        );
        let q = bind_claim(q, claim);
        self.write(Commit::Bookkeeping, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn purge_idempotency_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        // In bounded batches so a large backlog never holds the write lock long.
        let q = sqlx::query(
            "DELETE FROM idempotency_keys WHERE (owner, idem_key) IN
             (SELECT owner, idem_key FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2)",
        )
        .bind(micros(now))
        .bind(i64::from(limit));
        self.write(Commit::Bookkeeping, async |tx| execute(q, &mut *tx).await).await
    }
}
