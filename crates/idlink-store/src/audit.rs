//! The audit chain writer and reader.
//!
//! [`append_in`] runs inside the caller's transaction: it bumps the single
//! `audit_head` row (a row lock on PostgreSQL, the write lock on SQLite),
//! which orders concurrent appends into one linear chain, then inserts the
//! record with its hash. The record commits or rolls back with the change.

use async_trait::async_trait;
use idlink_core::audit::{AuditEntry, AuditRecord, Checkpoint, record_hash};
use idlink_core::ports::{AuditStore, StoreError};
use idlink_domain::UserId;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::SqlStore;
use crate::rows::{micros, store_err, timestamp};

pub(crate) async fn append_in(tx: &mut Transaction<'static, Any>, e: &AuditEntry) -> Result<AuditRecord, StoreError> {
    let head = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut **tx)
        .await
        .map_err(store_err)?;
    let seq: i64 = head.try_get("seq").map_err(store_err)?;
    let prev_hash: String = head.try_get("hash").map_err(store_err)?;
    let hash = record_hash(seq, &prev_hash, e);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, subject, action, purpose, outcome, request_id, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(seq)
    .bind(micros(e.at))
    .bind(&e.actor)
    .bind(e.subject.as_deref())
    .bind(&e.action)
    .bind(&e.purpose)
    .bind(&e.outcome)
    .bind(e.request_id.as_deref())
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut **tx)
    .await
    .map_err(store_err)?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(&hash).execute(&mut **tx).await.map_err(store_err)?;
    Ok(AuditRecord { seq, entry: e.clone(), prev_hash, hash })
}

fn record(r: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: r.try_get("seq").map_err(store_err)?,
        entry: AuditEntry {
            actor: r.try_get("actor").map_err(store_err)?,
            subject: r.try_get("subject").map_err(store_err)?,
            action: r.try_get("action").map_err(store_err)?,
            purpose: r.try_get("purpose").map_err(store_err)?,
            outcome: r.try_get("outcome").map_err(store_err)?,
            request_id: r.try_get("request_id").map_err(store_err)?,
            at: timestamp(r.try_get("at").map_err(store_err)?)?,
        },
        prev_hash: r.try_get("prev_hash").map_err(store_err)?,
        hash: r.try_get("hash").map_err(store_err)?,
    })
}

fn checkpoint(r: &AnyRow) -> Result<Checkpoint, StoreError> {
    Ok(Checkpoint {
        seq: r.try_get("seq").map_err(store_err)?,
        hash: r.try_get("hash").map_err(store_err)?,
        at: timestamp(r.try_get("at").map_err(store_err)?)?,
        public_key: r.try_get("public_key").map_err(store_err)?,
        signature: r.try_get("signature").map_err(store_err)?,
    })
}

const RECORD_COLUMNS: &str = "seq, at, actor, subject, action, purpose, outcome, request_id, prev_hash, hash";

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<AuditRecord, StoreError> {
        let mut tx = self.begin().await?;
        let r = append_in(&mut tx, entry).await?;
        crate::idempotency::commit_bookkeeping(tx).await?;
        Ok(r)
    }

    async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?
            .iter()
            .map(record)
            .collect()
    }

    async fn audit_records_of_user(&self, user: &UserId, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM audit_log WHERE subject = $1 ORDER BY seq DESC LIMIT $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?
            .iter()
            .map(record)
            .collect()
    }

    async fn last_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        sqlx::query("SELECT seq, hash, at, public_key, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(|r| checkpoint(&r))
            .transpose()
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        sqlx::query("SELECT seq, hash, at, public_key, signature FROM audit_checkpoints ORDER BY seq")
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?
            .iter()
            .map(checkpoint)
            .collect()
    }

    async fn audit_head(&self) -> Result<(i64, String), StoreError> {
        let r = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&self.reader).await.map_err(store_err)?;
        Ok((r.try_get("seq").map_err(store_err)?, r.try_get("hash").map_err(store_err)?))
    }

    async fn insert_checkpoint(&self, c: &Checkpoint) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, at, public_key, signature) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (seq) DO NOTHING",
        )
        .bind(c.seq)
        .bind(&c.hash)
        .bind(micros(c.at))
        .bind(&c.public_key)
        .bind(&c.signature)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        crate::idempotency::commit(tx).await
    }
}
