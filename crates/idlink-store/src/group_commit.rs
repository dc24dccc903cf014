//! Group commit of balance queries (SPEC BK3, P7; ADR 0006).
//!
//! Every balance query ends with a durable write: the card read and the
//! query appended to the audit chain, the step-up token spent, the history
//! row inserted. Committed one by one, these serialise on the audit head
//! row and pay one WAL flush each. Here one writer, on a thread of its own
//! ([`start`]), takes every query waiting at that moment (up to
//! [`MAX_BATCH`]) and commits them in one transaction: one head update, one
//! multi-row insert per table, one flush.
//! Each caller is answered only after that transaction has committed, so
//! durability is unchanged: a query whose batch fails gets the error and
//! discloses nothing.
//!
//! The batch's audit records are chained by `audit::chain`, as every other
//! append is: SQLite appends them with `audit::append_all_in`; PostgreSQL
//! inserts them and moves the head in the statement that also inserts the
//! history rows, one round trip fewer. The batch is its own transaction
//! (begun by `write::begin`), not one of the `write.rs` helpers: it marks
//! and completes each query's idempotency claim itself (`complete_kept`).

use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::balance::QueryRecord;
use idlink_core::ports::idempotency::ClaimRef;
use sqlx::{Any, AnyPool};
use std::collections::HashSet;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

use crate::audit;
use crate::balance::{HISTORY_COLS, HISTORY_COLUMNS, bind_history_row};
use crate::idempotency::bind_claim;
use crate::rows::{AnyQuery, Columns, execute, fetch_all, fetch_optional, micros, store_err, values};
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
    /// The request's idempotency claim and its sealed answer: completed in the batch's transaction.
    pub kept: Option<(ClaimRef, Vec<u8>)>,
    /// The low-balance alert, written to the outbox in the batch's transaction if the query goes through.
    pub notice: Option<idlink_core::ports::outbox::NewEvent>,
    pub reply: oneshot::Sender<Result<bool, StoreError>>,
}

/// Where the writer's connection comes from.
pub(crate) enum WriterConnection {
    /// SQLite: the store's one writer connection (the file takes one writer at a time).
    Shared(AnyPool),
    /// PostgreSQL: a connection of the writer's own, opened on its thread
    /// with the store's pool options.
    Own { url: String, options: sqlx::any::AnyPoolOptions },
}

