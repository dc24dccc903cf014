//! The payment password as stored (SPEC ID6): its hash and failure count.

use super::StoreError;
use super::audit::AuditEntry;
use async_trait::async_trait;
use idlink_domain::UserId;
use jiff::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentPasswordRow {
    pub hash: String,
    pub failures: u32,
    pub locked_at: Option<Timestamp>,
}

#[async_trait]
pub trait PaymentPasswordStore: Send + Sync {
    async fn payment_password(&self, user: &UserId) -> Result<Option<PaymentPasswordRow>, StoreError>;
    /// Sets (or resets) the hash and clears the failure count, with its audit record.
    async fn set_payment_password(
        &self,
        user: &UserId,
        hash: &str,
        now: Timestamp,
        event: &super::outbox::NewEvent,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Counts one failure; returns the new count. Appends `failed` and, when
    /// the count reaches `max`, `locked`, in the same transaction.
    async fn count_payment_password_failure(
        &self,
        user: &UserId,
        max: u32,
        now: Timestamp,
        failed: &AuditEntry,
        locked: &AuditEntry,
    ) -> Result<u32, StoreError>;
    /// Clears the count after a correct password unless it is locked; false when locked.
    async fn clear_payment_password_failures(&self, user: &UserId, max: u32, audit: &AuditEntry) -> Result<bool, StoreError>;
}
