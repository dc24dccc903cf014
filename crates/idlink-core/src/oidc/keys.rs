//! The provider's signing keys (plan §2; ADR 0020): one current key per
//! algorithm, chosen by time on every node without coordination, the next
//! one published `key_publish_ahead` before it activates, the retired ones
//! kept in the JWKS for the retention below and then removed. Private keys
//! are sealed under the vault's `sys-oidc-signing` key.
//!
//! Decoded keys are cached per process for at most [`CACHE_FOR`]: a stale
//! cache only ever holds keys that are still published, so it can make a
//! token verifiable a little longer; a token of a key it does not hold yet
//! (made on another node since) reloads it, at most once a second.

use super::{OidcSettings, SIGNING_KEY_ID};
use crate::ports::audit::AuditEntry;
use crate::ports::clock::Clock;
use crate::ports::keys::KeyStore;
use crate::ports::oauth::{OAuthStore, SigningKeyRow};
use crate::ports::{Rng, StoreError};
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_crypto::jose::{JoseError, JwsAlg, SigningKey, VerifyingKeys};
use jiff::{SignedDuration, Timestamp};
use std::sync::{Arc, Mutex};

/// How long a node trusts its decoded copy of the key table.
pub const CACHE_FOR: SignedDuration = SignedDuration::from_secs(30);

/// How long polled Security Event Tokens (which carry no `exp`) may be
/// verified after signing: a retired key stays published at least this long.
const SET_RETENTION: SignedDuration = SignedDuration::from_hours(24 * 7);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("jose: {0}")]
    Jose(#[from] JoseError),
    /// Every attempt to create the first key lost a race or vanished.
    #[error("no signing key for {0}")]
    Missing(&'static str),
}

struct Loaded {
    alg: JwsAlg,
    generation: i64,
    activates_at: Timestamp,
    key: Arc<SigningKey>,
}

struct Cached {
    fetched_at: Timestamp,
    keys: Vec<Loaded>,
    /// The same keys' public halves, decoded to check idlink's own tokens.
    verifying: Arc<VerifyingKeys>,
}

/// This process's decoded keys (shared by every request through
/// [`OidcSettings::key_cache`]).
#[derive(Clone, Default)]
pub struct KeyCache(Arc<Mutex<Option<Arc<Cached>>>>);

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache")
    }
}

impl KeyCache {
    fn get(&self, now: Timestamp) -> Option<Arc<Cached>> {
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().filter(|c| c.fetched_at <= now && now.duration_since(c.fetched_at) < CACHE_FOR).cloned()
    }

    fn put(&self, cached: Option<Arc<Cached>>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = cached;
    }
}

/// What a rotation step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Keys added (first keys and next keys), by kid.
    pub published: Vec<String>,
    /// Retired keys taken out of the JWKS.
    pub removed: u64,
}

/// The provider's keys over its ports.
pub struct IssuerKeys<'a> {
    pub store: &'a dyn OAuthStore,
    /// Where the vault keeps `sys-oidc-signing`.
    pub keys: &'a dyn KeyStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub rng: &'a dyn Rng,
    pub settings: &'a OidcSettings,
}