/// Starts the writer on a thread of its own; queries sent to the returned
/// channel are committed in batches.
///
/// Every query waits for the writer, so the writer is the one task whose
/// delay all of them share. On the request runtime each of its round trips
/// would queue behind every ready request task (measured: a 12-query batch
/// took 7.5–10 ms to commit at peak, the machine a quarter idle); on its own
/// thread the kernel runs it as soon as the database answers (ADR 0006).
pub(crate) async fn start(connection: WriterConnection, backend: Backend) -> Result<mpsc::UnboundedSender<QueryCommit>, StoreError> {
    let unavailable = |what: &str, e: &dyn std::fmt::Display| StoreError::Unavailable(format!("the balance-query writer {what}: {e}"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| unavailable("has no runtime", &e))?;
    let (tx, rx) = mpsc::unbounded_channel::<QueryCommit>();
    let (ready_tx, ready_rx) = oneshot::channel::<Result<(), StoreError>>();
    std::thread::Builder::new()
        .name("idlink-group-commit".into())
        .spawn(move || {
            runtime.block_on(async move {
                let (pool, own) = match connection {
                    WriterConnection::Shared(pool) => (pool, false),
                    WriterConnection::Own { url, options } => match options.connect(&url).await {
                        Ok(pool) => (pool, true),
                        Err(e) => {
                            let _ = ready_tx.send(Err(store_err(e)));
                            return;
                        }
                    },
                };
                let _ = ready_tx.send(Ok(()));
                run(&pool, backend, rx).await;
                if own {
                    pool.close().await;
                }
            });
        })
        .map_err(|e| unavailable("could not start", &e))?;
    ready_rx.await.map_err(|e| unavailable("stopped", &e))??;
    Ok(tx)
}

/// Takes every query waiting at that moment (up to [`MAX_BATCH`]), commits them, answers each; until every sender is gone.
async fn run(writer: &AnyPool, backend: Backend, mut rx: mpsc::UnboundedReceiver<QueryCommit>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        metrics::histogram!("idlink_balance_commit_batch_size").record(jobs.len() as f64);
        let started = Instant::now();
        let committed = commit(writer, backend, &jobs).await;
        metrics::histogram!("idlink_balance_commit_seconds").record(started.elapsed().as_secs_f64());
        match committed {
            Ok(outcomes) => {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    let _ = job.reply.send(match outcome {
                        Outcome::Spent => Ok(true),
                        Outcome::NotSpent => Ok(false),
                        Outcome::Fenced => Err(StoreError::Unavailable(
                            "this request's idempotency claim was taken over by a retry; nothing was disclosed".into(),
                        )),
                    });
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
}

/// What became of one query in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Spent,
    NotSpent,
    /// Its idempotency claim is no longer its own (a retry took it over): it neither spends nor discloses.
    Fenced,
}

async fn commit(writer: &AnyPool, backend: Backend, jobs: &[QueryCommit]) -> Result<Vec<Outcome>, StoreError> {
    let mut tx = crate::write::begin(writer, backend).await?;
    let fenced = fence(&mut tx, backend, jobs).await?;
    // A token named twice in one batch counts for the first query only.
    let mut seen = HashSet::new();
    let candidates: Vec<&QueryCommit> =
        jobs.iter().zip(&fenced).filter(|(j, f)| !**f && seen.insert(j.token_id.as_str())).map(|(j, _)| j).collect();
    let spent = match backend {
        Backend::Postgres => commit_postgres(&mut tx, jobs, &candidates).await?,
        Backend::Sqlite => commit_sqlite(&mut tx, jobs, &candidates).await?,
    };
    let done = done_jobs(jobs, &spent);
    complete_kept(&mut tx, &done).await?;
    enqueue_notices(&mut tx, &done).await?;
    tx.commit().await.map_err(store_err)?;
    Ok(spent
        .into_iter()
        .zip(fenced)
        .map(|(s, f)| {
            if f {
                Outcome::Fenced
            } else if s {
                Outcome::Spent
            } else {
                Outcome::NotSpent
            }
        })
        .collect())
}

/// Which queries carry an idempotency claim that is no longer theirs. The
/// claims still held are locked (PostgreSQL; SQLite holds the write lock)
/// until the batch commits, so a takeover cannot slip in between.
async fn fence(tx: &mut sqlx::Transaction<'static, Any>, backend: Backend, jobs: &[QueryCommit]) -> Result<Vec<bool>, StoreError> {
    let lock = if backend == Backend::Postgres { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT 1 FROM idempotency_keys WHERE owner = $1 AND idem_key = $2 AND claim_token = $3{lock}");
    let mut fenced = Vec::with_capacity(jobs.len());
    for j in jobs {
        let held = match &j.kept {
            None => true,
            Some((claim, _)) => {
                let q = bind_claim(sqlx::query(sqlx::AssertSqlSafe(sql.clone())), claim);
                fetch_optional(q, &mut **tx, |_| Ok(())).await?.is_some()
            }
        };
        fenced.push(!held);
    }
    Ok(fenced)
}

/// PostgreSQL: four round trips per batch. The first statement spends the
/// tokens and locks the audit head; the second inserts the history rows and
/// the audit records and moves the head (data-modifying `WITH`). Returns
/// which queries spent their token.
async fn commit_postgres(
    tx: &mut sqlx::Transaction<'static, Any>,
    jobs: &[QueryCommit],
    candidates: &[&QueryCommit],
) -> Result<Vec<bool>, StoreError> {
    let sql = format!(
        "WITH spent AS ({}), head AS (SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE) \
         SELECT head.seq, head.hash, spent.id FROM head LEFT JOIN spent ON TRUE",
        spend_sql(candidates)
    );
    let rows = fetch_all(bind_spend(sqlx::query(sqlx::AssertSqlSafe(sql)), jobs, candidates), &mut **tx, |r| {
        Ok((r.col::<i64>("seq")?, r.col::<String>("hash")?, r.col::<Option<String>>("id")?))
    })
    .await?;
    let (head_seq, head_hash) = rows
        .first()
        .map(|(seq, hash, _)| (*seq, hash.clone()))
        .ok_or_else(|| StoreError::Corrupt("the audit head row is missing".into()))?;
    let spent_ids: HashSet<String> = rows.into_iter().filter_map(|(_, _, id)| id).collect();
    let spent = claimed(jobs, candidates, &spent_ids);
    let done = done_jobs(jobs, &spent);
    let links = audit::chain(head_seq, &head_hash, audit_entries(jobs, &spent));
    let (last_seq, last_hash) = links.last().map_or((head_seq, head_hash.as_str()), |l| (l.seq, l.hash.as_str()));

    let mut parts = Vec::new();
    let mut next = 1;
    if !done.is_empty() {
        parts.push(format!("history AS ({})", history_sql(done.len(), next)));
        next += done.len() * HISTORY_COLS;
    }
    parts.push(format!("audit AS ({})", audit::insert_sql(links.len(), next)));
    next += links.len() * audit::INSERT_COLS;
    let sql = format!("WITH {} UPDATE audit_head SET seq = ${next}, hash = ${} WHERE id = 1", parts.join(", "), next + 1);
    let q = bind_history(sqlx::query(sqlx::AssertSqlSafe(sql)), &done);
    execute(audit::bind_links(q, &links).bind(last_seq).bind(last_hash), &mut **tx).await?;
    Ok(spent)
}

/// SQLite (in-process, no data-modifying `WITH`): one statement per step in
/// one `BEGIN IMMEDIATE` transaction. Returns which queries spent their token.
async fn commit_sqlite(
    tx: &mut sqlx::Transaction<'static, Any>,
    jobs: &[QueryCommit],
    candidates: &[&QueryCommit],
) -> Result<Vec<bool>, StoreError> {
    let q = bind_spend(sqlx::query(sqlx::AssertSqlSafe(spend_sql(candidates))), jobs, candidates);
    let spent_ids: HashSet<String> = fetch_all(q, &mut **tx, |r| r.col("id")).await?.into_iter().collect();
    let spent = claimed(jobs, candidates, &spent_ids);
    let done = done_jobs(jobs, &spent);
    if !done.is_empty() {
        let q = sqlx::query(sqlx::AssertSqlSafe(history_sql(done.len(), 1)));
        execute(bind_history(q, &done), &mut **tx).await?;
    }
    audit::append_all_in(tx, audit_entries(jobs, &spent)).await?;
    Ok(spent)
}

/// Completes the idempotency claims of the queries that went through with
/// their sealed answers, in the transaction that spends their tokens: no
/// crash can separate the disclosure from the answer a retry replays.
/// One statement per query that carried an `Idempotency-Key` (none for the others).
async fn complete_kept(tx: &mut sqlx::Transaction<'static, Any>, done: &[&QueryCommit]) -> Result<(), StoreError> {
    for j in done {
        let Some((claim, sealed)) = &j.kept else { continue };
        let q = sqlx::query(
            "UPDATE idempotency_keys SET status = 200, body = $1, effect_at = COALESCE(effect_at, $2)
             WHERE owner = $3 AND idem_key = $4 AND claim_token = $5 AND status IS NULL",
        );
        execute(bind_claim(q.bind(sealed.as_slice()).bind(micros(claim.at)), claim), &mut **tx).await?;
    }
    Ok(())
}

/// Writes the low-balance alerts of the queries that went through to the
/// outbox, in the batch's transaction (one statement, none without alerts).
async fn enqueue_notices(tx: &mut sqlx::Transaction<'static, Any>, done: &[&QueryCommit]) -> Result<(), StoreError> {
    crate::outbox::enqueue_in(tx, done.iter().filter_map(|j| j.notice.as_ref())).await
}

/// Spends every candidate token still unused and valid; returns the ids spent.
fn spend_sql(candidates: &[&QueryCommit]) -> String {
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
    format!("UPDATE step_up_tokens SET used_at = $1 WHERE used_at IS NULL AND ({}) RETURNING id", conditions.join(" OR "))
}

fn bind_spend<'q>(mut q: AnyQuery<'q>, jobs: &[QueryCommit], candidates: &[&'q QueryCommit]) -> AnyQuery<'q> {
    let spent_at = jobs.iter().map(|j| j.record.at).max().map(micros).unwrap_or(0);
    q = q.bind(spent_at);
    for j in candidates {
        q = q.bind(&j.token_id).bind(&j.secret_hash).bind(&j.user).bind(&j.operation).bind(&j.resource).bind(micros(j.record.at));
    }
    q
}

/// Which queries spent their token: each spent id goes to the candidate that
/// named it (the first query naming it whose claim is still its own), never
/// to a query left out by the fence.
fn claimed(jobs: &[QueryCommit], candidates: &[&QueryCommit], spent_ids: &HashSet<String>) -> Vec<bool> {
    jobs.iter().map(|j| spent_ids.contains(&j.token_id) && candidates.iter().any(|c| std::ptr::eq(*c, j))).collect()
}

fn done_jobs<'a>(jobs: &'a [QueryCommit], spent: &[bool]) -> Vec<&'a QueryCommit> {
    jobs.iter().zip(spent).filter(|(_, s)| **s).map(|(j, _)| j).collect()
}

/// The audit records, in query order: each card read, then the query if it went through.
fn audit_entries<'a>(jobs: &'a [QueryCommit], spent: &[bool]) -> Vec<&'a AuditEntry> {
    let mut entries = Vec::with_capacity(jobs.len() * 2);
    for (j, s) in jobs.iter().zip(spent) {
        entries.push(&j.card_read);
        if *s {
            entries.push(&j.audit);
        }
    }
    entries
}

