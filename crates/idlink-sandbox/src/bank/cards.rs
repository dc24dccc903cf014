//! The sandbox banks' card operations, reached through the card switch
//! (`/switch/v1/…`) or a bank's direct channel (`/banks/{code}/v1/…`, mutual
//! TLS and signed messages, see [`super::direct`]), with the same bodies:
//! the four-element check (card number, holder name, holder ID number,
//! bank-reserved phone), the binding code sent to the reserved phone, and
//! the balance. Maintenance of a channel (`switch`, `direct`) or of a bank
//! (`bank:CODE`) answers 503.
//!
//! The roster's test cards (`GET /sandbox/v1/banks`) have a holder and a
//! reserved phone that must match. Other card numbers answer by test value,
//! their last four digits: `0000` → the holder is someone else, `1111` →
//! another phone is reserved, `9999` → the card is reported lost; any other
//! such card belongs to whoever claims it.

use super::BankState;
use crate::control::{error, maintenance_answer};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FourElements {
    card_number: String,
    name: String,
    id_number: String,
    phone: String,
}

/// Which channel a request came through: the card switch, or a bank's direct channel (its code).
#[derive(Debug, Clone, Copy)]
pub enum Via<'a> {
    Switch,
    Direct(&'a str),
}

/// Refuses the request while the channel or the card's bank is in
/// maintenance, or when a direct channel is asked about another bank's card.
fn gate(s: &BankState, via: Via<'_>, card_number: &str) -> Option<Response> {
    let channel = match via {
        Via::Switch => "switch",
        Via::Direct(_) => "direct",
    };
    if let Some(res) = maintenance_answer(&s.shared, channel) {
        return Some(res);
    }
    let bank = s.bank_of(card_number);
    if let Some(res) = bank.as_deref().and_then(|b| maintenance_answer(&s.shared, &format!("bank:{b}"))) {
        return Some(res);
    }
    match (via, bank) {
        (Via::Direct(code), Some(bank)) if bank != code => {
            Some(error(StatusCode::NOT_FOUND, "unknown_card", "this bank did not issue the card; ask the issuing bank's channel"))
        }
        _ => None,
    }
}

pub async fn verify(State(s): State<Arc<BankState>>, Json(req): Json<FourElements>) -> Response {
    four_elements(&s, Via::Switch, req)
}

pub async fn direct_verify(State(s): State<Arc<BankState>>, Path(code): Path<String>, Json(req): Json<FourElements>) -> Response {
    four_elements(&s, Via::Direct(&code), req)
}

fn four_elements(s: &BankState, via: Via<'_>, req: FourElements) -> Response {
    if let Some(res) = gate(s, via, &req.card_number) {
        return res;
    }
    let digits_ok = (12..=19).contains(&req.card_number.len()) && req.card_number.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok || req.name.trim().is_empty() || req.id_number.is_empty() || req.phone.is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "card_number, name, id_number and phone are required");
    }
    let result = match s.banks.card(&req.card_number) {
        // A roster test card: the bank knows its holder and reserved phone.
        _ if s.is_lost(&req.card_number) => "card_lost",
        Some(card) if card.holder_name != req.name.trim() || card.holder_id_number != req.id_number.to_ascii_uppercase() => {
            "holder_mismatch"
        }
        Some(card) if card.reserved_phone != req.phone => "phone_mismatch",
        Some(_) => "match",
        None => match &req.card_number[req.card_number.len() - 4..] {
            "0000" => "holder_mismatch",
            "1111" => "phone_mismatch",
            "9999" => "card_lost",
            _ => "match",
        },
    };
    let id = format!("cv-{:08}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    Json(serde_json::json!({ "verification_id": id, "result": result })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendCode {
    card_number: String,
    phone: String,
    /// The caller's reference, for deduplication.
    client_ref: String,
}

/// The bank sends a verification code to the card's reserved phone (through
/// the sandbox SMS gateway's inbox) and keeps it for [`verify_code`].
pub async fn send_code(State(s): State<Arc<BankState>>, Json(req): Json<SendCode>) -> Response {
    bank_code(&s, Via::Switch, req)
}

