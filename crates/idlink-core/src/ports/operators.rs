//! Operator ports (SPEC P5): operators, their roles and sessions as stored.

use super::StoreError;
use super::audit::AuditEntry;
use async_trait::async_trait;
use idlink_domain::{OperatorId, OperatorSessionId};
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Reviewer,
    Auditor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Role::Reviewer, Role::Auditor, Role::Admin].into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRow {
    pub id: OperatorId,
    pub username: String,
    pub password_hash: String,
    pub totp_cipher: Vec<u8>,
    pub roles: Vec<Role>,
    pub created_at: Timestamp,
    /// On duty: paged when a review case breaches its SLA (issue 13).
    pub on_duty: bool,
    /// The phone that pages the operator, sealed like the TOTP secret.
    pub phone_cipher: Option<Vec<u8>>,
    /// Failed sign-ins since the last success or lock (reset by either).
    pub failed_sign_ins: u32,
    /// Sign-in is refused until then; it ends by itself (or by an admin's unlock).
    pub locked_until: Option<Timestamp>,
}

impl OperatorRow {
    pub fn locked(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSessionRow {
    pub id: OperatorSessionId,
    pub operator_id: OperatorId,
    pub secret_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The last request the session made (the idle timeout counts from it).
    pub last_seen_at: Timestamp,
}

#[async_trait]
pub trait OperatorStore: Send + Sync {
    async fn insert_operator(&self, op: &OperatorRow, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn operator_by_username(&self, username: &str) -> Result<Option<OperatorRow>, StoreError>;
    async fn operator(&self, id: &OperatorId) -> Result<Option<OperatorRow>, StoreError>;
    /// Starts a session and clears the operator's failure count (a success resets it).
    async fn insert_operator_session(&self, s: &OperatorSessionRow, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn operator_session(&self, id: &OperatorSessionId) -> Result<Option<OperatorSessionRow>, StoreError>;
    /// Every operator, by username.
    async fn operators(&self) -> Result<Vec<OperatorRow>, StoreError>;
    /// Puts an operator on or off duty, replacing the paging phone when `phone_cipher` is given.
    /// False if there is no such operator.
    async fn set_on_duty(
        &self,
        id: &OperatorId,
        on_duty: bool,
        phone_cipher: Option<&[u8]>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Counts a failed sign-in (with `audit`, in one transaction); the
    /// `max_failures`-th since the last reset locks the operator until
    /// `lock_until` and resets the count. Returns whether this failure locked.
    async fn record_sign_in_failure(
        &self,
        id: &OperatorId,
        max_failures: u32,
        lock_until: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Ends a lock and clears the failure count; false for an unknown operator.
    async fn unlock_operator(&self, id: &OperatorId, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Ends a session now (sign-out); false if it had already ended.
    async fn end_operator_session(&self, id: &OperatorSessionId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Moves a session's last-seen time forward (never back).
    async fn touch_operator_session(&self, id: &OperatorSessionId, at: Timestamp) -> Result<(), StoreError>;
}

/// An operator lacks the role an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this action needs the `{0}` role")]
pub struct RoleRequired(pub &'static str);

/// Whether `op` may act in `role` (admins may act in every role).
pub fn require(op: &OperatorRow, role: Role) -> Result<(), RoleRequired> {
    if op.roles.contains(&role) || op.roles.contains(&Role::Admin) { Ok(()) } else { Err(RoleRequired(role.as_str())) }
}
