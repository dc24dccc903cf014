//! Step-up tokens (SPEC ID7): proof of a fresh strong authentication for one
//! sensitive operation on one resource.
//!
//! A token is minted after a correct payment password or a device-signed
//! biometric assertion, lives [`StepUpPolicy::ttl`], and is spent by exactly
//! one request: redemption is a single conditional `UPDATE` (unused, not
//! expired, same user, operation and resource), so concurrent redemptions on
//! any number of nodes give one success.

use crate::clock::Clock;
use crate::ports::StoreError;
use async_trait::async_trait;
use idlink_crypto::Random;
use idlink_domain::UserId;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct StepUpPolicy {
    pub ttl: SignedDuration,
}

impl Default for StepUpPolicy {
    fn default() -> Self {
        Self { ttl: SignedDuration::from_secs(120) }
    }
}

/// How the user proved themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepUpMethod {
    PaymentPassword,
    Biometric,
}

impl StepUpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            StepUpMethod::PaymentPassword => "payment_password",
            StepUpMethod::Biometric => "biometric",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpRow {
    pub id: String,
    pub secret_hash: String,
    pub user_id: UserId,
    pub operation: String,
    pub resource: String,
    pub method: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What a step-up token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding<'a> {
    pub user: &'a UserId,
    /// A dotted verb, e.g. `device.make_primary`, `balance.query`.
    pub operation: &'a str,
    /// The resource id the operation acts on.
    pub resource: &'a str,
}

/// A nonce a device must sign with its registered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BiometricChallenge {
    pub id: String,
    pub user_id: UserId,
    pub device_id: String,
    pub nonce: String,
    pub operation: String,
    pub resource: String,
    pub expires_at: Timestamp,
}

impl BiometricChallenge {
    /// The exact bytes the device signs (UTF-8).
    pub fn message(&self) -> String {
        format!("idlink-step-up-v1:{}:{}:{}:{}", self.id, self.nonce, self.operation, self.resource)
    }
}

#[async_trait]
pub trait StepUpStore: Send + Sync {
    async fn insert_biometric_challenge(&self, c: &BiometricChallenge) -> Result<(), StoreError>;
    /// Uses up an unexpired challenge of this user once; returns it.
    async fn take_biometric_challenge(&self, id: &str, user: &UserId, now: Timestamp) -> Result<Option<BiometricChallenge>, StoreError>;
    /// Stores a minted token with the audit record of its minting.
    async fn insert_step_up(&self, row: &StepUpRow, audit: &crate::audit::AuditEntry) -> Result<(), StoreError>;
    /// Marks the token used if it is unused, unexpired and bound to exactly this;
    /// true for the one request that spends it.
    async fn spend_step_up(&self, id: &str, secret_hash: &str, binding: &Binding<'_>, now: Timestamp) -> Result<bool, StoreError>;
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Valid operation names: lower-case dotted words.
pub fn valid_operation(op: &str) -> bool {
    !op.is_empty() && op.len() <= 64 && op.split('.').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
}

/// A new token row and the token text (`stu_….<secret>`, shown once).
pub fn mint(
    rng: &dyn Random,
    clock: &dyn Clock,
    policy: &StepUpPolicy,
    binding: &Binding<'_>,
    method: StepUpMethod,
) -> (StepUpRow, String) {
    let now = clock.now();
    let id = format!("stu_{}", hex::encode(rng.bytes16()));
    let secret = hex::encode(rng.bytes32());
    let row = StepUpRow {
        secret_hash: hash(&secret),
        id: id.clone(),
        user_id: binding.user.clone(),
        operation: binding.operation.to_owned(),
        resource: binding.resource.to_owned(),
        method: method.as_str().to_owned(),
        created_at: now,
        expires_at: now.checked_add(policy.ttl).unwrap_or(now),
    };
    (row, format!("{id}.{secret}"))
}

/// Spends `token` for `binding`; false when it is unknown, used, expired or bound to something else.
pub async fn spend(store: &dyn StepUpStore, clock: &dyn Clock, token: &str, binding: &Binding<'_>) -> Result<bool, StoreError> {
    let Some((id, secret)) = token.split_once('.') else { return Ok(false) };
    store.spend_step_up(id, &hash(secret), binding, clock.now()).await
}
