//! The store of wrapped data keys (per-user and system keys).

use super::StoreError;
use async_trait::async_trait;
use idlink_crypto::WrappedDataKey;

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn wrapped_key(&self, id: &str) -> Result<Option<WrappedDataKey>, StoreError>;
    /// Inserts a system key unless one with that id exists; returns the stored one.
    async fn ensure_wrapped_key(&self, key: &WrappedDataKey) -> Result<WrappedDataKey, StoreError>;
    /// Data keys whose wrapping master key is not `active_master_id`, in id order after `after`.
    async fn keys_not_wrapped_by(&self, active_master_id: &str, after: &str, limit: u32) -> Result<Vec<WrappedDataKey>, StoreError>;
    /// Replaces a key's ciphertext if it still equals `old` (safe under concurrent rotation).
    async fn replace_wrapped_key(&self, old: &WrappedDataKey, new: &WrappedDataKey) -> Result<bool, StoreError>;
    async fn count_keys_by_master(&self) -> Result<Vec<(String, u64)>, StoreError>;
}

/// The master keyring as kept outside the database (the keyring file), for rotation.
pub trait MasterKeyFile: Send + Sync {
    /// Adds a fresh master key, makes it active and saves the keyring; answers the new keyring.
    fn add_active_key(&self) -> Result<idlink_crypto::MasterKeyring, String>;
}
