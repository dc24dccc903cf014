//! The sandbox card switch: checks the four elements of a bank card (card
//! number, holder name, holder ID number, bank-reserved phone) against the
//! issuing bank's records, as banks answer through the switch.
//!
//! Test values, by the card number's last four digits: `0000` → the holder
//! is someone else, `1111` → another phone is reserved for the card, `9999`
//! → the card is reported lost. Every other card belongs to whoever claims it.

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
    let result = match &req.card_number[req.card_number.len() - 4..] {
        "0000" => "holder_mismatch",
        "1111" => "phone_mismatch",
        "9999" => "card_lost",
        _ => "match",
    };
    let id = format!("cv-{:08}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    Json(serde_json::json!({ "verification_id": id, "result": result })).into_response()
}
