//! Port traits implemented by `idlink-store` (SQLite and PostgreSQL).
//!
//! Every method that changes state takes the [`AuditEntry`](crate::audit::AuditEntry)
//! describing it and writes both in one transaction.

use crate::audit::{AuditEntry, AuditRecord, Checkpoint};
use async_trait::async_trait;
use idlink_crypto::WrappedDataKey;
use idlink_domain::{ApiKeyId, UserId};
use jiff::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule held: names the rule (a constraint or index name).
    #[error("unique rule `{0}` violated")]
    Unique(String),
    /// The database could not be reached or answered an error.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Stored data does not have the expected shape.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// A user row as stored: personal fields are ciphertexts under the user's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: UserId,
    pub phone_cipher: Vec<u8>,
    pub phone_index: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: ApiKeyId,
    pub name: String,
    pub secret_hash: String,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

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
    pub claim: &'a crate::idempotency::ClaimRef,
    /// Keyed hash of method, path, query and body (a plain hash of a short secret in a body could be reversed).
    pub request_hash: &'a str,
    /// An unfinished claim older than this with no committed effect is taken over (its holder crashed).
    pub stale_before: Timestamp,
    /// The record is forgotten (and purged) after this instant.
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn insert_user(&self, user: &UserRow, key: &WrappedDataKey, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Reads a user and records the read in the audit log (P7: reads of personal data are audited).
    async fn read_user(&self, id: &UserId, audit: &AuditEntry) -> Result<Option<(UserRow, Option<WrappedDataKey>)>, StoreError>;
    async fn find_user_by_phone_index(&self, index: &str) -> Result<Option<UserId>, StoreError>;
    /// The blind index of the user's phone (matching a code's challenge needs no decryption).
    async fn phone_index(&self, id: &UserId) -> Result<Option<String>, StoreError>;
    /// Deletes the user's data key (crypto-shredding). Returns false when there was none.
    async fn shred_user_key(&self, id: &UserId, audit: &AuditEntry) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn wrapped_key(&self, id: &str) -> Result<Option<WrappedDataKey>, StoreError>;
    /// Inserts a system key unless one with that id exists; returns the stored one.
    async fn ensure_wrapped_key(&self, key: &WrappedDataKey) -> Result<WrappedDataKey, StoreError>;
    /// Data keys whose wrapping master key is not `active_master_id`, in id order after `after`.
    async fn keys_not_wrapped_by(&self, active_master_id: &str, after: &str, limit: u32) -> Result<Vec<WrappedDataKey>, StoreError>;
    /// Replaces a key's ciphertext if it still equals `old` (safe under concurrent rotation).
    async fn replace_wrapped_key(&self, old: &WrappedDataKey, new: &WrappedDataKey) -> Result<bool, StoreError>;
    async fn count_keys_by_master(&self) -> Result<Vec<(String, u64)>, StoreError>;
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn insert_api_key(&self, key: &ApiKeyRow, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRow>, StoreError>;
    /// The key and, in the same read, the session with this id (requests carry both).
    async fn api_key_with_session(
        &self,
        id: &ApiKeyId,
        session_id: &str,
    ) -> Result<(Option<ApiKeyRow>, Option<crate::auth::SessionRow>), StoreError>;
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError>;
    async fn revoke_api_key(&self, id: &ApiKeyId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims a key, or reports what an earlier, unexpired claim holds.
    async fn claim_idempotency_key(&self, claim: &NewClaim<'_>) -> Result<IdempotencyClaim, StoreError>;
    /// Records the answer of the request holding `claim` (`body`: sealed, or none when not kept).
    /// A claim already completed (by the effect's own transaction) is left as it is.
    async fn complete_idempotency_key(
        &self,
        claim: &crate::idempotency::ClaimRef,
        status: u16,
        body: Option<&[u8]>,
    ) -> Result<(), StoreError>;
    /// Forgets a claim whose request committed no effect, so the client may retry.
    /// False (and nothing forgotten) when an effect committed.
    async fn release_idempotency_key(&self, claim: &crate::idempotency::ClaimRef) -> Result<bool, StoreError>;
    /// Deletes the records that expired before `now`; returns how many.
    async fn purge_idempotency_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError>;
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one record in its own transaction (for events with no other change).
    async fn append_audit(&self, entry: &AuditEntry) -> Result<AuditRecord, StoreError>;
    /// Records with `seq > after`, in order, at most `limit`.
    async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;
    async fn audit_records_of_user(&self, user: &UserId, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;
    async fn last_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError>;
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError>;
    /// The chain head: (last seq, last hash).
    async fn audit_head(&self) -> Result<(i64, String), StoreError>;
    /// Stores a signed checkpoint; false (nothing stored) when one with its
    /// `seq` exists already: another signer signed the same head first.
    async fn insert_checkpoint(&self, checkpoint: &Checkpoint) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait HealthStore: Send + Sync {
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Everything a running idlink needs from its database.
pub trait Store:
    UserStore
    + KeyStore
    + ApiKeyStore
    + IdempotencyStore
    + AuditStore
    + HealthStore
    + crate::auth::AuthStore
    + crate::payment::PaymentPasswordStore
    + crate::stepup::StepUpStore
    + crate::identity::IdentityStore
    + crate::operators::OperatorStore
    + crate::reviews::ReviewStore
    + crate::risk::FreezeStore
    + crate::guardians::GuardianStore
    + crate::bindings::BindingStore
    + crate::balance::BalanceStore
    + crate::outbox::OutboxStore
    + crate::jobs::LeaseStore
{
}
impl<T> Store for T where
    T: UserStore
        + KeyStore
        + ApiKeyStore
        + IdempotencyStore
        + AuditStore
        + HealthStore
        + crate::auth::AuthStore
        + crate::payment::PaymentPasswordStore
        + crate::stepup::StepUpStore
        + crate::identity::IdentityStore
        + crate::operators::OperatorStore
        + crate::reviews::ReviewStore
        + crate::risk::FreezeStore
        + crate::guardians::GuardianStore
        + crate::bindings::BindingStore
        + crate::balance::BalanceStore
        + crate::outbox::OutboxStore
        + crate::jobs::LeaseStore
{
}
