//! Security events (SPEC TP3; ADR 0022): the lifecycle changes written to
//! the outbox with the change that causes them, and the store of webhook
//! endpoints and secrets, Shared Signals streams, and delivery receipts.

use super::StoreError;
use super::audit::AuditEntry;
use super::outbox::{NewEvent, Settlement};
use async_trait::async_trait;
use idlink_domain::{ClientId, EndpointId, EventId, SessionId, StreamId, UserId};
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
    /// The user's credit record changed (a new query by an institution, a new
    /// overdue, a new public record; the reason names which), told to the apps
    /// the user chose for their credit alerts (SPEC CR6).
    CreditRecordChanged,
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

/// How an event reaches an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A Standard Webhook to one of the app's endpoints.
    Webhook,
    /// A Security Event Token pushed to the app's SSF stream (RFC 8935).
    SetPush,
    /// A Security Event Token the app polls (RFC 8936).
    SetPoll,
    /// An OIDC back-channel logout token.
    Logout,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::SetPush => "set_push",
            Self::SetPoll => "set_poll",
            Self::Logout => "logout",
        }
    }

    /// The outbox kind of this channel's child events.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Webhook => WEBHOOK,
            Self::SetPush => SET_PUSH,
            Self::SetPoll => SET_POLL,
            Self::Logout => LOGOUT,
        }
    }

    pub fn of_kind(kind: &str) -> Option<Self> {
        [Self::Webhook, Self::SetPush, Self::SetPoll, Self::Logout].into_iter().find(|c| c.kind() == kind)
    }
}

/// Outbox kinds of the per-app children of a lifecycle event.
pub const WEBHOOK: &str = "webhook";
pub const SET_PUSH: &str = "set.push";
/// Never claimed by a worker: the app fetches it (written delivered, with a poll-queue row).
pub const SET_POLL: &str = "set.poll";
pub const LOGOUT: &str = "logout";

/// One app that held a grant of the user when the event happened, and where it listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDestination {
    pub client: ClientId,
    /// The app's pairwise `sub` of the user (`oauth_subjects`); none if the provider never issued one.
    pub sub: Option<String>,
    pub backchannel_logout_uri: Option<String>,
    /// The app wants a `sid` in every logout token (OIDC BCL 1.0 §2.4): one token per session.
    pub backchannel_logout_session_required: bool,
    /// Enabled webhook endpoints with the event types they subscribe to (empty: all).
    pub endpoints: Vec<(EndpointId, Vec<String>)>,
    /// The app's SSF stream, if enabled or paused and the user is not removed from it.
    pub stream: Option<StreamDestination>,
    /// The app's `sid`s of the sessions the event ended: those named, or
    /// (an event naming none ends them all) every session of the user with
    /// the app live at the event's time.
    pub sids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDestination {
    pub id: StreamId,
    /// Push (RFC 8935) or poll (RFC 8936).
    pub push: bool,
    /// The event type URIs the stream delivers.
    pub events_delivered: Vec<String>,
}

/// A child event of a fan-out: the outbox row, its receipt, and for poll
/// streams the queue row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildEvent {
    pub event: NewEvent,
    pub parent: EventId,
    pub client: ClientId,
    pub channel: Channel,
    /// The type as the receipt shows it (the webhook type, e.g. `account.disabled`).
    pub event_type: String,
    /// Poll streams: the stream whose queue gets the SET.
    pub poll_stream: Option<StreamId>,
}

/// A webhook endpoint as the deliverer reads it at each attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRow {
    pub id: EndpointId,
    pub client: ClientId,
    pub url: String,
    pub enabled: bool,
}

/// A webhook signing secret, sealed under [`crate::events::WEBHOOK_KEY_ID`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSecretRow {
    pub id: String,
    /// `hmac` (v1) or `ed25519` (v1a).
    pub kind: String,
    pub sealed: Vec<u8>,
}

