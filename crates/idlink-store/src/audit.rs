//! The audit chain writer and reader.
//!
//! [`chain`] is the one place records are chained: given the head (seq,
//! hash) it gives each entry its seq, the previous hash and its own hash.
//! [`append_all_in`] (and [`append_in`] for one record) runs it inside the
//! caller's transaction: it bumps the single `audit_head` row (a row lock on
//! PostgreSQL, the write lock on SQLite), which orders concurrent appends
//! into one linear chain, inserts the records and stores the new head hash.
//! The records commit or roll back with the change. Store writes reach it
//! through the helpers in `write.rs`; the balance group commit's SQLite
//! path calls [`append_all_in`], and its PostgreSQL path inserts
//! [`chain`]'s records and moves the head in one statement of its own
//! ([`insert_sql`], [`bind_links`]; ADR 0006).

use async_trait::async_trait;
use idlink_core::audit::{AuditEntry, AuditRecord, Checkpoint, record_hash};
use idlink_core::ports::{AuditStore, StoreError};
use idlink_domain::UserId;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::rows::{AnyQuery, micros, store_err, timestamp, values};
use crate::write::{Commit, Tx};

/// One record of the chain as [`chain`] computes it, before it is inserted.
pub(crate) struct Link<'e> {
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
    pub entry: &'e AuditEntry,
}

/// Chains `entries` after the head (`head_seq`, `head_hash`): each record
/// takes the next seq and the hash of the record before it. The one place
/// records are chained; [`append_all_in`] and the balance group commit
/// insert what it computes.
pub(crate) fn chain<'e>(head_seq: i64, head_hash: &str, entries: impl IntoIterator<Item = &'e AuditEntry>) -> Vec<Link<'e>> {
    let mut prev = head_hash.to_owned();
    entries
        .into_iter()
        .zip(head_seq + 1..)
        .map(|(entry, seq)| {
            let hash = record_hash(seq, &prev, entry);
            let prev_hash = std::mem::replace(&mut prev, hash.clone());
            Link { seq, prev_hash, hash, entry }
        })
        .collect()
}

/// Columns of one record in [`insert_sql`].
pub(crate) const INSERT_COLS: usize = 10;

/// `INSERT INTO audit_log` of `rows` records, their placeholders numbered from `$first`.
pub(crate) fn insert_sql(rows: usize, first: usize) -> String {
    format!(
        "INSERT INTO audit_log (seq, at, actor, subject, action, purpose, outcome, request_id, prev_hash, hash) VALUES {}",
        values(rows, INSERT_COLS, first)
    )
}

/// Binds `links` in the order of [`insert_sql`]'s columns.
pub(crate) fn bind_links<'q>(mut q: AnyQuery<'q>, links: &'q [Link<'_>]) -> AnyQuery<'q> {
    for l in links {
        let e = l.entry;
        q = q
            .bind(l.seq)
            .bind(micros(e.at))
            .bind(e.actor.as_str())
            .bind(e.subject.as_deref())
            .bind(e.action.as_str())
            .bind(e.purpose.as_str())
            .bind(e.outcome.as_str())
            .bind(e.request_id.as_deref())
            .bind(l.prev_hash.as_str())
            .bind(l.hash.as_str());
    }
    q
}

/// Appends `entries`, in order, inside the caller's transaction: one head
/// update, one insert, one hash update, however many records.
pub(crate) async fn append_all_in<'e, I>(tx: &mut Tx, entries: I) -> Result<Vec<Link<'e>>, StoreError>
where
    I: IntoIterator<Item = &'e AuditEntry>,
    I::IntoIter: ExactSizeIterator,
{
    let entries = entries.into_iter();
    if entries.len() == 0 {
        return Ok(Vec::new());
    }
    let n = i64::try_from(entries.len()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let head = sqlx::query("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
        .bind(n)
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
    let head_seq = head.try_get::<i64, _>("seq").map_err(store_err)? - n;
    let head_hash: String = head.try_get("hash").map_err(store_err)?;
    let links = chain(head_seq, &head_hash, entries);
    bind_links(sqlx::query(sqlx::AssertSqlSafe(insert_sql(links.len(), 1))), &links).execute(&mut *tx).await.map_err(store_err)?;
    let last = links.last().map_or(head_hash.as_str(), |l| l.hash.as_str());
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(last).execute(&mut *tx).await.map_err(store_err)?;
    Ok(links)
}

/// Appends one record inside the caller's transaction.
pub(crate) async fn append_in(tx: &mut Tx, e: &AuditEntry) -> Result<AuditRecord, StoreError> {
    let link = append_all_in(tx, [e]).await?.pop().ok_or_else(|| StoreError::Corrupt("no audit record was appended".into()))?;
    Ok(AuditRecord { seq: link.seq, entry: e.clone(), prev_hash: link.prev_hash, hash: link.hash })
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
        self.write(Commit::Bookkeeping, async |tx| append_in(tx, entry).await).await
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
        self.write(Commit::Effect, async |tx| {
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
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> AuditEntry {
        AuditEntry::new("user:usr_1", action, "test", jiff::Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn chain_links_each_record_to_the_one_before_it() {
        let (a, b) = (entry("a"), entry("b"));
        let links = chain(41, "head", [&a, &b]);
        assert_eq!(links.iter().map(|l| (l.seq, l.prev_hash.as_str())).collect::<Vec<_>>(), [(42, "head"), (43, links[0].hash.as_str())]);
        assert_eq!(links[0].hash, record_hash(42, "head", &a));
        assert_eq!(links[1].hash, record_hash(43, &links[0].hash, &b));
        assert!(chain(41, "head", []).is_empty());
    }
}
