//! Separate consents to process sensitive personal information, as stored
//! (issue 18 point 1, SPEC CP).

use super::StoreError;
use super::audit::AuditEntry;
use async_trait::async_trait;
use idlink_domain::UserId;
use idlink_domain::consent::ConsentKind;
use jiff::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRow {
    pub id: String,
    pub user_id: UserId,
    pub kind: ConsentKind,
    pub version: u32,
    /// The language of the text the user read: `zh-CN`, `zh-HK` or `en`.
    pub locale: String,
    /// SHA-256 (hex) of that text.
    pub text_sha256: String,
    pub given_at: Timestamp,
    pub withdrawn_at: Option<Timestamp>,
}

#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// False (and nothing written, nothing audited) when a consent of the
    /// same kind and version is in force already: two racing gives record one.
    async fn give_consent(&self, row: &ConsentRow, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Stamps the user's consents of `kind` in force as withdrawn; false when none was.
    async fn withdraw_consent(&self, user: &UserId, kind: ConsentKind, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Every consent record of the user, oldest first.
    async fn consents_of(&self, user: &UserId) -> Result<Vec<ConsentRow>, StoreError>;
}
