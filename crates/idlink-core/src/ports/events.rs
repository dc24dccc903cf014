//! Security events (SPEC TP3; ADR 0022): the lifecycle changes written to
//! the outbox with the change that causes them, and the store of webhook
//! endpoints and secrets, Shared Signals streams, and delivery receipts.

use async_trait::async_trait;
use idlink_domain::{ClientId, SessionId, UserId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The outbox kind of a [`Lifecycle`] event; its fan-out writes one child
/// event per app and channel.
pub const LIFECYCLE: &str = "lifecycle";

/// What changed in a user's standing that the apps they authorised must learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleType {
    /// One app's grant ended (by the user, the app, the host or the system).
    GrantRevoked,
    /// A real-name verification passed for the first time.
    IdentityVerified,
    /// The verified identity changed (a change of name, a new document).
    IdentityChanged,
    /// The real-name verification was revoked.
    IdentityRevoked,
    /// The account was frozen: grants are suspended.
    AccountDisabled,
    /// A freeze was lifted: suspended grants are active again.
    AccountEnabled,
    /// The account's data was destroyed (cancellation, crypto-shredding).
    AccountPurged,
    /// Sessions ended (logout, "sign out everywhere", an operator's revocation).
    SessionsRevoked,
    /// A credential changed (payment password, biometric key).
    CredentialChanged,
}

/// A lifecycle event as sealed in the outbox payload. It carries no personal
/// data: receivers get only the app's pairwise subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    #[serde(rename = "type")]
    pub kind: LifecycleType,
    pub user: UserId,
    pub at: Timestamp,
    /// Who caused it: `user`, `app:cli_…`, `host`, `operator:op_…`, `system`.
    pub actor: String,
    /// Only this app's grant ([`LifecycleType::GrantRevoked`]); else every app the user authorised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientId>,
    /// The sessions that ended, for back-channel logout's `sid`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<SessionId>,
    /// A stable reason code (never free text from a person).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[async_trait]
pub trait EventStore: Send + Sync {}
