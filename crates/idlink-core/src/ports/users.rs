//! End users as stored: the phone encrypted under the user's data key.

use super::StoreError;
use super::audit::AuditEntry;
use async_trait::async_trait;
use idlink_crypto::WrappedDataKey;
use idlink_domain::UserId;
use jiff::Timestamp;

/// A user row as stored: personal fields are ciphertexts under the user's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: UserId,
    pub phone_cipher: Vec<u8>,
    pub phone_index: String,
    pub created_at: Timestamp,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn insert_user(&self, user: &UserRow, key: &WrappedDataKey, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Reads a user and records the read in the audit log (P7: reads of personal data are audited).
    async fn read_user(&self, id: &UserId, audit: &AuditEntry) -> Result<Option<(UserRow, Option<WrappedDataKey>)>, StoreError>;
    async fn find_user_by_phone_index(&self, index: &str) -> Result<Option<UserId>, StoreError>;
    /// The blind index of the user's phone (matching a code's challenge needs no decryption).
    async fn phone_index(&self, id: &UserId) -> Result<Option<String>, StoreError>;
    /// Deletes the user's data key (crypto-shredding), revokes every grant
    /// (with its refresh families and access tokens) and writes `event`
    /// (lifecycle `account_purged`). Returns false (nothing written) when there was no key.
    async fn shred_user_key(&self, id: &UserId, event: &super::outbox::NewEvent, audit: &AuditEntry) -> Result<bool, StoreError>;
}
