//! The OpenID provider's periodic job (plan §2; ADR 0020): `oidc_keys`
//! publishes each algorithm's next signing key ahead of its activation and
//! takes retired keys out of the JWKS after their retention. Once per
//! period across the nodes (the lease of `idlink_core::jobs`).

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
