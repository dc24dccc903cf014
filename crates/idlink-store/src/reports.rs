//! Storage of the compliance reads (SPEC OP2, OP3): the query log of a
//! period, filed regulator reports and the audit explorer's search.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::{AuditEntry, AuditRecord};
use idlink_core::ports::reports::{AuditFilter, ComplianceStore, QueryLogRow, ReportFile};
use idlink_domain::QueryId;
use jiff::Timestamp;

use crate::SqlStore;
use crate::rows::{Columns, execute, fetch_all, fetch_one, micros};

#[async_trait]
impl ComplianceStore for SqlStore {
    async fn query_log(
        &self,
        from: Timestamp,
        until: Timestamp,
        after: Option<(Timestamp, QueryId)>,
        limit: u32,
    ) -> Result<Vec<QueryLogRow>, StoreError> {
        // No cursor: start before every row of the period.
        let (after_at, after_id) = after.map_or((micros(from) - 1, String::new()), |(t, id)| (micros(t), id.as_str().to_owned()));
        let q = sqlx::query(
            "SELECT id, user_id, bank, channel, precision_kind, at, outcome, reason FROM balance_queries
             WHERE at >= $1 AND at < $2 AND (at > $3 OR (at = $3 AND id > $4))
             ORDER BY at, id LIMIT $5",
        )
        .bind(micros(from))
        .bind(micros(until))
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(limit));
        fetch_all(q, &self.reader, |r| {
            Ok(QueryLogRow {
                id: r.id("id")?,
                user_id: r.col("user_id")?,
                bank: r.col("bank")?,
                channel: r.col("channel")?,
                precision: r.col("precision_kind")?,
                at: r.instant("at")?,
                outcome: r.col("outcome")?,
                reason: r.col("reason")?,
            })
        })
        .await
    }

    async fn filed_report(&self, period: &str) -> Result<Vec<ReportFile>, StoreError> {
        let q = sqlx::query("SELECT name, content FROM regulator_reports WHERE period = $1 ORDER BY name").bind(period);
        fetch_all(q, &self.reader, |r| Ok(ReportFile { name: r.col("name")?, content: r.col("content")? })).await
    }

    async fn file_report(&self, period: &str, files: &[ReportFile], at: Timestamp, audit: &AuditEntry) -> Result<(), StoreError> {
        let filed = sqlx::query("SELECT COUNT(*) AS n FROM regulator_reports WHERE period = $1").bind(period);
        let inserts: Vec<_> = files
            .iter()
            .map(|f| {
                sqlx::query(
                    "INSERT INTO regulator_reports (period, name, content, generated_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (period, name) DO NOTHING",
                )
                .bind(period)
                .bind(f.name.as_str())
                .bind(f.content.as_slice())
                .bind(micros(at))
            })
            .collect();
        self.audited_if(audit, async |tx| {
            // A report filed meanwhile stays whole: nothing of this one is written.
            if fetch_one(filed, &mut *tx, |r| r.col::<i64>("n")).await? > 0 {
                return Ok(false);
            }
            for q in inserts {
                execute(q, &mut *tx).await?;
            }
            Ok(true)
        })
        .await?;
        Ok(())
    }

    async fn search_audit(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        // Each filter is `$n IS NULL OR column = $n`: one statement whatever is set.
        let q = sqlx::query(
            "SELECT seq, at, actor, subject, action, purpose, outcome, request_id, prev_hash, hash FROM audit_log
             WHERE ($1 IS NULL OR subject = $1) AND ($2 IS NULL OR actor = $2) AND ($3 IS NULL OR action = $3)
               AND ($4 IS NULL OR outcome = $4) AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at < $6)
               AND ($7 IS NULL OR seq < $7)
             ORDER BY seq DESC LIMIT $8",
        )
        .bind(f.subject.as_deref())
        .bind(f.actor.as_deref())
        .bind(f.action.as_deref())
        .bind(f.outcome.as_deref())
        .bind(f.from.map(micros))
        .bind(f.until.map(micros))
        .bind(f.before)
        .bind(i64::from(f.limit));
        fetch_all(q, &self.reader, crate::audit::record).await
    }
}
