//! Login ports (SPEC ID1): challenges, devices and sessions as stored, the
//! login write, and the SMS code sender.

use super::StoreError;
use super::audit::{AuditEntry, AuditStore};
use super::users::UserRow;
use async_trait::async_trait;
use idlink_domain::{ChallengeId, DeviceId, PhoneNumber, SessionId, UserId};
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRow {
    pub id: ChallengeId,
    pub purpose: String,
    pub phone_index: String,
    pub device_hash: String,
    pub code_hash: String,
    pub attempts: u32,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceRow {
    pub id: DeviceId,
    pub user_id: UserId,
    #[serde(skip)]
    pub device_hash: String,
    pub name: String,
    /// Ed25519 public key (hex) for signed biometric assertions, if registered.
    pub public_key: Option<String>,
    pub primary: bool,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Active,
    /// Waiting for the second SMS check of a new device.
    DeviceCheckRequired,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::DeviceCheckRequired => "device_check_required",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(SessionStatus::Active),
            "device_check_required" => Some(SessionStatus::DeviceCheckRequired),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: SessionId,
    pub user_id: UserId,
    pub device_id: DeviceId,
    /// The client's IP address at login (for the region-jump signal).
    pub client_ip: Option<String>,
    pub secret_hash: String,
    pub status: SessionStatus,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// What the login transaction writes.
#[derive(Debug)]
pub struct LoginWrite<'a> {
    pub new_user: Option<(&'a UserRow, &'a idlink_crypto::WrappedDataKey)>,
    pub new_device: Option<&'a DeviceRow>,
    pub session: &'a SessionRow,
    pub audit: &'a [AuditEntry],
}

#[async_trait]
pub trait AuthStore: AuditStore + Send + Sync {
    /// Adds one to the counter of `bucket` in the window starting at `window_start`; returns the new count.
    async fn hit_rate_limit(&self, bucket: &str, window_start: Timestamp) -> Result<u64, StoreError>;
    async fn insert_challenge(&self, c: &ChallengeRow) -> Result<(), StoreError>;
    /// Counts one attempt on a usable challenge (unused, unexpired, attempts left) and returns it;
    /// `None` when there is no usable challenge with this id.
    async fn attempt_challenge(&self, id: &ChallengeId, now: Timestamp, max_attempts: u32) -> Result<Option<ChallengeRow>, StoreError>;
    /// Marks the challenge used; false if another request used it first.
    async fn consume_challenge(&self, id: &ChallengeId, now: Timestamp) -> Result<bool, StoreError>;
    async fn device_by_hash(&self, user: &UserId, device_hash: &str) -> Result<Option<DeviceRow>, StoreError>;
    async fn devices(&self, user: &UserId) -> Result<Vec<DeviceRow>, StoreError>;
    /// Whether the user's next login needs an SMS check on any device (a revoked real name).
    async fn login_check_required(&self, user: &UserId) -> Result<bool, StoreError>;
    /// Writes a login in one transaction (user, device, session, audit).
    async fn write_login(&self, w: &LoginWrite<'_>) -> Result<(), StoreError>;
    async fn session(&self, id: &SessionId) -> Result<Option<SessionRow>, StoreError>;
    /// Activates a session waiting for its device check and registers the device.
    /// Activates a session waiting for its device check, now living until
    /// `expires_at`, and registers its device; false when it was not waiting.
    async fn confirm_device(
        &self,
        session_id: &SessionId,
        expires_at: Timestamp,
        device: &DeviceRow,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Makes `device_id` the user's only primary device; false when it is not theirs.
    async fn set_primary_device(&self, user: &UserId, device_id: &DeviceId, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Revokes every session of the user, ends the apps' views of them and
    /// writes `event` (lifecycle `sessions_revoked`); returns how many were active.
    async fn revoke_sessions(
        &self,
        user: &UserId,
        now: Timestamp,
        event: &super::outbox::NewEvent,
        audit: &AuditEntry,
    ) -> Result<u64, StoreError>;
    /// Revokes one session, ends the apps' views of it and writes `event`;
    /// false (nothing written) when it was already revoked or unknown.
    async fn revoke_session(
        &self,
        id: &SessionId,
        now: Timestamp,
        event: &super::outbox::NewEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
}

/// Sends verification codes (the SMS gateway connector in production).
#[async_trait]
pub trait CodeSender: Send + Sync {
    async fn send_code(&self, to: &PhoneNumber, code: &str, client_ref: &str) -> Result<(), SendError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the SMS gateway is unavailable; retry after {retry_after_secs} s")]
    Unavailable { retry_after_secs: u64 },
    #[error("the operator refused the message (number unreachable)")]
    Rejected,
}
