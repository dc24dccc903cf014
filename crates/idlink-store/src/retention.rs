//! Storage of retention (issue 18 point 2): the purges by age, the audit
//! chain's purge by whole periods, and legal holds. Every purge leaves the
//! records of held users ([`HELD`]).

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::{AuditEntry, AuditPurge};
use idlink_core::ports::retention::{CaseHold, LegalHold, OldestKept, RetentionStore};
use jiff::Timestamp;

use crate::SqlStore;
use crate::rows::{Columns, execute, fetch_all, fetch_one, first, micros};

/// The users whose records no purge removes: a legal hold in force, or an open review case.
const HELD: &str = "SELECT user_id FROM legal_holds WHERE released_at IS NULL
     UNION SELECT subject FROM review_cases WHERE status IN ('open', 'waiting_user')";

/// The last record the purges cover.
const PURGED: &str = "(SELECT COALESCE(MAX(through_seq), 0) FROM audit_purges)";

const HOLD_COLUMNS: &str = "id, user_id, reason, reference, placed_by, placed_at, released_by, released_at";

fn hold_row(r: &sqlx::any::AnyRow) -> Result<LegalHold, StoreError> {
    Ok(LegalHold {
        id: r.col("id")?,
        user_id: r.user("user_id")?,
        reason: r.col("reason")?,
        reference: r.col("reference")?,
        placed_by: r.col("placed_by")?,
        placed_at: r.instant("placed_at")?,
        released_by: r.col("released_by")?,
        released_at: r.instant_opt("released_at")?,
    })
}

impl SqlStore {
    /// Runs `DELETE … WHERE key IN (SELECT key … LIMIT n)` as one write.
    async fn purge_batch(&self, sql: String, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(before)).bind(i64::from(limit));
        self.write(crate::write::Commit::Bookkeeping, async |tx| execute(q, &mut *tx).await).await
    }
}

#[async_trait]
impl RetentionStore for SqlStore {
    async fn oldest_kept(&self) -> Result<OldestKept, StoreError> {
        let q = sqlx::query(
            "SELECT (SELECT MIN(at) FROM balance_queries) AS query_log,
                    (SELECT MIN(at) FROM audit_log WHERE seq > (SELECT COALESCE(MAX(through_seq), 0) FROM audit_purges)) AS audit_log,
                    (SELECT MIN(created_at) FROM sessions) AS sign_ins,
                    (SELECT MIN(ready_at) FROM credit_requests WHERE pdf_cipher IS NOT NULL OR report_cipher IS NOT NULL) AS credit_files,
                    (SELECT MIN(created_at) FROM idempotency_keys) AS idempotency,
                    (SELECT MIN(finished_at) FROM outbox WHERE state = 'delivered') AS outbox",
        );
        fetch_one(q, &self.reader, |r| {
            Ok(OldestKept {
                query_log: r.instant_opt("query_log")?,
                audit_log: r.instant_opt("audit_log")?,
                sign_ins: r.instant_opt("sign_ins")?,
                credit_files: r.instant_opt("credit_files")?,
                idempotency: r.instant_opt("idempotency")?,
                outbox: r.instant_opt("outbox")?,
            })
        })
        .await
    }

    async fn purge_query_log(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let sql = format!(
            "DELETE FROM balance_queries WHERE id IN
               (SELECT id FROM balance_queries WHERE at < $1 AND user_id NOT IN ({HELD}) ORDER BY at LIMIT $2)"
        );
        self.purge_batch(sql, before, limit).await
    }

    async fn purge_sign_ins(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let sql = format!(
            "DELETE FROM sessions WHERE id IN
               (SELECT id FROM sessions WHERE expires_at < $1 AND user_id NOT IN ({HELD}) ORDER BY expires_at LIMIT $2)"
        );
        self.purge_batch(sql, before, limit).await
    }

    async fn purge_credit_files(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let sql = format!(
            "UPDATE credit_requests SET report_cipher = NULL, pdf_cipher = NULL WHERE id IN
               (SELECT id FROM credit_requests WHERE ready_at < $1 AND (pdf_cipher IS NOT NULL OR report_cipher IS NOT NULL)
                  AND user_id NOT IN ({HELD}) ORDER BY ready_at LIMIT $2)"
        );
        self.purge_batch(sql, before, limit).await
    }