pub async fn direct_send_code(State(s): State<Arc<BankState>>, Path(code): Path<String>, Json(req): Json<SendCode>) -> Response {
    bank_code(&s, Via::Direct(&code), req)
}

fn bank_code(s: &BankState, via: Via<'_>, req: SendCode) -> Response {
    if let Some(res) = gate(s, via, &req.card_number) {
        return res;
    }
    let Ok(phone) = idlink_domain::PhoneNumber::parse(&req.phone) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_number", "`phone` is not a mainland mobile number");
    };
    if s.banks.card(&req.card_number).is_some_and(|card| card.reserved_phone != phone.reveal()) {
        return Json(serde_json::json!({ "result": "phone_mismatch" })).into_response();
    }
    let code = format!("{:06}", (NEXT_ID.fetch_add(7919, Ordering::Relaxed) * 104_729) % 1_000_000);
    let reference = format!("bsms-{}", req.client_ref);
    let params = std::collections::BTreeMap::from([("code".to_owned(), code.clone())]);
    crate::sms::deliver(&s.sms, &phone, "bank_card_binding", &params, &reference);
    s.bank_codes.lock().unwrap_or_else(|p| p.into_inner()).insert(reference.clone(), (req.card_number, code));
    Json(serde_json::json!({ "result": "sent", "reference": reference })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyCode {
    reference: String,
    card_number: String,
    code: String,
}

/// Checks a code the bank sent; a code works once.
pub async fn verify_code(State(s): State<Arc<BankState>>, Json(req): Json<VerifyCode>) -> Response {
    check_code(&s, Via::Switch, req)
}

pub async fn direct_verify_code(State(s): State<Arc<BankState>>, Path(code): Path<String>, Json(req): Json<VerifyCode>) -> Response {
    check_code(&s, Via::Direct(&code), req)
}

fn check_code(s: &BankState, via: Via<'_>, req: VerifyCode) -> Response {
    if let Some(res) = gate(s, via, &req.card_number) {
        return res;
    }
    let mut codes = s.bank_codes.lock().unwrap_or_else(|p| p.into_inner());
    let ok = codes.get(&req.reference).is_some_and(|(card, code)| *card == req.card_number && *code == req.code);
    if ok {
        codes.remove(&req.reference);
    }
    Json(serde_json::json!({ "result": if ok { "verified" } else { "wrong_code" } })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceRequest {
    card_number: String,
}

pub async fn balance(State(s): State<Arc<BankState>>, Json(req): Json<BalanceRequest>) -> Response {
    current_balance(&s, Via::Switch, req)
}

pub async fn direct_balance(State(s): State<Arc<BankState>>, Path(code): Path<String>, Json(req): Json<BalanceRequest>) -> Response {
    current_balance(&s, Via::Direct(&code), req)
}

/// The bank's current balance of a card, in fen: the roster test card's, or
/// for any other card number a value derived from it. A lost card, or one
/// whose password was entered wrong three times, answers so instead.
fn current_balance(s: &BankState, via: Via<'_>, req: BalanceRequest) -> Response {
    if !(12..=19).contains(&req.card_number.len()) || !req.card_number.bytes().all(|b| b.is_ascii_digit()) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "card_number must be 12 to 19 digits");
    }
    if let Some(res) = gate(s, via, &req.card_number) {
        return res;
    }
    if s.is_lost(&req.card_number) {
        return Json(serde_json::json!({ "result": "card_lost" })).into_response();
    }
    if s.password_locked(&req.card_number) {
        return Json(serde_json::json!({ "result": "password_locked" })).into_response();
    }
    let balance = match s.banks.card(&req.card_number) {
        Some(card) => card.balance,
        None => req.card_number.bytes().fold(0i64, |acc, b| (acc * 31 + i64::from(b - b'0')) % 10_000_000),
    };
    Json(serde_json::json!({ "result": "ok", "balance": balance, "currency": "CNY" })).into_response()
}
