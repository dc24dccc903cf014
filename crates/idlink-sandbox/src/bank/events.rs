//! Things that happen at the bank, and the signed callbacks the bank sends
//! idlink about them (SPEC BK5). The control endpoints play the bank's
//! customer: reporting a card lost, typing the card password wrong, having
//! the password reset at the counter.
//!
//! A callback is `POST {idlink}/v1/callbacks/banks/{code}/events` with
//! `{"event_id", "event": "card_lost" | "password_locked" | "password_reset",
//! "card_number", "occurred_at"}`, signed like a direct-channel request but
//! with the bank's key: headers `Bank-Timestamp`, `Bank-Nonce` (the event id)
//! and `Bank-Signature` over [`idlink_crypto::signing::bank_message`].

use super::BankState;
use crate::control::error;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idlink_crypto::signing::bank_message;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Wrong passwords after which the bank locks the card.
pub const PASSWORD_ATTEMPTS: u32 = 3;

static NEXT_EVENT: AtomicU64 = AtomicU64::new(1);

/// Sends a signed event to idlink; returns the HTTP status idlink answered, or why it could not be sent.
async fn send_event(s: &BankState, bank: &str, event: &str, card_number: &str) -> Result<u16, String> {
    let Some(keys) = s.bank_side.as_ref() else { return Err("the sandbox has no bank signing key".into()) };
    let Some(base) = s.callback_url() else { return Err("no idlink callback address is set".into()) };
    let event_id = format!("evt-{}-{:08}", s.shared.clock.now().as_second(), NEXT_EVENT.fetch_add(1, Ordering::Relaxed));
    let path = idlink_domain::roster::callback_path(bank);
    let body = json!({ "event_id": event_id, "event": event, "card_number": card_number, "occurred_at": s.shared.clock.now().to_string() });
    let bytes = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
    let ts = s.shared.clock.now().as_second().to_string();
    let signature = keys.signer.sign(&bank_message("POST", &path, &ts, &event_id, &bytes));
    let res = s
        .http
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .header("bank-timestamp", ts)
        .header("bank-nonce", &event_id)
        .header("bank-signature", signature)
        .body(bytes)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    Ok(res.status().as_u16())
}

fn unknown_card() -> Response {
    error(StatusCode::NOT_FOUND, "unknown_card", "no sandbox bank issues this card number")
}

fn delivery(r: Result<u16, String>) -> serde_json::Value {
    match r {
        Ok(status) => json!({ "delivered": (200..300).contains(&status), "idlink_status": status }),
        Err(why) => json!({ "delivered": false, "error": why }),
    }
}

/// The holder reports the card lost: the bank refuses it from now on and tells idlink.
pub async fn report_lost(State(s): State<Arc<BankState>>, Path(number): Path<String>) -> Response {
    let Some(bank) = s.bank_of(&number) else { return unknown_card() };
    s.lost.lock().unwrap_or_else(|p| p.into_inner()).insert(number.clone());
    let sent = send_event(&s, &bank, "card_lost", &number).await;
    Json(json!({ "card": "lost", "callback": delivery(sent) })).into_response()
}

/// The holder types the card password wrong; the third time the bank locks the card and tells idlink.
pub async fn wrong_password(State(s): State<Arc<BankState>>, Path(number): Path<String>) -> Response {
    let Some(bank) = s.bank_of(&number) else { return unknown_card() };
    let attempts = {
        let mut m = s.wrong_passwords.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(number.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let callback =
        if attempts == PASSWORD_ATTEMPTS { Some(delivery(send_event(&s, &bank, "password_locked", &number).await)) } else { None };
    Json(json!({ "attempts": attempts, "locked": attempts >= PASSWORD_ATTEMPTS, "callback": callback })).into_response()
}

/// The bank resets the card password (the holder went to the counter) and tells idlink.
pub async fn password_reset(State(s): State<Arc<BankState>>, Path(number): Path<String>) -> Response {
    let Some(bank) = s.bank_of(&number) else { return unknown_card() };
    s.wrong_passwords.lock().unwrap_or_else(|p| p.into_inner()).remove(&number);
    let sent = send_event(&s, &bank, "password_reset", &number).await;
    Json(json!({ "locked": false, "callback": delivery(sent) })).into_response()
}
