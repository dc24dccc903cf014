//! Clients for the institutions idlink calls, and the one [`Executor`]
//! every outbound call goes through.
//!
//! Each institution kind is a folder (`docs/connectors.md`): its pure wire
//! types (serde structs, mapped to domain results with unknown statuses
//! treated as *pending*, never as success), a thin client over the
//! executor, and the adapter that serves the core's port with it. A failed
//! call reads as "unavailable" in one place ([`unavailable`]).
//! The executor owns deadlines, retries (idempotent calls only), a circuit
//! breaker per institution and channel with half-open probes, optional
//! mutual TLS, and logging with personal data masked. The credit bureau
//! ([`bureau`]) answers with whole reports; the host app's cashier
//! ([`payment`]) collects and refunds fees; each province's
//! social-security bureau ([`social_security`]) is reached over a primary
//! and an alternate channel; the host app's own stores ([`host_stores`])
//! name what blocks a revocation. Besides institutions,
//! the remote audit witness ([`witness`]) is reached the same way.

pub mod bank;
pub mod breaker;
pub mod bureau;
pub mod events;
pub mod executor;
pub mod face;
pub mod health;
pub mod host_stores;
pub mod masking;
pub mod payment;
pub mod registry;
pub mod settings;
pub mod sms;
pub mod social_security;
pub mod unavailable;
pub mod witness;

pub use executor::{CallError, Executor, ExecutorPolicy, Signing, Target, TlsIdentity};
pub use settings::{Endpoint, SettingsError};

use idlink_core::ports::clock::Clock;
use idlink_domain::roster::Roster;
use serde::Deserialize;
use settings::{SettingsError as At, url_or_sandbox};
use std::sync::Arc;

/// `[connectors]` of the configuration: the executor every outbound call
/// goes through, and one table per institution kind (`[connectors.<kind>]`).
/// The binary's configuration tree holds it as is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Deadline of one call, retries included.
    pub timeout_ms: u64,
    /// Extra attempts for idempotent calls.
    pub retries: u32,
    /// Consecutive failures that open a channel's circuit.
    pub breaker_failures: u32,
    /// How long an open circuit waits before a half-open probe.
    pub breaker_open_secs: u64,
    /// `[connectors.sms]`: the SMS gateway.
    pub sms: Endpoint,
    /// `[connectors.face]`: the face-verification provider.
    pub face: Endpoint,
    /// `[connectors.registry]`: the identity registry.
    pub registry: Endpoint,
    /// `[connectors.bank]`: the banks, their channels and their policies.
    pub bank: bank::Settings,
    /// `[connectors.bureau]`: the credit bureau.
    pub bureau: Endpoint,
    /// `[connectors.payment]`: the host app's cashier.
    pub payment: payment::Settings,
    /// `[connectors.social_security]`: the provincial social-security bureaus.
    pub social_security: social_security::Settings,
    /// `[connectors.host_stores]`: the host app's wallet, lending, subscriptions and directories.
    pub host_stores: host_stores::Settings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            timeout_ms: 5000,
            retries: 2,
            breaker_failures: 5,
            breaker_open_secs: 30,
            sms: Endpoint::default(),
            face: Endpoint::default(),
            registry: Endpoint::default(),
            bank: bank::Settings::default(),
            bureau: Endpoint::default(),
            payment: payment::Settings::default(),
            social_security: social_security::Settings::default(),
            host_stores: host_stores::Settings::default(),
        }
    }
}

impl Settings {
    /// Deadlines, retries and breaker of every outbound call.
    pub fn executor_policy(&self) -> ExecutorPolicy {
        ExecutorPolicy {
            deadline: std::time::Duration::from_millis(self.timeout_ms),
            retries: self.retries,
            breaker_failures: self.breaker_failures,
            breaker_open_for: jiff::SignedDuration::from_secs(i64::try_from(self.breaker_open_secs).unwrap_or(i64::MAX)),
        }
    }

