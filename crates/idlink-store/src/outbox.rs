//! The outbox and the periodic jobs' leases (ADR 0009, `docs/outbox.md`).
//!
//! [`enqueue_in`] writes events inside the transaction of the change that
//! causes them (a bank event, a balance query's group commit): they commit
//! or roll back with it. Claims move an event's `due_at` to when the claim
//! lapses and stamp a fencing token; on PostgreSQL the rows are picked with
//! `FOR UPDATE SKIP LOCKED`, so workers on several nodes never wait for, nor
//! take, the same rows; on SQLite the one writer serialises claims.

use async_trait::async_trait;
use idlink_core::audit::AuditEntry;
use idlink_core::jobs::{Lease, LeaseStore, TakeLease};
use idlink_core::outbox::{Claim, Listing, NewEvent, OutboxCounts, OutboxItem, OutboxState, OutboxStore, Settlement};
use idlink_core::ports::StoreError;
use idlink_domain::{EventId, UserId};
use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::rows::{column_id, micros, store_err, timestamp};
use crate::store::Backend;
use crate::write::Commit;

const COLUMNS: &str = "id, kind, subject, payload, state, created_at, due_at, attempts, last_error, claimed_by, claim_token, finished_at";

/// Writes `events` in the caller's transaction (one statement for all of them; none when there are none).
pub(crate) async fn enqueue_in<'e>(tx: &mut crate::write::Tx, events: impl IntoIterator<Item = &'e NewEvent>) -> Result<(), StoreError> {
    let events: Vec<&NewEvent> = events.into_iter().collect();
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..events.len())
        .map(|i| {
            let p = i * 5;
            format!("(${}, ${}, ${}, ${}, 'pending', ${}, ${}, 0)", p + 1, p + 2, p + 3, p + 4, p + 5, p + 5)
        })
        .collect();
    let sql = format!("INSERT INTO outbox (id, kind, subject, payload, state, created_at, due_at, attempts) VALUES {}", rows.join(", "));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for e in &events {
        q = q.bind(e.id.as_str()).bind(&e.kind).bind(e.subject.as_ref().map(UserId::as_str)).bind(e.payload.as_slice()).bind(micros(e.at));
    }
    q.execute(&mut *tx).await.map_err(store_err)?;
    Ok(())
}

fn item(r: &AnyRow) -> Result<OutboxItem, StoreError> {
    let state: String = r.try_get("state").map_err(store_err)?;
    let subject: Option<String> = r.try_get("subject").map_err(store_err)?;
    let attempts: i64 = r.try_get("attempts").map_err(store_err)?;
    let finished: Option<i64> = r.try_get("finished_at").map_err(store_err)?;
    let token: Option<String> = r.try_get("claim_token").map_err(store_err)?;
    Ok(OutboxItem {
        id: column_id(r, "id")?,
        kind: r.try_get("kind").map_err(store_err)?,
        subject: subject.map(|s| UserId::parse(&s).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()?,
        state: OutboxState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("outbox state {state}")))?,
        created_at: timestamp(r.try_get("created_at").map_err(store_err)?)?,
        due_at: timestamp(r.try_get("due_at").map_err(store_err)?)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last_error: r.try_get("last_error").map_err(store_err)?,
        claimed_by: r.try_get("claimed_by").map_err(store_err)?,
        in_flight: token.is_some(),
        finished_at: finished.map(timestamp).transpose()?,
        payload: r.try_get("payload").map_err(store_err)?,
    })
}

fn lease(r: &AnyRow) -> Result<Lease, StoreError> {
    let count = |c: &str| -> Result<u64, StoreError> { Ok(u64::try_from(r.try_get::<i64, _>(c).map_err(store_err)?).unwrap_or(0)) };
    let done_at: Option<i64> = r.try_get("last_done_at").map_err(store_err)?;
    Ok(Lease {
        job: r.try_get("job").map_err(store_err)?,
        holder: r.try_get("holder").map_err(store_err)?,
        lease_until: timestamp(r.try_get("lease_until").map_err(store_err)?)?,
        last_run_at: timestamp(r.try_get("last_run_at").map_err(store_err)?)?,
        runs: count("runs")?,
        done: count("done")?,
        last_done_at: done_at.map(timestamp).transpose()?,
        last_error: r.try_get("last_error").map_err(store_err)?,
    })
}

