//! Risk-freeze ports (SPEC ID8): freezes as stored and the login signals read for risk.

use super::StoreError;
use super::audit::AuditEntry;
use super::outbox::NewEvent;
use super::reviews::CaseRow;
use async_trait::async_trait;
use idlink_domain::{CaseId, SessionId, UserId};
use jiff::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeRow {
    pub user_id: UserId,
    pub reason: String,
    pub frozen_at: Timestamp,
    pub case_id: CaseId,
}

#[async_trait]
pub trait FreezeStore: Send + Sync {
    /// The active freeze of the user, if any.
    async fn active_freeze(&self, user: &UserId) -> Result<Option<FreezeRow>, StoreError>;
    /// Freezes the user and opens the review case, unless already frozen;
    /// false then. With it, the user's active grants are suspended and
    /// `event` (the lifecycle event `account_disabled`) is written.
    async fn freeze(&self, user: &UserId, reason: &str, case: &CaseRow, event: &NewEvent, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Sessions opened for the user since `since` (login bursts).
    async fn sessions_since(&self, user: &UserId, since: Timestamp) -> Result<u32, StoreError>;
    /// The client IP of the user's login before `session_id`, if recorded.
    async fn previous_login_ip(&self, user: &UserId, session_id: &SessionId) -> Result<Option<String>, StoreError>;
    /// Records a login the risk rules did not simply allow (`decision`:
    /// `step_up` or `freeze`), with its audit record; once per session (a repeat records nothing).
    async fn record_abnormal_login(
        &self,
        user: &UserId,
        session_id: &SessionId,
        decision: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// The user's latest abnormal login at or after `since`, if any.
    async fn last_abnormal_login(&self, user: &UserId, since: Timestamp) -> Result<Option<Timestamp>, StoreError>;
}
