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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSessionRow {
    pub id: OperatorSessionId,
    pub operator_id: OperatorId,
    pub secret_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait OperatorStore: Send + Sync {
    async fn insert_operator(&self, op: &OperatorRow, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn operator_by_username(&self, username: &str) -> Result<Option<OperatorRow>, StoreError>;
    async fn operator(&self, id: &OperatorId) -> Result<Option<OperatorRow>, StoreError>;
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
}

/// An operator lacks the role an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this action needs the `{0}` role")]
pub struct RoleRequired(pub &'static str);

/// Whether `op` may act in `role` (admins may act in every role).
pub fn require(op: &OperatorRow, role: Role) -> Result<(), RoleRequired> {
    if op.roles.contains(&role) || op.roles.contains(&Role::Admin) { Ok(()) } else { Err(RoleRequired(role.as_str())) }
}
