//! The sandbox banks ([`roster`]: built from the roster), reached through
//! the card switch or their direct channel ([`cards`], [`direct`]: mutual
//! TLS and signed messages with certificates from [`pki`]), which send
//! signed callbacks about lost cards and locked passwords ([`events`]).
//! Binding codes are delivered through the sandbox SMS gateway's inbox.

pub mod cards;
pub mod direct;
pub mod events;
pub mod pki;
pub mod roster;

use crate::sms::Gateway;
use crate::{Institution, Shared};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The banks' state.
pub struct BankState {
    pub(crate) shared: Arc<Shared>,
    /// Where the banks deliver binding codes.
    pub(crate) sms: Arc<Gateway>,
    /// Banks, test cards, holders, reserved phones and balances from the roster.
    pub banks: roster::Banks,
    /// Codes the banks sent for card binding: reference → (card number, code).
    pub(crate) bank_codes: Mutex<HashMap<String, (String, String)>>,
    /// The banks' keys for the direct channel and callbacks (none: no direct channel).
    pub(crate) bank_side: Option<pki::BankSide>,
    /// Nonces of signed direct-channel requests seen (replays are refused).
    nonces: Mutex<HashSet<String>>,
    /// Cards reported lost.
    pub(crate) lost: Mutex<HashSet<String>>,
    /// Wrong card-password attempts per card.
    pub(crate) wrong_passwords: Mutex<HashMap<String, u32>>,
    /// Where the banks send callbacks (idlink's API base URL).
    callback_url: Mutex<Option<String>>,
    pub(crate) http: reqwest::Client,
}

impl BankState {
    pub fn new(shared: Arc<Shared>, sms: Arc<Gateway>, roster: &idlink_domain::roster::Roster, bank_side: Option<pki::BankSide>) -> Self {
        Self {
            shared,
            sms,
            banks: roster::Banks::from_roster(roster, idlink_domain::card::BinTable::bundled()),
            bank_codes: Mutex::default(),
            bank_side,
            nonces: Mutex::default(),
            lost: Mutex::default(),
            wrong_passwords: Mutex::default(),
            callback_url: Mutex::default(),
            http: reqwest::Client::default(),
        }
    }

    /// Tells the banks where to send callbacks (idlink's API base URL).
    pub fn set_callback_url(&self, url: String) {
        *self.callback_url.lock().unwrap_or_else(|p| p.into_inner()) = Some(url);
    }

    pub(crate) fn callback_url(&self) -> Option<String> {
        self.callback_url.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the direct channel has keys.
    pub fn has_direct_channel(&self) -> bool {
        self.bank_side.is_some()
    }

    /// The issuing bank of a card number: a test card's, else by BIN.
    pub fn bank_of(&self, number: &str) -> Option<String> {
        match self.banks.card(number) {
            Some(c) => Some(c.bank.clone()),
            None => idlink_domain::card::BinTable::bundled().lookup(number).ok().map(|e| e.bank.clone()),
        }
    }

    pub(crate) fn is_lost(&self, number: &str) -> bool {
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).contains(number)
    }

    pub(crate) fn password_locked(&self, number: &str) -> bool {
        self.wrong_passwords.lock().unwrap_or_else(|p| p.into_inner()).get(number).is_some_and(|n| *n >= events::PASSWORD_ATTEMPTS)
    }

    /// Whether a direct-channel nonce is new (and remembers it).
    pub(crate) fn first_use_of_nonce(&self, nonce: &str) -> bool {
        let mut seen = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 1_000_000 {
            seen.clear();
        }
        seen.insert(nonce.to_owned())
    }
}

/// The banks with their test cards, and the test identities.
async fn list(State(s): State<Arc<BankState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "identities": roster::test_identities(), "banks": s.banks.banks }))
}

/// The page a user is sent to when they forgot their payment password (the
/// hand-off of SPEC SS4): a bank's own, never idlink's.
async fn password_reset_page(
    State(s): State<Arc<BankState>>,
    axum::extract::Path(code): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(bank) = s.banks.banks.iter().find(|b| b.code == code) else {
        return crate::control::error(axum::http::StatusCode::NOT_FOUND, "unknown_bank", "no such bank in the roster");
    };
    let name = bank.name.replace(['<', '>', '&', '"'], "");
    axum::response::Html(format!(
        "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{name} · 重置支付密码</title><main><h1>{name}</h1><p>这是{name}的支付密码重置页面（沙箱）。请按银行的流程重置密码：idlink 不会向您索要支付密码。</p>\
         <p lang=\"en\">This is {name}'s payment-password reset page (sandbox). Follow the bank's steps; idlink never asks for your password.</p>\
         <p>重置后请回到应用继续绑定。 Return to the app to go on with the binding.</p></main></html>"
    ))
    .into_response()
}

/// The card switch (the direct channel has its own listener, [`direct::serve`])
/// and the bank customers' control endpoints.
pub fn institution(s: Arc<BankState>) -> Institution {
    let router = Router::new()
        .route("/sandbox/v1/banks", get(list))
        .route("/sandbox/v1/cards/{number}/report-lost", post(events::report_lost))
        .route("/sandbox/v1/cards/{number}/wrong-password", post(events::wrong_password))
        .route("/sandbox/v1/cards/{number}/password-reset", post(events::password_reset))
        .route("/sandbox/banks/{code}/password-reset", get(password_reset_page))
        .route("/switch/v1/card-verifications", post(cards::verify))
        .route("/switch/v1/sms-codes", post(cards::send_code))
        .route("/switch/v1/sms-codes/verify", post(cards::verify_code))
        .route("/switch/v1/balances", post(cards::balance))
        .with_state(s.clone());
    Institution {
        maintenance: &["switch", "direct"],
        maintenance_also: s.banks.banks.iter().map(|b| format!("bank:{}", b.code)).collect(),
        index: Some((
            "switch",
            serde_json::json!({
                "four_element_check": "POST /switch/v1/card-verifications",
                "binding_code": "POST /switch/v1/sms-codes, POST /switch/v1/sms-codes/verify",
                "balance": "POST /switch/v1/balances",
                "direct_channel": "the same under https://…/banks/{code}/v1/ on the direct listener (mutual TLS, signed messages)",
                "bank_events": "POST /sandbox/v1/cards/{number}/report-lost | wrong-password | password-reset: the bank sends idlink a signed callback",
                "test_cards": "GET /sandbox/v1/banks: two per bank of the roster, with the bank's disclosure policy; their holder, ID number and reserved phone must match",
                "test_values": {
                    "card number ending 0000": "holder_mismatch",
                    "card number ending 1111": "phone_mismatch (another reserved phone)",
                    "card number ending 9999": "card_lost",
                    "any other card (not a test card)": "match"
                }
            }),
        )),
        router,
    }
}
