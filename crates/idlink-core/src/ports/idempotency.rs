//! Idempotency ports (SPEC P4, ADR 0004): claims on keys as stored, and the
//! claim the running request holds, which every store write of that request
//! marks "effect committed" ([`within`], [`current`]).

use super::StoreError;
use async_trait::async_trait;
use jiff::Timestamp;
use std::future::Future;

/// What a store knows about an `Idempotency-Key` when a request claims it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First use (or the earlier record expired): the caller executes the request and then completes the claim.
    Claimed,
    /// A request with this key finished. `body` is the sealed answer, or
    /// none when it was not kept (answers that minted a secret).
    Completed { request_hash: String, status: u16, body: Option<Vec<u8>> },
    /// A request with this key is still running.
    InProgress { request_hash: String },
    /// A request with this key committed its effect but never recorded its
    /// answer (its server stopped), and is older than the stale limit: it
    /// must not run again.
    Interrupted { request_hash: String, received_at: Timestamp },
}

/// A request's claim on a key, as [`IdempotencyStore::claim_idempotency_key`] takes it.
#[derive(Debug, Clone)]
pub struct NewClaim<'a> {
    pub claim: &'a ClaimRef,
    /// Keyed hash of method, path, query and body (a plain hash of a short secret in a body could be reversed).
    pub request_hash: &'a str,
    /// An unfinished claim older than this with no committed effect is taken over (its holder crashed).
    pub stale_before: Timestamp,
    /// The record is forgotten (and purged) after this instant.
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims a key, or reports what an earlier, unexpired claim holds.
    async fn claim_idempotency_key(&self, claim: &NewClaim<'_>) -> Result<IdempotencyClaim, StoreError>;
    /// Records the answer of the request holding `claim` (`body`: sealed, or none when not kept).
    /// A claim already completed (by the effect's own transaction) is left as it is.
    async fn complete_idempotency_key(&self, claim: &ClaimRef, status: u16, body: Option<&[u8]>) -> Result<(), StoreError>;
    /// Forgets a claim whose request committed no effect, so the client may retry.
    /// False (and nothing forgotten) when an effect committed.
    async fn release_idempotency_key(&self, claim: &ClaimRef) -> Result<bool, StoreError>;
    /// Deletes the records that expired before `now`; returns how many.
    async fn purge_idempotency_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError>;
}

tokio::task_local! {
    static CURRENT: ClaimRef;
}

/// The claim a request holds on its key while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRef {
    pub owner: String,
    pub key: String,
    /// Random per claim: a claim taken over after a crash gets a new one, which fences the old holder out.
    pub token: String,
    /// When the request was received (recorded as the effect's time).
    pub at: jiff::Timestamp,
}

/// Runs `f` (the request) holding `claim`.
pub async fn within<F: Future>(claim: ClaimRef, f: F) -> F::Output {
    CURRENT.scope(claim, f).await
}

/// The claim of the request running on this task, if it has one.
pub fn current() -> Option<ClaimRef> {
    CURRENT.try_with(Clone::clone).ok()
}
