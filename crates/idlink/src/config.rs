//! The configuration tree: defaults → TOML file (`--config`) → `IDLINK__…`
//! environment variables (`IDLINK__SERVER__LISTEN=0.0.0.0:8080` sets
//! `server.listen`). Unknown keys and bad values stop the start with a
//! message naming the key. Secrets are never inline: they are read from
//! files named here (`crypto.master_key_file`, `database.url_file`).

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: Server,
    pub database: Database,
    pub crypto: Crypto,
    pub audit: Audit,
    pub sandbox: Sandbox,
    /// `[connectors]` and its `[connectors.<kind>]` tables, defined with their connectors.
    pub connectors: idlink_connectors::Settings,
    pub login: Login,
    pub payment_password: PaymentPassword,
    pub step_up: StepUp,
    pub credit_report: CreditReport,
    pub social_security: SocialSecurity,
    pub revocation: Revocation,
    pub identity: Identity,
    pub review: Review,
    pub risk: Risk,
    pub outbox: Outbox,
    pub retention: Retention,
    pub consents: Consents,
    pub oidc: Oidc,
    pub events: Events,
    pub web: Web,
    pub log: Log,
}

/// The OpenID Connect provider for third-party apps (SPEC TP1, TP2; `docs/oidc.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Oidc {
    /// The issuer URL apps see (`iss`), exactly as they reach idlink, without a
    /// trailing slash. Empty: `http://{server.listen}` (development only; a
    /// server listening beyond loopback refuses to start without it).
    pub issuer: String,
    /// How long an authorization request waits for the user's consent.
    pub authorization_ttl_secs: u64,
    /// How long an authorization code can be exchanged (once).
    pub code_ttl_secs: u64,
    pub access_token_ttl_secs: u64,
    pub id_token_ttl_secs: u64,
    /// A refresh token family's lifetime from the first exchange.
    pub refresh_ttl_secs: u64,
    /// How long a rotated client secret (or webhook secret) keeps working beside the new one.
    pub secret_overlap_secs: u64,
    /// `Cache-Control: max-age` of the JWKS.
    pub jwks_max_age_secs: u64,
    /// A signing key signs for this long before the next one takes over.
    pub key_rotation_days: u64,
    /// A new key is published this long before it signs, so apps' cached JWKS
    /// already hold it (at least twice `jwks_max_age_secs`).
    pub key_publish_ahead_secs: u64,
    /// The algorithm of the provider's own signatures (SETs, logout tokens) and
    /// the default for ID tokens: `ES256` or `EdDSA`.
    pub signing_alg: String,
    /// The trust framework named in `verified_claims` (OpenID Identity Assurance).
    pub trust_framework: String,
    /// The version of the consent text shown on the consent page; a new version asks again.
    pub consent_version: String,
    /// The longest lifetime of a `private_key_jwt` client assertion (`exp` − `iat`).
    pub assertion_max_lifetime_secs: u64,
    /// How often the `oauth_purge` job deletes expired requests, codes, tokens and assertions.
    pub purge_every_secs: u64,
    /// How long expired requests, codes and tokens are kept past their expiry.
    pub purge_grace_secs: u64,
    /// How long ended app sessions are kept (back-channel logout looks them up).
    pub session_retention_days: u64,
    /// `/oauth2/authorize` requests per client IP per minute (0: no limit).
    pub authorize_per_ip_per_minute: u64,
    /// `/oauth2/token` requests per client IP per minute (0: no limit).
    pub token_per_ip_per_minute: u64,
}

impl Default for Oidc {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            authorization_ttl_secs: 600,
            code_ttl_secs: 60,
            access_token_ttl_secs: 600,
            id_token_ttl_secs: 600,
            refresh_ttl_secs: 30 * 86_400,
            secret_overlap_secs: 86_400,
            jwks_max_age_secs: 3_600,
            key_rotation_days: 90,
            key_publish_ahead_secs: 3 * 3_600,
            signing_alg: "ES256".into(),
            trust_framework: "https://idlink.dev/tf/cn-real-name".into(),
            consent_version: "2026-11".into(),
            assertion_max_lifetime_secs: 300,
            purge_every_secs: 3_600,
            purge_grace_secs: 86_400,
            session_retention_days: 30,
            authorize_per_ip_per_minute: 60,
            token_per_ip_per_minute: 300,
        }
    }
}

/// Security events to third-party apps (SPEC TP3; `docs/events.md`): Standard
/// Webhooks, Security Event Tokens, back-channel logout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Events {
    /// Waits after each failed attempt, in order (Standard Webhooks' schedule,
    /// about three days); after the last the delivery is parked as dead.
    pub schedule_secs: Vec<u64>,
    /// Deliveries attempted at once by one node.
    pub concurrency: usize,
    /// One attempt's limit (connect, send and answer).
    pub timeout_ms: u64,
    /// Allow receivers on loopback, private and link-local addresses (the
    /// sandbox app and tests); off in production: an app's URL must not reach
    /// idlink's own network.
    pub allow_private_targets: bool,
    /// Allow `http://` receivers (development only).
    pub allow_plain_http: bool,
    /// A logout token's lifetime (`exp - iat`).
    pub logout_token_ttl_secs: u64,
    /// How long delivery receipts are kept.
    pub keep_receipts_days: u64,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            schedule_secs: vec![5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400],
            concurrency: 8,
            timeout_ms: 10_000,
            allow_private_targets: false,
            allow_plain_http: false,
            logout_token_ttl_secs: 120,
            keep_receipts_days: 180,
        }
    }
}

/// The H5 pages under `/h5/`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Web {
    /// Mark the pages' cookies `Secure` (with the `__Host-` prefix): set it
    /// when browsers reach idlink over HTTPS, directly or through a proxy.
    pub secure_cookies: bool,
    /// Serve the pages with plain cookies on an address beyond loopback
    /// (a trial on a private network); without it such a start is refused,
    /// since a session cookie would travel in clear.
    pub allow_plain_http: bool,
}

/// The outbox (`docs/outbox.md`): how events are claimed, retried and parked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Outbox {
    /// How often an idle worker looks for due events.
    pub poll_ms: u64,
    /// Events one worker claims at once.
    pub batch: u32,
    /// Attempts before an event is parked as dead (`idlink outbox list --dead`).
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles with each one, half of it random.
    pub backoff_base_ms: u64,
    /// The longest wait between attempts.
    pub backoff_max_secs: u64,
    /// How long a worker holds what it claimed; past it (the worker died) another node takes it.
    pub claim_secs: u64,
    /// How long delivered events are kept before they are purged.
    pub keep_delivered_hours: u64,
    /// How often one node purges delivered events and refreshes `idlink_outbox_depth`.
    pub housekeeping_secs: u64,
}

impl Default for Outbox {
    fn default() -> Self {
        let d = idlink_core::outbox::OutboxPolicy::default();
        Self {
            poll_ms: 500,
            batch: d.batch,
            max_attempts: d.max_attempts,
            backoff_base_ms: u64::try_from(d.backoff_base.as_millis()).unwrap_or(2000),
            backoff_max_secs: u64::try_from(d.backoff_max.as_secs()).unwrap_or(900),
            claim_secs: u64::try_from(d.claim_for.as_secs()).unwrap_or(60),
            keep_delivered_hours: 24 * 7,
            housekeeping_secs: 30,
        }
    }
}

/// Separate consents to process sensitive personal information (issue 18,
/// `docs/consents.md`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Consents {
    /// The texts and their versions (TOML, as
    /// `crates/idlink-domain/data/consents.toml`); empty: the bundled ones.
    /// A new version of a text asks every user again.
    pub texts_file: String,
}

