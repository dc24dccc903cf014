//! Callbacks from institutions, authenticated by their signature, not by an
//! API key.
//!
//! - Banks (SPEC BK5): a card reported lost ends its bindings, a locked card
//!   password suspends balance queries, a reset lifts that. The bank
//!   connector checks the signature (`idlink_connectors::bank::callbacks`,
//!   handed over as `InstitutionPorts::bank_callbacks`) against the path the
//!   request was received on; replays of an event id change nothing.
//! - The host app's cashier (SPEC CR2): a credit-report payment succeeded or
//!   failed, as a Standard Webhooks delivery checked by the payment
//!   connector (`InstitutionPorts::payment_callbacks`); a replay records
//!   nothing twice.

use crate::extract::{Causes, Validate};
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use idlink_core::ports::bindings::BankEventKind;
use idlink_core::ports::callbacks::CallbackRefused;
use idlink_core::ports::cashier::PaymentStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A bank's event about a card.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BankEvent {
    /// The bank's id of the event; a repeated id is acknowledged and ignored.
    event_id: String,
    #[schema(schema_with = crate::schema::bank_event)]
    event: String,
    #[schema(pattern = r"^[0-9]{12,19}$", example = "6222021234567890128")]
    card_number: String,
    /// When it happened at the bank (RFC 3339). Recorded by the bank; idlink keeps its own receipt time.
    #[schema(format = DateTime, example = "2026-01-02T03:04:05Z")]
    #[allow(dead_code)]
    occurred_at: String,
}

/// A bank event whose fields passed their checks.
#[derive(Debug)]
pub struct ValidEvent {
    event_id: String,
    kind: BankEventKind,
    card: idlink_domain::card::CardNumber,
}

impl Validate for BankEvent {
    type Valid = ValidEvent;
    fn validate(self, c: &mut Causes) -> Option<ValidEvent> {
        let kind = BankEventKind::parse(&self.event);
        if kind.is_none() {
            c.invalid("event", "invalid_event", "`event` is one of card_lost, password_locked, password_reset.");
        }
        let card = c.parse("card_number", "invalid_card_number", &self.card_number, |n| {
            idlink_domain::card::CardNumber::parse(n, idlink_domain::card::BinTable::bundled())
        });
        Some(ValidEvent { event_id: self.event_id, kind: kind?, card: card? })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventReceipt {
    /// False when this event id was received before.
    pub applied: bool,
    /// Bindings it changed.
    pub bindings: usize,
}

fn refused(r: CallbackRefused) -> Problem {
    match r {
        CallbackRefused::Signature => Problem::new(ProblemCode::BankSignatureInvalid),
        CallbackRefused::NonceNotEventId => {
            Problem::new(ProblemCode::BankSignatureInvalid).detail("The signed nonce must be the event id.")
        }
    }
}

/// Receives a signed event from a bank.
#[utoipa::path(post, path = "/v1/callbacks/banks/{bank}/events", tag = "cards",
    request_body = BankEvent,
    params(
        ("bank" = String, Path, description = "The bank's roster code."),
        ("Bank-Timestamp" = String, Header, description = "Unix seconds, signed."),
        ("Bank-Nonce" = String, Header, description = "The event id, signed."),
        ("Bank-Signature" = String, Header, description = "Hex Ed25519 signature of method, path, timestamp, nonce and body, one per line."),
    ),
    responses((status = 200, body = EventReceipt), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn bank_event(
    State(state): State<AppState>,
    Path(bank): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<EventReceipt>, Problem> {
    // Checked against the path as received: the one the bank signed.
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let signed = state.institutions.bank_callbacks.verify(uri.path(), &header, &body).map_err(refused)?;
    if state.roster.bank(&bank).is_none() {
        return Err(Problem::new(ProblemCode::BankUnknown));
    }
    // Read only once the signature holds: an unsigned body is not looked at.
    let today = idlink_domain::calendar::shanghai_today(state.clock.now());
    let event = crate::extract::read::<BankEvent>(crate::extract::object(&body)?, today)?;
    signed.for_event(&event.event_id).map_err(refused)?;
    let applied = state.bindings().bank_event(&bank, &event.event_id, event.kind, event.card.reveal()).await?;
    Ok(Json(EventReceipt { applied: applied.is_some(), bindings: applied.map_or(0, |a| a.len()) }))
}

/// The cashier's word on a payment, as a Standard Webhooks payload (its
/// `timestamp` and any other member are not read: the signed
/// `webhook-timestamp` header is what counts).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PaymentEvent {
    /// `payment.succeeded` or `payment.failed`; other types are acknowledged and ignored.
    #[serde(rename = "type")]
    #[schema(example = "payment.succeeded")]
    kind: String,
    data: PaymentData,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PaymentData {
    /// The cashier's id of the payment.
    payment_id: String,
    /// idlink's reference: the credit request's id.
    #[schema(example = "crq_0123456789abcdef0123456789abcdef")]
    merchant_ref: String,
    amount_fen: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentReceipt {
    /// The credit request the payment is for.
    request_id: Option<String>,
    /// Its state after the event.
    state: Option<String>,
}

fn payment_refused(_: CallbackRefused) -> Problem {
    Problem::new(ProblemCode::PaymentSignatureInvalid)
}

/// Receives a signed payment event from the host app's cashier.
#[utoipa::path(post, path = "/v1/callbacks/payments", tag = "credit report",
    request_body = PaymentEvent,
    params(
        ("webhook-id" = String, Header, description = "The delivery's id (Standard Webhooks), signed."),
        ("webhook-timestamp" = String, Header, description = "Unix seconds, signed; refused when more than five minutes away."),
        ("webhook-signature" = String, Header, description = "`v1,<base64 HMAC-SHA256>` of `id.timestamp.body` under the payment webhook secret; several separated by spaces."),
    ),
    responses((status = 200, body = PaymentReceipt), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn payment_event(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PaymentReceipt>, Problem> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    state.institutions.payment_callbacks.verify(uri.path(), &header, &body).map_err(payment_refused)?;
    // Read only once the signature holds.
    let event: PaymentEvent = serde_json::from_slice(&body)
        .map_err(|e| Problem::new(ProblemCode::MalformedJson).detail(format!("The payment event is not the documented JSON: {e}")))?;
    let status = match event.kind.as_str() {
        "payment.succeeded" => PaymentStatus::Succeeded,
        "payment.failed" => PaymentStatus::Failed,
        _ => return Ok(Json(PaymentReceipt { request_id: None, state: None })),
    };
    let d = event.data;
    let view = state.credit().payment_update(&d.merchant_ref, &d.payment_id, idlink_domain::Fen(d.amount_fen), status).await?;
    // A signed event for no request of ours is acknowledged (a refusal would be retried forever) and logged.
    let Some(view) = view else {
        tracing::warn!(payment = %d.payment_id, "a signed payment event names no credit-report request at its amount; acknowledged, nothing done");
        return Ok(Json(PaymentReceipt { request_id: None, state: None }));
    };
    Ok(Json(PaymentReceipt { request_id: Some(view.id.to_string()), state: Some(view.state.as_str().to_owned()) }))
}
