//! Point reads that wait at the same moment share one statement (ADR 0023;
//! first for introspections, SPEC TP1, then for API keys and medical codes,
//! SPEC SS3).
//!
//! A point read is one indexed lookup. At peak most of its cost is not that
//! lookup but what surrounds it: a connection handed to a SQLite worker
//! thread and back, or a PostgreSQL round trip with its executor set-up.
//! Here the reads of one kind waiting at one moment share one statement
//! (`WITH q (n, …) AS (VALUES …) SELECT …`): a request starts a read at
//! once on a task of its own when fewer than [`IN_FLIGHT`] are running;
//! otherwise it waits for the next, which takes everything that waits (up
//! to [`MAX_BATCH`]). Nothing waits on a timer, so a lone read is made as
//! soon as it arrives, and every read starts after its request arrived: a
//! change committed before it is seen (no cache).
//!
//! The reads run on spawned tasks, not on the requests' futures: a request
//! dropped by its client cannot strand the others of its batch.

use idlink_core::ports::StoreError;
use sqlx::AnyPool;
use sqlx::any::AnyRow;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::oneshot;

use crate::rows::{AnyQuery, Columns, fetch_all};

/// Most reads in one statement.
pub(crate) const MAX_BATCH: usize = 64;

/// Statements a read runs on one pool connection before it gives it back.
const HOLD_FOR: usize = 16;

/// Reads running at once: enough to keep both the database and idlink busy
/// on two cores, few enough that arrivals gather into the next read.
const IN_FLIGHT: usize = 2;

/// What one read asks: a row of the statement's `q`.
pub(crate) trait Ask: Send + 'static {
    /// The columns of `q` after `n`, in the order [`Ask::bind`] binds them.
    const COLUMNS: &'static [&'static str];
    /// Binds this ask's values.
    fn bind(self, q: AnyQuery<'_>) -> AnyQuery<'_>;
    /// Binds a padding row's values, typed as the columns and matching no row.
    fn pad(q: AnyQuery<'_>) -> AnyQuery<'_>;
}

type Answer<T> = Result<Option<T>, StoreError>;
type Waiting<A, T> = Vec<(A, oneshot::Sender<Answer<T>>)>;

struct Queue<A, T> {
    waiting: Waiting<A, T>,
    running: usize,
}

/// The reads of one kind waiting for a statement, shared by the store's clones.
pub(crate) struct ReadBatches<A, T>(Arc<Mutex<Queue<A, T>>>);

impl<A, T> Clone for ReadBatches<A, T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<A, T> Default for ReadBatches<A, T> {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Queue { waiting: Vec::new(), running: 0 })))
    }
}

impl<A, T> std::fmt::Debug for ReadBatches<A, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadBatches")
    }
}

impl<A: Ask, T: Send + 'static> ReadBatches<A, T> {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue<A, T>> {
        // Nothing panics while holding the lock; a poisoned queue is still consistent.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads `ask` in the next statement of `sql`.
    pub(crate) async fn read(&self, pool: &AnyPool, ask: A, sql: &'static Statements<A, T>) -> Answer<T> {
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
        answer.await.map_err(|_| StoreError::Unavailable("the batched read stopped".into()))?
    }
}

/// A read slot. A read that finds nothing waiting gives it back in the same
/// locked step (an ask arriving then starts a read of its own); a read that
/// ends otherwise (a panic, its future dropped) gives it back on drop and
/// fails the asks still waiting, so none waits for a read that will not come.
struct Running<A: Ask, T: Send + 'static> {
    batches: ReadBatches<A, T>,
    finished: bool,
}

impl<A: Ask, T: Send + 'static> Drop for Running<A, T> {
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
            let _ = reply.send(Err(StoreError::Unavailable("the batched read failed".into())));
        }
    }
}

