//! The sandbox face-verification provider. The outcome is chosen by the
//! `liveness_video` test value (`sandbox:pass`, `sandbox:spoof`,
//! `sandbox:poor_lighting`, `sandbox:mismatch`, `sandbox:pending`);
//! any other non-empty value passes.

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

/// The provider's state (it keeps nothing of its own).
pub struct Provider {
    shared: Arc<Shared>,
}

impl Provider {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

pub fn institution(p: Arc<Provider>) -> Institution {
    Institution {
        maintenance: &["face"],
        maintenance_also: Vec::new(),
        index: Some((
            "face",
            serde_json::json!({
                "verify": "POST /face/v1/verifications",
                "test_values": {
                    "liveness_video = sandbox:pass": "pass",
                    "liveness_video = sandbox:spoof": "spoof",
                    "liveness_video = sandbox:poor_lighting": "poor_lighting",
                    "liveness_video = sandbox:mismatch": "mismatch",
                    "liveness_video = sandbox:pending": "pending (manual review)",
                    "anything else": "pass"
                }
            }),
        )),
        router: Router::new().route("/face/v1/verifications", post(verify)).with_state(p),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    subject_ref: String,
    liveness_video: String,
}

pub async fn verify(State(s): State<Arc<Provider>>, Json(req): Json<VerifyRequest>) -> Response {
    if let Some(res) = maintenance_answer(&s.shared, "face") {
        return res;
    }
    if req.subject_ref.is_empty() || req.liveness_video.is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "missing_input", "`subject_ref` and `liveness_video` are required");
    }
    let (result, score) = match req.liveness_video.as_str() {
        "sandbox:spoof" => ("spoof", 0.12),
        "sandbox:poor_lighting" => ("poor_lighting", 0.41),
        "sandbox:mismatch" => ("mismatch", 0.23),
        "sandbox:pending" => ("manual_review", 0.66),
        _ => ("pass", 0.98),
    };
    let id = format!("face-{:08}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    Json(serde_json::json!({ "verification_id": id, "result": result, "score": score })).into_response()
}
