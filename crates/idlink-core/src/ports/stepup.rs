//! Step-up ports (SPEC ID7): tokens and biometric challenges as stored.

use super::StoreError;
use super::audit::AuditEntry;
use async_trait::async_trait;
use idlink_domain::{BiometricChallengeId, DeviceId, StepUpId, UserId};
use jiff::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpRow {
    pub id: StepUpId,
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
    pub id: BiometricChallengeId,
    pub user_id: UserId,
    pub device_id: DeviceId,
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
    async fn take_biometric_challenge(
        &self,
        id: &BiometricChallengeId,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Option<BiometricChallenge>, StoreError>;
    /// Stores a minted token with the audit record of its minting.
    async fn insert_step_up(&self, row: &StepUpRow, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Marks the token used if it is unused, unexpired and bound to exactly this;
    /// true for the one request that spends it.
    async fn spend_step_up(&self, id: &StepUpId, secret_hash: &str, binding: &Binding<'_>, now: Timestamp) -> Result<bool, StoreError>;
    /// The user's token with this id and secret, and when it was used, to explain a refusal.
    async fn step_up_token(
        &self,
        id: &StepUpId,
        secret_hash: &str,
        user: &UserId,
    ) -> Result<Option<(StepUpRow, Option<Timestamp>)>, StoreError>;
}
