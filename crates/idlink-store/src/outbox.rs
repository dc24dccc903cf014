//! The outbox and the periodic jobs' leases (ADR 0009, `docs/outbox.md`).
//!
//! [`enqueue_in`] writes events inside the transaction of the change that
//! causes them (a bank event, a balance query's group commit): they commit
//! or roll back with it. A claim counts an attempt on each event it takes
//! (`attempts + 1`), moves its `due_at` to when the claim lapses and stamps
//! a fencing token; settling records the outcome without counting again, so
//! an event whose worker dies during every attempt still runs out of
//! attempts: the claim that finds it out of attempts parks it as dead
//! instead of taking it. On PostgreSQL the rows are picked with `FOR UPDATE
//! SKIP LOCKED`, so workers on several nodes never wait for, nor take, the
//! same rows; on SQLite the one writer serialises claims.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::leases::{Lease, LeaseStore, TakeLease};
use idlink_core::ports::outbox::{Claim, Listing, NewEvent, OutboxCounts, OutboxItem, OutboxState, OutboxStore, Settlement};
use idlink_domain::{EventId, UserId};
use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::rows::{Columns, execute, fetch_all, fetch_optional, first, micros, qualified, user_id};
use crate::store::Backend;
use crate::write::{Commit, Tx};

const COLUMNS: &str = "id, kind, subject, payload, state, created_at, due_at, attempts, last_error, claimed_by, claim_token, finished_at";

/// Writes `events` in the caller's transaction (one statement for all of them; none when there are none).
pub(crate) async fn enqueue_in<'e>(tx: &mut Tx, events: impl IntoIterator<Item = &'e NewEvent>) -> Result<(), StoreError> {
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
    execute(q, &mut *tx).await?;
    Ok(())
}

/// Records an attempt's outcome in the caller's transaction if `token` still holds the claim.
pub(crate) async fn settle_in(tx: &mut Tx, id: &EventId, token: &str, at: Timestamp, settlement: &Settlement) -> Result<bool, StoreError> {
    // The claim counted the attempt; a release gives back the one it did not make.
    let set = match settlement {
        Settlement::Delivered => "state = 'delivered', finished_at = $3",
        Settlement::Retry { .. } => "due_at = $3, last_error = $4",
        Settlement::Dead { .. } => "state = 'dead', finished_at = $3, last_error = $4",
        Settlement::Release => "due_at = $3, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END",
    };
    let (at, error) = match settlement {
        Settlement::Retry { at: due, error } => (*due, Some(error.as_str())),
        Settlement::Dead { error } => (at, Some(error.as_str())),
        Settlement::Delivered | Settlement::Release => (at, None),
    };
    let sql = format!("UPDATE outbox SET {set}, claim_token = NULL WHERE id = $1 AND claim_token = $2 AND state = 'pending'");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).bind(token).bind(micros(at));
    if let Some(error) = error {
        q = q.bind(error);
    }
    Ok(execute(q, &mut *tx).await? == 1)
}

fn item(r: &AnyRow) -> Result<OutboxItem, StoreError> {
    Ok(OutboxItem {
        id: r.id("id")?,
        kind: r.col("kind")?,
        subject: r.col::<Option<String>>("subject")?.as_deref().map(user_id).transpose()?,
        state: r.parsed("state", "outbox state", OutboxState::parse)?,
        created_at: r.instant("created_at")?,
        due_at: r.instant("due_at")?,
        attempts: r.count_u32("attempts")?,
        last_error: r.col("last_error")?,
        claimed_by: r.col("claimed_by")?,
        in_flight: r.col::<Option<String>>("claim_token")?.is_some(),
        finished_at: r.instant_opt("finished_at")?,
        payload: r.col("payload")?,
    })
}

fn lease(r: &AnyRow) -> Result<Lease, StoreError> {
    Ok(Lease {
        job: r.col("job")?,
        holder: r.col("holder")?,
        lease_until: r.instant("lease_until")?,
        last_run_at: r.instant("last_run_at")?,
        runs: r.count_u64("runs")?,
        done: r.count_u64("done")?,
        last_done_at: r.instant_opt("last_done_at")?,
        last_error: r.col("last_error")?,
    })
}

const LEASE_COLUMNS: &str = "job, holder, lease_until, last_run_at, runs, done, last_done_at, last_error";

/// An update of the due pending events that match `condition`, oldest due
/// first, at most `$2` of them, setting `set`; it returns their rows.
/// `$1` is now; `condition` and `set` number their placeholders from `$3`.
///
/// On PostgreSQL the rows are selected and locked in a `WITH`, evaluated
/// once (as a subquery of the `UPDATE` the planner may run it again and take
/// more than the batch); rows another worker is taking are skipped, not
/// waited for, and the claim (a later `due_at`, a token) outlives the locks.
/// On SQLite one writer at a time: no locks to skip.
fn take_due(backend: Backend, condition: &str, set: &str) -> String {
    let due = format!("SELECT id FROM outbox WHERE state = 'pending' AND due_at <= $1 AND {condition} ORDER BY due_at, id LIMIT $2");
    match backend {
        Backend::Postgres => format!(
            "WITH due AS ({due} FOR UPDATE SKIP LOCKED)
             UPDATE outbox SET {set} FROM due WHERE outbox.id = due.id RETURNING {}",
            qualified(COLUMNS, "outbox")
        ),
        Backend::Sqlite => format!("UPDATE outbox SET {set} WHERE id IN ({due}) RETURNING {COLUMNS}"),
    }
}

