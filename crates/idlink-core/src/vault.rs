//! The vault: the master keyring plus the system keys derived from it
//! (blind-index key, audit checkpoint signing key, idempotent-answers key,
//! outbox key), and per-user data keys.
//!
//! System keys are random, stored wrapped like data keys (ids starting with
//! `sys-`), created on first start, and survive master-key rotation unchanged,
//! so blind indexes and checkpoint signatures stay valid.

use crate::ports::StoreError;
use crate::ports::keys::{KeyStore, MasterKeyFile};
use idlink_crypto::signing::Ed25519Signer;
use idlink_crypto::{Algorithm, BlindIndexKey, CryptoError, DataKey, MasterKeyring, Random, WrappedDataKey};
use idlink_domain::UserId;
use std::sync::{Arc, RwLock};

const BLIND_INDEX_KEY_ID: &str = "sys-blind-index";
const AUDIT_SIGNING_KEY_ID: &str = "sys-audit-signing";
const ANSWERS_KEY_ID: &str = "sys-idempotent-answers";
const OUTBOX_KEY_ID: &str = "sys-outbox";

/// The system keys and what each is for (the key status page lists them).
pub const SYSTEM_KEYS: [(&str, &str); 4] = [
    (BLIND_INDEX_KEY_ID, "keyed blind indexes (phone, ID number, card number lookups)"),
    (AUDIT_SIGNING_KEY_ID, "signs the audit checkpoints and the regulator reports (Ed25519)"),
    (ANSWERS_KEY_ID, "seals the answers kept for idempotent retries"),
    (OUTBOX_KEY_ID, "seals the payloads of outbox events"),
];

/// Re-reads the master keyring (from its file), for rotation without restarts.
pub type KeyringSource = Arc<dyn Fn() -> Result<MasterKeyring, String> + Send + Sync>;

pub struct Vault {
    ring: RwLock<Arc<MasterKeyring>>,
    source: Option<KeyringSource>,
    index_key: BlindIndexKey,
    signer: Ed25519Signer,
    /// Seals the answers kept for idempotent replays.
    answers: DataKey,
    /// Seals the payloads of outbox events (`crate::outbox`).
    outbox: DataKey,
    rng: Arc<dyn Random>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vault(active master {})", self.ring().active().id)
    }
}

/// Why the vault could not open or rotate: the key store failed, or a key did not unwrap.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// The keyring file could not be read or written.
    #[error("master keyring: {0}")]
    KeyFile(String),
}

/// What a master-key rotation did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MasterRotation {
    /// The new active master key.
    pub key_id: String,
    #[serde(flatten)]
    pub report: RotationReport,
}

/// Counts from one rotation pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct RotationReport {
    pub rewrapped: u64,
    pub skipped_concurrently_changed: u64,
}

impl Vault {
    /// Loads (or creates, on first start) the system keys.
    pub async fn open(ring: MasterKeyring, keys: &dyn KeyStore, rng: Arc<dyn Random>) -> Result<Self, VaultError> {
        let index = Self::system_key::<VaultError>(&ring, keys, rng.as_ref(), BLIND_INDEX_KEY_ID).await?;
        let signing = Self::system_key::<VaultError>(&ring, keys, rng.as_ref(), AUDIT_SIGNING_KEY_ID).await?;
        let answers = Self::system_key::<VaultError>(&ring, keys, rng.as_ref(), ANSWERS_KEY_ID).await?;
        let outbox = Self::system_key::<VaultError>(&ring, keys, rng.as_ref(), OUTBOX_KEY_ID).await?;
        Ok(Self {
            answers,
            outbox,
            index_key: BlindIndexKey::new(*index.reveal()),
            signer: Ed25519Signer::from_seed(signing.reveal()),
            ring: RwLock::new(Arc::new(ring)),
            source: None,
            rng,
        })
    }

    /// Lets the vault re-read the keyring when it meets a master key it does
    /// not know (another node or `idlink keys rotate` added it) and on [`Vault::reload`].
    pub fn with_source(mut self, source: KeyringSource) -> Self {
        self.source = Some(source);
        self
    }

    /// Re-reads the keyring; returns whether the active key changed.
    pub fn reload(&self) -> Result<bool, String> {
        let Some(source) = &self.source else { return Ok(false) };
        let fresh = source()?;
        let mut ring = self.ring.write().unwrap_or_else(|p| p.into_inner());
        let changed = ring.active().id != fresh.active().id || ring.keys().len() != fresh.keys().len();
        *ring = Arc::new(fresh);
        Ok(changed)
    }

