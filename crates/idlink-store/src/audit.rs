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
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditStore;
use idlink_core::ports::audit::{AuditEntry, AuditPurge, AuditRecord, Checkpoint, record_hash};
use idlink_domain::UserId;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::rows::{AnyQuery, Columns, execute, fetch_all, fetch_one, fetch_optional, micros, values};
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

/// Records per `INSERT` when many are appended at once (a bulk load): ten
/// values each stays far under SQLite's 32,766 bound values, and SQLite
/// finds each `$N` by name, so its statements cost more than their rows
/// past a few thousand values.
const RECORDS_PER_STATEMENT: usize = 200;

/// A user's ($1) latest records, newest first, at most $2.
pub(crate) fn by_subject_sql() -> String {
    format!("SELECT {RECORD_COLUMNS} FROM audit_log WHERE subject = $1 ORDER BY seq DESC LIMIT $2")
}

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
    let bump = sqlx::query("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash").bind(n);
    let (head_seq, head_hash) = fetch_one(bump, &mut *tx, |r| Ok((r.col::<i64>("seq")? - n, r.col::<String>("hash")?))).await?;
    let links = chain(head_seq, &head_hash, entries);
    for part in links.chunks(RECORDS_PER_STATEMENT) {
        execute(bind_links(sqlx::query(sqlx::AssertSqlSafe(insert_sql(part.len(), 1))), part), &mut *tx).await?;
    }
    let last = links.last().map_or(head_hash.as_str(), |l| l.hash.as_str());
    execute(sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(last), &mut *tx).await?;
    Ok(links)
}

/// Appends one record inside the caller's transaction.
pub(crate) async fn append_in(tx: &mut Tx, e: &AuditEntry) -> Result<AuditRecord, StoreError> {
    let link = append_all_in(tx, [e]).await?.pop().ok_or_else(|| StoreError::Corrupt("no audit record was appended".into()))?;
    Ok(AuditRecord { seq: link.seq, entry: e.clone(), prev_hash: link.prev_hash, hash: link.hash })
}

pub(crate) fn record(r: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: r.col("seq")?,
        entry: AuditEntry {
            actor: r.col("actor")?,
            subject: r.col("subject")?,
            action: r.col("action")?,
            purpose: r.col("purpose")?,
            outcome: r.col("outcome")?,
            request_id: r.col("request_id")?,
            at: r.instant("at")?,
        },
        prev_hash: r.col("prev_hash")?,
        hash: r.col("hash")?,
    })
}

fn checkpoint(r: &AnyRow) -> Result<Checkpoint, StoreError> {
    Ok(Checkpoint {
        seq: r.col("seq")?,
        hash: r.col("hash")?,
        at: r.instant("at")?,
        public_key: r.col("public_key")?,
        signature: r.col("signature")?,
    })
}

const RECORD_COLUMNS: &str = "seq, at, actor, subject, action, purpose, outcome, request_id, prev_hash, hash";
const CHECKPOINT_COLUMNS: &str = "seq, hash, at, public_key, signature";

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<AuditRecord, StoreError> {
        self.write(Commit::Bookkeeping, async |tx| append_in(tx, entry).await).await
    }

    async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after).bind(i64::from(limit)), &self.reader, record).await
    }

    async fn audit_records_of_user(&self, user: &UserId, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(by_subject_sql())).bind(user.as_str()).bind(i64::from(limit)), &self.reader, record).await
    }

    async fn last_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY seq DESC LIMIT 1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)), &self.reader, checkpoint).await
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY seq");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &self.reader, checkpoint).await
    }

    async fn checkpoint_at(&self, seq: i64) -> Result<Option<Checkpoint>, StoreError> {
        let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE seq = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(seq), &self.reader, checkpoint).await
    }

    async fn audit_head(&self) -> Result<(i64, String), StoreError> {
        let q = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1");
        fetch_one(q, &self.reader, |r| Ok((r.col("seq")?, r.col("hash")?))).await
    }

    async fn audit_purges(&self) -> Result<Vec<AuditPurge>, StoreError> {
        let q =
            sqlx::query("SELECT through_seq, through_hash, first_seq, period, records, purged_at FROM audit_purges ORDER BY through_seq");
        fetch_all(q, &self.reader, |r| {
            Ok(AuditPurge {
                first_seq: r.col("first_seq")?,
                through_seq: r.col("through_seq")?,
                through_hash: r.col("through_hash")?,
                period: r.col("period")?,
                records: r.count_u64("records")?,
                purged_at: r.instant("purged_at")?,
            })
        })
        .await
    }

    /// Two signers of the same head race here: the first row is kept, the
    /// other answers false (and must not be witnessed).
    async fn insert_checkpoint(&self, c: &Checkpoint) -> Result<bool, StoreError> {
        let sql = format!("INSERT INTO audit_checkpoints ({CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(c.seq).bind(&c.hash).bind(micros(c.at)).bind(&c.public_key).bind(&c.signature);
        self.write(Commit::Effect, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
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