    /// Checked at start.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.breaker_failures == 0 {
            return Err(SettingsError { key: "connectors.breaker_failures", detail: "must be at least 1".into() });
        }
        let urls = [
            ("connectors.sms.url", &self.sms.url),
            ("connectors.face.url", &self.face.url),
            ("connectors.registry.url", &self.registry.url),
            ("connectors.bureau.url", &self.bureau.url),
            ("connectors.payment.url", &self.payment.url),
        ];
        self.payment.validate()?;
        self.social_security.validate()?;
        self.host_stores.validate()?;
        for (key, url) in urls.into_iter().chain(self.bank.urls()) {
            if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
                return Err(SettingsError { key, detail: "an http:// or https:// base URL, or empty for the sandbox".into() });
            }
        }
        self.bank.validate()
    }
}

/// The institution clients, all going through one executor; each gives
/// the core its port.
pub struct Institutions {
    pub executor: Arc<Executor>,
    pub sms: sms::SmsGateway,
    pub face: face::FaceProvider,
    pub registry: registry::IdentityRegistry,
    pub bureau: bureau::CreditBureauApi,
    /// The host app's cashier; none when neither configured nor sandboxed (paid reports are then refused).
    pub cashier: Option<payment::CashierApi>,
    /// The cashier's signed payment callbacks.
    pub payment_callbacks: payment::callbacks::PaymentCallbacks,
    /// Every bank through the card switch and, where configured, its direct channel.
    pub banks: bank::BankChannels,
    /// The banks' signed callbacks, checked with their public key.
    pub bank_callbacks: bank::callbacks::BankCallbacks,
    pub roster: Arc<Roster>,
    /// Every province's social-security bureau, primary and alternate.
    pub social_security: social_security::Bureaus,
    /// The host's registered stores (none registered: the preflight asks only idlink's rules).
    pub host_stores: host_stores::HostStoreApis,
    /// Where a user resets a bank's payment password (`{bank}` is the bank's code); empty: nowhere known.
    pub bank_password_reset: String,
}