/// Retention by period (issue 18, SPEC P7, CP; `docs/retention.md`): how
/// long the kinds not ruled elsewhere are kept, and how often the purge runs.
/// The query and audit logs follow `audit.retention_years`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Sign-ins (the network-operation log) after their session ended; at least 6.
    pub sign_in_months: u32,
    /// A credit report's sealed content and PDF after it was ready.
    pub credit_file_days: u32,
    /// How often one node runs the purge.
    pub purge_interval_hours: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self { sign_in_months: 6, credit_file_days: 180, purge_interval_hours: 24 }
    }
}

impl Retention {
    pub fn rules(config: &Config) -> idlink_core::retention::RetentionRules {
        idlink_core::retention::RetentionRules {
            audit_years: config.audit.retention_years,
            sign_in_months: config.retention.sign_in_months,
            credit_file_days: config.retention.credit_file_days,
            idempotency: jiff::SignedDuration::from_secs(i64::try_from(config.server.idempotency_ttl_secs).unwrap_or(i64::MAX)),
            outbox_delivered: jiff::SignedDuration::from_secs(
                i64::try_from(config.outbox.keep_delivered_hours.saturating_mul(3600)).unwrap_or(i64::MAX),
            ),
        }
    }
}

/// The review queue (SPEC ID3, ID8, OP1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Review {
    pub verification_sla_hours: i64,
    pub freeze_sla_secs: i64,
    pub guardian_sla_days: i64,
    pub operator_session_hours: i64,
    /// An operator session unused this long is refused (the idle timeout).
    pub operator_idle_minutes: i64,
    /// Failed sign-ins in a row that lock an operator.
    pub operator_max_failures: u32,
    /// How long that lock lasts; it then ends by itself (`idlink operator unlock` ends it sooner).
    pub operator_lock_minutes: i64,
    /// How often open cases are checked against their SLA (`idlink_review_sla_breached`) and breaches escalated.
    pub sla_check_secs: u64,
    /// How long a dual-control proposal waits for its second operator (ADR 0015).
    pub dual_control_window_minutes: i64,
}

impl Default for Review {
    fn default() -> Self {
        Self {
            verification_sla_hours: 72,
            freeze_sla_secs: 300,
            guardian_sla_days: 14,
            operator_session_hours: 8,
            sla_check_secs: 15,
            dual_control_window_minutes: 60,
            operator_idle_minutes: 30,
            operator_max_failures: 5,
            operator_lock_minutes: 15,
        }
    }
}

/// Risk rules (SPEC ID8): score thresholds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Risk {
    pub step_up_at: u32,
    pub freeze_at: u32,
    pub burst_logins_per_hour: u32,
    pub failed_attempts: u32,
}

impl Default for Risk {
    fn default() -> Self {
        let d = idlink_domain::risk::RiskPolicy::default();
        Self { step_up_at: d.step_up_at, freeze_at: d.freeze_at, burst_logins_per_hour: d.burst, failed_attempts: d.failures }
    }
}

/// Real-name change limits (SPEC ID5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Identity {
    pub changes_per_year: usize,
    pub min_days_between_changes: i64,
    pub cooling_off_days: i64,
}

impl Default for Identity {
    fn default() -> Self {
        Self { changes_per_year: 3, min_days_between_changes: 90, cooling_off_days: 180 }
    }
}

impl Identity {
    pub fn policy(&self) -> idlink_domain::change_limits::ChangePolicy {
        idlink_domain::change_limits::ChangePolicy {
            per_year: self.changes_per_year,
            min_gap: jiff::SignedDuration::from_hours(24 * self.min_days_between_changes),
            cooling_off: jiff::SignedDuration::from_hours(24 * self.cooling_off_days),
        }
    }
}

/// The payment password (SPEC ID6): Argon2id cost and lockout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentPassword {
    /// Argon2id memory in KiB (OWASP: 19456 = 19 MiB).
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Consecutive failures that lock it (SPEC ID6: 3).
    pub max_failures: u32,
}

impl Default for PaymentPassword {
    fn default() -> Self {
        let d = idlink_core::payment::PaymentPasswordPolicy::default();
        Self { memory_kib: d.memory_kib, iterations: d.iterations, parallelism: d.parallelism, max_failures: d.max_failures }
    }
}

/// The credit report (SPEC CR2, CR3, CR5; issue 15).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CreditReport {
    /// Free reports per calendar year (Asia/Shanghai).
    pub free_per_year: u32,
    /// The fee of each further report, in fen.
    pub fee_fen: i64,
    /// How long an operator has to review a request the bureau held.
    pub review_sla_hours: i64,
    /// How long a download link works.
    pub link_ttl_hours: i64,
    /// How often the follow-up job asks the bureau about waiting requests.
    pub follow_up_secs: u64,
    /// How often each opted-in user's record is compared for alerts (SPEC CR6).
    pub alert_interval_hours: i64,
    /// How often the alert job looks for watches due.
    pub alert_check_secs: u64,
    /// PEM bundle of the certificate authorities users' digital
    /// certificates must chain to; empty: the sandbox CA with the sandbox,
    /// else no certificates are accepted.
    pub certificate_ca_file: String,
}

impl Default for CreditReport {
    fn default() -> Self {
        let d = idlink_core::credit::CreditPolicy::default();
        Self {
            free_per_year: d.free_per_year,
            fee_fen: d.fee.0,
            review_sla_hours: d.review_sla.as_hours(),
            link_ttl_hours: d.link_ttl.as_hours(),
            follow_up_secs: 10,
            alert_interval_hours: idlink_core::credit_alerts::AlertPolicy::default().interval.as_hours(),
            alert_check_secs: 300,
            certificate_ca_file: String::new(),
        }
    }
}

impl CreditReport {
    pub fn policy(&self) -> idlink_core::credit::CreditPolicy {
        idlink_core::credit::CreditPolicy {
            free_per_year: self.free_per_year,
            fee: idlink_domain::Fen(self.fee_fen),
            review_sla: jiff::SignedDuration::from_hours(self.review_sla_hours),
            link_ttl: jiff::SignedDuration::from_hours(self.link_ttl_hours),
        }
    }

    pub fn alert_policy(&self) -> idlink_core::credit_alerts::AlertPolicy {
        idlink_core::credit_alerts::AlertPolicy { interval: jiff::SignedDuration::from_hours(self.alert_interval_hours) }
    }
}

/// The social-security card (SPEC SS1–SS5; issue 16).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SocialSecurity {
    /// The service's coverage by province (TOML, as
    /// `crates/idlink-domain/data/social_security_regions.toml`); empty: the bundled one.
    pub regions_file: String,
    /// How long each binding step may take (its codes are void after).
    pub step_minutes: u64,
    /// How long a binding may take in all before it expires.
    pub binding_hours: u64,
    /// First-response target of a theft-binding risk case.
    pub risk_sla_minutes: u64,
    /// How often bound cards are checked for unemployment benefits that arrived.
    pub benefit_check_secs: u64,
    /// How long a medical-payment code lives (at most 120 s: terminals refuse longer ones).
    pub medical_code_secs: u64,
    /// How often payments terminals began and did not finish are reconciled with the bureaus.
    pub reconcile_secs: u64,
    /// How long a terminal may finish a payment it began (then reconciliation decides it).
    pub finish_window_secs: u64,
    /// Bindings one account may start for relatives in a day (each sends the holder an SMS).
    pub on_behalf_per_day: u64,
}

