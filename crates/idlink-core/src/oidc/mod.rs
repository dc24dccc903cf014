//! The OpenID Connect provider for third-party apps (SPEC TP1, TP2; ADRs
//! 0020, 0021; `docs/oidc.md`): registered clients, the authorization code
//! flow with PKCE, consent, tokens (opaque, stored hashed), refresh rotation
//! with reuse detection, userinfo with OpenID Identity Assurance
//! `verified_claims`, revocation, introspection, and the signing keys.

pub mod claims;
pub mod keys;
pub mod provider;

use idlink_crypto::jose::JwsAlg;
use jiff::SignedDuration;

/// How the provider behaves (`[oidc]` in the configuration).
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// `iss`, exactly as apps reach idlink, without a trailing slash.
    pub issuer: String,
    pub authorization_ttl: SignedDuration,
    pub code_ttl: SignedDuration,
    pub access_token_ttl: SignedDuration,
    pub id_token_ttl: SignedDuration,
    pub refresh_ttl: SignedDuration,
    /// How long a rotated secret keeps working beside the new one.
    pub secret_overlap: SignedDuration,
    pub jwks_max_age: SignedDuration,
    pub key_rotation: SignedDuration,
    pub key_publish_ahead: SignedDuration,
    /// The provider's own signatures (SETs, logout tokens) and the ID-token default.
    pub signing_alg: JwsAlg,
    pub trust_framework: String,
    pub consent_version: String,
    /// The longest a `private_key_jwt` assertion may live (`exp` − `iat`, or
    /// `exp` − now without `iat`; RFC 7523 §3 leaves the limit to the server).
    pub assertion_max_lifetime: SignedDuration,
    /// How long expired authorization requests, codes and tokens are kept
    /// past their expiry before the `oauth_purge` job deletes them.
    pub purge_grace: SignedDuration,
    /// How long ended app sessions (`oauth_sessions`) are kept.
    pub session_retention: SignedDuration,
    /// Requests to `/oauth2/authorize` per client IP per minute (0: no limit).
    pub authorize_per_minute: u64,
    /// Requests to `/oauth2/token` per client IP per minute (0: no limit).
    pub token_per_minute: u64,
    /// This process's decoded signing keys (shared by every clone).
    pub key_cache: keys::KeyCache,
}

impl OidcSettings {
    /// The defaults, for `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            authorization_ttl: SignedDuration::from_mins(10),
            code_ttl: SignedDuration::from_secs(60),
            access_token_ttl: SignedDuration::from_mins(10),
            id_token_ttl: SignedDuration::from_mins(10),
            refresh_ttl: SignedDuration::from_hours(24 * 30),
            secret_overlap: SignedDuration::from_hours(24),
            jwks_max_age: SignedDuration::from_hours(1),
            key_rotation: SignedDuration::from_hours(24 * 90),
            key_publish_ahead: SignedDuration::from_hours(3),
            signing_alg: JwsAlg::Es256,
            trust_framework: "https://idlink.dev/tf/cn-real-name".into(),
            consent_version: "2026-11".into(),
            assertion_max_lifetime: SignedDuration::from_mins(5),
            purge_grace: SignedDuration::from_hours(24),
            session_retention: SignedDuration::from_hours(24 * 30),
            authorize_per_minute: 60,
            token_per_minute: 300,
            key_cache: keys::KeyCache::default(),
        }
    }
}

/// The kinds of secret the provider mints, each with its prefix, so a token
/// pasted in the wrong place is refused (and recognisable in a secret scanner).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// `ila_…`: an access token.
    AccessToken,
    /// `ilr_…`: a refresh token.
    RefreshToken,
    /// `ilc_…`: an authorization code.
    Code,
    /// `ics_…`: a client secret.
    ClientSecret,
}

impl SecretKind {
    pub fn prefix(self) -> &'static str {
        match self {
            SecretKind::AccessToken => "ila_",
            SecretKind::RefreshToken => "ilr_",
            SecretKind::Code => "ilc_",
            SecretKind::ClientSecret => "ics_",
        }
    }

    /// A new secret of this kind: the prefix and 256 random bits, base64url.
    pub fn mint(self, ids: &dyn crate::ports::ids::Ids) -> String {
        use base64::Engine;
        format!("{}{}", self.prefix(), base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ids.secret()))
    }
}

/// How every token, code and client secret is stored: SHA-256, hex. They
/// carry 256 random bits, so a fast hash is enough (ADR 0020), and
/// introspection stays one indexed read.
pub fn secret_hash(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The vault system key the signing keys' private halves are sealed under
/// (context `oidc-key:{kid}`).
pub const SIGNING_KEY_ID: &str = "sys-oidc-signing";
/// The vault system key pairwise subjects (and every other per-app
/// identifier: `sid`, SET `txn`) are derived with (plan §6.12).
pub const SUBJECT_KEY_ID: &str = "sys-oidc-subject";
