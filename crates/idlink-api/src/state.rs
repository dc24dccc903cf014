//! What every handler can reach.

use idlink_core::auth::Auth;
use idlink_core::identity::Identities;
use idlink_core::operators::Operators;
use idlink_core::payment::PaymentPasswordPolicy;
use idlink_core::ports::clock::Clock;
use idlink_core::ports::ids::Ids;
use idlink_core::ports::{Rng, Store};
use idlink_core::reviews::Reviews;
use idlink_core::security::Security;
use idlink_core::steps::bank_events::BankEvents;
use idlink_core::steps::cards::CardProver;
use idlink_core::steps::codes::AuthPolicy;
use idlink_core::steps::codes::Codes;
use idlink_core::steps::personal::IdentityReader;
use idlink_core::steps::risk::Risk;
use idlink_core::stepup::StepUpPolicy;
use idlink_core::vault::Vault;
use idlink_domain::change_limits::ChangePolicy;
use idlink_domain::risk::RiskPolicy;

/// SLAs of the review queue and operator sessions.
#[derive(Debug, Clone)]
pub struct ReviewSettings {
    /// First-response target of verification reviews (SPEC ID3: 72 h).
    pub verification_sla: jiff::SignedDuration,
    /// First-response target of risk-freeze reviews (SPEC ID8: 5 minutes).
    pub freeze_sla: jiff::SignedDuration,
    /// Review target for guardian evidence (SPEC ID4: 10–15 working days).
    pub guardian_sla: jiff::SignedDuration,
    pub operator_session_ttl: jiff::SignedDuration,
    /// How long a dual-control proposal waits for its second operator (ADR 0015).
    pub dual_control_window: jiff::SignedDuration,
    /// Operator idle timeout and sign-in lockout.
    pub operator_sign_in: idlink_core::operators::SignInPolicy,
}

impl Default for ReviewSettings {
    fn default() -> Self {
        Self {
            verification_sla: jiff::SignedDuration::from_hours(72),
            freeze_sla: jiff::SignedDuration::from_mins(5),
            guardian_sla: jiff::SignedDuration::from_hours(24 * 14),
            operator_session_ttl: jiff::SignedDuration::from_hours(8),
            dual_control_window: jiff::SignedDuration::from_mins(60),
            operator_sign_in: idlink_core::operators::SignInPolicy::default(),
        }
    }
}
use std::sync::Arc;
use std::time::Duration;

/// The audit chain's witness and checkpoint timing, for `/v1/audit/verify`.
#[derive(Clone)]
pub struct AuditSettings {
    pub witness: Arc<dyn idlink_core::ports::witness::AuditWitness>,
    pub policy: idlink_core::audit::CheckpointPolicy,
    /// How long each kind of record is kept (`audit.retention_years`, `[retention]`).
    pub retention: idlink_core::retention::RetentionRules,
}

/// Limits and timeouts of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// After this long an unfinished idempotent request's claim may be taken over.
    pub idempotency_stale_after: Duration,
    /// How long an idempotency record (and the answer kept for replays) lives.
    pub idempotency_ttl: Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::client_ip::TrustedProxies,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            body_limit_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            idempotency_stale_after: Duration::from_secs(300),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            trusted_proxies: crate::client_ip::TrustedProxies::default(),
        }
    }
}

