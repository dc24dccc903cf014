//! The OpenID provider's store (SPEC TP1, TP2; ADR 0020): clients and their
//! secrets, authorization requests, codes, subjects, grants and consents,
//! access and refresh tokens, signing keys. Tokens, codes and client secrets
//! are stored only as their SHA-256.

use super::StoreError;
use super::audit::AuditEntry;
use async_trait::async_trait;
use idlink_crypto::jose::JwsAlg;
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
