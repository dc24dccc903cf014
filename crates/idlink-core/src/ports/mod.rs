//! The bottom layer of `idlink-core`: every port a use case talks through,
//! and nothing else. No module here imports a use case.
//!
//! One module per area holds the store trait of that area (implemented by
//! `idlink-store` for SQLite and PostgreSQL), the rows it reads and the
//! write structs it takes, and the institution ports of that area
//! (registry, banks, face, SMS). Besides them: [`StoreError`], the audit
//! record types ([`audit`]), the [`Clock`](clock::Clock), the randomness port [`Rng`] and
//! the [`Ids`](ids::Ids) port that mints every prefixed id.
//!
//! Every store method that changes state takes the [`AuditEntry`](audit::AuditEntry)
//! describing it and writes both in one transaction.

pub mod apikeys;
pub mod audit;
pub mod auth;
pub mod balance;
pub mod bindings;
pub mod bureau;
pub mod callbacks;
pub mod cashier;
pub mod certificates;
pub mod clients;
pub mod clock;
pub mod consents;
pub mod credit;
pub mod events;
pub mod face;
pub mod freezes;
pub mod grants;
pub mod guardians;
pub mod host_stores;
pub mod idempotency;
pub mod identity;
pub mod ids;
pub mod institutions;
pub mod keys;
pub mod leases;
pub mod oauth;
pub mod operators;
pub mod outbox;
pub mod payment;
pub mod people;
pub mod proposals;
pub mod reports;
pub mod retention;
pub mod reviews;
pub mod revocations;
pub mod social_security;
pub mod ss_bindings;
pub mod stepup;
pub mod users;
pub mod witness;

/// The randomness port: a CSPRNG in production, a seeded one in tests.
pub use idlink_crypto::Random as Rng;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule held: names the rule (a constraint or index name).
    #[error("unique rule `{0}` violated")]
    Unique(String),
    /// The database could not be reached or answered an error.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Stored data does not have the expected shape (an id that does not
    /// parse, a timestamp out of range, a status no version wrote).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// The institution ports, as the connectors serve them (one field per
/// port; `docs/connectors.md`).
#[derive(Clone)]
pub struct InstitutionPorts {
    /// Verification codes by SMS.
    pub sms: std::sync::Arc<dyn auth::CodeSender>,
    pub face: std::sync::Arc<dyn face::FaceVerifier>,
    /// The identity registry.
    pub registry: std::sync::Arc<dyn identity::RegistryCheck>,
    /// The banks' four-element check.
    pub cards: std::sync::Arc<dyn identity::CardCheck>,
    /// The banks' binding codes.
    pub bank: std::sync::Arc<dyn bindings::BankChannel>,
    /// The banks' balances.
    pub balances: std::sync::Arc<dyn balance::BalanceBank>,
    /// The credit bureau.
    pub bureau: std::sync::Arc<dyn bureau::CreditBureau>,
    /// The banks' signed card events (inbound), checked by the bank connector.
    pub bank_callbacks: std::sync::Arc<dyn callbacks::CallbackVerifier>,
    /// The host app's payment connector.
    pub cashier: std::sync::Arc<dyn cashier::Cashier>,
    /// The cashier's signed payment callbacks (inbound), checked by the payment connector.
    pub payment_callbacks: std::sync::Arc<dyn callbacks::CallbackVerifier>,
    /// The provincial social-security bureaus.
    pub social_security: std::sync::Arc<dyn social_security::SocialSecurityBureau>,
    /// The host app's wallet, lending, subscriptions and directories (revocation blockers).
    pub host_stores: std::sync::Arc<dyn host_stores::HostStores>,
    /// What the connectors measure of every institution and channel, and the calendar they enforce.
    pub health: std::sync::Arc<dyn institutions::InstitutionHealth>,
}

#[async_trait]
pub trait HealthStore: Send + Sync {
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Declares [`Store`] over one list of store traits, and implements it for
/// every type that implements them all.
macro_rules! store_of {
    ($($port:path),+ $(,)?) => {
        /// Everything a running idlink needs from its database.
        pub trait Store: $($port +)+ Send + Sync {}
        impl<T: $($port +)+ Send + Sync> Store for T {}
    };
}

store_of!(
    users::UserStore,
    keys::KeyStore,
    apikeys::ApiKeyStore,
    idempotency::IdempotencyStore,
    audit::AuditStore,
    HealthStore,
    auth::AuthStore,
    payment::PaymentPasswordStore,
    stepup::StepUpStore,
    identity::IdentityStore,
    operators::OperatorStore,
    reviews::ReviewStore,
    proposals::ProposalStore,
    freezes::FreezeStore,
    revocations::RevocationStore,
    guardians::GuardianStore,
    bindings::BindingStore,
    credit::CreditStore,
    certificates::CertificateStore,
    balance::BalanceStore,
    outbox::OutboxStore,
    leases::LeaseStore,
    reports::ComplianceStore,
    consents::ConsentStore,
    retention::RetentionStore,
    people::PeopleStore,
    institutions::MaintenanceStore,
    clients::ClientStore,
    oauth::OAuthStore,
    oauth::OAuthFlowStore,
    grants::GrantStore,
    events::EventStore,
    ss_bindings::SsBindingStore,
    ss_bindings::MedicalCodeStore,
    ss_bindings::SsServiceStore,
);
