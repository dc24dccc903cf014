//! Host-app API keys (SPEC P5): shown once, stored as a SHA-256 hash of the
//! secret, scoped, revocable.
//!
//! A token reads `<key id>.<secret>` (`key_3f…9a.Zq…`); the id finds the row,
//! the secret's hash must match. Secrets are 256 random bits, so a fast hash
//! is enough (no password stretching needed).

use crate::ports::StoreError;
use crate::ports::apikeys::{ApiKeyRow, ApiKeyStore};
use crate::ports::audit::AuditEntry;
use crate::ports::auth::SessionRow;
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::steps::codes::constant_time_eq;
use idlink_domain::{ApiKeyId, SessionId};
use sha2::{Digest, Sha256};

/// Every scope a key can hold.
pub const SCOPES: &[(&str, &str)] = &[
    ("users:read", "read users (masked personal data)"),
    ("users:write", "create users and delete their data"),
    ("audit:read", "read the audit log and verify the chain"),
    ("clients:read", "read registered third-party apps (never their secrets)"),
    ("clients:write", "register third-party apps, change them, rotate their secrets"),
    ("grants:read", "read the apps a user authorised"),
    ("grants:write", "revoke the apps a user authorised"),
    ("medical:settle", "settle medical payments with users' medical-insurance codes (a hospital or pharmacy terminal)"),
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiKeyError {
    #[error(
        "unknown scope `{0}`; known scopes: users:read, users:write, audit:read, clients:read, clients:write, grants:read, grants:write, medical:settle"
    )]
    UnknownScope(String),
    #[error("a key needs at least one scope")]
    NoScopes,
    #[error("the key name must be 1 to 100 characters")]
    BadName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("invalid API key")]
    Invalid,
    #[error("revoked API key")]
    Revoked,
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Checks scope names and returns them sorted, without duplicates.
pub fn parse_scopes<S: AsRef<str>>(scopes: &[S]) -> Result<Vec<String>, ApiKeyError> {
    let mut out = Vec::new();
    for s in scopes {
        let s = s.as_ref().trim();
        if !SCOPES.iter().any(|(name, _)| *name == s) {
            return Err(ApiKeyError::UnknownScope(s.to_owned()));
        }
        out.push(s.to_owned());
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err(ApiKeyError::NoScopes);
    }
    Ok(out)
}

/// Creates a key and returns it with the token, which is not stored anywhere.
/// `ids` mints both halves of the token: the key id and its secret.
pub async fn create(
    store: &dyn ApiKeyStore,
    ids: &dyn Ids,
    clock: &dyn Clock,
    name: &str,
    scopes: &[String],
    actor: &str,
) -> Result<(ApiKeyRow, String), CreateError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(ApiKeyError::BadName.into());
    }
    let scopes = parse_scopes(scopes)?;
    let id = ids.api_key();
    let secret = hex::encode(ids.secret());
    let now = clock.now();
    let row = ApiKeyRow {
        id: id.clone(),
        name: name.trim().to_owned(),
        secret_hash: hash_secret(&secret),
        scopes,
        created_at: now,
        revoked_at: None,
    };
    store.insert_api_key(&row, &AuditEntry::new(actor, "apikey.create", "administration", now)).await?;
    Ok((row, format!("{id}.{secret}")))
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(transparent)]
    Invalid(#[from] ApiKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Resolves a presented token to its key, refusing unknown, wrong and revoked keys.
pub async fn authenticate(store: &dyn ApiKeyStore, token: &str) -> Result<Result<ApiKeyRow, AuthFailure>, StoreError> {
    let Some((id, secret)) = parse(token) else { return Ok(Err(AuthFailure::Invalid)) };
    Ok(check(store.api_key(&id).await?, secret))
}

/// [`authenticate`], also reading the session `session_id` in the same
/// round trip; the session is still checked by [`crate::auth::Auth::session_with`].
pub async fn authenticate_with_session(
    store: &dyn ApiKeyStore,
    token: &str,
    session_id: &str,
) -> Result<(Result<ApiKeyRow, AuthFailure>, Option<SessionRow>), StoreError> {
    let Some((id, secret)) = parse(token) else { return Ok((Err(AuthFailure::Invalid), None)) };
    // A session id that does not parse names no session: the key alone is read.
    let (row, session) = match SessionId::parse(session_id) {
        Ok(session_id) => store.api_key_with_session(&id, &session_id).await?,
        Err(_) => (store.api_key(&id).await?, None),
    };
    Ok((check(row, secret), session))
}

fn parse(token: &str) -> Option<(ApiKeyId, &str)> {
    let (id, secret) = token.split_once('.')?;
    Some((ApiKeyId::parse(id).ok()?, secret))
}

fn check(row: Option<ApiKeyRow>, secret: &str) -> Result<ApiKeyRow, AuthFailure> {
    let Some(row) = row else { return Err(AuthFailure::Invalid) };
    if !constant_time_eq(row.secret_hash.as_bytes(), hash_secret(secret).as_bytes()) {
        return Err(AuthFailure::Invalid);
    }
    if row.revoked_at.is_some() {
        return Err(AuthFailure::Revoked);
    }
    Ok(row)
}

pub async fn revoke(store: &dyn ApiKeyStore, clock: &dyn Clock, id: &ApiKeyId, actor: &str) -> Result<bool, StoreError> {
    let now = clock.now();
    store.revoke_api_key(id, now, &AuditEntry::new(actor, "apikey.revoke", "administration", now)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_checked_sorted_and_deduplicated() {
        assert_eq!(parse_scopes(&["users:write", "users:read", "users:read"]), Ok(vec!["users:read".into(), "users:write".into()]));
        assert_eq!(parse_scopes(&["users:delete"]), Err(ApiKeyError::UnknownScope("users:delete".into())));
        assert_eq!(parse_scopes::<&str>(&[]), Err(ApiKeyError::NoScopes));
    }
}
