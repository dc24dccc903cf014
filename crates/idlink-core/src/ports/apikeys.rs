//! Host-app API keys as stored (SPEC P5).

use super::StoreError;
use super::audit::AuditEntry;
use super::auth::SessionRow;
use async_trait::async_trait;
use idlink_domain::{ApiKeyId, SessionId};
use jiff::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: ApiKeyId,
    pub name: String,
    pub secret_hash: String,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// When the key stops working by itself: the old key of a rotation at
    /// the end of the overlap, or a key created with an expiry.
    pub expires_at: Option<Timestamp>,
    /// The last request made with it, to the minute (see `apikeys::LAST_USE_GRAIN`).
    pub last_used_at: Option<Timestamp>,
    /// The key this one replaced in a rotation.
    pub replaces: Option<ApiKeyId>,
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn insert_api_key(&self, key: &ApiKeyRow, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRow>, StoreError>;
    /// The key and, in the same read, the session with this id (requests carry both).
    async fn api_key_with_session(
        &self,
        id: &ApiKeyId,
        session_id: &SessionId,
    ) -> Result<(Option<ApiKeyRow>, Option<SessionRow>), StoreError>;
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError>;
    async fn revoke_api_key(&self, id: &ApiKeyId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Inserts `new` (which names the key it replaces) and sets the old key's
    /// expiry to `old_expires_at`, in one transaction; false when the old key
    /// is revoked, already expired at `new.created_at`, or already replaced.
    async fn rotate_api_key(&self, new: &ApiKeyRow, old_expires_at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Records a use at `at` unless a later one is recorded already.
    async fn touch_api_key(&self, id: &ApiKeyId, at: Timestamp) -> Result<(), StoreError>;
}