impl Default for SocialSecurity {
    fn default() -> Self {
        Self {
            regions_file: String::new(),
            step_minutes: 15,
            binding_hours: 72,
            risk_sla_minutes: 5,
            benefit_check_secs: 300,
            medical_code_secs: 60,
            reconcile_secs: 60,
            finish_window_secs: 600,
            on_behalf_per_day: 3,
        }
    }
}

impl SocialSecurity {
    /// The binding's timing; every figure must be at least 1.
    pub fn policy(&self) -> anyhow::Result<idlink_core::social_security::SsPolicy> {
        for (key, v) in [
            ("social_security.step_minutes", self.step_minutes),
            ("social_security.binding_hours", self.binding_hours),
            ("social_security.risk_sla_minutes", self.risk_sla_minutes),
            ("social_security.benefit_check_secs", self.benefit_check_secs),
            ("social_security.reconcile_secs", self.reconcile_secs),
            ("social_security.finish_window_secs", self.finish_window_secs),
            ("social_security.on_behalf_per_day", self.on_behalf_per_day),
        ] {
            if v == 0 || v > 100_000 {
                anyhow::bail!("configuration key `{key}`: must be between 1 and 100000");
            }
        }
        if !(60..=3_600).contains(&self.finish_window_secs) {
            anyhow::bail!(
                "configuration key `social_security.finish_window_secs`: 60 to 3600 seconds (a terminal's time to finish a payment)"
            );
        }
        let longest = u64::try_from(idlink_core::medical_code::MAX_TTL_SECS).unwrap_or(120);
        if !(10..=longest).contains(&self.medical_code_secs) {
            anyhow::bail!("configuration key `social_security.medical_code_secs`: 10 to {longest} seconds (terminals refuse longer codes)");
        }
        let secs = |v: u64, unit: i64| jiff::SignedDuration::from_secs(i64::try_from(v).unwrap_or(1) * unit);
        Ok(idlink_core::social_security::SsPolicy {
            step_ttl: secs(self.step_minutes, 60),
            binding_ttl: secs(self.binding_hours, 3600),
            risk_sla: secs(self.risk_sla_minutes, 60),
            medical_code_ttl: secs(self.medical_code_secs, 1),
            finish_window: secs(self.finish_window_secs, 1),
            on_behalf_per_day: self.on_behalf_per_day,
        })
    }
}

/// Real-name revocation and account cancellation (SPEC RV1–RV3, CP; issue 17).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Revocation {
    /// How long after an abnormal login (one the risk rules stepped up or froze) a revocation waits.
    pub abnormal_login_days: u64,
    /// How long after a real-name change a revocation waits.
    pub real_name_change_days: u64,
    /// How long the preflight waits for each of the host's stores.
    pub source_deadline_ms: u64,
    /// When to ask again a store that did not answer in time.
    pub retry_secs: u64,
    /// The host app's own URL scheme (`hostapp`), which its deep links may use besides `https`.
    pub app_scheme: String,
    /// How long a saga may take to reach its commit; short of it then, it rolls back.
    pub window_secs: u64,
    /// How often open sagas are driven on (a store that did not answer, a node that crashed).
    pub drive_secs: u64,
    /// How long a revoked identity's records are kept, out of business use, before they are shredded.
    pub identity_retention_years: u64,
    /// The crash harness only: abort right after this move of a saga (`docs/revocation.md`). Empty: never.
    pub crash_after: String,
    /// An account cancellation is closed within this many working days of the
    /// request (Asia/Shanghai, public holidays counted; the law's limit is 15).
    pub cancellation_working_days: u64,
    /// The first-response target of a minor's or a foreign document holder's review (hours).
    pub review_sla_hours: u64,
    /// How long an approved review lets the user confirm the operation (days).
    pub review_valid_days: u64,
    /// What an account may receive a day (fen), as published in its capabilities.
    pub daily_receiving_limit_fen: i64,
    /// …and once its real name is revoked (RV3: 50,000 → 2,000 yuan).
    pub revoked_daily_receiving_limit_fen: i64,
    /// How long withdrawals pause after a real name is revoked.
    pub withdrawal_pause_hours: u64,
    /// The host app's deep link for each action that clears a blocker
    /// (`withdraw_balance = "hostapp://wallet/withdraw"`, …; `docs/revocation.md`).
    pub links: std::collections::BTreeMap<String, String>,
}

impl Default for Revocation {
    fn default() -> Self {
        Self {
            abnormal_login_days: 30,
            real_name_change_days: 90,
            source_deadline_ms: 3_000,
            retry_secs: 10,
            app_scheme: String::new(),
            window_secs: 120,
            drive_secs: 5,
            identity_retention_years: 5,
            crash_after: String::new(),
            cancellation_working_days: 15,
            review_sla_hours: 24,
            review_valid_days: 7,
            daily_receiving_limit_fen: 5_000_000,
            revoked_daily_receiving_limit_fen: 200_000,
            withdrawal_pause_hours: 72,
            links: Default::default(),
        }
    }
}

impl Revocation {
    pub fn policy(&self) -> anyhow::Result<idlink_core::revocation::RevocationPolicy> {
        for (key, v, max) in [
            ("revocation.abnormal_login_days", self.abnormal_login_days, 3_650),
            ("revocation.real_name_change_days", self.real_name_change_days, 3_650),
            ("revocation.source_deadline_ms", self.source_deadline_ms, 30_000),
            ("revocation.retry_secs", self.retry_secs, 3_600),
            ("revocation.window_secs", self.window_secs, 3_600),
            ("revocation.drive_secs", self.drive_secs, 3_600),
            ("revocation.identity_retention_years", self.identity_retention_years, 50),
            ("revocation.withdrawal_pause_hours", self.withdrawal_pause_hours, 8_760),
            ("revocation.cancellation_working_days", self.cancellation_working_days, 15),
            ("revocation.review_sla_hours", self.review_sla_hours, 720),
            ("revocation.review_valid_days", self.review_valid_days, 90),
        ] {
            if v == 0 || v > max {
                anyhow::bail!("configuration key `{key}`: must be between 1 and {max}");
            }
        }
        if self.revoked_daily_receiving_limit_fen < 0 || self.revoked_daily_receiving_limit_fen > self.daily_receiving_limit_fen {
            anyhow::bail!(
                "configuration key `revocation.revoked_daily_receiving_limit_fen`: between 0 and `daily_receiving_limit_fen` (a revocation lowers the limit)"
            );
        }
        let actions: Vec<&str> = idlink_domain::revocation::BlockerKind::ALL.iter().map(|k| k.clears_by()).collect();
        for (action, link) in &self.links {
            if !actions.contains(&action.as_str()) {
                anyhow::bail!("configuration key `revocation.links.{action}`: not an action; one of {}", actions.join(", "));
            }
            if !safe_link(link, &self.app_scheme) {
                anyhow::bail!(
                    "configuration key `revocation.links.{action}`: an https:// URL, or one of the host app's own scheme (`revocation.app_scheme`), without spaces or quotes"
                );
            }
        }
        let secs = |v: u64, unit: i64| jiff::SignedDuration::from_secs(i64::try_from(v).unwrap_or(1) * unit);
        Ok(idlink_core::revocation::RevocationPolicy {
            own: idlink_domain::revocation::OwnRules {
                abnormal_login_within: secs(self.abnormal_login_days, 86_400),
                real_name_change_within: secs(self.real_name_change_days, 86_400),
            },
            source_deadline: jiff::SignedDuration::from_millis(i64::try_from(self.source_deadline_ms).unwrap_or(3_000)),
            retry_after: secs(self.retry_secs, 1),
            links: self.links.clone(),
            window: secs(self.window_secs, 1),
            identity_retention: secs(self.identity_retention_years, 366 * 86_400),
            downgrade: idlink_domain::revocation::DowngradeRules {
                daily_receiving_limit: idlink_domain::Fen(self.daily_receiving_limit_fen),
                revoked_daily_receiving_limit: idlink_domain::Fen(self.revoked_daily_receiving_limit_fen),
                withdrawal_pause: secs(self.withdrawal_pause_hours, 3_600),
            },
            cancellation_working_days: u32::try_from(self.cancellation_working_days).unwrap_or(15),
            review_sla: secs(self.review_sla_hours, 3_600),
            review_valid_for: secs(self.review_valid_days, 86_400),
            crash_after: match self.crash_after.as_str() {
                "" => None,
                m if CRASH_POINTS.contains(&m) => {
                    tracing::warn!(after = m, "revocation.crash_after is set: this node aborts after that move (crash harness only)");
                    Some(m.to_owned())
                }
                m => anyhow::bail!("configuration key `revocation.crash_after`: `{m}` is not a move; one of {}", CRASH_POINTS.join(", ")),
            },
        })
    }
}