/// An SSF stream as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRow {
    pub id: StreamId,
    pub client: ClientId,
    pub aud: String,
    /// `urn:ietf:rfc:8935` (push) or `urn:ietf:rfc:8936` (poll).
    pub method: String,
    pub endpoint_url: Option<String>,
    /// Sealed under the webhook key, context `ssf_streams:{id}`.
    pub authorization_header: Option<Vec<u8>>,
    pub events_requested: Vec<String>,
    pub events_delivered: Vec<String>,
    /// `enabled`, `paused` or `disabled`.
    pub status: String,
    pub status_reason: Option<String>,
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A stream's status changing (SSF 1.0 §8.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub stream: StreamId,
    pub client: ClientId,
    /// `enabled`, `paused` or `disabled`.
    pub status: String,
    pub reason: Option<String>,
    pub at: Timestamp,
    /// The change holds only while the stream pushes to this endpoint: the
    /// transmitter's answer to a 410 from it, which says nothing about a
    /// stream the receiver has since moved.
    pub endpoint: Option<String>,
}

impl StatusChange {
    /// The stream as it is once the change is written.
    pub fn applied(&self, mut row: StreamRow) -> StreamRow {
        row.status.clone_from(&self.status);
        row.status_reason.clone_from(&self.reason);
        row.updated_at = self.at;
        row
    }
}

/// One delivery attempt, recorded with its settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub started_at: Timestamp,
    pub latency_ms: u64,
    pub http_status: Option<u16>,
    /// `delivered`, `retry`, `dead` or `gone`.
    pub outcome: &'static str,
    /// Never a body, never personal data.
    pub error: Option<String>,
}

