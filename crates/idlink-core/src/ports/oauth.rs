//! The OpenID provider's store (SPEC TP1, TP2; ADR 0020): clients and their
//! secrets, authorization requests, codes, subjects, grants and consents,
//! access and refresh tokens, signing keys. Tokens, codes and client secrets
//! are stored only as their SHA-256.

use super::StoreError;
use super::audit::AuditEntry;
use super::clients::{AuthMethod, ClientKind};
use super::outbox::NewEvent;
use async_trait::async_trait;
use idlink_crypto::jose::JwsAlg;
use idlink_domain::{AuthzRequestId, ClientId, ConsentId, GrantId, RefreshFamilyId, UserId};
use jiff::Timestamp;

/// A signing key as stored: the public JWK and the sealed PKCS#8.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningKeyRow {
    /// The RFC 7638 thumbprint of the public key.
    pub kid: String,
    pub alg: JwsAlg,
    /// 0 for an algorithm's first key, then one more per rotation.
    pub generation: i64,
    pub public_jwk: serde_json::Value,
    /// PKCS#8, sealed under `sys-oidc-signing`, context `oidc-key:{kid}`.
    pub private_sealed: Vec<u8>,
    pub created_at: Timestamp,
    /// From when it signs (published earlier, so RPs' cached JWKS hold it).
    pub activates_at: Timestamp,
    /// When the next key took over; it stays published for the retention after.
    pub retires_at: Option<Timestamp>,
    /// When it left the JWKS.
    pub removed_at: Option<Timestamp>,
}

#[async_trait]
pub trait OAuthStore: Send + Sync {
    /// Every signing key still published (not removed), by algorithm and generation.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError>;
    /// Adds `key` unless its algorithm already has a key of that generation
    /// (another node won the race: then false, and the caller re-reads).
    /// The previous generation's `retires_at` becomes the new key's
    /// activation, in the same transaction.
    async fn insert_signing_key(&self, key: &SigningKeyRow, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Takes keys retired before `retired_before` out of the JWKS; answers how many.
    async fn remove_signing_keys(&self, retired_before: Timestamp, now: Timestamp, audit: &AuditEntry) -> Result<u64, StoreError>;
}

/// An authorization request checked at `/oauth2/authorize`, waiting for consent.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthzRequestRow {
    pub id: AuthzRequestId,
    pub client_id: ClientId,
    /// The checked parameters (`crate::oidc::authorize::AuthzParams`, JSON).
    pub params: serde_json::Value,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A consent row (PIPL art. 29: the sensitive claims get their own).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRow {
    pub id: ConsentId,
    pub consent_version: String,
    /// SHA-256 of the wording the user was shown.
    pub text_hash: String,
    pub claims: Vec<String>,
    pub sensitive: bool,
}

/// An authorization code as stored (its hash only).
#[derive(Debug, Clone, PartialEq)]
pub struct CodeRow {
    pub code_hash: String,
    pub client_id: ClientId,
    pub user_id: UserId,
    pub grant_id: GrantId,
    pub session_id: Option<String>,
    pub redirect_uri: String,
    pub scope: String,
    /// What the code releases: `{"userinfo": [...], "id_token": [...]}` claim names.
    pub claims: serde_json::Value,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub auth_time: Timestamp,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

/// What "Allow" on the consent page writes, in one transaction: the grant
/// (new, or the existing one updated and re-activated), the consents, the
/// pairwise subject, the OP session as the app knows it, the code, and the
/// authorization request's removal.
#[derive(Debug, Clone)]
pub struct Approval {
    pub request: AuthzRequestId,
    /// Used when the user has no grant for the client yet.
    pub new_grant: GrantId,
    pub scopes: Vec<String>,
    /// Every claim the grant now holds.
    pub claims: Vec<String>,
    pub consents: Vec<ConsentRow>,
    pub sub: String,
    pub sid: String,
    /// The code, its `grant_id` filled in by the store.
    pub code: CodeRow,
    pub at: Timestamp,
}

/// New tokens minted for an exchange (hashes only).
#[derive(Debug, Clone, PartialEq)]
pub struct NewTokens {
    /// The refresh family the tokens belong to (a new one for a code).
    pub family: RefreshFamilyId,
    pub access_hash: String,
    pub access_expires_at: Timestamp,
    /// Only with `offline_access`.
    pub refresh_hash: Option<String>,
    pub refresh_expires_at: Timestamp,
    /// The claims userinfo releases (JSON array of names).
    pub userinfo_claims: Vec<String>,
    /// The app's `sid` for the OP session (back-channel logout).
    pub sid: Option<String>,
    pub at: Timestamp,
}

/// What redeeming a code found.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeExchange {
    /// The code was unused and valid: the tokens are stored.
    Issued(Box<CodeRow>),
    /// A second use: what the first issued is now revoked (RFC 6749 §4.1.2).
    Reused,
    /// Unknown, expired, or its grant is no longer active.
    Invalid,
}

/// A refresh family as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyRow {
    pub id: RefreshFamilyId,
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub user_id: UserId,
    pub sid: Option<String>,
    pub scope: String,
    pub claims: Vec<String>,
}

/// What presenting a refresh token found (plan §3).
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    /// Rotated: the next generation and its access token are stored.
    Rotated(FamilyRow),
    /// Already used: the family and its access tokens are revoked now.
    Reused,
    /// Unknown, expired, another client's, revoked, or the grant is not active.
    Invalid,
}

/// An access token with what introspection and userinfo need, in one read.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessTokenView {
    pub client_id: ClientId,
    pub user_id: Option<UserId>,
    pub grant_id: Option<GrantId>,
    pub scope: String,
    pub claims: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// `None` when the token has no grant (client credentials).
    pub grant_state: Option<String>,
    pub client_active: bool,
    /// The pairwise subject of the token's user for its client.
    pub sub: Option<String>,
}

