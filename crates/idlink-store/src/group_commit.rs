//! Group commit of balance queries (SPEC BK3, P7; ADR 0006).
//!
//! Every balance query ends with a durable write: the card read and the
//! query appended to the audit chain, the step-up token spent, the history
//! row inserted. Committed one by one, these serialise on the audit head
//! row and pay one WAL flush each. Here one writer task takes every query
//! waiting at that moment (up to [`MAX_BATCH`]) and commits them in one
//! transaction: one head update, one multi-row insert per table, one flush.
//! Each caller is answered only after that transaction has committed, so
//! durability is unchanged: a query whose batch fails gets the error and
//! discloses nothing.

use idlink_core::audit::{AuditEntry, record_hash};
use idlink_core::balance::QueryRecord;
use idlink_core::ports::StoreError;
use sqlx::{Any, AnyPool, Row, Transaction};
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

use crate::rows::{micros, store_err};
use crate::store::Backend;

/// Most queries in one transaction (bounded so bind parameters stay well under the databases' limits).
pub const MAX_BATCH: usize = 128;

pub(crate) struct QueryCommit {
    pub token_id: String,
    pub secret_hash: String,
    pub user: String,
    pub operation: String,
    pub resource: String,
    pub record: QueryRecord,
    pub card_read: AuditEntry,
    pub audit: AuditEntry,
    pub reply: oneshot::Sender<Result<bool, StoreError>>,
}

/// Starts the writer task; queries sent to the returned channel are committed in batches.
pub(crate) fn start(writer: AnyPool, backend: Backend) -> mpsc::UnboundedSender<QueryCommit> {
    let (tx, mut rx) = mpsc::unbounded_channel::<QueryCommit>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            metrics::histogram!("idlink_balance_commit_batch_size").record(jobs.len() as f64);
            match commit(&writer, backend, &jobs).await {
                Ok(spent) => {
                    for (job, ok) in jobs.into_iter().zip(spent) {
                        let _ = job.reply.send(Ok(ok));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, queries = jobs.len(), "balance query group commit failed");
                    for job in jobs {
                        let _ = job.reply.send(Err(StoreError::Unavailable(e.to_string())));
                    }
                }
            }
        }
    });
    tx
}

/// `$first, …` placeholders for `rows` rows of `cols` columns.
fn values(rows: usize, cols: usize, first: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (0..cols).map(|c| format!("${}", first + r * cols + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn commit(writer: &AnyPool, backend: Backend, jobs: &[QueryCommit]) -> Result<Vec<bool>, StoreError> {
    let mut tx = match backend {
        Backend::Sqlite => writer.begin_with("BEGIN IMMEDIATE").await.map_err(store_err)?,
        Backend::Postgres => writer.begin().await.map_err(store_err)?,
    };
    // Spend the tokens. A token named twice in one batch counts for the first query only.
    let mut seen = HashSet::new();
    let candidates: Vec<&QueryCommit> = jobs.iter().filter(|j| seen.insert(j.token_id.as_str())).collect();
    let spent_at = jobs.iter().map(|j| j.record.at).max().map(micros).unwrap_or(0);
    let conditions: Vec<String> = (0..candidates.len())
        .map(|i| {
            let p = 2 + i * 6;
            format!(
                "(id = ${} AND secret_hash = ${} AND user_id = ${} AND operation = ${} AND resource = ${} AND expires_at > ${})",
                p,
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5
            )
        })
        .collect();
    let sql = format!("UPDATE step_up_tokens SET used_at = $1 WHERE used_at IS NULL AND ({}) RETURNING id", conditions.join(" OR "));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(spent_at);
    for j in &candidates {
        q = q.bind(&j.token_id).bind(&j.secret_hash).bind(&j.user).bind(&j.operation).bind(&j.resource).bind(micros(j.record.at));
    }
    let rows = q.fetch_all(&mut *tx).await.map_err(store_err)?;
    let mut spent_ids = HashSet::new();
    for r in &rows {
        spent_ids.insert(r.try_get::<String, _>("id").map_err(store_err)?);
    }
    let mut claimed = HashSet::new();
    let spent: Vec<bool> = jobs.iter().map(|j| spent_ids.contains(&j.token_id) && claimed.insert(j.token_id.as_str())).collect();

    // History rows of the spent queries.
    let done: Vec<&QueryCommit> = jobs.iter().zip(&spent).filter(|(_, s)| **s).map(|(j, _)| j).collect();
    if !done.is_empty() {
        let sql = format!(
            "INSERT INTO balance_queries (id, user_id, binding_id, bank, channel, precision_kind, actor, at, outcome) VALUES {}",
            values(done.len(), 9, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for j in &done {
            let r = &j.record;
            q = q
                .bind(&r.id)
                .bind(&j.user)
                .bind(&r.binding_id)
                .bind(&r.bank)
                .bind(&r.channel)
                .bind(&r.precision)
                .bind(&r.actor)
                .bind(micros(r.at))
                .bind(&r.outcome);
        }
        q.execute(&mut *tx).await.map_err(store_err)?;
    }

    // The audit records, in query order: each card read, then the query if it went through.
    let mut entries = Vec::with_capacity(jobs.len() * 2);
    for (j, s) in jobs.iter().zip(&spent) {
        entries.push(&j.card_read);
        if *s {
            entries.push(&j.audit);
        }
    }
    append_all_in(&mut tx, &entries).await?;
    tx.commit().await.map_err(store_err)?;
    Ok(spent)
}

/// Appends several records to the chain with one head update and one insert.
pub(crate) async fn append_all_in(tx: &mut Transaction<'static, Any>, entries: &[&AuditEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let n = i64::try_from(entries.len()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let head = sqlx::query("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
        .bind(n)
        .fetch_one(&mut **tx)
        .await
        .map_err(store_err)?;
    let last: i64 = head.try_get("seq").map_err(store_err)?;
    let mut prev: String = head.try_get("hash").map_err(store_err)?;
    let sql = format!(
        "INSERT INTO audit_log (seq, at, actor, subject, action, purpose, outcome, request_id, prev_hash, hash) VALUES {}",
        values(entries.len(), 10, 1)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (i, e) in entries.iter().enumerate() {
        let seq = last - n + 1 + i64::try_from(i).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let hash = record_hash(seq, &prev, e);
        q = q
            .bind(seq)
            .bind(micros(e.at))
            .bind(e.actor.clone())
            .bind(e.subject.clone())
            .bind(e.action.clone())
            .bind(e.purpose.clone())
            .bind(e.outcome.clone())
            .bind(e.request_id.clone())
            .bind(prev.clone())
            .bind(hash.clone());
        prev = hash;
    }
    q.execute(&mut **tx).await.map_err(store_err)?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(prev).execute(&mut **tx).await.map_err(store_err)?;
    Ok(())
}
