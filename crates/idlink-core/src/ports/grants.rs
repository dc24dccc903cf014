//! Grants as the user and the host backend see and end them (SPEC TP2):
//! what each app holds, since when, what was sent to it, and the one write
//! that ends a set of grants with everything hanging from them.

use super::StoreError;
use super::audit::AuditEntry;
use super::outbox::NewEvent;
use async_trait::async_trait;
use idlink_domain::{ClientId, GrantId, SessionId, UserId};
use jiff::Timestamp;

/// A grant with what the user needs to recognise the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    pub id: GrantId,
    pub user_id: UserId,
    pub client_id: ClientId,
    pub client_name: String,
    pub client_logo: Option<String>,
    pub scopes: Vec<String>,
    /// The claim names the app may read.
    pub claims: Vec<String>,
    /// `active`, `suspended` or `revoked`.
    pub state: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The latest consent: its time and the consent text's version.
    pub consented_at: Option<Timestamp>,
    pub consent_version: Option<String>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
}

/// A security event sent (or being sent) to an app: a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub id: String,
    pub client_id: ClientId,
    pub user_id: Option<UserId>,
    /// `webhook`, `set_push`, `set_poll`, `logout`.
    pub channel: String,
    pub event_type: String,
    /// `pending`, `delivered`, `dead`, `gone`.
    pub state: String,
    pub attempts: u32,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub last_status: Option<i64>,
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub delivery_id: String,
    pub attempt: u32,
    pub started_at: Timestamp,
    pub latency_ms: i64,
    pub http_status: Option<i64>,
    pub outcome: String,
    pub error: Option<String>,
}

/// The figures of one client for the console's list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientFigures {
    pub active_grants: u64,
    /// (state, count) of its deliveries.
    pub deliveries: Vec<(String, u64)>,
}

/// One grant to end, with the outbox event and the audit record that go with it.
#[derive(Debug, Clone)]
pub struct GrantRevocation {
    pub grant: GrantId,
    pub user: UserId,
    pub client: ClientId,
    pub at: Timestamp,
    /// `user`, `app`, `host`, `system`.
    pub by: String,
    /// A stable reason code.
    pub reason: String,
    /// The `grant_revoked` lifecycle event.
    pub event: NewEvent,
    pub audit: AuditEntry,
}

#[async_trait]
pub trait GrantStore: Send + Sync {
    /// The user's grants, newest first; revoked ones only when asked.
    async fn grants_of_user(&self, user: &UserId, with_revoked: bool) -> Result<Vec<GrantRow>, StoreError>;
    async fn grant(&self, user: &UserId, id: &GrantId) -> Result<Option<GrantRow>, StoreError>;
    /// The sessions through which the app knows the user, not ended.
    async fn app_sessions(&self, user: &UserId, client: &ClientId) -> Result<Vec<SessionId>, StoreError>;
    /// Receipts of what was sent about `user` (to `client` only, when given), newest first.
    async fn deliveries_of_user(&self, user: &UserId, client: Option<&ClientId>, limit: u32) -> Result<Vec<DeliveryRow>, StoreError>;
    /// Receipts of what was sent to `client`, newest first.
    async fn deliveries_of_client(&self, client: &ClientId, limit: u32) -> Result<Vec<DeliveryRow>, StoreError>;
    /// The attempts of these deliveries, in order.
    async fn delivery_attempts(&self, deliveries: &[String]) -> Result<Vec<AttemptRow>, StoreError>;
    /// Active grants and deliveries by state, per client.
    async fn client_figures(&self) -> Result<Vec<(ClientId, ClientFigures)>, StoreError>;
    /// Ends each grant not ended yet, in one transaction: the grant, its
    /// access tokens, its refresh families (`grant`), its unused codes, its
    /// consents (withdrawn), the app's sessions of the user; with each grant
    /// its event and audit record. Answers the grants it ended (a grant
    /// revoked meanwhile is skipped with its event and record).
    async fn revoke_grants(&self, revocations: &[GrantRevocation]) -> Result<Vec<GrantId>, StoreError>;
}
