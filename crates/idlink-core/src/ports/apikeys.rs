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
}