/// The moves the crash harness may stop a node after.
pub const CRASH_POINTS: [&str; 9] = [
    "start",
    "pending_recycle",
    "grants_suspended",
    "stores_applied",
    "commit_begun",
    "committed",
    "rolling_back",
    "compensated",
    "rolled_back",
];

/// A deep link a page may show: `https://…` or the host app's own scheme
/// (`app_scheme`, when set), and nothing else: no scheme a browser would run
/// or read locally (`javascript:`, `data:`, `file:`…), nor plain `http:`.
fn safe_link(link: &str, app_scheme: &str) -> bool {
    let Some((scheme, rest)) = link.split_once("://") else { return false };
    let allowed = scheme == "https" || (!app_scheme.is_empty() && scheme == app_scheme);
    allowed && !rest.is_empty() && !link.chars().any(|c| c.is_whitespace() || c.is_control() || "\"'<>`".contains(c))
}

/// Step-up tokens (SPEC ID7).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StepUp {
    pub ttl_secs: u64,
}

impl Default for StepUp {
    fn default() -> Self {
        Self { ttl_secs: 120 }
    }
}

/// Login by SMS code (SPEC ID1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Login {
    pub code_ttl_secs: u64,
    pub max_code_attempts: u32,
    pub resend_interval_secs: u64,
    pub codes_per_phone_per_hour: u64,
    pub codes_per_ip_per_hour: u64,
    pub session_ttl_hours: u64,
}

impl Default for Login {
    fn default() -> Self {
        Self {
            code_ttl_secs: 300,
            max_code_attempts: 5,
            resend_interval_secs: 60,
            codes_per_phone_per_hour: 5,
            codes_per_ip_per_hour: 30,
            session_ttl_hours: 24 * 30,
        }
    }
}