impl AccessTokenView {
    /// Live at `now`: not revoked, not expired, its client active, and its
    /// grant (if it has one) still there and active. Every resource endpoint
    /// (introspection, userinfo, stream management) judges a token by this.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none()
            && self.expires_at > now
            && self.client_active
            && self.grant_state.as_deref().is_none_or(|s| s == "active")
            && (self.grant_id.is_none() || self.grant_state.is_some())
    }
}

/// The calling client of an introspection as one read sees it, with the
/// token asked about; `None` from the store when the caller is unknown.
#[derive(Debug, Clone, PartialEq)]
pub struct Introspection {
    pub caller_kind: ClientKind,
    pub caller_method: AuthMethod,
    pub caller_active: bool,
    pub caller_introspects_any: bool,
    /// The presented secret's hash is one of the caller's live secrets.
    pub secret_matches: bool,
    pub token: Option<AccessTokenView>,
}

/// Builds the lifecycle event a detected reuse (a code or refresh token
/// presented again) writes in the transaction that revokes the family; the
/// user and client are known only inside it.
pub type ReuseEvent<'a> = &'a (dyn Fn(&UserId, &ClientId) -> Result<NewEvent, StoreError> + Send + Sync);

/// What one turn of the `oauth_purge` job deletes (at most `limit` rows per table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthPurge {
    /// Authorization requests, codes and access tokens that expired before
    /// this (their expiry plus the grace), and refresh tokens and families
    /// that expired or were revoked before it.
    pub expired_before: Timestamp,
    /// Client-assertion `jti`s expired before this (now: a jti is kept until its `exp`).
    pub assertions_before: Timestamp,
    /// App sessions ended before this (the retention).
    pub sessions_ended_before: Timestamp,
    /// The provider's rate-limit windows (`oauth:` buckets) that started before this.
    pub rate_windows_before: Timestamp,
    pub limit: u32,
}

/// Rows deleted by one [`OAuthPurge`], per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub authz_requests: u64,
    pub codes: u64,
    pub access_tokens: u64,
    pub refresh_tokens: u64,
    pub refresh_families: u64,
    pub assertions: u64,
    pub sessions: u64,
    pub rate_windows: u64,
}

impl Purged {
    pub fn total(&self) -> u64 {
        self.authz_requests
            + self.codes
            + self.access_tokens
            + self.refresh_tokens
            + self.refresh_families
            + self.assertions
            + self.sessions
            + self.rate_windows
    }

    /// Some table had a full batch: there may be more.
    pub fn full(&self, limit: u32) -> bool {
        let l = u64::from(limit);
        [
            self.authz_requests,
            self.codes,
            self.access_tokens,
            self.refresh_tokens,
            self.refresh_families,
            self.assertions,
            self.sessions,
            self.rate_windows,
        ]
        .iter()
        .any(|n| *n >= l)
    }
}

#[async_trait]
pub trait OAuthFlowStore: Send + Sync {
    async fn insert_authz_request(&self, row: &AuthzRequestRow) -> Result<(), StoreError>;
    async fn authz_request(&self, id: &AuthzRequestId) -> Result<Option<AuthzRequestRow>, StoreError>;
    /// Deny: the request is removed, the refusal audited.
    async fn deny_authz_request(&self, id: &AuthzRequestId, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Allow (see [`Approval`]); answers the grant's id. False-y (`None`)
    /// when the request was already used.
    async fn approve(
        &self,
        user: &UserId,
        client: &ClientId,
        session_id: &str,
        a: &Approval,
        audit: &AuditEntry,
    ) -> Result<Option<GrantId>, StoreError>;
    async fn code(&self, code_hash: &str) -> Result<Option<CodeRow>, StoreError>;
    /// Single use: marks the code used and stores `tokens` if it was unused,
    /// unexpired and its grant active; a second use revokes the family the
    /// first started and writes `reuse_event` in the same transaction.
    async fn exchange_code(
        &self,
        code_hash: &str,
        tokens: &NewTokens,
        audit: &AuditEntry,
        reuse: &AuditEntry,
        reuse_event: ReuseEvent<'_>,
    ) -> Result<CodeExchange, StoreError>;
    /// Rotation with reuse detection (plan §3): a reuse revokes the family
    /// and writes `reuse_event` in the same transaction.
    async fn rotate_refresh(
        &self,
        token_hash: &str,
        client: &ClientId,
        tokens: &NewTokens,
        audit: &AuditEntry,
        reuse: &AuditEntry,
        reuse_event: ReuseEvent<'_>,
    ) -> Result<RefreshOutcome, StoreError>;
    /// RFC 7009: revokes `client`'s access token, or refresh token with its family.
    async fn revoke_token(&self, token_hash: &str, client: &ClientId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// One read by primary key (introspection, userinfo).
    async fn access_token(&self, token_hash: &str) -> Result<Option<AccessTokenView>, StoreError>;
    /// Introspection in one statement (ADR 0020): the calling client, whether
    /// `secret_hash` is one of its live secrets at `now`, and the token.
    async fn introspection(
        &self,
        caller: &ClientId,
        secret_hash: &str,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<Introspection>, StoreError>;
    /// Records a `private_key_jwt` assertion's `jti`; false when seen before.
    async fn record_assertion(&self, client: &ClientId, jti: &str, expires_at: Timestamp) -> Result<bool, StoreError>;
    /// Deletes one batch of what [`OAuthPurge`] names; never a refresh token
    /// of a live family (a used one is how a reuse is recognised).
    async fn purge_oauth(&self, purge: &OAuthPurge) -> Result<Purged, StoreError>;
}
