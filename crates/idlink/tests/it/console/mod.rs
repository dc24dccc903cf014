//! The operator console (SPEC P5, OP1): browser journeys in headless
//! Chromium (the H5 harness, `crate::h5::Browser`, with axe on every page
//! state), and form-level checks on both databases (`FormClient`).
//!
//! Operators are created with the same use case as `idlink operator create`;
//! their one-time codes are computed here from the TOTP secret at the
//! server's (manual) clock. Cases are opened in the store as the risk
//! checks open them (a freeze with its case), with the steps and SLA a
//! journey needs.

mod admin;
mod api_keys;
mod apps;
mod credit;
mod forms;
mod health;
pub(crate) mod journeys;
mod ops;
mod people;
mod retention;
mod screenshots;
mod social_security;

use crate::Server;
use idlink::serve::{self, Runtime};
use idlink_core::operators::Operators;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::freezes::FreezeStore;
use idlink_core::ports::ids::RandomIds;
use idlink_core::ports::operators::Role;
use idlink_core::ports::reviews::{CaseKind, CaseRow};
use idlink_domain::UserId;
use reqwest::Method;

/// An operator as the journeys use one: what they type to sign in.
pub(crate) struct Staff {
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) totp_secret: Vec<u8>,
}

impl Staff {
    /// The one-time code the operator's authenticator shows at the server's time.
    pub(crate) fn code(&self, rt: &Runtime) -> String {
        idlink_crypto::totp::code_at(&self.totp_secret, rt.clock.now().as_second(), 6)
    }

    /// A six-digit code that is not the current one (nor the neighbours a clock drift allows).
    pub(crate) fn wrong_code(&self, rt: &Runtime) -> String {
        let now = rt.clock.now().as_second();
        let taken: Vec<String> = [-30, 0, 30].iter().map(|d| idlink_crypto::totp::code_at(&self.totp_secret, now + d, 6)).collect();
        (0..10u32).map(|i| format!("{:06}", 111_111 * i % 1_000_000)).find(|c| !taken.contains(c)).unwrap_or_default()
    }
}

/// Creates an operator as `idlink operator create` does.
pub(crate) async fn staff(s: &Server, rt: &Runtime, username: &str, roles: &[Role]) -> Staff {
    let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
    let vault = serve::open_vault(&s.config, &store, rt).await.unwrap_or_else(|e| panic!("{e:#}"));
    let policy = serve::password_policy(&s.config);
    let ops = Operators {
        store: &store,
        keys: &store,
        audits: &store,
        vault: &vault,
        clock: rt.clock.as_ref(),
        ids: &RandomIds(rt.rng.clone()),
        rng: rt.rng.as_ref(),
        password_policy: &policy,
        session_ttl: jiff::SignedDuration::from_hours(8),
        policy: serve::operator_sign_in(&s.config),
    };
    let new = ops.create(username, roles, "test").await.unwrap_or_else(|e| panic!("{e}"));
    Staff { username: username.to_owned(), password: new.password, totp_secret: new.totp_secret }
}

/// A user (through the API) with an open risk-freeze case of `steps` steps and a 5-minute SLA.
pub(crate) async fn frozen_user_case(s: &Server, rt: &Runtime, phone: &str, steps: u32) -> String {
    let res = s.authed(Method::POST, "/v1/users").json(&serde_json::json!({ "phone": phone })).send().await;
    let v: serde_json::Value = match res {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(e) => panic!("{e}"),
    };
    let user = UserId::parse(v["id"].as_str().unwrap_or("")).unwrap_or_else(|e| panic!("user id in {v}: {e}"));
    let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
    let now = rt.clock.now();
    let ids = RandomIds(rt.rng.clone());
    let case = CaseRow::open(&ids, CaseKind::RiskFreeze, &user, user.as_str(), steps, jiff::SignedDuration::from_mins(5), now);
    let audit = AuditEntry::new("system", "risk.freeze", "risk control", now).subject(&user);
    let vault = s.running.as_ref().map(|r| r.vault.clone()).unwrap_or_else(|| panic!("running"));
    let lifecycle = idlink_core::ports::events::Lifecycle {
        kind: idlink_core::ports::events::LifecycleType::AccountDisabled,
        user: user.clone(),
        at: now,
        actor: "system".into(),
        client: None,
        sessions: Vec::new(),
        reason: Some("risk".into()),
    };
    let event = idlink_core::events::lifecycle_store_event(&vault, &ids, &lifecycle).unwrap_or_else(|e| panic!("{e}"));
    assert!(store.freeze(&user, "burst of logins from new devices", &case, &event, &audit).await.unwrap_or(false));
    case.id.to_string()
}

/// The audit actions recorded so far, in order.
pub(crate) async fn audit_actions(s: &Server) -> Vec<(String, String, String)> {
    use idlink_core::ports::audit::AuditStore;
    let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
    let records = store.audit_records(0, 10_000).await.unwrap_or_default();
    records.into_iter().map(|r| (r.entry.actor, r.entry.action, r.entry.outcome)).collect()
}
