//! The sandbox card switch: checks the four elements of a bank card (card
//! number, holder name, holder ID number, bank-reserved phone) against the
//! issuing bank's records, as banks answer through the switch.
//!
//! The roster's test cards (`GET /sandbox/v1/banks`) have a holder and a
//! reserved phone that must match. Other card numbers answer by test value,
//! their last four digits: `0000` → the holder is someone else, `1111` →
//! another phone is reserved, `9999` → the card is reported lost; any other
//! such card belongs to whoever claims it.

use crate::Sandbox;
use crate::control::{error, maintenance_answer};
use axum::Json;
use axum::extract::State;
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

pub async fn verify(State(s): State<Arc<Sandbox>>, Json(req): Json<FourElements>) -> Response {
    if let Some(res) = maintenance_answer(&s, "switch") {
        return res;
    }
    let digits_ok = (12..=19).contains(&req.card_number.len()) && req.card_number.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok || req.name.trim().is_empty() || req.id_number.is_empty() || req.phone.is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "card_number, name, id_number and phone are required");
    }
    let result = match s.banks.card(&req.card_number) {
        // A roster test card: the bank knows its holder and reserved phone.
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
