//! Host-app API keys (SPEC P5): shown once, stored as a SHA-256 hash of the
//! secret, scoped, revocable.
//!
//! A token reads `<key id>.<secret>` (`key_3f…9a.Zq…`); the id finds the row,
//! the secret's hash must match. Secrets are 256 random bits, so a fast hash
//! is enough (no password stretching needed).
//!
//! Rotation (issue 18 point 3) mints a second key with the same name and
//! scopes that names the key it replaces; the old key keeps working for the
//! overlap and then expires (refused as `api_key_expired`), so a host app
//! swaps its key without downtime. Each key keeps its last use, to the minute.

use crate::ports::StoreError;
use crate::ports::apikeys::{ApiKeyRow, ApiKeyStore};
use crate::ports::audit::AuditEntry;
use crate::ports::auth::SessionRow;
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::steps::codes::constant_time_eq;
use idlink_domain::{ApiKeyId, SessionId};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

/// A use is recorded when the last one recorded is older than this: one
/// write a minute per busy key, not one per request.
pub const LAST_USE_GRAIN: SignedDuration = SignedDuration::from_secs(60);
/// The shortest and longest overlap of a rotation.
pub const OVERLAP_RANGE: (SignedDuration, SignedDuration) = (SignedDuration::from_secs(60), SignedDuration::from_hours(24 * 30));
/// The overlap when none is asked for.
pub const DEFAULT_OVERLAP: SignedDuration = SignedDuration::from_hours(24);

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
    #[error("the overlap must be between 1 minute and 30 days")]
    BadOverlap,
    #[error("the expiry must come after the overlap ends (and within 10 years)")]
    BadExpiry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("invalid API key")]
    Invalid,
    #[error("revoked API key")]
    Revoked,
    /// Past its expiry: the old key of a rotation after the overlap.
    #[error("expired API key")]
    Expired,
}

/// Where a key stands at an instant, as listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Active,
    /// Works until its expiry (the old key during a rotation's overlap).
    Expiring(Timestamp),
    Expired(Timestamp),
    Revoked(Timestamp),
}

impl KeyState {
    pub fn of(row: &ApiKeyRow, now: Timestamp) -> Self {
        match (row.revoked_at, row.expires_at) {
            (Some(at), _) => Self::Revoked(at),
            (None, Some(at)) if at <= now => Self::Expired(at),
            (None, Some(at)) => Self::Expiring(at),
            (None, None) => Self::Active,
        }
    }

    /// `active`, `expiring`, `expired` or `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expiring(_) => "expiring",
            Self::Expired(_) => "expired",
            Self::Revoked(_) => "revoked",
        }
    }
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
    let now = clock.now();
    let (row, token) = mint(ids, name.trim().to_owned(), scopes, now, None, None);
    store.insert_api_key(&row, &AuditEntry::new(actor, "apikey.create", "administration", now)).await?;
    Ok((row, token))
}

fn mint(
    ids: &dyn Ids,
    name: String,
    scopes: Vec<String>,
    now: Timestamp,
    expires_at: Option<Timestamp>,
    replaces: Option<ApiKeyId>,
) -> (ApiKeyRow, String) {
    let id = ids.api_key();
    let secret = hex::encode(ids.secret());
    let row = ApiKeyRow {
        id: id.clone(),
        name,
        secret_hash: hash_secret(&secret),
        scopes,
        created_at: now,
        revoked_at: None,
        expires_at,
        last_used_at: None,
        replaces,
    };
    (row, format!("{id}.{secret}"))
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(transparent)]
    Invalid(#[from] ApiKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A rotation as asked: how long both keys work, and the new key's own life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub overlap: SignedDuration,
    /// `None`: the new key works until revoked or rotated.
    pub expires_in: Option<SignedDuration>,
}

