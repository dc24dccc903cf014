//! The host app's own stores that may stand in the way of a real-name
//! revocation or an account cancellation (SPEC RV1, issue 17): its wallet,
//! lending, subscriptions and directories.
//!
//! Each is registered by configuration (an unregistered one is never asked
//! and never blocks); a registered one answers for the user within the
//! preflight's deadline, or it is itself a blocker.

use async_trait::async_trait;
use idlink_domain::revocation::{Blocker, Operation, PaymentLimits, Source};

/// The user as the host's stores know them: idlink's user id (the host app
/// runs idlink and keys its own records by it).
#[derive(Debug, Clone, Copy)]
pub struct HostSubject<'a> {
    pub user_id: &'a str,
    pub operation: Operation,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the host's {store} store did not answer; retry after {retry_after_secs} s")]
pub struct HostUnavailable {
    pub store: &'static str,
    pub retry_after_secs: u64,
}

/// A store's answer about a change (the saga's "apply" half, `docs/revocation.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeAnswer {
    /// Applied and held: the store keeps the user's funds operations back until commit or undo.
    Applied,
    /// The store will not apply it (a blocker appeared since the preflight).
    Refused {
        reason: String,
    },
    Committed,
    /// Undone, or never applied (an undo of a change the store does not know is done).
    Undone,
    /// An answer the protocol does not document: nothing is decided.
    Pending {
        status: String,
    },
}

/// A change as the store holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeState {
    pub answer: ChangeAnswer,
    /// Funds operations the store saw for the user since it applied the change (the wallet's).
    pub funds_operations: u32,
}

#[async_trait]
pub trait HostStores: Send + Sync {
    /// Tells the host's wallet (its payment system, which enforces them) the
    /// account's payment limits from now (RV3). A `PUT` keyed by the user and
    /// carrying `event_id`: safe to repeat; the wallet keeps the latest.
    async fn publish_limits(&self, event_id: &str, user_id: &str, limits: &PaymentLimits) -> Result<(), HostUnavailable>;

    /// The sources this deployment registered, in [`Source::HOST`] order.
    fn registered(&self) -> Vec<Source>;

    /// What `source` holds against the operation for the user: each blocker
    /// with its item (masked by the source where it names a person) and
    /// amount. A read: safe to repeat.
    async fn blockers(&self, source: Source, subject: HostSubject<'_>) -> Result<Vec<Blocker>, HostUnavailable>;

    /// Applies the change `change_id` (prepare): idempotent by `change_id`.
    async fn apply(&self, source: Source, change_id: &str, subject: HostSubject<'_>) -> Result<ChangeAnswer, HostUnavailable>;
    /// The change as the store holds it, with the funds operations it saw since.
    async fn change(&self, source: Source, change_id: &str) -> Result<ChangeState, HostUnavailable>;
    /// Makes an applied change final. Idempotent.
    async fn commit(&self, source: Source, change_id: &str) -> Result<ChangeAnswer, HostUnavailable>;
    /// Undoes the change (the compensation); idempotent, and safe for a change the store never applied.
    async fn undo(&self, source: Source, change_id: &str) -> Result<ChangeAnswer, HostUnavailable>;
}