/// Reads what waits, a statement at a time, until nothing does.
async fn drain<A: Ask, T: Send + 'static>(mut running: Running<A, T>, pool: AnyPool, sql: &'static Statements<A, T>) {
    // One connection for up to HOLD_FOR statements: at peak a run reads statement after statement,
    // and taking a connection from the pool and giving it back for each cost more than the read.
    // Given back after that, so that a run that never ends does not keep it from other reads.
    let mut conn: Option<sqlx::pool::PoolConnection<sqlx::Any>> = None;
    let mut held_for = 0;
    loop {
        if held_for >= HOLD_FOR {
            (conn, held_for) = (None, 0);
        }
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
        let (asks, replies): (Vec<A>, Vec<_>) = batch.into_iter().unzip();
        held_for += 1;
        let read = match conn.as_mut() {
            Some(c) => read_batch(c, asks, sql).await,
            None => match pool.acquire().await {
                Ok(c) => read_batch(conn.insert(c), asks, sql).await,
                Err(e) => Err(crate::rows::store_err(e)),
            },
        };
        match read {
            Ok(mut found) => {
                for (i, reply) in replies.into_iter().enumerate() {
                    let answer = found.get_mut(i).map_or(Ok(None), |slot| std::mem::replace(slot, Ok(None)));
                    let _ = reply.send(answer);
                }
            }
            Err(e) => {
                // The connection may be what failed: the next statement takes another.
                conn = None;
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
pub(crate) struct Statements<A, T> {
    by_size: OnceLock<Vec<String>>,
    /// `SELECT q.n AS n, … FROM q …` over `q (n, A::COLUMNS)`: at most one row per ask, carrying its `n`.
    select: fn() -> String,
    decode: fn(&AnyRow) -> Result<T, StoreError>,
    /// The asks it reads (their columns make `q`).
    asks: std::marker::PhantomData<fn() -> A>,
}

impl<A: Ask, T> Statements<A, T> {
    pub(crate) const fn new(select: fn() -> String, decode: fn(&AnyRow) -> Result<T, StoreError>) -> Self {
        Self { by_size: OnceLock::new(), select, decode, asks: std::marker::PhantomData }
    }

    fn for_size(&self, size: usize) -> &str {
        let all = self.by_size.get_or_init(|| {
            let select = (self.select)();
            let arity = A::COLUMNS.len() + 1;
            let mut out = Vec::new();
            let mut n = 1;
            while n <= MAX_BATCH {
                let rows: Vec<String> = (0..n)
                    .map(|i| {
                        let params: Vec<String> = (1..=arity).map(|k| format!("${}", i * arity + k)).collect();
                        format!("({})", params.join(", "))
                    })
                    .collect();
                out.push(format!("WITH q (n, {}) AS (VALUES {}) {select}", A::COLUMNS.join(", "), rows.join(", ")));
                n *= 2;
            }
            out
        });
        let index = usize::try_from(size.next_power_of_two().trailing_zeros()).unwrap_or(0);
        all.get(index).or(all.last()).map_or("", String::as_str)
    }
}

/// Each ask's answer: its row decoded (a row that does not decode fails only its own ask), or none.
async fn read_batch<A: Ask, T>(
    conn: &mut sqlx::AnyConnection,
    asks: Vec<A>,
    sql: &'static Statements<A, T>,
) -> Result<Vec<Answer<T>>, StoreError> {
    let (count, padded) = (asks.len(), asks.len().next_power_of_two());
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.for_size(padded)));
    for (i, ask) in asks.into_iter().enumerate() {
        q = ask.bind(q.bind(i64::try_from(i).unwrap_or(i64::MAX)));
    }
    // Padding asks for nothing: one probe of a primary key finds no row, no other table is read.
    for i in count..padded {
        q = A::pad(q.bind(i64::try_from(i).unwrap_or(i64::MAX)));
    }
    let rows = fetch_all(q, conn, |r| Ok((r.col::<i64>("n")?, (sql.decode)(r).map(Some)))).await?;
    let mut found: Vec<Answer<T>> = (0..count).map(|_| Ok(None)).collect();
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

    fn decode(_: &AnyRow) -> Result<(), StoreError> {
        Err(StoreError::Corrupt("unused".into()))
    }

    struct FourColumns;

    impl Ask for FourColumns {
        const COLUMNS: &'static [&'static str] = &["caller", "secret_hash", "token_hash", "at"];
        fn bind(self, q: AnyQuery<'_>) -> AnyQuery<'_> {
            q
        }
        fn pad(q: AnyQuery<'_>) -> AnyQuery<'_> {
            q
        }
    }

    static STATEMENTS: Statements<FourColumns, ()> = Statements::new(select, decode);

    #[test]
    fn a_batch_is_padded_to_the_next_power_of_two() {
        assert!(
            STATEMENTS
                .for_size(1)
                .ends_with("q (n, caller, secret_hash, token_hash, at) AS (VALUES ($1, $2, $3, $4, $5)) SELECT q.n FROM q"),
            "{}",
            STATEMENTS.for_size(1)
        );
        let four = STATEMENTS.for_size(4);
        assert!(four.contains("($16, $17, $18, $19, $20)") && !four.contains("$21"), "{four}");
        let most = STATEMENTS.for_size(MAX_BATCH);
        assert!(most.contains(&format!("${}", MAX_BATCH * 5)) && !most.contains(&format!("${}", MAX_BATCH * 5 + 1)));
    }
}
