//! Periodic jobs that run once per period however many nodes serve
//! (SPEC P3; ADR 0009; `docs/outbox.md`).
//!
//! Each job has one lease row (`job, holder, lease_until`, when it last ran).
//! Every node polls it; a node runs the job when a period has passed since
//! its last run, by any node, and the lease is its own or has expired
//! ([`LeaseStore::take_lease`], one atomic update). The node that ran it
//! keeps the lease a little longer than a period, so it runs the job again
//! next time and what the job exports (a gauge) comes from one node; another
//! node takes over only when the holder missed its turn (it died or
//! stalled). Nodes that did not run it are told when another did
//! ([`PeriodicJob::standby`]), for what each node keeps of its own (a
//! witness file) to catch up.
//!
//! Decisions read the injected [`Clock`]; the nodes' clocks are assumed to
//! agree to well under the takeover margin ([`Schedule::takeover`]).

use crate::ports::leases::{LeaseStore, TakeLease};

use crate::ports::clock::Clock;
use async_trait::async_trait;
use jiff::SignedDuration;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Why a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// The server starts (before it serves).
    Start,
    Periodic,
    /// The server stops (after in-flight requests finished).
    Shutdown,
}

/// Work done once per period across the nodes.
#[async_trait]
pub trait PeriodicJob: Send + Sync {
    /// The lease row's name.
    fn name(&self) -> &'static str;
    fn period(&self) -> SignedDuration;
    /// Runs the job; the error (no personal data) is recorded on the lease and logged.
    async fn run(&self, occasion: Occasion) -> Result<(), String>;
    /// Another node ran the job (or this node just started and did not):
    /// catch up what each node keeps for itself. False when that failed
    /// and should be tried again at the next look.
    async fn standby(&self) -> bool {
        true
    }
    /// Also run at start and at shutdown, unless another live node holds the lease.
    fn at_start_and_shutdown(&self) -> bool {
        false
    }
}

/// How often a node looks at a job's lease, and how long it keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub period: SignedDuration,
    /// A fifth of the period, 100 ms to 5 s: a job runs at most this late.
    pub poll: Duration,
    /// How late the holder may be before another node takes over: three polls, at least 1 s.
    pub takeover: SignedDuration,
}

impl Schedule {
    pub fn of(period: SignedDuration) -> Self {
        let period = period.max(SignedDuration::from_millis(1));
        let fifth = period.unsigned_abs() / 5;
        let poll = fifth.clamp(Duration::from_millis(100), Duration::from_secs(5));
        let takeover = SignedDuration::try_from(poll * 3).unwrap_or(SignedDuration::MAX).max(SignedDuration::from_secs(1));
        Self { period, poll, takeover }
    }
}

/// What a turn did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    Ran,
    /// Another node ran the job since the last look: [`PeriodicJob::standby`] ran.
    CaughtUp,
    /// Not due, or another node holds it.
    Idle,
    /// The lease could not be read or taken (the database is down).
    Failed,
}

/// Runs this node's turns of the periodic jobs.
pub struct Runner {
    pub store: Arc<dyn LeaseStore>,
    pub clock: Arc<dyn Clock>,
    /// This node's name in the lease rows (unique per process).
    pub holder: String,
}

/// What a node remembers of a job between turns.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen {
    /// The finished runs counted at the last look.
    done: Option<u64>,
}

