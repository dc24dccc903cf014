//! Key status (SPEC P6, OP3; issue 13 point 7): what an auditor or admin
//! checks about the keys without ever seeing one. The master keys of the
//! keyring (fingerprint, which is active, how many data keys each wraps),
//! wrapped keys whose master is missing (they cannot be unwrapped), the
//! system keys and the master that wraps each, the audit signing key's public
//! half and its latest checkpoint, and the latest master-key rotation from
//! the audit trail. `idlink keys status` prints the same figures.

use crate::ports::StoreError;
use crate::ports::audit::{AuditRecord, AuditStore};
use crate::ports::keys::KeyStore;
use crate::ports::operators::{OperatorRow, Role, RoleRequired, require};
use crate::ports::reports::{AuditFilter, ComplianceStore};
use crate::vault::{SYSTEM_KEYS, Vault};
use idlink_crypto::Algorithm;
use jiff::Timestamp;
use serde::Serialize;

/// The audit action of a master-key rotation (the CLI's and dual control's).
pub const ROTATE_ACTION: &str = "keys.rotate";

/// One master key of the keyring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MasterKeyStatus {
    pub id: String,
    /// The key's SHA-256 fingerprint (short hex), never the key.
    pub fingerprint: String,
    /// Whether new data keys are wrapped under it.
    pub active: bool,
    /// How many stored data keys (users' and system) it wraps.
    pub wraps: u64,
}

/// A system key (`sys-…`) and the master key that wraps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemKeyStatus {
    pub id: &'static str,
    /// What the key is for.
    pub purpose: &'static str,
    /// The master key wrapping it; `None` when it is not stored (yet).
    pub wrapped_by: Option<String>,
}

/// The latest signed checkpoint of the audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LatestCheckpoint {
    pub seq: i64,
    pub at: Timestamp,
    /// Whether its signature verifies under the vault's signing key.
    pub signature_valid: bool,
}

/// Everything the key status page and `idlink keys status` show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyStatus {
    /// `aes-256-gcm` or `sm4-gcm`.
    pub algorithm: &'static str,
    pub masters: Vec<MasterKeyStatus>,
    /// Master key ids that wrap stored keys but are not in the keyring, with
    /// how many: those keys cannot be unwrapped until the keyring has them.
    pub missing_masters: Vec<(String, u64)>,
    pub system_keys: Vec<SystemKeyStatus>,
    /// The audit signing key's public half (hex), as in every checkpoint.
    pub signing_public_key: String,
    pub latest_checkpoint: Option<LatestCheckpoint>,
    /// The latest master-key rotation recorded in the audit trail.
    pub latest_rotation: Option<AuditRecord>,
}

/// Why the key status was not read.
#[derive(Debug, thiserror::Error)]
pub enum KeyStatusError {
    #[error(transparent)]
    RoleRequired(#[from] RoleRequired),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// The key status for an operator: auditors and admins only.
pub async fn key_status(
    op: &OperatorRow,
    vault: &Vault,
    keys: &dyn KeyStore,
    audits: &dyn AuditStore,
    compliance: &dyn ComplianceStore,
) -> Result<KeyStatus, KeyStatusError> {
    require(op, Role::Auditor)?;
    Ok(key_status_on_host(vault, keys, audits, compliance).await?)
}

/// The key status for the command line (`idlink keys status`), whose user
/// has the host and its keyring file already.
pub async fn key_status_on_host(
    vault: &Vault,
    keys: &dyn KeyStore,
    audits: &dyn AuditStore,
    compliance: &dyn ComplianceStore,
) -> Result<KeyStatus, StoreError> {
    // Another process (`idlink keys rotate`, another node) may have changed
    // the keyring file: show what it holds now, as the server's 10-second
    // keyring reload would shortly, not what this node last read.
    if let Err(e) = vault.reload() {
        tracing::warn!(error = %e, "key status: the keyring could not be re-read; showing the one in memory");
    }
    let ring = vault.ring();
    let counts = keys.count_keys_by_master().await?;
    let wraps = |id: &str| counts.iter().find(|(m, _)| m == id).map_or(0, |(_, n)| *n);
    let masters = ring
        .keys()
        .iter()
        .map(|k| MasterKeyStatus { id: k.id.clone(), fingerprint: k.fingerprint(), active: k.id == ring.active().id, wraps: wraps(&k.id) })
        .collect();
    let missing_masters = counts.iter().filter(|(id, _)| !ring.keys().iter().any(|k| k.id == *id)).cloned().collect();
    let mut system_keys = Vec::with_capacity(SYSTEM_KEYS.len());
    for (id, purpose) in SYSTEM_KEYS {
        let wrapped_by = keys.wrapped_key(id).await?.and_then(|w| w.master_key_id().ok().map(str::to_owned));
        system_keys.push(SystemKeyStatus { id, purpose, wrapped_by });
    }
    let signing_public_key = vault.signer().public_hex();
    let latest_checkpoint = audits.last_checkpoint().await?.map(|c| LatestCheckpoint {
        seq: c.seq,
        at: c.at,
        signature_valid: c.signed_by(&signing_public_key),
    });
    let filter = AuditFilter { action: Some(ROTATE_ACTION.to_owned()), limit: 1, ..AuditFilter::default() };
    let latest_rotation = compliance.search_audit(&filter).await?.into_iter().next();
    Ok(KeyStatus {
        algorithm: match ring.algorithm() {
            Algorithm::Aes256Gcm => "aes-256-gcm",
            Algorithm::Sm4Gcm => "sm4-gcm",
        },
        masters,
        missing_masters,
        system_keys,
        signing_public_key,
        latest_checkpoint,
        latest_rotation,
    })
}
