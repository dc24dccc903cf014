//! Retention as stored (issue 18 point 2, SPEC P7, CP): the purges of each
//! kind of record past its rule, and the legal holds that stop them.
//!
//! Every purge spares the records of a held user: one with a legal hold in
//! force, or with an open review case. The audit chain is purged only as a
//! prefix (so it stops before the first record about a held user).

use super::StoreError;
use super::audit::{AuditEntry, AuditPurge};
use async_trait::async_trait;
use idlink_domain::UserId;
use jiff::Timestamp;
use serde::Serialize;

/// The oldest record kept of each kind purged by age.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OldestKept {
    pub query_log: Option<Timestamp>,
    pub audit_log: Option<Timestamp>,
    /// By the sign-in's time (a sign-in is purged by the end of its session).
    pub sign_ins: Option<Timestamp>,
    /// By the day the report was ready.
    pub credit_files: Option<Timestamp>,
    pub idempotency: Option<Timestamp>,
    /// Delivered events, by the delivery.
    pub outbox: Option<Timestamp>,
}

/// A legal hold on a user's records (a dispute, an authority's request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegalHold {
    pub id: String,
    pub user_id: UserId,
    /// Why, in a word the console shows: `dispute`, `authority`, `litigation`.
    pub reason: String,
    /// The dispute's or request's reference (no personal data).
    pub reference: String,
    pub placed_by: String,
    pub placed_at: Timestamp,
    pub released_by: Option<String>,
    pub released_at: Option<Timestamp>,
}

/// A hold by an open review case: the case's user is held while it is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseHold {
    pub user_id: UserId,
    pub case_id: String,
    pub opened_at: Timestamp,
}

#[async_trait]
pub trait RetentionStore: Send + Sync {
    async fn oldest_kept(&self) -> Result<OldestKept, StoreError>;
    /// Deletes at most `limit` balance queries made before `before`, none of a held user.
    async fn purge_query_log(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError>;
    /// Deletes at most `limit` sessions (sign-in records) that ended before `before`, none of a held user.
    async fn purge_sign_ins(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError>;
    /// Drops the sealed report and PDF of at most `limit` credit reports
    /// ready before `before` (the request row, its fee and state, stay),
    /// none of a held user.
    async fn purge_credit_files(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError>;
    /// The first audit record after every purge: its seq and time.
    async fn first_audit_record(&self) -> Result<Option<(i64, Timestamp)>, StoreError>;
    /// The first audit record about a held user, if any.
    async fn first_held_audit_seq(&self) -> Result<Option<i64>, StoreError>;
    /// Records `purge` and appends `audit`, in one transaction with the
    /// chain locked; false (nothing done) when the first record after every
    /// purge is no longer `purge.first_seq` (another node purged first), or
    /// a record it covers is now about a held user. The records go with
    /// [`Self::delete_purged_audit`].
    async fn purge_audit(&self, purge: &AuditPurge, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Deletes at most `limit` of the records the purges cover (oldest first).
    async fn delete_purged_audit(&self, limit: u32) -> Result<u64, StoreError>;
    /// False (nothing written) when there is no such user.
    async fn place_hold(&self, hold: &LegalHold, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// False when the hold does not exist or was released already.
    async fn release_hold(&self, id: &str, by: &str, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Holds in force, and the released ones when `released` (newest first).
    async fn legal_holds(&self, released: bool) -> Result<Vec<LegalHold>, StoreError>;
    /// The users held by an open review case.
    async fn case_holds(&self) -> Result<Vec<CaseHold>, StoreError>;
}
