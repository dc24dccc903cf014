//! The sandbox identity registry (the citizen-ID check service): does a
//! name belong to an ID number, and is a phone registered to that person?
//!
//! Test values, by the ID number's sequence code (digits 15–17):
//! `000` → the name does not match, `999` → no such ID number; a phone
//! ending in `4444` is registered to someone else. Everything else matches.

use crate::control::{error, maintenance_answer};
use crate::{Institution, Shared};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The registry's state (its answers are scripted by test values).
pub struct Registry {
    shared: Arc<Shared>,
}

impl Registry {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

/// `POST /registry/v1/checks`, maintenance as `registry`.
pub fn institution(r: Arc<Registry>) -> Institution {
    Institution {
        maintenance: &["registry"],
        maintenance_also: Vec::new(),
        index: Some((
            "registry",
            serde_json::json!({
                "check": "POST /registry/v1/checks",
                "test_values": {
                    "id_number sequence (digits 15-17) 000": "name_mismatch",
                    "id_number sequence (digits 15-17) 999": "not_found",
                    "phone ending 4444": "phone registered to someone else",
                    "anything else": "match"
                }
            }),
        )),
        router: Router::new().route("/registry/v1/checks", post(check)).with_state(r),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    name: String,
    id_number: String,
    #[serde(default)]
    phone: Option<String>,
}

pub async fn check(State(s): State<Arc<Registry>>, Json(req): Json<CheckRequest>) -> Response {
    if let Some(res) = maintenance_answer(&s.shared, "registry") {
        return res;
    }
    if req.name.trim().is_empty() || req.id_number.len() != 18 || !req.id_number.is_ascii() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "`name` and an 18-character `id_number` are required");
    }
    let result = match &req.id_number[14..17] {
        "000" => "name_mismatch",
        "999" => "not_found",
        _ => "match",
    };
    let phone_result = req.phone.as_deref().map(|p| if p.ends_with("4444") { "mismatch" } else { "match" });
    let id = format!("reg-{:08}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    Json(serde_json::json!({ "check_id": id, "result": result, "phone_result": phone_result })).into_response()
}
