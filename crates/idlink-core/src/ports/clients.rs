//! Registered third-party apps as stored (SPEC TP1): the client, its exact
//! redirect URIs and its secrets (SHA-256 only; several live during a
//! rotation's overlap). The provider reads them to authenticate a client;
//! registration writes them.

use super::StoreError;
use super::audit::AuditEntry;
use super::events::{ChildEvent, StatusChange};
use async_trait::async_trait;
use idlink_crypto::jose::JwsAlg;
use idlink_domain::{ClientId, EndpointId};
use jiff::Timestamp;

/// Whether a client can keep a secret (RFC 6749 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Confidential,
    /// A mobile or browser app: no secret, PKCE only.
    Public,
}

/// How a client authenticates at the token, revocation and introspection endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// RFC 7523: a JWT signed with a key of the client's registered JWK Set.
    PrivateKeyJwt,
    /// A public client.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    Active,
    /// No new authorization, token or introspection; existing grants stay, inactive.
    Disabled,
}

macro_rules! text_enum {
    ($t:ty { $($v:ident = $s:literal),+ $(,)? }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s,)+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)+ _ => None }
            }
        }
    };
}
text_enum!(ClientKind { Confidential = "confidential", Public = "public" });
text_enum!(AuthMethod {
    ClientSecretBasic = "client_secret_basic",
    ClientSecretPost = "client_secret_post",
    PrivateKeyJwt = "private_key_jwt",
    None = "none",
});
text_enum!(ClientState { Active = "active", Disabled = "disabled" });

/// A registered app.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRow {
    pub id: ClientId,
    pub name: String,
    pub logo_url: Option<String>,
    pub kind: ClientKind,
    pub auth_method: AuthMethod,
    /// The client's public keys for `private_key_jwt` (a JWK Set).
    pub jwks: Option<serde_json::Value>,
    /// Matched exactly, character for character (RFC 9700 §2.1).
    pub redirect_uris: Vec<String>,
    pub allowed_scopes: Vec<String>,
    pub allowed_claims: Vec<String>,
    pub id_token_alg: JwsAlg,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    /// A resource server: may introspect tokens issued to other clients.
    pub introspect_any: bool,
    pub state: ClientState,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A client secret as stored: its hash only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecretRow {
    pub id: String,
    pub client_id: ClientId,
    pub secret_hash: String,
    pub created_at: Timestamp,
    /// None while current; the end of the overlap once rotated.
    pub expires_at: Option<Timestamp>,
}

/// Where a client's Standard Webhooks events go (one endpoint per client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpointRow {
    pub id: EndpointId,
    pub client_id: ClientId,
    pub url: String,
    /// Webhook event types subscribed to; empty: every type.
    pub event_types: Vec<String>,
    /// `enabled` or `disabled`.
    pub state: String,
    pub disabled_at: Option<Timestamp>,
    /// `gone_410` or `operator`.
    pub disabled_reason: Option<String>,
    pub created_at: Timestamp,
}

/// The two kinds of Standard Webhooks signing secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookSecretKind {
    /// `v1`: HMAC-SHA256 with the `whsec_` bytes.
    Hmac,
    /// `v1a`: Ed25519; the seed is sealed, the public key (`whpk_…`) kept in clear.
    Ed25519,
}
text_enum!(WebhookSecretKind { Hmac = "hmac", Ed25519 = "ed25519" });

/// A webhook signing secret as stored: sealed under the vault's
/// `sys-webhooks` key, context `webhook_secrets:{id}` (the raw 32 bytes: the
/// HMAC key or the Ed25519 seed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSecretRow {
    pub id: String,
    pub client_id: ClientId,
    pub kind: WebhookSecretKind,
    pub sealed: Vec<u8>,
    /// `whpk_…` for an Ed25519 secret.
    pub public_key: Option<String>,
    pub created_at: Timestamp,
    /// None while current; the end of the overlap once rotated.
    pub expires_at: Option<Timestamp>,
}

/// Everything a registration writes, in one transaction.
#[derive(Debug, Clone)]
pub struct NewClient<'a> {
    pub client: &'a ClientRow,
    /// Confidential clients authenticating with a secret.
    pub secret: Option<&'a ClientSecretRow>,
    pub webhook: Option<&'a WebhookEndpointRow>,
    /// The first webhook secrets (with an endpoint only).
    pub webhook_secrets: &'a [WebhookSecretRow],
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Registers a client with its redirect URIs and (confidential clients with a secret) its first secret.
    async fn insert_client(&self, client: &ClientRow, secret: Option<&ClientSecretRow>, audit: &AuditEntry) -> Result<(), StoreError> {
        self.register_client(&NewClient { client, secret, webhook: None, webhook_secrets: &[] }, audit).await
    }
    /// Registers a client with everything it was given: redirect URIs, first
    /// secret, webhook endpoint and secrets.
    async fn register_client(&self, new: &NewClient<'_>, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Writes a changed client (its columns and redirect URIs) and, when
    /// given, its webhook endpoint (inserted or replaced) and its stream's
    /// status following the client's state, with the stream-updated SET
    /// and its own audit record (as
    /// [`EventStore::set_stream_status`](super::events::EventStore::set_stream_status)),
    /// in one transaction. False: no such client.
    async fn update_client(
        &self,
        client: &ClientRow,
        webhook: Option<&WebhookEndpointRow>,
        stream: Option<(&StatusChange, &ChildEvent, &AuditEntry)>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Adds `secret` as the current secret and ends the current ones at
    /// `old_until` (the overlap). False: no such client.
    async fn rotate_client_secret(
        &self,
        id: &ClientId,
        secret: &ClientSecretRow,
        old_until: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// The same for the webhook secrets (both kinds at once).
    async fn rotate_webhook_secrets(
        &self,
        id: &ClientId,
        secrets: &[WebhookSecretRow],
        old_until: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// The client's webhook endpoint, if it has one.
    async fn webhook_endpoint(&self, id: &ClientId) -> Result<Option<WebhookEndpointRow>, StoreError>;
    /// The client's webhook secrets still valid at `now`, newest first.
    async fn live_webhook_secrets(&self, id: &ClientId, now: Timestamp) -> Result<Vec<WebhookSecretRow>, StoreError>;
    async fn client(&self, id: &ClientId) -> Result<Option<ClientRow>, StoreError>;
    /// The client's secrets still valid at `now` (the current one and any in their overlap).
    async fn live_client_secrets(&self, id: &ClientId, now: Timestamp) -> Result<Vec<ClientSecretRow>, StoreError>;
    /// Every client, oldest first.
    async fn list_clients(&self) -> Result<Vec<ClientRow>, StoreError>;
    /// Stores an access token a client obtained for itself (RFC 6749 §4.4)
    /// with its audit record, in one transaction.
    async fn insert_client_token(&self, token: &ClientTokenRow, audit: &AuditEntry) -> Result<(), StoreError>;
}

/// An access token issued to a client for itself (`client_credentials`,
/// RFC 6749 §4.4): no user, no grant, no refresh family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTokenRow {
    /// SHA-256 of the token (ADR 0020).
    pub token_hash: String,
    pub client_id: ClientId,
    pub scope: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}