impl Institutions {
    /// The clients `[connectors]` configures; an empty URL means the
    /// sandbox at `sandbox` (its base URL). `direct`: the banks' direct
    /// listener, if there is one (else every bank goes through the switch).
    /// `bank_callback_key`: the banks' public key (hex Ed25519) that signs
    /// their callbacks; without one every callback is refused.
    /// `payment_webhook_secret`: the cashier's callback secret, when not
    /// configured (the one made for the sandbox).
    #[allow(clippy::too_many_arguments)]
    pub fn connect(
        s: &Settings,
        sandbox: Option<&str>,
        direct: Option<bank::DirectChannel>,
        bank_callback_key: Option<String>,
        payment_webhook_secret: Option<&str>,
        roster: Arc<Roster>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SettingsError> {
        let url = |key, configured: &str| url_or_sandbox(key, configured, sandbox);
        let (k_sms, k_face, k_registry, k_bureau) =
            ("connectors.sms.url", "connectors.face.url", "connectors.registry.url", "connectors.bureau.url");
        let (k_switch, k_direct) = ("connectors.bank.switch_url", "connectors.bank.direct_url");
        let k_payment = "connectors.payment.url";
        let webhook_secret = match (s.payment.webhook_secret.as_str(), payment_webhook_secret) {
            ("", Some(made)) => made,
            (configured, _) => configured,
        };
        let switch = bank::BankApi::card_switch(&url(k_switch, &s.bank.switch_url)?).map_err(At::at(k_switch))?;
        let direct = direct.map(bank::DirectChannel::target).transpose().map_err(At::at(k_direct))?;
        let me = Self {
            payment_callbacks: payment::callbacks::PaymentCallbacks::new(webhook_secret, clock.clone()),
            executor: Arc::new(Executor::new(s.executor_policy(), clock)),
            // Optional: a host app that sells no paid reports configures no cashier.
            cashier: match (s.payment.url.as_str(), sandbox) {
                ("", None) => None,
                (configured, _) => Some(payment::CashierApi::new(&url(k_payment, configured)?).map_err(At::at(k_payment))?),
            },
            sms: sms::SmsGateway::new(&url(k_sms, &s.sms.url)?).map_err(At::at(k_sms))?,
            face: face::FaceProvider::new(&url(k_face, &s.face.url)?).map_err(At::at(k_face))?,
            registry: registry::IdentityRegistry::new(&url(k_registry, &s.registry.url)?).map_err(At::at(k_registry))?,
            bureau: bureau::CreditBureauApi::new(&url(k_bureau, &s.bureau.url)?).map_err(At::at(k_bureau))?,
            banks: bank::BankChannels::new(switch, direct.as_ref(), roster.banks.iter().map(|b| b.code.as_str())),
            bank_callbacks: bank::callbacks::BankCallbacks::new(bank_callback_key),
            social_security: social_security::Bureaus::connect(&s.social_security, sandbox)?,
            host_stores: host_stores::HostStoreApis::connect(&s.host_stores, sandbox)?,
            bank_password_reset: match (s.bank.password_reset_url.as_str(), sandbox) {
                ("", Some(base)) => format!("{base}/sandbox/banks/{{bank}}/password-reset"),
                (configured, _) => configured.to_owned(),
            },
            roster,
        };
        // Every channel is on the health page (and can be scheduled) before its first call.
        let targets = [me.sms.target(), me.face.target(), me.registry.target(), me.bureau.target()];
        for t in targets
            .into_iter()
            .chain(me.cashier.as_ref().map(payment::CashierApi::target))
            .chain(me.banks.targets())
            .chain(me.social_security.targets())
            .chain(me.host_stores.targets())
        {
            me.executor.register(t);
        }
        Ok(me)
    }

    /// Every port the core takes from an institution.
    pub fn ports(&self) -> idlink_core::ports::InstitutionPorts {
        let banks = Arc::new(self.bank_ports());
        idlink_core::ports::InstitutionPorts {
            sms: Arc::new(self.sms_codes()),
            face: Arc::new(self.face_checks()),
            registry: Arc::new(self.registry_checks()),
            cards: banks.clone(),
            bank: banks.clone(),
            balances: banks,
            bureau: Arc::new(bureau::BureauPort::new(self.bureau.clone(), self.executor.clone())),
            bank_callbacks: Arc::new(self.bank_callbacks.clone()),
            cashier: match &self.cashier {
                Some(api) => Arc::new(payment::CashierPort::new(api.clone(), self.executor.clone())),
                None => Arc::new(payment::NoCashier),
            },
            payment_callbacks: Arc::new(self.payment_callbacks.clone()),
            social_security: Arc::new(social_security::SocialSecurityPort::new(self.social_security.clone(), self.executor.clone())),
            host_stores: Arc::new(self.host_stores()),
            health: self.executor.clone(),
        }
    }

    /// The host's stores, through the one executor (the outbox tells the wallet payment limits).
    pub fn host_stores(&self) -> host_stores::HostStoresPort {
        host_stores::HostStoresPort::new(self.host_stores.clone(), self.executor.clone())
    }

    /// Verification codes and user notifications.
    pub fn sms_codes(&self) -> sms::SmsCodes {
        sms::SmsCodes::new(self.sms.clone(), self.executor.clone())
    }

    pub fn face_checks(&self) -> face::FaceChecks {
        face::FaceChecks::new(self.face.clone(), self.executor.clone())
    }

    pub fn registry_checks(&self) -> registry::RegistryChecks {
        registry::RegistryChecks::new(self.registry.clone(), self.executor.clone())
    }

    /// Four-element checks, binding codes and balances.
    pub fn bank_ports(&self) -> bank::BankPorts {
        bank::BankPorts::new(self.banks.clone(), self.roster.clone(), self.executor.clone())
    }
}