/// A receipt: what became of one event for one app and channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptRow {
    pub id: EventId,
    pub parent: EventId,
    pub client: ClientId,
    pub channel: String,
    pub event_type: String,
    pub created_at: Timestamp,
    /// `pending`, `delivered`, `dead` or `gone`.
    pub state: String,
    pub attempts: u32,
    pub delivered_at: Option<Timestamp>,
    pub last_status: Option<u16>,
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// The apps that held a grant of `user` at `at` (created before, not revoked
    /// before), only `only` if given, with their channels; `sessions` names the
    /// ended sessions whose per-app `sid`s logout tokens carry.
    async fn event_destinations(
        &self,
        user: &UserId,
        at: Timestamp,
        only: Option<&ClientId>,
        sessions: &[SessionId],
    ) -> Result<Vec<AppDestination>, StoreError>;
    /// Writes the children of a fan-out, their receipts and poll-queue rows in
    /// one transaction; a child already written is left alone (a repeated fan-out).
    async fn write_fan_out(&self, children: &[ChildEvent]) -> Result<(), StoreError>;
    async fn webhook_endpoint(&self, id: &EndpointId) -> Result<Option<EndpointRow>, StoreError>;
    /// The client's webhook secrets valid at `now` (more than one during a rotation's overlap).
    async fn webhook_secrets(&self, client: &ClientId, now: Timestamp) -> Result<Vec<WebhookSecretRow>, StoreError>;
    /// Disables an endpoint that answered 410 Gone, with `audit`; false if it was not enabled.
    async fn disable_endpoint(&self, id: &EndpointId, reason: &str, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Records a child's attempt and its settlement, and updates its receipt,
    /// in one transaction, if `token` still holds the claim (see
    /// [`OutboxStore::settle_outbox`](super::outbox::OutboxStore::settle_outbox)).
    async fn settle_delivery(
        &self,
        id: &EventId,
        token: &str,
        at: Timestamp,
        settlement: &Settlement,
        attempt: Option<&AttemptRecord>,
    ) -> Result<bool, StoreError>;
    /// The receipts of a user's events, newest first.
    async fn receipts(&self, user: &UserId, limit: u32) -> Result<Vec<ReceiptRow>, StoreError>;

    // Shared Signals streams (one per client).
    async fn stream_of(&self, client: &ClientId) -> Result<Option<StreamRow>, StoreError>;
    /// Inserts the stream; `Unique` if the client has one already.
    async fn insert_stream(&self, stream: &StreamRow, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Replaces the stream's configuration (same id and client), not its
    /// status (see `set_stream_status`); false if it is gone.
    async fn update_stream(&self, stream: &StreamRow, audit: &AuditEntry) -> Result<bool, StoreError>;
    async fn delete_stream(&self, id: &StreamId, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Adds (`removed = false`) or removes a user from the stream's subjects.
    async fn set_stream_subject(&self, id: &StreamId, user: &UserId, removed: bool, at: Timestamp) -> Result<(), StoreError>;
    /// The user an app knows by its pairwise `sub`.
    async fn user_of_sub(&self, client: &ClientId, sub: &str) -> Result<Option<UserId>, StoreError>;
    /// Unacknowledged polled SETs, oldest first: (jti, sealed outbox payload, created_at).
    async fn poll_queue(&self, stream: &StreamId, limit: u32) -> Result<Vec<PolledSet>, StoreError>;
    /// Acknowledges polled SETs; returns how many were waiting.
    async fn ack_polled(&self, stream: &StreamId, jtis: &[String], at: Timestamp) -> Result<u64, StoreError>;
    /// Deletes receipts (with their attempts, and acknowledged poll-queue
    /// entries) created before `before`; returns how many receipts (at most `limit`).
    async fn purge_receipts(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError>;
    /// Writes the stream's new status (SSF 1.0 §8.1.2) with its audit
    /// record and, when the transmitter made the change, its stream-updated
    /// SET (`announce`), in one transaction. Only the status columns are
    /// written, and only over another status (and the endpoint the change
    /// names): a configuration changed meanwhile is kept. `disabled` drops
    /// the SETs held for the stream (pending pushes, unacknowledged polls;
    /// their receipts `dead`); `enabled` makes the held pushes due at once.
    /// False if nothing was written (the stream is gone, already has that
    /// status, or pushes elsewhere now).
    async fn set_stream_status(&self, change: &StatusChange, announce: Option<&ChildEvent>, audit: &AuditEntry)
    -> Result<bool, StoreError>;
    /// An app's receipts, newest first, after `cursor` (a receipt id of the
    /// previous page), with their attempts.
    async fn client_deliveries(&self, client: &ClientId, cursor: Option<&EventId>, limit: u32) -> Result<Vec<DeliveryRow>, StoreError>;
}

/// A receipt with its attempts, as the host backend lists an app's deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub receipt: ReceiptRow,
    pub attempts: Vec<AttemptRow>,
}

/// One recorded attempt, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub attempt: u32,
    pub started_at: Timestamp,
    pub latency_ms: u64,
    pub http_status: Option<u16>,
    /// `delivered`, `retry`, `dead` or `gone`.
    pub outcome: String,
    pub error: Option<String>,
}

/// A SET waiting in a poll queue: its child event id and the child's sealed
/// payload (sealed like an outbox payload of kind [`SET_POLL`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolledSet {
    pub jti: EventId,
    pub payload: Vec<u8>,
}

/// A request to an app's receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub url: String,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// What the receiver answered (the body capped by the sender).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// `Retry-After`, in seconds, if the receiver sent one.
    pub retry_after: Option<u64>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Never to be sent: the URL is refused (not https, a private address, unparsable).
    #[error("refused: {0}")]
    Refused(String),
    /// No answer: connection failed, timed out, or the answer was cut off.
    #[error("{0}")]
    Failed(String),
}

/// Sends events to apps' receivers (the connectors' SSRF-guarded client):
/// no redirects followed, the answer's body capped.
#[async_trait]
pub trait EventSender: Send + Sync {
    async fn send(&self, request: &Outgoing) -> Result<Answer, SendError>;
}

/// The provider's current signing key, for SETs and logout tokens.
#[async_trait]
pub trait EventSigner: Send + Sync {
    async fn signing_key(&self) -> Result<std::sync::Arc<idlink_crypto::jose::SigningKey>, StoreError>;
}