const LEASE_COLUMNS: &str = "job, holder, lease_until, last_run_at, runs, done, last_done_at, last_error";

#[async_trait]
impl OutboxStore for SqlStore {
    async fn enqueue_outbox(&self, events: &[NewEvent]) -> Result<(), StoreError> {
        self.write(Commit::Effect, async |tx| enqueue_in(tx, events).await).await
    }

    async fn claim_outbox(&self, c: &Claim<'_>) -> Result<Vec<OutboxItem>, StoreError> {
        let sql = match self.backend() {
            // Row locks taken by the `WITH` are skipped, not waited for, by other
            // workers; the claim (a later `due_at`, a token) outlives them. The
            // locked selection is a `WITH`, evaluated once: as a subquery of the
            // `UPDATE` the planner may run it again and claim more than the batch.
            Backend::Postgres => {
                let returned: Vec<String> = COLUMNS.split(',').map(|c| format!("outbox.{}", c.trim())).collect();
                format!(
                    "WITH due AS (SELECT id FROM outbox WHERE state = 'pending' AND due_at <= $4 ORDER BY due_at, id LIMIT $5
                                  FOR UPDATE SKIP LOCKED)
                     UPDATE outbox SET due_at = $1, claim_token = $2, claimed_by = $3 FROM due WHERE outbox.id = due.id
                     RETURNING {}",
                    returned.join(", ")
                )
            }
            // One writer at a time: no locks to skip.
            Backend::Sqlite => format!(
                "UPDATE outbox SET due_at = $1, claim_token = $2, claimed_by = $3
                 WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND due_at <= $4 ORDER BY due_at, id LIMIT $5)
                 RETURNING {COLUMNS}"
            ),
        };
        let rows = self
            .write(Commit::Bookkeeping, async |tx| {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(micros(c.until))
                    .bind(c.token)
                    .bind(c.holder)
                    .bind(micros(c.now))
                    .bind(i64::from(c.limit))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_err)
            })
            .await?;
        let mut items = rows.iter().map(item).collect::<Result<Vec<_>, _>>()?;
        items.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(items)
    }

    async fn outbox_due(&self, now: Timestamp) -> Result<bool, StoreError> {
        let due: Option<i64> = sqlx::query_scalar("SELECT 1 FROM outbox WHERE state = 'pending' AND due_at <= $1 LIMIT 1")
            .bind(micros(now))
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?;
        Ok(due.is_some())
    }

    async fn settle_outbox(&self, id: &EventId, token: &str, at: Timestamp, settlement: &Settlement) -> Result<bool, StoreError> {
        let fenced = "WHERE id = $1 AND claim_token = $2 AND state = 'pending'";
        let q = match settlement {
            Settlement::Delivered => sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, finished_at = $3, claim_token = NULL {fenced}"
            )))
            .bind(id.as_str())
            .bind(token)
            .bind(micros(at)),
            Settlement::Retry { at: due, error } => sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE outbox SET attempts = attempts + 1, due_at = $3, last_error = $4, claim_token = NULL {fenced}"
            )))
            .bind(id.as_str())
            .bind(token)
            .bind(micros(*due))
            .bind(error.as_str()),
            Settlement::Dead { error } => sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE outbox SET state = 'dead', attempts = attempts + 1, finished_at = $3, last_error = $4, claim_token = NULL {fenced}"
            )))
            .bind(id.as_str())
            .bind(token)
            .bind(micros(at))
            .bind(error.as_str()),
            Settlement::Release => sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE outbox SET due_at = $3, claim_token = NULL {fenced}")))
                .bind(id.as_str())
                .bind(token)
                .bind(micros(at)),
        };
        let n = self.write(Commit::Bookkeeping, async |tx| Ok(q.execute(&mut *tx).await.map_err(store_err)?.rows_affected())).await?;
        Ok(n == 1)
    }

    async fn outbox_item(&self, id: &EventId) -> Result<Option<OutboxItem>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM outbox WHERE id = $1")))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(|r| item(&r))
            .transpose()
    }

    async fn outbox_items(&self, listing: Listing, limit: u32) -> Result<Vec<OutboxItem>, StoreError> {
        let states = match listing {
            Listing::Undelivered => "'pending', 'dead'",
            Listing::Dead => "'dead'",
        };
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM outbox WHERE state IN ({states}) ORDER BY created_at, id LIMIT $1")))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?
            .iter()
            .map(item)
            .collect()
    }

    async fn retry_outbox_item(&self, id: &EventId, now: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        // A pending event a worker holds (its claim has not lapsed) is left to it.
        self.audited_if(audit, async |tx| {
            let n = sqlx::query(
                "UPDATE outbox SET state = 'pending', due_at = $1, attempts = 0, finished_at = NULL, claim_token = NULL
                 WHERE id = $2 AND (state = 'dead' OR (state = 'pending' AND (claim_token IS NULL OR due_at <= $1)))",
            )
            .bind(micros(now))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(store_err)?
            .rows_affected();
            Ok(n == 1)
        })
        .await
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM outbox WHERE state IN ('pending', 'dead') GROUP BY state")
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?;
        let mut counts = OutboxCounts::default();
        for r in &rows {
            let state: String = r.try_get("state").map_err(store_err)?;
            let n = u64::try_from(r.try_get::<i64, _>("n").map_err(store_err)?).unwrap_or(0);
            match OutboxState::parse(&state) {
                Some(OutboxState::Pending) => counts.pending = n,
                Some(OutboxState::Dead) => counts.dead = n,
                Some(OutboxState::Delivered) | None => {}
            }
        }
        Ok(counts)
    }

    async fn purge_delivered_outbox(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        self.write(Commit::Bookkeeping, async |tx| {
            Ok(sqlx::query(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state = 'delivered' AND finished_at < $1 ORDER BY finished_at LIMIT $2)",
            )
            .bind(micros(before))
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?
            .rows_affected())
        })
        .await
    }
}

