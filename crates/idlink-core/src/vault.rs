//! The vault: the master keyring plus the system keys derived from it
//! (blind-index key, audit checkpoint signing key), and per-user data keys.
//!
//! System keys are random, stored wrapped like data keys (ids starting with
//! `sys-`), created on first start, and survive master-key rotation unchanged,
//! so blind indexes and checkpoint signatures stay valid.

use crate::error::CoreError;
use crate::ports::KeyStore;
use idlink_crypto::signing::CheckpointSigner;
use idlink_crypto::{Algorithm, BlindIndexKey, DataKey, MasterKeyring, Random, WrappedDataKey};
use idlink_domain::UserId;
use std::sync::Arc;

const BLIND_INDEX_KEY_ID: &str = "sys-blind-index";
const AUDIT_SIGNING_KEY_ID: &str = "sys-audit-signing";

pub struct Vault {
    ring: MasterKeyring,
    index_key: BlindIndexKey,
    signer: CheckpointSigner,
    rng: Arc<dyn Random>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vault(active master {})", self.ring.active().id)
    }
}

/// Counts from one rotation pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct RotationReport {
    pub rewrapped: u64,
    pub skipped_concurrently_changed: u64,
}

impl Vault {
    /// Loads (or creates, on first start) the system keys.
    pub async fn open(ring: MasterKeyring, keys: &dyn KeyStore, rng: Arc<dyn Random>) -> Result<Self, CoreError> {
        let index = Self::system_key(&ring, keys, rng.as_ref(), BLIND_INDEX_KEY_ID).await?;
        let signing = Self::system_key(&ring, keys, rng.as_ref(), AUDIT_SIGNING_KEY_ID).await?;
        Ok(Self {
            index_key: BlindIndexKey::new(*index.reveal()),
            signer: CheckpointSigner::from_seed(signing.reveal()),
            ring,
            rng,
        })
    }

    async fn system_key(ring: &MasterKeyring, keys: &dyn KeyStore, rng: &dyn Random, id: &str) -> Result<DataKey, CoreError> {
        let wrapped = match keys.wrapped_key(id).await? {
            Some(w) => w,
            None => keys.ensure_wrapped_key(&ring.wrap(&DataKey::generate(id, rng), rng)?).await?,
        };
        Ok(ring.unwrap(&wrapped)?)
    }

    pub fn algorithm(&self) -> Algorithm {
        self.ring.algorithm()
    }

    pub fn ring(&self) -> &MasterKeyring {
        &self.ring
    }

    pub fn rng(&self) -> &dyn Random {
        self.rng.as_ref()
    }

    pub fn data_key_id(user: &UserId) -> String {
        format!("dek-{user}")
    }

    pub fn new_user_key(&self, user: &UserId) -> Result<(DataKey, WrappedDataKey), CoreError> {
        let dek = DataKey::generate(Self::data_key_id(user), self.rng.as_ref());
        let wrapped = self.ring.wrap(&dek, self.rng.as_ref())?;
        Ok((dek, wrapped))
    }

    pub fn unwrap(&self, wrapped: &WrappedDataKey) -> Result<DataKey, CoreError> {
        Ok(self.ring.unwrap(wrapped)?)
    }

    pub fn seal(&self, key: &DataKey, context: &str, clear: &[u8]) -> Result<Vec<u8>, CoreError> {
        Ok(key.seal(self.ring.algorithm(), context, clear, self.rng.as_ref())?)
    }

    pub fn blind_index(&self, domain: &str, value: &str) -> String {
        self.index_key.index(domain, value)
    }

    pub fn signer(&self) -> &CheckpointSigner {
        &self.signer
    }

    /// Re-wraps every key not yet under the active master key. Safe to run
    /// while serving and on several nodes: each replacement is a
    /// compare-and-swap, and a key changed meanwhile is left for the next pass.
    pub async fn rotate(&self, keys: &dyn KeyStore) -> Result<RotationReport, CoreError> {
        let mut report = RotationReport::default();
        let active = self.ring.active().id.clone();
        let mut after = String::new();
        loop {
            let batch = keys.keys_not_wrapped_by(&active, &after, 500).await?;
            let Some(last) = batch.last() else { break };
            after = last.id.clone();
            for old in &batch {
                if let Some(new) = self.ring.rewrap(old, self.rng.as_ref())? {
                    if keys.replace_wrapped_key(old, &new).await? {
                        report.rewrapped += 1;
                    } else {
                        report.skipped_concurrently_changed += 1;
                    }
                }
            }
        }
        Ok(report)
    }
}