    /// A system data key by id (`sys-…`), created on first use.
    pub async fn system_data_key<E: From<StoreError> + From<CryptoError>>(&self, keys: &dyn KeyStore, id: &str) -> Result<DataKey, E> {
        let ring = self.ring();
        Self::system_key(&ring, keys, self.rng.as_ref(), id).await
    }

    async fn system_key<E: From<StoreError> + From<CryptoError>>(
        ring: &MasterKeyring,
        keys: &dyn KeyStore,
        rng: &dyn Random,
        id: &str,
    ) -> Result<DataKey, E> {
        let wrapped = match keys.wrapped_key(id).await? {
            Some(w) => w,
            None => keys.ensure_wrapped_key(&ring.wrap(&DataKey::generate(id, rng), rng)?).await?,
        };
        Ok(ring.unwrap(&wrapped)?)
    }

    pub fn algorithm(&self) -> Algorithm {
        self.ring().algorithm()
    }

    /// A snapshot of the keyring.
    pub fn ring(&self) -> Arc<MasterKeyring> {
        self.ring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn data_key_id(user: &UserId) -> String {
        format!("dek-{user}")
    }

    pub fn new_user_key(&self, user: &UserId) -> Result<(DataKey, WrappedDataKey), CryptoError> {
        self.new_key(Self::data_key_id(user))
    }

    /// A fresh data key called `id`, and its wrapping under the active master key (not stored).
    pub fn new_key(&self, id: String) -> Result<(DataKey, WrappedDataKey), CryptoError> {
        let dek = DataKey::generate(id, self.rng.as_ref());
        let wrapped = self.ring().wrap(&dek, self.rng.as_ref())?;
        Ok((dek, wrapped))
    }

    pub fn unwrap(&self, wrapped: &WrappedDataKey) -> Result<DataKey, CryptoError> {
        match self.ring().unwrap(wrapped) {
            Err(CryptoError::UnknownKey(id)) if self.source.is_some() => {
                tracing::info!(master_key = %id, "unknown master key; re-reading the keyring");
                self.reload().map_err(CryptoError::InvalidKey)?;
                self.ring().unwrap(wrapped)
            }
            other => other,
        }
    }

    pub fn seal(&self, key: &DataKey, context: &str, clear: &[u8]) -> Result<Vec<u8>, CryptoError> {
        key.seal(self.algorithm(), context, clear, self.rng.as_ref())
    }

    pub fn blind_index(&self, domain: &str, value: &str) -> String {
        self.index_key.index(domain, value)
    }

    /// The key that seals answers kept for idempotent replays.
    pub fn answers_key(&self) -> &DataKey {
        &self.answers
    }

    /// The key that seals outbox payloads.
    pub fn outbox_key(&self) -> &DataKey {
        &self.outbox
    }

    pub fn signer(&self) -> &Ed25519Signer {
        &self.signer
    }

    /// Rotates the master key: adds a fresh one to the keyring file and makes
    /// it active, switches this vault to it, and re-wraps every data key
    /// under it ([`Vault::rotate`]). The one rotation `idlink keys rotate` and
    /// an approved dual-control proposal both run. Other nodes pick the new
    /// key up from the file when they meet it (see [`Vault::with_source`]).
    pub async fn rotate_master(&self, file: &dyn MasterKeyFile, keys: &dyn KeyStore) -> Result<MasterRotation, VaultError> {
        let fresh = file.add_active_key().map_err(VaultError::KeyFile)?;
        let key_id = fresh.active().id.clone();
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
        let report = self.rotate(keys).await?;
        Ok(MasterRotation { key_id, report })
    }

    /// Re-wraps every key not yet under the active master key. Safe to run
    /// while serving and on several nodes: each replacement is a
    /// compare-and-swap, and a key changed meanwhile is left for the next pass.
    pub async fn rotate(&self, keys: &dyn KeyStore) -> Result<RotationReport, VaultError> {
        let mut report = RotationReport::default();
        let ring = self.ring();
        let active = ring.active().id.clone();
        let mut after = String::new();
        loop {
            let batch = keys.keys_not_wrapped_by(&active, &after, 500).await?;
            let Some(last) = batch.last() else { break };
            after = last.id.clone();
            for old in &batch {
                if let Some(new) = ring.rewrap(old, self.rng.as_ref())? {
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
