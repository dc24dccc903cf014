//! Introspections read together (SPEC TP1, issue 14; ADR 0023).
//!
//! An introspection is one indexed read (ADR 0020): the caller, its live
//! secret and the token with its grant. At peak most of its cost is not that
//! read but what surrounds it: a connection handed to a SQLite worker thread
//! and back, or a PostgreSQL round trip with its executor set-up. Here the
//! introspections waiting at one moment share one statement: a request
//! starts a read at once on a task of its own when fewer than [`IN_FLIGHT`]
//! are running; otherwise it waits for the next, which takes everything that
//! waits (up to [`MAX_BATCH`]). Nothing waits on a timer, so a lone
//! introspection is read as soon as it arrives, and every read starts after
//! its request arrived: a revocation committed before it is seen (no cache).
//!
//! The reads run on spawned tasks, not on the requests' futures: a request
//! dropped by its client cannot strand the others of its batch.

use idlink_core::ports::StoreError;
use idlink_core::ports::oauth::Introspection;
use sqlx::AnyPool;
use sqlx::any::AnyRow;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::oneshot;

use crate::rows::{Columns, fetch_all};

/// Most introspections in one statement (five parameters each).
pub(crate) const MAX_BATCH: usize = 64;

/// Reads running at once: enough to keep both the database and idlink busy
/// on two cores, few enough that arrivals gather into the next read.
const IN_FLIGHT: usize = 2;

/// What one introspection asks.
pub(crate) struct Ask {
    pub caller: String,
    pub secret_hash: String,
    pub token_hash: String,
    /// Microseconds: secrets expired by then do not match.
    pub now: i64,
}

type Answer = Result<Option<Introspection>, StoreError>;

#[derive(Default)]
struct Queue {
    waiting: Vec<(Ask, oneshot::Sender<Answer>)>,
    running: usize,
}

/// The introspections waiting for a read, shared by the store's clones.
#[derive(Clone, Default)]
pub(crate) struct IntrospectionBatches(Arc<Mutex<Queue>>);

impl std::fmt::Debug for IntrospectionBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntrospectionBatches")
    }
}

impl IntrospectionBatches {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Nothing panics while holding the lock; a poisoned queue is still consistent.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads `ask` in the next statement of `sql`.
    pub(crate) async fn read(&self, pool: &AnyPool, ask: Ask, sql: &'static Statements) -> Answer {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut q = self.queue();
            q.waiting.push((ask, reply));
            let start = q.running < IN_FLIGHT;
            if start {
                q.running += 1;
            }
            start
        };
        if start {
            // The slot is held by the future itself: dropped unpolled (a runtime
            // shutting down), it still gives the slot back.
            let running = Running { batches: self.clone(), finished: false };
            tokio::spawn(drain(running, pool.clone(), sql));
        }
        answer.await.map_err(|_| StoreError::Unavailable("the introspection read stopped".into()))?
    }
}

/// A read slot. A read that finds nothing waiting gives it back in the same
/// locked step (an ask arriving then starts a read of its own); a read that
/// ends otherwise (a panic, its future dropped) gives it back on drop and
/// fails the asks still waiting, so none waits for a read that will not come.
struct Running {
    batches: IntrospectionBatches,
    finished: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let stranded: Vec<_> = {
            let mut q = self.batches.queue();
            q.running = q.running.saturating_sub(1);
            if q.running == 0 { q.waiting.drain(..).collect() } else { Vec::new() }
        };
        for (_, reply) in stranded {
            let _ = reply.send(Err(StoreError::Unavailable("the introspection read failed".into())));
        }
    }
}

/// Reads what waits, a statement at a time, until nothing does.
async fn drain(mut running: Running, pool: AnyPool, sql: &'static Statements) {
    loop {
        // Requests already parsed and about to ask run first, so they join this
        // read: at peak the reads grow instead of multiplying; idle, it costs nothing.
        tokio::task::yield_now().await;
        let batch: Vec<_> = {
            let mut q = running.batches.queue();
            // An ask whose request is gone (its client left, it timed out) is not read.
            q.waiting.retain(|(_, reply)| !reply.is_closed());
            if q.waiting.is_empty() {
                q.running = q.running.saturating_sub(1);
                running.finished = true;
                return;
            }
            let n = q.waiting.len().min(MAX_BATCH);
            q.waiting.drain(..n).collect()
        };
        let (asks, replies): (Vec<Ask>, Vec<_>) = batch.into_iter().unzip();
        match read_batch(&pool, &asks, sql).await {
            Ok(mut found) => {
                for (i, reply) in replies.into_iter().enumerate() {
                    let answer = found.get_mut(i).map_or(Ok(None), |slot| std::mem::replace(slot, Ok(None)));
                    let _ = reply.send(answer);
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(same_error(&e)));
                }
            }
        }
    }
}