fn history_sql(rows: usize, first: usize) -> String {
    format!("INSERT INTO balance_queries ({HISTORY_COLUMNS}) VALUES {}", values(rows, HISTORY_COLS, first))
}

fn bind_history<'q>(mut q: AnyQuery<'q>, done: &[&'q QueryCommit]) -> AnyQuery<'q> {
    for j in done {
        q = bind_history_row(q, &j.user, &j.record);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(token: &str) -> QueryCommit {
        let at = jiff::Timestamp::UNIX_EPOCH;
        let entry = AuditEntry::new("user:u", "balance.query", "test", at);
        let record = QueryRecord {
            id: idlink_domain::QueryId::parse(&format!("bq_{token}")).unwrap_or_else(|e| panic!("{e}")),
            binding_id: idlink_domain::BindingId::parse("bnd_1").unwrap_or_else(|e| panic!("{e}")),
            bank: "ICBC".into(),
            channel: "direct".into(),
            precision: "yuan".into(),
            actor: "user:u".into(),
            at,
            outcome: "disclosed".into(),
            reason: None,
        };
        let (reply, _) = oneshot::channel();
        QueryCommit {
            token_id: token.into(),
            secret_hash: "h".into(),
            user: "u".into(),
            operation: "balance.query".into(),
            resource: "bnd_1".into(),
            record,
            card_read: entry.clone(),
            audit: entry,
            kept: None,
            notice: None,
            reply,
        }
    }

    /// A query and its retry in one batch, the first fenced out: the token
    /// the retry spent is the retry's, not the fenced query's.
    #[test]
    fn a_spent_token_goes_to_its_candidate_never_to_a_fenced_query() {
        let jobs = [job("t1"), job("t1"), job("t2")];
        let candidates = [&jobs[1], &jobs[2]];
        let spent: HashSet<String> = ["t1".to_owned()].into();
        assert_eq!(claimed(&jobs, &candidates, &spent), [false, true, false]);
        // Without a fence, the first query naming a token is its candidate.
        let candidates = [&jobs[0], &jobs[2]];
        assert_eq!(claimed(&jobs, &candidates, &spent), [true, false, false]);
    }
}
