//! The OpenID provider's periodic jobs (plan §2; ADR 0020), each once per
//! period across the nodes (the lease of `idlink_core::jobs`): `oidc_keys`
//! publishes each algorithm's next signing key ahead of its activation and
//! takes retired keys out of the JWKS after their retention; `oauth_purge`
//! deletes what expired (authorization requests, codes, access tokens,
//! refresh tokens and families, client-assertion `jti`s, ended app
//! sessions, the provider's rate-limit windows).

use idlink_core::jobs::{Occasion, PeriodicJob};
use idlink_core::oidc::OidcSettings;
use idlink_core::oidc::keys::IssuerKeys;
use idlink_core::ports::Rng;
use idlink_core::ports::clock::Clock;
use idlink_core::vault::Vault;
use idlink_store::SqlStore;
use jiff::SignedDuration;
use std::sync::Arc;

pub const OIDC_KEYS: &str = "oidc_keys";
pub const OAUTH_PURGE: &str = "oauth_purge";

/// The signing-key rotation step.
pub struct OidcKeys {
    pub store: SqlStore,
    pub vault: Arc<Vault>,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Rng>,
    pub settings: OidcSettings,
}

impl OidcKeys {
    pub fn new(store: SqlStore, vault: Arc<Vault>, clock: Arc<dyn Clock>, rng: Arc<dyn Rng>, settings: OidcSettings) -> Self {
        Self { store, vault, clock, rng, settings }
    }
}

#[async_trait::async_trait]
impl PeriodicJob for OidcKeys {
    fn name(&self) -> &'static str {
        OIDC_KEYS
    }

    /// A quarter of the publish-ahead time (1 s to 1 h), so the next key is
    /// published well before RPs' cached JWKS expire.
    fn period(&self) -> SignedDuration {
        (self.settings.key_publish_ahead / 4).clamp(SignedDuration::from_secs(1), SignedDuration::from_hours(1))
    }

    async fn run(&self, _: Occasion) -> Result<(), String> {
        let keys = IssuerKeys {
            store: &self.store,
            keys: &self.store,
            vault: &self.vault,
            clock: self.clock.as_ref(),
            rng: self.rng.as_ref(),
            settings: &self.settings,
        };
        let done = keys.rotate().await.map_err(|e| format!("signing key rotation failed: {e}"))?;
        if !done.published.is_empty() || done.removed > 0 {
            tracing::info!(published = ?done.published, removed = done.removed, "OpenID signing keys rotated");
        }
        Ok(())
    }

    fn at_start_and_shutdown(&self) -> bool {
        false
    }
}

/// Deletes the provider's expired rows in bounded batches: authorization
/// requests, codes and access tokens `oidc.purge_grace_secs` after they
/// expired; refresh tokens and families that grace after they expired or
/// were revoked (never a live family's, used tokens included: they are how a
/// reuse is recognised); assertion `jti`s once past their `exp`; app
/// sessions `oidc.session_retention_days` after they ended.
pub struct OAuthPurgeJob {
    pub store: SqlStore,
    pub clock: Arc<dyn Clock>,
    pub every: SignedDuration,
    pub settings: OidcSettings,
}

/// Rows per table per statement.
const PURGE_BATCH: u32 = 1000;

#[async_trait::async_trait]
impl PeriodicJob for OAuthPurgeJob {
    fn name(&self) -> &'static str {
        OAUTH_PURGE
    }

    fn period(&self) -> SignedDuration {
        self.every
    }

    async fn run(&self, _: Occasion) -> Result<(), String> {
        use idlink_core::ports::oauth::{OAuthFlowStore, OAuthPurge, Purged};
        let mut total = Purged::default();
        loop {
            let now = self.clock.now();
            let ago = |d: SignedDuration| now.checked_sub(d).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            let purge = OAuthPurge {
                expired_before: ago(self.settings.purge_grace),
                assertions_before: now,
                sessions_ended_before: ago(self.settings.session_retention),
                // The longest window is a minute; a day leaves every live one alone.
                rate_windows_before: ago(SignedDuration::from_hours(24)),
                limit: PURGE_BATCH,
            };
            let n = self.store.purge_oauth(&purge).await.map_err(|e| format!("purging expired OAuth rows failed: {e}"))?;
            total.authz_requests += n.authz_requests;
            total.codes += n.codes;
            total.access_tokens += n.access_tokens;
            total.refresh_tokens += n.refresh_tokens;
            total.refresh_families += n.refresh_families;
            total.assertions += n.assertions;
            total.sessions += n.sessions;
            total.rate_windows += n.rate_windows;
            if !n.full(PURGE_BATCH) {
                break;
            }
        }
        if total.total() > 0 {
            tracing::debug!(purged = ?total, "expired OAuth rows purged");
        }
        Ok(())
    }
}