/// The statement's error for each of its asks.
fn same_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unique(s) => StoreError::Unique(s.clone()),
        StoreError::Unavailable(s) => StoreError::Unavailable(s.clone()),
        StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
    }
}

/// The statement for each batch size (powers of two up to [`MAX_BATCH`];
/// a batch is padded to the next one, so each connection prepares a few
/// statements, not one per size), and how its rows decode.
pub(crate) struct Statements {
    by_size: OnceLock<Vec<String>>,
    /// `SELECT … FROM q …` over the CTE `q (n, caller, secret_hash, token_hash, at)`.
    select: fn() -> String,
    decode: fn(&AnyRow) -> Result<Introspection, StoreError>,
}

impl Statements {
    pub(crate) const fn new(select: fn() -> String, decode: fn(&AnyRow) -> Result<Introspection, StoreError>) -> Self {
        Self { by_size: OnceLock::new(), select, decode }
    }

    fn for_size(&self, size: usize) -> &str {
        let all = self.by_size.get_or_init(|| {
            let select = (self.select)();
            let mut out = Vec::new();
            let mut n = 1;
            while n <= MAX_BATCH {
                let rows: Vec<String> = (0..n)
                    .map(|i| {
                        let p = i * 5;
                        format!("(${}, ${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4, p + 5)
                    })
                    .collect();
                out.push(format!("WITH q (n, caller, secret_hash, token_hash, at) AS (VALUES {}) {select}", rows.join(", ")));
                n *= 2;
            }
            out
        });
        let index = usize::try_from(size.next_power_of_two().trailing_zeros()).unwrap_or(0);
        all.get(index).or(all.last()).map_or("", String::as_str)
    }
}

/// Each ask's answer: its row decoded (a row that does not decode fails only its own ask), or none.
async fn read_batch(pool: &AnyPool, asks: &[Ask], sql: &'static Statements) -> Result<Vec<Answer>, StoreError> {
    let padded = asks.len().next_power_of_two();
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.for_size(padded)));
    for (i, ask) in asks.iter().enumerate() {
        q = q
            .bind(i64::try_from(i).unwrap_or(i64::MAX))
            .bind(ask.caller.clone())
            .bind(ask.secret_hash.clone())
            .bind(ask.token_hash.clone())
            .bind(ask.now);
    }
    // Padding asks for no caller: one probe of the clients' key finds nothing, no other table is read.
    for i in asks.len()..padded {
        q = q.bind(i64::try_from(i).unwrap_or(i64::MAX)).bind(None::<String>).bind(None::<String>).bind(None::<String>).bind(0_i64);
    }
    let rows = fetch_all(q, pool, |r| Ok((r.col::<i64>("n")?, (sql.decode)(r).map(Some)))).await?;
    let mut found: Vec<Answer> = asks.iter().map(|_| Ok(None)).collect();
    for (n, row) in rows {
        if let Some(slot) = usize::try_from(n).ok().and_then(|n| found.get_mut(n)) {
            *slot = row;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select() -> String {
        "SELECT q.n FROM q".into()
    }

    fn decode(_: &AnyRow) -> Result<Introspection, StoreError> {
        Err(StoreError::Corrupt("unused".into()))
    }

    static STATEMENTS: Statements = Statements::new(select, decode);

    #[test]
    fn a_batch_is_padded_to_the_next_power_of_two() {
        assert!(STATEMENTS.for_size(1).ends_with("AS (VALUES ($1, $2, $3, $4, $5)) SELECT q.n FROM q"), "{}", STATEMENTS.for_size(1));
        let four = STATEMENTS.for_size(4);
        assert!(four.contains("($16, $17, $18, $19, $20)") && !four.contains("$21"), "{four}");
        let most = STATEMENTS.for_size(MAX_BATCH);
        assert!(most.contains(&format!("${}", MAX_BATCH * 5)) && !most.contains(&format!("${}", MAX_BATCH * 5 + 1)));
    }
}