/// A rotation done: the new key, its token (shown once), and when the old key stops.
#[derive(Debug, Clone)]
pub struct Rotated {
    pub key: ApiKeyRow,
    pub token: String,
    pub old_expires_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(transparent)]
    Invalid(#[from] ApiKeyError),
    #[error("no API key {0}")]
    NotFound(ApiKeyId),
    /// Revoked or expired: nothing to overlap with; create a new key instead.
    #[error("{0} is {1}: only a working key can be rotated; create a new key instead")]
    NotWorking(ApiKeyId, &'static str),
    #[error("{0} was rotated already: its successor is {1}; rotate that one")]
    AlreadyRotated(ApiKeyId, ApiKeyId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Rotates key `id`: a new key with the same name and scopes, both valid for
/// `rotation.overlap`, after which the old key is refused. The old key's own
/// expiry stays when it comes sooner. Audited as `apikey.rotate`.
pub async fn rotate(
    store: &dyn ApiKeyStore,
    ids: &dyn Ids,
    clock: &dyn Clock,
    id: &ApiKeyId,
    rotation: Rotation,
    actor: &str,
) -> Result<Rotated, RotateError> {
    if rotation.overlap < OVERLAP_RANGE.0 || rotation.overlap > OVERLAP_RANGE.1 {
        return Err(ApiKeyError::BadOverlap.into());
    }
    if rotation.expires_in.is_some_and(|e| e <= rotation.overlap || e > SignedDuration::from_hours(24 * 3660)) {
        return Err(ApiKeyError::BadExpiry.into());
    }
    let now = clock.now();
    let old = store.api_key(id).await?.ok_or_else(|| RotateError::NotFound(id.clone()))?;
    if let state @ (KeyState::Revoked(_) | KeyState::Expired(_)) = KeyState::of(&old, now) {
        return Err(RotateError::NotWorking(id.clone(), state.as_str()));
    }
    let successor = || async {
        let keys = store.list_api_keys().await?;
        Ok::<_, RotateError>(keys.into_iter().find(|k| k.replaces.as_ref() == Some(id)).map(|k| k.id))
    };
    if let Some(next) = successor().await? {
        return Err(RotateError::AlreadyRotated(id.clone(), next));
    }
    let overlap_end = now.checked_add(rotation.overlap).unwrap_or(now);
    let old_expires_at = old.expires_at.map_or(overlap_end, |e| e.min(overlap_end));
    let expires_at = rotation.expires_in.and_then(|e| now.checked_add(e).ok());
    let (key, token) = mint(ids, old.name.clone(), old.scopes.clone(), now, expires_at, Some(id.clone()));
    let audit = AuditEntry::new(actor, "apikey.rotate", format!("{id} replaced by {}; {id} works until {old_expires_at}", key.id), now);
    if !store.rotate_api_key(&key, old_expires_at, &audit).await? {
        // Lost a race: another rotation or a revocation came first.
        if let Some(next) = successor().await? {
            return Err(RotateError::AlreadyRotated(id.clone(), next));
        }
        let state = store.api_key(id).await?.map_or(KeyState::Revoked(now), |k| KeyState::of(&k, clock.now()));
        return Err(RotateError::NotWorking(id.clone(), state.as_str()));
    }
    Ok(Rotated { key, token, old_expires_at })
}

/// Resolves a presented token to its key, refusing unknown, wrong, revoked
/// and expired keys.
pub async fn authenticate(store: &dyn ApiKeyStore, token: &str, now: Timestamp) -> Result<Result<ApiKeyRow, AuthFailure>, StoreError> {
    let Some((id, secret)) = parse(token) else { return Ok(Err(AuthFailure::Invalid)) };
    Ok(check(store.api_key(&id).await?, secret, now))
}

/// A presented token that a read elsewhere fetches with what the request
/// needs (a terminal's code check, ADR 0034), then [`PresentedKey::admit`]s.
#[derive(Debug, Clone)]
pub struct PresentedKey {
    token: String,
}

impl PresentedKey {
    pub fn new(token: &str) -> Self {
        Self { token: token.to_owned() }
    }

    /// The key it names, when it is shaped as a key at all.
    pub fn id(&self) -> Option<ApiKeyId> {
        parse(&self.token).map(|(id, _)| id)
    }

    /// Reads and checks the key alone, as [`authenticate`] does.
    pub async fn authenticate(&self, store: &dyn ApiKeyStore, now: Timestamp) -> Result<Result<ApiKeyRow, AuthFailure>, StoreError> {
        authenticate(store, &self.token, now).await
    }

    /// The key read for it (`None`: no such key), checked as [`authenticate`] checks it.
    pub fn admit(&self, row: Option<ApiKeyRow>, now: Timestamp) -> Result<ApiKeyRow, AuthFailure> {
        match parse(&self.token) {
            Some((id, secret)) if row.as_ref().is_some_and(|r| r.id == id) => check(row, secret, now),
            _ => Err(AuthFailure::Invalid),
        }
    }
}

/// Whether a request with `key` at `now` should record its use (see [`LAST_USE_GRAIN`]).
pub fn use_worth_recording(key: &ApiKeyRow, now: Timestamp) -> bool {
    key.last_used_at.is_none_or(|at| now.duration_since(at) >= LAST_USE_GRAIN)
}

/// [`authenticate`], also reading the session `session_id` in the same
/// round trip; the session is still checked by [`crate::auth::Auth::session_with`].
pub async fn authenticate_with_session(
    store: &dyn ApiKeyStore,
    token: &str,
    session_id: &str,
    now: Timestamp,
) -> Result<(Result<ApiKeyRow, AuthFailure>, Option<SessionRow>), StoreError> {
    let Some((id, secret)) = parse(token) else { return Ok((Err(AuthFailure::Invalid), None)) };
    // A session id that does not parse names no session: the key alone is read.
    let (row, session) = match SessionId::parse(session_id) {
        Ok(session_id) => store.api_key_with_session(&id, &session_id).await?,
        Err(_) => (store.api_key(&id).await?, None),
    };
    Ok((check(row, secret, now), session))
}

fn parse(token: &str) -> Option<(ApiKeyId, &str)> {
    let (id, secret) = token.split_once('.')?;
    Some((ApiKeyId::parse(id).ok()?, secret))
}

fn check(row: Option<ApiKeyRow>, secret: &str, now: Timestamp) -> Result<ApiKeyRow, AuthFailure> {
    let Some(row) = row else { return Err(AuthFailure::Invalid) };
    if !constant_time_eq(row.secret_hash.as_bytes(), hash_secret(secret).as_bytes()) {
        return Err(AuthFailure::Invalid);
    }
    match KeyState::of(&row, now) {
        KeyState::Revoked(_) => Err(AuthFailure::Revoked),
        KeyState::Expired(_) => Err(AuthFailure::Expired),
        KeyState::Active | KeyState::Expiring(_) => Ok(row),
    }
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

    fn key(expires_at: Option<Timestamp>, revoked_at: Option<Timestamp>) -> ApiKeyRow {
        ApiKeyRow {
            id: ApiKeyId::from_random([7; 16]),
            name: "host".into(),
            secret_hash: hash_secret("s3cret"),
            scopes: vec!["users:read".into()],
            created_at: Timestamp::UNIX_EPOCH,
            revoked_at,
            expires_at,
            last_used_at: None,
            replaces: None,
        }
    }

    #[test]
    fn a_key_works_until_its_expiry_and_not_at_it() {
        let end = Timestamp::from_second(1_000).unwrap_or(Timestamp::MAX);
        let before = Timestamp::from_second(999).unwrap_or(Timestamp::MIN);
        let k = key(Some(end), None);
        assert_eq!(check(Some(k.clone()), "s3cret", before).map(|k| k.id), Ok(k.id.clone()));
        assert_eq!(check(Some(k.clone()), "s3cret", end), Err(AuthFailure::Expired));
        assert_eq!(check(Some(k.clone()), "wrong", before), Err(AuthFailure::Invalid), "the secret is checked first");
        assert_eq!(check(Some(key(Some(end), Some(before))), "s3cret", before), Err(AuthFailure::Revoked));
        assert_eq!(check(None, "s3cret", before), Err(AuthFailure::Invalid));
        assert_eq!(KeyState::of(&k, before), KeyState::Expiring(end));
        assert_eq!(KeyState::of(&key(None, None), end), KeyState::Active);
    }

    #[test]
    fn a_use_is_recorded_once_a_minute() {
        let t = |s| Timestamp::from_second(s).unwrap_or(Timestamp::MIN);
        let mut k = key(None, None);
        assert!(use_worth_recording(&k, t(0)));
        k.last_used_at = Some(t(100));
        assert!(!use_worth_recording(&k, t(159)));
        assert!(use_worth_recording(&k, t(160)));
    }
}
