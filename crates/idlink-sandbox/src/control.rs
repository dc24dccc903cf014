//! The control API: the index of institutions, time control and
//! maintenance windows.

use crate::{Institution, Shared};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use jiff::SignedDuration;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;

/// The control API's state: what is shared, and what the institutions declared.
pub struct Control {
    shared: Arc<Shared>,
    /// Names maintenance can be scheduled for, as refusals list them.
    listed: Vec<&'static str>,
    /// Every name maintenance can be scheduled for.
    known: HashSet<String>,
    /// The `institutions` object of `GET /sandbox/v1`.
    index: serde_json::Map<String, serde_json::Value>,
}

impl Control {
    fn knows_institution(&self, name: &str) -> bool {
        self.known.contains(name)
    }
}

/// The control API over the institutions' declarations.
pub fn router(shared: Arc<Shared>, institutions: &[Institution]) -> Router {
    let listed: Vec<&'static str> = institutions.iter().flat_map(|i| i.maintenance.iter().copied()).collect();
    let known =
        listed.iter().map(|n| (*n).to_owned()).chain(institutions.iter().flat_map(|i| i.maintenance_also.iter().cloned())).collect();
    let index = institutions.iter().filter_map(|i| i.index.clone()).map(|(k, v)| (k.to_owned(), v)).collect();
    Router::new()
        .route("/sandbox/v1", get(index_of))
        .route("/sandbox/v1/clock", get(clock))
        .route("/sandbox/v1/clock/advance", post(advance))
        .route("/sandbox/v1/clock/reset", post(reset))
        .route("/sandbox/v1/maintenance", get(list_maintenance).post(open_maintenance))
        .route("/sandbox/v1/maintenance/{institution}", delete(close_maintenance))
        .with_state(Arc::new(Control { shared, listed, known, index }))
}

/// The sandbox's error shape (institutions have their own, not RFC 9457).
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

/// A scripted `busy` answer: 503 with `Retry-After: 30`; `who` names the institution (`the bureau`).
pub fn busy(who: &str) -> Response {
    let mut res = error(StatusCode::SERVICE_UNAVAILABLE, "busy", &format!("{who} is busy; retry later"));
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    res
}

/// A scripted `down` answer: 500.
pub fn failed(who: &str) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", &format!("{who} failed"))
}

/// 503 with `Retry-After` while the institution is in maintenance.
pub fn maintenance_answer(shared: &Shared, institution: &str) -> Option<Response> {
    let until = shared.in_maintenance(institution)?;
    let secs = until.duration_since(shared.clock.now()).as_secs().max(1);
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

async fn index_of(State(c): State<Arc<Control>>) -> Json<serde_json::Value> {
    Json(json!({
        "institutions": c.index,
        "control": {
            "clock": "GET /sandbox/v1/clock, POST /sandbox/v1/clock/advance {\"seconds\": N}, POST /sandbox/v1/clock/reset; with sandbox.drive_clock = true idlink's own clock moves too (step-up tokens, sessions, agreements expire)",
            "maintenance": format!(
                "POST /sandbox/v1/maintenance {{\"institution\", \"minutes\"}} ({}, or bank:CODE), GET /sandbox/v1/maintenance, DELETE /sandbox/v1/maintenance/{{institution}}",
                c.listed.join(", ")
            )
        }
    }))
}

/// The sandbox clock, how far it is ahead of system time, and whether idlink follows it.
fn clock_view(s: &Shared) -> Json<serde_json::Value> {
    Json(json!({
        "now": s.clock.now().to_string(),
        "offset_secs": s.clock.offset().as_secs(),
        "drives_idlink": s.clock.drives_idlink(),
    }))
}

async fn clock(State(c): State<Arc<Control>>) -> Json<serde_json::Value> {
    clock_view(&c.shared)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    seconds: i64,
}

async fn advance(State(c): State<Arc<Control>>, Json(a): Json<Advance>) -> Json<serde_json::Value> {
    c.shared.clock.advance(SignedDuration::from_secs(a.seconds));
    clock_view(&c.shared)
}

async fn reset(State(c): State<Arc<Control>>) -> Json<serde_json::Value> {
    c.shared.clock.reset();
    clock_view(&c.shared)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenWindow {
    institution: String,
    minutes: i64,
}

async fn open_maintenance(State(c): State<Arc<Control>>, Json(w): Json<OpenWindow>) -> Response {
    if !c.knows_institution(&w.institution) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_institution",
            &format!("known institutions: {}, or bank:CODE for a sandbox bank", c.listed.join(", ")),
        );
    }
    if !(1..=7 * 24 * 60).contains(&w.minutes) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "bad_minutes", "minutes must be 1 to 10080");
    }
    let now = c.shared.clock.now();
    let until = now.checked_add(SignedDuration::from_mins(w.minutes)).unwrap_or(now);
    c.shared.open_maintenance(&w.institution, until);
    (StatusCode::CREATED, Json(json!({ "institution": w.institution, "until": until.to_string() }))).into_response()
}

async fn list_maintenance(State(c): State<Arc<Control>>) -> Json<serde_json::Value> {
    let names = c.shared.maintenance_names();
    let open: Vec<_> = names
        .iter()
        .filter_map(|i| c.shared.in_maintenance(i).map(|until| json!({ "institution": i, "until": until.to_string() })))
        .collect();
    Json(json!({ "windows": open }))
}

async fn close_maintenance(State(c): State<Arc<Control>>, Path(institution): Path<String>) -> StatusCode {
    c.shared.close_maintenance(&institution);
    StatusCode::NO_CONTENT
}
