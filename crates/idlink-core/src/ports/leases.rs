//! The lease rows of periodic jobs (SPEC P3; ADR 0009).

use super::StoreError;
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// A job's lease row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub job: String,
    /// The node that ran it last (empty before the first run).
    pub holder: String,
    /// Until then no other node runs it.
    pub lease_until: Timestamp,
    pub last_run_at: Timestamp,
    /// Runs started, by every node together.
    pub runs: u64,
    /// Runs finished.
    pub done: u64,
    pub last_done_at: Option<Timestamp>,
    /// Why the last finished run failed, if it did.
    pub last_error: Option<String>,
}

impl Lease {
    /// Whether `holder` may take the lease at `now` ([`LeaseStore::take_lease`]
    /// decides again, atomically): it is due (a period since the last run, a
    /// last run in the future, or `force`) and it is `holder`'s or has expired.
    pub fn takeable(&self, holder: &str, now: Timestamp, period: SignedDuration, force: bool) -> bool {
        let due = force || self.last_run_at > now || now.duration_since(self.last_run_at) >= period;
        due && (self.holder == holder || self.lease_until <= now)
    }
}

/// A request for a job's lease.
#[derive(Debug, Clone, Copy)]
pub struct TakeLease<'a> {
    pub job: &'a str,
    pub holder: &'a str,
    pub now: Timestamp,
    /// The job is due when its last run is at least this old (or in the
    /// future: a clock that went back must not stop the job for good).
    pub period: SignedDuration,
    /// The lease is held until then.
    pub until: Timestamp,
    /// Run whatever the last run's age (start and shutdown), still only if
    /// the lease is ours or has expired.
    pub force: bool,
}

#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes the lease and counts a run when the job is due and the lease is
    /// `holder`'s or has expired, in one atomic step; false otherwise.
    async fn take_lease(&self, take: &TakeLease<'_>) -> Result<bool, StoreError>;
    /// Counts the run finished (`error`: why it failed) and, with `release`,
    /// ends the lease now so another node may take it at once. Returns the
    /// finished runs, or none if `holder` no longer holds the lease.
    async fn finish_lease(
        &self,
        job: &str,
        holder: &str,
        at: Timestamp,
        release: bool,
        error: Option<&str>,
    ) -> Result<Option<u64>, StoreError>;
    async fn lease(&self, job: &str) -> Result<Option<Lease>, StoreError>;
    async fn leases(&self) -> Result<Vec<Lease>, StoreError>;
}