impl Runner {
    /// One look at `job`'s lease: run it if it is this node's turn, else
    /// catch up if another node ran it since the last look.
    pub async fn turn(&self, job: &dyn PeriodicJob, occasion: Occasion, seen: &mut Seen) -> Turn {
        let schedule = Schedule::of(job.period());
        let now = self.clock.now();
        let force = occasion != Occasion::Periodic;
        // A read first: most looks find the job not due and write nothing.
        let lease = match self.store.lease(job.name()).await {
            Ok(lease) => lease,
            Err(e) => {
                tracing::warn!(job = job.name(), error = %e, "reading a periodic job's lease failed; will retry");
                return Turn::Failed;
            }
        };
        if lease.as_ref().is_none_or(|l| l.takeable(&self.holder, now, schedule.period, force)) {
            let until = now.checked_add(schedule.period).and_then(|t| t.checked_add(schedule.takeover)).unwrap_or(now);
            let take = TakeLease { job: job.name(), holder: &self.holder, now, period: schedule.period, until, force };
            // The update checks again, atomically: another node may have been quicker.
            match self.store.take_lease(&take).await {
                Ok(true) => return self.run_taken(job, occasion, schedule.period, seen).await,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(job = job.name(), error = %e, "taking a periodic job's lease failed; will retry");
                    return Turn::Failed;
                }
            }
        }
        let Some(lease) = lease else { return Turn::Idle };
        let changed = seen.done != Some(lease.done);
        if changed && lease.holder != self.holder {
            // Seen only once caught up: a failed catch-up is retried at the next look, not a period later.
            if job.standby().await {
                seen.done = Some(lease.done);
            }
            Turn::CaughtUp
        } else {
            seen.done = Some(lease.done);
            Turn::Idle
        }
    }

    async fn run_taken(&self, job: &dyn PeriodicJob, occasion: Occasion, period: SignedDuration, seen: &mut Seen) -> Turn {
        metrics::counter!("idlink_job_runs_total", "job" => job.name()).increment(1);
        // The lease lasts a period plus the takeover margin and is not renewed:
        // a periodic run is cut at one period, so it never overlaps another
        // node's run (the jobs work in bounded, repeatable steps and pick up
        // next period). The runs at start and shutdown are not cut: the start
        // may walk a whole chain once.
        let result = if occasion == Occasion::Periodic {
            match tokio::time::timeout(period.unsigned_abs(), job.run(occasion)).await {
                Ok(result) => result,
                Err(_) => Err(format!("stopped after its period ({} ms); it continues next period", period.as_millis())),
            }
        } else {
            job.run(occasion).await
        };
        if let Err(e) = &result {
            metrics::counter!("idlink_job_failures_total", "job" => job.name()).increment(1);
            tracing::warn!(job = job.name(), error = %e, "periodic job failed; it runs again next period");
        }
        let release = occasion == Occasion::Shutdown;
        match self.store.finish_lease(job.name(), &self.holder, self.clock.now(), release, result.err().as_deref()).await {
            Ok(done) => seen.done = done.or(seen.done),
            Err(e) => tracing::warn!(job = job.name(), error = %e, "recording a periodic job's run failed"),
        }
        Turn::Ran
    }

    /// The turn at start: the job runs if it runs at start (and no other
    /// live node holds it), else this node catches up.
    pub async fn start(&self, job: &dyn PeriodicJob, seen: &mut Seen) -> Turn {
        if job.at_start_and_shutdown() {
            return self.turn(job, Occasion::Start, seen).await;
        }
        Turn::Idle
    }

    /// The turn at shutdown, for jobs that run then.
    pub async fn shutdown(&self, job: &dyn PeriodicJob) -> Turn {
        if !job.at_start_and_shutdown() {
            return Turn::Idle;
        }
        self.turn(job, Occasion::Shutdown, &mut Seen::default()).await
    }

    /// Looks at the job's lease every poll until `stop`.
    pub async fn run(&self, job: &dyn PeriodicJob, mut seen: Seen, mut stop: watch::Receiver<bool>) {
        let schedule = Schedule::of(job.period());
        loop {
            self.turn(job, Occasion::Periodic, &mut seen).await;
            tokio::select! {
                _ = tokio::time::sleep(schedule.poll) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::leases::Lease;
    use jiff::Timestamp;

    #[test]
    fn a_lease_is_taken_when_due_and_free_or_ours() {
        let t = |s: i64| Timestamp::from_second(1_800_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH);
        let lease = Lease {
            job: "j".into(),
            holder: "a".into(),
            lease_until: t(70),
            last_run_at: t(0),
            runs: 1,
            done: 1,
            last_done_at: None,
            last_error: None,
        };
        let p = SignedDuration::from_secs(60);
        assert!(!lease.takeable("a", t(59), p, false), "not due");
        assert!(lease.takeable("a", t(60), p, false), "due, ours");
        assert!(!lease.takeable("b", t(60), p, false), "due, held by a");
        assert!(!lease.takeable("b", t(60), p, true), "forced, still held by a");
        assert!(lease.takeable("b", t(70), p, false), "expired");
        assert!(lease.takeable("a", t(-5), p, false), "the clock went back");
        assert!(lease.takeable("a", t(1), p, true), "forced, ours");
    }

    #[test]
    fn polls_are_a_fifth_of_the_period_within_bounds() {
        let s = Schedule::of(SignedDuration::from_secs(60));
        assert_eq!((s.poll, s.takeover), (Duration::from_secs(5), SignedDuration::from_secs(15)));
        let s = Schedule::of(SignedDuration::from_secs(1));
        assert_eq!((s.poll, s.takeover), (Duration::from_millis(200), SignedDuration::from_secs(1)));
        let s = Schedule::of(SignedDuration::from_secs(15));
        assert_eq!((s.poll, s.takeover), (Duration::from_secs(3), SignedDuration::from_secs(9)));
        assert_eq!(Schedule::of(SignedDuration::ZERO).poll, Duration::from_millis(100));
    }
}
