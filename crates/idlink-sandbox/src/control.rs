//! Time control and maintenance windows.

use crate::{INSTITUTIONS, Sandbox};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::SignedDuration;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The sandbox's error shape (institutions have their own, not RFC 9457).
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

/// 503 with `Retry-After` while the institution is in maintenance.
pub fn maintenance_answer(sandbox: &Sandbox, institution: &str) -> Option<Response> {
    let until = sandbox.in_maintenance(institution)?;
    let secs = until.duration_since(sandbox.clock.now()).as_secs().max(1);
    let mut res = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "code": "maintenance", "message": "service temporarily unavailable", "expected_end": until.to_string() })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Some(res)
}

pub async fn index() -> Json<serde_json::Value> {
    Json(json!({
        "institutions": {
            "sms": {
                "send": "POST /sms/v1/messages",
                "inbox": "GET /sandbox/v1/sms/inbox?phone=13812341234 (each message: how many times it was `received` under its client_ref)",
                "outage": "POST /sandbox/v1/maintenance {\"institution\": \"sms\", \"minutes\": 30}; DELETE /sandbox/v1/maintenance/sms ends it",
                "test_values": { "phone ending 0000": "rejected (unreachable subscriber)" }
            },
            "registry": {
                "check": "POST /registry/v1/checks",
                "test_values": {
                    "id_number sequence (digits 15-17) 000": "name_mismatch",
                    "id_number sequence (digits 15-17) 999": "not_found",
                    "phone ending 4444": "phone registered to someone else",
                    "anything else": "match"
                }
            },
            "switch": {
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
            },
            "face": {
                "verify": "POST /face/v1/verifications",
                "test_values": {
                    "liveness_video = sandbox:pass": "pass",
                    "liveness_video = sandbox:spoof": "spoof",
                    "liveness_video = sandbox:poor_lighting": "poor_lighting",
                    "liveness_video = sandbox:mismatch": "mismatch",
                    "liveness_video = sandbox:pending": "pending (manual review)",
                    "anything else": "pass"
                }
            }
        },
        "control": {
            "clock": "GET /sandbox/v1/clock, POST /sandbox/v1/clock/advance {\"seconds\": N}, POST /sandbox/v1/clock/reset; with sandbox.drive_clock = true idlink's own clock moves too (step-up tokens, sessions, agreements expire)",
            "maintenance": "POST /sandbox/v1/maintenance {\"institution\", \"minutes\"} (sms, face, registry, switch, direct, or bank:CODE), GET /sandbox/v1/maintenance, DELETE /sandbox/v1/maintenance/{institution}"
        }
    }))
}

/// The sandbox banks with their test cards, and the test identities.
pub async fn banks(State(s): State<Arc<Sandbox>>) -> Json<serde_json::Value> {
    Json(json!({ "identities": crate::banks::test_identities(), "banks": s.banks.banks }))
}

/// The sandbox clock, how far it is ahead of system time, and whether idlink follows it.
fn clock_view(s: &Sandbox) -> Json<serde_json::Value> {
    Json(json!({
        "now": s.clock.now().to_string(),
        "offset_secs": s.clock.offset().as_secs(),
        "drives_idlink": s.clock.drives_idlink(),
    }))
}

pub async fn clock(State(s): State<Arc<Sandbox>>) -> Json<serde_json::Value> {
    clock_view(&s)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    seconds: i64,
}

pub async fn advance(State(s): State<Arc<Sandbox>>, Json(a): Json<Advance>) -> Json<serde_json::Value> {
    s.clock.advance(SignedDuration::from_secs(a.seconds));
    clock_view(&s)
}

pub async fn reset(State(s): State<Arc<Sandbox>>) -> Json<serde_json::Value> {
    s.clock.reset();
    clock_view(&s)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenWindow {
    institution: String,
    minutes: i64,
}

pub async fn open_maintenance(State(s): State<Arc<Sandbox>>, Json(w): Json<OpenWindow>) -> Response {
    if !s.knows_institution(&w.institution) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_institution",
            &format!("known institutions: {}, or bank:CODE for a sandbox bank", INSTITUTIONS.join(", ")),
        );
    }
    if !(1..=7 * 24 * 60).contains(&w.minutes) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "bad_minutes", "minutes must be 1 to 10080");
    }
    let until = s.clock.now().checked_add(SignedDuration::from_mins(w.minutes)).unwrap_or_else(|_| s.clock.now());
    s.maintenance.lock().unwrap_or_else(|p| p.into_inner()).insert(w.institution.clone(), until);
    (StatusCode::CREATED, Json(json!({ "institution": w.institution, "until": until.to_string() }))).into_response()
}

pub async fn list_maintenance(State(s): State<Arc<Sandbox>>) -> Json<serde_json::Value> {
    let names: Vec<String> = s.maintenance.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
    let open: Vec<_> =
        names.iter().filter_map(|i| s.in_maintenance(i).map(|until| json!({ "institution": i, "until": until.to_string() }))).collect();
    Json(json!({ "windows": open }))
}

pub async fn close_maintenance(State(s): State<Arc<Sandbox>>, Path(institution): Path<String>) -> StatusCode {
    s.maintenance.lock().unwrap_or_else(|p| p.into_inner()).remove(&institution);
    StatusCode::NO_CONTENT
}
