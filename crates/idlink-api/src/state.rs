//! What every handler can reach.

use idlink_core::Clock;
use idlink_core::auth::{AuthPolicy, CodeSender};
use idlink_core::face::FaceVerifier;
use idlink_core::identity::{Identities, RegistryCheck};
use idlink_core::payment::PaymentPasswordPolicy;
use idlink_core::ports::Store;
use idlink_core::security::Security;
use idlink_core::stepup::StepUpPolicy;
use idlink_core::vault::Vault;
use idlink_domain::change_limits::ChangePolicy;
use std::sync::Arc;
use std::time::Duration;

/// Limits and timeouts of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// After this long an unfinished idempotent request's claim may be taken over.
    pub idempotency_stale_after: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self { body_limit_bytes: 64 * 1024, request_timeout: Duration::from_secs(30), idempotency_stale_after: Duration::from_secs(300) }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub vault: Arc<Vault>,
    pub clock: Arc<dyn Clock>,
    pub limits: HttpLimits,
    pub sms: Arc<dyn CodeSender>,
    pub face: Arc<dyn FaceVerifier>,
    pub registry: Arc<dyn RegistryCheck>,
    pub change_policy: ChangePolicy,
    pub auth_policy: AuthPolicy,
    pub password_policy: PaymentPasswordPolicy,
    pub step_up_policy: StepUpPolicy,
}

impl AppState {
    /// The login use cases over this state's parts.
    pub fn auth(&self) -> idlink_core::auth::Auth<'_> {
        idlink_core::auth::Auth {
            store: self.store.as_ref(),
            users: self.store.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
            sender: self.sms.as_ref(),
            policy: &self.auth_policy,
        }
    }
}

impl AppState {
    /// The strong-authentication use cases over this state's parts.
    pub fn security(&self) -> Security<'_> {
        Security {
            auth: self.auth(),
            passwords: self.store.as_ref(),
            step_ups: self.store.as_ref(),
            audits: self.store.as_ref(),
            face: self.face.as_ref(),
            rng: self.vault.rng_arc(),
            clock: self.clock.as_ref(),
            password_policy: &self.password_policy,
            step_up_policy: &self.step_up_policy,
        }
    }
}

impl AppState {
    /// The real-name identity use cases over this state's parts.
    pub fn identities(&self) -> Identities<'_> {
        Identities {
            auth: self.auth(),
            store: self.store.as_ref(),
            users: self.store.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
            registry: self.registry.as_ref(),
            face: self.face.as_ref(),
            change_policy: &self.change_policy,
        }
    }
}

/// The client's IP address, as seen by the server (or a trusted proxy header).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);