/// Why an event whose attempts ran out unsettled was parked (before the error last recorded, if any).
fn unsettled(max_attempts: u32) -> String {
    format!("attempt {max_attempts} of {max_attempts} was never settled: the worker stopped or lost its claim during delivery")
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn enqueue_outbox(&self, events: &[NewEvent]) -> Result<(), StoreError> {
        self.write(Commit::Effect, async |tx| enqueue_in(tx, events).await).await
    }

    async fn claim_outbox(&self, c: &Claim<'_>) -> Result<Vec<OutboxItem>, StoreError> {
        let max = i64::from(c.max_attempts);
        // Out of attempts (the claim of the last one lapsed unsettled): parked, not taken.
        let park = take_due(
            self.backend(),
            "attempts >= $3",
            "state = 'dead', finished_at = $1, last_error = $4 || COALESCE('; the last error recorded: ' || last_error, ''), claim_token = NULL",
        );
        let park =
            sqlx::query(sqlx::AssertSqlSafe(park)).bind(micros(c.now)).bind(i64::from(c.limit)).bind(max).bind(unsettled(c.max_attempts));
        let take = take_due(self.backend(), "attempts < $3", "attempts = attempts + 1, due_at = $4, claim_token = $5, claimed_by = $6");
        let take = sqlx::query(sqlx::AssertSqlSafe(take))
            .bind(micros(c.now))
            .bind(i64::from(c.limit))
            .bind(max)
            .bind(micros(c.until))
            .bind(c.token)
            .bind(c.holder);
        let mut items = self
            .write(Commit::Bookkeeping, async |tx| {
                let mut items = fetch_all(park, &mut *tx, item).await?;
                items.extend(fetch_all(take, &mut *tx, item).await?);
                Ok(items)
            })
            .await?;
        items.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(items)
    }

    async fn outbox_due(&self, now: Timestamp) -> Result<bool, StoreError> {
        let q = sqlx::query("SELECT 1 FROM outbox WHERE state = 'pending' AND due_at <= $1 LIMIT 1").bind(micros(now));
        Ok(fetch_optional(q, &self.reader, first::<i64>).await?.is_some())
    }

    async fn settle_outbox(&self, id: &EventId, token: &str, at: Timestamp, settlement: &Settlement) -> Result<bool, StoreError> {
        self.write(Commit::Bookkeeping, async |tx| settle_in(tx, id, token, at, settlement).await).await
    }

    async fn outbox_item(&self, id: &EventId) -> Result<Option<OutboxItem>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()), &self.reader, item).await
    }

    async fn outbox_items(&self, listing: Listing, limit: u32) -> Result<Vec<OutboxItem>, StoreError> {
        let states = match listing {
            Listing::Undelivered => "'pending', 'dead'",
            Listing::Dead => "'dead'",
        };
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE state IN ({states}) ORDER BY created_at, id LIMIT $1");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(limit)), &self.reader, item).await
    }

    async fn retry_outbox_item(&self, id: &EventId, now: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        // A pending event a worker holds (its claim has not lapsed) is left to it.
        let q = sqlx::query(
            "UPDATE outbox SET state = 'pending', due_at = $1, attempts = 0, finished_at = NULL, claim_token = NULL
             WHERE id = $2 AND (state = 'dead' OR (state = 'pending' AND (claim_token IS NULL OR due_at <= $1)))",
        )
        .bind(micros(now))
        .bind(id.as_str());
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let q = sqlx::query("SELECT state, COUNT(*) AS n FROM outbox WHERE state IN ('pending', 'dead') GROUP BY state");
        let mut counts = OutboxCounts::default();
        for (state, n) in fetch_all(q, &self.reader, |r| Ok((r.col::<String>("state")?, r.count_u64("n")?))).await? {
            match OutboxState::parse(&state) {
                Some(OutboxState::Pending) => counts.pending = n,
                Some(OutboxState::Dead) => counts.dead = n,
                Some(OutboxState::Delivered) | None => {}
            }
        }
        Ok(counts)
    }

    async fn purge_delivered_outbox(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let q = sqlx::query(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state = 'delivered' AND finished_at < $1 ORDER BY finished_at LIMIT $2)",
        )
        .bind(micros(before))
        .bind(i64::from(limit));
        self.write(Commit::Bookkeeping, async |tx| execute(q, &mut *tx).await).await
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
        let row = sqlx::query(
            "INSERT INTO job_leases (job, holder, lease_until, last_run_at, runs, done) VALUES ($1, '', 0, 0, 0, 0)
             ON CONFLICT (job) DO NOTHING",
        )
        .bind(t.job);
        let mut take = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(t.job).bind(t.holder).bind(micros(t.until)).bind(now);
        if !t.force {
            take = take.bind(due_before);
        }
        self.write(Commit::Bookkeeping, async |tx| {
            execute(row, &mut *tx).await?;
            Ok(execute(take, &mut *tx).await? == 1)
        })
        .await
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
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(job).bind(holder).bind(micros(at)).bind(error);
        self.write(Commit::Bookkeeping, async |tx| fetch_optional(q, &mut *tx, |r| r.count_u64("done")).await).await
    }

    async fn lease(&self, job: &str) -> Result<Option<Lease>, StoreError> {
        let sql = format!("SELECT {LEASE_COLUMNS} FROM job_leases WHERE job = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(job), &self.reader, lease).await
    }

    async fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        let sql = format!("SELECT {LEASE_COLUMNS} FROM job_leases ORDER BY job");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &self.reader, lease).await
    }
}