impl IssuerKeys<'_> {
    /// The key signing now with the provider's own algorithm (SETs, logout tokens).
    pub async fn signing_key(&self) -> Result<Arc<SigningKey>, KeyError> {
        self.signing_key_for(self.settings.signing_alg).await
    }

    /// The key signing now with `alg` (ID tokens use the client's algorithm).
    /// Creates the algorithm's first key if it has none.
    pub async fn signing_key_for(&self, alg: JwsAlg) -> Result<Arc<SigningKey>, KeyError> {
        let now = self.clock.now();
        let cached = self.loaded(false).await?;
        if let Some(key) = current(&cached, alg, now) {
            return Ok(key);
        }
        self.ensure_first(alg).await?;
        let cached = self.loaded(true).await?;
        // The first key activates when it is made, after `now` was read.
        current(&cached, alg, self.clock.now()).ok_or(KeyError::Missing(alg.as_str()))
    }

    /// Every published key, decoded to check a token idlink signed (the
    /// keys of [`IssuerKeys::jwks`], without building the set each time).
    pub async fn verifying_keys(&self) -> Result<Arc<VerifyingKeys>, KeyError> {
        Ok(self.loaded(false).await?.verifying.clone())
    }

    /// After `token` failed against [`IssuerKeys::verifying_keys`]: the keys
    /// loaded again when its `kid` is one this node does not hold (another
    /// node made the key since this one loaded its cache), at most once a
    /// second, so a fresh key is never refused for long; else `None`.
    pub async fn newer_verifying_keys(&self, token: &str) -> Result<Option<Arc<VerifyingKeys>>, KeyError> {
        let cached = self.loaded(false).await?;
        let unknown = idlink_crypto::jose::kid_of(token).is_some_and(|kid| !cached.verifying.has(&kid));
        let old = cached.fetched_at.checked_add(SignedDuration::from_secs(1)).is_ok_and(|t| t < self.clock.now());
        if unknown && old { Ok(Some(self.loaded(true).await?.verifying.clone())) } else { Ok(None) }
    }

    /// The JWK Set: every published key (next, current and retired ones
    /// still within their retention). Makes sure each algorithm has a key,
    /// so an RP that fetched the set before its first ID token finds the kid.
    pub async fn jwks(&self) -> Result<serde_json::Value, KeyError> {
        let mut cached = self.loaded(false).await?;
        let mut created = false;
        for alg in JwsAlg::ALL {
            if !cached.keys.iter().any(|k| k.alg == alg) {
                self.ensure_first(alg).await?;
                created = true;
            }
        }
        if created {
            cached = self.loaded(true).await?;
        }
        let keys: Vec<serde_json::Value> = cached.keys.iter().map(|k| k.key.public_jwk().clone()).collect();
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// One rotation step (the `oidc_keys` job): each algorithm in use gets
    /// its next key `key_publish_ahead` before the current one
    /// has served `key_rotation`, and retired keys leave the JWKS after
    /// [`IssuerKeys::retention`].
    pub async fn rotate(&self) -> Result<Rotation, KeyError> {
        let now = self.clock.now();
        let rows = self.store.signing_keys().await?;
        let mut done = Rotation::default();
        for alg in JwsAlg::ALL {
            let latest = rows.iter().filter(|r| r.alg == alg).max_by_key(|r| r.generation);
            let (generation, activates_at) = match latest {
                // The first key is made on first use (a token, the JWKS): a
                // deployment that never serves an app holds no signing key.
                None => continue,
                Some(l) => {
                    let due = l.activates_at.checked_add(self.settings.key_rotation).unwrap_or(Timestamp::MAX);
                    let publish_at = due.checked_sub(self.settings.key_publish_ahead).unwrap_or(due);
                    if now < publish_at {
                        continue;
                    }
                    let earliest = now.checked_add(self.settings.key_publish_ahead).unwrap_or(Timestamp::MAX);
                    (l.generation + 1, due.max(earliest))
                }
            };
            if let Some(kid) = self.insert(alg, generation, activates_at).await? {
                done.published.push(kid);
            }
        }
        let retired_before = now.checked_sub(self.retention()).unwrap_or(Timestamp::MIN);
        let audit = AuditEntry::new("system", "oidc.key_remove", "signing key rotation", now);
        done.removed = self.store.remove_signing_keys(retired_before, now, &audit).await?;
        if !done.published.is_empty() || done.removed > 0 {
            self.settings.key_cache.put(None);
        }
        Ok(done)
    }

    /// How long a retired key stays published: the longest a token signed
    /// just before retirement may be checked (an ID token's lifetime, a
    /// polled SET's week), plus the time RPs may cache the JWKS.
    pub fn retention(&self) -> SignedDuration {
        self.settings.id_token_ttl.max(SET_RETENTION) + self.settings.jwks_max_age
    }

    async fn ensure_first(&self, alg: JwsAlg) -> Result<(), KeyError> {
        self.insert(alg, 0, self.clock.now()).await?;
        Ok(())
    }

    /// Mints and stores a key; `None` when another node stored that generation first.
    async fn insert(&self, alg: JwsAlg, generation: i64, activates_at: Timestamp) -> Result<Option<String>, KeyError> {
        let now = self.clock.now();
        let key = SigningKey::generate(alg, self.rng)?;
        let data_key = self.vault.system_data_key::<KeyError>(self.keys, SIGNING_KEY_ID).await?;
        let sealed = self.vault.seal(&data_key, &format!("oidc-key:{}", key.kid()), key.pkcs8())?;
        let row = SigningKeyRow {
            kid: key.kid().to_string(),
            alg,
            generation,
            public_jwk: key.public_jwk().clone(),
            private_sealed: sealed,
            created_at: now,
            activates_at,
            retires_at: None,
            removed_at: None,
        };
        let audit = AuditEntry::new("system", "oidc.key_publish", "signing key rotation", now);
        let inserted = self.store.insert_signing_key(&row, &audit).await?;
        self.settings.key_cache.put(None);
        Ok(inserted.then_some(row.kid))
    }

    /// The decoded keys, from the cache unless `fresh` or older than [`CACHE_FOR`].
    async fn loaded(&self, fresh: bool) -> Result<Arc<Cached>, KeyError> {
        let now = self.clock.now();
        if !fresh && let Some(c) = self.settings.key_cache.get(now) {
            return Ok(c);
        }
        let rows = self.store.signing_keys().await?;
        let data_key = self.vault.system_data_key::<KeyError>(self.keys, SIGNING_KEY_ID).await?;
        let mut keys = Vec::with_capacity(rows.len());
        for r in rows {
            let pkcs8 = data_key.open(&format!("oidc-key:{}", r.kid), &r.private_sealed)?;
            let key = SigningKey::from_pkcs8(r.alg, &pkcs8)?;
            keys.push(Loaded { alg: r.alg, generation: r.generation, activates_at: r.activates_at, key: Arc::new(key) });
        }
        let public: Vec<serde_json::Value> = keys.iter().map(|k| k.key.public_jwk().clone()).collect();
        let verifying = Arc::new(VerifyingKeys::from_jwks(&serde_json::json!({ "keys": public }))?);
        let cached = Arc::new(Cached { fetched_at: now, keys, verifying });
        self.settings.key_cache.put(Some(cached.clone()));
        Ok(cached)
    }
}

/// The newest key of `alg` that has activated: every node picks the same one at the same time.
fn current(cached: &Cached, alg: JwsAlg, now: Timestamp) -> Option<Arc<SigningKey>> {
    cached.keys.iter().filter(|k| k.alg == alg && k.activates_at <= now).max_by_key(|k| k.generation).map(|k| k.key.clone())
}