/// What every handler can reach, shared by all requests: cloning it (axum does,
/// once per extractor and middleware) is one reference-count increment.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    pub fn new(parts: AppParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct AppParts {
    pub store: Arc<dyn Store>,
    pub vault: Arc<Vault>,
    pub clock: Arc<dyn Clock>,
    /// The randomness port (codes, secrets, jitter).
    pub rng: Arc<dyn Rng>,
    /// Mints every prefixed id.
    pub ids: Arc<dyn Ids>,
    pub limits: HttpLimits,
    /// The institutions' ports (the connectors serve them).
    pub institutions: idlink_core::ports::InstitutionPorts,
    pub roster: Arc<idlink_domain::roster::Roster>,
    /// The current electronic agreement of each bank that requires one.
    pub documents: Arc<idlink_core::agreements::AgreementDocuments>,
    /// The texts of the separate consents to process sensitive personal information.
    pub consent_texts: Arc<idlink_domain::consent::ConsentTexts>,
    /// The API keys' last uses this node wrote (see [`crate::middleware::KeyUses`]).
    pub key_uses: crate::middleware::KeyUses,
    /// Open review cases past their SLA as this node's job last counted them (`/metrics`).
    pub review_sla: Arc<crate::node_metrics::ReviewSlaGauge>,
    /// How long a signed electronic agreement stays valid.
    pub agreement_validity: jiff::SignedDuration,
    pub change_policy: ChangePolicy,
    pub risk_policy: RiskPolicy,
    pub review: ReviewSettings,
    pub auth_policy: AuthPolicy,
    pub password_policy: PaymentPasswordPolicy,
    pub step_up_policy: StepUpPolicy,
    /// `[credit_report]`: the free quota, the fee, the review SLA, the link's life.
    pub credit_policy: idlink_core::credit::CreditPolicy,
    pub alert_policy: idlink_core::credit_alerts::AlertPolicy,
    /// Where the social-security card service is open (SPEC SS1).
    pub ss_coverage: Arc<idlink_domain::social_security::Coverage>,
    /// Where a user resets a bank's payment password (`{bank}`: the bank's code); empty: not known.
    pub bank_password_reset: String,
    /// `[social_security]`: the binding's timing.
    pub ss_policy: idlink_core::social_security::SsPolicy,
    /// `[revocation]`: idlink's own rules, the host stores' deadline, the deep links.
    pub revocation_policy: idlink_core::revocation::RevocationPolicy,
    /// The CAs users' digital certificates must chain to (none: certificates are not accepted).
    pub certificate_cas: idlink_crypto::certificates::TrustedCas,
    pub audit: AuditSettings,
    /// The face-verification provider is the in-process sandbox (no
    /// `connectors.face.url`): its test values (`sandbox:pass`, …) stand in
    /// for a capture, and the H5 pages offer them.
    pub face_sandbox: bool,
    /// The master keyring file a dual-control key rotation adds its key to
    /// (`None`: rotation is offered by the command line only).
    pub keyring: Option<Arc<dyn idlink_core::ports::keys::MasterKeyFile>>,
    /// The OpenID provider (SPEC TP1).
    pub oidc: idlink_core::oidc::OidcSettings,
    /// Security events to apps (SPEC TP3).
    pub events: idlink_core::events::EventSettings,
}