#[async_trait]
impl LeaseStore for SqlStore {
    async fn take_lease(&self, t: &TakeLease<'_>) -> Result<bool, StoreError> {
        let now = micros(t.now);
        let due_before = micros(t.now.checked_sub(t.period).unwrap_or(t.now));
        // Due: a period since the last run, or a last run in the future (this
        // clock went back). Ours: we hold it, or its holder let it lapse.
        let due = if t.force { "" } else { "AND (last_run_at <= $5 OR last_run_at > $4)" };
        let sql = format!(
            "UPDATE job_leases SET holder = $2, lease_until = $3, last_run_at = $4, runs = runs + 1
             WHERE job = $1 AND (holder = $2 OR lease_until <= $4) {due}"
        );
        let n = self
            .write(Commit::Bookkeeping, async |tx| {
                sqlx::query(
                    "INSERT INTO job_leases (job, holder, lease_until, last_run_at, runs, done) VALUES ($1, '', 0, 0, 0, 0)
                     ON CONFLICT (job) DO NOTHING",
                )
                .bind(t.job)
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(t.job).bind(t.holder).bind(micros(t.until)).bind(now);
                if !t.force {
                    q = q.bind(due_before);
                }
                Ok(q.execute(&mut *tx).await.map_err(store_err)?.rows_affected())
            })
            .await?;
        Ok(n == 1)
    }

    async fn finish_lease(
        &self,
        job: &str,
        holder: &str,
        at: Timestamp,
        release: bool,
        error: Option<&str>,
    ) -> Result<Option<u64>, StoreError> {
        let until = if release { ", lease_until = $3" } else { "" };
        let sql = format!(
            "UPDATE job_leases SET done = done + 1, last_done_at = $3, last_error = $4{until}
             WHERE job = $1 AND holder = $2 RETURNING done"
        );
        let done: Option<i64> = self
            .write(Commit::Bookkeeping, async |tx| {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(job)
                    .bind(holder)
                    .bind(micros(at))
                    .bind(error)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_err)
            })
            .await?;
        Ok(done.map(|d| u64::try_from(d).unwrap_or(0)))
    }

    async fn lease(&self, job: &str) -> Result<Option<Lease>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {LEASE_COLUMNS} FROM job_leases WHERE job = $1")))
            .bind(job)
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(|r| lease(&r))
            .transpose()
    }

    async fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {LEASE_COLUMNS} FROM job_leases ORDER BY job")))
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?
            .iter()
            .map(lease)
            .collect()
    }
}
