//! The revocation sagas' table (SPEC RV2, issue 17): one row per saga,
//! moved only by [`RevocationStore::advance_revocation`], which checks the
//! version it read (so two nodes driving the same saga cannot both move it)
//! and writes a step's own database effect (the grants suspended, resumed
//! or revoked, the event to the apps) in the same transaction as the move.

use super::StoreError;
use super::audit::AuditEntry;
use super::outbox::NewEvent;
use async_trait::async_trait;
use idlink_domain::UserId;
use idlink_domain::revocation::Operation;
use idlink_domain::revocation_saga::Saga;
use jiff::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRow {
    /// `rvk_…`; also the change id the host stores are given (with the store's name).
    pub id: String,
    pub user_id: UserId,
    pub operation: Operation,
    pub saga: Saga,
    /// The window's end: a saga still short of commit then rolls back.
    pub deadline: Timestamp,
    /// An account cancellation: when it must be closed (SPEC CP, 15 working days), and whether
    /// that count crossed a year without a holiday notice.
    pub due: Option<Due>,
    /// An account cancellation: when the account was closed (the user's data key destroyed).
    pub closed_at: Option<Timestamp>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// When an account cancellation is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub at: Timestamp,
    /// Counted through a year whose public holidays idlink does not hold yet.
    pub provisional: bool,
}

/// A retained identity's ciphertexts, as a closure seals them again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedCiphers {
    pub revocation_id: String,
    pub name_cipher: Vec<u8>,
    pub id_cipher: Vec<u8>,
    pub birth_cipher: Option<Vec<u8>>,
    /// `None`: sealed under the user's own data key.
    pub key_id: Option<String>,
}

/// A retained identity whose period has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedEnd {
    pub revocation_id: String,
    pub user_id: UserId,
    pub key_id: Option<String>,
}

/// What a committed cancellation's closure writes, in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct Closure<'a> {
    pub at: Timestamp,
    /// The user's retained identities sealed again under `retention_key`.
    pub resealed: &'a [RetainedCiphers],
    pub retention_key: Option<&'a idlink_crypto::WrappedDataKey>,
    /// The user's key was already gone (the host shredded the user before the closure): what the
    /// law kept under it is lost with it, and the closure goes on without resealing.
    pub key_lost: bool,
}

/// What a step does to the user's OAuth grants, with the move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantEffect {
    /// Active grants held: their tokens are inactive at introspection (a
    /// freeze's suspension is apart: neither lifts the other).
    Hold,
    /// Held grants active again (a rollback), or suspended when the account was frozen meanwhile.
    Release,
    /// Every grant revoked for good, with its refresh families, access tokens and sessions.
    Revoke,
}

/// One move of a saga, as [`RevocationStore::advance_revocation`] writes it.
#[derive(Debug, Clone, Copy)]
pub struct Move<'a> {
    pub next: &'a Saga,
    pub at: Timestamp,
    /// The step's effect on the grants, with the event that tells the apps.
    pub change: Option<(GrantEffect, &'a NewEvent)>,
    /// A committed real-name revocation: the identity this saga marked leaves business use, kept until then.
    pub retire_identity: Option<Timestamp>,
    /// `Some(true)`: the user's identity is marked pending recycle by this saga;
    /// `Some(false)`: this saga's mark is lifted (a rollback).
    pub mark_identity: Option<bool>,
    /// The next login needs an extra SMS check (a committed revocation), for this reason.
    pub login_check: Option<&'a str>,
    /// An event to the host's stores written with the move (the payment limits a committed revocation leaves).
    pub host_event: Option<&'a NewEvent>,
}

#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// A new saga; `Unique` when the user already has one open.
    async fn insert_revocation(&self, row: &RevocationRow, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn revocation(&self, id: &str) -> Result<Option<RevocationRow>, StoreError>;
    /// Opens the review of a minor's or a foreign document's request
    /// (`CaseKind::Revocation`); `Unique` when one for the same reference is open.
    async fn open_review(&self, case: &super::reviews::CaseRow, audit: &AuditEntry) -> Result<(), StoreError>;
    /// The user's latest saga, open or final.
    async fn latest_revocation_of(&self, user: &UserId) -> Result<Option<RevocationRow>, StoreError>;
    /// Open sagas (forward or compensating), least recently moved first.
    async fn open_revocations(&self, limit: u32) -> Result<Vec<RevocationRow>, StoreError>;
    /// Moves the saga from `version` to `m.next` with the move's effects
    /// ([`Move`]) and its audit record, in one transaction. `false` (and nothing written) when another node
    /// moved it first.
    async fn advance_revocation(&self, id: &str, version: i64, m: &Move<'_>, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Whether the user's identity still carries the pending-recycle mark of saga `id`
    /// (a verification since clears it: the identity changed).
    async fn identity_marked(&self, user: &UserId, id: &str) -> Result<bool, StoreError>;
    /// Committed account cancellations not closed yet, the oldest first.
    async fn unclosed_cancellations(&self, limit: u32) -> Result<Vec<RevocationRow>, StoreError>;
    /// Account cancellations not closed by their due time at `now`, the most overdue first:
    /// still running, or rolled back because a host store stayed silent (`timed_out`: the
    /// request failed for want of the system, not of the user) and not asked again since.
    async fn overdue_cancellations(&self, now: Timestamp, limit: u32) -> Result<Vec<RevocationRow>, StoreError>;
    /// The user's retained identities' ciphertexts.
    async fn retained_ciphers(&self, user: &UserId) -> Result<Vec<RetainedCiphers>, StoreError>;
    /// Closes the account of cancellation `id`, in one transaction with its audit record: the
    /// retained identities take their new ciphertexts and the retention key is stored; the
    /// user's data key is destroyed (every other ciphertext of theirs is unreadable from now
    /// on); their sessions end, their bindings end, their blind indexes, payment password and
    /// devices go; the saga is marked closed. `false` (nothing written) when it was closed
    /// already; an error when a retained identity would be left under the key that goes.
    async fn close_account(&self, id: &str, user: &UserId, c: &Closure<'_>, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Stores `key` and the user's retained identities sealed again under it (each still under
    /// the user's key until now), in one transaction with its audit record: before the
    /// user's key goes by another path than a closure.
    async fn reseal_retained(
        &self,
        user: &UserId,
        resealed: &[RetainedCiphers],
        key: &idlink_crypto::WrappedDataKey,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Retained identities whose `retain_until` has passed at `now`.
    async fn retained_ended(&self, now: Timestamp, limit: u32) -> Result<Vec<RetainedEnd>, StoreError>;
    /// Shreds a retained identity at the end of its period: the row goes, and its retention
    /// key with it when no other retained row uses that key. `false` when it was gone already.
    async fn shred_retained(&self, end: &RetainedEnd, audit: &AuditEntry) -> Result<bool, StoreError>;
}