impl Login {
    pub fn policy(&self) -> idlink_core::steps::codes::AuthPolicy {
        let secs = |s: u64| jiff::SignedDuration::from_secs(i64::try_from(s).unwrap_or(i64::MAX));
        idlink_core::steps::codes::AuthPolicy {
            code_ttl: secs(self.code_ttl_secs),
            max_code_attempts: self.max_code_attempts,
            resend_interval: secs(self.resend_interval_secs),
            codes_per_phone_per_hour: self.codes_per_phone_per_hour,
            codes_per_ip_per_hour: self.codes_per_ip_per_hour,
            session_ttl: secs(self.session_ttl_hours.saturating_mul(3600)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace_secs: u64,
    pub idempotency_stale_after_secs: u64,
    /// How long an idempotency record (and the sealed answer kept for replays) lives; expired ones are purged.
    pub idempotency_ttl_secs: u64,
    /// Reverse proxies (addresses or networks such as `10.0.0.0/8`) whose
    /// `X-Forwarded-For` names the client; empty: the peer is the client.
    /// A TOML list, or one comma-separated string (as an environment variable).
    #[serde(deserialize_with = "list_or_commas")]
    pub trusted_proxies: Vec<String>,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./var"),
            body_limit_bytes: 64 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 30,
            idempotency_stale_after_secs: 300,
            idempotency_ttl_secs: 24 * 3600,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://<data_dir>/idlink.db`.
    pub url: String,
    /// A file holding the URL (for URLs with passwords). Wins over `url`.
    pub url_file: Option<PathBuf>,
    /// PostgreSQL connections, or SQLite read connections; default 16 for
    /// PostgreSQL and twice the cores (2 to 16) for SQLite. On PostgreSQL the
    /// balance-query writer holds one connection more, of its own.
    pub max_connections: Option<u32>,
    /// SQLite's page cache per connection in MiB (default: SQLite's 2 MiB).
    pub sqlite_cache_mib: Option<u32>,
    /// SQLite reads through a memory map of up to this many MiB, shared by
    /// all connections (default: none, SQLite's own reads).
    pub sqlite_mmap_mib: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CipherChoice {
    #[default]
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
    Sm4Gcm,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Crypto {
    /// `aes-256-gcm` (default) or `sm4-gcm`, for new ciphertexts.
    pub algorithm: CipherChoice,
    /// The master keyring file; empty means `<data_dir>/master-keys.toml`.
    pub master_key_file: Option<PathBuf>,
    /// Generate a development keyring when the file is missing.
    pub generate_dev_key: bool,
}

impl Default for Crypto {
    fn default() -> Self {
        Self { algorithm: CipherChoice::Aes256Gcm, master_key_file: None, generate_dev_key: true }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// How often the chain head is signed (Ed25519 checkpoint).
    pub checkpoint_interval_secs: u64,
    /// How much later than one interval a record may still be signed before
    /// verification counts it as late (a late tick, a slow request's record,
    /// node clocks); more than `server.request_timeout_secs`.
    pub checkpoint_grace_secs: u64,
    /// Records are kept at least this long (SPEC P7: five years).
    pub retention_years: u32,
    /// Where each signed checkpoint is also written, outside the database.
    pub witness: WitnessKind,
    /// The file witness's directory; empty means `<data_dir>/audit-witness`.
    pub witness_dir: Option<PathBuf>,
    /// `witness = "http"`: the log service's base URL; empty means the
    /// sandbox's witness log (when the sandbox runs).
    pub witness_url: String,
    /// `witness = "http"`: this deployment's log name at that service.
    pub witness_log: String,
}

impl Default for Audit {
    fn default() -> Self {
        Self {
            checkpoint_interval_secs: 60,
            checkpoint_grace_secs: 60,
            retention_years: 5,
            witness: WitnessKind::File,
            witness_dir: None,
            witness_url: String::new(),
            witness_log: "idlink".into(),
        }
    }
}

/// The kind of audit witness (docs/audit.md).
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WitnessKind {
    /// `checkpoints.jsonl` in `audit.witness_dir`, appended and fsynced.
    #[default]
    File,
    /// A remote witness log (`audit.witness_url`, `audit.witness_log`) reached
    /// through the connectors' executor: out of reach of whoever holds this host.
    Http,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sandbox {
    /// Start the sandbox institutions inside `idlink serve`.
    pub enabled: bool,
    pub listen: SocketAddr,
    /// The banks' direct channel (HTTPS, mutual TLS).
    pub direct_listen: SocketAddr,
    /// idlink's own clock follows the sandbox clock (`POST /sandbox/v1/clock/advance`),
    /// so expiries of step-up tokens, sessions and agreements can be shown without
    /// waiting. Development only: time also moves back on `clock/reset`.
    pub drive_clock: bool,
    /// Register the sandbox's demo third-party app with idlink at start
    /// (`/sandbox/app`: log in with idlink, see the security events it receives).
    pub demo_app: bool,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            direct_listen: SocketAddr::from(([127, 0, 0, 1], 8444)),
            drive_clock: false,
            demo_app: true,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `idlink=debug,sqlx=warn`.
    pub level: String,
}

impl Default for Log {
    fn default() -> Self {
        Self { format: LogFormat::Json, level: "info,sqlx=warn".into() }
    }
}

const ENV_PREFIX: &str = "IDLINK__";

/// Loads the tree from an optional file and the given environment variables.
pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config> {
    let mut tree = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
            text.parse::<toml::Table>().with_context(|| format!("config file {} is not valid TOML", path.display()))?
        }
        None => toml::Table::new(),
    };
    for (name, value) in env {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else { continue };
        let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
        if keys.iter().any(String::is_empty) {
            bail!("environment variable {name}: empty key segment; use IDLINK__SECTION__KEY");
        }
        set_path(&mut tree, &keys, parse_scalar(&value)).with_context(|| format!("environment variable {name}"))?;
    }
    moved_keys(&tree)?;
    let de = toml::Value::Table(tree);
    let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        anyhow::anyhow!("configuration key `{key}`: {}", e.inner().to_string().trim())
    })?;
    config.validate()?;
    Ok(config)
}

/// The flat `[connectors]` keys of earlier versions and where each moved.
const MOVED_KEYS: [(&str, &str, &str); 9] = [
    ("sms_url", "sms", "url"),
    ("face_url", "face", "url"),
    ("registry_url", "registry", "url"),
    ("switch_url", "bank", "switch_url"),
    ("direct_url", "bank", "direct_url"),
    ("direct_pki_dir", "bank", "direct_pki_dir"),
    ("bank_roster_file", "bank", "roster_file"),
    ("agreements_file", "bank", "agreements_file"),
    ("agreement_validity_days", "bank", "agreement_validity_days"),
];

/// Refuses an old flat `connectors.<key>` with where it moved, rather than
/// serde's bare "unknown field".
fn moved_keys(tree: &toml::Table) -> Result<()> {
    let Some(connectors) = tree.get("connectors").and_then(toml::Value::as_table) else { return Ok(()) };
    for (old, kind, key) in MOVED_KEYS {
        if connectors.contains_key(old) {
            bail!(
                "configuration key `connectors.{old}`: moved to `[connectors.{kind}] {key}` (environment: IDLINK__CONNECTORS__{}__{})",
                kind.to_ascii_uppercase(),
                key.to_ascii_uppercase()
            );
        }
    }
    Ok(())
}

/// `8080` → integer, `true` → boolean, anything else → string.
/// A list of strings written as a TOML list or as one comma-separated string.
fn list_or_commas<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Written::deserialize(d)? {
        Written::One(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        Written::Many(v) => v,
    })
}

fn parse_scalar(raw: &str) -> toml::Value {
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<()> {
    match keys {
        [] => bail!("no key"),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table.entry(first.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => bail!("`{first}` is a value, not a section"),
            }
        }
    }
}

impl Config {
    /// `[revocation]` as the core takes it. The preflight's wait for a store
    /// is at most a connector call's deadline (`connectors.timeout_ms`):
    /// longer, the connector would cut the store first and the retry time
    /// told would not hold.
    pub fn revocation_policy(&self) -> Result<idlink_core::revocation::RevocationPolicy> {
        let mut p = self.revocation.policy()?;
        let connector = jiff::SignedDuration::from_millis(i64::try_from(self.connectors.timeout_ms).unwrap_or(i64::MAX));
        p.source_deadline = p.source_deadline.min(connector);
        Ok(p)
    }

    fn validate(&self) -> Result<()> {
        let url = &self.database.url;
        if !url.is_empty() && idlink_store::Backend::from_url(url).is_none() {
            bail!("configuration key `database.url`: must start with sqlite:// or postgres://");
        }
        self.revocation.policy()?;
        if self.server.body_limit_bytes < 1024 {
            bail!("configuration key `server.body_limit_bytes`: must be at least 1024");
        }
        if self.server.idempotency_stale_after_secs <= self.server.request_timeout_secs {
            // A claim must never be taken over while its request may still be running.
            bail!("configuration key `server.idempotency_stale_after_secs`: must be longer than `server.request_timeout_secs`");
        }
        if self.server.idempotency_ttl_secs <= self.server.idempotency_stale_after_secs {
            bail!("configuration key `server.idempotency_ttl_secs`: must be longer than `server.idempotency_stale_after_secs`");
        }
        if self.server.request_timeout_secs == 0 {
            bail!("configuration key `server.request_timeout_secs`: must be at least 1");
        }
        if self.audit.retention_years < 5 {
            bail!("configuration key `audit.retention_years`: the law requires at least 5 years of query logs");
        }
        if self.retention.sign_in_months < 6 {
            bail!("configuration key `retention.sign_in_months`: the law requires at least 6 months of network-operation logs");
        }
        if self.retention.credit_file_days == 0 || self.retention.purge_interval_hours == 0 {
            bail!("configuration key `retention.credit_file_days`/`purge_interval_hours`: must be at least 1");
        }
        for (key, value, most) in [
            ("audit.retention_years", u64::from(self.audit.retention_years), 100),
            ("retention.sign_in_months", u64::from(self.retention.sign_in_months), 1200),
            ("retention.credit_file_days", u64::from(self.retention.credit_file_days), 36_500),
            ("retention.purge_interval_hours", self.retention.purge_interval_hours, 8760),
        ] {
            if value > most {
                bail!("configuration key `{key}`: at most {most}");
            }
        }
        if self.audit.checkpoint_interval_secs == 0 {
            bail!("configuration key `audit.checkpoint_interval_secs`: must be at least 1");
        }
        if self.audit.checkpoint_grace_secs <= self.server.request_timeout_secs {
            bail!(
                "configuration key `audit.checkpoint_grace_secs`: must exceed `server.request_timeout_secs` ({}), since a record can be stamped that long before it commits",
                self.server.request_timeout_secs
            );
        }
        if !(60..=300).contains(&self.login.code_ttl_secs) {
            bail!("configuration key `login.code_ttl_secs`: SMS codes live 60 to 300 seconds (SPEC ID1: at most 5 minutes)");
        }
        if self.login.max_code_attempts == 0 || self.login.max_code_attempts > 10 {
            bail!("configuration key `login.max_code_attempts`: must be 1 to 10");
        }
        let p = &self.payment_password;
        if !(1..=255).contains(&p.parallelism) {
            bail!("configuration key `payment_password.parallelism`: Argon2 lanes, 1 to 255");
        }
        if u64::from(p.memory_kib) < 8 * u64::from(p.parallelism) || p.iterations == 0 {
            bail!(
                "configuration key `payment_password.memory_kib`/`iterations`: invalid Argon2 cost (memory ≥ 8 KiB per lane, iterations ≥ 1)"
            );
        }
        if self.payment_password.max_failures == 0 {
            bail!("configuration key `payment_password.max_failures`: must be at least 1");
        }
        let c = &self.credit_report;
        if c.fee_fen < 0 {
            bail!("configuration key `credit_report.fee_fen`: a fee is 0 or more fen");
        }
        if !(1..=24 * 30).contains(&c.review_sla_hours) {
            bail!("configuration key `credit_report.review_sla_hours`: 1 to 720 hours");
        }
        if !(1..=24).contains(&c.link_ttl_hours) {
            bail!("configuration key `credit_report.link_ttl_hours`: a download link lives 1 to 24 hours (SPEC CR5)");
        }
        if !(1..=3600).contains(&c.follow_up_secs) {
            bail!("configuration key `credit_report.follow_up_secs`: 1 to 3600 seconds");
        }
        if !(1..=24 * 31).contains(&c.alert_interval_hours) {
            bail!("configuration key `credit_report.alert_interval_hours`: 1 to 744 hours");
        }
        if !(1..=86_400).contains(&c.alert_check_secs) {
            bail!("configuration key `credit_report.alert_check_secs`: 1 to 86400 seconds");
        }
        if !(10..=600).contains(&self.step_up.ttl_secs) {
            bail!("configuration key `step_up.ttl_secs`: step-up tokens are short-lived, 10 to 600 seconds");
        }
        if self.identity.changes_per_year == 0 || self.identity.min_days_between_changes < 0 || self.identity.cooling_off_days < 0 {
            bail!("configuration key `identity.*`: changes_per_year ≥ 1 and day counts ≥ 0");
        }
        if self.review.sla_check_secs == 0
            || self.review.verification_sla_hours <= 0
            || self.review.freeze_sla_secs <= 0
            || self.review.operator_session_hours <= 0
            || self.review.dual_control_window_minutes <= 0
            || self.review.operator_idle_minutes <= 0
            || self.review.operator_max_failures == 0
            || self.review.operator_lock_minutes <= 0
        {
            bail!("configuration key `review.*`: SLAs and session lifetimes must be positive");
        }
        if self.risk.step_up_at == 0 || self.risk.freeze_at < self.risk.step_up_at {
            bail!("configuration key `risk.freeze_at`: must be at least `risk.step_up_at`, which must be at least 1");
        }
        if self.sandbox.drive_clock && !self.sandbox.enabled {
            bail!("configuration key `sandbox.drive_clock`: needs the in-process sandbox (`sandbox.enabled = true`)");
        }
        if let Err(e) = idlink_api::client_ip::TrustedProxies::parse(&self.server.trusted_proxies) {
            bail!("configuration key `server.trusted_proxies`: {e}");
        }
        if !self.server.listen.ip().is_loopback() && !self.web.secure_cookies && !self.web.allow_plain_http {
            bail!(
                "configuration key `web.secure_cookies`: idlink listens on {} beyond this machine, so the H5 session cookie must be \
                 `Secure`: serve it over HTTPS (directly or behind a TLS proxy) and set `web.secure_cookies = true`, or, for a trial on \
                 a private network only, set `web.allow_plain_http = true`",
                self.server.listen
            );
        }
        self.connectors.validate()?;
        self.validate_outbox()?;
        self.validate_oidc()?;
        self.validate_events()
    }

    fn validate_oidc(&self) -> Result<()> {
        let o = &self.oidc;
        if !o.issuer.is_empty() {
            let ok = (o.issuer.starts_with("https://") || o.issuer.starts_with("http://")) && !o.issuer.ends_with('/');
            if !ok || o.issuer.contains(['?', '#']) {
                bail!("configuration key `oidc.issuer`: must be an https:// URL without a trailing slash, query or fragment");
            }
        } else if !self.server.listen.ip().is_loopback() {
            bail!(
                "configuration key `oidc.issuer`: idlink listens on {} beyond this machine, so apps need the issuer URL they reach it                  by: set `oidc.issuer = \"https://id.example.com\"`",
                self.server.listen
            );
        }
        if idlink_crypto::jose::JwsAlg::parse(&o.signing_alg).is_none() {
            bail!("configuration key `oidc.signing_alg`: must be `ES256` or `EdDSA`");
        }
        for (key, v) in [
            ("authorization_ttl_secs", o.authorization_ttl_secs),
            ("code_ttl_secs", o.code_ttl_secs),
            ("access_token_ttl_secs", o.access_token_ttl_secs),
            ("id_token_ttl_secs", o.id_token_ttl_secs),
            ("refresh_ttl_secs", o.refresh_ttl_secs),
            ("jwks_max_age_secs", o.jwks_max_age_secs),
            ("key_rotation_days", o.key_rotation_days),
            ("assertion_max_lifetime_secs", o.assertion_max_lifetime_secs),
            ("purge_every_secs", o.purge_every_secs),
        ] {
            if v == 0 {
                bail!("configuration key `oidc.{key}`: must be at least 1");
            }
        }
        if o.key_publish_ahead_secs < o.jwks_max_age_secs.saturating_mul(2) {
            bail!(
                "configuration key `oidc.key_publish_ahead_secs`: must be at least twice `oidc.jwks_max_age_secs`, so apps' cached \
                 key sets hold a new key before it signs"
            );
        }
        if o.trust_framework.is_empty() || o.consent_version.is_empty() {
            bail!("configuration keys `oidc.trust_framework` and `oidc.consent_version`: must not be empty");
        }
        Ok(())
    }

    fn validate_events(&self) -> Result<()> {
        let e = &self.events;
        if e.schedule_secs.is_empty() || e.schedule_secs.contains(&0) {
            bail!("configuration key `events.schedule_secs`: must list at least one wait, each at least 1 second");
        }
        if !(1..=64).contains(&e.concurrency) {
            bail!("configuration key `events.concurrency`: must be 1 to 64");
        }
        // An attempt must end well inside the outbox claim, or a slow receiver's
        // event is claimed again while it is still being sent.
        if e.timeout_ms == 0 || e.timeout_ms.saturating_mul(4) > self.outbox.claim_secs.saturating_mul(1000) {
            bail!("configuration key `events.timeout_ms`: must be at least 1 and at most a quarter of `outbox.claim_secs`");
        }
        if e.logout_token_ttl_secs == 0 || e.keep_receipts_days == 0 {
            bail!("configuration keys `events.logout_token_ttl_secs` and `events.keep_receipts_days`: must be at least 1");
        }
        Ok(())
    }

    fn validate_outbox(&self) -> Result<()> {
        let o = &self.outbox;
        if o.poll_ms < 10 {
            bail!("configuration key `outbox.poll_ms`: must be at least 10");
        }
        if !(1..=128).contains(&o.batch) {
            bail!("configuration key `outbox.batch`: must be 1 to 128");
        }
        if o.max_attempts == 0 {
            bail!("configuration key `outbox.max_attempts`: must be at least 1");
        }
        if o.backoff_base_ms == 0 || o.backoff_max_secs.saturating_mul(1000) < o.backoff_base_ms {
            bail!("configuration key `outbox.backoff_max_secs`: must be at least `outbox.backoff_base_ms`, which must be at least 1");
        }
        // A worker gives up what it has not attempted once three quarters of
        // its claim have passed; one attempt (every connector retry) must fit twice over.
        let attempt_ms = self.connectors.timeout_ms.saturating_mul(u64::from(self.connectors.retries) + 1);
        if o.claim_secs.saturating_mul(1000) < attempt_ms.saturating_mul(2) {
            bail!(
                "configuration key `outbox.claim_secs`: must be at least twice one delivery's longest time ({} ms: `connectors.timeout_ms` × (`connectors.retries` + 1))",
                attempt_ms
            );
        }
        if o.housekeeping_secs == 0 || o.keep_delivered_hours == 0 {
            bail!("configuration key `outbox.housekeeping_secs`/`keep_delivered_hours`: must be at least 1");
        }
        Ok(())
    }

    pub fn database_url(&self) -> Result<String> {
        if let Some(file) = &self.database.url_file {
            let url = std::fs::read_to_string(file)
                .with_context(|| format!("configuration key `database.url_file`: cannot read {}", file.display()))?;
            return Ok(url.trim().to_owned());
        }
        if self.database.url.is_empty() {
            return Ok(format!("sqlite://{}?mode=rwc", self.server.data_dir.join("idlink.db").display()));
        }
        Ok(self.database.url.clone())
    }

    /// The configured bank roster, or the bundled one.
    pub fn roster(&self) -> anyhow::Result<idlink_domain::roster::Roster> {
        use anyhow::Context;
        match &self.connectors.bank.roster_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the bank roster {} (connectors.bank.roster_file)", path.display()))?;
                idlink_domain::roster::Roster::parse(&text)
                    .with_context(|| format!("the bank roster {} (connectors.bank.roster_file)", path.display()))
            }
            None => idlink_domain::roster::Roster::bundled().context("the bundled bank roster"),
        }
    }