/// Each use case over this state's parts, given only the ports it needs.
impl AppParts {
    /// The SMS code step (login, new device, payment password, verification).
    pub fn codes(&self) -> Codes<'_> {
        Codes {
            store: self.store.as_ref(),
            users: self.store.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
            ids: self.ids.as_ref(),
            rng: self.rng.as_ref(),
            sender: self.institutions.sms.as_ref(),
            policy: &self.auth_policy,
        }
    }

    /// The login use cases.
    pub fn auth(&self) -> Auth<'_> {
        Auth {
            store: self.store.as_ref(),
            users: self.store.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
            ids: self.ids.as_ref(),
            rng: self.rng.as_ref(),
            codes: self.codes(),
            policy: &self.auth_policy,
        }
    }

    /// The strong-authentication use cases.
    pub fn security(&self) -> Security<'_> {
        Security {
            codes: self.codes(),
            devices: self.store.as_ref(),
            passwords: self.store.as_ref(),
            step_ups: self.store.as_ref(),
            audits: self.store.as_ref(),
            freezes: self.store.as_ref(),
            face: self.consented_face(),
            rng: self.rng.as_ref(),
            ids: self.ids.as_ref(),
            clock: self.clock.as_ref(),
            password_policy: &self.password_policy,
            step_up_policy: &self.step_up_policy,
        }
    }

    /// The real-name identity use cases.
    pub fn identities(&self) -> Identities<'_> {
        Identities {
            store: self.store.as_ref(),
            users: self.store.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
            ids: self.ids.as_ref(),
            codes: self.codes(),
            registry: self.institutions.registry.as_ref(),
            cards: self.institutions.cards.as_ref(),
            face: self.consented_face(),
            consent: self.consent_gate(),
            change_policy: &self.change_policy,
            freezes: self.store.as_ref(),
            review_sla: self.review.verification_sla,
        }
    }

    /// Dual control of sensitive operator actions (ADR 0015).
    pub fn dual_control(&self) -> idlink_core::dual::DualControl<'_> {
        idlink_core::dual::DualControl {
            proposals: self.store.as_ref(),
            reviews: self.store.as_ref(),
            keys: self.store.as_ref(),
            vault: &self.vault,
            keyring: self.keyring.as_deref(),
            clock: self.clock.as_ref(),
            ids: self.ids.as_ref(),
            window: self.review.dual_control_window,
        }
    }

    /// Institution health and the maintenance calendar (ADR 0018).
    pub fn institution_health(&self) -> idlink_core::institutions::Institutions<'_> {
        idlink_core::institutions::Institutions {
            store: self.store.as_ref(),
            health: self.institutions.health.as_ref(),
            clock: self.clock.as_ref(),
            ids: self.ids.as_ref(),
        }
    }

    pub fn operators(&self) -> Operators<'_> {
        Operators {
            store: self.store.as_ref(),
            keys: self.store.as_ref(),
            audits: self.store.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
            ids: self.ids.as_ref(),
            rng: self.rng.as_ref(),
            password_policy: &self.password_policy,
            session_ttl: self.review.operator_session_ttl,
            policy: self.review.operator_sign_in,
        }
    }

    /// The check of the user's consents (issue 18).
    pub fn consent_gate(&self) -> idlink_core::consents::ConsentGate<'_> {
        idlink_core::consents::ConsentGate { store: self.store.as_ref(), texts: &self.consent_texts }
    }

    fn consented_face(&self) -> idlink_core::consents::ConsentedFace<'_> {
        idlink_core::consents::ConsentedFace::new(self.consent_gate(), self.institutions.face.as_ref())
    }

    /// Separate consents to process sensitive personal information.
    pub fn consents(&self) -> idlink_core::consents::Consents<'_> {
        idlink_core::consents::Consents {
            store: self.store.as_ref(),
            texts: &self.consent_texts,
            clock: self.clock.as_ref(),
            ids: self.ids.as_ref(),
        }
    }

    pub fn guardians(&self) -> idlink_core::guardians::Guardians<'_> {
        idlink_core::guardians::Guardians {
            store: self.store.as_ref(),
            identities: self.identity_reader(),
            ids: self.ids.as_ref(),
            clock: self.clock.as_ref(),
            review_sla: self.review.guardian_sla,
        }
    }

    fn identity_reader(&self) -> IdentityReader<'_> {
        IdentityReader { store: self.store.as_ref(), users: self.store.as_ref(), vault: &self.vault, clock: self.clock.as_ref() }
    }

    /// Applies a bank's card event (its callbacks, or the same news in a balance answer).
    fn bank_events(&self) -> BankEvents<'_> {
        BankEvents { store: self.store.as_ref(), vault: &self.vault, ids: self.ids.as_ref(), clock: self.clock.as_ref() }
    }

    pub fn bindings(&self) -> idlink_core::bindings::Bindings<'_> {
        idlink_core::bindings::Bindings {
            consent: self.consent_gate(),
            store: self.store.as_ref(),
            bank: self.institutions.bank.as_ref(),
            users: self.store.as_ref(),
            vault: &self.vault,
            ids: self.ids.as_ref(),
            clock: self.clock.as_ref(),
            prover: CardProver {
                identities: self.store.as_ref(),
                users: self.store.as_ref(),
                vault: &self.vault,
                clock: self.clock.as_ref(),
                cards: self.institutions.cards.as_ref(),
            },
            risk: self.risk(),
            events: self.bank_events(),
        }
    }

    /// Users' digital certificates (ADR 0027).
    pub fn certificates(&self) -> idlink_core::certificates::Certificates<'_> {
        idlink_core::certificates::Certificates {
            store: self.store.as_ref(),
            users: self.store.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
            cas: &self.certificate_cas,
        }
    }

    /// Credit alerts (issue 15, SPEC CR6).
    pub fn credit_alerts(&self) -> idlink_core::credit_alerts::CreditAlerts<'_> {
        idlink_core::credit_alerts::CreditAlerts {
            consent: self.consent_gate(),
            watches: self.store.as_ref(),
            identities: self.store.as_ref(),
            users: self.store.as_ref(),
            grants: self.store.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
            ids: self.ids.as_ref(),
            bureau: self.institutions.bureau.as_ref(),
            policy: &self.alert_policy,
        }
    }

    /// The credit report (issue 15).
    pub fn credit(&self) -> idlink_core::credit::CreditReports<'_> {
        idlink_core::credit::CreditReports {
            consent: self.consent_gate(),
            requests: self.store.as_ref(),
            identities: self.store.as_ref(),
            users: self.store.as_ref(),
            step_ups: self.store.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
            ids: self.ids.as_ref(),
            bureau: self.institutions.bureau.as_ref(),
            face: self.consented_face(),
            bindings: self.store.as_ref(),
            bank: self.institutions.bank.as_ref(),
            cashier: self.institutions.cashier.as_ref(),
            certificates: self.store.as_ref(),
            cas: &self.certificate_cas,
            policy: &self.credit_policy,
        }
    }

    pub fn social_security(&self) -> idlink_core::social_security::SocialSecurity<'_> {
        idlink_core::social_security::SocialSecurity {
            consent: self.consent_gate(),
            bindings: self.store.as_ref(),
            identities: self.store.as_ref(),
            users: self.store.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
            ids: self.ids.as_ref(),
            rng: self.rng.as_ref(),
            bureau: self.institutions.social_security.as_ref(),
            face: self.consented_face(),
            bank: self.institutions.bank.as_ref(),
            codes: self.codes(),
            coverage: &self.ss_coverage,
            policy: &self.ss_policy,
        }
    }

    pub fn revocations(&self) -> idlink_core::revocation::Revocations<'_> {
        idlink_core::revocation::Revocations {
            auth: self.store.as_ref(),
            identities: self.store.as_ref(),
            logins: self.store.as_ref(),
            sagas: self.store.as_ref(),
            keys: self.store.as_ref(),
            step_ups: self.store.as_ref(),
            reviews: self.store.as_ref(),
            guardians: self.store.as_ref(),
            users: self.store.as_ref(),
            hosts: self.institutions.host_stores.as_ref(),
            vault: &self.vault,
            ids: self.ids.as_ref(),
            clock: self.clock.as_ref(),
            policy: &self.revocation_policy,
        }
    }

    pub fn ss_services(&self) -> idlink_core::ss_services::SsServices<'_> {
        idlink_core::ss_services::SsServices {
            bindings: self.store.as_ref(),
            services: self.store.as_ref(),
            users: self.store.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
            ids: self.ids.as_ref(),
            rng: self.rng.as_ref(),
            bureau: self.institutions.social_security.as_ref(),
            face: self.consented_face(),
            consent: self.consent_gate(),
            coverage: &self.ss_coverage,
        }
    }

    pub fn medical_payments(&self) -> idlink_core::medical_payment::MedicalPayments<'_> {
        idlink_core::medical_payment::MedicalPayments {
            consent: self.consent_gate(),
            bindings: self.store.as_ref(),
            uses: self.store.as_ref(),
            users: self.store.as_ref(),
            vault: &self.vault,
            keys: idlink_core::oidc::keys::IssuerKeys {
                store: self.store.as_ref(),
                keys: self.store.as_ref(),
                vault: &self.vault,
                clock: self.clock.as_ref(),
                rng: self.rng.as_ref(),
                settings: &self.oidc,
            },
            issuer: &self.oidc.issuer,
            clock: self.clock.as_ref(),
            rng: self.rng.as_ref(),
            bureau: self.institutions.social_security.as_ref(),
            ttl: self.ss_policy.medical_code_ttl,
            finish_within: self.ss_policy.finish_window,
        }
    }

    pub fn balances(&self) -> idlink_core::balance::Balances<'_> {
        idlink_core::balance::Balances {
            consent: self.consent_gate(),
            store: self.store.as_ref(),
            step_ups: self.store.as_ref(),
            bindings: self.store.as_ref(),
            events: self.bank_events(),
            vault: &self.vault,
            ids: self.ids.as_ref(),
            bank: self.institutions.balances.as_ref(),
            roster: &self.roster,
            documents: &self.documents,
            clock: self.clock.as_ref(),
            agreement_validity: self.agreement_validity,
        }
    }

    /// The user 360° (issue 13 point 4): search by blind index, records opened for a purpose.
    pub fn people(&self) -> idlink_core::people::People<'_> {
        idlink_core::people::People {
            people: self.store.as_ref(),
            users: self.store.as_ref(),
            identities: self.store.as_ref(),
            audits: self.store.as_ref(),
            devices: self.store.as_ref(),
            bindings: self.store.as_ref(),
            balances: self.store.as_ref(),
            passwords: self.store.as_ref(),
            guardians: self.store.as_ref(),
            freezes: self.store.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
            roster: &self.roster,
            documents: &self.documents,
            password_max_failures: self.password_policy.max_failures,
            consent: self.consent_gate(),
        }
    }

    /// The compliance use cases: regulator reports, retention, the audit explorer.
    pub fn compliance(&self) -> idlink_core::reports::Compliance<'_> {
        idlink_core::reports::Compliance {
            store: self.store.as_ref(),
            audits: self.store.as_ref(),
            witness: self.audit.witness.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
            policy: &self.audit.policy,
        }
    }

    /// Retention: each kind's rule and oldest record, the purge, legal holds.
    pub fn retention(&self) -> idlink_core::retention::Retention<'_> {
        idlink_core::retention::Retention {
            store: self.store.as_ref(),
            audits: self.store.as_ref(),
            clock: self.clock.as_ref(),
            public_key: self.vault.signer().public_hex(),
            rules: self.audit.retention,
        }
    }

    pub fn reviews(&self) -> Reviews<'_> {
        Reviews {
            store: self.store.as_ref(),
            users: self.store.as_ref(),
            identities: self.store.as_ref(),
            clock: self.clock.as_ref(),
            vault: &self.vault,
            ids: self.ids.as_ref(),
            request: None,
        }
    }

    /// The user's side of a reviewer's request for more information.
    pub fn info_answers(&self) -> idlink_core::reviews::InfoAnswers<'_> {
        idlink_core::reviews::InfoAnswers {
            reviews: self.store.as_ref(),
            identities: self.store.as_ref(),
            guardians: self.store.as_ref(),
            users: self.store.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
        }
    }

    pub fn risk(&self) -> Risk<'_> {
        Risk {
            store: self.store.as_ref(),
            vault: &self.vault,
            clock: self.clock.as_ref(),
            ids: self.ids.as_ref(),
            policy: &self.risk_policy,
            sla: self.review.freeze_sla,
        }
    }
}

/// The client's IP address, as seen by the server (or a trusted proxy header).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);