    async fn first_audit_record(&self) -> Result<Option<(i64, Timestamp)>, StoreError> {
        let sql = format!("SELECT seq, at FROM audit_log WHERE seq = (SELECT MIN(seq) FROM audit_log WHERE seq > {PURGED})");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        crate::rows::fetch_optional(q, &self.reader, |r| Ok((r.col("seq")?, r.instant("at")?))).await
    }

    async fn first_held_audit_seq(&self) -> Result<Option<i64>, StoreError> {
        let sql = format!("SELECT MIN(seq) FROM audit_log WHERE subject IN ({HELD})");
        fetch_one(sqlx::query(sqlx::AssertSqlSafe(sql)), &self.reader, first::<Option<i64>>).await
    }

    async fn purge_audit(&self, purge: &AuditPurge, audit: &AuditEntry) -> Result<bool, StoreError> {
        // PostgreSQL: the chain's head row first, so two purges (or a purge and
        // a hold's record) take turns; SQLite's write transaction is already exclusive.
        let lock =
            matches!(self.backend(), crate::Backend::Postgres).then(|| sqlx::query("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE"));
        let check_sql = format!(
            "SELECT (SELECT MIN(seq) FROM audit_log WHERE seq > {PURGED}) AS first,
                    (SELECT COUNT(*) FROM audit_log WHERE seq >= $1 AND seq <= $2 AND subject IN ({HELD})) AS held"
        );
        let check = sqlx::query(sqlx::AssertSqlSafe(check_sql)).bind(purge.first_seq).bind(purge.through_seq);
        let insert = sqlx::query(
            "INSERT INTO audit_purges (through_seq, through_hash, first_seq, period, records, purged_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(purge.through_seq)
        .bind(&purge.through_hash)
        .bind(purge.first_seq)
        .bind(&purge.period)
        .bind(i64::try_from(purge.records).unwrap_or(i64::MAX))
        .bind(micros(purge.purged_at));
        let out = self
            .audited_if(audit, async |tx| {
                if let Some(lock) = lock {
                    crate::rows::fetch_optional(lock, &mut *tx, |_| Ok(())).await?;
                }
                let (first, held): (Option<i64>, i64) =
                    crate::rows::fetch_one(check, &mut *tx, |r| Ok((r.col("first")?, r.col("held")?))).await?;
                if first != Some(purge.first_seq) || held > 0 {
                    return Ok(false);
                }
                execute(insert, &mut *tx).await?;
                Ok(true)
            })
            .await;
        match out {
            // Another purge of the same records committed first.
            Err(StoreError::Unique(_)) => Ok(false),
            other => other,
        }
    }

    async fn delete_purged_audit(&self, limit: u32) -> Result<u64, StoreError> {
        // The trigger accepts these deletes: a purge row covers them (and they are five years old).
        let sql = format!("DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE seq <= {PURGED} ORDER BY seq LIMIT $1)");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(limit));
        self.write(crate::write::Commit::Bookkeeping, async |tx| execute(q, &mut *tx).await).await
    }

    async fn place_hold(&self, hold: &LegalHold, audit: &AuditEntry) -> Result<bool, StoreError> {
        let sql = format!(
            "INSERT INTO legal_holds ({HOLD_COLUMNS}) SELECT $1, $2, $3, $4, $5, $6, NULL, NULL WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hold.id.clone())
            .bind(hold.user_id.as_str())
            .bind(hold.reason.clone())
            .bind(hold.reference.clone())
            .bind(hold.placed_by.clone())
            .bind(micros(hold.placed_at));
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn release_hold(&self, id: &str, by: &str, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE legal_holds SET released_by = $1, released_at = $2 WHERE id = $3 AND released_at IS NULL")
            .bind(by.to_owned())
            .bind(micros(at))
            .bind(id.to_owned());
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn legal_holds(&self, released: bool) -> Result<Vec<LegalHold>, StoreError> {
        let filter = if released { "" } else { "WHERE released_at IS NULL" };
        let sql = format!("SELECT {HOLD_COLUMNS} FROM legal_holds {filter} ORDER BY placed_at DESC, id");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &self.reader, hold_row).await
    }

    async fn case_holds(&self) -> Result<Vec<CaseHold>, StoreError> {
        let q = sqlx::query(
            "SELECT subject, id, created_at FROM review_cases WHERE status IN ('open', 'waiting_user') ORDER BY created_at, id",
        );
        fetch_all(q, &self.reader, |r| {
            Ok(CaseHold { user_id: r.user("subject")?, case_id: r.col("id")?, opened_at: r.instant("created_at")? })
        })
        .await
    }
}