    /// The configured social-security coverage, or the bundled one.
    pub fn social_security_coverage(&self) -> anyhow::Result<idlink_domain::social_security::Coverage> {
        use anyhow::Context;
        use idlink_domain::social_security::Coverage;
        let path = &self.social_security.regions_file;
        if path.is_empty() {
            return Coverage::bundled().context("the bundled social-security coverage");
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the social-security coverage {path} (social_security.regions_file)"))?;
        Coverage::parse(&text).with_context(|| format!("the social-security coverage {path} (social_security.regions_file)"))
    }

    /// The configured consent texts, or the bundled ones.
    pub fn consent_texts(&self) -> anyhow::Result<idlink_domain::consent::ConsentTexts> {
        use anyhow::Context;
        use idlink_domain::consent::ConsentTexts;
        let path = &self.consents.texts_file;
        if path.is_empty() {
            return ConsentTexts::bundled().context("the bundled consent texts");
        }
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the consent texts {path} (consents.texts_file)"))?;
        ConsentTexts::parse(&text).with_context(|| format!("the consent texts {path} (consents.texts_file)"))
    }

    /// The configured agreement documents, or the bundled ones.
    pub fn agreements(&self) -> anyhow::Result<idlink_domain::agreement::AgreementTemplates> {
        use idlink_domain::agreement::AgreementTemplates;
        match &self.connectors.bank.agreements_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the agreements {} (connectors.bank.agreements_file)", path.display()))?;
                AgreementTemplates::parse(&text)
                    .with_context(|| format!("the agreements {} (connectors.bank.agreements_file)", path.display()))
            }
            None => AgreementTemplates::bundled().context("the bundled agreements"),
        }
    }

    pub fn direct_pki_dir(&self) -> PathBuf {
        self.connectors.bank.direct_pki_dir.clone().unwrap_or_else(|| self.server.data_dir.join("sandbox-pki"))
    }

    pub fn audit_witness_dir(&self) -> PathBuf {
        self.audit.witness_dir.clone().unwrap_or_else(|| self.server.data_dir.join("audit-witness"))
    }

    /// When checkpoints are due and how late they may be (`audit.*`).
    /// The OpenID provider's settings; without `oidc.issuer`, the issuer is
    /// the address the server listens on (development only: `validate` refuses
    /// an empty issuer beyond loopback).
    pub fn oidc_settings(&self, listening: SocketAddr) -> idlink_core::oidc::OidcSettings {
        let o = &self.oidc;
        let secs = |s: u64| jiff::SignedDuration::from_secs(i64::try_from(s).unwrap_or(i64::MAX));
        let issuer = if o.issuer.is_empty() { format!("http://{listening}") } else { o.issuer.clone() };
        idlink_core::oidc::OidcSettings {
            issuer,
            authorization_ttl: secs(o.authorization_ttl_secs),
            code_ttl: secs(o.code_ttl_secs),
            access_token_ttl: secs(o.access_token_ttl_secs),
            id_token_ttl: secs(o.id_token_ttl_secs),
            refresh_ttl: secs(o.refresh_ttl_secs),
            secret_overlap: secs(o.secret_overlap_secs),
            jwks_max_age: secs(o.jwks_max_age_secs),
            key_rotation: secs(o.key_rotation_days.saturating_mul(86_400)),
            key_publish_ahead: secs(o.key_publish_ahead_secs),
            signing_alg: idlink_crypto::jose::JwsAlg::parse(&o.signing_alg).unwrap_or(idlink_crypto::jose::JwsAlg::Es256),
            trust_framework: o.trust_framework.clone(),
            consent_version: o.consent_version.clone(),
            assertion_max_lifetime: secs(o.assertion_max_lifetime_secs),
            purge_grace: secs(o.purge_grace_secs),
            session_retention: secs(o.session_retention_days.saturating_mul(86_400)),
            authorize_per_minute: o.authorize_per_ip_per_minute,
            token_per_minute: o.token_per_ip_per_minute,
            key_cache: idlink_core::oidc::keys::KeyCache::default(),
        }
    }

    /// How security events are delivered. Receivers on private addresses and
    /// over plain HTTP are allowed when the sandbox runs (its demo app listens
    /// on loopback), as configured otherwise.
    pub fn event_settings(&self) -> idlink_core::events::EventSettings {
        let e = &self.events;
        idlink_core::events::EventSettings {
            schedule: e.schedule_secs.iter().map(|s| jiff::SignedDuration::from_secs(i64::try_from(*s).unwrap_or(i64::MAX))).collect(),
            concurrency: e.concurrency,
            timeout: std::time::Duration::from_millis(e.timeout_ms),
            allow_private_targets: e.allow_private_targets || self.sandbox.enabled,
            allow_plain_http: e.allow_plain_http || self.sandbox.enabled,
            logout_token_ttl: jiff::SignedDuration::from_secs(i64::try_from(e.logout_token_ttl_secs).unwrap_or(120)),
            keep_receipts: jiff::SignedDuration::from_hours(24 * i64::try_from(e.keep_receipts_days).unwrap_or(180)),
        }
    }

    pub fn checkpoint_policy(&self) -> idlink_core::audit::CheckpointPolicy {
        let secs = |s: u64| jiff::SignedDuration::from_secs(i64::try_from(s).unwrap_or(i64::MAX));
        idlink_core::audit::CheckpointPolicy {
            interval: secs(self.audit.checkpoint_interval_secs),
            grace: secs(self.audit.checkpoint_grace_secs),
        }
    }

    /// `outbox.*` as the deliverer takes it.
    pub fn outbox_policy(&self) -> idlink_core::outbox::OutboxPolicy {
        let o = &self.outbox;
        idlink_core::outbox::OutboxPolicy {
            max_attempts: o.max_attempts,
            backoff_base: jiff::SignedDuration::from_millis(i64::try_from(o.backoff_base_ms).unwrap_or(i64::MAX)),
            backoff_max: jiff::SignedDuration::from_secs(i64::try_from(o.backoff_max_secs).unwrap_or(i64::MAX)),
            claim_for: jiff::SignedDuration::from_secs(i64::try_from(o.claim_secs).unwrap_or(i64::MAX)),
            batch: o.batch,
        }
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.crypto.master_key_file.clone().unwrap_or_else(|| self.server.data_dir.join("master-keys.toml"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn err(file: Option<&Path>, e: &[(&str, &str)]) -> String {
        load(file, env(e)).err().map(|e| format!("{e:#}")).unwrap_or_default()
    }

    #[test]
    fn revocation_links_must_be_actions_and_safe_links() {
        let ok = load(
            None,
            env(&[
                ("IDLINK__REVOCATION__LINKS__REPAY_LOANS", "https://loans.example/repay"),
                ("IDLINK__REVOCATION__APP_SCHEME", "hostapp"),
                ("IDLINK__REVOCATION__LINKS__WITHDRAW_BALANCE", "hostapp://wallet/withdraw"),
            ]),
        );
        let ok = ok.unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(ok.revocation.links.get("repay_loans").map(String::as_str), Some("https://loans.example/repay"));
        for bad in [
            "javascript://x%0aalert(1)",
            "http://plain.example",
            "data://x",
            "hostapp://a b",
            "hostapp:x",
            "//no-scheme",
            "ftp://x",
            "intent://x",
        ] {
            let e = err(None, &[("IDLINK__REVOCATION__APP_SCHEME", "hostapp"), ("IDLINK__REVOCATION__LINKS__REPAY_LOANS", bad)]);
            assert!(e.contains("revocation.links.repay_loans"), "{bad}: {e}");
        }
        let e = err(None, &[("IDLINK__REVOCATION__LINKS__REPAY_LOANS", "hostapp://x")]);
        assert!(e.contains("revocation.links.repay_loans"), "an app scheme needs `app_scheme`: {e}");
        let short = load(None, env(&[("IDLINK__CONNECTORS__TIMEOUT_MS", "1500")])).unwrap_or_else(|e| panic!("{e:#}"));
        let policy = short.revocation_policy().unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(policy.source_deadline, jiff::SignedDuration::from_millis(1500), "the preflight waits no longer than a connector call");
        assert!(err(None, &[("IDLINK__REVOCATION__LINKS__PAY_ME", "https://x.example")]).contains("not an action"));
        assert!(err(None, &[("IDLINK__REVOCATION__SOURCE_DEADLINE_MS", "0")]).contains("revocation.source_deadline_ms"));
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let dir = std::env::temp_dir().join(format!("idlink-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let file = dir.join("idlink.toml");
        std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:9000\"\ndata_dir = \"/srv/idlink\"\n[crypto]\nalgorithm = \"sm4-gcm\"\n")
            .ok();
        let c = load(Some(&file), env(&[("IDLINK__SERVER__LISTEN", "127.0.0.1:9100"), ("OTHER", "x")]));
        let c = c.unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(c.server.listen.port(), 9100, "environment wins over file");
        assert_eq!(c.server.data_dir, PathBuf::from("/srv/idlink"), "file wins over default");
        assert_eq!(c.crypto.algorithm, CipherChoice::Sm4Gcm);
        assert_eq!(c.audit.retention_years, 5, "default");
        let k = load(
            None,
            env(&[
                ("IDLINK__CONNECTORS__SMS__URL", "https://sms.example"),
                ("IDLINK__CONNECTORS__BANK__SWITCH_URL", "https://switch.example"),
            ]),
        );
        let k = k.unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(
            (k.connectors.sms.url.as_str(), k.connectors.bank.switch_url.as_str()),
            ("https://sms.example", "https://switch.example")
        );
        assert_eq!(c.audit_witness_dir(), PathBuf::from("/srv/idlink/audit-witness"), "the witness lives beside the data by default");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        assert!(err(None, &[("IDLINK__SERVER__LISTN", "x")]).contains("listn"), "{}", err(None, &[("IDLINK__SERVER__LISTN", "x")]));
        let e = err(None, &[("IDLINK__SERVER__LISTEN", "not-an-address")]);
        assert!(e.contains("server.listen"), "{e}");
        let e = err(None, &[("IDLINK__CRYPTO__ALGORITHM", "des")]);
        assert!(e.contains("crypto.algorithm"), "{e}");
        let e = err(None, &[("IDLINK__DATABASE__URL", "mysql://x")]);
        assert!(e.contains("database.url"), "{e}");
        let e = err(None, &[("IDLINK__AUDIT__RETENTION_YEARS", "1")]);
        assert!(e.contains("audit.retention_years"), "{e}");
        let e = err(None, &[("IDLINK__AUDIT__CHECKPOINT_GRACE_SECS", "30")]);
        assert!(e.contains("audit.checkpoint_grace_secs") && e.contains("request_timeout_secs"), "{e}");
        let e = err(None, &[("IDLINK__PAYMENT_PASSWORD__PARALLELISM", "0")]);
        assert!(e.contains("payment_password.parallelism"), "{e}");
        let e = err(None, &[("IDLINK__AUDIT__WITNESS", "remote")]);
        assert!(e.contains("audit.witness"), "{e}");
        let e = err(None, &[("IDLINK__NOPE__X", "1")]);
        assert!(e.contains("nope"), "{e}");
        let e = err(None, &[("IDLINK__OUTBOX__CLAIM_SECS", "10")]);
        assert!(e.contains("outbox.claim_secs") && e.contains("connectors.timeout_ms"), "{e}");
        let e = err(None, &[("IDLINK__CONNECTORS__SMS_URL", "http://x")]);
        assert!(e.contains("sms_url"), "the flat keys moved to [connectors.<kind>]: {e}");
        assert!(e.contains("moved to `[connectors.sms] url`"), "{e}");
        let e = err(None, &[("IDLINK__CONNECTORS__REGISTRY__URL", "registry.example")]);
        assert!(e.contains("connectors.registry.url"), "{e}");
        let e = err(None, &[("IDLINK__CONNECTORS__BANK__AGREEMENT_VALIDITY_DAYS", "0")]);
        assert!(e.contains("connectors.bank.agreement_validity_days"), "{e}");
        let e = err(None, &[("IDLINK__OUTBOX__BACKOFF_MAX_SECS", "1"), ("IDLINK__OUTBOX__BACKOFF_BASE_MS", "5000")]);
        assert!(e.contains("outbox.backoff_max_secs"), "{e}");
        let e = err(None, &[("IDLINK__SERVER__TRUSTED_PROXIES", "10.0.0.0/8, 10.0.0.0/40")]);
        assert!(e.contains("server.trusted_proxies"), "{e}");
        let e = err(None, &[("IDLINK__SERVER__LISTEN", "0.0.0.0:8080")]);
        assert!(e.contains("web.secure_cookies") && e.contains("web.allow_plain_http"), "beyond loopback, cookies must be Secure: {e}");
    }

    /// Every old flat `connectors.<key>` names its new table and key.
    #[test]
    fn old_flat_connector_keys_say_where_they_moved() {
        for (old, kind, key) in MOVED_KEYS {
            let var = format!("IDLINK__CONNECTORS__{}", old.to_ascii_uppercase());
            let e = err(None, &[(var.as_str(), "x")]);
            assert!(e.contains(&format!("connectors.{old}")), "{e}");
            assert!(e.contains(&format!("moved to `[connectors.{kind}] {key}`")), "{e}");
        }
        let dir = std::env::temp_dir().join(format!("idlink-config-moved-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let file = dir.join("idlink.toml");
        std::fs::write(&file, "[connectors]\nbank_roster_file = \"roster.toml\"\n").ok();
        let e = err(Some(&file), &[]);
        assert!(e.contains("moved to `[connectors.bank] roster_file`"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn secrets_come_from_files() {
        let dir = std::env::temp_dir().join(format!("idlink-config-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let f = dir.join("db-url");
        std::fs::write(&f, "postgres://idlink:s3cret@db/idlink\n").ok();
        let c = load(None, env(&[("IDLINK__DATABASE__URL_FILE", &f.display().to_string())])).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(c.database_url().ok().as_deref(), Some("postgres://idlink:s3cret@db/idlink"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
